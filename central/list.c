/* list.c: see list.h and docs/taglist-sync.md. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>

#include "cdb.h"
#include "clock.h"
#include "crypto.h"
#include "err.h"
#include "list.h"
#include "log.h"
#include "tslmsg.h"

#include "../lane-controller/lane_taglist.h"

/* tag flags go from the database's rows to deltas (TOLL_TSL_TAG_F_*) and
 * to snapshots (LANE_TAG_F_*) unchanged */
_Static_assert(TOLL_TSL_TAG_F_EXEMPT == LANE_TAG_F_EXEMPT && TOLL_TSL_TAG_F_PASS == LANE_TAG_F_PASS,
	       "tag flags differ between the delta and the list file");

#define CHUNK_MAX (4u << 20)  /* a snapshot chunk, at most */
#define DELTAS_QUERY_MAX 512 /* deltas read for one GET_DELTAS */
#define SNAPSHOTS_KEPT "2" /* the newest snapshots kept (an SQL OFFSET) */

struct listpub {
	struct listpub_conf c;
	char dir[512];
	nng_socket pub, rep;
	pthread_t pub_thread, rep_thread;
	int have_pub_thread, have_rep_thread;
	atomic_int stop;
	pthread_mutex_t mu; /* stats */
	struct listpub_stats st;
	uint8_t *buf;	    /* the publisher's message buffer */
	uint8_t *rbuf;	    /* the server's */
};

static void
bump(struct listpub *p, uint64_t *field, uint64_t n)
{
	pthread_mutex_lock(&p->mu);
	*field += n;
	pthread_mutex_unlock(&p->mu);
}

static void
set_up(struct listpub *p, int up, uint64_t version)
{
	pthread_mutex_lock(&p->mu);
	p->st.up = up;
	if (version > 0)
		p->st.version = version;
	pthread_mutex_unlock(&p->mu);
}



/* ---- reading the list from the database --------------------------------- */

/* A tag row of TAGS_SQL / ALL_TAGS_SQL into a record; TOLL_EFORMAT for a
 * row the lanes could not take (the schema's checks make that a bug). */
static int
epc_of_hex(const char *epc, uint16_t *bits, uint8_t out[32])
{
	size_t digits = strlen(epc);

	memset(out, 0, 32);
	if (digits < 1 || digits > 64)
		return TOLL_EFORMAT;
	*bits = (uint16_t)(4 * digits);
	for (size_t i = 0; i < digits; i++) {
		char ch = epc[i];
		unsigned v = ch >= '0' && ch <= '9' ? (unsigned)(ch - '0') : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10) : 16;
		if (v > 15)
			return TOLL_EFORMAT;
		out[i / 2] |= (uint8_t)(i % 2 ? v : v << 4);
	}
	return 0;
}

static int
tag_of_row(const PGresult *r, int row, struct toll_tsl_tag *t)
{
	const char *tid = PQgetvalue(r, row, 1);

	memset(t, 0, sizeof(*t));
	if (epc_of_hex(PQgetvalue(r, row, 0), &t->epc_bits, t->epc) != 0)
		return TOLL_EFORMAT;
	if (tid[0] != 0) {
		if (strlen(tid) != 24 || toll_hex_decode(tid, t->tid, 12) != 0)
			return TOLL_EFORMAT;
		t->tid_valid = 1;
	}
	t->account_id = (uint64_t)cdb_int(r, row, 2);
	t->vclass = (unsigned)cdb_int(r, row, 3);
	snprintf(t->plate, sizeof(t->plate), "%s", PQgetvalue(r, row, 4));
	t->status = (unsigned)cdb_int(r, row, 5);
	t->reason = (unsigned)cdb_int(r, row, 6);
	t->flags = strcmp(PQgetvalue(r, row, 7), "t") == 0 ? TOLL_TSL_TAG_F_EXEMPT : 0;
	if (!PQgetisnull(r, row, 11)) {
		int64_t st = cdb_int(r, row, 11), day = cdb_int(r, row, 12);
		if (st < 1 || st > UINT32_MAX || day < 0 || day > UINT32_MAX)
			return TOLL_EFORMAT;
		t->flags |= TOLL_TSL_TAG_F_PASS;
		t->pass_station = (uint32_t)st;
		t->pass_until_day = (uint32_t)day;
	}
	return 0;
}

/* A row of ENTRIES_SQL into a record. */
static int
entry_of_row(const PGresult *r, int row, struct toll_tsl_entry *e)
{
	memset(e, 0, sizeof(*e));
	if (epc_of_hex(PQgetvalue(r, row, 0), &e->epc_bits, e->epc) != 0)
		return TOLL_EFORMAT;
	e->station = (uint32_t)cdb_int(r, row, 1);
	e->time_ms = cdb_int(r, row, 2);
	e->state = (unsigned)cdb_int(r, row, 3);
	return 0;
}

/* What a tag is for the lanes: its own block first, then its account's;
 * its vehicle's pass (ps, from PASS_NOW or PASS_NOW_ALL) as station and
 * last day (days since 1970-01-01), NULL without one; pass_xid, the
 * stamps of the vehicle's passes for the publisher's seen set. */
#define TAG_COLUMNS(pass_xid)                                                                         \
	"t.epc_hex, COALESCE(encode(t.tid, 'hex'), ''), a.id, v.vclass, v.plate,"                       \
	" CASE WHEN t.status = 2 OR a.blocked_reason <> 0 THEN 2 ELSE a.status END,"                    \
	" CASE WHEN t.status = 2 THEN t.reason WHEN a.blocked_reason <> 0 THEN a.blocked_reason ELSE 0 END," \
	" t.exempt, length(t.epc_hex) AS n, t.list_xid, a.list_xid,"                                    \
	" ps.station_id, ps.last_day - DATE '1970-01-01', " pass_xid

