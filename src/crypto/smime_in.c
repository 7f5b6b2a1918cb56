/* smime_in.c: what arrives encrypted: recognise it, name its recipients (so the caller can
 * find the gateway-held key), decrypt it. The input came from the internet; OpenSSL parses
 * it under our size ceiling and every failure is a plain "cannot", never a partial result. */
#include "crypto/smime.h"
#include "crypto/keystore_priv.h"
#include "crypto/smime_priv.h"
#include "core/sg_mem.h"

#include <openssl/cms.h>
#include <openssl/err.h>
#include <string.h>

#define MAX_RECIPIENTS 1000 /* more RecipientInfos than any real message carries */

static const char *const kind_names[] = {
	[SMIME_KIND_NONE] = "none",
	[SMIME_KIND_ENVELOPED] = "enveloped-data",
	[SMIME_KIND_AUTH_ENVELOPED] = "authenveloped-data",
	[SMIME_KIND_SIGNED] = "signed-data",
	[SMIME_KIND_OTHER] = "other",
};

const char *smime_kind_name(enum smime_kind kind)
{
	return (size_t)kind < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[kind] : "?";
}

static enum smime_kind kind_of(const CMS_ContentInfo *cms)
{
	switch (OBJ_obj2nid(CMS_get0_type(cms))) {
	case NID_pkcs7_enveloped:
		return SMIME_KIND_ENVELOPED;
	case NID_id_smime_ct_authEnvelopedData:
		return SMIME_KIND_AUTH_ENVELOPED;
	case NID_pkcs7_signed:
		return SMIME_KIND_SIGNED;
	default:
		return SMIME_KIND_OTHER;
	}
}

enum smime_kind smime_classify(const char *msg, size_t len)
{
	BIO *content = NULL;
	CMS_ContentInfo *cms = smime_priv_read(msg, len, &content);
	enum smime_kind kind = cms != NULL ? kind_of(cms) : SMIME_KIND_NONE;
	CMS_ContentInfo_free(cms);
	BIO_free(content);
	ERR_clear_error();
	return kind;
}

static CMS_ContentInfo *read_enveloped(const char *msg, size_t len, const char **error_r)
{
	BIO *content = NULL;
	CMS_ContentInfo *cms = smime_priv_read(msg, len, &content);
	BIO_free(content);
	enum smime_kind kind = cms != NULL ? kind_of(cms) : SMIME_KIND_NONE;
	if (kind != SMIME_KIND_ENVELOPED && kind != SMIME_KIND_AUTH_ENVELOPED) {
		CMS_ContentInfo_free(cms);
		ERR_clear_error();
		*error_r = "not an S/MIME encrypted message";
		return NULL;
	}
	return cms;
}

static int rid_of(CMS_RecipientInfo *ri, struct smime_rid *rid)
{
	ASN1_OCTET_STRING *keyid = NULL;
	X509_NAME *issuer = NULL;
	ASN1_INTEGER *serial = NULL;
	int type = CMS_RecipientInfo_type(ri);
	int ok = type == CMS_RECIPINFO_TRANS
	       ? CMS_RecipientInfo_ktri_get0_signer_id(ri, &keyid, &issuer, &serial)
	       : 0;
	if (type == CMS_RECIPINFO_AGREE) {
		/* ECDH: the first recipient encrypted key of the KARI names the certificate */
		STACK_OF(CMS_RecipientEncryptedKey) *reks = CMS_RecipientInfo_kari_get0_reks(ri);
		CMS_RecipientEncryptedKey *rek = sk_CMS_RecipientEncryptedKey_value(reks, 0);
		ok = rek != NULL &&
		     CMS_RecipientEncryptedKey_get0_id(rek, &keyid, NULL, NULL, &issuer, &serial);
	}
	if (!ok || issuer == NULL || serial == NULL)
		return -1; /* by key id, password or KEK: not one we can look up */
	return smime_priv_name(issuer, rid->issuer, sizeof(rid->issuer)) < 0 ||
	               smime_priv_serial_hex(serial, rid->serial, sizeof(rid->serial)) < 0
	           ? -1 : 0;
}

int smime_recipients(const char *msg, size_t len, struct smime_rid **rids_r, size_t *count_r,
                     const char **error_r)
{
	CMS_ContentInfo *cms = read_enveloped(msg, len, error_r);
	if (cms == NULL)
		return -1;
	STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);
	int n = sk_CMS_RecipientInfo_num(ris);
	if (n <= 0 || n > MAX_RECIPIENTS) {
		CMS_ContentInfo_free(cms);
		*error_r = "encrypted message has no (or too many) recipients";
		return -1;
	}
	struct smime_rid *rids = sg_calloc((size_t)n, sizeof(*rids));
	size_t count = 0;
	for (int i = 0; i < n; i++)
		if (rid_of(sk_CMS_RecipientInfo_value(ris, i), &rids[count]) == 0)
			count++;
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	*rids_r = rids;
	*count_r = count;
	return 0;
}

int smime_decrypt(const struct smime_der *cert, const struct keystore_key *key, const char *msg,
                  size_t len, char **out_r, size_t *out_len_r, const char **error_r)
{
	X509 *x = smime_priv_x509(cert->data, cert->len);
	if (x == NULL) {
		*error_r = "decryption certificate cannot be read";
		return -1;
	}
	CMS_ContentInfo *cms = read_enveloped(msg, len, error_r);
	BIO *out = BIO_new(BIO_s_mem());
	int rc = -1;
	if (cms != NULL && out != NULL) {
		/* Passing the certificate selects its RecipientInfo: no trial decryption (and no
		 * Bleichenbacher oracle across recipients). A key block that does not open still
		 * goes on with a random content key (OpenSSL's MMA countermeasure, which applies
		 * with the certificate too: test_smime); without it every RecipientInfo would cost
		 * an RSA decryption (measured: 40 foreign recipients, 31 times slower). */
		if (CMS_decrypt(cms, keystore_key_pkey(key), x, NULL, out, CMS_BINARY) == 1 &&
		    smime_priv_bio_take(out, false, out_r, out_len_r) == 0)
			rc = 0;
		else
			*error_r = "cannot decrypt: not encrypted to this certificate, or damaged";
	}
	ERR_clear_error();
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	X509_free(x);
	return rc;
}
