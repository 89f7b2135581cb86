/* lane_run.c: the lane thread of lane_run.h. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "journal.h"
#include "lane_run.h"
#include "log.h"
#include "txn.h"

#define READS_MAX 16
#define VOTING_MAX 64 /* reads waiting out the plaza's vote window */

struct lane_run {
	struct lane_run_cfg cfg;
	struct lane_context *ctx;
	struct toll_signer *signer;
	struct lane_decider decider;

	struct lane_link *reader_link, *io_link, *display_link;
	int io_shares_reader, display_shares_reader, display_shares_io;
	struct lane_reader *reader;
	struct lane_logic *logic;
	struct toll_journal *journal;

	/* the transaction chain */
	uint64_t lane_seq;
	uint8_t prev_hash[32];

	int dirty; /* appended to the journal since the last sync */
	struct lane_uplink *uplink;
	int64_t cursor_next_ms; /* when the journal cursor may move again */

	/* reads stored this poll, for the logic */
	struct lane_read reads[READS_MAX];
	int nreads;
	/* reads reported to the plaza, waiting out the vote window, oldest
	 * first */
	struct lane_read voting[VOTING_MAX];
	int nvoting;
	int entry; /* the entry loop at the last I/O poll */

	/* I/O unit */
	uint16_t io_wd_value;
	int64_t io_wd_next_ms;
	int io_configured, io_online;
	uint16_t display_seq;
	int closed;

	pthread_t thread;
	int running;
	volatile int stop;
	pthread_mutex_t mu; /* status */
	struct lane_run_status status;
	struct lane_proc_hist proc; /* the thread's own, copied into status */
};

void
lane_proc_hist_merge(struct lane_proc_hist *a, const struct lane_proc_hist *b)
{
	a->n += b->n;
	if (b->max_us > a->max_us)
		a->max_us = b->max_us;
	for (int i = 0; i < LANE_PROC_BUCKETS; i++)
		a->bucket[i] += b->bucket[i];
}

int64_t
lane_proc_hist_quantile(const struct lane_proc_hist *h, double q)
{
	if (h->n == 0)
		return -1;
	uint64_t rank = (uint64_t)(q * (double)h->n + 0.999999);
	uint64_t seen = 0;
	if (rank < 1)
		rank = 1;
	for (int i = 0; i < LANE_PROC_BUCKETS - 1; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			int64_t up = (int64_t)(i + 1) * LANE_PROC_BUCKET_US;
			return up < (int64_t)h->max_us ? up : (int64_t)h->max_us;
		}
	}
	return (int64_t)h->max_us;
}

static void
proc_sample(struct lane_run *r, int64_t us)
{
	if (us < 0)
		us = 0;
	int64_t b = us / LANE_PROC_BUCKET_US;
	r->proc.bucket[b < LANE_PROC_BUCKETS ? b : LANE_PROC_BUCKETS - 1]++;
	r->proc.n++;
	if ((uint64_t)us > r->proc.max_us)
		r->proc.max_us = (uint64_t)us;
}

void
lane_run_cfg_defaults(struct lane_run_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->utc_offset_min = 420;
	c->reader_unit = FWI_UNIT_READER;
	c->io_unit = FWI_UNIT_IO;
	c->display_unit = FWI_UNIT_DISPLAY;
	c->timeout_ms = 50;
	c->poll_ms = 10;
	c->io_watchdog_ms = 2000;
	c->journal_max_bytes = 1ull << 30;
	lane_reader_cfg_defaults(&c->reader);
	lane_logic_defaults(&c->logic);
	lane_uplink_cfg_defaults(&c->uplink);
}

static void
lane_alarm(void *arg, int prio, const char *text)
{
	struct lane_run *r = arg;
	toll_log(prio, "lane %u: %s", r->cfg.lane_id, text);
}

