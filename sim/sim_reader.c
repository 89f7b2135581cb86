/* sim_reader.c: the reader model of sim_reader.h. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "fwi_codec.h"
#include "sim_reader.h"

struct tag_entry {
	int used;
	int in_field;	     /* seen in the last step */
	int seen_now;	     /* seen in the current step */
	int64_t last_seen_ms; /* last step it was in the field */
	uint8_t epc[FWI_EPC_MAX_BYTES];
	uint16_t epc_bits;
	uint8_t tid[FWI_TID_BYTES];
	int has_tid;
};

struct fifo_slot {
	uint32_t seq;
	uint8_t bytes[FWI_RECORD_BYTES];
};

struct sim_reader {
	struct sim_reader_params p;
	struct toll_rng *rng;

	/* boot */
	uint32_t boot_id;
	int64_t boot_start_ms; /* the reader answers again at boot_start + boot_ms */
	int64_t clock_offset_ms;
	int clock_synced;

	/* FIFO: records with seq in (acked_seq, last_seq] */
	struct fifo_slot *fifo;
	unsigned head, count;
	uint32_t last_seq, acked_seq, dropped;
	int gap_pending;

	/* configuration */
	uint16_t mode, antenna_enable, rereport_s, wd_timeout_ms;
	uint16_t tx_power[FWI_MAX_ANTENNAS];
	int16_t rssi_floor;

	/* write-only registers read back the last value written */
	uint16_t w_ack[2], w_watchdog, w_set_clock[4], w_clear;

	/* host watchdog */
	int64_t wd_fed_ms;

	/* status */
	uint16_t latched;
	int entry_loop;
	int tags_in_field;
	uint16_t fault_code, antenna_faults;
	int over_temperature, fatal;

	struct tag_entry tags[SIM_READER_TAGS_MAX];
	struct sim_reader_stats stats;
};

static void
reader_boot(struct sim_reader *r, int64_t now_ms)
{
	r->boot_id = (uint32_t)toll_rng_next(r->rng);
	if (r->boot_id == 0)
		r->boot_id = 1;
	r->boot_start_ms = now_ms;
	r->clock_offset_ms = r->p.clock_skew_ms;
	r->clock_synced = 0;
	r->head = r->count = 0;
	r->last_seq = r->acked_seq = r->dropped = 0;
	r->gap_pending = 0;
	r->mode = FWI_DEFAULT_MODE;
	r->antenna_enable = (uint16_t)((1u << r->p.antenna_count) - 1);
	for (unsigned i = 0; i < FWI_MAX_ANTENNAS; i++)
		r->tx_power[i] = i < r->p.antenna_count ? FWI_DEFAULT_TX_POWER : 0;
	r->rssi_floor = FWI_DEFAULT_RSSI_FLOOR;
	r->rereport_s = FWI_DEFAULT_REREPORT_S;
	r->wd_timeout_ms = FWI_DEFAULT_WATCHDOG_MS;
	memset(r->w_ack, 0, sizeof(r->w_ack));
	memset(r->w_set_clock, 0, sizeof(r->w_set_clock));
	r->w_watchdog = r->w_clear = 0;
	r->wd_fed_ms = now_ms;
	r->latched = FWI_ST_REBOOTED;
	r->tags_in_field = 0;
	memset(r->tags, 0, sizeof(r->tags));
	r->stats.boots++;
}

struct sim_reader *
sim_reader_new(const struct sim_reader_params *p, struct toll_rng *rng,
	       int64_t now_ms, int64_t real_ms)
{
	struct sim_reader *r;

	(void)real_ms;
	if (p->fifo_capacity < 1 || p->fifo_capacity > SIM_READER_FIFO_MAX ||
	    p->antenna_count < 1 || p->antenna_count > FWI_MAX_ANTENNAS)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->fifo = calloc(p->fifo_capacity, sizeof(*r->fifo));
	if (r->fifo == NULL) {
		free(r);
		return NULL;
	}
	r->p = *p;
	r->rng = rng;
	reader_boot(r, now_ms);
	/* A reader found powered at start has finished booting. */
	r->boot_start_ms = now_ms - p->boot_ms;
	return r;
}

void
sim_reader_free(struct sim_reader *r)
{
	if (r == NULL)
		return;
	free(r->fifo);
	free(r);
}

void
sim_reader_reboot(struct sim_reader *r, int64_t now_ms)
{
	reader_boot(r, now_ms);
}

int
sim_reader_ready(const struct sim_reader *r, int64_t now_ms)
{
	return now_ms - r->boot_start_ms >= r->p.boot_ms;
}

