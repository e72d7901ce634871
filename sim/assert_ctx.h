/* sim/assert_ctx.h - what a failed assertion says about the run it broke:
 * the scenario, the seed and the virtual time, so any crash can be replayed
 * with `faultline replay`. The runner names the run; the scheduler in use
 * gives the time. */
#ifndef SIM_ASSERT_CTX_H
#define SIM_ASSERT_CTX_H

#include <stdbool.h>
#include <stdint.h>

struct sched;

/* Installs the context printer (once per process). */
void assert_ctx_install(void);
/* Names the run now in progress; path is borrowed until the next call.
 * NULL clears it. */
void assert_ctx_run(const char *path, const char *variant, uint64_t seed);
/* The scheduler whose clock the message shows (sched_create sets it). */
void assert_ctx_sched(const struct sched *s);

#endif
