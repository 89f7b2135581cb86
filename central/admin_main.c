/* admin_main.c: toll-admin, the operators' command line for the central
 * database (accounts, vehicles, tags, stations, lanes and their keys,
 * passes, low-balance thresholds per class, tariffs).
 *
 *   toll-admin [--db CONNINFO] [--role ROLE] [--csv] COMMAND ...
 *
 * Every argument is checked before the database is reached (exit 2 with
 * the command's usage); every command is one database transaction, run as
 * the application role (SET ROLE toll_app by default), so the tool can do
 * only what central/sql grants toll-central; statements take text
 * parameters, never text pasted into SQL.  What a command created or
 * changed is printed once the transaction has committed; refusals and
 * failures go to stderr as "toll-admin: ..." with exit 1.
 *
 * Every change the lanes must hear about (a new tag or account, a block or
 * unblock, a pass made or revoked, a status changed by a threshold) stamps
 * the row's list_xid with this transaction's id (central/sql/001_init.sql):
 * central's list publisher finds it there. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_input.h"
#include "admin_table.h"
#include "cdb.h"
#include "crypto.h"
#include "err.h"

/* A tariff is checked with the lane's own parser before it is stored, so
 * central never hands the lanes a table they would refuse. */
#include "../lane-controller/lane_tariff.h"

#define CUSTOMER_ID_MAX 4294967295ULL /* the lane keeps 32 bits of a customer id */
#define ID_MAX 9223372036854775807ULL	/* bigint */
#define INT_ID_MAX 2147483647ULL	/* integer: station and network ids */
#define LANE_ID_MAX 65535ULL
#define REVENUE_ACCOUNT_BASE 1000000000000ULL /* + station id */
#define CUSTOMER_LOW_THRESHOLD_VND 100000 /* accounts.low_threshold_vnd's default */
#define THRESHOLD_MAX_VND 1000000000000ULL
#define STATEMENT_LIMIT_DEFAULT 1000
#define STATEMENT_LIMIT_MAX 1000000
#define LANE_LIST_MAX 100000
#define PASS_LIST_MAX 100000
#define TARIFF_FILE_MAX LANE_TARIFF_FILE_MAX
#define DEFAULT_ROLE "toll_app"
#define MONEY_CELL (ADMIN_MONEY_LEN + 1) /* with a sign */
#define OPTS_MAX 4
#define POS_MAX 3

/* UTC, to the second, whatever the session's TimeZone */
#define TS(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

struct admin {
	struct cdb *db;
	int csv;
	FILE *out; /* what the command prints, shown once it committed */
	char err[1024];
};

/* One command's arguments, checked. */
struct req {
	uint64_t account, vehicle, station, lane, network, limit, threshold;
	unsigned vclass, reason;
	int has_network, has_tid, exempt, free_flow;
	const char *kind, *name, *plate, *role, *file, *note, *valid_from, *valid_to;
	/* pass add: YYYY-MM-DD, checked against the calendar; to: "" when not given */
	char from_day[11], to_day[11];
	uint64_t pass;
	int has_vehicle;
	char epc[ADMIN_EPC_HEX_MAX + 1], tid[ADMIN_TID_HEX + 1], keyid[ADMIN_KEYID_HEX + 1];
	uint8_t pub[32];
	/* tariff load: the file, read and checked before connecting */
	char *body;
	size_t body_len;
	uint64_t tariff_version;
};

struct command {
	const char *words; /* "lane key add" */
	const char *args;  /* the rest of its usage line */
	int npos;
	const char *opts[OPTS_MAX + 1]; /* "--name=" takes a value, "--exempt" does not */
	/* 0, or the exit status (2: bad arguments, 1: refused) with err set */
	int (*parse)(struct req *r, char **pos, char **opt, char *err, size_t errlen);
	int (*run)(struct admin *a, const struct req *r);
	int read_only;
};

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
fail(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "toll-admin: %s\n", msg);
}

/* ---- the database ----------------------------------------------------- */

/* libpq's "SQLSTATE: ERROR:  text\nDETAIL: ..." on one line, without the
 * "ERROR:  " */
static void
tidy_err(char *s)
{
	char *p;

	if ((p = strstr(s, "ERROR:  ")) != NULL)
		memmove(p, p + 8, strlen(p + 8) + 1);
	for (p = s; *p; p++)
		if (*p == '\n')
			*p = ';';
}

/* A statement with text parameters; *res (may be NULL) for the caller to
 * PQclear.  On failure a->err holds the reason. */
static int
sql(struct admin *a, PGresult **res, const char *query, int n, const char *const *params)
{
	int rc = cdb_query(a->db, query, n, params, res, a->err, sizeof(a->err));

	if (rc != 0)
		tidy_err(a->err);
	return rc;
}

static int db_fail(struct admin *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "toll-admin: could not ...: the database's reason"; returns 1 */
static int
db_fail(struct admin *a, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fail("%s: %s", msg, a->err);
	return 1;
}

static const char *
val(const PGresult *res, int row, int col)
{
	return PQgetvalue(res, row, col); /* "" for NULL */
}

struct num {
	char s[24];
};

static struct num
num(uint64_t v)
{
	struct num n;
	snprintf(n.s, sizeof(n.s), "%" PRIu64, v);
	return n;
}

/* Money from the database's text, for people or CSV; text that is not an
 * int64 (a numeric sum) is shown as it is. */
static const char *
money(const struct admin *a, const char *text, char buf[MONEY_CELL], int sign)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != 0) {
		snprintf(buf, MONEY_CELL, "%s", text);
		return buf;
	}
	char m[ADMIN_MONEY_LEN];
	admin_money(v, a->csv, m);
	snprintf(buf, MONEY_CELL, "%s%s", sign && v > 0 && !a->csv ? "+" : "", m);
	return buf;
}

static const char *
status_name(const char *code)
{
	if (strcmp(code, "0") == 0)
		return "valid";
	if (strcmp(code, "1") == 0)
		return "low balance";
	if (strcmp(code, "2") == 0)
		return "invalid";
	return code;
}

/* A reason code: the number, and for people its name ("2 (stolen)"). */
static const char *
reason_cell(const struct admin *a, const char *code, char *buf, size_t len)
{
	unsigned long v = strtoul(code, NULL, 10);
	const char *name = admin_reason_name((unsigned)v);

	if (a->csv || name[0] == 0 || v > 255)
		snprintf(buf, len, "%s", code);
	else
		snprintf(buf, len, "%s (%s)", code, name);
	return buf;
}

static const char *
yes_no(const char *pg_bool)
{
	return strcmp(pg_bool, "t") == 0 ? "yes" : strcmp(pg_bool, "f") == 0 ? "no" : "";
}

static int
table_new(unsigned ncols, const char *const *names, const char *align, struct admin_table **t)
{
	if (admin_table_new(ncols, names, align, t) != 0) {
		fail("out of memory");
		return 1;
	}
	return 0;
}

static int
table_add(struct admin_table *t, const char *const *cells)
{
	int rc = admin_table_add(t, cells);

	if (rc != 0) {
		fail("could not add a row to the output: %s", toll_strerror(rc));
		return 1;
	}
	return 0;
}

/* ---- accounts ---------------------------------------------------------- */

#define ACCOUNT_COLS                                                                           \
	"id, kind, name, balance_vnd, status, low_threshold_vnd, blocked_reason, list_xid, " \
	TS("created_at")

/* The account as a one-row table; 1 (and a message) when there is none. */
static int
print_account(struct admin *a, uint64_t id)
{
	static const char *const names[] = {"id",		 "kind",	   "name",	   "balance_vnd",
					    "status",		 "low_threshold_vnd", "blocked_reason", "list_xid",
					    "created_at"};
	struct num n = num(id);
	const char *p[1] = {n.s};
	PGresult *res;
	struct admin_table *t;
	char bal[MONEY_CELL], thr[MONEY_CELL], rsn[32];
	int rc;

	if (sql(a, &res, "SELECT " ACCOUNT_COLS " FROM accounts WHERE id = $1", 1, p) != 0)
		return db_fail(a, "could not read account %s", n.s);
	if (PQntuples(res) != 1) {
		PQclear(res);
		fail("no account %s", n.s);
		return 1;
	}
	if (table_new(9, names, "rllrlrlrl", &t) != 0) {
		PQclear(res);
		return 1;
	}
	const char *cells[9] = {val(res, 0, 0),
				val(res, 0, 1),
				val(res, 0, 2),
				money(a, val(res, 0, 3), bal, 0),
				status_name(val(res, 0, 4)),
				money(a, val(res, 0, 5), thr, 0),
				reason_cell(a, val(res, 0, 6), rsn, sizeof(rsn)),
				val(res, 0, 7),
				val(res, 0, 8)};
	rc = table_add(t, cells);
	if (rc == 0)
		admin_table_print(t, a->csv, a->out);
	admin_table_free(t);
	PQclear(res);
	return rc;
}

static int
parse_account_add(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	r->kind = opt[2] != NULL ? opt[2] : "customer";
	if (strcmp(r->kind, "customer") != 0 && strcmp(r->kind, "revenue") != 0 &&
	    strcmp(r->kind, "partner") != 0 && strcmp(r->kind, "suspense") != 0) {
		toll_errf(err, errlen, 2, "--kind '%.40s': want customer, revenue, partner or suspense", r->kind);
		return 2;
	}
	int customer = strcmp(r->kind, "customer") == 0;
	if (admin_parse_u64(customer ? "customer account id" : "account id", pos[0], 1,
			    customer ? CUSTOMER_ID_MAX : ID_MAX, &r->account, err, errlen) != 0)
		return 2;
	r->name = opt[0] != NULL ? opt[0] : "";
	if (admin_check_text("--name", r->name, ADMIN_TEXT_MAX, 1, err, errlen) != 0)
		return 2;
	/* internal accounts have no status for the lanes: no threshold */
	r->threshold = customer ? CUSTOMER_LOW_THRESHOLD_VND : 0;
	if (opt[1] != NULL &&
	    admin_parse_u64("--low-threshold", opt[1], 0, THRESHOLD_MAX_VND, &r->threshold, err, errlen) != 0)
		return 2;
	return 0;
}

