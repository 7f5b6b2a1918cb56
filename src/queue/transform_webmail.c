/* transform_webmail.c: the webmail channel. The message (decrypted first if the sender's client
 * encrypted it to a gateway-held key) is sealed into the store for the partner, then the
 * partner gets a notification without the content. Both steps are idempotent by the queue id
 * and the recipient: a transform that crashed (kill -9) anywhere is simply run again and finds
 * the copy it stored; only a crash between queueing the notification and recording it can
 * send the partner a second notification. The spool recipient is done (sent) only when the
 * sealed copy and the queued notification are both on disk. */
#include "queue/transform.h"

#include "core/settings.h"
#include "core/sg_log.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "mime/mime.h"
#include "queue/held.h"
#include "store/store_webmail.h"
#include "webmail/webmail.h"

#include <stdio.h>
#include <string.h>

struct wm_job {
	const struct transform_env *te;
	const struct transform_input *in;
	struct store_user user;             /* the partner, as stored */
	char dedup[STORE_WEBMAIL_DEDUP_MAX];
	time_t now;
};

static int notice(const struct wm_job *j, enum notify_kind kind, const struct notify_vars *v,
                  const char **error_r)
{
	struct held_ctx hc = {.settings = j->te->settings, .store = j->te->store,
	                      .keystore = j->te->keystore, .spool = j->te->spool};
	return held_notice(&hc, kind, v, error_r);
}

/* subject without the tag that asked for encryption (and one space beside it), into dst. */
static void untagged(const char *subject, const char *tag, char *dst, size_t size)
{
	sg_strlcpy(dst, subject, size);
	char *at = tag != NULL && tag[0] != '\0' ? strcasestr(dst, tag) : NULL;
	if (at == NULL)
		return;
	size_t cut = strlen(tag);
	if (at[cut] == ' ')
		cut++;
	else if (at > dst && at[-1] == ' ')
		at--, cut++;
	memmove(at, at + cut, strlen(at + cut) + 1);
}

/* The partner's notification for stored message m; 0 once it is queued and recorded. */
static int notify_partner(const struct wm_job *j, const struct store_webmail_msg *m,
                          const char **error_r)
{
	char link[sizeof(WEBMAIL_PATH) + STORE_WEBMAIL_UID_MAX + 2];
	snprintf(link, sizeof(link), "%s/%s", WEBMAIL_PATH, m->uid);
	const struct mime_info *mi = j->in->mime;
	bool hide = settings_bool(j->te->settings, "policy.hide_subject");
	char subject[512];
	untagged(mi != NULL && mi->subject != NULL ? mi->subject : "", j->te->subject_tag, subject,
	         sizeof(subject));
	struct notify_vars v = {.partner = j->user.address,
	                        .sender = m->sender[0] != '\0' ? m->sender : "(unknown sender)",
	                        .subject = hide ? NULL : subject, .when = m->created, .link = link};
	if (notice(j, NOTIFY_WEBMAIL, &v, error_r) < 0)
		return -1;
	return store_webmail_mark_notified(j->te->store, m->id, error_r);
}

/* Drops the oldest read messages when the new one needs room: 0 go on, 1 full of unread mail,
 * 2 larger than the whole quota (the partner is told of either), -1 error. */
static int make_room(const struct wm_job *j, int64_t need, const char **error_r)
{
	int64_t quota = (int64_t)settings_number(j->te->settings, "webmail.quota_mb") * 1048576;
	size_t dropped = 0;
	int rc = quota > 0 && need > quota
	             ? 2
	             : webmail_quota_make_room(j->te->store, j->user.address, quota, need, j->now,
	                                       &dropped, error_r);
	struct notify_vars v = {.partner = j->user.address, .sender = j->in->sender,
	                        .when = j->now, .count = dropped};
	const char *err;
	if ((rc > 0 || dropped > 0) &&
	    notice(j, rc > 0 ? NOTIFY_WEBMAIL_FULL : NOTIFY_WEBMAIL_QUOTA, &v, &err) < 0)
		sg_error("webmail: telling <%s> about the quota: %s", j->user.address, err);
	return rc;
}

/* Seals the message into the store (or finds the copy a earlier run stored): 1 with *m_r,
 * or a transform failure in out. */
