/* html_check.h: what the HTML sanitiser's output must be, checked the way a browser reads
 * it: the fragment is parsed again by an HTML5 parser (gumbo) in the context of the element
 * the portal puts it in, and every element, attribute and URL of the result is held against a
 * list written here, independently of the sanitiser's own tables. Shared by the unit test
 * (test_mime_sanitize.c) and the fuzz harness (fuzz_mime_sanitize.c). Returns NULL when the
 * fragment is safe, else what is wrong. */
#ifndef SG_TEST_HTML_CHECK_H
#define SG_TEST_HTML_CHECK_H

#include <gumbo.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTML_CHECK_IMAGE_PREFIX "/test/cid/" /* the only place images may come from */

static bool html_check_listed(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

static const char *html_check_attr(const GumboNode *el, const GumboAttribute *a)
{
	static const char *const names[] = {
		"title", "lang", "dir", "href", "src", "alt", "width", "height", "align", "valign",
		"colspan", "rowspan", "span", "border", "cellpadding", "cellspacing", "start", "type",
		"value", "scope", "rel", "target", "class", NULL};
	if (!html_check_listed(a->name, names))
		return "an attribute outside the list";
	if (strcmp(a->name, "href") == 0 &&
	    strncasecmp(a->value, "https://", 8) != 0 && strncasecmp(a->value, "http://", 7) != 0 &&
	    strncasecmp(a->value, "mailto:", 7) != 0)
		return "a link that is not http, https or mailto";
	if (strcmp(a->name, "href") == 0 && el->v.element.tag != GUMBO_TAG_A)
		return "href on an element other than a";
	if (strcmp(a->name, "src") == 0 &&
	    (el->v.element.tag != GUMBO_TAG_IMG ||
	     strncmp(a->value, HTML_CHECK_IMAGE_PREFIX, strlen(HTML_CHECK_IMAGE_PREFIX)) != 0))
		return "a src that is not a part of the message";
	if (strcmp(a->name, "class") == 0 && strcmp(a->value, "link-target") != 0 &&
	    strcmp(a->value, "blocked-image") != 0)
		return "a class the sanitiser does not write";
	return NULL;
}

static const char *html_check_element(const GumboNode *el)
{
	static const char *const tags[] = {
		"a", "abbr", "b", "bdi", "bdo", "big", "br", "cite", "code", "del", "dfn", "em", "i",
		"img", "ins", "kbd", "mark", "q", "s", "samp", "small", "span", "strike", "strong",
		"sub", "sup", "time", "tt", "u", "var", "wbr", "address", "blockquote", "center", "dd",
		"div", "dl", "dt", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
		"li", "ol", "p", "pre", "ul", "caption", "col", "colgroup", "table", "tbody", "thead",
		"tfoot", "tr", "td", "th", NULL};
	if (el->v.element.tag_namespace != GUMBO_NAMESPACE_HTML)
		return "an element of SVG or MathML";
	if (!html_check_listed(gumbo_normalized_tagname(el->v.element.tag), tags))
		return "an element outside the list";
	const GumboVector *attrs = &el->v.element.attributes;
	for (unsigned int i = 0; i < attrs->length; i++) {
		const char *why = html_check_attr(el, attrs->data[i]);
		if (why != NULL)
			return why;
	}
	return NULL;
}

/* Walks without recursion; depth_r: the deepest nesting seen. */
static const char *html_check_tree(const GumboNode *root, size_t *depth_r)
{
	size_t cap = 64, n = 0;
	const GumboNode **stack = malloc(cap * sizeof(*stack));
	size_t *depth = malloc(cap * sizeof(*depth));
	const char *why = NULL;
	stack[n] = root;
	depth[n++] = 0;
	*depth_r = 0;
	while (n > 0 && why == NULL) {
		const GumboNode *node = stack[--n];
		size_t d = depth[n];
		if (node->type == GUMBO_NODE_COMMENT || node->type == GUMBO_NODE_CDATA ||
		    node->type == GUMBO_NODE_TEMPLATE) {
			why = "a comment, CDATA or template";
			continue;
		}
		if (node->type != GUMBO_NODE_ELEMENT)
			continue;
		/* The fragment's own html root is the parser's, not the sanitiser's. */
		if (node != root && (why = html_check_element(node)) != NULL)
			continue;
		*depth_r = d > *depth_r ? d : *depth_r;
		const GumboVector *kids = &node->v.element.children;
		if (n + kids->length > cap) {
			cap = (n + kids->length) * 2;
			stack = realloc(stack, cap * sizeof(*stack));
			depth = realloc(depth, cap * sizeof(*depth));
		}
		for (unsigned int i = 0; i < kids->length; i++) {
			stack[n] = kids->data[i];
			depth[n++] = d + 1;
		}
	}
	free(stack);
	free(depth);
	return why;
}

/* html: the sanitiser's output; depth_r: its deepest element nesting. */
static const char *html_check(const char *html, size_t len, size_t *depth_r)
{
	GumboOptions o = kGumboDefaultOptions;
	o.fragment_context = GUMBO_TAG_SECTION; /* where the portal puts it */
	o.max_errors = 0;
	GumboOutput *out = gumbo_parse_with_options(&o, html, len);
	const char *why = html_check_tree(out->root, depth_r);
	gumbo_destroy_output(&o, out);
	return why;
}

#endif
