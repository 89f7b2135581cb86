/* test_tariff.c: fees for open stations and closed networks (distance,
 * rounding, matrix overrides, the farthest-entry policy), and every kind
 * of bad tariff refused with its line. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "lane_tariff.h"
#include "unit.h"

static void
data_path(char *buf, size_t len, const char *file)
{
	const char *top = getenv("TOLL_TOP");
	snprintf(buf, len, "%s/tests/data/tariff/%s", top && *top ? top : ".", file);
}

static struct lane_tariff *
sample(void)
{
	char path[512], err[256];
	struct lane_tariff *t;

	data_path(path, sizeof(path), "sample.tariff");
	ck_assert_msg(lane_tariff_load(path, &t, err, sizeof(err)) == 0, "%s", err);
	return t;
}

static struct lane_tariff *
parse_ok(const char *text)
{
	struct lane_tariff *t;
	char err[256];
	ck_assert_msg(lane_tariff_parse(text, strlen(text), "t", &t, err, sizeof(err)) == 0, "%s", err);
	return t;
}

static int64_t
closed(const struct lane_tariff *t, uint32_t a, uint32_t b, unsigned c)
{
	int64_t fee = -1;
	ck_assert_int_eq(lane_tariff_closed_fee(t, a, b, c, &fee), 0);
	return fee;
}

static int64_t
farthest(const struct lane_tariff *t, uint32_t exit_station, unsigned c)
{
	int64_t fee = -1;
	ck_assert_int_eq(lane_tariff_max_closed_fee(t, exit_station, c, &fee), 0);
	return fee;
}

START_TEST(test_open)
{
	struct lane_tariff *t = sample();
	static const int64_t want[] = {35000, 50000, 75000, 120000, 180000};
	int64_t fee = -1;

	ck_assert_uint_eq(lane_tariff_version(t), 2026112201u);
	for (unsigned c = 1; c <= 5; c++) {
		ck_assert_int_eq(lane_tariff_open_fee(t, 101, c, &fee), 0);
		ck_assert_int_eq(fee, want[c - 1]);
	}
	ck_assert_int_eq(lane_tariff_open_fee(t, 101, 0, &fee), TOLL_ERANGE);
	ck_assert_int_eq(lane_tariff_open_fee(t, 101, 6, &fee), TOLL_ERANGE);
	ck_assert_int_eq(lane_tariff_open_fee(t, 999, 1, &fee), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_tariff_open_fee(t, 0, 1, &fee), TOLL_ENOTFOUND);
	/* a closed station has no open fee */
	ck_assert_int_eq(lane_tariff_open_fee(t, 201, 1, &fee), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_tariff_station_kind(t, 101), 1);
	for (uint32_t s = 201; s <= 204; s++)
		ck_assert_int_eq(lane_tariff_station_kind(t, s), 2);
	ck_assert_int_eq(lane_tariff_station_kind(t, 5), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_tariff_station_kind(t, 205), TOLL_ENOTFOUND);
	lane_tariff_free(t);
}
END_TEST

START_TEST(test_distance)
{
	struct lane_tariff *t = sample();
	int64_t fee = -1;

	/* the domain's figure: 99 km at class 1, 1,300 VND/km, is 128,700 VND */
	ck_assert_int_eq(closed(t, 201, 204, 1), 128700);
	ck_assert_int_eq(closed(t, 204, 201, 1), 128700);
	/* 99 km at 1,900 / 2,600 / 3,600 / 5,200 VND/km */
	ck_assert_int_eq(closed(t, 201, 204, 2), 188100);
	ck_assert_int_eq(closed(t, 201, 204, 3), 257400);
	ck_assert_int_eq(closed(t, 201, 204, 4), 356400);
	ck_assert_int_eq(closed(t, 201, 204, 5), 514800);
	/* decimals of a km: 31.4 km x 1,300 = 40,820; 62.75 km x 2,600 = 163,150 */
	ck_assert_int_eq(closed(t, 201, 202, 1), 40820);
	ck_assert_int_eq(closed(t, 202, 201, 1), 40820);
	ck_assert_int_eq(closed(t, 203, 201, 3), 163150);
	/* 36.25 km x 1,900 = 68,875 both ways */
	ck_assert_int_eq(closed(t, 203, 204, 2), 68875);
	ck_assert_int_eq(closed(t, 204, 203, 2), 68875);
	/* errors: class, unknown station, open station, same station */
	ck_assert_int_eq(lane_tariff_closed_fee(t, 201, 204, 0, &fee), TOLL_ERANGE);
	ck_assert_int_eq(lane_tariff_closed_fee(t, 201, 204, 6, &fee), TOLL_ERANGE);
	ck_assert_int_eq(lane_tariff_closed_fee(t, 201, 999, 1, &fee), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_tariff_closed_fee(t, 999, 201, 1, &fee), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_tariff_closed_fee(t, 101, 203, 1, &fee), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_tariff_closed_fee(t, 203, 101, 1, &fee), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_tariff_closed_fee(t, 203, 203, 1, &fee), TOLL_ENOTFOUND);
	lane_tariff_free(t);
}
END_TEST

