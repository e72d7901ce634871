/* tests/check_ratelimit.c - the rate limiter in its three variants against
 * the scripted env: the contract, each injected outcome, the legacy and
 * seed lockout reproduced, the hardened no-lockout guarantee, and a sweep
 * that fails port operation N once and for good. */
#include <check.h>
#include <signal.h>
#include <string.h>

#include "core/ratelimit.h"
#include "tests/support/fake_env.h"
#include "tests/support/sweep.h"
#include "tests/support/death.h"

#define WINDOW_MS 60000
#define LIMIT 3

struct hit_result {
	int calls;
	enum result rc;
	enum ratelimit_verdict verdict;
};

static void on_hit(void *arg, enum result rc, enum ratelimit_verdict verdict)
{
	struct hit_result *r = arg;
	r->calls++;
	r->rc = rc;
	r->verdict = verdict;
}

struct fixture {
	struct fake_env *fe;
	struct ratelimit *rl;
};

static struct fixture setup(enum variant v, bool fail_open)
{
	struct fixture f;
	f.fe = fake_env_create(1);
	struct ratelimit_config cfg = {.variant = v, .limit = LIMIT, .window_ms = WINDOW_MS,
	                               .fail_open = fail_open};
	f.rl = ratelimit_create(fake_env_core(f.fe), &cfg);
	ck_assert_ptr_nonnull(f.rl);
	return f;
}

static void teardown(struct fixture *f)
{
	ck_assert_int_eq(fake_env_pending(f->fe), 0);
	ratelimit_destroy(f->rl);
	fake_env_destroy(f->fe);
}

/* One hit, run to completion; done must not have run before the return. */
static struct hit_result hit(struct fixture *f, const char *user)
{
	struct hit_result r = {0};
	ratelimit_hit(f->rl, user, on_hit, &r);
	ck_assert_int_eq(r.calls, 0);
	fake_env_run(f->fe);
	ck_assert_int_eq(r.calls, 1);
	return r;
}

/* ---- contract, every variant (loop index = variant) ---------------------- */

START_TEST(test_ratelimit_allows_limit_hits_then_rejects)
{
	struct fixture f = setup((enum variant)_i, false);
	for (int k = 0; k < LIMIT; k++) {
		struct hit_result r = hit(&f, "u1");
		ck_assert_int_eq(r.rc, RESULT_OK);
		ck_assert_int_eq(r.verdict, RATELIMIT_ALLOW);
	}
	struct hit_result r = hit(&f, "u1");
	ck_assert_int_eq(r.rc, RESULT_OK);
	ck_assert_int_eq(r.verdict, RATELIMIT_REJECT);
	/* another user has a counter of its own */
	r = hit(&f, "u2");
	ck_assert_int_eq(r.verdict, RATELIMIT_ALLOW);
	ck_assert_str_eq(fake_env_kv_get(f.fe, "ratelimit:u1"), "4");
	ck_assert_int_eq(fake_env_logs(f.fe), 0);
	teardown(&f);
}
END_TEST

START_TEST(test_ratelimit_window_end_resets_the_count)
{
	struct fixture f = setup((enum variant)_i, false);
	for (int k = 0; k <= LIMIT; k++)
		hit(&f, "u1");
	ck_assert_int_eq(hit(&f, "u1").verdict, RATELIMIT_REJECT);
	fake_env_advance_ms(f.fe, WINDOW_MS);
	struct hit_result r = hit(&f, "u1");
	ck_assert_int_eq(r.rc, RESULT_OK);
	ck_assert_int_eq(r.verdict, RATELIMIT_ALLOW);
	ck_assert_str_eq(fake_env_kv_get(f.fe, "ratelimit:u1"), "1");
	teardown(&f);
}
END_TEST

