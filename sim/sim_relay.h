/* sim_relay.h: toll-sim relay, a fault-injecting relay for NNG links.
 *
 * It sits on loopback between an NNG dialer (a lane) and its listener
 * (toll-central) and works on the SP-over-TCP framing, not on bytes: each
 * direction of a connection starts with the 8-byte SP header
 * (00 'S' 'P' 00, protocol id u16 big-endian, reserved u16 zero), passed
 * through as it is, then carries messages, each a u64 big-endian length
 * and that many bytes.  Per message, with a seeded generator, the relay
 * drops it, sends it twice, holds it back to swap it with the next one
 * (reorder), delays it, or forwards it.  It can also be down for a while:
 * every connection is cut and new ones are refused, as if the far end
 * were unreachable.
 *
 * The frame parser is strict: a header other than the SP header, or a
 * length above the bound, closes the connection with a clear error; a
 * stream that ends inside a message is reported as truncated. */
#ifndef SIM_RELAY_H
#define SIM_RELAY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "rng.h"

#define SIM_SP_HEADER_BYTES 8
#define SIM_SP_LENGTH_BYTES 8
#define SIM_SP_MSG_MAX_DEFAULT (64ull << 20) /* 64 MiB */
#define SIM_RELAY_MAX_ROUTES 8
#define SIM_RELAY_HOST_MAX 64

/* ---- the SP-over-TCP frame parser ------------------------------------ */

enum sim_sp_event {
	SIM_SP_MORE = 0,    /* every byte taken, nothing complete yet */
	SIM_SP_HEADER = 1,  /* the 8-byte header is complete */
	SIM_SP_MESSAGE = 2, /* a message is complete */
};

struct sim_sp_parser {
	int state;	    /* internal: header, length, body, failed */
	uint8_t head[SIM_SP_HEADER_BYTES]; /* the header, or the length being read */
	size_t have;	    /* bytes of head */
	uint64_t max_bytes; /* bound on one message's length */
	uint64_t len;	    /* the current message's length */
	uint8_t *frame;	    /* length prefix + body, being filled */
	uint64_t frame_have;
	uint16_t protocol;  /* from the header */
	uint64_t messages;  /* complete so far */
};

/* A complete message: bytes holds the 8-byte length prefix and the body,
 * ready to be written on; the caller frees bytes. */
struct sim_sp_frame {
	uint8_t *bytes;
	size_t len;	  /* SIM_SP_LENGTH_BYTES + body length */
};

void sim_sp_parser_init(struct sim_sp_parser *p, uint64_t max_bytes);
/* Free a partly read message; the parser may be initialised again. */
void sim_sp_parser_clear(struct sim_sp_parser *p);

/* Feed n bytes from in.  Takes *used of them (all of them for
 * SIM_SP_MORE; call again with the rest after an event) and returns:
 *   SIM_SP_MORE
 *   SIM_SP_HEADER    the header is complete: 8 bytes copied to hdr_out,
 *                    p->protocol set
 *   SIM_SP_MESSAGE   *out holds the message (the caller frees out->bytes)
 *   TOLL_EFORMAT     not an SP header (err says which byte)
 *   TOLL_ERANGE      a message longer than max_bytes
 *   TOLL_ENOMEM
 * After an error every further call returns TOLL_EFORMAT. */
int sim_sp_feed(struct sim_sp_parser *p, const uint8_t *in, size_t n, size_t *used,
		uint8_t hdr_out[SIM_SP_HEADER_BYTES], struct sim_sp_frame *out, char *err, size_t errlen);

/* The stream ended: 0 between messages, TOLL_ESHORT inside the header or a
 * message. */
int sim_sp_finish(const struct sim_sp_parser *p);

/* ---- faults ----------------------------------------------------------- */

struct sim_relay_faults {
	uint32_t drop_ppm, dup_ppm, reorder_ppm; /* per million messages */
	int64_t delay_ms_max;			 /* each message 0..this late */
};

struct sim_relay_decision {
	int drop;	  /* never sent */
	unsigned copies;  /* 1, or 2 for a duplicate */
	int hold;	  /* held back to go after the next message */
	int64_t delay_ms; /* 0..delay_ms_max */
};

/* What to do with the next message.  Draws the same number of values from
 * rng whatever the outcome, so one seed gives one sequence of decisions
 * for any fault rates. */
void sim_relay_decide(struct toll_rng *rng, const struct sim_relay_faults *f, struct sim_relay_decision *d);

/* "10", "2.5", "0.01": a percentage 0..100 with at most 4 decimals, in
 * parts per million.  0 or TOLL_EINVAL. */
int sim_relay_parse_pct(const char *s, uint32_t *ppm);

/* ---- the relay -------------------------------------------------------- */

struct sim_relay_route {
	char listen_host[SIM_RELAY_HOST_MAX];
	int listen_port;
	char connect_host[SIM_RELAY_HOST_MAX];
	int connect_port;
};

struct sim_relay_cfg {
	struct sim_relay_route routes[SIM_RELAY_MAX_ROUTES];
	unsigned nroutes;
	uint64_t seed;
	struct sim_relay_faults faults;
	int64_t hold_ms;       /* a held message goes anyway after this */
	uint64_t max_bytes;    /* one message, at most */
	int64_t down_after_ms; /* with down_ms > 0: down this long after the start */
	int64_t down_ms;       /* 0: no scheduled down period */
	char ctl_path[108];    /* control socket; "" none */
};

void sim_relay_cfg_defaults(struct sim_relay_cfg *c);

/* Run until *stop is set or a quit command: listen on every route,
 * relay, inject faults; print the counters to stdout at the end.
 * 0, or 1 when it could not start. */
int sim_relay_run(const struct sim_relay_cfg *c, volatile sig_atomic_t *stop);

#endif
