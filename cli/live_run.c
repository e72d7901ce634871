/* cli/live_run.c - the live run: finds the servers, checks they answer,
 * prepares each scenario (live/live_plan.c), runs its seeds one after the
 * other through harness/world.c on the live backend, folds the results and
 * prints them. Not for simulated runs (harness/runner.c). */
#include "cli/live_run.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "core/assert.h"
#include "live/stripe_live.h"
#include "live/live_plan.h"
#include "sim/sched.h"
#include "harness/world.h"
#include "live/world_live.h"

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fold_seed(struct runner_result *r, uint64_t seed, const struct world_result *w)
{
	if (r->seeds_run == 0 || seed < r->seed_min)
		r->seed_min = seed;
	if (seed > r->seed_max)
		r->seed_max = seed;
	r->seeds_run++;
	r->checked |= w->checked;
	r->violated |= w->violated;
	for (int i = 0; i < INV_COUNT; i++) {
		if (!(w->violated & (1u << i)))
			continue;
		struct runner_invariant *ri = &r->inv[i];
		ri->violations++;
		if (!ri->has_first) {
			ri->has_first = true;
			ri->first_seed = seed;
			ri->first_time_us = w->v[i].t_us;
			snprintf(ri->message, sizeof ri->message, "%s", w->v[i].message);
		}
	}
	for (int k = 0; k < FAULT_KIND_COUNT; k++)
		r->faults[k] += w->faults[k];
	for (int o = 0; o < WO_COUNT; o++)
		r->outcomes[o] += w->outcomes[o];
	for (int t = 0; t < WT_COUNT; t++)
		r->tags[t] += w->tags[t];
	for (int b = 0; b < REPORT_HIST_BUCKETS; b++)
		r->latency_hist[b] += w->latency_hist[b];
	r->duplicates_let_through += w->duplicates_let_through;
	r->fault_fired |= w->fault_fired;
	r->race_seen |= w->race_seen;
	r->events += w->events;
	r->sim_us += w->sim_end_us;
}

/* As the simulated runner judges it: a green result that tested nothing
 * is not a pass. Only the rules applied live can have fired. */
static void judge_exercised(struct runner_result *r, const struct live_plan *lp)
{
	const struct scenario *sc = r->sc;
	r->exercised = true;
	if (lp->nrules > lp->not_applied && !r->fault_fired) {
		r->exercised = false;
		snprintf(r->not_exercised, sizeof r->not_exercised,
		         "no fault fired in any of %llu seeds", (unsigned long long)r->seeds_run);
		return;
	}
	bool wants_race = ((sc->fixes & (1u << FIX_WEBHOOK)) && sc->webhook.copies > 1) ||
	                  ((sc->fixes & (1u << FIX_CUSTOMER)) && sc->customer.concurrent > 1);
	if (wants_race && !r->race_seen) {
		r->exercised = false;
		snprintf(r->not_exercised, sizeof r->not_exercised,
		         "no two copies ever overlapped in %llu seeds",
		         (unsigned long long)r->seeds_run);
	}
}

static void print_rule_notes(FILE *out, const struct scenario *sc, const struct live_plan *lp)
{
	if (lp->lead_us > 0)
		fprintf(out, "      live: the %.0fs before the first purchase (customer.start) last "
		             "%.2fs, not %.0fs at time scale %g; what needs that wait live (Stripe "
		             "forgetting a day-old Idempotency-Key) does not happen\n",
		        (double)lp->lead_us / 1e6, (double)lp->lead_live_us / 1e6,
		        (double)lp->lead_us / 1e6 * lp->time_scale, lp->time_scale);
	for (size_t i = 0; i < lp->nrules; i++) {
		const struct live_rule *lr = &lp->rules[i];
		if (lr->how != LIVE_RULE_NOT_APPLIED)
			continue;
		const struct fault_rule *fr = &sc->faults.rules[i];
		fprintf(out, "      not applied live: faults[%zu] (%s %s on '%s', line %d): %s\n", i,
		        fault_target_name(fr->target), fault_kind_name(fr->kind),
		        fr->op[0] ? fr->op : "*", fr->line, lr->why);
	}
}

