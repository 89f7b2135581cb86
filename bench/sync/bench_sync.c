/* bench_sync.c: the tag status list from central to many lanes
 * (bench/sync/run drives it).
 *
 *   bench_sync topups  --pub URL --rep URL --key HEX --lanes N --topups K --accounts A
 *       N subscribers (one NNG sub socket each, as N lanes would have) and
 *       one full lane: the newest snapshot fetched and loaded as a lane
 *       list, then every delta verified and applied.  K top-ups committed
 *       at central one after another (an account's balance and stamp, in
 *       one transaction); for each, the time from its COMMIT returning to
 *       the delta that carries it reaching each subscriber (verified), and
 *       to it being applied at the full lane.  Prints p50/p99/max.
 *   bench_sync catchup --rep URL --key HEX --changes C --rate R --accounts A
 *       the full lane goes away; C changes are committed at central (an
 *       account stamped each, R / 5 a transaction, each its own delta as
 *       central's 200 ms scans would make them at R changes a second);
 *       then the lane asks for everything after its version, verifies and
 *       applies it: changes applied a second, next to R.
 *
 * The database is reached through the PG* variables. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>

#include "clock.h"
#include "crypto.h"
#include "err.h"
#include "lane_sync.h"
#include "lane_taglist.h"
#include "tslmsg.h"

static const char *pub_url, *rep_url;
static struct toll_verifier *key;
static uint32_t key_id;
static uint8_t *rbuf;

static void
die(const char *what)
{
	fprintf(stderr, "bench_sync: %s\n", what);
	exit(1);
}

static void
sql(PGconn *c, const char *q)
{
	PGresult *r = PQexec(c, q);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bench_sync: %s: %s", q, PQresultErrorMessage(r));
		exit(1);
	}
	PQclear(r);
}

static int
request(const uint8_t *req, size_t len, struct toll_tsl_msg *m)
{
	nng_socket s;
	nng_msg *q, *r;
	if (nng_req0_open(&s) != 0)
		return -1;
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 60000);
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, TOLL_TSL_MAX_BYTES);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	int rc = -1;
	if (nng_dial(s, rep_url, NULL, 0) == 0 && nng_msg_alloc(&q, 0) == 0) {
		nng_msg_append(q, req, len);
		if (nng_sendmsg(s, q, 0) == 0 && nng_recvmsg(s, &r, 0) == 0) {
			size_t n = nng_msg_len(r);
			memcpy(rbuf, nng_msg_body(r), n);
			nng_msg_free(r);
			rc = toll_tsl_decode(rbuf, n, m) == 0 ? 0 : -1;
		}
	}
	nng_close(s);
	return rc;
}

static struct lane_taglist *
fetch_snapshot(void)
{
	uint64_t off = 0, total = 1, version = 0;
	uint8_t *file = NULL;
	struct toll_tsl_msg m;
	while (off < total) {
		uint8_t req[64];
		size_t rlen;
		toll_tsl_encode_get_snapshot(req, sizeof(req), version, off, 4u << 20, &rlen);
		if (request(req, rlen, &m) != 0 || m.type != TOLL_TSL_SNAPSHOT)
			die("no snapshot from central");
		if (off == 0) {
			total = m.total_bytes;
			version = m.list_version;
			file = malloc(total);
			if (file == NULL || toll_tsl_snapshot_verify(key, version, total, m.sha256, m.snapshot_sig) != 0)
				die("snapshot: no memory or not central's");
		}
		memcpy(file + off, m.chunk, m.chunk_len);
		off += m.chunk_len;
	}
	struct lane_taglist *l;
	char err[256];
	if (lane_taglist_load_mem(file, total, &l, err, sizeof(err)) != 0)
		die(err);
	free(file);
	return l;
}

/* Apply a verified DELTA to l as the lane does; the number of records. */
static uint32_t
apply(struct lane_taglist *l, const struct toll_tsl_msg *m)
{
	if (lane_sync_apply(l, NULL, m) != 0)
		die("a delta the list refused");
	return m->accounts + m->tags;
}

static uint32_t apply(struct lane_taglist *l, const struct toll_tsl_msg *m);

