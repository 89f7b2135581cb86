/* test_fwi_codec.c: the firmware-interface codec against the contract: a
 * record built by hand from the contract's table, encode/decode round trips,
 * every way a slot can be corrupt (also from the fixtures in tests/data/fwi),
 * the mini-header, the ACK and the write rules of the register maps. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crc.h"
#include "err.h"
#include "fwi_codec.h"
#include "rng.h"
#include "unit.h"

/* ---- helpers ------------------------------------------------------------ */

/* A record made as a reader makes it. */
static struct fwi_record
sample_record(uint16_t epc_bits, int tid_valid)
{
	struct fwi_record r;

	memset(&r, 0, sizeof(r));
	r.seq = 1234;
	r.flags = FWI_RF_VALID | FWI_RF_CLOCK_SYNCED;
	r.antenna = 2;
	r.rssi_dbm_x10 = -555;
	r.pc = 0x3000;
	r.epc_bits = epc_bits;
	for (unsigned i = 0; i < (epc_bits + 7u) / 8; i++)
		r.epc[i] = (uint8_t)(0xA0 + i);
	if (epc_bits % 8)
		r.epc[epc_bits / 8] &= (uint8_t)(0xFF00u >> (epc_bits % 8));
	if (tid_valid) {
		r.flags |= FWI_RF_TID_VALID;
		for (int i = 0; i < FWI_TID_BYTES; i++)
			r.tid[i] = (uint8_t)(0xE2 + i);
	}
	r.first_seen_ms = 1700000000123ull;
	r.dwell_ms = 40;
	r.read_count = 3;
	return r;
}

/* The flags word a decoded record carries: antenna bits from antenna. */
static uint16_t
wire_flags(const struct fwi_record *r)
{
	return (uint16_t)((r->flags & ~FWI_RF_ANTENNA_MASK) |
			  ((unsigned)r->antenna << FWI_RF_ANTENNA_SHIFT));
}

static void
assert_same_record(const struct fwi_record *a, const struct fwi_record *b)
{
	ck_assert_uint_eq(a->seq, b->seq);
	ck_assert_uint_eq(wire_flags(a), b->flags);
	ck_assert_uint_eq(a->antenna, b->antenna);
	ck_assert_int_eq(a->rssi_dbm_x10, b->rssi_dbm_x10);
	ck_assert_uint_eq(a->pc, b->pc);
	ck_assert_uint_eq(a->epc_bits, b->epc_bits);
	ck_assert_mem_eq(a->epc, b->epc, sizeof(a->epc));
	ck_assert_mem_eq(a->tid, b->tid, sizeof(a->tid));
	ck_assert(a->first_seen_ms == b->first_seen_ms);
	ck_assert_uint_eq(a->dwell_ms, b->dwell_ms);
	ck_assert_uint_eq(a->read_count, b->read_count);
}

static void
round_trip(const struct fwi_record *in)
{
	uint8_t b[FWI_RECORD_BYTES], b2[FWI_RECORD_BYTES];
	struct fwi_record out;

	ck_assert_int_eq(fwi_record_encode(in, b), 0);
	ck_assert_int_eq(fwi_record_decode(b, sizeof(b), &out), 0);
	assert_same_record(in, &out);
	ck_assert_int_eq(fwi_record_encode(&out, b2), 0);
	ck_assert_mem_eq(b, b2, sizeof(b));
}

/* Recompute the CRC of a slot the test changed, so the field checks behind
 * it are reached: high byte first, as the contract says. */
static void
fix_crc(uint8_t b[FWI_RECORD_BYTES])
{
	uint16_t crc = toll_crc16_modbus(b, 2 * FWI_REC_CRC);

	b[2 * FWI_REC_CRC] = (uint8_t)(crc >> 8);
	b[2 * FWI_REC_CRC + 1] = (uint8_t)crc;
}

static void
put16(uint8_t b[FWI_RECORD_BYTES], int word, uint16_t v)
{
	b[2 * word] = (uint8_t)(v >> 8);
	b[2 * word + 1] = (uint8_t)v;
}

static void
encoded(const struct fwi_record *r, uint8_t b[FWI_RECORD_BYTES])
{
	ck_assert_int_eq(fwi_record_encode(r, b), 0);
}

static int
decode(const uint8_t *b, size_t len)
{
	struct fwi_record r;
	return fwi_record_decode(b, len, &r);
}

/* ---- the contract's table by hand --------------------------------------- */

/* One record written out word by word from the table in
 * FIRMWARE-INTERFACE.md, not by the encoder.  The CRC word was computed
 * outside this code base (CRC-16/MODBUS over the 78 bytes). */
static const uint16_t vector_words[FWI_RECORD_WORDS] = {
	0x0001, 0x2345,         /* +0 seq 0x00012345 */
	0x3007,                 /* +2 flags: valid, TID valid, clock, antenna 3 */
	0xFD9C,                 /* +3 RSSI -61.2 dBm */
	0x3000,                 /* +4 PC */
	0x0060,                 /* +5 EPC length 96 */
	0xE280, 0x1160, 0x6000, 0x020A, 0x1B2C, 0x3D4E, /* +6 EPC */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0,                   /* EPC padding */
	0xE280, 0x1105, 0x2000, 0x7A3B, 0x4C5D, 0x6E7F, /* +22 TID */
	0x0000, 0x018B, 0xCFE5, 0x687B, /* +28 first seen 1700000000123 */
	0x00FA,                 /* +32 dwell 250 ms */
	0x0007,                 /* +33 read count 7 */
	0, 0, 0, 0, 0,          /* +34 reserved */
	0x8A30,                 /* +39 CRC */
};

static const uint8_t vector_epc[12] = {0xE2, 0x80, 0x11, 0x60, 0x60, 0x00,
				       0x02, 0x0A, 0x1B, 0x2C, 0x3D, 0x4E};
static const uint8_t vector_tid[12] = {0xE2, 0x80, 0x11, 0x05, 0x20, 0x00,
				       0x7A, 0x3B, 0x4C, 0x5D, 0x6E, 0x7F};

