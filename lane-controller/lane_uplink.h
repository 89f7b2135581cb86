/* lane_uplink.h: store and forward from a lane's journal to central.
 *
 * One thread per lane follows the journal (toll_journal_tail) and sends its
 * transaction records, in lane-seq order, to toll-central in batches over
 * NNG req0 (docs/uplink-format.md): one request outstanding, a reply
 * timeout after which the same batch goes again (central recognises what
 * it has), backoff while central answers RETRY or cannot be reached.  The
 * lane keeps deciding whatever happens here: the journal is the buffer.
 *
 * The journal itself belongs to the lane thread.  The uplink only reads
 * segment files, and learns how far it may read from the durable seq the
 * lane thread publishes (lane_uplink_durable); it publishes back how far
 * central has acknowledged (lane_uplink_ack_target), which the lane thread
 * stores as the journal's cursor.  The cursor stops one record short of
 * the last acknowledged transaction, so the journal always keeps the
 * newest acknowledged transaction, from which a restart recovers the lane
 * seq and the hash chain. */
#ifndef LANE_UPLINK_H
#define LANE_UPLINK_H

#include <stdint.h>

#define LANE_URL_MAX 256
#define LANE_TLS_PATH_MAX 512

struct lane_uplink_cfg {
	char url[LANE_URL_MAX];	     /* tcp://HOST:PORT or tls+tcp://HOST:PORT */
	char tls_ca[LANE_TLS_PATH_MAX];   /* tls+tcp: CA file to check central with */
	char tls_cert[LANE_TLS_PATH_MAX]; /* optional: the lane's certificate and key (PEM, one file) */
	char tls_server_name[128];	     /* default: the URL's host */
	uint32_t station_id;
	uint16_t lane_id;
	char journal_dir[512];
	uint64_t start_seq;   /* journal seq to read from (the cursor + 1) */
	unsigned batch_max;   /* records a batch, 1..TOLL_UMSG_BATCH_MAX */
	int64_t timeout_ms;   /* a reply later than this: send again */
	int64_t idle_ms;      /* nothing new: look again after this */
	int64_t backoff_max_ms;
};

struct lane_uplink_stats {
	uint64_t batches_sent, records_sent, replies, timeouts, retries;
	uint64_t records_acked; /* transactions central has */
	uint64_t central_acked; /* central's acked lane seq */
	uint64_t quarantined;	/* central's count for our records */
	uint64_t pending;	/* journaled transactions not acknowledged yet (best guess) */
	int connected;		/* the last request had a reply */
	unsigned last_status;	/* of the last reply */
	int64_t last_reply_ms;	/* monotonic, 0 never */
};

struct lane_uplink;

void lane_uplink_cfg_defaults(struct lane_uplink_cfg *c);
int lane_uplink_start(const struct lane_uplink_cfg *c, struct lane_uplink **out);
/* Stop the thread (a request in flight is abandoned: it will be sent
 * again by the next start) and free. */
void lane_uplink_stop(struct lane_uplink *u);

/* From the lane thread: everything up to seq is durable in the journal. */
void lane_uplink_durable(struct lane_uplink *u, uint64_t seq);
/* For the lane thread: the journal cursor may move to this seq (0: not yet). */
uint64_t lane_uplink_ack_target(struct lane_uplink *u);
/* A journaled transaction: lane_seq, the last one made (for pending). */
void lane_uplink_made(struct lane_uplink *u, uint64_t lane_seq);
void lane_uplink_stats(struct lane_uplink *u, struct lane_uplink_stats *st);

#endif
