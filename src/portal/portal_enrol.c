/* portal_enrol.c: the pages of an enrolment's link (issue 13). /employee/pin/TOKEN (the link
 * of the enrolment mail): the PIN of the .pfx and its download, or for a renewal the ZIP of
 * old and new; shown only to the employee logged in with the directory password (or a manager
 * of the shared mailbox), and only until the link expires. /employee/link/ID: the same for a
 * manager, from /employee. An expired or replaced link offers a new start instead. */
#include "portal/portal_priv.h"
#include "core/settings.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "enrol/enrol.h"
#include "store/store.h"

#include <microhttpd.h>
#include <string.h>

static const char pin_tmpl[] =
    "<p>{{t.enr_for}} <strong>{{address}}</strong></p>"
    "<p>{{t.enr_pin}}: <code id=\"pin\">{{pin}}</code></p>"
    "<p>{{t.enr_pin_until}} {{until}}.</p><p>{{help}}</p>"
    "<p><a href=\"{{download}}\">{{dl_text}}</a></p>"
    "<p><a href=\"/employee\">{{t.enr_overview}}</a></p>";

static const char gone_tmpl[] =
    "<p>{{t.enr_for}} <strong>{{address}}</strong></p>"
    "<form method=\"post\" action=\"/employee/enrol\">"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">"
    "<input type=\"hidden\" name=\"mailbox\" value=\"{{address}}\">"
    "<p>{{t.enr_restart_help}}</p><button type=\"submit\">{{t.btn_restart}}</button></form>";

bool portal_enrol_route(const char *path)
{
	return strncmp(path, "/employee/pin/", 14) == 0 || strncmp(path, "/employee/link/", 15) == 0;
}

const char *portal_enrol_employee(struct portal_req *req)
{
	bool in = req->has_sess && req->sess.stage == PORTAL_EMPLOYEE && req->sess.address[0] != '\0';
	return in ? req->sess.address : NULL;
}

struct enrol_ctx portal_enrol_ctx(struct portal_req *req)
{
	return (struct enrol_ctx){.settings = req->ctx->set, .store = req->ctx->st,
	                          .keystore = req->ctx->ks, .ca = req->ctx->ca,
	                          .spool = req->ctx->spool};
}

void portal_enrol_day(time_t t, char *dst, size_t size)
{
	struct tm tm;
	if (t <= 0 || gmtime_r(&t, &tm) == NULL || strftime(dst, size, "%Y-%m-%d", &tm) == 0)
		sg_strlcpy(dst, "-", size);
}

void portal_enrol_page(struct portal_req *req, struct portal_resp *resp, const char *title,
                       const char *kind, const char *key, const char *content)
{
	struct sg_buf msg;
	sg_buf_init(&msg, 8192);
	if (key != NULL)
		portal_pages_msg(&msg, kind, portal_i18n_text(req->lang, key), NULL);
	portal_pages_frame(req, resp, title, msg.data, content != NULL ? content : "");
	sg_buf_free(&msg);
}

/* Not logged in as an employee: to the login, coming back here afterwards. */
static void to_login(struct portal_req *req, struct portal_resp *resp)
{
	char login[192];
	if (sg_snprintf(login, sizeof(login), "/login?next=%s", req->path) < 0)
		sg_strlcpy(login, "/login", sizeof(login));
	portal_pages_redirect(resp, login);
}

/* ---- the link page ---- */

struct link_view {
	struct store_enrolment e;
	char base[96]; /* the page's own path, for its download link */
};

static void link_gone(struct portal_req *req, struct portal_resp *resp,
                      const struct store_enrolment *e)
{
	struct sg_buf b;
	sg_buf_init(&b, SG_HTTP_PAGE_MAX);
	struct portal_var v[] = {{"address", e->address, false}, {"csrf", req->sess.csrf, false}};
	portal_html_render(&b, gone_tmpl, v, 2, req->lang);
	portal_enrol_page(req, resp, "title_enrol_link", "error",
	     e->state == STORE_ENROL_REPLACED ? "enr_replaced" : "enr_expired", b.data);
	sg_buf_free(&b);
}

