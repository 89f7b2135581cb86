/* lane_plaza.h: what the lanes of one plaza share so that one vehicle makes
 * one transaction: the tags each lane has seen and taken recently.
 *
 * A lane that wants to charge a tag claims it.  The claim fails when the
 * tag was taken at another lane within the suppression window (default
 * 300 s: a neighbour lane's vehicle, a reflection), when this lane took it
 * already (a re-read), or when another lane with a vehicle on its loop has
 * seen the same tag within the vote window with a stronger signal (the
 * vehicle is that lane's).  A claim that did not end in a charge (refused)
 * is released.  Thread-safe: lanes run in their own threads. */
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
/* Try to take the tag; *other is the lane that has it (LANE_VOTE_OTHER). */
enum lane_vote lane_plaza_claim(struct lane_plaza *p, unsigned lane,
				const uint8_t *epc, unsigned epc_bits,
				int16_t rssi, int64_t now_ms, unsigned *other);
/* The claim did not end in a charge: another read may claim again. */
void lane_plaza_release(struct lane_plaza *p, unsigned lane,
			const uint8_t *epc, unsigned epc_bits);

#endif
