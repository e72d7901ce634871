/* tests/harness/check_shard.c - shard I/N: parsing, the assignment (every
 * seed in exactly one shard, balanced within a seed per scenario), --shard
 * auto with each engine's variables, and the runner's sharded, ranged and
 * budgeted seed plans. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/runner.h"
#include "harness/scenario_load.h"
#include "harness/shard.h"

/* A fake environment: name=value pairs, NULL-terminated. */
static const char *const *fake_env;

static char *fake_getenv(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; fake_env[i] != NULL; i++) {
		if (strncmp(fake_env[i], name, n) == 0 && fake_env[i][n] == '=')
			return (char *)(fake_env[i] + n + 1);
	}
	return NULL;
}

static enum result from_env(const char *const *env, unsigned count_opt, struct shard *sh,
                            char *source, char *err)
{
	fake_env = env;
	err[0] = '\0';
	source[0] = '\0';
	return shard_from_env(fake_getenv, count_opt, sh, source, SHARD_SOURCE_MAX, err, 512);
}

START_TEST(test_shard_parse_accepts_i_of_n_and_refuses_the_rest)
{
	struct shard sh;
	char err[256];
	ck_assert(shard_parse("3/8", &sh, err, sizeof err));
	ck_assert_uint_eq(sh.index, 3);
	ck_assert_uint_eq(sh.count, 8);
	ck_assert(shard_parse("1/1", &sh, err, sizeof err));
	const char *bad[] = {"0/8", "9/8", "8", "/8", "3/", "3/0", "-1/8", "3/8x", " 3/8",
	                     "3/100001", "a/b", "99999999999999999999/3", ""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(!shard_parse(bad[i], &sh, err, sizeof err), "accepted '%s'", bad[i]);
		ck_assert_ptr_nonnull(strstr(err, "I/N"));
	}
}
END_TEST

START_TEST(test_every_seed_is_in_exactly_one_shard_and_shards_balance)
{
	const char *names[] = {"webhook-quick-duplicate", "ratelimit-redis-flapping", "a"};
	for (unsigned n = 1; n <= 17; n++) {
		unsigned load[18] = {0};
		for (size_t k = 0; k < 3; k++) {
			unsigned per[18] = {0};
			for (uint64_t seed = 5; seed < 5 + 100; seed++) {
				unsigned owners = 0;
				for (unsigned i = 1; i <= n; i++) {
					struct shard sh = {.index = i, .count = n};
					owners += shard_holds(&sh, names[k], seed);
				}
				ck_assert_uint_eq(owners, 1);
				per[shard_of(names[k], seed, n)]++;
			}
			/* within one seed of 100/n for each scenario */
			for (unsigned i = 1; i <= n; i++) {
				ck_assert_uint_ge(per[i], 100 / n);
				ck_assert_uint_le(per[i], (100 + n - 1) / n);
				load[i] += per[i];
			}
		}
		for (unsigned i = 1; i <= n; i++)
			ck_assert_uint_le(load[i], 3 * ((100 + n - 1) / n));
	}
	struct shard none = {.index = 0, .count = 0};
	ck_assert(shard_holds(&none, "a", 12345));
}
END_TEST