/* The reader's records: journaled and synced before the reader is ACKed. */
static int
store_reads(void *arg, const struct fwi_record *recs, int n, uint32_t boot_id)
{
	struct lane_run *r = arg;
	int64_t now_us = toll_mono_us();
	int64_t now = now_us / 1000;

	for (int i = 0; i < n; i++) {
		uint8_t payload[4 + FWI_RECORD_BYTES];
		struct toll_wr wr;
		uint64_t seq;
		int rc;

		toll_wr_init(&wr, payload, sizeof(payload));
		toll_wr_u32(&wr, boot_id);
		rc = fwi_record_encode(&recs[i], payload + 4);
		if (rc != 0)
			return rc;
		rc = toll_journal_append(r->journal, LANE_REC_READ, payload, sizeof(payload), &seq);
		if (rc != 0)
			return rc;
	}
	/* durable with the step's transactions, before the ACK (lane_thread) */
	r->dirty = 1;
	for (int i = 0; i < n && r->nreads < READS_MAX; i++) {
		struct lane_read *rd = &r->reads[r->nreads++];
		const struct fwi_record *f = &recs[i];
		memset(rd, 0, sizeof(*rd));
		memcpy(rd->epc, f->epc, sizeof(rd->epc));
		rd->epc_bits = f->epc_bits;
		rd->tid_valid = (f->flags & FWI_RF_TID_VALID) != 0;
		memcpy(rd->tid, f->tid, sizeof(rd->tid));
		rd->rssi_dbm_x10 = f->rssi_dbm_x10;
		rd->reader_boot_id = boot_id;
		rd->reader_seq = f->seq;
		rd->first_seen_ms = (int64_t)f->first_seen_ms;
		rd->clock_synced = (f->flags & FWI_RF_CLOCK_SYNCED) != 0;
		rd->rx_ms = now;
		rd->rx_us = now_us;
	}
	int64_t spent = toll_mono_us() - now_us;
	for (int i = r->nreads - n < 0 ? 0 : r->nreads - n; i < r->nreads; i++)
		r->reads[i].store_us = spent;
	return 0;
}

/* Sign and journal one transaction (not yet synced). */
static int
record_txn(struct lane_run *r, const struct lane_action *a)
{
	struct toll_txn t;
	uint8_t enc[TOLL_TXN_BYTES];
	uint64_t seq;
	int rc;

	memset(&t, 0, sizeof(t));
	t.station_id = r->cfg.station_id;
	t.lane_id = (uint16_t)r->cfg.lane_id;
	t.lane_seq = r->lane_seq + 1;
	t.time_ms = toll_real_ms();
	rc = toll_txn_new_id(t.time_ms, t.txn_id);
	if (rc != 0)
		return rc;
	t.utc_offset_min = r->cfg.utc_offset_min;
	if (a->has_read) {
		t.epc_bits = a->rd.epc_bits;
		memcpy(t.epc, a->rd.epc, sizeof(t.epc));
		t.tid_valid = (uint8_t)a->rd.tid_valid;
		if (a->rd.tid_valid)
			memcpy(t.tid, a->rd.tid, sizeof(t.tid));
		t.reader_boot_id = a->rd.reader_boot_id;
		t.reader_seq = a->rd.reader_seq;
		t.rssi_dbm_x10 = a->rd.rssi_dbm_x10;
	}
	t.account_id = a->d.account_id;
	t.vclass = (uint8_t)a->d.vclass;
	t.outcome = (uint8_t)a->d.outcome;
	t.flags = a->d.flags;
	t.entry_station = a->d.entry_station;
	t.entry_time_ms = a->d.entry_time_ms;
	t.fee_vnd = a->d.fee_vnd;
	memcpy(t.prev_hash, r->prev_hash, sizeof(t.prev_hash));
	rc = toll_txn_sign(&t, r->signer);
	if (rc == 0)
		rc = toll_txn_encode(&t, enc);
	if (rc == 0)
		rc = toll_journal_append(r->journal, LANE_REC_TXN, enc, sizeof(enc), &seq);
	if (rc != 0)
		return rc;
	r->lane_seq = t.lane_seq;
	r->dirty = 1;
	if (r->uplink != NULL)
		lane_uplink_made(r->uplink, t.lane_seq);
	toll_txn_hash(&t, r->prev_hash);
	return 0;
}

