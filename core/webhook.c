/* core/webhook.c - the payment webhook in three variants: signature and
 * parsing shared, then one small state machine over catalogue statements
 * whose path depends on the variant. Every delivery holds one connection
 * from its first statement to its answer. */
#include "core/webhook.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/assert.h"
#include "core/stripe_sig.h"

#define WEBHOOK_TAG "Webhook"
#define WEBHOOK_TYPE_PAID "payment_intent.succeeded"
#define WEBHOOK_TYPE_MAX 128 /* octets of an event type */

struct webhook {
	const struct core_env *env;
	enum variant variant;
	char secret[WEBHOOK_SECRET_MAX + 1];
	int64_t tolerance_s;
	uint32_t inflight; /* deliveries whose done has not run yet */
};

/* Where a delivery is: the statement in flight. */
enum webhook_step {
	WEBHOOK_STEP_UPSERT,                /* legacy */
	WEBHOOK_STEP_SELECT,                /* legacy */
	WEBHOOK_STEP_INSERT_NEW,            /* seed, hardened */
	WEBHOOK_STEP_FIRST_SEEN,            /* seed */
	WEBHOOK_STEP_BEGIN,                 /* hardened */
	WEBHOOK_STEP_MARK_PAID,             /* legacy, seed */
	WEBHOOK_STEP_MARK_PAID_IF_PENDING,  /* hardened */
	WEBHOOK_STEP_EFFECT,                /* hardened */
	WEBHOOK_STEP_MARK_PROCESSED,        /* every variant */
	WEBHOOK_STEP_COMMIT,                /* hardened */
	WEBHOOK_STEP_ROLLBACK_DUPLICATE,    /* hardened: answer 200 after it */
	WEBHOOK_STEP_ROLLBACK_FAILED,       /* hardened: answer 500 after it */
};

struct webhook_req {
	struct webhook *wh;
	webhook_done_fn *done;
	void *arg;
	char event_id[WEBHOOK_ID_MAX + 1];
	char event_type[WEBHOOK_TYPE_MAX + 1];
	char intent_id[WEBHOOK_ID_MAX + 1];
	char order_id[WEBHOOK_ID_MAX + 1];
	struct sql_conn *conn;
	enum webhook_step step;
	bool in_txn;
	int status; /* for a deferred answer */
};

struct webhook *webhook_create(const struct core_env *env, const struct webhook_config *cfg)
{
	ASSERT(env != NULL);
	ASSERT(cfg != NULL);
	ASSERT((unsigned)cfg->variant < VARIANT_COUNT);
	if (cfg->secret == NULL || cfg->secret[0] == '\0' ||
	    strnlen(cfg->secret, WEBHOOK_SECRET_MAX + 1) > WEBHOOK_SECRET_MAX ||
	    cfg->tolerance_s < 0 || cfg->tolerance_s > WEBHOOK_TOLERANCE_S_MAX)
		return NULL;
	struct webhook *wh = calloc(1, sizeof *wh);
	ASSERT(wh != NULL);
	wh->env = env;
	wh->variant = cfg->variant;
	snprintf(wh->secret, sizeof wh->secret, "%s", cfg->secret);
	wh->tolerance_s = cfg->tolerance_s;
	return wh;
}

void webhook_destroy(struct webhook *wh)
{
	if (wh == NULL)
		return;
	ASSERT(wh->inflight == 0);
	free(wh);
}

/* Ends a delivery: done runs last, so it may destroy wh. */
static void webhook_finish(struct webhook_req *req, int status)
{
	ASSERT(req->conn == NULL);
	ASSERT(req->wh->inflight > 0);
	req->wh->inflight--;
	webhook_done_fn *done = req->done;
	void *arg = req->arg;
	free(req);
	done(arg, status);
}

static void webhook_on_deferred(void *arg)
{
	struct webhook_req *req = arg;
	webhook_finish(req, req->status);
}

static void webhook_answer_later(struct webhook_req *req, int status)
{
	const struct core_env *env = req->wh->env;
	req->status = status;
	env->clock.after(env->clock.ctx, 0, webhook_on_deferred, req);
}

static void webhook_release(struct webhook_req *req)
{
	const struct core_env *env = req->wh->env;
	env->sql.release(env->sql.ctx, req->conn);
	req->conn = NULL;
	req->in_txn = false;
}

/* ---- parsing ------------------------------------------------------------- */

/* Copies a JSON string of 1..max printable ASCII octets (ids never hold
 * spaces or controls; refusing them keeps logs and SQL params plain). */
