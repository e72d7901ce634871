/* harness/corpus.h - the regression corpus (run --corpus DIR): every
 * violation a run finds is kept as a plain scenario file of its one seed
 * (the drawn variation, for a swarm seed), and later runs with the same
 * folder replay those files first, before any new seed. */
#ifndef HARNESS_CORPUS_H
#define HARNESS_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "core/result.h"
#include "harness/runner.h"
#include "sim/scenario.h"

#define CORPUS_ENTRIES_MAX 4096

struct corpus_entry {
	struct scenario *sc;          /* the file, loaded (owned) */
	char scenario[128];           /* the scenario it came from, by name */
	struct variant_set vs;        /* the variant it failed under */
	uint64_t seed;
	uint32_t violated;            /* what it broke then (bit per invariant) */
};

struct corpus {
	struct corpus_entry *entries;
	size_t n;
};

/* Keeps seed of sc (run under vs, breaking violated) in dir, created when
 * missing, as DIR/NAME-VARIANT-SEED.yaml; an entry already there is left
 * as it is. RESULT_ERROR with err filled when it cannot be written. */
MUST_USE enum result corpus_add(const char *dir, const struct scenario *sc,
                                const struct variant_set *vs, uint64_t seed,
                                uint32_t violated, char *err, size_t errsize);

/* Loads every entry of dir (none when dir does not exist yet), in file
 * name order. RESULT_REJECT with err naming the file when one is not an
 * entry or not a valid scenario; *out is written only on success. */
MUST_USE enum result corpus_load(const char *dir, struct corpus *out, char *err,
                                 size_t errsize);
void corpus_fini(struct corpus *c);   /* accepts NULL */

#endif