START_TEST(test_rounding)
{
	struct lane_tariff *t = parse_ok("toll-tariff 1\nversion 1\nnetwork 1 1333 1 999 20000 0\n"
					 "station 1 10 0\nstation 1 11 1.5\nstation 1 12 1.499\nstation 1 13 5000\n"
					 "station 1 14 0.001\n");

	/* 1.5 km x 1,333 = 1,999.5: half up to 2,000; 1.499 km: 1,998.167, 1,998 */
	ck_assert_int_eq(closed(t, 10, 11, 1), 2000);
	ck_assert_int_eq(closed(t, 11, 10, 1), 2000);
	ck_assert_int_eq(closed(t, 10, 12, 1), 1998);
	/* 1 m x 999 = 0.999 -> 1; 1 m x 1 = 0.001 -> 0; 1.5 km x 1 = 1.5 -> 2 */
	ck_assert_int_eq(closed(t, 10, 14, 3), 1);
	ck_assert_int_eq(closed(t, 10, 14, 2), 0);
	ck_assert_int_eq(closed(t, 10, 11, 2), 2);
	/* 1 m x 20,000 = 20; 5,000 km x 20,000 = 100,000,000, the bound; rate 0 */
	ck_assert_int_eq(closed(t, 12, 11, 4), 20);
	ck_assert_int_eq(closed(t, 10, 13, 4), 100000000);
	ck_assert_int_eq(closed(t, 10, 13, 5), 0);
	lane_tariff_free(t);

	/* the largest trip the bounds allow: 1,000 km at 100,000 VND/km */
	t = parse_ok("toll-tariff 1\nversion 1\nnetwork 1 100000 100000 100000 100000 100000\n"
		     "station 1 1 0\nstation 1 2 1000\n");
	ck_assert_int_eq(closed(t, 1, 2, 5), 100000000);
	lane_tariff_free(t);
	/* 5,000 km at 20,000 VND/km: also 100,000,000 */
	t = parse_ok("toll-tariff 1\nversion 18446744073709551615\nnetwork 4294967295 20000 0 0 0 0\n"
		     "station 4294967295 4294967295 5000\nstation 4294967295 1 0.000\n");
	ck_assert_uint_eq(lane_tariff_version(t), UINT64_MAX);
	ck_assert_int_eq(closed(t, 4294967295u, 1, 1), 100000000);
	lane_tariff_free(t);
}
END_TEST

START_TEST(test_matrix)
{
	struct lane_tariff *t = sample();

	/* the row 202 203 holds both ways */
	ck_assert_int_eq(closed(t, 202, 203, 1), 40000);
	ck_assert_int_eq(closed(t, 203, 202, 1), 40000);
	ck_assert_int_eq(closed(t, 203, 202, 5), 160000);
	lane_tariff_free(t);

	/* both directions given: each its own */
	t = parse_ok("toll-tariff 1\nversion 1\nnetwork 1 1000 1000 1000 1000 1000\n"
		     "station 1 1 0\nstation 1 2 10\nstation 1 3 20\n"
		     "matrix 1 1 2 500 600 700 800 900\nmatrix 1 2 1 5 6 7 8 9\n"
		     "matrix 1 3 3 1 1 1 1 1 # a same-station fee\n");
	ck_assert_int_eq(closed(t, 1, 2, 1), 500);
	ck_assert_int_eq(closed(t, 2, 1, 1), 5);
	ck_assert_int_eq(closed(t, 2, 1, 5), 9);
	ck_assert_int_eq(closed(t, 3, 3, 2), 1);
	ck_assert_int_eq(closed(t, 1, 3, 1), 20000);
	lane_tariff_free(t);
}
END_TEST

