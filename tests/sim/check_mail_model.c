/* tests/check_mail_model.c - the mail outbox: exact copies of accepted
 * messages, the SMTP codes for bad envelopes and data, its bounds, and the
 * header-section reader. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/models/mail_model.h"

static struct mail_model *m;

static void setup(void)
{
	m = mail_model_create();
	ck_assert_ptr_nonnull(m);
}

static void teardown(void)
{
	mail_model_destroy(m);
	m = NULL;
}

static const char GOOD_DATA[] =
	"From: Quotes <quotes@shop.example>\r\n"
	"To: ann@example.com\r\n"
	"Subject: Your quote Q-17\r\n"
	"\r\n"
	"Hello Ann,\r\n"
	"here is your quote.\r\n";

static int submit(const char *from, const char *to, const char *data, size_t len)
{
	struct mail_message msg = {from, to, data, len};
	return mail_model_accept(m, 0, &msg);
}

static int send_data(const char *data)
{
	return submit("quotes@shop.example", "ann@example.com", data, strlen(data));
}

/* ---- accepting and recording ------------------------------------------- */

START_TEST(test_mail_accepts_and_records_exact_copy)
{
	char buf[sizeof GOOD_DATA];
	memcpy(buf, GOOD_DATA, sizeof buf);
	struct mail_message msg = {"quotes@shop.example", "ann@example.com", buf,
	                           strlen(buf)};
	ck_assert_int_eq(mail_model_accept(m, 42, &msg), 250);
	memset(buf, 'x', sizeof buf - 1); /* the model kept its own copy */
	ck_assert_uint_eq(mail_model_count(m), 1);
	const struct mail_message *got = mail_model_get(m, 0);
	ck_assert_str_eq(got->from, "quotes@shop.example");
	ck_assert_str_eq(got->to, "ann@example.com");
	ck_assert_uint_eq(got->len, strlen(GOOD_DATA));
	ck_assert_int_eq(memcmp(got->data, GOOD_DATA, got->len), 0);
	ck_assert_int_eq(got->data[got->len], '\0');
	ck_assert_uint_eq(mail_model_accepted_us(m, 0), 42);
}
END_TEST

START_TEST(test_mail_keeps_messages_in_order_and_stable)
{
	ck_assert_int_eq(send_data("Subject: one\r\n\r\n1"), 250);
	const struct mail_message *first = mail_model_get(m, 0);
	for (int i = 0; i < 200; i++)
		ck_assert_int_eq(send_data("Subject: more\r\n\r\nx"), 250);
	ck_assert_uint_eq(mail_model_count(m), 201);
	ck_assert_ptr_eq(mail_model_get(m, 0), first); /* still valid */
	ck_assert_str_eq(first->data, "Subject: one\r\n\r\n1");
	ck_assert_str_eq(mail_model_get(m, 200)->data, "Subject: more\r\n\r\nx");
}
END_TEST

START_TEST(test_mail_accepts_empty_data)
{
	ck_assert_int_eq(submit("a@b.c", "d@e.f", NULL, 0), 250);
	ck_assert_uint_eq(mail_model_get(m, 0)->len, 0);
	ck_assert_str_eq(mail_model_get(m, 0)->data, "");
}
END_TEST

/* ---- envelope: 501 ------------------------------------------------------- */

START_TEST(test_mail_rejects_envelope_that_is_not_one_address)
{
	const char *bad[] = {
		NULL, "", "ann", "ann@example.com\r\nBcc: eve@evil.example", "ann@example.com\n",
		"ann@exa\rmple.com", "ann@example.com,bob@example.com",
		"Ann <ann@example.com>", "<ann@example.com>", "ann @example.com",
		"ann@example .com", "ann\t@example.com", "ann@ex\x7f.com", "ann@ex\x01.com",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(submit(bad[i], "ok@example.com", "x", 1) == 501, "from #%zu", i);
		ck_assert_msg(submit("ok@example.com", bad[i], "x", 1) == 501, "to #%zu", i);
	}
	ck_assert_uint_eq(mail_model_count(m), 0);
}
END_TEST

/* Lenient as a real MTA: what the core must refuse itself is delivered. */
START_TEST(test_mail_accepts_what_a_lenient_mta_accepts)
{
	const char *odd[] = {
		"ann@", "@example.com", "a@b@c.d", "ann@localhost", ".ann@example.com",
		"ann.@example.com", "a..nn@example.com", "ann@example..com", "ann@.example.com",
		"ann@example.com.", "\"ann\"@example.com", "ann@exa_mple.com", "ann@[192.0.2.1]",
		"\xc3\xa9@example.com", "ann@ex\xc3\xa4mple.com",
	};
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
		ck_assert_msg(submit("ok@example.com", odd[i], "x", 1) == 250, "to #%zu", i);
	ck_assert_uint_eq(mail_model_count(m), sizeof odd / sizeof odd[0]);
}
END_TEST

