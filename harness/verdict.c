/* harness/verdict.c - the one judge of a run: pass or fail and every reason,
 * from the rows the runner (or a merged report) gives. Prints nothing and
 * writes no file; the commands and the reports show what it decided. */
#include "harness/verdict.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "harness/runner.h"

static const char *const verdict_kind_names[VERDICT_KIND_COUNT] = {
	"violated", "not-exercised", "not-caught", "determinism",
};

const char *verdict_kind_name(enum verdict_kind k)
{
	ASSERT(k >= 0 && k < VERDICT_KIND_COUNT);
	return verdict_kind_names[k];
}

bool verdict_invariant_of_fix(enum invariant_id inv, enum fix_id f)
{
	switch (inv) {
	case INV_EXACTLY_ONCE:
	case INV_EVENTUALLY_APPLIED:
	case INV_SIGNATURE_SOUND:
	case INV_WEBHOOK_ACK: return f == FIX_WEBHOOK;
	case INV_NO_LOCKOUT:
	case INV_RATELIMIT_WINDOW: return f == FIX_RATELIMIT;
	case INV_NO_FALSE_DUPLICATE:
	case INV_DEDUP_EFFECTIVE: return f == FIX_DEDUP;
	case INV_NO_ORPHAN:
	case INV_CUSTOMER_LIVENESS: return f == FIX_CUSTOMER;
	case INV_EMAIL_SAFE: return f == FIX_QUOTE_EMAIL;
	default: return true;
	}
}

void verdict_row_of_result(const struct runner_result *r, struct verdict_row *out)
{
	ASSERT(r != NULL);
	ASSERT(out != NULL);
	memset(out, 0, sizeof *out);
	snprintf(out->scenario, sizeof out->scenario, "%s", r->sc->name);
	variant_set_format(&r->vs, r->sc, out->variant, sizeof out->variant);
	out->fixes = r->sc->fixes;
	out->uniform = -1;
	for (int f = 0; f < FIX_COUNT; f++) {
		if (!(r->sc->fixes & (1u << f)))
			continue;
		if (out->uniform == -1)
			out->uniform = (int)r->vs.v[f];
		else if (out->uniform != (int)r->vs.v[f])
			out->uniform = -2;
	}
	if (out->uniform == -2)
		out->uniform = -1;
	out->checked = r->checked;
	out->violated = r->violated;
	out->exercised = r->exercised;
	out->determinism_mismatches = r->determinism_mismatches;
}

static void verdict_add(struct verdict *v, size_t cap, enum verdict_kind kind, size_t row,
                        int inv, int fix, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

static void verdict_add(struct verdict *v, size_t cap, enum verdict_kind kind, size_t row,
                        int inv, int fix, const char *fmt, ...)
{
	ASSERT(v->nreasons < cap);
	struct verdict_reason *r = &v->reasons[v->nreasons++];
	r->kind = kind;
	r->row = row;
	r->invariant = inv;
	r->fix = fix;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof r->text, fmt, ap);
	va_end(ap);
}

/* The reasons one row gives: in a run every row must hold, in a matrix only
 * the hardened ones (legacy and seed are there to break). */
static void verdict_judge_row(struct verdict *v, size_t cap, const struct verdict_row *row,
                              size_t i)
{
	bool must_hold = !v->matrix || row->uniform == VARIANT_HARDENED;
	if (must_hold) {
		for (int k = 0; k < INV_COUNT; k++) {
			if (row->checked & (1u << k))
				v->checks++;
			if (row->violated & (1u << k))
				verdict_add(v, cap, VERDICT_VIOLATED, i, k, -1, "%s violated %s in %s",
				            row->variant, invariant_name((enum invariant_id)k),
				            row->scenario);
		}
		if (!row->exercised)
			verdict_add(v, cap, VERDICT_NOT_EXERCISED, i, -1, -1, "%s not exercised in %s",
			            row->variant, row->scenario);
	}
	if (row->determinism_mismatches)
		verdict_add(v, cap, VERDICT_DETERMINISM, i, -1, -1,
		            "determinism self-check failed in %s under %s", row->scenario,
		            row->variant);
}