START_TEST(test_farthest_entry)
{
	struct lane_tariff *t = sample();
	int64_t fee = -1;

	/* exit 204: from 201, 99 km */
	ck_assert_int_eq(farthest(t, 204, 1), 128700);
	ck_assert_int_eq(farthest(t, 204, 5), 514800);
	/* exit 201: from 204 */
	ck_assert_int_eq(farthest(t, 201, 3), 257400);
	/* exit 202: the farthest entry lies the other way, 204 (67.6 km) */
	ck_assert_int_eq(farthest(t, 202, 1), 87880);
	/* exit 203: 201 (62.75 km, 81,575) beats 204 (47,125) and 202 (matrix 40,000) */
	ck_assert_int_eq(farthest(t, 203, 1), 81575);
	ck_assert_int_eq(lane_tariff_max_closed_fee(t, 203, 0, &fee), TOLL_ERANGE);
	ck_assert_int_eq(lane_tariff_max_closed_fee(t, 203, 6, &fee), TOLL_ERANGE);
	ck_assert_int_eq(lane_tariff_max_closed_fee(t, 101, 1, &fee), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_tariff_max_closed_fee(t, 999, 1, &fee), TOLL_ENOTFOUND);
	lane_tariff_free(t);

	/* a matrix fee above every distance fee is the highest */
	t = parse_ok("toll-tariff 1\nversion 1\nnetwork 1 1000 1000 1000 1000 1000\n"
		     "network 2 9000 9000 9000 9000 9000\nstation 2 50 0\nstation 2 51 100\n"
		     "station 1 1 0\nstation 1 2 10\nstation 1 3 20\nmatrix 1 2 3 99999 1 1 1 1\n");
	ck_assert_int_eq(farthest(t, 3, 1), 99999);
	ck_assert_int_eq(farthest(t, 3, 2), 20000);
	/* the other network's stations do not count */
	ck_assert_int_eq(farthest(t, 1, 1), 20000);
	ck_assert_int_eq(lane_tariff_closed_fee(t, 1, 50, 1, &fee), TOLL_ENOTFOUND);
	lane_tariff_free(t);
}
END_TEST

START_TEST(test_format)
{
	/* CRLF, comments anywhere, blanks and tabs, leading zeros, a comment
	 * before the header */
	struct lane_tariff *t = parse_ok("# tariff for plaza 12\r\n\r\ntoll-tariff 1 # format\r\n"
					 "version\t42\r\n  open 0101 1 2 3 4 5#no space\r\n");
	int64_t fee;
	ck_assert_uint_eq(lane_tariff_version(t), 42);
	ck_assert_int_eq(lane_tariff_open_fee(t, 101, 5, &fee), 0);
	ck_assert_int_eq(fee, 5);
	lane_tariff_free(t);
	/* no final newline; UTF-8 in comments */
	t = parse_ok("toll-tariff 1\nversion 1\n# Tr\xe1\xba\xa1m B\xe1\xba\xaf" "c Giang\nopen 9 0 0 0 0 1");
	ck_assert_int_eq(lane_tariff_open_fee(t, 9, 5, &fee), 0);
	ck_assert_int_eq(fee, 1);
	lane_tariff_free(t);
	ck_assert_int_eq(lane_tariff_station_kind(NULL, 1), TOLL_ENOTFOUND);
	ck_assert_uint_eq(lane_tariff_version(NULL), 0);
	lane_tariff_free(NULL);
}
END_TEST

#define HDR "toll-tariff 1\nversion 1\n"
#define NET "network 7 1300 1900 2600 3600 5200\n"
#define TWO "station 7 1 0\nstation 7 2 10\n"

