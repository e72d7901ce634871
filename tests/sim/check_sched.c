/* tests/check_sched.c - the scheduler: order by virtual time, ties drawn
 * from the seed, cancellation, bounded runs, and the real clock. */
#include <check.h>
#include <stdlib.h>

#include <event2/event.h>

#include "sim/prng.h"
#include "sim/sched.h"

struct fixture {
	struct event_base *base;
	struct prng rng;
	struct sched *s;
};

static void fixture_init(struct fixture *f, uint64_t seed, enum sched_clock clock)
{
	f->base = sched_base_new(clock);
	ck_assert_ptr_nonnull(f->base);
	prng_init(&f->rng, seed);
	f->s = sched_create(f->base, clock, &f->rng);
	ck_assert_ptr_nonnull(f->s);
}

static void fixture_fini(struct fixture *f)
{
	sched_destroy(f->s);
	event_base_free(f->base);
}

#define LOG_MAX 64
struct log {
	struct sched *s;
	int ids[LOG_MAX];
	uint64_t at[LOG_MAX];
	int n;
};

struct rec {
	struct log *log;
	int id;
};

static void record(void *arg)
{
	struct rec *r = arg;
	ck_assert_int_lt(r->log->n, LOG_MAX);
	r->log->ids[r->log->n] = r->id;
	r->log->at[r->log->n] = sched_now_us(r->log->s);
	r->log->n++;
}

START_TEST(test_sched_runs_timers_in_time_order)
{
	struct fixture f;
	fixture_init(&f, 1, SCHED_VIRTUAL);
	struct log log = {.s = f.s};
	uint64_t delays[] = {500, 10, 300, 0, 20};
	struct rec recs[5];
	for (int i = 0; i < 5; i++) {
		recs[i] = (struct rec){&log, i};
		sched_after(f.s, delays[i], record, &recs[i]);
	}
	ck_assert_uint_eq(sched_run(f.s, UINT64_MAX), 5);
	int want[] = {3, 1, 4, 2, 0};
	uint64_t want_at[] = {0, 10, 20, 300, 500};
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(log.ids[i], want[i]);
		ck_assert_uint_eq(log.at[i], want_at[i]);
	}
	ck_assert_uint_eq(sched_now_us(f.s), 500);
	fixture_fini(&f);
}
END_TEST

/* Virtual time does not pass in wall time: an hour of it takes no sleep. */
START_TEST(test_sched_virtual_hour_is_instant)
{
	struct fixture f;
	fixture_init(&f, 1, SCHED_VIRTUAL);
	struct log log = {.s = f.s};
	struct rec r = {&log, 1};
	sched_after(f.s, 3600ULL * 1000000, record, &r);
	ck_assert_uint_eq(sched_run(f.s, UINT64_MAX), 1);
	ck_assert_uint_eq(log.at[0], 3600ULL * 1000000);
	fixture_fini(&f);
}
END_TEST

static void order_of_ties(uint64_t seed, int out[8])
{
	struct fixture f;
	fixture_init(&f, seed, SCHED_VIRTUAL);
	struct log log = {.s = f.s};
	struct rec recs[8];
	for (int i = 0; i < 8; i++) {
		recs[i] = (struct rec){&log, i};
		sched_after(f.s, 100, record, &recs[i]);
	}
	ck_assert_uint_eq(sched_run(f.s, UINT64_MAX), 8);
	for (int i = 0; i < 8; i++) {
		out[i] = log.ids[i];
		ck_assert_uint_eq(log.at[i], 100);
	}
	fixture_fini(&f);
}

/* The seed chooses the order of simultaneous timers, and the same seed
 * chooses the same order. */
START_TEST(test_sched_ties_follow_the_seed)
{
	int a[8], b[8];
	order_of_ties((uint64_t)_i, a);
	order_of_ties((uint64_t)_i, b);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(a[i], b[i]);
}
END_TEST

START_TEST(test_sched_different_seeds_give_different_tie_orders)
{
	int first[8], other[8];
	order_of_ties(0, first);
	int differing = 0;
	for (uint64_t seed = 1; seed < 20; seed++) {
		order_of_ties(seed, other);
		for (int i = 0; i < 8; i++) {
			if (other[i] != first[i]) {
				differing++;
				break;
			}
		}
	}
	ck_assert_int_ge(differing, 15);
}
END_TEST

START_TEST(test_sched_cancel_prevents_run_and_stale_handle_is_harmless)
{
	struct fixture f;
	fixture_init(&f, 5, SCHED_VIRTUAL);
	struct log log = {.s = f.s};
	struct rec r1 = {&log, 1}, r2 = {&log, 2};
	struct sched_timer t1 = sched_after(f.s, 10, record, &r1);
	sched_after(f.s, 20, record, &r2);
	ck_assert(sched_cancel(f.s, t1));
	ck_assert(!sched_cancel(f.s, t1));
	ck_assert_uint_eq(sched_pending(f.s), 1);
	ck_assert_uint_eq(sched_run(f.s, UINT64_MAX), 1);
	ck_assert_int_eq(log.n, 1);
	ck_assert_int_eq(log.ids[0], 2);
	/* t1's slot was reused or freed: the stale handle changes nothing. */
	struct rec r3 = {&log, 3};
	sched_after(f.s, 5, record, &r3);
	ck_assert(!sched_cancel(f.s, t1));
	ck_assert_uint_eq(sched_run(f.s, UINT64_MAX), 1);
	ck_assert_int_eq(log.ids[1], 3);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_sched_run_stops_at_until)
{
	struct fixture f;
	fixture_init(&f, 5, SCHED_VIRTUAL);
	struct log log = {.s = f.s};
	struct rec r1 = {&log, 1}, r2 = {&log, 2};
	sched_after(f.s, 10, record, &r1);
	sched_after(f.s, 1000, record, &r2);
	ck_assert_uint_eq(sched_run(f.s, 500), 1);
	ck_assert_uint_eq(sched_pending(f.s), 1);
	ck_assert_uint_eq(sched_run(f.s, UINT64_MAX), 1);
	ck_assert_int_eq(log.ids[1], 2);
	fixture_fini(&f);
}
END_TEST

