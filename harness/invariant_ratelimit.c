/* harness/invariant_ratelimit.c - the rate limiter's contracts, judged on the
 * verdicts: a fixed window of N requests per W for each user (ratelimit-window)
 * and no user locked out (no-lockout). */
#include "harness/invariant.h"

#include <stdlib.h>

#include "core/assert.h"
#include "core/ratelimit.h"

#include "harness/invariant_int.h"

/* Redis keeps expiry times in whole milliseconds and deletes a key once the
 * clock has passed its time: a window may outlast W by up to 1 ms (Redis's
 * EXPIRE documentation, "expire accuracy"). */
#define RL_EXPIRY_RESOLUTION_US 1000

/* ---- no-lockout --------------------------------------------------------- */

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
	return true;
}

/* ---- ratelimit-window --------------------------------------------------- */

/* When Redis applied a hit is known only to lie within [start, end] of its
 * request; so is the instant its window began. A window is [lo, hi] (the
 * bounds of its first hit), its certain members C (ended before lo + W)
 * and the possible members P (hits that may belong to it or to the window
 * next to it, where the boundary falls inside their flight). */
struct rlw {
	const struct history *h;
	const size_t *idx;       /* the user's requests, by start */
	size_t *c, nc;           /* certain members (positions in idx) */
	size_t *p, np;           /* possible members */
	size_t *a, na;           /* this window's ambiguous ones, P of the next */
	uint64_t lo, hi, faults;
	bool open;
};

static const struct hist_rl_request *rlw_req(const struct rlw *s, size_t pos)
{
	return &s->h->rl[s->idx[pos]];
}

/* Judges one closed window: never more than N allowed, and a rejection
 * only once N requests of the same user were allowed before it in the
 * window (so the first N are allowed, and with the first bound nothing is
 * allowed after a rejection). */
static bool rlw_judge(const struct rlw *s, struct inv_violation *v)
{
	const struct history *h = s->h;
	uint32_t n = h->rl_limit;
	uint64_t allowed = 0;
	for (size_t i = 0; i < s->nc; i++) {
		const struct hist_rl_request *r = rlw_req(s, s->c[i]);
		if (r->verdict == HIST_RL_ALLOW && ++allowed > n)
			return inv_violate(v, r->end_us, "user u%u was allowed %llu times in one %llu ms "
			               "window (limit %u) while Redis was healthy", r->user,
			               (unsigned long long)allowed,
			               (unsigned long long)(h->rl_window_us / 1000), n);
	}
	for (size_t i = 0; i < s->nc; i++) {
		const struct hist_rl_request *r = rlw_req(s, s->c[i]);
		if (r->verdict != HIST_RL_REJECT)
			continue;
		uint64_t before = 0;
		for (size_t j = 0; j < s->nc + s->np; j++) {
			size_t pos = j < s->nc ? s->c[j] : s->p[j - s->nc];
			const struct hist_rl_request *q = rlw_req(s, pos);
			if (q != r && q->verdict == HIST_RL_ALLOW && q->start_us <= r->end_us)
				before++;
		}
		if (before < n)
			return inv_violate(v, r->end_us, "user u%u was rejected with only %llu of its own "
			               "requests allowed in its window (limit %u) while Redis was "
			               "healthy", r->user, (unsigned long long)before, n);
	}
	return true;
}

static void rlw_open(struct rlw *s, size_t pos)
{
	const struct hist_rl_request *r = rlw_req(s, pos);
	s->open = true;
	s->lo = r->start_us;
	s->hi = r->end_us;
	s->faults = r->faults;
	s->c[0] = pos;
	s->nc = 1;
	s->np = s->na = 0;
}

/* The window after the current one, which r (certainly past it) is in. */
static bool rlw_next(struct rlw *s, size_t pos)
{
	const struct hist_rl_request *r = rlw_req(s, pos);
	uint64_t lo = s->lo + s->h->rl_window_us;
	uint64_t first = s->na ? rlw_req(s, s->a[0])->start_us : r->start_us;
	lo = first > lo ? first : lo;
	if (r->end_us >= lo + s->h->rl_window_us)
		return false; /* too slow to place */
	size_t *t = s->p;
	s->p = s->a;
	s->np = s->na;
	s->a = t;
	s->na = 0;
	s->lo = lo;
	s->hi = r->end_us;
	s->c[0] = pos;
	s->nc = 1;
	return true;
}

