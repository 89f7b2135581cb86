/* api.c: see api.h.  libmicrohttpd for HTTP (and TLS), jansson for
 * JSON, libpq through cdb; every money decision is in SQL
 * (central/sql/005_partners.sql), one transaction a request. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cdb.h"
#include "clock.h"
#include "crypto.h"
#include "err.h"
#include "log.h"

#define MAX_THREADS       256
#define PARTNER_ID_MAX    32
#define SECRET_MAX        256
#define KEY_MAX           64 /* Idempotency-Key */
#define REF_MAX           64 /* partner_ref */
#define REASON_MAX        200
#define UNKNOWN_RELOAD_MS 1000 /* an unknown partner reloads the table at most this often */

struct partner {
	char id[PARTNER_ID_MAX + 1];
	uint8_t secret[SECRET_MAX];
	size_t secret_len;
	int64_t min_vnd, max_vnd;
	int active;
};

struct api {
	struct api_conf c;
	struct MHD_Daemon *d;
	pthread_mutex_t mu; /* stats, partners, dbs */
	struct api_stats st;
	struct partner *partners;
	size_t npartners;
	int64_t partners_at, last_unknown_reload;
	int reloading;
	pthread_cond_t reloaded; /* reloading went back to 0 */
	struct cdb *dbs[MAX_THREADS];
	int ndbs;
	char *cert_pem, *key_pem;
	int64_t last_prune;
};

/* Each HTTP thread's connection (one api a process). */
static __thread struct cdb *tdb;

struct req {
	char *body;
	size_t len, cap;
	int too_large;
};

static const char *const outcome_names[API_OUTCOMES] = {
	"ok",     "retried",   "bad-request", "amount",   "no-auth",   "unknown-partner", "stale", "bad-signature",
	"replay", "not-found", "method",      "conflict", "too-large", "unavailable",
};

const char *
api_outcome_name(unsigned o)
{
	return o < API_OUTCOMES ? outcome_names[o] : "?";
}

static void
count(struct api *a, enum api_outcome o, int64_t up, int64_t back)
{
	pthread_mutex_lock(&a->mu);
	a->st.requests++;
	a->st.by[o]++;
	a->st.topped_up_vnd += up;
	a->st.reversed_vnd += back;
	pthread_mutex_unlock(&a->mu);
}

/* ---- answers ------------------------------------------------------------- */

static enum MHD_Result
send_json(struct MHD_Connection *conn, unsigned status, const char *body)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (status == 503)
		MHD_add_response_header(r, "Retry-After", "1");
	enum MHD_Result rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* An error answer {"error": code, "message": text}, counted. */
static enum MHD_Result
refuse(struct api *a, struct MHD_Connection *conn, enum api_outcome o, unsigned status, const char *code,
       const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *j = json_pack("{s:s, s:s}", "error", code, "message", msg);
	char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	count(a, o, 0, 0);
	enum MHD_Result rc = send_json(conn, status, text != NULL ? text : "{\"error\":\"internal\"}");
	free(text);
	return rc;
}

/* ---- the database ----------------------------------------------------------- */

static struct cdb *
thread_db(struct api *a)
{
	if (tdb != NULL && cdb_broken(tdb)) {
		pthread_mutex_lock(&a->mu);
		for (int i = 0; i < a->ndbs; i++)
			if (a->dbs[i] == tdb)
				a->dbs[i] = a->dbs[--a->ndbs];
		pthread_mutex_unlock(&a->mu);
		cdb_close(tdb);
		tdb = NULL;
	}
	if (tdb == NULL) {
		char err[300];
		struct cdb *db;
		if (cdb_connect(a->c.conninfo, a->c.role, &db, err, sizeof(err)) != 0) {
			toll_warn("api: database: %s", err);
			return NULL;
		}
		pthread_mutex_lock(&a->mu);
		if (a->ndbs < MAX_THREADS) {
			a->dbs[a->ndbs++] = db;
			tdb = db;
		}
		pthread_mutex_unlock(&a->mu);
		if (tdb == NULL)
			cdb_close(db);
	}
	return tdb;
}

