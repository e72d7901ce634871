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

/* A mail the server accepted went: some request for the quote says so. */
START_TEST(test_email_safe_breaks_when_an_accepted_mail_is_not_answered_sent)
{
	struct history h = empty();
	struct quote_spec valid = {.ref = "Q-7", .name = "Ann", .name_len = 3,
	                           .email = "ann@example.com", .email_len = 15, .expect = -1};
	struct hist_quote q[1] = {{.spec = &valid, .valid = true, .mails = 1, .port_sends = 1,
	                           .accepted = 1, .accepted_us = 55, .sent_answers = 1}};
	h.quotes = q;
	h.nquotes = 1;
	struct inv_violation v;
	ck_assert(invariant_check(INV_EMAIL_SAFE, &h, &v));
	q[0].sent_answers = 0;
	ck_assert(!invariant_check(INV_EMAIL_SAFE, &h, &v));
	ck_assert_uint_eq(v.t_us, 55);
	ck_assert_ptr_nonnull(strstr(v.message, "Q-7: the mail server accepted its mail"));
}
END_TEST

START_TEST(test_email_safe_breaks_on_a_raw_control_in_an_email_log_line)
{
	struct history h = empty();
	struct inv_violation v;
	ck_assert(invariant_check(INV_EMAIL_SAFE, &h, &v));
	h.email_log_raw = 2;
	h.email_log_raw_us = 31;
	ck_assert(!invariant_check(INV_EMAIL_SAFE, &h, &v));
	ck_assert_uint_eq(v.t_us, 31);
	ck_assert_ptr_nonnull(strstr(v.message, "2 [Email] log line(s) carry a raw control"));
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
	tcase_add_test(tc, test_email_safe_cases);
	tcase_add_test(tc, test_email_safe_breaks_on_a_raw_control_in_an_email_log_line);
	tcase_add_test(tc, test_email_safe_breaks_when_an_accepted_mail_is_not_answered_sent);
	tcase_add_test(tc, test_always_invariants);
	suite_add_tcase(s, tc);
	tc = tcase_create("oracle");
	tcase_add_test(tc, test_oracle_judges_customer_data);
	suite_add_tcase(s, tc);
	return s;
}
