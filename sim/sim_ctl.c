/* sim_ctl.c: control socket server and client. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "sim_ctl.h"

#define CTL_LINE_MAX SIM_LINE_MAX

struct ctl_client {
	int fd;
	char buf[CTL_LINE_MAX];
	size_t len;
	int waiting;	     /* wait-idle pending */
	int64_t deadline_ms;
};

struct sim_ctl {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sim_world *w;
	struct sim_server *srv;
	struct ctl_client clients[SIM_CTL_MAX_CLIENTS];
	unsigned n;
	int quit;
};

static int
make_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -1;
	strcpy(sa->sun_path, path);
	return 0;
}

struct sim_ctl *
sim_ctl_new(const char *path, struct sim_world *w, struct sim_server *srv)
{
	struct sim_ctl *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa;

	if (c == NULL)
		return NULL;
	c->w = w;
	c->srv = srv;
	if (make_addr(path, &sa) != 0) {
		toll_err("control socket path too long: %s", path);
		free(c);
		return NULL;
	}
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		toll_err("could not create the control socket: %s", strerror(errno));
		free(c);
		return NULL;
	}
	/* A socket file left by a killed simulator: remove it only if nobody
	 * answers on it. */
	if (access(path, F_OK) == 0) {
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			toll_err("control socket %s is in use by another simulator", path);
			close(probe);
			close(c->fd);
			free(c);
			return NULL;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(c->fd, 16) != 0) {
		toll_err("could not listen on control socket %s: %s", path, strerror(errno));
		close(c->fd);
		free(c);
		return NULL;
	}
	strcpy(c->path, path);
	return c;
}

void
sim_ctl_free(struct sim_ctl *c)
{
	if (c == NULL)
		return;
	for (unsigned i = 0; i < c->n; i++)
		close(c->clients[i].fd);
	close(c->fd);
	unlink(c->path);
	free(c);
}

int
sim_ctl_quit_requested(const struct sim_ctl *c)
{
	return c->quit;
}

static void
reply(struct ctl_client *cl, const char *text, size_t len)
{
	/* Answers are small and the socket buffer is large; a client that
	 * does not read loses its answer rather than stalling the lanes. */
	while (len > 0) {
		ssize_t n = send(cl->fd, text, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n <= 0)
			return;
		text += n;
		len -= (size_t)n;
	}
}

static void
reply_line(struct ctl_client *cl, const char *line)
{
	reply(cl, line, strlen(line));
}

static void
run_command(struct sim_ctl *c, struct ctl_client *cl, const char *line,
	    int64_t now_ms, int64_t real_ms)
{
	struct sim_cmd cmd;
	char err[256];
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	int rc;

	if (sim_cmd_parse(line, 0, sim_world_lanes(c->w), &cmd, err, sizeof(err)) != 0) {
		char msg[300];
		snprintf(msg, sizeof(msg), "error: %s\n", err);
		reply_line(cl, msg);
		return;
	}
	switch (cmd.kind) {
	case SIM_CMD_STATUS:
		out = open_memstream(&text, &len);
		if (out == NULL) {
			reply_line(cl, "error: out of memory\n");
			return;
		}
		sim_world_status(c->w, cmd.lane, now_ms, real_ms, out);
		fputs("ok\n", out);
		fclose(out);
		reply(cl, text, len);
		free(text);
		return;
	case SIM_CMD_STATS: {
		const struct sim_server_stats *ss = sim_server_stats(c->srv);
		out = open_memstream(&text, &len);
		if (out == NULL) {
			reply_line(cl, "error: out of memory\n");
			return;
		}
		sim_world_print_stats(c->w, out);
		fprintf(out, "modbus_requests=%llu replies=%llu exceptions=%llu unanswered=%llu bad_frames=%llu\n",
			(unsigned long long)ss->requests, (unsigned long long)ss->replies,
			(unsigned long long)ss->exceptions,
			(unsigned long long)(ss->ignored_unit + ss->silent_unit),
			(unsigned long long)ss->bad_frames);
		fputs("ok\n", out);
		fclose(out);
		reply(cl, text, len);
		free(text);
		return;
	}
	case SIM_CMD_WAIT_IDLE:
		cl->waiting = 1;
		cl->deadline_ms = now_ms + cmd.ms;
		return;
	case SIM_CMD_QUIT:
		c->quit = 1;
		reply_line(cl, "ok\n");
		return;
	default:
		rc = sim_world_apply(c->w, &cmd, now_ms, real_ms);
		if (rc != 0) {
			char msg[128];
			snprintf(msg, sizeof(msg), "error: %s\n",
				 rc == -13 ? "too many vehicles on the road" : "command refused");
			reply_line(cl, msg);
		} else {
			reply_line(cl, "ok\n");
		}
		return;
	}
}

