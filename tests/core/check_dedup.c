/* tests/check_dedup.c - request de-duplication in its three variants: the
 * contract, each injected outcome, the legacy false duplicates, the seed's
 * remaining catch-all, the hardened reading of a lost SET reply, and a
 * sweep that fails port operation N once and for good. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "core/dedup.h"
#include "tests/support/fake_env.h"
#include "tests/support/sweep.h"

#define TTL_MS 5000

struct check_result {
	int calls;
	enum result rc;
	enum dedup_verdict verdict;
	bool failed_open;
};

static void on_check(void *arg, enum result rc, enum dedup_verdict verdict, bool failed_open)
{
	struct check_result *r = arg;
	r->calls++;
	r->rc = rc;
	r->verdict = verdict;
	r->failed_open = failed_open;
}

struct fixture {
	struct fake_env *fe;
	struct dedup *d;
};

static struct fixture setup(enum variant v)
{
	struct fixture f;
	f.fe = fake_env_create(7);
	struct dedup_config cfg = {.variant = v, .ttl_ms = TTL_MS};
	f.d = dedup_create(fake_env_core(f.fe), &cfg);
	ck_assert_ptr_nonnull(f.d);
	return f;
}

static void teardown(struct fixture *f)
{
	ck_assert_int_eq(fake_env_pending(f->fe), 0);
	dedup_destroy(f->d);
	fake_env_destroy(f->fe);
}

static struct check_result check(struct fixture *f, const char *key)
{
	struct check_result r = {0};
	dedup_check(f->d, key, on_check, &r);
	ck_assert_int_eq(r.calls, 0);
	fake_env_run(f->fe);
	ck_assert_int_eq(r.calls, 1);
	return r;
}

static void assert_answer(struct check_result r, enum dedup_verdict verdict, bool failed_open)
{
	ck_assert_int_eq(r.rc, RESULT_OK);
	ck_assert_int_eq(r.verdict, verdict);
	ck_assert_int_eq(r.failed_open, failed_open);
}

/* ---- contract, every variant ------------------------------------------- */

START_TEST(test_dedup_first_is_new_resubmission_is_duplicate)
{
	struct fixture f = setup((enum variant)_i);
	assert_answer(check(&f, "r1"), DEDUP_NEW, false);
	assert_answer(check(&f, "r1"), DEDUP_DUPLICATE, false);
	assert_answer(check(&f, "r2"), DEDUP_NEW, false);
	ck_assert_int_eq(fake_env_kv_pttl_ms(f.fe, "dedup:r1"), TTL_MS);
	ck_assert_int_eq(fake_env_logs(f.fe), 0);
	teardown(&f);
}
END_TEST

START_TEST(test_dedup_key_is_free_again_after_ttl)
{
	struct fixture f = setup((enum variant)_i);
	check(&f, "r1");
	fake_env_advance_ms(f.fe, TTL_MS - 1);
	assert_answer(check(&f, "r1"), DEDUP_DUPLICATE, false);
	fake_env_advance_ms(f.fe, 1);
	assert_answer(check(&f, "r1"), DEDUP_NEW, false);
	teardown(&f);
}
END_TEST

START_TEST(test_dedup_sends_set_nx_px_with_a_token_unique_per_call)
{
	struct fixture f = setup((enum variant)_i);
	check(&f, "r1");
	fake_env_advance_ms(f.fe, TTL_MS);
	check(&f, "r1");
	ck_assert_int_eq(fake_env_calls(f.fe), 2);
	const char *a = fake_env_call(f.fe, 0);
	const char *b = fake_env_call(f.fe, 1);
	ck_assert_int_eq(strncmp(a, "kv SET dedup:r1 ", 16), 0);
	ck_assert_ptr_nonnull(strstr(a, " NX PX 5000"));
	ck_assert_str_ne(a, b);
	/* the stored value is the second call's token */
	const char *token = fake_env_kv_get(f.fe, "dedup:r1");
	ck_assert_int_eq(strncmp(b + 16, token, strlen(token)), 0);
	teardown(&f);
}
END_TEST

/* A process restarted with the same seed (serve --seed) makes the same
 * random numbers and starts its sequence again: its tokens must still differ
 * from the ones its predecessor left in Redis. */
