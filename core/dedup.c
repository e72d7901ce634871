/* core/dedup.c - request de-duplication in three variants. They share the
 * SET NX claim and differ in how a failed or lost reply is read: as a
 * duplicate (legacy), as new (seed, for timeouts only), or checked against
 * our own token before failing open (hardened). */
#include "core/dedup.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/fmt.h"

#define DEDUP_TAG "Dedup"
#define DEDUP_KEY_PREFIX "dedup:"
#define DEDUP_TOKEN_MAX 64

struct dedup {
	const struct core_env *env;
	struct dedup_config cfg;
	uint64_t calls;    /* checks started: part of each token */
	uint32_t inflight; /* checks whose done has not run yet */
	char ttl[24];      /* the PX argument, made once */
};

struct dedup_req {
	struct dedup *d;
	dedup_done_fn *done;
	void *arg;
	char key[sizeof DEDUP_KEY_PREFIX + DEDUP_KEY_MAX];
	char token[DEDUP_TOKEN_MAX];
	uint32_t retries; /* SETs repeated after a timeout */
	bool retried_after_timeout;
};

struct dedup *dedup_create(const struct core_env *env, const struct dedup_config *cfg)
{
	ASSERT(env != NULL);
	ASSERT(cfg != NULL);
	ASSERT((unsigned)cfg->variant < VARIANT_COUNT);
	if (cfg->ttl_ms == 0 || cfg->ttl_ms > DEDUP_TTL_MS_MAX)
		return NULL;
	struct dedup *d = calloc(1, sizeof *d);
	ASSERT(d != NULL);
	d->env = env;
	d->cfg = *cfg;
	struct fmt f;
	fmt_init(&f, d->ttl, sizeof d->ttl);
	fmt_u64(&f, cfg->ttl_ms);
	ASSERT(!f.cut);
	return d;
}

void dedup_destroy(struct dedup *d)
{
	if (d == NULL)
		return;
	ASSERT(d->inflight == 0);
	free(d);
}

/* Ends a check: done runs last, so it may destroy d. */
static void dedup_finish(struct dedup_req *req, enum result rc, enum dedup_verdict verdict,
                         bool failed_open)
{
	ASSERT(req->d->inflight > 0);
	req->d->inflight--;
	dedup_done_fn *done = req->done;
	void *arg = req->arg;
	free(req);
	done(arg, rc, verdict, failed_open);
}

static void dedup_on_rejected(void *arg)
{
	dedup_finish(arg, RESULT_REJECT, DEDUP_NEW, false);
}

/* Fail open: a genuine request must not be turned away because Redis is
 * unreachable; the warning lets monitoring count what slipped through. */
static void dedup_fail_open(struct dedup_req *req, const char *why)
{
	core_log(req->d->env, LOG_WARN, DEDUP_TAG, "key %s: %s; treating the request as new", req->key, why);
	dedup_finish(req, RESULT_OK, DEDUP_NEW, true);
}

static const char *dedup_reason(enum outcome oc, const struct kv_reply *reply)
{
	if (oc == OUTCOME_ERROR && reply != NULL)
		return reply->str;
	if (oc != OUTCOME_OK)
		return outcome_name(oc);
	return "unexpected reply";
}

static void dedup_send_set(struct dedup_req *req);

static void dedup_on_get_reply(void *arg, enum outcome oc, const struct kv_reply *reply)
{
	struct dedup_req *req = arg;

	if (oc == OUTCOME_OK && reply->type == KV_REPLY_BULK) {
		if (strcmp(reply->str, req->token) == 0) {
			/* no-false-duplicate: the first SET was applied and only its
			 * reply was lost; the key holds our own token. */
			core_log(req->d->env, LOG_INFO, DEDUP_TAG,
			         "key %s: our earlier SET was applied, its reply lost; request is new", req->key);
			dedup_finish(req, RESULT_OK, DEDUP_NEW, false);
		} else {
			dedup_finish(req, RESULT_OK, DEDUP_DUPLICATE, false);
		}
		return;
	}
	if (oc == OUTCOME_OK && reply->type == KV_REPLY_NIL) {
		/* The key existed a moment ago and is gone: whose it was cannot be
		 * told any more. */
		dedup_fail_open(req, "key vanished before its owner could be read");
		return;
	}
	dedup_fail_open(req, dedup_reason(oc, reply));
}

