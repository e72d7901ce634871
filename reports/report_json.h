/* reports/report_json.h - report.json, the versioned source of every other
 * report, written and read with jansson. The layout is documented in
 * docs/report-schema.md and docs/report.schema.json. Derived fields (the
 * summary, the latency percentiles) are written but recomputed on read. */
#ifndef REPORTS_REPORT_JSON_H
#define REPORTS_REPORT_JSON_H

#include <stddef.h>

#include "core/result.h"
#include "reports/report.h"

#define REPORT_JSON_MAX (64u << 20)   /* bytes of report.json we read */

/* The JSON text of r (2-space indent, keys in a fixed order, count objects
 * sorted by name, ending in a newline) in a new buffer (caller frees).
 * RESULT_REJECT when a number does not fit a JSON integer (2^63 - 1). */
MUST_USE enum result report_json_dump(const struct report *r, char **out,
                                      char *err, size_t errsize);
/* Parses and validates text (len bytes; name is used in messages) into a
 * new report. RESULT_REJECT with "name: where: what" in err when it is not
 * JSON, when schema is not REPORT_SCHEMA, when a required field is missing
 * or has the wrong type, or when values contradict each other; RESULT_NOMEM
 * past a maximum of report.h. */
MUST_USE enum result report_json_parse(const char *text, size_t len,
                                       const char *name, struct report **out,
                                       char *err, size_t errsize);

MUST_USE enum result report_write_json(const struct report *r, const char *path,
                                       char *err, size_t errsize);
/* Reads path (at most REPORT_JSON_MAX bytes): report_json_parse's checks,
 * plus RESULT_ERROR when the file cannot be read. */
MUST_USE enum result report_read_json(const char *path, struct report **out,
                                      char *err, size_t errsize);

#endif
