/* txn.c: canonical encoding, signature and chain of toll transactions.
 *
 * Layout, version 1, big-endian, 236 bytes (docs/transaction-format.md):
 *   0 magic "TOLT" | 4 version u8 | 5 outcome u8 | 6 flags u16 |
 *   8 station u32 | 12 lane u16 | 14 reserved u16 = 0 | 16 lane_seq u64 |
 *  24 txn_id [16] | 40 time_ms i64 | 48 utc_offset_min i16 | 50 epc_bits u16 |
 *  52 epc [32] zero-padded | 84 tid_valid u8 | 85 class u8 | 86 tid [12] |
 *  98 rssi i16 | 100 account u64 | 108 entry_station u32 |
 * 112 entry_time_ms i64 | 120 fee_vnd i64 | 128 reader_boot_id u32 |
 * 132 reader_seq u32 | 136 prev_hash [32] | 168 key_id u32 |
 * 172 signature [64] over bytes 0..171. */
#include <string.h>

#include "buf.h"
#include "err.h"
#include "txn.h"

static const uint8_t magic[4] = {'T', 'O', 'L', 'T'};

static int
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static int
epc_ok(uint16_t bits, const uint8_t epc[32])
{
	size_t full = bits / 8;
	unsigned rem = bits % 8;

	if (bits > 256)
		return 0;
	if (rem != 0) {
		if (epc[full] & (0xFFu >> rem))
			return 0;
		full++;
	}
	return all_zero(epc + full, 32 - full);
}

static int
fields_ok(const struct toll_txn *t)
{
	return t->outcome >= 1 && t->outcome <= TOLL_OUT_MAX && (t->flags & ~TOLL_TXN_F_KNOWN) == 0 &&
	       t->lane_seq >= 1 && t->time_ms >= 0 && t->utc_offset_min >= -720 &&
	       t->utc_offset_min <= 840 && epc_ok(t->epc_bits, t->epc) && t->tid_valid <= 1 &&
	       (t->tid_valid || all_zero(t->tid, 12)) && t->vclass <= 5 && t->fee_vnd >= 0 &&
	       t->entry_time_ms >= 0;
}

static void
put(struct toll_wr *w, const struct toll_txn *t, int with_sig)
{
	toll_wr_bytes(w, magic, 4);
	toll_wr_u8(w, TOLL_TXN_VERSION);
	toll_wr_u8(w, t->outcome);
	toll_wr_u16(w, t->flags);
	toll_wr_u32(w, t->station_id);
	toll_wr_u16(w, t->lane_id);
	toll_wr_u16(w, 0);
	toll_wr_u64(w, t->lane_seq);
	toll_wr_bytes(w, t->txn_id, 16);
	toll_wr_u64(w, (uint64_t)t->time_ms);
	toll_wr_u16(w, (uint16_t)t->utc_offset_min);
	toll_wr_u16(w, t->epc_bits);
	toll_wr_bytes(w, t->epc, 32);
	toll_wr_u8(w, t->tid_valid);
	toll_wr_u8(w, t->vclass);
	toll_wr_bytes(w, t->tid, 12);
	toll_wr_u16(w, (uint16_t)t->rssi_dbm_x10);
	toll_wr_u64(w, t->account_id);
	toll_wr_u32(w, t->entry_station);
	toll_wr_u64(w, (uint64_t)t->entry_time_ms);
	toll_wr_u64(w, (uint64_t)t->fee_vnd);
	toll_wr_u32(w, t->reader_boot_id);
	toll_wr_u32(w, t->reader_seq);
	toll_wr_bytes(w, t->prev_hash, 32);
	toll_wr_u32(w, t->key_id);
	if (with_sig)
		toll_wr_bytes(w, t->sig, 64);
}

int
toll_txn_encode(const struct toll_txn *t, uint8_t out[TOLL_TXN_BYTES])
{
	struct toll_wr w;

	if (!fields_ok(t))
		return TOLL_EINVAL;
	toll_wr_init(&w, out, TOLL_TXN_BYTES);
	put(&w, t, 1);
	return w.off == TOLL_TXN_BYTES ? 0 : TOLL_ENOSPACE;
}

