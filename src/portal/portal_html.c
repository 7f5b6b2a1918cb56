/* portal_html.c: the only way text reaches a page: escaped by default, raw only where a
 * template says {{&name}} for fragments we built from escaped parts. */
#include "portal/portal.h"
#include "core/sg_log.h"

#include <string.h>

#define VAR_NAME_MAX 48

int portal_html_escape(struct sg_buf *b, const char *s)
{
	static const char *const repl[128] = {
		['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&#39;",
		['`'] = "&#96;",
	};
	const char *run = s;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 128 || repl[c] == NULL)
			continue;
		if (sg_buf_append(b, run, (size_t)(s - run)) < 0 || sg_buf_append_str(b, repl[c]) < 0)
			return -1;
		run = s + 1;
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
