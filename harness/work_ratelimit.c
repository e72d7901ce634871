/* harness/work_ratelimit.c - the rate limiter's workload: each user's hits
 * (bursts or steady traffic, hits at the window's boundary), the probe after
 * a window, and what the run records of the verdicts, of Redis's health
 * during each hit and of the keys' TTLs. Checks: harness/invariant_ratelimit.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/ratelimit.h"

#include "harness/world_int.h"

/* ---- ratelimit ------------------------------------------------------------- */

struct rl_req {
	struct world *w;
	size_t index;               /* in h.rl */
	uint32_t user;
	uint64_t down_until_us;     /* Redis down when it started, until then */
	char id[32];
};

struct rl_read {
	struct world *w;
	uint32_t user;
};

static void rl_on_pttl(void *arg, bool known, int64_t pttl_ms)
{
	struct rl_read *rd = arg;
	struct world *w = rd->w;
	if (known && pttl_ms != -2) {
		struct hist_rl_ttl *o = world_hist_push((void **)&w->h.rl_ttl, &w->h.nrl_ttl,
		                                  &w->cap_rl_ttl, sizeof *o);
		o->user = rd->user;
		o->t_us = world_now_us(w);
		o->pttl_ms = pttl_ms;
	}
	world_work_free(w, rd);
}

/* The user id: "u<N>", or padded with '-' and 'x' to user_id_octets. */
static void rl_user_id(const struct world *w, uint32_t user, char *buf, size_t size)
{
	world_name1(buf, size, "u", user);
	size_t want = w->sc->ratelimit.user_id_octets;
	size_t len = strlen(buf);
	ASSERT(want < size);
	if (want > len) {
		memset(buf + len, 'x', want - len);
		buf[len] = '-';
		buf[want] = '\0';
	}
}

static void rl_observe_key(struct world *w, uint32_t user)
{
	char key[sizeof "ratelimit:" + RATELIMIT_USER_ID_MAX];
	memcpy(key, "ratelimit:", sizeof "ratelimit:" - 1);
	rl_user_id(w, user, key + sizeof "ratelimit:" - 1, sizeof key - (sizeof "ratelimit:" - 1));
	struct rl_read *rd = world_work_new(w, sizeof *rd);
	rd->w = w;
	rd->user = user;
	w->be.ops->read_pttl(w->be.ctx, key, rl_on_pttl, rd);
}

static void rl_on_done(void *arg, enum result rc, enum ratelimit_verdict verdict)
{
	struct rl_req *q = arg;
	struct world *w = q->w;
	world_core_answered(w, "ratelimit_hit");
	struct hist_rl_request *r = &w->h.rl[q->index];
	ASSERT(w->core_busy > 0);
	w->core_busy--;
	r->done = true;
	r->end_us = world_now_us(w);
	r->healthy = r->healthy && world_backend_faults(w, FAULT_TARGET_REDIS) == r->faults;
	r->down_throughout = q->down_until_us > r->end_us;
	enum world_outcome o;
	if (rc != RESULT_OK) {
		r->verdict = HIST_RL_ERROR;
		o = WO_RL_ERROR;
		if (rc == RESULT_UNHANDLED)
			world_note_unhandled(w, "ratelimit request died");
	} else if (verdict == RATELIMIT_ALLOW) {
		r->verdict = HIST_RL_ALLOW;
		o = r->healthy ? WO_RL_ALLOWED : WO_RL_ALLOWED_IN_FAILURE;
	} else {
		r->verdict = HIST_RL_REJECT;
		o = WO_RL_REJECTED;
	}
	world_request_end(w, "ratelimit", q->id, r->start_us, o);
	ASSERT(w->rl_users[q->user].inflight > 0);
	/* no-lockout is judged when none of the user's requests is in flight:
	 * between INCR and EXPIRE a key is legitimately without TTL. */
	if (--w->rl_users[q->user].inflight == 0 && !w->draining)
		rl_observe_key(w, q->user);
	world_work_free(w, q);
}

static void rl_start(void *arg)
{
	struct rl_req *q = arg;
	struct world *w = q->w;
	if (w->draining) {
		world_work_free(w, q);
		return;
	}
	struct hist_rl_request *r = &w->h.rl[q->index];
	r->start_us = world_now_us(w);
	r->faults = world_backend_faults(w, FAULT_TARGET_REDIS);
	r->healthy = !world_redis_down(w);
	q->down_until_us = world_redis_down_until(w);
	w->rl_users[q->user].inflight++;
	w->rl_users[q->user].started++;
	world_request_begin(w, "ratelimit", q->id);
	char user_id[RATELIMIT_USER_ID_MAX + 1];
	rl_user_id(w, q->user, user_id, sizeof user_id);
	w->core_busy++;
	bool was = world_core_enter(w);
	w->rl_current = q->index;
	ratelimit_hit(w->rl, user_id, rl_on_done, q);
	w->rl_current = SIZE_MAX;
	world_core_leave(w, was);
}

