/* keyring.h: the registered lanes and their public keys, loaded from the
 * database (lanes, lane_keys) and swapped whole on reload, and the check
 * of one record against them: decode, right lane, known key, not revoked,
 * signature.  Lookups and checks run from many threads at once. */
#ifndef CENTRAL_KEYRING_H
#define CENTRAL_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "txn.h"

struct cdb;
struct keyring;

enum verdict {
	V_OK = 0,
	V_MALFORMED,	/* not a transaction record this central can read */
	V_WRONG_LANE,	/* names another station or lane than its batch */
	V_UNKNOWN_LANE, /* the lane is not registered */
	V_UNKNOWN_KEY,	/* no registered key of the lane has its key id */
	V_KEY_NOT_VALID, /* signed outside the key's validity period */
	V_REVOKED,	/* the key was revoked */
	V_BAD_SIG,	/* the signature does not verify */
	V_COUNT
};
/* "ok", "malformed", ... as stored in quarantine.reason */
const char *verdict_name(int v);

int keyring_new(struct keyring **out);
void keyring_free(struct keyring *k);
/* Load lanes and keys from the database and swap them in. */
int keyring_load(struct keyring *k, struct cdb *db, char *err, size_t errlen);
int keyring_lane_known(struct keyring *k, uint32_t station, uint16_t lane);
size_t keyring_key_count(struct keyring *k);

/* Check one record of a batch for (station, lane): the verdict; t is
 * filled when it decodes, hash gets SHA-256 of the bytes (the chain hash
 * of a valid record). */
int keyring_check(struct keyring *k, uint32_t station, uint16_t lane, const uint8_t *rec, size_t len,
		  struct toll_txn *t, uint8_t hash[32]);

#endif
