/* portal_account.c: the logged-in partner's overview: the channel for secure mail, and the
 * S/MIME certificate or OpenPGP key on file (uploaded here after the same checks the CLI's
 * imports make: the address must match and the key must be usable for encryption). */
#include "portal/portal_priv.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/pgp.h"
#include "crypto/smime.h"
#include "store/store.h"

#include <microhttpd.h>
#include <string.h>

static const char account_tmpl[] =
    "<dl><dt>{{t.acct_address}}</dt><dd>{{address}}</dd>"
    "<dt>{{t.acct_channel}}</dt><dd>{{channel}}</dd></dl>"
    "<form method=\"post\" action=\"/account/channel\">"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">"
    "<fieldset><legend>{{t.ch_title}}</legend>"
    "<label><input type=\"radio\" name=\"channel\" value=\"webmail\"{{&c_webmail}}> {{t.ch_webmail}}</label>"
    "<label><input type=\"radio\" name=\"channel\" value=\"pdf\"{{&c_pdf}}> {{t.ch_pdf}}</label>"
    "<label><input type=\"radio\" name=\"channel\" value=\"smime\"{{&c_smime}}> {{t.ch_smime}}</label>"
    "<label><input type=\"radio\" name=\"channel\" value=\"pgp\"{{&c_pgp}}> {{t.ch_pgp}}</label>"
    "</fieldset><button type=\"submit\">{{t.btn_save}}</button></form>"
    "<h2>{{t.onfile_title}}</h2>{{&onfile}}"
    "<h2>{{t.up_title}}</h2><form method=\"post\" action=\"/account/upload\" "
    "enctype=\"multipart/form-data\"><input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">"
    "<p>{{t.up_help}}</p><label for=\"file\">{{t.up_file}}</label>"
    "<input type=\"file\" id=\"file\" name=\"file\" required>"
    "<button type=\"submit\">{{t.btn_upload}}</button></form>"
    "<h2>{{t.sessions_title}}</h2><form method=\"post\" action=\"/logout/all\">"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\"><p>{{t.sessions_help}}</p>"
    "<button type=\"submit\">{{t.btn_logout_all}}</button></form>";

static void date_text(time_t t, char *dst, size_t size)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	if (t == 0 || strftime(dst, size, "%Y-%m-%d", &tm) == 0)
		sg_strlcpy(dst, "-", size);
}

static void onfile_item(struct sg_buf *b, enum portal_lang lang, const char *what,
                        const char *id, time_t until)
{
	char date[16];
	date_text(until, date, sizeof(date));
	struct portal_var v[] = {{"what", what, false}, {"id", id, false},
	                         {"until", until != 0 ? date : portal_i18n_text(lang, "never"), false}};
	portal_html_render(b, "<li>{{what}} <code>{{id}}</code> - {{t.valid_until}} {{until}}</li>",
	                   v, 3, lang);
}

/* The list of certificates and keys of address, as HTML. */
static void onfile_html(struct portal_req *req, struct sg_buf *b)
{
	const char *err;
	struct store_cert *certs = NULL;
	struct store_pgp_key *keys = NULL;
	size_t nc = 0, nk = 0;
	store_cert_list(req->ctx->st, req->sess.address, &certs, &nc, &err);
	store_pgp_list(req->ctx->st, req->sess.address, &keys, &nk, &err);
	sg_buf_append_str(b, "<ul>");
	for (size_t i = 0; i < nc; i++)
		if (certs[i].revoked_at == 0)
			onfile_item(b, req->lang, "S/MIME", certs[i].serial, certs[i].not_after);
	for (size_t i = 0; i < nk; i++)
		onfile_item(b, req->lang, "OpenPGP", keys[i].fingerprint, keys[i].expires);
	sg_buf_append_str(b, "</ul>");
	if (nc + nk == 0)
		portal_html_render(b, "<p>{{t.onfile_none}}</p>", NULL, 0, req->lang);
	store_cert_list_free(&certs, nc);
	store_pgp_list_free(&keys, nk);
}

