/* test_lane_plaza.c: one vehicle, one transaction across the plaza: the
 * claims and the vote (lane_plaza), and two lanes deciding one tag through
 * lane_decide with the sample list and tariff. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lane_decide.h"
#include "lane_plaza.h"
#include "txn.h"
#include "unit.h"

static uint8_t epc_a[12] = {0x30, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
static uint8_t epc_b[12] = {0x30, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12};

START_TEST(test_claim_and_reread)
{
	struct lane_plaza *p;
	unsigned other = 99;

	ck_assert_int_eq(lane_plaza_new(4, 300000, 50, &p), 0);
	ck_assert_int_eq(lane_plaza_claim(p, 0, epc_a, 96, -550, 1000, &other, NULL), LANE_VOTE_MINE);
	/* the same lane again within 300 s: a re-read */
	ck_assert_int_eq(lane_plaza_claim(p, 0, epc_a, 96, -550, 60000, &other, NULL), LANE_VOTE_AGAIN);
	/* the neighbour: someone else's */
	ck_assert_int_eq(lane_plaza_claim(p, 1, epc_a, 96, -500, 2000, &other, NULL), LANE_VOTE_OTHER);
	ck_assert_uint_eq(other, 0);
	/* another tag is free */
	ck_assert_int_eq(lane_plaza_claim(p, 1, epc_b, 96, -550, 2000, &other, NULL), LANE_VOTE_MINE);
	/* after the window, the tag can be charged again */
	ck_assert_int_eq(lane_plaza_claim(p, 0, epc_a, 96, -550, 1000 + 300001, &other, NULL), LANE_VOTE_MINE);
	lane_plaza_free(p);
}
END_TEST

/* A lane restarted: what its journal says it took within the window is a
 * re-read (no second charge), for itself and for its neighbours. */
START_TEST(test_restore_after_restart)
{
	struct lane_plaza *p;
	unsigned other = 99;

	ck_assert_int_eq(lane_plaza_new(4, 300000, 50, &p), 0);
	/* taken 200 s before the new process's clock read 1000 */
	lane_plaza_restore(p, 2, epc_a, 96, 1000 - 200000, 1000);
	/* taken 400 s before: past the window, not restored */
	lane_plaza_restore(p, 2, epc_b, 96, 1000 - 400000, 1000);
	ck_assert_int_eq(lane_plaza_claim(p, 2, epc_a, 96, -550, 11000, &other, NULL), LANE_VOTE_AGAIN);
	ck_assert_int_eq(lane_plaza_claim(p, 1, epc_a, 96, -400, 12000, &other, NULL), LANE_VOTE_OTHER);
	ck_assert_uint_eq(other, 2);
	ck_assert_int_eq(lane_plaza_claim(p, 2, epc_b, 96, -550, 11000, &other, NULL), LANE_VOTE_MINE);
	/* the window counts from the journal's time, not the restart */
	ck_assert_int_eq(lane_plaza_claim(p, 2, epc_a, 96, -550, 1000 - 200000 + 300001, &other, NULL),
			 LANE_VOTE_MINE);
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
	ck_assert_int_eq(lane_plaza_claim(p, 1, epc_a, 96, -620, 1010, &other, NULL), LANE_VOTE_OTHER);
	ck_assert_uint_eq(other, 2);
	ck_assert_int_eq(lane_plaza_claim(p, 2, epc_a, 96, -450, 1015, &other, NULL), LANE_VOTE_MINE);
	/* a stronger read without a vehicle on the loop does not win */
	lane_plaza_seen(p, 3, epc_b, 96, -400, 0, 2000);
	ck_assert_int_eq(lane_plaza_claim(p, 1, epc_b, 96, -600, 2005, &other, NULL), LANE_VOTE_MINE);
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
	ck_assert_int_eq(lane_plaza_claim(p, 1, epc_a, 96, -620, 1100, &other, NULL), LANE_VOTE_MINE);
	/* refused there: released, so the right lane can take it */
	lane_plaza_release(p, 1, epc_a, 96);
	ck_assert_int_eq(lane_plaza_claim(p, 2, epc_a, 96, -450, 1200, &other, NULL), LANE_VOTE_MINE);
	/* release by a lane that does not hold the claim does nothing */
	lane_plaza_release(p, 1, epc_a, 96);
	ck_assert_int_eq(lane_plaza_claim(p, 1, epc_a, 96, -450, 1300, &other, NULL), LANE_VOTE_OTHER);
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
		ck_assert_int_eq(lane_plaza_claim(p, i % 16, e, 96, -550, 1000 + i, &other, NULL), LANE_VOTE_MINE);
	}
	for (uint32_t i = 0; i < 20000; i += 997) {
		memcpy(e + 8, &i, 4);
		ck_assert_int_eq(lane_plaza_claim(p, (i + 1) % 16, e, 96, -550, 30000, &other, NULL), LANE_VOTE_OTHER);
	}
	lane_plaza_free(p);
}
END_TEST

