/* tests/check_world_live.c - live mode: how a scenario is scaled and its
 * faults sorted (live/live_plan.c), server addresses, mail headers as
 * received, and whole seeds on the live backend (live/world_live.c). The last
 * group needs FAULTLINE_REDIS_URL and FAULTLINE_PG_URL (tests/live_run_test.sh
 * starts servers); without them it is left out and says so in one line. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "live/live_plan.h"
#include "sim/sched.h"
#include "harness/scenario_load.h"
#include "harness/world.h"
#include "live/world_live.h"

#define HEADERS_MAX 8

static struct scenario *load(const char *yaml)
{
	struct scenario *sc = NULL;
	struct scenario_error se;
	enum result rc = scenario_load_buffer("test.yaml", yaml, strlen(yaml), &sc, &se);
	ck_assert_msg(rc == RESULT_OK, "scenario: %d:%d: %s", se.line, se.column, se.message);
	return sc;
}

/* ---- scaling ------------------------------------------------------------------- */

START_TEST(test_live_plan_scales_durations_and_keeps_floors)
{
	struct scenario *sc = load(
	    "fixes: [ratelimit, request-dedup, webhook]\n"
	    "duration: 10m\n"
	    "workload:\n"
	    "  ratelimit: {users: 1, requests_per_user: 3, spread: 10s, window: 60s}\n"
	    "  request-dedup: {requests: 2, spread: 5s, duplicate_delay: 1s, ttl: 10s}\n"
	    "  webhook: {events: 1, copies: 1, spread: 2s, retries: [1m, 5m, 30m]}\n");
	struct live_plan *lp = live_plan_create(sc, 0.02);
	ck_assert_ptr_nonnull(lp);
	const struct scenario *s = &lp->scaled;
	ck_assert_uint_eq(s->duration_us, 12000000);
	ck_assert_uint_eq(s->ratelimit.spread_us, 200000);
	ck_assert_uint_eq(s->ratelimit.window_us, 1000000);   /* 1.2 s, whole seconds */
	ck_assert_uint_eq(s->dedup.spread_us, 100000);
	ck_assert_uint_eq(s->dedup.duplicate_delay_us, 20000);
	ck_assert_uint_eq(s->dedup.ttl_us, LIVE_PLAN_WINDOW_MIN_US); /* 200 ms, floored */
	ck_assert_uint_eq(s->webhook.spread_us, 40000);
	ck_assert_uint_eq(s->webhook.retry_us[0], 1200000);
	ck_assert_uint_eq(s->webhook.retry_us[1], LIVE_PLAN_RETRY_MAX_US);
	ck_assert_uint_eq(s->webhook.retry_us[2], LIVE_PLAN_RETRY_MAX_US);
	ck_assert_uint_eq(s->webhook.endpoint_timeout_us, LIVE_PLAN_ENDPOINT_MIN_US);
	/* Latencies and client deadlines stay real. */
	ck_assert_uint_eq(s->redis.timeout_us, sc->redis.timeout_us);
	ck_assert_uint_eq(s->postgres.timeout_us, sc->postgres.timeout_us);
	ck_assert_uint_eq(s->stripe.latency.min_us, sc->stripe.latency.min_us);
	/* The world's own 5 s probe margin, scaled. */
	ck_assert_uint_eq(lp->probe_margin_us, 100000);
	/* The source scenario is untouched. */
	ck_assert_uint_eq(sc->ratelimit.window_us, 60000000);
	live_plan_destroy(lp);
	scenario_destroy(sc);
}
END_TEST

/* customer-earlier-deploy starts its purchases 25 hours in: scaled, that
 * was half an hour of waiting per seed (and customer.start was not scaled
 * at all, so a live run waited the full 25 hours). The lead-in is cut, and
 * fault windows and the duration move with it. */
