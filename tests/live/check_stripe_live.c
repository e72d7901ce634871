/* tests/check_stripe_live.c - the Stripe port through libcurl against the
 * built-in fake Stripe: creation, the Idempotency-Key contract (replay, 400,
 * 409), auth, deadlines, refused connections, the customer list for the
 * no-orphan check, and where the key may come from. Needs no external
 * server: the fake listens on 127.0.0.1 on the test's own loop. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <jansson.h>

#include "live/curl_loop.h"
#include "live/fake_stripe.h"
#include "live/stripe_live.h"
#include "sim/sched.h"

#define LOOP_PASSES_MAX 100000
#define TEST_KEY "sk_test_faultline_4242"

struct fixture {
	struct event_base *base;
	struct sched *s;
	struct curl_loop *cl;
	struct fake_stripe *fake;
	struct stripe_live *sl;
	struct stripe_port stripe;
};

struct answer {
	int calls;
	enum outcome oc;
	bool had_reply;
	int status;
	char error_type[64];
	char customer_id[64];
	bool replay;
	uint64_t at_us;
	struct sched *s;
};

static void on_answer(void *arg, enum outcome oc, const struct stripe_reply *r)
{
	struct answer *a = arg;
	a->calls++;
	a->oc = oc;
	a->at_us = sched_now_us(a->s);
	a->had_reply = r != NULL;
	if (r == NULL)
		return;
	a->status = r->http_status;
	snprintf(a->error_type, sizeof a->error_type, "%s", r->error_type);
	snprintf(a->customer_id, sizeof a->customer_id, "%s", r->customer_id);
	a->replay = r->idempotent_replay;
}

static void on_guard(void *arg)
{
	*(bool *)arg = true;
}

static void loop_until(struct fixture *f, const int *calls, uint64_t max_us)
{
	bool expired = false;
	struct sched_timer guard = sched_after(f->s, max_us, on_guard, &expired);
	for (int n = 0; n < LOOP_PASSES_MAX && *calls == 0 && !expired; n++)
		event_base_loop(f->base, EVLOOP_ONCE);
	sched_cancel(f->s, guard);
}

static void loop_for(struct fixture *f, uint64_t us)
{
	int never = 0;
	loop_until(f, &never, us);
}

/* The fake (process_us in flight) and an adapter pointed at url, or at the
 * fake when url is NULL. */
static void fixture_init_with(struct fixture *f, uint64_t process_us,
                              const char *url, const char *key,
                              uint64_t timeout_us)
{
	char err[128];
	f->base = sched_base_new(SCHED_REAL);
	ck_assert_ptr_nonnull(f->base);
	f->s = sched_create(f->base, SCHED_REAL, NULL);
	ck_assert_ptr_nonnull(f->s);
	f->cl = curl_loop_create(f->base, 16);
	ck_assert_ptr_nonnull(f->cl);
	struct fake_stripe_config fcfg = {
		.port = 0, .api_key = TEST_KEY, .id_seed = 7,
		.process_us = process_us,
	};
	f->fake = fake_stripe_create(f->base, f->s, &fcfg, err, sizeof err);
	ck_assert_msg(f->fake != NULL, "fake_stripe_create: %s", err);
	struct stripe_live_config scfg = {
		.base_url = url != NULL ? url : fake_stripe_url(f->fake),
		.api_key = key,
		.timeout_us = timeout_us,
	};
	f->sl = stripe_live_create(f->cl, f->s, &scfg, err, sizeof err);
	ck_assert_msg(f->sl != NULL, "stripe_live_create: %s", err);
	stripe_live_port(f->sl, &f->stripe);
}

static void fixture_init(struct fixture *f)
{
	fixture_init_with(f, 20000, NULL, TEST_KEY, 2000000);
}

static void fixture_fini(struct fixture *f)
{
	ck_assert_uint_eq(stripe_live_pending(f->sl), 0);
	stripe_live_destroy(f->sl);
	curl_loop_destroy(f->cl);
	fake_stripe_destroy(f->fake);
	sched_destroy(f->s);
	event_base_free(f->base);
}

static void create_async(struct fixture *f, const char *email,
                         const char *user_id, const char *idem,
                         struct answer *a)
{
	struct stripe_customer_params p = {
		.email = email, .user_id = user_id, .idempotency_key = idem,
	};
	*a = (struct answer){.s = f->s};
	f->stripe.customer_create(f->stripe.ctx, &p, on_answer, a);
	ck_assert_int_eq(a->calls, 0); /* never before the call returns */
}

