/* live/pg_live.c - the SQL port on libpq's non-blocking API. A pool
 * slot walks EMPTY -> CONNECTING -> PREPARING -> IDLE <-> LEASED (->
 * RESETTING after a release inside a transaction), back to EMPTY when
 * broken. One libevent event per connection follows libpq's socket; callers'
 * callbacks run from scheduler timers, never inside the socket callback. */
#include "live/pg_live.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "core/assert.h"
#include "core/sql.h"
#include "sim/sched.h"

/* Server side, a backend notices a vanished client within this interval
 * even while it waits on a lock, so a statement cut by our deadline stops
 * and its transaction rolls back instead of running on. */
#define PG_LIVE_SETUP_SQL "SET client_connection_check_interval = 1000"
#define PG_LIVE_BLOCKING_CONNECT_S "5"
#define PG_LIVE_RESULTS_MAX 64 /* results read for one query */

enum conn_state {
	CONN_EMPTY,      /* no server connection */
	CONN_CONNECTING, /* PQconnectPoll in progress */
	CONN_PREPARING,  /* session setup and catalogue PREPAREs in flight */
	CONN_IDLE,       /* in the pool, free */
	CONN_LEASED,     /* owned by a caller (granted, maybe not yet told) */
	CONN_RESETTING,  /* released inside a transaction: ROLLBACK in flight */
};

struct sql_conn {
	struct pg_live *pl;
	enum conn_state state;
	PGconn *pg;
	struct event *ev;          /* watches PQsocket; NULL when closed */
	int ev_fd;
	short ev_what;
	int setup_step;            /* PREPARING: 0 = the SET, then 1 + stmt */
	PGresult *res;             /* first result of the query in flight */
	bool broken;               /* LEASED: the server connection is gone */
	bool exec_pending;         /* LEASED: the caller awaits an exec */
	bool exec_answered;        /* its outcome is decided */
	enum outcome exec_oc;
	char lost_sqlstate[6];     /* CONN_LOST: the server's or 08006 */
	sql_done_fn *done;
	void *arg;
	struct sched_timer timer;  /* connect, statement or rollback deadline,
	                            * or the delivery of an exec's outcome */
};

struct waiter {
	struct pg_live *pl;
	struct waiter *prev, *next; /* pl->waiters, oldest first */
	bool queued;                /* waiting; else its delivery is due */
	sql_acquire_fn *done;
	void *arg;
	struct sched_timer timer;   /* acquire deadline, then the delivery */
	enum outcome oc;
	struct sql_conn *conn;      /* OUTCOME_OK */
	char sqlstate[6];
};

struct pg_live {
	struct event_base *base;
	struct sched *s;
	char conninfo[PG_LIVE_CONNINFO_MAX];
	int pool_size;
	int wait_queue_max;
	uint64_t acquire_timeout_us;
	uint64_t statement_timeout_us;
	uint64_t connect_timeout_us;
	struct sql_conn conns[PG_LIVE_POOL_MAX];
	struct waiter *waiters, *waiters_tail;
	int queued;                 /* waiters with queued set */
	int in_callback;            /* depth of caller callbacks running */
	uint64_t pending;
	uint64_t connects;
};

static void set_err(char *err, size_t errsize, const char *fmt, const char *arg)
{
	if (err != NULL && errsize > 0)
		snprintf(err, errsize, fmt, arg);
}

static void pg_live_quiet_notice(void *arg, const char *message)
{
	/* NOTICEs (such as "relation already exists, skipping") are not
	 * errors; they stay off the harness's output. */
	(void)arg;
	(void)message;
}

