/* fuzz_pgp_secret.c: hostile secret-key files on `pgp import --secret` (issue 27): an admin
 * imports what an employee or another gateway exported. Nothing may crash or leak; an accepted
 * key must come with its public key and a v4 fingerprint; taking it out of the file with the
 * harness passphrase ("fuzz", see the corpus README) either fails with a reason and no blob or
 * gives a sealed blob that opens again into a usable secret key. */
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "crypto/keystore.h"
#include "crypto/pgp.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1795800000

/* One master key for the whole run, in a scratch directory. */
static struct keystore *master(void)
{
	static struct keystore *ks;
	static char dir[] = "/tmp/sg-fuzz-pgpsec-XXXXXX";
	char path[64];
	const char *err;
	if (ks != NULL)
		return ks;
	sg_assert(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/master.key", dir);
	sg_assert(keystore_master_create(path, &err) == 0 && keystore_open(path, &ks, &err) == 0);
	(void)remove(path);
	(void)remove(dir);
	return ks;
}

static void take(const uint8_t *data, size_t size, const struct pgp_key_report *r)
{
	unsigned char *blob = NULL;
	size_t blob_len = 0;
	const char *err = NULL;
	if (pgp_secret_take(data, size, r->fingerprint, "fuzz", master(), &blob, &blob_len,
	                    &err) < 0) {
		sg_assert(err != NULL && blob == NULL);
		return;
	}
	struct pgp_ctx *ctx = NULL;
	sg_assert(pgp_ctx_new(&ctx, &err) == 0);
	sg_assert(pgp_secret_unseal(ctx, master(), r->fingerprint, blob, blob_len, &err) == 0);
	const char *fprs[] = {r->fingerprint};
	(void)pgp_pick_signer(ctx, fprs, 1, NOW, true);
	pgp_ctx_free(&ctx);
	sg_free(&blob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgp_key_report *r = NULL;
	size_t n = 0;
	const char *err = NULL;
	if (pgp_secret_inspect(data, size, NOW, &r, &n, &err) < 0) {
		sg_assert(err != NULL && r == NULL && n == 0);
		return 0;
	}
	sg_assert(n > 0 && n <= SG_PGP_KEYS_PER_IMPORT_MAX);
	for (size_t i = 0; i < n && i < 4; i++) {
		sg_assert(r[i].accepted == (r[i].reason == NULL));
		if (!r[i].accepted)
			continue;
		sg_assert(r[i].pubkey != NULL && r[i].naddresses > 0 && strlen(r[i].fingerprint) == 40);
		take(data, size, &r[i]);
	}
	pgp_key_reports_free(&r, n);
	return 0;
}