/* The pass the lanes get for a vehicle (their list holds one a tag):
 * among its passes not revoked whose days include today (station time,
 * toll_today()), the one ending last (then the one begun last, then the
 * newest).  A pass that has not begun is left out: the lane checks only
 * the last day.  Choosing the one ending last means the choice changes
 * only when a pass is made, revoked or begins (each stamps it): when the
 * chosen one ends, every other current one has ended too, and the lanes
 * stop honouring it by its last day.  Made for a few rows (a delta), an
 * index probe per vehicle: */
#define PASS_NOW                                                                                      \
	" LEFT JOIN LATERAL (SELECT p.station_id, p.last_day FROM passes p WHERE p.vehicle_id = v.id"  \
	"  AND p.last_day >= toll_today() AND p.first_day <= toll_today() AND p.revoked_at IS NULL"    \
	"  ORDER BY p.last_day DESC, p.first_day DESC, p.id DESC LIMIT 1) ps ON true"
/* ... and the stamps of all the vehicle's passes (a revoked one too: its
 * revocation changes the tag): */
#define PASS_XID "(SELECT max(p.list_xid) FROM passes p WHERE p.vehicle_id = v.id)"
/* The same choice for the whole list (a snapshot), one hash join: */
#define PASS_NOW_ALL                                                                                  \
	" LEFT JOIN (SELECT DISTINCT ON (p.vehicle_id) p.vehicle_id, p.station_id, p.last_day"        \
	"  FROM passes p WHERE p.last_day >= toll_today() AND p.first_day <= toll_today()"             \
	"  AND p.revoked_at IS NULL ORDER BY p.vehicle_id, p.last_day DESC, p.first_day DESC, p.id DESC)" \
	" ps ON ps.vehicle_id = v.id"

/* Tags changed at or after the horizon $1, every tag of an account
 * changed then, and every tag of a vehicle whose passes changed then; in
 * the DELTA's order (EPC bits, then bytes: hex digits of one length sort
 * as their bytes).  Each branch starts from its list_xid index. */
static const char *const TAGS_SQL =
	"SELECT " TAG_COLUMNS(PASS_XID) " FROM tags t JOIN vehicles v ON v.id = t.vehicle_id"
	" JOIN accounts a ON a.id = v.account_id" PASS_NOW " WHERE t.list_xid >= $1"
	" UNION SELECT " TAG_COLUMNS(PASS_XID) " FROM accounts a JOIN vehicles v ON v.account_id = a.id"
	" JOIN tags t ON t.vehicle_id = v.id" PASS_NOW " WHERE a.list_xid >= $1 AND a.kind = 'customer'"
	" UNION SELECT " TAG_COLUMNS(PASS_XID) " FROM vehicles v JOIN tags t ON t.vehicle_id = v.id"
	" JOIN accounts a ON a.id = v.account_id" PASS_NOW
	" WHERE v.id IN (SELECT c.vehicle_id FROM passes c WHERE c.list_xid >= $1)"
	" ORDER BY n, 1";

/* Accounts changed at or after $1, and the accounts of the tags changed
 * (a UNION of two index scans: an OR would read every account). */
static const char *const ACCOUNTS_SQL =
	"SELECT a.id, a.balance_vnd, a.list_xid FROM accounts a WHERE a.kind = 'customer' AND a.list_xid >= $1"
	" UNION SELECT a.id, a.balance_vnd, a.list_xid FROM tags t JOIN vehicles v ON v.id = t.vehicle_id"
	" JOIN accounts a ON a.id = v.account_id WHERE t.list_xid >= $1 AND a.kind = 'customer' ORDER BY 1";

/* Closed-road entries (trip_entries, central/trips.c) opened, closed or
 * expired at or after $1: each tag's newest trip among them, in the
 * DELTA's order.  An older trip of the tag is of no use to a lane once a
 * newer one is known (the lanes keep the newest by time). */
static const char *const ENTRIES_SQL =
	"SELECT epc_hex, station_id, time_ms, state, list_xid FROM ("
	" SELECT DISTINCT ON (epc_hex) epc_hex, station_id, time_ms, state, list_xid FROM trip_entries"
	" WHERE list_xid >= $1 ORDER BY epc_hex, time_ms DESC) x ORDER BY length(epc_hex), epc_hex";

static const char *const ALL_TAGS_SQL =
	"SELECT " TAG_COLUMNS("0") " FROM tags t JOIN vehicles v ON v.id = t.vehicle_id"
	" JOIN accounts a ON a.id = v.account_id" PASS_NOW_ALL;

static const char *const ALL_ACCOUNTS_SQL =
	"SELECT a.id, a.balance_vnd FROM accounts a WHERE a.kind = 'customer'";

/* Passes whose first day has come since they were made: stamped, so the
 * next scan sends their vehicles' tags with the pass (the lane's list has
 * no first day; docs/taglist-sync.md).  Run before each scan in its own
 * transaction; a partial index finds them, and with none it writes
 * nothing (no transaction id is taken). */
static const char *const PASSES_BEGUN_SQL =
	"UPDATE passes SET awaiting_start = false, list_xid = pg_current_xact_id()::text::bigint"
	" WHERE awaiting_start AND first_day <= toll_today()";

/* ---- the publisher -------------------------------------------------------- */

/* The rows the last scan returned, with their stamps.  The next scan
 * returns a row again when its stamps are still at or after the horizon
 * (an older transaction was still running, so the horizon could not pass
 * them), or when it came with another row (an account with its changed
 * tag): such a row is skipped while its stamps stay the same.  Without
 * this, one transaction left open would have every later change published
 * again on every scan.  A tag has three stamps: its own, its account's and
 * the newest of its vehicle's passes' (a pass made, revoked or begun
 * changes it, whichever pass the lanes get). */
