/* tests/check_scenario.c - the scenario loader (every field, the defaults,
 * each class of error with its line:column, odd bytes in quote fields,
 * robustness on damaged input, the schedule: section) and the PATH
 * expansion of harness/paths.c. Sample files live in tests/data/scenarios/{good,bad}. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/coverage.h"
#include "harness/paths.h"
#include "sim/prng.h"
#include "harness/scenario_load.h"

#define DATA "tests/data/scenarios/"
#define MS 1000ull
#define S (1000 * MS)

static struct scenario *load_ok(const char *yaml)
{
	struct scenario *sc = NULL;
	struct scenario_error e;
	enum result rc = scenario_load_buffer("inline.yaml", yaml, strlen(yaml), &sc, &e);
	if (rc != RESULT_OK) {
		char msg[600];
		scenario_error_format(&e, msg, sizeof msg);
		ck_abort_msg("load failed: %s", msg);
	}
	ck_assert_ptr_nonnull(sc);
	return sc;
}

static void assert_error(const struct scenario_error *e, int line, int column,
                         const char *needle)
{
	char msg[600];
	scenario_error_format(e, msg, sizeof msg);
	ck_assert_msg(e->line == line && e->column == column,
	              "want %d:%d, got '%s'", line, column, msg);
	ck_assert_msg(strstr(e->message, needle) != NULL, "want '%s' in '%s'", needle, msg);
}

/* ---- the full example ------------------------------------------------- */

