/* ca_priv.h: private to crypto/: certificate-building helpers ca_init.c shares with the
 * other ca_* files. */
#ifndef SG_CA_PRIV_H
#define SG_CA_PRIV_H

#include <openssl/x509.h>

/* A random positive 127-bit serial number. */
int ca_init_serial(X509 *x);
/* Adds an extension given in openssl.cnf syntax (only for constant values: never for text
 * that came from a user, which could smuggle in extra entries). */
int ca_init_add_ext(X509 *cert, X509 *issuer, int nid, const char *value);

#endif
