/* test_lane_logic.c: the lane state machine with a scripted decider. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lane_logic.h"
#include "txn.h"
#include "unit.h"

static int topped_up; /* the decider's answer for tag 0x02 changes */
static int decides;

static int
decide(void *ctx, const struct lane_read *rd, struct lane_decision *d)
{
	(void)ctx;
	decides++;
	memset(d, 0, sizeof(*d));
	d->vclass = 1;
	d->account_id = 1000 + rd->epc[11];
	switch (rd->epc[11]) {
	case 0x01:
	case 0x06:
		d->outcome = TOLL_OUT_PAID, d->fee_vnd = 35000, d->opens = 1;
		d->message = FWI_MSG_THANK_YOU;
		break;
	case 0x02:
		if (topped_up)
			d->outcome = TOLL_OUT_PAID, d->fee_vnd = 35000, d->opens = 1;
		else
			d->outcome = TOLL_OUT_REFUSED_BALANCE, d->message = FWI_MSG_INSUFFICIENT;
		break;
	case 0x03:
		d->outcome = TOLL_OUT_REFUSED_INVALID, d->message = FWI_MSG_TAG_INVALID;
		break;
	case 0x04:
		d->outcome = TOLL_OUT_EXEMPT, d->opens = 1;
		break;
	case 0x05:
		d->suppressed = 1;
		break;
	default:
		return -1;
	}
	return 0;
}

static struct lane_read
tag(uint8_t id)
{
	struct lane_read r;
	memset(&r, 0, sizeof(r));
	r.epc_bits = 96;
	r.epc[0] = 0x30;
	r.epc[11] = id;
	r.rssi_dbm_x10 = -550;
	return r;
}

static struct lane_logic *
new_logic(void)
{
	struct lane_logic_params p;
	lane_logic_defaults(&p);
	topped_up = 0;
	decides = 0;
	return lane_logic_new(&p, decide, NULL);
}

static struct lane_action acts[LANE_ACTIONS_MAX];

static int
count(int n, enum lane_act_kind kind)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		k += acts[i].kind == kind;
	return k;
}

static const struct lane_action *
find(int n, enum lane_act_kind kind)
{
	for (int i = 0; i < n; i++)
		if (acts[i].kind == kind)
			return &acts[i];
	return NULL;
}

/* The k-th (from 0) action of kind, or NULL. */
static const struct lane_action *
find_nth(int n, enum lane_act_kind kind, int k)
{
	for (int i = 0; i < n; i++)
		if (acts[i].kind == kind && k-- == 0)
			return &acts[i];
	return NULL;
}

static int
step(struct lane_logic *l, int entry, int exit_loop, int64_t now)
{
	struct lane_inputs in;
	memset(&in, 0, sizeof(in));
	in.entry = entry;
	in.exit_loop = exit_loop;
	in.barrier_closed = 1;
	return lane_logic_step(l, &in, now, acts, LANE_ACTIONS_MAX);
}

static int
read_tag(struct lane_logic *l, uint8_t id, int64_t now)
{
	struct lane_read r = tag(id);
	return lane_logic_read(l, &r, now, acts, LANE_ACTIONS_MAX);
}

