/* tests/check_fault.c - the fault plan's decisions: matching, occurrence
 * (nth, and_after), windows, arming by an earlier operation, max_fires,
 * probability and its use of randomness, latency draws, restarts. */
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "sim/fault.h"
#include "sim/prng.h"
#include "tests/support/death.h"

/* A rule that fires on every matching operation, as the loader's defaults
 * leave it. */
static struct fault_rule rule_make(enum fault_target t, const char *op, enum fault_kind k)
{
	struct fault_rule r = {
		.target = t,
		.until_us = UINT64_MAX,
		.probability = 1.0,
		.kind = k,
		.pareto_alpha = 1.5,
		.commit_applied_p = 0.5,
	};
	strcpy(r.op, op);
	return r;
}

static void plan_init(struct fault_plan *plan, const struct fault_rule *rules, size_t n)
{
	memset(plan, 0, sizeof *plan);
	if (n > 0)
		memcpy(plan->rules, rules, n * sizeof *rules);
	plan->nrules = n;
	fault_plan_reset(plan);
}

static bool decide(struct fault_plan *plan, struct prng *rng, enum fault_target t,
                   const char *op, uint64_t now_us, struct fault_decision *d)
{
	return fault_plan_decide(plan, rng, t, op, now_us, d);
}

static bool prng_same(const struct prng *a, const struct prng *b)
{
	return memcmp(a->s, b->s, sizeof a->s) == 0;
}

START_TEST(test_fault_names_round_trip_with_their_spelling)
{
	const char *targets[] = {"redis", "postgres", "stripe", "mail", "webhook"};
	for (int i = 0; i < FAULT_TARGET_COUNT; i++) {
		enum fault_target t;
		ck_assert_str_eq(fault_target_name((enum fault_target)i), targets[i]);
		ck_assert(fault_target_parse(targets[i], &t));
		ck_assert_int_eq(t, i);
	}
	const char *kinds[] = {"error",  "timeout-applied", "timeout-not-applied",
	                       "conn-lost", "server-error",  "latency",
	                       "stall", "pool-exhausted", "restart", "bad-reply"};
	ck_assert_int_eq(sizeof kinds / sizeof kinds[0], FAULT_KIND_COUNT);
	for (int i = 0; i < FAULT_KIND_COUNT; i++) {
		enum fault_kind k;
		ck_assert_str_eq(fault_kind_name((enum fault_kind)i), kinds[i]);
		ck_assert(fault_kind_parse(kinds[i], &k));
		ck_assert_int_eq(k, i);
	}
	enum fault_kind k = FAULT_STALL;
	ck_assert(!fault_kind_parse("timeout_applied", &k));
	ck_assert(!fault_kind_parse("", &k));
	ck_assert_int_eq(k, FAULT_STALL);
	ck_assert(!fault_target_parse("Redis", NULL));
}
END_TEST

START_TEST(test_fault_rule_matches_only_its_target_and_op)
{
	struct fault_plan plan;
	struct fault_rule r = rule_make(FAULT_TARGET_REDIS, "expire", FAULT_ERROR);
	plan_init(&plan, &r, 1);
	struct prng rng;
	prng_init(&rng, 1);
	struct fault_decision d;
	ck_assert(!decide(&plan, &rng, FAULT_TARGET_REDIS, "incr", 0, &d));
	ck_assert(!decide(&plan, &rng, FAULT_TARGET_POSTGRES, "expire", 0, &d));
	ck_assert_uint_eq(plan.matched[0], 0);
	ck_assert(decide(&plan, &rng, FAULT_TARGET_REDIS, "expire", 0, &d));
	ck_assert_ptr_eq(d.rule, &plan.rules[0]);
	ck_assert_uint_eq(d.index, 0);
	ck_assert_uint_eq(plan.matched[0], 1);
	ck_assert_uint_eq(plan.fired[0], 1);
}
END_TEST

