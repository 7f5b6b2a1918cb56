/* keystore.h: the seam around key material. Callers get opaque handles and operations
 * (sign, decrypt, issue, pdf-key), never raw keys; everything private is sealed at rest with
 * the master key, a file (0600) kept outside the store. */
#ifndef SG_KEYSTORE_H
#define SG_KEYSTORE_H

#include <stdbool.h>
#include <stddef.h>

#define KEYSTORE_MASTER_KEY_BYTES 32

/* Creates a new random master key file (0600); refuses to overwrite an existing one. */
int keystore_master_create(const char *path, const char **error_r);

/* The loaded master key; wiped on close. */
struct keystore;
/* A private key in memory (an RSA or EC key); wiped on free. */
struct keystore_key;

enum keystore_key_type {
	KEYSTORE_KEY_RSA3072,
	KEYSTORE_KEY_P256,
	KEYSTORE_KEY_P384,
};

/* Loads the master key file: exactly KEYSTORE_MASTER_KEY_BYTES, not readable by group or
 * others (a key others can read is refused, not used). */
int keystore_open(const char *master_key_path, struct keystore **ks_r, const char **error_r);
void keystore_close(struct keystore **ks);

/* "rsa3072", "p256", "p384" → type; -1 for anything else. */
int keystore_key_type_parse(const char *name, enum keystore_key_type *type_r);
int keystore_key_generate(enum keystore_key_type type, struct keystore_key **key_r,
                          const char **error_r);
void keystore_key_free(struct keystore_key **key);
/* True for RSA keys (which need keyEncipherment rather than keyAgreement). */
int keystore_key_is_rsa(const struct keystore_key *key);

/* The public half as DER (SubjectPublicKeyInfo; *der_r: the caller's to free). */
int keystore_key_public_der(const struct keystore_key *key, unsigned char **der_r,
                            size_t *len_r);

/* Seals key with the master key (XChaCha20-Poly1305). owner is the identity of the record
 * that will hold the blob (e.g. "cert:<sha256 of the certificate>"); it is authenticated,
 * so a blob moved to another record does not open. *blob_r is the caller's to free. */
int keystore_seal(const struct keystore *ks, const struct keystore_key *key, const char *owner,
                  unsigned char **blob_r, size_t *blob_len_r, const char **error_r);
/* Opens a blob made by keystore_seal for the same owner; any change to blob, owner or master
 * key fails. */
int keystore_unseal(const struct keystore *ks, const unsigned char *blob, size_t blob_len,
                    const char *owner, struct keystore_key **key_r, const char **error_r);

/* Seals any secret (an OpenPGP secret key, a SecurePDF record) for owner, the same way. */
int keystore_seal_bytes(const struct keystore *ks, const void *data, size_t len,
                        const char *owner, unsigned char **blob_r, size_t *blob_len_r,
                        const char **error_r);
/* Opens it; *data_r is the caller's to wipe and free (sg_free_secret). */
int keystore_unseal_bytes(const struct keystore *ks, const unsigned char *blob, size_t blob_len,
                          const char *owner, unsigned char **data_r, size_t *len_r,
                          const char **error_r);

/* keystore_pdfwrap.c: the SecurePDF record of a partner (U ‖ K, sealed for "pdf:<address>")
 * used where it is kept: *u_r gets U and *ue_r the document file key fk wrapped by K (/UE:
 * AES-256-CBC, zero IV, no padding; ISO 32000-2 Algorithm 8). K, which makes and opens every
 * PDF of the partner, never leaves the key holder (keyd, or this process with the master key). */
#define KEYSTORE_PDF_U_LEN 48
#define KEYSTORE_PDF_K_LEN 32
int keystore_pdf_wrap(const struct keystore *ks, const unsigned char *blob, size_t blob_len,
                      const char *owner, const unsigned char fk[32],
                      unsigned char u_r[KEYSTORE_PDF_U_LEN], unsigned char ue_r[32],
                      const char **error_r);

/* keystore_file.c: a private key in a file of its own (the CA key, ca/ca.key), sealed for
 * owner as above and PEM-armoured ("SEALGATE SEALED PRIVATE KEY"). Created with
 * O_EXCL|O_NOFOLLOW, 0600: an existing file is never overwritten. */
int keystore_key_write_sealed(const struct keystore *ks, const struct keystore_key *key,
                              const char *owner, const char *path, const char **error_r);
/* Reads such a file. A clear PEM private key (what earlier versions wrote) is read too, with
 * *clear_r set, for the caller to seal it with keystore_key_reseal_file(). */
int keystore_key_read_file(const struct keystore *ks, const char *owner, const char *path,
                           struct keystore_key **key_r, bool *clear_r, const char **error_r);
/* Replaces the file at path by key sealed for owner: written beside it (O_EXCL|O_NOFOLLOW,
 * 0600), synced, renamed over it. */
int keystore_key_reseal_file(const struct keystore *ks, const struct keystore_key *key,
                             const char *owner, const char *path, const char **error_r);

/* keystore_msgkey.c: a key of its own per stored message (webmail), so that a message's parts
 * of any size are sealed and opened one by one, and deleting a message forgets its key. The
 * key is wrapped (keystore_seal_bytes) by the master key for owner; each blob sealed with it
 * is "SGM1" ‖ 24-byte nonce ‖ XChaCha20-Poly1305 with ad as associated data. */
struct keystore_msgkey;
/* A fresh random message key and its wrapped form (*wrapped_r: the caller's to free). */
int keystore_msgkey_new(const struct keystore *ks, const char *owner,
                        struct keystore_msgkey **key_r, unsigned char **wrapped_r,
                        size_t *wrapped_len_r, const char **error_r);
/* Unwraps a message key made by keystore_msgkey_new for the same owner. */
int keystore_msgkey_open(const struct keystore *ks, const unsigned char *wrapped, size_t len,
                         const char *owner, struct keystore_msgkey **key_r, const char **error_r);
void keystore_msgkey_free(struct keystore_msgkey **key);
/* Seals len bytes for ad (*blob_r: the caller's to free). */
int keystore_msgkey_seal(const struct keystore_msgkey *key, const char *ad, const void *data,
                         size_t len, unsigned char **blob_r, size_t *blob_len_r,
                         const char **error_r);
/* The same blob made where the bytes are, without a copy: buf holds KEYSTORE_MSGKEY_HEAD spare
 * bytes, then the len bytes to seal, then KEYSTORE_MSGKEY_TAIL spare bytes; afterwards
 * buf[0 .. HEAD + len + TAIL) is the blob (*blob_len_r) and the plaintext is gone. */
#define KEYSTORE_MSGKEY_HEAD 28 /* "SGM1" and the nonce */
#define KEYSTORE_MSGKEY_TAIL 16 /* the Poly1305 tag */
int keystore_msgkey_seal_in_place(const struct keystore_msgkey *key, const char *ad,
                                  unsigned char *buf, size_t len, size_t *blob_len_r,
                                  const char **error_r);
/* Opens a blob sealed with key for the same ad (*data_r: wipe and free, sg_free_secret). */
int keystore_msgkey_unseal(const struct keystore_msgkey *key, const char *ad,
                           const unsigned char *blob, size_t blob_len, unsigned char **data_r,
                           size_t *len_r, const char **error_r);

#endif
