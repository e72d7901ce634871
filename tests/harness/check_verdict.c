/* tests/harness/check_verdict.c - the one verdict: which rows make a run or a
 * matrix fail, the reasons each one gives and their words, the subset rule
 * (a matrix judges only the fixes its scenarios name), and the headline. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "harness/verdict.h"

static struct verdict_row row(const char *scenario, enum fix_id f, int variant,
                              uint32_t violated, bool exercised)
{
	struct verdict_row r = {.fixes = 1u << f, .uniform = variant,
	                        .checked = (1u << INV_EXACTLY_ONCE) | (1u << INV_NO_LOCKOUT) |
	                                   (1u << INV_NO_HUNG),
	                        .violated = violated, .exercised = exercised};
	snprintf(r.scenario, sizeof r.scenario, "%s", scenario);
	snprintf(r.variant, sizeof r.variant, "%s", variant_name((enum variant)variant));
	return r;
}

START_TEST(test_run_fails_for_each_violation_and_idle_result)
{
	struct verdict_row rows[] = {
		row("a", FIX_WEBHOOK, VARIANT_SEED, 1u << INV_EXACTLY_ONCE, true),
		row("b", FIX_WEBHOOK, VARIANT_SEED, 0, false),
		row("c", FIX_WEBHOOK, VARIANT_SEED, 0, true),
	};
	struct verdict v;
	ck_assert_int_eq(verdict_decide(rows, 3, false, 0, &v), RESULT_OK);
	ck_assert(!v.pass);
	ck_assert_uint_eq(v.nreasons, 2);
	ck_assert_str_eq(v.reasons[0].text, "seed violated exactly-once in a");
	ck_assert_int_eq(v.reasons[0].kind, VERDICT_VIOLATED);
	ck_assert_uint_eq(v.reasons[0].row, 0);
	ck_assert_str_eq(v.reasons[1].text, "seed not exercised in b");
	ck_assert_int_eq(v.reasons[1].kind, VERDICT_NOT_EXERCISED);
	ck_assert_str_eq(v.headline, "seed violated exactly-once in a (and 1 more)");
	verdict_fini(&v);
}
END_TEST

START_TEST(test_run_passes_and_counts_checks)
{
	struct verdict_row rows[] = {row("a", FIX_WEBHOOK, VARIANT_HARDENED, 0, true)};
	struct verdict v;
	ck_assert_int_eq(verdict_decide(rows, 1, false, 0, &v), RESULT_OK);
	ck_assert(v.pass);
	ck_assert_uint_eq(v.nreasons, 0);
	ck_assert_str_eq(v.headline, "every invariant held in every scenario (3 checks)");
	verdict_fini(&v);
}
END_TEST

START_TEST(test_matrix_expects_legacy_and_seed_violations)
{
	struct verdict_row rows[] = {
		row("a", FIX_WEBHOOK, VARIANT_LEGACY, 1u << INV_EXACTLY_ONCE, true),
		row("a", FIX_WEBHOOK, VARIANT_SEED, 1u << INV_EXACTLY_ONCE, false),
		row("a", FIX_WEBHOOK, VARIANT_HARDENED, 0, true),
	};
	struct verdict v;
	ck_assert_int_eq(verdict_decide(rows, 3, true, 0, &v), RESULT_OK);
	ck_assert(v.pass);
	ck_assert_str_eq(v.headline, "hardened held all 3 invariant checks; every legacy bug "
	                             "was caught (fixes judged: webhook; the others have no "
	                             "scenario here)");
	verdict_fini(&v);
}
END_TEST

START_TEST(test_matrix_fails_on_hardened_and_uncaught_legacy)
{
	struct verdict_row rows[] = {
		/* no-lockout is not webhook's: it does not catch webhook's bug */
		row("a", FIX_WEBHOOK, VARIANT_LEGACY, 1u << INV_NO_LOCKOUT, true),
		row("a", FIX_WEBHOOK, VARIANT_HARDENED, 1u << INV_EXACTLY_ONCE, false),
	};
	rows[1].determinism_mismatches = 1;
	struct verdict v;
	ck_assert_int_eq(verdict_decide(rows, 2, true, 0, &v), RESULT_OK);
	ck_assert(!v.pass);
	ck_assert_uint_eq(v.nreasons, 4);
	ck_assert_str_eq(v.reasons[0].text, "hardened violated exactly-once in a");
	ck_assert_str_eq(v.reasons[1].text, "hardened not exercised in a");
	ck_assert_str_eq(v.reasons[2].text, "determinism self-check failed in a under hardened");
	ck_assert_str_eq(v.reasons[3].text, "legacy webhook never caught");
	ck_assert_int_eq(v.reasons[3].fix, FIX_WEBHOOK);
	ck_assert_uint_eq(v.reasons[3].row, SIZE_MAX);
	verdict_fini(&v);
}
END_TEST

START_TEST(test_unplaced_mismatches_are_one_reason)
{
	struct verdict_row rows[] = {row("a", FIX_WEBHOOK, VARIANT_HARDENED, 0, true)};
	struct verdict v;
	ck_assert_int_eq(verdict_decide(rows, 1, false, 2, &v), RESULT_OK);
	ck_assert(!v.pass);
	ck_assert_uint_eq(v.nreasons, 1);
	ck_assert_str_eq(v.reasons[0].text, "determinism self-check failed (2 mismatches)");
	verdict_fini(&v);
}
END_TEST

Suite *check_verdict_suite(void);
Suite *check_verdict_suite(void)
{
	Suite *s = suite_create("verdict");
	TCase *tc = tcase_create("verdict");
	tcase_add_test(tc, test_run_fails_for_each_violation_and_idle_result);
	tcase_add_test(tc, test_run_passes_and_counts_checks);
	tcase_add_test(tc, test_matrix_expects_legacy_and_seed_violations);
	tcase_add_test(tc, test_matrix_fails_on_hardened_and_uncaught_legacy);
	tcase_add_test(tc, test_unplaced_mismatches_are_one_reason);
	suite_add_tcase(s, tc);
	return s;
}
