/* tests/check_customer.c - get-or-create of the Stripe customer in its
 * three variants: the contract, each injected outcome (SQLSTATEs, timeouts,
 * Stripe 409/429/500), the legacy and seed orphans reproduced, the hardened
 * single customer under races and retries, and a sweep that fails port
 * operation N once and for good. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/customer.h"
#include "tests/support/fake_env.h"
#include "tests/support/sweep.h"

#define RETRIES 3
#define BACKOFF_MS 100

struct call_result {
	int calls;
	enum result rc;
	char id[CUSTOMER_ID_MAX + 1];
};

static void on_done(void *arg, enum result rc, const char *customer_id)
{
	struct call_result *r = arg;
	r->calls++;
	r->rc = rc;
	snprintf(r->id, sizeof r->id, "%s", customer_id);
}

struct fixture {
	struct fake_env *fe;
	struct customer *c;
};

static struct fixture setup(enum variant v)
{
	struct fixture f;
	f.fe = fake_env_create(3);
	struct customer_config cfg = {.variant = v, .retries_max = RETRIES, .backoff_ms = BACKOFF_MS};
	f.c = customer_create(fake_env_core(f.fe), &cfg);
	ck_assert_ptr_nonnull(f.c);
	return f;
}

static void teardown(struct fixture *f)
{
	ck_assert_int_eq(fake_env_pending(f->fe), 0);
	ck_assert_int_eq(fake_env_conns_in_use(f->fe), 0);
	ck_assert_int_eq(fake_env_sql_misuse(f->fe), 0);
	customer_destroy(f->c);
	fake_env_destroy(f->fe);
}

static struct call_result get(struct fixture *f, const char *user)
{
	struct call_result r = {0};
	customer_get_or_create(f->c, user, "ann@example.com", on_done, &r);
	ck_assert_int_eq(r.calls, 0);
	fake_env_run(f->fe);
	ck_assert_int_eq(r.calls, 1);
	return r;
}

static void assert_ok(struct call_result r, const char *id)
{
	ck_assert_int_eq(r.rc, RESULT_OK);
	ck_assert_str_eq(r.id, id);
}

/* u1 got cus_fake001, the one customer Stripe holds, after a second
 * create under the same key and parameters. */
static void assert_mapped_after_one_retry(struct fixture *f)
{
	assert_ok(get(f, "u1"), "cus_fake001");
	ck_assert_int_eq(fake_env_stripe_customers(f->fe), 1);
	ck_assert_int_eq(fake_env_stripe_orphans(f->fe), 0);
	ck_assert_int_eq(fake_env_count(f->fe,
	                                 "stripe customer_create user=u1 email=ann@example.com key=customer-create-u1"),
	                 2);
}

/* ---- contract, every variant ----------------------------------------------- */

START_TEST(test_customer_returns_existing_mapping_without_calling_stripe)
{
	struct fixture f = setup((enum variant)_i);
	fake_env_set_mapping(f.fe, "u1", "cus_existing");
	assert_ok(get(&f, "u1"), "cus_existing");
	ck_assert_int_eq(fake_env_count(f.fe, "stripe"), 0);
	ck_assert_int_eq(fake_env_calls(f.fe), 3);
	ck_assert_str_eq(fake_env_call(f.fe, 0), "sql acquire");
	ck_assert_str_eq(fake_env_call(f.fe, 1), "sql customer_select u1");
	ck_assert_str_eq(fake_env_call(f.fe, 2), "sql release");
	teardown(&f);
}
END_TEST