static void
client_drop(struct sim_ctl *c, unsigned i)
{
	close(c->clients[i].fd);
	c->clients[i] = c->clients[--c->n];
}

int
sim_ctl_pollfds(struct sim_ctl *c, struct pollfd *fds, int max)
{
	int n = 0;
	if (max < 1)
		return 0;
	fds[n].fd = c->fd;
	fds[n].events = POLLIN;
	fds[n++].revents = 0;
	for (unsigned i = 0; i < c->n && n < max; i++) {
		fds[n].fd = c->clients[i].fd;
		fds[n].events = POLLIN;
		fds[n++].revents = 0;
	}
	return n;
}

/* Returns -1 when the client is to be closed. */
static int
client_input(struct sim_ctl *c, struct ctl_client *cl, int64_t now_ms, int64_t real_ms)
{
	ssize_t got = read(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - 1 - cl->len);
	char *nl;

	if (got == 0)
		return -1;
	if (got < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	cl->len += (size_t)got;
	cl->buf[cl->len] = 0;
	while (!cl->waiting && (nl = memchr(cl->buf, '\n', cl->len)) != NULL) {
		*nl = 0;
		run_command(c, cl, cl->buf, now_ms, real_ms);
		size_t used = (size_t)(nl - cl->buf) + 1;
		memmove(cl->buf, cl->buf + used, cl->len - used);
		cl->len -= used;
		cl->buf[cl->len] = 0;
	}
	if (cl->len == sizeof(cl->buf) - 1) {
		reply_line(cl, "error: line too long\n");
		return -1;
	}
	return 0;
}

void
sim_ctl_dispatch(struct sim_ctl *c, const struct pollfd *fds, int n,
		 int64_t now_ms, int64_t real_ms)
{
	if (n < 1)
		return;
	if (fds[0].revents & POLLIN) {
		int fd;
		while ((fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
			if (c->n == SIM_CTL_MAX_CLIENTS) {
				close(fd);
				continue;
			}
			memset(&c->clients[c->n], 0, sizeof(c->clients[c->n]));
			c->clients[c->n++].fd = fd;
		}
	}
	for (int k = 1; k < n; k++) {
		if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		for (unsigned i = 0; i < c->n; i++) {
			if (c->clients[i].fd != fds[k].fd)
				continue;
			if (client_input(c, &c->clients[i], now_ms, real_ms) != 0)
				client_drop(c, i);
			break;
		}
	}
}

void
sim_ctl_tick(struct sim_ctl *c, int64_t now_ms, int scenario_done)
{
	for (unsigned i = 0; i < c->n; i++) {
		struct ctl_client *cl = &c->clients[i];
		if (!cl->waiting)
			continue;
		if (scenario_done && sim_world_vehicles_active(c->w) == 0) {
			reply_line(cl, "ok\n");
			cl->waiting = 0;
		} else if (now_ms >= cl->deadline_ms) {
			char msg[128];
			snprintf(msg, sizeof(msg), "error: not idle: %u vehicles on the road%s\n",
				 sim_world_vehicles_active(c->w),
				 scenario_done ? "" : ", scenario still running");
			reply_line(cl, msg);
			cl->waiting = 0;
		}
	}
}

int
sim_ctl_request(const char *path, const char *line, int timeout_ms, FILE *out)
{
	struct sockaddr_un sa;
	char buf[4096], last[CTL_LINE_MAX];
	size_t lastlen = 0;
	int fd, result = 2;
	int64_t deadline = toll_mono_ms() + timeout_ms;

	if (make_addr(path, &sa) != 0)
		return 2;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 2;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return 2;
	}
	if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0 || send(fd, "\n", 1, MSG_NOSIGNAL) < 0) {
		close(fd);
		return 2;
	}
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - toll_mono_ms();
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		fwrite(buf, 1, (size_t)n, out);
		/* Keep the current last line to see how the answer ends. */
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				last[lastlen] = 0;
				if (strcmp(last, "ok") == 0)
					result = 0;
				else if (strncmp(last, "error:", 6) == 0)
					result = 1;
				lastlen = 0;
			} else if (lastlen < sizeof(last) - 1) {
				last[lastlen++] = buf[i];
			}
		}
		if (result != 2)
			break;
	}
	close(fd);
	return result;
}
