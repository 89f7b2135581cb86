/* admin_main.c: toll-admin, the operators' command line for the central
 * database: the command line, and the registry (accounts, vehicles, tags,
 * stations, lanes and their keys, passes, low-balance thresholds per
 * class, tariffs).  Partners and their daily files: admin_partner.c;
 * statements, corrections, exports: admin_ledger.c; the lanes' journals
 * against central: admin_recon.c (admin.h joins them).
 *
 *   toll-admin [--db CONNINFO] [--role ROLE] [--csv] COMMAND ...
 *
 * Every argument is checked before the database is reached (exit 2 with
 * the command's usage); every command is one database transaction, run as
 * the application role (SET ROLE toll_app by default), so the tool can do
 * only what central/sql grants toll-central; statements take text
 * parameters, never text pasted into SQL (export's COPY takes none: its
 * days are checked digits).  What a command created or changed is printed
 * once the transaction has committed (an export streams as it reads);
 * refusals and failures go to stderr as "toll-admin: ..." with exit 1, as
 * does a reconciliation that finds a difference.
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

#include "admin.h"
#include "cdb.h"
#include "crypto.h"
#include "err.h"

/* A tariff is checked with the lane's own parser before it is stored, so
 * central never hands the lanes a table they would refuse. */
#include "../lane-controller/lane_tariff.h"

#define CUSTOMER_ID_MAX ADMIN_CUSTOMER_ID_MAX
#define ID_MAX ADMIN_ID_MAX
#define INT_ID_MAX ADMIN_INT_ID_MAX
#define LANE_ID_MAX ADMIN_LANE_ID_MAX
#define REVENUE_ACCOUNT_BASE 1000000000000ULL /* + station id */
#define CUSTOMER_LOW_THRESHOLD_VND 100000 /* accounts.low_threshold_vnd's default */
#define THRESHOLD_MAX_VND 1000000000000ULL
#define LANE_LIST_MAX 100000
#define PASS_LIST_MAX 100000
#define TARIFF_FILE_MAX LANE_TARIFF_FILE_MAX
#define DEFAULT_ROLE "toll_app"
#define OPTS_MAX 8

