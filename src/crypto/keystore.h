/* keystore.h: the seam around key material. Callers get opaque handles and operations
 * (sign, decrypt, issue, pdf-key), never raw keys; everything private is sealed at rest with
 * the master key, a file (0600) kept outside the store. */
#ifndef SG_KEYSTORE_H
#define SG_KEYSTORE_H

#define KEYSTORE_MASTER_KEY_BYTES 32

/* Creates a new random master key file (0600); refuses to overwrite an existing one. */
int keystore_master_create(const char *path, const char **error_r);

#endif
