/* tests/support/pg_scripts.h - operation scripts for PostgreSQL as data: which
 * session runs which catalogue statement, and the exact outcome PostgreSQL 15
 * gives under READ COMMITTED. tests/check_pg_model.c replays them against the
 * model; the conformance suite replays the same scripts against a real
 * server. Data and schema facts only, no runner. */
#ifndef TESTS_SUPPORT_PG_SCRIPTS_H
#define TESTS_SUPPORT_PG_SCRIPTS_H

#include <stdbool.h>

#include "core/env.h" /* SQL_PARAMS_MAX */
#include "core/sql.h"

#define PG_SCRIPT_SESSIONS_MAX 3
#define PG_SCRIPT_STEP_US 1000000ULL  /* step i runs at virtual time i s */

enum pg_step_kind {
	PG_STEP_SEED_ORDER, /* committed orders row: params[0] order_id,
	                     * params[1] payment_intent_id, 'pending', 0 */
	PG_STEP_EXEC,       /* session runs stmt with params */
	PG_STEP_RESUME,     /* session's blocked statement completes */
	PG_STEP_CLOSE,      /* session's connection dies */
	PG_STEP_CHECK,      /* committed state: the row of table whose first
	                     * column is params[0], its column */
};

struct pg_step {
	enum pg_step_kind kind;
	int session;                          /* 0 .. nsessions-1 */
	enum sql_stmt stmt;
	const char *params[SQL_PARAMS_MAX];   /* NULL entries are SQL NULL */

	/* Outcome of EXEC and RESUME. */
	bool blocked;                         /* the statement waits */
	const char *sqlstate;                 /* NULL: "00000" */
	int nrows;                            /* CHECK: 0 no such row, 1 row */
	long long affected;
	const char *value;                    /* the one cell when nrows is 1 */
	bool value_null;                      /* ... which is SQL NULL */
	bool value_is_time;                   /* value is seconds of virtual
	                                       * time: a real server's clock
	                                       * differs, check only non-NULL */
	bool commit_rolled_back;              /* COMMIT answered "ROLLBACK" */
	unsigned unblocks;                    /* bit i: session i's blocked
	                                       * statement may go on after this
	                                       * step, and no other */
	/* CHECK */
	const char *table;
	const char *column;
};

struct pg_script {
	const char *name;
	int nsessions;
	int nsteps;
	const struct pg_step *steps;
};

/* The column number of column in table of SQL_SCHEMA, or -1. */
int pg_script_column(const char *table, const char *column);

/* Scripts, one rule of core/sql.h and the brief each. */
extern const struct pg_script PG_SCRIPT_READ_COMMITTED_VISIBILITY;
extern const struct pg_script PG_SCRIPT_INSERT_NOTHING_WAITS_THEN_CONFLICTS;
extern const struct pg_script PG_SCRIPT_INSERT_NOTHING_WAITS_THEN_INSERTS;
extern const struct pg_script PG_SCRIPT_PLAIN_INSERT_WAITS_THEN_23505;
extern const struct pg_script PG_SCRIPT_PLAIN_INSERT_WAITS_THEN_INSERTS;
extern const struct pg_script PG_SCRIPT_PLAIN_INSERT_COMMITTED_23505;
extern const struct pg_script PG_SCRIPT_SECOND_UNIQUE_KEY_23505;
extern const struct pg_script PG_SCRIPT_UPSERT_WAITS_THEN_UPDATES;
extern const struct pg_script PG_SCRIPT_UPSERT_WAITS_FOR_LOCKED_ROW;
extern const struct pg_script PG_SCRIPT_INSERT_WAITS_FOR_DELETE_COMMIT;
extern const struct pg_script PG_SCRIPT_INSERT_WAITS_FOR_DELETE_ROLLBACK;
extern const struct pg_script PG_SCRIPT_UPDATE_RECHECKS_WHERE_ON_COMMIT;
extern const struct pg_script PG_SCRIPT_UPDATE_PROCEEDS_ON_ROLLBACK;
extern const struct pg_script PG_SCRIPT_UPDATE_USES_NEWEST_VERSION;
extern const struct pg_script PG_SCRIPT_UPDATE_SKIPS_UNCOMMITTED_INSERT;
extern const struct pg_script PG_SCRIPT_DELETE_WAITS_THEN_SKIPS_DELETED;
extern const struct pg_script PG_SCRIPT_CLOSE_ROLLS_BACK_AND_WAKES;
extern const struct pg_script PG_SCRIPT_DEADLOCK_TWO_SESSIONS;
extern const struct pg_script PG_SCRIPT_QUOTE_CLAIM_HAS_AN_OWNER;
extern const struct pg_script PG_SCRIPT_DEADLOCK_THREE_SESSIONS;
extern const struct pg_script PG_SCRIPT_ABORTED_TRANSACTION_25P02;
extern const struct pg_script PG_SCRIPT_AUTOCOMMIT_ERROR_DOES_NOT_ABORT;
extern const struct pg_script PG_SCRIPT_BEGIN_COMMIT_ROLLBACK_NOOPS;
extern const struct pg_script PG_SCRIPT_NOW_IS_TRANSACTION_START;
extern const struct pg_script PG_SCRIPT_NOT_NULL_23502;
extern const struct pg_script PG_SCRIPT_WAITER_BLOCKS_AGAIN_ON_NEW_HOLDER;
extern const struct pg_script PG_SCRIPT_LEGACY_WEBHOOK_PAYS_TWICE;
extern const struct pg_script PG_SCRIPT_HARDENED_WEBHOOK_PAYS_ONCE;

/* Every script above, for suites that replay them all. */
extern const struct pg_script *const PG_SCRIPTS_ALL[];
extern const int PG_SCRIPTS_ALL_COUNT;

#endif
