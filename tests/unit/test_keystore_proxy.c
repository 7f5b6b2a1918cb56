/* test_keystore_proxy.c: private keys through the key holder (keystore_proxy.h), over the
 * in-process loopback of keyd_client (keyd's dispatch and handlers, the same bytes as over
 * its socket). A proxy key signs, decrypts and
 * derives like the real key (RSA PKCS#1 v1.5 signatures are deterministic: byte for byte), CMS
 * signs and decrypts with it, a forgotten handle is reloaded, and a lost, cut or refused reply
 * is a clean failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_mem.h"
#include "crypto/ca.h"
#include "crypto/keystore.h"
#include "crypto/keystore_priv.h"
#include "crypto/keystore_proxy.h"
#include "keyd/keyd_client.h"
#include "keyd/keyd_proxy.h"
#include "keyd/keyd_server.h"
#include "unit_keystore.h"

#include <openssl/cms.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];
static struct keystore *ks;
static struct keystore_key *real[2]; /* RSA-3072, P-256 */
static unsigned char *blob[2];
static size_t blob_len[2];
static const char *owners[2] = {"cert:rsa-test", "cert:ec-test"};

/* A key holder in this process that can be made to fail (faulty_call below); the other
 * tests go through keyd's own code. */
static struct keystore_key *held[8];
static size_t nheld;

static void forget_all(void)
{
	for (size_t i = 0; i < nheld; i++)
		keystore_key_free(&held[i]);
	nheld = 0;
}

static int holder_load(const unsigned char *b, size_t len, const char *owner, bool again,
                       uint32_t *handle_r,
                       unsigned char **spki_r, size_t *spki_len_r, const char **error_r)
{
	(void)again;
	struct keystore_key *k = NULL;
	if (nheld == 8 || keystore_unseal(ks, b, len, owner, &k, error_r) < 0)
		return -1;
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(keystore_key_pkey(k), &der);
	*spki_r = sg_memdup(der, (size_t)n);
	*spki_len_r = (size_t)n;
	OPENSSL_free(der);
	held[nheld++] = k;
	*handle_r = (uint32_t)nheld;
	return 0;
}

static int holder_call(enum keystore_proxy_op op, uint32_t handle, const char *param,
                       const unsigned char *in, size_t len, unsigned char *out, size_t *out_len,
                       const char **error_r)
{
	if (handle == 0 || handle > nheld)
		return 1;
	const struct keystore_key *k = held[handle - 1];
	return op == KEYSTORE_PROXY_SIGN    ? keystore_key_sign_digest(k, param, in, len, out, out_len, error_r)
	       : op == KEYSTORE_PROXY_DECRYPT ? keystore_key_decrypt(k, param, in, len, out, out_len, error_r)
	                                      : keystore_key_derive(k, in, len, out, out_len, error_r);
}


static int setup(void **state)
{
	(void)state;
	const char *err;
	snprintf(dir, sizeof(dir), "/tmp/sg-kproxy-XXXXXX");
	if (mkdtemp(dir) == NULL || unit_keystore_new(dir, &ks) < 0 ||
	    keystore_key_generate(KEYSTORE_KEY_RSA3072, &real[0], &err) < 0 ||
	    keystore_key_generate(KEYSTORE_KEY_P256, &real[1], &err) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (keystore_seal(ks, real[i], owners[i], &blob[i], &blob_len[i], &err) < 0)
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	for (int i = 0; i < 2; i++) {
		keystore_key_free(&real[i]);
		sg_free(&blob[i]);
	}
	forget_all();
	keystore_close(&ks);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* NULL: through keyd's code (keyd_callv, served in process by keyd's dispatch); else these */
static const struct keystore_proxy_ops *ops;

static struct keystore_key *proxy(int i)
{
	struct keystore_key *k = NULL;
	const char *err = NULL;
	int rc = ops != NULL ? keystore_proxy_unseal(ops, blob[i], blob_len[i], owners[i], &k, &err)
	                     : keyd_proxy_unseal_key(blob[i], blob_len[i], owners[i], &k, &err);
	assert_int_equal(rc, 0);
	return k;
}

/* EVP_PKEY_sign of a SHA-256 digest; 0 on failure */
static size_t sign(EVP_PKEY *pk, const unsigned char dg[32], unsigned char *sig, size_t size)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
	size_t n = size;
	int ok = c != NULL && EVP_PKEY_sign_init(c) == 1 &&
	         (!EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1) &&
	         EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1 &&
	         EVP_PKEY_sign(c, sig, &n, dg, 32) == 1;
	EVP_PKEY_CTX_free(c);
	return ok ? n : 0;
}

