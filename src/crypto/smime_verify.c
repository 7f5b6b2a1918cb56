/* smime_verify.c: signature verdicts for inbound mail. Stricter than OpenSSL where Thunderbird
 * is: SHA-1 is "weak", not valid, and a signing time far from the Date header is invalid
 * (corpus/thunderbird-smime/EXPECTED.tsv). Untrusted means intact but not chained to an anchor:
 * the math is checked first without the chain, so a forged and an unknown signer differ. A
 * certificate the instance CA revoked is "revoked"; one that does not name the From address is
 * "valid-other-signer" (smime_verify_require_signer, RFC 8550 section 3). */
#include "crypto/smime.h"
#include "crypto/smime_priv.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "mime/mime.h"

#include <openssl/cms.h>
#include <openssl/err.h>
#include <string.h>


static const char *const verdict_names[] = {
	[SMIME_SIG_NONE] = "none",           [SMIME_SIG_VALID] = "valid",
	[SMIME_SIG_INVALID] = "invalid",     [SMIME_SIG_UNTRUSTED] = "untrusted",
	[SMIME_SIG_WEAK] = "weak",           [SMIME_SIG_REVOKED] = "revoked",
	[SMIME_SIG_OTHER_SIGNER] = "valid-other-signer", [SMIME_SIG_PARTIAL] = "partial",
};

const char *smime_verdict_name(enum smime_verdict v)
{
	return (size_t)v < sizeof(verdict_names) / sizeof(verdict_names[0]) ? verdict_names[v] : "?";
}

void smime_verify_result_free(struct smime_verify_result *r)
{
	sg_free(&r->signer_der);
	sg_free(&r->caps);
	sg_free(&r->content);
	memset(r, 0, sizeof(*r));
	r->reason = "";
}

static const ASN1_TYPE *signed_attr(CMS_SignerInfo *si, int nid)
{
	int idx = CMS_signed_get_attr_by_NID(si, nid, -1);
	X509_ATTRIBUTE *a = idx >= 0 ? CMS_signed_get_attr(si, idx) : NULL;
	return a != NULL && X509_ATTRIBUTE_count(a) == 1 ? X509_ATTRIBUTE_get0_type(a, 0) : NULL;
}

static void take_caps_and_time(CMS_SignerInfo *si, struct smime_verify_result *r)
{
	const ASN1_TYPE *caps = signed_attr(si, NID_SMIMECapabilities);
	if (caps != NULL && caps->type == V_ASN1_SEQUENCE &&
	    caps->value.sequence->length > 0 && caps->value.sequence->length <= SG_SMIME_CAPS_MAX) {
		r->caps = sg_memdup(caps->value.sequence->data, (size_t)caps->value.sequence->length);
		r->caps_len = (size_t)caps->value.sequence->length;
	}
	const ASN1_TYPE *st = signed_attr(si, NID_pkcs9_signingTime);
	struct tm tm;
	if (st != NULL && (st->type == V_ASN1_UTCTIME || st->type == V_ASN1_GENERALIZEDTIME) &&
	    ASN1_TIME_to_tm(st->value.utctime, &tm) == 1)
		r->signing_time = timegm(&tm);
}

static void take_signer(X509 *x, struct smime_verify_result *r)
{
	unsigned char *der = NULL;
	int n = x != NULL ? i2d_X509(x, &der) : -1;
	if (n > 0 && n <= SG_CERT_DER_MAX) {
		r->signer_der = sg_memdup(der, (size_t)n);
		r->signer_der_len = (size_t)n;
	}
	OPENSSL_free(der);
	if (x != NULL)
		smime_priv_address(x, r->signer, sizeof(r->signer));
}

/* Signer details, and whether any signer used a broken digest. */
static bool inspect_signers(CMS_ContentInfo *cms, struct smime_verify_result *r)
{
	STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
	bool weak = false;
	for (int i = 0; i < sk_CMS_SignerInfo_num(sis); i++) {
		CMS_SignerInfo *si = sk_CMS_SignerInfo_value(sis, i);
		X509 *signer = NULL;
		X509_ALGOR *dig = NULL, *sig = NULL;
		CMS_SignerInfo_get0_algs(si, NULL, &signer, &dig, &sig);
		int nid = dig != NULL ? OBJ_obj2nid(dig->algorithm) : NID_undef;
		weak |= nid == NID_sha1 || nid == NID_md5 || nid == NID_undef;
		if (i == 0) {
			take_signer(signer, r);
			take_caps_and_time(si, r);
		}
	}
	return weak;
}

/* One CMS_verify pass over a fresh copy of the detached content. */
/* The detached content behind a pass-through filter. OpenSSL 3.0's CMS_verify copies a memory
 * BIO into a BIO of its own and, with CMS_BINARY, leaks that copy when CMS_dataInit fails (a
 * hostile SignedData with no usable digestAlgorithms: openssl/openssl PR 30535, after 3.0.19);
 * given any other BIO type it reads ours directly and frees nothing of its own. */
