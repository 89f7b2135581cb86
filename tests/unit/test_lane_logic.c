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
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 1);
	ck_assert_int_eq(count(n, LANE_ACT_BARRIER), 0);
	ck_assert_uint_eq(lane_logic_queue_len(l), 2);
	step(l, 1, 1, 1500);
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
	ck_assert_int_eq(count(n, LANE_ACT_RECORD), 1);
	ck_assert_int_eq(find(n, LANE_ACT_RECORD)->d.outcome, TOLL_OUT_NO_TAG);
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
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}