static int
load_partners(struct api *a, struct cdb *db)
{
	PGresult *r;
	char err[300];
	int rc = cdb_query(db, "SELECT id, secret, min_amount_vnd, max_amount_vnd, active FROM partners ORDER BY id", 0,
			   NULL, &r, err, sizeof(err));
	if (rc != 0) {
		toll_warn("api: partners: %s", err);
		return rc;
	}
	size_t n = (size_t)PQntuples(r);
	struct partner *v = calloc(n ? n : 1, sizeof(*v));
	if (v == NULL) {
		PQclear(r);
		return TOLL_ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len = 0;
		unsigned char *sec = PQunescapeBytea((const unsigned char *)PQgetvalue(r, (int)i, 1), &len);
		if (sec == NULL || len > SECRET_MAX || strlen(PQgetvalue(r, (int)i, 0)) > PARTNER_ID_MAX) {
			toll_err("api: partner %s: secret or id out of bounds: not loaded", PQgetvalue(r, (int)i, 0));
			PQfreemem(sec);
			continue;
		}
		snprintf(v[k].id, sizeof(v[k].id), "%s", PQgetvalue(r, (int)i, 0));
		memcpy(v[k].secret, sec, len);
		v[k].secret_len = len;
		PQfreemem(sec);
		v[k].min_vnd = cdb_int(r, (int)i, 2);
		v[k].max_vnd = cdb_int(r, (int)i, 3);
		v[k].active = strcmp(PQgetvalue(r, (int)i, 4), "t") == 0;
		k++;
	}
	PQclear(r);
	pthread_mutex_lock(&a->mu);
	struct partner *old = a->partners;
	a->partners = v;
	a->npartners = k;
	a->st.partners = k;
	a->partners_at = toll_mono_ms();
	pthread_mutex_unlock(&a->mu);
	if (old != NULL)
		memset(old, 0, sizeof(*old)); /* the secrets do not linger */
	free(old);
	return 0;
}

/* Reload when due (one thread at a time).  A thread that met an unknown
 * partner while another thread reloads waits for that reload and looks
 * again: at start, every thread but the first would otherwise refuse its
 * partners (401 unknown-partner) until the first load is done. */
static void
maybe_reload(struct api *a, struct cdb *db, int unknown)
{
	int64_t now = toll_mono_ms();
	int due;
	pthread_mutex_lock(&a->mu);
	if (unknown && a->reloading) {
		while (a->reloading)
			pthread_cond_wait(&a->reloaded, &a->mu);
		pthread_mutex_unlock(&a->mu);
		return;
	}
	due = !a->reloading && (now - a->partners_at >= a->c.partners_refresh_ms ||
				(unknown && now - a->last_unknown_reload >= UNKNOWN_RELOAD_MS));
	if (due) {
		a->reloading = 1;
		if (unknown)
			a->last_unknown_reload = now;
	}
	pthread_mutex_unlock(&a->mu);
	if (!due)
		return;
	(void)load_partners(a, db);
	pthread_mutex_lock(&a->mu);
	a->reloading = 0;
	pthread_cond_broadcast(&a->reloaded);
	pthread_mutex_unlock(&a->mu);
}

static int
find_partner(struct api *a, const char *id, struct partner *out)
{
	int found = 0;
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < a->npartners; i++)
		if (strcmp(a->partners[i].id, id) == 0) {
			*out = a->partners[i];
			found = 1;
			break;
		}
	pthread_mutex_unlock(&a->mu);
	return found;
}

/* Signatures older than twice the clock window cannot be replayed (the
 * timestamp check refuses them first): pruned once a minute. */
static void
maybe_prune(struct api *a, struct cdb *db)
{
	int64_t now = toll_mono_ms();
	int due;
	pthread_mutex_lock(&a->mu);
	due = now - a->last_prune >= 60000;
	if (due)
		a->last_prune = now;
	pthread_mutex_unlock(&a->mu);
	if (!due)
		return;
	char secs[24], err[300];
	snprintf(secs, sizeof(secs), "%" PRId64, 2 * a->c.clock_window_ms / 1000 + 1);
	const char *p[1] = {secs};
	if (cdb_query(db, "DELETE FROM api_seen WHERE seen_at < now() - make_interval(secs => $1::int)", 1, p, NULL,
		      err, sizeof(err)) != 0)
		toll_warn("api: pruning seen signatures: %s", err);
}

/* ---- checks of what the partner sent ------------------------------------ */

static int
all_chars(const char *s, size_t min, size_t max, const char *allowed_extra, int lower_hex_only)
{
	size_t n = strlen(s);
	if (n < min || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (lower_hex_only) {
			if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
				return 0;
		} else if (!isalnum(ch) && strchr(allowed_extra, ch) == NULL) {
			return 0;
		}
	}
	return 1;
}

