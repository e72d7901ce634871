/* tests/check_simnet.c - the simulated network's fault outcomes, each checked
 * twice: what the client saw and what the model holds afterwards. Also the
 * port contract (one callback, never inside the call), the pool, late
 * replies, restarts, shutdown and determinism. Not for the models' own rules
 * (check_*_model.c) nor for whole scenarios. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "sim/models/mail_model.h"
#include "sim/models/pg_model.h"
#include "sim/models/redis_model.h"
#include "sim/models/stripe_model.h"
#include "sim/prng.h"
#include "sim/sched.h"
#include "sim/simnet.h"

#define MS 1000ULL                /* microseconds in a millisecond */
#define LATENCY_US (2 * MS)       /* every backend's round trip: fixed */
#define LEG_US (LATENCY_US / 2)   /* one way */
#define TIMEOUT_US (100 * MS)     /* every client deadline */
#define STR_MAX 128               /* bytes of a copied reply string */
#define ROWS_SEEN_MAX 8           /* rows a table probe keeps */

/* ---- fixture ------------------------------------------------------------ */

struct fixture {
	struct event_base *base;
	struct prng ties;
	struct prng net_rng;
	struct sched *s;
	struct redis_model *redis;
	struct pg_model *pg;
	struct stripe_model *stripe;
	struct mail_model *mail;
	struct scenario *sc;
	struct fault_plan plan;
	struct simnet *net;
	struct core_env env;
	int issued;                   /* port calls made */
	int answered;                 /* callbacks run */
};

static void fixture_pg_wake(void *arg, uint32_t session)
{
	struct fixture *f = arg;
	simnet_pg_wake(f->net, session);
}

static void backend_set(struct backend_settings *b)
{
	b->latency.min_us = LATENCY_US;
	b->latency.max_us = LATENCY_US;
	b->timeout_us = TIMEOUT_US;
}

/* A network over fresh models; no rule yet (add them with fixture_rule). */
static struct fixture *fixture_new(uint64_t seed, uint32_t pool_size)
{
	struct fixture *f = calloc(1, sizeof *f);
	ck_assert_ptr_nonnull(f);
	f->sc = calloc(1, sizeof *f->sc);
	ck_assert_ptr_nonnull(f->sc);
	backend_set(&f->sc->redis);
	backend_set(&f->sc->postgres);
	backend_set(&f->sc->stripe);
	backend_set(&f->sc->mail);
	f->sc->pg_pool_size = pool_size;
	f->base = sched_base_new(SCHED_VIRTUAL);
	ck_assert_ptr_nonnull(f->base);
	struct prng root;
	prng_init(&root, seed);
	prng_fork(&root, 1, &f->ties);
	prng_fork(&root, 2, &f->net_rng);
	f->s = sched_create(f->base, SCHED_VIRTUAL, &f->ties);
	f->redis = redis_model_create();
	f->pg = pg_model_create(SIMNET_POOL_MAX, fixture_pg_wake, f);
	f->stripe = stripe_model_create(seed);
	f->mail = mail_model_create();
	ck_assert(f->s && f->redis && f->pg && f->stripe && f->mail);
	struct simnet_models models = {f->redis, f->pg, f->stripe, f->mail};
	f->net = simnet_create(f->s, &f->net_rng, &f->plan, NULL, &models, f->sc, NULL);
	ck_assert_ptr_nonnull(f->net);
	simnet_ports(f->net, &f->env);
	return f;
}

/* Ends the run as the world does: answer what waits, drain, free. Every
 * call made must have had exactly one answer by then. */
static void fixture_free(struct fixture *f)
{
	simnet_shutdown(f->net);
	sched_run(f->s, UINT64_MAX);
	ck_assert_uint_eq(simnet_inflight(f->net), 0);
	ck_assert_int_eq(f->answered, f->issued);
	simnet_destroy(f->net);
	redis_model_destroy(f->redis);
	pg_model_destroy(f->pg);
	stripe_model_destroy(f->stripe);
	mail_model_destroy(f->mail);
	sched_destroy(f->s);
	event_base_free(f->base);
	free(f->sc);
	free(f);
}

static struct fault_rule *fixture_rule(struct fixture *f, enum fault_target t, const char *op,
                                       enum fault_kind kind)
{
	ck_assert_uint_lt(f->plan.nrules, FAULT_RULES_MAX);
	struct fault_rule *r = &f->plan.rules[f->plan.nrules++];
	memset(r, 0, sizeof *r);
	r->target = t;
	snprintf(r->op, sizeof r->op, "%s", op);
	r->until_us = UINT64_MAX;
	r->probability = 1.0;
	r->kind = kind;
	r->pareto_alpha = 1.5;
	return r;
}

static void fixture_run(struct fixture *f)
{
	sched_run(f->s, UINT64_MAX);
}

static uint64_t now_us(const struct fixture *f)
{
	return sched_now_us(f->s);
}

/* ---- what a client saw -------------------------------------------------- */

/* The contract every callback checks: the call had returned, and this is
 * the first answer. */
struct call {
	struct fixture *f;
	bool returned;     /* set right after the port call returned */
	int calls;
	uint64_t at_us;
	enum outcome oc;
};

static void call_answer(struct call *c, enum outcome oc)
{
	ck_assert_msg(c->returned, "callback ran inside the port call");
	ck_assert_msg(c->calls == 0, "second callback for one operation");
	c->calls++;
	c->f->answered++;
	c->oc = oc;
	c->at_us = sched_now_us(c->f->s);
}

static void call_issued(struct fixture *f, struct call *c)
{
	c->returned = true;
	f->issued++;
}

struct kv_got {
	struct call c;
	bool had_reply;
	enum kv_reply_type type;
	long long integer;
	char str[STR_MAX];
	size_t elements;
	enum kv_reply_type elem_type[KV_TXN_MAX];
	long long elem_int[KV_TXN_MAX];
};

static void on_kv(void *arg, enum outcome oc, const struct kv_reply *r)
{
	struct kv_got *g = arg;
	call_answer(&g->c, oc);
	g->had_reply = r != NULL;
	if (r == NULL)
		return;
	g->type = r->type;
	g->integer = r->integer;
	snprintf(g->str, sizeof g->str, "%s", r->str ? r->str : "");
	g->elements = r->type == KV_REPLY_ARRAY ? r->elements : 0;
	for (size_t i = 0; i < g->elements && i < KV_TXN_MAX; i++) {
		g->elem_type[i] = r->element[i].type;
		g->elem_int[i] = r->element[i].integer;
	}
}

#define CMD(...) ((struct kv_cmd){ \
	.argc = (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), \
	.argv = {__VA_ARGS__}})

static void kv_issue(struct fixture *f, struct kv_got *g, struct kv_cmd cmd)
{
	memset(g, 0, sizeof *g);
	g->c.f = f;
	f->env.kv.command(f->env.kv.ctx, &cmd, on_kv, g);
	call_issued(f, &g->c);
}

static void kv_issue_multi(struct fixture *f, struct kv_got *g, int n, const struct kv_cmd *cmds)
{
	memset(g, 0, sizeof *g);
	g->c.f = f;
	f->env.kv.transaction(f->env.kv.ctx, n, cmds, on_kv, g);
	call_issued(f, &g->c);
}

/* The model's own answer to cmd, now (no network, no faults). */
static struct kv_reply model_kv(struct fixture *f, struct kv_cmd cmd)
{
	struct kv_reply r;
	redis_model_exec(f->redis, SIMNET_REDIS_EPOCH_US + now_us(f), &cmd, &r);
	return r;
}

/* The value of key in the model as an integer; -1 when the key is absent. */
static long long model_counter(struct fixture *f, const char *key)
{
	struct kv_reply r = model_kv(f, CMD("GET", key));
	if (r.type == KV_REPLY_NIL)
		return -1;
	ck_assert_int_eq(r.type, KV_REPLY_BULK);
	return strtoll(r.str, NULL, 10);
}

struct conn_got {
	struct call c;
	struct sql_conn *conn;
	char sqlstate[6];
};

static void on_acquire(void *arg, enum outcome oc, struct sql_conn *conn, const char *sqlstate)
{
	struct conn_got *g = arg;
	call_answer(&g->c, oc);
	g->conn = conn;
	ck_assert_ptr_nonnull(sqlstate);
	snprintf(g->sqlstate, sizeof g->sqlstate, "%s", sqlstate);
}

static void acquire_issue(struct fixture *f, struct conn_got *g)
{
	memset(g, 0, sizeof *g);
	g->c.f = f;
	f->env.sql.acquire(f->env.sql.ctx, on_acquire, g);
	call_issued(f, &g->c);
}

struct sql_got {
	struct call c;
	bool had_result;
	int nrows;
	long long affected;
	char sqlstate[6];
	char value[STR_MAX];
};

