/* clock.c: clock_gettime wrappers. */
#include <time.h>

#include "clock.h"

static int64_t
clock_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
toll_mono_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

int64_t
toll_mono_ms(void)
{
	return clock_us(CLOCK_MONOTONIC) / 1000;
}

int64_t
toll_real_ms(void)
{
	return clock_us(CLOCK_REALTIME) / 1000;
}

void
toll_sleep_ms_unless(const atomic_int *stop, int64_t ms)
{
	while (ms > 0 && !atomic_load(stop)) {
		int64_t step = ms > 100 ? 100 : ms;
		struct timespec ts = {0, (long)step * 1000000L};
		nanosleep(&ts, NULL);
		ms -= step;
	}
}
