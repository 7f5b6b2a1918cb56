/* portal_employee.c: the employee's overview: their certificates (valid, replaced, expired,
 * revoked), the links mailed to them, "Getting started" (a new key, certificate and PIN by
 * mail: the first time, after a new workstation or address, or when the link expired), and
 * the shared mailboxes they manage with the same for each. */
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

static const char *cert_status(struct portal_req *req, const struct store_cert *c)
{
	time_t replaced = 0;
	const char *err;
	if (c->revoked_at != 0)
		return "enr_st_revoked";
	if (c->not_after <= req->now)
		return "enr_st_expired";
	if (store_enrol_replaced_at(req->ctx->st, c->id, &replaced, &err) == 0 && replaced != 0)
		return "enr_st_replaced";
	return "enr_st_valid";
}

static void certs_html(struct portal_req *req, const char *address, struct sg_buf *b)
{
	struct store_cert *certs = NULL;
	size_t n = 0;
	const char *err;
	if (store_cert_list(req->ctx->st, address, &certs, &n, &err) < 0 || n == 0) {
		portal_html_render(b, "<p>{{t.enr_none}}</p>", NULL, 0, req->lang);
		store_cert_list_free(&certs, n);
		return;
	}
	sg_buf_append_str(b, "<ul>");
	for (size_t i = 0; i < n; i++) {
		char from[16], until[16];
		portal_enrol_day(certs[i].not_before, from, sizeof(from));
		portal_enrol_day(certs[i].not_after, until, sizeof(until));
		struct portal_var v[] = {
			{"serial", certs[i].serial, false}, {"from", from, false}, {"until", until, false},
			{"status", portal_i18n_text(req->lang, cert_status(req, &certs[i])), false}};
		portal_html_render(b, "<li><code>{{serial}}</code> {{from}} - {{until}}: {{status}}</li>",
		                   v, 4, req->lang);
	}
	sg_buf_append_str(b, "</ul>");
	store_cert_list_free(&certs, n);
}

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

/* One mailbox's section: its certificates, links and the start button. */
static void mailbox_html(struct portal_req *req, const char *address, bool managed,
                         struct sg_buf *b)
{
	struct portal_var v[] = {{"address", address, false}, {"csrf", req->sess.csrf, false}};
	if (managed)
		portal_html_render(b, "<h3>{{address}}</h3>", v, 1, req->lang);
	certs_html(req, address, b);
	links_html(req, address, managed, b);
	portal_html_render(b, start_tmpl, v, 2, req->lang);
}

static void overview(struct portal_req *req, struct portal_resp *resp, const char *me,
                     const char *kind, const char *key)
{
	struct sg_buf b;
	sg_buf_init(&b, SG_HTTP_PAGE_MAX);
	struct portal_var v[] = {{"address", me, false}};
	portal_html_render(&b, "<p>{{t.enr_you}} <strong>{{address}}</strong></p>"
	                       "<h2>{{t.enr_start_title}}</h2><p>{{t.enr_start_help}}</p>",
	                   v, 1, req->lang);
	mailbox_html(req, me, false, &b);
	char(*boxes)[SG_ADDR_MAX] = NULL;
	size_t nb = 0;
	const char *err;
	if (store_shared_managed_by(req->ctx->st, me, &boxes, &nb, &err) == 0 && nb > 0) {
		portal_html_render(&b, "<h2>{{t.enr_shared}}</h2>", NULL, 0, req->lang);
		for (size_t i = 0; i < nb; i++)
			mailbox_html(req, boxes[i], true, &b);
	}
	sg_free(&boxes);
	portal_enrol_page(req, resp, "title_employee", kind, key, b.data);
	sg_buf_free(&b);
}

void portal_employee_get(struct portal_req *req, struct portal_resp *resp)
{
	static const char *const flash[] = {"enr_sent"};
	const char *me = portal_enrol_employee(req);
	if (me == NULL) {
		portal_pages_redirect(resp, "/login?next=/employee");
		return;
	}
	const char *m = portal_server_query(req, "m");
	const char *key = NULL;
	for (size_t i = 0; m != NULL && i < sizeof(flash) / sizeof(flash[0]); i++)
		if (strcmp(m, flash[i]) == 0)
			key = flash[i];
	overview(req, resp, me, "ok", key);
}

/* Whether me may enrol mailbox now: their own, or a shared one they manage, at most
 * ENROL_PER_DAY times a day. NULL, or the text key of why not. */
static const char *may_enrol(struct portal_req *req, const char *me, const char *mailbox,
                             enum store_user_kind *kind_r)
{
	const char *err;
	size_t n = 0;
	*kind_r = STORE_USER_INTERNAL;
	if (!sg_streq_nocase(mailbox, me)) {
		if (store_shared_is_manager(req->ctx->st, mailbox, me, &err) != 1)
			return "enr_unknown";
		*kind_r = STORE_USER_SHARED;
	}
	if (store_portal_audit_count(req->ctx->st, "enrolled", mailbox, req->now - 86400, &n,
	                             &err) < 0)
		return "err_internal";
	return n >= ENROL_PER_DAY ? "enr_limit" : NULL;
}

void portal_employee_enrol_post(struct portal_req *req, struct portal_resp *resp)
{
	const char *me = portal_enrol_employee(req);
	const char *mailbox = portal_form_get(&req->form, "mailbox");
	enum store_user_kind kind;
	if (me == NULL) {
		portal_pages_redirect(resp, "/login?next=/employee");
		return;
	}
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
	if (why != NULL) {
		overview(req, resp, me, "error", why);
		return;
	}
	portal_pages_audit(req, "enrolled", mailbox, r.serial);
	portal_pages_redirect(resp, "/employee?m=enr_sent");
}
