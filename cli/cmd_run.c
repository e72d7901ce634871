/* cli/cmd_run.c - the commands that run scenarios: run, matrix, replay.
 * Loads the files, runs them through harness/runner.c, prints one line per
 * scenario and variant and a summary, writes reports when asked, and turns
 * the outcome into the exit status. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "core/assert.h"
#include "cli/cli.h"
#include "live/live_plan.h"
#include "cli/live_run.h"
#include "harness/corpus.h"
#include "harness/paths.h"
#include "harness/report_fill.h"
#include "harness/runner.h"
#include "harness/scenario_load.h"
#include "harness/verdict.h"
#include "harness/shard.h"
#include "harness/shrink.h"
#include "harness/scenario_write.h"

struct run_common {
	struct runner_options ropt;
	const char *report_dir;
	bool quiet;
	bool progress;
	bool live;
	struct live_run_options lopt;
	bool jobs_set;
	bool determinism_set;
	bool live_option;             /* a live-only option was given */
	bool stats;
	bool swarm;                   /* --swarm: every scenario in swarm mode */
	const char *corpus_dir;       /* --corpus DIR, or NULL */
	bool shard_auto;              /* --shard auto: read from the engine */
	unsigned shard_count;         /* --shard-count, for Kubernetes */
	double time_budget_s;         /* --time-budget; 0: none */
	bool shrink;                  /* --shrink: shrink each first failing seed */
	double shrink_budget_s;       /* --shrink-budget, per shrink */
};

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (s == NULL || *s == '\0' || *s == '-')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_scale(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= LIVE_PLAN_SCALE_MIN) ||
	    !(v <= LIVE_PLAN_SCALE_MAX))
		return false;
	*out = v;
	return true;
}

static double now_s(void)
{
	return runner_clock_s();
}

/* "90", "90s", "500ms", "10m", "2h" -> seconds; false unless 0 < d <= 1 week. */
static bool parse_duration(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *s == '-' || *s == '+')
		return false;
	double unit = strcmp(end, "") == 0 || strcmp(end, "s") == 0 ? 1
	              : strcmp(end, "ms") == 0 ? 1e-3
	              : strcmp(end, "m") == 0 ? 60 : strcmp(end, "h") == 0 ? 3600 : -1;
	if (unit < 0 || !(v * unit > 0) || !(v * unit <= 7 * 24 * 3600.0))
		return false;
	*out = v * unit;
	return true;
}

static bool want_progress(void)
{
	const char *nc = getenv("NO_COLOR");
	return isatty(STDERR_FILENO) && (nc == NULL || nc[0] == '\0');
}

int cli_load_scenarios(int npaths, char **paths, struct scenario ***out, size_t *n)
{
	struct path_list pl;
	char err[512];
	if (paths_collect(npaths, paths, &pl, err, sizeof err) != RESULT_OK) {
		fprintf(stderr, "faultline: %s\n", err);
		return EXIT_USAGE;
	}
	if (pl.n == 0) {
		fprintf(stderr, "faultline: no scenario files (*.yaml, *.yml) found\n");
		paths_fini(&pl);
		return EXIT_USAGE;
	}
	struct scenario **list = calloc(pl.n, sizeof *list);
	ASSERT(list != NULL);
	int status = 0;
	for (size_t i = 0; i < pl.n; i++) {
		struct scenario_error se;
		if (scenario_load(pl.paths[i], &list[i], &se) != RESULT_OK) {
			char msg[768];
			scenario_error_format(&se, msg, sizeof msg);
			fprintf(stderr, "%s\n", msg);
			list[i] = NULL;
			status = EXIT_USAGE;
		}
	}
	if (status != 0) {
		for (size_t i = 0; i < pl.n; i++)
			scenario_destroy(list[i]);
		free(list);
		paths_fini(&pl);
		return status;
	}
	*out = list;
	*n = pl.n;
	paths_fini(&pl);
	return 0;
}

/* Column widths of the result lines, so long names and mixed variants stay
 * aligned. */
struct result_columns {
	int name;
	int variant;
};

static void print_result(const struct runner_result *r, const struct result_columns *col,
                         bool quiet)
{
	char var[160];
	variant_set_format(&r->vs, r->sc, var, sizeof var);
	const char *verdict = r->violated ? "FAIL" : !r->exercised ? "IDLE" : "ok";
	printf("%-4s  %-*s %-*s %6llu %-5s  %7.2fs", verdict, col->name, r->sc->name,
	       col->variant, var, (unsigned long long)r->seeds_run,
	       r->seeds_run == 1 ? "seed" : "seeds", r->wall_s);
	if (r->violated) {
		const char *sep = "  ";
		for (int i = 0; i < INV_COUNT; i++) {
			if (!(r->violated & (1u << i)))
				continue;
			printf("%s%s %llu/%llu", sep, invariant_name((enum invariant_id)i),
			       (unsigned long long)r->inv[i].violations,
			       (unsigned long long)r->seeds_run);
			sep = ", ";
		}
	}
	if (!r->exercised)
		printf("%snot exercised: %s", r->violated ? "; " : "  ", r->not_exercised);
	printf("\n");
	if (r->determinism_mismatches)
		printf("      TOOL FAILURE: %llu determinism %s: the same seed gave "
		       "different traces\n", (unsigned long long)r->determinism_mismatches,
		       r->determinism_mismatches == 1 ? "mismatch" : "mismatches");
	if (quiet)
		return;
	for (int i = 0; i < INV_COUNT; i++) {
		const struct runner_invariant *ri = &r->inv[i];
		if (!ri->has_first)
			continue;
		char replay[1024];
		runner_replay_command(r->sc, &r->vs, ri->first_seed, replay, sizeof replay);
		printf("      %s: seed %llu at %.6fs: %s\n", invariant_name((enum invariant_id)i),
		       (unsigned long long)ri->first_seed, (double)ri->first_time_us / 1e6,
		       ri->message);
		printf("        replay: %s\n", replay);
	}
}