struct pg_live *pg_live_create(struct event_base *base, struct sched *s,
                               const struct pg_live_config *cfg, char *err,
                               size_t errsize)
{
	ASSERT(base != NULL);
	ASSERT(s != NULL);
	ASSERT(cfg != NULL);
	ASSERT(sched_clock_kind(s) == SCHED_REAL);

	if (cfg->conninfo == NULL ||
	    strlen(cfg->conninfo) >= PG_LIVE_CONNINFO_MAX) {
		set_err(err, errsize, "%s", "PostgreSQL connection string missing or too long");
		return NULL;
	}
	if (cfg->pool_size < 1 || cfg->pool_size > PG_LIVE_POOL_MAX ||
	    cfg->wait_queue_max < 1 || cfg->wait_queue_max > PG_LIVE_WAITERS_MAX) {
		set_err(err, errsize, "%s", "PostgreSQL pool size or wait queue out of range");
		return NULL;
	}
	if (cfg->acquire_timeout_us == 0 || cfg->statement_timeout_us == 0 ||
	    cfg->connect_timeout_us == 0) {
		set_err(err, errsize, "%s", "PostgreSQL timeouts must be positive");
		return NULL;
	}
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(cfg->conninfo, &perr);
	if (opts == NULL) {
		set_err(err, errsize, "bad PostgreSQL connection string: %s",
		        perr != NULL ? perr : "out of memory");
		PQfreemem(perr);
		return NULL;
	}
	PQconninfoFree(opts);

	struct pg_live *pl = calloc(1, sizeof *pl);
	if (pl == NULL) {
		set_err(err, errsize, "%s", "out of memory");
		return NULL;
	}
	pl->base = base;
	pl->s = s;
	snprintf(pl->conninfo, sizeof pl->conninfo, "%s", cfg->conninfo);
	pl->pool_size = cfg->pool_size;
	pl->wait_queue_max = cfg->wait_queue_max;
	pl->acquire_timeout_us = cfg->acquire_timeout_us;
	pl->statement_timeout_us = cfg->statement_timeout_us;
	pl->connect_timeout_us = cfg->connect_timeout_us;
	for (int i = 0; i < pl->pool_size; i++) {
		pl->conns[i].pl = pl;
		pl->conns[i].ev_fd = -1;
	}
	return pl;
}

/* Closes the server connection and its event; the slot keeps its state
 * and any result already collected (a pending delivery reads it). */
static void conn_close_socket(struct sql_conn *c)
{
	if (c->ev != NULL) {
		event_free(c->ev);
		c->ev = NULL;
	}
	c->ev_fd = -1;
	c->ev_what = 0;
	if (c->pg != NULL) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
}

/* The same, and drops the collected result. */
static void conn_close(struct sql_conn *c)
{
	conn_close_socket(c);
	if (c->res != NULL) {
		PQclear(c->res);
		c->res = NULL;
	}
}

void pg_live_destroy(struct pg_live *pl)
{
	if (pl == NULL)
		return;
	ASSERT(pl->in_callback == 0); /* never from inside its own callback */
	for (int i = 0; i < pl->pool_size; i++) {
		sched_cancel(pl->s, pl->conns[i].timer);
		conn_close(&pl->conns[i]);
	}
	for (struct waiter *w = pl->waiters, *next; w != NULL; w = next) {
		next = w->next;
		sched_cancel(pl->s, w->timer);
		free(w);
	}
	free(pl);
}

uint64_t pg_live_pending(const struct pg_live *pl)
{
	return pl->pending;
}

uint64_t pg_live_connects(const struct pg_live *pl)
{
	return pl->connects;
}

/* ---- waiters ------------------------------------------------------------ */

static void waiter_unlink(struct waiter *w)
{
	struct pg_live *pl = w->pl;
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		pl->waiters = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	else
		pl->waiters_tail = w->prev;
}

static void waiter_deliver(struct waiter *w)
{
	struct pg_live *pl = w->pl;
	ASSERT(!w->queued);
	waiter_unlink(w);
	pl->pending--;
	pl->in_callback++;
	w->done(w->arg, w->oc, w->oc == OUTCOME_OK ? w->conn : NULL, w->sqlstate);
	pl->in_callback--;
	free(w);
}

static void waiter_on_deliver(void *arg)
{
	waiter_deliver(arg);
}

/* Takes w off the queue and schedules its callback with oc. */
static void waiter_answer(struct waiter *w, enum outcome oc,
                          struct sql_conn *conn, const char *sqlstate)
{
	struct pg_live *pl = w->pl;
	if (w->queued) {
		w->queued = false;
		pl->queued--;
	}
	sched_cancel(pl->s, w->timer);
	w->oc = oc;
	w->conn = conn;
	snprintf(w->sqlstate, sizeof w->sqlstate, "%s", sqlstate);
	w->timer = sched_after(pl->s, 0, waiter_on_deliver, w);
}

