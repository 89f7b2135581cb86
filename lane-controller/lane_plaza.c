/* lane_plaza.c: cross-lane voting and re-read suppression. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "err.h"
#include "fwi_map.h"
#include "lane_plaza.h"

#define PLAZA_SLOTS 65536 /* power of two; 5 min of a busy 16-lane plaza is ~3,000 tags */
#define PLAZA_PROBE 64
#define PLAZA_SEEN_LANES 4 /* sightings kept per tag */

struct sighting {
	uint16_t lane;
	int16_t rssi;
	int loop;
	int64_t at_ms;
};

struct slot {
	int used;
	uint16_t epc_bits;
	uint8_t epc[FWI_EPC_MAX_BYTES];
	int64_t touched_ms;
	int claimed;
	uint16_t claim_lane;
	int64_t claim_ms;
	struct sighting seen[PLAZA_SEEN_LANES];
};

/* How far a lane has told the plaza what its reader read. */
struct mark {
	unsigned lane;
	int64_t polled_ms; /* its latest reader poll that started then is reported */
	int loop;	   /* a vehicle on its loop at that poll */
};

struct lane_plaza {
	pthread_mutex_t mu;
	unsigned lanes;
	int64_t suppress_ms, vote_ms;
	struct slot *slots;
	struct mark *marks; /* one per lane, in the order they first report */
	unsigned nmarks;
};

int
lane_plaza_new(unsigned lanes, int64_t suppress_ms, int64_t vote_ms, struct lane_plaza **out)
{
	struct lane_plaza *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return TOLL_ENOMEM;
	p->slots = calloc(PLAZA_SLOTS, sizeof(*p->slots));
	p->marks = calloc(lanes > 0 ? lanes : 1, sizeof(*p->marks));
	if (p->slots == NULL || p->marks == NULL) {
		free(p->slots);
		free(p->marks);
		free(p);
		return TOLL_ENOMEM;
	}
	pthread_mutex_init(&p->mu, NULL);
	p->lanes = lanes;
	p->suppress_ms = suppress_ms;
	p->vote_ms = vote_ms;
	*out = p;
	return 0;
}

void
lane_plaza_free(struct lane_plaza *p)
{
	if (p == NULL)
		return;
	pthread_mutex_destroy(&p->mu);
	free(p->slots);
	free(p->marks);
	free(p);
}

static int
expired(const struct lane_plaza *p, const struct slot *s, int64_t now_ms)
{
	return now_ms - s->touched_ms > p->suppress_ms;
}

/* Find the tag's slot, or a free/expired one to use (NULL: table full). */
static struct slot *
lookup(struct lane_plaza *p, const uint8_t *epc, unsigned bits, int64_t now_ms, int create)
{
	uint8_t key[FWI_EPC_MAX_BYTES];
	uint32_t h;
	struct slot *spare = NULL;

	memset(key, 0, sizeof(key));
	memcpy(key, epc, (bits + 7) / 8);
	h = toll_crc32c(bits, key, sizeof(key));
	for (unsigned i = 0; i < PLAZA_PROBE; i++) {
		struct slot *s = &p->slots[(h + i) & (PLAZA_SLOTS - 1)];
		if (s->used && expired(p, s, now_ms))
			s->used = 0;
		if (!s->used) {
			if (spare == NULL)
				spare = s;
			continue;
		}
		if (s->epc_bits == bits && memcmp(s->epc, key, sizeof(key)) == 0)
			return s;
	}
	if (!create || spare == NULL)
		return NULL;
	memset(spare, 0, sizeof(*spare));
	spare->used = 1;
	spare->epc_bits = (uint16_t)bits;
	memcpy(spare->epc, key, sizeof(key));
	spare->touched_ms = now_ms;
	return spare;
}

void
lane_plaza_seen(struct lane_plaza *p, unsigned lane, const uint8_t *epc, unsigned bits,
		int16_t rssi, int loop, int64_t now_ms)
{
	struct slot *s;
	int k = -1;

	if (bits == 0 || bits > FWI_EPC_MAX_BITS)
		return;
	pthread_mutex_lock(&p->mu);
	s = lookup(p, epc, bits, now_ms, 1);
	if (s != NULL) {
		s->touched_ms = now_ms;
		for (int i = 0; i < PLAZA_SEEN_LANES; i++)
			if (s->seen[i].at_ms != 0 && s->seen[i].lane == lane) {
				k = i;
				break;
			}
		if (k < 0) { /* a free or the oldest entry */
			k = 0;
			for (int i = 1; i < PLAZA_SEEN_LANES; i++)
				if (s->seen[i].at_ms < s->seen[k].at_ms)
					k = i;
		}
		s->seen[k].lane = (uint16_t)lane;
		s->seen[k].rssi = rssi;
		s->seen[k].loop = loop;
		s->seen[k].at_ms = now_ms;
	}
	pthread_mutex_unlock(&p->mu);
}

