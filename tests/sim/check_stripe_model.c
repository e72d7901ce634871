/* tests/check_stripe_model.c - the Stripe model's customers and its
 * Idempotency-Key contract: replay, mismatch, concurrent 409, saved errors,
 * unsaved failures, 24-hour expiry, bounds and deterministic ids; the search
 * by user id. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/models/stripe_model.h"
#include "tests/support/death.h"

#define SEC 1000000ULL
#define DAY_US STRIPE_MODEL_KEY_TTL_US

static struct stripe_model *m;

static void setup(void)
{
	m = stripe_model_create(7);
	ck_assert_ptr_nonnull(m);
}

static void teardown(void)
{
	stripe_model_destroy(m);
	m = NULL;
}

static struct stripe_customer_params params(const char *email, const char *user,
                                            const char *key)
{
	return (struct stripe_customer_params){email, user, key};
}

/* Begins a request that must become pending; returns its token. */
static uint32_t begin_pending(uint64_t now_us, struct stripe_customer_params p)
{
	uint32_t token = 0;
	struct stripe_reply r;
	bool answered = stripe_model_customer_begin(m, now_us, &p, &token, &r);
	ck_assert_msg(!answered, "answered at once with %d %s", r.http_status,
	              r.error_type);
	return token;
}

/* Begins a request that must be answered at once. */
static struct stripe_reply begin_answered(uint64_t now_us,
                                          struct stripe_customer_params p)
{
	uint32_t token = 0;
	struct stripe_reply r;
	memset(&r, 0, sizeof r);
	bool answered = stripe_model_customer_begin(m, now_us, &p, &token, &r);
	ck_assert_msg(answered, "unexpectedly pending");
	return r;
}

/* A whole successful create; the id goes into id_out. */
static void create_ok(uint64_t now_us, struct stripe_customer_params p,
                      char id_out[STRIPE_MODEL_CUSTOMER_ID_LEN + 1])
{
	uint32_t t = begin_pending(now_us, p);
	struct stripe_reply r;
	stripe_model_customer_finish(m, t, now_us, 200, true, &r);
	ck_assert_int_eq(r.http_status, 200);
	ck_assert_str_eq(r.error_type, "");
	ck_assert(!r.idempotent_replay);
	ck_assert_uint_eq(strlen(r.customer_id), STRIPE_MODEL_CUSTOMER_ID_LEN);
	memcpy(id_out, r.customer_id, STRIPE_MODEL_CUSTOMER_ID_LEN + 1);
}

struct cust_list {
	int n;
	char id[8][STRIPE_MODEL_CUSTOMER_ID_LEN + 1];
	char user[8][32];
	char email[8][64];
	uint64_t created_us[8];
};

static void collect(void *arg, const char *id, const char *user_id,
                    const char *email, uint64_t created_us)
{
	struct cust_list *l = arg;
	ck_assert_int_lt(l->n, 8);
	snprintf(l->id[l->n], sizeof l->id[0], "%s", id);
	snprintf(l->user[l->n], sizeof l->user[0], "%s", user_id);
	snprintf(l->email[l->n], sizeof l->email[0], "%s", email);
	l->created_us[l->n] = created_us;
	l->n++;
}

/* ---- customers and ids ------------------------------------------------- */

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

START_TEST(test_stripe_create_stores_email_and_user_id)
{
	char id[STRIPE_MODEL_CUSTOMER_ID_LEN + 1];
	uint32_t t = begin_pending(1 * SEC, params("ann@example.com", "u1", NULL));
	ck_assert_uint_eq(stripe_model_pending_count(m), 1);
	ck_assert_uint_eq(stripe_model_customer_count(m), 0); /* not yet */
	struct stripe_reply r;
	stripe_model_customer_finish(m, t, 3 * SEC, 200, true, &r);
	memcpy(id, r.customer_id, sizeof id);
	ck_assert_uint_eq(stripe_model_pending_count(m), 0);
	ck_assert_uint_eq(stripe_model_customer_count(m), 1);
	struct cust_list l = {0};
	stripe_model_foreach_customer(m, collect, &l);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.id[0], id);
	ck_assert_str_eq(l.user[0], "u1");
	ck_assert_str_eq(l.email[0], "ann@example.com");
	ck_assert_uint_eq(l.created_us[0], 3 * SEC);
}
END_TEST

