/* core/customer.c - get-or-create of the Stripe customer in three
 * variants. One flow (look up, create at Stripe, store the mapping) with
 * the variants differing in what they retry and whether the Stripe call
 * carries an Idempotency-Key. Each SQL step is autocommit: acquire, one
 * statement, release. */
#include "core/customer.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"

#define CUSTOMER_TAG "Stripe"
#define CUSTOMER_KEY_MAX (sizeof CUSTOMER_IDEMPOTENCY_PREFIX + CUSTOMER_USER_ID_MAX)

struct customer {
	const struct core_env *env;
	struct customer_config cfg;
	uint32_t inflight; /* calls whose done has not run yet */
};

struct customer_req;
/* What to do once an autocommit statement has run and its connection is
 * back: oc and sqlstate say how it went ("" without one). */
typedef void customer_step_fn(struct customer_req *req, enum outcome oc, const char *sqlstate);

struct customer_req {
	struct customer *c;
	customer_done_fn *done;
	void *arg;
	char user_id[CUSTOMER_USER_ID_MAX + 1];
	char email[CUSTOMER_EMAIL_MAX + 1];
	bool has_email;
	char idempotency_key[CUSTOMER_KEY_MAX];
	char created_id[CUSTOMER_ID_MAX + 1]; /* what Stripe gave us */
	char found_id[CUSTOMER_ID_MAX + 1];   /* what a SELECT found */
	bool found;
	uint32_t stripe_retries;
	uint32_t find_retries;
	uint32_t insert_retries;
	/* the autocommit statement in flight */
	enum sql_stmt stmt;
	struct sql_conn *conn;
	customer_step_fn *then;
	enum result rc; /* for a deferred rejection */
};

struct customer *customer_create(const struct core_env *env, const struct customer_config *cfg)
{
	ASSERT(env != NULL);
	ASSERT(cfg != NULL);
	ASSERT((unsigned)cfg->variant < VARIANT_COUNT);
	if (cfg->retries_max > CUSTOMER_RETRIES_LIMIT || cfg->backoff_ms > CUSTOMER_BACKOFF_MS_MAX)
		return NULL;
	struct customer *c = calloc(1, sizeof *c);
	ASSERT(c != NULL);
	c->env = env;
	c->cfg = *cfg;
	return c;
}

void customer_destroy(struct customer *c)
{
	if (c == NULL)
		return;
	ASSERT(c->inflight == 0);
	free(c);
}

/* Ends a call. id is borrowed by done; done runs before the request is
 * freed and after the object is last touched, so it may destroy c. */
static void customer_finish(struct customer_req *req, enum result rc, const char *id)
{
	ASSERT(req->c->inflight > 0);
	ASSERT(rc != RESULT_OK || id[0] != '\0');
	req->c->inflight--;
	req->done(req->arg, rc, rc == RESULT_OK ? id : "");
	free(req);
}

static void customer_on_rejected(void *arg)
{
	struct customer_req *req = arg;
	customer_finish(req, req->rc, "");
}

/* Doubling back-off from backoff_ms, capped, with half of it jittered so
 * that racing instances spread out. */
static uint64_t customer_backoff_us(const struct customer *c, uint32_t retry)
{
	const struct core_env *env = c->env;
	uint64_t delay_ms = c->cfg.backoff_ms;
	for (uint32_t i = 0; i < retry && delay_ms < CUSTOMER_BACKOFF_MS_MAX; i++)
		delay_ms *= 2;
	if (delay_ms > CUSTOMER_BACKOFF_MS_MAX)
		delay_ms = CUSTOMER_BACKOFF_MS_MAX;
	uint64_t half_us = delay_ms * 1000 / 2;
	return half_us + env->clock.random(env->clock.ctx) % (half_us + 1);
}

/* ---- one autocommit statement ------------------------------------------ */

static void customer_on_exec(void *arg, enum outcome oc, const struct sql_result *res)
{
	struct customer_req *req = arg;
	const struct core_env *env = req->c->env;
	char sqlstate[6] = "";

	req->found = false;
	if (res != NULL)
		memcpy(sqlstate, res->sqlstate, sizeof sqlstate);
	sqlstate[5] = '\0';
	if (oc == OUTCOME_OK && res->nrows > 0 && res->ncols > 0 && res->values[0] != NULL) {
		size_t len = strnlen(res->values[0], CUSTOMER_ID_MAX + 1);
		if (len > 0 && len <= CUSTOMER_ID_MAX) {
			memcpy(req->found_id, res->values[0], len);
			req->found_id[len] = '\0';
			req->found = true;
		}
	}
	env->sql.release(env->sql.ctx, req->conn);
	req->conn = NULL;
	req->then(req, oc, sqlstate);
}