START_TEST(test_shard_auto_reads_each_engine)
{
	struct shard sh;
	char src[SHARD_SOURCE_MAX], err[512];
	const char *k8s[] = {"JOB_COMPLETION_INDEX=0", "FAULTLINE_SHARD_COUNT=4", NULL};
	ck_assert_int_eq(from_env(k8s, 0, &sh, src, err), RESULT_OK);
	ck_assert_uint_eq(sh.index, 1);
	ck_assert_uint_eq(sh.count, 4);
	ck_assert_ptr_nonnull(strstr(src, "Kubernetes"));
	const char *k8s_opt[] = {"JOB_COMPLETION_INDEX=4", NULL};
	ck_assert_int_eq(from_env(k8s_opt, 5, &sh, src, err), RESULT_OK);
	ck_assert_uint_eq(sh.index, 5);
	ck_assert_uint_eq(sh.count, 5);
	ck_assert_ptr_nonnull(strstr(src, "--shard-count 5"));
	const char *gitlab[] = {"CI_NODE_INDEX=3", "CI_NODE_TOTAL=3", NULL};
	ck_assert_int_eq(from_env(gitlab, 0, &sh, src, err), RESULT_OK);
	ck_assert_uint_eq(sh.index, 3);
	ck_assert_uint_eq(sh.count, 3);
	ck_assert_ptr_nonnull(strstr(src, "GitLab"));
	const char *bk[] = {"BUILDKITE_PARALLEL_JOB=7", "BUILDKITE_PARALLEL_JOB_COUNT=8", NULL};
	ck_assert_int_eq(from_env(bk, 0, &sh, src, err), RESULT_OK);
	ck_assert_uint_eq(sh.index, 8);
	ck_assert_uint_eq(sh.count, 8);
	ck_assert_ptr_nonnull(strstr(src, "Buildkite"));
	const char *slurm[] = {"SLURM_ARRAY_TASK_ID=12", "SLURM_ARRAY_TASK_COUNT=8",
	                       "SLURM_ARRAY_TASK_MIN=10", NULL};
	ck_assert_int_eq(from_env(slurm, 0, &sh, src, err), RESULT_OK);
	ck_assert_uint_eq(sh.index, 3);
	ck_assert_uint_eq(sh.count, 8);
	ck_assert_ptr_nonnull(strstr(src, "Slurm"));
	const char *own[] = {"FAULTLINE_SHARD=2/5", "CI_NODE_INDEX=1", "CI_NODE_TOTAL=9", NULL};
	ck_assert_int_eq(from_env(own, 0, &sh, src, err), RESULT_OK);
	ck_assert_uint_eq(sh.index, 2);
	ck_assert_uint_eq(sh.count, 5);
	ck_assert_str_eq(src, "FAULTLINE_SHARD=2/5");
}
END_TEST

START_TEST(test_shard_auto_refuses_missing_and_bad_variables)
{
	struct shard sh = {.index = 77, .count = 77};
	char src[SHARD_SOURCE_MAX], err[512];
	const char *none[] = {"HOME=/root", "CI_NODE_TOTAL=3", NULL};
	ck_assert_int_eq(from_env(none, 0, &sh, src, err), RESULT_REJECT);
	ck_assert_ptr_nonnull(strstr(err, "no shard variables found"));
	ck_assert_uint_eq(sh.count, 77);       /* untouched: never a silent full run */
	const char *k8s_nocount[] = {"JOB_COMPLETION_INDEX=0", NULL};
	ck_assert_int_eq(from_env(k8s_nocount, 0, &sh, src, err), RESULT_REJECT);
	ck_assert_ptr_nonnull(strstr(err, "FAULTLINE_SHARD_COUNT"));
	const char *k8s_out[] = {"JOB_COMPLETION_INDEX=4", "FAULTLINE_SHARD_COUNT=4", NULL};
	ck_assert_int_eq(from_env(k8s_out, 0, &sh, src, err), RESULT_REJECT);
	ck_assert_ptr_nonnull(strstr(err, "JOB_COMPLETION_INDEX=4"));
	const char *gitlab0[] = {"CI_NODE_INDEX=0", "CI_NODE_TOTAL=3", NULL};
	ck_assert_int_eq(from_env(gitlab0, 0, &sh, src, err), RESULT_REJECT);
	ck_assert_ptr_nonnull(strstr(err, "CI_NODE_INDEX=0"));
	const char *bk_text[] = {"BUILDKITE_PARALLEL_JOB=1", "BUILDKITE_PARALLEL_JOB_COUNT=x",
	                         NULL};
	ck_assert_int_eq(from_env(bk_text, 0, &sh, src, err), RESULT_REJECT);
	ck_assert_ptr_nonnull(strstr(err, "BUILDKITE_PARALLEL_JOB_COUNT=x"));
	const char *slurm_low[] = {"SLURM_ARRAY_TASK_ID=0", "SLURM_ARRAY_TASK_COUNT=8",
	                           "SLURM_ARRAY_TASK_MIN=1", NULL};
	ck_assert_int_eq(from_env(slurm_low, 0, &sh, src, err), RESULT_REJECT);
	const char *own_bad[] = {"FAULTLINE_SHARD=9/8", NULL};
	ck_assert_int_eq(from_env(own_bad, 0, &sh, src, err), RESULT_REJECT);
	ck_assert_ptr_nonnull(strstr(err, "FAULTLINE_SHARD"));
}
END_TEST

static struct scenario *load_standard(const char *name)
{
	char path[256];
	snprintf(path, sizeof path, "scenarios/%s.yaml", name);
	struct scenario *sc;
	struct scenario_error se;
	ck_assert_int_eq(scenario_load(path, &sc, &se), RESULT_OK);
	return sc;
}