static int
run_account_add(struct admin *a, const struct req *r)
{
	struct num id = num(r->account), thr = num(r->threshold);
	/* a new customer account's balance is 0: low when below its threshold */
	const char *status = strcmp(r->kind, "customer") == 0 && r->threshold > 0 ? "1" : "0";
	const char *p[5] = {id.s, r->kind, r->name, thr.s, status};
	PGresult *res;

	if (sql(a, &res,
		"INSERT INTO accounts (id, kind, name, low_threshold_vnd, own_low_threshold_vnd, status, list_xid)"
		" VALUES ($1, $2, $3, $4, $4, $5, pg_current_xact_id()::text::bigint)"
		" ON CONFLICT (id) DO NOTHING RETURNING id",
		5, p) != 0)
		return db_fail(a, "could not add account %s", id.s);
	int added = PQntuples(res) == 1;
	PQclear(res);
	if (!added) {
		fail("account %s already exists", id.s);
		return 1;
	}
	return print_account(a, r->account);
}

static int
parse_account_id(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	(void)opt;
	return admin_parse_u64("account id", pos[0], 1, ID_MAX, &r->account, err, errlen) != 0 ? 2 : 0;
}

static int
run_account_show(struct admin *a, const struct req *r)
{
	return print_account(a, r->account);
}

static int
parse_account_statement(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	if (parse_account_id(r, pos, opt, err, errlen) != 0)
		return 2;
	r->limit = STATEMENT_LIMIT_DEFAULT;
	if (opt[0] != NULL &&
	    admin_parse_u64("--limit", opt[0], 1, STATEMENT_LIMIT_MAX, &r->limit, err, errlen) != 0)
		return 2;
	return 0;
}

/* The entries touching the account, newest first, and its balance checked
 * against all of them.  The transaction is REPEATABLE READ: one snapshot,
 * in which a posting's entries and its balance move are both or neither. */
