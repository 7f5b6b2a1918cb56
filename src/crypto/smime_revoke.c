/* smime_revoke.c: is a partner's certificate revoked? Asked before mail is encrypted to it,
 * as CipherMail does: first its OCSP responder (AIA), the fresher answer, then its CRL
 * distribution points. Both are plain HTTP (RFC 5280 and 6960: the answers are signed, so TLS
 * adds nothing), fetched by OpenSSL's HTTP client with a size ceiling and a timeout, without
 * any proxy. An answer counts only if the certificate's issuer, found among the trust anchors,
 * signed it (or, for OCSP, a responder it delegated to). Answers are kept per certificate in a
 * small process-wide table, so the planner and the transform of every message ask the network
 * at most once per certificate and period. */
#include "crypto/smime.h"
#include "crypto/smime_priv.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define CACHE_SLOTS   256
#define URLS_TRIED    2          /* of each kind: a certificate may list many */
#define TTL_GOOD_MAX  3600       /* a good answer is asked again after this at the latest */
#define TTL_REVOKED   86400
#define TTL_UNKNOWN   300
#define TTL_NO_INFO   3600
#define CLOCK_SKEW    300

static const char *const mode_names[] = {"off", "soft", "hard"};

int smime_rev_mode_parse(const char *s, enum smime_rev_mode *mode_r)
{
	for (size_t i = 0; s != NULL && i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (strcmp(s, mode_names[i]) == 0) {
			*mode_r = (enum smime_rev_mode)i;
			return 0;
		}
	}
	return -1;
}

/* ---- the table of answers ---- */

struct answer {
	char fpr[65];
	enum smime_rev_status status;
	time_t until;
	char how[160];
};

static struct answer answers[CACHE_SLOTS];
static size_t answers_next;
static pthread_mutex_t answers_lock = PTHREAD_MUTEX_INITIALIZER;

static bool answer_find(const char *fpr, enum smime_rev_status *status_r, char *how, size_t hs)
{
	bool found = false;
	time_t now = time(NULL);
	pthread_mutex_lock(&answers_lock);
	for (size_t i = 0; i < CACHE_SLOTS && !found; i++) {
		if (strcmp(answers[i].fpr, fpr) == 0 && now < answers[i].until) {
			*status_r = answers[i].status;
			if (how != NULL)
				sg_strlcpy(how, answers[i].how, hs);
			found = true;
		}
	}
	pthread_mutex_unlock(&answers_lock);
	return found;
}

static void answer_keep(const char *fpr, enum smime_rev_status status, time_t until,
                        const char *how)
{
	pthread_mutex_lock(&answers_lock);
	struct answer *a = &answers[answers_next++ % CACHE_SLOTS];
	sg_strlcpy(a->fpr, fpr, sizeof(a->fpr));
	a->status = status;
	a->until = until;
	sg_strlcpy(a->how, how, sizeof(a->how));
	pthread_mutex_unlock(&answers_lock);
}

/* ---- one check ---- */

struct check {
	X509 *cert, *issuer;
	enum smime_rev_status status;
	time_t until;
	char how[160];
};

/* Sets the outcome; how becomes "what URL". */
static void decided(struct check *c, enum smime_rev_status status, time_t next, const char *what,
                    const char *url)
{
	time_t now = time(NULL);
	c->status = status;
	/* good: until the next update (none given: the longest), but asked again soon when that
	 * is already past (a CRL within the clock-skew allowance) */
	time_t good = next == 0 || next >= now + TTL_GOOD_MAX ? now + TTL_GOOD_MAX
	            : next > now                              ? next
	                                                      : now + TTL_UNKNOWN;
	c->until = status == SMIME_REV_REVOKED ? now + TTL_REVOKED
	         : status == SMIME_REV_GOOD    ? good
	                                       : now + TTL_UNKNOWN;
	char printable[100];
	sg_printable(printable, sizeof(printable), url, 80);
	snprintf(c->how, sizeof(c->how), "%s%s%s", what, url[0] ? " " : "", printable);
}

static time_t asn1_epoch(const ASN1_TIME *t)
{
	struct tm tm;
	return t != NULL && ASN1_TIME_to_tm(t, &tm) == 1 ? timegm(&tm) : 0;
}