struct seen {
	char key[68]; /* "a<id>", "t<epc hex>" or "e<epc hex>" */
	int64_t x1, x2, x3;
};

struct seenset {
	struct seen *v;
	size_t n, cap;
};

static int
seen_cmp(const void *a, const void *b)
{
	return strcmp(((const struct seen *)a)->key, ((const struct seen *)b)->key);
}

static int
seen_has(const struct seenset *s, const struct seen *e)
{
	const struct seen *f = s->n ? bsearch(e, s->v, s->n, sizeof(*e), seen_cmp) : NULL;
	return f != NULL && f->x1 == e->x1 && f->x2 == e->x2 && f->x3 == e->x3;
}

static int
seen_add(struct seenset *s, const struct seen *e)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? 2 * s->cap : 64;
		struct seen *nv = realloc(s->v, nc * sizeof(*nv));
		if (nv == NULL)
			return TOLL_ENOMEM;
		s->v = nv;
		s->cap = nc;
	}
	s->v[s->n++] = *e;
	return 0;
}

static void
seen_of_account(const PGresult *r, int row, struct seen *e)
{
	snprintf(e->key, sizeof(e->key), "a%s", PQgetvalue(r, row, 0));
	e->x1 = cdb_int(r, row, 2);
	e->x2 = 0;
	e->x3 = 0;
}

static void
seen_of_tag(const PGresult *r, int row, struct seen *e)
{
	snprintf(e->key, sizeof(e->key), "t%s", PQgetvalue(r, row, 0));
	e->x1 = cdb_int(r, row, 9);
	e->x2 = cdb_int(r, row, 10);
	e->x3 = cdb_int(r, row, 13);
}

static void
seen_of_entry(const PGresult *r, int row, struct seen *e)
{
	snprintf(e->key, sizeof(e->key), "e%s", PQgetvalue(r, row, 0));
	e->x1 = cdb_int(r, row, 4);
	e->x2 = cdb_int(r, row, 2);
	e->x3 = 0;
}

struct pubstate {
	uint64_t version; /* newest committed */
	int64_t horizon;  /* xid */
	int64_t last_snapshot_ms;
	int changed_since_snapshot;
	struct seenset seen;
};

/* The deltas of one scan, built into one buffer back to back: [u32 len |
 * bytes]...  Committed together, published after the commit. */
struct outq {
	uint8_t *b;
	size_t len, cap;
};

static int
outq_add(struct outq *q, const uint8_t *msg, size_t len)
{
	if (q->cap - q->len < len + 4) {
		size_t nc = q->cap ? q->cap * 2 : 1 << 16;
		while (nc - q->len < len + 4)
			nc *= 2;
		uint8_t *nb = realloc(q->b, nc);
		if (nb == NULL)
			return TOLL_ENOMEM;
		q->b = nb;
		q->cap = nc;
	}
	uint32_t l = (uint32_t)len;
	memcpy(q->b + q->len, &l, 4);
	memcpy(q->b + q->len + 4, msg, len);
	q->len += len + 4;
	return 0;
}

/* Store one finished DELTA (version v, in p->buf, len bytes). */
static int
store_delta(struct listpub *p, struct cdb *db, uint64_t v, int64_t horizon, uint32_t accounts, uint32_t tags,
	    uint32_t entries, size_t len, struct outq *q, char *err, size_t errlen)
{
	char sv[24], sh[24], sa[16], st[16], se[16];
	char *hex = malloc(2 * len + 3);
	if (hex == NULL)
		return TOLL_ENOMEM;
	snprintf(sv, sizeof(sv), "%" PRIu64, v);
	snprintf(sh, sizeof(sh), "%" PRId64, horizon);
	snprintf(sa, sizeof(sa), "%" PRIu32, accounts);
	snprintf(st, sizeof(st), "%" PRIu32, tags);
	snprintf(se, sizeof(se), "%" PRIu32, entries);
	cdb_bytea_hex(p->buf, len, hex);
	const char *par[6] = {sv, sh, sa, st, hex, se};
	int rc = cdb_query(db,
			   "INSERT INTO list_deltas (version, horizon_xid, accounts, tags, body, entries)"
			   " VALUES ($1, $2, $3, $4, $5::bytea, $6)",
			   6, par, NULL, err, errlen);
	free(hex);
	if (rc == 0)
		rc = outq_add(q, p->buf, len);
	return rc;
}

/* Turn the rows into DELTAs from version st->version + 1 on; *made
 * counts them.  Accounts first, then tags, then entries (the format's
 * order); a delta that is full is finished and the next begun. */
