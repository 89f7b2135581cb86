/* settle.c: see settle.h. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdb.h"
#include "crypto.h"
#include "err.h"
#include "keyring.h"
#include "log.h"
#include "settle.h"
#include "umsg.h"

struct lstate {
	int used;
	uint32_t station;
	uint16_t lane;
	uint64_t acked;	 /* committed */
	uint8_t hash[32];
	uint64_t w_acked; /* during a group */
	uint8_t w_hash[32];
	int touched;
};

struct quar {
	uint32_t station;
	uint16_t lane;
	int64_t seq; /* -1: unknown */
	const char *reason;
	const struct settle_item *it;
};

struct gap {
	uint32_t station;
	uint16_t lane;
	uint64_t from, to;
};

struct accepted {
	uint32_t station;
	uint16_t lane;
	uint64_t seq;
	const uint8_t *hash;
};

struct dup {
	struct settle_batch *b;
	struct settle_item *it;
};

struct settler {
	struct cdb *db;
	int temps_ready;
	struct lstate *lanes;
	size_t cap, used;
	struct settle_stats stats;
	/* per group */
	char *copy;
	size_t copy_len, copy_cap;
	struct quar *q;
	size_t nq, capq;
	struct gap *g;
	size_t ng, capg;
	struct accepted *acc;
	size_t nacc, capacc;
	struct dup *d;
	size_t nd, capd;
};

#define GROW(arr, n, cap)                                                               \
	do {                                                                            \
		if ((n) == (cap)) {                                                     \
			size_t nc_ = (cap) ? 2 * (cap) : 64;                            \
			void *np_ = realloc((arr), nc_ * sizeof(*(arr)));               \
			if (np_ == NULL)                                                \
				return TOLL_ENOMEM;                                     \
			(arr) = np_;                                                    \
			(cap) = nc_;                                                    \
		}                                                                       \
	} while (0)

int
settler_new(struct cdb *db, struct settler **out)
{
	struct settler *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return TOLL_ENOMEM;
	s->db = db;
	s->cap = 1024;
	s->lanes = calloc(s->cap, sizeof(*s->lanes));
	if (s->lanes == NULL) {
		free(s);
		return TOLL_ENOMEM;
	}
	*out = s;
	return 0;
}

void
settler_free(struct settler *s)
{
	if (s == NULL)
		return;
	free(s->lanes);
	free(s->copy);
	free(s->q);
	free(s->g);
	free(s->acc);
	free(s->d);
	free(s);
}

static void
drop_cache(struct settler *s)
{
	memset(s->lanes, 0, s->cap * sizeof(*s->lanes));
	s->used = 0;
}

void
settler_reset(struct settler *s, struct cdb *db)
{
	s->db = db;
	s->temps_ready = 0;
	drop_cache(s);
}

void
settler_stats(const struct settler *s, struct settle_stats *st)
{
	*st = s->stats;
}

static size_t
slot_of(const struct settler *s, uint32_t station, uint16_t lane)
{
	uint64_t h = ((uint64_t)station << 16 | lane) * 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 20) & (s->cap - 1);
}

static struct lstate *
find_slot(struct settler *s, uint32_t station, uint16_t lane)
{
	size_t i = slot_of(s, station, lane);
	while (s->lanes[i].used && (s->lanes[i].station != station || s->lanes[i].lane != lane))
		i = (i + 1) & (s->cap - 1);
	return &s->lanes[i];
}

static int
grow_cache(struct settler *s)
{
	struct lstate *old = s->lanes;
	size_t oldcap = s->cap;
	s->lanes = calloc(oldcap * 2, sizeof(*s->lanes));
	if (s->lanes == NULL) {
		s->lanes = old;
		return TOLL_ENOMEM;
	}
	s->cap = oldcap * 2;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].used)
			*find_slot(s, old[i].station, old[i].lane) = old[i];
	free(old);
	return 0;
}

/* The lane's progress, from the cache or the database (a registered lane
 * without a row gets one). */