START_TEST(test_fault_star_op_matches_every_op_of_the_target)
{
	struct fault_plan plan;
	struct fault_rule r = rule_make(FAULT_TARGET_POSTGRES, "*", FAULT_TIMEOUT_APPLIED);
	plan_init(&plan, &r, 1);
	struct prng rng;
	prng_init(&rng, 1);
	struct fault_decision d;
	ck_assert(decide(&plan, &rng, FAULT_TARGET_POSTGRES, "acquire", 0, &d));
	ck_assert(decide(&plan, &rng, FAULT_TARGET_POSTGRES, "event_insert_new", 0, &d));
	ck_assert(!decide(&plan, &rng, FAULT_TARGET_REDIS, "incr", 0, &d));
	ck_assert_uint_eq(plan.matched[0], 2);
}
END_TEST

/* The sweep of SQLite's fault tests: fail operation N (the loop index),
 * once; every other operation goes through. */
START_TEST(test_fault_nth_fails_exactly_that_occurrence)
{
	uint32_t n = (uint32_t)_i;
	struct fault_plan plan;
	struct fault_rule r = rule_make(FAULT_TARGET_REDIS, "expire", FAULT_ERROR);
	r.nth = n;
	plan_init(&plan, &r, 1);
	struct prng rng;
	prng_init(&rng, (uint64_t)_i);
	for (uint32_t k = 1; k <= 12; k++) {
		struct fault_decision d;
		ck_assert_int_eq(decide(&plan, &rng, FAULT_TARGET_REDIS, "expire", k, &d), k == n);
	}
	ck_assert_uint_eq(plan.matched[0], 12);
	ck_assert_uint_eq(plan.fired[0], 1);
}
END_TEST

/* ... and once then for good: N and every later one. */
START_TEST(test_fault_nth_and_after_fails_from_nth_on)
{
	uint32_t n = (uint32_t)_i;
	struct fault_plan plan;
	struct fault_rule r = rule_make(FAULT_TARGET_REDIS, "*", FAULT_ERROR);
	r.nth = n;
	r.and_after = true;
	plan_init(&plan, &r, 1);
	struct prng rng;
	prng_init(&rng, (uint64_t)_i);
	for (uint32_t k = 1; k <= 12; k++) {
		struct fault_decision d;
		ck_assert_int_eq(decide(&plan, &rng, FAULT_TARGET_REDIS, "get", k, &d), k >= n);
	}
	ck_assert_uint_eq(plan.fired[0], 12 - n + 1);
}
END_TEST

START_TEST(test_fault_window_includes_from_and_excludes_until)
{
	struct fault_plan plan;
	struct fault_rule r = rule_make(FAULT_TARGET_STRIPE, "*", FAULT_ERROR);
	r.from_us = 10;
	r.until_us = 20;
	plan_init(&plan, &r, 1);
	struct prng rng;
	prng_init(&rng, 1);
	struct fault_decision d;
	ck_assert(!decide(&plan, &rng, FAULT_TARGET_STRIPE, "customers.create", 9, &d));
	ck_assert(decide(&plan, &rng, FAULT_TARGET_STRIPE, "customers.create", 10, &d));
	ck_assert(decide(&plan, &rng, FAULT_TARGET_STRIPE, "customers.create", 19, &d));
	ck_assert(!decide(&plan, &rng, FAULT_TARGET_STRIPE, "customers.create", 20, &d));
	/* Operations outside the window still count toward nth. */
	ck_assert_uint_eq(plan.matched[0], 4);
}
END_TEST

START_TEST(test_fault_after_event_arms_only_on_that_target_and_op)
{
	struct fault_plan plan;
	struct fault_rule r = rule_make(FAULT_TARGET_POSTGRES, "event_mark_processed",
	                                FAULT_CONN_LOST);
	strcpy(r.after_event, "postgres.event_insert_new");
	plan_init(&plan, &r, 1);
	struct prng rng;
	prng_init(&rng, 1);
	struct fault_decision d;
	ck_assert(!decide(&plan, &rng, FAULT_TARGET_POSTGRES, "event_mark_processed", 0, &d));
	fault_plan_note(&plan, FAULT_TARGET_POSTGRES, "event_insert");
	fault_plan_note(&plan, FAULT_TARGET_POSTGRES, "event_insert_new_x");
	fault_plan_note(&plan, FAULT_TARGET_REDIS, "event_insert_new");
	ck_assert(!plan.armed[0]);
	ck_assert(!decide(&plan, &rng, FAULT_TARGET_POSTGRES, "event_mark_processed", 0, &d));
	fault_plan_note(&plan, FAULT_TARGET_POSTGRES, "event_insert_new");
	ck_assert(plan.armed[0]);
	ck_assert(decide(&plan, &rng, FAULT_TARGET_POSTGRES, "event_mark_processed", 0, &d));
	ck_assert_uint_eq(plan.matched[0], 3);
}
END_TEST

