/* test_list.c: central's tag status list publisher against a real
 * PostgreSQL and the real toll-central (docs/taglist-sync.md):
 *   - the first start writes snapshot 1; fetched in chunks, its SHA-256 and
 *     central's signature check out and it loads as a lane list with what
 *     the database holds;
 *   - a tag blocked with toll-admin reaches a subscriber as a signed delta
 *     within a second, version after version;
 *   - a change by a transaction that began before, and committed after,
 *     another one's (transaction ids are not in commit order) is still
 *     published: the horizon;
 *   - GET_DELTAS: the deltas after a version, in order, each verifying;
 *     "too old" for a lane without a list, "unknown" for a future version;
 *   - heartbeats carry the latest version, signed;
 *   - central killed with kill -9 and started again: versions go on, a
 *     change made while it was down is published;
 *   - a forged delta (another key) fails verification with central's key;
 *   - passes: one made with toll-admin reaches the subscriber with its
 *     station and last day; revoked, the tag comes again without it; one
 *     made before its first day is not sent until that day comes (the
 *     publisher stamps it then); of two current passes the one ending last
 *     is sent; a later snapshot carries the passes (and not the one that
 *     has not begun);
 *   - thresholds per class: a class-5 vehicle added to an account turns it
 *     low at the class-5 threshold, and lowering that threshold makes it
 *     valid again, each reaching the subscriber. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>

#include "crypto.h"
#include "err.h"
#include "itest.h"
#include "itest_pg.h"
#include "lane_taglist.h"
#include "tslmsg.h"

static char dir[256], pgdir[300], keyfile[300], listdir[300], sock_path[300];
static char url_up[64], url_pub[64], url_rep[64];
static struct itest_proc central;
static PGconn *pg;
static struct toll_verifier *central_key;
static uint32_t central_key_id;
static nng_socket sub;
static uint8_t *msgbuf;

#define sql_ok itest_sql_ok

static void
load_env(void)
{
	if (itest_pg_env(pgdir) != 0)
		exit(1);
}

static void
central_start_with(const char *extra)
{
	char log[320], a[100], b[100], c[100], d[340], e[340], k[340];
	snprintf(log, sizeof(log), "%s/central.log", dir);
	snprintf(a, sizeof(a), "listen=%s", url_up);
	snprintf(b, sizeof(b), "list.publish=%s", url_pub);
	snprintf(c, sizeof(c), "list.listen=%s", url_rep);
	snprintf(d, sizeof(d), "list.dir=%s", listdir);
	snprintf(e, sizeof(e), "control.socket=%s", sock_path);
	snprintf(k, sizeof(k), "list.key=%s", keyfile);
	char *const argv[] = {(char *)itest_bin("toll-central"), "run", "--set", a, "--set", b, "--set", c,
			      "--set", d, "--set", e, "--set", k, "--set", "list.interval=100ms",
			      "--set", "list.heartbeat=300ms", "--set", "db.retry_max=500ms",
			      extra ? "--set" : NULL, (char *)extra, NULL};
	if (itest_start(&central, log, argv) != 0)
		exit(1);
}

static void
central_start(void)
{
	central_start_with(NULL);
}

/* One request on a fresh req socket; the answer decoded into *m (its
 * bytes in msgbuf). */
static int
request(const uint8_t *req, size_t len, struct toll_tsl_msg *m, size_t *outlen)
{
	nng_socket s;
	nng_msg *q, *r;
	int rv = nng_req0_open(&s);
	if (rv != 0)
		return -1;
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if (nng_dial(s, url_rep, NULL, 0) != 0 || nng_msg_alloc(&q, 0) != 0) {
		nng_close(s);
		return -1;
	}
	nng_msg_append(q, req, len);
	if (nng_sendmsg(s, q, 0) != 0 || nng_recvmsg(s, &r, 0) != 0) {
		nng_close(s);
		return -1;
	}
	nng_close(s);
	*outlen = nng_msg_len(r);
	if (*outlen > TOLL_TSL_MAX_BYTES) {
		nng_msg_free(r);
		return -1;
	}
	memcpy(msgbuf, nng_msg_body(r), *outlen);
	nng_msg_free(r);
	return toll_tsl_decode(msgbuf, *outlen, m) == 0 ? 0 : -1;
}

