/* tests/support/redis_scripts.h - Redis operation scripts as data: commands,
 * waits between them, and the replies Redis 7 gives. tests/check_conformance.c
 * replays each script against the model and against a real redis-server and
 * compares. Replies that depend on elapsed time are ranges, so a real
 * server's few milliseconds of drift still match. Data only, no runner. */
#ifndef TESTS_SUPPORT_REDIS_SCRIPTS_H
#define TESTS_SUPPORT_REDIS_SCRIPTS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/env.h" /* KV_ARGV_MAX, KV_TXN_MAX */

#define REDIS_STEP_LINE_MAX 128  /* bytes of one command line */
#define REDIS_STEP_WAIT_MS_MAX 200 /* longest wait: keeps the suite quick */

enum redis_want_kind {
	REDIS_WANT_STATUS,  /* +text, exactly */
	REDIS_WANT_INT,     /* :n with lo <= n <= hi */
	REDIS_WANT_BULK,    /* $text, exactly */
	REDIS_WANT_NIL,
	REDIS_WANT_ERROR,   /* -text, exactly */
	REDIS_WANT_ARRAY,   /* EXEC's array: elems[0 .. ncmds-1] */
};

struct redis_want {
	enum redis_want_kind kind;
	long long lo, hi;
	const char *text;
};

struct redis_step {
	uint32_t wait_ms;   /* time to let pass before the step: the model's
	                     * clock moves, a real test sleeps */
	/* One command as words separated by single spaces ("SET k v PX 100");
	 * with cmds[1] set, cmds[0..] run as one MULTI/EXEC. */
	const char *cmds[KV_TXN_MAX];
	struct redis_want want;               /* the reply (EXEC's, in a
	                                       * transaction) */
	struct redis_want elems[KV_TXN_MAX];  /* REDIS_WANT_ARRAY: per command */
};

struct redis_script {
	const char *name;
	int nsteps;
	const struct redis_step *steps;
};

/* Splits a step's command line into argv (pointers into buf, which must
 * hold REDIS_STEP_LINE_MAX bytes). Returns argc, or -1 when the line is
 * too long or has more than KV_ARGV_MAX words (a bug in a script). */
int redis_step_split(const char *line, char *buf, const char *argv[KV_ARGV_MAX]);

/* The commands in step (1 for a plain command). */
int redis_step_ncmds(const struct redis_step *step);

extern const struct redis_script REDIS_SCRIPT_SET_NX_XX;
extern const struct redis_script REDIS_SCRIPT_SET_EXPIRY_OPTIONS;
extern const struct redis_script REDIS_SCRIPT_TTL_ROUNDS_TO_NEAREST_SECOND;
extern const struct redis_script REDIS_SCRIPT_EXPIRES_AFTER_WAIT;
extern const struct redis_script REDIS_SCRIPT_EXPIRE_NX_XX;
extern const struct redis_script REDIS_SCRIPT_EXPIRE_GT_LT;
extern const struct redis_script REDIS_SCRIPT_EXPIRE_NON_POSITIVE_DELETES;
extern const struct redis_script REDIS_SCRIPT_INCR_MISSING_AND_EXISTING;
extern const struct redis_script REDIS_SCRIPT_INCR_KEEPS_TTL;
extern const struct redis_script REDIS_SCRIPT_INCR_ERRORS;
extern const struct redis_script REDIS_SCRIPT_MULTI_EXEC_RATELIMIT;
extern const struct redis_script REDIS_SCRIPT_MULTI_EXEC_RUNTIME_ERROR;
extern const struct redis_script REDIS_SCRIPT_MULTI_EXEC_QUEUE_ERROR_ABORTS;
extern const struct redis_script REDIS_SCRIPT_DEL_COUNTS;
extern const struct redis_script REDIS_SCRIPT_ERROR_TEXTS;

/* Every script above, for suites that replay them all. */
extern const struct redis_script *const REDIS_SCRIPTS_ALL[];
extern const int REDIS_SCRIPTS_ALL_COUNT;

#endif
