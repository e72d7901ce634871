/* sim/models/pg_model.h - the in-process PostgreSQL 15 model: SQL_SCHEMA's
 * tables and unique keys, READ COMMITTED transactions, blocking inserts and
 * updates, deadlocks, SQLSTATEs. Synchronous, on a virtual time the caller
 * gives; runs catalogue statements (core/sql.h) by id. Not for latency,
 * timeouts, pools or faults (sim/simnet.c does those). Not thread-safe. */
#ifndef SIM_MODELS_PG_MODEL_H
#define SIM_MODELS_PG_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/env.h"
#include "core/sql.h"

#define PG_MODEL_SESSIONS_MAX 1024u     /* bound on max_connections */
#define PG_MODEL_ROWS_MAX (1u << 20)    /* row slots per table, hard bound */
#define PG_MODEL_TXN_ROWS_MAX 256u      /* rows one transaction may change;
                                         * over it: 53200 out_of_memory */
#define PG_MODEL_KEY_MAX 2692u          /* bytes in a unique key value: what
                                         * fits PG's 2704-byte btree entry
                                         * uncompressed; over it: 54000 */
#define PG_MODEL_VALUE_MAX 8192u        /* bytes in any other stored value
                                         * (a model limit); over it: 54000 */
#define PG_MODEL_RESULT_CELLS_MAX 4u    /* cells in one result */
#define PG_MODEL_MESSAGE_MAX 256u       /* bytes in one error message */

struct pg_model;

/* A statement of session that was blocked may now resume: the transaction it
 * waited for has ended. Called from inside the model call that ended it
 * (COMMIT, ROLLBACK, an error, pg_model_close ...), in ascending session
 * order. It must not call into the model: schedule pg_model_resume. */
typedef void pg_model_wake_fn(void *arg, uint32_t session);

/* max_connections in 1..PG_MODEL_SESSIONS_MAX; wake may be NULL. Returns
 * NULL when out of memory. */
struct pg_model *pg_model_create(uint32_t max_connections, pg_model_wake_fn *wake,
                                 void *wake_arg);
void pg_model_destroy(struct pg_model *m); /* accepts NULL */

/* Lowers (or restores) the row bound of every table, 1..PG_MODEL_ROWS_MAX
 * (the default). An INSERT that finds its table full, after dead rows are
 * reclaimed, fails with 53100 disk_full, as a server whose disk is full. */
void pg_model_set_rows_max(struct pg_model *m, uint32_t rows_max);

/* Opens a server session (a backend). Returns true and *session (the lowest
 * free number below max_connections; numbers are reused after close), or
 * false when max_connections sessions are open: the caller answers 53300
 * too_many_connections. */
bool pg_model_open(struct pg_model *m, uint32_t *session);

/* The connection died: an open transaction rolls back, its locks are released
 * (waking waiters), a blocked statement is dropped. session must be open. */
void pg_model_close(struct pg_model *m, uint32_t session);

enum pg_exec_status { PG_EXEC_DONE, PG_EXEC_BLOCKED };

/* Runs catalogue statement stmt with its nparams text params (a NULL param
 * is SQL NULL) at virtual time now_us.
 * now() is the transaction's start, as in PG: the BEGIN's now_us, or this
 * call's outside a block.
 * PG_EXEC_DONE: *out is filled; sqlstate "00000" and message "" on success,
 * else the error, the transaction rolled back (inside BEGIN it stays in the
 * aborted state until COMMIT or ROLLBACK). out->values point into storage the
 * model owns, valid until the next call for this session.
 * PG_EXEC_BLOCKED: the statement waits for a row or key held by another open
 * transaction; the model keeps it, calls wake(session) when the holder ends,
 * and the caller then calls pg_model_resume. A session with a blocked
 * statement accepts no other statement (assertion). */
enum pg_exec_status pg_model_exec(struct pg_model *m, uint32_t session, uint64_t now_us,
                                  enum sql_stmt stmt, int nparams,
                                  const char *const *params, struct sql_result *out);
/* Continues the blocked statement of session after its wake; same results as
 * pg_model_exec, and it may block again on another holder. */
enum pg_exec_status pg_model_resume(struct pg_model *m, uint32_t session, uint64_t now_us,
                                    struct sql_result *out);

/* True inside BEGIN ... COMMIT/ROLLBACK, the aborted state included (libpq's
 * PQTRANS_INTRANS or PQTRANS_INERROR). */
bool pg_model_in_transaction(const struct pg_model *m, uint32_t session);
/* True when the session's last statement was a COMMIT that rolled back
 * (PostgreSQL answers "ROLLBACK" to COMMIT in an aborted transaction). */
bool pg_model_last_commit_rolled_back(const struct pg_model *m, uint32_t session);

/* Test and workload setup: a committed orders row (status 'pending',
 * paid_count 0). A duplicate key or a full table is a bug (assertion). */
void pg_model_seed_order(struct pg_model *m, const char *order_id,
                         const char *payment_intent_id);

/* Calls fn for every committed row of table ("stripe_events", "orders",
 * "order_payments", "stripe_customers", "quote_emails"; another name is a
 * bug) in insertion order, columns in schema order, timestamps as decimal
 * microseconds of virtual time, SQL NULL as NULL. cols is borrowed for the
 * call; fn must not call into the model. */
typedef void pg_model_row_fn(void *arg, const char *const *cols, int ncols);
void pg_model_foreach(const struct pg_model *m, const char *table, pg_model_row_fn *fn,
                      void *arg);
/* The committed row of table whose first unique key (the primary key of
 * every table here) equals key: calls fn once and returns true, or returns
 * false when there is none. O(1). */
bool pg_model_lookup(const struct pg_model *m, const char *table, const char *key,
                     pg_model_row_fn *fn, void *arg);

/* Statements run since create (pg_model_exec calls; resumes not counted). */
uint64_t pg_model_statements(const struct pg_model *m);

#endif
