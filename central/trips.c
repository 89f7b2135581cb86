/* trips.c: see trips.h. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdb.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "trips.h"
#include "txn.h"

#include "../lane-controller/lane_tariff.h"

#define ROUND_ROWS      "500" /* exits and entries looked at in one round, each */
#define EXPIRE_EVERY_MS 10000 /* the expiry pass, this often */
#define STAMP           "pg_current_xact_id()::text::bigint"

struct trips {
	struct trips_conf c;
	pthread_t thread;
	atomic_int stop;
	pthread_mutex_t mu; /* stats */
	struct trips_stats st;
	struct lane_tariff *tariff; /* the thread's */
};

/* One exit row of EXIT_COLUMNS. */
struct texit {
	char txn[40], epc[72];
	int64_t account, network, station, time_ms, vclass, flags, fee, entry_station, entry_time_ms;
	int posted;
};

#define EXIT_COLUMNS                                                                                                   \
	"txn_id, epc_hex, account_id, network, station_id, time_ms, vclass, flags, fee_vnd, posted,"                   \
	" entry_station, entry_time_ms"

static void
bump(struct trips *t, uint64_t *field, uint64_t n)
{
	pthread_mutex_lock(&t->mu);
	*field += n;
	pthread_mutex_unlock(&t->mu);
}



static void
exit_of_row(const PGresult *r, int row, struct texit *e)
{
	snprintf(e->txn, sizeof(e->txn), "%s", PQgetvalue(r, row, 0));
	snprintf(e->epc, sizeof(e->epc), "%s", PQgetvalue(r, row, 1));
	e->account = cdb_int(r, row, 2);
	e->network = cdb_int(r, row, 3);
	e->station = cdb_int(r, row, 4);
	e->time_ms = cdb_int(r, row, 5);
	e->vclass = cdb_int(r, row, 6);
	e->flags = cdb_int(r, row, 7);
	e->fee = cdb_int(r, row, 8);
	e->posted = strcmp(PQgetvalue(r, row, 9), "t") == 0;
	e->entry_station = cdb_int(r, row, 10);
	e->entry_time_ms = cdb_int(r, row, 11);
}

/* The newest tariff, parsed again only when its version changed. */
static int
load_tariff(struct trips *t, struct cdb *db, char *err, size_t errlen)
{
	PGresult *r;
	int rc = cdb_query(db, "SELECT version FROM tariffs ORDER BY version DESC LIMIT 1", 0, NULL, &r, err, errlen);
	if (rc != 0)
		return rc;
	uint64_t v = PQntuples(r) == 1 ? (uint64_t)cdb_int(r, 0, 0) : 0;
	PQclear(r);
	if (v == 0 || (t->tariff != NULL && lane_tariff_version(t->tariff) == v))
		return 0;
	char sv[24];
	const char *p[1] = {sv};
	snprintf(sv, sizeof(sv), "%" PRIu64, v);
	rc = cdb_query(db, "SELECT body FROM tariffs WHERE version = $1", 1, p, &r, err, errlen);
	if (rc != 0)
		return rc;
	struct lane_tariff *nt = NULL;
	char perr[256];
	if (PQntuples(r) == 1 && lane_tariff_parse(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0), "tariff", &nt,
						   perr, sizeof(perr)) == 0) {
		lane_tariff_free(t->tariff);
		t->tariff = nt;
		pthread_mutex_lock(&t->mu);
		t->st.tariff_version = v;
		pthread_mutex_unlock(&t->mu);
		toll_notice("trips: fees from tariff version %" PRIu64, v);
	} else if (PQntuples(r) == 1) {
		/* toll-admin checks a tariff with the same parser before it
		 * stores it, so this is a bug or a hand-made row */
		toll_err("trips: tariff version %" PRIu64 " does not parse (%s): keeping the one before", v, perr);
	}
	PQclear(r);
	return 0;
}

/* Close entry_txn (any state but closed) for the exit. */
static int
close_entry(struct cdb *db, const char *entry_txn, const char *exit_txn, char *err, size_t errlen)
{
	const char *p[2] = {entry_txn, exit_txn};
	return cdb_query(db,
			 "UPDATE trip_entries SET state = 2, exit_txn = $2, checked = true, list_xid = " STAMP
			 " WHERE txn_id = $1",
			 2, p, NULL, err, errlen);
}

