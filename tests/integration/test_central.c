/* test_central.c: toll-central against a real PostgreSQL (scripts/pg-embedded)
 * and real NNG requests carrying records signed here with test keys.
 *
 * After every step the ledger invariants are checked in SQL: balances sum
 * to zero, every balance equals its entries, every posted transaction has
 * exactly one toll entry, each (lane, seq) is stored once, and every seq
 * central acknowledged to a lane is stored (settled or, signed by the lane
 * with a broken chain, quarantined).
 *
 * Steps: one batch sent three times settles once; forged signature,
 * unknown key, revoked key, broken chain, same seq with other bytes,
 * another lane's record, an unregistered lane; a gap, then filled;
 * truncated and random-garbage messages dropped while central serves on;
 * a debit below zero makes the account invalid with notifications;
 * central killed with -9 with a batch in flight, restarted, the batch sent
 * again; PostgreSQL stopped under traffic (RETRY, nothing acknowledged),
 * started again, everything settles. */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "clock.h"
#include "crypto.h"
#include "err.h"
#include "itest.h"
#include "itest_pg.h"
#include "rng.h"
#include "txn.h"
#include "umsg.h"

#define STATION 101
#define NLANES 5

static char dir[256], pgdir[300], url[64], sock_path[300], conf_keys[64];
static struct itest_proc central;
static PGconn *pg;
static struct toll_rng rng;

/* per lane: its signer, where its chain is, what central acknowledged */
static struct lane {
	struct toll_signer *key;
	uint64_t seq;
	uint8_t hash[32];
	uint64_t acked;
} lanes[NLANES + 1];
static struct toll_signer *stranger; /* a key nobody registered */

/* ---- SQL -------------------------------------------------------------- */

static void
pg_connect(void)
{
	if (pg != NULL)
		PQfinish(pg);
	pg = PQconnectdb("");
	if (PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "cannot connect: %s", PQerrorMessage(pg));
		exit(1);
	}
}

/* the test's own connection */
#define sql_ok(...) itest_sql_ok(pg, __VA_ARGS__)
#define sql_int(...) itest_sql_int(pg, __VA_ARGS__)

static void
invariants(const char *when)
{
	ITEST_CHECK(sql_int("SELECT COALESCE(sum(balance_vnd), 0) FROM accounts") == 0,
		    "%s: balances do not sum to zero", when);
	ITEST_CHECK(sql_int("SELECT count(*) FROM accounts a WHERE a.balance_vnd <>"
			    " COALESCE((SELECT sum(amount_vnd) FROM ledger_entries WHERE credit_account = a.id), 0)"
			    " - COALESCE((SELECT sum(amount_vnd) FROM ledger_entries WHERE debit_account = a.id), 0)") == 0,
		    "%s: a balance differs from its entries", when);
	ITEST_CHECK(sql_int("SELECT count(*) FROM transactions t WHERE (t.disposition = 'posted') <>"
			    " ((SELECT count(*) FROM ledger_entries l WHERE l.txn_id = t.txn_id AND l.kind = 'toll') = 1)") == 0,
		    "%s: a posted transaction without exactly one entry, or an entry for an unposted one", when);
	ITEST_CHECK(sql_int("SELECT count(*) FROM ledger_entries l WHERE l.kind = 'toll' AND l.amount_vnd <>"
			    " (SELECT fee_vnd FROM transactions t WHERE t.txn_id = l.txn_id)") == 0,
		    "%s: an entry's amount is not its transaction's fee", when);
	/* the drivers' notices: one per debit, the balance right after it (here
	 * accounts only ever go down after their opening: the last is the lowest) */
	ITEST_CHECK(sql_int("SELECT count(*) FROM ledger_entries l WHERE l.kind = 'toll' AND (SELECT count(*) FROM"
			    " notifications n WHERE n.kind = 'debit' AND n.txn_id = l.txn_id AND n.amount_vnd = l.amount_vnd"
			    " AND n.account_id = l.debit_account) <> 1") == 0,
		    "%s: a debit without exactly one notice", when);
	ITEST_CHECK(sql_int("SELECT count(*) FROM accounts a WHERE a.kind = 'customer' AND EXISTS (SELECT 1 FROM notifications"
			    " n WHERE n.account_id = a.id AND n.kind = 'debit') AND a.balance_vnd <> (SELECT min(balance_vnd)"
			    " FROM notifications n WHERE n.account_id = a.id AND n.kind = 'debit')") == 0,
		    "%s: the last debit notice does not show the balance", when);
	ITEST_CHECK(sql_int("SELECT count(*) FROM (SELECT 1 FROM transactions GROUP BY station_id, lane_id, lane_seq"
			    " HAVING count(*) > 1) x") == 0,
		    "%s: a (lane, seq) stored twice", when);
	for (int l = 1; l <= NLANES; l++) {
		if (lanes[l].acked == 0)
			continue;
		int64_t have = sql_int("SELECT (SELECT count(*) FROM transactions WHERE station_id = %d AND lane_id = %d"
				       " AND lane_seq <= %" PRIu64 ") + (SELECT count(DISTINCT lane_seq) FROM quarantine"
				       " WHERE station_id = %d AND lane_id = %d AND reason IN ('chain', 'out-of-range', 'txn-id-conflict')"
				       " AND lane_seq <= %" PRIu64 ")",
				       STATION, l, lanes[l].acked, STATION, l, lanes[l].acked);
		ITEST_CHECK(have == (int64_t)lanes[l].acked, "%s: lane %d: %" PRId64 " records stored of %" PRIu64 " acknowledged",
			    when, l, have, lanes[l].acked);
		ITEST_CHECK(sql_int("SELECT acked_seq FROM lane_progress WHERE station_id = %d AND lane_id = %d", STATION,
				    l) == (int64_t)lanes[l].acked,
			    "%s: lane %d: lane_progress is not what central acknowledged", when, l);
	}
}