START_TEST(test_customer_creates_customer_then_stores_mapping)
{
	enum variant v = (enum variant)_i;
	struct fixture f = setup(v);
	assert_ok(get(&f, "u1"), "cus_fake001");
	ck_assert_str_eq(fake_env_mapping(f.fe, "u1"), "cus_fake001");
	ck_assert_int_eq(fake_env_stripe_customers(f.fe), 1);
	ck_assert_int_eq(fake_env_stripe_orphans(f.fe), 0);
	/* hardened searches Stripe before it creates */
	int h = v == VARIANT_HARDENED;
	ck_assert_int_eq(fake_env_calls(f.fe), 7 + h);
	if (h)
		ck_assert_str_eq(fake_env_call(f.fe, 3), "stripe customer_find user=u1");
	ck_assert_str_eq(fake_env_call(f.fe, 3 + h),
	                 v == VARIANT_HARDENED ?
	                 "stripe customer_create user=u1 email=ann@example.com key=customer-create-u1" :
	                 "stripe customer_create user=u1 email=ann@example.com key=-");
	ck_assert_str_eq(fake_env_call(f.fe, 5 + h), "sql customer_insert u1 cus_fake001");
	ck_assert_str_eq(fake_env_call(f.fe, 6 + h), "sql release");
	/* the second call finds the mapping */
	assert_ok(get(&f, "u1"), "cus_fake001");
	ck_assert_int_eq(fake_env_count(f.fe, "stripe customer_create"), 1);
	ck_assert_int_eq(fake_env_log_count(f.fe, "Stripe"), 0);
	teardown(&f);
}
END_TEST

START_TEST(test_customer_lookup_failure_is_an_error_before_stripe)
{
	struct fixture f = setup((enum variant)_i);
	fake_env_fail(f.fe, "sql customer_select", 1, 1, OUTCOME_TIMEOUT);
	struct call_result r = get(&f, "u1");
	/* hardened: a timeout is transient, and said so */
	ck_assert_int_eq(r.rc, (enum variant)_i == VARIANT_HARDENED ? RESULT_RETRY : RESULT_ERROR);
	ck_assert_str_eq(r.id, "");
	ck_assert_int_eq(fake_env_count(f.fe, "stripe"), 0);
	ck_assert(fake_env_log_has(f.fe, "Stripe", "mapping lookup failed (timeout)"));
	teardown(&f);
}
END_TEST

START_TEST(test_customer_refuses_bad_input_later)
{
	struct fixture f = setup((enum variant)_i);
	char longid[CUSTOMER_USER_ID_MAX + 2];
	memset(longid, 'u', sizeof longid - 1);
	longid[sizeof longid - 1] = '\0';
	const char *bad[] = {NULL, "", longid};
	for (int k = 0; k < 3; k++)
		ck_assert_int_eq(get(&f, bad[k]).rc, RESULT_REJECT);
	char longmail[CUSTOMER_EMAIL_MAX + 2];
	memset(longmail, 'm', sizeof longmail - 1);
	longmail[sizeof longmail - 1] = '\0';
	struct call_result r = {0};
	customer_get_or_create(f.c, "u1", longmail, on_done, &r);
	fake_env_run(f.fe);
	ck_assert_int_eq(r.rc, RESULT_REJECT);
	ck_assert_int_eq(fake_env_ops(f.fe), 0);
	/* a NULL e-mail is allowed: Stripe customers need none */
	customer_get_or_create(f.c, "u1", NULL, on_done, &r);
	fake_env_run(f.fe);
	ck_assert_int_eq(r.rc, RESULT_OK);
	teardown(&f);
}
END_TEST

START_TEST(test_customer_create_refuses_out_of_range_config)
{
	struct fake_env *fe = fake_env_create(1);
	struct customer_config cfg = {.variant = VARIANT_SEED, .retries_max = CUSTOMER_RETRIES_LIMIT + 1};
	ck_assert_ptr_null(customer_create(fake_env_core(fe), &cfg));
	cfg.retries_max = 1;
	cfg.backoff_ms = CUSTOMER_BACKOFF_MS_MAX + 1;
	ck_assert_ptr_null(customer_create(fake_env_core(fe), &cfg));
	customer_destroy(NULL);
	fake_env_destroy(fe);
}
END_TEST

/* ---- legacy -------------------------------------------------------------------- */

