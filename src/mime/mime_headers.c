/* mime_headers.c: byte-exact edits of a message's header block. Crypto signs and encrypts the
 * bytes it is given, so we never let a library re-serialise headers we did not mean to change:
 * fields are copied as they came (folds and all), dropped, or, for the Subject tag only,
 * rewritten. */
#include "mime/mime.h"

#include "core/sg_buf.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <gmime/gmime.h>
#include <strings.h>
#include <string.h>
#include <time.h>

int mime_field_next(const char *block, size_t len, size_t *pos, struct mime_field *f)
{
	size_t p = *pos;
	if (p >= len || block[p] == '\r' || block[p] == '\n')
		return 0; /* end of block (the empty line) */
	size_t start = p;
	const char *colon = memchr(block + p, ':', len - p);
	const char *nl = memchr(block + p, '\n', len - p);
	/* A line without a colon before its end is not a field: treat it as one opaque field so
	 * it is carried (or dropped) whole rather than misread. */
	size_t name_len = colon != NULL && (nl == NULL || colon < nl) ? (size_t)(colon - block - p) : 0;
	for (;;) { /* the field ends at a newline not followed by white space */
		nl = memchr(block + p, '\n', len - p);
		if (nl == NULL) {
			p = len;
			break;
		}
		p = (size_t)(nl - block) + 1;
		if (p >= len || (block[p] != ' ' && block[p] != '\t'))
			break;
	}
	f->start = block + start;
	f->len = p - start;
	f->name = block + start;
	f->name_len = name_len;
	f->value = name_len ? block + start + name_len + 1 : block + start;
	f->value_len = f->len - (name_len ? name_len + 1 : 0);
	*pos = p;
	return 1;
}

bool mime_field_is(const struct mime_field *f, const char *name)
{
	size_t n = strlen(name);
	if (n > 0 && name[n - 1] == '*')
		return f->name_len >= n - 1 && strncasecmp(f->name, name, n - 1) == 0;
	return f->name_len == n && strncasecmp(f->name, name, n) == 0;
}

bool mime_field_is_content(const struct mime_field *f)
{
	return mime_field_is(f, "Content-*") || mime_field_is(f, "MIME-Version");
}

static bool dropped(const struct mime_edit *e, const struct mime_field *f)
{
	for (size_t i = 0; i < e->ndrop; i++)
		if (mime_field_is(f, e->drop[i]))
			return true;
	if (e->only != NULL) {
		bool listed = false;
		for (size_t i = 0; i < e->nonly && !listed; i++)
			listed = mime_field_is(f, e->only[i]);
		if (!listed)
			return true;
	}
	if (e->keep == MIME_KEEP_CONTENT)
		return !mime_field_is_content(f);
	if (e->keep == MIME_KEEP_OUTER)
		return mime_field_is_content(f);
	return false;
}

/* Removes the first case-insensitive occurrence of tag from s, with one space beside it. */
static bool strip_tag(char *s, const char *tag)
{
	size_t tl = strlen(tag);
	for (char *p = s; tl > 0 && *p != '\0'; p++) {
		if (strncasecmp(p, tag, tl) != 0)
			continue;
		char *end = p + tl;
		if (*end == ' ')
			end++;
		else if (p > s && p[-1] == ' ')
			p--;
		memmove(p, end, strlen(end) + 1);
		return true;
	}
	return false;
}

static int write_subject(const struct mime_field *f, const char *tag, struct sg_buf *out)
{
	/* a NUL would cut the copy short and lose the field's line end, so that the lines after
	 * it joined the header (found by fuzz_mime_hp): such a field is kept as it came */
	if (memchr(f->value, '\0', f->value_len) != NULL)
		return -2;
	char *raw = sg_strndup(f->value, f->value_len);
	int rc;
	if (strip_tag(raw, tag) || strstr(raw, "=?") == NULL) {
		rc = sg_buf_append_str(out, "Subject:") | sg_buf_append_str(out, raw);
	} else {
		/* The tag may sit inside an encoded word: decode, strip, encode again. */
		mime_init();
		char *text = g_mime_utils_header_decode_text(NULL, raw);
		g_strstrip(text);
		bool had = strip_tag(text, tag);
		char *enc = had ? g_mime_utils_header_encode_text(NULL, text, "utf-8") : NULL;
		rc = sg_buf_append_str(out, "Subject: ");
		rc |= enc != NULL ? sg_buf_append_str(out, enc) : sg_buf_append_str(out, text);
		rc |= sg_buf_append_str(out, "\r\n");
		if (!had) { /* nothing to strip after all: keep the field as it was */
			sg_buf_reset(out);
			rc = -2;
		}
		g_free(enc);
		g_free(text);
	}
	sg_free(&raw);
	return rc;
}

static int copy_field(const struct mime_edit *e, const struct mime_field *f, struct sg_buf *out)
{
	if (e->subject_value != NULL && mime_field_is(f, "Subject"))
		return sg_buf_printf(out, "Subject: %s\r\n", e->subject_value);
	if (e->subject_tag != NULL && e->subject_tag[0] != '\0' && mime_field_is(f, "Subject")) {
		struct sg_buf tmp;
		sg_buf_init(&tmp, out->max);
		int rc = write_subject(f, e->subject_tag, &tmp);
		if (rc == 0)
			rc = sg_buf_append(out, tmp.data, tmp.len);
		sg_buf_free(&tmp);
		if (rc != -2)
			return rc;
	}
	return sg_buf_append(out, f->start, f->len);
}

int mime_edit_apply(const char *data, size_t len, const struct mime_edit *e, struct sg_buf *out,
                    const char **error_r)
{
	size_t hlen = mime_header_block_len(data, len, len);
	int rc = e->prepend != NULL ? sg_buf_append_str(out, e->prepend) : 0;
	struct mime_field f;
	size_t pos = 0;
	while (rc == 0 && mime_field_next(data, hlen, &pos, &f))
		if (!dropped(e, &f))
			rc = copy_field(e, &f, out);
	if (rc == 0 && e->with_body)
		rc = sg_buf_append(out, data + pos, len - pos); /* the empty line and the body */
	if (rc != 0) {
		*error_r = "message too large to rewrite";
		return -1;
	}
	return 0;
}

#define MIME_DATE_LINE_MAX 200

/* The top-level Date: header of msg as epoch seconds, or 0. Unfolded single line only. */
time_t mime_header_date(const char *msg, size_t len)
{
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(msg + i, '\n', len - i);
		size_t ll = nl != NULL ? (size_t)(nl - (msg + i)) : len - i;
		if (ll == 0 || (ll == 1 && msg[i] == '\r'))
			return 0; /* end of the header block */
		if (ll > 5 && ll < MIME_DATE_LINE_MAX && sg_has_prefix_nocase(msg + i, "date:")) {
			char line[MIME_DATE_LINE_MAX];
			memcpy(line, msg + i + 5, ll - 5);
			line[ll - 5] = '\0';
			const char *s = sg_trim(line);
			const char *comma = strchr(s, ',');
			struct tm tm;
			memset(&tm, 0, sizeof(tm));
			if (strptime(comma != NULL ? comma + 1 : s, " %d %b %Y %H:%M:%S %z", &tm) == NULL)
				return 0;
			long offset = tm.tm_gmtoff; /* read first: timegm() resets it to 0 */
			return timegm(&tm) - offset;
		}
		if (nl == NULL)
			break;
		i += ll + 1;
	}
	return 0;
}