static enum transform_result store_copy(struct wm_job *j, struct store_webmail_msg *m_r,
                                        struct transform_output *out)
{
	const struct transform_env *te = j->te;
	const char *err = "";
	int found = store_webmail_find_dedup(te->store, j->user.id, j->dedup, m_r, &err);
	if (found != 0)
		return found < 0 ? transform_fail(out, TRANSFORM_TEMP, "4.3.0", "webmail: %s", err)
		                 : TRANSFORM_OK;
	struct sg_buf plain_buf;
	sg_buf_init(&plain_buf, SG_MESSAGE_SIZE_HARD_MAX);
	const char *plain;
	size_t plain_len;
	/* 1: encrypted end to end to keys we do not hold: kept as it came */
	if (transform_plaintext(te, j->in, &plain_buf, &plain, &plain_len, &err) < 0) {
		sg_buf_free_secret(&plain_buf);
		return transform_fail(out, TRANSFORM_PERM, "5.7.1",
		                      "the message was encrypted and cannot be read here: %s", err);
	}
	enum transform_result res = TRANSFORM_OK;
	int room = make_room(j, (int64_t)plain_len, &err);
	if (room < 0) {
		res = transform_fail(out, TRANSFORM_TEMP, "4.3.0", "webmail: %s", err);
	} else if (room > 0) {
		res = transform_fail(out, TRANSFORM_PERM, room == 1 ? "5.2.2" : "5.2.3",
		                     room == 1 ? "the recipient's secure mail storage on the portal is "
		                                 "full of unread messages; the message was not delivered"
		                               : "the message is larger than the recipient's whole "
		                                 "secure mail storage on the portal; it was not delivered");
	} else {
		struct webmail_put p = {.user_id = j->user.id, .address = j->user.address,
		                        .folder = STORE_WEBMAIL_INBOX, .dedup = j->dedup,
		                        .sender = j->in->sender, .data = plain, .len = plain_len,
		                        .now = j->now, .stored_r = m_r};
		int64_t id;
		bool existed, perm;
		if (webmail_put(te->store, te->keystore, &p, &id, &existed, &perm, &err) < 0)
			res = transform_fail(out, perm ? TRANSFORM_PERM : TRANSFORM_TEMP,
			                     perm ? "5.6.0" : "4.3.0", "webmail: %s", err);
		else if (existed && /* stored meanwhile by another run: that copy is the one */
		         store_webmail_find_dedup(te->store, j->user.id, j->dedup, m_r, &err) != 1)
			res = transform_fail(out, TRANSFORM_TEMP, "4.3.0", "webmail: stored copy not found");
	}
	sg_buf_free_secret(&plain_buf);
	return res;
}

enum transform_result transform_webmail(const struct transform_env *te,
                                        const struct transform_input *in,
                                        struct transform_output *out)
{
	if (te->store == NULL || te->keystore == NULL || te->spool == NULL || in->nrcpt != 1)
		return transform_fail(out, TRANSFORM_TEMP, "4.3.0",
		                      "webmail needs the store, the spool and one recipient");
	struct wm_job j = {.te = te, .in = in, .now = sg_wall()};
	const char *err = "";
	int found = store_user_find(te->store, in->rcpts[0], &j.user, &err);
	if (found <= 0)
		return transform_fail(out, TRANSFORM_TEMP, "4.3.0", "webmail for %s: %s", in->rcpts[0],
		                      found < 0 ? err : "no such partner (yet)");
	if (sg_snprintf(j.dedup, sizeof(j.dedup), "%s:%s", in->queue_id, j.user.address) < 0)
		return transform_fail(out, TRANSFORM_PERM, "5.1.3", "webmail: address too long");
	sg_ascii_lower(j.dedup);
	struct store_webmail_msg m;
	memset(&m, 0, sizeof(m));
	enum transform_result res = store_copy(&j, &m, out);
	if (res == TRANSFORM_OK && !m.notified && notify_partner(&j, &m, &err) < 0)
		res = transform_fail(out, TRANSFORM_TEMP, "4.3.0",
		                     "webmail: stored, notification not queued yet: %s", err);
	if (res == TRANSFORM_OK) {
		sg_info("%s: webmail for <%s> stored as %s (%lld bytes, %d attachment(s)), notified",
		        in->queue_id, j.user.address, m.uid, (long long)m.size, m.attachments);
		res = transform_fail(out, TRANSFORM_STORED, "2.0.0", "kept on the portal as %s", m.uid);
	}
	store_webmail_msg_clear(&m);
	return res;
}