/* The newest snapshot, whole: its version; the list loaded into *out. */
static uint64_t
fetch_snapshot(struct lane_taglist **out)
{
	static uint8_t *file;
	uint64_t total = 0, off = 0, version = 0;
	uint8_t sha[32], sig[64];
	struct toll_tsl_msg m;
	size_t len;
	char err[256];

	*out = NULL;
	do {
		uint8_t req[64];
		size_t rlen;
		if (toll_tsl_encode_get_snapshot(req, sizeof(req), version, off, 64 * 1024, &rlen) != 0 ||
		    request(req, rlen, &m, &len) != 0 || m.type != TOLL_TSL_SNAPSHOT)
			return 0;
		if (off == 0) {
			total = m.total_bytes;
			version = m.list_version;
			memcpy(sha, m.sha256, 32);
			memcpy(sig, m.snapshot_sig, 64);
			free(file);
			file = malloc(total);
			if (file == NULL)
				return 0;
		}
		if (m.aux != off || m.total_bytes != total || off + m.chunk_len > total || m.chunk_len == 0)
			return 0;
		memcpy(file + off, m.chunk, m.chunk_len);
		off += m.chunk_len;
	} while (off < total);
	uint8_t got[32];
	toll_sha256(file, total, got);
	ITEST_CHECK(memcmp(got, sha, 32) == 0, "the snapshot's SHA-256 is the one announced");
	ITEST_CHECK(toll_tsl_snapshot_verify(central_key, version, total, sha, sig) == 0,
		    "the snapshot is signed by central's list key");
	ITEST_CHECK(lane_taglist_load_mem(file, total, out, err, sizeof(err)) == 0, "the snapshot loads: %s", err);
	return version;
}

/* Wait up to ms for a published DELTA of version want; verifies it and
 * decodes it into *m (bytes in msgbuf).  Heartbeats on the way are checked
 * and skipped; *late gets the milliseconds waited. */
static int
wait_delta(uint64_t want, struct toll_tsl_msg *m, int ms, int64_t *late)
{
	int64_t start = itest_now_ms();
	while (itest_now_ms() - start < ms) {
		nng_msg *r;
		if (nng_recvmsg(sub, &r, 0) != 0)
			continue;
		size_t len = nng_msg_len(r);
		if (len <= TOLL_TSL_MAX_BYTES)
			memcpy(msgbuf, nng_msg_body(r), len);
		nng_msg_free(r);
		if (len > TOLL_TSL_MAX_BYTES || toll_tsl_decode(msgbuf, len, m) != 0)
			return -1;
		if (toll_tsl_verify(msgbuf, len, central_key) != 0)
			return -2;
		if (m->type == TOLL_TSL_DELTA && m->list_version == want) {
			*late = itest_now_ms() - start;
			return 0;
		}
		if (m->type == TOLL_TSL_DELTA && m->list_version > want)
			return -3; /* skipped one */
	}
	return -4;
}

/* The tag of a decoded DELTA with this EPC (hex), or -1. */
static int
delta_tag(const struct toll_tsl_msg *m, const char *epc_hex, struct toll_tsl_tag *out)
{
	struct toll_tsl_iter it;
	uint8_t epc[32] = {0};
	size_t digits = strlen(epc_hex);
	toll_hex_decode(epc_hex, epc, digits / 2);
	if (toll_tsl_tags(m, &it) != 0)
		return -1;
	while (toll_tsl_next_tag(&it, out) == 0)
		if (out->epc_bits == 4 * digits && memcmp(out->epc, epc, digits / 2) == 0)
			return 0;
	return -1;
}