static int
run_account_statement(struct admin *a, const struct req *r)
{
	static const char *const names[] = {"id",	      "time",	    "kind",		"debit_account",
					    "credit_account", "amount_vnd", "txn_or_reference"};
	struct num id = num(r->account), lim = num(r->limit);
	const char *p[2] = {id.s, lim.s};
	PGresult *sum = NULL, *res = NULL;
	struct admin_table *t = NULL;
	char m1[MONEY_CELL], m2[MONEY_CELL], m3[MONEY_CELL];
	int rc = 1;

	if (sql(a, &sum,
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
		return db_fail(a, "could not read account %s", id.s);
	if (PQntuples(sum) != 1) {
		fail("no account %s", id.s);
		goto out;
	}
	/* newest first; each half walks its (account, id) index */
	if (sql(a, &res,
		"SELECT id, " TS("created_at") ", kind, debit_account, credit_account,"
		" CASE WHEN credit_account = $1 THEN amount_vnd ELSE -amount_vnd END,"
		" COALESCE(txn_id::text, reference) FROM ("
		"  (SELECT * FROM ledger_entries WHERE credit_account = $1 ORDER BY id DESC LIMIT $2)"
		"  UNION ALL"
		"  (SELECT * FROM ledger_entries WHERE debit_account = $1 ORDER BY id DESC LIMIT $2)) e"
		" ORDER BY id DESC LIMIT $2",
		2, p) != 0) {
		db_fail(a, "could not read the ledger entries of account %s", id.s);
		goto out;
	}
	if (table_new(7, names, "rllrrrl", &t) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *cells[7] = {val(res, i, 0), val(res, i, 1), val(res, i, 2), val(res, i, 3),
					val(res, i, 4), money(a, val(res, i, 5), m1, 1), val(res, i, 6)};
		if (table_add(t, cells) != 0)
			goto out;
	}
	if (a->csv) {
		/* the closing balance as the last row */
		const char *cells[7] = {"", val(sum, 0, 7), "balance", "", "", money(a, val(sum, 0, 2), m1, 0), ""};
		if (table_add(t, cells) != 0)
			goto out;
		admin_table_print(t, 1, a->out);
	} else {
		fprintf(a->out, "account %s (%s)%s%s\n", id.s, val(sum, 0, 0), val(sum, 0, 1)[0] ? " " : "",
			val(sum, 0, 1));
		admin_table_print(t, 0, a->out);
		if ((size_t)PQntuples(res) < strtoull(val(sum, 0, 5), NULL, 10))
			fprintf(a->out, "(the newest %d of %s entries: --limit N for more)\n", PQntuples(res),
				val(sum, 0, 5));
		fprintf(a->out, "balance %s VND at %s, the sum of its %s ledger entries%s\n",
			money(a, val(sum, 0, 2), m1, 0), val(sum, 0, 7), val(sum, 0, 5),
			strcmp(val(sum, 0, 4), "t") == 0 ? ": checked" : "");
	}
	if (strcmp(val(sum, 0, 4), "t") != 0) {
		fail("account %s: balance %s VND differs from the sum of its %s ledger entries, %s VND "
		     "(by %s VND): the cached balance and the ledger disagree",
		     id.s, money(a, val(sum, 0, 2), m1, 0), val(sum, 0, 5), money(a, val(sum, 0, 3), m2, 0),
		     money(a, val(sum, 0, 6), m3, 0));
		goto out;
	}
	rc = 0;
out:
	admin_table_free(t);
	PQclear(res);
	PQclear(sum);
	return rc;
}

static int
parse_account_block(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	if (parse_account_id(r, pos, opt, err, errlen) != 0)
		return 2;
	return admin_parse_reason(pos[1], &r->reason, err, errlen) != 0 ? 2 : 0;
}

/* Block (reason 1..255) or unblock (0) a customer account, and recompute
 * the status the lanes see: blocked or below zero 2, below the low
 * threshold 1, else 0.  A changed status is queued for the customer. */
static int
set_account_block(struct admin *a, uint64_t account, unsigned reason)
{
	struct num id = num(account);
	char rs[8];
	PGresult *res;

	snprintf(rs, sizeof(rs), "%u", reason);
	const char *p[2] = {id.s, rs};
	if (sql(a, &res, "SELECT kind, blocked_reason, status FROM accounts WHERE id = $1 FOR UPDATE", 1, p) !=
	    0)
		return db_fail(a, "could not read account %s", id.s);
	if (PQntuples(res) != 1) {
		PQclear(res);
		fail("no account %s", id.s);
		return 1;
	}
	if (strcmp(val(res, 0, 0), "customer") != 0) {
		fail("account %s is a %s account: only customer accounts are blocked", id.s, val(res, 0, 0));
		PQclear(res);
		return 1;
	}
	int same = strcmp(val(res, 0, 1), rs) == 0;
	char old_status[8];
	snprintf(old_status, sizeof(old_status), "%s", val(res, 0, 2));
	PQclear(res);
	if (same) {
		if (reason == 0)
			fail("note: account %s was not blocked: nothing changed", id.s);
		else
			fail("note: account %s was already blocked with reason %s: nothing changed", id.s, rs);
		return print_account(a, account);
	}
	if (sql(a, &res,
		"UPDATE accounts SET blocked_reason = $2,"
		" status = CASE WHEN $2::smallint > 0 THEN 2 WHEN balance_vnd < 0 THEN 2"
		"          WHEN balance_vnd < low_threshold_vnd THEN 1 ELSE 0 END,"
		" list_xid = pg_current_xact_id()::text::bigint"
		" WHERE id = $1 RETURNING status, balance_vnd",
		2, p) != 0)
		return db_fail(a, "could not %s account %s", reason ? "block" : "unblock", id.s);
	if (strcmp(val(res, 0, 0), old_status) != 0) {
		const char *q[3] = {id.s, val(res, 0, 1), val(res, 0, 0)};
		PGresult *ins;
		if (sql(a, &ins,
			"INSERT INTO notifications (account_id, kind, balance_vnd, status)"
			" VALUES ($1, 'status', $2, $3)",
			3, q) != 0) {
			PQclear(res);
			return db_fail(a, "could not queue the status notification of account %s", id.s);
		}
		PQclear(ins);
	}
	PQclear(res);
	return print_account(a, account);
}

static int
run_account_block(struct admin *a, const struct req *r)
{
	return set_account_block(a, r->account, r->reason);
}

static int
run_account_unblock(struct admin *a, const struct req *r)
{
	return set_account_block(a, r->account, 0);
}

/* ---- vehicles and tags ------------------------------------------------ */

/* The account's kind, or 1 (and a message) when there is none.  The row
 * stays locked (FOR NO KEY UPDATE, as an UPDATE of it would) until the
 * transaction ends: vehicle adds to one account follow one another, so
 * each computes the account's threshold from all the vehicles before it. */
static int
account_kind_locked(struct admin *a, const char *id, char *kind, size_t len)
{
	const char *p[1] = {id};
	PGresult *res;

	if (sql(a, &res, "SELECT kind FROM accounts WHERE id = $1 FOR NO KEY UPDATE", 1, p) != 0)
		return db_fail(a, "could not read account %s", id);
	if (PQntuples(res) != 1) {
		PQclear(res);
		fail("no account %s", id);
		return 1;
	}
	snprintf(kind, len, "%s", val(res, 0, 0));
	PQclear(res);
	return 0;
}

/* An account's low-balance threshold is the greater of its own and the
 * thresholds of its vehicles' classes (central/sql/004_passes.sql).  This
 * sets it again for the customer accounts the subquery `target` names
 * (its $1 is param), and with it the status the lanes see: blocked or
 * below zero 2, below the threshold 1, else 0.  An account whose status
 * changes is stamped for the lanes' list (list_xid) and gets a status
 * notification; one whose status stays is not stamped (the lanes do not
 * hold thresholds).  `changed` is told apart in RETURNING by its stamp:
 * the callers stamp no account before this in their transaction, and the
 * status compared is the row's own, current one (an UPDATE that waited for
 * settlement's reads the row settlement left).  own_low_threshold_vnd NULL
 * means low_threshold_vnd is the account's own: kept as its own here.
 * Counts: accounts looked at, thresholds changed, statuses changed. */
#define STAMP "pg_current_xact_id()::text::bigint"
#define RETHRESHOLD_STATUS                                                                           \
	"CASE WHEN a.blocked_reason <> 0 OR a.balance_vnd < 0 THEN 2"                                 \
	" WHEN a.balance_vnd < x.thr THEN 1 ELSE 0 END"
static int
rethreshold(struct admin *a, const char *target, const char *param, uint64_t counts[3])
{
	char q[2048];
	const char *p[1] = {param};
	PGresult *res;

	snprintf(q, sizeof(q),
		 "WITH x AS (SELECT o.id, GREATEST(COALESCE(o.own_low_threshold_vnd, o.low_threshold_vnd),"
		 "  COALESCE((SELECT max(c.low_threshold_vnd) FROM vehicles w JOIN class_thresholds c"
		 "   ON c.vclass = w.vclass WHERE w.account_id = o.id), 0)) AS thr"
		 "  FROM accounts o WHERE o.kind = 'customer' AND o.id IN (%s)),"
		 " u AS (UPDATE accounts a SET own_low_threshold_vnd = COALESCE(a.own_low_threshold_vnd, a.low_threshold_vnd),"
		 "  low_threshold_vnd = x.thr, status = " RETHRESHOLD_STATUS ","
		 "  list_xid = CASE WHEN " RETHRESHOLD_STATUS " <> a.status THEN " STAMP " ELSE a.list_xid END"
		 "  FROM x WHERE a.id = x.id AND a.low_threshold_vnd <> x.thr"
		 "  RETURNING a.id, a.status, a.balance_vnd, a.list_xid = " STAMP " AS changed),"
		 " sn AS (INSERT INTO notifications (account_id, kind, status, balance_vnd)"
		 "  SELECT u.id, 'status', u.status, u.balance_vnd FROM u WHERE u.changed RETURNING 1)"
		 "SELECT (SELECT count(*) FROM x), (SELECT count(*) FROM u), (SELECT count(*) FROM sn)",
		 target);
	if (sql(a, &res, q, 1, p) != 0)
		return db_fail(a, "could not set the low-balance thresholds again");
	for (int i = 0; i < 3; i++)
		counts[i] = strtoull(val(res, 0, i), NULL, 10);
	PQclear(res);
	return 0;
}

static int
parse_vehicle_add(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	uint64_t c;

	(void)opt;
	if (admin_parse_u64("account id", pos[0], 1, CUSTOMER_ID_MAX, &r->account, err, errlen) != 0 ||
	    admin_parse_u64("class", pos[1], 1, 5, &c, err, errlen) != 0 || admin_check_plate(pos[2], err, errlen) != 0)
		return 2;
	r->vclass = (unsigned)c;
	r->plate = pos[2];
	return 0;
}

/* The vehicle, and its account's threshold raised to its class's if that
 * is higher (a note says so). */
static int
run_vehicle_add(struct admin *a, const struct req *r)
{
	static const char *const names[] = {"id", "account_id", "class", "plate", "created_at"};
	struct num id = num(r->account);
	char cls[4], kind[16], thr[MONEY_CELL];
	PGresult *res;
	struct admin_table *t;
	uint64_t counts[3];
	int rc;

	if (account_kind_locked(a, id.s, kind, sizeof(kind)) != 0)
		return 1;
	if (strcmp(kind, "customer") != 0) {
		fail("account %s is a %s account: vehicles belong to customer accounts", id.s, kind);
		return 1;
	}
	snprintf(cls, sizeof(cls), "%u", r->vclass);
	const char *p[3] = {id.s, cls, r->plate};
	/* a threshold set (which locks the table) finishes first, or waits
	 * for this one: either way the account gets the class's threshold */
	if (sql(a, &res, "SELECT 1 FROM class_thresholds WHERE vclass = $1 FOR SHARE", 1, p + 1) != 0)
		return db_fail(a, "could not read the threshold of class %s", cls);
	PQclear(res);
	if (sql(a, &res,
		"INSERT INTO vehicles (account_id, vclass, plate) VALUES ($1, $2, $3)"
		" RETURNING id, account_id, vclass, plate, " TS("created_at"),
		3, p) != 0)
		return db_fail(a, "could not add the vehicle");
	if (rethreshold(a, "SELECT $1::bigint", id.s, counts) != 0) {
		PQclear(res);
		return 1;
	}
	if (counts[1] > 0) {
		PGresult *acc;
		if (sql(a, &acc, "SELECT low_threshold_vnd, status FROM accounts WHERE id = $1", 1, p) != 0) {
			PQclear(res);
			return db_fail(a, "could not read account %s", id.s);
		}
		fail("note: account %s's low-balance threshold is now %s VND (class %s); status %s", id.s,
		     money(a, val(acc, 0, 0), thr, 0), cls, status_name(val(acc, 0, 1)));
		PQclear(acc);
	}
	if (table_new(5, names, "rrrll", &t) != 0) {
		PQclear(res);
		return 1;
	}
	const char *cells[5] = {val(res, 0, 0), val(res, 0, 1), val(res, 0, 2), val(res, 0, 3), val(res, 0, 4)};
	rc = table_add(t, cells);
	if (rc == 0)
		admin_table_print(t, a->csv, a->out);
	admin_table_free(t);
	PQclear(res);
	return rc;
}

static int
print_tag(struct admin *a, const char *epc)
{
	static const char *const names[] = {"epc",	  "tid",    "vehicle_id", "account_id", "plate",
					    "status", "reason", "exempt",	  "list_xid"};
	const char *p[1] = {epc};
	PGresult *res;
	struct admin_table *t;
	char rsn[32];
	int rc;

	if (sql(a, &res,
		"SELECT t.epc_hex, encode(t.tid, 'hex'), t.vehicle_id, v.account_id, v.plate, t.status,"
		" t.reason, t.exempt, t.list_xid FROM tags t JOIN vehicles v ON v.id = t.vehicle_id"
		" WHERE t.epc_hex = $1",
		1, p) != 0)
		return db_fail(a, "could not read tag %s", epc);
	if (PQntuples(res) != 1) {
		PQclear(res);
		fail("no tag %s", epc);
		return 1;
	}
	if (table_new(9, names, "llrrllllr", &t) != 0) {
		PQclear(res);
		return 1;
	}
	const char *cells[9] = {val(res, 0, 0),	     val(res, 0, 1),
				val(res, 0, 2),	     val(res, 0, 3),
				val(res, 0, 4),	     status_name(val(res, 0, 5)),
				reason_cell(a, val(res, 0, 6), rsn, sizeof(rsn)), yes_no(val(res, 0, 7)),
				val(res, 0, 8)};
	rc = table_add(t, cells);
	if (rc == 0)
		admin_table_print(t, a->csv, a->out);
	admin_table_free(t);
	PQclear(res);
	return rc;
}

static int
parse_epc(struct req *r, const char *s, char *err, size_t errlen)
{
	return admin_parse_hex("EPC", s, 1, ADMIN_EPC_HEX_MAX, r->epc, err, errlen) != 0 ? 2 : 0;
}

static int
parse_tag_add(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	if (parse_epc(r, pos[0], err, errlen) != 0 ||
	    admin_parse_u64("vehicle id", pos[1], 1, ID_MAX, &r->vehicle, err, errlen) != 0)
		return 2;
	if (opt[0] != NULL) {
		if (admin_parse_hex("--tid", opt[0], ADMIN_TID_HEX, ADMIN_TID_HEX, r->tid, err, errlen) != 0)
			return 2;
		r->has_tid = 1;
	}
	r->exempt = opt[1] != NULL;
	return 0;
}

static int
run_tag_add(struct admin *a, const struct req *r)
{
	struct num veh = num(r->vehicle);
	char tid[2 + ADMIN_TID_HEX + 1];
	PGresult *res;
	const char *p[4] = {r->epc, r->has_tid ? tid : NULL, veh.s, r->exempt ? "true" : "false"};

	snprintf(tid, sizeof(tid), "\\x%s", r->tid);
	if (sql(a, &res, "SELECT 1 FROM vehicles WHERE id = $1", 1, p + 2) != 0)
		return db_fail(a, "could not read vehicle %s", veh.s);
	int found = PQntuples(res) == 1;
	PQclear(res);
	if (!found) {
		fail("no vehicle %s", veh.s);
		return 1;
	}
	if (sql(a, &res,
		"INSERT INTO tags (epc_hex, tid, vehicle_id, exempt, list_xid)"
		" VALUES ($1, $2::bytea, $3, $4, pg_current_xact_id()::text::bigint)"
		" ON CONFLICT (epc_hex) DO NOTHING RETURNING vehicle_id",
		4, p) != 0)
		return db_fail(a, "could not add tag %s", r->epc);
	int added = PQntuples(res) == 1;
	PQclear(res);
	if (!added) {
		if (sql(a, &res, "SELECT vehicle_id FROM tags WHERE epc_hex = $1", 1, p) != 0)
			return db_fail(a, "could not read tag %s", r->epc);
		fail("tag %s already exists (vehicle %s)", r->epc, PQntuples(res) == 1 ? val(res, 0, 0) : "?");
		PQclear(res);
		return 1;
	}
	return print_tag(a, r->epc);
}

static int
parse_tag_block(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	(void)opt;
	if (parse_epc(r, pos[0], err, errlen) != 0)
		return 2;
	return admin_parse_reason(pos[1], &r->reason, err, errlen) != 0 ? 2 : 0;
}

static int
parse_tag_unblock(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	(void)opt;
	return parse_epc(r, pos[0], err, errlen);
}

/* A tag is invalid (status 2) with a reason, or valid (0, the account
 * decides). */
static int
set_tag_block(struct admin *a, const char *epc, unsigned reason)
{
	char rs[8];
	PGresult *res;

	snprintf(rs, sizeof(rs), "%u", reason);
	const char *p[3] = {epc, rs, reason ? "2" : "0"};
	if (sql(a, &res, "SELECT reason FROM tags WHERE epc_hex = $1 FOR UPDATE", 1, p) != 0)
		return db_fail(a, "could not read tag %s", epc);
	if (PQntuples(res) != 1) {
		PQclear(res);
		fail("no tag %s", epc);
		return 1;
	}
	int same = strcmp(val(res, 0, 0), rs) == 0;
	PQclear(res);
	if (same) {
		if (reason == 0)
			fail("note: tag %s was not blocked: nothing changed", epc);
		else
			fail("note: tag %s was already blocked with reason %s: nothing changed", epc, rs);
		return print_tag(a, epc);
	}
	if (sql(a, NULL,
		"UPDATE tags SET status = $3, reason = $2, list_xid = pg_current_xact_id()::text::bigint"
		" WHERE epc_hex = $1",
		3, p) != 0)
		return db_fail(a, "could not %s tag %s", reason ? "block" : "unblock", epc);
	return print_tag(a, epc);
}

static int
run_tag_block(struct admin *a, const struct req *r)
{
	return set_tag_block(a, r->epc, r->reason);
}

static int
run_tag_unblock(struct admin *a, const struct req *r)
{
	return set_tag_block(a, r->epc, 0);
}

/* ---- stations and lanes ----------------------------------------------- */

static int
parse_station_add(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	if (admin_parse_u64("station id", pos[0], 1, INT_ID_MAX, &r->station, err, errlen) != 0)
		return 2;
	r->role = opt[0];
	if (r->role == NULL) {
		toll_errf(err, errlen, 2, "station add needs --role open, entry or exit");
		return 2;
	}
	if (strcmp(r->role, "open") != 0 && strcmp(r->role, "entry") != 0 && strcmp(r->role, "exit") != 0) {
		toll_errf(err, errlen, 2, "--role '%.40s': want open, entry or exit", r->role);
		return 2;
	}
	r->name = opt[1] != NULL ? opt[1] : "";
	if (admin_check_text("--name", r->name, ADMIN_TEXT_MAX, 1, err, errlen) != 0)
		return 2;
	if (opt[2] != NULL) {
		if (strcmp(r->role, "open") == 0) {
			toll_errf(err, errlen, 2, "--network is for closed-network stations (--role entry or exit)");
			return 2;
		}
		if (admin_parse_u64("--network", opt[2], 1, INT_ID_MAX, &r->network, err, errlen) != 0)
			return 2;
		r->has_network = 1;
	}
	return 0;
}

/* The station and its revenue account (REVENUE_ACCOUNT_BASE + id, kind
 * revenue), in one transaction. */
static int
run_station_add(struct admin *a, const struct req *r)
{
	static const char *const names[] = {"id", "role", "network", "name", "revenue_account", "created_at"};
	struct num id = num(r->station), acc = num(REVENUE_ACCOUNT_BASE + r->station), net = num(r->network);
	char acc_name[64];
	PGresult *res;
	struct admin_table *t;
	int rc;

	snprintf(acc_name, sizeof(acc_name), "revenue of station %s", id.s);
	const char *p[5] = {id.s, r->name, r->role, r->has_network ? net.s : NULL, acc.s};
	const char *pa[2] = {acc.s, acc_name};
	if (sql(a, &res, "SELECT 1 FROM stations WHERE id = $1", 1, p) != 0)
		return db_fail(a, "could not read station %s", id.s);
	int exists = PQntuples(res) == 1;
	PQclear(res);
	if (exists) {
		fail("station %s already exists", id.s);
		return 1;
	}
	if (sql(a, &res,
		"INSERT INTO accounts (id, kind, name, low_threshold_vnd, list_xid)"
		" VALUES ($1, 'revenue', $2, 0, pg_current_xact_id()::text::bigint)"
		" ON CONFLICT (id) DO NOTHING RETURNING id",
		2, pa) != 0)
		return db_fail(a, "could not add the revenue account %s of station %s", acc.s, id.s);
	int added = PQntuples(res) == 1;
	PQclear(res);
	if (!added) {
		fail("account %s, station %s's revenue account, already exists", acc.s, id.s);
		return 1;
	}
	if (sql(a, &res,
		"INSERT INTO stations (id, name, role, network, revenue_account_id) VALUES ($1, $2, $3, $4, $5)"
		" RETURNING id, role, network, name, revenue_account_id, " TS("created_at"),
		5, p) != 0)
		return db_fail(a, "could not add station %s", id.s);
	if (table_new(6, names, "rlrlrl", &t) != 0) {
		PQclear(res);
		return 1;
	}
	const char *cells[6] = {val(res, 0, 0), val(res, 0, 1), val(res, 0, 2),
				val(res, 0, 3), val(res, 0, 4), val(res, 0, 5)};
	rc = table_add(t, cells);
	if (rc == 0)
		admin_table_print(t, a->csv, a->out);
	admin_table_free(t);
	PQclear(res);
	return rc;
}

static int
parse_station_lane(struct req *r, char **pos, char *err, size_t errlen)
{
	if (admin_parse_u64("station id", pos[0], 1, INT_ID_MAX, &r->station, err, errlen) != 0 ||
	    admin_parse_u64("lane id", pos[1], 1, LANE_ID_MAX, &r->lane, err, errlen) != 0)
		return 2;
	return 0;
}

static int
parse_lane_add(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	r->free_flow = opt[0] != NULL;
	return parse_station_lane(r, pos, err, errlen);
}

static int
run_lane_add(struct admin *a, const struct req *r)
{
	static const char *const names[] = {"station", "lane", "free_flow", "created_at"};
	struct num st = num(r->station), ln = num(r->lane);
	const char *p[3] = {st.s, ln.s, r->free_flow ? "true" : "false"};
	PGresult *res;
	struct admin_table *t;
	int rc;

	if (sql(a, &res, "SELECT 1 FROM stations WHERE id = $1", 1, p) != 0)
		return db_fail(a, "could not read station %s", st.s);
	int found = PQntuples(res) == 1;
	PQclear(res);
	if (!found) {
		fail("no station %s (add it with toll-admin station add)", st.s);
		return 1;
	}
	if (sql(a, &res,
		"INSERT INTO lanes (station_id, lane_id, free_flow) VALUES ($1, $2, $3)"
		" ON CONFLICT (station_id, lane_id) DO NOTHING"
		" RETURNING station_id, lane_id, free_flow, " TS("created_at"),
		3, p) != 0)
		return db_fail(a, "could not add lane %s of station %s", ln.s, st.s);
	if (PQntuples(res) != 1) {
		PQclear(res);
		fail("lane %s of station %s already exists", ln.s, st.s);
		return 1;
	}
	if (table_new(4, names, "rrll", &t) != 0) {
		PQclear(res);
		return 1;
	}
	const char *cells[4] = {val(res, 0, 0), val(res, 0, 1), yes_no(val(res, 0, 2)), val(res, 0, 3)};
	rc = table_add(t, cells);
	if (rc == 0)
		admin_table_print(t, a->csv, a->out);
	admin_table_free(t);
	PQclear(res);
	return rc;
}

/* 1 (and a message) unless the lane exists */
static int
lane_exists(struct admin *a, const char *st, const char *ln)
{
	const char *p[2] = {st, ln};
	PGresult *res;

	if (sql(a, &res, "SELECT 1 FROM lanes WHERE station_id = $1 AND lane_id = $2", 2, p) != 0)
		return db_fail(a, "could not read lane %s of station %s", ln, st);
	int found = PQntuples(res) == 1;
	PQclear(res);
	if (!found) {
		fail("no lane %s at station %s (add it with toll-admin lane add)", ln, st);
		return 1;
	}
	return 0;
}

#define KEY_COLS                                                                               \
	"station_id, lane_id, encode(key_id, 'hex'), " TS("valid_from") ", " TS("valid_to") ", " \
	TS("revoked_at") ", revoked_reason"

static int
print_key(struct admin *a, PGresult *res)
{
	static const char *const names[] = {"station", "lane", "key_id", "valid_from", "valid_to", "revoked_at",
					    "revoked_reason"};
	struct admin_table *t;
	int rc;

	if (table_new(7, names, "rrlllll", &t) != 0)
		return 1;
	const char *cells[7] = {val(res, 0, 0), val(res, 0, 1), val(res, 0, 2), val(res, 0, 3),
				val(res, 0, 4), val(res, 0, 5), val(res, 0, 6)};
	rc = table_add(t, cells);
	if (rc == 0)
		admin_table_print(t, a->csv, a->out);
	admin_table_free(t);
	return rc;
}

static int
parse_lane_key_add(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	char hex[ADMIN_PUBKEY_HEX + 1];

	if (parse_station_lane(r, pos, err, errlen) != 0 ||
	    admin_parse_hex("public key", pos[2], ADMIN_PUBKEY_HEX, ADMIN_PUBKEY_HEX, hex, err, errlen) != 0 ||
	    toll_hex_decode(hex, r->pub, sizeof(r->pub)) != 0)
		return 2;
	r->valid_from = opt[0];
	r->valid_to = opt[1];
	if ((r->valid_from != NULL && admin_check_time("--valid-from", r->valid_from, err, errlen) != 0) ||
	    (r->valid_to != NULL && admin_check_time("--valid-to", r->valid_to, err, errlen) != 0))
		return 2;
	return 0;
}

static int
run_lane_key_add(struct admin *a, const struct req *r)
{
	struct num st = num(r->station), ln = num(r->lane);
	uint8_t h[32];
	char pub[2 * 32 + 3], kid[2 * 4 + 3];
	PGresult *res;
	int rc;

	toll_sha256(r->pub, sizeof(r->pub), h); /* the key id: toll_key_id(), as bytes */
	cdb_bytea_hex(h, 4, kid);
	cdb_bytea_hex(r->pub, sizeof(r->pub), pub);
	const char *p[6] = {st.s, ln.s, kid, pub, r->valid_from, r->valid_to};
	if (lane_exists(a, st.s, ln.s) != 0)
		return 1;
	if (sql(a, &res,
		"SELECT station_id, lane_id, encode(key_id, 'hex') FROM lane_keys WHERE public_key = $1::bytea", 1,
		p + 3) != 0)
		return db_fail(a, "could not look the public key up");
	if (PQntuples(res) > 0) {
		fail("this public key is already registered: key %s of station %s lane %s", val(res, 0, 2),
		     val(res, 0, 0), val(res, 0, 1));
		PQclear(res);
		return 1;
	}
	PQclear(res);
	if (sql(a, &res,
		"SELECT $2::timestamptz IS NULL OR $2::timestamptz > COALESCE($1::timestamptz, now())", 2,
		p + 4) != 0)
		return db_fail(a, "could not read the validity times");
	int ordered = strcmp(val(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!ordered) {
		fail("--valid-to %s is not after %s", r->valid_to, r->valid_from ? r->valid_from : "now");
		return 1;
	}
	if (sql(a, &res,
		"INSERT INTO lane_keys (station_id, lane_id, key_id, public_key, valid_from, valid_to)"
		" VALUES ($1, $2, $3::bytea, $4::bytea, COALESCE($5::timestamptz, now()), $6::timestamptz)"
		" ON CONFLICT DO NOTHING RETURNING " KEY_COLS,
		6, p) != 0)
		return db_fail(a, "could not add the key of lane %s at station %s", ln.s, st.s);
	if (PQntuples(res) != 1) {
		/* the public key is unique (looked up above): the 32-bit id collided */
		fail("lane %s at station %s already has another key with key id %08" PRIx32
		     ": generate a new key",
		     ln.s, st.s, toll_key_id(r->pub));
		PQclear(res);
		return 1;
	}
	rc = print_key(a, res);
	PQclear(res);
	return rc;
}

static int
parse_lane_key_revoke(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	if (parse_station_lane(r, pos, err, errlen) != 0 ||
	    admin_parse_hex("key id", pos[2], ADMIN_KEYID_HEX, ADMIN_KEYID_HEX, r->keyid, err, errlen) != 0)
		return 2;
	r->note = opt[0];
	if (r->note != NULL && admin_check_text("--reason", r->note, ADMIN_TEXT_MAX, 0, err, errlen) != 0)
		return 2;
	return 0;
}

static int
run_lane_key_revoke(struct admin *a, const struct req *r)
{
	struct num st = num(r->station), ln = num(r->lane);
	char kid[2 + ADMIN_KEYID_HEX + 1];
	PGresult *res;
	int rc;

	snprintf(kid, sizeof(kid), "\\x%s", r->keyid);
	const char *p[4] = {st.s, ln.s, kid, r->note};
	if (sql(a, &res,
		"SELECT " TS("revoked_at") " FROM lane_keys WHERE station_id = $1 AND lane_id = $2"
		" AND key_id = $3::bytea FOR UPDATE",
		3, p) != 0)
		return db_fail(a, "could not read key %s", r->keyid);
	if (PQntuples(res) != 1) {
		PQclear(res);
		fail("no key %s at station %s lane %s", r->keyid, st.s, ln.s);
		return 1;
	}
	if (!PQgetisnull(res, 0, 0)) {
		fail("key %s of station %s lane %s was already revoked at %s", r->keyid, st.s, ln.s, val(res, 0, 0));
		PQclear(res);
		return 1;
	}
	PQclear(res);
	if (sql(a, &res,
		"UPDATE lane_keys SET revoked_at = now(), revoked_reason = $4"
		" WHERE station_id = $1 AND lane_id = $2 AND key_id = $3::bytea RETURNING " KEY_COLS,
		4, p) != 0)
		return db_fail(a, "could not revoke key %s", r->keyid);
	rc = print_key(a, res);
	PQclear(res);
	return rc;
}

static int
parse_none(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	(void)r, (void)pos, (void)opt, (void)err, (void)errlen;
	return 0;
}

static int
run_lane_list(struct admin *a, const struct req *r)
{
	static const char *const names[] = {"station", "role",	   "network",  "name",	     "lane",
					    "free_flow", "key_id", "valid_from", "valid_to", "revoked_at",
					    "key_state"};
	char lim[16];
	PGresult *res;
	struct admin_table *t;
	int rc = 0;

	(void)r;
	snprintf(lim, sizeof(lim), "%d", LANE_LIST_MAX + 1);
	const char *p[1] = {lim};
	if (sql(a, &res,
		"SELECT s.id, s.role, s.network, s.name, l.lane_id,"
		" CASE WHEN l.lane_id IS NULL THEN NULL WHEN l.free_flow THEN 'yes' ELSE 'no' END,"
		" encode(k.key_id, 'hex'), " TS("k.valid_from") ", " TS("k.valid_to") ", " TS("k.revoked_at") ","
		" CASE WHEN k.key_id IS NULL THEN NULL WHEN k.revoked_at IS NOT NULL THEN 'revoked'"
		"  WHEN k.valid_from > now() THEN 'pending' WHEN k.valid_to <= now() THEN 'expired'"
		"  ELSE 'valid' END"
		" FROM stations s LEFT JOIN lanes l ON l.station_id = s.id"
		" LEFT JOIN lane_keys k ON k.station_id = l.station_id AND k.lane_id = l.lane_id"
		" ORDER BY s.id, l.lane_id, k.valid_from, k.key_id LIMIT $1",
		1, p) != 0)
		return db_fail(a, "could not list the stations");
	if (table_new(11, names, "rlrlrllllll", &t) != 0) {
		PQclear(res);
		return 1;
	}
	int n = PQntuples(res) > LANE_LIST_MAX ? LANE_LIST_MAX : PQntuples(res);
	for (int i = 0; i < n && rc == 0; i++) {
		const char *cells[11];
		for (int c = 0; c < 11; c++)
			cells[c] = val(res, i, c);
		rc = table_add(t, cells);
	}
	if (rc == 0)
		admin_table_print(t, a->csv, a->out);
	if (PQntuples(res) > LANE_LIST_MAX)
		fail("note: the list stops at %d rows", LANE_LIST_MAX);
	admin_table_free(t);
	PQclear(res);
	return rc;
}

/* ---- passes ------------------------------------------------------------- */

/* YYYY-MM-DD, a day of the calendar from 2000 on (the passes table's
 * bound); out gets it as given. */
static int
parse_day(const char *what, const char *s, char out[11], char *err, size_t errlen)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int ok = strlen(s) == 10 && s[4] == '-' && s[7] == '-';
	for (int i = 0; ok && i < 10; i++)
		ok = i == 4 || i == 7 || (s[i] >= '0' && s[i] <= '9');
	if (!ok)
		return toll_errf(err, errlen, TOLL_EINVAL, "%s '%.40s': want a day as YYYY-MM-DD", what, s);
	int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 2000 || y > 9998)
		return toll_errf(err, errlen, TOLL_ERANGE, "%s '%s': want a year from 2000 to 9998", what, s);
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap))
		return toll_errf(err, errlen, TOLL_EINVAL, "%s '%s': no such day", what, s);
	memcpy(out, s, 11);
	return 0;
}

