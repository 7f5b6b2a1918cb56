/* keystore_proxy.h: private-key operations done where the key is, for a process that holds no
 * key. keystore_proxy_unseal() returns a keystore_key whose EVP_PKEY carries only the public
 * half and a method (RSA_METHOD, EC_KEY_METHOD) that asks the key holder to sign, decrypt or
 * derive; CMS, DKIM and the CA code use it unchanged. The key holder (keyd, or this process
 * when no keyd runs) answers with keystore_serve(). Key material never crosses: the sealed
 * blob goes in, a handle and the public key come back; then digests and ciphertexts go in and
 * signatures and session keys come back. */
#ifndef SG_KEYSTORE_PROXY_H
#define SG_KEYSTORE_PROXY_H

#include "core/sg_buf.h"
#include "crypto/keystore.h"

#include <stddef.h>

enum keystore_op {
	KEYSTORE_OP_KEY_LOAD = 1, /* owner, sealed blob -> handle, SubjectPublicKeyInfo DER */
	KEYSTORE_OP_KEY_SIGN,     /* handle, digest nid, digest -> signature */
	KEYSTORE_OP_KEY_DECRYPT,  /* handle, RSA padding, ciphertext -> plaintext */
	KEYSTORE_OP_KEY_DERIVE,   /* handle, peer EC point -> ECDH shared secret */
};

/* The first byte of every reply body. */
enum keystore_reply_status {
	KEYSTORE_REPLY_OK = 0,
	KEYSTORE_REPLY_UNKNOWN_HANDLE = 1, /* evicted, or the key holder restarted: load again */
};

/* A reply body is never longer than this (an RSA-8192 signature and a P-521 SPKI fit). */
#define KEYSTORE_REPLY_MAX 4096

/* Sends one request to the key holder and fills reply (its ceiling is KEYSTORE_REPLY_MAX).
 * Returns 0, or -1 with *error_r when the key holder could not be asked or refused. */
typedef int keystore_call_fn(void *arg, enum keystore_op op, const unsigned char *req,
                             size_t len, struct sg_buf *reply, const char **error_r);

/* Where this process's proxy keys send their operations; set once at start-up (keyd's client,
 * or keystore_proxy_loopback for tests and benchmarks). */
void keystore_proxy_set_transport(keystore_call_fn *fn, void *arg);
/* A transport that serves the request in this process with ks (arg). */
int keystore_proxy_loopback(void *arg, enum keystore_op op, const unsigned char *req, size_t len,
                            struct sg_buf *reply, const char **error_r);

/* keystore_unseal() for a process without the master key: the key holder opens blob for owner
 * and keeps it; *key_r performs its private operations there. */
int keystore_proxy_unseal(const unsigned char *blob, size_t blob_len, const char *owner,
                          struct keystore_key **key_r, const char **error_r);

/* The key holder's side: answers one request with ks. Returns 0 with a reply body (which may
 * carry KEYSTORE_REPLY_UNKNOWN_HANDLE), or -1 with *error_r for a malformed or refused one. */
int keystore_serve(const struct keystore *ks, enum keystore_op op, const unsigned char *req,
                   size_t len, struct sg_buf *reply, const char **error_r);
/* Forgets every loaded key (tests: what a restarted key holder knows). */
void keystore_serve_forget_all(void);

#endif
