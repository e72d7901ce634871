/* harness/work_ratelimit.c - the rate limiter's workload: each user's hits
 * (bursts and steady traffic), the probe after a window, and what the run
 * records of the verdicts and of the keys' TTLs. Checks: harness/invariant.c. */
#include <stdlib.h>

#include "core/assert.h"
#include "core/ratelimit.h"

#include "harness/world_int.h"

/* ---- ratelimit ------------------------------------------------------------- */

struct rl_req {
	struct world *w;
	size_t index;               /* in h.rl */
	uint32_t user;
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

static void rl_observe_key(struct world *w, uint32_t user)
{
	char key[48];
	world_name1(key, sizeof key, "ratelimit:u", user);
	struct rl_read *rd = world_work_new(w, sizeof *rd);
	rd->w = w;
	rd->user = user;
	w->be.ops->read_pttl(w->be.ctx, key, rl_on_pttl, rd);
}

static void rl_on_done(void *arg, enum result rc, enum ratelimit_verdict verdict)
{
	struct rl_req *q = arg;
	struct world *w = q->w;
	struct hist_rl_request *r = &w->h.rl[q->index];
	ASSERT(w->core_busy > 0);
	w->core_busy--;
	r->done = true;
	r->end_us = world_now_us(w);
	enum world_outcome o;
	if (rc != RESULT_OK) {
		r->verdict = HIST_RL_ERROR;
		o = WO_RL_ERROR;
		if (rc == RESULT_UNHANDLED)
			world_note_unhandled(w, "ratelimit request died");
	} else if (verdict == RATELIMIT_ALLOW) {
		r->verdict = HIST_RL_ALLOW;
		o = WO_RL_ALLOWED;
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
	w->rl_users[q->user].inflight++;
	world_request_begin(w, "ratelimit", q->id);
	char user_id[24];
	world_name1(user_id, sizeof user_id, "u", q->user);
	w->core_busy++;
	ratelimit_hit(w->rl, user_id, rl_on_done, q);
}

void rl_schedule(struct world *w)
{
	const struct scenario *sc = w->sc;
	uint32_t per = sc->ratelimit.requests_per_user + (sc->ratelimit.probe_after_window ? 1 : 0);
	size_t total = (size_t)sc->ratelimit.users * per;
	ASSERT(total <= WORLD_REQUESTS_MAX);
	w->rl_users = calloc(sc->ratelimit.users ? sc->ratelimit.users : 1, sizeof *w->rl_users);
	w->h.rl = calloc(total ? total : 1, sizeof *w->h.rl);
	ASSERT(w->rl_users != NULL && w->h.rl != NULL);
	w->h.nrl = total;
	w->h.rl_limit = sc->ratelimit.limit;
	w->h.rl_window_us = sc->ratelimit.window_us;
	uint64_t margin_us = w->cfg->probe_margin_us ? w->cfg->probe_margin_us : PROBE_MARGIN_US;
	size_t k = 0;
	for (uint32_t u = 0; u < sc->ratelimit.users; u++) {
		for (uint32_t i = 0; i < per; i++, k++) {
			bool probe = i == sc->ratelimit.requests_per_user;
			uint64_t at = probe ? sc->ratelimit.spread_us + sc->ratelimit.window_us +
			                      margin_us
			                    : world_uniform_us(w, sc->ratelimit.spread_us);
			struct rl_req *q = world_work_new(w, sizeof *q);
			q->w = w;
			q->index = k;
			q->user = u;
			world_name2(q->id, sizeof q->id, "u", u, i, probe ? "-probe" : "");
			w->h.rl[k].user = u;
			w->h.rl[k].probe = probe;
			world_arrival_add(w, at, rl_start, q);
		}
	}
}
