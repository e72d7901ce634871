/* cli/main.c - the faultline command: picks the sub-command and runs it.
 * Option parsing of each sub-command lives with the sub-command. */
#include <stdio.h>
#include <string.h>

#include "sim/assert_ctx.h"
#include "cli/cli.h"
#include "harness/runner.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"run", cmd_run, "run scenarios (files or folders); simulated by default"},
	{"matrix", cmd_matrix, "run every scenario under every variant"},
	{"replay", cmd_replay, "rerun one seed of a scenario and print its trace"},
	{"check", cmd_check, "validate scenario files without running them"},
	{"report", cmd_report, "render or merge report.json files"},
	{"proxy", cmd_proxy, "the fault proxy on its own, with an HTTP control API"},
	{"serve", cmd_serve, "the core's endpoints over HTTP, for live runs"},
	{"deliver", cmd_deliver, "Stripe webhooks to your endpoint, at their worst"},
	{"stripe", cmd_stripe, "a stateful fake Stripe API, with fault rules"},
	{"shrink", cmd_shrink, "the smallest scenario file that still fails like a seed"},
	{"ops", cmd_ops, "the operations each fix and variant issues (fault rule ops)"},
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: faultline COMMAND [OPTIONS] [ARGS]\n"
	        "\n"
	        "A fault-injection harness and deterministic simulator for five\n"
	        "reliability fixes (rate limit, quote e-mail, Stripe webhooks, request\n"
	        "de-duplication, Stripe customer creation).\n"
	        "\n"
	        "Commands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
	        "\n"
	        "Options:\n"
	        "  -h, --help     this help; 'faultline COMMAND --help' for a command\n"
	        "  -V, --version  print the version\n"
	        "\n"
	        "Exit status: 0 every invariant held, 1 an invariant was violated or a\n"
	        "scenario was not exercised (or a matrix's legacy bug was not caught), 2 bad\n"
	        "usage or a bad scenario file, 3 a live server could not be reached.\n");
}

int main(int argc, char **argv)
{
	assert_ctx_install();
	runner_set_program(argv[0]);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 ||
	    strcmp(name, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(name, "-V") == 0 || strcmp(name, "--version") == 0) {
		printf("faultline %s\n", FAULTLINE_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(name, commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "faultline: unknown command '%s' (try 'faultline --help')\n", name);
	return EXIT_USAGE;
}