static int
lane_state(struct settler *s, uint32_t station, uint16_t lane, struct lstate **out, char *err,
	   size_t errlen)
{
	struct lstate *l = find_slot(s, station, lane);
	if (l->used) {
		*out = l;
		return 0;
	}
	if ((s->used + 1) * 2 > s->cap) {
		int rc = grow_cache(s);
		if (rc != 0)
			return rc;
		l = find_slot(s, station, lane);
	}
	char a[16], b[16];
	const char *p[2] = {a, b};
	PGresult *res;
	snprintf(a, sizeof(a), "%" PRIu32, station);
	snprintf(b, sizeof(b), "%u", lane);
	int rc = cdb_query(s->db,
			   "INSERT INTO lane_progress (station_id, lane_id) VALUES ($1, $2)"
			   " ON CONFLICT DO NOTHING",
			   2, p, NULL, err, errlen);
	if (rc == 0)
		rc = cdb_query(s->db,
			       "SELECT acked_seq, last_hash FROM lane_progress WHERE station_id = $1 AND lane_id = $2",
			       2, p, &res, err, errlen);
	if (rc != 0)
		return rc;
	if (PQntuples(res) != 1 || cdb_bytea_parse(PQgetvalue(res, 0, 1), l->hash, 32) != 0) {
		PQclear(res);
		snprintf(err, errlen, "lane %" PRIu32 "/%u: no readable lane_progress row", station, lane);
		return TOLL_EDB;
	}
	l->acked = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	l->used = 1;
	l->station = station;
	l->lane = lane;
	s->used++;
	*out = l;
	return 0;
}

static int
quarantine(struct settler *s, uint32_t station, uint16_t lane, int64_t seq, const char *reason,
	   const struct settle_item *it)
{
	GROW(s->q, s->nq, s->capq);
	s->q[s->nq++] = (struct quar){station, lane, seq, reason, it};
	return 0;
}

/* The staging rows go to PostgreSQL in COPY's binary format: no text to
 * print here and none to parse there.  Header, then per row a field count
 * and (length, bytes) per field in network byte order, then -1. */