static void
assert_vector_record(const struct fwi_record *r)
{
	uint8_t zero[FWI_EPC_MAX_BYTES] = {0};

	ck_assert_uint_eq(r->seq, 0x12345);
	ck_assert_uint_eq(r->flags, 0x3007);
	ck_assert_uint_eq(r->antenna, 3);
	ck_assert_int_eq(r->rssi_dbm_x10, -612);
	ck_assert_uint_eq(r->pc, 0x3000);
	ck_assert_uint_eq(r->epc_bits, 96);
	ck_assert_mem_eq(r->epc, vector_epc, 12);
	ck_assert_mem_eq(r->epc + 12, zero, FWI_EPC_MAX_BYTES - 12);
	ck_assert_mem_eq(r->tid, vector_tid, FWI_TID_BYTES);
	ck_assert(r->first_seen_ms == 1700000000123ull);
	ck_assert_uint_eq(r->dwell_ms, 250);
	ck_assert_uint_eq(r->read_count, 7);
}

START_TEST(test_vector_crc)
{
	uint8_t b[FWI_RECORD_BYTES];

	toll_words_to_bytes(vector_words, FWI_RECORD_WORDS, b);
	ck_assert_uint_eq(toll_crc16_modbus(b, 78), vector_words[39]);
}
END_TEST

START_TEST(test_vector_decode)
{
	uint8_t b[FWI_RECORD_BYTES];
	struct fwi_record r;
	char epc[65], tid[25];

	toll_words_to_bytes(vector_words, FWI_RECORD_WORDS, b);
	ck_assert_int_eq(fwi_record_decode(b, sizeof(b), &r), 0);
	assert_vector_record(&r);
	fwi_epc_hex(&r, epc);
	ck_assert_str_eq(epc, "e28011606000020a1b2c3d4e");
	fwi_tid_hex(&r, tid);
	ck_assert_str_eq(tid, "e280110520007a3b4c5d6e7f");
}
END_TEST

START_TEST(test_vector_encode)
{
	struct fwi_record r;
	uint8_t b[FWI_RECORD_BYTES];
	uint16_t w[FWI_RECORD_WORDS];

	memset(&r, 0, sizeof(r));
	r.seq = 0x12345;
	r.flags = FWI_RF_VALID | FWI_RF_TID_VALID | FWI_RF_CLOCK_SYNCED;
	r.antenna = 3;
	r.rssi_dbm_x10 = -612;
	r.pc = 0x3000;
	r.epc_bits = 96;
	memcpy(r.epc, vector_epc, sizeof(vector_epc));
	memcpy(r.tid, vector_tid, sizeof(vector_tid));
	r.first_seen_ms = 1700000000123ull;
	r.dwell_ms = 250;
	r.read_count = 7;
	ck_assert_int_eq(fwi_record_encode(&r, b), 0);
	toll_bytes_to_words(b, FWI_RECORD_WORDS, w);
	for (int i = 0; i < FWI_RECORD_WORDS; i++)
		ck_assert_msg(w[i] == vector_words[i],
			      "word +%d: 0x%04x, expected 0x%04x", i, w[i],
			      vector_words[i]);
}
END_TEST

/* The decoder reads the slot where it lies: inside a larger poll block. */
START_TEST(test_vector_in_poll_block)
{
	uint16_t poll[FWI_POLL_WORDS];
	uint8_t b[2 * FWI_POLL_WORDS];
	struct fwi_record r;

	memset(poll, 0, sizeof(poll));
	memcpy(&poll[FWI_RD_WINDOW - FWI_POLL_ADDR + FWI_RECORD_WORDS],
	       vector_words, sizeof(vector_words));
	toll_words_to_bytes(poll, FWI_POLL_WORDS, b);
	for (int k = 0; k < FWI_WINDOW_RECORDS; k++) {
		size_t at = 2 * (size_t)(FWI_RD_WINDOW - FWI_POLL_ADDR + k * FWI_RECORD_WORDS);
		int rc = fwi_record_decode(b + at, sizeof(b) - at, &r);
		ck_assert_int_eq(rc, k == 1 ? 0 : TOLL_EEMPTY);
	}
	ck_assert_int_eq(fwi_record_decode(b + 2 * (FWI_RD_WINDOW - FWI_POLL_ADDR +
						    FWI_RECORD_WORDS),
					   FWI_RECORD_BYTES, &r), 0);
	assert_vector_record(&r);
}
END_TEST

/* ---- round trips -------------------------------------------------------- */

START_TEST(test_round_trip_shapes)
{
	static const uint16_t lengths[] = {1, 7, 8, 9, 64, 95, 96, 97, 100, 128, 255, 256};

	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		struct fwi_record r = sample_record(lengths[i], 0);
		round_trip(&r);
		r = sample_record(lengths[i], 1);
		round_trip(&r);
	}
}
END_TEST

START_TEST(test_round_trip_96_and_256)
{
	uint8_t b[FWI_RECORD_BYTES];
	struct fwi_record r = sample_record(96, 1), out;

	encoded(&r, b);
	ck_assert_int_eq(fwi_record_decode(b, sizeof(b), &out), 0);
	ck_assert_uint_eq(out.epc_bits, 96);
	ck_assert_mem_eq(out.tid, r.tid, FWI_TID_BYTES);

	r = sample_record(256, 0);
	for (int i = 0; i < FWI_EPC_MAX_BYTES; i++)
		r.epc[i] = (uint8_t)(0xFF - i);
	encoded(&r, b);
	ck_assert_int_eq(fwi_record_decode(b, sizeof(b), &out), 0);
	ck_assert_uint_eq(out.epc_bits, 256);
	ck_assert_mem_eq(out.epc, r.epc, FWI_EPC_MAX_BYTES);
	ck_assert(!(out.flags & FWI_RF_TID_VALID));
	for (int i = 0; i < FWI_TID_BYTES; i++)
		ck_assert_uint_eq(out.tid[i], 0);
}
END_TEST

START_TEST(test_round_trip_flags_and_antennas)
{
	for (unsigned extra = 0; extra < 16; extra++) {
		for (unsigned ant = 0; ant <= 15; ant++) {
			struct fwi_record r = sample_record(96, (extra & FWI_RF_TID_VALID) != 0);
			uint8_t b[FWI_RECORD_BYTES];
			r.flags = (uint16_t)(extra | FWI_RF_VALID);
			r.antenna = (uint8_t)ant;
			round_trip(&r);
			encoded(&r, b);
			ck_assert_uint_eq(b[4], ant << 4);
			ck_assert_uint_eq(b[5], extra | FWI_RF_VALID);
		}
	}
}
END_TEST