static int run_options(int argc, char **argv, bool matrix, struct run_common *rc,
                       struct variant_set *vs, int *first_path);

static void print_stats(const struct runner_result *r)
{
	double sweep = r->sweep_wall_s > 0 ? r->sweep_wall_s : 1e-9;
	printf("      stats: %llu events in %.4f s (%.0f events/s), %llu %s (%.0f seeds/s), "
	       "simulated %.1f s (%.0fx wall)",
	       (unsigned long long)r->events, sweep, (double)r->events / sweep,
	       (unsigned long long)r->seeds_run, r->seeds_run == 1 ? "seed" : "seeds",
	       (double)r->seeds_run / sweep,
	       (double)r->sim_us / 1e6, (double)r->sim_us / 1e6 / sweep);
	if (r->first_violation_wall_s >= 0)
		printf(", first violation after %.4f s (%llu %s)", r->first_violation_wall_s,
		       (unsigned long long)r->first_violation_seeds,
		       r->first_violation_seeds == 1 ? "seed" : "seeds");
	printf("\n");
}

/* --swarm turns swarm mode on for every scenario that did not ask for it
 * itself, and marks it so replay lines repeat the flag. */
static void swarm_apply(const struct run_common *rc, struct scenario **list, size_t n)
{
	for (size_t i = 0; rc->swarm && i < n; i++) {
		if (!list[i]->swarm)
			list[i]->swarm_from_cli = true;
		list[i]->swarm = true;
	}
}

static void print_totals(const struct runner_result *res, size_t n, double wall_s)
{
	uint64_t events = 0, seeds = 0;
	double sweep = 0;
	for (size_t i = 0; i < n; i++) {
		events += res[i].events;
		seeds += res[i].seeds_run;
		sweep += res[i].sweep_wall_s;
	}
	printf("stats: total %llu events, %llu %s, sweep %.3f s (%.0f events/s), wall %.3f s\n",
	       (unsigned long long)events, (unsigned long long)seeds, seeds == 1 ? "seed" : "seeds",
	       sweep,
	       sweep > 0 ? (double)events / sweep : 0.0, wall_s);
}

static void usage_run(FILE *out, bool matrix)
{
	if (matrix)
		fprintf(out,
		        "usage: faultline matrix [OPTIONS] PATH...\n"
		        "\n"
		        "Runs every scenario under every variant (legacy, seed, hardened) and\n"
		        "prints the fix x variant x invariant matrix. Exit 0 only when the\n"
		        "hardened core holds every invariant in every scenario (and every\n"
		        "scenario exercised it) and every fix's legacy bug is caught by at least\n"
		        "one scenario; 1 otherwise; 2 on bad usage or a bad scenario file.\n"
		        "\n");
	else
		fprintf(out,
		        "usage: faultline run [OPTIONS] PATH...\n"
		        "\n"
		        "Runs scenario files (or every *.yaml/*.yml under a folder) in the\n"
		        "simulator over their seeds and checks their invariants. Exit 0 when\n"
		        "every invariant held and every scenario was exercised, 1 when one was\n"
		        "violated (each violation prints its replay command), 2 on bad usage or\n"
		        "a bad scenario file, 3 when a live server could not be reached.\n"
		        "\n"
		        "  -v, --variant V     legacy | seed | hardened (default) for every fix, or\n"
		        "                      FIX=V,... (fixes: ratelimit, quote-email, webhook,\n"
		        "                      request-dedup, stripe-customer; others hardened)\n");
	fprintf(out,
	        "  -n, --seeds N       run seeds seed_first .. seed_first+N-1 instead of the\n"
	        "                      scenario's own seeds\n"
	        "      --seed-first S  start the -n range at seed S\n"
	        "  -s, --seed S        run only seed S\n"
	        "  -j, --jobs N        run seeds in N processes (same results as 1)\n"
	        "  -r, --report DIR    write report.json, junit.xml, report.md, report.html\n"
	        "                      and traces/ of failing seeds into DIR\n"
	        "      --determinism N re-run N seeds per result and compare trace digests\n"
	        "                      (default 2; 0 turns the self-check off)\n"
	        "  -q, --quiet         one line per result, no violation details\n"
	        "      --stats         print events, events per second and time to the first\n"
	        "                      violation for each result, and totals (make bench)\n"
	        "      --trace-digest  trace every seed into a digest, to measure what\n"
	        "                      tracing costs (results are unchanged)\n"
	        "      --swarm         swarm mode: each seed runs its own draw of the fault\n"
	        "                      rules (a subset, their probabilities and windows; the\n"
	        "                      whole catalogue for mixed-*) and of the workload's\n"
	        "                      ranges (events: 2..16); with --report, each failing\n"
	        "                      seed's draw is written to traces/NAME-SEED.yaml\n"
	        "      --shrink        with --report, shrink the first failing seed of each\n"
	        "                      violated invariant into traces/NAME-INVARIANT.min.yaml\n"
	        "                      (faultline shrink; --shrink-budget S each, default 5)\n"
	        "      --corpus DIR    regression corpus: replay DIR's entries for these\n"
	        "                      scenarios first, then keep each new violation's seed\n"
	        "                      there (DIR/NAME-VARIANT-SEED.yaml)\n"
	        "      --time-budget D run as many seeds as fit in D (90s, 10m, 2h), shared\n"
	        "                      out over the results; without -n the range is open\n"
	        "      --shard I/N     run only shard I of N (1-based) of the seeds; merge the\n"
	        "                      shards' reports with 'faultline report merge'\n"
	        "      --shard auto    the shard from the engine's environment: Kubernetes,\n"
	        "                      GitLab, Buildkite, Slurm or FAULTLINE_SHARD=I/N\n"
	        "      --shard-count N the shard count for a Kubernetes Indexed Job (else\n"
	        "                      $FAULTLINE_SHARD_COUNT)\n"
	        "                      (docs/sharding.md)\n");
	if (!matrix)
		fprintf(out,
		        "\n"
		        "Live mode (docs/live.md):\n"
		        "      --live          run against real servers instead of the models: Redis\n"
		        "                      and PostgreSQL through fault proxies, Stripe and mail\n"
		        "                      through fault wrappers; each seed starts from clean\n"
		        "                      servers. Seeds default to min(scenario's, 3).\n"
		        "      --redis-url URL redis://HOST:PORT (default $FAULTLINE_REDIS_URL)\n"
		        "      --pg-url CONN   libpq connection string with a TCP host (default\n"
		        "                      $FAULTLINE_PG_URL)\n"
		        "      --smtp-url URL  send mail there instead of the built-in SMTP sink\n"
		        "                      (the outbox is then what the server accepted)\n"
		        "      --stripe-key-file FILE  the key for $FAULTLINE_STRIPE_URL when\n"
		        "                      $FAULTLINE_STRIPE_KEY is unset (default: the built-in\n"
		        "                      fake Stripe, no key needed)\n"
		        "      --time-scale F  multiply the scenario's durations (spreads, windows,\n"
		        "                      TTLs, retry back-offs, fault windows, duration) by F,\n"
		        "                      %g to %g (default %g); rate-limit windows round to\n"
		        "                      whole seconds (at least 1 s), TTLs keep at least\n"
		        "                      %d ms. Latencies and client timeouts stay real.\n"
		        "                      Exit 3 names the server that could not be reached.\n",
		        LIVE_PLAN_SCALE_MIN, LIVE_PLAN_SCALE_MAX, LIVE_PLAN_SCALE_DEFAULT,
		        LIVE_PLAN_WINDOW_MIN_US / 1000);
	fprintf(out, "  -h, --help          this help\n");
}

