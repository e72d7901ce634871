/* tests/check_prng.c - the PRNG against published vectors, its bounds and
 * its independence of streams. */
#include <check.h>

#include "sim/prng.h"

/* splitmix64 from state 0: the reference sequence. */
START_TEST(test_splitmix64_matches_reference_vectors)
{
	uint64_t st = 0;
	ck_assert_uint_eq(prng_splitmix64(&st), 0xe220a8397b1dcdafULL);
	ck_assert_uint_eq(prng_splitmix64(&st), 0x6e789e6aa1b965f4ULL);
	ck_assert_uint_eq(prng_splitmix64(&st), 0x06c45d188009454fULL);
	ck_assert_uint_eq(prng_splitmix64(&st), 0xf88bb8a8724c81ecULL);
}
END_TEST

/* xoshiro256** from the state {1, 2, 3, 4}: the vector other
 * implementations test against. */
START_TEST(test_xoshiro256ss_matches_reference_vectors)
{
	struct prng p = {.s = {1, 2, 3, 4}};
	ck_assert_uint_eq(prng_next(&p), 11520ULL);
	ck_assert_uint_eq(prng_next(&p), 0ULL);
	ck_assert_uint_eq(prng_next(&p), 1509978240ULL);
	ck_assert_uint_eq(prng_next(&p), 1215971899390074240ULL);
	ck_assert_uint_eq(prng_next(&p), 0x10e0b61ce1009d80ULL);
}
END_TEST

/* Seeding goes through splitmix64: seed 42 gives these first outputs. */
START_TEST(test_prng_init_is_reproducible)
{
	struct prng p;
	prng_init(&p, 42);
	ck_assert_uint_eq(prng_next(&p), 1546998764402558742ULL);
	ck_assert_uint_eq(prng_next(&p), 6990951692964543102ULL);
	ck_assert_uint_eq(prng_next(&p), 12544586762248559009ULL);
}
END_TEST

START_TEST(test_prng_below_stays_in_bound)
{
	struct prng p;
	prng_init(&p, (uint64_t)_i);
	uint64_t bounds[] = {1, 2, 3, 7, 1000, 1ULL << 63, UINT64_MAX};
	for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
		for (int k = 0; k < 1000; k++)
			ck_assert_uint_lt(prng_below(&p, bounds[b]), bounds[b]);
	}
}
END_TEST

START_TEST(test_prng_below_covers_every_value)
{
	struct prng p;
	prng_init(&p, 7);
	int seen[6] = {0};
	for (int k = 0; k < 6000; k++)
		seen[prng_below(&p, 6)]++;
	for (int v = 0; v < 6; v++) {
		ck_assert_int_gt(seen[v], 850);
		ck_assert_int_lt(seen[v], 1150);
	}
}
END_TEST

START_TEST(test_prng_chance_zero_never_one_always)
{
	struct prng p;
	prng_init(&p, 1);
	for (int k = 0; k < 10000; k++) {
		ck_assert(!prng_chance(&p, 0.0));
		ck_assert(prng_chance(&p, 1.0));
	}
}
END_TEST

START_TEST(test_prng_unit_in_half_open_interval)
{
	struct prng p;
	prng_init(&p, 3);
	for (int k = 0; k < 100000; k++) {
		double u = prng_unit(&p);
		ck_assert(u >= 0.0);
		ck_assert(u < 1.0);
	}
}
END_TEST

START_TEST(test_prng_fork_streams_differ_and_do_not_advance_parent)
{
	struct prng p, a, b, p2;
	prng_init(&p, 99);
	p2 = p;
	prng_fork(&p, 1, &a);
	prng_fork(&p, 2, &b);
	ck_assert_uint_ne(prng_next(&a), prng_next(&b));
	ck_assert_uint_eq(prng_next(&p), prng_next(&p2));
	struct prng a2;
	struct prng q;
	prng_init(&q, 99);
	prng_fork(&q, 1, &a2);
	prng_fork(&p2, 1, &a); /* p2 advanced once: a different stream */
	(void)a;
	struct prng a3;
	prng_init(&q, 99);
	prng_fork(&q, 1, &a3);
	ck_assert_uint_eq(prng_next(&a2), prng_next(&a3));
}
END_TEST

Suite *check_prng_suite(void);
Suite *check_prng_suite(void)
{
	Suite *s = suite_create("prng");
	TCase *tc = tcase_create("vectors");
	tcase_add_test(tc, test_splitmix64_matches_reference_vectors);
	tcase_add_test(tc, test_xoshiro256ss_matches_reference_vectors);
	tcase_add_test(tc, test_prng_init_is_reproducible);
	suite_add_tcase(s, tc);
	tc = tcase_create("bounds");
	tcase_add_loop_test(tc, test_prng_below_stays_in_bound, 0, 20);
	tcase_add_test(tc, test_prng_below_covers_every_value);
	tcase_add_test(tc, test_prng_chance_zero_never_one_always);
	tcase_add_test(tc, test_prng_unit_in_half_open_interval);
	tcase_add_test(tc, test_prng_fork_streams_differ_and_do_not_advance_parent);
	suite_add_tcase(s, tc);
	return s;
}
