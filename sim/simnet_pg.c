/* sim/simnet_pg.c - the Postgres port over the model: a pool of
 * connections, each with a model session; statements sent, blocked on a
 * lock and resumed; faults on a statement (an injected error aborts the
 * transaction, a lost connection may have committed a COMMIT or an
 * autocommit statement). The operation life cycle is sim/simnet.c's. */
#include "sim/simnet_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "sim/models/pg_model.h"
#include "sim/trace.h"

static enum world_apply_class sql_class(const char *sqlstate, long long affected)
{
	if (strcmp(sqlstate, "00000") == 0)
		return affected > 0 ? WA_ROWS : WA_NO_ROWS;
	if (strcmp(sqlstate, "23505") == 0)
		return WA_UNIQUE_VIOLATION;
	if (strcmp(sqlstate, "40001") == 0)
		return WA_SERIALIZATION;
	if (strcmp(sqlstate, "40P01") == 0)
		return WA_DEADLOCK;
	return WA_ERROR;
}

/* ---- Postgres ----------------------------------------------------------- */

void sql_conn_break(struct sql_conn *c)
{
	struct op *p = c->pending;
	if (p != NULL && p->blocked) {
		/* Its lock wait dies with the connection. */
		p->blocked = false;
		c->pending = NULL;
		op_unref(p);
	}
	if (c->open)
		pg_model_close(c->net->m.pg, c->session);
	c->open = false;
	c->broken = true;
	c->injected_abort = false;
}

static bool sql_conn_ensure_open(struct simnet *n, struct sql_conn *c)
{
	if (c->open)
		return true;
	if (!pg_model_open(n->m.pg, &c->session))
		return false;
	c->open = true;
	c->broken = false;
	c->injected_abort = false;
	return true;
}

static void sql_acquire_grant(struct op *op, struct sql_conn *c)
{
	c->in_use = true;
	op->conn = c;
	op->oc = OUTCOME_OK;
}

void sql_acquire(void *ctx, sql_acquire_fn *done, void *arg)
{
	struct simnet *n = ctx;
	struct op *op = op_new(n, OP_SQL_ACQUIRE, FAULT_TARGET_POSTGRES, "acquire", arg);
	op->done.acquire = done;
	op_arm_deadline(op);
	if (target_down(n, FAULT_TARGET_POSTGRES)) {
		op_fail_conn(op, leg_us(n, FAULT_TARGET_POSTGRES));
		return;
	}
	op_decide(op, "acquire");
	switch (op_kind(op)) {
	case FAULT_POOL_EXHAUSTED:
	case FAULT_SERVER_ERROR:
		op->oc = OUTCOME_ERROR;
		memcpy(op->sqlstate, op_kind(op) == FAULT_SERVER_ERROR && op->fd.rule->error[0]
		                     ? op->fd.rule->error : SQLSTATE_TOO_MANY_CONNECTIONS, 5);
		op->sqlstate[5] = '\0';
		op_after(op, 0, op_on_reply);
		return;
	case FAULT_ERROR:
	case FAULT_CONN_LOST:
	case FAULT_RESTART:
		op_fail_conn(op, leg_us(n, FAULT_TARGET_POSTGRES));
		return;
	case FAULT_TIMEOUT_APPLIED:
	case FAULT_TIMEOUT_NOT_APPLIED:
	case FAULT_STALL:
		return;
	default:
		break;
	}
	for (uint32_t i = 0; i < n->pool_size; i++) {
		struct sql_conn *c = &n->pool[i];
		if (!c->in_use) {
			if (!sql_conn_ensure_open(n, c)) {
				op->oc = OUTCOME_ERROR;
				memcpy(op->sqlstate, SQLSTATE_TOO_MANY_CONNECTIONS, 6);
				op_after(op, 0, op_on_reply);
				return;
			}
			sql_acquire_grant(op, c);
			op_after(op, op_kind(op) == FAULT_LATENCY ? op->fd.latency_us : 0,
			         op_on_reply);
			return;
		}
	}
	/* Wait for a release; the deadline answers if none comes. */
	ASSERT(n->nwaiting < SIMNET_POOL_WAITERS_MAX);
	n->stats.pool_waits++;
	op->refs++;
	op->next_waiter = NULL;
	if (n->wait_tail)
		n->wait_tail->next_waiter = op;
	else
		n->wait_head = op;
	n->wait_tail = op;
	n->nwaiting++;
}

