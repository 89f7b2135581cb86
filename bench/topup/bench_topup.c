/* bench_topup.c: the driver of bench/topup (see run there).
 *
 *   bench_topup setup [OPTIONS]   print the SQL that makes the customer
 *       accounts and the partners (each its own account and a 32-byte
 *       secret derived from the seed: the same secrets every time)
 *   bench_topup serve --port N --threads N
 *       the baseline server: libmicrohttpd on 127.0.0.1:PORT with the
 *       flags and threading of central/api.c (a pool of THREADS, one libpq
 *       connection each, synchronous_commit on, SET ROLE toll_app); POST
 *       /v1/topups parses the JSON body (jansson, as the API) and does only
 *       the money part of a top-up: toll_api_move() in one autocommit
 *       transaction (no signature checked, no api_seen, no idempotency
 *       storage, no partner_ref check), answers 201 with a JSON body.
 *       Runs until SIGTERM.
 *   bench_topup load [OPTIONS]    CLIENTS keep-alive connections to each
 *       server send signed POST /v1/topups (a unique Idempotency-Key and
 *       partner_ref each, a random account, 50,000-500,000 VND): WARMUP to
 *       each, then REQUESTS to each in ROUNDS, baseline and API
 *       alternately; every answer must be 201.  Then the ledger check;
 *       prints top-ups/s, latency and where the CPU went, for both, and
 *       the ratio next to the targets.
 *
 * Options: --accounts N (10000) --partners N (4: load uses partners 1..N;
 * setup makes N) --seed N; load also: --port N (toll-central's API)
 * --server-pid PID (toll-central: its CPU) --base-port N --base-pid PID
 * (the baseline server) --pg-pid PID (the postmaster: PostgreSQL's CPU)
 * --phase NAME (the partner_refs' prefix, unique per load: NAME "b-" and
 * NAME "a-") --label TEXT --clients N (32) --requests N (40000)
 * --warmup N (4000) --rounds N (4).  The database is the PG* environment's.
 *
 * Layout: customers 1001.. (balance 0, status 1), partner i (1..N) is
 * "bench-pI" with account 2 * 10^12 + i; request i goes to partner
 * 1 + (i % N), so every partner gets the same share.
 *
 * Nothing here is pass/fail on timing; a non-201 answer or a ledger that
 * is not exactly what was answered prints FAIL and exits 1. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#define PARTNER_ACCOUNT_BASE INT64_C(2000000000000)
#define FIRST_CUSTOMER 1001
#define MAX_PARTNERS 64
#define MAX_CLIENTS 1024
#define AMOUNT_MIN 50000
#define AMOUNT_MAX 500000
#define RESP_MAX 16384 /* headers + body of an answer, at most */
#define BODY_MAX 8192

static struct opts {
	unsigned accounts, partners, clients, requests, warmup, rounds, threads, port, base_port;
	uint64_t seed;
	const char *phase, *label;
	long server_pid, base_pid, pg_pid;
} o = {10000, 4, 32, 40000, 4000, 4, 16, 0, 0, 20261122, "p", "", 0, 0, 0};

static void
die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("bench/topup: FAIL: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	exit(1);
}

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 12,345,678 */
static const char *
num(char *buf, size_t len, double v)
{
	char d[32];
	snprintf(d, sizeof(d), "%.0f", v);
	size_t n = strlen(d), k = 0;
	for (size_t i = 0; i < n && k + 2 < len; i++) {
		buf[k++] = d[i];
		if (d[i] != '-' && (n - i - 1) % 3 == 0 && i + 1 < n)
			buf[k++] = ',';
	}
	buf[k] = 0;
	return buf;
}

static void
hex(const uint8_t *b, size_t n, char *out)
{
	static const char h[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = h[b[i] >> 4];
		out[2 * i + 1] = h[b[i] & 15];
	}
	out[2 * n] = 0;
}

static void
partner_secret(unsigned i, uint8_t secret[32])
{
	char text[96];
	snprintf(text, sizeof(text), "toll bench/topup %" PRIu64 " partner %u", o.seed, i);
	SHA256((const unsigned char *)text, strlen(text), secret);
}

/* splitmix64 */
static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* ---- setup ------------------------------------------------------------ */

static void
setup_sql(void)
{
	printf("BEGIN;\n");
	printf("INSERT INTO accounts (id, kind, balance_vnd, status) SELECT x, 'customer', 0, 1"
	       " FROM generate_series(%d, %u) x;\n",
	       FIRST_CUSTOMER, FIRST_CUSTOMER + o.accounts - 1);
	for (unsigned i = 1; i <= o.partners; i++) {
		uint8_t s[32];
		char h[65];
		partner_secret(i, s);
		hex(s, 32, h);
		printf("INSERT INTO accounts (id, kind, name) VALUES (%" PRId64 ", 'partner', 'bench partner %u');\n",
		       PARTNER_ACCOUNT_BASE + i, i);
		printf("INSERT INTO partners (id, name, secret, account_id) VALUES ('bench-p%u', 'Bench partner %u',"
		       " '\\x%s', %" PRId64 ");\n",
		       i, i, h, PARTNER_ACCOUNT_BASE + i);
	}
	printf("COMMIT;\n");
}

