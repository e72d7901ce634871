/* live/world_live_ports.c - the core's ports in live mode: wrappers around the
 * kv, sql, Stripe and mail adapters that apply the scenario's fault rules
 * the proxy cannot (by operation and ordinal) and count what fired. */
#include "live/world_live.h"

#include "live/world_live_int.h"

/* ---- kv wrapper ------------------------------------------------------------- */

static void kv_report_applied(struct lop *op, const struct kv_reply *reply, uint64_t age_us)
{
	struct world_live *wl = op->wl;
	if (wl->seed.hooks.on_kv_applied == NULL)
		return;
	if (!op->txn) {
		wl->seed.hooks.on_kv_applied(wl->seed.hooks.arg, &op->cmds[0], reply, age_us);
		return;
	}
	if (reply->type != KV_REPLY_ARRAY)
		return;
	for (size_t i = 0; i < reply->elements && i < (size_t)op->ncmds; i++)
		wl->seed.hooks.on_kv_applied(wl->seed.hooks.arg, &op->cmds[i], &reply->element[i],
		                             age_us);
}

static bool kv_is_set_nx(const struct kv_cmd *c)
{
	if (c->argc < 4 || strcasecmp(c->argv[0], "SET") != 0)
		return false;
	for (int i = 3; i < c->argc; i++) {
		if (strcasecmp(c->argv[i], "NX") == 0)
			return true;
	}
	return false;
}

static void claim_on_get(void *arg, enum outcome oc, const struct kv_reply *reply)
{
	struct lop *op = arg;
	op->inner_pending = false;
	if (!op->wl->shutdown && oc == OUTCOME_OK && reply->type == KV_REPLY_BULK &&
	    strcmp(reply->str, op->cmds[0].argv[2]) == 0) {
		struct kv_reply ok = {.type = KV_REPLY_STATUS, .str = "OK", .len = 2};
		kv_report_applied(op, &ok, wl_now_us(op->wl) - op->sent_us);
	}
	op->answered = true;
	wl_lop_maybe_free(op);
}

/* A SET NX whose reply was lost may have been applied: the value it wrote
 * says so (the key outlives a client deadline), read on the direct line. */
static void kv_check_lost_claim(struct lop *from)
{
	struct world_live *wl = from->wl;
	struct lop *op = wl_lop_new(wl, LOP_CLAIM, NULL);
	op->sent_us = from->sent_us;
	wl_kv_copy(op, 1, &from->cmds[0]);
	struct kv_cmd get = {.argc = 2, .argv = {"GET", op->cmds[0].argv[1]}};
	op->inner_pending = true;
	wl->kv_direct.command(wl->kv_direct.ctx, &get, claim_on_get, op);
}

static void kv_on_inner(void *arg, enum outcome oc, const struct kv_reply *reply)
{
	struct lop *op = arg;
	struct world_live *wl = op->wl;
	op->inner_pending = false;
	wl_px_poll(wl);
	if (op->answered) {
		wl_lop_maybe_free(op);
		return;
	}
	/* A command lost with its connection met a failing Redis even when no
	 * rule fired for it (a connection a restart cut, found dead on its next
	 * command after the restart ended): the request did not see a healthy
	 * Redis, and the invariants must know (ratelimit-fail-closed, live,
	 * judged such an error as one "while Redis was healthy"). */
	if (oc == OUTCOME_CONN_LOST)
		wl_note_fault(wl, FAULT_TARGET_REDIS, FAULT_CONN_LOST, "*");
	if (oc == OUTCOME_OK)
		kv_report_applied(op, reply, wl_now_us(wl) - op->sent_us);
	else if ((oc == OUTCOME_TIMEOUT || oc == OUTCOME_CONN_LOST) && !op->txn &&
	         kv_is_set_nx(&op->cmds[0]))
		kv_check_lost_claim(op);
	/* redis_live keeps a connection past a deadline: when the proxy may
	 * have stalled it, reset it so later commands do not queue behind. */
	if (oc == OUTCOME_TIMEOUT && wl->redis_may_stall)
		wl_px_bounce(wl, PX_REDIS);
	op->answered = true;
	op->done.kv(op->arg, oc, reply);
	wl_lop_maybe_free(op);
}

