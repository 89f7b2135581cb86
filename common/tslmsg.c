/* tslmsg.c: the tag status list distribution messages
 * (docs/taglist-sync-format.md).
 *
 * Layout, versions 1 and 2, big-endian:
 *   0 magic "TOLS" | 4 version u8 | 5 type u8 | 6 reserved u16 = 0 |
 *   8 list version u64 | 16 aux u64 | 24 key id u32 | 28 count u32 |
 * DELTA, 1:     32 created ms i64 | 40 accounts u32 | 44 tags u32 |
 *               48 account records, tag records | signature [64]
 * DELTA, 2:     32 created ms i64 | 40 accounts u32 | 44 tags u32 |
 *               48 entries u32 (>= 1) |
 *               52 account records, tag records, entry records | signature [64]
 * HEARTBEAT:    32 sent ms i64 | 40 signature [64]
 * GET_DELTAS:   32 station u32 | 36 lane u16
 * DELTAS:       count x (length u32, DELTA [length])
 * GET_SNAPSHOT: 32 max bytes u32
 * SNAPSHOT:     32 total size u64 | 40 SHA-256 [32] | 72 signature [64] |
 *               136 chunk length u32 | 140 chunk
 * ERROR:        32 code u32 | 36 text length u8 | 37 text
 * A signature covers every byte of its message before it.  Only a DELTA
 * with entries is version 2; everything else is version 1. */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "tslmsg.h"

static const uint8_t magic[4] = {'T', 'O', 'L', 'S'};
static const char snapshot_context[] = "TOLS-SNAPSHOT-1"; /* 15 bytes signed, no NUL */

/* wire tag flags */
#define WF_TID 0x01
#define WF_EXEMPT 0x02
#define WF_PASS 0x04
#define WF_KNOWN 0x07

#define DELTA_RECORDS_OFF 48	/* version 1 */
#define DELTA_V2_RECORDS_OFF 52 /* version 2: after the entries count */
#define OFF_VERSION 4
#define OFF_COUNT 28
#define OFF_ACCOUNTS 40
#define OFF_TAGS 44
#define OFF_ENTRIES 48 /* version 2 */

_Static_assert(TOLL_TSL_DELTA_V2_FIXED_BYTES == DELTA_V2_RECORDS_OFF + TOLL_TSL_SIG_BYTES,
	       "version 2 fixed part");
_Static_assert(TOLL_TSL_ENTRY_MAX_BYTES == 2 + 32 + 4 + 8 + 1, "largest entry record");
_Static_assert(TOLL_TSL_ENTRY_MAX_BYTES <= TOLL_TSL_TAG_MAX_BYTES, "tags are the largest records");
/* the largest version 2 delta: one entry, the other records the largest tags */
_Static_assert((uint64_t)TOLL_TSL_DELTA_V2_FIXED_BYTES +
			       (TOLL_TSL_DELTA_MAX_RECORDS - 1) * (uint64_t)TOLL_TSL_TAG_MAX_BYTES +
			       TOLL_TSL_ENTRY_MAX_BYTES <=
		       TOLL_TSL_DELTA_MAX_BYTES,
	       "a full version 2 delta is within TOLL_TSL_DELTA_MAX_BYTES");
_Static_assert(TOLL_TSL_DELTA_MAX_BYTES + TOLL_TSL_HEADER_BYTES + 4 <= TOLL_TSL_MAX_BYTES,
	       "a full delta fits a DELTAS");

const char *
toll_tsl_type_name(unsigned type)
{
	switch (type) {
	case TOLL_TSL_DELTA:
		return "delta";
	case TOLL_TSL_HEARTBEAT:
		return "heartbeat";
	case TOLL_TSL_GET_DELTAS:
		return "get-deltas";
	case TOLL_TSL_DELTAS:
		return "deltas";
	case TOLL_TSL_GET_SNAPSHOT:
		return "get-snapshot";
	case TOLL_TSL_SNAPSHOT:
		return "snapshot";
	case TOLL_TSL_ERROR:
		return "error";
	}
	return "?";
}

const char *
toll_tsl_error_name(unsigned code)
{
	switch (code) {
	case TOLL_TSL_ERR_TOO_OLD:
		return "too-old";
	case TOLL_TSL_ERR_UNKNOWN_VERSION:
		return "unknown-version";
	case TOLL_TSL_ERR_MALFORMED:
		return "malformed";
	case TOLL_TSL_ERR_BUSY:
		return "busy";
	}
	return "?";
}

/* ---- records ---------------------------------------------------------------- */

static size_t
epc_bytes(unsigned bits)
{
	return (bits + 7) / 8;
}

static int
printable(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7E)
			return 0;
	return 1;
}

static int
account_id_ok(uint64_t id)
{
	return id >= 1 && id <= TOLL_TSL_ACCOUNT_MAX;
}

static size_t
tag_wire_bytes(const struct toll_tsl_tag *t, size_t plate_len)
{
	return 2 + epc_bytes(t->epc_bits) + 1 + (t->tid_valid ? TOLL_TSL_TID_BYTES : 0) + 8 + 3 + 1 +
	       plate_len + ((t->flags & TOLL_TSL_TAG_F_PASS) ? 8 : 0);
}

/* (bits, bytes) order of two EPCs with their bits past the length zero */
static int
epc_cmp(unsigned abits, const uint8_t *a, unsigned bbits, const uint8_t *b)
{
	if (abits != bbits)
		return abits < bbits ? -1 : 1;
	return memcmp(a, b, epc_bytes(abits));
}

static int
rd_account(struct toll_rd *r, struct toll_tsl_account *a)
{
	int rc;

	memset(a, 0, sizeof(*a));
	if ((rc = toll_rd_u64(r, &a->id)) != 0 || (rc = toll_rd_i64(r, &a->balance_vnd)) != 0)
		return rc;
	return account_id_ok(a->id) ? 0 : TOLL_ERANGE;
}

