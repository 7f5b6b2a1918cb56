/* fuzz_pgp_import.c: hostile key blobs on the import path (a file an admin was sent, or the
 * keydata of an Autocrypt header). Nothing may crash or leak; an accepted key must come with
 * its public key bytes, an address and a fingerprint, and those bytes must import again. */
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "crypto/pgp.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1795800000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgp_key_report *r = NULL;
	size_t n = 0;
	const char *err = NULL;
	if (pgp_key_inspect(data, size, NOW, &r, &n, &err) < 0) {
		sg_assert(err != NULL && r == NULL && n == 0);
		return 0;
	}
	sg_assert(n > 0 && n <= SG_PGP_KEYS_PER_IMPORT_MAX);
	for (size_t i = 0; i < n; i++) {
		sg_assert(r[i].accepted == (r[i].reason == NULL));
		if (!r[i].accepted)
			continue;
		sg_assert(r[i].pubkey != NULL && r[i].naddresses > 0 && strlen(r[i].fingerprint) >= 32);
		struct pgp_key_report *again = NULL;
		size_t m = 0;
		sg_assert(pgp_key_inspect(r[i].pubkey, r[i].pubkey_len, NOW, &again, &m, &err) == 0);
		pgp_key_reports_free(&again, m);
	}
	pgp_key_reports_free(&r, n);
	/* the same bytes as an Autocrypt header value must not crash either */
	struct pgp_autocrypt ac;
	if (size < 4096) {
		if (pgp_autocrypt_parse((const char *)data, size, &ac, &err) == 0)
			pgp_autocrypt_clear(&ac);
	}
	return 0;
}
