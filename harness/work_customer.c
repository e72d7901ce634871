/* harness/work_customer.c - the Stripe customer workload: users served by an
 * earlier deploy, concurrent first purchases, later purchases, shared and
 * missing e-mail addresses, refused user ids; what reached Stripe and
 * Postgres per user, every answer, and the final mappings and customers. */
#include <stdlib.h>

#include <string.h>
#include <event2/event.h>

#include "core/assert.h"
#include "core/customer.h"
#include "core/fmt.h"

#include "harness/world_int.h"
#include "sim/trace.h"

/* ---- stripe-customer -------------------------------------------------------- */

#define CU_RETRIES_MAX 5
#define CU_BACKOFF_MS 100
#define CU_SHARED_EMAIL "family@example.com"
/* After the run, a user whose customer is left unmapped comes back once this
 * much later, past Stripe's 24 h key lifetime; the call gets this long. */
#define CU_COME_BACK_US (25ULL * 3600 * 1000000)
#define CU_COME_BACK_SLACK_US (10ULL * 60 * 1000000)

struct cu_req {
	struct world *w;
	uint32_t user;
	size_t hist;                 /* index into w->h.cu */
	bool earlier;                /* the earlier deploy's call, before the run */
	uint64_t start_us;
	uint64_t faults_at_start;
	uint32_t refusals_at_start;
	bool overlapped;             /* another call of its user was in flight at its start */
	uint32_t starts_at_start;
	uint32_t stripe_at_start, insert_at_start, after_refusal_at_start, search_at_start;
	uint32_t permanent_at_start;
	uint32_t replayed_at_start;
	bool comes_back;             /* the call after the run (cu_comes_back) */
	char id[32];
};

/* One statement of a user's call on its way to Postgres, watched for an
 * error that no retry can mend. */
struct cu_stmt {
	struct world *w;
	uint32_t user;
	sql_done_fn *done;
	void *arg;
};

/* One create on its way to Stripe, watched for a refusal. */
struct cu_call {
	struct world *w;
	struct hist_customer_user *u; /* NULL: a user id the API refuses */
	uint32_t user;
	stripe_done_fn *done;
	void *arg;
};

static uint64_t cu_faults(struct world *w)
{
	return world_backend_faults(w, FAULT_TARGET_STRIPE) +
	       world_backend_faults(w, FAULT_TARGET_POSTGRES);
}

static struct hist_customer_user *cu_user(struct world *w, const char *user, uint32_t *index)
{
	if (user == NULL || strncmp(user, "cu", 2) != 0 || user[2] < '0' || user[2] > '9')
		return NULL;
	char *end;
	unsigned long u = strtoul(user + 2, &end, 10);
	if ((*end != '\0' && *end != '-') || u >= w->h.ncust || strcmp(user, w->h.cust[u].user) != 0)
		return NULL;
	if (index != NULL)
		*index = (uint32_t)u;
	return &w->h.cust[u];
}

static const char *cu_email(const struct world *w, uint32_t u, char *buf, size_t size);

/* ---- what reaches the servers ------------------------------------------------ */

static void cu_on_stripe_reply(void *arg, enum outcome oc, const struct stripe_reply *r)
{
	struct cu_call *c = arg;
	struct world *w = c->w;
	/* Stripe's 4xx other than 409 (in flight) and 429 (rate limit): the
	 * request as sent will never succeed. */
	if (c->u != NULL && oc == OUTCOME_ERROR && r != NULL && r->http_status >= 400 &&
	    r->http_status < 500 && r->http_status != 409 && r->http_status != 429)
		w->cu_refusals[c->user]++;
	/* Stripe keeps a key's first result, a 500 too, and answers every
	 * request with that key with it: the fault that made it touches every
	 * call that reads it back, also one that began after the fault. */
	if (c->u != NULL && r != NULL && r->idempotent_replay && r->http_status >= 500)
		w->cu_replayed[c->user]++;
	stripe_done_fn *done = c->done;
	void *darg = c->arg;
	world_work_free(w, c);
	done(darg, oc, r);
}

