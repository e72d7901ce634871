/* cli/cmd_check.c - "faultline check": loads scenario files and reports,
 * file by file, whether each one is valid, without running anything. Not
 * for running scenarios (that is "faultline run"). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "cli/cli.h"
#include "harness/paths.h"
#include "harness/scenario_load.h"

static void check_usage(FILE *out)
{
	fprintf(out,
	        "usage: faultline check [--quiet] PATH...\n"
	        "\n"
	        "Validates scenario files without running them. A PATH is a file, or a\n"
	        "folder whose *.yaml and *.yml files are checked (recursively, sorted).\n"
	        "Prints 'ok  FILE  (NAME: fixes, N seeds, M faults)' for each good file\n"
	        "and 'FILE:LINE:COLUMN: message' on stderr for each bad one.\n"
	        "\n"
	        "Options:\n"
	        "  -q, --quiet  print only the errors\n"
	        "  -h, --help   this help\n"
	        "\n"
	        "Exit status: 0 every file is valid; 2 a file is bad, a PATH is missing,\n"
	        "no scenario file was found, or the usage is wrong.\n");
}

static void check_print_ok(const char *file, const struct scenario *sc)
{
	printf("ok  %s  (%s: ", file, sc->name);
	bool first = true;
	for (unsigned f = 0; f < FIX_COUNT; f++) {
		if (sc->fixes & (1u << f)) {
			printf("%s%s", first ? "" : ", ", fix_name((enum fix_id)f));
			first = false;
		}
	}
	size_t seeds = scenario_seed_count(sc);
	printf(", %zu %s, %zu %s)\n", seeds, seeds == 1 ? "seed" : "seeds", sc->faults.nrules,
	       sc->faults.nrules == 1 ? "fault" : "faults");
}

int cmd_check(int argc, char **argv)
{
	static const struct option options[] = {
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool quiet = false;
	optind = 0;           /* GNU: start afresh, whatever ran before */
	int c;
	while ((c = getopt_long(argc, argv, "qh", options, NULL)) != -1) {
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case 'h':
			check_usage(stdout);
			return 0;
		default:
			check_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "faultline check: no PATH given\n");
		check_usage(stderr);
		return EXIT_USAGE;
	}

	struct path_list files;
	char err[512];
	enum result rc = paths_collect(argc - optind, argv + optind, &files, err, sizeof err);
	if (rc != RESULT_OK) {
		fprintf(stderr, "faultline check: %s\n", err);
		return EXIT_USAGE;
	}
	if (files.n == 0) {
		fprintf(stderr, "faultline check: no scenario file (*.yaml, *.yml) found\n");
		paths_fini(&files);
		return EXIT_USAGE;
	}

	size_t bad = 0;
	for (size_t i = 0; i < files.n; i++) {
		struct scenario *sc = NULL;
		struct scenario_error e;
		if (scenario_load(files.paths[i], &sc, &e) != RESULT_OK) {
			char msg[sizeof e.file + sizeof e.message + 32];
			scenario_error_format(&e, msg, sizeof msg);
			fprintf(stderr, "%s\n", msg);
			bad++;
			continue;
		}
		if (!quiet)
			check_print_ok(files.paths[i], sc);
		scenario_destroy(sc);
	}
	fflush(stdout);
	paths_fini(&files);
	return bad == 0 ? 0 : EXIT_USAGE;
}
