/* sim_server.c: Modbus TCP and RTU servers for the simulated lanes. */
#include <errno.h>
#include <fcntl.h>
#include <modbus.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "buf.h"
#include "crc.h"
#include "fwi_map.h"
#include "log.h"
#include "sim_server.h"

#define TCP_HEADER 7	 /* MBAP header including the unit id */
#define TCP_ADU_MAX 260	 /* MODBUS_TCP_MAX_ADU_LENGTH */
#define RTU_ADU_MAX 256
#define RTU_STALE_MS 50	 /* a partial frame older than this is noise */
#define RTU_SILENCE_MS 5 /* frame end for function codes we cannot size */

struct client {
	int fd;
	unsigned lane;
	uint8_t rx[TCP_ADU_MAX];
	size_t len;
};

struct rtu_port {
	int master, slave;
	char path[64];
	char link[512];
	uint8_t rx[RTU_ADU_MAX];
	size_t len;
	int64_t last_rx_ms;
};

struct lane_srv {
	int listen_fd;
	modbus_t *tcp_ctx, *rtu_ctx;
	modbus_mapping_t *map_reader, *map_io, *map_display;
	struct rtu_port rtu;
};

struct sim_server {
	struct sim_world *w;
	unsigned lanes;
	struct lane_srv lane[SIM_MAX_LANES];
	struct client clients[SIM_SERVER_MAX_CLIENTS];
	unsigned nclients;
	struct sim_server_stats stats;
};

