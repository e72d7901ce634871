/* core/ratelimit.c - the fixed-window limiter in its three variants. The
 * variants share the flow (count, then make sure the key expires) and
 * differ only in how the expiry is set and how a failure is answered. */
#include "core/ratelimit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/fmt.h"

#define RATELIMIT_TAG "RateLimit"
#define RATELIMIT_KEY_PREFIX "ratelimit:"
#define RATELIMIT_KEY_MAX (sizeof RATELIMIT_KEY_PREFIX + RATELIMIT_USER_ID_MAX)

struct ratelimit {
	const struct core_env *env;
	struct ratelimit_config cfg;
	uint32_t inflight; /* hits whose done has not run yet */
	char window[24];   /* the TTL argument, made once: whole seconds for
	                    * EXPIRE (legacy, seed), ms for PEXPIRE (hardened) */
};

/* One hit, from ratelimit_hit until its done has run. */
struct ratelimit_req {
	struct ratelimit *rl;
	ratelimit_done_fn *done;
	void *arg;
	char user_id[RATELIMIT_USER_ID_MAX + 1];
	char key[RATELIMIT_KEY_MAX];
	long long count;
	enum result rc;                 /* for a deferred answer */
	enum ratelimit_verdict verdict; /* for a deferred answer */
};

struct ratelimit *ratelimit_create(const struct core_env *env, const struct ratelimit_config *cfg)
{
	ASSERT(env != NULL);
	ASSERT(cfg != NULL);
	ASSERT((unsigned)cfg->variant < VARIANT_COUNT);
	if (cfg->limit == 0 || cfg->window_ms == 0 || cfg->window_ms > RATELIMIT_WINDOW_MS_MAX)
		return NULL;
	struct ratelimit *rl = calloc(1, sizeof *rl);
	ASSERT(rl != NULL);
	rl->env = env;
	rl->cfg = *cfg;
	/* EXPIRE takes whole seconds: round up so the window is never shorter
	 * than configured, and never 0 (which would delete the key). */
	uint64_t ttl = cfg->variant == VARIANT_HARDENED ? cfg->window_ms
	                                                : (cfg->window_ms + 999) / 1000;
	struct fmt f;
	fmt_init(&f, rl->window, sizeof rl->window);
	fmt_u64(&f, ttl);
	ASSERT(!f.cut);
	return rl;
}

void ratelimit_destroy(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	ASSERT(rl->inflight == 0);
	free(rl);
}

/* Ends a hit: done runs last, so it may destroy the limiter. */
static void ratelimit_finish(struct ratelimit_req *req, enum result rc, enum ratelimit_verdict verdict)
{
	ASSERT(req->rl->inflight > 0);
	req->rl->inflight--;
	ratelimit_done_fn *done = req->done;
	void *arg = req->arg;
	free(req);
	done(arg, rc, verdict);
}

static void ratelimit_on_deferred(void *arg)
{
	struct ratelimit_req *req = arg;
	ratelimit_finish(req, req->rc, req->verdict);
}

static enum ratelimit_verdict ratelimit_judge(const struct ratelimit_req *req)
{
	return req->count <= (long long)req->rl->cfg.limit ? RATELIMIT_ALLOW : RATELIMIT_REJECT;
}

/* Why a reply is a failure, for the log. */
static const char *ratelimit_reason(enum outcome oc, const struct kv_reply *reply)
{
	if (oc != OUTCOME_OK)
		return oc == OUTCOME_ERROR && reply != NULL ? reply->str : outcome_name(oc);
	if (reply->type == KV_REPLY_ERROR)
		return reply->str;
	return "unexpected reply";
}

/* ---- legacy and seed: INCR, then EXPIRE on the first hit ---------------- */

static void ratelimit_on_expire_reply(void *arg, enum outcome oc, const struct kv_reply *reply)
{
	struct ratelimit_req *req = arg;
	const struct core_env *env = req->rl->env;

	if (req->rl->cfg.variant == VARIANT_LEGACY) {
		/* The bug: the outcome is ignored, so a failed EXPIRE leaves a
		 * counter without a TTL and the user is locked out for good. */
		ratelimit_finish(req, RESULT_OK, ratelimit_judge(req));
		return;
	}
	/* seed: the wrapper reports failure (anything but "TTL set"), and the
	 * request errors out; the key may still be left without a TTL. */
	if (oc != OUTCOME_OK || reply->type != KV_REPLY_INTEGER || reply->integer != 1) {
		core_log(env, LOG_WARN, RATELIMIT_TAG, "EXPIRE failed for user %s key %s: %s",
		         req->user_id, req->key, ratelimit_reason(oc, reply));
		ratelimit_finish(req, RESULT_ERROR, RATELIMIT_REJECT);
		return;
	}
	ratelimit_finish(req, RESULT_OK, ratelimit_judge(req));
}

