/* dsn_build.c: the bounce message (RFC 3464 multipart/report; report-type=delivery-status):
 * a text part for people, a message/delivery-status part for programs and the original
 * headers. Everything copied from the original or from a peer is made printable first, so a
 * hostile reply or header can never add a header or a MIME part of its own. */
#include "queue/qmgr.h"
#include "queue/spool.h"

#include "core/sg_buf.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define DSN_FIELD_MAX 600 /* a sanitised field value, well under RFC 5322's 998 */

static void random_hex(char *dst, size_t nbytes)
{
	unsigned char rnd[32];
	nbytes = nbytes < sizeof(rnd) ? nbytes : sizeof(rnd);
	if (getrandom(rnd, nbytes, 0) != (ssize_t)nbytes) {
		/* Uniqueness, not secrecy, is what matters here. */
		uint64_t t = (uint64_t)sg_mono_ms() ^ ((uint64_t)sg_wall() << 20);
		for (size_t i = 0; i < nbytes; i++)
			rnd[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)i;
	}
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < nbytes; i++) {
		dst[2 * i] = hex[rnd[i] >> 4];
		dst[2 * i + 1] = hex[rnd[i] & 15];
	}
	dst[2 * nbytes] = '\0';
}

/* Printable copy that keeps UTF-8 (addresses may be internationalised) but no controls. */
static void field(char *dst, size_t size, const char *s)
{
	size_t o = 0;
	for (size_t i = 0; s != NULL && s[i] != '\0' && o + 1 < size && i < DSN_FIELD_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[o] = '\0';
}

bool dsn_sender_usable(const char *s)
{
	if (s == NULL || s[0] == '\0' || strlen(s) >= SG_ADDR_MAX)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '<' || *s == '>')
			return false;
	return true;
}

/* The original header block with CRLF line endings and without its empty last line. */
static int append_headers(struct sg_buf *out, const char *h, size_t len)
{
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(h + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - h) : len;
		size_t llen = end - pos;
		if (llen > 0 && h[end - 1] == '\r')
			llen--;
		if (llen == 0)
			break;
		if (sg_buf_append(out, h + pos, llen) < 0 || sg_buf_append(out, "\r\n", 2) < 0)
			return -1;
		pos = nl != NULL ? end + 1 : len;
	}
	return 0;
}

static int append_top(const struct dsn_input *in, struct sg_buf *out, const char *boundary)
{
	char date[64], to[SG_ADDR_MAX + 4], rnd[17];
	sg_rfc5322_date(in->now, date, sizeof(date));
	field(to, sizeof(to), in->sender);
	random_hex(rnd, 8);
	int rc = sg_buf_printf(out,
	                       "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	                       "To: <%s>\r\n"
	                       "Subject: Undelivered Mail Returned to Sender\r\n"
	                       "Date: %s\r\n"
	                       "Message-ID: <%s.%s@%s>\r\n"
	                       "Auto-Submitted: auto-replied\r\n"
	                       "MIME-Version: 1.0\r\n"
	                       "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	                       "\tboundary=\"%s\"\r\n"
	                       "\r\n"
	                       "This is a MIME-encapsulated message.\r\n\r\n",
	                       in->hostname, to, date, in->queue_id, rnd, in->hostname, boundary);
	return rc;
}

static int append_text(const struct dsn_input *in, struct sg_buf *out, const char *boundary)
{
	if (sg_buf_printf(out,
	                  "--%s\r\n"
	                  "Content-Description: Notification\r\n"
	                  "Content-Type: text/plain; charset=utf-8\r\n"
	                  "\r\n"
	                  "This is the mail system at host %s.\r\n\r\n"
	                  "I'm sorry to have to inform you that your message could not\r\n"
	                  "be delivered to one or more recipients. It's attached below.\r\n\r\n"
	                  "The recipients and the reasons:\r\n\r\n",
	                  boundary, in->hostname) < 0)
		return -1;
	for (size_t i = 0; i < in->nrcpt; i++) {
		char addr[DSN_FIELD_MAX + 1], why[DSN_FIELD_MAX + 1];
		field(addr, sizeof(addr), in->rcpts[i].addr);
		field(why, sizeof(why),
		      in->rcpts[i].reason != NULL ? in->rcpts[i].reason : in->rcpts[i].diagnostic);
		if (sg_buf_printf(out, "<%s>: %s\r\n\r\n", addr, why[0] != '\0' ? why : "failed") < 0)
			return -1;
	}
	return sg_buf_printf(out,
	                     "What you can do: check the recipient addresses for typing errors\r\n"
	                     "and send the message again. If the reason above says that the\r\n"
	                     "recipient's system refused the message, contact the recipient by\r\n"
	                     "other means; if it persists, forward this report to your postmaster.\r\n"
	                     "\r\n");
}

