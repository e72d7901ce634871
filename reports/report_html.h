/* reports/report_html.h - report.html: one self-contained page (inline CSS
 * and SVG, no script, no external resource) with the verdict, the matrix,
 * a timeline of each violation's first failing seed, fault, outcome and
 * latency charts, and the replay commands. Every text is escaped. */
#ifndef REPORTS_REPORT_HTML_H
#define REPORTS_REPORT_HTML_H

#include <stddef.h>

#include "core/result.h"
#include "reports/report.h"
#include "reports/textbuf.h"

MUST_USE enum result report_format_html(const struct report *r, struct textbuf *out);
MUST_USE enum result report_write_html(const struct report *r, const char *path,
                                       char *err, size_t errsize);

#endif
