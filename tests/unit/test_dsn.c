/* test_dsn.c: the bounce message, read back with GMime: multipart/report with its three
 * parts and the RFC 3464 fields; never to the null sender; hostile text cannot add headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/limits.h"
#include "core/sg_buf.h"
#include "mime/mime.h"
#include "queue/qmgr.h"

#include <gmime/gmime.h>
#include <string.h>

static const char orig_headers[] = "Received: from a by b\r\n"
                                   "From: <alice@example.test>\r\n"
                                   "Subject: quarterly report\r\n"
                                   "Message-ID: <m1@example.test>\r\n"
                                   "\r\n";

static const struct dsn_rcpt two[] = {
	{.addr = "bob@partner.test", .orcpt = "rfc822;Bob@partner.test", .status = "5.1.1",
	 .remote_mta = "mx.partner.test[192.0.2.1]:25",
	 .diagnostic = "550 5.1.1 <bob@partner.test>: User unknown", .diag_smtp = true},
	{.addr = "carol@partner.test", .status = "4.4.7",
	 .diagnostic = "delivery time expired\r\nBcc: evil@x.test", .diag_smtp = false},
};

static struct dsn_input input(const char *sender)
{
	return (struct dsn_input){.hostname = "gw.example.test", .queue_id = "ABC123",
	                          .sender = sender, .arrival = 1700000000, .now = 1700000100,
	                          .rcpts = two, .nrcpt = 2, .headers = orig_headers,
	                          .headers_len = sizeof(orig_headers) - 1};
}

static char *part_text(GMimeObject *part)
{
	GMimeStream *mem = g_mime_stream_mem_new();
	if (GMIME_IS_PART(part)) {
		GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(part));
		g_mime_data_wrapper_write_to_stream(w, mem);
	} else {
		g_mime_object_write_to_stream(part, NULL, mem);
	}
	GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	char *s = g_strndup((const char *)ba->data, ba->len);
	g_object_unref(mem);
	return s;
}

static void build_and_parse(void **state)
{
	(void)state;
	struct sg_buf b;
	sg_buf_init(&b, 1024 * 1024);
	struct dsn_input in = input("alice@example.test");
	const char *err;
	assert_int_equal(dsn_build(&in, &b, &err), 0);
	assert_null(strstr(b.data, "\r\nBcc:"));          /* no header injection */
	assert_null(memchr(b.data, '\0', b.len));

	mime_init();
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(b.data, b.len);
	GMimeParser *p = g_mime_parser_new_with_stream(s);
	GMimeMessage *msg = g_mime_parser_construct_message(p, NULL);
	assert_non_null(msg);
	InternetAddressList *from = g_mime_message_get_from(msg);
	assert_string_equal(internet_address_mailbox_get_addr(
	                        INTERNET_ADDRESS_MAILBOX(internet_address_list_get_address(from, 0))),
	                    "MAILER-DAEMON@gw.example.test");
	assert_string_equal(g_mime_object_get_header(GMIME_OBJECT(msg), "Auto-Submitted"),
	                    "auto-replied");
	GMimeObject *top = g_mime_message_get_mime_part(msg);
	assert_true(GMIME_IS_MULTIPART(top));
	GMimeContentType *ct = g_mime_object_get_content_type(top);
	assert_true(g_mime_content_type_is_type(ct, "multipart", "report"));
	assert_string_equal(g_mime_content_type_get_parameter(ct, "report-type"), "delivery-status");
	GMimeMultipart *mp = GMIME_MULTIPART(top);
	assert_int_equal(g_mime_multipart_get_count(mp), 3);

	GMimeObject *p0 = g_mime_multipart_get_part(mp, 0);
	assert_true(g_mime_content_type_is_type(g_mime_object_get_content_type(p0), "text", "plain"));
	char *text = part_text(p0);
	assert_non_null(strstr(text, "<bob@partner.test>: 550 5.1.1"));
	assert_non_null(strstr(text, "What you can do"));
	g_free(text);

	GMimeObject *p1 = g_mime_multipart_get_part(mp, 1);
	assert_true(g_mime_content_type_is_type(g_mime_object_get_content_type(p1), "message",
	                                        "delivery-status"));
	char *ds = part_text(p1);
	static const char *const fields[] = {
		"Reporting-MTA: dns; gw.example.test",
		"Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000",
		"Final-Recipient: rfc822; bob@partner.test",
		"Original-Recipient: rfc822;Bob@partner.test",
		"Action: failed",
		"Status: 5.1.1",
		"Remote-MTA: dns; mx.partner.test\r\n",
		"Diagnostic-Code: smtp; 550 5.1.1 <bob@partner.test>: User unknown",
		"Final-Recipient: rfc822; carol@partner.test",
		"Status: 4.4.7",
		"Diagnostic-Code: x-sealgate; delivery time expired??Bcc: evil@x.test",
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strstr(ds, fields[i]) == NULL)
			fail_msg("missing in delivery-status: %s\n%s", fields[i], ds);
	g_free(ds);

	GMimeObject *p2 = g_mime_multipart_get_part(mp, 2);
	assert_true(g_mime_content_type_is_type(g_mime_object_get_content_type(p2), "text",
	                                        "rfc822-headers"));
	char *hdrs = part_text(p2);
	assert_non_null(strstr(hdrs, "Subject: quarterly report"));
	assert_non_null(strstr(hdrs, "Message-ID: <m1@example.test>"));
	g_free(hdrs);

	g_object_unref(msg);
	g_object_unref(p);
	g_object_unref(s);
	sg_buf_free(&b);
}

static void never_to_null_sender(void **state)
{
	(void)state;
	struct sg_buf b;
	sg_buf_init(&b, 1024 * 1024);
	const char *err;
	struct dsn_input in = input("");
	assert_int_equal(dsn_build(&in, &b, &err), -1);
	in = input("a\r\nBcc: x@y@example.test");
	assert_int_equal(dsn_build(&in, &b, &err), -1);
	in = input("alice@example.test");
	in.nrcpt = 0;
	assert_int_equal(dsn_build(&in, &b, &err), -1);
	assert_int_equal(b.len, 0);
	assert_false(dsn_sender_usable(""));
	assert_true(dsn_sender_usable("alice@example.test"));
	sg_buf_free(&b);
}

static void too_large(void **state)
{
	(void)state;
	struct sg_buf b;
	sg_buf_init(&b, 600);
	const char *err;
	struct dsn_input in = input("alice@example.test");
	assert_int_equal(dsn_build(&in, &b, &err), -1);
	assert_string_equal(err, "DSN too large");
	sg_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(build_and_parse),
		cmocka_unit_test(never_to_null_sender),
		cmocka_unit_test(too_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
