/* portal_auth.c: the portal's secrets. Login passwords are Argon2id (libsodium); OTPs and
 * session ids are random with ~100 and 256 bits, so a fast hash suffices to store them. */
#include "portal/portal.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "store/store.h"

#include <sodium.h>
#include <string.h>

int portal_auth_hash_password(const char *pw, char *out, size_t outsize, const char **error_r)
{
	sg_assert(outsize >= crypto_pwhash_STRBYTES);
	if (crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		*error_r = "cannot hash the password (out of memory)";
		return -1;
	}
	return 0;
}

bool portal_auth_check_password(const char *hash, const char *pw)
{
	if (hash[0] == '\0')
		return false;
	return crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
}

static void hex_digest(const char *domain, const char *s, size_t len, char out[PORTAL_TOKEN_HEX])
{
	unsigned char h[32];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)domain, strlen(domain) + 1);
	crypto_generichash_update(&st, (const unsigned char *)s, len);
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(out, PORTAL_TOKEN_HEX, h, sizeof(h));
}

void portal_auth_token_new(char out[PORTAL_TOKEN_HEX])
{
	unsigned char r[32];
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(out, PORTAL_TOKEN_HEX, r, sizeof(r));
	sodium_memzero(r, sizeof(r));
}

void portal_auth_token_hash(const char *token, char out[PORTAL_TOKEN_HEX])
{
	hex_digest("sealgate-session", token, strlen(token), out);
}

bool portal_auth_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	return la == lb && la > 0 && sodium_memcmp(a, b, la) == 0;
}

void portal_auth_anon_csrf(const unsigned char key[32], const char *token,
                           char out[PORTAL_TOKEN_HEX])
{
	unsigned char h[32];
	crypto_generichash(h, sizeof(h), (const unsigned char *)token, strlen(token), key, 32);
	sodium_bin2hex(out, PORTAL_TOKEN_HEX, h, sizeof(h));
}

int portal_auth_stored_key(struct store *st, const char *name, unsigned char key_r[32],
                           const char **error_r)
{
	unsigned char fresh[32];
	char fresh_hex[65], hex[65];
	randombytes_buf(fresh, sizeof(fresh));
	sodium_bin2hex(fresh_hex, sizeof(fresh_hex), fresh, sizeof(fresh));
	int rc = store_portal_meta_once(st, name, fresh_hex, hex, sizeof(hex),
	                                error_r);
	size_t len = 0;
	if (rc == 0 && (sodium_hex2bin(key_r, 32, hex, strlen(hex), NULL, &len, NULL) != 0 ||
	                len != 32)) {
		*error_r = "the stored portal key is damaged";
		rc = -1;
	}
	sodium_memzero(fresh, sizeof(fresh));
	sodium_memzero(fresh_hex, sizeof(fresh_hex));
	sodium_memzero(hex, sizeof(hex));
	return rc;
}