START_TEST(test_customer_legacy_insert_failure_orphans_a_customer_per_attempt)
{
	struct fixture f = setup(VARIANT_LEGACY);
	fake_env_fail_sql(f.fe, "sql customer_insert", 1, 2, SQLSTATE_SERIALIZATION);
	for (int attempt = 1; attempt <= 2; attempt++) {
		struct call_result r = get(&f, "u1");
		ck_assert_int_eq(r.rc, RESULT_ERROR);
		ck_assert_int_eq(fake_env_stripe_orphans(f.fe), attempt);
	}
	ck_assert_int_eq(fake_env_count(f.fe, "sql customer_insert"), 2); /* never retried */
	assert_ok(get(&f, "u1"), "cus_fake003");
	ck_assert_int_eq(fake_env_stripe_customers(f.fe), 3);
	ck_assert_int_eq(fake_env_stripe_orphans(f.fe), 2);
	teardown(&f);
}
END_TEST

START_TEST(test_customer_legacy_and_seed_stripe_failure_is_an_error_without_retry)
{
	int statuses[] = {409, 429, 500};
	for (int k = 0; k < 3; k++) {
		struct fixture f = setup((enum variant)_i);
		fake_env_fail_stripe(f.fe, "stripe customer_create", 1, 1, statuses[k]);
		ck_assert_int_eq(get(&f, "u1").rc, RESULT_ERROR);
		ck_assert_int_eq(fake_env_count(f.fe, "stripe customer_create"), 1);
		ck_assert_int_eq(fake_env_count(f.fe, "sql customer_insert"), 0);
		teardown(&f);
	}
}
END_TEST

START_TEST(test_customer_legacy_and_seed_lost_stripe_reply_orphans_the_customer)
{
	struct fixture f = setup((enum variant)_i);
	fake_env_fail_applied(f.fe, "stripe customer_create", 1, 1);
	ck_assert_int_eq(get(&f, "u1").rc, RESULT_ERROR);
	ck_assert_int_eq(fake_env_stripe_orphans(f.fe), 1);
	/* the retry by the user creates a second customer */
	assert_ok(get(&f, "u1"), "cus_fake002");
	ck_assert_int_eq(fake_env_stripe_orphans(f.fe), 1);
	teardown(&f);
}
END_TEST

/* ---- seed ------------------------------------------------------------------------ */

START_TEST(test_customer_seed_retries_transient_insert_failures)
{
	/* 0: 40001 twice; 1: 40P01; 2: 08006; 3: 57P01; 4: timeout; 5: conn
	 * lost; 6: pool exhausted on acquire */
	struct fixture f = setup((enum variant)(VARIANT_SEED + _i % 2));
	int kind = _i / 2;
	const char *states[] = {SQLSTATE_SERIALIZATION, SQLSTATE_DEADLOCK, SQLSTATE_CONNECTION_FAILURE,
	                        SQLSTATE_ADMIN_SHUTDOWN};
	int times = kind == 0 ? 2 : 1;
	if (kind < 4)
		fake_env_fail_sql(f.fe, "sql customer_insert", 1, times, states[kind]);
	else if (kind == 4)
		fake_env_fail(f.fe, "sql customer_insert", 1, 1, OUTCOME_TIMEOUT);
	else if (kind == 5)
		fake_env_fail(f.fe, "sql customer_insert", 1, 1, OUTCOME_CONN_LOST);
	else
		fake_env_fail_sql(f.fe, "sql acquire", 2, 1, SQLSTATE_TOO_MANY_CONNECTIONS);
	assert_ok(get(&f, "u1"), "cus_fake001");
	ck_assert_int_eq(fake_env_count(f.fe, "sql customer_insert"), kind == 6 ? 1 : times + 1);
	ck_assert_int_eq(fake_env_stripe_orphans(f.fe), 0);
	ck_assert_int_eq(fake_env_count(f.fe, "clock after"), times);
	ck_assert(fake_env_log_has(f.fe, "Stripe", "retry 1 of 3"));
	teardown(&f);
}
END_TEST

