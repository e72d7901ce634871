/* tests/check_stripe_sig.c - Stripe webhook signatures against vectors
 * computed outside this code (python3 hmac, cross-checked with
 * `openssl dgst -sha256 -hmac`), then every way a header can be wrong. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/stripe_sig.h"
#include "tests/support/death.h"

static const char SECRET[] = "whsec_test_secret";
static const char PAYLOAD[] = "{\"id\":\"evt_1\",\"type\":\"checkout.session.completed\"}";
#define T0 1700000000
/* HMAC-SHA256("whsec_test_secret", "1700000000." PAYLOAD) */
#define SIG_GOOD "a13d4b1f9003bc2fb6c06224e878b6056185eaa50d40e1e7dc05517f8af41d7b"
/* The same message under "whsec_other". */
#define SIG_OTHER_SECRET "f9e5f219a592e1abd56c6b0d3489748da4ddca9b4a5c8bfb31f55c5214e676d2"
/* HMAC-SHA256("whsec_test_secret", "1700000000.") - empty payload */
#define SIG_EMPTY "316b9ab98c15bfa039d243f3196acee619cf29749a91a634e6a8154e2f7b6727"
/* HMAC-SHA256("whsec_test_secret", "42.a\0b\r\n\xff") */
#define SIG_BINARY "fe30e90ccaae3d10dde5f40639d9e79ca7ace2c240127ebf899af7b9476ad7b4"

static enum stripe_sig_status verify_at(const char *header, int64_t now_s)
{
	return stripe_sig_verify(SECRET, header, PAYLOAD, strlen(PAYLOAD), now_s,
	                         STRIPE_SIG_TOLERANCE_S);
}

static enum stripe_sig_status verify(const char *header)
{
	return verify_at(header, T0);
}

START_TEST(test_stripe_sig_sign_matches_reference_vector)
{
	char out[128];
	size_t n = stripe_sig_sign(SECRET, T0, PAYLOAD, strlen(PAYLOAD), out, sizeof out);
	ck_assert_str_eq(out, "t=1700000000,v1=" SIG_GOOD);
	ck_assert_uint_eq(n, strlen(out));
}
END_TEST

/* The keyed context is kept between calls: switching secrets back and
 * forth, and secrets too long to keep (300 octets, differing only in the
 * last one), must each give their own HMAC every time. */
START_TEST(test_stripe_sig_switching_secrets_keeps_each_mac)
{
	char long_a[301], long_b[301];
	memcpy(long_a, "whsec_", 6);
	memset(long_a + 6, 'k', 294);
	long_a[300] = '\0';
	memcpy(long_b, long_a, sizeof long_b);
	long_b[299] = 'j';
	struct {
		const char *secret, *sig;
	} steps[] = {
		{SECRET, SIG_GOOD},
		{"whsec_other", SIG_OTHER_SECRET},
		{SECRET, SIG_GOOD},
		{long_a, "721498f978248287468a13232468bf58ca4d6f877c4223f05e0849243939eedd"},
		{long_b, "10976cc599dc187f4d8211dbb2b9c2f2ea5250ad542683eefbbeb5e1dd8fc18c"},
		{long_a, "721498f978248287468a13232468bf58ca4d6f877c4223f05e0849243939eedd"},
		{SECRET, SIG_GOOD},
		{SECRET, SIG_GOOD},
		{"whsec_other", SIG_OTHER_SECRET},
	};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		char out[128], want[128];
		ck_assert_uint_gt(stripe_sig_sign(steps[i].secret, T0, PAYLOAD, strlen(PAYLOAD),
		                                  out, sizeof out), 0);
		snprintf(want, sizeof want, "t=%d,v1=%s", T0, steps[i].sig);
		ck_assert_str_eq(out, want);
		ck_assert_int_eq(stripe_sig_verify(steps[i].secret, out, PAYLOAD, strlen(PAYLOAD),
		                                   T0, STRIPE_SIG_TOLERANCE_S),
		                 STRIPE_SIG_OK);
	}
}
END_TEST

START_TEST(test_stripe_sig_sign_handles_empty_and_binary_payloads)
{
	char out[128];
	ck_assert_uint_gt(stripe_sig_sign(SECRET, T0, NULL, 0, out, sizeof out), 0);
	ck_assert_str_eq(out, "t=1700000000,v1=" SIG_EMPTY);
	static const char bin[] = {'a', '\0', 'b', '\r', '\n', (char)0xff};
	ck_assert_uint_gt(stripe_sig_sign(SECRET, 42, bin, sizeof bin, out, sizeof out), 0);
	ck_assert_str_eq(out, "t=42,v1=" SIG_BINARY);
	ck_assert_int_eq(stripe_sig_verify(SECRET, out, bin, sizeof bin, 42, 0),
	                 STRIPE_SIG_OK);
}
END_TEST

