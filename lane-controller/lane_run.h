/* lane_run.h: one lane at work: its thread polls the reader and the I/O
 * unit, journals every read before the ACK, runs the lane state machine,
 * signs and journals every transaction and makes it durable before the
 * barrier opens, and drives barrier, lights and display.  A slow or dead
 * device stalls only its own lane, and only for its timeout.
 *
 * Journal record types: LANE_REC_READ (boot id + the reader's 80-byte
 * record, as read), LANE_REC_TXN (a signed transaction, txn.h encoding). */
#ifndef LANE_RUN_H
#define LANE_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "crypto.h"
#include "lane_decide.h"
#include "lane_logic.h"
#include "lane_modbus.h"
#include "lane_reader.h"
#include "lane_uplink.h"

#define LANE_REC_READ 1
#define LANE_REC_TXN 2

struct lane_run_cfg {
	unsigned lane_id;
	uint32_t station_id;
	int16_t utc_offset_min;
	char reader_ep[LANE_ENDPOINT_MAX], io_ep[LANE_ENDPOINT_MAX], display_ep[LANE_ENDPOINT_MAX];
	int reader_unit, io_unit, display_unit;
	int timeout_ms;
	int poll_ms;
	uint16_t io_watchdog_ms;
	char journal_dir[512];
	uint64_t journal_max_bytes;
	struct lane_reader_cfg reader;
	struct lane_logic_params logic;
	struct lane_uplink_cfg uplink; /* url "": no uplink (journal only) */
};

/* Processing time of a decision, the lane's own work without waiting on
 * devices: journaling the read, then deciding, signing, journaling and
 * syncing the transaction, up to the barrier command going out (or, when
 * the vehicle is not at the barrier yet, the sync).  A read held until its
 * vehicle reaches the loop counts from the I/O poll that shows it there;
 * the wait for the plaza's vote (lane_plaza_vote_closed) is not counted.
 * Buckets of LANE_PROC_BUCKET_US; the last one holds everything longer. */
#define LANE_PROC_BUCKET_US 20
#define LANE_PROC_BUCKETS 1000

struct lane_proc_hist {
	uint64_t n, max_us;
	uint32_t bucket[LANE_PROC_BUCKETS];
};

/* Merge b into a; the value (µs, bucket upper bound) at quantile q in 0..1. */
void lane_proc_hist_merge(struct lane_proc_hist *a, const struct lane_proc_hist *b);
int64_t lane_proc_hist_quantile(const struct lane_proc_hist *h, double q);

struct lane_run_status {
	unsigned lane_id;
	enum lane_state state;
	unsigned queue;
	int reader_online, io_online;
	uint64_t last_seq;	  /* transactions */
	uint64_t journal_seq, journal_acked;
	uint64_t journal_bytes;
	int journal_warn;
	struct lane_reader_stats reader;
	struct lane_logic_stats logic;
	uint64_t io_errors, display_errors, record_errors;
	int closed;		  /* the lane closed itself (journal failure) */
	int uplink_on;
	struct lane_uplink_stats uplink;
	struct lane_proc_hist proc;
};

struct lane_run;

void lane_run_cfg_defaults(struct lane_run_cfg *c);
int lane_run_new(const struct lane_run_cfg *cfg, struct lane_context *ctx,
		 struct toll_signer *signer, struct lane_run **out);
int lane_run_start(struct lane_run *r);
/* Ask the thread to stop after its current step, and join it. */
void lane_run_stop(struct lane_run *r);
void lane_run_free(struct lane_run *r);
void lane_run_status(struct lane_run *r, struct lane_run_status *st);

#endif