START_TEST(test_live_plan_cuts_a_long_customer_lead_in)
{
	struct scenario *sc = load(
	    "fixes: [stripe-customer]\n"
	    "duration: 26h\n"
	    "workload:\n"
	    "  stripe-customer: {users: 4, existing: 2, start: 25h, spread: 5s, again: 10s}\n"
	    "faults:\n"
	    "  - {target: postgres, op: customer_select, kind: conn-lost, from: 25h, until: 90010s}\n");
	struct live_plan *lp = live_plan_create(sc, 0.02);
	ck_assert_ptr_nonnull(lp);
	const struct scenario *s = &lp->scaled;
	ck_assert_uint_eq(lp->lead_us, 25ull * 3600 * 1000000);
	ck_assert_uint_eq(lp->lead_live_us, LIVE_PLAN_LEAD_MAX_US);
	ck_assert_uint_eq(s->customer.start_us, LIVE_PLAN_LEAD_MAX_US);
	ck_assert_uint_eq(s->customer.spread_us, 100000);
	ck_assert_uint_eq(s->customer.again_us, 200000);
	ck_assert_uint_eq(s->duration_us, LIVE_PLAN_LEAD_MAX_US + 72000000); /* the last hour */
	ck_assert_uint_eq(lp->nrules, 1);
	ck_assert_uint_eq(lp->rules[0].from_us, LIVE_PLAN_LEAD_MAX_US);
	ck_assert_uint_eq(lp->rules[0].until_us, LIVE_PLAN_LEAD_MAX_US + 200000);
	live_plan_destroy(lp);
	/* A short lead-in is scaled as every other instant. */
	sc->customer.start_us = 60000000;
	lp = live_plan_create(sc, 0.02);
	ck_assert_uint_eq(lp->lead_us, 0);
	ck_assert_uint_eq(lp->scaled.customer.start_us, 1200000);
	live_plan_destroy(lp);
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_live_plan_rl_window_rounds_to_whole_seconds)
{
	ck_assert_uint_eq(live_plan_rl_window_us(60000000, 0.02), 1000000);
	ck_assert_uint_eq(live_plan_rl_window_us(30000000, 0.02), 1000000);
	ck_assert_uint_eq(live_plan_rl_window_us(100000000, 0.02), 2000000);
	ck_assert_uint_eq(live_plan_rl_window_us(90000000, 0.05), 5000000);  /* 4.5 s */
	ck_assert_uint_eq(live_plan_rl_window_us(60000000, 1.0), 60000000);
	ck_assert_uint_eq(live_plan_rl_window_us(1000, 0.001), LIVE_PLAN_RL_WINDOW_MIN_US);
	ck_assert_uint_eq(live_plan_scale_us(0, 0.02, 0), 0);
	ck_assert_uint_eq(live_plan_scale_us(3, 0.5, 0), 2); /* rounded, not cut */
}
END_TEST

/* ---- fault rules ---------------------------------------------------------------- */