static BIO *detached_content_bio(const char *dc, size_t dclen)
{
	BIO *mem = smime_priv_mem_bio(dc, dclen);
	BIO *filter = mem != NULL ? BIO_new(BIO_f_null()) : NULL;
	if (filter == NULL) {
		BIO_free(mem);
		return NULL;
	}
	return BIO_push(filter, mem);
}

static int verify_pass(CMS_ContentInfo *cms, X509_STORE *store, const char *dc, size_t dclen,
                       unsigned flags, BIO *out)
{
	BIO *content = dc != NULL ? detached_content_bio(dc, dclen) : NULL;
	int ok = (dc == NULL || content != NULL) && CMS_verify(cms, NULL, store, content, out, flags) == 1;
	BIO_free_all(content);
	ERR_clear_error();
	return ok;
}

/* Whether the instance CA revoked a signer (1), or its CRL cannot tell (-1). */
static int own_revoked(const struct smime_trust *t, CMS_ContentInfo *cms, const char **why_r)
{
	STACK_OF(X509) *signers = CMS_get0_signers(cms);
	int worst = 0;
	for (int i = 0; i < sk_X509_num(signers) && worst <= 0; i++) {
		int rc = smime_priv_trust_own_revoked(t, sk_X509_value(signers, i), why_r);
		worst = rc != 0 ? rc : worst;
	}
	sk_X509_free(signers);
	return worst;
}

static void judge(CMS_ContentInfo *cms, const struct smime_trust *t, const char *dc,
                  size_t dclen, const char *msg, size_t len, struct smime_verify_result *r)
{
	int revoked;
	const char *why = "";
	BIO *out = BIO_new(BIO_s_mem());
	bool intact = out != NULL &&
	              verify_pass(cms, NULL, dc, dclen, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY, out);
	bool weak = inspect_signers(cms, r);
	if (intact && smime_priv_bio_take(out, false, &r->content, &r->content_len) < 0)
		intact = false;
	BIO_free(out);
	time_t date = mime_header_date(msg, len);
	if (!intact && dc != NULL) {
		/* the detached part is still what the sender meant to deliver: hand it on */
		r->content = sg_memdup(dc, dclen + 1);
		r->content_len = dclen;
	}
	if (!intact) {
		r->verdict = SMIME_SIG_INVALID;
		r->reason = "the message was altered after signing, or the signature is broken";
	} else if (!verify_pass(cms, smime_priv_trust_store(t), dc, dclen, CMS_BINARY, NULL)) {
		r->verdict = SMIME_SIG_UNTRUSTED;
		r->reason = "the signer's certificate is not issued by a trusted CA, or not valid now";
	} else if ((revoked = own_revoked(t, cms, &why)) != 0) {
		r->verdict = revoked > 0 ? SMIME_SIG_REVOKED : SMIME_SIG_UNTRUSTED;
		r->reason = why;
	} else if (weak) {
		r->verdict = SMIME_SIG_WEAK;
		r->reason = "signed with SHA-1, which can be forged";
	} else if (date != 0 && r->signing_time != 0 &&
	           (r->signing_time - date > SG_SIG_DATE_SKEW_MAX || date - r->signing_time > SG_SIG_DATE_SKEW_MAX)) {
		r->verdict = SMIME_SIG_INVALID;
		r->reason = "the signing time differs from the Date header by more than an hour";
	} else {
		r->verdict = SMIME_SIG_VALID;
		r->reason = "signature valid";
	}
}

int smime_verify(const struct smime_trust *t, const char *msg, size_t len,
                 struct smime_verify_result *r, const char **error_r)
{
	memset(r, 0, sizeof(*r));
	r->reason = "not signed";
	BIO *content = NULL;
	CMS_ContentInfo *cms = smime_priv_read(msg, len, &content);
	if (cms == NULL || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		CMS_ContentInfo_free(cms);
		BIO_free(content);
		ERR_clear_error();
		*error_r = "not an S/MIME signed message";
		return -1;
	}
	char *dc = NULL;
	size_t dclen = 0;
	if (content != NULL && smime_priv_bio_take(content, false, &dc, &dclen) < 0)
		dc = NULL;
	r->detached = content != NULL;
	judge(cms, t, content != NULL ? (dc != NULL ? dc : "") : NULL, dclen, msg, len, r);
	sg_free(&dc);
	BIO_free(content);
	CMS_ContentInfo_free(cms);
	return 0;
}

void smime_verify_require_signer(struct smime_verify_result *r, const char *from)
{
	if (r->verdict != SMIME_SIG_VALID)
		return;
	if (from != NULL && from[0] != '\0' && r->signer_der != NULL &&
	    smime_cert_has_address(r->signer_der, r->signer_der_len, from))
		return;
	r->verdict = SMIME_SIG_OTHER_SIGNER;
	r->reason = "the signer's certificate is for another address than the From address";
}