static int
build_deltas(struct listpub *p, struct cdb *db, const PGresult *const rows[3], const char *const keep[3],
	     int64_t horizon, uint64_t from, uint64_t *made, struct outq *q, char *err, size_t errlen)
{
	struct toll_tsl_builder b;
	uint64_t v = from + 1;
	uint32_t n[3] = {0, 0, 0};
	int at[3] = {0, 0, 0}, total[3];
	size_t len;
	int rc = toll_tsl_delta_begin(&b, p->buf, TOLL_TSL_MAX_BYTES, v, toll_real_ms(), toll_signer_key_id(p->c.key));

	for (int k = 0; k < 3; k++)
		total[k] = rows[k] ? PQntuples(rows[k]) : 0;
	*made = 0;
	for (int k = 0; rc == 0 && k < 3; k++) {
		while (rc == 0 && at[k] < total[k]) {
			const PGresult *r = rows[k];
			int i = at[k];
			if (!keep[k][i]) {
				at[k]++;
				continue;
			}
			if (k == 0) {
				struct toll_tsl_account a = {(uint64_t)cdb_int(r, i, 0), cdb_int(r, i, 1)};
				rc = toll_tsl_delta_add_account(&b, &a);
			} else if (k == 1) {
				struct toll_tsl_tag t;
				if (tag_of_row(r, i, &t) != 0) {
					snprintf(err, errlen, "tag %s: cannot be put in a delta", PQgetvalue(r, i, 0));
					return TOLL_EDB;
				}
				rc = toll_tsl_delta_add_tag(&b, &t);
			} else {
				struct toll_tsl_entry e;
				if (entry_of_row(r, i, &e) != 0) {
					snprintf(err, errlen, "entry of %s: cannot be put in a delta", PQgetvalue(r, i, 0));
					return TOLL_EDB;
				}
				rc = toll_tsl_delta_add_entry(&b, &e);
			}
			if (rc == 0) {
				at[k]++;
				n[k]++;
				continue;
			}
			if (rc != TOLL_ENOSPACE || n[0] + n[1] + n[2] == 0) {
				snprintf(err, errlen, "delta %" PRIu64 ": %s (rows %d/%d/%d)", v, toll_strerror(rc), at[0],
					 at[1], at[2]);
				return rc;
			}
			/* full: finish this one, begin the next, which goes on
			 * with the same kind (the kinds before it are done) */
			rc = toll_tsl_finish(&b, p->c.key, &len);
			if (rc == 0)
				rc = store_delta(p, db, v, horizon, n[0], n[1], n[2], len, q, err, errlen);
			if (rc != 0)
				return rc;
			(*made)++;
			v++;
			n[0] = n[1] = n[2] = 0;
			rc = toll_tsl_delta_begin(&b, p->buf, TOLL_TSL_MAX_BYTES, v, toll_real_ms(),
						  toll_signer_key_id(p->c.key));
		}
	}
	if (rc != 0)
		return rc;
	rc = toll_tsl_finish(&b, p->c.key, &len);
	if (rc == 0)
		rc = store_delta(p, db, v, horizon, n[0], n[1], n[2], len, q, err, errlen);
	if (rc == 0)
		(*made)++;
	return rc;
}

static int
query1(struct cdb *db, const char *sql, int64_t arg, PGresult **out, char *err, size_t errlen)
{
	char a[24];
	const char *par[1] = {a};
	snprintf(a, sizeof(a), "%" PRId64, arg);
	return cdb_query(db, sql, strstr(sql, "$1") ? 1 : 0, par, out, err, errlen);
}

/* The whole list at the scan's snapshot into list.dir/list-V.tsl; its
 * hash and signature into list_snapshots. */
static int
write_snapshot(struct listpub *p, struct cdb *db, uint64_t v, char *err, size_t errlen)
{
	PGresult *ra = NULL, *rt = NULL;
	struct lane_taglist_writer *w = NULL;
	char path[600], name[64];
	int64_t npasses = 0;
	int rc = query1(db, ALL_ACCOUNTS_SQL, 0, &ra, err, errlen);
	if (rc == 0)
		rc = query1(db, ALL_TAGS_SQL, 0, &rt, err, errlen);
	if (rc == 0)
		rc = lane_taglist_writer_new(v, &w);
	for (int i = 0; rc == 0 && i < PQntuples(ra); i++)
		rc = lane_taglist_writer_account(w, (uint64_t)cdb_int(ra, i, 0), cdb_int(ra, i, 1));
	for (int i = 0; rc == 0 && i < PQntuples(rt); i++) {
		struct toll_tsl_tag t;
		rc = tag_of_row(rt, i, &t);
		if (rc != 0)
			snprintf(err, errlen, "tag %s: cannot be put in a snapshot", PQgetvalue(rt, i, 0));
		/* the TOLL_TSL_TAG_F_* values are the LANE_TAG_F_* ones */
		if (rc == 0)
			rc = lane_taglist_writer_tag(w, t.epc, t.epc_bits, t.tid_valid ? t.tid : NULL, t.account_id,
						     t.vclass, t.plate, t.status, t.reason, t.flags, t.pass_station,
						     t.pass_until_day);
		npasses += rc == 0 && (t.flags & TOLL_TSL_TAG_F_PASS);
	}
	snprintf(name, sizeof(name), "list-%" PRIu64 ".tsl", v);
	snprintf(path, sizeof(path), "%s/%s", p->dir, name);
	if (rc == 0 && (rc = lane_taglist_writer_finish(w, path)) != 0)
		snprintf(err, errlen, "snapshot %.300s: %s", path, lane_taglist_writer_error(w));
	else if (rc != 0 && err[0] == 0)
		snprintf(err, errlen, "snapshot %" PRIu64 ": %s", v, toll_strerror(rc));
	int64_t naccts = ra ? PQntuples(ra) : 0, ntags = rt ? PQntuples(rt) : 0;
	PQclear(ra);
	PQclear(rt);
	lane_taglist_writer_free(w);
	if (rc != 0)
		return rc == TOLL_EAGAIN ? rc : TOLL_EDB;
	toll_info("list: snapshot %s: %" PRId64 " accounts, %" PRId64 " tags, %" PRId64 " with a pass", name, naccts,
		  ntags, npasses);

	/* hash and sign the file as written */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0 || sb.st_size <= 0) {
		snprintf(err, errlen, "snapshot %.300s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return TOLL_ESYS;
	}
	void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "snapshot %.300s: mmap: %s", path, strerror(errno));
		return TOLL_ESYS;
	}
	uint8_t sha[32], sig[64], kid[4];
	toll_sha256(m, (size_t)sb.st_size, sha);
	munmap(m, (size_t)sb.st_size);
	rc = toll_tsl_snapshot_sign(p->c.key, v, (uint64_t)sb.st_size, sha, sig);
	if (rc != 0) {
		snprintf(err, errlen, "snapshot %.300s: cannot sign: %s", path, toll_strerror(rc));
		return rc;
	}
	uint32_t key_id = toll_signer_key_id(p->c.key);
	for (int i = 0; i < 4; i++)
		kid[i] = (uint8_t)(key_id >> (24 - 8 * i));
	char sv[24], ssz[24], shs[2 * 32 + 3], ssg[2 * 64 + 3], skid[2 * 4 + 3], sna[24], snt[24];
	snprintf(sv, sizeof(sv), "%" PRIu64, v);
	snprintf(ssz, sizeof(ssz), "%lld", (long long)sb.st_size);
	snprintf(sna, sizeof(sna), "%" PRId64, naccts);
	snprintf(snt, sizeof(snt), "%" PRId64, ntags);
	cdb_bytea_hex(sha, 32, shs);
	cdb_bytea_hex(sig, 64, ssg);
	cdb_bytea_hex(kid, 4, skid);
	const char *par[8] = {sv, name, ssz, shs, ssg, skid, sna, snt};
	return cdb_query(db,
			 "INSERT INTO list_snapshots (version, file, size_bytes, sha256, signature, key_id, accounts, tags)"
			 " VALUES ($1, $2, $3, $4::bytea, $5::bytea, $6::bytea, $7, $8)",
			 8, par, NULL, err, errlen);
}