/* ---- records and requests ----------------------------------------------- */

struct rec {
	uint8_t b[TOLL_TXN_BYTES];
	uint64_t seq;
	uint8_t hash[32];
};

/* The lane's next record (its chain moves on) paying fee from account. */
static void
next_rec(int lane, uint64_t account, int64_t fee, struct rec *r)
{
	struct lane *L = &lanes[lane];
	struct toll_txn t;
	memset(&t, 0, sizeof(t));
	t.station_id = STATION;
	t.lane_id = (uint16_t)lane;
	t.lane_seq = ++L->seq;
	t.time_ms = toll_real_ms();
	toll_txn_new_id(t.time_ms, t.txn_id);
	t.utc_offset_min = 420;
	t.epc_bits = 96;
	t.epc[0] = 0x30;
	for (int i = 1; i < 12; i++)
		t.epc[i] = (uint8_t)toll_rng_next(&rng);
	t.account_id = account;
	t.vclass = 1;
	t.outcome = fee > 0 ? 1 : 5;
	t.fee_vnd = fee;
	memcpy(t.prev_hash, L->hash, 32);
	if (toll_txn_sign(&t, L->key) != 0 || toll_txn_encode(&t, r->b) != 0) {
		fprintf(stderr, "cannot sign\n");
		exit(1);
	}
	toll_txn_hash(&t, L->hash);
	memcpy(r->hash, L->hash, 32);
	r->seq = t.lane_seq;
}

/* Re-sign a decoded record after changing it (forgeries, conflicts). */
static void
resign(struct rec *r, struct toll_signer *by, uint32_t claim_key_id, void (*edit)(struct toll_txn *))
{
	struct toll_txn t;
	if (toll_txn_decode(r->b, sizeof(r->b), &t) != 0)
		exit(1);
	if (edit != NULL)
		edit(&t);
	toll_txn_sign(&t, by);
	if (claim_key_id != 0) {
		/* signed by `by`, claiming another key: the signature fails */
		t.key_id = claim_key_id;
	}
	if (toll_txn_encode(&t, r->b) != 0)
		exit(1);
}

static int
send_raw(const uint8_t *msg, size_t len, struct toll_umsg_ack *ack, int timeout_ms)
{
	nng_socket s;
	nng_msg *m, *rep;
	int rv;

	if (nng_req0_open(&s) != 0)
		return -1;
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if (nng_dial(s, url, NULL, 0) != 0) {
		nng_close(s);
		return -1;
	}
	nng_msg_alloc(&m, 0);
	nng_msg_append(m, msg, len);
	if ((rv = nng_sendmsg(s, m, 0)) != 0) {
		nng_msg_free(m);
		nng_close(s);
		return -1;
	}
	rv = nng_recvmsg(s, &rep, 0);
	nng_close(s);
	if (rv != 0)
		return rv == NNG_ETIMEDOUT ? -2 : -1;
	static struct toll_umsg d;
	rv = toll_umsg_decode(nng_msg_body(rep), nng_msg_len(rep), &d);
	nng_msg_free(rep);
	if (rv != 0 || d.type != TOLL_UMSG_ACK)
		return -1;
	*ack = d.ack;
	return 0;
}

static int
send_batch(int lane_in_header, struct rec *recs, unsigned n, struct toll_umsg_ack *ack)
{
	static uint8_t buf[TOLL_UMSG_MAX_BYTES];
	const uint8_t *p[TOLL_UMSG_BATCH_MAX];
	size_t lens[TOLL_UMSG_BATCH_MAX], len;
	for (unsigned i = 0; i < n; i++) {
		p[i] = recs[i].b;
		lens[i] = TOLL_TXN_BYTES;
	}
	if (toll_umsg_encode_batch(buf, sizeof(buf), STATION, (uint16_t)lane_in_header, p, lens, n, &len) != 0)
		return -1;
	int rc = send_raw(buf, len, ack, 5000);
	if (rc == 0 && ack->status == TOLL_UMSG_OK && lane_in_header >= 1 && lane_in_header <= NLANES &&
	    ack->acked_seq > lanes[lane_in_header].acked)
		lanes[lane_in_header].acked = ack->acked_seq;
	return rc;
}

/* A batch sent without waiting for its answer (its own connection). */
struct pending {
	nng_socket s;
	int lane;
};

