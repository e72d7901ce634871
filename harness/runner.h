/* harness/runner.h - runs scenarios over their seeds under chosen variants,
 * optionally in several processes, aggregates what held and what broke,
 * replays the first failing seed of each violation for its trace, and
 * checks its own determinism. Printing and reports are the caller's (the
 * commands in cli/cmd_run.c). */
#ifndef SIM_RUNNER_H
#define SIM_RUNNER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/env.h"
#include "core/result.h"
#include "sim/scenario.h"
#include "harness/shard.h"
#include "harness/world.h"

struct trace;

#define RUNNER_JOBS_MAX 64
#define RUNNER_TIMELINE_MAX 200      /* trace events kept before a violation */
#define RUNNER_SEEDS_MAX 10000000u   /* seeds of one result (-n, or a time
                                      * budget without -n) */

/* A variant per fix. */
struct variant_set {
	enum variant v[FIX_COUNT];
};

/* Parses "legacy", "seed", "hardened" (every fix) or "fix=variant,..."
 * (others keep their value in *out). Returns false with err filled. */
bool variant_set_parse(const char *spec, struct variant_set *out, char *err, size_t errsize);
/* "hardened" when all fixes of sc agree, else "webhook=legacy,ratelimit=seed". */
void variant_set_format(const struct variant_set *vs, const struct scenario *sc, char *buf,
                        size_t size);

struct runner_options {
	unsigned jobs;               /* processes; 1 runs in this process */
	bool seeds_set;              /* override the scenario's seed count */
	uint64_t seeds;
	bool seed_set;               /* run exactly this one seed */
	uint64_t seed;
	bool seed_first_set;         /* the range starts here instead of at the
	                              * scenario's seed_first */
	uint64_t seed_first;
	struct shard shard;          /* run only this shard's seeds; count 0: all */
	double deadline_s;           /* CLOCK_MONOTONIC time after which no new
	                              * seed starts (0: none). Seeds run in plan
	                              * order, so the ones that ran are the first
	                              * seeds_run of the plan. Without seeds_set
	                              * the plan is RUNNER_SEEDS_MAX seeds long. */
	unsigned determinism_samples;/* seeds re-run to compare trace digests */
	const char *traces_dir;      /* write failing-seed traces here, or NULL */
	bool trace_digest;           /* trace every seed into a digest (measures
	                              * the cost of tracing; results unchanged) */
};

/* What one invariant did over all seeds. */
struct runner_invariant {
	uint64_t violations;
	bool has_first;
	uint64_t first_seed;
	uint64_t first_time_us;
	char message[256];
	char trace_file[512];        /* relative to the report dir, or "" */
	char shrunk_file[512];       /* run --shrink: the shrunk scenario,
	                              * relative to the report dir, or "" */
	/* the events leading to the violation in first_seed, as JSON lines */
	char *timeline;              /* owned; NULL when not replayed */
};

struct runner_result {
	const struct scenario *sc;
	struct variant_set vs;
	uint64_t seeds_run;
	uint64_t seeds_planned;      /* this shard's seeds of the plan; more than
	                              * seeds_run when a deadline stopped it */
	uint64_t seed_next;          /* the first planned seed not run, when
	                              * seeds_run < seeds_planned */
	uint64_t seed_min, seed_max;
	uint32_t checked;
	uint32_t violated;
	struct runner_invariant inv[INV_COUNT];
	uint64_t faults[FAULT_KIND_COUNT];
	uint64_t outcomes[WO_COUNT];
	uint64_t tags[WT_COUNT];
	uint64_t latency_hist[REPORT_HIST_BUCKETS];
	uint64_t duplicates_let_through;
	struct coverage cov;         /* faults fired and answers given, all seeds */
	bool fault_fired;
	bool race_seen;
	bool exercised;
	char not_exercised[160];
	uint64_t events;
	uint64_t sim_us;             /* simulated time, summed over seeds */
	double wall_s;               /* the whole result, replays included */
	double sweep_wall_s;         /* the seed sweep alone */
	double first_violation_wall_s; /* sweep time until the first violating
	                              * seed finished; negative when none */
	uint64_t first_violation_seeds; /* seeds run until then, that one
	                                 * included (by its worker, with --jobs) */
	uint64_t determinism_checked;
	uint64_t determinism_mismatches;
};

/* Runs sc under vs. On RESULT_OK *out is filled (runner_result_fini frees
 * it). RESULT_ERROR when a worker process failed (err says why). */
MUST_USE enum result runner_run(const struct scenario *sc, const struct variant_set *vs,
                                const struct runner_options *opt, struct runner_result *out,
                                char *err, size_t errsize);
void runner_result_fini(struct runner_result *r);

/* Runs one seed, traced into tr (NULL: no trace). */
MUST_USE enum result runner_run_seed(const struct scenario *sc, const struct variant_set *vs,
                                     uint64_t seed, struct trace *tr, struct world_result *res);
/* Runs one seed with its full trace written to out (replay). */
MUST_USE enum result runner_replay(const struct scenario *sc, const struct variant_set *vs,
                                   uint64_t seed, FILE *out, struct world_result *res);

/* How replay lines name the binary: argv0 when it holds a '/' (the binary
 * as invoked, e.g. "build/faultline", so the line pastes and runs), else
 * "faultline" (found on PATH). Borrowed: must outlive the process's runs. */
void runner_set_program(const char *argv0);
const char *runner_program(void);
/* The monotonic clock the runner's deadlines are read on, in seconds. */
double runner_clock_s(void);

/* The replay command line for a violation. */
void runner_replay_command(const struct scenario *sc, const struct variant_set *vs,
                           uint64_t seed, char *buf, size_t size);

#endif
