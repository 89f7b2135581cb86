/* tslmsg.h: the messages that carry the tag status list from central to
 * the lanes (docs/taglist-sync-format.md).
 *
 * Versions 1 and 2, big-endian.  Every message starts with a 32-byte header:
 *   0 magic "TOLS" | 4 version u8 | 5 type u8 | 6 reserved u16 = 0 |
 *   8 list version u64 | 16 aux u64 | 24 key id u32 | 28 count u32
 * Version 2 is a DELTA that carries closed-road entry records (entries
 * count after the tags count, entry records after the tag records); every
 * other message, a DELTA without entries included, is version 1, so each
 * change set has one encoding and deltas made before version 2 stay valid.
 * Central publishes a signed DELTA per list version and a signed HEARTBEAT
 * about once a second (pub/sub); a lane that missed some asks for them
 * (GET_DELTAS -> DELTAS) or for the whole list in chunks (GET_SNAPSHOT ->
 * SNAPSHOT) over req/rep; ERROR answers a request central cannot serve.
 *
 * The decoder checks every byte it is given and allocates nothing; decoded
 * records are read with iterators that point into the caller's buffer.
 * Signatures are checked separately (toll_tsl_verify), with the verifier of
 * the key the header names (key id). */
#ifndef TOLL_TSLMSG_H
#define TOLL_TSLMSG_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#define TOLL_TSL_VERSION 1	      /* every message but a DELTA with entries */
#define TOLL_TSL_VERSION_ENTRIES 2 /* a DELTA with at least one entry record */
#define TOLL_TSL_HEADER_BYTES 32
#define TOLL_TSL_SIG_BYTES 64
#define TOLL_TSL_MAX_BYTES (8u * 1024 * 1024)	/* any message, 8 MiB */
#define TOLL_TSL_DELTA_MAX_RECORDS 65536u	/* accounts + tags + entries in a DELTA */
#define TOLL_TSL_ACCOUNT_BYTES 16		/* an account record */
#define TOLL_TSL_TAG_MIN_BYTES 16		/* 1-8 bit EPC, nothing optional */
#define TOLL_TSL_TAG_MAX_BYTES 79		/* 256-bit EPC, TID, 12-char plate, pass */
#define TOLL_TSL_ENTRY_MIN_BYTES 16		/* 1-8 bit EPC */
#define TOLL_TSL_ENTRY_MAX_BYTES 47		/* 256-bit EPC */
#define TOLL_TSL_DELTA_MIN_BYTES (32 + 16 + 64) /* version 1, no records */
#define TOLL_TSL_DELTA_V2_FIXED_BYTES (32 + 20 + 64) /* version 2 without its records */
/* The largest DELTA is a version 1 one of 65536 tags of 79 bytes.  A
 * version 2 delta has at least one entry, at most 47 bytes, so it is at
 * most 116 + 65535 x 79 + 47, 28 bytes less: its 4-byte entries count is
 * paid for by an entry being 32 bytes shorter than the largest tag. */
#define TOLL_TSL_DELTA_MAX_BYTES (TOLL_TSL_DELTA_MIN_BYTES + 65536u * 79)
#define TOLL_TSL_HEARTBEAT_BYTES (32 + 8 + 64)
#define TOLL_TSL_GET_DELTAS_BYTES (32 + 4 + 2)
#define TOLL_TSL_GET_SNAPSHOT_BYTES (32 + 4)
#define TOLL_TSL_SNAPSHOT_FIXED_BYTES (32 + 8 + 32 + 64 + 4) /* before the chunk */
#define TOLL_TSL_SNAPSHOT_CHUNK_MAX (TOLL_TSL_MAX_BYTES - TOLL_TSL_SNAPSHOT_FIXED_BYTES)
#define TOLL_TSL_ERROR_TEXT_MAX 255
#define TOLL_TSL_STATION_MAX 0x7FFFFFFFu
#define TOLL_TSL_ACCOUNT_MAX 0xFFFFFFFFu
#define TOLL_TSL_EPC_MAX_BITS 256
#define TOLL_TSL_TID_BYTES 12
#define TOLL_TSL_PLATE_MAX 12