static void cu_stripe_create(void *ctx, const struct stripe_customer_params *p,
                             stripe_done_fn *done, void *arg)
{
	struct world *w = ctx;
	struct cu_call *c = world_work_new(w, sizeof *c);
	c->w = w;
	c->u = cu_user(w, p->user_id, &c->user);
	c->done = done;
	c->arg = arg;
	if (c->u == NULL) {
		w->h.cu_invalid_calls++;
	} else {
		c->u->stripe_calls++;
		if (w->cu_refusals[c->user] > w->cu_refusal_mark[c->user])
			w->cu_after_refusal[c->user]++;
		/* The customer is made for its user: with the user's address, or
		 * none when the user has none. */
		char buf[HIST_ID_MAX + 16];
		const char *want = cu_email(w, c->user, buf, sizeof buf);
		const char *sent = p->email != NULL ? p->email : "";
		if (strcmp(sent, want != NULL ? want : "") != 0 && !w->h.cu_wrong_email) {
			w->h.cu_wrong_email = true;
			w->h.cu_wrong_email_user = c->user;
			w->h.cu_wrong_email_us = world_now_us(w);
			snprintf(w->h.cu_wrong_email_sent, sizeof w->h.cu_wrong_email_sent, "%s", sent);
		}
	}
	w->cu_stripe_inner.customer_create(w->cu_stripe_inner.ctx, p, cu_on_stripe_reply, c);
}

/* A search Stripe refused for good (a 4xx but 409 and 429) is a cause no
 * retry mends; unlike a refused create it forbids nothing after it. */
static void cu_on_find_reply(void *arg, enum outcome oc, const struct stripe_reply *r)
{
	struct cu_call *c = arg;
	struct world *w = c->w;
	if (c->u != NULL && oc == OUTCOME_ERROR && r != NULL && r->http_status >= 400 &&
	    r->http_status < 500 && r->http_status != 409 && r->http_status != 429)
		w->cu_permanent[c->user]++;
	stripe_done_fn *done = c->done;
	void *darg = c->arg;
	world_work_free(w, c);
	done(darg, oc, r);
}

static void cu_stripe_find(void *ctx, const char *user_id, stripe_done_fn *done, void *arg)
{
	struct world *w = ctx;
	struct cu_call *c = world_work_new(w, sizeof *c);
	c->w = w;
	c->u = cu_user(w, user_id, &c->user);
	c->done = done;
	c->arg = arg;
	if (c->u == NULL)
		w->h.cu_invalid_calls++;
	else
		c->u->search_calls++;
	w->cu_stripe_inner.customer_find(w->cu_stripe_inner.ctx, user_id, cu_on_find_reply, c);
}

static void cu_sql_acquire(void *ctx, sql_acquire_fn *done, void *arg)
{
	struct world *w = ctx;
	w->cu_sql_inner.acquire(w->cu_sql_inner.ctx, done, arg);
}

/* PostgreSQL's SQLSTATE classes (its manual, appendix "Error Codes"):
 * connection exceptions (08), transaction rollbacks (40: serialization
 * failure, deadlock), insufficient resources (53), operator intervention
 * (57: shutdown, cancel) and lock not available (55P03) pass; a unique
 * violation (23505) is the race the fix handles. Anything else (access,
 * syntax, data, integrity) fails the same way every time. Written here, not
 * taken from core/sql.h, so that the core's own reading is what is judged. */
static bool cu_sqlstate_permanent(const char *st)
{
	if (st == NULL || strlen(st) != 5)
		return false;
	if (strncmp(st, "08", 2) == 0 || strncmp(st, "40", 2) == 0 || strncmp(st, "53", 2) == 0 ||
	    strncmp(st, "57", 2) == 0 || strcmp(st, "55P03") == 0 || strcmp(st, "23505") == 0)
		return false;
	return true;
}

static void cu_on_stmt(void *arg, enum outcome oc, const struct sql_result *res)
{
	struct cu_stmt *c = arg;
	struct world *w = c->w;
	if (oc == OUTCOME_ERROR && res != NULL && cu_sqlstate_permanent(res->sqlstate))
		w->cu_permanent[c->user]++;
	sql_done_fn *done = c->done;
	void *darg = c->arg;
	world_work_free(w, c);
	done(darg, oc, res);
}