START_TEST(test_customer_seed_back_off_doubles_within_jitter_bounds)
{
	struct fixture f = setup(VARIANT_SEED);
	fake_env_fail_sql(f.fe, "sql customer_insert", 1, RETRIES, SQLSTATE_SERIALIZATION);
	assert_ok(get(&f, "u1"), "cus_fake001");
	int seen = 0;
	for (int i = 0; i < fake_env_calls(f.fe); i++) {
		uint64_t us;
		if (sscanf(fake_env_call(f.fe, i), "clock after %" SCNu64, &us) != 1)
			continue;
		uint64_t full_us = (uint64_t)BACKOFF_MS * 1000u << seen;
		ck_assert_uint_ge(us, full_us / 2);
		ck_assert_uint_le(us, full_us);
		seen++;
	}
	ck_assert_int_eq(seen, RETRIES);
	teardown(&f);
}
END_TEST

START_TEST(test_customer_seed_gives_up_after_retries_max)
{
	struct fixture f = setup(VARIANT_SEED);
	fake_env_fail_sql(f.fe, "sql customer_insert", 1, FAKE_FOREVER, SQLSTATE_SERIALIZATION);
	ck_assert_int_eq(get(&f, "u1").rc, RESULT_ERROR);
	ck_assert_int_eq(fake_env_count(f.fe, "sql customer_insert"), 1 + RETRIES);
	ck_assert_int_eq(fake_env_stripe_orphans(f.fe), 1);
	ck_assert(fake_env_log_has(f.fe, "Stripe", "customer cus_fake001 orphaned"));
	teardown(&f);
}
END_TEST

START_TEST(test_customer_seed_does_not_retry_permanent_insert_errors)
{
	struct fixture f = setup(VARIANT_SEED);
	fake_env_fail_sql(f.fe, "sql customer_insert", 1, 1, "23502");
	ck_assert_int_eq(get(&f, "u1").rc, RESULT_ERROR);
	ck_assert_int_eq(fake_env_count(f.fe, "sql customer_insert"), 1);
	ck_assert(fake_env_log_has(f.fe, "Stripe", "(23502)"));
	teardown(&f);
}
END_TEST

/* Two requests for the same user at once. */
static void race(struct fixture *f, struct call_result *a, struct call_result *b)
{
	customer_get_or_create(f->c, "u1", "ann@example.com", on_done, a);
	customer_get_or_create(f->c, "u1", "ann@example.com", on_done, b);
	fake_env_run(f->fe);
	ck_assert_int_eq(a->calls, 1);
	ck_assert_int_eq(b->calls, 1);
}

START_TEST(test_customer_seed_race_adopts_winner_and_orphans_a_customer)
{
	struct fixture f = setup(VARIANT_SEED);
	struct call_result a = {0}, b = {0};
	race(&f, &a, &b);
	assert_ok(a, "cus_fake001");
	assert_ok(b, "cus_fake001"); /* b adopted a's mapping */
	ck_assert_int_eq(fake_env_stripe_customers(f.fe), 2);
	ck_assert_int_eq(fake_env_stripe_orphans(f.fe), 1);
	ck_assert(fake_env_log_has(f.fe, "Stripe", "another instance created the mapping"));
	ck_assert(fake_env_log_has(f.fe, "Stripe", "customer cus_fake002 orphaned"));
	teardown(&f);
}
END_TEST

START_TEST(test_customer_legacy_race_fails_one_request_and_orphans)
{
	struct fixture f = setup(VARIANT_LEGACY);
	struct call_result a = {0}, b = {0};
	race(&f, &a, &b);
	assert_ok(a, "cus_fake001");
	ck_assert_int_eq(b.rc, RESULT_ERROR);
	ck_assert_int_eq(fake_env_stripe_orphans(f.fe), 1);
	teardown(&f);
}
END_TEST

/* ---- hardened ---------------------------------------------------------------------- */

START_TEST(test_customer_hardened_race_creates_one_customer)
{
	struct fixture f = setup(VARIANT_HARDENED);
	struct call_result a = {0}, b = {0};
	race(&f, &a, &b);
	assert_ok(a, "cus_fake001");
	assert_ok(b, "cus_fake001");
	ck_assert_int_eq(fake_env_stripe_customers(f.fe), 1);
	ck_assert_int_eq(fake_env_stripe_orphans(f.fe), 0);
	ck_assert(fake_env_log_has(f.fe, "Stripe", "another instance created the mapping, with the same customer"));
	teardown(&f);
}
END_TEST

