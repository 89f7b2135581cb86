/* sim_io.c: the I/O unit model of sim_io.h. */
#include <stdlib.h>
#include <string.h>

#include "sim_io.h"

struct sim_io {
	struct sim_io_params p;
	uint8_t coils[FWI_IO_COIL_COUNT];
	int faults[SIM_IO_FAULT_COUNT];

	/* barrier position: 0 closed limit .. 1000 open limit */
	int position;
	int64_t last_step_ms;

	int entry, exit_loop;
	uint32_t vehicle_count;

	uint16_t wd_timeout_ms, wd_value;
	int64_t wd_fed_ms;
	int wd_expired; /* stays set until the host writes a new value */

	int64_t open_cmd_ms;
};

struct sim_io *
sim_io_new(const struct sim_io_params *p, int64_t now_ms)
{
	struct sim_io *io = calloc(1, sizeof(*io));

	if (io == NULL)
		return NULL;
	io->p = *p;
	if (io->p.barrier_open_ms < 1)
		io->p.barrier_open_ms = 1;
	if (io->p.barrier_close_ms < 1)
		io->p.barrier_close_ms = 1;
	io->last_step_ms = now_ms;
	io->wd_fed_ms = now_ms;
	io->open_cmd_ms = -1;
	return io;
}

void
sim_io_free(struct sim_io *io)
{
	free(io);
}

static void
watchdog_trip(struct sim_io *io)
{
	io->wd_expired = 1;
	io->coils[FWI_CO_RED] = 1;
	io->coils[FWI_CO_GREEN] = 0;
	io->coils[FWI_CO_BARRIER] = 0;
}

void
sim_io_step(struct sim_io *io, int64_t now_ms, int entry_occupied,
	    int exit_occupied, int obstructed)
{
	int64_t dt = now_ms - io->last_step_ms;

	io->last_step_ms = now_ms;
	if (dt < 0)
		dt = 0;

	if (!io->wd_expired && io->wd_timeout_ms != 0 &&
	    now_ms - io->wd_fed_ms > io->wd_timeout_ms)
		watchdog_trip(io);

	/* The safety loop holds (or reopens) the barrier over a vehicle. */
	int want_open = io->coils[FWI_CO_BARRIER] || obstructed;
	if (!io->faults[SIM_IO_FAULT_BARRIER]) {
		if (want_open && io->position < 1000) {
			io->position += (int)(dt * 1000 / io->p.barrier_open_ms);
			if (io->position > 1000)
				io->position = 1000;
		} else if (!want_open && io->position > 0) {
			io->position -= (int)(dt * 1000 / io->p.barrier_close_ms);
			if (io->position < 0)
				io->position = 0;
		}
	}

	entry_occupied = entry_occupied && !io->faults[SIM_IO_FAULT_ENTRY_LOOP];
	exit_occupied = exit_occupied && !io->faults[SIM_IO_FAULT_EXIT_LOOP];
	if (exit_occupied && !io->exit_loop)
		io->vehicle_count++;
	io->entry = entry_occupied;
	io->exit_loop = exit_occupied;
}

void
sim_io_inputs(const struct sim_io *io, int64_t now_ms, uint8_t di[FWI_IO_INPUT_COUNT])
{
	(void)now_ms;
	memset(di, 0, FWI_IO_INPUT_COUNT);
	di[FWI_DI_ENTRY_LOOP] = (uint8_t)io->entry;
	di[FWI_DI_ENTRY_LOOP_FAULT] = (uint8_t)io->faults[SIM_IO_FAULT_ENTRY_LOOP];
	di[FWI_DI_EXIT_LOOP] = (uint8_t)io->exit_loop;
	di[FWI_DI_EXIT_LOOP_FAULT] = (uint8_t)io->faults[SIM_IO_FAULT_EXIT_LOOP];
	di[FWI_DI_BARRIER_OPEN] = io->position == 1000;
	di[FWI_DI_BARRIER_CLOSED] = io->position == 0;
	di[FWI_DI_BARRIER_FAULT] = (uint8_t)io->faults[SIM_IO_FAULT_BARRIER];
	di[FWI_DI_RED_LAMP] = io->coils[FWI_CO_RED] && !io->faults[SIM_IO_FAULT_RED_LAMP];
	di[FWI_DI_GREEN_LAMP] = io->coils[FWI_CO_GREEN] && !io->faults[SIM_IO_FAULT_GREEN_LAMP];
	di[FWI_DI_WATCHDOG_EXPIRED] = (uint8_t)io->wd_expired;
}

