/* harness/verdict.h - the verdict of a run or a matrix, decided once from its
 * results: pass or fail, and when it fails every reason, each naming the
 * scenario, variant, invariant or fix it is about. The exit status, the text
 * summary and every report take it from here; nothing else judges a run.
 * Rules (docs/report-schema.md): see verdict_decide. */
#ifndef HARNESS_VERDICT_H
#define HARNESS_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/env.h"
#include "core/result.h"
#include "sim/scenario.h"

#define VERDICT_TEXT_MAX 256
#define VERDICT_ROWS_MAX 4096u     /* results judged; matches REPORT_RESULTS_MAX */

/* One scenario x variant result as the verdict sees it. */
struct verdict_row {
	char scenario[128];
	char variant[160];           /* as printed: "legacy", "webhook=seed,ratelimit=legacy" */
	unsigned fixes;              /* bit per enum fix_id the scenario names */
	int uniform;                 /* enum variant when every fix of the scenario runs
	                              * it, else -1 (a mixed set) */
	uint32_t checked;            /* bit per enum invariant_id */
	uint32_t violated;           /* bit per enum invariant_id */
	bool exercised;
	uint64_t determinism_mismatches;
};

enum verdict_kind {
	VERDICT_VIOLATED,            /* an invariant broke where it must hold */
	VERDICT_NOT_EXERCISED,       /* a result that had to be exercised was not */
	VERDICT_NOT_CAUGHT,          /* matrix: a fix's legacy bug broke nothing */
	VERDICT_DETERMINISM,         /* the same seed gave different traces */
	VERDICT_KIND_COUNT
};

/* "violated", "not-exercised", "not-caught", "determinism" */
const char *verdict_kind_name(enum verdict_kind k);

struct verdict_reason {
	enum verdict_kind kind;
	size_t row;                  /* index into the rows, or SIZE_MAX (not-caught) */
	int invariant;               /* enum invariant_id, or -1 */
	int fix;                     /* enum fix_id (not-caught), or -1 */
	char text[VERDICT_TEXT_MAX]; /* "hardened violated exactly-once in X" */
};

struct verdict {
	bool matrix;
	bool pass;
	struct verdict_reason *reasons;   /* owned; nreasons of them */
	size_t nreasons;
	unsigned fixes_judged;       /* matrix: bit per fix some scenario names */
	uint64_t checks;             /* invariant checks judged as "must hold" */
	char headline[VERDICT_TEXT_MAX];  /* one line: why it passes, or the first
	                                   * reason and how many more */
};

struct runner_result;

/* The row of one runner result. */
void verdict_row_of_result(const struct runner_result *r, struct verdict_row *out);

/* Whether a violation of inv speaks about fix f: each invariant belongs to
 * one fix; the two that every run checks belong to every fix. */
bool verdict_invariant_of_fix(enum invariant_id inv, enum fix_id f);

/* Decides. A run (matrix false) passes when no row violated an invariant,
 * every row was exercised and no determinism check failed; every violated
 * invariant of every row, every row not exercised and every row with a
 * determinism mismatch is a reason. A matrix (rows under legacy, seed and
 * hardened) passes when every hardened row held every invariant and was
 * exercised, no determinism check failed, and every fix that some scenario
 * names (and only those: a matrix over a subset judges the fixes it
 * exercises) has a legacy row that violated one of that fix's invariants;
 * legacy and seed violations are expected there. mismatches counts
 * determinism mismatches that no row holds (a merged report keeps only the
 * total); more than 0 is one more reason. RESULT_NOMEM or RESULT_REJECT (more
 * than VERDICT_ROWS_MAX rows) leaves *out empty. */
MUST_USE enum result verdict_decide(const struct verdict_row *rows, size_t n, bool matrix,
                                    uint64_t mismatches, struct verdict *out);
void verdict_fini(struct verdict *v);    /* accepts NULL */

#endif
