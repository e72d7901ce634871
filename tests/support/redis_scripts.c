/* tests/support/redis_scripts.c - the Redis operation scripts as data, each
 * reply the one redis-server 7 gives (see the header). Ranges cover only
 * the milliseconds a real server lets pass between two commands. Not a
 * runner: suites bring their own, for the model or a server. */
#include "tests/support/redis_scripts.h"

#include <string.h>

int redis_step_split(const char *line, char *buf, const char *argv[KV_ARGV_MAX])
{
	size_t len = strlen(line);
	if (len >= REDIS_STEP_LINE_MAX)
		return -1;
	memcpy(buf, line, len + 1);
	int argc = 0;
	char *p = buf;
	while (*p != '\0') {
		if (argc == KV_ARGV_MAX)
			return -1;
		argv[argc++] = p;
		char *sp = strchr(p, ' ');
		if (sp == NULL)
			break;
		*sp = '\0';
		p = sp + 1;
	}
	return argc;
}

int redis_step_ncmds(const struct redis_step *step)
{
	int n = 0;
	while (n < KV_TXN_MAX && step->cmds[n] != NULL)
		n++;
	return n;
}

#define OK {.kind = REDIS_WANT_STATUS, .text = "OK"}
#define INT(v) {.kind = REDIS_WANT_INT, .lo = (v), .hi = (v)}
#define INT_IN(a, b) {.kind = REDIS_WANT_INT, .lo = (a), .hi = (b)}
#define BULK(s) {.kind = REDIS_WANT_BULK, .text = (s)}
#define NIL {.kind = REDIS_WANT_NIL}
#define ERR(s) {.kind = REDIS_WANT_ERROR, .text = (s)}
#define ARRAY {.kind = REDIS_WANT_ARRAY}
#define SCRIPT(var, steps) \
	const struct redis_script var = {#var, (int)(sizeof(steps) / sizeof((steps)[0])), (steps)}

static const char ERR_NOT_INT[] = "ERR value is not an integer or out of range";
static const char ERR_EXECABORT[] = "EXECABORT Transaction discarded because of previous errors.";

/* NX sets only a missing key, XX only an existing one; a refusal is nil. */
static const struct redis_step set_nx_xx[] = {
	{.cmds = {"SET k v1 NX"}, .want = OK},
	{.cmds = {"SET k v2 NX"}, .want = NIL},
	{.cmds = {"GET k"}, .want = BULK("v1")},
	{.cmds = {"SET k v3 XX"}, .want = OK},
	{.cmds = {"GET k"}, .want = BULK("v3")},
	{.cmds = {"SET other v XX"}, .want = NIL},
	{.cmds = {"GET other"}, .want = NIL},
};
SCRIPT(REDIS_SCRIPT_SET_NX_XX, set_nx_xx);

/* PX and EX set a TTL, a plain SET drops it, KEEPTTL keeps it, a refused
 * SET NX PX leaves it alone; -1 no TTL, -2 no key. */
static const struct redis_step set_expiry_options[] = {
	{.cmds = {"SET k v PX 5000"}, .want = OK},
	{.cmds = {"PTTL k"}, .want = INT_IN(4900, 5000)},
	{.cmds = {"SET k v EX 10"}, .want = OK},
	{.cmds = {"TTL k"}, .want = INT(10)},
	{.cmds = {"SET k w"}, .want = OK},
	{.cmds = {"TTL k"}, .want = INT(-1)},
	{.cmds = {"PTTL k"}, .want = INT(-1)},
	{.cmds = {"SET k v PX 5000"}, .want = OK},
	{.cmds = {"SET k x KEEPTTL"}, .want = OK},
	{.cmds = {"GET k"}, .want = BULK("x")},
	{.cmds = {"PTTL k"}, .want = INT_IN(4900, 5000)},
	{.cmds = {"SET k y NX PX 100"}, .want = NIL},
	{.cmds = {"PTTL k"}, .want = INT_IN(4900, 5000)},
	{.cmds = {"TTL missing"}, .want = INT(-2)},
	{.cmds = {"PTTL missing"}, .want = INT(-2)},
};
SCRIPT(REDIS_SCRIPT_SET_EXPIRY_OPTIONS, set_expiry_options);

/* TTL is the remaining time rounded to the nearest second: 1.6 s reads 2
 * (not truncated), 1.4 s reads 1 (not rounded up); after 150 ms, 1.45 s
 * reads 1. Boundaries at .5 are avoided: a real server's drift would make
 * them a coin toss. */
static const struct redis_step ttl_rounds_to_nearest_second[] = {
	{.cmds = {"SET a v PX 1600"}, .want = OK},
	{.cmds = {"SET b v PX 1400"}, .want = OK},
	{.cmds = {"TTL a"}, .want = INT(2)},
	{.cmds = {"TTL b"}, .want = INT(1)},
	{.cmds = {"PTTL a"}, .want = INT_IN(1500, 1600)},
	{.wait_ms = 150, .cmds = {"PTTL a"}, .want = INT_IN(1300, 1450)},
	{.cmds = {"TTL a"}, .want = INT(1)},
};
SCRIPT(REDIS_SCRIPT_TTL_ROUNDS_TO_NEAREST_SECOND, ttl_rounds_to_nearest_second);

/* A key is gone once its time has passed: GET, TTL, PTTL and INCR (which
 * starts a new key, without a TTL) all see it missing. */
static const struct redis_step expires_after_wait[] = {
	{.cmds = {"SET k v PX 60"}, .want = OK},
	{.cmds = {"SET keep v PX 5000"}, .want = OK},
	{.cmds = {"SET c 5 PX 60"}, .want = OK},
	{.cmds = {"SET e v"}, .want = OK},
	{.cmds = {"PEXPIRE e 60"}, .want = INT(1)},
	{.cmds = {"GET k"}, .want = BULK("v")},
	{.wait_ms = 100, .cmds = {"GET k"}, .want = NIL},
	{.cmds = {"TTL k"}, .want = INT(-2)},
	{.cmds = {"PTTL k"}, .want = INT(-2)},
	{.cmds = {"GET e"}, .want = NIL},
	{.cmds = {"GET keep"}, .want = BULK("v")},
	{.cmds = {"INCR c"}, .want = INT(1)},
	{.cmds = {"TTL c"}, .want = INT(-1)},
};
SCRIPT(REDIS_SCRIPT_EXPIRES_AFTER_WAIT, expires_after_wait);

/* EXPIRE NX sets a TTL only where there is none, XX only where there is
 * one; on a missing key every form answers 0. */
static const struct redis_step expire_nx_xx[] = {
	{.cmds = {"SET k v"}, .want = OK},
	{.cmds = {"EXPIRE k 100 XX"}, .want = INT(0)},
	{.cmds = {"TTL k"}, .want = INT(-1)},
	{.cmds = {"EXPIRE k 100 NX"}, .want = INT(1)},
	{.cmds = {"TTL k"}, .want = INT(100)},
	{.cmds = {"EXPIRE k 200 NX"}, .want = INT(0)},
	{.cmds = {"TTL k"}, .want = INT(100)},
	{.cmds = {"PEXPIRE k 50000 XX"}, .want = INT(1)},
	{.cmds = {"PTTL k"}, .want = INT_IN(49900, 50000)},
	{.cmds = {"PEXPIRE k 60000 NX"}, .want = INT(0)},
	{.cmds = {"EXPIRE missing 10"}, .want = INT(0)},
	{.cmds = {"EXPIRE missing 10 NX"}, .want = INT(0)},
	{.cmds = {"PEXPIRE missing 10 XX"}, .want = INT(0)},
};
SCRIPT(REDIS_SCRIPT_EXPIRE_NX_XX, expire_nx_xx);

/* GT only lengthens, LT only shortens; a key without a TTL counts as an
 * infinite TTL (GT refuses, LT sets). */
static const struct redis_step expire_gt_lt[] = {
	{.cmds = {"SET k v"}, .want = OK},
	{.cmds = {"EXPIRE k 100 GT"}, .want = INT(0)},
	{.cmds = {"TTL k"}, .want = INT(-1)},
	{.cmds = {"EXPIRE k 100 LT"}, .want = INT(1)},
	{.cmds = {"TTL k"}, .want = INT(100)},
	{.cmds = {"EXPIRE k 50 GT"}, .want = INT(0)},
	{.cmds = {"EXPIRE k 200 GT"}, .want = INT(1)},
	{.cmds = {"TTL k"}, .want = INT(200)},
	{.cmds = {"EXPIRE k 300 LT"}, .want = INT(0)},
	{.cmds = {"PEXPIRE k 150000 LT"}, .want = INT(1)},
	{.cmds = {"TTL k"}, .want = INT(150)},
	{.cmds = {"EXPIRE k 10 NX GT"},
	 .want = ERR("ERR NX and XX, GT or LT options at the same time are not compatible")},
	{.cmds = {"EXPIRE k 10 GT LT"},
	 .want = ERR("ERR GT and LT options at the same time are not compatible")},
	{.cmds = {"TTL k"}, .want = INT(150)},
};
SCRIPT(REDIS_SCRIPT_EXPIRE_GT_LT, expire_gt_lt);

/* A TTL already over deletes the key (and counts as set); GT with 0 on a
 * key that has a longer TTL is refused and the key stays. */
static const struct redis_step expire_non_positive_deletes[] = {
	{.cmds = {"SET k v"}, .want = OK},
	{.cmds = {"EXPIRE k 0"}, .want = INT(1)},
	{.cmds = {"GET k"}, .want = NIL},
	{.cmds = {"TTL k"}, .want = INT(-2)},
	{.cmds = {"SET k v"}, .want = OK},
	{.cmds = {"PEXPIRE k -5"}, .want = INT(1)},
	{.cmds = {"GET k"}, .want = NIL},
	{.cmds = {"SET k v"}, .want = OK},
	{.cmds = {"EXPIRE k -1 NX"}, .want = INT(1)},
	{.cmds = {"GET k"}, .want = NIL},
	{.cmds = {"SET k v PX 5000"}, .want = OK},
	{.cmds = {"EXPIRE k 0 GT"}, .want = INT(0)},
	{.cmds = {"GET k"}, .want = BULK("v")},
};
SCRIPT(REDIS_SCRIPT_EXPIRE_NON_POSITIVE_DELETES, expire_non_positive_deletes);

/* INCR on a missing key starts at 1 without a TTL; on a number it adds one. */
static const struct redis_step incr_missing_and_existing[] = {
	{.cmds = {"INCR n"}, .want = INT(1)},
	{.cmds = {"INCR n"}, .want = INT(2)},
	{.cmds = {"GET n"}, .want = BULK("2")},
	{.cmds = {"TTL n"}, .want = INT(-1)},
	{.cmds = {"SET n 41"}, .want = OK},
	{.cmds = {"INCR n"}, .want = INT(42)},
	{.cmds = {"SET neg -5"}, .want = OK},
	{.cmds = {"INCR neg"}, .want = INT(-4)},
};
SCRIPT(REDIS_SCRIPT_INCR_MISSING_AND_EXISTING, incr_missing_and_existing);

/* INCR changes the value, not the key: its TTL stays (the rate limiter's
 * window depends on it). */
static const struct redis_step incr_keeps_ttl[] = {
	{.cmds = {"SET c 10 PX 5000"}, .want = OK},
	{.cmds = {"INCR c"}, .want = INT(11)},
	{.cmds = {"PTTL c"}, .want = INT_IN(4900, 5000)},
	{.cmds = {"INCR w"}, .want = INT(1)},
	{.cmds = {"EXPIRE w 60"}, .want = INT(1)},
	{.wait_ms = 20, .cmds = {"INCR w"}, .want = INT(2)},
	{.cmds = {"TTL w"}, .want = INT(60)},
};
SCRIPT(REDIS_SCRIPT_INCR_KEEPS_TTL, incr_keeps_ttl);

/* INCR refuses what is not a 64-bit integer in canonical form, and an
 * overflow; the value stays as it was. */
static const struct redis_step incr_errors[] = {
	{.cmds = {"SET s abc"}, .want = OK},
	{.cmds = {"INCR s"}, .want = ERR(ERR_NOT_INT)},
	{.cmds = {"GET s"}, .want = BULK("abc")},
	{.cmds = {"SET f 1.5"}, .want = OK},
	{.cmds = {"INCR f"}, .want = ERR(ERR_NOT_INT)},
	{.cmds = {"SET z 01"}, .want = OK},
	{.cmds = {"INCR z"}, .want = ERR(ERR_NOT_INT)},
	{.cmds = {"SET m 9223372036854775807"}, .want = OK},
	{.cmds = {"INCR m"}, .want = ERR("ERR increment or decrement would overflow")},
	{.cmds = {"GET m"}, .want = BULK("9223372036854775807")},
};
SCRIPT(REDIS_SCRIPT_INCR_ERRORS, incr_errors);

/* The hardened rate limiter's unit: INCR and PEXPIRE NX in one EXEC. The
 * first sets the window, the second keeps it. */
static const struct redis_step multi_exec_ratelimit[] = {
	{.cmds = {"INCR rl", "PEXPIRE rl 60000 NX"}, .want = ARRAY, .elems = {INT(1), INT(1)}},
	{.cmds = {"INCR rl", "PEXPIRE rl 60000 NX"}, .want = ARRAY, .elems = {INT(2), INT(0)}},
	{.cmds = {"PTTL rl"}, .want = INT_IN(59800, 60000)},
	{.cmds = {"GET rl"}, .want = BULK("2")},
	{.cmds = {"INCR rl2", "EXPIRE rl2 60 NX", "TTL rl2"}, .want = ARRAY,
	 .elems = {INT(1), INT(1), INT(60)}},
};
SCRIPT(REDIS_SCRIPT_MULTI_EXEC_RATELIMIT, multi_exec_ratelimit);

/* An error at run time is one element of the array; the rest still runs. */
static const struct redis_step multi_exec_runtime_error[] = {
	{.cmds = {"SET s abc", "INCR s", "SET t 1"}, .want = ARRAY,
	 .elems = {OK, ERR(ERR_NOT_INT), OK}},
	{.cmds = {"GET t"}, .want = BULK("1")},
	{.cmds = {"GET s"}, .want = BULK("abc")},
};
SCRIPT(REDIS_SCRIPT_MULTI_EXEC_RUNTIME_ERROR, multi_exec_runtime_error);

/* An error found while queueing (arity, unknown command) discards the
 * whole transaction: EXECABORT, nothing ran. */
static const struct redis_step multi_exec_queue_error_aborts[] = {
	{.cmds = {"INCR q", "GET"}, .want = ERR(ERR_EXECABORT)},
	{.cmds = {"GET q"}, .want = NIL},
	{.cmds = {"SET q 1", "FOO q"}, .want = ERR(ERR_EXECABORT)},
	{.cmds = {"GET q"}, .want = NIL},
};
SCRIPT(REDIS_SCRIPT_MULTI_EXEC_QUEUE_ERROR_ABORTS, multi_exec_queue_error_aborts);

/* DEL counts the keys it removed: missing and expired keys count 0, a key
 * named twice once. */
static const struct redis_step del_counts[] = {
	{.cmds = {"SET a 1"}, .want = OK},
	{.cmds = {"SET b 2"}, .want = OK},
	{.cmds = {"SET x 3 PX 50"}, .want = OK},
	{.cmds = {"DEL a b c"}, .want = INT(2)},
	{.cmds = {"DEL a"}, .want = INT(0)},
	{.cmds = {"GET b"}, .want = NIL},
	{.cmds = {"SET a 1"}, .want = OK},
	{.cmds = {"DEL a a"}, .want = INT(1)},
	{.wait_ms = 80, .cmds = {"DEL x"}, .want = INT(0)},
};
SCRIPT(REDIS_SCRIPT_DEL_COUNTS, del_counts);

/* The error replies the fixes can meet, word for word. */
static const struct redis_step error_texts[] = {
	{.cmds = {"SET k v NX XX"}, .want = ERR("ERR syntax error")},
	{.cmds = {"SET k v EX 0"}, .want = ERR("ERR invalid expire time in 'set' command")},
	{.cmds = {"SET k v PX -5"}, .want = ERR("ERR invalid expire time in 'set' command")},
	{.cmds = {"GET"}, .want = ERR("ERR wrong number of arguments for 'get' command")},
	{.cmds = {"INCR"}, .want = ERR("ERR wrong number of arguments for 'incr' command")},
	{.cmds = {"FOO k"}, .want = ERR("ERR unknown command 'FOO', with args beginning with: 'k' ")},
	{.cmds = {"SET k 1"}, .want = OK},
	{.cmds = {"EXPIRE k abc"}, .want = ERR(ERR_NOT_INT)},
	{.cmds = {"EXPIRE k 10 FOO"}, .want = ERR("ERR Unsupported option FOO")},
	{.cmds = {"EXPIRE k 99999999999999999"},
	 .want = ERR("ERR invalid expire time in 'expire' command")},
	{.cmds = {"PEXPIRE k 9223372036854775807"},
	 .want = ERR("ERR invalid expire time in 'pexpire' command")},
	{.cmds = {"TTL k"}, .want = INT(-1)},
};
SCRIPT(REDIS_SCRIPT_ERROR_TEXTS, error_texts);

const struct redis_script *const REDIS_SCRIPTS_ALL[] = {
	&REDIS_SCRIPT_SET_NX_XX,
	&REDIS_SCRIPT_SET_EXPIRY_OPTIONS,
	&REDIS_SCRIPT_TTL_ROUNDS_TO_NEAREST_SECOND,
	&REDIS_SCRIPT_EXPIRES_AFTER_WAIT,
	&REDIS_SCRIPT_EXPIRE_NX_XX,
	&REDIS_SCRIPT_EXPIRE_GT_LT,
	&REDIS_SCRIPT_EXPIRE_NON_POSITIVE_DELETES,
	&REDIS_SCRIPT_INCR_MISSING_AND_EXISTING,
	&REDIS_SCRIPT_INCR_KEEPS_TTL,
	&REDIS_SCRIPT_INCR_ERRORS,
	&REDIS_SCRIPT_MULTI_EXEC_RATELIMIT,
	&REDIS_SCRIPT_MULTI_EXEC_RUNTIME_ERROR,
	&REDIS_SCRIPT_MULTI_EXEC_QUEUE_ERROR_ABORTS,
	&REDIS_SCRIPT_DEL_COUNTS,
	&REDIS_SCRIPT_ERROR_TEXTS,
};
const int REDIS_SCRIPTS_ALL_COUNT =
	(int)(sizeof REDIS_SCRIPTS_ALL / sizeof REDIS_SCRIPTS_ALL[0]);
