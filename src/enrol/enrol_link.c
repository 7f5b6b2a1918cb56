/* enrol_link.c: an enrolment and its portal link. The token in the link is random and the
 * store keeps only its hash; the PIN is random, sealed to the link ("enrol-pin:<hash>") and
 * never mailed: the mail carries the .pfx and the link, the portal shows the PIN after the
 * directory login. A new enrolment replaces the employee's earlier certificates (they stay
 * for decryption, unpublished) and ends their open links. */
#include "enrol/enrol.h"
#include "enrol/enrol_priv.h"

#include "core/settings.h"
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/ca.h"
#include "crypto/keystore.h"
#include "mime/mime.h"
#include "notify/notify.h"
#include "policy/policy.h"
#include "queue/spool.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define ENROL_MAIL_MAX (256 * 1024) /* a notice with a .pfx attached */

bool enrol_token_hash(const char *token, char hash_r[STORE_ENROL_HASH_HEX])
{
	if (token == NULL || strlen(token) != ENROL_TOKEN_HEX - 1 ||
	    strspn(token, "0123456789abcdef") != ENROL_TOKEN_HEX - 1)
		return false;
	unsigned char h[32];
	crypto_generichash(h, sizeof(h), (const unsigned char *)token, ENROL_TOKEN_HEX - 1, NULL, 0);
	sodium_bin2hex(hash_r, STORE_ENROL_HASH_HEX, h, sizeof(h));
	return true;
}

static void pin_owner(const char *token_hash, char *dst, size_t size)
{
	sg_snprintf(dst, size, "enrol-pin:%s", token_hash);
}

static const char *pick_lang(const struct enrol_ctx *ec, const char *lang)
{
	if (lang != NULL && (strcmp(lang, "de") == 0 || strcmp(lang, "en") == 0))
		return lang;
	return settings_get(ec->settings, "enrol.default_language");
}

/* The mail of kind to e's address into b: the .pfx of cert (with pin) attached when cert is
 * set. */
static int mail_build(const struct enrol_ctx *ec, enum notify_kind kind,
                      const struct store_enrolment *e, const char *token,
                      const struct store_cert *cert, const char *pin, struct sg_buf *b,
                      const char **rcpt_r, const char **error_r)
{
	unsigned char *pfx = NULL;
	size_t pfx_len = 0;
	char name[SG_ADDR_MAX + 32];
	struct mime_attachment att = {.filename = name, .content_type = "application/x-pkcs12"};
	char link[sizeof("/employee/pin/") + ENROL_TOKEN_HEX];
	sg_snprintf(link, sizeof(link), "/employee/pin/%s", token);
	struct notify_vars v = {.partner = e->address, .lang = e->lang, .link = link,
	                        .until = e->expires, .when = e->created};
	if (cert != NULL) {
		if (enrol_pfx_make(ec, cert, pin, &pfx, &pfx_len, error_r) < 0)
			return -1;
		enrol_pfx_name(cert, name, sizeof(name));
		att.data = pfx;
		att.len = pfx_len;
		v.att = &att;
		v.natt = 1;
	}
	int rc = notify_build(ec->settings, kind, &v, b, rcpt_r, error_r);
	sg_free(&pfx);
	return rc;
}

/* A new open link for cert (of kind) with a fresh PIN: the mail is made first (the .pfx
 * attached for an enrolment, a notice for a renewal), then the link stored, then the mail
 * queued. */
static int link_new(const struct enrol_ctx *ec, const struct store_cert *cert,
                    enum store_enrol_kind kind, int64_t prev_cert_id, const char *lang,
                    time_t now, struct enrol_started *r, const char **error_r)
{
	unsigned char raw[32];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(r->token, sizeof(r->token), raw, sizeof(raw));
	struct store_enrolment e = {.user_id = cert->user_id, .cert_id = cert->id,
	                            .prev_cert_id = prev_cert_id, .kind = kind, .created = now};
	e.expires = now + (time_t)settings_number(ec->settings, "enrol.link_valid_days") * 86400;
	sg_strlcpy(e.address, cert->address, sizeof(e.address));
	sg_strlcpy(e.lang, pick_lang(ec, lang), sizeof(e.lang));
	enrol_token_hash(r->token, e.token_hash);
	char pin[ENROL_PIN_SIZE], owner[STORE_ENROL_HASH_HEX + 16];
	ca_pkcs12_pin(pin, sizeof(pin));
	pin_owner(e.token_hash, owner, sizeof(owner));
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	int64_t id;
	struct sg_buf b;
	sg_buf_init(&b, ENROL_MAIL_MAX);
	const char *rcpt;
	int rc = -1;
	if (mail_build(ec, kind == STORE_ENROL_NEW ? NOTIFY_ENROL : NOTIFY_RENEWAL, &e, r->token,
	               kind == STORE_ENROL_NEW ? cert : NULL, pin, &b, &rcpt, error_r) == 0 &&
	    keystore_seal_bytes(ec->keystore, pin, strlen(pin), owner, &sealed, &sealed_len,
	                        error_r) == 0 &&
	    store_enrol_add(ec->store, &e, sealed, sealed_len, &id, error_r) == 0)
		rc = spool_notice_send(ec->spool, settings_get(ec->settings, "gateway.hostname"), rcpt,
		                       false, b.data, b.len, r->queue_id, sizeof(r->queue_id), error_r);
	sg_wipe(pin, sizeof(pin));
	sg_free(&sealed);
	sg_buf_free(&b);
	sg_strlcpy(r->serial, cert->serial, sizeof(r->serial));
	r->not_after = cert->not_after;
	r->expires = e.expires;
	return rc;
}