START_TEST(test_paid_vehicle)
{
	struct lane_logic *l = new_logic();
	int n;

	ck_assert_int_eq(step(l, 1, 0, 1000), 0);
	ck_assert_int_eq(lane_logic_state(l), LANE_WAIT_READ);
	n = read_tag(l, 0x01, 1010);
	/* the record comes before the barrier opens */
	ck_assert_int_eq(acts[0].kind, LANE_ACT_RECORD);
	ck_assert_int_eq(acts[0].d.outcome, TOLL_OUT_PAID);
	ck_assert_int_eq(acts[0].has_read, 1);
	ck_assert_int_eq(count(n, LANE_ACT_BARRIER), 1);
	ck_assert_int_eq(find(n, LANE_ACT_BARRIER)->on, 1);
	ck_assert_int_eq(find(n, LANE_ACT_LIGHT)->on, 1);
	ck_assert_int_eq(find(n, LANE_ACT_DISPLAY)->d.fee_vnd, 35000);
	ck_assert_int_eq(lane_logic_state(l), LANE_OPEN);
	/* through the exit loop, off the entry loop, then the barrier closes */
	n = step(l, 1, 1, 2000);
	ck_assert_int_eq(count(n, LANE_ACT_BARRIER), 0);
	n = step(l, 0, 1, 2300);
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 0);
	n = step(l, 0, 0, 2600);
	ck_assert_int_eq(count(n, LANE_ACT_BARRIER), 1);
	ck_assert_int_eq(find(n, LANE_ACT_BARRIER)->on, 0);
	ck_assert_int_eq(lane_logic_state(l), LANE_IDLE);
	ck_assert_uint_eq(lane_logic_stats(l)->vehicles_paid, 1);
	ck_assert_uint_eq(lane_logic_stats(l)->unpaid_passages, 0);
	lane_logic_free(l);
}
END_TEST

START_TEST(test_read_before_loop_and_ghost)
{
	struct lane_logic *l = new_logic();
	int n;

	/* a read just before the loop is kept for the vehicle */
	ck_assert_int_eq(read_tag(l, 0x01, 1000), 0);
	n = step(l, 1, 0, 1200);
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 1);
	ck_assert_int_eq(find(n, LANE_ACT_BARRIER)->on, 1);
	step(l, 1, 1, 1500);
	step(l, 0, 1, 1600);
	step(l, 0, 0, 1700);
	/* a read with no vehicle coming is never charged */
	ck_assert_int_eq(read_tag(l, 0x06, 5000), 0);
	n = step(l, 0, 0, 7000);
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 0);
	n = step(l, 1, 0, 7100);
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 0);
	ck_assert_uint_eq(lane_logic_stats(l)->reads_no_vehicle, 1);
	ck_assert_int_eq(decides, 1);
	lane_logic_free(l);
}
END_TEST

START_TEST(test_refused_then_topped_up)
{
	struct lane_logic *l = new_logic();
	int n;

	step(l, 1, 0, 1000);
	n = read_tag(l, 0x02, 1010);
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 1);
	ck_assert_int_eq(acts[0].d.outcome, TOLL_OUT_REFUSED_BALANCE);
	ck_assert_int_eq(count(n, LANE_ACT_BARRIER), 0);
	ck_assert_int_eq(find(n, LANE_ACT_DISPLAY)->d.message, FWI_MSG_INSUFFICIENT);
	ck_assert_int_eq(lane_logic_state(l), LANE_CLOSED_REFUSED);
	/* asked again while still refused: nothing new recorded */
	n = step(l, 1, 0, 3100);
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 0);
	/* the top-up arrives: the next recheck records the payment and opens */
	topped_up = 1;
	n = step(l, 1, 0, 5200);
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 1);
	ck_assert_int_eq(find(n, LANE_ACT_RECORD)->d.outcome, TOLL_OUT_PAID);
	ck_assert_int_eq(find(n, LANE_ACT_BARRIER)->on, 1);
	ck_assert_uint_eq(lane_logic_stats(l)->vehicles_refused, 0);
	ck_assert_uint_eq(lane_logic_stats(l)->vehicles_paid, 1);
	lane_logic_free(l);
}
END_TEST

START_TEST(test_refused_backs_out)
{
	struct lane_logic *l = new_logic();
	int n;

	step(l, 1, 0, 1000);
	n = read_tag(l, 0x03, 1010);
	ck_assert_int_eq(acts[0].d.outcome, TOLL_OUT_REFUSED_INVALID);
	n = step(l, 0, 0, 4000);
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 0);
	ck_assert_int_eq(count(n, LANE_ACT_ALARM), 0);
	ck_assert_int_eq(lane_logic_state(l), LANE_IDLE);
	lane_logic_free(l);
}
END_TEST

