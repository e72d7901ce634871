/* sim/simnet.c - ports over the models, with latency, deadlines, the pool
 * and faults. Every operation is a heap object (struct op) referenced by the
 * timers that will touch it; it is freed when the client has its answer and
 * no timer refers to it any more. The client's answer comes exactly once:
 * either the reply or the deadline delivers it, and the other finds the op
 * answered (a late reply is counted and dropped). Deadlines are not one
 * timer each: a target's timeout is fixed, so its waiting ops form a queue
 * in deadline order with one timer for the head, and an answer just unlinks
 * its op (most operations answer in time, and a cancelled timer costs a heap
 * removal). */
#include "sim/simnet.h"
#include "sim/simnet_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "sim/models/mail_model.h"
#include "sim/models/pg_model.h"
#include "sim/models/redis_model.h"
#include "sim/models/stripe_model.h"
#include "sim/prng.h"
#include "sim/sched.h"
#include "sim/trace.h"

static const struct backend_settings *backend(const struct simnet *n,
                                              enum fault_target t)
{
	switch (t) {
	case FAULT_TARGET_REDIS: return &n->sc->redis;
	case FAULT_TARGET_POSTGRES: return &n->sc->postgres;
	case FAULT_TARGET_STRIPE: return &n->sc->stripe;
	default: return &n->sc->mail;
	}
}

/* One leg (request or reply) of the trip: half of a latency draw. */
uint64_t leg_us(struct simnet *n, enum fault_target t)
{
	const struct latency *l = &backend(n, t)->latency;
	uint64_t span = l->max_us > l->min_us ? l->max_us - l->min_us : 0;
	uint64_t v = l->min_us + (span ? prng_below(n->rng, span + 1) : 0);
	return v / 2;
}

/* ---- op lifetime -------------------------------------------------------- */

struct op *op_new(struct simnet *n, enum op_type type,
                  enum fault_target target, const char *opname,
                  void *arg)
{
	struct op *op = n->cache;
	if (op != NULL) {
		n->cache = op->live_next;
		n->ncache--;
		/* Only the header needs clearing: the arena and the argument
		 * space are written before they are read. */
		memset(op, 0, offsetof(struct op, arena));
	} else {
		op = malloc(sizeof *op);
		ASSERT(op != NULL);
		memset(op, 0, offsetof(struct op, arena));
	}
	op->net = n;
	op->type = type;
	op->target = target;
	op->opname = opname;
	op->arg = arg;
	op->refs = 1; /* the client's wait */
	op->issued_us = sched_now_us(n->s);
	op->live_next = n->live;
	if (n->live)
		n->live->live_prev = op;
	n->live = op;
	n->inflight++;
	n->stats.ops[target]++;
	return op;
}

void op_unref(struct op *op)
{
	ASSERT(op->refs > 0);
	if (--op->refs > 0)
		return;
	struct simnet *n = op->net;
	if (op->live_prev)
		op->live_prev->live_next = op->live_next;
	else
		n->live = op->live_next;
	if (op->live_next)
		op->live_next->live_prev = op->live_prev;
	if (op->argbuf != op->argspace)
		free(op->argbuf);
	free(op->values);
	while (op->blocks != NULL) {
		struct strblock *b = op->blocks;
		op->blocks = b->next;
		free(b);
	}
	if (n->ncache < OP_CACHE_MAX) {
		op->live_next = n->cache;
		n->cache = op;
		n->ncache++;
	} else {
		free(op);
	}
}

void op_after(struct op *op, uint64_t delay_us, sched_fn *fn)
{
	op->refs++;
	sched_after(op->net->s, delay_us, fn, op);
}

/* Gives the op an argument buffer of cap bytes. */
void op_alloc_args(struct op *op, size_t cap)
{
	if (cap <= OP_ARGSPACE_BYTES) {
		op->argbuf = op->argspace;
	} else {
		op->argbuf = malloc(cap);
		ASSERT(op->argbuf != NULL);
	}
	op->argcap = cap;
}

/* Copies len bytes into the op's argument buffer (NUL-terminated). */
const char *arg_copy(struct op *op, size_t *used, const char *s,
                     size_t len)
{
	ASSERT(*used + len + 1 <= op->argcap);
	char *d = op->argbuf + *used;
	memcpy(d, s, len);
	d[len] = '\0';
	*used += len + 1;
	return d;
}

