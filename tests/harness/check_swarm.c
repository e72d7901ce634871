/* tests/harness/check_swarm.c - a swarm draw is a pure function of the seed,
 * stays within what the scenario allows (its rules, its ranges, the
 * catalogue's targets), differs between seeds, announces itself in the
 * trace, and its plain file reproduces the seed's violations. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/runner.h"
#include "harness/scenario_load.h"
#include "harness/scenario_write.h"
#include "harness/swarm.h"

static struct scenario *load_text(const char *yaml)
{
	struct scenario *sc;
	struct scenario_error se;
	enum result rc = scenario_load_buffer("t.yaml", yaml, strlen(yaml), &sc, &se);
	if (rc != RESULT_OK) {
		char msg[768];
		scenario_error_format(&se, msg, sizeof msg);
		ck_abort_msg("%s", msg);
	}
	return sc;
}

static struct scenario *load_file(const char *path)
{
	struct scenario *sc;
	struct scenario_error se;
	ck_assert_int_eq(scenario_load(path, &sc, &se), RESULT_OK);
	return sc;
}

static char *draw_text(const struct scenario *sc, uint64_t seed)
{
	char note[SWARM_NOTE_MAX];
	struct scenario *d = swarm_draw(sc, seed, note, sizeof note);
	ck_assert_ptr_nonnull(d);
	char *text;
	size_t len;
	ck_assert_int_eq(scenario_write_text(d, note, &text, &len), RESULT_OK);
	scenario_destroy(d);
	return text;
}

static const char ranged[] =
	"name: ranged\n"
	"fixes: [webhook]\n"
	"workload:\n"
	"  webhook: {events: 2..16, copies: 1..8, spread: 1s}\n"
	"faults:\n"
	"  - {target: postgres, op: commit, kind: conn-lost, probability: 0.2}\n"
	"  - {target: webhook, op: deliver, kind: timeout-applied, nth: 1}\n"
	"  - {target: postgres, kind: restart, from: 1s, duration: 1s}\n";

START_TEST(test_ranges_load_as_their_upper_end_and_are_recorded)
{
	struct scenario *sc = load_text(ranged);
	ck_assert_uint_eq(sc->webhook.events, 16);
	ck_assert_uint_eq(sc->webhook.copies, 8);
	ck_assert_uint_eq(sc->nranges, 2);
	ck_assert_str_eq(sc->ranges[0].key, "workload.webhook.events");
	ck_assert_uint_eq(sc->ranges[0].lo, 2);
	ck_assert_uint_eq(sc->ranges[0].hi, 16);
	ck_assert(!sc->swarm);
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_bad_ranges_are_refused_with_their_location)
{
	static const char *const bad[] = {
		"fixes: [webhook]\nworkload:\n  webhook: {events: 9..2}\n",
		"fixes: [webhook]\nworkload:\n  webhook: {events: 0..4}\n",
		"fixes: [webhook]\nworkload:\n  webhook: {events: 2..}\n",
		"fixes: [webhook]\nworkload:\n  webhook: {events: a..4}\n",
		"fixes: [webhook]\nseeds: 1..4\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct scenario *sc;
		struct scenario_error se;
		ck_assert_int_eq(scenario_load_buffer("b.yaml", bad[i], strlen(bad[i]), &sc, &se),
		                 RESULT_REJECT);
		ck_assert_int_gt(se.line, 0);
	}
	struct scenario *sc;
	struct scenario_error se;
	const char *y = "fixes: [webhook]\nworkload:\n  webhook: {events: 9..2}\n";
	ck_assert_int_eq(scenario_load_buffer("b.yaml", y, strlen(y), &sc, &se), RESULT_REJECT);
	ck_assert_int_eq(se.line, 3);
	ck_assert_ptr_nonnull(strstr(se.message, "workload.webhook.events"));
}
END_TEST

START_TEST(test_a_draw_is_a_pure_function_of_the_seed)
{
	struct scenario *sc = load_text(ranged);
	for (uint64_t seed = 1; seed <= 32; seed++) {
		char *a = draw_text(sc, seed), *b = draw_text(sc, seed);
		ck_assert_str_eq(a, b);
		free(a);
		free(b);
	}
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_draws_stay_within_the_scenario_and_vary)
{
	struct scenario *sc = load_text(ranged);
	bool seen_events[17] = {false}, seen_rules[3] = {false};
	unsigned distinct_sizes = 0, last_size = 99;
	for (uint64_t seed = 1; seed <= 400; seed++) {
		char note[SWARM_NOTE_MAX];
		struct scenario *d = swarm_draw(sc, seed, note, sizeof note);
		ck_assert_ptr_nonnull(d);
		ck_assert(!d->swarm);
		ck_assert_uint_eq(d->nranges, 0);
		ck_assert_uint_eq(scenario_seed_count(d), 1);
		ck_assert_uint_eq(scenario_seed_at(d, 0), seed);
		ck_assert_uint_ge(d->webhook.events, 2);
		ck_assert_uint_le(d->webhook.events, 16);
		ck_assert_uint_ge(d->webhook.copies, 1);
		ck_assert_uint_le(d->webhook.copies, 8);
		seen_events[d->webhook.events] = true;
		ck_assert_uint_ge(d->faults.nrules, 1);
		ck_assert_uint_le(d->faults.nrules, 3);
		for (size_t i = 0; i < d->faults.nrules; i++) {
			const struct fault_rule *r = &d->faults.rules[i];
			ck_assert(r->probability > 0 && r->probability <= 1);
			ck_assert_uint_lt(r->from_us, r->until_us);
			for (size_t k = 0; k < sc->faults.nrules; k++) {
				if (sc->faults.rules[k].kind == r->kind)
					seen_rules[k] = true;
			}
		}
		if (d->faults.nrules != last_size)
			distinct_sizes++;
		last_size = (unsigned)d->faults.nrules;
		ck_assert_ptr_nonnull(strstr(note, "workload.webhook.events="));
		scenario_destroy(d);
	}
	for (unsigned e = 2; e <= 16; e++)
		ck_assert_msg(seen_events[e], "events=%u never drawn in 400 seeds", e);
	for (unsigned k = 0; k < 3; k++)
		ck_assert_msg(seen_rules[k], "rule %u never kept in 400 seeds", k);
	ck_assert_uint_gt(distinct_sizes, 10);
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_mixed_scenarios_draw_from_the_catalogue_for_their_servers)
{
	struct scenario *sc = load_text("name: mixed-only-redis\nfixes: [ratelimit]\n");
	bool other_rules = false;
	for (uint64_t seed = 1; seed <= 100; seed++) {
		char note[SWARM_NOTE_MAX];
		struct scenario *d = swarm_draw(sc, seed, note, sizeof note);
		ck_assert_uint_ge(d->faults.nrules, 1);
		for (size_t i = 0; i < d->faults.nrules; i++) {
			ck_assert_int_eq(d->faults.rules[i].target, FAULT_TARGET_REDIS);
			if (d->faults.rules[i].kind != FAULT_ERROR)
				other_rules = true;
		}
		ck_assert_ptr_nonnull(strstr(note, "catalogue"));
		scenario_destroy(d);
	}
	ck_assert(other_rules);
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_the_trace_opens_with_the_draw)
{
	struct scenario *sc = load_text(ranged);
	sc->swarm = true;
	struct variant_set vs;
	for (int f = 0; f < FIX_COUNT; f++)
		vs.v[f] = VARIANT_HARDENED;
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	struct world_result res;
	ck_assert_int_eq(runner_replay(sc, &vs, 7, f, &res), RESULT_OK);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "\"ev\":\"swarm\""));
	ck_assert(strncmp(buf, "{\"t\":0,\"ev\":\"swarm\"", 19) == 0);
	char note[SWARM_NOTE_MAX];
	struct scenario *d = swarm_draw(sc, 7, note, sizeof note);
	char *line_end = strchr(buf, '\n');
	ck_assert_ptr_nonnull(line_end);
	*line_end = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "workload.webhook.events="));
	scenario_destroy(d);
	free(buf);
	scenario_destroy(sc);
}
END_TEST

/* The plain file of a draw, read back and run with the same seed, breaks
 * exactly the invariants the swarm seed broke. */
