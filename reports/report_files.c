/* reports/report_files.c - report files on disk: atomic writes (temporary
 * name, then rename), mkdir -p, a bounded whole-file read, and the report
 * directory. Errors name the file and carry strerror's reason. */
#include "reports/report_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/assert.h"
#include "reports/report_html.h"
#include "reports/report_json.h"
#include "reports/report_junit.h"
#include "reports/report_md.h"

static void files_errf(char *err, size_t errsize, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void files_errf(char *err, size_t errsize, const char *fmt, ...)
{
	if (err == NULL || errsize == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
}

enum result report_file_write(const char *path, const char *data, size_t len,
                              char *err, size_t errsize)
{
	ASSERT(path != NULL);
	ASSERT(data != NULL || len == 0);
	char tmp[REPORT_PATH_MAX];
	int n = snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof tmp) {
		files_errf(err, errsize, "%s: path too long", path);
		return RESULT_ERROR;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		files_errf(err, errsize, "%s: cannot create a temporary file: %s", path,
		           strerror(errno));
		return RESULT_ERROR;
	}
	const char *what = "write";
	size_t done = 0;
	/* Bounded by len: each pass writes at least one byte or fails. */
	while (done < len) {
		errno = 0;
		ssize_t w = write(fd, data + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail_fd;
		done += (size_t)w;
	}
	what = "chmod";
	if (fchmod(fd, 0644) != 0)
		goto fail_fd;
	what = "close";
	if (close(fd) != 0) {
		fd = -1;
		goto fail_fd;
	}
	fd = -1;
	what = "rename";
	if (rename(tmp, path) != 0)
		goto fail_fd;
	return RESULT_OK;
fail_fd:
	files_errf(err, errsize, "%s: %s failed: %s", path, what,
	           errno != 0 ? strerror(errno) : "short write");
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return RESULT_ERROR;
}

enum result report_file_write_text(const char *path, const struct textbuf *tb,
                                   char *err, size_t errsize)
{
	ASSERT(path != NULL);
	ASSERT(tb != NULL);
	if (tb->failed) {
		files_errf(err, errsize, "%s: out of memory or larger than %u bytes", path,
		           TEXTBUF_MAX);
		return RESULT_NOMEM;
	}
	return report_file_write(path, textbuf_str(tb), tb->len, err, errsize);
}

enum result report_file_read(const char *path, size_t max, char **data, size_t *len,
                             char *err, size_t errsize)
{
	ASSERT(path != NULL);
	ASSERT(data != NULL);
	ASSERT(len != NULL);
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		files_errf(err, errsize, "%s: cannot open: %s", path, strerror(errno));
		return RESULT_ERROR;
	}
	enum result rc = RESULT_ERROR;
	size_t cap = 64 * 1024, used = 0;
	char *buf = malloc(cap + 1);
	if (buf == NULL) {
		files_errf(err, errsize, "%s: out of memory", path);
		rc = RESULT_NOMEM;
		goto close_file;
	}
	/* Bounded by max: the loop stops once more than max bytes were seen. */
	for (;;) {
		if (used == cap) {
			if (cap > max) {
				files_errf(err, errsize, "%s: larger than %zu bytes", path, max);
				rc = RESULT_REJECT;
				goto free_buf;
			}
			char *bigger = realloc(buf, cap * 2 + 1);
			if (bigger == NULL) {
				files_errf(err, errsize, "%s: out of memory", path);
				rc = RESULT_NOMEM;
				goto free_buf;
			}
			buf = bigger;
			cap *= 2;
		}
		size_t got = fread(buf + used, 1, cap - used, f);
		used += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		files_errf(err, errsize, "%s: cannot read: %s", path, strerror(errno));
		goto free_buf;
	}
	if (used > max) {
		files_errf(err, errsize, "%s: larger than %zu bytes", path, max);
		rc = RESULT_REJECT;
		goto free_buf;
	}
	buf[used] = '\0';
	fclose(f);
	*data = buf;
	*len = used;
	return RESULT_OK;
free_buf:
	free(buf);
close_file:
	fclose(f);
	return rc;
}

enum result report_dir_make(const char *dir, char *err, size_t errsize)
{
	ASSERT(dir != NULL);
	char path[REPORT_PATH_MAX];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof path) {
		files_errf(err, errsize, "%s: bad directory name", dir);
		return RESULT_ERROR;
	}
	memcpy(path, dir, n + 1);
	unsigned depth = 0;
	/* Create each prefix ending before a '/', then the whole path. */
	for (size_t i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		if (path[i - 1] == '/')
			continue;                          /* "a//b" */
		if (++depth > REPORT_DIR_DEPTH_MAX) {
			files_errf(err, errsize, "%s: more than %u levels", dir,
			           REPORT_DIR_DEPTH_MAX);
			return RESULT_ERROR;
		}
		char saved = path[i];
		path[i] = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			files_errf(err, errsize, "%s: cannot create directory: %s", path,
			           strerror(errno));
			return RESULT_ERROR;
		}
		path[i] = saved;
	}
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		files_errf(err, errsize, "%s: not a directory", dir);
		return RESULT_ERROR;
	}
	return RESULT_OK;
}

/* dir + "/" + name into buf. */
static enum result files_join(char *buf, size_t size, const char *dir,
                              const char *name, char *err, size_t errsize)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= size) {
		files_errf(err, errsize, "%s: path too long", dir);
		return RESULT_ERROR;
	}
	return RESULT_OK;
}

typedef enum result report_writer_fn(const struct report *r, const char *path,
                                     char *err, size_t errsize);

static enum result files_write_set(const struct report *r, const char *dir,
                                   bool with_json, char *err, size_t errsize)
{
	static const struct {
		const char *name;
		report_writer_fn *write;
		bool is_json;
	} outputs[] = {
		{"report.json", report_write_json, true},
		{"junit.xml", report_write_junit, false},
		{"report.md", report_write_md, false},
		{"report.html", report_write_html, false},
	};
	ASSERT(r != NULL);
	ASSERT(dir != NULL);
	enum result rc = report_dir_make(dir, err, errsize);
	if (rc != RESULT_OK)
		return rc;
	for (size_t i = 0; i < sizeof outputs / sizeof outputs[0]; i++) {
		if (outputs[i].is_json && !with_json)
			continue;
		char path[REPORT_PATH_MAX];
		rc = files_join(path, sizeof path, dir, outputs[i].name, err, errsize);
		if (rc == RESULT_OK)
			rc = outputs[i].write(r, path, err, errsize);
		if (rc != RESULT_OK)
			return rc;
	}
	return RESULT_OK;
}

enum result report_write_views(const struct report *r, const char *dir, char *err,
                               size_t errsize)
{
	return files_write_set(r, dir, false, err, errsize);
}

enum result report_write_all(const struct report *r, const char *dir, char *err,
                             size_t errsize)
{
	return files_write_set(r, dir, true, err, errsize);
}