/* Older snapshots and the deltas before the oldest kept one go. */
static int
prune(struct listpub *p, struct cdb *db, char *err, size_t errlen)
{
	PGresult *r;
	int rc = cdb_query(db,
			   "WITH old AS (SELECT version, file FROM list_snapshots ORDER BY version DESC OFFSET " SNAPSHOTS_KEPT ")"
			   " DELETE FROM list_snapshots s USING old WHERE s.version = old.version RETURNING s.file",
			   0, NULL, &r, err, errlen);
	if (rc != 0)
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		char path[600];
		snprintf(path, sizeof(path), "%s/%s", p->dir, PQgetvalue(r, i, 0));
		if (unlink(path) != 0 && errno != ENOENT)
			toll_warn("list: could not remove the old snapshot %s: %s", path, strerror(errno));
	}
	PQclear(r);
	return cdb_query(db,
			 "DELETE FROM list_deltas WHERE version < (SELECT min(version) FROM list_snapshots)",
			 0, NULL, NULL, err, errlen);
}

/* One scan in one REPEATABLE READ transaction: the deltas for what
 * changed (and, when due, the snapshot of the same state), committed, then
 * published. */
static int
scan(struct listpub *p, struct cdb *db, struct pubstate *s, int want_snapshot, char *err, size_t errlen)
{
	PGresult *rx = NULL, *ra = NULL, *rt = NULL, *re = NULL;
	struct outq q = {0};
	uint64_t made = 0;
	int64_t xmin = 0;
	int snap = want_snapshot || s->version == 0;
	int rc = cdb_exec(db, PASSES_BEGUN_SQL, err, errlen);
	if (rc == 0)
		rc = cdb_exec(db, "BEGIN ISOLATION LEVEL REPEATABLE READ", err, errlen);
	if (rc == 0)
		rc = cdb_query(db, "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint", 0, NULL, &rx, err,
			       errlen);
	if (rc == 0) {
		xmin = cdb_int(rx, 0, 0);
		PQclear(rx);
	}
	if (rc == 0 && s->version > 0)
		rc = query1(db, ACCOUNTS_SQL, s->horizon, &ra, err, errlen);
	if (rc == 0 && s->version > 0)
		rc = query1(db, TAGS_SQL, s->horizon, &rt, err, errlen);
	if (rc == 0 && s->version > 0)
		rc = query1(db, ENTRIES_SQL, s->horizon, &re, err, errlen);
	int na = ra ? PQntuples(ra) : 0, nt = rt ? PQntuples(rt) : 0, ne = re ? PQntuples(re) : 0, rows = 0;
	char *keep = calloc((size_t)na + (size_t)nt + (size_t)ne + 1, 1);
	struct seenset next = {0};
	if (keep == NULL && rc == 0)
		rc = TOLL_ENOMEM;
	for (int i = 0; rc == 0 && i < na + nt + ne; i++) {
		struct seen e;
		if (i < na)
			seen_of_account(ra, i, &e);
		else if (i < na + nt)
			seen_of_tag(rt, i - na, &e);
		else
			seen_of_entry(re, i - na - nt, &e);
		keep[i] = !seen_has(&s->seen, &e);
		rows += keep[i];
		if ((rc = seen_add(&next, &e)) != 0)
			break;
	}
	if (rc == 0 && (rows > 0 || snap)) {
		/* the first version is empty: lanes without a list take the
		 * snapshot made with it */
		const PGresult *const sets[3] = {ra, rt, re};
		const char *const keeps[3] = {keep, keep + na, keep + na + nt};
		rc = build_deltas(p, db, sets, keeps, xmin, s->version, &made, &q, err, errlen);
	}
	free(keep);
	PQclear(ra);
	PQclear(rt);
	PQclear(re);
	if (rc == 0 && snap)
		rc = write_snapshot(p, db, s->version + made, err, errlen);
	if (rc == 0 && snap)
		rc = prune(p, db, err, errlen);
	if (rc == 0)
		rc = cdb_exec(db, "COMMIT", err, errlen);
	if (rc != 0) {
		char e2[64];
		if (!cdb_broken(db))
			(void)cdb_exec(db, "ROLLBACK", e2, sizeof(e2));
		free(q.b);
		free(next.v);
		return rc;
	}
	free(s->seen.v);
	s->seen = next;
	if (s->seen.n > 1)
		qsort(s->seen.v, s->seen.n, sizeof(*s->seen.v), seen_cmp);
	/* committed: now the lanes may hear of it */
	for (size_t off = 0; off < q.len;) {
		uint32_t l;
		nng_msg *m;
		memcpy(&l, q.b + off, 4);
		if (nng_msg_alloc(&m, 0) == 0 && nng_msg_append(m, q.b + off + 4, l) == 0) {
			if (nng_sendmsg(p->pub, m, 0) != 0)
				nng_msg_free(m);
		}
		off += 4 + l;
	}
	free(q.b);
	if (made > 0) {
		s->version += made;
		bump(p, &p->st.deltas, made);
		bump(p, &p->st.records, (uint64_t)rows);
		s->changed_since_snapshot |= rows > 0;
	}
	if (snap) {
		s->last_snapshot_ms = toll_mono_ms();
		s->changed_since_snapshot = 0;
		bump(p, &p->st.snapshots, 1);
		toll_notice("list: snapshot of version %" PRIu64 " written", s->version);
	}
	s->horizon = xmin;
	set_up(p, 1, s->version);
	return 0;
}

