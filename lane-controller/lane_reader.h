/* lane_reader.h: the lane controller's side of the reader FIFO contract
 * (firmware interface, "Reading without loss or duplication"):
 *
 *   poll the mini-header and window in one read of 125 registers; hand the
 *   new records to the store callback, which makes them durable; only then
 *   ACK the highest stored seq.
 *
 * Records already stored (an ACK lost, or the controller restarted before
 * its ACK) are recognised by (boot id, seq) and never stored twice; a seq
 * jump, the gap flag or a changed boot id mean reads were lost: counted and
 * alarmed.  On every new boot id the controller's configuration is applied
 * again and the reader clock set.  The host watchdog is fed. */
#ifndef LANE_READER_H
#define LANE_READER_H

#include <stdint.h>

#include "fwi_codec.h"
#include "lane_modbus.h"

struct lane_reader;

struct lane_reader_cfg {
	int unit;		/* Modbus unit id, normally FWI_UNIT_READER */
	uint16_t mode;		/* FWI_MODE_* */
	uint16_t rereport_s;
	int16_t rssi_floor;	/* dBm x 10 */
	uint16_t tx_power;	/* dBm x 10, every antenna */
	uint16_t watchdog_ms;	/* reader host watchdog, 0 off */
	int64_t stall_ms;	/* heartbeat unchanged this long while answering: alarm */
	/* 0: lane_reader_poll ACKs as soon as the store callback returns 0.
	 * 1: the store callback only appends; lane_reader_poll leaves the ACK
	 * pending, and the caller makes the records durable (with whatever
	 * else it journals in the same step: one fsync) before lane_reader_ack. */
	int defer_ack;
};

/* Store records durably; return 0 only when they are (then they are ACKed). */
typedef int (*lane_store_fn)(void *ctx, const struct fwi_record *recs, int n, uint32_t boot_id);
/* Alarms and notices for the lane's log and status. */
typedef void (*lane_alarm_fn)(void *ctx, int priority, const char *text);

struct lane_reader_stats {
	uint64_t polls, poll_errors, store_errors, records, duplicates_skipped, lost_reads;
	uint64_t reboots, configured, stalls, bad_slots;
	uint16_t status;
	uint32_t boot_id;
	int online;
};

void lane_reader_cfg_defaults(struct lane_reader_cfg *c);
int lane_reader_new(struct lane_link *link, const struct lane_reader_cfg *cfg,
		    lane_store_fn store, lane_alarm_fn alarm, void *ctx,
		    struct lane_reader **out);
void lane_reader_free(struct lane_reader *r);

/* What the journal says was stored last (after a restart). */
void lane_reader_resume(struct lane_reader *r, uint32_t boot_id, uint32_t seq);

/* One poll.  Returns the number of new records stored (>= 0) or a negative
 * code (link or store failure: nothing was ACKed). */
int lane_reader_poll(struct lane_reader *r, int64_t now_ms, int64_t real_ms);
/* With defer_ack: the records of the last poll are durable now; ACK them
 * and feed the watchdog.  0, or a link error (the next poll sees the
 * records again and skips them).  Without a pending ACK: 0, no I/O. */
int lane_reader_ack(struct lane_reader *r, int64_t now_ms);

const struct lane_reader_stats *lane_reader_stats(const struct lane_reader *r);

#endif