static int
send_async(int lane, struct rec *recs, unsigned n, struct pending *p)
{
	static uint8_t buf[TOLL_UMSG_MAX_BYTES];
	const uint8_t *rp[TOLL_UMSG_BATCH_MAX];
	size_t lens[TOLL_UMSG_BATCH_MAX], len;
	nng_msg *m;
	for (unsigned i = 0; i < n; i++) {
		rp[i] = recs[i].b;
		lens[i] = TOLL_TXN_BYTES;
	}
	p->lane = lane;
	if (toll_umsg_encode_batch(buf, sizeof(buf), STATION, (uint16_t)lane, rp, lens, n, &len) != 0 ||
	    nng_req0_open(&p->s) != 0)
		return -1;
	nng_socket_set_ms(p->s, NNG_OPT_RECVTIMEO, 10000);
	nng_socket_set_ms(p->s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if (nng_dial(p->s, url, NULL, 0) != 0 || nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, buf, len) != 0 ||
	    nng_sendmsg(p->s, m, 0) != 0)
		return -1;
	return 0;
}

static int
recv_ack(struct pending *p, struct toll_umsg_ack *ack)
{
	static struct toll_umsg d;
	nng_msg *rep;
	int ok = 0;
	if (nng_recvmsg(p->s, &rep, 0) == 0) {
		ok = toll_umsg_decode(nng_msg_body(rep), nng_msg_len(rep), &d) == 0 && d.type == TOLL_UMSG_ACK;
		nng_msg_free(rep);
	}
	nng_close(p->s);
	if (!ok)
		return -1;
	*ack = d.ack;
	if (ack->status == TOLL_UMSG_OK && ack->acked_seq > lanes[p->lane].acked)
		lanes[p->lane].acked = ack->acked_seq;
	return 0;
}

/* ---- processes ------------------------------------------------------------- */

static void
central_start(void)
{
	char log[320];
	snprintf(log, sizeof(log), "%s/central.log", dir);
	char l[100], c[340];
	snprintf(l, sizeof(l), "listen=%s", url);
	snprintf(c, sizeof(c), "control.socket=%s", sock_path);
	char *const argv[] = {(char *)itest_bin("toll-central"), "run", "--set", l, "--set", c, "--set", conf_keys,
			      "--set", "db.retry_max=500ms", NULL};
	if (itest_start(&central, log, argv) != 0)
		exit(1);
	/* ready: a probe of lane 1 is answered OK */
	struct toll_umsg_ack a;
	for (int i = 0; i < 100; i++) {
		if (send_batch(1, NULL, 0, &a) == 0 && a.status == TOLL_UMSG_OK)
			return;
		itest_sleep_ms(100);
	}
	fprintf(stderr, "toll-central did not become ready (log %s)\n", log);
	exit(1);
}

static int
pg_ctl(const char *what)
{
	return itest_run("%s/scripts/pg-embedded %s %s >>%s/pg.log 2>&1", getenv("TOLL_TOP") ? getenv("TOLL_TOP") : ".",
			 what, pgdir, dir);
}

static void
load_env(void)
{
	if (itest_pg_env(pgdir) != 0)
		exit(1);
}

/* ---- steps ------------------------------------------------------------------ */

static void
edit_fee(struct toll_txn *t)
{
	t->fee_vnd += 1000;
}

static void
edit_chain(struct toll_txn *t)
{
	t->prev_hash[0] ^= 0x55;
}

static void
edit_lane2(struct toll_txn *t)
{
	t->lane_id = 2;
}

static uint8_t taken_id[16];

