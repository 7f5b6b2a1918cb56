/* test_mime_build.c: messages sealgate writes (mime_build_message), read back with GMime's
 * parser: 7-bit, CRLF, the text and binary attachments byte-exact, header text encoded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_buf.h"
#include "mime/mime.h"

#include <gmime/gmime.h>
#include <string.h>

static GMimeMessage *parse(const struct sg_buf *b)
{
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(b->data, b->len);
	GMimeParser *p = g_mime_parser_new_with_stream(s);
	GMimeMessage *m = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(s);
	assert_non_null(m);
	return m;
}

/* The decoded content of part. */
static GByteArray *content(GMimeObject *part)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(GMIME_PART(part));
	GMimeStream *out = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(dw, out);
	GByteArray *ba = g_byte_array_new();
	GByteArray *src = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
	g_byte_array_append(ba, src->data, src->len);
	g_object_unref(out);
	return ba;
}

static void seven_bit_crlf(const struct sg_buf *b)
{
	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];
		assert_true(c < 0x80);
		if (c == '\n')
			assert_true(i > 0 && b->data[i - 1] == '\r');
		if (c == '\r')
			assert_true(i + 1 < b->len && b->data[i + 1] == '\n');
	}
}

static void text_and_attachments_round_trip(void **state)
{
	(void)state;
	unsigned char bin[3000];
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)(i * 7 + (i % 13 == 0 ? '\r' : 0) + (i % 17 == 0 ? '\n' : 0));
	const char crlf[] = "a\r\nb\n\r\nline with \xc3\xa4 and =3D\r\n.\r\nend";
	struct mime_attachment att[] = {
		{"\xc3\x9c" "bersicht <x>.bin", "application/pdf", bin, sizeof(bin)},
		{"empty.txt", NULL, "", 0},
		{"lf.txt", "text/plain", "one\ntwo\r\nthree\n", 15},
	};
	struct mime_build mb = {.from = "partner@outside.test", .to = "alice@example.com",
	                        .subject = "Gr\xc3\xbc\xc3\x9f" "e <script>",
	                        .text = crlf, .in_reply_to = "abc@example.com",
	                        .msgid_domain = "gw.example.com", .att = att, .natt = 3};
	struct sg_buf out;
	sg_buf_init(&out, 1024 * 1024);
	const char *err;
	assert_int_equal(mime_build_message(&mb, &out, &err), 0);
	seven_bit_crlf(&out);
	assert_non_null(memmem(out.data, out.len, "In-Reply-To: <abc@example.com>", 30));
	GMimeMessage *m = parse(&out);
	assert_string_equal(g_mime_message_get_subject(m), "Gr\xc3\xbc\xc3\x9f" "e <script>");
	GMimeMultipart *mp = GMIME_MULTIPART(g_mime_message_get_mime_part(m));
	assert_int_equal(g_mime_multipart_get_count(mp), 4);
	GByteArray *t = content(g_mime_multipart_get_part(mp, 0));
	/* The text keeps its lines; line ends are CRLF on the wire. */
	const char want[] = "a\r\nb\r\n\r\nline with \xc3\xa4 and =3D\r\n.\r\nend";
	assert_int_equal(t->len, strlen(want));
	assert_memory_equal(t->data, want, t->len);
	g_byte_array_unref(t);
	for (int i = 0; i < 3; i++) {
		GMimeObject *p = g_mime_multipart_get_part(mp, i + 1);
		GByteArray *a = content(p);
		assert_int_equal(a->len, att[i].len);
		if (a->len > 0)
			assert_memory_equal(a->data, att[i].data, a->len);
		assert_string_equal(g_mime_part_get_filename(GMIME_PART(p)), att[i].filename);
		g_byte_array_unref(a);
	}
	GMimeContentType *ct = g_mime_object_get_content_type(g_mime_multipart_get_part(mp, 1));
	char *type = g_mime_content_type_get_mime_type(ct);
	assert_string_equal(type, "application/pdf");
	g_free(type);
	g_object_unref(m);
	sg_buf_free(&out);
}

static void refusals(void **state)
{
	(void)state;
	struct sg_buf out;
	const char *err;
	sg_buf_init(&out, 1024);
	struct mime_build mb = {.from = "a@b.test", .to = "", .text = "x"};
	assert_int_equal(mime_build_message(&mb, &out, &err), -1);
	mb.to = "c@d.test";
	unsigned char big[4096] = {0};
	struct mime_attachment a = {"big", NULL, big, sizeof(big)};
	mb.att = &a;
	mb.natt = 1;
	assert_int_equal(mime_build_message(&mb, &out, &err), -1); /* over out's ceiling */
	sg_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text_and_attachments_round_trip),
		cmocka_unit_test(refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
