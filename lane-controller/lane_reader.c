/* lane_reader.c: polling the reader FIFO without loss or duplication. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "buf.h"
#include "err.h"
#include "lane_reader.h"

#define INFO_WORDS (FWI_RD_DROPPED + FWI_RD_DROPPED_WORDS) /* 0x0000..0x0031 */
#define CLOCK_RESYNC_MS (10 * 60 * 1000)

struct lane_reader {
	struct lane_link *link;
	struct lane_reader_cfg cfg;
	lane_store_fn store;
	lane_alarm_fn alarm;
	void *ctx;

	int known;	     /* boot_id below is the reader's */
	uint32_t boot_id;
	uint32_t stored_seq; /* highest seq stored in this boot */
	uint32_t dropped;    /* the reader's dropped counter, last seen */
	int configured;
	uint16_t wd_value;
	int64_t wd_next_ms, clock_next_ms;
	uint16_t heartbeat;
	int64_t heartbeat_ms;
	int stalled, was_online;
	uint32_t ack_pending; /* defer_ack: the seq to ACK, 0 none */
	int ack_due;
	struct lane_reader_stats stats;
};

void
lane_reader_cfg_defaults(struct lane_reader_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->unit = FWI_UNIT_READER;
	c->mode = FWI_MODE_CONTINUOUS;
	c->rereport_s = FWI_DEFAULT_REREPORT_S;
	c->rssi_floor = FWI_DEFAULT_RSSI_FLOOR;
	c->tx_power = FWI_DEFAULT_TX_POWER;
	c->watchdog_ms = 2000;
	c->stall_ms = 1000;
}