static void account_page(struct portal_req *req, struct portal_resp *resp, const char *msg_html)
{
	struct store_user u = {0};
	const char *err;
	if (store_user_find(req->ctx->st, req->sess.address, &u, &err) != 1)
		u.channel[0] = '\0';
	const char *ch = u.channel[0] != '\0' ? u.channel : "pdf";
	const char *checked = " checked";
	struct sg_buf onfile, content;
	sg_buf_init(&onfile, SG_HTTP_PAGE_MAX / 2);
	sg_buf_init(&content, SG_HTTP_PAGE_MAX);
	onfile_html(req, &onfile);
	struct portal_var v[] = {
		{"address", req->sess.address, false}, {"channel", ch, false},
		{"csrf", req->sess.csrf, false},
		{"c_webmail", strcmp(ch, "webmail") == 0 ? checked : "", true},
		{"c_pdf", strcmp(ch, "pdf") == 0 ? checked : "", true},
		{"c_smime", strcmp(ch, "smime") == 0 ? checked : "", true},
		{"c_pgp", strcmp(ch, "pgp") == 0 ? checked : "", true},
		{"onfile", onfile.data != NULL ? onfile.data : "", true},
	};
	portal_html_render(&content, account_tmpl, v, sizeof(v) / sizeof(v[0]), req->lang);
	portal_pages_frame(req, resp, "title_account", msg_html,
	                   content.data != NULL ? content.data : "");
	sg_buf_free(&onfile);
	sg_buf_free(&content);
}

static void account_msg(struct portal_req *req, struct portal_resp *resp, const char *kind,
                        const char *key, const char *detail)
{
	struct sg_buf msg;
	sg_buf_init(&msg, 8192);
	portal_pages_msg(&msg, kind, portal_i18n_text(req->lang, key), detail);
	account_page(req, resp, msg.data);
	sg_buf_free(&msg);
}

void portal_account_get(struct portal_req *req, struct portal_resp *resp)
{
	static const char *const flash[] = {"registered", "ch_saved", "up_ok"};
	const char *m = portal_server_query(req, "m");
	for (size_t i = 0; m != NULL && i < sizeof(flash) / sizeof(flash[0]); i++)
		if (strcmp(m, flash[i]) == 0) {
			account_msg(req, resp, "ok", flash[i], NULL);
			return;
		}
	account_page(req, resp, NULL);
}

static bool has_key_for(struct portal_req *req, const char *channel)
{
	const char *err;
	size_t n = 0;
	if (strcmp(channel, "smime") == 0) {
		struct store_cert *certs = NULL;
		store_cert_list(req->ctx->st, req->sess.address, &certs, &n, &err);
		size_t usable = 0;
		for (size_t i = 0; i < n; i++)
			usable += certs[i].revoked_at == 0 && certs[i].not_after > req->now;
		store_cert_list_free(&certs, n);
		return usable > 0;
	}
	struct store_pgp_key key;
	int rc = store_pgp_find_active(req->ctx->st, req->sess.address, &key, &err);
	if (rc == 1)
		store_pgp_key_clear(&key);
	return rc == 1;
}

void portal_account_channel(struct portal_req *req, struct portal_resp *resp)
{
	const char *ch = portal_form_get(&req->form, "channel");
	const char *err;
	bool keyless = strcmp(ch, "pdf") == 0 || strcmp(ch, "webmail") == 0;
	if (!keyless && strcmp(ch, "smime") != 0 && strcmp(ch, "pgp") != 0) {
		account_msg(req, resp, "error", "err_form", NULL);
		return;
	}
	if (!keyless && !has_key_for(req, ch)) {
		account_msg(req, resp, "error", "ch_needs_key", NULL);
		return;
	}
	if (store_user_set_channel(req->ctx->st, req->sess.address, ch, &err) != 1) {
		account_msg(req, resp, "error", "err_internal", NULL);
		return;
	}
	portal_pages_audit(req, "channel", req->sess.address, ch);
	portal_pages_redirect(resp, "/account?m=ch_saved");
}

/* The certificate of a file (one, or a .p7b with its chain) that names address and can be
 * encrypted to: its index, or -1 with why the best candidate was refused. */
static int pick_cert(const struct smime_bundle *b, const char *address, time_t now,
                     const char **error_r)
{
	*error_r = "the certificate is not for your e-mail address";
	for (size_t i = 0; i < b->n; i++) {
		const char *why;
		if (!smime_cert_has_address(b->der[i], b->len[i], address))
			continue;
		if (smime_cert_usable(b->der[i], b->len[i], SMIME_USAGE_ENCRYPT, now, 0, &why) == 0)
			return (int)i;
		*error_r = why;
	}
	return -1;
}