static int
load_state(struct cdb *db, struct pubstate *s, char *err, size_t errlen)
{
	PGresult *r;
	int rc = cdb_query(db,
			   "SELECT version, horizon_xid, (SELECT count(*) FROM list_snapshots) FROM list_deltas"
			   " ORDER BY version DESC LIMIT 1",
			   0, NULL, &r, err, errlen);
	if (rc != 0)
		return rc;
	free(s->seen.v);
	memset(s, 0, sizeof(*s));
	if (PQntuples(r) == 1 && cdb_int(r, 0, 2) > 0) {
		s->version = (uint64_t)cdb_int(r, 0, 0);
		s->horizon = cdb_int(r, 0, 1);
	}
	/* no snapshot yet (or no deltas): start from scratch, version 1 */
	if (PQntuples(r) == 1 && cdb_int(r, 0, 2) == 0) {
		PQclear(r);
		return cdb_exec(db, "DELETE FROM list_deltas", err, errlen);
	}
	PQclear(r);
	s->last_snapshot_ms = toll_mono_ms();
	return 0;
}

static void *
pub_thread(void *arg)
{
	struct listpub *p = arg;
	struct cdb *db = NULL;
	struct pubstate s = {0};
	int64_t wait_ms = 0, next_beat = 0;
	int standby = 0;
	char err[512];

	while (!atomic_load(&p->stop)) {
		if (db == NULL) {
			int rc = cdb_connect(p->c.conninfo, p->c.role, &db, err, sizeof(err));
			if (rc == 0)
				rc = cdb_try_lock(db, CDB_LOCK_LIST, "list publisher", err, sizeof(err));
			if (rc == 0)
				rc = load_state(db, &s, err, sizeof(err));
			if (rc != 0) {
				cdb_close(db);
				db = NULL;
				if (rc == TOLL_EBUSY) {
					if (!standby)
						toll_notice("list: %s", err);
					standby = 1;
					set_up(p, 2, 0);
					toll_sleep_ms_unless(&p->stop, 1000);
					continue;
				}
				set_up(p, 0, 0);
				wait_ms = wait_ms == 0 ? 200 : wait_ms * 2;
				if (wait_ms > p->c.retry_max_ms)
					wait_ms = p->c.retry_max_ms;
				toll_warn("list: database: %s (again in %" PRId64 " ms)", err, wait_ms);
				toll_sleep_ms_unless(&p->stop, wait_ms);
				continue;
			}
			standby = 0;
			wait_ms = 0;
			toll_notice("list: publishing from version %" PRIu64, s.version);
			set_up(p, 1, s.version);
		}
		int want = s.changed_since_snapshot && toll_mono_ms() - s.last_snapshot_ms >= p->c.snapshot_every_ms;
		int rc = scan(p, db, &s, want, err, sizeof(err));
		if (rc != 0) {
			bump(p, &p->st.db_errors, 1);
			toll_warn("list: scan failed, nothing published: %s", err);
			if (cdb_broken(db)) {
				cdb_close(db);
				db = NULL;
				set_up(p, 0, 0);
			}
			toll_sleep_ms_unless(&p->stop, 500);
			continue;
		}
		int64_t now = toll_mono_ms();
		if (now >= next_beat && s.version > 0) {
			size_t len;
			if (toll_tsl_encode_heartbeat(p->buf, TOLL_TSL_HEARTBEAT_BYTES, s.version, toll_real_ms(), p->c.key,
						      &len) == 0) {
				nng_msg *m;
				if (nng_msg_alloc(&m, 0) == 0 && nng_msg_append(m, p->buf, len) == 0 &&
				    nng_sendmsg(p->pub, m, 0) == 0)
					bump(p, &p->st.heartbeats, 1);
				else if (m != NULL)
					nng_msg_free(m);
			}
			next_beat = now + p->c.heartbeat_ms;
		}
		toll_sleep_ms_unless(&p->stop, p->c.interval_ms);
	}
	free(s.seen.v);
	cdb_close(db);
	return NULL;
}

/* ---- the server ------------------------------------------------------------ */

static size_t
answer_error(struct listpub *p, uint64_t latest, unsigned code, const char *text)
{
	size_t len = 0;
	bump(p, &p->st.refused, 1);
	(void)toll_tsl_encode_error(p->rbuf, TOLL_TSL_MAX_BYTES, latest, toll_signer_key_id(p->c.key), code, text,
				    &len);
	return len;
}