static bool verify(EVP_PKEY *pk, const unsigned char dg[32], const unsigned char *sig, size_t n)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
	bool ok = c != NULL && EVP_PKEY_verify_init(c) == 1 &&
	          EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1 &&
	          EVP_PKEY_verify(c, sig, n, dg, 32) == 1;
	EVP_PKEY_CTX_free(c);
	return ok;
}

static void proxy_signs_like_the_real_key(void **state)
{
	(void)state;
	unsigned char dg[32], s1[512], s2[512];
	memset(dg, 0x5a, sizeof(dg));
	for (int i = 0; i < 2; i++) {
		struct keystore_key *k = proxy(i);
		EVP_PKEY *pk = keystore_key_pkey(k), *rk = keystore_key_pkey(real[i]);
		assert_int_equal(EVP_PKEY_eq(pk, rk), 1);
		size_t n1 = sign(pk, dg, s1, sizeof(s1)), n2 = sign(rk, dg, s2, sizeof(s2));
		assert_true(n1 > 0 && n2 > 0);
		assert_true(verify(rk, dg, s1, n1));
		if (i == 0) /* PKCS#1 v1.5 is deterministic */
			assert_memory_equal(s1, s2, n1);
		keystore_key_free(&k);
	}
}

static size_t rsa_crypt(EVP_PKEY *pk, bool enc, bool oaep, const unsigned char *in, size_t len,
                        unsigned char *out, size_t size)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
	size_t n = size;
	int ok = c != NULL && (enc ? EVP_PKEY_encrypt_init(c) : EVP_PKEY_decrypt_init(c)) == 1 &&
	         EVP_PKEY_CTX_set_rsa_padding(c, oaep ? RSA_PKCS1_OAEP_PADDING : RSA_PKCS1_PADDING) == 1 &&
	         (!oaep || EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) == 1) &&
	         (enc ? EVP_PKEY_encrypt(c, out, &n, in, len) : EVP_PKEY_decrypt(c, out, &n, in, len)) == 1;
	EVP_PKEY_CTX_free(c);
	return ok ? n : 0;
}

static void proxy_decrypts_pkcs1_and_oaep(void **state)
{
	(void)state;
	struct keystore_key *k = proxy(0);
	unsigned char ct[512], pt[512];
	const unsigned char secret[] = "a 32-byte content-encryption key";
	for (int oaep = 0; oaep < 2; oaep++) {
		size_t n = rsa_crypt(keystore_key_pkey(real[0]), true, oaep, secret, 32, ct, sizeof(ct));
		assert_int_equal(n, 384);
		assert_int_equal(rsa_crypt(keystore_key_pkey(k), false, oaep, ct, n, pt, sizeof(pt)), 32);
		assert_memory_equal(pt, secret, 32);
	}
	keystore_key_free(&k);
}

static void proxy_derives_like_the_real_key(void **state)
{
	(void)state;
	struct keystore_key *k = proxy(1);
	EVP_PKEY *peer = EVP_EC_gen("P-256");
	unsigned char a[64], b[64];
	size_t na = sizeof(a), nb = sizeof(b);
	EVP_PKEY_CTX *c1 = EVP_PKEY_CTX_new(keystore_key_pkey(k), NULL);
	EVP_PKEY_CTX *c2 = EVP_PKEY_CTX_new(peer, NULL);
	assert_int_equal(EVP_PKEY_derive_init(c1), 1);
	assert_int_equal(EVP_PKEY_derive_set_peer(c1, peer), 1);
	assert_int_equal(EVP_PKEY_derive(c1, a, &na), 1);
	assert_int_equal(EVP_PKEY_derive_init(c2), 1);
	assert_int_equal(EVP_PKEY_derive_set_peer(c2, keystore_key_pkey(real[1])), 1);
	assert_int_equal(EVP_PKEY_derive(c2, b, &nb), 1);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	EVP_PKEY_CTX_free(c1);
	EVP_PKEY_CTX_free(c2);
	EVP_PKEY_free(peer);
	keystore_key_free(&k);
}