/* The claim comes after the vote wait (lane_run holds every read for the
 * vote window after reporting it, and a read can also wait for its
 * vehicle to reach the loop): the window is around the two reads, not
 * around the claim. */
START_TEST(test_vote_claim_after_the_window)
{
	struct lane_plaza *p;
	unsigned other = 99;
	int neighbour = -1;

	ck_assert_int_eq(lane_plaza_new(4, 300000, 50, &p), 0);
	/* one passage: lane 2 reads it strongly, lane 1 (its neighbour, with a
	 * vehicle of its own on the loop) weakly, 8 ms apart */
	lane_plaza_seen(p, 2, epc_a, 96, -550, 1, 1000);
	lane_plaza_seen(p, 1, epc_a, 96, -670, 1, 1008);
	/* lane 1 claims first, 60 ms after lane 2's read: not its vehicle */
	ck_assert_int_eq(lane_plaza_claim(p, 1, epc_a, 96, -670, 1060, &other, &neighbour), LANE_VOTE_OTHER);
	ck_assert_uint_eq(other, 2);
	/* lane 2 takes it, and its record says lane 1 read it too */
	ck_assert_int_eq(lane_plaza_claim(p, 2, epc_a, 96, -550, 1300, &other, &neighbour), LANE_VOTE_MINE);
	ck_assert_int_eq(neighbour, 1);
	lane_plaza_free(p);
}
END_TEST

START_TEST(test_neighbour_flag)
{
	struct lane_plaza *p;
	unsigned other = 99;
	int neighbour = -1;

	ck_assert_int_eq(lane_plaza_new(4, 300000, 50, &p), 0);
	/* nobody else read it */
	lane_plaza_seen(p, 1, epc_a, 96, -550, 1, 1000);
	ck_assert_int_eq(lane_plaza_claim(p, 1, epc_a, 96, -550, 1050, &other, &neighbour), LANE_VOTE_MINE);
	ck_assert_int_eq(neighbour, 0);
	/* another lane read it long before (another passage): not a neighbour
	 * read of this one */
	lane_plaza_seen(p, 3, epc_b, 96, -500, 1, 1000);
	lane_plaza_seen(p, 1, epc_b, 96, -600, 1, 9000);
	ck_assert_int_eq(lane_plaza_claim(p, 1, epc_b, 96, -600, 9050, &other, &neighbour), LANE_VOTE_MINE);
	ck_assert_int_eq(neighbour, 0);
	/* a weaker read at another lane within the window: mine, flagged */
	lane_plaza_release(p, 1, epc_b, 96);
	lane_plaza_seen(p, 2, epc_b, 96, -700, 0, 9020);
	ck_assert_int_eq(lane_plaza_claim(p, 1, epc_b, 96, -600, 9070, &other, &neighbour), LANE_VOTE_MINE);
	ck_assert_int_eq(neighbour, 1);
	lane_plaza_free(p);
}
END_TEST

/* When a lane may claim a read: once every other lane has reported a
 * reader poll started after it had the read, or after the vote window. */