START_TEST(test_ratelimit_refuses_empty_and_overlong_user_ids_later)
{
	struct fixture f = setup((enum variant)_i, true);
	char longid[RATELIMIT_USER_ID_MAX + 2];
	memset(longid, 'x', sizeof longid - 1);
	longid[sizeof longid - 1] = '\0';
	const char *bad[] = {NULL, "", longid};
	for (int k = 0; k < 3; k++) {
		struct hit_result r = hit(&f, bad[k]);
		ck_assert_int_eq(r.rc, RESULT_REJECT);
		ck_assert_int_eq(r.verdict, RATELIMIT_REJECT);
	}
	ck_assert_int_eq(fake_env_ops(f.fe), 0);
	longid[RATELIMIT_USER_ID_MAX] = '\0'; /* exactly the maximum is fine */
	ck_assert_int_eq(hit(&f, longid).rc, RESULT_OK);
	teardown(&f);
}
END_TEST

START_TEST(test_ratelimit_create_refuses_out_of_range_config)
{
	struct fake_env *fe = fake_env_create(1);
	struct ratelimit_config cfg = {.variant = VARIANT_HARDENED, .limit = 0, .window_ms = 1000};
	ck_assert_ptr_null(ratelimit_create(fake_env_core(fe), &cfg));
	cfg.limit = 1;
	cfg.window_ms = 0;
	ck_assert_ptr_null(ratelimit_create(fake_env_core(fe), &cfg));
	cfg.window_ms = RATELIMIT_WINDOW_MS_MAX + 1;
	ck_assert_ptr_null(ratelimit_create(fake_env_core(fe), &cfg));
	/* a month and a (leap) year are in range */
	cfg.window_ms = 31ull * 86400 * 1000;
	struct ratelimit *rl = ratelimit_create(fake_env_core(fe), &cfg);
	ck_assert_ptr_nonnull(rl);
	ratelimit_destroy(rl);
	cfg.window_ms = RATELIMIT_WINDOW_MS_MAX;
	rl = ratelimit_create(fake_env_core(fe), &cfg);
	ck_assert_ptr_nonnull(rl);
	ratelimit_destroy(rl);
	ratelimit_destroy(NULL);
	fake_env_destroy(fe);
}
END_TEST

START_TEST(test_ratelimit_legacy_and_seed_expire_whole_seconds_on_first_hit_only)
{
	struct fake_env *fe = fake_env_create(1);
	struct ratelimit_config cfg = {.variant = (enum variant)_i, .limit = 5, .window_ms = 1500};
	struct ratelimit *rl = ratelimit_create(fake_env_core(fe), &cfg);
	struct hit_result r = {0};
	ratelimit_hit(rl, "u1", on_hit, &r);
	fake_env_run(fe);
	ratelimit_hit(rl, "u1", on_hit, &r);
	fake_env_run(fe);
	ck_assert_int_eq(r.calls, 2);
	ck_assert_int_eq(fake_env_calls(fe), 3);
	ck_assert_str_eq(fake_env_call(fe, 0), "kv INCR ratelimit:u1");
	ck_assert_str_eq(fake_env_call(fe, 1), "kv EXPIRE ratelimit:u1 2"); /* 1.5 s rounds up */
	ck_assert_str_eq(fake_env_call(fe, 2), "kv INCR ratelimit:u1");
	ratelimit_destroy(rl);
	fake_env_destroy(fe);
}
END_TEST

START_TEST(test_ratelimit_hardened_sends_one_transaction_per_hit)
{
	struct fixture f = setup(VARIANT_HARDENED, false);
	hit(&f, "u1");
	hit(&f, "u1");
	ck_assert_int_eq(fake_env_calls(f.fe), 2);
	ck_assert_str_eq(fake_env_call(f.fe, 0), "kv MULTI INCR ratelimit:u1 | PEXPIRE ratelimit:u1 60000 NX");
	ck_assert_str_eq(fake_env_call(f.fe, 1), "kv MULTI INCR ratelimit:u1 | PEXPIRE ratelimit:u1 60000 NX");
	teardown(&f);
}
END_TEST

/* ---- legacy ------------------------------------------------------------------ */

