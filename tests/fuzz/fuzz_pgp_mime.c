/* fuzz_pgp_mime.c: hostile PGP/MIME and inline PGP structures on the inbound path, with a
 * gateway-held secret key and a known public key in the context, so that decryption and
 * verification code is reached. Nothing may crash or leak; a result must be consistent. */
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "crypto/pgp.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pgp_ctx *ctx;

static void init(void)
{
	const char *err = NULL;
	char fpr[PGP_FPR_MAX];
	sg_assert(pgp_ctx_new(&ctx, &err) == 0);
	sg_assert(pgp_generate(ctx, "gateway@example.test", NULL, PGP_ALGO_ED25519, fpr, &err) == 0);
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