static struct answer create(struct fixture *f, const char *email,
                            const char *user_id, const char *idem)
{
	struct answer a;
	create_async(f, email, user_id, idem, &a);
	loop_until(f, &a.calls, 3000000);
	ck_assert_int_eq(a.calls, 1);
	return a;
}

static struct answer find(struct fixture *f, const char *user_id)
{
	struct answer a = {.s = f->s};
	f->stripe.customer_find(f->stripe.ctx, user_id, on_answer, &a);
	ck_assert_int_eq(a.calls, 0); /* never before the call returns */
	loop_until(f, &a.calls, 3000000);
	ck_assert_int_eq(a.calls, 1);
	return a;
}

/* The search by metadata[user_id]: the user's oldest customer, "" for a
 * user Stripe does not know, and a user id the query cannot carry refused
 * before anything is sent. */
START_TEST(test_stripe_live_finds_the_users_oldest_customer)
{
	struct fixture f;
	fixture_init(&f);
	struct answer none = find(&f, "user_7");
	ck_assert_int_eq(none.oc, OUTCOME_OK);
	ck_assert_int_eq(none.status, 200);
	ck_assert_str_eq(none.customer_id, "");
	struct answer a = create(&f, "cy@example.org", "user_7", NULL);
	struct answer b = create(&f, "cy@example.org", "user_7", NULL);
	struct answer other = create(&f, "di@example.org", "user_77", NULL);
	ck_assert_int_eq(a.oc, OUTCOME_OK);
	ck_assert_int_eq(b.oc, OUTCOME_OK);
	ck_assert_int_eq(other.oc, OUTCOME_OK);
	struct answer got = find(&f, "user_7");
	ck_assert_int_eq(got.oc, OUTCOME_OK);
	ck_assert_str_eq(got.customer_id, a.customer_id);
	got = find(&f, "user_77");
	ck_assert_str_eq(got.customer_id, other.customer_id);
	struct answer bad = find(&f, "o'brien");
	ck_assert_int_eq(bad.oc, OUTCOME_ERROR);
	ck_assert_str_eq(bad.error_type, "invalid_request_error");
	ck_assert_uint_eq(fake_stripe_customer_count(f.fake), 3);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_stripe_live_creates_customer)
{
	struct fixture f;
	fixture_init(&f);
	struct answer a = create(&f, "ana+1@example.org", "user_1", NULL);
	ck_assert_int_eq(a.oc, OUTCOME_OK);
	ck_assert_int_eq(a.status, 200);
	ck_assert_str_eq(a.error_type, "");
	ck_assert_uint_eq(strlen(a.customer_id), 18);
	ck_assert_int_eq(strncmp(a.customer_id, "cus_", 4), 0);
	ck_assert(!a.replay);
	/* Without a key, a second identical call is a second customer. */
	struct answer b = create(&f, "ana+1@example.org", "user_1", NULL);
	ck_assert_int_eq(b.oc, OUTCOME_OK);
	ck_assert_str_ne(b.customer_id, a.customer_id);
	ck_assert_uint_eq(fake_stripe_customer_count(f.fake), 2);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_stripe_live_same_key_same_params_replays_first_customer)
{
	struct fixture f;
	fixture_init(&f);
	struct answer a = create(&f, "bo@example.org", "user_42", "cust-user_42");
	ck_assert_int_eq(a.oc, OUTCOME_OK);
	ck_assert(!a.replay);
	struct answer b = create(&f, "bo@example.org", "user_42", "cust-user_42");
	ck_assert_int_eq(b.oc, OUTCOME_OK);
	ck_assert_int_eq(b.status, 200);
	ck_assert(b.replay);
	ck_assert_str_eq(b.customer_id, a.customer_id);
	ck_assert_uint_eq(fake_stripe_customer_count(f.fake), 1);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_stripe_live_same_key_other_params_is_400_idempotency_error)
{
	struct fixture f;
	fixture_init(&f);
	struct answer a = create(&f, "cy@example.org", "user_7", "cust-user_7");
	ck_assert_int_eq(a.oc, OUTCOME_OK);
	struct answer b = create(&f, "other@example.org", "user_7", "cust-user_7");
	ck_assert_int_eq(b.oc, OUTCOME_ERROR);
	ck_assert(b.had_reply);
	ck_assert_int_eq(b.status, 400);
	ck_assert_str_eq(b.error_type, "idempotency_error");
	ck_assert_str_eq(b.customer_id, "");
	/* metadata[user_id] counts as a parameter too. */
	struct answer c = create(&f, "cy@example.org", "user_8", "cust-user_7");
	ck_assert_int_eq(c.oc, OUTCOME_ERROR);
	ck_assert_int_eq(c.status, 400);
	ck_assert_str_eq(c.error_type, "idempotency_error");
	ck_assert_uint_eq(fake_stripe_customer_count(f.fake), 1);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_stripe_live_racing_requests_with_one_key_make_one_customer)
{
	struct fixture f;
	fixture_init_with(&f, 150000, NULL, TEST_KEY, 2000000);
	struct answer first, second;
	create_async(&f, "di@example.org", "user_9", "cust-user_9", &first);
	loop_for(&f, 30000); /* the first is in flight at the fake */
	create_async(&f, "di@example.org", "user_9", "cust-user_9", &second);
	loop_until(&f, &second.calls, 1000000);
	ck_assert_int_eq(second.oc, OUTCOME_ERROR);
	ck_assert_int_eq(second.status, 409);
	ck_assert_str_eq(second.error_type, "idempotency_error");
	ck_assert_int_eq(first.calls, 0);
	loop_until(&f, &first.calls, 1000000);
	ck_assert_int_eq(first.oc, OUTCOME_OK);
	ck_assert_uint_eq(fake_stripe_customer_count(f.fake), 1);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_stripe_live_wrong_key_is_401)
{
	struct fixture f;
	fixture_init_with(&f, 0, NULL, "sk_test_wrong", 2000000);
	struct answer a = create(&f, "e@example.org", "user_1", NULL);
	ck_assert_int_eq(a.oc, OUTCOME_ERROR);
	ck_assert_int_eq(a.status, 401);
	ck_assert_str_eq(a.error_type, "invalid_request_error");
	ck_assert_uint_eq(fake_stripe_customer_count(f.fake), 0);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_stripe_live_slow_answer_times_out_and_customer_exists)
{
	struct fixture f;
	fixture_init_with(&f, 400000, NULL, TEST_KEY, 100000);
	uint64_t t0 = sched_now_us(f.s);
	struct answer a = create(&f, "fa@example.org", "user_5", "cust-user_5");
	ck_assert_int_eq(a.oc, OUTCOME_TIMEOUT);
	ck_assert(!a.had_reply);
	ck_assert_uint_ge(a.at_us - t0, 100000);
	ck_assert_uint_lt(a.at_us - t0, 350000);
	/* The fake finishes anyway: a timeout is ambiguous, not a failure. */
	loop_for(&f, 450000);
	ck_assert_uint_eq(fake_stripe_customer_count(f.fake), 1);
	/* The retry with the same key gets that customer back: no orphan. */
	struct answer again = create(&f, "fa@example.org", "user_5", "cust-user_5");
	ck_assert_int_eq(again.oc, OUTCOME_OK);
	ck_assert(again.replay);
	ck_assert_uint_eq(fake_stripe_customer_count(f.fake), 1);
	fixture_fini(&f);
}
END_TEST