static void on_sql(void *arg, enum outcome oc, const struct sql_result *r)
{
	struct sql_got *g = arg;
	call_answer(&g->c, oc);
	g->had_result = r != NULL;
	if (r == NULL)
		return;
	g->nrows = r->nrows;
	g->affected = r->affected;
	snprintf(g->sqlstate, sizeof g->sqlstate, "%s", r->sqlstate);
	if (r->nrows > 0 && r->ncols > 0 && r->values[0] != NULL)
		snprintf(g->value, sizeof g->value, "%s", r->values[0]);
}

static void sql_issue(struct fixture *f, struct sql_got *g, struct sql_conn *conn,
                      enum sql_stmt stmt, const char *p1, const char *p2)
{
	memset(g, 0, sizeof *g);
	g->c.f = f;
	const char *params[2] = {p1, p2};
	f->env.sql.exec(f->env.sql.ctx, conn, stmt, sql_stmt_get(stmt)->nparams, params, on_sql, g);
	call_issued(f, &g->c);
}

/* Acquires a connection and runs the scheduler until it is granted. */
static struct sql_conn *conn_take(struct fixture *f)
{
	struct conn_got g;
	acquire_issue(f, &g);
	fixture_run(f);
	ck_assert_int_eq(g.c.calls, 1);
	ck_assert_int_eq(g.c.oc, OUTCOME_OK);
	return g.conn;
}

/* Runs one statement to its answer and checks its outcome. */
static void sql_expect(struct fixture *f, struct sql_conn *conn, enum sql_stmt stmt,
                       const char *p1, const char *p2, enum outcome want)
{
	struct sql_got g;
	sql_issue(f, &g, conn, stmt, p1, p2);
	fixture_run(f);
	ck_assert_int_eq(g.c.calls, 1);
	ck_assert_msg(g.c.oc == want, "%s: %s (%s), want %s", sql_stmt_get(stmt)->name,
	              outcome_name(g.c.oc), g.sqlstate, outcome_name(want));
}

struct rows_seen {
	int n;
	char first[ROWS_SEEN_MAX][STR_MAX];
};

static void on_row(void *arg, const char *const *cols, int ncols)
{
	struct rows_seen *r = arg;
	ck_assert_int_gt(ncols, 0);
	if (r->n < ROWS_SEEN_MAX)
		snprintf(r->first[r->n], STR_MAX, "%s", cols[0] ? cols[0] : "NULL");
	r->n++;
}

/* Committed rows of table in the model. */
static int model_rows(struct fixture *f, const char *table, struct rows_seen *out)
{
	struct rows_seen tmp;
	struct rows_seen *r = out != NULL ? out : &tmp;
	memset(r, 0, sizeof *r);
	pg_model_foreach(f->pg, table, on_row, r);
	return r->n;
}

struct stripe_got {
	struct call c;
	bool had_reply;
	int status;
	char error_type[STR_MAX];
	char customer_id[STR_MAX];
	bool replay;
};

static void on_stripe(void *arg, enum outcome oc, const struct stripe_reply *r)
{
	struct stripe_got *g = arg;
	call_answer(&g->c, oc);
	g->had_reply = r != NULL;
	if (r == NULL)
		return;
	g->status = r->http_status;
	snprintf(g->error_type, sizeof g->error_type, "%s", r->error_type);
	snprintf(g->customer_id, sizeof g->customer_id, "%s", r->customer_id);
	g->replay = r->idempotent_replay;
}

static void stripe_issue(struct fixture *f, struct stripe_got *g, const char *user,
                         const char *key)
{
	memset(g, 0, sizeof *g);
	g->c.f = f;
	struct stripe_customer_params p = {.email = "a@example.com", .user_id = user,
	                                   .idempotency_key = key};
	f->env.stripe.customer_create(f->env.stripe.ctx, &p, on_stripe, g);
	call_issued(f, &g->c);
}

struct mail_got {
	struct call c;
	int smtp_code;
};

static void on_mail(void *arg, enum outcome oc, int smtp_code)
{
	struct mail_got *g = arg;
	call_answer(&g->c, oc);
	g->smtp_code = smtp_code;
}

static const char MAIL_DATA[] = "Subject: quote Q1\r\n\r\nHello\r\n";

static void mail_issue(struct fixture *f, struct mail_got *g)
{
	memset(g, 0, sizeof *g);
	g->c.f = f;
	struct mail_message m = {.from = "quotes@example.com", .to = "a@example.com",
	                         .data = MAIL_DATA, .len = sizeof MAIL_DATA - 1};
	f->env.mail.send(f->env.mail.ctx, &m, on_mail, g);
	call_issued(f, &g->c);
}

/* Runs fn(arg) at virtual time t_us (from the scheduler, like a client). */
struct at_kv {
	struct fixture *f;
	struct kv_got *g;
	struct kv_cmd cmd;
};

static void at_kv_fire(void *arg)
{
	struct at_kv *a = arg;
	kv_issue(a->f, a->g, a->cmd);
}

static void at_kv(struct fixture *f, uint64_t t_us, struct at_kv *a, struct kv_got *g,
                  struct kv_cmd cmd)
{
	*a = (struct at_kv){.f = f, .g = g, .cmd = cmd};
	ck_assert_uint_ge(t_us, now_us(f));
	sched_after(f->s, t_us - now_us(f), at_kv_fire, a);
}

/* ---- Redis -------------------------------------------------------------- */

START_TEST(test_simnet_redis_incr_answers_after_one_round_trip)
{
	struct fixture *f = fixture_new(1, 4);
	struct kv_got g;
	kv_issue(f, &g, CMD("INCR", "k"));
	ck_assert_int_eq(g.c.calls, 0);
	fixture_run(f);
	ck_assert_int_eq(g.c.calls, 1);
	ck_assert_int_eq(g.c.oc, OUTCOME_OK);
	ck_assert_int_eq(g.type, KV_REPLY_INTEGER);
	ck_assert_int_eq(g.integer, 1);
	ck_assert_uint_eq(g.c.at_us, LATENCY_US);
	ck_assert_int_eq(model_counter(f, "k"), 1);
	ck_assert_uint_eq(simnet_stats(f->net)->ops[FAULT_TARGET_REDIS], 1);
	ck_assert_uint_eq(simnet_fault_count(f->net, FAULT_TARGET_REDIS), 0);
	fixture_free(f);
}
END_TEST

START_TEST(test_simnet_redis_timeout_applied_increments_but_client_times_out)
{
	struct fixture *f = fixture_new(1, 4);
	fixture_rule(f, FAULT_TARGET_REDIS, "incr", FAULT_TIMEOUT_APPLIED);
	struct kv_got g;
	kv_issue(f, &g, CMD("INCR", "k"));
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_TIMEOUT);
	ck_assert(!g.had_reply);
	ck_assert_uint_eq(g.c.at_us, TIMEOUT_US);
	ck_assert_int_eq(model_counter(f, "k"), 1);
	ck_assert_uint_eq(simnet_stats(f->net)->faults[FAULT_TIMEOUT_APPLIED], 1);
	/* The reply was lost, not late: nothing arrived after the deadline. */
	ck_assert_uint_eq(simnet_stats(f->net)->late_replies, 0);
	fixture_free(f);
}
END_TEST

START_TEST(test_simnet_redis_timeout_not_applied_leaves_counter_untouched)
{
	struct fixture *f = fixture_new(1, 4);
	fixture_rule(f, FAULT_TARGET_REDIS, "incr", FAULT_TIMEOUT_NOT_APPLIED);
	struct kv_got g;
	kv_issue(f, &g, CMD("INCR", "k"));
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_TIMEOUT);
	ck_assert_uint_eq(g.c.at_us, TIMEOUT_US);
	ck_assert_int_eq(model_counter(f, "k"), -1);
	fixture_free(f);
}
END_TEST

START_TEST(test_simnet_redis_error_is_conn_lost_and_not_applied)
{
	struct fixture *f = fixture_new(1, 4);
	fixture_rule(f, FAULT_TARGET_REDIS, "incr", FAULT_ERROR);
	struct kv_got g;
	kv_issue(f, &g, CMD("INCR", "k"));
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_CONN_LOST);
	ck_assert(!g.had_reply);
	ck_assert_uint_lt(g.c.at_us, TIMEOUT_US);
	ck_assert_int_eq(model_counter(f, "k"), -1);
	fixture_free(f);
}
END_TEST

/* conn-lost on a lone command fails it before the server sees it, as an
 * error does: loop index 0 = FAULT_ERROR, 1 = FAULT_CONN_LOST. */
