/* sim/assert_ctx.c - the simulator's context for core/assert.h messages.
 * Process-wide state, as assertions are: one run at a time per process. */
#include "sim/assert_ctx.h"

#include <inttypes.h>
#include <stdio.h>

#include "core/assert.h"

static const char *ctx_path;
static const char *ctx_variant;
static uint64_t ctx_seed;
static assert_ctx_clock_fn *ctx_clock;
static const void *ctx_clock_arg;

static void assert_ctx_print(char *buf, size_t size)
{
	int n = 0;
	if (ctx_path != NULL)
		n = snprintf(buf, size, "[replay: faultline replay %s --seed %" PRIu64 " --variant %s]",
		             ctx_path, ctx_seed, ctx_variant ? ctx_variant : "hardened");
	if (ctx_clock != NULL && n >= 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, " [t=%" PRIu64 "us]", ctx_clock(ctx_clock_arg));
}

void assert_ctx_install(void)
{
	assert_set_context(assert_ctx_print);
}

void assert_ctx_run(const char *path, const char *variant, uint64_t seed)
{
	ctx_path = path;
	ctx_variant = variant;
	ctx_seed = seed;
}

void assert_ctx_clock(assert_ctx_clock_fn *fn, const void *arg)
{
	ctx_clock = fn;
	ctx_clock_arg = arg;
}
