/* tests/check_simnet_heap.c - memory of the simulated network across runs: every
 * operation it creates is freed by the end of the run, whether the reply or
 * the deadline answered it. Measured with glibc's mallinfo2 in plain builds
 * (LeakSanitizer covers the same in SANITIZE=1 builds, where mallinfo2 does
 * not see ASan's heap). Not a test of latencies or faults (see the scenarios). */
#include <check.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "harness/scenario_load.h"
#include "harness/world.h"

/* Enough traffic that a leak of one op per request shows as hundreds of
 * kB per run (about 350 kB with the bug), far above the allocator's own
 * noise (freed chunks kept in per-thread caches still count as in use). */
#define SIMNET_HEAP_NOISE_MAX (64u * 1024u)
#define SIMNET_RUNS 3
static const char simnet_yaml[] =
	"fixes: [ratelimit, request-dedup]\n"
	"seeds: 1\n"
	"duration: 5m\n"
	"workload:\n"
	"  ratelimit: {users: 4, requests_per_user: 20, limit: 5, window: 60s}\n"
	"  request-dedup: {requests: 40, duplicates: 1}\n";

static size_t simnet_heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static void simnet_run_once(const struct scenario *sc, struct event_base *base, uint64_t seed)
{
	struct world_config cfg = {.sc = sc, .seed = seed, .base = base};
	for (int f = 0; f < FIX_COUNT; f++)
		cfg.variants[f] = VARIANT_HARDENED;
	struct world_result *res = calloc(1, sizeof *res);
	ck_assert_ptr_nonnull(res);
	ck_assert_int_eq(world_run(&cfg, res), RESULT_OK);
	ck_assert_uint_eq(res->violated, 0);
	ck_assert_uint_gt(res->outcomes[WO_RL_ALLOWED], 0);
	free(res);
}

/* The bug this guards: an op answered before its deadline kept the
 * cancelled deadline's reference, so each run leaked every such op. */
START_TEST(test_simnet_run_frees_every_answered_op)
{
	struct scenario *sc = NULL;
	struct scenario_error err;
	ck_assert_int_eq(scenario_load_buffer("simnet.yaml", simnet_yaml, strlen(simnet_yaml), &sc, &err),
	                 RESULT_OK);
	struct event_base *base = event_base_new();
	ck_assert_ptr_nonnull(base);

	/* The first run warms up whatever libraries keep for good. */
	simnet_run_once(sc, base, 1);
	size_t before = simnet_heap_in_use();
	for (uint64_t seed = 2; seed < 2 + SIMNET_RUNS; seed++)
		simnet_run_once(sc, base, seed);
	size_t after = simnet_heap_in_use();
	ck_assert_uint_le(after, before + SIMNET_HEAP_NOISE_MAX);

	event_base_free(base);
	scenario_destroy(sc);
}
END_TEST

Suite *check_simnet_heap_suite(void);
Suite *check_simnet_heap_suite(void)
{
	Suite *s = suite_create("simnet_heap");
	TCase *tc = tcase_create("memory");
	tcase_add_test(tc, test_simnet_run_frees_every_answered_op);
	suite_add_tcase(s, tc);
	return s;
}