/* ---- the baseline server ------------------------------------------------ */

static struct {
	char id[33];
	char account[24];
} srv_partners[MAX_PARTNERS];
static unsigned srv_npartners;
static atomic_ulong srv_errors;

static __thread PGconn *tpg;

struct sreq {
	char body[BODY_MAX];
	size_t len;
	int too_large;
};

static enum MHD_Result
answer(struct MHD_Connection *conn, unsigned status, const char *body)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	enum MHD_Result rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static PGconn *
thread_pg(void)
{
	if (tpg != NULL && PQstatus(tpg) != CONNECTION_OK) {
		PQfinish(tpg);
		tpg = NULL;
	}
	if (tpg == NULL) {
		PGconn *c = PQconnectdb("application_name=bench-baseline");
		if (PQstatus(c) != CONNECTION_OK) {
			fprintf(stderr, "bench_topup serve: cannot connect: %s", PQerrorMessage(c));
			PQfinish(c);
			return NULL;
		}
		/* as central's API: durable commits, the application role */
		PGresult *r = PQexec(c, "SET synchronous_commit = on; SET client_min_messages = warning; SET ROLE toll_app");
		int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		if (!ok) {
			fprintf(stderr, "bench_topup serve: cannot set the session up: %s", PQerrorMessage(c));
			PQfinish(c);
			return NULL;
		}
		tpg = c;
	}
	return tpg;
}

/* The money part of a top-up, as toll_api_topup does it after its checks:
 * toll_api_move (the ledger entry, both balances, the driver's status and
 * list stamp, the notification) in one autocommit transaction. */
static enum MHD_Result
serve_topup(struct MHD_Connection *conn, struct sreq *rq)
{
	const char *pid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Partner-Id");
	const char *pacc = NULL;
	for (unsigned i = 0; pid != NULL && i < srv_npartners; i++)
		if (strcmp(srv_partners[i].id, pid) == 0)
			pacc = srv_partners[i].account;
	if (pacc == NULL)
		return answer(conn, 401, "{\"error\":\"unknown-partner\"}");
	json_error_t je;
	json_t *j = json_loadb(rq->body, rq->len, JSON_REJECT_DUPLICATES, &je);
	json_t *ja = j != NULL ? json_object_get(j, "account_id") : NULL;
	json_t *jm = j != NULL ? json_object_get(j, "amount_vnd") : NULL;
	json_t *jr = j != NULL ? json_object_get(j, "partner_ref") : NULL;
	size_t rl = json_is_string(jr) ? strlen(json_string_value(jr)) : 0;
	if (!json_is_integer(ja) || !json_is_integer(jm) || json_integer_value(jm) < 1 || rl < 1 || rl > 64 ||
	    strspn(json_string_value(jr), "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") != rl) {
		json_decref(j);
		return answer(conn, 400, "{\"error\":\"bad-request\"}");
	}
	char acc[24], amt[24], ref[100], out[400];
	long long account = (long long)json_integer_value(ja), amount = (long long)json_integer_value(jm);
	snprintf(acc, sizeof(acc), "%lld", account);
	snprintf(amt, sizeof(amt), "%lld", amount);
	snprintf(ref, sizeof(ref), "%s:%s", pid, json_string_value(jr));
	PGconn *pg = thread_pg();
	if (pg == NULL) {
		json_decref(j);
		atomic_fetch_add(&srv_errors, 1);
		return answer(conn, 503, "{\"error\":\"unavailable\"}");
	}
	const char *p[4] = {pacc, acc, amt, ref};
	PGresult *r = PQexecParams(pg, "SELECT ledger_id, balance FROM toll_api_move($1::bigint, $2::bigint, $3::bigint,"
				       " 'topup', $4, NULL)",
				   4, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		if (atomic_fetch_add(&srv_errors, 1) < 10)
			fprintf(stderr, "bench_topup serve: toll_api_move: %s", PQresultErrorMessage(r));
		PQclear(r);
		json_decref(j);
		return answer(conn, 503, "{\"error\":\"unavailable\"}");
	}
	snprintf(out, sizeof(out),
		 "{\"ledger_id\":%s,\"kind\":\"topup\",\"partner_ref\":\"%s\",\"account_id\":%lld,\"amount_vnd\":%lld,"
		 "\"balance_vnd\":%s}",
		 PQgetvalue(r, 0, 0), json_string_value(jr), account, amount, PQgetvalue(r, 0, 1));
	PQclear(r);
	json_decref(j);
	return answer(conn, 201, out);
}

static enum MHD_Result
srv_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method, const char *version,
	    const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct sreq *rq = *con_cls;
	(void)cls;
	(void)version;
	if (rq == NULL) {
		rq = calloc(1, sizeof(*rq));
		if (rq == NULL)
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (rq->len + *upload_data_size > sizeof(rq->body))
			rq->too_large = 1;
		else
			memcpy(rq->body + rq->len, upload_data, *upload_data_size);
		if (!rq->too_large)
			rq->len += *upload_data_size;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/v1/topups") != 0)
		return answer(conn, 404, "{\"error\":\"not-found\"}");
	if (strcmp(method, "POST") != 0)
		return answer(conn, 405, "{\"error\":\"method\"}");
	if (rq->too_large)
		return answer(conn, 413, "{\"error\":\"too-large\"}");
	return serve_topup(conn, rq);
}