static void print_live_result(FILE *out, const struct runner_result *r, bool quiet)
{
	char var[160];
	variant_set_format(&r->vs, r->sc, var, sizeof var);
	const char *verdict = r->violated ? "FAIL" : !r->exercised ? "IDLE" : "ok";
	fprintf(out, "%-4s  %-40s %-9s %6llu seeds  %7.2fs", verdict, r->sc->name, var,
	        (unsigned long long)r->seeds_run, r->wall_s);
	if (r->violated) {
		const char *sep = "  ";
		for (int i = 0; i < INV_COUNT; i++) {
			if (!(r->violated & (1u << i)))
				continue;
			fprintf(out, "%s%s %llu/%llu", sep, invariant_name((enum invariant_id)i),
			        (unsigned long long)r->inv[i].violations,
			        (unsigned long long)r->seeds_run);
			sep = ", ";
		}
	} else if (!r->exercised) {
		fprintf(out, "  not exercised: %s", r->not_exercised);
	}
	fprintf(out, "\n");
	if (quiet)
		return;
	for (int i = 0; i < INV_COUNT; i++) {
		const struct runner_invariant *ri = &r->inv[i];
		if (!ri->has_first)
			continue;
		fprintf(out, "      %s: seed %llu at %.6fs: %s\n", invariant_name((enum invariant_id)i),
		        (unsigned long long)ri->first_seed, (double)ri->first_time_us / 1e6,
		        ri->message);
		/* Live runs are not replayable; the same seed in the simulator is
		 * the deterministic counterpart. */
		fprintf(out, "        rerun live: %s run --live --seed %llu --variant %s %s\n",
		        runner_program(), (unsigned long long)ri->first_seed, var, r->sc->path);
	}
}

static uint64_t seed_at(const struct scenario *sc, const struct live_run_options *opt, size_t i)
{
	if (opt->seed_set)
		return opt->seed;
	if (opt->seeds_set)
		return sc->seed_first + i;
	return scenario_seed_at(sc, i);
}

static size_t seed_count(const struct scenario *sc, const struct live_run_options *opt)
{
	if (opt->seed_set)
		return 1;
	if (opt->seeds_set)
		return (size_t)opt->seeds;
	size_t n = scenario_seed_count(sc);
	return n < LIVE_RUN_SEEDS_DEFAULT ? n : LIVE_RUN_SEEDS_DEFAULT;
}

/* Runs one scenario's seeds. 0, or EXIT 3 when a server failed (said). */
static int run_scenario(struct world_live *wl, const struct scenario *sc,
                        const struct live_plan *lp, const struct variant_set *vs,
                        const struct live_run_options *opt, struct runner_result *r)
{
	memset(r, 0, sizeof *r);
	r->sc = sc;
	r->vs = *vs;
	r->first_violation_wall_s = -1.0;
	double t0 = wall_now();
	world_live_set_plan(wl, lp);
	struct world_backend be;
	world_live_backend(wl, &be);
	size_t count = seed_count(sc, opt);
	for (size_t i = 0; i < count; i++) {
		uint64_t seed = seed_at(sc, opt, i);
		struct world_config cfg = {.sc = &lp->scaled, .seed = seed, .backend = &be,
		                           .probe_margin_us = lp->probe_margin_us};
		memcpy(cfg.variants, vs->v, sizeof cfg.variants);
		struct world_result w;
		enum result rc = world_run(&cfg, &w);
		if (rc != RESULT_OK) {
			fprintf(stderr, "faultline run --live: %s, seed %llu: %s\n", sc->name,
			        (unsigned long long)seed, w.error[0] ? w.error : result_name(rc));
			return rc == RESULT_ERROR ? 3 : 1;
		}
		fold_seed(r, seed, &w);
		if (w.violated && r->first_violation_wall_s < 0) {
			r->first_violation_wall_s = wall_now() - t0;
			r->first_violation_seeds = i + 1;
		}
	}
	judge_exercised(r, lp);
	r->wall_s = wall_now() - t0;
	r->sweep_wall_s = r->wall_s;
	return 0;
}

static const char *env_or(const char *given, const char *name)
{
	if (given != NULL)
		return given;
	const char *v = getenv(name);
	return v != NULL && v[0] != '\0' ? v : NULL;
}

