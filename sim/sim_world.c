/* sim_world.c: lanes, vehicles and the event stream of sim_world.h. */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fwi_codec.h"
#include "sim_world.h"

#define SPAWN_FRONT_M (-40.0)
#define FIELD_START_M (-10.0)
#define FIELD_END_M (-1.0)
#define TAG_BEHIND_FRONT_M 1.5
#define ENTRY_LOOP_START_M (-9.0)
#define ENTRY_LOOP_END_M (-0.5)
#define STOP_LINE_M (-0.5)
#define ARM_START_M (-0.3)
#define ARM_END_M 0.3
#define EXIT_LOOP_START_M 1.0
#define EXIT_LOOP_END_M 2.5 /* shorter than the 2 m gap: one edge a vehicle */
#define GONE_REAR_M 15.0
#define GAP_M 2.0
#define NEIGHBOUR_LOSS_DB_X10 120
#define MAX_VIEWS 64

struct vehicle {
	int used;
	uint32_t id;
	unsigned lane;
	struct sim_vehicle_spec spec;
	double front_m, length_m, speed_mps;
	int stopped, passed_arm;
	int64_t stop_since_ms, waited_ms;
	int64_t seen_ms; /* tag first in its own lane's field */
	int64_t open_ms; /* barrier open command attributed to it */
	int queued;	 /* at seen_ms a vehicle ahead was still on the loops */
	int tag_in_field;
	int prev, next; /* lane list, in order of arrival = order on the road */
};

struct ghost {
	int used;
	unsigned lane;
	struct sim_tag_view view;
	int64_t from_ms, until_ms;
};

struct lane {
	struct sim_reader *reader;
	struct sim_io *io;
	struct sim_display display;
	int head, tail; /* vehicles, head is furthest along */
	int64_t offline_until[3]; /* reader, io, display */
	uint8_t last_di[FWI_IO_INPUT_COUNT];
	uint8_t last_coils[FWI_IO_COIL_COUNT];
	uint32_t last_boot_id;
	uint32_t last_dropped;
	int last_reader_ready;
};

#define LATENCIES_MAX (1u << 20)

struct sim_world {
	struct sim_world_params p;
	/* read-to-open of passed vehicles, for percentiles: [0] read with the
	 * lane clear ahead, [1] read while queued behind another vehicle */
	int64_t *latencies[2];
	size_t nlat[2], latcap[2];
	struct toll_rng rng;
	int64_t start_ms, now_ms, real_ms;
	struct lane lanes[SIM_MAX_LANES];
	struct vehicle vehicles[SIM_MAX_VEHICLES];
	unsigned active;
	uint32_t next_id;
	struct ghost ghosts[SIM_MAX_GHOSTS];
	struct sim_world_stats stats;
};

static const double class_length_m[6] = {0, 4.5, 7.0, 10.0, 12.0, 16.0};

void
sim_world_defaults(struct sim_world_params *p)
{
	memset(p, 0, sizeof(*p));
	p->lanes = 1;
	p->time_scale = 1;
	p->max_wait_ms = 15000;
	p->reader.fifo_capacity = 64;
	p->reader.antenna_count = 2;
	p->reader.boot_ms = 1500;
	p->reader.clock_skew_ms = 0;
	p->io.barrier_open_ms = 700;
	p->io.barrier_close_ms = 900;
	p->events = stdout;
}

