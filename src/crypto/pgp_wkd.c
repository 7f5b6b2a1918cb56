/* pgp_wkd.c: the Web Key Directory's name for a mailbox (draft-koch-openpgp-webkey-service
 * §3.1): the local part with ASCII letters lower-cased, hashed with SHA-1, and written in
 * z-base-32 (RFC 6189 §5.1.6). 160 bits make exactly 32 characters. */
#include "crypto/pgp.h"

#include <openssl/evp.h>

#include <string.h>

static const char zbase32[] = "ybndrfg8ejkmcpqxot1uwisza345h769";

int pgp_wkd_hash(const char *local, char dst[PGP_WKD_HASH_MAX])
{
	size_t len = strlen(local);
	char lower[256];
	if (len == 0 || len >= sizeof(lower))
		return -1;
	for (size_t i = 0; i < len; i++)
		lower[i] = local[i] >= 'A' && local[i] <= 'Z' ? (char)(local[i] - 'A' + 'a') : local[i];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (EVP_Digest(lower, len, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
		return -1;
	/* 20 bytes, 5 bits at a time: 32 characters. */
	unsigned acc = 0, bits = 0;
	size_t n = 0;
	for (size_t i = 0; i < mdlen; i++) {
		acc = (acc << 8) | md[i];
		bits += 8;
		while (bits >= 5) {
			dst[n++] = zbase32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	dst[n] = '\0';
	return 0;
}
