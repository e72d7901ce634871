/* reports/report_md.c - report.md for a CI summary page (GitHub's step
 * summary, GitLab's). Symbols carry words beside them so the page reads
 * without colour. User text is escaped for CommonMark and GFM tables;
 * replay commands go in fences longer than any backtick run they hold. */
#include "reports/report_md.h"
#include "reports/report_coverage.h"

#include <string.h>

#include "core/assert.h"
#include "reports/report_files.h"
#include "reports/report_matrix.h"

/* Inline text: one line, Markdown and HTML characters escaped, controls
 * turned into spaces, so it cannot leave its table cell or paragraph. */
static void md_put_text(struct textbuf *out, const char *s)
{
	if (s == NULL)
		return;
	static const char special[] = "\\`*_[]<>|~&";
	/* Bounded by the string's length. */
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7F) {
			textbuf_put(out, " ");
		} else if (strchr(special, c) != NULL) {
			char esc[3] = {'\\', (char)c, '\0'};
			textbuf_put(out, esc);
		} else {
			textbuf_putn(out, p, 1);
		}
	}
}

/* A fenced code block holding s verbatim (controls other than tab and line
 * feed dropped). */
static void md_put_code_block(struct textbuf *out, const char *lang, const char *s)
{
	size_t run = 0, longest = 0;
	for (const char *p = s; *p != '\0'; p++) {
		run = *p == '`' ? run + 1 : 0;
		if (run > longest)
			longest = run;
	}
	size_t fence = longest >= 3 ? longest + 1 : 3;
	for (size_t i = 0; i < fence; i++)
		textbuf_put(out, "`");
	textbuf_printf(out, "%s\n", lang);
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c >= 0x20 || c == '\t' || c == '\n')
			textbuf_putn(out, p, 1);
	}
	textbuf_put(out, "\n");
	for (size_t i = 0; i < fence; i++)
		textbuf_put(out, "`");
	textbuf_put(out, "\n\n");
}

static void md_cell(struct textbuf *out, const struct report *r, const char *scenario,
                    const char *variant, const char *invariant)
{
	const struct report_result *res = report_find_result(r, scenario, variant);
	const struct report_invariant *inv =
		res != NULL ? report_result_find_invariant(res, invariant) : NULL;
	if (inv == NULL) {
		textbuf_put(out, " — not run |");
		return;
	}
	switch (report_cell_of(res, inv)) {
	case REPORT_CELL_HELD:
		textbuf_put(out, " ✅ held |");
		break;
	case REPORT_CELL_VIOLATED:
		textbuf_printf(out, " ❌ violated %llu/%llu |",
		               (unsigned long long)inv->violations,
		               (unsigned long long)res->seeds_run);
		break;
	case REPORT_CELL_NOT_EXERCISED:
		textbuf_put(out, " ⚪ not exercised |");
		break;
	}
}

static enum result md_matrix(struct textbuf *out, const struct report *r)
{
	struct report_matrix m;
	if (report_matrix_init(&m, r) != RESULT_OK)
		return RESULT_NOMEM;
	textbuf_put(out, "| Fix | Scenario | Invariant |");
	for (size_t c = 0; c < m.ncolumns; c++) {
		textbuf_put(out, " ");
		md_put_text(out, m.columns[c]);
		textbuf_put(out, " |");
	}
	textbuf_put(out, "\n|---|---|---|");
	for (size_t c = 0; c < m.ncolumns; c++)
		textbuf_put(out, "---|");
	textbuf_put(out, "\n");
	for (size_t k = 0; k < m.nrows; k++) {
		const struct report_result *res = &r->results[m.rows[k].result];
		const char *name = res->invariants[m.rows[k].invariant].name;
		textbuf_put(out, "|");
		/* A scenario's name and fix on its first row only: easier to scan. */
		if (m.rows[k].group_size > 0) {
			textbuf_put(out, " ");
			md_put_text(out, res->fix);
			textbuf_put(out, " | ");
			md_put_text(out, res->scenario);
			textbuf_put(out, " |");
		} else {
			textbuf_put(out, " | |");
		}
		textbuf_put(out, " ");
		md_put_text(out, name);
		textbuf_put(out, " |");
		for (size_t c = 0; c < m.ncolumns; c++)
			md_cell(out, r, res->scenario, m.columns[c], name);
		textbuf_put(out, "\n");
	}
	report_matrix_fini(&m);
	textbuf_put(out, "\nLegend: ✅ held in every seed · ❌ violated in N of M seeds · "
	            "⚪ not exercised (no fault fired, no race happened) · — not run\n\n");
	return RESULT_OK;
}

