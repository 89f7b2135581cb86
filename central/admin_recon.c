/* admin_recon.c: toll-admin reconcile lanes (admin.h): each lane's
 * journal against central's records of one day (docs/reconciliation.md).
 *
 *   reconcile lanes DAY [JOURNAL_DIR...] [--station ID] [--tz ZONE]
 *
 * The journals are read with the journal module itself (common/journal.c,
 * read-only: nothing is repaired), as toll-lane journal dump reads them,
 * not through its text: the records are the signed bytes central received,
 * so a record is the same at both ends when its SHA-256 is
 * (transactions.payload_hash), and its fields come from the one decoder
 * (common/txn.c).  A record belongs to the day its own time falls on in
 * the zone, at the lane and at central alike.
 *
 * Per lane (station, lane) of the day, one table: counts and fees per
 * outcome in the journal and at central; central's posting disposition of
 * every record (posted, no_charge, account_not_found, quarantined); the
 * toll entries of the posted ones; then every difference: records missing
 * at central (not yet acknowledged, or acknowledged and absent), extra at
 * central, another record under one lane seq, quarantined, open gaps, a
 * toll entry that is not the fee, a lane with records and no journal.
 * Records central holds below a journal's first (acknowledged, so the
 * lane deleted their segment) are counted, not differences. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "admin.h"
#include "crypto.h"
#include "err.h"
#include "journal.h"
#include "txn.h"

#define JOURNAL_REC_TXN 2 /* docs/journal-format.md: a signed transaction */
#define RECON_LANES_MAX 100000
#define RECON_DIFF_ROWS_MAX 10000 /* difference rows per lane; the rest counted */
#define NOUT (TOLL_OUT_MAX + 1)	  /* outcomes 1..8, 0 for any other */

struct jrec {
	uint64_t seq;
	int64_t time_ms, fee;
	uint32_t station;
	uint16_t lane;
	uint8_t outcome;
	uint8_t hash[32];
};

struct jlane {
	uint32_t station;
	uint16_t lane;
	uint64_t first, last, total; /* every record of the lane in the journals */
	int *dirs;		     /* journals holding it */
	size_t ndirs;
};

struct journals {
	char **dirs; /* journal directories found */
	size_t ndirs, capdirs;
	struct jrec *recs; /* the day's records, sorted by station, lane, seq */
	size_t n, cap;
	struct jlane *lanes;
	size_t nlanes, caplanes;
	uint64_t outside; /* records of other days */
};

/* ---- reading the journals -------------------------------------------------- */

static int
push_dir(struct journals *js, const char *path)
{
	if (js->ndirs == js->capdirs) {
		size_t nc = js->capdirs ? js->capdirs * 2 : 16;
		char **n = realloc(js->dirs, nc * sizeof(*n));
		if (n == NULL)
			return TOLL_ENOMEM;
		js->dirs = n;
		js->capdirs = nc;
	}
	if ((js->dirs[js->ndirs] = strdup(path)) == NULL)
		return TOLL_ENOMEM;
	js->ndirs++;
	return 0;
}