static void customer_on_acquired(void *arg, enum outcome oc, struct sql_conn *conn, const char *sqlstate)
{
	struct customer_req *req = arg;
	const struct core_env *env = req->c->env;

	if (oc != OUTCOME_OK) {
		req->then(req, oc, sqlstate != NULL ? sqlstate : "");
		return;
	}
	req->conn = conn;
	const char *params[2] = {req->user_id, req->created_id};
	int nparams = req->stmt == SQL_CUSTOMER_INSERT ? 2 : 1;
	env->sql.exec(env->sql.ctx, conn, req->stmt, nparams, params, customer_on_exec, req);
}

static void customer_run(struct customer_req *req, enum sql_stmt stmt, customer_step_fn *then)
{
	const struct core_env *env = req->c->env;
	req->stmt = stmt;
	req->then = then;
	env->sql.acquire(env->sql.ctx, customer_on_acquired, req);
}

static bool customer_sql_transient(enum outcome oc, const char *sqlstate)
{
	return oc == OUTCOME_TIMEOUT || oc == OUTCOME_CONN_LOST ||
	       (oc == OUTCOME_ERROR && sqlstate_is_transient(sqlstate));
}

/* How a failed call is answered. hardened: a transient cause is RETRY, so
 * the caller may try again and is never told "permanent" for a timeout. */
static enum result customer_failure(const struct customer *c, bool transient)
{
	return c->cfg.variant == VARIANT_HARDENED && transient ? RESULT_RETRY : RESULT_ERROR;
}

static const char *customer_why(enum outcome oc, const char *sqlstate)
{
	return oc == OUTCOME_ERROR && sqlstate[0] != '\0' ? sqlstate : outcome_name(oc);
}

/* ---- the steps ----------------------------------------------------------- */

static void customer_send_create(struct customer_req *req);
static void customer_send_insert(void *arg);

static void customer_after_winner_select(struct customer_req *req, enum outcome oc, const char *sqlstate)
{
	const struct core_env *env = req->c->env;

	if (oc != OUTCOME_OK || !req->found) {
		core_log(env, LOG_ERROR, CUSTOMER_TAG,
		         "user %s: mapping insert hit 23505 but the mapping could not be read (%s); customer %s orphaned",
		         req->user_id, oc != OUTCOME_OK ? customer_why(oc, sqlstate) : "no row", req->created_id);
		/* A winner's row that is gone again was deleted meanwhile: a
		 * retry may well succeed. */
		bool transient = oc != OUTCOME_OK ? customer_sql_transient(oc, sqlstate) : true;
		customer_finish(req, customer_failure(req->c, transient), "");
		return;
	}
	if (strcmp(req->found_id, req->created_id) == 0) {
		/* no-orphan: the Idempotency-Key gave the winner our customer (or
		 * our own earlier insert was applied before its reply was lost). */
		core_log(env, LOG_INFO, CUSTOMER_TAG,
		         "user %s: another instance created the mapping, with the same customer %s",
		         req->user_id, req->found_id);
	} else {
		/* The seed's remaining bug: the winner's customer is adopted and
		 * the one we created is left orphaned at Stripe. */
		core_log(env, LOG_WARN, CUSTOMER_TAG,
		         "user %s: another instance created the mapping; using %s, customer %s orphaned",
		         req->user_id, req->found_id, req->created_id);
	}
	customer_finish(req, RESULT_OK, req->found_id);
}

static void customer_after_insert(struct customer_req *req, enum outcome oc, const char *sqlstate)
{
	struct customer *c = req->c;
	const struct core_env *env = c->env;

	if (oc == OUTCOME_OK) {
		customer_finish(req, RESULT_OK, req->created_id);
		return;
	}
	bool unique = oc == OUTCOME_ERROR && strcmp(sqlstate, SQLSTATE_UNIQUE_VIOLATION) == 0;
	bool transient = oc == OUTCOME_TIMEOUT || oc == OUTCOME_CONN_LOST ||
	                 (oc == OUTCOME_ERROR && sqlstate_is_transient(sqlstate));
	if (c->cfg.variant != VARIANT_LEGACY && unique) {
		customer_run(req, SQL_CUSTOMER_SELECT, customer_after_winner_select);
		return;
	}
	if (c->cfg.variant != VARIANT_LEGACY && transient && req->insert_retries < c->cfg.retries_max) {
		uint64_t delay_us = customer_backoff_us(c, req->insert_retries);
		req->insert_retries++;
		core_log(env, LOG_WARN, CUSTOMER_TAG, "user %s: mapping insert failed (%s); retry %u of %u",
		         req->user_id, customer_why(oc, sqlstate), req->insert_retries, c->cfg.retries_max);
		env->clock.after(env->clock.ctx, delay_us, customer_send_insert, req);
		return;
	}
	/* legacy: every insert error lands here and orphans the customer; the
	 * next attempt creates another. hardened: the next call's search finds
	 * it. */
	core_log(env, LOG_ERROR, CUSTOMER_TAG, "user %s: mapping insert failed (%s); customer %s %s",
	         req->user_id, customer_why(oc, sqlstate), req->created_id,
	         c->cfg.variant == VARIANT_HARDENED ? "unmapped until the user's next call" : "orphaned");
	customer_finish(req, customer_failure(c, transient), "");
}