int64_t
sim_reader_clock_ms(const struct sim_reader *r, int64_t real_ms)
{
	return real_ms + r->clock_offset_ms;
}

static uint16_t
working_antennas(const struct sim_reader *r)
{
	uint16_t present = (uint16_t)((1u << r->p.antenna_count) - 1);
	return r->antenna_enable & present & (uint16_t)~r->antenna_faults;
}

static int
rf_on(const struct sim_reader *r, int64_t now_ms)
{
	if (!sim_reader_ready(r, now_ms) || r->fatal || working_antennas(r) == 0)
		return 0;
	return r->mode == FWI_MODE_CONTINUOUS ||
	       (r->mode == FWI_MODE_TRIGGERED && r->entry_loop);
}

static int
watchdog_expired(const struct sim_reader *r, int64_t now_ms)
{
	return r->wd_timeout_ms != 0 && now_ms - r->wd_fed_ms > r->wd_timeout_ms;
}

uint16_t
sim_reader_status(const struct sim_reader *r, int64_t now_ms)
{
	uint16_t st = r->latched;
	uint16_t present = (uint16_t)((1u << r->p.antenna_count) - 1);

	if (sim_reader_ready(r, now_ms) && !r->fatal)
		st |= FWI_ST_READY;
	if (rf_on(r, now_ms))
		st |= FWI_ST_RF_ON;
	if (r->tags_in_field > 0)
		st |= FWI_ST_TAG_IN_FIELD;
	if (r->count > 0)
		st |= FWI_ST_FIFO_NOT_EMPTY;
	if (r->count * 4 > r->p.fifo_capacity * 3)
		st |= FWI_ST_FIFO_HIGH;
	if (r->antenna_faults & r->antenna_enable & present)
		st |= FWI_ST_ANTENNA_FAULT;
	if (r->over_temperature)
		st |= FWI_ST_OVER_TEMPERATURE;
	if (r->mode != FWI_MODE_OFF && (r->antenna_enable & present) == 0)
		st |= FWI_ST_CONFIG_INVALID;
	if (!r->clock_synced)
		st |= FWI_ST_CLOCK_UNSYNCED;
	if (watchdog_expired(r, now_ms))
		st |= FWI_ST_WATCHDOG_EXPIRED;
	if (r->fatal)
		st |= FWI_ST_FATAL;
	return st;
}

static int
tag_same(const struct tag_entry *e, const struct sim_tag_view *v)
{
	return e->epc_bits == v->epc_bits &&
	       memcmp(e->epc, v->epc, sizeof(e->epc)) == 0 &&
	       e->has_tid == v->has_tid &&
	       (!v->has_tid || memcmp(e->tid, v->tid, sizeof(e->tid)) == 0);
}

static struct tag_entry *
tag_find_or_add(struct sim_reader *r, const struct sim_tag_view *v, int *added)
{
	struct tag_entry *victim = NULL;

	*added = 0;
	for (unsigned i = 0; i < SIM_READER_TAGS_MAX; i++) {
		struct tag_entry *e = &r->tags[i];
		if (e->used && tag_same(e, v))
			return e;
		/* Reuse a free entry, else the one out of the field longest. */
		if (!e->used) {
			if (victim == NULL || victim->used)
				victim = e;
		} else if (!e->in_field && !e->seen_now &&
			   (victim == NULL ||
			    (victim->used && e->last_seen_ms < victim->last_seen_ms))) {
			victim = e;
		}
	}
	if (victim == NULL)
		return NULL; /* more than SIM_READER_TAGS_MAX tags in the field */
	memset(victim, 0, sizeof(*victim));
	victim->used = 1;
	memcpy(victim->epc, v->epc, sizeof(victim->epc));
	victim->epc_bits = v->epc_bits;
	victim->has_tid = v->has_tid;
	if (v->has_tid)
		memcpy(victim->tid, v->tid, sizeof(victim->tid));
	*added = 1;
	return victim;
}

/* The antenna a read comes from: the working antenna with the most power. */
static int
best_antenna(const struct sim_reader *r, uint16_t *power)
{
	uint16_t work = working_antennas(r);
	int best = -1;

	for (unsigned i = 0; i < r->p.antenna_count; i++)
		if ((work & (1u << i)) && (best < 0 || r->tx_power[i] > r->tx_power[best]))
			best = (int)i;
	if (best >= 0)
		*power = r->tx_power[best];
	return best;
}

