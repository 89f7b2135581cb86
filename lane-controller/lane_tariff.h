/* lane_tariff.h: the fees a lane charges, from a versioned text file:
 *
 *   toll-tariff 1
 *   version N                                   tariff version (u64)
 *   open STATION FEE1 FEE2 FEE3 FEE4 FEE5       open station: VND per class
 *   network NET RATE1 .. RATE5                  closed network: VND per km
 *   station NET STATION METRES                  position along the network
 *   matrix NET ENTRY EXIT FEE1 .. FEE5          a pair's fees (both directions
 *                                               unless the reverse is given)
 *
 * A distance fee is metres x rate / 1000, rounded half up to the whole dong
 * (a 99 km trip at 1,300 VND/km is 128,700 VND).  Money is int64 VND. */
#ifndef LANE_TARIFF_H
#define LANE_TARIFF_H

#include <stddef.h>
#include <stdint.h>

struct lane_tariff;

int lane_tariff_load(const char *path, struct lane_tariff **out, char *err, size_t errlen);
int lane_tariff_parse(const char *text, size_t len, const char *name, struct lane_tariff **out,
		      char *err, size_t errlen);
void lane_tariff_free(struct lane_tariff *t);
uint64_t lane_tariff_version(const struct lane_tariff *t);
/* TOLL_ENOTFOUND (station), TOLL_ERANGE (class) */
int lane_tariff_open_fee(const struct lane_tariff *t, uint32_t station, unsigned vclass, int64_t *fee_vnd);
int lane_tariff_closed_fee(const struct lane_tariff *t, uint32_t entry, uint32_t exit_station,
			   unsigned vclass, int64_t *fee_vnd);
/* The highest fee from any entry of the exit's network: for an unknown entry. */
int lane_tariff_max_closed_fee(const struct lane_tariff *t, uint32_t exit_station, unsigned vclass,
			       int64_t *fee_vnd);
/* 1 open, 2 closed, TOLL_ENOTFOUND */
int lane_tariff_station_kind(const struct lane_tariff *t, uint32_t station);

#endif