START_TEST(test_stripe_sig_sign_returns_zero_when_buffer_too_small)
{
	const size_t need = strlen("t=1700000000,v1=" SIG_GOOD);
	char out[128];
	memset(out, 'x', sizeof out);
	ck_assert_uint_eq(stripe_sig_sign(SECRET, T0, PAYLOAD, strlen(PAYLOAD), out, need), 0);
	ck_assert_int_eq(out[0], '\0');
	ck_assert_uint_eq(stripe_sig_sign(SECRET, T0, PAYLOAD, strlen(PAYLOAD), out, need + 1),
	                  need);
	ck_assert_uint_eq(stripe_sig_sign(SECRET, T0, PAYLOAD, strlen(PAYLOAD), NULL, 0), 0);
}
END_TEST

START_TEST(test_stripe_sig_verify_accepts_reference_signature)
{
	ck_assert_int_eq(verify("t=1700000000,v1=" SIG_GOOD), STRIPE_SIG_OK);
	/* Stripe's own layout while rolling a secret: two v1 and a v0. */
	ck_assert_int_eq(verify("t=1700000000,v1=" SIG_OTHER_SECRET ",v1=" SIG_GOOD
	                        ",v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"),
	                 STRIPE_SIG_OK);
	/* Order of items does not matter. */
	ck_assert_int_eq(verify("v1=" SIG_GOOD ",t=1700000000"), STRIPE_SIG_OK);
}
END_TEST

START_TEST(test_stripe_sig_verify_rejects_tampered_payload)
{
	char tampered[sizeof PAYLOAD];
	memcpy(tampered, PAYLOAD, sizeof PAYLOAD);
	tampered[8] = '2'; /* evt_1 -> evt_2 */
	ck_assert_int_eq(stripe_sig_verify(SECRET, "t=1700000000,v1=" SIG_GOOD, tampered,
	                                   strlen(tampered), T0, 300),
	                 STRIPE_SIG_MISMATCH);
	/* One byte shorter is another payload too. */
	ck_assert_int_eq(stripe_sig_verify(SECRET, "t=1700000000,v1=" SIG_GOOD, PAYLOAD,
	                                   strlen(PAYLOAD) - 1, T0, 300),
	                 STRIPE_SIG_MISMATCH);
}
END_TEST

START_TEST(test_stripe_sig_verify_rejects_wrong_secret)
{
	ck_assert_int_eq(verify("t=1700000000,v1=" SIG_OTHER_SECRET), STRIPE_SIG_MISMATCH);
	ck_assert_int_eq(stripe_sig_verify("whsec_other", "t=1700000000,v1=" SIG_GOOD,
	                                   PAYLOAD, strlen(PAYLOAD), T0, 300),
	                 STRIPE_SIG_MISMATCH);
}
END_TEST

START_TEST(test_stripe_sig_verify_rejects_changed_timestamp)
{
	/* The timestamp is signed: moving it breaks the signature. */
	ck_assert_int_eq(verify("t=1700000001,v1=" SIG_GOOD), STRIPE_SIG_MISMATCH);
}
END_TEST