static void
edit_txn_id(struct toll_txn *t)
{
	memcpy(t->txn_id, taken_id, 16);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	struct toll_umsg_ack a;
	struct rec r[300];
	uint64_t seed = (uint64_t)itest_now_ms();

	printf("seed %" PRIu64 "\n", seed);
	toll_rng_seed(&rng, seed);
	snprintf(dir, sizeof(dir), "%s/toll-central-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0) /* the postgres user (as root) enters it */
		return 1;
	snprintf(pgdir, sizeof(pgdir), "%s/pg", dir);
	snprintf(sock_path, sizeof(sock_path), "%s/central.sock", dir);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", itest_free_ports(1));
	snprintf(conf_keys, sizeof(conf_keys), "keys.refresh=200ms");
	unsetenv("DATABASE_URL");
	if (pg_ctl("start") != 0) {
		fprintf(stderr, "pg-embedded start failed (%s/pg.log)\n", dir);
		return 1;
	}
	load_env();
	if (itest_run("%s --migrate >>%s/migrate.log 2>&1", itest_bin("toll-central"), dir) != 0) {
		fprintf(stderr, "migrate failed\n");
		return 1;
	}
	ITEST_CHECK(itest_run("%s --migrate >>%s/migrate.log 2>&1", itest_bin("toll-central"), dir) == 0,
		    "a second --migrate is a no-op");
	pg_connect();

	/* keys: lane L signs with the seed L,L,L...; lane 5 stays unregistered key-wise */
	for (int l = 1; l <= NLANES; l++) {
		uint8_t seed32[32];
		memset(seed32, l, sizeof(seed32));
		toll_signer_from_seed(seed32, &lanes[l].key);
	}
	uint8_t sseed[32];
	memset(sseed, 0xEE, sizeof(sseed));
	toll_signer_from_seed(sseed, &stranger);
	sql_ok("INSERT INTO accounts (id, kind, name) VALUES (1000000000101, 'revenue', 's101'),"
	       " (9000000000001, 'partner', 'bank')");
	sql_ok("INSERT INTO stations (id, role, revenue_account_id) VALUES (101, 'open', 1000000000101)");
	for (int l = 1; l <= NLANES; l++) {
		uint8_t pub[32];
		char hex[65];
		sql_ok("INSERT INTO lanes (station_id, lane_id) VALUES (101, %d)", l);
		if (l == 5)
			continue; /* lane 5 has no key */
		toll_signer_public(lanes[l].key, pub);
		toll_hex_encode(pub, 32, hex);
		sql_ok("INSERT INTO lane_keys (station_id, lane_id, key_id, public_key, valid_from) VALUES"
		       " (101, %d, substring(sha256('\\x%s'::bytea) from 1 for 4), '\\x%s'::bytea, now() - interval '1 day')",
		       l, hex, hex);
	}
	/* customers 1001..1010 with 1,000,000 VND each, brought in by the bank */
	for (int c = 1001; c <= 1010; c++) {
		sql_ok("INSERT INTO accounts (id, kind) VALUES (%d, 'customer')", c);
		sql_ok("INSERT INTO ledger_entries (kind, reference, debit_account, credit_account, amount_vnd)"
		       " VALUES ('opening', 'test', 9000000000001, %d, 1000000)", c);
		sql_ok("UPDATE accounts SET balance_vnd = balance_vnd + 1000000 WHERE id = %d", c);
		sql_ok("UPDATE accounts SET balance_vnd = balance_vnd - 1000000 WHERE id = 9000000000001");
	}
	invariants("setup");
	central_start();

	/* 1. one batch of 50, sent three times, settles once */
	int64_t fees = 0;
	for (int i = 0; i < 50; i++) {
		int64_t fee = 10000 + 1000 * (i % 5);
		next_rec(1, 1001 + (uint64_t)(i % 10), fee, &r[i]);
		fees += fee;
	}
	for (int k = 0; k < 3; k++) {
		ITEST_CHECK(send_batch(1, r, 50, &a) == 0, "send %d", k);
		ITEST_CHECK(a.status == TOLL_UMSG_OK && a.acked_seq == 50, "ack %d: status %u acked %" PRIu64, k,
			    a.status, a.acked_seq);
		ITEST_CHECK(a.accepted == (k == 0 ? 50u : 0u) && a.duplicates == (k == 0 ? 0u : 50u),
			    "send %d: accepted %u duplicates %u", k, a.accepted, a.duplicates);
	}
	ITEST_CHECK(sql_int("SELECT count(*) FROM transactions") == 50, "50 transactions");
	ITEST_CHECK(sql_int("SELECT balance_vnd FROM accounts WHERE id = 1000000000101") == fees,
		    "revenue is the sum of the fees");
	ITEST_CHECK(sql_int("SELECT count(*) FROM notifications WHERE kind = 'debit'") == 50, "a notification per debit");
	invariants("batch three times");

	/* 2. a forged signature at the next seq: quarantined, not acknowledged;
	 * the genuine record then settles */
	struct rec forged, genuine;
	next_rec(1, 1001, 99000, &genuine);
	forged = genuine;
	resign(&forged, stranger, toll_signer_key_id(lanes[1].key), edit_fee);
	ITEST_CHECK(send_batch(1, &forged, 1, &a) == 0 && a.status == TOLL_UMSG_OK && a.acked_seq == 50 &&
			    a.quarantined == 1,
		    "forged: acked %" PRIu64 " quarantined %u", a.acked_seq, a.quarantined);
	ITEST_CHECK(sql_int("SELECT count(*) FROM quarantine WHERE reason = 'bad-signature'") == 1, "kept as bad-signature");
	ITEST_CHECK(send_batch(1, &genuine, 1, &a) == 0 && a.acked_seq == 51 && a.accepted == 1,
		    "the genuine 51 after the forgery: acked %" PRIu64, a.acked_seq);
	invariants("forged signature");

	/* 3. a key nobody registered */
	struct rec unk;
	struct toll_signer *save = lanes[2].key;
	lanes[2].key = stranger;
	next_rec(2, 1002, 5000, &unk);
	lanes[2].key = save;
	lanes[2].seq = 0;
	memset(lanes[2].hash, 0, 32);
	ITEST_CHECK(send_batch(2, &unk, 1, &a) == 0 && a.status == TOLL_UMSG_OK && a.acked_seq == 0 && a.quarantined == 1,
		    "unknown key: acked %" PRIu64 " quarantined %u", a.acked_seq, a.quarantined);
	ITEST_CHECK(sql_int("SELECT count(*) FROM quarantine WHERE reason = 'unknown-key'") == 1, "kept as unknown-key");

	/* 4. a revoked key: what came before stays, what comes after is kept aside */
	next_rec(3, 1003, 7000, &r[0]);
	ITEST_CHECK(send_batch(3, r, 1, &a) == 0 && a.acked_seq == 1, "lane 3 seq 1");
	sql_ok("UPDATE lane_keys SET revoked_at = now(), revoked_reason = 'test' WHERE station_id = 101 AND lane_id = 3");
	itest_sleep_ms(600); /* keys.refresh is 200 ms */
	next_rec(3, 1003, 7000, &r[1]);
	ITEST_CHECK(send_batch(3, &r[1], 1, &a) == 0 && a.acked_seq == 1 && a.quarantined == 1,
		    "revoked: acked %" PRIu64 " quarantined %u", a.acked_seq, a.quarantined);
	ITEST_CHECK(sql_int("SELECT count(*) FROM quarantine WHERE reason = 'revoked'") == 1, "kept as revoked");
	invariants("revoked key");

	/* 5. a broken chain, signed by the lane: kept aside, the lane moves on */
	struct rec broken, after;
	next_rec(1, 1004, 8000, &broken);
	resign(&broken, lanes[1].key, 0, edit_chain);
	{
		/* the lane's chain continues from the bytes it sent */
		struct toll_txn t;
		toll_txn_decode(broken.b, sizeof(broken.b), &t);
		toll_txn_hash(&t, lanes[1].hash);
	}
	next_rec(1, 1004, 8000, &after);
	struct rec two[2] = {broken, after};
	ITEST_CHECK(send_batch(1, two, 2, &a) == 0 && a.acked_seq == 53 && a.quarantined == 1 && a.accepted == 1,
		    "broken chain: acked %" PRIu64 " quarantined %u accepted %u", a.acked_seq, a.quarantined, a.accepted);
	ITEST_CHECK(sql_int("SELECT count(*) FROM quarantine WHERE reason = 'chain' AND lane_seq = 52") == 1,
		    "kept as chain");
	ITEST_CHECK(send_batch(1, two, 2, &a) == 0 && a.duplicates == 2 && a.quarantined == 0,
		    "the two again: duplicates %u quarantined %u", a.duplicates, a.quarantined);
	invariants("broken chain");

	/* 6. a seq already settled, other bytes: a conflict */
	struct rec conflict = r[0];
	{
		/* lane 1 seq 10 with another fee, signed by lane 1 */
		struct toll_txn t;
		memset(&t, 0, sizeof(t));
	}
	int64_t before = sql_int("SELECT count(*) FROM transactions");
	/* rebuild seq 10 of lane 1 from the database bytes and change its fee */
	{
		PGresult *res = PQexec(pg, "SELECT encode(payload, 'hex') FROM transactions WHERE lane_id = 1 AND lane_seq = 10");
		if (PQntuples(res) == 1)
			toll_hex_decode(PQgetvalue(res, 0, 0), conflict.b, TOLL_TXN_BYTES);
		PQclear(res);
	}
	resign(&conflict, lanes[1].key, 0, edit_fee);
	ITEST_CHECK(send_batch(1, &conflict, 1, &a) == 0 && a.quarantined == 1 && a.acked_seq == 53,
		    "conflict: quarantined %u", a.quarantined);
	ITEST_CHECK(sql_int("SELECT count(*) FROM quarantine WHERE reason = 'conflict'") == 1, "kept as conflict");
	ITEST_CHECK(sql_int("SELECT count(*) FROM transactions") == before, "nothing settled for it");

	/* 7. another lane's record in lane 1's batch */
	struct rec other;
	next_rec(1, 1005, 1000, &other);
	lanes[1].seq--; /* not really the lane's next */
	resign(&other, lanes[1].key, 0, edit_lane2);
	ITEST_CHECK(send_batch(1, &other, 1, &a) == 0 && a.quarantined == 1 && a.acked_seq == 53,
		    "wrong lane: quarantined %u acked %" PRIu64, a.quarantined, a.acked_seq);
	ITEST_CHECK(sql_int("SELECT count(*) FROM quarantine WHERE reason = 'wrong-lane'") == 1, "kept as wrong-lane");
	{
		/* the chain goes on from 53 */
		PGresult *res = PQexec(pg, "SELECT encode(payload_hash, 'hex') FROM transactions WHERE lane_id = 1 AND lane_seq = 53");
		if (PQntuples(res) == 1)
			toll_hex_decode(PQgetvalue(res, 0, 0), lanes[1].hash, 32);
		PQclear(res);
	}

	/* 8. an unregistered lane */
	ITEST_CHECK(send_batch(77, NULL, 0, &a) == 0 && a.status == TOLL_UMSG_UNKNOWN_LANE, "lane 77: status %u", a.status);

	/* 9. a gap, recorded, then filled */
	for (int i = 0; i < 7; i++)
		next_rec(1, 1006, 2000, &r[i]); /* seqs 54..60 */
	ITEST_CHECK(send_batch(1, &r[6], 1, &a) == 0 && a.acked_seq == 53, "gap: acked %" PRIu64, a.acked_seq);
	ITEST_CHECK(sql_int("SELECT count(*) FROM gaps WHERE lane_id = 1 AND from_seq = 54 AND to_seq = 59 AND filled_at IS NULL") == 1,
		    "gap 54..59 recorded");
	ITEST_CHECK(send_batch(1, r, 7, &a) == 0 && a.acked_seq == 60 && a.accepted == 7, "filled: acked %" PRIu64,
		    a.acked_seq);
	ITEST_CHECK(sql_int("SELECT count(*) FROM gaps WHERE lane_id = 1 AND filled_at IS NOT NULL") == 1, "gap filled");
	invariants("gap");

	/* 10. truncated and garbage messages: dropped, counted, central serves on */
	{
		static uint8_t buf[4096];
		const uint8_t *p[3] = {r[0].b, r[1].b, r[2].b};
		size_t lens[3] = {TOLL_TXN_BYTES, TOLL_TXN_BYTES, TOLL_TXN_BYTES}, len;
		toll_umsg_encode_batch(buf, sizeof(buf), STATION, 1, p, lens, 3, &len);
		ITEST_CHECK(send_raw(buf, len - 100, &a, 500) != 0, "a truncated batch gets no acknowledgement");
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)toll_rng_next(&rng);
		ITEST_CHECK(send_raw(buf, 1000, &a, 500) != 0, "garbage gets no acknowledgement");
		ITEST_CHECK(send_batch(1, NULL, 0, &a) == 0 && a.status == TOLL_UMSG_OK && a.acked_seq == 60,
			    "central still serves: acked %" PRIu64, a.acked_seq);
	}
	invariants("garbage");

	/* 11. a debit beyond the balance: taken, the account goes invalid */
	int64_t bal = sql_int("SELECT balance_vnd FROM accounts WHERE id = 1009");
	next_rec(4, 1009, bal + 50000, &r[0]);
	ITEST_CHECK(send_batch(4, r, 1, &a) == 0 && a.acked_seq == 1 && a.accepted == 1, "big debit");
	ITEST_CHECK(sql_int("SELECT balance_vnd FROM accounts WHERE id = 1009") == -50000, "balance below zero");
	ITEST_CHECK(sql_int("SELECT status FROM accounts WHERE id = 1009") == 2, "account invalid");
	ITEST_CHECK(sql_int("SELECT count(*) FROM notifications WHERE account_id = 1009 AND kind = 'status' AND status = 2") == 1,
		    "a status notification");
	/* a charge for an account central does not know: stored, not posted */
	next_rec(4, 424242, 3000, &r[0]);
	ITEST_CHECK(send_batch(4, r, 1, &a) == 0 && a.acked_seq == 2, "unknown account acknowledged");
	ITEST_CHECK(sql_int("SELECT count(*) FROM transactions WHERE account_id = 424242 AND disposition = 'account_not_found'") == 1,
		    "kept for the operators");
	invariants("debits");

	/* 12. central killed with a batch in flight, restarted, sent again */
	for (int i = 0; i < 200; i++)
		next_rec(4, 1001 + (uint64_t)(i % 8), 1500, &r[i]);
	{
		/* send without waiting, kill at once */
		static uint8_t buf[TOLL_UMSG_MAX_BYTES];
		const uint8_t *p[200];
		size_t lens[200], len;
		for (int i = 0; i < 200; i++) {
			p[i] = r[i].b;
			lens[i] = TOLL_TXN_BYTES;
		}
		toll_umsg_encode_batch(buf, sizeof(buf), STATION, 4, p, lens, 200, &len);
		nng_socket s;
		nng_msg *m;
		nng_req0_open(&s);
		nng_dial(s, url, NULL, 0);
		nng_msg_alloc(&m, 0);
		nng_msg_append(m, buf, len);
		nng_sendmsg(s, m, 0);
		itest_sleep_ms((int)(toll_rng_next(&rng) % 30));
		itest_kill9(&central);
		nng_close(s);
	}
	int64_t mid = sql_int("SELECT count(*) FROM transactions WHERE lane_id = 4");
	ITEST_CHECK(mid == 2 || mid == 202, "after kill -9: all or nothing of the batch (%" PRId64 ")", mid);
	central_start();
	ITEST_CHECK(send_batch(4, r, 200, &a) == 0 && a.acked_seq == 202 && a.accepted + a.duplicates == 200,
		    "resent after restart: acked %" PRIu64 " accepted %u duplicates %u", a.acked_seq, a.accepted,
		    a.duplicates);
	invariants("central kill -9");

	/* 13. PostgreSQL stopped under traffic: RETRY, never an ack; started
	 * again: settles */
	for (int i = 0; i < 20; i++)
		next_rec(2, 1007, 4000, &r[i]);
	PQfinish(pg);
	pg = NULL;
	pg_ctl("stop");
	int rc = send_batch(2, r, 20, &a);
	ITEST_CHECK(rc != 0 || a.status == TOLL_UMSG_RETRY, "with the database down: no acknowledgement (status %u)",
		    rc == 0 ? a.status : 99u);
	ITEST_CHECK(itest_alive(&central), "central keeps running with the database down");
	ITEST_CHECK(pg_ctl("start") == 0, "database started again");
	int settled = 0;
	for (int i = 0; i < 100 && !settled; i++) {
		if (send_batch(2, r, 20, &a) == 0 && a.status == TOLL_UMSG_OK && a.acked_seq == 20)
			settled = 1;
		else
			itest_sleep_ms(200);
	}
	ITEST_CHECK(settled, "after the database came back: settled (status %u acked %" PRIu64 ")", a.status, a.acked_seq);
	pg_connect();
	invariants("database restart");

	/* 14. a signed record the ledger cannot hold (a fee no toll has):
	 * kept aside, the lane moves on */
	uint64_t l4 = lanes[4].acked;
	next_rec(4, 1002, 100000001, &r[0]); /* SETTLE_FEE_MAX_VND + 1 */
	next_rec(4, 1002, 6000, &r[1]);
	ITEST_CHECK(send_batch(4, r, 2, &a) == 0 && a.acked_seq == l4 + 2 && a.quarantined == 1 && a.accepted == 1,
		    "out of range: acked %" PRIu64 " quarantined %u accepted %u", a.acked_seq, a.quarantined, a.accepted);
	ITEST_CHECK(sql_int("SELECT count(*) FROM quarantine WHERE reason = 'out-of-range' AND lane_id = 4") == 1,
		    "kept as out-of-range");
	ITEST_CHECK(send_batch(4, r, 2, &a) == 0 && a.duplicates == 2 && a.quarantined == 0,
		    "the two again: duplicates %u quarantined %u", a.duplicates, a.quarantined);
	invariants("out of range");

	/* 15. a record signed by lane 4 with the transaction id of one of lane
	 * 1's: the group is run again carefully, the record kept aside as
	 * txn-id-conflict, the rest of the group settles */
	{
		PGresult *res = PQexec(pg, "SELECT replace(txn_id::text, '-', '') FROM transactions"
					   " WHERE lane_id = 1 AND lane_seq = 5");
		if (PQntuples(res) == 1)
			toll_hex_decode(PQgetvalue(res, 0, 0), taken_id, 16);
		PQclear(res);
	}
	l4 = lanes[4].acked;
	next_rec(4, 1003, 2500, &r[0]);
	{
		/* the chain of lane 4 goes on from the changed record */
		resign(&r[0], lanes[4].key, 0, edit_txn_id);
		struct toll_txn t;
		toll_txn_decode(r[0].b, sizeof(r[0].b), &t);
		toll_txn_hash(&t, lanes[4].hash);
	}
	next_rec(4, 1003, 2500, &r[1]);
	before = sql_int("SELECT count(*) FROM transactions");
	ITEST_CHECK(send_batch(4, r, 2, &a) == 0 && a.acked_seq == l4 + 2 && a.accepted == 2,
		    "txn id taken: acked %" PRIu64 " accepted %u", a.acked_seq, a.accepted);
	ITEST_CHECK(sql_int("SELECT count(*) FROM quarantine WHERE reason = 'txn-id-conflict' AND lane_id = 4") == 1,
		    "kept as txn-id-conflict");
	ITEST_CHECK(sql_int("SELECT count(*) FROM transactions") == before + 1, "the other record settled");
	ITEST_CHECK(itest_run("%s status --socket %s | grep -q ' careful_groups=1 '", itest_bin("toll-central"),
			      sock_path) == 0,
		    "counted as a careful group");
	invariants("txn id conflict");

	/* 16. the database refuses one lane's batch (a constraint added here):
	 * that lane is answered RETRY and keeps it, another lane's batch in
	 * the same group settles; without the constraint it settles.  To have
	 * both in one group, the settler is held on a row lock (lane 2's
	 * progress) while they arrive. */
	struct toll_umsg_ack a1, a2, a4;
	struct pending p1, p2, p4;
	ITEST_CHECK(sql_ok("ALTER TABLE transactions ADD CONSTRAINT test_refuse_lane1 CHECK (lane_id <> 1) NOT VALID"),
		    "constraint added");
	uint64_t l1 = lanes[1].acked, l2 = lanes[2].acked;
	l4 = lanes[4].acked;
	for (int i = 0; i < 5; i++) {
		next_rec(1, 1004, 3000, &r[i]);
		next_rec(2, 1005, 3000, &r[10 + i]);
		next_rec(4, 1006, 3000, &r[20 + i]);
	}
	PGconn *holder = PQconnectdb("");
	PQclear(PQexec(holder, "BEGIN"));
	PGresult *lock = PQexec(holder, "SELECT 1 FROM lane_progress WHERE station_id = 101 AND lane_id = 2 FOR UPDATE");
	ITEST_CHECK(PQresultStatus(lock) == PGRES_TUPLES_OK && PQntuples(lock) == 1, "lane 2's progress locked");
	PQclear(lock);
	ITEST_CHECK(send_async(2, &r[10], 5, &p2) == 0, "lane 2 sent");
	itest_sleep_ms(300); /* the settler waits on the lock */
	ITEST_CHECK(send_async(1, r, 5, &p1) == 0 && send_async(4, &r[20], 5, &p4) == 0, "lanes 1 and 4 sent");
	itest_sleep_ms(300); /* both verified and waiting */
	PQclear(PQexec(holder, "COMMIT"));
	PQfinish(holder);
	ITEST_CHECK(recv_ack(&p2, &a2) == 0 && a2.status == TOLL_UMSG_OK && a2.acked_seq == l2 + 5,
		    "lane 2 settled: status %u acked %" PRIu64, a2.status, a2.acked_seq);
	ITEST_CHECK(recv_ack(&p1, &a1) == 0 && a1.status == TOLL_UMSG_RETRY, "the refused batch: RETRY (status %u)",
		    a1.status);
	ITEST_CHECK(recv_ack(&p4, &a4) == 0 && a4.status == TOLL_UMSG_OK && a4.acked_seq == l4 + 5,
		    "the other batch of the group settled: status %u acked %" PRIu64, a4.status, a4.acked_seq);
	ITEST_CHECK(itest_run("%s status --socket %s | grep -q ' refused_batches=[1-9]'", itest_bin("toll-central"),
			      sock_path) == 0,
		    "counted as refused");
	ITEST_CHECK(sql_ok("ALTER TABLE transactions DROP CONSTRAINT test_refuse_lane1"), "constraint dropped");
	ITEST_CHECK(send_batch(1, r, 5, &a) == 0 && a.status == TOLL_UMSG_OK && a.acked_seq == l1 + 5 && a.accepted == 5,
		    "then settled: status %u acked %" PRIu64, a.status, a.acked_seq);
	invariants("a batch refused");

	/* accounts are never deleted or renumbered, and ledger entries and
	 * notifications refer to accounts that exist (checked per statement
	 * instead of by foreign keys) */
	ITEST_CHECK(!sql_ok("DELETE FROM accounts WHERE id = 1010"), "an account cannot be deleted");
	ITEST_CHECK(!sql_ok("UPDATE accounts SET id = 77 WHERE id = 1010"), "an account cannot be renumbered");
	ITEST_CHECK(!sql_ok("INSERT INTO ledger_entries (kind, debit_account, credit_account, amount_vnd)"
			    " VALUES ('correction', 1010, 4242, 1)"),
		    "no ledger entry to an account that does not exist");
	ITEST_CHECK(!sql_ok("INSERT INTO ledger_entries (kind, debit_account, credit_account, amount_vnd, corrects)"
			    " VALUES ('correction', 1010, 1009, 1, 987654321)"),
		    "no correction of an entry that does not exist");
	ITEST_CHECK(!sql_ok("INSERT INTO notifications (account_id, kind) VALUES (4242, 'status')"),
		    "no notification for an account that does not exist");
	invariants("refused references");

	/* 17. a second toll-central on the same database stands by (answers
	 * RETRY) while the first settles; the first killed, it takes over */
	{
		struct itest_proc standby;
		char url2[64], sock2[300], log2[320], l[100], c[340];
		snprintf(url2, sizeof(url2), "tcp://127.0.0.1:%d", itest_free_ports(1));
		snprintf(sock2, sizeof(sock2), "%s/central2.sock", dir);
		snprintf(log2, sizeof(log2), "%s/central2.log", dir);
		snprintf(l, sizeof(l), "listen=%s", url2);
		snprintf(c, sizeof(c), "control.socket=%s", sock2);
		char *const argv[] = {(char *)itest_bin("toll-central"), "run", "--set", l, "--set", c, "--set", conf_keys,
				      "--set", "db.retry_max=500ms", NULL};
		ITEST_CHECK(itest_start(&standby, log2, argv) == 0, "second central started");
		int standing = 0;
		for (int i = 0; i < 50 && !standing; i++) {
			standing = itest_run("%s status --socket %s 2>/dev/null | grep -q '^database STANDBY'",
					     itest_bin("toll-central"), sock2) == 0;
			if (!standing)
				itest_sleep_ms(100);
		}
		ITEST_CHECK(standing, "the second central stands by");
		snprintf(url, sizeof(url), "%s", url2); /* the lanes now send to the second */
		l4 = lanes[4].acked;
		for (int i = 0; i < 3; i++)
			next_rec(4, 1007, 1000, &r[i]);
		ITEST_CHECK(send_batch(4, r, 3, &a) == 0 && a.status == TOLL_UMSG_RETRY,
			    "the standby answers RETRY (status %u)", a.status);
		itest_kill9(&central);
		settled = 0;
		for (int i = 0; i < 100 && !settled; i++) {
			if (send_batch(4, r, 3, &a) == 0 && a.status == TOLL_UMSG_OK && a.acked_seq == l4 + 3)
				settled = 1;
			else
				itest_sleep_ms(100);
		}
		ITEST_CHECK(settled, "the standby took over and settled (status %u acked %" PRIu64 ")", a.status,
			    a.acked_seq);
		central = standby;
		snprintf(sock_path, sizeof(sock_path), "%s", sock2);
	}
	invariants("standby takes over");

	/* the application role cannot change history */
	ITEST_CHECK(!sql_ok("SET ROLE toll_app; UPDATE transactions SET fee_vnd = 0"), "toll_app cannot UPDATE transactions");
	sql_ok("RESET ROLE");
	ITEST_CHECK(!sql_ok("DELETE FROM ledger_entries"), "nobody can DELETE ledger entries");

	int st = itest_stop(&central, 5000);
	ITEST_CHECK(st == 0, "toll-central stops cleanly on SIGTERM (status %d)", st);
	PQfinish(pg);
	pg_ctl("stop");
	if (itest_failed == 0)
		itest_run("rm -rf '%s'", dir);
	else
		fprintf(stderr, "kept %s\n", dir);
	return itest_finish();
}