START_TEST(test_customer_hardened_race_waits_out_stripe_409_in_flight)
{
	struct fixture f = setup(VARIANT_HARDENED);
	fake_env_fail_stripe(f.fe, "stripe customer_create", 2, 1, 409);
	struct call_result a = {0}, b = {0};
	race(&f, &a, &b);
	assert_ok(a, "cus_fake001");
	assert_ok(b, "cus_fake001");
	ck_assert_int_eq(fake_env_count(f.fe, "stripe customer_create"), 3);
	ck_assert_int_eq(fake_env_stripe_customers(f.fe), 1);
	ck_assert(fake_env_log_has(f.fe, "Stripe", "HTTP 409 idempotency_error"));
	teardown(&f);
}
END_TEST

START_TEST(test_customer_hardened_retries_stripe_with_the_same_key_and_params)
{
	/* 0: timeout; 1: timeout after Stripe created it; 2: conn lost;
	 * 3: 429; 4: 500; 5: 503 */
	struct fixture f = setup(VARIANT_HARDENED);
	switch (_i) {
	case 0: fake_env_fail(f.fe, "stripe customer_create", 1, 1, OUTCOME_TIMEOUT); break;
	case 1: fake_env_fail_applied(f.fe, "stripe customer_create", 1, 1); break;
	case 2: fake_env_fail(f.fe, "stripe customer_create", 1, 1, OUTCOME_CONN_LOST); break;
	case 3: fake_env_fail_stripe(f.fe, "stripe customer_create", 1, 1, 429); break;
	case 4: fake_env_fail_stripe(f.fe, "stripe customer_create", 1, 1, 500); break;
	default: fake_env_fail_stripe(f.fe, "stripe customer_create", 1, 1, 503); break;
	}
	assert_mapped_after_one_retry(&f);
	teardown(&f);
}
END_TEST

START_TEST(test_customer_hardened_does_not_retry_stripe_400)
{
	struct fixture f = setup(VARIANT_HARDENED);
	fake_env_fail_stripe(f.fe, "stripe customer_create", 1, 1, 400);
	ck_assert_int_eq(get(&f, "u1").rc, RESULT_ERROR);
	ck_assert_int_eq(fake_env_count(f.fe, "stripe customer_create"), 1);
	ck_assert(fake_env_log_has(f.fe, "Stripe", "HTTP 400 invalid_request_error"));
	teardown(&f);
}
END_TEST

START_TEST(test_customer_hardened_gives_up_on_stripe_after_retries_max)
{
	struct fixture f = setup(VARIANT_HARDENED);
	fake_env_fail_stripe(f.fe, "stripe customer_create", 1, FAKE_FOREVER, 500);
	ck_assert_int_eq(get(&f, "u1").rc, RESULT_RETRY);
	ck_assert_int_eq(fake_env_count(f.fe, "stripe customer_create"), 1 + RETRIES);
	ck_assert_int_eq(fake_env_stripe_customers(f.fe), 0);
	teardown(&f);
}
END_TEST

/* A 200 whose customer id never arrived: Stripe made the customer, and the
 * retry under the same key gets its saved answer, which names it. */
START_TEST(test_customer_hardened_retries_a_200_without_a_customer_id)
{
	struct fixture f = setup(VARIANT_HARDENED);
	fake_env_answer_stripe_without_id(f.fe, "stripe customer_create", 1, 1);
	assert_mapped_after_one_retry(&f);
	teardown(&f);
}
END_TEST

/* Every answer without an id: hardened says "retry" once its budget is
 * spent (a later call can still map the customer); legacy and seed answer
 * an error at the first. No variant stores an empty id. */