static void
close_lane(struct lane_run *r, const char *why, int rc)
{
	if (r->closed)
		return;
	r->closed = 1;
	toll_err("lane %u: closing the lane: %s: %s", r->cfg.lane_id, why, toll_strerror(rc));
	/* barrier down, red, lane closed sign, display "lane closed" */
	lane_link_write_coil(r->io_link, r->cfg.io_unit, FWI_CO_BARRIER, 0);
	lane_link_write_coil(r->io_link, r->cfg.io_unit, FWI_CO_RED, 1);
	lane_link_write_coil(r->io_link, r->cfg.io_unit, FWI_CO_LANE_CLOSED, 1);
	uint16_t d[12] = {0};
	d[FWI_DSP_MESSAGE] = FWI_MSG_LANE_CLOSED;
	d[FWI_DSP_UPDATE_SEQ] = ++r->display_seq;
	lane_link_write_regs(r->display_link, r->cfg.display_unit, 0, 12, d);
}

static void
show(struct lane_run *r, const struct lane_decision *d)
{
	uint16_t w[FWI_DISPLAY_HR_COUNT];
	size_t n = strnlen(d->plate, FWI_PLATE_CHARS);
	uint32_t fee = d->fee_vnd < 0 ? 0 : d->fee_vnd > UINT32_MAX ? UINT32_MAX : (uint32_t)d->fee_vnd;
	int64_t b = d->balance_after_vnd;
	int32_t bal = b < INT32_MIN ? INT32_MIN : b > INT32_MAX ? INT32_MAX : (int32_t)b;

	memset(w, 0, sizeof(w));
	w[FWI_DSP_FEE] = (uint16_t)(fee >> 16);
	w[FWI_DSP_FEE + 1] = (uint16_t)fee;
	w[FWI_DSP_BALANCE] = (uint16_t)((uint32_t)bal >> 16);
	w[FWI_DSP_BALANCE + 1] = (uint16_t)bal;
	w[FWI_DSP_MESSAGE] = (uint16_t)d->message;
	for (size_t i = 0; i < n; i++)
		w[FWI_DSP_PLATE + i / 2] |= (uint16_t)((uint8_t)d->plate[i] << (i % 2 ? 0 : 8));
	w[FWI_DSP_UPDATE_SEQ] = ++r->display_seq;
	if (w[FWI_DSP_UPDATE_SEQ] == 0)
		w[FWI_DSP_UPDATE_SEQ] = ++r->display_seq;
	/* one FC16, the update seq its last register */
	if (lane_link_write_regs(r->display_link, r->cfg.display_unit, 0, FWI_DISPLAY_HR_COUNT, w) != 0)
		r->status.display_errors++;
}

static int
sync_journal(struct lane_run *r)
{
	if (!r->dirty)
		return 0;
	int rc = toll_journal_sync(r->journal);
	if (rc != 0) {
		close_lane(r, "could not sync the journal", rc);
		return rc;
	}
	r->dirty = 0;
	if (r->uplink != NULL)
		lane_uplink_durable(r->uplink, toll_journal_durable_seq(r->journal));
	return 0;
}

/* Carry out the logic's actions.  For the processing time of each
 * decision on a read: t0_us when the logic was called, pre_us the lane's
 * time spent on the read before (journaling it); the decision is done when
 * the barrier command goes out, or, with none, when it is synced. */
