/* tests/harness/check_invariant_email.c - email-safe read as a mail client
 * reads a message (GMime), on hand-made messages: one that holds, then one
 * break per clause; and the oracle's RFC 5321/5322 rules for addresses and
 * quote references. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "harness/invariant.h"

#define GOOD_HEAD "From: \"Faultline Quotes\" <quotes@faultline.invalid>\r\n"
#define GOOD_TAIL "Subject: Your quote Q-1\r\n" \
	"Message-ID: <quote-Q-1@faultline.invalid>\r\n" \
	"MIME-Version: 1.0\r\n" \
	"Content-Type: text/plain; charset=UTF-8\r\n" \
	"\r\nHi Zo\xc3\xab,\r\n\r\nYour quote Q-1 is ready.\r\n"
#define GOOD_TO "To: =?UTF-8?B?Wm/DqyBTbWl0aA==?= <zoe@example.com>\r\n"

struct em_fixture {
	struct history h;
	struct quote_spec spec;
	struct hist_quote q;
	struct hist_mail m;
	char data[2048];
	struct inv_violation v;
};

/* Quote Q-1 for "Zoë Smith" <zoe@example.com>, sent once as message. */
static void fixture_init(struct em_fixture *f, const char *message)
{
	memset(f, 0, sizeof *f);
	f->h.end_us = 1000000;
	strcpy(f->spec.ref, "Q-1");
	strcpy(f->spec.name, "Zo\xc3\xab Smith");
	f->spec.name_len = strlen(f->spec.name);
	strcpy(f->spec.email, "zoe@example.com");
	f->spec.email_len = strlen(f->spec.email);
	f->spec.expect = -1;
	f->q = (struct hist_quote){.spec = &f->spec, .valid = true, .mails = 1};
	snprintf(f->data, sizeof f->data, "%s", message);
	f->m = (struct hist_mail){.quote_ref = "Q-1", .headers_ok = true, .data = f->data,
	                          .len = strlen(f->data)};
	f->h.quotes = &f->q;
	f->h.nquotes = 1;
	f->h.mails = &f->m;
	f->h.nmails = 1;
}

static void assert_breaks(const char *message, const char *what)
{
	struct em_fixture f;
	fixture_init(&f, message);
	ck_assert(!invariant_check(INV_EMAIL_SAFE, &f.h, &f.v));
	ck_assert_msg(strstr(f.v.message, what) != NULL, "'%s' not in '%s'", what, f.v.message);
}

START_TEST(test_email_good_message_holds)
{
	struct em_fixture f;
	fixture_init(&f, GOOD_HEAD GOOD_TO GOOD_TAIL);
	ck_assert(invariant_check(INV_EMAIL_SAFE, &f.h, &f.v));
}
END_TEST

START_TEST(test_email_breaks_on_two_recipients)
{
	assert_breaks(GOOD_HEAD "To: \"Zoe\" <zoe@example.com>, eve@evil.test\r\n" GOOD_TAIL,
	              "To does not name exactly one recipient");
}
END_TEST

START_TEST(test_email_breaks_on_group)
{
	assert_breaks(GOOD_HEAD "To: Zoe: zoe@example.com;\r\n" GOOD_TAIL, "To");
}
END_TEST

START_TEST(test_email_breaks_on_other_address)
{
	assert_breaks(GOOD_HEAD "To: =?UTF-8?B?Wm/DqyBTbWl0aA==?= <zoe@evil.test>\r\n" GOOD_TAIL,
	              "To address 'zoe@evil.test' is not the customer's");
}
END_TEST

START_TEST(test_email_breaks_when_address_dropped)
{
	assert_breaks(GOOD_HEAD "To: =?UTF-8?B?Wm/DqyBTbWl0aA==?= <>\r\n" GOOD_TAIL, "To");
}
END_TEST

START_TEST(test_email_breaks_when_name_does_not_decode_back)
{
	/* raw, cut at the quote, or an encoded-word inside quotes */
	assert_breaks(GOOD_HEAD "To: \"Zo\" <zoe@example.com>\r\n" GOOD_TAIL,
	              "To display name decodes to 'Zo', not the customer's name");
}
END_TEST

START_TEST(test_email_breaks_on_encoded_word_over_75_characters)
{
	/* One B word of 92 characters for 60 octets: GMime reads it, RFC 2047
	 * section 2 allows 75. */
	assert_breaks(GOOD_HEAD "To: =?UTF-8?B?QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB?= <zoe@example.com>\r\n" GOOD_TAIL,
	              "holds an encoded-word of 92 characters, over RFC 2047's 75");
}
END_TEST

START_TEST(test_email_breaks_on_injected_header)
{
	assert_breaks(GOOD_HEAD GOOD_TO "Bcc: eve@evil.test\r\n" GOOD_TAIL,
	              "unexpected header 'Bcc'");
}
END_TEST

START_TEST(test_email_breaks_on_repeated_header)
{
	assert_breaks(GOOD_HEAD GOOD_TO GOOD_TO GOOD_TAIL, "header 'To' appears twice");
}
END_TEST

START_TEST(test_email_breaks_on_foreign_value_in_other_header)
{
	assert_breaks(GOOD_HEAD GOOD_TO "Subject: Your quote Q-1 zoe@example.com\r\n"
	              "Message-ID: <quote-Q-1@faultline.invalid>\r\n\r\nHi Zo\xc3\xab,\r\n",
	              "Subject 'Your quote Q-1 zoe@example.com' is not the quote's own");
	assert_breaks("From: \"Zo\xc3\xab\" <quotes@faultline.invalid>\r\n" GOOD_TO GOOD_TAIL,
	              "From is not the sender's own");
}
END_TEST

