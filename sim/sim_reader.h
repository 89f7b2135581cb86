/* sim_reader.h: the UHF RFID reader (unit 1) as the firmware interface
 * describes it: FIFO of tag-read records with seq numbers, cumulative ACK,
 * overflow that drops the newest read, gap flag, re-report window, host
 * watchdog, boot id and reboot, configuration registers.
 *
 * Pure model: time comes in as arguments (monotonic ms for durations, the
 * reader's own clock for timestamps), nothing here does I/O. */
#ifndef SIM_READER_H
#define SIM_READER_H

#include <stdint.h>

#include "fwi_map.h"
#include "rng.h"

#define SIM_READER_FIFO_MAX 1024
#define SIM_READER_TAGS_MAX 256

struct sim_reader;

struct sim_reader_params {
	unsigned fifo_capacity; /* records, 1..SIM_READER_FIFO_MAX */
	unsigned antenna_count; /* 1..FWI_MAX_ANTENNAS */
	int64_t boot_ms;	/* time a reboot keeps the reader silent */
	int64_t clock_skew_ms;	/* reader clock offset from real time at boot */
};

/* A tag the reader's antennas can see during one step. */
struct sim_tag_view {
	uint8_t epc[FWI_EPC_MAX_BYTES];
	uint16_t epc_bits;
	uint16_t pc;
	uint8_t tid[FWI_TID_BYTES];
	int has_tid;
	int16_t rssi_dbm_x10; /* at the default 30.0 dBm transmit power */
};

/* Counters kept by the simulator (not registers) for status and tests. */
struct sim_reader_stats {
	uint64_t records_made;
	uint64_t records_acked;
	uint64_t reads_dropped;
	uint64_t reads_suppressed; /* re-reads inside the re-report window */
	uint64_t reads_below_floor;
	uint64_t boots;
};

struct sim_reader *sim_reader_new(const struct sim_reader_params *p,
				  struct toll_rng *rng, int64_t now_ms,
				  int64_t real_ms);
void sim_reader_free(struct sim_reader *r);

/* Power cycle: silent for boot_ms, then a new boot id, empty FIFO, seq from
 * 1, default configuration, status bit "rebooted" latched. */
void sim_reader_reboot(struct sim_reader *r, int64_t now_ms);
/* 0 while booting (the reader answers nothing). */
int sim_reader_ready(const struct sim_reader *r, int64_t now_ms);

/* One simulation step: the tags in the field now.  Tags seen in the previous
 * step and absent from this one have left the field.  entry_loop is the
 * lane's entry loop (for triggered mode).  Returns the number of records
 * made. */
int sim_reader_step(struct sim_reader *r, int64_t now_ms, int64_t real_ms,
		    const struct sim_tag_view *tags, unsigned ntags,
		    int entry_loop);

/* Fill the reader's holding registers (FWI_READER_HR_COUNT words). */
void sim_reader_regs(const struct sim_reader *r, int64_t now_ms,
		     int64_t real_ms, uint16_t *hr);

/* Apply a register write the map allows (check with fwi_check_write first).
 * Returns 0, or FWI_EXCEPTION_ILLEGAL_VALUE for a value out of bounds (then
 * nothing is applied). */
int sim_reader_write(struct sim_reader *r, int64_t now_ms, int64_t real_ms,
		     uint16_t addr, uint16_t nb, const uint16_t *vals);

/* Fault injection. */
void sim_reader_set_faults(struct sim_reader *r, uint16_t fault_code,
			   uint16_t antenna_faults, int over_temperature,
			   int fatal);

/* Read access for status output and tests. */
uint32_t sim_reader_boot_id(const struct sim_reader *r);
unsigned sim_reader_fifo_count(const struct sim_reader *r);
uint32_t sim_reader_last_seq(const struct sim_reader *r);
uint32_t sim_reader_acked_seq(const struct sim_reader *r);
uint32_t sim_reader_dropped(const struct sim_reader *r);
uint16_t sim_reader_status(const struct sim_reader *r, int64_t now_ms);
uint16_t sim_reader_mode(const struct sim_reader *r);
const struct sim_reader_stats *sim_reader_stats(const struct sim_reader *r);
/* The reader's clock now (ms since the epoch). */
int64_t sim_reader_clock_ms(const struct sim_reader *r, int64_t real_ms);

struct fwi_record;
/* Decode the record with this seq if it is still in the FIFO. */
int sim_reader_record(const struct sim_reader *r, uint32_t seq,
		      struct fwi_record *out);
uint16_t sim_reader_rereport_s(const struct sim_reader *r);
int sim_reader_clock_synced(const struct sim_reader *r);

#endif
