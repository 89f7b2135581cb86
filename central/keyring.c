/* keyring.c: see keyring.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdb.h"
#include "crypto.h"
#include "err.h"
#include "keyring.h"
#include "log.h"

struct key {
	uint32_t station;
	uint16_t lane;
	uint32_t key_id;
	int64_t valid_from_ms, valid_to_ms; /* valid_to 0: open */
	int revoked;
	struct toll_verifier *v;
};

struct lane {
	uint32_t station;
	uint16_t lane;
};

struct set {
	struct key *keys;
	size_t nkeys;
	struct lane *lanes;
	size_t nlanes;
};

struct keyring {
	pthread_rwlock_t lock;
	struct set cur;
};

static const char *const names[V_COUNT] = {
	"ok", "malformed", "wrong-lane", "unknown-lane", "unknown-key", "key-not-valid", "revoked", "bad-signature",
};

const char *
verdict_name(int v)
{
	return v >= 0 && v < V_COUNT ? names[v] : "?";
}

static void
set_free(struct set *s)
{
	for (size_t i = 0; i < s->nkeys; i++)
		toll_verifier_free(s->keys[i].v);
	free(s->keys);
	free(s->lanes);
	memset(s, 0, sizeof(*s));
}

static int
key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	if (x->station != y->station)
		return x->station < y->station ? -1 : 1;
	if (x->lane != y->lane)
		return x->lane < y->lane ? -1 : 1;
	if (x->key_id != y->key_id)
		return x->key_id < y->key_id ? -1 : 1;
	return 0;
}

static int
lane_cmp(const void *a, const void *b)
{
	const struct lane *x = a, *y = b;
	if (x->station != y->station)
		return x->station < y->station ? -1 : 1;
	return x->lane < y->lane ? -1 : x->lane > y->lane;
}

int
keyring_new(struct keyring **out)
{
	struct keyring *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return TOLL_ENOMEM;
	pthread_rwlock_init(&k->lock, NULL);
	*out = k;
	return 0;
}

void
keyring_free(struct keyring *k)
{
	if (k == NULL)
		return;
	set_free(&k->cur);
	pthread_rwlock_destroy(&k->lock);
	free(k);
}

int
keyring_load(struct keyring *k, struct cdb *db, char *err, size_t errlen)
{
	struct set n;
	PGresult *res = NULL;
	int rc;

	memset(&n, 0, sizeof(n));
	rc = cdb_query(db, "SELECT station_id, lane_id FROM lanes", 0, NULL, &res, err, errlen);
	if (rc != 0)
		return rc;
	n.nlanes = (size_t)PQntuples(res);
	n.lanes = calloc(n.nlanes + 1, sizeof(*n.lanes));
	if (n.lanes == NULL) {
		PQclear(res);
		return TOLL_ENOMEM;
	}
	for (size_t i = 0; i < n.nlanes; i++) {
		n.lanes[i].station = (uint32_t)strtoul(PQgetvalue(res, (int)i, 0), NULL, 10);
		n.lanes[i].lane = (uint16_t)strtoul(PQgetvalue(res, (int)i, 1), NULL, 10);
	}
	PQclear(res);
	qsort(n.lanes, n.nlanes, sizeof(*n.lanes), lane_cmp);

	rc = cdb_query(db,
		       "SELECT station_id, lane_id, public_key,"
		       " (extract(epoch FROM valid_from) * 1000)::bigint,"
		       " COALESCE((extract(epoch FROM valid_to) * 1000)::bigint, 0),"
		       " revoked_at IS NOT NULL"
		       " FROM lane_keys",
		       0, NULL, &res, err, errlen);
	if (rc != 0) {
		set_free(&n);
		return rc;
	}
	size_t rows = (size_t)PQntuples(res);
	n.keys = calloc(rows + 1, sizeof(*n.keys));
	if (n.keys == NULL) {
		PQclear(res);
		set_free(&n);
		return TOLL_ENOMEM;
	}
	for (size_t i = 0; i < rows; i++) {
		struct key *x = &n.keys[n.nkeys];
		uint8_t pub[32];
		if (cdb_bytea_parse(PQgetvalue(res, (int)i, 2), pub, 32) != 0)
			continue;
		x->station = (uint32_t)strtoul(PQgetvalue(res, (int)i, 0), NULL, 10);
		x->lane = (uint16_t)strtoul(PQgetvalue(res, (int)i, 1), NULL, 10);
		x->valid_from_ms = strtoll(PQgetvalue(res, (int)i, 3), NULL, 10);
		x->valid_to_ms = strtoll(PQgetvalue(res, (int)i, 4), NULL, 10);
		x->revoked = strcmp(PQgetvalue(res, (int)i, 5), "t") == 0;
		x->key_id = toll_key_id(pub);
		if (toll_verifier_new(pub, &x->v) != 0) {
			toll_warn("lane %u/%u: a registered public key OpenSSL will not load: ignored",
				  x->station, x->lane);
			continue;
		}
		n.nkeys++;
	}
	PQclear(res);
	qsort(n.keys, n.nkeys, sizeof(*n.keys), key_cmp);

	pthread_rwlock_wrlock(&k->lock);
	struct set old = k->cur;
	k->cur = n;
	pthread_rwlock_unlock(&k->lock);
	set_free(&old);
	return 0;
}

int
keyring_lane_known(struct keyring *k, uint32_t station, uint16_t lane)
{
	struct lane key = {station, lane};
	pthread_rwlock_rdlock(&k->lock);
	int found = k->cur.nlanes > 0 &&
		    bsearch(&key, k->cur.lanes, k->cur.nlanes, sizeof(key), lane_cmp) != NULL;
	pthread_rwlock_unlock(&k->lock);
	return found;
}

size_t
keyring_key_count(struct keyring *k)
{
	pthread_rwlock_rdlock(&k->lock);
	size_t n = k->cur.nkeys;
	pthread_rwlock_unlock(&k->lock);
	return n;
}

int
keyring_check(struct keyring *k, uint32_t station, uint16_t lane, const uint8_t *rec, size_t len,
	      struct toll_txn *t, uint8_t hash[32])
{
	int v;

	toll_sha256(rec, len, hash);
	memset(t, 0, sizeof(*t));
	if (toll_txn_decode(rec, len, t) != 0)
		return V_MALFORMED;
	if (t->station_id != station || t->lane_id != lane)
		return V_WRONG_LANE;
	struct key want = {.station = station, .lane = lane, .key_id = t->key_id};
	pthread_rwlock_rdlock(&k->lock);
	struct lane lk = {station, lane};
	const struct key *x = k->cur.nkeys == 0 ? NULL
			      : bsearch(&want, k->cur.keys, k->cur.nkeys, sizeof(want), key_cmp);
	if (k->cur.nlanes == 0 || bsearch(&lk, k->cur.lanes, k->cur.nlanes, sizeof(lk), lane_cmp) == NULL)
		v = V_UNKNOWN_LANE;
	else if (x == NULL)
		v = V_UNKNOWN_KEY;
	else if (x->revoked)
		v = V_REVOKED;
	else if (t->time_ms < x->valid_from_ms || (x->valid_to_ms != 0 && t->time_ms > x->valid_to_ms))
		v = V_KEY_NOT_VALID;
	else
		v = toll_txn_verify(t, x->v) == 0 ? V_OK : V_BAD_SIG;
	pthread_rwlock_unlock(&k->lock);
	return v;
}
