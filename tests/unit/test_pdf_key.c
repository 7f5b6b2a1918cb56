/* test_pdf_key.c: the partner record {U, K}: passwords refused with a reason, Algorithm 2.B
 * known answers against files that qpdf encrypted itself, and the round trip of a derived key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_mem.h"
#include "pdf/pdf.h"
#include "pdf/pdf_priv.h"

#include <openssl/evp.h>
#include <qpdf/qpdf-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void refusals(void **state)
{
	(void)state;
	static const struct {
		const char *pw;
		const char *why; /* a word the reason must contain */
	} bad[] = {
		{"short-pw", "too short"},
		{"\xff\xfe-not-utf8-at-all", "UTF-8"},
		{"\xef\xac\x81rst-password-1", "SASLprep"},         /* U+FB01 ligature fi */
		{"pass\xc2\xa0word-12345", "SASLprep"},             /* no-break space */
		{"Pa\xcc\x88sswort-12345", "SASLprep"},              /* NFD a + combining diaeresis */
		{"\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3-password", "SASLprep"}, /* full-width ABC */
		{"password\x01-12345", "may not hold"},              /* control character */
		{"", "too short"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *err = NULL;
		struct pdf_key *key = NULL;
		assert_int_equal(pdf_key_derive(bad[i].pw, 12, &key, &err), -1);
		assert_null(key);
		assert_non_null(err);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("password %zu: reason \"%s\" lacks \"%s\"", i, err, bad[i].why);
	}
	char longpw[200];
	memset(longpw, 'a', 128);
	longpw[128] = '\0';
	const char *err;
	assert_int_equal(pdf_key_check_password(longpw, 12, &err), -1);
	assert_non_null(strstr(err, "127 bytes"));
	longpw[127] = '\0';
	assert_int_equal(pdf_key_check_password(longpw, 12, &err), 0);
	/* NFC non-ASCII passes unchanged; the minimum counts characters, not bytes. */
	assert_int_equal(pdf_key_check_password("P\xc3\xa4sswort-\xd0\xa2\xd0\xb5\xd1\x81\xd1\x82", 12,
	                                        &err), 0);
	assert_int_equal(pdf_key_check_password("\xe5\xaf\x86\xe7\xa0\x81\xe5\xaf\x86\xe7\xa0\x81", 5,
	                                        &err), -1);
	assert_int_equal(pdf_key_check_password("\xe5\xaf\x86\xe7\xa0\x81\xe5\xaf\x86\xe7\xa0\x81", 4,
	                                        &err), 0);
}

static void roundtrip(void **state)
{
	(void)state;
	const char *err;
	struct pdf_key *a, *b, *c;
	const char *pw = "correct horse battery \xe2\x9c\x93";
	assert_int_equal(pdf_key_derive(pw, 12, &a, &err), 0);
	assert_int_equal(pdf_key_derive(pw, 12, &b, &err), 0);
	assert_true(pdf_key_verify_password(a, pw));
	assert_false(pdf_key_verify_password(a, "correct horse battery"));
	assert_memory_not_equal(a->u, b->u, PDF_KEY_U_LEN); /* fresh salts each time */
	unsigned char bytes[PDF_KEY_LEN];
	pdf_key_to_bytes(a, bytes);
	assert_int_equal(pdf_key_from_bytes(bytes, sizeof(bytes), &c, &err), 0);
	assert_memory_equal(c->u, a->u, PDF_KEY_U_LEN);
	assert_memory_equal(c->k, a->k, PDF_KEY_K_LEN);
	pdf_key_free(&c);
	assert_int_equal(pdf_key_from_bytes(bytes, sizeof(bytes) - 1, &c, &err), -1);
	assert_null(c);
	pdf_key_free(&a);
	pdf_key_free(&b);
	pdf_key_free(&c);
	assert_null(a);
	pdf_key_free(&a); /* NULL is fine */
}

/* ---- known answers: qpdf encrypts, we recompute U and unwrap UE to qpdf's file key ---- */

