/* tests/check_quote_email.c - the quote e-mail in its three variants: the
 * exact message, the legacy crash and header injection reproduced, the
 * seed's checks and what they miss, the hardened checks, encodings and
 * at-most-once send under every mail outcome, and a sweep that fails port
 * operation N once and for good. */
#include <check.h>
#include <string.h>

#include "core/email_check.h"
#include "core/quote_email.h"
#include "tests/support/fake_env.h"
#include "tests/support/sweep.h"

#define FROM_ADDRESS "sales@faultline.example"
#define FROM_NAME "Faultline Sales"

static const char expected_plain[] =
	"From: \"Faultline Sales\" <sales@faultline.example>\r\n"
	"To: \"Ann Lee\" <ann@example.com>\r\n"
	"Subject: Your quote Q-1001\r\n"
	"Message-ID: <quote-Q-1001@faultline.invalid>\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: text/plain; charset=UTF-8\r\n"
	"\r\n"
	"Hi Ann,\r\n"
	"\r\n"
	"Your quote Q-1001 is ready. Reply to this message with any question.\r\n"
	"\r\n"
	"Faultline Sales\r\n";

struct send_result {
	int calls;
	enum quote_email_status st;
};

static void on_done(void *arg, enum quote_email_status st)
{
	struct send_result *r = arg;
	r->calls++;
	r->st = st;
}

struct fixture {
	struct fake_env *fe;
	struct quote_email *qe;
};

static struct fixture setup(enum variant v)
{
	struct fixture f;
	f.fe = fake_env_create(9);
	struct quote_email_config cfg = {.variant = v, .from_address = FROM_ADDRESS, .from_name = FROM_NAME};
	f.qe = quote_email_create(fake_env_core(f.fe), &cfg);
	ck_assert_ptr_nonnull(f.qe);
	return f;
}

static void teardown(struct fixture *f)
{
	ck_assert_int_eq(fake_env_pending(f->fe), 0);
	ck_assert_int_eq(fake_env_conns_in_use(f->fe), 0);
	ck_assert_int_eq(fake_env_sql_misuse(f->fe), 0);
	quote_email_destroy(f->qe);
	fake_env_destroy(f->fe);
}

static struct quote make_quote(const char *ref, const char *name, size_t name_len, const char *email,
                               size_t email_len)
{
	return (struct quote){.ref = ref, .customer_name = name, .name_len = name_len,
	                      .customer_email = email, .email_len = email_len};
}

static struct quote plain_quote(void)
{
	return make_quote("Q-1001", "Ann Lee", 7, "ann@example.com", 15);
}

static enum quote_email_status send(struct fixture *f, struct quote q)
{
	struct send_result r = {0};
	quote_email_send(f->qe, &q, on_done, &r);
	ck_assert_int_eq(r.calls, 0);
	fake_env_run(f->fe);
	ck_assert_int_eq(r.calls, 1);
	return r.st;
}

static bool log_mentions(const struct fake_env *fe, const char *s)
{
	for (int i = 0; i < fake_env_logs(fe); i++) {
		if (strstr(fake_env_log_line(fe, i), s) != NULL)
			return true;
	}
	return false;
}

/* ---- contract, every variant --------------------------------------------- */

START_TEST(test_quote_email_sends_the_expected_message)
{
	struct fixture f = setup((enum variant)_i);
	ck_assert_int_eq(send(&f, plain_quote()), QUOTE_EMAIL_SENT);
	ck_assert_int_eq(fake_env_mails(f.fe), 1);
	ck_assert_str_eq(fake_env_mail_data(f.fe, 0), expected_plain);
	ck_assert_uint_eq(fake_env_mail_len(f.fe, 0), sizeof expected_plain - 1);
	ck_assert_str_eq(fake_env_mail_to(f.fe, 0), "ann@example.com");
	ck_assert(fake_env_log_has(f.fe, "Email", "quote Q-1001: sent to ann@example.com"));
	teardown(&f);
}
END_TEST

