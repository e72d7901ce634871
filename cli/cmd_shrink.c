/* cli/cmd_shrink.c - faultline shrink: from a failing seed to the smallest
 * scenario file that still fails the same way (harness/shrink.c), written
 * out with its schedule, and the story of the shrunk run in a few lines. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/assert.h"
#include "harness/runner.h"
#include "harness/scenario_write.h"
#include "harness/shrink.h"
#include "sim/trace.h"

#define STORY_LINES_MAX 40

static void shrink_usage(FILE *out)
{
	fputs("usage: faultline shrink FILE --seed N [--variant V] [-o OUT.yaml]\n"
	      "                        [--shrink-budget SECONDS] [--invariant NAME] [--swarm]\n"
	      "\n"
	      "Searches for the smallest run of FILE that violates the same invariant as\n"
	      "seed N, with a witness of the same shape: fewer events, copies, users and\n"
	      "requests, shorter spreads, fewer fault rules, and the faults that fired\n"
	      "pinned as a schedule: section (the nth operation of a name, once), so that\n"
	      "no fault is left to chance. Writes that scenario file (to OUT, or to\n"
	      "standard output) and prints the shrunk run's story: its requests, the\n"
	      "operations applied, the faults and the violation, in order.\n"
	      "\n"
	      "  -s, --seed N            the failing seed (required)\n"
	      "  -v, --variant V         legacy (default), seed, hardened or fix=variant,...\n"
	      "  -o, --output OUT.yaml   write the shrunk scenario here\n"
	      "      --shrink-budget S   stop searching after S seconds (default 5)\n"
	      "      --invariant NAME    keep this one violated (default: the first the\n"
	      "                          seed violates)\n"
	      "      --swarm             the seed's swarm draw, as run --swarm ran it\n"
	      "  -q, --quiet             no story\n"
	      "  -h, --help              this help\n"
	      "\n"
	      "Exit status: 0 shrunk, 1 the seed violates nothing (or not NAME), 2 bad\n"
	      "usage or a bad scenario file.\n",
	      out);
}

/* Seconds, with an optional 's'. */
static bool parse_budget(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno != 0 || !(v > 0.0) || v > 3600.0)
		return false;
	if (*end == 's')
		end++;
	if (*end != '\0')
		return false;
	*out = v;
	return true;
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s != NULL ? s : "";
}

/* One trace line in words, or false when it is not part of the story
 * (replies, the network, bookkeeping). */
static bool story_line(const char *line, char *buf, size_t size)
{
	json_t *o = json_loads(line, 0, NULL);
	if (o == NULL)
		return false;
	double t = (double)json_integer_value(json_object_get(o, "t")) / 1e6;
	const char *ev = jstr(o, "ev");
	bool keep = true;
	if (strcmp(ev, "request") == 0) {
		snprintf(buf, size, "%10.6fs  %s request %s arrives", t, jstr(o, "fix"),
		         jstr(o, "id"));
	} else if (strcmp(ev, "apply") == 0) {
		const char *p1 = jstr(o, "p1"), *p2 = jstr(o, "p2");
		snprintf(buf, size, "%10.6fs  %s applies %s%s%s%s%s%s", t, jstr(o, "target"),
		         jstr(o, "op"), *p1 ? " " : "", p1, *p2 ? " " : "", p2,
		         json_object_get(o, "sqlstate") != NULL &&
		                 strcmp(jstr(o, "sqlstate"), "00000") != 0
		             ? " -> error" : "");
	} else if (strcmp(ev, "fault") == 0) {
		snprintf(buf, size, "%10.6fs  FAULT: %s %s meets %s", t, jstr(o, "target"),
		         jstr(o, "op"), jstr(o, "kind"));
	} else if (strcmp(ev, "response") == 0) {
		snprintf(buf, size, "%10.6fs  %s answers %s: %s", t, jstr(o, "fix"), jstr(o, "id"),
		         jstr(o, "outcome"));
	} else if (strcmp(ev, "violation") == 0) {
		snprintf(buf, size, "%10.6fs  VIOLATED %s: %s", t, jstr(o, "invariant"),
		         jstr(o, "message"));
	} else {
		keep = false;
	}
	json_decref(o);
	return keep;
}

/* The story of the shrunk run: its trace with replies and the network
 * folded, the first STORY_LINES_MAX lines of it and the violation. */
static void print_story(FILE *say, const struct scenario *min, const struct variant_set *vs,
                        uint64_t seed)
{
	struct trace tr;
	trace_init_mem(&tr);
	struct world_result res;
	if (runner_run_seed(min, vs, seed, &tr, &res) != RESULT_OK) {
		trace_fini(&tr);
		return;
	}
	size_t len;
	const char *text = trace_mem(&tr, &len);
	size_t shown = 0, folded = 0, kept = 0;
	char *copy = strndup(text, len);
	ASSERT(copy != NULL);
	fprintf(say, "story (seed %" PRIu64 "):\n", seed);
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char words[512];
		if (!story_line(line, words, sizeof words)) {
			folded++;
			continue;
		}
		kept++;
		bool violation = strstr(words, "VIOLATED ") != NULL;
		if (shown < STORY_LINES_MAX || violation) {
			fprintf(say, "  %s\n", words);
			shown++;
		}
	}
	if (kept > shown)
		fprintf(say, "  (%zu more story lines not shown)\n", kept - shown);
	fprintf(say, "  (%zu replies and network events folded)\n", folded);
	free(copy);
	trace_fini(&tr);
}

