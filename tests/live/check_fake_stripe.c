/* tests/live/check_fake_stripe.c - the fake Stripe's resources without
 * transport (live/stripe_api.c over live/stripe_store.c): form parsing,
 * customers, payment intents, events, lists, search and Stripe's error
 * objects; the Idempotency-Key table of the Stripe model for any request
 * (replay, other parameters, in flight, 24 h expiry); and over HTTP, the
 * replay header, unsaved validation errors and fault rules. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "live/curl_loop.h"
#include "live/fake_stripe.h"
#include "live/stripe_api.h"
#include "live/stripe_store.h"
#include "sim/fault.h"
#include "sim/models/stripe_model.h"
#include "sim/sched.h"

#define KEY "sk_test_check_fake"
#define LOOP_PASSES_MAX 100000

/* ---- transport-free --------------------------------------------------- */

struct api {
	struct stripe_store *st;
	json_t *body;
};

/* Runs METHOD PATH with form text; returns the status, the body in a->body. */
static int call(struct api *a, enum stripe_api_method m, const char *path, const char *form)
{
	json_decref(a->body);
	a->body = NULL;
	struct stripe_api_request rq = {.now_s = 1700000000};
	int status;
	if (!stripe_api_route(m, path, &rq.target, &status))
		return status;
	json_t *params;
	char err[128];
	ck_assert_msg(stripe_api_form_parse(form, strlen(form), &params, err, sizeof err),
	              "form %s: %s", form, err);
	rq.params = params;
	status = stripe_api_execute(a->st, &rq, &a->body);
	json_decref(params);
	ck_assert_ptr_nonnull(a->body);
	return status;
}

static const char *str(const json_t *o, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof buf, "%s", path);
	const json_t *at = o;
	for (char *tok = strtok(buf, "."); tok != NULL; tok = strtok(NULL, "."))
		at = json_object_get(at, tok);
	const char *s = json_string_value(at);
	return s != NULL ? s : "(none)";
}

static void api_init(struct api *a)
{
	a->st = stripe_store_create(3);
	ck_assert_ptr_nonnull(a->st);
	a->body = NULL;
}

static void api_fini(struct api *a)
{
	json_decref(a->body);
	stripe_store_destroy(a->st);
}

