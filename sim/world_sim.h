/* sim/world_sim.h - the simulated backend of a run (sim/world_backend.h):
 * virtual clock, in-process models, the simulated network and its faults.
 * One per seed; the world creates it when its config names no backend.
 * Not for live servers. */
#ifndef SIM_WORLD_SIM_H
#define SIM_WORLD_SIM_H

#include "sim/world_backend.h"

struct event_base;
struct prng;
struct world_sim;

/* base and ties (the scheduler's tie-breaking stream) are borrowed and must
 * outlive it. NULL when out of memory. */
struct world_sim *world_sim_create(struct event_base *base, struct prng *ties);
void world_sim_destroy(struct world_sim *ws); /* accepts NULL */

/* Fills *out with the backend's table and context. */
void world_sim_backend(struct world_sim *ws, struct world_backend *out);

#endif
