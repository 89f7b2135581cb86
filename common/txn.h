/* txn.h: the signed toll transaction, the unit of money of the whole
 * system.  Its canonical encoding (docs/transaction-format.md) is fixed:
 * 236 bytes, big-endian, the Ed25519 signature over the first 172, so any
 * Ed25519 library can verify a record.  Each lane chains its records: every
 * record carries the SHA-256 of the lane's previous record's encoding. */
#ifndef TOLL_TXN_H
#define TOLL_TXN_H

#include <stdint.h>

#include "crypto.h"

#define TOLL_TXN_VERSION 1
#define TOLL_TXN_BYTES 236
#define TOLL_TXN_SIGNED_BYTES 172

enum toll_outcome { /* values are part of the format */
	TOLL_OUT_PAID = 1,	      /* charged, barrier opened */
	TOLL_OUT_REFUSED_BALANCE = 2, /* insufficient balance, not charged */
	TOLL_OUT_REFUSED_INVALID = 3, /* invalid / blacklisted / cloned tag, not charged */
	TOLL_OUT_NO_TAG = 4,	      /* no readable tag: exception for review, not charged */
	TOLL_OUT_EXEMPT = 5,	      /* exempt vehicle, not charged */
	TOLL_OUT_PASS = 6,	      /* valid monthly/quarterly pass, not charged */
	TOLL_OUT_ENTRY = 7,	      /* closed network entry, charged at exit */
	TOLL_OUT_UNKNOWN_TAG = 8      /* tag not in the list: refused, not charged */
};
#define TOLL_OUT_MAX 8

/* flags (values are part of the format) */
#define TOLL_TXN_F_ENTRY_UNKNOWN 0x0001 /* closed exit without a known entry: policy fee */
#define TOLL_TXN_F_NEIGHBOUR 0x0002	/* the tag was also read by a neighbouring lane */
#define TOLL_TXN_F_CLOCK_UNSYNC 0x0004	/* reader clock not synchronised */
#define TOLL_TXN_F_OFFLINE_LIST 0x0008	/* decided on a list older than the staleness limit */
#define TOLL_TXN_F_KNOWN 0x000F

struct toll_txn {
	uint32_t station_id;
	uint16_t lane_id;
	uint64_t lane_seq;	/* 1, 2, 3... per lane, never reused */
	uint8_t txn_id[16];	/* 48-bit ms time + random, UUIDv7 layout */
	int64_t time_ms;	/* UTC ms since the epoch */
	int16_t utc_offset_min; /* station time zone */
	uint16_t epc_bits;	/* 0: no tag */
	uint8_t epc[32];
	uint8_t tid_valid;
	uint8_t tid[12];
	uint64_t account_id;	/* 0: none */
	uint8_t vclass;		/* 1..5, 0 unknown */
	uint8_t outcome;
	uint16_t flags;
	uint32_t entry_station;
	int64_t entry_time_ms;
	int64_t fee_vnd;	/* >= 0, whole dong */
	uint32_t reader_boot_id, reader_seq;
	int16_t rssi_dbm_x10;
	uint8_t prev_hash[32];	/* zero for lane_seq 1 */
	uint32_t key_id;
	uint8_t sig[64];
};

/* TOLL_EINVAL for a record decode would refuse. */
int toll_txn_encode(const struct toll_txn *t, uint8_t out[TOLL_TXN_BYTES]);
/* Strict: TOLL_ESHORT, TOLL_EFORMAT, TOLL_EVERSION, TOLL_ERANGE. */
int toll_txn_decode(const uint8_t *buf, size_t len, struct toll_txn *t);
int toll_txn_sign(struct toll_txn *t, struct toll_signer *s);
int toll_txn_verify(const struct toll_txn *t, struct toll_verifier *v);
void toll_txn_hash(const struct toll_txn *t, uint8_t out[32]);
int toll_txn_new_id(int64_t time_ms, uint8_t id[16]);
/* "paid", "refused-balance", ...; NULL if unknown. */
const char *toll_outcome_name(int outcome);

/* Feed a lane's records in order: TOLL_ESEQ on a gap or repeat,
 * TOLL_ECHAIN when prev_hash is not the previous record's hash. */
struct toll_txn_chain {
	int started;
	uint64_t last_seq;
	uint8_t last_hash[32];
};
int toll_txn_chain_check(struct toll_txn_chain *c, const struct toll_txn *t);

#endif