static int
plate_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 12)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '.' || s[i] == '-' ||
		      s[i] == ' '))
			return 0;
	return 1;
}

/* The signature headers: 0, or an outcome with the message in msg. */
static int
authenticate(struct api *a, struct MHD_Connection *conn, struct cdb *db, const char *method, const char *url,
	     const struct req *rq, struct partner *p, uint8_t sig[32], char *msg, size_t msglen)
{
	const char *pid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Partner-Id");
	const char *ts = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Timestamp");
	const char *sh = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Signature");
	if (pid == NULL || ts == NULL || sh == NULL) {
		snprintf(msg, msglen, "X-Partner-Id, X-Timestamp and X-Signature are required");
		return API_NO_AUTH;
	}
	if (strlen(ts) < 1 || strlen(ts) > 12 || strspn(ts, "0123456789") != strlen(ts) || strlen(sh) != 64 ||
	    toll_hex_decode(sh, sig, 32) != 0) {
		snprintf(msg, msglen, "X-Timestamp is unix seconds, X-Signature 64 hex digits");
		return API_NO_AUTH;
	}
	int64_t t = strtoll(ts, NULL, 10), now = toll_real_ms();
	if (t * 1000 < now - a->c.clock_window_ms || t * 1000 > now + a->c.clock_window_ms) {
		snprintf(msg, msglen,
			 "X-Timestamp %" PRId64 " is more than %" PRId64 " s from central's clock (%" PRId64 ")", t,
			 a->c.clock_window_ms / 1000, now / 1000);
		return API_STALE;
	}
	if (strlen(pid) > PARTNER_ID_MAX || !find_partner(a, pid, p)) {
		if (strlen(pid) <= PARTNER_ID_MAX) {
			maybe_reload(a, db, 1);
			if (find_partner(a, pid, p))
				goto known;
		}
		snprintf(msg, msglen, "no partner by that id");
		return API_UNKNOWN_PARTNER;
	}
known:
	if (!p->active) {
		snprintf(msg, msglen, "this partner is not active");
		return API_UNKNOWN_PARTNER;
	}
	/* METHOD \n PATH \n TIMESTAMP \n hex(SHA-256(body)) */
	uint8_t bh[32], mac[32];
	char bhex[65];
	toll_sha256(rq->body != NULL ? rq->body : "", rq->len, bh);
	toll_hex_encode(bh, 32, bhex);
	size_t n = strlen(method) + strlen(url) + strlen(ts) + 64 + 4;
	char *text = malloc(n);
	if (text == NULL) {
		snprintf(msg, msglen, "out of memory");
		return API_UNAVAILABLE;
	}
	snprintf(text, n, "%s\n%s\n%s\n%s", method, url, ts, bhex);
	int rc = toll_hmac_sha256(p->secret, p->secret_len, text, strlen(text), mac);
	free(text);
	if (rc != 0 || !toll_equal_ct(mac, sig, 32)) {
		snprintf(msg, msglen, "the signature does not match this request");
		return API_BAD_SIGNATURE;
	}
	return 0;
}

/* ---- the routes ------------------------------------------------------------ */

struct call {
	const char *fn; /* toll_api_topup, toll_api_reverse, toll_api_status */
	const char *p[12];
	int n;
};