static int
parse_pass_add(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	if (admin_parse_u64("vehicle id", pos[0], 1, ID_MAX, &r->vehicle, err, errlen) != 0 ||
	    admin_parse_u64("station id", pos[1], 1, INT_ID_MAX, &r->station, err, errlen) != 0)
		return 2;
	r->kind = opt[0];
	if (r->kind == NULL) {
		toll_errf(err, errlen, 2, "pass add needs --kind monthly or quarterly");
		return 2;
	}
	if (strcmp(r->kind, "monthly") != 0 && strcmp(r->kind, "quarterly") != 0) {
		toll_errf(err, errlen, 2, "--kind '%.40s': want monthly or quarterly", r->kind);
		return 2;
	}
	if (opt[1] == NULL) {
		toll_errf(err, errlen, 2, "pass add needs --from YYYY-MM-DD, the pass's first day");
		return 2;
	}
	if (parse_day("--from", opt[1], r->from_day, err, errlen) != 0 ||
	    (opt[2] != NULL && parse_day("--to", opt[2], r->to_day, err, errlen) != 0))
		return 2;
	/* YYYY-MM-DD sorts as the days do */
	if (opt[2] != NULL && strcmp(r->to_day, r->from_day) < 0) {
		toll_errf(err, errlen, 2, "--to %s is before --from %s: a pass's last day is on or after its first", r->to_day,
			  r->from_day);
		return 2;
	}
	return 0;
}