START_TEST(test_customer_200_without_a_customer_id_for_good)
{
	static const enum variant vs[] = {VARIANT_LEGACY, VARIANT_SEED, VARIANT_HARDENED};
	struct fixture f = setup(vs[_i]);
	fake_env_answer_stripe_without_id(f.fe, "stripe customer_create", 1, FAKE_FOREVER);
	struct call_result r = get(&f, "u1");
	ck_assert_str_eq(r.id, "");
	if (vs[_i] == VARIANT_HARDENED) {
		ck_assert_int_eq(r.rc, RESULT_RETRY);
		ck_assert_int_eq(fake_env_count(f.fe, "stripe customer_create"), 1 + RETRIES);
	} else {
		ck_assert_int_eq(r.rc, RESULT_ERROR);
		ck_assert_int_eq(fake_env_count(f.fe, "stripe customer_create"), 1);
	}
	ck_assert_int_eq(fake_env_stripe_customers(f.fe), 1);
	ck_assert(fake_env_log_has(f.fe, "Stripe", "without a usable customer id"));
	teardown(&f);
}
END_TEST

START_TEST(test_customer_hardened_lost_insert_reply_ends_with_our_own_mapping)
{
	struct fixture f = setup(VARIANT_HARDENED);
	fake_env_fail_applied(f.fe, "sql customer_insert", 1, 1);
	assert_ok(get(&f, "u1"), "cus_fake001");
	ck_assert_int_eq(fake_env_count(f.fe, "sql customer_insert"), 2);
	ck_assert_int_eq(fake_env_stripe_orphans(f.fe), 0);
	teardown(&f);
}
END_TEST

START_TEST(test_customer_hardened_failed_request_leaves_no_orphan_after_retry)
{
	/* The fault that orphans customers in legacy: the insert fails for
	 * good. The user's next attempt replays the same customer. */
	struct fixture f = setup(VARIANT_HARDENED);
	fake_env_fail_sql(f.fe, "sql customer_insert", 1, 1 + RETRIES, SQLSTATE_SERIALIZATION);
	ck_assert_int_eq(get(&f, "u1").rc, RESULT_RETRY);
	assert_ok(get(&f, "u1"), "cus_fake001");
	ck_assert_int_eq(fake_env_stripe_customers(f.fe), 1);
	ck_assert_int_eq(fake_env_stripe_orphans(f.fe), 0);
	teardown(&f);
}
END_TEST

/* The same fault, and the user comes back a day later, when Stripe has
 * forgotten the Idempotency-Key: the search finds the customer the first
 * call made, and it is mapped rather than a second one made. */
START_TEST(test_customer_hardened_maps_the_customer_found_a_day_later)
{
	struct fixture f = setup(VARIANT_HARDENED);
	fake_env_fail_sql(f.fe, "sql customer_insert", 1, 1 + RETRIES, SQLSTATE_SERIALIZATION);
	ck_assert_int_eq(get(&f, "u1").rc, RESULT_RETRY);
	ck_assert_int_eq(fake_env_stripe_orphans(f.fe), 1);
	ck_assert(fake_env_log_has(f.fe, "Stripe", "cus_fake001 unmapped until the user's next call"));
	fake_env_advance_ms(f.fe, 25ULL * 3600 * 1000);
	assert_ok(get(&f, "u1"), "cus_fake001");
	ck_assert_str_eq(fake_env_mapping(f.fe, "u1"), "cus_fake001");
	ck_assert_int_eq(fake_env_stripe_customers(f.fe), 1);
	ck_assert_int_eq(fake_env_stripe_orphans(f.fe), 0);
	ck_assert_int_eq(fake_env_count(f.fe, "stripe customer_create"), 1);
	ck_assert_int_eq(fake_env_count(f.fe, "stripe customer_find user=u1"), 2);
	ck_assert(fake_env_log_has(f.fe, "Stripe", "Stripe already holds customer cus_fake001"));
	teardown(&f);
}
END_TEST

/* The seed fix has no search: a day later it makes a second customer. */
START_TEST(test_customer_seed_orphans_when_the_user_comes_back_a_day_later)
{
	struct fixture f = setup(VARIANT_SEED);
	fake_env_fail_sql(f.fe, "sql customer_insert", 1, 1 + RETRIES, SQLSTATE_SERIALIZATION);
	ck_assert_int_eq(get(&f, "u1").rc, RESULT_ERROR);
	fake_env_advance_ms(f.fe, 25ULL * 3600 * 1000);
	assert_ok(get(&f, "u1"), "cus_fake002");
	ck_assert_int_eq(fake_env_stripe_customers(f.fe), 2);
	ck_assert_int_eq(fake_env_stripe_orphans(f.fe), 1);
	ck_assert_int_eq(fake_env_count(f.fe, "stripe customer_find"), 0);
	teardown(&f);
}
END_TEST

