/* reports/report_coverage.c - the coverage table per fix (report_coverage.h). */
#include "reports/report_coverage.h"

#include <stdlib.h>
#include <string.h>

#include "core/assert.h"

static size_t cov_column(struct report_cov_table *t, const char *variant)
{
	for (size_t c = 0; c < t->ncolumns; c++) {
		if (strcmp(t->column[c], variant) == 0)
			return c;
	}
	if (t->ncolumns < REPORT_COV_COLUMNS) {
		t->column[t->ncolumns] = variant;
		return t->ncolumns++;
	}
	t->others = true;
	return REPORT_COV_COLUMNS - 1;
}

static struct report_cov_row *cov_row(struct report_cov_table *t, const char *cell, size_t *cap)
{
	for (size_t k = 0; k < t->nrows; k++) {
		if (strcmp(t->rows[k].cell, cell) == 0)
			return &t->rows[k];
	}
	if (t->nrows == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct report_cov_row *rows = realloc(t->rows, ncap * sizeof *rows);
		if (rows == NULL)
			return NULL;
		t->rows = rows;
		*cap = ncap;
	}
	struct report_cov_row *row = &t->rows[t->nrows++];
	memset(row, 0, sizeof *row);
	row->cell = cell;
	return row;
}

static int cov_row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct report_cov_row *)a)->cell,
	              ((const struct report_cov_row *)b)->cell);
}

/* Adds one result's cells to its fix's table. */
static bool cov_add(struct report_cov_table *t, size_t *cap, const struct report_result *res)
{
	size_t c = cov_column(t, res->variant);
	for (size_t k = 0; k < res->ncoverage; k++) {
		struct report_cov_row *row = cov_row(t, res->coverage[k].name, cap);
		if (row == NULL)
			return false;
		row->count[c] += res->coverage[k].count;
		/* A declared cell is listed with 0: it stays "never" only while
		 * no scenario of this variant reached it. */
		row->state[c] = row->count[c] > 0 ? REPORT_COV_REACHED : REPORT_COV_NEVER;
	}
	return true;
}

enum result report_coverage_tables(const struct report *r, struct report_cov_table **out,
                                   size_t *n)
{
	ASSERT(r != NULL && out != NULL && n != NULL);
	*out = NULL;
	*n = 0;
	struct report_cov_table *t = calloc(r->nresults ? r->nresults : 1, sizeof *t);
	size_t *cap = calloc(r->nresults ? r->nresults : 1, sizeof *cap);
	if (t == NULL || cap == NULL) {
		free(t);
		free(cap);
		return RESULT_NOMEM;
	}
	size_t nt = 0;
	for (size_t i = 0; i < r->nresults; i++) {
		const struct report_result *res = &r->results[i];
		if (res->ncoverage == 0)
			continue;
		size_t j = 0;
		while (j < nt && strcmp(t[j].fix, res->fix) != 0)
			j++;
		if (j == nt)
			t[nt++].fix = res->fix;
		if (!cov_add(&t[j], &cap[j], res)) {
			free(cap);
			report_coverage_tables_free(t, nt);
			return RESULT_NOMEM;
		}
	}
	free(cap);
	for (size_t j = 0; j < nt; j++) {
		qsort(t[j].rows, t[j].nrows, sizeof *t[j].rows, cov_row_cmp);
		for (size_t k = 0; k < t[j].nrows; k++) {
			struct report_cov_row *row = &t[j].rows[k];
			for (size_t c = 0; c < t[j].ncolumns; c++)
				row->never = row->never || row->state[c] == REPORT_COV_NEVER;
			t[j].never += row->never;
		}
	}
	if (nt == 0) {
		free(t);
		return RESULT_OK;
	}
	*out = t;
	*n = nt;
	return RESULT_OK;
}

void report_coverage_tables_free(struct report_cov_table *t, size_t n)
{
	for (size_t j = 0; t != NULL && j < n; j++)
		free(t[j].rows);
	free(t);
}
