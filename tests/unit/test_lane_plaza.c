/* test_lane_plaza.c: one vehicle, one transaction across the plaza. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lane_plaza.h"
#include "unit.h"

static uint8_t epc_a[12] = {0x30, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
static uint8_t epc_b[12] = {0x30, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12};

START_TEST(test_claim_and_reread)
{
	struct lane_plaza *p;
	unsigned other = 99;

	ck_assert_int_eq(lane_plaza_new(4, 300000, 50, &p), 0);
	ck_assert_int_eq(lane_plaza_claim(p, 0, epc_a, 96, -550, 1000, &other), LANE_VOTE_MINE);
	/* the same lane again within 300 s: a re-read */
	ck_assert_int_eq(lane_plaza_claim(p, 0, epc_a, 96, -550, 60000, &other), LANE_VOTE_AGAIN);
	/* the neighbour: someone else's */
	ck_assert_int_eq(lane_plaza_claim(p, 1, epc_a, 96, -500, 2000, &other), LANE_VOTE_OTHER);
	ck_assert_uint_eq(other, 0);
	/* another tag is free */
	ck_assert_int_eq(lane_plaza_claim(p, 1, epc_b, 96, -550, 2000, &other), LANE_VOTE_MINE);
	/* after the window, the tag can be charged again */
	ck_assert_int_eq(lane_plaza_claim(p, 0, epc_a, 96, -550, 1000 + 300001, &other), LANE_VOTE_MINE);
	lane_plaza_free(p);
}
END_TEST

START_TEST(test_vote_strongest_with_loop)
{
	struct lane_plaza *p;
	unsigned other = 99;

	ck_assert_int_eq(lane_plaza_new(4, 300000, 50, &p), 0);
	/* lane 2 saw the tag strongly with a vehicle on its loop */
	lane_plaza_seen(p, 2, epc_a, 96, -450, 1, 1000);
	/* lane 1 (weaker, a reflection) must leave it */
	lane_plaza_seen(p, 1, epc_a, 96, -620, 1, 1010);
	ck_assert_int_eq(lane_plaza_claim(p, 1, epc_a, 96, -620, 1010, &other), LANE_VOTE_OTHER);
	ck_assert_uint_eq(other, 2);
	ck_assert_int_eq(lane_plaza_claim(p, 2, epc_a, 96, -450, 1015, &other), LANE_VOTE_MINE);
	/* a stronger read without a vehicle on the loop does not win */
	lane_plaza_seen(p, 3, epc_b, 96, -400, 0, 2000);
	ck_assert_int_eq(lane_plaza_claim(p, 1, epc_b, 96, -600, 2005, &other), LANE_VOTE_MINE);
	lane_plaza_free(p);
}
END_TEST

START_TEST(test_vote_window_and_release)
{
	struct lane_plaza *p;
	unsigned other = 99;

	ck_assert_int_eq(lane_plaza_new(4, 300000, 50, &p), 0);
	lane_plaza_seen(p, 2, epc_a, 96, -450, 1, 1000);
	/* the stronger sighting is too old to vote */
	ck_assert_int_eq(lane_plaza_claim(p, 1, epc_a, 96, -620, 1100, &other), LANE_VOTE_MINE);
	/* refused there: released, so the right lane can take it */
	lane_plaza_release(p, 1, epc_a, 96);
	ck_assert_int_eq(lane_plaza_claim(p, 2, epc_a, 96, -450, 1200, &other), LANE_VOTE_MINE);
	/* release by a lane that does not hold the claim does nothing */
	lane_plaza_release(p, 1, epc_a, 96);
	ck_assert_int_eq(lane_plaza_claim(p, 1, epc_a, 96, -450, 1300, &other), LANE_VOTE_OTHER);
	lane_plaza_free(p);
}
END_TEST

START_TEST(test_many_tags)
{
	struct lane_plaza *p;
	unsigned other;
	uint8_t e[12] = {0x30};

	ck_assert_int_eq(lane_plaza_new(16, 300000, 50, &p), 0);
	for (uint32_t i = 0; i < 20000; i++) {
		memcpy(e + 8, &i, 4);
		ck_assert_int_eq(lane_plaza_claim(p, i % 16, e, 96, -550, 1000 + i, &other), LANE_VOTE_MINE);
	}
	for (uint32_t i = 0; i < 20000; i += 997) {
		memcpy(e + 8, &i, 4);
		ck_assert_int_eq(lane_plaza_claim(p, (i + 1) % 16, e, 96, -550, 30000, &other), LANE_VOTE_OTHER);
	}
	lane_plaza_free(p);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("lane_plaza");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_claim_and_reread);
	tcase_add_test(tc, test_vote_strongest_with_loop);
	tcase_add_test(tc, test_vote_window_and_release);
	tcase_add_test(tc, test_many_tags);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}
