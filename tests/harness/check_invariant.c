/* tests/check_invariant.c - each invariant checker on hand-made histories:
 * one that holds and ones that break, with the message naming what broke. */
#include <check.h>
#include <string.h>

#include "harness/invariant.h"

static struct history empty(void)
{
	struct history h;
	memset(&h, 0, sizeof h);
	h.end_us = 1000000;
	return h;
}

START_TEST(test_empty_history_holds_everything)
{
	struct history h = empty();
	struct inv_violation v;
	for (int i = 0; i < INV_COUNT; i++)
		ck_assert(invariant_check((enum invariant_id)i, &h, &v));
}
END_TEST

START_TEST(test_exactly_once_breaks_on_double_payment)
{
	struct history h = empty();
	struct hist_wh_event ev[2] = {
		{.id = "evt_1", .order = "ord_1", .acked = true, .paid_count = 1},
		{.id = "evt_2", .order = "ord_2", .acked = true, .ack_us = 42, .paid_count = 2},
	};
	h.events = ev;
	h.nevents = 1;
	struct inv_violation v;
	ck_assert(invariant_check(INV_EXACTLY_ONCE, &h, &v));
	h.nevents = 2;
	ck_assert(!invariant_check(INV_EXACTLY_ONCE, &h, &v));
	ck_assert_uint_eq(v.t_us, 42);
	ck_assert_ptr_nonnull(strstr(v.message, "ord_2 marked paid 2 times"));
}
END_TEST

START_TEST(test_exactly_once_breaks_when_forged_event_applies)
{
	struct history h = empty();
	struct hist_wh_event ev = {.id = "evt_forged", .order = "ord_9", .forged = true,
	                           .paid_count = 1};
	h.events = &ev;
	h.nevents = 1;
	struct inv_violation v;
	ck_assert(!invariant_check(INV_EXACTLY_ONCE, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "forged"));
}
END_TEST

START_TEST(test_eventually_applied_breaks_on_acked_but_unpaid)
{
	struct history h = empty();
	struct hist_wh_event ev = {.id = "evt_3", .order = "ord_3", .acked = true,
	                           .paid_count = 0};
	h.events = &ev;
	h.nevents = 1;
	struct inv_violation v;
	ck_assert(!invariant_check(INV_EVENTUALLY_APPLIED, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "evt_3 was acknowledged"));
	ev.paid_count = 1;
	ck_assert(invariant_check(INV_EVENTUALLY_APPLIED, &h, &v));
	/* Never acknowledged (Stripe gave up): not this invariant's business. */
	ev.acked = false;
	ev.paid_count = 0;
	ck_assert(invariant_check(INV_EVENTUALLY_APPLIED, &h, &v));
	/* A 2xx while the effect was not durable breaks it at that moment. */
	ev.acked = true;
	ev.paid_count = 1;
	ev.ack_not_durable = true;
	ev.not_durable_us = 77;
	ck_assert(!invariant_check(INV_EVENTUALLY_APPLIED, &h, &v));
	ck_assert_uint_eq(v.t_us, 77);
}
END_TEST

START_TEST(test_no_lockout_breaks_on_key_without_ttl)
{
	struct history h = empty();
	h.rl_limit = 5;
	h.rl_window_us = 60000000;
	struct hist_rl_ttl obs[2] = {{.user = 0, .t_us = 10, .pttl_ms = 59000},
	                             {.user = 1, .t_us = 20, .pttl_ms = -1}};
	h.rl_ttl = obs;
	h.nrl_ttl = 1;
	struct inv_violation v;
	ck_assert(invariant_check(INV_NO_LOCKOUT, &h, &v));
	h.nrl_ttl = 2;
	ck_assert(!invariant_check(INV_NO_LOCKOUT, &h, &v));
	ck_assert_uint_eq(v.t_us, 20);
	ck_assert_ptr_nonnull(strstr(v.message, "u1 has no TTL"));
}
END_TEST

