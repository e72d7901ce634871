/* tests/check_report.c - the reports: the results structure and its helpers,
 * the latency histogram, report.json round trips and the errors its reader
 * names, the merge of runs (the merge of parts equals the whole), and the
 * escaping of hostile text in junit.xml, report.md and report.html. */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/report_fill.h"
#include "reports/report.h"
#include "reports/report_coverage.h"
#include "reports/report_files.h"
#include "reports/report_html.h"
#include "reports/report_json.h"
#include "reports/report_junit.h"
#include "reports/report_md.h"
#include "reports/textbuf.h"
#include "sim/prng.h"

#define HOSTILE "</script><b>\"'&"
#define HOSTILE_ESCAPED "&lt;/script&gt;&lt;b&gt;&quot;&#39;&amp;"
#define SAMPLE_JSON "tests/data/reports/sample/report.json"

/* Helpers ------------------------------------------------------------------ */

static char *tmpdir_make(void)
{
	char *dir = strdup("/tmp/check_report.XXXXXX");
	ck_assert_ptr_nonnull(dir);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

static int tmpdir_remove_one(const char *path, const struct stat *st, int flag,
                             struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void tmpdir_remove(char *dir)
{
	nftw(dir, tmpdir_remove_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

static char *file_slurp(const char *path)
{
	char *data = NULL;
	size_t len = 0;
	char err[256];
	ck_assert_int_eq(report_file_read(path, 1u << 26, &data, &len, err, sizeof err),
	                 RESULT_OK);
	return data;
}

static void file_put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* ck_assert_str_eq on whole documents would send them through Check's
 * message pipe; this names the first difference instead. */
static void assert_same_text(const char *got, const char *want)
{
	size_t i = 0;
	while (got[i] != '\0' && got[i] == want[i])
		i++;
	size_t from = i > 40 ? i - 40 : 0;
	ck_assert_msg(got[i] == want[i], "texts differ at byte %zu: got \"%.80s\", want \"%.80s\"",
	              i, got + from, want + from);
}

static char *json_of(const struct report *r)
{
	char *text = NULL;
	char err[256] = "";
	ck_assert_int_eq(report_json_dump(r, &text, err, sizeof err), RESULT_OK);
	return text;
}

/* Replaces the first occurrence of from with to in text (a new string). */
static char *str_replace_first(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	ck_assert_msg(at != NULL, "fixture lacks \"%s\"", from);
	size_t head = (size_t)(at - text);
	size_t n = strlen(text) - strlen(from) + strlen(to);
	char *out = malloc(n + 1);
	ck_assert_ptr_nonnull(out);
	memcpy(out, text, head);
	strcpy(out + head, to);
	strcat(out, at + strlen(from));
	return out;
}

/* Gives r the verdict the harness would (the writers show a stored one). */
static void judge(struct report *r)
{
	char err[256] = "";
	ck_assert_msg(report_judge(r, err, sizeof err) == RESULT_OK, "%s", err);
}

/* A small report with one of every kind of thing, hostile text included. */
static struct report *report_fixture(void)
{
	struct report *r = report_create("0.1.0", "simulated");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(report_add_variant(r, "legacy"), RESULT_OK);
	ck_assert_int_eq(report_add_variant(r, "hardened"), RESULT_OK);
	ck_assert_int_eq(report_add_file(r, "scenarios/webhook.yaml", "ab12"), RESULT_OK);
	r->determinism_checked = true;

	struct report_result *res;
	ck_assert_int_eq(report_add_result(r, "webhook-dups", "scenarios/webhook.yaml",
	                                   "webhook", "legacy", &res), RESULT_OK);
	for (uint64_t seed = 1; seed <= 10; seed++)
		report_result_count_seed(res, seed);
	struct report_invariant *inv;
	ck_assert_int_eq(report_result_add_invariant(res, "exactly-once", &inv), RESULT_OK);
	bool first = false;
	ck_assert_int_eq(report_invariant_add_violation(inv, 7, 5004110,
	                 "order ord_3 marked paid 2 times | " HOSTILE,
	                 "faultline replay scenarios/webhook.yaml --seed 7", &first),
	                 RESULT_OK);
	ck_assert(first);
	ck_assert_int_eq(report_invariant_add_event(inv, 5000000, "stripe", "deliver evt_9"),
	                 RESULT_OK);
	ck_assert_int_eq(report_invariant_add_event(inv, 5003000, "postgres",
	                                            "UPDATE orders " HOSTILE), RESULT_OK);
	ck_assert_int_eq(report_invariant_add_event(inv, 5004110, "invariant",
	                                            "exactly-once broken"), RESULT_OK);
	ck_assert_int_eq(report_invariant_add_violation(inv, 9, 100, "later", "r9", &first),
	                 RESULT_OK);
	ck_assert(!first);
	ck_assert_int_eq(report_result_add_invariant(res, "no-hung-request", &inv), RESULT_OK);
	ck_assert_int_eq(report_result_add_fault(res, "postgres.connection_lost", 4), RESULT_OK);
	ck_assert_int_eq(report_result_add_fault(res, "stripe.duplicate_delivery", 12), RESULT_OK);
	ck_assert_int_eq(report_result_add_outcome(res, "ok", 90), RESULT_OK);
	ck_assert_int_eq(report_result_add_outcome(res, "error", 10), RESULT_OK);
	ck_assert_int_eq(report_result_add_log_tag(res, "[Webhook]", 10), RESULT_OK);
	for (uint64_t us = 100; us < 100000; us += 997)
		report_result_add_latency(res, us);
	ck_assert_int_eq(report_result_set_trace_file(res, "traces/webhook-dups-legacy-seed7.jsonl"),
	                 RESULT_OK);

	ck_assert_int_eq(report_add_result(r, "webhook-dups", "scenarios/webhook.yaml",
	                                   "webhook", "hardened", &res), RESULT_OK);
	for (uint64_t seed = 1; seed <= 10; seed++)
		report_result_count_seed(res, seed);
	ck_assert_int_eq(report_result_add_invariant(res, "exactly-once", &inv), RESULT_OK);
	ck_assert_int_eq(report_result_add_invariant(res, "no-hung-request", &inv), RESULT_OK);
	report_result_add_latency(res, 700);

	ck_assert_int_eq(report_add_result(r, HOSTILE, "scenarios/" HOSTILE ".yaml",
	                                   "ratelimit", "legacy", &res), RESULT_OK);
	report_result_count_seed(res, 1);
	ck_assert_int_eq(report_result_set_not_exercised(res, "no fault fired " HOSTILE),
	                 RESULT_OK);
	ck_assert_int_eq(report_result_add_invariant(res, "no-lockout", &inv), RESULT_OK);
	judge(r);
	return r;
}

/* Histogram ---------------------------------------------------------------- */

START_TEST(test_hist_bucket_edges_are_exact)
{
	ck_assert_uint_eq(report_hist_bucket(0), 0);
	ck_assert_uint_eq(report_hist_bucket(255), 0);
	ck_assert_uint_eq(report_hist_bucket(256), 1);
	ck_assert_uint_eq(report_hist_bucket(1023), 3);
	ck_assert_uint_eq(report_hist_bucket(1024), 4);
	ck_assert_uint_eq(report_hist_bucket(1279), 4);
	ck_assert_uint_eq(report_hist_bucket(1280), 5);
	ck_assert_uint_eq(report_hist_bucket(2047), 7);
	ck_assert_uint_eq(report_hist_bucket(2048), 8);
	ck_assert_uint_eq(report_hist_bucket(33554431), 63);
	ck_assert_uint_eq(report_hist_bucket(33554432), 63);   /* overflow: last */
	ck_assert_uint_eq(report_hist_bucket(UINT64_MAX), 63);
	ck_assert_uint_eq(report_hist_lower(0), 0);
	ck_assert_uint_eq(report_hist_lower(4), 1024);
	ck_assert_uint_eq(report_hist_lower(5), 1280);
	ck_assert_uint_eq(report_hist_lower(REPORT_HIST_BUCKETS), 33554432);
}
END_TEST

/* Every value lies in [lower(b), lower(b + 1)) of its bucket, bucket width is
 * at most a quarter of its lower bound past the linear part, and bounds
 * increase. */
START_TEST(test_hist_bucket_holds_its_values)
{
	for (unsigned b = 0; b < REPORT_HIST_BUCKETS; b++) {
		uint64_t lo = report_hist_lower(b), hi = report_hist_lower(b + 1);
		ck_assert_uint_lt(lo, hi);
		ck_assert_uint_eq(report_hist_bucket(lo), b);
		ck_assert_uint_eq(report_hist_bucket(hi - 1), b);
		if (b >= REPORT_HIST_SUB)
			ck_assert_uint_le((hi - lo) * 4, lo);
	}
	struct prng p;
	prng_init(&p, 11);
	for (int k = 0; k < 10000; k++) {
		uint64_t v = prng_below(&p, 40000000);
		unsigned b = report_hist_bucket(v);
		ck_assert_uint_le(report_hist_lower(b), v);
		if (b < REPORT_HIST_BUCKETS - 1)
			ck_assert_uint_lt(v, report_hist_lower(b + 1));
	}
}
END_TEST

START_TEST(test_hist_percentile_is_bucket_upper_bound)
{
	uint64_t h[REPORT_HIST_BUCKETS] = {0};
	ck_assert_uint_eq(report_hist_percentile(h, 0.5), 0);      /* empty */
	for (int i = 0; i < 99; i++)
		report_hist_add(h, 300);                               /* bucket 1 */
	report_hist_add(h, 10000);                                 /* bucket 16 */
	ck_assert_uint_eq(report_hist_total(h), 100);
	ck_assert_uint_eq(report_hist_percentile(h, 0.0), 512);
	ck_assert_uint_eq(report_hist_percentile(h, 0.5), 512);
	/* 0.99 * 100 is rank 99 exactly, not 100 through rounding. */
	ck_assert_uint_eq(report_hist_percentile(h, 0.99), 512);
	ck_assert_uint_eq(report_hist_percentile(h, 0.995), 10240);
	ck_assert_uint_eq(report_hist_percentile(h, 1.0), 10240);
}
END_TEST

/* Building ----------------------------------------------------------------- */

START_TEST(test_add_result_rejects_same_scenario_and_variant)
{
	struct report *r = report_create("v", "simulated");
	struct report_result *res;
	ck_assert_int_eq(report_add_result(r, "s", "f", "x", "legacy", &res), RESULT_OK);
	ck_assert_int_eq(report_add_result(r, "s", "f", "x", "legacy", &res), RESULT_REJECT);
	ck_assert_int_eq(report_add_result(r, "s", "f", "x", "seed", &res), RESULT_OK);
	ck_assert_uint_eq(r->nresults, 2);
	ck_assert_ptr_eq(report_find_result(r, "s", "seed"), &r->results[1]);
	ck_assert_ptr_null(report_find_result(r, "s", "hardened"));
	report_destroy(r);
	report_destroy(NULL);
}
END_TEST

START_TEST(test_coverage_table_sums_a_fix_per_variant)
{
	struct report *r = report_create("v", "simulated");
	struct report_result *res;
	/* Two webhook scenarios, two variants; one ratelimit result. */
	ck_assert_int_eq(report_add_result(r, "a", "f", "webhook", "legacy", &res), RESULT_OK);
	ck_assert_int_eq(report_result_add_coverage(res, "webhook.2xx", 3), RESULT_OK);
	ck_assert_int_eq(report_result_add_coverage(res, "redis.set=ok", 0), RESULT_OK);
	ck_assert_int_eq(report_add_result(r, "a", "f", "webhook", "hardened", &res), RESULT_OK);
	ck_assert_int_eq(report_result_add_coverage(res, "webhook.2xx", 5), RESULT_OK);
	ck_assert_int_eq(report_add_result(r, "rl", "f", "ratelimit", "seed", &res), RESULT_OK);
	ck_assert_int_eq(report_result_add_coverage(res, "ratelimit.rejected", 1), RESULT_OK);
	ck_assert_int_eq(report_add_result(r, "b", "f", "webhook", "legacy", &res), RESULT_OK);
	ck_assert_int_eq(report_result_add_coverage(res, "webhook.2xx", 4), RESULT_OK);
	ck_assert_int_eq(report_result_add_coverage(res, "postgres.commit=rows", 2), RESULT_OK);
	struct report_cov_table *t;
	size_t n;
	ck_assert_int_eq(report_coverage_tables(r, &t, &n), RESULT_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(t[0].fix, "webhook");
	ck_assert_str_eq(t[1].fix, "ratelimit");
	ck_assert_uint_eq(t[0].ncolumns, 2);
	ck_assert_str_eq(t[0].column[0], "legacy");
	ck_assert_str_eq(t[0].column[1], "hardened");
	ck_assert_uint_eq(t[0].nrows, 3); /* sorted by cell */
	ck_assert_str_eq(t[0].rows[0].cell, "postgres.commit=rows");
	ck_assert_str_eq(t[0].rows[1].cell, "redis.set=ok");
	ck_assert_str_eq(t[0].rows[2].cell, "webhook.2xx");
	ck_assert_uint_eq(t[0].rows[2].count[0], 7);
	ck_assert_uint_eq(t[0].rows[2].count[1], 5);
	ck_assert_int_eq(t[0].rows[0].state[1], REPORT_COV_ABSENT);
	ck_assert_int_eq(t[0].rows[1].state[0], REPORT_COV_NEVER);
	ck_assert(t[0].rows[1].never && !t[0].rows[2].never);
	ck_assert_uint_eq(t[0].never, 1);
	ck_assert_uint_eq(t[1].never, 0);
	report_coverage_tables_free(t, n);
	/* A declared cell one scenario never reached and another did is
	 * reached for that variant. */
	ck_assert_int_eq(report_add_result(r, "c", "f", "webhook", "seed", &res), RESULT_OK);
	ck_assert_int_eq(report_result_add_coverage(res, "redis.set=ok", 0), RESULT_OK);
	ck_assert_int_eq(report_add_result(r, "d", "f", "webhook", "seed", &res), RESULT_OK);
	ck_assert_int_eq(report_result_add_coverage(res, "redis.set=ok", 2), RESULT_OK);
	ck_assert_int_eq(report_coverage_tables(r, &t, &n), RESULT_OK);
	ck_assert_int_eq(t[0].rows[1].state[2], REPORT_COV_REACHED);
	ck_assert_uint_eq(t[0].rows[1].count[2], 2);
	report_coverage_tables_free(t, n);
	report_destroy(r);
}
END_TEST

START_TEST(test_violation_keeps_lowest_seed_with_its_timeline)
{
	struct report *r = report_create("v", "simulated");
	struct report_result *res;
	struct report_invariant *inv;
	ck_assert_int_eq(report_add_result(r, "s", "f", "x", "legacy", &res), RESULT_OK);
	ck_assert_int_eq(report_result_add_invariant(res, "exactly-once", &inv), RESULT_OK);
	ck_assert(inv->held);
	bool first = false;
	ck_assert_int_eq(report_invariant_add_violation(inv, 9, 900, "nine", "r 9", &first),
	                 RESULT_OK);
	ck_assert(first);
	ck_assert_int_eq(report_invariant_add_event(inv, 1, "redis", "from seed 9"), RESULT_OK);
	ck_assert_int_eq(report_invariant_add_violation(inv, 4, 400, "four", "r 4", &first),
	                 RESULT_OK);
	ck_assert(first);
	ck_assert_uint_eq(inv->ntimeline, 0);          /* seed 9's events are gone */
	ck_assert_int_eq(report_invariant_add_violation(inv, 12, 1200, "twelve", NULL, &first),
	                 RESULT_OK);
	ck_assert(!first);
	ck_assert(!inv->held);
	ck_assert_uint_eq(inv->violations, 3);
	ck_assert_uint_eq(inv->first_seed, 4);
	ck_assert_uint_eq(inv->first_time_us, 400);
	ck_assert_str_eq(inv->message, "four");
	ck_assert_str_eq(inv->replay, "r 4");
	report_destroy(r);
}
END_TEST

START_TEST(test_timeline_keeps_the_last_events_and_counts_dropped)
{
	struct report *r = report_create("v", "simulated");
	struct report_result *res;
	struct report_invariant *inv;
	ck_assert_int_eq(report_add_result(r, "s", "f", "x", "legacy", &res), RESULT_OK);
	ck_assert_int_eq(report_result_add_invariant(res, "i", &inv), RESULT_OK);
	ck_assert_int_eq(report_invariant_add_violation(inv, 1, 5000, "m", "r", NULL), RESULT_OK);
	for (uint64_t t = 0; t < REPORT_TIMELINE_MAX + 50; t++)
		ck_assert_int_eq(report_invariant_add_event(inv, t, "redis", "e"), RESULT_OK);
	ck_assert_uint_eq(inv->ntimeline, REPORT_TIMELINE_MAX);
	ck_assert_uint_eq(inv->timeline_dropped, 50);
	ck_assert_uint_eq(inv->timeline[0].t_us, 50);
	ck_assert_uint_eq(inv->timeline[REPORT_TIMELINE_MAX - 1].t_us, REPORT_TIMELINE_MAX + 49);
	report_destroy(r);
}
END_TEST

START_TEST(test_counts_add_up_by_name_and_stop_at_maximum)
{
	struct report *r = report_create("v", "simulated");
	struct report_result *res;
	ck_assert_int_eq(report_add_result(r, "s", "f", "x", "legacy", &res), RESULT_OK);
	ck_assert_int_eq(report_result_add_fault(res, "redis.timeout", 2), RESULT_OK);
	ck_assert_int_eq(report_result_add_fault(res, "redis.timeout", 3), RESULT_OK);
	ck_assert_uint_eq(res->nfaults, 1);
	ck_assert_uint_eq(res->faults[0].count, 5);
	char name[32];
	for (unsigned i = 1; i < REPORT_COUNTS_MAX; i++) {
		snprintf(name, sizeof name, "kind%u", i);
		ck_assert_int_eq(report_result_add_fault(res, name, 1), RESULT_OK);
	}
	ck_assert_int_eq(report_result_add_fault(res, "one-too-many", 1), RESULT_NOMEM);
	ck_assert_int_eq(report_result_add_fault(res, "kind7", 1), RESULT_OK);  /* known */
	report_destroy(r);
}
END_TEST

START_TEST(test_add_file_refuses_another_digest_for_same_path)
{
	struct report *r = report_create("v", "simulated");
	ck_assert_int_eq(report_add_file(r, "a.yaml", "aa"), RESULT_OK);
	ck_assert_int_eq(report_add_file(r, "a.yaml", "aa"), RESULT_OK);
	ck_assert_int_eq(report_add_file(r, "a.yaml", "bb"), RESULT_REJECT);
	ck_assert_uint_eq(r->nfiles, 1);
	report_destroy(r);
}
END_TEST

START_TEST(test_text_dup_makes_utf8_and_bounds_length)
{
	char *s = report_text_dup("ok \xff\xc3(\xe2\x82\xac");   /* bad, bad, then € */
	ck_assert_str_eq(s, "ok \xEF\xBF\xBD\xEF\xBF\xBD(\xe2\x82\xac");
	free(s);
	s = report_text_dup("\xed\xa0\x80");                       /* a surrogate */
	ck_assert_str_eq(s, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
	free(s);
	char big[REPORT_TEXT_MAX + 10];
	memset(big, 'a', sizeof big - 3);
	memcpy(big + sizeof big - 3, "\xc3\xa9", 2);                /* é across the cut */
	big[sizeof big - 1] = '\0';
	s = report_text_dup(big);
	ck_assert_uint_eq(strlen(s), REPORT_TEXT_MAX);
	free(s);
	ck_assert_ptr_null(report_text_dup(NULL));
}
END_TEST

/* report.json -------------------------------------------------------------- */

START_TEST(test_json_round_trip_is_byte_identical)
{
	char *dir = tmpdir_make();
	char path[512], err[512] = "";
	snprintf(path, sizeof path, "%s/report.json", dir);
	struct report *r = report_fixture();
	ck_assert_int_eq(report_write_json(r, path, err, sizeof err), RESULT_OK);
	char *first = file_slurp(path);
	struct report *back = NULL;
	ck_assert_int_eq(report_read_json(path, &back, err, sizeof err), RESULT_OK);
	char *second = json_of(back);
	assert_same_text(second, first);
	/* And what was read is what was written. */
	ck_assert_uint_eq(back->nresults, 3);
	const struct report_invariant *inv = &back->results[0].invariants[0];
	ck_assert_str_eq(inv->name, "exactly-once");
	ck_assert_uint_eq(inv->violations, 2);
	ck_assert_uint_eq(inv->first_seed, 7);
	ck_assert_uint_eq(inv->ntimeline, 3);
	ck_assert_str_eq(inv->timeline[1].label, "UPDATE orders " HOSTILE);
	ck_assert(!back->results[2].exercised);
	free(first);
	free(second);
	report_destroy(r);
	report_destroy(back);
	tmpdir_remove(dir);
}
END_TEST

START_TEST(test_json_layout_has_contract_fields)
{
	struct report *r = report_fixture();
	char *text = json_of(r);
	ck_assert_ptr_nonnull(strstr(text, "{\n  \"schema\": 1,\n  \"settings\": {"));
	ck_assert_ptr_nonnull(strstr(text, "\"exactly-once\": {\n"
	                                   "          \"held\": false,\n"
	                                   "          \"violations\": 2,\n"
	                                   "          \"first_seed\": 7,"));
	ck_assert_ptr_nonnull(strstr(text, "\"first_seed\": null,"));
	ck_assert_ptr_nonnull(strstr(text, "\"replay\": \"faultline replay scenarios/webhook.yaml"
	                                   " --seed 7\""));
	/* Count objects are sorted by name, whatever the order of arrival. */
	ck_assert_ptr_nonnull(strstr(text, "\"outcomes\": {\n        \"error\": 10,\n"
	                                   "        \"ok\": 90\n"));
	ck_assert_ptr_nonnull(strstr(text, "\"verdict\": \"fail\""));
	ck_assert_ptr_nonnull(strstr(text, "\"text\": \"legacy violated exactly-once in "
	                                   "webhook-dups\""));
	ck_assert_ptr_nonnull(strstr(text, "\"invariants_violated\": 1,"));
	ck_assert_ptr_nonnull(strstr(text, "\"invariants_not_exercised\": 1,"));
	ck_assert_ptr_nonnull(strstr(text, "\"p50\": "));
	ck_assert_ptr_nonnull(strstr(text, "\"histogram\": ["));
	free(text);
	report_destroy(r);
}
END_TEST

START_TEST(test_json_sample_is_canonical)
{
	struct report *r = NULL;
	char err[512] = "";
	ck_assert_msg(report_read_json(SAMPLE_JSON, &r, err, sizeof err) == RESULT_OK, "%s", err);
	ck_assert_uint_eq(r->nresults, 18);
	char *text = json_of(r);
	char *file = file_slurp(SAMPLE_JSON);
	assert_same_text(text, file);
	free(text);
	free(file);
	report_destroy(r);
}
END_TEST

/* Parses text derived from the fixture by one replacement and expects
 * RESULT_REJECT with want in the message. */
static void expect_json_error(const char *from, const char *to, const char *want)
{
	struct report *r = report_fixture();
	char *good = json_of(r);
	char *bad = str_replace_first(good, from, to);
	struct report *out = NULL;
	char err[512] = "";
	ck_assert_int_eq(report_json_parse(bad, strlen(bad), "x/report.json", &out, err,
	                                   sizeof err), RESULT_REJECT);
	ck_assert_ptr_null(out);
	ck_assert_msg(strstr(err, want) != NULL, "error \"%s\" lacks \"%s\"", err, want);
	free(good);
	free(bad);
	report_destroy(r);
}

START_TEST(test_json_rejects_other_schema_version)
{
	expect_json_error("\"schema\": 1", "\"schema\": 2",
	                  "x/report.json: schema: version 2 is not supported");
	expect_json_error("\"schema\": 1", "\"schemata\": 1",
	                  "x/report.json: schema: missing (required)");
}
END_TEST

START_TEST(test_json_names_missing_field)
{
	expect_json_error("\"seeds_run\": 10,", "",
	                  "x/report.json: results[0].seeds_run: missing (required)");
	expect_json_error("\"tool_version\": \"0.1.0\",", "",
	                  "settings.tool_version: missing (required)");
}
END_TEST

START_TEST(test_json_names_field_of_wrong_type)
{
	expect_json_error("\"violations\": 2,", "\"violations\": \"2\",",
	                  "results[0].invariants.exactly-once.violations: expected a "
	                  "non-negative integer");
	expect_json_error("\"violations\": 2,", "\"violations\": -2,",
	                  "expected a non-negative integer");
	expect_json_error("\"exercised\": true", "\"exercised\": 1",
	                  "results[0].exercised: expected true or false");
	expect_json_error("\"mode\": \"simulated\"", "\"mode\": \"dreamt\"",
	                  "settings.mode: expected \"simulated\" or \"live\"");
}
END_TEST

START_TEST(test_json_rejects_contradictions)
{
	expect_json_error("\"held\": false", "\"held\": true",
	                  "results[0].invariants.exactly-once: held is true but violations is 2");
	expect_json_error("\"histogram\": [\n          0,", "\"histogram\": [\n",
	                  "].latency_us.histogram: expected 64 buckets, got 63");
}
END_TEST

START_TEST(test_json_reports_syntax_error_position)
{
	struct report *out = NULL;
	char err[512] = "";
	const char *text = "{\n  \"schema\": 1,\n  oops\n}";
	ck_assert_int_eq(report_json_parse(text, strlen(text), "bad.json", &out, err, sizeof err),
	                 RESULT_REJECT);
	ck_assert_msg(strncmp(err, "bad.json:3:", 11) == 0, "%s", err);
}
END_TEST

START_TEST(test_read_json_names_unreadable_file)
{
	struct report *out = NULL;
	char err[512] = "";
	ck_assert_int_eq(report_read_json("/nonexistent/report.json", &out, err, sizeof err),
	                 RESULT_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/report.json: cannot open"));
}
END_TEST

START_TEST(test_json_refuses_seed_past_json_integer)
{
	struct report *r = report_fixture();
	r->results[0].invariants[0].first_seed = UINT64_MAX;
	char *text = NULL;
	char err[512] = "";
	ck_assert_int_eq(report_json_dump(r, &text, err, sizeof err), RESULT_REJECT);
	ck_assert_ptr_null(text);
	ck_assert_ptr_nonnull(strstr(err, "first_seed = 18446744073709551615"));
	report_destroy(r);
}
END_TEST

/* Merge -------------------------------------------------------------------- */

/* A deterministic stand-in for the runner: runs seeds lo..hi of two
 * scenarios under two variants, drawing everything from the seed. */
static void sim_run(struct report *r, uint64_t lo, uint64_t hi)
{
	static const char *const scenarios[] = {"webhook-dups", "ratelimit-expire"};
	static const char *const variants[] = {"legacy", "hardened"};
	static const char *const kinds[] = {"redis.timeout", "postgres.lost", "stripe.dup"};
	static const char *const outcomes[] = {"ok", "error", "rejected"};
	ck_assert_int_eq(report_add_variant(r, "legacy"), RESULT_OK);
	ck_assert_int_eq(report_add_variant(r, "hardened"), RESULT_OK);
	ck_assert_int_eq(report_add_file(r, "scenarios/a.yaml", "aaaa"), RESULT_OK);
	r->determinism_checked = true;
	for (size_t s = 0; s < 2; s++) {
		for (size_t v = 0; v < 2; v++) {
			struct report_result *res = report_find_result(r, scenarios[s], variants[v]);
			if (res == NULL)
				ck_assert_int_eq(report_add_result(r, scenarios[s], "scenarios/a.yaml",
				                                   "webhook", variants[v], &res),
				                 RESULT_OK);
			for (uint64_t seed = lo; seed <= hi; seed++) {
				struct prng p;
				prng_init(&p, seed * 1000 + s * 10 + v);
				report_result_count_seed(res, seed);
				for (int k = 0; k < 20; k++) {
					report_result_add_latency(res, prng_below(&p, 3000000));
					ck_assert_int_eq(report_result_add_outcome(
						res, outcomes[prng_below(&p, 3)], 1), RESULT_OK);
				}
				/* Fault kinds arrive in a seed-dependent order. */
				for (int k = 0; k < 3; k++)
					ck_assert_int_eq(report_result_add_fault(
						res, kinds[(seed + (uint64_t)k) % 3], prng_below(&p, 5)),
						RESULT_OK);
				res->duplicates_let_through += prng_below(&p, 2);
				struct report_invariant *inv;
				ck_assert_int_eq(report_result_add_invariant(res, "exactly-once", &inv),
				                 RESULT_OK);
				if (v == 0 && prng_chance(&p, 0.4)) {
					char msg[64], replay[64];
					snprintf(msg, sizeof msg, "order paid twice in seed %llu",
					         (unsigned long long)seed);
					snprintf(replay, sizeof replay, "faultline replay --seed %llu",
					         (unsigned long long)seed);
					bool first = false;
					ck_assert_int_eq(report_invariant_add_violation(
						inv, seed, seed * 100, msg, replay, &first), RESULT_OK);
					if (first) {
						ck_assert_int_eq(report_invariant_add_event(
							inv, seed, "webhook", msg), RESULT_OK);
						char trace[64];
						snprintf(trace, sizeof trace, "traces/x-seed%llu.jsonl",
						         (unsigned long long)seed);
						ck_assert_int_eq(report_result_set_trace_file(res, trace),
						                 RESULT_OK);
					}
				}
				ck_assert_int_eq(report_result_add_invariant(res, "no-hung-request",
				                                             &inv), RESULT_OK);
			}
		}
	}
	judge(r);
}

START_TEST(test_merge_of_parts_equals_whole)
{
	struct report *whole = report_create("0.1.0", "simulated");
	struct report *a = report_create("0.1.0", "simulated");
	struct report *b = report_create("0.1.0", "simulated");
	sim_run(whole, 1, 10);
	sim_run(a, 1, 5);
	sim_run(b, 6, 10);
	/* The run must have violations in both halves for the test to mean
	 * anything. */
	ck_assert_uint_gt(a->results[0].invariants[0].violations, 0);
	ck_assert_uint_gt(b->results[0].invariants[0].violations, 0);

	struct report *parts[2] = {a, b};
	struct report *merged = NULL;
	char err[512] = "";
	ck_assert_int_eq(report_merge(parts, 2, &merged, err, sizeof err), RESULT_OK);
	judge(merged);
	char *want = json_of(whole);
	char *got = json_of(merged);
	assert_same_text(got, want);
	report_destroy(merged);
	free(got);

	/* Order of the parts does not matter either. */
	struct report *reversed[2] = {b, a};
	ck_assert_int_eq(report_merge(reversed, 2, &merged, err, sizeof err), RESULT_OK);
	judge(merged);
	got = json_of(merged);
	assert_same_text(got, want);
	for (unsigned q = 0; q <= 100; q++) {
		double f = q / 100.0;
		ck_assert_uint_eq(report_hist_percentile(merged->results[1].latency_hist, f),
		                  report_hist_percentile(whole->results[1].latency_hist, f));
	}
	report_destroy(merged);
	free(got);
	free(want);
	report_destroy(whole);
	report_destroy(a);
	report_destroy(b);
}
END_TEST

START_TEST(test_merge_through_files_equals_whole)
{
	char *dir = tmpdir_make();
	char pa[512], pb[512], err[512] = "";
	snprintf(pa, sizeof pa, "%s/a", dir);
	snprintf(pb, sizeof pb, "%s/b", dir);
	struct report *whole = report_create("0.1.0", "simulated");
	struct report *a = report_create("0.1.0", "simulated");
	struct report *b = report_create("0.1.0", "simulated");
	sim_run(whole, 1, 10);
	sim_run(a, 1, 5);
	sim_run(b, 6, 10);
	ck_assert_int_eq(report_write_all(a, pa, err, sizeof err), RESULT_OK);
	ck_assert_int_eq(report_write_all(b, pb, err, sizeof err), RESULT_OK);
	report_destroy(a);
	report_destroy(b);
	strcat(pa, "/report.json");
	strcat(pb, "/report.json");
	ck_assert_int_eq(report_read_json(pa, &a, err, sizeof err), RESULT_OK);
	ck_assert_int_eq(report_read_json(pb, &b, err, sizeof err), RESULT_OK);
	struct report *parts[2] = {a, b};
	struct report *merged = NULL;
	ck_assert_int_eq(report_merge(parts, 2, &merged, err, sizeof err), RESULT_OK);
	judge(merged);
	char *want = json_of(whole);
	char *got = json_of(merged);
	assert_same_text(got, want);
	free(want);
	free(got);
	report_destroy(merged);
	report_destroy(whole);
	report_destroy(a);
	report_destroy(b);
	tmpdir_remove(dir);
}
END_TEST

START_TEST(test_merge_refuses_overlapping_seeds)
{
	struct report *a = report_create("0.1.0", "simulated");
	struct report *b = report_create("0.1.0", "simulated");
	sim_run(a, 1, 5);
	sim_run(b, 5, 8);
	struct report *parts[2] = {a, b};
	struct report *merged = NULL;
	char err[512] = "";
	ck_assert_int_eq(report_merge(parts, 2, &merged, err, sizeof err), RESULT_REJECT);
	ck_assert_ptr_null(merged);
	ck_assert_msg(strstr(err, "part 2: webhook-dups / legacy: seeds 5-8 overlap seeds 1-5")
	              != NULL, "%s", err);
	report_destroy(a);
	report_destroy(b);
}
END_TEST

START_TEST(test_merge_refuses_other_mode_and_changed_file)
{
	struct report *a = report_create("0.1.0", "simulated");
	struct report *b = report_create("0.1.0", "live");
	struct report *parts[2] = {a, b};
	struct report *merged = NULL;
	char err[512] = "";
	ck_assert_int_eq(report_merge(parts, 2, &merged, err, sizeof err), RESULT_REJECT);
	ck_assert_ptr_nonnull(strstr(err, "part 2: mode \"live\" differs"));
	report_destroy(b);
	b = report_create("0.1.0", "simulated");
	parts[1] = b;
	ck_assert_int_eq(report_add_file(a, "s.yaml", "aaaa"), RESULT_OK);
	ck_assert_int_eq(report_add_file(b, "s.yaml", "bbbb"), RESULT_OK);
	ck_assert_int_eq(report_merge(parts, 2, &merged, err, sizeof err), RESULT_REJECT);
	ck_assert_ptr_nonnull(strstr(err, "part 2: s.yaml has sha256 bbbb"));
	ck_assert_int_eq(report_merge(parts, 0, &merged, err, sizeof err), RESULT_REJECT);
	report_destroy(a);
	report_destroy(b);
}
END_TEST

START_TEST(test_merge_exercised_when_any_part_was)
{
	struct report *a = report_create("0.1.0", "simulated");
	struct report *b = report_create("0.1.0", "simulated");
	struct report_result *res;
	ck_assert_int_eq(report_add_result(a, "s", "f", "webhook", "legacy", &res), RESULT_OK);
	report_result_count_seed(res, 1);
	ck_assert_int_eq(report_result_set_not_exercised(res, "no fault fired"), RESULT_OK);
	ck_assert_int_eq(report_add_result(b, "s", "f", "webhook", "legacy", &res), RESULT_OK);
	report_result_count_seed(res, 2);
	struct report *parts[2] = {a, b};
	struct report *merged = NULL;
	char err[512] = "";
	ck_assert_int_eq(report_merge(parts, 2, &merged, err, sizeof err), RESULT_OK);
	judge(merged);
	ck_assert(merged->results[0].exercised);
	ck_assert_ptr_null(merged->results[0].not_exercised_reason);
	ck_assert_uint_eq(merged->results[0].seeds_run, 2);
	report_destroy(merged);
	/* Neither part exercised: the merge is not, and keeps the reason. */
	ck_assert_int_eq(report_result_set_not_exercised(res, "still no fault"), RESULT_OK);
	ck_assert_int_eq(report_merge(parts, 2, &merged, err, sizeof err), RESULT_OK);
	judge(merged);
	ck_assert(!merged->results[0].exercised);
	ck_assert_str_eq(merged->results[0].not_exercised_reason, "no fault fired");
	report_destroy(merged);
	report_destroy(a);
	report_destroy(b);
}
END_TEST

/* Writers ------------------------------------------------------------------ */

static char *format_with(enum result (*fmt)(const struct report *, struct textbuf *),
                         const struct report *r)
{
	struct textbuf tb;
	textbuf_init(&tb);
	ck_assert_int_eq(fmt(r, &tb), RESULT_OK);
	char *s = strdup(textbuf_str(&tb));
	textbuf_fini(&tb);
	ck_assert_ptr_nonnull(s);
	return s;
}

START_TEST(test_textbuf_escapes_and_drops_what_xml_forbids)
{
	struct textbuf tb;
	textbuf_init(&tb);
	textbuf_put_xml(&tb, "a\x01" "b\tc\nd\xef\xbf\xbe" "e\xff" "f" HOSTILE "\r");
	ck_assert_str_eq(textbuf_str(&tb), "ab\tc\nde" "f" HOSTILE_ESCAPED "&#13;");
	textbuf_fini(&tb);
	textbuf_init(&tb);
	textbuf_put_xml_attr(&tb, "x\ty\nz");
	ck_assert_str_eq(textbuf_str(&tb), "x&#9;y&#10;z");
	textbuf_fini(&tb);
}
END_TEST

START_TEST(test_textbuf_formats_durations)
{
	static const struct { uint64_t us; const char *want; } cases[] = {
		{0, "0 us"}, {999, "999 us"}, {1280, "1.28 ms"}, {65536, "65.5 ms"},
		{150000, "150 ms"}, {2500000, "2.5 s"}, {33554432, "33.6 s"}, {250000000, "250 s"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct textbuf tb;
		textbuf_init(&tb);
		textbuf_put_duration_us(&tb, cases[i].us);
		ck_assert_str_eq(textbuf_str(&tb), cases[i].want);
		textbuf_fini(&tb);
	}
	struct textbuf tb;
	textbuf_init(&tb);
	textbuf_put_time_us(&tb, 121204000);
	ck_assert_str_eq(textbuf_str(&tb), "121.204000 s");
	textbuf_fini(&tb);
}
END_TEST

START_TEST(test_junit_has_suite_per_scenario_and_case_per_invariant)
{
	struct report *r = report_fixture();
	char *x = format_with(report_format_junit, r);
	/* Two reasons: the violation, and the result that was not exercised. */
	ck_assert_ptr_nonnull(strstr(x, "<testsuites name=\"faultline\" tests=\"6\" "
	                                "failures=\"2\" errors=\"0\""));
	ck_assert_ptr_nonnull(strstr(x, "<testsuite name=\"webhook-dups\" tests=\"4\" "
	                                "failures=\"1\" errors=\"0\" skipped=\"0\""));
	ck_assert_ptr_nonnull(strstr(x, "<testcase classname=\"webhook-dups.legacy\" "
	                                "name=\"exactly-once\""));
	ck_assert_ptr_nonnull(strstr(x, "<testcase classname=\"webhook-dups.hardened\" "
	                                "name=\"no-hung-request\" time=\"0\"/>"));
	ck_assert_ptr_nonnull(strstr(x, "<failure message=\"exactly-once violated in 2 of 10 "
	                                "seeds; first seed 7: order ord_3 marked paid 2 times"));
	ck_assert_ptr_nonnull(strstr(x, "first failing seed: 7 at t = 5.004110 s\n"));
	ck_assert_ptr_nonnull(strstr(x, "replay: faultline replay scenarios/webhook.yaml "
	                                "--seed 7\n"));
	ck_assert_ptr_nonnull(strstr(x, "<testsuite name=\"" HOSTILE_ESCAPED "\" tests=\"2\" "
	                                "failures=\"1\" errors=\"0\" skipped=\"1\""));
	ck_assert_ptr_nonnull(strstr(x, "name=\"exercised\" time=\"0\">\n      <failure "
	                                "message=\"legacy not exercised in " HOSTILE_ESCAPED));
	ck_assert_ptr_nonnull(strstr(x, "<skipped message=\"not exercised: no fault fired "
	                                HOSTILE_ESCAPED "\"/>"));
	ck_assert_ptr_null(strstr(x, "<b>"));
	ck_assert_ptr_null(strstr(x, "</script>"));
	free(x);
	report_destroy(r);
}
END_TEST

START_TEST(test_html_escapes_hostile_text_and_is_self_contained)
{
	struct report *r = report_fixture();
	char *h = format_with(report_format_html, r);
	ck_assert_ptr_nonnull(strstr(h, HOSTILE_ESCAPED));
	ck_assert_ptr_null(strstr(h, "<b>"));
	ck_assert_ptr_null(strstr(h, "<script"));
	ck_assert_ptr_null(strstr(h, "</script"));
	ck_assert_ptr_null(strstr(h, "src="));
	ck_assert_ptr_null(strstr(h, "<link"));
	ck_assert_ptr_null(strstr(h, "@import"));
	ck_assert_ptr_null(strstr(h, "url("));
	ck_assert_ptr_null(strstr(h, "http://"));
	ck_assert_ptr_null(strstr(h, "https://"));
	free(h);
	report_destroy(r);
}
END_TEST

START_TEST(test_html_matrix_says_state_in_words)
{
	struct report *r = report_fixture();
	char *h = format_with(report_format_html, r);
	ck_assert_ptr_nonnull(strstr(h, "<td class=\"cell violated\"><a href=\"#v0-0\">"
	                                "✗ violated (2/10)</a></td>"));
	ck_assert_ptr_nonnull(strstr(h, "<td class=\"cell held\">✓ held</td>"));
	ck_assert_ptr_nonnull(strstr(h, "○ not exercised</td>"));
	ck_assert_ptr_nonnull(strstr(h, "<td class=\"cell absent\">— not run</td>"));
	ck_assert_ptr_nonnull(strstr(h, "<article class=\"card violation\" id=\"v0-0\">"));
	ck_assert_ptr_nonnull(strstr(h, "<pre class=\"replay\"><code>faultline replay "
	                                "scenarios/webhook.yaml --seed 7</code></pre>"));
	ck_assert_ptr_nonnull(strstr(h, "1 of 5 invariant checks violated"));
	free(h);
	report_destroy(r);
}
END_TEST

/* In a matrix the legacy violation is expected: its testcase passes and
 * says so; a green matrix has no failure at all. */
START_TEST(test_junit_green_matrix_has_no_failure)
{
	struct report *r = report_fixture();
	r->matrix = true;
	/* The result that was not exercised becomes a second legacy webhook one:
	 * a matrix does not need legacy exercised, and webhook's bug is caught. */
	ck_assert_uint_eq(r->nresults, 3);
	ck_assert_str_eq(r->results[2].variant, "legacy");
	free(r->results[2].scenario);
	r->results[2].scenario = report_text_dup("webhook-dups-too");
	free(r->results[2].fix);
	r->results[2].fix = report_text_dup("webhook");
	judge(r);
	ck_assert(r->pass);
	char *x = format_with(report_format_junit, r);
	ck_assert_ptr_nonnull(strstr(x, "<testsuites name=\"faultline\" tests=\"5\" "
	                                "failures=\"0\" errors=\"0\""));
	ck_assert_ptr_null(strstr(x, "<failure"));
	ck_assert_ptr_nonnull(strstr(x, "<system-out>expected and caught: the legacy variant "
	                                "is meant to break exactly-once here, and it did\n"));
	ck_assert_ptr_nonnull(strstr(x, "replay: faultline replay scenarios/webhook.yaml "
	                                "--seed 7\n"));
	free(x);
	/* The hardened core breaking the same invariant is the one failure. */
	r->results[1].invariants[0].violations = 1;
	judge(r);
	ck_assert(!r->pass);
	ck_assert_uint_eq(r->nreasons, 1);
	x = format_with(report_format_junit, r);
	ck_assert_ptr_nonnull(strstr(x, "failures=\"1\" errors=\"0\" time=\"0\">"));
	ck_assert_ptr_nonnull(strstr(x, "hardened violated exactly-once in webhook-dups\n"));
	free(x);
	report_destroy(r);
}
END_TEST

START_TEST(test_md_escapes_cells_and_fences_replay)
{
	struct report *r = report_fixture();
	struct report_invariant *inv = &r->results[0].invariants[0];
	free(inv->replay);
	inv->replay = report_text_dup("faultline replay x --label '```'");
	char *m = format_with(report_format_md, r);
	ck_assert_ptr_nonnull(strstr(m, "# ❌ Fails: legacy violated exactly-once in "
	                                "webhook-dups (and 1 more)\n"));
	ck_assert_ptr_nonnull(strstr(m, "\n- legacy violated exactly-once in webhook-dups\n"));
	ck_assert_ptr_nonnull(strstr(m, "1 of 5 invariant checks violated"));
	ck_assert_ptr_nonnull(strstr(m, "| webhook | webhook-dups | exactly-once | "
	                                "❌ violated 2/10 | ✅ held |"));
	ck_assert_ptr_nonnull(strstr(m, "| ratelimit | \\</script\\>\\<b\\>\"'\\& | "
	                                "no-lockout | ⚪ not exercised | — not run |"));
	ck_assert_ptr_nonnull(strstr(m, "> order ord\\_3 marked paid 2 times \\| "));
	ck_assert_ptr_nonnull(strstr(m, "\n````sh\nfaultline replay x --label '```'\n````\n"));
	ck_assert_ptr_null(strstr(m, "<b>"));
	free(m);
	report_destroy(r);
}
END_TEST

START_TEST(test_write_all_leaves_four_files_and_no_temporary)
{
	char *dir = tmpdir_make();
	char out[512], err[512] = "";
	snprintf(out, sizeof out, "%s/a/b/c", dir);
	struct report *r = report_fixture();
	ck_assert_msg(report_write_all(r, out, err, sizeof err) == RESULT_OK, "%s", err);
	static const char *const names[] = {"report.json", "junit.xml", "report.md",
	                                    "report.html"};
	for (size_t i = 0; i < 4; i++) {
		char p[600];
		snprintf(p, sizeof p, "%s/%s", out, names[i]);
		struct stat st;
		ck_assert_int_eq(stat(p, &st), 0);
		ck_assert_int_gt(st.st_size, 100);
	}
	char cmd[700];
	snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 4", out);
	ck_assert_int_eq(system(cmd), 0);
	/* Writing into a path that is a file fails with its name. */
	char file_as_dir[600];
	snprintf(file_as_dir, sizeof file_as_dir, "%s/report.json", out);
	ck_assert_int_eq(report_write_all(r, file_as_dir, err, sizeof err), RESULT_ERROR);
	ck_assert_ptr_nonnull(strstr(err, file_as_dir));
	report_destroy(r);
	tmpdir_remove(dir);
}
END_TEST

START_TEST(test_read_refuses_file_past_maximum)
{
	char *dir = tmpdir_make();
	char p[512], err[512] = "";
	snprintf(p, sizeof p, "%s/big", dir);
	file_put(p, "0123456789");
	char *data = NULL;
	size_t len = 0;
	ck_assert_int_eq(report_file_read(p, 9, &data, &len, err, sizeof err), RESULT_REJECT);
	ck_assert_ptr_nonnull(strstr(err, "larger than 9 bytes"));
	ck_assert_int_eq(report_file_read(p, 10, &data, &len, err, sizeof err), RESULT_OK);
	ck_assert_uint_eq(len, 10);
	free(data);
	tmpdir_remove(dir);
}
END_TEST

Suite *check_report_suite(void);
Suite *check_report_suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("histogram");
	tcase_add_test(tc, test_hist_bucket_edges_are_exact);
	tcase_add_test(tc, test_hist_bucket_holds_its_values);
	tcase_add_test(tc, test_hist_percentile_is_bucket_upper_bound);
	suite_add_tcase(s, tc);

	tc = tcase_create("building");
	tcase_add_test(tc, test_add_result_rejects_same_scenario_and_variant);
	tcase_add_test(tc, test_violation_keeps_lowest_seed_with_its_timeline);
	tcase_add_test(tc, test_timeline_keeps_the_last_events_and_counts_dropped);
	tcase_add_test(tc, test_counts_add_up_by_name_and_stop_at_maximum);
	tcase_add_test(tc, test_add_file_refuses_another_digest_for_same_path);
	tcase_add_test(tc, test_text_dup_makes_utf8_and_bounds_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("json");
	tcase_add_test(tc, test_json_round_trip_is_byte_identical);
	tcase_add_test(tc, test_json_layout_has_contract_fields);
	tcase_add_test(tc, test_json_sample_is_canonical);
	tcase_add_test(tc, test_json_rejects_other_schema_version);
	tcase_add_test(tc, test_json_names_missing_field);
	tcase_add_test(tc, test_json_names_field_of_wrong_type);
	tcase_add_test(tc, test_json_rejects_contradictions);
	tcase_add_test(tc, test_json_reports_syntax_error_position);
	tcase_add_test(tc, test_read_json_names_unreadable_file);
	tcase_add_test(tc, test_json_refuses_seed_past_json_integer);
	tcase_add_test(tc, test_read_refuses_file_past_maximum);
	suite_add_tcase(s, tc);

	tc = tcase_create("merge");
	tcase_add_test(tc, test_merge_of_parts_equals_whole);
	tcase_add_test(tc, test_merge_through_files_equals_whole);
	tcase_add_test(tc, test_merge_refuses_overlapping_seeds);
	tcase_add_test(tc, test_merge_refuses_other_mode_and_changed_file);
	tcase_add_test(tc, test_merge_exercised_when_any_part_was);
	suite_add_tcase(s, tc);

	tc = tcase_create("writers");
	tcase_add_test(tc, test_textbuf_escapes_and_drops_what_xml_forbids);
	tcase_add_test(tc, test_textbuf_formats_durations);
	tcase_add_test(tc, test_junit_has_suite_per_scenario_and_case_per_invariant);
	tcase_add_test(tc, test_html_escapes_hostile_text_and_is_self_contained);
	tcase_add_test(tc, test_html_matrix_says_state_in_words);
	tcase_add_test(tc, test_junit_green_matrix_has_no_failure);
	tcase_add_test(tc, test_coverage_table_sums_a_fix_per_variant);
	tcase_add_test(tc, test_md_escapes_cells_and_fences_replay);
	tcase_add_test(tc, test_write_all_leaves_four_files_and_no_temporary);
	suite_add_tcase(s, tc);
	return s;
}
