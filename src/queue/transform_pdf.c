/* transform_pdf.c: the SecurePDF channel. Each recipient gets a PDF of its own, encrypted with
 * the record derived from its password (the password itself is never stored), rendered in an
 * isolated worker because the body is the sender's or an attacker's, and wrapped in a mail
 * that says how to open it. A Reply link carries a token bound to message and recipient. */
#include "queue/transform.h"

#include "core/settings.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "crypto/keystore.h"
#include "mime/mime.h"
#include "pdf/pdf.h"
#include "policy/policy.h"
#include "store/store.h"

#include <openssl/sha.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define PDF_WORKER_MEM  (1024UL * 1024 * 1024)
#define PDF_WORKER_CPU  60
#define PDF_WORKER_WALL 120

/* A fresh unguessable token; only its SHA-256 is stored, with what it may answer. */
static int reply_url(const struct transform_env *te, const struct transform_input *in,
                     char *url, size_t size, const char **err)
{
	unsigned char raw[32], digest[SHA256_DIGEST_LENGTH];
	char token[64], hex[2 * SHA256_DIGEST_LENGTH + 1];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(token, sizeof(token), raw, sizeof(raw),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	SHA256((const unsigned char *)token, strlen(token), digest);
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	const char *mid = in->mime != NULL && in->mime->message_id != NULL ? in->mime->message_id : "";
	if (store_reply_token_add(te->store, hex, mid, in->sender, in->rcpts[0], err) < 0)
		return -1;
	const char *base = settings_get(te->settings, "portal.base_url");
	size_t bl = strlen(base);
	if (sg_snprintf(url, size, "%.*s/reply/%s", (int)(bl > 0 && base[bl - 1] == '/' ? bl - 1 : bl),
	                base, token) < 0) {
		*err = "portal.base_url too long";
		return -1;
	}
	return 0;
}

static void append_base64(struct sg_buf *out, const unsigned char *data, size_t len)
{
	char line[80];
	for (size_t off = 0; off < len; off += 57) {
		size_t n = len - off < 57 ? len - off : 57;
		sodium_bin2base64(line, sizeof(line), data + off, n, sodium_base64_VARIANT_ORIGINAL);
		sg_buf_append_str(out, line);
		sg_buf_append_str(out, "\r\n");
	}
}

/* The wrapper entity: an explanation (text and HTML) and secure-message.pdf. */
static int wrap(const struct transform_env *te, const unsigned char *pdf, size_t pdf_len,
                struct sg_buf *entity)
{
	const char *org = settings_get(te->settings, "gateway.organization");
	char b[40];
	unsigned char rnd[12];
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(b + 4, sizeof(b) - 4, rnd, sizeof(rnd));
	memcpy(b, "=_sg", 4);
	sg_buf_printf(entity,
	              "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
	              "--%s\r\nContent-Type: multipart/alternative; boundary=\"%s-a\"\r\n\r\n"
	              "--%s-a\r\nContent-Type: text/plain; charset=utf-8\r\n"
	              "Content-Transfer-Encoding: 8bit\r\n\r\n"
	              "You have received a secure message from %s.\r\n\r\n"
	              "Open the attached secure-message.pdf with any PDF reader and enter your\r\n"
	              "password: the password you chose for the secure mail portal of %s.\r\n"
	              "The PDF holds the message and its attachments. To answer securely, use the\r\n"
	              "Reply link inside the PDF.\r\n\r\n"
	              "--%s-a\r\nContent-Type: text/html; charset=utf-8\r\n"
	              "Content-Transfer-Encoding: 8bit\r\n\r\n"
	              "<html><body><p>You have received a <b>secure message</b> from %s.</p>"
	              "<p>Open the attached <i>secure-message.pdf</i> with any PDF reader and enter "
	              "your password: the password you chose for the secure mail portal of %s.</p>"
	              "<p>The PDF holds the message and its attachments. To answer securely, use the "
	              "Reply link inside the PDF.</p></body></html>\r\n\r\n--%s-a--\r\n\r\n"
	              "--%s\r\nContent-Type: application/pdf; name=\"secure-message.pdf\"\r\n"
	              "Content-Disposition: attachment; filename=\"secure-message.pdf\"\r\n"
	              "Content-Transfer-Encoding: base64\r\n\r\n",
	              b, b, b, b, org, org, b, org, org, b, b);
	append_base64(entity, pdf, pdf_len);
	return sg_buf_printf(entity, "\r\n--%s--\r\n", b);
}

static enum transform_result build(const struct transform_env *te,
                                   const struct transform_input *in, const char *plain,
                                   size_t plain_len, struct transform_output *out)
{
	struct pdf_key *key = NULL;
	const char *err = "no store";
	int rc = te->store != NULL ? pdf_account_key(te->store, te->keystore, in->rcpts[0], &key, &err)
	                           : -1;
	if (rc <= 0)
		return transform_fail(out, rc == 0 ? TRANSFORM_PERM : TRANSFORM_TEMP,
		                      rc == 0 ? "5.7.1" : "4.3.0", "SecurePDF for %s: %s", in->rcpts[0],
		                      err);
	char url[SG_PDF_URL_MAX];
	unsigned char *pdf = NULL;
	size_t pdf_len = 0;
	struct pdf_options opts = {.reply_url = url};
	struct pdf_limits limits = {PDF_WORKER_MEM, PDF_WORKER_CPU, PDF_WORKER_WALL};
	enum transform_result res = TRANSFORM_OK;
	if (reply_url(te, in, url, sizeof(url), &err) < 0)
		res = transform_fail(out, TRANSFORM_TEMP, "4.3.0", "SecurePDF: %s", err);
	else if ((rc = pdf_isolate_build(plain, plain_len, key, &opts, &limits, &pdf, &pdf_len,
	                                 &err)) < 0)
		res = transform_fail(out, rc == PDF_ERR_REJECT ? TRANSFORM_PERM : TRANSFORM_TEMP,
		                     rc == PDF_ERR_REJECT ? "5.6.0" : "4.3.0",
		                     "the message could not be made into a SecurePDF: %s", err);
	pdf_key_free(&key);
	if (res == TRANSFORM_OK) {
		struct sg_buf entity;
		sg_buf_init(&entity, SG_MESSAGE_SIZE_HARD_MAX);
		bool hide = settings_bool(te->settings, "policy.hide_subject");
		static const char *const drop_subject[] = {"Subject"};
		char subject[300];
		snprintf(subject, sizeof(subject), "Subject: Secure message from %.200s\r\n",
		         settings_get(te->settings, "gateway.organization"));
		struct sg_buf head;
		sg_buf_init(&head, SG_HEADER_BLOCK_MAX);
		struct mime_edit e = {.drop = drop_subject, .ndrop = hide ? 1 : 0,
		                      .keep = MIME_KEEP_OUTER, .subject_tag = te->subject_tag,
		                      .prepend = hide ? subject : NULL};
		if (wrap(te, pdf, pdf_len, &entity) < 0 ||
		    mime_edit_apply(plain, plain_len, &e, &head, &err) < 0 ||
		    transform_join_outer(head.data, head.len, NULL, NULL, entity.data, entity.len,
		                         &out->buf, &err) < 0)
			res = transform_fail(out, TRANSFORM_PERM, "5.3.4", "SecurePDF mail too large");
		sg_buf_free(&head);
		sg_buf_free(&entity);
	}
	sg_free(&pdf);
	return res;
}

enum transform_result transform_pdf(const struct transform_env *te,
                                    const struct transform_input *in,
                                    struct transform_output *out)
{
	if (in->nrcpt != 1) /* policy makes every SecurePDF plan individual */
		return transform_fail(out, TRANSFORM_TEMP, "4.3.0", "SecurePDF needs one recipient");
	struct sg_buf plain_buf;
	sg_buf_init(&plain_buf, SG_MESSAGE_SIZE_HARD_MAX);
	const char *plain, *err;
	size_t plain_len;
	int prc = transform_plaintext(te, in, &plain_buf, &plain, &plain_len, &err);
	enum transform_result res;
	if (prc == 1)
		res = transform_pass(te, in, out);
	else if (prc < 0)
		res = transform_fail(out, TRANSFORM_PERM, "5.7.1",
		                     "the message was encrypted and cannot be read here: %s", err);
	else
		res = build(te, in, plain, plain_len, out);
	if (res == TRANSFORM_OK && out->buf.len > 0) {
		res = transform_check_size(te, out);
		if (res == TRANSFORM_OK) {
			out->data = out->buf.data;
			out->len = out->buf.len;
			sg_info("%s: SecurePDF for <%s> (%zu bytes)", in->queue_id, in->rcpts[0],
			        out->buf.len);
		}
	}
	sg_buf_free_secret(&plain_buf);
	return res;
}