START_TEST(test_fault_max_fires_stops_the_rule)
{
	struct fault_plan plan;
	struct fault_rule r = rule_make(FAULT_TARGET_MAIL, "send", FAULT_TIMEOUT_NOT_APPLIED);
	r.max_fires = 2;
	plan_init(&plan, &r, 1);
	struct prng rng;
	prng_init(&rng, 1);
	struct fault_decision d;
	ck_assert(decide(&plan, &rng, FAULT_TARGET_MAIL, "send", 0, &d));
	ck_assert(decide(&plan, &rng, FAULT_TARGET_MAIL, "send", 0, &d));
	for (int k = 0; k < 5; k++)
		ck_assert(!decide(&plan, &rng, FAULT_TARGET_MAIL, "send", 0, &d));
	ck_assert_uint_eq(plan.fired[0], 2);
	ck_assert_uint_eq(plan.matched[0], 7);
}
END_TEST

START_TEST(test_fault_probability_zero_never_fires_and_draws_nothing)
{
	struct fault_plan plan;
	struct fault_rule r = rule_make(FAULT_TARGET_REDIS, "*", FAULT_ERROR);
	r.probability = 0.0;
	plan_init(&plan, &r, 1);
	struct prng rng, before;
	prng_init(&rng, 99);
	before = rng;
	struct fault_decision d;
	for (int k = 0; k < 1000; k++)
		ck_assert(!decide(&plan, &rng, FAULT_TARGET_REDIS, "incr", (uint64_t)k, &d));
	ck_assert(prng_same(&rng, &before));
	ck_assert_uint_eq(plan.matched[0], 1000);
}
END_TEST

START_TEST(test_fault_probability_one_always_fires_and_draws_nothing)
{
	struct fault_plan plan;
	struct fault_rule r = rule_make(FAULT_TARGET_REDIS, "*", FAULT_ERROR);
	plan_init(&plan, &r, 1);
	struct prng rng, before;
	prng_init(&rng, 99);
	before = rng;
	struct fault_decision d;
	for (int k = 0; k < 1000; k++)
		ck_assert(decide(&plan, &rng, FAULT_TARGET_REDIS, "incr", (uint64_t)k, &d));
	ck_assert(prng_same(&rng, &before));
}
END_TEST

/* A quarter of the operations fail, and the same seed picks the same ones. */
START_TEST(test_fault_probability_fires_at_its_rate_reproducibly)
{
	struct fault_plan plan;
	struct fault_rule r = rule_make(FAULT_TARGET_REDIS, "*", FAULT_ERROR);
	r.probability = 0.25;
	plan_init(&plan, &r, 1);
	struct prng a, b;
	prng_init(&a, 2024);
	prng_init(&b, 2024);
	int fired = 0;
	struct fault_decision d;
	for (int k = 0; k < 8000; k++) {
		bool x = decide(&plan, &a, FAULT_TARGET_REDIS, "incr", 0, &d);
		fired += x;
		ck_assert_int_eq(x, prng_chance(&b, 0.25));
	}
	ck_assert_int_ge(fired, 1800);
	ck_assert_int_le(fired, 2200);
}
END_TEST

