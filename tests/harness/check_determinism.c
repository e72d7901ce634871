/* tests/check_determinism.c - the same scenario and seed give a byte-identical
 * trace when run twice in one process, for every standard scenario and every
 * variant; different seeds give different traces. (Two processes: see
 * tests/cli/run.sh.) */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/paths.h"
#include "harness/runner.h"
#include "harness/scenario_load.h"

static char *trace_of(const struct scenario *sc, enum variant v, uint64_t seed, size_t *len)
{
	struct variant_set vs;
	for (int f = 0; f < FIX_COUNT; f++)
		vs.v[f] = v;
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	ck_assert_ptr_nonnull(f);
	struct world_result res;
	ck_assert_int_eq(runner_replay(sc, &vs, seed, f, &res), RESULT_OK);
	ck_assert_int_eq(fclose(f), 0);
	*len = size;
	return buf;
}

START_TEST(test_standard_suite_traces_are_byte_identical_in_one_process)
{
	char *dir = "scenarios";
	struct path_list pl;
	char err[256];
	ck_assert_int_eq(paths_collect(1, &dir, &pl, err, sizeof err), RESULT_OK);
	ck_assert_uint_ge(pl.n, 10);
	for (size_t i = 0; i < pl.n; i++) {
		struct scenario *sc;
		struct scenario_error se;
		ck_assert_int_eq(scenario_load(pl.paths[i], &sc, &se), RESULT_OK);
		for (int v = 0; v < VARIANT_COUNT; v++) {
			size_t la, lb;
			char *a = trace_of(sc, (enum variant)v, (uint64_t)_i + 1, &la);
			char *b = trace_of(sc, (enum variant)v, (uint64_t)_i + 1, &lb);
			ck_assert_uint_gt(la, 0);
			ck_assert_msg(la == lb && memcmp(a, b, la) == 0, "%s %s seed %d differs",
			              pl.paths[i], variant_name((enum variant)v), _i + 1);
			free(a);
			free(b);
		}
		scenario_destroy(sc);
	}
	paths_fini(&pl);
}
END_TEST

START_TEST(test_different_seeds_give_different_traces)
{
	struct scenario *sc;
	struct scenario_error se;
	ck_assert_int_eq(scenario_load("scenarios/webhook-concurrent-copies.yaml", &sc, &se),
	                 RESULT_OK);
	size_t la, lb;
	char *a = trace_of(sc, VARIANT_LEGACY, 1, &la);
	char *b = trace_of(sc, VARIANT_LEGACY, 2, &lb);
	ck_assert(la != lb || memcmp(a, b, la) != 0);
	free(a);
	free(b);
	scenario_destroy(sc);
}
END_TEST

Suite *check_determinism_suite(void);
Suite *check_determinism_suite(void)
{
	Suite *s = suite_create("determinism");
	TCase *tc = tcase_create("traces");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_standard_suite_traces_are_byte_identical_in_one_process, 0, 2);
	tcase_add_test(tc, test_different_seeds_give_different_traces);
	suite_add_tcase(s, tc);
	return s;
}
