/* tests/harness/check_invariant_webhook.c - the webhook's invariants on
 * hand-made histories, one test per contract clause: a history that holds
 * and ones that break, with the message naming what broke. */
#include <check.h>
#include <string.h>

#include "harness/invariant.h"

static struct history with_events(struct hist_wh_event *ev, size_t n)
{
	struct history h;
	memset(&h, 0, sizeof h);
	h.end_us = 1000000;
	h.events = ev;
	h.nevents = n;
	return h;
}

static void assert_breaks(enum invariant_id inv, const struct history *h, const char *needle)
{
	struct inv_violation v;
	ck_assert(!invariant_check(inv, h, &v));
	ck_assert_msg(strstr(v.message, needle) != NULL, "'%s' not in '%s'", needle, v.message);
}

static void assert_holds(enum invariant_id inv, const struct history *h)
{
	struct inv_violation v;
	ck_assert_msg(invariant_check(inv, h, &v), "%s", v.message);
}

/* ---- exactly-once ------------------------------------------------------- */

START_TEST(test_exactly_once_breaks_on_double_payment)
{
	struct hist_wh_event ev[2] = {
		{.id = "evt_1", .order = "ord_1", .acked = true, .paid_count = 1},
		{.id = "evt_2", .order = "ord_2", .acked = true, .ack_us = 42, .paid_count = 2},
	};
	struct history h = with_events(ev, 1);
	assert_holds(INV_EXACTLY_ONCE, &h);
	h.nevents = 2;
	struct inv_violation v;
	ck_assert(!invariant_check(INV_EXACTLY_ONCE, &h, &v));
	ck_assert_uint_eq(v.t_us, 42);
	ck_assert_ptr_nonnull(strstr(v.message, "ord_2 marked paid 2 times"));
}
END_TEST

START_TEST(test_exactly_once_breaks_when_a_second_event_pays_the_order_again)
{
	/* Two distinct succeeded events for one intent: one payment only. */
	struct hist_wh_event ev[2] = {
		{.id = "evt_0", .order = "ord_0", .acked = true, .paid_count = 1},
		{.id = "evt_second1", .order = "ord_0", .acked = true, .paid_count = 1},
	};
	struct history h = with_events(ev, 2);
	assert_holds(INV_EXACTLY_ONCE, &h);
	ev[0].paid_count = ev[1].paid_count = 2;
	assert_breaks(INV_EXACTLY_ONCE, &h, "order ord_0 marked paid 2 times");
}
END_TEST

START_TEST(test_exactly_once_checks_the_effect_record_when_promised)
{
	struct hist_wh_event ev = {.id = "evt_0", .order = "ord_0", .paid_count = 1};
	struct history h = with_events(&ev, 1);
	/* A variant that documents no record is not judged on one. */
	assert_holds(INV_EXACTLY_ONCE, &h);
	h.wh_effects_promised = true;
	assert_breaks(INV_EXACTLY_ONCE, &h, "paid 1 time(s) but 0 payment record(s)");
	ev.effects = ev.order_effects = 1;
	assert_holds(INV_EXACTLY_ONCE, &h);
	/* A record without the payment breaks it too. */
	ev.paid_count = 0;
	assert_breaks(INV_EXACTLY_ONCE, &h, "paid 0 time(s) but 1 payment record(s)");
}
END_TEST

START_TEST(test_exactly_once_breaks_on_a_record_no_payment_explains)
{
	struct hist_wh_event ev = {.id = "evt_other3", .order = "ord_3", .kind = HIST_WH_OTHER_TYPE,
	                           .paid_count = 1, .effects = 1, .order_effects = 1};
	struct history h = with_events(&ev, 1);
	h.wh_effects_promised = true;
	assert_breaks(INV_EXACTLY_ONCE, &h, "evt_other3, not a payment, recorded a payment");
	ev.kind = HIST_WH_PAYMENT;
	assert_holds(INV_EXACTLY_ONCE, &h);
	h.wh_stray_effects = 1;
	strcpy(h.first_stray_effect, "event evt_x paid order ord_3");
	assert_breaks(INV_EXACTLY_ONCE, &h, "1 payment record(s) no event explains; first: event evt_x");
}
END_TEST