/* File order decides; every matching rule still counts the operation. */
START_TEST(test_fault_first_rule_in_file_order_wins_and_all_count)
{
	struct fault_rule rules[2] = {
		rule_make(FAULT_TARGET_REDIS, "expire", FAULT_ERROR),
		rule_make(FAULT_TARGET_REDIS, "*", FAULT_TIMEOUT_APPLIED),
	};
	rules[0].nth = 1;
	rules[1].nth = 2;
	struct fault_plan plan;
	plan_init(&plan, rules, 2);
	struct prng rng;
	prng_init(&rng, 1);
	struct fault_decision d;
	ck_assert(decide(&plan, &rng, FAULT_TARGET_REDIS, "expire", 0, &d));
	ck_assert_uint_eq(d.index, 0);
	ck_assert_uint_eq(plan.matched[1], 1);
	ck_assert(decide(&plan, &rng, FAULT_TARGET_REDIS, "expire", 0, &d));
	ck_assert_uint_eq(d.index, 1);
	ck_assert_int_eq(d.rule->kind, FAULT_TIMEOUT_APPLIED);
	ck_assert_uint_eq(plan.matched[0], 2);
	ck_assert_uint_eq(plan.matched[1], 2);
}
END_TEST

START_TEST(test_fault_decision_untouched_when_nothing_fires)
{
	struct fault_plan plan;
	struct fault_rule r = rule_make(FAULT_TARGET_REDIS, "del", FAULT_ERROR);
	plan_init(&plan, &r, 1);
	struct prng rng;
	prng_init(&rng, 1);
	struct fault_decision d = {.index = 77, .latency_us = 5};
	ck_assert(!decide(&plan, &rng, FAULT_TARGET_REDIS, "get", 0, &d));
	ck_assert_uint_eq(d.index, 77);
	ck_assert_uint_eq(d.latency_us, 5);
}
END_TEST

START_TEST(test_fault_latency_fixed_is_exact)
{
	struct fault_plan plan;
	struct fault_rule r = rule_make(FAULT_TARGET_REDIS, "*", FAULT_LATENCY);
	r.dist = FAULT_DIST_FIXED;
	r.latency_us = r.latency_max_us = 5000;
	plan_init(&plan, &r, 1);
	struct prng rng;
	prng_init(&rng, 3);
	struct fault_decision d;
	ck_assert(decide(&plan, &rng, FAULT_TARGET_REDIS, "get", 0, &d));
	ck_assert_uint_eq(d.latency_us, 5000);
}
END_TEST

START_TEST(test_fault_latency_uniform_stays_within_bounds)
{
	struct fault_plan plan;
	struct fault_rule r = rule_make(FAULT_TARGET_REDIS, "*", FAULT_LATENCY);
	r.dist = FAULT_DIST_UNIFORM;
	r.latency_us = 1000;
	r.latency_max_us = 5000;
	plan_init(&plan, &r, 1);
	struct prng rng;
	prng_init(&rng, (uint64_t)_i);
	uint64_t lo = UINT64_MAX, hi = 0;
	for (int k = 0; k < 2000; k++) {
		struct fault_decision d;
		ck_assert(decide(&plan, &rng, FAULT_TARGET_REDIS, "get", 0, &d));
		ck_assert_uint_ge(d.latency_us, 1000);
		ck_assert_uint_le(d.latency_us, 5000);
		lo = d.latency_us < lo ? d.latency_us : lo;
		hi = d.latency_us > hi ? d.latency_us : hi;
	}
	ck_assert_uint_lt(lo, 1100);
	ck_assert_uint_gt(hi, 4900);
}
END_TEST

START_TEST(test_fault_latency_pareto_starts_at_scale_and_is_capped)
{
	struct fault_plan plan;
	struct fault_rule r = rule_make(FAULT_TARGET_MAIL, "*", FAULT_LATENCY);
	r.dist = FAULT_DIST_PARETO;
	r.latency_us = 1000;
	r.latency_max_us = 10000;
	r.pareto_alpha = 1.5;
	plan_init(&plan, &r, 1);
	struct prng rng;
	prng_init(&rng, (uint64_t)_i);
	int capped = 0, below_2x = 0;
	for (int k = 0; k < 2000; k++) {
		struct fault_decision d;
		ck_assert(decide(&plan, &rng, FAULT_TARGET_MAIL, "send", 0, &d));
		ck_assert_uint_ge(d.latency_us, 1000);
		ck_assert_uint_le(d.latency_us, 10000);
		capped += d.latency_us == 10000;
		below_2x += d.latency_us < 2000;
	}
	/* P(x > 10 scale) = 10^-1.5, about 3%; P(x < 2 scale) = 1 - 2^-1.5,
	 * about 65%. */
	ck_assert_int_gt(capped, 20);
	ck_assert_int_lt(capped, 130);
	ck_assert_int_gt(below_2x, 1150);
	ck_assert_int_lt(below_2x, 1450);
}
END_TEST