START_TEST(test_live_plan_redis_error_nth_becomes_close_toxic)
{
	struct scenario *sc = load(
	    "fixes: [ratelimit]\n"
	    "faults:\n"
	    "  - {target: redis, op: expire, kind: error, nth: 1}\n");
	struct live_plan *lp = live_plan_create(sc, 0.02);
	const struct live_rule *r = &lp->rules[0];
	ck_assert_uint_eq(lp->nrules, 1);
	ck_assert_int_eq(r->how, LIVE_RULE_PROXY);
	ck_assert_int_eq(r->toxic.type, TOXIC_REDIS_COMMAND);
	ck_assert_str_eq(r->toxic.command.command, "expire");
	ck_assert_uint_eq(r->toxic.command.nth, 1);
	ck_assert_int_eq(r->toxic.command.action, TOXIC_ACTION_CLOSE);
	ck_assert_double_eq(r->toxic.toxicity, 1.0);
	ck_assert_str_eq(r->toxic.name, "rule0");
	ck_assert(!r->stalls);
	ck_assert_uint_eq(r->from_us, 0);
	ck_assert_uint_eq(r->until_us, UINT64_MAX);
	/* Only wrapper rules stay in the run's own plan. */
	ck_assert_uint_eq(lp->scaled.faults.nrules, 0);
	ck_assert(!live_plan_nothing_applies(lp));
	live_plan_destroy(lp);
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_live_plan_server_error_carries_message_and_sqlstate)
{
	struct scenario *sc = load(
	    "fixes: [request-dedup]\n"
	    "faults:\n"
	    "  - {target: redis, op: set, kind: server-error, error: \"LOADING busy\", "
	    "probability: 0.25}\n"
	    "  - {target: postgres, op: customer_insert, kind: server-error, error: \"40001\"}\n");
	struct live_plan *lp = live_plan_create(sc, 0.02);
	const struct live_rule *r0 = &lp->rules[0], *r1 = &lp->rules[1];
	ck_assert_int_eq(r0->how, LIVE_RULE_PROXY);
	ck_assert_int_eq(r0->toxic.command.action, TOXIC_ACTION_ERROR);
	ck_assert_str_eq(r0->toxic.command.message, "LOADING busy");
	ck_assert_double_eq(r0->toxic.toxicity, 0.25);
	ck_assert_int_eq(r1->how, LIVE_RULE_PROXY);
	ck_assert_int_eq(r1->toxic.type, TOXIC_PG_COMMAND);
	ck_assert_str_eq(r1->toxic.command.command, "customer_insert");
	ck_assert_int_eq(r1->toxic.command.action, TOXIC_ACTION_ERROR);
	ck_assert_str_eq(r1->toxic.command.sqlstate, "40001");
	live_plan_destroy(lp);
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_live_plan_timeouts_stall_redis_and_cut_postgres)
{
	struct scenario *sc = load(
	    "fixes: [request-dedup, webhook]\n"
	    "faults:\n"
	    "  - {target: redis, kind: timeout-applied, probability: 0.03}\n"
	    "  - {target: postgres, op: commit, kind: timeout-applied}\n"
	    "  - {target: redis, kind: timeout-not-applied, window: [2s, 5s]}\n");
	struct live_plan *lp = live_plan_create(sc, 0.02);
	const struct live_rule *r = lp->rules;
	ck_assert_int_eq(r[0].toxic.command.action, TOXIC_ACTION_DROP_REPLY);
	ck_assert_int_eq(r[0].toxic.command.then, TOXIC_ACTION_STALL);
	ck_assert(r[0].stalls);
	ck_assert_int_eq(r[1].toxic.command.action, TOXIC_ACTION_DROP_REPLY);
	ck_assert_int_eq(r[1].toxic.command.then, TOXIC_ACTION_CLOSE);
	ck_assert(!r[1].stalls);
	ck_assert_int_eq(r[2].toxic.command.action, TOXIC_ACTION_STALL);
	ck_assert(r[2].stalls);
	ck_assert_uint_eq(r[2].from_us, 40000);
	ck_assert_uint_eq(r[2].until_us, 100000);
	live_plan_destroy(lp);
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_live_plan_latency_on_one_command_is_not_applied)
{
	struct scenario *sc = load(
	    "fixes: [request-dedup]\n"
	    "faults:\n"
	    "  - {target: redis, op: set, kind: latency, latency: 40ms}\n"
	    "  - {target: redis, kind: latency, probability: 0.5, latency: 40ms}\n"
	    "  - {target: redis, kind: latency, latency: {pareto: 1ms, max: 1s}}\n");
	struct live_plan *lp = live_plan_create(sc, 0.02);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(lp->rules[i].how, LIVE_RULE_NOT_APPLIED);
	ck_assert_ptr_nonnull(strstr(lp->rules[0].why, "whole connections"));
	ck_assert_ptr_nonnull(strstr(lp->rules[1].why, "probability 0.5"));
	ck_assert_ptr_nonnull(strstr(lp->rules[2].why, "Pareto"));
	ck_assert_uint_eq(lp->not_applied, 3);
	ck_assert(live_plan_nothing_applies(lp));
	live_plan_destroy(lp);
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_live_plan_latency_on_every_command_is_a_latency_toxic)
{
	struct scenario *sc = load(
	    "fixes: [request-dedup]\n"
	    "faults:\n"
	    "  - {target: postgres, kind: latency, latency: [10ms, 30ms], window: [1s, 2s]}\n");
	struct live_plan *lp = live_plan_create(sc, 0.02);
	const struct live_rule *r = &lp->rules[0];
	ck_assert_int_eq(r->how, LIVE_RULE_PROXY);
	ck_assert_int_eq(r->toxic.type, TOXIC_LATENCY);
	ck_assert_uint_eq(r->toxic.latency.latency_ms, 20);
	ck_assert_uint_eq(r->toxic.latency.jitter_ms, 10);
	ck_assert_uint_eq(r->from_us, 20000);
	ck_assert_uint_eq(r->until_us, 40000);
	live_plan_destroy(lp);
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_live_plan_restart_disables_with_scaled_window)
{
	struct scenario *sc = load(
	    "fixes: [ratelimit]\n"
	    "faults:\n"
	    "  - {target: redis, kind: restart, from: 3s, duration: 2s, persistence: false}\n"
	    "  - {target: postgres, kind: restart, from: 10s, duration: 10s}\n");
	struct live_plan *lp = live_plan_create(sc, 0.02);
	const struct live_rule *r = lp->rules;
	ck_assert_int_eq(r[0].how, LIVE_RULE_RESTART);
	ck_assert_uint_eq(r[0].from_us, 60000);
	ck_assert_uint_eq(r[0].until_us, 60000 + LIVE_PLAN_DOWN_MIN_US); /* 40 ms, floored */
	ck_assert(r[0].flush_keys);
	ck_assert_int_eq(r[1].how, LIVE_RULE_RESTART);
	ck_assert_uint_eq(r[1].from_us, 200000);
	ck_assert_uint_eq(r[1].until_us, 400000);
	ck_assert(!r[1].flush_keys);
	live_plan_destroy(lp);
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_live_plan_stripe_mail_and_acquire_rules_stay_with_wrappers)
{
	struct scenario *sc = load(
	    "fixes: [stripe-customer, quote-email]\n"
	    "workload:\n"
	    "  quote-email: {quotes: [{ref: Q-1, name: Ann, email: a@example.com}]}\n"
	    "faults:\n"
	    "  - {target: stripe, kind: server-error, status: 500, window: [1s, 2s]}\n"
	    "  - {target: redis, kind: error, probability: 0.1}\n"
	    "  - {target: mail, op: send, kind: timeout-applied, nth: 1}\n"
	    "  - {target: postgres, op: acquire, kind: pool-exhausted, probability: 0.5}\n");
	struct live_plan *lp = live_plan_create(sc, 0.02);
	ck_assert_int_eq(lp->rules[0].how, LIVE_RULE_WRAPPER);
	ck_assert_int_eq(lp->rules[1].how, LIVE_RULE_PROXY);
	ck_assert_int_eq(lp->rules[2].how, LIVE_RULE_WRAPPER);
	ck_assert_int_eq(lp->rules[3].how, LIVE_RULE_WRAPPER);
	const struct fault_plan *w = &lp->scaled.faults;
	ck_assert_uint_eq(w->nrules, 3);
	ck_assert_int_eq(w->rules[0].target, FAULT_TARGET_STRIPE);
	ck_assert_uint_eq(w->rules[0].from_us, 20000);
	ck_assert_uint_eq(w->rules[0].until_us, 40000);
	ck_assert_int_eq(w->rules[1].target, FAULT_TARGET_MAIL);
	ck_assert_uint_eq(w->rules[1].nth, 1);
	ck_assert_int_eq(w->rules[2].kind, FAULT_POOL_EXHAUSTED);
	ck_assert_str_eq(w->rules[2].op, "acquire");
	live_plan_destroy(lp);
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_live_plan_refuses_what_the_proxy_cannot_count)
{
	struct scenario *sc = load(
	    "fixes: [webhook]\n"
	    "faults:\n"
	    "  - {target: postgres, op: commit, kind: error, nth: 2, and_after: true}\n"
	    "  - {target: postgres, op: commit, kind: error, max_fires: 2}\n"
	    "  - {target: postgres, op: commit, kind: error, after: postgres.event_insert_new}\n"
	    "  - {target: webhook, kind: error, after: postgres.event_insert_new}\n"
	    "  - {target: webhook, kind: error, nth: 1, max_fires: 1}\n");
	struct live_plan *lp = live_plan_create(sc, 0.02);
	const struct live_rule *r = lp->rules;
	ck_assert_int_eq(r[0].how, LIVE_RULE_NOT_APPLIED);
	ck_assert_ptr_nonnull(strstr(r[0].why, "every later one"));
	ck_assert_int_eq(r[1].how, LIVE_RULE_NOT_APPLIED);
	ck_assert_ptr_nonnull(strstr(r[1].why, "max_fires 2"));
	ck_assert_int_eq(r[2].how, LIVE_RULE_NOT_APPLIED);
	ck_assert_ptr_nonnull(strstr(r[2].why, "postgres.event_insert_new"));
	ck_assert_int_eq(r[3].how, LIVE_RULE_NOT_APPLIED);
	ck_assert_int_eq(r[4].how, LIVE_RULE_WRAPPER);
	ck_assert_uint_eq(lp->not_applied, 4);
	ck_assert(!live_plan_nothing_applies(lp));
	live_plan_destroy(lp);
	scenario_destroy(sc);
}
END_TEST

