/* smtpc_reply.c: the parser of a next hop's replies. Every byte is hostile: a line must be
 * three digits, a separator and text, every line of a reply carries the same code, and both
 * each line and the whole reply have a ceiling (limits.h). Anything else is an error. */
#include "smtp/smtpc.h"

#include "core/sg_str.h"

#include <stdio.h>
#include <string.h>

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* "c.ddd.ddd" followed by a space or the end, with c the reply's class (RFC 3463). */
static size_t enhanced_len(const char *s, size_t len, int code)
{
	if (len < 5 || s[0] != (char)('0' + code / 100) || s[1] != '.')
		return 0;
	size_t i = 2, n = 0;
	for (; i < len && is_digit(s[i]) && n < 3; i++, n++)
		;
	if (n == 0 || i >= len || s[i] != '.')
		return 0;
	i++;
	n = 0;
	for (; i < len && is_digit(s[i]) && n < 3; i++, n++)
		;
	if (n == 0 || (i < len && s[i] != ' '))
		return 0;
	return i;
}

static int line_code(const char *line, size_t len)
{
	if (len < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]))
		return -1;
	if (line[0] < '2' || line[0] > '5' || line[1] > '5')
		return -1;
	if (len > 3 && line[3] != '-' && line[3] != ' ')
		return -1;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

static int add_line(struct smtpc_reply *r, const char *line, size_t len, const char **error_r)
{
	int code = line_code(line, len);
	if (code < 0 || (r->nlines > 0 && code != r->code)) {
		*error_r = code < 0 ? "malformed reply line" : "reply lines with different codes";
		return -1;
	}
	if (memchr(line, '\0', len) != NULL) {
		*error_r = "NUL byte in reply";
		return -1;
	}
	const char *text = len > 4 ? line + 4 : "";
	size_t tlen = len > 4 ? len - 4 : 0;
	if (r->nlines == 0) {
		r->code = code;
		size_t el = enhanced_len(text, tlen, code);
		if (el > 0 && el < sizeof(r->enhanced)) {
			memcpy(r->enhanced, text, el);
			r->enhanced[el] = '\0';
		}
	}
	size_t need = r->text_len + (r->nlines > 0) + tlen + 1;
	if (need > sizeof(r->text)) {
		*error_r = "reply too long";
		return -1;
	}
	if (r->nlines > 0)
		r->text[r->text_len++] = '\n';
	memcpy(r->text + r->text_len, text, tlen);
	r->text_len += tlen;
	r->text[r->text_len] = '\0';
	r->nlines++;
	return 0;
}

int smtpc_reply_parse(const char *buf, size_t len, struct smtpc_reply *r, size_t *consumed_r,
                      const char **error_r)
{
	r->code = 0;
	r->enhanced[0] = '\0';
	r->nlines = 0;
	r->text_len = 0;
	r->text[0] = '\0';
	size_t pos = 0;
	for (;;) {
		size_t avail = len - pos;
		size_t scan = avail < SG_SMTP_REPLY_LINE_MAX ? avail : SG_SMTP_REPLY_LINE_MAX;
		const char *nl = memchr(buf + pos, '\n', scan);
		if (nl == NULL) {
			if (avail >= SG_SMTP_REPLY_LINE_MAX) {
				*error_r = "reply line too long";
				return -1;
			}
			if (pos + avail >= SG_SMTP_REPLY_MAX) {
				*error_r = "reply too long";
				return -1;
			}
			return 0;
		}
		size_t end = (size_t)(nl - buf);
		if (end + 1 > SG_SMTP_REPLY_MAX) {
			*error_r = "reply too long";
			return -1;
		}
		size_t llen = end - pos;
		if (llen > 0 && buf[end - 1] == '\r')
			llen--;
		if (add_line(r, buf + pos, llen, error_r) < 0)
			return -1;
		bool last = llen == 3 || buf[pos + 3] == ' ';
		pos = end + 1;
		if (last) {
			*consumed_r = pos;
			return 1;
		}
	}
}

void smtpc_reply_summary(const struct smtpc_reply *r, char *dst, size_t dstsize)
{
	char joined[SG_SMTP_REPLY_MAX + 8];
	int n = snprintf(joined, sizeof(joined), "%d %s", r->code, r->text);
	if (n < 0)
		joined[0] = '\0';
	for (char *p = joined; *p != '\0'; p++)
		if (*p == '\n')
			*p = ' ';
	sg_printable(dst, dstsize, joined, dstsize > 0 ? dstsize - 1 : 0);
}

void smtpc_reply_status(const struct smtpc_reply *r, char *dst, size_t dstsize)
{
	if (r->enhanced[0] != '\0')
		sg_strlcpy(dst, r->enhanced, dstsize);
	else
		snprintf(dst, dstsize, "%d.0.0", r->code / 100);
}
