/* keyd_keyops.h: private to keyd/keyd_keyops*.c: the handlers and client calls that
 * keyd_keyops.c lists in its tables. */
#ifndef SG_KEYD_KEYOPS_H
#define SG_KEYD_KEYOPS_H

#include "keyd/keyd_server.h"
#include "crypto/keystore_proxy.h"

/* keyd_keyops_pkcs12.c */
enum keyd_status keyd_op_pkcs12(struct keyd_session *s, const struct keyd_request *req,
                                struct sg_buf *out, const char **error_r);
int keyd_client_pkcs12(const unsigned char *blob, size_t blob_len, const char *owner,
                       const struct keystore_pkcs12_req *req, unsigned char **out_r,
                       size_t *out_len_r, const char **error_r);

/* keyd_keyops_cache.c: handles given to this client, by SHA-256 of owner and sealed blob. */
#define KEYD_KEYOPS_TAG_LEN 32
void keyd_keyops_tag(const unsigned char *blob, size_t len, const char *owner,
                     unsigned char tag[KEYD_KEYOPS_TAG_LEN]);
/* 1 with the handle and a copy of the public key (the caller's to free), or 0. */
int keyd_keyops_cache_get(const unsigned char tag[KEYD_KEYOPS_TAG_LEN], uint32_t *handle_r,
                          unsigned char **spki_r, size_t *spki_len_r);
void keyd_keyops_cache_put(const unsigned char tag[KEYD_KEYOPS_TAG_LEN], uint32_t handle,
                           const unsigned char *spki, size_t spki_len);

/* keyd_keyops_pdf.c */
enum keyd_status keyd_op_pdf_wrap(struct keyd_session *s, const struct keyd_request *req,
                                  struct sg_buf *out, const char **error_r);

#endif
