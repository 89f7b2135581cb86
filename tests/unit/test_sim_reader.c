/* test_sim_reader.c: the simulated reader keeps the firmware contract:
 * seq numbers, cumulative ACK, overflow, gap flag, re-report window,
 * watchdog, reboot, write bounds. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "fwi_codec.h"
#include "sim_reader.h"
#include "unit.h"

static struct toll_rng rng;

static struct sim_reader *
new_reader(unsigned cap)
{
	struct sim_reader_params p = {.fifo_capacity = cap, .antenna_count = 2,
				      .boot_ms = 100, .clock_skew_ms = 0};
	toll_rng_seed(&rng, 42);
	return sim_reader_new(&p, &rng, 1000, 1700000000000);
}

static struct sim_tag_view
tag(uint8_t id)
{
	struct sim_tag_view v;
	memset(&v, 0, sizeof(v));
	v.epc_bits = 96;
	v.epc[0] = 0x30;
	v.epc[11] = id;
	v.pc = 0x3000;
	v.rssi_dbm_x10 = -550;
	return v;
}

static uint32_t
reg32(const uint16_t *hr, int addr)
{
	return ((uint32_t)hr[addr] << 16) | hr[addr + 1];
}

static void
ack(struct sim_reader *r, int64_t now, uint32_t seq)
{
	uint16_t w[2];
	fwi_ack_encode(seq, w);
	ck_assert_int_eq(sim_reader_write(r, now, 0, FWI_RD_ACK, 2, w), 0);
}

/* One presence of a tag: in the field for one step, then gone. */
static void
pass_tag(struct sim_reader *r, int64_t *now, uint8_t id)
{
	struct sim_tag_view v = tag(id);
	sim_reader_step(r, *now, 1700000000000 + *now, &v, 1, 0);
	*now += 5;
	sim_reader_step(r, *now, 1700000000000 + *now, NULL, 0, 0);
	*now += 5;
}

START_TEST(test_seq_and_ack)
{
	struct sim_reader *r = new_reader(8);
	uint16_t hr[FWI_READER_HR_COUNT];
	int64_t now = 2000;

	for (uint8_t i = 1; i <= 5; i++)
		pass_tag(r, &now, i);
	sim_reader_regs(r, now, 0, hr);
	ck_assert_uint_eq(hr[FWI_RD_FIFO_COUNT], 5);
	ck_assert_uint_eq(reg32(hr, FWI_RD_HEAD_SEQ), 1);
	ck_assert_uint_eq(reg32(hr, FWI_RD_LAST_SEQ), 5);
	/* the window holds the 3 oldest */
	uint8_t b[FWI_RECORD_BYTES];
	struct fwi_record rec;
	for (int i = 0; i < 3; i++) {
		toll_words_to_bytes(&hr[FWI_RD_WINDOW + 40 * i], 40, b);
		ck_assert_int_eq(fwi_record_decode(b, sizeof(b), &rec), 0);
		ck_assert_uint_eq(rec.seq, (uint32_t)i + 1);
		ck_assert_uint_eq(rec.epc[11], (uint8_t)(i + 1));
	}
	/* cumulative ACK; repeated, stale and future ACKs do nothing */
	ack(r, now, 2);
	ack(r, now, 2);
	ack(r, now, 1);
	ack(r, now, 99);
	sim_reader_regs(r, now, 0, hr);
	ck_assert_uint_eq(hr[FWI_RD_FIFO_COUNT], 3);
	ck_assert_uint_eq(reg32(hr, FWI_RD_HEAD_SEQ), 3);
	ck_assert_uint_eq(reg32(hr, FWI_RD_ACKED_SEQ), 2);
	ack(r, now, 5);
	sim_reader_regs(r, now, 0, hr);
	ck_assert_uint_eq(hr[FWI_RD_FIFO_COUNT], 0);
	ck_assert_uint_eq(reg32(hr, FWI_RD_HEAD_SEQ), 0);
	/* empty window slots are all zero */
	for (int i = 0; i < 120; i++)
		ck_assert_uint_eq(hr[FWI_RD_WINDOW + i], 0);
	sim_reader_free(r);
}
END_TEST

