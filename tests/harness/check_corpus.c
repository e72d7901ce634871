/* tests/harness/check_corpus.c - corpus entries keep the scenario, variant
 * and seed of a violation, read back as the same run, are not written twice,
 * and a file that is not an entry is refused by name. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/corpus.h"
#include "harness/runner.h"
#include "harness/scenario_load.h"

static char *tmpdir(void)
{
	char *d = strdup("/tmp/faultline-corpus.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static void rmtree(const char *d)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
	ck_assert_int_eq(system(cmd), 0);
}

static void all(struct variant_set *vs, enum variant v)
{
	for (int f = 0; f < FIX_COUNT; f++)
		vs->v[f] = v;
}

START_TEST(test_an_entry_reads_back_as_the_violating_seed)
{
	char *d = tmpdir();
	char dir[600];
	snprintf(dir, sizeof dir, "%s/corpus", d);
	struct scenario *sc;
	struct scenario_error se;
	ck_assert_int_eq(scenario_load("scenarios/webhook-concurrent-copies.yaml", &sc, &se),
	                 RESULT_OK);
	struct variant_set vs;
	all(&vs, VARIANT_LEGACY);
	char err[512];
	uint32_t bits = 1u << INV_EXACTLY_ONCE;
	ck_assert_int_eq(corpus_add(dir, sc, &vs, 7, bits, err, sizeof err), RESULT_OK);
	/* The same seed again leaves the entry alone. */
	ck_assert_int_eq(corpus_add(dir, sc, &vs, 7, 0, err, sizeof err), RESULT_OK);
	struct corpus c;
	ck_assert_int_eq(corpus_load(dir, &c, err, sizeof err), RESULT_OK);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_str_eq(c.entries[0].scenario, "webhook-concurrent-copies");
	ck_assert_uint_eq(c.entries[0].seed, 7);
	ck_assert_uint_eq(c.entries[0].violated, bits);
	ck_assert_int_eq(c.entries[0].vs.v[FIX_WEBHOOK], VARIANT_LEGACY);
	ck_assert_uint_eq(scenario_seed_count(c.entries[0].sc), 1);
	ck_assert_uint_eq(scenario_seed_at(c.entries[0].sc, 0), 7);
	/* It runs exactly as seed 7 of the scenario did. */
	struct world_result a, b;
	FILE *null = fopen("/dev/null", "w");
	ck_assert_int_eq(runner_replay(sc, &vs, 7, null, &a), RESULT_OK);
	ck_assert_int_eq(runner_replay(c.entries[0].sc, &vs, 7, null, &b), RESULT_OK);
	fclose(null);
	ck_assert_uint_eq(a.violated, b.violated);
	ck_assert_uint_ne(a.violated & bits, 0);
	corpus_fini(&c);
	scenario_destroy(sc);
	rmtree(d);
	free(d);
}
END_TEST

START_TEST(test_a_missing_folder_is_an_empty_corpus)
{
	struct corpus c;
	char err[256];
	ck_assert_int_eq(corpus_load("/tmp/faultline-no-such-corpus-dir", &c, err, sizeof err),
	                 RESULT_OK);
	ck_assert_uint_eq(c.n, 0);
	corpus_fini(&c);
}
END_TEST

START_TEST(test_a_file_that_is_no_entry_is_refused_by_name)
{
	char *d = tmpdir();
	char path[600];
	snprintf(path, sizeof path, "%s/stray.yaml", d);
	FILE *f = fopen(path, "w");
	fputs("fixes: [webhook]\n", f);
	fclose(f);
	struct corpus c;
	char err[768];
	ck_assert_int_eq(corpus_load(d, &c, err, sizeof err), RESULT_REJECT);
	ck_assert_ptr_nonnull(strstr(err, "stray.yaml"));
	ck_assert_ptr_nonnull(strstr(err, "not a corpus entry"));
	rmtree(d);
	free(d);
}
END_TEST

Suite *check_corpus_suite(void);
Suite *check_corpus_suite(void)
{
	Suite *s = suite_create("corpus");
	TCase *tc = tcase_create("entries");
	tcase_add_test(tc, test_an_entry_reads_back_as_the_violating_seed);
	tcase_add_test(tc, test_a_missing_folder_is_an_empty_corpus);
	tcase_add_test(tc, test_a_file_that_is_no_entry_is_refused_by_name);
	suite_add_tcase(s, tc);
	return s;
}