/* The search: the user's oldest customer, once STRIPE_MODEL_SEARCH_LAG_US
 * old; nothing for a user without one, for "" or before the lag; and still
 * found after the index has grown past many users. */
START_TEST(test_stripe_find_answers_the_oldest_customer_after_the_lag)
{
	const uint64_t lag = STRIPE_MODEL_SEARCH_LAG_US;
	char first[STRIPE_MODEL_CUSTOMER_ID_LEN + 1], second[STRIPE_MODEL_CUSTOMER_ID_LEN + 1];
	ck_assert_str_eq(stripe_model_customer_find(m, 0, "u1"), "");
	create_ok(1 * SEC, params("a@x.io", "u1", NULL), first);
	create_ok(2 * SEC, params("a@x.io", "u1", NULL), second);
	ck_assert_str_eq(stripe_model_customer_find(m, 1 * SEC + lag - 1, "u1"), "");
	ck_assert_str_eq(stripe_model_customer_find(m, 1 * SEC + lag, "u1"), first);
	ck_assert_str_eq(stripe_model_customer_find(m, DAY_US, "u1"), first);
	ck_assert_str_eq(stripe_model_customer_find(m, DAY_US, "u2"), "");
	ck_assert_str_eq(stripe_model_customer_find(m, DAY_US, ""), "");
	char ids[300][STRIPE_MODEL_CUSTOMER_ID_LEN + 1];
	for (int i = 0; i < 300; i++) {
		char user[16];
		snprintf(user, sizeof user, "v%d", i);
		create_ok(DAY_US + (uint64_t)i, params(NULL, user, NULL), ids[i]);
	}
	for (int i = 0; i < 300; i++) {
		char user[16];
		snprintf(user, sizeof user, "v%d", i);
		ck_assert_str_eq(stripe_model_customer_find(m, 2 * DAY_US, user), ids[i]);
	}
	ck_assert_str_eq(stripe_model_customer_find(m, 2 * DAY_US, "u1"), first);
}
END_TEST

START_TEST(test_stripe_customer_ids_are_well_formed_distinct_and_seeded)
{
	enum { N = 3000 };
	static char ids[N][STRIPE_MODEL_CUSTOMER_ID_LEN + 1];
	for (int i = 0; i < N; i++)
		create_ok(0, params("a@b.c", "u", NULL), ids[i]);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(strncmp(ids[i], "cus_", 4), 0);
		for (int k = 4; k < STRIPE_MODEL_CUSTOMER_ID_LEN; k++) {
			char c = ids[i][k];
			ck_assert((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			          (c >= 'A' && c <= 'Z'));
		}
	}
	qsort(ids, N, sizeof ids[0], cmp_id);
	for (int i = 1; i < N; i++)
		ck_assert_str_ne(ids[i - 1], ids[i]);

	/* Same seed, same ids; another seed, other ids. */
	char a[STRIPE_MODEL_CUSTOMER_ID_LEN + 1], b[STRIPE_MODEL_CUSTOMER_ID_LEN + 1];
	struct stripe_model *keep = m;
	m = stripe_model_create(7);
	create_ok(0, params("x@y.z", "v", NULL), a);
	stripe_model_destroy(m);
	m = stripe_model_create(7);
	create_ok(0, params("other@y.z", "w", NULL), b);
	ck_assert_str_eq(a, b);
	stripe_model_destroy(m);
	m = stripe_model_create(8);
	create_ok(0, params("x@y.z", "v", NULL), b);
	ck_assert_str_ne(a, b);
	stripe_model_destroy(m);
	m = keep;
}
END_TEST

START_TEST(test_stripe_requests_without_key_always_create)
{
	char a[STRIPE_MODEL_CUSTOMER_ID_LEN + 1], b[STRIPE_MODEL_CUSTOMER_ID_LEN + 1];
	create_ok(0, params("a@b.c", "u1", NULL), a);
	create_ok(0, params("a@b.c", "u1", NULL), b);
	ck_assert_str_ne(a, b);
	ck_assert_uint_eq(stripe_model_customer_count(m), 2);
}
END_TEST