START_TEST(test_quote_email_mail_failure_is_failed)
{
	/* 0: 550; 1: 451; 2: connection refused; 3: timeout */
	struct fixture f = setup((enum variant)(_i % VARIANT_COUNT));
	int kind = _i / VARIANT_COUNT;
	if (kind < 2)
		fake_env_fail_mail(f.fe, "mail", 1, 1, kind == 0 ? 550 : 451);
	else
		fake_env_fail(f.fe, "mail", 1, 1, kind == 2 ? OUTCOME_CONN_LOST : OUTCOME_TIMEOUT);
	ck_assert_int_eq(send(&f, plain_quote()), QUOTE_EMAIL_FAILED);
	ck_assert_int_eq(fake_env_mails(f.fe), 0);
	teardown(&f);
}
END_TEST

START_TEST(test_quote_email_create_refuses_bad_sender)
{
	struct fake_env *fe = fake_env_create(1);
	struct quote_email_config cfg = {.variant = VARIANT_HARDENED, .from_address = "not an address",
	                                 .from_name = FROM_NAME};
	ck_assert_ptr_null(quote_email_create(fake_env_core(fe), &cfg));
	cfg.from_address = FROM_ADDRESS;
	cfg.from_name = "Sales\r\nBcc: x@evil.example";
	ck_assert_ptr_null(quote_email_create(fake_env_core(fe), &cfg));
	cfg.from_name = NULL;
	ck_assert_ptr_null(quote_email_create(fake_env_core(fe), &cfg));
	quote_email_destroy(NULL);
	fake_env_destroy(fe);
}
END_TEST

/* ---- legacy ------------------------------------------------------------------ */

START_TEST(test_quote_email_legacy_missing_name_dies_without_context)
{
	struct fixture f = setup(VARIANT_LEGACY);
	ck_assert_int_eq(send(&f, make_quote("Q-1001", NULL, 0, "ann@example.com", 15)), QUOTE_EMAIL_UNHANDLED);
	ck_assert_int_eq(fake_env_mails(f.fe), 0);
	ck_assert_int_eq(fake_env_log_count(f.fe, "Unhandled"), 1);
	ck_assert_int_eq(fake_env_log_count(f.fe, "Email"), 0);
	ck_assert(!log_mentions(f.fe, "Q-1001"));
	ck_assert(!log_mentions(f.fe, "ann@example.com"));
	teardown(&f);
}
END_TEST

START_TEST(test_quote_email_legacy_and_seed_crlf_in_name_injects_a_header)
{
	static const char name[] = "Ann\r\nBcc: evil@attacker.example";
	struct fixture f = setup((enum variant)_i);
	ck_assert_int_eq(send(&f, make_quote("Q-1001", name, sizeof name - 1, "ann@example.com", 15)),
	                 QUOTE_EMAIL_SENT);
	ck_assert_ptr_nonnull(strstr(fake_env_mail_data(f.fe, 0), "\r\nBcc: evil@attacker.example"));
	teardown(&f);
}
END_TEST

START_TEST(test_quote_email_legacy_sends_empty_name_as_is)
{
	struct fixture f = setup(VARIANT_LEGACY);
	ck_assert_int_eq(send(&f, make_quote("Q-1001", "", 0, "ann@example.com", 15)), QUOTE_EMAIL_SENT);
	ck_assert_ptr_nonnull(strstr(fake_env_mail_data(f.fe, 0), "To: \"\" <ann@example.com>\r\n"));
	ck_assert_ptr_nonnull(strstr(fake_env_mail_data(f.fe, 0), "\r\nHi ,\r\n"));
	teardown(&f);
}
END_TEST

START_TEST(test_quote_email_legacy_and_seed_send_a_quote_twice)
{
	struct fixture f = setup((enum variant)_i);
	ck_assert_int_eq(send(&f, plain_quote()), QUOTE_EMAIL_SENT);
	ck_assert_int_eq(send(&f, plain_quote()), QUOTE_EMAIL_SENT);
	ck_assert_int_eq(fake_env_mails(f.fe), 2);
	teardown(&f);
}
END_TEST