/* A lost Postgres connection draws whether the statement committed (a
 * COMMIT, or an autocommit statement: simnet tells them from statements
 * inside a transaction); another target's never draws. */
START_TEST(test_fault_conn_lost_draws_commit_outcome_on_postgres_only)
{
	struct fault_plan plan;
	struct fault_rule r = rule_make(FAULT_TARGET_POSTGRES, "*", FAULT_CONN_LOST);
	r.commit_applied_p = 1.0;
	plan_init(&plan, &r, 1);
	struct prng rng;
	prng_init(&rng, 5);
	struct fault_decision d;
	ck_assert(decide(&plan, &rng, FAULT_TARGET_POSTGRES, "commit", 0, &d));
	ck_assert(d.commit_applied);
	ck_assert(decide(&plan, &rng, FAULT_TARGET_POSTGRES, "customer_insert", 0, &d));
	ck_assert(d.commit_applied);

	plan.rules[0].commit_applied_p = 0.5;
	int applied = 0;
	for (int k = 0; k < 1000; k++) {
		ck_assert(decide(&plan, &rng, FAULT_TARGET_POSTGRES, k % 2 ? "commit" : "quote_claim",
		              0, &d));
		applied += d.commit_applied;
	}
	ck_assert_int_gt(applied, 400);
	ck_assert_int_lt(applied, 600);

	struct fault_rule rr = rule_make(FAULT_TARGET_REDIS, "*", FAULT_CONN_LOST);
	rr.commit_applied_p = 0.5;
	plan_init(&plan, &rr, 1);
	struct prng before = rng;
	ck_assert(decide(&plan, &rng, FAULT_TARGET_REDIS, "set", 0, &d));
	ck_assert(!d.commit_applied);
	ck_assert(prng_same(&rng, &before));
}
END_TEST

START_TEST(test_fault_restart_holds_target_down_from_start_for_duration)
{
	struct fault_rule rules[2] = {
		rule_make(FAULT_TARGET_REDIS, "get", FAULT_ERROR),
		rule_make(FAULT_TARGET_REDIS, "*", FAULT_RESTART),
	};
	rules[0].from_us = 1000; /* never reached below */
	rules[1].from_us = 100;
	rules[1].duration_us = 50;
	struct fault_plan plan;
	plan_init(&plan, rules, 2);
	struct prng rng;
	prng_init(&rng, 1);
	struct fault_decision d;
	ck_assert(!decide(&plan, &rng, FAULT_TARGET_REDIS, "get", 120, &d));
	size_t idx = 99;
	ck_assert(!fault_plan_down(&plan, FAULT_TARGET_REDIS, 99, &idx));
	ck_assert_uint_eq(idx, 99);
	ck_assert(fault_plan_down(&plan, FAULT_TARGET_REDIS, 100, &idx));
	ck_assert_uint_eq(idx, 1);
	ck_assert(fault_plan_down(&plan, FAULT_TARGET_REDIS, 149, NULL));
	ck_assert(!fault_plan_down(&plan, FAULT_TARGET_REDIS, 150, NULL));
	ck_assert(!fault_plan_down(&plan, FAULT_TARGET_POSTGRES, 120, NULL));
}
END_TEST

START_TEST(test_fault_restart_near_the_end_of_time_does_not_wrap)
{
	struct fault_plan plan;
	struct fault_rule r = rule_make(FAULT_TARGET_MAIL, "*", FAULT_RESTART);
	r.from_us = UINT64_MAX - 10;
	r.duration_us = 100;
	plan_init(&plan, &r, 1);
	ck_assert(!fault_plan_down(&plan, FAULT_TARGET_MAIL, 5, NULL));
	ck_assert(fault_plan_down(&plan, FAULT_TARGET_MAIL, UINT64_MAX, NULL));
}
END_TEST