START_TEST(test_errors)
{
	static const struct {
		const char *text, *want;
		int code;
	} bad[] = {
		/* header and version */
		{"", "t:1: end of file without 'toll-tariff 1'", TOLL_EFORMAT},
		{"# only a comment\n\n", "t:2: end of file without", TOLL_EFORMAT},
		{"tariff 1\n", "t:1: not a tariff file", TOLL_EFORMAT},
		{"toll-tariff\n", "t:1: want 'toll-tariff 1'", TOLL_EFORMAT},
		{"toll-tariff 1 2\n", "t:1: trailing '2'", TOLL_EFORMAT},
		{"\ntoll-tariff 2\nversion 1\n", "t:2: tariff format '2'", TOLL_EVERSION},
		{"toll-tariff 01\n", "t:1: tariff format '01'", TOLL_EVERSION},
		{"toll-tariff 1\n", "t:1: end of file before the 'version N' line", TOLL_EFORMAT},
		{"toll-tariff 1\nopen 1 1 2 3 4 5\nversion 1\n", "t:2: want 'version N' right after", TOLL_EFORMAT},
		{HDR "version 2\n", "t:3: second 'version' line", TOLL_EFORMAT},
		{"toll-tariff 1\nversion x\n", "t:2: version 'x'", TOLL_EFORMAT},
		{"toll-tariff 1\nversion 0\n", "t:2: version '0'", TOLL_EFORMAT},
		{"toll-tariff 1\nversion -1\n", "t:2: version '-1'", TOLL_EFORMAT},
		{"toll-tariff 1\nversion 18446744073709551616\n", "t:2: version", TOLL_EFORMAT},
		{"toll-tariff 1\nversion 1 2\n", "t:2: trailing '2'", TOLL_EFORMAT},
		{"toll-tariff 1\nversion\n", "t:2: want 'version N'", TOLL_EFORMAT},
		{HDR, "t:2: no stations", TOLL_EFORMAT},
		/* open */
		{HDR "open 1 1 2 3 4\n", "t:3: want 'open STATION", TOLL_EFORMAT},
		{HDR "open 1 1 2 3 4 5 6\n", "t:3: trailing '6'", TOLL_EFORMAT},
		{HDR "open 1 1 2 3 4 5 VND\n", "t:3: trailing 'VND'", TOLL_EFORMAT},
		{HDR "open 1 1 2 3 4 5x\n", "t:3: class 5 fee '5x'", TOLL_EFORMAT},
		{HDR "open 1 1 -2 3 4 5\n", "t:3: class 2 fee '-2'", TOLL_EFORMAT},
		{HDR "open 1 1 2 3 4 100000001\n", "t:3: class 5 fee '100000001'", TOLL_EFORMAT},
		{HDR "open 1 1 2 3 4 9223372036854775808\n", "t:3: class 5 fee", TOLL_EFORMAT},
		{HDR "open 1 35,000 2 3 4 5\n", "t:3: class 1 fee '35,000'", TOLL_EFORMAT},
		{HDR "open 1 1.5 2 3 4 5\n", "t:3: class 1 fee '1.5'", TOLL_EFORMAT},
		{HDR "open 1 +1 2 3 4 5\n", "t:3: class 1 fee '+1'", TOLL_EFORMAT},
		{HDR "open 0 1 2 3 4 5\n", "t:3: station '0'", TOLL_EFORMAT},
		{HDR "open 4294967296 1 2 3 4 5\n", "t:3: station '4294967296'", TOLL_EFORMAT},
		{HDR "open x 1 2 3 4 5\n", "t:3: station 'x'", TOLL_EFORMAT},
		{HDR "open 1 1 2 3 4 5\nopen 1 1 2 3 4 5\n", "t:4: station 1 is already the open station of line 3",
		 TOLL_EFORMAT},
		/* network */
		{HDR "network 7 1 2 3 4\n", "t:3: want 'network NET", TOLL_EFORMAT},
		{HDR "network 7 1 2 3 4 5 6\n", "t:3: trailing '6'", TOLL_EFORMAT},
		{HDR "network 7 1 2 3 4 100001\n", "t:3: class 5 rate (VND/km) '100001'", TOLL_EFORMAT},
		{HDR "network 0 1 2 3 4 5\n", "t:3: network '0'", TOLL_EFORMAT},
		{HDR NET NET, "t:4: network 7 is already defined on line 3", TOLL_EFORMAT},
		{HDR NET "station 7 1 0\n", "t:3: network 7 has fewer than two stations", TOLL_EFORMAT},
		{HDR NET TWO "network 8 1 1 1 1 1\nopen 9 1 1 1 1 1\n", "t:6: network 8 has fewer", TOLL_EFORMAT},
		/* station */
		{HDR "station 7 1 0\n", "t:3: unknown network 7", TOLL_EFORMAT},
		{HDR NET "station 7 1\n", "t:4: want 'station NET STATION KM'", TOLL_EFORMAT},
		{HDR NET "station 7 1 0 km\n", "t:4: trailing 'km'", TOLL_EFORMAT},
		{HDR NET "station 7 1 -1\n", "t:4: position '-1'", TOLL_EFORMAT},
		{HDR NET "station 7 1 5000.001\n", "t:4: position '5000.001'", TOLL_EFORMAT},
		{HDR NET "station 7 1 1.2345\n", "t:4: position '1.2345'", TOLL_EFORMAT},
		{HDR NET "station 7 1 1.\n", "t:4: position '1.'", TOLL_EFORMAT},
		{HDR NET "station 7 1 .5\n", "t:4: position '.5'", TOLL_EFORMAT},
		{HDR NET "station 7 1 1,5\n", "t:4: position '1,5'", TOLL_EFORMAT},
		{HDR NET "station 7 1 99999999999999999999\n", "t:4: position", TOLL_EFORMAT},
		{HDR NET "station 7 0 1\n", "t:4: station '0'", TOLL_EFORMAT},
		{HDR NET TWO "station 7 1 5\n", "t:6: station 1 is already a station of network 7 (line 4)", TOLL_EFORMAT},
		{HDR NET TWO "station 7 3 10.000\n", "t:6: station 3 at km 10.000, where station 2 (line 5) is",
		 TOLL_EFORMAT},
		{HDR "open 1 1 2 3 4 5\n" NET "station 7 1 0\n", "t:5: station 1 is already the open station",
		 TOLL_EFORMAT},
		{HDR NET TWO "open 2 1 2 3 4 5\n", "t:6: station 2 is already a station of network 7", TOLL_EFORMAT},
		{HDR NET "network 8 1 1 1 1 1\n" TWO "station 8 2 40\n",
		 "t:7: station 2 is already a station of network 7", TOLL_EFORMAT},
		/* 2,000 km at 52,000 VND/km is 104,000,000 VND */
		{HDR "network 7 1 1 1 1 52000\nstation 7 1 0\nstation 7 2 2000\n",
		 "t:5: station 2 makes a 2000.000 km trip on network 7 cost 104000000 VND at class 5", TOLL_EFORMAT},
		/* matrix */
		{HDR NET TWO "matrix 7 1 2 1 2 3 4\n", "t:6: want 'matrix NET", TOLL_EFORMAT},
		{HDR NET TWO "matrix 7 1 2 1 2 3 4 5 6\n", "t:6: trailing '6'", TOLL_EFORMAT},
		{HDR NET TWO "matrix 8 1 2 1 2 3 4 5\n", "t:6: unknown network 8", TOLL_EFORMAT},
		{HDR NET TWO "matrix 7 1 3 1 2 3 4 5\n", "t:6: station 3 is not a station of network 7", TOLL_EFORMAT},
		{HDR NET "matrix 7 1 2 1 2 3 4 5\n" TWO, "t:4: station 1 is not a station of network 7", TOLL_EFORMAT},
		{HDR "open 3 1 1 1 1 1\n" NET TWO "matrix 7 1 3 1 2 3 4 5\n", "t:7: station 3 is not", TOLL_EFORMAT},
		{HDR NET TWO "matrix 7 1 2 1 2 3 4 100000001\n", "t:6: class 5 fee", TOLL_EFORMAT},
		{HDR NET TWO "matrix 7 1 2 1 2 3 4 5\nmatrix 7 1 2 1 2 3 4 5\n",
		 "t:7: matrix 1 2 is already given on line 6", TOLL_EFORMAT},
		/* lines */
		{HDR "fee 1 2\n", "t:3: unknown line 'fee'", TOLL_EFORMAT},
		{HDR "OPEN 1 1 2 3 4 5\n", "t:3: unknown line 'OPEN'", TOLL_EFORMAT},
		{HDR "open 1 1 2 3 4 5\n\x01\n", "t:4: control character 0x01", TOLL_EFORMAT},
		{HDR "open 1 1 2\r3 4 5\n", "t:3: control character 0x0d", TOLL_EFORMAT},
		{HDR "open 1 1 2 3 4 5\n# \x1b[31m\n", "t:4: control character 0x1b", TOLL_EFORMAT},
		{HDR "open \xc4\x91 1 2 3 4 5\n", "t:3: station '?" "?'", TOLL_EFORMAT},
	};
	char err[256];
	struct lane_tariff *t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		t = (struct lane_tariff *)&err;
		int rc = lane_tariff_parse(bad[i].text, strlen(bad[i].text), "t", &t, err, sizeof(err));
		ck_assert_msg(rc == bad[i].code, "case %zu: %d (%s)", i, rc, err);
		ck_assert_ptr_null(t);
		ck_assert_msg(strstr(err, bad[i].want) != NULL, "case %zu: '%s' lacks '%s'", i, err, bad[i].want);
	}
}
END_TEST

