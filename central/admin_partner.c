/* admin_partner.c: toll-admin's partner commands (admin.h).
 *
 *   partner add ID ACCOUNT_ID [--name TEXT] [--min VND] [--max VND]
 *   partner list | partner deactivate ID | partner activate ID
 *   partner file PARTNER DAY [--tz ZONE]
 *   partner reconcile PARTNER DAY FILE [--tz ZONE]
 *
 * A partner's secret is made here (32 random bytes), stored, shown once
 * and wiped; nothing prints it again.  The day's file and its format:
 * docs/partner-file.md, central/partner_file.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "crypto.h"
#include "err.h"
#include "partner_file.h"

#define SECRET_BYTES 32
#define PARTNER_ID_MAX 32
#define PARTNER_AMOUNT_MAX 1000000000000ULL /* 10^12 VND: a bound on any one top-up */
#define PARTNER_MIN_DEFAULT 10000	    /* partners.min_amount_vnd's default */
#define PARTNER_MAX_DEFAULT 50000000	    /* partners.max_amount_vnd's default */
#define MISSING_LOOKUPS_MAX 1000	    /* "at central on another day" looked up for at most these */

/* ^[a-z0-9][a-z0-9-]{0,31}$, as partners.id */
static int
parse_partner(const char *s, char *err, size_t errlen)
{
	size_t n = strlen(s);
	int ok = n >= 1 && n <= PARTNER_ID_MAX && s[0] != '-';

	for (size_t i = 0; ok && i < n; i++)
		ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-';
	if (!ok)
		return toll_errf(err, errlen, TOLL_EINVAL,
				 "partner id '%.40s': want 1-32 of a-z 0-9 and -, not starting with -", s);
	return 0;
}

static int
parse_zone(struct req *r, const char *opt, char *err, size_t errlen)
{
	r->zone = opt != NULL ? opt : ADMIN_ZONE_DEFAULT;
	return admin_check_zone_name("--tz", r->zone, err, errlen) != 0 ? 2 : 0;
}

/* ---- partner add, list, deactivate, activate ------------------------------ */

int
admin_parse_partner_add(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	if (parse_partner(pos[0], err, errlen) != 0 ||
	    admin_parse_u64("account id", pos[1], 1, ADMIN_ID_MAX, &r->account, err, errlen) != 0)
		return 2;
	r->partner = pos[0];
	r->name = opt[0] != NULL ? opt[0] : "";
	if (admin_check_text("--name", r->name, ADMIN_TEXT_MAX, 1, err, errlen) != 0)
		return 2;
	r->min_vnd = PARTNER_MIN_DEFAULT;
	r->max_vnd = PARTNER_MAX_DEFAULT;
	if ((opt[1] != NULL && admin_parse_u64("--min", opt[1], 1, PARTNER_AMOUNT_MAX, &r->min_vnd, err, errlen) != 0) ||
	    (opt[2] != NULL && admin_parse_u64("--max", opt[2], 1, PARTNER_AMOUNT_MAX, &r->max_vnd, err, errlen) != 0))
		return 2;
	if (r->max_vnd < r->min_vnd) {
		toll_errf(err, errlen, 2, "--max %" PRIu64 " is below --min %" PRIu64 "%s", r->max_vnd, r->min_vnd,
			  opt[1] == NULL || opt[2] == NULL ? " (the defaults: --min 10000, --max 50000000)" : "");
		return 2;
	}
	return 0;
}

int
admin_parse_partner_id(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	(void)opt;
	if (parse_partner(pos[0], err, errlen) != 0)
		return 2;
	r->partner = pos[0];
	return 0;
}

#define PARTNER_COLS                                                                                  \
	"p.id, p.name, p.account_id, a.balance_vnd, p.min_amount_vnd, p.max_amount_vnd, p.active, " \
	TS("p.created_at")
#define PARTNER_NCOLS 8