START_TEST(test_scenario_full_example_fills_every_field)
{
	struct scenario *sc = NULL;
	struct scenario_error e;
	ck_assert_int_eq(scenario_load(DATA "good/full.yaml", &sc, &e), RESULT_OK);
	ck_assert_str_eq(sc->path, DATA "good/full.yaml");
	ck_assert_str_eq(sc->name, "full-example");
	ck_assert_str_eq(sc->description, "Every key, every fault kind.\n");
	ck_assert_uint_eq(sc->fixes, (1u << FIX_COUNT) - 1);
	ck_assert_uint_eq(sc->invariants,
	                  (1u << INV_NO_LOCKOUT) | (1u << INV_EMAIL_SAFE) |
	                          (1u << INV_EXACTLY_ONCE) | (1u << INV_NO_ORPHAN) |
	                          (1u << INV_NO_UNHANDLED) | (1u << INV_NO_HUNG));
	ck_assert_uint_eq(sc->seeds, 32);
	ck_assert_uint_eq(sc->seed_first, 1000);
	ck_assert_ptr_null(sc->seed_list);
	ck_assert_uint_eq(sc->duration_us, 2 * 3600 * S);

	ck_assert_uint_eq(sc->redis.latency.min_us, 200);
	ck_assert_uint_eq(sc->redis.latency.max_us, 3 * MS);
	ck_assert_uint_eq(sc->redis.timeout_us, 150 * MS);
	ck_assert_uint_eq(sc->postgres.latency.min_us, 300);
	ck_assert_uint_eq(sc->postgres.latency.max_us, 4 * MS);
	ck_assert_uint_eq(sc->postgres.timeout_us, 6 * S);
	ck_assert_uint_eq(sc->pg_pool_size, 8);
	ck_assert_uint_eq(sc->stripe.latency.min_us, 60 * MS);
	ck_assert_uint_eq(sc->stripe.latency.max_us, 400 * MS);
	ck_assert_uint_eq(sc->stripe.timeout_us, 20 * S);
	ck_assert_uint_eq(sc->mail.latency.min_us, 7 * MS);
	ck_assert_uint_eq(sc->mail.latency.max_us, 7 * MS);
	ck_assert_uint_eq(sc->mail.timeout_us, 25 * S);

	ck_assert_uint_eq(sc->ratelimit.users, 3);
	ck_assert_uint_eq(sc->ratelimit.requests_per_user, 12);
	ck_assert_uint_eq(sc->ratelimit.spread_us, 20 * S);
	ck_assert_uint_eq(sc->ratelimit.limit, 4);
	ck_assert_uint_eq(sc->ratelimit.window_us, 30 * S);
	ck_assert(!sc->ratelimit.probe_after_window);
	ck_assert(!sc->ratelimit.fail_open);

	ck_assert_uint_eq(sc->dedup.requests, 30);
	ck_assert_uint_eq(sc->dedup.duplicates, 2);
	ck_assert_uint_eq(sc->dedup.spread_us, 15 * S);
	ck_assert_uint_eq(sc->dedup.duplicate_delay_us, 3 * S);
	ck_assert_uint_eq(sc->dedup.ttl_us, 20 * S);

	ck_assert_uint_eq(sc->quote_email.spread_us, 2 * S);
	ck_assert_uint_eq(sc->quote_email.nquotes, 4);
	const struct quote_spec *q = sc->quote_email.quotes;
	ck_assert_str_eq(q[0].ref, "Q-1");
	ck_assert(q[0].name_null);
	ck_assert(!q[0].email_null);
	ck_assert_uint_eq(q[0].email_len, 15);
	ck_assert_mem_eq(q[0].email, "ann@example.com", 15);
	ck_assert_uint_eq(q[0].sends, 1);
	ck_assert_int_eq(q[0].expect, -1);
	ck_assert(!q[1].name_null);
	/* "Zoë Ångström" in UTF-8: the escapes come out as their bytes. */
	ck_assert_uint_eq(q[1].name_len, 15);
	ck_assert_mem_eq(q[1].name, "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m", 15);
	ck_assert_uint_eq(q[1].sends, 2);
	ck_assert_uint_eq(q[2].name_len, 21);
	ck_assert_mem_eq(q[2].name, "Eve\r\nBcc: x@evil.test", 21);
	ck_assert_int_eq(q[2].expect, 0);
	ck_assert_uint_eq(q[3].name_len, 8);
	ck_assert_mem_eq(q[3].name, "Nul\0Byte", 8);
	ck_assert(q[3].email_null);
	ck_assert_int_eq(q[3].expect, 1);

	ck_assert_uint_eq(sc->webhook.events, 7);
	ck_assert_uint_eq(sc->webhook.copies, 3);
	ck_assert_uint_eq(sc->webhook.copy_spread_us, 1 * S);
	ck_assert_uint_eq(sc->webhook.spread_us, 12 * S);
	ck_assert_uint_eq(sc->webhook.nretry, 2);
	ck_assert_uint_eq(sc->webhook.retry_us[0], 120 * S);
	ck_assert_uint_eq(sc->webhook.retry_us[1], 600 * S);
	ck_assert_uint_eq(sc->webhook.endpoint_timeout_us, 8 * S);
	ck_assert_uint_eq(sc->webhook.bad_signatures, 1);
	ck_assert_uint_eq(sc->webhook.stale_signatures, 2);

	ck_assert_uint_eq(sc->customer.users, 6);
	ck_assert_uint_eq(sc->customer.concurrent, 3);
	ck_assert_uint_eq(sc->customer.spread_us, 11 * S);
	ck_assert_uint_eq(sc->customer.copy_spread_us, 40 * MS);

	const struct fault_plan *p = &sc->faults;
	ck_assert_uint_eq(p->nrules, 14);
	const struct fault_rule *r = &p->rules[0];
	ck_assert_int_eq(r->target, FAULT_TARGET_REDIS);
	ck_assert_str_eq(r->op, "expire");
	ck_assert_int_eq(r->kind, FAULT_ERROR);
	ck_assert_uint_eq(r->nth, 1);
	ck_assert(r->and_after);
	ck_assert_uint_eq(r->from_us, 0);
	ck_assert_uint_eq(r->until_us, 30 * S);
	ck_assert_str_eq(r->after_event, "redis.incr");
	ck_assert_double_eq(r->probability, 0.25);
	ck_assert_uint_eq(r->max_fires, 3);
	ck_assert_int_eq(r->line, 31);
	ck_assert_int_eq(r->column, 5);

	r = &p->rules[1];
	ck_assert_int_eq(r->target, FAULT_TARGET_POSTGRES);
	ck_assert_str_eq(r->op, "commit");
	ck_assert_int_eq(r->kind, FAULT_CONN_LOST);
	ck_assert_uint_eq(r->from_us, 60 * S);
	ck_assert_uint_eq(r->until_us, UINT64_MAX);
	ck_assert_double_eq(r->commit_applied_p, 0.75);
	ck_assert_uint_eq(r->nth, 0);
	ck_assert_double_eq(r->probability, 1.0);
	ck_assert_str_eq(r->after_event, "");

	r = &p->rules[2];
	ck_assert_int_eq(r->kind, FAULT_SERVER_ERROR);
	ck_assert_str_eq(r->error, "api_error");
	ck_assert_int_eq(r->status, 503);
	ck_assert_uint_eq(r->from_us, 0);
	ck_assert_uint_eq(r->until_us, 600 * S);

	r = &p->rules[3];
	ck_assert_int_eq(r->target, FAULT_TARGET_MAIL);
	ck_assert_str_eq(r->op, "*");
	ck_assert_int_eq(r->kind, FAULT_LATENCY);
	ck_assert_int_eq(r->dist, FAULT_DIST_PARETO);
	ck_assert_uint_eq(r->latency_us, 1 * MS);
	ck_assert_uint_eq(r->latency_max_us, 2 * S);
	ck_assert_double_eq(r->pareto_alpha, 2.5);

	r = &p->rules[4];
	ck_assert_int_eq(r->target, FAULT_TARGET_WEBHOOK);
	ck_assert_str_eq(r->op, "deliver");
	ck_assert_int_eq(r->kind, FAULT_STALL);
	ck_assert(r->stall_applied);

	r = &p->rules[5];
	ck_assert_int_eq(r->kind, FAULT_POOL_EXHAUSTED);
	ck_assert_str_eq(r->op, "acquire");
	ck_assert_uint_eq(r->nth, 2);

	r = &p->rules[6];
	ck_assert_int_eq(r->kind, FAULT_RESTART);
	ck_assert_uint_eq(r->from_us, 300 * S);
	ck_assert_uint_eq(r->duration_us, 5 * S);
	ck_assert(r->persistence);

	ck_assert_str_eq(p->rules[7].error, "40001");
	ck_assert_int_eq(p->rules[7].status, 0);
	ck_assert_str_eq(p->rules[8].error, "LOADING Redis is loading the dataset in memory");
	ck_assert_int_eq(p->rules[9].status, 451);
	ck_assert_int_eq(p->rules[10].dist, FAULT_DIST_UNIFORM);
	ck_assert_uint_eq(p->rules[10].latency_us, 1 * MS);
	ck_assert_uint_eq(p->rules[10].latency_max_us, 5 * MS);
	ck_assert_int_eq(p->rules[11].kind, FAULT_TIMEOUT_APPLIED);
	ck_assert_str_eq(p->rules[11].op, "customer_insert");
	ck_assert_int_eq(p->rules[12].kind, FAULT_TIMEOUT_NOT_APPLIED);
	ck_assert_double_eq(p->rules[12].probability, 0.0);
	ck_assert_int_eq(p->rules[13].dist, FAULT_DIST_FIXED);
	ck_assert_uint_eq(p->rules[13].latency_us, 5 * MS);
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_scenario_expect_reached_takes_variant_prefixes)
{
	struct scenario *sc = load_ok("fixes: [ratelimit]\n"
	                              "expect_reached: [hardened/redis.exec=ok, ratelimit.rejected]\n");
	ck_assert_uint_eq(sc->nexpect, 2);
	ck_assert_str_eq(sc->expect_reached[0], "hardened/redis.exec=ok");
	ck_assert_str_eq(coverage_expect_key(sc->expect_reached[0], "hardened"), "redis.exec=ok");
	ck_assert_ptr_null(coverage_expect_key(sc->expect_reached[0], "legacy"));
	ck_assert_ptr_null(coverage_expect_key(sc->expect_reached[0], "ratelimit=hardened,webhook=seed"));
	ck_assert_str_eq(coverage_expect_key(sc->expect_reached[1], "seed"), "ratelimit.rejected");
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_scenario_defaults_fill_what_the_file_leaves_out)
{
	struct scenario *sc = load_ok("fixes: [ratelimit, quote-email, webhook, request-dedup,\n"
	                              "        stripe-customer]\n"
	                              "workload:\n"
	                              "  quote-email: {quotes: [{ref: A}]}\n");
	ck_assert_str_eq(sc->name, "inline");
	ck_assert_str_eq(sc->description, "");
	ck_assert_uint_eq(sc->invariants, (1u << INV_COUNT) - 1);
	ck_assert_uint_eq(sc->seeds, 64);
	ck_assert_uint_eq(sc->seed_first, 1);
	ck_assert_uint_eq(scenario_seed_count(sc), 64);
	ck_assert_uint_eq(sc->duration_us, 3600 * S);
	ck_assert_uint_eq(sc->redis.latency.min_us, 100);
	ck_assert_uint_eq(sc->redis.latency.max_us, 1 * MS);
	ck_assert_uint_eq(sc->redis.timeout_us, 100 * MS);
	ck_assert_uint_eq(sc->postgres.latency.min_us, 200);
	ck_assert_uint_eq(sc->postgres.latency.max_us, 2 * MS);
	ck_assert_uint_eq(sc->postgres.timeout_us, 5 * S);
	ck_assert_uint_eq(sc->pg_pool_size, 4);
	ck_assert_uint_eq(sc->stripe.latency.min_us, 50 * MS);
	ck_assert_uint_eq(sc->stripe.latency.max_us, 300 * MS);
	ck_assert_uint_eq(sc->stripe.timeout_us, 30 * S);
	ck_assert_uint_eq(sc->mail.latency.min_us, 5 * MS);
	ck_assert_uint_eq(sc->mail.latency.max_us, 50 * MS);
	ck_assert_uint_eq(sc->mail.timeout_us, 30 * S);
	ck_assert_uint_eq(sc->ratelimit.users, 1);
	ck_assert_uint_eq(sc->ratelimit.requests_per_user, 10);
	ck_assert_uint_eq(sc->ratelimit.spread_us, 10 * S);
	ck_assert_uint_eq(sc->ratelimit.limit, 5);
	ck_assert_uint_eq(sc->ratelimit.window_us, 60 * S);
	ck_assert(sc->ratelimit.probe_after_window);
	ck_assert(sc->ratelimit.fail_open);
	ck_assert_uint_eq(sc->dedup.requests, 20);
	ck_assert_uint_eq(sc->dedup.duplicates, 1);
	ck_assert_uint_eq(sc->dedup.spread_us, 10 * S);
	ck_assert_uint_eq(sc->dedup.duplicate_delay_us, 2 * S);
	ck_assert_uint_eq(sc->dedup.ttl_us, 10 * S);
	ck_assert_uint_eq(sc->quote_email.spread_us, 1 * S);
	ck_assert(sc->quote_email.quotes[0].name_null);
	ck_assert(sc->quote_email.quotes[0].email_null);
	ck_assert_uint_eq(sc->quote_email.quotes[0].sends, 1);
	ck_assert_int_eq(sc->quote_email.quotes[0].expect, -1);
	ck_assert_uint_eq(sc->webhook.events, 5);
	ck_assert_uint_eq(sc->webhook.copies, 2);
	ck_assert_uint_eq(sc->webhook.copy_spread_us, 0);
	ck_assert_uint_eq(sc->webhook.spread_us, 10 * S);
	ck_assert_uint_eq(sc->webhook.nretry, 3);
	ck_assert_uint_eq(sc->webhook.retry_us[0], 60 * S);
	ck_assert_uint_eq(sc->webhook.retry_us[1], 300 * S);
	ck_assert_uint_eq(sc->webhook.retry_us[2], 1800 * S);
	ck_assert_uint_eq(sc->webhook.endpoint_timeout_us, 10 * S);
	ck_assert_uint_eq(sc->webhook.bad_signatures, 0);
	ck_assert_uint_eq(sc->webhook.stale_signatures, 0);
	ck_assert_uint_eq(sc->customer.users, 5);
	ck_assert_uint_eq(sc->customer.concurrent, 2);
	ck_assert_uint_eq(sc->customer.spread_us, 10 * S);
	ck_assert_uint_eq(sc->customer.copy_spread_us, 50 * MS);
	ck_assert_uint_eq(sc->faults.nrules, 0);
	scenario_destroy(sc);
}
END_TEST

