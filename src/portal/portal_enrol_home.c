/* portal_enrol_home.c: the enrolment part of the employee's home page (/employee): the links
 * mailed to them, "Getting started" (a new key, certificate and PIN by mail: the first time,
 * after a new workstation or address, or when the link expired), and the shared mailboxes
 * they manage with the same for each; and the POST that starts an enrolment. */
#include "portal/portal_priv.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "enrol/enrol.h"
#include "store/store.h"

#include <microhttpd.h>
#include <string.h>

#define ENROL_PER_DAY 5 /* enrolments one mailbox may get from the portal in a day */

static const char start_tmpl[] =
    "<form method=\"post\" action=\"/employee/enrol\">"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">"
    "<input type=\"hidden\" name=\"mailbox\" value=\"{{address}}\">"
    "<button type=\"submit\">{{t.btn_enrol}}</button></form>";

/* The open links of address: a manager gets a way to each (/employee/link/ID); the employee
 * is pointed to the mail, whose link alone shows their own PIN. */
static void links_html(struct portal_req *req, const char *address, bool managed,
                       struct sg_buf *b)
{
	struct store_enrolment *list = NULL;
	size_t n = 0;
	const char *err;
	if (store_enrol_list(req->ctx->st, address, &list, &n, &err) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (list[i].state != STORE_ENROL_OPEN || list[i].expires <= req->now)
			continue;
		char sent[16], until[16], href[64];
		portal_enrol_day(list[i].created, sent, sizeof(sent));
		portal_enrol_day(list[i].expires, until, sizeof(until));
		sg_snprintf(href, sizeof(href), "/employee/link/%lld", (long long)list[i].id);
		struct portal_var v[] = {{"sent", sent, false}, {"until", until, false},
		                         {"href", href, false}};
		portal_html_render(b, managed ? "<p>{{t.enr_link_sent}} {{sent}}, {{t.enr_link_until}} "
		                                "{{until}}: <a href=\"{{href}}\">{{t.enr_link_open}}</a></p>"
		                              : "<p>{{t.enr_link_sent}} {{sent}}, {{t.enr_link_until}} "
		                                "{{until}}. {{t.enr_link_mail}}</p>",
		                   v, 3, req->lang);
	}
	sg_free(&list);
}

/* One mailbox's section: its links and the start button. */
static void mailbox_html(struct portal_req *req, const char *address, bool managed,
                         struct sg_buf *b)
{
	struct portal_var v[] = {{"address", address, false}, {"csrf", req->sess.csrf, false}};
	if (managed)
		portal_html_render(b, "<h3>{{address}}</h3>", v, 1, req->lang);
	links_html(req, address, managed, b);
	portal_html_render(b, start_tmpl, v, 2, req->lang);
}

void portal_enrol_home(struct portal_req *req, struct sg_buf *b)
{
	const char *me = req->sess.address;
	portal_html_render(b, "<h2>{{t.enr_start_title}}</h2><p>{{t.enr_start_help}}</p>", NULL, 0,
	                   req->lang);
	mailbox_html(req, me, false, b);
	char(*boxes)[SG_ADDR_MAX] = NULL;
	size_t nb = 0;
	const char *err;
	if (store_shared_managed_by(req->ctx->st, me, &boxes, &nb, &err) == 0 && nb > 0) {
		portal_html_render(b, "<h2>{{t.enr_shared}}</h2>", NULL, 0, req->lang);
		for (size_t i = 0; i < nb; i++)
			mailbox_html(req, boxes[i], true, b);
	}
	sg_free(&boxes);
}

/* The messages the enrolment POST leaves for the home page (?m= ok, ?e= error). */
static const char *const flash_ok[] = {"enr_sent"};
static const char *const flash_error[] = {"enr_unknown", "enr_limit", "enr_failed",
                                          "err_internal"};

static const char *flash_find(const char *m, const char *const *keys, size_t n)
{
	for (size_t i = 0; m != NULL && i < n; i++)
		if (strcmp(m, keys[i]) == 0)
			return keys[i];
	return NULL;
}

void portal_enrol_home_msg(struct portal_req *req, struct sg_buf *msg)
{
	const char *ok = flash_find(portal_server_query(req, "m"), flash_ok, 1);
	const char *bad = flash_find(portal_server_query(req, "e"), flash_error,
	                             sizeof(flash_error) / sizeof(flash_error[0]));
	if (ok != NULL || bad != NULL)
		portal_pages_msg(msg, ok != NULL ? "ok" : "error",
		                 portal_i18n_text(req->lang, ok != NULL ? ok : bad), NULL);
}

/* Whether me may enrol mailbox now: their own, or a shared one they manage, at most
 * ENROL_PER_DAY times a day. The attempt is taken (an "enrol-started" audit entry, counted
 * and written in one transaction) before the key is made, so parallel requests cannot pass
 * the count together. NULL, or the text key of why not. */
static const char *may_enrol(struct portal_req *req, const char *me, const char *mailbox,
                             enum store_user_kind *kind_r)
{
	const char *err;
	*kind_r = STORE_USER_INTERNAL;
	if (!sg_streq_nocase(mailbox, me)) {
		if (store_shared_is_manager(req->ctx->st, mailbox, me, &err) != 1)
			return "enr_unknown";
		*kind_r = STORE_USER_SHARED;
	}
	int rc = portal_pages_audit_capped(req, "enrol-started", mailbox, me, req->now - 86400,
	                                   ENROL_PER_DAY);
	return rc < 0 ? "err_internal" : rc == 0 ? "enr_limit" : NULL;
}

void portal_enrol_home_post(struct portal_req *req, struct portal_resp *resp)
{
	const char *me = req->sess.address;
	const char *mailbox = portal_form_get(&req->form, "mailbox");
	enum store_user_kind kind;
	const char *why = mailbox == NULL ? "enr_unknown" : may_enrol(req, me, mailbox, &kind);
	if (why == NULL && req->ctx->ca == NULL)
		why = "err_internal";
	struct enrol_ctx ec = portal_enrol_ctx(req);
	struct enrol_started r;
	const char *err;
	if (why == NULL && enrol_start(&ec, mailbox, kind, portal_i18n_code(req->lang), req->now,
	                               &r, &err) < 0) {
		sg_error("portal: enrolment of %s: %s", mailbox, err);
		why = "enr_failed";
	}
	char to[64];
	if (why != NULL && sg_snprintf(to, sizeof(to), "/employee?e=%s", why) >= 0) {
		portal_pages_audit(req, "enrol-refused", mailbox != NULL ? mailbox : "", why);
		portal_pages_redirect(resp, to);
		return;
	}
	portal_pages_audit(req, "enrolled", mailbox, r.serial);
	portal_pages_redirect(resp, "/employee?m=enr_sent");
}
