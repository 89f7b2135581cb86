/* bench_central.c: the driver of bench/central (see run there).
 *
 *   bench_central setup [OPTIONS]   print the SQL that registers the
 *       benchmark's accounts (with opening balances), stations, lanes and
 *       lane keys (seeded: the same keys every time)
 *   bench_central run [OPTIONS]     sign every record, measure the verify
 *       ceiling, stream the records into toll-central, check the ledger,
 *       run the naive baseline, print the figures
 *
 * Options (both): --lanes N --records N (per lane) --batch N --accounts N
 * --naive N (records) --clients N (naive connections) --verify N (records
 * verified for the ceiling) --seed N; run also: --url URL (toll-central)
 * --pid PID (toll-central's: its memory and CPU) --status PATH (its status
 * socket) --pg-pid PID (the postmaster's: PostgreSQL's CPU).  The database
 * is the PG* environment's.
 *
 * Layout: end-to-end lane i is lane 1 + i % 8 of station 101 + i / 8; naive
 * client k posts as lane 1 of station 901 + k (a station of its own, so the
 * clients never queue on each other's revenue account row: the naive
 * baseline's best case).  Station s credits revenue account 10^12 + s.
 * Customers 1001.. each get an opening balance from partner account
 * 2 * 10^12 + 1, so balances sum to zero from the start.
 *
 * Nothing here is pass/fail on timing; a ledger that is not exactly what
 * was sent makes it print FAIL and exit 1 without figures. */
#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "clock.h"
#include "crypto.h"
#include "err.h"
#include "log.h"
#include "rng.h"
#include "txn.h"
#include "umsg.h"

#define LANES_A_STATION 8
#define FIRST_STATION 101
#define NAIVE_STATION 901
#define REVENUE_BASE INT64_C(1000000000000)
#define PARTNER_ACCOUNT INT64_C(2000000000001)
#define FIRST_CUSTOMER 1001
#define OPENING_VND INT64_C(100000000)
#define FEE_VND 35000
#define PHASE1_PARTS 5 /* phase 1 sends a fifth of each lane, phase 2 the rest (4x) */

static struct opts {
	unsigned lanes, records, batch, accounts, naive, clients, verify;
	uint64_t seed;
	const char *url, *status;
	long pid, pg_pid;
} o = {64, 4000, 256, 5000, 20000, 8, 80000, 20261122, "", "", 0, 0};

struct lane {
	uint32_t station;
	uint16_t lane;
	struct toll_signer *key;
	struct toll_verifier *ver;
	unsigned n;	/* records */
	uint8_t *recs;	/* n * TOLL_TXN_BYTES, seq k + 1 at k */
	/* sending */
	nng_socket sock;
	uint8_t *msg;
	uint64_t acked, end;
	uint64_t retries, timeouts;
	/* naive */
	PGconn *pg;
	char fail[300];
};

static struct lane *lanes;  /* o.lanes end to end, then o.clients naive */
static unsigned nlanes_all;
static pthread_barrier_t go;
static atomic_uint next_lane;
static atomic_int failed;

static void
die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("bench/central: FAIL: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	exit(1);
}

