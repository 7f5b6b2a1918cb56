/* test_mime_sanitize.c: the HTML sanitiser of the webmail read page (mime_sanitize.c) against
 * the XSS and tracking vectors of the field (OWASP's filter-evasion list, DOMPurify's mutation
 * bypasses, EFAIL's remote references), each output parsed again the way a browser reads it
 * (html_check.h) besides the case's own expectations; then what it must keep, and its limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/limits.h"
#include "core/sg_buf.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "mime/mime.h"

#include "html_check.h"

#include <stdio.h>
#include <string.h>

struct vector {
	const char *in;
	const char *must_not[4]; /* case-insensitive, in the output */
	const char *must;        /* in the output, or NULL */
};

static const struct vector vectors[] = {
	{"<script>alert(1)</script>x", {"<script", "alert"}, "x"},
	{"<SCRIPT SRC=//evil.example/x.js></SCRIPT>", {"script", "evil"}, NULL},
	{"<scr\0ipt>alert(1)</script>", {"<scr"}, NULL},
	{"<img src=x onerror=alert(1)>", {"onerror", "<img"}, "[image]"},
	{"<img src=\"x\" ONERROR=\"alert(1)\" alt=\"a photo\">", {"onerror"}, "[image: a photo]"},
	{"<svg onload=alert(1)><script>alert(2)</script></svg>after", {"svg", "onload", "alert"},
	 "after"},
	{"<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>", {"javascript", "<a"},
	 NULL},
	{"<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>", {"onerror", "<img"}, NULL},
	/* the browser (scripting on) and the parser (off) read noscript differently: the title
	 * stays one escaped attribute value */
	{"<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">", {"<img", "\" onerror"},
	 "title=\"&lt;/noscript&gt;&lt;img"},
	{"<xmp><img src=x onerror=alert(1)></xmp>", {"<img"}, "&lt;img src=x onerror=alert(1)&gt;"},
	{"<a href=\"javascript:alert(1)\">click</a>", {"javascript", "<a"}, "click"},
	{"<a href=\"JaVaScRiPt:alert(1)\">c</a>", {"javascript", "href"}, NULL},
	{"<a href=\"jav&#x09;ascript:alert(1)\">c</a>", {"script", "href"}, NULL},
	{"<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;:alert(1)\">c</a>",
	 {"href", "alert"}, NULL},
	{"<a href=\" \x01javascript:alert(1)\">c</a>", {"href", "alert"}, NULL},
	{"<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">c</a>",
	 {"data:", "href"}, NULL},
	{"<a href=\"vbscript:msgbox(1)\">c</a>", {"vbscript", "href"}, NULL},
	{"<a href=\"http://ok.example/\" onclick=\"alert(1)\" style=\"color:red\">c</a>",
	 {"onclick", "style", "alert"}, "href=\"http://ok.example/\""},
	{"<iframe src=\"javascript:alert(1)\"></iframe><iframe srcdoc=\"<script>alert(1)</script>\">",
	 {"iframe", "script", "srcdoc"}, NULL},
	{"<object data=\"x.swf\"><param name=a value=b></object><embed src=\"x.swf\">",
	 {"object", "embed", "swf"}, NULL},
	{"<form action=\"http://evil.example/\"><input name=p><button formaction=\"javascript:x\">"
	 "Send</button></form>", {"form", "input", "evil", "javascript"}, "Send"},
	{"<style>@import 'http://evil.example/x.css'; body{background:url(http://evil.example/)}"
	 "</style>text", {"style", "import", "url(", "evil"}, "text"},
	{"<div style=\"background:url(http://evil.example/)\">d</div>", {"style", "url(", "evil"},
	 "<div>d</div>"},
	{"<div style=\"width:expression(alert(1))\">d</div>", {"style", "expression"}, NULL},
	{"<img src=\"http://evil.example/track.gif\" width=1 height=1>", {"evil", "<img"}, NULL},
	{"<img srcset=\"http://evil.example/1x.png 1x\" src=\"cid:a@b\">", {"srcset", "evil"},
	 "src=\"/test/cid/a@b\""},
	{"<img src=\"//evil.example/x\">", {"evil", "<img"}, NULL},
	{"<img src=\"data:image/png;base64,iVBORw0KGgo=\">", {"data:", "<img"}, NULL},
	{"<table background=\"http://evil.example/bg.png\"><tr><td>c</td></tr></table>",
	 {"background", "evil"}, "<td>c</td>"},
	{"<body background=\"http://evil.example/\" onload=\"alert(1)\">b</body>",
	 {"background", "onload", "evil"}, "b"},
	{"<base href=\"http://evil.example/\"><meta http-equiv=refresh content=\"0;url=http://evil\">"
	 "<link rel=stylesheet href=http://evil.example/>", {"base", "meta", "link", "evil"}, NULL},
	{"<video poster=http://evil.example/p.png><source src=x></video><audio src=y>",
	 {"video", "poster", "audio", "evil"}, NULL},
	{"<details open ontoggle=alert(1)>x</details><marquee onstart=alert(1)>y</marquee>",
	 {"ontoggle", "onstart", "alert"}, "x"},
	{"<![CDATA[<script>alert(1)</script>]]>", {"<script", "cdata"}, NULL},
	{"<!--<img src=x onerror=alert(1)>-->", {"<img", "<!--"}, NULL},
	{"<template><script>alert(1)</script></template>t", {"template", "script"}, "t"},
	{"<a href=\"http://x.example/\" id=\"location\" name=\"cookie\" class=\"error\">x</a>",
	 {"id=", "name=", "class=\"error"}, NULL},
	{"<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>", {"<script"}, "&lt;script&gt;"},
	{"<a href=\"https://good.example/\">https://evil.example/</a>", {"href=\"https://evil"},
	 "<span class=\"link-target\">(https://good.example/)</span>"},
	{"<p title=\"&quot; onmouseover=alert(1) x=&quot;\">t</p>", {"\" onmouseover"},
	 "title=\"&quot; onmouseover=alert(1) x=&quot;\""},
	{"<p lang=\"en\" dir=\"rtl\" align=\"center\" onclick=x>t</p>", {"onclick"},
	 "<p lang=\"en\" dir=\"rtl\" align=\"center\">t</p>"},
	{"<table><td width=\"100%\" height=\"expression(1)\" colspan=2>c", {"expression", "height"},
	 "width=\"100%\""},
};

