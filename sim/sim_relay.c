/* sim_relay.c: see sim_relay.h. */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "sim_relay.h"

/* ---- the frame parser ------------------------------------------------ */

enum { ST_HEADER, ST_LENGTH, ST_BODY, ST_FAILED };

void
sim_sp_parser_init(struct sim_sp_parser *p, uint64_t max_bytes)
{
	memset(p, 0, sizeof(*p));
	p->state = ST_HEADER;
	p->max_bytes = max_bytes;
}

void
sim_sp_parser_clear(struct sim_sp_parser *p)
{
	free(p->frame);
	p->frame = NULL;
	p->frame_have = 0;
}

static int
fail(struct sim_sp_parser *p, int code, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int
fail(struct sim_sp_parser *p, int code, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	sim_sp_parser_clear(p);
	p->state = ST_FAILED;
	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

int
sim_sp_feed(struct sim_sp_parser *p, const uint8_t *in, size_t n, size_t *used,
	    uint8_t hdr_out[SIM_SP_HEADER_BYTES], struct sim_sp_frame *out, char *err, size_t errlen)
{
	size_t i = 0;

	*used = 0;
	if (p->state == ST_FAILED)
		return toll_errf(err, errlen, TOLL_EFORMAT, "the stream was already refused");
	while (i < n) {
		size_t take;
		switch (p->state) {
		case ST_HEADER:
			take = SIM_SP_HEADER_BYTES - p->have;
			if (take > n - i)
				take = n - i;
			memcpy(p->head + p->have, in + i, take);
			p->have += take;
			i += take;
			if (p->have < SIM_SP_HEADER_BYTES)
				break;
			*used = i;
			if (p->head[0] != 0x00 || p->head[1] != 'S' || p->head[2] != 'P' || p->head[3] != 0x00)
				return fail(p, TOLL_EFORMAT, err, errlen,
					    "not an SP header: %02x %02x %02x %02x (want 00 53 50 00)", p->head[0],
					    p->head[1], p->head[2], p->head[3]);
			if (p->head[6] != 0 || p->head[7] != 0)
				return fail(p, TOLL_EFORMAT, err, errlen, "SP header reserved bytes %02x %02x, not 0",
					    p->head[6], p->head[7]);
			p->protocol = (uint16_t)((p->head[4] << 8) | p->head[5]);
			memcpy(hdr_out, p->head, SIM_SP_HEADER_BYTES);
			p->have = 0;
			p->state = ST_LENGTH;
			return SIM_SP_HEADER;
		case ST_LENGTH:
			take = SIM_SP_LENGTH_BYTES - p->have;
			if (take > n - i)
				take = n - i;
			memcpy(p->head + p->have, in + i, take);
			p->have += take;
			i += take;
			if (p->have < SIM_SP_LENGTH_BYTES)
				break;
			*used = i;
			p->len = 0;
			for (int k = 0; k < SIM_SP_LENGTH_BYTES; k++)
				p->len = (p->len << 8) | p->head[k];
			p->have = 0;
			if (p->len > p->max_bytes)
				return fail(p, TOLL_ERANGE, err, errlen,
					    "a message of %" PRIu64 " bytes, above the bound of %" PRIu64, p->len,
					    p->max_bytes);
			p->frame = malloc((size_t)p->len + SIM_SP_LENGTH_BYTES);
			if (p->frame == NULL)
				return fail(p, TOLL_ENOMEM, err, errlen, "out of memory for a message of %" PRIu64 " bytes",
					    p->len);
			memcpy(p->frame, p->head, SIM_SP_LENGTH_BYTES);
			p->frame_have = SIM_SP_LENGTH_BYTES;
			p->state = ST_BODY;
			if (p->len > 0)
				break;
			/* an empty message is complete at once */
			/* fall through */
		case ST_BODY:
			take = (size_t)(p->len + SIM_SP_LENGTH_BYTES - p->frame_have);
			if (take > n - i)
				take = n - i;
			memcpy(p->frame + p->frame_have, in + i, take);
			p->frame_have += take;
			i += take;
			if (p->frame_have < p->len + SIM_SP_LENGTH_BYTES)
				break;
			*used = i;
			out->bytes = p->frame;
			out->len = (size_t)p->frame_have;
			p->frame = NULL;
			p->frame_have = 0;
			p->state = ST_LENGTH;
			p->messages++;
			return SIM_SP_MESSAGE;
		default:
			return fail(p, TOLL_EFORMAT, err, errlen, "parser in a bad state");
		}
	}
	*used = i;
	return SIM_SP_MORE;
}

int
sim_sp_finish(const struct sim_sp_parser *p)
{
	if (p->state == ST_FAILED)
		return TOLL_EFORMAT;
	if ((p->state == ST_HEADER || p->state == ST_LENGTH) && p->have == 0)
		return 0;
	return TOLL_ESHORT;
}

/* ---- faults ---------------------------------------------------------- */

void
sim_relay_decide(struct toll_rng *rng, const struct sim_relay_faults *f, struct sim_relay_decision *d)
{
	/* every draw is made whatever the rates and the outcome */
	int drop = toll_rng_chance(rng, f->drop_ppm);
	int dup = toll_rng_chance(rng, f->dup_ppm);
	int hold = toll_rng_chance(rng, f->reorder_ppm);
	uint64_t r = toll_rng_next(rng);

	d->drop = drop;
	d->copies = !drop && dup ? 2 : 1;
	d->hold = !drop && hold;
	d->delay_ms = f->delay_ms_max > 0 ? (int64_t)(r % ((uint64_t)f->delay_ms_max + 1)) : 0;
}

int
sim_relay_parse_pct(const char *s, uint32_t *ppm)
{
	uint64_t whole = 0, frac = 0;
	int wdigits = 0, fdigits = 0;
	const char *c = s;

	for (; *c >= '0' && *c <= '9'; c++) {
		if (++wdigits > 3)
			return TOLL_EINVAL;
		whole = whole * 10 + (uint64_t)(*c - '0');
	}
	if (*c == '.') {
		c++;
		for (; *c >= '0' && *c <= '9'; c++) {
			if (++fdigits > 4)
				return TOLL_EINVAL;
			frac = frac * 10 + (uint64_t)(*c - '0');
		}
		if (fdigits == 0)
			return TOLL_EINVAL;
	}
	if (*c != 0 || wdigits == 0)
		return TOLL_EINVAL;
	for (int k = fdigits; k < 4; k++)
		frac *= 10;
	uint64_t v = whole * 10000 + frac;
	if (v > 1000000)
		return TOLL_EINVAL;
	*ppm = (uint32_t)v;
	return 0;
}

/* ---- the relay ------------------------------------------------------- */

#define MAX_CONNS 256
#define QUEUE_MAX (16u << 20) /* stop reading a side while this much waits */
#define READ_CHUNK 65536
#define CTL_MAX 8
#define CTL_LINE 512

struct outmsg {
	struct outmsg *next;
	uint8_t *bytes;
	size_t len, off;
	int64_t at_ms;
};

struct dir_stats {
	uint64_t messages, forwarded, dropped, duplicated, reordered, held_late, bytes;
};

/* One direction of a connection: read from fd[k], written to fd[1 - k]. */
struct dir {
	struct sim_sp_parser parser;
	struct toll_rng rng;
	struct outmsg *head, *tail;
	size_t queued;
	int64_t last_at;
	int held_on;
	struct sim_sp_frame held;
	unsigned held_copies;
	int64_t held_until;
};

struct conn {
	int fd[2]; /* 0 the dialer's side (accepted), 1 the listener's (dialled by us) */
	int connecting;
	int dead;
	unsigned route;
	uint64_t id, nth; /* id across the relay; nth: connection number on its route */
	struct dir d[2];  /* 0: to the server, 1: to the client */
};

struct route_state {
	struct sim_relay_route cfg;
	struct sockaddr_storage laddr, caddr;
	socklen_t laddr_len, caddr_len;
	int lfd;
	uint64_t connections, refused, connect_failures, errors, truncated;
	struct dir_stats st[2];
};

struct ctl_client {
	int fd;
	char buf[CTL_LINE];
	size_t len;
};

struct relay {
	const struct sim_relay_cfg *cfg;
	struct sim_relay_faults faults;
	struct route_state routes[SIM_RELAY_MAX_ROUTES];
	struct conn *conns[MAX_CONNS];
	unsigned nconns;
	uint64_t next_id;
	int down;
	int64_t down_until; /* 0: until "up" */
	int64_t sched_down_at; /* -1: none */
	int64_t relisten_at;
	uint64_t downs, cut;
	int ctl_fd;
	struct ctl_client ctl[CTL_MAX];
	unsigned nctl;
	int quit;
};

static const char *const dir_name[2] = {"to-server", "to-client"};

static int
resolve(const char *host, int port, int passive, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints, *res = NULL;
	char p[16];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = passive ? AI_PASSIVE : 0;
	snprintf(p, sizeof(p), "%d", port);
	int rc = getaddrinfo(host, p, &hints, &res);
	if (rc != 0 || res == NULL) {
		toll_err("relay: could not resolve %s:%d: %s", host, port, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int
listen_on(struct route_state *rs)
{
	int one = 1;
	int fd = socket(rs->laddr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&rs->laddr, rs->laddr_len) != 0 || listen(fd, 64) != 0) {
		toll_err("relay: could not listen on %s:%d: %s", rs->cfg.listen_host, rs->cfg.listen_port,
			 strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void
dir_free(struct dir *d)
{
	for (struct outmsg *m = d->head, *next; m != NULL; m = next) {
		next = m->next;
		free(m->bytes);
		free(m);
	}
	d->head = d->tail = NULL;
	d->queued = 0;
	if (d->held_on)
		free(d->held.bytes);
	d->held_on = 0;
	sim_sp_parser_clear(&d->parser);
}

static void
conn_close(struct conn *c)
{
	for (int k = 0; k < 2; k++) {
		if (c->fd[k] >= 0)
			close(c->fd[k]);
		c->fd[k] = -1;
		dir_free(&c->d[k]);
	}
	c->dead = 1;
}

/* Queue bytes (taken over) to go out at at_ms, after what is queued. */
static int
enqueue(struct dir *d, uint8_t *bytes, size_t len, int64_t at_ms)
{
	struct outmsg *m = calloc(1, sizeof(*m));

	if (m == NULL) {
		free(bytes);
		return TOLL_ENOMEM;
	}
	if (at_ms < d->last_at)
		at_ms = d->last_at;
	d->last_at = at_ms;
	m->bytes = bytes;
	m->len = len;
	m->at_ms = at_ms;
	if (d->tail != NULL)
		d->tail->next = m;
	else
		d->head = m;
	d->tail = m;
	d->queued += len;
	return 0;
}

/* Queue a message and, for a duplicate, a copy of it; counted forwarded. */
static int
enqueue_copies(struct dir *d, struct dir_stats *st, struct sim_sp_frame *f, unsigned copies, int64_t at_ms)
{
	if (copies > 1) {
		uint8_t *dup = malloc(f->len);
		if (dup == NULL) {
			free(f->bytes);
			return TOLL_ENOMEM;
		}
		memcpy(dup, f->bytes, f->len);
		if (enqueue(d, dup, f->len, at_ms) != 0) {
			free(f->bytes);
			return TOLL_ENOMEM;
		}
		st->forwarded++;
	}
	st->forwarded++;
	return enqueue(d, f->bytes, f->len, at_ms);
}

static int
on_message(struct relay *r, struct conn *c, int k, struct sim_sp_frame *f, int64_t now)
{
	struct dir *d = &c->d[k];
	struct dir_stats *st = &r->routes[c->route].st[k];
	struct sim_relay_decision dec;

	st->messages++;
	st->bytes += f->len - SIM_SP_LENGTH_BYTES;
	sim_relay_decide(&d->rng, &r->faults, &dec);
	if (dec.drop) {
		st->dropped++;
		free(f->bytes);
		return 0;
	}
	if (dec.copies > 1)
		st->duplicated++;
	if (dec.hold && !d->held_on) {
		d->held_on = 1;
		d->held = *f;
		d->held_copies = dec.copies;
		d->held_until = now + r->cfg->hold_ms;
		return 0;
	}
	int64_t at = now + dec.delay_ms;
	if (enqueue_copies(d, st, f, dec.copies, at) != 0)
		return TOLL_ENOMEM;
	if (d->held_on) {
		/* the held one goes after this one: reordered */
		d->held_on = 0;
		st->reordered++;
		if (enqueue_copies(d, st, &d->held, d->held_copies, at) != 0)
			return TOLL_ENOMEM;
	}
	return 0;
}

static void
route_log(const struct conn *c, int prio, const char *what)
{
	toll_log(prio, "relay: route %u connection %" PRIu64 ": %s", c->route, c->id, what);
}

/* Read what fd[k] has; -1 when the connection is to be closed. */
static int
conn_read(struct relay *r, struct conn *c, int k, int64_t now)
{
	static uint8_t buf[READ_CHUNK];
	struct dir *d = &c->d[k];
	struct route_state *rs = &r->routes[c->route];
	ssize_t n = read(c->fd[k], buf, sizeof(buf));
	char err[200], text[300];

	if (n == 0) {
		if (sim_sp_finish(&d->parser) != 0) {
			rs->truncated++;
			snprintf(text, sizeof(text), "the %s closed inside a message",
				 k == 0 ? "client" : "server");
			route_log(c, LOG_INFO, text);
		}
		return -1;
	}
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	size_t off = 0;
	while (off < (size_t)n) {
		uint8_t hdr[SIM_SP_HEADER_BYTES];
		struct sim_sp_frame f;
		size_t used;
		int ev = sim_sp_feed(&d->parser, buf + off, (size_t)n - off, &used, hdr, &f, err, sizeof(err));
		off += used;
		if (ev < 0) {
			rs->errors++;
			snprintf(text, sizeof(text), "from the %s: %s: closing", k == 0 ? "client" : "server", err);
			route_log(c, LOG_WARNING, text);
			return -1;
		}
		if (ev == SIM_SP_HEADER) {
			uint8_t *h = malloc(SIM_SP_HEADER_BYTES);
			if (h == NULL)
				return -1;
			memcpy(h, hdr, SIM_SP_HEADER_BYTES);
			if (enqueue(d, h, SIM_SP_HEADER_BYTES, now) != 0)
				return -1;
		} else if (ev == SIM_SP_MESSAGE) {
			if (on_message(r, c, k, &f, now) != 0)
				return -1;
		}
	}
	return 0;
}

/* Write what is due from direction k to fd[1 - k]; -1 to close. */
static int
conn_flush(struct conn *c, int k, int64_t now)
{
	struct dir *d = &c->d[k];
	int fd = c->fd[1 - k];

	if (fd < 0 || (k == 0 && c->connecting))
		return 0;
	while (d->head != NULL && d->head->at_ms <= now) {
		struct outmsg *m = d->head;
		ssize_t n = send(fd, m->bytes + m->off, m->len - m->off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		m->off += (size_t)n;
		if (m->off < m->len)
			return 0;
		d->head = m->next;
		if (d->head == NULL)
			d->tail = NULL;
		d->queued -= m->len;
		free(m->bytes);
		free(m);
	}
	return 0;
}

static void
nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void
accept_on(struct relay *r, unsigned ri)
{
	struct route_state *rs = &r->routes[ri];
	int fd;

	while (rs->lfd >= 0 && (fd = accept4(rs->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct conn *c;
		if (r->nconns == MAX_CONNS || (c = calloc(1, sizeof(*c))) == NULL) {
			rs->refused++;
			close(fd);
			continue;
		}
		nodelay(fd);
		c->fd[0] = fd;
		c->route = ri;
		c->id = ++r->next_id;
		c->nth = rs->connections++;
		for (int k = 0; k < 2; k++) {
			/* one generator per route, connection and direction:
			 * the n-th message of a connection meets the same fate
			 * in every run with this seed */
			toll_rng_seed(&c->d[k].rng, r->cfg->seed ^ ((uint64_t)ri << 56) ^ (c->nth << 1) ^ (uint64_t)k);
			sim_sp_parser_init(&c->d[k].parser, r->cfg->max_bytes);
		}
		c->fd[1] = socket(rs->caddr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd[1] < 0 ||
		    (connect(c->fd[1], (struct sockaddr *)&rs->caddr, rs->caddr_len) != 0 && errno != EINPROGRESS)) {
			rs->connect_failures++;
			toll_debug("relay: route %u: could not connect to %s:%d: %s", ri, rs->cfg.connect_host,
				   rs->cfg.connect_port, strerror(errno));
			conn_close(c);
			free(c);
			continue;
		}
		nodelay(c->fd[1]);
		c->connecting = 1;
		r->conns[r->nconns++] = c;
		toll_debug("relay: route %u connection %" PRIu64 " opened", ri, c->id);
	}
}

static void
go_down(struct relay *r, int64_t now, int64_t ms)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->nconns; i++)
		if (!r->conns[i]->dead) {
			conn_close(r->conns[i]);
			n++;
		}
	for (unsigned ri = 0; ri < r->cfg->nroutes; ri++)
		if (r->routes[ri].lfd >= 0) {
			close(r->routes[ri].lfd);
			r->routes[ri].lfd = -1;
		}
	if (!r->down)
		r->downs++;
	r->down = 1;
	r->cut += n;
	r->down_until = ms > 0 ? now + ms : 0;
	if (ms > 0)
		toll_notice("relay: down for %" PRId64 " ms: %u connections cut, new ones refused", ms, n);
	else
		toll_notice("relay: down until told up: %u connections cut, new ones refused", n);
}

static void
go_up(struct relay *r, int64_t now)
{
	r->down = 0;
	r->down_until = 0;
	r->relisten_at = now;
	toll_notice("relay: up again");
}

static void
relisten(struct relay *r, int64_t now)
{
	int missing = 0;

	if (r->down || now < r->relisten_at)
		return;
	for (unsigned ri = 0; ri < r->cfg->nroutes; ri++)
		if (r->routes[ri].lfd < 0 && (r->routes[ri].lfd = listen_on(&r->routes[ri])) < 0)
			missing = 1;
	if (missing)
		r->relisten_at = now + 200;
}

static void
fmt_pct(uint32_t ppm, char *out, size_t len)
{
	snprintf(out, len, "%u.%04u%%", ppm / 10000, ppm % 10000);
}

static void
stats_text(const struct relay *r, FILE *out)
{
	char d[24], u[24], o[24];

	fmt_pct(r->faults.drop_ppm, d, sizeof(d));
	fmt_pct(r->faults.dup_ppm, u, sizeof(u));
	fmt_pct(r->faults.reorder_ppm, o, sizeof(o));
	fprintf(out,
		"relay seed=%" PRIu64 " state=%s drop=%s dup=%s reorder=%s delay_ms=%" PRId64 " hold_ms=%" PRId64
		" downs=%" PRIu64 " cut=%" PRIu64 "\n",
		r->cfg->seed, r->down ? "down" : "up", d, u, o, r->faults.delay_ms_max, r->cfg->hold_ms, r->downs,
		r->cut);
	for (unsigned ri = 0; ri < r->cfg->nroutes; ri++) {
		const struct route_state *rs = &r->routes[ri];
		unsigned open = 0;
		for (unsigned i = 0; i < r->nconns; i++)
			open += r->conns[i]->route == ri && !r->conns[i]->dead;
		fprintf(out,
			"route %u %s:%d->%s:%d connections=%" PRIu64 " open=%u refused=%" PRIu64
			" connect_failures=%" PRIu64 " errors=%" PRIu64 " truncated=%" PRIu64 "\n",
			ri, rs->cfg.listen_host, rs->cfg.listen_port, rs->cfg.connect_host, rs->cfg.connect_port,
			rs->connections, open, rs->refused, rs->connect_failures, rs->errors, rs->truncated);
		for (int k = 0; k < 2; k++) {
			const struct dir_stats *s = &rs->st[k];
			fprintf(out,
				"route %u %s messages=%" PRIu64 " forwarded=%" PRIu64 " dropped=%" PRIu64
				" duplicated=%" PRIu64 " reordered=%" PRIu64 " held_late=%" PRIu64 " bytes=%" PRIu64 "\n",
				ri, dir_name[k], s->messages, s->forwarded, s->dropped, s->duplicated, s->reordered,
				s->held_late, s->bytes);
		}
	}
}

/* ---- control socket: "stats", "down [ms=N]", "up", "set ...", "quit";
 * answers end with "ok" or "error: ...", as toll-sim ctl expects ---- */

static int
ctl_listen(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		toll_err("relay: control socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 8) != 0) {
		toll_err("relay: could not listen on control socket %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void
ctl_reply(int fd, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, text, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n <= 0)
			return;
		text += n;
		len -= (size_t)n;
	}
}

static int
parse_ms(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != 0 || v < 0 || v > 86400000LL)
		return -1;
	*out = v;
	return 0;
}

/* Run one command; the answer into out. */
static void
ctl_command(struct relay *r, char *line, int64_t now, FILE *out)
{
	char *save = NULL, *word = strtok_r(line, " \t\r", &save);

	if (word == NULL) {
		fputs("error: empty command (stats, down [ms=N], up, set ..., quit)\n", out);
		return;
	}
	if (strcmp(word, "stats") == 0) {
		stats_text(r, out);
	} else if (strcmp(word, "down") == 0) {
		int64_t ms = 0;
		char *arg = strtok_r(NULL, " \t\r", &save);
		if (arg != NULL && (strncmp(arg, "ms=", 3) != 0 || parse_ms(arg + 3, &ms) != 0)) {
			fprintf(out, "error: down wants ms=MILLISECONDS, not '%s'\n", arg);
			return;
		}
		go_down(r, now, ms);
	} else if (strcmp(word, "up") == 0) {
		if (r->down)
			go_up(r, now);
	} else if (strcmp(word, "set") == 0) {
		struct sim_relay_faults f = r->faults;
		char *arg;
		while ((arg = strtok_r(NULL, " \t\r", &save)) != NULL) {
			char *eq = strchr(arg, '=');
			int bad = eq == NULL;
			if (!bad) {
				*eq = 0;
				if (strcmp(arg, "drop") == 0)
					bad = sim_relay_parse_pct(eq + 1, &f.drop_ppm) != 0;
				else if (strcmp(arg, "dup") == 0)
					bad = sim_relay_parse_pct(eq + 1, &f.dup_ppm) != 0;
				else if (strcmp(arg, "reorder") == 0)
					bad = sim_relay_parse_pct(eq + 1, &f.reorder_ppm) != 0;
				else if (strcmp(arg, "delay") == 0)
					bad = parse_ms(eq + 1, &f.delay_ms_max) != 0;
				else
					bad = 1;
				*eq = '=';
			}
			if (bad) {
				fprintf(out, "error: set wants drop=PCT dup=PCT reorder=PCT delay=MS, not '%s'\n", arg);
				return;
			}
		}
		r->faults = f;
		toll_notice("relay: faults now drop %u ppm, dup %u ppm, reorder %u ppm, delay up to %" PRId64 " ms",
			    f.drop_ppm, f.dup_ppm, f.reorder_ppm, f.delay_ms_max);
	} else if (strcmp(word, "quit") == 0) {
		r->quit = 1;
	} else {
		fprintf(out, "error: unknown command '%s' (stats, down [ms=N], up, set ..., quit)\n", word);
		return;
	}
	fputs("ok\n", out);
}

static void
ctl_drop(struct relay *r, unsigned i)
{
	close(r->ctl[i].fd);
	r->ctl[i] = r->ctl[--r->nctl];
}

/* -1: close the client. */
static int
ctl_input(struct relay *r, struct ctl_client *cl, int64_t now)
{
	ssize_t got = read(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - 1 - cl->len);
	char *nl;

	if (got == 0)
		return -1;
	if (got < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	cl->len += (size_t)got;
	cl->buf[cl->len] = 0;
	while ((nl = memchr(cl->buf, '\n', cl->len)) != NULL) {
		char *text = NULL;
		size_t len = 0;
		*nl = 0;
		FILE *out = open_memstream(&text, &len);
		if (out == NULL)
			return -1;
		ctl_command(r, cl->buf, now, out);
		fclose(out);
		ctl_reply(cl->fd, text, len);
		free(text);
		size_t used = (size_t)(nl - cl->buf) + 1;
		memmove(cl->buf, cl->buf + used, cl->len - used);
		cl->len -= used;
		cl->buf[cl->len] = 0;
	}
	if (cl->len == sizeof(cl->buf) - 1) {
		ctl_reply(cl->fd, "error: line too long\n", 21);
		return -1;
	}
	return 0;
}

/* ---- the loop -------------------------------------------------------- */

void
sim_relay_cfg_defaults(struct sim_relay_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->hold_ms = 3000;
	c->max_bytes = SIM_SP_MSG_MAX_DEFAULT;
}

enum { P_LISTEN, P_CTL, P_CTL_CLIENT, P_CONN };

struct pslot {
	int kind;
	unsigned idx;
	int side;
};

/* Timers: the scheduled down period, the end of a down period, held
 * messages whose time is up. */
static void
timers(struct relay *r, int64_t now)
{
	if (r->sched_down_at >= 0 && now >= r->sched_down_at) {
		r->sched_down_at = -1;
		go_down(r, now, r->cfg->down_ms);
	}
	if (r->down && r->down_until > 0 && now >= r->down_until)
		go_up(r, now);
	relisten(r, now);
	for (unsigned i = 0; i < r->nconns; i++) {
		struct conn *c = r->conns[i];
		for (int k = 0; k < 2 && !c->dead; k++) {
			struct dir *d = &c->d[k];
			if (!d->held_on || now < d->held_until)
				continue;
			d->held_on = 0;
			r->routes[c->route].st[k].held_late++;
			if (enqueue_copies(d, &r->routes[c->route].st[k], &d->held, d->held_copies, now) != 0)
				conn_close(c);
		}
	}
}

/* How long poll may sleep: until the next timer, at most 200 ms. */
static int
poll_timeout(const struct relay *r, int64_t now)
{
	int64_t next = now + 200;

	if (r->sched_down_at >= 0 && r->sched_down_at < next)
		next = r->sched_down_at;
	if (r->down && r->down_until > 0 && r->down_until < next)
		next = r->down_until;
	for (unsigned i = 0; i < r->nconns; i++) {
		const struct conn *c = r->conns[i];
		for (int k = 0; k < 2 && !c->dead; k++) {
			if (c->d[k].held_on && c->d[k].held_until < next)
				next = c->d[k].held_until;
			if (c->d[k].head != NULL && c->d[k].head->at_ms < next)
				next = c->d[k].head->at_ms;
		}
	}
	return next <= now ? 0 : (int)(next - now);
}

static void
reap(struct relay *r)
{
	for (unsigned i = 0; i < r->nconns;) {
		if (r->conns[i]->dead) {
			free(r->conns[i]);
			r->conns[i] = r->conns[--r->nconns];
		} else {
			i++;
		}
	}
}

static void
conn_event(struct relay *r, struct conn *c, int side, short revents, int64_t now)
{
	if (c->dead)
		return;
	if (side == 1 && c->connecting) {
		if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
			return;
		int e = 0;
		socklen_t l = sizeof(e);
		if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &e, &l) != 0 || e != 0) {
			r->routes[c->route].connect_failures++;
			toll_debug("relay: route %u: could not connect to %s:%d: %s", c->route,
				   r->routes[c->route].cfg.connect_host, r->routes[c->route].cfg.connect_port,
				   strerror(e));
			conn_close(c);
			return;
		}
		c->connecting = 0;
		return;
	}
	if ((revents & (POLLIN | POLLHUP | POLLERR)) && conn_read(r, c, side, now) != 0) {
		conn_close(c);
		return;
	}
	if ((revents & POLLOUT) && conn_flush(c, 1 - side, now) != 0)
		conn_close(c);
}

int
sim_relay_run(const struct sim_relay_cfg *cfg, volatile sig_atomic_t *stop)
{
	static struct relay r;
	struct pollfd fds[SIM_RELAY_MAX_ROUTES + 1 + CTL_MAX + 2 * MAX_CONNS];
	struct pslot slots[sizeof(fds) / sizeof(fds[0])];
	int rc = 1;

	memset(&r, 0, sizeof(r));
	r.cfg = cfg;
	r.faults = cfg->faults;
	r.ctl_fd = -1;
	r.sched_down_at = -1;
	for (unsigned ri = 0; ri < cfg->nroutes; ri++) {
		struct route_state *rs = &r.routes[ri];
		rs->cfg = cfg->routes[ri];
		rs->lfd = -1;
		if (resolve(rs->cfg.listen_host, rs->cfg.listen_port, 1, &rs->laddr, &rs->laddr_len) != 0 ||
		    resolve(rs->cfg.connect_host, rs->cfg.connect_port, 0, &rs->caddr, &rs->caddr_len) != 0 ||
		    (rs->lfd = listen_on(rs)) < 0)
			goto out;
	}
	if (cfg->ctl_path[0] != 0 && (r.ctl_fd = ctl_listen(cfg->ctl_path)) < 0)
		goto out;
	int64_t start = toll_mono_ms();
	if (cfg->down_ms > 0)
		r.sched_down_at = start + cfg->down_after_ms;

	printf("toll-sim relay %s: seed %" PRIu64 " (replay with --seed %" PRIu64 ")\n", TOLL_VERSION, cfg->seed,
	       cfg->seed);
	for (unsigned ri = 0; ri < cfg->nroutes; ri++)
		printf("route %u: %s:%d -> %s:%d\n", ri, cfg->routes[ri].listen_host, cfg->routes[ri].listen_port,
		       cfg->routes[ri].connect_host, cfg->routes[ri].connect_port);
	stats_text(&r, stdout);
	if (cfg->down_ms > 0)
		printf("down for %" PRId64 " ms, %" PRId64 " ms after the start\n", cfg->down_ms, cfg->down_after_ms);
	if (r.ctl_fd >= 0)
		printf("control: toll-sim ctl --ctl %s stats\n", cfg->ctl_path);
	fflush(stdout);

	while (!*stop && !r.quit) {
		int64_t now = toll_mono_ms();
		int n = 0;

		timers(&r, now);
		for (unsigned i = 0; i < r.nconns; i++) {
			struct conn *c = r.conns[i];
			for (int k = 0; k < 2 && !c->dead; k++)
				if (conn_flush(c, k, now) != 0)
					conn_close(c);
		}
		reap(&r);
		for (unsigned ri = 0; ri < cfg->nroutes; ri++)
			if (r.routes[ri].lfd >= 0) {
				fds[n] = (struct pollfd){.fd = r.routes[ri].lfd, .events = POLLIN};
				slots[n++] = (struct pslot){P_LISTEN, ri, 0};
			}
		if (r.ctl_fd >= 0) {
			fds[n] = (struct pollfd){.fd = r.ctl_fd, .events = POLLIN};
			slots[n++] = (struct pslot){P_CTL, 0, 0};
		}
		for (unsigned i = 0; i < r.nctl; i++) {
			fds[n] = (struct pollfd){.fd = r.ctl[i].fd, .events = POLLIN};
			slots[n++] = (struct pslot){P_CTL_CLIENT, i, 0};
		}
		for (unsigned i = 0; i < r.nconns; i++) {
			struct conn *c = r.conns[i];
			for (int side = 0; side < 2; side++) {
				short ev = 0;
				const struct dir *in = &c->d[side], *outq = &c->d[1 - side];
				if (side == 1 && c->connecting) {
					ev = POLLOUT;
				} else {
					if (in->queued < QUEUE_MAX)
						ev |= POLLIN;
					/* flushed above: a head still due means a full socket */
					if (outq->head != NULL && outq->head->at_ms <= now)
						ev |= POLLOUT;
				}
				fds[n] = (struct pollfd){.fd = c->fd[side], .events = ev};
				slots[n++] = (struct pslot){P_CONN, i, side};
			}
		}
		if (poll(fds, (nfds_t)n, poll_timeout(&r, now)) < 0) {
			if (errno == EINTR)
				continue;
			toll_err("relay: poll failed: %s", strerror(errno));
			goto out;
		}
		now = toll_mono_ms();
		unsigned nctl_before = r.nctl;
		for (int i = 0; i < n; i++) {
			if (fds[i].revents == 0)
				continue;
			switch (slots[i].kind) {
			case P_LISTEN:
				if (!r.down)
					accept_on(&r, slots[i].idx);
				break;
			case P_CTL: {
				int fd;
				while ((fd = accept4(r.ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					if (r.nctl == CTL_MAX) {
						close(fd);
						continue;
					}
					memset(&r.ctl[r.nctl], 0, sizeof(r.ctl[0]));
					r.ctl[r.nctl++].fd = fd;
				}
				break;
			}
			case P_CTL_CLIENT:
				break; /* below: the array may shift */
			case P_CONN:
				if (slots[i].idx < r.nconns)
					conn_event(&r, r.conns[slots[i].idx], slots[i].side, fds[i].revents, now);
				break;
			}
		}
		/* control clients last: a command may cut every connection */
		for (unsigned i = nctl_before; i-- > 0;) {
			int hit = 0;
			for (int k = 0; k < n; k++)
				if (slots[k].kind == P_CTL_CLIENT && slots[k].idx == i && fds[k].revents != 0)
					hit = 1;
			if (hit && ctl_input(&r, &r.ctl[i], now) != 0)
				ctl_drop(&r, i);
		}
		reap(&r);
	}
	rc = 0;
	printf("toll-sim relay: stopping%s\n", *stop ? " on signal" : "");
	stats_text(&r, stdout);
	fflush(stdout);
out:
	for (unsigned i = 0; i < r.nconns; i++) {
		conn_close(r.conns[i]);
		free(r.conns[i]);
	}
	r.nconns = 0;
	for (unsigned ri = 0; ri < cfg->nroutes; ri++)
		if (r.routes[ri].lfd >= 0)
			close(r.routes[ri].lfd);
	for (unsigned i = 0; i < r.nctl; i++)
		close(r.ctl[i].fd);
	if (r.ctl_fd >= 0) {
		close(r.ctl_fd);
		unlink(cfg->ctl_path);
	}
	return rc;
}
