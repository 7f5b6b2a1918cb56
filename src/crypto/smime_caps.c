/* smime_caps.c: what a partner's client says it can read. Thunderbird and Outlook list their
 * ciphers in the SMIMECapabilities of what they sign; we harvest that list and use GCM only
 * for partners who named it (gpgsm 2.2 and NSS 3.87 cannot read AuthEnvelopedData). */
#include "crypto/smime.h"

#include <openssl/objects.h>
#include <openssl/x509.h>

bool smime_caps_allow_gcm(const unsigned char *caps, size_t len)
{
	if (caps == NULL || len == 0 || len > SG_SMIME_CAPS_MAX)
		return false;
	const unsigned char *p = caps;
	X509_ALGORS *algs = d2i_X509_ALGORS(NULL, &p, (long)len);
	bool gcm = false;
	for (int i = 0; algs != NULL && i < sk_X509_ALGOR_num(algs) && !gcm; i++) {
		const ASN1_OBJECT *oid;
		X509_ALGOR_get0(&oid, NULL, NULL, sk_X509_ALGOR_value(algs, i));
		gcm = OBJ_obj2nid(oid) == NID_aes_256_gcm;
	}
	sk_X509_ALGOR_pop_free(algs, X509_ALGOR_free);
	return gcm;
}