/* A pass's columns for people: its state, and whether it is the one the
 * lanes' list holds for its vehicle (the list has one pass a tag: the
 * current one ending last, central/list.c). */
#define PASS_COLS                                                                                       \
	"p.id, p.vehicle_id, v.plate, v.account_id, p.station_id, p.kind,"                              \
	" to_char(p.first_day, 'YYYY-MM-DD'), to_char(p.last_day, 'YYYY-MM-DD'),"                      \
	" CASE WHEN p.revoked_at IS NOT NULL THEN 'revoked' WHEN p.first_day > toll_today() THEN 'not begun'" \
	"  WHEN p.last_day < toll_today() THEN 'ended' ELSE 'current' END,"                            \
	" p.id IS NOT DISTINCT FROM (SELECT q.id FROM passes q WHERE q.vehicle_id = p.vehicle_id"        \
	"  AND q.last_day >= toll_today() AND q.first_day <= toll_today() AND q.revoked_at IS NULL"    \
	"  ORDER BY q.last_day DESC, q.first_day DESC, q.id DESC LIMIT 1),"                              \
	" " TS("p.created_at") ", " TS("p.revoked_at") ", p.revoked_reason, p.list_xid"
#define PASS_NCOLS 14

static int
print_passes(struct admin *a, PGresult *res, int n)
{
	static const char *const names[PASS_NCOLS] = {
		"id",	     "vehicle_id", "plate",	 "account_id", "station",    "kind",	       "first_day",
		"last_day", "state",	   "in_lanes", "created_at", "revoked_at", "revoked_reason", "list_xid"};
	struct admin_table *t;
	int rc = 0;

	if (table_new(PASS_NCOLS, names, "rrlrrllllllllr", &t) != 0)
		return 1;
	for (int i = 0; i < n && rc == 0; i++) {
		const char *cells[PASS_NCOLS];
		for (int c = 0; c < PASS_NCOLS; c++)
			cells[c] = val(res, i, c);
		cells[9] = yes_no(cells[9]);
		rc = table_add(t, cells);
	}
	if (rc == 0)
		admin_table_print(t, a->csv, a->out);
	admin_table_free(t);
	return rc;
}