START_TEST(test_quote_email_legacy_and_seed_overlong_name_fails_without_sending)
{
	static char name[QUOTE_EMAIL_FIELD_MAX + 1];
	memset(name, 'a', sizeof name);
	struct fixture f = setup((enum variant)_i);
	ck_assert_int_eq(send(&f, make_quote("Q-1001", name, sizeof name, "ann@example.com", 15)),
	                 QUOTE_EMAIL_FAILED);
	ck_assert_int_eq(fake_env_mails(f.fe), 0);
	ck_assert(fake_env_log_has(f.fe, "Email", "quote Q-1001: message over"));
	ck_assert_int_eq(send(&f, make_quote("Q-1001", name, sizeof name - 1, "ann@example.com", 15)),
	                 QUOTE_EMAIL_SENT);
	teardown(&f);
}
END_TEST

/* ---- seed -------------------------------------------------------------------------- */

struct field_case {
	const char *name;
	size_t name_len;
	const char *email;
	size_t email_len;
};

struct seed_case {
	struct field_case in;
	const char *log; /* expected in the [Email] line */
};

static const struct seed_case seed_rejects[] = {
	{{NULL, 0, "ann@example.com", 15}, "customer name missing; not sending to ann@example.com"},
	{{"", 0, "ann@example.com", 15}, "customer name blank; not sending to ann@example.com"},
	{{"   ", 3, "ann@example.com", 15}, "customer name blank; not sending to ann@example.com"},
	{{" \t\r\n", 4, "ann@example.com", 15}, "customer name blank; not sending to ann@example.com"},
	{{"Ann", 3, NULL, 0}, "customer e-mail missing; not sending to (null)"},
	{{"Ann", 3, "", 0}, "customer e-mail blank; not sending to "},
	{{"Ann", 3, " \r\n", 3}, "customer e-mail blank; not sending to  \\x0d\\x0a"},
};

START_TEST(test_quote_email_seed_rejects_missing_and_blank_fields_with_context)
{
	const struct field_case *c = &seed_rejects[_i].in;
	struct fixture f = setup(VARIANT_SEED);
	ck_assert_int_eq(send(&f, make_quote("Q-1001", c->name, c->name_len, c->email, c->email_len)),
	                 QUOTE_EMAIL_INVALID);
	ck_assert_int_eq(fake_env_mails(f.fe), 0);
	ck_assert_int_eq(fake_env_log_count(f.fe, "Email"), 1);
	ck_assert(fake_env_log_has(f.fe, "Email", "quote Q-1001: "));
	ck_assert_msg(fake_env_log_has(f.fe, "Email", seed_rejects[_i].log), "%s", fake_env_log_line(f.fe, 0));
	teardown(&f);
}
END_TEST

START_TEST(test_quote_email_seed_lets_unicode_space_names_through)
{
	struct fixture f = setup(VARIANT_SEED);
	ck_assert_int_eq(send(&f, make_quote("Q-1001", "\xe3\x80\x80", 3, "ann@example.com", 15)),
	                 QUOTE_EMAIL_SENT);
	ck_assert_int_eq(fake_env_mails(f.fe), 1);
	teardown(&f);
}
END_TEST

/* ---- hardened ------------------------------------------------------------------------ */

static const struct field_case hardened_rejects[] = {
	{NULL, 0, "ann@example.com", 15},
	{"", 0, "ann@example.com", 15},
	{"\xc2\xa0\xe3\x80\x80", 5, "ann@example.com", 15},
	{"Ann\r\nBcc: evil@attacker.example", 31, "ann@example.com", 15},
	{"Ann\nLee", 7, "ann@example.com", 15},
	{"Ann\0Lee", 7, "ann@example.com", 15},
	{"Ann\x7f", 4, "ann@example.com", 15},
	{"Ann\xc2\x85", 5, "ann@example.com", 15},
	{"Jos\xe9", 4, "ann@example.com", 15},
	{"Ann", 3, NULL, 0},
	{"Ann", 3, "", 0},
	{"Ann", 3, "ann@example.com\r\nBcc: evil@attacker.example", 43},
	{"Ann", 3, "ann@lee@example.com", 19},
	{"Ann", 3, "ann@localhost", 13},
	{"Ann", 3, "ann@example.com>, <b@evil.example", 33},
	{"Ann", 3, "ann\0@example.com", 16},
};