/* Returns 1 when the record was stored, 0 when the read was dropped. */
static int
make_record(struct sim_reader *r, const struct sim_tag_view *v, int antenna,
	    int16_t rssi, int64_t real_ms)
{
	struct fwi_record rec;
	struct fifo_slot *slot;
	int rc;

	if (r->count == r->p.fifo_capacity) {
		/* Full: the newest read is dropped, takes no seq, and the next
		 * stored record carries the gap flag. */
		r->dropped++;
		r->latched |= FWI_ST_OVERFLOW;
		r->gap_pending = 1;
		r->stats.reads_dropped++;
		return 0;
	}
	memset(&rec, 0, sizeof(rec));
	rec.seq = ++r->last_seq;
	rec.flags = FWI_RF_VALID;
	if (v->has_tid)
		rec.flags |= FWI_RF_TID_VALID;
	if (r->clock_synced)
		rec.flags |= FWI_RF_CLOCK_SYNCED;
	if (r->gap_pending)
		rec.flags |= FWI_RF_GAP;
	r->gap_pending = 0;
	rec.antenna = (uint8_t)antenna;
	rec.rssi_dbm_x10 = rssi;
	rec.pc = v->pc;
	rec.epc_bits = v->epc_bits;
	memcpy(rec.epc, v->epc, sizeof(rec.epc));
	if (v->has_tid)
		memcpy(rec.tid, v->tid, sizeof(rec.tid));
	rec.first_seen_ms = (uint64_t)sim_reader_clock_ms(r, real_ms);
	rec.dwell_ms = 0;
	rec.read_count = 1;

	slot = &r->fifo[(r->head + r->count) % r->p.fifo_capacity];
	rc = fwi_record_encode(&rec, slot->bytes);
	assert(rc == 0); /* the simulator's tags are checked when injected */
	(void)rc;
	slot->seq = rec.seq;
	r->count++;
	r->stats.records_made++;
	assert(r->count == r->last_seq - r->acked_seq);
	return 1;
}

int
sim_reader_step(struct sim_reader *r, int64_t now_ms, int64_t real_ms,
		const struct sim_tag_view *tags, unsigned ntags, int entry_loop)
{
	int made = 0;
	uint16_t power = 0;
	int antenna;

	r->entry_loop = entry_loop;
	antenna = best_antenna(r, &power);
	if (rf_on(r, now_ms) && antenna >= 0) {
		for (unsigned i = 0; i < ntags; i++) {
			const struct sim_tag_view *v = &tags[i];
			int32_t rssi = v->rssi_dbm_x10 + (int32_t)power - FWI_DEFAULT_TX_POWER;
			struct tag_entry *e;
			int added;

			if (rssi < r->rssi_floor) {
				r->stats.reads_below_floor++;
				continue;
			}
			e = tag_find_or_add(r, v, &added);
			if (e == NULL)
				continue;
			if (e->seen_now)
				continue; /* the same tag twice in one step */
			e->seen_now = 1;
			if (added || (!e->in_field &&
				      now_ms - e->last_seen_ms >= (int64_t)r->rereport_s * 1000)) {
				made += make_record(r, v, antenna, (int16_t)rssi, real_ms);
			} else if (!e->in_field) {
				r->stats.reads_suppressed++;
			}
			e->last_seen_ms = now_ms;
		}
	}
	r->tags_in_field = 0;
	for (unsigned i = 0; i < SIM_READER_TAGS_MAX; i++) {
		struct tag_entry *e = &r->tags[i];
		e->in_field = e->seen_now;
		e->seen_now = 0;
		r->tags_in_field += e->in_field;
	}
	return made;
}

static void
put_u32(uint16_t *hr, uint16_t addr, uint32_t v)
{
	hr[addr] = (uint16_t)(v >> 16);
	hr[addr + 1] = (uint16_t)v;
}

static void
put_u64(uint16_t *hr, uint16_t addr, uint64_t v)
{
	for (int i = 0; i < 4; i++)
		hr[addr + i] = (uint16_t)(v >> (48 - 16 * i));
}

static void
put_text(uint16_t *hr, uint16_t addr, uint16_t words, const char *s)
{
	size_t n = strlen(s);
	for (uint16_t i = 0; i < words; i++) {
		uint8_t hi = 2u * i < n ? (uint8_t)s[2 * i] : 0;
		uint8_t lo = 2u * i + 1 < n ? (uint8_t)s[2 * i + 1] : 0;
		hr[addr + i] = (uint16_t)((hi << 8) | lo);
	}
}