static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t len = sizeof a;
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

START_TEST(test_stripe_live_refused_connection_is_conn_lost)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
	struct fixture f;
	fixture_init_with(&f, 0, url, TEST_KEY, 2000000);
	struct answer a = create(&f, "g@example.org", "user_1", NULL);
	ck_assert_int_eq(a.oc, OUTCOME_CONN_LOST);
	ck_assert(!a.had_reply);
	ck_assert_uint_lt(a.at_us, 1500000);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_stripe_live_header_breaking_key_is_not_sent)
{
	struct fixture f;
	fixture_init(&f);
	struct answer a = create(&f, "h@example.org", "user_1",
	                         "k\r\nX-Injected: 1");
	ck_assert_int_eq(a.oc, OUTCOME_ERROR);
	ck_assert_int_eq(a.status, 0);
	ck_assert_str_eq(a.error_type, "invalid_request_error");
	ck_assert_uint_eq(fake_stripe_customer_count(f.fake), 0);
	fixture_fini(&f);
}
END_TEST

/* ---- the list, through a plain GET on the same curl_loop ---------------- */

struct got_list {
	int calls;
	long status;
	json_t *doc;
};

static void on_list(void *arg, CURL *easy, const struct curl_loop_response *r)
{
	struct got_list *g = arg;
	(void)easy;
	g->calls++;
	g->status = r->status;
	json_error_t jerr;
	g->doc = json_loadb(r->body, r->body_len, 0, &jerr);
}

