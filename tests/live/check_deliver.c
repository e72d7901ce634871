/* tests/live/check_deliver.c - the delivery schedule and the events of
 * `faultline deliver`: Stripe's event shape, reordering, copies, extras and
 * the retry back-off. No network. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "live/deliver_event.h"
#include "live/deliver_plan.h"

static struct deliver_events *build(unsigned intents, bool refunds)
{
	struct deliver_build b = {
		.seed = 7, .intents = intents, .refunds = refunds, .amount = 2000,
		.currency = "usd", .created_s = 1700000000,
	};
	struct deliver_events *ev = deliver_events_build(&b);
	ck_assert_ptr_nonnull(ev);
	return ev;
}

START_TEST(test_deliver_events_have_stripe_shape)
{
	struct deliver_events *ev = build(2, true);
	ck_assert_uint_eq(deliver_events_count(ev), 8);
	ck_assert_uint_eq(deliver_events_objects(ev), 2);
	const struct deliver_event *e = deliver_events_get(ev, 1);
	ck_assert_str_eq(e->type, "payment_intent.succeeded");
	ck_assert_uint_eq(e->rank, 1);
	json_t *j = json_loadb(e->body, e->body_len, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "object")), "event");
	ck_assert_str_eq(json_string_value(json_object_get(j, "id")), e->id);
	ck_assert(strncmp(e->id, "evt_", 4) == 0);
	ck_assert(json_is_false(json_object_get(j, "livemode")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "api_version")),
	                 DELIVER_API_VERSION);
	json_t *obj = json_object_get(json_object_get(j, "data"), "object");
	ck_assert_str_eq(json_string_value(json_object_get(obj, "object")), "payment_intent");
	ck_assert_str_eq(json_string_value(json_object_get(obj, "id")), e->intent);
	ck_assert_str_eq(json_string_value(json_object_get(obj, "status")), "succeeded");
	ck_assert_str_eq(e->order, "order_1");
	json_decref(j);
	e = deliver_events_get(ev, 7);
	ck_assert_str_eq(e->type, "charge.refunded");
	ck_assert_str_eq(e->order, "order_2");
	ck_assert_uint_eq(e->object, 1);
	deliver_events_destroy(ev);
}
END_TEST

START_TEST(test_deliver_events_same_seed_same_bodies)
{
	struct deliver_events *a = build(3, false), *b = build(3, false);
	ck_assert_uint_eq(deliver_events_count(a), 9);
	for (size_t i = 0; i < deliver_events_count(a); i++)
		ck_assert_str_eq(deliver_events_get(a, i)->body, deliver_events_get(b, i)->body);
	deliver_events_destroy(a);
	deliver_events_destroy(b);
}
END_TEST

START_TEST(test_deliver_events_load_ranks_by_created)
{
	char path[] = "/tmp/check_deliver.XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	/* a list as the API gives it: newest first */
	fputs("{\"object\":\"list\",\"data\":["
	      "{\"id\":\"evt_2\",\"type\":\"payment_intent.succeeded\",\"created\":20,"
	      "\"data\":{\"object\":{\"id\":\"pi_1\",\"object\":\"payment_intent\","
	      "\"metadata\":{\"order_id\":\"o1\"}}}},"
	      "{\"id\":\"evt_1\",\"type\":\"payment_intent.created\",\"created\":10,"
	      "\"data\":{\"object\":{\"id\":\"pi_1\",\"object\":\"payment_intent\"}}}]}", f);
	fclose(f);
	struct deliver_events *ev = NULL;
	char err[256];
	ck_assert_int_eq(deliver_events_load(path, &ev, err, sizeof err), RESULT_OK);
	ck_assert_uint_eq(deliver_events_count(ev), 2);
	ck_assert_uint_eq(deliver_events_objects(ev), 1);
	ck_assert_str_eq(deliver_events_get(ev, 0)->id, "evt_1");
	ck_assert_uint_eq(deliver_events_get(ev, 0)->rank, 0);
	ck_assert_uint_eq(deliver_events_get(ev, 1)->rank, 1);
	ck_assert_str_eq(deliver_events_get(ev, 1)->order, "o1");
	deliver_events_destroy(ev);
	f = fopen(path, "w");
	fputs("[{\"id\":\"evt_1\"}]", f);
	fclose(f);
	ck_assert_int_eq(deliver_events_load(path, &ev, err, sizeof err), RESULT_REJECT);
	ck_assert_ptr_nonnull(strstr(err, "event 0"));
	remove(path);
}
END_TEST

static struct deliver_plan_cfg plan_cfg(void)
{
	return (struct deliver_plan_cfg){
		.seed = 3, .copies = 3, .duplicates = 1, .duplicate_after_s = 300,
		.reorder = true, .stale = 2, .bad_signatures = 1, .spacing_ms = 1000,
		.retries_max = 12,
	};
}

