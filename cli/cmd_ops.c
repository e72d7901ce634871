/* cli/cmd_ops.c - "faultline ops": the operations each fix issues under each
 * variant, by the names a fault rule's op matches (the core's command names
 * and its SQL catalogue's statement names). Learnt by running the scenarios
 * of each fix alone in the simulator, so the table follows the code; not a
 * list kept by hand. docs/scenarios.md holds its --markdown output. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "cli/cli.h"
#include "harness/coverage.h"
#include "harness/runner.h"
#include "harness/scenario_load.h"

static void ops_usage(FILE *out)
{
	fprintf(out,
	        "usage: faultline ops [--markdown] PATH...\n"
	        "\n"
	        "Runs the scenarios that exercise one fix alone under each variant, in\n"
	        "the simulator over their own seeds, and prints for each fix and variant\n"
	        "the operations it issued, by target: the names a fault rule's op can\n"
	        "use for that variant. Scenarios of several fixes are left out.\n"
	        "\n"
	        "  -m, --markdown  a Markdown table (the one in docs/scenarios.md)\n"
	        "  -h, --help      this help\n"
	        "\n"
	        "Exit status: 0 printed; 1 an operation has no name a fault rule could\n"
	        "use; 2 bad usage or a bad scenario file.\n");
}

/* seen[fix][variant][target][op index]: the op was issued at least once. */
struct ops_table {
	bool seen[FIX_COUNT][VARIANT_COUNT][FAULT_TARGET_COUNT][COVERAGE_OPS_MAX];
	bool ran[FIX_COUNT];
};

/* The one fix sc exercises, or FIX_COUNT when it names several. */
static enum fix_id ops_single_fix(const struct scenario *sc)
{
	for (unsigned f = 0; f < FIX_COUNT; f++) {
		if (sc->fixes == (1u << f))
			return (enum fix_id)f;
	}
	return FIX_COUNT;
}

/* Runs sc under every variant into t. Returns an exit status. */
static int ops_learn(const struct scenario *sc, enum fix_id fix, struct ops_table *t)
{
	int status = 0;
	for (int v = 0; v < VARIANT_COUNT; v++) {
		struct variant_set vs;
		for (int f = 0; f < FIX_COUNT; f++)
			vs.v[f] = (enum variant)v;
		struct runner_options opt = {.jobs = 1};
		struct runner_result r;
		char err[256];
		if (runner_run(sc, &vs, &opt, &r, err, sizeof err) != RESULT_OK) {
			fprintf(stderr, "faultline ops: %s: %s\n", sc->path, err);
			return EXIT_VIOLATED;
		}
		for (int target = 0; target < FAULT_TARGET_COUNT; target++) {
			size_t nops = coverage_op_count((enum fault_target)target);
			/* Index 0 is "other": a name no rule can match. */
			if (r.cov.issued[target][0] > 0) {
				fprintf(stderr, "faultline ops: %s: %s %s issued a %s operation "
				        "that no fault rule can name\n", sc->path, fix_name(fix),
				        variant_name((enum variant)v),
				        fault_target_name((enum fault_target)target));
				status = EXIT_VIOLATED;
			}
			for (size_t i = 1; i < nops; i++)
				t->seen[fix][v][target][i] |= r.cov.issued[target][i] > 0;
		}
		runner_result_fini(&r);
	}
	t->ran[fix] = true;
	return status;
}

/* The ops of one target, joined by sep, each wrapped in quote. */
static void ops_print_cell(const struct ops_table *t, int fix, int v, int target,
                           const char *sep, const char *quote)
{
	size_t nops = coverage_op_count((enum fault_target)target);
	bool first = true;
	for (size_t i = 1; i < nops; i++) {
		if (!t->seen[fix][v][target][i])
			continue;
		printf("%s%s%s%s", first ? "" : sep, quote,
		       coverage_op_name((enum fault_target)target, i), quote);
		first = false;
	}
}

static bool ops_target_used(const struct ops_table *t, int fix, int v, int target)
{
	for (size_t i = 1; i < COVERAGE_OPS_MAX; i++) {
		if (t->seen[fix][v][target][i])
			return true;
	}
	return false;
}

static void ops_print(const struct ops_table *t, bool markdown)
{
	if (markdown) {
		printf("| fix | variant |");
		for (int target = 0; target < FAULT_TARGET_COUNT; target++)
			printf(" `%s` |", fault_target_name((enum fault_target)target));
		printf("\n|---|---|");
		for (int target = 0; target < FAULT_TARGET_COUNT; target++)
			printf("---|");
		printf("\n");
	}
	for (int fix = 0; fix < FIX_COUNT; fix++) {
		if (!t->ran[fix])
			continue;
		for (int v = 0; v < VARIANT_COUNT; v++) {
			if (markdown)
				printf("| `%s` | `%s` |", fix_name((enum fix_id)fix),
				       variant_name((enum variant)v));
			else
				printf("%-16s %-9s", fix_name((enum fix_id)fix),
				       variant_name((enum variant)v));
			bool first = true;
			for (int target = 0; target < FAULT_TARGET_COUNT; target++) {
				if (markdown) {
					printf(" ");
					ops_print_cell(t, fix, v, target, ", ", "`");
					printf(" |");
				} else if (ops_target_used(t, fix, v, target)) {
					printf("%s%s: ", first ? " " : "; ",
					       fault_target_name((enum fault_target)target));
					ops_print_cell(t, fix, v, target, " ", "");
					first = false;
				}
			}
			printf("\n");
		}
	}
}

int cmd_ops(int argc, char **argv)
{
	static const struct option options[] = {
		{"markdown", no_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool markdown = false;
	optind = 0;           /* GNU: start afresh, whatever ran before */
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "mh", options, NULL)) != -1) {
		switch (c) {
		case 'm':
			markdown = true;
			break;
		case 'h':
			ops_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "faultline ops: unknown option '%s' (try 'faultline ops --help')\n",
			        argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "faultline ops: no PATH given (try 'faultline ops --help')\n");
		return EXIT_USAGE;
	}
	struct scenario **list;
	size_t n;
	int status = cli_load_scenarios(argc - optind, argv + optind, &list, &n);
	if (status != 0)
		return status;
	struct ops_table *t = calloc(1, sizeof *t);
	ASSERT(t != NULL);
	size_t learnt = 0;
	for (size_t i = 0; i < n; i++) {
		enum fix_id fix = ops_single_fix(list[i]);
		if (fix == FIX_COUNT)
			continue;
		int st = ops_learn(list[i], fix, t);
		if (st != 0)
			status = st;
		learnt++;
	}
	if (learnt == 0) {
		fprintf(stderr, "faultline ops: no scenario exercises one fix alone\n");
		status = EXIT_USAGE;
	} else {
		ops_print(t, markdown);
	}
	free(t);
	for (size_t i = 0; i < n; i++)
		scenario_destroy(list[i]);
	free(list);
	return status;
}