static void kv_start(struct world_live *wl, int ncmds, const struct kv_cmd *cmds, bool txn,
                     kv_done_fn *done, void *arg)
{
	struct lop *op = wl_lop_new(wl, LOP_KV, arg);
	op->done.kv = done;
	op->txn = txn;
	wl_kv_copy(op, ncmds, cmds);
	if (wl->shutdown) {
		wl_lop_fail(op, OUTCOME_CONN_LOST);
		return;
	}
	op->inner_pending = true;
	if (txn)
		wl->kv.transaction(wl->kv.ctx, ncmds, cmds, kv_on_inner, op);
	else
		wl->kv.command(wl->kv.ctx, &cmds[0], kv_on_inner, op);
}

void wl_kv_command(void *ctx, const struct kv_cmd *cmd, kv_done_fn *done, void *arg)
{
	kv_start(ctx, 1, cmd, false, done, arg);
}

void wl_kv_transaction(void *ctx, int ncmds, const struct kv_cmd *cmds, kv_done_fn *done,
                           void *arg)
{
	ASSERT(ncmds > 0 && ncmds <= KV_TXN_MAX);
	kv_start(ctx, ncmds, cmds, true, done, arg);
}

/* ---- fault decisions of the wrappers --------------------------------------------- */

uint64_t wl_run_us(const struct world_live *wl)
{
	return wl_now_us(wl) - wl->t0_us;
}

/* The same decision the simulated network takes, on the wrapper-applied
 * rules (live/live_plan.c keeps only those in the run's plan). */
static bool wrap_decide(struct world_live *wl, struct lop *op, enum fault_target t,
                        const char *opname)
{
	struct fault_decision fd;
	if (!fault_plan_decide(wl->seed.plan, wl->seed.net, t, opname, wl_run_us(wl), &fd))
		return false;
	op->faulted = true;
	op->fd = fd;
	wl_note_fault(wl, t, fd.rule->kind, opname);
	return true;
}

static bool wrap_down(struct world_live *wl, enum fault_target t)
{
	return fault_plan_down(wl->seed.plan, t, wl_run_us(wl), NULL);
}

static enum fault_kind lop_kind(const struct lop *op)
{
	return op->faulted ? op->fd.rule->kind : FAULT_KIND_COUNT;
}

/* Delivers a held answer no earlier than deliver_at_us. */
static void lop_deliver(struct lop *op)
{
	uint64_t now = wl_now_us(op->wl);
	wl_lop_answer_later(op, op->deliver_at_us > now ? op->deliver_at_us - now : 0);
}

/* ---- sql wrapper --------------------------------------------------------------- */

static void sql_on_acquire(void *arg, enum outcome oc, struct sql_conn *conn,
                           const char *sqlstate)
{
	struct lop *op = arg;
	struct world_live *wl = op->wl;
	op->inner_pending = false;
	wl_px_poll(wl);
	if (op->answered) {
		/* Answered by the shutdown: the connection goes straight back. */
		if (oc == OUTCOME_OK && conn != NULL)
			wl->sql.release(wl->sql.ctx, conn);
		wl_lop_maybe_free(op);
		return;
	}
	op->answered = true;
	op->done.acquire(op->arg, oc, conn, sqlstate);
	wl_lop_maybe_free(op);
}