START_TEST(test_no_tag)
{
	struct lane_logic *l = new_logic();
	int n;

	step(l, 1, 0, 1000);
	n = step(l, 1, 0, 2600);
	ck_assert_int_eq(count(n, LANE_ACT_DISPLAY), 1);
	ck_assert_int_eq(find(n, LANE_ACT_DISPLAY)->d.message, FWI_MSG_TAG_NOT_READ);
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 0);
	/* leaves without a read: one exception record, no charge */
	n = step(l, 0, 0, 9000);
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 1);
	ck_assert_int_eq(find(n, LANE_ACT_RECORD)->d.outcome, TOLL_OUT_NO_TAG);
	ck_assert_int_eq(find(n, LANE_ACT_RECORD)->d.fee_vnd, 0);
	ck_assert_int_eq(find(n, LANE_ACT_RECORD)->has_read, 0);
	lane_logic_free(l);
}
END_TEST

START_TEST(test_reread_and_suppressed)
{
	struct lane_logic *l = new_logic();
	int n;

	step(l, 1, 0, 1000);
	read_tag(l, 0x01, 1010);
	/* the same tag again: no second record */
	n = read_tag(l, 0x01, 1100);
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 0);
	ck_assert_int_eq(decides, 1);
	/* a tag the decider suppresses (charged elsewhere) is not given to
	 * the next vehicle */
	step(l, 1, 1, 1500);
	n = read_tag(l, 0x05, 1600);
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 0);
	ck_assert_uint_eq(lane_logic_stats(l)->reads_suppressed, 2);
	lane_logic_free(l);
}
END_TEST

START_TEST(test_two_paid_in_a_row)
{
	struct lane_logic *l = new_logic();
	int n;

	step(l, 1, 0, 1000);
	read_tag(l, 0x01, 1010);
	n = read_tag(l, 0x06, 1400); /* the vehicle behind, same loop */
	/* decided, but charged only when the barrier is for it */
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 0);
	ck_assert_int_eq(count(n, LANE_ACT_BARRIER), 0);
	ck_assert_int_eq(decides, 2);
	ck_assert_uint_eq(lane_logic_queue_len(l), 2);
	n = step(l, 1, 1, 1500); /* the first one through: the second is the head */
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 1);
	ck_assert_int_eq(find(n, LANE_ACT_RECORD)->d.outcome, TOLL_OUT_PAID);
	ck_assert_int_eq(find(n, LANE_ACT_RECORD)->rd.epc[11], 0x06);
	ck_assert_int_eq(find(n, LANE_ACT_BARRIER)->on, 1);
	/* the record comes before the barrier command */
	ck_assert(find(n, LANE_ACT_RECORD) < find(n, LANE_ACT_BARRIER));
	n = step(l, 1, 0, 2000);
	/* the next one has paid too: the barrier stays open */
	ck_assert_int_eq(count(n, LANE_ACT_BARRIER), 0);
	ck_assert_int_eq(lane_logic_state(l), LANE_OPEN);
	step(l, 1, 1, 2500);
	step(l, 0, 1, 2700);
	n = step(l, 0, 0, 3000);
	ck_assert_int_eq(find(n, LANE_ACT_BARRIER)->on, 0);
	ck_assert_uint_eq(lane_logic_stats(l)->passages, 2);
	ck_assert_uint_eq(lane_logic_stats(l)->unpaid_passages, 0);
	lane_logic_free(l);
}
END_TEST

/* The next vehicle is on the entry loop before the one ahead leaves it:
 * the entry loop never falls, yet the second vehicle is tracked, read,
 * charged and let through. */
