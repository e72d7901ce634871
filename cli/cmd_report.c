/* cli/cmd_report.c - 'faultline report': render the pages of a report
 * directory from its report.json, or merge report.json files of runs over
 * disjoint seeds into one report directory. Parsing of arguments only: the
 * work is in reports/. Exits 0 on success, 2 on bad usage or bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/report_fill.h"
#include "reports/report.h"
#include "reports/report_files.h"
#include "reports/report_json.h"
#include "cli/cli.h"

#define REPORT_CMD_ERR_MAX 1024

static void report_usage(FILE *out)
{
	fprintf(out,
	        "usage: faultline report render DIR\n"
	        "       faultline report merge OUT IN...\n"
	        "\n"
	        "render  reads DIR/report.json and rewrites DIR/junit.xml, DIR/report.md\n"
	        "        and DIR/report.html from it.\n"
	        "merge   adds up runs of the same scenarios over disjoint seeds: each IN is\n"
	        "        a report.json or a directory holding one; OUT is a directory that\n"
	        "        receives report.json, junit.xml, report.md and report.html.\n"
	        "\n"
	        "Exit status: 0 written, 2 bad usage or an unreadable or invalid input\n"
	        "(the message names the file).\n");
}

static void render_usage(FILE *out)
{
	fprintf(out,
	        "usage: faultline report render DIR\n"
	        "\n"
	        "Reads DIR/report.json (schema %d) and rewrites DIR/junit.xml, DIR/report.md\n"
	        "and DIR/report.html from it; report.json itself is left as it is.\n"
	        "Exit status: 0 written, 2 bad usage, unreadable or invalid report.json.\n",
	        REPORT_SCHEMA);
}

static void merge_usage(FILE *out)
{
	fprintf(out,
	        "usage: faultline report merge OUT IN...\n"
	        "\n"
	        "Merges the reports IN (report.json files, or directories holding one) of\n"
	        "runs over disjoint seed ranges into the report directory OUT (created if\n"
	        "needed): report.json, junit.xml, report.md and report.html. Results of the\n"
	        "same scenario and variant add up; the first failing seed is the lowest.\n"
	        "Inputs that ran the same seed twice, or the same scenario file with\n"
	        "different contents, are refused.\n"
	        "Exit status: 0 written, 2 bad usage or an unreadable or invalid input.\n");
}

static bool is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/* IN as given, or IN/report.json when IN is a directory. */
static bool report_input_path(const char *in, char *path, size_t size)
{
	struct stat st;
	int n;
	if (stat(in, &st) == 0 && S_ISDIR(st.st_mode))
		n = snprintf(path, size, "%s/report.json", in);
	else
		n = snprintf(path, size, "%s", in);
	return n >= 0 && (size_t)n < size;
}

static int report_render(int argc, char **argv)
{
	if (argc == 2 && is_help(argv[1])) {
		render_usage(stdout);
		return EXIT_HELD;
	}
	if (argc != 2 || argv[1][0] == '-') {
		render_usage(stderr);
		return EXIT_USAGE;
	}
	const char *dir = argv[1];
	char path[REPORT_PATH_MAX];
	char err[REPORT_CMD_ERR_MAX] = "";
	if (snprintf(path, sizeof path, "%s/report.json", dir) >= (int)sizeof path) {
		fprintf(stderr, "faultline report render: %s: path too long\n", dir);
		return EXIT_USAGE;
	}
	struct report *r = NULL;
	if (report_read_json(path, &r, err, sizeof err) != RESULT_OK) {
		fprintf(stderr, "faultline report render: %s\n", err);
		return EXIT_USAGE;
	}
	/* A report.json without a stored verdict (written by hand) is judged
	 * by the one judge; a stored verdict is shown as it is. */
	enum result rc = r->verdict_set ? RESULT_OK : report_judge(r, err, sizeof err);
	if (rc == RESULT_OK)
		rc = report_write_views(r, dir, err, sizeof err);
	report_destroy(r);
	if (rc != RESULT_OK) {
		fprintf(stderr, "faultline report render: %s\n", err);
		return EXIT_USAGE;
	}
	return EXIT_HELD;
}

#define REPORT_TRACE_MAX (1u << 28)   /* bytes of one trace file copied */

/* Copies the trace rel (a path relative to a report directory, as the
 * report names it) from the first IN directory that has it into out. */
