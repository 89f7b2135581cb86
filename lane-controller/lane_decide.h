/* lane_decide.h: what a lane decides for one tag read, from the plaza's
 * claims, the tag status list and the tariff: the decider lane_logic calls.
 *
 * Order: the plaza vote (a re-read or another lane's tag is suppressed);
 * the list (unknown tag, cloned EPC with another TID, invalid or
 * blacklisted: refused); exemptions and passes (free); the fee for the
 * station (open: by class; closed network entry: recorded, charged at exit;
 * closed exit: from the entry central sent (lane_trips), or the farthest
 * entry's fee when it is unknown, flagged); then the balance: the list's snapshot minus this
 * plaza's debits since.  A refusal releases the plaza claim.  A tag another
 * lane also read within the vote window is flagged TOLL_TXN_F_NEIGHBOUR.
 *
 * Deciding takes the plaza claim and debits the account in the lane's
 * copy of the list; the decision is recorded when the barrier opens for
 * the vehicle (lane_logic).  A decision lane_logic releases (the vehicle
 * left before that) gives both back (lane_decide_release); one recorded
 * closes the closed-road entry it charged from (lane_decide_recorded). */
#ifndef LANE_DECIDE_H
#define LANE_DECIDE_H

#include <pthread.h>
#include <stdint.h>

#include "lane_logic.h"
#include "lane_plaza.h"
#include "lane_taglist.h"
#include "lane_tariff.h"
#include "lane_trips.h"

enum lane_station_role {
	LANE_ROLE_OPEN = 1,	  /* fee per station and class */
	LANE_ROLE_CLOSED_ENTRY = 2, /* record the entry, no charge */
	LANE_ROLE_CLOSED_EXIT = 3   /* fee from the entry */
};

/* Shared by the lanes of one process: the list and tariff are swapped under
 * the lock when a new version arrives. */
struct lane_context {
	pthread_mutex_t mu;
	struct lane_taglist *list;
	struct lane_tariff *tariff;
	struct lane_plaza *plaza;
	uint32_t station_id;
	enum lane_station_role role;
	/* closed exits: the entries central sent (lane_trips, its own lock),
	 * and how old one may be to charge from; NULL elsewhere */
	struct lane_trips *trips;
	int64_t entry_expiry_ms;
};

/* One per lane: the decide_fn context. */
struct lane_decider {
	struct lane_context *ctx;
	unsigned lane;
	int64_t (*now_ms)(void);	/* monotonic clock (tests replace it) */
	int64_t (*real_ms)(void);
};

/* lane_decide_fn for lane_logic. */
int lane_decide(void *decider, const struct lane_read *rd, struct lane_decision *d);
/* The decision d for rd is in the journal. */
void lane_decide_recorded(struct lane_decider *dc, const struct lane_read *rd,
			  const struct lane_decision *d);
/* The decision d for rd was never recorded (LANE_ACT_RELEASE): release the
 * plaza claim and take back the lane's debit, so the tag can be charged
 * where the vehicle does pass. */
void lane_decide_release(struct lane_decider *dc, const struct lane_read *rd,
			 const struct lane_decision *d);

#endif
