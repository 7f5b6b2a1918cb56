/* keyd_proxy.h: private keys that stay in keyd. keystore_unseal in a role served by keyd
 * calls keyd_proxy_unseal_key (KEYD_OP_KEY_LOAD: a handle and the public key) and returns a
 * keystore_key whose EVP_PKEY sends sign and decrypt to keyd. Built by the keydops work
 * (keyd_keyops.c); NULL until then: the key is unsealed through KEYD_OP_UNSEAL and decoded
 * in the role (the private key crosses the socket, as an interim). */
#ifndef SG_KEYD_PROXY_H
#define SG_KEYD_PROXY_H

#include <stddef.h>

struct keystore_key;

typedef int (*keyd_unseal_key_fn)(const unsigned char *blob, size_t blob_len, const char *owner,
                                  struct keystore_key **key_r, const char **error_r);
extern const keyd_unseal_key_fn keyd_proxy_unseal_key;

/* keystore_pdf_wrap asked of keyd (KEYD_OP_PDF_UNWRAP; keyd_keyops_pdf.c). */
int keyd_proxy_pdf_wrap(const unsigned char *blob, size_t blob_len, const char *owner,
                        const unsigned char fk[32], unsigned char *u_r, unsigned char *ue_r,
                        const char **error_r);

#endif
