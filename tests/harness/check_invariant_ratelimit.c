/* tests/harness/check_invariant_ratelimit.c - the rate limiter's invariants on
 * hand-made histories, one test per clause: a history that holds, and the
 * smallest change that breaks it, with the message naming what broke. */
#include <check.h>
#include <string.h>

#include "harness/invariant.h"

#define MS 1000u

static struct history empty(void)
{
	struct history h;
	memset(&h, 0, sizeof h);
	h.end_us = 1000000000;
	return h;
}

/* A window of 10 ms, limit n, fail open. */
static struct history rl_history(struct hist_rl_request *r, size_t n, uint32_t limit)
{
	struct history h = empty();
	h.rl_limit = limit;
	h.rl_window_us = 10 * MS;
	h.rl_fail_open = true;
	h.rl = r;
	h.nrl = n;
	return h;
}

/* A healthy request of user u from t to t + 100 us. */
static struct hist_rl_request hit(uint32_t u, uint64_t t, enum hist_rl_verdict verdict)
{
	return (struct hist_rl_request){.user = u, .done = true, .verdict = verdict,
	                                .start_us = t, .end_us = t + 100, .healthy = true};
}

static bool holds(const struct history *h, struct inv_violation *v)
{
	return invariant_check(INV_RATELIMIT_WINDOW, h, v);
}

START_TEST(test_no_lockout_breaks_on_key_without_ttl)
{
	struct history h = empty();
	h.rl_limit = 5;
	h.rl_window_us = 60000000;
	struct hist_rl_ttl obs[2] = {{.user = 0, .t_us = 10, .pttl_ms = 59000},
	                             {.user = 1, .t_us = 20, .pttl_ms = -1}};
	h.rl_ttl = obs;
	h.nrl_ttl = 1;
	struct inv_violation v;
	ck_assert(invariant_check(INV_NO_LOCKOUT, &h, &v));
	h.nrl_ttl = 2;
	ck_assert(!invariant_check(INV_NO_LOCKOUT, &h, &v));
	ck_assert_uint_eq(v.t_us, 20);
	ck_assert_ptr_nonnull(strstr(v.message, "u1 has no TTL"));
}
END_TEST

START_TEST(test_no_lockout_breaks_on_ttl_longer_than_window)
{
	struct history h = empty();
	h.rl_limit = 5;
	h.rl_window_us = 60000000;
	struct hist_rl_ttl obs = {.user = 2, .t_us = 5, .pttl_ms = 61000};
	h.rl_ttl = &obs;
	h.nrl_ttl = 1;
	struct inv_violation v;
	ck_assert(!invariant_check(INV_NO_LOCKOUT, &h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "longer than"));
}
END_TEST

START_TEST(test_no_lockout_breaks_when_probe_rejected)
{
	struct history h = empty();
	h.rl_limit = 5;
	h.rl_window_us = 1000;
	struct hist_rl_request r[2] = {
		{.user = 0, .done = true, .verdict = HIST_RL_REJECT},
		{.user = 0, .probe = true, .done = true, .verdict = HIST_RL_REJECT, .end_us = 99},
	};
	h.rl = r;
	h.nrl = 1;
	struct inv_violation v;
	ck_assert(invariant_check(INV_NO_LOCKOUT, &h, &v));
	h.nrl = 2;
	ck_assert(!invariant_check(INV_NO_LOCKOUT, &h, &v));
	ck_assert_uint_eq(v.t_us, 99);
	r[1].verdict = HIST_RL_ALLOW;
	ck_assert(invariant_check(INV_NO_LOCKOUT, &h, &v));
}
END_TEST

START_TEST(test_window_error_breaks_the_fail_open_policy)
{
	struct hist_rl_request r[2] = {hit(0, 0, HIST_RL_ALLOW), hit(0, 1 * MS, HIST_RL_ALLOW)};
	r[1].healthy = false; /* Redis failed during it: allowed, as the policy says */
	struct history h = rl_history(r, 2, 5);
	struct inv_violation v;
	ck_assert(holds(&h, &v));
	r[1].verdict = HIST_RL_ERROR;
	ck_assert(!holds(&h, &v));
	ck_assert_uint_eq(v.t_us, 1 * MS + 100);
	ck_assert_ptr_nonnull(strstr(v.message, "fail open"));
	/* Failing closed is the policy asked for: an error is its answer to a
	 * failure, but never while Redis is healthy. */
	h.rl_fail_open = false;
	ck_assert(holds(&h, &v));
	r[1].healthy = true;
	ck_assert(!holds(&h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "error while Redis was healthy"));
}
END_TEST

