/* live/pg_live.h - the SQL port (core/env.h struct sql_port) on a real
 * PostgreSQL server: libpq in non-blocking mode on the run's event_base, a
 * bounded pool of connections with the catalogue (core/sql.h) prepared on
 * each, a bounded wait queue and a deadline per statement. Not for the
 * simulated runs (see the models); not thread-safe. */
#ifndef SIM_LIVE_PG_LIVE_H
#define SIM_LIVE_PG_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "core/env.h"
#include "core/result.h"

struct event_base;
struct sched;
struct pg_live;

#define PG_LIVE_POOL_MAX 64          /* connections in one pool */
#define PG_LIVE_WAITERS_MAX 4096     /* acquires waiting at once */
#define PG_LIVE_CELLS_MAX 65536      /* rows * columns in one result */
#define PG_LIVE_CONNINFO_MAX 1024    /* bytes of the connection string */

struct pg_live_config {
	const char *conninfo;          /* libpq "key=value ..." or URI; copied */
	int pool_size;                 /* 1 .. PG_LIVE_POOL_MAX connections */
	int wait_queue_max;            /* 1 .. PG_LIVE_WAITERS_MAX acquires
	                                * waiting for a connection (free or
	                                * being opened) */
	uint64_t acquire_timeout_us;   /* > 0: longest wait in the queue */
	uint64_t statement_timeout_us; /* > 0: each statement's deadline, and
	                                * the rollback's on release */
	uint64_t connect_timeout_us;   /* > 0: connect and prepare deadline */
};

/* base and s are borrowed and must outlive the pool; s must run on base in
 * SCHED_REAL mode. Connections are opened lazily, by acquire. Returns NULL
 * and a message in err (errsize bytes, may be 0) on a bad configuration or
 * out of memory. */
struct pg_live *pg_live_create(struct event_base *base, struct sched *s,
                               const struct pg_live_config *cfg, char *err,
                               size_t errsize);

/* Accepts NULL. Closes every connection. Operations still pending are
 * dropped without their callbacks: destroy after the loop has drained them
 * (see pg_live_pending) or when abandoning the run. Never from inside one
 * of the pool's callbacks. */
void pg_live_destroy(struct pg_live *pl);

/* Fills *out with the port. Its contract (core/env.h) holds, and:
 *  - every callback runs on a later pass of the loop, never inside a call;
 *  - acquire: OUTCOME_OK with sqlstate "00000"; OUTCOME_ERROR with "53300"
 *    when the wait queue is full or acquire_timeout_us passed; with the
 *    server's SQLSTATE when preparing the catalogue failed (42P01 before
 *    the schema exists); OUTCOME_CONN_LOST with "08006" when opening a
 *    connection failed or took longer than connect_timeout_us (each failed
 *    attempt fails the oldest waiter);
 *  - exec: OUTCOME_OK; OUTCOME_ERROR with the server's SQLSTATE unchanged,
 *    or "54000" past PG_LIVE_CELLS_MAX; OUTCOME_TIMEOUT (res NULL) after
 *    statement_timeout_us, the connection then closed, its transaction
 *    gone; OUTCOME_CONN_LOST when the connection failed, with a result
 *    whose sqlstate is the server's (57P01 ...) or "08006";
 *  - release: a broken connection is closed; an open transaction is rolled
 *    back before the connection serves again (asynchronously: release
 *    itself returns at once). */
void pg_live_port(struct pg_live *pl, struct sql_port *out);

/* Operations (acquires and statements) whose callback has not run yet. */
uint64_t pg_live_pending(const struct pg_live *pl);
/* Connections opened so far (attempts, failed ones included). */
uint64_t pg_live_connects(const struct pg_live *pl);

/* Start-up and test helpers. They block on their own short-lived
 * connection (never on the pool's); err gets the server's message. */
/* Creates the tables (SQL_SCHEMA from core/sql.c) when missing. */
enum result pg_live_setup_schema(const char *conninfo, char *err,
                                 size_t errsize) MUST_USE;
/* Empties every table of the schema. */
enum result pg_live_truncate(const char *conninfo, char *err,
                             size_t errsize) MUST_USE;

#endif