START_TEST(test_vote_closes)
{
	struct lane_plaza *p;

	ck_assert_int_eq(lane_plaza_new(3, 300000, 50, &p), 0);
	/* lanes 1, 2, 3 (ids, not indexes), vehicles on every loop; lane 3
	 * has not reported yet */
	lane_plaza_polled(p, 1, 990, 1);
	lane_plaza_polled(p, 2, 995, 1);
	/* lane 1 got a read at 1000 */
	ck_assert_int_eq(lane_plaza_vote_closed(p, 1, 1000, 1001), 0);
	lane_plaza_polled(p, 2, 1004, 1);
	ck_assert_int_eq(lane_plaza_vote_closed(p, 1, 1000, 1005), 0); /* lane 3: never heard of */
	lane_plaza_polled(p, 3, 998, 1);
	ck_assert_int_eq(lane_plaza_vote_closed(p, 1, 1000, 1006), 0); /* lane 3: polled before the read */
	lane_plaza_polled(p, 3, 1008, 1);
	ck_assert_int_eq(lane_plaza_vote_closed(p, 1, 1000, 1010), 1);
	/* a later read: lane 3 silent (stuck), the window closes it */
	lane_plaza_polled(p, 2, 1030, 1);
	ck_assert_int_eq(lane_plaza_vote_closed(p, 1, 1020, 1069), 0);
	ck_assert_int_eq(lane_plaza_vote_closed(p, 1, 1020, 1070), 1);
	/* an older poll reported late does not move a lane back */
	lane_plaza_polled(p, 1, 1010, 1);
	lane_plaza_polled(p, 3, 900, 1);
	ck_assert_int_eq(lane_plaza_vote_closed(p, 2, 1005, 1031), 1);
	/* a lane with nobody on its loop cannot take a tag: not waited for */
	lane_plaza_polled(p, 3, 1040, 0);
	lane_plaza_polled(p, 2, 1041, 1);
	ck_assert_int_eq(lane_plaza_vote_closed(p, 1, 1050, 1051), 0); /* lane 2's vehicle */
	lane_plaza_polled(p, 2, 1045, 0); /* gone, at a poll still before the read */
	ck_assert_int_eq(lane_plaza_vote_closed(p, 1, 1050, 1051), 1);
	lane_plaza_free(p);

	/* a plaza of one lane: nobody to wait for */
	ck_assert_int_eq(lane_plaza_new(1, 300000, 50, &p), 0);
	ck_assert_int_eq(lane_plaza_vote_closed(p, 1, 1000, 1000), 1);
	lane_plaza_free(p);
}
END_TEST

/* ---- two lanes deciding through lane_decide ---------------------------- */

static int64_t fake_now_ms;
static int64_t fake_now(void) { return fake_now_ms; }
static int64_t fake_real(void) { return 1795000000000LL; } /* 2026-11-18 */

static void
data_path(char *out, size_t len, const char *name)
{
	const char *top = getenv("TOLL_TOP");
	snprintf(out, len, "%s/tests/data/%s", top && *top ? top : ".", name);
}

static struct lane_read
read_of(const char *hex, int16_t rssi)
{
	struct lane_read r;
	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < strlen(hex) / 2; i++) {
		unsigned b;
		sscanf(hex + 2 * i, "%2x", &b);
		r.epc[i] = (uint8_t)b;
	}
	r.epc_bits = (uint16_t)(strlen(hex) * 4);
	r.rssi_dbm_x10 = rssi;
	r.clock_synced = 1;
	return r;
}

/* The neighbour's weaker read of a vehicle must not take it (its own
 * vehicle would go through on this driver's account): the lane with the
 * stronger read takes it, flagged; a decision released (the vehicle left
 * before the barrier opened for it) gives back the claim and the debit. */