START_TEST(test_no_lockout_breaks_on_ttl_longer_than_window)
{
	struct history h = empty();
	h.rl_limit = 5;
	h.rl_window_us = 60000000;
	struct hist_rl_ttl obs = {.user = 2, .t_us = 5, .pttl_ms = 61000};
	h.rl_ttl = &obs;
	h.nrl_ttl = 1;
	struct inv_violation v;
	ck_assert(!invariant_check(INV_NO_LOCKOUT, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "longer than"));
}
END_TEST

START_TEST(test_no_lockout_breaks_when_probe_rejected)
{
	struct history h = empty();
	h.rl_limit = 5;
	h.rl_window_us = 1000;
	struct hist_rl_request r[2] = {
		{.user = 0, .done = true, .verdict = HIST_RL_REJECT},
		{.user = 0, .probe = true, .done = true, .verdict = HIST_RL_REJECT, .end_us = 99},
	};
	h.rl = r;
	h.nrl = 1;
	struct inv_violation v;
	ck_assert(invariant_check(INV_NO_LOCKOUT, &h, &v));
	h.nrl = 2;
	ck_assert(!invariant_check(INV_NO_LOCKOUT, &h, &v));
	ck_assert_uint_eq(v.t_us, 99);
	r[1].verdict = HIST_RL_ALLOW;
	ck_assert(invariant_check(INV_NO_LOCKOUT, &h, &v));
}
END_TEST

START_TEST(test_no_lockout_counts_admissions_per_healthy_window)
{
	struct history h = empty();
	h.rl_limit = 2;
	h.rl_window_us = 1000;
	/* A key that vanished early: a second window starts inside the first
	 * and three requests are admitted within 1000 us. */
	struct hist_rl_incr inc[4] = {
		{.user = 0, .t_us = 0, .count = 1},
		{.user = 0, .t_us = 100, .count = 2},
		{.user = 0, .t_us = 200, .count = 1},
		{.user = 0, .t_us = 300, .count = 2},
	};
	h.rl_incr = inc;
	h.nrl_incr = 2;
	struct inv_violation v;
	ck_assert(invariant_check(INV_NO_LOCKOUT, &h, &v));
	h.nrl_incr = 4;
	ck_assert(!invariant_check(INV_NO_LOCKOUT, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "admitted 4 times"));
	/* A fault (here a restart that lost the key) between the windows:
	 * failing open or starting over may admit more. */
	inc[2].faults = 1;
	inc[3].faults = 1;
	ck_assert(invariant_check(INV_NO_LOCKOUT, &h, &v));
}
END_TEST

/* The checker orders INCRs by user and time itself: a history recorded out
 * of time order (or with users numbered too sparsely to count) is judged
 * the same. Unordered, the late INCR at t=5000 would end the first window's
 * scan before the admissions at 100 and 200 were counted. */
START_TEST(test_no_lockout_orders_the_history_itself)
{
	struct history h = empty();
	h.rl_limit = 2;
	h.rl_window_us = 1000;
	struct hist_rl_incr inc[5] = {
		{.user = 3, .t_us = 0, .count = 1},
		{.user = 3, .t_us = 5000, .count = 9},
		{.user = 1, .t_us = 50, .count = 1},
		{.user = 3, .t_us = 200, .count = 1},
		{.user = 3, .t_us = 100, .count = 2},
	};
	h.rl_incr = inc;
	h.nrl_incr = 5;
	struct inv_violation v;
	ck_assert(!invariant_check(INV_NO_LOCKOUT, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "user u3 admitted 3 times"));
	for (size_t i = 0; i < 5; i++)
		inc[i].user = inc[i].user == 3 ? 4000000000u : 7;
	ck_assert(!invariant_check(INV_NO_LOCKOUT, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "user u4000000000 admitted 3 times"));
}
END_TEST

