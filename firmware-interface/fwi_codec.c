/* fwi_codec.c: the tag-read record, the mini-header and the ACK of the
 * firmware interface, checked field by field through the bounds-checked
 * reader. */
#include <string.h>

#include "buf.h"
#include "crc.h"
#include "err.h"
#include "fwi_codec.h"

#define FWI_CRC_BYTES (2 * FWI_REC_CRC) /* words +0..+38 */
#define FWI_MINI_HEADER_BYTES (2 * FWI_RD_MINI_HEADER_WORDS)

static int
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* Whether the EPC buffer holds no 1 bit at or past bit epc_bits (bits are
 * counted from the high bit of the first byte).  epc_bits <= 256. */
static int
epc_padding_zero(const uint8_t epc[FWI_EPC_MAX_BYTES], unsigned epc_bits)
{
	size_t full = epc_bits / 8;
	unsigned rem = epc_bits % 8;

	if (rem != 0) {
		uint8_t mask = (uint8_t)(0xFFu >> rem);
		if (epc[full] & mask)
			return 0;
		full++;
	}
	return all_zero(epc + full, FWI_EPC_MAX_BYTES - full);
}

/* The field checks shared by the decoder and the encoder: the record a
 * well-behaved reader makes.  flags is the raw flag word. */
static int
record_fields_ok(uint32_t seq, uint16_t flags, uint16_t epc_bits,
		 const uint8_t epc[FWI_EPC_MAX_BYTES],
		 const uint8_t tid[FWI_TID_BYTES])
{
	if (!(flags & FWI_RF_VALID) || seq == 0)
		return 0;
	if (flags & ~(uint16_t)FWI_RF_KNOWN)
		return 0;
	if (epc_bits == 0 || epc_bits > FWI_EPC_MAX_BITS)
		return 0;
	if (!epc_padding_zero(epc, epc_bits))
		return 0;
	if (!(flags & FWI_RF_TID_VALID) && !all_zero(tid, FWI_TID_BYTES))
		return 0;
	return 1;
}

int
fwi_record_decode(const uint8_t *bytes, size_t len, struct fwi_record *rec)
{
	struct toll_rd rd;
	struct fwi_record r;
	uint8_t reserved[2 * FWI_REC_RESERVED_WORDS];
	uint16_t crc_stored;
	int rc = 0;

	memset(rec, 0, sizeof(*rec));
	if (bytes == NULL || len < FWI_RECORD_BYTES)
		return TOLL_ESHORT;
	if (all_zero(bytes, FWI_RECORD_BYTES))
		return TOLL_EEMPTY;

	memset(&r, 0, sizeof(r));
	toll_rd_init(&rd, bytes, FWI_RECORD_BYTES);
	rc |= toll_rd_u32(&rd, &r.seq);
	rc |= toll_rd_u16(&rd, &r.flags);
	rc |= toll_rd_i16(&rd, &r.rssi_dbm_x10);
	rc |= toll_rd_u16(&rd, &r.pc);
	rc |= toll_rd_u16(&rd, &r.epc_bits);
	rc |= toll_rd_bytes(&rd, r.epc, sizeof(r.epc));
	rc |= toll_rd_bytes(&rd, r.tid, sizeof(r.tid));
	rc |= toll_rd_u64(&rd, &r.first_seen_ms);
	rc |= toll_rd_u16(&rd, &r.dwell_ms);
	rc |= toll_rd_u16(&rd, &r.read_count);
	rc |= toll_rd_bytes(&rd, reserved, sizeof(reserved));
	rc |= toll_rd_u16(&rd, &crc_stored);
	/* 80 bytes were checked above; a short read here is a bug. */
	if (rc != 0 || toll_rd_left(&rd) != 0)
		return TOLL_ESHORT;

	if (toll_crc16_modbus(bytes, FWI_CRC_BYTES) != crc_stored)
		return TOLL_ECRC;
	if (!record_fields_ok(r.seq, r.flags, r.epc_bits, r.epc, r.tid))
		return TOLL_EFORMAT;
	if (!all_zero(reserved, sizeof(reserved)))
		return TOLL_EFORMAT;

	r.antenna = (uint8_t)((r.flags & FWI_RF_ANTENNA_MASK) >> FWI_RF_ANTENNA_SHIFT);
	*rec = r;
	return 0;
}

