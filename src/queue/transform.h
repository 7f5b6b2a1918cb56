/* transform.h: the step between plan and delivery. Each policy action has one transform that
 * turns the queued message into what its recipients receive (unchanged, S/MIME, PGP/MIME,
 * SecurePDF, ...). A transform either yields the bytes, or says why it cannot: for a while
 * (defer) or for good (bounce, e.g. a message that must be encrypted and cannot be). */
#ifndef SG_TRANSFORM_H
#define SG_TRANSFORM_H

#include "core/limits.h"
#include "core/sg_buf.h"
#include "core/sg_str.h"
#include "scan/scan.h"

#include <stdbool.h>
#include <stddef.h>

struct settings;
struct mime_info;
struct mime_memo;
struct policy_plan;
struct policy_rcpt_info;
struct store;
struct store_cert;
struct keystore;
struct keystore_key;
struct smime_trust;
struct spool;
struct sgdkim_lib;

enum transform_dkim_mode { TRANSFORM_DKIM_OFF, TRANSFORM_DKIM_TRANSFORMED, TRANSFORM_DKIM_ALL };
enum transform_scan_action { TRANSFORM_SCAN_HOLD, TRANSFORM_SCAN_TAG, TRANSFORM_SCAN_REJECT };

/* What transforms share for the life of the queue manager (keys, store, settings). The
 * store (SQLite, serialised) and the keystore are safe to share between worker threads. */
struct lookup;
struct store_pgp_key;
struct transform_env {
	const struct settings *settings;
	struct lookup *lookup;       /* key discovery (policy.key_lookup); NULL or off: none */
	const char *hostname;
	struct store *store;         /* NULL in tests that need none */
	struct keystore *keystore;
	struct smime_trust *trust;   /* system roots, the instance CA */
	const unsigned char *ca_der; /* the instance CA, sent along with signatures */
	size_t ca_der_len;
	const char *subject_tag;     /* policy.encrypt_subject_tag, removed on the way out */
	long long max_encrypted_size;
	bool reencrypt_inbound;
	const char *smime_gcm;       /* policy.smime_gcm: capable | never | always */
	bool autocrypt_outbound;     /* policy.autocrypt_outbound */
	bool autocrypt_encrypt;      /* pgp.autocrypt_encrypt: learned keys may encrypt outbound */
	int revocation_check;        /* smime.revocation_check (enum smime_rev_mode; 0 off) */
	bool cbc_keep_encrypted;     /* policy.cbc_unsigned = keep-encrypted */
	bool header_protection;      /* policy.header_protection: RFC 9788 on the way out */
	bool hide_subject;           /* policy.hide_subject: outer Subject "[...]" */
	struct spool *spool;         /* for the notices a hold sends; NULL in tests without one */
	enum transform_dkim_mode dkim_mode; /* dkim.sign */
	struct sgdkim_lib *dkim_lib;        /* NULL: nothing is signed */
	struct sg_strlist dkim_domains;     /* dkim.domains; empty: every domain with a key */
	bool arc_seal;                      /* arc.seal */
	struct sg_strlist arc_trusted;      /* arc.trusted_authserv_ids */
	bool scan_on;                       /* scan.clamd is set */
	const char *scan_error;             /* scan.clamd unusable: every scan fails with this */
	struct scan_target scan_target;
	bool scan_outbound;                 /* scan.outbound */
	enum transform_scan_action scan_action;
	int scan_timeout_ms;
};

struct transform_input {
	const char *queue_id;
	const char *sender;
	const char *data; /* the message as queued (CRLF) */
	size_t len;
	const struct mime_info *mime;
	struct mime_memo *parsed; /* the message's one full parse, lent to every group; or NULL */
	const struct policy_plan *plan;
	const char *const *rcpts;
	size_t nrcpt;
	bool generated; /* sealgate wrote it itself (a DSN, a notice) */
	bool unscanned; /* an admin released it from the virus quarantine: not scanned again */
};

enum transform_result {
	TRANSFORM_OK,
	TRANSFORM_TEMP, /* try again later (e.g. the store is busy) */
	TRANSFORM_PERM, /* bounce these recipients with status and reason */
	TRANSFORM_HELD, /* kept in the store (waiting for the partner's registration): done here */
	TRANSFORM_STORED, /* delivered into the store (webmail) and the partner notified: sent */
};

struct transform_output {
	const char *data; /* the bytes to deliver: in->data itself, or buf.data */
	size_t len;
	struct sg_buf buf;
	char status[16];                  /* enhanced status on failure ("5.7.1") */
	char reason[SG_SPOOL_REPLY_MAX];  /* for the sender, on failure */
};