static double
now_s(void)
{
	return (double)toll_mono_us() / 1e6;
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
lane_ids(unsigned i, uint32_t *station, uint16_t *lane)
{
	if (i < o.lanes) {
		*station = FIRST_STATION + i / LANES_A_STATION;
		*lane = (uint16_t)(1 + i % LANES_A_STATION);
	} else {
		*station = NAIVE_STATION + (i - o.lanes);
		*lane = 1;
	}
}

static unsigned
stations_e2e(void)
{
	return (o.lanes + LANES_A_STATION - 1) / LANES_A_STATION;
}

static struct toll_signer *
lane_key(uint32_t station, uint16_t lane)
{
	char text[96];
	uint8_t seed[32];
	struct toll_signer *s;
	snprintf(text, sizeof(text), "toll bench/central %" PRIu64 " lane %" PRIu32 "/%u", o.seed, station, lane);
	toll_sha256(text, strlen(text), seed);
	if (toll_signer_from_seed(seed, &s) != 0)
		die("cannot make a key");
	return s;
}

/* ---- setup ------------------------------------------------------------ */

static void
setup_sql(void)
{
	unsigned S = stations_e2e();
	printf("BEGIN;\n");
	printf("INSERT INTO accounts (id, kind, name, balance_vnd) VALUES (%" PRId64 ", 'partner', 'bench opening balances', %" PRId64 ");\n",
	       PARTNER_ACCOUNT, -(int64_t)o.accounts * OPENING_VND);
	printf("INSERT INTO accounts (id, kind, balance_vnd) SELECT x, 'customer', %" PRId64
	       " FROM generate_series(%d, %u) x;\n",
	       OPENING_VND, FIRST_CUSTOMER, FIRST_CUSTOMER + o.accounts - 1);
	printf("INSERT INTO ledger_entries (kind, reference, debit_account, credit_account, amount_vnd)"
	       " SELECT 'opening', 'bench', %" PRId64 ", x, %" PRId64 " FROM generate_series(%d, %u) x;\n",
	       PARTNER_ACCOUNT, OPENING_VND, FIRST_CUSTOMER, FIRST_CUSTOMER + o.accounts - 1);
	printf("INSERT INTO accounts (id, kind) SELECT %" PRId64 " + s, 'revenue' FROM"
	       " (SELECT generate_series(%d, %u) UNION ALL SELECT generate_series(%d, %u)) x(s);\n",
	       REVENUE_BASE, FIRST_STATION, FIRST_STATION + S - 1, NAIVE_STATION, NAIVE_STATION + o.clients - 1);
	printf("INSERT INTO stations (id, role, revenue_account_id) SELECT s, 'open', %" PRId64 " + s FROM"
	       " (SELECT generate_series(%d, %u) UNION ALL SELECT generate_series(%d, %u)) x(s);\n",
	       REVENUE_BASE, FIRST_STATION, FIRST_STATION + S - 1, NAIVE_STATION, NAIVE_STATION + o.clients - 1);
	for (unsigned i = 0; i < o.lanes + o.clients; i++) {
		uint32_t st;
		uint16_t ln;
		lane_ids(i, &st, &ln);
		printf("INSERT INTO lanes (station_id, lane_id) VALUES (%" PRIu32 ", %u);\n", st, ln);
		if (i >= o.lanes) {
			/* the naive baseline moves its progress; central makes its own rows */
			printf("INSERT INTO lane_progress (station_id, lane_id) VALUES (%" PRIu32 ", %u);\n", st, ln);
			continue;
		}
		struct toll_signer *k = lane_key(st, ln);
		uint8_t pub[32];
		char hex[65];
		toll_signer_public(k, pub);
		toll_hex_encode(pub, 32, hex);
		printf("INSERT INTO lane_keys (station_id, lane_id, key_id, public_key, valid_from) VALUES"
		       " (%" PRIu32 ", %u, '\\x%08" PRIx32 "', '\\x%s', now() - interval '1 day');\n",
		       st, ln, toll_signer_key_id(k), hex);
		toll_signer_free(k);
	}
	printf("COMMIT;\n");
}

/* ---- records ---------------------------------------------------------- */

static void
gen_lane(struct lane *L, unsigned idx)
{
	struct toll_rng rng;
	uint8_t prev[32] = {0};

	toll_rng_seed(&rng, o.seed * 1000003u + idx);
	L->recs = malloc((size_t)L->n * TOLL_TXN_BYTES);
	if (L->recs == NULL)
		die("out of memory for %u records", L->n);
	for (unsigned k = 0; k < L->n; k++) {
		struct toll_txn t;
		memset(&t, 0, sizeof(t));
		t.station_id = L->station;
		t.lane_id = L->lane;
		t.lane_seq = k + 1;
		t.time_ms = toll_real_ms();
		if (toll_txn_new_id(t.time_ms, t.txn_id) != 0)
			die("no random bytes");
		t.utc_offset_min = 420;
		t.account_id = FIRST_CUSTOMER + toll_rng_below(&rng, o.accounts);
		t.epc_bits = 96;
		t.epc[0] = 0x30;
		t.epc[1] = 0x34;
		for (int b = 0; b < 8; b++)
			t.epc[4 + b] = (uint8_t)(t.account_id >> (56 - 8 * b));
		t.vclass = 1;
		t.outcome = TOLL_OUT_PAID;
		t.fee_vnd = FEE_VND;
		t.reader_boot_id = 1;
		t.reader_seq = k + 1;
		t.rssi_dbm_x10 = -550;
		memcpy(t.prev_hash, prev, 32);
		if (toll_txn_sign(&t, L->key) != 0 || toll_txn_encode(&t, L->recs + (size_t)k * TOLL_TXN_BYTES) != 0)
			die("cannot sign a record");
		toll_txn_hash(&t, prev);
	}
}

static void *
gen_thread(void *arg)
{
	(void)arg;
	for (;;) {
		unsigned i = atomic_fetch_add(&next_lane, 1);
		if (i >= nlanes_all)
			return NULL;
		gen_lane(&lanes[i], i);
	}
}

/* ---- verify ceiling --------------------------------------------------- */

struct vjob {
	uint64_t from, to, bad;
};

static void *
verify_thread(void *arg)
{
	struct vjob *j = arg;
	pthread_barrier_wait(&go);
	for (uint64_t k = j->from; k < j->to; k++) {
		struct lane *L = &lanes[k % o.lanes];
		unsigned r = (unsigned)((k / o.lanes) % L->n);
		struct toll_txn t;
		if (toll_txn_decode(L->recs + (size_t)r * TOLL_TXN_BYTES, TOLL_TXN_BYTES, &t) != 0 ||
		    toll_txn_verify(&t, L->ver) != 0)
			j->bad++;
	}
	return NULL;
}

static double
verify_ceiling(unsigned nthreads, uint64_t first, uint64_t count)
{
	pthread_t th[256];
	struct vjob jobs[256];
	uint64_t per = (count + nthreads - 1) / nthreads;

	pthread_barrier_init(&go, NULL, nthreads + 1);
	for (unsigned i = 0; i < nthreads; i++) {
		jobs[i].from = first + i * per;
		jobs[i].to = first + ((i + 1) * per < count ? (i + 1) * per : count);
		jobs[i].bad = 0;
		if (pthread_create(&th[i], NULL, verify_thread, &jobs[i]) != 0)
			die("cannot start a thread");
	}
	pthread_barrier_wait(&go);
	double t0 = now_s();
	uint64_t bad = 0;
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		bad += jobs[i].bad;
	}
	double dt = now_s() - t0;
	pthread_barrier_destroy(&go);
	if (bad != 0)
		die("%" PRIu64 " of the benchmark's own records do not verify", bad);
	return (double)count / dt;
}