START_TEST(test_simnet_redis_refused_kinds_are_conn_lost_and_not_applied)
{
	struct fixture *f = fixture_new(1, 4);
	fixture_rule(f, FAULT_TARGET_REDIS, "set", _i == 0 ? FAULT_ERROR : FAULT_CONN_LOST);
	struct kv_got g;
	kv_issue(f, &g, CMD("SET", "k", "v", "PX", "60000"));
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_CONN_LOST);
	ck_assert_uint_eq(g.c.at_us, LEG_US);
	ck_assert_int_eq(model_kv(f, CMD("GET", "k")).type, KV_REPLY_NIL);
	fixture_free(f);
}
END_TEST

START_TEST(test_simnet_redis_server_error_carries_rule_message_not_applied)
{
	struct fixture *f = fixture_new(1, 4);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_REDIS, "incr", FAULT_SERVER_ERROR);
	snprintf(r->error, sizeof r->error, "OOM command not allowed when used memory > 'maxmemory'.");
	struct kv_got g;
	kv_issue(f, &g, CMD("INCR", "k"));
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_ERROR);
	ck_assert(g.had_reply);
	ck_assert_int_eq(g.type, KV_REPLY_ERROR);
	ck_assert_str_eq(g.str, "OOM command not allowed when used memory > 'maxmemory'.");
	ck_assert_uint_eq(g.c.at_us, LATENCY_US);
	ck_assert_int_eq(model_counter(f, "k"), -1);
	fixture_free(f);
}
END_TEST

START_TEST(test_simnet_redis_server_error_without_message_says_err_injected)
{
	struct fixture *f = fixture_new(1, 4);
	fixture_rule(f, FAULT_TARGET_REDIS, "set", FAULT_SERVER_ERROR);
	struct kv_got g;
	kv_issue(f, &g, CMD("SET", "k", "v"));
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_ERROR);
	ck_assert_str_eq(g.str, "ERR injected");
	ck_assert_int_eq(model_kv(f, CMD("GET", "k")).type, KV_REPLY_NIL);
	fixture_free(f);
}
END_TEST

START_TEST(test_simnet_redis_latency_delays_answer_by_drawn_amount_and_applies)
{
	struct fixture *f = fixture_new(5, 4);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_REDIS, "incr", FAULT_LATENCY);
	r->dist = FAULT_DIST_UNIFORM;
	r->latency_us = 10 * MS;
	r->latency_max_us = 50 * MS;
	/* The base latency is fixed (no draw), the rule has probability 1 (no
	 * draw): the latency is the network stream's next uniform draw. */
	struct prng copy = f->net_rng;
	uint64_t drawn = r->latency_us + prng_below(&copy, r->latency_max_us - r->latency_us + 1);
	struct kv_got g;
	kv_issue(f, &g, CMD("INCR", "k"));
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_OK);
	ck_assert_int_eq(g.integer, 1);
	ck_assert_uint_eq(g.c.at_us, LATENCY_US + drawn);
	ck_assert_uint_gt(drawn, 0);
	ck_assert_int_eq(model_counter(f, "k"), 1);
	ck_assert_uint_eq(simnet_stats(f->net)->faults[FAULT_LATENCY], 1);
	fixture_free(f);
}
END_TEST

/* _i = 0: the stalled command is not applied; 1: applied anyway. */
START_TEST(test_simnet_redis_stall_times_out_applied_only_when_stall_applied)
{
	struct fixture *f = fixture_new(1, 4);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_REDIS, "incr", FAULT_STALL);
	r->stall_applied = _i == 1;
	struct kv_got g;
	kv_issue(f, &g, CMD("INCR", "k"));
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_TIMEOUT);
	ck_assert_uint_eq(g.c.at_us, TIMEOUT_US);
	ck_assert_int_eq(model_counter(f, "k"), _i == 1 ? 1 : -1);
	fixture_free(f);
}
END_TEST

/* INCR then PEXPIRE NX in one MULTI/EXEC, the rate limiter's shape. */
static const struct kv_cmd RL_TXN[2] = {
	{.argc = 2, .argv = {"INCR", "rl"}},
	{.argc = 4, .argv = {"PEXPIRE", "rl", "60000", "NX"}},
};

START_TEST(test_simnet_redis_rule_on_pexpire_fails_whole_transaction)
{
	struct fixture *f = fixture_new(1, 4);
	fixture_rule(f, FAULT_TARGET_REDIS, "pexpire", FAULT_ERROR);
	struct kv_got g;
	kv_issue_multi(f, &g, 2, RL_TXN);
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_CONN_LOST);
	/* Nothing of it ran: not the INCR either. */
	ck_assert_int_eq(model_counter(f, "rl"), -1);
	fixture_free(f);
}
END_TEST

START_TEST(test_simnet_redis_rule_on_pexpire_timeout_applies_whole_transaction)
{
	struct fixture *f = fixture_new(1, 4);
	fixture_rule(f, FAULT_TARGET_REDIS, "pexpire", FAULT_TIMEOUT_APPLIED);
	struct kv_got g;
	kv_issue_multi(f, &g, 2, RL_TXN);
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_TIMEOUT);
	/* All of it ran: the counter and its TTL. */
	ck_assert_int_eq(model_counter(f, "rl"), 1);
	struct kv_reply pttl = model_kv(f, CMD("PTTL", "rl"));
	ck_assert_int_eq(pttl.type, KV_REPLY_INTEGER);
	ck_assert_int_gt(pttl.integer, 0);
	ck_assert_int_le(pttl.integer, 60000);
	fixture_free(f);
}
END_TEST

START_TEST(test_simnet_redis_transaction_answers_exec_array)
{
	struct fixture *f = fixture_new(1, 4);
	struct kv_got g;
	kv_issue_multi(f, &g, 2, RL_TXN);
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_OK);
	ck_assert_int_eq(g.type, KV_REPLY_ARRAY);
	ck_assert_uint_eq(g.elements, 2);
	ck_assert_int_eq(g.elem_type[0], KV_REPLY_INTEGER);
	ck_assert_int_eq(g.elem_int[0], 1);
	ck_assert_int_eq(g.elem_type[1], KV_REPLY_INTEGER);
	ck_assert_int_eq(g.elem_int[1], 1);
	fixture_free(f);
}
END_TEST

/* The model's clock runs from a Unix time in a simulated run, as a
 * server's does: an EXPIRE that would overflow there is refused here too
 * (near 0 the model accepted it). */
START_TEST(test_simnet_redis_clock_is_unix_time)
{
	struct fixture *f = fixture_new(1, 4);
	struct kv_got set, huge, fine;
	kv_issue(f, &set, CMD("SET", "k", "1"));
	fixture_run(f);
	kv_issue(f, &huge, CMD("PEXPIRE", "k", "9223372036854775000"));
	fixture_run(f);
	kv_issue(f, &fine, CMD("PEXPIRE", "k", "5000"));
	fixture_run(f);
	ck_assert_int_eq(huge.c.oc, OUTCOME_ERROR);
	ck_assert_str_eq(huge.str, "ERR invalid expire time in 'pexpire' command");
	ck_assert_int_eq(fine.c.oc, OUTCOME_OK);
	ck_assert_int_eq(fine.integer, 1);
	fixture_free(f);
}
END_TEST

/* A rule on "incr" does not hit a lone PEXPIRE: op names are exact. */
START_TEST(test_simnet_redis_rule_hits_only_its_command)
{
	struct fixture *f = fixture_new(1, 4);
	fixture_rule(f, FAULT_TARGET_REDIS, "incr", FAULT_ERROR);
	struct kv_got set, exp;
	kv_issue(f, &set, CMD("SET", "k", "1"));
	fixture_run(f);
	kv_issue(f, &exp, CMD("PEXPIRE", "k", "5000"));
	fixture_run(f);
	ck_assert_int_eq(set.c.oc, OUTCOME_OK);
	ck_assert_int_eq(exp.c.oc, OUTCOME_OK);
	ck_assert_int_eq(exp.integer, 1);
	ck_assert_uint_eq(simnet_fault_count(f->net, FAULT_TARGET_REDIS), 0);
	fixture_free(f);
}
END_TEST

/* _i = 0: without persistence the keys are gone after the restart;
 * 1: with persistence they survive. Down in [10 ms, 60 ms) either way. */
