/* harness/coverage.c - names of the coverage cells and their lookup. The
 * operation names are those a fault rule's op can use (docs/scenarios.md);
 * Postgres's come from core's statement catalogue, so a new statement is
 * counted without an edit here. */
#include "harness/coverage.h"

#include <stdio.h>
#include <string.h>

#include "core/assert.h"
#include "core/sql.h"
#include "harness/world.h"

static const char *const redis_ops[] = {"other", "incr", "expire", "pexpire", "set",
                                        "get", "del", "ttl", "pttl", "exec"};
static const char *const pg_fixed_ops[] = {"other", "acquire", "begin", "commit", "rollback"};
static const char *const stripe_ops[] = {"other", "customers.create", "customers.search"};
static const char *const mail_ops[] = {"other", "send"};
static const char *const webhook_ops[] = {"other", "deliver"};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define PG_FIXED COUNT_OF(pg_fixed_ops)

_Static_assert(PG_FIXED + SQL_STMT_COUNT <= COVERAGE_OPS_MAX,
               "COVERAGE_OPS_MAX holds every Postgres statement");

static const char *const class_names[WA_COUNT] = {
	[WA_OK] = "ok", [WA_NIL] = "nil", [WA_INT_ONE] = "int-1", [WA_INT_OTHER] = "int-other",
	[WA_ROWS] = "rows", [WA_NO_ROWS] = "no-rows", [WA_UNIQUE_VIOLATION] = "23505",
	[WA_SERIALIZATION] = "40001", [WA_DEADLOCK] = "40P01", [WA_ERROR] = "error",
	[WA_HTTP_2XX] = "2xx", [WA_HTTP_409] = "409", [WA_HTTP_4XX] = "4xx",
	[WA_HTTP_5XX] = "5xx",
};

size_t coverage_op_count(enum fault_target t)
{
	switch (t) {
	case FAULT_TARGET_REDIS: return COUNT_OF(redis_ops);
	case FAULT_TARGET_POSTGRES: return PG_FIXED + SQL_STMT_COUNT;
	case FAULT_TARGET_STRIPE: return COUNT_OF(stripe_ops);
	case FAULT_TARGET_MAIL: return COUNT_OF(mail_ops);
	case FAULT_TARGET_WEBHOOK: return COUNT_OF(webhook_ops);
	case FAULT_TARGET_COUNT: break;
	}
	ASSERT(!"unknown fault target");
	return 0;
}

const char *coverage_op_name(enum fault_target t, size_t i)
{
	ASSERT(i < coverage_op_count(t));
	switch (t) {
	case FAULT_TARGET_REDIS: return redis_ops[i];
	case FAULT_TARGET_POSTGRES:
		return i < PG_FIXED ? pg_fixed_ops[i]
		                    : sql_stmt_get((enum sql_stmt)(i - PG_FIXED))->name;
	case FAULT_TARGET_STRIPE: return stripe_ops[i];
	case FAULT_TARGET_MAIL: return mail_ops[i];
	case FAULT_TARGET_WEBHOOK: return webhook_ops[i];
	case FAULT_TARGET_COUNT: break;
	}
	ASSERT(!"unknown fault target");
	return "";
}

size_t coverage_op_index(enum fault_target t, const char *op)
{
	ASSERT(op != NULL);
	size_t n = coverage_op_count(t);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(op, coverage_op_name(t, i)) == 0)
			return i;
	}
	return 0;
}

const char *coverage_class_name(enum world_apply_class c)
{
	ASSERT((unsigned)c < WA_COUNT);
	return class_names[c];
}

void coverage_add(struct coverage *into, const struct coverage *from)
{
	for (int t = 0; t < FAULT_TARGET_COUNT; t++) {
		for (size_t i = 0; i < COVERAGE_OPS_MAX; i++) {
			for (int k = 0; k < FAULT_KIND_COUNT; k++)
				into->faults[t][i][k] += from->faults[t][i][k];
			for (int c = 0; c < WA_COUNT; c++)
				into->applied[t][i][c] += from->applied[t][i][c];
			into->issued[t][i] += from->issued[t][i];
		}
	}
}

/* key as (target, op, kind or class): false when it names no such cell. */
static bool key_split(const char *key, enum fault_target *t, size_t *op, bool *fault,
                      int *what)
{
	const char *dot = strchr(key, '.');
	const char *sep = strpbrk(key, ":=");
	if (dot == NULL || sep == NULL || sep < dot)
		return false;
	char target[16], opname[COVERAGE_KEY_MAX];
	size_t tl = (size_t)(dot - key), ol = (size_t)(sep - dot - 1);
	if (tl >= sizeof target || ol >= sizeof opname || ol == 0)
		return false;
	memcpy(target, key, tl);
	target[tl] = '\0';
	memcpy(opname, dot + 1, ol);
	opname[ol] = '\0';
	if (!fault_target_parse(target, t))
		return false;
	*op = coverage_op_index(*t, opname);
	if (*op == 0 && strcmp(opname, "other") != 0)
		return false;
	*fault = *sep == ':';
	if (*fault) {
		enum fault_kind k;
		if (!fault_kind_parse(sep + 1, &k))
			return false;
		*what = (int)k;
		return true;
	}
	for (int c = 0; c < WA_COUNT; c++) {
		if (strcmp(sep + 1, class_names[c]) == 0) {
			*what = c;
			return true;
		}
	}
	return false;
}

static int outcome_index(const char *key)
{
	for (int o = 0; o < WO_COUNT; o++) {
		if (strcmp(key, world_outcome_name((enum world_outcome)o)) == 0)
			return o;
	}
	return -1;
}

bool coverage_key_valid(const char *key)
{
	ASSERT(key != NULL);
	enum fault_target t;
	size_t op;
	bool fault;
	int what;
	return outcome_index(key) >= 0 || key_split(key, &t, &op, &fault, &what);
}

static const char *const expect_variants[] = {"legacy", "seed", "hardened"};

/* The length of the VARIANT/ prefix of an entry, 0 without one. */
static size_t expect_prefix(const char *entry)
{
	const char *slash = strchr(entry, '/');
	return slash != NULL ? (size_t)(slash - entry) + 1 : 0;
}

bool coverage_expect_valid(const char *entry)
{
	ASSERT(entry != NULL);
	size_t n = expect_prefix(entry);
	if (n == 0)
		return coverage_key_valid(entry);
	bool known = false;
	for (size_t i = 0; i < sizeof expect_variants / sizeof *expect_variants; i++)
		known = known || (strlen(expect_variants[i]) == n - 1 &&
		                  strncmp(entry, expect_variants[i], n - 1) == 0);
	return known && coverage_key_valid(entry + n);
}

const char *coverage_expect_key(const char *entry, const char *variant)
{
	ASSERT(entry != NULL && variant != NULL);
	size_t n = expect_prefix(entry);
	if (n == 0)
		return entry;
	if (strlen(variant) != n - 1 || strncmp(entry, variant, n - 1) != 0)
		return NULL;
	return entry + n;
}

uint64_t coverage_count(const struct coverage *c, const uint64_t *outcomes, const char *key)
{
	ASSERT(c != NULL);
	int o = outcome_index(key);
	if (o >= 0)
		return outcomes[o];
	enum fault_target t;
	size_t op;
	bool fault;
	int what;
	bool ok = key_split(key, &t, &op, &fault, &what);
	ASSERT(ok);
	return fault ? c->faults[t][op][what] : c->applied[t][op][what];
}
