/* lane_logic.c: the lane state machine of lane_logic.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lane_logic.h"
#include "txn.h"

#define PENDING_MAX 8

struct vehicle {
	int decided;
	int recorded;	   /* its decision is journaled (a RECORD action went out) */
	int has_read;
	struct lane_read rd;
	struct lane_decision d;
	int64_t since_ms;
	int64_t decided_ms;
	int at_head;	   /* served as the head: decided there, or since it became it */
	int64_t head_ms;   /* since when, decided (its decision shown, the barrier
			      opened or kept closed for it) */
	int no_tag_shown;
	uint64_t serial; /* which vehicle, for the barrier command */
};

struct lane_logic {
	struct lane_logic_params p;
	lane_decide_fn decide;
	void *ctx;
	struct vehicle q[LANE_QUEUE_MAX];
	unsigned n;
	struct lane_read pending[PENDING_MAX];
	unsigned npending;
	int entry, exit_loop, barrier_fault;
	int barrier_cmd, green;
	uint64_t serial;	/* vehicles pushed */
	uint64_t opened_for;	/* the vehicle the barrier was last commanded open for */
	struct lane_logic_stats stats;
};

/* Appends actions without overflowing the caller's array. */
struct out {
	struct lane_action *a;
	int n, max;
};

static struct lane_action *
act(struct out *o, enum lane_act_kind kind)
{
	struct lane_action *x;
	if (o->n >= o->max)
		return NULL;
	x = &o->a[o->n++];
	memset(x, 0, sizeof(*x));
	x->kind = kind;
	return x;
}

static void
alarm(struct out *o, const char *text)
{
	struct lane_action *x = act(o, LANE_ACT_ALARM);
	if (x != NULL)
		snprintf(x->text, sizeof(x->text), "%s", text);
}

void
lane_logic_defaults(struct lane_logic_params *p)
{
	memset(p, 0, sizeof(*p));
	p->read_hold_ms = 1000;
	p->tag_wait_ms = 1500;
	p->recheck_ms = 2000;
	p->pass_timeout_ms = 15000;
	p->head_expire_ms = 10000;
}

struct lane_logic *
lane_logic_new(const struct lane_logic_params *p, lane_decide_fn decide, void *ctx)
{
	struct lane_logic *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->p = *p;
	l->decide = decide;
	l->ctx = ctx;
	return l;
}

void
lane_logic_free(struct lane_logic *l)
{
	free(l);
}

static int
same_tag(const struct lane_read *a, const struct lane_read *b)
{
	return a->epc_bits == b->epc_bits && memcmp(a->epc, b->epc, sizeof(a->epc)) == 0;
}

static void
barrier(struct lane_logic *l, struct out *o, int open)
{
	struct lane_action *x;

	if (l->p.free_flow)
		return;
	if (l->barrier_cmd != open) {
		x = act(o, LANE_ACT_BARRIER);
		if (x != NULL) {
			x->on = open;
			l->barrier_cmd = open;
		}
	}
	if (l->green != open) {
		x = act(o, LANE_ACT_LIGHT);
		if (x != NULL) {
			x->on = open;
			l->green = open;
		}
	}
}

static void
display(struct out *o, const struct lane_decision *d)
{
	struct lane_action *x = act(o, LANE_ACT_DISPLAY);
	if (x != NULL)
		x->d = *d;
}

static void
display_message(struct out *o, unsigned message)
{
	struct lane_decision d;
	memset(&d, 0, sizeof(d));
	d.message = message;
	display(o, &d);
}

/* Record v's decision (a vehicle let through is counted paid or free
 * here: when it is charged, not when it was decided). */
static void
record(struct lane_logic *l, struct out *o, struct vehicle *v)
{
	struct lane_action *x = act(o, LANE_ACT_RECORD);
	if (x == NULL)
		return;
	x->d = v->d;
	x->has_read = v->has_read;
	if (v->has_read)
		x->rd = v->rd;
	v->recorded = 1;
	if (v->d.opens) {
		if (v->d.fee_vnd > 0)
			l->stats.vehicles_paid++;
		else
			l->stats.vehicles_free++;
	}
}

/* A decision never recorded, for a vehicle that has gone: nothing was
 * charged; the decider gives back what deciding took. */
static void
release(struct lane_logic *l, struct out *o, const struct vehicle *v)
{
	struct lane_action *x = act(o, LANE_ACT_RELEASE);
	l->stats.vehicles_released++;
	if (x == NULL)
		return;
	x->d = v->d;
	x->has_read = v->has_read;
	if (v->has_read)
		x->rd = v->rd;
}

/* Make the barrier and lights follow the head of the queue.  Each vehicle
 * let through gets its own open command, also when the barrier is open
 * already for the one before: coils are levels, so the repeat is harmless,
 * and it restores a command an I/O unit lost (reboot, watchdog). */
