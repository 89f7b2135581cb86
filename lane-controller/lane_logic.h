/* lane_logic.h: the per-lane state machine, from loops, tag reads and
 * barrier feedback to decisions and device commands.
 *
 * Pure: no I/O, no clock, no threads.  The runner (lane_run) feeds it the
 * I/O unit's inputs every poll and each tag read as it is journaled, and
 * carries out the actions it returns, in order: a RECORD action is signed,
 * journaled and made durable before any BARRIER action after it.
 *
 * A vehicle is on the lane while the entry (presence) loop under the gantry
 * holds it; reads come while it is there.  A read with no vehicle present is
 * held for read_hold_ms in case the loop is late, then dropped: never
 * charged.  The vehicles at the barrier are queued in order; the head is the
 * one the barrier is for.  An exit-loop rising edge is one vehicle past the
 * barrier.
 *
 * A vehicle is charged only when the barrier opens for it: a vehicle is
 * decided when its read comes (within the decision budget), but a decision
 * that lets a vehicle queued behind the head through is held, not
 * recorded, until that vehicle is the head.  One that leaves the loop
 * before then was never charged: its decision is released (RELEASE), so
 * whoever decided it gives back what deciding took (the plaza claim, the
 * lane's debit of the account).  Refusals are recorded at once (nothing
 * is charged).
 *
 * The presence loop cannot count vehicles: while the next one holds it, a
 * head that backs out is not seen leaving.  A head that cannot go on (no
 * read, or refused) with a decided vehicle waiting behind it is taken as
 * gone after head_expire_ms, and the next one is served. */
#ifndef LANE_LOGIC_H
#define LANE_LOGIC_H

#include <stdint.h>

#include "fwi_map.h"

#define LANE_QUEUE_MAX 4
#define LANE_ACTIONS_MAX 16

struct lane_read {
	uint8_t epc[FWI_EPC_MAX_BYTES];
	uint16_t epc_bits;
	uint8_t tid[FWI_TID_BYTES];
	int tid_valid;
	int16_t rssi_dbm_x10;
	uint32_t reader_boot_id, reader_seq;
	int64_t first_seen_ms; /* reader clock, UTC ms */
	int clock_synced;
	int64_t rx_ms;	       /* monotonic, when the lane got it */
	int64_t rx_us;	       /* the same in µs, for the processing time */
	int64_t store_us;      /* time spent journaling it (and its poll's others) */
};

/* What the decider (tag list, tariff, plaza vote) says about one read. */
struct lane_decision {
	int outcome;	      /* enum toll_outcome (txn.h) */
	int64_t fee_vnd;
	uint64_t account_id;
	unsigned vclass;
	int64_t balance_after_vnd;
	char plate[FWI_PLATE_CHARS + 1];
	unsigned message;     /* FWI_MSG_* for the display */
	uint32_t entry_station;
	int64_t entry_time_ms;
	uint16_t flags;	      /* TOLL_TXN_F_* */
	int opens;	      /* 1: the barrier opens for this vehicle */
	int suppressed;	      /* a re-read of a tag already charged: no record */
};

/* Returns 0 and fills d, or a negative code (the vehicle is then treated as
 * unreadable, and an alarm raised). */
typedef int (*lane_decide_fn)(void *ctx, const struct lane_read *rd,
			      struct lane_decision *d);

struct lane_inputs {
	int reader_down;	/* reads cannot arrive now: a waiting vehicle's
				   read window starts again when they can */
	int entry, exit_loop;
	int barrier_open, barrier_closed, barrier_fault;
	int entry_fault, exit_fault;
};

enum lane_act_kind {
	LANE_ACT_RECORD,  /* make a signed transaction of d (and rd if has_read) */
	LANE_ACT_BARRIER, /* on: open */
	LANE_ACT_LIGHT,	  /* on: green, off: red */
	LANE_ACT_DISPLAY, /* show d (fee, balance, message, plate) */
	LANE_ACT_ALARM,	  /* text */
	LANE_ACT_RELEASE  /* d (for rd) was never recorded: the vehicle left
			     before the barrier opened for it; give back
			     what deciding it took (lane_decide_release) */
};

struct lane_action {
	enum lane_act_kind kind;
	int on;
	int has_read;
	struct lane_read rd;
	struct lane_decision d;
	char text[128];
};

struct lane_logic_params {
	int free_flow;		/* no barrier: never stop a vehicle */
	int64_t read_hold_ms;	/* a read before the loop waits this long */
	int64_t tag_wait_ms;	/* a vehicle on the loop without a read this long: tag not read */
	int64_t pass_timeout_ms; /* an opened-for vehicle not seen on the exit loop
				    this long is taken as through (a missed edge
				    must not wedge the lane), with an alarm */
	int64_t head_expire_ms;	/* a vehicle without a read at the head this long
				   (since it came), or refused at the head this
				   long (since it was shown the refusal), with a
				   decided vehicle waiting behind it, is let go
				   (the one without a read recorded as no-tag):
				   it has backed out or staff dealt with it (the
				   presence loop cannot tell while the next one
				   holds it) */
	int64_t recheck_ms;	/* a refused vehicle still at the barrier is decided
				   again this often (a top-up may have arrived); only
				   a changed answer is recorded */
};

enum lane_state { LANE_IDLE, LANE_WAIT_READ, LANE_OPEN, LANE_CLOSED_REFUSED };

struct lane_logic_stats {
	/* vehicles_paid, vehicles_free: counted when recorded (the barrier
	 * opens for them), vehicles_refused when decided */
	uint64_t reads, reads_no_vehicle, reads_suppressed, vehicles_paid, vehicles_free;
	uint64_t vehicles_refused, vehicles_no_tag, passages, unpaid_passages, decide_errors;
	uint64_t passages_assumed, heads_expired;
	uint64_t vehicles_released; /* decided while queued, left before the barrier
				       opened for them: never charged (not counted
				       in vehicles_paid / vehicles_free) */
	uint64_t charged_not_passed; /* opened for and recorded, then left the loop
					without an exit-loop edge (an alarm) */
};

struct lane_logic;

void lane_logic_defaults(struct lane_logic_params *p);
struct lane_logic *lane_logic_new(const struct lane_logic_params *p,
				  lane_decide_fn decide, void *ctx);
void lane_logic_free(struct lane_logic *l);

/* A tag read (already journaled).  Returns the number of actions written
 * to out (at most max). */
int lane_logic_read(struct lane_logic *l, const struct lane_read *rd,
		    int64_t now_ms, struct lane_action *out, int max);
/* The I/O unit's inputs, every poll.  Returns the number of actions. */
int lane_logic_step(struct lane_logic *l, const struct lane_inputs *in,
		    int64_t now_ms, struct lane_action *out, int max);

enum lane_state lane_logic_state(const struct lane_logic *l);
const char *lane_state_name(enum lane_state s);
unsigned lane_logic_queue_len(const struct lane_logic *l);
const struct lane_logic_stats *lane_logic_stats(const struct lane_logic *l);

#endif
