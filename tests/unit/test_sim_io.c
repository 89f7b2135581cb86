/* test_sim_io.c: the simulated I/O unit: barrier travel and limits, the
 * safety loop, interlocked lights, the host watchdog, the vehicle counter,
 * and the display's update seq. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "sim_display.h"
#include "sim_io.h"
#include "unit.h"

static struct sim_io *
new_io(void)
{
	struct sim_io_params p = {.barrier_open_ms = 700, .barrier_close_ms = 900};
	return sim_io_new(&p, 0);
}

static void
run(struct sim_io *io, int64_t *now, int64_t ms, int entry, int exit_loop, int obstructed)
{
	for (int64_t t = 0; t < ms; t += 5) {
		*now += 5;
		sim_io_step(io, *now, entry, exit_loop, obstructed);
	}
}

START_TEST(test_barrier_travel)
{
	struct sim_io *io = new_io();
	uint8_t on = 1, off = 0;
	int64_t now = 0;

	ck_assert(sim_io_barrier_closed(io));
	sim_io_write_coils(io, now, FWI_CO_BARRIER, 1, &on);
	run(io, &now, 300, 0, 0, 0);
	ck_assert(!sim_io_barrier_closed(io) && !sim_io_barrier_open(io));
	run(io, &now, 500, 0, 0, 0);
	ck_assert(sim_io_barrier_open(io));
	/* close, but a vehicle under the arm holds it open */
	sim_io_write_coils(io, now, FWI_CO_BARRIER, 1, &off);
	run(io, &now, 2000, 0, 0, 1);
	ck_assert(sim_io_barrier_open(io));
	run(io, &now, 1000, 0, 0, 0);
	ck_assert(sim_io_barrier_closed(io));
	/* a barrier fault stops it where it is */
	sim_io_set_fault(io, SIM_IO_FAULT_BARRIER, 1);
	sim_io_write_coils(io, now, FWI_CO_BARRIER, 1, &on);
	run(io, &now, 1000, 0, 0, 0);
	ck_assert(sim_io_barrier_closed(io));
	uint8_t di[FWI_IO_INPUT_COUNT];
	sim_io_inputs(io, now, di);
	ck_assert_uint_eq(di[FWI_DI_BARRIER_FAULT], 1);
	sim_io_free(io);
}
END_TEST

START_TEST(test_lights_interlock)
{
	struct sim_io *io = new_io();
	uint8_t both[4] = {0, 0, 1, 1}, on = 1;
	uint8_t co[FWI_IO_COIL_COUNT], di[FWI_IO_INPUT_COUNT];

	sim_io_write_coils(io, 0, 0, 4, both);
	sim_io_coils(io, co);
	ck_assert_uint_eq(co[FWI_CO_RED], 1);
	ck_assert_uint_eq(co[FWI_CO_GREEN], 0);
	sim_io_write_coils(io, 0, FWI_CO_GREEN, 1, &on);
	sim_io_coils(io, co);
	ck_assert_uint_eq(co[FWI_CO_RED], 0);
	ck_assert_uint_eq(co[FWI_CO_GREEN], 1);
	sim_io_inputs(io, 0, di);
	ck_assert_uint_eq(di[FWI_DI_GREEN_LAMP], 1);
	/* a blown lamp draws no current */
	sim_io_set_fault(io, SIM_IO_FAULT_GREEN_LAMP, 1);
	sim_io_inputs(io, 0, di);
	ck_assert_uint_eq(di[FWI_DI_GREEN_LAMP], 0);
	sim_io_free(io);
}
END_TEST

START_TEST(test_watchdog)
{
	struct sim_io *io = new_io();
	uint16_t v = 200;
	uint8_t on = 1, co[FWI_IO_COIL_COUNT];
	int64_t now = 0;

	sim_io_write_regs(io, now, FWI_IOH_WATCHDOG_TIMEOUT_MS, 1, &v);
	sim_io_write_coils(io, now, FWI_CO_BARRIER, 1, &on);
	sim_io_write_coils(io, now, FWI_CO_GREEN, 1, &on);
	run(io, &now, 250, 0, 0, 0);
	ck_assert(sim_io_watchdog_expired(io));
	sim_io_coils(io, co);
	ck_assert_uint_eq(co[FWI_CO_BARRIER], 0);
	ck_assert_uint_eq(co[FWI_CO_RED], 1);
	ck_assert_uint_eq(co[FWI_CO_GREEN], 0);
	sim_io_write_coils(io, now, FWI_CO_BARRIER, 1, &on);
	ck_assert_int_eq(sim_io_barrier_coil(io), 0);
	/* the same value does not feed; a new value does */
	v = 0;
	sim_io_write_regs(io, now, FWI_IOH_WATCHDOG, 1, &v);
	ck_assert(sim_io_watchdog_expired(io));
	v = 1;
	sim_io_write_regs(io, now, FWI_IOH_WATCHDOG, 1, &v);
	ck_assert(!sim_io_watchdog_expired(io));
	sim_io_write_coils(io, now, FWI_CO_BARRIER, 1, &on);
	ck_assert_int_eq(sim_io_barrier_coil(io), 1);
	sim_io_free(io);
}
END_TEST

START_TEST(test_counter_and_loop_faults)
{
	struct sim_io *io = new_io();
	int64_t now = 0;
	uint8_t di[FWI_IO_INPUT_COUNT];

	for (int i = 0; i < 3; i++) {
		run(io, &now, 100, 0, 1, 0);
		run(io, &now, 100, 0, 0, 0);
	}
	ck_assert_uint_eq(sim_io_vehicle_count(io), 3);
	sim_io_set_fault(io, SIM_IO_FAULT_ENTRY_LOOP, 1);
	run(io, &now, 10, 1, 0, 0);
	sim_io_inputs(io, now, di);
	ck_assert_uint_eq(di[FWI_DI_ENTRY_LOOP], 0);
	ck_assert_uint_eq(di[FWI_DI_ENTRY_LOOP_FAULT], 1);
	sim_io_free(io);
}
END_TEST

START_TEST(test_display_update_seq)
{
	struct sim_display d;
	uint16_t content[11] = {0, 35000, 0xFFFF, 0xFFF6, 2, 0x3531, 0x4100, 0, 0, 0, 0};
	uint16_t seq = 1;

	sim_display_init(&d);
	ck_assert_int_eq(sim_display_write(&d, 0, 11, content), 0);
	ck_assert_uint_eq(d.shown.fee_vnd, 0); /* not shown before the seq */
	ck_assert_int_eq(sim_display_write(&d, FWI_DSP_UPDATE_SEQ, 1, &seq), 1);
	ck_assert_uint_eq(d.shown.fee_vnd, 35000);
	ck_assert_int_eq(d.shown.balance_vnd, -10);
	ck_assert_uint_eq(d.shown.message, 2);
	ck_assert_str_eq(d.shown.plate, "51A");
	/* the same seq again shows nothing new */
	ck_assert_int_eq(sim_display_write(&d, FWI_DSP_UPDATE_SEQ, 1, &seq), 0);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("sim_io");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_barrier_travel);
	tcase_add_test(tc, test_lights_interlock);
	tcase_add_test(tc, test_watchdog);
	tcase_add_test(tc, test_counter_and_loop_faults);
	tcase_add_test(tc, test_display_update_seq);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}
