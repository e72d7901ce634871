/* reports/report_shard.c - the checks that make a merge of shards the
 * report of the whole run, and the seeds a time budget did not reach.
 * Reads the parts only; report_merge does the adding up. */
#include "reports/report_shard.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "reports/report_json.h"

#define REPORT_SHARD_LIST_MAX 20   /* shard numbers named in one message */

static bool str_same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Whether two reports would write the same report.json. */
static enum result report_same(const struct report *a, const struct report *b, bool *same)
{
	char *ta = NULL, *tb = NULL;
	char err[64];
	enum result rc = report_json_dump(a, &ta, err, sizeof err);
	if (rc == RESULT_OK)
		rc = report_json_dump(b, &tb, err, sizeof err);
	if (rc == RESULT_OK)
		*same = strcmp(ta, tb) == 0;
	free(ta);
	free(tb);
	return rc;
}

/* "3, 7 and 12" (at most REPORT_SHARD_LIST_MAX numbers, then "..."). */
static void shard_list(const unsigned char *seen, unsigned count, unsigned char want,
                       char *buf, size_t size)
{
	size_t used = 0, listed = 0;
	buf[0] = '\0';
	for (unsigned i = 1; i <= count && used < size; i++) {
		if (seen[i] != want)
			continue;
		int w = listed == REPORT_SHARD_LIST_MAX
		        ? snprintf(buf + used, size - used, ", ...")
		        : snprintf(buf + used, size - used, "%s%u", listed ? ", " : "", i);
		if (w < 0 || (size_t)w >= size - used)
			break;
		used += (size_t)w;
		if (++listed > REPORT_SHARD_LIST_MAX)
			break;
	}
}

enum result report_shards_check(struct report *const *parts, size_t n, bool *skip,
                                char *err, size_t errsize)
{
	ASSERT(parts != NULL);
	ASSERT(skip != NULL);
	ASSERT(n > 0);
	const struct report *first = parts[0];
	for (size_t p = 0; p < n; p++) {
		skip[p] = false;
		const struct report *r = parts[p];
		if (!str_same(r->tool_version, first->tool_version)) {
			snprintf(err, errsize, "part %zu: written by faultline %s, part 1 by %s "
			         "(merge reports of one version)", p + 1, r->tool_version,
			         first->tool_version);
			return RESULT_REJECT;
		}
		if (r->scenario_set != NULL && first->scenario_set != NULL &&
		    strcmp(r->scenario_set, first->scenario_set) != 0) {
			snprintf(err, errsize, "part %zu: scenario set %.12s differs from %.12s of "
			         "part 1 (runs of different scenario files do not add up)", p + 1,
			         r->scenario_set, first->scenario_set);
			return RESULT_REJECT;
		}
		if ((r->shard_count == 0) != (first->shard_count == 0)) {
			snprintf(err, errsize, "part %zu is %s, part 1 is %s: merge the shards of one "
			         "sharded run, or unsharded runs", p + 1,
			         r->shard_count ? "a shard" : "not sharded",
			         first->shard_count ? "a shard" : "not sharded");
			return RESULT_REJECT;
		}
		if (r->shard_count != first->shard_count) {
			snprintf(err, errsize, "part %zu is shard %u/%u, part 1 is of %u shards",
			         p + 1, r->shard_index, r->shard_count, first->shard_count);
			return RESULT_REJECT;
		}
	}
	unsigned count = first->shard_count;
	if (count == 0)
		return RESULT_OK;
	unsigned char *seen = calloc((size_t)count + 1, 1);
	size_t *owner = calloc((size_t)count + 1, sizeof *owner);
	enum result rc = seen != NULL && owner != NULL ? RESULT_OK : RESULT_NOMEM;
	if (rc != RESULT_OK)
		snprintf(err, errsize, "out of memory");
	for (size_t p = 0; p < n && rc == RESULT_OK; p++) {
		unsigned i = parts[p]->shard_index;
		ASSERT(i >= 1 && i <= count);
		if (!seen[i]) {
			seen[i] = 1;
			owner[i] = p;
			continue;
		}
		bool same = false;
		rc = report_same(parts[owner[i]], parts[p], &same);
		if (rc != RESULT_OK) {
			snprintf(err, errsize, "part %zu: cannot compare it with part %zu", p + 1,
			         owner[i] + 1);
		} else if (!same) {
			snprintf(err, errsize, "shard %u/%u is given twice (parts %zu and %zu) with "
			         "different results", i, count, owner[i] + 1, p + 1);
			rc = RESULT_REJECT;
		} else {
			skip[p] = true;   /* the same shard again: counted once */
		}
	}
	if (rc == RESULT_OK) {
		unsigned missing = 0;
		for (unsigned i = 1; i <= count; i++)
			missing += !seen[i];
		if (missing > 0) {
			char list[256];
			shard_list(seen, count, 0, list, sizeof list);
			snprintf(err, errsize, "%u of %u shards missing: %s %s (run them, or merge "
			         "what is there as its own run)", missing, count,
			         missing == 1 ? "shard" : "shards", list);
			rc = RESULT_REJECT;
		}
	}
	free(seen);
	free(owner);
	return rc;
}

size_t report_shards_gaps(struct report *const *parts, size_t n, const bool *skip,
                          struct textbuf *out)
{
	size_t lines = 0;
	for (size_t p = 0; p < n; p++) {
		const struct report *r = parts[p];
		if (skip != NULL && skip[p])
			continue;
		for (size_t k = 0; k < r->nresults; k++) {
			const struct report_result *res = &r->results[k];
			if (!report_result_incomplete(res))
				continue;
			uint64_t left = res->seeds_planned - res->seeds_run;
			unsigned stride = r->shard_count ? r->shard_count : 1;
			uint64_t last = res->seed_next + (left - 1) * stride;
			textbuf_printf(out, "not covered: %s / %s: seeds %llu..%llu", res->scenario,
			               res->variant, (unsigned long long)res->seed_next,
			               (unsigned long long)last);
			if (r->shard_count)
				textbuf_printf(out, " of shard %u/%u (%llu seeds, one in %u); rerun: "
				               "--shard %u/%u --seed-first %llu -n %llu\n",
				               r->shard_index, r->shard_count, (unsigned long long)left,
				               stride, r->shard_index, r->shard_count,
				               (unsigned long long)res->seed_next,
				               (unsigned long long)(last - res->seed_next + 1));
			else
				textbuf_printf(out, " (%llu seeds); rerun: --seed-first %llu -n %llu\n",
				               (unsigned long long)left,
				               (unsigned long long)res->seed_next,
				               (unsigned long long)left);
			lines++;
		}
	}
	return lines;
}