/* One user's requests idx[0..n), by start. */
static bool rlw_user(struct rlw *s, size_t n, struct inv_violation *v)
{
	const struct history *h = s->h;
	uint64_t w = h->rl_window_us;
	bool synced = true;      /* the user's key state is known */
	uint64_t last_end = 0;   /* of every earlier request */
	s->open = false;
	for (size_t pos = 0; pos < n; pos++) {
		const struct hist_rl_request *r = rlw_req(s, pos);
		bool member = r->done && r->healthy;
		if (s->open) {
			if (!member || r->faults != s->faults) {
				s->open = false;
				synced = false;
			} else if (r->end_us < s->lo + w) {
				s->c[s->nc++] = pos;
			} else if (r->start_us >= s->hi + w + RL_EXPIRY_RESOLUTION_US) {
				if (!rlw_judge(s, v))
					return false;
				if (!rlw_next(s, pos)) {
					s->open = false;
					synced = false;
				}
			} else {
				s->a[s->na++] = pos;
				s->p[s->np++] = pos;
			}
		}
		/* A key lives at most W (+ 1 ms) from the hit that made it: after
		 * that long without a hit of this user, it is gone. */
		if (!s->open && member && (synced || r->start_us >= last_end + w + RL_EXPIRY_RESOLUTION_US)) {
			synced = true;
			rlw_open(s, pos);
		} else if (!s->open) {
			synced = false;
		}
		uint64_t end = r->done ? r->end_us : h->end_us;
		last_end = end > last_end ? end : last_end;
	}
	return !s->open || rlw_judge(s, v);
}

static uint64_t rl_major(const struct history *h, size_t i)
{
	return h->rl[i].user;
}

static uint64_t rl_minor(const struct history *h, size_t i)
{
	return h->rl[i].start_us;
}

bool inv_check_ratelimit_window(const struct history *h, struct inv_violation *v)
{
	/* INCR is not idempotent: a hit whose reply was lost cannot tell
	 * whether it was counted, and sending it again counts it twice. */
	if (h->rl_incr_again)
		return inv_violate(v, h->rl_incr_again_us, "user u%u: its key got more INCRs than "
		               "it had hits: a hit was counted twice", h->rl_incr_again_user);
	/* core/ratelimit.h: an empty or over-long user id is refused
	 * (RESULT_REJECT), never counted under a key of its own or a shared one. */
	if (h->rl_bad_counted > 0)
		return inv_violate(v, h->rl_bad_us, "%u hit(s) for user ids the API refuses (empty, "
		               "over %d octets, none) were answered as counted hits, not refused",
		               h->rl_bad_counted, RATELIMIT_USER_ID_MAX);
	if (h->rl_bad_keys > 0)
		return inv_violate(v, h->rl_bad_us, "%u Redis key(s) exist for user ids the API "
		               "refuses (empty, over %d octets, none)", h->rl_bad_keys,
		               RATELIMIT_USER_ID_MAX);
	for (size_t i = 0; i < h->nrl; i++) {
		const struct hist_rl_request *r = &h->rl[i];
		if (!r->done)
			continue;
		/* A request that met only a restarting Redis could not be
		 * counted: the policy alone decides it. */
		if (r->down_throughout && h->rl_fail_open && r->verdict != HIST_RL_ALLOW)
			return inv_violate(v, r->end_us, "user u%u was refused while Redis was down "
			               "although the policy is to fail open", r->user);
		if (r->down_throughout && !h->rl_fail_open && r->verdict == HIST_RL_ALLOW)
			return inv_violate(v, r->end_us, "user u%u was allowed while Redis was down "
			               "although the policy is to fail closed", r->user);
		/* The same when Redis answered, but the count failed (an error
		 * reply, LOADING, EXECABORT, a timeout): nothing was read. */
		if (r->count_failed && h->rl_fail_open && r->verdict == HIST_RL_REJECT)
			return inv_violate(v, r->end_us, "user u%u was refused although its hit could not "
			               "be counted and the policy is to fail open", r->user);
		if (r->count_failed && !h->rl_fail_open && r->verdict == HIST_RL_ALLOW)
			return inv_violate(v, r->end_us, "user u%u was allowed although its hit could not "
			               "be counted and the policy is to fail closed", r->user);
		if (r->verdict != HIST_RL_ERROR)
			continue;
		if (h->rl_fail_open)
			return inv_violate(v, r->end_us, "user u%u got an error although the policy is to "
			               "fail open (allow while Redis fails)", r->user);
		if (r->healthy)
			return inv_violate(v, r->end_us, "user u%u got an error while Redis was healthy",
			               r->user);
	}
	size_t *idx = inv_order_indices(h, h->nrl, rl_major, rl_minor);
	struct rlw s = {.h = h};
	size_t n = h->nrl ? h->nrl : 1;
	s.c = malloc(n * sizeof *s.c);
	s.p = malloc(n * sizeof *s.p);
	s.a = malloc(n * sizeof *s.a);
	ASSERT(s.c != NULL && s.p != NULL && s.a != NULL);
	bool ok = true;
	/* With P and A bounded by the window's requests, C, P and A never
	 * outgrow n. */
	for (size_t g = 0; g < h->nrl && ok;) {
		size_t e = g;
		while (e < h->nrl && h->rl[idx[e]].user == h->rl[idx[g]].user)
			e++;
		s.idx = idx + g;
		ok = rlw_user(&s, e - g, v);
		g = e;
	}
	free(s.c);
	free(s.p);
	free(s.a);
	free(idx);
	return ok;
}