void sql_release(void *ctx, struct sql_conn *c)
{
	struct simnet *n = ctx;
	ASSERT(c->in_use);
	ASSERT(c->pending == NULL || c->pending->answered);
	c->pending = NULL;
	if (c->broken || !c->open) {
		sql_conn_break(c);
		c->broken = false;
	} else if (pg_model_in_transaction(n->m.pg, c->session)) {
		/* Releasing a connection mid-transaction rolls it back. */
		struct sql_result r;
		enum pg_exec_status st = pg_model_exec(n->m.pg, c->session, sched_now_us(n->s),
		                                       SQL_ROLLBACK, 0, NULL, &r);
		ASSERT(st == PG_EXEC_DONE);
	}
	c->injected_abort = false;
	c->in_use = false;
	/* Hand it to the first waiter still waiting. */
	while (n->wait_head != NULL) {
		struct op *w = n->wait_head;
		n->wait_head = w->next_waiter;
		if (n->wait_head == NULL)
			n->wait_tail = NULL;
		n->nwaiting--;
		if (!w->answered) {
			if (sql_conn_ensure_open(n, c)) {
				sql_acquire_grant(w, c);
				op_after(w, 0, op_on_reply);
			} else {
				w->oc = OUTCOME_ERROR;
				memcpy(w->sqlstate, SQLSTATE_TOO_MANY_CONNECTIONS, 6);
				op_after(w, 0, op_on_reply);
			}
			op_unref(w);
			break;
		}
		op_unref(w);
	}
}

static void sql_copy_result(struct op *op, const struct sql_result *r)
{
	op->res = *r;
	size_t nv = (size_t)r->nrows * (size_t)r->ncols;
	ASSERT(nv <= SQL_VALUES_MAX);
	free(op->values);
	op->values = calloc(nv ? nv : 1, sizeof *op->values);
	ASSERT(op->values != NULL);
	for (size_t i = 0; i < nv; i++) {
		const char *v = r->values[i];
		op->values[i] = v ? reply_copy(op, v, strlen(v)) : NULL;
	}
	op->res.values = op->values;
	memcpy(op->sqlstate, r->sqlstate, 6);
	op->sqlstate[5] = '\0';
	memcpy(op->res.sqlstate, op->sqlstate, 6);
	op->res.message = r->message ? reply_copy(op, r->message, strlen(r->message)) : "";
	op->oc = strcmp(op->sqlstate, "00000") == 0 ? OUTCOME_OK : OUTCOME_ERROR;
}

static void sql_set_error(struct op *op, const char *sqlstate, const char *msg)
{
	memset(&op->res, 0, sizeof op->res);
	memcpy(op->sqlstate, sqlstate, 5);
	op->sqlstate[5] = '\0';
	memcpy(op->res.sqlstate, op->sqlstate, 6);
	op->res.message = reply_copy(op, msg, strlen(msg));
	op->oc = OUTCOME_ERROR;
}

static void sql_finish_exec(struct op *op, const struct sql_result *r)
{
	struct simnet *n = op->net;
	sql_copy_result(op, r);
	note_applied(n, FAULT_TARGET_POSTGRES, op->opname,
	             sql_class(op->sqlstate, op->res.affected));
	if (TRACE_ON(n->tr)) {
		trace_begin(n->tr, sched_now_us(n->s), "apply");
		trace_str(n->tr, "target", "postgres");
		trace_str(n->tr, "op", op->opname);
		for (int i = 0; i < op->nparams && i < 2; i++)
			trace_str(n->tr, i == 0 ? "p1" : "p2", op->params[i]);
		trace_str(n->tr, "sqlstate", op->sqlstate);
		trace_int(n->tr, "affected", op->res.affected);
		trace_end(n->tr);
	}
	if (n->plan != NULL)
		fault_plan_note(n->plan, FAULT_TARGET_POSTGRES, op->opname);
	enum fault_kind k = op_kind(op);
	if (k == FAULT_TIMEOUT_APPLIED || k == FAULT_STALL)
		return;
	if (!op->answered)
		op_reply_later(op);
}

