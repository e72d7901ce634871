/* reports/report_traces.h - the trace files of a merged report: each result
 * names the trace of its first violated invariant's lowest failing seed, as
 * one run over all the seeds would, and every such trace is copied from the
 * part that ran the seed. Writing traces in the first place is the runner's. */
#ifndef REPORTS_REPORT_TRACES_H
#define REPORTS_REPORT_TRACES_H

#include <stdbool.h>
#include <stddef.h>

#include "core/result.h"
#include "reports/report.h"
#include "reports/textbuf.h"

#define REPORT_TRACE_MAX (256u << 20)   /* bytes of one trace file we copy */

/* For every result of merged: for each invariant with a first failing seed,
 * copies traces/NAME-seedN.jsonl from the directory dirs[p] of the part p
 * that holds that first seed into out_dir (the name follows the part's own
 * trace_file), and points merged's trace_file at the first invariant's.
 * Parts with skip[p] (may be NULL) are not read. A trace the part's directory
 * lacks is left out with a line in warn. RESULT_ERROR when a copy cannot be
 * written (err says where). */
MUST_USE enum result report_traces_merge(struct report *merged, struct report *const *parts,
                                         const char *const *dirs, const bool *skip, size_t n,
                                         const char *out_dir, struct textbuf *warn,
                                         char *err, size_t errsize);

#endif
