/* enrol_tick.c: the clock's part of enrolment. Links past their expiry lose their PIN (the
 * employee is told how to start again); certificates ending within enrol.renew_before_days
 * get a successor (a new key), a renewal link and the notice "your new certificate can be
 * downloaded". Both old and new stay published while valid; the newest signs. */
#include "enrol/enrol.h"
#include "enrol/enrol_priv.h"

#include "core/settings.h"
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "notify/notify.h"
#include "queue/spool.h"

#include <string.h>

static void audit(const struct enrol_ctx *ec, time_t now, const char *event,
                  const char *address, const char *detail)
{
	const char *err;
	if (store_role_audit_add(ec->store, now, event, address, "tick", detail, &err) < 0)
		sg_warn("audit: %s", err);
}

static void tell_expired(const struct enrol_ctx *ec, const struct store_enrolment *e)
{
	struct notify_vars v = {.partner = e->address, .lang = e->lang, .until = e->expires};
	struct sg_buf b;
	sg_buf_init(&b, 64 * 1024);
	const char *rcpt, *err;
	if (notify_build(ec->settings, NOTIFY_ENROL_EXPIRED, &v, &b, &rcpt, &err) < 0 ||
	    spool_notice_send(ec->spool, settings_get(ec->settings, "gateway.hostname"), rcpt, false,
	                      b.data, b.len, NULL, 0, &err) < 0)
		sg_error("telling %s that the enrolment link expired: %s", e->address, err);
	sg_buf_free(&b);
}

int enrol_tick_expire(const struct enrol_ctx *ec, time_t now, size_t *n_r, const char **error_r)
{
	struct store_enrolment *list = NULL;
	size_t n = 0;
	if (store_enrol_expire(ec->store, now, &list, &n, error_r) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		audit(ec, now, "enrol-link-expired", list[i].address, "the PIN was wiped");
		if (list[i].kind == STORE_ENROL_NEW)
			tell_expired(ec, &list[i]);
	}
	sg_free(&list);
	*n_r = n;
	return 0;
}

/* The language of old's owner: the directory's preferredLanguage as last seen, else that of
 * their last link, else NULL (the setting). */
static const char *owner_lang(const struct enrol_ctx *ec, const struct store_cert *old,
                              char *lang, size_t size)
{
	const char *err;
	struct store_employee *emp = sg_calloc(1, sizeof(*emp));
	struct store_enrolment *links = NULL;
	size_t n = 0;
	lang[0] = '\0';
	if (store_employee_get(ec->store, old->user_id, emp, &err) == 1)
		sg_strlcpy(lang, emp->lang, size < 3 ? size : 3);
	if (lang[0] == '\0' && store_enrol_list(ec->store, old->address, &links, &n, &err) == 0 &&
	    n > 0)
		sg_strlcpy(lang, links[0].lang, size);
	sg_free(&links);
	sg_free(&emp);
	sg_ascii_lower(lang);
	return lang[0] != '\0' ? lang : NULL;
}

/* Issues the successor of old (due for renewal) and mails the renewal link. */
static int renew_one(const struct enrol_ctx *ec, const struct store_cert *old, time_t now,
                     const char **error_r)
{
	struct store_user user;
	struct store_cert next;
	struct enrol_started r;
	int rc = store_user_find(ec->store, old->address, &user, error_r);
	if (rc == 0)
		*error_r = "the user is gone";
	if (rc != 1 || enrol_issue(ec, old->address, user.kind, STORE_CERT_ISSUED, &next,
	                           error_r) < 0)
		return -1;
	char lang[8];
	rc = enrol_link_renewal(ec, &next, old->id, owner_lang(ec, old, lang, sizeof(lang)), now, &r,
	                        error_r);
	const char *err;
	if (rc < 0 && store_enrol_mark_replaced(ec->store, next.id, now, &err) < 0)
		sg_error("renewal of %s: %s", old->address, err); /* else the next tick tries again */
	if (rc == 0) {
		char detail[200];
		sg_snprintf(detail, sizeof(detail), "certificate %s renewed by %s", old->serial,
		            next.serial);
		audit(ec, now, "cert-renewed", old->address, detail);
		sg_info("renewal of %s: new certificate %s, notice %s", old->address, next.serial,
		        r.queue_id);
	}
	store_cert_clear(&next);
	return rc;
}

int enrol_tick_renew(const struct enrol_ctx *ec, time_t now, size_t *n_r, const char **error_r)
{
	long long days = settings_number(ec->settings, "enrol.renew_before_days");
	struct store_cert *due = NULL;
	size_t n = 0, done = 0;
	if (store_enrol_renewal_due(ec->store, now + (time_t)(days * 86400), &due, &n, error_r) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *err;
		if (renew_one(ec, &due[i], now, &err) == 0)
			done++;
		else
			sg_error("renewing the certificate of %s: %s; will try again", due[i].address, err);
	}
	store_cert_list_free(&due, n);
	*n_r = done;
	return 0;
}