static struct got_list list_customers(struct fixture *f, const char *query,
                                      bool auth)
{
	char url[160];
	snprintf(url, sizeof url, "%s/v1/customers%s", fake_stripe_url(f->fake),
	         query);
	CURL *easy = curl_easy_init();
	ck_assert_ptr_nonnull(easy);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	if (auth) {
		curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(easy, CURLOPT_XOAUTH2_BEARER, TEST_KEY);
	}
	struct got_list g = {0, 0, NULL};
	ck_assert_int_eq(curl_loop_start(f->cl, easy, on_list, &g), RESULT_OK);
	loop_until(f, &g.calls, 2000000);
	ck_assert_int_eq(g.calls, 1);
	return g;
}

START_TEST(test_fake_stripe_lists_customers_newest_first_with_paging)
{
	struct fixture f;
	fixture_init_with(&f, 0, NULL, TEST_KEY, 2000000);
	char ids[3][64];
	const char *users[3] = {"user_a", "user_b", "user_c"};
	for (int i = 0; i < 3; i++) {
		struct answer a = create(&f, "x@example.org", users[i], NULL);
		ck_assert_int_eq(a.oc, OUTCOME_OK);
		snprintf(ids[i], sizeof ids[i], "%s", a.customer_id);
	}
	struct got_list g = list_customers(&f, "?limit=100", true);
	ck_assert_int_eq(g.status, 200);
	json_t *data = json_object_get(g.doc, "data");
	ck_assert_uint_eq(json_array_size(data), 3);
	for (int i = 0; i < 3; i++) {
		json_t *c = json_array_get(data, (size_t)(2 - i));
		ck_assert_str_eq(json_string_value(json_object_get(c, "id")), ids[i]);
		ck_assert_str_eq(json_string_value(json_object_get(
			json_object_get(c, "metadata"), "user_id")), users[i]);
	}
	ck_assert(json_is_false(json_object_get(g.doc, "has_more")));
	json_decref(g.doc);

	char q[96];
	snprintf(q, sizeof q, "?limit=1&starting_after=%s", ids[2]);
	g = list_customers(&f, q, true);
	data = json_object_get(g.doc, "data");
	ck_assert_uint_eq(json_array_size(data), 1);
	ck_assert_str_eq(json_string_value(json_object_get(
		json_array_get(data, 0), "id")), ids[1]);
	ck_assert(json_is_true(json_object_get(g.doc, "has_more")));
	json_decref(g.doc);

	g = list_customers(&f, "?limit=0", true);
	ck_assert_int_eq(g.status, 400);
	json_decref(g.doc);
	g = list_customers(&f, "", false);
	ck_assert_int_eq(g.status, 401);
	ck_assert_str_eq(json_string_value(json_object_get(
		json_object_get(g.doc, "error"), "type")), "invalid_request_error");
	json_decref(g.doc);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_stripe_live_past_curl_loop_bound_is_conn_lost_unsent)
{
	struct fixture f;
	fixture_init_with(&f, 100000, NULL, TEST_KEY, 2000000);
	enum { RUNNING = 16 }; /* the fixture's curl_loop bound */
	struct answer a[RUNNING + 1];
	char user[RUNNING + 1][24];
	for (int i = 0; i <= RUNNING; i++) {
		snprintf(user[i], sizeof user[i], "user_%d", i);
		create_async(&f, "many@example.org", user[i], NULL, &a[i]);
	}
	loop_until(&f, &a[RUNNING].calls, 1000000);
	ck_assert_int_eq(a[RUNNING].oc, OUTCOME_CONN_LOST);
	ck_assert_int_eq(a[0].calls, 0);
	for (int i = 0; i < RUNNING; i++) {
		loop_until(&f, &a[i].calls, 2000000);
		ck_assert_int_eq(a[i].oc, OUTCOME_OK);
	}
	ck_assert_uint_eq(fake_stripe_customer_count(f.fake), RUNNING);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_fake_stripe_refuses_oversized_body_with_413)
{
	struct fixture f;
	fixture_init(&f);
	char url[160];
	snprintf(url, sizeof url, "%s/v1/customers", fake_stripe_url(f.fake));
	static char body[FAKE_STRIPE_BODY_MAX + 64];
	memset(body, 'a', sizeof body - 1);
	memcpy(body, "email=", 6);
	CURL *easy = curl_easy_init();
	ck_assert_ptr_nonnull(easy);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
	curl_easy_setopt(easy, CURLOPT_XOAUTH2_BEARER, TEST_KEY);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
	struct got_list g = {0, 0, NULL};
	ck_assert_int_eq(curl_loop_start(f.cl, easy, on_list, &g), RESULT_OK);
	loop_until(&f, &g.calls, 2000000);
	ck_assert_int_eq(g.calls, 1);
	ck_assert_int_eq(g.status, 413);
	json_decref(g.doc);
	ck_assert_uint_eq(fake_stripe_customer_count(f.fake), 0);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_stripe_live_key_comes_from_env_then_file)
{
	char key[STRIPE_LIVE_KEY_MAX], err[160];
	char path[] = "/tmp/faultline-stripe-key.XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	static const char line[] = "sk_test_fromfile\n";
	ck_assert_int_eq(write(fd, line, sizeof line - 1), (ssize_t)(sizeof line - 1));
	close(fd);

	unsetenv(STRIPE_LIVE_KEY_ENV);
	ck_assert_int_eq(stripe_live_key_load(path, key, sizeof key, err,
	                                      sizeof err), RESULT_OK);
	ck_assert_str_eq(key, "sk_test_fromfile");
	setenv(STRIPE_LIVE_KEY_ENV, "sk_test_fromenv", 1);
	ck_assert_int_eq(stripe_live_key_load(path, key, sizeof key, err,
	                                      sizeof err), RESULT_OK);
	ck_assert_str_eq(key, "sk_test_fromenv");
	setenv(STRIPE_LIVE_KEY_ENV, "sk_test with space", 1);
	ck_assert_int_eq(stripe_live_key_load(path, key, sizeof key, err,
	                                      sizeof err), RESULT_REJECT);
	ck_assert_ptr_null(strstr(err, "sk_test")); /* never echoes the key */
	unsetenv(STRIPE_LIVE_KEY_ENV);
	ck_assert_int_eq(stripe_live_key_load(NULL, key, sizeof key, err,
	                                      sizeof err), RESULT_REJECT);
	ck_assert_str_eq(err, "no Stripe key: set $FAULTLINE_STRIPE_KEY or give "
	                      "a key file");
	unlink(path);
	ck_assert_int_eq(stripe_live_key_load(path, key, sizeof key, err,
	                                      sizeof err), RESULT_REJECT);
	ck_assert_str_eq(err, "cannot open the Stripe key file");
}
END_TEST