/* ---- addresses ------------------------------------------------------------------ */

START_TEST(test_world_live_redis_addr_parses_host_and_port)
{
	char host[64], err[128];
	int port = 0;
	ck_assert_int_eq(world_live_redis_addr("redis://127.0.0.1:6380", host, sizeof host, &port,
	                                       err, sizeof err), RESULT_OK);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_int_eq(port, 6380);
	ck_assert_int_eq(world_live_redis_addr("redis://localhost/0", host, sizeof host, &port, err,
	                                       sizeof err), RESULT_OK);
	ck_assert_str_eq(host, "localhost");
	ck_assert_int_eq(port, 6379);
	static const char *const bad[] = {"http://x:1", "redis://", "redis://u:p@h:1",
	                                  "redis://h:99999", "redis://h:1x", "redis://h:"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		ck_assert_int_eq(world_live_redis_addr(bad[i], host, sizeof host, &port, err,
		                                       sizeof err), RESULT_REJECT);
		ck_assert_msg(err[0] != '\0', "no reason for %s", bad[i]);
	}
}
END_TEST

static const char *conn_value(PQconninfoOption *opts, const char *key)
{
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, key) == 0)
			return o->val;
	}
	return NULL;
}

START_TEST(test_world_live_pg_addr_aims_the_string_at_the_proxy)
{
	char host[64], out[512], err[256];
	int port = 0;
	ck_assert_int_eq(world_live_pg_addr("host=127.0.0.1 port=5433 dbname=faultline "
	                                    "password='it\\'s' user=faultline", 40000, host,
	                                    sizeof host, &port, out, sizeof out, err, sizeof err),
	                 RESULT_OK);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_int_eq(port, 5433);
	/* The rewritten string parses back with the same values, aimed at
	 * the proxy. */
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(out, &perr);
	ck_assert_msg(opts != NULL, "%s: %s", out, perr ? perr : "");
	ck_assert_str_eq(conn_value(opts, "host"), "127.0.0.1");
	ck_assert_str_eq(conn_value(opts, "port"), "40000");
	ck_assert_str_eq(conn_value(opts, "dbname"), "faultline");
	ck_assert_str_eq(conn_value(opts, "password"), "it's");
	PQconninfoFree(opts);

	ck_assert_int_eq(world_live_pg_addr("postgresql://u@127.0.0.2:5434/db", 0, host,
	                                    sizeof host, &port, NULL, 0, err, sizeof err),
	                 RESULT_OK);
	ck_assert_str_eq(host, "127.0.0.2");
	ck_assert_int_eq(port, 5434);
	ck_assert_int_eq(world_live_pg_addr("host=/var/run/postgresql dbname=x", 0, host,
	                                    sizeof host, &port, NULL, 0, err, sizeof err),
	                 RESULT_REJECT);
	ck_assert_ptr_nonnull(strstr(err, "TCP"));
	ck_assert_int_eq(world_live_pg_addr("dbname=x", 0, host, sizeof host, &port, NULL, 0, err,
	                                    sizeof err), RESULT_REJECT);
	ck_assert_int_eq(world_live_pg_addr("host=a,b dbname=x", 0, host, sizeof host, &port, NULL,
	                                    0, err, sizeof err), RESULT_REJECT);
	ck_assert_int_eq(world_live_pg_addr("host='unterminated", 0, host, sizeof host, &port,
	                                    NULL, 0, err, sizeof err), RESULT_REJECT);
}
END_TEST