START_TEST(test_simnet_redis_restart_refuses_during_window_and_loses_keys_unless_persistent)
{
	struct fixture *f = fixture_new(1, 4);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_REDIS, "*", FAULT_RESTART);
	r->from_us = 10 * MS;
	r->duration_us = 50 * MS;
	r->persistence = _i == 1;
	simnet_schedule_restarts(f->net);
	struct kv_got before, during, after;
	struct at_kv a1, a2;
	kv_issue(f, &before, CMD("SET", "k", "7"));
	at_kv(f, 30 * MS, &a1, &during, CMD("GET", "k"));
	at_kv(f, 70 * MS, &a2, &after, CMD("GET", "k"));
	fixture_run(f);
	ck_assert_int_eq(before.c.oc, OUTCOME_OK);
	ck_assert_int_eq(during.c.oc, OUTCOME_CONN_LOST);
	ck_assert_uint_lt(during.c.at_us, 30 * MS + TIMEOUT_US);
	ck_assert_int_eq(after.c.oc, OUTCOME_OK);
	if (_i == 1) {
		ck_assert_int_eq(after.type, KV_REPLY_BULK);
		ck_assert_str_eq(after.str, "7");
	} else {
		ck_assert_int_eq(after.type, KV_REPLY_NIL);
	}
	ck_assert_uint_eq(simnet_stats(f->net)->faults[FAULT_RESTART], 1);
	ck_assert(!simnet_healthy_since(f->net, FAULT_TARGET_REDIS, 0));
	fixture_free(f);
}
END_TEST

/* A reply that comes after the deadline is counted and never delivered. */
START_TEST(test_simnet_late_reply_counted_and_never_delivered)
{
	struct fixture *f = fixture_new(1, 4);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_REDIS, "incr", FAULT_LATENCY);
	r->dist = FAULT_DIST_FIXED;
	r->latency_us = 150 * MS;
	struct kv_got g;
	kv_issue(f, &g, CMD("INCR", "k"));
	fixture_run(f);
	ck_assert_int_eq(g.c.calls, 1);
	ck_assert_int_eq(g.c.oc, OUTCOME_TIMEOUT);
	ck_assert_uint_eq(g.c.at_us, TIMEOUT_US);
	ck_assert_uint_eq(simnet_stats(f->net)->late_replies, 1);
	/* Slow is not lost: the server applied it. */
	ck_assert_int_eq(model_counter(f, "k"), 1);
	ck_assert_uint_eq(simnet_inflight(f->net), 0);
	fixture_free(f);
}
END_TEST

START_TEST(test_simnet_probability_zero_never_fires)
{
	struct fixture *f = fixture_new(3, 4);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_REDIS, "*", FAULT_ERROR);
	r->probability = 0.0;
	enum { N = 40 };
	struct kv_got g[N];
	for (int i = 0; i < N; i++)
		kv_issue(f, &g[i], CMD("INCR", "k"));
	fixture_run(f);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(g[i].c.oc, OUTCOME_OK);
	ck_assert_int_eq(model_counter(f, "k"), N);
	for (int k = 0; k < FAULT_KIND_COUNT; k++)
		ck_assert_uint_eq(simnet_stats(f->net)->faults[k], 0);
	ck_assert(simnet_healthy_since(f->net, FAULT_TARGET_REDIS, 0));
	fixture_free(f);
}
END_TEST

enum { DECISIONS_N = 32 };

/* Outcomes of DECISIONS_N INCRs under a coin-flip error rule; returns how
 * many the model applied. */
static long long decisions_run(uint64_t seed, enum outcome out[DECISIONS_N])
{
	struct fixture *f = fixture_new(seed, 4);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_REDIS, "incr", FAULT_ERROR);
	r->probability = 0.5;
	struct kv_got g[DECISIONS_N];
	for (int i = 0; i < DECISIONS_N; i++)
		kv_issue(f, &g[i], CMD("INCR", "k"));
	fixture_run(f);
	for (int i = 0; i < DECISIONS_N; i++)
		out[i] = g[i].c.oc;
	long long applied = model_counter(f, "k");
	fixture_free(f);
	return applied < 0 ? 0 : applied;
}

/* Loop index = seed. The same seed gives the same decisions, and each
 * decision's true effect agrees with what the client saw. */
START_TEST(test_simnet_same_seed_same_decisions)
{
	enum outcome a[DECISIONS_N], b[DECISIONS_N], c[DECISIONS_N];
	long long applied_a = decisions_run((uint64_t)_i, a);
	long long applied_b = decisions_run((uint64_t)_i, b);
	decisions_run((uint64_t)_i + 1000, c);
	ck_assert_mem_eq(a, b, sizeof a);
	ck_assert_int_eq(applied_a, applied_b);
	int ok = 0, lost = 0;
	for (int i = 0; i < DECISIONS_N; i++) {
		ck_assert(a[i] == OUTCOME_OK || a[i] == OUTCOME_CONN_LOST);
		ok += a[i] == OUTCOME_OK;
		lost += a[i] == OUTCOME_CONN_LOST;
	}
	ck_assert_int_eq(applied_a, ok);
	/* A fair coin over 32 draws: both sides show up. */
	ck_assert_int_gt(ok, 0);
	ck_assert_int_gt(lost, 0);
	/* Another seed draws other decisions. */
	ck_assert(memcmp(a, c, sizeof a) != 0);
}
END_TEST

/* ---- Postgres ----------------------------------------------------------- */

START_TEST(test_simnet_pg_commit_makes_rows_visible)
{
	struct fixture *f = fixture_new(1, 4);
	struct sql_conn *c = conn_take(f);
	sql_expect(f, c, SQL_BEGIN, NULL, NULL, OUTCOME_OK);
	sql_expect(f, c, SQL_CUSTOMER_INSERT, "u1", "cus_1", OUTCOME_OK);
	ck_assert_int_eq(model_rows(f, "stripe_customers", NULL), 0);
	sql_expect(f, c, SQL_COMMIT, NULL, NULL, OUTCOME_OK);
	f->env.sql.release(f->env.sql.ctx, c);
	struct rows_seen rows;
	ck_assert_int_eq(model_rows(f, "stripe_customers", &rows), 1);
	ck_assert_str_eq(rows.first[0], "u1");
	fixture_free(f);
}
END_TEST

START_TEST(test_simnet_pg_conn_lost_mid_transaction_rolls_back)
{
	struct fixture *f = fixture_new(1, 4);
	fixture_rule(f, FAULT_TARGET_POSTGRES, "quote_claim", FAULT_CONN_LOST);
	struct sql_conn *c = conn_take(f);
	sql_expect(f, c, SQL_BEGIN, NULL, NULL, OUTCOME_OK);
	sql_expect(f, c, SQL_CUSTOMER_INSERT, "u1", "cus_1", OUTCOME_OK);
	struct sql_got g;
	sql_issue(f, &g, c, SQL_QUOTE_CLAIM, "q1", NULL);
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_CONN_LOST);
	ck_assert(!g.had_result);
	/* The connection is broken: the next statement fails at once. */
	sql_expect(f, c, SQL_COMMIT, NULL, NULL, OUTCOME_CONN_LOST);
	f->env.sql.release(f->env.sql.ctx, c);
	ck_assert_int_eq(model_rows(f, "stripe_customers", NULL), 0);
	ck_assert_int_eq(model_rows(f, "quote_emails", NULL), 0);
	/* The pool serves a fresh connection afterwards. */
	struct sql_conn *c2 = conn_take(f);
	sql_expect(f, c2, SQL_CUSTOMER_SELECT, "u1", NULL, OUTCOME_OK);
	f->env.sql.release(f->env.sql.ctx, c2);
	fixture_free(f);
}
END_TEST

/* _i = 1: the COMMIT made it before the connection died; 0: it did not.
 * The client cannot tell: CONN_LOST either way. */
START_TEST(test_simnet_pg_conn_lost_on_commit_commits_iff_commit_applied)
{
	struct fixture *f = fixture_new(1, 4);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_POSTGRES, "commit", FAULT_CONN_LOST);
	r->commit_applied_p = _i == 1 ? 1.0 : 0.0;
	struct sql_conn *c = conn_take(f);
	sql_expect(f, c, SQL_BEGIN, NULL, NULL, OUTCOME_OK);
	sql_expect(f, c, SQL_CUSTOMER_INSERT, "u1", "cus_1", OUTCOME_OK);
	sql_expect(f, c, SQL_COMMIT, NULL, NULL, OUTCOME_CONN_LOST);
	f->env.sql.release(f->env.sql.ctx, c);
	ck_assert_int_eq(model_rows(f, "stripe_customers", NULL), _i == 1 ? 1 : 0);
	fixture_free(f);
}
END_TEST

/* A statement outside a transaction commits on its own: _i = 1, it ran
 * before the connection died; 0, it did not. CONN_LOST either way. */
START_TEST(test_simnet_pg_conn_lost_on_autocommit_statement_applies_iff_commit_applied)
{
	struct fixture *f = fixture_new(1, 4);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_POSTGRES, "customer_insert",
	                                    FAULT_CONN_LOST);
	r->commit_applied_p = _i == 1 ? 1.0 : 0.0;
	struct sql_conn *c = conn_take(f);
	sql_expect(f, c, SQL_CUSTOMER_INSERT, "u1", "cus_1", OUTCOME_CONN_LOST);
	f->env.sql.release(f->env.sql.ctx, c);
	ck_assert_int_eq(model_rows(f, "stripe_customers", NULL), _i == 1 ? 1 : 0);
	fixture_free(f);
}
END_TEST