void
sim_io_coils(const struct sim_io *io, uint8_t co[FWI_IO_COIL_COUNT])
{
	memcpy(co, io->coils, FWI_IO_COIL_COUNT);
}

void
sim_io_input_regs(const struct sim_io *io, uint16_t ir[FWI_IO_IR_COUNT])
{
	ir[FWI_IR_VEHICLE_COUNT] = (uint16_t)(io->vehicle_count >> 16);
	ir[FWI_IR_VEHICLE_COUNT + 1] = (uint16_t)io->vehicle_count;
}

void
sim_io_holding_regs(const struct sim_io *io, uint16_t hr[FWI_IO_HR_COUNT])
{
	memset(hr, 0, FWI_IO_HR_COUNT * sizeof(*hr));
	hr[FWI_IOH_WATCHDOG_TIMEOUT_MS] = io->wd_timeout_ms;
	hr[FWI_IOH_WATCHDOG] = io->wd_value;
}

void
sim_io_write_coils(struct sim_io *io, int64_t now_ms, uint16_t addr,
		   uint16_t nb, const uint8_t *bits)
{
	int set_red = 0;

	for (uint16_t i = 0; i < nb; i++) {
		uint16_t c = (uint16_t)(addr + i);
		uint8_t v = bits[i] ? 1 : 0;

		if (c >= FWI_IO_COIL_COUNT || c == FWI_CO_RESERVED1)
			continue; /* refused by the caller before we get here */
		if (c == FWI_CO_BARRIER) {
			if (io->wd_expired)
				continue; /* accepted without effect */
			if (v) /* also a repeat: the lane opens for the next vehicle */
				io->open_cmd_ms = now_ms;
		}
		io->coils[c] = v;
		if (c == FWI_CO_RED && v) {
			io->coils[FWI_CO_GREEN] = 0;
			set_red = 1;
		} else if (c == FWI_CO_GREEN && v) {
			io->coils[FWI_CO_RED] = 0;
		}
	}
	/* One FC15 that sets both: red wins. */
	if (set_red) {
		io->coils[FWI_CO_RED] = 1;
		io->coils[FWI_CO_GREEN] = 0;
	}
}

void
sim_io_write_regs(struct sim_io *io, int64_t now_ms, uint16_t addr,
		  uint16_t nb, const uint16_t *vals)
{
	for (uint16_t i = 0; i < nb; i++) {
		uint16_t a = (uint16_t)(addr + i), v = vals[i];

		if (a == FWI_IOH_WATCHDOG_TIMEOUT_MS) {
			io->wd_timeout_ms = v;
			io->wd_fed_ms = now_ms;
		} else if (a == FWI_IOH_WATCHDOG) {
			if (v != io->wd_value) {
				io->wd_fed_ms = now_ms;
				io->wd_expired = 0;
			}
			io->wd_value = v;
		}
	}
}

void
sim_io_set_fault(struct sim_io *io, enum sim_io_fault f, int on)
{
	if (f < SIM_IO_FAULT_COUNT)
		io->faults[f] = on ? 1 : 0;
}

int sim_io_barrier_coil(const struct sim_io *io) { return io->coils[FWI_CO_BARRIER]; }
int sim_io_barrier_open(const struct sim_io *io) { return io->position == 1000; }
int sim_io_barrier_closed(const struct sim_io *io) { return io->position == 0; }
int sim_io_watchdog_expired(const struct sim_io *io) { return io->wd_expired; }
uint32_t sim_io_vehicle_count(const struct sim_io *io) { return io->vehicle_count; }

int
sim_io_coil(const struct sim_io *io, unsigned coil)
{
	return coil < FWI_IO_COIL_COUNT ? io->coils[coil] : 0;
}

int64_t
sim_io_take_open_command(struct sim_io *io)
{
	int64_t t = io->open_cmd_ms;
	io->open_cmd_ms = -1;
	return t;
}