/* The antenna comes from rec->antenna, whatever flags' own antenna bits say. */
START_TEST(test_encode_antenna_from_field)
{
	struct fwi_record r = sample_record(96, 0), out;
	uint8_t b[FWI_RECORD_BYTES];

	r.flags |= 0x5000;
	r.antenna = 15;
	encoded(&r, b);
	ck_assert_uint_eq(b[4] >> 4, 15);
	ck_assert_int_eq(fwi_record_decode(b, sizeof(b), &out), 0);
	ck_assert_uint_eq(out.antenna, 15);
	ck_assert_uint_eq(out.flags, 0xF000 | FWI_RF_VALID | FWI_RF_CLOCK_SYNCED);
	r.antenna = 0;
	encoded(&r, b);
	ck_assert_uint_eq(b[4], 0);
}
END_TEST

START_TEST(test_round_trip_values)
{
	static const int16_t rssi[] = {-32768, -800, -612, -1, 0, 1, 32767};
	struct fwi_record r = sample_record(96, 1), out;
	uint8_t b[FWI_RECORD_BYTES];

	for (size_t i = 0; i < sizeof(rssi) / sizeof(rssi[0]); i++) {
		r.rssi_dbm_x10 = rssi[i];
		round_trip(&r);
	}
	r.rssi_dbm_x10 = -612;
	encoded(&r, b);
	ck_assert_uint_eq(b[6], 0xFD);
	ck_assert_uint_eq(b[7], 0x9C);

	/* u64 first seen, high word first */
	r.first_seen_ms = 0x0123456789ABCDEFull;
	encoded(&r, b);
	static const uint8_t be[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF};
	ck_assert_mem_eq(b + 2 * FWI_REC_FIRST_SEEN_MS, be, 8);
	ck_assert_int_eq(fwi_record_decode(b, sizeof(b), &out), 0);
	ck_assert(out.first_seen_ms == 0x0123456789ABCDEFull);
	r.first_seen_ms = UINT64_MAX;
	round_trip(&r);

	/* seq, u32 high word first; the extremes */
	r.seq = 0x89ABCDEFu;
	encoded(&r, b);
	ck_assert_uint_eq(b[0], 0x89);
	ck_assert_uint_eq(b[3], 0xEF);
	r.seq = 1;
	round_trip(&r);
	r.seq = UINT32_MAX;
	round_trip(&r);
	r.dwell_ms = 65535;
	r.read_count = 65535;
	r.pc = 0xFFFF;
	round_trip(&r);
	r.dwell_ms = 0;
	r.read_count = 0;
	r.pc = 0;
	round_trip(&r);
}
END_TEST

START_TEST(test_encode_refuses)
{
	struct fwi_record r;
	uint8_t b[FWI_RECORD_BYTES];

	r = sample_record(96, 0);
	r.flags &= (uint16_t)~FWI_RF_VALID;
	ck_assert_int_eq(fwi_record_encode(&r, b), TOLL_EINVAL);
	r = sample_record(96, 0);
	r.seq = 0;
	ck_assert_int_eq(fwi_record_encode(&r, b), TOLL_EINVAL);
	for (unsigned bit = 4; bit < 12; bit++) {
		r = sample_record(96, 0);
		r.flags |= (uint16_t)(1u << bit);
		ck_assert_int_eq(fwi_record_encode(&r, b), TOLL_EINVAL);
	}
	r = sample_record(96, 0);
	r.epc_bits = 0;
	memset(r.epc, 0, sizeof(r.epc));
	ck_assert_int_eq(fwi_record_encode(&r, b), TOLL_EINVAL);
	r.epc_bits = 257;
	ck_assert_int_eq(fwi_record_encode(&r, b), TOLL_EINVAL);
	r.epc_bits = 0xFFFF;
	ck_assert_int_eq(fwi_record_encode(&r, b), TOLL_EINVAL);
	r = sample_record(96, 0);
	r.epc[12] = 0x01;
	ck_assert_int_eq(fwi_record_encode(&r, b), TOLL_EINVAL);
	r = sample_record(100, 0);
	r.epc[12] |= 0x08;
	ck_assert_int_eq(fwi_record_encode(&r, b), TOLL_EINVAL);
	r = sample_record(96, 0);
	r.epc[31] = 0x80;
	ck_assert_int_eq(fwi_record_encode(&r, b), TOLL_EINVAL);
	r = sample_record(96, 0);
	r.antenna = 16;
	ck_assert_int_eq(fwi_record_encode(&r, b), TOLL_EINVAL);
	r = sample_record(96, 0);
	r.tid[11] = 1;
	ck_assert_int_eq(fwi_record_encode(&r, b), TOLL_EINVAL);
}
END_TEST

/* ---- corrupt slots ------------------------------------------------------ */

START_TEST(test_bad_crc_every_byte)
{
	struct fwi_record r = sample_record(96, 1), out;
	uint8_t good[FWI_RECORD_BYTES], b[FWI_RECORD_BYTES];

	encoded(&r, good);
	for (size_t i = 0; i < FWI_RECORD_BYTES; i++) {
		memcpy(b, good, sizeof(b));
		b[i] ^= 0xFF;
		ck_assert_msg(fwi_record_decode(b, sizeof(b), &out) == TOLL_ECRC,
			      "byte %zu flipped", i);
		/* nothing of a refused slot leaks out */
		ck_assert_uint_eq(out.seq, 0);
		ck_assert_uint_eq(out.epc_bits, 0);
	}
	for (size_t bit = 0; bit < 8 * FWI_RECORD_BYTES; bit++) {
		memcpy(b, good, sizeof(b));
		b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_msg(decode(b, sizeof(b)) == TOLL_ECRC, "bit %zu flipped", bit);
	}
	/* the CRC bytes swapped: the contract sends the high byte first */
	memcpy(b, good, sizeof(b));
	b[78] = good[79];
	b[79] = good[78];
	if (good[78] != good[79])
		ck_assert_int_eq(decode(b, sizeof(b)), TOLL_ECRC);
}
END_TEST