START_TEST(test_stripe_foreach_lists_customers_in_creation_order)
{
	char id[3][STRIPE_MODEL_CUSTOMER_ID_LEN + 1];
	uint32_t t1 = begin_pending(0, params("1@x", "u1", NULL));
	uint32_t t2 = begin_pending(0, params("2@x", "u2", NULL));
	uint32_t t3 = begin_pending(0, params(NULL, NULL, NULL));
	struct stripe_reply r;
	stripe_model_customer_finish(m, t2, 1, 200, true, &r);
	memcpy(id[0], r.customer_id, sizeof id[0]);
	stripe_model_customer_finish(m, t3, 2, 200, true, &r);
	memcpy(id[1], r.customer_id, sizeof id[1]);
	stripe_model_customer_finish(m, t1, 3, 200, true, &r);
	memcpy(id[2], r.customer_id, sizeof id[2]);
	struct cust_list l = {0};
	stripe_model_foreach_customer(m, collect, &l);
	ck_assert_int_eq(l.n, 3);
	ck_assert_str_eq(l.id[0], id[0]);
	ck_assert_str_eq(l.user[0], "u2");
	ck_assert_str_eq(l.id[1], id[1]);
	ck_assert_str_eq(l.user[1], "");
	ck_assert_str_eq(l.email[1], "");
	ck_assert_str_eq(l.id[2], id[2]);
	ck_assert_str_eq(l.email[2], "1@x");
}
END_TEST

/* ---- the Idempotency-Key contract -------------------------------------- */

START_TEST(test_stripe_same_key_same_params_replays_saved_response)
{
	char id[STRIPE_MODEL_CUSTOMER_ID_LEN + 1];
	create_ok(0, params("a@b.c", "u1", "cust-u1"), id);
	struct stripe_reply r = begin_answered(5 * SEC, params("a@b.c", "u1", "cust-u1"));
	ck_assert_int_eq(r.http_status, 200);
	ck_assert_str_eq(r.error_type, "");
	ck_assert_str_eq(r.customer_id, id);
	ck_assert(r.idempotent_replay);
	ck_assert_uint_eq(stripe_model_customer_count(m), 1);
}
END_TEST

START_TEST(test_stripe_same_key_different_params_is_idempotency_error)
{
	char id[STRIPE_MODEL_CUSTOMER_ID_LEN + 1];
	create_ok(0, params("a@b.c", "u1", "k"), id);
	struct stripe_reply r = begin_answered(1, params("other@b.c", "u1", "k"));
	ck_assert_int_eq(r.http_status, 400);
	ck_assert_str_eq(r.error_type, "idempotency_error");
	ck_assert_str_eq(r.customer_id, "");
	ck_assert(!r.idempotent_replay);
	r = begin_answered(1, params("a@b.c", "u2", "k"));
	ck_assert_int_eq(r.http_status, 400);
	ck_assert_str_eq(r.error_type, "idempotency_error");
	r = begin_answered(1, params("a@b.c", NULL, "k"));
	ck_assert_int_eq(r.http_status, 400);
	ck_assert_uint_eq(stripe_model_customer_count(m), 1);
}
END_TEST

START_TEST(test_stripe_null_and_empty_fields_are_the_same_params)
{
	uint32_t t = begin_pending(0, params(NULL, "u1", "k"));
	struct stripe_reply r;
	stripe_model_customer_finish(m, t, 0, 200, true, &r);
	r = begin_answered(1, params("", "u1", "k"));
	ck_assert_int_eq(r.http_status, 200);
	ck_assert(r.idempotent_replay);
}
END_TEST

START_TEST(test_stripe_same_key_in_flight_is_409_conflict)
{
	uint32_t t = begin_pending(0, params("a@b.c", "u1", "k"));
	struct stripe_reply r = begin_answered(1, params("a@b.c", "u1", "k"));
	ck_assert_int_eq(r.http_status, 409);
	ck_assert_str_eq(r.error_type, "idempotency_error");
	ck_assert(!r.idempotent_replay);
	/* Even with other params: the conflict is about the key. */
	r = begin_answered(1, params("x@b.c", "u9", "k"));
	ck_assert_int_eq(r.http_status, 409);
	stripe_model_customer_finish(m, t, 2, 200, true, &r);
	ck_assert_uint_eq(stripe_model_customer_count(m), 1);
}
END_TEST

