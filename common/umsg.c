/* umsg.c: the uplink messages, BATCH and ACK (docs/uplink-format.md).
 *
 * Layout, version 1, big-endian:
 *   0 magic "TOLU" | 4 version u8 | 5 type u8 | 6 reserved u16 = 0 |
 *   8 station u32 | 12 lane u16 | 14 count u16 |
 * BATCH: count x (length u16, record [length]), nothing after;
 * ACK:  16 acked seq u64 | 24 status u32 | 28 accepted u32 |
 *       32 duplicates u32 | 36 quarantined u32 | 40 reserved [8] = 0. */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "umsg.h"

static const uint8_t magic[4] = {'T', 'O', 'L', 'U'};

const char *
toll_umsg_status_name(unsigned status)
{
	switch (status) {
	case TOLL_UMSG_OK:
		return "ok";
	case TOLL_UMSG_UNKNOWN_LANE:
		return "unknown-lane";
	case TOLL_UMSG_RETRY:
		return "retry";
	case TOLL_UMSG_MALFORMED:
		return "malformed";
	case TOLL_UMSG_WRONG_LANE:
		return "wrong-lane";
	}
	return "?";
}

static int
ids_ok(uint32_t station_id, uint16_t lane_id)
{
	return station_id >= 1 && station_id <= TOLL_UMSG_STATION_MAX && lane_id >= 1;
}

static void
put_header(struct toll_wr *w, unsigned type, uint32_t station_id, uint16_t lane_id, unsigned count)
{
	toll_wr_bytes(w, magic, 4);
	toll_wr_u8(w, TOLL_UMSG_VERSION);
	toll_wr_u8(w, (uint8_t)type);
	toll_wr_u16(w, 0);
	toll_wr_u32(w, station_id);
	toll_wr_u16(w, lane_id);
	toll_wr_u16(w, (uint16_t)count);
}

static int
decode_ack(struct toll_rd *r, struct toll_umsg *m)
{
	uint8_t reserved[8];

	if (toll_rd_left(r) < TOLL_UMSG_ACK_BYTES - TOLL_UMSG_HEADER_BYTES)
		return TOLL_ESHORT;
	if (toll_rd_left(r) > TOLL_UMSG_ACK_BYTES - TOLL_UMSG_HEADER_BYTES)
		return TOLL_EFORMAT;
	m->ack.station_id = m->station_id;
	m->ack.lane_id = m->lane_id;
	toll_rd_u64(r, &m->ack.acked_seq);
	toll_rd_u32(r, &m->ack.status);
	toll_rd_u32(r, &m->ack.accepted);
	toll_rd_u32(r, &m->ack.duplicates);
	toll_rd_u32(r, &m->ack.quarantined);
	if (toll_rd_bytes(r, reserved, sizeof(reserved)) != 0)
		return TOLL_ESHORT; /* cannot happen: the length was checked */
	for (size_t i = 0; i < sizeof(reserved); i++)
		if (reserved[i] != 0)
			return TOLL_EFORMAT;
	if (m->ack.status > TOLL_UMSG_STATUS_MAX)
		return TOLL_EFORMAT;
	return 0;
}

static int
decode_batch(struct toll_rd *r, unsigned count, struct toll_umsg *m)
{
	for (unsigned i = 0; i < count; i++) {
		uint16_t n;
		int rc = toll_rd_u16(r, &n);
		if (rc != 0)
			return rc;
		if (n == 0 || n > TOLL_UMSG_RECORD_MAX)
			return TOLL_EFORMAT;
		m->rec_off[i] = (uint32_t)r->off;
		m->rec_len[i] = n;
		rc = toll_rd_skip(r, n);
		if (rc != 0)
			return rc;
	}
	if (toll_rd_left(r) != 0)
		return TOLL_EFORMAT;
	m->count = count;
	return 0;
}