START_TEST(test_simnet_pg_server_error_aborts_transaction_25P02_then_commit_rolls_back)
{
	struct fixture *f = fixture_new(1, 4);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_POSTGRES, "quote_claim",
	                                    FAULT_SERVER_ERROR);
	snprintf(r->error, sizeof r->error, "40001");
	struct sql_conn *c = conn_take(f);
	sql_expect(f, c, SQL_BEGIN, NULL, NULL, OUTCOME_OK);
	sql_expect(f, c, SQL_CUSTOMER_INSERT, "u1", "cus_1", OUTCOME_OK);
	struct sql_got g;
	sql_issue(f, &g, c, SQL_QUOTE_CLAIM, "q1", NULL);
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_ERROR);
	ck_assert_str_eq(g.sqlstate, "40001");
	sql_issue(f, &g, c, SQL_CUSTOMER_SELECT, "u1", NULL);
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_ERROR);
	ck_assert_str_eq(g.sqlstate, "25P02");
	/* COMMIT of an aborted transaction succeeds as a ROLLBACK. */
	sql_issue(f, &g, c, SQL_COMMIT, NULL, NULL);
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_OK);
	ck_assert_str_eq(g.sqlstate, "00000");
	ck_assert_int_eq(model_rows(f, "stripe_customers", NULL), 0);
	ck_assert_int_eq(model_rows(f, "quote_emails", NULL), 0);
	/* The session is usable again, outside a transaction. */
	sql_expect(f, c, SQL_CUSTOMER_INSERT, "u2", "cus_2", OUTCOME_OK);
	f->env.sql.release(f->env.sql.ctx, c);
	ck_assert_int_eq(model_rows(f, "stripe_customers", NULL), 1);
	fixture_free(f);
}
END_TEST

/* Outside a transaction an injected SQLSTATE fails only that statement. */
START_TEST(test_simnet_pg_server_error_in_autocommit_fails_only_that_statement)
{
	struct fixture *f = fixture_new(1, 4);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_POSTGRES, "customer_insert",
	                                    FAULT_SERVER_ERROR);
	r->max_fires = 1;
	snprintf(r->error, sizeof r->error, "40P01");
	struct sql_conn *c = conn_take(f);
	struct sql_got g;
	sql_issue(f, &g, c, SQL_CUSTOMER_INSERT, "u1", "cus_1");
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_ERROR);
	ck_assert_str_eq(g.sqlstate, "40P01");
	ck_assert_int_eq(model_rows(f, "stripe_customers", NULL), 0);
	sql_expect(f, c, SQL_CUSTOMER_INSERT, "u1", "cus_1", OUTCOME_OK);
	f->env.sql.release(f->env.sql.ctx, c);
	ck_assert_int_eq(model_rows(f, "stripe_customers", NULL), 1);
	fixture_free(f);
}
END_TEST

START_TEST(test_simnet_pg_timeout_applied_commit_is_committed)
{
	struct fixture *f = fixture_new(1, 4);
	fixture_rule(f, FAULT_TARGET_POSTGRES, "commit", FAULT_TIMEOUT_APPLIED);
	struct sql_conn *c = conn_take(f);
	sql_expect(f, c, SQL_BEGIN, NULL, NULL, OUTCOME_OK);
	sql_expect(f, c, SQL_QUOTE_CLAIM, "q1", NULL, OUTCOME_OK);
	struct sql_got g;
	sql_issue(f, &g, c, SQL_COMMIT, NULL, NULL);
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_TIMEOUT);
	ck_assert(!g.had_result);
	f->env.sql.release(f->env.sql.ctx, c);
	ck_assert_int_eq(model_rows(f, "quote_emails", NULL), 1);
	fixture_free(f);
}
END_TEST

START_TEST(test_simnet_pg_timeout_not_applied_insert_is_absent)
{
	struct fixture *f = fixture_new(1, 4);
	fixture_rule(f, FAULT_TARGET_POSTGRES, "quote_claim", FAULT_TIMEOUT_NOT_APPLIED);
	struct sql_conn *c = conn_take(f);
	sql_expect(f, c, SQL_QUOTE_CLAIM, "q1", NULL, OUTCOME_TIMEOUT);
	f->env.sql.release(f->env.sql.ctx, c);
	ck_assert_int_eq(model_rows(f, "quote_emails", NULL), 0);
	fixture_free(f);
}
END_TEST

/* _i = 0: the stalled autocommit claim is not applied; 1: it is (and so
 * committed, though the client timed out). */
START_TEST(test_simnet_pg_stall_commits_autocommit_insert_only_when_applied)
{
	struct fixture *f = fixture_new(1, 4);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_POSTGRES, "quote_claim", FAULT_STALL);
	r->stall_applied = _i == 1;
	struct sql_conn *c = conn_take(f);
	uint64_t t0 = now_us(f);
	struct sql_got g;
	sql_issue(f, &g, c, SQL_QUOTE_CLAIM, "q1", NULL);
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_TIMEOUT);
	ck_assert_uint_eq(g.c.at_us, t0 + TIMEOUT_US);
	f->env.sql.release(f->env.sql.ctx, c);
	ck_assert_int_eq(model_rows(f, "quote_emails", NULL), _i == 1 ? 1 : 0);
	fixture_free(f);
}
END_TEST

START_TEST(test_simnet_pg_error_fails_statement_before_server)
{
	struct fixture *f = fixture_new(1, 4);
	fixture_rule(f, FAULT_TARGET_POSTGRES, "customer_insert", FAULT_ERROR);
	struct sql_conn *c = conn_take(f);
	struct sql_got g;
	sql_issue(f, &g, c, SQL_CUSTOMER_INSERT, "u1", "cus_1");
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_CONN_LOST);
	ck_assert(!g.had_result);
	f->env.sql.release(f->env.sql.ctx, c);
	ck_assert_int_eq(model_rows(f, "stripe_customers", NULL), 0);
	fixture_free(f);
}
END_TEST

START_TEST(test_simnet_pg_pool_exhausted_fault_is_53300)
{
	struct fixture *f = fixture_new(1, 4);
	fixture_rule(f, FAULT_TARGET_POSTGRES, "acquire", FAULT_POOL_EXHAUSTED);
	struct conn_got g;
	acquire_issue(f, &g);
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_ERROR);
	ck_assert_ptr_null(g.conn);
	ck_assert_str_eq(g.sqlstate, SQLSTATE_TOO_MANY_CONNECTIONS);
	fixture_free(f);
}
END_TEST

struct release_at {
	struct fixture *f;
	struct sql_conn *conn;
};

static void release_at_fire(void *arg)
{
	struct release_at *r = arg;
	r->f->env.sql.release(r->f->env.sql.ctx, r->conn);
}

START_TEST(test_simnet_pg_pool_of_one_second_acquire_waits_for_release)
{
	struct fixture *f = fixture_new(1, 1);
	struct sql_conn *held = conn_take(f);
	uint64_t t0 = now_us(f);
	struct conn_got second;
	acquire_issue(f, &second);
	/* The only connection comes back 30 ms later. */
	struct release_at rel = {.f = f, .conn = held};
	sched_after(f->s, 30 * MS, release_at_fire, &rel);
	sched_run(f->s, t0 + 29 * MS);
	ck_assert_int_eq(second.c.calls, 0);
	ck_assert_uint_eq(simnet_stats(f->net)->pool_waits, 1);
	fixture_run(f);
	ck_assert_int_eq(second.c.calls, 1);
	ck_assert_int_eq(second.c.oc, OUTCOME_OK);
	ck_assert_ptr_eq(second.conn, held);
	ck_assert_uint_eq(second.c.at_us, t0 + 30 * MS);
	f->env.sql.release(f->env.sql.ctx, second.conn);
	fixture_free(f);
}
END_TEST

/* No release comes: the waiter fails at its deadline as a pool does, with
 * 53300 (what pg_live answers when its acquire timeout passes). */
