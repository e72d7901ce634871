/* harness/scenario_write.h - writes a scenario description back out as a
 * scenario file the loader reads to the same description: every key
 * explicit, nothing left to a default. Swarm draws and shrunk runs become
 * plain files this way. Not a general YAML writer. */
#ifndef HARNESS_SCENARIO_WRITE_H
#define HARNESS_SCENARIO_WRITE_H

#include <stdio.h>

#include "core/result.h"
#include "sim/scenario.h"

/* Writes sc to out as YAML. comment (may be NULL) opens the file as '#'
 * lines, one per line of the text. RESULT_OK, or RESULT_ERROR when out
 * failed (errno says why). */
MUST_USE enum result scenario_write(const struct scenario *sc, const char *comment,
                                    FILE *out);

/* The same into a malloc'd NUL-terminated buffer (*text, *len; the caller
 * frees). RESULT_NOMEM when it could not be allocated. */
MUST_USE enum result scenario_write_text(const struct scenario *sc, const char *comment,
                                         char **text, size_t *len);

#endif