int live_run(struct scenario *const *list, size_t n, const struct variant_set *vs,
             const struct live_run_options *opt, struct runner_result *results,
             size_t *nresults, FILE *out)
{
	ASSERT(list != NULL && vs != NULL && opt != NULL && results != NULL && out != NULL);
	*nresults = 0;
	struct world_live_config cfg = {
		.redis_url = env_or(opt->redis_url, LIVE_RUN_REDIS_ENV),
		.pg_conninfo = env_or(opt->pg_url, LIVE_RUN_PG_ENV),
		.stripe_url = env_or(NULL, LIVE_RUN_STRIPE_ENV),
		.smtp_url = opt->smtp_url,
	};
	if (cfg.redis_url == NULL || cfg.pg_conninfo == NULL) {
		fprintf(stderr, "faultline run --live: no %s given (--%s or $%s)\n",
		        cfg.redis_url == NULL ? "Redis server" : "PostgreSQL server",
		        cfg.redis_url == NULL ? "redis-url" : "pg-url",
		        cfg.redis_url == NULL ? LIVE_RUN_REDIS_ENV : LIVE_RUN_PG_ENV);
		return 2;
	}
	char key[STRIPE_LIVE_KEY_MAX];
	char err[512];
	if (cfg.stripe_url != NULL) {
		if (stripe_live_key_load(opt->stripe_key_file, key, sizeof key, err, sizeof err) !=
		    RESULT_OK) {
			fprintf(stderr, "faultline run --live: %s\n", err);
			return 2;
		}
		cfg.stripe_key = key;
	}
	/* The proxies write to peers that may have gone. */
	signal(SIGPIPE, SIG_IGN);
	struct event_base *base = sched_base_new(SCHED_REAL);
	if (base == NULL) {
		fprintf(stderr, "faultline run --live: out of memory\n");
		return 1;
	}
	int status = 0;
	struct world_live *wl = world_live_create(base, &cfg, err, sizeof err);
	explicit_bzero(key, sizeof key);
	if (wl == NULL) {
		fprintf(stderr, "faultline run --live: %s\n", err);
		status = 2;
		goto out_base;
	}
	if (world_live_check_servers(wl, err, sizeof err) != RESULT_OK) {
		fprintf(stderr, "faultline run --live: %s\n", err);
		status = 3;
		goto out_live;
	}
	fprintf(out, "live: %s; time scale %g (a 60 s window lasts %.2f s)\n",
	        world_live_describe(wl), opt->time_scale,
	        (double)live_plan_rl_window_us(60000000, opt->time_scale) / 1e6);
	uint64_t violated = 0, idle = 0, held = 0, skipped = 0, ran = 0;
	for (size_t i = 0; i < n && status == 0; i++) {
		const struct scenario *sc = list[i];
		struct live_plan *lp = live_plan_create(sc, opt->time_scale);
		if (lp == NULL) {
			fprintf(stderr, "faultline run --live: out of memory\n");
			status = 1;
			break;
		}
		if (live_plan_nothing_applies(lp)) {
			char var[160];
			variant_set_format(vs, sc, var, sizeof var);
			fprintf(out, "SKIP  %-40s %-9s no fault of this scenario can be applied live, "
			             "so a live run would test nothing\n", sc->name, var);
			print_rule_notes(out, sc, lp);
			skipped++;
			live_plan_destroy(lp);
			continue;
		}
		struct runner_result *r = &results[*nresults];
		status = run_scenario(wl, sc, lp, vs, opt, r);
		if (status == 0) {
			(*nresults)++;
			ran++;
			/* Each count on its own, FAIL before IDLE: never subtracted. */
			violated += r->violated != 0;
			idle += r->violated == 0 && !r->exercised;
			held += r->violated == 0 && r->exercised;
			print_live_result(out, r, opt->quiet);
			print_rule_notes(out, sc, lp);
			fflush(out);
		}
		live_plan_destroy(lp);
	}
	if (status == 0) {
		fprintf(out, "\n%llu %s run live: %llu violated, %llu not exercised, %llu held"
		             "; %llu skipped (cannot be made meaningful live)\n",
		        (unsigned long long)ran, ran == 1 ? "scenario" : "scenarios",
		        (unsigned long long)violated,
		        (unsigned long long)idle, (unsigned long long)held,
		        (unsigned long long)skipped);
		if (violated || idle)
			status = 1;
	}
out_live:
	world_live_destroy(wl);
out_base:
	event_base_free(base);
	return status;
}