START_TEST(test_simnet_pg_pool_of_one_waiter_fails_53300_at_deadline)
{
	struct fixture *f = fixture_new(1, 1);
	struct conn_got first, second;
	acquire_issue(f, &first);
	acquire_issue(f, &second);
	fixture_run(f);
	ck_assert_int_eq(first.c.oc, OUTCOME_OK);
	ck_assert_int_eq(second.c.calls, 1);
	ck_assert_int_eq(second.c.oc, OUTCOME_ERROR);
	ck_assert_str_eq(second.sqlstate, SQLSTATE_TOO_MANY_CONNECTIONS);
	ck_assert_ptr_null(second.conn);
	ck_assert_uint_eq(second.c.at_us, TIMEOUT_US);
	/* The expired waiter does not take the connection released later. */
	f->env.sql.release(f->env.sql.ctx, first.conn);
	struct sql_conn *c = conn_take(f);
	ck_assert_ptr_eq(c, first.conn);
	f->env.sql.release(f->env.sql.ctx, c);
	fixture_free(f);
}
END_TEST

/* An acquire answered late (latency past its deadline) must not keep the
 * connection it was granted: the client never saw it, so it never gives
 * it back. */
START_TEST(test_simnet_pg_acquire_timed_out_by_latency_returns_its_connection)
{
	struct fixture *f = fixture_new(1, 1);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_POSTGRES, "acquire", FAULT_LATENCY);
	r->latency_us = 150 * MS;
	r->max_fires = 1;
	struct conn_got slow;
	acquire_issue(f, &slow);
	fixture_run(f);
	ck_assert_int_eq(slow.c.oc, OUTCOME_TIMEOUT);
	ck_assert_ptr_null(slow.conn);
	ck_assert_uint_eq(simnet_stats(f->net)->late_replies, 1);
	struct conn_got next;
	acquire_issue(f, &next);
	fixture_run(f);
	ck_assert_int_eq(next.c.oc, OUTCOME_OK);
	f->env.sql.release(f->env.sql.ctx, next.conn);
	fixture_free(f);
}
END_TEST

/* Two transactions insert the same key: the second blocks in the model
 * until the first commits, then finds the conflict (23505). */
START_TEST(test_simnet_pg_insert_blocks_until_holder_commits)
{
	struct fixture *f = fixture_new(1, 4);
	struct sql_conn *a = conn_take(f);
	struct sql_conn *b = conn_take(f);
	sql_expect(f, a, SQL_BEGIN, NULL, NULL, OUTCOME_OK);
	sql_expect(f, a, SQL_CUSTOMER_INSERT, "u1", "cus_1", OUTCOME_OK);
	struct sql_got waiter;
	sql_issue(f, &waiter, b, SQL_CUSTOMER_INSERT, "u1", "cus_2");
	sched_run(f->s, now_us(f) + 50 * MS);
	ck_assert_int_eq(waiter.c.calls, 0);
	sql_expect(f, a, SQL_COMMIT, NULL, NULL, OUTCOME_OK);
	fixture_run(f);
	ck_assert_int_eq(waiter.c.oc, OUTCOME_ERROR);
	ck_assert_str_eq(waiter.sqlstate, SQLSTATE_UNIQUE_VIOLATION);
	f->env.sql.release(f->env.sql.ctx, a);
	f->env.sql.release(f->env.sql.ctx, b);
	fixture_free(f);
}
END_TEST

/* A statement blocked past its deadline times out; its connection is
 * dropped, so the open transaction it belonged to rolls back. */
START_TEST(test_simnet_pg_blocked_statement_times_out_and_rolls_back)
{
	struct fixture *f = fixture_new(1, 4);
	struct sql_conn *a = conn_take(f);
	struct sql_conn *b = conn_take(f);
	sql_expect(f, a, SQL_BEGIN, NULL, NULL, OUTCOME_OK);
	sql_expect(f, a, SQL_QUOTE_CLAIM, "q1", NULL, OUTCOME_OK);
	sql_expect(f, b, SQL_BEGIN, NULL, NULL, OUTCOME_OK);
	sql_expect(f, b, SQL_CUSTOMER_INSERT, "u9", "cus_9", OUTCOME_OK);
	struct sql_got waiter;
	sql_issue(f, &waiter, b, SQL_QUOTE_CLAIM, "q1", NULL);
	fixture_run(f);
	ck_assert_int_eq(waiter.c.oc, OUTCOME_TIMEOUT);
	f->env.sql.release(f->env.sql.ctx, b);
	sql_expect(f, a, SQL_COMMIT, NULL, NULL, OUTCOME_OK);
	f->env.sql.release(f->env.sql.ctx, a);
	ck_assert_int_eq(model_rows(f, "quote_emails", NULL), 1);
	ck_assert_int_eq(model_rows(f, "stripe_customers", NULL), 0);
	fixture_free(f);
}
END_TEST

START_TEST(test_simnet_pg_release_mid_transaction_rolls_back)
{
	struct fixture *f = fixture_new(1, 1);
	struct sql_conn *c = conn_take(f);
	sql_expect(f, c, SQL_BEGIN, NULL, NULL, OUTCOME_OK);
	sql_expect(f, c, SQL_QUOTE_CLAIM, "q1", NULL, OUTCOME_OK);
	f->env.sql.release(f->env.sql.ctx, c);
	ck_assert_int_eq(model_rows(f, "quote_emails", NULL), 0);
	struct sql_conn *again = conn_take(f);
	sql_expect(f, again, SQL_QUOTE_CLAIM, "q1", NULL, OUTCOME_OK);
	f->env.sql.release(f->env.sql.ctx, again);
	ck_assert_int_eq(model_rows(f, "quote_emails", NULL), 1);
	fixture_free(f);
}
END_TEST

/* A Postgres restart kills every backend: the open transaction is gone and
 * the connection reports it on its next statement. */
struct pg_restart_ctx {
	struct fixture *f;
	struct sql_conn *c;
	struct sql_got g;
};

static void pg_restart_probe(void *arg)
{
	struct pg_restart_ctx *p = arg;
	sql_issue(p->f, &p->g, p->c, SQL_COMMIT, NULL, NULL);
}

START_TEST(test_simnet_pg_restart_breaks_open_transaction)
{
	struct fixture *f = fixture_new(1, 2);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_POSTGRES, "*", FAULT_RESTART);
	r->from_us = 20 * MS;
	r->duration_us = 10 * MS;
	simnet_schedule_restarts(f->net);
	struct conn_got cg;
	acquire_issue(f, &cg);
	sched_run(f->s, 5 * MS);
	ck_assert_int_eq(cg.c.oc, OUTCOME_OK);
	struct sql_got begin, ins;
	sql_issue(f, &begin, cg.conn, SQL_BEGIN, NULL, NULL);
	sched_run(f->s, 10 * MS);
	ck_assert_int_eq(begin.c.oc, OUTCOME_OK);
	sql_issue(f, &ins, cg.conn, SQL_QUOTE_CLAIM, "q1", NULL);
	sched_run(f->s, 15 * MS);
	ck_assert_int_eq(ins.c.oc, OUTCOME_OK);
	/* The server restarts at 20 ms and is back at 30 ms. */
	struct pg_restart_ctx p = {.f = f, .c = cg.conn};
	sched_after(f->s, 40 * MS - now_us(f), pg_restart_probe, &p);
	fixture_run(f);
	ck_assert_int_eq(p.g.c.oc, OUTCOME_CONN_LOST);
	f->env.sql.release(f->env.sql.ctx, cg.conn);
	ck_assert_int_eq(model_rows(f, "quote_emails", NULL), 0);
	struct sql_conn *c = conn_take(f);
	sql_expect(f, c, SQL_QUOTE_CLAIM, "q1", NULL, OUTCOME_OK);
	f->env.sql.release(f->env.sql.ctx, c);
	ck_assert_int_eq(model_rows(f, "quote_emails", NULL), 1);
	fixture_free(f);
}
END_TEST

/* A statement waiting on a lock when the server restarts hears of it at
 * once (its backend is gone), not at its deadline. _i = 0: the holder has
 * the first pool slot (the restart wakes the waiter before killing it);
 * 1: the waiter has it. */
START_TEST(test_simnet_pg_restart_fails_blocked_statement_at_once)
{
	struct fixture *f = fixture_new(1, 2);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_POSTGRES, "*", FAULT_RESTART);
	r->from_us = 30 * MS;
	r->duration_us = 10 * MS;
	simnet_schedule_restarts(f->net);
	struct conn_got ca, cb;
	acquire_issue(f, _i == 0 ? &ca : &cb);
	sched_run(f->s, 0);
	acquire_issue(f, _i == 0 ? &cb : &ca);
	sched_run(f->s, 1 * MS);
	ck_assert_int_eq(ca.c.oc, OUTCOME_OK);
	ck_assert_int_eq(cb.c.oc, OUTCOME_OK);
	struct sql_got begin, hold, waiter;
	sql_issue(f, &begin, ca.conn, SQL_BEGIN, NULL, NULL);
	sched_run(f->s, 5 * MS);
	sql_issue(f, &hold, ca.conn, SQL_QUOTE_CLAIM, "q1", NULL);
	sched_run(f->s, 10 * MS);
	ck_assert_int_eq(hold.c.oc, OUTCOME_OK);
	sql_issue(f, &waiter, cb.conn, SQL_QUOTE_CLAIM, "q1", NULL);
	sched_run(f->s, 29 * MS);
	ck_assert_int_eq(waiter.c.calls, 0);
	fixture_run(f);
	ck_assert_int_eq(waiter.c.oc, OUTCOME_CONN_LOST);
	ck_assert_uint_eq(waiter.c.at_us, 30 * MS + LEG_US);
	f->env.sql.release(f->env.sql.ctx, ca.conn);
	f->env.sql.release(f->env.sql.ctx, cb.conn);
	ck_assert_int_eq(model_rows(f, "quote_emails", NULL), 0);
	fixture_free(f);
}
END_TEST