static int
set_exit(struct cdb *db, const struct texit *e, const char *state, const char *entry_txn, const int64_t *fee,
	 const char *correction, char *err, size_t errlen)
{
	char sf[24];
	const char *p[5] = {e->txn, state, entry_txn, fee ? sf : NULL, correction};
	if (fee)
		snprintf(sf, sizeof(sf), "%" PRId64, *fee);
	return cdb_query(db,
			 "UPDATE trip_exits SET state = $2, entry_txn = COALESCE($3::uuid, entry_txn),"
			 " correct_fee_vnd = COALESCE($4::bigint, correct_fee_vnd),"
			 " correction_id = COALESCE($5::bigint, correction_id) WHERE txn_id = $1",
			 5, p, NULL, err, errlen);
}

/* The difference back to the account: a correction entry referring to
 * the exit's toll entry, both balances moved once, the account's status
 * and list stamp as settlement would set them, and a notification.  The
 * correction's id in corr_id. */
static int
post_correction(struct cdb *db, const struct texit *e, const char *entry_txn, int64_t diff, char *corr_id,
		size_t corr_len, char *err, size_t errlen)
{
	char sd[24], sa[24];
	PGresult *r;
	snprintf(sd, sizeof(sd), "%" PRId64, diff);
	snprintf(sa, sizeof(sa), "%" PRId64, e->account);
	const char *p[4] = {e->txn, entry_txn, sd, sa};
	int rc = cdb_query(
		db,
		"WITH t AS (SELECT id, debit_account, credit_account FROM ledger_entries"
		"  WHERE kind = 'toll' AND txn_id = $1 AND debit_account = $4::bigint),"
		" c AS (INSERT INTO ledger_entries (kind, txn_id, reference, debit_account, credit_account,"
		"  amount_vnd, corrects)"
		"  SELECT 'correction', $1, 'closed-road exit: real entry ' || $2, t.credit_account, t.debit_account,"
		"  $3::bigint, t.id FROM t RETURNING id, debit_account, credit_account)"
		"SELECT id, debit_account, credit_account FROM c",
		4, p, &r, err, errlen);
	if (rc != 0)
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		snprintf(err, errlen, "exit %s: no toll entry to correct", e->txn);
		return TOLL_ENOTFOUND;
	}
	snprintf(corr_id, corr_len, "%s", PQgetvalue(r, 0, 0));
	char rev[24];
	snprintf(rev, sizeof(rev), "%s", PQgetvalue(r, 0, 1));
	PQclear(r);
	/* the customer first, then the station: accounts locked in id order
	 * (a revenue account's id is above every customer's) */
	const char *pc[3] = {sa, sd, e->txn};
	rc = cdb_query(
		db,
		"WITH o AS (SELECT id, status AS old_status FROM accounts WHERE id = $1::bigint FOR UPDATE),"
		" u AS (UPDATE accounts a SET balance_vnd = a.balance_vnd + $2::bigint,"
		"  status = CASE WHEN a.kind <> 'customer' THEN a.status"
		"   WHEN a.blocked_reason <> 0 OR a.balance_vnd + $2::bigint < 0 THEN 2"
		"   WHEN a.balance_vnd + $2::bigint < a.low_threshold_vnd THEN 1 ELSE 0 END,"
		"  list_xid = " STAMP
		" FROM o WHERE a.id = o.id RETURNING a.id, a.kind, a.status, a.balance_vnd, o.old_status),"
		" sn AS (INSERT INTO notifications (account_id, kind, status, balance_vnd)"
		"  SELECT id, 'status', status, balance_vnd FROM u WHERE kind = 'customer' AND status <> old_status)"
		"INSERT INTO notifications (account_id, kind, txn_id, amount_vnd, balance_vnd)"
		" SELECT id, 'correction', $3::uuid, $2::bigint, balance_vnd FROM u",
		3, pc, NULL, err, errlen);
	if (rc != 0)
		return rc;
	const char *pr[2] = {rev, sd};
	return cdb_query(db, "UPDATE accounts SET balance_vnd = balance_vnd - $2::bigint WHERE id = $1::bigint", 2, pr,
			 NULL, err, errlen);
}