int
toll_txn_decode(const uint8_t *buf, size_t len, struct toll_txn *t)
{
	struct toll_rd r;
	uint8_t m[4], version;
	uint16_t reserved, u16;
	uint64_t u64;

	memset(t, 0, sizeof(*t));
	if (buf == NULL || len < TOLL_TXN_BYTES)
		return TOLL_ESHORT;
	if (len > TOLL_TXN_BYTES)
		return TOLL_EFORMAT;
	toll_rd_init(&r, buf, len);
	toll_rd_bytes(&r, m, 4);
	if (memcmp(m, magic, 4) != 0)
		return TOLL_EFORMAT;
	toll_rd_u8(&r, &version);
	if (version != TOLL_TXN_VERSION)
		return TOLL_EVERSION;
	toll_rd_u8(&r, &t->outcome);
	toll_rd_u16(&r, &t->flags);
	toll_rd_u32(&r, &t->station_id);
	toll_rd_u16(&r, &t->lane_id);
	toll_rd_u16(&r, &reserved);
	toll_rd_u64(&r, &t->lane_seq);
	toll_rd_bytes(&r, t->txn_id, 16);
	toll_rd_u64(&r, &u64);
	t->time_ms = (int64_t)u64;
	toll_rd_u16(&r, &u16);
	t->utc_offset_min = (int16_t)u16;
	toll_rd_u16(&r, &t->epc_bits);
	toll_rd_bytes(&r, t->epc, 32);
	toll_rd_u8(&r, &t->tid_valid);
	toll_rd_u8(&r, &t->vclass);
	toll_rd_bytes(&r, t->tid, 12);
	toll_rd_i16(&r, &t->rssi_dbm_x10);
	toll_rd_u64(&r, &t->account_id);
	toll_rd_u32(&r, &t->entry_station);
	toll_rd_i64(&r, &t->entry_time_ms);
	toll_rd_i64(&r, &t->fee_vnd);
	toll_rd_u32(&r, &t->reader_boot_id);
	toll_rd_u32(&r, &t->reader_seq);
	toll_rd_bytes(&r, t->prev_hash, 32);
	toll_rd_u32(&r, &t->key_id);
	if (toll_rd_bytes(&r, t->sig, 64) != 0 || toll_rd_left(&r) != 0)
		return TOLL_ESHORT; /* cannot happen: the length was checked */
	if (reserved != 0 || !fields_ok(t))
		return TOLL_EFORMAT;
	return 0;
}

static void
signed_bytes(const struct toll_txn *t, uint8_t out[TOLL_TXN_SIGNED_BYTES])
{
	struct toll_wr w;
	toll_wr_init(&w, out, TOLL_TXN_SIGNED_BYTES);
	put(&w, t, 0);
}

int
toll_txn_sign(struct toll_txn *t, struct toll_signer *s)
{
	uint8_t b[TOLL_TXN_SIGNED_BYTES];

	if (!fields_ok(t))
		return TOLL_EINVAL;
	t->key_id = toll_signer_key_id(s);
	signed_bytes(t, b);
	return toll_sign(s, b, sizeof(b), t->sig);
}

int
toll_txn_verify(const struct toll_txn *t, struct toll_verifier *v)
{
	uint8_t b[TOLL_TXN_SIGNED_BYTES];

	if (!fields_ok(t))
		return TOLL_EFORMAT;
	signed_bytes(t, b);
	return toll_verify(v, b, sizeof(b), t->sig);
}

void
toll_txn_hash(const struct toll_txn *t, uint8_t out[32])
{
	uint8_t b[TOLL_TXN_BYTES];
	struct toll_wr w;

	toll_wr_init(&w, b, sizeof(b));
	put(&w, t, 1);
	toll_sha256(b, sizeof(b), out);
}

int
toll_txn_new_id(int64_t time_ms, uint8_t id[16])
{
	int rc = toll_random_bytes(id + 6, 10);
	if (rc != 0)
		return rc;
	for (int i = 0; i < 6; i++)
		id[i] = (uint8_t)((uint64_t)time_ms >> (40 - 8 * i));
	id[6] = (uint8_t)(0x70 | (id[6] & 0x0F)); /* version 7 */
	id[8] = (uint8_t)(0x80 | (id[8] & 0x3F)); /* variant */
	return 0;
}

const char *
toll_outcome_name(int outcome)
{
	static const char *const names[] = {
		NULL, "paid", "refused-balance", "refused-invalid", "no-tag",
		"exempt", "pass", "entry", "unknown-tag",
	};
	if (outcome < 1 || outcome > TOLL_OUT_MAX)
		return NULL;
	return names[outcome];
}

int
toll_txn_chain_check(struct toll_txn_chain *c, const struct toll_txn *t)
{
	static const uint8_t zero[32];

	if (!c->started) {
		/* a chain may be checked from its start or from any record */
		if (t->lane_seq == 1 && memcmp(t->prev_hash, zero, 32) != 0)
			return TOLL_ECHAIN;
	} else {
		if (t->lane_seq != c->last_seq + 1)
			return TOLL_ESEQ;
		if (memcmp(t->prev_hash, c->last_hash, 32) != 0)
			return TOLL_ECHAIN;
	}
	c->started = 1;
	c->last_seq = t->lane_seq;
	toll_txn_hash(t, c->last_hash);
	return 0;
}