static void
follow_head(struct lane_logic *l, struct out *o)
{
	/* never open for a decision not recorded (the RECORD action goes
	 * out first) */
	if (l->n > 0 && l->q[0].decided && l->q[0].d.opens && l->q[0].recorded) {
		if (l->opened_for != l->q[0].serial && !l->p.free_flow) {
			l->barrier_cmd = 0; /* command it again */
			l->opened_for = l->q[0].serial;
		}
		barrier(l, o, 1);
	} else if (!l->exit_loop)
		barrier(l, o, 0); /* never command a close over the exit loop */
}

static void
pop_head(struct lane_logic *l)
{
	memmove(&l->q[0], &l->q[1], (l->n - 1) * sizeof(l->q[0]));
	l->n--;
}

/* The head is the one the barrier is for: a decision held while it was
 * queued is recorded now, before the barrier opens for it (follow_head),
 * and its time at the head starts. */
static void
serve_head(struct lane_logic *l, int64_t now_ms, struct out *o)
{
	struct vehicle *v = &l->q[0];

	if (l->n > 0 && v->decided) {
		if (!v->at_head) {
			v->at_head = 1;
			v->head_ms = now_ms;
		}
		if (!v->recorded)
			record(l, o, v);
	}
	follow_head(l, o);
}

static struct vehicle *
push_vehicle(struct lane_logic *l, int64_t now_ms, struct out *o)
{
	struct vehicle *v;
	if (l->n == LANE_QUEUE_MAX) {
		alarm(o, "vehicle queue full: more vehicles on the loop than the lane tracks");
		return NULL;
	}
	v = &l->q[l->n++];
	memset(v, 0, sizeof(*v));
	v->since_ms = now_ms;
	v->serial = ++l->serial;
	return v;
}

/* Decide once for the vehicle v with the read rd.  Returns 1 when the
 * decider suppressed the read (a tag charged already: a re-read, a
 * reflection, a neighbour lane's vehicle), which must not be given to the
 * vehicle waiting here; the decider has no side effect then. */
static int
decide_vehicle(struct lane_logic *l, struct vehicle *v, const struct lane_read *rd,
	       int64_t now_ms, struct out *o, int recheck)
{
	struct lane_decision d;
	int rc;

	memset(&d, 0, sizeof(d));
	rc = l->decide(l->ctx, rd, &d);
	if (rc != 0) {
		l->stats.decide_errors++;
		alarm(o, "decision failed: vehicle treated as without a readable tag");
		return 0;
	}
	if (d.suppressed) {
		l->stats.reads_suppressed++;
		return 1;
	}
	if (recheck && !d.opens) {
		v->decided_ms = now_ms; /* still refused: nothing new to record */
		return 0;
	}
	if (recheck)
		l->stats.vehicles_refused--; /* counted as paid or free when recorded */
	v->has_read = 1;
	v->rd = *rd;
	v->d = d;
	v->decided = 1;
	v->decided_ms = now_ms;
	if (!d.opens)
		l->stats.vehicles_refused++;
	/* Recorded now at the head (or in a lane without a barrier, where
	 * every vehicle goes through), and a refusal (nothing charged); a
	 * vehicle queued behind the head is charged when it is the head. */
	if (v == &l->q[0] || l->p.free_flow || !d.opens)
		record(l, o, v);
	if (v == &l->q[0]) {
		/* decided at the head, or its answer changed there (a top-up):
		 * the barrier opens, or stays shut, for it from now */
		v->at_head = 1;
		v->head_ms = now_ms;
		display(o, &d);
		follow_head(l, o);
	}
	return 0;
}

static void
handle_read(struct lane_logic *l, const struct lane_read *rd, int64_t now_ms, struct out *o)
{
	struct vehicle *v = NULL;

	/* The same tag again on a vehicle of the queue: a re-read. */
	for (unsigned i = 0; i < l->n; i++) {
		struct vehicle *q = &l->q[i];
		if (!q->has_read || !same_tag(&q->rd, rd))
			continue;
		l->stats.reads_suppressed++;
		return;
	}
	/* The first vehicle still expecting its read, else a new one.  A
	 * vehicle on the loop longer than tag_wait_ms without a read has no
	 * readable tag: a read now belongs to a vehicle behind it, never to
	 * it (it would pass on someone else's account). */
	int pushed = 0;
	for (unsigned i = 0; i < l->n; i++)
		if (!l->q[i].decided && now_ms - l->q[i].since_ms < l->p.tag_wait_ms) {
			v = &l->q[i];
			break;
		}
	if (v == NULL) {
		v = push_vehicle(l, now_ms, o);
		if (v == NULL)
			return;
		pushed = 1;
	}
	if (decide_vehicle(l, v, rd, now_ms, o, 0) == 1 && pushed)
		l->n--; /* suppressed: the slot pushed for this read holds no vehicle */
}