struct command {
	const char *words; /* "lane key add" */
	const char *args;  /* the rest of its usage line */
	int npos;	   /* positional arguments wanted */
	int npos_max;	   /* at most (0: exactly npos) */
	const char *opts[OPTS_MAX + 1]; /* "--name=" takes a value, "--exempt" does not */
	admin_parse_fn *parse;
	admin_run_fn *run;
	int read_only;
	int streams; /* prints as it goes, to stdout (read-only commands only) */
};

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
	struct admin_num n = admin_num(id);
	const char *p[1] = {n.s};
	PGresult *res;
	struct admin_table *t;
	char bal[ADMIN_MONEY_CELL], thr[ADMIN_MONEY_CELL], rsn[32];
	int rc;

	if (admin_sql(a, &res, "SELECT " ACCOUNT_COLS " FROM accounts WHERE id = $1", 1, p) != 0)
		return admin_db_fail(a, "could not read account %s", n.s);
	if (PQntuples(res) != 1) {
		PQclear(res);
		admin_fail("no account %s", n.s);
		return 1;
	}
	if (admin_out_new(9, names, "rllrlrlrl", &t) != 0) {
		PQclear(res);
		return 1;
	}
	const char *cells[9] = {admin_val(res, 0, 0),
				admin_val(res, 0, 1),
				admin_val(res, 0, 2),
				admin_money_text(a, admin_val(res, 0, 3), bal, 0),
				status_name(admin_val(res, 0, 4)),
				admin_money_text(a, admin_val(res, 0, 5), thr, 0),
				reason_cell(a, admin_val(res, 0, 6), rsn, sizeof(rsn)),
				admin_val(res, 0, 7),
				admin_val(res, 0, 8)};
	rc = admin_out_add(t, cells);
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
	struct admin_num id = admin_num(r->account), thr = admin_num(r->threshold);
	/* a new customer account's balance is 0: low when below its threshold */
	const char *status = strcmp(r->kind, "customer") == 0 && r->threshold > 0 ? "1" : "0";
	const char *p[5] = {id.s, r->kind, r->name, thr.s, status};
	PGresult *res;

	if (admin_sql(a, &res,
		"INSERT INTO accounts (id, kind, name, low_threshold_vnd, own_low_threshold_vnd, status, list_xid)"
		" VALUES ($1, $2, $3, $4, $4, $5, pg_current_xact_id()::text::bigint)"
		" ON CONFLICT (id) DO NOTHING RETURNING id",
		5, p) != 0)
		return admin_db_fail(a, "could not add account %s", id.s);
	int added = PQntuples(res) == 1;
	PQclear(res);
	if (!added) {
		admin_fail("account %s already exists", id.s);
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
	struct admin_num id = admin_num(account);
	char rs[8];
	PGresult *res;

	snprintf(rs, sizeof(rs), "%u", reason);
	const char *p[2] = {id.s, rs};
	if (admin_sql(a, &res, "SELECT kind, blocked_reason, status FROM accounts WHERE id = $1 FOR UPDATE", 1, p) !=
	    0)
		return admin_db_fail(a, "could not read account %s", id.s);
	if (PQntuples(res) != 1) {
		PQclear(res);
		admin_fail("no account %s", id.s);
		return 1;
	}
	if (strcmp(admin_val(res, 0, 0), "customer") != 0) {
		admin_fail("account %s is a %s account: only customer accounts are blocked", id.s, admin_val(res, 0, 0));
		PQclear(res);
		return 1;
	}
	int same = strcmp(admin_val(res, 0, 1), rs) == 0;
	char old_status[8];
	snprintf(old_status, sizeof(old_status), "%s", admin_val(res, 0, 2));
	PQclear(res);
	if (same) {
		if (reason == 0)
			admin_fail("note: account %s was not blocked: nothing changed", id.s);
		else
			admin_fail("note: account %s was already blocked with reason %s: nothing changed", id.s, rs);
		return print_account(a, account);
	}
	if (admin_sql(a, &res,
		"UPDATE accounts SET blocked_reason = $2,"
		" status = CASE WHEN $2::smallint > 0 THEN 2 WHEN balance_vnd < 0 THEN 2"
		"          WHEN balance_vnd < low_threshold_vnd THEN 1 ELSE 0 END,"
		" list_xid = pg_current_xact_id()::text::bigint"
		" WHERE id = $1 RETURNING status, balance_vnd",
		2, p) != 0)
		return admin_db_fail(a, "could not %s account %s", reason ? "block" : "unblock", id.s);
	if (strcmp(admin_val(res, 0, 0), old_status) != 0) {
		const char *q[3] = {id.s, admin_val(res, 0, 1), admin_val(res, 0, 0)};
		PGresult *ins;
		if (admin_sql(a, &ins,
			"INSERT INTO notifications (account_id, kind, balance_vnd, status)"
			" VALUES ($1, 'status', $2, $3)",
			3, q) != 0) {
			PQclear(res);
			return admin_db_fail(a, "could not queue the status notification of account %s", id.s);
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

	if (admin_sql(a, &res, "SELECT kind FROM accounts WHERE id = $1 FOR NO KEY UPDATE", 1, p) != 0)
		return admin_db_fail(a, "could not read account %s", id);
	if (PQntuples(res) != 1) {
		PQclear(res);
		admin_fail("no account %s", id);
		return 1;
	}
	snprintf(kind, len, "%s", admin_val(res, 0, 0));
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
	if (admin_sql(a, &res, q, 1, p) != 0)
		return admin_db_fail(a, "could not set the low-balance thresholds again");
	for (int i = 0; i < 3; i++)
		counts[i] = strtoull(admin_val(res, 0, i), NULL, 10);
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
	struct admin_num id = admin_num(r->account);
	char cls[4], kind[16], thr[ADMIN_MONEY_CELL];
	PGresult *res;
	struct admin_table *t;
	uint64_t counts[3];
	int rc;

	if (account_kind_locked(a, id.s, kind, sizeof(kind)) != 0)
		return 1;
	if (strcmp(kind, "customer") != 0) {
		admin_fail("account %s is a %s account: vehicles belong to customer accounts", id.s, kind);
		return 1;
	}
	snprintf(cls, sizeof(cls), "%u", r->vclass);
	const char *p[3] = {id.s, cls, r->plate};
	/* a threshold set (which locks the table) finishes first, or waits
	 * for this one: either way the account gets the class's threshold */
	if (admin_sql(a, &res, "SELECT 1 FROM class_thresholds WHERE vclass = $1 FOR SHARE", 1, p + 1) != 0)
		return admin_db_fail(a, "could not read the threshold of class %s", cls);
	PQclear(res);
	if (admin_sql(a, &res,
		"INSERT INTO vehicles (account_id, vclass, plate) VALUES ($1, $2, $3)"
		" RETURNING id, account_id, vclass, plate, " TS("created_at"),
		3, p) != 0)
		return admin_db_fail(a, "could not add the vehicle");
	if (rethreshold(a, "SELECT $1::bigint", id.s, counts) != 0) {
		PQclear(res);
		return 1;
	}
	if (counts[1] > 0) {
		PGresult *acc;
		if (admin_sql(a, &acc, "SELECT low_threshold_vnd, status FROM accounts WHERE id = $1", 1, p) != 0) {
			PQclear(res);
			return admin_db_fail(a, "could not read account %s", id.s);
		}
		admin_fail("note: account %s's low-balance threshold is now %s VND (class %s); status %s", id.s,
		     admin_money_text(a, admin_val(acc, 0, 0), thr, 0), cls, status_name(admin_val(acc, 0, 1)));
		PQclear(acc);
	}
	if (admin_out_new(5, names, "rrrll", &t) != 0) {
		PQclear(res);
		return 1;
	}
	const char *cells[5] = {admin_val(res, 0, 0), admin_val(res, 0, 1), admin_val(res, 0, 2), admin_val(res, 0, 3), admin_val(res, 0, 4)};
	rc = admin_out_add(t, cells);
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

	if (admin_sql(a, &res,
		"SELECT t.epc_hex, encode(t.tid, 'hex'), t.vehicle_id, v.account_id, v.plate, t.status,"
		" t.reason, t.exempt, t.list_xid FROM tags t JOIN vehicles v ON v.id = t.vehicle_id"
		" WHERE t.epc_hex = $1",
		1, p) != 0)
		return admin_db_fail(a, "could not read tag %s", epc);
	if (PQntuples(res) != 1) {
		PQclear(res);
		admin_fail("no tag %s", epc);
		return 1;
	}
	if (admin_out_new(9, names, "llrrllllr", &t) != 0) {
		PQclear(res);
		return 1;
	}
	const char *cells[9] = {admin_val(res, 0, 0),	     admin_val(res, 0, 1),
				admin_val(res, 0, 2),	     admin_val(res, 0, 3),
				admin_val(res, 0, 4),	     status_name(admin_val(res, 0, 5)),
				reason_cell(a, admin_val(res, 0, 6), rsn, sizeof(rsn)), yes_no(admin_val(res, 0, 7)),
				admin_val(res, 0, 8)};
	rc = admin_out_add(t, cells);
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
	struct admin_num veh = admin_num(r->vehicle);
	char tid[2 + ADMIN_TID_HEX + 1];
	PGresult *res;
	const char *p[4] = {r->epc, r->has_tid ? tid : NULL, veh.s, r->exempt ? "true" : "false"};

	snprintf(tid, sizeof(tid), "\\x%s", r->tid);
	if (admin_sql(a, &res, "SELECT 1 FROM vehicles WHERE id = $1", 1, p + 2) != 0)
		return admin_db_fail(a, "could not read vehicle %s", veh.s);
	int found = PQntuples(res) == 1;
	PQclear(res);
	if (!found) {
		admin_fail("no vehicle %s", veh.s);
		return 1;
	}
	if (admin_sql(a, &res,
		"INSERT INTO tags (epc_hex, tid, vehicle_id, exempt, list_xid)"
		" VALUES ($1, $2::bytea, $3, $4, pg_current_xact_id()::text::bigint)"
		" ON CONFLICT (epc_hex) DO NOTHING RETURNING vehicle_id",
		4, p) != 0)
		return admin_db_fail(a, "could not add tag %s", r->epc);
	int added = PQntuples(res) == 1;
	PQclear(res);
	if (!added) {
		if (admin_sql(a, &res, "SELECT vehicle_id FROM tags WHERE epc_hex = $1", 1, p) != 0)
			return admin_db_fail(a, "could not read tag %s", r->epc);
		admin_fail("tag %s already exists (vehicle %s)", r->epc, PQntuples(res) == 1 ? admin_val(res, 0, 0) : "?");
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
	if (admin_sql(a, &res, "SELECT reason FROM tags WHERE epc_hex = $1 FOR UPDATE", 1, p) != 0)
		return admin_db_fail(a, "could not read tag %s", epc);
	if (PQntuples(res) != 1) {
		PQclear(res);
		admin_fail("no tag %s", epc);
		return 1;
	}
	int same = strcmp(admin_val(res, 0, 0), rs) == 0;
	PQclear(res);
	if (same) {
		if (reason == 0)
			admin_fail("note: tag %s was not blocked: nothing changed", epc);
		else
			admin_fail("note: tag %s was already blocked with reason %s: nothing changed", epc, rs);
		return print_tag(a, epc);
	}
	if (admin_sql(a, NULL,
		"UPDATE tags SET status = $3, reason = $2, list_xid = pg_current_xact_id()::text::bigint"
		" WHERE epc_hex = $1",
		3, p) != 0)
		return admin_db_fail(a, "could not %s tag %s", reason ? "block" : "unblock", epc);
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
	struct admin_num id = admin_num(r->station), acc = admin_num(REVENUE_ACCOUNT_BASE + r->station), net = admin_num(r->network);
	char acc_name[64];
	PGresult *res;
	struct admin_table *t;
	int rc;

	snprintf(acc_name, sizeof(acc_name), "revenue of station %s", id.s);
	const char *p[5] = {id.s, r->name, r->role, r->has_network ? net.s : NULL, acc.s};
	const char *pa[2] = {acc.s, acc_name};
	if (admin_sql(a, &res, "SELECT 1 FROM stations WHERE id = $1", 1, p) != 0)
		return admin_db_fail(a, "could not read station %s", id.s);
	int exists = PQntuples(res) == 1;
	PQclear(res);
	if (exists) {
		admin_fail("station %s already exists", id.s);
		return 1;
	}
	if (admin_sql(a, &res,
		"INSERT INTO accounts (id, kind, name, low_threshold_vnd, list_xid)"
		" VALUES ($1, 'revenue', $2, 0, pg_current_xact_id()::text::bigint)"
		" ON CONFLICT (id) DO NOTHING RETURNING id",
		2, pa) != 0)
		return admin_db_fail(a, "could not add the revenue account %s of station %s", acc.s, id.s);
	int added = PQntuples(res) == 1;
	PQclear(res);
	if (!added) {
		admin_fail("account %s, station %s's revenue account, already exists", acc.s, id.s);
		return 1;
	}
	if (admin_sql(a, &res,
		"INSERT INTO stations (id, name, role, network, revenue_account_id) VALUES ($1, $2, $3, $4, $5)"
		" RETURNING id, role, network, name, revenue_account_id, " TS("created_at"),
		5, p) != 0)
		return admin_db_fail(a, "could not add station %s", id.s);
	if (admin_out_new(6, names, "rlrlrl", &t) != 0) {
		PQclear(res);
		return 1;
	}
	const char *cells[6] = {admin_val(res, 0, 0), admin_val(res, 0, 1), admin_val(res, 0, 2),
				admin_val(res, 0, 3), admin_val(res, 0, 4), admin_val(res, 0, 5)};
	rc = admin_out_add(t, cells);
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
	struct admin_num st = admin_num(r->station), ln = admin_num(r->lane);
	const char *p[3] = {st.s, ln.s, r->free_flow ? "true" : "false"};
	PGresult *res;
	struct admin_table *t;
	int rc;

	if (admin_sql(a, &res, "SELECT 1 FROM stations WHERE id = $1", 1, p) != 0)
		return admin_db_fail(a, "could not read station %s", st.s);
	int found = PQntuples(res) == 1;
	PQclear(res);
	if (!found) {
		admin_fail("no station %s (add it with toll-admin station add)", st.s);
		return 1;
	}
	if (admin_sql(a, &res,
		"INSERT INTO lanes (station_id, lane_id, free_flow) VALUES ($1, $2, $3)"
		" ON CONFLICT (station_id, lane_id) DO NOTHING"
		" RETURNING station_id, lane_id, free_flow, " TS("created_at"),
		3, p) != 0)
		return admin_db_fail(a, "could not add lane %s of station %s", ln.s, st.s);
	if (PQntuples(res) != 1) {
		PQclear(res);
		admin_fail("lane %s of station %s already exists", ln.s, st.s);
		return 1;
	}
	if (admin_out_new(4, names, "rrll", &t) != 0) {
		PQclear(res);
		return 1;
	}
	const char *cells[4] = {admin_val(res, 0, 0), admin_val(res, 0, 1), yes_no(admin_val(res, 0, 2)), admin_val(res, 0, 3)};
	rc = admin_out_add(t, cells);
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

	if (admin_sql(a, &res, "SELECT 1 FROM lanes WHERE station_id = $1 AND lane_id = $2", 2, p) != 0)
		return admin_db_fail(a, "could not read lane %s of station %s", ln, st);
	int found = PQntuples(res) == 1;
	PQclear(res);
	if (!found) {
		admin_fail("no lane %s at station %s (add it with toll-admin lane add)", ln, st);
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

	if (admin_out_new(7, names, "rrlllll", &t) != 0)
		return 1;
	const char *cells[7] = {admin_val(res, 0, 0), admin_val(res, 0, 1), admin_val(res, 0, 2), admin_val(res, 0, 3),
				admin_val(res, 0, 4), admin_val(res, 0, 5), admin_val(res, 0, 6)};
	rc = admin_out_add(t, cells);
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
	struct admin_num st = admin_num(r->station), ln = admin_num(r->lane);
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
	if (admin_sql(a, &res,
		"SELECT station_id, lane_id, encode(key_id, 'hex') FROM lane_keys WHERE public_key = $1::bytea", 1,
		p + 3) != 0)
		return admin_db_fail(a, "could not look the public key up");
	if (PQntuples(res) > 0) {
		admin_fail("this public key is already registered: key %s of station %s lane %s", admin_val(res, 0, 2),
		     admin_val(res, 0, 0), admin_val(res, 0, 1));
		PQclear(res);
		return 1;
	}
	PQclear(res);
	if (admin_sql(a, &res,
		"SELECT $2::timestamptz IS NULL OR $2::timestamptz > COALESCE($1::timestamptz, now())", 2,
		p + 4) != 0)
		return admin_db_fail(a, "could not read the validity times");
	int ordered = strcmp(admin_val(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!ordered) {
		admin_fail("--valid-to %s is not after %s", r->valid_to, r->valid_from ? r->valid_from : "now");
		return 1;
	}
	if (admin_sql(a, &res,
		"INSERT INTO lane_keys (station_id, lane_id, key_id, public_key, valid_from, valid_to)"
		" VALUES ($1, $2, $3::bytea, $4::bytea, COALESCE($5::timestamptz, now()), $6::timestamptz)"
		" ON CONFLICT DO NOTHING RETURNING " KEY_COLS,
		6, p) != 0)
		return admin_db_fail(a, "could not add the key of lane %s at station %s", ln.s, st.s);
	if (PQntuples(res) != 1) {
		/* the public key is unique (looked up above): the 32-bit id collided */
		admin_fail("lane %s at station %s already has another key with key id %08" PRIx32
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
	struct admin_num st = admin_num(r->station), ln = admin_num(r->lane);
	char kid[2 + ADMIN_KEYID_HEX + 1];
	PGresult *res;
	int rc;

	snprintf(kid, sizeof(kid), "\\x%s", r->keyid);
	const char *p[4] = {st.s, ln.s, kid, r->note};
	if (admin_sql(a, &res,
		"SELECT " TS("revoked_at") " FROM lane_keys WHERE station_id = $1 AND lane_id = $2"
		" AND key_id = $3::bytea FOR UPDATE",
		3, p) != 0)
		return admin_db_fail(a, "could not read key %s", r->keyid);
	if (PQntuples(res) != 1) {
		PQclear(res);
		admin_fail("no key %s at station %s lane %s", r->keyid, st.s, ln.s);
		return 1;
	}
	if (!PQgetisnull(res, 0, 0)) {
		admin_fail("key %s of station %s lane %s was already revoked at %s", r->keyid, st.s, ln.s, admin_val(res, 0, 0));
		PQclear(res);
		return 1;
	}
	PQclear(res);
	if (admin_sql(a, &res,
		"UPDATE lane_keys SET revoked_at = now(), revoked_reason = $4"
		" WHERE station_id = $1 AND lane_id = $2 AND key_id = $3::bytea RETURNING " KEY_COLS,
		4, p) != 0)
		return admin_db_fail(a, "could not revoke key %s", r->keyid);
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
	if (admin_sql(a, &res,
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
		return admin_db_fail(a, "could not list the stations");
	if (admin_out_new(11, names, "rlrlrllllll", &t) != 0) {
		PQclear(res);
		return 1;
	}
	int n = PQntuples(res) > LANE_LIST_MAX ? LANE_LIST_MAX : PQntuples(res);
	for (int i = 0; i < n && rc == 0; i++) {
		const char *cells[11];
		for (int c = 0; c < 11; c++)
			cells[c] = admin_val(res, i, c);
		rc = admin_out_add(t, cells);
	}
	if (rc == 0)
		admin_table_print(t, a->csv, a->out);
	if (PQntuples(res) > LANE_LIST_MAX)
		admin_fail("note: the list stops at %d rows", LANE_LIST_MAX);
	admin_table_free(t);
	PQclear(res);
	return rc;
}

/* ---- passes ------------------------------------------------------------- */

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
	if (admin_parse_day("--from", opt[1], r->from_day, err, errlen) != 0 ||
	    (opt[2] != NULL && admin_parse_day("--to", opt[2], r->to_day, err, errlen) != 0))
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

	if (admin_out_new(PASS_NCOLS, names, "rrlrrllllllllr", &t) != 0)
		return 1;
	for (int i = 0; i < n && rc == 0; i++) {
		const char *cells[PASS_NCOLS];
		for (int c = 0; c < PASS_NCOLS; c++)
			cells[c] = admin_val(res, i, c);
		cells[9] = yes_no(cells[9]);
		rc = admin_out_add(t, cells);
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

	if (admin_sql(a, &res, "SELECT " PASS_COLS " FROM passes p JOIN vehicles v ON v.id = p.vehicle_id WHERE p.id = $1", 1,
		p) != 0)
		return admin_db_fail(a, "could not read pass %s", id);
	if (PQntuples(res) != 1) {
		PQclear(res);
		admin_fail("no pass %s", id);
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
	struct admin_num veh = admin_num(r->vehicle), st = admin_num(r->station);
	const char *months = strcmp(r->kind, "monthly") == 0 ? "1 month" : "3 months";
	PGresult *res;
	char last[11], today[11];

	/* locked (as an UPDATE would, not its key): passes of one vehicle are
	 * added one after another, so the overlap check below holds */
	const char *pv[1] = {veh.s};
	if (admin_sql(a, &res, "SELECT account_id FROM vehicles WHERE id = $1 FOR NO KEY UPDATE", 1, pv) != 0)
		return admin_db_fail(a, "could not read vehicle %s", veh.s);
	int found = PQntuples(res) == 1;
	PQclear(res);
	if (!found) {
		admin_fail("no vehicle %s", veh.s);
		return 1;
	}
	const char *ps[1] = {st.s};
	if (admin_sql(a, &res, "SELECT role, network FROM stations WHERE id = $1", 1, ps) != 0)
		return admin_db_fail(a, "could not read station %s", st.s);
	if (PQntuples(res) != 1) {
		PQclear(res);
		admin_fail("no station %s (add it with toll-admin station add)", st.s);
		return 1;
	}
	if (strcmp(admin_val(res, 0, 0), "open") != 0) {
		/* the lane honours a pass before its role: an entry lane would
		 * record no entry, and the exit would charge the farthest one */
		admin_fail("station %s is a closed-network %s station (network %s): passes are for open stations", st.s,
		     admin_val(res, 0, 0), admin_val(res, 0, 1));
		PQclear(res);
		return 1;
	}
	PQclear(res);
	const char *pd[2] = {r->from_day, months};
	if (admin_sql(a, &res,
		"WITH f AS (SELECT $1::date AS d, ($1::date + $2::interval)::date AS e)"
		" SELECT to_char(CASE WHEN extract(day FROM f.e) < extract(day FROM f.d) THEN f.e ELSE f.e - 1 END,"
		"  'YYYY-MM-DD'), to_char(toll_today(), 'YYYY-MM-DD') FROM f",
		2, pd) != 0)
		return admin_db_fail(a, "could not work out the pass's last day");
	snprintf(last, sizeof(last), "%s", admin_val(res, 0, 0));
	snprintf(today, sizeof(today), "%s", admin_val(res, 0, 1));
	PQclear(res);
	if (r->to_day[0]) {
		if (strcmp(r->to_day, last) > 0) {
			admin_fail("--to %s is past the end of a %s pass from %s (%s): a longer one is another pass", r->to_day,
			     r->kind, r->from_day, last);
			return 1;
		}
		snprintf(last, sizeof(last), "%s", r->to_day);
	}
	if (strcmp(last, today) < 0) {
		admin_fail("a pass from %s to %s would end before today (%s, station time)", r->from_day, last, today);
		return 1;
	}
	const char *po[4] = {veh.s, st.s, r->from_day, last};
	if (admin_sql(a, &res,
		"SELECT id, to_char(first_day, 'YYYY-MM-DD'), to_char(last_day, 'YYYY-MM-DD') FROM passes"
		" WHERE vehicle_id = $1 AND station_id = $2 AND revoked_at IS NULL"
		" AND first_day <= $4::date AND last_day >= $3::date ORDER BY first_day LIMIT 1",
		4, po) != 0)
		return admin_db_fail(a, "could not read the passes of vehicle %s", veh.s);
	if (PQntuples(res) == 1) {
		admin_fail("vehicle %s already has pass %s at station %s, %s to %s, which overlaps %s to %s (revoke it first)",
		     veh.s, admin_val(res, 0, 0), st.s, admin_val(res, 0, 1), admin_val(res, 0, 2), r->from_day, last);
		PQclear(res);
		return 1;
	}
	PQclear(res);
	const char *pi[5] = {veh.s, st.s, r->kind, r->from_day, last};
	if (admin_sql(a, &res,
		"INSERT INTO passes (vehicle_id, station_id, kind, first_day, last_day, awaiting_start, list_xid)"
		" VALUES ($1, $2, $3, $4::date, $5::date, $4::date > toll_today(), " STAMP ") RETURNING id",
		5, pi) != 0)
		return admin_db_fail(a, "could not add the pass");
	char id[24];
	snprintf(id, sizeof(id), "%s", admin_val(res, 0, 0));
	PQclear(res);
	/* the lanes' list holds one pass a vehicle: say when it is another */
	const char *pq[2] = {veh.s, id};
	if (admin_sql(a, &res,
		"SELECT q.id, q.station_id, to_char(q.last_day, 'YYYY-MM-DD') FROM passes q WHERE q.vehicle_id = $1"
		" AND q.last_day >= toll_today() AND q.first_day <= toll_today() AND q.revoked_at IS NULL"
		" ORDER BY q.last_day DESC, q.first_day DESC, q.id DESC LIMIT 1",
		1, pq) != 0)
		return admin_db_fail(a, "could not read the passes of vehicle %s", veh.s);
	if (PQntuples(res) == 1 && strcmp(admin_val(res, 0, 0), id) != 0 && strcmp(r->from_day, today) <= 0)
		admin_fail("note: the lanes' list holds one pass a vehicle: vehicle %s's is pass %s (station %s, to %s), "
		     "so this one is not honoured while that one lasts",
		     veh.s, admin_val(res, 0, 0), admin_val(res, 0, 1), admin_val(res, 0, 2));
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
	struct admin_num id = admin_num(r->pass);
	const char *p[2] = {id.s, r->note};
	PGresult *res;

	if (admin_sql(a, &res, "SELECT " TS("revoked_at") " FROM passes WHERE id = $1 FOR UPDATE", 1, p) != 0)
		return admin_db_fail(a, "could not read pass %s", id.s);
	if (PQntuples(res) != 1) {
		PQclear(res);
		admin_fail("no pass %s", id.s);
		return 1;
	}
	if (!PQgetisnull(res, 0, 0)) {
		admin_fail("pass %s was already revoked at %s", id.s, admin_val(res, 0, 0));
		PQclear(res);
		return 1;
	}
	PQclear(res);
	if (admin_sql(a, NULL,
		"UPDATE passes SET revoked_at = now(), revoked_reason = $2, awaiting_start = false, list_xid = " STAMP
		" WHERE id = $1",
		2, p) != 0)
		return admin_db_fail(a, "could not revoke pass %s", id.s);
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
	struct admin_num veh = admin_num(r->vehicle);
	char lim[16];
	PGresult *res;

	snprintf(lim, sizeof(lim), "%d", PASS_LIST_MAX + 1);
	const char *p[2] = {r->has_vehicle ? veh.s : NULL, lim};
	if (admin_sql(a, &res,
		"SELECT " PASS_COLS " FROM passes p JOIN vehicles v ON v.id = p.vehicle_id"
		" WHERE $1::bigint IS NULL OR p.vehicle_id = $1::bigint ORDER BY p.id LIMIT $2",
		2, p) != 0)
		return admin_db_fail(a, "could not list the passes");
	int n = PQntuples(res) > PASS_LIST_MAX ? PASS_LIST_MAX : PQntuples(res);
	int rc = print_passes(a, res, n);
	if (PQntuples(res) > PASS_LIST_MAX)
		admin_fail("note: the list stops at %d rows", PASS_LIST_MAX);
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
	char cls[4], m1[ADMIN_MONEY_CELL], m2[ADMIN_MONEY_CELL];
	struct admin_num thr = admin_num(r->threshold);
	PGresult *res;
	struct admin_table *t;
	uint64_t counts[3];
	int rc;

	snprintf(cls, sizeof(cls), "%u", r->vclass);
	const char *p[2] = {cls, thr.s};
	if (admin_sql(a, NULL, "LOCK TABLE class_thresholds IN EXCLUSIVE MODE", 0, NULL) != 0)
		return admin_db_fail(a, "could not lock the class thresholds");
	if (admin_sql(a, &res,
		"UPDATE class_thresholds c SET low_threshold_vnd = $2, updated_at = now()"
		" FROM class_thresholds o WHERE c.vclass = $1 AND o.vclass = c.vclass RETURNING o.low_threshold_vnd",
		2, p) != 0)
		return admin_db_fail(a, "could not set the threshold of class %s", cls);
	if (PQntuples(res) != 1) {
		PQclear(res);
		admin_fail("no threshold row for class %s (central/sql/004_passes.sql makes them)", cls);
		return 1;
	}
	if (rethreshold(a, "SELECT w.account_id FROM vehicles w WHERE w.vclass = $1::smallint", cls, counts) != 0) {
		PQclear(res);
		return 1;
	}
	struct admin_num n0 = admin_num(counts[0]), n1 = admin_num(counts[1]), n2 = admin_num(counts[2]);
	if (admin_out_new(6, names, "rrrrrr", &t) != 0) {
		PQclear(res);
		return 1;
	}
	const char *cells[6] = {cls, admin_money_text(a, thr.s, m1, 0), admin_money_text(a, admin_val(res, 0, 0), m2, 0), n0.s, n1.s, n2.s};
	rc = admin_out_add(t, cells);
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
	char m[ADMIN_MONEY_CELL];
	PGresult *res;
	struct admin_table *t;
	int rc = 0;

	(void)r;
	if (admin_sql(a, &res, "SELECT vclass, low_threshold_vnd, " TS("updated_at") " FROM class_thresholds ORDER BY vclass",
		0, NULL) != 0)
		return admin_db_fail(a, "could not read the class thresholds");
	if (admin_out_new(3, names, "rrl", &t) != 0) {
		PQclear(res);
		return 1;
	}
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		const char *cells[3] = {admin_val(res, i, 0), admin_money_text(a, admin_val(res, i, 1), m, 0), admin_val(res, i, 2)};
		rc = admin_out_add(t, cells);
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
	struct admin_num ver = admin_num(r->tariff_version), len = admin_num(r->body_len);
	uint8_t h[32];
	char sha[2 * 32 + 3];
	PGresult *res;
	struct admin_table *t;
	int rc;

	toll_sha256(r->body, r->body_len, h);
	cdb_bytea_hex(h, sizeof(h), sha);
	const char *p[3] = {ver.s, r->body, sha};
	if (admin_sql(a, &res,
		"INSERT INTO tariffs (version, body, sha256) VALUES ($1, $2, $3::bytea)"
		" ON CONFLICT (version) DO NOTHING RETURNING " TS("loaded_at"),
		3, p) != 0)
		return admin_db_fail(a, "could not load tariff version %s", ver.s);
	int added = PQntuples(res) == 1;
	const char *result = "loaded";
	if (!added) {
		PQclear(res);
		if (admin_sql(a, &res,
			"SELECT body = $2 AND sha256 = $3::bytea, encode(sha256, 'hex'), " TS("loaded_at")
			" FROM tariffs WHERE version = $1",
			3, p) != 0)
			return admin_db_fail(a, "could not read tariff version %s", ver.s);
		if (PQntuples(res) != 1 || strcmp(admin_val(res, 0, 0), "t") != 0) {
			admin_fail("tariff version %s is already loaded with another body (sha256 %s, loaded at %s): "
			     "a changed tariff needs a new version",
			     ver.s, PQntuples(res) == 1 ? admin_val(res, 0, 1) : "?", PQntuples(res) == 1 ? admin_val(res, 0, 2) : "?");
			PQclear(res);
			return 1;
		}
		result = "already loaded";
	}
	if (admin_out_new(5, names, "rlrll", &t) != 0) {
		PQclear(res);
		return 1;
	}
	const char *cells[5] = {ver.s, sha + 2, len.s, result, admin_val(res, 0, added ? 0 : 2)};
	rc = admin_out_add(t, cells);
	if (rc == 0)
		admin_table_print(t, a->csv, a->out);
	admin_table_free(t);
	PQclear(res);
	return rc;
}

/* ---- the command line -------------------------------------------------- */

#define RECON_DIRS_MAX 1024 /* reconcile lanes: journal directories in one run */

static const struct command commands[] = {
	{"account add", "ID [--name TEXT] [--low-threshold VND] [--kind customer|revenue|partner|suspense]", 1, 0,
	 {"--name=", "--low-threshold=", "--kind="}, parse_account_add, run_account_add, 0, 0},
	{"account show", "ID", 1, 0, {NULL}, parse_account_id, run_account_show, 1, 0},
	{"account statement", "ID [--limit N] [--from DAY] [--to DAY]", 1, 0, {"--limit=", "--from=", "--to="},
	 admin_parse_statement, admin_run_statement, 1, 0},
	{"account block", "ID REASON", 2, 0, {NULL}, parse_account_block, run_account_block, 0, 0},
	{"account unblock", "ID", 1, 0, {NULL}, parse_account_id, run_account_unblock, 0, 0},
	{"vehicle add", "ACCOUNT CLASS PLATE", 3, 0, {NULL}, parse_vehicle_add, run_vehicle_add, 0, 0},
	{"tag add", "EPC_HEX VEHICLE_ID [--tid HEX24] [--exempt]", 2, 0, {"--tid=", "--exempt"}, parse_tag_add,
	 run_tag_add, 0, 0},
	{"tag block", "EPC_HEX REASON", 2, 0, {NULL}, parse_tag_block, run_tag_block, 0, 0},
	{"tag unblock", "EPC_HEX", 1, 0, {NULL}, parse_tag_unblock, run_tag_unblock, 0, 0},
	{"station add", "ID --role open|entry|exit [--name TEXT] [--network N]", 1, 0,
	 {"--role=", "--name=", "--network="}, parse_station_add, run_station_add, 0, 0},
	{"lane add", "STATION LANE [--free-flow]", 2, 0, {"--free-flow"}, parse_lane_add, run_lane_add, 0, 0},
	{"lane key add", "STATION LANE PUBKEY_HEX [--valid-from TIME] [--valid-to TIME]", 3, 0,
	 {"--valid-from=", "--valid-to="}, parse_lane_key_add, run_lane_key_add, 0, 0},
	{"lane key revoke", "STATION LANE KEYID_HEX [--reason TEXT]", 3, 0, {"--reason="}, parse_lane_key_revoke,
	 run_lane_key_revoke, 0, 0},
	{"lane list", "", 0, 0, {NULL}, parse_none, run_lane_list, 1, 0},
	{"pass add", "VEHICLE_ID STATION --kind monthly|quarterly --from DAY [--to DAY]", 2, 0,
	 {"--kind=", "--from=", "--to="}, parse_pass_add, run_pass_add, 0, 0},
	{"pass revoke", "PASS_ID [--reason TEXT]", 1, 0, {"--reason="}, parse_pass_revoke, run_pass_revoke, 0, 0},
	{"pass list", "[--vehicle VEHICLE_ID]", 0, 0, {"--vehicle="}, parse_pass_list, run_pass_list, 1, 0},
	{"threshold set", "CLASS VND", 2, 0, {NULL}, parse_threshold_set, run_threshold_set, 0, 0},
	{"threshold list", "", 0, 0, {NULL}, parse_none, run_threshold_list, 1, 0},
	{"tariff load", "FILE", 1, 0, {NULL}, parse_tariff_load, run_tariff_load, 0, 0},
	{"partner add", "ID ACCOUNT_ID [--name TEXT] [--min VND] [--max VND]", 2, 0, {"--name=", "--min=", "--max="},
	 admin_parse_partner_add, admin_run_partner_add, 0, 0},
	{"partner list", "", 0, 0, {NULL}, parse_none, admin_run_partner_list, 1, 0},
	{"partner deactivate", "ID", 1, 0, {NULL}, admin_parse_partner_id, admin_run_partner_deactivate, 0, 0},
	{"partner activate", "ID", 1, 0, {NULL}, admin_parse_partner_id, admin_run_partner_activate, 0, 0},
	{"partner file", "PARTNER DAY [--tz ZONE]", 2, 0, {"--tz="}, admin_parse_partner_file,
	 admin_run_partner_file, 1, 0},
	{"partner reconcile", "PARTNER DAY FILE [--tz ZONE]", 3, 0, {"--tz="}, admin_parse_partner_reconcile,
	 admin_run_partner_reconcile, 1, 0},
	{"reconcile lanes", "DAY [JOURNAL_DIR...] [--station ID] [--tz ZONE]", 1, 1 + RECON_DIRS_MAX,
	 {"--station=", "--tz="}, admin_parse_reconcile_lanes, admin_run_reconcile_lanes, 1, 0},
	{"correct", "TXN_ID --reason wrong-class|disputed|exit-without-entry|other --amount VND [--charge]"
		    " [--note TEXT] [--again]", 1, 0, {"--reason=", "--amount=", "--note=", "--charge", "--again"},
	 admin_parse_correct, admin_run_correct, 0, 0},
	{"export", "WHAT [--from DAY] [--to DAY]", 1, 0, {"--from=", "--to="}, admin_parse_export, admin_run_export,
	 1, 1},
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
		"kind balance); --from and --to (days, both included) show those days'\n"
		"entries between the opening and the closing balance.\n"
		"\n"
		"Days: DAY is YYYY-MM-DD in station time (Asia/Ho_Chi_Minh, +07:00) unless\n"
		"--tz names another zone.\n"
		"\n"
		"Passes: a pass is valid from --from to its last day, both included: by\n"
		"default the day before the same day one month (monthly) or three (quarterly)\n"
		"on, or the end of that month when it has no such day; --to may end it\n"
		"earlier.  Passes are for open stations; they are revoked, never deleted.  The\n"
		"lanes' list holds one pass a vehicle (the current one ending last: pass list\n"
		"shows it as in_lanes); a pass that has not begun reaches the lanes on its\n"
		"first day.\n"
		"\n"
		"Low-balance thresholds: an account is low below the greater of its own\n"
		"threshold (account add --low-threshold) and its vehicles' classes' (threshold\n"
		"list).  vehicle add and threshold set work it out again, with the status the\n"
		"lanes see.\n"
		"\n"
		"Partners (docs/partner-api.md): partner add makes the partner's secret and\n"
		"shows it once; its ledger account (kind partner) is made when missing.\n"
		"partner file prints the day's file of a partner's top-ups and reversals\n"
		"(docs/partner-file.md); partner reconcile compares the partner's own file\n"
		"with the ledger and prints every difference.\n"
		"\n"
		"Reconciliation (docs/reconciliation.md): reconcile lanes compares the lanes'\n"
		"journals (toll-lane's STATE/lane-ID/journal, or a STATE directory: every\n"
		"lane-*/journal in it) with central's records of the day: counts and fees per\n"
		"outcome, records missing on either side, quarantined, open gaps, the posting\n"
		"disposition of every record.  correct posts a refund (or, --charge, an extra\n"
		"charge for a wrong class) of a posted toll as a new ledger entry that refers\n"
		"to it, with its reason; never more back than is left of the toll.\n"
		"\n"
		"export WHAT prints CSV (PostgreSQL's COPY: a header line, LF line ends, times\n"
		"in station time) of transactions, ledger, topups, corrections, quarantine,\n"
		"gaps, daily-lane, dispositions, station-revenue, partner-daily or\n"
		"account-balance: the views of docs/reporting.md, which the reporting role\n"
		"toll_report reads (--role toll_report works).\n"
		"\n"
		"Exit status: 0 done (reconciliations: no difference), 1 refused or failed\n"
		"(the reason on stderr) or a difference found, 2 bad arguments.\n");
}

static int
bad_args(const struct command *c, const char *msg)
{
	admin_fail("%s", msg);
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
 * come here too.  pos has room for argc entries. */
static int
split_args(const struct command *c, int argc, char **argv, char **pos, int *npos_out, char **opt, int *csv,
	   char *err, size_t errlen)
{
	int npos = 0, options = 1;
	int max = c->npos_max > c->npos ? c->npos_max : c->npos;

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
			if (npos == max)
				return toll_errf(err, errlen, 2, "unexpected argument '%.100s'", s);
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
	if (npos < c->npos || npos > max) {
		if (max == c->npos)
			return toll_errf(err, errlen, 2, "%s wants %d argument%s, not %d", c->words, c->npos,
					 c->npos == 1 ? "" : "s", npos);
		return toll_errf(err, errlen, 2, "%s wants %d to %d arguments, not %d", c->words, c->npos, max,
				 npos);
	}
	*npos_out = npos;
	return 0;
}

int
main(int argc, char **argv)
{
	static struct req r;
	struct admin a;
	const char *conninfo = "", *role = DEFAULT_ROLE;
	const struct command *c;
	char **pos, *opt[OPTS_MAX] = {NULL};
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
	if ((pos = calloc((size_t)argc + 1, sizeof(*pos))) == NULL) {
		admin_fail("out of memory");
		return 1;
	}
	if (split_args(c, argc - i - nwords, argv + i + nwords, pos, &r.npos, opt, &a.csv, err, sizeof(err)) != 0) {
		free(pos);
		return bad_args(c, err);
	}
	rc = c->parse(&r, pos, opt, err, sizeof(err));
	if (rc == 2) {
		free(pos);
		free(r.body);
		return bad_args(c, err);
	}
	if (rc != 0) {
		admin_fail("%s", err);
		free(pos);
		free(r.body);
		return 1;
	}

	/* bounded waits: connecting, locks, statements */
	setenv("PGCONNECT_TIMEOUT", "10", 0);
	rc = cdb_connect(conninfo, role, &a.db, a.err, sizeof(a.err));
	if (rc != 0) {
		admin_tidy_err(a.err);
		if (rc == TOLL_EAGAIN)
			admin_fail("%s", a.err);
		else
			admin_fail("could not start the session as role '%s': %s", role, a.err);
		free(pos);
		free(r.body);
		return 1;
	}
	/* a command that streams (an export of any size) writes to stdout
	 * as it reads; the others' output waits for the commit */
	a.out = c->streams ? stdout : open_memstream(&text, &text_len);
	if (a.out == NULL) {
		admin_fail("out of memory");
		cdb_close(a.db);
		free(pos);
		free(r.body);
		return 1;
	}
	rc = 1;
	if (cdb_exec(a.db, "SET lock_timeout = '10s'", a.err, sizeof(a.err)) != 0 ||
	    cdb_exec(a.db, "SET statement_timeout = '120s'", a.err, sizeof(a.err)) != 0 ||
	    cdb_exec(a.db,
		     c->read_only ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN", a.err,
		     sizeof(a.err)) != 0) {
		admin_tidy_err(a.err);
		admin_fail("could not begin a transaction: %s", a.err);
	} else if (c->run(&a, &r) != 0) {
		if (!cdb_broken(a.db))
			cdb_exec(a.db, "ROLLBACK", NULL, 0);
	} else if (cdb_exec(a.db, "COMMIT", a.err, sizeof(a.err)) != 0) {
		admin_tidy_err(a.err);
		admin_fail("could not commit: %s", a.err);
	} else {
		rc = 0;
	}
	if (!c->streams) {
		fclose(a.out);
		/* what changed is shown only once it is committed; what was
		 * read, always */
		if (rc == 0 || c->read_only)
			fwrite(text, 1, text_len, stdout);
		/* it may hold a secret (partner add) */
		explicit_bzero(text, text_len);
	}
	if (fflush(stdout) != 0 && rc == 0) {
		admin_fail("could not write the output: %s", strerror(errno));
		rc = 1;
	}
	free(text);
	cdb_close(a.db);
	free(pos);
	free(r.body);
	return rc;
}
