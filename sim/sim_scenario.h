/* sim_scenario.h: what happens at the roadside, as commands.
 *
 * One line syntax serves the scenario file (each line starts with its time,
 * ms from the start) and the live control channel (no time):
 *
 *   vehicle lane=N epc=HEX [tid=HEX] [class=1..5] [speed=KMH] [rssi=DBMx10]
 *           [plate=TEXT] [notag] [unreadable] [neighbour[=LANE]] [repeat=N]
 *   tag lane=N epc=HEX [tid=HEX] [rssi=DBMx10] [ms=DURATION]
 *   reboot lane=N
 *   offline lane=N unit=reader|io|display|all ms=DURATION   (0: back now)
 *   io-fault lane=N what=entry-loop|exit-loop|barrier|red-lamp|green-lamp on|off
 *   reader-fault lane=N [code=N] [antennas=MASK] [overtemp] [fatal]
 *
 * and, on the control channel only: status [lane=N], stats,
 * wait-idle [ms=TIMEOUT], quit.
 *
 * A scenario file starts with the line "toll-sim-scenario 1"; "seed N" and
 * "lanes N" lines record how it was made; '#' starts a comment. */
#ifndef SIM_SCENARIO_H
#define SIM_SCENARIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fwi_map.h"
#include "rng.h"

#define SIM_SCENARIO_VERSION 1
#define SIM_SCENARIO_MAX_CMDS 5000000
#define SIM_LINE_MAX 512

enum sim_cmd_kind {
	SIM_CMD_VEHICLE,
	SIM_CMD_TAG,
	SIM_CMD_REBOOT,
	SIM_CMD_OFFLINE,
	SIM_CMD_IO_FAULT,
	SIM_CMD_READER_FAULT,
	/* control channel only */
	SIM_CMD_STATUS,
	SIM_CMD_STATS,
	SIM_CMD_WAIT_IDLE,
	SIM_CMD_QUIT
};

enum sim_unit { SIM_UNIT_READER = 1, SIM_UNIT_IO = 2, SIM_UNIT_DISPLAY = 4, SIM_UNIT_ALL = 7 };

struct sim_vehicle_spec {
	uint8_t epc[FWI_EPC_MAX_BYTES];
	uint16_t epc_bits; /* 0: the vehicle has no tag */
	uint8_t tid[FWI_TID_BYTES];
	int has_tid;
	int unreadable;	   /* a tag the reader cannot read */
	unsigned vclass;   /* 1..5 */
	unsigned speed_kmh;
	int16_t rssi_dbm_x10;
	int neighbour;	   /* lane that also reads the tag, or -1 */
	unsigned repeat;   /* times the reader reports the tag in all (1 normal) */
	char plate[FWI_PLATE_CHARS + 1];
};

struct sim_cmd {
	enum sim_cmd_kind kind;
	int64_t at_ms; /* scenario only */
	int lane;      /* -1: not given */
	struct sim_vehicle_spec v; /* vehicle, tag */
	int64_t ms;		   /* tag, offline, wait-idle */
	unsigned units;		   /* offline: SIM_UNIT_* mask */
	int io_fault;		   /* enum sim_io_fault */
	int on;
	uint16_t fault_code, antenna_faults;
	int overtemp, fatal;
};

/* Parse one line.  with_time: the line starts with its time in ms.
 * Returns 0, or TOLL_EFORMAT with a message in err.  Lanes are checked
 * against nlanes. */
int sim_cmd_parse(const char *line, int with_time, unsigned nlanes,
		  struct sim_cmd *cmd, char *err, size_t errlen);

/* Format a command as a scenario line (with its time), newline included. */
int sim_cmd_format(const struct sim_cmd *cmd, char *out, size_t outlen);

struct sim_scenario {
	struct sim_cmd *cmds; /* sorted by at_ms, file order kept for ties */
	size_t n, cap;
	uint64_t seed;
	int has_seed;
};

void sim_scenario_init(struct sim_scenario *s);
void sim_scenario_clear(struct sim_scenario *s);
int sim_scenario_add(struct sim_scenario *s, const struct sim_cmd *cmd);
/* Load a scenario file; errors name the file and line. */
int sim_scenario_load(struct sim_scenario *s, FILE *f, const char *name,
		      unsigned nlanes, char *err, size_t errlen);
int sim_scenario_write(const struct sim_scenario *s, FILE *f, unsigned nlanes);

struct sim_gen_params {
	unsigned lanes;
	int64_t duration_ms;
	unsigned rate_vph;	 /* vehicles an hour per lane */
	uint32_t notag_ppm;	 /* per million vehicles */
	uint32_t unreadable_ppm;
	uint32_t neighbour_ppm;
	uint32_t repeat_ppm;
	/* Optional tag population: vehicles draw their tags from it. */
	const struct sim_vehicle_spec *tags;
	size_t ntags;
};

void sim_gen_defaults(struct sim_gen_params *p);
/* Seeded, deterministic: the same seed and parameters give the same file. */
int sim_scenario_generate(struct sim_scenario *s, uint64_t seed,
			  const struct sim_gen_params *p);

/* Tag population file: lines "EPC [TID [CLASS [PLATE]]]" ('-' for none). */
int sim_tags_load(FILE *f, const char *name, struct sim_vehicle_spec **tags,
		  size_t *ntags, char *err, size_t errlen);

/* Hex helpers: parse into out (at most max bytes), bits = 4 * digits. */
int sim_hex_parse(const char *hex, uint8_t *out, size_t max, uint16_t *bits);
void sim_hex_format(const uint8_t *in, size_t nbytes, char *out);

#endif