/* A search that cannot be done creates nothing: 0 timeout, 1 lost
 * connection, 2 500, 3 429 (retried, then "retry"); 4 400 (not retried,
 * "permanent"). */
START_TEST(test_customer_hardened_creates_nothing_without_a_search)
{
	struct fixture f = setup(VARIANT_HARDENED);
	const char *m = "stripe customer_find";
	switch (_i) {
	case 0: fake_env_fail(f.fe, m, 1, FAKE_FOREVER, OUTCOME_TIMEOUT); break;
	case 1: fake_env_fail(f.fe, m, 1, FAKE_FOREVER, OUTCOME_CONN_LOST); break;
	case 2: fake_env_fail_stripe(f.fe, m, 1, FAKE_FOREVER, 500); break;
	case 3: fake_env_fail_stripe(f.fe, m, 1, FAKE_FOREVER, 429); break;
	default: fake_env_fail_stripe(f.fe, m, 1, FAKE_FOREVER, 400); break;
	}
	struct call_result r = get(&f, "u1");
	ck_assert_int_eq(r.rc, _i < 4 ? RESULT_RETRY : RESULT_ERROR);
	ck_assert_int_eq(fake_env_count(f.fe, m), _i < 4 ? 1 + RETRIES : 1);
	ck_assert_int_eq(fake_env_count(f.fe, "stripe customer_create"), 0);
	ck_assert_int_eq(fake_env_stripe_customers(f.fe), 0);
	ck_assert(fake_env_log_has(f.fe, "Stripe", "customer search failed"));
	/* once it can search again, the call goes through */
	fake_env_heal(f.fe);
	assert_ok(get(&f, "u1"), "cus_fake001");
	teardown(&f);
}
END_TEST

START_TEST(test_customer_object_may_be_destroyed_from_done)
{
	struct fake_env *fe = fake_env_create(1);
	struct customer_config cfg = {.variant = VARIANT_HARDENED, .retries_max = 1, .backoff_ms = 1};
	struct customer *c = customer_create(fake_env_core(fe), &cfg);
	struct call_result r = {0};
	customer_get_or_create(c, "u1", NULL, on_done, &r);
	fake_env_run(fe);
	ck_assert_int_eq(r.calls, 1);
	customer_destroy(c);
	fake_env_destroy(fe);
}
END_TEST

/* ---- sweep --------------------------------------------------------------------------- */

#define SWEEP_OPS_MAX 40

/* One call under the fault, then the faults end and the user tries again:
 * both answers agree and no customer is orphaned. */
START_TEST(test_customer_hardened_sweep_fail_nth_operation)
{
	bool clean_run_seen = false;
	for (int n = 1; n <= SWEEP_OPS_MAX && !clean_run_seen; n++) {
		struct fixture f = setup(VARIANT_HARDENED);
		sweep_script(f.fe, _i, n);

		struct call_result first = get(&f, "u1");
		clean_run_seen = fake_env_ops(f.fe) < n;
		/* Timeouts and lost connections are transient: RETRY. An error
		 * answer is transient or not by the op it hits (the fake's
		 * acquire says 53300 and Stripe 500, transient; a statement
		 * XX000, permanent). */
		bool error_kind = (_i / 2) % SWEEP_KINDS == 3;
		ck_assert(first.rc == RESULT_OK || first.rc == RESULT_RETRY ||
		          (error_kind && first.rc == RESULT_ERROR));
		if (first.rc == RESULT_OK)
			ck_assert_str_eq(fake_env_mapping(f.fe, "u1"), first.id);
		ck_assert_int_le(fake_env_stripe_customers(f.fe), 1);

		fake_env_heal(f.fe);
		struct call_result again = get(&f, "u1");
		assert_ok(again, "cus_fake001");
		if (first.rc == RESULT_OK)
			ck_assert_str_eq(first.id, again.id);
		/* no-orphan */
		ck_assert_int_eq(fake_env_stripe_customers(f.fe), 1);
		ck_assert_int_eq(fake_env_stripe_orphans(f.fe), 0);
		teardown(&f);
	}
	ck_assert(clean_run_seen);
}
END_TEST

