/* tests/check_fuzz_corpus.c - replays every committed fuzz input (each
 * file of fuzz/corpus/<name>) through the entry function its libFuzzer
 * target uses, so `make test` re-checks all inputs found so far, under ASan
 * and UBSan in SANITIZE=1 builds. The entry functions are compiled in from
 * fuzz/fuzz_<name>.c. Not a fuzzer: nothing is mutated here. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/scenario_load.h"
#include "core/assert.h"
#include "fuzz/fuzz.h"

#include "fuzz/fuzz_pg_wire.c"
#include "fuzz/fuzz_quote_email.c"
#include "fuzz/fuzz_resp_wire.c"
#include "fuzz/fuzz_scenario.c"
#include "fuzz/fuzz_stripe_sig.c"
#include "fuzz/fuzz_webhook.c"

#define CORPUS_ROOT "fuzz/corpus/"
#define CORPUS_FILES_MAX 20000         /* inputs replayed per target */
#define CORPUS_INPUT_MAX ((1u << 20) + 1) /* bytes read of one input: the
                                        * scenario loader's limit and one */

typedef int corpus_entry_fn(const uint8_t *data, size_t size);

/* The input being replayed, named in any assertion's message. */
static char corpus_current[512];

static void corpus_describe(char *buf, size_t size)
{
	snprintf(buf, size, "fuzz input %s", corpus_current);
}

/* Runs every file of fuzz/corpus/<name> through entry, each from a buffer
 * of exactly its size (so ASan sees a read past the end). Returns how many
 * ran; an input that breaks a property aborts the test with its name. */
static int corpus_replay(const char *name, corpus_entry_fn *entry)
{
	char dir[256];
	snprintf(dir, sizeof dir, CORPUS_ROOT "%s", name);
	DIR *d = opendir(dir);
	ck_assert_msg(d != NULL, "cannot open %s (run from the top of the tree)", dir);
	static uint8_t buf[CORPUS_INPUT_MAX];
	int n = 0;
	assert_set_context(corpus_describe);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		ck_assert_int_lt(n, CORPUS_FILES_MAX);
		snprintf(corpus_current, sizeof corpus_current, "%s/%s", dir, e->d_name);
		FILE *f = fopen(corpus_current, "rb");
		ck_assert_msg(f != NULL, "cannot open %s", corpus_current);
		size_t len = fread(buf, 1, sizeof buf, f);
		fclose(f);
		ck_assert_msg(len < sizeof buf, "%s is larger than any target reads", corpus_current);
		uint8_t *copy = malloc(len > 0 ? len : 1);
		ck_assert_ptr_nonnull(copy);
		memcpy(copy, buf, len);
		ck_assert_int_eq(entry(copy, len), 0);
		free(copy);
		n++;
	}
	closedir(d);
	assert_set_context(NULL);
	return n;
}

/* Each corpus holds at least its hand-made seeds (fuzz/make_seeds.py). */
#define CORPUS_SEEDS_MIN 10

START_TEST(test_fuzz_corpus_scenario_loads_or_locates_every_input)
{
	ck_assert_int_ge(corpus_replay("scenario", fuzz_scenario_one), CORPUS_SEEDS_MIN);
}
END_TEST

START_TEST(test_fuzz_corpus_stripe_sig_keeps_the_contract_on_every_input)
{
	ck_assert_int_ge(corpus_replay("stripe_sig", fuzz_stripe_sig_one), CORPUS_SEEDS_MIN);
}
END_TEST

START_TEST(test_fuzz_corpus_webhook_keeps_bad_deliveries_out_of_the_database)
{
	ck_assert_int_ge(corpus_replay("webhook", fuzz_webhook_one), CORPUS_SEEDS_MIN);
}
END_TEST

START_TEST(test_fuzz_corpus_quote_email_never_mails_invalid_data_or_injects_headers)
{
	ck_assert_int_ge(corpus_replay("quote_email", fuzz_quote_email_one), CORPUS_SEEDS_MIN);
}
END_TEST

START_TEST(test_fuzz_corpus_resp_wire_frames_alike_whole_and_in_pieces)
{
	ck_assert_int_ge(corpus_replay("resp_wire", fuzz_resp_wire_one), CORPUS_SEEDS_MIN);
}
END_TEST

START_TEST(test_fuzz_corpus_pg_wire_frames_alike_whole_and_in_pieces)
{
	ck_assert_int_ge(corpus_replay("pg_wire", fuzz_pg_wire_one), CORPUS_SEEDS_MIN);
}
END_TEST

/* The harnesses themselves: a property they check does fire. A forged
 * signature that verified would be a finding; here the reference and the
 * verifier must agree on a header the harness did not sign. */
START_TEST(test_fuzz_corpus_harness_refuses_a_forged_signature)
{
	static const char forged[] = "t=1700000000,v1=0000000000000000000000000000000000000000000000000000000000000000";
	enum stripe_sig_status st =
	        stripe_sig_verify(FUZZ_SECRET, forged, "{}", 2, FUZZ_NOW_S, STRIPE_SIG_TOLERANCE_S);
	ck_assert_int_eq(st, STRIPE_SIG_MISMATCH);
	ck_assert_int_eq(fuzz_sig_reference(forged, "{}", 2, FUZZ_NOW_S, STRIPE_SIG_TOLERANCE_S), STRIPE_SIG_MISMATCH);
}
END_TEST

Suite *check_fuzz_corpus_suite(void);
Suite *check_fuzz_corpus_suite(void)
{
	Suite *s = suite_create("fuzz_corpus");
	TCase *tc = tcase_create("replay");
	/* A few thousand inputs per target; generous for ASan builds. */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_fuzz_corpus_scenario_loads_or_locates_every_input);
	tcase_add_test(tc, test_fuzz_corpus_stripe_sig_keeps_the_contract_on_every_input);
	tcase_add_test(tc, test_fuzz_corpus_webhook_keeps_bad_deliveries_out_of_the_database);
	tcase_add_test(tc, test_fuzz_corpus_quote_email_never_mails_invalid_data_or_injects_headers);
	tcase_add_test(tc, test_fuzz_corpus_resp_wire_frames_alike_whole_and_in_pieces);
	tcase_add_test(tc, test_fuzz_corpus_pg_wire_frames_alike_whole_and_in_pieces);
	tcase_add_test(tc, test_fuzz_corpus_harness_refuses_a_forged_signature);
	suite_add_tcase(s, tc);
	return s;
}
