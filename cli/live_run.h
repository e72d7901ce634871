/* cli/live_run.h - `faultline run --live`: runs scenarios against real
 * servers (live/world_live.c) under the real clock, scaled, and prints one
 * line per scenario with what could not be applied live. Not replayable and
 * not deterministic: the simulator is for that. */
#ifndef SIM_LIVE_RUN_H
#define SIM_LIVE_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "harness/runner.h"
#include "sim/scenario.h"

#define LIVE_RUN_SEEDS_DEFAULT 3     /* seeds per scenario unless told */
#define LIVE_RUN_REDIS_ENV "FAULTLINE_REDIS_URL"
#define LIVE_RUN_PG_ENV "FAULTLINE_PG_URL"
#define LIVE_RUN_STRIPE_ENV "FAULTLINE_STRIPE_URL"

struct live_run_options {
	const char *redis_url;        /* NULL: $FAULTLINE_REDIS_URL */
	const char *pg_url;           /* NULL: $FAULTLINE_PG_URL */
	const char *smtp_url;         /* NULL: the built-in SMTP sink */
	const char *stripe_key_file;  /* with $FAULTLINE_STRIPE_URL, when
	                               * $FAULTLINE_STRIPE_KEY is unset */
	double time_scale;            /* see live/live_plan.h */
	bool seeds_set;               /* seeds seed_first .. +seeds-1 */
	uint64_t seeds;
	bool seed_set;                /* exactly this seed */
	uint64_t seed;
	bool quiet;                   /* no violation details */
};

/* Runs each of the n scenarios under vs against the servers, printing to
 * out as it goes (errors to stderr), and fills results[0 .. *nresults-1]
 * (room for n; runner_result_fini frees them) for the scenarios it ran: one
 * that cannot be made meaningful live is skipped with a message instead.
 * Returns the exit status: 0 every invariant held and every scenario run was
 * exercised, 1 otherwise, 2 bad options, 3 a server could not be reached or
 * set up (the message names it). */
int live_run(struct scenario *const *list, size_t n, const struct variant_set *vs,
             const struct live_run_options *opt, struct runner_result *results,
             size_t *nresults, FILE *out);

#endif
