/* harness/invariant_ratelimit.c - the rate limiter's contract: a fixed window of N
 * requests per W, and no user locked out. */
#include "harness/invariant.h"

#include <stdlib.h>

#include "harness/invariant_int.h"

/* ---- no-lockout --------------------------------------------------------- */

static uint64_t rl_major(const struct history *h, size_t i)
{
	return h->rl_incr[i].user;
}

static uint64_t rl_minor(const struct history *h, size_t i)
{
	return h->rl_incr[i].t_us;
}

/* INCR indices ordered by (user, time, order applied). Caller frees. */
static size_t *rl_order(const struct history *h)
{
	return inv_order_indices(h, h->nrl_incr, rl_major, rl_minor);
}

bool inv_check_no_lockout(const struct history *h, struct inv_violation *v)
{
	int64_t window_ms = (int64_t)(h->rl_window_us / 1000);
	for (size_t i = 0; i < h->nrl_ttl; i++) {
		const struct hist_rl_ttl *o = &h->rl_ttl[i];
		if (o->pttl_ms == -1)
			return inv_violate(v, o->t_us, "rate-limit key of user u%u has no TTL: locked out "
			               "until someone deletes it", o->user);
		if (o->pttl_ms > window_ms)
			return inv_violate(v, o->t_us, "rate-limit key of user u%u has a TTL of %lld ms, "
			               "longer than the %lld ms window", o->user,
			               (long long)o->pttl_ms, (long long)window_ms);
	}
	for (size_t i = 0; i < h->nrl; i++) {
		const struct hist_rl_request *r = &h->rl[i];
		if (r->probe && r->done && r->verdict == HIST_RL_REJECT)
			return inv_violate(v, r->end_us, "user u%u waited out the window and was still "
			               "rejected", r->user);
	}
	/* At most limit admissions per window while Redis is healthy: a window
	 * starts at the INCR that answered 1; admissions are INCRs that
	 * answered <= limit. A key that vanished early starts a new window
	 * inside the old one, and the admissions of both then count. Only
	 * INCRs with no Redis fault since the window began are judged. */
	size_t *idx = rl_order(h);
	for (size_t ii = 0; ii < h->nrl_incr; ii++) {
		const struct hist_rl_incr *w = &h->rl_incr[idx[ii]];
		if (w->count != 1)
			continue;
		uint64_t admitted = 0;
		uint64_t last = w->t_us;
		for (size_t jj = ii; jj < h->nrl_incr; jj++) {
			const struct hist_rl_incr *a = &h->rl_incr[idx[jj]];
			if (a->user != w->user || a->t_us >= w->t_us + h->rl_window_us)
				break;
			if (a->faults != w->faults)
				continue;
			if (a->count >= 1 && a->count <= (long long)h->rl_limit) {
				admitted++;
				last = a->t_us;
			}
		}
		if (admitted > h->rl_limit) {
			free(idx);
			return inv_violate(v, last, "user u%u admitted %llu times in one %llu ms window "
			               "(limit %u) while Redis was healthy", w->user,
			               (unsigned long long)admitted,
			               (unsigned long long)(h->rl_window_us / 1000), h->rl_limit);
		}
	}
	free(idx);
	return true;
}