START_TEST(test_window_policy_decides_while_redis_is_down)
{
	struct hist_rl_request r[2] = {hit(0, 0, HIST_RL_ALLOW), hit(0, 1 * MS, HIST_RL_ALLOW)};
	r[1].healthy = false;
	r[1].down_throughout = true; /* nothing could count it */
	struct history h = rl_history(r, 2, 5);
	struct inv_violation v;
	ck_assert(holds(&h, &v));
	r[1].verdict = HIST_RL_REJECT; /* fail open, yet refused */
	ck_assert(!holds(&h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "refused while Redis was down"));
	h.rl_fail_open = false;
	ck_assert(holds(&h, &v));
	r[1].verdict = HIST_RL_ERROR;
	ck_assert(holds(&h, &v));
	r[1].verdict = HIST_RL_ALLOW; /* fail closed, yet allowed */
	ck_assert(!holds(&h, &v));
	ck_assert_uint_eq(v.t_us, 1 * MS + 100);
	ck_assert_ptr_nonnull(strstr(v.message, "allowed while Redis was down"));
	/* Down at its start only: the store may have counted it. */
	r[1].down_throughout = false;
	ck_assert(holds(&h, &v));
}
END_TEST

START_TEST(test_window_never_more_than_n_allowed)
{
	struct hist_rl_request r[4] = {hit(0, 0, HIST_RL_ALLOW), hit(0, 1 * MS, HIST_RL_ALLOW),
	                               hit(0, 2 * MS, HIST_RL_REJECT), hit(0, 3 * MS, HIST_RL_REJECT)};
	struct history h = rl_history(r, 4, 2);
	struct inv_violation v;
	ck_assert(holds(&h, &v));
	r[2].verdict = HIST_RL_ALLOW; /* limit + 1 admitted */
	ck_assert(!holds(&h, &v));
	ck_assert_uint_eq(v.t_us, 2 * MS + 100);
	ck_assert_ptr_nonnull(strstr(v.message, "allowed 3 times in one 10 ms window (limit 2)"));
}
END_TEST

START_TEST(test_window_first_n_allowed)
{
	struct hist_rl_request r[3] = {hit(0, 0, HIST_RL_ALLOW), hit(0, 1 * MS, HIST_RL_ALLOW),
	                               hit(0, 2 * MS, HIST_RL_REJECT)};
	struct history h = rl_history(r, 3, 2);
	struct inv_violation v;
	ck_assert(holds(&h, &v));
	r[1].verdict = HIST_RL_REJECT; /* the limit-th refused (< for <=) */
	ck_assert(!holds(&h, &v));
	ck_assert_uint_eq(v.t_us, 1 * MS + 100);
	ck_assert_ptr_nonnull(strstr(v.message, "rejected with only 1 of its own requests allowed"));
	/* Concurrent hits: whichever Redis applied first, two of three are
	 * allowed; the rejected one may have come last. */
	struct hist_rl_request c[3] = {hit(0, 0, HIST_RL_REJECT), hit(0, 0, HIST_RL_ALLOW),
	                               hit(0, 0, HIST_RL_ALLOW)};
	h = rl_history(c, 3, 2);
	ck_assert(holds(&h, &v));
	c[2].verdict = HIST_RL_REJECT;
	ck_assert(!holds(&h, &v));
}
END_TEST

START_TEST(test_window_nothing_allowed_after_the_limit)
{
	struct hist_rl_request r[3] = {hit(0, 0, HIST_RL_ALLOW), hit(0, 1 * MS, HIST_RL_REJECT),
	                               hit(0, 2 * MS, HIST_RL_REJECT)};
	struct history h = rl_history(r, 3, 1);
	struct inv_violation v;
	ck_assert(holds(&h, &v));
	r[2].verdict = HIST_RL_ALLOW; /* the count went down inside the window */
	ck_assert(!holds(&h, &v));
	ck_assert_uint_eq(v.t_us, 2 * MS + 100);
	ck_assert_ptr_nonnull(strstr(v.message, "allowed 2 times"));
}
END_TEST

/* Steady traffic past the limit: one hit every 6 ms, limit 1 per 10 ms.
 * The windows begin at 0, 12 and 24 ms; a window that slid with each hit
 * would never end, and the hit at 12 ms would be rejected. */
