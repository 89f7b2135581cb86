/* rng.c: xoshiro256** seeded through splitmix64. */
#include <assert.h>

#include "rng.h"

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void
toll_rng_seed(struct toll_rng *rng, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&seed);
}

uint64_t
toll_rng_next(struct toll_rng *rng)
{
	uint64_t *s = rng->s;
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

uint64_t
toll_rng_below(struct toll_rng *rng, uint64_t n)
{
	assert(n > 0);
	/* Rejection sampling: no modulo bias. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do
		x = toll_rng_next(rng);
	while (x >= limit);
	return x % n;
}

int64_t
toll_rng_range(struct toll_rng *rng, int64_t lo, int64_t hi)
{
	assert(lo <= hi);
	uint64_t span = (uint64_t)hi - (uint64_t)lo;
	if (span == UINT64_MAX)
		return (int64_t)toll_rng_next(rng);
	return (int64_t)((uint64_t)lo + toll_rng_below(rng, span + 1));
}

int
toll_rng_chance(struct toll_rng *rng, uint32_t per_million)
{
	return toll_rng_below(rng, 1000000) < per_million;
}
