/* harness/invariant_common.c - what every checker uses: writing a violation and
 * ordering a history's entries (a stable counting sort on user or request). */
#include "harness/invariant.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/assert.h"

#include "harness/invariant_int.h"

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

/* ---- violations ------------------------------------------------------------ */

bool inv_violate(struct inv_violation *v, uint64_t t_us, const char *fmt, ...)
{
	va_list ap;
	v->t_us = t_us;
	va_start(ap, fmt);
	vsnprintf(v->message, sizeof v->message, fmt, ap);
	va_end(ap);
	return false;
}