START_TEST(test_email_breaks_on_wrong_greeting)
{
	assert_breaks(GOOD_HEAD GOOD_TO "Subject: Your quote Q-1\r\n"
	              "Message-ID: <quote-Q-1@faultline.invalid>\r\n"
	              "Content-Type: text/plain; charset=UTF-8\r\n"
	              "\r\nHi Zo\xc3\xab Smith,\r\n",
	              "the greeting does not use the first name");
}
END_TEST

START_TEST(test_email_breaks_when_invalid_data_reaches_the_port)
{
	struct em_fixture f;
	fixture_init(&f, GOOD_HEAD GOOD_TO GOOD_TAIL);
	f.q = (struct hist_quote){.spec = &f.spec, .valid = false, .logged = true};
	f.h.nmails = 0;
	ck_assert(invariant_check(INV_EMAIL_SAFE, &f.h, &f.v));
	f.q.port_sends = 1; /* the server refused it, but it got there */
	ck_assert(!invariant_check(INV_EMAIL_SAFE, &f.h, &f.v));
	ck_assert_ptr_nonnull(strstr(f.v.message, "reached the mail port (1 sends)"));
}
END_TEST

/* "already sent" for a quote nothing was handed to the mail server for:
 * a claim whose owner never mailed passing for a sent mail. */
START_TEST(test_email_breaks_on_already_sent_without_a_send)
{
	struct em_fixture f;
	fixture_init(&f, GOOD_HEAD GOOD_TO GOOD_TAIL);
	f.h.nmails = 0;
	f.q = (struct hist_quote){.spec = &f.spec, .valid = true, .faults_touched = true};
	ck_assert(invariant_check(INV_EMAIL_SAFE, &f.h, &f.v));
	f.q.unsent_answers = 2;
	f.q.unsent_us = 1500;
	ck_assert(!invariant_check(INV_EMAIL_SAFE, &f.h, &f.v));
	ck_assert_ptr_nonnull(strstr(f.v.message, "answered sent or already sent (2 times) but no attempt "
	                                          "had handed it to the mail server"));
	ck_assert_uint_eq(f.v.t_us, 1500);
}
END_TEST

static struct quote_spec addr(const char *ref, const char *email)
{
	struct quote_spec q;
	memset(&q, 0, sizeof q);
	q.expect = -1;
	snprintf(q.ref, sizeof q.ref, "%s", ref);
	strcpy(q.name, "Ann");
	q.name_len = 3;
	q.email_len = strlen(email);
	memcpy(q.email, email, q.email_len);
	return q;
}

START_TEST(test_oracle_address_and_ref_rules)
{
	static const struct {
		const char *email;
		bool valid;
	} cases[] = {
		{"first.last@example.com", true},   {".ann@example.com", false},
		{"ann.@example.com", false},        {"a..b@example.com", false},
		{"\"a b\"@example.com", false},     {"ann@[192.0.2.1]", false},
		{"ann@ex\xc3\xa4mple.com", false},  {"ann@localhost", false},
		{"ann@example-.com", false},        {"ann@xn--bcher-kva.example", true},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct quote_spec q = addr("Q-1", cases[i].email);
		ck_assert_msg(oracle_quote_valid(&q) == cases[i].valid, "%s", cases[i].email);
	}
	char ref[80];
	memset(ref, 'r', 64);
	ref[64] = '\0';
	struct quote_spec q = addr(ref, "ann@example.com");
	ck_assert(oracle_quote_valid(&q));
	strcat(ref, "r");
	q = addr(ref, "ann@example.com");
	ck_assert(!oracle_quote_valid(&q));
	q = addr("Q<1>", "ann@example.com");
	ck_assert(!oracle_quote_valid(&q));
}
END_TEST

Suite *check_invariant_email_suite(void);
Suite *check_invariant_email_suite(void)
{
	Suite *s = suite_create("invariant_email");
	TCase *tc = tcase_create("as-a-mail-client");
	tcase_add_test(tc, test_email_good_message_holds);
	tcase_add_test(tc, test_email_breaks_on_encoded_word_over_75_characters);
	tcase_add_test(tc, test_email_breaks_on_two_recipients);
	tcase_add_test(tc, test_email_breaks_on_group);
	tcase_add_test(tc, test_email_breaks_on_other_address);
	tcase_add_test(tc, test_email_breaks_when_address_dropped);
	tcase_add_test(tc, test_email_breaks_when_name_does_not_decode_back);
	tcase_add_test(tc, test_email_breaks_on_injected_header);
	tcase_add_test(tc, test_email_breaks_on_repeated_header);
	tcase_add_test(tc, test_email_breaks_on_foreign_value_in_other_header);
	tcase_add_test(tc, test_email_breaks_on_wrong_greeting);
	tcase_add_test(tc, test_email_breaks_when_invalid_data_reaches_the_port);
	tcase_add_test(tc, test_email_breaks_on_already_sent_without_a_send);
	suite_add_tcase(s, tc);
	tc = tcase_create("oracle");
	tcase_add_test(tc, test_oracle_address_and_ref_rules);
	suite_add_tcase(s, tc);
	return s;
}