static void
srv_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

static int
serve(void)
{
	PGconn *c = PQconnectdb("");
	if (PQstatus(c) != CONNECTION_OK)
		die("serve: cannot connect to PostgreSQL: %s", PQerrorMessage(c));
	PGresult *r = PQexec(c, "SELECT id, account_id FROM partners ORDER BY id");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		die("serve: partners: %s", PQresultErrorMessage(r));
	for (int i = 0; i < PQntuples(r) && srv_npartners < MAX_PARTNERS; i++) {
		if (strlen(PQgetvalue(r, i, 0)) >= sizeof(srv_partners[0].id) ||
		    strlen(PQgetvalue(r, i, 1)) >= sizeof(srv_partners[0].account))
			continue;
		snprintf(srv_partners[srv_npartners].id, sizeof(srv_partners[0].id), "%s", PQgetvalue(r, i, 0));
		snprintf(srv_partners[srv_npartners].account, sizeof(srv_partners[0].account), "%s", PQgetvalue(r, i, 1));
		srv_npartners++;
	}
	PQclear(r);
	PQfinish(c);

	/* the signals for sigwait, blocked before any thread starts */
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)o.port);
	/* the flags and options of central/api.c */
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_AUTO, 0, NULL, NULL, srv_handler, NULL,
		MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_THREAD_POOL_SIZE, o.threads, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024, MHD_OPTION_NOTIFY_COMPLETED, srv_completed,
		NULL, MHD_OPTION_END);
	if (d == NULL)
		die("serve: libmicrohttpd would not start on 127.0.0.1:%u", o.port);
	int sig;
	sigwait(&ss, &sig);
	MHD_stop_daemon(d);
	if (atomic_load(&srv_errors) > 0)
		fprintf(stderr, "bench_topup serve: %lu database errors\n", atomic_load(&srv_errors));
	return 0;
}

/* ---- the clients ---------------------------------------------------------- */

/* The two servers a run compares: the baseline first, then the API. */
#define BASE 0
#define API 1
struct side {
	const char *name;
	char phase[24]; /* the partner_refs' prefix: PHASE "b" or PHASE "a" */
	unsigned port;
	long pid;
	unsigned next; /* the next request's index */
	/* the measured rounds, summed */
	double wall, cpu_srv, cpu_pg, cpu_self, idle;
	uint32_t *lat_us; /* by request index - warm-up; 0: no answer */
};
static struct side sides[2];

/* One keep-alive connection. */
struct conn {
	int fd;
	size_t have;
	char buf[RESP_MAX];
};

struct client {
	uint64_t rng;
	struct conn conn[2];
	unsigned long by_status[2][1000]; /* [0]: no answer (the connection failed) */
	unsigned long ok[2], wrong[2], reconnects[2];
	int64_t ok_vnd[2]; /* amounts answered 201 */
	char fail[2][300];
};

static struct client *clients;
static uint8_t secrets[MAX_PARTNERS + 1][32];
static atomic_uint next_req;
static unsigned pass_end;
static int pass_side, measuring;
static pthread_barrier_t go;

static int
dial(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct timeval tv = {60, 0}; /* a stuck server: the phase fails, it does not hang */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->have = 0;
}

/* The server closed the connection while it was idle (libmicrohttpd's
 * timeout, while the clients were on the other server): nothing was sent
 * on it, so a new one is made before the request, as HTTP clients do. */
static int
peer_closed(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
	char ch;
	if (poll(&p, 1, 0) <= 0)
		return 0;
	return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0 || recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static int
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
recv_more(struct conn *c)
{
	for (;;) {
		ssize_t r = recv(c->fd, c->buf + c->have, sizeof(c->buf) - 1 - c->have, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c->have += (size_t)r;
		return 0;
	}
}

/* A header line (len bytes, no CRLF) named `name` (lowercase)? */
static int
name_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);
	if (len < n + 1 || line[n] != ':')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char)line[i]) != name[i])
			return 0;
	return 1;
}

/* One answer on c: 0 with its status and its body (NUL terminated, in
 * body[RESP_MAX]); -1 when the connection failed or the answer is not
 * an HTTP/1.x answer with a Content-Length within RESP_MAX. */