/* GET_DELTAS from l's version until central has no more. */
static void
bring_up(struct lane_taglist *l)
{
	struct toll_tsl_msg m;
	uint8_t req[64];
	size_t rlen;
	for (;;) {
		toll_tsl_encode_get_deltas(req, sizeof(req), lane_taglist_version(l), 0, 1, 1, &rlen);
		if (request(req, rlen, &m) != 0 || m.type != TOLL_TSL_DELTAS)
			die("GET_DELTAS");
		if (m.count == 0)
			return;
		struct toll_tsl_iter it;
		const uint8_t *d;
		size_t dlen;
		toll_tsl_deltas(&m, &it);
		while (toll_tsl_next_delta(&it, &d, &dlen) == 0) {
			struct toll_tsl_msg dm;
			if (toll_tsl_decode(d, dlen, &dm) == 0 && dm.list_version == lane_taglist_version(l) + 1)
				apply(l, &dm);
		}
	}
}

/* Which account ids a DELTA carries (the top-up accounts are 1..K). */
static void
accounts_in(const struct toll_tsl_msg *m, int64_t *seen_ms, int k, int64_t now, int *hits)
{
	struct toll_tsl_iter it;
	struct toll_tsl_account a;
	toll_tsl_accounts(m, &it);
	while (toll_tsl_next_account(&it, &a) == 0)
		if (a.id >= 1 && a.id <= (uint64_t)k && seen_ms[a.id - 1] == 0) {
			seen_ms[a.id - 1] = now;
			(*hits)++;
		}
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void
quantiles(const char *what, int64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp64);
	printf("  %-56s p50 %4" PRId64 " ms, p99 %4" PRId64 " ms, max %4" PRId64 " ms (n=%zu)\n", what,
	       v[n / 2], v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], v[n - 1], n);
}

/* ---- top-ups ------------------------------------------------------------- */

static int nlanes, ktopups;
static nng_socket *subs;
static int64_t *arrive; /* [lane][topup], monotonic ms */
static volatile int done;
static struct lane_taglist *full;
static int64_t *applied_at; /* [topup] at the full lane */

static void *
listener(void *arg)
{
	int lane0 = (int)(intptr_t)arg, step = 2;
	uint8_t *buf = malloc(TOLL_TSL_MAX_BYTES);
	while (!done) {
		int got = 0;
		for (int i = lane0; i < nlanes; i += step) {
			nng_msg *m;
			if (nng_recvmsg(subs[i], &m, NNG_FLAG_NONBLOCK) != 0)
				continue;
			got = 1;
			int64_t now = toll_mono_ms();
			size_t n = nng_msg_len(m);
			struct toll_tsl_msg d;
			memcpy(buf, nng_msg_body(m), n);
			nng_msg_free(m);
			if (toll_tsl_decode(buf, n, &d) != 0 || d.type != TOLL_TSL_DELTA)
				continue;
			if (toll_tsl_verify(buf, n, key) != 0)
				die("a delta that does not verify");
			int hits = 0;
			accounts_in(&d, &arrive[(size_t)i * (size_t)ktopups], ktopups, now, &hits);
			if (i == 0 && full != NULL) {
				/* lane 0 is the full lane: it applies what it gets */
				if (d.list_version == lane_taglist_version(full) + 1) {
					apply(full, &d);
					int64_t t = toll_mono_ms();
					struct toll_tsl_iter it;
					struct toll_tsl_account a;
					toll_tsl_accounts(&d, &it);
					while (toll_tsl_next_account(&it, &a) == 0)
						if (a.id >= 1 && a.id <= (uint64_t)ktopups && applied_at[a.id - 1] == 0)
							applied_at[a.id - 1] = t;
				}
			}
		}
		if (!got) {
			struct timespec ts = {0, 200000};
			nanosleep(&ts, NULL);
		}
	}
	free(buf);
	return NULL;
}