int
lane_logic_read(struct lane_logic *l, const struct lane_read *rd, int64_t now_ms,
		struct lane_action *out, int max)
{
	struct out o = {out, 0, max};

	l->stats.reads++;
	if (!l->entry && !l->p.free_flow) {
		/* No vehicle on the loop (yet): hold the read. */
		if (l->npending == PENDING_MAX) {
			memmove(&l->pending[0], &l->pending[1], (PENDING_MAX - 1) * sizeof(l->pending[0]));
			l->npending--;
			l->stats.reads_no_vehicle++;
		}
		l->pending[l->npending] = *rd;
		l->pending[l->npending].rx_ms = now_ms;
		l->npending++;
		return o.n;
	}
	handle_read(l, rd, now_ms, &o);
	return o.n;
}

/* The vehicles on the loop have all left it without passing the barrier. */
static void
vehicles_left(struct lane_logic *l, int64_t now_ms, struct out *o)
{
	while (l->n > 0) {
		struct vehicle *v = &l->q[0];
		if (!v->decided) {
			/* left without a read: an exception record for review */
			memset(&v->d, 0, sizeof(v->d));
			v->d.outcome = TOLL_OUT_NO_TAG;
			v->d.message = FWI_MSG_TAG_NOT_READ;
			l->stats.vehicles_no_tag++;
			record(l, o, v);
		} else if (!v->recorded) {
			/* never the head: never charged */
			release(l, o, v);
		} else if (v->d.opens && v->d.fee_vnd > 0) {
			/* the barrier was commanded open for it and it did not
			 * go through (a barrier or I/O fault): charged */
			l->stats.charged_not_passed++;
			alarm(o, "a vehicle charged and opened for left without passing the barrier:"
				 " its charge needs a refund (barrier fault?)");
		}
		pop_head(l);
	}
	display_message(o, FWI_MSG_BLANK);
	serve_head(l, now_ms, o);
}

static void
passage(struct lane_logic *l, int64_t now_ms, struct out *o)
{
	(void)now_ms;
	l->stats.passages++;
	if (l->n > 0 && l->q[0].decided && l->q[0].d.opens) {
		pop_head(l);
		return;
	}
	/* Through without a payment: tailgating, a forced barrier, or a
	 * free-flow vehicle without a valid tag.  Recorded for enforcement. */
	l->stats.unpaid_passages++;
	struct vehicle v;
	memset(&v, 0, sizeof(v));
	if (l->n > 0) {
		v = l->q[0];
		pop_head(l);
	}
	if (!v.decided) {
		memset(&v.d, 0, sizeof(v.d));
		v.d.outcome = TOLL_OUT_NO_TAG;
		v.d.message = FWI_MSG_TAG_NOT_READ;
		l->stats.vehicles_no_tag++;
		record(l, o, &v);
	}
	if (!l->p.free_flow)
		alarm(o, "vehicle passed the barrier without a payment");
}

int
lane_logic_step(struct lane_logic *l, const struct lane_inputs *in, int64_t now_ms,
		struct lane_action *out, int max)
{
	struct out o = {out, 0, max};
	int entry_rise = in->entry && !l->entry;
	int entry_fall = !in->entry && l->entry;
	int exit_rise = in->exit_loop && !l->exit_loop;
	int exit_fall = !in->exit_loop && l->exit_loop;

	if (in->barrier_fault && !l->barrier_fault)
		alarm(&o, "barrier fault");
	l->barrier_fault = in->barrier_fault;
	l->entry = in->entry;
	l->exit_loop = in->exit_loop;

	if (in->reader_down)
		for (unsigned i = 0; i < l->n; i++)
			if (!l->q[i].decided)
				l->q[i].since_ms = now_ms;

	if (exit_rise)
		passage(l, now_ms, &o);

	/* A vehicle on the entry loop and none tracked, the exit loop clear:
	 * someone drove up bumper to bumper behind the one that just went
	 * through (the entry loop never fell), or the lane started with a
	 * vehicle standing there.  Track it, or it would wait forever. */
	int untracked = in->entry && !in->exit_loop && l->n == 0;
	if (entry_rise || (in->entry && l->n == 0 && l->npending > 0) || untracked) {
		if (l->n == 0 || l->q[l->n - 1].decided)
			push_vehicle(l, now_ms, &o);
		/* reads that came just before the loop */
		unsigned k = 0;
		struct lane_read held[PENDING_MAX];
		for (unsigned i = 0; i < l->npending; i++)
			if (now_ms - l->pending[i].rx_ms <= l->p.read_hold_ms)
				held[k++] = l->pending[i];
			else
				l->stats.reads_no_vehicle++;
		l->npending = 0;
		for (unsigned i = 0; i < k; i++)
			handle_read(l, &held[i], now_ms, &o);
	}
	/* Reads nobody came for. */
	while (l->npending > 0 && now_ms - l->pending[0].rx_ms > l->p.read_hold_ms) {
		memmove(&l->pending[0], &l->pending[1], (l->npending - 1) * sizeof(l->pending[0]));
		l->npending--;
		l->stats.reads_no_vehicle++;
	}