static bool webhook_copy_id(json_t *v, char *out, size_t max)
{
	const char *s = json_string_value(v);
	if (s == NULL)
		return false;
	size_t len = json_string_length(v);
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7F)
			return false;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

/* Reads id, type and (for payments) data.object.id; false when malformed. */
static bool webhook_parse(struct webhook_req *req, const char *payload, size_t len, const char **why)
{
	json_error_t err;
	json_t *root = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &err);
	bool ok = false;

	*why = "not JSON";
	if (root == NULL)
		return false;
	*why = "missing or bad id or type";
	if (!json_is_object(root) || !webhook_copy_id(json_object_get(root, "id"), req->event_id, WEBHOOK_ID_MAX) ||
	    !webhook_copy_id(json_object_get(root, "type"), req->event_type, WEBHOOK_TYPE_MAX))
		goto out_root;
	if (strcmp(req->event_type, WEBHOOK_TYPE_PAID) == 0) {
		json_t *object = json_object_get(json_object_get(root, "data"), "object");
		*why = "missing or bad data.object.id";
		if (!webhook_copy_id(json_object_get(object, "id"), req->intent_id, WEBHOOK_ID_MAX))
			goto out_root;
	}
	ok = true;
out_root:
	json_decref(root);
	return ok;
}

/* ---- the statements ---------------------------------------------------------- */

static void webhook_on_exec(void *arg, enum outcome oc, const struct sql_result *res);

static void webhook_exec(struct webhook_req *req, enum webhook_step step)
{
	const struct core_env *env = req->wh->env;
	enum sql_stmt stmt;
	const char *params[2] = {req->event_id, req->event_type};
	int nparams = 0;

	req->step = step;
	switch (step) {
	case WEBHOOK_STEP_UPSERT: stmt = SQL_EVENT_UPSERT; nparams = 2; break;
	case WEBHOOK_STEP_SELECT: stmt = SQL_EVENT_SELECT; nparams = 1; break;
	case WEBHOOK_STEP_INSERT_NEW: stmt = SQL_EVENT_INSERT_NEW; nparams = 2; break;
	case WEBHOOK_STEP_FIRST_SEEN: stmt = SQL_EVENT_FIRST_SEEN; nparams = 1; break;
	case WEBHOOK_STEP_BEGIN: stmt = SQL_BEGIN; break;
	case WEBHOOK_STEP_MARK_PAID:
		stmt = SQL_ORDER_MARK_PAID;
		params[0] = req->intent_id;
		nparams = 1;
		break;
	case WEBHOOK_STEP_MARK_PAID_IF_PENDING:
		stmt = SQL_ORDER_MARK_PAID_IF_PENDING;
		params[0] = req->intent_id;
		nparams = 1;
		break;
	case WEBHOOK_STEP_EFFECT:
		stmt = SQL_PAYMENT_EFFECT_INSERT;
		params[1] = req->order_id;
		nparams = 2;
		break;
	case WEBHOOK_STEP_MARK_PROCESSED: stmt = SQL_EVENT_MARK_PROCESSED; nparams = 1; break;
	case WEBHOOK_STEP_COMMIT: stmt = SQL_COMMIT; break;
	case WEBHOOK_STEP_ROLLBACK_DUPLICATE:
	case WEBHOOK_STEP_ROLLBACK_FAILED: stmt = SQL_ROLLBACK; break;
	default: ASSERT(!"webhook: bad step"); return;
	}
	ASSERT(req->conn != NULL);
	env->sql.exec(env->sql.ctx, req->conn, stmt, nparams, params, webhook_on_exec, req);
}

static const char *webhook_step_name(enum webhook_step step)
{
	static const char *const names[] = {
		[WEBHOOK_STEP_UPSERT] = "event upsert", [WEBHOOK_STEP_SELECT] = "event select",
		[WEBHOOK_STEP_INSERT_NEW] = "event insert", [WEBHOOK_STEP_FIRST_SEEN] = "event first-seen",
		[WEBHOOK_STEP_BEGIN] = "BEGIN", [WEBHOOK_STEP_MARK_PAID] = "order mark-paid",
		[WEBHOOK_STEP_MARK_PAID_IF_PENDING] = "order mark-paid", [WEBHOOK_STEP_EFFECT] = "payment effect insert",
		[WEBHOOK_STEP_MARK_PROCESSED] = "event mark-processed", [WEBHOOK_STEP_COMMIT] = "COMMIT",
		[WEBHOOK_STEP_ROLLBACK_DUPLICATE] = "ROLLBACK", [WEBHOOK_STEP_ROLLBACK_FAILED] = "ROLLBACK",
	};
	return names[step];
}

