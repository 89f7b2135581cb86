/* admin.h: toll-admin's insides, shared by its command files (admin_main:
 * the command line and the registry; admin_partner: partners and their
 * daily files; admin_ledger: corrections, statements, exports;
 * admin_recon: the lanes' journals against central).  Not a library:
 * nothing but toll-admin includes it.
 *
 * A command parses its arguments into struct req before any database is
 * reached (exit 2 with its usage on a bad one), then runs in one database
 * transaction (struct admin); what it prints goes to a->out, shown once the
 * transaction has committed (read-only commands: always). */
#ifndef CENTRAL_ADMIN_H
#define CENTRAL_ADMIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "admin_input.h"
#include "admin_table.h"
#include "cdb.h"

#define ADMIN_CUSTOMER_ID_MAX 4294967295ULL /* the lane keeps 32 bits of a customer id */
#define ADMIN_ID_MAX 9223372036854775807ULL  /* bigint */
#define ADMIN_INT_ID_MAX 2147483647ULL	     /* integer: station and network ids */
#define ADMIN_LANE_ID_MAX 65535ULL
#define ADMIN_MONEY_CELL (ADMIN_MONEY_LEN + 1) /* with a sign */
#define ADMIN_ZONE_DEFAULT "Asia/Ho_Chi_Minh"  /* the stations' calendar */
#define ADMIN_UUID_LEN 36

/* UTC, to the second, whatever the session's TimeZone */
#define TS(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

struct admin {
	struct cdb *db;
	int csv;
	FILE *out; /* what the command prints */
	char err[1024];
};

/* One command's arguments, checked. */
struct req {
	uint64_t account, vehicle, station, lane, network, limit, threshold;
	unsigned vclass, reason;
	int has_network, has_tid, exempt, free_flow;
	const char *kind, *name, *plate, *role, *file, *note, *valid_from, *valid_to;
	/* YYYY-MM-DD, checked against the calendar; "" when not given */
	char from_day[11], to_day[11], day[11];
	uint64_t pass;
	int has_vehicle, has_station;
	char epc[ADMIN_EPC_HEX_MAX + 1], tid[ADMIN_TID_HEX + 1], keyid[ADMIN_KEYID_HEX + 1];
	uint8_t pub[32];
	/* tariff load: the file, read and checked before connecting */
	char *body;
	size_t body_len;
	uint64_t tariff_version;
	/* partners */
	const char *partner;
	uint64_t min_vnd, max_vnd;
	int has_min, has_max;
	/* a time zone name for days (checked by the database) */
	const char *zone;
	/* reconcile lanes: journal directories */
	char **dirs;
	int ndirs;
	/* correct */
	char txn[ADMIN_UUID_LEN + 1];
	const char *reason_code;
	uint64_t amount;
	int charge, again;
	/* export */
	const char *what;
	/* how many positional arguments were given */
	int npos;
};

/* A command's parse: 0, or the exit status (2: bad arguments, 1:
 * refused) with err set.  pos holds the positional arguments (r->npos of
 * them, NULL after), opt one slot per option (NULL when absent). */
typedef int admin_parse_fn(struct req *r, char **pos, char **opt, char *err, size_t errlen);
typedef int admin_run_fn(struct admin *a, const struct req *r);

/* ---- the session (admin_db.c) ----------------------------------------- */

void admin_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A statement with text parameters; *res (may be NULL) for the caller to
 * PQclear.  On failure a->err holds the reason. */
int admin_sql(struct admin *a, PGresult **res, const char *query, int n, const char *const *params);
/* "toll-admin: could not ...: the database's reason"; returns 1 */
int admin_db_fail(struct admin *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* libpq's message on one line, without "ERROR:  " */
void admin_tidy_err(char *s);
const char *admin_val(const PGresult *res, int row, int col); /* "" for NULL */

struct admin_num {
	char s[24];
};
struct admin_num admin_num(uint64_t v);
/* Money from the database's text, for people or CSV (text that is not an
 * int64 is shown as it is); sign: a "+" before a positive amount for
 * people. */
const char *admin_money_text(const struct admin *a, const char *text, char buf[ADMIN_MONEY_CELL], int sign);
/* admin_table_new / admin_table_add with the message on failure: 0 or 1 */
int admin_out_new(unsigned ncols, const char *const *names, const char *align, struct admin_table **t);
int admin_out_add(struct admin_table *t, const char *const *cells);
/* 1 (and a message) unless the database knows the time zone */
int admin_check_zone(struct admin *a, const char *zone);

/* ---- the commands of the other files ------------------------------------ */

/* admin_partner.c */
admin_parse_fn admin_parse_partner_add, admin_parse_partner_id, admin_parse_partner_file,
	admin_parse_partner_reconcile;
admin_run_fn admin_run_partner_add, admin_run_partner_list, admin_run_partner_deactivate,
	admin_run_partner_activate, admin_run_partner_file, admin_run_partner_reconcile;
/* admin_ledger.c */
admin_parse_fn admin_parse_statement, admin_parse_correct, admin_parse_export;
admin_run_fn admin_run_statement, admin_run_correct, admin_run_export;
/* admin_recon.c */
admin_parse_fn admin_parse_reconcile_lanes;
admin_run_fn admin_run_reconcile_lanes;

#endif