static X509 *self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"proxy", -1, -1, 0);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, name);
	X509_set_pubkey(x, key);
	X509_NAME_free(name);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	return x;
}

/* CMS signs with the proxy key (verified against the certificate) and decrypts what was
 * encrypted to the certificate: RSA key transport and ECDH key agreement. */
static void cms_signs_and_decrypts_with_a_proxy_key(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++) {
		struct keystore_key *k = proxy(i);
		EVP_PKEY *pk = keystore_key_pkey(k);
		X509 *x = self_signed(keystore_key_pkey(real[i]));
		assert_int_equal(X509_check_private_key(x, pk), 1);
		BIO *in = BIO_new_mem_buf("hello through keyd", -1), *out = BIO_new(BIO_s_mem());
		CMS_ContentInfo *cms = CMS_sign(x, pk, NULL, in, CMS_BINARY);
		assert_non_null(cms);
		X509_STORE *st = X509_STORE_new();
		X509_STORE_add_cert(st, x);
		assert_int_equal(CMS_verify(cms, NULL, st, NULL, out, CMS_BINARY), 1);
		CMS_ContentInfo_free(cms);
		STACK_OF(X509) *to = sk_X509_new_null();
		sk_X509_push(to, x);
		BIO_reset(in);
		cms = CMS_encrypt(to, in, EVP_aes_256_cbc(), CMS_BINARY);
		assert_non_null(cms);
		BIO *dec = BIO_new(BIO_s_mem());
		assert_int_equal(CMS_decrypt(cms, pk, x, NULL, dec, CMS_BINARY), 1);
		char buf[64] = {0};
		assert_int_equal(BIO_read(dec, buf, sizeof(buf) - 1), 18);
		assert_string_equal(buf, "hello through keyd");
		CMS_ContentInfo_free(cms);
		sk_X509_free(to);
		X509_STORE_free(st);
		BIO_free(in), BIO_free(out), BIO_free(dec);
		X509_free(x);
		keystore_key_free(&k);
	}
}

/* keyd keeps KEYD_HANDLES_MAX keys per client, the oldest dropped first (and a restarted
 * keyd none): the proxy loads its key again by itself, past the handles it remembers. */
static void forgotten_handle_is_reloaded(void **state)
{
	(void)state;
	unsigned char dg[32] = {1}, sig[512];
	struct keystore_key *k = proxy(0);
	for (int i = 0; i < KEYD_HANDLES_MAX; i++) { /* each sealing differs: a key load each */
		struct keystore_key *other = NULL;
		unsigned char *b = NULL;
		size_t n = 0;
		const char *err = NULL;
		assert_int_equal(keystore_seal(ks, real[1], owners[1], &b, &n, &err), 0);
		assert_int_equal(keyd_proxy_unseal_key(b, n, owners[1], &other, &err), 0);
		keystore_key_free(&other);
		sg_free(&b);
		if (i % 32 == 0) { /* keeps its stale handle the most recently remembered */
			other = proxy(0);
			keystore_key_free(&other);
		}
	}
	size_t n = sign(keystore_key_pkey(k), dg, sig, sizeof(sig));
	assert_int_equal(n, 384);
	assert_true(verify(keystore_key_pkey(real[0]), dg, sig, n));
	keystore_key_free(&k);
}

enum fault { FAULT_NONE, FAULT_ERROR, FAULT_LONG, FAULT_FORGETS };
static enum fault fault;

static int faulty_call(enum keystore_proxy_op op, uint32_t handle, const char *param,
                       const unsigned char *in, size_t len, unsigned char *out, size_t *out_len,
                       const char **error_r)
{
	if (fault == FAULT_ERROR) {
		*error_r = "key process gone";
		return -1;
	}
	if (fault == FAULT_FORGETS)
		return 1;
	size_t room = *out_len;
	int rc = holder_call(op, handle, param, in, len, out, out_len, error_r);
	if (rc == 0 && fault == FAULT_LONG)
		*out_len = room + 1;
	return rc;
}