START_TEST(test_bumper_to_bumper)
{
	struct lane_logic *l = new_logic();
	int n;

	step(l, 1, 0, 1000);
	read_tag(l, 0x01, 1010);
	step(l, 1, 1, 2000); /* the first one on the exit loop, the second on the entry loop */
	ck_assert_uint_eq(lane_logic_queue_len(l), 0);
	n = step(l, 1, 0, 2500); /* the first one gone; the entry loop still occupied */
	ck_assert_uint_eq(lane_logic_queue_len(l), 1);
	ck_assert_int_eq(lane_logic_state(l), LANE_WAIT_READ);
	ck_assert_int_eq(find(n, LANE_ACT_BARRIER)->on, 0);
	n = read_tag(l, 0x06, 2600);
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 1);
	ck_assert_int_eq(find(n, LANE_ACT_RECORD)->d.outcome, TOLL_OUT_PAID);
	ck_assert_int_eq(find(n, LANE_ACT_BARRIER)->on, 1);
	step(l, 1, 1, 3500);
	step(l, 0, 1, 3800);
	n = step(l, 0, 0, 4000);
	ck_assert_int_eq(find(n, LANE_ACT_BARRIER)->on, 0);
	ck_assert_int_eq(lane_logic_state(l), LANE_IDLE);
	ck_assert_uint_eq(lane_logic_stats(l)->vehicles_paid, 2);
	ck_assert_uint_eq(lane_logic_stats(l)->unpaid_passages, 0);
	ck_assert_uint_eq(lane_logic_stats(l)->vehicles_no_tag, 0);
	lane_logic_free(l);
}
END_TEST

START_TEST(test_unpaid_passage)
{
	struct lane_logic *l = new_logic();
	int n;

	step(l, 1, 0, 1000);
	n = step(l, 1, 1, 1200); /* through without a read (barrier forced) */
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 1);
	ck_assert_int_eq(find(n, LANE_ACT_RECORD)->d.outcome, TOLL_OUT_NO_TAG);
	ck_assert_int_eq(count(n, LANE_ACT_ALARM), 1);
	n = step(l, 0, 0, 2000);
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 0);
	ck_assert_uint_eq(lane_logic_stats(l)->unpaid_passages, 1);
	lane_logic_free(l);
}
END_TEST

START_TEST(test_exempt)
{
	struct lane_logic *l = new_logic();
	int n;

	step(l, 1, 0, 1000);
	n = read_tag(l, 0x04, 1010);
	ck_assert_int_eq(acts[0].d.outcome, TOLL_OUT_EXEMPT);
	ck_assert_int_eq(find(n, LANE_ACT_BARRIER)->on, 1);
	ck_assert_uint_eq(lane_logic_stats(l)->vehicles_free, 1);
	lane_logic_free(l);
}
END_TEST

START_TEST(test_missed_exit_edge)
{
	struct lane_logic *l = new_logic();
	int n;

	step(l, 1, 0, 1000);
	read_tag(l, 0x01, 1010);
	read_tag(l, 0x06, 1020); /* right behind it */
	ck_assert_uint_eq(lane_logic_queue_len(l), 2);
	/* the first drives through but the exit loop never sees it: the lane
	 * must not stay wedged on it */
	n = step(l, 1, 0, 17000);
	ck_assert_int_eq(count(n, LANE_ACT_ALARM), 1);
	ck_assert_uint_eq(lane_logic_queue_len(l), 1);
	ck_assert_uint_eq(lane_logic_stats(l)->passages_assumed, 1);
	ck_assert_int_eq(lane_logic_state(l), LANE_OPEN);
	lane_logic_free(l);
}
END_TEST