static void webhook_fail(struct webhook_req *req, enum outcome oc, const struct sql_result *res)
{
	const struct core_env *env = req->wh->env;

	core_log(env, LOG_ERROR, WEBHOOK_TAG, "event %s: %s failed (%s%s%s); answering 500", req->event_id,
	         webhook_step_name(req->step), outcome_name(oc), res != NULL ? " " : "",
	         res != NULL ? res->sqlstate : "");
	/* exactly-once: nothing of a failed delivery may commit; roll back
	 * while the connection can still carry it (a broken one has lost the
	 * transaction already). */
	if (req->in_txn && oc == OUTCOME_ERROR) {
		webhook_exec(req, WEBHOOK_STEP_ROLLBACK_FAILED);
		return;
	}
	webhook_release(req);
	webhook_finish(req, 500);
}

static void webhook_skip_duplicate(struct webhook_req *req, const char *first_seen)
{
	core_log(req->wh->env, LOG_INFO, WEBHOOK_TAG, "skipped duplicate event %s (first seen %s)",
	         req->event_id, first_seen);
}

static void webhook_applied(struct webhook_req *req)
{
	webhook_release(req);
	webhook_finish(req, 200);
}

/* The order row returned by a mark-paid statement, if any. */
static bool webhook_take_order(struct webhook_req *req, const struct sql_result *res)
{
	if (res->nrows < 1 || res->ncols < 1 || res->values[0] == NULL)
		return false;
	snprintf(req->order_id, sizeof req->order_id, "%s", res->values[0]);
	return true;
}

static void webhook_on_exec(void *arg, enum outcome oc, const struct sql_result *res)
{
	struct webhook_req *req = arg;
	const struct core_env *env = req->wh->env;

	if (req->step == WEBHOOK_STEP_ROLLBACK_DUPLICATE || req->step == WEBHOOK_STEP_ROLLBACK_FAILED) {
		/* Whatever ROLLBACK answers, release discards what is left. */
		int status = req->step == WEBHOOK_STEP_ROLLBACK_DUPLICATE ? 200 : 500;
		webhook_release(req);
		webhook_finish(req, status);
		return;
	}
	if (oc != OUTCOME_OK) {
		webhook_fail(req, oc, res);
		return;
	}
	switch (req->step) {
	case WEBHOOK_STEP_UPSERT:
		webhook_exec(req, WEBHOOK_STEP_SELECT);
		return;
	case WEBHOOK_STEP_SELECT:
		if (res->nrows < 1) {
			webhook_fail(req, OUTCOME_ERROR, NULL); /* the row just upserted is gone */
			return;
		}
		/* The legacy bug: two copies can both read NULL here before
		 * either marks the event processed, and both pay the order. */
		if (res->values[0] != NULL) {
			webhook_applied(req);
			return;
		}
		webhook_exec(req, WEBHOOK_STEP_MARK_PAID);
		return;
	case WEBHOOK_STEP_INSERT_NEW:
		if (res->nrows >= 1) {
			webhook_exec(req, req->wh->variant == VARIANT_HARDENED ? WEBHOOK_STEP_MARK_PAID_IF_PENDING :
			                                                         WEBHOOK_STEP_MARK_PAID);
			return;
		}
		if (req->wh->variant == VARIANT_HARDENED) {
			/* exactly-once: the claim is committed, so its effect is too. */
			webhook_skip_duplicate(req, "in an earlier delivery");
			webhook_exec(req, WEBHOOK_STEP_ROLLBACK_DUPLICATE);
			return;
		}
		webhook_exec(req, WEBHOOK_STEP_FIRST_SEEN);
		return;
	case WEBHOOK_STEP_FIRST_SEEN:
		if (res->nrows < 1 || res->values[0] == NULL) {
			webhook_fail(req, OUTCOME_ERROR, NULL); /* conflicted, yet no row */
			return;
		}
		/* The seed's bug: a claim whose processing failed also lands here,
		 * and every retry of that event is skipped. */
		webhook_skip_duplicate(req, res->values[0]);
		webhook_applied(req);
		return;
	case WEBHOOK_STEP_BEGIN:
		req->in_txn = true;
		webhook_exec(req, WEBHOOK_STEP_INSERT_NEW);
		return;
	case WEBHOOK_STEP_MARK_PAID:
		if (!webhook_take_order(req, res))
			core_log(env, LOG_WARN, WEBHOOK_TAG, "event %s: no order for payment intent %s",
			         req->event_id, req->intent_id);
		webhook_exec(req, WEBHOOK_STEP_MARK_PROCESSED);
		return;
	case WEBHOOK_STEP_MARK_PAID_IF_PENDING:
		if (webhook_take_order(req, res)) {
			webhook_exec(req, WEBHOOK_STEP_EFFECT);
			return;
		}
		core_log(env, LOG_INFO, WEBHOOK_TAG, "event %s: no pending order for payment intent %s",
		         req->event_id, req->intent_id);
		webhook_exec(req, WEBHOOK_STEP_MARK_PROCESSED);
		return;
	case WEBHOOK_STEP_EFFECT:
		webhook_exec(req, WEBHOOK_STEP_MARK_PROCESSED);
		return;
	case WEBHOOK_STEP_MARK_PROCESSED:
		if (req->wh->variant == VARIANT_HARDENED) {
			webhook_exec(req, WEBHOOK_STEP_COMMIT);
			return;
		}
		webhook_applied(req);
		return;
	case WEBHOOK_STEP_COMMIT:
		/* eventually-applied: 200 only once claim and effect are durable;
		 * any earlier failure answers 500 and Stripe delivers again. */
		req->in_txn = false;
		webhook_applied(req);
		return;
	case WEBHOOK_STEP_ROLLBACK_DUPLICATE:
	case WEBHOOK_STEP_ROLLBACK_FAILED:
		break;
	}
	ASSERT(!"webhook: bad step");
}

