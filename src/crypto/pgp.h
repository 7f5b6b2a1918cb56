/* pgp.h: OpenPGP (RNP, in-process, keys held in memory) for the mail path: inspect keys before
 * they are stored, generate gateway-held keys sealed with the master key, PGP/MIME encrypt
 * (+sign) to N recipients, decrypt and verify PGP/MIME and inline PGP, Autocrypt headers.
 * A pgp_ctx has no locking: use one per thread (notes/test-rig.md part b). */
#ifndef SG_PGP_H
#define SG_PGP_H

#include "core/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct keystore;

#define PGP_FPR_MAX 65 /* hex fingerprint (v4: 40 digits) + NUL */

/* ---- contexts and keys (pgp_ctx.c) ---- */

/* An RNP key ring in memory. */
struct pgp_ctx;
int pgp_ctx_new(struct pgp_ctx **ctx_r, const char **error_r);
void pgp_ctx_free(struct pgp_ctx **ctx);

/* Loads public keys (armoured or binary, several at once) into ctx, unchecked: use keys that
 * pgp_key_inspect() accepted before they were stored. */
int pgp_ctx_load_public(struct pgp_ctx *ctx, const unsigned char *data, size_t len,
                        const char **error_r);
/* Loads secret keys and unlocks them (every subkey too) with passphrase (NULL: unprotected),
 * so that later operations never run the S2K again. */
int pgp_ctx_load_secret(struct pgp_ctx *ctx, const unsigned char *data, size_t len,
                        const char *passphrase, const char **error_r);
/* True if ctx holds the primary key fpr (and its secret part, if secret). */
bool pgp_ctx_has_key(struct pgp_ctx *ctx, const char *fpr, bool secret);
/* True if the primary key fpr in ctx has a valid, unrevoked user ID with address. */
bool pgp_ctx_key_has_address(struct pgp_ctx *ctx, const char *fpr, const char *address);

enum pgp_algo {
	PGP_ALGO_ED25519, /* Ed25519 primary (sign, certify) + Cv25519 subkey (encrypt) */
	PGP_ALGO_RSA3072, /* RSA-3072 primary + RSA-3072 encryption subkey */
};
/* "ed25519", "rsa3072" → algo; -1 otherwise. */
int pgp_algo_parse(const char *name, enum pgp_algo *algo_r);
/* Generates a key pair in ctx for address (user ID "name <address>", or "<address>" if name
 * is NULL or empty), no expiry, unprotected in memory. fpr_r: PGP_FPR_MAX bytes. */
int pgp_generate(struct pgp_ctx *ctx, const char *address, const char *name,
                 enum pgp_algo algo, char *fpr_r, const char **error_r);
/* The public key fpr (with subkeys), binary or armoured (caller frees; NUL-terminated). */
int pgp_export_public(struct pgp_ctx *ctx, const char *fpr, bool armored, unsigned char **out_r,
                      size_t *out_len_r, const char **error_r);
/* Seals the secret key fpr held in ctx with the master key, bound to "pgp:<fpr>". */
int pgp_secret_seal(struct pgp_ctx *ctx, const struct keystore *ks, const char *fpr,
                    unsigned char **blob_r, size_t *blob_len_r, const char **error_r);
/* Opens a blob made by pgp_secret_seal for fpr and loads the secret key into ctx. */
int pgp_secret_unseal(struct pgp_ctx *ctx, const struct keystore *ks, const char *fpr,
                      const unsigned char *blob, size_t blob_len, const char **error_r);

/* ---- Web Key Directory (pgp_wkd.c) ---- */

#define PGP_WKD_HASH_MAX 33 /* 32 z-base-32 characters + NUL */
/* The WKD hash of a local part ("Joe.Doe" -> "iy9q119eutrkn8s1mk4r39qejnbu3n5q"). */
int pgp_wkd_hash(const char *local, char dst[PGP_WKD_HASH_MAX]);

/* ---- key inspection for import (pgp_import.c) ---- */

