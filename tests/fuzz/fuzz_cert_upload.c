/* fuzz_cert_upload.c: what a partner uploads as an S/MIME certificate on the portal: one
 * certificate (PEM or DER) or a .p7b bundle, then each certificate's parse, address and
 * usability checks. Nothing may crash or leak; every certificate given back must parse. */
#include "core/limits.h"
#include "core/sg_log.h"
#include "crypto/smime.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smime_bundle b;
	const char *err = NULL;
	if (smime_bundle_read(data, size, &b, &err) < 0) {
		sg_assert(err != NULL && b.n == 0);
		return 0;
	}
	sg_assert(b.n > 0 && b.n <= 16);
	for (size_t i = 0; i < b.n; i++) {
		sg_assert(b.len[i] > 0 && b.len[i] <= SG_CERT_DER_MAX);
		struct smime_certinfo info;
		if (smime_cert_parse(b.der[i], b.len[i], &info, &err) == 0)
			sg_assert(strlen(info.address) < SG_ADDR_MAX);
		(void)smime_cert_has_address(b.der[i], b.len[i], "partner@partner.test");
		(void)smime_cert_usable(b.der[i], b.len[i], SMIME_USAGE_ENCRYPT, 1800000000, 0, &err);
	}
	smime_bundle_free(&b);
	return 0;
}
