/* fuzz_smime_parse.c: the inbound S/MIME path on hostile bytes: recognising the CMS type,
 * listing recipients, decrypting with a held key (NSS's Bob, to whom the Thunderbird seeds are
 * encrypted) and verifying signatures (MIME parse, DER parse, detached content).
 * Nothing may crash or leak, and every accepted parse must give consistent answers. */
#include "core/sg_file.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "crypto/ca.h"
#include "crypto/smime.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct smime_trust *trust;
static unsigned char *bob_der;
static size_t bob_der_len;
static struct keystore_key *bob_key;

static void init(void)
{
	trust = smime_trust_new(false);
	char *p12 = NULL;
	size_t len = 0;
	const char *err = NULL;
	sg_assert(sg_file_read_all(SG_FUZZ_KEYS "/Bob.p12", 1 << 20, &p12, &len, &err) == 0);
	sg_assert(ca_pkcs12_import((unsigned char *)p12, len, "nss", &bob_der, &bob_der_len, &bob_key,
	                           &err) == 0);
	sg_free(&p12);
}

/* An enveloped message is decrypted with Bob's key; what comes out is an entity again. */
static void decrypt(const char *msg, size_t size, enum smime_kind kind)
{
	struct smime_der cert = {bob_der, bob_der_len};
	char *out = NULL;
	size_t out_len = 0;
	const char *err = NULL;
	if (smime_decrypt(&cert, bob_key, msg, size, &out, &out_len, &err) == 0) {
		sg_assert(kind == SMIME_KIND_ENVELOPED || kind == SMIME_KIND_AUTH_ENVELOPED);
		sg_assert(out != NULL);
		sg_free(&out);
	} else {
		sg_assert(err != NULL && out == NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (trust == NULL)
		init();
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
	if (rc == 0)
		decrypt(msg, size, kind);
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