static int
print_pass(struct admin *a, const char *id)
{
	const char *p[1] = {id};
	PGresult *res;
	int rc;

	if (sql(a, &res, "SELECT " PASS_COLS " FROM passes p JOIN vehicles v ON v.id = p.vehicle_id WHERE p.id = $1", 1,
		p) != 0)
		return db_fail(a, "could not read pass %s", id);
	if (PQntuples(res) != 1) {
		PQclear(res);
		fail("no pass %s", id);
		return 1;
	}
	rc = print_passes(a, res, 1);
	PQclear(res);
	return rc;
}

/* A pass for one vehicle at one open station, stamped for the lanes.  Its
 * last day by default: the day before the same day of the month one month
 * (monthly) or three (quarterly) on, or the last day of that month when it
 * has no such day (from 31 January: to 28 or 29 February); --to may end it
 * earlier, not later.  Refused: an unknown vehicle or station, a station
 * of a closed network, a pass that ends before today (station time), one
 * that overlaps another of the vehicle's passes at the station. */
static int
run_pass_add(struct admin *a, const struct req *r)
{
	struct num veh = num(r->vehicle), st = num(r->station);
	const char *months = strcmp(r->kind, "monthly") == 0 ? "1 month" : "3 months";
	PGresult *res;
	char last[11], today[11];

	/* locked (as an UPDATE would, not its key): passes of one vehicle are
	 * added one after another, so the overlap check below holds */
	const char *pv[1] = {veh.s};
	if (sql(a, &res, "SELECT account_id FROM vehicles WHERE id = $1 FOR NO KEY UPDATE", 1, pv) != 0)
		return db_fail(a, "could not read vehicle %s", veh.s);
	int found = PQntuples(res) == 1;
	PQclear(res);
	if (!found) {
		fail("no vehicle %s", veh.s);
		return 1;
	}
	const char *ps[1] = {st.s};
	if (sql(a, &res, "SELECT role, network FROM stations WHERE id = $1", 1, ps) != 0)
		return db_fail(a, "could not read station %s", st.s);
	if (PQntuples(res) != 1) {
		PQclear(res);
		fail("no station %s (add it with toll-admin station add)", st.s);
		return 1;
	}
	if (strcmp(val(res, 0, 0), "open") != 0) {
		/* the lane honours a pass before its role: an entry lane would
		 * record no entry, and the exit would charge the farthest one */
		fail("station %s is a closed-network %s station (network %s): passes are for open stations", st.s,
		     val(res, 0, 0), val(res, 0, 1));
		PQclear(res);
		return 1;
	}
	PQclear(res);
	const char *pd[2] = {r->from_day, months};
	if (sql(a, &res,
		"WITH f AS (SELECT $1::date AS d, ($1::date + $2::interval)::date AS e)"
		" SELECT to_char(CASE WHEN extract(day FROM f.e) < extract(day FROM f.d) THEN f.e ELSE f.e - 1 END,"
		"  'YYYY-MM-DD'), to_char(toll_today(), 'YYYY-MM-DD') FROM f",
		2, pd) != 0)
		return db_fail(a, "could not work out the pass's last day");
	snprintf(last, sizeof(last), "%s", val(res, 0, 0));
	snprintf(today, sizeof(today), "%s", val(res, 0, 1));
	PQclear(res);
	if (r->to_day[0]) {
		if (strcmp(r->to_day, last) > 0) {
			fail("--to %s is past the end of a %s pass from %s (%s): a longer one is another pass", r->to_day,
			     r->kind, r->from_day, last);
			return 1;
		}
		snprintf(last, sizeof(last), "%s", r->to_day);
	}
	if (strcmp(last, today) < 0) {
		fail("a pass from %s to %s would end before today (%s, station time)", r->from_day, last, today);
		return 1;
	}
	const char *po[4] = {veh.s, st.s, r->from_day, last};
	if (sql(a, &res,
		"SELECT id, to_char(first_day, 'YYYY-MM-DD'), to_char(last_day, 'YYYY-MM-DD') FROM passes"
		" WHERE vehicle_id = $1 AND station_id = $2 AND revoked_at IS NULL"
		" AND first_day <= $4::date AND last_day >= $3::date ORDER BY first_day LIMIT 1",
		4, po) != 0)
		return db_fail(a, "could not read the passes of vehicle %s", veh.s);
	if (PQntuples(res) == 1) {
		fail("vehicle %s already has pass %s at station %s, %s to %s, which overlaps %s to %s (revoke it first)",
		     veh.s, val(res, 0, 0), st.s, val(res, 0, 1), val(res, 0, 2), r->from_day, last);
		PQclear(res);
		return 1;
	}
	PQclear(res);
	const char *pi[5] = {veh.s, st.s, r->kind, r->from_day, last};
	if (sql(a, &res,
		"INSERT INTO passes (vehicle_id, station_id, kind, first_day, last_day, awaiting_start, list_xid)"
		" VALUES ($1, $2, $3, $4::date, $5::date, $4::date > toll_today(), " STAMP ") RETURNING id",
		5, pi) != 0)
		return db_fail(a, "could not add the pass");
	char id[24];
	snprintf(id, sizeof(id), "%s", val(res, 0, 0));
	PQclear(res);
	/* the lanes' list holds one pass a vehicle: say when it is another */
	const char *pq[2] = {veh.s, id};
	if (sql(a, &res,
		"SELECT q.id, q.station_id, to_char(q.last_day, 'YYYY-MM-DD') FROM passes q WHERE q.vehicle_id = $1"
		" AND q.last_day >= toll_today() AND q.first_day <= toll_today() AND q.revoked_at IS NULL"
		" ORDER BY q.last_day DESC, q.first_day DESC, q.id DESC LIMIT 1",
		1, pq) != 0)
		return db_fail(a, "could not read the passes of vehicle %s", veh.s);
	if (PQntuples(res) == 1 && strcmp(val(res, 0, 0), id) != 0 && strcmp(r->from_day, today) <= 0)
		fail("note: the lanes' list holds one pass a vehicle: vehicle %s's is pass %s (station %s, to %s), "
		     "so this one is not honoured while that one lasts",
		     veh.s, val(res, 0, 0), val(res, 0, 1), val(res, 0, 2));
	PQclear(res);
	return print_pass(a, id);
}

static int
parse_pass_revoke(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	if (admin_parse_u64("pass id", pos[0], 1, ID_MAX, &r->pass, err, errlen) != 0)
		return 2;
	r->note = opt[0];
	if (r->note != NULL && admin_check_text("--reason", r->note, ADMIN_TEXT_MAX, 0, err, errlen) != 0)
		return 2;
	return 0;
}

static int
run_pass_revoke(struct admin *a, const struct req *r)
{
	struct num id = num(r->pass);
	const char *p[2] = {id.s, r->note};
	PGresult *res;

	if (sql(a, &res, "SELECT " TS("revoked_at") " FROM passes WHERE id = $1 FOR UPDATE", 1, p) != 0)
		return db_fail(a, "could not read pass %s", id.s);
	if (PQntuples(res) != 1) {
		PQclear(res);
		fail("no pass %s", id.s);
		return 1;
	}
	if (!PQgetisnull(res, 0, 0)) {
		fail("pass %s was already revoked at %s", id.s, val(res, 0, 0));
		PQclear(res);
		return 1;
	}
	PQclear(res);
	if (sql(a, NULL,
		"UPDATE passes SET revoked_at = now(), revoked_reason = $2, awaiting_start = false, list_xid = " STAMP
		" WHERE id = $1",
		2, p) != 0)
		return db_fail(a, "could not revoke pass %s", id.s);
	return print_pass(a, id.s);
}

static int
parse_pass_list(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	(void)pos;
	if (opt[0] != NULL) {
		if (admin_parse_u64("--vehicle", opt[0], 1, ID_MAX, &r->vehicle, err, errlen) != 0)
			return 2;
		r->has_vehicle = 1;
	}
	return 0;
}

static int
run_pass_list(struct admin *a, const struct req *r)
{
	struct num veh = num(r->vehicle);
	char lim[16];
	PGresult *res;

	snprintf(lim, sizeof(lim), "%d", PASS_LIST_MAX + 1);
	const char *p[2] = {r->has_vehicle ? veh.s : NULL, lim};
	if (sql(a, &res,
		"SELECT " PASS_COLS " FROM passes p JOIN vehicles v ON v.id = p.vehicle_id"
		" WHERE $1::bigint IS NULL OR p.vehicle_id = $1::bigint ORDER BY p.id LIMIT $2",
		2, p) != 0)
		return db_fail(a, "could not list the passes");
	int n = PQntuples(res) > PASS_LIST_MAX ? PASS_LIST_MAX : PQntuples(res);
	int rc = print_passes(a, res, n);
	if (PQntuples(res) > PASS_LIST_MAX)
		fail("note: the list stops at %d rows", PASS_LIST_MAX);
	PQclear(res);
	return rc;
}