void wl_sql_acquire(void *ctx, sql_acquire_fn *done, void *arg)
{
	struct world_live *wl = ctx;
	struct lop *op = wl_lop_new(wl, LOP_ACQUIRE, arg);
	op->done.acquire = done;
	if (wl->shutdown || wrap_down(wl, FAULT_TARGET_POSTGRES)) {
		wl_lop_fail(op, OUTCOME_CONN_LOST);
		return;
	}
	wrap_decide(wl, op, FAULT_TARGET_POSTGRES, "acquire");
	switch (lop_kind(op)) {
	case FAULT_POOL_EXHAUSTED:
	case FAULT_SERVER_ERROR: {
		const char *st = lop_kind(op) == FAULT_SERVER_ERROR && strlen(op->fd.rule->error) == 5
		                 ? op->fd.rule->error : SQLSTATE_TOO_MANY_CONNECTIONS;
		memcpy(op->sqlstate, st, 5);
		op->sqlstate[5] = '\0';
		wl_lop_fail(op, OUTCOME_ERROR);
		return;
	}
	case FAULT_ERROR:
	case FAULT_CONN_LOST:
	case FAULT_RESTART:
		wl_lop_fail(op, OUTCOME_CONN_LOST);
		return;
	case FAULT_TIMEOUT_APPLIED:
	case FAULT_TIMEOUT_NOT_APPLIED:
	case FAULT_STALL:
		op->oc = OUTCOME_TIMEOUT;
		wl_lop_answer_later(op, wl_emulated_timeout_us(wl, FAULT_TARGET_POSTGRES));
		return;
	default:
		break;
	}
	op->inner_pending = true;
	wl->sql.acquire(wl->sql.ctx, sql_on_acquire, op);
}

static void sql_on_exec(void *arg, enum outcome oc, const struct sql_result *res)
{
	struct lop *op = arg;
	struct world_live *wl = op->wl;
	op->inner_pending = false;
	wl_px_poll(wl);
	if (op->answered) {
		if (op->release_deferred)
			wl->sql.release(wl->sql.ctx, op->conn);
		wl_lop_maybe_free(op);
		return;
	}
	op->answered = true;
	op->done.sql(op->arg, oc, res);
	wl_lop_maybe_free(op);
}

void wl_sql_exec(void *ctx, struct sql_conn *conn, enum sql_stmt stmt, int nparams,
                     const char *const *params, sql_done_fn *done, void *arg)
{
	struct world_live *wl = ctx;
	struct lop *op = wl_lop_new(wl, LOP_EXEC, arg);
	op->done.sql = done;
	op->conn = conn;
	if (wl->shutdown) {
		wl_lop_fail(op, OUTCOME_CONN_LOST);
		return;
	}
	op->inner_pending = true;
	wl->sql.exec(wl->sql.ctx, conn, stmt, nparams, params, sql_on_exec, op);
}

void wl_sql_release(void *ctx, struct sql_conn *conn)
{
	struct world_live *wl = ctx;
	/* After the shutdown answered a statement early, pg_live still runs
	 * it: the connection goes back when pg_live is done with it. */
	for (struct lop *op = wl->ops; op != NULL; op = op->next) {
		if (op->type == LOP_EXEC && op->conn == conn && op->inner_pending) {
			op->release_deferred = true;
			return;
		}
	}
	wl->sql.release(wl->sql.ctx, conn);
}

/* ---- stripe wrapper ---------------------------------------------------------------- */

static void stripe_hold(struct lop *op, enum outcome oc, const struct stripe_reply *r)
{
	op->oc = oc;
	op->sr = (struct stripe_reply){.error_type = op->sr_type, .customer_id = op->sr_customer};
	op->sr_type[0] = op->sr_customer[0] = '\0';
	if (r != NULL) {
		op->sr.http_status = r->http_status;
		op->sr.idempotent_replay = r->idempotent_replay;
		snprintf(op->sr_type, sizeof op->sr_type, "%s", r->error_type ? r->error_type : "");
		snprintf(op->sr_customer, sizeof op->sr_customer, "%s",
		         r->customer_id ? r->customer_id : "");
	}
}

static void stripe_answer_inner(struct lop *op, enum outcome oc, const struct stripe_reply *r,
                                const char *name)
{
	struct world_live *wl = op->wl;
	op->inner_pending = false;
	fault_plan_note(wl->seed.plan, FAULT_TARGET_STRIPE, name);
	if (op->answered) {
		wl_lop_maybe_free(op);
		return;
	}
	stripe_hold(op, oc, r);
	op->deliver_at_us = wl_now_us(wl);
	switch (lop_kind(op)) {
	case FAULT_TIMEOUT_APPLIED:
	case FAULT_STALL:
		/* Applied, and the client hears nothing before its deadline. */
		op->oc = OUTCOME_TIMEOUT;
		op->deliver_at_us = op->sent_us + wl_emulated_timeout_us(wl, FAULT_TARGET_STRIPE);
		break;
	case FAULT_SERVER_ERROR:
		/* Stripe ran it (a 5xx), and answered an error. */
		op->oc = OUTCOME_ERROR;
		op->sr.http_status = op->fd.rule->status ? op->fd.rule->status : 500;
		snprintf(op->sr_type, sizeof op->sr_type, "%s",
		         op->fd.rule->error[0] ? op->fd.rule->error : "api_error");
		op->sr_customer[0] = '\0';
		break;
	case FAULT_LATENCY:
		op->deliver_at_us += op->fd.latency_us;
		break;
	case FAULT_BAD_REPLY:
		/* Stripe made it; the answer the client reads lost the id. */
		if (op->oc == OUTCOME_OK && op->sr.http_status == 200)
			op->sr_customer[0] = '\0';
		break;
	default:
		break;
	}
	lop_deliver(op);
}

