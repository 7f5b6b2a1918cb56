/* pgp_priv.h: private to the pgp_* files: the RNP handle inside a pgp_ctx and small helpers
 * around RNP's inputs, outputs and key handles. */
#ifndef SG_PGP_PRIV_H
#define SG_PGP_PRIV_H

#include "crypto/pgp.h"

#include <rnp/rnp.h>
#include <rnp/rnp_err.h>

struct pgp_ctx {
	rnp_ffi_t ffi;
};

/* Copies the memory output's bytes into a new NUL-terminated buffer (at most max bytes). */
int pgp_priv_output_take(rnp_output_t out, size_t max, unsigned char **data_r, size_t *len_r);
/* The primary key with fingerprint fpr (any case), or NULL; caller destroys the handle. */
rnp_key_handle_t pgp_priv_locate(rnp_ffi_t ffi, const char *fpr);
/* Upper-case hex fingerprint of key into dst (PGP_FPR_MAX); -1 on error. */
int pgp_priv_fpr(rnp_key_handle_t key, char *dst);
/* Address of key's primary user ID (or first user ID with an address) into dst, or "". */
void pgp_priv_key_address(rnp_key_handle_t key, char *dst, size_t dstsize);
/* An ffi that never touches a homedir and reads no passwords. */
int pgp_priv_ffi_new(rnp_ffi_t *ffi_r);

#endif