static int
print_partners(struct admin *a, PGresult *res, const char *secret_hex)
{
	static const char *const names[PARTNER_NCOLS + 1] = {"id",	   "name",   "account_id", "balance_vnd",
							     "min_amount_vnd", "max_amount_vnd", "active", "created_at",
							     "secret"};
	struct admin_table *t;
	char m[3][ADMIN_MONEY_CELL];
	int rc = 0;
	unsigned n = secret_hex != NULL ? PARTNER_NCOLS + 1 : PARTNER_NCOLS;

	if (admin_out_new(n, names, secret_hex != NULL ? "llrrrrlll" : "llrrrrll", &t) != 0)
		return 1;
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		const char *cells[PARTNER_NCOLS + 1] = {admin_val(res, i, 0),
							admin_val(res, i, 1),
							admin_val(res, i, 2),
							admin_money_text(a, admin_val(res, i, 3), m[0], 0),
							admin_money_text(a, admin_val(res, i, 4), m[1], 0),
							admin_money_text(a, admin_val(res, i, 5), m[2], 0),
							strcmp(admin_val(res, i, 6), "t") == 0 ? "yes" : "no",
							admin_val(res, i, 7),
							secret_hex};
		rc = admin_out_add(t, cells);
	}
	if (rc == 0)
		admin_table_print(t, a->csv, a->out);
	admin_table_free(t);
	return rc;
}

/* The partner, its ledger account (kind partner; made when missing, named
 * after the partner) and its secret, shown this once. */
int
admin_run_partner_add(struct admin *a, const struct req *r)
{
	struct admin_num acc = admin_num(r->account), mn = admin_num(r->min_vnd), mx = admin_num(r->max_vnd);
	uint8_t secret[SECRET_BYTES];
	char secret_hex[2 * SECRET_BYTES + 1], secret_lit[2 * SECRET_BYTES + 3];
	char acc_name[ADMIN_TEXT_MAX + 64];
	PGresult *res;
	int rc = 1;

	const char *pp[1] = {r->partner};
	if (admin_sql(a, &res, "SELECT 1 FROM partners WHERE id = $1", 1, pp) != 0)
		return admin_db_fail(a, "could not read partner %s", r->partner);
	int exists = PQntuples(res) == 1;
	PQclear(res);
	if (exists) {
		admin_fail("partner %s already exists", r->partner);
		return 1;
	}
	const char *pa[1] = {acc.s};
	if (admin_sql(a, &res,
		      "SELECT a.kind, (SELECT p.id FROM partners p WHERE p.account_id = a.id) FROM accounts a"
		      " WHERE a.id = $1 FOR UPDATE OF a",
		      1, pa) != 0)
		return admin_db_fail(a, "could not read account %s", acc.s);
	if (PQntuples(res) == 1) {
		if (strcmp(admin_val(res, 0, 0), "partner") != 0) {
			admin_fail("account %s is a %s account: a partner's account is of kind partner", acc.s,
				   admin_val(res, 0, 0));
			PQclear(res);
			return 1;
		}
		if (!PQgetisnull(res, 0, 1)) {
			admin_fail("account %s is partner %s's account already", acc.s, admin_val(res, 0, 1));
			PQclear(res);
			return 1;
		}
		PQclear(res);
	} else {
		PQclear(res);
		snprintf(acc_name, sizeof(acc_name), "partner %s%s%s", r->partner, r->name[0] ? ": " : "", r->name);
		const char *pn[2] = {acc.s, acc_name};
		if (admin_sql(a, NULL,
			      "INSERT INTO accounts (id, kind, name, low_threshold_vnd, list_xid)"
			      " VALUES ($1, 'partner', $2, 0, pg_current_xact_id()::text::bigint)",
			      2, pn) != 0)
			return admin_db_fail(a, "could not add the partner's account %s", acc.s);
		admin_fail("note: account %s (kind partner) made for partner %s", acc.s, r->partner);
	}
	if (toll_random_bytes(secret, sizeof(secret)) != 0) {
		admin_fail("could not make a secret: no randomness");
		return 1;
	}
	toll_hex_encode(secret, sizeof(secret), secret_hex);
	cdb_bytea_hex(secret, sizeof(secret), secret_lit);
	const char *p[6] = {r->partner, r->name, secret_lit, acc.s, mn.s, mx.s};
	if (admin_sql(a, &res,
		      "WITH p AS (INSERT INTO partners (id, name, secret, account_id, min_amount_vnd, max_amount_vnd)"
		      " VALUES ($1, $2, $3::bytea, $4, $5, $6) RETURNING *)"
		      " SELECT " PARTNER_COLS " FROM p JOIN accounts a ON a.id = p.account_id",
		      6, p) != 0) {
		admin_db_fail(a, "could not add partner %s", r->partner);
		goto out;
	}
	rc = print_partners(a, res, secret_hex);
	PQclear(res);
	if (rc == 0)
		admin_fail("note: partner %s's secret is shown this once: give it to the partner by a safe way,"
			   " never by e-mail; central keeps it, and nothing prints it again (a lost secret: "
			   "deactivate the partner and add it again under a new id)",
			   r->partner);
out:
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(secret_hex, sizeof(secret_hex));
	explicit_bzero(secret_lit, sizeof(secret_lit));
	return rc;
}