Suite *check_stripe_live_suite(void);
Suite *check_stripe_live_suite(void)
{
	Suite *s = suite_create("stripe_live");
	TCase *tc = tcase_create("idempotency");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_stripe_live_creates_customer);
	tcase_add_test(tc, test_stripe_live_finds_the_users_oldest_customer);
	tcase_add_test(tc, test_stripe_live_same_key_same_params_replays_first_customer);
	tcase_add_test(tc, test_stripe_live_same_key_other_params_is_400_idempotency_error);
	tcase_add_test(tc, test_stripe_live_racing_requests_with_one_key_make_one_customer);
	tcase_add_test(tc, test_fake_stripe_lists_customers_newest_first_with_paging);
	suite_add_tcase(s, tc);

	TCase *faults = tcase_create("faults");
	tcase_set_timeout(faults, 10);
	tcase_add_test(faults, test_stripe_live_wrong_key_is_401);
	tcase_add_test(faults, test_stripe_live_slow_answer_times_out_and_customer_exists);
	tcase_add_test(faults, test_stripe_live_refused_connection_is_conn_lost);
	tcase_add_test(faults, test_stripe_live_header_breaking_key_is_not_sent);
	tcase_add_test(faults, test_stripe_live_key_comes_from_env_then_file);
	tcase_add_test(faults, test_stripe_live_past_curl_loop_bound_is_conn_lost_unsent);
	tcase_add_test(faults, test_fake_stripe_refuses_oversized_body_with_413);
	suite_add_tcase(s, faults);
	return s;
}