/* A section key left empty means "all defaults", not an error. */
START_TEST(test_scenario_empty_sections_take_the_defaults)
{
	struct scenario *sc = load_ok("fixes: [ratelimit]\n"
	                              "backends:\n"
	                              "  redis:\n"
	                              "workload:\n"
	                              "  ratelimit:\n"
	                              "faults:\n");
	ck_assert_uint_eq(sc->redis.timeout_us, 100 * MS);
	ck_assert_uint_eq(sc->ratelimit.limit, 5);
	ck_assert_uint_eq(sc->faults.nrules, 0);
	scenario_destroy(sc);
	sc = load_ok("fixes: [ratelimit]\nbackends:\nworkload:\n");
	ck_assert_uint_eq(sc->pg_pool_size, 4);
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_scenario_name_defaults_to_base_name_without_extension)
{
	struct scenario *sc = NULL;
	struct scenario_error e;
	const char *yaml = "fixes: [webhook]\n";
	ck_assert_int_eq(scenario_load_buffer("dir/sub/webhook.races.yaml", yaml, strlen(yaml),
	                                      &sc, &e),
	                 RESULT_OK);
	ck_assert_str_eq(sc->name, "webhook.races");
	ck_assert_str_eq(sc->path, "dir/sub/webhook.races.yaml");
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_scenario_invariants_default_to_those_of_the_fixes)
{
	struct scenario *sc = load_ok("fixes: [webhook, request-dedup]\n");
	ck_assert_uint_eq(sc->invariants,
	                  (1u << INV_EXACTLY_ONCE) | (1u << INV_EVENTUALLY_APPLIED) |
	                          (1u << INV_SIGNATURE_SOUND) | (1u << INV_WEBHOOK_ACK) |
	                          (1u << INV_NO_FALSE_DUPLICATE) | (1u << INV_DEDUP_EFFECTIVE) |
	                          (1u << INV_NO_UNHANDLED) | (1u << INV_NO_HUNG));
	scenario_destroy(sc);
	/* An empty list keeps only the two that every run checks. */
	sc = load_ok("fixes: [stripe-customer]\ninvariants: []\n");
	ck_assert_uint_eq(sc->invariants, (1u << INV_NO_UNHANDLED) | (1u << INV_NO_HUNG));
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_scenario_seed_list_replaces_the_range)
{
	struct scenario *sc = load_ok("fixes: [ratelimit]\nseeds: [7, 3, 18446744073709551615]\n");
	ck_assert_uint_eq(scenario_seed_count(sc), 3);
	ck_assert_uint_eq(scenario_seed_at(sc, 0), 7);
	ck_assert_uint_eq(scenario_seed_at(sc, 1), 3);
	ck_assert_uint_eq(scenario_seed_at(sc, 2), UINT64_MAX);
	scenario_destroy(sc);
	sc = load_ok("fixes: [ratelimit]\nseeds: 4\nseed_first: 100\n");
	ck_assert_uint_eq(scenario_seed_count(sc), 4);
	ck_assert_uint_eq(scenario_seed_at(sc, 0), 100);
	ck_assert_uint_eq(scenario_seed_at(sc, 3), 103);
	scenario_destroy(sc);
}
END_TEST

/* Quote fields keep every byte: NUL through the \0 escape, CR and LF, and
 * UTF-8; a quoted "null" is text, a plain null is no value. */
START_TEST(test_scenario_quote_fields_keep_nul_crlf_and_utf8)
{
	struct scenario *sc = load_ok(
	        "fixes: [quote-email]\n"
	        "workload:\n"
	        "  quote-email:\n"
	        "    quotes:\n"
	        "      - {ref: A, name: \"a\\0b\\r\\nc\", email: \"\\0\"}\n"
	        "      - {ref: B, name: \"null\", email: ~}\n"
	        "      - {ref: C, name: '', email:}\n"
	        "      - {ref: D, name: \"\\u00e9\\t\\x7f\"}\n");
	const struct quote_spec *q = sc->quote_email.quotes;
	ck_assert_uint_eq(sc->quote_email.nquotes, 4);
	ck_assert_uint_eq(q[0].name_len, 6);
	ck_assert_mem_eq(q[0].name, "a\0b\r\nc", 6);
	ck_assert_uint_eq(q[0].email_len, 1);
	ck_assert_int_eq(q[0].email[0], '\0');
	ck_assert(!q[0].email_null);
	ck_assert(!q[1].name_null);
	ck_assert_str_eq(q[1].name, "null");
	ck_assert(q[1].email_null);
	ck_assert(!q[2].name_null);
	ck_assert_uint_eq(q[2].name_len, 0);
	ck_assert(q[2].email_null);
	ck_assert_uint_eq(q[3].name_len, 4);
	ck_assert_mem_eq(q[3].name, "\xc3\xa9\t\x7f", 4);
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_scenario_quote_field_limit_is_text_max_minus_one)
{
	char yaml[2048];
	char name[SCENARIO_TEXT_MAX + 1];
	memset(name, 'x', sizeof name);
	name[SCENARIO_TEXT_MAX - 1] = '\0';
	snprintf(yaml, sizeof yaml,
	         "fixes: [quote-email]\nworkload:\n  quote-email:\n    quotes:\n"
	         "      - ref: A\n        name: %s\n", name);
	struct scenario *sc = load_ok(yaml);
	ck_assert_uint_eq(sc->quote_email.quotes[0].name_len, SCENARIO_TEXT_MAX - 1);
	scenario_destroy(sc);

	name[SCENARIO_TEXT_MAX - 1] = 'x';
	name[SCENARIO_TEXT_MAX] = '\0';
	snprintf(yaml, sizeof yaml,
	         "fixes: [quote-email]\nworkload:\n  quote-email:\n    quotes:\n"
	         "      - ref: A\n        name: %s\n", name);
	struct scenario_error e;
	sc = NULL;
	ck_assert_int_eq(scenario_load_buffer("q.yaml", yaml, strlen(yaml), &sc, &e),
	                 RESULT_REJECT);
	ck_assert_ptr_null(sc);
	assert_error(&e, 6, 15, "workload.quote-email.quotes[0].name: longer than 511 bytes");
}
END_TEST

/* ---- errors ----------------------------------------------------------- */

struct bad_case {
	const char *yaml;
	int line, column;
	const char *message;      /* a substring of the message */
};

