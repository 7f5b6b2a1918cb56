/* smime.h: S/MIME (CMS, OpenSSL) primitives for the mail path, buffer in → buffer out:
 * encrypt a MIME entity to certificates, sign it, decrypt and verify what arrives, and decide
 * whether a certificate may be used. Certificates cross this header as DER; keys as keystore
 * handles. Defaults follow DESIGN.md: AES-256-CBC, issuer-and-serial, SHA-256, CRLF. */
#ifndef SG_SMIME_H
#define SG_SMIME_H

#include "core/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct keystore_key;

#define SMIME_SERIAL_MAX 80 /* hex of a serial number (RFC 5280: at most 20 octets) + NUL */
#define SMIME_DN_MAX 512    /* one-line RFC 2253 name */

struct smime_der {
	const unsigned char *data;
	size_t len;
};

/* ---- certificates (smime_cert.c) ---- */

struct smime_certinfo {
	char fingerprint[65];           /* SHA-256 of the DER, lower-case hex */
	char serial[SMIME_SERIAL_MAX];  /* upper-case hex */
	char issuer[SMIME_DN_MAX];
	char subject[SMIME_DN_MAX];
	char address[SG_ADDR_MAX];      /* first e-mail address (SAN rfc822Name, else DN), lower-case */
	time_t not_before, not_after;
	bool is_rsa;
	bool is_ca;                     /* may sign certificates (basicConstraints CA, or v1 root) */
};

/* Parses a DER certificate (at most SG_CERT_DER_MAX bytes, nothing after it). */
int smime_cert_parse(const unsigned char *der, size_t len, struct smime_certinfo *info_r,
                     const char **error_r);
/* The first certificate in PEM or DER bytes, as DER (caller frees). */
int smime_cert_to_der(const unsigned char *data, size_t len, unsigned char **der_r,
                      size_t *der_len_r, const char **error_r);
/* smime_bundle.c: every certificate in an uploaded file: one DER certificate, PEM ones, or a
 * PKCS#7 certs-only bundle (.p7b, PEM or DER); at most 16, each at most SG_CERT_DER_MAX. */
struct smime_bundle {
	unsigned char *der[16];
	size_t len[16];
	size_t n;
};
int smime_bundle_read(const unsigned char *data, size_t len, struct smime_bundle *b_r,
                      const char **error_r);
void smime_bundle_free(struct smime_bundle *b);
/* PEM text of a DER certificate (caller frees). */
int smime_cert_to_pem(const unsigned char *der, size_t len, char **pem_r, size_t *pem_len_r,
                      const char **error_r);
/* True if the certificate names address (SAN rfc822Name or DN emailAddress), ignoring case. */
bool smime_cert_has_address(const unsigned char *der, size_t len, const char *address);
/* True if match(name, arg) holds for one of the names the certificate gives its subject: an
 * e-mail address (SAN rfc822Name or DN emailAddress) or a SAN dNSName (domain certificates). */
bool smime_cert_any_name(const unsigned char *der, size_t len,
                         bool (*match)(const char *name, const char *arg), const char *arg);
/* True if key belongs to the certificate. */
bool smime_cert_matches_key(const unsigned char *der, size_t len, const struct keystore_key *key);

enum smime_usage { SMIME_USAGE_ENCRYPT, SMIME_USAGE_SIGN };
/* May this certificate be used for usage at now? Valid in time, not revoked (revoked_at 0 =
 * not), EKU emailProtection (or none), keyEncipherment (RSA, encrypt) or digitalSignature
 * (sign). Returns 0, or -1 with why_r saying what is wrong. */
int smime_cert_usable(const unsigned char *der, size_t len, enum smime_usage usage, time_t now,
                      time_t revoked_at, const char **why_r);

/* ---- outbound (smime_out.c) ---- */

#define SMIME_ENCRYPT_GCM 0x1u /* AuthEnvelopedData AES-256-GCM: only for peers that read it */

/* One recipient: its certificate, and the SMIMECapabilities (DER) its client stated in signed
 * mail ({NULL, 0} if none is known). An RSA recipient whose list names RSAES-OAEP gets its
 * content key wrapped with RSAES-OAEP (SHA-256, MGF1-SHA-256); every other RSA recipient with
 * PKCS#1 v1.5, which every client reads. */