void
sim_reader_regs(const struct sim_reader *r, int64_t now_ms, int64_t real_ms,
		uint16_t *hr)
{
	int64_t up_ms = now_ms - r->boot_start_ms - r->p.boot_ms;
	uint16_t status = sim_reader_status(r, now_ms);
	uint32_t head_seq = r->count > 0 ? r->fifo[r->head].seq : 0;
	uint16_t heartbeat;

	if (up_ms < 0)
		up_ms = 0;
	heartbeat = (uint16_t)(up_ms / 100);
	memset(hr, 0, FWI_READER_HR_COUNT * sizeof(*hr));
	hr[FWI_RD_MAGIC] = FWI_READER_MAGIC;
	hr[FWI_RD_MAP_VERSION] = FWI_MAP_VERSION;
	put_text(hr, FWI_RD_VENDOR, FWI_RD_VENDOR_WORDS, "toll-sim");
	put_text(hr, FWI_RD_MODEL, FWI_RD_MODEL_WORDS, "sim-uhf-reader");
	put_text(hr, FWI_RD_FIRMWARE, FWI_RD_FIRMWARE_WORDS, TOLL_VERSION);
	hr[FWI_RD_ANTENNA_COUNT] = (uint16_t)r->p.antenna_count;
	hr[FWI_RD_FIFO_CAPACITY] = (uint16_t)r->p.fifo_capacity;
	hr[FWI_RD_RECORD_WORDS] = FWI_RECORD_WORDS;
	hr[FWI_RD_WINDOW_RECORDS] = FWI_WINDOW_RECORDS;
	hr[FWI_RD_HEARTBEAT] = heartbeat;
	hr[FWI_RD_STATUS] = status;
	hr[FWI_RD_FAULT_CODE] = r->fault_code;
	hr[FWI_RD_ANTENNA_FAULTS] = r->antenna_faults;
	put_u32(hr, FWI_RD_BOOT_ID, r->boot_id);
	put_u32(hr, FWI_RD_UPTIME_S, (uint32_t)(up_ms / 1000));
	hr[FWI_RD_FIFO_COUNT] = (uint16_t)r->count;
	put_u32(hr, FWI_RD_HEAD_SEQ, head_seq);
	put_u32(hr, FWI_RD_LAST_SEQ, r->last_seq);
	put_u32(hr, FWI_RD_ACKED_SEQ, r->acked_seq);
	put_u32(hr, FWI_RD_DROPPED, r->dropped);
	put_u64(hr, FWI_RD_CLOCK_MS, (uint64_t)sim_reader_clock_ms(r, real_ms));
	memcpy(&hr[FWI_RD_ACK], r->w_ack, sizeof(r->w_ack));
	hr[FWI_RD_WATCHDOG] = r->w_watchdog;
	memcpy(&hr[FWI_RD_SET_CLOCK], r->w_set_clock, sizeof(r->w_set_clock));
	hr[FWI_RD_CLEAR_STATUS] = r->w_clear;
	hr[FWI_RD_MODE] = r->mode;
	hr[FWI_RD_ANTENNA_ENABLE] = r->antenna_enable;
	memcpy(&hr[FWI_RD_TX_POWER], r->tx_power, sizeof(r->tx_power));
	hr[FWI_RD_RSSI_FLOOR] = (uint16_t)r->rssi_floor;
	hr[FWI_RD_REREPORT_S] = r->rereport_s;
	hr[FWI_RD_WATCHDOG_TIMEOUT_MS] = r->wd_timeout_ms;
	/* mini-header: heartbeat, status, FIFO count, head seq */
	hr[FWI_RD_MINI_HEADER + 0] = heartbeat;
	hr[FWI_RD_MINI_HEADER + 1] = status;
	hr[FWI_RD_MINI_HEADER + 2] = (uint16_t)r->count;
	put_u32(hr, FWI_RD_MINI_HEADER + 3, head_seq);
	for (unsigned i = 0; i < FWI_WINDOW_RECORDS && i < r->count; i++) {
		const struct fifo_slot *s = &r->fifo[(r->head + i) % r->p.fifo_capacity];
		toll_bytes_to_words(s->bytes, FWI_RECORD_WORDS,
				    &hr[FWI_RD_WINDOW + i * FWI_RECORD_WORDS]);
	}
}

static void
reader_ack(struct sim_reader *r, uint32_t ack)
{
	/* Cumulative; a repeated, stale or future ACK is ignored. */
	if (ack <= r->acked_seq || ack > r->last_seq)
		return;
	while (r->count > 0 && r->fifo[r->head].seq <= ack) {
		r->head = (r->head + 1) % r->p.fifo_capacity;
		r->count--;
		r->stats.records_acked++;
	}
	r->acked_seq = ack;
	assert(r->count == r->last_seq - r->acked_seq);
}

