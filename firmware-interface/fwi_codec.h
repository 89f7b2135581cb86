/* fwi_codec.h: encode and decode the data structures of the firmware
 * interface (tag-read record, mini-header, poll block, ACK).
 *
 * Decoders take the registers as the big-endian byte stream the device sent
 * (toll_words_to_bytes() turns libmodbus's uint16_t arrays into it) and check
 * every byte: they never trust the device. */
#ifndef FWI_CODEC_H
#define FWI_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "fwi_map.h"

struct fwi_record {
	uint32_t seq;
	uint16_t flags;	      /* raw flag word: FWI_RF_* and the antenna */
	uint8_t antenna;      /* 0..15, from flags bits 12-15 */
	int16_t rssi_dbm_x10;
	uint16_t pc;
	uint16_t epc_bits;    /* 1..256 */
	uint8_t epc[FWI_EPC_MAX_BYTES]; /* zero-padded */
	uint8_t tid[FWI_TID_BYTES];     /* all zero unless FWI_RF_TID_VALID */
	uint64_t first_seen_ms;
	uint16_t dwell_ms;
	uint16_t read_count;
};

struct fwi_mini_header {
	uint16_t heartbeat;
	uint16_t status;
	uint16_t fifo_count;
	uint32_t head_seq;
};

/* Decode one 80-byte record slot.
 * Returns 0 for a valid record; TOLL_EEMPTY for an empty slot (all zero);
 * TOLL_ESHORT if len < FWI_RECORD_BYTES; TOLL_ECRC on a CRC mismatch;
 * TOLL_EFORMAT for a slot that is neither empty nor a valid record (valid flag
 * clear, seq 0, unknown flag bits, EPC length 0 or over 256, bits set past
 * the EPC length, TID not zero while TID valid is clear, reserved words not
 * zero).  On any error *rec is zeroed. */
int fwi_record_decode(const uint8_t *bytes, size_t len, struct fwi_record *rec);

/* Encode a record (for simulators and tests), setting the CRC.  The caller
 * sets flags (FWI_RF_VALID at least) and antenna; flags' antenna bits are
 * taken from rec->antenna.  Returns TOLL_EINVAL for a record that
 * fwi_record_decode would refuse. */
int fwi_record_encode(const struct fwi_record *rec, uint8_t out[FWI_RECORD_BYTES]);

/* Decode the 5-word mini-header (10 bytes). */
int fwi_mini_header_decode(const uint8_t *bytes, size_t len,
			   struct fwi_mini_header *hdr);

/* Encode the mini-header (for simulators). */
void fwi_mini_header_encode(const struct fwi_mini_header *hdr, uint8_t out[10]);

/* The ACK write: two registers, high word first. */
void fwi_ack_encode(uint32_t seq, uint16_t words[2]);

/* Text helpers shared by the tools: an EPC as hex (2 chars a byte of its
 * length, rounded up), a TID as 24 hex chars.  out must hold 65 / 25 bytes. */
void fwi_epc_hex(const struct fwi_record *rec, char out[65]);
void fwi_tid_hex(const struct fwi_record *rec, char out[25]);

#endif