struct chain {
	struct sched *s;
	int left;
};

static void chain_step(void *arg)
{
	struct chain *c = arg;
	if (--c->left > 0)
		sched_after(c->s, (uint64_t)(c->left % 3), chain_step, c);
}

/* Timers scheduled from callbacks, some at the same instant, all run;
 * more than one batch's worth at one instant still all run. */
START_TEST(test_sched_callbacks_schedule_more)
{
	struct fixture f;
	fixture_init(&f, 11, SCHED_VIRTUAL);
	struct chain c = {f.s, 3 * SCHED_BATCH_MAX};
	sched_after(f.s, 0, chain_step, &c);
	ck_assert_uint_eq(sched_run(f.s, UINT64_MAX), 3 * SCHED_BATCH_MAX);
	ck_assert_int_eq(c.left, 0);
	ck_assert_uint_eq(sched_dispatched(f.s), 3 * SCHED_BATCH_MAX);
	fixture_fini(&f);
}
END_TEST

static void stop_now(void *arg)
{
	sched_stop(arg);
}

START_TEST(test_sched_stop_returns_early)
{
	struct fixture f;
	fixture_init(&f, 2, SCHED_VIRTUAL);
	struct log log = {.s = f.s};
	struct rec r = {&log, 1};
	sched_after(f.s, 10, stop_now, f.s);
	sched_after(f.s, 20, record, &r);
	sched_run(f.s, UINT64_MAX);
	ck_assert_int_eq(log.n, 0);
	ck_assert_uint_eq(sched_pending(f.s), 1);
	fixture_fini(&f);
}
END_TEST

/* The same API on the real clock: timers fire in order, after their delay. */
START_TEST(test_sched_real_clock_fires_in_order)
{
	struct fixture f;
	fixture_init(&f, 0, SCHED_REAL);
	struct log log = {.s = f.s};
	struct rec r1 = {&log, 1}, r2 = {&log, 2}, r3 = {&log, 3};
	sched_after(f.s, 20000, record, &r2);
	sched_after(f.s, 5000, record, &r1);
	struct sched_timer t = sched_after(f.s, 10000, record, &r3);
	ck_assert(sched_cancel(f.s, t));
	sched_run(f.s, UINT64_MAX);
	ck_assert_int_eq(log.n, 2);
	ck_assert_int_eq(log.ids[0], 1);
	ck_assert_int_eq(log.ids[1], 2);
	ck_assert_uint_ge(log.at[0], 5000);
	ck_assert_uint_ge(log.at[1], 20000);
	fixture_fini(&f);
}
END_TEST

/* A real-clock run ended early by sched_stop must not leave its end
 * pending: the next run gets its whole time. */
START_TEST(test_sched_real_stop_does_not_cut_the_next_run)
{
	struct fixture f;
	fixture_init(&f, 0, SCHED_REAL);
	sched_after(f.s, 1000, stop_now, f.s);
	sched_run(f.s, sched_now_us(f.s) + 30000); /* stopped after ~1 ms */
	struct log log = {.s = f.s};
	struct rec r = {&log, 1};
	uint64_t t0 = sched_now_us(f.s);
	sched_after(f.s, 60000, record, &r);
	sched_run(f.s, t0 + 200000);
	ck_assert_int_eq(log.n, 1);
	ck_assert_uint_ge(log.at[0], t0 + 60000);
	ck_assert_uint_eq(sched_pending(f.s), 0);
	fixture_fini(&f);
}
END_TEST

Suite *check_sched_suite(void);
Suite *check_sched_suite(void)
{
	Suite *s = suite_create("sched");
	TCase *tc = tcase_create("order");
	tcase_add_test(tc, test_sched_runs_timers_in_time_order);
	tcase_add_test(tc, test_sched_virtual_hour_is_instant);
	tcase_add_loop_test(tc, test_sched_ties_follow_the_seed, 0, 16);
	tcase_add_test(tc, test_sched_different_seeds_give_different_tie_orders);
	tcase_add_test(tc, test_sched_callbacks_schedule_more);
	suite_add_tcase(s, tc);
	tc = tcase_create("control");
	tcase_add_test(tc, test_sched_cancel_prevents_run_and_stale_handle_is_harmless);
	tcase_add_test(tc, test_sched_run_stops_at_until);
	tcase_add_test(tc, test_sched_stop_returns_early);
	tcase_add_test(tc, test_sched_real_clock_fires_in_order);
	tcase_add_test(tc, test_sched_real_stop_does_not_cut_the_next_run);
	suite_add_tcase(s, tc);
	return s;
}