/* ---- low-balance thresholds per class ------------------------------------- */

static int
parse_threshold_set(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	uint64_t c;

	(void)opt;
	if (admin_parse_u64("class", pos[0], 1, 5, &c, err, errlen) != 0 ||
	    admin_parse_u64("threshold", pos[1], 0, THRESHOLD_MAX_VND, &r->threshold, err, errlen) != 0)
		return 2;
	r->vclass = (unsigned)c;
	return 0;
}

/* The class's threshold, then every account with a vehicle of the class:
 * its threshold and status again (rethreshold).  The table lock waits for
 * vehicle adds under way (they read their class's row FOR SHARE) and holds
 * the next ones until this commits, so none is left with the old value. */
static int
run_threshold_set(struct admin *a, const struct req *r)
{
	static const char *const names[] = {"class", "low_threshold_vnd", "was_vnd", "accounts",
					    "thresholds_changed", "statuses_changed"};
	char cls[4], m1[MONEY_CELL], m2[MONEY_CELL];
	struct num thr = num(r->threshold);
	PGresult *res;
	struct admin_table *t;
	uint64_t counts[3];
	int rc;

	snprintf(cls, sizeof(cls), "%u", r->vclass);
	const char *p[2] = {cls, thr.s};
	if (sql(a, NULL, "LOCK TABLE class_thresholds IN EXCLUSIVE MODE", 0, NULL) != 0)
		return db_fail(a, "could not lock the class thresholds");
	if (sql(a, &res,
		"UPDATE class_thresholds c SET low_threshold_vnd = $2, updated_at = now()"
		" FROM class_thresholds o WHERE c.vclass = $1 AND o.vclass = c.vclass RETURNING o.low_threshold_vnd",
		2, p) != 0)
		return db_fail(a, "could not set the threshold of class %s", cls);
	if (PQntuples(res) != 1) {
		PQclear(res);
		fail("no threshold row for class %s (central/sql/004_passes.sql makes them)", cls);
		return 1;
	}
	if (rethreshold(a, "SELECT w.account_id FROM vehicles w WHERE w.vclass = $1::smallint", cls, counts) != 0) {
		PQclear(res);
		return 1;
	}
	struct num n0 = num(counts[0]), n1 = num(counts[1]), n2 = num(counts[2]);
	if (table_new(6, names, "rrrrrr", &t) != 0) {
		PQclear(res);
		return 1;
	}
	const char *cells[6] = {cls, money(a, thr.s, m1, 0), money(a, val(res, 0, 0), m2, 0), n0.s, n1.s, n2.s};
	rc = table_add(t, cells);
	if (rc == 0)
		admin_table_print(t, a->csv, a->out);
	admin_table_free(t);
	PQclear(res);
	return rc;
}

static int
run_threshold_list(struct admin *a, const struct req *r)
{
	static const char *const names[] = {"class", "low_threshold_vnd", "updated_at"};
	char m[MONEY_CELL];
	PGresult *res;
	struct admin_table *t;
	int rc = 0;

	(void)r;
	if (sql(a, &res, "SELECT vclass, low_threshold_vnd, " TS("updated_at") " FROM class_thresholds ORDER BY vclass",
		0, NULL) != 0)
		return db_fail(a, "could not read the class thresholds");
	if (table_new(3, names, "rrl", &t) != 0) {
		PQclear(res);
		return 1;
	}
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		const char *cells[3] = {val(res, i, 0), money(a, val(res, i, 1), m, 0), val(res, i, 2)};
		rc = table_add(t, cells);
	}
	if (rc == 0)
		admin_table_print(t, a->csv, a->out);
	admin_table_free(t);
	PQclear(res);
	return rc;
}

/* ---- tariffs ----------------------------------------------------------- */

/* Read and check the file before connecting: 1 (refused) with err. */
static int
parse_tariff_load(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	FILE *f;
	size_t got;

	(void)opt;
	r->file = pos[0];
	if ((f = fopen(r->file, "rb")) == NULL) {
		toll_errf(err, errlen, TOLL_ESYS, "could not open %s: %s", r->file, strerror(errno));
		return 1;
	}
	if ((r->body = malloc(TARIFF_FILE_MAX + 2)) == NULL) {
		fclose(f);
		toll_errf(err, errlen, TOLL_ENOMEM, "out of memory");
		return 1;
	}
	while (r->body_len <= TARIFF_FILE_MAX &&
	       (got = fread(r->body + r->body_len, 1, TARIFF_FILE_MAX + 1 - r->body_len, f)) > 0)
		r->body_len += got;
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		toll_errf(err, errlen, TOLL_ESYS, "could not read %s", r->file);
		return 1;
	}
	if (r->body_len > TARIFF_FILE_MAX) {
		toll_errf(err, errlen, TOLL_EFORMAT, "%s: larger than %d bytes", r->file, TARIFF_FILE_MAX);
		return 1;
	}
	r->body[r->body_len] = 0;
	/* stored as text: no NUL, valid UTF-8 */
	if (admin_check_lines(r->file, r->body, r->body_len, err, errlen) != 0)
		return 1;
	struct lane_tariff *t;
	if (lane_tariff_parse(r->body, r->body_len, r->file, &t, err, errlen) != 0)
		return 1;
	r->tariff_version = lane_tariff_version(t);
	lane_tariff_free(t);
	if (r->tariff_version > ID_MAX) {
		toll_errf(err, errlen, TOLL_ERANGE, "%s: version %" PRIu64 " is above %llu, the largest central stores",
			  r->file, r->tariff_version, ID_MAX);
		return 1;
	}
	return 0;
}

/* Store version, body and SHA-256; the same body again is a no-op, another
 * body under a loaded version is refused. */
static int
run_tariff_load(struct admin *a, const struct req *r)
{
	static const char *const names[] = {"version", "sha256", "bytes", "result", "loaded_at"};
	struct num ver = num(r->tariff_version), len = num(r->body_len);
	uint8_t h[32];
	char sha[2 * 32 + 3];
	PGresult *res;
	struct admin_table *t;
	int rc;

	toll_sha256(r->body, r->body_len, h);
	cdb_bytea_hex(h, sizeof(h), sha);
	const char *p[3] = {ver.s, r->body, sha};
	if (sql(a, &res,
		"INSERT INTO tariffs (version, body, sha256) VALUES ($1, $2, $3::bytea)"
		" ON CONFLICT (version) DO NOTHING RETURNING " TS("loaded_at"),
		3, p) != 0)
		return db_fail(a, "could not load tariff version %s", ver.s);
	int added = PQntuples(res) == 1;
	const char *result = "loaded";
	if (!added) {
		PQclear(res);
		if (sql(a, &res,
			"SELECT body = $2 AND sha256 = $3::bytea, encode(sha256, 'hex'), " TS("loaded_at")
			" FROM tariffs WHERE version = $1",
			3, p) != 0)
			return db_fail(a, "could not read tariff version %s", ver.s);
		if (PQntuples(res) != 1 || strcmp(val(res, 0, 0), "t") != 0) {
			fail("tariff version %s is already loaded with another body (sha256 %s, loaded at %s): "
			     "a changed tariff needs a new version",
			     ver.s, PQntuples(res) == 1 ? val(res, 0, 1) : "?", PQntuples(res) == 1 ? val(res, 0, 2) : "?");
			PQclear(res);
			return 1;
		}
		result = "already loaded";
	}
	if (table_new(5, names, "rlrll", &t) != 0) {
		PQclear(res);
		return 1;
	}
	const char *cells[5] = {ver.s, sha + 2, len.s, result, val(res, 0, added ? 0 : 2)};
	rc = table_add(t, cells);
	if (rc == 0)
		admin_table_print(t, a->csv, a->out);
	admin_table_free(t);
	PQclear(res);
	return rc;
}

/* ---- the command line -------------------------------------------------- */