void transform_output_init(struct transform_output *out);
void transform_output_free(struct transform_output *out);
/* Runs the transform of in->plan->action. */
enum transform_result transform_run(const struct transform_env *te,
                                    const struct transform_input *in,
                                    struct transform_output *out);

/* True when action (enum policy_action) has a transform in this build: a channel whose
 * action has none must be refused by configuration, never accepted and deferred. */
bool transform_exists(int action);
/* True when the channel (enum policy_channel) leads to an action with a transform. */
bool transform_channel_exists(int channel);

/* Sets out's failure fields; returns res. */
enum transform_result transform_fail(struct transform_output *out, enum transform_result res,
                                     const char *status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* transform_discover.c: key discovery for the planner (a policy_lookup_fn): asks the lookup
 * chain (through its cache) for addr and, on a hit, sets smime_usable or pgp_usable. */
int transform_discover(void *ctx, const char *addr, struct policy_rcpt_info *info_r);
/* The certificate / key discovery found for addr (cached, unexpired, discovery on): 1 with
 * *cert_r / *key_r (source DISCOVERED), 0 none, -1 error. Callers still judge usability. */
int transform_discovered_cert(const struct transform_env *te, const char *addr,
                              struct store_cert *cert_r, const char **why_r);
int transform_discovered_pgp(const struct transform_env *te, const char *addr,
                             struct store_pgp_key *key_r, const char **why_r);

/* transform_dkim.c: DKIM-signs out (after the transform) per dkim.sign and dkim.domains with
 * the From domain's keys; TEMP when a key exists and signing fails (never sent unsigned then). */
enum transform_result transform_dkim(const struct transform_env *te,
                                     const struct transform_input *in,
                                     struct transform_output *out);

/* The once-per-domain log line for a domain without a key: "<qid>: <what> <domain>: no key". */
void transform_dkim_no_key(const char *qid, const char *what, const char *domain);
/* The sealed key k opened for signing (close it with transform_dkim_close_key). */
struct store_dkim_key;
struct sgdkim_key;
int transform_dkim_open_key(const struct transform_env *te, const struct store_dkim_key *k,
                            struct sgdkim_key *key_r, const char **error_r);
void transform_dkim_close_key(struct sgdkim_key *key);

/* transform_arc.c: an ARC set (RFC 8617, i=1) on inbound mail an inbound transform changed,
 * with the sender's DKIM verdict (checked on the message as it arrived) and trusted upstream
 * Authentication-Results in ARC-Authentication-Results. Never fails the message: without a
 * key, or on an error, it is delivered without ARC (and a log line says why). */
enum transform_result transform_arc(const struct transform_env *te,
                                    const struct transform_input *in,
                                    struct transform_output *out);

/* transform_scan.c: clamd. _outbound scans the message as queued before an outbound
 * transform (scan.outbound): infected is refused (5.7.1, the signature named), a failed scan
 * defers (4.7.0). _inbound scans what an inbound transform made (the decrypted message) and
 * marks it X-Sealgate-Scan: clean (clamd), or applies scan.action; a failed scan defers. */
enum transform_result transform_scan_outbound(const struct transform_env *te,
                                              const struct transform_input *in,
                                              struct transform_output *out);
enum transform_result transform_scan_inbound(const struct transform_env *te,
                                             const struct transform_input *in,
                                             struct transform_output *out);

/* With plan->via_domain: "X-Sealgate-Security: outbound; encrypted=CHANNEL; via=domain-..."
 * (the receiving gateway removes it as foreign; the archive and the admin see which key was
 * used) put above out->buf's message, which becomes out's bytes. 0 or -1 with *error_r. */
int transform_mark_via(const struct transform_input *in, const char *channel,
                       struct transform_output *out, const char **error_r);
/* Applies e to out's bytes; the result replaces them (out->buf). */
struct mime_edit;
int transform_output_edit(struct transform_output *out, const struct mime_edit *e,
                          const char **error_r);

/* transform_pass.c: deliver unchanged, except that X-Sealgate-* fields that arrived from
 * outside are removed (only sealgate may state what it did to a message). */
enum transform_result transform_pass(const struct transform_env *te,
                                     const struct transform_input *in,
                                     struct transform_output *out);

/* transform_hold.c: keeps the message sealed in the store for a partner who must register
 * first, and invites the partner (queue/held.h). */
enum transform_result transform_hold(const struct transform_env *te,
                                     const struct transform_input *in,
                                     struct transform_output *out);

/* transform_portal.c: mail a partner wrote on the portal, for internal recipients: foreign
 * X-Sealgate-* fields removed, "X-Sealgate-Security: portal; authenticated=<sender>" added,
 * and encrypted to the recipients' S/MIME certificates when each has one. */
enum transform_result transform_portal(const struct transform_env *te,
                                       const struct transform_input *in,
                                       struct transform_output *out);

/* transform_webmail.c: seals the message into the store for the partner (webmail/webmail.h)
 * and queues the partner's notification; TRANSFORM_STORED once both are on disk. */
enum transform_result transform_webmail(const struct transform_env *te,
                                        const struct transform_input *in,
                                        struct transform_output *out);

/* transform_refuse.c: a permanent failure that explains why the message was not sent. */
enum transform_result transform_refuse(const struct transform_env *te,
                                       const struct transform_input *in,
                                       struct transform_output *out);

/* transform_keys.c: store lookups shared by the transforms. */
/* domain's DKIM keys with their sealed private keys (store_dkim_list), through the worker
 * thread's memo: the SQL is not compiled for every message. Free with store_dkim_list_free. */
int transform_dkim_keys(const struct transform_env *te, const char *domain,
                        struct store_dkim_key **keys_r, size_t *n_r, const char **error_r);
/* The newest certificate of addr usable for usage (with a gateway-held key if need_key):
 * 1 found (*cert_r filled, clear it), 0 none (*why_r says why), -1 store error. */
int transform_find_cert(const struct transform_env *te, const char *addr, int usage,
                        bool need_key, struct store_cert *cert_r, const char **why_r);
/* The gateway-held private key of cert. */
int transform_cert_key(const struct transform_env *te, const struct store_cert *cert,
                       struct keystore_key **key_r, const char **error_r);
/* The gateway-held key of cert for signing, from a small per-thread cache: borrowed, not
 * to be freed; NULL with *error_r. */
const struct keystore_key *transform_signing_key(const struct transform_env *te,
                                                 const struct store_cert *cert,
                                                 const char **error_r);
/* addr's active OpenPGP key (store_pgp_find_active through a per-thread memo that any write
 * to the store empties): 1 found (*key_r filled, clear it), 0 none (*why_r), -1 error. A key
 * learned from Autocrypt counts only under pgp.autocrypt_encrypt. */
struct store_pgp_key;
int transform_pgp_find(const struct transform_env *te, const char *addr,
                       struct store_pgp_key *key_r, const char **why_r);
/* Whose certificate or key encrypts to recipient i: the recipient's, or with plan->via_domain
 * its domain's pseudo-address (policy_domain_owner, into dst). */
const char *transform_key_owner(const struct transform_input *in, size_t i, char *dst,
                                size_t size);
/* policy_lookup_fn over the store: ctx is the transform_env. */
int transform_lookup(void *ctx, const char *addr, struct policy_rcpt_info *info_r);

/* transform_smime.c */
enum transform_result transform_smime(const struct transform_env *te,
                                      const struct transform_input *in,
                                      struct transform_output *out);
/* transform_nested.c: the S/MIME layers at the top of an inbound message, outer first. */
#define TRANSFORM_NESTED_MAX 4
struct nested_layer {
	int kind;             /* enum smime_kind: enveloped, authenveloped or signed */
	bool detached;        /* signed: multipart/signed (else opaque signed-data) */
	bool over_encrypted;  /* signed: an envelope lies below it (it signs ciphertext) */
	bool decrypted;       /* envelope: opened with a gateway-held key */
	bool to_domain;       /* ... which was a domain certificate of ours */
	int verdict;          /* signed: enum smime_verdict, bound to the From address */
	char signer[SG_ADDR_MAX];
	char note[160];       /* the verdict's reason, or why an envelope stayed closed */
	char *entity;         /* what the layer holds (decrypted, or signed content), or NULL */
	size_t entity_len;
};
struct nested_walk {
	struct nested_layer layer[TRANSFORM_NESTED_MAX];
	size_t n;
	bool too_deep;        /* S/MIME went on below the last layer walked */
};
/* Verifies and decrypts layer after layer until the content is no S/MIME, a layer cannot be
 * opened, or TRANSFORM_NESTED_MAX layers were walked. Valid signers are harvested. */
void transform_nested_walk(const struct transform_env *te, const struct transform_input *in,
                           struct nested_walk *w);
/* 1 + the index of the deepest decrypted envelope, or 0 when none was decrypted. */
size_t transform_nested_decrypted(const struct nested_walk *w);
/* "layers=signed(valid a@b.example, outer) > enveloped(decrypted) > ..." into dst. */
void transform_nested_layers(const struct nested_walk *w, char *dst, size_t size);
void transform_nested_free(struct nested_walk *w);

/* transform_inbound.c: decrypt and verify for internal recipients. */
enum transform_result transform_inbound(const struct transform_env *te,
                                        const struct transform_input *in,
                                        struct transform_output *out);
/* transform_plain.c: the message as the sender meant it: if the sender's client encrypted it
 * to a gateway-held key (a proxy certificate), decrypted; else as queued. *plain_r points into
 * in or buf. Returns 0, 1 when the message is encrypted to keys the gateway does not hold (the
 * sender encrypted end to end: send it as it is), or -1 with *error_r. */
int transform_plaintext(const struct transform_env *te, const struct transform_input *in,
                        struct sg_buf *buf, const char **plain_r, size_t *len_r,
                        const char **error_r);

/* Decrypts an S/MIME message with whichever gateway-held key it names: 0, -1 with *error_r
 * when a held key failed, or TRANSFORM_NOT_OURS when it names none. *to_domain_r (unless
 * NULL) says whether the key was one of our domain certificates (`domain own`). */
#define TRANSFORM_NOT_OURS (-2)
int transform_decrypt_gateway(const struct transform_env *te, const char *data, size_t len,
                              char **out_r, size_t *out_len_r, bool *to_domain_r,
                              const char **error_r);
/* Appends msg's message-level header fields (no Content-*, no Bcc, no foreign X-Sealgate-*;
 * Subject without tag when tag != NULL; prepend first) and then entity to out. */
int transform_join_outer(const char *msg, size_t len, const char *prepend, const char *tag,
                         const char *entity, size_t entity_len, struct sg_buf *out,
                         const char **error_r);

/* transform_hp.c: the entity to sign and encrypt (protected header fields inside when
 * te->header_protection), and the outer header section above the encrypted entity enc. */
int transform_hp_entity(const struct transform_env *te, const char *plain, size_t len,
                        struct sg_buf *entity, const char **error_r);
int transform_hp_join(const struct transform_env *te, const char *plain, size_t len,
                      const char *enc, size_t enc_len, struct sg_buf *out, const char **error_r);

/* The From a signature inside is bound to: the payload's protected From when it carries hp=,
 * else the message's. */
void transform_hp_from(const struct transform_input *in, const char *payload, size_t len,
                       char *dst, size_t size);
/* When payload (the innermost content delivered) carries protected fields: msg with them in
 * place of the outer ones appended to out, the verdict ("headers=protected (hp=cipher)",
 * from-mismatch) in note; 1. Otherwise 0 (note ""). */
int transform_hp_inbound(const struct transform_input *in, const char *msg, size_t len,
                         const char *payload, size_t payload_len, struct sg_buf *out,
                         char *note, size_t note_size);

/* transform_reencrypt.c: entity (Content-* fields and body) encrypted to the S/MIME
 * certificates of every recipient of in, with in->data's message fields outside (prepend
 * first) appended to out: 1 done, 0 a recipient has no usable certificate (*why_r), -1 a
 * store or encryption error (*why_r). */
int transform_reencrypt(const struct transform_env *te, const struct transform_input *in,
                        const char *entity, size_t entity_len, const char *prepend,
                        struct sg_buf *out, const char **why_r);

/* Refuses (5.3.4) an encrypted result over policy.max_encrypted_size. */
enum transform_result transform_check_size(const struct transform_env *te,
                                           struct transform_output *out);

/* transform_pdf.c: SecurePDF for one recipient. */
enum transform_result transform_pdf(const struct transform_env *te,
                                    const struct transform_input *in,
                                    struct transform_output *out);

/* transform_pgp.c, transform_inbound_pgp.c */
struct pgp_ctx;
enum transform_result transform_pgp(const struct transform_env *te,
                                    const struct transform_input *in,
                                    struct transform_output *out);
enum transform_result transform_inbound_pgp(const struct transform_env *te,
                                            const struct transform_input *in,
                                            struct transform_output *out);
/* Loads addr's active public key into ctx; fpr_r (PGP_FPR_MAX) gets the fingerprint.
 * 1 loaded, 0 none (*why_r), -1 error. */
int transform_pgp_load_public(const struct transform_env *te, struct pgp_ctx *ctx,
                              const char *addr, char *fpr_r, const char **why_r);
/* Loads every gateway-held key of addr into ctx (store_pgp_key_held: all of them decrypt);
 * fpr_r gets the one that signs (pgp_pick_signer: the newest valid one). 1 if one signs,
 * 0 none does (*why_r; the others are loaded all the same), -1 error. */
int transform_pgp_load_secret(const struct transform_env *te, struct pgp_ctx *ctx,
                              const char *addr, char *fpr_r, const char **why_r);

/* transform_autocrypt.c: learns the Autocrypt key of inbound mail's From address. */
void transform_autocrypt_learn(const struct transform_env *te, const struct transform_input *in);
/* The Autocrypt: field for an internal sender with a gateway-held key (caller frees), or NULL. */
char *transform_autocrypt_field(const struct transform_env *te, const char *sender);

#endif