/* EPC bits and bytes, as tags and entries start; epc is zeroed by the caller */
static int
rd_epc(struct toll_rd *r, uint16_t *bits, uint8_t epc[32])
{
	size_t n;
	int rc;

	if ((rc = toll_rd_u16(r, bits)) != 0)
		return rc;
	if (*bits == 0 || *bits > TOLL_TSL_EPC_MAX_BITS)
		return TOLL_EFORMAT;
	n = epc_bytes(*bits);
	if ((rc = toll_rd_bytes(r, epc, n)) != 0)
		return rc;
	/* one encoding per EPC: the bits past its length are zero */
	if (*bits % 8 != 0 && (epc[n - 1] & (0xFFu >> (*bits % 8))) != 0)
		return TOLL_EFORMAT;
	return 0;
}

/* The builder's side: a copy of the EPC with the bits past its length
 * cleared, as the decoder wants them; bits already checked. */
static void
epc_clean(unsigned bits, const uint8_t *in, uint8_t out[32])
{
	size_t n = epc_bytes(bits);

	memset(out, 0, 32);
	memcpy(out, in, n);
	if (bits % 8 != 0)
		out[n - 1] &= (uint8_t)(0xFFu << (8 - bits % 8));
}

static int
rd_tag(struct toll_rd *r, struct toll_tsl_tag *t)
{
	uint8_t wf, cls, status, reason, plen;
	int rc;

	memset(t, 0, sizeof(*t));
	if ((rc = rd_epc(r, &t->epc_bits, t->epc)) != 0)
		return rc;
	if ((rc = toll_rd_u8(r, &wf)) != 0)
		return rc;
	if (wf & ~WF_KNOWN)
		return TOLL_EFORMAT;
	if (wf & WF_TID) {
		if ((rc = toll_rd_bytes(r, t->tid, TOLL_TSL_TID_BYTES)) != 0)
			return rc;
		t->tid_valid = 1;
	}
	if ((rc = toll_rd_u64(r, &t->account_id)) != 0)
		return rc;
	if (!account_id_ok(t->account_id))
		return TOLL_ERANGE;
	if ((rc = toll_rd_u8(r, &cls)) != 0 || (rc = toll_rd_u8(r, &status)) != 0 ||
	    (rc = toll_rd_u8(r, &reason)) != 0 || (rc = toll_rd_u8(r, &plen)) != 0)
		return rc;
	if (cls < 1 || cls > 5 || status > 2 || plen > TOLL_TSL_PLATE_MAX)
		return TOLL_EFORMAT;
	t->vclass = cls;
	t->status = status;
	t->reason = reason;
	if ((rc = toll_rd_bytes(r, t->plate, plen)) != 0)
		return rc;
	if (!printable((const uint8_t *)t->plate, plen))
		return TOLL_EFORMAT;
	if (wf & WF_PASS) {
		if ((rc = toll_rd_u32(r, &t->pass_station)) != 0 ||
		    (rc = toll_rd_u32(r, &t->pass_until_day)) != 0)
			return rc;
		if (t->pass_station == 0)
			return TOLL_EFORMAT;
	}
	t->flags = ((wf & WF_EXEMPT) ? TOLL_TSL_TAG_F_EXEMPT : 0) |
		   ((wf & WF_PASS) ? TOLL_TSL_TAG_F_PASS : 0);
	return 0;
}

static size_t
entry_wire_bytes(unsigned epc_bits)
{
	return 2 + epc_bytes(epc_bits) + 4 + 8 + 1;
}

static int
entry_fields_ok(uint32_t station, int64_t time_ms, unsigned state)
{
	return station >= 1 && station <= TOLL_TSL_STATION_MAX && time_ms > 0 &&
	       state >= TOLL_TSL_ENTRY_OPEN && state <= TOLL_TSL_ENTRY_STATE_MAX;
}

static int
rd_entry(struct toll_rd *r, struct toll_tsl_entry *e)
{
	uint8_t state;
	int rc;

	memset(e, 0, sizeof(*e));
	if ((rc = rd_epc(r, &e->epc_bits, e->epc)) != 0 || (rc = toll_rd_u32(r, &e->station)) != 0 ||
	    (rc = toll_rd_i64(r, &e->time_ms)) != 0 || (rc = toll_rd_u8(r, &state)) != 0)
		return rc;
	e->state = state;
	return entry_fields_ok(e->station, e->time_ms, e->state) ? 0 : TOLL_EFORMAT;
}

/* ---- decoding --------------------------------------------------------------- */

