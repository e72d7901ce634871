/* harness/invariant_dedup.c - request de-duplication's contracts: no first request
 * rejected, and duplicates stopped while Redis is healthy. */
#include "harness/invariant.h"

#include <stdlib.h>

#include "harness/invariant_int.h"

/* ---- request-dedup ------------------------------------------------------ */

static uint64_t dd_major(const struct history *h, size_t i)
{
	return h->dd[i].request;
}

static uint64_t dd_minor(const struct history *h, size_t i)
{
	return h->dd[i].seq;
}

/* The copies' indices ordered by (request, seq): each request's copies form
 * one run, its first copy first. Caller frees. */
static size_t *dd_order(const struct history *h)
{
	return inv_order_indices(h, h->ndd, dd_major, dd_minor);
}

/* A copy may be rejected as a duplicate only when another copy of the same
 * request had claimed the key (its SET NX applied and answered OK) before
 * the rejection. A copy rejected after its own write, or after no write at
 * all (a timeout called "duplicate"), was rejected falsely. */
bool inv_check_no_false_duplicate(const struct history *h, struct inv_violation *v)
{
	size_t *idx = dd_order(h);
	bool ok = true;
	for (size_t g = 0; g < h->ndd && ok;) {
		size_t e = g;
		while (e < h->ndd && h->dd[idx[e]].request == h->dd[idx[g]].request)
			e++;
		for (size_t a = g; a < e && ok; a++) {
			const struct hist_dd_request *r = &h->dd[idx[a]];
			if (!r->done || !r->duplicate)
				continue;
			bool other_claimed = false;
			for (size_t b = g; b < e && !other_claimed; b++) {
				const struct hist_dd_request *o = &h->dd[idx[b]];
				other_claimed = b != a && o->claimed && o->claimed_us <= r->end_us;
			}
			if (!other_claimed)
				ok = inv_violate(v, r->end_us, "request req-%u was rejected as a duplicate "
				             "although no other copy had claimed it%s", r->request,
				             r->claimed ? " (its own write was mistaken for another's)"
				                        : "");
		}
		g = e;
	}
	free(idx);
	return ok;
}

bool inv_check_dedup_effective(const struct history *h, struct inv_violation *v)
{
	size_t *idx = dd_order(h);
	bool ok = true;
	for (size_t g = 0; g < h->ndd && ok;) {
		size_t e = g;
		while (e < h->ndd && h->dd[idx[e]].request == h->dd[idx[g]].request)
			e++;
		const struct hist_dd_request *first = &h->dd[idx[g]];
		for (size_t a = g + 1; a < e && ok; a++) {
			const struct hist_dd_request *r = &h->dd[idx[a]];
			if (!r->done || r->duplicate || !first->done)
				continue;
			if (first->duplicate || first->failed_open || r->failed_open || !r->healthy)
				continue;
			/* The first copy's key was written between its start and end
			 * and lives ttl from then: a copy entirely inside that span
			 * must see it. */
			if (r->start_us >= first->end_us && r->end_us < first->start_us + h->dd_ttl_us)
				ok = inv_violate(v, r->end_us, "a true duplicate of req-%u was accepted within "
				             "the TTL while Redis was healthy", r->request);
		}
		g = e;
	}
	free(idx);
	return ok;
}