START_TEST(test_ratelimit_legacy_expire_failure_locks_user_out)
{
	struct fixture f = setup(VARIANT_LEGACY, false);
	fake_env_fail(f.fe, "kv EXPIRE", 1, 1, OUTCOME_TIMEOUT);
	struct hit_result r = hit(&f, "u1");
	/* the failure is swallowed: the caller never hears of it */
	ck_assert_int_eq(r.rc, RESULT_OK);
	ck_assert_int_eq(r.verdict, RATELIMIT_ALLOW);
	ck_assert_int_eq(fake_env_kv_pttl_ms(f.fe, "ratelimit:u1"), -1);
	for (int k = 1; k < LIMIT; k++)
		ck_assert_int_eq(hit(&f, "u1").verdict, RATELIMIT_ALLOW);
	/* a day later, and still rejected: no TTL, no INCR ever returns 1 again */
	for (int day = 0; day < 3; day++) {
		fake_env_advance_ms(f.fe, 86400u * 1000u);
		r = hit(&f, "u1");
		ck_assert_int_eq(r.rc, RESULT_OK);
		ck_assert_int_eq(r.verdict, RATELIMIT_REJECT);
	}
	ck_assert_int_eq(fake_env_kv_pttl_ms(f.fe, "ratelimit:u1"), -1);
	ck_assert_int_eq(fake_env_count(f.fe, "kv EXPIRE"), 1);
	ck_assert_int_eq(fake_env_log_count(f.fe, "RateLimit"), 0);
	teardown(&f);
}
END_TEST

START_TEST(test_ratelimit_legacy_ignores_expire_error_reply_and_conn_loss)
{
	enum outcome ocs[] = {OUTCOME_ERROR, OUTCOME_CONN_LOST};
	for (int k = 0; k < 2; k++) {
		struct fixture f = setup(VARIANT_LEGACY, false);
		fake_env_fail(f.fe, "kv EXPIRE", 1, 1, ocs[k]);
		struct hit_result r = hit(&f, "u1");
		ck_assert_int_eq(r.rc, RESULT_OK);
		ck_assert_int_eq(r.verdict, RATELIMIT_ALLOW);
		ck_assert_int_eq(fake_env_kv_pttl_ms(f.fe, "ratelimit:u1"), -1);
		teardown(&f);
	}
}
END_TEST

START_TEST(test_ratelimit_legacy_and_seed_incr_failure_is_an_error)
{
	enum outcome ocs[] = {OUTCOME_TIMEOUT, OUTCOME_CONN_LOST, OUTCOME_ERROR};
	enum variant v = (enum variant)_i;
	for (int k = 0; k < 3; k++) {
		struct fixture f = setup(v, false);
		fake_env_fail(f.fe, "kv INCR", 1, 1, ocs[k]);
		struct hit_result r = hit(&f, "u1");
		ck_assert_int_eq(r.rc, RESULT_ERROR);
		ck_assert_int_eq(r.verdict, RATELIMIT_REJECT);
		ck_assert_int_eq(fake_env_count(f.fe, "kv EXPIRE"), 0);
		ck_assert_int_eq(fake_env_log_count(f.fe, "RateLimit"), v == VARIANT_SEED ? 1 : 0);
		teardown(&f);
	}
}
END_TEST

/* ---- seed ---------------------------------------------------------------------- */

START_TEST(test_ratelimit_seed_expire_failure_errors_out_and_logs_user_and_key)
{
	enum outcome ocs[] = {OUTCOME_TIMEOUT, OUTCOME_CONN_LOST, OUTCOME_ERROR};
	for (int k = 0; k < 3; k++) {
		struct fixture f = setup(VARIANT_SEED, false);
		fake_env_fail(f.fe, "kv EXPIRE", 1, 1, ocs[k]);
		struct hit_result r = hit(&f, "u1");
		ck_assert_int_eq(r.rc, RESULT_ERROR);
		ck_assert_int_eq(r.verdict, RATELIMIT_REJECT);
		ck_assert_int_eq(fake_env_log_count(f.fe, "RateLimit"), 1);
		ck_assert(fake_env_log_has(f.fe, "RateLimit", "user u1"));
		ck_assert(fake_env_log_has(f.fe, "RateLimit", "key ratelimit:u1"));
		teardown(&f);
	}
}
END_TEST