static void run_plan(const struct scenario *sc, const struct runner_options *opt,
                     struct runner_result *r)
{
	struct variant_set vs;
	for (int f = 0; f < FIX_COUNT; f++)
		vs.v[f] = VARIANT_LEGACY;
	char err[256];
	ck_assert_int_eq(runner_run(sc, &vs, opt, r, err, sizeof err), RESULT_OK);
}

/* The shards' seeds add up to the whole range, with the same violations. */
START_TEST(test_runner_shards_partition_a_seed_first_range)
{
	struct scenario *sc = load_standard("webhook-quick-duplicate");
	struct runner_options opt = {.jobs = (unsigned)_i + 1, .seeds_set = true, .seeds = 23,
	                             .seed_first_set = true, .seed_first = 1000};
	struct runner_result whole;
	run_plan(sc, &opt, &whole);
	ck_assert_uint_eq(whole.seeds_run, 23);
	ck_assert_uint_eq(whole.seeds_planned, 23);
	ck_assert_uint_eq(whole.seed_min, 1000);
	ck_assert_uint_eq(whole.seed_max, 1022);
	uint64_t seeds = 0, violations = 0, events = 0;
	for (unsigned i = 1; i <= 5; i++) {
		opt.shard = (struct shard){.index = i, .count = 5};
		struct runner_result part;
		run_plan(sc, &opt, &part);
		ck_assert_uint_eq(part.seeds_run, part.seeds_planned);
		ck_assert_uint_ge(part.seeds_run, 4);
		ck_assert_uint_le(part.seeds_run, 5);
		seeds += part.seeds_run;
		events += part.events;
		for (int k = 0; k < INV_COUNT; k++)
			violations += part.inv[k].violations;
		runner_result_fini(&part);
	}
	uint64_t whole_violations = 0;
	for (int k = 0; k < INV_COUNT; k++)
		whole_violations += whole.inv[k].violations;
	ck_assert_uint_eq(seeds, 23);
	ck_assert_uint_eq(events, whole.events);
	ck_assert_uint_eq(violations, whole_violations);
	runner_result_fini(&whole);
	scenario_destroy(sc);
}
END_TEST

/* A deadline already past runs nothing and says where it stopped; one in
 * the future runs a prefix of the plan. */
START_TEST(test_runner_deadline_stops_at_a_prefix_of_the_plan)
{
	struct scenario *sc = load_standard("webhook-quick-duplicate");
	struct runner_options opt = {.jobs = (unsigned)_i + 1, .seeds_set = true, .seeds = 40,
	                             .seed_first_set = true, .seed_first = 7,
	                             .shard = {.index = 2, .count = 3},
	                             .deadline_s = runner_clock_s() - 1};
	struct runner_result r;
	run_plan(sc, &opt, &r);
	ck_assert_uint_eq(r.seeds_run, 0);
	uint64_t planned = r.seeds_planned;
	ck_assert(planned == 13 || planned == 14);   /* 40 seeds over 3 shards */
	ck_assert_uint_eq(shard_of(sc->name, r.seed_next, 3), 2);
	ck_assert_uint_ge(r.seed_next, 7);
	ck_assert_uint_le(r.seed_next, 9);
	runner_result_fini(&r);
	opt.deadline_s = runner_clock_s() + 60;
	run_plan(sc, &opt, &r);
	ck_assert_uint_eq(r.seeds_run, planned);
	ck_assert_uint_eq(r.seeds_planned, planned);
	runner_result_fini(&r);
	scenario_destroy(sc);
}
END_TEST

Suite *check_shard_suite(void);
Suite *check_shard_suite(void)
{
	Suite *s = suite_create("shard");
	TCase *tc = tcase_create("shard");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_shard_parse_accepts_i_of_n_and_refuses_the_rest);
	tcase_add_test(tc, test_every_seed_is_in_exactly_one_shard_and_shards_balance);
	tcase_add_test(tc, test_shard_auto_reads_each_engine);
	tcase_add_test(tc, test_shard_auto_refuses_missing_and_bad_variables);
	tcase_add_loop_test(tc, test_runner_shards_partition_a_seed_first_range, 0, 2);
	tcase_add_loop_test(tc, test_runner_deadline_stops_at_a_prefix_of_the_plan, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
