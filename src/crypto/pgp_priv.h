/* pgp_priv.h: private to the pgp_* files: the RNP handle inside a pgp_ctx and small helpers
 * around RNP's inputs, outputs and key handles. */
#ifndef SG_PGP_PRIV_H
#define SG_PGP_PRIV_H

#include "crypto/pgp.h"

#include <rnp/rnp.h>
#include <rnp/rnp_err.h>

struct pgp_seipd_cache;

struct pgp_ctx {
	rnp_ffi_t ffi;
	struct pgp_seipd_cache *seipd; /* RSA recipients for pgp_seipd.c, or NULL */
};

/* Copies the memory output's bytes into a new NUL-terminated buffer (at most max bytes). */
int pgp_priv_output_take(rnp_output_t out, size_t max, unsigned char **data_r, size_t *len_r);
/* The primary key with fingerprint fpr (any case), or NULL; caller destroys the handle. */
rnp_key_handle_t pgp_priv_locate(rnp_ffi_t ffi, const char *fpr);
#define PGP_PRIV_SUBKEYS_MAX 256 /* subkeys of one key looked at */
/* The newest subkey of primary for which fit(subkey, arg) holds, or NULL; caller destroys. */
rnp_key_handle_t pgp_priv_newest_subkey(rnp_key_handle_t primary,
                                        bool (*fit)(rnp_key_handle_t, const void *),
                                        const void *arg);
/* Upper-case hex fingerprint of key into dst (PGP_FPR_MAX); -1 on error. */
int pgp_priv_fpr(rnp_key_handle_t key, char *dst);
/* Address of key's primary user ID (or first user ID with an address) into dst, or "". */
void pgp_priv_key_address(rnp_key_handle_t key, char *dst, size_t dstsize);
/* pgp_seipd.c: the encryption layer for RSA recipients without RNP (see there). True if every
 * recipient's encryption key is an RSA subkey (resolved once per ctx and key). */
bool pgp_seipd_usable(struct pgp_ctx *ctx, const char *const *fprs, size_t n);
/* The binary OpenPGP message: data as literal data, or signed by signer's secret key in ctx
 * (RNP's signed packets), encrypted to fprs. Caller frees *bin_r. */
int pgp_seipd_encrypt(struct pgp_ctx *ctx, const char *const *fprs, size_t n, const char *signer,
                      const char *data, size_t len, unsigned char **bin_r, size_t *bin_len_r,
                      const char **error_r);
/* ASCII armour (RFC 4880 6.2, CRLF, 64 columns, CRC-24) of bin written to out, which has room
 * for pgp_seipd_armor_max(len) bytes; returns the length written (no NUL). */
size_t pgp_seipd_armor_max(size_t len);
size_t pgp_seipd_armor(const unsigned char *bin, size_t len, char *out);
void pgp_seipd_cache_free(struct pgp_seipd_cache **c);
/* pgp_hidden.c: the few packet-level reads RNP 0.16 has no call for. */
struct pgp_packet {
	unsigned tag;
	size_t body, len; /* offset of the body in the data, its length */
};
/* The packet header at bin[off] (old or new format): 0 with *p, or -1 for a partial or
 * indeterminate length (never used for keys or session key packets) or one that does not
 * fit in n. */
int pgp_priv_packet_at(const uint8_t *bin, size_t n, size_t off, struct pgp_packet *p);
/* The binary form of data (armoured or not), a copy the caller frees; NULL if unreadable. */
uint8_t *pgp_priv_binary(const char *data, size_t len, size_t *n_r);
/* data (an OpenPGP message, armoured or binary) with the wildcard key ids of its
 * hidden-recipient session key packets replaced by the idx-th secret encryption key in ctx of
 * their algorithm: 1 with *bin_r (caller frees), 0 when there is no wildcard or no such key. */
int pgp_hidden_candidate(struct pgp_ctx *ctx, const char *data, size_t len, size_t idx,
                         unsigned char **bin_r, size_t *bin_len_r);
/* An ffi that never touches a homedir and reads no passwords. */
int pgp_priv_ffi_new(rnp_ffi_t *ffi_r);
/* Imports keys from data (at most SG_PGP_KEYFILE_MAX bytes) with RNP_LOAD_SAVE_* flags. */
int pgp_priv_import(rnp_ffi_t ffi, const unsigned char *data, size_t len, uint32_t flags);
/* True if key holds real secret material: not a gnu-dummy or smartcard stub. */
bool pgp_priv_secret_present(rnp_key_handle_t key);
/* The (sub)key of primary fpr that makes its signatures: the primary if its secret part is
 * here and may sign, else the newest such signing subkey (an offline primary key); NULL if
 * none. RNP 0.16 would pick a gnu-dummy primary and fail. Caller destroys the handle. */
rnp_key_handle_t pgp_priv_signing_key(rnp_ffi_t ffi, const char *fpr);
/* True if key is not revoked and valid (self-signed, unexpired) at now. */
bool pgp_priv_usable_at(rnp_key_handle_t key, time_t now);

#endif
