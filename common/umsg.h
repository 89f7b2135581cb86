/* umsg.h: the lane -> central uplink messages (docs/uplink-format.md).
 *
 * Version 1, big-endian.  Every message starts with a 16-byte header:
 *   0 magic "TOLU" | 4 version u8 = 1 | 5 type u8 | 6 reserved u16 = 0 |
 *   8 station u32 (1..2^31-1) | 12 lane u16 (1..65535) | 14 count u16
 * A BATCH (lane -> central) carries `count` (0..1024) transaction records,
 * each a u16 length (1..1024) and that many opaque bytes, in lane-seq order;
 * the message ends exactly after the last record.  An ACK (central -> lane)
 * has count 0 and a 32-byte body: acked seq u64 | status u32 |
 * accepted u32 | duplicates u32 | quarantined u32 | reserved [8] = 0.
 *
 * The codec checks framing only: it never looks inside a record, and whether
 * the records belong to the header's lane is central's business. */
#ifndef TOLL_UMSG_H
#define TOLL_UMSG_H

#include <stddef.h>
#include <stdint.h>

#define TOLL_UMSG_VERSION 1
#define TOLL_UMSG_HEADER_BYTES 16
#define TOLL_UMSG_ACK_BYTES 48
#define TOLL_UMSG_BATCH_MAX 1024  /* records in a BATCH */
#define TOLL_UMSG_RECORD_MAX 1024 /* bytes in one record */
#define TOLL_UMSG_MAX_BYTES (16 + 1024 * (2 + 1024))
#define TOLL_UMSG_STATION_MAX 0x7FFFFFFFu

enum toll_umsg_type { /* values are part of the format */
	TOLL_UMSG_BATCH = 1, /* lane -> central */
	TOLL_UMSG_ACK = 2    /* central -> lane */
};

enum toll_umsg_status { /* values are part of the format */
	TOLL_UMSG_OK = 0,
	TOLL_UMSG_UNKNOWN_LANE = 1, /* station or lane not registered */
	TOLL_UMSG_RETRY = 2,	    /* central cannot commit now: send again later */
	TOLL_UMSG_MALFORMED = 3,    /* the request could not be decoded */
	TOLL_UMSG_WRONG_LANE = 4    /* records name another station/lane than the header */
};
#define TOLL_UMSG_STATUS_MAX 4

/* "ok", "unknown-lane", "retry", "malformed", "wrong-lane"; "?" for others. */
const char *toll_umsg_status_name(unsigned status);

struct toll_umsg_ack {
	uint32_t station_id;
	uint16_t lane_id;
	uint64_t acked_seq;   /* highest lane seq stored with no gap below; 0: none */
	uint32_t status;      /* enum toll_umsg_status */
	uint32_t accepted;    /* records of the batch settled now for the first time */
	uint32_t duplicates;  /* records central had already, same bytes */
	uint32_t quarantined; /* records kept aside */
};

/* A decoded message; records point into the caller's buffer, which must
 * outlive it.  About 7 KB: keep it off small stacks (static or heap). */
struct toll_umsg {
	unsigned type;	    /* enum toll_umsg_type */
	uint32_t station_id;
	uint16_t lane_id;
	unsigned count;	    /* BATCH records; 0 for an ACK */
	uint32_t rec_off[TOLL_UMSG_BATCH_MAX]; /* offsets of record bytes in buf */
	uint16_t rec_len[TOLL_UMSG_BATCH_MAX];
	const uint8_t *buf;
	struct toll_umsg_ack ack; /* ACK; zero for a BATCH */
};

/* Decode and check a whole message (one NNG message, exactly len bytes).
 * 0, or TOLL_ESHORT (the message ends inside its header, an ACK body or a
 * record), TOLL_EVERSION (version is not 1), TOLL_EFORMAT (bad magic, type,
 * reserved bytes, station or lane 0, station above 2^31-1, count above the
 * maximum or nonzero in an ACK, record length 0 or above the maximum,
 * unknown ACK status, bytes after the end).  Whatever the result, m->type,
 * m->station_id and m->lane_id hold the header's fields when the message
 * had the magic and 16 bytes (0 otherwise), so central can address a
 * MALFORMED ack even to a version it does not know. */
int toll_umsg_decode(const uint8_t *buf, size_t len, struct toll_umsg *m);

/* Record i of a decoded BATCH and its length in *len; NULL (and *len 0)
 * when i is not below m->count. */
const uint8_t *toll_umsg_record(const struct toll_umsg *m, unsigned i, size_t *len);

/* Exact size of a BATCH of n records totalling total_record_bytes (without
 * their length prefixes); SIZE_MAX if that does not fit a size_t. */
size_t toll_umsg_batch_bytes(unsigned n, size_t total_record_bytes);

/* Encode a BATCH of the n records recs[i] (lens[i] bytes each) into out (cap
 * bytes); its size in *outlen.  TOLL_EINVAL for arguments the decoder would
 * refuse (n above the maximum, a record length 0 or above the maximum,
 * station 0 or above 2^31-1, lane 0) or NULL pointers, TOLL_ENOSPACE when
 * cap is too small (see toll_umsg_batch_bytes).  *outlen is 0 on error. */
int toll_umsg_encode_batch(uint8_t *out, size_t cap, uint32_t station_id, uint16_t lane_id,
			   const uint8_t *const *recs, const size_t *lens, unsigned n,
			   size_t *outlen);

/* Encode an ACK: 0, or TOLL_EINVAL (station or lane out of range, unknown
 * status). */
int toll_umsg_encode_ack(uint8_t out[TOLL_UMSG_ACK_BYTES], const struct toll_umsg_ack *a);

#endif