START_TEST(test_decide_stronger_lane_takes_it)
{
	struct lane_context ctx;
	struct lane_decider d1, d2;
	struct lane_decision d;
	struct lane_tag_info info;
	char path[600], err[256];

	memset(&ctx, 0, sizeof(ctx));
	pthread_mutex_init(&ctx.mu, NULL);
	ctx.station_id = 101;
	ctx.role = LANE_ROLE_OPEN;
	data_path(path, sizeof(path), "taglist/sample.bin");
	ck_assert_msg(lane_taglist_load(path, &ctx.list, err, sizeof(err)) == 0, "%s", err);
	data_path(path, sizeof(path), "tariff/sample.tariff");
	ck_assert_msg(lane_tariff_load(path, &ctx.tariff, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(lane_plaza_new(2, 300000, 50, &ctx.plaza), 0);
	d1 = (struct lane_decider){&ctx, 1, fake_now, fake_real};
	d2 = (struct lane_decider){&ctx, 2, fake_now, fake_real};

	/* 51A12345's tag (account 1001, 500,000 VND, class 1: 35,000 VND) in
	 * lane 2; lane 1 reads it 12 dB weaker, its own vehicle tagless */
	struct lane_read weak = read_of("3034257bf7194e4000001a85", -670);
	struct lane_read strong = read_of("3034257bf7194e4000001a85", -550);
	lane_plaza_seen(ctx.plaza, 1, weak.epc, weak.epc_bits, weak.rssi_dbm_x10, 1, 5000);
	lane_plaza_seen(ctx.plaza, 2, strong.epc, strong.epc_bits, strong.rssi_dbm_x10, 1, 5004);
	/* lane 1 decides first (its thread polled first) */
	fake_now_ms = 5055;
	ck_assert_int_eq(lane_decide(&d1, &weak, &d), 0);
	ck_assert_int_eq(d.suppressed, 1);
	fake_now_ms = 5060;
	ck_assert_int_eq(lane_decide(&d2, &strong, &d), 0);
	ck_assert_int_eq(d.suppressed, 0);
	ck_assert_int_eq(d.outcome, TOLL_OUT_PAID);
	ck_assert_int_eq(d.fee_vnd, 35000);
	ck_assert_uint_eq(d.account_id, 1001);
	ck_assert_uint_eq(d.flags & TOLL_TXN_F_NEIGHBOUR, TOLL_TXN_F_NEIGHBOUR);
	ck_assert_int_eq(lane_taglist_lookup(ctx.list, strong.epc, strong.epc_bits, NULL, &info), 0);
	ck_assert_int_eq(info.balance_vnd, 500000 - 35000);

	/* the vehicle leaves before the barrier opens for it: released */
	lane_decide_release(&d2, &strong, &d);
	ck_assert_int_eq(lane_taglist_lookup(ctx.list, strong.epc, strong.epc_bits, NULL, &info), 0);
	ck_assert_int_eq(info.balance_vnd, 500000);
	/* it comes back through lane 2 a minute later: charged there (the
	 * claim was released: not suppressed as a re-read) */
	lane_plaza_seen(ctx.plaza, 2, strong.epc, strong.epc_bits, strong.rssi_dbm_x10, 1, 65000);
	fake_now_ms = 65050;
	ck_assert_int_eq(lane_decide(&d2, &strong, &d), 0);
	ck_assert_int_eq(d.outcome, TOLL_OUT_PAID);
	ck_assert_uint_eq(d.flags & TOLL_TXN_F_NEIGHBOUR, 0);
	ck_assert_int_eq(lane_taglist_lookup(ctx.list, strong.epc, strong.epc_bits, NULL, &info), 0);
	ck_assert_int_eq(info.balance_vnd, 500000 - 35000);

	lane_plaza_free(ctx.plaza);
	lane_tariff_free(ctx.tariff);
	lane_taglist_free(ctx.list);
	pthread_mutex_destroy(&ctx.mu);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("lane_plaza");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_claim_and_reread);
	tcase_add_test(tc, test_restore_after_restart);
	tcase_add_test(tc, test_vote_strongest_with_loop);
	tcase_add_test(tc, test_vote_window_and_release);
	tcase_add_test(tc, test_many_tags);
	tcase_add_test(tc, test_vote_claim_after_the_window);
	tcase_add_test(tc, test_neighbour_flag);
	tcase_add_test(tc, test_vote_closes);
	tcase_add_test(tc, test_decide_stronger_lane_takes_it);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}