START_TEST(test_no_false_duplicate_breaks_when_nobody_claimed)
{
	struct history h = empty();
	struct hist_dd_request r[2] = {
		{.request = 7, .seq = 0, .done = true, .claimed = true, .claimed_us = 3, .end_us = 5},
		{.request = 7, .seq = 1, .done = true, .duplicate = true, .end_us = 9},
	};
	h.dd = r;
	h.ndd = 2;
	struct inv_violation v;
	ck_assert(invariant_check(INV_NO_FALSE_DUPLICATE, &h, &v));
	/* The legacy bug: a timeout (no write at all) called a duplicate. */
	r[0].duplicate = true;
	r[0].claimed = false;
	ck_assert(!invariant_check(INV_NO_FALSE_DUPLICATE, &h, &v));
	ck_assert_uint_eq(v.t_us, 5);
	ck_assert_ptr_nonnull(strstr(v.message, "req-7 was rejected as a duplicate"));
	/* A copy that overtook the first one and claimed the key makes the
	 * first one's rejection legitimate. */
	r[1].duplicate = false;
	r[1].claimed = true;
	r[1].claimed_us = 4;
	ck_assert(invariant_check(INV_NO_FALSE_DUPLICATE, &h, &v));
	/* Its own lost write is not another copy's claim. */
	r[1].claimed = false;
	r[0].claimed = true;
	r[0].claimed_us = 2;
	ck_assert(!invariant_check(INV_NO_FALSE_DUPLICATE, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "its own write"));
}
END_TEST

START_TEST(test_dedup_effective_breaks_on_healthy_duplicate_accepted)
{
	struct history h = empty();
	h.dd_ttl_us = 10000;
	struct hist_dd_request r[2] = {
		{.request = 1, .seq = 0, .done = true, .start_us = 0, .end_us = 100, .healthy = true},
		{.request = 1, .seq = 1, .done = true, .start_us = 200, .end_us = 300, .healthy = true,
		 .duplicate = true},
	};
	h.dd = r;
	h.ndd = 2;
	struct inv_violation v;
	ck_assert(invariant_check(INV_DEDUP_EFFECTIVE, &h, &v));
	r[1].duplicate = false;
	ck_assert(!invariant_check(INV_DEDUP_EFFECTIVE, &h, &v));
	/* Not a violation while Redis was failing, or after the TTL. */
	r[1].healthy = false;
	ck_assert(invariant_check(INV_DEDUP_EFFECTIVE, &h, &v));
	r[1].healthy = true;
	r[1].start_us = 20000;
	r[1].end_us = 20100;
	ck_assert(invariant_check(INV_DEDUP_EFFECTIVE, &h, &v));
}
END_TEST

START_TEST(test_email_safe_cases)
{
	struct history h = empty();
	struct quote_spec valid = {.ref = "Q-1", .name = "Ann", .name_len = 3,
	                           .email = "ann@example.com", .email_len = 15, .expect = -1};
	struct quote_spec invalid = {.ref = "Q-2", .name_null = true,
	                             .email = "bob@example.com", .email_len = 15, .expect = -1};
	struct hist_quote q[2] = {{.spec = &valid, .valid = true, .mails = 1},
	                          {.spec = &invalid, .valid = false, .logged = true}};
	h.quotes = q;
	h.nquotes = 2;
	struct inv_violation v;
	ck_assert(invariant_check(INV_EMAIL_SAFE, &h, &v));
	q[0].mails = 2;
	ck_assert(!invariant_check(INV_EMAIL_SAFE, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "Q-1 was sent 2 times"));
	q[0].mails = 0;
	ck_assert(!invariant_check(INV_EMAIL_SAFE, &h, &v));
	q[0].faults_touched = true; /* a mail fault excuses a missing mail */
	ck_assert(invariant_check(INV_EMAIL_SAFE, &h, &v));
	q[1].logged = false;
	ck_assert(!invariant_check(INV_EMAIL_SAFE, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "without an [Email] log line"));
	q[1].logged = true;
	q[1].mails = 1;
	ck_assert(!invariant_check(INV_EMAIL_SAFE, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "invalid customer data was sent"));
	q[1].mails = 0;
	q[1].unhandled = 1;
	ck_assert(!invariant_check(INV_EMAIL_SAFE, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "unhandled"));
	q[1].unhandled = 0;
	struct hist_mail m = {.quote_ref = "Q-1", .headers_ok = false,
	                      .bad_header = "unexpected header 'Bcc'"};
	h.mails = &m;
	h.nmails = 1;
	ck_assert(!invariant_check(INV_EMAIL_SAFE, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "Bcc"));
}
END_TEST

