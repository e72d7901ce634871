/* sim/cmd_pending.c - sub-commands whose issue has not landed yet. Each says
 * so plainly and exits 2, so a script never mistakes them for a pass. A
 * command moves out of this file when it is built. */
#include <stdio.h>

#include "sim/cli.h"

static int not_built(const char *name, const char *what)
{
	fprintf(stderr, "faultline %s: not built yet (%s); exit 2\n", name, what);
	return EXIT_USAGE;
}

int cmd_proxy(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return not_built("proxy", "live mode");
}
