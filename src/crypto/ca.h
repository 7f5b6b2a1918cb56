/* ca.h: the instance CA. `sealgate init` creates it and the TLS server certificate that
 * smtpd (STARTTLS), the portal and ldapd present. User and proxy certificates (the S/MIME
 * issue) are issued by the same CA. */
#ifndef SG_CA_H
#define SG_CA_H

struct keystore;

/* Creates DIR/ca.crt and DIR/ca.key: RSA-3072 self-signed CA, 10 years; the key sealed with
 * the master key in ks (keystore_key_write_sealed: O_EXCL|O_NOFOLLOW, 0600). */
int ca_init_create(const char *ca_dir, const char *organization, const struct keystore *ks,
                   const char **error_r);
/* The same with the CA key type: "rsa3072" (the default), "p256" or "p384". */
int ca_init_create_typed(const char *ca_dir, const char *organization, const char *key_type,
                         const struct keystore *ks, const char **error_r);
/* Issues a TLS server certificate for hostname (SAN: hostname, localhost, 127.0.0.1, ::1)
 * from the CA in ca_dir: EC P-256 key, 825 days. Writes cert_path (leaf then CA) and
 * key_path (0600). */
int ca_init_server_cert(const char *ca_dir, const struct keystore *ks, const char *hostname,
                        const char *organization, const char *cert_path, const char *key_path,
                        const char **error_r);

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct keystore_key;

/* The loaded CA: its certificate and its key (ca/ca.key, sealed, 0600, beside ca/ca.crt). A
 * ca.key in clear (made before keys were sealed) is sealed in place, with a log line. */
struct ca;
int ca_open(const char *ca_dir, const struct keystore *ks, struct ca **ca_r,
            const char **error_r);
void ca_close(struct ca **ca);
/* The CA certificate as DER (owned by ca). */
const unsigned char *ca_cert_der(const struct ca *ca, size_t *len_r);
/* The CA's subject as stored in the certificates table (issuer of what it issues). */
const char *ca_issuer_name(const struct ca *ca);

/* Issues an S/MIME certificate for address to the public half of key: SAN rfc822Name,
 * EKU emailProtection, keyUsage digitalSignature + keyEncipherment (RSA) or keyAgreement
 * (EC), valid for days. Its serial holds serial_seq (store_ca_serial_next: unique across
 * every node of a shared store) and 64 random bits. *der_r is the caller's to free. */
int ca_issue(const struct ca *ca, uint64_t serial_seq, const char *address,
             const char *organization, const struct keystore_key *key, int days,
             unsigned char **der_r, size_t *der_len_r, const char **error_r);

struct ca_revoked {
	const char *serial; /* hex */
	time_t when;
	int reason; /* RFC 5280 CRLReason; 0: none given (no extension) */
};
/* ca.crl_url: the URL put as crlDistributionPoints into every certificate issued from now on
 * ("" for none); -1 if it is not a plain http(s) URL. */
int ca_set_crl_url(struct ca *ca, const char *url, const char **error_r);
/* ca_crl.c: a CRL of the revoked serials, valid for days, as PEM (caller frees). */
int ca_crl(const struct ca *ca, const struct ca_revoked *revoked, size_t count, int days,
           char **pem_r, size_t *pem_len_r, const char **error_r);

/* ca_crl() written atomically to path (0644), the PEM kept in *pem_r (caller frees). */
int ca_crl_write(const struct ca *ca, const struct ca_revoked *revoked, size_t count, int days,
                 const char *path, char **pem_r, size_t *pem_len_r, const char **error_r);
/* The DER form of a PEM CRL (what /ca.crl serves; caller frees). */
int ca_crl_pem_to_der(const char *pem, size_t len, unsigned char **der_r, size_t *der_len_r,
                      const char **error_r);

/* PKCS#12 of certificate + key (+ the CA certificate) protected by pin. legacy: PBE-SHA1-3DES
 * and a SHA-1 MAC (older Windows, gpgsm 2.2); otherwise PBES2/AES-256 and HMAC-SHA256. */
int ca_pkcs12_export(const unsigned char *der, size_t der_len, const struct keystore_key *key,
                     const unsigned char *ca_der, size_t ca_der_len, const char *friendly_name,
                     bool legacy, const char *pin, unsigned char **out_r, size_t *out_len_r,
                     const char **error_r);
/* Reads a PKCS#12 file: its certificate (DER, caller frees) and the matching private key. */
int ca_pkcs12_import(const unsigned char *data, size_t len, const char *password,
                     unsigned char **der_r, size_t *der_len_r, struct keystore_key **key_r,
                     const char **error_r);
/* A random PIN for a .pfx: 20 characters without look-alikes (0/O, 1/l/I). */
void ca_pkcs12_pin(char *dst, size_t dstsize);

#endif
