/* test_tariff.c: fees for open stations and closed networks, and every
 * kind of bad tariff file refused with its line. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "lane_tariff.h"
#include "unit.h"

static struct lane_tariff *
sample(void)
{
	char path[512], err[256];
	const char *top = getenv("TOLL_TOP");
	struct lane_tariff *t;
	snprintf(path, sizeof(path), "%s/tests/data/tariff/sample.tariff", top && *top ? top : ".");
	ck_assert_msg(lane_tariff_load(path, &t, err, sizeof(err)) == 0, "%s", err);
	return t;
}

START_TEST(test_fees)
{
	struct lane_tariff *t = sample();
	int64_t fee;

	ck_assert_uint_eq(lane_tariff_version(t), 2026112201u);
	ck_assert_int_eq(lane_tariff_open_fee(t, 101, 1, &fee), 0);
	ck_assert_int_eq(fee, 35000);
	ck_assert_int_eq(lane_tariff_open_fee(t, 101, 5, &fee), 0);
	ck_assert_int_eq(fee, 180000);
	ck_assert_int_eq(lane_tariff_open_fee(t, 101, 6, &fee), TOLL_ERANGE);
	ck_assert_int_eq(lane_tariff_open_fee(t, 101, 0, &fee), TOLL_ERANGE);
	ck_assert_int_eq(lane_tariff_open_fee(t, 999, 1, &fee), TOLL_ENOTFOUND);
	/* the domain's figure: 99 km at class 1 (1,300 VND/km) is 128,700 */
	ck_assert_int_eq(lane_tariff_closed_fee(t, 201, 203, 1, &fee), 0);
	ck_assert_int_eq(fee, 128700);
	ck_assert_int_eq(lane_tariff_closed_fee(t, 203, 201, 1, &fee), 0);
	ck_assert_int_eq(fee, 128700);
	ck_assert_int_eq(lane_tariff_closed_fee(t, 201, 203, 5, &fee), 0);
	ck_assert_int_eq(fee, 514800);
	/* 54 km x 1,900 = 102,600 */
	ck_assert_int_eq(lane_tariff_closed_fee(t, 202, 203, 2, &fee), 0);
	ck_assert_int_eq(fee, 102600);
	/* the matrix wins over distance, both ways */
	ck_assert_int_eq(lane_tariff_closed_fee(t, 201, 204, 1, &fee), 0);
	ck_assert_int_eq(fee, 150000);
	ck_assert_int_eq(lane_tariff_closed_fee(t, 204, 201, 3, &fee), 0);
	ck_assert_int_eq(fee, 290000);
	/* unknown entry at exit 203: the farthest entry's fee */
	ck_assert_int_eq(lane_tariff_max_closed_fee(t, 203, 1, &fee), 0);
	ck_assert_int_eq(fee, 128700);
	ck_assert_int_eq(lane_tariff_max_closed_fee(t, 204, 1, &fee), 0);
	ck_assert_int_eq(fee, 150000);
	ck_assert_int_eq(lane_tariff_station_kind(t, 101), 1);
	ck_assert_int_eq(lane_tariff_station_kind(t, 202), 2);
	ck_assert_int_eq(lane_tariff_station_kind(t, 5), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_tariff_closed_fee(t, 101, 203, 1, &fee), TOLL_ENOTFOUND);
	lane_tariff_free(t);
}
END_TEST

START_TEST(test_rounding)
{
	struct lane_tariff *t;
	char err[256];
	const char *text = "toll-tariff 1\nversion 1\nnetwork 1 1333 1 1 1 1\nstation 1 10 0\nstation 1 11 1500\nstation 1 12 1499\n";
	int64_t fee;

	ck_assert_int_eq(lane_tariff_parse(text, strlen(text), "t", &t, err, sizeof(err)), 0);
	/* 1.5 km x 1,333 = 1,999.5: half up to 2,000; 1.499 km = 1,998.167: 1,998 */
	ck_assert_int_eq(lane_tariff_closed_fee(t, 10, 11, 1, &fee), 0);
	ck_assert_int_eq(fee, 2000);
	ck_assert_int_eq(lane_tariff_closed_fee(t, 10, 12, 1, &fee), 0);
	ck_assert_int_eq(fee, 1998);
	lane_tariff_free(t);
}
END_TEST

START_TEST(test_errors)
{
	static const struct {
		const char *text, *where;
	} bad[] = {
		{"", "empty"},
		{"toll-tariff 2\nversion 1\n", ":1:"},
		{"toll-tariff 1\nopen 1 1 2 3 4 5\n", "version"},
		{"toll-tariff 1\nversion 1\nversion 2\n", ":3:"},
		{"toll-tariff 1\nversion x\n", ":2:"},
		{"toll-tariff 1\nversion 1\nopen 1 1 2 3 4\n", ":3:"},
		{"toll-tariff 1\nversion 1\nopen 1 1 2 3 4 -5\n", ":3:"},
		{"toll-tariff 1\nversion 1\nopen 1 1 2 3 4 500000000\n", ":3:"},
		{"toll-tariff 1\nversion 1\nopen 1 1 2 3 4 5\nopen 1 1 2 3 4 5\n", ":4:"},
		{"toll-tariff 1\nversion 1\nstation 7 1 0\n", ":3:"},
		{"toll-tariff 1\nversion 1\nnetwork 7 1 1 1 1 1\nstation 7 1 0\nstation 7 1 5\n", ":5:"},
		{"toll-tariff 1\nversion 1\nopen 1 1 2 3 4 5\nnetwork 7 1 1 1 1 1\nstation 7 1 0\n", ":5:"},
		{"toll-tariff 1\nversion 1\nnetwork 7 1 1 1 1 1\nstation 7 1 0\nmatrix 7 1 2 1 1 1 1 1\n", ":5:"},
		{"toll-tariff 1\nversion 1\nnetwork 7 1 1 1 1 1\nstation 7 1 99999999999\n", ":4:"},
		{"toll-tariff 1\nversion 1\nfee 1 2\n", ":3:"},
		{"toll-tariff 1\nversion 1\nopen 1 1 2 3 4 5 6\n", ":3:"},
		{"toll-tariff 1\nversion 1\nopen 1 1 2 3 4 5x\n", ":3:"},
	};
	char err[256];
	struct lane_tariff *t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		ck_assert_msg(lane_tariff_parse(bad[i].text, strlen(bad[i].text), "f", &t, err, sizeof(err)) ==
				      TOLL_EFORMAT,
			      "accepted case %zu", i);
		ck_assert_msg(strstr(err, bad[i].where) != NULL, "case %zu: '%s' lacks '%s'", i, err, bad[i].where);
	}
	const char nul[] = "toll-tariff 1\nversion 1\0\n";
	ck_assert_int_eq(lane_tariff_parse(nul, sizeof(nul) - 1, "f", &t, err, sizeof(err)), TOLL_EFORMAT);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("tariff");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_fees);
	tcase_add_test(tc, test_rounding);
	tcase_add_test(tc, test_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}