static const struct keystore_proxy_ops faulty = {holder_load, faulty_call, NULL};

/* A failed or overlong answer, or a key holder that forgets every key, makes the operation
 * fail, nothing worse. */
static void broken_replies_fail_cleanly(void **state)
{
	(void)state;
	unsigned char dg[32] = {2}, sig[512], ct[512], pt[512];
	ops = &faulty;
	for (fault = FAULT_ERROR; fault <= FAULT_FORGETS; fault++) {
		for (int i = 0; i < 2; i++) {
			forget_all();
			struct keystore_key *k = proxy(i);
			assert_int_equal(sign(keystore_key_pkey(k), dg, sig, sizeof(sig)), 0);
			keystore_key_free(&k);
		}
		struct keystore_key *k = proxy(0);
		size_t n = rsa_crypt(keystore_key_pkey(real[0]), true, false, dg, 32, ct, sizeof(ct));
		assert_int_equal(rsa_crypt(keystore_key_pkey(k), false, false, ct, n, pt, sizeof(pt)), 0);
		keystore_key_free(&k);
	}
	ops = NULL;
	forget_all();
}

/* The key holder's checks: a digest of the wrong length or algorithm, a ciphertext of the
 * wrong length, a raw decryption that is no OAEP block, a point off the curve: refused. */
static void hostile_inputs_are_refused(void **state)
{
	(void)state;
	unsigned char in[512] = {3}, out[KEYSTORE_PROXY_OUT_MAX];
	size_t n = sizeof(out);
	const char *err = NULL;
	assert_int_equal(keystore_key_sign_digest(real[0], "SHA256", in, 32, out, &n, &err), 0);
	n = sizeof(out);
	assert_int_equal(keystore_key_sign_digest(real[0], "SHA256", in, 31, out, &n, &err), -1);
	assert_int_equal(keystore_key_sign_digest(real[0], "MD5", in, 16, out, &n, &err), -1);
	assert_int_equal(keystore_key_sign_digest(real[0], "ecdsa", in, 32, out, &n, &err), -1);
	assert_int_equal(keystore_key_sign_digest(real[1], "SHA256", in, 32, out, &n, &err), -1);
	assert_int_equal(keystore_key_sign_digest(real[1], "ecdsa", in, 65, out, &n, &err), -1);
	memset(in, 0x11, 384);
	in[0] = 0;
	assert_int_equal(keystore_key_decrypt(real[0], "oaep-raw", in, 384, out, &n, &err), -1);
	assert_int_equal(keystore_key_decrypt(real[0], "pkcs1", in, 383, out, &n, &err), -1);
	assert_int_equal(keystore_key_decrypt(real[0], "none", in, 384, out, &n, &err), -1);
	assert_int_equal(keystore_key_decrypt(real[1], "pkcs1", in, 384, out, &n, &err), -1);
	in[0] = 4;
	assert_int_equal(keystore_key_derive(real[1], in, 65, out, &n, &err), -1);
	assert_int_equal(keystore_key_derive(real[0], in, 65, out, &n, &err), -1);
}

/* keyd's unseal never hands out what is used inside it: a private key, the CA key, the
 * SecurePDF record (the asking client is refused as one that broke its owner rules). */
static void keyd_unseal_refuses_key_material(void **state)
{
	(void)state;
	static const char *const owners_inside[] = {"cert:rsa-test", "ca-key", "pdf:a@example.com"};
	for (size_t i = 0; i < 3; i++) {
		struct keyd_field in[2] = {{(const unsigned char *)owners_inside[i],
		                            strlen(owners_inside[i])}, {blob[0], blob_len[0]}};
		struct keyd_field out;
		unsigned char *resp = NULL;
		size_t resp_len = 0;
		const char *err = NULL;
		assert_int_equal(keyd_callv(KEYD_OP_UNSEAL, in, 2, &out, 1, &resp, &resp_len, &err),
		                 KEYD_E_OWNER);
		assert_null(resp);
	}
}