static bool report_copy_trace(const char *out, const char *rel, char (*paths)[REPORT_PATH_MAX],
                              size_t n, char *err, size_t errsize)
{
	if (rel[0] == '/' || strstr(rel, "..") != NULL) {
		snprintf(err, errsize, "trace '%s' is not inside its report directory", rel);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char from[REPORT_PATH_MAX], to[REPORT_PATH_MAX];
		const char *slash = strrchr(paths[i], '/');
		int dirlen = slash ? (int)(slash - paths[i]) : 1;
		if (snprintf(from, sizeof from, "%.*s/%s", dirlen, slash ? paths[i] : ".", rel) >=
		    (int)sizeof from ||
		    snprintf(to, sizeof to, "%s/%s", out, rel) >= (int)sizeof to) {
			snprintf(err, errsize, "trace '%s': path too long", rel);
			return false;
		}
		struct stat st;
		if (stat(from, &st) != 0)
			continue;
		char *data = NULL;
		size_t len = 0;
		if (report_file_read(from, REPORT_TRACE_MAX, &data, &len, err, errsize) != RESULT_OK)
			return false;
		char dir[REPORT_PATH_MAX];
		snprintf(dir, sizeof dir, "%s", to);
		*strrchr(dir, '/') = '\0';
		bool ok = report_dir_make(dir, err, errsize) == RESULT_OK &&
		          report_file_write(to, data, len, err, errsize) == RESULT_OK;
		free(data);
		return ok;
	}
	/* Not fatal: the counts are merged; say what the report names in vain. */
	fprintf(stderr, "faultline report merge: warning: trace '%s' is in none of the inputs\n",
	        rel);
	return true;
}

static int report_merge_cmd(int argc, char **argv)
{
	if (argc == 2 && is_help(argv[1])) {
		merge_usage(stdout);
		return EXIT_HELD;
	}
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-') {
			fprintf(stderr, "faultline report merge: unknown option '%s'\n", argv[i]);
			merge_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc < 3) {
		merge_usage(stderr);
		return EXIT_USAGE;
	}
	size_t n = (size_t)argc - 2;
	if (n > REPORT_MERGE_PARTS_MAX) {
		fprintf(stderr, "faultline report merge: more than %u inputs\n",
		        REPORT_MERGE_PARTS_MAX);
		return EXIT_USAGE;
	}
	struct report **parts = calloc(n, sizeof *parts);
	char (*paths)[REPORT_PATH_MAX] = calloc(n, sizeof *paths);
	char err[REPORT_CMD_ERR_MAX] = "";
	int status = EXIT_HELD;
	size_t loaded = 0;
	if (parts == NULL || paths == NULL) {
		fprintf(stderr, "faultline report merge: out of memory\n");
		status = EXIT_USAGE;
		goto free_parts;
	}
	for (; loaded < n; loaded++) {
		const char *in = argv[2 + loaded];
		if (!report_input_path(in, paths[loaded], sizeof paths[loaded])) {
			fprintf(stderr, "faultline report merge: %s: path too long\n", in);
			status = EXIT_USAGE;
			goto free_parts;
		}
		if (report_read_json(paths[loaded], &parts[loaded], err, sizeof err) != RESULT_OK) {
			fprintf(stderr, "faultline report merge: %s\n", err);
			status = EXIT_USAGE;
			goto free_parts;
		}
	}
	struct report *merged = NULL;
	if (report_merge(parts, n, &merged, err, sizeof err) != RESULT_OK) {
		fprintf(stderr, "faultline report merge: %s\n", err);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "  part %zu: %s\n", i + 1, paths[i]);
		status = EXIT_USAGE;
		goto free_parts;
	}
	/* The parts' verdicts do not add up: judge the merged results again. */
	if (report_judge(merged, err, sizeof err) != RESULT_OK) {
		fprintf(stderr, "faultline report merge: %s\n", err);
		status = EXIT_USAGE;
	} else if (report_write_all(merged, argv[1], err, sizeof err) != RESULT_OK) {
		fprintf(stderr, "faultline report merge: %s\n", err);
		status = EXIT_USAGE;
	} else {
		/* Every trace the merged report names is in OUT/traces/. */
		for (size_t i = 0; i < merged->nresults && status == EXIT_HELD; i++) {
			const char *rel = merged->results[i].trace_file;
			if (rel != NULL && !report_copy_trace(argv[1], rel, paths, n, err, sizeof err)) {
				fprintf(stderr, "faultline report merge: %s\n", err);
				status = EXIT_USAGE;
			}
		}
	}
	report_destroy(merged);
free_parts:
	for (size_t i = 0; i < loaded; i++)
		report_destroy(parts[i]);
	free(parts);
	free(paths);
	return status;
}

int cmd_report(int argc, char **argv)
{
	if (argc < 2) {
		report_usage(stderr);
		return EXIT_USAGE;
	}
	if (is_help(argv[1])) {
		report_usage(stdout);
		return EXIT_HELD;
	}
	if (strcmp(argv[1], "render") == 0)
		return report_render(argc - 1, argv + 1);
	if (strcmp(argv[1], "merge") == 0)
		return report_merge_cmd(argc - 1, argv + 1);
	fprintf(stderr, "faultline report: unknown action '%s' (render or merge)\n", argv[1]);
	report_usage(stderr);
	return EXIT_USAGE;
}