/* Two racing requests with the key derived from the user id: one customer,
 * and the loser's retry sees the winner's customer. */
START_TEST(test_stripe_racing_requests_with_one_key_make_one_customer)
{
	uint32_t ta = begin_pending(0, params("a@b.c", "u1", "cus-for-u1"));
	struct stripe_reply rb = begin_answered(10, params("a@b.c", "u1", "cus-for-u1"));
	ck_assert_int_eq(rb.http_status, 409);
	struct stripe_reply ra;
	stripe_model_customer_finish(m, ta, 20, 200, true, &ra);
	char id[STRIPE_MODEL_CUSTOMER_ID_LEN + 1];
	memcpy(id, ra.customer_id, sizeof id);
	rb = begin_answered(30, params("a@b.c", "u1", "cus-for-u1"));
	ck_assert_int_eq(rb.http_status, 200);
	ck_assert(rb.idempotent_replay);
	ck_assert_str_eq(rb.customer_id, id);
	ck_assert_uint_eq(stripe_model_customer_count(m), 1);
}
END_TEST

START_TEST(test_stripe_saved_500_is_replayed_and_creates_nothing)
{
	uint32_t t = begin_pending(0, params("a@b.c", "u1", "k"));
	struct stripe_reply r;
	stripe_model_customer_finish(m, t, 1, 500, true, &r);
	ck_assert_int_eq(r.http_status, 500);
	ck_assert_str_eq(r.error_type, "api_error");
	ck_assert_str_eq(r.customer_id, "");
	ck_assert(!r.idempotent_replay);
	r = begin_answered(2, params("a@b.c", "u1", "k"));
	ck_assert_int_eq(r.http_status, 500);
	ck_assert_str_eq(r.error_type, "api_error");
	ck_assert_str_eq(r.customer_id, "");
	ck_assert(r.idempotent_replay);
	ck_assert_uint_eq(stripe_model_customer_count(m), 0);
}
END_TEST

START_TEST(test_stripe_unsaved_429_frees_the_key)
{
	uint32_t t = begin_pending(0, params("a@b.c", "u1", "k"));
	struct stripe_reply r;
	stripe_model_customer_finish(m, t, 1, 429, false, &r);
	ck_assert_int_eq(r.http_status, 429);
	ck_assert_str_eq(r.error_type, "invalid_request_error");
	/* The retry runs for real, and may even change its params. */
	t = begin_pending(2, params("new@b.c", "u1", "k"));
	stripe_model_customer_finish(m, t, 3, 200, true, &r);
	ck_assert_int_eq(r.http_status, 200);
	ck_assert(!r.idempotent_replay);
	ck_assert_uint_eq(stripe_model_customer_count(m), 1);
}
END_TEST

START_TEST(test_stripe_key_expires_24h_after_its_first_request_began)
{
	char id[STRIPE_MODEL_CUSTOMER_ID_LEN + 1];
	uint32_t t = begin_pending(10 * SEC, params("a@b.c", "u1", "k"));
	struct stripe_reply r;
	stripe_model_customer_finish(m, t, 70 * SEC, 200, true, &r);
	memcpy(id, r.customer_id, sizeof id);
	r = begin_answered(10 * SEC + DAY_US - 1, params("a@b.c", "u1", "k"));
	ck_assert(r.idempotent_replay);
	ck_assert_str_eq(r.customer_id, id);
	/* Pruned at 24 h: a new request, even with other params. */
	t = begin_pending(10 * SEC + DAY_US, params("other@b.c", "u1", "k"));
	stripe_model_customer_finish(m, t, 10 * SEC + DAY_US, 200, true, &r);
	ck_assert_int_eq(r.http_status, 200);
	ck_assert(!r.idempotent_replay);
	ck_assert_str_ne(r.customer_id, id);
	ck_assert_uint_eq(stripe_model_customer_count(m), 2);
}
END_TEST

START_TEST(test_stripe_key_in_flight_is_not_forgotten_after_24h)
{
	uint32_t t = begin_pending(0, params("a@b.c", "u1", "k"));
	struct stripe_reply r = begin_answered(2 * DAY_US, params("a@b.c", "u1", "k"));
	ck_assert_int_eq(r.http_status, 409);
	stripe_model_customer_finish(m, t, 2 * DAY_US, 200, true, &r);
	ck_assert_int_eq(r.http_status, 200);
}
END_TEST

