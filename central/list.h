/* list.h: central's tag status list publisher (docs/taglist-sync.md).
 *
 * Two threads, each with its own database connection:
 *   - the publisher takes an advisory lock (one publisher per database; a
 *     second central stands by), then every `interval` stamps the passes
 *     whose first day has come, and scans accounts, tags, passes and
 *     closed-road entries (trip_entries) for rows stamped (list_xid) at or
 *     after its horizon, writes
 *     what it finds as the next numbered DELTA (common/tslmsg, signed with
 *     central's list key) into list_deltas, commits, and publishes it
 *     (NNG pub); a signed HEARTBEAT with the latest version every
 *     `heartbeat`; the whole list as a snapshot file (the lane file format)
 *     at the first start and every `snapshot_every` of wall time when
 *     something changed, keeping the newest two and the deltas since the
 *     older one;
 *   - the server answers GET_DELTAS and GET_SNAPSHOT (NNG rep) from
 *     list_deltas and the snapshot files.
 * Database errors are retried with backoff; nothing is published that is
 * not committed. */
#ifndef CENTRAL_LIST_H
#define CENTRAL_LIST_H

#include <stdint.h>
#include <stdio.h>

struct toll_signer;

struct listpub_conf {
	const char *conninfo, *role;
	const char *publish_url; /* pub: deltas and heartbeats */
	const char *listen_url;	 /* rep: GET_DELTAS, GET_SNAPSHOT */
	const char *dir;	 /* snapshot files */
	struct toll_signer *key; /* central's list key (kept by the caller) */
	int64_t interval_ms, heartbeat_ms, retry_max_ms, snapshot_every_ms;
};

struct listpub_stats {
	int up;			 /* 1 publishing, 2 standing by, 0 no database */
	uint64_t version;	 /* the newest version */
	uint64_t deltas, records, snapshots, heartbeats;
	uint64_t requests, answered_deltas, answered_chunks, refused;
	uint64_t db_errors;
};

struct listpub;

/* Listen on both URLs and start the threads: 0, or TOLL_ECONFIG (a URL
 * NNG refuses, a directory that cannot be written; err says which). */
int listpub_start(const struct listpub_conf *c, struct listpub **out, char *err, size_t errlen);
/* Stop both threads, close the sockets, free. */
void listpub_stop(struct listpub *p);
void listpub_stats(struct listpub *p, struct listpub_stats *st);

#endif
