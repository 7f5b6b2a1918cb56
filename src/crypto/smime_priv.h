/* smime_priv.h: private to crypto/: helpers the smime_* and ca_* files share (OpenSSL types,
 * so no header outside crypto/ includes it). */
#ifndef SG_SMIME_PRIV_H
#define SG_SMIME_PRIV_H

#include "crypto/smime.h"

#include <openssl/bio.h>
#include <openssl/x509.h>

/* d2i of exactly len bytes (nothing may follow), at most SG_CERT_DER_MAX; NULL if not. */
X509 *smime_priv_x509(const unsigned char *der, size_t len);
/* The same from a small per-thread cache keyed by the DER bytes (the mail path parses the same
 * few certificates for every message). A reference the caller frees; never to be modified. */
X509 *smime_priv_x509_cached(const unsigned char *der, size_t len);
/* SHA-256 of der, lower-case hex, into dst (65 bytes): smime_certinfo's fingerprint without
 * decoding the certificate. */
void smime_priv_fingerprint(const unsigned char *der, size_t len, char *dst);
/* Hex of an ASN1_INTEGER serial into dst; -1 if it does not fit. */
int smime_priv_serial_hex(const ASN1_INTEGER *serial, char *dst, size_t dstsize);
/* One-line RFC 2253 form of name into dst (truncated names are refused: -1). */
int smime_priv_name(const X509_NAME *name, char *dst, size_t dstsize);
/* First e-mail address of x (SAN rfc822Name, else DN emailAddress), lower-case; "" if none. */
void smime_priv_address(X509 *x, char *dst, size_t dstsize);
/* True if p has an LF that no CR precedes. */
bool smime_priv_has_bare_lf(const char *p, size_t n);
/* A NUL-terminated copy of p with every bare LF made CRLF (caller frees). */
void smime_priv_crlf_copy(const char *p, size_t n, char **out_r, size_t *out_len_r);
/* Copies a memory BIO's contents into a new NUL-terminated buffer, bare LF made CRLF if crlf. */
int smime_priv_bio_take(BIO *b, bool crlf, char **out_r, size_t *out_len_r);
/* A read-only memory BIO over msg: raw DER is recognised by its first byte. */
BIO *smime_priv_mem_bio(const char *msg, size_t len);
/* Reads a CMS structure from a MIME message/entity or raw DER; content_r gets the detached
 * content of a multipart/signed (or NULL). */
struct CMS_ContentInfo_st *smime_priv_read(const char *msg, size_t len, BIO **content_r);

/* smime_trust.c: the anchors as an OpenSSL store (owned by t). */
X509_STORE *smime_priv_trust_store(const struct smime_trust *t);
/* The issuer of x among t's anchors (a reference the caller frees), or NULL. */
X509 *smime_priv_trust_issuer(const struct smime_trust *t, X509 *x);
/* For a certificate the instance CA issued: 1 revoked by its CRL, -1 the CRL cannot tell
 * (out of date, unreadable), each with *why_r; 0 not revoked, or not issued by it. */
int smime_priv_trust_own_revoked(const struct smime_trust *t, X509 *signer, const char **why_r);

#endif
