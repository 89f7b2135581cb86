/* lane_sync.h: the lane's copy of central's tag status list, kept current
 * (docs/taglist-sync.md).
 *
 * At start (lane_sync_open): the list saved in DIR/list.tsl and the deltas
 * logged after it in DIR/deltas.log (each frame CRC-checked and its
 * signature checked again; a torn or damaged tail is cut), so a lane
 * decides with central unreachable; with nothing saved, the newest
 * snapshot fetched from central (waiting for it: a lane without a list
 * cannot decide).
 *
 * Then a thread (lane_sync_start) subscribes to central's deltas and
 * heartbeats; applies each delta that follows its version, after logging
 * it (fsync), to the shared list; asks central for a missed range
 * (GET_DELTAS) when a delta or a heartbeat is ahead of it; fetches a
 * snapshot when central says its version is too old, and swaps the new
 * list in under the lanes' lock; writes the merged list and empties the
 * log when the log grows long.  Nothing unsigned by central's list key is
 * applied; refusals are counted and logged.  An exit lane's closed-road
 * entries (ctx->trips) come in the same deltas; they are saved to
 * DIR/trips.dat whenever the log starts again. */
#ifndef LANE_SYNC_H
#define LANE_SYNC_H

#include <stdint.h>
#include <stdio.h>

#include "lane_decide.h"

struct lane_sync_conf {
	const char *subscribe_url; /* central's list.publish */
	const char *request_url;   /* central's list.listen */
	const char *dir;	   /* where the list and the delta log are kept */
	uint8_t central_key[32];   /* central's list key (public) */
	uint32_t station_id;	   /* for central's logs */
	uint16_t lane_id;	   /* for central's logs (the first lane's), 1..65535 */
	int64_t stale_ms;	   /* alarm when no heartbeat for this long */
	int64_t compact_deltas;	   /* write the merged list after this many logged deltas */
};

struct lane_sync_stats {
	uint64_t version;	 /* the list the lanes decide from */
	uint64_t latest;	 /* the newest version heard of */
	int64_t heartbeat_age_ms; /* -1: none heard yet */
	uint64_t deltas_applied, ranges_fetched, snapshots, compactions;
	uint64_t refused;	 /* messages that did not decode or verify */
	uint64_t errors;	 /* requests that failed, log writes that failed */
	int stale;
};

struct lane_sync;

/* Load the saved list (or fetch a snapshot, waiting until central answers
 * or *stop becomes non-zero) and put it in ctx->list.  0, TOLL_ECLOSED
 * (stopped while waiting), TOLL_ECORRUPT / TOLL_ESYS (the saved list or
 * log is unusable: err says which file and why). */
int lane_sync_open(const struct lane_sync_conf *c, struct lane_context *ctx, volatile int *stop,
		   struct lane_sync **out, char *err, size_t errlen);
/* Start the thread; 0 or TOLL_ENOMEM. */
int lane_sync_start(struct lane_sync *s);
/* Stop the thread and free; the list stays in ctx (the caller frees it). */
void lane_sync_close(struct lane_sync *s);
void lane_sync_stats(struct lane_sync *s, struct lane_sync_stats *st);

struct toll_tsl_msg;
/* A decoded, verified DELTA (of version list + 1) onto a list: its
 * accounts' balances, its tags' whole states, its closed-road entries
 * (into trips; NULL: not kept), then its version.  0 or the first
 * update's error (the version then stays). */
int lane_sync_apply(struct lane_taglist *l, struct lane_trips *trips, const struct toll_tsl_msg *m);

/* Central is silent: nothing heard for more than stale_ms, counted from
 * the last heartbeat (monotonic ms, 0: none yet) or, before the first,
 * from started_ms (when the lane began listening): a lane that has just
 * started is not stale. */
static inline int
lane_sync_stale(int64_t started_ms, int64_t last_beat_ms, int64_t now_ms, int64_t stale_ms)
{
	int64_t since = last_beat_ms != 0 ? last_beat_ms : started_ms;
	return now_ms - since > stale_ms;
}

#endif
