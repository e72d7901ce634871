/* reports/report.h - the results of a run as the reports see them: the
 * in-memory shape of report.json, helpers that fill it without hand-managed
 * arrays, the latency histogram, and the merge of several runs.
 * Knows neither core/ nor the simulator: the runner fills this structure.
 * The writers live in report_json.h, report_junit.h, report_md.h,
 * report_html.h and report_files.h. Not thread-safe. */
#ifndef REPORTS_REPORT_H
#define REPORTS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/result.h"

#define REPORT_SCHEMA 1

/* Latency histogram over simulated microseconds, log-linear: values are
 * counted in units of REPORT_HIST_UNIT_US; the first REPORT_HIST_SUB buckets
 * are one unit wide, then every power of two of units is split into
 * REPORT_HIST_SUB equal buckets. With 64 buckets of 4 per power of two and a
 * 256 us unit this spans 0 .. 33.55 s with at most 25 % relative width; the
 * last bucket also takes every slower value (see report_hist_lower). */
#define REPORT_HIST_BUCKETS 64
#define REPORT_HIST_SUB 4
#define REPORT_HIST_UNIT_US 256u

/* Named maxima: the helpers refuse (RESULT_NOMEM) past them, and the JSON
 * reader rejects input that exceeds them. */
#define REPORT_RESULTS_MAX 4096u      /* scenario x variant entries */
#define REPORT_INVARIANTS_MAX 64u     /* per result */
#define REPORT_COUNTS_MAX 256u        /* names per count list */
#define REPORT_TIMELINE_MAX 200u      /* events kept per violation */
#define REPORT_VARIANTS_MAX 64u
#define REPORT_FILES_MAX 4096u
#define REPORT_TEXT_MAX 4096u         /* bytes per string, NUL excluded */
#define REPORT_MERGE_PARTS_MAX 1024u
#define REPORT_REASONS_MAX 65536u     /* reasons a verdict can give */
#define REPORT_SHARDS_MAX 100000u     /* shard count of a sharded run */

struct report_count {          /* faults by kind, outcomes by name, log tags */
	char *name;
	uint64_t count;
};

struct report_event {          /* one timeline entry of a failing seed */
	uint64_t t_us;
	char *lane;    /* "request" | "redis" | "postgres" | "stripe" | "mail" |
	                * "webhook" | "fault" | "invariant" */
	char *label;   /* short text, e.g. "EXPIRE ratelimit:u1 -> timeout" */
};

struct report_invariant {
	char *name;                 /* "exactly-once", ... */
	bool held;                  /* violations == 0 */
	uint64_t violations;        /* seeds that broke it */
	bool has_first_seed;
	uint64_t first_seed;        /* lowest failing seed */
	uint64_t first_time_us;     /* simulated time of the violation there */
	char *message;              /* what broke, or NULL */
	char *replay;               /* the command that replays it, or NULL */
	char *shrunk_file;          /* run --shrink: the smallest scenario file
	                             * that fails the same way, relative to the
	                             * report dir; NULL when not shrunk */
	struct report_event *timeline;  /* oldest first, <= REPORT_TIMELINE_MAX */
	size_t ntimeline;
	uint64_t timeline_dropped;  /* older events left out to keep the bound */
};

struct report_result {         /* one scenario x variant */
	char *scenario;             /* scenario name */
	char *file;                 /* scenario path */
	char *fix;                  /* "ratelimit", or "ratelimit,webhook" */
	char *variant;              /* "legacy" | "seed" | "hardened" or
	                             * "fix=variant,..." when mixed */
	uint64_t seeds_run;
	uint64_t seeds_planned;     /* seeds the run set out to run, when more
	                             * than seeds_run (a time budget stopped it);
	                             * 0 or seeds_run: complete */
	uint64_t seed_next;         /* the first planned seed not run, when
	                             * seeds_planned > seeds_run */
	uint64_t seed_min, seed_max;  /* meaningful when seeds_run > 0 */
	bool exercised;             /* false: no fault fired, no race happened */
	char *not_exercised_reason; /* or NULL */
	struct report_invariant *invariants;
	size_t ninvariants;
	struct report_count *faults;    /* fired, by kind */
	size_t nfaults;
	struct report_count *outcomes;  /* request outcomes: "ok", "error", ... */
	size_t noutcomes;
	struct report_count *log_tags;  /* "[RateLimit]" -> count */
	size_t nlog_tags;
	/* What the run reached: fault, answer and outcome cells
	 * (docs/scenarios.md, "Coverage") -> count; a cell the scenario
	 * declared in expect_reached is listed even when 0 (never reached). */
	struct report_count *coverage;
	size_t ncoverage;
	uint64_t latency_hist[REPORT_HIST_BUCKETS]; /* request latency, sim us */
	uint64_t duplicates_let_through;  /* true duplicates allowed while
	                                   * failing open */
	char *trace_file;           /* trace of a failing seed, or NULL */
};