/* The seed-selection options that exclude each other; --shard auto is
 * resolved here, so that no shard variable found stops the run. */
static int run_options_check(struct run_common *rc, const char *cmd)
{
	struct runner_options *o = &rc->ropt;
	bool sharded = rc->shard_auto || o->shard.count > 0;
	if (o->seed_set && (o->seeds_set || o->seed_first_set || sharded ||
	                    rc->time_budget_s > 0)) {
		fprintf(stderr, "faultline %s: --seed runs one seed: it does not go with --seeds, "
		                "--seed-first, --shard or --time-budget\n", cmd);
		return EXIT_USAGE;
	}
	if ((sharded || rc->time_budget_s > 0 || o->seed_first_set) &&
	    (rc->live || rc->live_option)) {
		fprintf(stderr, "faultline %s: --shard, --seed-first and --time-budget are for "
		                "simulated runs, not --live\n", cmd);
		return EXIT_USAGE;
	}
	if (rc->shard_count > 0 && !rc->shard_auto) {
		fprintf(stderr, "faultline %s: --shard-count goes with --shard auto (a Kubernetes "
		                "Indexed Job)\n", cmd);
		return EXIT_USAGE;
	}
	if (rc->shard_auto) {
		char source[SHARD_SOURCE_MAX], err[512];
		if (shard_from_env(getenv, rc->shard_count, &o->shard, source, sizeof source, err,
		                   sizeof err) != RESULT_OK) {
			fprintf(stderr, "faultline %s: %s\n", cmd, err);
			return EXIT_USAGE;
		}
		fprintf(stderr, "faultline %s: shard %u/%u from %s\n", cmd, o->shard.index,
		        o->shard.count, source);
	}
	return 0;
}