static void
execute(struct lane_run *r, struct lane_action *acts, int n, int64_t t0_us, int64_t pre_us)
{
	int rc, decisions = 0;
	int64_t done_us = -1;

	for (int i = 0; i < n; i++) {
		struct lane_action *a = &acts[i];
		if (r->closed && a->kind != LANE_ACT_ALARM && a->kind != LANE_ACT_RECORD &&
		    a->kind != LANE_ACT_RELEASE)
			continue;
		switch (a->kind) {
		case LANE_ACT_RECORD:
			rc = record_txn(r, a);
			decisions += a->has_read;
			if (rc != 0) {
				r->status.record_errors++;
				close_lane(r, "could not journal a transaction", rc);
			} else if (a->has_read) {
				lane_decide_recorded(&r->decider, &a->rd, &a->d);
			}
			break;
		case LANE_ACT_RELEASE:
			/* decided while queued, gone before the barrier opened
			 * for it: never recorded, so never charged */
			lane_decide_release(&r->decider, &a->rd, &a->d);
			toll_info("lane %u: a vehicle decided %s left before reaching the barrier: not charged",
				  r->cfg.lane_id, toll_outcome_name(a->d.outcome));
			break;
		case LANE_ACT_BARRIER:
			/* durable before the barrier opens */
			if (sync_journal(r) != 0)
				continue;
			if (done_us < 0)
				done_us = toll_mono_us();
			if (lane_link_write_coil(r->io_link, r->cfg.io_unit, FWI_CO_BARRIER, a->on) != 0)
				r->status.io_errors++;
			break;
		case LANE_ACT_LIGHT:
			/* red and green are interlocked: setting one clears the other */
			if (lane_link_write_coil(r->io_link, r->cfg.io_unit, a->on ? FWI_CO_GREEN : FWI_CO_RED, 1) != 0)
				r->status.io_errors++;
			break;
		case LANE_ACT_DISPLAY:
			show(r, &a->d);
			break;
		case LANE_ACT_ALARM:
			toll_warn("lane %u: %s", r->cfg.lane_id, a->text);
			break;
		}
	}
	(void)sync_journal(r);
	if (done_us < 0)
		done_us = toll_mono_us();
	for (int i = 0; i < decisions; i++)
		proc_sample(r, pre_us + done_us - t0_us);
}

static int
io_poll(struct lane_run *r, int64_t now, struct lane_inputs *in)
{
	uint8_t di[FWI_IO_INPUT_COUNT];
	int rc;

	if (!r->io_configured) {
		rc = lane_link_write_reg(r->io_link, r->cfg.io_unit, FWI_IOH_WATCHDOG_TIMEOUT_MS, r->cfg.io_watchdog_ms);
		if (rc != 0)
			return rc;
		r->io_configured = 1;
	}
	if (r->cfg.io_watchdog_ms != 0 && now >= r->io_wd_next_ms) {
		rc = lane_link_write_reg(r->io_link, r->cfg.io_unit, FWI_IOH_WATCHDOG, ++r->io_wd_value);
		if (rc != 0)
			return rc;
		r->io_wd_next_ms = now + r->cfg.io_watchdog_ms / 4;
	}
	rc = lane_link_read_inputs(r->io_link, r->cfg.io_unit, 0, FWI_IO_INPUT_COUNT, di);
	if (rc != 0)
		return rc;
	memset(in, 0, sizeof(*in));
	in->entry = di[FWI_DI_ENTRY_LOOP];
	in->exit_loop = di[FWI_DI_EXIT_LOOP];
	in->entry_fault = di[FWI_DI_ENTRY_LOOP_FAULT];
	in->exit_fault = di[FWI_DI_EXIT_LOOP_FAULT];
	in->barrier_open = di[FWI_DI_BARRIER_OPEN];
	in->barrier_closed = di[FWI_DI_BARRIER_CLOSED];
	in->barrier_fault = di[FWI_DI_BARRIER_FAULT];
	if (di[FWI_DI_WATCHDOG_EXPIRED]) {
		/* the unit went red on its own: it needs a new watchdog value */
		toll_warn("lane %u: I/O unit watchdog had expired", r->cfg.lane_id);
		r->io_wd_next_ms = 0;
	}
	return 0;
}