struct report_file {
	char *path;
	char *sha256;               /* lower-case hex */
};

/* One reason the verdict fails, as decided by the harness (harness/verdict.c)
 * and stored in report.json: the pages show it, they never judge. */
struct report_reason {
	char *kind;                 /* "violated" | "not-exercised" | "not-caught" |
	                             * "determinism" */
	char *text;                 /* "hardened violated exactly-once in X" */
	char *scenario;             /* the result it is about, or NULL (not-caught) */
	char *variant;
	char *invariant;            /* the cell it is about, or NULL */
	char *fix;                  /* not-caught: the fix, else NULL */
};

struct report {
	int schema;                 /* REPORT_SCHEMA */
	char *tool_version;
	char *mode;                 /* "simulated" | "live" */
	bool matrix;                /* every scenario under every variant */
	/* The verdict, decided once by the harness and stored, never recomputed
	 * by a writer (see report_set_verdict). */
	bool verdict_set;
	bool pass;
	char *headline;             /* one line: why it passes, or the first reason */
	struct report_reason *reasons;  /* empty when pass */
	size_t nreasons;
	char *scenario_set;         /* hex SHA-256 of the scenario files (paths
	                             * and digests, in order), or NULL */
	unsigned shard_index;       /* shard I of shard_count of a sharded run */
	unsigned shard_count;       /* 0: the whole run */
	char **variants;
	size_t nvariants;
	struct report_file *files;
	size_t nfiles;
	bool determinism_checked;
	uint64_t determinism_mismatches;
	struct report_result *results;
	size_t nresults;
};

/* Every string in a report is owned by it and freed by report_destroy. The
 * helpers copy what they are given (borrowed), replacing bytes that are not
 * UTF-8 with U+FFFD and cutting at REPORT_TEXT_MAX bytes on a character
 * boundary, so every writer can rely on valid, bounded text. Callers may set
 * the plain number and bool fields directly. */

/* A report with no results; NULL when out of memory. Both strings are
 * borrowed; NULL stands for "" (tool_version) and "simulated" (mode). */
struct report *report_create(const char *tool_version, const char *mode);
void report_destroy(struct report *r);             /* accepts NULL */

/* Adds a variant name unless already listed. */
MUST_USE enum result report_add_variant(struct report *r, const char *variant);
/* Adds a scenario file and its hex SHA-256; RESULT_REJECT when the path is
 * listed with another digest. */
MUST_USE enum result report_add_file(struct report *r, const char *path,
                                     const char *sha256);

/* Appends an empty result and stores it in *out. The pointer is valid until
 * the next report_add_result on r (the array may move): look it up again
 * with report_find_result. scenario and variant must not be NULL; file and
 * fix may be. RESULT_REJECT when (scenario, variant) is already present. */
MUST_USE enum result report_add_result(struct report *r, const char *scenario,
                                       const char *file, const char *fix,
                                       const char *variant,
                                       struct report_result **out);
/* The result for (scenario, variant), or NULL. */
struct report_result *report_find_result(const struct report *r,
                                         const char *scenario,
                                         const char *variant);

/* Counts one more seed run: seeds_run, seed_min and seed_max. */
void report_result_count_seed(struct report_result *res, uint64_t seed);
MUST_USE enum result report_result_set_not_exercised(struct report_result *res,
                                                     const char *reason);
MUST_USE enum result report_result_set_trace_file(struct report_result *res,
                                                  const char *path);
/* Adds by to the count of name, appending the name when new. */
MUST_USE enum result report_result_add_fault(struct report_result *res,
                                             const char *kind, uint64_t by);
MUST_USE enum result report_result_add_outcome(struct report_result *res,
                                               const char *name, uint64_t by);
MUST_USE enum result report_result_add_coverage(struct report_result *res,
                                                const char *cell, uint64_t by);
MUST_USE enum result report_result_add_log_tag(struct report_result *res,
                                               const char *tag, uint64_t by);
/* Counts one request latency into res->latency_hist. */
void report_result_add_latency(struct report_result *res, uint64_t us);

/* Finds or appends the invariant name (held, no violation) and stores it in
 * *out; valid until the next append to res's invariants. */
MUST_USE enum result report_result_add_invariant(struct report_result *res,
                                                 const char *name,
                                                 struct report_invariant **out);
struct report_invariant *report_result_find_invariant(
	const struct report_result *res, const char *name);