START_TEST(test_quote_email_hardened_rejects_malformed_fields_before_claiming)
{
	const struct field_case *c = &hardened_rejects[_i];
	struct fixture f = setup(VARIANT_HARDENED);
	ck_assert_int_eq(send(&f, make_quote("Q-1001", c->name, c->name_len, c->email, c->email_len)),
	                 QUOTE_EMAIL_INVALID);
	ck_assert_int_eq(fake_env_mails(f.fe), 0);
	ck_assert_int_eq(fake_env_ops(f.fe), 0);
	ck_assert(!fake_env_quote_claimed(f.fe, "Q-1001"));
	ck_assert(fake_env_log_has(f.fe, "Email", "quote Q-1001: customer "));
	/* no raw control character reaches the log */
	for (int i = 0; i < fake_env_logs(f.fe); i++)
		ck_assert_ptr_null(strpbrk(fake_env_log_line(f.fe, i), "\r\n"));
	teardown(&f);
}
END_TEST

START_TEST(test_quote_email_hardened_overlong_fields_are_invalid)
{
	static char name[EMAIL_CHECK_NAME_MAX + 1];
	memset(name, 'a', sizeof name);
	struct fixture f = setup(VARIANT_HARDENED);
	ck_assert_int_eq(send(&f, make_quote("Q-1001", name, sizeof name, "ann@example.com", 15)),
	                 QUOTE_EMAIL_INVALID);
	ck_assert(fake_env_log_has(f.fe, "Email", "too long"));
	ck_assert_int_eq(send(&f, make_quote("Q-1001", name, sizeof name - 1, "ann@example.com", 15)),
	                 QUOTE_EMAIL_SENT);
	teardown(&f);
}
END_TEST

START_TEST(test_quote_email_hardened_rejects_refs_that_are_not_plain_tokens)
{
	struct fixture f = setup(VARIANT_HARDENED);
	const char *refs[] = {NULL, "", "Q 1", "Q-1\r\nBcc: x", "Q<1>",
	                      "Q12345678901234567890123456789012345678901234567890123456789012345"};
	for (int k = 0; k < 6; k++) {
		struct quote q = plain_quote();
		q.ref = refs[k];
		ck_assert_int_eq(send(&f, q), QUOTE_EMAIL_INVALID);
	}
	ck_assert_int_eq(fake_env_ops(f.fe), 0);
	teardown(&f);
}
END_TEST

START_TEST(test_quote_email_hardened_encodes_non_ascii_names_and_splits_on_unicode_space)
{
	struct fixture f = setup(VARIANT_HARDENED);
	static const char name[] = "Jos\xc3\xa9\xc2\xa0\xc3\x81lvarez"; /* no-break space inside */
	ck_assert_int_eq(send(&f, make_quote("Q-1001", name, sizeof name - 1, "ann@example.com", 15)),
	                 QUOTE_EMAIL_SENT);
	const char *data = fake_env_mail_data(f.fe, 0);
	/* python3: base64.b64encode("José\u00a0Álvarez".encode()) */
	ck_assert_ptr_nonnull(strstr(data, "\r\nTo: =?UTF-8?B?Sm9zw6nCoMOBbHZhcmV6?= <ann@example.com>\r\n"));
	ck_assert_ptr_nonnull(strstr(data, "\r\nHi Jos\xc3\xa9,\r\n"));
	teardown(&f);
}
END_TEST

