/* test_pdf.c: whole SecurePDFs checked by the real readers: qpdf (encryption R6/AES-256/P -4,
 * structure, wrong password refused), poppler (text in many scripts, attachments byte-exact,
 * the Reply URL, CJK fonts by language) and mupdf; hostile messages give a clean PDF or a clean
 * error; the worker turns a limit hit into PDF_ERR_DEFER. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_buf.h"
#include "core/sg_mem.h"
#include "pdf/pdf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PW "Pässwörd-Тест-密码"
#define URL "https://portal.example.test/reply/Tok3n_ABC-123?x=1&y=2"

static char dir[] = "/tmp/sg-pdf-XXXXXX";
static struct pdf_key *key;

static const char text_sample[] =
	"Latin: The quick brown fox jumps over the lazy dog.\n"
	"Cyrillic: Съешь же ещё этих мягких французских булок.\n"
	"Greek: Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.\n"
	"Arabic: مرحبا بالعالم\n"
	"Hebrew: שלום עולם\n"
	"Chinese: 我们的报告已经完成\n"
	"Japanese: こんにちは世界\n"
	"Korean: 안녕하세요 세계\n";

/* ---- helpers ---- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static char *slurp(const char *name, size_t *len_r)
{
	char path[256];
	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	struct sg_buf b;
	sg_buf_init(&b, 64 * 1024 * 1024);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(sg_buf_append(&b, chunk, n), 0);
	fclose(f);
	if (b.data == NULL)
		assert_int_equal(sg_buf_append(&b, "", 0), 0);
	return sg_buf_steal(&b, len_r);
}

static void spit(const char *name, const void *p, size_t n)
{
	char path[256];
	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static void must_contain(const char *hay, const char *needle, const char *what)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("%s lacks \"%s\":\n%.3000s", what, needle, hay);
}

static void base64(struct sg_buf *b, const unsigned char *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
		             (i + 2 < n ? p[i + 2] : 0);
		char q[4] = {tab[v >> 18 & 63], tab[v >> 12 & 63], i + 1 < n ? tab[v >> 6 & 63] : '=',
		             i + 2 < n ? tab[v & 63] : '='};
		assert_int_equal(sg_buf_append(b, q, 4), 0);
		if ((i / 3) % 19 == 18)
			assert_int_equal(sg_buf_append_str(b, "\r\n"), 0);
	}
	assert_int_equal(sg_buf_append_str(b, "\r\n"), 0);
}

static void attach(struct sg_buf *m, const char *type, const char *dispo_name,
                   const unsigned char *data, size_t n)
{
	assert_int_equal(sg_buf_printf(m, "--BOUNDARY\r\nContent-Type: %s\r\n"
	                               "Content-Disposition: attachment; %s\r\n"
	                               "Content-Transfer-Encoding: base64\r\n\r\n", type, dispo_name), 0);
	base64(m, data, n);
}

/* Builds a PDF in the worker and writes it to dir/name. */
static void build(const char *msg, size_t len, const char *name)
{
	struct pdf_options o = {.reply_url = URL};
	/* Generous limits: under valgrind everything is thirty times slower. */
	struct pdf_limits lim = {.cpu_seconds = 900, .wall_seconds = 1200};
	unsigned char *pdf;
	size_t plen;
	const char *err = NULL;
	int rc = pdf_isolate_build(msg, len, key, &o, &lim, &pdf, &plen, &err);
	if (rc != 0)
		fail_msg("build %s: %d %s", name, rc, err);
	spit(name, pdf, plen);
	sg_free(&pdf);
}