static void md_violation(struct textbuf *out, const struct report_result *res,
                         const struct report_invariant *inv)
{
	textbuf_put(out, "### ❌ ");
	md_put_text(out, inv->name);
	textbuf_put(out, " — ");
	md_put_text(out, res->scenario);
	textbuf_put(out, " / ");
	md_put_text(out, res->variant);
	textbuf_printf(out, "\n\nViolated in %llu of %llu seeds (seeds %llu–%llu).",
	               (unsigned long long)inv->violations,
	               (unsigned long long)res->seeds_run,
	               (unsigned long long)res->seed_min,
	               (unsigned long long)res->seed_max);
	if (inv->has_first_seed) {
		textbuf_printf(out, " First failing seed **%llu** at t = ",
		               (unsigned long long)inv->first_seed);
		textbuf_put_time_us(out, inv->first_time_us);
		textbuf_put(out, ".");
	}
	textbuf_put(out, "\n\n");
	if (inv->message != NULL) {
		textbuf_put(out, "> ");
		md_put_text(out, inv->message);
		textbuf_put(out, "\n\n");
	}
	if (inv->replay != NULL)
		md_put_code_block(out, "sh", inv->replay);
	if (inv->shrunk_file != NULL) {
		textbuf_put(out, "Shrunk: ");
		md_put_text(out, inv->shrunk_file);
		textbuf_put(out, " (the smallest scenario that fails the same way)\n\n");
	}
	if (res->trace_file != NULL) {
		textbuf_put(out, "Trace: ");
		md_put_text(out, res->trace_file);
		textbuf_put(out, "\n\n");
	}
}

/* One fix's table: a column per variant, summed over its scenarios; a
 * row with a declared cell never reached is marked. */
static void md_coverage_table(struct textbuf *out, const struct report_cov_table *t)
{
	textbuf_put(out, "### ");
	md_put_text(out, t->fix);
	textbuf_printf(out, ": %zu %s", t->nrows, t->nrows == 1 ? "cell" : "cells");
	if (t->never > 0)
		textbuf_printf(out, ", **%zu never reached**", t->never);
	textbuf_put(out, "\n\n| cell |");
	for (size_t c = 0; c < t->ncolumns; c++) {
		textbuf_put(out, " ");
		md_put_text(out, t->others && c + 1 == t->ncolumns ? "others" : t->column[c]);
		textbuf_put(out, " |");
	}
	textbuf_put(out, "\n|---|");
	for (size_t c = 0; c < t->ncolumns; c++)
		textbuf_put(out, "---:|");
	textbuf_put(out, "\n");
	for (size_t k = 0; k < t->nrows; k++) {
		const struct report_cov_row *row = &t->rows[k];
		textbuf_put(out, row->never ? "| **`" : "| `");
		md_put_text(out, row->cell);
		textbuf_put(out, row->never ? "`** |" : "` |");
		for (size_t c = 0; c < t->ncolumns; c++) {
			if (row->state[c] == REPORT_COV_NEVER)
				textbuf_put(out, " **never reached** |");
			else if (row->state[c] == REPORT_COV_ABSENT)
				textbuf_put(out, " · |");
			else
				textbuf_printf(out, " %llu |", (unsigned long long)row->count[c]);
		}
		textbuf_put(out, "\n");
	}
	textbuf_put(out, "\n");
}

/* Coverage: per result, the cells it reached; a declared cell never
 * reached is named in the summary line and marked in its row. */