START_TEST(test_quote_email_hardened_escapes_quotes_in_ascii_names)
{
	struct fixture f = setup(VARIANT_HARDENED);
	static const char name[] = "Ann \"The Boss\" Lee";
	ck_assert_int_eq(send(&f, make_quote("Q-1001", name, sizeof name - 1, "ann@example.com", 15)),
	                 QUOTE_EMAIL_SENT);
	ck_assert_ptr_nonnull(strstr(fake_env_mail_data(f.fe, 0),
	                             "\r\nTo: \"Ann \\\"The Boss\\\" Lee\" <ann@example.com>\r\n"));
	teardown(&f);
}
END_TEST

START_TEST(test_quote_email_hardened_sends_at_most_once_per_quote)
{
	struct fixture f = setup(VARIANT_HARDENED);
	ck_assert_int_eq(send(&f, plain_quote()), QUOTE_EMAIL_SENT);
	ck_assert_int_eq(send(&f, plain_quote()), QUOTE_EMAIL_ALREADY_SENT);
	ck_assert_int_eq(fake_env_mails(f.fe), 1);
	ck_assert(fake_env_log_has(f.fe, "Email", "quote Q-1001: already sent"));
	/* claim, mail, mark; then claim, the state lookup */
	ck_assert_int_eq(fake_env_count(f.fe, "sql quote_claim Q-1001 "), 2);
	ck_assert_int_eq(fake_env_count(f.fe, "sql quote_mark_sent Q-1001 "), 1);
	ck_assert_int_eq(fake_env_count(f.fe, "sql quote_sent_select Q-1001"), 1);
	teardown(&f);
}
END_TEST

START_TEST(test_quote_email_hardened_concurrent_sends_mail_once)
{
	struct fixture f = setup(VARIANT_HARDENED);
	struct quote q = plain_quote();
	struct send_result a = {0}, b = {0};
	quote_email_send(f.qe, &q, on_done, &a);
	quote_email_send(f.qe, &q, on_done, &b);
	fake_env_run(f.fe);
	ck_assert_int_eq(a.st, QUOTE_EMAIL_SENT);
	/* b found a's claim before a had mailed: not "already sent" */
	ck_assert_int_eq(b.st, QUOTE_EMAIL_FAILED);
	ck_assert(fake_env_log_has(f.fe, "Email", "claimed by another attempt, not known to be sent"));
	ck_assert_int_eq(fake_env_mails(f.fe), 1);
	ck_assert_int_eq(send(&f, plain_quote()), QUOTE_EMAIL_ALREADY_SENT);
	ck_assert_int_eq(fake_env_mails(f.fe), 1);
	teardown(&f);
}
END_TEST

START_TEST(test_quote_email_hardened_definite_failure_releases_the_claim)
{
	/* 0: 550; 1: 451; 2: connection refused */
	struct fixture f = setup(VARIANT_HARDENED);
	if (_i < 2)
		fake_env_fail_mail(f.fe, "mail", 1, 1, _i == 0 ? 550 : 451);
	else
		fake_env_fail(f.fe, "mail", 1, 1, OUTCOME_CONN_LOST);
	ck_assert_int_eq(send(&f, plain_quote()), QUOTE_EMAIL_FAILED);
	ck_assert(!fake_env_quote_claimed(f.fe, "Q-1001"));
	ck_assert_int_eq(fake_env_count(f.fe, "sql quote_release Q-1001"), 1);
	ck_assert(fake_env_log_has(f.fe, "Email", "releasing the claim"));
	ck_assert_int_eq(send(&f, plain_quote()), QUOTE_EMAIL_SENT);
	ck_assert_int_eq(fake_env_mails(f.fe), 1);
	teardown(&f);
}
END_TEST