/* A journal directory: it holds segments (*.seg) or a cursor. */
static int
is_journal(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int yes = 0;

	if (d == NULL)
		return 0;
	while (!yes && (e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		yes = strcmp(e->d_name, "cursor") == 0 || (l > 4 && strcmp(e->d_name + l - 4, ".seg") == 0);
	}
	closedir(d);
	return yes;
}

static int
cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* DIR is a journal, a lane's directory holding one (DIR/journal), or a
 * toll-lane state directory whose lane-N/journal are taken in name order. */
static int
find_journals(struct journals *js, const char *dir)
{
	struct stat st;

	if (stat(dir, &st) != 0) {
		admin_fail("%s: %s", dir, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		admin_fail("%s: not a directory (want a lane's journal, or a toll-lane state directory)", dir);
		return 1;
	}
	if (is_journal(dir))
		return push_dir(js, dir) == 0 ? 0 : (admin_fail("out of memory"), 1);
	/* a lane's directory (STATE/lane-ID): its journal */
	char sub[4096];
	snprintf(sub, sizeof(sub), "%s/journal", dir);
	if (is_journal(sub))
		return push_dir(js, sub) == 0 ? 0 : (admin_fail("out of memory"), 1);
	DIR *d = opendir(dir);
	struct dirent *e;
	char **found = NULL;
	size_t nf = 0, cap = 0;
	int rc = 0;
	if (d == NULL) {
		admin_fail("could not read %s: %s", dir, strerror(errno));
		return 1;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		char path[4096];
		if (strncmp(e->d_name, "lane-", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s/journal", dir, e->d_name);
		if (!is_journal(path))
			continue;
		if (nf == cap) {
			size_t nc = cap ? cap * 2 : 8;
			char **n = realloc(found, nc * sizeof(*n));
			if (n == NULL) {
				rc = 1;
				break;
			}
			found = n;
			cap = nc;
		}
		if ((found[nf] = strdup(path)) == NULL) {
			rc = 1;
			break;
		}
		nf++;
	}
	closedir(d);
	if (rc == 0 && nf == 0) {
		admin_fail("%s: no journal there (want a lane's journal directory, or a toll-lane state directory with "
			   "lane-*/journal)",
			   dir);
		rc = 1;
	} else if (rc != 0) {
		admin_fail("out of memory");
	}
	if (rc == 0 && nf > 0)
		qsort(found, nf, sizeof(*found), cmp_str);
	for (size_t i = 0; i < nf; i++) {
		if (rc == 0 && push_dir(js, found[i]) != 0) {
			admin_fail("out of memory");
			rc = 1;
		}
		free(found[i]);
	}
	free(found);
	return rc;
}

static struct jlane *
lane_of(struct journals *js, uint32_t station, uint16_t lane)
{
	for (size_t i = js->nlanes; i-- > 0;)
		if (js->lanes[i].station == station && js->lanes[i].lane == lane)
			return &js->lanes[i];
	if (js->nlanes >= RECON_LANES_MAX)
		return NULL;
	if (js->nlanes == js->caplanes) {
		size_t nc = js->caplanes ? js->caplanes * 2 : 16;
		struct jlane *n = realloc(js->lanes, nc * sizeof(*n));
		if (n == NULL)
			return NULL;
		js->lanes = n;
		js->caplanes = nc;
	}
	struct jlane *l = &js->lanes[js->nlanes++];
	memset(l, 0, sizeof(*l));
	l->station = station;
	l->lane = lane;
	return l;
}

/* Each transaction record of journal `di`: fn(arg, record, its hash). */
typedef int (*each_fn)(void *arg, int di, const struct toll_txn *t, const uint8_t hash[32]);

static int
scan_journal(struct journals *js, int di, each_fn fn, void *arg)
{
	struct toll_journal_iter *it;
	uint64_t seq = 0;
	uint8_t type;
	const uint8_t *p;
	size_t len;
	int rc = toll_journal_iter_open_dir(js->dirs[di], 1, &it);

	if (rc != 0) {
		admin_fail("could not read journal %s: %s", js->dirs[di], toll_strerror(rc));
		return 1;
	}
	while ((rc = toll_journal_iter_next(it, &seq, &type, &p, &len)) == 0) {
		struct toll_txn t;
		uint8_t h[32];
		if (type != JOURNAL_REC_TXN)
			continue; /* tag reads, and types of later versions */
		if ((rc = toll_txn_decode(p, len, &t)) != 0) {
			admin_fail("journal %s, record %" PRIu64 ": the transaction does not decode: %s (toll-lane journal "
				   "verify tells more)",
				   js->dirs[di], seq, toll_strerror(rc));
			toll_journal_iter_close(it);
			return 1;
		}
		toll_sha256(p, len, h);
		if (fn(arg, di, &t, h) != 0) {
			toll_journal_iter_close(it);
			return 1;
		}
	}
	toll_journal_iter_close(it);
	if (rc != TOLL_EEMPTY) {
		admin_fail("journal %s is damaged after record %" PRIu64 ": %s (toll-lane journal verify tells more)",
			   js->dirs[di], seq, toll_strerror(rc));
		return 1;
	}
	return 0;
}

struct day {
	int64_t lo_ms, hi_ms;
	uint32_t station; /* 0: every station */
};

struct load_arg {
	struct journals *js;
	const struct day *day;
};

static int
load_one(void *arg, int di, const struct toll_txn *t, const uint8_t hash[32])
{
	struct load_arg *la = arg;
	struct journals *js = la->js;

	if (la->day->station != 0 && t->station_id != la->day->station)
		return 0;
	struct jlane *l = lane_of(js, t->station_id, t->lane_id);
	if (l == NULL) {
		admin_fail("out of memory (or more than %d lanes)", RECON_LANES_MAX);
		return 1;
	}
	if (l->total == 0 || t->lane_seq < l->first)
		l->first = t->lane_seq;
	if (t->lane_seq > l->last)
		l->last = t->lane_seq;
	l->total++;
	if (l->ndirs == 0 || l->dirs[l->ndirs - 1] != di) {
		int *n = realloc(l->dirs, (l->ndirs + 1) * sizeof(*n));
		if (n == NULL) {
			admin_fail("out of memory");
			return 1;
		}
		l->dirs = n;
		l->dirs[l->ndirs++] = di;
	}
	if (t->time_ms < la->day->lo_ms || t->time_ms >= la->day->hi_ms) {
		js->outside++;
		return 0;
	}
	if (js->n == js->cap) {
		size_t nc = js->cap ? js->cap * 2 : 1024;
		struct jrec *n = realloc(js->recs, nc * sizeof(*n));
		if (n == NULL) {
			admin_fail("out of memory");
			return 1;
		}
		js->recs = n;
		js->cap = nc;
	}
	struct jrec *r = &js->recs[js->n++];
	r->seq = t->lane_seq;
	r->time_ms = t->time_ms;
	r->fee = t->fee_vnd;
	r->station = t->station_id;
	r->lane = t->lane_id;
	r->outcome = t->outcome <= TOLL_OUT_MAX ? t->outcome : 0;
	memcpy(r->hash, hash, 32);
	return 0;
}

static int
cmp_jrec(const void *x, const void *y)
{
	const struct jrec *a = x, *b = y;
	if (a->station != b->station)
		return a->station < b->station ? -1 : 1;
	if (a->lane != b->lane)
		return a->lane < b->lane ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return memcmp(a->hash, b->hash, 32);
}

static void
journals_free(struct journals *js)
{
	for (size_t i = 0; i < js->ndirs; i++)
		free(js->dirs[i]);
	free(js->dirs);
	free(js->recs);
	for (size_t i = 0; i < js->nlanes; i++)
		free(js->lanes[i].dirs);
	free(js->lanes);
}

/* One journal record looked for again (a central record's seq that is not
 * among the day's journal records). */
struct probe_arg {
	uint32_t station;
	uint16_t lane;
	uint64_t seq;
	int found;
	struct jrec rec;
};

static int
probe_one(void *arg, int di, const struct toll_txn *t, const uint8_t hash[32])
{
	struct probe_arg *pa = arg;
	(void)di;
	if (pa->found || t->station_id != pa->station || t->lane_id != pa->lane || t->lane_seq != pa->seq)
		return 0;
	pa->found = 1;
	pa->rec.seq = t->lane_seq;
	pa->rec.time_ms = t->time_ms;
	pa->rec.fee = t->fee_vnd;
	pa->rec.outcome = t->outcome <= TOLL_OUT_MAX ? t->outcome : 0;
	memcpy(pa->rec.hash, hash, 32);
	return 0;
}

/* ---- the command ------------------------------------------------------------ */

int
admin_parse_reconcile_lanes(struct req *r, char **pos, char **opt, char *err, size_t errlen)
{
	if (admin_parse_day("day", pos[0], r->day, err, errlen) != 0)
		return 2;
	r->dirs = pos + 1;
	r->ndirs = r->npos - 1;
	if (opt[0] != NULL) {
		if (admin_parse_u64("--station", opt[0], 1, ADMIN_INT_ID_MAX, &r->station, err, errlen) != 0)
			return 2;
		r->has_station = 1;
	}
	r->zone = opt[1] != NULL ? opt[1] : ADMIN_ZONE_DEFAULT;
	return admin_check_zone_name("--tz", r->zone, err, errlen) != 0 ? 2 : 0;
}

struct out {
	struct admin *a;
	struct admin_table *t;
	uint32_t station;
	uint16_t lane;
	size_t diffs;	      /* difference rows of the run */
	size_t lane_diffs;    /* of this lane */
	size_t dropped;	      /* of this lane, past RECON_DIFF_ROWS_MAX */
	int failed;
};

static void
row(struct out *o, const char *item, const char *jn, const char *jv, const char *cn, const char *cv, const char *seq,
    const char *detail, const char *result)
{
	char st[16], ln[8], m1[ADMIN_MONEY_CELL], m2[ADMIN_MONEY_CELL];

	if (o->failed)
		return;
	snprintf(st, sizeof(st), "%" PRIu32, o->station);
	snprintf(ln, sizeof(ln), "%u", o->lane);
	const char *cells[10] = {st,
				 ln,
				 item,
				 jn,
				 jv != NULL && jv[0] ? admin_money_text(o->a, jv, m1, 0) : "",
				 cn,
				 cv != NULL && cv[0] ? admin_money_text(o->a, cv, m2, 0) : "",
				 seq,
				 detail,
				 result};
	if (admin_out_add(o->t, cells) != 0)
		o->failed = 1;
}

/* A difference; past the bound per lane, counted only. */
static void
diff(struct out *o, const char *item, const char *jn, const char *jv, const char *cn, const char *cv,
     const char *seq, const char *detail)
{
	o->diffs++;
	o->lane_diffs++;
	if (o->lane_diffs > RECON_DIFF_ROWS_MAX) {
		o->dropped++;
		return;
	}
	row(o, item, jn, jv, cn, cv, seq, detail, "DIFFERS");
}

/* Consecutive lane seqs of one kind of difference, as one row. */
struct run {
	const char *item;
	int side; /* 'j' journal counts, 'c' central counts */
	char detail[160];
	uint64_t from, to, n;
	int64_t vnd;
	int open;
};

static void
run_flush(struct out *o, struct run *u)
{
	char n[24], v[24], seq[48];

	if (!u->open)
		return;
	snprintf(n, sizeof(n), "%" PRIu64, u->n);
	snprintf(v, sizeof(v), "%" PRId64, u->vnd);
	if (u->from == u->to)
		snprintf(seq, sizeof(seq), "%" PRIu64, u->from);
	else
		snprintf(seq, sizeof(seq), "%" PRIu64 "-%" PRIu64, u->from, u->to);
	if (u->side == 'j')
		diff(o, u->item, n, v, "", "", seq, u->detail);
	else
		diff(o, u->item, "", "", n, v, seq, u->detail);
	u->open = 0;
}

static void
run_add(struct out *o, struct run *u, const char *item, int side, const char *detail, uint64_t seq, int64_t vnd)
{
	if (u->open && (u->item != item || u->side != side || strcmp(u->detail, detail) != 0 || seq != u->to + 1))
		run_flush(o, u);
	if (!u->open) {
		u->open = 1;
		u->item = item;
		u->side = side;
		snprintf(u->detail, sizeof(u->detail), "%s", detail);
		u->from = seq;
		u->n = 0;
		u->vnd = 0;
	}
	u->to = seq;
	u->n++;
	u->vnd += vnd;
}

/* central's record of a lane seq */
struct crec {
	uint64_t seq;
	int64_t fee, ledger_vnd;
	uint8_t outcome;
	int in_day, has_ledger, matched;
	char disposition[24];
	uint8_t hash[32];
};

struct qrec {
	uint64_t seq; /* 0: unknown */
	int64_t fee;  /* as the record claims; -1 unknown */
	char reason[40];
	uint8_t hash[32];
	int in_day, matched;
	char seen[16];
};

static const char *
outcome_name(int o)
{
	const char *n = o > 0 ? toll_outcome_name(o) : NULL;
	return n != NULL ? n : "other";
}

static int
hex32(const char *s, uint8_t out[32])
{
	return toll_hex_decode(s, out, 32);
}

/* One lane of the day. */
static int
reconcile_lane(struct out *o, struct journals *js, const struct day *day, uint32_t station, uint16_t lane,
	       const struct jrec *jr, size_t jn)
{
	struct admin *a = o->a;
	struct jlane *jl = NULL;
	PGresult *res = NULL;
	struct crec *cr = NULL;
	struct qrec *qr = NULL;
	size_t ncr = 0, nqr = 0;
	char *seqs = NULL;
	char st[16], ln[8], lo[24], hi[24], detail[200], n1[24], v1[24], n2[24], v2[24];
	int rc = 1;

	o->station = station;
	o->lane = lane;
	o->lane_diffs = 0;
	o->dropped = 0;
	for (size_t i = 0; i < js->nlanes; i++)
		if (js->lanes[i].station == station && js->lanes[i].lane == lane)
			jl = &js->lanes[i];
	snprintf(st, sizeof(st), "%" PRIu32, station);
	snprintf(ln, sizeof(ln), "%u", lane);
	snprintf(lo, sizeof(lo), "%" PRId64, day->lo_ms);
	snprintf(hi, sizeof(hi), "%" PRId64, day->hi_ms);

	/* the journal's seqs of the day, as an array literal */
	size_t cap = 3 + jn * 21;
	if ((seqs = malloc(cap)) == NULL) {
		admin_fail("out of memory");
		goto out;
	}
	size_t off = 0;
	seqs[off++] = '{';
	for (size_t i = 0; i < jn; i++)
		off += (size_t)snprintf(seqs + off, cap - off, "%s%" PRIu64, i ? "," : "", jr[i].seq);
	seqs[off++] = '}';
	seqs[off] = 0;

	/* central's records of the lane: the day's, and the journal's seqs */
	const char *p[5] = {st, ln, lo, hi, seqs};
	if (admin_sql(a, &res,
		      "SELECT t.lane_seq, t.outcome, t.fee_vnd, t.disposition, encode(t.payload_hash, 'hex'),"
		      " t.time_ms >= $3::bigint AND t.time_ms < $4::bigint, e.amount_vnd"
		      " FROM transactions t LEFT JOIN ledger_entries e ON e.kind = 'toll' AND e.txn_id = t.txn_id"
		      " WHERE t.station_id = $1 AND t.lane_id = $2"
		      " AND ((t.time_ms >= $3::bigint AND t.time_ms < $4::bigint) OR t.lane_seq = ANY($5::bigint[]))"
		      " ORDER BY t.lane_seq",
		      5, p) != 0) {
		admin_db_fail(a, "could not read the records of lane %s/%s", st, ln);
		goto out;
	}
	ncr = (size_t)PQntuples(res);
	if ((cr = calloc(ncr + 1, sizeof(*cr))) == NULL) {
		admin_fail("out of memory");
		goto out;
	}
	for (size_t i = 0; i < ncr; i++) {
		int k = (int)i;
		cr[i].seq = strtoull(admin_val(res, k, 0), NULL, 10);
		cr[i].outcome = (uint8_t)strtoul(admin_val(res, k, 1), NULL, 10);
		if (cr[i].outcome > TOLL_OUT_MAX)
			cr[i].outcome = 0;
		cr[i].fee = strtoll(admin_val(res, k, 2), NULL, 10);
		snprintf(cr[i].disposition, sizeof(cr[i].disposition), "%s", admin_val(res, k, 3));
		(void)hex32(admin_val(res, k, 4), cr[i].hash);
		cr[i].in_day = strcmp(admin_val(res, k, 5), "t") == 0;
		cr[i].has_ledger = !PQgetisnull(res, k, 6);
		cr[i].ledger_vnd = strtoll(admin_val(res, k, 6), NULL, 10);
	}
	PQclear(res);
	res = NULL;

	/* what central kept aside for the lane: the day's (by the time the
	 * record claims, else when it came) and the journal's seqs */
	const char *pq[5] = {st, ln, lo, hi, seqs};
	if (admin_sql(a, &res,
		      "SELECT COALESCE(lane_seq, 0), COALESCE(toll_payload_i64(payload, 120), -1), reason,"
		      " encode(payload_hash, 'hex'), COALESCE(toll_payload_i64(payload, 40) >= $3::bigint"
		      "  AND toll_payload_i64(payload, 40) < $4::bigint,"
		      "  first_seen >= toll_ms_time($3::bigint) AND first_seen < toll_ms_time($4::bigint)), seen"
		      " FROM quarantine WHERE station_id = $1 AND lane_id = $2"
		      " AND (lane_seq = ANY($5::bigint[]) OR COALESCE(toll_payload_i64(payload, 40) >= $3::bigint"
		      "  AND toll_payload_i64(payload, 40) < $4::bigint,"
		      "  first_seen >= toll_ms_time($3::bigint) AND first_seen < toll_ms_time($4::bigint)))"
		      " ORDER BY lane_seq, id LIMIT 100000",
		      5, pq) != 0) {
		admin_db_fail(a, "could not read the quarantine of lane %s/%s", st, ln);
		goto out;
	}
	nqr = (size_t)PQntuples(res);
	if ((qr = calloc(nqr + 1, sizeof(*qr))) == NULL) {
		admin_fail("out of memory");
		goto out;
	}
	for (size_t i = 0; i < nqr; i++) {
		int k = (int)i;
		qr[i].seq = strtoull(admin_val(res, k, 0), NULL, 10);
		qr[i].fee = strtoll(admin_val(res, k, 1), NULL, 10);
		snprintf(qr[i].reason, sizeof(qr[i].reason), "%s", admin_val(res, k, 2));
		(void)hex32(admin_val(res, k, 3), qr[i].hash);
		qr[i].in_day = strcmp(admin_val(res, k, 4), "t") == 0;
		snprintf(qr[i].seen, sizeof(qr[i].seen), "%s", admin_val(res, k, 5));
	}
	PQclear(res);
	res = NULL;

	/* the lane: registered, how far central acknowledged it */
	const char *pl[2] = {st, ln};
	if (admin_sql(a, &res,
		      "SELECT EXISTS (SELECT 1 FROM lanes WHERE station_id = $1 AND lane_id = $2),"
		      " COALESCE((SELECT acked_seq FROM lane_progress WHERE station_id = $1 AND lane_id = $2), 0)",
		      2, pl) != 0) {
		admin_db_fail(a, "could not read lane %s/%s", st, ln);
		goto out;
	}
	int registered = strcmp(admin_val(res, 0, 0), "t") == 0;
	uint64_t acked = strtoull(admin_val(res, 0, 1), NULL, 10);
	PQclear(res);
	res = NULL;

	/* the quarantined records that are the journal's, by their bytes */
	for (size_t k = 0; k < nqr; k++)
		for (size_t i = 0; i < jn && !qr[k].matched; i++)
			if (memcmp(qr[k].hash, jr[i].hash, 32) == 0)
				qr[k].matched = 1;

	/* a lane of the journals with nothing of the day anywhere: only
	 * the gaps found on the day, if any */
	int empty = jn == 0 && nqr == 0;
	for (size_t i = 0; empty && i < ncr; i++)
		empty = !cr[i].in_day;

	/* ---- counts per outcome: the journal's day and central's ---- */
	uint64_t jc[NOUT] = {0}, cc[NOUT] = {0};
	int64_t jv[NOUT] = {0}, cv[NOUT] = {0};
	for (size_t i = 0; i < jn; i++) {
		jc[jr[i].outcome]++;
		jv[jr[i].outcome] += jr[i].fee;
	}
	uint64_t posted = 0, nocharge = 0, anf = 0, ledger_n = 0, pruned = 0, quar = 0;
	int64_t posted_v = 0, nocharge_v = 0, anf_v = 0, ledger_v = 0, pruned_v = 0, quar_v = 0;
	uint64_t pruned_from = 0, pruned_to = 0;
	for (size_t i = 0; i < ncr; i++) {
		if (!cr[i].in_day)
			continue;
		if (jl != NULL && cr[i].seq < jl->first) {
			/* acknowledged long ago: the lane deleted that segment */
			if (pruned == 0)
				pruned_from = cr[i].seq;
			pruned_to = cr[i].seq;
			pruned++;
			pruned_v += cr[i].fee;
			continue;
		}
		cc[cr[i].outcome]++;
		cv[cr[i].outcome] += cr[i].fee;
		if (strcmp(cr[i].disposition, "posted") == 0) {
			posted++;
			posted_v += cr[i].fee;
			if (cr[i].has_ledger) {
				ledger_n++;
				ledger_v += cr[i].ledger_vnd;
			}
		} else if (strcmp(cr[i].disposition, "no_charge") == 0) {
			nocharge++;
			nocharge_v += cr[i].fee;
		} else {
			anf++;
			anf_v += cr[i].fee;
		}
	}
	for (size_t i = 0; i < nqr; i++)
		if (qr[i].in_day || qr[i].matched) {
			quar++;
			quar_v += qr[i].fee > 0 ? qr[i].fee : 0;
		}
	for (int k = 1; k <= NOUT; k++) {
		int oc = k % NOUT; /* 1..8, then 0 (other) */
		if (jc[oc] == 0 && cc[oc] == 0)
			continue;
		snprintf(n1, sizeof(n1), "%" PRIu64, jc[oc]);
		snprintf(v1, sizeof(v1), "%" PRId64, jv[oc]);
		snprintf(n2, sizeof(n2), "%" PRIu64, cc[oc]);
		snprintf(v2, sizeof(v2), "%" PRId64, cv[oc]);
		int same = jc[oc] == cc[oc] && jv[oc] == cv[oc];
		row(o, outcome_name(oc), jl ? n1 : "", jl ? v1 : "", n2, v2, "", "",
		    jl == NULL ? "" : same ? "matched" : "differs");
	}
	/* central's disposition of the day's records */
	if (empty)
		goto gaps;
	snprintf(n2, sizeof(n2), "%" PRIu64, posted);
	snprintf(v2, sizeof(v2), "%" PRId64, posted_v);
	row(o, "disposition posted", "", "", n2, v2, "", "a toll entry each", "");
	if (nocharge > 0) {
		snprintf(n2, sizeof(n2), "%" PRIu64, nocharge);
		snprintf(v2, sizeof(v2), "%" PRId64, nocharge_v);
		row(o, "disposition no_charge", "", "", n2, v2, "", "nothing to debit", "");
	}
	if (anf > 0) {
		snprintf(n2, sizeof(n2), "%" PRIu64, anf);
		snprintf(v2, sizeof(v2), "%" PRId64, anf_v);
		row(o, "disposition account_not_found", "", "", n2, v2, "", "a charge central could not post", "");
	}
	if (quar > 0) {
		snprintf(n2, sizeof(n2), "%" PRIu64, quar);
		snprintf(v2, sizeof(v2), "%" PRId64, quar_v);
		row(o, "disposition quarantined", "", "", n2, v2, "", "kept aside, never settled (fees as claimed)", "");
	}
	snprintf(n1, sizeof(n1), "%" PRIu64, ledger_n);
	snprintf(v1, sizeof(v1), "%" PRId64, ledger_v);
	row(o, "ledger tolls", "", "", n1, v1, "", "the posted records' toll entries",
	    ledger_n == posted && ledger_v == posted_v ? "matched" : "differs");
	if (pruned > 0) {
		char seq[48], d[160];
		snprintf(n2, sizeof(n2), "%" PRIu64, pruned);
		snprintf(v2, sizeof(v2), "%" PRId64, pruned_v);
		snprintf(seq, sizeof(seq), "%" PRIu64 "-%" PRIu64, pruned_from, pruned_to);
		snprintf(d, sizeof(d), "below the journal's first record (seq %" PRIu64 "): acknowledged, deleted by the lane",
			 jl->first);
		row(o, "before the journal", "", "", n2, v2, seq, d, "");
	}

	/* ---- record by record ---- */
	struct run u;
	memset(&u, 0, sizeof(u));
	if (jl == NULL) {
		uint64_t n = 0;
		int64_t v = 0;
		for (size_t i = 0; i < ncr; i++)
			if (cr[i].in_day) {
				n++;
				v += cr[i].fee;
			}
		if (n > 0) {
			snprintf(n2, sizeof(n2), "%" PRIu64, n);
			snprintf(v2, sizeof(v2), "%" PRId64, v);
			diff(o, "no-journal", "", "", n2, v2, "", "central has records of the day; no journal of the lane given");
		}
	}
	if (jl != NULL && !registered)
		diff(o, "unknown-lane", "", "", "", "", "", "the journal's lane is not registered at central");
	size_t ci = 0;
	for (size_t i = 0; i < jn; i++) {
		const struct jrec *j = &jr[i];
		if (i > 0 && jr[i - 1].seq == j->seq) {
			/* two journals, two records under one seq */
			snprintf(n1, sizeof(n1), "%" PRIu64, j->seq);
			snprintf(detail, sizeof(detail), "the journals hold two different records under seq %" PRIu64,
				 j->seq);
			run_flush(o, &u);
			diff(o, "journal-conflict", "2", "", "", "", n1, detail);
			continue;
		}
		while (ci < ncr && cr[ci].seq < j->seq)
			ci++;
		if (ci < ncr && cr[ci].seq == j->seq) {
			struct crec *c = &cr[ci];
			c->matched = 1;
			if (memcmp(c->hash, j->hash, 32) == 0) {
				if (strcmp(c->disposition, "posted") == 0 && (!c->has_ledger || c->ledger_vnd != c->fee)) {
					run_flush(o, &u);
					snprintf(n1, sizeof(n1), "%" PRIu64, j->seq);
					snprintf(v2, sizeof(v2), "%" PRId64, c->ledger_vnd);
					snprintf(detail, sizeof(detail), c->has_ledger ? "posted; its toll entry is not its fee"
										      : "posted; no toll entry in the ledger");
					diff(o, "ledger", "1", "", "1", c->has_ledger ? v2 : "", n1, detail);
				}
				continue;
			}
			run_flush(o, &u);
			snprintf(n1, sizeof(n1), "%" PRIu64, j->seq);
			snprintf(v1, sizeof(v1), "%" PRId64, j->fee);
			snprintf(v2, sizeof(v2), "%" PRId64, c->fee);
			snprintf(detail, sizeof(detail), "another record under this seq: the journal's %s, central's %s",
				 outcome_name(j->outcome), outcome_name(c->outcome));
			diff(o, "different-record", "1", v1, "1", v2, n1, detail);
			continue;
		}
		/* kept aside at central? */
		int q = -1;
		for (size_t k = 0; k < nqr; k++)
			if (memcmp(qr[k].hash, j->hash, 32) == 0) {
				q = (int)k;
				break;
			}
		if (q >= 0) {
			run_flush(o, &u);
			snprintf(n1, sizeof(n1), "%" PRIu64, j->seq);
			snprintf(v1, sizeof(v1), "%" PRId64, j->fee);
			snprintf(detail, sizeof(detail), "central quarantined it: %s (seen %s times)", qr[q].reason,
				 qr[q].seen);
			diff(o, "quarantined", "1", v1, "", "", n1, detail);
			continue;
		}
		if (j->seq > acked)
			snprintf(detail, sizeof(detail), "not yet acknowledged (central's acked_seq %" PRIu64 ")", acked);
		else
			snprintf(detail, sizeof(detail), "acknowledged (acked_seq %" PRIu64 ") but not at central", acked);
		run_add(o, &u, "missing-at-central", 'j', detail, j->seq, j->fee);
	}
	run_flush(o, &u);
	/* central's records of the day the journal's day does not have */
	for (size_t i = 0; jl != NULL && i < ncr; i++) {
		struct crec *c = &cr[i];
		if (c->matched || !c->in_day || c->seq < jl->first)
			continue;
		if (c->seq > jl->last) {
			snprintf(detail, sizeof(detail), "after the journal's last record (seq %" PRIu64 "): an older copy?",
				 jl->last);
			run_add(o, &u, "extra-at-central", 'c', detail, c->seq, c->fee);
			continue;
		}
		/* within the journal's seqs but not among its day: look
		 * again (another day's record under this seq?) */
		struct probe_arg pa = {station, lane, c->seq, 0, {0}};
		for (size_t k = 0; k < jl->ndirs && !pa.found; k++)
			if (scan_journal(js, jl->dirs[k], probe_one, &pa) != 0)
				goto out;
		if (pa.found && memcmp(pa.rec.hash, c->hash, 32) != 0) {
			run_flush(o, &u);
			snprintf(n1, sizeof(n1), "%" PRIu64, c->seq);
			snprintf(v1, sizeof(v1), "%" PRId64, pa.rec.fee);
			snprintf(v2, sizeof(v2), "%" PRId64, c->fee);
			snprintf(detail, sizeof(detail),
				 "another record under this seq: the journal's %s (another day), central's %s",
				 outcome_name(pa.rec.outcome), outcome_name(c->outcome));
			diff(o, "different-record", "1", v1, "1", v2, n1, detail);
			continue;
		}
		run_add(o, &u, "extra-at-central", 'c', "not in the journal", c->seq, c->fee);
	}
	run_flush(o, &u);
	/* records central kept aside for the lane that are not the lane's */
	for (size_t k = 0; jl != NULL && k < nqr; k++) {
		if (qr[k].matched || (qr[k].seq != 0 && qr[k].seq < jl->first))
			continue;
		snprintf(n1, sizeof(n1), "%" PRIu64, qr[k].seq);
		snprintf(v2, sizeof(v2), "%" PRId64, qr[k].fee);
		if (qr[k].seq > jl->last) {
			snprintf(detail, sizeof(detail),
				 "central quarantined it: %s (seen %s times); after the journal's last record (seq %" PRIu64
				 "): an older copy?",
				 qr[k].reason, qr[k].seen, jl->last);
			diff(o, "quarantined", "", "", "1", qr[k].fee >= 0 ? v2 : "", n1, detail);
			continue;
		}
		snprintf(detail, sizeof(detail), "quarantined (%s, seen %s times), not a record of the lane's journal",
			 qr[k].reason, qr[k].seen);
		diff(o, "quarantined-foreign", "", "", "1", qr[k].fee >= 0 ? v2 : "", qr[k].seq ? n1 : "", detail);
	}
gaps:
	/* open gaps over the day's seqs, or found on the day */
	uint64_t smin = UINT64_MAX, smax = 0;
	for (size_t i = 0; i < jn; i++) {
		smin = jr[i].seq < smin ? jr[i].seq : smin;
		smax = jr[i].seq > smax ? jr[i].seq : smax;
	}
	for (size_t i = 0; i < ncr; i++)
		if (cr[i].in_day) {
			smin = cr[i].seq < smin ? cr[i].seq : smin;
			smax = cr[i].seq > smax ? cr[i].seq : smax;
		}
	{
		char a1[24], a2[24];
		snprintf(a1, sizeof(a1), "%" PRIu64, smin <= smax ? smin : 1);
		snprintf(a2, sizeof(a2), "%" PRIu64, smin <= smax ? smax : 0);
		const char *pg[6] = {st, ln, a1, a2, lo, hi};
		if (admin_sql(a, &res,
			      "SELECT from_seq, to_seq, " TS("found_at") " FROM gaps WHERE station_id = $1 AND lane_id = $2"
			      " AND filled_at IS NULL AND ((from_seq <= $4::bigint AND to_seq >= $3::bigint)"
			      "  OR (found_at >= toll_ms_time($5::bigint) AND found_at < toll_ms_time($6::bigint)))"
			      " ORDER BY from_seq",
			      6, pg) != 0) {
			admin_db_fail(a, "could not read the gaps of lane %s/%s", st, ln);
			goto out;
		}
		for (int i = 0; i < PQntuples(res); i++) {
			char seq[48];
			snprintf(seq, sizeof(seq), "%s-%s", admin_val(res, i, 0), admin_val(res, i, 1));
			snprintf(detail, sizeof(detail), "an open gap at central since %s", admin_val(res, i, 2));
			diff(o, "gap", "", "", "", "", seq, detail);
		}
		PQclear(res);
		res = NULL;
	}
	if (o->dropped > 0) {
		snprintf(detail, sizeof(detail), "%zu more differences of this lane not shown", o->dropped);
		row(o, "more", "", "", "", "", "", detail, "DIFFERS");
	}
	rc = o->failed ? 1 : 0;
out:
	PQclear(res);
	free(seqs);
	free(cr);
	free(qr);
	return rc;
}

struct lane_id {
	uint32_t station;
	uint16_t lane;
};

static int
cmp_lane_id(const void *x, const void *y)
{
	const struct lane_id *a = x, *b = y;
	if (a->station != b->station)
		return a->station < b->station ? -1 : 1;
	return a->lane < b->lane ? -1 : a->lane > b->lane;
}

int
admin_run_reconcile_lanes(struct admin *a, const struct req *r)
{
	static const char *const names[] = {"station", "lane", "item", "journal", "journal_vnd", "central",
					    "central_vnd", "lane_seq", "detail", "result"};
	struct journals js;
	struct day day;
	struct lane_id *lanes = NULL;
	size_t nl = 0;
	PGresult *res = NULL;
	struct out o;
	int rc = 1;

	memset(&js, 0, sizeof(js));
	memset(&o, 0, sizeof(o));
	o.a = a;
	if (admin_check_zone(a, r->zone) != 0)
		return 1;
	const char *pd[2] = {r->day, r->zone};
	if (admin_sql(a, &res,
		      "SELECT (extract(epoch FROM $1::date::timestamp AT TIME ZONE $2) * 1000)::bigint,"
		      " (extract(epoch FROM ($1::date + 1)::timestamp AT TIME ZONE $2) * 1000)::bigint",
		      2, pd) != 0)
		return admin_db_fail(a, "could not work out the day %s in %s", r->day, r->zone);
	day.lo_ms = strtoll(admin_val(res, 0, 0), NULL, 10);
	day.hi_ms = strtoll(admin_val(res, 0, 1), NULL, 10);
	day.station = r->has_station ? (uint32_t)r->station : 0;
	PQclear(res);
	res = NULL;

	/* the journals: every record's lane, the day's records */
	for (int i = 0; i < r->ndirs; i++)
		if (find_journals(&js, r->dirs[i]) != 0)
			goto out;
	struct load_arg la = {&js, &day};
	for (size_t i = 0; i < js.ndirs; i++)
		if (scan_journal(&js, (int)i, load_one, &la) != 0)
			goto out;
	if (js.n > 0)
		qsort(js.recs, js.n, sizeof(*js.recs), cmp_jrec);
	/* the same record in two journals (a copy) once */
	size_t w = 0;
	for (size_t i = 0; i < js.n; i++) {
		if (w > 0 && js.recs[w - 1].station == js.recs[i].station && js.recs[w - 1].lane == js.recs[i].lane &&
		    js.recs[w - 1].seq == js.recs[i].seq && memcmp(js.recs[w - 1].hash, js.recs[i].hash, 32) == 0)
			continue;
		js.recs[w++] = js.recs[i];
	}
	js.n = w;

	/* the lanes: the journals', and those with records of the day at
	 * central (kept or kept aside) */
	char lo[24], hi[24], sta[24];
	snprintf(lo, sizeof(lo), "%" PRId64, day.lo_ms);
	snprintf(hi, sizeof(hi), "%" PRId64, day.hi_ms);
	snprintf(sta, sizeof(sta), "%" PRIu64, r->station);
	const char *pl[3] = {lo, hi, r->has_station ? sta : NULL};
	if (admin_sql(a, &res,
		      "SELECT station_id, lane_id FROM transactions WHERE time_ms >= $1::bigint AND time_ms < $2::bigint"
		      " AND ($3::integer IS NULL OR station_id = $3::integer) GROUP BY 1, 2"
		      " UNION SELECT station_id, lane_id FROM quarantine"
		      " WHERE COALESCE(toll_payload_i64(payload, 40) >= $1::bigint AND toll_payload_i64(payload, 40) < $2::bigint,"
		      "  first_seen >= toll_ms_time($1::bigint) AND first_seen < toll_ms_time($2::bigint))"
		      " AND ($3::integer IS NULL OR station_id = $3::integer)",
		      3, pl) != 0) {
		admin_db_fail(a, "could not list the lanes of %s", r->day);
		goto out;
	}
	size_t cap = js.nlanes + (size_t)PQntuples(res) + 1;
	if ((lanes = calloc(cap, sizeof(*lanes))) == NULL) {
		admin_fail("out of memory");
		goto out;
	}
	for (size_t i = 0; i < js.nlanes; i++)
		lanes[nl++] = (struct lane_id){js.lanes[i].station, js.lanes[i].lane};
	for (int i = 0; i < PQntuples(res); i++) {
		unsigned long long s = strtoull(admin_val(res, i, 0), NULL, 10), l = strtoull(admin_val(res, i, 1), NULL, 10);
		if (s > UINT32_MAX || l > UINT16_MAX)
			continue; /* not a lane a record can name */
		lanes[nl++] = (struct lane_id){(uint32_t)s, (uint16_t)l};
	}
	PQclear(res);
	res = NULL;
	qsort(lanes, nl, sizeof(*lanes), cmp_lane_id);
	size_t k = 0;
	for (size_t i = 0; i < nl; i++)
		if (k == 0 || cmp_lane_id(&lanes[k - 1], &lanes[i]) != 0)
			lanes[k++] = lanes[i];
	nl = k;

	if (admin_out_new(10, names, "rrlrrrrlll", &o.t) != 0)
		goto out;
	size_t j = 0;
	for (size_t i = 0; i < nl; i++) {
		while (j < js.n && cmp_lane_id(&(struct lane_id){js.recs[j].station, js.recs[j].lane}, &lanes[i]) < 0)
			j++;
		size_t j0 = j;
		while (j < js.n && js.recs[j].station == lanes[i].station && js.recs[j].lane == lanes[i].lane)
			j++;
		if (reconcile_lane(&o, &js, &day, lanes[i].station, lanes[i].lane, js.recs + j0, j - j0) != 0)
			goto out;
	}
	admin_table_print(o.t, a->csv, a->out);
	if (!a->csv) {
		size_t jt = js.n;
		fprintf(a->out, "%s (%s): %zu lane%s, %zu record%s of the day in %zu journal%s: %zu difference%s\n", r->day,
			r->zone, nl, nl == 1 ? "" : "s", jt, jt == 1 ? "" : "s", js.ndirs, js.ndirs == 1 ? "" : "s",
			o.diffs, o.diffs == 1 ? "" : "s");
	}
	rc = o.diffs > 0 ? 1 : 0;
	if (rc != 0)
		admin_fail("%s: %zu difference%s between the lanes' journals and central", r->day, o.diffs,
			   o.diffs == 1 ? "" : "s");
out:
	admin_table_free(o.t);
	PQclear(res);
	free(lanes);
	journals_free(&js);
	return rc;
}