START_TEST(test_ratelimit_seed_expire_failure_still_locks_user_out)
{
	struct fixture f = setup(VARIANT_SEED, false);
	fake_env_fail(f.fe, "kv EXPIRE", 1, 1, OUTCOME_TIMEOUT);
	ck_assert_int_eq(hit(&f, "u1").rc, RESULT_ERROR);
	/* nothing cleans up: the counted key stays without a TTL */
	ck_assert_int_eq(fake_env_kv_pttl_ms(f.fe, "ratelimit:u1"), -1);
	for (int k = 1; k < LIMIT; k++)
		ck_assert_int_eq(hit(&f, "u1").verdict, RATELIMIT_ALLOW);
	fake_env_advance_ms(f.fe, 7 * 86400u * 1000u);
	struct hit_result r = hit(&f, "u1");
	ck_assert_int_eq(r.rc, RESULT_OK);
	ck_assert_int_eq(r.verdict, RATELIMIT_REJECT);
	teardown(&f);
}
END_TEST

START_TEST(test_ratelimit_seed_expire_answered_zero_is_a_failure)
{
	struct fixture f = setup(VARIANT_SEED, false);
	fake_env_answer_kv_integer(f.fe, "kv EXPIRE", 1, 1, 0);
	ck_assert_int_eq(hit(&f, "u1").rc, RESULT_ERROR);
	ck_assert(fake_env_log_has(f.fe, "RateLimit", "unexpected reply"));
	teardown(&f);
}
END_TEST

/* ---- hardened ------------------------------------------------------------------ */

START_TEST(test_ratelimit_hardened_repairs_a_key_without_ttl)
{
	struct fixture f = setup(VARIANT_HARDENED, false);
	fake_env_kv_set(f.fe, "ratelimit:u1", "7", 0); /* left by a weaker variant */
	struct hit_result r = hit(&f, "u1");
	ck_assert_int_eq(r.rc, RESULT_OK);
	ck_assert_int_eq(r.verdict, RATELIMIT_REJECT);
	ck_assert_int_eq(fake_env_kv_pttl_ms(f.fe, "ratelimit:u1"), WINDOW_MS);
	fake_env_advance_ms(f.fe, WINDOW_MS);
	ck_assert_int_eq(hit(&f, "u1").verdict, RATELIMIT_ALLOW);
	teardown(&f);
}
END_TEST

START_TEST(test_ratelimit_hardened_later_hits_do_not_extend_the_window)
{
	struct fixture f = setup(VARIANT_HARDENED, false);
	hit(&f, "u1");
	fake_env_advance_ms(f.fe, 20000);
	hit(&f, "u1");
	ck_assert_int_eq(fake_env_kv_pttl_ms(f.fe, "ratelimit:u1"), WINDOW_MS - 20000);
	teardown(&f);
}
END_TEST

/* loop index: 0 timeout, 1 conn lost, 2 error reply, 3 error element */
static void script_hardened_failure(struct fake_env *fe, int kind)
{
	switch (kind) {
	case 0: fake_env_fail(fe, "kv MULTI", 1, 1, OUTCOME_TIMEOUT); break;
	case 1: fake_env_fail(fe, "kv MULTI", 1, 1, OUTCOME_CONN_LOST); break;
	case 2: fake_env_fail_kv(fe, "kv MULTI", 1, 1, "LOADING Redis is loading the dataset"); break;
	default: fake_env_fail_kv(fe, "exec PEXPIRE", 1, 1, "ERR wrong number of arguments"); break;
	}
}

START_TEST(test_ratelimit_hardened_failure_fails_open_when_configured)
{
	struct fixture f = setup(VARIANT_HARDENED, true);
	script_hardened_failure(f.fe, _i);
	struct hit_result r = hit(&f, "u1");
	ck_assert_int_eq(r.rc, RESULT_OK);
	ck_assert_int_eq(r.verdict, RATELIMIT_ALLOW);
	ck_assert_int_eq(fake_env_log_count(f.fe, "RateLimit"), 1);
	ck_assert(fake_env_log_has(f.fe, "RateLimit", "failing open"));
	ck_assert(fake_env_log_has(f.fe, "RateLimit", "user u1"));
	teardown(&f);
}
END_TEST