/* A certificate signed with a proxy key (what the CA does with ca/ca.key in a role served by
 * keyd) verifies with the real key; a .pfx of a proxy key is built in keyd and holds the real
 * key, under the PIN. */
static void x509_signing_and_pkcs12_through_keyd(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++) {
		struct keystore_key *k = proxy(i);
		assert_true(keystore_key_is_proxy(k));
		assert_false(keystore_key_is_proxy(real[i]));
		X509 *x = self_signed(keystore_key_pkey(k));
		assert_int_equal(X509_verify(x, keystore_key_pkey(real[i])), 1);
		unsigned char *der = NULL, *pfx = NULL, *der2 = NULL;
		int dlen = i2d_X509(x, &der);
		size_t pfx_len = 0, der2_len = 0;
		const char *err = NULL;
		assert_int_equal(ca_pkcs12_export(der, (size_t)dlen, k, der, (size_t)dlen, "proxy", i == 1,
		                                  "a pin of twenty char", &pfx, &pfx_len, &err), 0);
		struct keystore_key *back = NULL;
		assert_int_equal(ca_pkcs12_import(pfx, pfx_len, "a pin of twenty char", &der2, &der2_len,
		                                  &back, &err), 0);
		assert_int_equal(EVP_PKEY_eq(keystore_key_pkey(back), keystore_key_pkey(real[i])), 1);
		assert_false(keystore_key_is_proxy(back));
		assert_int_equal(ca_pkcs12_import(pfx, pfx_len, "wrong", &der2, &der2_len, &back, &err), -1);
		keystore_key_free(&back);
		OPENSSL_free(der);
		sg_free(&pfx);
		sg_free(&der2);
		X509_free(x);
		keystore_key_free(&k);
	}
}

/* The SecurePDF record through keyd: U and /UE come back, the same as in process, and /UE
 * is the file key under K (AES-256-CBC, zero IV); another owner's record does not open. */
static void pdf_record_wraps_through_keyd(void **state)
{
	(void)state;
	unsigned char rec[80], fk[32], u[48], ue[32], ue2[32], check[48], iv[16] = {0};
	const char *err = NULL;
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	for (size_t i = 0; i < sizeof(rec); i++)
		rec[i] = (unsigned char)(i * 7 + 1);
	memset(fk, 0x42, sizeof(fk));
	assert_int_equal(keystore_seal_bytes(ks, rec, sizeof(rec), "pdf:a@example.com", &sealed,
	                                     &sealed_len, &err), 0);
	assert_int_equal(keyd_proxy_pdf_wrap(sealed, sealed_len, "pdf:a@example.com", fk, u, ue, &err), 0);
	assert_memory_equal(u, rec, 48);
	assert_int_equal(keystore_pdf_wrap(ks, sealed, sealed_len, "pdf:a@example.com", fk, check, ue2,
	                                   &err), 0);
	assert_memory_equal(ue, ue2, 32);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0;
	assert_int_equal(EVP_DecryptInit_ex(c, EVP_aes_256_cbc(), NULL, rec + 48, iv), 1);
	EVP_CIPHER_CTX_set_padding(c, 0);
	assert_int_equal(EVP_DecryptUpdate(c, check, &n, ue, 32), 1);
	assert_int_equal(n, 32);
	assert_memory_equal(check, fk, 32);
	EVP_CIPHER_CTX_free(c);
	assert_int_equal(keyd_proxy_pdf_wrap(sealed, sealed_len, "pdf:b@example.com", fk, u, ue, &err),
	                 -1);
	sg_free(&sealed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(proxy_signs_like_the_real_key),
		cmocka_unit_test(proxy_decrypts_pkcs1_and_oaep),
		cmocka_unit_test(proxy_derives_like_the_real_key),
		cmocka_unit_test(cms_signs_and_decrypts_with_a_proxy_key),
		cmocka_unit_test(forgotten_handle_is_reloaded),
		cmocka_unit_test(broken_replies_fail_cleanly),
		cmocka_unit_test(hostile_inputs_are_refused),
		cmocka_unit_test(x509_signing_and_pkcs12_through_keyd),
		cmocka_unit_test(pdf_record_wraps_through_keyd),
		cmocka_unit_test(keyd_unseal_refuses_key_material),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