static const uint8_t COPY_HEADER[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
#define STAGE_FIELDS 17

static int
copy_room(struct settler *s, size_t n)
{
	if (s->copy_cap - s->copy_len >= n)
		return 0;
	size_t nc = s->copy_cap ? s->copy_cap * 2 : 1 << 16;
	while (nc - s->copy_len < n)
		nc *= 2;
	char *p = realloc(s->copy, nc);
	if (p == NULL)
		return TOLL_ENOMEM;
	s->copy = p;
	s->copy_cap = nc;
	return 0;
}

static void
put_be(struct settler *s, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		s->copy[s->copy_len++] = (char)(v >> (8 * (bytes - 1 - i)));
}

/* one field: its length, then the bytes (room already made) */
static void
put_field(struct settler *s, const void *p, uint32_t n)
{
	put_be(s, n, 4);
	memcpy(s->copy + s->copy_len, p, n);
	s->copy_len += n;
}

static void
put_int(struct settler *s, uint64_t v, unsigned bytes)
{
	put_be(s, bytes, 4);
	put_be(s, v, bytes);
}

/* One staging row for an accepted record (columns as STAGE_SQL). */
static int
stage_row(struct settler *s, const struct settle_item *it)
{
	const struct toll_txn *t = &it->t;
	static const char hex[] = "0123456789abcdef";
	char epc[64];
	uint8_t key[4];
	/* fixed: the header, the field count, 17 lengths, the ints, uuid,
	 * key id, hash; variable: EPC hex and the payload */
	int rc = copy_room(s, sizeof(COPY_HEADER) + 2 + 4 * STAGE_FIELDS + 64 + 16 + 4 + 32 +
				      sizeof(epc) + it->len + 2);
	if (rc != 0)
		return rc;
	if (s->copy_len == 0) {
		memcpy(s->copy, COPY_HEADER, sizeof(COPY_HEADER));
		s->copy_len = sizeof(COPY_HEADER);
	}
	/* EPC as hex digits of its bits (4 bits a digit) */
	unsigned digits = (t->epc_bits + 3) / 4;
	for (unsigned i = 0; i < digits; i++)
		epc[i] = hex[(t->epc[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	for (int i = 0; i < 4; i++)
		key[i] = (uint8_t)(t->key_id >> (24 - 8 * i));

	put_be(s, STAGE_FIELDS, 2);
	put_field(s, t->txn_id, 16);
	put_int(s, t->station_id, 4);
	put_int(s, t->lane_id, 4);
	put_int(s, t->lane_seq, 8);
	put_int(s, (uint64_t)t->time_ms, 8);
	put_int(s, (uint64_t)(uint16_t)t->utc_offset_min, 2);
	put_int(s, t->outcome, 2);
	put_int(s, t->flags, 4);
	put_field(s, epc, digits);
	put_int(s, t->account_id, 8);
	put_int(s, t->vclass, 2);
	put_int(s, t->entry_station, 4);
	put_int(s, (uint64_t)t->entry_time_ms, 8);
	put_int(s, (uint64_t)t->fee_vnd, 8);
	put_field(s, key, 4);
	put_field(s, it->bytes, (uint32_t)it->len);
	put_field(s, it->hash, 32);
	return 0;
}

/* A record signed by its lane whose values do not fit the ledger's columns
 * (or no toll could be this large): the lane is wrong, and one such record
 * must not stop settlement for everyone. */
static int
out_of_range(const struct toll_txn *t)
{
	return t->station_id > INT32_MAX || t->lane_seq > INT64_MAX || t->account_id > INT64_MAX ||
	       t->entry_station > INT32_MAX || t->fee_vnd > SETTLE_FEE_MAX_VND;
}

/* Sort the batch's records into accepted, quarantined, duplicate, gap. */
static int
classify(struct settler *s, struct settle_batch *b, struct lstate *l)
{
	int rc;

	for (unsigned i = 0; i < b->n; i++) {
		struct settle_item *it = &b->items[i];
		int64_t seq = it->verdict == V_MALFORMED ? -1 : (int64_t)it->t.lane_seq;

		if (it->verdict == V_MALFORMED || it->verdict == V_WRONG_LANE) {
			rc = quarantine(s, b->station_id, b->lane_id, seq, verdict_name(it->verdict), it);
			if (rc != 0)
				return rc;
			b->quarantined++;
			continue;
		}
		if (it->t.lane_seq <= l->w_acked) {
			GROW(s->d, s->nd, s->capd);
			s->d[s->nd++] = (struct dup){b, it};
			continue;
		}
		if (it->t.lane_seq > l->w_acked + 1) {
			GROW(s->g, s->ng, s->capg);
			s->g[s->ng++] = (struct gap){b->station_id, b->lane_id, l->w_acked + 1, it->t.lane_seq - 1};
			s->stats.gaps++;
			toll_warn("lane %" PRIu32 "/%u: seq %" PRIu64 " follows %" PRIu64 ": a gap, recorded",
				  b->station_id, b->lane_id, it->t.lane_seq, l->w_acked);
			break; /* nothing after a gap is taken */
		}
		if (it->verdict != V_OK) {
			/* not the lane's: the lane's own record for this seq
			 * may still come */
			rc = quarantine(s, b->station_id, b->lane_id, seq, verdict_name(it->verdict), it);
			if (rc != 0)
				return rc;
			b->quarantined++;
			toll_warn("lane %" PRIu32 "/%u seq %" PRIu64 ": %s: quarantined", b->station_id,
				  b->lane_id, it->t.lane_seq, verdict_name(it->verdict));
			break;
		}
		l->touched = 1;
		if (out_of_range(&it->t)) {
			rc = quarantine(s, b->station_id, b->lane_id, seq, "out-of-range", it);
			if (rc != 0)
				return rc;
			b->quarantined++;
			s->stats.out_of_range++;
			toll_err("lane %" PRIu32 "/%u seq %" PRIu64 ": signed by the lane but a value is out of"
				 " range (fee %" PRId64 " VND, account %" PRIu64 ", entry station %" PRIu32
				 "): quarantined, not settled (investigate the lane)",
				 b->station_id, b->lane_id, it->t.lane_seq, it->t.fee_vnd, it->t.account_id,
				 it->t.entry_station);
		} else if (memcmp(it->t.prev_hash, l->w_hash, 32) != 0) {
			rc = quarantine(s, b->station_id, b->lane_id, seq, "chain", it);
			if (rc != 0)
				return rc;
			b->quarantined++;
			s->stats.chain_breaks++;
			toll_err("lane %" PRIu32 "/%u seq %" PRIu64 ": signed by the lane but its chain is broken:"
				 " quarantined, not settled (investigate the lane's journal)",
				 b->station_id, b->lane_id, it->t.lane_seq);
		} else {
			rc = stage_row(s, it);
			if (rc != 0)
				return rc;
			GROW(s->acc, s->nacc, s->capacc);
			s->acc[s->nacc++] = (struct accepted){b->station_id, b->lane_id, it->t.lane_seq, it->hash};
			b->accepted++;
		}
		l->w_acked = it->t.lane_seq;
		memcpy(l->w_hash, it->hash, 32);
	}
	return 0;
}

/* Resends: the same bytes are duplicates, others conflicts. */
static int
check_dups(struct settler *s, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->nd; i++) {
		struct settle_batch *b = s->d[i].b;
		struct settle_item *it = s->d[i].it;
		uint64_t seq = it->t.lane_seq;
		int found = 0, same = 0;

		for (size_t k = 0; k < s->nacc && !found; k++) {
			struct accepted *a = &s->acc[k];
			if (a->station == b->station_id && a->lane == b->lane_id && a->seq == seq) {
				found = 1;
				same = memcmp(a->hash, it->hash, 32) == 0;
			}
		}
		if (!found) {
			char a[16], l[16], q[24], h[2 * 32 + 3];
			const char *p[4] = {a, l, q, h};
			PGresult *res;
			snprintf(a, sizeof(a), "%" PRIu32, b->station_id);
			snprintf(l, sizeof(l), "%u", b->lane_id);
			snprintf(q, sizeof(q), "%" PRIu64, seq);
			cdb_bytea_hex(it->hash, 32, h);
			int rc = cdb_query(s->db,
					   "SELECT payload_hash = $4::bytea FROM transactions"
					   " WHERE station_id = $1 AND lane_id = $2 AND lane_seq = $3"
					   " UNION ALL SELECT payload_hash = $4::bytea FROM quarantine"
					   " WHERE station_id = $1 AND lane_id = $2 AND lane_seq = $3"
					   " AND reason IN ('chain', 'out-of-range', 'txn-id-conflict')",
					   4, p, &res, err, errlen);
			if (rc != 0)
				return rc;
			for (int r = 0; r < PQntuples(res); r++) {
				found = 1;
				if (strcmp(PQgetvalue(res, r, 0), "t") == 0)
					same = 1;
			}
			PQclear(res);
		}
		if (same) {
			b->duplicates++;
			continue;
		}
		const char *reason = it->verdict != V_OK ? verdict_name(it->verdict) : "conflict";
		int rc = quarantine(s, b->station_id, b->lane_id, (int64_t)seq, reason, it);
		if (rc != 0)
			return rc;
		b->quarantined++;
		if (it->verdict == V_OK) {
			s->stats.conflicts++;
			toll_err("lane %" PRIu32 "/%u seq %" PRIu64 ": signed by the lane with different bytes than"
				 " the record settled for that seq: quarantined (a lane seq reused?)",
				 b->station_id, b->lane_id, seq);
		}
	}
	return 0;
}

static const char *const STAGE_SQL =
	"CREATE TEMP TABLE IF NOT EXISTS stage ("
	" txn_id uuid, station_id integer, lane_id integer, lane_seq bigint, time_ms bigint,"
	" utc_offset_min smallint, outcome smallint, flags integer, epc_hex text, account_id bigint,"
	" vclass smallint, entry_station integer, entry_time_ms bigint, fee_vnd bigint, key_id bytea,"
	" payload bytea, payload_hash bytea) ON COMMIT DELETE ROWS";

/* The careful run, after a unique violation: staged records whose
 * transaction id is taken (by a stored transaction, or by an earlier
 * record of the same group) leave the stage for quarantine
 * (txn-id-conflict).  The lane's progress still moves past them: they are
 * the lane's own signed records, kept byte for byte. */
static const char *const TXN_ID_CONFLICT_SQL =
	"WITH q AS (DELETE FROM stage s WHERE EXISTS (SELECT 1 FROM transactions t WHERE t.txn_id = s.txn_id)"
	"  OR EXISTS (SELECT 1 FROM stage o WHERE o.txn_id = s.txn_id"
	"   AND (o.station_id, o.lane_id, o.lane_seq) < (s.station_id, s.lane_id, s.lane_seq))"
	" RETURNING s.station_id, s.lane_id, s.lane_seq, s.payload, s.payload_hash)"
	"INSERT INTO quarantine (station_id, lane_id, lane_seq, reason, payload, payload_hash)"
	" SELECT station_id, lane_id, lane_seq, 'txn-id-conflict', payload, payload_hash FROM q"
	" ON CONFLICT (payload_hash, reason) DO UPDATE SET seen = quarantine.seen + 1, last_seen = now()";

#define NEW_STATUS(delta)                                                                         \
	"CASE WHEN a.kind <> 'customer' THEN a.status"                                              \
	" WHEN a.blocked_reason <> 0 OR a.balance_vnd + " delta " < 0 THEN 2"                        \
	" WHEN a.balance_vnd + " delta " < a.low_threshold_vnd THEN 1 ELSE 0 END"

/* The set-wise part, one statement over the stage: the customer accounts
 * charged (acc); the transactions go in (i); the charges central can post
 * (p) become ledger entries, debit the customer and credit the station's
 * revenue account (l); balances move once per account (d, u), with the
 * status the lanes see; the row is stamped for the lanes' list (list_xid)
 * when the status changes, and on every move while it is low or invalid,
 * where the exact balance decides at the lane (the old status from a
 * self-join: RETURNING sees only the new row); a
 * notification per status change (sn), per debit (dn: the balance right
 * after that debit, in the lane's time order) and per refused passage of
 * a known account (rn: balance too low, an invalid tag; the balance and
 * status as the statement found them, joined to accounts alone: a join
 * with u is between two CTEs).  rn costs the paid records one filter over
 * i, already materialised; a refused record one account lookup (primary
 * key) and its notification (docs/notifications.md has the measurement).  Closed-road passages
 * (entries, and exits that paid, were exempt or had a pass) go to the trip
 * matcher's tables (te, tx; central/trips.c).  No join here is between
 * two CTEs without a hash key: the planner knows nothing of their sizes
 * and a nested loop over two of them is quadratic.
 *
 * The settler knows which (lane, seq) are new (its cache is the committed
 * lane_progress), so every staged row is expected to go in.  A unique
 * violation (a transaction id some other record has, or a second writer on
 * the database) rolls the group back; the group then runs again carefully,
 * TXN_ID_CONFLICT_SQL first.  No ON CONFLICT here: it costs a third more
 * per row, and only the rare group should pay for it.
 *
 * Returns: transactions stored, posted, not posted (account unknown),
 * status notifications, debit and refused notifications. */
static const char *const SETTLE_SQL =
	"WITH acc AS ("
	" SELECT a.id FROM accounts a WHERE a.kind = 'customer'"
	"  AND a.id IN (SELECT s.account_id FROM stage s WHERE s.outcome = 1 AND s.fee_vnd > 0)),"
	" i AS ("
	" INSERT INTO transactions (txn_id, station_id, lane_id, lane_seq, time_ms, utc_offset_min,"
	"  outcome, flags, epc_hex, account_id, vclass, entry_station, entry_time_ms, fee_vnd, key_id,"
	"  payload, payload_hash, disposition)"
	" SELECT s.txn_id, s.station_id, s.lane_id, s.lane_seq, s.time_ms, s.utc_offset_min, s.outcome,"
	"  s.flags, s.epc_hex, s.account_id, s.vclass, s.entry_station, s.entry_time_ms, s.fee_vnd,"
	"  s.key_id, s.payload, s.payload_hash,"
	"  CASE WHEN s.outcome = 1 AND s.fee_vnd > 0 THEN"
	"   CASE WHEN c.id IS NULL THEN 'account_not_found' ELSE 'posted' END"
	"  ELSE 'no_charge' END"
	" FROM stage s LEFT JOIN acc c ON c.id = s.account_id"
	" RETURNING txn_id, station_id, account_id, fee_vnd, time_ms, disposition, outcome, epc_hex, vclass,"
	"  flags, entry_station, entry_time_ms),"
	" te AS (INSERT INTO trip_entries (txn_id, epc_hex, account_id, network, station_id, time_ms)"
	"  SELECT i.txn_id, i.epc_hex, i.account_id, st.network, i.station_id, i.time_ms"
	"  FROM i JOIN stations st ON st.id = i.station_id"
	"  WHERE i.outcome = 7 AND i.epc_hex <> '' AND i.time_ms > 0 AND st.network IS NOT NULL RETURNING 1),"
	" tx AS (INSERT INTO trip_exits (txn_id, epc_hex, account_id, network, station_id, time_ms, vclass, flags,"
	"  fee_vnd, posted, entry_station, entry_time_ms)"
	"  SELECT i.txn_id, i.epc_hex, i.account_id, st.network, i.station_id, i.time_ms, i.vclass, i.flags,"
	"  i.fee_vnd, i.disposition = 'posted', i.entry_station, i.entry_time_ms"
	"  FROM i JOIN stations st ON st.id = i.station_id"
	"  WHERE i.outcome IN (1, 5, 6) AND i.epc_hex <> '' AND st.role = 'exit' AND st.network IS NOT NULL"
	"  RETURNING 1),"
	" p AS (SELECT i.txn_id, i.account_id, i.fee_vnd, i.time_ms, st.revenue_account_id AS rev"
	"  FROM i JOIN stations st ON st.id = i.station_id WHERE i.disposition = 'posted'),"
	" l AS (INSERT INTO ledger_entries (kind, txn_id, debit_account, credit_account, amount_vnd)"
	"  SELECT 'toll', p.txn_id, p.account_id, p.rev, p.fee_vnd FROM p RETURNING 1),"
	" d AS (SELECT x.acc, sum(x.delta)::bigint AS delta FROM ("
	"  SELECT p.account_id AS acc, -p.fee_vnd AS delta FROM p"
	"  UNION ALL SELECT p.rev, p.fee_vnd FROM p) x GROUP BY x.acc),"
	" u AS (UPDATE accounts a SET balance_vnd = a.balance_vnd + d.delta,"
	"  status = " NEW_STATUS("d.delta") ","
	"  list_xid = CASE WHEN " NEW_STATUS("d.delta") " <> a.status OR " NEW_STATUS("d.delta") " <> 0"
	"   THEN pg_current_xact_id()::text::bigint ELSE a.list_xid END"
	"  FROM (SELECT d.acc, d.delta, o.status AS old_status FROM d JOIN accounts o ON o.id = d.acc) d"
	"  WHERE a.id = d.acc RETURNING a.id, a.kind, a.status, a.balance_vnd, d.old_status),"
	" sn AS (INSERT INTO notifications (account_id, kind, status, balance_vnd)"
	"  SELECT u.id, 'status', u.status, u.balance_vnd FROM u"
	"  WHERE u.kind = 'customer' AND u.status <> u.old_status RETURNING 1),"
	" dn AS (INSERT INTO notifications (account_id, kind, txn_id, amount_vnd, balance_vnd)"
	"  SELECT p.account_id, 'debit', p.txn_id, p.fee_vnd,"
	"   u.balance_vnd + COALESCE(sum(p.fee_vnd) OVER (PARTITION BY p.account_id ORDER BY p.time_ms, p.txn_id"
	"    ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), 0)"
	"  FROM p JOIN u ON u.id = p.account_id RETURNING 1),"
	" rn AS (INSERT INTO notifications (account_id, kind, txn_id, amount_vnd, balance_vnd, status)"
	"  SELECT i.account_id, 'refused', i.txn_id, NULLIF(i.fee_vnd, 0), a.balance_vnd, a.status"
	"  FROM i JOIN accounts a ON a.id = i.account_id AND a.kind = 'customer'"
	"  WHERE i.outcome IN (2, 3) RETURNING 1)"
	"SELECT (SELECT count(*) FROM i), (SELECT count(*) FROM l),"
	" (SELECT count(*) FROM i WHERE disposition = 'account_not_found'), (SELECT count(*) FROM sn),"
	" (SELECT count(*) FROM dn) + (SELECT count(*) FROM rn)";

static int
cmd_count(struct settler *s, const char *sql, uint64_t *n, char *err, size_t errlen)
{
	PGresult *res;
	int rc = cdb_query(s->db, sql, 0, NULL, &res, err, errlen);
	if (rc != 0)
		return rc;
	if (n != NULL)
		*n = strtoull(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

static int
write_quarantine(struct settler *s, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->nq; i++) {
		const struct quar *q = &s->q[i];
		char st[16], ln[16], sq[24], hash[2 * 32 + 3];
		char *payload = malloc(2 * q->it->len + 3);
		const char *p[6] = {st, ln, q->seq >= 0 ? sq : NULL, q->reason, payload, hash};
		if (payload == NULL)
			return TOLL_ENOMEM;
		snprintf(st, sizeof(st), "%" PRIu32, q->station);
		snprintf(ln, sizeof(ln), "%u", q->lane);
		snprintf(sq, sizeof(sq), "%" PRId64, q->seq);
		cdb_bytea_hex(q->it->bytes, q->it->len, payload);
		cdb_bytea_hex(q->it->hash, 32, hash);
		int rc = cdb_query(s->db,
				   "INSERT INTO quarantine (station_id, lane_id, lane_seq, reason, payload, payload_hash)"
				   " VALUES ($1, $2, $3, $4, $5, $6)"
				   " ON CONFLICT (payload_hash, reason) DO UPDATE SET seen = quarantine.seen + 1,"
				   " last_seen = now()",
				   6, p, NULL, err, errlen);
		free(payload);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
write_gaps_and_progress(struct settler *s, struct settle_batch **b, unsigned n, char *err,
			size_t errlen)
{
	for (size_t i = 0; i < s->ng; i++) {
		char st[16], ln[16], f[24], t[24];
		const char *p[4] = {st, ln, f, t};
		snprintf(st, sizeof(st), "%" PRIu32, s->g[i].station);
		snprintf(ln, sizeof(ln), "%u", s->g[i].lane);
		snprintf(f, sizeof(f), "%" PRIu64, s->g[i].from);
		snprintf(t, sizeof(t), "%" PRIu64, s->g[i].to);
		int rc = cdb_query(s->db,
				   "INSERT INTO gaps (station_id, lane_id, from_seq, to_seq) VALUES ($1, $2, $3, $4)"
				   " ON CONFLICT (station_id, lane_id, from_seq) DO UPDATE"
				   " SET to_seq = GREATEST(gaps.to_seq, EXCLUDED.to_seq)",
				   4, p, NULL, err, errlen);
		if (rc != 0)
			return rc;
	}
	for (unsigned i = 0; i < n; i++) {
		if (b[i]->status != TOLL_UMSG_OK)
			continue;
		struct lstate *l = find_slot(s, b[i]->station_id, b[i]->lane_id);
		if (!l->used || !l->touched || l->w_acked == l->acked)
			continue;
		l->touched = 0; /* one update a lane */
		char st[16], ln[16], sq[24], hash[2 * 32 + 3];
		const char *p[4] = {st, ln, sq, hash};
		snprintf(st, sizeof(st), "%" PRIu32, l->station);
		snprintf(ln, sizeof(ln), "%u", l->lane);
		snprintf(sq, sizeof(sq), "%" PRIu64, l->w_acked);
		cdb_bytea_hex(l->w_hash, 32, hash);
		int rc = cdb_query(s->db,
				   "UPDATE lane_progress SET acked_seq = $3, last_hash = $4, updated_at = now()"
				   " WHERE station_id = $1 AND lane_id = $2",
				   4, p, NULL, err, errlen);
		if (rc == 0)
			rc = cdb_query(s->db,
				       "UPDATE gaps SET filled_at = now() WHERE station_id = $1 AND lane_id = $2"
				       " AND filled_at IS NULL AND to_seq <= $3",
				       3, p, NULL, err, errlen);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
run(struct settler *s, struct settle_batch **b, unsigned n, int careful, char *err, size_t errlen)
{
	int rc;

	if (!s->temps_ready) {
		rc = cdb_exec(s->db, STAGE_SQL, err, errlen);
		if (rc != 0)
			return rc;
		s->temps_ready = 1;
	}
	rc = cdb_exec(s->db, "BEGIN", err, errlen);
	if (rc != 0)
		return rc;
	for (unsigned i = 0; i < n; i++) {
		struct settle_batch *x = b[i];
		struct lstate *l;
		x->status = TOLL_UMSG_OK;
		x->accepted = x->duplicates = x->quarantined = 0;
		if (!x->lane_known) {
			/* kept, but not this lane's progress: there is none */
			x->status = TOLL_UMSG_UNKNOWN_LANE;
			x->acked_seq = 0;
			for (unsigned k = 0; k < x->n; k++) {
				rc = quarantine(s, x->station_id, x->lane_id,
						x->items[k].verdict == V_MALFORMED ? -1 : (int64_t)x->items[k].t.lane_seq,
						"unknown-lane", &x->items[k]);
				if (rc != 0)
					return rc;
				x->quarantined++;
			}
			continue;
		}
		rc = lane_state(s, x->station_id, x->lane_id, &l, err, errlen);
		if (rc != 0)
			return rc;
		if (!l->touched) {
			l->w_acked = l->acked;
			memcpy(l->w_hash, l->hash, 32);
		}
		rc = classify(s, x, l);
		if (rc != 0)
			return rc;
	}
	rc = check_dups(s, err, errlen);
	if (rc != 0)
		return rc;
	if (s->copy_len > 0) {
		uint64_t inserted = 0, conflicts = 0, posted = 0, unposted = 0, notes = 0;
		PGresult *res;
		rc = copy_room(s, 2);
		if (rc != 0)
			return rc;
		put_be(s, 0xffff, 2); /* the trailer */
		rc = cdb_copy_in(s->db,
				 "COPY stage (txn_id, station_id, lane_id, lane_seq, time_ms, utc_offset_min,"
				 " outcome, flags, epc_hex, account_id, vclass, entry_station, entry_time_ms,"
				 " fee_vnd, key_id, payload, payload_hash) FROM STDIN (FORMAT binary)",
				 s->copy, s->copy_len, err, errlen);
		if (rc == 0 && careful)
			rc = cmd_count(s, TXN_ID_CONFLICT_SQL, &conflicts, err, errlen);
		if (rc == 0)
			rc = cdb_query(s->db, SETTLE_SQL, 0, NULL, &res, err, errlen);
		if (rc != 0)
			return rc;
		if (PQntuples(res) != 1 || PQnfields(res) != 5) {
			PQclear(res);
			snprintf(err, errlen, "settlement statement: unexpected result shape");
			return TOLL_EDB;
		}
		inserted = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
		posted = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
		unposted = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
		notes = strtoull(PQgetvalue(res, 0, 3), NULL, 10) + strtoull(PQgetvalue(res, 0, 4), NULL, 10);
		PQclear(res);
		if (conflicts > 0)
			toll_err("%" PRIu64 " records carry a transaction id another record has: quarantined"
				 " (txn-id-conflict)", conflicts);
		s->stats.posted += posted;
		s->stats.unposted += unposted;
		s->stats.notifications += notes;
		if (inserted + conflicts != s->nacc) {
			snprintf(err, errlen, "%" PRIu64 " transactions stored and %" PRIu64 " kept aside of %zu staged",
				 inserted, conflicts, s->nacc);
			return TOLL_EDB;
		}
	}
	rc = write_quarantine(s, err, errlen);
	if (rc == 0)
		rc = write_gaps_and_progress(s, b, n, err, errlen);
	if (rc == 0)
		rc = cdb_exec(s->db, "COMMIT", err, errlen);
	return rc;
}

int
settler_run(struct settler *s, struct settle_batch **b, unsigned n, char *err, size_t errlen)
{
	/* what a failed attempt counted is not kept: it is counted again */
	struct settle_stats before = s->stats;
	int rc;

	for (int careful = 0;; careful = 1) {
		s->copy_len = 0;
		s->nq = s->ng = s->nacc = s->nd = 0;
		for (size_t i = 0; i < s->cap; i++)
			s->lanes[i].touched = 0;
		rc = run(s, b, n, careful, err, errlen);
		if (rc == 0)
			break;
		char e2[128];
		if (!cdb_broken(s->db))
			(void)cdb_exec(s->db, "ROLLBACK", e2, sizeof(e2));
		drop_cache(s);
		s->stats = before;
		if (rc == TOLL_EEXIST && !careful) {
			s->stats.careful_groups++;
			before = s->stats;
			continue;
		}
		s->stats.db_errors++;
		return rc == TOLL_EEXIST ? TOLL_EDB : rc;
	}
	/* durable: the group's progress is now the lanes' progress */
	s->stats.groups++;
	for (unsigned i = 0; i < n; i++) {
		struct settle_batch *x = b[i];
		s->stats.batches++;
		s->stats.records += x->n;
		s->stats.accepted += x->accepted;
		s->stats.duplicates += x->duplicates;
		s->stats.quarantined += x->quarantined;
		for (unsigned k = 0; k < x->n; k++)
			if (x->items[k].verdict >= 0 && x->items[k].verdict < 8)
				s->stats.by_verdict[x->items[k].verdict]++;
		if (x->status != TOLL_UMSG_OK)
			continue;
		struct lstate *l = find_slot(s, x->station_id, x->lane_id);
		if (l->used) {
			l->acked = l->w_acked;
			memcpy(l->hash, l->w_hash, 32);
		}
	}
	for (unsigned i = 0; i < n; i++) {
		struct lstate *l = find_slot(s, b[i]->station_id, b[i]->lane_id);
		if (b[i]->status == TOLL_UMSG_OK && l->used)
			b[i]->acked_seq = l->acked;
	}
	return 0;
}