START_TEST(test_quote_email_hardened_timeout_keeps_the_claim_and_never_sends_twice)
{
	/* 0: the mail was lost; 1: the mail went out, its reply was lost */
	struct fixture f = setup(VARIANT_HARDENED);
	if (_i == 0)
		fake_env_fail(f.fe, "mail", 1, 1, OUTCOME_TIMEOUT);
	else
		fake_env_fail_applied(f.fe, "mail", 1, 1);
	ck_assert_int_eq(send(&f, plain_quote()), QUOTE_EMAIL_FAILED);
	ck_assert(fake_env_quote_claimed(f.fe, "Q-1001"));
	ck_assert(fake_env_log_has(f.fe, "Email", "claim kept"));
	ck_assert_int_eq(send(&f, plain_quote()), QUOTE_EMAIL_ALREADY_SENT);
	ck_assert_int_eq(fake_env_mails(f.fe), _i);
	teardown(&f);
}
END_TEST

/* The claim is stored but its reply is lost (0: a timeout; 1: the
 * connection dies after the commit): the sender takes back its own claim,
 * so the next press mails the quote instead of answering "already sent"
 * for a mail that never went. */
START_TEST(test_quote_email_hardened_claim_of_unknown_outcome_is_released)
{
	struct fixture f = setup(VARIANT_HARDENED);
	if (_i == 0)
		fake_env_fail_applied(f.fe, "sql quote_claim", 1, 1);
	else
		fake_env_script(f.fe, &(struct fake_rule){.match = "sql quote_claim", .nth = 1, .times = 1,
		                                          .oc = OUTCOME_CONN_LOST, .applied = true});
	ck_assert_int_eq(send(&f, plain_quote()), QUOTE_EMAIL_FAILED);
	ck_assert_int_eq(fake_env_mails(f.fe), 0);
	ck_assert(fake_env_log_has(f.fe, "Email", "claim outcome unknown"));
	ck_assert(!fake_env_quote_claimed(f.fe, "Q-1001"));
	ck_assert_int_eq(send(&f, plain_quote()), QUOTE_EMAIL_SENT);
	ck_assert_int_eq(fake_env_mails(f.fe), 1);
	ck_assert_int_eq(send(&f, plain_quote()), QUOTE_EMAIL_ALREADY_SENT);
	ck_assert_int_eq(fake_env_mails(f.fe), 1);
	teardown(&f);
}
END_TEST

/* ... and when the release is lost too, the claim stays: later presses
 * answer failed, never "already sent", and nothing is mailed twice. */
START_TEST(test_quote_email_hardened_unreleased_claim_never_passes_for_sent)
{
	struct fixture f = setup(VARIANT_HARDENED);
	fake_env_fail_applied(f.fe, "sql quote_claim", 1, 1);
	fake_env_fail(f.fe, "sql quote_release", 1, 1, OUTCOME_CONN_LOST);
	ck_assert_int_eq(send(&f, plain_quote()), QUOTE_EMAIL_FAILED);
	ck_assert(fake_env_log_has(f.fe, "Email", "could not be released"));
	ck_assert(fake_env_quote_claimed(f.fe, "Q-1001"));
	ck_assert_int_eq(send(&f, plain_quote()), QUOTE_EMAIL_FAILED);
	ck_assert(fake_env_log_has(f.fe, "Email", "not known to be sent"));
	ck_assert_int_eq(fake_env_mails(f.fe), 0);
	teardown(&f);
}
END_TEST

/* A release or a mark names its claim's token: another attempt's claim is
 * never released by it. */
START_TEST(test_quote_email_hardened_release_touches_only_its_own_claim)
{
	struct fixture f = setup(VARIANT_HARDENED);
	struct quote q = plain_quote();
	struct send_result a = {0}, b = {0};
	/* a claims and mails; b's claim reply is lost after a's claim won */
	fake_env_fail_applied(f.fe, "sql quote_claim", 2, 1);
	quote_email_send(f.qe, &q, on_done, &a);
	quote_email_send(f.qe, &q, on_done, &b);
	fake_env_run(f.fe);
	ck_assert_int_eq(a.st, QUOTE_EMAIL_SENT);
	ck_assert_int_eq(b.st, QUOTE_EMAIL_FAILED);
	ck_assert(fake_env_quote_claimed(f.fe, "Q-1001"));
	ck_assert_int_eq(send(&f, plain_quote()), QUOTE_EMAIL_ALREADY_SENT);
	ck_assert_int_eq(fake_env_mails(f.fe), 1);
	teardown(&f);
}
END_TEST

