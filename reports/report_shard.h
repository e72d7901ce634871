/* reports/report_shard.h - what a merge of shard reports must check first:
 * one tool version, one scenario set, each shard of I/N once and none
 * missing; and which seeds a time budget left uncovered. The adding up is
 * report_merge's (report.h). */
#ifndef REPORTS_REPORT_SHARD_H
#define REPORTS_REPORT_SHARD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/result.h"
#include "reports/report.h"
#include "reports/textbuf.h"

/* Checks the n parts of a merge. skip[i] becomes true for a part that is an
 * exact copy of an earlier one (merging a shard twice changes nothing).
 * RESULT_REJECT with err filled when tool versions or scenario sets differ,
 * when sharded and unsharded parts are mixed or shard counts differ, when
 * two different reports claim the same shard, or when shards are missing
 * (named by number); RESULT_NOMEM when out of memory. */
MUST_USE enum result report_shards_check(struct report *const *parts, size_t n, bool *skip,
                                         char *err, size_t errsize);

/* Appends one "not covered: ..." line to out per result of a part that a
 * time budget stopped early: the seeds it did not reach and how to run
 * them. Returns how many lines it wrote. */
size_t report_shards_gaps(struct report *const *parts, size_t n, const bool *skip,
                          struct textbuf *out);

#endif