/* Bounds of the writable configuration values. */
static int
value_ok(const struct sim_reader *r, uint16_t addr, uint16_t v)
{
	switch (addr) {
	case FWI_RD_MODE:
		return v <= FWI_MODE_TRIGGERED;
	case FWI_RD_ANTENNA_ENABLE:
		return (v & ~((1u << r->p.antenna_count) - 1)) == 0;
	case FWI_RD_RSSI_FLOOR:
		return (int16_t)v >= -1000 && (int16_t)v <= 0;
	case FWI_RD_REREPORT_S:
		return v <= 3600;
	default:
		if (addr >= FWI_RD_TX_POWER && addr < FWI_RD_TX_POWER + FWI_MAX_ANTENNAS)
			return addr - FWI_RD_TX_POWER < (int)r->p.antenna_count ? v <= 330 : v == 0;
		return 1;
	}
}

int
sim_reader_write(struct sim_reader *r, int64_t now_ms, int64_t real_ms,
		 uint16_t addr, uint16_t nb, const uint16_t *vals)
{
	for (uint16_t i = 0; i < nb; i++)
		if (!value_ok(r, (uint16_t)(addr + i), vals[i]))
			return FWI_EXCEPTION_ILLEGAL_VALUE;

	for (uint16_t i = 0; i < nb; i++) {
		uint16_t a = (uint16_t)(addr + i), v = vals[i];

		if (a == FWI_RD_ACK) {
			/* fwi_check_write guarantees both words are here */
			r->w_ack[0] = v;
			r->w_ack[1] = vals[i + 1];
			reader_ack(r, ((uint32_t)v << 16) | vals[i + 1]);
			i++;
		} else if (a == FWI_RD_SET_CLOCK) {
			uint64_t ms = 0;
			for (int k = 0; k < 4; k++) {
				r->w_set_clock[k] = vals[i + k];
				ms = (ms << 16) | vals[i + k];
			}
			r->clock_offset_ms = (int64_t)ms - real_ms;
			r->clock_synced = 1;
			i += 3;
		} else if (a == FWI_RD_WATCHDOG) {
			if (v != r->w_watchdog)
				r->wd_fed_ms = now_ms;
			r->w_watchdog = v;
		} else if (a == FWI_RD_CLEAR_STATUS) {
			r->w_clear = v;
			r->latched &= (uint16_t)~(v & FWI_ST_LATCHED);
		} else if (a == FWI_RD_MODE) {
			r->mode = v;
		} else if (a == FWI_RD_ANTENNA_ENABLE) {
			r->antenna_enable = v;
		} else if (a >= FWI_RD_TX_POWER && a < FWI_RD_TX_POWER + FWI_MAX_ANTENNAS) {
			r->tx_power[a - FWI_RD_TX_POWER] = v;
		} else if (a == FWI_RD_RSSI_FLOOR) {
			r->rssi_floor = (int16_t)v;
		} else if (a == FWI_RD_REREPORT_S) {
			r->rereport_s = v;
		} else if (a == FWI_RD_WATCHDOG_TIMEOUT_MS) {
			r->wd_timeout_ms = v;
			r->wd_fed_ms = now_ms;
		}
	}
	return 0;
}

void
sim_reader_set_faults(struct sim_reader *r, uint16_t fault_code,
		      uint16_t antenna_faults, int over_temperature, int fatal)
{
	r->fault_code = fault_code;
	r->antenna_faults = antenna_faults;
	r->over_temperature = over_temperature;
	r->fatal = fatal;
}

uint32_t sim_reader_boot_id(const struct sim_reader *r) { return r->boot_id; }
unsigned sim_reader_fifo_count(const struct sim_reader *r) { return r->count; }
uint32_t sim_reader_last_seq(const struct sim_reader *r) { return r->last_seq; }
uint32_t sim_reader_acked_seq(const struct sim_reader *r) { return r->acked_seq; }
uint32_t sim_reader_dropped(const struct sim_reader *r) { return r->dropped; }
uint16_t sim_reader_mode(const struct sim_reader *r) { return r->mode; }

const struct sim_reader_stats *
sim_reader_stats(const struct sim_reader *r)
{
	return &r->stats;
}

int
sim_reader_record(const struct sim_reader *r, uint32_t seq, struct fwi_record *out)
{
	if (seq <= r->acked_seq || seq > r->last_seq)
		return TOLL_ENOTFOUND;
	const struct fifo_slot *s =
		&r->fifo[(r->head + (seq - r->acked_seq - 1)) % r->p.fifo_capacity];
	assert(s->seq == seq);
	return fwi_record_decode(s->bytes, sizeof(s->bytes), out);
}

uint16_t sim_reader_rereport_s(const struct sim_reader *r) { return r->rereport_s; }
int sim_reader_clock_synced(const struct sim_reader *r) { return r->clock_synced; }