static void sql_on_apply(void *arg)
{
	struct op *op = arg;
	struct simnet *n = op->net;
	struct sql_conn *c = op->conn;
	enum fault_kind k = op_kind(op);

	if (op->answered || c->broken || !c->open || target_down(n, FAULT_TARGET_POSTGRES)) {
		/* The client gave up (its connection is gone) or the server is
		 * down: nothing reaches the server. */
		if (!op->answered) {
			sql_conn_break(c);
			op->oc = OUTCOME_CONN_LOST;
			op_reply_later(op);
		}
		op_unref(op);
		return;
	}
	if (k == FAULT_CONN_LOST) {
		/* Lost mid-statement. A COMMIT may have made it, and so may a
		 * statement outside a transaction, which commits on its own; one
		 * still waiting for a lock when the connection goes never ran. */
		bool committed = false;
		if (op->fd.commit_applied && !c->injected_abort) {
			struct sql_result r;
			if (op->stmt == SQL_COMMIT) {
				enum pg_exec_status st = pg_model_exec(n->m.pg, c->session,
				                                       sched_now_us(n->s), SQL_COMMIT, 0,
				                                       NULL, &r);
				ASSERT(st == PG_EXEC_DONE);
				committed = true;
			} else if (op->stmt != SQL_BEGIN && op->stmt != SQL_ROLLBACK &&
			           !pg_model_in_transaction(n->m.pg, c->session)) {
				enum pg_exec_status st = pg_model_exec(n->m.pg, c->session,
				                                       sched_now_us(n->s), op->stmt,
				                                       op->nparams, op->params, &r);
				committed = st == PG_EXEC_DONE && strcmp(r.sqlstate, "00000") == 0;
			}
		}
		if (TRACE_ON(n->tr)) {
			trace_begin(n->tr, sched_now_us(n->s), "conn_lost");
			trace_str(n->tr, "target", "postgres");
			trace_str(n->tr, "op", op->opname);
			trace_bool(n->tr, "committed", committed);
			trace_end(n->tr);
		}
		sql_conn_break(c);
		op->oc = OUTCOME_CONN_LOST;
		op_reply_later(op);
		op_unref(op);
		return;
	}
	if (c->injected_abort) {
		/* The transaction was aborted by an injected error: Postgres
		 * refuses everything until it ends, and COMMIT rolls back. */
		struct sql_result r;
		if (op->stmt == SQL_COMMIT || op->stmt == SQL_ROLLBACK) {
			enum pg_exec_status st = pg_model_exec(n->m.pg, c->session, sched_now_us(n->s),
			                                       SQL_ROLLBACK, 0, NULL, &r);
			ASSERT(st == PG_EXEC_DONE);
			c->injected_abort = false;
			sql_finish_exec(op, &r);
		} else {
			sql_set_error(op, "25P02", "current transaction is aborted, commands "
			                           "ignored until end of transaction block");
			if (!op->answered)
				op_reply_later(op);
		}
		op_unref(op);
		return;
	}
	struct sql_result r;
	enum pg_exec_status st = pg_model_exec(n->m.pg, c->session, sched_now_us(n->s),
	                                       op->stmt, op->nparams, op->params, &r);
	if (st == PG_EXEC_BLOCKED) {
		/* simnet_pg_wake resumes it; the op stays referenced. */
		c->pending = op;
		op->blocked = true;
		if (TRACE_ON(n->tr)) {
			trace_begin(n->tr, sched_now_us(n->s), "blocked");
			trace_str(n->tr, "target", "postgres");
			trace_str(n->tr, "op", op->opname);
			trace_end(n->tr);
		}
		return;
	}
	sql_finish_exec(op, &r);
	op_unref(op);
}