static char *reader(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *reader(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = sh("%s > %s/out.txt 2>&1", cmd, dir);
	size_t n;
	char *o = slurp("out.txt", &n);
	if (rc != 0)
		fail_msg("reader exited %d: %s\n%s", rc, cmd, o);
	return o;
}

/* ---- the main document ---- */

static unsigned char bin1[70000], bin2[3000];

static void main_message(struct sg_buf *m)
{
	sg_buf_init(m, 16 * 1024 * 1024);
	assert_int_equal(sg_buf_append_str(m,
		"From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.test>\r\n"
		"To: Partner <partner@partner.test>, second@partner.test\r\n"
		"Cc: =?utf-8?b?0JjQstCw0L0=?= <ivan@partner.test>\r\n"
		"Date: Tue, 3 Mar 2026 10:00:00 +0100\r\n"
		"Subject: =?utf-8?q?Quartalsbericht_=E2=80=93_=D0=BE=D1=82=D1=87=D1=91=D1=82?=\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=BOUNDARY\r\n\r\n"
		"--BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 8bit\r\n\r\n"), 0);
	assert_int_equal(sg_buf_append_str(m, text_sample), 0);
	assert_int_equal(sg_buf_append_str(m, "\r\n"), 0);
	for (size_t i = 0; i < sizeof(bin1); i++)
		bin1[i] = (unsigned char)(rand() & 0xff);
	for (size_t i = 0; i < sizeof(bin2); i++)
		bin2[i] = (unsigned char)"hello attachment\n"[i % 17];
	attach(m, "application/octet-stream",
	       "filename*=utf-8''%C3%9Cberblick-%D0%BE%D1%82%D1%87%D1%91%D1%82-%E5%A0%B1%E5%91%8A.bin",
	       bin1, sizeof(bin1));
	attach(m, "text/plain", "filename=\"../../etc/notes.txt\"", bin2, sizeof(bin2));
	attach(m, "text/plain", "filename=\"_.._etc_notes.txt\"", bin1, 10);
	assert_int_equal(sg_buf_append_str(m, "--BOUNDARY--\r\n"), 0);
}

static void full_document(void **state)
{
	(void)state;
	struct sg_buf m;
	main_message(&m);
	build(m.data, m.len, "main.pdf");
	build(m.data, m.len, "main2.pdf");
	sg_buf_free(&m);

	/* Encryption as promised: R6, AES-256 everywhere, all permissions. */
	char *enc = reader("qpdf --password-file=%s/pw --show-encryption-key --show-encryption "
	                   "%s/main.pdf", dir, dir);
	must_contain(enc, "R = 6", "qpdf --show-encryption");
	must_contain(enc, "P = -4", "qpdf --show-encryption");
	must_contain(enc, "stream encryption method: AESv3", "qpdf --show-encryption");
	must_contain(enc, "string encryption method: AESv3", "qpdf --show-encryption");
	must_contain(enc, "Supplied password is user password", "qpdf --show-encryption");
	char *enc2 = reader("qpdf --password-file=%s/pw --show-encryption-key --show-encryption "
	                    "%s/main2.pdf", dir, dir);
	char *k1 = strstr(enc, "Encryption key = "), *k2 = strstr(enc2, "Encryption key = ");
	assert_non_null(k1);
	assert_non_null(k2);
	assert_memory_not_equal(k1, k2, 17 + 64); /* a fresh file key per document */
	char *check = reader("qpdf --check --password-file=%s/pw %s/main.pdf", dir, dir);
	must_contain(check, "No syntax or stream encoding errors", "qpdf --check");
	assert_null(strstr(check, "WARNING"));
	assert_int_equal(sh("qpdf --check --password=wrong %s/main.pdf >/dev/null 2>&1", dir), 2);
	assert_int_equal(sh("head -c 9 %s/main.pdf | grep -q '%%PDF-2.0'", dir), 0);
	sg_free(&enc);
	sg_free(&enc2);
	sg_free(&check);

	/* Text: the header block and every script of the body. */
	char *txt = reader("pdftotext -enc UTF-8 -upw \"$(cat %s/pw)\" %s/main.pdf -", dir, dir);
	static const char *const want[] = {
		"From:", "Jürgen Müller", "juergen@example.test", "To:", "partner@partner.test",
		"Cc:", "Иван", "Date:", "Tue, 3 Mar 2026", "Subject:", "Quartalsbericht – отчёт",
		"Attachments:", "Überblick-отчёт-報告.bin", "68.4 KB", "Reply:",
		"The quick brown fox", "Съешь же ещё этих мягких", "Ξεσκεπάζω την ψυχοφθόρα",
		"مرحبا", "שלום", "我们的报告已经完成", "こんにちは世界", "안녕하세요",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		must_contain(txt, want[i], "pdftotext");
	assert_int_equal(sh("pdftotext -upw wrong %s/main.pdf - >/dev/null 2>&1", dir) != 0, 1);
	sg_free(&txt);

	/* Attachments: names (made safe and unique), bytes exact. */
	char *list = reader("pdfdetach -enc UTF-8 -list -upw \"$(cat %s/pw)\" %s/main.pdf", dir,
	                    dir);
	must_contain(list, "3 embedded files", "pdfdetach -list");
	must_contain(list, "Überblick-отчёт-報告.bin", "pdfdetach -list");
	must_contain(list, "_.._etc_notes.txt", "pdfdetach -list");
	must_contain(list, "_.._etc_notes (2).txt", "pdfdetach -list");
	sg_free(&list);
	assert_int_equal(sh("mkdir %s/att && cd %s/att && pdfdetach -enc UTF-8 -saveall -upw "
	                    "\"$(cat ../pw)\" ../main.pdf", dir, dir), 0);
	spit("bin1", bin1, sizeof(bin1));
	spit("bin2", bin2, sizeof(bin2));
	spit("bin3", bin1, 10);
	assert_int_equal(sh("cmp %s/bin1 '%s/att/Überblick-отчёт-報告.bin'", dir, dir), 0);
	assert_int_equal(sh("cmp %s/bin2 %s/att/_.._etc_notes.txt", dir, dir), 0);
	assert_int_equal(sh("cmp %s/bin3 '%s/att/_.._etc_notes (2).txt'", dir, dir), 0);

	/* The Reply link is a URI annotation; fonts embedded; mupdf renders page 1. */
	char *urls = reader("pdfinfo -url -upw \"$(cat %s/pw)\" %s/main.pdf", dir, dir);
	must_contain(urls, URL, "pdfinfo -url");
	sg_free(&urls);
	char *fonts = reader("pdffonts -upw \"$(cat %s/pw)\" %s/main.pdf", dir, dir);
	must_contain(fonts, "NotoSans", "pdffonts");
	must_contain(fonts, "NotoSansCJKjp", "pdffonts"); /* kana: Japanese Han forms */
	must_contain(fonts, "NotoSansArabic", "pdffonts");
	must_contain(fonts, "NotoSansHebrew", "pdffonts");
	assert_null(strstr(fonts, " no  ")); /* every font embedded */
	sg_free(&fonts);
	assert_int_equal(sh("mutool draw -q -p \"$(cat %s/pw)\" -o %s/p1.png %s/main.pdf 1 "
	                    ">/dev/null 2>&1 && test -s %s/p1.png", dir, dir, dir, dir), 0);
	assert_int_not_equal(sh("mutool draw -q -p wrong -o %s/p2.png %s/main.pdf 1 >/dev/null 2>&1",
	                        dir, dir), 0);
}

/* ---- HTML bodies, Han language hints ---- */

static void html_and_language(void **state)
{
	(void)state;
	static const char msg[] =
		"From: a@example.test\r\nTo: b@partner.test\r\nSubject: html\r\n"
		"Content-Language: zh-TW\r\nMIME-Version: 1.0\r\n"
		"Content-Type: text/html; charset=utf-8\r\n\r\n"
		"<html><head><title>T-SECRET</title><style>p{color:red}</style>"
		"<script>document.write('SCRIPT-TEXT')</script></head><body>"
		"<p>Hello &amp; welcome,<br>see <a href=\"https://example.test/info?a=1&amp;b=2\">our "
		"site</a> and <a href=\"javascript:alert(1)\">this</a>.</p>"
		"<img src=\"https://tracker.example/pixel.gif\" alt=\"logo\">"
		"<ul><li>one</li><li>two</li></ul><p>\xe6\xbc\xa2\xe5\xad\x97</p>"
		"</body></html>\r\n";
	build(msg, sizeof(msg) - 1, "html.pdf");
	char *txt = reader("pdftotext -enc UTF-8 -upw \"$(cat %s/pw)\" %s/html.pdf -", dir, dir);
	must_contain(txt, "Hello & welcome,", "html text");
	must_contain(txt, "our site <https://example.test/info?a=1&b=2>", "html link");
	must_contain(txt, "[logo]", "html alt");
	must_contain(txt, "• one", "html list");
	must_contain(txt, "漢字", "html han");
	assert_null(strstr(txt, "SCRIPT-TEXT"));
	assert_null(strstr(txt, "T-SECRET"));
	assert_null(strstr(txt, "javascript"));
	assert_null(strstr(txt, "tracker"));
	sg_free(&txt);
	char *fonts = reader("pdffonts -upw \"$(cat %s/pw)\" %s/html.pdf", dir, dir);
	must_contain(fonts, "NotoSansCJKtc", "pdffonts (Content-Language: zh-TW)");
	sg_free(&fonts);
}

/* ---- hostile input ---- */

static void hostile(void **state)
{
	(void)state;
	struct sg_buf m;
	sg_buf_init(&m, 8 * 1024 * 1024);
	/* Invalid UTF-8 mid-body must not swallow what follows it. */
	assert_int_equal(sg_buf_append_str(&m, "From: a@example.test\r\nSubject: \xff\xfe bad\r\n"
	                                   "Content-Type: text/plain; charset=utf-8\r\n\r\n"
	                                   "before \xc3\x28 \xff\x01\x02 AFTER-BAD-BYTES\r\n"), 0);
	/* A 2 MB line without spaces (256 KB under valgrind, which preloads its own library). */
	const char *preload = getenv("LD_PRELOAD");
	int line_kb = preload != NULL && strstr(preload, "vgpreload") != NULL ? 256 : 2048;
	for (int i = 0; i < line_kb * 1024 / 64; i++)
		assert_int_equal(sg_buf_append_str(&m, "0123456789abcdef0123456789abcdef"
		                                   "0123456789abcdef0123456789abcdef"), 0);
	assert_int_equal(sg_buf_append_str(&m, "\r\nTHE-END\r\n"), 0);
	build(m.data, m.len, "hostile.pdf");
	char *txt = reader("pdftotext -l 1 -enc UTF-8 -upw \"$(cat %s/pw)\" %s/hostile.pdf -",
	                   dir, dir);
	must_contain(txt, "AFTER-BAD-BYTES", "invalid UTF-8");
	sg_free(&txt);
	sg_buf_free(&m);
	assert_int_equal(sh("qpdf --check --password-file=%s/pw %s/hostile.pdf >/dev/null", dir,
	                    dir), 0);

	/* MIME nested past the limit, and more attachments than allowed: clean refusals. */
	sg_buf_init(&m, 1024 * 1024);
	assert_int_equal(sg_buf_append_str(&m, "From: a@example.test\r\n"), 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(sg_buf_printf(&m, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n"
		                               "--b%d\r\n", i, i), 0);
	assert_int_equal(sg_buf_append_str(&m, "Content-Type: text/plain\r\n\r\ndeep\r\n"), 0);
	struct pdf_options o = {.reply_url = URL};
	unsigned char *pdf = NULL;
	size_t plen;
	const char *err;
	assert_int_equal(pdf_isolate_build(m.data, m.len, key, &o, NULL, &pdf, &plen, &err),
	                 PDF_ERR_REJECT);
	must_contain(err, "nests", "deep MIME error");
	sg_buf_reset(&m);
	assert_int_equal(sg_buf_append_str(&m, "From: a@example.test\r\nContent-Type: multipart/"
	                                   "mixed; boundary=BOUNDARY\r\n\r\n"), 0);
	for (int i = 0; i < 4; i++)
		attach(&m, "application/octet-stream", "filename=x.bin", bin2, 10);
	o.max_attachments = 3;
	assert_int_equal(pdf_build_message(m.data, m.len, key, &o, &pdf, &plen, &err),
	                 PDF_ERR_REJECT);
	must_contain(err, "attachments", "attachment cap error");
	o.max_attachments = 4;
	assert_int_equal(pdf_build_message(m.data, m.len, key, &o, &pdf, &plen, &err), 0);
	sg_free(&pdf);
	o.max_output = 1000; /* smaller than any PDF with fonts */
	assert_int_equal(pdf_build_message(m.data, m.len, key, &o, &pdf, &plen, &err),
	                 PDF_ERR_REJECT);
	must_contain(err, "size limit", "output cap error");
	o = (struct pdf_options){.reply_url = "javascript:alert(1)"};
	assert_int_equal(pdf_build_message(m.data, m.len, key, &o, &pdf, &plen, &err),
	                 PDF_ERR_REJECT);
	sg_buf_free(&m);
}

static void many_attachments(void **state)
{
	(void)state;
	struct sg_buf m;
	sg_buf_init(&m, 4 * 1024 * 1024);
	assert_int_equal(sg_buf_append_str(&m, "From: a@example.test\r\nSubject: 500\r\nContent-Type:"
	                                   " multipart/mixed; boundary=BOUNDARY\r\n\r\n"), 0);
	for (int i = 0; i < 500; i++) {
		char name[64];
		(void)snprintf(name, sizeof(name), "filename=\"file-%03d.txt\"", i);
		attach(&m, "text/plain", name, (const unsigned char *)name, strlen(name));
	}
	build(m.data, m.len, "many.pdf");
	char *list = reader("pdfdetach -list -upw \"$(cat %s/pw)\" %s/many.pdf", dir, dir);
	must_contain(list, "500 embedded files", "pdfdetach 500");
	must_contain(list, "file-499.txt", "pdfdetach 500");
	sg_free(&list);
	attach(&m, "text/plain", "filename=one-too-many", bin2, 1);
	struct pdf_options o = {.reply_url = URL};
	unsigned char *pdf = NULL;
	size_t plen;
	const char *err;
	assert_int_equal(pdf_build_message(m.data, m.len, key, &o, &pdf, &plen, &err),
	                 PDF_ERR_REJECT);
	sg_buf_free(&m);
}

/* ---- isolation ---- */

/* Too little address space to render, enough to start: the exec'd worker dies at once of its
 * first failed allocation or thread stack (pdf_nomem.c: "out of memory"), and the caller defers.
 * The same message then builds with the default limit, so the limit alone is why the worker
 * died. Before pdf_nomem.c, where the address space ran out (so the load and the libraries the
 * binary links) decided between: pango waiting forever for an FcFontSetSort that failed ("timed
 * out" after wall_seconds), cairo dropping a font and a PDF without its CJK text (rc 0), and
 * g_error on a thread stack (SIGTRAP). */
#define TIGHT_MB 100

static void worker_limits(void **state)
{
	(void)state;
	struct sg_buf m;
	main_message(&m);
	struct pdf_options o = {.reply_url = URL};
	unsigned char *pdf = NULL;
	size_t plen;
	const char *err = NULL;
#if !defined(__SANITIZE_ADDRESS__)
	struct pdf_limits tight = {.mem_bytes = TIGHT_MB * 1024 * 1024, .wall_seconds = 60};
	assert_int_equal(pdf_isolate_build(m.data, m.len, key, &o, &tight, &pdf, &plen, &err),
	                 PDF_ERR_DEFER);
	assert_null(pdf);
	if (strstr(err, "out of memory") == NULL)
		fail_msg("the worker should have died of its %d MB limit while rendering, but: %s",
		         TIGHT_MB, err);
#endif
	/* The caller is unharmed and the next build works. */
	assert_int_equal(pdf_isolate_build(m.data, m.len, key, &o, NULL, &pdf, &plen, &err), 0);
	assert_true(plen > 1000);
	sg_free(&pdf);
	sg_buf_free(&m);
}

static int setup(void **state)
{
	(void)state;
	const char *err;
	if (mkdtemp(dir) == NULL || pdf_key_derive(PW, 12, &key, &err) < 0)
		return -1;
	/* Every worker is exec'd, as qmgr's are: this binary answers "__pdf-worker" (main). By its
	 * name, not /proc/self/exe, which under valgrind is valgrind (readlink tells the truth). */
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	pdf_isolate_set_exec(self);
	char path[256];
	(void)snprintf(path, sizeof(path), "%s/pw", dir);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "%s\n", PW);
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pdf_key_free(&key);
	if (getenv("SEALGATE_KEEP_PDF") == NULL)
		(void)sh("rm -rf %s", dir);
	else
		fprintf(stderr, "PDFs kept in %s\n", dir);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "__pdf-worker") == 0)
		return pdf_isolate_worker_main();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_document),
		cmocka_unit_test(html_and_language),
		cmocka_unit_test(hostile),
		cmocka_unit_test(many_attachments),
		cmocka_unit_test(worker_limits),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
