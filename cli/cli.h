/* cli/cli.h - the sub-commands of the faultline command and their shared
 * exit statuses. Each cmd_* function takes the arguments after the
 * sub-command name (argv[0] is the sub-command) and returns an exit status. */
#ifndef SIM_CLI_H
#define SIM_CLI_H

#include "core/version.h"

enum exit_status {
	EXIT_HELD = 0,       /* every invariant held */
	EXIT_VIOLATED = 1,   /* an invariant was violated */
	EXIT_USAGE = 2,      /* bad usage or a bad scenario file */
	EXIT_UNREACHABLE = 3 /* a live server could not be reached or set up */
};

int cmd_run(int argc, char **argv);
int cmd_matrix(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_proxy(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_deliver(int argc, char **argv);
int cmd_stripe(int argc, char **argv);
int cmd_ops(int argc, char **argv);
int cmd_shrink(int argc, char **argv);

struct scenario;
/* Loads every scenario file the paths name (files, or folders walked for
 * *.yaml and *.yml). 0 with *out (calloc'ed, n entries, each freed with
 * scenario_destroy) on success; else EXIT_USAGE after printing each located
 * error on stderr. */
int cli_load_scenarios(int npaths, char **paths, struct scenario ***out, size_t *n);

#endif
