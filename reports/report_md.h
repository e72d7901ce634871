/* reports/report_md.h - report.md, a short page for a CI summary: the
 * verdict, the fix x variant x invariant matrix in symbols and words, then
 * every violation with its seed, message and replay command. Not a full
 * report: charts and timelines are in report.html. */
#ifndef REPORTS_REPORT_MD_H
#define REPORTS_REPORT_MD_H

#include <stddef.h>

#include "core/result.h"
#include "reports/report.h"
#include "reports/textbuf.h"

MUST_USE enum result report_format_md(const struct report *r, struct textbuf *out);
MUST_USE enum result report_write_md(const struct report *r, const char *path,
                                     char *err, size_t errsize);

#endif