/* values are part of the format */
enum toll_tsl_type {
	TOLL_TSL_DELTA = 1,	   /* central -> lanes, pub/sub, signed */
	TOLL_TSL_HEARTBEAT = 2,	   /* central -> lanes, pub/sub, signed */
	TOLL_TSL_GET_DELTAS = 3,   /* lane -> central, request */
	TOLL_TSL_DELTAS = 4,	   /* central -> lane, reply: signed DELTAs inside */
	TOLL_TSL_GET_SNAPSHOT = 5, /* lane -> central, request */
	TOLL_TSL_SNAPSHOT = 6,	   /* central -> lane, reply: a chunk, signed hash */
	TOLL_TSL_ERROR = 7	   /* central -> lane, reply */
};
#define TOLL_TSL_TYPE_MAX 7

/* values are part of the format */
enum toll_tsl_error_code {
	TOLL_TSL_ERR_TOO_OLD = 1,	  /* deltas after that version pruned: take a snapshot */
	TOLL_TSL_ERR_UNKNOWN_VERSION = 2, /* no such version (yet) */
	TOLL_TSL_ERR_MALFORMED = 3,	  /* the request could not be decoded */
	TOLL_TSL_ERR_BUSY = 4		  /* try again later */
};
#define TOLL_TSL_ERR_MAX 4

/* Tag flags in struct toll_tsl_tag: the values of LANE_TAG_F_EXEMPT and
 * LANE_TAG_F_PASS (lane_taglist.h), so they pass on unchanged.  On the wire
 * they are bits 2 and 4, and bit 1 says a TID follows (tid_valid here). */
#define TOLL_TSL_TAG_F_EXEMPT 0x01
#define TOLL_TSL_TAG_F_PASS 0x02

/* Closed-road entry states; values are part of the format */
enum toll_tsl_entry_state {
	TOLL_TSL_ENTRY_OPEN = 1,   /* on the network: the exit charges from this entry */
	TOLL_TSL_ENTRY_CLOSED = 2, /* the trip ended at an exit: forget the entry */
	TOLL_TSL_ENTRY_EXPIRED = 3 /* no exit within central's limit: forget the entry */
};
#define TOLL_TSL_ENTRY_STATE_MAX 3

/* "delta", "heartbeat", "get-deltas", "deltas", "get-snapshot", "snapshot",
 * "error"; "?" for others. */
const char *toll_tsl_type_name(unsigned type);
/* "too-old", "unknown-version", "malformed", "busy"; "?" for others. */
const char *toll_tsl_error_name(unsigned code);

struct toll_tsl_account {
	uint64_t id;	     /* 1 .. 2^32-1 */
	int64_t balance_vnd; /* central's balance at the delta's version */
};

/* The full state of a tag: a DELTA's record replaces whatever the lane had
 * for this EPC. */
struct toll_tsl_tag {
	uint16_t epc_bits; /* 1..256 */
	uint8_t epc[32];   /* left-aligned; decoded: zero past epc_bits */
	int tid_valid;
	uint8_t tid[12];	 /* decoded: zero unless tid_valid */
	uint64_t account_id;	 /* 1 .. 2^32-1 */
	unsigned vclass;	 /* 1..5 */
	unsigned status;	 /* 0 valid, 1 low balance, 2 invalid */
	unsigned reason;	 /* 0..255 */
	unsigned flags;		 /* TOLL_TSL_TAG_F_* */
	char plate[13];		 /* 0-12 printable ASCII characters, NUL-terminated */
	uint32_t pass_station;	 /* with TOLL_TSL_TAG_F_PASS: >= 1; else 0 */
	uint32_t pass_until_day; /* with TOLL_TSL_TAG_F_PASS: days since 1970-01-01 UTC; else 0 */
};

