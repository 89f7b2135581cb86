/* fuzz_tariff.c: the tariff parser takes any bytes without a crash or a
 * leak; a refusal names the file and line; what it accepts answers every
 * lookup in bounds: fees 0..100,000,000 VND, no trip above the exit's
 * farthest-entry fee, station kinds agreeing with the fee lookups.  The
 * stations asked about are the numbers found in the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "lane_tariff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define IDS_MAX 32

static size_t
numbers(const uint8_t *data, size_t size, uint32_t *ids)
{
	size_t n = 0;

	ids[n++] = 0;
	for (size_t i = 0; i < size && n < IDS_MAX;) {
		if (data[i] < '0' || data[i] > '9') {
			i++;
			continue;
		}
		uint64_t v = 0;
		size_t j = i;
		for (; j < size && data[j] >= '0' && data[j] <= '9'; j++)
			if (v <= UINT32_MAX)
				v = v * 10 + (uint64_t)(data[j] - '0');
		i = j;
		if (v > UINT32_MAX)
			continue;
		int dup = 0;
		for (size_t k = 0; k < n; k++)
			dup |= ids[k] == (uint32_t)v;
		if (!dup)
			ids[n++] = (uint32_t)v;
	}
	return n;
}

static int
in_bounds(int64_t fee)
{
	return fee >= 0 && fee <= LANE_TARIFF_FEE_MAX_VND;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lane_tariff *t = (struct lane_tariff *)&size;
	char err[256];
	uint32_t ids[IDS_MAX];
	int64_t fee, max;
	int rc;

	err[0] = 0;
	rc = lane_tariff_parse((const char *)data, size, "f", &t, err, sizeof(err));
	if (rc != 0) {
		if (t != NULL || (rc != TOLL_EFORMAT && rc != TOLL_EVERSION && rc != TOLL_ENOMEM) ||
		    strncmp(err, "f:", 2) != 0 || err[2] < '1' || err[2] > '9')
			abort();
		return 0;
	}
	if (lane_tariff_version(t) == 0)
		abort();
	size_t n = numbers(data, size, ids);
	for (size_t i = 0; i < n; i++) {
		uint32_t b = ids[i];
		int kind = lane_tariff_station_kind(t, b);
		if (kind != 1 && kind != 2 && kind != TOLL_ENOTFOUND)
			abort();
		for (unsigned c = 0; c <= 6; c++) {
			int bad_class = c < 1 || c > 5;
			rc = lane_tariff_open_fee(t, b, c, &fee);
			if (bad_class ? rc != TOLL_ERANGE : kind == 1 ? rc != 0 || !in_bounds(fee) : rc != TOLL_ENOTFOUND)
				abort();
			rc = lane_tariff_max_closed_fee(t, b, c, &max);
			if (bad_class ? rc != TOLL_ERANGE : kind == 2 ? rc != 0 || !in_bounds(max) : rc != TOLL_ENOTFOUND)
				abort();
			for (size_t j = 0; j < n; j++) {
				rc = lane_tariff_closed_fee(t, ids[j], b, c, &fee);
				if (bad_class ? rc != TOLL_ERANGE : rc == 0 ? kind != 2 || !in_bounds(fee) || fee > max
									    : rc != TOLL_ENOTFOUND)
					abort();
			}
		}
	}
	lane_tariff_free(t);
	return 0;
}