static int
listen_tcp(const char *host, int port)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		toll_err("bad listen address %s: want an IPv4 address", host);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		toll_err("could not create socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0) {
		toll_err("could not listen on %s:%d: %s", host, port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int
open_pty(struct rtu_port *p, const char *dir, unsigned lane)
{
	struct termios tio;

	p->master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (p->master < 0 || grantpt(p->master) != 0 || unlockpt(p->master) != 0 ||
	    ptsname_r(p->master, p->path, sizeof(p->path)) != 0) {
		toll_err("could not create a pseudo-terminal: %s", strerror(errno));
		return -1;
	}
	/* Hold the slave open so the master never sees a hang-up between
	 * clients, and make it raw so no line discipline touches frames. */
	p->slave = open(p->path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->slave < 0 || tcgetattr(p->slave, &tio) != 0) {
		toll_err("could not open %s: %s", p->path, strerror(errno));
		return -1;
	}
	cfmakeraw(&tio);
	cfsetispeed(&tio, B115200);
	cfsetospeed(&tio, B115200);
	tcsetattr(p->slave, TCSANOW, &tio);
	snprintf(p->link, sizeof(p->link), "%s/lane%u", dir, lane);
	unlink(p->link);
	if (symlink(p->path, p->link) != 0) {
		toll_err("could not link %s to %s: %s", p->link, p->path, strerror(errno));
		p->link[0] = 0;
		return -1;
	}
	return 0;
}

struct sim_server *
sim_server_new(struct sim_world *w, const char *host, int base_port, const char *rtu_dir)
{
	struct sim_server *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->w = w;
	s->lanes = sim_world_lanes(w);
	for (unsigned i = 0; i < SIM_MAX_LANES; i++) {
		s->lane[i].listen_fd = -1;
		s->lane[i].rtu.master = s->lane[i].rtu.slave = -1;
	}
	/* The ptys first: tests and controllers take the TCP port answering as
	 * the sign that everything is up. */
	for (unsigned i = 0; rtu_dir != NULL && i < s->lanes; i++) {
		struct lane_srv *l = &s->lane[i];
		l->rtu_ctx = modbus_new_rtu("/dev/null", 115200, 'N', 8, 1);
		if (l->rtu_ctx == NULL || open_pty(&l->rtu, rtu_dir, i) != 0)
			goto fail;
	}
	for (unsigned i = 0; i < s->lanes; i++) {
		struct lane_srv *l = &s->lane[i];
		l->listen_fd = listen_tcp(host, base_port + (int)i);
		l->tcp_ctx = modbus_new_tcp(host, base_port + (int)i);
		l->map_reader = modbus_mapping_new(0, 0, FWI_READER_HR_COUNT, 0);
		l->map_io = modbus_mapping_new(FWI_IO_COIL_COUNT, FWI_IO_INPUT_COUNT,
					       FWI_IO_HR_COUNT, FWI_IO_IR_COUNT);
		l->map_display = modbus_mapping_new(0, 0, FWI_DISPLAY_HR_COUNT, 0);
		if (l->listen_fd < 0 || l->tcp_ctx == NULL || l->map_reader == NULL ||
		    l->map_io == NULL || l->map_display == NULL)
			goto fail;
	}
	return s;
fail:
	sim_server_free(s);
	return NULL;
}

void
sim_server_free(struct sim_server *s)
{
	if (s == NULL)
		return;
	for (unsigned i = 0; i < s->nclients; i++)
		close(s->clients[i].fd);
	for (unsigned i = 0; i < SIM_MAX_LANES; i++) {
		struct lane_srv *l = &s->lane[i];
		if (l->listen_fd >= 0)
			close(l->listen_fd);
		if (l->rtu.master >= 0)
			close(l->rtu.master);
		if (l->rtu.slave >= 0)
			close(l->rtu.slave);
		if (l->rtu.link[0])
			unlink(l->rtu.link);
		if (l->tcp_ctx)
			modbus_free(l->tcp_ctx);
		if (l->rtu_ctx)
			modbus_free(l->rtu_ctx);
		if (l->map_reader)
			modbus_mapping_free(l->map_reader);
		if (l->map_io)
			modbus_mapping_free(l->map_io);
		if (l->map_display)
			modbus_mapping_free(l->map_display);
	}
	free(s);
}

const struct sim_server_stats *
sim_server_stats(const struct sim_server *s)
{
	return &s->stats;
}

const char *
sim_server_rtu_path(const struct sim_server *s, unsigned lane)
{
	if (lane >= s->lanes || s->lane[lane].rtu.master < 0)
		return NULL;
	return s->lane[lane].rtu.link;
}

/* The parsed PDU of a request. */
struct request {
	uint8_t unit, fc;
	uint16_t addr, nb, value;
	const uint8_t *data; /* FC15/FC16 payload */
	uint8_t bytes;
};

/* Parse the PDU; returns 0, or the exception code to answer. */
static int
parse_pdu(const uint8_t *pdu, size_t len, struct request *rq)
{
	struct toll_rd rd;

	toll_rd_init(&rd, pdu, len);
	if (toll_rd_u8(&rd, &rq->fc) != 0)
		return FWI_EXCEPTION_ILLEGAL_VALUE;
	switch (rq->fc) {
	case FWI_FC_READ_COILS:
	case FWI_FC_READ_DISCRETE_INPUTS:
	case FWI_FC_READ_HOLDING_REGISTERS:
	case FWI_FC_READ_INPUT_REGISTERS:
		if (toll_rd_u16(&rd, &rq->addr) || toll_rd_u16(&rd, &rq->nb))
			return FWI_EXCEPTION_ILLEGAL_VALUE;
		if (rq->fc <= FWI_FC_READ_DISCRETE_INPUTS ? (rq->nb < 1 || rq->nb > 2000)
							  : (rq->nb < 1 || rq->nb > 125))
			return FWI_EXCEPTION_ILLEGAL_VALUE;
		return 0;
	case FWI_FC_WRITE_SINGLE_COIL:
		if (toll_rd_u16(&rd, &rq->addr) || toll_rd_u16(&rd, &rq->value))
			return FWI_EXCEPTION_ILLEGAL_VALUE;
		if (rq->value != 0xFF00 && rq->value != 0x0000)
			return FWI_EXCEPTION_ILLEGAL_VALUE;
		rq->nb = 1;
		return 0;
	case FWI_FC_WRITE_SINGLE_REGISTER:
		if (toll_rd_u16(&rd, &rq->addr) || toll_rd_u16(&rd, &rq->value))
			return FWI_EXCEPTION_ILLEGAL_VALUE;
		rq->nb = 1;
		return 0;
	case FWI_FC_WRITE_MULTIPLE_COILS:
	case FWI_FC_WRITE_MULTIPLE_REGISTERS:
		if (toll_rd_u16(&rd, &rq->addr) || toll_rd_u16(&rd, &rq->nb) ||
		    toll_rd_u8(&rd, &rq->bytes))
			return FWI_EXCEPTION_ILLEGAL_VALUE;
		if (rq->fc == FWI_FC_WRITE_MULTIPLE_COILS
			    ? (rq->nb < 1 || rq->nb > 1968 || rq->bytes != (rq->nb + 7) / 8)
			    : (rq->nb < 1 || rq->nb > 123 || rq->bytes != rq->nb * 2))
			return FWI_EXCEPTION_ILLEGAL_VALUE;
		if (toll_rd_left(&rd) < rq->bytes)
			return FWI_EXCEPTION_ILLEGAL_VALUE;
		rq->data = pdu + rd.off;
		return 0;
	default:
		return FWI_EXCEPTION_ILLEGAL_FUNCTION;
	}
}

static void
refresh_images(struct sim_server *s, unsigned lane, int64_t now_ms, int64_t real_ms)
{
	struct lane_srv *l = &s->lane[lane];

	sim_reader_regs(sim_world_reader(s->w, lane), now_ms, real_ms, l->map_reader->tab_registers);
	sim_io_inputs(sim_world_io(s->w, lane), now_ms, l->map_io->tab_input_bits);
	sim_io_coils(sim_world_io(s->w, lane), l->map_io->tab_bits);
	sim_io_input_regs(sim_world_io(s->w, lane), l->map_io->tab_input_registers);
	sim_io_holding_regs(sim_world_io(s->w, lane), l->map_io->tab_registers);
	memcpy(l->map_display->tab_registers, sim_world_display(s->w, lane)->regs,
	       FWI_DISPLAY_HR_COUNT * sizeof(uint16_t));
}

static void
register_values(const struct request *rq, uint16_t *vals)
{
	if (rq->fc == FWI_FC_WRITE_SINGLE_REGISTER) {
		vals[0] = rq->value;
		return;
	}
	toll_bytes_to_words(rq->data, rq->nb, vals);
}

/* Check a request against the unit's map and apply its side effects to the
 * model.  Returns 0 to let modbus_reply answer, or an exception code. */
static int
apply_request(struct sim_server *s, unsigned lane, const struct request *rq,
	      int64_t now_ms, int64_t real_ms)
{
	uint16_t vals[125];
	int is_write = rq->fc == FWI_FC_WRITE_SINGLE_REGISTER ||
		       rq->fc == FWI_FC_WRITE_MULTIPLE_REGISTERS;
	uint32_t end = (uint32_t)rq->addr + rq->nb;
	int exc;

	switch (rq->unit) {
	case FWI_UNIT_READER: {
		struct sim_reader *r = sim_world_reader(s->w, lane);
		if (!is_write)
			return end <= FWI_READER_HR_COUNT ? 0 : FWI_EXCEPTION_ILLEGAL_ADDRESS;
		exc = fwi_check_write(fwi_reader_fields, fwi_reader_field_count,
				      FWI_READER_HR_COUNT, rq->fc, rq->addr, rq->nb);
		if (exc != 0)
			return exc;
		register_values(rq, vals);
		uint32_t acked = sim_reader_acked_seq(r);
		exc = sim_reader_write(r, now_ms, real_ms, rq->addr, rq->nb, vals);
		if (exc == 0)
			sim_world_note_ack(s->w, lane, acked);
		return exc;
	}
	case FWI_UNIT_IO: {
		struct sim_io *io = sim_world_io(s->w, lane);
		switch (rq->fc) {
		case FWI_FC_READ_COILS:
			return end <= FWI_IO_COIL_COUNT ? 0 : FWI_EXCEPTION_ILLEGAL_ADDRESS;
		case FWI_FC_READ_DISCRETE_INPUTS:
			return end <= FWI_IO_INPUT_COUNT ? 0 : FWI_EXCEPTION_ILLEGAL_ADDRESS;
		case FWI_FC_READ_INPUT_REGISTERS:
			return end <= FWI_IO_IR_COUNT ? 0 : FWI_EXCEPTION_ILLEGAL_ADDRESS;
		case FWI_FC_READ_HOLDING_REGISTERS:
			return end <= FWI_IO_HR_COUNT ? 0 : FWI_EXCEPTION_ILLEGAL_ADDRESS;
		case FWI_FC_WRITE_SINGLE_COIL:
		case FWI_FC_WRITE_MULTIPLE_COILS: {
			uint8_t bits[FWI_IO_COIL_COUNT];
			if (end > FWI_IO_COIL_COUNT ||
			    (rq->addr <= FWI_CO_RESERVED1 && end > FWI_CO_RESERVED1))
				return FWI_EXCEPTION_ILLEGAL_ADDRESS;
			for (uint16_t i = 0; i < rq->nb; i++)
				bits[i] = rq->fc == FWI_FC_WRITE_SINGLE_COIL
						  ? rq->value == 0xFF00
						  : (rq->data[i / 8] >> (i % 8)) & 1;
			sim_io_write_coils(io, now_ms, rq->addr, rq->nb, bits);
			sim_world_note_coils(s->w, lane, NULL);
			return 0;
		}
		default:
			exc = fwi_check_write(fwi_io_holding_fields, fwi_io_holding_field_count,
					      FWI_IO_HR_COUNT, rq->fc, rq->addr, rq->nb);
			if (exc != 0)
				return exc;
			register_values(rq, vals);
			sim_io_write_regs(io, now_ms, rq->addr, rq->nb, vals);
			return 0;
		}
	}
	case FWI_UNIT_DISPLAY: {
		if (!is_write)
			return end <= FWI_DISPLAY_HR_COUNT ? 0 : FWI_EXCEPTION_ILLEGAL_ADDRESS;
		exc = fwi_check_write(fwi_display_fields, fwi_display_field_count,
				      FWI_DISPLAY_HR_COUNT, rq->fc, rq->addr, rq->nb);
		if (exc != 0)
			return exc;
		register_values(rq, vals);
		if (sim_display_write(sim_world_display(s->w, lane), rq->addr, rq->nb, vals))
			sim_world_note_display(s->w, lane);
		return 0;
	}
	}
	return FWI_EXCEPTION_ILLEGAL_FUNCTION;
}

/* Serve one complete request frame (TCP ADU or RTU frame with CRC).
 * Returns -1 when the reply could not be sent. */
static int
serve(struct sim_server *s, unsigned lane, modbus_t *ctx, int hdr,
      const uint8_t *req, int req_len, int pdu_len, int64_t now_ms, int64_t real_ms)
{
	struct lane_srv *l = &s->lane[lane];
	struct request rq;
	unsigned fcs, unit_flag;
	modbus_mapping_t *map;
	int exc, rc;

	memset(&rq, 0, sizeof(rq));
	rq.unit = req[hdr - 1];
	s->stats.requests++;
	switch (rq.unit) {
	case FWI_UNIT_READER:
		fcs = FWI_READER_FCS, unit_flag = SIM_UNIT_READER, map = l->map_reader;
		break;
	case FWI_UNIT_IO:
		fcs = FWI_IO_FCS, unit_flag = SIM_UNIT_IO, map = l->map_io;
		break;
	case FWI_UNIT_DISPLAY:
		fcs = FWI_DISPLAY_FCS, unit_flag = SIM_UNIT_DISPLAY, map = l->map_display;
		break;
	default:
		s->stats.ignored_unit++;
		return 0; /* not ours: no answer */
	}
	if (!sim_world_unit_answers(s->w, lane, unit_flag, now_ms)) {
		s->stats.silent_unit++;
		return 0;
	}
	exc = parse_pdu(req + hdr, (size_t)pdu_len, &rq);
	if (exc == 0 && (rq.fc >= 32 || !(fcs & FWI_FC_BIT(rq.fc))))
		exc = FWI_EXCEPTION_ILLEGAL_FUNCTION;
	if (exc == 0)
		exc = apply_request(s, lane, &rq, now_ms, real_ms);
	if (exc != 0) {
		s->stats.exceptions++;
		rc = modbus_reply_exception(ctx, req, (unsigned)exc);
	} else {
		refresh_images(s, lane, now_ms, real_ms);
		rc = modbus_reply(ctx, req, req_len, map);
		s->stats.replies++;
	}
	return rc < 0 ? -1 : 0;
}

static void
client_close(struct sim_server *s, unsigned idx)
{
	close(s->clients[idx].fd);
	s->clients[idx] = s->clients[--s->nclients];
}

static void
accept_clients(struct sim_server *s, unsigned lane)
{
	for (;;) {
		int fd = accept4(s->lane[lane].listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int one = 1;
		if (fd < 0)
			return;
		if (s->nclients == SIM_SERVER_MAX_CLIENTS) {
			toll_warn("lane %u: refusing a Modbus client: %d connected already",
				  lane, SIM_SERVER_MAX_CLIENTS);
			s->stats.clients_refused++;
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		s->clients[s->nclients].fd = fd;
		s->clients[s->nclients].lane = lane;
		s->clients[s->nclients].len = 0;
		s->nclients++;
		s->stats.clients_accepted++;
	}
}

/* Read what a TCP client sent and serve every complete ADU.  Returns -1 when
 * the client must be closed. */
static int
client_read(struct sim_server *s, struct client *c, int64_t now_ms, int64_t real_ms)
{
	ssize_t got = read(c->fd, c->rx + c->len, sizeof(c->rx) - c->len);

	if (got == 0)
		return -1;
	if (got < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	c->len += (size_t)got;
	while (c->len >= TCP_HEADER) {
		struct toll_rd rd;
		uint16_t tid, pid, len;
		toll_rd_init(&rd, c->rx, c->len);
		toll_rd_u16(&rd, &tid);
		toll_rd_u16(&rd, &pid);
		toll_rd_u16(&rd, &len);
		if (pid != 0 || len < 2 || len > TCP_ADU_MAX - 6) {
			s->stats.bad_frames++;
			return -1; /* not Modbus TCP: drop the connection */
		}
		size_t frame = 6 + (size_t)len;
		if (c->len < frame)
			break;
		modbus_set_socket(s->lane[c->lane].tcp_ctx, c->fd);
		if (serve(s, c->lane, s->lane[c->lane].tcp_ctx, TCP_HEADER, c->rx, (int)frame,
			  (int)frame - TCP_HEADER, now_ms, real_ms) != 0)
			return -1;
		memmove(c->rx, c->rx + frame, c->len - frame);
		c->len -= frame;
	}
	return 0;
}

/* Length of an RTU request frame from its first bytes: >0 the length, 0 not
 * known yet, -1 a function code we cannot size (frame ends at silence). */
static int
rtu_frame_len(const uint8_t *b, size_t len)
{
	if (len < 2)
		return 0;
	switch (b[1]) {
	case 1: case 2: case 3: case 4: case 5: case 6: case 8:
		return 8;
	case 15: case 16:
		return len < 7 ? 0 : 9 + b[6];
	case 23:
		return len < 11 ? 0 : 13 + b[10];
	case 22:
		return 10;
	case 7: case 11: case 12: case 17:
		return 4;
	default:
		return -1;
	}
}

static void
rtu_serve_frame(struct sim_server *s, unsigned lane, const uint8_t *f, size_t n,
		int64_t now_ms, int64_t real_ms)
{
	struct lane_srv *l = &s->lane[lane];
	uint16_t crc;

	if (n < 4) {
		s->stats.bad_frames++;
		return;
	}
	crc = toll_crc16_modbus(f, n - 2);
	if (f[n - 2] != (crc & 0xFF) || f[n - 1] != (crc >> 8)) {
		s->stats.bad_frames++;
		return; /* a corrupted frame on a bus gets no answer */
	}
	modbus_set_socket(l->rtu_ctx, l->rtu.master);
	serve(s, lane, l->rtu_ctx, 1, f, (int)n, (int)n - 3, now_ms, real_ms);
}

static void
rtu_read(struct sim_server *s, unsigned lane, int64_t now_ms, int64_t real_ms)
{
	struct rtu_port *p = &s->lane[lane].rtu;

	for (;;) {
		ssize_t got = read(p->master, p->rx + p->len, sizeof(p->rx) - p->len);
		if (got <= 0)
			break;
		p->len += (size_t)got;
		p->last_rx_ms = now_ms;
		while (p->len > 0) {
			int need = rtu_frame_len(p->rx, p->len);
			if (need <= 0 || (size_t)need > p->len) {
				if (need > RTU_ADU_MAX) {
					s->stats.bad_frames++;
					p->len = 0;
				}
				break;
			}
			rtu_serve_frame(s, lane, p->rx, (size_t)need, now_ms, real_ms);
			memmove(p->rx, p->rx + need, p->len - (size_t)need);
			p->len -= (size_t)need;
		}
		if (p->len == sizeof(p->rx)) {
			s->stats.bad_frames++;
			p->len = 0;
		}
	}
}

void
sim_server_tick(struct sim_server *s, int64_t now_ms, int64_t real_ms)
{
	for (unsigned i = 0; i < s->lanes; i++) {
		struct rtu_port *p = &s->lane[i].rtu;
		if (p->master < 0 || p->len == 0)
			continue;
		int need = rtu_frame_len(p->rx, p->len);
		if (need < 0 && now_ms - p->last_rx_ms >= RTU_SILENCE_MS) {
			/* A function code we cannot size: the frame ended
			 * at the silence; answer it (exception 01) if sound. */
			rtu_serve_frame(s, i, p->rx, p->len, now_ms, real_ms);
			p->len = 0;
		} else if (now_ms - p->last_rx_ms >= RTU_STALE_MS) {
			s->stats.bad_frames++;
			p->len = 0;
		}
	}
}

int
sim_server_pollfds(struct sim_server *s, struct pollfd *fds, int max)
{
	int n = 0;

	for (unsigned i = 0; i < s->lanes && n < max; i++) {
		fds[n].fd = s->lane[i].listen_fd;
		fds[n].events = POLLIN;
		fds[n++].revents = 0;
		if (s->lane[i].rtu.master >= 0 && n < max) {
			fds[n].fd = s->lane[i].rtu.master;
			fds[n].events = POLLIN;
			fds[n++].revents = 0;
		}
	}
	for (unsigned i = 0; i < s->nclients && n < max; i++) {
		fds[n].fd = s->clients[i].fd;
		fds[n].events = POLLIN;
		fds[n++].revents = 0;
	}
	return n;
}

void
sim_server_dispatch(struct sim_server *s, const struct pollfd *fds, int n,
		    int64_t now_ms, int64_t real_ms)
{
	int k = 0;

	for (unsigned i = 0; i < s->lanes && k < n; i++) {
		if (fds[k++].revents & POLLIN)
			accept_clients(s, i);
		if (s->lane[i].rtu.master >= 0 && k < n) {
			if (fds[k++].revents & POLLIN)
				rtu_read(s, i, now_ms, real_ms);
		}
	}
	/* Clients: the pollfd order matches the client array as it was when
	 * the fds were taken; accept only appends, close swaps from the end,
	 * so walk backwards by fd. */
	for (; k < n; k++) {
		if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		for (unsigned c = 0; c < s->nclients; c++) {
			if (s->clients[c].fd != fds[k].fd)
				continue;
			if (client_read(s, &s->clients[c], now_ms, real_ms) != 0)
				client_close(s, c);
			break;
		}
	}
}