/* A closed-road trip entry: a vehicle passed station's entry plaza at
 * time_ms.  A DELTA's record replaces whatever the lane had for this EPC's
 * trip; an exit lane charges from an open entry's station, and forgets the
 * entry when it is closed or expired. */
struct toll_tsl_entry {
	uint16_t epc_bits; /* 1..256 */
	uint8_t epc[32];   /* left-aligned; decoded: zero past epc_bits */
	uint32_t station;  /* the entry station, 1 .. 2^31-1 */
	int64_t time_ms;   /* UTC ms since the epoch, > 0 */
	unsigned state;	   /* enum toll_tsl_entry_state */
};

/* A decoded message.  Pointers refer to the caller's buffer, which must
 * outlive it; the fields of other types are zero. */
struct toll_tsl_msg {
	unsigned type;		 /* enum toll_tsl_type */
	unsigned format_version; /* the header's version byte: 1, or 2 for a DELTA with entries */
	uint64_t list_version;
	uint64_t aux;
	uint32_t key_id;
	uint32_t count; /* DELTA: records; DELTAS: deltas; others 0 */
	const uint8_t *buf;
	size_t len;
	/* DELTA */
	int64_t created_ms;
	uint32_t accounts, tags, entries; /* entries: 0 in version 1 */
	size_t tags_off;		  /* where the tag records start */
	size_t entries_off;		  /* where the entry records start (the tags end) */
	/* HEARTBEAT */
	int64_t sent_ms;
	/* GET_DELTAS */
	uint32_t station_id;
	uint16_t lane_id;
	/* GET_SNAPSHOT */
	uint32_t max_bytes;
	/* SNAPSHOT */
	uint64_t total_bytes;
	uint8_t sha256[32];
	uint8_t snapshot_sig[64];
	const uint8_t *chunk;
	uint32_t chunk_len;
	/* ERROR */
	uint32_t error_code; /* enum toll_tsl_error_code */
	char text[TOLL_TSL_ERROR_TEXT_MAX + 1];
};

/* Decode and check a whole message (one NNG message, exactly len bytes);
 * a DELTAS message's DELTAs are each checked the same way.  0, or
 * TOLL_ESHORT (ends inside a field), TOLL_EVERSION (version is neither 1
 * nor 2, or 2 on a type other than DELTA), TOLL_ERANGE (an account id
 * outside 1..2^32-1), TOLL_EFORMAT (anything else: magic, type, reserved,
 * a header field the type does not allow, counts, a version 2 DELTA with
 * no entries, a record field out of bounds, records out of order, bytes
 * after the end, more than TOLL_TSL_MAX_BYTES).  Whatever the result,
 * m->type, format_version, list_version, aux, key_id and count hold the
 * header's fields when the message had the magic and 32 bytes (0
 * otherwise).  Signatures are not checked here. */
int toll_tsl_decode(const uint8_t *buf, size_t len, struct toll_tsl_msg *m);

/* Check the signature of a DELTA, a HEARTBEAT or a SNAPSHOT (its snapshot
 * signature), or of every DELTA inside a DELTAS, with v, which the caller
 * chose by the key id of the header (each inner DELTA's for DELTAS).  The
 * message is decoded first: its decode error, TOLL_EINVAL for a type that
 * carries no signature, TOLL_EBADSIG. */
int toll_tsl_verify(const uint8_t *buf, size_t len, struct toll_verifier *v);

/* The snapshot signature: Ed25519 over the 63 bytes "TOLS-SNAPSHOT-1" |
 * version u64 | total size u64 | SHA-256 of the whole file.  Central signs
 * once per snapshot file; the lane checks the file's hash after the last
 * chunk. */
int toll_tsl_snapshot_sign(struct toll_signer *s, uint64_t version, uint64_t total_bytes,
			   const uint8_t sha256[32], uint8_t sig[64]);