/* An exit charged the farthest-entry fee, and its real entry. */
static int
match(struct trips *t, struct cdb *db, const struct texit *e, const char *entry_txn, int64_t entry_station, char *err,
      size_t errlen)
{
	int64_t fee = 0;
	int rc = t->tariff == NULL ? TOLL_ENOTFOUND
				   : lane_tariff_closed_fee(t->tariff, (uint32_t)entry_station, (uint32_t)e->station,
							    (unsigned)e->vclass, &fee);
	if (rc != 0) {
		bump(t, &t->st.fee_errors, 1);
		toll_err("trips: exit %s: no fee from station %" PRId64 " to %" PRId64 " class %" PRId64
			 " in the tariff (%s): the exit waits",
			 e->txn, entry_station, e->station, e->vclass, toll_strerror(rc));
		return set_exit(db, e, "waiting", NULL, NULL, NULL, err, errlen);
	}
	rc = close_entry(db, entry_txn, e->txn, err, errlen);
	if (rc != 0)
		return rc;
	if (!e->posted || fee >= e->fee) {
		/* nothing posted to give back, or the policy fee was right */
		bump(t, &t->st.exits_matched, 1);
		return set_exit(db, e, "matched", entry_txn, &fee, NULL, err, errlen);
	}
	char corr[24];
	rc = post_correction(db, e, entry_txn, e->fee - fee, corr, sizeof(corr), err, errlen);
	if (rc == TOLL_ENOTFOUND) {
		/* the toll entry is not the account's (posted to another?):
		 * leave it to the operators, loudly */
		toll_err("trips: %s", err);
		bump(t, &t->st.exits_matched, 1);
		return set_exit(db, e, "matched", entry_txn, &fee, NULL, err, errlen);
	}
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&t->mu);
	t->st.exits_corrected++;
	t->st.corrected_vnd += e->fee - fee;
	pthread_mutex_unlock(&t->mu);
	toll_info("trips: exit %s charged %" PRId64 " VND without its entry; entry %s found: %" PRId64
		  " VND back (ledger entry %s)",
		  e->txn, e->fee, entry_txn, e->fee - fee, corr);
	return set_exit(db, e, "corrected", entry_txn, &fee, corr, err, errlen);
}

static int
new_exits(struct trips *t, struct cdb *db, char *err, size_t errlen)
{
	PGresult *r;
	char sx[24];
	int rc = cdb_query(
		db, "SELECT " EXIT_COLUMNS " FROM trip_exits WHERE state = 'new' ORDER BY time_ms LIMIT " ROUND_ROWS, 0,
		NULL, &r, err, errlen);
	if (rc != 0)
		return rc;
	snprintf(sx, sizeof(sx), "%" PRId64, t->c.expiry_ms);
	for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
		struct texit e;
		exit_of_row(r, i, &e);
		char st[24], tm[24], nw[24];
		snprintf(st, sizeof(st), "%" PRId64, e.entry_station);
		snprintf(tm, sizeof(tm), "%" PRId64, e.entry_time_ms);
		snprintf(nw, sizeof(nw), "%" PRId64, e.network);
		if (e.entry_station != 0 && !(e.flags & TOLL_TXN_F_ENTRY_UNKNOWN)) {
			/* charged from the entry the lane knew: close it */
			PGresult *r2;
			const char *p[4] = {e.txn, e.epc, st, tm};
			rc = cdb_query(
				db,
				"UPDATE trip_entries SET state = 2, exit_txn = $1, checked = true, list_xid = " STAMP
				" WHERE epc_hex = $2 AND station_id = $3::integer AND time_ms = $4::bigint"
				" AND state <> 2 RETURNING txn_id",
				4, p, &r2, err, errlen);
			if (rc != 0)
				break;
			char ent[40] = "";
			if (PQntuples(r2) >= 1)
				snprintf(ent, sizeof(ent), "%s", PQgetvalue(r2, 0, 0));
			PQclear(r2);
			bump(t, &t->st.exits_matched, 1);
			rc = set_exit(db, &e, "matched", ent[0] ? ent : NULL, &e.fee, NULL, err, errlen);
			continue;
		}
		/* entry unknown at the lane: is it here? */
		PGresult *r2;
		char et[24];
		snprintf(et, sizeof(et), "%" PRId64, e.time_ms);
		const char *p[4] = {e.epc, nw, et, sx};
		rc = cdb_query(
			db,
			"SELECT txn_id, station_id FROM trip_entries WHERE epc_hex = $1 AND network = $2::integer"
			" AND state = 1 AND time_ms <= $3::bigint AND time_ms >= $3::bigint - $4::bigint"
			" ORDER BY time_ms DESC LIMIT 1",
			4, p, &r2, err, errlen);
		if (rc != 0)
			break;
		if (PQntuples(r2) == 1) {
			char ent[40];
			snprintf(ent, sizeof(ent), "%s", PQgetvalue(r2, 0, 0));
			int64_t est = cdb_int(r2, 0, 1);
			PQclear(r2);
			rc = match(t, db, &e, ent, est, err, errlen);
		} else {
			PQclear(r2);
			bump(t, &t->st.exits_waiting, 1);
			rc = set_exit(db, &e, "waiting", NULL, NULL, NULL, err, errlen);
		}
	}
	PQclear(r);
	return rc;
}