static struct waiter *waiter_oldest_queued(struct pg_live *pl)
{
	for (struct waiter *w = pl->waiters; w != NULL; w = w->next) {
		if (w->queued)
			return w;
	}
	return NULL;
}

static void waiter_on_deadline(void *arg)
{
	struct waiter *w = arg;
	struct pg_live *pl = w->pl;
	ASSERT(w->queued);
	w->queued = false;
	pl->queued--;
	w->oc = OUTCOME_ERROR;
	snprintf(w->sqlstate, sizeof w->sqlstate, "%s",
	         SQLSTATE_TOO_MANY_CONNECTIONS);
	waiter_deliver(w);
}

/* ---- connection I/O ----------------------------------------------------- */

static void conn_on_event(evutil_socket_t fd, short what, void *arg);
static void pool_dispatch(struct pg_live *pl);

/* Makes the connection's event watch what on libpq's current socket. */
static bool conn_watch(struct sql_conn *c, short what)
{
	int fd = PQsocket(c->pg);
	if (fd < 0)
		return false;
	if (c->ev != NULL && c->ev_fd == fd && c->ev_what == what)
		return true;
	if (c->ev != NULL)
		event_free(c->ev);
	c->ev = event_new(c->pl->base, fd, what | EV_PERSIST, conn_on_event, c);
	if (c->ev == NULL || event_add(c->ev, NULL) != 0)
		return false;
	c->ev_fd = fd;
	c->ev_what = what;
	return true;
}

/* Pushes queued output; watches for writability while some remains. */
static bool conn_flush(struct sql_conn *c)
{
	int rc = PQflush(c->pg);
	if (rc < 0)
		return false;
	return conn_watch(c, rc == 1 ? EV_READ | EV_WRITE : EV_READ);
}

static void conn_connect_failed(struct sql_conn *c, enum outcome oc,
                                const char *sqlstate);

static void conn_on_connect_deadline(void *arg)
{
	conn_connect_failed(arg, OUTCOME_CONN_LOST, SQLSTATE_CONNECTION_FAILURE);
}

static void conn_on_connect_start_failed(void *arg)
{
	conn_connect_failed(arg, OUTCOME_CONN_LOST, SQLSTATE_CONNECTION_FAILURE);
}

static void conn_start(struct sql_conn *c)
{
	struct pg_live *pl = c->pl;
	ASSERT(c->state == CONN_EMPTY);
	ASSERT(c->pg == NULL);
	pl->connects++;
	c->state = CONN_CONNECTING;
	c->broken = false;
	c->pg = PQconnectStart(pl->conninfo);
	if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD ||
	    !conn_watch(c, EV_WRITE)) {
		/* Failing here would call back into dispatch: defer it. */
		c->timer = sched_after(pl->s, 0, conn_on_connect_start_failed, c);
		return;
	}
	PQsetNoticeProcessor(c->pg, pg_live_quiet_notice, NULL);
	c->timer = sched_after(pl->s, pl->connect_timeout_us,
	                       conn_on_connect_deadline, c);
}

/* Sends the next session set-up query, or makes the connection idle. */
static void conn_setup_next(struct sql_conn *c)
{
	int ok;
	if (c->setup_step == 0) {
		ok = PQsendQuery(c->pg, PG_LIVE_SETUP_SQL);
	} else if (c->setup_step <= SQL_STMT_COUNT) {
		const struct sql_stmt_def *def =
			sql_stmt_get((enum sql_stmt)(c->setup_step - 1));
		ok = PQsendPrepare(c->pg, def->name, def->text, def->nparams, NULL);
	} else {
		sched_cancel(c->pl->s, c->timer);
		c->state = CONN_IDLE;
		(void)conn_watch(c, EV_READ);
		pool_dispatch(c->pl);
		return;
	}
	if (!ok || !conn_flush(c))
		conn_connect_failed(c, OUTCOME_CONN_LOST, SQLSTATE_CONNECTION_FAILURE);
}