	if (entry_fall && !in->exit_loop) {
		/* Everything that was on the loop has gone: the ones that went
		 * through were counted by the exit loop. */
		vehicles_left(l, now_ms, &o);
	}

	if (l->n > 0 && !l->q[0].decided && !l->q[0].no_tag_shown &&
	    now_ms - l->q[0].since_ms >= l->p.tag_wait_ms) {
		l->q[0].no_tag_shown = 1;
		display_message(&o, FWI_MSG_TAG_NOT_READ);
	}

	/* Opened for, never seen leaving: a missed exit-loop edge. */
	if (l->n > 0 && l->q[0].decided && l->q[0].d.opens && l->q[0].at_head && !in->exit_loop &&
	    now_ms - l->q[0].head_ms >= l->p.pass_timeout_ms) {
		alarm(&o, "a vehicle the barrier opened for was not seen on the exit loop: taken as through");
		l->stats.passages_assumed++;
		pop_head(l);
		serve_head(l, now_ms, &o);
		if (l->n > 0 && l->q[0].decided)
			display(&o, &l->q[0].d);
	}

	/* No read for the head, and someone decided waits behind it: the
	 * head is gone or being handled; let the next one through. */
	if (l->n >= 2 && !l->q[0].decided && l->q[1].decided &&
	    now_ms - l->q[0].since_ms >= l->p.head_expire_ms) {
		struct vehicle *v = &l->q[0];
		memset(&v->d, 0, sizeof(v->d));
		v->d.outcome = TOLL_OUT_NO_TAG;
		v->d.message = FWI_MSG_TAG_NOT_READ;
		l->stats.vehicles_no_tag++;
		l->stats.heads_expired++;
		record(l, &o, v);
		alarm(&o, "a vehicle without a readable tag held the lane: recorded and let go");
		pop_head(l);
		serve_head(l, now_ms, &o);
		if (l->n > 0 && l->q[0].decided)
			display(&o, &l->q[0].d);
	}

	/* Refused at the head, and someone decided waits behind it: a
	 * refused driver backs out (the display sends them to another lane),
	 * but while the next vehicle holds the loop the lane cannot see it
	 * go.  Without this the refused vehicle stays the head for good, and
	 * the barrier stays shut for everyone behind it. */
	if (l->n >= 2 && l->q[0].decided && !l->q[0].d.opens && l->q[0].at_head && l->q[1].decided &&
	    now_ms - l->q[0].head_ms >= l->p.head_expire_ms) {
		l->stats.heads_expired++;
		alarm(&o, "a refused vehicle held the lane with a decided one behind it: taken as gone");
		pop_head(l);
		serve_head(l, now_ms, &o);
		if (l->q[0].decided)
			display(&o, &l->q[0].d);
	}

	/* A refused vehicle still at the barrier: ask again. */
	if (l->n > 0 && l->q[0].decided && !l->q[0].d.opens && l->q[0].has_read &&
	    now_ms - l->q[0].decided_ms >= l->p.recheck_ms)
		(void)decide_vehicle(l, &l->q[0], &l->q[0].rd, now_ms, &o, 1);

	if (exit_fall || exit_rise || entry_fall) {
		serve_head(l, now_ms, &o);
		if (l->n > 0 && l->q[0].decided)
			display(&o, &l->q[0].d);
		else if (exit_fall && l->n == 0)
			display_message(&o, FWI_MSG_BLANK);
	}
	return o.n;
}

enum lane_state
lane_logic_state(const struct lane_logic *l)
{
	if (l->n == 0)
		return LANE_IDLE;
	if (!l->q[0].decided)
		return LANE_WAIT_READ;
	return l->q[0].d.opens ? LANE_OPEN : LANE_CLOSED_REFUSED;
}

const char *
lane_state_name(enum lane_state s)
{
	switch (s) {
	case LANE_IDLE: return "idle";
	case LANE_WAIT_READ: return "waiting-for-read";
	case LANE_OPEN: return "open";
	case LANE_CLOSED_REFUSED: return "refused";
	}
	return "unknown";
}

unsigned lane_logic_queue_len(const struct lane_logic *l) { return l->n; }
const struct lane_logic_stats *lane_logic_stats(const struct lane_logic *l) { return &l->stats; }