/* Thousands of keys through ring growth and pruning: every live key still
 * replays, and every pruned key starts afresh. */
START_TEST(test_stripe_many_keys_replay_then_expire)
{
	enum { N = 3000 };
	char key[32];
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof key, "key-%d", i);
		uint32_t t = begin_pending((uint64_t)i, params("a@b.c", key, key));
		struct stripe_reply r;
		/* A third fail before executing and leave nothing behind. */
		stripe_model_customer_finish(m, t, (uint64_t)i, i % 3 == 0 ? 429 : 200,
		                             i % 3 != 0, &r);
	}
	ck_assert_uint_eq(stripe_model_customer_count(m), N - (N + 2) / 3);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof key, "key-%d", i);
		uint32_t t;
		struct stripe_reply r;
		struct stripe_customer_params p = params("a@b.c", key, key);
		bool answered = stripe_model_customer_begin(m, N, &p, &t, &r);
		ck_assert_int_eq(answered, i % 3 != 0);
		if (answered)
			ck_assert(r.idempotent_replay);
		else
			stripe_model_customer_finish(m, t, N, 500, true, &r);
	}
	/* A day later every key is new again. */
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof key, "key-%d", i);
		uint32_t t = begin_pending(N + DAY_US, params("z@b.c", key, key));
		struct stripe_reply r;
		stripe_model_customer_finish(m, t, N + DAY_US, 429, false, &r);
	}
	ck_assert_uint_eq(stripe_model_pending_count(m), 0);
}
END_TEST

/* ---- validation, bounds and misuse ------------------------------------ */

START_TEST(test_stripe_rejects_overlong_fields_without_saving)
{
	char key[STRIPE_MODEL_KEY_LEN_MAX + 2];
	memset(key, 'k', sizeof key - 1);
	key[sizeof key - 1] = '\0';
	struct stripe_reply r = begin_answered(0, params("a@b.c", "u", key));
	ck_assert_int_eq(r.http_status, 400);
	ck_assert_str_eq(r.error_type, "invalid_request_error");
	key[STRIPE_MODEL_KEY_LEN_MAX] = '\0'; /* exactly at the limit: fine */
	char id[STRIPE_MODEL_CUSTOMER_ID_LEN + 1];
	create_ok(0, params("a@b.c", "u", key), id);

	r = begin_answered(0, params("a@b.c", "u", ""));
	ck_assert_int_eq(r.http_status, 400);
	ck_assert_str_eq(r.error_type, "invalid_request_error");

	static char big[STRIPE_MODEL_EMAIL_MAX + 2];
	memset(big, 'e', sizeof big - 1);
	r = begin_answered(0, params(big, "u", "k2"));
	ck_assert_int_eq(r.http_status, 400);
	ck_assert_str_eq(r.error_type, "invalid_request_error");
	big[STRIPE_MODEL_USER_ID_MAX + 1] = '\0';
	r = begin_answered(0, params("a@b.c", big, "k2"));
	ck_assert_int_eq(r.http_status, 400);
	/* Nothing was saved under k2. */
	uint32_t t = begin_pending(0, params("a@b.c", "u", "k2"));
	stripe_model_customer_finish(m, t, 0, 200, true, &r);
	ck_assert_uint_eq(stripe_model_customer_count(m), 2);
	ck_assert_uint_eq(stripe_model_pending_count(m), 0);
}
END_TEST

START_TEST(test_stripe_pending_bound_answers_429)
{
	static uint32_t tokens[STRIPE_MODEL_PENDING_MAX];
	for (uint32_t i = 0; i < STRIPE_MODEL_PENDING_MAX; i++)
		tokens[i] = begin_pending(0, params("a@b.c", "u", NULL));
	struct stripe_reply r = begin_answered(0, params("a@b.c", "u", "k"));
	ck_assert_int_eq(r.http_status, 429);
	ck_assert_str_eq(r.error_type, "invalid_request_error");
	stripe_model_customer_finish(m, tokens[17], 0, 500, true, &r);
	uint32_t again = begin_pending(0, params("a@b.c", "u", "k"));
	ck_assert_uint_ne(again, tokens[17]); /* same slot, new generation */
	for (uint32_t i = 0; i < STRIPE_MODEL_PENDING_MAX; i++) {
		if (i != 17)
			stripe_model_customer_finish(m, tokens[i], 0, 200, true, &r);
	}
	stripe_model_customer_finish(m, again, 0, 200, true, &r);
	ck_assert_uint_eq(stripe_model_customer_count(m), STRIPE_MODEL_PENDING_MAX);
}
END_TEST