int
admin_run_partner_list(struct admin *a, const struct req *r)
{
	PGresult *res;
	int rc;

	(void)r;
	if (admin_sql(a, &res, "SELECT " PARTNER_COLS " FROM partners p JOIN accounts a ON a.id = p.account_id ORDER BY p.id",
		      0, NULL) != 0)
		return admin_db_fail(a, "could not list the partners");
	rc = print_partners(a, res, NULL);
	PQclear(res);
	return rc;
}

static int
set_active(struct admin *a, const char *id, int active)
{
	const char *p[2] = {id, active ? "true" : "false"};
	PGresult *res;
	int rc;

	if (admin_sql(a, &res, "SELECT active FROM partners WHERE id = $1 FOR UPDATE", 1, p) != 0)
		return admin_db_fail(a, "could not read partner %s", id);
	if (PQntuples(res) != 1) {
		PQclear(res);
		admin_fail("no partner %s", id);
		return 1;
	}
	int same = strcmp(admin_val(res, 0, 0), active ? "t" : "f") == 0;
	PQclear(res);
	if (same)
		admin_fail("note: partner %s is %s already: nothing changed", id, active ? "active" : "inactive");
	else if (admin_sql(a, NULL, "UPDATE partners SET active = $2::boolean WHERE id = $1", 2, p) != 0)
		return admin_db_fail(a, "could not %s partner %s", active ? "activate" : "deactivate", id);
	if (admin_sql(a, &res, "SELECT " PARTNER_COLS " FROM partners p JOIN accounts a ON a.id = p.account_id"
			       " WHERE p.id = $1",
		      1, p) != 0)
		return admin_db_fail(a, "could not read partner %s", id);
	rc = print_partners(a, res, NULL);
	PQclear(res);
	if (rc == 0 && !same && !active)
		admin_fail("note: central refuses partner %s's requests once it reloads its partners"
			   " (api.partners_refresh, 5 s by default)",
			   id);
	return rc;
}

int
admin_run_partner_deactivate(struct admin *a, const struct req *r)
{
	return set_active(a, r->partner, 0);
}

int
admin_run_partner_activate(struct admin *a, const struct req *r)
{
	return set_active(a, r->partner, 1);
}

/* ---- the day's rows at central -------------------------------------------- */

int
admin_parse_partner_file(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	if (parse_partner(pos[0], err, errlen) != 0 || admin_parse_day("day", pos[1], r->day, err, errlen) != 0)
		return 2;
	r->partner = pos[0];
	return parse_zone(r, opt[0], err, errlen);
}

/* The partner exists, the zone is known, and the session's TimeZone is
 * the zone for this transaction: days and times below are in it. */
static int
partner_day_setup(struct admin *a, const struct req *r)
{
	const char *p[1] = {r->partner};
	PGresult *res;

	if (admin_check_zone(a, r->zone) != 0)
		return 1;
	if (admin_sql(a, &res, "SELECT 1 FROM partners WHERE id = $1", 1, p) != 0)
		return admin_db_fail(a, "could not read partner %s", r->partner);
	int found = PQntuples(res) == 1;
	PQclear(res);
	if (!found) {
		admin_fail("no partner %s", r->partner);
		return 1;
	}
	const char *z[1] = {r->zone};
	if (admin_sql(a, NULL, "SELECT set_config('TimeZone', $1, true)", 1, z) != 0)
		return admin_db_fail(a, "could not set the time zone %s", r->zone);
	return 0;
}

/* The partner's top-ups and reversals of the day, oldest first: created_at
 * (in the zone, to the ms, with its offset), kind, partner_ref, account,
 * amount, topup id. */
