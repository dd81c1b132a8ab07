/*
 * crypto.h - the few cryptographic primitives the product needs, all from
 * libsodium: argon2id password hashes, random tokens, SHA-256, constant-time
 * comparison. crypto_init() must succeed before any other call.
 */
#ifndef TT_CRYPTO_H
#define TT_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#define CRYPTO_HASH_HEX_LEN 64   /* SHA-256 in lower-case hex */
#define CRYPTO_PWHASH_LEN 128    /* crypto_pwhash_STRBYTES */

int crypto_init(void);

/* argon2id hash of password into out[CRYPTO_PWHASH_LEN] (NUL-terminated). 0 or -1. */
int crypto_password_hash(const char *password, char out[CRYPTO_PWHASH_LEN]);

/* True when password matches hash. Takes the same time for a NULL hash (a dummy is verified). */
bool crypto_password_verify(const char *hash, const char *password);

/* nbytes random bytes, base64url without padding, into out (size >= 4*nbytes/3+2). */
void crypto_random_token(char *out, size_t out_size, size_t nbytes);

/* SHA-256 of data as lower-case hex into out[65]. */
void crypto_sha256_hex(const void *data, size_t len, char out[CRYPTO_HASH_HEX_LEN + 1]);

/* Constant-time equality of two NUL-terminated strings. */
bool crypto_str_equal(const char *a, const char *b);

/* Overwrites n bytes of p in a way the compiler cannot drop. */
void crypto_wipe(void *p, size_t n);

#endif