/* Entries not looked at yet: an exit may be waiting for one. */
static int
new_entries(struct trips *t, struct cdb *db, char *err, size_t errlen)
{
	PGresult *r;
	char sx[24];
	int rc = cdb_query(
		db,
		"SELECT txn_id, epc_hex, network, time_ms, station_id, state FROM trip_entries WHERE NOT checked"
		" ORDER BY time_ms LIMIT " ROUND_ROWS,
		0, NULL, &r, err, errlen);
	if (rc != 0)
		return rc;
	snprintf(sx, sizeof(sx), "%" PRId64, t->c.expiry_ms);
	for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
		const char *ent = PQgetvalue(r, i, 0);
		if (cdb_int(r, i, 5) == 1) {
			PGresult *r2;
			const char *p[4] = {PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), sx};
			rc = cdb_query(
				db,
				"SELECT " EXIT_COLUMNS " FROM trip_exits WHERE state = 'waiting' AND epc_hex = $1"
				" AND network = $2::integer AND time_ms >= $3::bigint AND time_ms <= $3::bigint + $4::bigint"
				" ORDER BY time_ms LIMIT 1",
				4, p, &r2, err, errlen);
			if (rc != 0)
				break;
			if (PQntuples(r2) == 1) {
				struct texit e;
				exit_of_row(r2, 0, &e);
				PQclear(r2);
				rc = match(t, db, &e, ent, cdb_int(r, i, 4), err, errlen);
				if (rc != 0)
					break;
				continue; /* match closed (and checked) it */
			}
			PQclear(r2);
		}
		const char *p1[1] = {ent};
		rc = cdb_query(db, "UPDATE trip_entries SET checked = true WHERE txn_id = $1", 1, p1, NULL, err,
			       errlen);
	}
	PQclear(r);
	return rc;
}