static int
partner_day_rows(struct admin *a, const struct req *r, PGresult **res)
{
	char lim[24];
	snprintf(lim, sizeof(lim), "%d", PF_ROWS_MAX + 1);
	const char *p[3] = {r->partner, r->day, lim};

	if (admin_sql(a, res,
		      "SELECT to_char(created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.MSTZH:TZM'), kind, partner_ref, account_id,"
		      " amount_vnd, id FROM topups WHERE partner_id = $1"
		      " AND created_at >= $2::date::timestamptz AND created_at < ($2::date + 1)::timestamptz"
		      " ORDER BY created_at, id LIMIT $3",
		      3, p) != 0)
		return admin_db_fail(a, "could not read partner %s's top-ups of %s", r->partner, r->day);
	if (PQntuples(*res) > PF_ROWS_MAX) {
		PQclear(*res);
		*res = NULL;
		admin_fail("partner %s has more than %d top-ups and reversals on %s: beyond a file's bound", r->partner,
			   PF_ROWS_MAX, r->day);
		return 1;
	}
	return 0;
}

static void
put_line(FILE *out, const char *const *fields)
{
	char line[PF_LINE_MAX];

	if (pf_csv_line(fields, PF_FIELDS, line, sizeof(line)) == 0)
		fprintf(out, "%s\r\n", line);
}

int
admin_run_partner_file(struct admin *a, const struct req *r)
{
	PGresult *res;
	struct toll_sha256_ctx *h;
	char line[PF_LINE_MAX], sha[65], count[24], total[24];
	uint8_t d[32];
	int64_t sum = 0;

	if (partner_day_setup(a, r) != 0 || partner_day_rows(a, r, &res) != 0)
		return 1;
	if (toll_sha256_begin(&h) != 0) {
		PQclear(res);
		admin_fail("out of memory");
		return 1;
	}
	fputs(PF_COLUMNS "\r\n", a->out);
	const char *hdr[PF_FIELDS] = {"H", PF_FORMAT, "1", r->partner, r->day, r->zone, ""};
	put_line(a->out, hdr);
	for (int i = 0; i < PQntuples(res); i++) {
		const char *f[PF_FIELDS] = {"D",
					    admin_val(res, i, 0),
					    admin_val(res, i, 1),
					    admin_val(res, i, 2),
					    admin_val(res, i, 3),
					    admin_val(res, i, 4),
					    admin_val(res, i, 5)};
		int64_t amt = strtoll(f[5], NULL, 10);
		sum += strcmp(f[2], "reversal") == 0 ? -amt : amt;
		if (pf_csv_line(f, PF_FIELDS, line, sizeof(line)) != 0) {
			toll_sha256_end(h, d);
			PQclear(res);
			admin_fail("top-up %s: a field too long for the file", f[6]);
			return 1;
		}
		fprintf(a->out, "%s\r\n", line);
		toll_sha256_update(h, line, strlen(line));
		toll_sha256_update(h, "\r\n", 2);
	}
	toll_sha256_end(h, d);
	toll_hex_encode(d, sizeof(d), sha);
	snprintf(count, sizeof(count), "%d", PQntuples(res));
	snprintf(total, sizeof(total), "%" PRId64, sum);
	const char *trl[PF_FIELDS] = {"T", count, total, sha, "", "", ""};
	put_line(a->out, trl);
	PQclear(res);
	return 0;
}

/* ---- reconcile ------------------------------------------------------------ */

int
admin_parse_partner_reconcile(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	FILE *f;
	size_t got;

	if (parse_partner(pos[0], err, errlen) != 0 || admin_parse_day("day", pos[1], r->day, err, errlen) != 0)
		return 2;
	r->partner = pos[0];
	if (parse_zone(r, opt[0], err, errlen) != 0)
		return 2;
	r->file = pos[2];
	if ((f = fopen(r->file, "rb")) == NULL) {
		toll_errf(err, errlen, TOLL_ESYS, "could not open %s: %s", r->file, strerror(errno));
		return 1;
	}
	if ((r->body = malloc((size_t)PF_FILE_MAX + 2)) == NULL) {
		fclose(f);
		toll_errf(err, errlen, TOLL_ENOMEM, "out of memory");
		return 1;
	}
	while (r->body_len <= PF_FILE_MAX &&
	       (got = fread(r->body + r->body_len, 1, (size_t)PF_FILE_MAX + 1 - r->body_len, f)) > 0)
		r->body_len += got;
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		toll_errf(err, errlen, TOLL_ESYS, "could not read %s", r->file);
		return 1;
	}
	if (r->body_len > PF_FILE_MAX) {
		toll_errf(err, errlen, TOLL_ERANGE, "%s: larger than %u bytes", r->file, PF_FILE_MAX);
		return 1;
	}
	return 0;
}