static void stripe_on_inner(void *arg, enum outcome oc, const struct stripe_reply *r)
{
	stripe_answer_inner(arg, oc, r, "customers.create");
}

static void stripe_find_on_inner(void *arg, enum outcome oc, const struct stripe_reply *r)
{
	stripe_answer_inner(arg, oc, r, "customers.search");
}

/* A Stripe call's fault, decided before it is sent: NULL when that already
 * answered it (down, lost, a timeout or stall that never reaches Stripe),
 * else the op to send, with its decision. */
static struct lop *stripe_wrap_begin(struct world_live *wl, const char *name,
                                     stripe_done_fn *done, void *arg)
{
	struct lop *op = wl_lop_new(wl, LOP_STRIPE, arg);
	op->done.stripe = done;
	if (wl->shutdown || wrap_down(wl, FAULT_TARGET_STRIPE)) {
		wl_lop_fail(op, OUTCOME_CONN_LOST);
		return NULL;
	}
	wrap_decide(wl, op, FAULT_TARGET_STRIPE, name);
	switch (lop_kind(op)) {
	case FAULT_ERROR:
	case FAULT_CONN_LOST:
	case FAULT_RESTART:
	case FAULT_POOL_EXHAUSTED:
		wl_lop_fail(op, OUTCOME_CONN_LOST);
		return NULL;
	case FAULT_STALL:
	case FAULT_TIMEOUT_NOT_APPLIED:
		if (lop_kind(op) == FAULT_STALL && op->fd.rule->stall_applied)
			return op;
		/* never reaches Stripe */
		stripe_hold(op, OUTCOME_TIMEOUT, NULL);
		wl_lop_answer_later(op, wl_emulated_timeout_us(wl, FAULT_TARGET_STRIPE));
		return NULL;
	default:
		return op;
	}
}

/* A server-error answered in place of the call (nothing saved at Stripe). */
static void stripe_answer_refusal(struct lop *op, int status)
{
	struct stripe_reply r = {
		.http_status = status,
		.error_type = op->fd.rule->error[0] ? op->fd.rule->error
		              : status == 429 ? "rate_limit_error"
		              : status >= 500 ? "api_error" : "invalid_request_error",
		.customer_id = "",
	};
	stripe_hold(op, OUTCOME_ERROR, &r);
	wl_lop_answer_later(op, 0);
}

/* A search is a read: a server-error is answered instead of it, and a
 * stall or timeout-applied one runs with its answer withheld. */
void wl_stripe_customer_find(void *ctx, const char *user_id, stripe_done_fn *done, void *arg)
{
	struct world_live *wl = ctx;
	struct lop *op = stripe_wrap_begin(wl, "customers.search", done, arg);
	if (op == NULL)
		return;
	if (lop_kind(op) == FAULT_SERVER_ERROR) {
		stripe_answer_refusal(op, op->fd.rule->status ? op->fd.rule->status : 500);
		return;
	}
	op->inner_pending = true;
	wl->stripe_port.customer_find(wl->stripe_port.ctx, user_id, stripe_find_on_inner, op);
}

