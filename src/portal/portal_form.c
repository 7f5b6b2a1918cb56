/* portal_form.c: request bodies of the portal's forms. Both encodings are parsed with cursors
 * over the whole (already size-capped) body; anything malformed is refused as a whole. */
#include "portal/portal.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_LEN 64
#define BOUNDARY_MAX 70      /* RFC 2046 */
#define PART_HEADERS_MAX 1024
#define FILENAME_MAX_LEN 255
#define CTYPE_MAX_LEN 127
#define PARAM_ABSENT (-1)
#define PARAM_BAD (-2)

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..len) into a new string; -1 on bad escapes, NUL bytes or over max. */
static int url_decode(const char *s, size_t len, size_t max, char **out_r, size_t *out_len_r)
{
	if (len > max * 3)
		return -1;
	char *out = sg_malloc(len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				goto bad;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (c == '\0')
			goto bad;
		out[o++] = c;
	}
	out[o] = '\0';
	if (o > max)
		goto bad;
	*out_r = out;
	*out_len_r = o;
	return 0;
bad:
	sg_free_secret(&out, len + 1);
	return -1;
}

size_t portal_form_field_max(const char *name)
{
	return strcmp(name, "text") == 0 ? SG_HTTP_TEXT_MAX : SG_HTTP_FIELD_MAX;
}

/* Takes name and value; a file part also brings its file name and content type. */
static int add_field(struct portal_form *f, char *name, char *value, size_t len,
                     const char *filename, const char *ctype)
{
	if (f->n >= SG_HTTP_FIELDS_MAX) {
		sg_free(&name);
		sg_free_secret(&value, len + 1);
		return -1;
	}
	f->fields[f->n++] = (struct portal_field){
		.name = name, .value = value, .value_len = len, .is_file = filename != NULL,
		.filename = filename != NULL ? sg_strdup(filename) : NULL,
		.content_type = ctype != NULL ? sg_strdup(ctype) : NULL};
	return 0;
}

static int parse_urlencoded(const char *body, size_t len, struct portal_form *f)
{
	size_t pos = 0;
	while (pos < len) {
		const char *amp = memchr(body + pos, '&', len - pos);
		size_t end = amp != NULL ? (size_t)(amp - body) : len;
		const char *eq = memchr(body + pos, '=', end - pos);
		if (eq == NULL)
			return -1;
		size_t nlen = (size_t)(eq - (body + pos));
		char *name, *value;
		size_t name_len, value_len;
		if (url_decode(body + pos, nlen, NAME_MAX_LEN, &name, &name_len) < 0)
			return -1;
		if (name_len == 0 || url_decode(eq + 1, end - nlen - pos - 1, portal_form_field_max(name),
		                                &value, &value_len) < 0) {
			sg_free(&name);
			return -1;
		}
		if (add_field(f, name, value, value_len, NULL, NULL) < 0)
			return -1;
		pos = end + 1;
	}
	return 0;
}

/* The value of param (boundary, name, filename) in a header value: quoted or token.
 * PARAM_ABSENT when it is not there, PARAM_BAD when it is but is too long or malformed. */
static int header_param(const char *h, size_t hlen, const char *param, char *dst, size_t size)
{
	size_t plen = strlen(param);
	for (size_t i = 0; i + plen + 1 < hlen; i++) {
		if ((i > 0 && h[i - 1] != ';' && h[i - 1] != ' ') ||
		    strncasecmp(h + i, param, plen) != 0 || h[i + plen] != '=')
			continue;
		size_t p = i + plen + 1, o = 0;
		bool quoted = p < hlen && h[p] == '"';
		p += quoted;
		while (p < hlen && (quoted ? h[p] != '"' : (h[p] != ';' && h[p] != ' ' && h[p] != '\r'))) {
			if (o + 1 >= size || (unsigned char)h[p] < 0x20 || h[p] == 0x7f)
				return PARAM_BAD;
			dst[o++] = h[p++];
		}
		if (quoted && p >= hlen)
			return PARAM_BAD;
		dst[o] = '\0';
		return 0;
	}
	return PARAM_ABSENT;
}

/* The start of the header called name (with its colon) in a part's header block, or NULL. */
static const char *part_header(const char *p, size_t hlen, const char *name)
{
	size_t nlen = strlen(name);
	for (size_t i = 0; i + nlen <= hlen; i++)
		if ((i == 0 || p[i - 1] == '\n') && strncasecmp(p + i, name, nlen) == 0)
			return p + i;
	return NULL;
}

/* A part's Content-Type as "type/subtype" (lower case, parameters dropped) when it is one;
 * else dst stays "" (the attachment then goes as application/octet-stream). */
