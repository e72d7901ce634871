/* core/assert.c - the failure path of ASSERT: print, add context, abort.
 * Writes with write(2) so it works even when stdio is in a bad state. */
#include "core/assert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static assert_context_fn *assert_context;

void assert_set_context(assert_context_fn *fn)
{
	assert_context = fn;
}

void assert_fail(const char *expr, const char *file, int line)
{
	char msg[1024];
	char ctx[256] = "";

	if (assert_context != NULL)
		assert_context(ctx, sizeof ctx);
	int n = snprintf(msg, sizeof msg, "faultline: assertion failed: %s (%s:%d)%s%s\n",
	                 expr, file, line, ctx[0] ? " " : "", ctx);
	if (n > 0) {
		size_t len = (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
		ssize_t w = write(STDERR_FILENO, msg, len);
		(void)w;
	}
	abort();
}
