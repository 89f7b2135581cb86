/* sim_io.h: the roadside I/O unit (unit 2): entry and exit loops, barrier
 * with limit switches that take real time to move, lane lights with lamp
 * current feedback, lane-closed sign, buzzer, vehicle counter and the host
 * watchdog.  Pure model: time comes in as arguments. */
#ifndef SIM_IO_H
#define SIM_IO_H

#include <stdint.h>

#include "fwi_map.h"

struct sim_io;

struct sim_io_params {
	int64_t barrier_open_ms;  /* closed limit to open limit */
	int64_t barrier_close_ms; /* open limit to closed limit */
};

/* Faults injected from the scenario or the control channel. */
enum sim_io_fault {
	SIM_IO_FAULT_ENTRY_LOOP,
	SIM_IO_FAULT_EXIT_LOOP,
	SIM_IO_FAULT_BARRIER,
	SIM_IO_FAULT_RED_LAMP,
	SIM_IO_FAULT_GREEN_LAMP,
	SIM_IO_FAULT_COUNT
};

struct sim_io *sim_io_new(const struct sim_io_params *p, int64_t now_ms);
void sim_io_free(struct sim_io *io);

/* One step: loop occupancy from the traffic model and whether a vehicle is
 * under the barrier (the safety loop wired to the barrier: it never closes
 * on a vehicle).  Moves the barrier, counts exit-loop rising edges, runs the
 * watchdog. */
void sim_io_step(struct sim_io *io, int64_t now_ms, int entry_occupied,
		 int exit_occupied, int obstructed);

/* Register images for modbus_reply. */
void sim_io_inputs(const struct sim_io *io, int64_t now_ms,
		   uint8_t di[FWI_IO_INPUT_COUNT]);
void sim_io_coils(const struct sim_io *io, uint8_t co[FWI_IO_COIL_COUNT]);
void sim_io_input_regs(const struct sim_io *io, uint16_t ir[FWI_IO_IR_COUNT]);
void sim_io_holding_regs(const struct sim_io *io, uint16_t hr[FWI_IO_HR_COUNT]);

/* Writes the map allows (coil 1 and reserved registers are refused by the
 * caller).  Coils are levels; red and green are interlocked (red wins when
 * one write sets both); while the watchdog has expired the barrier coil
 * accepts writes without effect. */
void sim_io_write_coils(struct sim_io *io, int64_t now_ms, uint16_t addr,
			uint16_t nb, const uint8_t *bits);
void sim_io_write_regs(struct sim_io *io, int64_t now_ms, uint16_t addr,
		       uint16_t nb, const uint16_t *vals);

void sim_io_set_fault(struct sim_io *io, enum sim_io_fault f, int on);

/* State for status output, events and the traffic model. */
int sim_io_barrier_coil(const struct sim_io *io);
int sim_io_barrier_open(const struct sim_io *io);   /* at the open limit */
int sim_io_barrier_closed(const struct sim_io *io); /* at the closed limit */
int sim_io_watchdog_expired(const struct sim_io *io);
int sim_io_coil(const struct sim_io *io, unsigned coil);
uint32_t sim_io_vehicle_count(const struct sim_io *io);
/* Monotonic time of the last write that set the barrier coil from 0 to 1,
 * or -1; cleared by sim_io_take_open_command. */
int64_t sim_io_take_open_command(struct sim_io *io);

#endif