START_TEST(test_window_is_fixed_not_sliding)
{
	struct hist_rl_request r[5] = {hit(0, 0, HIST_RL_ALLOW), hit(0, 6 * MS, HIST_RL_REJECT),
	                               hit(0, 12 * MS, HIST_RL_ALLOW), hit(0, 18 * MS, HIST_RL_REJECT),
	                               hit(0, 24 * MS, HIST_RL_ALLOW)};
	struct history h = rl_history(r, 5, 1);
	struct inv_violation v;
	ck_assert(holds(&h, &v));
	r[2].verdict = HIST_RL_REJECT;
	r[4].verdict = HIST_RL_REJECT;
	ck_assert(!holds(&h, &v));
	ck_assert_uint_eq(v.t_us, 12 * MS + 100);
	ck_assert_ptr_nonnull(strstr(v.message, "rejected with only 0"));
	/* Nor does a later hit restart the window: the one at 18 ms belongs
	 * to the window of 12 ms and is rejected, whatever came at 6 ms. */
	r[2].verdict = HIST_RL_ALLOW;
	r[4].verdict = HIST_RL_ALLOW;
	r[3].verdict = HIST_RL_ALLOW;
	ck_assert(!holds(&h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "allowed 2 times"));
}
END_TEST

/* Hits at W - 1 ms, W and W + 1 ms after the first (here with no latency):
 * W - 1 ms is inside the window, W + 1 ms begins a new one and is allowed,
 * and W is within Redis's 1 ms expiry resolution: either answer is right. */
START_TEST(test_window_boundary)
{
	struct hist_rl_request r[4] = {hit(0, 0, HIST_RL_ALLOW), hit(0, 9 * MS, HIST_RL_REJECT),
	                               hit(0, 10 * MS, HIST_RL_REJECT), hit(0, 11 * MS, HIST_RL_ALLOW)};
	for (int i = 0; i < 4; i++)
		r[i].end_us = r[i].start_us;
	struct history h = rl_history(r, 4, 1);
	struct inv_violation v;
	ck_assert(holds(&h, &v));
	r[2].verdict = HIST_RL_ALLOW;
	r[3].verdict = HIST_RL_REJECT; /* W began the new window: W + 1 ms is its second */
	ck_assert(holds(&h, &v));
	r[2].verdict = HIST_RL_REJECT;
	ck_assert(!holds(&h, &v)); /* neither began it */
	ck_assert_uint_eq(v.t_us, 11 * MS);
	r[3].verdict = HIST_RL_ALLOW;
	r[1].verdict = HIST_RL_ALLOW; /* W - 1 ms is still the first window */
	ck_assert(!holds(&h, &v));
	ck_assert_uint_eq(v.t_us, 9 * MS);
}
END_TEST

START_TEST(test_window_users_are_isolated)
{
	struct hist_rl_request r[4] = {hit(0, 0, HIST_RL_ALLOW), hit(1, 1 * MS, HIST_RL_ALLOW),
	                               hit(0, 2 * MS, HIST_RL_REJECT), hit(1, 3 * MS, HIST_RL_REJECT)};
	struct history h = rl_history(r, 4, 1);
	struct inv_violation v;
	ck_assert(holds(&h, &v));
	r[1].verdict = HIST_RL_REJECT; /* u0's hit counted against u1 */
	ck_assert(!holds(&h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "user u1 was rejected with only 0 of its own"));
}
END_TEST

/* A window during which Redis failed is not judged: failing open or a lost
 * key may admit more. After the failure the user's key is known again once
 * a hit comes W (+ 1 ms) after the last one: from there windows are judged. */
START_TEST(test_window_judged_only_while_redis_healthy)
{
	struct hist_rl_request r[5] = {hit(0, 0, HIST_RL_ALLOW), hit(0, 1 * MS, HIST_RL_ALLOW),
	                               hit(0, 2 * MS, HIST_RL_ALLOW), hit(0, 5 * MS, HIST_RL_ALLOW),
	                               hit(0, 30 * MS, HIST_RL_REJECT)};
	struct history h = rl_history(r, 5, 1);
	struct inv_violation v;
	ck_assert(!holds(&h, &v));
	r[1].healthy = false; /* it failed open */
	r[2].faults = 1;      /* a fault (a restart that lost the key) before it */
	r[3].faults = 1;
	r[4].faults = 1;
	ck_assert(!holds(&h, &v)); /* 30 ms is past every key: rejected with none allowed */
	ck_assert_uint_eq(v.t_us, 30 * MS + 100);
	r[4].verdict = HIST_RL_ALLOW;
	ck_assert(holds(&h, &v));
	/* Right after the failure nothing is known: a rejection there is not
	 * judged (an early key may still be counting). */
	r[3].verdict = HIST_RL_REJECT;
	r[2].verdict = HIST_RL_REJECT;
	ck_assert(holds(&h, &v));
}
END_TEST

/* The checker orders the requests by user and time itself, and users may be
 * numbered sparsely. */