static int
admin(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return itest_run("%s %s >>%s/admin.log 2>&1", itest_bin("toll-admin"), cmd, dir);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	struct toll_tsl_msg m;
	struct toll_tsl_tag t;
	struct lane_taglist *list = NULL;
	int64_t late = 0;

	msgbuf = malloc(TOLL_TSL_MAX_BYTES);
	snprintf(dir, sizeof(dir), "%s/toll-list-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (msgbuf == NULL || mkdtemp(dir) == NULL || chmod(dir, 0755) != 0)
		return 1;
	snprintf(pgdir, sizeof(pgdir), "%s/pg", dir);
	snprintf(keyfile, sizeof(keyfile), "%s/list.key", dir);
	snprintf(listdir, sizeof(listdir), "%s/list", dir);
	snprintf(sock_path, sizeof(sock_path), "%s/central.sock", dir);
	int port = itest_free_ports(3);
	snprintf(url_up, sizeof(url_up), "tcp://127.0.0.1:%d", port);
	snprintf(url_pub, sizeof(url_pub), "tcp://127.0.0.1:%d", port + 1);
	snprintf(url_rep, sizeof(url_rep), "tcp://127.0.0.1:%d", port + 2);
	unsetenv("DATABASE_URL");
	if (itest_run("%s/scripts/pg-embedded start %s >>%s/pg.log 2>&1", getenv("TOLL_TOP") ? getenv("TOLL_TOP") : ".",
		      pgdir, dir) != 0) {
		fprintf(stderr, "pg-embedded start failed (%s/pg.log)\n", dir);
		return 1;
	}
	load_env();
	if (itest_run("%s --migrate >>%s/migrate.log 2>&1", itest_bin("toll-central"), dir) != 0)
		return 1;
	/* central's list key, and its public half for the "lane" here */
	uint8_t pub[32];
	if (toll_key_generate(keyfile, pub) != 0 || toll_verifier_new(pub, &central_key) != 0)
		return 1;
	central_key_id = toll_key_id(pub);
	pg = PQconnectdb("");
	if (PQstatus(pg) != CONNECTION_OK)
		return 1;

	/* 300 accounts, a vehicle and a tag each; account 7 low, 8 invalid */
	ITEST_CHECK(sql_ok(pg, "INSERT INTO accounts (id, kind, balance_vnd, status) SELECT i, 'customer',"
			       " CASE i WHEN 7 THEN 50000 WHEN 8 THEN -1000 ELSE 500000 END,"
			       " CASE i WHEN 7 THEN 1 WHEN 8 THEN 2 ELSE 0 END FROM generate_series(1, 300) i;"
			       "INSERT INTO vehicles (account_id, vclass, plate) SELECT i, 1 + i %% 5, '51A' || lpad(i::text, 5, '0')"
			       " FROM generate_series(1, 300) i;"
			       "INSERT INTO tags (epc_hex, vehicle_id) SELECT '3034' || lpad(to_hex(i), 20, '0'), i"
			       " FROM generate_series(1, 300) i"),
		    "accounts, vehicles and tags");

	nng_sub0_open(&sub);
	nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "", 0);
	nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 100);
	nng_dial(sub, url_pub, NULL, NNG_FLAG_NONBLOCK);
	central_start();

	/* 1. snapshot 1 */
	uint64_t v = 0;
	for (int i = 0; i < 100 && v == 0; i++) {
		v = fetch_snapshot(&list);
		if (v == 0)
			itest_sleep_ms(100);
	}
	ITEST_CHECK(v == 1, "the first snapshot is version 1 (got %" PRIu64 ")", v);
	ITEST_CHECK(list != NULL && lane_taglist_count(list) == 300, "300 tags in it");
	if (list != NULL) {
		struct lane_tag_info info;
		uint8_t epc[12];
		toll_hex_decode("303400000000000000000007", epc, 12);
		ITEST_CHECK(lane_taglist_lookup(list, epc, 96, NULL, &info) == 0 && info.account_id == 7 &&
				    info.status == LANE_TAG_LOW_BALANCE && info.balance_vnd == 50000 &&
				    strcmp(info.plate, "51A00007") == 0 && info.vclass == 3,
			    "tag 7 as the database has it (status %u balance %" PRId64 ")", info.status, info.balance_vnd);
		lane_taglist_free(list);
	}

	/* 2. a tag blocked with toll-admin: a delta within a second.  First
	 * the subscription must be up: a heartbeat has come through it */
	{
		int up = 0;
		int64_t start = itest_now_ms();
		while (!up && itest_now_ms() - start < 5000) {
			nng_msg *r;
			if (nng_recvmsg(sub, &r, 0) != 0)
				continue;
			size_t len = nng_msg_len(r);
			if (len <= TOLL_TSL_MAX_BYTES) {
				memcpy(msgbuf, nng_msg_body(r), len);
				up = toll_tsl_decode(msgbuf, len, &m) == 0 && m.type == TOLL_TSL_HEARTBEAT;
			}
			nng_msg_free(r);
		}
		ITEST_CHECK(up, "the subscription hears heartbeats");
	}
	ITEST_CHECK(admin("tag block 30340000000000000000000a blacklisted") == 0, "toll-admin tag block");
	int rc = wait_delta(v + 1, &m, 3000, &late);
	ITEST_CHECK(rc == 0, "delta %" PRIu64 " published (%d)", v + 1, rc);
	ITEST_CHECK(rc == 0 && late < 1000, "within a second of the commit (%" PRId64 " ms)", late);
	ITEST_CHECK(rc == 0 && delta_tag(&m, "30340000000000000000000a", &t) == 0 && t.status == 2 && t.reason == 1 &&
			    t.account_id == 10,
		    "it carries the tag, invalid, blacklisted");
	ITEST_CHECK(rc == 0 && m.key_id == central_key_id, "signed by central's list key");
	if (rc == 0)
		v++;

	/* 3. the horizon: T1 stamps a tag first but commits after T2 */
	{
		PGconn *t1 = PQconnectdb("");
		ITEST_CHECK(sql_ok(t1, "BEGIN; UPDATE tags SET status = 2, reason = 2,"
				       " list_xid = pg_current_xact_id()::text::bigint WHERE epc_hex = '30340000000000000000000b'"),
			    "T1 begun");
		ITEST_CHECK(sql_ok(pg, "UPDATE tags SET status = 2, reason = 3, list_xid = pg_current_xact_id()::text::bigint"
				       " WHERE epc_hex = '30340000000000000000000c'"),
			    "T2 committed");
		rc = wait_delta(v + 1, &m, 3000, &late);
		ITEST_CHECK(rc == 0 && delta_tag(&m, "30340000000000000000000c", &t) == 0 && t.reason == 3,
			    "T2's change published (%d)", rc);
		ITEST_CHECK(rc != 0 || delta_tag(&m, "30340000000000000000000b", &t) != 0, "T1's not yet");
		if (rc == 0)
			v++;
		/* while T1 stays open, T2's row is seen again by every scan:
		 * published once, not again and again */
		rc = wait_delta(v + 1, &m, 600, &late);
		ITEST_CHECK(rc == -4, "nothing new published while T1 is open (%d)", rc);
		ITEST_CHECK(sql_ok(t1, "COMMIT"), "T1 committed");
		PQfinish(t1);
		int found = 0;
		for (int i = 0; i < 5 && !found; i++) {
			rc = wait_delta(v + 1, &m, 2000, &late);
			if (rc == 0) {
				v++;
				found = delta_tag(&m, "30340000000000000000000b", &t) == 0 && t.reason == 2;
			}
		}
		ITEST_CHECK(found, "T1's change published after its commit");
	}

	/* 4. a top-up-like change of an account: its balance and its tag */
	ITEST_CHECK(sql_ok(pg, "UPDATE accounts SET balance_vnd = 900000, status = 0,"
			       " list_xid = pg_current_xact_id()::text::bigint WHERE id = 7"),
		    "account 7 topped up");
	rc = wait_delta(v + 1, &m, 3000, &late);
	{
		struct toll_tsl_iter it;
		struct toll_tsl_account a;
		int seen = 0;
		if (rc == 0 && toll_tsl_accounts(&m, &it) == 0)
			while (toll_tsl_next_account(&it, &a) == 0)
				seen |= a.id == 7 && a.balance_vnd == 900000;
		ITEST_CHECK(seen, "the new balance is in delta %" PRIu64 " (%d)", v + 1, rc);
		ITEST_CHECK(rc == 0 && delta_tag(&m, "303400000000000000000007", &t) == 0 && t.status == 0,
			    "and the account's tag, valid again");
		if (rc == 0)
			v++;
	}

	/* 4b. passes (station time: toll_today()) */
	{
		char today[16], tomorrow[16];
		int64_t d0 = itest_sql_int(pg, "SELECT to_char(toll_today(), 'YYYYMMDD')::bigint");
		int64_t d1 = itest_sql_int(pg, "SELECT to_char(toll_today() + 1, 'YYYYMMDD')::bigint");
		snprintf(today, sizeof(today), "%04d-%02d-%02d", (int)(d0 / 10000), (int)(d0 / 100 % 100), (int)(d0 % 100));
		snprintf(tomorrow, sizeof(tomorrow), "%04d-%02d-%02d", (int)(d1 / 10000), (int)(d1 / 100 % 100),
			 (int)(d1 % 100));
		ITEST_CHECK(admin("station add 101 --role open") == 0 && admin("station add 102 --role open") == 0,
			    "stations 101 and 102");
		/* vehicle 30, tag ...1e */
		ITEST_CHECK(admin("pass add 30 101 --kind monthly --from %s", today) == 0, "a monthly pass from %s", today);
		int64_t until = itest_sql_int(pg, "SELECT last_day - DATE '1970-01-01' FROM passes WHERE vehicle_id = 30");
		rc = wait_delta(v + 1, &m, 3000, &late);
		ITEST_CHECK(rc == 0 && delta_tag(&m, "30340000000000000000001e", &t) == 0 &&
				    (t.flags & TOLL_TSL_TAG_F_PASS) && t.pass_station == 101 && t.pass_until_day == until,
			    "the pass reaches the lanes: station 101, last day %" PRId64 " (%d: flags %u station %u day %u)",
			    until, rc, t.flags, t.pass_station, t.pass_until_day);
		ITEST_CHECK(rc == 0 && late < 1000, "within a second (%" PRId64 " ms)", late);
		if (rc == 0)
			v++;
		int64_t id = itest_sql_int(pg, "SELECT id FROM passes WHERE vehicle_id = 30");
		ITEST_CHECK(admin("pass revoke %" PRId64 " --reason refunded", id) == 0, "pass %" PRId64 " revoked", id);
		rc = wait_delta(v + 1, &m, 3000, &late);
		ITEST_CHECK(rc == 0 && delta_tag(&m, "30340000000000000000001e", &t) == 0 && !(t.flags & TOLL_TSL_TAG_F_PASS) &&
				    t.pass_station == 0 && t.account_id == 30,
			    "revoked: the next delta has the tag without a pass (%d)", rc);
		if (rc == 0)
			v++;

		/* a pass from tomorrow: not sent before its first day */
		ITEST_CHECK(admin("pass add 30 101 --kind quarterly --from %s", tomorrow) == 0, "a quarterly pass from %s",
			    tomorrow);
		rc = wait_delta(v + 1, &m, 3000, &late);
		ITEST_CHECK(rc == 0 && delta_tag(&m, "30340000000000000000001e", &t) == 0 && !(t.flags & TOLL_TSL_TAG_F_PASS),
			    "a pass that has not begun is not sent (%d, flags %u)", rc, t.flags);
		if (rc == 0)
			v++;
		rc = wait_delta(v + 1, &m, 600, &late);
		ITEST_CHECK(rc == -4, "and nothing more is published meanwhile (%d)", rc);
		/* its first day comes (moved, as the owner, without a stamp):
		 * the publisher stamps it and sends it */
		ITEST_CHECK(sql_ok(pg, "UPDATE passes SET first_day = toll_today() WHERE vehicle_id = 30 AND revoked_at IS NULL"),
			    "the pass's first day is today");
		until = itest_sql_int(pg, "SELECT last_day - DATE '1970-01-01' FROM passes WHERE vehicle_id = 30"
					  " AND revoked_at IS NULL");
		rc = wait_delta(v + 1, &m, 3000, &late);
		ITEST_CHECK(rc == 0 && delta_tag(&m, "30340000000000000000001e", &t) == 0 &&
				    (t.flags & TOLL_TSL_TAG_F_PASS) && t.pass_station == 101 && t.pass_until_day == until,
			    "on its first day the publisher sends it (%d: flags %u day %u, want %" PRId64 ")", rc, t.flags,
			    t.pass_until_day, until);
		if (rc == 0)
			v++;
		ITEST_CHECK(itest_sql_int(pg, "SELECT count(*) FROM passes WHERE awaiting_start") == 0,
			    "and no pass awaits its start any more");

		/* vehicle 31 (tag ...1f): passes at two stations; the lanes get
		 * the one ending last */
		ITEST_CHECK(admin("pass add 31 101 --kind monthly --from %s", today) == 0, "vehicle 31: monthly at 101");
		rc = wait_delta(v + 1, &m, 3000, &late);
		ITEST_CHECK(rc == 0 && delta_tag(&m, "30340000000000000000001f", &t) == 0 && t.pass_station == 101,
			    "sent (%d)", rc);
		if (rc == 0)
			v++;
		ITEST_CHECK(admin("pass add 31 102 --kind quarterly --from %s", today) == 0, "vehicle 31: quarterly at 102");
		rc = wait_delta(v + 1, &m, 3000, &late);
		ITEST_CHECK(rc == 0 && delta_tag(&m, "30340000000000000000001f", &t) == 0 && t.pass_station == 102 &&
				    t.pass_until_day == itest_sql_int(pg, "SELECT last_day - DATE '1970-01-01' FROM passes"
									  " WHERE vehicle_id = 31 AND station_id = 102"),
			    "of two current passes the one ending last is sent (%d: station %u)", rc, t.pass_station);
		if (rc == 0)
			v++;
		/* vehicle 32 (tag ...20): a pass from tomorrow, for the snapshot */
		ITEST_CHECK(admin("pass add 32 101 --kind monthly --from %s", tomorrow) == 0, "vehicle 32: from tomorrow");
		rc = wait_delta(v + 1, &m, 3000, &late);
		ITEST_CHECK(rc == 0 && delta_tag(&m, "303400000000000000000020", &t) == 0 && !(t.flags & TOLL_TSL_TAG_F_PASS),
			    "not sent yet (%d)", rc);
		if (rc == 0)
			v++;
	}

	/* 4c. low-balance thresholds per class: account 41 (tag ...29, a class
	 * 2 vehicle) holds 450,000 VND, valid under the class-1..4 thresholds */
	ITEST_CHECK(sql_ok(pg, "UPDATE accounts SET balance_vnd = 450000 WHERE id = 41"), "account 41 at 450,000 VND");
	ITEST_CHECK(admin("vehicle add 41 5 51C00041") == 0, "a class-5 vehicle for account 41");
	ITEST_CHECK(itest_sql_int(pg, "SELECT low_threshold_vnd FROM accounts WHERE id = 41") == 500000,
		    "its threshold is class 5's, 500,000");
	rc = wait_delta(v + 1, &m, 3000, &late);
	ITEST_CHECK(rc == 0 && delta_tag(&m, "303400000000000000000029", &t) == 0 && t.status == 1,
		    "the account is low at the class-5 threshold, and the lanes hear it (%d, status %u)", rc, t.status);
	if (rc == 0)
		v++;
	ITEST_CHECK(admin("threshold set 5 400000") == 0, "class 5's threshold lowered to 400,000");
	rc = wait_delta(v + 1, &m, 3000, &late);
	ITEST_CHECK(rc == 0 && delta_tag(&m, "303400000000000000000029", &t) == 0 && t.status == 0,
		    "account 41 is valid again, and the lanes hear it (%d, status %u)", rc, t.status);
	if (rc == 0)
		v++;
	/* account 4's class-5 vehicle came in by hand: its own 100,000 kept */
	ITEST_CHECK(itest_sql_int(pg, "SELECT low_threshold_vnd * 10 + (own_low_threshold_vnd = 100000)::int"
				      " FROM accounts WHERE id = 4") == 4000001,
		    "account 4: threshold 400,000 (class 5), its own 100,000 kept");
	ITEST_CHECK(itest_sql_int(pg, "SELECT count(*) FROM notifications WHERE account_id = 41 AND kind = 'status'") == 2,
		    "account 41's customer told of both changes");

	/* 5. GET_DELTAS */
	{
		uint8_t req[64];
		size_t rlen, len;
		ITEST_CHECK(toll_tsl_encode_get_deltas(req, sizeof(req), 1, 0, 101, 1, &rlen) == 0 &&
				    request(req, rlen, &m, &len) == 0 && m.type == TOLL_TSL_DELTAS,
			    "GET_DELTAS after 1 answered");
		ITEST_CHECK(m.type == TOLL_TSL_DELTAS && m.count == v - 1 && m.list_version == v && m.aux == v,
			    "deltas 2..%" PRIu64 " (count %u, last %" PRIu64 ", latest %" PRIu64 ")", v, m.count,
			    m.list_version, m.aux);
		if (m.type == TOLL_TSL_DELTAS) {
			struct toll_tsl_iter it;
			const uint8_t *d;
			size_t dlen;
			uint64_t want = 2;
			int ok = toll_tsl_deltas(&m, &it) == 0;
			while (ok && toll_tsl_next_delta(&it, &d, &dlen) == 0) {
				struct toll_tsl_msg dm;
				ok = toll_tsl_decode(d, dlen, &dm) == 0 && dm.list_version == want++ &&
				     toll_tsl_verify(d, dlen, central_key) == 0;
			}
			ITEST_CHECK(ok && want == v + 1, "each in order, each signed");
		}
		ITEST_CHECK(toll_tsl_encode_get_deltas(req, sizeof(req), 0, 0, 101, 1, &rlen) == 0 &&
				    request(req, rlen, &m, &len) == 0 && m.type == TOLL_TSL_ERROR &&
				    m.error_code == TOLL_TSL_ERR_TOO_OLD,
			    "a lane without a list is told to take a snapshot");
		ITEST_CHECK(toll_tsl_encode_get_deltas(req, sizeof(req), v + 50, 0, 101, 1, &rlen) == 0 &&
				    request(req, rlen, &m, &len) == 0 && m.type == TOLL_TSL_ERROR &&
				    m.error_code == TOLL_TSL_ERR_UNKNOWN_VERSION,
			    "a version central never made is refused");
	}

	/* 5b. bad requests: an error answer, central serves on */
	{
		uint8_t junk[100];
		size_t len, rlen;
		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)(i * 37 + 11);
		ITEST_CHECK(request(junk, sizeof(junk), &m, &len) == 0 && m.type == TOLL_TSL_ERROR &&
				    m.error_code == TOLL_TSL_ERR_MALFORMED,
			    "garbage: a malformed-request error");
		uint8_t req[64];
		ITEST_CHECK(toll_tsl_encode_get_snapshot(req, sizeof(req), 0, (uint64_t)1 << 40, 1024, &rlen) == 0 &&
				    request(req, rlen, &m, &len) == 0 && m.type == TOLL_TSL_ERROR &&
				    m.error_code == TOLL_TSL_ERR_MALFORMED,
			    "a snapshot offset past its end: refused");
		ITEST_CHECK(toll_tsl_encode_get_snapshot(req, sizeof(req), 999999, 0, 1024, &rlen) == 0 &&
				    request(req, rlen, &m, &len) == 0 && m.type == TOLL_TSL_ERROR &&
				    m.error_code == TOLL_TSL_ERR_UNKNOWN_VERSION,
			    "a snapshot version central never made: refused");
	}

	/* 6. heartbeats carry the latest version */
	{
		int seen = 0;
		int64_t start = itest_now_ms();
		while (!seen && itest_now_ms() - start < 3000) {
			nng_msg *r;
			if (nng_recvmsg(sub, &r, 0) != 0)
				continue;
			size_t len = nng_msg_len(r);
			memcpy(msgbuf, nng_msg_body(r), len < TOLL_TSL_MAX_BYTES ? len : TOLL_TSL_MAX_BYTES);
			nng_msg_free(r);
			if (toll_tsl_decode(msgbuf, len, &m) == 0 && m.type == TOLL_TSL_HEARTBEAT)
				seen = m.list_version == v && toll_tsl_verify(msgbuf, len, central_key) == 0 ? 1 : -1;
		}
		ITEST_CHECK(seen == 1, "a signed heartbeat of version %" PRIu64 " (%d)", v, seen);
	}

	/* 7. central killed; a change while it is down; started again */
	itest_kill9(&central);
	ITEST_CHECK(admin("account block 20 closed") == 0, "account 20 blocked while central is down");
	central_start();
	{
		/* as a lane would: the subscription may come back after the
		 * delta went out (pub/sub keeps nothing), so ask for it */
		uint8_t req[64];
		size_t rlen, len;
		int got = 0;
		for (int i = 0; i < 80 && !got; i++) {
			if (toll_tsl_encode_get_deltas(req, sizeof(req), v, 1, 101, 1, &rlen) == 0 &&
			    request(req, rlen, &m, &len) == 0 && m.type == TOLL_TSL_DELTAS && m.count == 1)
				got = 1;
			else
				itest_sleep_ms(100);
		}
		struct toll_tsl_iter it;
		const uint8_t *d;
		size_t dlen;
		struct toll_tsl_msg dm;
		ITEST_CHECK(got && toll_tsl_deltas(&m, &it) == 0 && toll_tsl_next_delta(&it, &d, &dlen) == 0 &&
				    toll_tsl_decode(d, dlen, &dm) == 0 && dm.list_version == v + 1 &&
				    toll_tsl_verify(d, dlen, central_key) == 0 &&
				    delta_tag(&dm, "303400000000000000000014", &t) == 0 && t.status == 2 && t.reason == 3,
			    "after the restart the change is version %" PRIu64 ", and no version was made twice", v + 1);
	}

	/* 8. a delta signed by another key does not verify with central's */
	{
		struct toll_signer *other;
		uint8_t seed[32];
		memset(seed, 0x42, sizeof(seed));
		toll_signer_from_seed(seed, &other);
		struct toll_tsl_builder b;
		size_t len;
		toll_tsl_delta_begin(&b, msgbuf, TOLL_TSL_MAX_BYTES, v + 1, 0, central_key_id);
		struct toll_tsl_account a = {5, 999999999};
		toll_tsl_delta_add_account(&b, &a);
		size_t slen;
		const uint8_t *signed_part = toll_tsl_signed_bytes(&b, &slen);
		uint8_t sig[64];
		toll_sign(other, signed_part, slen, sig);
		toll_tsl_finish_sig(&b, sig, &len);
		ITEST_CHECK(toll_tsl_verify(msgbuf, len, central_key) == TOLL_EBADSIG, "a forged delta is refused");
		toll_signer_free(other);
	}

	/* 9. a snapshot carries the passes: central again, writing one a
	 * second after a change */
	{
		int64_t before = itest_sql_int(pg, "SELECT max(version) FROM list_snapshots");
		int st0 = itest_stop(&central, 5000);
		ITEST_CHECK(st0 == 0, "toll-central stopped (status %d)", st0);
		central_start_with("list.snapshot_every=1s");
		ITEST_CHECK(admin("tag block 303400000000000000000028 replaced") == 0, "a change, for a snapshot");
		int64_t after = before;
		for (int i = 0; i < 100 && after <= before; i++) {
			itest_sleep_ms(100);
			after = itest_sql_int(pg, "SELECT COALESCE(max(version), 0) FROM list_snapshots");
		}
		ITEST_CHECK(after > before, "a new snapshot, version %" PRId64, after);
		uint64_t sv = fetch_snapshot(&list);
		ITEST_CHECK(sv == (uint64_t)after && list != NULL, "fetched (version %" PRIu64 ")", sv);
		if (list != NULL) {
			struct lane_tag_info info;
			uint8_t epc[12];
			int64_t u30 = itest_sql_int(pg, "SELECT last_day - DATE '1970-01-01' FROM passes"
							" WHERE vehicle_id = 30 AND revoked_at IS NULL");
			toll_hex_decode("30340000000000000000001e", epc, 12);
			ITEST_CHECK(lane_taglist_lookup(list, epc, 96, NULL, &info) == 0 && (info.flags & LANE_TAG_F_PASS) &&
					    info.pass_station == 101 && info.pass_until_day == u30 && info.account_id == 30,
				    "the snapshot holds vehicle 30's pass: station 101, last day %" PRId64 " (flags %u %u %u)",
				    u30, info.flags, info.pass_station, info.pass_until_day);
			toll_hex_decode("30340000000000000000001f", epc, 12);
			ITEST_CHECK(lane_taglist_lookup(list, epc, 96, NULL, &info) == 0 && (info.flags & LANE_TAG_F_PASS) &&
					    info.pass_station == 102,
				    "and vehicle 31's, the one ending last (station %u)", info.pass_station);
			toll_hex_decode("303400000000000000000020", epc, 12);
			ITEST_CHECK(lane_taglist_lookup(list, epc, 96, NULL, &info) == 0 && !(info.flags & LANE_TAG_F_PASS) &&
					    info.pass_station == 0,
				    "not vehicle 32's, which begins tomorrow");
			toll_hex_decode("303400000000000000000029", epc, 12);
			ITEST_CHECK(lane_taglist_lookup(list, epc, 96, NULL, &info) == 0 && info.status == LANE_TAG_VALID &&
					    info.balance_vnd == 450000,
				    "account 41 valid at 450,000 VND");
			lane_taglist_free(list);
			list = NULL;
		}
	}

	ITEST_CHECK(itest_run("%s status --socket %s | grep -q '^list publishing version='", itest_bin("toll-central"),
			      sock_path) == 0,
		    "status shows the list");
	int st = itest_stop(&central, 5000);
	ITEST_CHECK(st == 0, "toll-central stops cleanly (status %d)", st);
	nng_close(sub);
	PQfinish(pg);
	toll_verifier_free(central_key);
	itest_run("%s/scripts/pg-embedded stop %s >>%s/pg.log 2>&1", getenv("TOLL_TOP") ? getenv("TOLL_TOP") : ".", pgdir,
		  dir);
	free(msgbuf);
	if (itest_failed == 0)
		itest_run("rm -rf '%s'", dir);
	else
		fprintf(stderr, "kept %s\n", dir);
	return itest_finish();
}