START_TEST(test_head_without_tag_expires)
{
	struct lane_logic *l = new_logic();
	int n;

	step(l, 1, 0, 1000);	    /* a vehicle whose tag is never read */
	read_tag(l, 0x01, 3000);    /* a paying one comes behind it */
	ck_assert_uint_eq(lane_logic_queue_len(l), 2);
	ck_assert_int_eq(lane_logic_state(l), LANE_WAIT_READ);
	n = step(l, 1, 0, 10500);
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 0);
	n = step(l, 1, 0, 11000);
	/* the one without a tag recorded, then the paying one charged as the
	 * barrier opens for it */
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 2);
	ck_assert_int_eq(find(n, LANE_ACT_RECORD)->d.outcome, TOLL_OUT_NO_TAG);
	ck_assert_int_eq(find_nth(n, LANE_ACT_RECORD, 1)->d.outcome, TOLL_OUT_PAID);
	ck_assert(find_nth(n, LANE_ACT_RECORD, 1) < find(n, LANE_ACT_BARRIER));
	ck_assert_int_eq(find(n, LANE_ACT_BARRIER)->on, 1);
	ck_assert_int_eq(lane_logic_state(l), LANE_OPEN);
	ck_assert_uint_eq(lane_logic_stats(l)->heads_expired, 1);
	lane_logic_free(l);
}
END_TEST

START_TEST(test_late_read_after_reader_outage)
{
	struct lane_logic *l = new_logic();
	struct lane_inputs in;

	memset(&in, 0, sizeof(in));
	in.entry = 1;
	in.reader_down = 1;
	for (int64_t t = 1000; t <= 6000; t += 10)
		lane_logic_step(l, &in, t, acts, LANE_ACTIONS_MAX);
	in.reader_down = 0;
	lane_logic_step(l, &in, 6010, acts, LANE_ACTIONS_MAX);
	/* the read buffered during the outage is this vehicle's */
	read_tag(l, 0x01, 6100);
	ck_assert_uint_eq(lane_logic_queue_len(l), 1);
	ck_assert_int_eq(lane_logic_state(l), LANE_OPEN);
	lane_logic_free(l);
}
END_TEST

/* Step the lane every 100 ms from t0 to t1 with the loops as given;
 * returns the total number of actions of kind in that time. */
static int
steps(struct lane_logic *l, int entry, int exit_loop, int64_t t0, int64_t t1, enum lane_act_kind kind)
{
	int k = 0;
	for (int64_t t = t0; t <= t1; t += 100)
		k += count(step(l, entry, exit_loop, t), kind);
	return k;
}

/* The demo's bug: a refused vehicle at the barrier with two paying ones
 * queued behind it on the same (long) entry loop.  The refused one backs
 * out; the loop never clears, the next one holds it.  The lane must not
 * keep the refused vehicle at the head for good (the ones behind would
 * wait at a shut barrier, charged, and back out too): after head_expire_ms
 * it is taken as gone and the next one is served, charged as the barrier
 * opens for it. */
