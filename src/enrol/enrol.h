/* enrol.h: employees' own certificates (issue 13). An enrolment issues a key and certificate
 * from the instance CA (the key kept sealed in the store), makes a random PIN (stored only
 * sealed, never mailed) and a portal link, and mails the employee the .pfx with the link; the
 * portal shows the PIN on the link's page only to the employee logged in with the directory
 * password, until the link expires (enrol.link_valid_days). A renewal issues the successor of
 * an expiring certificate and mails a notice; its link offers a ZIP with the old and the new
 * .pfx. Shared mailboxes enrol the same way; their managers see their links. */
#ifndef SG_ENROL_H
#define SG_ENROL_H

#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct settings;
struct keystore;
struct keystore_key;
struct ca;
struct spool;
struct sg_buf;

struct enrol_ctx {
	const struct settings *settings;
	struct store *store;
	const struct keystore *keystore;
	const struct ca *ca;
	struct spool *spool; /* the mails go through the queue */
};

#define ENROL_TOKEN_HEX 65 /* a link token (32 random bytes, hex) with its NUL */
#define ENROL_PIN_SIZE 32  /* a PIN buffer (ca_pkcs12_pin's 20 characters and NUL) */

/* ---- enrol_issue.c: a key and a certificate ---- */
/* Issues a new key (ca.user_key_type) and certificate (ca.user_cert_days) for address and
 * stores both (the key sealed to "cert:<fingerprint>") for a user of kind; the stored row in
 * *cert_r (caller clears). */
int enrol_issue(const struct enrol_ctx *ec, const char *address, enum store_user_kind kind,
                enum store_cert_source source, struct store_cert *cert_r, const char **error_r);
/* The CA's certificate for address and key, its serial drawn from the store's sequence (no
 * two nodes of a shared store issue the same one). *der_r is the caller's to free. */
int enrol_ca_issue(const struct enrol_ctx *ec, const char *address, const struct keystore_key *key,
                   int days, unsigned char **der_r, size_t *der_len_r, const char **error_r);
/* Stores der for address as a user of kind (created if new) and, when key is given, the key
 * sealed to "cert:<fingerprint>"; the stored row in *c (caller clears). Also for imports. */
int enrol_store(const struct enrol_ctx *ec, const char *address, enum store_user_kind kind,
                enum store_cert_source source, const unsigned char *der, size_t der_len,
                const struct keystore_key *key, struct store_cert *c, const char **error_r);
/* The stored certificate of address with id cert_id: 1 found, 0 not, -1 error. */
int enrol_cert_get(const struct enrol_ctx *ec, const char *address, int64_t cert_id,
                   struct store_cert *cert_r, const char **error_r);

/* ---- enrol_link.c: enrolments and their links ---- */
struct enrol_started {
	char token[ENROL_TOKEN_HEX]; /* the link: {portal.base_url}/employee/pin/TOKEN */
	char serial[80];
	time_t not_after;            /* of the new certificate */
	time_t expires;              /* of the link */
	char queue_id[64];           /* of the mail */
};
/* Enrols address (an internal or shared user): new key, certificate, PIN and link; its
 * earlier certificates are marked replaced (they still decrypt) and its open links end; the
 * .pfx (ca.pfx_protection) goes by mail to address in lang ("en"/"de"; NULL: the setting). */
int enrol_start(const struct enrol_ctx *ec, const char *address, enum store_user_kind kind,
                const char *lang, time_t now, struct enrol_started *r, const char **error_r);
/* The directory sync saw an employee's address change from old_address to address (which
 * holds no current certificate): enrol_start for address as an internal user in lang ("" or
 * NULL: the setting), with an audit entry "enrolled" by role ("tick", "cli") naming both.
 * Refused for an address outside gateway.internal_domains. */
int enrol_moved(const struct enrol_ctx *ec, const char *old_address, const char *address,
                const char *lang, const char *role, time_t now, struct enrol_started *r,
                const char **error_r);
/* A token's hash (what the store keeps); false for anything that is not a token. */
bool enrol_token_hash(const char *token, char hash_r[STORE_ENROL_HASH_HEX]);
/* The link of token: 1 found, 0 not, -1 error. */
int enrol_link_find(const struct enrol_ctx *ec, const char *token, struct store_enrolment *e_r,
                    const char **error_r);
/* True when the link may be opened by the employee logged in as login_address: their own, or
 * a shared mailbox they manage. */
bool enrol_link_allowed(const struct enrol_ctx *ec, const struct store_enrolment *e,
                        const char *login_address);
/* The PIN of an open, unexpired link into pin (ENROL_PIN_SIZE; wipe it after use): 1, 0 when
 * the link expired or was replaced (the PIN is gone), -1 error. */
int enrol_link_pin(const struct enrol_ctx *ec, const struct store_enrolment *e, time_t now,
                   char *pin, size_t size, const char **error_r);

/* ---- enrol_pfx.c: the files an employee downloads ---- */
/* "ADDR_YYYY-MM-DD_YYYY-MM-DD.pfx" (the validity dates of cert) into dst. */
void enrol_pfx_name(const struct store_cert *cert, char *dst, size_t size);
/* The .pfx of cert (its key unsealed from the store for this call only, and the CA
 * certificate) protected by pin as ca.pfx_protection says; *out_r is the caller's to free. */
int enrol_pfx_make(const struct enrol_ctx *ec, const struct store_cert *cert, const char *pin,
                   unsigned char **out_r, size_t *len_r, const char **error_r);
/* The renewal ZIP of link e: the predecessor's and the successor's .pfx (both with pin) and a
 * README in the link's language, appended to out. */
int enrol_pfx_renewal_zip(const struct enrol_ctx *ec, const struct store_enrolment *e,
                          const char *pin, struct sg_buf *out, const char **error_r);

/* ---- enrol_zip.c: a ZIP archive (libzip, deflate) in memory ---- */
struct enrol_zip_entry {
	const char *name;
	const void *data;
	size_t len;
};
/* The archive of entries appended to out (its ceiling applies). */
int enrol_zip_write(const struct enrol_zip_entry *entries, size_t n, struct sg_buf *out,
                    const char **error_r);

/* ---- enrol_tick.c: the clock's work ---- */
/* Open links past their expiry lose their PIN, and their employees are told; *n_r how many. */
int enrol_tick_expire(const struct enrol_ctx *ec, time_t now, size_t *n_r, const char **error_r);
/* Certificates ending within enrol.renew_before_days get a successor, a renewal link and a
 * notice; *n_r how many. */
int enrol_tick_renew(const struct enrol_ctx *ec, time_t now, size_t *n_r, const char **error_r);

#endif
