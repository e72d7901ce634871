/* tests/harness/check_invariant_dedup.c - request de-duplication's invariants
 * on hand-made histories, one test per clause: a history that holds, and the
 * smallest change that breaks it, with the message naming what broke; and
 * the lost-reply outcomes that scenarios expect, counted in simulated runs. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "harness/invariant.h"
#include "harness/scenario_load.h"
#include "harness/world.h"

static struct history empty(void)
{
	struct history h;
	memset(&h, 0, sizeof h);
	h.end_us = 1000000;
	return h;
}

START_TEST(test_no_false_duplicate_breaks_when_nobody_claimed)
{
	struct history h = empty();
	struct hist_dd_request r[2] = {
		{.request = 7, .seq = 0, .done = true, .claimed = true, .claimed_us = 3, .end_us = 5},
		{.request = 7, .seq = 1, .done = true, .duplicate = true, .end_us = 9},
	};
	h.dd = r;
	h.ndd = 2;
	struct inv_violation v;
	ck_assert(invariant_check(INV_NO_FALSE_DUPLICATE, &h, &v));
	/* The legacy bug: a timeout (no write at all) called a duplicate. */
	r[0].duplicate = true;
	r[0].claimed = false;
	ck_assert(!invariant_check(INV_NO_FALSE_DUPLICATE, &h, &v));
	ck_assert_uint_eq(v.t_us, 5);
	ck_assert_ptr_nonnull(strstr(v.message, "req-7 was rejected as a duplicate"));
	/* A copy that overtook the first one and claimed the key makes the
	 * first one's rejection legitimate. */
	r[1].duplicate = false;
	r[1].claimed = true;
	r[1].claimed_us = 4;
	ck_assert(invariant_check(INV_NO_FALSE_DUPLICATE, &h, &v));
	/* Its own lost write is not another copy's claim. */
	r[1].claimed = false;
	r[0].claimed = true;
	r[0].claimed_us = 2;
	ck_assert(!invariant_check(INV_NO_FALSE_DUPLICATE, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "its own write"));
}
END_TEST

/* A key the contract refuses (empty, over 200 octets) must be refused; a
 * usable key must not be. */
START_TEST(test_no_false_duplicate_breaks_on_bad_key_accepted)
{
	struct history h = empty();
	struct hist_dd_request r[2] = {
		{.request = 3, .seq = 0, .done = true, .claimed = true, .claimed_us = 3, .end_us = 5},
		{.request = 4, .seq = 1, .done = true, .bad_key = true, .refused = true, .end_us = 9},
	};
	h.dd = r;
	h.ndd = 2;
	struct inv_violation v;
	ck_assert(invariant_check(INV_NO_FALSE_DUPLICATE, &h, &v));
	r[1].refused = false; /* an empty key let through as new */
	ck_assert(!invariant_check(INV_NO_FALSE_DUPLICATE, &h, &v));
	ck_assert_uint_eq(v.t_us, 9);
	ck_assert_ptr_nonnull(strstr(v.message, "request bad-4, whose key is empty, was answered new"));
	r[1].bad_key = false; /* a usable key refused */
	r[1].refused = true;
	ck_assert(!invariant_check(INV_NO_FALSE_DUPLICATE, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "req-4 was refused"));
}
END_TEST

