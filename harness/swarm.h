/* harness/swarm.h - swarm testing: each seed runs its own variation of a
 * scenario (which fault rules are on, their probabilities and windows, the
 * workload's numbers within the ranges the file gives), drawn from the seed
 * alone, so a replay draws the same. Groce et al., "Swarm testing", 2012. */
#ifndef HARNESS_SWARM_H
#define HARNESS_SWARM_H

#include <stddef.h>
#include <stdint.h>

#include "sim/scenario.h"

#define SWARM_NOTE_MAX 1024

/* The variation of sc for seed: a new scenario (scenario_destroy frees it)
 * with no ranges left, swarm off, seeds [seed], and note filled with what
 * was drawn in one line ("faults 0,2 of 5; workload.webhook.events=7").
 * NULL when out of memory. A mixed-* scenario draws its rules from the
 * whole fault catalogue instead of its own list. */
struct scenario *swarm_draw(const struct scenario *sc, uint64_t seed, char *note,
                            size_t notesize);

/* sc reduced to its one seed (seeds [seed]), as it is: swarm off, ranges
 * fixed at their values. NULL when out of memory. */
struct scenario *swarm_one_seed(const struct scenario *sc, uint64_t seed);

#endif
