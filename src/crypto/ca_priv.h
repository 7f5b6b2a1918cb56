/* ca_priv.h: private to crypto/: certificate-building helpers ca_init.c shares with the
 * other ca_* files. */
#ifndef SG_CA_PRIV_H
#define SG_CA_PRIV_H

#include "crypto/smime.h"

#include <openssl/x509.h>
#include <stdint.h>

struct keystore_key;

/* The owner the CA key file is sealed for (keystore_seal): no other sealed blob opens as it. */
#define CA_KEY_OWNER "ca-key"

/* The loaded CA (ca.h): its certificate and key, shared by ca_issue.c and ca_crl.c. */
struct ca {
	X509 *cert;
	struct keystore_key *key;
	unsigned char *der;
	size_t der_len;
	char issuer[SMIME_DN_MAX];
	char crl_url[256]; /* ca.crl_url: put in what it issues, or "" */
};

/* A random positive 127-bit serial number (the CA's own and the TLS server certificates). */
int ca_init_serial(X509 *x);
/* seq (1 .. 2^63-1, from the store's sequence shared by every node) in the upper 64 bits and
 * 64 random bits below: unique by the sequence, unpredictable by the random half. */
int ca_init_serial_seq(X509 *x, uint64_t seq);
/* Adds an extension given in openssl.cnf syntax (only for constant values: never for text
 * that came from a user, which could smuggle in extra entries). */
int ca_init_add_ext(X509 *cert, X509 *issuer, int nid, const char *value);

#endif