START_TEST(test_bad_epc_length)
{
	static const uint16_t bad[] = {0, 257, 0xFFFF, 512, 0x8000};
	struct fwi_record r = sample_record(96, 0);
	uint8_t b[FWI_RECORD_BYTES];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		encoded(&r, b);
		put16(b, FWI_REC_EPC_BITS, bad[i]);
		if (bad[i] == 0)
			memset(b + 2 * FWI_REC_EPC, 0, 2 * FWI_REC_EPC_WORDS);
		fix_crc(b);
		ck_assert_msg(decode(b, sizeof(b)) == TOLL_EFORMAT, "length %u", bad[i]);
	}
	/* EPC length 0 with an all-zero EPC and nothing else wrong */
	encoded(&r, b);
	put16(b, FWI_REC_EPC_BITS, 0);
	memset(b + 2 * FWI_REC_EPC, 0, 2 * FWI_REC_EPC_WORDS);
	fix_crc(b);
	ck_assert_int_eq(decode(b, sizeof(b)), TOLL_EFORMAT);
	/* 256 with a full EPC is fine */
	memset(b + 2 * FWI_REC_EPC, 0xFF, 2 * FWI_REC_EPC_WORDS);
	put16(b, FWI_REC_EPC_BITS, 256);
	fix_crc(b);
	ck_assert_int_eq(decode(b, sizeof(b)), 0);
}
END_TEST

START_TEST(test_valid_flag_clear)
{
	struct fwi_record r = sample_record(96, 0);
	uint8_t b[FWI_RECORD_BYTES];

	encoded(&r, b);
	b[5] &= (uint8_t)~FWI_RF_VALID;
	fix_crc(b);
	ck_assert_int_eq(decode(b, sizeof(b)), TOLL_EFORMAT);
	/* a slot with only a sequence number in it */
	memset(b, 0, sizeof(b));
	b[3] = 1;
	fix_crc(b);
	ck_assert_int_eq(decode(b, sizeof(b)), TOLL_EFORMAT);
	/* zeros with a correct CRC are not an empty slot either */
	memset(b, 0, sizeof(b));
	fix_crc(b);
	ck_assert_int_eq(decode(b, sizeof(b)), TOLL_EFORMAT);
}
END_TEST

START_TEST(test_valid_seq_zero)
{
	struct fwi_record r = sample_record(96, 0);
	uint8_t b[FWI_RECORD_BYTES];

	encoded(&r, b);
	memset(b, 0, 4);
	fix_crc(b);
	ck_assert_int_eq(decode(b, sizeof(b)), TOLL_EFORMAT);
}
END_TEST

START_TEST(test_unknown_flag_bits)
{
	struct fwi_record r = sample_record(96, 0);
	uint8_t b[FWI_RECORD_BYTES];

	for (unsigned bit = 4; bit < 12; bit++) {
		encoded(&r, b);
		put16(b, FWI_REC_FLAGS, (uint16_t)(wire_flags(&r) | (1u << bit)));
		fix_crc(b);
		ck_assert_msg(decode(b, sizeof(b)) == TOLL_EFORMAT, "flag bit %u", bit);
	}
}
END_TEST

