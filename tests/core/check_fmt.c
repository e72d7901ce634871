/* tests/check_fmt.c - core/fmt.h against snprintf: the same text for every
 * kind of number, and the same cut (and NUL) when the buffer is short. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/fmt.h"

static const uint64_t fmt_samples[] = {
	0, 1, 9, 10, 11, 99, 100, 12345, 4294967295u, 4294967296u,
	999999999999999999u, 1000000000000000000u, 9999999999999999999u,
	10000000000000000000u, UINT64_MAX,
};
#define FMT_SAMPLES (sizeof fmt_samples / sizeof fmt_samples[0])

START_TEST(test_fmt_u64_matches_printf)
{
	for (size_t i = 0; i < FMT_SAMPLES; i++) {
		char want[32], got[32];
		snprintf(want, sizeof want, "%" PRIu64, fmt_samples[i]);
		struct fmt f;
		fmt_init(&f, got, sizeof got);
		fmt_u64(&f, fmt_samples[i]);
		ck_assert_str_eq(got, want);
		ck_assert_uint_eq(f.len, strlen(want));
		ck_assert(!f.cut);
	}
}
END_TEST

START_TEST(test_fmt_i64_matches_printf_at_both_ends)
{
	const int64_t v[] = {0, -1, 1, -9, -10, 123, -4567, INT64_MAX, INT64_MIN, INT64_MIN + 1};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char want[32], got[32];
		snprintf(want, sizeof want, "%" PRId64, v[i]);
		struct fmt f;
		fmt_init(&f, got, sizeof got);
		fmt_i64(&f, v[i]);
		ck_assert_str_eq(got, want);
	}
}
END_TEST

START_TEST(test_fmt_hex64_is_zero_padded_lower_case)
{
	for (size_t i = 0; i < FMT_SAMPLES; i++) {
		char want[32], got[32];
		snprintf(want, sizeof want, "%016" PRIx64, fmt_samples[i]);
		struct fmt f;
		fmt_init(&f, got, sizeof got);
		fmt_hex64(&f, fmt_samples[i]);
		ck_assert_str_eq(got, want);
	}
}
END_TEST

/* Every buffer size from 1 up: the text snprintf would leave, and cut set
 * exactly when snprintf would have needed more room. */
START_TEST(test_fmt_cuts_like_snprintf)
{
	for (size_t size = 1; size <= 24; size++) {
		char want[32], got[32];
		memset(got, 'x', sizeof got);
		/* want holds the whole text, cut by hand as snprintf would */
		int need = snprintf(want, sizeof want, "key:%" PRIu64 "#%016" PRIx64,
		                    (uint64_t)98765, (uint64_t)0xabcdef);
		want[size - 1 < (size_t)need ? size - 1 : (size_t)need] = '\0';
		struct fmt f;
		fmt_init(&f, got, size);
		fmt_str(&f, "key:");
		fmt_u64(&f, 98765);
		fmt_mem(&f, "#", 1);
		fmt_hex64(&f, 0xabcdef);
		ck_assert_str_eq(got, want);
		ck_assert_int_eq(f.cut, (size_t)need >= size);
		ck_assert_uint_lt(f.len, size);
		ck_assert_int_eq(got[size], 'x'); /* nothing past the buffer */
	}
}
END_TEST

START_TEST(test_fmt_mem_copies_embedded_bytes_whole)
{
	char got[8];
	struct fmt f;
	fmt_init(&f, got, sizeof got);
	fmt_mem(&f, "a\0b", 3);
	ck_assert_uint_eq(f.len, 3);
	ck_assert_int_eq(memcmp(got, "a\0b", 4), 0);
}
END_TEST

Suite *check_fmt_suite(void);
Suite *check_fmt_suite(void)
{
	Suite *s = suite_create("fmt");
	TCase *tc = tcase_create("fmt");
	tcase_add_test(tc, test_fmt_u64_matches_printf);
	tcase_add_test(tc, test_fmt_i64_matches_printf_at_both_ends);
	tcase_add_test(tc, test_fmt_hex64_is_zero_padded_lower_case);
	tcase_add_test(tc, test_fmt_cuts_like_snprintf);
	tcase_add_test(tc, test_fmt_mem_copies_embedded_bytes_whole);
	suite_add_tcase(s, tc);
	return s;
}