static void customer_send_insert(void *arg)
{
	customer_run(arg, SQL_CUSTOMER_INSERT, customer_after_insert);
}

static void customer_retry_create(void *arg)
{
	customer_send_create(arg);
}

static bool customer_stripe_retryable(enum outcome oc, const struct stripe_reply *r)
{
	if (oc == OUTCOME_TIMEOUT || oc == OUTCOME_CONN_LOST)
		return true;
	if (oc != OUTCOME_ERROR || r == NULL)
		return false;
	/* 409: the same key is still in flight; 429: rate limited; 5xx: the
	 * outcome is unknown. The key makes each retry safe. */
	return r->http_status == 409 || r->http_status == 429 || r->http_status >= 500;
}

static void customer_stripe_why(enum outcome oc, const struct stripe_reply *r, char *why,
                                size_t size)
{
	if (oc == OUTCOME_ERROR && r != NULL)
		snprintf(why, size, "HTTP %d %s", r->http_status, r->error_type);
	else
		snprintf(why, size, "%s", outcome_name(oc));
}

/* One more try of a Stripe step after the back-off; *retries counts them. */
static void customer_retry_later(struct customer_req *req, uint32_t *retries, const char *step,
                                 const char *why, clock_fn *fn)
{
	struct customer *c = req->c;
	const struct core_env *env = c->env;
	uint64_t delay_us = customer_backoff_us(c, *retries);
	++*retries;
	core_log(env, LOG_WARN, CUSTOMER_TAG, "user %s: %s failed (%s); retry %u of %u", req->user_id,
	         step, why, *retries, c->cfg.retries_max);
	env->clock.after(env->clock.ctx, delay_us, fn, req);
}

static void customer_on_stripe_reply(void *arg, enum outcome oc, const struct stripe_reply *r)
{
	struct customer_req *req = arg;
	struct customer *c = req->c;
	const struct core_env *env = c->env;

	if (oc == OUTCOME_OK) {
		size_t len = strnlen(r->customer_id, CUSTOMER_ID_MAX + 1);
		/* A 200 whose id did not reach us (a body cut short): Stripe
		 * may well have made the customer. Under the same key its saved
		 * answer names it, so hardened asks again. */
		if (len == 0 && c->cfg.variant == VARIANT_HARDENED &&
		    req->stripe_retries < c->cfg.retries_max) {
			customer_retry_later(req, &req->stripe_retries, "customer create",
			                     "a 200 without a customer id", customer_retry_create);
			return;
		}
		if (len == 0 || len > CUSTOMER_ID_MAX) {
			core_log(env, LOG_ERROR, CUSTOMER_TAG, "user %s: Stripe answered without a usable customer id",
			         req->user_id);
			customer_finish(req, len == 0 ? customer_failure(c, true) : RESULT_ERROR, "");
			return;
		}
		memcpy(req->created_id, r->customer_id, len);
		req->created_id[len] = '\0';
		customer_run(req, SQL_CUSTOMER_INSERT, customer_after_insert);
		return;
	}
	char why[64];
	customer_stripe_why(oc, r, why, sizeof why);
	if (c->cfg.variant == VARIANT_HARDENED && customer_stripe_retryable(oc, r) &&
	    req->stripe_retries < c->cfg.retries_max) {
		customer_retry_later(req, &req->stripe_retries, "customer create", why,
		                     customer_retry_create);
		return;
	}
	core_log(env, LOG_ERROR, CUSTOMER_TAG, "user %s: customer create failed (%s)", req->user_id, why);
	customer_finish(req, customer_failure(c, customer_stripe_retryable(oc, r)), "");
}

