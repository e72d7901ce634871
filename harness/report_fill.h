/* harness/report_fill.h - turns the runner's results into the report structure
 * that reports/ defines, and writes every report file. The only place where
 * the simulator's types meet the report's. */
#ifndef SIM_REPORT_FILL_H
#define SIM_REPORT_FILL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/result.h"
#include "harness/runner.h"
#include "harness/shard.h"
#include "sim/scenario.h"

struct report;
struct verdict;

/* Builds the report of a run: settings (version, mode, variants, scenario
 * files and their SHA-256), one result per runner result. *out on success. */
MUST_USE enum result report_fill(const char *mode, struct scenario *const *list, size_t n,
                                 const struct runner_result *results, size_t nresults,
                                 struct report **out, char *err, size_t errsize);

/* Stores verdict v (decided by verdict_decide on these results) in r. */
MUST_USE enum result report_fill_verdict(struct report *r, const struct verdict *v);

/* Decides the verdict of r from its own results (a merged report: its parts'
 * verdicts do not add up) and stores it. RESULT_REJECT with err when a
 * result names a fix or an invariant this faultline does not know. */
MUST_USE enum result report_judge(struct report *r, char *err, size_t errsize);

/* report_fill and report_fill_verdict, then report.json, junit.xml,
 * report.md and report.html in dir (traces/ is written by the runner);
 * shard (NULL: not sharded) is recorded in the settings. */
MUST_USE enum result report_fill_write(const char *dir, const char *mode,
                                       const struct verdict *v,
                                       const struct shard *shard,
                                       struct scenario *const *list, size_t n,
                                       const struct runner_result *results,
                                       size_t nresults, char *err, size_t errsize);

#endif
