/* reports/report_traces.c - carries the failing-seed traces over into a
 * merged report directory. A trace's name is the part's trace_file with the
 * seed changed: "traces/NAME-VARIANT-seed<N>.jsonl". */
#include "reports/report_traces.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "reports/report_files.h"

/* The length of "traces/NAME-VARIANT-seed" in a trace file name, or 0 when
 * the name does not end in seed<digits>.jsonl. */
static size_t trace_prefix_len(const char *name)
{
	const char *ext = ".jsonl";
	size_t n = strlen(name), e = strlen(ext);
	if (n <= e || strcmp(name + n - e, ext) != 0)
		return 0;
	size_t d = n - e;
	while (d > 0 && name[d - 1] >= '0' && name[d - 1] <= '9')
		d--;
	if (d == n - e || d < 4 || strncmp(name + d - 4, "seed", 4) != 0)
		return 0;
	return d;
}

static const struct report_invariant *part_first(const struct report_result *res,
                                                 const struct report_invariant *inv)
{
	const struct report_invariant *pi = report_result_find_invariant(res, inv->name);
	return pi != NULL && pi->has_first_seed && pi->first_seed == inv->first_seed ? pi : NULL;
}

/* Copies dir/rel to out_dir/rel; false (and a warning) when dir/rel is not
 * there. */
static enum result trace_copy(const char *dir, const char *out_dir, const char *rel,
                              struct textbuf *warn, bool *copied, char *err, size_t errsize)
{
	char src[REPORT_PATH_MAX], dst[REPORT_PATH_MAX], tdir[REPORT_PATH_MAX];
	*copied = false;
	if ((size_t)snprintf(src, sizeof src, "%s/%s", dir, rel) >= sizeof src ||
	    (size_t)snprintf(dst, sizeof dst, "%s/%s", out_dir, rel) >= sizeof dst ||
	    (size_t)snprintf(tdir, sizeof tdir, "%s", dst) >= sizeof tdir) {
		snprintf(err, errsize, "%s/%s: path too long", out_dir, rel);
		return RESULT_ERROR;
	}
	char *data = NULL;
	size_t len = 0;
	char why[512];
	if (report_file_read(src, REPORT_TRACE_MAX, &data, &len, why, sizeof why) != RESULT_OK) {
		textbuf_printf(warn, "trace not copied: %s\n", why);
		return RESULT_OK;
	}
	if (strcmp(src, dst) == 0) {       /* merged into a part's own directory */
		free(data);
		*copied = true;
		return RESULT_OK;
	}
	char *slash = strrchr(tdir, '/');
	if (slash != NULL)
		*slash = '\0';
	enum result rc = report_dir_make(tdir, err, errsize);
	if (rc == RESULT_OK)
		rc = report_file_write(dst, data, len, err, errsize);
	free(data);
	*copied = rc == RESULT_OK;
	return rc;
}

enum result report_traces_merge(struct report *merged, struct report *const *parts,
                                const char *const *dirs, const bool *skip, size_t n,
                                const char *out_dir, struct textbuf *warn, char *err,
                                size_t errsize)
{
	ASSERT(merged != NULL);
	ASSERT(parts != NULL && dirs != NULL);
	for (size_t k = 0; k < merged->nresults; k++) {
		struct report_result *m = &merged->results[k];
		bool named = false;
		for (size_t i = 0; i < m->ninvariants; i++) {
			const struct report_invariant *inv = &m->invariants[i];
			if (!inv->has_first_seed)
				continue;
			for (size_t p = 0; p < n; p++) {
				if (skip != NULL && skip[p])
					continue;
				const struct report_result *pr =
					report_find_result(parts[p], m->scenario, m->variant);
				if (pr == NULL || pr->trace_file == NULL || part_first(pr, inv) == NULL)
					continue;
				size_t plen = trace_prefix_len(pr->trace_file);
				if (plen == 0)
					continue;
				char rel[REPORT_PATH_MAX];
				snprintf(rel, sizeof rel, "%.*s%llu.jsonl", (int)plen, pr->trace_file,
				         (unsigned long long)inv->first_seed);
				bool copied;
				enum result rc = trace_copy(dirs[p], out_dir, rel, warn, &copied, err,
				                            errsize);
				if (rc != RESULT_OK)
					return rc;
				if (copied && !named) {
					/* one run names its first violated invariant's trace */
					if (report_result_set_trace_file(m, rel) != RESULT_OK) {
						snprintf(err, errsize, "out of memory");
						return RESULT_NOMEM;
					}
					named = true;
				}
				break;
			}
		}
	}
	return RESULT_OK;
}