START_TEST(test_world_live_check_names_the_refusing_server)
{
	char err[256];
	ck_assert_int_eq(world_live_check("redis://127.0.0.1:1", "host=127.0.0.1 port=1 dbname=x",
	                                  err, sizeof err), RESULT_ERROR);
	ck_assert_str_eq(err, "redis at 127.0.0.1:1 refused the connection");
	ck_assert_int_eq(world_live_check("redis:/nope", "host=127.0.0.1 port=1 dbname=x", err,
	                                  sizeof err), RESULT_REJECT);
}
END_TEST

/* ---- mail headers as received ------------------------------------------------------- */

struct headers {
	int n;
	char name[HEADERS_MAX][32];
	char value[HEADERS_MAX][96];
};

static void on_header(void *arg, const char *name, const char *value)
{
	struct headers *h = arg;
	ck_assert_int_lt(h->n, HEADERS_MAX);
	snprintf(h->name[h->n], sizeof h->name[0], "%s", name);
	snprintf(h->value[h->n], sizeof h->value[0], "%s", value);
	h->n++;
}

START_TEST(test_world_live_mail_headers_unfold_and_trim)
{
	const char *m = "From: a@example.com\r\nSubject: Your quote\r\n  Q-1\r\n"
	                "To:\t x@example.com \r\n\r\nNot: a header\r\n";
	struct headers h = {0};
	ck_assert(world_live_mail_headers(m, strlen(m), on_header, &h));
	ck_assert_int_eq(h.n, 3);
	ck_assert_str_eq(h.name[0], "From");
	ck_assert_str_eq(h.value[0], "a@example.com");
	ck_assert_str_eq(h.name[1], "Subject");
	ck_assert_str_eq(h.value[1], "Your quote  Q-1");
	ck_assert_str_eq(h.name[2], "To");
	ck_assert_str_eq(h.value[2], "x@example.com");
}
END_TEST