START_TEST(test_dedup_effective_breaks_on_healthy_duplicate_accepted)
{
	struct history h = empty();
	h.dd_ttl_us = 10000;
	struct hist_dd_request r[2] = {
		{.request = 1, .seq = 0, .done = true, .start_us = 0, .end_us = 100, .healthy = true,
		 .claimed = true, .claimed_us = 50},
		{.request = 1, .seq = 1, .done = true, .start_us = 200, .end_us = 300, .healthy = true,
		 .duplicate = true},
	};
	h.dd = r;
	h.ndd = 2;
	struct inv_violation v;
	ck_assert(invariant_check(INV_DEDUP_EFFECTIVE, &h, &v));
	r[1].duplicate = false;
	r[1].claimed = true; /* a restart in between lost the key: it may claim */
	r[1].claimed_us = 250;
	h.redis_restart_us[0] = 150;
	h.nredis_restarts = 1;
	ck_assert(!invariant_check(INV_DEDUP_EFFECTIVE, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "true duplicate of req-1 was accepted"));
	/* Not a violation while Redis was failing, or after the TTL. */
	r[1].healthy = false;
	ck_assert(invariant_check(INV_DEDUP_EFFECTIVE, &h, &v));
	r[1].healthy = true;
	r[1].start_us = 20000;
	r[1].end_us = 20100;
	ck_assert(invariant_check(INV_DEDUP_EFFECTIVE, &h, &v));
}
END_TEST

/* A repeat after the TTL is a first request again: rejecting it breaks the
 * contract, within the TTL (and Redis's 1 ms expiry resolution) it is a
 * duplicate. */
START_TEST(test_no_false_duplicate_after_the_ttl)
{
	struct history h = empty();
	h.dd_ttl_us = 10000;
	struct hist_dd_request r[2] = {
		{.request = 3, .seq = 0, .done = true, .claimed = true, .claimed_us = 50,
		 .start_us = 0, .end_us = 100},
		{.request = 3, .seq = 1, .done = true, .duplicate = true, .start_us = 10900,
		 .end_us = 11000},
	};
	h.dd = r;
	h.ndd = 2;
	struct inv_violation v;
	ck_assert(invariant_check(INV_NO_FALSE_DUPLICATE, &h, &v));
	r[1].start_us = 11050; /* 10 ms + 1 ms after the claim */
	r[1].end_us = 11100;
	ck_assert(!invariant_check(INV_NO_FALSE_DUPLICATE, &h, &v));
	ck_assert_uint_eq(v.t_us, 11100);
	ck_assert_ptr_nonnull(strstr(v.message, "req-3 was rejected as a duplicate although the TTL "
	                                        "of every earlier claim had passed"));
}
END_TEST

/* A refused key is answered with the verdict NEW (core/dedup.h). */
START_TEST(test_no_false_duplicate_breaks_on_refusal_read_as_duplicate)
{
	struct history h = empty();
	struct hist_dd_request r[1] = {
		{.request = 9, .done = true, .bad_key = true, .refused = true, .end_us = 40},
	};
	h.dd = r;
	h.ndd = 1;
	struct inv_violation v;
	ck_assert(invariant_check(INV_NO_FALSE_DUPLICATE, &h, &v));
	r[0].refused_as_duplicate = true;
	ck_assert(!invariant_check(INV_NO_FALSE_DUPLICATE, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "bad-9 was refused with the verdict duplicate"));
}
END_TEST

START_TEST(test_no_false_duplicate_breaks_on_refused_key)
{
	struct history h = empty();
	struct hist_dd_request r = {.request = 4, .done = true, .refused = true, .end_us = 7};
	h.dd = &r;
	h.ndd = 1;
	struct inv_violation v;
	ck_assert(!invariant_check(INV_NO_FALSE_DUPLICATE, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "req-4 was refused"));
	r.refused = false;
	r.claimed = true;
	ck_assert(invariant_check(INV_NO_FALSE_DUPLICATE, &h, &v));
}
END_TEST

/* Under failure a duplicate may be let through, but only as a fail-open
 * (counted): "new" without failing open means the copy holds the key. Two
 * instances whose tokens collide break it: the second reads the first's
 * token as its own. */