static void conn_connect_poll(struct sql_conn *c)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		if (!conn_watch(c, EV_READ))
			conn_connect_failed(c, OUTCOME_CONN_LOST, SQLSTATE_CONNECTION_FAILURE);
		return;
	case PGRES_POLLING_WRITING:
		if (!conn_watch(c, EV_WRITE))
			conn_connect_failed(c, OUTCOME_CONN_LOST, SQLSTATE_CONNECTION_FAILURE);
		return;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(c->pg, 1) != 0) {
			conn_connect_failed(c, OUTCOME_CONN_LOST, SQLSTATE_CONNECTION_FAILURE);
			return;
		}
		c->state = CONN_PREPARING;
		c->setup_step = 0;
		conn_setup_next(c);
		return;
	default: /* PGRES_POLLING_FAILED */
		conn_connect_failed(c, OUTCOME_CONN_LOST, SQLSTATE_CONNECTION_FAILURE);
		return;
	}
}

/* Discards a slot's connection: the slot is free to open a new one. */
static void conn_discard(struct sql_conn *c)
{
	sched_cancel(c->pl->s, c->timer);
	conn_close(c);
	c->state = CONN_EMPTY;
	c->broken = false;
	c->exec_pending = false;
}

/* A connection that could not be opened or prepared: the oldest waiter
 * learns why, the others keep waiting (dispatch may try again for them). */
static void conn_connect_failed(struct sql_conn *c, enum outcome oc,
                                const char *sqlstate)
{
	struct pg_live *pl = c->pl;
	ASSERT(c->state == CONN_CONNECTING || c->state == CONN_PREPARING);
	conn_discard(c);
	struct waiter *w = waiter_oldest_queued(pl);
	if (w != NULL)
		waiter_answer(w, oc, NULL, sqlstate);
	pool_dispatch(pl);
}

static void exec_on_deliver(void *arg);

/* Decides the pending exec's outcome and schedules its delivery. */
static void conn_exec_answer(struct sql_conn *c, enum outcome oc)
{
	ASSERT(c->exec_pending);
	ASSERT(!c->exec_answered);
	c->exec_answered = true;
	c->exec_oc = oc;
	sched_cancel(c->pl->s, c->timer);
	c->timer = sched_after(c->pl->s, 0, exec_on_deliver, c);
}

/* The server connection of a leased slot died: close it now (the server
 * then rolls back its transaction); the caller releases the slot. */
static void conn_break(struct sql_conn *c, const char *sqlstate)
{
	struct pg_live *pl = c->pl;
	switch (c->state) {
	case CONN_CONNECTING:
	case CONN_PREPARING:
		conn_connect_failed(c, OUTCOME_CONN_LOST, SQLSTATE_CONNECTION_FAILURE);
		return;
	case CONN_LEASED:
		c->broken = true;
		conn_close_socket(c);
		if (c->exec_pending && !c->exec_answered) {
			snprintf(c->lost_sqlstate, sizeof c->lost_sqlstate, "%s",
			         sqlstate);
			conn_exec_answer(c, OUTCOME_CONN_LOST);
		}
		return;
	case CONN_IDLE:
	case CONN_RESETTING:
		conn_discard(c);
		pool_dispatch(pl);
		return;
	case CONN_EMPTY:
		break;
	}
	ASSERT(!"conn_break on an empty slot");
}

/* The SQLSTATE of an error result, or fallback when it carries none. */
static const char *result_sqlstate(const PGresult *res, const char *fallback)
{
	const char *st = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
	                             : NULL;
	return st != NULL && strlen(st) == 5 ? st : fallback;
}

