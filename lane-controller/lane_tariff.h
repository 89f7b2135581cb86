/* lane_tariff.h: the fees a lane charges, from a versioned text file.
 *
 *   toll-tariff 1                               format version: the first line
 *   version N                                   tariff version, 1..2^64-1: the second
 *   open STATION FEE1 FEE2 FEE3 FEE4 FEE5       open station: VND per vehicle class
 *   network NET RATE1 .. RATE5                  closed network: VND per km per class
 *   station NET STATION KM                      a closed station's position along NET
 *   matrix NET ENTRY EXIT FEE1 .. FEE5          a pair's fees, overriding distance x rate
 *
 * Words are separated by blanks; '#' starts a comment anywhere; blank
 * lines are ignored.  STATION and NET are 1..4294967295 and share nothing:
 * a station id is either one open station or one station of one network.
 * Fees and rates are whole VND written as plain digits (no separators):
 * fees 0..100,000,000, rates 0..100,000 VND/km.  KM is kilometres with up
 * to three decimals (the metre), 0..5,000: "45", "45.3", "120.250"; it is
 * held in whole metres.  A network comes before its stations, stations
 * before the matrix rows that name them; a network needs two stations at
 * different positions; a matrix row holds for both directions unless the
 * reverse pair has its own row; "matrix NET A A" gives a same-station fee.
 *
 * A distance fee is metres x rate / 1000, rounded half up to the whole
 * dong: (metres x rate + 500) / 1000 in int64 (at most 5e6 x 1e5, no
 * overflow).  99 km at 1,300 VND/km is 128,700 VND; 1.5 km at 1,333 is
 * 1,999.5, charged 2,000.  The load refuses a network whose longest trip
 * would cost more than 100,000,000 VND at any class.
 *
 * Every refusal is TOLL_EFORMAT (TOLL_EVERSION for another format
 * version) with "NAME:LINE: ..." in err.  Lookups are O(1) by station
 * (hash); the farthest-entry fee walks the exit's network. */
#ifndef LANE_TARIFF_H
#define LANE_TARIFF_H

#include <stddef.h>
#include <stdint.h>

#define LANE_TARIFF_CLASSES 5
#define LANE_TARIFF_FEE_MAX_VND 100000000LL
#define LANE_TARIFF_RATE_MAX_VND_KM 100000LL
#define LANE_TARIFF_POS_MAX_M 5000000LL /* 5,000 km */
#define LANE_TARIFF_FILE_MAX (16 << 20)

struct lane_tariff;

int lane_tariff_load(const char *path, struct lane_tariff **out, char *err, size_t errlen);
int lane_tariff_parse(const char *text, size_t len, const char *name, struct lane_tariff **out,
		      char *err, size_t errlen);
void lane_tariff_free(struct lane_tariff *t);
uint64_t lane_tariff_version(const struct lane_tariff *t);
/* TOLL_ERANGE (class not 1..5), TOLL_ENOTFOUND (not an open station) */
int lane_tariff_open_fee(const struct lane_tariff *t, uint32_t station, unsigned vclass, int64_t *fee_vnd);
/* Entry and exit of one network: the matrix row, else distance x rate.
 * TOLL_ERANGE (class); TOLL_ENOTFOUND (either not a closed station, other
 * networks, or entry == exit without a matrix row). */
int lane_tariff_closed_fee(const struct lane_tariff *t, uint32_t entry_station, uint32_t exit_station,
			   unsigned vclass, int64_t *fee_vnd);
/* The entry is unknown at an exit: the highest fee from any entry of the
 * exit's network (the farthest-entry policy).  Errors as closed_fee. */
int lane_tariff_max_closed_fee(const struct lane_tariff *t, uint32_t exit_station, unsigned vclass,
			       int64_t *fee_vnd);
/* 1 open, 2 closed, TOLL_ENOTFOUND */
int lane_tariff_station_kind(const struct lane_tariff *t, uint32_t station);

#endif