/* Counts one violating seed. When seed is lower than the first failing seed
 * so far (or the first), it becomes first_seed with t_us, message and replay
 * (borrowed, may be NULL), the old timeline is dropped, and *became_first
 * (may be NULL) is set to true: the caller then adds that seed's events. */
/* Sets (or with NULL clears) the invariant's shrunk scenario file. */
MUST_USE enum result report_invariant_set_shrunk_file(struct report_invariant *inv,
                                                      const char *path);
MUST_USE enum result report_invariant_add_violation(struct report_invariant *inv,
                                                    uint64_t seed, uint64_t t_us,
                                                    const char *message,
                                                    const char *replay,
                                                    bool *became_first);
/* Appends one event to the first failing seed's timeline (events in time
 * order). Past REPORT_TIMELINE_MAX the oldest event gives way and
 * timeline_dropped counts it: what led to the violation matters most. */
MUST_USE enum result report_invariant_add_event(struct report_invariant *inv,
                                                uint64_t t_us, const char *lane,
                                                const char *label);

/* Histogram. bucket(us) is in [0, REPORT_HIST_BUCKETS); lower(b) for b in
 * [0, REPORT_HIST_BUCKETS] is the least value of bucket b, and
 * lower(REPORT_HIST_BUCKETS) the (exclusive) top of the last bucket's span.
 * Values at or above that top are counted in the last bucket. */
unsigned report_hist_bucket(uint64_t us);
uint64_t report_hist_lower(unsigned b);
void report_hist_add(uint64_t *hist, uint64_t us);
uint64_t report_hist_total(const uint64_t *hist);
/* The upper bound (lower of the next bucket) of the bucket holding the
 * q-quantile, q in [0, 1]: the smallest bucket whose cumulative count reaches
 * ceil(q * total) (at least 1). 0 when the histogram is empty. q = 1 gives
 * the bound of the highest non-empty bucket (the reported max). */
uint64_t report_hist_percentile(const uint64_t *hist, double q);

/* Derived figures, as written under "summary". A cell is violated when its
 * invariant has violations, else not exercised when its result was not
 * exercised, else held. */
struct report_summary {
	uint64_t results;
	uint64_t results_not_exercised;
	uint64_t invariants_held;
	uint64_t invariants_violated;
	uint64_t invariants_not_exercised;
	uint64_t seeds_run;
};
void report_summarize(const struct report *r, struct report_summary *out);

enum report_cell { REPORT_CELL_HELD, REPORT_CELL_VIOLATED, REPORT_CELL_NOT_EXERCISED };
enum report_cell report_cell_of(const struct report_result *res,
                                const struct report_invariant *inv);

/* Stores the verdict: pass and its headline (borrowed, copied); reasons
 * already added stay. */
MUST_USE enum result report_set_verdict(struct report *r, bool pass, const char *headline);
/* Appends one reason; every string is borrowed and copied, only kind and
 * text must not be NULL. */
MUST_USE enum result report_add_reason(struct report *r, const char *kind, const char *text,
                                       const char *scenario, const char *variant,
                                       const char *invariant, const char *fix);
/* The reason about the cell (scenario, variant, invariant), or with
 * invariant NULL the result-level reason of that kind; NULL when none. */
const struct report_reason *report_find_reason(const struct report *r, const char *kind,
                                               const char *scenario, const char *variant,
                                               const char *invariant);
/* Drops the verdict and its reasons (a merge decides again). */
void report_clear_verdict(struct report *r);

/* Merges n parts (borrowed) into a new report in *out. The parts are
 * first checked by report_shards_check (report_shard.h): the same tool
 * version and scenario set, and of a sharded run each shard once; a part
 * that is an exact copy of an earlier one is counted once. The merge of all
 * shards is the whole run's report (no shard in it). Results with the same
 * (scenario, variant) add up: seeds, violations, counts and histograms, so
 * the merge of runs over disjoint seed ranges equals one run over them all.
 * The first failing seed is the lowest over the parts, with its time,
 * message, replay, timeline and trace file. Settings: the first part's tool
 * version; variants and files are the union; determinism is checked when
 * every part checked it. Fails with RESULT_REJECT (and a message in err)
 * when parts disagree on mode or on a file's digest, or when two parts ran
 * the same seed of a result; RESULT_NOMEM past a maximum. */
MUST_USE enum result report_merge(struct report *const *parts, size_t n,
                                  struct report **out, char *err, size_t errsize);

/* Whether res stopped before its planned seeds (a time budget). */
bool report_result_incomplete(const struct report_result *res);

/* A copy of s in the report's text rules (see above); NULL for NULL or when
 * out of memory. For code that builds report fields by hand. */
char *report_text_dup(const char *s);

#endif
