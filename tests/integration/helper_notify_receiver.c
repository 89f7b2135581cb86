/* helper_notify_receiver.c: the far end of central's notification webhook
 * for tests/integration/test_notify.sh (libmicrohttpd, on loopback).
 *
 *   notify_receiver DIR [--port N] [--fail N] [--fail-id ID] [--delay-ms N]
 *
 * Listens on 127.0.0.1 (port N, or one the kernel picks) and writes the
 * port to DIR/port once it listens.  Every request is kept as it came, for
 * the test to check with openssl: DIR/req/SEQ.head (the method, the path,
 * then the X-* headers as "name: value" lines) and DIR/req/SEQ.body, and
 * one line in DIR/log: "SEQ ID ATTEMPT STATUS" (the status answered).
 * Answers 200, except: the first N requests (--fail) and every request for
 * notification ID (--fail-id) get 500; DIR/status, when it exists, holds
 * the status to answer instead.  --delay-ms waits that long before each
 * answer (time for the test to kill central mid-delivery).  SIGTERM stops
 * it. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct upload {
	char *body;
	size_t len, cap;
};

static const char *dir;
static long fail_first, fail_id = -1, delay_ms;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long seq;
static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int
status_override(void)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/status", dir);
	FILE *f = fopen(path, "r");
	int st = 0;
	if (f == NULL)
		return 0;
	if (fscanf(f, "%d", &st) != 1)
		st = 0;
	fclose(f);
	return st;
}

static void
write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL) {
		fprintf(stderr, "notify_receiver: %s: %s\n", path, strerror(errno));
		return;
	}
	if (n > 0 && fwrite(p, 1, n, f) != n)
		fprintf(stderr, "notify_receiver: %s: short write\n", path);
	fclose(f);
}

static const char *
header(struct MHD_Connection *c, const char *name)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
	return v != NULL ? v : "";
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
       const char *data, size_t *data_size, void **con_cls)
{
	(void)cls;
	(void)version;
	struct upload *u = *con_cls;
	if (u == NULL) {
		u = calloc(1, sizeof(*u));
		if (u == NULL)
			return MHD_NO;
		*con_cls = u;
		return MHD_YES;
	}
	if (*data_size > 0) {
		if (u->len + *data_size > u->cap) {
			size_t cap = (u->len + *data_size) * 2;
			char *b = realloc(u->body, cap);
			if (b == NULL)
				return MHD_NO;
			u->body = b;
			u->cap = cap;
		}
		memcpy(u->body + u->len, data, *data_size);
		u->len += *data_size;
		*data_size = 0;
		return MHD_YES;
	}
	/* the whole request is here */
	const char *id = header(c, "X-Notification-Id");
	long idn = strtol(id, NULL, 10);
	pthread_mutex_lock(&mu);
	long n = ++seq;
	int status = n <= fail_first || idn == fail_id ? 500 : 200;
	int o = status_override();
	if (o >= 100 && o <= 599)
		status = o;
	char path[4096], head[4096];
	snprintf(path, sizeof(path), "%s/req/%06ld.body", dir, n);
	write_file(path, u->body, u->len);
	int hl = snprintf(head, sizeof(head),
			  "%s %s\nX-Notification-Id: %s\nX-Notification-Attempt: %s\nX-Timestamp: %s\nX-Signature: %s\n"
			  "Content-Type: %s\n",
			  method, url, id, header(c, "X-Notification-Attempt"), header(c, "X-Timestamp"),
			  header(c, "X-Signature"), header(c, "Content-Type"));
	snprintf(path, sizeof(path), "%s/req/%06ld.head", dir, n);
	write_file(path, head, hl > 0 && (size_t)hl < sizeof(head) ? (size_t)hl : 0);
	snprintf(path, sizeof(path), "%s/log", dir);
	FILE *f = fopen(path, "a");
	if (f != NULL) {
		fprintf(f, "%06ld %s %s %d\n", n, id[0] ? id : "-", header(c, "X-Notification-Attempt"), status);
		fclose(f);
	}
	pthread_mutex_unlock(&mu);
	if (delay_ms > 0) {
		struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	const char *text = status < 300 ? "{\"ok\":true}" : "{\"error\":\"try again\"}";
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return rc;
}

static void
done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct upload *u = *con_cls;
	if (u != NULL) {
		free(u->body);
		free(u);
	}
	*con_cls = NULL;
}

int
main(int argc, char **argv)
{
	unsigned port = 0;
	if (argc < 2) {
		fprintf(stderr, "usage: notify_receiver DIR [--port N] [--fail N] [--fail-id ID] [--delay-ms N]\n");
		return 2;
	}
	dir = argv[1];
	for (int i = 2; i + 1 < argc; i += 2) {
		long v = strtol(argv[i + 1], NULL, 10);
		if (strcmp(argv[i], "--port") == 0)
			port = (unsigned)v;
		else if (strcmp(argv[i], "--fail") == 0)
			fail_first = v;
		else if (strcmp(argv[i], "--fail-id") == 0)
			fail_id = v;
		else if (strcmp(argv[i], "--delay-ms") == 0)
			delay_ms = v;
		else {
			fprintf(stderr, "notify_receiver: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	char path[4096], tmp[4096];
	snprintf(path, sizeof(path), "%s/req", dir);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "notify_receiver: %s: %s\n", path, strerror(errno));
		return 1;
	}
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
							MHD_USE_ERROR_LOG,
						(uint16_t)port, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &sa,
						MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "notify_receiver: could not listen on port %u\n", port);
		return 1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(tmp, sizeof(tmp), "%s/port.tmp", dir);
	snprintf(path, sizeof(path), "%s/port", dir);
	FILE *f = fopen(tmp, "w");
	if (f == NULL || info == NULL) {
		fprintf(stderr, "notify_receiver: cannot write %s\n", tmp);
		return 1;
	}
	fprintf(f, "%u\n", (unsigned)info->port);
	fclose(f);
	rename(tmp, path);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	while (!stop)
		pause();
	MHD_stop_daemon(d);
	return 0;
}
