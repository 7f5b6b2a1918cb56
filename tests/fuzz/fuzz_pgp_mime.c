/* fuzz_pgp_mime.c: hostile PGP/MIME and inline PGP structures on the inbound path, with a
 * gateway-held secret key and a known public key in the context (the corpus's Alice and Bob, as
 * in the seeds), so that decryption and verification code is reached. Nothing may crash or leak; a result must be consistent. */
#include "core/sg_file.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "crypto/pgp.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pgp_ctx *ctx;

/* The seeds (Thunderbird's) are encrypted to Alice and signed by Bob: with Alice's secret key
 * and Bob's public key in the ring, the fuzzer reaches decryption and verification. A fixed key
 * (not one generated per run) also keeps `make check`'s seeded run reproducible. */
static void load(const char *file, bool secret)
{
	char *data = NULL;
	size_t len = 0;
	const char *err = NULL;
	sg_assert(sg_file_read_all(file, 1 << 20, &data, &len, &err) == 0);
	sg_assert(secret ? pgp_ctx_load_secret(ctx, (unsigned char *)data, len, NULL, &err) == 0
	                 : pgp_ctx_load_public(ctx, (unsigned char *)data, len, &err) == 0);
	sg_free(&data);
}

static void init(void)
{
	const char *err = NULL;
	sg_assert(pgp_ctx_new(&ctx, &err) == 0);
	load(SG_FUZZ_KEYS "/alice-secret.asc", true);
	load(SG_FUZZ_KEYS "/bob-pub.asc", false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ctx == NULL)
		init();
	struct pgp_in_result r;
	const char *err = NULL;
	if (pgp_decrypt_verify(ctx, (const char *)data, size, &r, &err) < 0)
		return 0;
	sg_assert(r.nsigs <= SG_PGP_SIGS_MAX);
	sg_assert(!r.decrypted || r.encrypted);
	sg_assert(r.content == NULL || r.kind != PGP_KIND_NONE);
	pgp_in_result_free(&r);
	return 0;
}