START_TEST(test_refused_head_backs_out_on_a_held_loop)
{
	struct lane_logic *l = new_logic();
	int n;

	step(l, 1, 0, 1000);
	n = read_tag(l, 0x02, 1100); /* refused: balance */
	ck_assert_int_eq(find(n, LANE_ACT_RECORD)->d.outcome, TOLL_OUT_REFUSED_BALANCE);
	n = read_tag(l, 0x01, 2100); /* behind it, the loop still held */
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 0);
	ck_assert_int_eq(count(n, LANE_ACT_BARRIER), 0);
	n = read_tag(l, 0x06, 3100);
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 0);
	ck_assert_uint_eq(lane_logic_queue_len(l), 3);
	/* the refused one backs out at ~6 s: the lane cannot see it; until
	 * head_expire_ms (10 s) after it was refused the barrier stays shut */
	ck_assert_int_eq(steps(l, 1, 0, 1200, 11000, LANE_ACT_BARRIER), 0);
	ck_assert_int_eq(lane_logic_state(l), LANE_CLOSED_REFUSED);
	n = step(l, 1, 0, 11100);
	ck_assert_int_eq(count(n, LANE_ACT_ALARM), 1);
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 1);
	ck_assert_int_eq(find(n, LANE_ACT_RECORD)->d.outcome, TOLL_OUT_PAID);
	ck_assert_int_eq(find(n, LANE_ACT_RECORD)->rd.epc[11], 0x01);
	ck_assert_int_eq(find(n, LANE_ACT_BARRIER)->on, 1);
	ck_assert(find(n, LANE_ACT_RECORD) < find(n, LANE_ACT_BARRIER));
	ck_assert_int_eq(find(n, LANE_ACT_DISPLAY)->d.fee_vnd, 35000);
	ck_assert_int_eq(lane_logic_state(l), LANE_OPEN);
	ck_assert_uint_eq(lane_logic_queue_len(l), 2);
	/* both go through, each charged once, right before its own opening */
	n = step(l, 1, 1, 12000);
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 1);
	ck_assert_int_eq(find(n, LANE_ACT_RECORD)->rd.epc[11], 0x06);
	step(l, 1, 0, 12500);
	step(l, 1, 1, 13000);
	step(l, 0, 1, 13300);
	n = step(l, 0, 0, 13600);
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 0);
	ck_assert_int_eq(find(n, LANE_ACT_BARRIER)->on, 0);
	ck_assert_int_eq(lane_logic_state(l), LANE_IDLE);
	ck_assert_uint_eq(lane_logic_stats(l)->passages, 2);
	ck_assert_uint_eq(lane_logic_stats(l)->unpaid_passages, 0);
	ck_assert_uint_eq(lane_logic_stats(l)->vehicles_paid, 2);
	ck_assert_uint_eq(lane_logic_stats(l)->heads_expired, 1);
	ck_assert_uint_eq(lane_logic_stats(l)->charged_not_passed, 0);
	lane_logic_free(l);
}
END_TEST

/* The same, but everyone backs out before the lane gives up on the
 * refused head (the loop clears): the paying ones behind it were never at
 * the barrier, so nothing is charged; their decisions are released. */
START_TEST(test_queued_paid_vehicle_leaving_is_not_charged)
{
	struct lane_logic *l = new_logic();
	int n, records = 0;

	step(l, 1, 0, 1000);
	read_tag(l, 0x02, 1100);
	n = read_tag(l, 0x01, 2100);
	records += count(n, LANE_ACT_RECORD);
	for (int64_t t = 1200; t <= 8000; t += 100)
		records += count(step(l, 1, 0, t), LANE_ACT_RECORD);
	n = step(l, 0, 0, 8100); /* all gone, no exit-loop edge */
	records += count(n, LANE_ACT_RECORD);
	ck_assert_int_eq(records, 0);
	ck_assert_int_eq(count(n, LANE_ACT_RELEASE), 1);
	ck_assert_int_eq(find(n, LANE_ACT_RELEASE)->d.outcome, TOLL_OUT_PAID);
	ck_assert_int_eq(find(n, LANE_ACT_RELEASE)->rd.epc[11], 0x01);
	ck_assert_int_eq(count(n, LANE_ACT_ALARM), 0);
	ck_assert_int_eq(count(n, LANE_ACT_BARRIER), 0);
	ck_assert_int_eq(lane_logic_state(l), LANE_IDLE);
	ck_assert_uint_eq(lane_logic_stats(l)->vehicles_paid, 0);
	ck_assert_uint_eq(lane_logic_stats(l)->vehicles_released, 1);
	lane_logic_free(l);
}
END_TEST

/* A refused head with nobody decided behind it stays the head: the lane
 * does not open for a vehicle it has not identified. */
START_TEST(test_refused_head_stays_without_a_decided_one_behind)
{
	struct lane_logic *l = new_logic();

	step(l, 1, 0, 1000);
	read_tag(l, 0x03, 1100);
	ck_assert_int_eq(steps(l, 1, 0, 1200, 30000, LANE_ACT_BARRIER), 0);
	ck_assert_int_eq(lane_logic_state(l), LANE_CLOSED_REFUSED);
	ck_assert_uint_eq(lane_logic_stats(l)->heads_expired, 0);
	lane_logic_free(l);
}
END_TEST