/* The URI names of the CRL distribution points, at most max. */
static size_t crl_urls(X509 *x, const char **urls, size_t max, STACK_OF(DIST_POINT) **dps_r)
{
	STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
	size_t n = 0;
	for (int i = 0; i < sk_DIST_POINT_num(dps) && n < max; i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
		if (dp->distpoint == NULL || dp->distpoint->type != 0)
			continue;
		GENERAL_NAMES *names = dp->distpoint->name.fullname;
		for (int j = 0; j < sk_GENERAL_NAME_num(names) && n < max; j++) {
			GENERAL_NAME *g = sk_GENERAL_NAME_value(names, j);
			if (g->type == GEN_URI)
				urls[n++] = (const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
		}
	}
	*dps_r = dps;
	return n;
}

static bool is_http(const char *url) { return sg_has_prefix_nocase(url, "http://"); }

static void ask_crl(struct check *c, const char *url)
{
	BIO *rsp = is_http(url) ? OSSL_HTTP_get(url, "", NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, 1,
	                                        SG_CRL_FETCH_MAX, SG_REVOCATION_TIMEOUT)
	                        : NULL;
	X509_CRL *crl = rsp != NULL ? d2i_X509_CRL_bio(rsp, NULL) : NULL;
	EVP_PKEY *pub = X509_get0_pubkey(c->issuer);
	time_t now = time(NULL), next = crl != NULL ? asn1_epoch(X509_CRL_get0_nextUpdate(crl)) : 0;
	X509_REVOKED *rev = NULL;
	if (crl == NULL)
		decided(c, SMIME_REV_UNKNOWN, 0, "cannot fetch the CRL", url);
	else if (pub == NULL || X509_CRL_verify(crl, pub) != 1 ||
	         X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(c->issuer)) != 0)
		decided(c, SMIME_REV_UNKNOWN, 0, "not signed by the issuer: the CRL", url);
	else if ((next != 0 && next + CLOCK_SKEW < now) ||
	         asn1_epoch(X509_CRL_get0_lastUpdate(crl)) > now + CLOCK_SKEW)
		decided(c, SMIME_REV_UNKNOWN, 0, "out of date: the CRL", url);
	else if (X509_CRL_get0_by_cert(crl, &rev, c->cert) == 1)
		decided(c, SMIME_REV_REVOKED, 0, "listed in the CRL", url);
	else
		decided(c, SMIME_REV_GOOD, next, "not listed in the CRL", url);
	X509_CRL_free(crl);
	BIO_free(rsp);
	ERR_clear_error();
}

/* The POST of an OCSP request to url; the response or NULL. */
static OCSP_RESPONSE *ocsp_post(const char *url, OCSP_REQUEST *req)
{
	char *host = NULL, *port = NULL, *path = NULL;
	int ssl = 0;
	OCSP_RESPONSE *resp = NULL;
	BIO *body = ASN1_item_i2d_mem_bio(ASN1_ITEM_rptr(OCSP_REQUEST), (const ASN1_VALUE *)req);
	if (body != NULL && is_http(url) &&
	    OSSL_HTTP_parse_url(url, &ssl, NULL, &host, &port, NULL, &path, NULL, NULL) == 1 &&
	    !ssl) {
		BIO *rsp = OSSL_HTTP_transfer(NULL, host, port, path, 0, "", NULL, NULL, NULL, NULL, NULL,
		                              0, NULL, "application/ocsp-request", body,
		                              "application/ocsp-response", 1, SG_OCSP_RESPONSE_MAX,
		                              SG_REVOCATION_TIMEOUT, 0);
		resp = rsp != NULL ? d2i_OCSP_RESPONSE_bio(rsp, NULL) : NULL;
		BIO_free(rsp);
	}
	OPENSSL_free(host);
	OPENSSL_free(port);
	OPENSSL_free(path);
	BIO_free(body);
	return resp;
}

/* A verified basic response to req from the issuer or its delegate, or NULL. */
static OCSP_BASICRESP *ocsp_verified(struct check *c, OCSP_REQUEST *req, OCSP_RESPONSE *resp)
{
	OCSP_BASICRESP *bs = resp != NULL &&
	                     OCSP_response_status(resp) == OCSP_RESPONSE_STATUS_SUCCESSFUL
	                   ? OCSP_response_get1_basic(resp) : NULL;
	STACK_OF(X509) *certs = sk_X509_new_null();
	X509_STORE *store = X509_STORE_new();
	int nonce = bs != NULL ? OCSP_check_nonce(req, bs) : 0;
	bool ok = bs != NULL && certs != NULL && store != NULL && (nonce == 1 || nonce == -1) &&
	          sk_X509_push(certs, c->issuer) > 0 && X509_STORE_add_cert(store, c->issuer) == 1 &&
	          OCSP_basic_verify(bs, certs, store, 0) == 1;
	sk_X509_free(certs);
	X509_STORE_free(store);
	if (!ok)
		OCSP_BASICRESP_free(bs);
	return ok ? bs : NULL;
}