static void customer_send_create(struct customer_req *req)
{
	const struct core_env *env = req->c->env;
	struct stripe_customer_params p = {
		.email = req->has_email ? req->email : NULL,
		.user_id = req->user_id,
		/* no-orphan: one key per user and the same parameters on every
		 * attempt, so Stripe creates at most one customer however many
		 * requests race or retry. */
		.idempotency_key = req->c->cfg.variant == VARIANT_HARDENED ? req->idempotency_key : NULL,
	};
	env->stripe.customer_create(env->stripe.ctx, &p, customer_on_stripe_reply, req);
}

static void customer_send_find(void *arg);

/* hardened: the search before a create. A customer Stripe already holds
 * for this user (made by a call whose mapping insert failed for good, more
 * than a day ago, so that its Idempotency-Key is gone) is mapped instead of
 * making a second one. */
static void customer_on_find_reply(void *arg, enum outcome oc, const struct stripe_reply *r)
{
	struct customer_req *req = arg;
	struct customer *c = req->c;
	const struct core_env *env = c->env;

	if (oc == OUTCOME_OK) {
		size_t len = strnlen(r->customer_id, CUSTOMER_ID_MAX + 1);
		if (len == 0) {
			customer_send_create(req);
			return;
		}
		if (len > CUSTOMER_ID_MAX) {
			core_log(env, LOG_ERROR, CUSTOMER_TAG, "user %s: Stripe's search answered "
			         "a customer id longer than %d octets", req->user_id, CUSTOMER_ID_MAX);
			customer_finish(req, RESULT_ERROR, "");
			return;
		}
		memcpy(req->created_id, r->customer_id, len);
		req->created_id[len] = '\0';
		core_log(env, LOG_WARN, CUSTOMER_TAG, "user %s: Stripe already holds customer %s, "
		         "unmapped; mapping it", req->user_id, req->created_id);
		customer_run(req, SQL_CUSTOMER_INSERT, customer_after_insert);
		return;
	}
	char why[64];
	customer_stripe_why(oc, r, why, sizeof why);
	bool retryable = customer_stripe_retryable(oc, r);
	if (retryable && req->find_retries < c->cfg.retries_max) {
		customer_retry_later(req, &req->find_retries, "customer search", why, customer_send_find);
		return;
	}
	/* Creating without the search could make a second customer: the
	 * caller is told to come back instead. */
	core_log(env, LOG_ERROR, CUSTOMER_TAG, "user %s: customer search failed (%s)", req->user_id, why);
	customer_finish(req, customer_failure(c, retryable), "");
}

static void customer_send_find(void *arg)
{
	struct customer_req *req = arg;
	const struct core_env *env = req->c->env;
	env->stripe.customer_find(env->stripe.ctx, req->user_id, customer_on_find_reply, req);
}

static void customer_after_select(struct customer_req *req, enum outcome oc, const char *sqlstate)
{
	const struct core_env *env = req->c->env;

	if (oc != OUTCOME_OK) {
		core_log(env, LOG_ERROR, CUSTOMER_TAG, "user %s: mapping lookup failed (%s)", req->user_id,
		         customer_why(oc, sqlstate));
		customer_finish(req, customer_failure(req->c, customer_sql_transient(oc, sqlstate)), "");
		return;
	}
	if (req->found) {
		customer_finish(req, RESULT_OK, req->found_id);
		return;
	}
	if (req->c->cfg.variant == VARIANT_HARDENED)
		customer_send_find(req);
	else
		customer_send_create(req);
}

void customer_get_or_create(struct customer *c, const char *user_id, const char *email,
                            customer_done_fn *done, void *arg)
{
	ASSERT(c != NULL);
	ASSERT(done != NULL);
	const struct core_env *env = c->env;
	struct customer_req *req = calloc(1, sizeof *req);
	ASSERT(req != NULL);
	req->c = c;
	req->done = done;
	req->arg = arg;
	c->inflight++;

	size_t user_len = user_id != NULL ? strnlen(user_id, CUSTOMER_USER_ID_MAX + 1) : 0;
	size_t email_len = email != NULL ? strnlen(email, CUSTOMER_EMAIL_MAX + 1) : 0;
	if (user_len == 0 || user_len > CUSTOMER_USER_ID_MAX || email_len > CUSTOMER_EMAIL_MAX) {
		req->rc = RESULT_REJECT;
		env->clock.after(env->clock.ctx, 0, customer_on_rejected, req);
		return;
	}
	memcpy(req->user_id, user_id, user_len);
	if (email != NULL) {
		memcpy(req->email, email, email_len);
		req->has_email = true;
	}
	snprintf(req->idempotency_key, sizeof req->idempotency_key, CUSTOMER_IDEMPOTENCY_PREFIX "%s",
	         req->user_id);
	customer_run(req, SQL_CUSTOMER_SELECT, customer_after_select);
}