START_TEST(test_ratelimit_hardened_failure_fails_closed_by_default)
{
	struct fixture f = setup(VARIANT_HARDENED, false);
	script_hardened_failure(f.fe, _i);
	struct hit_result r = hit(&f, "u1");
	ck_assert_int_eq(r.rc, RESULT_ERROR);
	ck_assert_int_eq(r.verdict, RATELIMIT_REJECT);
	ck_assert(fake_env_log_has(f.fe, "RateLimit", "failing closed"));
	teardown(&f);
}
END_TEST

START_TEST(test_ratelimit_hardened_expire_failure_does_not_lock_user_out)
{
	/* The fault that locks out legacy and seed: the expiry of the first
	 * hit fails. The next hit sets it. */
	struct fixture f = setup(VARIANT_HARDENED, false);
	fake_env_fail_kv(f.fe, "exec PEXPIRE", 1, 1, "ERR injected");
	ck_assert_int_eq(hit(&f, "u1").rc, RESULT_ERROR);
	ck_assert_int_eq(fake_env_kv_pttl_ms(f.fe, "ratelimit:u1"), -1);
	for (int k = 0; k < LIMIT; k++)
		hit(&f, "u1");
	ck_assert_int_eq(fake_env_kv_pttl_ms(f.fe, "ratelimit:u1"), WINDOW_MS);
	ck_assert_int_eq(hit(&f, "u1").verdict, RATELIMIT_REJECT);
	fake_env_advance_ms(f.fe, WINDOW_MS);
	struct hit_result r = hit(&f, "u1");
	ck_assert_int_eq(r.rc, RESULT_OK);
	ck_assert_int_eq(r.verdict, RATELIMIT_ALLOW);
	teardown(&f);
}
END_TEST

START_TEST(test_ratelimit_hardened_limiter_may_be_destroyed_from_done)
{
	struct fake_env *fe = fake_env_create(1);
	struct ratelimit_config cfg = {.variant = VARIANT_HARDENED, .limit = 1, .window_ms = 1000};
	struct ratelimit *rl = ratelimit_create(fake_env_core(fe), &cfg);
	struct hit_result r = {0};
	ratelimit_hit(rl, "u1", on_hit, &r);
	fake_env_run(fe);
	ck_assert_int_eq(r.calls, 1);
	ratelimit_destroy(rl);
	fake_env_destroy(fe);
}
END_TEST

/* ---- death: assertions meant to fire -------------------------------------- */

START_TEST(test_ratelimit_destroy_with_a_hit_in_flight_aborts)
{
	death_expect("rl->inflight == 0");
	struct fixture f = setup(VARIANT_HARDENED, false);
	struct hit_result r = {0};
	ratelimit_hit(f.rl, "u1", on_hit, &r);
	ratelimit_destroy(f.rl); /* a bug: the hit's done has not run */
}
END_TEST

START_TEST(test_ratelimit_hit_without_done_aborts)
{
	death_expect("done != NULL");
	struct fixture f = setup(VARIANT_LEGACY, false);
	ratelimit_hit(f.rl, "u1", NULL, NULL);
}
END_TEST

/* ---- sweep: fail port operation N, once (_i even) and for good (_i odd) -- */

#define SWEEP_HITS 6