START_TEST(test_form_nests_metadata_and_arrays)
{
	json_t *o;
	char err[128];
	const char *f = "email=a%40b.c&metadata%5Buser_id%5D=u+1&expand[]=x&expand[]=y";
	ck_assert(stripe_api_form_parse(f, strlen(f), &o, err, sizeof err));
	ck_assert_str_eq(str(o, "email"), "a@b.c");
	ck_assert_str_eq(str(o, "metadata.user_id"), "u 1");
	ck_assert_uint_eq(json_array_size(json_object_get(o, "expand")), 2);
	json_decref(o);
	const char *bad[] = {"a=%zz", "a=1&a=2", "a[b=1", "a=%00", "[x]=1", "a=1&a[b]=2"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(!stripe_api_form_parse(bad[i], strlen(bad[i]), &o, err, sizeof err),
		              "accepted %s", bad[i]);
}
END_TEST

START_TEST(test_customer_lives_created_updated_listed_deleted)
{
	struct api a;
	api_init(&a);
	ck_assert_int_eq(call(&a, STRIPE_API_POST, "/v1/customers",
	                      "email=ana@example.org&metadata[user_id]=u1"), 200);
	char id[64];
	snprintf(id, sizeof id, "%s", str(a.body, "id"));
	ck_assert_uint_eq(strlen(id), 18);
	ck_assert_str_eq(str(a.body, "object"), "customer");
	ck_assert(json_is_false(json_object_get(a.body, "livemode")));
	char path[96];
	snprintf(path, sizeof path, "/v1/customers/%s", id);
	ck_assert_int_eq(call(&a, STRIPE_API_POST, path, "name=Ana&metadata[plan]=pro"), 200);
	ck_assert_str_eq(str(a.body, "metadata.user_id"), "u1");
	ck_assert_str_eq(str(a.body, "metadata.plan"), "pro");
	/* A bad parameter changes nothing. */
	ck_assert_int_eq(call(&a, STRIPE_API_POST, path, "name=Bo&email=nope"), 400);
	ck_assert_str_eq(str(a.body, "error.code"), "email_invalid");
	ck_assert_int_eq(call(&a, STRIPE_API_GET, path, ""), 200);
	ck_assert_str_eq(str(a.body, "name"), "Ana");
	ck_assert_int_eq(call(&a, STRIPE_API_GET, "/v1/customers/search",
	                      "query=metadata%5B%27user_id%27%5D%3A%27u1%27"), 200);
	ck_assert_uint_eq(json_array_size(json_object_get(a.body, "data")), 1);
	ck_assert_int_eq(call(&a, STRIPE_API_GET, "/v1/customers/search", "query=id:'x'"), 400);
	ck_assert_int_eq(call(&a, STRIPE_API_DELETE, path, ""), 200);
	ck_assert(json_is_true(json_object_get(a.body, "deleted")));
	ck_assert_int_eq(call(&a, STRIPE_API_GET, path, ""), 200);
	ck_assert(json_is_true(json_object_get(a.body, "deleted")));
	ck_assert_int_eq(call(&a, STRIPE_API_POST, path, "name=x"), 404);
	ck_assert_int_eq(call(&a, STRIPE_API_DELETE, path, ""), 404);
	ck_assert_uint_eq(stripe_store_count(a.st, STRIPE_CUSTOMER), 0);
	ck_assert_int_eq(call(&a, STRIPE_API_GET, "/v1/events", "type=customer.*"), 200);
	ck_assert_uint_eq(json_array_size(json_object_get(a.body, "data")), 3);
	api_fini(&a);
}
END_TEST

START_TEST(test_list_pages_newest_first_both_ways)
{
	struct api a;
	api_init(&a);
	char ids[5][64];
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(call(&a, STRIPE_API_POST, "/v1/customers", "email=x@y.z"), 200);
		snprintf(ids[i], sizeof ids[i], "%s", str(a.body, "id"));
	}
	char q[128];
	snprintf(q, sizeof q, "limit=2&starting_after=%s", ids[3]);
	ck_assert_int_eq(call(&a, STRIPE_API_GET, "/v1/customers", q), 200);
	json_t *d = json_object_get(a.body, "data");
	ck_assert_str_eq(str(json_array_get(d, 0), "id"), ids[2]);
	ck_assert_str_eq(str(json_array_get(d, 1), "id"), ids[1]);
	ck_assert(json_is_true(json_object_get(a.body, "has_more")));
	snprintf(q, sizeof q, "limit=2&ending_before=%s", ids[1]);
	ck_assert_int_eq(call(&a, STRIPE_API_GET, "/v1/customers", q), 200);
	d = json_object_get(a.body, "data");
	ck_assert_str_eq(str(json_array_get(d, 0), "id"), ids[3]);
	ck_assert_str_eq(str(json_array_get(d, 1), "id"), ids[2]);
	ck_assert(json_is_true(json_object_get(a.body, "has_more")));
	ck_assert_str_eq(str(a.body, "url"), "/v1/customers");
	ck_assert_int_eq(call(&a, STRIPE_API_GET, "/v1/customers", "limit=101"), 400);
	ck_assert_str_eq(str(a.body, "error.code"), "parameter_invalid_integer");
	ck_assert_int_eq(call(&a, STRIPE_API_GET, "/v1/customers", "starting_after=cus_no"), 404);
	ck_assert_str_eq(str(a.body, "error.code"), "resource_missing");
	ck_assert_int_eq(call(&a, STRIPE_API_GET, "/v1/customers", "colour=red"), 400);
	ck_assert_str_eq(str(a.body, "error.code"), "parameter_unknown");
	ck_assert_str_eq(str(a.body, "error.param"), "colour");
	api_fini(&a);
}
END_TEST

