/* reports/report_matrix.c - rows and columns of the report matrix, grouped
 * by scenario so that a page can span a scenario's name over its rows even
 * when the runner listed results variant by variant. */
#include "reports/report_matrix.h"

#include <stdlib.h>
#include <string.h>

#include "core/assert.h"

static void matrix_add_column(struct report_matrix *m, const char *v)
{
	for (size_t i = 0; i < m->ncolumns; i++) {
		if (strcmp(m->columns[i], v) == 0)
			return;
	}
	/* Cannot overflow: at most REPORT_VARIANTS_MAX listed, and the caller
	 * stops adding unlisted ones at the same number. */
	if (m->ncolumns < REPORT_MATRIX_COLUMNS_MAX)
		m->columns[m->ncolumns++] = v;
}

static bool matrix_scenario_seen(const struct report *r, size_t i)
{
	for (size_t j = 0; j < i; j++) {
		if (strcmp(r->results[j].scenario, r->results[i].scenario) == 0)
			return true;
	}
	return false;
}

/* True when rows[from..n) already hold invariant name. */
static bool matrix_row_present(const struct report_matrix *m, const struct report *r,
                               size_t from, const char *name)
{
	for (size_t k = from; k < m->nrows; k++) {
		const struct report_matrix_row *row = &m->rows[k];
		if (strcmp(r->results[row->result].invariants[row->invariant].name, name) == 0)
			return true;
	}
	return false;
}

enum result report_matrix_init(struct report_matrix *m, const struct report *r)
{
	ASSERT(m != NULL);
	ASSERT(r != NULL);
	memset(m, 0, sizeof *m);
	for (size_t i = 0; i < r->nvariants; i++)
		matrix_add_column(m, r->variants[i]);
	for (size_t i = 0; i < r->nresults; i++)
		matrix_add_column(m, r->results[i].variant);

	size_t cells = 0;
	for (size_t i = 0; i < r->nresults; i++)
		cells += r->results[i].ninvariants;
	m->rows = calloc(cells > 0 ? cells : 1, sizeof *m->rows);
	if (m->rows == NULL)
		return RESULT_NOMEM;
	for (size_t i = 0; i < r->nresults; i++) {
		if (matrix_scenario_seen(r, i))
			continue;
		size_t group = m->nrows;
		const char *scenario = r->results[i].scenario;
		for (size_t a = i; a < r->nresults; a++) {
			const struct report_result *res = &r->results[a];
			if (strcmp(res->scenario, scenario) != 0)
				continue;
			for (size_t b = 0; b < res->ninvariants; b++) {
				if (matrix_row_present(m, r, group, res->invariants[b].name))
					continue;
				ASSERT(m->nrows < cells);
				m->rows[m->nrows++] = (struct report_matrix_row){
					.result = a, .invariant = b,
				};
			}
		}
		if (m->nrows > group)
			m->rows[group].group_size = m->nrows - group;
	}
	return RESULT_OK;
}

void report_matrix_fini(struct report_matrix *m)
{
	if (m == NULL)
		return;
	free(m->rows);
	memset(m, 0, sizeof *m);
}
