/* smime_caps.c: what a partner's client says it can read. Thunderbird and Outlook list their
 * ciphers in the SMIMECapabilities of what they sign; we harvest that list and use GCM only
 * for partners who named it (gpgsm 2.2 and NSS 3.87 cannot read AuthEnvelopedData), and
 * RSAES-OAEP only for partners who named it (RFC 8551 2.5.2: a sender that has no such
 * statement uses PKCS#1 v1.5, which every S/MIME client reads). */
#include "crypto/smime.h"

#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

typedef bool (*caps_match_fn)(const X509_ALGOR *alg);

/* True if one entry of the list satisfies match. */
static bool caps_any(const unsigned char *caps, size_t len, caps_match_fn match)
{
	if (caps == NULL || len == 0 || len > SG_SMIME_CAPS_MAX)
		return false;
	const unsigned char *p = caps;
	X509_ALGORS *algs = d2i_X509_ALGORS(NULL, &p, (long)len);
	bool found = false;
	for (int i = 0; algs != NULL && i < sk_X509_ALGOR_num(algs) && !found; i++)
		found = match(sk_X509_ALGOR_value(algs, i));
	sk_X509_ALGOR_pop_free(algs, X509_ALGOR_free);
	return found;
}

static int alg_nid(const X509_ALGOR *alg)
{
	const ASN1_OBJECT *oid;
	X509_ALGOR_get0(&oid, NULL, NULL, alg);
	return OBJ_obj2nid(oid);
}

static bool is_gcm(const X509_ALGOR *alg)
{
	return alg_nid(alg) == NID_aes_256_gcm;
}

/* id-RSAES-OAEP without parameters (any hash), or with SHA-256 as its hash: what we send. A
 * list that names OAEP with another hash only (SHA-1 is the default of the parameters) gets
 * PKCS#1 v1.5, as before. */
static bool is_oaep_sha256(const X509_ALGOR *alg)
{
	if (alg_nid(alg) != NID_rsaesOaep)
		return false;
	const ASN1_TYPE *param = alg->parameter;
	if (param == NULL || param->type == V_ASN1_NULL)
		return true;
	RSA_OAEP_PARAMS *oaep = param->type == V_ASN1_SEQUENCE
	                      ? ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(RSA_OAEP_PARAMS), param)
	                      : NULL;
	bool sha256 = oaep != NULL && oaep->hashFunc != NULL &&
	              OBJ_obj2nid(oaep->hashFunc->algorithm) == NID_sha256;
	RSA_OAEP_PARAMS_free(oaep);
	return sha256;
}

bool smime_caps_allow_gcm(const unsigned char *caps, size_t len)
{
	return caps_any(caps, len, is_gcm);
}

bool smime_caps_allow_oaep(const unsigned char *caps, size_t len)
{
	return caps_any(caps, len, is_oaep_sha256);
}
