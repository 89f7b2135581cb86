/* clock.h: monotonic time for timeouts, real time (UTC) for records. */
#ifndef TOLL_CLOCK_H
#define TOLL_CLOCK_H

#include <stdint.h>

int64_t toll_mono_ms(void);
int64_t toll_mono_us(void);
/* Milliseconds since the Unix epoch, UTC. */
int64_t toll_real_ms(void);

#endif