START_TEST(test_payment_intent_confirms_to_succeeded_with_events)
{
	struct api a;
	api_init(&a);
	ck_assert_int_eq(call(&a, STRIPE_API_POST, "/v1/payment_intents", "currency=usd"), 400);
	ck_assert_str_eq(str(a.body, "error.code"), "parameter_missing");
	ck_assert_str_eq(str(a.body, "error.param"), "amount");
	ck_assert_str_eq(str(a.body, "error.type"), "invalid_request_error");
	ck_assert_int_eq(call(&a, STRIPE_API_POST, "/v1/payment_intents",
	                      "amount=12x&currency=usd"), 400);
	ck_assert_str_eq(str(a.body, "error.code"), "parameter_invalid_integer");
	ck_assert_int_eq(call(&a, STRIPE_API_POST, "/v1/payment_intents",
	                      "amount=100&currency=usd&customer=cus_none"), 400);
	ck_assert_str_eq(str(a.body, "error.code"), "resource_missing");
	ck_assert_int_eq(call(&a, STRIPE_API_POST, "/v1/payment_intents",
	                      "amount=100&currency=USD&metadata[order]=o1"), 200);
	char path[128];
	snprintf(path, sizeof path, "/v1/payment_intents/%s/confirm", str(a.body, "id"));
	ck_assert_str_eq(str(a.body, "currency"), "usd");
	ck_assert_str_eq(str(a.body, "status"), "requires_payment_method");
	ck_assert_int_eq(call(&a, STRIPE_API_POST, path, ""), 400);
	ck_assert_str_eq(str(a.body, "error.param"), "payment_method");
	ck_assert_int_eq(call(&a, STRIPE_API_POST, path, "payment_method=pm_card_chargeDeclined"),
	                 402);
	ck_assert_str_eq(str(a.body, "error.type"), "card_error");
	ck_assert_str_eq(str(a.body, "error.code"), "card_declined");
	ck_assert_int_eq(call(&a, STRIPE_API_POST, path, "payment_method=pm_card_visa"), 200);
	ck_assert_str_eq(str(a.body, "status"), "succeeded");
	ck_assert_int_eq(json_integer_value(json_object_get(a.body, "amount_received")), 100);
	ck_assert_int_eq(call(&a, STRIPE_API_POST, path, "payment_method=pm_card_visa"), 400);
	ck_assert_str_eq(str(a.body, "error.code"), "payment_intent_unexpected_state");
	ck_assert_int_eq(call(&a, STRIPE_API_GET, "/v1/events", "type=payment_intent.succeeded"),
	                 200);
	json_t *d = json_object_get(a.body, "data");
	ck_assert_uint_eq(json_array_size(d), 1);
	ck_assert_str_eq(str(json_array_get(d, 0), "data.object.status"), "succeeded");
	char ev[96];
	snprintf(ev, sizeof ev, "/v1/events/%s", str(json_array_get(d, 0), "id"));
	ck_assert_int_eq(call(&a, STRIPE_API_GET, ev, ""), 200);
	ck_assert_str_eq(str(a.body, "type"), "payment_intent.succeeded");
	ck_assert_int_eq(call(&a, STRIPE_API_GET, "/v1/events", "type=payment_intent.created"), 200);
	ck_assert_uint_eq(json_array_size(json_object_get(a.body, "data")), 1);
	ck_assert_int_eq(call(&a, STRIPE_API_GET, "/v1/payment_intents/pi_none", ""), 404);
	ck_assert_int_eq(call(&a, STRIPE_API_GET, "/v1/charges", ""), 404);
	ck_assert_int_eq(call(&a, STRIPE_API_DELETE, "/v1/payment_intents", ""), 405);
	/* Confirmed at creation, with the method it was made with. */
	ck_assert_int_eq(call(&a, STRIPE_API_POST, "/v1/payment_intents",
	                      "amount=5&currency=eur&payment_method=pm_card_chargeDeclined"
	                      "&confirm=true"), 402);
	ck_assert_str_eq(str(a.body, "error.payment_intent.status"), "requires_payment_method");
	api_fini(&a);
}
END_TEST

/* ---- the key table for any request ------------------------------------ */