/* One function call; its (status, body, retried) or an error answer. */
static enum MHD_Result
run(struct api *a, struct MHD_Connection *conn, struct cdb *db, const struct call *cl, const char *partner,
    const char *key, const char *hash_hex, int kind)
{
	char sql[256], err[512];
	PGresult *r = NULL;
	snprintf(sql, sizeof(sql), "SELECT http_status, body, retried FROM %s(", cl->fn);
	for (int i = 0; i < cl->n; i++) {
		size_t l = strlen(sql);
		snprintf(sql + l, sizeof(sql) - l, "%s$%d", i ? ", " : "", i + 1);
	}
	strncat(sql, ")", sizeof(sql) - strlen(sql) - 1);
	int rc = cdb_query(db, sql, cl->n, cl->p, &r, err, sizeof(err));
	if (rc == TOLL_EEXIST && strstr(err, "api_seen_pkey") != NULL)
		return refuse(a, conn, API_REPLAY, 401, "replayed",
			      "this signed request was seen before: sign each request anew");
	if (rc == TOLL_EEXIST && key != NULL) {
		/* the same key (or reference) raced in with another request:
		 * its stored answer, or a conflict */
		const char *p[3] = {partner, key, hash_hex};
		rc = cdb_query(db, "SELECT http_status, body, true FROM toll_api_stored($1, $2, $3::bytea)", 3, p, &r,
			       err, sizeof(err));
		if (rc == 0 && PQntuples(r) == 1 && PQgetisnull(r, 0, 0)) {
			PQclear(r);
			return refuse(a, conn, API_CONFLICT, 409, "conflict",
				      "another request with this partner_ref is being processed or done");
		}
	}
	if (rc != 0) {
		toll_warn("api: %s: %s", cl->fn, err);
		if (rc == TOLL_EAGAIN)
			return refuse(a, conn, API_UNAVAILABLE, 503, "unavailable",
				      "central's database is not answering: retry");
		return refuse(a, conn, API_UNAVAILABLE, 503, "unavailable",
			      "central could not process the request: retry");
	}
	unsigned status = (unsigned)strtoul(PQgetvalue(r, 0, 0), NULL, 10);
	int retried = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
	enum api_outcome o = status < 300    ? (retried ? API_RETRIED : API_OK)
			     : status == 404 ? API_NOT_FOUND
			     : status == 409 ? API_CONFLICT
					     : API_BAD_REQUEST;
	int64_t up = 0, back = 0;
	if (o == API_OK && kind != 0) {
		json_t *j = json_loads(PQgetvalue(r, 0, 1), 0, NULL);
		json_int_t amt = j != NULL ? json_integer_value(json_object_get(j, "amount_vnd")) : 0;
		json_decref(j);
		if (kind == 1)
			up = (int64_t)amt;
		else
			back = (int64_t)amt;
	}
	count(a, o, up, back);
	enum MHD_Result mr = send_json(conn, status, PQgetvalue(r, 0, 1));
	PQclear(r);
	return mr;
}

static int
json_has_only(json_t *o, const char *const *allowed, char *bad, size_t badlen)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		int ok = 0;
		for (int i = 0; allowed[i] != NULL; i++)
			if (strcmp(k, allowed[i]) == 0)
				ok = 1;
		if (!ok) {
			snprintf(bad, badlen, "%.60s", k);
			return 0;
		}
	}
	return 1;
}

