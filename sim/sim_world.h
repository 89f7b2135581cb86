/* sim_world.h: the simulated plaza: N lanes, each with a reader, an I/O
 * unit and a display, and the vehicles that drive through them.
 *
 * Geometry of a barrier lane, metres along the lane, barrier line at 0:
 *   vehicles appear with their front at -40; the reader's field covers the
 *   windscreen tag (1.5 m behind the front) from -10 to -1, under the
 *   gantry, where the entry (presence) loop covers -9 to -0.5, so a vehicle
 *   whose tag is read is on the loop; a vehicle stops with its front at the stop line
 *   (-0.5) until the barrier is at its open limit; the barrier arm spans
 *   -0.3 to 0.3; the exit loop covers 1 to 2.5 (shorter than the 2 m
 *   following gap, so each vehicle makes its own edge); a vehicle is gone when its
 *   rear passes 15.  A vehicle waits at most max_wait_ms at a closed barrier,
 *   then backs out (diverted to another lane).  In a free-flow plaza nothing
 *   stops.  Vehicles keep 2 m from the one ahead.
 *
 * Everything that happens is written as one event line to the event stream
 * (what the devices saw).  Time comes in as arguments. */
#ifndef SIM_WORLD_H
#define SIM_WORLD_H

#include <stdint.h>
#include <stdio.h>

#include "sim_display.h"
#include "sim_io.h"
#include "sim_reader.h"
#include "sim_scenario.h"

#define SIM_MAX_LANES 64
#define SIM_MAX_VEHICLES 4096
#define SIM_MAX_GHOSTS 256
#define SIM_STEP_MS 5

struct sim_world;

struct sim_world_params {
	unsigned lanes;
	int free_flow;
	/* Roadside time compressed this many times (1..100): vehicles drive
	 * time_scale times faster, the barrier moves and drivers give up
	 * that much sooner.  Devices answer in real time.  For load tests:
	 * 20,000 vehicles an hour through one lane at scale 10 is the
	 * physics of 2,000 an hour, ten times as fast. */
	unsigned time_scale;
	int64_t max_wait_ms;
	struct sim_reader_params reader;
	struct sim_io_params io;
	uint64_t seed; /* boot ids, clock skew */
	FILE *events;  /* NULL: no event lines */
};

struct sim_world_stats {
	uint64_t vehicles_in;
	uint64_t vehicles_passed;
	uint64_t vehicles_diverted;
	uint64_t vehicles_rejected; /* more than SIM_MAX_VEHICLES at once */
	uint64_t opens_attributed;
	uint64_t opens_unattributed;
	uint64_t display_updates;
	/* read-to-open latency of passed vehicles, ms */
	uint64_t latency_count;
	int64_t latency_sum_ms, latency_max_ms;
};

void sim_world_defaults(struct sim_world_params *p);
struct sim_world *sim_world_new(const struct sim_world_params *p,
				int64_t now_ms, int64_t real_ms);
void sim_world_free(struct sim_world *w);

unsigned sim_world_lanes(const struct sim_world *w);

/* Advance the physics to now in SIM_STEP_MS steps. */
void sim_world_advance(struct sim_world *w, int64_t now_ms, int64_t real_ms);

/* Apply a roadside command (vehicle, tag, reboot, offline, faults).
 * Returns 0 or a TOLL_E* code. */
int sim_world_apply(struct sim_world *w, const struct sim_cmd *cmd,
		    int64_t now_ms, int64_t real_ms);

/* Whether a unit (SIM_UNIT_READER, _IO, _DISPLAY) of a lane answers now. */
int sim_world_unit_answers(const struct sim_world *w, unsigned lane,
			   unsigned unit, int64_t now_ms);

struct sim_reader *sim_world_reader(struct sim_world *w, unsigned lane);
struct sim_io *sim_world_io(struct sim_world *w, unsigned lane);
struct sim_display *sim_world_display(struct sim_world *w, unsigned lane);

/* Called by the server after a device write so the event stream shows it.
 * note_coils reports coils that differ from before (NULL: from the coils
 * last reported). */
void sim_world_note_display(struct sim_world *w, unsigned lane);
void sim_world_note_coils(struct sim_world *w, unsigned lane, const uint8_t *before);
void sim_world_note_ack(struct sim_world *w, unsigned lane, uint32_t acked_before);

/* Vehicles still on the road. */
unsigned sim_world_vehicles_active(const struct sim_world *w);
const struct sim_world_stats *sim_world_stats(const struct sim_world *w);

/* Human-readable state of one lane (or all with lane < 0), for ctl status. */
void sim_world_status(struct sim_world *w, int lane, int64_t now_ms,
		      int64_t real_ms, FILE *out);
void sim_world_print_stats(const struct sim_world *w, FILE *out);

/* An event line: "<seconds since start> lane <n> <text>". */
void sim_world_event(struct sim_world *w, int lane, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