int
toll_umsg_decode(const uint8_t *buf, size_t len, struct toll_umsg *m)
{
	struct toll_rd r;
	uint8_t mg[4], version, type;
	uint16_t reserved, lane_id, count;
	uint32_t station_id;

	m->type = 0;
	m->station_id = 0;
	m->lane_id = 0;
	m->count = 0;
	m->buf = buf;
	memset(&m->ack, 0, sizeof(m->ack));
	if (buf == NULL)
		return len == 0 ? TOLL_ESHORT : TOLL_EINVAL;
	toll_rd_init(&r, buf, len);
	if (toll_rd_bytes(&r, mg, 4) != 0)
		return TOLL_ESHORT;
	if (memcmp(mg, magic, 4) != 0)
		return TOLL_EFORMAT;
	if (toll_rd_u8(&r, &version) != 0)
		return TOLL_ESHORT;
	/* the version first: another version may lay out the rest otherwise */
	if (version != TOLL_UMSG_VERSION) {
		if (len >= TOLL_UMSG_HEADER_BYTES) {
			toll_rd_u8(&r, &type);
			toll_rd_u16(&r, &reserved);
			toll_rd_u32(&r, &m->station_id);
			toll_rd_u16(&r, &m->lane_id);
			m->type = type;
		}
		return TOLL_EVERSION;
	}
	if (len < TOLL_UMSG_HEADER_BYTES)
		return TOLL_ESHORT;
	toll_rd_u8(&r, &type);
	toll_rd_u16(&r, &reserved);
	toll_rd_u32(&r, &station_id);
	toll_rd_u16(&r, &lane_id);
	if (toll_rd_u16(&r, &count) != 0)
		return TOLL_ESHORT; /* cannot happen: the length was checked */
	m->type = type;
	m->station_id = station_id;
	m->lane_id = lane_id;
	if (reserved != 0 || !ids_ok(station_id, lane_id) || len > TOLL_UMSG_MAX_BYTES)
		return TOLL_EFORMAT;
	switch (type) {
	case TOLL_UMSG_BATCH:
		if (count > TOLL_UMSG_BATCH_MAX)
			return TOLL_EFORMAT;
		return decode_batch(&r, count, m);
	case TOLL_UMSG_ACK:
		if (count != 0)
			return TOLL_EFORMAT;
		return decode_ack(&r, m);
	}
	return TOLL_EFORMAT;
}

const uint8_t *
toll_umsg_record(const struct toll_umsg *m, unsigned i, size_t *len)
{
	if (m->type != TOLL_UMSG_BATCH || i >= m->count || m->buf == NULL) {
		*len = 0;
		return NULL;
	}
	*len = m->rec_len[i];
	return m->buf + m->rec_off[i];
}

size_t
toll_umsg_batch_bytes(unsigned n, size_t total_record_bytes)
{
	size_t prefixes = 2 * (size_t)n; /* overflows only where size_t is 32 bits */
	size_t fixed = TOLL_UMSG_HEADER_BYTES + prefixes;

	if (prefixes / 2 != n || fixed < prefixes || total_record_bytes > SIZE_MAX - fixed)
		return SIZE_MAX;
	return fixed + total_record_bytes;
}

int
toll_umsg_encode_batch(uint8_t *out, size_t cap, uint32_t station_id, uint16_t lane_id,
		       const uint8_t *const *recs, const size_t *lens, unsigned n, size_t *outlen)
{
	struct toll_wr w;
	size_t total = 0, need;

	if (outlen == NULL)
		return TOLL_EINVAL;
	*outlen = 0;
	if (out == NULL || !ids_ok(station_id, lane_id) || n > TOLL_UMSG_BATCH_MAX ||
	    (n > 0 && (recs == NULL || lens == NULL)))
		return TOLL_EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (recs[i] == NULL || lens[i] == 0 || lens[i] > TOLL_UMSG_RECORD_MAX)
			return TOLL_EINVAL;
		total += lens[i];
	}
	need = toll_umsg_batch_bytes(n, total);
	if (need > cap)
		return TOLL_ENOSPACE;
	toll_wr_init(&w, out, cap);
	put_header(&w, TOLL_UMSG_BATCH, station_id, lane_id, n);
	for (unsigned i = 0; i < n; i++) {
		toll_wr_u16(&w, (uint16_t)lens[i]);
		toll_wr_bytes(&w, recs[i], lens[i]);
	}
	if (w.off != need)
		return TOLL_ENOSPACE; /* cannot happen: the size was checked */
	*outlen = need;
	return 0;
}

int
toll_umsg_encode_ack(uint8_t out[TOLL_UMSG_ACK_BYTES], const struct toll_umsg_ack *a)
{
	struct toll_wr w;

	if (out == NULL || a == NULL || !ids_ok(a->station_id, a->lane_id) ||
	    a->status > TOLL_UMSG_STATUS_MAX)
		return TOLL_EINVAL;
	toll_wr_init(&w, out, TOLL_UMSG_ACK_BYTES);
	put_header(&w, TOLL_UMSG_ACK, a->station_id, a->lane_id, 0);
	toll_wr_u64(&w, a->acked_seq);
	toll_wr_u32(&w, a->status);
	toll_wr_u32(&w, a->accepted);
	toll_wr_u32(&w, a->duplicates);
	toll_wr_u32(&w, a->quarantined);
	toll_wr_zero(&w, 8);
	return w.off == TOLL_UMSG_ACK_BYTES ? 0 : TOLL_ENOSPACE;
}