struct pgp_key_report {
	char fingerprint[PGP_FPR_MAX]; /* primary key, upper-case hex */
	char algo[24];                 /* "RSA 3072", "EDDSA ed25519", ... */
	char uid[256];                 /* primary user ID, printable */
	char **addresses;              /* lower-cased e-mail addresses of valid user IDs */
	size_t naddresses;
	time_t created;
	time_t expires;                /* 0: never */
	bool accepted;
	const char *reason;            /* why rejected (static text), or NULL */
	unsigned char *pubkey;         /* accepted: the public key, binary, with its subkeys */
	size_t pubkey_len;
	/* pgp_secret_inspect only: */
	bool secret_protected;         /* a secret part is protected by a passphrase */
	bool can_sign;                 /* a usable signing (sub)key's secret part is present */
	size_t enc_stubs;              /* usable encryption subkeys whose secret part is not here
	                                * (gnu-dummy or smartcard stubs) */
};
/* Reads every key in data (armoured or binary, at most SG_PGP_KEYFILE_MAX bytes) and judges
 * each at now: valid self-signatures, not revoked, not expired, at least 2048 bits (RSA, DSA,
 * ElGamal), an encryption-capable valid subkey (or primary), a user ID with an e-mail
 * address. Returns -1 only when data holds no readable key at all. */
int pgp_key_inspect(const unsigned char *data, size_t len, time_t now,
                    struct pgp_key_report **reports_r, size_t *count_r, const char **error_r);
void pgp_key_reports_free(struct pgp_key_report **reports, size_t count);
/* pgp_key_inspect for a transferable secret key (armoured or binary): each key is also
 * refused when it is not v4, holds no secret material, or holds no secret part for any usable
 * encryption subkey. Nothing is unlocked here: see pgp_secret_take. */
int pgp_secret_inspect(const unsigned char *data, size_t len, time_t now,
                       struct pgp_key_report **reports_r, size_t *count_r, const char **error_r);
/* The e-mail address in a user ID ("Name <a@b>" or "a@b"), lower-cased into dst; -1 if none. */
int pgp_uid_address(const char *uid, char *dst, size_t dstsize);

/* ---- secret keys from elsewhere (pgp_secret.c) ---- */

/* Takes the secret key fpr out of data (a key file pgp_secret_inspect accepted it from):
 * every protected secret part is opened with passphrase (NULL: none given), the protection is
 * removed, and the key is sealed with the master key exactly as a generated key is
 * (pgp_secret_seal), then opened again to prove the gateway can use it. A wrong or missing
 * passphrase is an error with a clear reason; nothing is returned then. */
int pgp_secret_take(const unsigned char *data, size_t len, const char *fpr,
                    const char *passphrase, const struct keystore *ks, unsigned char **blob_r,
                    size_t *blob_len_r, const char **error_r);
/* Of the primary keys fprs[0..n) in ctx, the one that signs: valid at now (not expired or
 * revoked), able to sign (with the secret part present, if need_secret), and the newest by
 * creation time (the first of equals). Its index, or -1 if none can sign. */
int pgp_pick_signer(struct pgp_ctx *ctx, const char *const *fprs, size_t n, time_t now,
                    bool need_secret);

/* ---- outbound (pgp_out.c) ---- */

/* Encrypts a MIME entity (headers + body; bare LF is made CRLF) to every recipient key
 * (primary fingerprints; RNP picks each key's encryption subkey), signed by signer_fpr's
 * secret key in ctx unless NULL. SEIPD v1, AES-256, no compression, no AEAD (RFC 3156 as
 * GnuPG 2.2 reads it). *out_r is a multipart/encrypted entity, CRLF, beginning with its
 * MIME-Version and Content-Type headers; the caller puts the message headers above it. */
int pgp_encrypt_mime(struct pgp_ctx *ctx, const char *const *recipient_fprs, size_t nrecipients,
                     const char *signer_fpr, const char *entity, size_t len, char **out_r,
                     size_t *out_len_r, const char **error_r);

/* ---- inbound (pgp_in.c) ---- */

enum pgp_sig_status {
	PGP_SIG_VALID,       /* intact, made by a key in ctx */
	PGP_SIG_INVALID,     /* altered, unreadable, or made by an expired/revoked key */
	PGP_SIG_UNKNOWN_KEY, /* the signer's key is not in ctx: intact or not is unknown */
};
/* "valid", "invalid", "unknown-key". */
const char *pgp_sig_status_name(enum pgp_sig_status s);

struct pgp_sig {
	enum pgp_sig_status status;
	char keyid[PGP_FPR_MAX];     /* the signing (sub)key id or fingerprint, upper-case hex */
	char signer_fpr[PGP_FPR_MAX];/* primary fingerprint of a known signer, or "" */
	char signer[SG_ADDR_MAX];    /* e-mail of the signer's primary user ID, or "" */
	time_t created;
};