START_TEST(test_quote_email_seed_timeout_after_delivery_sends_twice_on_retry)
{
	struct fixture f = setup(VARIANT_SEED);
	fake_env_fail_applied(f.fe, "mail", 1, 1);
	ck_assert_int_eq(send(&f, plain_quote()), QUOTE_EMAIL_FAILED);
	ck_assert_int_eq(send(&f, plain_quote()), QUOTE_EMAIL_SENT);
	ck_assert_int_eq(fake_env_mails(f.fe), 2);
	teardown(&f);
}
END_TEST

START_TEST(test_quote_email_hardened_claim_failure_sends_nothing)
{
	struct fixture f = setup(VARIANT_HARDENED);
	fake_env_fail_sql(f.fe, "sql quote_claim", 1, 1, SQLSTATE_CONNECTION_FAILURE);
	ck_assert_int_eq(send(&f, plain_quote()), QUOTE_EMAIL_FAILED);
	ck_assert_int_eq(fake_env_mails(f.fe), 0);
	ck_assert(fake_env_log_has(f.fe, "Email", "claim failed"));
	teardown(&f);
}
END_TEST

START_TEST(test_quote_email_object_may_be_destroyed_from_done)
{
	struct fake_env *fe = fake_env_create(1);
	struct quote_email_config cfg = {.variant = VARIANT_HARDENED, .from_address = FROM_ADDRESS,
	                                 .from_name = FROM_NAME};
	struct quote_email *qe = quote_email_create(fake_env_core(fe), &cfg);
	struct quote q = plain_quote();
	struct send_result r = {0};
	quote_email_send(qe, &q, on_done, &r);
	fake_env_run(fe);
	ck_assert_int_eq(r.calls, 1);
	quote_email_destroy(qe);
	fake_env_destroy(fe);
}
END_TEST

/* ---- sweep -------------------------------------------------------------------------- */

#define SWEEP_OPS_MAX 16

/* One send under the fault, then the faults end and the quote is sent
 * again: never more than one mail, and SENT means it went out. */
START_TEST(test_quote_email_hardened_sweep_fail_nth_operation)
{
	bool clean_run_seen = false;
	for (int n = 1; n <= SWEEP_OPS_MAX && !clean_run_seen; n++) {
		struct fixture f = setup(VARIANT_HARDENED);
		sweep_script(f.fe, _i, n);

		enum quote_email_status first = send(&f, plain_quote());
		clean_run_seen = fake_env_ops(f.fe) < n;
		ck_assert(first == QUOTE_EMAIL_SENT || first == QUOTE_EMAIL_FAILED);
		ck_assert_int_le(fake_env_mails(f.fe), 1); /* email-safe */
		if (first == QUOTE_EMAIL_SENT)
			ck_assert_int_eq(fake_env_mails(f.fe), 1);

		fake_env_heal(f.fe);
		/* a claim left standing and not marked sent: the only way a
		 * healthy second press may answer failed */
		bool stuck = fake_env_log_has(f.fe, "Email", "could not be marked sent") ||
		             fake_env_log_has(f.fe, "Email", "could not be released");
		enum quote_email_status again = send(&f, plain_quote());
		ck_assert_int_le(fake_env_mails(f.fe), 1); /* email-safe */
		if (first == QUOTE_EMAIL_SENT)
			ck_assert(again == QUOTE_EMAIL_ALREADY_SENT || (stuck && again == QUOTE_EMAIL_FAILED));
		if (again == QUOTE_EMAIL_SENT)
			ck_assert_int_eq(fake_env_mails(f.fe), 1);
		/* "already sent" only for a mail handed to the mail server */
		if (again == QUOTE_EMAIL_ALREADY_SENT)
			ck_assert_int_ge(fake_env_count(f.fe, "mail"), 1);
		if (again == QUOTE_EMAIL_FAILED)
			ck_assert(stuck);
		ck_assert(again == QUOTE_EMAIL_SENT || again == QUOTE_EMAIL_ALREADY_SENT ||
		          again == QUOTE_EMAIL_FAILED);
		teardown(&f);
	}
	ck_assert(clean_run_seen);
}
END_TEST

