/* crypto.c: OpenSSL 3 behind crypto.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "err.h"
#include "log.h"

struct toll_signer {
	EVP_PKEY *key;
	uint8_t pub[32];
	uint32_t key_id;
};

struct toll_verifier {
	EVP_PKEY *key;
};

/* Log and clear the OpenSSL error queue; the code for the caller. */
static int
ossl_fail(const char *what, int code)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "no detail";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	toll_err("%s: %s", what, buf);
	return code;
}

void
toll_sha256(const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 32;
	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1)
		abort(); /* cannot fail with a built-in digest: a broken library */
}

int
toll_sha256_begin(struct toll_sha256_ctx **out)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (c == NULL)
		return TOLL_ENOMEM;
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
		abort(); /* a built-in digest: only a broken library fails */
	*out = (struct toll_sha256_ctx *)c;
	return 0;
}

void
toll_sha256_update(struct toll_sha256_ctx *c, const void *data, size_t len)
{
	if (EVP_DigestUpdate((EVP_MD_CTX *)c, data, len) != 1)
		abort();
}

void
toll_sha256_end(struct toll_sha256_ctx *c, uint8_t out[32])
{
	unsigned int n = 32;
	if (EVP_DigestFinal_ex((EVP_MD_CTX *)c, out, &n) != 1)
		abort();
	EVP_MD_CTX_free((EVP_MD_CTX *)c);
}

uint32_t
toll_key_id(const uint8_t pub[32])
{
	uint8_t h[32];
	toll_sha256(pub, 32, h);
	return ((uint32_t)h[0] << 24) | ((uint32_t)h[1] << 16) | ((uint32_t)h[2] << 8) | h[3];
}

int
toll_random_bytes(void *buf, size_t n)
{
	if (n > INT32_MAX || RAND_bytes(buf, (int)n) != 1)
		return ossl_fail("could not get random bytes", TOLL_ECRYPTO);
	return 0;
}

void
toll_hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
toll_hex_decode(const char *hex, uint8_t *out, size_t n)
{
	if (strlen(hex) != 2 * n)
		return TOLL_EFORMAT;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return TOLL_EFORMAT;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int
signer_from_pkey(EVP_PKEY *key, struct toll_signer **out)
{
	struct toll_signer *s;
	size_t len = 32;

	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
		toll_err("key is not an Ed25519 key");
		EVP_PKEY_free(key);
		return TOLL_EFORMAT;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		EVP_PKEY_free(key);
		return TOLL_ENOMEM;
	}
	if (EVP_PKEY_get_raw_public_key(key, s->pub, &len) != 1 || len != 32) {
		EVP_PKEY_free(key);
		free(s);
		return ossl_fail("could not get the public key", TOLL_ECRYPTO);
	}
	s->key = key;
	s->key_id = toll_key_id(s->pub);
	*out = s;
	return 0;
}

int
toll_signer_from_seed(const uint8_t seed[32], struct toll_signer **out)
{
	EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	if (key == NULL)
		return ossl_fail("could not make a key from the seed", TOLL_ECRYPTO);
	return signer_from_pkey(key, out);
}

int
toll_key_generate(const char *path, uint8_t pub[32])
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct toll_signer *s;
	FILE *f;
	int fd, rc;

	if (key == NULL)
		return ossl_fail("could not generate a key", TOLL_ECRYPTO);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = errno == EEXIST ? TOLL_EEXIST : TOLL_ESYS;
		toll_err("could not create key file %s: %s", path, strerror(errno));
		EVP_PKEY_free(key);
		return rc;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(path);
		EVP_PKEY_free(key);
		return TOLL_ESYS;
	}
	rc = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1 ? 0 : TOLL_ECRYPTO;
	if (fflush(f) != 0 || fsync(fd) != 0)
		rc = TOLL_ESYS;
	if (fclose(f) != 0)
		rc = TOLL_ESYS;
	if (rc != 0) {
		unlink(path);
		EVP_PKEY_free(key);
		return rc == TOLL_ECRYPTO ? ossl_fail("could not write the key", rc) : rc;
	}
	rc = signer_from_pkey(key, &s);
	if (rc != 0)
		return rc;
	memcpy(pub, s->pub, 32);
	toll_signer_free(s);
	return 0;
}

int
toll_signer_load(const char *path, struct toll_signer **out)
{
	struct stat st;
	EVP_PKEY *key;
	FILE *f;

	f = fopen(path, "re");
	if (f == NULL) {
		toll_err("could not open key file %s: %s", path, strerror(errno));
		return TOLL_ENOTFOUND;
	}
	if (fstat(fileno(f), &st) != 0 || (st.st_mode & 077) != 0) {
		toll_err("key file %s is readable by others (mode %04o): refusing it; chmod 600 it",
			 path, (unsigned)(st.st_mode & 07777));
		fclose(f);
		return TOLL_EPERM;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL)
		return ossl_fail("could not read the key", TOLL_EFORMAT);
	return signer_from_pkey(key, out);
}

void
toll_signer_free(struct toll_signer *s)
{
	if (s == NULL)
		return;
	EVP_PKEY_free(s->key); /* OpenSSL wipes the key material */
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

void
toll_signer_public(const struct toll_signer *s, uint8_t pub[32])
{
	memcpy(pub, s->pub, 32);
}

uint32_t
toll_signer_key_id(const struct toll_signer *s)
{
	return s->key_id;
}

int
toll_sign(struct toll_signer *s, const void *msg, size_t len, uint8_t sig[64])
{
	/* a fresh context each call: a kept one silently keeps its first key
	 * in OpenSSL 3.0 (MEASUREMENTS.md) */
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t siglen = 64;
	int ok;

	if (ctx == NULL)
		return TOLL_ENOMEM;
	ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, s->key) == 1 &&
	     EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 && siglen == 64;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : ossl_fail("could not sign", TOLL_ECRYPTO);
}

int
toll_verifier_new(const uint8_t pub[32], struct toll_verifier **out)
{
	struct toll_verifier *v = calloc(1, sizeof(*v));
	if (v == NULL)
		return TOLL_ENOMEM;
	v->key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	if (v->key == NULL) {
		free(v);
		return ossl_fail("could not use the public key", TOLL_ECRYPTO);
	}
	*out = v;
	return 0;
}

void
toll_verifier_free(struct toll_verifier *v)
{
	if (v == NULL)
		return;
	EVP_PKEY_free(v->key);
	free(v);
}

int
toll_verify(struct toll_verifier *v, const void *msg, size_t len, const uint8_t sig[64])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int r;

	if (ctx == NULL)
		return TOLL_ENOMEM;
	r = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, v->key) == 1
		    ? EVP_DigestVerify(ctx, sig, 64, msg, len)
		    : -1;
	EVP_MD_CTX_free(ctx);
	if (r == 1)
		return 0;
	ERR_clear_error(); /* a bad signature is not a library failure */
	return TOLL_EBADSIG;
}

int
toll_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len, uint8_t out[32])
{
	unsigned int outlen = 0;
	if (keylen > INT_MAX || HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen) == NULL || outlen != 32) {
		ERR_clear_error();
		return TOLL_ECRYPTO;
	}
	return 0;
}

int
toll_equal_ct(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}