static bool result_ok(const PGresult *res)
{
	ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* The query in flight finished (its results are in c->res). */
static void conn_query_done(struct sql_conn *c)
{
	struct pg_live *pl = c->pl;
	bool ok = result_ok(c->res);
	bool dead = PQstatus(c->pg) == CONNECTION_BAD;

	switch (c->state) {
	case CONN_PREPARING: {
		char st[6];
		snprintf(st, sizeof st, "%s",
		         result_sqlstate(c->res, SQLSTATE_CONNECTION_FAILURE));
		PQclear(c->res);
		c->res = NULL;
		if (dead) {
			conn_connect_failed(c, OUTCOME_CONN_LOST,
			                    SQLSTATE_CONNECTION_FAILURE);
		} else if (!ok && c->setup_step > 0) {
			/* The SET (step 0) is a nicety older servers lack;
			 * a PREPARE that fails is not. */
			conn_connect_failed(c, OUTCOME_ERROR, st);
		} else {
			c->setup_step++;
			conn_setup_next(c);
		}
		return;
	}
	case CONN_RESETTING:
		PQclear(c->res);
		c->res = NULL;
		if (!ok || dead || PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
			conn_discard(c);
		} else {
			sched_cancel(pl->s, c->timer);
			c->state = CONN_IDLE;
		}
		pool_dispatch(pl);
		return;
	case CONN_LEASED:
		ASSERT(c->exec_pending);
		if (dead && !ok) {
			/* 57P01 and the like: the server said why it left. */
			conn_break(c, result_sqlstate(c->res,
			                              SQLSTATE_CONNECTION_FAILURE));
			return;
		}
		/* A statement that completed is reported as such even when the
		 * connection died right after; the caller sees broken later. */
		conn_exec_answer(c, ok ? OUTCOME_OK : OUTCOME_ERROR);
		if (dead) {
			c->broken = true;
			conn_close_socket(c);
		}
		return;
	default:
		ASSERT(!"a query finished on a slot with no query");
	}
}

/* Reads what the server sent and collects results until the query ends. */
static void conn_read(struct sql_conn *c)
{
	if (PQconsumeInput(c->pg) == 0 || PQstatus(c->pg) == CONNECTION_BAD) {
		conn_break(c, SQLSTATE_CONNECTION_FAILURE);
		return;
	}
	bool busy_query = c->state == CONN_PREPARING || c->state == CONN_RESETTING ||
	                  (c->state == CONN_LEASED && c->exec_pending &&
	                   !c->exec_answered);
	if (!busy_query)
		return; /* idle: notices, or nothing */
	/* Every query here is one statement: one result, then NULL. The
	 * bound only guards against a server that sends more. */
	for (int n = 0; n < PG_LIVE_RESULTS_MAX && !PQisBusy(c->pg); n++) {
		PGresult *res = PQgetResult(c->pg);
		if (res == NULL) {
			conn_query_done(c);
			return;
		}
		if (c->res == NULL)
			c->res = res;
		else
			PQclear(res);
	}
}

static void conn_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct sql_conn *c = arg;
	(void)fd;

	if (c->state == CONN_CONNECTING) {
		conn_connect_poll(c);
		return;
	}
	if (what & EV_WRITE) {
		if (!conn_flush(c)) {
			conn_break(c, SQLSTATE_CONNECTION_FAILURE);
			return;
		}
	}
	if (what & EV_READ)
		conn_read(c);
}

/* ---- pool --------------------------------------------------------------- */

static void pool_dispatch(struct pg_live *pl)
{
	/* Grant free connections to the oldest waiters. */
	for (int i = 0; i < pl->pool_size && pl->queued > 0; i++) {
		struct sql_conn *c = &pl->conns[i];
		if (c->state != CONN_IDLE)
			continue;
		struct waiter *w = waiter_oldest_queued(pl);
		ASSERT(w != NULL);
		c->state = CONN_LEASED;
		c->exec_pending = false;
		waiter_answer(w, OUTCOME_OK, c, "00000");
	}
	/* Open connections for the waiters no connection in the making
	 * will serve. */
	int opening = 0;
	for (int i = 0; i < pl->pool_size; i++) {
		enum conn_state st = pl->conns[i].state;
		opening += st == CONN_CONNECTING || st == CONN_PREPARING;
	}
	for (int i = 0; i < pl->pool_size && opening < pl->queued; i++) {
		if (pl->conns[i].state != CONN_EMPTY)
			continue;
		conn_start(&pl->conns[i]);
		opening++;
	}
}