static void
say(struct lane_reader *r, int prio, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
say(struct lane_reader *r, int prio, const char *fmt, ...)
{
	char text[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (r->alarm != NULL)
		r->alarm(r->ctx, prio, text);
}

int
lane_reader_new(struct lane_link *link, const struct lane_reader_cfg *cfg,
		lane_store_fn store, lane_alarm_fn alarm, void *ctx, struct lane_reader **out)
{
	struct lane_reader *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return TOLL_ENOMEM;
	r->link = link;
	r->cfg = *cfg;
	r->store = store;
	r->alarm = alarm;
	r->ctx = ctx;
	*out = r;
	return 0;
}

void
lane_reader_free(struct lane_reader *r)
{
	free(r);
}

void
lane_reader_resume(struct lane_reader *r, uint32_t boot_id, uint32_t seq)
{
	r->known = 1;
	r->boot_id = boot_id;
	r->stored_seq = seq;
	r->configured = 0; /* apply our configuration again all the same */
}

static uint32_t
u32_at(const uint16_t *w, int i)
{
	return ((uint32_t)w[i] << 16) | w[i + 1];
}

/* Apply the controller's configuration, set the clock, clear latched bits. */
static int
configure(struct lane_reader *r, int64_t real_ms)
{
	uint16_t cfg[9], clk[4];
	int rc;

	cfg[0] = r->cfg.mode;
	cfg[1] = 0xFFFF; /* placeholder, replaced below by the antenna mask */
	for (int i = 0; i < 4; i++)
		cfg[2 + i] = r->cfg.tx_power;
	cfg[6] = (uint16_t)r->cfg.rssi_floor;
	cfg[7] = r->cfg.rereport_s;
	cfg[8] = r->cfg.watchdog_ms;
	/* every antenna the reader has, each at the configured power */
	uint16_t ident[FWI_RD_ANTENNA_COUNT + 1];
	rc = lane_link_read_regs(r->link, r->cfg.unit, 0, FWI_RD_ANTENNA_COUNT + 1, ident);
	if (rc != 0)
		return rc;
	if (ident[FWI_RD_MAGIC] != FWI_READER_MAGIC || ident[FWI_RD_MAP_VERSION] != FWI_MAP_VERSION) {
		say(r, LOG_ERR, "reader answers magic 0x%04x map version %u: not a version %d reader",
		    ident[FWI_RD_MAGIC], ident[FWI_RD_MAP_VERSION], FWI_MAP_VERSION);
		return TOLL_EVERSION;
	}
	unsigned ants = ident[FWI_RD_ANTENNA_COUNT];
	if (ants < 1 || ants > FWI_MAX_ANTENNAS) {
		say(r, LOG_ERR, "reader reports %u antennas", ants);
		return TOLL_ERANGE;
	}
	cfg[1] = (uint16_t)((1u << ants) - 1);
	for (unsigned i = ants; i < 4; i++)
		cfg[2 + i] = 0;
	rc = lane_link_write_regs(r->link, r->cfg.unit, FWI_RD_MODE, 9, cfg);
	if (rc != 0)
		return rc;
	for (int i = 0; i < 4; i++)
		clk[i] = (uint16_t)((uint64_t)real_ms >> (48 - 16 * i));
	rc = lane_link_write_regs(r->link, r->cfg.unit, FWI_RD_SET_CLOCK, 4, clk);
	if (rc != 0)
		return rc;
	rc = lane_link_write_reg(r->link, r->cfg.unit, FWI_RD_CLEAR_STATUS, FWI_ST_LATCHED);
	if (rc != 0)
		return rc;
	r->configured = 1;
	r->stats.configured++;
	return 0;
}

/* Read boot id and counters; notice a reboot. */
static int
check_boot(struct lane_reader *r, int64_t real_ms)
{
	uint16_t w[INFO_WORDS];
	int rc = lane_link_read_regs(r->link, r->cfg.unit, 0, INFO_WORDS, w);
	uint32_t boot, last, dropped;

	if (rc != 0)
		return rc;
	if (w[FWI_RD_MAGIC] != FWI_READER_MAGIC)
		return TOLL_EFORMAT;
	boot = u32_at(w, FWI_RD_BOOT_ID);
	last = u32_at(w, FWI_RD_LAST_SEQ);
	dropped = u32_at(w, FWI_RD_DROPPED);
	if (!r->known || boot != r->boot_id) {
		if (r->known) {
			r->stats.reboots++;
			say(r, LOG_WARNING,
			    "reader rebooted (boot id %08x, was %08x): reads it had not delivered are lost",
			    boot, r->boot_id);
		}
		r->known = 1;
		r->boot_id = boot;
		r->stored_seq = 0;
		r->dropped = 0;
		r->configured = 0;
	} else if (last < r->stored_seq) {
		/* the same boot id with fewer records than we stored: the
		 * reader is not keeping its contract */
		say(r, LOG_ERR, "reader last seq %u below stored seq %u in one boot", last, r->stored_seq);
	}
	if (dropped > r->dropped) {
		r->stats.lost_reads += dropped - r->dropped;
		say(r, LOG_WARNING, "reader FIFO overflow: %u reads dropped", dropped - r->dropped);
		r->dropped = dropped;
	}
	r->stats.boot_id = boot;
	if (!r->configured)
		return configure(r, real_ms);
	return 0;
}

/* Device faults the status word shows, reported when they come and go. */
static void
report_status(struct lane_reader *r, uint16_t status)
{
	static const uint16_t faults = FWI_ST_ANTENNA_FAULT | FWI_ST_OVER_TEMPERATURE |
				       FWI_ST_CONFIG_INVALID | FWI_ST_WATCHDOG_EXPIRED | FWI_ST_FATAL;
	uint16_t changed = (uint16_t)((status ^ r->stats.status) & faults);

	for (size_t i = 0; changed != 0 && i < fwi_reader_status_bit_count; i++) {
		uint16_t bit = (uint16_t)(1u << fwi_reader_status_bits[i].bit);
		if (changed & bit)
			say(r, (status & bit) ? LOG_WARNING : LOG_NOTICE, "reader %s: %s",
			    fwi_reader_status_bits[i].text, (status & bit) ? "on" : "cleared");
	}
}

static int
feed_watchdog(struct lane_reader *r, int64_t now_ms)
{
	if (r->cfg.watchdog_ms == 0 || now_ms < r->wd_next_ms)
		return 0;
	r->wd_next_ms = now_ms + r->cfg.watchdog_ms / 4;
	r->wd_value++;
	return lane_link_write_reg(r->link, r->cfg.unit, FWI_RD_WATCHDOG, r->wd_value);
}

int
lane_reader_poll(struct lane_reader *r, int64_t now_ms, int64_t real_ms)
{
	uint16_t w[FWI_POLL_WORDS];
	uint8_t b[2 * FWI_POLL_WORDS];
	struct fwi_mini_header hdr;
	struct fwi_record recs[FWI_WINDOW_RECORDS];
	int n = 0, rc;
	uint32_t high = 0;

	r->stats.polls++;
	if (!r->known || !r->configured || now_ms >= r->clock_next_ms) {
		rc = check_boot(r, real_ms);
		if (rc != 0)
			goto fail;
		r->clock_next_ms = now_ms + CLOCK_RESYNC_MS;
	}
	rc = lane_link_read_regs(r->link, r->cfg.unit, FWI_POLL_ADDR, FWI_POLL_WORDS, w);
	if (rc != 0)
		goto fail;
	toll_words_to_bytes(w, FWI_POLL_WORDS, b);
	rc = fwi_mini_header_decode(b, 10, &hdr);
	if (rc != 0)
		goto fail;
	if (!r->was_online) {
		r->was_online = 1;
		say(r, LOG_NOTICE, "reader online");
	}
	r->stats.online = 1;
	report_status(r, hdr.status);
	r->stats.status = hdr.status;
	/* a reboot shows first as the latched bit: look at the boot id */
	if (hdr.status & FWI_ST_REBOOTED) {
		rc = check_boot(r, real_ms);
		if (rc != 0)
			goto fail;
		return 0; /* the window belongs to whichever boot; poll again */
	}
	if (hdr.status & FWI_ST_OVERFLOW) {
		/* reads were dropped: count them, then clear the latch */
		rc = check_boot(r, real_ms);
		if (rc == 0)
			rc = lane_link_write_reg(r->link, r->cfg.unit, FWI_RD_CLEAR_STATUS, FWI_ST_OVERFLOW);
		if (rc != 0)
			goto fail;
	}
	if (r->heartbeat_ms == 0 || hdr.heartbeat != r->heartbeat) {
		r->heartbeat = hdr.heartbeat;
		r->heartbeat_ms = now_ms;
		r->stalled = 0;
	} else if (!r->stalled && now_ms - r->heartbeat_ms > r->cfg.stall_ms) {
		r->stalled = 1;
		r->stats.stalls++;
		say(r, LOG_WARNING, "reader heartbeat stalled for %lld ms", (long long)(now_ms - r->heartbeat_ms));
	}

	for (int i = 0; i < FWI_WINDOW_RECORDS; i++) {
		struct fwi_record rec;
		rc = fwi_record_decode(b + 10 + i * FWI_RECORD_BYTES, FWI_RECORD_BYTES, &rec);
		if (rc == TOLL_EEMPTY)
			break;
		if (rc != 0) {
			/* a damaged slot: stop here, nothing after it is ACKed;
			 * the next poll reads it again */
			r->stats.bad_slots++;
			say(r, LOG_WARNING, "reader window slot %d unreadable: %s", i, toll_strerror(rc));
			break;
		}
		if (rec.seq <= r->stored_seq) {
			r->stats.duplicates_skipped++;
			high = rec.seq;
			continue;
		}
		if (rec.seq != r->stored_seq + 1 + (uint32_t)n) {
			uint32_t expect = r->stored_seq + 1 + (uint32_t)n;
			if (rec.seq > expect) {
				r->stats.lost_reads += rec.seq - expect;
				say(r, LOG_WARNING, "reader seq jumped from %u to %u: %u reads lost",
				    expect - 1, rec.seq, rec.seq - expect);
			}
		}
		if (rec.flags & FWI_RF_GAP)
			say(r, LOG_WARNING, "reader record %u follows dropped reads", rec.seq);
		recs[n++] = rec;
		high = rec.seq;
	}
	if (n > 0) {
		rc = r->store(r->ctx, recs, n, r->boot_id);
		if (rc != 0) {
			/* not durable: not ACKed, read again next poll */
			r->stats.store_errors++;
			say(r, LOG_ERR, "could not store %d reads: %s", n, toll_strerror(rc));
			return rc;
		}
		r->stored_seq = recs[n - 1].seq;
		r->stats.records += (uint64_t)n;
		for (int i = 0; i < n; i++)
			if (recs[i].flags & FWI_RF_GAP) {
				/* how many: the reader's dropped counter */
				(void)check_boot(r, real_ms);
				break;
			}
	}
	r->ack_pending = high;
	r->ack_due = 1;
	if (r->cfg.defer_ack)
		return n;
	if (lane_reader_ack(r, now_ms) != 0)
		r->stats.poll_errors++; /* stored, not ACKed: the next poll skips them */
	return n;
fail:
	r->stats.poll_errors++;
	if (r->was_online && rc != TOLL_EEXCEPTION) {
		r->was_online = 0;
		r->stats.online = 0;
		say(r, LOG_WARNING, "reader not answering: %s", toll_strerror(rc));
	}
	return rc;
}

int
lane_reader_ack(struct lane_reader *r, int64_t now_ms)
{
	int rc;

	if (!r->ack_due)
		return 0;
	r->ack_due = 0;
	if (r->ack_pending > 0) {
		uint16_t ack[2];
		fwi_ack_encode(r->ack_pending, ack);
		r->ack_pending = 0;
		rc = lane_link_write_regs(r->link, r->cfg.unit, FWI_RD_ACK, 2, ack);
		if (rc != 0)
			return rc;
	}
	return feed_watchdog(r, now_ms);
}

const struct lane_reader_stats *
lane_reader_stats(const struct lane_reader *r)
{
	return &r->stats;
}
