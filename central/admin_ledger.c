/* admin_ledger.c: toll-admin's money commands (admin.h).
 *
 *   account statement ID [--limit N] [--from DAY] [--to DAY]
 *   correct TXN_ID --reason R --amount VND [--charge] [--note TEXT] [--again]
 *   export WHAT [--from DAY] [--to DAY]
 *
 * A correction is never an edit: a new ledger entry (kind correction) that
 * refers to the toll's entry (corrects) and to its lane record (txn_id),
 * a row in corrections with the reason code, the note and the operator,
 * both balances, the customer's status for the lanes and a notification,
 * in one transaction (as central/trips.c corrects a closed-road exit). */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "err.h"

#define STATEMENT_LIMIT_DEFAULT 1000
#define STATEMENT_LIMIT_MAX 1000000
#define CORRECTION_MAX_VND 100000000ULL /* the largest fee a lane may charge (SETTLE_FEE_MAX_VND) */
#define STAMP "pg_current_xact_id()::text::bigint"
#define TXN_F_ENTRY_UNKNOWN 1 /* docs/transaction-format.md: exit charged without its entry */

/* A day range, both included, in the stations' calendar: to >= from. */
static int
parse_days(struct req *r, const char *from, const char *to, char *err, size_t errlen)
{
	if ((from != NULL && admin_parse_day("--from", from, r->from_day, err, errlen) != 0) ||
	    (to != NULL && admin_parse_day("--to", to, r->to_day, err, errlen) != 0))
		return 2;
	if (from != NULL && to != NULL && strcmp(r->to_day, r->from_day) < 0) {
		toll_errf(err, errlen, 2, "--to %s is before --from %s", r->to_day, r->from_day);
		return 2;
	}
	return 0;
}

/* ---- account statement ---------------------------------------------------- */

int
admin_parse_statement(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	if (admin_parse_u64("account id", pos[0], 1, ADMIN_ID_MAX, &r->account, err, errlen) != 0)
		return 2;
	r->limit = STATEMENT_LIMIT_DEFAULT;
	if (opt[0] != NULL &&
	    admin_parse_u64("--limit", opt[0], 1, STATEMENT_LIMIT_MAX, &r->limit, err, errlen) != 0)
		return 2;
	return parse_days(r, opt[1], opt[2], err, errlen);
}

/* The start of a day (station time) as a timestamptz literal's text, or
 * NULL when not given. */
#define DAY_START(d) "($" d "::date::timestamp AT TIME ZONE '" ADMIN_ZONE_DEFAULT "')"

/* The entries touching the account, newest first (those of --from..--to
 * when given, between the opening and the closing balance), and its
 * balance checked against all of them.  The transaction is REPEATABLE
 * READ: one snapshot, in which a posting's entries and its balance move
 * are both or neither. */