static char *run_capture(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	static char out[8192];
	size_t n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	assert_int_equal(pclose(f), 0);
	return out;
}

static void encrypt_entry(const char *path, const char *key, unsigned char *buf, size_t want)
{
	qpdf_data q = qpdf_init();
	qpdf_silence_errors(q);
	assert_int_equal(qpdf_read(q, path, "owner-secret") & QPDF_ERRORS, 0);
	qpdf_oh enc = qpdf_oh_get_key(q, qpdf_get_trailer(q), "/Encrypt");
	size_t n = 0;
	const char *v = qpdf_oh_get_binary_string_value(q, qpdf_oh_get_key(q, enc, key), &n);
	assert_true(n >= want);
	memcpy(buf, v, want);
	qpdf_cleanup(&q);
}

static void kat_one(const char *pw, const char *dir)
{
	char path[256], cmd[1024], pwfile[256];
	(void)snprintf(path, sizeof(path), "%s/kat.pdf", dir);
	(void)snprintf(pwfile, sizeof(pwfile), "%s/pw", dir);
	FILE *f = fopen(pwfile, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", pw);
	fclose(f);
	(void)snprintf(cmd, sizeof(cmd),
	               "qpdf --empty --encrypt \"$(cat %s)\" owner-secret 256 -- %s", pwfile, path);
	assert_int_equal(system(cmd), 0);
	unsigned char u[48], ue[32];
	encrypt_entry(path, "/U", u, 48);
	encrypt_entry(path, "/UE", ue, 32);
	/* Algorithm 2.A: our 2.B over the validation salt reproduces U[0..31]. */
	unsigned char h[32], k[32];
	pdf_r6_hash((const unsigned char *)pw, strlen(pw), u + 32, NULL, 0, h);
	assert_memory_equal(h, u, 32);
	/* K over the key salt unwraps UE to the file key qpdf reports. */
	pdf_r6_hash((const unsigned char *)pw, strlen(pw), u + 40, NULL, 0, k);
	unsigned char fk[32];
	int l1 = 0, l2 = 0;
	static const unsigned char iv[16];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	assert_int_equal(EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, k, iv), 1);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	assert_int_equal(EVP_DecryptUpdate(ctx, fk, &l1, ue, 32), 1);
	assert_int_equal(EVP_DecryptFinal_ex(ctx, fk + l1, &l2), 1);
	EVP_CIPHER_CTX_free(ctx);
	char hex[65];
	for (int i = 0; i < 32; i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", fk[i]);
	(void)snprintf(cmd, sizeof(cmd),
	               "qpdf --password-file=%s --show-encryption-key --show-encryption %s", pwfile,
	               path);
	char *out = run_capture(cmd);
	char want[100];
	(void)snprintf(want, sizeof(want), "Encryption key = %s", hex);
	if (strstr(out, want) == NULL)
		fail_msg("qpdf says:\n%s\nwe computed %s", out, hex);
	/* And a record built from U and K verifies the password. */
	struct pdf_key key;
	memcpy(key.u, u, 48);
	memcpy(key.k, k, 32);
	assert_true(pdf_key_verify_password(&key, pw));
	assert_false(pdf_key_verify_password(&key, "wrong"));
}

static void kat_qpdf(void **state)
{
	(void)state;
	char dir[] = "/tmp/sg-pdfkey-XXXXXX";
	assert_non_null(mkdtemp(dir));
	kat_one("P\xc3\xa4ssw\xc3\xb6rd-\xd0\xa2\xd0\xb5\xd1\x81\xd1\x82-\xe5\xaf\x86\xe7\xa0\x81", dir);
	kat_one("plain-ascii-password", dir);
	kat_one("x", dir); /* short: the SHA-384/512 branches get exercised across salts */
	char cmd[300];
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(refusals),
		cmocka_unit_test(roundtrip),
		cmocka_unit_test(kat_qpdf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
