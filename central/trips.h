/* trips.h: central's closed-road trip matcher (docs/closed-road.md).
 *
 * Settlement writes every entry passage of a closed network to
 * trip_entries and every exit passage with a tag to trip_exits
 * (central/sql/003_trips.sql).  This thread, on its own connection and
 * alone on its database (an advisory lock; a second central stands by),
 * every `interval`, in one transaction:
 *   - closes the entry an exit lane charged from;
 *   - for an exit charged the farthest-entry fee (entry unknown at the
 *     lane, TOLL_TXN_F_ENTRY_UNKNOWN), looks for its real entry: the
 *     newest open entry of that tag in the exit's network, no older than
 *     `expiry`; when the tariff from it is lower, posts the difference back
 *     to the account as a new ledger entry (kind correction, debiting the
 *     exit station's revenue account, `corrects` the toll entry) and
 *     queues a correction notification; when there is none yet, the exit
 *     waits for an entry to arrive (an entry lane's records may reach
 *     central after the exit's);
 *   - expires entries with no exit within `expiry` (and gives up on exits
 *     that waited as long);
 * Each change of an entry is stamped for the tag status list, so the exit
 * lanes hear of entries opened and closed.  Fees come from the newest
 * tariff loaded (toll-admin tariff load), parsed with the lanes' own
 * parser.  Database errors roll the round back and it runs again. */
#ifndef CENTRAL_TRIPS_H
#define CENTRAL_TRIPS_H

#include <stdint.h>

struct trips_conf {
	const char *conninfo, *role;
	int64_t interval_ms, retry_max_ms;
	int64_t expiry_ms; /* an entry without an exit is dropped after this */
};

struct trips_stats {
	int up; /* 1 matching, 2 standing by, 0 no database */
	uint64_t tariff_version;
	uint64_t exits_matched;	  /* charged from their entry, or matched at the same fee */
	uint64_t exits_corrected; /* charged the policy fee, corrected */
	int64_t corrected_vnd;	  /* given back by corrections */
	uint64_t exits_waiting;	  /* put to wait for their entry */
	uint64_t exits_unmatched; /* waited `expiry`: the policy fee stands */
	uint64_t entries_expired;
	uint64_t fee_errors; /* no fee in the tariff for a trip (left waiting) */
	uint64_t db_errors;
};

struct trips;

/* Start the thread: 0 or TOLL_ENOMEM. */
int trips_start(const struct trips_conf *c, struct trips **out);
void trips_stop(struct trips *t);
void trips_stats(struct trips *t, struct trips_stats *st);

#endif