int
admin_run_statement(struct admin *a, const struct req *r)
{
	static const char *const names[] = {"id",	      "time",	    "kind",		"debit_account",
					    "credit_account", "amount_vnd", "txn_or_reference"};
	struct admin_num id = admin_num(r->account), lim = admin_num(r->limit);
	const char *from = r->from_day[0] ? r->from_day : NULL, *to = r->to_day[0] ? r->to_day : NULL;
	char to_next[11] = "";
	PGresult *sum = NULL, *res = NULL, *rng = NULL;
	struct admin_table *t = NULL;
	char m1[ADMIN_MONEY_CELL], m2[ADMIN_MONEY_CELL], m3[ADMIN_MONEY_CELL];
	int rc = 1, ranged = from != NULL || to != NULL;

	const char *p[1] = {id.s};
	if (admin_sql(a, &sum,
		      "SELECT a.kind, a.name, a.balance_vnd, s.total, a.balance_vnd = s.total,"
		      " s.entries, a.balance_vnd - s.total, " TS("now()") " FROM accounts a,"
		      " LATERAL (SELECT (SELECT COALESCE(sum(amount_vnd), 0) FROM ledger_entries"
		      "                  WHERE credit_account = a.id)"
		      "               - (SELECT COALESCE(sum(amount_vnd), 0) FROM ledger_entries"
		      "                  WHERE debit_account = a.id) AS total,"
		      "                 (SELECT count(*) FROM ledger_entries WHERE credit_account = a.id)"
		      "               + (SELECT count(*) FROM ledger_entries WHERE debit_account = a.id) AS entries) s"
		      " WHERE a.id = $1",
		      1, p) != 0)
		return admin_db_fail(a, "could not read account %s", id.s);
	if (PQntuples(sum) != 1) {
		admin_fail("no account %s", id.s);
		goto out;
	}
	/* the range's bounds, and the balance at each: the sum of the
	 * entries before it */
	const char *pr[3] = {id.s, from, to};
	if (ranged &&
	    admin_sql(a, &rng,
		      "WITH b AS (SELECT $2::date::timestamp AT TIME ZONE '" ADMIN_ZONE_DEFAULT "' AS lo,"
		      "  ($3::date + 1)::timestamp AT TIME ZONE '" ADMIN_ZONE_DEFAULT "' AS hi)"
		      " SELECT " TS("b.lo") ", " TS("b.hi") ","
		      " (SELECT COALESCE(sum(CASE WHEN credit_account = $1 THEN amount_vnd ELSE -amount_vnd END), 0)"
		      "  FROM ledger_entries WHERE (credit_account = $1 OR debit_account = $1) AND created_at < b.lo),"
		      " (SELECT COALESCE(sum(CASE WHEN credit_account = $1 THEN amount_vnd ELSE -amount_vnd END), 0)"
		      "  FROM ledger_entries WHERE (credit_account = $1 OR debit_account = $1)"
		      "  AND (b.hi IS NULL OR created_at < b.hi)),"
		      " (SELECT count(*) FROM ledger_entries WHERE (credit_account = $1 OR debit_account = $1)"
		      "  AND (b.lo IS NULL OR created_at >= b.lo) AND (b.hi IS NULL OR created_at < b.hi)),"
		      " to_char($3::date + 1, 'YYYY-MM-DD')"
		      " FROM b",
		      3, pr) != 0) {
		admin_db_fail(a, "could not read the balances of account %s", id.s);
		goto out;
	}
	if (ranged)
		snprintf(to_next, sizeof(to_next), "%s", admin_val(rng, 0, 5));
	/* newest first; each half walks its (account, id) index */
	const char *pe[4] = {id.s, lim.s, from, to};
	if (admin_sql(a, &res,
		      "WITH b AS (SELECT $3::date::timestamp AT TIME ZONE '" ADMIN_ZONE_DEFAULT "' AS lo,"
		      "  ($4::date + 1)::timestamp AT TIME ZONE '" ADMIN_ZONE_DEFAULT "' AS hi)"
		      " SELECT e.id, " TS("e.created_at") ", e.kind, e.debit_account, e.credit_account,"
		      " CASE WHEN e.credit_account = $1 THEN e.amount_vnd ELSE -e.amount_vnd END,"
		      " CASE WHEN e.kind = 'correction' AND e.txn_id IS NOT NULL AND e.reference <> ''"
		      "  THEN e.txn_id::text || ' (' || e.reference || ')' ELSE COALESCE(e.txn_id::text, e.reference) END"
		      " FROM (("
		      "  SELECT l.* FROM ledger_entries l, b WHERE l.credit_account = $1"
		      "   AND (b.lo IS NULL OR l.created_at >= b.lo) AND (b.hi IS NULL OR l.created_at < b.hi)"
		      "   ORDER BY l.id DESC LIMIT $2)"
		      "  UNION ALL ("
		      "  SELECT l.* FROM ledger_entries l, b WHERE l.debit_account = $1"
		      "   AND (b.lo IS NULL OR l.created_at >= b.lo) AND (b.hi IS NULL OR l.created_at < b.hi)"
		      "   ORDER BY l.id DESC LIMIT $2)) e"
		      " ORDER BY e.id DESC LIMIT $2",
		      4, pe) != 0) {
		admin_db_fail(a, "could not read the ledger entries of account %s", id.s);
		goto out;
	}
	if (admin_out_new(7, names, "rllrrrl", &t) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *cells[7] = {admin_val(res, i, 0), admin_val(res, i, 1), admin_val(res, i, 2),
					admin_val(res, i, 3), admin_val(res, i, 4),
					admin_money_text(a, admin_val(res, i, 5), m1, 1), admin_val(res, i, 6)};
		if (admin_out_add(t, cells) != 0)
			goto out;
	}
	const char *shown_of = ranged ? admin_val(rng, 0, 4) : admin_val(sum, 0, 5);
	if (a->csv) {
		/* the balances as the last rows: opening and closing of the
		 * range, then the balance now */
		if (ranged) {
			const char *o[7] = {"", from ? admin_val(rng, 0, 0) : "", "opening", "", "",
					    admin_money_text(a, admin_val(rng, 0, 2), m1, 0), ""};
			const char *c[7] = {"", to ? admin_val(rng, 0, 1) : admin_val(sum, 0, 7), "closing", "", "",
					    admin_money_text(a, admin_val(rng, 0, 3), m2, 0), ""};
			if (admin_out_add(t, o) != 0 || admin_out_add(t, c) != 0)
				goto out;
		}
		const char *cells[7] = {"", admin_val(sum, 0, 7), "balance", "", "",
					admin_money_text(a, admin_val(sum, 0, 2), m1, 0), ""};
		if (admin_out_add(t, cells) != 0)
			goto out;
		admin_table_print(t, 1, a->out);
	} else {
		fprintf(a->out, "account %s (%s)%s%s\n", id.s, admin_val(sum, 0, 0), admin_val(sum, 0, 1)[0] ? " " : "",
			admin_val(sum, 0, 1));
		if (ranged)
			fprintf(a->out, "opening balance %s VND at %s (%s 00:00 station time)\n",
				admin_money_text(a, admin_val(rng, 0, 2), m1, 0),
				from ? admin_val(rng, 0, 0) : "the first entry", from ? from : "-");
		admin_table_print(t, 0, a->out);
		if ((size_t)PQntuples(res) < strtoull(shown_of, NULL, 10))
			fprintf(a->out, "(the newest %d of %s entries: --limit N for more)\n", PQntuples(res), shown_of);
		if (ranged)
			fprintf(a->out, "closing balance %s VND at %s (%s 00:00 station time), after %s entries\n",
				admin_money_text(a, admin_val(rng, 0, 3), m1, 0),
				to ? admin_val(rng, 0, 1) : admin_val(sum, 0, 7), to ? to_next : "now", shown_of);
		fprintf(a->out, "balance %s VND at %s, the sum of its %s ledger entries%s\n",
			admin_money_text(a, admin_val(sum, 0, 2), m1, 0), admin_val(sum, 0, 7), admin_val(sum, 0, 5),
			strcmp(admin_val(sum, 0, 4), "t") == 0 ? ": checked" : "");
	}
	if (strcmp(admin_val(sum, 0, 4), "t") != 0) {
		admin_fail("account %s: balance %s VND differs from the sum of its %s ledger entries, %s VND "
			   "(by %s VND): the cached balance and the ledger disagree",
			   id.s, admin_money_text(a, admin_val(sum, 0, 2), m1, 0), admin_val(sum, 0, 5),
			   admin_money_text(a, admin_val(sum, 0, 3), m2, 0), admin_money_text(a, admin_val(sum, 0, 6), m3, 0));
		goto out;
	}
	rc = 0;
out:
	admin_table_free(t);
	PQclear(res);
	PQclear(rng);
	PQclear(sum);
	return rc;
}