Suite *check_quote_email_suite(void);
Suite *check_quote_email_suite(void)
{
	Suite *s = suite_create("quote_email");
	TCase *tc = tcase_create("contract");
	tcase_add_loop_test(tc, test_quote_email_sends_the_expected_message, 0, VARIANT_COUNT);
	tcase_add_loop_test(tc, test_quote_email_mail_failure_is_failed, 0, 4 * VARIANT_COUNT);
	tcase_add_loop_test(tc, test_quote_email_hardened_claim_of_unknown_outcome_is_released, 0, 2);
	tcase_add_test(tc, test_quote_email_hardened_unreleased_claim_never_passes_for_sent);
	tcase_add_test(tc, test_quote_email_hardened_release_touches_only_its_own_claim);
	tcase_add_test(tc, test_quote_email_create_refuses_bad_sender);
	tcase_add_test(tc, test_quote_email_object_may_be_destroyed_from_done);
	suite_add_tcase(s, tc);

	tc = tcase_create("legacy");
	tcase_add_test(tc, test_quote_email_legacy_missing_name_dies_without_context);
	tcase_add_loop_test(tc, test_quote_email_legacy_and_seed_crlf_in_name_injects_a_header, VARIANT_LEGACY,
	                    VARIANT_HARDENED);
	tcase_add_test(tc, test_quote_email_legacy_sends_empty_name_as_is);
	tcase_add_loop_test(tc, test_quote_email_legacy_and_seed_overlong_name_fails_without_sending,
	                    VARIANT_LEGACY, VARIANT_HARDENED);
	tcase_add_loop_test(tc, test_quote_email_legacy_and_seed_send_a_quote_twice, VARIANT_LEGACY,
	                    VARIANT_HARDENED);
	suite_add_tcase(s, tc);

	tc = tcase_create("seed");
	tcase_add_loop_test(tc, test_quote_email_seed_rejects_missing_and_blank_fields_with_context, 0,
	                    (int)(sizeof seed_rejects / sizeof seed_rejects[0]));
	tcase_add_test(tc, test_quote_email_seed_lets_unicode_space_names_through);
	tcase_add_test(tc, test_quote_email_seed_timeout_after_delivery_sends_twice_on_retry);
	suite_add_tcase(s, tc);

	tc = tcase_create("hardened");
	tcase_add_loop_test(tc, test_quote_email_hardened_rejects_malformed_fields_before_claiming, 0,
	                    (int)(sizeof hardened_rejects / sizeof hardened_rejects[0]));
	tcase_add_test(tc, test_quote_email_hardened_overlong_fields_are_invalid);
	tcase_add_test(tc, test_quote_email_hardened_rejects_refs_that_are_not_plain_tokens);
	tcase_add_test(tc, test_quote_email_hardened_encodes_non_ascii_names_and_splits_on_unicode_space);
	tcase_add_test(tc, test_quote_email_hardened_escapes_quotes_in_ascii_names);
	tcase_add_test(tc, test_quote_email_hardened_sends_at_most_once_per_quote);
	tcase_add_test(tc, test_quote_email_hardened_concurrent_sends_mail_once);
	tcase_add_loop_test(tc, test_quote_email_hardened_definite_failure_releases_the_claim, 0, 3);
	tcase_add_loop_test(tc, test_quote_email_hardened_timeout_keeps_the_claim_and_never_sends_twice, 0, 2);
	tcase_add_test(tc, test_quote_email_hardened_claim_failure_sends_nothing);
	suite_add_tcase(s, tc);

	tc = tcase_create("sweep");
	tcase_add_loop_test(tc, test_quote_email_hardened_sweep_fail_nth_operation, 0, SWEEP_CASES);
	suite_add_tcase(s, tc);
	return s;
}