static void sql_on_resume(void *arg)
{
	struct op *op = arg;
	struct simnet *n = op->net;
	struct sql_conn *c = op->conn;
	if (!c->open || c->pending != op) {
		/* The connection died while it waited: at its deadline (the
		 * client has its answer) or with the server (it has not). */
		if (!op->answered) {
			op->oc = OUTCOME_CONN_LOST;
			op_reply_later(op);
		}
		op_unref(op);
		return;
	}
	struct sql_result r;
	enum pg_exec_status st = pg_model_resume(n->m.pg, c->session, sched_now_us(n->s), &r);
	if (st == PG_EXEC_BLOCKED) {
		op->blocked = true; /* still waiting: keep the reference */
		return;
	}
	c->pending = NULL;
	sql_finish_exec(op, &r);
	op_unref(op);
}

void simnet_pg_wake(void *arg, uint32_t session)
{
	struct simnet *n = arg;
	for (uint32_t i = 0; i < n->pool_size; i++) {
		struct sql_conn *c = &n->pool[i];
		if (c->open && c->session == session && c->pending != NULL &&
		    c->pending->blocked) {
			/* Resume from the loop, never inside the model's call; the
			 * blocked reference moves to the timer. */
			struct op *op = c->pending;
			op->blocked = false;
			sched_after(n->s, 0, sql_on_resume, op);
			return;
		}
	}
}

void sql_exec(void *ctx, struct sql_conn *c, enum sql_stmt stmt, int nparams,
              const char *const *params, sql_done_fn *done, void *arg)
{
	struct simnet *n = ctx;
	ASSERT(c != NULL && c->in_use);
	ASSERT(c->pending == NULL);
	ASSERT(nparams >= 0 && nparams <= SQL_PARAMS_MAX);
	const char *name = sql_stmt_get(stmt)->name;
	struct op *op = op_new(n, OP_SQL_EXEC, FAULT_TARGET_POSTGRES, name, arg);
	op->done.sql = done;
	op->conn = c;
	op->stmt = stmt;
	op->nparams = nparams;
	size_t cap = 0;
	for (int i = 0; i < nparams; i++)
		cap += params[i] ? strlen(params[i]) + 1 : 0;
	op_alloc_args(op, cap);
	size_t used = 0;
	for (int i = 0; i < nparams; i++)
		op->params[i] = params[i] ? arg_copy(op, &used, params[i], strlen(params[i])) : NULL;
	c->pending = op;
	op_arm_deadline(op);

	if (c->broken || !c->open || target_down(n, FAULT_TARGET_POSTGRES)) {
		sql_conn_break(c);
		op_fail_conn(op, 0);
		return;
	}
	op_decide(op, name);
	uint64_t d1 = leg_us(n, FAULT_TARGET_POSTGRES);
	switch (op_kind(op)) {
	case FAULT_ERROR:
	case FAULT_RESTART:
	case FAULT_POOL_EXHAUSTED:
		sql_conn_break(c);
		op_fail_conn(op, d1);
		return;
	case FAULT_TIMEOUT_NOT_APPLIED:
		return;
	case FAULT_STALL:
		if (op->fd.rule->stall_applied)
			op_after(op, d1, sql_on_apply);
		return;
	case FAULT_SERVER_ERROR: {
		const char *code = op->fd.rule->error[0] ? op->fd.rule->error : SQLSTATE_SERIALIZATION;
		if (pg_model_in_transaction(n->m.pg, c->session))
			c->injected_abort = true;
		sql_set_error(op, code, "injected error");
		op_after(op, d1 + leg_us(n, FAULT_TARGET_POSTGRES), op_on_reply);
		return;
	}
	case FAULT_LATENCY:
		d1 += op->fd.latency_us;
		break;
	default:
		break;
	}
	op_after(op, d1, sql_on_apply);
}