struct smime_recipient {
	struct smime_der cert;
	struct smime_der caps;
};
/* Encrypts a MIME entity (headers + body; bare LF is made CRLF) to every recipient.
 * *out_r is an application/pkcs7-mime entity with CRLF line ends, beginning with its
 * MIME-Version/Content-* headers; the caller puts the message headers above it. */
int smime_encrypt_to(const struct smime_recipient *rcpts, size_t n, const char *entity,
                     size_t len, unsigned flags, char **out_r, size_t *out_len_r,
                     const char **error_r);
/* The same for certificates whose capabilities are not known (PKCS#1 v1.5 for RSA). */
int smime_encrypt(const struct smime_der *certs, size_t ncerts, const char *entity, size_t len,
                  unsigned flags, char **out_r, size_t *out_len_r, const char **error_r);
/* Signs a MIME entity: *out_r is a multipart/signed entity (SHA-256, detached, CRLF) whose
 * first part is the entity byte for byte. chain: extra certificates to include (the CA). */
int smime_sign(const struct smime_der *signer, const struct keystore_key *key,
               const struct smime_der *chain, size_t nchain, const char *entity, size_t len,
               char **out_r, size_t *out_len_r, const char **error_r);

/* smime_caps.c: true if a harvested SMIMECapabilities list (DER) names AES-256-GCM. */
bool smime_caps_allow_gcm(const unsigned char *caps, size_t len);
/* True if it names RSAES-OAEP, without parameters or with SHA-256 as the hash. */
bool smime_caps_allow_oaep(const unsigned char *caps, size_t len);

/* ---- inbound (smime_in.c, smime_verify.c) ---- */

enum smime_kind {
	SMIME_KIND_NONE,            /* not S/MIME (or unreadable) */
	SMIME_KIND_ENVELOPED,       /* EnvelopedData */
	SMIME_KIND_AUTH_ENVELOPED,  /* AuthEnvelopedData (GCM) */
	SMIME_KIND_SIGNED,          /* multipart/signed or opaque SignedData */
	SMIME_KIND_OTHER,           /* another CMS type (compressed, certs-only) */
};
/* What the top-level entity of msg (a message, an entity or raw DER CMS) is. */
enum smime_kind smime_classify(const char *msg, size_t len);
const char *smime_kind_name(enum smime_kind kind);

struct smime_rid {
	char issuer[SMIME_DN_MAX];
	char serial[SMIME_SERIAL_MAX];
};
/* The issuer-and-serial recipient ids of an (auth)enveloped message, so that the caller can
 * find the gateway-held certificate it was encrypted to. *rids_r is the caller's to free. */
int smime_recipients(const char *msg, size_t len, struct smime_rid **rids_r, size_t *count_r,
                     const char **error_r);
/* Decrypts msg with key and its certificate; *out_r is the inner entity (caller frees). */
int smime_decrypt(const struct smime_der *cert, const struct keystore_key *key, const char *msg,
                  size_t len, char **out_r, size_t *out_len_r, const char **error_r);

/* Trust anchors for verification: the system store, the organisation CA, imported roots. */
struct smime_trust;
struct smime_trust *smime_trust_new(bool system_store);
int smime_trust_add_pem_file(struct smime_trust *t, const char *path, const char **error_r);
/* The instance's file of further anchors (ca.trust_anchors): 1 loaded, 0 there is no such
 * file (none imported yet), -1 unreadable or not PEM certificates. */
int smime_trust_add_anchor_file(struct smime_trust *t, const char *path, const char **error_r);
int smime_trust_add_der(struct smime_trust *t, const unsigned char *der, size_t len,
                        const char **error_r);
/* The instance CA and the file of its CRL (gateway.ca_dir/crl.pem): a signer certificate it
 * issued is checked against that CRL (X509_V_FLAG_CRL_CHECK), read again whenever the file
 * changes, so that `sealgate cert revoke` takes effect on the next message. No file yet: nothing
 * revoked. */
int smime_trust_set_own_ca(struct smime_trust *t, const unsigned char *der, size_t len,
                           const char *crl_path, const char **error_r);
/* Does the certificate chain to a trust anchor (the system store, the instance CA, ca.trust_anchors)
 * at the trust's time, with the certificates extra[0..nextra) (untrusted) as intermediates?
 * 0 yes; -1 with *why_r (OpenSSL's reason: "unable to get local issuer certificate", ...). */