void wl_stripe_customer_create(void *ctx, const struct stripe_customer_params *p,
                                   stripe_done_fn *done, void *arg)
{
	struct world_live *wl = ctx;
	struct lop *op = stripe_wrap_begin(wl, "customers.create", done, arg);
	if (op == NULL)
		return;
	if (lop_kind(op) == FAULT_SERVER_ERROR) {
		int status = op->fd.rule->status ? op->fd.rule->status : 500;
		/* 500, 502, 503: Stripe ran it and saved the error under the
		 * key (stripe_answer_inner). Else refused before Stripe's API
		 * ran (429, 409, 400): nothing saved. */
		if (status != 500 && status != 502 && status != 503) {
			stripe_answer_refusal(op, status);
			return;
		}
	}
	op->inner_pending = true;
	wl->stripe_port.customer_create(wl->stripe_port.ctx, p, stripe_on_inner, op);
}

/* ---- mail wrapper ------------------------------------------------------------------- */

static void mail_keep(struct world_live *wl, const struct mail_message *m)
{
	if (wl->nmails >= WORLD_LIVE_MAILS_MAX)
		return;
	if (wl->mails == NULL) {
		wl->mails = calloc(WORLD_LIVE_MAILS_MAX, sizeof *wl->mails);
		ASSERT(wl->mails != NULL);
	}
	struct kept_mail *k = &wl->mails[wl->nmails++];
	k->data = malloc(m->len + 1);
	ASSERT(k->data != NULL);
	memcpy(k->data, m->data, m->len);
	k->data[m->len] = '\0';
	k->len = m->len;
}

static void mail_on_inner(void *arg, enum outcome oc, int smtp_code)
{
	struct lop *op = arg;
	struct world_live *wl = op->wl;
	op->inner_pending = false;
	fault_plan_note(wl->seed.plan, FAULT_TARGET_MAIL, "send");
	if (op->answered) {
		wl_lop_maybe_free(op);
		return;
	}
	op->oc = oc;
	op->code = smtp_code;
	op->deliver_at_us = wl_now_us(wl);
	switch (lop_kind(op)) {
	case FAULT_TIMEOUT_APPLIED:
	case FAULT_STALL:
		op->oc = OUTCOME_TIMEOUT;
		op->code = 0;
		op->deliver_at_us = op->sent_us + wl_emulated_timeout_us(wl, FAULT_TARGET_MAIL);
		break;
	case FAULT_LATENCY:
		op->deliver_at_us += op->fd.latency_us;
		break;
	default:
		break;
	}
	lop_deliver(op);
}

void wl_mail_send(void *ctx, const struct mail_message *m, mail_done_fn *done, void *arg)
{
	struct world_live *wl = ctx;
	struct lop *op = wl_lop_new(wl, LOP_MAIL, arg);
	op->done.mail = done;
	if (wl->shutdown || wrap_down(wl, FAULT_TARGET_MAIL)) {
		wl_lop_fail(op, OUTCOME_CONN_LOST);
		return;
	}
	wrap_decide(wl, op, FAULT_TARGET_MAIL, "send");
	switch (lop_kind(op)) {
	case FAULT_ERROR:
	case FAULT_CONN_LOST:
	case FAULT_RESTART:
	case FAULT_POOL_EXHAUSTED:
		wl_lop_fail(op, OUTCOME_CONN_LOST);
		return;
	case FAULT_TIMEOUT_NOT_APPLIED:
		op->oc = OUTCOME_TIMEOUT;
		wl_lop_answer_later(op, wl_emulated_timeout_us(wl, FAULT_TARGET_MAIL));
		return;
	case FAULT_STALL:
		if (!op->fd.rule->stall_applied) {
			op->oc = OUTCOME_TIMEOUT;
			wl_lop_answer_later(op, wl_emulated_timeout_us(wl, FAULT_TARGET_MAIL));
			return;
		}
		break;
	case FAULT_SERVER_ERROR:
		op->code = op->fd.rule->status ? op->fd.rule->status : 451;
		wl_lop_fail(op, OUTCOME_ERROR);
		return;
	default:
		break;
	}
	/* With a server of the user's, the outbox is what it accepted as the
	 * client saw it; the built-in sink records what really arrived. */
	if (wl->sink == NULL)
		mail_keep(wl, m);
	op->inner_pending = true;
	wl->mail_port.send(wl->mail_port.ctx, m, mail_on_inner, op);
}