START_TEST(test_mail_accepts_addresses_at_rfc5321_lengths)
{
	char addr[MAIL_MODEL_ADDRESS_MAX + 2];
	/* A local part over RFC 5321's 64 octets: delivered all the same, as
	 * Postfix does; refusing it is the core's job. */
	memset(addr, 'l', 65);
	strcpy(addr + 65, "@example.com");
	ck_assert_int_eq(submit(addr, "b@c.d", "x", 1), 250);
	/* 254 bytes in all: fine; 255: refused. */
	strcpy(addr, "a@");
	memset(addr + 2, 'd', MAIL_MODEL_ADDRESS_MAX - 2);
	addr[MAIL_MODEL_ADDRESS_MAX] = '\0';
	ck_assert_int_eq(submit("b@c.d", addr, "x", 1), 250);
	addr[MAIL_MODEL_ADDRESS_MAX] = 'd';
	addr[MAIL_MODEL_ADDRESS_MAX + 1] = '\0';
	ck_assert_int_eq(submit("b@c.d", addr, "x", 1), 501);
	ck_assert_int_eq(submit("first.o'neil+tag@mail-1.example.co", "x@y", "x", 1), 250);
}
END_TEST

/* ---- data: 552 and 554 ------------------------------------------------- */

START_TEST(test_mail_rejects_data_over_maximum_with_552)
{
	char *big = malloc(MAIL_MODEL_MESSAGE_MAX + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', MAIL_MODEL_MESSAGE_MAX + 1);
	ck_assert_int_eq(submit("a@b.c", "d@e.f", big, MAIL_MODEL_MESSAGE_MAX + 1), 552);
	ck_assert_int_eq(submit("a@b.c", "d@e.f", big, MAIL_MODEL_MESSAGE_MAX), 250);
	/* The envelope is judged first. */
	ck_assert_int_eq(submit("a@b.c\r\n", "d@e.f", big, MAIL_MODEL_MESSAGE_MAX + 1), 501);
	free(big);
	ck_assert_uint_eq(mail_model_count(m), 1);
}
END_TEST

START_TEST(test_mail_rejects_bare_lf_with_554)
{
	ck_assert_int_eq(send_data("Subject: hi\nBcc: eve@evil.example\r\n\r\nbody"), 554);
	ck_assert_int_eq(send_data("Subject: hi\r\n\r\nline one\nline two"), 554);
	ck_assert_int_eq(send_data("\n"), 554);
	ck_assert_int_eq(send_data("Subject: hi\r\n\r\n\r\r\n"), 554);
	ck_assert_uint_eq(mail_model_count(m), 0);
}
END_TEST

START_TEST(test_mail_rejects_bare_cr_and_nul_with_554)
{
	ck_assert_int_eq(send_data("Subject: hi\rBcc: eve@evil.example\r\n\r\n"), 554);
	ck_assert_int_eq(send_data("Subject: hi\r\n\r\nends with CR\r"), 554);
	static const char nul[] = "Subject: hi\r\n\r\na\0b";
	ck_assert_int_eq(submit("a@b.c", "d@e.f", nul, sizeof nul - 1), 554);
	ck_assert_uint_eq(mail_model_count(m), 0);
	ck_assert_int_eq(send_data("Subject: hi\r\n\r\nends with CRLF\r\n"), 250);
	ck_assert_int_eq(send_data("no line end at all"), 250);
}
END_TEST

/* ---- bounds: 452 --------------------------------------------------------- */

START_TEST(test_mail_outbox_full_of_bytes_answers_452)
{
	char *big = malloc(MAIL_MODEL_MESSAGE_MAX);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', MAIL_MODEL_MESSAGE_MAX);
	const size_t fits = MAIL_MODEL_BYTES_MAX / MAIL_MODEL_MESSAGE_MAX;
	for (size_t i = 0; i < fits; i++)
		ck_assert_int_eq(submit("a@b.c", "d@e.f", big, MAIL_MODEL_MESSAGE_MAX), 250);
	ck_assert_int_eq(submit("a@b.c", "d@e.f", "x", 1), 452);
	ck_assert_int_eq(submit("a@b.c", "d@e.f", NULL, 0), 250);
	ck_assert_uint_eq(mail_model_count(m), fits + 1);
	free(big);
}
END_TEST

START_TEST(test_mail_outbox_full_of_messages_answers_452)
{
	for (size_t i = 0; i < MAIL_MODEL_MESSAGES_MAX; i++)
		ck_assert_int_eq(submit("a@b.c", "d@e.f", "x", 1), 250);
	ck_assert_int_eq(submit("a@b.c", "d@e.f", "x", 1), 452);
	ck_assert_uint_eq(mail_model_count(m), MAIL_MODEL_MESSAGES_MAX);
}
END_TEST

/* ---- header section ---------------------------------------------------- */

struct fields {
	int n;
	char name[8][32];
	char value[8][64];
};

static void collect(void *arg, const char *name, const char *value)
{
	struct fields *f = arg;
	ck_assert_int_lt(f->n, 8);
	snprintf(f->name[f->n], sizeof f->name[0], "%s", name);
	snprintf(f->value[f->n], sizeof f->value[0], "%s", value);
	f->n++;
}

START_TEST(test_mail_headers_lists_fields_in_order)
{
	ck_assert_int_eq(send_data(GOOD_DATA), 250);
	struct fields f = {0};
	ck_assert(mail_model_headers(m, 0, collect, &f));
	ck_assert_int_eq(f.n, 3);
	ck_assert_str_eq(f.name[0], "From");
	ck_assert_str_eq(f.value[0], "Quotes <quotes@shop.example>");
	ck_assert_str_eq(f.name[1], "To");
	ck_assert_str_eq(f.value[1], "ann@example.com");
	ck_assert_str_eq(f.name[2], "Subject");
	ck_assert_str_eq(f.value[2], "Your quote Q-17");
}
END_TEST

START_TEST(test_mail_headers_unfolds_continuation_lines)
{
	ck_assert_int_eq(send_data("Subject: a long\r\n  subject\r\n\tline\r\n"
	                           "X-Empty:\r\n"
	                           "X-Trim:   padded  \t\r\n"
	                           "\r\n"
	                           "Not-A-Header: body text\r\n"), 250);
	struct fields f = {0};
	ck_assert(mail_model_headers(m, 0, collect, &f));
	ck_assert_int_eq(f.n, 3);
	ck_assert_str_eq(f.name[0], "Subject");
	ck_assert_str_eq(f.value[0], "a long  subject\tline");
	ck_assert_str_eq(f.name[1], "X-Empty");
	ck_assert_str_eq(f.value[1], "");
	ck_assert_str_eq(f.name[2], "X-Trim");
	ck_assert_str_eq(f.value[2], "padded");
}
END_TEST

START_TEST(test_mail_headers_without_body_or_without_fields)
{
	ck_assert_int_eq(send_data("A: 1\r\nB: 2"), 250);
	ck_assert_int_eq(send_data("\r\nbody only"), 250);
	ck_assert_int_eq(submit("a@b.c", "d@e.f", NULL, 0), 250);
	struct fields f = {0};
	ck_assert(mail_model_headers(m, 0, collect, &f));
	ck_assert_int_eq(f.n, 2);
	ck_assert_str_eq(f.value[1], "2");
	f.n = 0;
	ck_assert(mail_model_headers(m, 1, collect, &f));
	ck_assert_int_eq(f.n, 0);
	ck_assert(mail_model_headers(m, 2, collect, &f));
	ck_assert_int_eq(f.n, 0);
}
END_TEST

START_TEST(test_mail_headers_reports_malformed_section_without_fields)
{
	const char *bad[] = {
		"Subject hello\r\n\r\n",                     /* no colon */
		" folded: first\r\n\r\n",                    /* continuation of nothing */
		"Bad Name: x\r\n\r\n",                       /* space in the name */
		"Subject : x\r\n\r\n",                       /* space before the colon */
		": no name\r\n\r\n",
		"From: a@b.c\r\nTo: d@e.f\r\nthis is not a header\r\n\r\n",
		"From: a@b.c\r\nN\xc3\xa4me: x\r\n\r\n",     /* non-ASCII name */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(send_data(bad[i]), 250);
		struct fields f = {0};
		ck_assert_msg(!mail_model_headers(m, i, collect, &f), "#%zu", i);
		ck_assert_int_eq(f.n, 0); /* not even the good fields before */
	}
}
END_TEST

Suite *check_mail_model_suite(void);
Suite *check_mail_model_suite(void)
{
	Suite *s = suite_create("mail_model");
	TCase *tc = tcase_create("accept");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_mail_accepts_and_records_exact_copy);
	tcase_add_test(tc, test_mail_keeps_messages_in_order_and_stable);
	tcase_add_test(tc, test_mail_accepts_empty_data);
	tcase_add_test(tc, test_mail_rejects_envelope_that_is_not_one_address);
	tcase_add_test(tc, test_mail_accepts_addresses_at_rfc5321_lengths);
	tcase_add_test(tc, test_mail_accepts_what_a_lenient_mta_accepts);
	tcase_add_test(tc, test_mail_rejects_data_over_maximum_with_552);
	tcase_add_test(tc, test_mail_rejects_bare_lf_with_554);
	tcase_add_test(tc, test_mail_rejects_bare_cr_and_nul_with_554);
	tcase_add_test(tc, test_mail_outbox_full_of_bytes_answers_452);
	tcase_add_test(tc, test_mail_outbox_full_of_messages_answers_452);
	suite_add_tcase(s, tc);

	tc = tcase_create("headers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_mail_headers_lists_fields_in_order);
	tcase_add_test(tc, test_mail_headers_unfolds_continuation_lines);
	tcase_add_test(tc, test_mail_headers_without_body_or_without_fields);
	tcase_add_test(tc, test_mail_headers_reports_malformed_section_without_fields);
	suite_add_tcase(s, tc);
	return s;
}