static void link_show(struct portal_req *req, struct portal_resp *resp,
                      const struct link_view *lv, const char *pin)
{
	bool renewal = lv->e.kind == STORE_ENROL_RENEWAL;
	char until[16], download[128];
	portal_enrol_day(lv->e.expires, until, sizeof(until));
	sg_snprintf(download, sizeof(download), "%s/download", lv->base);
	struct portal_var v[] = {
		{"address", lv->e.address, false}, {"pin", pin, false}, {"until", until, false},
		{"download", download, false},
		{"help", portal_i18n_text(req->lang, renewal ? "enr_renew_help" : "enr_pin_help"), false},
		{"dl_text", portal_i18n_text(req->lang, renewal ? "btn_dl_zip" : "btn_dl_pfx"), false},
	};
	struct sg_buf b;
	sg_buf_init(&b, SG_HTTP_PAGE_MAX);
	portal_html_render(&b, pin_tmpl, v, sizeof(v) / sizeof(v[0]), req->lang);
	portal_enrol_page(req, resp, "title_enrol_link", NULL, NULL, b.data);
	sg_buf_free(&b);
}

/* The .pfx (or the renewal ZIP) of the link as a download. */
static void link_download(struct portal_req *req, struct portal_resp *resp,
                          const struct store_enrolment *e, const char *pin)
{
	struct enrol_ctx ec = portal_enrol_ctx(req);
	struct store_cert cert;
	const char *err = "the certificate is no longer stored";
	unsigned char *pfx = NULL;
	size_t len = 0;
	int rc = -1;
	sg_buf_reset(&resp->body);
	if (e->kind == STORE_ENROL_RENEWAL) {
		rc = enrol_pfx_renewal_zip(&ec, e, pin, &resp->body, &err);
		sg_snprintf(resp->attachment, sizeof(resp->attachment), "%s_renewal.zip", e->address);
		resp->content_type = "application/zip";
	} else if (enrol_cert_get(&ec, e->address, e->cert_id, &cert, &err) == 1) {
		rc = enrol_pfx_make(&ec, &cert, pin, &pfx, &len, &err);
		if (rc == 0)
			rc = sg_buf_append(&resp->body, pfx, len);
		enrol_pfx_name(&cert, resp->attachment, sizeof(resp->attachment));
		resp->content_type = "application/x-pkcs12";
		store_cert_clear(&cert);
	}
	sg_free(&pfx);
	if (rc == 0) {
		portal_pages_audit(req, "enrol-download", e->address, resp->attachment);
		return;
	}
	sg_error("portal: download for %s: %s", e->address, err);
	resp->attachment[0] = '\0';
	resp->content_type = "text/html; charset=utf-8";
	resp->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	portal_enrol_page(req, resp, "title_error", "error", "err_internal", NULL);
}

/* The link page (or its download, when download): the PIN of an open link to the employee
 * it belongs to (or a manager); an expired or replaced one says so and offers a new start. */
static void link_serve(struct portal_req *req, struct portal_resp *resp, struct link_view *lv,
                       bool download)
{
	struct enrol_ctx ec = portal_enrol_ctx(req);
	char pin[ENROL_PIN_SIZE];
	const char *err;
	int rc = enrol_link_pin(&ec, &lv->e, req->now, pin, sizeof(pin), &err);
	if (rc < 0) {
		sg_error("portal: enrolment link of %s: %s", lv->e.address, err);
		portal_enrol_page(req, resp, "title_error", "error", "err_internal", NULL);
		resp->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	} else if (rc == 0) {
		if (lv->e.state == STORE_ENROL_OPEN)
			lv->e.state = STORE_ENROL_EXPIRED; /* past its time, before the tick wiped it */
		link_gone(req, resp, &lv->e);
	} else if (download) {
		link_download(req, resp, &lv->e, pin);
	} else {
		portal_pages_audit(req, "enrol-pin-shown", lv->e.address, "");
		link_show(req, resp, lv, pin);
	}
	sg_wipe(pin, sizeof(pin));
}