static int
expire(struct trips *t, struct cdb *db, char *err, size_t errlen)
{
	char lim[24];
	const char *p[1] = {lim};
	snprintf(lim, sizeof(lim), "%" PRId64, toll_real_ms() - t->c.expiry_ms);
	PGresult *r;
	int rc = cdb_query(db,
			   "UPDATE trip_entries SET state = 3, checked = true, list_xid = " STAMP
			   " WHERE state = 1 AND time_ms < $1::bigint",
			   1, p, &r, err, errlen);
	if (rc != 0)
		return rc;
	uint64_t n = strtoull(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	bump(t, &t->st.entries_expired, n);
	rc = cdb_query(db, "UPDATE trip_exits SET state = 'unmatched' WHERE state = 'waiting' AND time_ms < $1::bigint",
		       1, p, &r, err, errlen);
	if (rc != 0)
		return rc;
	n = strtoull(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	bump(t, &t->st.exits_unmatched, n);
	return 0;
}

static int
round_once(struct trips *t, struct cdb *db, int do_expire, char *err, size_t errlen)
{
	int rc = load_tariff(t, db, err, errlen);
	if (rc == 0)
		rc = cdb_exec(db, "BEGIN", err, errlen);
	if (rc != 0)
		return rc;
	rc = new_exits(t, db, err, errlen);
	if (rc == 0)
		rc = new_entries(t, db, err, errlen);
	if (rc == 0 && do_expire)
		rc = expire(t, db, err, errlen);
	if (rc == 0)
		rc = cdb_exec(db, "COMMIT", err, errlen);
	if (rc != 0 && !cdb_broken(db)) {
		char e2[64];
		(void)cdb_exec(db, "ROLLBACK", e2, sizeof(e2));
	}
	return rc;
}

static void
set_up(struct trips *t, int up)
{
	pthread_mutex_lock(&t->mu);
	t->st.up = up;
	pthread_mutex_unlock(&t->mu);
}

static void *
trips_thread(void *arg)
{
	struct trips *t = arg;
	struct cdb *db = NULL;
	int64_t wait_ms = 0, next_expire = 0;
	int standby = 0;
	char err[512];

	while (!atomic_load(&t->stop)) {
		if (db == NULL) {
			int rc = cdb_connect(t->c.conninfo, t->c.role, &db, err, sizeof(err));
			if (rc == 0)
				rc = cdb_try_lock(db, CDB_LOCK_TRIPS, "trip matcher", err, sizeof(err));
			if (rc != 0) {
				cdb_close(db);
				db = NULL;
				if (rc == TOLL_EBUSY) {
					if (!standby)
						toll_notice("trips: %s", err);
					standby = 1;
					set_up(t, 2);
					toll_sleep_ms_unless(&t->stop, 1000);
					continue;
				}
				set_up(t, 0);
				wait_ms = wait_ms == 0 ? 200 : wait_ms * 2;
				if (wait_ms > t->c.retry_max_ms)
					wait_ms = t->c.retry_max_ms;
				toll_warn("trips: database: %s (again in %" PRId64 " ms)", err, wait_ms);
				toll_sleep_ms_unless(&t->stop, wait_ms);
				continue;
			}
			standby = 0;
			wait_ms = 0;
			set_up(t, 1);
		}
		int64_t now = toll_mono_ms();
		int do_expire = now >= next_expire;
		int rc = round_once(t, db, do_expire, err, sizeof(err));
		if (rc != 0) {
			bump(t, &t->st.db_errors, 1);
			toll_warn("trips: round rolled back: %s", err);
			if (cdb_broken(db)) {
				cdb_close(db);
				db = NULL;
				set_up(t, 0);
			}
			toll_sleep_ms_unless(&t->stop, 500);
			continue;
		}
		if (do_expire)
			next_expire = now + EXPIRE_EVERY_MS;
		toll_sleep_ms_unless(&t->stop, t->c.interval_ms);
	}
	lane_tariff_free(t->tariff);
	t->tariff = NULL;
	cdb_close(db);
	return NULL;
}

int
trips_start(const struct trips_conf *c, struct trips **out)
{
	struct trips *t = calloc(1, sizeof(*t));
	*out = NULL;
	if (t == NULL)
		return TOLL_ENOMEM;
	t->c = *c;
	pthread_mutex_init(&t->mu, NULL);
	if (pthread_create(&t->thread, NULL, trips_thread, t) != 0) {
		pthread_mutex_destroy(&t->mu);
		free(t);
		return TOLL_ENOMEM;
	}
	*out = t;
	return 0;
}

void
trips_stop(struct trips *t)
{
	if (t == NULL)
		return;
	atomic_store(&t->stop, 1);
	pthread_join(t->thread, NULL);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

void
trips_stats(struct trips *t, struct trips_stats *st)
{
	pthread_mutex_lock(&t->mu);
	*st = t->st;
	pthread_mutex_unlock(&t->mu);
}
