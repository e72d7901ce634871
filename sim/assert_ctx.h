/* sim/assert_ctx.h - what a failed assertion says about the run it broke:
 * the scenario, the seed and the virtual time, so any crash can be replayed
 * with `faultline replay`. The runner names the run; the scheduler in use
 * gives the time through a clock callback (so this file needs no scheduler). */
#ifndef SIM_ASSERT_CTX_H
#define SIM_ASSERT_CTX_H

#include <stdbool.h>
#include <stdint.h>

/* Installs the context printer (once per process). */
void assert_ctx_install(void);
/* Names the run now in progress; path is borrowed until the next call.
 * NULL clears it. */
void assert_ctx_run(const char *path, const char *variant, uint64_t seed);
/* The clock whose time the message shows: now(arg) in microseconds. The
 * scheduler in use registers itself (sched_create); fn NULL clears it. */
typedef uint64_t assert_ctx_clock_fn(const void *arg);
void assert_ctx_clock(assert_ctx_clock_fn *fn, const void *arg);

#endif
