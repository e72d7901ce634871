/* harness/invariant_dedup.c - request de-duplication's contracts: no first request
 * rejected (a repeat after the TTL is a first request again), and duplicates
 * stopped while Redis is healthy and counted when they slip through. */
#include "harness/invariant.h"

#include <stdlib.h>

#include "core/dedup.h"

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

/* Redis keeps expiry times in whole milliseconds and deletes a key once the
 * clock has passed its time: a key may outlive its TTL by up to 1 ms. */
#define DD_EXPIRY_RESOLUTION_US 1000

#define DD_RESTARTS_KEPT (sizeof ((struct history *)0)->redis_restart_us / sizeof (uint64_t))

static bool dd_restart_between(const struct history *h, uint64_t from_us, uint64_t to_us)
{
	for (uint32_t i = 0; i < h->nredis_restarts && i < DD_RESTARTS_KEPT; i++) {
		if (h->redis_restart_us[i] >= from_us && h->redis_restart_us[i] <= to_us)
			return true;
	}
	return false;
}

/* A copy may be rejected as a duplicate only when another copy of the same
 * request had claimed the key (its SET NX applied and answered OK) before
 * the rejection, and that claim had not expired when the copy arrived. A
 * copy rejected after its own write, after no write at all (a timeout
 * called "duplicate"), or after every claim had expired, was rejected
 * falsely; so was a copy refused outright (its key judged invalid). */
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
			if (r->done && r->bad_key && !r->refused) {
				ok = inv_violate(v, r->end_us, "request bad-%u, whose key is %s, was answered "
				             "%s: a key the contract refuses was de-duplicated",
				             r->request, r->request % 2 == 0 ? "empty" : "over 200 octets",
				             r->duplicate ? "duplicate" : "new");
				break;
			}
			if (r->done && r->refused_as_duplicate) {
				ok = inv_violate(v, r->end_us, "request %s-%u was refused with the verdict "
				             "duplicate (a refused key's verdict is new: a caller reading "
				             "the verdict first would turn it away as a repeat)",
				             r->bad_key ? "bad" : "req", r->request);
				break;
			}
			if (r->done && r->refused && !r->bad_key) {
				ok = inv_violate(v, r->end_us, "request req-%u was refused: its key was "
				             "judged invalid", r->request);
				break;
			}
			if (!r->done || !r->duplicate)
				continue;
			bool other_claimed = false, expired = false;
			for (size_t b = g; b < e && !other_claimed; b++) {
				const struct hist_dd_request *o = &h->dd[idx[b]];
				if (b == a || !o->claimed || o->claimed_us > r->end_us)
					continue;
				if (r->start_us >= o->claimed_us + h->dd_ttl_us + DD_EXPIRY_RESOLUTION_US)
					expired = true;
				else
					other_claimed = true;
			}
			if (!other_claimed)
				ok = inv_violate(v, r->end_us, "request req-%u was rejected as a duplicate "
				             "although %s%s", r->request,
				             expired ? "the TTL of every earlier claim had passed"
				                     : "no other copy had claimed it",
				             r->claimed ? " (its own write was mistaken for another's)"
				                        : "");
		}
		g = e;
	}
	free(idx);
	return ok;
}

/* A true duplicate within the TTL is rejected while Redis is healthy; and
 * whatever Redis does, a copy answered "new" without failing open holds the
 * key (its own SET NX was applied): a duplicate let through is always one
 * the check owned up to, so the count of them is complete. */
bool inv_check_dedup_effective(const struct history *h, struct inv_violation *v)
{
	for (size_t i = 0; i < h->ndd; i++) {
		const struct hist_dd_request *r = &h->dd[i];
		/* failed_open says Redis did not confirm: counted as a duplicate
		 * let through, it must not be claimed of a confirmed request. */
		if (r->done && r->failed_open && r->set_ok)
			return inv_violate(v, r->end_us, "a copy of req-%u failed open although Redis "
			               "answered its SET OK", r->request);
		/* core/dedup.h: one SET, and once more after a timeout; more
		 * only adds a client deadline of waiting per failure. */
		if (r->sets > 1 + DEDUP_RETRIES_MAX)
			return inv_violate(v, r->end_us, "a copy of req-%u sent its SET %u times, over "
			               "its budget of %d", r->request, r->sets, 1 + DEDUP_RETRIES_MAX);
		if (r->done && !r->duplicate && !r->refused && !r->failed_open && !r->claimed)
			return inv_violate(v, r->end_us, "a copy of req-%u was answered new without "
			               "holding the key and without failing open: a duplicate let "
			               "through uncounted", r->request);
	}
	size_t *idx = dd_order(h);
	bool ok = true;
	for (size_t g = 0; g < h->ndd && ok;) {
		size_t e = g;
		while (e < h->ndd && h->dd[idx[e]].request == h->dd[idx[g]].request)
			e++;
		/* SET ... NX: while one copy's claim lives, no other copy's SET
		 * writes the key; one that did overwrote a live claim, and its
		 * "new" is a duplicate let through uncounted. (A restart of Redis
		 * in between may have lost the claim.) */
		for (size_t a = g; a < e && ok && h->nredis_restarts <= DD_RESTARTS_KEPT; a++) {
			const struct hist_dd_request *r = &h->dd[idx[a]];
			for (size_t b = g; b < e && ok && r->claimed; b++) {
				const struct hist_dd_request *o = &h->dd[idx[b]];
				if (b != a && o->claimed && o->claimed_us < r->claimed_us &&
				    r->claimed_us + DD_EXPIRY_RESOLUTION_US < o->claimed_us + h->dd_ttl_us &&
				    !dd_restart_between(h, o->claimed_us, r->claimed_us))
					ok = inv_violate(v, r->claimed_us, "two copies of req-%u wrote its key "
					             "within the TTL: the second overwrote a live claim",
					             r->request);
			}
		}
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