START_TEST(test_world_live_mail_headers_keep_a_bare_lf_in_the_value)
{
	const char *m = "To: Mallory\nX-Injected: yes <m@example.com>\r\n\r\nbody";
	struct headers h = {0};
	ck_assert(world_live_mail_headers(m, strlen(m), on_header, &h));
	ck_assert_int_eq(h.n, 1);
	ck_assert_str_eq(h.name[0], "To");
	ck_assert_ptr_nonnull(strchr(h.value[0], '\n'));
}
END_TEST

START_TEST(test_world_live_mail_headers_refuse_malformed_sections)
{
	static const char *const bad[] = {
		"no colon here\r\n\r\n",
		" continuation of nothing\r\nFrom: a@b.c\r\n\r\n",
		"Bad Name: x\r\n\r\n",
		": empty name\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct headers h = {0};
		ck_assert_msg(!world_live_mail_headers(bad[i], strlen(bad[i]), on_header, &h),
		              "accepted: %s", bad[i]);
		ck_assert_int_eq(h.n, 0);
	}
}
END_TEST

/* ---- whole seeds against real servers ------------------------------------------------- */

struct live_fixture {
	struct event_base *base;
	struct world_live *wl;
	struct scenario *sc;
	struct live_plan *lp;
	struct world_backend be;
};

static void live_open(struct live_fixture *f, const char *yaml, const char *pg_url)
{
	signal(SIGPIPE, SIG_IGN);
	f->base = sched_base_new(SCHED_REAL);
	ck_assert_ptr_nonnull(f->base);
	struct world_live_config cfg = {
		.redis_url = getenv("FAULTLINE_REDIS_URL"),
		.pg_conninfo = pg_url != NULL ? pg_url : getenv("FAULTLINE_PG_URL"),
	};
	char err[256];
	f->wl = world_live_create(f->base, &cfg, err, sizeof err);
	ck_assert_msg(f->wl != NULL, "%s", err);
	if (pg_url == NULL)
		ck_assert_msg(world_live_check_servers(f->wl, err, sizeof err) == RESULT_OK, "%s", err);
	f->sc = load(yaml);
	f->lp = live_plan_create(f->sc, 0.02);
	world_live_set_plan(f->wl, f->lp);
	world_live_backend(f->wl, &f->be);
}

static enum result live_seed(struct live_fixture *f, uint64_t seed, enum variant v,
                             struct world_result *out)
{
	struct world_config cfg = {.sc = &f->lp->scaled, .seed = seed, .backend = &f->be,
	                           .probe_margin_us = f->lp->probe_margin_us};
	for (int i = 0; i < FIX_COUNT; i++)
		cfg.variants[i] = v;
	return world_run(&cfg, out);
}

static void live_close(struct live_fixture *f)
{
	world_live_destroy(f->wl);
	live_plan_destroy(f->lp);
	scenario_destroy(f->sc);
	event_base_free(f->base);
}

static const char WEBHOOK_COPIES[] =
	"fixes: [webhook]\n"
	"duration: 1m\n"
	"workload:\n"
	"  webhook: {events: 3, copies: 4, copy_spread: 0s, spread: 1s}\n";