int cmd_shrink(int argc, char **argv)
{
	static const struct option options[] = {
		{"seed", required_argument, NULL, 's'},
		{"variant", required_argument, NULL, 'v'},
		{"output", required_argument, NULL, 'o'},
		{"shrink-budget", required_argument, NULL, 'B'},
		{"invariant", required_argument, NULL, 'I'},
		{"swarm", no_argument, NULL, 'W'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct variant_set vs;
	char err[256];
	bool ok = variant_set_parse("legacy", &vs, err, sizeof err);
	ASSERT(ok);
	struct shrink_options opt = {.budget_s = 5.0, .invariant = -1};
	bool seed_set = false, swarm = false, quiet = false;
	uint64_t seed = 0;
	const char *out_path = NULL;
	optind = 0;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "s:v:o:qh", options, NULL)) != -1) {
		switch (c) {
		case 's': {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (end == optarg || *end != '\0' || errno != 0 || optarg[0] == '-') {
				fprintf(stderr, "faultline shrink: --seed '%s' is not a seed (a whole "
				        "number)\n", optarg);
				return EXIT_USAGE;
			}
			seed = v;
			seed_set = true;
			break;
		}
		case 'v':
			if (!variant_set_parse(optarg, &vs, err, sizeof err)) {
				fprintf(stderr, "faultline shrink: %s\n", err);
				return EXIT_USAGE;
			}
			break;
		case 'o':
			out_path = optarg;
			break;
		case 'B':
			if (!parse_budget(optarg, &opt.budget_s)) {
				fprintf(stderr, "faultline shrink: --shrink-budget '%s' is not a number "
				        "of seconds (0 < S <= 3600)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'I': {
			enum invariant_id id;
			if (!invariant_parse(optarg, &id)) {
				fprintf(stderr, "faultline shrink: unknown invariant '%s'\n", optarg);
				return EXIT_USAGE;
			}
			opt.invariant = (int)id;
			break;
		}
		case 'W':
			swarm = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			shrink_usage(stdout);
			return EXIT_HELD;
		default:
			fprintf(stderr, "faultline shrink: unknown option '%s' (try 'faultline shrink "
			        "--help')\n", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "faultline shrink: give one scenario FILE (try 'faultline shrink "
		        "--help')\n");
		return EXIT_USAGE;
	}
	if (!seed_set) {
		fprintf(stderr, "faultline shrink: --seed N is required: the failing seed (try "
		        "'faultline shrink --help')\n");
		return EXIT_USAGE;
	}
	struct scenario **list;
	size_t n;
	int status = cli_load_scenarios(1, argv + optind, &list, &n);
	if (status != 0)
		return status;
	if (n != 1) {
		fprintf(stderr, "faultline shrink: %s holds %zu scenarios; give one file\n",
		        argv[optind], n);
		for (size_t i = 0; i < n; i++)
			scenario_destroy(list[i]);
		free(list);
		return EXIT_USAGE;
	}
	struct scenario *sc = list[0];
	free(list);
	if (swarm)
		sc->swarm = true;

	struct shrink_report rep;
	enum shrink_status st = shrink_run(sc, &vs, seed, &opt, &rep, err, sizeof err);
	char var[160];
	variant_set_format(&vs, sc, var, sizeof var);
	if (st == SHRINK_NO_VIOLATION) {
		if (opt.invariant >= 0)
			fprintf(stderr, "faultline shrink: seed %" PRIu64 " of %s under %s does not "
			        "violate %s: nothing to shrink\n", seed, sc->path, var,
			        invariant_name((enum invariant_id)opt.invariant));
		else
			fprintf(stderr, "faultline shrink: seed %" PRIu64 " of %s under %s violates "
			        "nothing: nothing to shrink\n", seed, sc->path, var);
		scenario_destroy(sc);
		return EXIT_VIOLATED;
	}
	if (st == SHRINK_FAILED) {
		fprintf(stderr, "faultline shrink: %s\n", err);
		scenario_destroy(sc);
		return EXIT_USAGE;
	}
	char comment[SHRINK_NOTE_MAX + 1024];
	shrink_comment(sc, &vs, seed, &rep, comment, sizeof comment);
	FILE *out = stdout;
	if (out_path != NULL && (out = fopen(out_path, "w")) == NULL) {
		fprintf(stderr, "faultline shrink: cannot write %s: %s\n", out_path, strerror(errno));
		shrink_report_fini(&rep);
		scenario_destroy(sc);
		return EXIT_USAGE;
	}
	enum result wr = scenario_write(rep.min, comment, out);
	if (out != stdout && fclose(out) != 0)
		wr = RESULT_ERROR;
	if (wr != RESULT_OK) {
		fprintf(stderr, "faultline shrink: writing %s failed: %s\n",
		        out_path != NULL ? out_path : "standard output", strerror(errno));
		shrink_report_fini(&rep);
		scenario_destroy(sc);
		return EXIT_USAGE;
	}
	/* With the file on standard output, the words go to standard error. */
	FILE *say = out_path != NULL ? stdout : stderr;
	fflush(stdout);
	fprintf(say, "shrunk %s seed %" PRIu64 " (%s): %s %s\n", sc->path, seed, var,
	       invariant_name(rep.inv), rep.any_seed ? "under every seed tried" : "under that seed");
	fprintf(say, "  %" PRIu64 " events, was %" PRIu64 "; %" PRIu32 " runs in %.2fs%s\n",
	       rep.events_after, rep.events_before, rep.runs, rep.wall_s,
	       rep.budget_spent ? " (the budget ran out)" : "");
	fprintf(say, "  removed: %s\n", rep.removed[0] != '\0' ? rep.removed : "nothing");
	if (out_path != NULL)
		fprintf(say, "  written: %s (run it: %s run -v %s %s)\n", out_path, runner_program(), var,
		       out_path);
	if (!quiet)
		print_story(say, rep.min, &vs, seed);
	fflush(stdout);
	shrink_report_fini(&rep);
	scenario_destroy(sc);
	return EXIT_HELD;
}