static void md_coverage(struct textbuf *out, const struct report *r)
{
	bool any = false;
	for (size_t i = 0; i < r->nresults && !any; i++)
		any = r->results[i].ncoverage > 0;
	if (!any)
		return;
	textbuf_put(out, "## Coverage\n\nHow often each fault fired (`target.op:kind`), each "
	                 "server answer was given (`target.op=class`), and each declared outcome "
	                 "was reached, over all seeds.\n\n");
	struct report_cov_table *t;
	size_t nt;
	if (report_coverage_tables(r, &t, &nt) == RESULT_OK) {
		for (size_t j = 0; j < nt; j++)
			md_coverage_table(out, &t[j]);
		report_coverage_tables_free(t, nt);
	}
	textbuf_put(out, "### By result\n\n");
	for (size_t i = 0; i < r->nresults; i++) {
		const struct report_result *res = &r->results[i];
		if (res->ncoverage == 0)
			continue;
		size_t never = 0;
		for (size_t k = 0; k < res->ncoverage; k++)
			never += res->coverage[k].count == 0;
		textbuf_put(out, "<details><summary>");
		md_put_text(out, res->scenario);
		textbuf_put(out, " · ");
		md_put_text(out, res->variant);
		textbuf_printf(out, ": %zu %s", res->ncoverage, res->ncoverage == 1 ? "cell" : "cells");
		if (never > 0)
			textbuf_printf(out, ", **%zu never reached**", never);
		textbuf_put(out, "</summary>\n\n| cell | reached |\n|---|---:|\n");
		for (size_t k = 0; k < res->ncoverage; k++) {
			textbuf_put(out, "| `");
			md_put_text(out, res->coverage[k].name);
			if (res->coverage[k].count == 0)
				textbuf_put(out, "` | **never reached** |\n");
			else
				textbuf_printf(out, "` | %llu |\n",
				               (unsigned long long)res->coverage[k].count);
		}
		textbuf_put(out, "\n</details>\n\n");
	}
}

enum result report_format_md(const struct report *r, struct textbuf *out)
{
	ASSERT(r != NULL);
	ASSERT(out != NULL);
	struct report_summary s;
	report_summarize(r, &s);
	uint64_t cells = s.invariants_held + s.invariants_violated + s.invariants_not_exercised;
	ASSERT(r->verdict_set);
	textbuf_printf(out, "# %s %s%s: ", r->pass ? "✅" : "❌", r->matrix ? "Matrix " : "",
	               r->pass ? (r->matrix ? "passes" : "Passes") : (r->matrix ? "fails" : "Fails"));
	md_put_text(out, r->headline);
	textbuf_put(out, "\n\n");
	if (r->nreasons > 0) {
		textbuf_printf(out, "The verdict fails for %zu %s:\n\n", r->nreasons,
		               r->nreasons == 1 ? "reason" : "reasons");
		for (size_t i = 0; i < r->nreasons; i++) {
			textbuf_put(out, "- ");
			md_put_text(out, r->reasons[i].text);
			textbuf_put(out, "\n");
		}
		textbuf_put(out, "\n");
	}
	if (r->matrix)
		textbuf_printf(out, "Every scenario ran under every variant; %llu of %llu "
		               "invariant checks were violated (legacy and seed violations are "
		               "expected: the matrix is meant to expose them).\n\n",
		               (unsigned long long)s.invariants_violated, (unsigned long long)cells);
	else
		textbuf_printf(out, "%llu of %llu invariant checks violated, %llu held.\n\n",
		               (unsigned long long)s.invariants_violated, (unsigned long long)cells,
		               (unsigned long long)s.invariants_held);
	textbuf_put(out, "faultline ");
	md_put_text(out, r->tool_version);
	textbuf_put(out, " · ");
	md_put_text(out, r->mode);
	textbuf_printf(out, " run · %llu %s · %llu %s", (unsigned long long)s.results,
	               s.results == 1 ? "result" : "results", (unsigned long long)s.seeds_run,
	               s.seeds_run == 1 ? "seed" : "seeds");
	if (s.invariants_not_exercised > 0)
		textbuf_printf(out, " · not exercised: %llu",
		               (unsigned long long)s.invariants_not_exercised);
	if (r->determinism_checked)
		textbuf_printf(out, " · determinism checked: %llu %s",
		               (unsigned long long)r->determinism_mismatches,
		               r->determinism_mismatches == 1 ? "mismatch" : "mismatches");
	textbuf_put(out, "\n\n## Matrix\n\n");
	if (md_matrix(out, r) != RESULT_OK)
		return RESULT_NOMEM;
	if (s.invariants_violated > 0) {
		textbuf_put(out, "## Violations\n\n");
		for (size_t i = 0; i < r->nresults; i++) {
			const struct report_result *res = &r->results[i];
			for (size_t j = 0; j < res->ninvariants; j++) {
				if (res->invariants[j].violations > 0)
					md_violation(out, res, &res->invariants[j]);
			}
		}
	}
	md_coverage(out, r);
	return out->failed ? RESULT_NOMEM : RESULT_OK;
}

enum result report_write_md(const struct report *r, const char *path, char *err,
                            size_t errsize)
{
	struct textbuf tb;
	textbuf_init(&tb);
	enum result rc = report_format_md(r, &tb);
	if (rc == RESULT_OK || rc == RESULT_NOMEM)
		rc = report_file_write_text(path, &tb, err, errsize);
	textbuf_fini(&tb);
	return rc;
}
