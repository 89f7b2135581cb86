/* rng.h: a small seeded generator (xoshiro256**) so simulations replay from
 * their printed seed.  Not for keys or nonces: use OpenSSL for those. */
#ifndef TOLL_RNG_H
#define TOLL_RNG_H

#include <stdint.h>

struct toll_rng {
	uint64_t s[4];
};

void toll_rng_seed(struct toll_rng *rng, uint64_t seed);
uint64_t toll_rng_next(struct toll_rng *rng);
/* Uniform in [0, n); n > 0. */
uint64_t toll_rng_below(struct toll_rng *rng, uint64_t n);
/* Uniform in [lo, hi]; lo <= hi. */
int64_t toll_rng_range(struct toll_rng *rng, int64_t lo, int64_t hi);
/* 1 with probability per_million / 1e6. */
int toll_rng_chance(struct toll_rng *rng, uint32_t per_million);

#endif