START_TEST(test_request_key_replays_refuses_and_expires)
{
	struct stripe_model *m = stripe_model_create(1);
	ck_assert_ptr_nonnull(m);
	struct stripe_model_answer a;
	uint32_t tok, tok2;
	ck_assert(!stripe_model_request_begin(m, 0, "k1", "customers.create {a}", &tok, &a));
	/* In flight: a second request with the key is 409. */
	ck_assert(stripe_model_request_begin(m, 10, "k1", "customers.create {a}", &tok2, &a));
	ck_assert_int_eq(a.http_status, 409);
	ck_assert_str_eq(a.error_type, "idempotency_error");
	stripe_model_request_finish(m, tok, 20, 200, true, "{\"id\":\"cus_1\"}");
	ck_assert(stripe_model_request_begin(m, 30, "k1", "customers.create {a}", &tok2, &a));
	ck_assert(a.idempotent_replay);
	ck_assert_int_eq(a.http_status, 200);
	ck_assert_str_eq(a.body, "{\"id\":\"cus_1\"}");
	ck_assert(stripe_model_request_begin(m, 40, "k1", "customers.create {b}", &tok2, &a));
	ck_assert_int_eq(a.http_status, 400);
	ck_assert_str_eq(a.error_type, "idempotency_error");
	/* Still remembered just before 24 h, forgotten at 24 h. */
	ck_assert(stripe_model_request_begin(m, STRIPE_MODEL_KEY_TTL_US - 1, "k1",
	                                     "customers.create {a}", &tok2, &a));
	ck_assert(a.idempotent_replay);
	ck_assert(!stripe_model_request_begin(m, STRIPE_MODEL_KEY_TTL_US, "k1",
	                                      "customers.create {b}", &tok2, &a));
	/* Not saved (never executed): the key is free again. */
	stripe_model_request_finish(m, tok2, STRIPE_MODEL_KEY_TTL_US, 503, false, NULL);
	ck_assert(!stripe_model_request_begin(m, STRIPE_MODEL_KEY_TTL_US + 1, "k1",
	                                      "customers.create {c}", &tok2, &a));
	stripe_model_request_finish(m, tok2, STRIPE_MODEL_KEY_TTL_US + 2, 500, true, "{}");
	ck_assert(stripe_model_request_begin(m, STRIPE_MODEL_KEY_TTL_US + 3, "k1",
	                                     "customers.create {c}", &tok2, &a));
	ck_assert_int_eq(a.http_status, 500); /* errors are saved too */
	ck_assert_uint_eq(stripe_model_pending_count(m), 0);
	stripe_model_destroy(m);
}
END_TEST

