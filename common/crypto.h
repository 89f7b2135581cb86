/* crypto.h: Ed25519 signatures, SHA-256 and randomness.  The only file
 * that talks to OpenSSL; its errors become TOLL_ECRYPTO / TOLL_EBADSIG here,
 * with the OpenSSL error text logged once. */
#ifndef TOLL_CRYPTO_H
#define TOLL_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

struct toll_signer;   /* an Ed25519 private key, kept for the process life */
struct toll_verifier; /* an Ed25519 public key */

/* Write a new private key to path (PEM PKCS#8, created O_EXCL with mode
 * 0600: TOLL_EEXIST if it exists) and return its public key. */
int toll_key_generate(const char *path, uint8_t pub[32]);
/* Load a private key file; a file readable by group or others is refused
 * (TOLL_EPERM).  Buffers that held key bytes are wiped. */
int toll_signer_load(const char *path, struct toll_signer **out);
int toll_signer_from_seed(const uint8_t seed[32], struct toll_signer **out);
void toll_signer_free(struct toll_signer *s);
void toll_signer_public(const struct toll_signer *s, uint8_t pub[32]);
uint32_t toll_signer_key_id(const struct toll_signer *s);
int toll_sign(struct toll_signer *s, const void *msg, size_t len, uint8_t sig[64]);

int toll_verifier_new(const uint8_t pub[32], struct toll_verifier **out);
void toll_verifier_free(struct toll_verifier *v);
/* 0, or TOLL_EBADSIG */
int toll_verify(struct toll_verifier *v, const void *msg, size_t len, const uint8_t sig[64]);

/* First 4 bytes of SHA-256(pub), big-endian. */
uint32_t toll_key_id(const uint8_t pub[32]);
void toll_sha256(const void *data, size_t len, uint8_t out[32]);
/* SHA-256 in pieces (a file received in chunks): begin (TOLL_ENOMEM),
 * update any number of times, end writes the hash and frees. */
struct toll_sha256_ctx;
int toll_sha256_begin(struct toll_sha256_ctx **out);
void toll_sha256_update(struct toll_sha256_ctx *c, const void *data, size_t len);
void toll_sha256_end(struct toll_sha256_ctx *c, uint8_t out[32]);
int toll_random_bytes(void *buf, size_t n);
/* HMAC-SHA256 of data under key: 0 or TOLL_ECRYPTO. */
int toll_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len, uint8_t out[32]);
/* 1 when the n bytes are equal, in a time that does not depend on where
 * they differ (for secrets: MACs, tokens). */
int toll_equal_ct(const void *a, const void *b, size_t n);

/* Lowercase hex; out holds 2n+1.  Decode wants exactly 2n hex digits. */
void toll_hex_encode(const uint8_t *in, size_t n, char *out);
int toll_hex_decode(const char *hex, uint8_t *out, size_t n);

#endif