START_TEST(test_deliver_plan_reorders_within_object)
{
	struct deliver_events *ev = build(4, true);
	struct deliver_plan_cfg cfg = plan_cfg();
	bool too_many;
	struct deliver_plan *p = deliver_plan_create(&cfg, ev, &too_many);
	ck_assert_ptr_nonnull(p);
	/* 16 events x (3 copies + 1 duplicate) + 2 stale + 1 bad */
	ck_assert_uint_eq(deliver_plan_count(p), 16 * 4 + 3);
	int64_t first[16];
	for (size_t i = 0; i < 16; i++)
		first[i] = -1;
	unsigned stale = 0, bad = 0, copies0 = 0;
	for (size_t i = 0; i < deliver_plan_count(p); i++) {
		const struct deliver_send *s = deliver_plan_get(p, i);
		if (i > 0)
			ck_assert_int_ge(s->at_ms, deliver_plan_get(p, i - 1)->at_ms);
		if (s->kind == DELIVER_VALID && first[s->event] < 0)
			first[s->event] = s->at_ms;
		if (s->kind == DELIVER_VALID && s->event == 0)
			copies0++;
		stale += s->kind == DELIVER_STALE;
		bad += s->kind == DELIVER_BAD_SIG;
		if (s->kind == DELIVER_DUPLICATE)
			ck_assert_int_eq(s->at_ms, first[s->event] + 300000);
	}
	ck_assert_uint_eq(copies0, 3);
	ck_assert_uint_eq(stale, 2);
	ck_assert_uint_eq(bad, 1);
	/* reordered: within each object, a later rank goes out first */
	for (size_t o = 0; o < 4; o++)
		for (size_t r = 0; r + 1 < 4; r++)
			ck_assert_int_gt(first[o * 4 + r], first[o * 4 + r + 1]);
	deliver_plan_destroy(p);
	cfg.reorder = false;
	p = deliver_plan_create(&cfg, ev, &too_many);
	for (size_t i = 0; i < 16; i++)
		first[i] = -1;
	for (size_t i = 0; i < deliver_plan_count(p); i++) {
		const struct deliver_send *s = deliver_plan_get(p, i);
		if (s->kind == DELIVER_VALID && first[s->event] < 0)
			first[s->event] = s->at_ms;
	}
	for (size_t o = 0; o < 4; o++)
		for (size_t r = 0; r + 1 < 4; r++)
			ck_assert_int_lt(first[o * 4 + r], first[o * 4 + r + 1]);
	deliver_plan_destroy(p);
	deliver_events_destroy(ev);
}
END_TEST

START_TEST(test_deliver_plan_same_seed_same_plan)
{
	struct deliver_events *ev = build(5, false);
	struct deliver_plan_cfg cfg = plan_cfg();
	bool too_many;
	struct deliver_plan *a = deliver_plan_create(&cfg, ev, &too_many);
	struct deliver_plan *b = deliver_plan_create(&cfg, ev, &too_many);
	ck_assert_uint_eq(deliver_plan_count(a), deliver_plan_count(b));
	for (size_t i = 0; i < deliver_plan_count(a); i++)
		ck_assert_mem_eq(deliver_plan_get(a, i), deliver_plan_get(b, i),
		                 sizeof(struct deliver_send));
	deliver_plan_destroy(a);
	deliver_plan_destroy(b);
	deliver_events_destroy(ev);
}
END_TEST

START_TEST(test_deliver_retry_backs_off_for_three_days)
{
	ck_assert_int_eq(deliver_plan_retry_after_ms(12, 1), 60000);
	ck_assert_int_eq(deliver_plan_retry_after_ms(12, 2), 120000);
	ck_assert_int_eq(deliver_plan_retry_after_ms(12, 3), 240000);
	int64_t total = 0;
	unsigned n = 0;
	for (unsigned a = 1; a <= DELIVER_RETRIES_MAX; a++) {
		int64_t ms = deliver_plan_retry_after_ms(DELIVER_RETRIES_MAX, a);
		if (ms < 0)
			break;
		total += ms;
		n++;
	}
	ck_assert_uint_eq(n, 12);
	ck_assert_int_le(total, (int64_t)DELIVER_RETRY_WINDOW_S * 1000);
	ck_assert_int_gt(total, (int64_t)2 * 24 * 3600 * 1000);
	ck_assert_int_eq(deliver_plan_retry_after_ms(3, 4), -1);
	ck_assert_int_eq(deliver_plan_retry_after_ms(0, 1), -1);
}
END_TEST

Suite *check_deliver_suite(void);
Suite *check_deliver_suite(void)
{
	Suite *s = suite_create("deliver");
	TCase *tc = tcase_create("events");
	tcase_add_test(tc, test_deliver_events_have_stripe_shape);
	tcase_add_test(tc, test_deliver_events_same_seed_same_bodies);
	tcase_add_test(tc, test_deliver_events_load_ranks_by_created);
	suite_add_tcase(s, tc);
	tc = tcase_create("plan");
	tcase_add_test(tc, test_deliver_plan_reorders_within_object);
	tcase_add_test(tc, test_deliver_plan_same_seed_same_plan);
	tcase_add_test(tc, test_deliver_retry_backs_off_for_three_days);
	suite_add_tcase(s, tc);
	return s;
}