static int
decode_delta(struct toll_rd *r, struct toll_tsl_msg *m)
{
	struct toll_rd rec;
	struct toll_tsl_account a;
	struct toll_tsl_tag t;
	struct toll_tsl_entry e;
	uint64_t prev_id = 0;
	uint16_t prev_bits = 0;
	uint8_t prev_epc[32];
	int rc;

	if (m->list_version == 0 || m->aux != m->list_version - 1 ||
	    m->count > TOLL_TSL_DELTA_MAX_RECORDS)
		return TOLL_EFORMAT;
	if ((rc = toll_rd_i64(r, &m->created_ms)) != 0 || (rc = toll_rd_u32(r, &m->accounts)) != 0 ||
	    (rc = toll_rd_u32(r, &m->tags)) != 0)
		return rc;
	if (m->format_version == TOLL_TSL_VERSION_ENTRIES && (rc = toll_rd_u32(r, &m->entries)) != 0)
		return rc;
	if ((uint64_t)m->accounts + m->tags + m->entries != m->count)
		return TOLL_EFORMAT;
	/* one encoding per change set: without entries it is version 1 */
	if (m->format_version == TOLL_TSL_VERSION_ENTRIES && m->entries == 0)
		return TOLL_EFORMAT;
	if (toll_rd_left(r) < TOLL_TSL_SIG_BYTES)
		return TOLL_ESHORT;
	/* the records end where the signature starts */
	toll_rd_init(&rec, r->p, r->len - TOLL_TSL_SIG_BYTES);
	rec.off = r->off;
	for (uint32_t i = 0; i < m->accounts; i++) {
		if ((rc = rd_account(&rec, &a)) != 0)
			return rc;
		if (i > 0 && a.id <= prev_id)
			return TOLL_EFORMAT;
		prev_id = a.id;
	}
	m->tags_off = rec.off;
	for (uint32_t i = 0; i < m->tags; i++) {
		if ((rc = rd_tag(&rec, &t)) != 0)
			return rc;
		if (i > 0 && epc_cmp(t.epc_bits, t.epc, prev_bits, prev_epc) <= 0)
			return TOLL_EFORMAT;
		prev_bits = t.epc_bits;
		memcpy(prev_epc, t.epc, sizeof(prev_epc));
	}
	m->entries_off = rec.off;
	for (uint32_t i = 0; i < m->entries; i++) {
		if ((rc = rd_entry(&rec, &e)) != 0)
			return rc;
		/* entries have their own order, as tags: one record per EPC */
		if (i > 0 && epc_cmp(e.epc_bits, e.epc, prev_bits, prev_epc) <= 0)
			return TOLL_EFORMAT;
		prev_bits = e.epc_bits;
		memcpy(prev_epc, e.epc, sizeof(prev_epc));
	}
	if (toll_rd_left(&rec) != 0)
		return TOLL_EFORMAT;
	return 0;
}

static int
decode_heartbeat(struct toll_rd *r, struct toll_tsl_msg *m)
{
	int rc;

	if (m->aux != 0 || m->count != 0)
		return TOLL_EFORMAT;
	if ((rc = toll_rd_i64(r, &m->sent_ms)) != 0 || (rc = toll_rd_skip(r, TOLL_TSL_SIG_BYTES)) != 0)
		return rc;
	return toll_rd_left(r) == 0 ? 0 : TOLL_EFORMAT;
}

static int
decode_get_deltas(struct toll_rd *r, struct toll_tsl_msg *m)
{
	int rc;

	if (m->key_id != 0 || m->count != 0)
		return TOLL_EFORMAT;
	if ((rc = toll_rd_u32(r, &m->station_id)) != 0 || (rc = toll_rd_u16(r, &m->lane_id)) != 0)
		return rc;
	if (m->station_id < 1 || m->station_id > TOLL_TSL_STATION_MAX || m->lane_id < 1)
		return TOLL_EFORMAT;
	return toll_rd_left(r) == 0 ? 0 : TOLL_EFORMAT;
}

static int decode(const uint8_t *buf, size_t len, struct toll_tsl_msg *m, int inner);

static int
decode_deltas(struct toll_rd *r, struct toll_tsl_msg *m)
{
	struct toll_tsl_msg d;
	uint64_t first;
	uint32_t n;
	int rc;

	if (m->aux < m->list_version || m->count > m->list_version)
		return TOLL_EFORMAT;
	first = m->list_version - m->count + 1;
	for (uint32_t i = 0; i < m->count; i++) {
		if ((rc = toll_rd_u32(r, &n)) != 0)
			return rc;
		if (toll_rd_left(r) < n)
			return TOLL_ESHORT;
		rc = decode(r->p + r->off, n, &d, 1);
		if (rc != 0)
			return rc == TOLL_ESHORT ? TOLL_EFORMAT : rc; /* its length said so */
		if (d.list_version != first + i)
			return TOLL_EFORMAT;
		r->off += n;
	}
	return toll_rd_left(r) == 0 ? 0 : TOLL_EFORMAT;
}

static int
decode_get_snapshot(struct toll_rd *r, struct toll_tsl_msg *m)
{
	int rc;

	if (m->key_id != 0 || m->count != 0)
		return TOLL_EFORMAT;
	if ((rc = toll_rd_u32(r, &m->max_bytes)) != 0)
		return rc;
	if (m->max_bytes == 0)
		return TOLL_EFORMAT;
	return toll_rd_left(r) == 0 ? 0 : TOLL_EFORMAT;
}

static int
snapshot_fields_ok(uint64_t version, uint64_t offset, uint64_t total, uint64_t chunk_len)
{
	return version >= 1 && total >= 1 && offset <= total && chunk_len <= total - offset &&
	       (chunk_len > 0 || offset == total) && chunk_len <= TOLL_TSL_SNAPSHOT_CHUNK_MAX;
}

static int
decode_snapshot(struct toll_rd *r, struct toll_tsl_msg *m)
{
	int rc;

	if (m->count != 0)
		return TOLL_EFORMAT;
	if ((rc = toll_rd_u64(r, &m->total_bytes)) != 0 || (rc = toll_rd_bytes(r, m->sha256, 32)) != 0 ||
	    (rc = toll_rd_bytes(r, m->snapshot_sig, 64)) != 0 ||
	    (rc = toll_rd_u32(r, &m->chunk_len)) != 0)
		return rc;
	if (toll_rd_left(r) < m->chunk_len)
		return TOLL_ESHORT;
	if (toll_rd_left(r) > m->chunk_len ||
	    !snapshot_fields_ok(m->list_version, m->aux, m->total_bytes, m->chunk_len))
		return TOLL_EFORMAT;
	m->chunk = r->p + r->off;
	r->off += m->chunk_len;
	return 0;
}

static int
decode_error(struct toll_rd *r, struct toll_tsl_msg *m)
{
	uint8_t n;
	int rc;

	if (m->aux != 0 || m->count != 0)
		return TOLL_EFORMAT;
	if ((rc = toll_rd_u32(r, &m->error_code)) != 0 || (rc = toll_rd_u8(r, &n)) != 0 ||
	    (rc = toll_rd_bytes(r, m->text, n)) != 0)
		return rc;
	if (m->error_code < 1 || m->error_code > TOLL_TSL_ERR_MAX ||
	    !printable((const uint8_t *)m->text, n))
		return TOLL_EFORMAT;
	return toll_rd_left(r) == 0 ? 0 : TOLL_EFORMAT;
}

