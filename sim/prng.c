/* sim/prng.c - xoshiro256** and splitmix64, written out from the published
 * algorithms. Not for cryptography. */
#include "sim/prng.h"

#include "core/assert.h"

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t prng_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void prng_init(struct prng *p, uint64_t seed)
{
	uint64_t sm = seed;
	for (int i = 0; i < 4; i++)
		p->s[i] = prng_splitmix64(&sm);
	/* splitmix64 never yields four zero words from one seed, but the
	 * generator must never hold the all-zero state. */
	ASSERT((p->s[0] | p->s[1] | p->s[2] | p->s[3]) != 0);
}

void prng_fork(const struct prng *p, uint64_t label, struct prng *out)
{
	uint64_t sm = p->s[0] ^ rotl(p->s[1], 17) ^ rotl(p->s[2], 31) ^
	              rotl(p->s[3], 47) ^ (label * 0xd1342543de82ef95ULL);
	for (int i = 0; i < 4; i++)
		out->s[i] = prng_splitmix64(&sm);
	ASSERT((out->s[0] | out->s[1] | out->s[2] | out->s[3]) != 0);
}

uint64_t prng_next(struct prng *p)
{
	uint64_t *s = p->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t prng_below(struct prng *p, uint64_t bound)
{
	ASSERT(bound > 0);
	unsigned __int128 m = (unsigned __int128)prng_next(p) * bound;
	uint64_t low = (uint64_t)m;
	if (low < bound) {
		uint64_t threshold = -bound % bound;
		while (low < threshold) {
			m = (unsigned __int128)prng_next(p) * bound;
			low = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

double prng_unit(struct prng *p)
{
	return (double)(prng_next(p) >> 11) * 0x1.0p-53;
}

bool prng_chance(struct prng *p, double p_true)
{
	if (p_true <= 0.0)
		return false;
	if (p_true >= 1.0)
		return true;
	return prng_unit(p) < p_true;
}
