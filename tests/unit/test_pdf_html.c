/* test_pdf_html.c: the HTML reducer of SecurePDF, table-driven: what a reader sees is kept,
 * code and remote content are dropped, links show their target as text, bytes stay UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_mem.h"
#include "pdf/pdf.h"

#include <string.h>

static void table(void **state)
{
	(void)state;
	static const struct {
		const char *html, *text;
	} cases[] = {
		{"<p>Hello</p><p>World</p>", "Hello\n\nWorld"},
		{"a<br>b<br/>c", "a\nb\nc"},
		{"  lots   of\r\n\t space  ", "lots of space"},
		{"<pre>  keep\n   this</pre>", "  keep\n   this"},
		{"x<script>alert('no')</script>y", "xy"},
		{"x<SCRIPT type=a>no</ScRiPt >y", "xy"},
		{"<style>p{}</style><title>t</title>body", "body"},
		{"<a href=\"https://e.test/a?b=1&amp;c=2\">site</a>", "site <https://e.test/a?b=1&c=2>"},
		{"<a href='https://e.test/'>https://e.test/</a>", "https://e.test/"},
		{"<a href=\"mailto:x@e.test\">x@e.test</a>", "x@e.test"},
		{"<a href=\"javascript:evil()\">click</a>", "click"},
		{"<a href=\"data:text/html,x\">d</a>", "d"},
		{"<img src=\"http://t.test/p.gif\" alt=\"Logo\">", "[Logo]"},
		{"<img src=\"http://t.test/p.gif\">", ""},
		{"<ul><li>one<li>two</ul>", "\xe2\x80\xa2 one\n\xe2\x80\xa2 two"},
		{"&lt;&gt;&amp;&quot;&#65;&#x42;&euro;&nbsp;x", "<>&\"AB\xe2\x82\xac x"},
		{"&#0;&#xd800;&#x110000;&bogus;", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd&bogus;"},
		{"a < b and c<d", "a < b and c"}, /* "<d" opens a tag, as in browsers */
		{"<!-- hidden -->shown<!doctype html><?xml x?>", "shown"},
		{"<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"},
		{"bad \xff\xfe bytes", "bad \xef\xbf\xbd\xef\xbf\xbd bytes"},
		{"<svg><text>vector</text></svg>ok", "ok"},
		{"<p>unterminated <b attr=\"", "unterminated"},
		{"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 <b>\xe4\xbd\xa0\xe5\xa5\xbd</b>",
		 "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xe4\xbd\xa0\xe5\xa5\xbd"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n;
		char *t = pdf_html_to_text(cases[i].html, strlen(cases[i].html), 4096, &n);
		if (strcmp(t, cases[i].text) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, t, cases[i].text);
		assert_int_equal(n, strlen(t));
		sg_free(&t);
	}
}

static void ceiling_and_depth(void **state)
{
	(void)state;
	/* Cut at the ceiling on a character boundary. */
	size_t n;
	char *t = pdf_html_to_text("\xd0\x96\xd0\x96\xd0\x96", 6, 3, &n);
	assert_string_equal(t, "\xd0\x96");
	sg_free(&t);
	/* 200,000 nested elements cost nothing but time linear in the input. */
	size_t len = 200000 * 5 + 4;
	char *html = sg_malloc(len + 1);
	for (size_t i = 0; i < 200000; i++)
		memcpy(html + i * 5, "<div>", 5);
	memcpy(html + 200000 * 5, "deep", 5);
	t = pdf_html_to_text(html, len, 1 << 20, &n);
	assert_string_equal(t, "deep");
	sg_free(&t);
	sg_free(&html);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table),
		cmocka_unit_test(ceiling_and_depth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