int toll_tsl_snapshot_verify(struct toll_verifier *v, uint64_t version, uint64_t total_bytes,
			     const uint8_t sha256[32], const uint8_t sig[64]);

/* Iterators over a decoded message's parts, pointing into its buffer. */
struct toll_tsl_iter {
	const uint8_t *buf;
	size_t off; /* next item */
	size_t end; /* where the items end */
	uint32_t left;
};
/* Start at the accounts, tags or entries of a decoded DELTA (a version 1
 * delta has no entries: an empty iterator), or the DELTAs of a decoded
 * DELTAS: 0, or TOLL_EINVAL for another type (the iterator is then
 * empty). */
int toll_tsl_accounts(const struct toll_tsl_msg *m, struct toll_tsl_iter *it);
int toll_tsl_tags(const struct toll_tsl_msg *m, struct toll_tsl_iter *it);
int toll_tsl_entries(const struct toll_tsl_msg *m, struct toll_tsl_iter *it);
int toll_tsl_deltas(const struct toll_tsl_msg *m, struct toll_tsl_iter *it);
/* The next item: 0, or TOLL_EEMPTY after the last one.  A DELTA comes as
 * its bytes, to be decoded (and verified) on its own. */
int toll_tsl_next_account(struct toll_tsl_iter *it, struct toll_tsl_account *a);
int toll_tsl_next_tag(struct toll_tsl_iter *it, struct toll_tsl_tag *t);
int toll_tsl_next_entry(struct toll_tsl_iter *it, struct toll_tsl_entry *e);
int toll_tsl_next_delta(struct toll_tsl_iter *it, const uint8_t **delta, size_t *len);

/* Builder for the DELTA, HEARTBEAT and DELTAS messages, written straight
 * into the caller's buffer.  Fields are the functions' business. */
struct toll_tsl_builder {
	uint8_t *buf;
	size_t cap; /* at most TOLL_TSL_MAX_BYTES */
	size_t off;
	unsigned type; /* 0: not begun or finished */
	uint32_t key_id;
	uint64_t version; /* DELTA, HEARTBEAT: its version; DELTAS: the last delta's */
	uint64_t latest;  /* DELTAS: central's latest version */
	uint32_t accounts, tags, entries, deltas;
	uint64_t prev_account;
	uint16_t prev_bits; /* the last tag's EPC, then the last entry's */
	uint8_t prev_epc[32];
};

/* DELTA making version (>= 1) from version - 1.  Accounts first, by
 * strictly increasing id; then tags, by strictly increasing (EPC bits, EPC
 * bytes); then entries, by strictly increasing (EPC bits, EPC bytes).
 * begin: TOLL_EINVAL (version 0, NULL pointers), TOLL_ENOSPACE (cap below
 * TOLL_TSL_DELTA_MIN_BYTES).  add: TOLL_EINVAL for a field the decoder
 * would refuse (EPC bits past epc_bits are cleared, not refused; tid is
 * ignored without tid_valid) or a builder not begun as a DELTA,
 * TOLL_ERANGE for an account id outside 1..2^32-1, TOLL_ESEQ out of order
 * (an account after a tag or an entry, a tag after an entry, too),
 * TOLL_ENOSPACE when the record and the signature would not fit in cap or
 * the delta has TOLL_TSL_DELTA_MAX_RECORDS records: finish it, put the
 * rest in the next version.  The delta is version 1 until the first entry,
 * which makes it version 2: 4 bytes more (the entries count), counted by
 * that add's TOLL_ENOSPACE check, and the records so far move up by 4.  A
 * failed add leaves the builder as it was. */
int toll_tsl_delta_begin(struct toll_tsl_builder *b, uint8_t *buf, size_t cap, uint64_t version,
			 int64_t created_ms, uint32_t key_id);