static void pg_port_acquire(void *ctx, sql_acquire_fn *done, void *arg)
{
	struct pg_live *pl = ctx;
	ASSERT(done != NULL);
	struct waiter *w = calloc(1, sizeof *w);
	ASSERT(w != NULL); /* out of memory in the harness is fatal */
	w->pl = pl;
	w->done = done;
	w->arg = arg;
	w->prev = pl->waiters_tail;
	if (pl->waiters_tail != NULL)
		pl->waiters_tail->next = w;
	else
		pl->waiters = w;
	pl->waiters_tail = w;
	pl->pending++;

	if (pl->queued >= pl->wait_queue_max) {
		bool idle = false;
		for (int i = 0; i < pl->pool_size; i++)
			idle = idle || pl->conns[i].state == CONN_IDLE;
		if (!idle) {
			waiter_answer(w, OUTCOME_ERROR, NULL,
			              SQLSTATE_TOO_MANY_CONNECTIONS);
			return;
		}
	}
	w->queued = true;
	pl->queued++;
	w->timer = sched_after(pl->s, pl->acquire_timeout_us, waiter_on_deadline, w);
	pool_dispatch(pl);
}

static void exec_on_deadline(void *arg)
{
	struct sql_conn *c = arg;
	ASSERT(c->exec_pending);
	ASSERT(!c->exec_answered);
	/* Ambiguous: the statement may have run. Closing the connection makes
	 * the server roll its transaction back (or finish a COMMIT). */
	c->broken = true;
	conn_close_socket(c);
	c->exec_answered = true;
	c->exec_oc = OUTCOME_TIMEOUT;
	exec_on_deliver(c);
}

static void exec_on_deliver(void *arg)
{
	struct sql_conn *c = arg;
	struct pg_live *pl = c->pl;
	ASSERT(c->exec_pending);
	ASSERT(c->exec_answered);

	PGresult *res = c->res;
	c->res = NULL;
	sql_done_fn *done = c->done;
	void *done_arg = c->arg;
	enum outcome oc = c->exec_oc;
	c->exec_pending = false;
	c->exec_answered = false;
	c->done = NULL;
	c->arg = NULL;
	pl->pending--;

	struct sql_result r = {.sqlstate = "00000", .message = ""};
	const struct sql_result *rp = &r;
	const char **values = NULL;
	if (oc == OUTCOME_TIMEOUT) {
		rp = NULL;
	} else if (oc == OUTCOME_CONN_LOST) {
		snprintf(r.sqlstate, sizeof r.sqlstate, "%s", c->lost_sqlstate);
		const char *msg = res != NULL ? PQresultErrorMessage(res) : "";
		r.message = msg[0] != '\0' ? msg : "connection to server lost";
	} else if (oc == OUTCOME_ERROR) {
		snprintf(r.sqlstate, sizeof r.sqlstate, "%s",
		         result_sqlstate(res, "XX000"));
		r.message = PQresultErrorMessage(res);
	} else {
		int nrows = PQntuples(res), ncols = PQnfields(res);
		if ((long long)nrows * ncols > PG_LIVE_CELLS_MAX) {
			oc = OUTCOME_ERROR;
			snprintf(r.sqlstate, sizeof r.sqlstate, "54000");
			r.message = "faultline: result exceeds PG_LIVE_CELLS_MAX";
		} else {
			size_t cells = (size_t)nrows * (size_t)ncols;
			values = calloc(cells > 0 ? cells : 1, sizeof *values);
			ASSERT(values != NULL);
			for (int row = 0; row < nrows; row++) {
				for (int col = 0; col < ncols; col++) {
					values[(size_t)row * ncols + col] =
						PQgetisnull(res, row, col) ? NULL :
						PQgetvalue(res, row, col);
				}
			}
			r.nrows = nrows;
			r.ncols = ncols;
			r.values = values;
			/* core/sql.h counts rows inserted, updated or deleted;
			 * PQcmdTuples also counts the rows a SELECT returned. */
			r.affected = strncmp(PQcmdStatus(res), "SELECT", 6) == 0
			                 ? 0 : strtoll(PQcmdTuples(res), NULL, 10);
		}
	}
	pl->in_callback++;
	done(done_arg, oc, rp);
	pl->in_callback--;
	free(values);
	PQclear(res);
}

