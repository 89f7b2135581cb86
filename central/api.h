/* api.h: the partners' top-up API, served by toll-central over HTTP (TLS
 * when a certificate is configured) with JSON bodies (docs/partner-api.md).
 *
 *   POST /v1/topups                      create a top-up (account, plate or tag)
 *   GET  /v1/topups/{partner_ref}        a top-up's state and the balance now
 *   POST /v1/topups/{partner_ref}/reversal  reverse it (a new correcting entry)
 *
 * Every request is signed by its partner: X-Partner-Id, X-Timestamp (unix
 * seconds), X-Signature = hex HMAC-SHA256(secret, METHOD "\n" PATH "\n"
 * TIMESTAMP "\n" hex SHA-256(body)); POSTs carry an Idempotency-Key.
 * Requests too far from central's clock, with a bad signature (compared
 * in constant time), from an unknown or inactive partner, or replayed
 * (the same signature twice) are refused with 401 and counted by reason.
 * Bodies are bounded, JSON is parsed strictly (duplicate or unknown
 * fields refused), amounts are bounded by the partner's limits.
 *
 * libmicrohttpd serves on its own threads (`threads`); each thread has
 * its own database connection; a request is one database transaction
 * (the functions of central/sql/005_partners.sql): the answer is stored
 * with the idempotency key in the transaction that moves the money, and
 * a retry with the key gets it again. */
#ifndef CENTRAL_API_H
#define CENTRAL_API_H

#include <stddef.h>
#include <stdint.h>

struct api_conf {
	const char *conninfo, *role;
	const char *listen;	   /* HOST:PORT */
	const char *tls_cert;	   /* PEM file: certificate (chain); "" plain HTTP */
	const char *tls_key;	   /* PEM file: its private key */
	int threads;		   /* HTTP threads, each with a database connection */
	int64_t max_body;	   /* bytes */
	int64_t clock_window_ms;   /* |central's clock - X-Timestamp| at most */
	int64_t partners_refresh_ms; /* reload partners (secrets, limits) this often */
};

/* What was answered, by reason. */
enum api_outcome {
	API_OK,		   /* 2xx, money moved or state read */
	API_RETRIED,	   /* an idempotent retry answered from the stored result */
	API_BAD_REQUEST,   /* 400: malformed JSON, unknown or missing field, bad value */
	API_AMOUNT,	   /* 400: amount outside the partner's bounds */
	API_NO_AUTH,	   /* 401: signature headers missing or malformed */
	API_UNKNOWN_PARTNER, /* 401: no such partner, or inactive */
	API_STALE,	   /* 401: timestamp outside the clock window */
	API_BAD_SIGNATURE, /* 401 */
	API_REPLAY,	   /* 401: a signature seen before */
	API_NOT_FOUND,	   /* 404: no such route, account or top-up */
	API_METHOD,	   /* 405 */
	API_CONFLICT,	   /* 409: key reused with another body, reference used, already reversed... */
	API_TOO_LARGE,	   /* 413 */
	API_UNAVAILABLE,   /* 503: the database is not answering */
	API_OUTCOMES
};

struct api_stats {
	uint64_t requests;
	uint64_t by[API_OUTCOMES];
	int64_t topped_up_vnd, reversed_vnd;
	uint64_t partners; /* loaded */
};

struct api;

/* Listen and start: 0, or TOLL_ECONFIG (err says why: the address, the
 * certificate, libmicrohttpd refusing). */
int api_start(const struct api_conf *c, struct api **out, char *err, size_t errlen);
void api_stop(struct api *a);
void api_stats(struct api *a, struct api_stats *st);
/* "ok", "retried", "bad-request", ... for the status line. */
const char *api_outcome_name(unsigned o);

#endif