/* ---- end to end ------------------------------------------------------- */

static void
lane_fail(struct lane *L, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(L->fail, sizeof(L->fail), "lane %" PRIu32 "/%u: ", L->station, L->lane);
	va_start(ap, fmt);
	vsnprintf(L->fail + n, sizeof(L->fail) - (size_t)n, fmt, ap);
	va_end(ap);
	atomic_store(&failed, 1);
}

static void
nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* One lane: a batch at a time, from what central acknowledged, until
 * central has acknowledged the phase's last record. */
static void *
sender(void *arg)
{
	struct lane *L = arg;
	const uint8_t *p[TOLL_UMSG_BATCH_MAX];
	size_t lens[TOLL_UMSG_BATCH_MAX];
	unsigned stuck = 0, errors = 0;

	pthread_barrier_wait(&go);
	while (L->acked < L->end && !atomic_load(&failed)) {
		unsigned n = L->end - L->acked < o.batch ? (unsigned)(L->end - L->acked) : o.batch;
		size_t len;
		nng_msg *req, *rep;
		struct toll_umsg *m;
		int rv;

		for (unsigned i = 0; i < n; i++) {
			p[i] = L->recs + (size_t)(L->acked + i) * TOLL_TXN_BYTES;
			lens[i] = TOLL_TXN_BYTES;
		}
		if (toll_umsg_encode_batch(L->msg, TOLL_UMSG_MAX_BYTES, L->station, L->lane, p, lens, n, &len) != 0) {
			lane_fail(L, "cannot encode a batch");
			break;
		}
		if (nng_msg_alloc(&req, 0) != 0 || nng_msg_append(req, L->msg, len) != 0) {
			lane_fail(L, "out of memory");
			break;
		}
		if ((rv = nng_sendmsg(L->sock, req, 0)) != 0) {
			nng_msg_free(req);
			if (++errors > 100) {
				lane_fail(L, "cannot send: %s", nng_strerror(rv));
				break;
			}
			nap_ms(100);
			continue;
		}
		if ((rv = nng_recvmsg(L->sock, &rep, 0)) != 0) {
			if (rv == NNG_ETIMEDOUT) {
				L->timeouts++; /* sent again from what was acknowledged */
				continue;
			}
			if (++errors > 100) {
				lane_fail(L, "no answer: %s", nng_strerror(rv));
				break;
			}
			nap_ms(100);
			continue;
		}
		errors = 0;
		m = malloc(sizeof(*m));
		if (m == NULL) {
			nng_msg_free(rep);
			lane_fail(L, "out of memory");
			break;
		}
		rv = toll_umsg_decode(nng_msg_body(rep), nng_msg_len(rep), m);
		nng_msg_free(rep);
		struct toll_umsg_ack a = m->ack;
		int is_ack = rv == 0 && m->type == TOLL_UMSG_ACK;
		free(m);
		if (!is_ack || a.station_id != L->station || a.lane_id != L->lane) {
			lane_fail(L, "an answer that is not this lane's ack");
			break;
		}
		if (a.status == TOLL_UMSG_RETRY) {
			L->retries++;
			nap_ms(50);
			continue;
		}
		if (a.status != TOLL_UMSG_OK) {
			lane_fail(L, "central answered %s", toll_umsg_status_name(a.status));
			break;
		}
		if (a.acked_seq < L->acked || a.acked_seq > L->acked + n) {
			lane_fail(L, "acknowledged seq %" PRIu64 " after %" PRIu64 " with %u sent", a.acked_seq, L->acked, n);
			break;
		}
		if (a.acked_seq == L->acked) {
			if (++stuck > 20) {
				lane_fail(L, "central does not move past seq %" PRIu64 " (quarantined %u)", L->acked,
					  a.quarantined);
				break;
			}
			continue;
		}
		stuck = 0;
		L->acked = a.acked_seq;
	}
	return NULL;
}