static int
decode_body(struct toll_rd *r, struct toll_tsl_msg *m, int inner)
{
	if (inner && m->type != TOLL_TSL_DELTA)
		return TOLL_EFORMAT;
	switch (m->type) {
	case TOLL_TSL_DELTA:
		return decode_delta(r, m);
	case TOLL_TSL_HEARTBEAT:
		return decode_heartbeat(r, m);
	case TOLL_TSL_GET_DELTAS:
		return decode_get_deltas(r, m);
	case TOLL_TSL_DELTAS:
		return decode_deltas(r, m);
	case TOLL_TSL_GET_SNAPSHOT:
		return decode_get_snapshot(r, m);
	case TOLL_TSL_SNAPSHOT:
		return decode_snapshot(r, m);
	case TOLL_TSL_ERROR:
		return decode_error(r, m);
	}
	return TOLL_EFORMAT;
}

/* inner: a DELTA inside a DELTAS, where nothing else may be */
static int
decode(const uint8_t *buf, size_t len, struct toll_tsl_msg *m, int inner)
{
	struct toll_rd r;
	uint8_t mg[4], version, type = 0;
	uint16_t reserved = 0;
	int rc;

	memset(m, 0, sizeof(*m));
	if (buf == NULL)
		return len == 0 ? TOLL_ESHORT : TOLL_EINVAL;
	toll_rd_init(&r, buf, len);
	if (toll_rd_bytes(&r, mg, 4) != 0)
		return TOLL_ESHORT;
	if (memcmp(mg, magic, 4) != 0)
		return TOLL_EFORMAT;
	if (toll_rd_u8(&r, &version) != 0)
		return TOLL_ESHORT;
	if (len >= TOLL_TSL_HEADER_BYTES) {
		toll_rd_u8(&r, &type);
		toll_rd_u16(&r, &reserved);
		toll_rd_u64(&r, &m->list_version);
		toll_rd_u64(&r, &m->aux);
		toll_rd_u32(&r, &m->key_id);
		toll_rd_u32(&r, &m->count);
		m->type = type;
		m->format_version = version;
	}
	/* the version first: another version may lay out the rest otherwise */
	if (version != TOLL_TSL_VERSION && version != TOLL_TSL_VERSION_ENTRIES)
		return TOLL_EVERSION;
	if (len < TOLL_TSL_HEADER_BYTES)
		return TOLL_ESHORT;
	/* version 2 is a DELTA's layout only: no other type has one (yet) */
	if (version == TOLL_TSL_VERSION_ENTRIES && type != TOLL_TSL_DELTA)
		return TOLL_EVERSION;
	if (reserved != 0 || len > TOLL_TSL_MAX_BYTES)
		return TOLL_EFORMAT;
	m->buf = buf;
	m->len = len;
	rc = decode_body(&r, m, inner);
	if (rc != 0) {
		/* keep the header, forget the half-read body */
		struct toll_tsl_msg h = *m;
		memset(m, 0, sizeof(*m));
		m->type = h.type;
		m->format_version = h.format_version;
		m->list_version = h.list_version;
		m->aux = h.aux;
		m->key_id = h.key_id;
		m->count = h.count;
	}
	return rc;
}

int
toll_tsl_decode(const uint8_t *buf, size_t len, struct toll_tsl_msg *m)
{
	return decode(buf, len, m, 0);
}

/* ---- signatures ------------------------------------------------------------- */

static void
snapshot_signed(uint8_t out[63], uint64_t version, uint64_t total_bytes, const uint8_t sha256[32])
{
	struct toll_wr w;

	toll_wr_init(&w, out, 63);
	toll_wr_bytes(&w, snapshot_context, sizeof(snapshot_context) - 1);
	toll_wr_u64(&w, version);
	toll_wr_u64(&w, total_bytes);
	toll_wr_bytes(&w, sha256, 32);
}

int
toll_tsl_snapshot_sign(struct toll_signer *s, uint64_t version, uint64_t total_bytes,
		       const uint8_t sha256[32], uint8_t sig[64])
{
	uint8_t b[63];

	if (s == NULL || sha256 == NULL || sig == NULL)
		return TOLL_EINVAL;
	snapshot_signed(b, version, total_bytes, sha256);
	return toll_sign(s, b, sizeof(b), sig);
}

int
toll_tsl_snapshot_verify(struct toll_verifier *v, uint64_t version, uint64_t total_bytes,
			 const uint8_t sha256[32], const uint8_t sig[64])
{
	uint8_t b[63];

	if (v == NULL || sha256 == NULL || sig == NULL)
		return TOLL_EINVAL;
	snapshot_signed(b, version, total_bytes, sha256);
	return toll_verify(v, b, sizeof(b), sig);
}

static int
verify_tail(struct toll_verifier *v, const uint8_t *p, size_t len)
{
	return toll_verify(v, p, len - TOLL_TSL_SIG_BYTES, p + len - TOLL_TSL_SIG_BYTES);
}

int
toll_tsl_verify(const uint8_t *buf, size_t len, struct toll_verifier *v)
{
	struct toll_tsl_msg m;
	struct toll_tsl_iter it;
	const uint8_t *d;
	size_t n;
	int rc = toll_tsl_decode(buf, len, &m);

	if (rc != 0)
		return rc;
	if (v == NULL)
		return TOLL_EINVAL;
	switch (m.type) {
	case TOLL_TSL_DELTA:
	case TOLL_TSL_HEARTBEAT:
		return verify_tail(v, buf, len);
	case TOLL_TSL_SNAPSHOT:
		return toll_tsl_snapshot_verify(v, m.list_version, m.total_bytes, m.sha256,
						m.snapshot_sig);
	case TOLL_TSL_DELTAS:
		toll_tsl_deltas(&m, &it);
		while (toll_tsl_next_delta(&it, &d, &n) == 0)
			if ((rc = verify_tail(v, d, n)) != 0)
				return rc;
		return 0;
	}
	return TOLL_EINVAL;
}