static void ask_ocsp(struct check *c, const char *url)
{
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, c->cert, c->issuer);
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	bool built = id != NULL && req != NULL && OCSP_request_add0_id(req, OCSP_CERTID_dup(id)) &&
	             OCSP_request_add1_nonce(req, NULL, -1) == 1;
	OCSP_RESPONSE *resp = built ? ocsp_post(url, req) : NULL;
	OCSP_BASICRESP *bs = resp != NULL ? ocsp_verified(c, req, resp) : NULL;
	int status = -1, reason = 0;
	ASN1_GENERALIZEDTIME *rev = NULL, *this_upd = NULL, *next_upd = NULL;
	if (resp == NULL)
		decided(c, SMIME_REV_UNKNOWN, 0, "no answer from the OCSP responder", url);
	else if (bs == NULL || OCSP_resp_find_status(bs, id, &status, &reason, &rev, &this_upd,
	                                             &next_upd) != 1 ||
	         OCSP_check_validity(this_upd, next_upd, CLOCK_SKEW, -1) != 1)
		decided(c, SMIME_REV_UNKNOWN, 0, "no valid answer from the OCSP responder", url);
	else if (status == V_OCSP_CERTSTATUS_REVOKED)
		decided(c, SMIME_REV_REVOKED, 0, "revoked, says the OCSP responder", url);
	else if (status == V_OCSP_CERTSTATUS_GOOD)
		decided(c, SMIME_REV_GOOD, asn1_epoch(next_upd), "good, says the OCSP responder",
		        url);
	else
		decided(c, SMIME_REV_UNKNOWN, 0, "unknown to the OCSP responder", url);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	OCSP_REQUEST_free(req);
	OCSP_CERTID_free(id);
	ERR_clear_error();
}

/* OCSP first, then the CRLs, until one of them decides. */
static void ask(struct check *c)
{
	STACK_OF(OPENSSL_STRING) *ocsp = X509_get1_ocsp(c->cert);
	STACK_OF(DIST_POINT) *dps = NULL;
	const char *crls[URLS_TRIED];
	size_t ncrl = crl_urls(c->cert, crls, URLS_TRIED, &dps);
	int nocsp = sk_OPENSSL_STRING_num(ocsp);
	if (nocsp <= 0 && ncrl == 0) {
		c->status = SMIME_REV_NO_INFO;
		c->until = time(NULL) + TTL_NO_INFO;
		sg_strlcpy(c->how, "it names no CRL and no OCSP responder", sizeof(c->how));
	} else if (c->issuer == NULL) {
		decided(c, SMIME_REV_UNKNOWN, 0, "its issuer is not a trust anchor here", "");
	} else {
		for (int i = 0; i < nocsp && i < URLS_TRIED && c->status == SMIME_REV_UNKNOWN; i++)
			ask_ocsp(c, sk_OPENSSL_STRING_value(ocsp, i));
		for (size_t i = 0; i < ncrl && c->status == SMIME_REV_UNKNOWN; i++)
			ask_crl(c, crls[i]);
	}
	X509_email_free(ocsp);
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
}

enum smime_rev_status smime_revocation_status(const struct smime_trust *t,
                                              const unsigned char *der, size_t len,
                                              char *how, size_t howsize)
{
	/* Asked for every message sent to a partner: a remembered answer is found by the DER's
	 * hash alone (decoding the certificate first cost a tenth of an encryption). */
	char fpr[65];
	enum smime_rev_status status;
	smime_priv_fingerprint(der, len, fpr);
	if (answer_find(fpr, &status, how, howsize))
		return status;
	struct check c = {.cert = smime_priv_x509(der, len), .status = SMIME_REV_UNKNOWN};
	if (c.cert == NULL) {
		if (how != NULL)
			sg_strlcpy(how, "not a DER X.509 certificate", howsize);
		return SMIME_REV_UNKNOWN;
	}
	c.issuer = smime_priv_trust_issuer(t, c.cert);
	ask(&c);
	X509_free(c.issuer);
	X509_free(c.cert);
	answer_keep(fpr, c.status, c.until, c.how);
	if (how != NULL)
		sg_strlcpy(how, c.how, howsize);
	return c.status;
}
