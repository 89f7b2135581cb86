/* settle.h: exactly-once settlement of lane batches into the ledger.
 *
 * The settler owns one database connection and a cache of every lane's
 * progress (lane_progress: the highest lane seq stored with no gap below
 * it, and that record's hash).  settler_run takes a group of batches
 * (from one or many lanes), and in ONE database transaction:
 *
 *   - a record at acked + 1 that verified and chains onto the last one is
 *     inserted into transactions, posted to the ledger when it charges an
 *     account (debit the customer, credit the station's revenue account,
 *     balances moved set-wise), with a notification per debit and per
 *     account status change; the lane's progress moves on;
 *   - a record signed by the lane whose chain is broken is kept in
 *     quarantine ("chain") and the progress moves on: it is the lane's own
 *     record, and the lane must not be stuck behind it;
 *   - a record that does not verify (forged, unknown or revoked key,
 *     malformed, another lane's) goes to quarantine and the progress stays:
 *     the lane's genuine record for that seq can still come;
 *   - a seq at or below the progress is a resend: the same bytes are a
 *     duplicate (no effect), different bytes a conflict (quarantine, alarm);
 *   - a seq beyond acked + 1 is a gap: recorded, nothing after it taken.
 *
 *   - a record signed by the lane with a value the ledger cannot hold (an
 *     account id or entry station beyond the columns, a fee above
 *     SETTLE_FEE_MAX_VND) is quarantined ("out-of-range") and the progress
 *     moves on, as for a broken chain.
 *
 * COMMIT returns before any result is handed back, so an acknowledgement
 * only ever covers what is durable.  On any database error the
 * transaction is rolled back, the cache dropped (it is reloaded from the
 * database) and the error returned: every batch of the group is to be
 * answered RETRY. */
#ifndef CENTRAL_SETTLE_H
#define CENTRAL_SETTLE_H

#include <stddef.h>
#include <stdint.h>

#include "txn.h"

struct cdb;
struct keyring;

/* No toll is this large (the dearest closed-road trip is a few million
 * VND): a signed record above it is a lane's error, quarantined. */
#define SETTLE_FEE_MAX_VND 100000000

struct settle_item {
	const uint8_t *bytes;
	size_t len;
	int verdict; /* enum verdict (keyring.h), from keyring_check */
	struct toll_txn t;
	uint8_t hash[32];
};

struct settle_batch {
	uint32_t station_id;
	uint16_t lane_id;
	int lane_known; /* registered (keyring_lane_known) */
	unsigned n;
	struct settle_item *items;
	/* results */
	unsigned status; /* TOLL_UMSG_OK or TOLL_UMSG_UNKNOWN_LANE */
	uint64_t acked_seq;
	uint32_t accepted, duplicates, quarantined;
};

struct settle_stats {
	uint64_t groups, batches, records, accepted, duplicates, quarantined, conflicts, chain_breaks;
	uint64_t gaps, posted, unposted, notifications, db_errors;
	uint64_t out_of_range;	 /* signed records the ledger cannot hold */
	uint64_t careful_groups; /* run again with ON CONFLICT after a unique violation */
	uint64_t by_verdict[8];
};

struct settler;

int settler_new(struct cdb *db, struct settler **out);
void settler_free(struct settler *s);
/* Settle a group; 0 (results in each batch), or nothing committed:
 * TOLL_EAGAIN (the database is away or busy: the same group may pass
 * later), TOLL_EDB (the database refused the group: settle its batches
 * one by one to find the one it refuses), TOLL_ENOMEM. */
int settler_run(struct settler *s, struct settle_batch **b, unsigned n, char *err, size_t errlen);
/* After a database reconnect: use db and forget the cache. */
void settler_reset(struct settler *s, struct cdb *db);
void settler_stats(const struct settler *s, struct settle_stats *st);

#endif