static const struct bad_case bad_inline[] = {
	/* unknown keys, at every level */
	{"fixes: [ratelimit]\nsedes: 3\n", 2, 1, "unknown key 'sedes' (expected one of: name,"},
	{"fixes: [ratelimit]\nbackends:\n  redis: {latency: 1ms, pool: 3}\n", 3, 25,
	 "backends.redis: unknown key 'pool'"},
	{"fixes: [ratelimit]\nworkload:\n  ratelimit: {user: 3}\n", 3, 15,
	 "workload.ratelimit: unknown key 'user'"},
	{"fixes: [ratelimit]\nworkload:\n  frob: {}\n", 3, 3, "workload: unknown key 'frob'"},
	{"fixes: [quote-email]\nworkload:\n  quote-email:\n    quotes:\n"
	 "      - {ref: A, mail: x}\n", 5, 18, "quotes[0]: unknown key 'mail'"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: error, nht: 2}\n", 3, 34,
	 "faults[0]: unknown key 'nht'"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: latency,\n"
	 "     latency: {pareto: 1ms, max: 1s, shape: 2}}\n", 4, 38,
	 "faults[0].latency: unknown key 'shape'"},
	{"fixes: [ratelimit]\nexpect_reached: [newest/redis.exec=ok]\n", 2, 18,
	 "expect_reached[0]: unknown coverage key 'newest/redis.exec=ok'"},
	{"fixes: [ratelimit]\nexpect_reached: [hardened/]\n", 2, 18,
	 "expect_reached[0]: unknown coverage key 'hardened/'"},
	{"fixes: [ratelimit]\nexpect_reached: [ratelimit.rejected, seed/redis.nope=ok]\n", 2, 38,
	 "expect_reached[1]: unknown coverage key 'seed/redis.nope=ok'"},
	/* wrong types */
	{"fixes: ratelimit\n", 1, 8, "fixes: expected a list of fixes"},
	{"fixes: [ratelimit]\nseeds: \"64\"\n", 2, 8, "seeds: expected an integer, got '64'"},
	{"fixes: [ratelimit]\nseeds: 6.5\n", 2, 8, "seeds: expected an integer"},
	{"fixes: [ratelimit]\nbackends: [redis]\n", 2, 11, "backends: expected a mapping, got a list"},
	{"fixes: [ratelimit]\nworkload:\n  ratelimit: {fail_open: yes}\n", 3, 26,
	 "workload.ratelimit.fail_open: expected true or false, got 'yes'"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: error, probability: half}\n", 3, 47, "faults[0].probability: expected a number, got 'half'"},
	{"fixes: [ratelimit]\nfaults:\n  target: redis\n", 3, 3, "faults: expected a list of fault rules"},
	{"fixes: [ratelimit]\nname: [a]\n", 2, 7, "name: expected a name without control characters, got a list"},
	{"- fixes\n", 1, 1, "expected a mapping at the top of the file, got a list"},
	{"fixes: [quote-email]\nworkload:\n  quote-email:\n    quotes:\n      - {ref: Q-1, clicks: 0}\n",
	 5, 28, "workload.quote-email.quotes[0].clicks: must be between 1 and 16, got '0'"},
	{"fixes: [quote-email]\nworkload:\n  quote-email:\n    quotes:\n      - {ref: Q-1, clicks: 17}\n",
	 5, 28, "quotes[0].clicks: must be between 1 and 16, got '17'"},
	/* durations */
	{"fixes: [ratelimit]\nduration: 10\n", 2, 11, "duration: expected a duration such as 250ms"},
	{"fixes: [ratelimit]\nduration: 1.5s\n", 2, 11, "got '1.5s'"},
	{"fixes: [ratelimit]\nduration: 10 s\n", 2, 11, "got '10 s'"},
	{"fixes: [ratelimit]\nduration: 10sec\n", 2, 11, "got '10sec'"},
	{"fixes: [ratelimit]\nduration: -5s\n", 2, 11, "got '-5s'"},
	{"fixes: [ratelimit]\nduration: 0\n", 2, 11, "duration: must be greater than 0"},
	{"fixes: [ratelimit]\nduration: 8761h\n", 2, 11, "duration: must be at most 8760h"},
	{"fixes: [ratelimit]\nduration: 99999999999999999999999s\n", 2, 11, "must be at most 8760h"},
	/* the limiter and the de-duplication count in whole milliseconds, up to
	 * their cores' maxima (before, these ran and said "out of memory") */
	{"fixes: [ratelimit]\nworkload:\n  ratelimit: {window: 500us}\n", 3, 23,
	 "workload.ratelimit.window: must be a whole number of milliseconds, at least 1ms, got '500us'"},
	{"fixes: [ratelimit]\nworkload:\n  ratelimit: {window: 1500us}\n", 3, 23,
	 "whole number of milliseconds"},
	{"fixes: [request-dedup]\nworkload:\n  request-dedup: {ttl: 48h}\n", 3, 24,
	 "workload.request-dedup.ttl: must be at most 86400000ms, got '48h'"},
	{"fixes: [ratelimit]\nbackends:\n  redis: {latency: [3ms, 1ms]}\n", 3, 20,
	 "backends.redis.latency: min must not exceed max"},
	{"fixes: [ratelimit]\nbackends:\n  redis: {timeout: 0s}\n", 3, 20,
	 "backends.redis.timeout: must be greater than 0"},
	/* negative and out-of-range values */
	{"fixes: [ratelimit]\nseeds: -1\n", 2, 8, "seeds: must not be negative"},
	{"fixes: [ratelimit]\nseeds: 0\n", 2, 8, "seeds: must be between 1 and 1000000, got '0'"},
	{"fixes: [ratelimit]\nseeds: 1000001\n", 2, 8, "must be between 1 and 1000000"},
	{"fixes: [ratelimit]\nseeds: []\n", 2, 8, "seeds: a list of seeds holds 1 to 4096 seeds"},
	{"fixes: [ratelimit]\nseeds: [1, -2]\n", 2, 12, "seeds[1]: must not be negative"},
	{"fixes: [ratelimit]\nseed_first: 18446744073709551616\n", 2, 13,
	 "seed_first: must be between 0 and 18446744073709551615"},
	{"fixes: [ratelimit]\nseeds: [1]\nseed_first: 4\n", 3, 1,
	 "seed_first: only with a seed count"},
	{"fixes: [ratelimit]\nseeds: 2\nseed_first: 18446744073709551615\n", 3, 13,
	 "seed_first + seeds - 1 does not fit"},
	{"fixes: [ratelimit]\nbackends:\n  postgres: {pool: 0}\n", 3, 20,
	 "backends.postgres.pool: must be between 1 and 1024"},
	{"fixes: [ratelimit]\nworkload:\n  ratelimit: {users: 10000, requests_per_user: 101}\n", 3,
	 14, "workload.ratelimit: the workload makes 1010000 requests; at most 1000000"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: error, probability: 1.01}\n", 3, 47, "faults[0].probability: must be between 0 and 1"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: error, nth: 0}\n", 3, 39,
	 "faults[0].nth: must be between 1 and 4294967295"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: mail, kind: server-error, status: 250}\n", 3,
	 48, "faults[0].status: must be between 400 and 599"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: conn-lost, commit_applied: -0.5}\n", 3, 54, "faults[0].commit_applied: must be between 0 and 1"},
	/* unknown names */
	{"fixes: [ratelimit, frob]\n", 1, 20, "fixes[1]: unknown fix 'frob' (expected one of: ratelimit,"},
	{"fixes: []\n", 1, 8, "fixes: must list at least one fix"},
	{"fixes: [webhook, webhook]\n", 1, 18, "fixes[1]: fix 'webhook' is listed twice"},
	{"fixes: [webhook]\ninvariants: [exactly-twice]\n", 2, 14,
	 "invariants[0]: unknown invariant 'exactly-twice'"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: memcached, kind: error}\n", 3, 14,
	 "faults[0].target: unknown fault target 'memcached' (expected one of: redis, postgres,"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: explode}\n", 3, 27,
	 "faults[0].kind: unknown fault kind 'explode' (expected one of: error, timeout-applied,"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, op: EXPIRE, kind: error}\n", 3, 25,
	 "faults[0].op: unknown redis op 'EXPIRE'"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: postgres, op: event_insert, kind: error}\n", 3, 28, "faults[0].op: unknown postgres op 'event_insert'"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: stripe, op: charges.create, kind: error}\n", 3, 26, "unknown stripe op 'charges.create'"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: mail, kind: error, after: postgres.insert}\n", 3, 40, "faults[0].after: unknown postgres op 'insert'"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: mail, kind: error, after: send}\n", 3, 40,
	 "faults[0].after: expected 'target.op'"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: mail, kind: error, after: smtp.send}\n", 3, 40,
	 "faults[0].after: unknown target 'smtp'"},
	{"fixes: [ratelimit]\nfaults:\n  - {op: get, kind: error}\n", 3, 5,
	 "faults[0]: missing required key 'target'"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis}\n", 3, 5,
	 "faults[0]: missing required key 'kind'"},
	/* kind parameters */
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: server-error}\n", 3, 5,
	 "faults[0]: a redis server-error needs 'error'"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: postgres, kind: server-error, status: 500}\n", 3,
	 5, "faults[0]: a postgres server-error needs 'error'"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: postgres, kind: server-error, error: \"40001\",\n"
	 "     status: 500}\n",
	 4, 6, "faults[0].status: a postgres server-error has no status"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: postgres, kind: server-error, error: 4o001}\n", 3, 51, "faults[0].error: expected a SQLSTATE of 5 characters"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: stripe, kind: server-error, error: api_error}\n",
	 3, 5, "faults[0]: a stripe server-error needs 'status' (400..599)"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: mail, kind: server-error}\n", 3, 5,
	 "faults[0]: a mail server-error needs 'status'"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: stripe, kind: server-error, status: 402,\n"
	 "     error: CardError}\n",
	 4, 13, "faults[0].error: expected a Stripe error type"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: server-error, error: \"a\\r\\nb\"}\n", 3, 48, "faults[0].error: expected a one-line message"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: restart}\n", 3, 5,
	 "faults[0]: a restart needs 'duration'"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: restart, duration: 0s}\n", 3, 46,
	 "faults[0].duration: must be greater than 0"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: restart, duration: 1s, nth: 2}\n", 3, 50, "faults[0].nth: does not apply to a restart"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: restart, duration: 1s, op: get}\n", 3, 54, "faults[0].op: a restart takes the whole server down"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: postgres, kind: restart, duration: 1s,\n"
	 "     persistence: true}\n",
	 4, 6, "faults[0].persistence: applies only to target redis"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: latency}\n", 3, 5,
	 "faults[0]: a latency fault needs 'latency'"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: latency, latency: [5ms, 1ms]}\n", 3, 45, "faults[0].latency: min must not exceed max"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: latency, latency: {pareto: 1ms}}\n", 3, 45, "faults[0].latency: missing required key 'max'"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: latency,\n"
	 "     latency: {pareto: 1ms, alpha: 0, max: 1s}}\n", 4, 36, "faults[0].latency.alpha: must be greater than 0"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: latency,\n"
	 "     latency: {pareto: 10ms, max: 1ms}}\n", 4, 35, "faults[0].latency.max: must not be less than the scale"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: error, latency: 1ms}\n", 3, 34,
	 "faults[0].latency: applies only to kind latency, not error"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: stall, status: 500}\n", 3, 34,
	 "faults[0].status: applies only to kind server-error, not stall"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: pool-exhausted}\n", 3, 14,
	 "faults[0].target: pool-exhausted applies only to target postgres"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: postgres, op: commit, kind: pool-exhausted}\n", 3, 28, "faults[0].op: pool-exhausted applies only to op acquire"},
	{"fixes: [stripe-customer]\nfaults:\n  - {target: redis, kind: bad-reply}\n", 3, 14,
	 "faults[0].target: bad-reply applies only to target stripe"},
	{"fixes: [stripe-customer]\nfaults:\n  - {target: stripe, op: customers.search, kind: bad-reply}\n", 3, 26,
	 "faults[0].op: bad-reply applies only to op customers.create"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: error, and_after: true}\n", 3, 34,
	 "faults[0].and_after: needs nth"},
	/* windows */
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: error, window: [10s, 10s]}\n", 3, 42, "faults[0].window: the window is empty: from must be before until"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: error, from: 20s, until: 5s}\n", 3, 52, "faults[0].until: the window is empty"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: error, until: 0}\n", 3, 41,
	 "faults[0].until: the window is empty"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: error, window: [1s, 2s],\n"
	 "     from: 1s}\n",
	 4, 6, "faults[0].from: give either window or from/until"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: error, window: [1s]}\n", 3, 42,
	 "faults[0].window: expected [from, until]"},
	/* cross-section rules */
	{"fixes: [ratelimit]\nworkload:\n  webhook:\n", 3, 3, "workload.webhook: a workload for fix"},
	{"fixes: [ratelimit]\nworkload:\n  webhook: {events: 2}\n", 3, 3,
	 "workload.webhook: a workload for fix 'webhook', which 'fixes' does not list"},
	{"fixes: [webhook]\nworkload:\n  webhook: {events: 2, second_events: 3}\n", 3, 12,
	 "workload.webhook: second_events (3) is more than events (2)"},
	{"fixes: [ratelimit]\ninvariants: [no-lockout, exactly-once]\n", 2, 26,
	 "invariants[1]: invariant 'exactly-once' belongs to fix 'webhook', which 'fixes' does not list"},
	{"fixes: [ratelimit]\ninvariants: [no-lockout, no-lockout]\n", 2, 26,
	 "invariants[1]: invariant 'no-lockout' is listed twice"},
	{"fixes: [ratelimit, quote-email]\n", 1, 20,
	 "fixes: quote-email needs workload.quote-email.quotes"},
	{"fixes: [quote-email]\nworkload:\n  quote-email: {quotes: []}\n", 3, 25,
	 "workload.quote-email.quotes: expected a list of 1 to 256 quotes"},
	{"fixes: [quote-email]\nworkload:\n  quote-email:\n    quotes: [{ref: A}, {ref: A}]\n", 4, 30, "quotes[1]: ref 'A' is used by quotes[0] already"},
	{"fixes: [quote-email]\nworkload:\n  quote-email:\n    quotes: [{name: x}]\n", 4, 14,
	 "quotes[0]: missing required key 'ref'"},
	{"fixes: [quote-email]\nworkload:\n  quote-email:\n    quotes: [{ref: \"A B\"}]\n", 4, 20,
	 "quotes[0].ref: expected a reference of printable characters without spaces"},
	{"fixes: [quote-email]\nworkload:\n  quote-email:\n    quotes: [{ref: A, expect: maybe}]\n",
	 4, 31, "quotes[0].expect: expected oracle, reject or send"},
	{"name: x\n", 1, 1, "missing required key 'fixes'"},
	/* schedule: entries fire once on the nth operation of one name */
	{"fixes: [ratelimit]\nschedule:\n  - {target: redis, op: expire, kind: error, window: [0s, 1s], nth: 1}\n",
	 3, 46, "schedule[0].window: does not belong in a schedule entry"},
	{"fixes: [ratelimit]\nschedule:\n  - {target: redis, op: expire, nth: 1, kind: error, probability: 0.5}\n",
	 3, 54, "schedule[0].probability: does not belong in a schedule entry"},
	{"fixes: [ratelimit]\nschedule:\n  - {target: redis, op: \"*\", nth: 1, kind: error}\n", 3, 25,
	 "schedule[0].op: a schedule entry names one operation, not '*'"},
	{"fixes: [ratelimit]\nschedule:\n  - {target: redis, op: expire, kind: error}\n", 3, 5,
	 "schedule[0]: a schedule entry needs 'nth'"},
	{"fixes: [ratelimit]\nschedule:\n  - {target: redis, nth: 2, kind: error}\n", 3, 5,
	 "schedule[0]: a schedule entry needs 'op'"},
	{"fixes: [ratelimit]\nschedule:\n  - {target: redis, op: expire, nth: 1, kind: restart, duration: 1s}\n",
	 3, 33, "schedule[0].nth: does not apply to a restart"},
	{"fixes: [ratelimit]\nschedule: {target: redis}\n", 2, 11,
	 "schedule: expected a list of scheduled faults, got a mapping"},
	{"fixes: [ratelimit]\nschedule:\n  - {target: redis, op: expires, nth: 1, kind: error}\n", 3, 25,
	 "schedule[0].op: unknown redis op 'expires'"},
	{"fixes: [ratelimit]\nschedule:\n  - {target: redis, op: expire, nth: 0, kind: error}\n", 3, 38,
	 "schedule[0].nth: must be between 1 and 4294967295, got '0'"},
	/* duplicate keys */
	{"fixes: [ratelimit]\nseeds: 2\nseeds: 3\n", 3, 1, "duplicate key 'seeds'"},
	{"fixes: [ratelimit]\nfaults:\n  - {target: redis, kind: error, target: mail}\n", 3, 34,
	 "faults[0]: duplicate key 'target'"},
	/* YAML itself */
	{"fixes: [ratelimit\n", 1, 8, "invalid YAML: the flow sequence opened here with '[' has "
	 "no closing ']' before 2:1 (flow sequence without a closing bracket)"},
	{"fixes: [ratelimit]\nworkload: {webhook: {events: 1}\nseeds: 4\n", 2, 11,
	 "invalid YAML: the flow mapping opened here with '{' has no closing '}' before 3:"},
	{"fixes: [ratelimit,\n  webhook\nseeds: 4\n", 1, 8,
	 "invalid YAML: the flow sequence opened here with '[' has no closing ']' before 4:1"},
	{"fixes: [ratelimit, webhook", 1, 8, "invalid YAML: the flow sequence opened here"},
	/* an error inside a flow closed on its own line keeps libfyaml's place */
	{"fixes: [ratelimit]\nname: {a: b: c}\n", 2, 12, "invalid YAML: missing comma"},
	{"fixes: [ratelimit]\n  seeds: 3\n", 2, 3, "invalid YAML:"},
	{"fixes: \"ratelimit\n", 1, 9, "invalid YAML: double-quoted scalar without closing quote"},
	{"fixes: &f [ratelimit]\nname: *f\n", 2, 7, "aliases (*name) are not supported"},
	{"fixes: !!seq [ratelimit]\n", 1, 8, "tags (!name) are not supported"},
	{"fixes: [ratelimit]\n? [a]\n: b\n", 2, 3, "mapping keys must be plain strings"},
	{"fixes: [ratelimit]\n---\nfixes: [webhook]\n", 2, 1, "found a second one"},
	{"fixes: [ratelimit]\nname: [[[[[[[[[x]]]]]]]]]\n", 2, 14, "nested more than 8 levels deep"},
	{"", 0, 0, "the file is empty"},
	{"# only a comment\n", 0, 0, "the file is empty"},
};

