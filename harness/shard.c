/* harness/shard.c - shard I of N: parsing, the (scenario, seed) -> shard
 * assignment, and the engines' environment variables for --shard auto.
 * Pure functions: the environment is read through the caller's getenv. */
#include "harness/shard.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"

/* A decimal number in [min, max], digits only (no sign, no space). */
static bool shard_number(const char *s, unsigned long long min, unsigned long long max,
                         unsigned long long *out)
{
	if (s == NULL || s[0] == '\0')
		return false;
	unsigned long long v = 0;
	for (size_t i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 20)
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (ULLONG_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool shard_parse(const char *text, struct shard *out, char *err, size_t errsize)
{
	ASSERT(out != NULL);
	char buf[32];
	const char *slash = text ? strchr(text, '/') : NULL;
	if (slash == NULL || strlen(text) >= sizeof buf) {
		snprintf(err, errsize, "wants I/N (shard I of N, 1 <= I <= N), not '%s'",
		         text ? text : "");
		return false;
	}
	memcpy(buf, text, (size_t)(slash - text));
	buf[slash - text] = '\0';
	unsigned long long i, n;
	if (!shard_number(slash + 1, 1, SHARD_COUNT_MAX, &n) || !shard_number(buf, 1, n, &i)) {
		snprintf(err, errsize, "wants I/N with 1 <= I <= N <= %u, not '%s'",
		         SHARD_COUNT_MAX, text);
		return false;
	}
	out->index = (unsigned)i;
	out->count = (unsigned)n;
	return true;
}

/* One engine's variables: the index (with its base) and the count. */
struct shard_engine {
	const char *name;
	const char *index_var;
	unsigned base;            /* what the first shard's index is */
	const char *count_var;    /* NULL: from --shard-count or FAULTLINE_SHARD_COUNT */
	const char *base_var;     /* a variable holding the base instead, or NULL */
};

static const struct shard_engine shard_engines[] = {
	{"Kubernetes Indexed Job", "JOB_COMPLETION_INDEX", 0, NULL, NULL},
	{"GitLab parallel", "CI_NODE_INDEX", 1, "CI_NODE_TOTAL", NULL},
	{"Buildkite parallelism", "BUILDKITE_PARALLEL_JOB", 0, "BUILDKITE_PARALLEL_JOB_COUNT", NULL},
	{"Slurm job array", "SLURM_ARRAY_TASK_ID", 1, "SLURM_ARRAY_TASK_COUNT",
	 "SLURM_ARRAY_TASK_MIN"},
};

static bool shard_set(const char *v)
{
	return v != NULL && v[0] != '\0';
}

static enum result shard_from_engine(shard_getenv_fn *get, const struct shard_engine *e,
                                     unsigned count_opt, struct shard *out, char *source,
                                     size_t srcsize, char *err, size_t errsize)
{
	const char *iv = get(e->index_var);
	const char *count_var = e->count_var;
	const char *cv;
	unsigned long long n, raw, base = e->base;
	if (count_var == NULL && count_opt > 0) {
		n = count_opt;
		cv = NULL;
	} else {
		if (count_var == NULL)
			count_var = "FAULTLINE_SHARD_COUNT";
		cv = get(count_var);
		if (!shard_set(cv)) {
			snprintf(err, errsize, "--shard auto: %s found %s=%s but not %s%s", e->name,
			         e->index_var, iv, count_var,
			         e->count_var == NULL ? " (or --shard-count N)" : "");
			return RESULT_REJECT;
		}
		if (!shard_number(cv, 1, SHARD_COUNT_MAX, &n)) {
			snprintf(err, errsize, "--shard auto: %s=%s is not a shard count from 1 to %u",
			         count_var, cv, SHARD_COUNT_MAX);
			return RESULT_REJECT;
		}
	}
	const char *bv = e->base_var ? get(e->base_var) : NULL;
	if (shard_set(bv) && !shard_number(bv, 0, UINT32_MAX, &base)) {
		snprintf(err, errsize, "--shard auto: %s=%s is not a number", e->base_var, bv);
		return RESULT_REJECT;
	}
	if (!shard_number(iv, base, base + n - 1, &raw)) {
		snprintf(err, errsize, "--shard auto: %s=%s is not a shard index from %llu to %llu "
		         "(%s of %llu)", e->index_var, iv, base, base + n - 1, e->name, n);
		return RESULT_REJECT;
	}
	out->index = (unsigned)(raw - base + 1);
	out->count = (unsigned)n;
	if (cv != NULL)
		snprintf(source, srcsize, "%s (%s=%s, %s=%s%s%s)", e->name, e->index_var, iv,
		         count_var, cv, shard_set(bv) ? ", base " : "", shard_set(bv) ? bv : "");
	else
		snprintf(source, srcsize, "%s (%s=%s, --shard-count %u)", e->name, e->index_var,
		         iv, count_opt);
	return RESULT_OK;
}

enum result shard_from_env(shard_getenv_fn *get, unsigned count_opt, struct shard *out,
                           char *source, size_t srcsize, char *err, size_t errsize)
{
	ASSERT(get != NULL);
	ASSERT(out != NULL);
	const char *fs = get("FAULTLINE_SHARD");
	if (shard_set(fs)) {
		char why[160];
		if (!shard_parse(fs, out, why, sizeof why)) {
			snprintf(err, errsize, "--shard auto: FAULTLINE_SHARD %s", why);
			return RESULT_REJECT;
		}
		snprintf(source, srcsize, "FAULTLINE_SHARD=%s", fs);
		return RESULT_OK;
	}
	for (size_t k = 0; k < sizeof shard_engines / sizeof shard_engines[0]; k++) {
		if (shard_set(get(shard_engines[k].index_var)))
			return shard_from_engine(get, &shard_engines[k], count_opt, out, source,
			                         srcsize, err, errsize);
	}
	snprintf(err, errsize, "--shard auto: no shard variables found (FAULTLINE_SHARD, "
	         "JOB_COMPLETION_INDEX, CI_NODE_INDEX, BUILDKITE_PARALLEL_JOB, "
	         "SLURM_ARRAY_TASK_ID); give --shard I/N, or run without --shard for all seeds");
	return RESULT_REJECT;
}

/* FNV-1a: a stable hash of the name, the same on every machine. */
static uint64_t shard_name_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; s[i] != '\0' && i < 4096; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

unsigned shard_of(const char *scenario, uint64_t seed, unsigned count)
{
	ASSERT(scenario != NULL);
	ASSERT(count >= 1);
	/* balance: round-robin within a scenario, offset between scenarios. */
	uint64_t k = (shard_name_hash(scenario) % count + seed % count) % count;
	return (unsigned)k + 1;
}

bool shard_holds(const struct shard *s, const char *scenario, uint64_t seed)
{
	ASSERT(s != NULL);
	if (s->count == 0)
		return true;
	ASSERT(s->index >= 1);
	ASSERT(s->index <= s->count);
	return shard_of(scenario, seed, s->count) == s->index;
}

void shard_format(const struct shard *s, char *buf, size_t size)
{
	if (s->count == 0)
		snprintf(buf, size, "%s", "");
	else
		snprintf(buf, size, "%u/%u", s->index, s->count);
}