static int
read_answer(struct conn *c, unsigned *status, char *body, int *must_close)
{
	char *end = NULL;
	while ((end = c->have >= 4 ? memmem(c->buf, c->have, "\r\n\r\n", 4) : NULL) == NULL)
		if (c->have >= sizeof(c->buf) - 1 || recv_more(c) != 0)
			return -1; /* headers over RESP_MAX, or the connection failed */
	size_t hlen = (size_t)(end - c->buf) + 4;
	/* the status line: HTTP/1.x DDD */
	if (hlen < 16 || memcmp(c->buf, "HTTP/1.", 7) != 0 || c->buf[8] != ' ' || !isdigit((unsigned char)c->buf[9]) ||
	    !isdigit((unsigned char)c->buf[10]) || !isdigit((unsigned char)c->buf[11]))
		return -1;
	*status = (unsigned)((c->buf[9] - '0') * 100 + (c->buf[10] - '0') * 10 + (c->buf[11] - '0'));
	*must_close = c->buf[7] == '0';
	long clen = -1;
	/* the header lines: from after the status line's LF to the empty line */
	const char *line = memchr(c->buf, '\n', hlen);
	while (line != NULL && (size_t)(line + 1 - c->buf) < hlen - 2) {
		line++;
		const char *eol = memchr(line, '\n', hlen - (size_t)(line - c->buf));
		if (eol == NULL)
			return -1;
		size_t len = (size_t)(eol - line);
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (name_is(line, len, "content-length")) {
			size_t k = 15;
			while (k < len && line[k] == ' ')
				k++;
			if (k == len || len - k > 6 || clen >= 0)
				return -1;
			clen = 0;
			for (; k < len; k++) {
				if (!isdigit((unsigned char)line[k]))
					return -1;
				clen = clen * 10 + (line[k] - '0');
			}
		} else if (name_is(line, len, "transfer-encoding")) {
			return -1; /* chunked: never from these servers */
		} else if (name_is(line, len, "connection")) {
			for (size_t k = 11; k + 5 <= len; k++)
				if (strncasecmp(line + k, "close", 5) == 0)
					*must_close = 1;
		}
		line = eol;
	}
	if (clen < 0 || hlen + (size_t)clen > sizeof(c->buf) - 1)
		return -1;
	size_t total = hlen + (size_t)clen;
	while (c->have < total)
		if (recv_more(c) != 0)
			return -1;
	memcpy(body, c->buf + hlen, (size_t)clen);
	body[clen] = 0;
	/* whatever follows is the next answer's (never, without pipelining) */
	memmove(c->buf, c->buf + total, c->have - total);
	c->have -= total;
	return 0;
}

/* The answer names the request's partner_ref: "partner_ref" : "REF" (any
 * spaces around the colon: PostgreSQL's json_build_object puts them). */
static int
has_ref(const char *body, const char *ref)
{
	const char *p = strstr(body, "\"partner_ref\"");
	if (p == NULL)
		return 0;
	p += 13;
	while (*p == ' ')
		p++;
	if (*p++ != ':')
		return 0;
	while (*p == ' ')
		p++;
	size_t n = strlen(ref);
	return *p == '"' && strncmp(p + 1, ref, n) == 0 && p[1 + n] == '"';
}

static void *
client_run(void *arg)
{
	struct client *cl = arg;
	int s = pass_side;
	struct side *sd = &sides[s];
	struct conn *c = &cl->conn[s];
	char body[256], req[1024], ref[80], key[80], text[256], bh[65], sh[65];
	static __thread char answer[RESP_MAX];
	uint8_t d[32];

	pthread_barrier_wait(&go);
	for (;;) {
		unsigned i = atomic_fetch_add(&next_req, 1);
		if (i >= pass_end)
			break;
		unsigned partner = 1 + i % o.partners;
		unsigned account = FIRST_CUSTOMER + (unsigned)(rnd(&cl->rng) % o.accounts);
		unsigned amount = AMOUNT_MIN + (unsigned)(rnd(&cl->rng) % (AMOUNT_MAX - AMOUNT_MIN + 1));
		snprintf(ref, sizeof(ref), "%s-%u", sd->phase, i);
		snprintf(key, sizeof(key), "k-%s-%u", sd->phase, i);
		int bl = snprintf(body, sizeof(body), "{\"account_id\": %u, \"amount_vnd\": %u, \"partner_ref\": \"%s\"}",
				  account, amount, ref);
		/* X-Signature: hex HMAC-SHA256(secret, POST \n PATH \n TS \n hex SHA-256(body)) */
		long ts = (long)time(NULL);
		SHA256((const unsigned char *)body, (size_t)bl, d);
		hex(d, 32, bh);
		int tl = snprintf(text, sizeof(text), "POST\n/v1/topups\n%ld\n%s", ts, bh);
		unsigned mlen = 32;
		if (HMAC(EVP_sha256(), secrets[partner], 32, (const unsigned char *)text, (size_t)tl, d, &mlen) == NULL) {
			snprintf(cl->fail[s], sizeof(cl->fail[s]), "HMAC failed");
			break;
		}
		hex(d, 32, sh);
		int rl = snprintf(req, sizeof(req),
				  "POST /v1/topups HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nContent-Type: application/json\r\n"
				  "X-Partner-Id: bench-p%u\r\nX-Timestamp: %ld\r\nX-Signature: %s\r\nIdempotency-Key: %s\r\n"
				  "Content-Length: %d\r\n\r\n%s",
				  sd->port, partner, ts, sh, key, bl, body);
		if (rl <= 0 || (size_t)rl >= sizeof(req)) {
			snprintf(cl->fail[s], sizeof(cl->fail[s]), "request too long");
			break;
		}
		double t0 = now_s();
		unsigned status = 0;
		int must_close = 0;
		if (c->fd >= 0 && c->have == 0 && peer_closed(c->fd))
			conn_close(c);
		if (c->fd < 0) {
			c->fd = dial(sd->port);
			cl->reconnects[s]++;
		}
		if (c->fd < 0 || send_all(c->fd, req, (size_t)rl) != 0 || read_answer(c, &status, answer, &must_close) != 0) {
			conn_close(c);
			cl->by_status[s][0]++;
			if (cl->fail[s][0] == 0)
				snprintf(cl->fail[s], sizeof(cl->fail[s]), "%s: no answer", ref);
			continue; /* not sent again: it may or may not have committed (the ledger check tells) */
		}
		double dt = now_s() - t0;
		if (measuring)
			sd->lat_us[i - o.warmup] = (uint32_t)(dt * 1e6 + 0.5) + 1;
		cl->by_status[s][status]++;
		if (status == 201) {
			if (!has_ref(answer, ref))
				cl->wrong[s]++;
			cl->ok[s]++;
			cl->ok_vnd[s] += amount;
		} else if (cl->fail[s][0] == 0) {
			snprintf(cl->fail[s], sizeof(cl->fail[s]), "%s: %u %.200s", ref, status, answer);
		}
		if (must_close)
			conn_close(c);
	}
	return NULL;
}