START_TEST(test_scenario_schedule_entry_fires_once_on_its_ordinal)
{
	struct scenario *sc = load_ok("fixes: [ratelimit]\n"
	                              "faults:\n  - {target: redis, kind: error, probability: 0.1}\n"
	                              "schedule:\n  - {target: redis, op: expire, nth: 2, kind: error}\n"
	                              "  - {target: redis, op: incr, nth: 7, kind: timeout-applied}\n");
	ck_assert_uint_eq(sc->faults.nrules, 3);
	ck_assert(!sc->faults.rules[0].scheduled);
	const struct fault_rule *r = &sc->faults.rules[1];
	ck_assert(r->scheduled);
	ck_assert_str_eq(r->op, "expire");
	ck_assert_uint_eq(r->nth, 2);
	ck_assert_uint_eq(r->max_fires, 1);
	ck_assert(!r->and_after);
	ck_assert(sc->faults.rules[2].scheduled);
	ck_assert_uint_eq(sc->faults.rules[2].nth, 7);
	scenario_destroy(sc);

	/* An empty schedule is no schedule. */
	sc = load_ok("fixes: [ratelimit]\nschedule:\n");
	ck_assert_uint_eq(sc->faults.nrules, 0);
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_scenario_rejects_with_line_column_and_key)
{
	const struct bad_case *c = &bad_inline[_i];
	/* *out must stay untouched on failure: a sentinel never dereferenced. */
	struct scenario *before = (struct scenario *)(uintptr_t)0x5a;
	struct scenario *sc = before;
	struct scenario_error e;
	enum result rc = scenario_load_buffer("bad.yaml", c->yaml, strlen(c->yaml), &sc, &e);
	ck_assert_msg(rc == RESULT_REJECT, "case %d loaded: %s", _i, c->yaml);
	ck_assert_ptr_eq(sc, before);
	ck_assert_str_eq(e.file, "bad.yaml");
	assert_error(&e, c->line, c->column, c->message);
}
END_TEST