/* A top-up or reversal at central. */
struct crow {
	char created[40];
	int reversal;
	char ref[PF_REF_MAX + 1];
	uint64_t account_id;
	int64_t amount_vnd;
	uint64_t id;
	int used;
};

struct diff {
	const char *what;
	unsigned line; /* 0: not a line of the file */
	int order;     /* output order: 0 header, 1 lines, 2 trailer, 3 central's rows */
	const char *kind;
	const char *ref;
	char file_account[24], file_amount[24], central_account[24], central_amount[24], topup_id[24];
	char detail[200];
};

struct recon {
	struct diff *d;
	size_t n, cap;
};

static struct diff *
add_diff(struct recon *x, const char *what, unsigned line, int order)
{
	if (x->n == x->cap) {
		size_t nc = x->cap ? x->cap * 2 : 32;
		struct diff *n = realloc(x->d, nc * sizeof(*n));
		if (n == NULL)
			return NULL;
		x->d = n;
		x->cap = nc;
	}
	struct diff *d = &x->d[x->n++];
	memset(d, 0, sizeof(*d));
	d->what = what;
	d->line = line;
	d->order = order;
	d->kind = "";
	d->ref = "";
	return d;
}

static void
u64s(char *buf, uint64_t v)
{
	snprintf(buf, 24, "%" PRIu64, v);
}

static void
i64s(char *buf, int64_t v)
{
	snprintf(buf, 24, "%" PRId64, v);
}

static int
cmp_diff(const void *x, const void *y)
{
	const struct diff *a = x, *b = y;
	if (a->order != b->order)
		return a->order < b->order ? -1 : 1;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	return 0;
}

/* central's rows sorted by (ref, kind) for look-ups */
static const struct crow *sort_rows;
static int
cmp_crow_idx(const void *x, const void *y)
{
	const struct crow *a = &sort_rows[*(const size_t *)x], *b = &sort_rows[*(const size_t *)y];
	int c = strcmp(a->ref, b->ref);
	if (c != 0)
		return c;
	return a->reversal - b->reversal;
}

/* the file's rows sorted by (ref, kind, line) */
static const struct pf_row *sort_file;
static int
cmp_frow_idx(const void *x, const void *y)
{
	const struct pf_row *a = &sort_file[*(const size_t *)x], *b = &sort_file[*(const size_t *)y];
	int c = strcmp(a->field[3], b->field[3]);
	if (c != 0)
		return c;
	if (a->reversal != b->reversal)
		return a->reversal - b->reversal;
	return a->line < b->line ? -1 : a->line > b->line;
}

/* The first index in idx (sorted) whose row has this ref, or n. */
static size_t
find_ref(const struct crow *rows, const size_t *idx, size_t n, const char *ref)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(rows[idx[mid]].ref, ref) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const char *
kind_name(int reversal)
{
	return reversal ? "reversal" : "topup";
}

/* Where central has a top-up the file has and the day has not. */
static int
elsewhere(struct admin *a, const struct req *r, const struct pf_row *row, char *out, size_t outlen)
{
	const char *p[3] = {r->partner, row->field[3], row->field[2]};
	PGresult *res;

	out[0] = 0;
	if (admin_sql(a, &res,
		      "SELECT to_char(created_at, 'YYYY-MM-DD'), id FROM topups WHERE partner_id = $1 AND partner_ref = $2"
		      " AND kind = $3 ORDER BY id LIMIT 1",
		      3, p) != 0)
		return admin_db_fail(a, "could not look %s up", row->field[3]);
	if (PQntuples(res) == 1)
		snprintf(out, outlen, "at central on %s (topup_id %s)", admin_val(res, 0, 0), admin_val(res, 0, 1));
	PQclear(res);
	return 0;
}

static void
money_people(const struct admin *a, int64_t v, char *buf)
{
	admin_money(v, a->csv, buf);
}

