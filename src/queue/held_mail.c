/* held_mail.c: holding mail for partners who have not registered, releasing it when they do,
 * and deleting it when their invitation expires. The held copy is sealed with the master key
 * (bound to the partner's user id); the spool copy goes once the store has it. */
#include "queue/held.h"

#include "core/settings.h"
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "mime/mime.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "crypto/keystore.h"
#include "notify/notify.h"
#include "queue/spool.h"
#include "store/store.h"

#include <sodium.h>
#include <string.h>

static void owner_of(int64_t user_id, char *dst, size_t size)
{
	if (sg_snprintf(dst, size, "held:%lld", (long long)user_id) < 0)
		sg_strlcpy(dst, "held:?", size);
}

int held_notice(const struct held_ctx *hc, enum notify_kind kind, const struct notify_vars *v,
                  const char **error_r)
{
	struct sg_buf b;
	sg_buf_init(&b, 256 * 1024);
	const char *rcpt;
	char id[SG_QUEUE_ID_MAX];
	int rc = notify_build(hc->settings, kind, v, &b, &rcpt, error_r);
	if (rc == 0)
		rc = spool_notice_send(hc->spool, settings_get(hc->settings, "gateway.hostname"), rcpt,
		                       false, b.data, b.len, id, sizeof(id), error_r);
	if (rc == 0)
		sg_info("notice to <%s> queued as %s", rcpt, id);
	sg_buf_free(&b);
	return rc;
}

/* The notices of a hold: a new invitation brings the invitation and the OTP (to the sender or
 * in a second mail to the partner); a pending one only tells this sender. */
static int hold_notices(const struct held_ctx *hc, const struct notify_vars *v, bool invited,
                        const char **error_r)
{
	bool to_partner = strcmp(settings_get(hc->settings, "policy.otp_delivery"), "recipient") == 0;
	if (!invited)
		return held_notice(hc, NOTIFY_HELD, v, error_r);
	if (held_notice(hc, NOTIFY_INVITATION, v, error_r) < 0)
		return -1;
	if (to_partner)
		return held_notice(hc, NOTIFY_OTP_PARTNER, v, error_r) < 0 ? -1
		                                                      : held_notice(hc, NOTIFY_HELD, v, error_r);
	return held_notice(hc, NOTIFY_OTP_SENDER, v, error_r);
}

/* The pending invitation of rcpt, or a new one (*invited_r): 0, or -1 (also when the partner
 * registered meanwhile: the caller retries and the mail takes the new channel). */
static int invitation(const struct held_ctx *hc, const char *sender, const char *rcpt,
                      time_t now, char *otp, int64_t *uid_r, time_t *until_r, bool *invited_r,
                      const char **error_r)
{
	struct store_portal_account a;
	int found = store_portal_account_get(hc->store, rcpt, &a, error_r);
	if (found < 0)
		return -1;
	if (found == 1 && a.registered != 0) {
		*error_r = "the recipient has just registered; the message will take their channel";
		return -1;
	}
	*invited_r = found == 0 || a.otp_hash[0] == '\0' || a.otp_expires <= now;
	if (!*invited_r) {
		*uid_r = a.user_id;
		*until_r = a.otp_expires;
		return 0;
	}
	int days = (int)settings_number(hc->settings, "policy.otp_valid_days");
	return held_invite_create(hc->store, rcpt, sender, days, now, otp, uid_r, until_r, error_r);
}

static int store_sealed(const struct held_ctx *hc, int64_t uid, const char *sender,
                        const char *subject, const char *data, size_t len, time_t now,
                        int64_t *id_r, const char **error_r)
{
	char owner[64];
	owner_of(uid, owner, sizeof(owner));
	unsigned char *blob = NULL;
	size_t blen = 0;
	if (keystore_seal_bytes(hc->keystore, data, len, owner, &blob, &blen, error_r) < 0)
		return -1;
	int rc = store_held_add(hc->store, uid, sender, subject, blob, blen, now, id_r, error_r);
	sg_free(&blob);
	return rc;
}

/* One row of the audit log, with hc->actor as who; a failure is logged, the work stands. */
static void held_audit(const struct held_ctx *hc, time_t now, const char *event,
                       const char *address, const char *client, const char *detail)
{
	struct store_audit_entry e = {.at = now};
	sg_strlcpy(e.actor, hc->actor != NULL ? hc->actor : "", sizeof(e.actor));
	sg_strlcpy(e.event, event, sizeof(e.event));
	sg_strlcpy(e.address, address, sizeof(e.address));
	sg_strlcpy(e.client, client, sizeof(e.client));
	sg_strlcpy(e.detail, detail, sizeof(e.detail));
	const char *err;
	if (store_audit_add(hc->store, &e, &err) < 0)
		sg_warn("audit: %s", err);
}