static size_t
serve_deltas(struct listpub *p, struct cdb *db, const struct toll_tsl_msg *m, char *err, size_t errlen, int *dberr)
{
	PGresult *r = NULL;
	char have[24], lim[16];
	uint64_t want = m->aux == 0 || m->aux > DELTAS_QUERY_MAX ? DELTAS_QUERY_MAX : m->aux;
	snprintf(have, sizeof(have), "%" PRIu64, m->list_version);
	snprintf(lim, sizeof(lim), "%" PRIu64, want);
	const char *par[2] = {have, lim};
	PGresult *rb = NULL;
	int rc = cdb_query(db,
			   "SELECT COALESCE(max(version), 0), COALESCE(min(version), 0) FROM list_deltas",
			   0, NULL, &r, err, errlen);
	if (rc == 0)
		rc = cdb_query(db,
			       "SELECT body FROM list_deltas WHERE version > $1::bigint ORDER BY version LIMIT $2::bigint",
			       2, par, &rb, err, errlen);
	if (rc != 0) {
		PQclear(r);
		*dberr = 1;
		return answer_error(p, 0, TOLL_TSL_ERR_BUSY, "central's database is not answering");
	}
	uint64_t latest = (uint64_t)cdb_int(r, 0, 0), oldest = (uint64_t)cdb_int(r, 0, 1);
	size_t len = 0;
	if (latest == 0) {
		len = answer_error(p, 0, TOLL_TSL_ERR_BUSY, "no list yet");
	} else if (m->list_version > latest) {
		len = answer_error(p, latest, TOLL_TSL_ERR_UNKNOWN_VERSION, "that version is not central's (yet)");
	} else if (m->list_version == 0 || m->list_version + 1 < oldest) {
		/* a lane without a list, or behind what is kept: deltas
		 * only carry changes */
		len = answer_error(p, latest, TOLL_TSL_ERR_TOO_OLD, "deltas after that version are pruned: take a snapshot");
	} else {
		struct toll_tsl_builder b;
		uint32_t n = 0;
		rc = toll_tsl_deltas_begin(&b, p->rbuf, TOLL_TSL_MAX_BYTES, m->list_version, latest,
					   toll_signer_key_id(p->c.key));
		for (int i = 0; rc == 0 && i < PQntuples(rb); i++) {
			size_t blen = 0;
			unsigned char *body = PQunescapeBytea((const unsigned char *)PQgetvalue(rb, i, 0), &blen);
			if (body == NULL) {
				rc = TOLL_ENOMEM;
				break;
			}
			rc = toll_tsl_deltas_add(&b, body, blen);
			PQfreemem(body);
			if (rc == TOLL_ENOSPACE && n > 0) {
				rc = 0;
				break;
			}
			if (rc == 0)
				n++;
		}
		if (rc == 0)
			rc = toll_tsl_deltas_finish(&b, &len);
		if (rc != 0) {
			toll_err("list: cannot answer deltas after %" PRIu64 ": %s", m->list_version, toll_strerror(rc));
			len = answer_error(p, latest, TOLL_TSL_ERR_BUSY, "central could not put the deltas together");
		} else {
			bump(p, &p->st.answered_deltas, n);
		}
	}
	PQclear(r);
	PQclear(rb);
	return len;
}