/* ---- Stripe and mail ---------------------------------------------------- */

/* A 500 is Stripe's own answer: saved under the key and replayed. */
START_TEST(test_simnet_stripe_500_is_saved_under_idempotency_key)
{
	struct fixture *f = fixture_new(1, 4);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_STRIPE, "customers.create",
	                                    FAULT_SERVER_ERROR);
	r->status = 500;
	r->max_fires = 1;
	struct stripe_got g1, g2;
	stripe_issue(f, &g1, "u1", "customer-u1");
	fixture_run(f);
	ck_assert_int_eq(g1.c.oc, OUTCOME_ERROR);
	ck_assert_int_eq(g1.status, 500);
	ck_assert_str_eq(g1.error_type, "api_error");
	stripe_issue(f, &g2, "u1", "customer-u1");
	fixture_run(f);
	ck_assert_int_eq(g2.c.oc, OUTCOME_ERROR);
	ck_assert_int_eq(g2.status, 500);
	ck_assert(g2.replay);
	ck_assert_uint_eq(stripe_model_customer_count(f->stripe), 0);
	fixture_free(f);
}
END_TEST

/* A 429 is refused before the API runs: nothing saved, the retry creates. */
START_TEST(test_simnet_stripe_429_is_not_saved_retry_creates)
{
	struct fixture *f = fixture_new(1, 4);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_STRIPE, "customers.create",
	                                    FAULT_SERVER_ERROR);
	r->status = 429;
	r->max_fires = 1;
	struct stripe_got g1, g2;
	stripe_issue(f, &g1, "u1", "customer-u1");
	fixture_run(f);
	ck_assert_int_eq(g1.c.oc, OUTCOME_ERROR);
	ck_assert_int_eq(g1.status, 429);
	ck_assert_str_eq(g1.error_type, "rate_limit_error");
	ck_assert_uint_eq(stripe_model_customer_count(f->stripe), 0);
	stripe_issue(f, &g2, "u1", "customer-u1");
	fixture_run(f);
	ck_assert_int_eq(g2.c.oc, OUTCOME_OK);
	ck_assert_int_eq(g2.status, 200);
	ck_assert(!g2.replay);
	ck_assert_uint_eq(strlen(g2.customer_id), STRIPE_MODEL_CUSTOMER_ID_LEN);
	ck_assert_uint_eq(stripe_model_customer_count(f->stripe), 1);
	fixture_free(f);
}
END_TEST

/* The customer exists although the client timed out; the retry with the
 * same key gets the same customer back. */
START_TEST(test_simnet_stripe_timeout_applied_creates_customer)
{
	struct fixture *f = fixture_new(1, 4);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_STRIPE, "customers.create",
	                                    FAULT_TIMEOUT_APPLIED);
	r->max_fires = 1;
	struct stripe_got g1, g2;
	stripe_issue(f, &g1, "u1", "customer-u1");
	fixture_run(f);
	ck_assert_int_eq(g1.c.oc, OUTCOME_TIMEOUT);
	ck_assert(!g1.had_reply);
	ck_assert_uint_eq(stripe_model_customer_count(f->stripe), 1);
	stripe_issue(f, &g2, "u1", "customer-u1");
	fixture_run(f);
	ck_assert_int_eq(g2.c.oc, OUTCOME_OK);
	ck_assert(g2.replay);
	ck_assert_uint_eq(stripe_model_customer_count(f->stripe), 1);
	fixture_free(f);
}
END_TEST

static void find_issue(struct fixture *f, struct stripe_got *g, const char *user)
{
	memset(g, 0, sizeof *g);
	g->c.f = f;
	f->env.stripe.customer_find(f->env.stripe.ctx, user, on_stripe, g);
	call_issued(f, &g->c);
}

static void on_nothing(void *arg)
{
	(void)arg;
}

/* customers.search: a server-error is answered in its place, nothing is
 * created; a customer shows up once the search lag has passed. */
START_TEST(test_simnet_stripe_search_faults_and_lag)
{
	struct fixture *f = fixture_new(1, 4);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_STRIPE, "customers.search",
	                                    FAULT_SERVER_ERROR);
	r->status = 503;
	r->max_fires = 1;
	struct stripe_got g, c;
	find_issue(f, &g, "u1");
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_ERROR);
	ck_assert_int_eq(g.status, 503);
	ck_assert_str_eq(g.error_type, "api_error");
	stripe_issue(f, &c, "u1", "customer-u1");
	fixture_run(f);
	ck_assert_int_eq(c.c.oc, OUTCOME_OK);
	find_issue(f, &g, "u1");
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_OK);
	ck_assert_int_eq(g.status, 200);
	ck_assert_str_eq(g.customer_id, ""); /* not searchable yet */
	sched_after(f->s, STRIPE_MODEL_SEARCH_LAG_US, on_nothing, NULL);
	fixture_run(f);
	find_issue(f, &g, "u1");
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_OK);
	ck_assert_str_eq(g.customer_id, c.customer_id);
	ck_assert_uint_eq(stripe_model_customer_count(f->stripe), 1);
	fixture_free(f);
}
END_TEST

START_TEST(test_simnet_stripe_error_creates_nothing)
{
	struct fixture *f = fixture_new(1, 4);
	fixture_rule(f, FAULT_TARGET_STRIPE, "customers.create", FAULT_ERROR);
	struct stripe_got g;
	stripe_issue(f, &g, "u1", NULL);
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_CONN_LOST);
	ck_assert_uint_eq(stripe_model_customer_count(f->stripe), 0);
	ck_assert_uint_eq(stripe_model_pending_count(f->stripe), 0);
	fixture_free(f);
}
END_TEST

START_TEST(test_simnet_mail_timeout_applied_outbox_holds_message)
{
	struct fixture *f = fixture_new(1, 4);
	fixture_rule(f, FAULT_TARGET_MAIL, "send", FAULT_TIMEOUT_APPLIED);
	struct mail_got g;
	mail_issue(f, &g);
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_TIMEOUT);
	ck_assert_int_eq(g.smtp_code, 0);
	ck_assert_uint_eq(mail_model_count(f->mail), 1);
	const struct mail_message *m = mail_model_get(f->mail, 0);
	ck_assert_str_eq(m->to, "a@example.com");
	ck_assert_uint_eq(m->len, sizeof MAIL_DATA - 1);
	ck_assert_mem_eq(m->data, MAIL_DATA, m->len);
	fixture_free(f);
}
END_TEST

START_TEST(test_simnet_mail_server_error_carries_status_and_sends_nothing)
{
	struct fixture *f = fixture_new(1, 4);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_MAIL, "send", FAULT_SERVER_ERROR);
	r->status = 421;
	struct mail_got g;
	mail_issue(f, &g);
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_ERROR);
	ck_assert_int_eq(g.smtp_code, 421);
	ck_assert_uint_eq(mail_model_count(f->mail), 0);
	fixture_free(f);
}
END_TEST

START_TEST(test_simnet_mail_ok_is_250_and_stored)
{
	struct fixture *f = fixture_new(1, 4);
	struct mail_got g;
	mail_issue(f, &g);
	fixture_run(f);
	ck_assert_int_eq(g.c.oc, OUTCOME_OK);
	ck_assert_int_eq(g.smtp_code, 250);
	ck_assert_uint_eq(g.c.at_us, LATENCY_US);
	ck_assert_uint_eq(mail_model_count(f->mail), 1);
	fixture_free(f);
}
END_TEST

/* ---- shutdown ----------------------------------------------------------- */

/* Everything waiting is answered CONN_LOST inside simnet_shutdown, once;
 * later calls fail at once (on the loop, never inside the call); nothing
 * is left in flight or on the heap (the suite runs under ASan). */