static const struct bad_case bad_files[] = {
	{DATA "bad/unknown-top-key.yaml", 3, 1, "unknown key 'sedes'"},
	{DATA "bad/unknown-fault-kind.yaml", 7, 11,
	 "faults[0].kind: unknown fault kind 'explode' (expected one of: error, timeout-applied,"},
	{DATA "bad/yaml-syntax.yaml", 2, 8, "invalid YAML: the flow sequence opened here with '[' "
	 "has no closing ']' before 4:1 (flow sequence without a closing bracket)"},
	{DATA "bad/duplicate-key.yaml", 6, 5, "faults[0]: duplicate key 'kind'"},
	{DATA "bad/workload-for-unlisted-fix.yaml", 5, 3, "workload.webhook: a workload for fix"},
	{DATA "bad/invariant-of-unlisted-fix.yaml", 3, 26, "invariant 'no-orphan' belongs to fix"},
	{DATA "bad/stripe-server-error-without-status.yaml", 4, 5,
	 "a stripe server-error needs 'status'"},
	{DATA "bad/restart-without-duration.yaml", 4, 5, "a restart needs 'duration'"},
	{DATA "bad/empty-window.yaml", 6, 13, "faults[0].window: the window is empty"},
	{DATA "bad/duration-without-unit.yaml", 3, 11, "duration: expected a duration"},
	{DATA "bad/negative-seeds.yaml", 2, 8, "seeds: must not be negative"},
	{DATA "bad/unknown-op.yaml", 4, 25, "faults[0].op: unknown redis op 'expires'"},
	{DATA "bad/wrong-type.yaml", 5, 12,
	 "workload.stripe-customer.users: expected an integer, got a list"},
	{DATA "bad/empty.yaml", 0, 0, "the file is empty"},
	{DATA "bad/bad-sqlstate.yaml", 6, 12, "faults[0].error: expected a SQLSTATE"},
};

START_TEST(test_scenario_bad_sample_files_name_their_error)
{
	const struct bad_case *c = &bad_files[_i];
	struct scenario *sc = NULL;
	struct scenario_error e;
	ck_assert_int_eq(scenario_load(c->yaml, &sc, &e), RESULT_REJECT);
	ck_assert_ptr_null(sc);
	ck_assert_str_eq(e.file, c->yaml);
	assert_error(&e, c->line, c->column, c->message);
}
END_TEST

START_TEST(test_scenario_good_sample_files_load)
{
	const char *files[] = {DATA "good/full.yaml", DATA "good/minimal.yaml",
	                       DATA "good/ratelimit-expire-fails-once.yaml"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		struct scenario *sc = NULL;
		struct scenario_error e;
		ck_assert_int_eq(scenario_load(files[i], &sc, &e), RESULT_OK);
		scenario_destroy(sc);
	}
}
END_TEST

START_TEST(test_scenario_too_many_fault_rules_is_rejected_at_the_extra_rule)
{
	static char yaml[8192];
	size_t n = (size_t)snprintf(yaml, sizeof yaml, "fixes: [ratelimit]\nfaults:\n");
	for (int i = 0; i <= FAULT_RULES_MAX; i++)
		n += (size_t)snprintf(yaml + n, sizeof yaml - n, "  - {target: redis, kind: error}\n");
	struct scenario *sc = NULL;
	struct scenario_error e;
	ck_assert_int_eq(scenario_load_buffer("many.yaml", yaml, n, &sc, &e), RESULT_REJECT);
	assert_error(&e, 3 + FAULT_RULES_MAX, 5, "faults[64]: more than 64 fault rules");

	/* Exactly the maximum is fine. */
	n -= strlen("  - {target: redis, kind: error}\n");
	ck_assert_int_eq(scenario_load_buffer("many.yaml", yaml, n, &sc, &e), RESULT_OK);
	ck_assert_uint_eq(sc->faults.nrules, FAULT_RULES_MAX);
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_scenario_rejects_raw_nul_byte_with_its_position)
{
	const char yaml[] = "fixes: [ratelimit]\nname: a\0b\n";
	struct scenario *sc = NULL;
	struct scenario_error e;
	ck_assert_int_eq(scenario_load_buffer("nul.yaml", yaml, sizeof yaml - 1, &sc, &e),
	                 RESULT_REJECT);
	assert_error(&e, 2, 8, "NUL byte in the file");
}
END_TEST

START_TEST(test_scenario_rejects_input_over_one_mib)
{
	size_t len = (1u << 20) + 1;
	char *buf = malloc(len);
	ck_assert_ptr_nonnull(buf);
	memset(buf, '#', len);
	memcpy(buf, "fixes: [ratelimit]\n", 19);
	struct scenario *sc = NULL;
	struct scenario_error e;
	ck_assert_int_eq(scenario_load_buffer("big.yaml", buf, len, &sc, &e), RESULT_REJECT);
	assert_error(&e, 0, 0, "larger than 1 MiB");

	char dir[] = "/tmp/faultline-big-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof path, "%s/big.yaml", dir);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
	fclose(f);
	ck_assert_int_eq(scenario_load(path, &sc, &e), RESULT_REJECT);
	assert_error(&e, 0, 0, "larger than 1 MiB");
	unlink(path);
	rmdir(dir);
	free(buf);
}
END_TEST