int enrol_start(const struct enrol_ctx *ec, const char *address, enum store_user_kind kind,
                const char *lang, time_t now, struct enrol_started *r, const char **error_r)
{
	struct store_cert cert;
	memset(r, 0, sizeof(*r));
	if (enrol_issue(ec, address, kind, STORE_CERT_ISSUED, &cert, error_r) < 0)
		return -1;
	int rc = store_enrol_supersede(ec->store, cert.user_id, cert.id, now, error_r);
	if (rc == 0)
		rc = link_new(ec, &cert, STORE_ENROL_NEW, 0, lang, now, r, error_r);
	if (rc == 0)
		sg_info("enrolment of %s: certificate %s, link valid until %lld, mail %s", address,
		        cert.serial, (long long)r->expires, r->queue_id);
	store_cert_clear(&cert);
	return rc;
}

int enrol_moved(const struct enrol_ctx *ec, const char *old_address, const char *address,
                const char *lang, const char *role, time_t now, struct enrol_started *r,
                const char **error_r)
{
	char detail[SG_ADDR_MAX + 192];
	struct policy *p = policy_new(ec->settings);
	bool internal = policy_is_internal(p, address);
	policy_free(&p);
	if (!internal) {
		*error_r = "the new address is not in gateway.internal_domains";
		return -1;
	}
	if (enrol_start(ec, address, STORE_USER_INTERNAL, lang != NULL && lang[0] != '\0' ? lang : NULL,
	                now, r, error_r) < 0)
		return -1;
	sg_snprintf(detail, sizeof(detail), "address changed from %s in the directory: certificate "
	            "%s, .pfx mailed (queue id %s)", old_address, r->serial, r->queue_id);
	if (store_role_audit_add(ec->store, now, "enrolled", address, role, detail, error_r) < 0)
		sg_warn("audit: %s", *error_r);
	return 0;
}

int enrol_link_renewal(const struct enrol_ctx *ec, const struct store_cert *successor,
                       int64_t prev_cert_id, const char *lang, time_t now,
                       struct enrol_started *r, const char **error_r)
{
	memset(r, 0, sizeof(*r));
	return link_new(ec, successor, STORE_ENROL_RENEWAL, prev_cert_id, lang, now, r, error_r);
}

int enrol_link_find(const struct enrol_ctx *ec, const char *token, struct store_enrolment *e_r,
                    const char **error_r)
{
	char hash[STORE_ENROL_HASH_HEX];
	if (!enrol_token_hash(token, hash))
		return 0;
	return store_enrol_find(ec->store, hash, e_r, error_r);
}

bool enrol_link_allowed(const struct enrol_ctx *ec, const struct store_enrolment *e,
                        const char *login_address)
{
	const char *err;
	if (login_address == NULL || login_address[0] == '\0')
		return false;
	if (sg_streq_nocase(e->address, login_address))
		return e->user_kind == STORE_USER_INTERNAL;
	return e->user_kind == STORE_USER_SHARED &&
	       store_shared_is_manager(ec->store, e->address, login_address, &err) == 1;
}

int enrol_link_pin(const struct enrol_ctx *ec, const struct store_enrolment *e, time_t now,
                   char *pin, size_t size, const char **error_r)
{
	unsigned char *sealed = NULL, *clear = NULL;
	size_t sealed_len = 0, clear_len = 0;
	char owner[STORE_ENROL_HASH_HEX + 16];
	int rc = store_enrol_pin_get(ec->store, e->id, now, &sealed, &sealed_len, error_r);
	pin_owner(e->token_hash, owner, sizeof(owner));
	if (rc == 1 && keystore_unseal_bytes(ec->keystore, sealed, sealed_len, owner, &clear,
	                                     &clear_len, error_r) < 0)
		rc = -1;
	if (rc == 1 && clear_len >= size) {
		*error_r = "enrolment: the stored PIN is too long";
		rc = -1;
	}
	if (rc == 1) {
		memcpy(pin, clear, clear_len);
		pin[clear_len] = '\0';
	}
	sg_free_secret(&clear, clear_len);
	sg_free(&sealed);
	return rc;
}
