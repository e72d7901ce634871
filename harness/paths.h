/* harness/paths.h - expands the PATH arguments of a command into scenario
 * files: a file stays as given, a folder yields its *.yaml and *.yml files,
 * recursively, sorted by path. Not for reading the files (harness/scenario_load.c). */
#ifndef SIM_PATHS_H
#define SIM_PATHS_H

#include <stddef.h>

#include "core/result.h"

#define PATHS_MAX 4096          /* files one call may collect */
#define PATHS_DEPTH_MAX 32      /* folder levels below a PATH argument */
#define PATHS_ENTRIES_MAX 65536 /* folder entries one call may look at */

struct path_list {
	char **paths;           /* owned; each a heap string */
	size_t n;
};

/* Expands paths[0..npaths) into *out, in argument order; the files found
 * under one folder come sorted by byte order of their paths. In folders,
 * names starting with '.' are skipped and symbolic links to folders are not
 * followed (no loops). A missing path or a folder that cannot be read is
 * RESULT_REJECT with err naming it; more than PATHS_MAX files or
 * PATHS_ENTRIES_MAX entries is RESULT_NOMEM, as is an allocation failure.
 * *out is written only on success (caller calls paths_fini). An empty
 * folder gives RESULT_OK and no file. */
MUST_USE enum result paths_collect(int npaths, char *const *paths,
                                   struct path_list *out, char *err,
                                   size_t errsize);

/* Frees the list and empties it; accepts NULL. */
void paths_fini(struct path_list *l);

#endif