Suite *check_customer_suite(void);
Suite *check_customer_suite(void)
{
	Suite *s = suite_create("customer");
	TCase *tc = tcase_create("contract");
	tcase_add_loop_test(tc, test_customer_returns_existing_mapping_without_calling_stripe, 0, VARIANT_COUNT);
	tcase_add_loop_test(tc, test_customer_creates_customer_then_stores_mapping, 0, VARIANT_COUNT);
	tcase_add_loop_test(tc, test_customer_lookup_failure_is_an_error_before_stripe, 0, VARIANT_COUNT);
	tcase_add_loop_test(tc, test_customer_refuses_bad_input_later, 0, VARIANT_COUNT);
	tcase_add_test(tc, test_customer_create_refuses_out_of_range_config);
	tcase_add_test(tc, test_customer_object_may_be_destroyed_from_done);
	suite_add_tcase(s, tc);

	tc = tcase_create("legacy");
	tcase_add_test(tc, test_customer_legacy_insert_failure_orphans_a_customer_per_attempt);
	tcase_add_loop_test(tc, test_customer_legacy_and_seed_stripe_failure_is_an_error_without_retry,
	                    VARIANT_LEGACY, VARIANT_HARDENED);
	tcase_add_loop_test(tc, test_customer_legacy_and_seed_lost_stripe_reply_orphans_the_customer,
	                    VARIANT_LEGACY, VARIANT_HARDENED);
	tcase_add_test(tc, test_customer_legacy_race_fails_one_request_and_orphans);
	suite_add_tcase(s, tc);

	tc = tcase_create("seed");
	tcase_add_loop_test(tc, test_customer_seed_retries_transient_insert_failures, 0, 14);
	tcase_add_test(tc, test_customer_seed_back_off_doubles_within_jitter_bounds);
	tcase_add_test(tc, test_customer_seed_gives_up_after_retries_max);
	tcase_add_test(tc, test_customer_seed_does_not_retry_permanent_insert_errors);
	tcase_add_test(tc, test_customer_seed_race_adopts_winner_and_orphans_a_customer);
	suite_add_tcase(s, tc);

	tc = tcase_create("hardened");
	tcase_add_test(tc, test_customer_hardened_race_creates_one_customer);
	tcase_add_test(tc, test_customer_hardened_race_waits_out_stripe_409_in_flight);
	tcase_add_loop_test(tc, test_customer_hardened_retries_stripe_with_the_same_key_and_params, 0, 6);
	tcase_add_test(tc, test_customer_hardened_does_not_retry_stripe_400);
	tcase_add_test(tc, test_customer_hardened_gives_up_on_stripe_after_retries_max);
	tcase_add_test(tc, test_customer_hardened_retries_a_200_without_a_customer_id);
	tcase_add_loop_test(tc, test_customer_200_without_a_customer_id_for_good, 0, 3);
	tcase_add_test(tc, test_customer_hardened_lost_insert_reply_ends_with_our_own_mapping);
	tcase_add_test(tc, test_customer_hardened_failed_request_leaves_no_orphan_after_retry);
	tcase_add_test(tc, test_customer_hardened_maps_the_customer_found_a_day_later);
	tcase_add_test(tc, test_customer_seed_orphans_when_the_user_comes_back_a_day_later);
	tcase_add_loop_test(tc, test_customer_hardened_creates_nothing_without_a_search, 0, 5);
	suite_add_tcase(s, tc);

	tc = tcase_create("sweep");
	tcase_add_loop_test(tc, test_customer_hardened_sweep_fail_nth_operation, 0, SWEEP_CASES);
	suite_add_tcase(s, tc);
	return s;
}
