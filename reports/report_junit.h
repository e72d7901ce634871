/* reports/report_junit.h - junit.xml for CI: one testsuite per scenario, one
 * testcase per variant x invariant (classname "SCENARIO.VARIANT", name the
 * invariant), a failure per violated invariant carrying the first failing
 * seed, the message and the replay command, skipped when not exercised. */
#ifndef REPORTS_REPORT_JUNIT_H
#define REPORTS_REPORT_JUNIT_H

#include <stddef.h>

#include "core/result.h"
#include "reports/report.h"
#include "reports/textbuf.h"

/* Appends the document to out; RESULT_NOMEM when out failed. */
MUST_USE enum result report_format_junit(const struct report *r, struct textbuf *out);
MUST_USE enum result report_write_junit(const struct report *r, const char *path,
                                        char *err, size_t errsize);

#endif