START_TEST(test_ratelimit_hardened_sweep_fail_nth_operation)
{
	bool forever = sweep_forever(_i);
	bool fail_open = (_i / SWEEP_CASES) % 2;
	/* Hits 1..SWEEP_HITS, the window passes, then two more hits; the last
	 * n fires on nothing, so the sweep ends with a clean run. */
	for (int n = 1; n <= SWEEP_HITS + 3; n++) {
		struct fixture f = setup(VARIANT_HARDENED, fail_open);
		sweep_script(f.fe, _i, n);
		for (int k = 1; k <= SWEEP_HITS + 2; k++) {
			if (k == SWEEP_HITS + 1)
				fake_env_advance_ms(f.fe, WINDOW_MS);
			struct hit_result r = hit(&f, "u1"); /* done exactly once, later */
			bool failed = k == n || (forever && k > n);
			if (failed) {
				ck_assert_int_eq(r.rc, fail_open ? RESULT_OK : RESULT_ERROR);
				ck_assert_int_eq(r.verdict, fail_open ? RATELIMIT_ALLOW : RATELIMIT_REJECT);
			} else {
				ck_assert_int_eq(r.rc, RESULT_OK);
			}
			/* no-lockout: the counter never exists without a TTL */
			ck_assert_int_ne(fake_env_kv_pttl_ms(f.fe, "ratelimit:u1"), -1);
			/* no-lockout: after the window, a hit that Redis answers is
			 * allowed (the window's count starts again) */
			if (k > SWEEP_HITS && !failed)
				ck_assert_int_eq(r.verdict, RATELIMIT_ALLOW);
		}
		ck_assert_int_eq(fake_env_ops(f.fe), SWEEP_HITS + 2);
		teardown(&f);
	}
}
END_TEST

Suite *check_ratelimit_suite(void);
Suite *check_ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("contract");
	tcase_add_loop_test(tc, test_ratelimit_allows_limit_hits_then_rejects, 0, VARIANT_COUNT);
	tcase_add_loop_test(tc, test_ratelimit_window_end_resets_the_count, 0, VARIANT_COUNT);
	tcase_add_loop_test(tc, test_ratelimit_refuses_empty_and_overlong_user_ids_later, 0, VARIANT_COUNT);
	tcase_add_test(tc, test_ratelimit_create_refuses_out_of_range_config);
	tcase_add_loop_test(tc, test_ratelimit_legacy_and_seed_expire_whole_seconds_on_first_hit_only,
	                    VARIANT_LEGACY, VARIANT_HARDENED);
	tcase_add_test(tc, test_ratelimit_hardened_sends_one_transaction_per_hit);
	tcase_add_test(tc, test_ratelimit_hardened_limiter_may_be_destroyed_from_done);
	suite_add_tcase(s, tc);

	tc = tcase_create("legacy");
	tcase_add_test(tc, test_ratelimit_legacy_expire_failure_locks_user_out);
	tcase_add_test(tc, test_ratelimit_legacy_ignores_expire_error_reply_and_conn_loss);
	tcase_add_loop_test(tc, test_ratelimit_legacy_and_seed_incr_failure_is_an_error, VARIANT_LEGACY,
	                    VARIANT_HARDENED);
	suite_add_tcase(s, tc);

	tc = tcase_create("seed");
	tcase_add_test(tc, test_ratelimit_seed_expire_failure_errors_out_and_logs_user_and_key);
	tcase_add_test(tc, test_ratelimit_seed_expire_failure_still_locks_user_out);
	tcase_add_test(tc, test_ratelimit_seed_expire_answered_zero_is_a_failure);
	suite_add_tcase(s, tc);

	tc = tcase_create("hardened");
	tcase_add_test(tc, test_ratelimit_hardened_repairs_a_key_without_ttl);
	tcase_add_test(tc, test_ratelimit_hardened_later_hits_do_not_extend_the_window);
	tcase_add_loop_test(tc, test_ratelimit_hardened_failure_fails_open_when_configured, 0, 4);
	tcase_add_loop_test(tc, test_ratelimit_hardened_failure_fails_closed_by_default, 0, 4);
	tcase_add_test(tc, test_ratelimit_hardened_expire_failure_does_not_lock_user_out);
	suite_add_tcase(s, tc);

	tc = tcase_create("death");
	tcase_add_test_raise_signal(tc, test_ratelimit_destroy_with_a_hit_in_flight_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, test_ratelimit_hit_without_done_aborts, SIGABRT);
	suite_add_tcase(s, tc);

	tc = tcase_create("sweep");
	tcase_add_loop_test(tc, test_ratelimit_hardened_sweep_fail_nth_operation, 0, 2 * SWEEP_CASES);
	suite_add_tcase(s, tc);
	return s;
}
