/* harness/invariant.c - runs the invariant checkers (one file per fix:
 * harness/invariant_*.c) and the two checked always. Pure functions over
 * struct history; no model, no scheduler. */
#include "harness/invariant.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/assert.h"

#include "harness/invariant_int.h"

bool inv_violate(struct inv_violation *v, uint64_t t_us, const char *fmt, ...)
{
	va_list ap;
	v->t_us = t_us;
	va_start(ap, fmt);
	vsnprintf(v->message, sizeof v->message, fmt, ap);
	va_end(ap);
	return false;
}

/* ---- ordering a history ------------------------------------------------- */

static const struct history *order_h;
static order_key_fn *order_major, *order_minor;

static int order_cmp(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	uint64_t x = order_major(order_h, i), y = order_major(order_h, j);
	if (x != y)
		return x < y ? -1 : 1;
	x = order_minor(order_h, i);
	y = order_minor(order_h, j);
	if (x != y)
		return x < y ? -1 : 1;
	return i < j ? -1 : i > j;
}

static void order_sort(const struct history *h, size_t *idx, size_t n, order_key_fn *major,
                       order_key_fn *minor)
{
	order_h = h;
	order_major = major;
	order_minor = minor;
	qsort(idx, n, sizeof *idx, order_cmp);
	order_h = NULL;
}

/* Indices 0..n-1 ordered by (major, minor, index); the caller frees them.
 * Histories are recorded in time order, so a stable counting sort on the
 * major key (a user or request number) is usually all it takes: O(n)
 * instead of a comparison sort, which was most of a run's checking time.
 * Each run of one major key is then checked, and sorted only when the
 * history was not in minor order (hand-made ones in tests). Major keys
 * too sparse to count fall back to the comparison sort. */
size_t *inv_order_indices(const struct history *h, size_t n, order_key_fn *major,
                             order_key_fn *minor)
{
	size_t *idx = malloc((n ? n : 1) * sizeof *idx);
	ASSERT(idx != NULL);
	uint64_t kmax = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t k = major(h, i);
		if (k > kmax)
			kmax = k;
	}
	if (n == 0 || kmax > 4 * (uint64_t)n + 1024) {
		for (size_t i = 0; i < n; i++)
			idx[i] = i;
		order_sort(h, idx, n, major, minor);
		return idx;
	}
	size_t nk = (size_t)kmax + 1;
	size_t *start = calloc(nk + 1, sizeof *start);
	ASSERT(start != NULL);
	for (size_t i = 0; i < n; i++)
		start[major(h, i) + 1]++;
	for (size_t k = 0; k < nk; k++)
		start[k + 1] += start[k];
	for (size_t i = 0; i < n; i++)
		idx[start[major(h, i)]++] = i;   /* start[k] ends as the end of run k */
	size_t from = 0;
	for (size_t k = 0; k < nk; k++) {
		size_t to = start[k];
		for (size_t j = from + 1; j < to; j++) {
			if (minor(h, idx[j - 1]) > minor(h, idx[j])) {
				order_sort(h, idx + from, to - from, major, minor);
				break;
			}
		}
		from = to;
	}
	free(start);
	return idx;
}

/* ---- always --------------------------------------------------------------- */

static bool check_no_unhandled(const struct history *h, struct inv_violation *v)
{
	if (h->unhandled > 0)
		return inv_violate(v, h->first_unhandled_us, "%llu unhandled error(s); first: %s",
		               (unsigned long long)h->unhandled, h->first_unhandled);
	return true;
}

static bool check_no_hung(const struct history *h, struct inv_violation *v)
{
	if (h->hung > 0)
		return inv_violate(v, h->first_hung_us, "%llu request(s) left without an answer past "
		               "their deadline; first: %s", (unsigned long long)h->hung,
		               h->first_hung);
	return true;
}

bool invariant_check(enum invariant_id inv, const struct history *h,
                     struct inv_violation *v)
{
	ASSERT(h != NULL && v != NULL);
	switch (inv) {
	case INV_EXACTLY_ONCE: return inv_check_exactly_once(h, v);
	case INV_EVENTUALLY_APPLIED: return inv_check_eventually_applied(h, v);
	case INV_NO_LOCKOUT: return inv_check_no_lockout(h, v);
	case INV_NO_FALSE_DUPLICATE: return inv_check_no_false_duplicate(h, v);
	case INV_DEDUP_EFFECTIVE: return inv_check_dedup_effective(h, v);
	case INV_NO_ORPHAN: return inv_check_no_orphan(h, v);
	case INV_EMAIL_SAFE: return inv_check_email_safe(h, v);
	case INV_NO_UNHANDLED: return check_no_unhandled(h, v);
	case INV_NO_HUNG: return check_no_hung(h, v);
	case INV_COUNT: break;
	}
	ASSERT(!"unknown invariant");
	return true;
}
