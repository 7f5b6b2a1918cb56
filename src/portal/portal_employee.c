/* portal_employee.c: employees on the portal. They log in with their directory user name (or
 * address) and directory password (checked by the directory's bind: dir_auth_login), under
 * the same throttle, session, CSRF and audit rules as partners, into a session of their own
 * stage (PORTAL_EMPLOYEE), so that partner pages refuse them and employee pages refuse
 * partners. Their home page lists their addresses and certificates. */
#include "portal/portal_priv.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "directory/directory.h"
#include "store/store.h"

#include <microhttpd.h>
#include <string.h>
#include <strings.h>

bool portal_employee_is_login(const struct portal_ctx *ctx, const char *name)
{
	/* Without a directory every login is a partner's, as before employees could log in. */
	const char *at = strrchr(name, '@');
	if (!ctx->dir_enabled)
		return false;
	return at == NULL || sg_strlist_contains_nocase(&ctx->internal_domains, at + 1);
}

/* The refusal for each outcome: the text key, the audit event and the HTTP status. */
static void refusal(enum dir_status st, const char **key_r, const char **event_r,
                    unsigned *status_r)
{
	*status_r = MHD_HTTP_OK;
	switch (st) {
	case DIR_DISABLED:
		*key_r = "err_dir_disabled", *event_r = "employee-disabled";
		break;
	case DIR_UNREACHABLE:
	case DIR_ERROR:
		*key_r = "err_dir_down", *event_r = "directory-down";
		*status_r = MHD_HTTP_SERVICE_UNAVAILABLE;
		break;
	default:
		*key_r = "err_login", *event_r = "login-failed";
	}
}

/* The employee's session: their primary address's user (created internal if new) and the
 * directory's record of them kept for their pages. */
static int employee_session(struct portal_req *req, const struct dir_employee *emp)
{
	const char *err;
	int64_t uid;
	if (store_user_ensure(req->ctx->st, emp->mail[0], STORE_USER_INTERNAL, &uid, &err) < 0 ||
	    dir_sync_remember(req->ctx->st, uid, emp, req->now, &err) < 0) {
		sg_error("portal: employee %s: %s", emp->mail[0], err);
		return -1;
	}
	return portal_pages_new_session(req, uid, emp->mail[0], PORTAL_EMPLOYEE);
}

void portal_employee_login(struct portal_req *req, struct portal_resp *resp,
                           const struct portal_attempt *at)
{
	const char *name = portal_form_get(&req->form, "email");
	const char *pw = portal_form_get(&req->form, "password");
	const char *err = "the directory settings are broken (see the log at start)";
	struct dir_employee *emp = sg_calloc(1, sizeof(*emp));
	enum dir_status st = req->ctx->dir != NULL ? dir_auth_login(req->ctx->dir, name, pw, emp, &err)
	                                           : DIR_ERROR;
	if (st == DIR_OK && emp->nmail == 0)
		st = DIR_DENIED, err = "no mail address in the directory";
	if (st != DIR_OK) {
		const char *key, *event;
		unsigned status;
		refusal(st, &key, &event, &status);
		if (st == DIR_DENIED && at->wait > 0)
			event = "lockout";
		portal_pages_audit(req, event, name, err);
		resp->status = status;
		portal_login_form(req, resp, st == DIR_DENIED && at->wait > 0 ? at : NULL, key);
		sg_free(&emp);
		return;
	}
	portal_throttle_succeeded(req, at);
	if (employee_session(req, emp) < 0) {
		portal_login_form(req, resp, NULL, "err_internal");
		sg_free(&emp);
		return;
	}
	portal_pages_audit(req, "employee-login", emp->mail[0], emp->dn);
	sg_free(&emp);
	const char *next = portal_pages_next(req);
	portal_pages_redirect(resp, next != NULL && strncmp(next, "/employee", 9) == 0 ? next
	                                                                               : "/employee");
}

static void cert_row(struct sg_buf *b, enum portal_lang lang, const struct store_cert *c,
                     time_t now)
{
	char from[16], until[16];
	struct tm tm;
	gmtime_r(&c->not_before, &tm);
	strftime(from, sizeof(from), "%Y-%m-%d", &tm);
	gmtime_r(&c->not_after, &tm);
	strftime(until, sizeof(until), "%Y-%m-%d", &tm);
	const char *state = c->revoked_at != 0 ? "cert_revoked"
	                    : c->not_after < now ? "cert_expired" : "cert_valid";
	struct portal_var v[] = {{"addr", c->address, false}, {"serial", c->serial, false},
	                         {"from", from, false}, {"until", until, false},
	                         {"state", portal_i18n_text(lang, state), false}};
	portal_html_render(b, "<tr><td>{{addr}}</td><td><code>{{serial}}</code></td><td>{{from}}"
	                      "</td><td>{{until}}</td><td>{{state}}</td></tr>", v, 5, lang);
}

/* The certificates of every address of the employee, as a table (or a line saying none). */
static void certs_html(struct portal_req *req, const struct store_employee *e, struct sg_buf *b)
{
	const char *err;
	size_t shown = 0;
	portal_html_render(b, "<table><thead><tr><th>{{t.email}}</th><th>{{t.cert_serial}}</th>"
	                      "<th>{{t.cert_from}}</th><th>{{t.cert_until}}</th><th>{{t.cert_state}}"
	                      "</th></tr></thead><tbody>", NULL, 0, req->lang);
	for (const char *p = e->addresses; *p != '\0';) {
		char addr[SG_ADDR_MAX];
		size_t len = strcspn(p, "\n");
		sg_strlcpy(addr, p, len < sizeof(addr) ? len + 1 : sizeof(addr));
		p += len + (p[len] == '\n');
		struct store_cert *certs = NULL;
		size_t n = 0;
		if (store_cert_list(req->ctx->st, addr, &certs, &n, &err) < 0)
			continue;
		for (size_t i = 0; i < n; i++)
			cert_row(b, req->lang, &certs[i], req->now);
		shown += n;
		store_cert_list_free(&certs, n);
	}
	sg_buf_append_str(b, "</tbody></table>");
	if (shown == 0)
		portal_html_render(b, "<p>{{t.certs_none}}</p>", NULL, 0, req->lang);
}

void portal_employee_home(struct portal_req *req, struct portal_resp *resp)
{
	const char *err;
	struct store_employee *e = sg_calloc(1, sizeof(*e));
	if (store_employee_get(req->ctx->st, req->sess.user_id, e, &err) != 1)
		sg_snprintf(e->addresses, sizeof(e->addresses), "%s\n", req->sess.address);
	struct sg_buf content, certs;
	sg_buf_init(&content, SG_HTTP_PAGE_MAX);
	sg_buf_init(&certs, SG_HTTP_PAGE_MAX);
	certs_html(req, e, &certs);
	struct portal_var v[] = {
		{"name", e->display_name[0] ? e->display_name : req->sess.address, false},
		{"login", e->login, false},
		{"certs", certs.data != NULL ? certs.data : "", true},
	};
	portal_html_render(&content, "<p>{{t.employee_hello}} {{name}}</p>"
	                             "<h2>{{t.certs_title}}</h2>{{&certs}}", v, 3, req->lang);
	portal_pages_frame(req, resp, "title_employee", NULL, content.data != NULL ? content.data : "");
	sg_buf_free(&content);
	sg_buf_free(&certs);
	sg_free(&e);
}
