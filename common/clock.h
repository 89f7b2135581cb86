/* clock.h: monotonic time for timeouts, real time (UTC) for records. */
#ifndef TOLL_CLOCK_H
#define TOLL_CLOCK_H

#include <stdatomic.h>
#include <stdint.h>

int64_t toll_mono_ms(void);
int64_t toll_mono_us(void);
/* Milliseconds since the Unix epoch, UTC. */
int64_t toll_real_ms(void);
/* Sleep ms, in steps of at most 100 ms, returning early once *stop is
 * non-zero (a background thread's wait that shutdown does not sit out). */
void toll_sleep_ms_unless(const atomic_int *stop, int64_t ms);

#endif
