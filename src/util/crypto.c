/*
 * crypto.c - libsodium wrappers (see crypto.h).
 *
 * Password hashing parameters: argon2id with 2 passes over 19 MiB, OWASP's
 * recommended minimum. They are encoded in each hash, so raising them later
 * only affects new hashes.
 */
#include "util/crypto.h"

#include <sodium.h>
#include <string.h>

#define PW_OPSLIMIT 2
#define PW_MEMLIMIT (19u * 1024u * 1024u)

static char dummy_hash[crypto_pwhash_STRBYTES];

int crypto_init(void)
{
	if (sodium_init() < 0)
		return -1;
	if (!dummy_hash[0] &&
	    crypto_pwhash_str(dummy_hash, "dummy password", 14, PW_OPSLIMIT, PW_MEMLIMIT) != 0)
		return -1;
	return 0;
}

int crypto_password_hash(const char *password, char out[CRYPTO_PWHASH_LEN])
{
	_Static_assert(CRYPTO_PWHASH_LEN == crypto_pwhash_STRBYTES, "hash size");
	return crypto_pwhash_str(out, password, strlen(password), PW_OPSLIMIT, PW_MEMLIMIT) == 0 ? 0
												    : -1;
}

bool crypto_password_verify(const char *hash, const char *password)
{
	bool ok;

	if (!hash || !*hash) {
		/* Same work as a real check, so timing does not reveal unknown users. */
		if (crypto_pwhash_str_verify(dummy_hash, password, strlen(password)) == 0)
			return false; /* cannot happen: nobody knows the dummy password */
		return false;
	}
	ok = crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
	return ok;
}

void crypto_random_token(char *out, size_t out_size, size_t nbytes)
{
	unsigned char buf[64];

	if (nbytes > sizeof(buf))
		nbytes = sizeof(buf);
	randombytes_buf(buf, nbytes);
	sodium_bin2base64(out, out_size, buf, nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(buf, sizeof(buf));
}

void crypto_sha256_hex(const void *data, size_t len, char out[CRYPTO_HASH_HEX_LEN + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(out, CRYPTO_HASH_HEX_LEN + 1, h, sizeof(h));
}

bool crypto_str_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la != lb)
		return false;
	return sodium_memcmp(a, b, la) == 0;
}

void crypto_wipe(void *p, size_t n)
{
	sodium_memzero(p, n);
}