START_TEST(test_world_live_hardened_webhook_copies_pay_once)
{
	struct live_fixture f;
	live_open(&f, WEBHOOK_COPIES, NULL);
	struct world_result w;
	ck_assert_int_eq(live_seed(&f, 1, VARIANT_HARDENED, &w), RESULT_OK);
	ck_assert_uint_eq(w.violated, 0);
	ck_assert(w.checked & (1u << INV_EXACTLY_ONCE));
	ck_assert(w.race_seen);
	/* Every copy is acknowledged: the first applies, the rest see it. */
	ck_assert_uint_eq(w.outcomes[WO_WH_2XX], 12);
	ck_assert(!w.fault_fired);
	live_close(&f);
}
END_TEST

static long long pg_count(const char *sql)
{
	PGconn *pg = PQconnectdb(getenv("FAULTLINE_PG_URL"));
	ck_assert_int_eq(PQstatus(pg), CONNECTION_OK);
	PGresult *res = PQexec(pg, sql);
	ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	long long n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	PQfinish(pg);
	return n;
}

START_TEST(test_world_live_each_seed_starts_from_clean_servers)
{
	struct live_fixture f;
	live_open(&f, WEBHOOK_COPIES, NULL);
	struct world_result w;
	ck_assert_int_eq(live_seed(&f, 1, VARIANT_HARDENED, &w), RESULT_OK);
	ck_assert_int_eq(live_seed(&f, 2, VARIANT_HARDENED, &w), RESULT_OK);
	ck_assert_uint_eq(w.violated, 0);
	/* The second seed's rows only: three orders, each paid once. */
	ck_assert_int_eq(pg_count("SELECT count(*) FROM orders"), 3);
	ck_assert_int_eq(pg_count("SELECT count(*) FROM orders WHERE paid_count = 1"), 3);
	ck_assert_int_eq(pg_count("SELECT count(*) FROM stripe_events"), 3);
	live_close(&f);
}
END_TEST

static const char EXPIRE_FAILS[] =
	"fixes: [ratelimit]\n"
	"invariants: [no-lockout]\n"
	"duration: 2m\n"
	"workload:\n"
	"  ratelimit: {users: 1, requests_per_user: 3, spread: 1s, limit: 5, window: 30s}\n"
	"faults:\n"
	"  - {target: redis, op: expire, kind: error, nth: 1}\n"
	"  - {target: redis, op: pexpire, kind: error, nth: 1}\n";

START_TEST(test_world_live_legacy_expire_failure_locks_the_user_out)
{
	struct live_fixture f;
	live_open(&f, EXPIRE_FAILS, NULL);
	struct world_result w;
	ck_assert_int_eq(live_seed(&f, 1, VARIANT_LEGACY, &w), RESULT_OK);
	ck_assert(w.violated & (1u << INV_NO_LOCKOUT));
	ck_assert_ptr_nonnull(strstr(w.v[INV_NO_LOCKOUT].message, "no TTL"));
	ck_assert(w.fault_fired);
	ck_assert_uint_eq(w.faults[FAULT_ERROR], 1);
	live_close(&f);
}
END_TEST

START_TEST(test_world_live_hardened_limiter_keeps_every_ttl)
{
	struct live_fixture f;
	live_open(&f, EXPIRE_FAILS, NULL);
	struct world_result w;
	ck_assert_int_eq(live_seed(&f, 1, VARIANT_HARDENED, &w), RESULT_OK);
	ck_assert_uint_eq(w.violated, 0);
	ck_assert(w.fault_fired);
	/* Three hits and the probe, all answered. */
	ck_assert_uint_eq(w.outcomes[WO_RL_ALLOWED] + w.outcomes[WO_RL_ALLOWED_IN_FAILURE] +
	                  w.outcomes[WO_RL_REJECTED] + w.outcomes[WO_RL_ERROR], 4);
	live_close(&f);
}
END_TEST