static void not_found(struct portal_req *req, struct portal_resp *resp)
{
	resp->status = MHD_HTTP_NOT_FOUND;
	portal_enrol_page(req, resp, "title_error", "error", "enr_unknown", NULL);
}

/* "TOKEN" or "TOKEN/download" after prefix: the part before into dst. */
static bool split_arg(const char *path, const char *prefix, char *dst, size_t size,
                      bool *download_r)
{
	const char *arg = path + strlen(prefix);
	const char *slash = strchr(arg, '/');
	size_t n = slash != NULL ? (size_t)(slash - arg) : strlen(arg);
	*download_r = slash != NULL && strcmp(slash, "/download") == 0;
	if (n == 0 || n >= size || (slash != NULL && !*download_r))
		return false;
	memcpy(dst, arg, n);
	dst[n] = '\0';
	return true;
}

void portal_enrol_link_get(struct portal_req *req, struct portal_resp *resp)
{
	const char *me = portal_enrol_employee(req);
	char token[ENROL_TOKEN_HEX + 1];
	struct link_view lv;
	bool download;
	const char *err;
	struct enrol_ctx ec = portal_enrol_ctx(req);
	if (!split_arg(req->path, "/employee/pin/", token, sizeof(token), &download)) {
		not_found(req, resp);
		return;
	}
	if (me == NULL) {
		to_login(req, resp);
		return;
	}
	int rc = enrol_link_find(&ec, token, &lv.e, &err);
	if (rc != 1 || !enrol_link_allowed(&ec, &lv.e, me)) {
		if (rc == 1)
			portal_pages_audit(req, "enrol-link-refused", me, lv.e.address);
		not_found(req, resp);
		return;
	}
	sg_snprintf(lv.base, sizeof(lv.base), "/employee/pin/%s", token);
	link_serve(req, resp, &lv, download);
}

/* The link id of a shared mailbox that manager manages: 1 found (into *e_r), 0 not. */
static int find_managed(struct portal_req *req, const char *manager, int64_t id,
                        struct store_enrolment *e_r)
{
	struct store_enrolment *list = NULL;
	char(*boxes)[SG_ADDR_MAX] = NULL;
	size_t n = 0, nb = 0;
	const char *err;
	int found = 0;
	if (store_shared_managed_by(req->ctx->st, manager, &boxes, &nb, &err) < 0)
		return 0;
	for (size_t b = 0; b < nb && !found; b++) {
		if (store_enrol_list(req->ctx->st, boxes[b], &list, &n, &err) < 0)
			continue;
		for (size_t i = 0; i < n && !found; i++)
			if (list[i].id == id) {
				*e_r = list[i];
				found = 1;
			}
		sg_free(&list);
	}
	sg_free(&boxes);
	return found;
}

/* A manager's way to a shared mailbox's link: /employee/link/ID, from the overview. */
void portal_enrol_managed_get(struct portal_req *req, struct portal_resp *resp)
{
	const char *me = portal_enrol_employee(req);
	char id[24];
	bool download;
	struct link_view lv;
	const char *err = NULL;
	struct enrol_ctx ec = portal_enrol_ctx(req);
	if (me == NULL) {
		to_login(req, resp);
		return;
	}
	long long n = 0;
	if (split_arg(req->path, "/employee/link/", id, sizeof(id), &download))
		n = sg_strtonum(id, 1, INT64_MAX, &err);
	if (n == 0 || err != NULL || find_managed(req, me, n, &lv.e) != 1 ||
	    !enrol_link_allowed(&ec, &lv.e, me)) {
		not_found(req, resp);
		return;
	}
	sg_snprintf(lv.base, sizeof(lv.base), "/employee/link/%lld", n);
	link_serve(req, resp, &lv, download);
}
