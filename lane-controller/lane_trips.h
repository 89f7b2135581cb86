/* lane_trips.h: the closed-road entries an exit lane knows of
 * (docs/closed-road.md).
 *
 * Entry plazas record each entering vehicle; central settles the record
 * and sends the entry to every lane inside the tag status list's deltas
 * (TOLL_TSL_ENTRY_*).  An exit lane looks up the read EPC here and charges
 * the tariff from the entry's station; with no open entry it charges the
 * farthest entry's fee and flags the record, and central corrects it when
 * the real entry arrives.
 *
 * One record per EPC, its newest trip: a record from central replaces the
 * kept one when its entry time is later, or the same with a later state
 * (open -> closed or expired: a trip never opens again).  Thread-safe (a
 * mutex: the sync thread writes, lanes look up).
 *
 * The table is kept across restarts by lane_sync: saved to a file when the
 * delta log is compacted, and the deltas logged since then replayed.  File
 * (big-endian): "TOLLTRIP" | u32 version 1 | u32 count | count records of
 * 47 bytes (u16 EPC bits, 32 bytes EPC left-aligned and zero-padded, u32
 * station, i64 entry time ms, u8 state) | u32 CRC-32C of all before. */
#ifndef LANE_TRIPS_H
#define LANE_TRIPS_H

#include <stddef.h>
#include <stdint.h>

#define LANE_TRIPS_FILE_VERSION 1
#define LANE_TRIPS_MAX 16000000u /* entries kept, at most (~1 GiB) */

struct lane_trips;

int lane_trips_new(struct lane_trips **out);
void lane_trips_free(struct lane_trips *t);

/* A record from central (state TOLL_TSL_ENTRY_OPEN, _CLOSED, _EXPIRED).
 * 0 (kept or ignored as older), TOLL_EINVAL (bits 1..256, state 1..3),
 * TOLL_EFULL (LANE_TRIPS_MAX open entries), TOLL_ENOMEM. */
int lane_trips_put(struct lane_trips *t, const uint8_t *epc, unsigned bits, uint32_t station, int64_t time_ms,
		   unsigned state);
/* The open entry of this EPC with now_ms - max_age_ms <= time <= now_ms +
 * a minute (clocks of two plazas differ a little): 0 with its station and
 * time, or TOLL_ENOTFOUND. */
int lane_trips_find(struct lane_trips *t, const uint8_t *epc, unsigned bits, int64_t now_ms, int64_t max_age_ms,
		    uint32_t *station, int64_t *time_ms);
/* An exit here charged from the entry of time_ms: closed at once, so a
 * later passage without an entry read is not charged from it again
 * (central's closed record follows). */
void lane_trips_used(struct lane_trips *t, const uint8_t *epc, unsigned bits, int64_t time_ms);
/* Drop closed and expired records and open ones older than now_ms -
 * max_age_ms; how many were dropped. */
size_t lane_trips_prune(struct lane_trips *t, int64_t now_ms, int64_t max_age_ms);
/* Records kept, and how many of them are open. */
void lane_trips_count(struct lane_trips *t, size_t *kept, size_t *open);

/* Write the table to path (path.part, fsync, rename, fsync of the
 * folder): 0, TOLL_ESYS (err says why). */
int lane_trips_save(struct lane_trips *t, const char *path, char *err, size_t errlen);
/* Replace the table with the file's: 0, TOLL_ENOTFOUND (no file),
 * TOLL_ECORRUPT (size, CRC, a field out of range), TOLL_EVERSION,
 * TOLL_ESYS, TOLL_ENOMEM; on error the table is left as it was. */
int lane_trips_load(struct lane_trips *t, const char *path, char *err, size_t errlen);
/* The same from len bytes in memory (err without the path). */
int lane_trips_load_mem(struct lane_trips *t, const uint8_t *b, size_t len, char *err, size_t errlen);

#endif
