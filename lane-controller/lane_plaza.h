/* lane_plaza.h: what the lanes of one plaza share so that one vehicle makes
 * one transaction: the tags each lane has seen and taken recently.
 *
 * Every read at every lane is reported as seen (lane_plaza_seen) as soon as
 * the lane has it, with whether a vehicle is on that lane's loop, and
 * every lane says when it has reported a reader poll (lane_plaza_polled).
 * A lane claims a tag only once the vote on its read is closed
 * (lane_plaza_vote_closed): every other lane with a vehicle on its loop
 * (only those can take a tag from it) has reported a reader poll that
 * started after this lane had the read (the readers of one passage make
 * their records together, so the other lanes' reads of it are in by then:
 * at most a poll period), or the vote window (plaza.vote, default 50 ms)
 * has passed (a lane that is slow or stuck holds no one up for longer).
 * Readers that report one passage further apart than a poll period can
 * still make the weaker lane win: the window then only bounds the wait.
 *
 * A lane that wants to charge a tag claims it.  The claim fails when the
 * tag was taken at another lane within the suppression window (default
 * 300 s: a neighbour lane's vehicle, a reflection), when this lane took it
 * already (a re-read), or when another lane with a vehicle on its loop saw
 * the same tag within the vote window of this lane's own sighting (or of
 * the claim, without one) with a stronger signal (the vehicle is that
 * lane's).  A claim that did not end in a charge (refused, or a vehicle
 * that left before the barrier opened for it) is released.  Thread-safe:
 * lanes run in their own threads. */
#ifndef LANE_PLAZA_H
#define LANE_PLAZA_H

#include <stdint.h>

enum lane_vote {
	LANE_VOTE_MINE = 0,   /* claimed: this lane decides */
	LANE_VOTE_AGAIN = 1,  /* this lane took it within the window: a re-read */
	LANE_VOTE_OTHER = 2   /* another lane took it, or has the stronger read */
};

struct lane_plaza;

int lane_plaza_new(unsigned lanes, int64_t suppress_ms, int64_t vote_ms,
		   struct lane_plaza **out);
void lane_plaza_free(struct lane_plaza *p);

/* A read at a lane, with or without a vehicle on its loop (for the vote). */
void lane_plaza_seen(struct lane_plaza *p, unsigned lane, const uint8_t *epc,
		     unsigned epc_bits, int16_t rssi, int loop, int64_t now_ms);
/* Try to take the tag; *other is the lane that has it (LANE_VOTE_OTHER).
 * *neighbour (when not NULL) is set to 1 when another lane saw the tag
 * within the vote window (the record's TOLL_TXN_F_NEIGHBOUR), else 0. */
enum lane_vote lane_plaza_claim(struct lane_plaza *p, unsigned lane,
				const uint8_t *epc, unsigned epc_bits,
				int16_t rssi, int64_t now_ms, unsigned *other,
				int *neighbour);
/* The lane's reader poll that started at started_ms (monotonic, as the
 * reads' times) is reported: its reads were given to lane_plaza_seen;
 * loop: a vehicle was on its loop then. */
void lane_plaza_polled(struct lane_plaza *p, unsigned lane, int64_t started_ms, int loop);
/* 1 when a read this lane got at rx_ms may be claimed at now_ms: every
 * other lane of the plaza has reported a poll, and each of them with a
 * vehicle on its loop a poll started at or after rx_ms; or vote_ms has
 * passed since rx_ms; 1 at once in a plaza of one lane. */
int lane_plaza_vote_closed(struct lane_plaza *p, unsigned lane, int64_t rx_ms, int64_t now_ms);
/* At start: the lane took the tag at taken_ms (monotonic, may be before
 * this process began) by a record in its journal; a read within the
 * suppression window is then a re-read, not a second charge.  Ignored
 * when the window has passed. */
void lane_plaza_restore(struct lane_plaza *p, unsigned lane, const uint8_t *epc, unsigned bits, int64_t taken_ms,
			int64_t now_ms);
/* The claim did not end in a charge: another read may claim again. */
void lane_plaza_release(struct lane_plaza *p, unsigned lane,
			const uint8_t *epc, unsigned epc_bits);

#endif
