/* harness/shard.h - which slice of the seeds one machine of a sharded run
 * owns: shard I of N (1-based, as CI tools count), the fixed assignment of a
 * (scenario, seed) to its shard, and reading I and N from the environment
 * of the engine that started us (--shard auto). Running seeds is the
 * runner's job; merging the shards' reports is reports/'s. */
#ifndef HARNESS_SHARD_H
#define HARNESS_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/result.h"

#define SHARD_COUNT_MAX 100000u   /* shards of one run */
#define SHARD_SOURCE_MAX 160      /* bytes of the "found in" description */

/* A shard of a run; count 0 means the run is not sharded. */
struct shard {
	unsigned index;   /* 1 .. count */
	unsigned count;
};

/* Parses "I/N" with 1 <= I <= N <= SHARD_COUNT_MAX. False with err filled
 * (what was wrong, the text quoted) otherwise. */
bool shard_parse(const char *text, struct shard *out, char *err, size_t errsize);

/* getenv, or a table in the tests: the value of name or NULL (not to be
 * written to). */
typedef char *shard_getenv_fn(const char *name);

/* --shard auto: the shard from the first engine whose variables are set,
 * in this order: FAULTLINE_SHARD=I/N, Kubernetes Indexed Job
 * (JOB_COMPLETION_INDEX 0-based; N from count_opt when non-zero, else
 * FAULTLINE_SHARD_COUNT), GitLab (CI_NODE_INDEX 1-based, CI_NODE_TOTAL),
 * Buildkite (BUILDKITE_PARALLEL_JOB 0-based, BUILDKITE_PARALLEL_JOB_COUNT),
 * Slurm job array (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN + 1 of
 * SLURM_ARRAY_TASK_COUNT). On RESULT_OK *out is set and source says which
 * engine and variables it came from. RESULT_REJECT with err filled when no
 * engine's variables are set (never a silent full run) or when a value is
 * not a number or out of range (the variable named). */
MUST_USE enum result shard_from_env(shard_getenv_fn *get, unsigned count_opt,
                                    struct shard *out, char *source, size_t srcsize,
                                    char *err, size_t errsize);

/* The shard (1 .. count) that runs seed of the scenario named scenario:
 * consecutive seeds go round the shards, each scenario starting at its own
 * offset, so every shard gets within one seed of count/N seeds of every
 * scenario and the spare seeds of different scenarios land on different
 * shards. count must be at least 1. */
unsigned shard_of(const char *scenario, uint64_t seed, unsigned count);

/* Whether the shard runs seed of scenario; every seed when not sharded. */
bool shard_holds(const struct shard *s, const char *scenario, uint64_t seed);

/* "3/8", or "" when not sharded. */
void shard_format(const struct shard *s, char *buf, size_t size);

#endif