int
fwi_record_encode(const struct fwi_record *rec, uint8_t out[FWI_RECORD_BYTES])
{
	struct toll_wr wr;
	uint16_t flags;
	int rc = 0;

	if (rec->antenna > (FWI_RF_ANTENNA_MASK >> FWI_RF_ANTENNA_SHIFT))
		return TOLL_EINVAL;
	flags = (uint16_t)((rec->flags & ~FWI_RF_ANTENNA_MASK) |
			   ((unsigned)rec->antenna << FWI_RF_ANTENNA_SHIFT));
	if (!record_fields_ok(rec->seq, flags, rec->epc_bits, rec->epc, rec->tid))
		return TOLL_EINVAL;

	toll_wr_init(&wr, out, FWI_RECORD_BYTES);
	rc |= toll_wr_u32(&wr, rec->seq);
	rc |= toll_wr_u16(&wr, flags);
	rc |= toll_wr_u16(&wr, (uint16_t)rec->rssi_dbm_x10);
	rc |= toll_wr_u16(&wr, rec->pc);
	rc |= toll_wr_u16(&wr, rec->epc_bits);
	rc |= toll_wr_bytes(&wr, rec->epc, sizeof(rec->epc));
	rc |= toll_wr_bytes(&wr, rec->tid, sizeof(rec->tid));
	rc |= toll_wr_u64(&wr, rec->first_seen_ms);
	rc |= toll_wr_u16(&wr, rec->dwell_ms);
	rc |= toll_wr_u16(&wr, rec->read_count);
	rc |= toll_wr_zero(&wr, 2 * FWI_REC_RESERVED_WORDS);
	if (rc != 0 || wr.off != FWI_CRC_BYTES)
		return TOLL_ENOSPACE; /* cannot happen: the layout is fixed */
	rc = toll_wr_u16(&wr, toll_crc16_modbus(out, FWI_CRC_BYTES));
	if (rc != 0 || wr.off != FWI_RECORD_BYTES)
		return TOLL_ENOSPACE;
	return 0;
}

int
fwi_mini_header_decode(const uint8_t *bytes, size_t len,
		       struct fwi_mini_header *hdr)
{
	struct toll_rd rd;
	struct fwi_mini_header h;
	int rc = 0;

	memset(hdr, 0, sizeof(*hdr));
	if (bytes == NULL || len < FWI_MINI_HEADER_BYTES)
		return TOLL_ESHORT;
	memset(&h, 0, sizeof(h));
	toll_rd_init(&rd, bytes, FWI_MINI_HEADER_BYTES);
	rc |= toll_rd_u16(&rd, &h.heartbeat);
	rc |= toll_rd_u16(&rd, &h.status);
	rc |= toll_rd_u16(&rd, &h.fifo_count);
	rc |= toll_rd_u32(&rd, &h.head_seq);
	if (rc != 0)
		return TOLL_ESHORT;
	*hdr = h;
	return 0;
}

void
fwi_mini_header_encode(const struct fwi_mini_header *hdr, uint8_t out[10])
{
	struct toll_wr wr;

	toll_wr_init(&wr, out, FWI_MINI_HEADER_BYTES);
	/* 10 bytes of room: these cannot fail */
	(void)toll_wr_u16(&wr, hdr->heartbeat);
	(void)toll_wr_u16(&wr, hdr->status);
	(void)toll_wr_u16(&wr, hdr->fifo_count);
	(void)toll_wr_u32(&wr, hdr->head_seq);
}

void
fwi_ack_encode(uint32_t seq, uint16_t words[2])
{
	words[0] = (uint16_t)(seq >> 16);
	words[1] = (uint16_t)(seq & 0xFFFFu);
}

static void
hex_bytes(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xF];
	}
	out[2 * n] = '\0';
}

void
fwi_epc_hex(const struct fwi_record *rec, char out[65])
{
	unsigned bits = rec->epc_bits;

	if (bits > FWI_EPC_MAX_BITS)
		bits = FWI_EPC_MAX_BITS;
	hex_bytes(rec->epc, (bits + 7) / 8, out);
}

void
fwi_tid_hex(const struct fwi_record *rec, char out[25])
{
	hex_bytes(rec->tid, FWI_TID_BYTES, out);
}