/* An INCR of "ratelimit:u<N>[-x...]" is one more count for user N; more
 * counts than hits begun means a hit's INCR was sent again. */
void rl_note_incr(struct world *w, const struct kv_cmd *cmd)
{
	if (w->rl_users == NULL || cmd->argc < 2 || !kv_word_is(cmd->argv[0], "incr") ||
	    strncmp(cmd->argv[1], "ratelimit:u", sizeof "ratelimit:u" - 1) != 0)
		return;
	const char *p = cmd->argv[1] + sizeof "ratelimit:u" - 1;
	uint64_t user = 0;
	if (*p < '0' || *p > '9')
		return;
	for (; *p >= '0' && *p <= '9' && user <= UINT32_MAX; p++)
		user = user * 10 + (uint64_t)(*p - '0');
	if ((*p != '\0' && *p != '-') || user >= w->sc->ratelimit.users)
		return;
	struct rl_user *u = &w->rl_users[user];
	if (++u->incrs > u->started && !w->h.rl_incr_again) {
		w->h.rl_incr_again = true;
		w->h.rl_incr_again_user = (uint32_t)user;
		w->h.rl_incr_again_us = world_now_us(w);
	}
}

/* The reply to the command that counts a hit: the INCR, or the MULTI/EXEC
 * whose first element is the INCR's. The hit could not be counted when it
 * failed, and then only the policy may decide it. */
static void rl_note_count(struct world *w, size_t index, enum outcome oc,
                          const struct kv_reply *reply)
{
	bool exec = reply != NULL && reply->type == KV_REPLY_ARRAY;
	const struct kv_reply *count = exec && reply->elements > 0 ? &reply->element[0] : reply;
	w->h.rl[index].count_failed = oc != OUTCOME_OK || count == NULL ||
	                              count->type != KV_REPLY_INTEGER;
}

void rl_watch_count(struct world *w, const struct kv_cmd *cmd, kv_done_fn **done, void **arg)
{
	if (w->rl_current == SIZE_MAX || cmd == NULL || !kv_word_is(cmd->argv[0], "incr"))
		return;
	world_kv_watch(w, w->rl_current, rl_note_count, done, arg);
	w->rl_current = SIZE_MAX;
}

/* ---- user ids the API refuses ------------------------------------------------ */

enum { RL_BAD_EMPTY, RL_BAD_LONG, RL_BAD_NULL, RL_BAD_COUNT };

struct rl_bad {
	struct world *w;
	int kind;
	uint64_t start_us;
	char id[16];
};

static void rl_bad_on_pttl(void *arg, bool known, int64_t pttl_ms)
{
	struct rl_bad *b = arg;
	struct world *w = b->w;
	if (known && pttl_ms != -2) {
		if (w->h.rl_bad_counted + w->h.rl_bad_keys == 0)
			w->h.rl_bad_us = world_now_us(w);
		w->h.rl_bad_keys++;
	}
	world_work_free(w, b);
}

/* The keys a refused id would have been counted under: "ratelimit:" (the
 * empty and the NULL id), the whole long id, or the long id cut to the
 * limit. */
static void rl_bad_observe(struct world *w, int kind)
{
	char key[sizeof "ratelimit:" + RATELIMIT_USER_ID_MAX + 1];
	size_t n = kind == RL_BAD_LONG ? RATELIMIT_USER_ID_MAX + 1 : 0;
	for (int cut = 0; cut < (kind == RL_BAD_LONG ? 2 : 1); cut++) {
		memcpy(key, "ratelimit:", sizeof "ratelimit:" - 1);
		memset(key + sizeof "ratelimit:" - 1, 'b', n - (size_t)cut);
		key[sizeof "ratelimit:" - 1 + n - (size_t)cut] = '\0';
		struct rl_bad *rd = world_work_new(w, sizeof *rd);
		rd->w = w;
		w->be.ops->read_pttl(w->be.ctx, key, rl_bad_on_pttl, rd);
	}
}

static void rl_bad_on_done(void *arg, enum result rc, enum ratelimit_verdict verdict)
{
	struct rl_bad *b = arg;
	struct world *w = b->w;
	world_core_answered(w, "ratelimit_hit");
	ASSERT(w->core_busy > 0);
	w->core_busy--;
	w->h.rl_bad_calls++;
	if (rc != RESULT_REJECT) {
		if (w->h.rl_bad_counted + w->h.rl_bad_keys == 0)
			w->h.rl_bad_us = world_now_us(w);
		w->h.rl_bad_counted++;
	}
	if (rc == RESULT_UNHANDLED)
		world_note_unhandled(w, "ratelimit request died");
	world_request_end(w, "ratelimit", b->id, b->start_us,
	                  rc != RESULT_OK && rc != RESULT_REJECT ? WO_RL_ERROR
	                  : verdict == RATELIMIT_ALLOW ? WO_RL_ALLOWED : WO_RL_REJECTED);
	if (!w->draining)
		rl_bad_observe(w, b->kind);
	world_work_free(w, b);
}