/* Matrix: every fix a scenario names must have its legacy bug caught. */
static void verdict_judge_fixes(struct verdict *v, size_t cap, const struct verdict_row *rows,
                                size_t n)
{
	for (int f = 0; f < FIX_COUNT; f++) {
		bool named = false, caught = false;
		for (size_t i = 0; i < n; i++) {
			if (!(rows[i].fixes & (1u << f)))
				continue;
			named = true;
			if (rows[i].uniform != VARIANT_LEGACY)
				continue;
			for (int k = 0; k < INV_COUNT; k++) {
				if ((rows[i].violated & (1u << k)) &&
				    verdict_invariant_of_fix((enum invariant_id)k, (enum fix_id)f))
					caught = true;
			}
		}
		if (!named)
			continue;
		v->fixes_judged |= 1u << f;
		if (!caught)
			verdict_add(v, cap, VERDICT_NOT_CAUGHT, SIZE_MAX, -1, f, "legacy %s never caught",
			            fix_name((enum fix_id)f));
	}
}

static void verdict_headline(struct verdict *v)
{
	if (!v->pass) {
		ASSERT(v->nreasons > 0);
		char more[48] = "";
		if (v->nreasons > 1)
			snprintf(more, sizeof more, " (and %zu more)", v->nreasons - 1);
		/* The reason is cut, never the count of the others. */
		int room = (int)(sizeof v->headline - 1 - strlen(more));
		snprintf(v->headline, sizeof v->headline, "%.*s%s", room, v->reasons[0].text, more);
		return;
	}
	const char *checks = v->checks == 1 ? "check" : "checks";
	if (!v->matrix) {
		snprintf(v->headline, sizeof v->headline,
		         "every invariant held in every scenario (%llu %s)",
		         (unsigned long long)v->checks, checks);
		return;
	}
	size_t used = (size_t)snprintf(v->headline, sizeof v->headline,
	                               "hardened held all %llu invariant %s; every legacy bug "
	                               "was caught", (unsigned long long)v->checks, checks);
	if (v->fixes_judged == (1u << FIX_COUNT) - 1 || used >= sizeof v->headline)
		return;
	const char *sep = " (fixes judged: ";
	for (int f = 0; f < FIX_COUNT && used < sizeof v->headline; f++) {
		if (!(v->fixes_judged & (1u << f)))
			continue;
		used += (size_t)snprintf(v->headline + used, sizeof v->headline - used, "%s%s", sep,
		                         fix_name((enum fix_id)f));
		sep = ", ";
	}
	if (used < sizeof v->headline)
		snprintf(v->headline + used, sizeof v->headline - used,
		         "; the others have no scenario here)");
}

enum result verdict_decide(const struct verdict_row *rows, size_t n, bool matrix,
                           uint64_t mismatches, struct verdict *out)
{
	ASSERT(rows != NULL || n == 0);
	ASSERT(out != NULL);
	memset(out, 0, sizeof *out);
	if (n > VERDICT_ROWS_MAX)
		return RESULT_REJECT;
	/* Bound: every invariant of every row, two more per row, one per fix,
	 * one for the mismatches no row holds. */
	size_t cap = n * (INV_COUNT + 2) + FIX_COUNT + 1;
	struct verdict v = {.matrix = matrix};
	v.reasons = calloc(cap, sizeof *v.reasons);
	if (v.reasons == NULL)
		return RESULT_NOMEM;
	for (size_t i = 0; i < n; i++)
		verdict_judge_row(&v, cap, &rows[i], i);
	if (mismatches > 0)
		verdict_add(&v, cap, VERDICT_DETERMINISM, SIZE_MAX, -1, -1,
		            "determinism self-check failed (%llu %s)", (unsigned long long)mismatches,
		            mismatches == 1 ? "mismatch" : "mismatches");
	if (matrix)
		verdict_judge_fixes(&v, cap, rows, n);
	v.pass = v.nreasons == 0;
	verdict_headline(&v);
	*out = v;
	return RESULT_OK;
}

void verdict_fini(struct verdict *v)
{
	if (v == NULL)
		return;
	free(v->reasons);
	memset(v, 0, sizeof *v);
}
