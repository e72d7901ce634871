/* harness/shrink.h - from a seed that violates an invariant to a smaller
 * scenario that violates the same one, with the same shape of witness:
 * fewer requests, events, copies and users, shorter spreads, fewer rules,
 * and the faults that fired pinned as a schedule (the nth operation of a
 * name, firing once) so that no fault is left to chance. Greedy reduction to
 * a fixpoint, each candidate written out and read back by the loader so the
 * result is always a valid file. Deterministic: the same input gives the
 * same output. Used by `faultline shrink` (cli/cmd_shrink.c). */
#ifndef HARNESS_SHRINK_H
#define HARNESS_SHRINK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/result.h"
#include "sim/scenario.h"
#include "harness/runner.h"

#define SHRINK_NOTE_MAX 2048
#define SHRINK_CHECK_SEEDS 8    /* seeds 1..8 a shrunk file is tried under */

struct shrink_options {
	double budget_s;        /* wall time for the search (it stops early) */
	int invariant;          /* the one to keep violating; -1: the first */
};

struct shrink_report {
	struct scenario *min;   /* owned (scenario_destroy); NULL when none */
	enum invariant_id inv;
	char message[256];      /* the shrunk run's violation */
	char first_message[256];/* the original seed's */
	bool any_seed;          /* min violates under seeds 1..SHRINK_CHECK_SEEDS
	                         * and the original seed; else only that seed */
	bool pinned;            /* faults that fired are a schedule now */
	bool budget_spent;      /* the search stopped at the budget */
	uint32_t runs;          /* seeds run while searching */
	double wall_s;
	uint64_t events_before, events_after; /* timers dispatched */
	char removed[SHRINK_NOTE_MAX];        /* what was cut, "; "-separated */
};

enum shrink_status {
	SHRINK_DONE,            /* *rep filled */
	SHRINK_NO_VIOLATION,    /* the seed violates nothing (or not inv) */
	SHRINK_FAILED,          /* a run could not be made (err says why) */
};

/* Shrinks sc (in swarm mode, the seed's draw) under vs from seed. */
enum shrink_status shrink_run(const struct scenario *sc, const struct variant_set *vs,
                              uint64_t seed, const struct shrink_options *opt,
                              struct shrink_report *rep, char *err, size_t errsize);
void shrink_report_fini(struct shrink_report *rep);

/* The comment a shrunk file opens with: where it came from, what it
 * violates and under which seeds, what was removed. */
void shrink_comment(const struct scenario *from, const struct variant_set *vs, uint64_t seed,
                    const struct shrink_report *rep, char *buf, size_t size);

#endif