static void
sleep_until(int64_t mono_ms)
{
	struct timespec ts = {mono_ms / 1000, (long)(mono_ms % 1000) * 1000000L};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Central has what the uplink says: let the journal forget it, at most
 * once a second (the cursor is synced to disk). */
static void
move_cursor(struct lane_run *r)
{
	if (r->uplink == NULL)
		return;
	uint64_t to = lane_uplink_ack_target(r->uplink);
	int64_t now = toll_mono_ms();
	if (to <= toll_journal_acked(r->journal) || now < r->cursor_next_ms)
		return;
	r->cursor_next_ms = now + 1000;
	int rc = toll_journal_set_acked(r->journal, to);
	if (rc != 0)
		toll_warn("lane %u: could not move the journal cursor to %" PRIu64 ": %s", r->cfg.lane_id,
			  to, toll_strerror(rc));
}

static void
publish_status(struct lane_run *r)
{
	pthread_mutex_lock(&r->mu);
	r->status.lane_id = r->cfg.lane_id;
	r->status.state = lane_logic_state(r->logic);
	r->status.queue = lane_logic_queue_len(r->logic);
	r->status.reader = *lane_reader_stats(r->reader);
	r->status.reader_online = r->status.reader.online;
	r->status.io_online = r->io_online;
	r->status.logic = *lane_logic_stats(r->logic);
	r->status.last_seq = r->lane_seq;
	r->status.journal_seq = toll_journal_last_seq(r->journal);
	r->status.journal_acked = toll_journal_acked(r->journal);
	int was_warn = r->status.journal_warn;
	toll_journal_usage(r->journal, &r->status.journal_bytes, &r->status.journal_warn);
	if (r->status.journal_warn && !was_warn)
		toll_warn("lane %u: journal %s is %" PRIu64 " bytes, past its alarm threshold: is central acknowledging?",
			  r->cfg.lane_id, r->cfg.journal_dir, r->status.journal_bytes);
	r->status.closed = r->closed;
	r->status.proc = r->proc;
	r->status.uplink_on = r->uplink != NULL;
	if (r->uplink != NULL)
		lane_uplink_stats(r->uplink, &r->status.uplink);
	pthread_mutex_unlock(&r->mu);
}

/* Give each read of this poll (it started at poll_ms) to the plaza at once
 * (lane_plaza.h: every read is seen before any lane claims it), then to
 * the logic once the plaza's vote on it is closed: by then the other
 * lanes' reads of the same tag are in the plaza, and the claim sees the
 * stronger one. */
static void
vote_reads(struct lane_run *r, struct lane_action *acts, int64_t poll_ms)
{
	struct lane_plaza *plaza = r->ctx->plaza;

	for (int i = 0; i < r->nreads; i++) {
		const struct lane_read *rd = &r->reads[i];
		if (plaza != NULL)
			lane_plaza_seen(plaza, r->decider.lane, rd->epc, rd->epc_bits, rd->rssi_dbm_x10, r->entry,
					rd->rx_ms);
		if (r->nvoting == VOTING_MAX) {
			/* bounded: the oldest goes to the logic now */
			int64_t t0 = toll_mono_us();
			int n = lane_logic_read(r->logic, &r->voting[0], t0 / 1000, acts, LANE_ACTIONS_MAX);
			execute(r, acts, n, t0, r->voting[0].store_us);
			memmove(&r->voting[0], &r->voting[1], (VOTING_MAX - 1) * sizeof(r->voting[0]));
			r->nvoting--;
		}
		r->voting[r->nvoting++] = *rd;
	}
	if (plaza != NULL)
		lane_plaza_polled(plaza, r->decider.lane, poll_ms, r->entry);
	int k = 0;
	while (k < r->nvoting) {
		int64_t t0 = toll_mono_us();
		if (plaza != NULL && !lane_plaza_vote_closed(plaza, r->decider.lane, r->voting[k].rx_ms, t0 / 1000))
			break;
		int n = lane_logic_read(r->logic, &r->voting[k], t0 / 1000, acts, LANE_ACTIONS_MAX);
		execute(r, acts, n, t0, r->voting[k].store_us);
		k++;
	}
	if (k > 0) {
		memmove(&r->voting[0], &r->voting[k], (size_t)(r->nvoting - k) * sizeof(r->voting[0]));
		r->nvoting -= k;
	}
}

static void *
lane_thread(void *arg)
{
	struct lane_run *r = arg;
	struct lane_action acts[LANE_ACTIONS_MAX];
	int64_t next = toll_mono_ms();

	while (!r->stop) {
		int64_t now = toll_mono_ms();
		struct lane_inputs in;
		int n;

		int reader_rc = 0;
		r->nreads = 0;
		if (!r->closed)
			reader_rc = lane_reader_poll(r->reader, now, toll_real_ms());
		if (io_poll(r, now, &in) == 0) {
			in.reader_down = reader_rc < 0 && reader_rc != TOLL_EEXCEPTION;
			if (!r->io_online)
				toll_notice("lane %u: I/O unit online", r->cfg.lane_id);
			r->io_online = 1;
			r->entry = in.entry;
			int64_t t0 = toll_mono_us();
			n = lane_logic_step(r->logic, &in, now, acts, LANE_ACTIONS_MAX);
			execute(r, acts, n, t0, 0);
		} else if (r->io_online) {
			r->io_online = 0;
			r->io_configured = 0;
			toll_warn("lane %u: I/O unit not answering", r->cfg.lane_id);
		}
		vote_reads(r, acts, now);
		/* the reads of this poll are durable (with the transactions
		 * they led to, in one sync): ACK them */
		if (reader_rc >= 0 && !r->closed && sync_journal(r) == 0)
			(void)lane_reader_ack(r->reader, toll_mono_ms());
		move_cursor(r);
		publish_status(r);
		next += r->cfg.poll_ms;
		now = toll_mono_ms();
		if (next < now)
			next = now; /* behind: do not try to catch up */
		sleep_until(next);
	}
	return NULL;
}

/* Find where the chain and the reader stood when the lane last stopped. */
static int
recover(struct lane_run *r)
{
	struct toll_journal_iter *it;
	uint64_t last = toll_journal_last_seq(r->journal), seq, from;
	uint8_t type;
	const uint8_t *p;
	size_t len;
	int rc, found_txn = 0;
	uint32_t boot = 0, rseq = 0;
	int found_read = 0;

	int64_t mono_now = toll_mono_ms(), real_now = toll_real_ms();

	from = last > 65536 ? last - 65536 : 1;
again:
	rc = toll_journal_iter_open(r->journal, from, &it);
	if (rc != 0)
		return rc;
	while ((rc = toll_journal_iter_next(it, &seq, &type, &p, &len)) == 0) {
		if (type == LANE_REC_TXN) {
			struct toll_txn t;
			rc = toll_txn_decode(p, len, &t);
			if (rc != 0) {
				toll_journal_iter_close(it);
				toll_err("lane %u: journal record %llu is not a transaction: %s",
					 r->cfg.lane_id, (unsigned long long)seq, toll_strerror(rc));
				return rc;
			}
			r->lane_seq = t.lane_seq;
			toll_txn_hash(&t, r->prev_hash);
			found_txn = 1;
			/* what this lane took before it stopped: a re-read of it
			 * after the restart, within the plaza's suppression window,
			 * is not a second charge */
			if (r->ctx != NULL && r->ctx->plaza != NULL && t.epc_bits > 0 &&
			    (t.outcome == TOLL_OUT_PAID || t.outcome == TOLL_OUT_EXEMPT || t.outcome == TOLL_OUT_PASS ||
			     t.outcome == TOLL_OUT_ENTRY))
				lane_plaza_restore(r->ctx->plaza, r->decider.lane, t.epc, t.epc_bits,
						   mono_now - (real_now - t.time_ms), mono_now);
		} else if (type == LANE_REC_READ && len >= 4 + FWI_RECORD_BYTES) {
			struct toll_rd rd;
			struct fwi_record f;
			toll_rd_init(&rd, p, len);
			toll_rd_u32(&rd, &boot);
			if (fwi_record_decode(p + 4, len - 4, &f) == 0) {
				rseq = f.seq;
				found_read = 1;
			}
		}
	}
	toll_journal_iter_close(it);
	if (rc != TOLL_EEMPTY)
		return rc;
	if (!found_txn && from > 1) {
		from = 1;
		goto again;
	}
	if (found_read)
		lane_reader_resume(r->reader, boot, rseq);
	toll_notice("lane %u: journal at record %llu, transaction %llu", r->cfg.lane_id,
		    (unsigned long long)last, (unsigned long long)r->lane_seq);
	return 0;
}

int
lane_run_new(const struct lane_run_cfg *cfg, struct lane_context *ctx,
	     struct toll_signer *signer, struct lane_run **out)
{
	struct lane_run *r = calloc(1, sizeof(*r));
	struct toll_journal_opts jo;
	struct toll_journal_recovery rep;
	int rc;

	if (r == NULL)
		return TOLL_ENOMEM;
	r->cfg = *cfg;
	r->ctx = ctx;
	r->signer = signer;
	pthread_mutex_init(&r->mu, NULL);
	r->decider.ctx = ctx;
	r->decider.lane = cfg->lane_id;
	r->decider.now_ms = toll_mono_ms;
	r->decider.real_ms = toll_real_ms;
	/* TCP devices get a connection each; an RTU bus is shared */
	rc = lane_link_new(cfg->reader_ep, cfg->timeout_ms, &r->reader_link);
	if (rc == 0) {
		if (strncmp(cfg->io_ep, "rtu:", 4) == 0 && strcmp(cfg->io_ep, cfg->reader_ep) == 0) {
			r->io_link = r->reader_link;
			r->io_shares_reader = 1;
		} else {
			rc = lane_link_new(cfg->io_ep, cfg->timeout_ms, &r->io_link);
		}
	}
	if (rc == 0) {
		if (strncmp(cfg->display_ep, "rtu:", 4) == 0 && strcmp(cfg->display_ep, cfg->reader_ep) == 0) {
			r->display_link = r->reader_link;
			r->display_shares_reader = 1;
		} else if (strncmp(cfg->display_ep, "rtu:", 4) == 0 && strcmp(cfg->display_ep, cfg->io_ep) == 0) {
			r->display_link = r->io_link;
			r->display_shares_io = 1;
		} else {
			rc = lane_link_new(cfg->display_ep, cfg->timeout_ms, &r->display_link);
		}
	}
	if (rc == 0) {
		struct lane_reader_cfg rcfg = cfg->reader;
		rcfg.defer_ack = 1; /* one sync for the reads and their transactions */
		rc = lane_reader_new(r->reader_link, &rcfg, store_reads, lane_alarm, r, &r->reader);
	}
	if (rc == 0) {
		r->logic = lane_logic_new(&cfg->logic, lane_decide, &r->decider);
		if (r->logic == NULL)
			rc = TOLL_ENOMEM;
	}
	if (rc == 0) {
		memset(&jo, 0, sizeof(jo));
		jo.dir = r->cfg.journal_dir;
		jo.max_bytes = cfg->journal_max_bytes;
		rc = toll_journal_open(&jo, &r->journal, &rep);
		if (rc != 0)
			toll_err("lane %u: could not open journal %s: %s%s%s", cfg->lane_id, cfg->journal_dir,
				 toll_strerror(rc), rep.detail[0] ? ": " : "", rep.detail);
	}
	if (rc == 0)
		rc = recover(r);
	if (rc != 0) {
		lane_run_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int
lane_run_start(struct lane_run *r)
{
	if (r->cfg.uplink.url[0] != 0) {
		struct lane_uplink_cfg uc = r->cfg.uplink;
		snprintf(uc.journal_dir, sizeof(uc.journal_dir), "%s", r->cfg.journal_dir);
		uc.station_id = r->cfg.station_id;
		uc.lane_id = (uint16_t)r->cfg.lane_id;
		uc.start_seq = toll_journal_acked(r->journal) + 1;
		int rc = lane_uplink_start(&uc, &r->uplink);
		if (rc != 0)
			return rc;
		lane_uplink_durable(r->uplink, toll_journal_durable_seq(r->journal));
		lane_uplink_made(r->uplink, r->lane_seq);
	}
	if (pthread_create(&r->thread, NULL, lane_thread, r) != 0)
		return TOLL_ESYS;
	r->running = 1;
	return 0;
}

void
lane_run_stop(struct lane_run *r)
{
	if (r == NULL || !r->running)
		return;
	r->stop = 1;
	pthread_join(r->thread, NULL);
	r->running = 0;
	lane_uplink_stop(r->uplink);
	r->uplink = NULL;
}

void
lane_run_free(struct lane_run *r)
{
	if (r == NULL)
		return;
	lane_run_stop(r);
	lane_uplink_stop(r->uplink);
	toll_journal_close(r->journal);
	lane_logic_free(r->logic);
	lane_reader_free(r->reader);
	if (!r->display_shares_reader && !r->display_shares_io)
		lane_link_free(r->display_link);
	if (!r->io_shares_reader)
		lane_link_free(r->io_link);
	lane_link_free(r->reader_link);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

void
lane_run_status(struct lane_run *r, struct lane_run_status *st)
{
	pthread_mutex_lock(&r->mu);
	*st = r->status;
	pthread_mutex_unlock(&r->mu);
}