START_TEST(test_dedup_tokens_differ_across_restarts_with_one_seed)
{
	struct fixture f = setup((enum variant)_i);
	check(&f, "r1");
	char first[128];
	snprintf(first, sizeof first, "%s", fake_env_call(f.fe, 0));
	dedup_destroy(f.d);
	fake_env_destroy(f.fe);
	f = setup((enum variant)_i); /* the same seed, later on the clock */
	fake_env_advance_ms(f.fe, 1500);
	check(&f, "r1");
	ck_assert_int_eq(strncmp(fake_env_call(f.fe, 0), "kv SET dedup:r1 ", 16), 0);
	ck_assert_str_ne(fake_env_call(f.fe, 0), first);
	teardown(&f);
}
END_TEST

START_TEST(test_dedup_refuses_empty_and_overlong_keys_later)
{
	struct fixture f = setup((enum variant)_i);
	char longkey[DEDUP_KEY_MAX + 2];
	memset(longkey, 'k', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = '\0';
	const char *bad[] = {NULL, "", longkey};
	for (int k = 0; k < 3; k++) {
		struct check_result r = check(&f, bad[k]);
		ck_assert_int_eq(r.rc, RESULT_REJECT);
	}
	ck_assert_int_eq(fake_env_ops(f.fe), 0);
	teardown(&f);
}
END_TEST

START_TEST(test_dedup_create_refuses_out_of_range_ttl)
{
	struct fake_env *fe = fake_env_create(1);
	struct dedup_config cfg = {.variant = VARIANT_SEED, .ttl_ms = 0};
	ck_assert_ptr_null(dedup_create(fake_env_core(fe), &cfg));
	cfg.ttl_ms = DEDUP_TTL_MS_MAX + 1;
	ck_assert_ptr_null(dedup_create(fake_env_core(fe), &cfg));
	dedup_destroy(NULL);
	fake_env_destroy(fe);
}
END_TEST

/* ---- legacy ---------------------------------------------------------------- */

START_TEST(test_dedup_legacy_redis_failure_rejects_genuine_request)
{
	enum outcome ocs[] = {OUTCOME_TIMEOUT, OUTCOME_CONN_LOST, OUTCOME_ERROR};
	struct fixture f = setup(VARIANT_LEGACY);
	fake_env_fail(f.fe, "kv SET", 1, 1, ocs[_i]);
	/* r1 was never seen before, yet it is called a duplicate */
	assert_answer(check(&f, "r1"), DEDUP_DUPLICATE, false);
	ck_assert_int_eq(fake_env_ops(f.fe), 1);
	ck_assert_int_eq(fake_env_log_count(f.fe, "Dedup"), 0);
	teardown(&f);
}
END_TEST

/* ---- seed ---------------------------------------------------------------------- */

START_TEST(test_dedup_seed_timeout_and_conn_loss_fail_open_with_warning)
{
	enum outcome ocs[] = {OUTCOME_TIMEOUT, OUTCOME_CONN_LOST};
	struct fixture f = setup(VARIANT_SEED);
	fake_env_fail(f.fe, "kv SET", 1, 1, ocs[_i]);
	assert_answer(check(&f, "r1"), DEDUP_NEW, true);
	ck_assert_int_eq(fake_env_log_count(f.fe, "Dedup"), 1);
	ck_assert(fake_env_log_has(f.fe, "Dedup", "key dedup:r1"));
	ck_assert(fake_env_log_has(f.fe, "Dedup", outcome_name(ocs[_i])));
	ck_assert_int_eq(fake_env_ops(f.fe), 1);
	teardown(&f);
}
END_TEST

START_TEST(test_dedup_seed_error_reply_still_reads_as_duplicate)
{
	const char *errors[] = {"OOM command not allowed when used memory > 'maxmemory'",
	                        "LOADING Redis is loading the dataset in memory"};
	struct fixture f = setup(VARIANT_SEED);
	fake_env_fail_kv(f.fe, "kv SET", 1, 1, errors[_i]);
	assert_answer(check(&f, "r1"), DEDUP_DUPLICATE, false);
	ck_assert_int_eq(fake_env_log_count(f.fe, "Dedup"), 0);
	teardown(&f);
}
END_TEST

START_TEST(test_dedup_seed_lost_reply_of_own_set_fails_open_blind)
{
	struct fixture f = setup(VARIANT_SEED);
	fake_env_fail_applied(f.fe, "kv SET", 1, 1);
	assert_answer(check(&f, "r1"), DEDUP_NEW, true);
	teardown(&f);
}
END_TEST

/* ---- hardened ------------------------------------------------------------------ */

START_TEST(test_dedup_hardened_lost_reply_of_own_set_is_not_a_duplicate)
{
	struct fixture f = setup(VARIANT_HARDENED);
	fake_env_fail_applied(f.fe, "kv SET", 1, 1);
	/* The SET was applied, its reply lost; the retry sees our own key. */
	assert_answer(check(&f, "r1"), DEDUP_NEW, false);
	ck_assert_int_eq(fake_env_count(f.fe, "kv SET dedup:r1"), 2);
	ck_assert_int_eq(fake_env_count(f.fe, "kv GET dedup:r1"), 1);
	ck_assert_int_eq(fake_env_log_count(f.fe, "Dedup"), 1);
	ck_assert(fake_env_log_has(f.fe, "Dedup", "reply lost"));
	/* and a real resubmission is still caught */
	assert_answer(check(&f, "r1"), DEDUP_DUPLICATE, false);
	teardown(&f);
}
END_TEST

START_TEST(test_dedup_legacy_lost_reply_of_own_set_is_a_false_duplicate)
{
	struct fixture f = setup(VARIANT_LEGACY);
	fake_env_fail_applied(f.fe, "kv SET", 1, 1);
	assert_answer(check(&f, "r1"), DEDUP_DUPLICATE, false);
	teardown(&f);
}
END_TEST

START_TEST(test_dedup_hardened_timeout_then_retry_succeeds_is_new)
{
	struct fixture f = setup(VARIANT_HARDENED);
	fake_env_fail(f.fe, "kv SET", 1, 1, OUTCOME_TIMEOUT);
	assert_answer(check(&f, "r1"), DEDUP_NEW, false);
	ck_assert_int_eq(fake_env_ops(f.fe), 2);
	teardown(&f);
}
END_TEST

START_TEST(test_dedup_hardened_timeout_then_other_owner_is_duplicate)
{
	struct fixture f = setup(VARIANT_HARDENED);
	fake_env_fail(f.fe, "kv SET", 1, 1, OUTCOME_TIMEOUT);
	struct check_result a = {0};
	struct check_result b = {0};
	dedup_check(f.d, "r1", on_check, &a); /* times out, not applied */
	dedup_check(f.d, "r1", on_check, &b); /* the same request, resubmitted */
	fake_env_run(f.fe);
	assert_answer(b, DEDUP_NEW, false);
	/* a's retry finds b's token: a is the duplicate */
	assert_answer(a, DEDUP_DUPLICATE, false);
	ck_assert_int_eq(fake_env_count(f.fe, "kv GET"), 1);
	teardown(&f);
}
END_TEST

START_TEST(test_dedup_hardened_remaining_failure_fails_open_with_warning)
{
	/* 0: error reply; 1: conn lost; 2: both SETs time out; 3: GET fails;
	 * 4: the key vanished before GET */
	struct fixture f = setup(VARIANT_HARDENED);
	int want_ops[] = {1, 1, 2, 3, 3};
	switch (_i) {
	case 0: fake_env_fail_kv(f.fe, "kv SET", 1, 1, "OOM command not allowed"); break;
	case 1: fake_env_fail(f.fe, "kv SET", 1, 1, OUTCOME_CONN_LOST); break;
	case 2: fake_env_fail(f.fe, "kv SET", 1, 2, OUTCOME_TIMEOUT); break;
	case 3:
		fake_env_fail_applied(f.fe, "kv SET", 1, 1);
		fake_env_fail(f.fe, "kv GET", 1, 1, OUTCOME_CONN_LOST);
		break;
	default:
		fake_env_fail_applied(f.fe, "kv SET", 1, 1);
		fake_env_answer_kv_nil(f.fe, "kv GET", 1, 1);
		break;
	}
	assert_answer(check(&f, "r1"), DEDUP_NEW, true);
	ck_assert_int_eq(fake_env_ops(f.fe), want_ops[_i]);
	ck_assert(fake_env_log_has(f.fe, "Dedup", "treating the request as new"));
	ck_assert(fake_env_log_has(f.fe, "Dedup", "key dedup:r1"));
	teardown(&f);
}
END_TEST

START_TEST(test_dedup_object_may_be_destroyed_from_done)
{
	struct fake_env *fe = fake_env_create(1);
	struct dedup_config cfg = {.variant = VARIANT_HARDENED, .ttl_ms = 100};
	struct dedup *d = dedup_create(fake_env_core(fe), &cfg);
	struct check_result r = {0};
	dedup_check(d, "r1", on_check, &r);
	fake_env_run(fe);
	ck_assert_int_eq(r.calls, 1);
	dedup_destroy(d);
	fake_env_destroy(fe);
}
END_TEST

/* ---- sweep -------------------------------------------------------------------- */

#define SWEEP_OPS_MAX 12

/* Checks r1, r1 again, r2; fails operation n once (_i even) or for good. */
START_TEST(test_dedup_hardened_sweep_fail_nth_operation)
{
	bool clean_run_seen = false;
	for (int n = 1; n <= SWEEP_OPS_MAX && !clean_run_seen; n++) {
		struct fixture f = setup(VARIANT_HARDENED);
		sweep_script(f.fe, _i, n);

		struct check_result first = check(&f, "r1");
		bool first_stored = fake_env_kv_get(f.fe, "dedup:r1") != NULL;
		struct check_result again = check(&f, "r1");
		struct check_result other = check(&f, "r2");

		ck_assert_int_eq(first.rc, RESULT_OK);
		ck_assert_int_eq(again.rc, RESULT_OK);
		ck_assert_int_eq(other.rc, RESULT_OK);
		/* no-false-duplicate: nothing new is ever called a duplicate */
		ck_assert_int_eq(first.verdict, DEDUP_NEW);
		ck_assert_int_eq(other.verdict, DEDUP_NEW);
		/* dedup-effective: a resubmission Redis answered for is caught */
		if (first_stored && !again.failed_open)
			ck_assert_int_eq(again.verdict, DEDUP_DUPLICATE);
		/* every blind answer is counted in the log */
		int blind = first.failed_open + again.failed_open + other.failed_open;
		int warned = 0;
		for (int i = 0; i < fake_env_logs(f.fe); i++)
			warned += strstr(fake_env_log_line(f.fe, i), "treating the request as new") != NULL;
		ck_assert_int_eq(warned, blind);
		clean_run_seen = fake_env_ops(f.fe) < n;
		teardown(&f);
	}
	ck_assert(clean_run_seen);
}
END_TEST

Suite *check_dedup_suite(void);
Suite *check_dedup_suite(void)
{
	Suite *s = suite_create("dedup");
	TCase *tc = tcase_create("contract");
	tcase_add_loop_test(tc, test_dedup_first_is_new_resubmission_is_duplicate, 0, VARIANT_COUNT);
	tcase_add_loop_test(tc, test_dedup_key_is_free_again_after_ttl, 0, VARIANT_COUNT);
	tcase_add_loop_test(tc, test_dedup_sends_set_nx_px_with_a_token_unique_per_call, 0, VARIANT_COUNT);
	tcase_add_loop_test(tc, test_dedup_tokens_differ_across_restarts_with_one_seed, 0, VARIANT_COUNT);
	tcase_add_loop_test(tc, test_dedup_refuses_empty_and_overlong_keys_later, 0, VARIANT_COUNT);
	tcase_add_test(tc, test_dedup_create_refuses_out_of_range_ttl);
	tcase_add_test(tc, test_dedup_object_may_be_destroyed_from_done);
	suite_add_tcase(s, tc);

	tc = tcase_create("legacy");
	tcase_add_loop_test(tc, test_dedup_legacy_redis_failure_rejects_genuine_request, 0, 3);
	tcase_add_test(tc, test_dedup_legacy_lost_reply_of_own_set_is_a_false_duplicate);
	suite_add_tcase(s, tc);

	tc = tcase_create("seed");
	tcase_add_loop_test(tc, test_dedup_seed_timeout_and_conn_loss_fail_open_with_warning, 0, 2);
	tcase_add_loop_test(tc, test_dedup_seed_error_reply_still_reads_as_duplicate, 0, 2);
	tcase_add_test(tc, test_dedup_seed_lost_reply_of_own_set_fails_open_blind);
	suite_add_tcase(s, tc);

	tc = tcase_create("hardened");
	tcase_add_test(tc, test_dedup_hardened_lost_reply_of_own_set_is_not_a_duplicate);
	tcase_add_test(tc, test_dedup_hardened_timeout_then_retry_succeeds_is_new);
	tcase_add_test(tc, test_dedup_hardened_timeout_then_other_owner_is_duplicate);
	tcase_add_loop_test(tc, test_dedup_hardened_remaining_failure_fails_open_with_warning, 0, 5);
	suite_add_tcase(s, tc);

	tc = tcase_create("sweep");
	tcase_add_loop_test(tc, test_dedup_hardened_sweep_fail_nth_operation, 0, SWEEP_CASES);
	suite_add_tcase(s, tc);
	return s;
}