START_TEST(test_scenario_missing_file_and_folder_are_rejected)
{
	struct scenario *sc = NULL;
	struct scenario_error e;
	ck_assert_int_eq(scenario_load(DATA "no-such-file.yaml", &sc, &e), RESULT_REJECT);
	assert_error(&e, 0, 0, "cannot open: No such file or directory");
	ck_assert_int_eq(scenario_load(DATA "good", &sc, &e), RESULT_REJECT);
	assert_error(&e, 0, 0, "cannot read: Is a directory");
	ck_assert_ptr_null(sc);
}
END_TEST

START_TEST(test_scenario_error_format_with_and_without_position)
{
	struct scenario_error e = {.file = "a.yaml", .line = 7, .column = 12,
	                           .message = "faults[0].kind: unknown fault kind 'x'"};
	char buf[128];
	scenario_error_format(&e, buf, sizeof buf);
	ck_assert_str_eq(buf, "a.yaml:7:12: faults[0].kind: unknown fault kind 'x'");
	e.line = e.column = 0;
	snprintf(e.message, sizeof e.message, "cannot open: gone");
	scenario_error_format(&e, buf, sizeof buf);
	ck_assert_str_eq(buf, "a.yaml: cannot open: gone");
	scenario_error_format(&e, buf, 4);
	ck_assert_str_eq(buf, "a.y");
}
END_TEST

START_TEST(test_scenario_names_round_trip)
{
	for (int f = 0; f < FIX_COUNT; f++) {
		enum fix_id got;
		ck_assert(fix_parse(fix_name((enum fix_id)f), &got));
		ck_assert_int_eq(got, f);
	}
	ck_assert_str_eq(fix_name(FIX_DEDUP), "request-dedup");
	ck_assert_str_eq(fix_name(FIX_CUSTOMER), "stripe-customer");
	ck_assert(!fix_parse("dedup", NULL));
	for (int i = 0; i < INV_COUNT; i++) {
		enum invariant_id got;
		ck_assert(invariant_parse(invariant_name((enum invariant_id)i), &got));
		ck_assert_int_eq(got, i);
	}
	ck_assert_str_eq(invariant_name(INV_NO_UNHANDLED), "no-unhandled-error");
	ck_assert(!invariant_parse("no_lockout", NULL));
}
END_TEST

/* ---- robustness ------------------------------------------------------- */

static char *file_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	static char buf[16384];
	*len = fread(buf, 1, sizeof buf, f);
	fclose(f);
	char *copy = malloc(*len + 1);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, buf, *len);
	return copy;
}

static void load_any(const char *buf, size_t len)
{
	struct scenario *sc = NULL;
	struct scenario_error e;
	enum result rc = scenario_load_buffer("fuzz.yaml", buf, len, &sc, &e);
	if (rc == RESULT_OK) {
		ck_assert_ptr_nonnull(sc);
		scenario_destroy(sc);
		return;
	}
	ck_assert_int_eq(rc, RESULT_REJECT);
	ck_assert_ptr_null(sc);
	ck_assert_int_ge(e.line, 0);
	ck_assert_uint_gt(strlen(e.message), 0);
}

/* Every prefix of the full example loads or is rejected cleanly (and,
 * under ASan, without a leak). */
START_TEST(test_scenario_every_truncation_of_the_example_is_handled)
{
	size_t len;
	char *buf = file_read(DATA "good/full.yaml", &len);
	for (size_t cut = 0; cut <= len; cut++)
		load_any(buf, cut);
	free(buf);
}
END_TEST

/* Random byte damage, seeded by the loop index. */
START_TEST(test_scenario_damaged_bytes_are_handled)
{
	size_t len;
	char *orig = file_read(DATA "good/full.yaml", &len);
	char *buf = malloc(len);
	ck_assert_ptr_nonnull(buf);
	struct prng rng;
	prng_init(&rng, (uint64_t)_i);
	static const char alphabet[] = "\0\n\r\t :-[]{},\"'#&*!|>%@`\\0aZ9";
	for (int round = 0; round < 300; round++) {
		memcpy(buf, orig, len);
		int edits = 1 + (int)prng_below(&rng, 4);
		for (int k = 0; k < edits; k++) {
			size_t at = prng_below(&rng, len);
			buf[at] = alphabet[prng_below(&rng, sizeof alphabet - 1)];
		}
		load_any(buf, len);
	}
	free(buf);
	free(orig);
}
END_TEST

/* libfyaml 0.7.12 looped forever on "%" and a stray byte (found by
 * fuzz/fuzz_scenario.c); bytes that are not UTF-8 are now refused, with
 * their place, before libfyaml sees them. */
START_TEST(test_scenario_refuses_bytes_that_are_not_utf8)
{
	static const struct {
		const char *yaml;
		int line, column;
		const char *what;
	} cases[] = {
		{"%\xe9", 1, 2, "not UTF-8 (byte 0xe9)"},
		{"%\"\xa6", 1, 3, "not UTF-8 (byte 0xa6)"},
		{"fixes: [ratelimit]\nname: \"caf\xc3\xa9 \xff\"\n", 2, 13, "not UTF-8 (byte 0xff)"},
		{"fixes: [ratelimit]\nname: \xc0\xaf\n", 2, 7, "not UTF-8 (byte 0xc0)"},      /* overlong */
		{"fixes: [ratelimit]\nname: \xed\xa0\x80\n", 2, 7, "not UTF-8 (byte 0xed)"}, /* surrogate */
		{"fixes: [ratelimit]\nname: \xe2\x82", 2, 7, "not UTF-8 (byte 0xe2)"},        /* cut short */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct scenario *sc = NULL;
		struct scenario_error e;
		ck_assert_int_eq(scenario_load_buffer("bad.yaml", cases[i].yaml, strlen(cases[i].yaml), &sc, &e),
		                 RESULT_REJECT);
		ck_assert_ptr_null(sc);
		assert_error(&e, cases[i].line, cases[i].column, cases[i].what);
	}
	/* Valid UTF-8 in a value still loads. */
	struct scenario *sc = load_ok("fixes: [ratelimit]\nname: \"caf\xc3\xa9 \xe2\x80\xaf \xf0\x9f\x98\x80\"\n");
	ck_assert_str_eq(sc->name, "caf\xc3\xa9 \xe2\x80\xaf \xf0\x9f\x98\x80");
	scenario_destroy(sc);
}
END_TEST

/* libfyaml 0.7.12 reads 'a''''b' as "a'''" and leaks memory on longer
 * runs of escaped quotes (found by fuzz/fuzz_scenario.c under LSan): such a
 * value is refused with its place; one escaped quote still reads right. */
START_TEST(test_scenario_refuses_escaped_quotes_in_a_row)
{
	static const char bad[] = "fixes: [ratelimit]\nname: 'a''''b'\n";
	struct scenario *sc = NULL;
	struct scenario_error e;
	ck_assert_int_eq(scenario_load_buffer("q.yaml", bad, strlen(bad), &sc, &e), RESULT_REJECT);
	assert_error(&e, 2, 7, "two escaped quotes in a row");
	static const char long_run[] = "fixes: ['''''''''''''''''''''''''''''''s']\n";
	ck_assert_int_eq(scenario_load_buffer("q.yaml", long_run, strlen(long_run), &sc, &e), RESULT_REJECT);
	assert_error(&e, 1, 9, "two escaped quotes in a row");

	sc = load_ok("fixes: [ratelimit]\nname: 'it''s ''ok'''\n");
	ck_assert_str_eq(sc->name, "it's 'ok'");
	scenario_destroy(sc);
	sc = load_ok("fixes: [ratelimit]\nname: \"a''''b\"\n");
	ck_assert_str_eq(sc->name, "a''''b");
	scenario_destroy(sc);
}
END_TEST