/* ---- iterators -------------------------------------------------------------- */

static int
iter_set(struct toll_tsl_iter *it, const struct toll_tsl_msg *m, size_t off, size_t end, uint32_t n)
{
	if (m->buf == NULL || off > end || end > m->len) {
		memset(it, 0, sizeof(*it));
		return TOLL_EINVAL;
	}
	it->buf = m->buf;
	it->off = off;
	it->end = end;
	it->left = n;
	return 0;
}

int
toll_tsl_accounts(const struct toll_tsl_msg *m, struct toll_tsl_iter *it)
{
	if (m->type != TOLL_TSL_DELTA)
		return iter_set(it, m, 1, 0, 0);
	return iter_set(it, m,
			m->format_version == TOLL_TSL_VERSION_ENTRIES ? DELTA_V2_RECORDS_OFF
								      : DELTA_RECORDS_OFF,
			m->tags_off, m->accounts);
}

int
toll_tsl_tags(const struct toll_tsl_msg *m, struct toll_tsl_iter *it)
{
	if (m->type != TOLL_TSL_DELTA)
		return iter_set(it, m, 1, 0, 0);
	return iter_set(it, m, m->tags_off, m->entries_off, m->tags);
}

int
toll_tsl_entries(const struct toll_tsl_msg *m, struct toll_tsl_iter *it)
{
	if (m->type != TOLL_TSL_DELTA || m->len < TOLL_TSL_DELTA_MIN_BYTES)
		return iter_set(it, m, 1, 0, 0);
	return iter_set(it, m, m->entries_off, m->len - TOLL_TSL_SIG_BYTES, m->entries);
}

int
toll_tsl_deltas(const struct toll_tsl_msg *m, struct toll_tsl_iter *it)
{
	if (m->type != TOLL_TSL_DELTAS)
		return iter_set(it, m, 1, 0, 0);
	return iter_set(it, m, TOLL_TSL_HEADER_BYTES, m->len, m->count);
}

/* A reader over the iterator's remaining bytes; NULL when it is done. */
static struct toll_rd *
iter_rd(struct toll_tsl_iter *it, struct toll_rd *r)
{
	if (it->left == 0 || it->buf == NULL || it->off > it->end)
		return NULL;
	toll_rd_init(r, it->buf, it->end);
	r->off = it->off;
	return r;
}

static int
iter_step(struct toll_tsl_iter *it, const struct toll_rd *r, int rc)
{
	if (rc != 0) {
		it->left = 0; /* cannot happen after a successful decode */
		return rc;
	}
	it->off = r->off;
	it->left--;
	return 0;
}

int
toll_tsl_next_account(struct toll_tsl_iter *it, struct toll_tsl_account *a)
{
	struct toll_rd r;

	if (iter_rd(it, &r) == NULL)
		return TOLL_EEMPTY;
	return iter_step(it, &r, rd_account(&r, a));
}

int
toll_tsl_next_tag(struct toll_tsl_iter *it, struct toll_tsl_tag *t)
{
	struct toll_rd r;

	if (iter_rd(it, &r) == NULL)
		return TOLL_EEMPTY;
	return iter_step(it, &r, rd_tag(&r, t));
}

int
toll_tsl_next_entry(struct toll_tsl_iter *it, struct toll_tsl_entry *e)
{
	struct toll_rd r;

	if (iter_rd(it, &r) == NULL)
		return TOLL_EEMPTY;
	return iter_step(it, &r, rd_entry(&r, e));
}

int
toll_tsl_next_delta(struct toll_tsl_iter *it, const uint8_t **delta, size_t *len)
{
	struct toll_rd r;
	uint32_t n;
	int rc;

	*delta = NULL;
	*len = 0;
	if (iter_rd(it, &r) == NULL)
		return TOLL_EEMPTY;
	rc = toll_rd_u32(&r, &n);
	if (rc == 0 && toll_rd_left(&r) < n)
		rc = TOLL_ESHORT;
	if (rc == 0) {
		*delta = r.p + r.off;
		*len = n;
		r.off += n;
	}
	return iter_step(it, &r, rc);
}

/* ---- encoding --------------------------------------------------------------- */

static void
put_header(struct toll_wr *w, unsigned type, uint64_t list_version, uint64_t aux, uint32_t key_id,
	   uint32_t count)
{
	toll_wr_bytes(w, magic, 4);
	toll_wr_u8(w, TOLL_TSL_VERSION);
	toll_wr_u8(w, (uint8_t)type);
	toll_wr_u16(w, 0);
	toll_wr_u64(w, list_version);
	toll_wr_u64(w, aux);
	toll_wr_u32(w, key_id);
	toll_wr_u32(w, count);
}