START_TEST(test_world_live_stripe_fault_is_applied_by_the_wrapper)
{
	struct live_fixture f;
	live_open(&f,
	          "fixes: [stripe-customer]\n"
	          "duration: 1m\n"
	          "workload:\n"
	          "  stripe-customer: {users: 2, concurrent: 1, spread: 1s}\n"
	          "faults:\n"
	          "  - {target: stripe, kind: server-error, status: 429, nth: 1}\n",
	          NULL);
	struct world_result w;
	ck_assert_int_eq(live_seed(&f, 1, VARIANT_HARDENED, &w), RESULT_OK);
	ck_assert_uint_eq(w.faults[FAULT_SERVER_ERROR], 1);
	ck_assert_uint_eq(w.violated, 0);
	/* The hardened client retried the 429: both users got a customer. */
	ck_assert_uint_eq(w.outcomes[WO_CU_OK], 2);
	ck_assert_int_eq(pg_count("SELECT count(*) FROM stripe_customers"), 2);
	live_close(&f);
}
END_TEST

START_TEST(test_world_live_seed_fails_naming_an_unreachable_postgres)
{
	struct live_fixture f;
	live_open(&f, WEBHOOK_COPIES, "host=127.0.0.1 port=1 dbname=x connect_timeout=2");
	struct world_result w;
	ck_assert_int_eq(live_seed(&f, 1, VARIANT_HARDENED, &w), RESULT_ERROR);
	ck_assert_ptr_nonnull(strstr(w.error, "postgres at 127.0.0.1:1"));
	live_close(&f);
}
END_TEST

Suite *check_world_live_suite(void);
Suite *check_world_live_suite(void)
{
	Suite *s = suite_create("world_live");
	TCase *plan = tcase_create("plan");
	tcase_add_test(plan, test_live_plan_scales_durations_and_keeps_floors);
	tcase_add_test(plan, test_live_plan_cuts_a_long_customer_lead_in);
	tcase_add_test(plan, test_live_plan_rl_window_rounds_to_whole_seconds);
	tcase_add_test(plan, test_live_plan_redis_error_nth_becomes_close_toxic);
	tcase_add_test(plan, test_live_plan_server_error_carries_message_and_sqlstate);
	tcase_add_test(plan, test_live_plan_timeouts_stall_redis_and_cut_postgres);
	tcase_add_test(plan, test_live_plan_latency_on_one_command_is_not_applied);
	tcase_add_test(plan, test_live_plan_latency_on_every_command_is_a_latency_toxic);
	tcase_add_test(plan, test_live_plan_restart_disables_with_scaled_window);
	tcase_add_test(plan, test_live_plan_stripe_mail_and_acquire_rules_stay_with_wrappers);
	tcase_add_test(plan, test_live_plan_refuses_what_the_proxy_cannot_count);
	suite_add_tcase(s, plan);

	TCase *addr = tcase_create("addresses");
	tcase_add_test(addr, test_world_live_redis_addr_parses_host_and_port);
	tcase_add_test(addr, test_world_live_pg_addr_aims_the_string_at_the_proxy);
	tcase_add_test(addr, test_world_live_check_names_the_refusing_server);
	suite_add_tcase(s, addr);

	TCase *mail = tcase_create("mail");
	tcase_add_test(mail, test_world_live_mail_headers_unfold_and_trim);
	tcase_add_test(mail, test_world_live_mail_headers_keep_a_bare_lf_in_the_value);
	tcase_add_test(mail, test_world_live_mail_headers_refuse_malformed_sections);
	suite_add_tcase(s, mail);

	const char *only = getenv("CK_RUN_SUITE");
	if (getenv("FAULTLINE_REDIS_URL") == NULL || getenv("FAULTLINE_PG_URL") == NULL) {
		if (only == NULL || strcmp(only, "world_live") == 0)
			printf("world_live: seeds on real servers skipped, FAULTLINE_REDIS_URL or "
			       "FAULTLINE_PG_URL is not set (tests/live_run_test.sh runs them)\n");
		return s;
	}
	TCase *live = tcase_create("live");
	tcase_set_timeout(live, 20);
	tcase_add_test(live, test_world_live_hardened_webhook_copies_pay_once);
	tcase_add_test(live, test_world_live_each_seed_starts_from_clean_servers);
	tcase_add_test(live, test_world_live_legacy_expire_failure_locks_the_user_out);
	tcase_add_test(live, test_world_live_hardened_limiter_keeps_every_ttl);
	tcase_add_test(live, test_world_live_stripe_fault_is_applied_by_the_wrapper);
	tcase_add_test(live, test_world_live_seed_fails_naming_an_unreachable_postgres);
	suite_add_tcase(s, live);
	return s;
}