static void cu_sql_exec(void *ctx, struct sql_conn *conn, enum sql_stmt stmt, int nparams,
                        const char *const *params, sql_done_fn *done, void *arg)
{
	struct world *w = ctx;
	uint32_t user;
	struct hist_customer_user *u = nparams > 0 ? cu_user(w, params[0], &user) : NULL;
	if (u == NULL) {
		w->cu_sql_inner.exec(w->cu_sql_inner.ctx, conn, stmt, nparams, params, done, arg);
		return;
	}
	if (stmt == SQL_CUSTOMER_INSERT)
		u->insert_calls++;
	struct cu_stmt *c = world_work_new(w, sizeof *c);
	c->w = w;
	c->user = user;
	c->done = done;
	c->arg = arg;
	w->cu_sql_inner.exec(w->cu_sql_inner.ctx, conn, stmt, nparams, params, cu_on_stmt, c);
}

static void cu_sql_release(void *ctx, struct sql_conn *conn)
{
	struct world *w = ctx;
	w->cu_sql_inner.release(w->cu_sql_inner.ctx, conn);
}

/* The earlier deploy's ports: what they issue is the state the run starts
 * from, so the operations they send are not the run's coverage. */
static void cu_earlier_create(void *ctx, const struct stripe_customer_params *p,
                              stripe_done_fn *done, void *arg)
{
	struct world *w = ctx;
	w->unwatched = true;
	w->env.stripe.customer_create(w->env.stripe.ctx, p, done, arg);
	w->unwatched = false;
}

static void cu_earlier_find(void *ctx, const char *user_id, stripe_done_fn *done, void *arg)
{
	struct world *w = ctx;
	w->unwatched = true;
	w->env.stripe.customer_find(w->env.stripe.ctx, user_id, done, arg);
	w->unwatched = false;
}

static void cu_earlier_acquire(void *ctx, sql_acquire_fn *done, void *arg)
{
	struct world *w = ctx;
	w->unwatched = true;
	w->env.sql.acquire(w->env.sql.ctx, done, arg);
	w->unwatched = false;
}

static void cu_earlier_exec(void *ctx, struct sql_conn *conn, enum sql_stmt stmt, int nparams,
                            const char *const *params, sql_done_fn *done, void *arg)
{
	struct world *w = ctx;
	w->unwatched = true;
	w->env.sql.exec(w->env.sql.ctx, conn, stmt, nparams, params, done, arg);
	w->unwatched = false;
}

static void cu_earlier_release(void *ctx, struct sql_conn *conn)
{
	struct world *w = ctx;
	w->env.sql.release(w->env.sql.ctx, conn);
}

bool cu_build(struct world *w, enum variant v)
{
	w->cu_env = w->env;
	w->cu_stripe_inner = w->env.stripe;
	w->cu_sql_inner = w->env.sql;
	w->cu_env.stripe = (struct stripe_port){.ctx = w, .customer_create = cu_stripe_create,
	                                        .customer_find = cu_stripe_find};
	w->cu_env.sql = (struct sql_port){.ctx = w, .acquire = cu_sql_acquire, .exec = cu_sql_exec,
	                                  .release = cu_sql_release};
	struct customer_config c = {.variant = v, .retries_max = CU_RETRIES_MAX,
	                            .backoff_ms = CU_BACKOFF_MS};
	w->h.cu_retries_max = CU_RETRIES_MAX;
	if ((w->cu = customer_create(&w->cu_env, &c)) == NULL)
		return false;
	if (w->sc->customer.existing == 0)
		return true;
	/* The earlier deploy talks to the servers unwatched: what it sent is
	 * the state the run starts from, not part of the run. */
	static const enum variant earlier[2] = {VARIANT_SEED, VARIANT_HARDENED};
	w->cu_earlier_env = w->env;
	w->cu_earlier_env.stripe = (struct stripe_port){.ctx = w, .customer_create = cu_earlier_create,
	                                                .customer_find = cu_earlier_find};
	w->cu_earlier_env.sql = (struct sql_port){.ctx = w, .acquire = cu_earlier_acquire,
	                                          .exec = cu_earlier_exec,
	                                          .release = cu_earlier_release};
	for (int i = 0; i < 2; i++) {
		c.variant = earlier[i];
		if ((w->cu_earlier[i] = customer_create(&w->cu_earlier_env, &c)) == NULL)
			return false;
	}
	return true;
}

void cu_destroy(struct world *w)
{
	customer_destroy(w->cu);
	customer_destroy(w->cu_earlier[0]);
	customer_destroy(w->cu_earlier[1]);
}

