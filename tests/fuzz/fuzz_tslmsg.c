/* fuzz_tslmsg.c: the tag status list message decoder takes any bytes;
 * whatever it accepts encodes back to the same bytes (signed types with the
 * decoded signature appended, DELTAS from its decoded deltas), and the
 * iterators stay inside the buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "tslmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[TOLL_TSL_MAX_BYTES];
static uint8_t inner[TOLL_TSL_DELTA_MAX_BYTES]; /* a DELTA inside a DELTAS */

static void
check_inside(const struct toll_tsl_iter *it, const uint8_t *data, size_t size)
{
	if (it->buf != data || it->off > it->end || it->end > size)
		abort();
}

/* Rebuild a decoded DELTA from its records and signature into buf: the
 * same bytes. */
static void
redo_delta(const struct toll_tsl_msg *m, const uint8_t *data, size_t size, uint8_t *buf, size_t cap)
{
	struct toll_tsl_builder b;
	struct toll_tsl_iter it;
	struct toll_tsl_account a;
	struct toll_tsl_tag t;
	struct toll_tsl_entry e;
	uint32_t na = 0, nt = 0, ne = 0;
	size_t len;

	if (toll_tsl_delta_begin(&b, buf, cap, m->list_version, m->created_ms, m->key_id) != 0)
		abort();
	if (toll_tsl_accounts(m, &it) != 0)
		abort();
	while (toll_tsl_next_account(&it, &a) == 0) {
		check_inside(&it, data, size);
		if (toll_tsl_delta_add_account(&b, &a) != 0)
			abort();
		na++;
	}
	if (it.off != m->tags_off || toll_tsl_tags(m, &it) != 0)
		abort();
	while (toll_tsl_next_tag(&it, &t) == 0) {
		check_inside(&it, data, size);
		if (toll_tsl_delta_add_tag(&b, &t) != 0)
			abort();
		nt++;
	}
	if (it.off != m->entries_off || toll_tsl_entries(m, &it) != 0)
		abort();
	while (toll_tsl_next_entry(&it, &e) == 0) {
		check_inside(&it, data, size);
		if (toll_tsl_delta_add_entry(&b, &e) != 0)
			abort();
		ne++;
	}
	/* the builder chose the version byte: the same as the message's */
	if (na != m->accounts || nt != m->tags || ne != m->entries ||
	    it.off != size - TOLL_TSL_SIG_BYTES ||
	    m->format_version != (ne > 0 ? TOLL_TSL_VERSION_ENTRIES : TOLL_TSL_VERSION))
		abort();
	if (toll_tsl_finish_sig(&b, data + size - TOLL_TSL_SIG_BYTES, &len) != 0 || len != size ||
	    memcmp(buf, data, size) != 0)
		abort();
}

static void
redo_deltas(const struct toll_tsl_msg *m, const uint8_t *data, size_t size)
{
	static struct toll_tsl_msg d; /* the outer message is the caller's */
	struct toll_tsl_builder b;
	struct toll_tsl_iter it;
	const uint8_t *p;
	size_t n, len;
	uint32_t count = 0;

	if (m->count > m->list_version)
		abort();
	if (toll_tsl_deltas_begin(&b, out, sizeof(out), m->list_version - m->count, m->aux, m->key_id) !=
	    0)
		abort();
	if (toll_tsl_deltas(m, &it) != 0)
		abort();
	while (toll_tsl_next_delta(&it, &p, &n) == 0) {
		check_inside(&it, data, size);
		if (p < data + TOLL_TSL_HEADER_BYTES + 4 || n > size || p + n > data + size)
			abort();
		if (toll_tsl_decode(p, n, &d) != 0 || d.type != TOLL_TSL_DELTA)
			abort();
		redo_delta(&d, p, n, inner, sizeof(inner));
		if (toll_tsl_deltas_add(&b, p, n) != 0)
			abort();
		count++;
	}
	if (count != m->count || it.off != size)
		abort();
	if (toll_tsl_deltas_finish(&b, &len) != 0 || len != size || memcmp(out, data, size) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct toll_tsl_msg m;
	struct toll_tsl_builder b;
	struct toll_tsl_iter it;
	size_t len = 0;
	int rc;

	if (toll_tsl_decode(data, size, &m) != 0) {
		/* a refused message leaves nothing to iterate */
		struct toll_tsl_account a;
		struct toll_tsl_tag t;
		struct toll_tsl_entry e;
		const uint8_t *p;
		toll_tsl_accounts(&m, &it);
		if (toll_tsl_next_account(&it, &a) != TOLL_EEMPTY)
			abort();
		toll_tsl_tags(&m, &it);
		if (toll_tsl_next_tag(&it, &t) != TOLL_EEMPTY)
			abort();
		toll_tsl_entries(&m, &it);
		if (toll_tsl_next_entry(&it, &e) != TOLL_EEMPTY)
			abort();
		toll_tsl_deltas(&m, &it);
		if (toll_tsl_next_delta(&it, &p, &len) != TOLL_EEMPTY)
			abort();
		return 0;
	}
	if (m.buf != data || m.len != size || size > TOLL_TSL_MAX_BYTES ||
	    m.format_version != (m.type == TOLL_TSL_DELTA && m.entries > 0 ? TOLL_TSL_VERSION_ENTRIES
									      : TOLL_TSL_VERSION))
		abort();
	switch (m.type) {
	case TOLL_TSL_DELTA:
		redo_delta(&m, data, size, out, sizeof(out));
		return 0;
	case TOLL_TSL_HEARTBEAT:
		if (toll_tsl_heartbeat_begin(&b, out, sizeof(out), m.list_version, m.sent_ms,
					     m.key_id) != 0 ||
		    toll_tsl_finish_sig(&b, data + size - TOLL_TSL_SIG_BYTES, &len) != 0)
			abort();
		break;
	case TOLL_TSL_GET_DELTAS:
		rc = toll_tsl_encode_get_deltas(out, sizeof(out), m.list_version, m.aux, m.station_id,
						m.lane_id, &len);
		if (rc != 0)
			abort();
		break;
	case TOLL_TSL_DELTAS:
		redo_deltas(&m, data, size);
		return 0;
	case TOLL_TSL_GET_SNAPSHOT:
		if (toll_tsl_encode_get_snapshot(out, sizeof(out), m.list_version, m.aux, m.max_bytes,
						 &len) != 0)
			abort();
		break;
	case TOLL_TSL_SNAPSHOT:
		if (m.chunk_len > 0 && (m.chunk < data || m.chunk + m.chunk_len != data + size))
			abort();
		if (toll_tsl_encode_snapshot(out, sizeof(out), m.list_version, m.aux, m.total_bytes,
					     m.sha256, m.snapshot_sig, m.key_id, m.chunk, m.chunk_len,
					     &len) != 0)
			abort();
		break;
	case TOLL_TSL_ERROR:
		if (toll_tsl_encode_error(out, sizeof(out), m.list_version, m.key_id, m.error_code,
					  m.text, &len) != 0)
			abort();
		break;
	default:
		abort();
	}
	if (len != size || memcmp(out, data, size) != 0)
		abort();
	return 0;
}