START_TEST(test_request_key_of_a_customer_create_is_another_request)
{
	struct stripe_model *m = stripe_model_create(1);
	struct stripe_customer_params p = {.email = "a@b.c", .idempotency_key = "k"};
	struct stripe_reply r;
	struct stripe_model_answer a;
	uint32_t tok;
	ck_assert(!stripe_model_customer_begin(m, 0, &p, &tok, &r));
	stripe_model_customer_finish(m, tok, 1, 200, true, &r);
	ck_assert(stripe_model_request_begin(m, 2, "k", "a@b.c", &tok, &a));
	ck_assert_int_eq(a.http_status, 400);
	ck_assert_str_eq(a.error_type, "idempotency_error");
	char longkey[STRIPE_MODEL_KEY_LEN_MAX + 2];
	memset(longkey, 'k', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = '\0';
	ck_assert(stripe_model_request_begin(m, 3, longkey, "x", &tok, &a));
	ck_assert_int_eq(a.http_status, 400);
	ck_assert_str_eq(a.error_type, "invalid_request_error");
	stripe_model_destroy(m);
}
END_TEST

/* ---- over HTTP ----------------------------------------------------------- */

struct http {
	struct event_base *base;
	struct sched *s;
	struct curl_loop *cl;
	struct fake_stripe *fake;
};

struct got {
	int calls;
	long status;
	CURLcode code;
	bool replayed;
	json_t *doc;
};

static void on_got(void *arg, CURL *easy, const struct curl_loop_response *r)
{
	struct got *g = arg;
	g->calls++;
	g->status = r->status;
	g->code = r->code;
	struct curl_header *h;
	g->replayed = curl_easy_header(easy, "Idempotent-Replayed", 0, CURLH_HEADER, -1,
	                               &h) == CURLHE_OK && strcmp(h->value, "true") == 0;
	json_error_t jerr;
	g->doc = json_loadb(r->body, r->body_len, 0, &jerr);
}

static void on_guard(void *arg)
{
	*(bool *)arg = true;
}

static void http_init(struct http *h, const struct fault_plan *plan)
{
	char err[128];
	h->base = sched_base_new(SCHED_REAL);
	h->s = sched_create(h->base, SCHED_REAL, NULL);
	h->cl = curl_loop_create(h->base, 8);
	ck_assert_ptr_nonnull(h->cl);
	struct fake_stripe_config cfg = {.api_key = KEY, .id_seed = 5, .process_us = 1000,
	                                 .faults = plan, .fault_seed = 1, .hold_us = 300000};
	h->fake = fake_stripe_create(h->base, h->s, &cfg, err, sizeof err);
	ck_assert_msg(h->fake != NULL, "%s", err);
}

static void http_fini(struct http *h)
{
	curl_loop_destroy(h->cl);
	fake_stripe_destroy(h->fake);
	sched_destroy(h->s);
	event_base_free(h->base);
}

/* POST form to path with key idem (NULL: none); waits for the answer. */
static struct got post(struct http *h, const char *path, const char *form, const char *idem)
{
	char url[160], hdr[128];
	snprintf(url, sizeof url, "%s%s", fake_stripe_url(h->fake), path);
	CURL *easy = curl_easy_init();
	ck_assert_ptr_nonnull(easy);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
	curl_easy_setopt(easy, CURLOPT_XOAUTH2_BEARER, KEY);
	curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, form);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 2000L);
	/* A reset on a reused connection would make curl resend on its own. */
	curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
	struct curl_slist *hs = NULL;
	if (idem != NULL) {
		snprintf(hdr, sizeof hdr, "Idempotency-Key: %s", idem);
		hs = curl_slist_append(NULL, hdr);
		curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hs);
	}
	struct got g = {0};
	ck_assert_int_eq(curl_loop_start(h->cl, easy, on_got, &g), RESULT_OK);
	bool expired = false;
	struct sched_timer guard = sched_after(h->s, 3000000, on_guard, &expired);
	for (int n = 0; n < LOOP_PASSES_MAX && g.calls == 0 && !expired; n++)
		event_base_loop(h->base, EVLOOP_ONCE);
	sched_cancel(h->s, guard);
	curl_slist_free_all(hs);
	ck_assert_int_eq(g.calls, 1);
	return g;
}

/* A rule firing on the nth customers.create, always. */
static struct fault_rule create_rule(uint32_t nth, enum fault_kind kind)
{
	return (struct fault_rule){.target = FAULT_TARGET_STRIPE, .op = "customers.create",
	                           .nth = nth, .kind = kind, .until_us = UINT64_MAX,
	                           .probability = 1};
}

START_TEST(test_http_replays_with_header_and_does_not_save_validation_errors)
{
	struct http h;
	http_init(&h, NULL);
	struct got a = post(&h, "/v1/payment_intents", "amount=100&currency=usd", "pi-1");
	ck_assert_int_eq(a.status, 200);
	ck_assert(!a.replayed);
	struct got b = post(&h, "/v1/payment_intents", "amount=100&currency=usd", "pi-1");
	ck_assert_int_eq(b.status, 200);
	ck_assert(b.replayed);
	ck_assert_str_eq(str(b.doc, "id"), str(a.doc, "id"));
	struct got c = post(&h, "/v1/payment_intents", "amount=200&currency=usd", "pi-1");
	ck_assert_int_eq(c.status, 400);
	ck_assert_str_eq(str(c.doc, "error.type"), "idempotency_error");
	/* A 400 of validation is not saved: the corrected retry executes. */
	struct got d = post(&h, "/v1/customers", "email=nope", "cu-1");
	ck_assert_int_eq(d.status, 400);
	struct got e = post(&h, "/v1/customers", "email=nope", "cu-1");
	ck_assert(!e.replayed);
	json_decref(a.doc), json_decref(b.doc), json_decref(c.doc);
	json_decref(d.doc), json_decref(e.doc);
	http_fini(&h);
}
END_TEST