START_TEST(test_overflow_drops_newest)
{
	struct sim_reader *r = new_reader(4);
	uint16_t hr[FWI_READER_HR_COUNT];
	int64_t now = 2000;
	struct fwi_record rec;

	for (uint8_t i = 1; i <= 7; i++)
		pass_tag(r, &now, i);
	sim_reader_regs(r, now, 0, hr);
	ck_assert_uint_eq(hr[FWI_RD_FIFO_COUNT], 4);
	ck_assert_uint_eq(reg32(hr, FWI_RD_DROPPED), 3);
	ck_assert_uint_eq(reg32(hr, FWI_RD_LAST_SEQ), 4); /* dropped reads take no seq */
	ck_assert(hr[FWI_RD_STATUS] & FWI_ST_OVERFLOW);
	ck_assert(hr[FWI_RD_STATUS] & FWI_ST_FIFO_HIGH);
	/* unacknowledged records are never overwritten: 1..4 stay */
	ck_assert_int_eq(sim_reader_record(r, 4, &rec), 0);
	ck_assert_uint_eq(rec.epc[11], 4);
	ack(r, now, 4);
	pass_tag(r, &now, 8);
	ck_assert_int_eq(sim_reader_record(r, 5, &rec), 0);
	ck_assert(rec.flags & FWI_RF_GAP);
	pass_tag(r, &now, 9);
	ck_assert_int_eq(sim_reader_record(r, 6, &rec), 0);
	ck_assert(!(rec.flags & FWI_RF_GAP));
	/* overflow stays latched until cleared */
	sim_reader_regs(r, now, 0, hr);
	ck_assert(hr[FWI_RD_STATUS] & FWI_ST_OVERFLOW);
	uint16_t clr = FWI_ST_OVERFLOW;
	ck_assert_int_eq(sim_reader_write(r, now, 0, FWI_RD_CLEAR_STATUS, 1, &clr), 0);
	sim_reader_regs(r, now, 0, hr);
	ck_assert(!(hr[FWI_RD_STATUS] & FWI_ST_OVERFLOW));
	ck_assert(hr[FWI_RD_STATUS] & FWI_ST_REBOOTED); /* not cleared: not asked */
	sim_reader_free(r);
}
END_TEST

START_TEST(test_rereport_window)
{
	struct sim_reader *r = new_reader(16);
	struct sim_tag_view v = tag(1);
	int64_t now = 2000;

	/* in the field for 2 s: one record */
	for (int i = 0; i < 400; i++, now += 5)
		sim_reader_step(r, now, now, &v, 1, 0);
	ck_assert_uint_eq(sim_reader_last_seq(r), 1);
	/* out for 5 s (< 10 s window), back: no new record */
	sim_reader_step(r, now, now, NULL, 0, 0);
	now += 5000;
	sim_reader_step(r, now, now, &v, 1, 0);
	ck_assert_uint_eq(sim_reader_last_seq(r), 1);
	ck_assert_uint_eq(sim_reader_stats(r)->reads_suppressed, 1);
	/* out for 10 s: reported again */
	sim_reader_step(r, now + 5, now + 5, NULL, 0, 0);
	now += 10010;
	sim_reader_step(r, now, now, &v, 1, 0);
	ck_assert_uint_eq(sim_reader_last_seq(r), 2);
	/* window 0: every return is reported */
	uint16_t w0 = 0;
	ck_assert_int_eq(sim_reader_write(r, now, 0, FWI_RD_REREPORT_S, 1, &w0), 0);
	sim_reader_step(r, now + 5, now + 5, NULL, 0, 0);
	sim_reader_step(r, now + 10, now + 10, &v, 1, 0);
	ck_assert_uint_eq(sim_reader_last_seq(r), 3);
	sim_reader_free(r);
}
END_TEST

START_TEST(test_modes_and_floor)
{
	struct sim_reader *r = new_reader(16);
	struct sim_tag_view v = tag(1);
	uint16_t val;
	int64_t now = 2000;

	/* below the RSSI floor: ignored */
	v.rssi_dbm_x10 = -820;
	sim_reader_step(r, now, now, &v, 1, 0);
	ck_assert_uint_eq(sim_reader_last_seq(r), 0);
	/* 3 dB more transmit power lifts it over */
	val = 330;
	ck_assert_int_eq(sim_reader_write(r, now, 0, FWI_RD_TX_POWER, 1, &val), 0);
	sim_reader_step(r, now + 5, now, &v, 1, 0);
	ck_assert_uint_eq(sim_reader_last_seq(r), 1);
	/* triggered mode reads only with the entry loop occupied */
	val = FWI_MODE_TRIGGERED;
	ck_assert_int_eq(sim_reader_write(r, now, 0, FWI_RD_MODE, 1, &val), 0);
	struct sim_tag_view v2 = tag(2);
	sim_reader_step(r, now + 10, now, &v2, 1, 0);
	ck_assert_uint_eq(sim_reader_last_seq(r), 1);
	sim_reader_step(r, now + 15, now, &v2, 1, 1);
	ck_assert_uint_eq(sim_reader_last_seq(r), 2);
	/* off: nothing */
	val = FWI_MODE_OFF;
	ck_assert_int_eq(sim_reader_write(r, now, 0, FWI_RD_MODE, 1, &val), 0);
	struct sim_tag_view v3 = tag(3);
	sim_reader_step(r, now + 20, now, &v3, 1, 1);
	ck_assert_uint_eq(sim_reader_last_seq(r), 2);
	/* out-of-bounds values are refused whole */
	uint16_t bad[2] = {1, 0x00F0};
	ck_assert_int_eq(sim_reader_write(r, now, 0, FWI_RD_MODE, 2, bad), FWI_EXCEPTION_ILLEGAL_VALUE);
	ck_assert_uint_eq(sim_reader_mode(r), FWI_MODE_OFF);
	val = 7;
	ck_assert_int_eq(sim_reader_write(r, now, 0, FWI_RD_MODE, 1, &val), FWI_EXCEPTION_ILLEGAL_VALUE);
	sim_reader_free(r);
}
END_TEST