/* ---- eventually-applied ------------------------------------------------- */

START_TEST(test_eventually_applied_breaks_on_acked_but_unpaid)
{
	struct hist_wh_event ev = {.id = "evt_3", .order = "ord_3", .acked = true,
	                           .paid_count = 0, .records = 1, .processed = true};
	struct history h = with_events(&ev, 1);
	assert_breaks(INV_EVENTUALLY_APPLIED, &h, "evt_3 was acknowledged");
	ev.paid_count = 1;
	assert_holds(INV_EVENTUALLY_APPLIED, &h);
	/* Never acknowledged (Stripe gave up): not this invariant's business. */
	ev.acked = false;
	ev.paid_count = 0;
	assert_holds(INV_EVENTUALLY_APPLIED, &h);
	/* A 2xx while the effect was not durable breaks it at that moment. */
	ev.acked = true;
	ev.paid_count = 1;
	ev.ack_not_durable = true;
	ev.not_durable_us = 77;
	struct inv_violation v;
	ck_assert(!invariant_check(INV_EVENTUALLY_APPLIED, &h, &v));
	ck_assert_uint_eq(v.t_us, 77);
}
END_TEST

START_TEST(test_eventually_applied_asks_nothing_of_events_that_pay_nothing)
{
	struct hist_wh_event ev[3] = {
		{.id = "evt_other1", .order = "ord_1", .kind = HIST_WH_OTHER_TYPE, .acked = true},
		{.id = "evt_unknown2", .kind = HIST_WH_UNKNOWN_ORDER, .acked = true, .records = 1,
		 .processed = true},
		{.id = "evt_sig3", .order = "ord_3", .forged = true, .acked = true},
	};
	struct history h = with_events(ev, 3);
	assert_holds(INV_EVENTUALLY_APPLIED, &h);
}
END_TEST

/* An acknowledged payment event, its order pending or not, is recorded
 * under its own id and marked processed; no record names another id. */
START_TEST(test_eventually_applied_breaks_when_an_acknowledged_event_is_not_recorded)
{
	struct hist_wh_event ev = {.id = "evt_unknown6", .kind = HIST_WH_UNKNOWN_ORDER,
	                           .acked = true, .records = 1, .processed = true};
	struct history h = with_events(&ev, 1);
	assert_holds(INV_EVENTUALLY_APPLIED, &h);
	ev.processed = false;
	assert_breaks(INV_EVENTUALLY_APPLIED, &h, "evt_unknown6 was acknowledged but is not marked "
	              "processed");
	ev.records = 0;
	assert_breaks(INV_EVENTUALLY_APPLIED, &h, "is not recorded under its id");
	ev.records = 1;
	ev.processed = true;
	h.wh_stray_records = 1;
	strcpy(h.first_stray_record, "pi_6");
	assert_breaks(INV_EVENTUALLY_APPLIED, &h, "1 event record(s) under no event's id; first: pi_6");
}
END_TEST

/* ---- signature-sound ---------------------------------------------------- */

START_TEST(test_signature_sound_breaks_when_a_refusable_delivery_is_accepted)
{
	struct hist_wh_event ev = {.id = "evt_sig4", .order = "ord_4", .forged = true,
	                           .shape = "empty v1", .refused = 1};
	struct history h = with_events(&ev, 1);
	assert_holds(INV_SIGNATURE_SOUND, &h);
	ev.accepted = 1;
	ev.accepted_us = 5;
	assert_breaks(INV_SIGNATURE_SOUND, &h, "evt_sig4 (empty v1) should be refused but was accepted");
}
END_TEST

START_TEST(test_signature_sound_breaks_when_a_refused_delivery_writes)
{
	struct hist_wh_event ev = {.id = "evt_forged9", .order = "ord_9", .forged = true,
	                           .shape = "wrong secret", .refused = 1, .paid_count = 1};
	struct history h = with_events(&ev, 1);
	assert_breaks(INV_SIGNATURE_SOUND, &h, "should be refused but paid order ord_9");
	ev.paid_count = 0;
	ev.effects = 1;
	assert_breaks(INV_SIGNATURE_SOUND, &h, "should be refused but paid");
}
END_TEST