/* The next n requests of side s, on every client; seconds. */
static double
pass(int s, unsigned n)
{
	pthread_t *th = calloc(o.clients, sizeof(*th));
	if (th == NULL)
		die("out of memory");
	pass_side = s;
	atomic_store(&next_req, sides[s].next);
	pass_end = sides[s].next + n;
	pthread_barrier_init(&go, NULL, o.clients + 1);
	for (unsigned k = 0; k < o.clients; k++)
		if (pthread_create(&th[k], NULL, client_run, &clients[k]) != 0)
			die("cannot start a thread");
	pthread_barrier_wait(&go);
	double t0 = now_s();
	for (unsigned k = 0; k < o.clients; k++)
		pthread_join(th[k], NULL);
	double dt = now_s() - t0;
	pthread_barrier_destroy(&go);
	free(th);
	sides[s].next = pass_end;
	return dt;
}

/* ---- CPU ------------------------------------------------------------------ */

/* CPU seconds (user + system) of process p, all its threads; its parent in *ppid. */
static double
proc_cpu_s(long p, long *ppid)
{
	char path[64], buf[1024];
	unsigned long ut = 0, st = 0;

	*ppid = 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", p);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	/* after "(comm)": state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime */
	char *q = strrchr(buf, ')');
	if (q == NULL || q[1] == 0 ||
	    sscanf(q + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", ppid, &ut, &st) != 3)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds of pid and, with children, of the processes whose parent
 * it is (PostgreSQL's postmaster and its backends). */
static double
cpu_s(long pid, int children)
{
	long pp;
	double sum = proc_cpu_s(pid, &pp);
	DIR *d = children ? opendir("/proc") : NULL;
	if (d == NULL)
		return sum;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		long p = strtol(e->d_name, NULL, 10);
		if (p <= 0 || p == pid)
			continue;
		double c = proc_cpu_s(p, &pp);
		if (pp == pid)
			sum += c;
	}
	closedir(d);
	return sum;
}

/* Seconds every CPU of the machine spent idle (or waiting for I/O). */
static double
machine_idle_s(void)
{
	unsigned long long us, ni, sy, idle = 0, iow = 0;
	FILE *f = fopen("/proc/stat", "re");
	if (f == NULL)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu", &us, &ni, &sy, &idle, &iow) != 5)
		idle = iow = 0;
	fclose(f);
	return (double)(idle + iow) / (double)sysconf(_SC_CLK_TCK);
}

static void
loadavg(char *buf, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "re");
	buf[0] = 0;
	if (f == NULL)
		return;
	double a = 0, b = 0, c = 0;
	if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
		snprintf(buf, len, "%.2f %.2f %.2f", a, b, c);
	fclose(f);
}

/* ---- the ledger check ---------------------------------------------------- */

static PGconn *
pg_open(void)
{
	PGconn *c = PQconnectdb("");
	if (PQstatus(c) != CONNECTION_OK)
		die("cannot connect to PostgreSQL: %s", PQerrorMessage(c));
	return c;
}

static int64_t
sql_int(PGconn *c, const char *fmt, ...)
{
	char q[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	PGresult *r = PQexec(c, q);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQgetisnull(r, 0, 0))
		die("check query failed: %s: %s", q, PQresultErrorMessage(r));
	int64_t v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

static void
expect(const char *phase, int64_t got, int64_t want, const char *what)
{
	if (got != want)
		die("ledger check (%s): %s: %" PRId64 ", expected %" PRId64, phase, what, got, want);
}

/* Every top-up of the side answered 201 is in the ledger once, from its
 * partner's account, and nothing else of the side is; for the API, each
 * with its topups row. */
static void
check_side(PGconn *c, int s, uint64_t ok, int64_t ok_vnd)
{
	const char *ph = sides[s].phase;
	/* the side's entries: reference = partner id ":" partner_ref */
	char like[40];
	snprintf(like, sizeof(like), "%s-%%", ph);
	expect(ph,
	       sql_int(c, "SELECT count(*) FROM ledger_entries WHERE kind = 'topup' AND split_part(reference, ':', 2) LIKE '%s'",
		       like),
	       (int64_t)ok, "top-up ledger entries");
	expect(ph,
	       sql_int(c, "SELECT COALESCE(sum(amount_vnd), 0) FROM ledger_entries WHERE kind = 'topup'"
			  " AND split_part(reference, ':', 2) LIKE '%s'",
		       like),
	       ok_vnd, "VND topped up");
	expect(ph,
	       sql_int(c, "SELECT count(*) FROM ledger_entries WHERE kind = 'topup' AND split_part(reference, ':', 2) LIKE '%s'"
			  " AND debit_account <> %" PRId64 " + substr(split_part(reference, ':', 1), 8)::bigint",
		       like, PARTNER_ACCOUNT_BASE),
	       0, "entries not from their partner's account");
	if (s == API) {
		expect(ph, sql_int(c, "SELECT count(*) FROM topups WHERE kind = 'topup' AND partner_ref LIKE '%s'", like),
		       (int64_t)ok, "topups rows (the idempotency storage)");
		expect(ph,
		       sql_int(c, "SELECT count(*) FROM topups t JOIN ledger_entries l ON l.id = t.ledger_id"
				  " AND l.amount_vnd = t.amount_vnd AND l.credit_account = t.account_id"
				  " AND l.reference = t.partner_id || ':' || t.partner_ref WHERE t.partner_ref LIKE '%s'",
			       like),
		       (int64_t)ok, "topups rows with their ledger entry");
	}
}

/* And the whole ledger: no top-up twice, every top-up notified, balances
 * zero-sum and equal to their entries. */
static void
check_ledger(const uint64_t ok[2], const int64_t ok_vnd[2])
{
	PGconn *c = pg_open();
	check_side(c, BASE, ok[BASE], ok_vnd[BASE]);
	check_side(c, API, ok[API], ok_vnd[API]);
	expect("all", sql_int(c, "SELECT count(*) FROM (SELECT 1 FROM ledger_entries WHERE kind = 'topup' GROUP BY reference"
				 " HAVING count(*) > 1) x"),
	       0, "top-ups credited twice");
	expect("all", sql_int(c, "SELECT count(*) FROM notifications WHERE kind = 'topup'"),
	       sql_int(c, "SELECT count(*) FROM ledger_entries WHERE kind = 'topup'"), "top-up notifications");
	expect("all", sql_int(c, "SELECT COALESCE(sum(balance_vnd), 0) FROM accounts"), 0, "sum of all balances");
	expect("all",
	       sql_int(c, "SELECT count(*) FROM accounts a LEFT JOIN (SELECT acc, sum(d) AS s FROM"
			  " (SELECT credit_account AS acc, amount_vnd AS d FROM ledger_entries UNION ALL"
			  " SELECT debit_account, -amount_vnd FROM ledger_entries) x GROUP BY acc) e ON e.acc = a.id"
			  " WHERE a.balance_vnd <> COALESCE(e.s, 0)"),
	       0, "accounts whose balance is not their entries");
	PQfinish(c);
}

/* ---- load ------------------------------------------------------------------ */

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* p50, p99 and max of the side's answered requests, in ms. */
static void
latency(int s, double *p50, double *p99, double *pmax)
{
	uint32_t *l = malloc((size_t)o.requests * sizeof(*l));
	size_t n = 0;
	if (l == NULL)
		die("out of memory");
	for (unsigned i = 0; i < o.requests; i++)
		if (sides[s].lat_us[i] > 0)
			l[n++] = sides[s].lat_us[i] - 1;
	qsort(l, n, sizeof(*l), cmp_u32);
	*p50 = n ? l[n / 2] / 1000.0 : 0;
	*p99 = n ? l[n * 99 / 100 < n ? n * 99 / 100 : n - 1] / 1000.0 : 0;
	*pmax = n ? l[n - 1] / 1000.0 : 0;
	free(l);
}

static void
load(void)
{
	char a[32], b[32], c2[32], d2[32], la[48], lb[48];

	for (unsigned i = 1; i <= o.partners; i++)
		partner_secret(i, secrets[i]);
	clients = calloc(o.clients, sizeof(*clients));
	if (clients == NULL)
		die("out of memory");
	sides[BASE].name = "baseline";
	sides[BASE].port = o.base_port;
	sides[BASE].pid = o.base_pid;
	snprintf(sides[BASE].phase, sizeof(sides[BASE].phase), "%sb", o.phase);
	sides[API].name = "API";
	sides[API].port = o.port;
	sides[API].pid = o.server_pid;
	snprintf(sides[API].phase, sizeof(sides[API].phase), "%sa", o.phase);
	for (int s = 0; s < 2; s++) {
		sides[s].lat_us = calloc(o.requests, sizeof(uint32_t));
		if (sides[s].lat_us == NULL)
			die("out of memory");
	}
	for (unsigned k = 0; k < o.clients; k++) {
		struct client *c = &clients[k];
		c->rng = o.seed * 1000003u + k * 7919u;
		for (const char *p = o.phase; *p; p++)
			c->rng = c->rng * 131 + (uint8_t)*p;
		for (int s = 0; s < 2; s++) {
			struct conn *cn = &c->conn[s];
			cn->fd = -1;
			for (int tries = 0; (cn->fd = dial(sides[s].port)) < 0 && tries < 50; tries++)
				usleep(100000);
			if (cn->fd < 0)
				die("cannot connect to 127.0.0.1:%u: %s", sides[s].port, strerror(errno));
		}
	}
	loadavg(la, sizeof(la));

	/* warm-up: connections, plans, caches; answers counted, not timed */
	for (int s = 0; s < 2; s++)
		if (o.warmup > 0)
			(void)pass(s, o.warmup);
	unsigned long w_ok[2] = {0, 0};
	for (unsigned k = 0; k < o.clients; k++)
		for (int s = 0; s < 2; s++)
			w_ok[s] += clients[k].ok[s];

	/* the rounds: baseline and API alternately, each first every other
	 * round (a shared machine's load changes: both see the same) */
	measuring = 1;
	for (unsigned r = 0; r < o.rounds; r++) {
		unsigned n = o.requests / o.rounds + (r == o.rounds - 1 ? o.requests % o.rounds : 0);
		for (int j = 0; j < 2; j++) {
			int s = (int)((r + (unsigned)j) % 2);
			struct side *sd = &sides[s];
			double c0 = sd->pid > 0 ? cpu_s(sd->pid, 0) : 0, p0 = o.pg_pid > 0 ? cpu_s(o.pg_pid, 1) : 0,
			       s0 = cpu_s(getpid(), 0), i0 = machine_idle_s();
			sd->wall += pass(s, n);
			sd->cpu_srv += sd->pid > 0 ? cpu_s(sd->pid, 0) - c0 : 0;
			sd->cpu_pg += o.pg_pid > 0 ? cpu_s(o.pg_pid, 1) - p0 : 0;
			sd->cpu_self += cpu_s(getpid(), 0) - s0;
			sd->idle += machine_idle_s() - i0;
		}
	}
	measuring = 0;
	loadavg(lb, sizeof(lb));
	/* how many of each server's threads served: a thread's database
	 * connection is made at its first request, and its last statement
	 * names the function (libmicrohttpd's epoll accepts waiting
	 * connections in a row, so connections made together can share a
	 * few threads) */
	int64_t used[2] = {-1, -1};
	{
		PGconn *pc = pg_open();
		used[API] = sql_int(pc, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%FROM toll_api_topup(%%'"
					" AND pid <> pg_backend_pid()");
		used[BASE] = sql_int(pc, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%FROM toll_api_move($%%'"
					 " AND pid <> pg_backend_pid()");
		PQfinish(pc);
	}
	for (unsigned k = 0; k < o.clients; k++)
		for (int s = 0; s < 2; s++)
			conn_close(&clients[k].conn[s]);

	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t ok[2] = {0, 0};
	int64_t ok_vnd[2] = {0, 0};
	double rate[2];
	int bad = 0;
	printf("  %s: %u rounds of %s + %s top-ups, baseline and API alternately, after %s + %s of warm-up;"
	       " load average %s before, %s after\n",
	       o.label, o.rounds, num(a, sizeof(a), o.requests / o.rounds), num(b, sizeof(b), o.requests / o.rounds),
	       num(c2, sizeof(c2), o.warmup), num(d2, sizeof(d2), o.warmup), la, lb);
	for (int s = 0; s < 2; s++) {
		struct side *sd = &sides[s];
		unsigned long by[1000] = {0}, wrong = 0, reconn = 0;
		const char *first_fail = NULL;
		for (unsigned k = 0; k < o.clients; k++) {
			for (int st = 0; st < 1000; st++)
				by[st] += clients[k].by_status[s][st];
			ok[s] += clients[k].ok[s];
			ok_vnd[s] += clients[k].ok_vnd[s];
			wrong += clients[k].wrong[s];
			reconn += clients[k].reconnects[s];
			if (first_fail == NULL && clients[k].fail[s][0])
				first_fail = clients[k].fail[s];
		}
		uint64_t m_ok = ok[s] - w_ok[s];
		rate[s] = (double)m_ok / sd->wall;
		double p50, p99, pmax;
		latency(s, &p50, &p99, &pmax);
		printf("    %-52s %7s top-ups/s  p50 %5.1f ms  p99 %5.1f ms  max %4.0f ms; %" PRId64 " of %u threads served\n",
		       s == BASE ? "baseline: toll_api_move only, no HMAC, no idempotency"
				 : "API: signed, idempotent, durable",
		       num(a, sizeof(a), rate[s]), p50, p99, pmax, used[s], o.threads);
		double others = (double)ncpu * sd->wall - sd->cpu_srv - sd->cpu_pg - sd->cpu_self - sd->idle;
		double per = (double)(m_ok ? m_ok : 1), ours = (sd->cpu_srv + sd->cpu_pg + sd->cpu_self) / per;
		printf("      CPU: %s %.1f s, PostgreSQL %.1f s, clients %.1f s, other processes %.1f s, idle %.1f s,"
		       " of %ld x %.1f s\n",
		       s == API ? "toll-central" : "baseline server", sd->cpu_srv, sd->cpu_pg, sd->cpu_self,
		       others < 0 ? 0 : others, sd->idle, ncpu, sd->wall);
		printf("      a top-up: %s %.0f us, PostgreSQL %.0f us, clients %.0f us of CPU: %s/s at most with"
		       " %ld CPUs of its own\n",
		       s == API ? "toll-central" : "server", 1e6 * sd->cpu_srv / per, 1e6 * sd->cpu_pg / per,
		       1e6 * sd->cpu_self / per, num(c2, sizeof(c2), ours > 0 ? (double)ncpu / ours : 0), ncpu);
		unsigned long total = o.warmup + o.requests;
		if (ok[s] != total || wrong != 0) {
			bad = 1;
			printf("      FAIL: %" PRIu64 " of %lu answered 201;", ok[s], total);
			for (int st = 1; st < 1000; st++)
				if (st != 201 && by[st] > 0)
					printf(" %d: %lu;", st, by[st]);
			if (by[0] > 0)
				printf(" no answer (the connection failed): %lu;", by[0]);
			if (wrong > 0)
				printf(" 201 naming another partner_ref: %lu;", wrong);
			printf(" connections made again: %lu\n", reconn);
			if (first_fail != NULL)
				printf("      the first: %s\n", first_fail);
		}
	}
	printf("    API / baseline = %.0f %% (target >= 50 %%: %s); %s durable top-ups/s through the API"
	       " (target >= 2,000/s: %s)\n",
	       100.0 * rate[API] / rate[BASE], rate[API] >= 0.5 * rate[BASE] ? "met" : "NOT met",
	       num(a, sizeof(a), rate[API]), rate[API] >= 2000 ? "met" : "NOT met");
	check_ledger(ok, ok_vnd);
	printf("    ledger checked: %s + %s top-ups answered 201, each once in the ledger from its partner's account"
	       " (the API's each with its topups row); balances sum to 0 and equal their entries\n",
	       num(a, sizeof(a), (double)ok[BASE]), num(b, sizeof(b), (double)ok[API]));
	if (bad)
		exit(1);
}

/* ---- main --------------------------------------------------------------- */

static void
parse(int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned *u = NULL;
		if (v == NULL)
			die("%s wants a value", k);
		i++;
		if (strcmp(k, "--accounts") == 0)
			u = &o.accounts;
		else if (strcmp(k, "--partners") == 0)
			u = &o.partners;
		else if (strcmp(k, "--clients") == 0)
			u = &o.clients;
		else if (strcmp(k, "--requests") == 0)
			u = &o.requests;
		else if (strcmp(k, "--warmup") == 0)
			u = &o.warmup;
		else if (strcmp(k, "--rounds") == 0)
			u = &o.rounds;
		else if (strcmp(k, "--threads") == 0)
			u = &o.threads;
		else if (strcmp(k, "--port") == 0)
			u = &o.port;
		else if (strcmp(k, "--base-port") == 0)
			u = &o.base_port;
		else if (strcmp(k, "--seed") == 0)
			o.seed = strtoull(v, NULL, 10);
		else if (strcmp(k, "--phase") == 0)
			o.phase = v;
		else if (strcmp(k, "--label") == 0)
			o.label = v;
		else if (strcmp(k, "--server-pid") == 0)
			o.server_pid = strtol(v, NULL, 10);
		else if (strcmp(k, "--base-pid") == 0)
			o.base_pid = strtol(v, NULL, 10);
		else if (strcmp(k, "--pg-pid") == 0)
			o.pg_pid = strtol(v, NULL, 10);
		else
			die("unknown option %s", k);
		if (u != NULL)
			*u = (unsigned)strtoul(v, NULL, 10);
	}
	size_t pl = strlen(o.phase);
	if (o.accounts < 1 || o.accounts > 100000000 || o.partners < 1 || o.partners > MAX_PARTNERS || o.clients < 1 ||
	    o.clients > MAX_CLIENTS || o.requests < 1 || o.requests > 100000000 || o.warmup > 100000000 ||
	    o.rounds < 1 || o.rounds > o.requests || o.threads < 1 || o.threads > 256 || o.port > 65535 ||
	    o.base_port > 65535 || pl < 1 || pl > 12 || strspn(o.phase, "abcdefghijklmnopqrstuvwxyz0123456789") != pl)
		die("options out of range (partners 1..%d, clients 1..%d, rounds 1..requests, threads 1..256,"
		    " phase 1-12 of a-z 0-9)",
		    MAX_PARTNERS, MAX_CLIENTS);
}

int
main(int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[1], "setup") != 0 && strcmp(argv[1], "serve") != 0 && strcmp(argv[1], "load") != 0)) {
		fprintf(stderr, "usage: bench_topup setup|serve|load [--accounts N --partners N ...] (see bench/topup/run)\n");
		return 2;
	}
	parse(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "setup") == 0) {
		setup_sql();
		return 0;
	}
	if (o.port == 0)
		die("%s wants --port", argv[1]);
	if (strcmp(argv[1], "serve") == 0)
		return serve();
	if (o.base_port == 0)
		die("load wants --port (the API) and --base-port (the baseline server)");
	signal(SIGPIPE, SIG_IGN);
	load();
	return 0;
}