static bool has_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (const char *p = hay; *p; p++)
		if (strncasecmp(p, needle, n) == 0)
			return true;
	return false;
}

static bool test_cid_url(void *arg, const char *cid, char *url_r, size_t size)
{
	(void)arg;
	if (strcmp(cid, "missing@example") == 0)
		return false;
	return sg_snprintf(url_r, size, HTML_CHECK_IMAGE_PREFIX "%s", cid) >= 0;
}

static const struct mime_sanitize_opts opts = {.cid_url = test_cid_url, .blocked_image = "image"};

/* Sanitises in (len bytes), checks the result as a browser reads it, returns it (caller frees). */
static char *sanitize(const char *in, size_t len, struct mime_sanitize_report *rep)
{
	struct sg_buf out;
	const char *err = NULL;
	sg_buf_init(&out, 4 * 1024 * 1024);
	if (mime_sanitize_html(in, len, &opts, &out, rep, &err) < 0)
		fail_msg("%s: %s", in, err);
	size_t depth;
	const char *got = out.data != NULL ? out.data : "";
	const char *why = html_check(got, out.len, &depth);
	if (why != NULL)
		fail_msg("%s\n -> %s\n has %s", in, got, why);
	return out.data != NULL ? out.data : sg_strdup("");
}

static void xss_vectors_are_harmless(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		struct mime_sanitize_report rep;
		/* the one vector with a NUL is measured to its end */
		size_t len = i == 2 ? sizeof("<scr\0ipt>alert(1)</script>") - 1 : strlen(v->in);
		char *got = sanitize(v->in, len, &rep);
		for (size_t k = 0; k < 4 && v->must_not[k] != NULL; k++)
			if (has_nocase(got, v->must_not[k]))
				fail_msg("vector %zu: %s\n -> %s\n still has %s", i, v->in, got, v->must_not[k]);
		if (v->must != NULL && strstr(got, v->must) == NULL)
			fail_msg("vector %zu: %s\n -> %s\n lacks %s", i, v->in, got, v->must);
		sg_free(&got);
	}
}

static void report_counts_what_was_removed(void **state)
{
	(void)state;
	static const char in[] =
	    "<script>x</script><p onclick=x style=y>a</p><img src=\"http://a/\"><img src=cid:missing@example>"
	    "<a href=\"https://a.example/\">a</a><a href=\"javascript:x\">j</a>";
	struct mime_sanitize_report rep;
	char *got = sanitize(in, strlen(in), &rep);
	assert_int_equal(rep.dropped, 1);
	assert_int_equal(rep.attributes, 2);
	assert_int_equal(rep.blocked_images, 2);
	assert_int_equal(rep.links, 1);
	assert_int_equal(rep.unsafe_links, 1);
	sg_free(&got);
}