START_TEST(test_bits_past_epc_length)
{
	uint8_t b[FWI_RECORD_BYTES];
	struct fwi_record r;

	/* 96 bits: every bit of bytes 12..31 must be zero */
	r = sample_record(96, 0);
	for (unsigned bit = 96; bit < 256; bit++) {
		encoded(&r, b);
		b[2 * FWI_REC_EPC + bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
		fix_crc(b);
		ck_assert_msg(decode(b, sizeof(b)) == TOLL_EFORMAT, "bit %u", bit);
	}
	/* 100 bits: the high nibble of byte 12 is EPC, the low nibble padding */
	r = sample_record(100, 0);
	encoded(&r, b);
	b[2 * FWI_REC_EPC + 12] |= 0xF0;
	fix_crc(b);
	ck_assert_int_eq(decode(b, sizeof(b)), 0);
	for (unsigned bit = 100; bit < 104; bit++) {
		encoded(&r, b);
		b[2 * FWI_REC_EPC + 12] |= (uint8_t)(0x80u >> (bit % 8));
		fix_crc(b);
		ck_assert_msg(decode(b, sizeof(b)) == TOLL_EFORMAT, "bit %u", bit);
	}
	/* 1 bit */
	r = sample_record(1, 0);
	encoded(&r, b);
	b[2 * FWI_REC_EPC] |= 0x40;
	fix_crc(b);
	ck_assert_int_eq(decode(b, sizeof(b)), TOLL_EFORMAT);
}
END_TEST

START_TEST(test_tid_without_flag)
{
	struct fwi_record r = sample_record(96, 0);
	uint8_t b[FWI_RECORD_BYTES];

	for (int i = 0; i < FWI_TID_BYTES; i++) {
		encoded(&r, b);
		b[2 * FWI_REC_TID + i] = 0x01;
		fix_crc(b);
		ck_assert_msg(decode(b, sizeof(b)) == TOLL_EFORMAT, "tid byte %d", i);
	}
	/* with the flag, a zero TID is a TID like any other */
	r = sample_record(96, 1);
	memset(r.tid, 0, sizeof(r.tid));
	round_trip(&r);
}
END_TEST

START_TEST(test_reserved_not_zero)
{
	struct fwi_record r = sample_record(96, 1);
	uint8_t b[FWI_RECORD_BYTES];

	for (int i = 0; i < 2 * FWI_REC_RESERVED_WORDS; i++) {
		encoded(&r, b);
		b[2 * FWI_REC_RESERVED + i] = 0x80;
		fix_crc(b);
		ck_assert_msg(decode(b, sizeof(b)) == TOLL_EFORMAT, "reserved byte %d", i);
	}
}
END_TEST

START_TEST(test_truncated)
{
	struct fwi_record r = sample_record(96, 1), out;
	uint8_t b[FWI_RECORD_BYTES + 1];

	encoded(&r, b);
	b[FWI_RECORD_BYTES] = 0xAA;
	for (size_t len = 0; len < FWI_RECORD_BYTES; len++) {
		/* a heap copy of exactly len bytes, so ASan sees any overread */
		uint8_t *p = malloc(len ? len : 1);
		ck_assert_ptr_nonnull(p);
		memcpy(p, b, len);
		ck_assert_msg(fwi_record_decode(p, len, &out) == TOLL_ESHORT, "len %zu", len);
		free(p);
	}
	ck_assert_int_eq(fwi_record_decode(NULL, 0, &out), TOLL_ESHORT);
	ck_assert_int_eq(fwi_record_decode(NULL, 80, &out), TOLL_ESHORT);
	/* longer input: the first 80 bytes are the slot */
	ck_assert_int_eq(fwi_record_decode(b, sizeof(b), &out), 0);
	/* an empty slot cut short is short, not empty */
	memset(b, 0, sizeof(b));
	ck_assert_int_eq(decode(b, FWI_RECORD_BYTES - 1), TOLL_ESHORT);
}
END_TEST

START_TEST(test_empty_and_ff)
{
	uint8_t b[FWI_RECORD_BYTES];
	struct fwi_record out;

	memset(b, 0, sizeof(b));
	ck_assert_int_eq(fwi_record_decode(b, sizeof(b), &out), TOLL_EEMPTY);
	ck_assert_uint_eq(out.seq, 0);
	memset(b, 0xFF, sizeof(b));
	/* CRC-16/MODBUS of 78 0xFF bytes is 0x7F54, not the 0xFFFF stored */
	ck_assert_uint_eq(toll_crc16_modbus(b, 78), 0x7F54);
	ck_assert_int_eq(decode(b, sizeof(b)), TOLL_ECRC);
	fix_crc(b);
	ck_assert_int_eq(decode(b, sizeof(b)), TOLL_EFORMAT);
	/* one non-zero byte anywhere makes a slot not empty */
	for (size_t i = 0; i < sizeof(b); i++) {
		memset(b, 0, sizeof(b));
		b[i] = 1;
		ck_assert_int_ne(decode(b, sizeof(b)), TOLL_EEMPTY);
		ck_assert_int_ne(decode(b, sizeof(b)), 0);
	}
}
END_TEST

/* Independent of the decoder: a slot is valid iff its CRC is right and the
 * encoder gives the same bytes back for the record it decodes to. */
static void
check_garbage(const uint8_t b[FWI_RECORD_BYTES], uint64_t seed, int i)
{
	struct fwi_record out;
	uint8_t again[FWI_RECORD_BYTES];
	int rc = fwi_record_decode(b, FWI_RECORD_BYTES, &out);
	uint16_t crc = (uint16_t)((b[78] << 8) | b[79]);

	ck_assert_msg(rc == 0 || rc == TOLL_ECRC || rc == TOLL_EFORMAT ||
			      rc == TOLL_EEMPTY,
		      "seed %llu input %d: rc %d", (unsigned long long)seed, i, rc);
	if (rc == TOLL_ECRC)
		ck_assert_msg(toll_crc16_modbus(b, 78) != crc,
			      "seed %llu input %d: CRC refused but right",
			      (unsigned long long)seed, i);
	if (rc != 0)
		return;
	ck_assert_msg(toll_crc16_modbus(b, 78) == crc,
		      "seed %llu input %d: valid with a wrong CRC",
		      (unsigned long long)seed, i);
	ck_assert_msg(fwi_record_encode(&out, again) == 0 &&
			      memcmp(again, b, sizeof(again)) == 0,
		      "seed %llu input %d: decoded but does not encode back",
		      (unsigned long long)seed, i);
}

START_TEST(test_random_garbage)
{
	const uint64_t seed = 20240611;
	struct toll_rng rng;
	uint8_t b[FWI_RECORD_BYTES];
	struct fwi_record base = sample_record(96, 1);
	uint8_t good[FWI_RECORD_BYTES];
	int valid = 0;

	toll_rng_seed(&rng, seed);
	encoded(&base, good);
	for (int i = 0; i < 50000; i++) {
		/* pure noise, as is and with its CRC made right */
		for (size_t k = 0; k < sizeof(b); k++)
			b[k] = (uint8_t)toll_rng_next(&rng);
		check_garbage(b, seed, i);
		fix_crc(b);
		check_garbage(b, seed, i);
		/* a good record with a few bytes changed, CRC made right */
		memcpy(b, good, sizeof(b));
		int n = (int)toll_rng_range(&rng, 1, 3);
		for (int k = 0; k < n; k++)
			b[toll_rng_below(&rng, 78)] = (uint8_t)toll_rng_next(&rng);
		fix_crc(b);
		check_garbage(b, seed, i);
		valid += decode(b, sizeof(b)) == 0;
	}
	/* the mutations do reach valid records, so the check above has teeth */
	ck_assert_int_gt(valid, 0);
}
END_TEST

/* ---- fixtures ----------------------------------------------------------- */

struct fixture {
	const char *name;
	int rc;
};

static const struct fixture fixtures[] = {
	{"record-valid-96.bin", 0},
	{"record-valid-256.bin", 0},
	{"record-empty.bin", TOLL_EEMPTY},
	{"record-bad-crc.bin", TOLL_ECRC},
	{"record-epc-len-0.bin", TOLL_EFORMAT},
	{"record-epc-len-257.bin", TOLL_EFORMAT},
	{"record-valid-seq0.bin", TOLL_EFORMAT},
	{"record-valid-clear.bin", TOLL_EFORMAT},
	{"record-unknown-flag.bin", TOLL_EFORMAT},
	{"record-epc-padding.bin", TOLL_EFORMAT},
	{"record-tid-without-flag.bin", TOLL_EFORMAT},
	{"record-reserved-nonzero.bin", TOLL_EFORMAT},
	{"record-truncated.bin", TOLL_ESHORT},
	{"record-garbage-ff.bin", TOLL_ECRC},
};

/* Reads tests/data/fwi/name (under $TOLL_TOP when set) into a buffer of
 * exactly its size; the caller frees it. */
static uint8_t *
load_fixture(const char *name, size_t *len)
{
	const char *top = getenv("TOLL_TOP");
	char path[4096];
	uint8_t *data;
	long size;
	FILE *f;

	if (top != NULL && top[0] != '\0')
		snprintf(path, sizeof(path), "%s/tests/data/fwi/%s", top, name);
	else
		snprintf(path, sizeof(path), "tests/data/fwi/%s", name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "could not open fixture %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	ck_assert_int_ge(size, 0);
	rewind(f);
	data = malloc(size > 0 ? (size_t)size : 1);
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_eq(fread(data, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	*len = (size_t)size;
	return data;
}

START_TEST(test_fixtures)
{
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		size_t len;
		uint8_t *data = load_fixture(fixtures[i].name, &len);
		struct fwi_record out;
		int rc = fwi_record_decode(data, len, &out);
		ck_assert_msg(rc == fixtures[i].rc, "%s: %d (%s), expected %d (%s)",
			      fixtures[i].name, rc, toll_strerror(rc), fixtures[i].rc,
			      toll_strerror(fixtures[i].rc));
		if (rc == 0) {
			uint8_t again[FWI_RECORD_BYTES];
			ck_assert_int_eq(fwi_record_encode(&out, again), 0);
			ck_assert_mem_eq(again, data, FWI_RECORD_BYTES);
		}
		free(data);
	}
}
END_TEST

/* The valid 96-bit fixture is the hand-built record of the contract. */
START_TEST(test_fixture_valid_96_is_vector)
{
	size_t len;
	uint8_t *data = load_fixture("record-valid-96.bin", &len);
	uint8_t b[FWI_RECORD_BYTES];
	struct fwi_record r;

	ck_assert_uint_eq(len, FWI_RECORD_BYTES);
	toll_words_to_bytes(vector_words, FWI_RECORD_WORDS, b);
	ck_assert_mem_eq(data, b, FWI_RECORD_BYTES);
	ck_assert_int_eq(fwi_record_decode(data, len, &r), 0);
	assert_vector_record(&r);
	free(data);
}
END_TEST

START_TEST(test_fixture_valid_256)
{
	size_t len;
	uint8_t *data = load_fixture("record-valid-256.bin", &len);
	struct fwi_record r;
	char epc[65];

	ck_assert_int_eq(fwi_record_decode(data, len, &r), 0);
	ck_assert_uint_eq(r.seq, UINT32_MAX);
	ck_assert_uint_eq(r.antenna, 15);
	ck_assert_uint_eq(r.flags, 0xF00F);
	ck_assert_int_eq(r.rssi_dbm_x10, -32768);
	ck_assert_uint_eq(r.epc_bits, 256);
	ck_assert(r.first_seen_ms == 0x0123456789ABCDEFull);
	ck_assert_uint_eq(r.dwell_ms, 65535);
	ck_assert_uint_eq(r.read_count, 65535);
	fwi_epc_hex(&r, epc);
	ck_assert_str_eq(epc, "101112131415161718191a1b1c1d1e1f"
			      "202122232425262728292a2b2c2d2e2f");
	free(data);
}
END_TEST

/* ---- text helpers ------------------------------------------------------- */

START_TEST(test_epc_hex_lengths)
{
	struct fwi_record r;
	char out[65];

	memset(&r, 0, sizeof(r));
	for (int i = 0; i < FWI_EPC_MAX_BYTES; i++)
		r.epc[i] = (uint8_t)(0xA0 + i);
	r.epc_bits = 1;
	fwi_epc_hex(&r, out);
	ck_assert_str_eq(out, "a0");
	r.epc_bits = 8;
	fwi_epc_hex(&r, out);
	ck_assert_str_eq(out, "a0");
	r.epc_bits = 9;
	fwi_epc_hex(&r, out);
	ck_assert_str_eq(out, "a0a1");
	r.epc_bits = 100;
	fwi_epc_hex(&r, out);
	ck_assert_uint_eq(strlen(out), 26);
	r.epc_bits = 96;
	fwi_epc_hex(&r, out);
	ck_assert_str_eq(out, "a0a1a2a3a4a5a6a7a8a9aaab");
	r.epc_bits = 256;
	fwi_epc_hex(&r, out);
	ck_assert_uint_eq(strlen(out), 64);
	ck_assert_str_eq(out + 56, "bcbdbebf");
	/* out of range lengths stay inside the buffer */
	r.epc_bits = 0xFFFF;
	fwi_epc_hex(&r, out);
	ck_assert_uint_eq(strlen(out), 64);
	r.epc_bits = 0;
	fwi_epc_hex(&r, out);
	ck_assert_str_eq(out, "");
	memset(r.tid, 0xAB, sizeof(r.tid));
	r.tid[0] = 0x0F;
	fwi_tid_hex(&r, out);
	ck_assert_str_eq(out, "0fababababababababababab");
}
END_TEST

/* ---- mini-header and ACK ------------------------------------------------ */

START_TEST(test_mini_header)
{
	static const uint16_t words[5] = {0x0102, 0x4009, 0x0002, 0x0001, 0x0002};
	uint8_t b[10], again[10];
	struct fwi_mini_header h;

	toll_words_to_bytes(words, 5, b);
	ck_assert_int_eq(fwi_mini_header_decode(b, sizeof(b), &h), 0);
	ck_assert_uint_eq(h.heartbeat, 0x0102);
	ck_assert_uint_eq(h.status, FWI_ST_REBOOTED | FWI_ST_FIFO_NOT_EMPTY | FWI_ST_READY);
	ck_assert_uint_eq(h.fifo_count, 2);
	ck_assert_uint_eq(h.head_seq, 0x00010002);
	fwi_mini_header_encode(&h, again);
	ck_assert_mem_eq(again, b, sizeof(b));
	for (size_t len = 0; len < sizeof(b); len++) {
		uint8_t *p = malloc(len ? len : 1);
		ck_assert_ptr_nonnull(p);
		memcpy(p, b, len);
		ck_assert_int_eq(fwi_mini_header_decode(p, len, &h), TOLL_ESHORT);
		free(p);
	}
	ck_assert_int_eq(fwi_mini_header_decode(NULL, 10, &h), TOLL_ESHORT);

	h.heartbeat = 0xFFFF;
	h.status = 0x8000;
	h.fifo_count = 0;
	h.head_seq = 0xDEADBEEF;
	fwi_mini_header_encode(&h, again);
	ck_assert_uint_eq(again[6], 0xDE);
	ck_assert_uint_eq(again[9], 0xEF);
	struct fwi_mini_header h2;
	ck_assert_int_eq(fwi_mini_header_decode(again, sizeof(again), &h2), 0);
	ck_assert_uint_eq(h2.heartbeat, 0xFFFF);
	ck_assert_uint_eq(h2.status, 0x8000);
	ck_assert_uint_eq(h2.fifo_count, 0);
	ck_assert_uint_eq(h2.head_seq, 0xDEADBEEF);
}
END_TEST

START_TEST(test_ack)
{
	uint16_t w[2];

	fwi_ack_encode(0x12345678u, w);
	ck_assert_uint_eq(w[0], 0x1234);
	ck_assert_uint_eq(w[1], 0x5678);
	fwi_ack_encode(0, w);
	ck_assert_uint_eq(w[0], 0);
	ck_assert_uint_eq(w[1], 0);
	fwi_ack_encode(1, w);
	ck_assert_uint_eq(w[0], 0);
	ck_assert_uint_eq(w[1], 1);
	fwi_ack_encode(0x00010000u, w);
	ck_assert_uint_eq(w[0], 1);
	ck_assert_uint_eq(w[1], 0);
	fwi_ack_encode(UINT32_MAX, w);
	ck_assert_uint_eq(w[0], 0xFFFF);
	ck_assert_uint_eq(w[1], 0xFFFF);
}
END_TEST

/* ---- write rules -------------------------------------------------------- */

#define EXC FWI_EXCEPTION_ILLEGAL_ADDRESS
#define FC06 FWI_FC_WRITE_SINGLE_REGISTER
#define FC16 FWI_FC_WRITE_MULTIPLE_REGISTERS

static int
rd_write(int fc, uint16_t addr, uint16_t nb)
{
	return fwi_check_write(fwi_reader_fields, fwi_reader_field_count,
			       FWI_READER_HR_COUNT, fc, addr, nb);
}

static int
io_write(int fc, uint16_t addr, uint16_t nb)
{
	return fwi_check_write(fwi_io_holding_fields, fwi_io_holding_field_count,
			       FWI_IO_HR_COUNT, fc, addr, nb);
}

static int
dsp_write(int fc, uint16_t addr, uint16_t nb)
{
	return fwi_check_write(fwi_display_fields, fwi_display_field_count,
			       FWI_DISPLAY_HR_COUNT, fc, addr, nb);
}

START_TEST(test_write_ack)
{
	ck_assert_int_eq(rd_write(FC16, 0x0040, 2), 0);
	ck_assert_int_eq(rd_write(FC06, 0x0040, 1), EXC);
	ck_assert_int_eq(rd_write(FC06, 0x0041, 1), EXC);
	ck_assert_int_eq(rd_write(FC16, 0x0040, 1), EXC);
	ck_assert_int_eq(rd_write(FC16, 0x0041, 1), EXC);
	ck_assert_int_eq(rd_write(FC16, 0x0041, 2), EXC);
	ck_assert_int_eq(rd_write(FC16, 0x003F, 3), EXC);
}
END_TEST

START_TEST(test_write_set_clock)
{
	ck_assert_int_eq(rd_write(FC16, 0x0049, 4), 0);
	for (uint16_t a = 0x0049; a < 0x004D; a++) {
		ck_assert_int_eq(rd_write(FC06, a, 1), EXC);
		ck_assert_int_eq(rd_write(FC16, a, 1), EXC);
	}
	ck_assert_int_eq(rd_write(FC16, 0x0049, 3), EXC);
	ck_assert_int_eq(rd_write(FC16, 0x004A, 3), EXC);
	ck_assert_int_eq(rd_write(FC16, 0x004A, 4), EXC);
	ck_assert_int_eq(rd_write(FC16, 0x0048, 5), EXC);
}
END_TEST

START_TEST(test_write_read_only_and_reserved)
{
	static const uint16_t refused[] = {0x0000, 0x0001, 0x0018, 0x0021, 0x002A,
					   0x0036, 0x0043, 0x0048, 0x004E, 0x007F,
					   0x0089, 0x00FA, 0x00FB, 0x0100, 0x0177};

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		ck_assert_msg(rd_write(FC06, refused[i], 1) == EXC, "FC06 0x%04x", refused[i]);
		ck_assert_msg(rd_write(FC16, refused[i], 1) == EXC, "FC16 0x%04x", refused[i]);
	}
	/* a block that is partly writable is refused whole */
	ck_assert_int_eq(rd_write(FC16, 0x0088, 2), EXC);
	ck_assert_int_eq(rd_write(FC16, 0x007F, 2), EXC);
	ck_assert_int_eq(rd_write(FC16, 0x0042, 2), EXC);
}
END_TEST

START_TEST(test_write_past_end)
{
	ck_assert_int_eq(rd_write(FC06, FWI_READER_HR_COUNT, 1), EXC);
	ck_assert_int_eq(rd_write(FC16, 0x0170, 9), EXC);
	ck_assert_int_eq(rd_write(FC16, 0xFFFF, 1), EXC);
	ck_assert_int_eq(rd_write(FC16, 0xFFFF, 2), EXC);
	ck_assert_int_eq(rd_write(FC16, 0x0080, 0xFFFF), EXC);
	ck_assert_int_eq(rd_write(FC16, 0x0080, 0), EXC);
	ck_assert_int_eq(io_write(FC06, FWI_IO_HR_COUNT, 1), EXC);
	ck_assert_int_eq(io_write(FC16, 0x0011, 2), EXC);
	ck_assert_int_eq(dsp_write(FC06, FWI_DISPLAY_HR_COUNT, 1), EXC);
	ck_assert_int_eq(dsp_write(FC16, 0x0000, 13), EXC);
}
END_TEST

START_TEST(test_write_config)
{
	for (uint16_t a = 0x0080; a <= 0x0088; a++) {
		ck_assert_msg(rd_write(FC06, a, 1) == 0, "FC06 0x%04x", a);
		ck_assert_msg(rd_write(FC16, a, 1) == 0, "FC16 0x%04x", a);
	}
	ck_assert_int_eq(rd_write(FC16, 0x0080, 9), 0);
	ck_assert_int_eq(rd_write(FC16, 0x0082, 4), 0);
	/* plain W registers take FC06 */
	ck_assert_int_eq(rd_write(FC06, FWI_RD_WATCHDOG, 1), 0);
	ck_assert_int_eq(rd_write(FC06, FWI_RD_CLEAR_STATUS, 1), 0);
	ck_assert_int_eq(rd_write(FC16, FWI_RD_CLEAR_STATUS, 1), 0);
}
END_TEST

START_TEST(test_write_io)
{
	ck_assert_int_eq(io_write(FC06, 0x0010, 1), 0);
	ck_assert_int_eq(io_write(FC06, 0x0011, 1), 0);
	ck_assert_int_eq(io_write(FC16, 0x0010, 2), 0);
	for (uint16_t a = 0x0000; a < 0x0010; a++) {
		ck_assert_msg(io_write(FC06, a, 1) == EXC, "FC06 0x%04x", a);
		ck_assert_msg(io_write(FC16, a, 1) == EXC, "FC16 0x%04x", a);
	}
	ck_assert_int_eq(io_write(FC16, 0x000F, 2), EXC);
}
END_TEST

START_TEST(test_write_display)
{
	for (uint16_t a = 0x0000; a <= 0x000B; a++) {
		ck_assert_msg(dsp_write(FC06, a, 1) == 0, "FC06 0x%04x", a);
		ck_assert_msg(dsp_write(FC16, a, 1) == 0, "FC16 0x%04x", a);
	}
	ck_assert_int_eq(dsp_write(FC16, 0x0000, 12), 0);
	ck_assert_int_eq(dsp_write(FC16, 0x0005, 6), 0);
}
END_TEST

/* ---- the map itself ----------------------------------------------------- */

/* Fields lie in address order, inside their map, without overlap. */
static void
check_table(const struct fwi_field *f, size_t n, unsigned count)
{
	unsigned next = 0;

	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(f[i].addr >= next, "%s overlaps", f[i].name);
		ck_assert_uint_gt(f[i].words, 0);
		next = (unsigned)f[i].addr + f[i].words;
		ck_assert_msg(next <= count, "%s past the map end", f[i].name);
		ck_assert_ptr_eq(fwi_field_at(f, n, f[i].addr), &f[i]);
		ck_assert_ptr_eq(fwi_field_at(f, n, (uint16_t)(next - 1)), &f[i]);
	}
}

START_TEST(test_map_tables)
{
	check_table(fwi_reader_fields, fwi_reader_field_count, FWI_READER_HR_COUNT);
	check_table(fwi_io_input_reg_fields, fwi_io_input_reg_field_count, FWI_IO_IR_COUNT);
	check_table(fwi_io_holding_fields, fwi_io_holding_field_count, FWI_IO_HR_COUNT);
	check_table(fwi_display_fields, fwi_display_field_count, FWI_DISPLAY_HR_COUNT);
	ck_assert_uint_eq(FWI_RD_WINDOW + FWI_RD_WINDOW_WORDS, FWI_READER_HR_COUNT);
	ck_assert_uint_eq(FWI_RD_WINDOW_WORDS, FWI_WINDOW_RECORDS * FWI_RECORD_WORDS);
	ck_assert_uint_eq(FWI_POLL_WORDS, 125);
	ck_assert_uint_eq(FWI_REC_CRC + FWI_REC_CRC_WORDS, FWI_RECORD_WORDS);
	ck_assert_ptr_null(fwi_field_at(fwi_reader_fields, fwi_reader_field_count, 0x00FA));
	ck_assert_str_eq(fwi_message_text(FWI_MSG_THANK_YOU), "thank you");
	ck_assert_ptr_null(fwi_message_text(FWI_MSG_COUNT));
}
END_TEST

static Suite *
fwi_codec_suite(void)
{
	Suite *s = suite_create("fwi_codec");
	TCase *tc;

	tc = tcase_create("vector");
	tcase_add_test(tc, test_vector_crc);
	tcase_add_test(tc, test_vector_decode);
	tcase_add_test(tc, test_vector_encode);
	tcase_add_test(tc, test_vector_in_poll_block);
	suite_add_tcase(s, tc);

	tc = tcase_create("round_trip");
	tcase_add_test(tc, test_round_trip_shapes);
	tcase_add_test(tc, test_round_trip_96_and_256);
	tcase_add_test(tc, test_round_trip_flags_and_antennas);
	tcase_add_test(tc, test_encode_antenna_from_field);
	tcase_add_test(tc, test_round_trip_values);
	tcase_add_test(tc, test_encode_refuses);
	suite_add_tcase(s, tc);

	tc = tcase_create("corrupt");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_bad_crc_every_byte);
	tcase_add_test(tc, test_bad_epc_length);
	tcase_add_test(tc, test_valid_flag_clear);
	tcase_add_test(tc, test_valid_seq_zero);
	tcase_add_test(tc, test_unknown_flag_bits);
	tcase_add_test(tc, test_bits_past_epc_length);
	tcase_add_test(tc, test_tid_without_flag);
	tcase_add_test(tc, test_reserved_not_zero);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_empty_and_ff);
	tcase_add_test(tc, test_random_garbage);
	suite_add_tcase(s, tc);

	tc = tcase_create("fixtures");
	tcase_add_test(tc, test_fixtures);
	tcase_add_test(tc, test_fixture_valid_96_is_vector);
	tcase_add_test(tc, test_fixture_valid_256);
	suite_add_tcase(s, tc);

	tc = tcase_create("other");
	tcase_add_test(tc, test_epc_hex_lengths);
	tcase_add_test(tc, test_mini_header);
	tcase_add_test(tc, test_ack);
	suite_add_tcase(s, tc);

	tc = tcase_create("write_rules");
	tcase_add_test(tc, test_write_ack);
	tcase_add_test(tc, test_write_set_clock);
	tcase_add_test(tc, test_write_read_only_and_reserved);
	tcase_add_test(tc, test_write_past_end);
	tcase_add_test(tc, test_write_config);
	tcase_add_test(tc, test_write_io);
	tcase_add_test(tc, test_write_display);
	tcase_add_test(tc, test_map_tables);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(fwi_codec_suite());
}