static void part_ctype(const char *p, size_t hlen, char *dst, size_t size)
{
	dst[0] = '\0';
	const char *h = part_header(p, hlen, "content-type:");
	if (h == NULL)
		return;
	h += 13;
	const char *end = p + hlen;
	while (h < end && (*h == ' ' || *h == '\t'))
		h++;
	size_t o = 0, slashes = 0;
	for (; h < end && *h != ';' && *h != '\r' && *h != ' '; h++) {
		char c = *h;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		          (c != '\0' && strchr("!#$&^_.+-/", c) != NULL);
		slashes += c == '/';
		if (!ok || o + 1 >= size) {
			dst[0] = '\0';
			return;
		}
		dst[o++] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
	}
	dst[o] = '\0';
	if (slashes != 1 || dst[0] == '/' || dst[o > 0 ? o - 1 : 0] == '/')
		dst[0] = '\0';
}

/* One part: headers (Content-Disposition: form-data; name=...; filename=...) and content. */
static int parse_part(const char *p, size_t len, struct portal_form *f)
{
	const char *sep = memmem(p, len, "\r\n\r\n", 4);
	if (sep == NULL || (size_t)(sep - p) > PART_HEADERS_MAX)
		return -1;
	size_t hlen = (size_t)(sep - p) + 2;
	char name[NAME_MAX_LEN + 1], filename[FILENAME_MAX_LEN + 1], ctype[CTYPE_MAX_LEN + 1];
	const char *cd = part_header(p, hlen, "content-disposition:");
	if (cd == NULL || header_param(cd, hlen - (size_t)(cd - p), "name", name, sizeof(name)) < 0 ||
	    name[0] == '\0')
		return -1;
	int frc = header_param(cd, hlen - (size_t)(cd - p), "filename", filename, sizeof(filename));
	if (frc == PARAM_BAD)
		return -1;
	bool is_file = frc == 0;
	const char *content = sep + 4;
	size_t clen = len - (size_t)(content - p);
	if (!is_file && (clen > portal_form_field_max(name) || memchr(content, '\0', clen) != NULL))
		return -1;
	if (is_file)
		part_ctype(p, hlen, ctype, sizeof(ctype));
	char *value = sg_malloc(clen + 1);
	memcpy(value, content, clen);
	value[clen] = '\0';
	return add_field(f, sg_strdup(name), value, clen, is_file ? filename : NULL,
	                 is_file && ctype[0] != '\0' ? ctype : NULL);
}

static int parse_multipart(const char *ctype, const char *body, size_t len,
                           struct portal_form *f)
{
	char boundary[BOUNDARY_MAX + 1], delim[BOUNDARY_MAX + 5];
	if (header_param(ctype, strlen(ctype), "boundary", boundary, sizeof(boundary)) < 0 ||
	    boundary[0] == '\0')
		return -1;
	int dl = snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
	if (dl < 0 || (size_t)dl >= sizeof(delim))
		return -1;
	size_t d = (size_t)dl;
	/* The first delimiter has no CRLF before it. */
	if (len < d - 2 || memcmp(body, delim + 2, d - 2) != 0)
		return -1;
	size_t pos = d - 2;
	for (;;) {
		if (len - pos >= 2 && memcmp(body + pos, "--", 2) == 0)
			return 0; /* the close delimiter; what follows is the epilogue */
		if (len - pos < 2 || memcmp(body + pos, "\r\n", 2) != 0)
			return -1;
		pos += 2;
		const char *next = memmem(body + pos, len - pos, delim, d);
		if (next == NULL || parse_part(body + pos, (size_t)(next - body) - pos, f) < 0)
			return -1;
		pos = (size_t)(next - body) + d;
	}
}

int portal_form_parse(const char *content_type, const char *body, size_t len,
                      struct portal_form *form_r, const char **error_r)
{
	memset(form_r, 0, sizeof(*form_r));
	int rc = -1;
	if (len > (size_t)SG_HTTP_COMPOSE_BODY_MAX)
		rc = -1;
	else if (content_type != NULL &&
	         sg_has_prefix_nocase(content_type, "application/x-www-form-urlencoded"))
		rc = parse_urlencoded(body, len, form_r);
	else if (content_type != NULL && sg_has_prefix_nocase(content_type, "multipart/form-data"))
		rc = parse_multipart(content_type, body, len, form_r);
	if (rc < 0) {
		portal_form_clear(form_r);
		*error_r = "the form could not be read";
	}
	return rc;
}

const struct portal_field *portal_form_field(const struct portal_form *form, const char *name)
{
	for (size_t i = 0; i < form->n; i++)
		if (strcmp(form->fields[i].name, name) == 0)
			return &form->fields[i];
	return NULL;
}

const char *portal_form_get(const struct portal_form *form, const char *name)
{
	const struct portal_field *f = portal_form_field(form, name);
	return f != NULL ? f->value : "";
}

void portal_form_clear(struct portal_form *form)
{
	for (size_t i = 0; i < form->n; i++) {
		sg_free(&form->fields[i].name);
		sg_free(&form->fields[i].filename);
		sg_free(&form->fields[i].content_type);
		sg_free_secret(&form->fields[i].value, form->fields[i].value_len + 1);
	}
	form->n = 0;
}