static void images_by_cid_and_links_with_targets(void **state)
{
	(void)state;
	struct mime_sanitize_report rep;
	static const char in[] =
	    "<img src=\"CID:%3Clogo%40example%3E\" alt=\"Logo\" width=\"40\">"
	    "<a href=\"https://example.org/\">https://example.org/</a>"
	    "<a href=\" mailto:a@example.org \">a@example.org</a>"
	    "<a href=\"https://example.org/x\">Our site</a>";
	char *got = sanitize(in, strlen(in), &rep);
	assert_non_null(strstr(got, "<img src=\"/test/cid/logo@example\" alt=\"Logo\" width=\"40\">"));
	/* the text is the target: not repeated */
	assert_non_null(strstr(got, ">https://example.org/</a><a"));
	assert_non_null(strstr(got, "href=\"mailto:a@example.org\""));
	assert_non_null(strstr(got, ">a@example.org</a><a"));
	assert_non_null(strstr(got, ">Our site</a> <span class=\"link-target\">(https://example.org/x)</span>"));
	assert_non_null(strstr(got, "rel=\"noopener noreferrer nofollow\""));
	sg_free(&got);
}

static void text_is_escaped_and_kept(void **state)
{
	(void)state;
	struct mime_sanitize_report rep;
	static const char in[] = "<pre>\n\nline 1\n  x < y & \"z\" '</pre><p>Gr\xc3\xbc\xc3\x9f"
	                         "e \xff</p><unknown-el>kept</unknown-el><font color=red>f</font>";
	char *got = sanitize(in, strlen(in), &rep);
	assert_non_null(strstr(got, "<pre>\n\nline 1\n  x &lt; y &amp; &quot;z&quot; &#39;</pre>"));
	assert_non_null(strstr(got, "<p>Gr\xc3\xbc\xc3\x9f" "e \xef\xbf\xbd</p>"));
	assert_non_null(strstr(got, "kept"));
	assert_null(strstr(got, "unknown"));
	assert_null(strstr(got, "font"));
	assert_non_null(strstr(got, "f"));
	sg_free(&got);
}

static char *repeated(const char *unit, size_t times, size_t *len_r)
{
	size_t ul = strlen(unit);
	char *s = sg_malloc(ul * times + 1);
	for (size_t i = 0; i < times; i++)
		memcpy(s + i * ul, unit, ul);
	s[ul * times] = '\0';
	*len_r = ul * times;
	return s;
}

static void hostile_sizes_are_bounded(void **state)
{
	(void)state;
	struct mime_sanitize_report rep;
	struct sg_buf out;
	const char *err;
	size_t len, depth;
	/* deep nesting: the output's depth is capped, the text kept */
	char *deep = repeated("<span>x", 10000, &len);
	char *got = sanitize(deep, len, &rep);
	assert_null(html_check(got, strlen(got), &depth));
	assert_true(depth <= SG_HTML_DEPTH_MAX + 1);
	sg_free(&got);
	sg_free(&deep);
	/* too many start tags, or too large: refused before parsing (shown as text instead) */
	char *many = repeated("<b>", SG_HTML_TAGS_MAX + 1, &len);
	sg_buf_init(&out, 1 << 20);
	assert_int_equal(mime_sanitize_html(many, len, &opts, &out, &rep, &err), -1);
	sg_free(&many);
	char *big = repeated("a", SG_HTML_SANITIZE_MAX + 1, &len);
	assert_int_equal(mime_sanitize_html(big, len, &opts, &out, &rep, &err), -1);
	sg_free(&big);
	sg_buf_free(&out);
	/* output over the caller's ceiling: an error, and out as it was */
	sg_buf_init(&out, 16);
	assert_int_equal(sg_buf_append_str(&out, "before"), 0);
	static const char text[] = "<p>a paragraph longer than sixteen bytes</p>";
	assert_int_equal(mime_sanitize_html(text, strlen(text), &opts, &out, &rep, &err), -1);
	assert_string_equal(out.data, "before");
	sg_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(xss_vectors_are_harmless),
		cmocka_unit_test(report_counts_what_was_removed),
		cmocka_unit_test(images_by_cid_and_links_with_targets),
		cmocka_unit_test(text_is_escaped_and_kept),
		cmocka_unit_test(hostile_sizes_are_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
