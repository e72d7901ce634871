/* reports/report_matrix.h - the fix x variant x invariant matrix as the
 * Markdown and HTML pages lay it out: columns are variants, rows are
 * (scenario, invariant) pairs grouped by scenario. Shared layout only;
 * each page draws the cells itself. */
#ifndef REPORTS_REPORT_MATRIX_H
#define REPORTS_REPORT_MATRIX_H

#include <stddef.h>

#include "core/result.h"
#include "reports/report.h"

#define REPORT_MATRIX_COLUMNS_MAX (REPORT_VARIANTS_MAX * 2u) /* listed + unlisted */

struct report_matrix_row {
	size_t result;      /* index of the first result holding this row */
	size_t invariant;   /* index of the invariant in that result */
	size_t group_size;  /* on a scenario's first row: its number of rows, else 0 */
};

struct report_matrix {
	const char *columns[REPORT_MATRIX_COLUMNS_MAX];  /* borrowed from the report */
	size_t ncolumns;
	struct report_matrix_row *rows;
	size_t nrows;
};

/* Lays out r's matrix: columns are the settings' variants, then any variant
 * a result uses that they do not list (in order of appearance); scenarios
 * in order of appearance, and within one its invariants in order of
 * appearance. m borrows r's strings: r must outlive it. */
MUST_USE enum result report_matrix_init(struct report_matrix *m, const struct report *r);
void report_matrix_fini(struct report_matrix *m);

#endif