/* An S/MIME certificate for the user's address, usable for encryption, stored as imported. */
static int upload_cert(struct portal_req *req, const unsigned char *data, size_t len,
                       char *what, size_t wsize, const char **error_r)
{
	struct smime_bundle b;
	if (smime_bundle_read(data, len, &b, error_r) < 0)
		return -1;
	int rc = -1, i = pick_cert(&b, req->sess.address, req->now, error_r);
	struct smime_certinfo info;
	struct store_user u;
	if (i < 0 || smime_cert_parse(b.der[i], b.len[i], &info, error_r) < 0 ||
	    store_user_find(req->ctx->st, req->sess.address, &u, error_r) != 1)
		goto out;
	struct store_cert c = {.der = b.der[i], .der_len = b.len[i], .source = STORE_CERT_IMPORTED,
	                       .user_id = u.id, .not_before = info.not_before,
	                       .not_after = info.not_after};
	sg_strlcpy(c.fingerprint, info.fingerprint, sizeof(c.fingerprint));
	sg_strlcpy(c.serial, info.serial, sizeof(c.serial));
	sg_strlcpy(c.issuer, info.issuer, sizeof(c.issuer));
	int64_t id;
	rc = store_cert_add(req->ctx->st, &c, NULL, 0, &id, error_r);
	sg_snprintf(what, wsize, "smime %s", info.serial);
out:
	smime_bundle_free(&b);
	return rc;
}

static bool report_has_address(const struct pgp_key_report *r, const char *address)
{
	for (size_t i = 0; i < r->naddresses; i++)
		if (sg_streq_nocase(r->addresses[i], address))
			return true;
	return false;
}

/* An OpenPGP public key (exactly one accepted key naming the user's address). */
static int upload_pgp(struct portal_req *req, const unsigned char *data, size_t len, char *what,
                      size_t wsize, const char **error_r)
{
	struct pgp_key_report *reps = NULL;
	size_t n = 0;
	if (pgp_key_inspect(data, len, req->now, &reps, &n, error_r) < 0)
		return -1;
	int rc = -1;
	struct store_user u;
	*error_r = "the file holds no usable OpenPGP key for your e-mail address";
	for (size_t i = 0; i < n && rc < 0; i++) {
		if (!reps[i].accepted) {
			*error_r = reps[i].reason != NULL ? reps[i].reason : *error_r;
			continue;
		}
		if (!report_has_address(&reps[i], req->sess.address) ||
		    store_user_find(req->ctx->st, req->sess.address, &u, error_r) != 1)
			continue;
		struct store_pgp_key k = {.user_id = u.id, .keydata = reps[i].pubkey,
		                          .keydata_len = reps[i].pubkey_len,
		                          .source = STORE_PGP_PORTAL, .status = STORE_PGP_ACTIVE,
		                          .expires = reps[i].expires};
		sg_strlcpy(k.fingerprint, reps[i].fingerprint, sizeof(k.fingerprint));
		int64_t id;
		rc = store_pgp_add(req->ctx->st, &k, NULL, 0, &id, error_r);
		sg_snprintf(what, wsize, "pgp %s", reps[i].fingerprint);
	}
	pgp_key_reports_free(&reps, n);
	return rc;
}

/* Certificates and .p7b bundles start with a DER SEQUENCE or a PEM "-----BEGIN CERTIFICATE"
 * or "-----BEGIN PKCS7"; anything else is tried as OpenPGP. */
static bool looks_like_cert(const unsigned char *d, size_t len)
{
	static const char *const pems[] = {"-----BEGIN CERTIFICATE", "-----BEGIN PKCS7"};
	if (len > 0 && d[0] == 0x30)
		return true;
	size_t head = len < 4096 ? len : 4096;
	for (size_t i = 0; i < sizeof(pems) / sizeof(pems[0]); i++)
		if (memmem(d, head, pems[i], strlen(pems[i])) != NULL)
			return true;
	return false;
}

void portal_account_upload(struct portal_req *req, struct portal_resp *resp)
{
	const struct portal_field *f = portal_form_field(&req->form, "file");
	const char *err = "no file was sent";
	char what[128] = "";
	int rc = -1;
	if (f != NULL && f->value_len > 0) {
		const unsigned char *d = (const unsigned char *)f->value;
		rc = looks_like_cert(d, f->value_len)
		         ? upload_cert(req, d, f->value_len, what, sizeof(what), &err)
		         : upload_pgp(req, d, f->value_len, what, sizeof(what), &err);
	}
	if (rc < 0) {
		portal_pages_audit(req, "upload-refused", req->sess.address, err);
		account_msg(req, resp, "error", "up_err", err);
		return;
	}
	portal_pages_audit(req, "upload", req->sess.address, what);
	portal_pages_redirect(resp, "/account?m=up_ok");
}
