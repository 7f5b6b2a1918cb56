/* test_mime_headers.c: byte-exact header edits and the pass-through transform. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_buf.h"
#include "mime/mime.h"
#include "policy/policy.h"
#include "queue/transform.h"

#include <stdlib.h>
#include <string.h>

static const char msg[] = "Received: from x\r\n\tby y\r\n"
                          "X-Sealgate-Security: signature=valid (forged)\r\n"
                          "Subject: [secure] Quarterly figures\r\n"
                          "x-sealgate-other: 1\r\n"
                          "MIME-Version: 1.0\r\n"
                          "Content-Type: text/plain;\r\n charset=utf-8\r\n"
                          "Bcc: hidden@example.net\r\n"
                          "\r\nbody line\r\n.dot\r\n";

static char *edit(const struct mime_edit *e)
{
	struct sg_buf b;
	sg_buf_init(&b, 1 << 20);
	const char *err;
	assert_int_equal(mime_edit_apply(msg, strlen(msg), e, &b, &err), 0);
	return sg_buf_steal(&b, NULL);
}

static void fields_with_folds(void **state)
{
	(void)state;
	struct mime_field f;
	size_t pos = 0, n = 0;
	size_t hlen = mime_header_block_len(msg, strlen(msg), strlen(msg));
	while (mime_field_next(msg, hlen, &pos, &f)) {
		if (n == 0)
			assert_int_equal(f.len, strlen("Received: from x\r\n\tby y\r\n"));
		n++;
	}
	assert_int_equal(n, 7);
	assert_memory_equal(msg + pos, "\r\nbody", 6);
}

static void drop_foreign_and_keep_body(void **state)
{
	(void)state;
	static const char *const drop[] = {"X-Sealgate-*", "Bcc"};
	struct mime_edit e = {.drop = drop, .ndrop = 2, .with_body = true};
	char *out = edit(&e);
	assert_null(strstr(out, "X-Sealgate"));
	assert_null(strcasestr(out, "x-sealgate"));
	assert_null(strstr(out, "Bcc:"));
	assert_non_null(strstr(out, "Received: from x\r\n\tby y\r\n"));
	assert_non_null(strstr(out, "Content-Type: text/plain;\r\n charset=utf-8\r\n\r\nbody line\r\n.dot\r\n"));
	free(out);
}

static void partition_content_and_outer(void **state)
{
	(void)state;
	struct mime_edit inner = {.keep = MIME_KEEP_CONTENT, .with_body = true};
	char *out = edit(&inner);
	assert_string_equal(out, "MIME-Version: 1.0\r\nContent-Type: text/plain;\r\n charset=utf-8\r\n"
	                         "\r\nbody line\r\n.dot\r\n");
	free(out);
	struct mime_edit outer = {.keep = MIME_KEEP_OUTER, .prepend = "X-New: 1\r\n"};
	out = edit(&outer);
	assert_true(strncmp(out, "X-New: 1\r\nReceived:", 19) == 0);
	assert_null(strstr(out, "Content-Type"));
	assert_null(strstr(out, "body line"));
	free(out);
}

static void subject_tag_removed(void **state)
{
	(void)state;
	struct mime_edit e = {.subject_tag = "[SECURE]", .with_body = true};
	char *out = edit(&e);
	assert_non_null(strstr(out, "Subject: Quarterly figures\r\n"));
	free(out);
}

static void subject_tag_inside_encoded_word(void **state)
{
	(void)state;
	const char *m = "Subject: =?utf-8?q?=5Bsecure=5D_Gr=C3=BC=C3=9Fe?=\r\n\r\nx\r\n";
	struct sg_buf b;
	sg_buf_init(&b, 4096);
	struct mime_edit e = {.subject_tag = "[secure]", .with_body = true};
	const char *err;
	assert_int_equal(mime_edit_apply(m, strlen(m), &e, &b, &err), 0);
	assert_null(strstr(b.data, "5Bsecure"));
	struct mime_info info;
	assert_int_equal(mime_info_parse(b.data, b.len, &info, &err), 0);
	assert_string_equal(info.subject, "Grüße");
	mime_info_free(&info);
	sg_buf_free(&b);
}

static void pass_transform_strips_only_when_needed(void **state)
{
	(void)state;
	struct policy_plan plan = {.action = POLICY_PASS, .route = "maildir:x"};
	const char *clean = "Subject: hi\r\n\r\nbody\r\n";
	struct transform_input in = {.data = clean, .len = strlen(clean), .plan = &plan};
	struct transform_output out;
	transform_output_init(&out);
	assert_int_equal(transform_run(NULL, &in, &out), TRANSFORM_OK);
	assert_ptr_equal(out.data, clean); /* no copy */
	transform_output_free(&out);
	in.data = msg;
	in.len = strlen(msg);
	transform_output_init(&out);
	assert_int_equal(transform_run(NULL, &in, &out), TRANSFORM_OK);
	assert_ptr_not_equal(out.data, msg);
	assert_null(strcasestr(out.data, "x-sealgate"));
	assert_non_null(strstr(out.data, "Bcc: hidden"));
	transform_output_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fields_with_folds),
		cmocka_unit_test(drop_foreign_and_keep_body),
		cmocka_unit_test(partition_content_and_outer),
		cmocka_unit_test(subject_tag_removed),
		cmocka_unit_test(subject_tag_inside_encoded_word),
		cmocka_unit_test(pass_transform_strips_only_when_needed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