static enum MHD_Result
post_topup(struct api *a, struct MHD_Connection *conn, struct cdb *db, const struct partner *p, const char *key,
	   const char *sig_hex, const char *hash_hex, json_t *j)
{
	static const char *const allowed[] = {"account_id", "plate", "epc", "amount_vnd", "partner_ref", NULL};
	char bad[64], acc[24], amt[24], epc[65];
	if (!json_has_only(j, allowed, bad, sizeof(bad)))
		return refuse(a, conn, API_BAD_REQUEST, 400, "unknown-field", "unknown field \"%s\"", bad);
	json_t *ja = json_object_get(j, "account_id"), *jp = json_object_get(j, "plate"),
	       *je = json_object_get(j, "epc");
	json_t *jm = json_object_get(j, "amount_vnd"), *jr = json_object_get(j, "partner_ref");
	if ((ja != NULL) + (jp != NULL) + (je != NULL) != 1)
		return refuse(a, conn, API_BAD_REQUEST, 400, "bad-field", "exactly one of account_id, plate, epc");
	if (jm == NULL || jr == NULL)
		return refuse(a, conn, API_BAD_REQUEST, 400, "missing-field",
			      "amount_vnd and partner_ref are required");
	if (!json_is_integer(jm))
		return refuse(a, conn, API_BAD_REQUEST, 400, "bad-field", "amount_vnd: whole VND, a JSON integer");
	json_int_t amount = json_integer_value(jm);
	if (amount < p->min_vnd || amount > p->max_vnd)
		return refuse(a, conn, API_AMOUNT, 400, "amount-out-of-bounds",
			      "amount_vnd %lld: this partner's top-ups are %" PRId64 " to %" PRId64 " VND",
			      (long long)amount, p->min_vnd, p->max_vnd);
	if (!json_is_string(jr) || !all_chars(json_string_value(jr), 1, REF_MAX, "._:-", 0))
		return refuse(a, conn, API_BAD_REQUEST, 400, "bad-field", "partner_ref: 1-64 of A-Z a-z 0-9 . _ : -");
	const char *pa = NULL, *pp = NULL, *pe = NULL;
	if (ja != NULL) {
		if (!json_is_integer(ja) || json_integer_value(ja) < 1 || json_integer_value(ja) > 4294967295LL)
			return refuse(a, conn, API_BAD_REQUEST, 400, "bad-field", "account_id: 1 to 4294967295");
		snprintf(acc, sizeof(acc), "%lld", (long long)json_integer_value(ja));
		pa = acc;
	} else if (jp != NULL) {
		if (!json_is_string(jp) || !plate_ok(json_string_value(jp)))
			return refuse(a, conn, API_BAD_REQUEST, 400, "bad-field",
				      "plate: 1-12 of 0-9 A-Z . - and space");
		pp = json_string_value(jp);
	} else {
		if (!json_is_string(je) || strlen(json_string_value(je)) > 64)
			return refuse(a, conn, API_BAD_REQUEST, 400, "bad-field", "epc: 1-64 hex digits");
		snprintf(epc, sizeof(epc), "%s", json_string_value(je));
		for (char *c = epc; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (!all_chars(epc, 1, 64, "", 1))
			return refuse(a, conn, API_BAD_REQUEST, 400, "bad-field", "epc: 1-64 hex digits");
		pe = epc;
	}
	snprintf(amt, sizeof(amt), "%lld", (long long)amount);
	struct call cl = {"toll_api_topup", {p->id, sig_hex, key, hash_hex, json_string_value(jr), pa, pp, pe, amt}, 9};
	return run(a, conn, db, &cl, p->id, key, hash_hex, 1);
}

static enum MHD_Result
post_reversal(struct api *a, struct MHD_Connection *conn, struct cdb *db, const struct partner *p, const char *key,
	      const char *sig_hex, const char *hash_hex, const char *ref, json_t *j)
{
	static const char *const allowed[] = {"reason", NULL};
	char bad[64];
	if (!json_has_only(j, allowed, bad, sizeof(bad)))
		return refuse(a, conn, API_BAD_REQUEST, 400, "unknown-field", "unknown field \"%s\"", bad);
	json_t *jr = json_object_get(j, "reason");
	const char *reason = "";
	if (jr != NULL) {
		if (!json_is_string(jr) || strlen(json_string_value(jr)) > REASON_MAX)
			return refuse(a, conn, API_BAD_REQUEST, 400, "bad-field", "reason: text, at most %d bytes",
				      REASON_MAX);
		reason = json_string_value(jr);
		for (const char *c = reason; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return refuse(a, conn, API_BAD_REQUEST, 400, "bad-field",
					      "reason: no control characters");
	}
	struct call cl = {"toll_api_reverse", {p->id, sig_hex, key, hash_hex, ref, reason}, 6};
	return run(a, conn, db, &cl, p->id, key, hash_hex, 2);
}

static enum MHD_Result
serve(struct api *a, struct MHD_Connection *conn, const char *url, const char *method, struct req *rq)
{
	/* the routes */
	const char *rest = NULL;
	char ref[REF_MAX + 1] = "";
	int route = 0; /* 1 create, 2 status, 3 reversal */
	if (strcmp(url, "/v1/topups") == 0) {
		route = 1;
	} else if (strncmp(url, "/v1/topups/", 11) == 0) {
		rest = url + 11;
		size_t n = strcspn(rest, "/");
		if (n >= 1 && n <= REF_MAX) {
			memcpy(ref, rest, n);
			ref[n] = 0;
			if (!all_chars(ref, 1, REF_MAX, "._:-", 0))
				route = 0;
			else if (rest[n] == 0)
				route = 2;
			else if (strcmp(rest + n, "/reversal") == 0)
				route = 3;
		}
	}
	if (route == 0)
		return refuse(a, conn, API_NOT_FOUND, 404, "not-found", "no such resource");
	if ((route == 2) != (strcmp(method, "GET") == 0) || (route != 2 && strcmp(method, "POST") != 0))
		return refuse(a, conn, API_METHOD, 405, "method", "%s is not allowed here", method);
	if (rq->too_large)
		return refuse(a, conn, API_TOO_LARGE, 413, "too-large", "the body is over %" PRId64 " bytes",
			      a->c.max_body);

	struct cdb *db = thread_db(a);
	if (db == NULL)
		return refuse(a, conn, API_UNAVAILABLE, 503, "unavailable",
			      "central's database is not answering: retry");
	maybe_reload(a, db, 0);
	maybe_prune(a, db);

	struct partner p;
	uint8_t sig[32];
	char msg[200];
	int o = authenticate(a, conn, db, method, url, rq, &p, sig, msg, sizeof(msg));
	if (o != 0) {
		memset(&p, 0, sizeof(p));
		return refuse(a, conn, (enum api_outcome)o, o == API_UNAVAILABLE ? 503 : 401, outcome_names[o], "%s",
			      msg);
	}
	char sig_hex[2 * 32 + 3];
	cdb_bytea_hex(sig, 32, sig_hex);
	enum MHD_Result mr;
	if (route == 2) {
		struct call cl = {"toll_api_status", {p.id, sig_hex, ref}, 3};
		mr = run(a, conn, db, &cl, p.id, NULL, NULL, 0);
		memset(&p, 0, sizeof(p));
		return mr;
	}
	const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
	if (key == NULL || !all_chars(key, 1, KEY_MAX, "._:-", 0)) {
		memset(&p, 0, sizeof(p));
		return refuse(a, conn, API_BAD_REQUEST, 400, "idempotency-key",
			      "an Idempotency-Key of 1-64 of A-Z a-z 0-9 . _ : - is required");
	}
	/* what the key stands for: the method, the path and the body */
	uint8_t h[32];
	char hash_hex[2 * 32 + 3];
	struct toll_sha256_ctx *hc;
	if (toll_sha256_begin(&hc) != 0) {
		memset(&p, 0, sizeof(p));
		return refuse(a, conn, API_UNAVAILABLE, 503, "unavailable", "out of memory");
	}
	toll_sha256_update(hc, method, strlen(method));
	toll_sha256_update(hc, "\n", 1);
	toll_sha256_update(hc, url, strlen(url));
	toll_sha256_update(hc, "\n", 1);
	toll_sha256_update(hc, rq->body != NULL ? rq->body : "", rq->len);
	toll_sha256_end(hc, h);
	cdb_bytea_hex(h, 32, hash_hex);

	json_error_t je;
	json_t *j = NULL;
	if (rq->len == 0 && route == 3)
		j = json_object(); /* a reversal needs no body */
	else
		j = json_loadb(rq->body != NULL ? rq->body : "", rq->len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL) {
		memset(&p, 0, sizeof(p));
		return refuse(a, conn, API_BAD_REQUEST, 400, "malformed-json", "line %d column %d: %s", je.line,
			      je.column, je.text);
	}
	if (!json_is_object(j)) {
		json_decref(j);
		memset(&p, 0, sizeof(p));
		return refuse(a, conn, API_BAD_REQUEST, 400, "malformed-json", "the body is a JSON object");
	}
	if (route == 1)
		mr = post_topup(a, conn, db, &p, key, sig_hex, hash_hex, j);
	else
		mr = post_reversal(a, conn, db, &p, key, sig_hex, hash_hex, ref, j);
	json_decref(j);
	memset(&p, 0, sizeof(p));
	return mr;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method, const char *version,
	const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct api *a = cls;
	struct req *rq = *con_cls;
	(void)version;
	if (rq == NULL) {
		rq = calloc(1, sizeof(*rq));
		if (rq == NULL)
			return MHD_NO;
		*con_cls = rq;
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && (strlen(cl) > 18 || strtoll(cl, NULL, 10) > a->c.max_body))
			rq->too_large = 1;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!rq->too_large && rq->len + *upload_data_size > (size_t)a->c.max_body)
			rq->too_large = 1;
		if (rq->too_large) {
			/* answer now; the rest of the body is not read */
			*upload_data_size = 0;
			free(rq->body);
			rq->body = NULL;
			rq->len = rq->cap = 0;
			return MHD_YES;
		}
		if (rq->len + *upload_data_size > rq->cap) {
			size_t nc = rq->cap ? rq->cap : 1024;
			while (nc < rq->len + *upload_data_size)
				nc *= 2;
			char *nb = realloc(rq->body, nc);
			if (nb == NULL)
				return MHD_NO;
			rq->body = nb;
			rq->cap = nc;
		}
		memcpy(rq->body + rq->len, upload_data, *upload_data_size);
		rq->len += *upload_data_size;
		*upload_data_size = 0;
		return MHD_YES;
	}
	return serve(a, conn, url, method, rq);
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;
	(void)cls;
	(void)conn;
	(void)toe;
	if (rq != NULL) {
		free(rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = 0;
	toll_warn("api: %s", msg);
}

static char *
read_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	char *b = malloc(1 << 20);
	size_t n = b != NULL ? fread(b, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (b == NULL || n == 0 || n == (1 << 20) - 1) {
		free(b);
		snprintf(err, errlen, "%s: empty, unreadable or over 1 MiB", path);
		return NULL;
	}
	b[n] = 0;
	return b;
}

int
api_start(const struct api_conf *c, struct api **out, char *err, size_t errlen)
{
	struct sockaddr_in sa;
	char host[64];
	const char *colon = strrchr(c->listen, ':');
	*out = NULL;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	if (colon == NULL || (size_t)(colon - c->listen) >= sizeof(host) ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) || strlen(colon + 1) < 1 ||
	    strtol(colon + 1, NULL, 10) > 65535) {
		snprintf(err, errlen, "api.listen %s: HOST:PORT (an IPv4 address)", c->listen);
		return TOLL_ECONFIG;
	}
	memcpy(host, c->listen, (size_t)(colon - c->listen));
	host[colon - c->listen] = 0;
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		snprintf(err, errlen, "api.listen %s: %s is not an IPv4 address", c->listen, host);
		return TOLL_ECONFIG;
	}
	sa.sin_port = htons((uint16_t)strtol(colon + 1, NULL, 10));
	if (c->threads < 1 || c->threads > MAX_THREADS) {
		snprintf(err, errlen, "api.threads: 1 to %d", MAX_THREADS);
		return TOLL_ECONFIG;
	}
	struct api *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return TOLL_ENOMEM;
	a->c = *c;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->reloaded, NULL);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_AUTO;
	if (c->tls_cert != NULL && c->tls_cert[0] != 0) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(err, errlen, "api.tls_cert: this libmicrohttpd has no TLS");
			api_stop(a);
			return TOLL_ECONFIG;
		}
		a->cert_pem = read_file(c->tls_cert, err, errlen);
		a->key_pem = a->cert_pem != NULL ? read_file(c->tls_key, err, errlen) : NULL;
		if (a->key_pem == NULL) {
			api_stop(a);
			return TOLL_ECONFIG;
		}
		flags |= MHD_USE_TLS;
	}
	if (a->cert_pem != NULL)
		a->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, a, MHD_OPTION_SOCK_ADDR, &sa,
					MHD_OPTION_THREAD_POOL_SIZE, (unsigned)c->threads,
					MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_CONNECTION_LIMIT,
					(unsigned)1024, MHD_OPTION_NOTIFY_COMPLETED, completed, a,
					MHD_OPTION_EXTERNAL_LOGGER, mhd_log, a, MHD_OPTION_HTTPS_MEM_CERT, a->cert_pem,
					MHD_OPTION_HTTPS_MEM_KEY, a->key_pem, MHD_OPTION_END);
	else
		a->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, a, MHD_OPTION_SOCK_ADDR, &sa,
					MHD_OPTION_THREAD_POOL_SIZE, (unsigned)c->threads,
					MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_CONNECTION_LIMIT,
					(unsigned)1024, MHD_OPTION_NOTIFY_COMPLETED, completed, a,
					MHD_OPTION_EXTERNAL_LOGGER, mhd_log, a, MHD_OPTION_END);
	if (a->d == NULL) {
		snprintf(err, errlen, "api.listen %s: libmicrohttpd would not start (the port taken? the certificate?)",
			 c->listen);
		api_stop(a);
		return TOLL_ECONFIG;
	}
	*out = a;
	return 0;
}

void
api_stop(struct api *a)
{
	if (a == NULL)
		return;
	if (a->d != NULL)
		MHD_stop_daemon(a->d);
	for (int i = 0; i < a->ndbs; i++)
		cdb_close(a->dbs[i]);
	if (a->partners != NULL)
		memset(a->partners, 0, a->npartners * sizeof(*a->partners));
	free(a->partners);
	free(a->cert_pem);
	if (a->key_pem != NULL)
		memset(a->key_pem, 0, strlen(a->key_pem));
	free(a->key_pem);
	pthread_cond_destroy(&a->reloaded);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

void
api_stats(struct api *a, struct api_stats *st)
{
	pthread_mutex_lock(&a->mu);
	*st = a->st;
	pthread_mutex_unlock(&a->mu);
}