static size_t
serve_snapshot(struct listpub *p, struct cdb *db, const struct toll_tsl_msg *m, char *err, size_t errlen, int *dberr)
{
	PGresult *r = NULL;
	char v[24];
	snprintf(v, sizeof(v), "%" PRIu64, m->list_version);
	const char *par[1] = {v};
	int rc = cdb_query(db,
			   "SELECT version, file, size_bytes, encode(sha256, 'hex'), encode(signature, 'hex'),"
			   " (SELECT COALESCE(max(version), 0) FROM list_deltas) FROM list_snapshots"
			   " WHERE $1::bigint = 0 OR version = $1::bigint ORDER BY version DESC LIMIT 1",
			   1, par, &r, err, errlen);
	if (rc != 0) {
		*dberr = 1;
		return answer_error(p, 0, TOLL_TSL_ERR_BUSY, "central's database is not answering");
	}
	size_t len = 0;
	if (PQntuples(r) != 1) {
		len = answer_error(p, 0, TOLL_TSL_ERR_UNKNOWN_VERSION, "no such snapshot");
		PQclear(r);
		return len;
	}
	uint64_t version = (uint64_t)cdb_int(r, 0, 0), total = (uint64_t)cdb_int(r, 0, 2), latest = (uint64_t)cdb_int(r, 0, 5);
	uint8_t sha[32], sig[64];
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", p->dir, PQgetvalue(r, 0, 1));
	int ok = toll_hex_decode(PQgetvalue(r, 0, 3), sha, 32) == 0 && toll_hex_decode(PQgetvalue(r, 0, 4), sig, 64) == 0;
	PQclear(r);
	if (!ok || m->aux > total) {
		return answer_error(p, latest, m->aux > total ? TOLL_TSL_ERR_MALFORMED : TOLL_TSL_ERR_BUSY,
				    m->aux > total ? "offset past the end of the snapshot" : "snapshot record unreadable");
	}
	uint64_t n = total - m->aux;
	uint32_t cap = m->max_bytes == 0 || m->max_bytes > CHUNK_MAX ? CHUNK_MAX : m->max_bytes;
	if (n > cap)
		n = cap;
	uint8_t *chunk = malloc(n > 0 ? n : 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got = chunk != NULL && fd >= 0 ? pread(fd, chunk, n, (off_t)m->aux) : -1;
	if (fd >= 0)
		close(fd);
	if (got != (ssize_t)n) {
		toll_err("list: snapshot %s: cannot read %" PRIu64 " bytes at %" PRIu64 ": %s", path, n, m->aux,
			 got < 0 ? strerror(errno) : "short read");
		free(chunk);
		return answer_error(p, latest, TOLL_TSL_ERR_BUSY, "snapshot file unreadable at central");
	}
	rc = toll_tsl_encode_snapshot(p->rbuf, TOLL_TSL_MAX_BYTES, version, m->aux, total, sha, sig,
				      toll_signer_key_id(p->c.key), chunk, (uint32_t)n, &len);
	free(chunk);
	if (rc != 0)
		return answer_error(p, latest, TOLL_TSL_ERR_BUSY, "central could not encode the chunk");
	bump(p, &p->st.answered_chunks, 1);
	return len;
}

static void *
rep_thread(void *arg)
{
	struct listpub *p = arg;
	struct cdb *db = NULL;
	char err[512];
	int64_t next_try = 0;

	while (!atomic_load(&p->stop)) {
		nng_msg *req;
		int rv = nng_recvmsg(p->rep, &req, 0);
		if (rv == NNG_ETIMEDOUT)
			continue;
		if (rv != 0)
			break; /* closed */
		bump(p, &p->st.requests, 1);
		struct toll_tsl_msg m;
		size_t len;
		int dberr = 0;
		if (toll_tsl_decode(nng_msg_body(req), nng_msg_len(req), &m) != 0 ||
		    (m.type != TOLL_TSL_GET_DELTAS && m.type != TOLL_TSL_GET_SNAPSHOT)) {
			len = answer_error(p, 0, TOLL_TSL_ERR_MALFORMED, "not a GET_DELTAS or GET_SNAPSHOT request");
		} else {
			if (db == NULL && toll_mono_ms() >= next_try) {
				if (cdb_connect(p->c.conninfo, p->c.role, &db, err, sizeof(err)) != 0) {
					toll_warn("list server: database: %s", err);
					db = NULL;
					next_try = toll_mono_ms() + 1000;
				}
			}
			if (db == NULL)
				len = answer_error(p, 0, TOLL_TSL_ERR_BUSY, "central's database is not answering");
			else if (m.type == TOLL_TSL_GET_DELTAS)
				len = serve_deltas(p, db, &m, err, sizeof(err), &dberr);
			else
				len = serve_snapshot(p, db, &m, err, sizeof(err), &dberr);
			if (dberr) {
				bump(p, &p->st.db_errors, 1);
				toll_warn("list server: %s", err);
				if (cdb_broken(db)) {
					cdb_close(db);
					db = NULL;
				}
			}
		}
		nng_msg_clear(req);
		if (len == 0 || nng_msg_append(req, p->rbuf, len) != 0 || nng_sendmsg(p->rep, req, 0) != 0)
			nng_msg_free(req);
	}
	cdb_close(db);
	return NULL;
}

/* ---- start and stop ------------------------------------------------------------ */

int
listpub_start(const struct listpub_conf *c, struct listpub **out, char *err, size_t errlen)
{
	struct listpub *p = calloc(1, sizeof(*p));
	int rv;
	if (p == NULL)
		return TOLL_ENOMEM;
	p->c = *c;
	snprintf(p->dir, sizeof(p->dir), "%s", c->dir);
	pthread_mutex_init(&p->mu, NULL);
	p->buf = malloc(TOLL_TSL_MAX_BYTES);
	p->rbuf = malloc(TOLL_TSL_MAX_BYTES);
	if (p->buf == NULL || p->rbuf == NULL) {
		listpub_stop(p);
		return TOLL_ENOMEM;
	}
	char probe[600];
	snprintf(probe, sizeof(probe), "%s/.probe", p->dir);
	int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "list.dir %.300s: cannot write there: %s", p->dir, strerror(errno));
		listpub_stop(p);
		return TOLL_ECONFIG;
	}
	close(fd);
	unlink(probe);
	if ((rv = nng_pub0_open(&p->pub)) != 0 || (rv = nng_listen(p->pub, c->publish_url, NULL, 0)) != 0) {
		snprintf(err, errlen, "list.publish %.255s: %s", c->publish_url, nng_strerror(rv));
		listpub_stop(p);
		return TOLL_ECONFIG;
	}
	if ((rv = nng_rep0_open(&p->rep)) != 0 || (rv = nng_listen(p->rep, c->listen_url, NULL, 0)) != 0) {
		snprintf(err, errlen, "list.listen %.255s: %s", c->listen_url, nng_strerror(rv));
		listpub_stop(p);
		return TOLL_ECONFIG;
	}
	nng_socket_set_ms(p->rep, NNG_OPT_RECVTIMEO, 200);
	nng_socket_set_ms(p->rep, NNG_OPT_SENDTIMEO, 1000);
	if (pthread_create(&p->pub_thread, NULL, pub_thread, p) == 0)
		p->have_pub_thread = 1;
	if (pthread_create(&p->rep_thread, NULL, rep_thread, p) == 0)
		p->have_rep_thread = 1;
	if (!p->have_pub_thread || !p->have_rep_thread) {
		snprintf(err, errlen, "list: cannot start threads");
		listpub_stop(p);
		return TOLL_ENOMEM;
	}
	*out = p;
	return 0;
}

void
listpub_stop(struct listpub *p)
{
	if (p == NULL)
		return;
	atomic_store(&p->stop, 1);
	if (p->have_pub_thread)
		pthread_join(p->pub_thread, NULL);
	if (p->have_rep_thread)
		pthread_join(p->rep_thread, NULL);
	nng_close(p->pub);
	nng_close(p->rep);
	free(p->buf);
	free(p->rbuf);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

void
listpub_stats(struct listpub *p, struct listpub_stats *st)
{
	pthread_mutex_lock(&p->mu);
	*st = p->st;
	pthread_mutex_unlock(&p->mu);
}