static void pg_port_exec(void *ctx, struct sql_conn *c, enum sql_stmt stmt,
                         int nparams, const char *const *params,
                         sql_done_fn *done, void *arg)
{
	struct pg_live *pl = ctx;
	const struct sql_stmt_def *def = sql_stmt_get(stmt);
	ASSERT(c != NULL);
	ASSERT(c->pl == pl);
	ASSERT(c->state == CONN_LEASED);
	ASSERT(!c->exec_pending); /* one statement at a time per connection */
	ASSERT(nparams == def->nparams);
	ASSERT(nparams <= SQL_PARAMS_MAX);
	ASSERT(done != NULL);

	c->exec_pending = true;
	c->exec_answered = false;
	c->done = done;
	c->arg = arg;
	pl->pending++;
	if (c->broken) {
		snprintf(c->lost_sqlstate, sizeof c->lost_sqlstate, "%s",
		         SQLSTATE_CONNECTION_FAILURE);
		conn_exec_answer(c, OUTCOME_CONN_LOST);
		return;
	}
	c->timer = sched_after(pl->s, pl->statement_timeout_us, exec_on_deadline, c);
	if (!PQsendQueryPrepared(c->pg, def->name, nparams, params, NULL, NULL, 0) ||
	    !conn_flush(c))
		conn_break(c, SQLSTATE_CONNECTION_FAILURE);
}

static void resetting_on_deadline(void *arg)
{
	struct sql_conn *c = arg;
	ASSERT(c->state == CONN_RESETTING);
	conn_discard(c);
	pool_dispatch(c->pl);
}

static void pg_port_release(void *ctx, struct sql_conn *c)
{
	struct pg_live *pl = ctx;
	ASSERT(c != NULL);
	ASSERT(c->pl == pl);
	ASSERT(c->state == CONN_LEASED);
	ASSERT(!c->exec_pending); /* release after the statement's callback */

	if (c->broken || c->pg == NULL) {
		conn_discard(c);
	} else {
		switch (PQtransactionStatus(c->pg)) {
		case PQTRANS_IDLE:
			c->state = CONN_IDLE;
			break;
		case PQTRANS_INTRANS:
		case PQTRANS_INERROR:
			/* The contract: an open transaction is rolled back
			 * before anyone else sees the connection. */
			c->state = CONN_RESETTING;
			if (!PQsendQuery(c->pg, "ROLLBACK") || !conn_flush(c)) {
				conn_discard(c);
				break;
			}
			c->timer = sched_after(pl->s, pl->statement_timeout_us,
			                       resetting_on_deadline, c);
			break;
		default:
			conn_discard(c);
			break;
		}
	}
	pool_dispatch(pl);
}

void pg_live_port(struct pg_live *pl, struct sql_port *out)
{
	ASSERT(pl != NULL);
	ASSERT(out != NULL);
	out->ctx = pl;
	out->acquire = pg_port_acquire;
	out->exec = pg_port_exec;
	out->release = pg_port_release;
}

/* ---- blocking helpers --------------------------------------------------- */

static enum result pg_live_run_script(const char *conninfo, const char *sql,
                                      char *err, size_t errsize)
{
	const char *const keys[] = {"dbname", "connect_timeout", NULL};
	const char *const vals[] = {conninfo, PG_LIVE_BLOCKING_CONNECT_S, NULL};
	PGconn *pg = PQconnectdbParams(keys, vals, 1);
	if (pg == NULL) {
		set_err(err, errsize, "%s", "out of memory");
		return RESULT_NOMEM;
	}
	enum result rc = RESULT_OK;
	if (PQstatus(pg) != CONNECTION_OK) {
		set_err(err, errsize, "%s", PQerrorMessage(pg));
		rc = RESULT_RETRY;
		goto out_finish;
	}
	PQsetNoticeProcessor(pg, pg_live_quiet_notice, NULL);
	PGresult *res = PQexec(pg, sql);
	if (!result_ok(res)) {
		set_err(err, errsize, "%s",
		        res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(pg));
		rc = RESULT_ERROR;
	}
	PQclear(res);
out_finish:
	PQfinish(pg);
	return rc;
}

enum result pg_live_setup_schema(const char *conninfo, char *err,
                                 size_t errsize)
{
	ASSERT(conninfo != NULL);
	return pg_live_run_script(conninfo, SQL_SCHEMA, err, errsize);
}

enum result pg_live_truncate(const char *conninfo, char *err, size_t errsize)
{
	ASSERT(conninfo != NULL);
	return pg_live_run_script(conninfo,
		"TRUNCATE stripe_events, orders, order_payments, "
		"stripe_customers, quote_emails", err, errsize);
}