static void dedup_on_set_reply(void *arg, enum outcome oc, const struct kv_reply *reply)
{
	struct dedup_req *req = arg;
	struct dedup *d = req->d;
	const struct core_env *env = d->env;

	if (oc == OUTCOME_OK && reply->type == KV_REPLY_STATUS) {
		dedup_finish(req, RESULT_OK, DEDUP_NEW, false);
		return;
	}
	if (oc == OUTCOME_OK && reply->type == KV_REPLY_NIL) {
		if (!req->retried_after_timeout) {
			dedup_finish(req, RESULT_OK, DEDUP_DUPLICATE, false);
			return;
		}
		/* hardened: nil after a timed-out SET may be our own write. */
		struct kv_cmd get = {.argc = 2, .argv = {"GET", req->key}};
		env->kv.command(env->kv.ctx, &get, dedup_on_get_reply, req);
		return;
	}

	switch (d->cfg.variant) {
	case VARIANT_LEGACY:
		/* The bug: every failure reads as "duplicate", so genuine requests
		 * are turned away while Redis is slow or down. */
		dedup_finish(req, RESULT_OK, DEDUP_DUPLICATE, false);
		return;
	case VARIANT_SEED:
		if (oc == OUTCOME_TIMEOUT || oc == OUTCOME_CONN_LOST) {
			dedup_fail_open(req, outcome_name(oc));
			return;
		}
		/* The original catch-all the seed left alone: an error reply
		 * (-OOM, -LOADING ...) still reads as "duplicate". */
		dedup_finish(req, RESULT_OK, DEDUP_DUPLICATE, false);
		return;
	case VARIANT_HARDENED:
		if (oc == OUTCOME_TIMEOUT && req->retries < DEDUP_RETRIES_MAX) {
			/* no-false-duplicate: the timed-out SET may have been applied;
			 * ask again, and read a nil against our token. */
			req->retries++;
			req->retried_after_timeout = true;
			dedup_send_set(req);
			return;
		}
		dedup_fail_open(req, dedup_reason(oc, reply));
		return;
	case VARIANT_COUNT:
		break;
	}
	ASSERT(!"dedup: bad variant");
}

static void dedup_send_set(struct dedup_req *req)
{
	const struct core_env *env = req->d->env;
	struct kv_cmd set = {.argc = 6, .argv = {"SET", req->key, req->token, "NX", "PX", req->d->ttl}};
	env->kv.command(env->kv.ctx, &set, dedup_on_set_reply, req);
}

void dedup_check(struct dedup *d, const char *request_key, dedup_done_fn *done, void *arg)
{
	ASSERT(d != NULL);
	ASSERT(done != NULL);
	const struct core_env *env = d->env;
	struct dedup_req *req = calloc(1, sizeof *req);
	ASSERT(req != NULL);
	req->d = d;
	req->done = done;
	req->arg = arg;
	d->inflight++;

	size_t len = request_key != NULL ? strnlen(request_key, DEDUP_KEY_MAX + 1) : 0;
	if (len == 0 || len > DEDUP_KEY_MAX) {
		env->clock.after(env->clock.ctx, 0, dedup_on_rejected, req);
		return;
	}
	struct fmt f;
	fmt_init(&f, req->key, sizeof req->key);
	fmt_mem(&f, DEDUP_KEY_PREFIX, sizeof DEDUP_KEY_PREFIX - 1);
	fmt_mem(&f, request_key, len);
	ASSERT(!f.cut);
	/* Unique per call: the run's randomness plus a per-object sequence, so
	 * two checks of the same key never hold the same token; and the
	 * monotonic clock, so a process restarted with the same seed does not
	 * repeat the tokens its predecessor left in Redis. */
	d->calls++;
	fmt_init(&f, req->token, sizeof req->token);
	fmt_hex64(&f, env->clock.random(env->clock.ctx));
	fmt_mem(&f, "-", 1);
	fmt_u64(&f, env->clock.now_us(env->clock.ctx));
	fmt_mem(&f, "-", 1);
	fmt_u64(&f, d->calls);
	ASSERT(!f.cut);
	dedup_send_set(req);
}