enum pgp_kind {
	PGP_KIND_NONE,            /* no OpenPGP found */
	PGP_KIND_MIME_ENCRYPTED,  /* multipart/encrypted (RFC 3156 §4) */
	PGP_KIND_MIME_SIGNED,     /* multipart/signed, application/pgp-signature (§5) */
	PGP_KIND_INLINE_ENCRYPTED,/* -----BEGIN PGP MESSAGE----- in a text part */
	PGP_KIND_INLINE_SIGNED,   /* -----BEGIN PGP SIGNED MESSAGE----- in a text part */
};
const char *pgp_kind_name(enum pgp_kind kind);

struct pgp_in_result {
	enum pgp_kind kind;      /* the outermost OpenPGP layer */
	/* Inline PGP that is not the whole body of a single-part message (text around it, beside
	 * other parts, several blocks): left as it came, never decrypted; a clear-signed block
	 * is verified but its signature covers only part of what a reader sees. */
	bool mixed;
	bool encrypted;          /* some layer was encrypted */
	bool decrypted;          /* ... and was decrypted with a key in ctx */
	bool integrity_ok;       /* SEIPD with a valid MDC (or AEAD) */
	char mode[16];           /* RNP protection mode: "cfb-mdc", "cfb", "aead-eax", ... */
	char cipher[16];         /* "AES256", ... */
	struct pgp_sig sigs[SG_PGP_SIGS_MAX];
	size_t nsigs;
	/* The entity with every OpenPGP layer removed (CRLF, beginning with its Content-* headers);
	 * NULL when nothing could be decrypted or nothing was OpenPGP. */
	char *content;
	size_t content_len;
};
/* Looks at the MIME structure of msg (a message or an entity): PGP/MIME encrypted and/or
 * signed (nested at most SG_PGP_LAYERS_MAX deep) at the top, or inline PGP (opened only as
 * the whole body of a single text/plain part; anywhere else the result is mixed).
 * Decrypts with the secret keys in ctx and verifies with its public keys. Returns -1 only when
 * msg is not MIME at all; otherwise 0 with the outcome in *r (free it below). */
int pgp_decrypt_verify(struct pgp_ctx *ctx, const char *msg, size_t len, struct pgp_in_result *r,
                       const char **error_r);
/* The same with msg's parse lent by the caller (a mime_memo shared by the recipient groups of
 * one message; NULL: parsed here). A multipart is only read; a single part gets a parse of its
 * own, because an inline block at the top is opened in place. */
struct _GMimeObject;
int pgp_decrypt_verify_parsed(struct pgp_ctx *ctx, const char *msg, size_t len,
                              struct _GMimeObject *parsed, struct pgp_in_result *r,
                              const char **error_r);
void pgp_in_result_free(struct pgp_in_result *r);

/* ---- inline armour (pgp_inline.c) ---- */

struct pgp_armor_span {
	enum pgp_kind kind; /* PGP_KIND_INLINE_ENCRYPTED or PGP_KIND_INLINE_SIGNED */
	size_t start, end;  /* [start, end): BEGIN line to END line with its line break */
	bool whole;         /* only white space outside it, and no armour header that a reader
	                     * would see but no signature covers */
};
/* The first armour block (BEGIN and END at line starts) in decoded text: 1 found, 0 none. */
int pgp_inline_find(const char *text, size_t len, struct pgp_armor_span *span_r);

/* ---- Autocrypt Level 1 (pgp_autocrypt.c) ---- */

struct pgp_autocrypt {
	char addr[SG_ADDR_MAX];      /* lower-cased */
	bool prefer_mutual;          /* prefer-encrypt=mutual */
	unsigned char *keydata;      /* binary OpenPGP key */
	size_t keydata_len;
};
/* Parses an Autocrypt: header value (unfolded or folded). Refused: missing addr or keydata,
 * an unknown attribute not starting with '_', a repeated attribute, bad base64. */
int pgp_autocrypt_parse(const char *value, size_t len, struct pgp_autocrypt *ac_r,
                        const char **error_r);
void pgp_autocrypt_clear(struct pgp_autocrypt *ac);
/* A whole "Autocrypt: addr=...; [prefer-encrypt=mutual; ]keydata=..." field, folded at 78
 * columns, CRLF-terminated, with the minimal key of fpr in ctx (primary, one encryption
 * subkey, the user ID of address). Caller frees. */
int pgp_autocrypt_format(struct pgp_ctx *ctx, const char *fpr, const char *address,
                         bool prefer_mutual, char **field_r, const char **error_r);

#endif