enum lane_vote
lane_plaza_claim(struct lane_plaza *p, unsigned lane, const uint8_t *epc, unsigned bits,
		 int16_t rssi, int64_t now_ms, unsigned *other, int *neighbour)
{
	enum lane_vote v = LANE_VOTE_MINE;
	struct slot *s;
	int elsewhere = 0;

	if (neighbour != NULL)
		*neighbour = 0;
	if (bits == 0 || bits > FWI_EPC_MAX_BITS)
		return LANE_VOTE_MINE;
	pthread_mutex_lock(&p->mu);
	s = lookup(p, epc, bits, now_ms, 1);
	if (s == NULL) {
		/* table full of live tags: decide alone rather than refuse */
		pthread_mutex_unlock(&p->mu);
		return LANE_VOTE_MINE;
	}
	if (s->claimed && now_ms - s->claim_ms <= p->suppress_ms) {
		v = s->claim_lane == lane ? LANE_VOTE_AGAIN : LANE_VOTE_OTHER;
		*other = s->claim_lane;
	} else {
		/* The window is around this lane's own sighting: the claim may
		 * come later than the read (the vote wait, a read held until
		 * the vehicle reached the loop), the other lanes' reads of the
		 * same passage still count. */
		int64_t mine = now_ms;
		for (int i = 0; i < PLAZA_SEEN_LANES; i++)
			if (s->seen[i].at_ms != 0 && s->seen[i].lane == lane)
				mine = s->seen[i].at_ms;
		for (int i = 0; i < PLAZA_SEEN_LANES; i++) {
			const struct sighting *g = &s->seen[i];
			int64_t apart = g->at_ms - mine;
			if (apart < 0)
				apart = -apart;
			if (g->at_ms == 0 || g->lane == lane || apart > p->vote_ms)
				continue;
			elsewhere = 1;
			if (g->loop && g->rssi > rssi && v == LANE_VOTE_MINE) {
				v = LANE_VOTE_OTHER;
				*other = g->lane;
			}
		}
	}
	if (v == LANE_VOTE_MINE) {
		s->claimed = 1;
		s->claim_lane = (uint16_t)lane;
		s->claim_ms = now_ms;
	}
	s->touched_ms = now_ms;
	pthread_mutex_unlock(&p->mu);
	if (neighbour != NULL)
		*neighbour = elsewhere;
	return v;
}

void
lane_plaza_restore(struct lane_plaza *p, unsigned lane, const uint8_t *epc, unsigned bits, int64_t taken_ms,
		   int64_t now_ms)
{
	struct slot *s;

	if (bits == 0 || bits > FWI_EPC_MAX_BITS || now_ms - taken_ms > p->suppress_ms)
		return;
	pthread_mutex_lock(&p->mu);
	s = lookup(p, epc, bits, now_ms, 1);
	if (s != NULL && (!s->claimed || s->claim_ms <= taken_ms)) {
		s->claimed = 1;
		s->claim_lane = (uint16_t)lane;
		s->claim_ms = taken_ms;
	}
	pthread_mutex_unlock(&p->mu);
}

void
lane_plaza_release(struct lane_plaza *p, unsigned lane, const uint8_t *epc, unsigned bits)
{
	struct slot *s;

	if (bits == 0 || bits > FWI_EPC_MAX_BITS)
		return;
	pthread_mutex_lock(&p->mu);
	/* time does not matter to find a live slot: use its own touch time */
	s = lookup(p, epc, bits, INT64_MIN / 2, 0);
	if (s != NULL && s->claimed && s->claim_lane == lane)
		s->claimed = 0;
	pthread_mutex_unlock(&p->mu);
}

void
lane_plaza_polled(struct lane_plaza *p, unsigned lane, int64_t started_ms, int loop)
{
	pthread_mutex_lock(&p->mu);
	unsigned i;
	for (i = 0; i < p->nmarks; i++)
		if (p->marks[i].lane == lane)
			break;
	if (i == p->nmarks && p->nmarks < p->lanes)
		p->marks[p->nmarks++] = (struct mark){lane, INT64_MIN, 1};
	if (i < p->nmarks && started_ms > p->marks[i].polled_ms) {
		p->marks[i].polled_ms = started_ms;
		p->marks[i].loop = loop;
	}
	pthread_mutex_unlock(&p->mu);
}

int
lane_plaza_vote_closed(struct lane_plaza *p, unsigned lane, int64_t rx_ms, int64_t now_ms)
{
	unsigned others = 0;
	int closed = 1;

	if (p->lanes <= 1 || now_ms - rx_ms >= p->vote_ms)
		return 1;
	pthread_mutex_lock(&p->mu);
	for (unsigned i = 0; i < p->nmarks && closed; i++) {
		if (p->marks[i].lane == lane)
			continue;
		others++;
		/* only a lane with a vehicle on its loop can take the tag
		 * (its sighting must say so): one without is not waited for */
		if (p->marks[i].loop && p->marks[i].polled_ms < rx_ms)
			closed = 0;
	}
	pthread_mutex_unlock(&p->mu);
	/* a lane that never reported (starting, or its thread stuck) is waited
	 * for until the window closes */
	return closed && others + 1 >= p->lanes;
}