START_TEST(test_dedup_effective_counts_what_slips_through)
{
	struct history h = empty();
	h.dd_ttl_us = 10000;
	struct hist_dd_request r[2] = {
		{.request = 5, .seq = 0, .done = true, .claimed = true, .claimed_us = 10, .end_us = 20},
		{.request = 5, .seq = 1, .done = true, .failed_open = true, .start_us = 5, .end_us = 200},
	};
	h.dd = r;
	h.ndd = 2;
	struct inv_violation v;
	ck_assert(invariant_check(INV_DEDUP_EFFECTIVE, &h, &v));
	r[1].failed_open = false;
	ck_assert(!invariant_check(INV_DEDUP_EFFECTIVE, &h, &v));
	ck_assert_uint_eq(v.t_us, 200);
	ck_assert_ptr_nonnull(strstr(v.message, "req-5 was answered new without holding the key"));
}
END_TEST

/* A check asks once, and once more after a timeout: a third SET of the
 * same copy is over its budget. */
START_TEST(test_dedup_effective_breaks_on_a_third_set)
{
	struct history h = empty();
	struct hist_dd_request r[1] = {
		{.request = 4, .done = true, .claimed = true, .claimed_us = 10, .end_us = 300,
		 .sets = 2},
	};
	h.dd = r;
	h.ndd = 1;
	struct inv_violation v;
	ck_assert(invariant_check(INV_DEDUP_EFFECTIVE, &h, &v));
	r[0].sets = 3;
	ck_assert(!invariant_check(INV_DEDUP_EFFECTIVE, &h, &v));
	ck_assert_uint_eq(v.t_us, 300);
	ck_assert_ptr_nonnull(strstr(v.message, "req-4 sent its SET 3 times, over its budget of 2"));
}
END_TEST

/* Failing open says Redis did not confirm the claim: never after an OK. */
START_TEST(test_dedup_effective_breaks_on_failing_open_after_an_ok)
{
	struct history h = empty();
	struct hist_dd_request r[1] = {
		{.request = 8, .done = true, .failed_open = true, .sets = 2, .end_us = 90},
	};
	h.dd = r;
	h.ndd = 1;
	struct inv_violation v;
	ck_assert(invariant_check(INV_DEDUP_EFFECTIVE, &h, &v));
	r[0].set_ok = true;
	ck_assert(!invariant_check(INV_DEDUP_EFFECTIVE, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "req-8 failed open although Redis answered its SET OK"));
}
END_TEST

/* With NX no second copy writes the key while the first one's claim
 * lives, unless Redis restarted in between (and lost it). */
START_TEST(test_dedup_effective_breaks_when_a_live_claim_is_overwritten)
{
	struct history h = empty();
	h.dd_ttl_us = 10000000;
	struct hist_dd_request r[2] = {
		{.request = 2, .seq = 0, .done = true, .claimed = true, .claimed_us = 100, .end_us = 200},
		{.request = 2, .seq = 1, .done = true, .duplicate = true, .start_us = 300, .end_us = 400},
	};
	h.dd = r;
	h.ndd = 2;
	struct inv_violation v;
	ck_assert(invariant_check(INV_DEDUP_EFFECTIVE, &h, &v));
	r[1].duplicate = false;
	r[1].claimed = true;
	r[1].claimed_us = 350;
	ck_assert(!invariant_check(INV_DEDUP_EFFECTIVE, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "the second overwrote a live claim"));
	h.redis_restart_us[0] = 320;
	h.nredis_restarts = 1;
	ck_assert(invariant_check(INV_DEDUP_EFFECTIVE, &h, &v));
}
END_TEST

/* Half the SETs applied with their replies lost; copies 20 ms apart, so a
 * copy's retry finds either its own write or its twin's. */
static const char lost_reply_yaml[] =
	"fixes: [request-dedup]\n"
	"seeds: 1\n"
	"duration: 1m\n"
	"workload:\n"
	"  request-dedup: {requests: 40, duplicates: 1, spread: 2s, duplicate_delay: 20ms, ttl: 10s}\n"
	"faults:\n"
	"  - {target: redis, op: set, kind: timeout-applied, probability: 0.5}\n";

