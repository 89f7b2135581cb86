/* fuzz_tariff.c: the tariff parser takes any bytes without a crash or a
 * leak; what it accepts answers fee lookups in bounds. */
#include <stdint.h>
#include <stdlib.h>

#include "lane_tariff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lane_tariff *t;
	char err[256];
	int64_t fee;

	if (lane_tariff_parse((const char *)data, size, "fuzz", &t, err, sizeof(err)) != 0)
		return 0;
	for (uint32_t s = 0; s < 300; s++)
		for (unsigned c = 0; c <= 6; c++) {
			if (lane_tariff_open_fee(t, s, c, &fee) == 0 && (fee < 0 || fee > 100000000))
				abort();
			if (lane_tariff_max_closed_fee(t, s, c, &fee) == 0 && fee < 0)
				abort();
		}
	lane_tariff_free(t);
	return 0;
}