START_TEST(test_window_orders_the_history_itself)
{
	struct hist_rl_request r[4] = {hit(7, 2 * MS, HIST_RL_REJECT), hit(4000000000u, 0, HIST_RL_ALLOW),
	                               hit(7, 0, HIST_RL_ALLOW), hit(4000000000u, 1 * MS, HIST_RL_ALLOW)};
	struct history h = rl_history(r, 4, 1);
	struct inv_violation v;
	ck_assert(!holds(&h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "user u4000000000 was allowed 2 times"));
	r[3].verdict = HIST_RL_REJECT;
	ck_assert(holds(&h, &v));
}
END_TEST

/* A refused id (empty, over-long, none) answered as a counted hit, or a
 * key left for one, breaks the window's contract; three refused, none. */
START_TEST(test_window_refused_ids_are_refused)
{
	struct hist_rl_request r[1] = {hit(0, 0, HIST_RL_ALLOW)};
	struct history h = rl_history(r, 1, 2);
	struct inv_violation v;
	h.rl_bad_calls = 3;
	ck_assert(holds(&h, &v));
	h.rl_bad_counted = 1;
	h.rl_bad_us = 700;
	ck_assert(!holds(&h, &v));
	ck_assert_uint_eq(v.t_us, 700);
	ck_assert_ptr_nonnull(strstr(v.message, "answered as counted hits"));
	h.rl_bad_counted = 0;
	h.rl_bad_keys = 1;
	ck_assert(!holds(&h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "Redis key(s) exist for user ids"));
}
END_TEST

/* More INCRs for a user's key than hits begun: a hit counted twice. */
START_TEST(test_window_breaks_on_a_hit_counted_twice)
{
	struct hist_rl_request r[1] = {hit(0, 0, HIST_RL_ALLOW)};
	struct history h = rl_history(r, 1, 2);
	struct inv_violation v;
	ck_assert(holds(&h, &v));
	h.rl_incr_again = true;
	h.rl_incr_again_user = 3;
	h.rl_incr_again_us = 900;
	ck_assert(!holds(&h, &v));
	ck_assert_uint_eq(v.t_us, 900);
	ck_assert_ptr_nonnull(strstr(v.message, "user u3: its key got more INCRs than it had hits"));
}
END_TEST

/* A hit whose count failed (an error reply) is the policy's to decide. */
START_TEST(test_window_policy_decides_an_uncounted_hit)
{
	struct hist_rl_request r[1] = {hit(0, 0, HIST_RL_ALLOW)};
	r[0].count_failed = true;
	r[0].healthy = false;
	struct history h = rl_history(r, 1, 2);
	struct inv_violation v;
	ck_assert(holds(&h, &v));
	r[0].verdict = HIST_RL_REJECT;
	ck_assert(!holds(&h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "could not be counted and the policy is to fail open"));
	h.rl_fail_open = false;
	ck_assert(holds(&h, &v));
	r[0].verdict = HIST_RL_ALLOW;
	ck_assert(!holds(&h, &v));
	ck_assert_ptr_nonnull(strstr(v.message, "the policy is to fail closed"));
}
END_TEST

Suite *check_invariant_ratelimit_suite(void);
Suite *check_invariant_ratelimit_suite(void)
{
	Suite *s = suite_create("invariant_ratelimit");
	TCase *tc = tcase_create("no-lockout");
	tcase_add_test(tc, test_no_lockout_breaks_on_key_without_ttl);
	tcase_add_test(tc, test_no_lockout_breaks_on_ttl_longer_than_window);
	tcase_add_test(tc, test_no_lockout_breaks_when_probe_rejected);
	suite_add_tcase(s, tc);
	tc = tcase_create("ratelimit-window");
	tcase_add_test(tc, test_window_error_breaks_the_fail_open_policy);
	tcase_add_test(tc, test_window_policy_decides_while_redis_is_down);
	tcase_add_test(tc, test_window_never_more_than_n_allowed);
	tcase_add_test(tc, test_window_first_n_allowed);
	tcase_add_test(tc, test_window_nothing_allowed_after_the_limit);
	tcase_add_test(tc, test_window_is_fixed_not_sliding);
	tcase_add_test(tc, test_window_boundary);
	tcase_add_test(tc, test_window_users_are_isolated);
	tcase_add_test(tc, test_window_judged_only_while_redis_healthy);
	tcase_add_test(tc, test_window_orders_the_history_itself);
	tcase_add_test(tc, test_window_refused_ids_are_refused);
	tcase_add_test(tc, test_window_breaks_on_a_hit_counted_twice);
	tcase_add_test(tc, test_window_policy_decides_an_uncounted_hit);
	suite_add_tcase(s, tc);
	return s;
}