static void
put_u32_at(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static size_t
clamp_cap(size_t cap)
{
	return cap > TOLL_TSL_MAX_BYTES ? TOLL_TSL_MAX_BYTES : cap;
}

static int
signed_begin(struct toll_tsl_builder *b, uint8_t *buf, size_t cap, unsigned type, uint64_t version,
	     uint64_t aux, int64_t time_ms, uint32_t key_id, size_t min)
{
	struct toll_wr w;

	if (b == NULL)
		return TOLL_EINVAL;
	memset(b, 0, sizeof(*b));
	if (buf == NULL)
		return TOLL_EINVAL;
	if (cap < min)
		return TOLL_ENOSPACE;
	b->buf = buf;
	b->cap = clamp_cap(cap);
	b->key_id = key_id;
	b->version = version;
	toll_wr_init(&w, buf, b->cap);
	put_header(&w, type, version, aux, key_id, 0);
	toll_wr_u64(&w, (uint64_t)time_ms);
	if (type == TOLL_TSL_DELTA) {
		toll_wr_u32(&w, 0);
		toll_wr_u32(&w, 0);
	}
	b->off = w.off;
	b->type = type;
	return 0;
}

int
toll_tsl_delta_begin(struct toll_tsl_builder *b, uint8_t *buf, size_t cap, uint64_t version,
		     int64_t created_ms, uint32_t key_id)
{
	if (version == 0) {
		if (b != NULL)
			memset(b, 0, sizeof(*b));
		return TOLL_EINVAL;
	}
	return signed_begin(b, buf, cap, TOLL_TSL_DELTA, version, version - 1, created_ms, key_id,
			    TOLL_TSL_DELTA_MIN_BYTES);
}

int
toll_tsl_heartbeat_begin(struct toll_tsl_builder *b, uint8_t *buf, size_t cap, uint64_t version,
			 int64_t sent_ms, uint32_t key_id)
{
	return signed_begin(b, buf, cap, TOLL_TSL_HEARTBEAT, version, 0, sent_ms, key_id,
			    TOLL_TSL_HEARTBEAT_BYTES);
}

/* Room for n more bytes of records and the signature, and one more record. */
static int
delta_room(const struct toll_tsl_builder *b, size_t n)
{
	if ((uint64_t)b->accounts + b->tags + b->entries >= TOLL_TSL_DELTA_MAX_RECORDS)
		return TOLL_ENOSPACE;
	return b->cap - b->off >= n + TOLL_TSL_SIG_BYTES ? 0 : TOLL_ENOSPACE;
}

static void
delta_counts(struct toll_tsl_builder *b)
{
	put_u32_at(b->buf + OFF_COUNT, b->accounts + b->tags + b->entries);
	put_u32_at(b->buf + OFF_ACCOUNTS, b->accounts);
	put_u32_at(b->buf + OFF_TAGS, b->tags);
	if (b->entries > 0)
		put_u32_at(b->buf + OFF_ENTRIES, b->entries);
}

int
toll_tsl_delta_add_account(struct toll_tsl_builder *b, const struct toll_tsl_account *a)
{
	struct toll_wr w;
	int rc;

	if (b == NULL || a == NULL || b->type != TOLL_TSL_DELTA)
		return TOLL_EINVAL;
	if (!account_id_ok(a->id))
		return TOLL_ERANGE;
	if (b->tags > 0 || b->entries > 0 || (b->accounts > 0 && a->id <= b->prev_account))
		return TOLL_ESEQ;
	if ((rc = delta_room(b, TOLL_TSL_ACCOUNT_BYTES)) != 0)
		return rc;
	toll_wr_init(&w, b->buf + b->off, TOLL_TSL_ACCOUNT_BYTES);
	toll_wr_u64(&w, a->id);
	toll_wr_u64(&w, (uint64_t)a->balance_vnd);
	b->off += TOLL_TSL_ACCOUNT_BYTES;
	b->accounts++;
	b->prev_account = a->id;
	delta_counts(b);
	return 0;
}

int
toll_tsl_delta_add_tag(struct toll_tsl_builder *b, const struct toll_tsl_tag *t)
{
	uint8_t epc[32] = {0};
	struct toll_wr w;
	size_t n, plen, need;
	int rc;

	if (b == NULL || t == NULL || b->type != TOLL_TSL_DELTA)
		return TOLL_EINVAL;
	plen = strnlen(t->plate, sizeof(t->plate));
	if (t->epc_bits == 0 || t->epc_bits > TOLL_TSL_EPC_MAX_BITS || t->vclass < 1 || t->vclass > 5 ||
	    t->status > 2 || t->reason > 255 ||
	    (t->flags & ~(unsigned)(TOLL_TSL_TAG_F_EXEMPT | TOLL_TSL_TAG_F_PASS)) ||
	    plen > TOLL_TSL_PLATE_MAX || !printable((const uint8_t *)t->plate, plen) ||
	    ((t->flags & TOLL_TSL_TAG_F_PASS) ? t->pass_station == 0
					      : (t->pass_station != 0 || t->pass_until_day != 0)))
		return TOLL_EINVAL;
	if (!account_id_ok(t->account_id))
		return TOLL_ERANGE;
	n = epc_bytes(t->epc_bits);
	epc_clean(t->epc_bits, t->epc, epc);
	if (b->entries > 0 || (b->tags > 0 && epc_cmp(t->epc_bits, epc, b->prev_bits, b->prev_epc) <= 0))
		return TOLL_ESEQ;
	need = tag_wire_bytes(t, plen);
	if ((rc = delta_room(b, need)) != 0)
		return rc;
	toll_wr_init(&w, b->buf + b->off, need);
	toll_wr_u16(&w, t->epc_bits);
	toll_wr_bytes(&w, epc, n);
	toll_wr_u8(&w, (uint8_t)((t->tid_valid ? WF_TID : 0) |
				 ((t->flags & TOLL_TSL_TAG_F_EXEMPT) ? WF_EXEMPT : 0) |
				 ((t->flags & TOLL_TSL_TAG_F_PASS) ? WF_PASS : 0)));
	if (t->tid_valid)
		toll_wr_bytes(&w, t->tid, TOLL_TSL_TID_BYTES);
	toll_wr_u64(&w, t->account_id);
	toll_wr_u8(&w, (uint8_t)t->vclass);
	toll_wr_u8(&w, (uint8_t)t->status);
	toll_wr_u8(&w, (uint8_t)t->reason);
	toll_wr_u8(&w, (uint8_t)plen);
	toll_wr_bytes(&w, t->plate, plen);
	if (t->flags & TOLL_TSL_TAG_F_PASS) {
		toll_wr_u32(&w, t->pass_station);
		toll_wr_u32(&w, t->pass_until_day);
	}
	if (w.off != need)
		return TOLL_ENOSPACE; /* cannot happen: the size was computed */
	b->off += need;
	b->tags++;
	b->prev_bits = t->epc_bits;
	memcpy(b->prev_epc, epc, sizeof(epc));
	delta_counts(b);
	return 0;
}

int
toll_tsl_delta_add_entry(struct toll_tsl_builder *b, const struct toll_tsl_entry *e)
{
	uint8_t epc[32];
	struct toll_wr w;
	size_t need, grow;
	int rc;

	if (b == NULL || e == NULL || b->type != TOLL_TSL_DELTA)
		return TOLL_EINVAL;
	if (e->epc_bits == 0 || e->epc_bits > TOLL_TSL_EPC_MAX_BITS ||
	    !entry_fields_ok(e->station, e->time_ms, e->state))
		return TOLL_EINVAL;
	epc_clean(e->epc_bits, e->epc, epc);
	if (b->entries > 0 && epc_cmp(e->epc_bits, epc, b->prev_bits, b->prev_epc) <= 0)
		return TOLL_ESEQ;
	need = entry_wire_bytes(e->epc_bits);
	/* the first entry makes it a version 2 delta: 4 bytes of entries count */
	grow = b->entries == 0 ? 4 : 0;
	if ((rc = delta_room(b, grow + need)) != 0)
		return rc;
	/* nothing fails past here, so a failed add changed nothing */
	if (grow) {
		memmove(b->buf + DELTA_V2_RECORDS_OFF, b->buf + DELTA_RECORDS_OFF,
			b->off - DELTA_RECORDS_OFF);
		b->buf[OFF_VERSION] = TOLL_TSL_VERSION_ENTRIES;
		b->off += grow;
	}
	toll_wr_init(&w, b->buf + b->off, need);
	toll_wr_u16(&w, e->epc_bits);
	toll_wr_bytes(&w, epc, epc_bytes(e->epc_bits));
	toll_wr_u32(&w, e->station);
	toll_wr_u64(&w, (uint64_t)e->time_ms);
	toll_wr_u8(&w, (uint8_t)e->state);
	b->off += need;
	b->entries++;
	b->prev_bits = e->epc_bits;
	memcpy(b->prev_epc, epc, sizeof(epc));
	delta_counts(b);
	return 0;
}

const uint8_t *
toll_tsl_signed_bytes(const struct toll_tsl_builder *b, size_t *len)
{
	if (b == NULL || (b->type != TOLL_TSL_DELTA && b->type != TOLL_TSL_HEARTBEAT)) {
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	if (len != NULL)
		*len = b->off;
	return b->buf;
}

static int
finish_signed(struct toll_tsl_builder *b, struct toll_signer *s, const uint8_t *sig, size_t *outlen)
{
	int rc;

	if (outlen == NULL)
		return TOLL_EINVAL;
	*outlen = 0;
	if (b == NULL || (b->type != TOLL_TSL_DELTA && b->type != TOLL_TSL_HEARTBEAT) ||
	    (s == NULL && sig == NULL))
		return TOLL_EINVAL;
	if (s != NULL && toll_signer_key_id(s) != b->key_id)
		return TOLL_EINVAL;
	/* begin and add kept room for the signature */
	if (b->cap - b->off < TOLL_TSL_SIG_BYTES)
		return TOLL_ENOSPACE;
	if (s != NULL) {
		if ((rc = toll_sign(s, b->buf, b->off, b->buf + b->off)) != 0)
			return rc;
	} else {
		memcpy(b->buf + b->off, sig, TOLL_TSL_SIG_BYTES);
	}
	b->off += TOLL_TSL_SIG_BYTES;
	b->type = 0;
	*outlen = b->off;
	return 0;
}

int
toll_tsl_finish(struct toll_tsl_builder *b, struct toll_signer *s, size_t *outlen)
{
	if (s == NULL) {
		if (outlen != NULL)
			*outlen = 0;
		return TOLL_EINVAL;
	}
	return finish_signed(b, s, NULL, outlen);
}

int
toll_tsl_finish_sig(struct toll_tsl_builder *b, const uint8_t sig[64], size_t *outlen)
{
	if (sig == NULL) {
		if (outlen != NULL)
			*outlen = 0;
		return TOLL_EINVAL;
	}
	return finish_signed(b, NULL, sig, outlen);
}

int
toll_tsl_encode_heartbeat(uint8_t *out, size_t cap, uint64_t version, int64_t sent_ms,
			  struct toll_signer *s, size_t *outlen)
{
	struct toll_tsl_builder b;
	int rc;

	if (outlen == NULL)
		return TOLL_EINVAL;
	*outlen = 0;
	if (s == NULL)
		return TOLL_EINVAL;
	if ((rc = toll_tsl_heartbeat_begin(&b, out, cap, version, sent_ms, toll_signer_key_id(s))) != 0)
		return rc;
	return toll_tsl_finish(&b, s, outlen);
}

int
toll_tsl_deltas_begin(struct toll_tsl_builder *b, uint8_t *buf, size_t cap, uint64_t have_version,
		      uint64_t latest, uint32_t key_id)
{
	if (b == NULL)
		return TOLL_EINVAL;
	memset(b, 0, sizeof(*b));
	if (buf == NULL || latest < have_version)
		return TOLL_EINVAL;
	if (cap < TOLL_TSL_HEADER_BYTES)
		return TOLL_ENOSPACE;
	b->buf = buf;
	b->cap = clamp_cap(cap);
	b->off = TOLL_TSL_HEADER_BYTES;
	b->type = TOLL_TSL_DELTAS;
	b->key_id = key_id;
	b->version = have_version;
	b->latest = latest;
	return 0;
}

int
toll_tsl_deltas_add(struct toll_tsl_builder *b, const uint8_t *delta, size_t len)
{
	struct toll_tsl_msg d;
	struct toll_wr w;

	if (b == NULL || b->type != TOLL_TSL_DELTAS)
		return TOLL_EINVAL;
	if (decode(delta, len, &d, 1) != 0)
		return TOLL_EINVAL;
	if (d.aux != b->version)
		return TOLL_ESEQ;
	if (d.list_version > b->latest)
		return TOLL_EINVAL;
	if (b->cap - b->off < 4 || b->cap - b->off - 4 < len)
		return TOLL_ENOSPACE;
	toll_wr_init(&w, b->buf + b->off, 4 + len);
	toll_wr_u32(&w, (uint32_t)len);
	toll_wr_bytes(&w, delta, len);
	b->off += 4 + len;
	b->version = d.list_version;
	b->deltas++;
	return 0;
}

int
toll_tsl_deltas_finish(struct toll_tsl_builder *b, size_t *outlen)
{
	struct toll_wr w;

	if (outlen == NULL)
		return TOLL_EINVAL;
	*outlen = 0;
	if (b == NULL || b->type != TOLL_TSL_DELTAS || b->latest < b->version)
		return TOLL_EINVAL;
	toll_wr_init(&w, b->buf, TOLL_TSL_HEADER_BYTES);
	put_header(&w, TOLL_TSL_DELTAS, b->version, b->latest, b->key_id, b->deltas);
	b->type = 0;
	*outlen = b->off;
	return 0;
}

/* Check the arguments every simple encoder has; a writer over out. */
static int
simple_begin(uint8_t *out, size_t cap, size_t need, size_t *outlen, struct toll_wr *w)
{
	if (outlen == NULL)
		return TOLL_EINVAL;
	*outlen = 0;
	if (out == NULL)
		return TOLL_EINVAL;
	if (cap < need)
		return TOLL_ENOSPACE;
	toll_wr_init(w, out, need);
	return 0;
}

static int
simple_end(const struct toll_wr *w, size_t need, size_t *outlen)
{
	if (w->off != need)
		return TOLL_ENOSPACE; /* cannot happen: the size was checked */
	*outlen = need;
	return 0;
}

int
toll_tsl_encode_get_deltas(uint8_t *out, size_t cap, uint64_t have_version, uint64_t max_deltas,
			   uint32_t station_id, uint16_t lane_id, size_t *outlen)
{
	struct toll_wr w;
	int rc;

	if (outlen != NULL)
		*outlen = 0;
	if (station_id < 1 || station_id > TOLL_TSL_STATION_MAX || lane_id < 1)
		return TOLL_EINVAL;
	if ((rc = simple_begin(out, cap, TOLL_TSL_GET_DELTAS_BYTES, outlen, &w)) != 0)
		return rc;
	put_header(&w, TOLL_TSL_GET_DELTAS, have_version, max_deltas, 0, 0);
	toll_wr_u32(&w, station_id);
	toll_wr_u16(&w, lane_id);
	return simple_end(&w, TOLL_TSL_GET_DELTAS_BYTES, outlen);
}

int
toll_tsl_encode_get_snapshot(uint8_t *out, size_t cap, uint64_t version, uint64_t offset,
			     uint32_t max_bytes, size_t *outlen)
{
	struct toll_wr w;
	int rc;

	if (outlen != NULL)
		*outlen = 0;
	if (max_bytes == 0)
		return TOLL_EINVAL;
	if ((rc = simple_begin(out, cap, TOLL_TSL_GET_SNAPSHOT_BYTES, outlen, &w)) != 0)
		return rc;
	put_header(&w, TOLL_TSL_GET_SNAPSHOT, version, offset, 0, 0);
	toll_wr_u32(&w, max_bytes);
	return simple_end(&w, TOLL_TSL_GET_SNAPSHOT_BYTES, outlen);
}

int
toll_tsl_encode_snapshot(uint8_t *out, size_t cap, uint64_t version, uint64_t offset,
			 uint64_t total_bytes, const uint8_t sha256[32], const uint8_t sig[64],
			 uint32_t key_id, const uint8_t *chunk, uint32_t chunk_len, size_t *outlen)
{
	struct toll_wr w;
	size_t need = TOLL_TSL_SNAPSHOT_FIXED_BYTES + (size_t)chunk_len;
	int rc;

	if (outlen != NULL)
		*outlen = 0;
	if (sha256 == NULL || sig == NULL || (chunk == NULL && chunk_len > 0) ||
	    !snapshot_fields_ok(version, offset, total_bytes, chunk_len))
		return TOLL_EINVAL;
	if ((rc = simple_begin(out, cap, need, outlen, &w)) != 0)
		return rc;
	put_header(&w, TOLL_TSL_SNAPSHOT, version, offset, key_id, 0);
	toll_wr_u64(&w, total_bytes);
	toll_wr_bytes(&w, sha256, 32);
	toll_wr_bytes(&w, sig, 64);
	toll_wr_u32(&w, chunk_len);
	if (chunk_len > 0)
		toll_wr_bytes(&w, chunk, chunk_len);
	return simple_end(&w, need, outlen);
}

int
toll_tsl_encode_error(uint8_t *out, size_t cap, uint64_t latest, uint32_t key_id, unsigned code,
		      const char *text, size_t *outlen)
{
	struct toll_wr w;
	size_t n = text != NULL ? strnlen(text, TOLL_TSL_ERROR_TEXT_MAX) : 0;
	size_t need = TOLL_TSL_HEADER_BYTES + 4 + 1 + n;
	int rc;

	if (outlen != NULL)
		*outlen = 0;
	if (code < 1 || code > TOLL_TSL_ERR_MAX)
		return TOLL_EINVAL;
	if ((rc = simple_begin(out, cap, need, outlen, &w)) != 0)
		return rc;
	put_header(&w, TOLL_TSL_ERROR, latest, 0, key_id, 0);
	toll_wr_u32(&w, code);
	toll_wr_u8(&w, (uint8_t)n);
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)text[i];
		toll_wr_u8(&w, c >= 0x20 && c <= 0x7E ? c : '?');
	}
	return simple_end(&w, need, outlen);
}
