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
#include "reports/report_shard.h"
#include "reports/report_traces.h"
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

/* IN as given, or IN/report.json when IN is a directory; dir is the
 * report directory (where its traces/ are). */
static bool report_input_path(const char *in, char *path, size_t size, char *dir,
                              size_t dirsize)
{
	struct stat st;
	int n, d;
	if (stat(in, &st) == 0 && S_ISDIR(st.st_mode)) {
		n = snprintf(path, size, "%s/report.json", in);
		d = snprintf(dir, dirsize, "%s", in);
	} else {
		n = snprintf(path, size, "%s", in);
		const char *slash = strrchr(in, '/');
		d = slash ? snprintf(dir, dirsize, "%.*s", (int)(slash - in), in)
		          : snprintf(dir, dirsize, ".");
	}
	return n >= 0 && (size_t)n < size && d >= 0 && (size_t)d < dirsize;
}

/* After the merge: traces carried over, seeds a budget left out, and the
 * verdict of the whole. */
static enum result report_merge_finish(struct report *merged, struct report **parts,
                                       char (*dirs)[REPORT_PATH_MAX], size_t n,
                                       const char *out, size_t *gap_lines, char *err,
                                       size_t errsize)
{
	bool *skip = calloc(n, sizeof *skip);
	const char **dirv = calloc(n, sizeof *dirv);
	enum result rc = skip != NULL && dirv != NULL ? RESULT_OK : RESULT_NOMEM;
	if (rc == RESULT_OK)
		rc = report_shards_check(parts, n, skip, err, errsize);
	struct textbuf notes;
	textbuf_init(&notes);
	for (size_t i = 0; rc == RESULT_OK && i < n; i++) {
		dirv[i] = dirs[i];
		if (skip[i])
			printf("part %zu (shard %u/%u) is the same as an earlier part: counted once\n",
			       i + 1, parts[i]->shard_index, parts[i]->shard_count);
	}
	if (rc == RESULT_OK)
		rc = report_traces_merge(merged, parts, dirv, skip, n, out, &notes, err, errsize);
	if (rc == RESULT_OK) {
		fputs(textbuf_str(&notes), stderr);
		struct textbuf gaps;
		textbuf_init(&gaps);
		*gap_lines = report_shards_gaps(parts, n, skip, &gaps);
		fputs(textbuf_str(&gaps), stdout);
		textbuf_fini(&gaps);
	} else if (err[0] == '\0') {
		snprintf(err, errsize, "out of memory");
	}
	textbuf_fini(&notes);
	free(skip);
	free(dirv);
	return rc;
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
	char (*dirs)[REPORT_PATH_MAX] = calloc(n, sizeof *dirs);
	char err[REPORT_CMD_ERR_MAX] = "";
	int status = EXIT_HELD;
	size_t loaded = 0;
	if (parts == NULL || paths == NULL || dirs == NULL) {
		fprintf(stderr, "faultline report merge: out of memory\n");
		status = EXIT_USAGE;
		goto free_parts;
	}
	for (; loaded < n; loaded++) {
		const char *in = argv[2 + loaded];
		if (!report_input_path(in, paths[loaded], sizeof paths[loaded], dirs[loaded],
		                       sizeof dirs[loaded])) {
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
	size_t gap_lines = 0;
	if (report_merge_finish(merged, parts, dirs, n, argv[1], &gap_lines, err,
	                        sizeof err) != RESULT_OK ||
	    report_judge(merged, err, sizeof err) != RESULT_OK) {
		fprintf(stderr, "faultline report merge: %s\n", err);
		status = EXIT_USAGE;
	} else if (report_write_all(merged, argv[1], err, sizeof err) != RESULT_OK) {
		fprintf(stderr, "faultline report merge: %s\n", err);
		status = EXIT_USAGE;
	} else {
		/* The verdict the merged report.json holds, as its pages show it. */
		struct report_summary sum;
		report_summarize(merged, &sum);
		printf("merged %zu %s%s: %llu %s, verdict: %s: %s%s\n", n,
		       n == 1 ? "report" : "reports", parts[0]->shard_count ? " of every shard" : "",
		       (unsigned long long)sum.seeds_run, sum.seeds_run == 1 ? "seed" : "seeds",
		       merged->pass ? "PASS" : "FAIL", merged->headline ? merged->headline : "",
		       gap_lines ? " (seeds not covered: see above)" : "");
	}
	report_destroy(merged);
free_parts:
	for (size_t i = 0; i < loaded; i++)
		report_destroy(parts[i]);
	free(parts);
	free(paths);
	free(dirs);
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