static int run_options(int argc, char **argv, bool matrix, struct run_common *rc,
                       struct variant_set *vs, int *first_path)
{
	static const struct option longopts[] = {
		{"variant", required_argument, NULL, 'v'},
		{"seeds", required_argument, NULL, 'n'},
		{"seed", required_argument, NULL, 's'},
		{"jobs", required_argument, NULL, 'j'},
		{"report", required_argument, NULL, 'r'},
		{"determinism", required_argument, NULL, 'D'},
		{"quiet", no_argument, NULL, 'q'},
		{"live", no_argument, NULL, 'L'},
		{"redis-url", required_argument, NULL, 'R'},
		{"pg-url", required_argument, NULL, 'P'},
		{"smtp-url", required_argument, NULL, 'M'},
		{"stripe-key-file", required_argument, NULL, 'K'},
		{"time-scale", required_argument, NULL, 'X'},
		{"stats", no_argument, NULL, 'S'},
		{"trace-digest", no_argument, NULL, 'T'},
		{"swarm", no_argument, NULL, 'W'},
		{"corpus", required_argument, NULL, 'O'},
		{"seed-first", required_argument, NULL, 'F'},
		{"time-budget", required_argument, NULL, 'B'},
		{"shard", required_argument, NULL, 'I'},
		{"shard-count", required_argument, NULL, 'C'},
		{"shrink", no_argument, NULL, 'Z'},
		{"shrink-budget", required_argument, NULL, 'z'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	memset(rc, 0, sizeof *rc);
	rc->ropt.jobs = 1;
	rc->ropt.determinism_samples = 2;
	rc->progress = want_progress();
	rc->lopt.time_scale = LIVE_PLAN_SCALE_DEFAULT;
	rc->shrink_budget_s = 5.0;
	for (int f = 0; f < FIX_COUNT; f++)
		vs->v[f] = VARIANT_HARDENED;
	const char *cmd = matrix ? "matrix" : "run";
	optind = 1;
	opterr = 0;
	int c;
	uint64_t v;
	char err[256];
	while ((c = getopt_long(argc, argv, matrix ? "n:s:j:r:qh" : "v:n:s:j:r:qh", longopts,
	                        NULL)) != -1) {
		switch (c) {
		case 'v':
			if (matrix) {
				fprintf(stderr, "faultline matrix: --variant does not apply: the matrix "
				                "runs every variant\n");
				return EXIT_USAGE;
			}
			if (!variant_set_parse(optarg, vs, err, sizeof err)) {
				fprintf(stderr, "faultline %s: %s\n", cmd, err);
				return EXIT_USAGE;
			}
			break;
		case 'n':
			if (!parse_u64(optarg, 1, 10000000, &v)) {
				fprintf(stderr, "faultline %s: --seeds wants a number from 1 to 10000000, "
				                "not '%s'\n", cmd, optarg);
				return EXIT_USAGE;
			}
			rc->ropt.seeds_set = true;
			rc->ropt.seeds = v;
			break;
		case 's':
			if (!parse_u64(optarg, 0, UINT64_MAX, &v)) {
				fprintf(stderr, "faultline %s: --seed wants a non-negative integer, not "
				                "'%s'\n", cmd, optarg);
				return EXIT_USAGE;
			}
			rc->ropt.seed_set = true;
			rc->ropt.seed = v;
			break;
		case 'j':
			if (!parse_u64(optarg, 1, RUNNER_JOBS_MAX, &v)) {
				fprintf(stderr, "faultline %s: --jobs wants a number from 1 to %d, not "
				                "'%s'\n", cmd, RUNNER_JOBS_MAX, optarg);
				return EXIT_USAGE;
			}
			rc->ropt.jobs = (unsigned)v;
			rc->jobs_set = true;
			break;
		case 'r':
			rc->report_dir = optarg;
			break;
		case 'D':
			if (!parse_u64(optarg, 0, 1000, &v)) {
				fprintf(stderr, "faultline %s: --determinism wants 0 to 1000\n", cmd);
				return EXIT_USAGE;
			}
			rc->ropt.determinism_samples = (unsigned)v;
			rc->determinism_set = true;
			break;
		case 'q':
			rc->quiet = true;
			break;
		case 'L':
			rc->live = true;
			break;
		case 'R':
		case 'P':
		case 'M':
		case 'K':
		case 'X':
			if (matrix) {
				fprintf(stderr, "faultline matrix: live options do not apply to the "
				                "matrix\n");
				return EXIT_USAGE;
			}
			if (c == 'R')
				rc->lopt.redis_url = optarg;
			else if (c == 'P')
				rc->lopt.pg_url = optarg;
			else if (c == 'M')
				rc->lopt.smtp_url = optarg;
			else if (c == 'K')
				rc->lopt.stripe_key_file = optarg;
			else if (!parse_scale(optarg, &rc->lopt.time_scale)) {
				fprintf(stderr, "faultline run: --time-scale wants a number from %g to %g, "
				                "not '%s'\n", LIVE_PLAN_SCALE_MIN, LIVE_PLAN_SCALE_MAX, optarg);
				return EXIT_USAGE;
			}
			rc->live_option = true;
			break;
		case 'S':
			rc->stats = true;
			break;
		case 'T':
			rc->ropt.trace_digest = true;
			break;
		case 'W':
			rc->swarm = true;
			break;
		case 'Z':
			rc->shrink = true;
			break;
		case 'z': {
			char *end;
			errno = 0;
			double b = strtod(optarg, &end);
			if (end != optarg && *end == 's')
				end++;
			if (end == optarg || *end != '\0' || errno != 0 || !(b > 0.0) || b > 3600.0) {
				fprintf(stderr, "faultline %s: --shrink-budget wants seconds (0 < S <= "
				                "3600), not '%s'\n", cmd, optarg);
				return EXIT_USAGE;
			}
			rc->shrink_budget_s = b;
			break;
		}
		case 'O':
			rc->corpus_dir = optarg;
			break;
		case 'F':
			if (!parse_u64(optarg, 0, UINT64_MAX, &v)) {
				fprintf(stderr, "faultline %s: --seed-first wants a non-negative integer, "
				                "not '%s'\n", cmd, optarg);
				return EXIT_USAGE;
			}
			rc->ropt.seed_first_set = true;
			rc->ropt.seed_first = v;
			break;
		case 'B':
			if (!parse_duration(optarg, &rc->time_budget_s)) {
				fprintf(stderr, "faultline %s: --time-budget wants a duration such as "
				                "90s, 10m or 2h (at most a week), not '%s'\n", cmd, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'I':
			if (strcmp(optarg, "auto") == 0) {
				rc->shard_auto = true;
			} else if (!shard_parse(optarg, &rc->ropt.shard, err, sizeof err)) {
				fprintf(stderr, "faultline %s: --shard %s, or auto\n", cmd, err);
				return EXIT_USAGE;
			}
			break;
		case 'C':
			if (!parse_u64(optarg, 1, SHARD_COUNT_MAX, &v)) {
				fprintf(stderr, "faultline %s: --shard-count wants a number from 1 to %u, "
				                "not '%s'\n", cmd, SHARD_COUNT_MAX, optarg);
				return EXIT_USAGE;
			}
			rc->shard_count = (unsigned)v;
			break;
		case 'h':
			usage_run(stdout, matrix);
			return -1;
		default:
			/* One line, not the whole help. */
			fprintf(stderr, "faultline %s: %s '%s' (try 'faultline %s --help')\n", cmd,
			        optopt != 0 && strchr(matrix ? "nsjr" : "vnsjr", optopt) != NULL
			        ? "missing value for" : "unknown option", argv[optind - 1], cmd);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "faultline %s: no scenario PATH given (try --help)\n", cmd);
		return EXIT_USAGE;
	}
	rc->ropt.traces_dir = rc->report_dir;
	if (rc->shrink && (rc->report_dir == NULL || rc->live)) {
		fprintf(stderr, "faultline %s: --shrink writes into the report: it needs --report "
		                "DIR%s\n", cmd, rc->live ? " and a simulated run" : "");
		return EXIT_USAGE;
	}
	*first_path = optind;
	return run_options_check(rc, cmd);
}

static void progress(const struct run_common *rc, const struct scenario *sc, const char *var)
{
	if (!rc->progress)
		return;
	fprintf(stderr, "\r\033[K  running %s (%s) ...", sc->name, var);
	fflush(stderr);
}

static void progress_clear(const struct run_common *rc)
{
	if (rc->progress) {
		fprintf(stderr, "\r\033[K");
		fflush(stderr);
	}
}

/* Runs every scenario under each variant set in vss; fills results. */
static int run_all(struct run_common *rc, struct scenario **list, size_t n,
                   const struct variant_set *vss, size_t nvs, struct runner_result *results)
{
	struct result_columns col = {.name = 40, .variant = 9};
	for (size_t i = 0; i < n; i++) {
		int w = (int)strlen(list[i]->name);
		col.name = w > col.name ? w : col.name;
		for (size_t k = 0; k < nvs; k++) {
			char var[160];
			variant_set_format(&vss[k], list[i], var, sizeof var);
			w = (int)strlen(var);
			col.variant = w > col.variant ? w : col.variant;
		}
	}
	double budget_end = now_s() + rc->time_budget_s;
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < nvs; k++) {
			struct runner_result *r = &results[i * nvs + k];
			char var[160], err[256];
			if (rc->time_budget_s > 0) {
				/* each result gets an equal share of what is left */
				double now = now_s(), left = budget_end - now;
				size_t results_left = (n - i) * nvs - k;
				rc->ropt.deadline_s = now + (left > 0 ? left / (double)results_left : 0);
			}
			variant_set_format(&vss[k], list[i], var, sizeof var);
			progress(rc, list[i], var);
			if (runner_run(list[i], &vss[k], &rc->ropt, r, err, sizeof err) != RESULT_OK) {
				progress_clear(rc);
				fprintf(stderr, "faultline: %s: %s\n", list[i]->path, err);
				return EXIT_VIOLATED;
			}
			progress_clear(rc);
			print_result(r, &col, rc->quiet);
			if (rc->stats)
				print_stats(r);
			fflush(stdout);
		}
	}
	return 0;
}

/* --corpus: replays the entries kept for the scenarios of list, before any
 * new seed. Returns how many failed in a way that fails the run: any
 * violation in run; in a matrix only a hardened one (legacy and seed
 * entries are expected to fail again). -1 when the corpus cannot be read. */
static int corpus_replay(struct run_common *rc, struct scenario **list, size_t n,
                         bool matrix)
{
	if (rc->corpus_dir == NULL)
		return 0;
	struct corpus c;
	char err[768];
	if (corpus_load(rc->corpus_dir, &c, err, sizeof err) != RESULT_OK) {
		fprintf(stderr, "faultline: --corpus: %s\n", err);
		return -1;
	}
	int failed = 0;
	size_t replayed = 0;
	for (size_t k = 0; k < c.n; k++) {
		const struct corpus_entry *e = &c.entries[k];
		bool wanted = false;
		for (size_t i = 0; i < n && !wanted; i++)
			wanted = strcmp(list[i]->name, e->scenario) == 0;
		if (!wanted)
			continue;
		if (replayed++ == 0)
			printf("corpus: replaying the entries of %s first\n", rc->corpus_dir);
		struct runner_options opt = {.jobs = 1};
		struct runner_result r;
		if (runner_run(e->sc, &e->vs, &opt, &r, err, sizeof err) != RESULT_OK) {
			fprintf(stderr, "faultline: %s: %s\n", e->sc->path, err);
			failed++;
			continue;
		}
		struct result_columns col = {.name = 40, .variant = 9};
		print_result(&r, &col, rc->quiet);
		bool hardened = true;
		for (int f = 0; f < FIX_COUNT; f++)
			hardened = hardened && e->vs.v[f] == VARIANT_HARDENED;
		if (r.violated && (!matrix || hardened))
			failed++;
		runner_result_fini(&r);
	}
	if (replayed > 0)
		printf("corpus: %zu %s replayed, %d failing\n\n", replayed,
		       replayed == 1 ? "entry" : "entries", failed);
	corpus_fini(&c);
	return failed;
}

/* --corpus: keeps the first failing seed of each violated invariant.
 * Returns 0, or -1 when an entry could not be written (said on stderr). */
static int corpus_record(const struct run_common *rc, const struct runner_result *res,
                         size_t nres)
{
	if (rc->corpus_dir == NULL)
		return 0;
	for (size_t k = 0; k < nres; k++) {
		const struct runner_result *r = &res[k];
		for (int i = 0; i < INV_COUNT; i++) {
			if (!r->inv[i].has_first)
				continue;
			uint32_t same = 0;
			for (int j = 0; j < INV_COUNT; j++) {
				if (r->inv[j].has_first && r->inv[j].first_seed == r->inv[i].first_seed)
					same |= 1u << j;
			}
			char err[1200];
			if (corpus_add(rc->corpus_dir, r->sc, &r->vs, r->inv[i].first_seed, same, err,
			               sizeof err) != RESULT_OK) {
				fprintf(stderr, "faultline: --corpus: %s\n", err);
				return -1;
			}
		}
	}
	return 0;
}

/* How many seeds ran, when a shard or a budget makes that a question. */
static void print_seed_totals(const struct run_common *rc, const struct runner_result *res,
                              size_t n)
{
	if (rc->time_budget_s <= 0 && rc->ropt.shard.count == 0)
		return;
	uint64_t run = 0, planned = 0;
	for (size_t i = 0; i < n; i++) {
		run += res[i].seeds_run;
		planned += res[i].seeds_planned;
	}
	printf("seeds_run: %llu of %llu planned", (unsigned long long)run,
	       (unsigned long long)planned);
	if (rc->ropt.shard.count > 0)
		printf(" (shard %u/%u)", rc->ropt.shard.index, rc->ropt.shard.count);
	if (rc->time_budget_s > 0)
		printf(" in a time budget of %g s", rc->time_budget_s);
	printf("\n");
}

/* --shrink: the first failing seed of each violated invariant of each
 * result, shrunk (harness/shrink.c) into DIR/traces/NAME-INVARIANT.min.yaml
 * (NAME-VARIANT-INVARIANT.min.yaml when the scenario has a result per
 * variant, as in a matrix), named in the report. A shrink that cannot be made
 * is said on stderr and leaves the report without that file. */
static void shrink_results(const struct run_common *rc, struct runner_result *res,
                           size_t nres)
{
	char dir[1024];
	snprintf(dir, sizeof dir, "%s/traces", rc->report_dir);
	struct shrink_options opt = {.budget_s = rc->shrink_budget_s};
	for (size_t k = 0; k < nres; k++) {
		struct runner_result *r = &res[k];
		for (int i = 0; i < INV_COUNT; i++) {
			struct runner_invariant *ri = &r->inv[i];
			if (!ri->has_first)
				continue;
			/* The runner made DIR/traces for the failing seed's trace; not
			 * when it could not write there, and then neither can we. */
			if (mkdir(rc->report_dir, 0777) != 0 && errno != EEXIST) {
				fprintf(stderr, "faultline: --shrink: cannot create %s: %s\n",
				        rc->report_dir, strerror(errno));
				return;
			}
			if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
				fprintf(stderr, "faultline: --shrink: cannot create %s: %s\n", dir,
				        strerror(errno));
				return;
			}
			opt.invariant = i;
			struct shrink_report rep;
			char err[256];
			if (shrink_run(r->sc, &r->vs, ri->first_seed, &opt, &rep, err, sizeof err) !=
			    SHRINK_DONE) {
				fprintf(stderr, "faultline: --shrink: %s seed %" PRIu64 ": %s\n",
				        r->sc->name, ri->first_seed, err);
				continue;
			}
			char var[160], rel[512], path[1600], comment[SHRINK_NOTE_MAX + 1024];
			variant_set_format(&r->vs, r->sc, var, sizeof var);
			bool matrix = false;
			for (size_t j = 0; j < nres; j++)
				matrix |= j != k && res[j].sc == r->sc;
			if (matrix)
				snprintf(rel, sizeof rel, "traces/%s-%s-%s.min.yaml", r->sc->name, var,
				         invariant_name((enum invariant_id)i));
			else
				snprintf(rel, sizeof rel, "traces/%s-%s.min.yaml", r->sc->name,
				         invariant_name((enum invariant_id)i));
			snprintf(path, sizeof path, "%s/%s", rc->report_dir, rel);
			shrink_comment(r->sc, &r->vs, ri->first_seed, &rep, comment, sizeof comment);
			FILE *f = fopen(path, "w");
			bool ok = f != NULL && scenario_write(rep.min, comment, f) == RESULT_OK;
			if (f != NULL && fclose(f) != 0)
				ok = false;
			if (ok) {
				snprintf(ri->shrunk_file, sizeof ri->shrunk_file, "%s", rel);
				if (!rc->quiet)
					printf("shrunk: %s (%s, %" PRIu64 " events, was %" PRIu64 ")\n",
					       path, var, rep.events_after, rep.events_before);
			} else {
				fprintf(stderr, "faultline: --shrink: cannot write %s: %s\n", path,
				        strerror(errno));
				remove(path);
			}
			shrink_report_fini(&rep);
		}
	}
}

static int finish(struct run_common *rc, const char *mode, struct verdict *v,
                  struct scenario **list, size_t n,
                  struct runner_result *results, size_t nresults, int status)
{
	print_seed_totals(rc, results, nresults);
	if (rc->shrink && rc->report_dir != NULL && status != EXIT_USAGE && v != NULL)
		shrink_results(rc, results, nresults);
	if (rc->report_dir != NULL && status != EXIT_USAGE && v != NULL) {
		char err[512];
		if (report_fill_write(rc->report_dir, mode, v, &rc->ropt.shard, list, n, results,
		                      nresults, err, sizeof err) != RESULT_OK) {
			fprintf(stderr, "faultline: report: %s\n", err);
			if (status == 0)
				status = EXIT_VIOLATED;
		} else if (!rc->quiet) {
			printf("report: %s/report.html (also report.json, junit.xml, report.md)\n",
			       rc->report_dir);
		}
	}
	verdict_fini(v);
	for (size_t i = 0; i < nresults; i++)
		runner_result_fini(&results[i]);
	free(results);
	for (size_t i = 0; i < n; i++)
		scenario_destroy(list[i]);
	free(list);
	return status;
}

/* The one verdict of these results (harness/verdict.c); false when out of
 * memory, said on stderr. */
static bool judge(const struct runner_result *results, size_t n, bool matrix,
                  struct verdict *v)
{
	struct verdict_row *rows = calloc(n > 0 ? n : 1, sizeof *rows);
	enum result rc = RESULT_NOMEM;
	if (rows != NULL) {
		for (size_t i = 0; i < n; i++)
			verdict_row_of_result(&results[i], &rows[i]);
		rc = verdict_decide(rows, n, matrix, 0, v);
	}
	free(rows);
	if (rc != RESULT_OK)
		fprintf(stderr, "faultline: cannot decide the verdict (%s)\n", result_name(rc));
	return rc == RESULT_OK;
}

/* The verdict block every run ends with: the headline, then each reason. */
static int print_verdict(const struct verdict *v)
{
	printf("\nverdict: %s: %s\n", v->pass ? "PASS" : "FAIL", v->headline);
	for (size_t i = 0; v->nreasons > 1 && i < v->nreasons; i++)
		printf("  reason: %s\n", v->reasons[i].text);
	return v->pass ? 0 : EXIT_VIOLATED;
}

/* "N scenarios: V violated, I not exercised, H held": each count computed
 * on its own (FAIL before IDLE, as the result lines print them). */
static void print_counts(const struct runner_result *res, size_t n, const char *what)
{
	uint64_t violated = 0, idle = 0, held = 0;
	for (size_t i = 0; i < n; i++) {
		violated += res[i].violated != 0;
		idle += res[i].violated == 0 && !res[i].exercised;
		held += res[i].violated == 0 && res[i].exercised;
	}
	printf("\n%zu %s%s: %llu violated, %llu not exercised, %llu held\n", n, what,
	       n == 1 ? "" : "s", (unsigned long long)violated, (unsigned long long)idle,
	       (unsigned long long)held);
}

/* The --live path: real servers, one process, no determinism check. */
static int run_live(struct run_common *rc, const struct variant_set *vs, int npaths,
                    char **paths)
{
	if (!rc->live) {
		fprintf(stderr, "faultline run: --redis-url, --pg-url, --smtp-url, --stripe-key-file "
		                "and --time-scale need --live\n");
		return EXIT_USAGE;
	}
	if (rc->swarm || rc->corpus_dir != NULL) {
		fprintf(stderr, "faultline run: --%s does not apply to --live\n",
		        rc->swarm ? "swarm" : "corpus");
		return EXIT_USAGE;
	}
	if (rc->jobs_set || rc->determinism_set || rc->stats || rc->ropt.trace_digest) {
		fprintf(stderr, "faultline run: --%s does not apply to --live (one set of servers, "
		                "runs that are not replayed)\n",
		        rc->jobs_set ? "jobs" : rc->determinism_set ? "determinism"
		        : rc->stats ? "stats" : "trace-digest");
		return EXIT_USAGE;
	}
	struct scenario **list;
	size_t n;
	int st = cli_load_scenarios(npaths, paths, &list, &n);
	if (st != 0)
		return st;
	rc->lopt.seeds_set = rc->ropt.seeds_set;
	rc->lopt.seeds = rc->ropt.seeds;
	rc->lopt.seed_set = rc->ropt.seed_set;
	rc->lopt.seed = rc->ropt.seed;
	rc->lopt.quiet = rc->quiet;
	struct runner_result *results = calloc(n, sizeof *results);
	ASSERT(results != NULL);
	size_t nres = 0;
	st = live_run(list, n, vs, &rc->lopt, results, &nres, stdout);
	fflush(stdout);
	/* Reports only of a run that ran: no report claims a pass it never saw. */
	if (st == EXIT_UNREACHABLE || st == EXIT_USAGE)
		return finish(rc, "live", NULL, list, n, results, nres, st);
	struct verdict v;
	if (!judge(results, nres, false, &v))
		return finish(rc, "live", NULL, list, n, results, nres, EXIT_VIOLATED);
	st = print_verdict(&v);
	return finish(rc, "live", &v, list, n, results, nres, st);
}

int cmd_run(int argc, char **argv)
{
	struct run_common rc;
	struct variant_set vs;
	int first;
	int st = run_options(argc, argv, false, &rc, &vs, &first);
	if (st != 0)
		return st < 0 ? 0 : st;
	if (rc.live || rc.live_option)
		return run_live(&rc, &vs, argc - first, argv + first);
	struct scenario **list;
	size_t n;
	if ((st = cli_load_scenarios(argc - first, argv + first, &list, &n)) != 0)
		return st;
	swarm_apply(&rc, list, n);
	int corpus_failed = corpus_replay(&rc, list, n, false);
	if (corpus_failed < 0) {
		for (size_t i = 0; i < n; i++)
			scenario_destroy(list[i]);
		free(list);
		return EXIT_USAGE;
	}
	struct runner_result *results = calloc(n, sizeof *results);
	ASSERT(results != NULL);
	double t0 = now_s();
	st = run_all(&rc, list, n, &vs, 1, results);
	if (st == 0)
		st = corpus_record(&rc, results, n) ? EXIT_VIOLATED : 0;
	if (rc.stats)
		print_totals(results, n, now_s() - t0);
	if (st != 0)
		return finish(&rc, "simulated", NULL, list, n, results, n, st);
	print_counts(results, n, "scenario");
	struct verdict v;
	if (!judge(results, n, false, &v))
		return finish(&rc, "simulated", NULL, list, n, results, n, EXIT_VIOLATED);
	st = print_verdict(&v);
	if (corpus_failed > 0) {
		printf("  !! %d corpus %s violated again\n", corpus_failed,
		       corpus_failed == 1 ? "entry" : "entries");
		if (st == 0)
			st = EXIT_VIOLATED;
	}
	return finish(&rc, "simulated", &v, list, n, results, n, st);
}

/* The fix x variant table of a matrix: what each variant broke, and where it
 * was not exercised. Judging is verdict.c's. */
static void matrix_table(struct scenario **list, size_t n, const struct runner_result *res)
{
	printf("\nfix                variant    invariants violated (scenarios)\n");
	printf("-----------------  ---------  ----------------------------------------\n");
	for (int f = 0; f < FIX_COUNT; f++) {
		for (int v = 0; v < VARIANT_COUNT; v++) {
			char line[512] = "";
			size_t used = 0;
			unsigned scenarios = 0, idle = 0;
			for (size_t i = 0; i < n; i++) {
				if (!(list[i]->fixes & (1u << f)))
					continue;
				scenarios++;
				idle += !res[i * VARIANT_COUNT + v].exercised;
			}
			for (int inv = 0; inv < INV_COUNT; inv++) {
				if (!verdict_invariant_of_fix((enum invariant_id)inv, (enum fix_id)f))
					continue;
				unsigned count = 0;
				for (size_t i = 0; i < n; i++) {
					if ((list[i]->fixes & (1u << f)) &&
					    (res[i * VARIANT_COUNT + v].violated & (1u << inv)))
						count++;
				}
				if (count) {
					int w = snprintf(line + used, sizeof line - used, "%s%s (%u)",
					                 used ? ", " : "", invariant_name((enum invariant_id)inv),
					                 count);
					if (w > 0 && (size_t)w < sizeof line - used)
						used += (size_t)w;
				}
			}
			printf("%-17s  %-9s  ", fix_name((enum fix_id)f), variant_name((enum variant)v));
			if (scenarios == 0)
				printf("(no scenario here: not judged)\n");
			else if (idle == 0)
				printf("%s\n", used ? line : "none: every invariant held");
			else
				printf("%s; not exercised in %u of %u %s\n", used ? line : "none violated",
				       idle, scenarios, scenarios == 1 ? "scenario" : "scenarios");
		}
	}
}

int cmd_matrix(int argc, char **argv)
{
	struct run_common rc;
	struct variant_set unused;
	int first;
	int st = run_options(argc, argv, true, &rc, &unused, &first);
	if (st != 0)
		return st < 0 ? 0 : st;
	struct scenario **list;
	size_t n;
	if ((st = cli_load_scenarios(argc - first, argv + first, &list, &n)) != 0)
		return st;
	swarm_apply(&rc, list, n);
	int corpus_failed = corpus_replay(&rc, list, n, true);
	if (corpus_failed < 0) {
		for (size_t i = 0; i < n; i++)
			scenario_destroy(list[i]);
		free(list);
		return EXIT_USAGE;
	}
	struct variant_set vss[VARIANT_COUNT];
	for (int v = 0; v < VARIANT_COUNT; v++) {
		for (int f = 0; f < FIX_COUNT; f++)
			vss[v].v[f] = (enum variant)v;
	}
	size_t nres = n * VARIANT_COUNT;
	struct runner_result *results = calloc(nres, sizeof *results);
	ASSERT(results != NULL);
	double t0 = now_s();
	st = run_all(&rc, list, n, vss, VARIANT_COUNT, results);
	if (rc.stats)
		print_totals(results, nres, now_s() - t0);
	if (st != 0)
		return finish(&rc, "simulated", NULL, list, n, results, nres, st);
	matrix_table(list, n, results);
	if (corpus_record(&rc, results, nres) != 0)
		return finish(&rc, "simulated", NULL, list, n, results, nres, EXIT_VIOLATED);
	struct verdict v;
	if (!judge(results, nres, true, &v))
		return finish(&rc, "simulated", NULL, list, n, results, nres, EXIT_VIOLATED);
	st = print_verdict(&v);
	if (corpus_failed > 0) {
		printf("  !! %d hardened corpus %s violated again\n", corpus_failed,
		       corpus_failed == 1 ? "entry" : "entries");
		if (st == 0)
			st = EXIT_VIOLATED;
	}
	return finish(&rc, "simulated", &v, list, n, results, nres, st);
}

static void usage_replay(FILE *out)
{
	fprintf(out,
	        "usage: faultline replay SCENARIO --seed N [--variant V] [--output FILE]\n"
	        "\n"
	        "Runs one seed of one scenario and prints its full trace, one JSON object\n"
	        "per line, identical on every run and machine. Then prints which invariants\n"
	        "held on stderr. Exit 0 when all held, 1 when one was violated.\n"
	        "\n"
	        "  -s, --seed N       the seed (required)\n"
	        "  -v, --variant V    legacy | seed | hardened (default) or FIX=V,...\n"
	        "  -o, --output FILE  write the trace to FILE instead of stdout\n"
	        "      --swarm        replay the seed's swarm draw (as run --swarm did)\n"
	        "  -h, --help         this help\n");
}

int cmd_replay(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"seed", required_argument, NULL, 's'},
		{"variant", required_argument, NULL, 'v'},
		{"output", required_argument, NULL, 'o'},
		{"swarm", no_argument, NULL, 'W'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct variant_set vs;
	for (int f = 0; f < FIX_COUNT; f++)
		vs.v[f] = VARIANT_HARDENED;
	bool have_seed = false;
	uint64_t seed = 0;
	const char *output = NULL;
	bool swarm = false;
	char err[256];
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:v:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!parse_u64(optarg, 0, UINT64_MAX, &seed)) {
				fprintf(stderr, "faultline replay: --seed wants a non-negative integer, "
				                "not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			have_seed = true;
			break;
		case 'v':
			if (!variant_set_parse(optarg, &vs, err, sizeof err)) {
				fprintf(stderr, "faultline replay: %s\n", err);
				return EXIT_USAGE;
			}
			break;
		case 'o':
			output = optarg;
			break;
		case 'W':
			swarm = true;
			break;
		case 'h':
			usage_replay(stdout);
			return 0;
		default:
			usage_replay(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !have_seed) {
		fprintf(stderr, "faultline replay: want exactly one SCENARIO file and --seed N "
		                "(try --help)\n");
		return EXIT_USAGE;
	}
	struct scenario *sc;
	struct scenario_error se;
	if (scenario_load(argv[optind], &sc, &se) != RESULT_OK) {
		char msg[768];
		scenario_error_format(&se, msg, sizeof msg);
		fprintf(stderr, "%s\n", msg);
		return EXIT_USAGE;
	}
	if (swarm) {
		if (!sc->swarm)
			sc->swarm_from_cli = true;
		sc->swarm = true;
	}
	FILE *out = stdout;
	if (output != NULL && (out = fopen(output, "w")) == NULL) {
		fprintf(stderr, "faultline replay: cannot write %s: %s\n", output, strerror(errno));
		scenario_destroy(sc);
		return EXIT_USAGE;
	}
	struct world_result res;
	enum result rc = runner_replay(sc, &vs, seed, out, &res);
	if (out != stdout)
		fclose(out);
	else
		fflush(stdout);
	int st = 0;
	if (rc != RESULT_OK) {
		fprintf(stderr, "faultline replay: out of memory\n");
		st = EXIT_VIOLATED;
	} else {
		for (int i = 0; i < INV_COUNT; i++) {
			if (!(res.checked & (1u << i)))
				continue;
			bool bad = res.violated & (1u << i);
			fprintf(stderr, "%-20s %s", invariant_name((enum invariant_id)i),
			        bad ? "VIOLATED" : "held");
			if (bad)
				fprintf(stderr, " at %.6fs: %s", (double)res.v[i].t_us / 1e6,
				        res.v[i].message);
			fprintf(stderr, "\n");
		}
		st = res.violated ? EXIT_VIOLATED : 0;
	}
	scenario_destroy(sc);
	return st;
}
