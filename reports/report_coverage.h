/* reports/report_coverage.h - the coverage table per fix: the cells the
 * results of one fix (the `fix` of a result: "webhook", or several joined
 * with ',') reached, summed per variant over its scenarios, with the cells
 * a scenario declared and no seed of that variant reached marked. The
 * Markdown and HTML writers render it. */
#ifndef REPORTS_REPORT_COVERAGE_H
#define REPORTS_REPORT_COVERAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/result.h"
#include "reports/report.h"

/* Columns per table; a further variant adds to the last column, which is
 * then titled "others". */
#define REPORT_COV_COLUMNS 8

enum report_cov_state {
	REPORT_COV_ABSENT,      /* no result of this variant lists the cell */
	REPORT_COV_REACHED,
	REPORT_COV_NEVER,       /* declared, and no seed reached it */
};

struct report_cov_row {
	const char *cell;                     /* borrowed from the report */
	uint64_t count[REPORT_COV_COLUMNS];
	enum report_cov_state state[REPORT_COV_COLUMNS];
	bool never;                           /* some column is REPORT_COV_NEVER */
};

struct report_cov_table {
	const char *fix;                      /* borrowed */
	const char *column[REPORT_COV_COLUMNS]; /* variant names, borrowed */
	size_t ncolumns;
	bool others;                          /* the last column sums several */
	struct report_cov_row *rows;          /* sorted by cell */
	size_t nrows;
	size_t never;                         /* rows with a never-reached cell */
};

/* The tables of r, in the order fixes first appear in its results; none
 * (*n == 0) when no result counted coverage. Free with
 * report_coverage_tables_free. RESULT_NOMEM when out of memory. */
MUST_USE enum result report_coverage_tables(const struct report *r,
                                            struct report_cov_table **out, size_t *n);
void report_coverage_tables_free(struct report_cov_table *t, size_t n);

#endif
