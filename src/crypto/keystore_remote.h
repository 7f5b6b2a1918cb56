/* keystore_remote.h: how keystore.h reaches a key process. A role whose keys are held by
 * another process (keyd) installs these operations once at start; from then keystore_open
 * opens no file and returns a handle whose operations go to them. crypto/ knows nothing of
 * the transport (keyd/ sits above it and installs the operations). */
#ifndef SG_KEYSTORE_REMOTE_H
#define SG_KEYSTORE_REMOTE_H

#include "crypto/keystore.h"

struct keystore_remote_ops {
	int (*seal_bytes)(const void *data, size_t len, const char *owner, unsigned char **blob_r,
	                  size_t *blob_len_r, const char **error_r);
	int (*unseal_bytes)(const unsigned char *blob, size_t blob_len, const char *owner,
	                    unsigned char **data_r, size_t *len_r, const char **error_r);
	/* A private key that stays in the key process (a proxy EVP_PKEY); NULL: the key is
	 * unsealed through unseal_bytes and decoded here. */
	int (*unseal_key)(const unsigned char *blob, size_t blob_len, const char *owner,
	                  struct keystore_key **key_r, const char **error_r);
	/* keystore_pdf_wrap in the key process (keydops). */
	int (*pdf_wrap)(const unsigned char *blob, size_t blob_len, const char *owner,
	                const unsigned char fk[32], unsigned char *u_r, unsigned char *ue_r,
	                const char **error_r);
};

/* Once, before any keystore_open. */
void keystore_set_remote(const struct keystore_remote_ops *ops);
/* The installed operations, or NULL (this process holds the master key itself). */
const struct keystore_remote_ops *keystore_remote(void);
/* The keystore this process last opened from the master key file (NULL if none, or remote):
 * what keyd's in-process loopback serves with. */
const struct keystore *keystore_local(void);

#endif
