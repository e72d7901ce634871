/* sim/sched.h - the scheduler: timers on one libevent event_base, on a
 * virtual clock (simulated runs) or the real monotonic clock (live runs).
 * Code above it cannot tell which clock it has. Not thread-safe: one
 * scheduler per thread. In virtual mode nothing sleeps: the next due timer
 * sets virtual now, and the timers due at one instant run in an order drawn
 * from the PRNG, so the seed also chooses the interleaving of simultaneous
 * events. */
#ifndef SIM_SCHED_H
#define SIM_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "core/result.h"

struct event_base;
struct prng;
struct sched;

enum sched_clock { SCHED_VIRTUAL, SCHED_REAL };

/* A timer handle; stale handles (fired or cancelled) are harmless. */
struct sched_timer {
	uint32_t slot;
	uint32_t gen;
};

typedef void sched_fn(void *arg);

#define SCHED_TIMERS_MAX (1u << 24)  /* pending timers at once */
#define SCHED_BATCH_MAX 4096         /* timers run in one loop pass */

/* A new event_base fit for the clock: real mode asks libevent for its
 * precise monotonic timer (the default coarse clock ticks every few ms).
 * NULL when out of memory. */
struct event_base *sched_base_new(enum sched_clock clock);

/* base and rng are borrowed and must outlive the scheduler. rng breaks ties
 * in virtual mode. Returns NULL when out of memory. */
struct sched *sched_create(struct event_base *base, enum sched_clock clock,
                           struct prng *rng);
void sched_destroy(struct sched *s); /* accepts NULL; drops pending timers */

enum sched_clock sched_clock_kind(const struct sched *s);
struct event_base *sched_base(const struct sched *s);

/* Microseconds since the scheduler was created (virtual or real). */
uint64_t sched_now_us(const struct sched *s);

/* Runs fn(arg) delay_us from now. Never runs it before returning.
 * Asserts when SCHED_TIMERS_MAX timers are pending (a bug: every producer of
 * timers is bounded). */
struct sched_timer sched_after(struct sched *s, uint64_t delay_us, sched_fn *fn,
                               void *arg);

/* Cancels a pending timer; returns false when it already fired or was
 * cancelled. */
bool sched_cancel(struct sched *s, struct sched_timer t);

/* Runs timers until none is pending, virtual now would pass until_us, or
 * sched_stop is called. Virtual mode leaves now at the last timer run.
 * Returns the number of timers run by this call. */
uint64_t sched_run(struct sched *s, uint64_t until_us);

/* Makes sched_run return after the current timer. */
void sched_stop(struct sched *s);

uint64_t sched_pending(const struct sched *s);
/* Timers run since creation (the "events" of the throughput figures). */
uint64_t sched_dispatched(const struct sched *s);

#endif
