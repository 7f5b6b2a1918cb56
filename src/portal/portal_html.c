/* portal_html.c: the only way text reaches a page: escaped by default, raw only where a
 * template says {{&name}} for fragments we built from escaped parts. */
#include "portal/portal.h"
#include "core/sg_log.h"
#include "core/sg_str.h"

#include <string.h>

#define VAR_NAME_MAX 48

/* The length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF), or 0 when it is not one. s is NUL-terminated, and a NUL
 * is never a continuation byte, so the look-ahead stops there. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	/* The second byte's range rules out the overlong, surrogate and too-high forms. */
	unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
	unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

int portal_html_escape(struct sg_buf *b, const char *s)
{
	static const char *const repl[128] = {
		['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&#39;",
		['`'] = "&#96;",
	};
	const char *run = s;
	while (*s != '\0') {
		unsigned char c = (unsigned char)*s;
		size_t n = c < 128 ? 1 : utf8_len((const unsigned char *)s);
		if (n > 1 || (c < 128 && repl[c] == NULL)) {
			s += n;
			continue;
		}
		/* Our pages are UTF-8: a byte that starts no valid sequence becomes U+FFFD. */
		const char *with = c < 128 ? repl[c] : "\xef\xbf\xbd";
		if (sg_buf_append(b, run, (size_t)(s - run)) < 0 || sg_buf_append_str(b, with) < 0)
			return -1;
		run = ++s;
	}
	return sg_buf_append(b, run, (size_t)(s - run));
}

static const struct portal_var *var_find(const struct portal_var *vars, size_t n,
                                         const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(vars[i].name, name) == 0)
			return &vars[i];
	return NULL;
}

static int expand(struct sg_buf *b, const char *name, const struct portal_var *vars,
                  size_t nvars, enum portal_lang lang)
{
	bool raw = name[0] == '&';
	if (strncmp(name, "t.", 2) == 0)
		return portal_html_escape(b, portal_i18n_text(lang, name + 2));
	const struct portal_var *v = var_find(vars, nvars, name + raw);
	sg_assert(v != NULL);
	sg_assert(v->raw == raw); /* a raw slot takes only a raw var, and the reverse */
	return raw ? sg_buf_append_str(b, v->value) : portal_html_escape(b, v->value);
}

int portal_html_render(struct sg_buf *b, const char *tmpl, const struct portal_var *vars,
                       size_t nvars, enum portal_lang lang)
{
	const char *p = tmpl;
	for (;;) {
		const char *open = strstr(p, "{{");
		if (open == NULL)
			return sg_buf_append_str(b, p);
		const char *close = strstr(open, "}}");
		sg_assert(close != NULL && close - open - 2 < VAR_NAME_MAX);
		char name[VAR_NAME_MAX];
		memcpy(name, open + 2, (size_t)(close - open - 2));
		name[close - open - 2] = '\0';
		if (sg_buf_append(b, p, (size_t)(open - p)) < 0 ||
		    expand(b, name, vars, nvars, lang) < 0)
			return -1;
		p = close + 2;
	}
}

void portal_html_size(int64_t bytes, char *dst, size_t size)
{
	if (bytes < 1024)
		sg_snprintf(dst, size, "%lld B", (long long)bytes);
	else if (bytes < 1024 * 1024)
		sg_snprintf(dst, size, "%.1f KB", (double)bytes / 1024.0);
	else
		sg_snprintf(dst, size, "%.1f MB", (double)bytes / (1024.0 * 1024.0));
}

void portal_html_time(time_t t, char *dst, size_t size)
{
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL || strftime(dst, size, "%Y-%m-%d %H:%M UTC", &tm) == 0)
		sg_strlcpy(dst, "-", size);
}