static void ratelimit_on_incr_reply(void *arg, enum outcome oc, const struct kv_reply *reply)
{
	struct ratelimit_req *req = arg;
	const struct core_env *env = req->rl->env;

	if (oc != OUTCOME_OK || reply->type != KV_REPLY_INTEGER) {
		if (req->rl->cfg.variant != VARIANT_LEGACY)
			core_log(env, LOG_WARN, RATELIMIT_TAG, "INCR failed for user %s key %s: %s",
			         req->user_id, req->key, ratelimit_reason(oc, reply));
		ratelimit_finish(req, RESULT_ERROR, RATELIMIT_REJECT);
		return;
	}
	req->count = reply->integer;
	if (req->count != 1) {
		ratelimit_finish(req, RESULT_OK, ratelimit_judge(req));
		return;
	}
	struct kv_cmd cmd = {.argc = 3, .argv = {"EXPIRE", req->key, req->rl->window}};
	env->kv.command(env->kv.ctx, &cmd, ratelimit_on_expire_reply, req);
}

/* ---- hardened: one transaction on every hit ----------------------------- */

static void ratelimit_on_exec_reply(void *arg, enum outcome oc, const struct kv_reply *reply)
{
	struct ratelimit_req *req = arg;
	struct ratelimit *rl = req->rl;
	const char *reason = NULL;

	if (oc != OUTCOME_OK || reply->type != KV_REPLY_ARRAY)
		reason = ratelimit_reason(oc, reply);
	else if (reply->elements != 2)
		reason = "unexpected EXEC reply";
	else if (reply->element[0].type != KV_REPLY_INTEGER)
		reason = ratelimit_reason(OUTCOME_OK, &reply->element[0]);
	else if (reply->element[1].type != KV_REPLY_INTEGER)
		reason = ratelimit_reason(OUTCOME_OK, &reply->element[1]);

	if (reason != NULL) {
		/* no-lockout: a failure never leaves a verdict that outlives the
		 * window; the policy decides this one request only. */
		core_log(rl->env, LOG_WARN, RATELIMIT_TAG, "rate limit store failed for user %s key %s: %s; %s",
		         req->user_id, req->key, reason, rl->cfg.fail_open ? "failing open" : "failing closed");
		if (rl->cfg.fail_open)
			ratelimit_finish(req, RESULT_OK, RATELIMIT_ALLOW);
		else
			ratelimit_finish(req, RESULT_ERROR, RATELIMIT_REJECT);
		return;
	}
	req->count = reply->element[0].integer;
	ratelimit_finish(req, RESULT_OK, ratelimit_judge(req));
}

void ratelimit_hit(struct ratelimit *rl, const char *user_id, ratelimit_done_fn *done, void *arg)
{
	ASSERT(rl != NULL);
	ASSERT(done != NULL);
	const struct core_env *env = rl->env;
	struct ratelimit_req *req = calloc(1, sizeof *req);
	ASSERT(req != NULL);
	req->rl = rl;
	req->done = done;
	req->arg = arg;
	rl->inflight++;

	size_t len = user_id != NULL ? strnlen(user_id, RATELIMIT_USER_ID_MAX + 1) : 0;
	if (len == 0 || len > RATELIMIT_USER_ID_MAX) {
		req->rc = RESULT_REJECT;
		req->verdict = RATELIMIT_REJECT;
		env->clock.after(env->clock.ctx, 0, ratelimit_on_deferred, req);
		return;
	}
	memcpy(req->user_id, user_id, len);
	struct fmt f;
	fmt_init(&f, req->key, sizeof req->key);
	fmt_mem(&f, RATELIMIT_KEY_PREFIX, sizeof RATELIMIT_KEY_PREFIX - 1);
	fmt_mem(&f, req->user_id, len);
	ASSERT(!f.cut);

	if (rl->cfg.variant == VARIANT_HARDENED) {
		/* no-lockout: INCR and PEXPIRE NX run together on every hit, so a
		 * counter never exists without a TTL for longer than one hit, and
		 * NX keeps the window fixed instead of sliding it. */
		struct kv_cmd cmds[2] = {
			{.argc = 2, .argv = {"INCR", req->key}},
			{.argc = 4, .argv = {"PEXPIRE", req->key, rl->window, "NX"}},
		};
		env->kv.transaction(env->kv.ctx, 2, cmds, ratelimit_on_exec_reply, req);
		return;
	}
	struct kv_cmd cmd = {.argc = 2, .argv = {"INCR", req->key}};
	env->kv.command(env->kv.ctx, &cmd, ratelimit_on_incr_reply, req);
}