START_TEST(test_a_drawn_file_reproduces_the_seed)
{
	static const char *const files[] = {
		"scenarios/webhook-concurrent-copies.yaml",
		"scenarios/ratelimit-expire-fails-once.yaml",
		"scenarios/customer-insert-fails.yaml",
	};
	unsigned violating = 0;
	for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
		struct scenario *sc = load_file(files[k]);
		sc->swarm = true;
		struct variant_set vs;
		for (int f = 0; f < FIX_COUNT; f++)
			vs.v[f] = VARIANT_LEGACY;
		for (uint64_t seed = 1; seed <= 6; seed++) {
			struct world_result a, b;
			FILE *null = fopen("/dev/null", "w");
			ck_assert_int_eq(runner_replay(sc, &vs, seed, null, &a), RESULT_OK);
			char *text = draw_text(sc, seed);
			struct scenario *back;
			struct scenario_error se;
			ck_assert_int_eq(scenario_load_buffer("drawn.yaml", text, strlen(text), &back,
			                                      &se), RESULT_OK);
			ck_assert(!back->swarm);
			ck_assert_int_eq(runner_replay(back, &vs, seed, null, &b), RESULT_OK);
			fclose(null);
			ck_assert_uint_eq(a.violated, b.violated);
			ck_assert_uint_eq(a.checked, b.checked);
			violating += a.violated != 0;
			scenario_destroy(back);
			free(text);
		}
		scenario_destroy(sc);
	}
	ck_assert_uint_gt(violating, 0);
}
END_TEST

Suite *check_swarm_suite(void);
Suite *check_swarm_suite(void)
{
	Suite *s = suite_create("swarm");
	TCase *tc = tcase_create("draws");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ranges_load_as_their_upper_end_and_are_recorded);
	tcase_add_test(tc, test_bad_ranges_are_refused_with_their_location);
	tcase_add_test(tc, test_a_draw_is_a_pure_function_of_the_seed);
	tcase_add_test(tc, test_draws_stay_within_the_scenario_and_vary);
	tcase_add_test(tc, test_mixed_scenarios_draw_from_the_catalogue_for_their_servers);
	tcase_add_test(tc, test_the_trace_opens_with_the_draw);
	tcase_add_test(tc, test_a_drawn_file_reproduces_the_seed);
	suite_add_tcase(s, tc);
	return s;
}