START_TEST(test_signature_sound_breaks_when_a_valid_delivery_is_refused)
{
	struct hist_wh_event ev = {.id = "evt_sig1", .order = "ord_1", .shape = "valid v1 first",
	                           .accepted = 1, .paid_count = 1};
	struct history h = with_events(&ev, 1);
	assert_holds(INV_SIGNATURE_SOUND, &h);
	ev.refused = 1;
	assert_breaks(INV_SIGNATURE_SOUND, &h, "evt_sig1 (valid v1 first) is validly signed but was refused");
}
END_TEST

/* ---- webhook-ack -------------------------------------------------------- */

START_TEST(test_webhook_ack_breaks_when_needless_work_is_not_acknowledged)
{
	struct hist_wh_event ev = {.id = "evt_0", .order = "ord_0", .acked = true, .paid_count = 1};
	struct history h = with_events(&ev, 1);
	assert_holds(INV_WEBHOOK_ACK, &h);
	ev.ack_missed = 1;
	ev.ack_missed_status = 409;
	ev.ack_missed_us = 9;
	assert_breaks(INV_WEBHOOK_ACK, &h, "evt_0 answered 409 with no fault in the way although it "
	                                   "was already acknowledged");
	ev.kind = HIST_WH_OTHER_TYPE;
	ev.paid_count = 0;
	assert_breaks(INV_WEBHOOK_ACK, &h, "is of a type that needs no work");
}
END_TEST

START_TEST(test_webhook_ack_breaks_when_another_type_takes_effect)
{
	struct hist_wh_event ev = {.id = "evt_other2", .order = "ord_2", .kind = HIST_WH_OTHER_TYPE,
	                           .acked = true};
	struct history h = with_events(&ev, 1);
	assert_holds(INV_WEBHOOK_ACK, &h);
	ev.paid_count = 1;
	assert_breaks(INV_WEBHOOK_ACK, &h, "evt_other2, not a payment, left order ord_2 paid");
}
END_TEST

START_TEST(test_webhook_ack_breaks_when_an_unknown_order_is_not_logged)
{
	struct hist_wh_event ev = {.id = "evt_unknown5", .kind = HIST_WH_UNKNOWN_ORDER,
	                           .accepted = 1, .acked = true};
	struct history h = with_events(&ev, 1);
	assert_breaks(INV_WEBHOOK_ACK, &h, "evt_unknown5 names no order and no [Webhook] log line");
	ev.logged = true;
	assert_holds(INV_WEBHOOK_ACK, &h);
	/* Never handled (refused or faulted away): nothing to log. */
	ev.logged = false;
	ev.accepted = 0;
	assert_holds(INV_WEBHOOK_ACK, &h);
}
END_TEST

Suite *check_invariant_webhook_suite(void);
Suite *check_invariant_webhook_suite(void)
{
	Suite *s = suite_create("invariant_webhook");
	TCase *tc = tcase_create("clauses");
	tcase_add_test(tc, test_exactly_once_breaks_on_double_payment);
	tcase_add_test(tc, test_exactly_once_breaks_when_a_second_event_pays_the_order_again);
	tcase_add_test(tc, test_exactly_once_checks_the_effect_record_when_promised);
	tcase_add_test(tc, test_exactly_once_breaks_on_a_record_no_payment_explains);
	tcase_add_test(tc, test_eventually_applied_breaks_on_acked_but_unpaid);
	tcase_add_test(tc, test_eventually_applied_asks_nothing_of_events_that_pay_nothing);
	tcase_add_test(tc, test_eventually_applied_breaks_when_an_acknowledged_event_is_not_recorded);
	tcase_add_test(tc, test_signature_sound_breaks_when_a_refusable_delivery_is_accepted);
	tcase_add_test(tc, test_signature_sound_breaks_when_a_refused_delivery_writes);
	tcase_add_test(tc, test_signature_sound_breaks_when_a_valid_delivery_is_refused);
	tcase_add_test(tc, test_webhook_ack_breaks_when_needless_work_is_not_acknowledged);
	tcase_add_test(tc, test_webhook_ack_breaks_when_another_type_takes_effect);
	tcase_add_test(tc, test_webhook_ack_breaks_when_an_unknown_order_is_not_logged);
	suite_add_tcase(s, tc);
	return s;
}