/* Copies a reply string; the op owns the copy. */
const char *reply_copy(struct op *op, const char *s, size_t len)
{
	if (s == NULL)
		return NULL;
	char *d;
	if (op->arena_used + len + 1 <= OP_ARENA_BYTES) {
		d = op->arena + op->arena_used;
		op->arena_used += len + 1;
	} else {
		struct strblock *b = malloc(sizeof *b + len + 1);
		ASSERT(b != NULL);
		b->next = op->blocks;
		op->blocks = b;
		d = b->text;
	}
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

static void trace_fault(struct simnet *n, const struct op *op)
{
	if (!TRACE_ON(n->tr))
		return;
	trace_begin(n->tr, sched_now_us(n->s), "fault");
	trace_str(n->tr, "target", fault_target_name(op->target));
	trace_str(n->tr, "op", op->opname);
	trace_str(n->tr, "kind", fault_kind_name(op->fd.rule->kind));
	trace_uint(n->tr, "rule", op->fd.index);
	if (op->fd.rule->kind == FAULT_LATENCY)
		trace_uint(n->tr, "latency_us", op->fd.latency_us);
	trace_end(n->tr);
}

/* Decides whether a fault hits this op; records it when one does. */
void op_decide(struct op *op, const char *opname)
{
	struct simnet *n = op->net;
	if (n->hooks.on_issued != NULL)
		n->hooks.on_issued(n->hooks.arg, op->target, opname);
	if (n->plan == NULL)
		return;
	struct fault_decision fd;
	if (!fault_plan_decide(n->plan, n->rng, op->target, opname,
	                       sched_now_us(n->s), &fd))
		return;
	op->faulted = true;
	op->fd = fd;
	n->stats.faults[fd.rule->kind]++;
	n->fault_count[op->target]++;
	n->last_fault_us[op->target] = sched_now_us(n->s);
	trace_fault(n, op);
	if (n->hooks.on_fault != NULL)
		n->hooks.on_fault(n->hooks.arg, op->target, fd.rule->kind, opname);
}

enum fault_kind op_kind(const struct op *op)
{
	return op->faulted ? op->fd.rule->kind : FAULT_KIND_COUNT;
}

static void trace_answer(struct simnet *n, const struct op *op)
{
	if (!TRACE_ON(n->tr))
		return;
	trace_begin(n->tr, sched_now_us(n->s), "reply");
	trace_str(n->tr, "target", fault_target_name(op->target));
	trace_str(n->tr, "op", op->opname);
	trace_str(n->tr, "outcome", outcome_name(op->oc));
	if (op->type == OP_KV || op->type == OP_KV_TXN) {
		if (op->oc == OUTCOME_OK || op->oc == OUTCOME_ERROR) {
			if (op->reply.type == KV_REPLY_INTEGER)
				trace_int(n->tr, "int", op->reply.integer);
			else if (op->reply.type == KV_REPLY_NIL)
				trace_str(n->tr, "reply", NULL);
			else if (op->reply.str != NULL)
				trace_strn(n->tr, "reply", op->reply.str, op->reply.len);
		}
	} else if (op->type == OP_SQL_EXEC || op->type == OP_SQL_ACQUIRE) {
		if (op->oc == OUTCOME_OK && op->type == OP_SQL_EXEC) {
			trace_int(n->tr, "rows", op->res.nrows);
			trace_int(n->tr, "affected", op->res.affected);
		}
		if (op->oc == OUTCOME_ERROR)
			trace_str(n->tr, "sqlstate", op->sqlstate);
	} else if (op->type == OP_STRIPE) {
		if (op->oc == OUTCOME_OK || op->oc == OUTCOME_ERROR) {
			trace_int(n->tr, "status", op->sr.http_status);
			if (op->sr.customer_id && op->sr.customer_id[0])
				trace_str(n->tr, "customer", op->sr.customer_id);
		}
	} else if (op->type == OP_MAIL) {
		trace_int(n->tr, "smtp", op->smtp_code);
	}
	trace_end(n->tr);
}

static void deadline_unlink(struct op *op)
{
	if (!op->on_deadline_q)
		return;
	struct deadline_q *q = &op->net->dq[op->target];
	if (op->dl_prev)
		op->dl_prev->dl_next = op->dl_next;
	else
		q->head = op->dl_next;
	if (op->dl_next)
		op->dl_next->dl_prev = op->dl_prev;
	else
		q->tail = op->dl_prev;
	op->on_deadline_q = false;
	op->dl_prev = op->dl_next = NULL;
}

/* Gives the client its answer (op->oc and the reply fields are set). */
static void op_answer(struct op *op)
{
	struct simnet *n = op->net;
	ASSERT(!op->answered);
	op->answered = true;
	deadline_unlink(op);
	n->inflight--;
	trace_answer(n, op);
	switch (op->type) {
	case OP_KV:
	case OP_KV_TXN:
		op->done.kv(op->arg, op->oc,
		            op->oc == OUTCOME_OK || op->oc == OUTCOME_ERROR ? &op->reply : NULL);
		break;
	case OP_SQL_ACQUIRE:
		op->done.acquire(op->arg, op->oc, op->oc == OUTCOME_OK ? op->conn : NULL,
		                 op->oc == OUTCOME_ERROR ? op->sqlstate : "");
		break;
	case OP_SQL_EXEC:
		if (op->conn->pending == op)
			op->conn->pending = NULL;
		op->done.sql(op->arg, op->oc,
		             op->oc == OUTCOME_OK || op->oc == OUTCOME_ERROR ? &op->res : NULL);
		break;
	case OP_STRIPE:
		op->done.stripe(op->arg, op->oc,
		                op->oc == OUTCOME_OK || op->oc == OUTCOME_ERROR ? &op->sr : NULL);
		break;
	case OP_MAIL:
		/* A client that got no answer has no code either, even when the
		 * server accepted the message (timeout-applied). */
		op->done.mail(op->arg, op->oc,
		              op->oc == OUTCOME_OK || op->oc == OUTCOME_ERROR ? op->smtp_code : 0);
		break;
	}
	op_unref(op); /* the client's wait */
}

/* A reply that comes after the client's deadline: counted, never delivered. */
static void op_count_late(struct op *op)
{
	ASSERT(op->answered);
	op->net->stats.late_replies++;
	if (TRACE_ON(op->net->tr)) {
		trace_begin(op->net->tr, sched_now_us(op->net->s), "late_reply");
		trace_str(op->net->tr, "target", fault_target_name(op->target));
		trace_str(op->net->tr, "op", op->opname);
		trace_end(op->net->tr);
	}
}

/* The reply reaches the client, unless the deadline already answered. */
void op_on_reply(void *arg)
{
	struct op *op = arg;
	if (op->answered) {
		op_count_late(op);
	} else {
		op_answer(op);
	}
	op_unref(op);
}



static void op_on_deadline(struct op *op)
{
	op->refs++;
	op->oc = OUTCOME_TIMEOUT;
	/* A Postgres client that gives up on a statement drops the connection:
	 * the server then rolls back what is open. */
	if (op->type == OP_SQL_EXEC)
		sql_conn_break(op->conn);
	struct sql_conn *granted = NULL;
	if (op->type == OP_SQL_ACQUIRE) {
		enum fault_kind k = op->faulted ? op->fd.rule->kind : FAULT_KIND_COUNT;
		if (op->conn != NULL) {
			/* Granted, but the answer was still on its way: the client
			 * never holds it, so the pool takes it back. */
			granted = op->conn;
			op->conn = NULL;
		} else if (k != FAULT_TIMEOUT_APPLIED && k != FAULT_TIMEOUT_NOT_APPLIED &&
		           k != FAULT_STALL) {
			/* Waited in the queue for a free connection until its
			 * deadline: a pool answers "too many connections". */
			op->oc = OUTCOME_ERROR;
			memcpy(op->sqlstate, SQLSTATE_TOO_MANY_CONNECTIONS, 6);
		}
	}
	op_answer(op);
	if (granted != NULL)
		sql_release(op->net, granted);
	op_unref(op);
}

static void deadline_on_timer(void *arg);

static void deadline_arm(struct deadline_q *q)
{
	if (q->armed || q->head == NULL)
		return;
	uint64_t now = sched_now_us(q->net->s);
	q->armed = true;
	sched_after(q->net->s, q->head->deadline_us > now ? q->head->deadline_us - now : 0,
	            deadline_on_timer, q);
}

/* Answers every op whose deadline has come, then waits for the next. */
static void deadline_on_timer(void *arg)
{
	struct deadline_q *q = arg;
	q->armed = false;
	uint64_t now = sched_now_us(q->net->s);
	while (q->head != NULL && q->head->deadline_us <= now)
		op_on_deadline(q->head); /* unlinks it */
	deadline_arm(q);
}

void op_arm_deadline(struct op *op)
{
	struct deadline_q *q = &op->net->dq[op->target];
	op->deadline_us = sched_now_us(op->net->s) + backend(op->net, op->target)->timeout_us;
	/* One timeout per target: deadlines arrive in order. */
	ASSERT(q->tail == NULL || q->tail->deadline_us <= op->deadline_us);
	op->dl_prev = q->tail;
	op->dl_next = NULL;
	if (q->tail)
		q->tail->dl_next = op;
	else
		q->head = op;
	q->tail = op;
	op->on_deadline_q = true;
	deadline_arm(q);
}

/* Answers after the reply leg. */
void op_reply_later(struct op *op)
{
	op_after(op, leg_us(op->net, op->target), op_on_reply);
}

/* Connection refused or lost before the server saw the request. */
void op_fail_conn(struct op *op, uint64_t delay_us)
{
	op->oc = OUTCOME_CONN_LOST;
	op_after(op, delay_us, op_on_reply);
}

/* Sends the request leg of op (d1 microseconds) toward apply, or not, as
 * its fault says. Kinds that need the target's own answer (server-error)
 * are the caller's, before this. */
static void op_send(struct op *op, uint64_t d1, sched_fn *apply)
{
	switch (op_kind(op)) {
	case FAULT_ERROR:
	case FAULT_CONN_LOST:
	case FAULT_RESTART:
	case FAULT_POOL_EXHAUSTED:
		op_fail_conn(op, d1);
		return;
	case FAULT_TIMEOUT_NOT_APPLIED:
		return; /* lost on the way: only the deadline answers */
	case FAULT_STALL:
		if (op->fd.rule->stall_applied)
			op_after(op, d1, apply);
		return;
	case FAULT_LATENCY:
		d1 += op->fd.latency_us;
		break;
	default:
		break;
	}
	op_after(op, d1, apply);
}

bool target_down(struct simnet *n, enum fault_target t)
{
	if (n->shutdown)
		return true;
	if (n->inflight > SIMNET_OPS_MAX) {
		/* The client's own limit on operations in flight: past it,
		 * new operations fail at once, as a connection pool that is
		 * out of sockets does. */
		n->stats.overloaded++;
		return true;
	}
	return n->plan != NULL && fault_plan_down(n->plan, t, sched_now_us(n->s), NULL);
}

/* ---- Redis -------------------------------------------------------------- */

static const char *kv_opname(const struct kv_cmd *c)
{
	static const char *const names[] = {"incr", "expire", "pexpire", "set", "get",
	                                    "del", "ttl", "pttl"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (kv_word_is(c->argv[0], names[i]))
			return names[i];
	}
	return "other";
}

static void kv_copy_reply(struct op *op, const struct kv_reply *r,
                          struct kv_reply *to)
{
	*to = *r;
	to->str = r->str ? reply_copy(op, r->str, r->len) : NULL;
	to->element = NULL;
}

/* ---- coverage of what the servers applied ------------------------------ */

static enum world_apply_class kv_class(const struct kv_reply *r)
{
	switch (r->type) {
	case KV_REPLY_NIL: return WA_NIL;
	case KV_REPLY_INTEGER: return r->integer == 1 ? WA_INT_ONE : WA_INT_OTHER;
	case KV_REPLY_ERROR: return WA_ERROR;
	default: return WA_OK;
	}
}

static enum world_apply_class status_class(int status)
{
	if (status == 409)
		return WA_HTTP_409;
	if (status >= 200 && status < 300)
		return WA_HTTP_2XX;
	if (status == 250)
		return WA_OK;
	return status >= 500 ? WA_HTTP_5XX : WA_HTTP_4XX;
}

void note_applied(struct simnet *n, enum fault_target target, const char *op,
                  enum world_apply_class cls)
{
	if (n->hooks.on_applied != NULL)
		n->hooks.on_applied(n->hooks.arg, target, op, cls);
}

static void kv_on_apply(void *arg)
{
	struct op *op = arg;
	struct simnet *n = op->net;
	enum fault_kind k = op_kind(op);
	bool reply = k != FAULT_TIMEOUT_APPLIED && k != FAULT_STALL;

	if (target_down(n, FAULT_TARGET_REDIS)) {
		op->oc = OUTCOME_CONN_LOST;
		if (!op->answered)
			op_reply_later(op);
		op_unref(op);
		return;
	}
	struct kv_reply r;
	if (op->type == OP_KV) {
		redis_model_exec(n->m.redis, SIMNET_REDIS_EPOCH_US + sched_now_us(n->s), &op->cmds[0],
		                 &r);
		kv_copy_reply(op, &r, &op->reply);
		if (n->hooks.on_kv_applied != NULL)
			n->hooks.on_kv_applied(n->hooks.arg, &op->cmds[0], &op->reply);
		note_applied(n, FAULT_TARGET_REDIS, op->opname, kv_class(&op->reply));
	} else {
		redis_model_exec_multi(n->m.redis, SIMNET_REDIS_EPOCH_US + sched_now_us(n->s), op->ncmds,
		                       op->cmds, &r);
		kv_copy_reply(op, &r, &op->reply);
		if (r.type == KV_REPLY_ARRAY) {
			ASSERT(r.elements <= KV_TXN_MAX);
			for (size_t i = 0; i < r.elements; i++) {
				kv_copy_reply(op, &r.element[i], &op->elems[i]);
				if (n->hooks.on_kv_applied != NULL)
					n->hooks.on_kv_applied(n->hooks.arg, &op->cmds[i],
					                       &op->elems[i]);
			}
			op->reply.element = op->elems;
			note_applied(n, FAULT_TARGET_REDIS, op->opname, WA_OK);
		} else {
			note_applied(n, FAULT_TARGET_REDIS, op->opname, kv_class(&r));
		}
	}
	if (TRACE_ON(n->tr)) {
		trace_begin(n->tr, sched_now_us(n->s), "apply");
		trace_str(n->tr, "target", "redis");
		trace_str(n->tr, "op", op->opname);
		for (int c = 0; c < op->ncmds; c++) {
			for (int i = 1; i < op->cmds[c].argc && i < 3; i++)
				trace_str(n->tr, i == 1 ? "key" : "arg", op->cmds[c].argv[i]);
		}
		trace_end(n->tr);
	}
	op->oc = op->reply.type == KV_REPLY_ERROR ? OUTCOME_ERROR : OUTCOME_OK;
	if (reply && !op->answered)
		op_reply_later(op);
	else if (reply)
		op_count_late(op); /* applied after the deadline: its reply is late */
	op_unref(op);
}

static void kv_start(struct op *op)
{
	struct simnet *n = op->net;
	op_arm_deadline(op);
	if (target_down(n, FAULT_TARGET_REDIS)) {
		op_fail_conn(op, leg_us(n, FAULT_TARGET_REDIS));
		return;
	}
	/* A rule on any command of a transaction hits the whole transaction:
	 * MULTI/EXEC is one unit on the wire and in the server. */
	op_decide(op, op->opname);
	for (int i = 0; !op->faulted && op->type == OP_KV_TXN && i < op->ncmds; i++)
		op_decide(op, kv_opname(&op->cmds[i]));
	uint64_t d1 = leg_us(n, FAULT_TARGET_REDIS);
	if (op_kind(op) == FAULT_SERVER_ERROR) {
		op->oc = OUTCOME_ERROR;
		const char *msg = op->fd.rule->error[0] ? op->fd.rule->error : "ERR injected";
		op->reply.type = KV_REPLY_ERROR;
		op->reply.str = reply_copy(op, msg, strlen(msg));
		op->reply.len = strlen(msg);
		op_after(op, d1 + leg_us(n, FAULT_TARGET_REDIS), op_on_reply);
		return;
	}
	op_send(op, d1, kv_on_apply);
}

static size_t kv_cmd_size(const struct kv_cmd *c)
{
	size_t n = 0;
	for (int i = 0; i < c->argc; i++)
		n += strlen(c->argv[i]) + 1;
	return n;
}

static void kv_copy_cmd(struct op *op, size_t *used, const struct kv_cmd *from,
                        struct kv_cmd *to)
{
	ASSERT(from->argc > 0 && from->argc <= KV_ARGV_MAX);
	to->argc = from->argc;
	for (int i = 0; i < from->argc; i++)
		to->argv[i] = arg_copy(op, used, from->argv[i], strlen(from->argv[i]));
}

static void kv_command(void *ctx, const struct kv_cmd *cmd, kv_done_fn *done,
                       void *arg)
{
	struct simnet *n = ctx;
	struct op *op = op_new(n, OP_KV, FAULT_TARGET_REDIS, kv_opname(cmd), arg);
	op->done.kv = done;
	op_alloc_args(op, kv_cmd_size(cmd));
	size_t used = 0;
	op->ncmds = 1;
	kv_copy_cmd(op, &used, cmd, &op->cmds[0]);
	kv_start(op);
}

static void kv_transaction(void *ctx, int ncmds, const struct kv_cmd *cmds,
                           kv_done_fn *done, void *arg)
{
	struct simnet *n = ctx;
	ASSERT(ncmds > 0 && ncmds <= KV_TXN_MAX);
	struct op *op = op_new(n, OP_KV_TXN, FAULT_TARGET_REDIS, "exec", arg);
	op->done.kv = done;
	size_t cap = 0;
	for (int i = 0; i < ncmds; i++)
		cap += kv_cmd_size(&cmds[i]);
	op_alloc_args(op, cap);
	size_t used = 0;
	op->ncmds = ncmds;
	for (int i = 0; i < ncmds; i++)
		kv_copy_cmd(op, &used, &cmds[i], &op->cmds[i]);
	kv_start(op);
}

/* ---- Stripe ------------------------------------------------------------- */

static void stripe_copy_reply(struct op *op, const struct stripe_reply *r)
{
	op->sr = *r;
	op->sr.error_type = reply_copy(op, r->error_type ? r->error_type : "",
	                               r->error_type ? strlen(r->error_type) : 0);
	op->sr.customer_id = reply_copy(op, r->customer_id ? r->customer_id : "",
	                                r->customer_id ? strlen(r->customer_id) : 0);
	op->oc = r->http_status >= 200 && r->http_status < 300 ? OUTCOME_OK : OUTCOME_ERROR;
}

/* A request that arrives while its server is down: the connection is lost
 * (its reference dropped); true when so. */
static bool op_arrives_down(struct op *op, enum fault_target t)
{
	if (!target_down(op->net, t))
		return false;
	if (!op->answered) {
		op->oc = OUTCOME_CONN_LOST;
		op_reply_later(op);
	}
	op_unref(op);
	return true;
}

/* Stripe ran op: counted, traced and noted for rules armed after it. The
 * coverage count reads the status Stripe itself answered. */
static void stripe_applied(struct op *op, const char *name)
{
	struct simnet *n = op->net;
	note_applied(n, FAULT_TARGET_STRIPE, name, status_class(op->sr.http_status));
	if (TRACE_ON(n->tr)) {
		trace_begin(n->tr, sched_now_us(n->s), "apply");
		trace_str(n->tr, "target", "stripe");
		trace_str(n->tr, "op", name);
		trace_str(n->tr, "user", op->sp.user_id);
		trace_int(n->tr, "status", op->sr.http_status);
		trace_str(n->tr, "customer", op->sr.customer_id);
		trace_end(n->tr);
	}
	if (n->plan != NULL)
		fault_plan_note(n->plan, FAULT_TARGET_STRIPE, name);
}

/* bad-reply: Stripe did the work and answered 200, but the answer the
 * client reads carries no customer id (a body cut short, a proxy's page). */
static void stripe_spoil_reply(struct op *op)
{
	if (op_kind(op) == FAULT_BAD_REPLY && op->sr.http_status == 200)
		op->sr.customer_id = reply_copy(op, "", 0);
}

static void stripe_on_finish(void *arg)
{
	struct op *op = arg;
	struct simnet *n = op->net;
	struct stripe_reply r;
	enum fault_kind k = op_kind(op);
	int status = 200;
	if (k == FAULT_SERVER_ERROR)
		status = op->fd.rule->status ? op->fd.rule->status : 500;
	stripe_model_customer_finish(n->m.stripe, op->stripe_token, sched_now_us(n->s),
	                             status, true, &r);
	stripe_copy_reply(op, &r);
	if (k == FAULT_SERVER_ERROR && op->fd.rule->error[0])
		op->sr.error_type = reply_copy(op, op->fd.rule->error, strlen(op->fd.rule->error));
	stripe_applied(op, "customers.create");
	stripe_spoil_reply(op);
	if (k != FAULT_TIMEOUT_APPLIED && k != FAULT_STALL && !op->answered)
		op_reply_later(op);
	op_unref(op);
}

static void stripe_on_arrive(void *arg)
{
	struct op *op = arg;
	struct simnet *n = op->net;
	enum fault_kind k = op_kind(op);
	if (op_arrives_down(op, FAULT_TARGET_STRIPE))
		return;
	if (k == FAULT_SERVER_ERROR) {
		int status = op->fd.rule->status ? op->fd.rule->status : 500;
		if (status != 500 && status != 502 && status != 503) {
			/* Refused before Stripe's API ran (429 rate limit, 409
			 * lock timeout, 400): nothing saved under the key. */
			struct stripe_reply r = {
				.http_status = status,
				.error_type = op->fd.rule->error[0] ? op->fd.rule->error
				              : status == 429 ? "rate_limit_error" : "api_error",
				.customer_id = "",
			};
			stripe_copy_reply(op, &r);
			if (!op->answered)
				op_reply_later(op);
			op_unref(op);
			return;
		}
	}
	struct stripe_reply r;
	if (stripe_model_customer_begin(n->m.stripe, sched_now_us(n->s), &op->sp,
	                                &op->stripe_token, &r)) {
		stripe_copy_reply(op, &r);
		stripe_spoil_reply(op);
		if (k != FAULT_TIMEOUT_APPLIED && k != FAULT_STALL && !op->answered)
			op_reply_later(op);
		op_unref(op);
		return;
	}
	/* Stripe works on it for a while: the key is in flight meanwhile. */
	op_after(op, leg_us(n, FAULT_TARGET_STRIPE), stripe_on_finish);
	op_unref(op);
}

static void stripe_customer_create(void *ctx, const struct stripe_customer_params *p,
                                   stripe_done_fn *done, void *arg)
{
	struct simnet *n = ctx;
	struct op *op = op_new(n, OP_STRIPE, FAULT_TARGET_STRIPE, "customers.create", arg);
	op->done.stripe = done;
	op_alloc_args(op, (p->email ? strlen(p->email) + 1 : 0) +
	                  (p->user_id ? strlen(p->user_id) + 1 : 0) +
	                  (p->idempotency_key ? strlen(p->idempotency_key) + 1 : 0));
	size_t used = 0;
	op->sp.email = p->email ? arg_copy(op, &used, p->email, strlen(p->email)) : NULL;
	op->sp.user_id = p->user_id ? arg_copy(op, &used, p->user_id, strlen(p->user_id)) : NULL;
	op->sp.idempotency_key = p->idempotency_key
		? arg_copy(op, &used, p->idempotency_key, strlen(p->idempotency_key)) : NULL;
	op_arm_deadline(op);
	if (target_down(n, FAULT_TARGET_STRIPE)) {
		op_fail_conn(op, leg_us(n, FAULT_TARGET_STRIPE));
		return;
	}
	op_decide(op, "customers.create");
	/* server-error is answered by stripe_on_arrive: some statuses are
	 * saved under the idempotency key. */
	op_send(op, leg_us(n, FAULT_TARGET_STRIPE), stripe_on_arrive);
}

/* A search is a read: it runs where it arrives, and a server-error is
 * answered instead of it. */
static void stripe_find_on_arrive(void *arg)
{
	struct op *op = arg;
	struct simnet *n = op->net;
	enum fault_kind k = op_kind(op);
	if (op_arrives_down(op, FAULT_TARGET_STRIPE))
		return;
	struct stripe_reply r = {.http_status = 200, .error_type = "", .customer_id = ""};
	if (k == FAULT_SERVER_ERROR) {
		r.http_status = op->fd.rule->status ? op->fd.rule->status : 500;
		r.error_type = op->fd.rule->error[0] ? op->fd.rule->error
		               : r.http_status == 429 ? "rate_limit_error"
		               : r.http_status >= 500 ? "api_error" : "invalid_request_error";
	} else {
		r.customer_id = stripe_model_customer_find(n->m.stripe, sched_now_us(n->s),
		                                           op->sp.user_id);
	}
	stripe_copy_reply(op, &r);
	stripe_applied(op, "customers.search");
	if (k != FAULT_TIMEOUT_APPLIED && k != FAULT_STALL && !op->answered)
		op_reply_later(op);
	op_unref(op);
}

static void stripe_customer_find(void *ctx, const char *user_id, stripe_done_fn *done,
                                 void *arg)
{
	struct simnet *n = ctx;
	struct op *op = op_new(n, OP_STRIPE, FAULT_TARGET_STRIPE, "customers.search", arg);
	op->done.stripe = done;
	size_t len = user_id != NULL ? strlen(user_id) : 0;
	op_alloc_args(op, len + 1);
	size_t used = 0;
	op->sp.user_id = arg_copy(op, &used, user_id != NULL ? user_id : "", len);
	op_arm_deadline(op);
	if (target_down(n, FAULT_TARGET_STRIPE)) {
		op_fail_conn(op, leg_us(n, FAULT_TARGET_STRIPE));
		return;
	}
	op_decide(op, "customers.search");
	op_send(op, leg_us(n, FAULT_TARGET_STRIPE), stripe_find_on_arrive);
}

/* ---- Mail --------------------------------------------------------------- */

static void mail_on_apply(void *arg)
{
	struct op *op = arg;
	struct simnet *n = op->net;
	enum fault_kind k = op_kind(op);
	if (op_arrives_down(op, FAULT_TARGET_MAIL))
		return;
	op->smtp_code = mail_model_accept(n->m.mail, sched_now_us(n->s), &op->msg);
	op->oc = op->smtp_code == 250 ? OUTCOME_OK : OUTCOME_ERROR;
	note_applied(n, FAULT_TARGET_MAIL, "send", status_class(op->smtp_code));
	if (TRACE_ON(n->tr)) {
		trace_begin(n->tr, sched_now_us(n->s), "apply");
		trace_str(n->tr, "target", "mail");
		trace_str(n->tr, "op", "send");
		trace_str(n->tr, "to", op->msg.to);
		trace_int(n->tr, "smtp", op->smtp_code);
		trace_end(n->tr);
	}
	if (k != FAULT_TIMEOUT_APPLIED && k != FAULT_STALL && !op->answered)
		op_reply_later(op);
	op_unref(op);
}

static void mail_send(void *ctx, const struct mail_message *m, mail_done_fn *done,
                      void *arg)
{
	struct simnet *n = ctx;
	struct op *op = op_new(n, OP_MAIL, FAULT_TARGET_MAIL, "send", arg);
	op->done.mail = done;
	size_t need = (m->from ? strlen(m->from) : 0) + (m->to ? strlen(m->to) : 0) + m->len + 3;
	op_alloc_args(op, need);
	size_t used = 0;
	op->msg.from = arg_copy(op, &used, m->from ? m->from : "", m->from ? strlen(m->from) : 0);
	op->msg.to = arg_copy(op, &used, m->to ? m->to : "", m->to ? strlen(m->to) : 0);
	op->msg.data = arg_copy(op, &used, m->data, m->len);
	op->msg.len = m->len;
	op_arm_deadline(op);
	if (target_down(n, FAULT_TARGET_MAIL)) {
		op_fail_conn(op, leg_us(n, FAULT_TARGET_MAIL));
		return;
	}
	op_decide(op, "send");
	uint64_t d1 = leg_us(n, FAULT_TARGET_MAIL);
	if (op_kind(op) == FAULT_SERVER_ERROR) {
		op->oc = OUTCOME_ERROR;
		op->smtp_code = op->fd.rule->status ? op->fd.rule->status : 451;
		op_after(op, d1 + leg_us(n, FAULT_TARGET_MAIL), op_on_reply);
		return;
	}
	op_send(op, d1, mail_on_apply);
}

/* ---- the network -------------------------------------------------------- */

struct simnet *simnet_create(struct sched *s, struct prng *rng,
                             struct fault_plan *plan, struct trace *tr,
                             const struct simnet_models *models,
                             const struct scenario *sc,
                             const struct simnet_hooks *hooks)
{
	ASSERT(s != NULL && rng != NULL && models != NULL && sc != NULL);
	struct simnet *n = calloc(1, sizeof *n);
	if (n == NULL)
		return NULL;
	n->s = s;
	n->rng = rng;
	n->plan = plan;
	n->tr = tr;
	n->m = *models;
	n->sc = sc;
	if (hooks != NULL)
		n->hooks = *hooks;
	n->pool_size = sc->pg_pool_size;
	if (n->pool_size == 0)
		n->pool_size = 1;
	if (n->pool_size > SIMNET_POOL_MAX)
		n->pool_size = SIMNET_POOL_MAX;
	for (uint32_t i = 0; i < n->pool_size; i++) {
		n->pool[i].net = n;
		n->pool[i].index = i;
	}
	for (int t = 0; t < FAULT_TARGET_COUNT; t++) {
		n->dq[t].net = n;
		n->dq[t].target = (enum fault_target)t;
	}
	return n;
}

void simnet_destroy(struct simnet *n)
{
	if (n == NULL)
		return;
	while (n->wait_head != NULL) {
		struct op *w = n->wait_head;
		n->wait_head = w->next_waiter;
		op_unref(w);
	}
	/* Every op must be gone by now: a reference that outlived its timer
	 * is a leak (the destroy runs after the drain of world_free). */
	ASSERT(n->live == NULL);
	while (n->cache != NULL) {
		struct op *op = n->cache;
		n->cache = op->live_next;
		free(op);
	}
	free(n);
}

void simnet_ports(struct simnet *n, struct core_env *env)
{
	env->kv = (struct kv_port){.ctx = n, .command = kv_command,
	                           .transaction = kv_transaction};
	env->sql = (struct sql_port){.ctx = n, .acquire = sql_acquire, .exec = sql_exec,
	                             .release = sql_release};
	env->stripe = (struct stripe_port){.ctx = n, .customer_create = stripe_customer_create,
	                                   .customer_find = stripe_customer_find};
	env->mail = (struct mail_port){.ctx = n, .send = mail_send};
}

static void simnet_on_restart(void *arg)
{
	struct restart_ctx *rc = arg;
	struct simnet *n = rc->n;
	const struct fault_rule *r = &n->plan->rules[rc->rule];
	n->stats.faults[FAULT_RESTART]++;
	n->fault_count[r->target]++;
	n->last_fault_us[r->target] = sched_now_us(n->s);
	if (TRACE_ON(n->tr)) {
		trace_begin(n->tr, sched_now_us(n->s), "fault");
		trace_str(n->tr, "target", fault_target_name(r->target));
		trace_str(n->tr, "op", "*");
		trace_str(n->tr, "kind", "restart");
		trace_uint(n->tr, "rule", rc->rule);
		trace_uint(n->tr, "down_us", r->duration_us);
		trace_bool(n->tr, "keys_lost", r->target == FAULT_TARGET_REDIS && !r->persistence);
		trace_end(n->tr);
	}
	if (n->hooks.on_fault != NULL)
		n->hooks.on_fault(n->hooks.arg, r->target, FAULT_RESTART, "*");
	if (r->target == FAULT_TARGET_REDIS && !r->persistence)
		redis_model_flushall(n->m.redis);
	if (r->target == FAULT_TARGET_POSTGRES) {
		/* Every backend dies with the server. */
		for (uint32_t i = 0; i < n->pool_size; i++) {
			/* A statement waiting on a lock has no apply step left to
			 * notice the dead backend: it hears it from here. */
			struct op *p = n->pool[i].pending;
			bool blocked = p != NULL && p->blocked;
			if (blocked)
				p->refs++;
			if (n->pool[i].open)
				sql_conn_break(&n->pool[i]);
			if (!n->pool[i].in_use)
				n->pool[i].broken = false;
			if (blocked) {
				if (!p->answered) {
					p->oc = OUTCOME_CONN_LOST;
					op_reply_later(p);
				}
				op_unref(p);
			}
		}
	}
}

void simnet_schedule_restarts(struct simnet *n)
{
	if (n->plan == NULL)
		return;
	for (size_t i = 0; i < n->plan->nrules; i++) {
		const struct fault_rule *r = &n->plan->rules[i];
		if (r->kind != FAULT_RESTART)
			continue;
		/* A restart is a scheduled event, not a draw: probability 0
		 * switches it off, anything else schedules it. */
		if (r->probability <= 0.0)
			continue;
		ASSERT(i < FAULT_RULES_MAX);
		struct restart_ctx *rc = &n->restarts[i];
		rc->n = n;
		rc->rule = i;
		uint64_t now = sched_now_us(n->s);
		sched_after(n->s, r->from_us > now ? r->from_us - now : 0, simnet_on_restart, rc);
	}
}

bool simnet_healthy_since(const struct simnet *n, enum fault_target target,
                          uint64_t since_us)
{
	if (n->fault_count[target] == 0)
		return true;
	if (n->last_fault_us[target] < since_us) {
		/* A server down window may still cover since_us. */
		return !(n->plan && fault_plan_down(n->plan, target, since_us, NULL));
	}
	return false;
}

uint64_t simnet_last_fault_us(const struct simnet *n, enum fault_target target)
{
	return n->last_fault_us[target];
}

uint64_t simnet_fault_count(const struct simnet *n, enum fault_target target)
{
	return n->fault_count[target];
}

const struct simnet_stats *simnet_stats(const struct simnet *n)
{
	return &n->stats;
}

void simnet_shutdown(struct simnet *n)
{
	n->shutdown = true;
	/* Answer every waiting client now. Callbacks may start new operations
	 * (which fail at once), so work on a snapshot, holding each op. */
	size_t count = 0;
	for (struct op *op = n->live; op != NULL; op = op->live_next)
		count++;
	if (count == 0)
		return;
	struct op **snap = calloc(count, sizeof *snap);
	ASSERT(snap != NULL);
	size_t k = 0;
	for (struct op *op = n->live; op != NULL; op = op->live_next) {
		op->refs++;
		snap[k++] = op;
	}
	for (size_t i = 0; i < k; i++) {
		struct op *op = snap[i];
		if (!op->answered) {
			if (op->type == OP_SQL_EXEC)
				sql_conn_break(op->conn);
			op->oc = OUTCOME_CONN_LOST;
			op_answer(op);
		}
		op_unref(op);
	}
	free(snap);
}

uint64_t simnet_inflight(const struct simnet *n)
{
	return n->inflight;
}