static int append_rcpt_fields(struct sg_buf *out, const struct dsn_rcpt *r)
{
	char addr[DSN_FIELD_MAX + 1], status[16], orcpt[DSN_FIELD_MAX + 1];
	field(addr, sizeof(addr), r->addr);
	field(status, sizeof(status), r->status != NULL ? r->status : "5.0.0");
	if (sg_buf_printf(out, "\r\nFinal-Recipient: rfc822; %s\r\n", addr) < 0)
		return -1;
	if (r->orcpt != NULL && r->orcpt[0] != '\0') {
		field(orcpt, sizeof(orcpt), r->orcpt);
		if (sg_buf_printf(out, "Original-Recipient: %s%s\r\n",
		                  strchr(orcpt, ';') != NULL ? "" : "rfc822;", orcpt) < 0)
			return -1;
	}
	if (sg_buf_printf(out, "Action: failed\r\nStatus: %s\r\n", status) < 0)
		return -1;
	if (r->remote_mta != NULL && r->remote_mta[0] != '\0') {
		char mta[300];
		field(mta, sizeof(mta), r->remote_mta);
		mta[strcspn(mta, "[")] = '\0'; /* "host[1.2.3.4]:25" names the host */
		if (sg_buf_printf(out, "Remote-MTA: dns; %s\r\n", mta) < 0)
			return -1;
	}
	if (r->diagnostic != NULL && r->diagnostic[0] != '\0') {
		char diag[DSN_FIELD_MAX + 1];
		field(diag, sizeof(diag), r->diagnostic);
		if (sg_buf_printf(out, "Diagnostic-Code: %s; %s\r\n", r->diag_smtp ? "smtp" : "x-sealgate",
		                  diag) < 0)
			return -1;
	}
	return 0;
}

static int append_report(const struct dsn_input *in, struct sg_buf *out, const char *boundary)
{
	char arrival[64], qid[SG_QUEUE_ID_MAX + 1];
	sg_rfc5322_date(in->arrival, arrival, sizeof(arrival));
	field(qid, sizeof(qid), in->queue_id);
	if (sg_buf_printf(out,
	                  "--%s\r\n"
	                  "Content-Description: Delivery report\r\n"
	                  "Content-Type: message/delivery-status\r\n"
	                  "\r\n"
	                  "Reporting-MTA: dns; %s\r\n"
	                  "X-Sealgate-Queue-ID: %s\r\n"
	                  "Arrival-Date: %s\r\n",
	                  boundary, in->hostname, qid, arrival) < 0)
		return -1;
	for (size_t i = 0; i < in->nrcpt; i++)
		if (append_rcpt_fields(out, &in->rcpts[i]) < 0)
			return -1;
	return sg_buf_append_str(out, "\r\n");
}

static int append_original(const struct dsn_input *in, struct sg_buf *out, const char *boundary)
{
	if (sg_buf_printf(out,
	                  "--%s\r\n"
	                  "Content-Description: Undelivered Message Headers\r\n"
	                  "Content-Type: text/rfc822-headers\r\n"
	                  "\r\n",
	                  boundary) < 0 ||
	    append_headers(out, in->headers, in->headers_len) < 0)
		return -1;
	return sg_buf_printf(out, "\r\n--%s--\r\n", boundary);
}

int dsn_build(const struct dsn_input *in, struct sg_buf *out, const char **error_r)
{
	if (!dsn_sender_usable(in->sender)) {
		*error_r = "no DSN to the null sender or to an unusable sender address";
		return -1;
	}
	if (in->nrcpt == 0) {
		*error_r = "no failed recipients to report";
		return -1;
	}
	char boundary[64], rnd[33];
	do {
		random_hex(rnd, 16);
		snprintf(boundary, sizeof(boundary), "=_sealgate_%s", rnd);
	} while (in->headers_len > 0 && memmem(in->headers, in->headers_len, boundary,
	                                       strlen(boundary)) != NULL);
	size_t start = out->len;
	if (append_top(in, out, boundary) < 0 || append_text(in, out, boundary) < 0 ||
	    append_report(in, out, boundary) < 0 || append_original(in, out, boundary) < 0) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
		*error_r = "DSN too large";
		return -1;
	}
	return 0;
}

int dsn_send(struct spool *sp, const struct dsn_input *in, bool smtputf8, char *id_r,
             size_t idsize, const char **error_r)
{
	struct sg_buf b;
	sg_buf_init(&b, SG_HEADER_BLOCK_MAX + 256 * 1024);
	if (dsn_build(in, &b, error_r) < 0) {
		sg_buf_free(&b);
		return -1;
	}
	int rc = spool_notice_send(sp, in->hostname, in->sender, smtputf8, b.data, b.len, id_r,
	                           idsize, error_r);
	sg_buf_free(&b);
	return rc;
}