/* The barrier was commanded open for the paid head but it never went
 * through (the barrier failed): the lane cannot undo that charge itself;
 * it says so. */
START_TEST(test_charged_head_leaving_raises_an_alarm)
{
	struct lane_logic *l = new_logic();
	int n;

	step(l, 1, 0, 1000);
	n = read_tag(l, 0x01, 1100);
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 1);
	n = step(l, 0, 0, 6000);
	ck_assert_int_eq(count(n, LANE_ACT_RELEASE), 0);
	ck_assert_int_eq(count(n, LANE_ACT_ALARM), 1);
	ck_assert_uint_eq(lane_logic_stats(l)->charged_not_passed, 1);
	lane_logic_free(l);
}
END_TEST

/* A decision held while the vehicle was queued: its pass timeout counts
 * from when the barrier opened for it, not from its read. */
START_TEST(test_pass_timeout_counts_from_the_head)
{
	struct lane_logic *l = new_logic();
	int n;

	step(l, 1, 0, 1000);
	read_tag(l, 0x02, 1100);
	read_tag(l, 0x01, 1200);
	steps(l, 1, 0, 1300, 11000, LANE_ACT_RECORD);
	n = step(l, 1, 0, 11100); /* the refused one taken as gone */
	ck_assert_int_eq(find(n, LANE_ACT_BARRIER)->on, 1);
	n = step(l, 1, 0, 17000); /* 15.8 s after its read, 5.9 s at the head */
	ck_assert_int_eq(count(n, LANE_ACT_ALARM), 0);
	ck_assert_int_eq(lane_logic_state(l), LANE_OPEN);
	ck_assert_uint_eq(lane_logic_stats(l)->passages_assumed, 0);
	lane_logic_free(l);
}
END_TEST

/* A refused driver who waits at the barrier until a top-up arrives: the
 * barrier opens for them then, and their pass timeout counts from then. */
START_TEST(test_topped_up_after_a_long_wait)
{
	struct lane_logic *l = new_logic();
	int n;

	step(l, 1, 0, 1000);
	read_tag(l, 0x02, 1100);
	ck_assert_int_eq(steps(l, 1, 0, 1200, 20000, LANE_ACT_RECORD), 0);
	topped_up = 1;
	n = steps(l, 1, 0, 20100, 22100, LANE_ACT_RECORD);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(lane_logic_state(l), LANE_OPEN);
	ck_assert_int_eq(steps(l, 1, 0, 22200, 30000, LANE_ACT_ALARM), 0);
	ck_assert_int_eq(lane_logic_state(l), LANE_OPEN);
	ck_assert_uint_eq(lane_logic_stats(l)->passages_assumed, 0);
	lane_logic_free(l);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("lane_logic");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_paid_vehicle);
	tcase_add_test(tc, test_read_before_loop_and_ghost);
	tcase_add_test(tc, test_refused_then_topped_up);
	tcase_add_test(tc, test_refused_backs_out);
	tcase_add_test(tc, test_no_tag);
	tcase_add_test(tc, test_reread_and_suppressed);
	tcase_add_test(tc, test_two_paid_in_a_row);
	tcase_add_test(tc, test_bumper_to_bumper);
	tcase_add_test(tc, test_unpaid_passage);
	tcase_add_test(tc, test_exempt);
	tcase_add_test(tc, test_missed_exit_edge);
	tcase_add_test(tc, test_head_without_tag_expires);
	tcase_add_test(tc, test_late_read_after_reader_outage);
	tcase_add_test(tc, test_refused_head_backs_out_on_a_held_loop);
	tcase_add_test(tc, test_queued_paid_vehicle_leaving_is_not_charged);
	tcase_add_test(tc, test_refused_head_stays_without_a_decided_one_behind);
	tcase_add_test(tc, test_charged_head_leaving_raises_an_alarm);
	tcase_add_test(tc, test_pass_timeout_counts_from_the_head);
	tcase_add_test(tc, test_topped_up_after_a_long_wait);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}