int toll_tsl_delta_add_account(struct toll_tsl_builder *b, const struct toll_tsl_account *a);
int toll_tsl_delta_add_tag(struct toll_tsl_builder *b, const struct toll_tsl_tag *t);
int toll_tsl_delta_add_entry(struct toll_tsl_builder *b, const struct toll_tsl_entry *e);
/* HEARTBEAT of central's latest version: TOLL_EINVAL, TOLL_ENOSPACE (cap
 * below TOLL_TSL_HEARTBEAT_BYTES). */
int toll_tsl_heartbeat_begin(struct toll_tsl_builder *b, uint8_t *buf, size_t cap, uint64_t version,
			     int64_t sent_ms, uint32_t key_id);
/* The bytes a begun DELTA or HEARTBEAT signs, as built so far (NULL, *len
 * 0 for another builder): for a signature made elsewhere, after the last
 * add (the first entry rewrites the bytes before it). */
const uint8_t *toll_tsl_signed_bytes(const struct toll_tsl_builder *b, size_t *len);
/* Sign with s (its key id must be the one given to begin: TOLL_EINVAL
 * otherwise) or append sig, made elsewhere over toll_tsl_signed_bytes;
 * the message's size in *outlen (0 on error).  The builder is then done. */
int toll_tsl_finish(struct toll_tsl_builder *b, struct toll_signer *s, size_t *outlen);
int toll_tsl_finish_sig(struct toll_tsl_builder *b, const uint8_t sig[64], size_t *outlen);
/* One call for a HEARTBEAT signed by s (key id from s). */
int toll_tsl_encode_heartbeat(uint8_t *out, size_t cap, uint64_t version, int64_t sent_ms,
			      struct toll_signer *s, size_t *outlen);

/* DELTAS answering a lane that has have_version: add the stored DELTAs of
 * versions have_version + 1, + 2... (each must decode and follow the
 * previous: TOLL_EINVAL, TOLL_ESEQ) until TOLL_ENOSPACE says the next does
 * not fit in cap.  finish: TOLL_EINVAL when latest is below the last
 * delta's version.  key_id: central's current list key (informational). */
int toll_tsl_deltas_begin(struct toll_tsl_builder *b, uint8_t *buf, size_t cap, uint64_t have_version,
			  uint64_t latest, uint32_t key_id);
int toll_tsl_deltas_add(struct toll_tsl_builder *b, const uint8_t *delta, size_t len);
int toll_tsl_deltas_finish(struct toll_tsl_builder *b, size_t *outlen);

/* The other messages, in one call each: 0 and the size in *outlen, or
 * TOLL_EINVAL for a field the decoder would refuse or NULL pointers,
 * TOLL_ENOSPACE when cap is too small (*outlen 0 on error). */
int toll_tsl_encode_get_deltas(uint8_t *out, size_t cap, uint64_t have_version, uint64_t max_deltas,
			       uint32_t station_id, uint16_t lane_id, size_t *outlen);
int toll_tsl_encode_get_snapshot(uint8_t *out, size_t cap, uint64_t version, uint64_t offset,
				 uint32_t max_bytes, size_t *outlen);
/* A chunk of chunk_len bytes at offset of a snapshot file of total_bytes
 * with that SHA-256 and snapshot signature (toll_tsl_snapshot_sign). */
int toll_tsl_encode_snapshot(uint8_t *out, size_t cap, uint64_t version, uint64_t offset,
			     uint64_t total_bytes, const uint8_t sha256[32], const uint8_t sig[64],
			     uint32_t key_id, const uint8_t *chunk, uint32_t chunk_len, size_t *outlen);
/* text: NULL or NUL-terminated; longer than 255 bytes is cut, bytes outside
 * 0x20-0x7E become '?'. */
int toll_tsl_encode_error(uint8_t *out, size_t cap, uint64_t latest, uint32_t key_id, unsigned code,
			  const char *text, size_t *outlen);

#endif