/* ---- the calls ------------------------------------------------------------------ */

static enum hist_cu_answer cu_answer_of(enum result rc)
{
	switch (rc) {
	case RESULT_OK: return HIST_CU_OK;
	case RESULT_RETRY: return HIST_CU_RETRY;
	case RESULT_REJECT: return HIST_CU_REJECT;
	default: return HIST_CU_ERROR;
	}
}

static void cu_on_done(void *arg, enum result rc, const char *customer_id)
{
	struct cu_req *q = arg;
	struct world *w = q->w;
	world_core_answered(w, "customer_get_or_create");
	ASSERT(w->core_busy > 0);
	w->core_busy--;
	if (q->earlier) {
		if (rc == RESULT_OK && !w->draining)
			snprintf(w->h.cust[q->user].pre_mapped, sizeof w->h.cust[0].pre_mapped, "%s",
			         customer_id);
		world_work_free(w, q);
		return;
	}
	struct hist_cu_request *r = &w->h.cu[q->hist];
	if (r->valid_id) {
		ASSERT(w->cu_inflight[q->user] > 0);
		w->cu_inflight[q->user]--;
	}
	if (rc == RESULT_UNHANDLED)
		world_note_unhandled(w, "stripe-customer request died");
	world_request_end(w, "stripe-customer", q->id, q->start_us,
	            rc == RESULT_OK ? WO_CU_OK : WO_CU_ERROR);
	if (!w->draining || q->comes_back) {
		r->done = true;
		r->answer = cu_answer_of(rc);
		if (rc == RESULT_OK)
			snprintf(r->customer, sizeof r->customer, "%s", customer_id);
		r->end_us = world_now_us(w);
		uint64_t faults = cu_faults(w) - q->faults_at_start;
		r->touched = faults > 0;
		if (r->valid_id && w->cu_replayed[q->user] != q->replayed_at_start) {
			r->touched = true;
			faults++; /* the replayed fault is not a lasting cause */
		}
		if (r->valid_id) {
			const struct hist_customer_user *u = &w->h.cust[q->user];
			r->refused = w->cu_refusals[q->user] != q->refusals_at_start;
			/* Every fault that fired while it ran (its own or another
			 * call's) was a cause no retry mends, and there was one. */
			uint64_t lasting = (uint64_t)(w->cu_refusals[q->user] - q->refusals_at_start) +
			                   (w->cu_permanent[q->user] - q->permanent_at_start);
			r->lasting = lasting > 0;
			r->only_lasting = lasting > 0 && faults <= lasting;
			r->exclusive = !q->overlapped && w->cu_starts[q->user] == q->starts_at_start;
			r->stripe_calls = u->stripe_calls - q->stripe_at_start;
			r->insert_calls = u->insert_calls - q->insert_at_start;
			r->search_calls = u->search_calls - q->search_at_start;
			r->calls_after_refusal = w->cu_after_refusal[q->user] - q->after_refusal_at_start;
		}
	}
	world_work_free(w, q);
}

/* The address of user u: its own, none, or one it shares. */
static const char *cu_email(const struct world *w, uint32_t u, char *buf, size_t size)
{
	const struct scenario *sc = w->sc;
	uint32_t users = sc->customer.users;
	if (u >= users - sc->customer.shared_email)
		return CU_SHARED_EMAIL;
	if (u >= users - sc->customer.shared_email - sc->customer.no_email)
		return NULL;
	struct fmt f;
	fmt_init(&f, buf, size);
	fmt_str(&f, w->h.cust[u].user);
	fmt_str(&f, "@example.com");
	ASSERT(!f.cut);
	return buf;
}