static void rl_bad_start(void *arg)
{
	struct rl_bad *b = arg;
	struct world *w = b->w;
	if (w->draining) {
		world_work_free(w, b);
		return;
	}
	b->start_us = world_now_us(w);
	world_request_begin(w, "ratelimit", b->id);
	char id[RATELIMIT_USER_ID_MAX + 2];
	memset(id, 'b', RATELIMIT_USER_ID_MAX + 1);
	id[b->kind == RL_BAD_LONG ? RATELIMIT_USER_ID_MAX + 1 : 0] = '\0';
	w->core_busy++;
	bool was = world_core_enter(w);
	ratelimit_hit(w->rl, b->kind == RL_BAD_NULL ? NULL : id, rl_bad_on_done, b);
	world_core_leave(w, was);
}

static void rl_add(struct world *w, size_t k, uint32_t user, uint32_t i, const char *suffix,
                   uint64_t at_us)
{
	struct rl_req *q = world_work_new(w, sizeof *q);
	q->w = w;
	q->index = k;
	q->user = user;
	world_name2(q->id, sizeof q->id, "u", user, i, suffix);
	w->h.rl[k].user = user;
	w->h.rl[k].probe = suffix[0] == '-' && suffix[1] == 'p';
	world_arrival_add(w, at_us, rl_start, q);
}

/* Each user: requests_per_user hits (uniform over spread, or one every
 * interval from an offset in it), then the three boundary hits around the
 * end of the first window, then the probe once the last window is over. */
void rl_schedule(struct world *w)
{
	const struct scenario *sc = w->sc;
	const uint64_t ms = 1000;
	uint32_t n = sc->ratelimit.requests_per_user;
	uint32_t per = n + (sc->ratelimit.boundary ? 3 : 0) + (sc->ratelimit.probe_after_window ? 1 : 0);
	size_t total = (size_t)sc->ratelimit.users * per;
	ASSERT(total <= WORLD_REQUESTS_MAX);
	w->rl_users = calloc(sc->ratelimit.users ? sc->ratelimit.users : 1, sizeof *w->rl_users);
	w->h.rl = calloc(total ? total : 1, sizeof *w->h.rl);
	ASSERT(w->rl_users != NULL && w->h.rl != NULL);
	w->h.nrl = total;
	w->h.rl_limit = sc->ratelimit.limit;
	w->h.rl_window_us = sc->ratelimit.window_us;
	w->h.rl_fail_open = sc->ratelimit.fail_open;
	uint64_t margin_us = w->cfg->probe_margin_us ? w->cfg->probe_margin_us : PROBE_MARGIN_US;
	uint64_t window_us = sc->ratelimit.window_us;
	size_t k = 0;
	for (uint32_t u = 0; u < sc->ratelimit.users; u++) {
		uint64_t offset = sc->ratelimit.interval_us ? world_uniform_us(w, sc->ratelimit.spread_us) : 0;
		uint64_t first = UINT64_MAX, last = sc->ratelimit.spread_us;
		for (uint32_t i = 0; i < n; i++, k++) {
			uint64_t at = sc->ratelimit.interval_us ? offset + i * sc->ratelimit.interval_us
			                                        : world_uniform_us(w, sc->ratelimit.spread_us);
			first = at < first ? at : first;
			last = at > last ? at : last;
			rl_add(w, k, u, i, "", at);
		}
		if (sc->ratelimit.boundary) {
			/* The first window started at the user's first hit: W - 1 ms
			 * is inside it, W + 1 ms certainly after it, and W exactly
			 * is where Redis's 1 ms expiry resolution decides. */
			static const char *const names[3] = {"-before-end", "-at-end", "-after-end"};
			for (uint32_t b = 0; b < 3; b++, k++) {
				uint64_t at = first + window_us - ms + b * ms;
				last = at > last ? at : last;
				rl_add(w, k, u, n + b, names[b], at);
			}
		}
		if (sc->ratelimit.probe_after_window)
			rl_add(w, k++, u, per - 1, "-probe", last + window_us + margin_us);
	}
	ASSERT(k == total);
	if (sc->ratelimit.invalid_ids) {
		static const char *const names[RL_BAD_COUNT] = {"bad-empty", "bad-long", "bad-null"};
		for (int b = 0; b < RL_BAD_COUNT; b++) {
			struct rl_bad *q = world_work_new(w, sizeof *q);
			q->w = w;
			q->kind = b;
			snprintf(q->id, sizeof q->id, "%s", names[b]);
			world_arrival_add(w, world_uniform_us(w, sc->ratelimit.spread_us), rl_bad_start, q);
		}
	}
}
