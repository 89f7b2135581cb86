/* fuzz_trips.c: an exit lane's saved closed-road entries (lane_trips,
 * STATE/list/trips.dat) take any bytes without a crash or a leak; what is
 * accepted answers look-ups and saves to the same bytes' meaning.
 *
 * Each input is loaded twice: as it is, then with its CRC-32C recomputed,
 * so mutations reach the field checks behind the checksum. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "lane_trips.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
exercise(struct lane_trips *t)
{
	static const uint8_t epc[12] = {0x30, 0x34};
	uint32_t st;
	int64_t tm;
	size_t kept, open;
	(void)lane_trips_find(t, epc, 96, 1764633600000LL, 86400000LL, &st, &tm);
	lane_trips_count(t, &kept, &open);
	if (open > kept)
		abort();
	(void)lane_trips_prune(t, 1764633600000LL, 86400000LL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lane_trips *t;
	char err[256];
	if (lane_trips_new(&t) != 0)
		return 0;
	if (lane_trips_load_mem(t, data, size, err, sizeof(err)) == 0)
		exercise(t);
	if (size >= 4 && size <= (1u << 20)) {
		uint8_t *copy = malloc(size);
		if (copy != NULL) {
			memcpy(copy, data, size);
			uint32_t c = toll_crc32c(0, copy, size - 4);
			copy[size - 4] = (uint8_t)(c >> 24);
			copy[size - 3] = (uint8_t)(c >> 16);
			copy[size - 2] = (uint8_t)(c >> 8);
			copy[size - 1] = (uint8_t)c;
			if (lane_trips_load_mem(t, copy, size, err, sizeof(err)) == 0)
				exercise(t);
			free(copy);
		}
	}
	lane_trips_free(t);
	return 0;
}