static void cu_start(void *arg)
{
	struct cu_req *q = arg;
	struct world *w = q->w;
	if (w->draining && !q->comes_back) {
		world_work_free(w, q);
		return;
	}
	char email[HIST_ID_MAX + 16];
	if (q->earlier) {
		w->core_busy++;
		bool was = world_core_enter(w);
		customer_get_or_create(w->cu_earlier[q->user % 2], w->h.cust[q->user].user,
		                       cu_email(w, q->user, email, sizeof email), cu_on_done, q);
		world_core_leave(w, was);
		return;
	}
	struct hist_cu_request *r = &w->h.cu[q->hist];
	const char *user = "";
	char long_id[CUSTOMER_USER_ID_MAX + 2];
	if (r->valid_id) {
		if (w->cu_inflight[q->user] > 0)
			w->out->race_seen = true;
		q->overlapped = w->cu_inflight[q->user] > 0;
		w->cu_inflight[q->user]++;
		struct hist_customer_user *u = &w->h.cust[q->user];
		u->requests++;
		user = u->user;
		q->refusals_at_start = w->cu_refusals[q->user];
		w->cu_refusal_mark[q->user] = w->cu_refusals[q->user];
		q->starts_at_start = ++w->cu_starts[q->user];
		q->stripe_at_start = u->stripe_calls;
		q->insert_at_start = u->insert_calls;
		q->search_at_start = u->search_calls;
		q->after_refusal_at_start = w->cu_after_refusal[q->user];
		q->permanent_at_start = w->cu_permanent[q->user];
		q->replayed_at_start = w->cu_replayed[q->user];
	} else if (q->user == 1) {
		memset(long_id, 'x', sizeof long_id - 1);
		long_id[sizeof long_id - 1] = '\0';
		user = long_id;
	} else if (q->user == 2) {
		user = NULL; /* no user id at all: a caller that is not signed in */
	}
	q->start_us = world_now_us(w);
	q->faults_at_start = cu_faults(w);
	r->start_us = q->start_us;
	world_request_begin(w, "stripe-customer", q->id);
	w->core_busy++;
	bool was = world_core_enter(w);
	customer_get_or_create(w->cu, user,
	                       r->valid_id ? cu_email(w, q->user, email, sizeof email) : NULL,
	                       cu_on_done, q);
	world_core_leave(w, was);
}

static struct cu_req *cu_new(struct world *w, uint32_t user, bool valid, uint32_t copy)
{
	struct cu_req *q = world_work_new(w, sizeof *q);
	q->w = w;
	q->user = user;
	q->hist = w->h.ncu++;
	w->h.cu[q->hist].user = user;
	w->h.cu[q->hist].valid_id = valid;
	world_name2(q->id, sizeof q->id, valid ? "cu" : "bad", user, copy, "");
	return q;
}

static void cu_add(struct world *w, uint32_t user, bool valid, uint64_t at_us, uint32_t copy)
{
	world_arrival_add(w, at_us, cu_start, cu_new(w, user, valid, copy));
}

void cu_schedule(struct world *w)
{
	const struct scenario *sc = w->sc;
	uint32_t users = sc->customer.users;
	ASSERT(users <= WORLD_USERS_MAX);
	uint32_t per = sc->customer.concurrent ? sc->customer.concurrent : 1;
	size_t calls = (size_t)users * per + (sc->customer.again_us ? users : 0) +
	               (sc->customer.invalid_ids ? 3 : 0);
	w->cu_inflight = calloc(users ? users : 1, sizeof *w->cu_inflight);
	w->cu_refusals = calloc(users ? users : 1, 6 * sizeof *w->cu_refusals);
	ASSERT(w->cu_refusals != NULL);
	w->cu_refusal_mark = w->cu_refusals + (users ? users : 1);
	w->cu_after_refusal = w->cu_refusal_mark + (users ? users : 1);
	w->cu_starts = w->cu_after_refusal + (users ? users : 1);
	w->cu_permanent = w->cu_starts + (users ? users : 1);
	w->cu_replayed = w->cu_permanent + (users ? users : 1);
	w->h.cust = calloc(users ? users : 1, sizeof *w->h.cust);
	/* and room for one call per user after the run (cu_comes_back) */
	w->h.cu = calloc(calls + users + 1, sizeof *w->h.cu);
	ASSERT(w->cu_inflight != NULL && w->cu_refusals != NULL && w->h.cust != NULL &&
	       w->h.cu != NULL);
	w->h.ncust = users;
	uint64_t t0 = sc->customer.start_us;
	for (uint32_t u = 0; u < users; u++) {
		char *id = w->h.cust[u].user;
		world_name1(id, sizeof w->h.cust[u].user, "cu", u);
		size_t want = sc->customer.user_id_octets, len = strlen(id);
		ASSERT(want < sizeof w->h.cust[u].user);
		if (want > len) { /* "cu<N>-" then filler, exactly want octets */
			memset(id + len, 'x', want - len);
			id[len] = '-';
			id[want] = '\0';
		}
		if (u < sc->customer.existing) {
			struct cu_req *q = world_work_new(w, sizeof *q);
			q->w = w;
			q->user = u;
			q->earlier = true;
			world_arrival_add(w, 0, cu_start, q);
		}
		uint64_t at = t0 + world_uniform_us(w, sc->customer.spread_us);
		for (uint32_t c = 0; c < per; c++)
			cu_add(w, u, true,
			       at + (c ? world_uniform_us(w, sc->customer.copy_spread_us) : 0), c);
		if (sc->customer.again_us)
			cu_add(w, u, true, at + sc->customer.again_us, per);
	}
	if (sc->customer.invalid_ids) {
		cu_add(w, 0, false, t0, 0);   /* "" */
		cu_add(w, 1, false, t0, 0);   /* 65 octets */
		cu_add(w, 2, false, t0, 0);   /* none (NULL) */
	}
	ASSERT(w->h.ncu == calls);
}

