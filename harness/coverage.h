/* harness/coverage.h - what a run reached: how often each fault of the
 * catalogue fired (target, operation, kind), how each server answered the
 * operations it applied (target, operation, class), and the requests'
 * outcomes. Counted per seed, summed per result, named for reports and for
 * a scenario's expect_reached list. */
#ifndef HARNESS_COVERAGE_H
#define HARNESS_COVERAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/fault.h"
#include "sim/world_backend.h"

#define COVERAGE_OPS_MAX 32       /* operation names per target, "other" first */
#define COVERAGE_KEY_MAX 80       /* bytes of a key, "postgres.customer_insert=23505" */

struct coverage {
	uint64_t faults[FAULT_TARGET_COUNT][COVERAGE_OPS_MAX][FAULT_KIND_COUNT];
	uint64_t applied[FAULT_TARGET_COUNT][COVERAGE_OPS_MAX][WA_COUNT];
	/* operations the core issued, faulted or not (faultline ops) */
	uint64_t issued[FAULT_TARGET_COUNT][COVERAGE_OPS_MAX];
};

/* The operations of target, index 0 being "other" (an operation of no
 * name below, and restarts). */
size_t coverage_op_count(enum fault_target t);
const char *coverage_op_name(enum fault_target t, size_t i);
/* Index of op (0 when unknown). */
size_t coverage_op_index(enum fault_target t, const char *op);
const char *coverage_class_name(enum world_apply_class c);

void coverage_add(struct coverage *into, const struct coverage *from);

/* A key names one cell: "redis.expire:timeout-applied" (a fault fired),
 * "postgres.event_insert_new=no-rows" (an answer a server gave), or an
 * outcome "ratelimit.rejected". True when key is one of them. */
bool coverage_key_valid(const char *key);
/* How often the cell of key was reached (outcomes from outcomes[],
 * indexed as enum world_outcome). key must be valid. */
/* An expect_reached entry is a coverage key, or VARIANT/KEY for a cell only
 * that variant reaches (legacy, seed or hardened, every fix of the result
 * under it). Returns the key when the entry applies to a result whose
 * variants read `variant` (variant_set_format), else NULL. */
const char *coverage_expect_key(const char *entry, const char *variant);
bool coverage_expect_valid(const char *entry);

uint64_t coverage_count(const struct coverage *c, const uint64_t *outcomes, const char *key);

#endif