START_TEST(test_limits)
{
	static const char nul[] = "toll-tariff 1\nversion 1\0\nopen 1 1 2 3 4 5\n";
	char err[256], *big;
	struct lane_tariff *t;
	size_t n;

	ck_assert_int_eq(lane_tariff_parse(nul, sizeof(nul) - 1, "t", &t, err, sizeof(err)), TOLL_EFORMAT);
	ck_assert_msg(strstr(err, "t:2: NUL byte") != NULL, "%s", err);
	/* a line over 1,024 bytes, even a comment */
	big = malloc(4096);
	n = (size_t)snprintf(big, 4096, "toll-tariff 1\nversion 1\n#");
	memset(big + n, 'x', 1100);
	n += 1100;
	ck_assert_int_eq(lane_tariff_parse(big, n, "t", &t, err, sizeof(err)), TOLL_EFORMAT);
	ck_assert_msg(strstr(err, "t:3: line longer than 1024 bytes") != NULL, "%s", err);
	free(big);
	/* a long word is quoted shortened */
	big = malloc(4096);
	n = (size_t)snprintf(big, 4096, "toll-tariff 1\nversion 1\nopen ");
	memset(big + n, '9', 500);
	n += 500;
	n += (size_t)snprintf(big + n, 4096 - n, " 1 2 3 4 5\n");
	ck_assert_int_eq(lane_tariff_parse(big, n, "t", &t, err, sizeof(err)), TOLL_EFORMAT);
	ck_assert_msg(strstr(err, "t:3: station '9999") != NULL && strstr(err, "...'") != NULL, "%s", err);
	free(big);
	/* the file errors */
	ck_assert_int_eq(lane_tariff_load("/nonexistent/tariff", &t, err, sizeof(err)), TOLL_ESYS);
	ck_assert_msg(strstr(err, "/nonexistent/tariff: ") != NULL, "%s", err);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(lane_tariff_load("/", &t, err, sizeof(err)), TOLL_ESYS);
}
END_TEST

