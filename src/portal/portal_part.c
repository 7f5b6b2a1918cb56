/* portal_part.c: an attachment of a webmail message, its original bytes. Always
 * Content-Disposition: attachment (RFC 6266), with an ASCII filename= for old browsers and
 * the real name in filename*= (RFC 5987, UTF-8, percent-encoded), so that no name can add a
 * parameter, a header or a path; typed only with a type a browser cannot run (else
 * application/octet-stream), never sniffed (nosniff, on every response), and the page's CSP
 * (default-src 'none') applies to it as well. */
#include "portal/portal_priv.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "webmail/webmail.h"

#include <microhttpd.h>
#include <string.h>

/* Images the read page may show inline (no SVG: it is a document that can hold script). */
static const char *const inline_images[] = {"image/png", "image/jpeg", "image/gif",
                                            "image/webp"};
/* Types that are sent as they are: none of them is a document a browser runs. */
static const char *const plain_types[] = {"application/pdf", "text/plain", "image/png",
                                          "image/jpeg", "image/gif", "image/webp"};

static bool listed(const char *type, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (sg_streq_nocase(type, list[i]))
			return true;
	return false;
}

/* The declared type when it is harmless, else application/octet-stream. */
static const char *served_type(const char *declared)
{
	for (size_t i = 0; i < sizeof(plain_types) / sizeof(plain_types[0]); i++)
		if (sg_streq_nocase(declared, plain_types[i]))
			return plain_types[i];
	return "application/octet-stream";
}

bool portal_part_inline_image(const char *content_type)
{
	return listed(content_type, inline_images, sizeof(inline_images) / sizeof(inline_images[0]));
}

/* RFC 5987 attr-char: the bytes that need no percent-encoding. */
static bool attr_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("!#$&+-.^_`|~", c) != NULL;
}

void portal_part_disposition(const char *name, char *dst, size_t size)
{
	char ascii[PORTAL_ATTACHMENT_MAX], ext[3 * PORTAL_ATTACHMENT_MAX + 1];
	size_t na = 0, ne = 0;
	for (const unsigned char *p = (const unsigned char *)name;
	     *p != '\0' && na + 1 < sizeof(ascii) && ne + 4 < sizeof(ext); p++) {
		/* The quoted fallback keeps printable ASCII but what ends or escapes the string,
		 * and path separators. */
		bool plain = *p >= 0x20 && *p < 0x7f && strchr("\"\\/%;", *p) == NULL;
		ascii[na++] = plain ? (char)*p : '_';
		if (attr_char(*p)) {
			ext[ne++] = (char)*p;
		} else {
			sg_snprintf(ext + ne, sizeof(ext) - ne, "%%%02X", *p);
			ne += 3;
		}
	}
	ascii[na] = '\0';
	ext[ne] = '\0';
	if (na == 0 || strspn(ascii, "._ ") == na) /* nothing a file could be called */
		sg_strlcpy(dst, "attachment", size);
	else
		sg_snprintf(dst, size, "attachment; filename=\"%s\"; filename*=UTF-8''%s", ascii, ext);
}

void portal_part_get(struct portal_req *req, struct portal_resp *resp, const char *uid,
                     const char *index)
{
	const char *err = NULL;
	long long idx = sg_strtonum(index, 0, WEBMAIL_PARTS_MAX - 1, &err);
	struct webmail_message m = {0};
	/* digits only, one spelling per part */
	if (err != NULL || strspn(index, "0123456789") != strlen(index) ||
	    (index[0] == '0' && index[1] != '\0')) {
		portal_pages_error(req, resp, MHD_HTTP_NOT_FOUND, "wm_not_found");
		return;
	}
	if (portal_read_open(req, resp, uid, &m) != 1)
		return;
	unsigned char *data = NULL;
	size_t len = 0;
	int rc = (size_t)idx < m.nparts
	             ? webmail_part(req->ctx->st, req->ctx->ks, req->sess.address, uid, (int)idx,
	                            &data, &len, &err)
	             : 0;
	if (rc != 1) {
		if (rc < 0)
			sg_error("portal: webmail part of %s: %s", req->client, err);
		portal_pages_error(req, resp, rc < 0 ? MHD_HTTP_INTERNAL_SERVER_ERROR : MHD_HTTP_NOT_FOUND,
		                   rc < 0 ? "err_internal" : "wm_not_found");
		webmail_message_free(&m);
		return;
	}
	const struct webmail_part_info *p = &m.parts[idx];
	char fallback[32];
	sg_snprintf(fallback, sizeof(fallback), "attachment-%lld", idx);
	sg_strlcpy(resp->attachment, p->filename[0] != '\0' ? p->filename : fallback,
	           sizeof(resp->attachment));
	resp->content_type = served_type(p->content_type);
	resp->blob = data;
	resp->blob_len = len;
	webmail_message_free(&m);
}