static void webhook_on_acquired(void *arg, enum outcome oc, struct sql_conn *conn, const char *sqlstate)
{
	struct webhook_req *req = arg;

	if (oc != OUTCOME_OK) {
		core_log(req->wh->env, LOG_ERROR, WEBHOOK_TAG, "event %s: no connection (%s %s); answering 500",
		         req->event_id, outcome_name(oc), sqlstate != NULL ? sqlstate : "");
		webhook_finish(req, 500);
		return;
	}
	req->conn = conn;
	switch (req->wh->variant) {
	case VARIANT_LEGACY: webhook_exec(req, WEBHOOK_STEP_UPSERT); return;
	case VARIANT_SEED: webhook_exec(req, WEBHOOK_STEP_INSERT_NEW); return;
	case VARIANT_HARDENED: webhook_exec(req, WEBHOOK_STEP_BEGIN); return;
	case VARIANT_COUNT: break;
	}
	ASSERT(!"webhook: bad variant");
}

void webhook_handle(struct webhook *wh, const char *signature_header, const char *payload, size_t len,
                    webhook_done_fn *done, void *arg)
{
	ASSERT(wh != NULL);
	ASSERT(done != NULL);
	const struct core_env *env = wh->env;
	struct webhook_req *req = calloc(1, sizeof *req);
	ASSERT(req != NULL);
	req->wh = wh;
	req->done = done;
	req->arg = arg;
	wh->inflight++;

	if (payload == NULL || len > WEBHOOK_PAYLOAD_MAX) {
		core_log(env, LOG_WARN, WEBHOOK_TAG, "rejected delivery: payload missing or over %u octets",
		         WEBHOOK_PAYLOAD_MAX);
		webhook_answer_later(req, 400);
		return;
	}
	/* Nothing is parsed or written before the signature holds. */
	enum stripe_sig_status sig = stripe_sig_verify(wh->secret, signature_header, payload, len,
	                                               env->clock.wall_s(env->clock.ctx), wh->tolerance_s);
	if (sig != STRIPE_SIG_OK) {
		core_log(env, LOG_WARN, WEBHOOK_TAG, "rejected delivery: signature %s", stripe_sig_status_name(sig));
		webhook_answer_later(req, 400);
		return;
	}
	const char *why;
	if (!webhook_parse(req, payload, len, &why)) {
		core_log(env, LOG_WARN, WEBHOOK_TAG, "rejected delivery: %s", why);
		webhook_answer_later(req, 400);
		return;
	}
	if (strcmp(req->event_type, WEBHOOK_TYPE_PAID) != 0) {
		core_log(env, LOG_DEBUG, WEBHOOK_TAG, "event %s: type %s ignored", req->event_id, req->event_type);
		webhook_answer_later(req, 200);
		return;
	}
	env->sql.acquire(env->sql.ctx, webhook_on_acquired, req);
}