static int
topups(int accounts)
{
	PGconn *c = PQconnectdb("");
	if (PQstatus(c) != CONNECTION_OK)
		die("no database");
	int64_t t0 = toll_mono_ms();
	full = fetch_snapshot();
	printf("  full lane: snapshot of %zu tags, version %" PRIu64 ", fetched and loaded in %.1f s\n",
	       lane_taglist_count(full), lane_taglist_version(full), (toll_mono_ms() - t0) / 1000.0);
	subs = calloc((size_t)nlanes, sizeof(*subs));
	arrive = calloc((size_t)nlanes * (size_t)ktopups, sizeof(*arrive));
	applied_at = calloc((size_t)ktopups, sizeof(*applied_at));
	int64_t *committed = calloc((size_t)ktopups, sizeof(*committed));
	if (subs == NULL || arrive == NULL || applied_at == NULL || committed == NULL)
		die("no memory");
	for (int i = 0; i < nlanes; i++) {
		if (nng_sub0_open(&subs[i]) != 0)
			die("sub socket");
		nng_socket_set(subs[i], NNG_OPT_SUB_SUBSCRIBE, "", 0);
		nng_socket_set_size(subs[i], NNG_OPT_RECVMAXSZ, TOLL_TSL_MAX_BYTES);
		if (nng_dial(subs[i], pub_url, NULL, 0) != 0)
			die("cannot subscribe");
	}
	/* every subscriber has heard a heartbeat */
	uint8_t *buf = malloc(TOLL_TSL_MAX_BYTES);
	for (int i = 0; i < nlanes; i++) {
		nng_socket_set_ms(subs[i], NNG_OPT_RECVTIMEO, 5000);
		nng_msg *m;
		if (nng_recvmsg(subs[i], &m, 0) != 0)
			die("a subscriber heard nothing in 5 s");
		nng_msg_free(m);
	}
	free(buf);
	pthread_t th[2];
	for (int k = 0; k < 2; k++)
		pthread_create(&th[k], NULL, listener, (void *)(intptr_t)k);
	bring_up(full); /* deltas since its snapshot */
	char q[256];
	for (int k = 0; k < ktopups; k++) {
		snprintf(q, sizeof(q),
			 "UPDATE accounts SET balance_vnd = balance_vnd + 100000, list_xid = pg_current_xact_id()::text::bigint"
			 " WHERE id = %d",
			 k + 1);
		sql(c, q);
		committed[k] = toll_mono_ms();
		struct timespec ts = {0, 150 * 1000000L};
		nanosleep(&ts, NULL);
	}
	int64_t wait_until = toll_mono_ms() + 5000;
	while (toll_mono_ms() < wait_until) {
		int all = 1;
		for (size_t i = 0; i < (size_t)nlanes * (size_t)ktopups && all; i++)
			all = arrive[i] != 0;
		if (all)
			break;
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	done = 1;
	for (int k = 0; k < 2; k++)
		pthread_join(th[k], NULL);
	int64_t *all = calloc((size_t)nlanes * (size_t)ktopups, sizeof(*all)), *last = calloc((size_t)ktopups, sizeof(*last));
	int64_t *fl = calloc((size_t)ktopups, sizeof(*fl));
	size_t n = 0, missing = 0, nf = 0;
	for (int k = 0; k < ktopups; k++) {
		last[k] = 0;
		for (int i = 0; i < nlanes; i++) {
			int64_t a = arrive[(size_t)i * (size_t)ktopups + (size_t)k];
			if (a == 0) {
				missing++;
				continue;
			}
			all[n++] = a - committed[k];
			if (a - committed[k] > last[k])
				last[k] = a - committed[k];
		}
		if (applied_at[k] != 0)
			fl[nf++] = applied_at[k] - committed[k];
	}
	printf("  %d top-ups, %d subscribers (%zu deliveries missing after 5 s)\n", ktopups, nlanes, missing);
	if (n > 0)
		quantiles("commit -> delta verified at a subscriber", all, n);
	quantiles("commit -> delta at the last of the subscribers", last, (size_t)ktopups);
	if (nf > 0)
		quantiles("commit -> applied at the full lane (the whole list)", fl, nf);
	printf("  target: p99 under 1,000 ms at every lane: %s\n",
	       missing == 0 && last[((size_t)ktopups * 99) / 100 < (size_t)ktopups ? ((size_t)ktopups * 99) / 100 : (size_t)ktopups - 1] < 1000
		       ? "met"
		       : "NOT met");
	(void)accounts;
	PQfinish(c);
	return 0;
}

/* ---- catch-up -------------------------------------------------------------- */

static int
catchup(int changes, int rate, int accounts)
{
	PGconn *c = PQconnectdb("");
	if (PQstatus(c) != CONNECTION_OK)
		die("no database");
	struct lane_taglist *l = fetch_snapshot();
	struct toll_tsl_msg m;
	uint8_t req[64];
	size_t rlen;
	bring_up(l);
	uint64_t from = lane_taglist_version(l);
	/* the backlog as central makes it in production: a delta per 200 ms
	 * scan, so rate / 5 changes each (central runs with a 10 ms scan here
	 * and a pause between transactions gives each its own delta) */
	int64_t t0 = toll_mono_ms();
	char q[256];
	int batch = rate / 5 > 0 ? rate / 5 : 1;
	for (int done_ = 0; done_ < changes; done_ += batch) {
		int lo = 1 + done_ % (accounts - batch + 1), hi = lo + batch - 1;
		snprintf(q, sizeof(q),
			 "UPDATE accounts SET balance_vnd = balance_vnd - 1, list_xid = pg_current_xact_id()::text::bigint"
			 " WHERE id BETWEEN %d AND %d",
			 lo, hi);
		sql(c, q);
		struct timespec ts = {0, 15 * 1000000L};
		nanosleep(&ts, NULL);
	}
	/* wait until central has published it all (its latest version stops moving) */
	uint64_t latest = 0, prev = 1;
	while (latest != prev) {
		prev = latest;
		struct timespec ts = {0, 600 * 1000000L};
		nanosleep(&ts, NULL);
		toll_tsl_encode_get_deltas(req, sizeof(req), 0, 1, 1, 1, &rlen);
		if (request(req, rlen, &m) != 0)
			die("GET_DELTAS");
		latest = m.list_version; /* ERROR too old carries the latest */
	}
	printf("  backlog: %d changes in %" PRIu64 " deltas, made in %.1f s (the lane away)\n", changes, latest - from,
	       (toll_mono_ms() - t0) / 1000.0);
	/* catch up */
	int64_t c0 = toll_mono_ms();
	uint64_t records = 0;
	while (lane_taglist_version(l) < latest) {
		toll_tsl_encode_get_deltas(req, sizeof(req), lane_taglist_version(l), 0, 1, 1, &rlen);
		if (request(req, rlen, &m) != 0 || m.type != TOLL_TSL_DELTAS || m.count == 0)
			die("catch-up: GET_DELTAS");
		struct toll_tsl_iter it;
		const uint8_t *d;
		size_t dlen;
		toll_tsl_deltas(&m, &it);
		while (toll_tsl_next_delta(&it, &d, &dlen) == 0) {
			struct toll_tsl_msg dm;
			if (toll_tsl_decode(d, dlen, &dm) != 0 || toll_tsl_verify(d, dlen, key) != 0)
				die("catch-up: a delta that does not verify");
			if (dm.list_version == lane_taglist_version(l) + 1)
				records += apply(l, &dm);
		}
	}
	double secs = (toll_mono_ms() - c0) / 1000.0;
	if (secs < 0.001)
		secs = 0.001;
	double per_s = changes / secs;
	printf("  catch-up: %" PRIu64 " deltas (%" PRIu64 " records) fetched, verified and applied in %.2f s:"
	       " %.0f changes/s, %.0fx the %d/s they were made at (target >= 50x: %s)\n",
	       latest - from, records, secs, per_s, per_s / rate, rate, per_s / rate >= 50 ? "met" : "NOT met");
	lane_taglist_free(l);
	PQfinish(c);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *hex = NULL, *mode = argc > 1 ? argv[1] : "";
	int accounts = 1000, changes = 36000, rate = 10;
	nlanes = 200;
	ktopups = 50;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--pub") == 0)
			pub_url = argv[i + 1];
		else if (strcmp(argv[i], "--rep") == 0)
			rep_url = argv[i + 1];
		else if (strcmp(argv[i], "--key") == 0)
			hex = argv[i + 1];
		else if (strcmp(argv[i], "--lanes") == 0)
			nlanes = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--topups") == 0)
			ktopups = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--accounts") == 0)
			accounts = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--changes") == 0)
			changes = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--rate") == 0)
			rate = atoi(argv[i + 1]);
	}
	uint8_t pub[32];
	if (hex == NULL || toll_hex_decode(hex, pub, 32) != 0 || toll_verifier_new(pub, &key) != 0 || rep_url == NULL)
		die("usage: bench_sync topups|catchup --rep URL --key HEX [...]");
	key_id = toll_key_id(pub);
	if ((rbuf = malloc(TOLL_TSL_MAX_BYTES)) == NULL)
		die("no memory");
	if (nlanes < 1 || ktopups < 1 || ktopups > accounts || rate < 1 || accounts < rate)
		die("bad numbers");
	if (strcmp(mode, "topups") == 0 && pub_url != NULL)
		return topups(accounts);
	if (strcmp(mode, "catchup") == 0)
		return catchup(changes, rate, accounts);
	die("mode: topups or catchup");
	return 1;
}