START_TEST(test_stripe_error_type_follows_status)
{
	const int status[] = {402, 404, 400, 503, 500};
	const char *type[] = {"card_error", "invalid_request_error",
	                      "invalid_request_error", "api_error", "api_error"};
	for (int i = 0; i < 5; i++) {
		uint32_t t = begin_pending(0, params("a@b.c", "u", NULL));
		struct stripe_reply r;
		stripe_model_customer_finish(m, t, 0, status[i], true, &r);
		ck_assert_int_eq(r.http_status, status[i]);
		ck_assert_str_eq(r.error_type, type[i]);
	}
	ck_assert_uint_eq(stripe_model_customer_count(m), 0);
}
END_TEST

START_TEST(test_stripe_finishing_a_token_twice_is_a_bug)
{
	death_expect("pd->used");
	uint32_t t = begin_pending(0, params("a@b.c", "u", NULL));
	struct stripe_reply r;
	stripe_model_customer_finish(m, t, 0, 200, true, &r);
	stripe_model_customer_finish(m, t, 0, 200, true, &r);
}
END_TEST

START_TEST(test_stripe_success_without_save_is_a_bug)
{
	death_expect("status != 200 || save");
	uint32_t t = begin_pending(0, params("a@b.c", "u", "k"));
	struct stripe_reply r;
	stripe_model_customer_finish(m, t, 0, 200, false, &r);
}
END_TEST

START_TEST(test_stripe_clock_going_backwards_is_a_bug)
{
	death_expect("now_us >= m->last_now_us");
	(void)begin_pending(10, params("a@b.c", "u", NULL));
	(void)begin_pending(9, params("a@b.c", "u", NULL));
}
END_TEST

Suite *check_stripe_model_suite(void);
Suite *check_stripe_model_suite(void)
{
	Suite *s = suite_create("stripe_model");
	TCase *tc = tcase_create("customers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_stripe_create_stores_email_and_user_id);
	tcase_add_test(tc, test_stripe_find_answers_the_oldest_customer_after_the_lag);
	tcase_add_test(tc, test_stripe_customer_ids_are_well_formed_distinct_and_seeded);
	tcase_add_test(tc, test_stripe_requests_without_key_always_create);
	tcase_add_test(tc, test_stripe_foreach_lists_customers_in_creation_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("idempotency");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_stripe_same_key_same_params_replays_saved_response);
	tcase_add_test(tc, test_stripe_same_key_different_params_is_idempotency_error);
	tcase_add_test(tc, test_stripe_null_and_empty_fields_are_the_same_params);
	tcase_add_test(tc, test_stripe_same_key_in_flight_is_409_conflict);
	tcase_add_test(tc, test_stripe_racing_requests_with_one_key_make_one_customer);
	tcase_add_test(tc, test_stripe_saved_500_is_replayed_and_creates_nothing);
	tcase_add_test(tc, test_stripe_unsaved_429_frees_the_key);
	tcase_add_test(tc, test_stripe_key_expires_24h_after_its_first_request_began);
	tcase_add_test(tc, test_stripe_key_in_flight_is_not_forgotten_after_24h);
	tcase_add_test(tc, test_stripe_many_keys_replay_then_expire);
	suite_add_tcase(s, tc);

	tc = tcase_create("bounds");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_stripe_rejects_overlong_fields_without_saving);
	tcase_add_test(tc, test_stripe_pending_bound_answers_429);
	tcase_add_test(tc, test_stripe_error_type_follows_status);
	tcase_add_test_raise_signal(tc, test_stripe_finishing_a_token_twice_is_a_bug, SIGABRT);
	tcase_add_test_raise_signal(tc, test_stripe_success_without_save_is_a_bug, SIGABRT);
	tcase_add_test_raise_signal(tc, test_stripe_clock_going_backwards_is_a_bug, SIGABRT);
	suite_add_tcase(s, tc);
	return s;
}
