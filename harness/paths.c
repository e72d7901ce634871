/* harness/paths.c - turns PATH arguments into a list of scenario files by
 * walking folders with opendir/readdir. Not for reading or validating the
 * files themselves (harness/scenario_load.c). */
#include "harness/paths.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/assert.h"

struct collect {
	char **v;
	size_t n, cap;
	size_t entries;           /* folder entries looked at so far */
	char *err;
	size_t errsize;
};

__attribute__((format(printf, 3, 4)))
static enum result collect_fail(struct collect *c, enum result rc, const char *fmt, ...)
{
	if (c->errsize > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->err, c->errsize, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* "scenarios//x.yaml" as "scenarios/x.yaml": the paths are printed (result
 * lines, replay commands, reports), and '//' in them looks like a mistake. */
static void path_squeeze_slashes(char *path)
{
	char *to = path;
	for (const char *from = path; *from != '\0'; from++) {
		if (*from == '/' && to > path && to[-1] == '/')
			continue;
		*to++ = *from;
	}
	*to = '\0';
}

/* Takes ownership of path, also on failure. */
static enum result collect_add(struct collect *c, char *path)
{
	if (path == NULL)
		return collect_fail(c, RESULT_NOMEM, "out of memory");
	path_squeeze_slashes(path);
	if (c->n == PATHS_MAX) {
		free(path);
		return collect_fail(c, RESULT_NOMEM, "more than %d scenario files", PATHS_MAX);
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		char **v = realloc(c->v, cap * sizeof *v);
		if (v == NULL) {
			free(path);
			return collect_fail(c, RESULT_NOMEM, "out of memory");
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = path;
	return RESULT_OK;
}

static bool name_is_scenario(const char *name)
{
	size_t len = strlen(name);
	return (len > 5 && strcmp(name + len - 5, ".yaml") == 0) ||
	       (len > 4 && strcmp(name + len - 4, ".yml") == 0);
}

static int path_compare(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum result collect_folder(struct collect *c, const char *dir, int depth)
{
	if (depth > PATHS_DEPTH_MAX)
		return collect_fail(c, RESULT_REJECT, "%s: folders nested more than %d deep",
		                    dir, PATHS_DEPTH_MAX);
	DIR *d = opendir(dir);
	if (d == NULL)
		return collect_fail(c, RESULT_REJECT, "%s: %s", dir, strerror(errno));
	/* "scenarios//" names its files "scenarios/x.yaml": no '//' printed. */
	size_t dlen = strlen(dir);
	while (dlen > 1 && dir[dlen - 1] == '/' && dir[dlen - 2] == '/')
		dlen--;
	bool slash = dlen > 0 && dir[dlen - 1] == '/';
	enum result rc = RESULT_OK;
	struct dirent *de;
	while (rc == RESULT_OK && (errno = 0, de = readdir(d)) != NULL) {
		if (++c->entries > PATHS_ENTRIES_MAX) {
			rc = collect_fail(c, RESULT_NOMEM, "%s: more than %d folder entries",
			                  dir, PATHS_ENTRIES_MAX);
			break;
		}
		/* Hidden entries (., .., .git ...) are never scenarios. */
		if (de->d_name[0] == '.')
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;     /* vanished while we looked: not ours to report */
		bool is_dir = S_ISDIR(st.st_mode);
		bool is_file = S_ISREG(st.st_mode);
		if (S_ISLNK(st.st_mode)) {
			/* A link to a file counts; a link to a folder is not followed,
			 * so a link cycle cannot make the walk loop. */
			is_file = fstatat(dirfd(d), de->d_name, &st, 0) == 0 && S_ISREG(st.st_mode);
		}
		if (!is_dir && !(is_file && name_is_scenario(de->d_name)))
			continue;
		char *child = NULL;
		if (asprintf(&child, "%.*s%s%s", (int)dlen, dir, slash ? "" : "/", de->d_name) < 0) {
			rc = collect_fail(c, RESULT_NOMEM, "out of memory");
			break;
		}
		if (is_dir) {
			rc = collect_folder(c, child, depth + 1);
			free(child);
		} else {
			rc = collect_add(c, child);
		}
	}
	if (rc == RESULT_OK && errno != 0 && de == NULL)
		rc = collect_fail(c, RESULT_REJECT, "%s: %s", dir, strerror(errno));
	closedir(d);
	return rc;
}

static void collect_free(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i]);
	free(c->v);
}

enum result paths_collect(int npaths, char *const *paths, struct path_list *out,
                          char *err, size_t errsize)
{
	ASSERT(npaths >= 0);
	ASSERT(npaths == 0 || paths != NULL);
	ASSERT(out != NULL);
	ASSERT(err != NULL || errsize == 0);

	struct collect c = {.err = err, .errsize = errsize};
	enum result rc = RESULT_OK;
	for (int i = 0; i < npaths && rc == RESULT_OK; i++) {
		const char *p = paths[i];
		struct stat st;
		if (p[0] == '\0' || stat(p, &st) != 0) {
			rc = collect_fail(&c, RESULT_REJECT, "%s: %s",
			                  p[0] ? p : "''", p[0] ? strerror(errno)
			                                       : "empty path");
			break;
		}
		if (!S_ISDIR(st.st_mode)) {
			rc = collect_add(&c, strdup(p));
			continue;
		}
		size_t start = c.n;
		rc = collect_folder(&c, p, 0);
		if (rc == RESULT_OK && c.n - start > 1)
			qsort(c.v + start, c.n - start, sizeof *c.v, path_compare);
	}
	if (rc != RESULT_OK) {
		collect_free(&c);
		return rc;
	}
	out->paths = c.v;
	out->n = c.n;
	return RESULT_OK;
}

void paths_fini(struct path_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->paths[i]);
	free(l->paths);
	l->paths = NULL;
	l->n = 0;
}