START_TEST(test_fault_reset_starts_counts_and_arming_afresh)
{
	struct fault_plan plan;
	struct fault_rule r = rule_make(FAULT_TARGET_WEBHOOK, "deliver", FAULT_STALL);
	r.nth = 1;
	strcpy(r.after_event, "stripe.customers.create");
	plan_init(&plan, &r, 1);
	struct prng rng;
	prng_init(&rng, 1);
	struct fault_decision d;
	fault_plan_note(&plan, FAULT_TARGET_STRIPE, "customers.create");
	ck_assert(decide(&plan, &rng, FAULT_TARGET_WEBHOOK, "deliver", 0, &d));
	ck_assert(!decide(&plan, &rng, FAULT_TARGET_WEBHOOK, "deliver", 0, &d));
	fault_plan_reset(&plan);
	ck_assert(!plan.armed[0]);
	ck_assert_uint_eq(plan.matched[0], 0);
	ck_assert_uint_eq(plan.fired[0], 0);
	fault_plan_note(&plan, FAULT_TARGET_STRIPE, "customers.create");
	ck_assert(decide(&plan, &rng, FAULT_TARGET_WEBHOOK, "deliver", 0, &d));
}
END_TEST

/* A NULL op is a bug in the caller: the assertion stops the run. */
START_TEST(test_fault_decide_asserts_on_null_op)
{
	death_expect("op != NULL");
	struct fault_plan plan;
	plan_init(&plan, NULL, 0);
	struct prng rng;
	prng_init(&rng, 1);
	struct fault_decision d;
	(void)fault_plan_decide(&plan, &rng, FAULT_TARGET_REDIS, NULL, 0, &d);
}
END_TEST

Suite *check_fault_suite(void);
Suite *check_fault_suite(void)
{
	Suite *s = suite_create("fault");
	TCase *tc = tcase_create("contract");
	tcase_add_test(tc, test_fault_names_round_trip_with_their_spelling);
	tcase_add_test(tc, test_fault_rule_matches_only_its_target_and_op);
	tcase_add_test(tc, test_fault_star_op_matches_every_op_of_the_target);
	tcase_add_test(tc, test_fault_first_rule_in_file_order_wins_and_all_count);
	tcase_add_test(tc, test_fault_decision_untouched_when_nothing_fires);
	tcase_add_test(tc, test_fault_reset_starts_counts_and_arming_afresh);
	tcase_add_test_raise_signal(tc, test_fault_decide_asserts_on_null_op, SIGABRT);
	suite_add_tcase(s, tc);

	tc = tcase_create("when");
	tcase_add_loop_test(tc, test_fault_nth_fails_exactly_that_occurrence, 1, 13);
	tcase_add_loop_test(tc, test_fault_nth_and_after_fails_from_nth_on, 1, 13);
	tcase_add_test(tc, test_fault_window_includes_from_and_excludes_until);
	tcase_add_test(tc, test_fault_after_event_arms_only_on_that_target_and_op);
	tcase_add_test(tc, test_fault_max_fires_stops_the_rule);
	tcase_add_test(tc, test_fault_probability_zero_never_fires_and_draws_nothing);
	tcase_add_test(tc, test_fault_probability_one_always_fires_and_draws_nothing);
	tcase_add_test(tc, test_fault_probability_fires_at_its_rate_reproducibly);
	suite_add_tcase(s, tc);

	tc = tcase_create("how");
	tcase_add_test(tc, test_fault_latency_fixed_is_exact);
	tcase_add_loop_test(tc, test_fault_latency_uniform_stays_within_bounds, 0, 4);
	tcase_add_loop_test(tc, test_fault_latency_pareto_starts_at_scale_and_is_capped, 0, 4);
	tcase_add_test(tc, test_fault_conn_lost_draws_commit_outcome_on_postgres_only);
	tcase_add_test(tc, test_fault_restart_holds_target_down_from_start_for_duration);
	tcase_add_test(tc, test_fault_restart_near_the_end_of_time_does_not_wrap);
	suite_add_tcase(s, tc);
	return s;
}
