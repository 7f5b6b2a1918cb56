/* fuzz_smime_parse.c: the inbound S/MIME path on hostile bytes: recognising the CMS type,
 * listing recipients and verifying signatures (MIME parse, DER parse, detached content).
 * Nothing may crash or leak, and every accepted parse must give consistent answers. */
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "crypto/smime.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct smime_trust *trust;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (trust == NULL)
		trust = smime_trust_new(false);
	const char *msg = (const char *)data;
	enum smime_kind kind = smime_classify(msg, size);
	struct smime_rid *rids = NULL;
	size_t n = 0;
	const char *err = NULL;
	int rc = smime_recipients(msg, size, &rids, &n, &err);
	sg_assert(rc < 0 || kind == SMIME_KIND_ENVELOPED || kind == SMIME_KIND_AUTH_ENVELOPED);
	for (size_t i = 0; rc == 0 && i < n; i++)
		sg_assert(strlen(rids[i].serial) > 0 && strlen(rids[i].issuer) < SMIME_DN_MAX);
	sg_free(&rids);
	struct smime_verify_result r;
	if (smime_verify(trust, msg, size, &r, &err) == 0) {
		sg_assert(kind == SMIME_KIND_SIGNED);
		sg_assert(r.verdict != SMIME_SIG_VALID && r.verdict != SMIME_SIG_WEAK); /* no anchors */
		sg_assert(r.reason != NULL && strlen(r.signer) < SG_ADDR_MAX);
		smime_verify_result_free(&r);
	} else {
		sg_assert(err != NULL);
	}
	return 0;
}