/* Send every lane's records up to seq `upto`; records a second. */
static double
stream(uint64_t upto, uint64_t *sent)
{
	pthread_t *th = calloc(o.lanes, sizeof(*th));
	uint64_t total = 0;

	if (th == NULL)
		die("out of memory");
	pthread_barrier_init(&go, NULL, o.lanes + 1);
	for (unsigned i = 0; i < o.lanes; i++) {
		lanes[i].end = upto;
		total += upto - lanes[i].acked;
		if (pthread_create(&th[i], NULL, sender, &lanes[i]) != 0)
			die("cannot start a thread");
	}
	pthread_barrier_wait(&go);
	double t0 = now_s();
	for (unsigned i = 0; i < o.lanes; i++)
		pthread_join(th[i], NULL);
	double dt = now_s() - t0;
	pthread_barrier_destroy(&go);
	free(th);
	for (unsigned i = 0; i < o.lanes; i++)
		if (lanes[i].fail[0])
			die("%s", lanes[i].fail);
	*sent = total;
	return (double)total / dt;
}

static void
connect_lanes(void)
{
	for (unsigned i = 0; i < o.lanes; i++) {
		struct lane *L = &lanes[i];
		int rv;
		L->msg = malloc(TOLL_UMSG_MAX_BYTES);
		if (L->msg == NULL)
			die("out of memory");
		if ((rv = nng_req0_open(&L->sock)) != 0 ||
		    (rv = nng_socket_set_ms(L->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
		    (rv = nng_socket_set_ms(L->sock, NNG_OPT_RECVTIMEO, 30000)) != 0 ||
		    (rv = nng_socket_set_ms(L->sock, NNG_OPT_SENDTIMEO, 30000)) != 0)
			die("cannot make a socket: %s", nng_strerror(rv));
		/* refused: a few more tries, 100 ms apart */
		for (int tries = 0; (rv = nng_dial(L->sock, o.url, NULL, 0)) == NNG_ECONNREFUSED && tries < 50; tries++)
			nap_ms(100);
		if (rv != 0)
			die("cannot reach toll-central at %s: %s", o.url, nng_strerror(rv));
	}
}

/* ---- toll-central's memory and counters ------------------------------- */

static long
proc_kb(const char *field)
{
	char path[64], line[256];
	long v = -1;
	size_t n = strlen(field);
	snprintf(path, sizeof(path), "/proc/%ld/status", o.pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

/* CPU seconds (user + system) of process p; its parent in *ppid. */
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
	if (q == NULL || sscanf(q + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", ppid, &ut, &st) != 3)
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

/* toll-central's status text (empty if it cannot be had). */
static void
central_status(char *buf, size_t len)
{
	struct sockaddr_un sa;
	size_t k = 0;
	ssize_t n;

	buf[0] = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(o.status) >= sizeof(sa.sun_path))
		return;
	strcpy(sa.sun_path, o.status);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		while (k + 1 < len && (n = read(fd, buf + k, len - 1 - k)) > 0)
			k += (size_t)n;
	buf[k] = 0;
	close(fd);
}

static uint64_t
status_field(const char *text, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = strstr(text, name); p != NULL; p = strstr(p + 1, name))
		if ((p == text || p[-1] == ' ' || p[-1] == '\n') && p[n] == '=')
			return strtoull(p + n + 1, NULL, 10);
	return 0;
}

/* ---- SQL -------------------------------------------------------------- */

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
expect(int64_t got, int64_t want, const char *what)
{
	if (got != want)
		die("ledger check: %s: %" PRId64 ", expected %" PRId64, what, got, want);
}

/* The ledger is exactly what was sent: every record once, posted once,
 * nothing aside, balances zero-sum and equal to their entries. */
static void
check_ledger(uint64_t e2e, uint64_t naive)
{
	PGconn *c = pg_open();
	unsigned S = stations_e2e();
	unsigned lo = FIRST_STATION, hi = FIRST_STATION + S - 1;

	expect(sql_int(c, "SELECT count(*) FROM transactions WHERE station_id BETWEEN %u AND %u", lo, hi), (int64_t)e2e,
	       "transactions from the lanes");
	expect(sql_int(c, "SELECT count(*) FROM (SELECT 1 FROM transactions WHERE station_id BETWEEN %u AND %u"
			  " GROUP BY station_id, lane_id HAVING count(*) = %u AND count(DISTINCT lane_seq) = %u"
			  " AND min(lane_seq) = 1 AND max(lane_seq) = %u) x",
		       lo, hi, o.records, o.records, o.records),
	       o.lanes, "lanes holding each seq 1..records exactly once");
	expect(sql_int(c, "SELECT count(*) FROM lane_progress WHERE station_id BETWEEN %u AND %u AND acked_seq = %u", lo,
		       hi, o.records),
	       o.lanes, "lanes whose progress is their last record");
	expect(sql_int(c, "SELECT count(*) FROM transactions WHERE station_id BETWEEN %u AND %u AND disposition = 'posted'",
		       NAIVE_STATION, NAIVE_STATION + o.clients - 1),
	       (int64_t)naive, "naive baseline's posted transactions");
	expect(sql_int(c, "SELECT count(*) FROM transactions WHERE disposition <> 'posted'"), 0, "transactions not posted");
	expect(sql_int(c, "SELECT count(*) FROM ledger_entries WHERE kind = 'toll'"), (int64_t)(e2e + naive),
	       "toll ledger entries");
	expect(sql_int(c, "SELECT count(*) FROM (SELECT 1 FROM ledger_entries WHERE kind = 'toll' GROUP BY txn_id"
			  " HAVING count(*) > 1) x"),
	       0, "transactions posted twice");
	expect(sql_int(c, "SELECT COALESCE(sum(balance_vnd), 0) FROM accounts WHERE id BETWEEN %" PRId64 " AND %" PRId64,
		       REVENUE_BASE + lo, REVENUE_BASE + hi),
	       (int64_t)e2e * FEE_VND, "revenue of the lanes' stations");
	expect(sql_int(c, "SELECT COALESCE(sum(balance_vnd), 0) FROM accounts"), 0, "sum of all balances");
	expect(sql_int(c, "SELECT count(*) FROM accounts a LEFT JOIN (SELECT acc, sum(d) AS s FROM"
			  " (SELECT credit_account AS acc, amount_vnd AS d FROM ledger_entries UNION ALL"
			  " SELECT debit_account, -amount_vnd FROM ledger_entries) x GROUP BY acc) e ON e.acc = a.id"
			  " WHERE a.balance_vnd <> COALESCE(e.s, 0)"),
	       0, "accounts whose balance is not their entries");
	expect(sql_int(c, "SELECT count(*) FROM notifications WHERE kind = 'debit'"), (int64_t)(e2e + naive),
	       "debit notifications");
	expect(sql_int(c, "SELECT count(*) FROM quarantine"), 0, "quarantined records");
	expect(sql_int(c, "SELECT count(*) FROM gaps"), 0, "gaps");
	PQfinish(c);
}

/* ---- naive baseline ----------------------------------------------------- */

/* Central's work for one record (settle.c), as one statement and so one
 * autocommit transaction: the transaction row, its ledger entry, both
 * balances (the customer's status and list version as settle.c derives
 * them), the debit notification and a status one if the status changed,
 * the lane's progress. */
#define NEW_STATUS                                                                                    \
	"CASE WHEN a.blocked_reason <> 0 OR a.balance_vnd - t.fee_vnd < 0 THEN 2"                     \
	" WHEN a.balance_vnd - t.fee_vnd < a.low_threshold_vnd THEN 1 ELSE 0 END"
static const char *const NAIVE_SQL =
	"WITH v AS (SELECT $1::uuid AS txn_id, $2::integer AS station_id, $3::integer AS lane_id,"
	" $4::bigint AS lane_seq, $5::bigint AS time_ms, $6::smallint AS utc_offset_min, $7::smallint AS outcome,"
	" $8::integer AS flags, $9::text AS epc_hex, $10::bigint AS account_id, $11::smallint AS vclass,"
	" $12::integer AS entry_station, $13::bigint AS entry_time_ms, $14::bigint AS fee_vnd, $15::bytea AS key_id,"
	" $16::bytea AS payload, $17::bytea AS payload_hash),"
	" t AS (INSERT INTO transactions (txn_id, station_id, lane_id, lane_seq, time_ms, utc_offset_min, outcome,"
	"  flags, epc_hex, account_id, vclass, entry_station, entry_time_ms, fee_vnd, key_id, payload, payload_hash,"
	"  disposition)"
	"  SELECT v.txn_id, v.station_id, v.lane_id, v.lane_seq, v.time_ms, v.utc_offset_min, v.outcome, v.flags,"
	"  v.epc_hex, v.account_id, v.vclass, v.entry_station, v.entry_time_ms, v.fee_vnd, v.key_id, v.payload,"
	"  v.payload_hash,"
	"  CASE WHEN v.outcome = 1 AND v.fee_vnd > 0 THEN"
	"   CASE WHEN a.id IS NULL THEN 'account_not_found' ELSE 'posted' END ELSE 'no_charge' END"
	"  FROM v LEFT JOIN accounts a ON a.id = v.account_id AND a.kind = 'customer'"
	"  RETURNING txn_id, station_id, account_id, fee_vnd, disposition),"
	" le AS (INSERT INTO ledger_entries (kind, txn_id, debit_account, credit_account, amount_vnd)"
	"  SELECT 'toll', t.txn_id, t.account_id, st.revenue_account_id, t.fee_vnd"
	"  FROM t JOIN stations st ON st.id = t.station_id WHERE t.disposition = 'posted'),"
	" old AS (SELECT a.id, a.status FROM accounts a JOIN t ON a.id = t.account_id WHERE t.disposition = 'posted'),"
	" cu AS (UPDATE accounts a SET balance_vnd = a.balance_vnd - t.fee_vnd, status = " NEW_STATUS ","
	"  list_xid = CASE WHEN " NEW_STATUS " <> a.status OR " NEW_STATUS " <> 0"
	"   THEN pg_current_xact_id()::text::bigint ELSE a.list_xid END"
	"  FROM t WHERE a.id = t.account_id AND t.disposition = 'posted'"
	"  RETURNING a.id, a.status, a.balance_vnd),"
	" ru AS (UPDATE accounts a SET balance_vnd = a.balance_vnd + t.fee_vnd FROM t JOIN stations st"
	"  ON st.id = t.station_id WHERE a.id = st.revenue_account_id AND t.disposition = 'posted'),"
	" dn AS (INSERT INTO notifications (account_id, kind, txn_id, amount_vnd, balance_vnd)"
	"  SELECT cu.id, 'debit', t.txn_id, t.fee_vnd, cu.balance_vnd FROM cu JOIN t ON t.account_id = cu.id),"
	" sn AS (INSERT INTO notifications (account_id, kind, status, balance_vnd)"
	"  SELECT cu.id, 'status', cu.status, cu.balance_vnd FROM cu JOIN old ON old.id = cu.id"
	"  WHERE cu.status <> old.status),"
	" lp AS (UPDATE lane_progress p SET acked_seq = v.lane_seq, last_hash = v.payload_hash, updated_at = now()"
	"  FROM v WHERE p.station_id = v.station_id AND p.lane_id = v.lane_id)"
	" SELECT count(*) FROM cu";

static void *
naive_client(void *arg)
{
	struct lane *L = arg;
	static const char hex[] = "0123456789abcdef";

	pthread_barrier_wait(&go);
	for (unsigned k = 0; k < L->n && !atomic_load(&failed); k++) {
		const uint8_t *b = L->recs + (size_t)k * TOLL_TXN_BYTES;
		struct toll_txn t;
		char uuid[37], st[16], ln[16], seq[24], tm[24], off[8], outc[8], fl[12], epc[65], acc[24], vc[8],
			est[16], etm[24], fee[24], key[16], payload[2 + 2 * TOLL_TXN_BYTES + 1], hash[2 + 64 + 1];
		uint8_t h[32];
		int u = 0;

		if (toll_txn_decode(b, TOLL_TXN_BYTES, &t) != 0) {
			lane_fail(L, "cannot decode its own record");
			break;
		}
		for (int i = 0; i < 16; i++) {
			if (i == 4 || i == 6 || i == 8 || i == 10)
				uuid[u++] = '-';
			uuid[u++] = hex[t.txn_id[i] >> 4];
			uuid[u++] = hex[t.txn_id[i] & 15];
		}
		uuid[u] = 0;
		unsigned digits = (t.epc_bits + 3) / 4;
		for (unsigned i = 0; i < digits; i++)
			epc[i] = hex[(t.epc[i / 2] >> (i % 2 ? 0 : 4)) & 15];
		epc[digits] = 0;
		snprintf(st, sizeof(st), "%" PRIu32, t.station_id);
		snprintf(ln, sizeof(ln), "%u", t.lane_id);
		snprintf(seq, sizeof(seq), "%" PRIu64, t.lane_seq);
		snprintf(tm, sizeof(tm), "%" PRId64, t.time_ms);
		snprintf(off, sizeof(off), "%d", t.utc_offset_min);
		snprintf(outc, sizeof(outc), "%u", t.outcome);
		snprintf(fl, sizeof(fl), "%u", t.flags);
		snprintf(acc, sizeof(acc), "%" PRIu64, t.account_id);
		snprintf(vc, sizeof(vc), "%u", t.vclass);
		snprintf(est, sizeof(est), "%" PRIu32, t.entry_station);
		snprintf(etm, sizeof(etm), "%" PRId64, t.entry_time_ms);
		snprintf(fee, sizeof(fee), "%" PRId64, t.fee_vnd);
		snprintf(key, sizeof(key), "\\x%08" PRIx32, t.key_id);
		payload[0] = '\\';
		payload[1] = 'x';
		toll_hex_encode(b, TOLL_TXN_BYTES, payload + 2);
		toll_sha256(b, TOLL_TXN_BYTES, h);
		hash[0] = '\\';
		hash[1] = 'x';
		toll_hex_encode(h, 32, hash + 2);
		const char *p[17] = {uuid, st, ln, seq, tm, off, outc, fl, epc, acc, vc, est, etm, fee, key, payload, hash};
		PGresult *r = PQexecPrepared(L->pg, "naive", 17, p, NULL, NULL, 0);
		int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "1") == 0;
		if (!ok)
			lane_fail(L, "seq %u not posted: %s", k + 1, PQresultErrorMessage(r));
		PQclear(r);
		if (!ok)
			break;
	}
	return NULL;
}

static double
naive(uint64_t *done)
{
	pthread_t th[64];
	uint64_t total = 0;

	pthread_barrier_init(&go, NULL, o.clients + 1);
	for (unsigned k = 0; k < o.clients; k++) {
		struct lane *L = &lanes[o.lanes + k];
		L->pg = pg_open();
		/* durable commits; the statement prepared once and planned once
		 * (a generic plan: custom plans cost it ~15 % here) */
		PGresult *r = PQexec(L->pg, "SET synchronous_commit = on; SET plan_cache_mode = force_generic_plan");
		PQclear(r);
		r = PQprepare(L->pg, "naive", NAIVE_SQL, 17, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			die("cannot prepare the naive statement: %s", PQresultErrorMessage(r));
		PQclear(r);
		total += L->n;
		if (pthread_create(&th[k], NULL, naive_client, L) != 0)
			die("cannot start a thread");
	}
	pthread_barrier_wait(&go);
	double t0 = now_s();
	for (unsigned k = 0; k < o.clients; k++)
		pthread_join(th[k], NULL);
	double dt = now_s() - t0;
	pthread_barrier_destroy(&go);
	for (unsigned k = 0; k < o.clients; k++) {
		struct lane *L = &lanes[o.lanes + k];
		PQfinish(L->pg);
		if (L->fail[0])
			die("naive baseline: %s", L->fail);
	}
	*done = total;
	return (double)total / dt;
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
		if (strcmp(k, "--lanes") == 0)
			u = &o.lanes;
		else if (strcmp(k, "--records") == 0)
			u = &o.records;
		else if (strcmp(k, "--batch") == 0)
			u = &o.batch;
		else if (strcmp(k, "--accounts") == 0)
			u = &o.accounts;
		else if (strcmp(k, "--naive") == 0)
			u = &o.naive;
		else if (strcmp(k, "--clients") == 0)
			u = &o.clients;
		else if (strcmp(k, "--verify") == 0)
			u = &o.verify;
		else if (strcmp(k, "--seed") == 0)
			o.seed = strtoull(v, NULL, 10);
		else if (strcmp(k, "--url") == 0)
			o.url = v;
		else if (strcmp(k, "--status") == 0)
			o.status = v;
		else if (strcmp(k, "--pid") == 0)
			o.pid = strtol(v, NULL, 10);
		else if (strcmp(k, "--pg-pid") == 0)
			o.pg_pid = strtol(v, NULL, 10);
		else
			die("unknown option %s", k);
		if (u != NULL)
			*u = (unsigned)strtoul(v, NULL, 10);
	}
	if (o.lanes < 1 || o.lanes > 4096 || o.records < PHASE1_PARTS || o.batch < 1 ||
	    o.batch > TOLL_UMSG_BATCH_MAX || o.accounts < 1 || o.clients < 1 || o.clients > 64 ||
	    o.naive < o.clients || o.verify < 2)
		die("options out of range (lanes 1..4096, records >= %d, batch 1..%d, clients 1..64, naive >= clients)",
		    PHASE1_PARTS, TOLL_UMSG_BATCH_MAX);
}

int
main(int argc, char **argv)
{
	char a[32], b[32];

	toll_log_init("bench_central", LOG_WARNING);
	if (argc < 2 || (strcmp(argv[1], "setup") != 0 && strcmp(argv[1], "run") != 0)) {
		fprintf(stderr, "usage: bench_central setup|run [--lanes N --records N ...] (see bench/central/run)\n");
		return 2;
	}
	parse(argc, argv);
	if (strcmp(argv[1], "setup") == 0) {
		setup_sql();
		return 0;
	}
	if (o.url[0] == 0 || o.pid <= 0)
		die("run wants --url and --pid");
	setvbuf(stdout, NULL, _IOLBF, 0);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned cpus = ncpu < 1 ? 1 : ncpu > 256 ? 256 : (unsigned)ncpu;

	/* every record signed before anything is timed */
	nlanes_all = o.lanes + o.clients;
	lanes = calloc(nlanes_all, sizeof(*lanes));
	if (lanes == NULL)
		die("out of memory");
	for (unsigned i = 0; i < nlanes_all; i++) {
		struct lane *L = &lanes[i];
		uint8_t pub[32];
		lane_ids(i, &L->station, &L->lane);
		L->key = lane_key(L->station, L->lane);
		toll_signer_public(L->key, pub);
		if (toll_verifier_new(pub, &L->ver) != 0)
			die("cannot make a verifier");
		L->n = i < o.lanes ? o.records : o.naive / o.clients + (i - o.lanes < o.naive % o.clients);
	}
	uint64_t e2e_total = (uint64_t)o.lanes * o.records;
	fprintf(stderr, "bench/central: signing %s + %s records on %u threads...\n", num(a, sizeof(a), (double)e2e_total),
		num(b, sizeof(b), o.naive), cpus);
	pthread_t th[256];
	for (unsigned i = 0; i < cpus; i++)
		if (pthread_create(&th[i], NULL, gen_thread, NULL) != 0)
			die("cannot start a thread");
	for (unsigned i = 0; i < cpus; i++)
		pthread_join(th[i], NULL);

	/* the ceiling, toll-central idle: half the records before the end to
	 * end phases, half after; the better of the two (the machine is
	 * shared) */
	fprintf(stderr, "bench/central: verify ceiling (%s records)...\n", num(a, sizeof(a), o.verify));
	double ceiling = verify_ceiling(cpus, 0, o.verify / 2);

	/* end to end: a fifth of every lane, then the rest (4x the backlog) */
	connect_lanes();
	uint64_t upto1 = o.records / PHASE1_PARTS, sent1, sent2;
	fprintf(stderr, "bench/central: end to end, %s records...\n", num(a, sizeof(a), (double)e2e_total));
	(void)stream(upto1, &sent1); /* also the warm-up: the figure is phase 2's */
	long hwm1 = proc_kb("VmHWM");
	double c0 = cpu_s(o.pid, 0), p0 = o.pg_pid > 0 ? cpu_s(o.pg_pid, 1) : 0, s0 = cpu_s(getpid(), 0),
	       i0 = machine_idle_s(), w0 = now_s();
	double rate2 = stream(o.records, &sent2);
	double cpu_central = cpu_s(o.pid, 0) - c0, cpu_pg = o.pg_pid > 0 ? cpu_s(o.pg_pid, 1) - p0 : 0,
	       cpu_self = cpu_s(getpid(), 0) - s0, wall2 = now_s() - w0,
	       idle2 = machine_idle_s() - i0;
	long hwm2 = proc_kb("VmHWM");
	uint64_t retries = 0, timeouts = 0;
	for (unsigned i = 0; i < o.lanes; i++) {
		retries += lanes[i].retries;
		timeouts += lanes[i].timeouts;
		nng_close(lanes[i].sock);
	}
	char st[4096];
	central_status(st, sizeof(st));
	double ceiling2 = verify_ceiling(cpus, o.verify / 2, o.verify - o.verify / 2);
	if (ceiling2 > ceiling)
		ceiling = ceiling2;

	fprintf(stderr, "bench/central: naive baseline, %s records...\n", num(a, sizeof(a), o.naive));
	uint64_t naive_done;
	double naive_rate = naive(&naive_done);

	check_ledger(e2e_total, naive_done);

	double pct = 100.0 * rate2 / ceiling, x = rate2 / naive_rate;
	char label[128];
	printf("bench/central: %u lanes x %s records (%u station%s), batch %u, %s customer accounts, %u CPUs\n",
	       o.lanes, num(a, sizeof(a), o.records), stations_e2e(), stations_e2e() == 1 ? "" : "s", o.batch,
	       num(b, sizeof(b), o.accounts), cpus);
	snprintf(label, sizeof(label), "verify ceiling, Ed25519 verify only (%u threads)", cpus);
	printf("  %-54s %8s records/s (the better of before and after)\n", label, num(a, sizeof(a), ceiling));
	snprintf(label, sizeof(label), "end to end, durable before ack (%u lanes)", o.lanes);
	printf("  %-54s %8s records/s = %.0f %% of the ceiling (target >= 70 %%: %s)\n", label,
	       num(a, sizeof(a), rate2), pct, pct >= 70.0 ? "met" : "NOT met");
	snprintf(label, sizeof(label), "naive, 1 autocommit transaction a record (%u clients)", o.clients);
	printf("  %-54s %8s records/s; end to end = %.1fx (target >= 5x: %s)\n", label, num(a, sizeof(a), naive_rate),
	       x, x >= 5.0 ? "met" : "NOT met");
	printf("  toll-central peak RSS %.1f MB after a backlog of %s records, %.1f MB after %s more (%ux)\n",
	       hwm1 / 1024.0, num(a, sizeof(a), (double)sent1), hwm2 / 1024.0, num(b, sizeof(b), (double)sent2),
	       PHASE1_PARTS - 1);
	uint64_t groups = status_field(st, "groups"), batches = status_field(st, "batches"),
		 recs = status_field(st, "records");
	if (groups > 0)
		printf("  toll-central: %s database transactions of %.1f batches (%s records) on average;"
		       " %" PRIu64 " RETRY answers, %" PRIu64 " timeouts\n",
		       num(a, sizeof(a), (double)groups), (double)batches / (double)groups,
		       num(b, sizeof(b), (double)recs / (double)groups), retries, timeouts);
	printf("  CPU for the %s: toll-central %.1f s (verifying alone %.1f s), PostgreSQL %.1f s, lanes %.1f s,"
	       " idle %.1f s, of %u x %.1f s\n",
	       num(a, sizeof(a), (double)sent2), cpu_central, (double)sent2 * cpus / ceiling, cpu_pg, cpu_self, idle2,
	       cpus, wall2);
	printf("  ledger checked: %s + %s transactions, each (lane, seq) once, posted once, balances sum to 0"
	       " and equal their entries\n",
	       num(a, sizeof(a), (double)e2e_total), num(b, sizeof(b), (double)naive_done));
	return 0;
}
