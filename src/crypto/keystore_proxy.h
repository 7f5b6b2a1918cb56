/* keystore_proxy.h: private keys that stay with the key holder (keyd). keystore_proxy_unseal()
 * returns a keystore_key whose EVP_PKEY carries only the public half and a method (RSA_METHOD,
 * EC_KEY_METHOD) that asks the key holder to sign, decrypt or derive; CMS, DKIM and the CA
 * code use it unchanged. Key material never crosses: the sealed blob goes in, a handle and
 * the public key come back; then digests and ciphertexts go in, signatures and session keys
 * come back. crypto/ knows no transport: keyd/ passes the operations (keyd_keyops.c). */
#ifndef SG_KEYSTORE_PROXY_H
#define SG_KEYSTORE_PROXY_H

#include "crypto/keystore.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum keystore_proxy_op {
	KEYSTORE_PROXY_SIGN,    /* param: digest name ("SHA256"...) or "ecdsa"; in: the digest */
	KEYSTORE_PROXY_DECRYPT, /* param: "pkcs1" or "oaep-raw"; in: the RSA ciphertext */
	KEYSTORE_PROXY_DERIVE,  /* param: NULL; in: the peer's EC point (uncompressed) */
};

/* Padding names of KEYSTORE_PROXY_DECRYPT. "oaep-raw": OpenSSL checks OAEP itself and asks
 * the key for the raw RSA decryption, which the key holder gives only for an OAEP block. */
#define KEYSTORE_PAD_PKCS1 "pkcs1"
#define KEYSTORE_PAD_OAEP_RAW "oaep-raw"
#define KEYSTORE_SIGN_ECDSA "ecdsa"

/* A PKCS#12 (.pfx) of a key that stays with the key holder: built there (ca_pkcs12_export),
 * since a .pfx is the private key's bytes; what comes back is encrypted under pin. */
struct keystore_pkcs12_req {
	const unsigned char *der, *ca_der;
	size_t der_len, ca_der_len;
	const char *friendly_name;
	bool legacy;
	const char *pin;
};

/* How a proxy key reaches the key holder. */
struct keystore_proxy_ops {
	/* Opens blob for owner there: its handle and public key (DER SubjectPublicKeyInfo, the
	 * caller's to free). 0 or -1. again: the handle given before for it is unknown there
	 * (a transport that remembers handles must not answer from memory). */
	int (*load)(const unsigned char *blob, size_t blob_len, const char *owner, bool again,
	            uint32_t *handle_r, unsigned char **spki_r, size_t *spki_len_r,
	            const char **error_r);
	/* One private operation; out has *out_len bytes of room, *out_len is set to the result's
	 * length. 0, -1 failed, 1 unknown handle (the proxy loads the key again and retries). */
	int (*call)(enum keystore_proxy_op op, uint32_t handle, const char *param,
	            const unsigned char *in, size_t in_len, unsigned char *out, size_t *out_len,
	            const char **error_r);
	/* The .pfx of the key sealed in blob for owner (*out_r: the caller's to free). 0 or -1. */
	int (*pkcs12)(const unsigned char *blob, size_t blob_len, const char *owner,
	              const struct keystore_pkcs12_req *req, unsigned char **out_r,
	              size_t *out_len_r, const char **error_r);
};

/* keystore_unseal() in a process without the master key: the key stays with the key holder
 * (ops, which must outlive the key) and *key_r performs its private operations there. */
int keystore_proxy_unseal(const struct keystore_proxy_ops *ops, const unsigned char *blob,
                          size_t blob_len, const char *owner, struct keystore_key **key_r,
                          const char **error_r);

/* True if key is such a proxy key. */
bool keystore_key_is_proxy(const struct keystore_key *key);
/* ca_pkcs12_export for a proxy key: asks the key holder (ops->pkcs12). */
int keystore_proxy_pkcs12(const struct keystore_key *key, const struct keystore_pkcs12_req *req,
                          unsigned char **out_r, size_t *out_len_r, const char **error_r);

/* keystore_keyops.c, the key holder's side, with a real key. Each checks its input (digest
 * name and length; ciphertext length; point on the key's curve) and returns 0 or -1. */
int keystore_key_sign_digest(const struct keystore_key *key, const char *md_name,
                             const unsigned char *dg, size_t dlen, unsigned char *sig,
                             size_t *sig_len, const char **error_r);
int keystore_key_decrypt(const struct keystore_key *key, const char *padding,
                         const unsigned char *in, size_t len, unsigned char *out,
                         size_t *out_len, const char **error_r);
int keystore_key_derive(const struct keystore_key *key, const unsigned char *point, size_t len,
                        unsigned char *out, size_t *out_len, const char **error_r);
/* The largest result of those (an RSA-8192 block; a P-521 signature or secret fit). */
#define KEYSTORE_PROXY_OUT_MAX 1024

#endif
