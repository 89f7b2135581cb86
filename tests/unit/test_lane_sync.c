/* test_lane_sync.c: when the lane's copy of central's list counts as stale
 * (lane_sync_stale; the rest of lane_sync runs against a real central in
 * tests/integration/test_sync.sh). */
#include <check.h>

#include "lane_sync.h"
#include "unit.h"

/* A lane that has just started has heard nothing yet: that is not
 * "nothing heard for list.stale" (every lane used to raise that alarm
 * within a second of starting). */
START_TEST(test_not_stale_at_start)
{
	int64_t started = 5000, stale = 10000;

	ck_assert_int_eq(lane_sync_stale(started, 0, started, stale), 0);
	ck_assert_int_eq(lane_sync_stale(started, 0, started + 1000, stale), 0);
	ck_assert_int_eq(lane_sync_stale(started, 0, started + stale, stale), 0);
	/* central silent since the start for longer than list.stale */
	ck_assert_int_eq(lane_sync_stale(started, 0, started + stale + 1, stale), 1);
}
END_TEST

START_TEST(test_stale_after_the_last_heartbeat)
{
	int64_t started = 5000, stale = 10000;

	ck_assert_int_eq(lane_sync_stale(started, 14000, 20000, stale), 0);
	ck_assert_int_eq(lane_sync_stale(started, 14000, 24000, stale), 0);
	ck_assert_int_eq(lane_sync_stale(started, 14000, 24001, stale), 1);
	/* heard again */
	ck_assert_int_eq(lane_sync_stale(started, 30000, 30001, stale), 0);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("lane_sync");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_not_stale_at_start);
	tcase_add_test(tc, test_stale_after_the_last_heartbeat);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}