START_TEST(test_simnet_shutdown_answers_everything_pending_once)
{
	struct fixture *f = fixture_new(1, 2);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_REDIS, "get", FAULT_STALL);
	r = fixture_rule(f, FAULT_TARGET_STRIPE, "customers.create", FAULT_STALL);
	r->stall_applied = true;
	fixture_rule(f, FAULT_TARGET_MAIL, "send", FAULT_STALL);
	struct sql_conn *a = conn_take(f);
	struct sql_conn *b = conn_take(f);
	sql_expect(f, a, SQL_BEGIN, NULL, NULL, OUTCOME_OK);
	sql_expect(f, a, SQL_QUOTE_CLAIM, "q1", NULL, OUTCOME_OK);

	struct kv_got kv;
	struct stripe_got st;
	struct mail_got ml;
	struct sql_got blocked;
	struct conn_got waiter;
	kv_issue(f, &kv, CMD("GET", "k"));
	stripe_issue(f, &st, "u1", "customer-u1");
	mail_issue(f, &ml);
	sql_issue(f, &blocked, b, SQL_QUOTE_CLAIM, "q1", NULL);
	acquire_issue(f, &waiter);
	sched_run(f->s, now_us(f) + 10 * MS);
	ck_assert_uint_eq(simnet_inflight(f->net), 5);

	simnet_shutdown(f->net);
	ck_assert_uint_eq(simnet_inflight(f->net), 0);
	ck_assert_int_eq(kv.c.oc, OUTCOME_CONN_LOST);
	ck_assert_int_eq(st.c.oc, OUTCOME_CONN_LOST);
	ck_assert_int_eq(ml.c.oc, OUTCOME_CONN_LOST);
	ck_assert_int_eq(blocked.c.oc, OUTCOME_CONN_LOST);
	ck_assert_int_eq(waiter.c.oc, OUTCOME_CONN_LOST);

	struct kv_got after;
	kv_issue(f, &after, CMD("INCR", "k"));
	ck_assert_int_eq(after.c.calls, 0);
	f->env.sql.release(f->env.sql.ctx, a);
	f->env.sql.release(f->env.sql.ctx, b);
	fixture_run(f);
	ck_assert_int_eq(after.c.oc, OUTCOME_CONN_LOST);
	/* Every callback ran once (call_answer asserts no second one). */
	ck_assert_int_eq(f->answered, f->issued);
	ck_assert_int_eq(model_counter(f, "k"), -1);
	/* The open transaction died with its connection. */
	ck_assert_int_eq(model_rows(f, "quote_emails", NULL), 0);
	fixture_free(f);
}
END_TEST

/* A restart scheduled beyond the end of the run must not leak. */
START_TEST(test_simnet_restart_scheduled_after_run_end_does_not_leak)
{
	struct fixture *f = fixture_new(1, 4);
	struct fault_rule *r = fixture_rule(f, FAULT_TARGET_REDIS, "*", FAULT_RESTART);
	r->from_us = 3600ULL * 1000 * MS;
	r->duration_us = MS;
	simnet_schedule_restarts(f->net);
	struct kv_got g;
	kv_issue(f, &g, CMD("INCR", "k"));
	sched_run(f->s, 10 * MS);
	ck_assert_int_eq(g.c.oc, OUTCOME_OK);
	/* End the run early, as a world does at its duration: the pending
	 * restart is dropped with the scheduler. */
	simnet_shutdown(f->net);
	simnet_destroy(f->net);
	f->net = NULL;
	ck_assert_int_eq(f->answered, f->issued);
	redis_model_destroy(f->redis);
	pg_model_destroy(f->pg);
	stripe_model_destroy(f->stripe);
	mail_model_destroy(f->mail);
	sched_destroy(f->s);
	event_base_free(f->base);
	free(f->sc);
	free(f);
}
END_TEST

Suite *check_simnet_suite(void);
Suite *check_simnet_suite(void)
{
	Suite *s = suite_create("simnet");

	TCase *redis = tcase_create("redis");
	tcase_add_test(redis, test_simnet_redis_incr_answers_after_one_round_trip);
	tcase_add_test(redis, test_simnet_redis_timeout_applied_increments_but_client_times_out);
	tcase_add_test(redis, test_simnet_redis_timeout_not_applied_leaves_counter_untouched);
	tcase_add_test(redis, test_simnet_redis_error_is_conn_lost_and_not_applied);
	tcase_add_loop_test(redis, test_simnet_redis_refused_kinds_are_conn_lost_and_not_applied,
	                    0, 2);
	tcase_add_test(redis, test_simnet_redis_server_error_carries_rule_message_not_applied);
	tcase_add_test(redis, test_simnet_redis_server_error_without_message_says_err_injected);
	tcase_add_test(redis, test_simnet_redis_latency_delays_answer_by_drawn_amount_and_applies);
	tcase_add_loop_test(redis, test_simnet_redis_stall_times_out_applied_only_when_stall_applied,
	                    0, 2);
	tcase_add_test(redis, test_simnet_redis_rule_on_pexpire_fails_whole_transaction);
	tcase_add_test(redis, test_simnet_redis_rule_on_pexpire_timeout_applies_whole_transaction);
	tcase_add_test(redis, test_simnet_redis_transaction_answers_exec_array);
	tcase_add_test(redis, test_simnet_redis_rule_hits_only_its_command);
	tcase_add_test(redis, test_simnet_redis_clock_is_unix_time);
	tcase_add_loop_test(redis,
	                    test_simnet_redis_restart_refuses_during_window_and_loses_keys_unless_persistent,
	                    0, 2);
	suite_add_tcase(s, redis);

	TCase *pg = tcase_create("postgres");
	tcase_add_test(pg, test_simnet_pg_commit_makes_rows_visible);
	tcase_add_test(pg, test_simnet_pg_conn_lost_mid_transaction_rolls_back);
	tcase_add_loop_test(pg, test_simnet_pg_conn_lost_on_commit_commits_iff_commit_applied, 0, 2);
	tcase_add_loop_test(pg, test_simnet_pg_conn_lost_on_autocommit_statement_applies_iff_commit_applied,
	                    0, 2);
	tcase_add_test(pg, test_simnet_pg_server_error_aborts_transaction_25P02_then_commit_rolls_back);
	tcase_add_test(pg, test_simnet_pg_server_error_in_autocommit_fails_only_that_statement);
	tcase_add_test(pg, test_simnet_pg_timeout_applied_commit_is_committed);
	tcase_add_test(pg, test_simnet_pg_timeout_not_applied_insert_is_absent);
	tcase_add_loop_test(pg, test_simnet_pg_stall_commits_autocommit_insert_only_when_applied, 0, 2);
	tcase_add_test(pg, test_simnet_pg_error_fails_statement_before_server);
	tcase_add_test(pg, test_simnet_pg_pool_exhausted_fault_is_53300);
	tcase_add_test(pg, test_simnet_pg_pool_of_one_second_acquire_waits_for_release);
	tcase_add_test(pg, test_simnet_pg_pool_of_one_waiter_fails_53300_at_deadline);
	tcase_add_test(pg, test_simnet_pg_acquire_timed_out_by_latency_returns_its_connection);
	tcase_add_test(pg, test_simnet_pg_insert_blocks_until_holder_commits);
	tcase_add_test(pg, test_simnet_pg_blocked_statement_times_out_and_rolls_back);
	tcase_add_test(pg, test_simnet_pg_release_mid_transaction_rolls_back);
	tcase_add_test(pg, test_simnet_pg_restart_breaks_open_transaction);
	tcase_add_loop_test(pg, test_simnet_pg_restart_fails_blocked_statement_at_once, 0, 2);
	suite_add_tcase(s, pg);

	TCase *other = tcase_create("stripe_mail");
	tcase_add_test(other, test_simnet_stripe_500_is_saved_under_idempotency_key);
	tcase_add_test(other, test_simnet_stripe_429_is_not_saved_retry_creates);
	tcase_add_test(other, test_simnet_stripe_timeout_applied_creates_customer);
	tcase_add_test(other, test_simnet_stripe_error_creates_nothing);
	tcase_add_test(other, test_simnet_stripe_search_faults_and_lag);
	tcase_add_test(other, test_simnet_mail_timeout_applied_outbox_holds_message);
	tcase_add_test(other, test_simnet_mail_server_error_carries_status_and_sends_nothing);
	tcase_add_test(other, test_simnet_mail_ok_is_250_and_stored);
	suite_add_tcase(s, other);

	TCase *contract = tcase_create("contract");
	tcase_add_test(contract, test_simnet_late_reply_counted_and_never_delivered);
	tcase_add_test(contract, test_simnet_probability_zero_never_fires);
	tcase_add_loop_test(contract, test_simnet_same_seed_same_decisions, 1, 9);
	tcase_add_test(contract, test_simnet_shutdown_answers_everything_pending_once);
	tcase_add_test(contract, test_simnet_restart_scheduled_after_run_end_does_not_leak);
	suite_add_tcase(s, contract);
	return s;
}