int
admin_run_partner_reconcile(struct admin *a, const struct req *r)
{
	static const char *const names[] = {"difference", "line", "kind", "partner_ref", "file_account",
					    "file_amount_vnd", "central_account", "central_amount_vnd", "topup_id",
					    "detail"};
	struct pf_file *f = NULL;
	struct crow *rows = NULL;
	size_t *idx = NULL, *fidx = NULL, nrows = 0;
	char *fused = NULL;
	struct recon x = {NULL, 0, 0};
	struct admin_table *t = NULL;
	PGresult *res = NULL;
	char perr[256], line[PF_LINE_MAX], sha[65];
	uint8_t dg[32];
	int rc = 1, nomem = 0;
	struct diff *d;

	int prc = pf_read(r->body, r->body_len, &f, perr, sizeof(perr));
	if (prc != 0) {
		admin_fail("%s: %s", r->file, perr);
		return 1;
	}
	if (partner_day_setup(a, r) != 0 || partner_day_rows(a, r, &res) != 0)
		goto out;
	nrows = (size_t)PQntuples(res);
	if ((rows = calloc(nrows + 1, sizeof(*rows))) == NULL || (idx = calloc(nrows + 1, sizeof(*idx))) == NULL) {
		admin_fail("out of memory");
		goto out;
	}
	for (size_t i = 0; i < nrows; i++) {
		snprintf(rows[i].created, sizeof(rows[i].created), "%s", admin_val(res, (int)i, 0));
		rows[i].reversal = strcmp(admin_val(res, (int)i, 1), "reversal") == 0;
		snprintf(rows[i].ref, sizeof(rows[i].ref), "%s", admin_val(res, (int)i, 2));
		rows[i].account_id = strtoull(admin_val(res, (int)i, 3), NULL, 10);
		rows[i].amount_vnd = strtoll(admin_val(res, (int)i, 4), NULL, 10);
		rows[i].id = strtoull(admin_val(res, (int)i, 5), NULL, 10);
		idx[i] = i;
	}
	PQclear(res);
	res = NULL;
	sort_rows = rows;
	qsort(idx, nrows, sizeof(*idx), cmp_crow_idx);

#define NEW(what, line, order)                               \
	do {                                                 \
		if ((d = add_diff(&x, what, line, order)) == NULL) { \
			nomem = 1;                           \
			goto done;                           \
		}                                            \
	} while (0)

	/* the file's own structure */
	for (size_t i = 0; i < f->nproblems; i++) {
		NEW("bad-line", f->problems[i].line, 1);
		snprintf(d->detail, sizeof(d->detail), "%s", f->problems[i].msg);
	}
	if (f->problems_dropped > 0) {
		NEW("bad-line", 0, 1);
		snprintf(d->detail, sizeof(d->detail), "%zu more bad lines", f->problems_dropped);
	}
	if (!f->has_header) {
		NEW("header-missing", 0, 0);
		snprintf(d->detail, sizeof(d->detail), "no H line (%s version %d)", PF_FORMAT, PF_VERSION);
	} else {
		if (strcmp(f->partner, r->partner) != 0) {
			NEW("header-partner", f->header_line, 0);
			snprintf(d->detail, sizeof(d->detail), "the file is partner '%.40s''s, not %s", f->partner,
				 r->partner);
		}
		if (strcmp(f->day, r->day) != 0) {
			NEW("header-day", f->header_line, 0);
			snprintf(d->detail, sizeof(d->detail), "the file is of day '%.40s', not %s", f->day, r->day);
		}
		if (strcmp(f->zone, r->zone) != 0) {
			NEW("header-zone", f->header_line, 0);
			snprintf(d->detail, sizeof(d->detail), "the file's days are in '%.60s', not %s", f->zone,
				 r->zone);
		}
	}

	/* the same (ref, kind) twice in the file: the later lines are
	 * duplicates (the file's rows sorted by ref, kind, line) */
	if ((fused = calloc(f->nrows + 1, 1)) == NULL || (fidx = calloc(f->nrows + 1, sizeof(*fidx))) == NULL) {
		nomem = 1;
		goto done;
	}
	for (size_t i = 0; i < f->nrows; i++)
		fidx[i] = i;
	sort_file = f->rows;
	qsort(fidx, f->nrows, sizeof(*fidx), cmp_frow_idx);
	for (size_t k = 1; k < f->nrows; k++) {
		const struct pf_row *p0 = &f->rows[fidx[k - 1]], *fr = &f->rows[fidx[k]];
		if (p0->reversal != fr->reversal || strcmp(p0->field[3], fr->field[3]) != 0)
			continue;
		fused[fidx[k]] = 1;
		/* the first of the run is the one kept */
		size_t first = k - 1;
		while (first > 0 && fused[fidx[first]])
			first--;
		NEW("duplicate-in-file", fr->line, 1);
		d->kind = kind_name(fr->reversal);
		d->ref = fr->field[3];
		u64s(d->file_account, fr->account_id);
		i64s(d->file_amount, fr->amount_vnd);
		snprintf(d->detail, sizeof(d->detail), "the same partner_ref and kind as line %u",
			 f->rows[fidx[first]].line);
	}
	/* the file's rows against central's: the same (ref, kind) first */
	for (size_t i = 0; i < f->nrows; i++) {
		const struct pf_row *fr = &f->rows[i];
		if (fused[i])
			continue;
		size_t j = find_ref(rows, idx, nrows, fr->field[3]);
		for (; j < nrows && strcmp(rows[idx[j]].ref, fr->field[3]) == 0; j++) {
			struct crow *c = &rows[idx[j]];
			if (c->used || c->reversal != fr->reversal)
				continue;
			c->used = 1;
			fused[i] = 1;
			if (c->account_id != fr->account_id) {
				NEW("account", fr->line, 1);
				d->kind = kind_name(fr->reversal);
				d->ref = fr->field[3];
				u64s(d->file_account, fr->account_id);
				u64s(d->central_account, c->account_id);
				u64s(d->topup_id, c->id);
				snprintf(d->detail, sizeof(d->detail), "another account");
			}
			if (c->amount_vnd != fr->amount_vnd) {
				NEW("amount", fr->line, 1);
				d->kind = kind_name(fr->reversal);
				d->ref = fr->field[3];
				i64s(d->file_amount, fr->amount_vnd);
				i64s(d->central_amount, c->amount_vnd);
				u64s(d->topup_id, c->id);
				snprintf(d->detail, sizeof(d->detail), "another amount (file - central: %" PRId64 " VND)",
					 fr->amount_vnd - c->amount_vnd);
			}
			if (fr->topup_id != 0 && fr->topup_id != c->id) {
				NEW("topup-id", fr->line, 1);
				d->kind = kind_name(fr->reversal);
				d->ref = fr->field[3];
				u64s(d->topup_id, c->id);
				snprintf(d->detail, sizeof(d->detail), "the file says topup_id %" PRIu64, fr->topup_id);
			}
			break;
		}
	}
	/* then the same ref under another kind */
	for (size_t i = 0; i < f->nrows; i++) {
		const struct pf_row *fr = &f->rows[i];
		if (fused[i])
			continue;
		size_t j = find_ref(rows, idx, nrows, fr->field[3]);
		for (; j < nrows && strcmp(rows[idx[j]].ref, fr->field[3]) == 0; j++) {
			struct crow *c = &rows[idx[j]];
			if (c->used)
				continue;
			c->used = 1;
			fused[i] = 1;
			NEW("kind", fr->line, 1);
			d->kind = kind_name(fr->reversal);
			d->ref = fr->field[3];
			u64s(d->file_account, fr->account_id);
			i64s(d->file_amount, fr->amount_vnd);
			u64s(d->central_account, c->account_id);
			i64s(d->central_amount, c->amount_vnd);
			u64s(d->topup_id, c->id);
			snprintf(d->detail, sizeof(d->detail), "the file has a %s, central a %s", kind_name(fr->reversal),
				 kind_name(c->reversal));
			break;
		}
	}
	/* what is left on either side */
	unsigned lookups = 0;
	for (size_t i = 0; i < f->nrows; i++) {
		const struct pf_row *fr = &f->rows[i];
		if (fused[i])
			continue;
		NEW("missing-at-central", fr->line, 1);
		d->kind = kind_name(fr->reversal);
		d->ref = fr->field[3];
		u64s(d->file_account, fr->account_id);
		i64s(d->file_amount, fr->amount_vnd);
		if (lookups++ < MISSING_LOOKUPS_MAX && elsewhere(a, r, fr, d->detail, sizeof(d->detail)) != 0)
			goto out;
		if (d->detail[0] == 0)
			snprintf(d->detail, sizeof(d->detail), "no such %s at central", kind_name(fr->reversal));
	}
	for (size_t i = 0; i < nrows; i++) {
		struct crow *c = &rows[i];
		if (c->used)
			continue;
		NEW("missing-in-file", 0, 3);
		d->kind = kind_name(c->reversal);
		d->ref = c->ref;
		u64s(d->central_account, c->account_id);
		i64s(d->central_amount, c->amount_vnd);
		u64s(d->topup_id, c->id);
		snprintf(d->detail, sizeof(d->detail), "created %s", c->created);
	}

	/* the trailer against the file's own rows */
	int64_t ftotal = 0;
	struct toll_sha256_ctx *h;
	if (toll_sha256_begin(&h) != 0) {
		nomem = 1;
		goto done;
	}
	for (size_t i = 0; i < f->nrows; i++) {
		ftotal += f->rows[i].reversal ? -f->rows[i].amount_vnd : f->rows[i].amount_vnd;
		if (pf_row_line(&f->rows[i], line, sizeof(line)) == 0) {
			toll_sha256_update(h, line, strlen(line));
			toll_sha256_update(h, "\r\n", 2);
		}
	}
	toll_sha256_end(h, dg);
	toll_hex_encode(dg, sizeof(dg), sha);
	if (!f->has_trailer) {
		NEW("trailer-missing", 0, 2);
		snprintf(d->detail, sizeof(d->detail), "no T line: its %zu rows are not checked against a count, a "
						       "total and a hash",
			 f->nrows);
	} else {
		if (f->count != f->nrows) {
			NEW("trailer-count", f->trailer_line, 2);
			snprintf(d->detail, sizeof(d->detail), "the trailer says %" PRIu64 " rows, the file has %zu",
				 f->count, f->nrows);
		}
		if (f->total_vnd != ftotal) {
			NEW("trailer-total", f->trailer_line, 2);
			i64s(d->file_amount, f->total_vnd);
			snprintf(d->detail, sizeof(d->detail),
				 "the trailer says %" PRId64 " VND, the file's rows sum to %" PRId64 " VND", f->total_vnd,
				 ftotal);
		}
		if (strcmp(f->sha256, sha) != 0) {
			NEW("trailer-sha256", f->trailer_line, 2);
			snprintf(d->detail, sizeof(d->detail), "the trailer says %.16s..., the file's rows hash to %.16s...",
				 f->sha256, sha);
		}
	}
done:
#undef NEW
	if (nomem) {
		admin_fail("out of memory");
		goto out;
	}
	if (x.n > 0)
		qsort(x.d, x.n, sizeof(*x.d), cmp_diff);
	if (admin_out_new(10, names, "lrllrrrrrl", &t) != 0)
		goto out;
	char m1[ADMIN_MONEY_CELL], m2[ADMIN_MONEY_CELL];
	for (size_t i = 0; i < x.n; i++) {
		struct diff *e = &x.d[i];
		char ln[16] = "";
		if (e->line)
			snprintf(ln, sizeof(ln), "%u", e->line);
		const char *cells[10] = {e->what,
					 ln,
					 e->kind,
					 e->ref,
					 e->file_account,
					 admin_money_text(a, e->file_amount, m1, 0),
					 e->central_account,
					 admin_money_text(a, e->central_amount, m2, 0),
					 e->topup_id,
					 e->detail};
		if (admin_out_add(t, cells) != 0)
			goto out;
	}
	if (a->csv) {
		admin_table_print(t, 1, a->out);
	} else {
		int64_t ctotal = 0;
		for (size_t i = 0; i < nrows; i++)
			ctotal += rows[i].reversal ? -rows[i].amount_vnd : rows[i].amount_vnd;
		char mf[ADMIN_MONEY_LEN], mc[ADMIN_MONEY_LEN];
		money_people(a, ftotal, mf);
		money_people(a, ctotal, mc);
		fprintf(a->out, "partner %s, %s (%s): the file %s has %zu rows, %s VND; central has %zu, %s VND\n",
			r->partner, r->day, r->zone, r->file, f->nrows, mf, nrows, mc);
		if (x.n > 0)
			admin_table_print(t, 0, a->out);
		fprintf(a->out, "%zu difference%s\n", x.n, x.n == 1 ? "" : "s");
	}
	rc = x.n > 0 ? 1 : 0;
	if (rc != 0)
		admin_fail("partner %s, %s: %zu difference%s between the file and the ledger", r->partner, r->day, x.n,
			   x.n == 1 ? "" : "s");
out:
	admin_table_free(t);
	PQclear(res);
	free(x.d);
	free(rows);
	free(idx);
	free(fidx);
	free(fused);
	pf_free(f);
	return rc;
}