int held_mail_hold(const struct held_ctx *hc, const char *sender, const char *rcpt,
                   const char *subject, const char *data, size_t len, time_t now,
                   const char **error_r)
{
	char otp[HELD_OTP_SIZE] = "";
	int64_t uid = 0, id = 0;
	time_t until = 0;
	bool invited = false;
	if (invitation(hc, sender, rcpt, now, otp, &uid, &until, &invited, error_r) < 0)
		return -1;
	int rc = store_sealed(hc, uid, sender, subject, data, len, now, &id, error_r);
	if (rc == 0) {
		struct notify_vars v = {.partner = rcpt, .sender = sender, .otp = invited ? otp : NULL,
		                        .subject = subject, .until = until, .when = now};
		rc = hold_notices(hc, &v, invited, error_r);
		const char *ignored;
		if (rc < 0)
			store_held_delete(hc->store, id, &ignored);
	}
	if (rc < 0 && invited) {
		const char *ignored;
		store_held_invite_drop(hc->store, uid, &ignored);
	}
	if (rc == 0)
		held_audit(hc, now, invited ? "invited" : "held", rcpt, "mail", sender);
	sodium_memzero(otp, sizeof(otp));
	return rc;
}

/* Queues one held message again, for its partner only, marked as released. */
static int requeue(const struct held_ctx *hc, const struct store_held *h, const char **error_r)
{
	unsigned char *blob = NULL, *data = NULL;
	size_t blen = 0, len = 0;
	char owner[64];
	owner_of(h->user_id, owner, sizeof(owner));
	int found = store_held_sealed(hc->store, h->id, &blob, &blen, error_r);
	if (found <= 0)
		return found;
	int rc = keystore_unseal_bytes(hc->keystore, blob, blen, owner, &data, &len, error_r);
	sg_free(&blob);
	if (rc < 0)
		return -1;
	struct spool_envelope env;
	spool_envelope_init(&env);
	env.arrival = h->created;
	env.sender = sg_strdup(h->sender);
	env.client_addr = sg_strdup("local");
	env.client_helo = sg_strdup(settings_get(hc->settings, "gateway.hostname"));
	env.internal_client = true;
	env.smtputf8 = mime_has_8bit(h->sender, strlen(h->sender)) || mime_has_8bit(h->address, strlen(h->address));
	env.body_8bit = mime_has_8bit((const char *)data, len);
	env.flags = SPOOL_F_RELEASED;
	spool_envelope_add_rcpt(&env, h->address, NULL);
	rc = spool_inject(hc->spool, data, len, &env, error_r);
	if (rc == 0) {
		sg_info("held message %lld for <%s> released as %s", (long long)h->id, h->address, env.id);
		char detail[160];
		sg_snprintf(detail, sizeof(detail), "from <%.100s> queued as %s", h->sender, env.id);
		held_audit(hc, sg_wall(), "held-released", h->address, "mail", detail);
	}
	spool_envelope_free(&env);
	sg_free_secret(&data, len);
	/* Queued first, forgotten second: a crash in between makes a duplicate, never a loss. */
	return rc < 0 ? -1 : store_held_delete(hc->store, h->id, error_r) < 0 ? -1 : 1;
}

static int requeue_all(const struct held_ctx *hc, struct store_held *list, size_t n,
                       size_t *count_r, const char **error_r)
{
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		int r = requeue(hc, &list[i], error_r);
		if (r < 0)
			rc = -1;
		else
			*count_r += (size_t)r;
	}
	sg_free(&list);
	return rc;
}

int held_mail_release(const struct held_ctx *hc, const char *address, size_t *count_r,
                      const char **error_r)
{
	struct store_held *list = NULL;
	size_t n = 0;
	*count_r = 0;
	if (store_held_list(hc->store, address, &list, &n, error_r) < 0)
		return -1;
	return requeue_all(hc, list, n, count_r, error_r);
}

int held_mail_release_registered(const struct held_ctx *hc, size_t *count_r,
                                 const char **error_r)
{
	struct store_held *list = NULL;
	size_t n = 0;
	*count_r = 0;
	if (store_held_registered(hc->store, &list, &n, error_r) < 0)
		return -1;
	return requeue_all(hc, list, n, count_r, error_r);
}

int held_mail_expire(const struct held_ctx *hc, time_t now, size_t *count_r,
                     const char **error_r)
{
	struct store_held *list = NULL;
	size_t n = 0;
	*count_r = 0;
	if (store_held_expired(hc->store, now, &list, &n, error_r) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct store_held *h = &list[i];
		struct notify_vars v = {.partner = h->address, .sender = h->sender,
		                        .subject = h->subject, .until = h->until, .when = now};
		if (h->sender[0] != '\0' && held_notice(hc, NOTIFY_HELD_EXPIRED, &v, error_r) < 0) {
			rc = -1;
			break;
		}
		if (store_held_delete(hc->store, h->id, error_r) < 0 ||
		    store_held_invite_drop(hc->store, h->user_id, error_r) < 0) {
			rc = -1;
			break;
		}
		held_audit(hc, now, "held-expired", h->address, "tick", h->sender);
		sg_info("held message %lld for <%s> deleted: the invitation expired unused",
		        (long long)h->id, h->address);
		(*count_r)++;
	}
	sg_free(&list);
	return rc;
}
