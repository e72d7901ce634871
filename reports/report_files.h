/* reports/report_files.h - putting reports on disk: a report directory with
 * report.json, junit.xml, report.md and report.html, each written under a
 * temporary name and renamed, so a reader never sees half a file. Also the
 * bounded whole-file read the JSON reader uses. Not for the trace files:
 * the runner writes those. */
#ifndef REPORTS_REPORT_FILES_H
#define REPORTS_REPORT_FILES_H

#include <stddef.h>

#include "core/result.h"
#include "reports/report.h"
#include "reports/textbuf.h"

#define REPORT_DIR_DEPTH_MAX 64u    /* path components mkdir -p will create */
#define REPORT_PATH_MAX 4096u

/* Writes len bytes to path through "<path>.tmp.XXXXXX" and rename(2), mode
 * 0644. RESULT_ERROR with the path and the system's reason in err. */
MUST_USE enum result report_file_write(const char *path, const char *data,
                                       size_t len, char *err, size_t errsize);
/* report_file_write of tb's content; RESULT_NOMEM naming path when tb
 * failed (out of memory or past TEXTBUF_MAX). */
MUST_USE enum result report_file_write_text(const char *path, const struct textbuf *tb,
                                            char *err, size_t errsize);
/* Reads path whole into a new NUL-terminated buffer (caller frees) of at
 * most max bytes. RESULT_ERROR when it cannot be read, RESULT_REJECT when
 * it is larger than max; err names the file. */
MUST_USE enum result report_file_read(const char *path, size_t max, char **data,
                                      size_t *len, char *err, size_t errsize);
/* mkdir -p dir (mode 0755). */
MUST_USE enum result report_dir_make(const char *dir, char *err, size_t errsize);

/* Creates dir and writes junit.xml, report.md and report.html from r. */
MUST_USE enum result report_write_views(const struct report *r, const char *dir,
                                        char *err, size_t errsize);
/* Creates dir and writes report.json, then the views. */
MUST_USE enum result report_write_all(const struct report *r, const char *dir,
                                      char *err, size_t errsize);

#endif