START_TEST(test_always_invariants)
{
	struct history h = empty();
	struct inv_violation v;
	h.unhandled = 1;
	h.first_unhandled_us = 3;
	strcpy(h.first_unhandled, "quote Q-1 died");
	ck_assert(!invariant_check(INV_NO_UNHANDLED, &h, &v));
	ck_assert_uint_eq(v.t_us, 3);
	h.hung = 2;
	strcpy(h.first_hung, "webhook evt_1 unanswered");
	ck_assert(!invariant_check(INV_NO_HUNG, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "2 request(s)"));
}
END_TEST

static struct quote_spec spec(const char *name, size_t nlen, const char *email)
{
	struct quote_spec q;
	memset(&q, 0, sizeof q);
	q.expect = -1;
	strcpy(q.ref, "Q-1");
	if (name == NULL)
		q.name_null = true;
	else {
		memcpy(q.name, name, nlen);
		q.name_len = nlen;
	}
	if (email == NULL)
		q.email_null = true;
	else {
		q.email_len = strlen(email);
		memcpy(q.email, email, q.email_len);
	}
	return q;
}

START_TEST(test_oracle_judges_customer_data)
{
	struct {
		const char *name;
		size_t len;
		const char *email;
		bool valid;
	} cases[] = {
		{"Ann Smith", 9, "ann@example.com", true},
		{"Zo\xc3\xab", 4, "zoe@example.com", true},
		{NULL, 0, "a@example.com", false},
		{"", 0, "a@example.com", false},
		{"   ", 3, "a@example.com", false},
		{"\xc2\xa0\xe3\x80\x80", 5, "a@example.com", false},   /* NBSP, ideographic space */
		{"Eve\r\nBcc: x", 11, "a@example.com", false},
		{"Nul\0Byte", 8, "a@example.com", false},
		{"Bad\xff", 4, "a@example.com", false},                  /* invalid UTF-8 */
		{"Ann", 3, "ann@@example.com", false},
		{"Ann", 3, "ann@example", false},
		{"Ann", 3, "ann example@example.com", false},
		{"Ann", 3, NULL, false},
		{"Ann", 3, "ann@-bad-.example.com", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct quote_spec q = spec(cases[i].name, cases[i].len, cases[i].email);
		ck_assert_msg(oracle_quote_valid(&q) == cases[i].valid, "case %zu", i);
	}
	/* Local part over 64 octets. */
	char email[100];
	memset(email, 'a', 65);
	strcpy(email + 65, "@example.com");
	struct quote_spec q = spec("Ann", 3, email);
	ck_assert(!oracle_quote_valid(&q));
	/* The scenario's explicit expectation wins. */
	q.expect = 1;
	ck_assert(oracle_quote_valid(&q));
}
END_TEST

Suite *check_invariant_suite(void);
Suite *check_invariant_suite(void)
{
	Suite *s = suite_create("invariant");
	TCase *tc = tcase_create("checkers");
	tcase_add_test(tc, test_empty_history_holds_everything);
	tcase_add_test(tc, test_exactly_once_breaks_on_double_payment);
	tcase_add_test(tc, test_exactly_once_breaks_when_forged_event_applies);
	tcase_add_test(tc, test_eventually_applied_breaks_on_acked_but_unpaid);
	tcase_add_test(tc, test_no_lockout_breaks_on_key_without_ttl);
	tcase_add_test(tc, test_no_lockout_breaks_on_ttl_longer_than_window);
	tcase_add_test(tc, test_no_lockout_breaks_when_probe_rejected);
	tcase_add_test(tc, test_no_lockout_counts_admissions_per_healthy_window);
	tcase_add_test(tc, test_no_lockout_orders_the_history_itself);
	tcase_add_test(tc, test_no_false_duplicate_breaks_when_nobody_claimed);
	tcase_add_test(tc, test_dedup_effective_breaks_on_healthy_duplicate_accepted);
	tcase_add_test(tc, test_email_safe_cases);
	tcase_add_test(tc, test_always_invariants);
	suite_add_tcase(s, tc);
	tc = tcase_create("oracle");
	tcase_add_test(tc, test_oracle_judges_customer_data);
	suite_add_tcase(s, tc);
	return s;
}
