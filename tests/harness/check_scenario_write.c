/* tests/harness/check_scenario_write.c - a written scenario reads back as the
 * same scenario: writing it again gives the same text, and every seed's
 * trace is byte-identical to the original file's, for the standard suite and
 * the good test files; text with every kind of byte survives. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/paths.h"
#include "harness/runner.h"
#include "harness/scenario_load.h"
#include "harness/scenario_write.h"

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

static struct scenario *reload(const struct scenario *sc, char **text, size_t *len)
{
	ck_assert_int_eq(scenario_write_text(sc, "written by a test\n\nof two lines", text, len),
	                 RESULT_OK);
	struct scenario *back;
	struct scenario_error se;
	enum result rc = scenario_load_buffer(sc->path, *text, *len, &back, &se);
	if (rc != RESULT_OK) {
		char msg[768];
		scenario_error_format(&se, msg, sizeof msg);
		ck_abort_msg("%s does not read back: %s\n%s", sc->path, msg, *text);
	}
	return back;
}

static void check_round_trip(const char *dir)
{
	struct path_list pl;
	char err[256];
	char *dirs[] = {(char *)dir};
	ck_assert_int_eq(paths_collect(1, dirs, &pl, err, sizeof err), RESULT_OK);
	ck_assert_uint_ge(pl.n, 1);
	for (size_t i = 0; i < pl.n; i++) {
		struct scenario *sc;
		struct scenario_error se;
		ck_assert_int_eq(scenario_load(pl.paths[i], &sc, &se), RESULT_OK);
		char *t1, *t2;
		size_t n1, n2;
		struct scenario *back = reload(sc, &t1, &n1);
		struct scenario *again = reload(back, &t2, &n2);
		ck_assert_msg(n1 == n2 && memcmp(t1, t2, n1) == 0,
		              "%s: writing the read-back scenario changed it", pl.paths[i]);
		ck_assert_str_eq(back->name, sc->name);
		ck_assert_uint_eq(scenario_seed_count(back), scenario_seed_count(sc));
		for (enum variant v = 0; v < VARIANT_COUNT; v++) {
			uint64_t seed = scenario_seed_at(sc, 0);
			size_t la, lb;
			char *a = trace_of(sc, v, seed, &la);
			char *b = trace_of(back, v, seed, &lb);
			ck_assert_msg(la == lb && memcmp(a, b, la) == 0,
			              "%s %s seed %llu: the written file runs differently",
			              pl.paths[i], variant_name(v), (unsigned long long)seed);
			free(a);
			free(b);
		}
		free(t1);
		free(t2);
		scenario_destroy(again);
		scenario_destroy(back);
		scenario_destroy(sc);
	}
	paths_fini(&pl);
}

START_TEST(test_standard_suite_round_trips_with_identical_traces)
{
	check_round_trip("scenarios");
}
END_TEST

START_TEST(test_good_test_files_round_trip_with_identical_traces)
{
	check_round_trip("tests/data/scenarios/good");
}
END_TEST

/* yaml loaded as a file "t.yaml"; it must load. */
static struct scenario *load_text(const char *yaml, size_t len)
{
	struct scenario *sc;
	struct scenario_error se;
	ck_assert_int_eq(scenario_load_buffer("t.yaml", yaml, len, &sc, &se), RESULT_OK);
	return sc;
}

START_TEST(test_dedup_workload_round_trips)
{
	static const char yaml[] =
		"fixes: [request-dedup]\n"
		"workload:\n"
		"  request-dedup: {requests: 7, duplicates: 2, ttl: 1ms, key_octets: 40, bad_keys: 3}\n";
	struct scenario *sc = load_text(yaml, sizeof yaml - 1);
	char *text;
	size_t len;
	struct scenario *back = reload(sc, &text, &len);
	ck_assert_uint_eq(back->dedup.requests, 7);
	ck_assert_uint_eq(back->dedup.duplicates, 2);
	ck_assert_uint_eq(back->dedup.ttl_us, 1000);
	ck_assert_uint_eq(back->dedup.key_octets, 40);
	ck_assert_uint_eq(back->dedup.bad_keys, 3);
	free(text);
	scenario_destroy(back);
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_refused_and_padded_ids_round_trip)
{
	static const char yaml[] =
		"fixes: [ratelimit, stripe-customer]\n"
		"workload:\n"
		"  ratelimit: {users: 2, invalid_ids: true}\n"
		"  stripe-customer: {users: 3, user_id_octets: 64, invalid_ids: true}\n";
	struct scenario *sc = load_text(yaml, sizeof yaml - 1);
	char *text;
	size_t len;
	struct scenario *back = reload(sc, &text, &len);
	ck_assert(back->ratelimit.invalid_ids);
	ck_assert_uint_eq(back->customer.user_id_octets, 64);
	ck_assert(back->customer.invalid_ids);
	free(text);
	scenario_destroy(back);
	scenario_destroy(sc);
}
END_TEST

START_TEST(test_quote_text_with_every_kind_of_character_round_trips)
{
	static const char yaml[] =
		"fixes: [quote-email]\n"
		"workload:\n"
		"  quote-email:\n"
		"    quotes:\n"
		"      - {ref: Q-1, name: \"a\\0b\\r\\nc\\t\\\"q\\\\ \\u0085\\u00a0\\u2028\\u00e9\\U0001F600 \\u007f\", email: null}\n"
		"      - {ref: Q-2, name: null, email: \"x@y.test\", sends: 3, clicks: 2, expect: send}\n";
	struct scenario *sc = load_text(yaml, sizeof yaml - 1);
	char *text;
	size_t len;
	struct scenario *back = reload(sc, &text, &len);
	ck_assert_uint_eq(back->quote_email.nquotes, 2);
	const struct quote_spec *a = &sc->quote_email.quotes[0], *b = &back->quote_email.quotes[0];
	ck_assert_uint_eq(a->name_len, b->name_len);
	ck_assert_mem_eq(a->name, b->name, a->name_len);
	ck_assert(back->quote_email.quotes[0].email_null);
	ck_assert(back->quote_email.quotes[1].name_null);
	ck_assert_uint_eq(back->quote_email.quotes[1].sends, 3);
	ck_assert_uint_eq(back->quote_email.quotes[1].clicks, 2);
	ck_assert_uint_eq(back->quote_email.quotes[0].clicks, 1);
	ck_assert_int_eq(back->quote_email.quotes[1].expect, 1);
	ck_assert_ptr_nonnull(strstr(text, "# written by a test\n#\n# of two lines\n"));
	free(text);
	scenario_destroy(back);
	scenario_destroy(sc);
}
END_TEST

Suite *check_scenario_write_suite(void);
Suite *check_scenario_write_suite(void)
{
	Suite *s = suite_create("scenario_write");
	TCase *tc = tcase_create("round trip");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_standard_suite_round_trips_with_identical_traces);
	tcase_add_test(tc, test_good_test_files_round_trip_with_identical_traces);
	tcase_add_test(tc, test_quote_text_with_every_kind_of_character_round_trips);
	tcase_add_test(tc, test_dedup_workload_round_trips);
	tcase_add_test(tc, test_refused_and_padded_ids_round_trip);
	suite_add_tcase(s, tc);
	return s;
}