START_TEST(test_watchdog_and_reboot)
{
	struct sim_reader *r = new_reader(16);
	uint16_t hr[FWI_READER_HR_COUNT];
	uint16_t val = 200;
	int64_t now = 2000;

	ck_assert_int_eq(sim_reader_write(r, now, 0, FWI_RD_WATCHDOG_TIMEOUT_MS, 1, &val), 0);
	now += 250;
	ck_assert(sim_reader_status(r, now) & FWI_ST_WATCHDOG_EXPIRED);
	/* keeps reading while expired */
	pass_tag(r, &now, 1);
	ck_assert_uint_eq(sim_reader_last_seq(r), 1);
	/* the same value again does not feed it; a new one does */
	val = 0;
	ck_assert_int_eq(sim_reader_write(r, now, 0, FWI_RD_WATCHDOG, 1, &val), 0);
	ck_assert(sim_reader_status(r, now) & FWI_ST_WATCHDOG_EXPIRED);
	val = 1;
	ck_assert_int_eq(sim_reader_write(r, now, 0, FWI_RD_WATCHDOG, 1, &val), 0);
	ck_assert(!(sim_reader_status(r, now) & FWI_ST_WATCHDOG_EXPIRED));

	/* reboot: silent, new boot id, FIFO lost, seq from 1, defaults back */
	uint32_t boot = sim_reader_boot_id(r);
	sim_reader_reboot(r, now);
	ck_assert(!sim_reader_ready(r, now + 50));
	ck_assert(sim_reader_ready(r, now + 100));
	ck_assert_uint_ne(sim_reader_boot_id(r), boot);
	ck_assert_uint_eq(sim_reader_fifo_count(r), 0);
	ck_assert_uint_eq(sim_reader_last_seq(r), 0);
	now += 100;
	sim_reader_regs(r, now, 0, hr);
	ck_assert(hr[FWI_RD_STATUS] & FWI_ST_REBOOTED);
	ck_assert(hr[FWI_RD_STATUS] & FWI_ST_CLOCK_UNSYNCED);
	ck_assert_uint_eq(hr[FWI_RD_WATCHDOG_TIMEOUT_MS], 0);
	ck_assert_uint_eq(hr[FWI_RD_WATCHDOG], 0);
	ack(r, now, 1); /* stale ACK from before: ignored */
	pass_tag(r, &now, 2);
	ck_assert_uint_eq(sim_reader_last_seq(r), 1);
	ck_assert_uint_eq(sim_reader_fifo_count(r), 1);
	sim_reader_free(r);
}
END_TEST

START_TEST(test_clock)
{
	struct sim_reader *r = new_reader(16);
	uint16_t w[4];
	struct fwi_record rec;
	int64_t now = 2000, real = 1700000000000;
	uint64_t set = 1800000000123ull;

	for (int i = 0; i < 4; i++)
		w[i] = (uint16_t)(set >> (48 - 16 * i));
	ck_assert_int_eq(sim_reader_write(r, now, real, FWI_RD_SET_CLOCK, 4, w), 0);
	ck_assert_int_eq(sim_reader_clock_ms(r, real + 10), (int64_t)set + 10);
	ck_assert(!(sim_reader_status(r, now) & FWI_ST_CLOCK_UNSYNCED));
	struct sim_tag_view v = tag(1);
	sim_reader_step(r, now, real + 20, &v, 1, 0);
	ck_assert_int_eq(sim_reader_record(r, 1, &rec), 0);
	ck_assert_uint_eq(rec.first_seen_ms, set + 20);
	ck_assert(rec.flags & FWI_RF_CLOCK_SYNCED);
	sim_reader_free(r);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("sim_reader");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_seq_and_ack);
	tcase_add_test(tc, test_overflow_drops_newest);
	tcase_add_test(tc, test_rereport_window);
	tcase_add_test(tc, test_modes_and_floor);
	tcase_add_test(tc, test_watchdog_and_reboot);
	tcase_add_test(tc, test_clock);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}