static void on_mapping_row(void *arg, const char *user_id, const char *customer_id)
{
	struct world *w = arg;
	struct hist_customer_user *u = cu_user(w, user_id, NULL);
	if (u != NULL)
		snprintf(u->mapped, sizeof u->mapped, "%s", customer_id);
}

static void on_customer(void *arg, const char *customer_id, const char *user_id,
                        uint64_t created_us)
{
	struct world *w = arg;
	struct hist_customer_user *u = cu_user(w, user_id, NULL);
	if (u == NULL)
		return;
	if (u->ncustomers < HIST_CUSTOMERS_MAX)
		snprintf(u->customers[u->ncustomers], sizeof u->customers[0], "%s", customer_id);
	u->ncustomers++;
	if (created_us > u->last_created_us)
		u->last_created_us = created_us;
}

void cu_snapshot(struct world *w)
{
	w->be.ops->foreach_mapping(w->be.ctx, on_mapping_row, w);
	w->be.ops->foreach_customer(w->be.ctx, on_customer, w);
}

/* A user left with one Stripe customer, none mapped, and never answered
 * ok: what the run made for it is not lost only if its next call gets it. */
static bool cu_pending(const struct world *w, uint32_t u)
{
	const struct hist_customer_user *cu = &w->h.cust[u];
	if (cu->ncustomers != 1 || cu->mapped[0] != '\0')
		return false;
	for (size_t i = 0; i < w->h.ncu; i++) {
		const struct hist_cu_request *r = &w->h.cu[i];
		if (r->valid_id && r->user == u && r->done && r->answer == HIST_CU_OK)
			return false;
	}
	return true;
}

bool cu_comes_back(struct world *w)
{
	if (w->be.real_clock)
		return false;
	uint32_t users = w->sc->customer.users, pending = 0;
	for (uint32_t u = 0; u < users; u++)
		pending += cu_pending(w, u);
	if (pending == 0)
		return false;
	if (TRACE_ON(w->tr)) {
		trace_begin(w->tr, world_now_us(w), "comes_back");
		trace_uint(w->tr, "users", pending);
		trace_uint(w->tr, "after_us", CU_COME_BACK_US);
		trace_end(w->tr);
	}
	/* Every fault is over, and every other workload stops. */
	w->plan.nrules = 0;
	w->draining = true;
	uint32_t copy = (w->sc->customer.concurrent ? w->sc->customer.concurrent : 1) +
	                (w->sc->customer.again_us ? 1 : 0);
	for (uint32_t u = 0; u < users; u++) {
		if (!cu_pending(w, u))
			continue;
		struct cu_req *q = cu_new(w, u, true, copy);
		q->comes_back = true;
		sched_after(w->s, CU_COME_BACK_US, cu_start, q);
	}
	sched_run(w->s, world_now_us(w) + CU_COME_BACK_US + CU_COME_BACK_SLACK_US);
	for (uint32_t u = 0; u < users; u++) {
		struct hist_customer_user *cu = &w->h.cust[u];
		cu->mapped[0] = '\0';
		cu->ncustomers = 0;
		cu->last_created_us = 0;
	}
	cu_snapshot(w);
	return true;
}
