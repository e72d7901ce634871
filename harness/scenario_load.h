/* harness/scenario_load.h - reads and validates a scenario file (YAML, on
 * libfyaml) into the description of sim/scenario.h, with every mistake
 * reported at its file:line:column. The format: docs/scenarios.md. */
#ifndef HARNESS_SCENARIO_LOAD_H
#define HARNESS_SCENARIO_LOAD_H

#include <stddef.h>

#include "core/result.h"
#include "sim/scenario.h"

/* A loading error with its location. line and column are 1-based; 0 when
 * the error concerns the whole file (cannot open, not YAML). */
struct scenario_error {
	char file[256];
	int line;
	int column;
	char message[256];        /* names the key, e.g. "unknown key 'sedes'" */
};

/* Loads and validates one scenario file. On success returns RESULT_OK and
 * *out (caller destroys); on failure RESULT_REJECT (bad file) or
 * RESULT_NOMEM with *err filled, *out untouched. */
MUST_USE enum result scenario_load(const char *path, struct scenario **out,
                                   struct scenario_error *err);
/* The same from a buffer; name is used in messages. */
MUST_USE enum result scenario_load_buffer(const char *name, const char *buf,
                                          size_t len, struct scenario **out,
                                          struct scenario_error *err);
/* "file:line:column: message" into buf. */
void scenario_error_format(const struct scenario_error *err, char *buf,
                           size_t size);

#endif