START_TEST(test_fixtures)
{
	static const struct {
		const char *file, *want;
		int code;
	} bad[] = {
		{"bad-format.tariff", "bad-format.tariff:2: tariff format '2'", TOLL_EVERSION},
		{"no-version.tariff", "no-version.tariff:2: want 'version N'", TOLL_EFORMAT},
		{"two-networks.tariff", "two-networks.tariff:7: station 202 is already a station of network 7",
		 TOLL_EFORMAT},
		{"open-and-closed.tariff", "open-and-closed.tariff:5: station 201 is already the open station",
		 TOLL_EFORMAT},
		{"trailing.tariff", "trailing.tariff:3: trailing 'VND'", TOLL_EFORMAT},
		{"metres.tariff", "metres.tariff:6: position '99000'", TOLL_EFORMAT},
		{"fee-too-high.tariff", "fee-too-high.tariff:5: station 204 makes a 2000.000 km trip", TOLL_EFORMAT},
		{"negative-crlf.tariff", "negative-crlf.tariff:4: class 2 fee '-50000'", TOLL_EFORMAT},
	};
	char path[512], err[512];
	struct lane_tariff *t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		data_path(path, sizeof(path), bad[i].file);
		err[0] = 0;
		ck_assert_msg(lane_tariff_load(path, &t, err, sizeof(err)) == bad[i].code, "%s: %s", bad[i].file, err);
		ck_assert_msg(strstr(err, bad[i].want) != NULL, "'%s' lacks '%s'", err, bad[i].want);
	}
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("tariff");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_open);
	tcase_add_test(tc, test_distance);
	tcase_add_test(tc, test_rounding);
	tcase_add_test(tc, test_matrix);
	tcase_add_test(tc, test_farthest_entry);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_fixtures);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}
