/* sim/prng.h - the only source of randomness: xoshiro256** seeded through
 * splitmix64 (Blackman and Vigna). Exactly reproducible on every platform.
 * Independent streams for separate concerns come from prng_fork, so a change
 * in how one part draws does not shift the others. */
#ifndef SIM_PRNG_H
#define SIM_PRNG_H

#include <stdbool.h>
#include <stdint.h>

struct prng {
	uint64_t s[4];
};

/* splitmix64 step: advances *state and returns the next output. */
uint64_t prng_splitmix64(uint64_t *state);

/* Seeds from one 64-bit seed (four splitmix64 outputs). */
void prng_init(struct prng *p, uint64_t seed);
/* A new stream derived from p's seed material and a stream label; p is not
 * advanced. */
void prng_fork(const struct prng *p, uint64_t label, struct prng *out);

uint64_t prng_next(struct prng *p);
/* Uniform in [0, bound), bound > 0, without modulo bias (Lemire). */
uint64_t prng_below(struct prng *p, uint64_t bound);
/* Uniform double in [0, 1) with 53 random bits. */
double prng_unit(struct prng *p);
/* True with probability p_true (0 never, 1 always). */
bool prng_chance(struct prng *p, double p_true);

#endif
