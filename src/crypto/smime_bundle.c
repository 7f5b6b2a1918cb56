/* smime_bundle.c: the certificates in a file a partner uploads or an admin imports: one DER
 * certificate, PEM certificates (one or several), or a PKCS#7 certs-only bundle (.p7b / .p7c,
 * PEM or DER), which usually carries the chain too. Each certificate comes out as DER; choosing the right one is the caller's job. */
#include "crypto/smime.h"

#include "core/limits.h"
#include "core/sg_mem.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <string.h>

#define BUNDLE_CERTS_MAX 16

static int add_der(X509 *x, struct smime_bundle *b)
{
	if (b->n == BUNDLE_CERTS_MAX)
		return -1;
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);
	if (len <= 0 || (size_t)len > SG_CERT_DER_MAX) {
		OPENSSL_free(der);
		return -1;
	}
	b->der[b->n] = sg_memdup(der, (size_t)len);
	b->len[b->n++] = (size_t)len;
	OPENSSL_free(der);
	return 0;
}

static PKCS7 *read_pkcs7(const unsigned char *data, size_t len)
{
	if (data[0] == 0x30) {
		const unsigned char *p = data;
		return d2i_PKCS7(NULL, &p, (long)len);
	}
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	PKCS7 *p7 = bio != NULL ? PEM_read_bio_PKCS7(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	return p7;
}

static X509 *read_der_x509(const unsigned char *data, size_t len)
{
	const unsigned char *p = data;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	if (x != NULL && p != data + len) { /* trailing bytes: maybe a PKCS#7 after all */
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Every PEM certificate in the text (a CA chain often comes as one file of several); 0 if
 * there is at least one and no more than fit. */
static int from_pem(const unsigned char *data, size_t len, struct smime_bundle *b)
{
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	X509 *x;
	int rc = 0;
	while (rc == 0 && bio != NULL && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		rc = add_der(x, b);
		X509_free(x);
	}
	ERR_clear_error(); /* the end of the text reads as "no start line" */
	BIO_free(bio);
	return rc == 0 && b->n > 0 ? 0 : -1;
}

/* The certificates of a certs-only (signed-data) PKCS#7. */
static int from_pkcs7(PKCS7 *p7, struct smime_bundle *b)
{
	if (p7 == NULL || !PKCS7_type_is_signed(p7) || p7->d.sign == NULL)
		return -1;
	STACK_OF(X509) *certs = p7->d.sign->cert;
	for (int i = 0; certs != NULL && i < sk_X509_num(certs); i++)
		if (add_der(sk_X509_value(certs, i), b) < 0)
			return -1;
	return b->n > 0 ? 0 : -1;
}

int smime_bundle_read(const unsigned char *data, size_t len, struct smime_bundle *b_r,
                      const char **error_r)
{
	memset(b_r, 0, sizeof(*b_r));
	*error_r = "not a certificate (expected PEM, DER or a .p7b bundle of certificates)";
	if (len == 0 || len > SG_PKCS12_MAX)
		return -1;
	int rc = -1;
	X509 *x = data[0] == 0x30 ? read_der_x509(data, len) : NULL;
	if (x != NULL) {
		rc = add_der(x, b_r);
		X509_free(x);
	} else if (data[0] != 0x30) {
		rc = from_pem(data, len, b_r);
	}
	if (rc < 0) {
		smime_bundle_free(b_r);
		PKCS7 *p7 = read_pkcs7(data, len);
		rc = from_pkcs7(p7, b_r);
		PKCS7_free(p7);
	}
	if (rc < 0)
		smime_bundle_free(b_r);
	return rc;
}

void smime_bundle_free(struct smime_bundle *b)
{
	for (size_t i = 0; i < b->n; i++)
		sg_free(&b->der[i]);
	b->n = 0;
}