static void lost_reply_run(const char *yaml, enum variant var, uint64_t *own, uint64_t *other)
{
	struct scenario *sc = NULL;
	struct scenario_error err;
	ck_assert_int_eq(scenario_load_buffer("lost.yaml", yaml, strlen(yaml), &sc, &err), RESULT_OK);
	struct event_base *base = event_base_new();
	ck_assert_ptr_nonnull(base);
	struct world_config cfg = {.sc = sc, .seed = 7, .base = base};
	for (int f = 0; f < FIX_COUNT; f++)
		cfg.variants[f] = var;
	struct world_result *res = calloc(1, sizeof *res);
	ck_assert_ptr_nonnull(res);
	ck_assert_int_eq(world_run(&cfg, res), RESULT_OK);
	ck_assert_uint_eq(res->violated, 0);
	*own = res->outcomes[WO_DD_NEW_AFTER_LOST_REPLY];
	*other = res->outcomes[WO_DD_DUPLICATE_AFTER_LOST_REPLY];
	/* counted besides the copies' own outcomes, never instead of them */
	ck_assert_uint_eq(res->outcomes[WO_DD_NEW] + res->outcomes[WO_DD_DUPLICATE] +
	                  res->outcomes[WO_DD_FAILED_OPEN], 80);
	free(res);
	event_base_free(base);
	scenario_destroy(sc);
}

/* The hardened check asks again after a lost reply and answers from what
 * it finds; the seed fails open at once, so it never counts either. */
START_TEST(test_lost_reply_outcomes_count_the_questions_asked_again)
{
	uint64_t own, other;
	lost_reply_run(lost_reply_yaml, VARIANT_HARDENED, &own, &other);
	ck_assert_uint_gt(own, 0);
	ck_assert_uint_gt(other, 0);
	lost_reply_run(lost_reply_yaml, VARIANT_SEED, &own, &other);
	ck_assert_uint_eq(own, 0);
	ck_assert_uint_eq(other, 0);
	/* without faults no reply is lost and nothing is asked twice */
	char calm[sizeof lost_reply_yaml];
	memcpy(calm, lost_reply_yaml, sizeof calm);
	*strstr(calm, "faults:") = '\0';
	lost_reply_run(calm, VARIANT_HARDENED, &own, &other);
	ck_assert_uint_eq(own, 0);
	ck_assert_uint_eq(other, 0);
}
END_TEST

Suite *check_invariant_dedup_suite(void);
Suite *check_invariant_dedup_suite(void)
{
	Suite *s = suite_create("invariant_dedup");
	TCase *tc = tcase_create("no-false-duplicate");
	tcase_add_test(tc, test_no_false_duplicate_breaks_when_nobody_claimed);
	tcase_add_test(tc, test_no_false_duplicate_breaks_on_bad_key_accepted);
	tcase_add_test(tc, test_no_false_duplicate_after_the_ttl);
	tcase_add_test(tc, test_no_false_duplicate_breaks_on_refused_key);
	tcase_add_test(tc, test_no_false_duplicate_breaks_on_refusal_read_as_duplicate);
	suite_add_tcase(s, tc);
	tc = tcase_create("dedup-effective");
	tcase_add_test(tc, test_dedup_effective_breaks_on_healthy_duplicate_accepted);
	tcase_add_test(tc, test_dedup_effective_counts_what_slips_through);
	tcase_add_test(tc, test_dedup_effective_breaks_on_a_third_set);
	tcase_add_test(tc, test_dedup_effective_breaks_on_failing_open_after_an_ok);
	tcase_add_test(tc, test_dedup_effective_breaks_when_a_live_claim_is_overwritten);
	suite_add_tcase(s, tc);
	tc = tcase_create("lost-reply outcomes");
	tcase_add_test(tc, test_lost_reply_outcomes_count_the_questions_asked_again);
	suite_add_tcase(s, tc);
	return s;
}