/* ---- correct -------------------------------------------------------------- */

static const char *const reasons[] = {"wrong-class", "disputed", "exit-without-entry", "other", NULL};

/* A UUID as 8-4-4-4-12 hex digits or 32 digits, either case; out gets the
 * canonical lowercase form. */
static int
parse_uuid(const char *s, char out[ADMIN_UUID_LEN + 1], char *err, size_t errlen)
{
	char hex[33];
	size_t n = 0, len = strlen(s);
	int dashed = len == 36;

	if (len != 32 && len != 36)
		goto bad;
	for (size_t i = 0; i < len; i++) {
		if (dashed && (i == 8 || i == 13 || i == 18 || i == 23)) {
			if (s[i] != '-')
				goto bad;
			continue;
		}
		if (!isxdigit((unsigned char)s[i]))
			goto bad;
		hex[n++] = (char)tolower((unsigned char)s[i]);
	}
	hex[n] = 0;
	snprintf(out, ADMIN_UUID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
	return 0;
bad:
	return toll_errf(err, errlen, TOLL_EINVAL, "transaction id '%.40s': want a UUID (8-4-4-4-12 hex digits)", s);
}

int
admin_parse_correct(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	if (parse_uuid(pos[0], r->txn, err, errlen) != 0)
		return 2;
	if (opt[0] == NULL) {
		toll_errf(err, errlen, 2, "correct needs --reason wrong-class, disputed, exit-without-entry or other");
		return 2;
	}
	for (int i = 0; reasons[i] != NULL; i++)
		if (strcmp(opt[0], reasons[i]) == 0)
			r->reason_code = reasons[i];
	if (r->reason_code == NULL) {
		toll_errf(err, errlen, 2, "--reason '%.40s': want wrong-class, disputed, exit-without-entry or other",
			  opt[0]);
		return 2;
	}
	if (opt[1] == NULL) {
		toll_errf(err, errlen, 2, "correct needs --amount VND");
		return 2;
	}
	if (admin_parse_u64("--amount", opt[1], 1, CORRECTION_MAX_VND, &r->amount, err, errlen) != 0)
		return 2;
	r->note = opt[2] != NULL ? opt[2] : "";
	if (admin_check_text("--note", r->note, ADMIN_TEXT_MAX, 1, err, errlen) != 0)
		return 2;
	r->charge = opt[3] != NULL;
	r->again = opt[4] != NULL;
	if (r->charge && strcmp(r->reason_code, "wrong-class") != 0 && strcmp(r->reason_code, "other") != 0) {
		toll_errf(err, errlen, 2, "--charge is for --reason wrong-class or other: a %s is refunded, never charged",
			  strcmp(r->reason_code, "disputed") == 0 ? "disputed passage" : "missing entry");
		return 2;
	}
	return 0;
}

int
admin_run_correct(struct admin *a, const struct req *r)
{
	static const char *const names[] = {"ledger_id", "txn_id",	"reason",    "direction", "amount_vnd",
					    "account_id", "balance_vnd", "toll_vnd", "left_vnd",  "operator",
					    "created_at"};
	struct admin_num amt = admin_num(r->amount);
	const char *direction = r->charge ? "charge" : "refund";
	PGresult *res = NULL;
	struct admin_table *t = NULL;
	char m[4][ADMIN_MONEY_CELL];
	char toll_id[24], customer[24], revenue[24], disp[24], outcome[24];
	int64_t toll_vnd, refunded, charged, left;
	long flags;
	int rc = 1;

	/* the lane record and its toll entry */
	const char *pt[1] = {r->txn};
	if (admin_sql(a, &res,
		      "SELECT t.disposition, toll_outcome(t.outcome), t.flags, e.id, e.debit_account, e.credit_account,"
		      " e.amount_vnd, t.station_id, t.lane_id, t.lane_seq"
		      " FROM transactions t LEFT JOIN ledger_entries e ON e.txn_id = t.txn_id AND e.kind = 'toll'"
		      " WHERE t.txn_id = $1::uuid",
		      1, pt) != 0)
		return admin_db_fail(a, "could not read transaction %s", r->txn);
	if (PQntuples(res) != 1) {
		PQclear(res);
		admin_fail("no transaction %s", r->txn);
		return 1;
	}
	snprintf(disp, sizeof(disp), "%s", admin_val(res, 0, 0));
	snprintf(outcome, sizeof(outcome), "%s", admin_val(res, 0, 1));
	if (strcmp(disp, "posted") != 0) {
		admin_fail("transaction %s (station %s lane %s seq %s, %s) was not posted (disposition %s):"
			   " nothing was charged, nothing to correct",
			   r->txn, admin_val(res, 0, 7), admin_val(res, 0, 8), admin_val(res, 0, 9), outcome, disp);
		PQclear(res);
		return 1;
	}
	if (PQgetisnull(res, 0, 3)) {
		admin_fail("transaction %s is posted but has no toll entry in the ledger: reconcile its lane first",
			   r->txn);
		PQclear(res);
		return 1;
	}
	flags = strtol(admin_val(res, 0, 2), NULL, 10);
	snprintf(toll_id, sizeof(toll_id), "%s", admin_val(res, 0, 3));
	snprintf(customer, sizeof(customer), "%s", admin_val(res, 0, 4));
	snprintf(revenue, sizeof(revenue), "%s", admin_val(res, 0, 5));
	toll_vnd = strtoll(admin_val(res, 0, 6), NULL, 10);
	PQclear(res);
	res = NULL;
	if (strcmp(r->reason_code, "exit-without-entry") == 0 && !(flags & TXN_F_ENTRY_UNKNOWN)) {
		admin_fail("transaction %s was not charged without its entry (its exit flag is not set): "
			   "exit-without-entry is for closed-road exits charged the farthest entry's fee",
			   r->txn);
		return 1;
	}

	/* the customer's row first, as settlement and the trip matcher
	 * lock: corrections of one toll follow one another */
	const char *pc[1] = {customer};
	if (admin_sql(a, &res, "SELECT kind, status FROM accounts WHERE id = $1 FOR UPDATE", 1, pc) != 0)
		return admin_db_fail(a, "could not lock account %s", customer);
	PQclear(res);
	/* a closed-road exit the trip matcher may still correct is left to it */
	if (admin_sql(a, &res, "SELECT state FROM trip_exits WHERE txn_id = $1::uuid FOR UPDATE", 1, pt) != 0)
		return admin_db_fail(a, "could not read the trip of %s", r->txn);
	if (PQntuples(res) == 1 &&
	    (strcmp(admin_val(res, 0, 0), "new") == 0 || strcmp(admin_val(res, 0, 0), "waiting") == 0)) {
		admin_fail("transaction %s is a closed-road exit central's trip matcher has not closed (state %s): it "
			   "corrects the fee itself when the entry arrives; correct it once the trip is matched or expired"
			   " (trips.expiry)",
			   r->txn, admin_val(res, 0, 0));
		PQclear(res);
		return 1;
	}
	PQclear(res);
	/* what is left of the toll after the corrections that refer to it */
	const char *ps[2] = {toll_id, customer};
	if (admin_sql(a, &res,
		      "SELECT COALESCE(sum(amount_vnd) FILTER (WHERE credit_account = $2), 0),"
		      " COALESCE(sum(amount_vnd) FILTER (WHERE debit_account = $2), 0)"
		      " FROM ledger_entries WHERE corrects = $1 AND kind = 'correction'",
		      2, ps) != 0)
		return admin_db_fail(a, "could not read the corrections of %s", r->txn);
	refunded = strtoll(admin_val(res, 0, 0), NULL, 10);
	charged = strtoll(admin_val(res, 0, 1), NULL, 10);
	PQclear(res);
	res = NULL;
	left = toll_vnd - refunded + charged;
	if (!r->charge && (int64_t)r->amount > left) {
		char mt[ADMIN_MONEY_LEN], mr[ADMIN_MONEY_LEN], mc[ADMIN_MONEY_LEN], ml[ADMIN_MONEY_LEN],
			ma[ADMIN_MONEY_LEN];
		admin_money(toll_vnd, 0, mt);
		admin_money(refunded, 0, mr);
		admin_money(charged, 0, mc);
		admin_money(left, 0, ml);
		admin_money((int64_t)r->amount, 0, ma);
		admin_fail("a refund of %s VND is more than is left of toll %s: %s VND (the toll %s, refunded %s,"
			   " charged %s)",
			   ma, r->txn, ml, mt, mr, mc);
		return 1;
	}
	/* the same correction twice is refused unless meant */
	const char *pd[4] = {toll_id, r->reason_code, direction, amt.s};
	if (admin_sql(a, &res,
		      "SELECT ledger_id, " TS("created_at") ", operator FROM corrections WHERE toll_ledger_id = $1"
		      " AND reason = $2 AND direction = $3 AND amount_vnd = $4 ORDER BY ledger_id DESC LIMIT 1",
		      4, pd) != 0)
		return admin_db_fail(a, "could not read the corrections of %s", r->txn);
	if (PQntuples(res) == 1 && !r->again) {
		admin_fail("the same correction (%s, %s of %s VND) was posted already: ledger entry %s at %s by %s;"
			   " --again posts another",
			   r->reason_code, direction, amt.s, admin_val(res, 0, 0), admin_val(res, 0, 1),
			   admin_val(res, 0, 2));
		PQclear(res);
		return 1;
	}
	PQclear(res);
	res = NULL;

	/* the entry, its reason, the balances, the status, the notices */
	char reference[ADMIN_TEXT_MAX + 64];
	snprintf(reference, sizeof(reference), "%s%s%s", r->reason_code, r->note[0] ? ": " : "", r->note);
	const char *debit = r->charge ? customer : revenue, *credit = r->charge ? revenue : customer;
	char delta[32];
	snprintf(delta, sizeof(delta), "%s%s", r->charge ? "-" : "", amt.s);
	const char *pi[9] = {r->txn, reference, debit, credit, amt.s, toll_id, r->reason_code, direction, r->note};
	if (admin_sql(a, &res,
		      "WITH e AS (INSERT INTO ledger_entries (kind, txn_id, reference, debit_account, credit_account,"
		      "  amount_vnd, corrects) VALUES ('correction', $1::uuid, $2, $3, $4, $5, $6) RETURNING id),"
		      " c AS (INSERT INTO corrections (ledger_id, txn_id, toll_ledger_id, reason, direction, amount_vnd,"
		      "  note) SELECT e.id, $1::uuid, $6, $7, $8, $5, $9 FROM e RETURNING ledger_id, operator, created_at)"
		      " SELECT ledger_id, operator, " TS("created_at") " FROM c",
		      9, pi) != 0)
		return admin_db_fail(a, "could not post the correction of %s", r->txn);
	char ledger_id[24], op[128], created[32];
	snprintf(ledger_id, sizeof(ledger_id), "%s", admin_val(res, 0, 0));
	snprintf(op, sizeof(op), "%s", admin_val(res, 0, 1));
	snprintf(created, sizeof(created), "%s", admin_val(res, 0, 2));
	PQclear(res);
	res = NULL;
	const char *pb[3] = {customer, delta, r->txn};
	if (admin_sql(a, &res,
		      "WITH o AS (SELECT id, status AS old_status FROM accounts WHERE id = $1::bigint),"
		      " u AS (UPDATE accounts a SET balance_vnd = a.balance_vnd + $2::bigint,"
		      "  status = CASE WHEN a.kind <> 'customer' THEN a.status"
		      "   WHEN a.blocked_reason <> 0 OR a.balance_vnd + $2::bigint < 0 THEN 2"
		      "   WHEN a.balance_vnd + $2::bigint < a.low_threshold_vnd THEN 1 ELSE 0 END,"
		      "  list_xid = " STAMP
		      "  FROM o WHERE a.id = o.id RETURNING a.id, a.kind, a.status, a.balance_vnd, o.old_status),"
		      " sn AS (INSERT INTO notifications (account_id, kind, status, balance_vnd)"
		      "  SELECT id, 'status', status, balance_vnd FROM u WHERE kind = 'customer' AND status <> old_status),"
		      " n AS (INSERT INTO notifications (account_id, kind, txn_id, amount_vnd, balance_vnd)"
		      "  SELECT id, 'correction', $3::uuid, $2::bigint, balance_vnd FROM u)"
		      " SELECT balance_vnd FROM u",
		      3, pb) != 0)
		return admin_db_fail(a, "could not move account %s's balance", customer);
	char balance[24];
	snprintf(balance, sizeof(balance), "%s", admin_val(res, 0, 0));
	PQclear(res);
	res = NULL;
	const char *pv[2] = {revenue, delta};
	if (admin_sql(a, NULL, "UPDATE accounts SET balance_vnd = balance_vnd - $2::bigint WHERE id = $1::bigint", 2,
		      pv) != 0)
		return admin_db_fail(a, "could not move account %s's balance", revenue);

	char tv[24], lv[24];
	snprintf(tv, sizeof(tv), "%" PRId64, toll_vnd);
	snprintf(lv, sizeof(lv), "%" PRId64, r->charge ? left + (int64_t)r->amount : left - (int64_t)r->amount);
	if (admin_out_new(11, names, "rlllrrrrrll", &t) != 0)
		return 1;
	const char *cells[11] = {ledger_id,
				 r->txn,
				 r->reason_code,
				 direction,
				 admin_money_text(a, amt.s, m[0], 0),
				 customer,
				 admin_money_text(a, balance, m[1], 0),
				 admin_money_text(a, tv, m[2], 0),
				 admin_money_text(a, lv, m[3], 0),
				 op,
				 created};
	rc = admin_out_add(t, cells);
	if (rc == 0)
		admin_table_print(t, a->csv, a->out);
	admin_table_free(t);
	return rc;
}

/* ---- export --------------------------------------------------------------- */

/* What export prints: a view of 007_recon.sql, its order, and the column
 * a day range applies to (kind: 't' a timestamptz, 'm' ms of a lane
 * record, 'd' a day, 0 none). */
static const struct exportable {
	const char *what, *view, *order, *col;
	char kind;
} exportables[] = {
	{"transactions", "v_transactions", "station_id, lane_id, lane_seq", "time_ms", 'm'},
	{"ledger", "v_ledger", "id", "created_at", 't'},
	{"topups", "v_topups", "id", "created_at", 't'},
	{"corrections", "v_corrections", "ledger_id", "created_at", 't'},
	{"quarantine", "v_quarantine", "id", "first_seen", 't'},
	{"gaps", "v_gaps", "id", "found_at", 't'},
	{"daily-lane", "v_daily_lane", "day, station_id, lane_id, outcome", "day", 'd'},
	{"dispositions", "v_dispositions", "day, station_id, lane_id, disposition", "day", 'd'},
	{"station-revenue", "v_station_revenue", "day, station_id", "day", 'd'},
	{"partner-daily", "v_partner_daily", "day, partner_id", "day", 'd'},
	{"account-balance", "v_account_balance", "account_id", NULL, 0},
	{NULL, NULL, NULL, NULL, 0},
};

int
admin_parse_export(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	const struct exportable *x;

	for (x = exportables; x->what != NULL; x++)
		if (strcmp(pos[0], x->what) == 0 || strcmp(pos[0], x->view) == 0)
			break;
	if (x->what == NULL) {
		toll_errf(err, errlen, 2,
			  "'%.40s': want transactions, ledger, topups, corrections, quarantine, gaps, daily-lane,"
			  " dispositions, station-revenue, partner-daily or account-balance",
			  pos[0]);
		return 2;
	}
	r->what = x->what;
	if (x->kind == 0 && (opt[0] != NULL || opt[1] != NULL)) {
		toll_errf(err, errlen, 2, "%s is as of now: no --from or --to", x->what);
		return 2;
	}
	return parse_days(r, opt[0], opt[1], err, errlen);
}

int
admin_run_export(struct admin *a, const struct req *r)
{
	const struct exportable *x;
	char where[512] = "", lo[128] = "", hi[128] = "", q[1024];

	for (x = exportables; strcmp(x->what, r->what) != 0; x++)
		;
	/* COPY takes no parameters: the days are pasted, checked by
	 * admin_parse_day (digits and dashes only) */
	if (r->from_day[0]) {
		if (x->kind == 'd')
			snprintf(lo, sizeof(lo), "%s >= DATE '%s'", x->col, r->from_day);
		else if (x->kind == 't')
			snprintf(lo, sizeof(lo), "%s >= DATE '%s'::timestamptz", x->col, r->from_day);
		else
			snprintf(lo, sizeof(lo), "%s >= extract(epoch FROM DATE '%s'::timestamptz)::bigint * 1000", x->col,
				 r->from_day);
	}
	if (r->to_day[0]) {
		if (x->kind == 'd')
			snprintf(hi, sizeof(hi), "%s <= DATE '%s'", x->col, r->to_day);
		else if (x->kind == 't')
			snprintf(hi, sizeof(hi), "%s < (DATE '%s' + 1)::timestamptz", x->col, r->to_day);
		else
			snprintf(hi, sizeof(hi), "%s < extract(epoch FROM (DATE '%s' + 1)::timestamptz)::bigint * 1000",
				 x->col, r->to_day);
	}
	if (lo[0] || hi[0])
		snprintf(where, sizeof(where), " WHERE %s%s%s", lo, lo[0] && hi[0] ? " AND " : "", hi);
	/* days and times in the stations' zone, as the views' day columns */
	if (admin_sql(a, NULL, "SET LOCAL TimeZone = '" ADMIN_ZONE_DEFAULT "'", 0, NULL) != 0)
		return admin_db_fail(a, "could not set the time zone");
	snprintf(q, sizeof(q), "COPY (SELECT * FROM %s%s ORDER BY %s) TO STDOUT WITH (FORMAT csv, HEADER)", x->view,
		 where, x->order);
	int rc = cdb_copy_out(a->db, q, a->out, a->err, sizeof(a->err));
	if (rc != 0) {
		admin_tidy_err(a->err);
		return admin_db_fail(a, "could not export %s", x->what);
	}
	return 0;
}
