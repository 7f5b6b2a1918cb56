/* test_enrol.c: the enrolment module's pure parts: the ZIP writer (read back with libzip: the
 * names, the bytes, deflate, the output ceiling), link tokens and .pfx file names. */
#include "core/sg_buf.h"
#include "enrol/enrol.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include <cmocka.h>

/* Reads entry name of the archive in b into out (size bytes); its length, or -1. */
static zip_int64_t read_entry(const struct sg_buf *b, const char *name, char *out, size_t size,
                              zip_uint16_t *method_r)
{
	zip_error_t ze;
	zip_error_init(&ze);
	zip_source_t *src = zip_source_buffer_create(b->data, b->len, 0, &ze);
	zip_t *za = src != NULL ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze) : NULL;
	zip_int64_t n = -1;
	zip_stat_t st;
	if (za != NULL && zip_stat(za, name, 0, &st) == 0) {
		*method_r = st.comp_method;
		zip_file_t *f = zip_fopen(za, name, 0);
		if (f != NULL) {
			n = zip_fread(f, out, size);
			zip_fclose(f);
		}
	}
	if (za != NULL)
		zip_close(za);
	else if (src != NULL)
		zip_source_free(src);
	zip_error_fini(&ze);
	return n;
}

static void zip_round_trip(void **state)
{
	(void)state;
	char big[20000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 7);
	const unsigned char bin[] = {0x30, 0x82, 0x00, 0xff, 0x00, 0x01};
	struct enrol_zip_entry e[] = {
		{"alice@example.com_2026-12-05_2027-12-05.pfx", bin, sizeof(bin)},
		{"README.txt", big, sizeof(big)},
	};
	struct sg_buf b;
	sg_buf_init(&b, 1024 * 1024);
	const char *err = NULL;
	assert_int_equal(enrol_zip_write(e, 2, &b, &err), 0);
	assert_memory_equal(b.data, "PK\x03\x04", 4);
	assert_true(b.len < sizeof(big)); /* deflated */
	char out[30000];
	zip_uint16_t method = 0;
	assert_int_equal(read_entry(&b, e[0].name, out, sizeof(out), &method), sizeof(bin));
	assert_memory_equal(out, bin, sizeof(bin));
	assert_int_equal(read_entry(&b, "README.txt", out, sizeof(out), &method), sizeof(big));
	assert_memory_equal(out, big, sizeof(big));
	assert_int_equal(method, ZIP_CM_DEFLATE);
	assert_int_equal(read_entry(&b, "missing", out, sizeof(out), &method), -1);
	sg_buf_free(&b);
}

static void zip_ceiling(void **state)
{
	(void)state;
	char data[4096];
	memset(data, 'x', sizeof(data));
	struct enrol_zip_entry e[] = {{"a.txt", data, sizeof(data)}};
	struct sg_buf b;
	sg_buf_init(&b, 64); /* far smaller than any archive */
	const char *err = NULL;
	assert_int_equal(enrol_zip_write(e, 1, &b, &err), -1);
	assert_non_null(err);
	sg_buf_free(&b);
}

static void token_hash(void **state)
{
	(void)state;
	char h[STORE_ENROL_HASH_HEX], h2[STORE_ENROL_HASH_HEX];
	const char *tok = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	assert_true(enrol_token_hash(tok, h));
	assert_true(enrol_token_hash(tok, h2));
	assert_string_equal(h, h2);
	assert_int_equal(strlen(h), 64);
	assert_string_not_equal(h, tok);
	assert_false(enrol_token_hash("0123", h));
	assert_false(enrol_token_hash("0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
	                              h));
	assert_false(enrol_token_hash("../../etc/passwd", h));
	assert_false(enrol_token_hash(NULL, h));
}

static void pfx_name(void **state)
{
	(void)state;
	struct store_cert c = {.not_before = 1796428800 /* 2026-12-05 */,
	                       .not_after = 1827964800 /* 2027-12-05 */};
	snprintf(c.address, sizeof(c.address), "alice@example.com");
	char name[128];
	enrol_pfx_name(&c, name, sizeof(name));
	assert_string_equal(name, "alice@example.com_2026-12-05_2027-12-05.pfx");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(zip_round_trip),
		cmocka_unit_test(zip_ceiling),
		cmocka_unit_test(token_hash),
		cmocka_unit_test(pfx_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