int smime_trust_check_chain(const struct smime_trust *t, const unsigned char *der, size_t len,
                            const struct smime_der *extra, size_t nextra, const char **why_r);
/* Verifies as of when instead of now (tests, and re-checking old mail). */
void smime_trust_set_time(struct smime_trust *t, time_t when);
void smime_trust_free(struct smime_trust **t);

enum smime_verdict {
	SMIME_SIG_NONE,      /* not signed */
	SMIME_SIG_VALID,     /* intact, trusted signer, strong digest */
	SMIME_SIG_INVALID,   /* altered, broken, or signing time far from the Date header */
	SMIME_SIG_UNTRUSTED, /* intact, but the signer does not chain to a trust anchor */
	SMIME_SIG_WEAK,      /* intact and trusted, but SHA-1 (or weaker): not to be relied on */
	SMIME_SIG_REVOKED,   /* intact, but the instance CA revoked the signer's certificate (an
	                      * instance CA's CRL that cannot be read makes it untrusted) */
	SMIME_SIG_OTHER_SIGNER, /* valid, but the certificate names another address than From */
	SMIME_SIG_PARTIAL,   /* a signature covers only a part of what is delivered */
};
/* "valid", "invalid", "untrusted", "weak", "none", "revoked", "valid-other-signer",
 * "partial". */
const char *smime_verdict_name(enum smime_verdict v);

struct smime_verify_result {
	enum smime_verdict verdict;
	const char *reason;            /* static text for the log and the header, never NULL */
	char signer[SG_ADDR_MAX];      /* signer's first e-mail address, or "" */
	unsigned char *signer_der;     /* signer certificate (for harvesting), or NULL */
	size_t signer_der_len;
	unsigned char *caps;           /* signed SMIMECapabilities attribute (DER), or NULL */
	size_t caps_len;
	time_t signing_time;           /* 0 if absent */
	char *content;                 /* what was signed (opaque: the inner entity); for an
	                                * invalid detached signature still the first part */
	size_t content_len;
	bool detached;                 /* multipart/signed (else opaque signed-data) */
};
/* Verifies a signed message (a top-level Date: header is compared with the signing time).
 * Returns -1 with error_r when msg is not a signed message OpenSSL can read; otherwise 0 with
 * the verdict in *r (free it with the function below). */
int smime_verify(const struct smime_trust *t, const char *msg, size_t len,
                 struct smime_verify_result *r, const char **error_r);
void smime_verify_result_free(struct smime_verify_result *r);
/* RFC 8550 section 3: a valid signature is valid only for the address its certificate names
 * (SAN rfc822Name or DN emailAddress). A valid verdict whose certificate does not name from
 * (the From address; NULL or "" names none) becomes valid-other-signer. */
void smime_verify_require_signer(struct smime_verify_result *r, const char *from);

/* ---- revocation of partners' certificates before encrypting (smime_revoke.c) ---- */

enum smime_rev_mode { SMIME_REV_OFF, SMIME_REV_SOFT, SMIME_REV_HARD };
/* "off", "soft", "hard" (smime.revocation_check) → mode; -1 otherwise. */
int smime_rev_mode_parse(const char *s, enum smime_rev_mode *mode_r);

enum smime_rev_status {
	SMIME_REV_GOOD,     /* a CRL or an OCSP responder says it is not revoked */
	SMIME_REV_REVOKED,  /* a CRL or an OCSP responder says it is revoked */
	SMIME_REV_UNKNOWN,  /* it names a CRL or a responder, and none gave a verifiable answer
	                     * (or its issuer is no trust anchor here, so none could be verified) */
	SMIME_REV_NO_INFO,  /* it names neither */
};
/* The revocation status of a certificate from its CRL distribution points (HTTP, the CRL
 * at most SG_CRL_FETCH_MAX bytes) and its OCSP responder (AIA), each asked within
 * SG_REVOCATION_TIMEOUT seconds; answers are verified against the issuer, found among t's
 * anchors. Answers are kept per certificate (good until the CRL's or response's next update,
 * at most an hour; revoked a day; unknown five minutes), so a responder that is down costs one
 * timeout, not one per message. how (may be NULL) gets what was asked, for the log. */
enum smime_rev_status smime_revocation_status(const struct smime_trust *t,
                                              const unsigned char *der, size_t len,
                                              char *how, size_t howsize);

#endif