START_TEST(test_stripe_sig_verify_rejects_uppercase_or_short_hex)
{
	char upper[] = "t=1700000000,v1=" SIG_GOOD;
	for (char *p = upper + strlen("t=1700000000,v1="); *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	ck_assert_int_eq(verify(upper), STRIPE_SIG_MISMATCH);
	char shorter[] = "t=1700000000,v1=" SIG_GOOD;
	shorter[strlen(shorter) - 1] = '\0';
	ck_assert_int_eq(verify(shorter), STRIPE_SIG_MISMATCH);
	ck_assert_int_eq(verify("t=1700000000,v1=" SIG_GOOD "0"), STRIPE_SIG_MISMATCH);
	ck_assert_int_eq(verify("t=1700000000,v1="), STRIPE_SIG_MISMATCH);
}
END_TEST

START_TEST(test_stripe_sig_verify_tolerance_boundaries)
{
	const char *h = "t=1700000000,v1=" SIG_GOOD;
	ck_assert_int_eq(verify_at(h, T0 + 300), STRIPE_SIG_OK);
	ck_assert_int_eq(verify_at(h, T0 + 301), STRIPE_SIG_STALE);
	ck_assert_int_eq(verify_at(h, T0 - 300), STRIPE_SIG_OK);
	ck_assert_int_eq(verify_at(h, T0 - 301), STRIPE_SIG_STALE); /* from the future */
	ck_assert_int_eq(verify_at(h, INT64_MAX), STRIPE_SIG_STALE);
	ck_assert_int_eq(verify_at(h, INT64_MIN), STRIPE_SIG_STALE);
	ck_assert_int_eq(stripe_sig_verify(SECRET, h, PAYLOAD, strlen(PAYLOAD), T0, 0),
	                 STRIPE_SIG_OK);
	ck_assert_int_eq(stripe_sig_verify(SECRET, h, PAYLOAD, strlen(PAYLOAD), T0 + 1, 0),
	                 STRIPE_SIG_STALE);
}
END_TEST

START_TEST(test_stripe_sig_tolerance_is_checked_only_after_a_match)
{
	/* Forged and old: MISMATCH, never STALE, so STALE always means
	 * authentic. */
	ck_assert_int_eq(verify_at("t=1700000000,v1=" SIG_OTHER_SECRET, T0 + 10000),
	                 STRIPE_SIG_MISMATCH);
}
END_TEST

START_TEST(test_stripe_sig_verify_tolerates_whitespace_around_items)
{
	ck_assert_int_eq(verify(" t=1700000000 ,\tv1=" SIG_GOOD "\t "), STRIPE_SIG_OK);
	/* Not inside an item: "t =..." has the key "t " (unknown), so no t. */
	ck_assert_int_eq(verify("t =1700000000,v1=" SIG_GOOD), STRIPE_SIG_MALFORMED);
}
END_TEST

START_TEST(test_stripe_sig_verify_rejects_malformed_headers)
{
	ck_assert_int_eq(verify(NULL), STRIPE_SIG_MALFORMED);
	ck_assert_int_eq(verify(""), STRIPE_SIG_MALFORMED);
	ck_assert_int_eq(verify("   "), STRIPE_SIG_MALFORMED);
	ck_assert_int_eq(verify("v1=" SIG_GOOD), STRIPE_SIG_MALFORMED);          /* no t */
	ck_assert_int_eq(verify("t=abc,v1=" SIG_GOOD), STRIPE_SIG_MALFORMED);
	ck_assert_int_eq(verify("t=,v1=" SIG_GOOD), STRIPE_SIG_MALFORMED);
	ck_assert_int_eq(verify("t=-1700000000,v1=" SIG_GOOD), STRIPE_SIG_MALFORMED);
	ck_assert_int_eq(verify("t=+1700000000,v1=" SIG_GOOD), STRIPE_SIG_MALFORMED);
	ck_assert_int_eq(verify("t=17000000001.5,v1=" SIG_GOOD), STRIPE_SIG_MALFORMED);
	ck_assert_int_eq(verify("t=99999999999999999999,v1=" SIG_GOOD), STRIPE_SIG_MALFORMED);
	ck_assert_int_eq(verify("t=9223372036854775808,v1=" SIG_GOOD), STRIPE_SIG_MALFORMED);
	ck_assert_int_eq(verify("t=1700000000,t=1700000000,v1=" SIG_GOOD),
	                 STRIPE_SIG_MALFORMED);                                  /* repeated t */
	ck_assert_int_eq(verify("t=1700000000,,v1=" SIG_GOOD), STRIPE_SIG_MALFORMED);
	ck_assert_int_eq(verify("t=1700000000,v1=" SIG_GOOD ","), STRIPE_SIG_MALFORMED);
	ck_assert_int_eq(verify("t=1700000000,garbage,v1=" SIG_GOOD), STRIPE_SIG_MALFORMED);
}
END_TEST

START_TEST(test_stripe_sig_verify_reports_missing_v1)
{
	ck_assert_int_eq(verify("t=1700000000"), STRIPE_SIG_NO_V1);
	ck_assert_int_eq(verify("t=1700000000,v0=" SIG_GOOD), STRIPE_SIG_NO_V1);
	ck_assert_int_eq(verify("t=1700000000,V1=" SIG_GOOD), STRIPE_SIG_NO_V1);
}
END_TEST

START_TEST(test_stripe_sig_verify_rejects_huge_header)
{
	static char h[STRIPE_SIG_HEADER_MAX + 2];
	int n = snprintf(h, sizeof h, "t=1700000000,v1=%s,v0=", SIG_GOOD);
	memset(h + n, 'a', sizeof h - 1 - (size_t)n);
	h[sizeof h - 1] = '\0';
	ck_assert_uint_eq(strlen(h), STRIPE_SIG_HEADER_MAX + 1);
	ck_assert_int_eq(verify(h), STRIPE_SIG_TOO_LONG);
	h[STRIPE_SIG_HEADER_MAX] = '\0'; /* exactly at the maximum: read */
	ck_assert_int_eq(verify(h), STRIPE_SIG_OK);
}
END_TEST

/* Builds "t=...,v1=<bad>" * nbad then the good one last. */
static void many_v1(char *h, size_t size, int nbad)
{
	size_t used = (size_t)snprintf(h, size, "t=1700000000");
	for (int i = 0; i < nbad; i++)
		used += (size_t)snprintf(h + used, size - used, ",v1=%064d", i);
	snprintf(h + used, size - used, ",v1=%s", SIG_GOOD);
}

START_TEST(test_stripe_sig_many_v1_with_good_one_last)
{
	char h[2048];
	many_v1(h, sizeof h, STRIPE_SIG_V1_MAX - 1);
	ck_assert_int_eq(verify(h), STRIPE_SIG_OK);
	/* Past the entries considered, the good one is not looked at. */
	many_v1(h, sizeof h, STRIPE_SIG_V1_MAX);
	ck_assert_int_eq(verify(h), STRIPE_SIG_MISMATCH);
}
END_TEST

START_TEST(test_stripe_sig_sign_then_verify_roundtrips)
{
	char out[128];
	for (int64_t t = 0; t < 2000000000; t += 199999999) {
		ck_assert_uint_gt(stripe_sig_sign("whsec_x", t, PAYLOAD, strlen(PAYLOAD), out,
		                                  sizeof out), 0);
		ck_assert_int_eq(stripe_sig_verify("whsec_x", out, PAYLOAD, strlen(PAYLOAD), t,
		                                   STRIPE_SIG_TOLERANCE_S),
		                 STRIPE_SIG_OK);
	}
}
END_TEST

START_TEST(test_stripe_sig_status_names)
{
	ck_assert_str_eq(stripe_sig_status_name(STRIPE_SIG_OK), "ok");
	ck_assert_str_eq(stripe_sig_status_name(STRIPE_SIG_MALFORMED), "malformed");
	ck_assert_str_eq(stripe_sig_status_name(STRIPE_SIG_NO_V1), "no_v1");
	ck_assert_str_eq(stripe_sig_status_name(STRIPE_SIG_MISMATCH), "mismatch");
	ck_assert_str_eq(stripe_sig_status_name(STRIPE_SIG_STALE), "stale");
	ck_assert_str_eq(stripe_sig_status_name(STRIPE_SIG_TOO_LONG), "too_long");
}
END_TEST

START_TEST(test_stripe_sig_negative_tolerance_is_a_bug)
{
	death_expect("tolerance_s >= 0");
	(void)stripe_sig_verify(SECRET, "t=1,v1=00", "", 0, 1, -1);
}
END_TEST

Suite *check_stripe_sig_suite(void);
Suite *check_stripe_sig_suite(void)
{
	Suite *s = suite_create("stripe_sig");
	TCase *tc = tcase_create("sign");
	tcase_add_test(tc, test_stripe_sig_sign_matches_reference_vector);
	tcase_add_test(tc, test_stripe_sig_sign_handles_empty_and_binary_payloads);
	tcase_add_test(tc, test_stripe_sig_switching_secrets_keeps_each_mac);
	tcase_add_test(tc, test_stripe_sig_sign_returns_zero_when_buffer_too_small);
	tcase_add_test(tc, test_stripe_sig_sign_then_verify_roundtrips);
	tcase_add_test(tc, test_stripe_sig_status_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("verify");
	tcase_add_test(tc, test_stripe_sig_verify_accepts_reference_signature);
	tcase_add_test(tc, test_stripe_sig_verify_rejects_tampered_payload);
	tcase_add_test(tc, test_stripe_sig_verify_rejects_wrong_secret);
	tcase_add_test(tc, test_stripe_sig_verify_rejects_changed_timestamp);
	tcase_add_test(tc, test_stripe_sig_verify_rejects_uppercase_or_short_hex);
	tcase_add_test(tc, test_stripe_sig_verify_tolerance_boundaries);
	tcase_add_test(tc, test_stripe_sig_tolerance_is_checked_only_after_a_match);
	tcase_add_test(tc, test_stripe_sig_verify_tolerates_whitespace_around_items);
	tcase_add_test(tc, test_stripe_sig_verify_rejects_malformed_headers);
	tcase_add_test(tc, test_stripe_sig_verify_reports_missing_v1);
	tcase_add_test(tc, test_stripe_sig_verify_rejects_huge_header);
	tcase_add_test(tc, test_stripe_sig_many_v1_with_good_one_last);
	tcase_add_test_raise_signal(tc, test_stripe_sig_negative_tolerance_is_a_bug, SIGABRT);
	suite_add_tcase(s, tc);
	return s;
}