static const struct command commands[] = {
	{"account add", "ID [--name TEXT] [--low-threshold VND] [--kind customer|revenue|partner|suspense]", 1,
	 {"--name=", "--low-threshold=", "--kind="}, parse_account_add, run_account_add, 0},
	{"account show", "ID", 1, {NULL}, parse_account_id, run_account_show, 1},
	{"account statement", "ID [--limit N]", 1, {"--limit="}, parse_account_statement, run_account_statement, 1},
	{"account block", "ID REASON", 2, {NULL}, parse_account_block, run_account_block, 0},
	{"account unblock", "ID", 1, {NULL}, parse_account_id, run_account_unblock, 0},
	{"vehicle add", "ACCOUNT CLASS PLATE", 3, {NULL}, parse_vehicle_add, run_vehicle_add, 0},
	{"tag add", "EPC_HEX VEHICLE_ID [--tid HEX24] [--exempt]", 2, {"--tid=", "--exempt"}, parse_tag_add,
	 run_tag_add, 0},
	{"tag block", "EPC_HEX REASON", 2, {NULL}, parse_tag_block, run_tag_block, 0},
	{"tag unblock", "EPC_HEX", 1, {NULL}, parse_tag_unblock, run_tag_unblock, 0},
	{"station add", "ID --role open|entry|exit [--name TEXT] [--network N]", 1,
	 {"--role=", "--name=", "--network="}, parse_station_add, run_station_add, 0},
	{"lane add", "STATION LANE [--free-flow]", 2, {"--free-flow"}, parse_lane_add, run_lane_add, 0},
	{"lane key add", "STATION LANE PUBKEY_HEX [--valid-from TIME] [--valid-to TIME]", 3,
	 {"--valid-from=", "--valid-to="}, parse_lane_key_add, run_lane_key_add, 0},
	{"lane key revoke", "STATION LANE KEYID_HEX [--reason TEXT]", 3, {"--reason="}, parse_lane_key_revoke,
	 run_lane_key_revoke, 0},
	{"lane list", "", 0, {NULL}, parse_none, run_lane_list, 1},
	{"pass add", "VEHICLE_ID STATION --kind monthly|quarterly --from DAY [--to DAY]", 2,
	 {"--kind=", "--from=", "--to="}, parse_pass_add, run_pass_add, 0},
	{"pass revoke", "PASS_ID [--reason TEXT]", 1, {"--reason="}, parse_pass_revoke, run_pass_revoke, 0},
	{"pass list", "[--vehicle VEHICLE_ID]", 0, {"--vehicle="}, parse_pass_list, run_pass_list, 1},
	{"threshold set", "CLASS VND", 2, {NULL}, parse_threshold_set, run_threshold_set, 0},
	{"threshold list", "", 0, {NULL}, parse_none, run_threshold_list, 1},
	{"tariff load", "FILE", 1, {NULL}, parse_tariff_load, run_tariff_load, 0},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *out)
{
	fprintf(out, "usage: toll-admin [--db CONNINFO] [--role ROLE] [--csv] COMMAND ...\n"
		     "       toll-admin --help | --version\n"
		     "\n"
		     "commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %s%s%s\n", commands[i].words, commands[i].args[0] ? " " : "", commands[i].args);
	fprintf(out,
		"\n"
		"The operators' tool for the central database.  Each command is one database\n"
		"transaction and prints what it created or found.\n"
		"\n"
		"  --db CONNINFO   libpq connection string or URI (default: the PG* variables)\n"
		"  --role ROLE     SET ROLE after connecting (default " DEFAULT_ROLE "; '' for none)\n"
		"  --csv           CSV (RFC 4180, a header line) instead of aligned columns\n"
		"\n"
		"--db and --role come before COMMAND (after it, --role is a station's role).\n"
		"Ids are decimal: customer accounts 1..4294967295, internal accounts up to\n"
		"2^63-1; a station's revenue account is 1000000000000 + its id.  Money is\n"
		"whole VND.  REASON: 1..255 or blacklisted, stolen, closed, replaced.  CLASS:\n"
		"1..5.  PLATE: 1-12 of 0-9 A-Z . - and space.  TIME: ISO 8601 with a zone,\n"
		"2026-01-01T00:00:00+07:00 or 2026-01-01T00:00:00Z.  PUBKEY_HEX: 64 hex\n"
		"digits, as toll-lane keygen prints them.  A statement ends with the balance,\n"
		"checked against the sum of all the account's entries (in CSV, a last row of\n"
		"kind balance).\n"
		"\n"
		"Passes: DAY is YYYY-MM-DD in station time (Asia/Ho_Chi_Minh, +07:00); a pass\n"
		"is valid from --from to its last day, both included: by default the day\n"
		"before the same day one month (monthly) or three (quarterly) on, or the end\n"
		"of that month when it has no such day; --to may end it earlier.  Passes are\n"
		"for open stations; they are revoked, never deleted.  The lanes' list holds one\n"
		"pass a vehicle (the current one ending last: pass list shows it as\n"
		"in_lanes); a pass that has not begun reaches the lanes on its first day.\n"
		"\n"
		"Low-balance thresholds: an account is low below the greater of its own\n"
		"threshold (account add --low-threshold) and its vehicles' classes' (threshold\n"
		"list).  vehicle add and threshold set work it out again, with the status the\n"
		"lanes see.\n"
		"\n"
		"Exit status: 0 done, 1 refused or failed (the reason on stderr), 2 bad\n"
		"arguments.\n");
}

static int
bad_args(const struct command *c, const char *msg)
{
	fail("%s", msg);
	if (c != NULL)
		fprintf(stderr, "usage: toll-admin %s%s%s\n", c->words, c->args[0] ? " " : "", c->args);
	else
		usage(stderr);
	return 2;
}

/* The command named by argv[0..]: *nwords gets how many words it took. */
static const struct command *
find_command(int argc, char **argv, int *nwords)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const char *w = commands[i].words;
		int n = 0;
		while (*w) {
			size_t l = strcspn(w, " ");
			if (n >= argc || strlen(argv[n]) != l || strncmp(argv[n], w, l) != 0)
				break;
			n++;
			w += l;
			w += *w == ' ';
		}
		if (*w == 0) {
			*nwords = n;
			return &commands[i];
		}
	}
	return NULL;
}

/* Positional arguments and options after the command words: "--opt VALUE"
 * or "--opt=VALUE", each option once, "--" ends the options.  --csv may
 * come here too. */
static int
split_args(const struct command *c, int argc, char **argv, char **pos, char **opt, int *csv, char *err,
	   size_t errlen)
{
	int npos = 0, options = 1;

	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];
		if (options && strcmp(s, "--") == 0) {
			options = 0;
			continue;
		}
		if (options && strcmp(s, "--csv") == 0) {
			*csv = 1;
			continue;
		}
		if (!options || strncmp(s, "--", 2) != 0) {
			if (npos == c->npos)
				return toll_errf(err, errlen, 2, "unexpected argument '%s'", s);
			pos[npos++] = argv[i];
			continue;
		}
		size_t nl = strcspn(s, "=");
		int k;
		for (k = 0; c->opts[k] != NULL; k++) {
			size_t ol = strcspn(c->opts[k], "=");
			if (ol == nl && strncmp(s, c->opts[k], nl) == 0)
				break;
		}
		if (c->opts[k] == NULL)
			return toll_errf(err, errlen, 2, "unknown option '%.*s'", (int)(nl > 40 ? 40 : nl), s);
		if (opt[k] != NULL)
			return toll_errf(err, errlen, 2, "%s given twice", c->opts[k]);
		int takes = c->opts[k][nl] == '=';
		if (!takes) {
			if (s[nl] == '=')
				return toll_errf(err, errlen, 2, "%.*s takes no value", (int)nl, s);
			opt[k] = argv[i];
		} else if (s[nl] == '=') {
			opt[k] = argv[i] + nl + 1;
		} else if (i + 1 < argc) {
			opt[k] = argv[++i];
		} else {
			return toll_errf(err, errlen, 2, "%.*s needs a value", (int)nl, s);
		}
	}
	if (npos != c->npos)
		return toll_errf(err, errlen, 2, "%s wants %d argument%s, not %d", c->words, c->npos,
				 c->npos == 1 ? "" : "s", npos);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct req r;
	struct admin a;
	const char *conninfo = "", *role = DEFAULT_ROLE;
	const struct command *c;
	char *pos[POS_MAX] = {NULL}, *opt[OPTS_MAX] = {NULL};
	char err[1024] = "";
	char *text = NULL;
	size_t text_len = 0;
	int i, nwords, rc;

	memset(&a, 0, sizeof(a));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("toll-admin %s\n", TOLL_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--csv") == 0) {
			a.csv = 1;
		} else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
			conninfo = argv[++i];
		} else if (strncmp(argv[i], "--db=", 5) == 0) {
			conninfo = argv[i] + 5;
		} else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc) {
			role = argv[++i];
		} else if (strncmp(argv[i], "--role=", 7) == 0) {
			role = argv[i] + 7;
		} else if (argv[i][0] == '-') {
			char msg[128];
			snprintf(msg, sizeof(msg), "unknown option '%.40s', or its value missing", argv[i]);
			return bad_args(NULL, msg);
		} else {
			break;
		}
	}
	if (i == argc)
		return bad_args(NULL, "no command");
	c = find_command(argc - i, argv + i, &nwords);
	if (c == NULL) {
		char msg[128];
		snprintf(msg, sizeof(msg), "unknown command '%.40s%s%.40s'", argv[i], i + 1 < argc ? " " : "",
			 i + 1 < argc ? argv[i + 1] : "");
		return bad_args(NULL, msg);
	}
	if (split_args(c, argc - i - nwords, argv + i + nwords, pos, opt, &a.csv, err, sizeof(err)) != 0)
		return bad_args(c, err);
	rc = c->parse(&r, pos, opt, err, sizeof(err));
	if (rc == 2)
		return bad_args(c, err);
	if (rc != 0) {
		fail("%s", err);
		free(r.body);
		return 1;
	}

	/* bounded waits: connecting, locks, statements */
	setenv("PGCONNECT_TIMEOUT", "10", 0);
	rc = cdb_connect(conninfo, role, &a.db, a.err, sizeof(a.err));
	if (rc != 0) {
		tidy_err(a.err);
		if (rc == TOLL_EAGAIN)
			fail("%s", a.err);
		else
			fail("could not start the session as role '%s': %s", role, a.err);
		free(r.body);
		return 1;
	}
	if ((a.out = open_memstream(&text, &text_len)) == NULL) {
		fail("out of memory");
		cdb_close(a.db);
		free(r.body);
		return 1;
	}
	rc = 1;
	if (cdb_exec(a.db, "SET lock_timeout = '10s'", a.err, sizeof(a.err)) != 0 ||
	    cdb_exec(a.db, "SET statement_timeout = '120s'", a.err, sizeof(a.err)) != 0 ||
	    cdb_exec(a.db,
		     c->read_only ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN", a.err,
		     sizeof(a.err)) != 0) {
		tidy_err(a.err);
		fail("could not begin a transaction: %s", a.err);
	} else if (c->run(&a, &r) != 0) {
		if (!cdb_broken(a.db))
			cdb_exec(a.db, "ROLLBACK", NULL, 0);
	} else if (cdb_exec(a.db, "COMMIT", a.err, sizeof(a.err)) != 0) {
		tidy_err(a.err);
		fail("could not commit: %s", a.err);
	} else {
		rc = 0;
	}
	fclose(a.out);
	/* what changed is shown only once it is committed; what was read, always */
	if (rc == 0 || c->read_only)
		fwrite(text, 1, text_len, stdout);
	if (fflush(stdout) != 0 && rc == 0) {
		fail("could not write the output: %s", strerror(errno));
		rc = 1;
	}
	free(text);
	cdb_close(a.db);
	free(r.body);
	return rc;
}