void
sim_world_event(struct sim_world *w, int lane, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	if (w->p.events == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (lane >= 0)
		fprintf(w->p.events, "%9.3f lane %d %s\n",
			(double)(w->now_ms - w->start_ms) / 1000.0, lane, text);
	else
		fprintf(w->p.events, "%9.3f plaza %s\n",
			(double)(w->now_ms - w->start_ms) / 1000.0, text);
	fflush(w->p.events);
}

struct sim_world *
sim_world_new(const struct sim_world_params *p, int64_t now_ms, int64_t real_ms)
{
	struct sim_world *w;

	if (p->lanes == 0 || p->lanes > SIM_MAX_LANES || p->time_scale < 1 || p->time_scale > 100)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->p = *p;
	w->p.max_wait_ms /= p->time_scale;
	w->p.io.barrier_open_ms /= p->time_scale;
	w->p.io.barrier_close_ms /= p->time_scale;
	p = &w->p;
	toll_rng_seed(&w->rng, p->seed);
	w->start_ms = w->now_ms = now_ms;
	w->real_ms = real_ms;
	for (unsigned i = 0; i < p->lanes; i++) {
		struct lane *l = &w->lanes[i];
		l->reader = sim_reader_new(&p->reader, &w->rng, now_ms, real_ms);
		l->io = sim_io_new(&p->io, now_ms);
		if (l->reader == NULL || l->io == NULL) {
			sim_world_free(w);
			return NULL;
		}
		sim_display_init(&l->display);
		l->head = l->tail = -1;
		for (int u = 0; u < 3; u++)
			l->offline_until[u] = now_ms;
		sim_io_inputs(l->io, now_ms, l->last_di);
		l->last_boot_id = sim_reader_boot_id(l->reader);
		l->last_reader_ready = 1;
	}
	return w;
}

void
sim_world_free(struct sim_world *w)
{
	if (w == NULL)
		return;
	for (unsigned i = 0; i < SIM_MAX_LANES; i++) {
		sim_reader_free(w->lanes[i].reader);
		sim_io_free(w->lanes[i].io);
	}
	free(w->latencies[0]);
	free(w->latencies[1]);
	free(w);
}

unsigned sim_world_lanes(const struct sim_world *w) { return w->p.lanes; }
struct sim_reader *sim_world_reader(struct sim_world *w, unsigned lane) { return w->lanes[lane].reader; }
struct sim_io *sim_world_io(struct sim_world *w, unsigned lane) { return w->lanes[lane].io; }
struct sim_display *sim_world_display(struct sim_world *w, unsigned lane) { return &w->lanes[lane].display; }
unsigned sim_world_vehicles_active(const struct sim_world *w) { return w->active; }
const struct sim_world_stats *sim_world_stats(const struct sim_world *w) { return &w->stats; }

int
sim_world_unit_answers(const struct sim_world *w, unsigned lane, unsigned unit,
		       int64_t now_ms)
{
	const struct lane *l;
	int idx;

	if (lane >= w->p.lanes)
		return 0;
	l = &w->lanes[lane];
	idx = unit == SIM_UNIT_READER ? 0 : unit == SIM_UNIT_IO ? 1 : 2;
	if (now_ms < l->offline_until[idx])
		return 0;
	if (unit == SIM_UNIT_READER && !sim_reader_ready(l->reader, now_ms))
		return 0;
	return 1;
}

static void
epc_text(const struct sim_vehicle_spec *v, char *out)
{
	if (v->epc_bits == 0) {
		strcpy(out, "none");
		return;
	}
	sim_hex_format(v->epc, (v->epc_bits + 7) / 8, out);
	out[(v->epc_bits + 3) / 4] = 0;
}

static void
lane_unlink(struct sim_world *w, struct vehicle *v)
{
	struct lane *l = &w->lanes[v->lane];
	int idx = (int)(v - w->vehicles);

	if (v->prev >= 0)
		w->vehicles[v->prev].next = v->next;
	else
		l->head = v->next;
	if (v->next >= 0)
		w->vehicles[v->next].prev = v->prev;
	else
		l->tail = v->prev;
	(void)idx;
	v->used = 0;
	w->active--;
}

static int
spawn_vehicle(struct sim_world *w, unsigned lane, const struct sim_vehicle_spec *spec)
{
	struct lane *l = &w->lanes[lane];
	struct vehicle *v = NULL;
	char epc[2 * FWI_EPC_MAX_BYTES + 1];
	int idx;

	for (idx = 0; idx < SIM_MAX_VEHICLES; idx++)
		if (!w->vehicles[idx].used) {
			v = &w->vehicles[idx];
			break;
		}
	if (v == NULL) {
		w->stats.vehicles_rejected++;
		sim_world_event(w, (int)lane, "vehicle rejected: %d vehicles on the road already",
				SIM_MAX_VEHICLES);
		return TOLL_EBUSY;
	}
	memset(v, 0, sizeof(*v));
	v->used = 1;
	v->id = ++w->next_id;
	v->lane = lane;
	v->spec = *spec;
	v->length_m = class_length_m[spec->vclass >= 1 && spec->vclass <= 5 ? spec->vclass : 1];
	v->speed_mps = spec->speed_kmh / 3.6 * (double)w->p.time_scale;
	v->front_m = SPAWN_FRONT_M;
	v->stop_since_ms = -1;
	v->seen_ms = -1;
	v->open_ms = -1;
	/* Queue behind the last vehicle of the lane. */
	if (l->tail >= 0) {
		const struct vehicle *t = &w->vehicles[l->tail];
		double limit = t->front_m - t->length_m - GAP_M;
		if (v->front_m > limit)
			v->front_m = limit;
	}
	v->prev = l->tail;
	v->next = -1;
	if (l->tail >= 0)
		w->vehicles[l->tail].next = idx;
	else
		l->head = idx;
	l->tail = idx;
	w->active++;
	w->stats.vehicles_in++;
	epc_text(spec, epc);
	sim_world_event(w, (int)lane,
			"vehicle %" PRIu32 " arrives class=%u speed=%ukm/h epc=%s%s%s%s%s%s",
			v->id, spec->vclass, spec->speed_kmh, epc,
			spec->plate[0] ? " plate=" : "", spec->plate,
			spec->unreadable ? " (tag unreadable)" : "",
			spec->neighbour >= 0 ? " (also seen by a neighbour lane)" : "",
			spec->repeat > 1 ? " (repeated reads)" : "");
	return 0;
}

static void
add_ghost(struct sim_world *w, unsigned lane, const struct sim_tag_view *view,
	  int64_t from_ms, int64_t until_ms)
{
	for (int i = 0; i < SIM_MAX_GHOSTS; i++) {
		struct ghost *g = &w->ghosts[i];
		if (!g->used) {
			g->used = 1;
			g->lane = lane;
			g->view = *view;
			g->from_ms = from_ms;
			g->until_ms = until_ms;
			return;
		}
	}
	sim_world_event(w, (int)lane, "tag presence dropped: more than %d scheduled", SIM_MAX_GHOSTS);
}

static void
spec_view(const struct sim_vehicle_spec *s, int16_t rssi, struct sim_tag_view *view)
{
	memset(view, 0, sizeof(*view));
	memcpy(view->epc, s->epc, sizeof(view->epc));
	view->epc_bits = s->epc_bits;
	view->pc = (uint16_t)(((s->epc_bits + 15) / 16) << 11);
	view->has_tid = s->has_tid;
	memcpy(view->tid, s->tid, sizeof(view->tid));
	view->rssi_dbm_x10 = rssi;
}

static int
overlaps(double a0, double a1, double b0, double b1)
{
	return a0 < b1 && b0 < a1;
}

static double
tag_pos(const struct vehicle *v)
{
	return v->front_m - TAG_BEHIND_FRONT_M;
}

static int
tag_readable_in_field(const struct vehicle *v)
{
	double t = tag_pos(v);
	return v->spec.epc_bits > 0 && !v->spec.unreadable &&
	       t >= FIELD_START_M && t <= FIELD_END_M;
}

/* Another vehicle ahead still on the lane's loops: v's decision may
 * wait for it. */
static int
lane_busy_ahead(const struct sim_world *w, const struct vehicle *v)
{
	for (int i = v->prev; i >= 0; i = w->vehicles[i].prev) {
		const struct vehicle *a = &w->vehicles[i];
		if (a->front_m - a->length_m <= EXIT_LOOP_END_M)
			return 1;
	}
	return 0;
}

static void
keep_latency(struct sim_world *w, int queued, int64_t ms)
{
	if (w->nlat[queued] >= LATENCIES_MAX)
		return;
	if (w->nlat[queued] == w->latcap[queued]) {
		size_t cap = w->latcap[queued] ? 2 * w->latcap[queued] : 1024;
		int64_t *n = realloc(w->latencies[queued], cap * sizeof(*n));
		if (n == NULL)
			return;
		w->latencies[queued] = n;
		w->latcap[queued] = cap;
	}
	w->latencies[queued][w->nlat[queued]++] = ms;
}

static void
move_vehicles(struct sim_world *w, unsigned lane, int64_t dt_ms)
{
	struct lane *l = &w->lanes[lane];
	int barrier_open = w->p.free_flow || sim_io_barrier_open(l->io);
	double leader_rear = 1e9;

	for (int i = l->head; i >= 0;) {
		struct vehicle *v = &w->vehicles[i];
		int next = v->next;
		double nf = v->front_m + v->speed_mps * (double)dt_ms / 1000.0;

		if (nf > leader_rear - GAP_M)
			nf = leader_rear - GAP_M;
		if (nf < v->front_m)
			nf = v->front_m;
		if (!w->p.free_flow && v->front_m <= STOP_LINE_M && nf > STOP_LINE_M &&
		    !barrier_open) {
			nf = STOP_LINE_M;
		}
		int at_line = !w->p.free_flow && nf == STOP_LINE_M && !barrier_open;
		if (at_line && !v->stopped) {
			v->stopped = 1;
			v->stop_since_ms = w->now_ms;
			sim_world_event(w, (int)lane, "vehicle %" PRIu32 " stops at the barrier", v->id);
		} else if (!at_line && v->stopped) {
			v->stopped = 0;
			v->waited_ms += w->now_ms - v->stop_since_ms;
		}
		v->front_m = nf;
		if (!v->passed_arm && v->front_m > ARM_END_M)
			v->passed_arm = 1;

		if (v->stopped && w->now_ms - v->stop_since_ms >= w->p.max_wait_ms) {
			sim_world_event(w, (int)lane,
					"vehicle %" PRIu32 " diverted after %" PRId64 " ms at the closed barrier",
					v->id, w->now_ms - v->stop_since_ms);
			w->stats.vehicles_diverted++;
			lane_unlink(w, v);
			i = next;
			continue;
		}
		if (v->front_m - v->length_m > GONE_REAR_M) {
			char lat[64] = "";
			if (v->seen_ms >= 0 && v->open_ms >= 0) {
				int64_t ms = v->open_ms - v->seen_ms;
				snprintf(lat, sizeof(lat), " read_to_open_ms=%" PRId64, ms);
				if (ms >= 0)
					keep_latency(w, v->queued, ms);
				if (ms >= 0) {
					w->stats.latency_count++;
					w->stats.latency_sum_ms += ms;
					if (ms > w->stats.latency_max_ms)
						w->stats.latency_max_ms = ms;
				}
			}
			sim_world_event(w, (int)lane, "vehicle %" PRIu32 " passed%s waited_ms=%" PRId64,
					v->id, lat, v->waited_ms);
			w->stats.vehicles_passed++;
			lane_unlink(w, v);
			i = next;
			continue;
		}
		leader_rear = v->front_m - v->length_m;
		i = next;
	}
}

static void
lane_loops(struct sim_world *w, unsigned lane, int *entry, int *exit_loop, int *obstructed)
{
	struct lane *l = &w->lanes[lane];

	*entry = *exit_loop = *obstructed = 0;
	for (int i = l->head; i >= 0; i = w->vehicles[i].next) {
		const struct vehicle *v = &w->vehicles[i];
		double rear = v->front_m - v->length_m;
		*entry |= overlaps(rear, v->front_m, ENTRY_LOOP_START_M, ENTRY_LOOP_END_M);
		*exit_loop |= overlaps(rear, v->front_m, EXIT_LOOP_START_M, EXIT_LOOP_END_M);
		*obstructed |= overlaps(rear, v->front_m, ARM_START_M, ARM_END_M);
	}
}

static void
io_events(struct sim_world *w, unsigned lane)
{
	struct lane *l = &w->lanes[lane];
	uint8_t di[FWI_IO_INPUT_COUNT];

	sim_io_inputs(l->io, w->now_ms, di);
	for (unsigned b = 0; b < FWI_IO_INPUT_COUNT; b++) {
		if (di[b] == l->last_di[b])
			continue;
		if (b == FWI_DI_RED_LAMP || b == FWI_DI_GREEN_LAMP)
			continue; /* shown with the coil writes */
		sim_world_event(w, (int)lane, "io %s %s", fwi_io_input_bits[b].text,
				di[b] ? "on" : "off");
	}
	memcpy(l->last_di, di, sizeof(di));
	/* Coils the unit changed by itself (the host watchdog). */
	sim_world_note_coils(w, lane, NULL);
}

static void
reader_events(struct sim_world *w, unsigned lane, int made)
{
	struct lane *l = &w->lanes[lane];
	uint32_t last = sim_reader_last_seq(l->reader);
	uint32_t dropped = sim_reader_dropped(l->reader);

	for (uint32_t s = last - (uint32_t)made + 1; made > 0 && s <= last; s++) {
		struct fwi_record rec;
		char epc[65];
		if (sim_reader_record(l->reader, s, &rec) != 0)
			continue;
		fwi_epc_hex(&rec, epc);
		sim_world_event(w, (int)lane,
				"reader record seq=%" PRIu32 " epc=%s rssi=%.1f antenna=%u%s",
				rec.seq, epc, rec.rssi_dbm_x10 / 10.0, rec.antenna,
				(rec.flags & FWI_RF_GAP) ? " gap" : "");
	}
	if (dropped != l->last_dropped && dropped > l->last_dropped)
		sim_world_event(w, (int)lane, "reader FIFO full: read dropped (%" PRIu32 " since boot)",
				dropped);
	l->last_dropped = dropped;
}

static void
step(struct sim_world *w, int64_t dt_ms)
{
	static struct sim_tag_view views[MAX_VIEWS];

	for (unsigned lane = 0; lane < w->p.lanes; lane++)
		move_vehicles(w, lane, dt_ms);

	for (unsigned lane = 0; lane < w->p.lanes; lane++) {
		struct lane *l = &w->lanes[lane];
		int entry, exit_loop, obstructed;
		unsigned n = 0;
		int made;

		lane_loops(w, lane, &entry, &exit_loop, &obstructed);
		sim_io_step(l->io, w->now_ms, entry, exit_loop, obstructed);
		io_events(w, lane);

		/* Attribute a barrier open command to the first vehicle that
		 * has not passed the arm yet. */
		int64_t open_ms = sim_io_take_open_command(l->io);
		if (open_ms >= 0) {
			int i;
			for (i = l->head; i >= 0; i = w->vehicles[i].next)
				if (!w->vehicles[i].passed_arm && w->vehicles[i].open_ms < 0)
					break;
			if (i >= 0) {
				w->vehicles[i].open_ms = open_ms;
				w->stats.opens_attributed++;
			} else {
				w->stats.opens_unattributed++;
			}
		}

		/* What the antennas see: own vehicles, neighbours' tags,
		 * scheduled presences. */
		for (int i = l->head; i >= 0; i = w->vehicles[i].next) {
			struct vehicle *v = &w->vehicles[i];
			int in = tag_readable_in_field(v);
			if (in && n < MAX_VIEWS) {
				spec_view(&v->spec, v->spec.rssi_dbm_x10, &views[n++]);
				if (v->seen_ms < 0) {
					v->seen_ms = w->now_ms;
					v->queued = lane_busy_ahead(w, v);
				}
			}
			if (!in && v->tag_in_field && v->spec.repeat > 1) {
				/* Reflections report the tag again, each after
				 * the re-report window has passed. */
				int64_t wnd = (int64_t)sim_reader_rereport_s(l->reader) * 1000 + 300;
				struct sim_tag_view gv;
				spec_view(&v->spec, v->spec.rssi_dbm_x10, &gv);
				for (unsigned k = 1; k < v->spec.repeat; k++)
					add_ghost(w, lane, &gv, w->now_ms + (int64_t)k * wnd,
						  w->now_ms + (int64_t)k * wnd + 100);
			}
			v->tag_in_field = in;
		}
		for (unsigned o = 0; o < w->p.lanes; o++) {
			if (o == lane)
				continue;
			for (int i = w->lanes[o].head; i >= 0; i = w->vehicles[i].next) {
				const struct vehicle *v = &w->vehicles[i];
				if (v->spec.neighbour == (int)lane && tag_readable_in_field(v) &&
				    n < MAX_VIEWS)
					spec_view(&v->spec,
						  (int16_t)(v->spec.rssi_dbm_x10 - NEIGHBOUR_LOSS_DB_X10),
						  &views[n++]);
			}
		}
		for (int g = 0; g < SIM_MAX_GHOSTS; g++) {
			struct ghost *gh = &w->ghosts[g];
			if (!gh->used || gh->lane != lane)
				continue;
			if (w->now_ms >= gh->until_ms) {
				gh->used = 0;
				continue;
			}
			if (w->now_ms >= gh->from_ms && n < MAX_VIEWS)
				views[n++] = gh->view;
		}

		made = sim_reader_step(l->reader, w->now_ms, w->real_ms, views, n,
				       l->last_di[FWI_DI_ENTRY_LOOP]);
		reader_events(w, lane, made);

		int ready = sim_reader_ready(l->reader, w->now_ms);
		if (ready && !l->last_reader_ready)
			sim_world_event(w, (int)lane, "reader booted boot_id=%08" PRIx32,
					sim_reader_boot_id(l->reader));
		l->last_reader_ready = ready;
	}
}

void
sim_world_advance(struct sim_world *w, int64_t now_ms, int64_t real_ms)
{
	/* Catch up in fixed steps; after a long stall (debugger, suspended
	 * process) jump rather than replay minutes of physics. */
	if (now_ms - w->now_ms > 2000) {
		sim_world_event(w, -1, "simulation stalled for %" PRId64 " ms: skipping ahead",
				now_ms - w->now_ms);
		w->now_ms = now_ms - SIM_STEP_MS;
	}
	while (w->now_ms + SIM_STEP_MS <= now_ms) {
		w->now_ms += SIM_STEP_MS;
		w->real_ms = real_ms - (now_ms - w->now_ms);
		step(w, SIM_STEP_MS);
	}
}

int
sim_world_apply(struct sim_world *w, const struct sim_cmd *c, int64_t now_ms,
		int64_t real_ms)
{
	struct lane *l;
	struct sim_tag_view view;
	char epc[2 * FWI_EPC_MAX_BYTES + 1];

	(void)real_ms;
	if (c->lane < 0 || (unsigned)c->lane >= w->p.lanes)
		return TOLL_EINVAL;
	l = &w->lanes[c->lane];
	switch (c->kind) {
	case SIM_CMD_VEHICLE:
		if (c->v.neighbour >= (int)w->p.lanes)
			return TOLL_EINVAL;
		return spawn_vehicle(w, (unsigned)c->lane, &c->v);
	case SIM_CMD_TAG:
		spec_view(&c->v, c->v.rssi_dbm_x10, &view);
		epc_text(&c->v, epc);
		sim_world_event(w, c->lane, "tag epc=%s in the field for %" PRId64 " ms, no vehicle",
				epc, c->ms);
		add_ghost(w, (unsigned)c->lane, &view, now_ms, now_ms + c->ms);
		return 0;
	case SIM_CMD_REBOOT:
		sim_reader_reboot(l->reader, now_ms);
		l->last_reader_ready = 0;
		l->last_dropped = 0;
		sim_world_event(w, c->lane, "reader reboots: FIFO lost, silent while booting");
		return 0;
	case SIM_CMD_OFFLINE:
		for (int u = 0; u < 3; u++)
			if (c->units & (1u << u))
				l->offline_until[u] = now_ms + c->ms;
		sim_world_event(w, c->lane, "%s%s%s offline for %" PRId64 " ms",
				(c->units & SIM_UNIT_READER) ? "reader " : "",
				(c->units & SIM_UNIT_IO) ? "io " : "",
				(c->units & SIM_UNIT_DISPLAY) ? "display " : "", c->ms);
		return 0;
	case SIM_CMD_IO_FAULT:
		sim_io_set_fault(l->io, (enum sim_io_fault)c->io_fault, c->on);
		sim_world_event(w, c->lane, "io fault %d %s", c->io_fault, c->on ? "on" : "off");
		return 0;
	case SIM_CMD_READER_FAULT:
		sim_reader_set_faults(l->reader, c->fault_code, c->antenna_faults,
				      c->overtemp, c->fatal);
		sim_world_event(w, c->lane, "reader fault code=%u antennas=%u%s%s",
				c->fault_code, c->antenna_faults,
				c->overtemp ? " overtemp" : "", c->fatal ? " fatal" : "");
		return 0;
	default:
		return TOLL_EINVAL;
	}
}

void
sim_world_note_display(struct sim_world *w, unsigned lane)
{
	const struct sim_display_content *c = &w->lanes[lane].display.shown;
	const char *msg = fwi_message_text(c->message);

	w->stats.display_updates++;
	sim_world_event(w, (int)lane,
			"display #%u fee=%" PRIu32 " balance=%" PRId32 " message=%u (%s) plate=\"%s\"",
			c->update_seq, c->fee_vnd, c->balance_vnd, c->message,
			msg != NULL ? msg : "unknown code", c->plate);
}

void
sim_world_note_coils(struct sim_world *w, unsigned lane, const uint8_t *before)
{
	struct lane *l = &w->lanes[lane];
	uint8_t now[FWI_IO_COIL_COUNT];

	if (before == NULL)
		before = l->last_coils;
	sim_io_coils(l->io, now);
	for (unsigned c = 0; c < FWI_IO_COIL_COUNT; c++)
		if (now[c] != before[c])
			sim_world_event(w, (int)lane, "io coil %s %s", fwi_io_coil_bits[c].name,
					now[c] ? "on" : "off");
	memcpy(l->last_coils, now, sizeof(now));
}

void
sim_world_note_ack(struct sim_world *w, unsigned lane, uint32_t acked_before)
{
	const struct sim_reader *r = w->lanes[lane].reader;
	uint32_t acked = sim_reader_acked_seq(r);

	if (acked != acked_before)
		sim_world_event(w, (int)lane, "reader ack seq=%" PRIu32 " fifo=%u", acked,
				sim_reader_fifo_count(r));
}

static void
print_bits(FILE *out, uint16_t v, const struct fwi_bit *bits, size_t n)
{
	int first = 1;
	for (size_t i = 0; i < n; i++)
		if (v & (1u << bits[i].bit)) {
			fprintf(out, "%s%s", first ? "" : ",", bits[i].name);
			first = 0;
		}
	if (first)
		fputs("-", out);
}

void
sim_world_status(struct sim_world *w, int lane, int64_t now_ms, int64_t real_ms,
		 FILE *out)
{
	for (unsigned i = 0; i < w->p.lanes; i++) {
		struct lane *l = &w->lanes[i];
		uint8_t di[FWI_IO_INPUT_COUNT], co[FWI_IO_COIL_COUNT];
		const struct sim_display_content *d = &l->display.shown;
		uint16_t st;

		if (lane >= 0 && (unsigned)lane != i)
			continue;
		st = sim_reader_status(l->reader, now_ms);
		fprintf(out, "lane %u\n", i);
		fprintf(out, "  reader  %s boot_id=%08" PRIx32 " mode=%u status=0x%04x(",
			sim_world_unit_answers(w, i, SIM_UNIT_READER, now_ms) ? "online" : "silent",
			sim_reader_boot_id(l->reader), sim_reader_mode(l->reader), st);
		print_bits(out, st, fwi_reader_status_bits, fwi_reader_status_bit_count);
		fprintf(out, ") fifo=%u last_seq=%" PRIu32 " acked_seq=%" PRIu32
			     " dropped=%" PRIu32 " clock=%s\n",
			sim_reader_fifo_count(l->reader), sim_reader_last_seq(l->reader),
			sim_reader_acked_seq(l->reader), sim_reader_dropped(l->reader),
			sim_reader_clock_synced(l->reader) ? "synced" : "unsynced");
		(void)real_ms;
		sim_io_inputs(l->io, now_ms, di);
		sim_io_coils(l->io, co);
		fprintf(out, "  io      %s entry=%u exit=%u barrier=%s coil=%u red=%u green=%u closed_sign=%u "
			     "watchdog=%s vehicles=%" PRIu32 "\n",
			sim_world_unit_answers(w, i, SIM_UNIT_IO, now_ms) ? "online" : "silent",
			di[FWI_DI_ENTRY_LOOP], di[FWI_DI_EXIT_LOOP],
			di[FWI_DI_BARRIER_FAULT] ? "fault" :
			di[FWI_DI_BARRIER_OPEN] ? "open" :
			di[FWI_DI_BARRIER_CLOSED] ? "closed" : "moving",
			co[FWI_CO_BARRIER], co[FWI_CO_RED], co[FWI_CO_GREEN], co[FWI_CO_LANE_CLOSED],
			sim_io_watchdog_expired(l->io) ? "expired" : "ok",
			sim_io_vehicle_count(l->io));
		fprintf(out, "  display #%u fee=%" PRIu32 " balance=%" PRId32 " message=%u plate=\"%s\"\n",
			d->update_seq, d->fee_vnd, d->balance_vnd, d->message, d->plate);
		for (int k = l->head; k >= 0; k = w->vehicles[k].next) {
			const struct vehicle *v = &w->vehicles[k];
			fprintf(out, "  vehicle %" PRIu32 " at %.1f m%s\n", v->id, v->front_m,
				v->stopped ? " stopped at the barrier" : "");
		}
	}
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

void
sim_world_print_stats(const struct sim_world *w, FILE *out)
{
	const struct sim_world_stats *s = &w->stats;
	uint64_t made = 0, dropped = 0, acked = 0;

	for (unsigned i = 0; i < w->p.lanes; i++) {
		const struct sim_reader_stats *rs = sim_reader_stats(w->lanes[i].reader);
		made += rs->records_made;
		dropped += rs->reads_dropped;
		acked += rs->records_acked;
	}
	fprintf(out, "vehicles_in=%" PRIu64 " passed=%" PRIu64 " diverted=%" PRIu64
		     " rejected=%" PRIu64 " on_road=%u\n",
		s->vehicles_in, s->vehicles_passed, s->vehicles_diverted,
		s->vehicles_rejected, w->active);
	fprintf(out, "records_made=%" PRIu64 " records_acked=%" PRIu64 " reads_dropped=%" PRIu64 "\n",
		made, acked, dropped);
	fprintf(out, "display_updates=%" PRIu64 " opens_attributed=%" PRIu64
		     " opens_unattributed=%" PRIu64 "\n",
		s->display_updates, s->opens_attributed, s->opens_unattributed);
	if (s->latency_count > 0)
		fprintf(out, "read_to_open_ms mean=%.1f max=%" PRId64 " n=%" PRIu64 "\n",
			(double)s->latency_sum_ms / (double)s->latency_count, s->latency_max_ms,
			s->latency_count);
	static const char *const names[2] = {"clear", "queued"};
	for (int q = 0; q < 2; q++) {
		size_t n = w->nlat[q];
		int64_t *sorted = n > 0 ? malloc(n * sizeof(*sorted)) : NULL;
		if (sorted == NULL)
			continue;
		memcpy(sorted, w->latencies[q], n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), cmp_i64);
		fprintf(out, "read_to_open_ms %s p50=%" PRId64 " p99=%" PRId64 " max=%" PRId64 " n=%zu\n",
			names[q], sorted[(n - 1) / 2], sorted[(n * 99 + 99) / 100 - 1], sorted[n - 1], n);
		free(sorted);
	}
}