START_TEST(test_http_fault_rules_answer_429_and_reset_after_applying)
{
	struct fault_plan plan = {.nrules = 2};
	plan.rules[0] = create_rule(1, FAULT_SERVER_ERROR);
	plan.rules[0].status = 429;
	plan.rules[1] = create_rule(2, FAULT_CONN_LOST);
	struct http h;
	http_init(&h, &plan);
	struct got a = post(&h, "/v1/customers", "email=a@b.c", "k");
	ck_assert_int_eq(a.status, 429);
	ck_assert_str_eq(str(a.doc, "error.code"), "rate_limit");
	ck_assert_uint_eq(fake_stripe_customer_count(h.fake), 0);
	struct got b = post(&h, "/v1/customers", "email=a@b.c", "k");
	ck_assert_int_ne(b.code, CURLE_OK); /* reset, no answer */
	ck_assert_uint_eq(fake_stripe_customer_count(h.fake), 1);
	struct got c = post(&h, "/v1/customers", "email=a@b.c", "k");
	ck_assert_int_eq(c.status, 200);
	ck_assert(c.replayed); /* the applied create, not a second customer */
	ck_assert_uint_eq(fake_stripe_customer_count(h.fake), 1);
	ck_assert_uint_eq(fake_stripe_faults_fired(h.fake), 2);
	json_decref(a.doc), json_decref(b.doc), json_decref(c.doc);
	http_fini(&h);
}
END_TEST

/* bad-reply: the customer is made and answered 200, but the answer has an
 * empty id; a retry under the same key replays the saved answer, id and all. */
START_TEST(test_http_bad_reply_makes_the_customer_and_loses_its_id)
{
	struct fault_plan plan = {.nrules = 1};
	plan.rules[0] = create_rule(1, FAULT_BAD_REPLY);
	struct http h;
	http_init(&h, &plan);
	struct got a = post(&h, "/v1/customers", "email=a@b.c", "k");
	ck_assert_int_eq(a.status, 200);
	ck_assert_str_eq(str(a.doc, "id"), "");
	ck_assert_str_eq(str(a.doc, "object"), "customer");
	ck_assert_uint_eq(fake_stripe_customer_count(h.fake), 1);
	struct got b = post(&h, "/v1/customers", "email=a@b.c", "k");
	ck_assert_int_eq(b.status, 200);
	ck_assert(b.replayed);
	ck_assert_str_ne(str(b.doc, "id"), "");
	ck_assert_uint_eq(fake_stripe_customer_count(h.fake), 1);
	ck_assert_uint_eq(fake_stripe_faults_fired(h.fake), 1);
	json_decref(a.doc), json_decref(b.doc);
	http_fini(&h);
}
END_TEST

Suite *check_fake_stripe_suite(void);
Suite *check_fake_stripe_suite(void)
{
	Suite *s = suite_create("fake_stripe");
	TCase *api = tcase_create("api");
	tcase_add_test(api, test_form_nests_metadata_and_arrays);
	tcase_add_test(api, test_customer_lives_created_updated_listed_deleted);
	tcase_add_test(api, test_list_pages_newest_first_both_ways);
	tcase_add_test(api, test_payment_intent_confirms_to_succeeded_with_events);
	suite_add_tcase(s, api);
	TCase *idem = tcase_create("idempotency");
	tcase_add_test(idem, test_request_key_replays_refuses_and_expires);
	tcase_add_test(idem, test_request_key_of_a_customer_create_is_another_request);
	suite_add_tcase(s, idem);
	TCase *http = tcase_create("http");
	tcase_set_timeout(http, 20);
	tcase_add_test(http, test_http_bad_reply_makes_the_customer_and_loses_its_id);
	tcase_add_test(http, test_http_replays_with_header_and_does_not_save_validation_errors);
	tcase_add_test(http, test_http_fault_rules_answer_429_and_reset_after_applying);
	suite_add_tcase(s, http);
	return s;
}