/* ---- paths ------------------------------------------------------------ */

static void touch(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fputs("fixes: [ratelimit]\n", f);
	fclose(f);
}

static void mkdir_in(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	ck_assert_int_eq(mkdir(path, 0700), 0);
}

/* A tree with scenarios at several depths, files that are not scenarios,
 * hidden entries and a link back to the root. */
static void tree_make(char *dir)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	touch(dir, "b.yaml");
	touch(dir, "a.yml");
	touch(dir, "B.yaml");
	touch(dir, "notes.txt");
	touch(dir, "yaml");
	touch(dir, ".hidden.yaml");
	mkdir_in(dir, "sub");
	touch(dir, "sub/c.yaml");
	touch(dir, "sub-x.yaml");
	mkdir_in(dir, "sub/deeper");
	touch(dir, "sub/deeper/d.yaml");
	mkdir_in(dir, ".git");
	touch(dir, ".git/e.yaml");
	mkdir_in(dir, "empty");
	char link[512];
	snprintf(link, sizeof link, "%s/sub/loop", dir);
	ck_assert_int_eq(symlink("..", link), 0);
	snprintf(link, sizeof link, "%s/sub/linked.yaml", dir);
	ck_assert_int_eq(symlink("../b.yaml", link), 0);
}

static void tree_remove(const char *dir)
{
	const char *names[] = {"sub/deeper/d.yaml", "sub/deeper", "sub/c.yaml", "sub/loop",
	                       "sub/linked.yaml", "sub", "sub-x.yaml", "b.yaml", "a.yml",
	                       "B.yaml", "notes.txt", "yaml", ".hidden.yaml", ".git/e.yaml",
	                       ".git", "empty"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char path[512];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if (unlink(path) != 0)
			rmdir(path);
	}
	rmdir(dir);
}

START_TEST(test_paths_folder_yields_yaml_files_sorted_by_byte_order)
{
	char dir[] = "/tmp/faultline-paths-XXXXXX";
	tree_make(dir);
	struct path_list l;
	char err[256];
	char *args[] = {dir};
	ck_assert_int_eq(paths_collect(1, args, &l, err, sizeof err), RESULT_OK);
	const char *want[] = {"B.yaml", "a.yml", "b.yaml", "sub-x.yaml", "sub/c.yaml",
	                      "sub/deeper/d.yaml", "sub/linked.yaml"};
	ck_assert_uint_eq(l.n, sizeof want / sizeof want[0]);
	for (size_t i = 0; i < l.n; i++) {
		char path[512];
		snprintf(path, sizeof path, "%s/%s", dir, want[i]);
		ck_assert_str_eq(l.paths[i], path);
	}
	paths_fini(&l);
	ck_assert_ptr_null(l.paths);
	ck_assert_uint_eq(l.n, 0);
	paths_fini(NULL);
	tree_remove(dir);
}
END_TEST

START_TEST(test_paths_keep_argument_order_and_take_files_as_given)
{
	char dir[] = "/tmp/faultline-paths-XXXXXX";
	tree_make(dir);
	char notes[512], sub[512], b[512];
	snprintf(notes, sizeof notes, "%s/notes.txt", dir);
	snprintf(sub, sizeof sub, "%s/sub/", dir);
	snprintf(b, sizeof b, "%s/b.yaml", dir);
	char *args[] = {notes, sub, b};
	struct path_list l;
	char err[256];
	ck_assert_int_eq(paths_collect(3, args, &l, err, sizeof err), RESULT_OK);
	ck_assert_uint_eq(l.n, 5);
	ck_assert_str_eq(l.paths[0], notes);
	char want[512];
	snprintf(want, sizeof want, "%s/sub/c.yaml", dir); /* no double slash */
	ck_assert_str_eq(l.paths[1], want);
	snprintf(want, sizeof want, "%s/sub/deeper/d.yaml", dir);
	ck_assert_str_eq(l.paths[2], want);
	snprintf(want, sizeof want, "%s/sub/linked.yaml", dir);
	ck_assert_str_eq(l.paths[3], want);
	ck_assert_str_eq(l.paths[4], b);
	paths_fini(&l);

	/* An empty folder is no error, just nothing. */
	char empty[512];
	snprintf(empty, sizeof empty, "%s/empty", dir);
	char *eargs[] = {empty};
	ck_assert_int_eq(paths_collect(1, eargs, &l, err, sizeof err), RESULT_OK);
	ck_assert_uint_eq(l.n, 0);
	paths_fini(&l);
	tree_remove(dir);
}
END_TEST

START_TEST(test_paths_missing_path_is_rejected_by_name)
{
	char *args[] = {DATA "good", DATA "no/such/place"};
	struct path_list l = {.paths = NULL, .n = 99};
	char err[256];
	ck_assert_int_eq(paths_collect(2, args, &l, err, sizeof err), RESULT_REJECT);
	ck_assert_str_eq(err, DATA "no/such/place: No such file or directory");
	ck_assert_uint_eq(l.n, 99); /* untouched on failure */
	char *empty[] = {""};
	ck_assert_int_eq(paths_collect(1, empty, &l, err, sizeof err), RESULT_REJECT);
	ck_assert_str_eq(err, "'': empty path");
}
END_TEST

Suite *check_scenario_suite(void);
Suite *check_scenario_suite(void)
{
	Suite *s = suite_create("scenario");
	TCase *tc = tcase_create("load");
	tcase_add_test(tc, test_scenario_full_example_fills_every_field);
	tcase_add_test(tc, test_scenario_expect_reached_takes_variant_prefixes);
	tcase_add_test(tc, test_scenario_defaults_fill_what_the_file_leaves_out);
	tcase_add_test(tc, test_scenario_empty_sections_take_the_defaults);
	tcase_add_test(tc, test_scenario_name_defaults_to_base_name_without_extension);
	tcase_add_test(tc, test_scenario_invariants_default_to_those_of_the_fixes);
	tcase_add_test(tc, test_scenario_seed_list_replaces_the_range);
	tcase_add_test(tc, test_scenario_schedule_entry_fires_once_on_its_ordinal);
	tcase_add_test(tc, test_scenario_quote_fields_keep_nul_crlf_and_utf8);
	tcase_add_test(tc, test_scenario_quote_field_limit_is_text_max_minus_one);
	tcase_add_test(tc, test_scenario_good_sample_files_load);
	tcase_add_test(tc, test_scenario_names_round_trip);
	tcase_add_test(tc, test_scenario_error_format_with_and_without_position);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_scenario_rejects_with_line_column_and_key, 0,
	                    (int)(sizeof bad_inline / sizeof bad_inline[0]));
	tcase_add_loop_test(tc, test_scenario_bad_sample_files_name_their_error, 0,
	                    (int)(sizeof bad_files / sizeof bad_files[0]));
	tcase_add_test(tc, test_scenario_too_many_fault_rules_is_rejected_at_the_extra_rule);
	tcase_add_test(tc, test_scenario_rejects_raw_nul_byte_with_its_position);
	tcase_add_test(tc, test_scenario_rejects_input_over_one_mib);
	tcase_add_test(tc, test_scenario_missing_file_and_folder_are_rejected);
	suite_add_tcase(s, tc);

	tc = tcase_create("robustness");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_scenario_every_truncation_of_the_example_is_handled);
	tcase_add_loop_test(tc, test_scenario_damaged_bytes_are_handled, 0, 8);
	suite_add_tcase(s, tc);

	/* The default timeout: a parser that hangs fails here quickly. */
	tc = tcase_create("hostile bytes");
	tcase_add_test(tc, test_scenario_refuses_bytes_that_are_not_utf8);
	tcase_add_test(tc, test_scenario_refuses_escaped_quotes_in_a_row);
	suite_add_tcase(s, tc);

	tc = tcase_create("paths");
	tcase_add_test(tc, test_paths_folder_yields_yaml_files_sorted_by_byte_order);
	tcase_add_test(tc, test_paths_keep_argument_order_and_take_files_as_given);
	tcase_add_test(tc, test_paths_missing_path_is_rejected_by_name);
	suite_add_tcase(s, tc);
	return s;
}
