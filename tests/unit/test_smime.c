/* test_smime.c: the CMS primitives: encrypt/decrypt and sign/verify round trips (RSA, EC,
 * GCM), the verdicts (tampered, untrusted, time skew), and the Thunderbird/NSS corpus peeled
 * layer by layer against corpus/thunderbird-smime/EXPECTED.tsv. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "corpus.h"

#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "core/sg_time.h"
#include "crypto/ca.h"
#include "crypto/keystore.h"
#include "unit_keystore.h"
#include "crypto/smime.h"

#include <openssl/cms.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CORPUS_TIME 1795800000 /* 2026-11-27: inside the corpus certificates' validity */

struct user {
	struct keystore_key *key;
	unsigned char *der;
	size_t len;
};

static char dir[64];
static struct ca *ca;
static struct keystore *ks;
static struct user alice, bob, carol, eve_ec;
static struct smime_trust *trust;

static const char entity[] =
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: 8bit\r\n\r\n"
	"Gr\xc3\xbc\xc3\x9f" "e aus M\xc3\xbcnchen\r\n"
	"From the start of a line, trailing space \r\n"
	"last line\r\n";

/* The serial sequence a store would hand out (store_ca_serial_next). */
static uint64_t serial_seq;

static void make_user(struct user *u, const char *addr, enum keystore_key_type type)
{
	const char *err;
	assert_int_equal(keystore_key_generate(type, &u->key, &err), 0);
	assert_int_equal(ca_issue(ca, ++serial_seq, addr, "Acme", u->key, 30, &u->der, &u->len, &err), 0);
}

static void free_user(struct user *u)
{
	keystore_key_free(&u->key);
	sg_free(&u->der);
}

static int setup(void **state)
{
	(void)state;
	const char *err;
	snprintf(dir, sizeof(dir), "/tmp/sg-smime-XXXXXX");
	if (mkdtemp(dir) == NULL || unit_keystore_new(dir, &ks) < 0 ||
	    ca_init_create(dir, "Acme", ks, &err) < 0 || ca_open(dir, ks, &ca, &err) < 0)
		return -1;
	make_user(&alice, "alice@example.test", KEYSTORE_KEY_RSA3072);
	make_user(&bob, "bob@partner.test", KEYSTORE_KEY_RSA3072);
	make_user(&carol, "carol@example.test", KEYSTORE_KEY_RSA3072);
	make_user(&eve_ec, "eve@example.test", KEYSTORE_KEY_P256);
	size_t ca_len;
	const unsigned char *ca_der = ca_cert_der(ca, &ca_len);
	trust = smime_trust_new(false);
	return smime_trust_add_der(trust, ca_der, ca_len, &err);
}

static int teardown(void **state)
{
	(void)state;
	free_user(&alice);
	free_user(&bob);
	free_user(&carol);
	free_user(&eve_ec);
	smime_trust_free(&trust);
	ca_close(&ca);
	keystore_close(&ks);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static bool has_bare_lf(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			return true;
	return false;
}

static void decrypt_ok(const struct user *u, const char *msg, size_t len, const char *want)
{
	struct smime_der d = {u->der, u->len};
	char *out = NULL;
	size_t out_len = 0;
	const char *err;
	assert_int_equal(smime_decrypt(&d, u->key, msg, len, &out, &out_len, &err), 0);
	assert_int_equal(out_len, strlen(want));
	assert_memory_equal(out, want, out_len);
	sg_free(&out);
}

static void encrypt_to_two_each_decrypts_byte_exact(void **state)
{
	(void)state;
	struct smime_der to[] = {{alice.der, alice.len}, {bob.der, bob.len}};
	char *enc = NULL, *out = NULL;
	size_t len = 0, out_len;
	const char *err;
	assert_int_equal(smime_encrypt(to, 2, entity, strlen(entity), 0, &enc, &len, &err), 0);
	assert_false(has_bare_lf(enc, len));
	assert_non_null(strstr(enc, "smime-type=enveloped-data"));
	assert_int_equal(smime_classify(enc, len), SMIME_KIND_ENVELOPED);
	decrypt_ok(&alice, enc, len, entity);
	decrypt_ok(&bob, enc, len, entity);
	struct smime_der c = {carol.der, carol.len};
	assert_int_equal(smime_decrypt(&c, carol.key, enc, len, &out, &out_len, &err), -1);

	struct smime_rid *rids = NULL;
	size_t n = 0;
	struct smime_certinfo ai;
	assert_int_equal(smime_recipients(enc, len, &rids, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(smime_cert_parse(alice.der, alice.len, &ai, &err), 0);
	size_t hit = strcmp(rids[0].serial, ai.serial) == 0 ? 0 : 1;
	assert_string_equal(rids[hit].serial, ai.serial);
	assert_string_equal(rids[hit].issuer, ai.issuer);
	assert_string_not_equal(rids[1 - hit].serial, ai.serial);
	sg_free(&rids);
	sg_free(&enc);
	assert_int_equal(smime_encrypt(to, 0, entity, strlen(entity), 0, &enc, &len, &err), -1);
}

/* SMIMECapabilities that name AES-256-GCM, RSAES-OAEP (SHA-256, MGF1-SHA-256), AES-256-CBC */
static const unsigned char caps_oaep[] = {
	0x30, 0x54, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2e,
	0x30, 0x38, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07, 0x30, 0x2b,
	0xa0, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
	0xa1, 0x1a, 0x30, 0x18, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08,
	0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x30, 0x0b,
	0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a};

static CMS_ContentInfo *read_cms(const char *msg, size_t len)
{
	BIO *b = BIO_new_mem_buf(msg, (int)len);
	CMS_ContentInfo *cms = SMIME_read_CMS(b, NULL);
	BIO_free(b);
	assert_non_null(cms);
	return cms;
}

/* The key-encryption algorithm of u's RecipientInfo in msg, with its OAEP hash in *hash_r. */
static int ktri_alg(const char *msg, size_t len, const struct user *u, int *hash_r)
{
	CMS_ContentInfo *cms = read_cms(msg, len);
	const unsigned char *p = u->der;
	X509 *x = d2i_X509(NULL, &p, (long)u->len);
	STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);
	int nid = NID_undef;
	*hash_r = NID_undef;
	for (int i = 0; i < sk_CMS_RecipientInfo_num(ris); i++) {
		CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, i);
		X509_ALGOR *alg = NULL;
		if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_TRANS ||
		    CMS_RecipientInfo_ktri_cert_cmp(ri, x) != 0 ||
		    CMS_RecipientInfo_ktri_get0_algs(ri, NULL, NULL, &alg) != 1)
			continue;
		nid = OBJ_obj2nid(alg->algorithm);
		RSA_OAEP_PARAMS *op = nid == NID_rsaesOaep
		                    ? ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(RSA_OAEP_PARAMS),
		                                                alg->parameter)
		                    : NULL;
		if (op != NULL && op->hashFunc != NULL)
			*hash_r = OBJ_obj2nid(op->hashFunc->algorithm);
		RSA_OAEP_PARAMS_free(op);
	}
	X509_free(x);
	CMS_ContentInfo_free(cms);
	return nid;
}

static void oaep_only_for_partners_who_name_it(void **state)
{
	(void)state;
	struct smime_recipient to[] = {
		{{alice.der, alice.len}, {caps_oaep, sizeof(caps_oaep)}},
		{{bob.der, bob.len}, {NULL, 0}},
		{{eve_ec.der, eve_ec.len}, {caps_oaep, sizeof(caps_oaep)}}, /* EC: key agreement */
	};
	char *enc = NULL;
	size_t len = 0;
	const char *err;
	int hash;
	assert_int_equal(smime_encrypt_to(to, 3, entity, strlen(entity), 0, &enc, &len, &err), 0);
	assert_int_equal(ktri_alg(enc, len, &alice, &hash), NID_rsaesOaep);
	assert_int_equal(hash, NID_sha256);
	assert_int_equal(ktri_alg(enc, len, &bob, &hash), NID_rsaEncryption);
	decrypt_ok(&alice, enc, len, entity);
	decrypt_ok(&bob, enc, len, entity);
	decrypt_ok(&eve_ec, enc, len, entity);
	sg_free(&enc);
}

/* A key block that does not open must not fail otherwise than damaged content (no padding
 * oracle): OpenSSL goes on with a random content key, so now and then (CBC padding, about 1 in
 * 256) garbage comes out instead of an error. An early "cannot decrypt the key" never does. */
static void damaged_key_block_goes_on_with_a_random_key(void **state)
{
	(void)state;
	struct smime_der to = {alice.der, alice.len};
	const char *err;
	char *enc = NULL;
	size_t len = 0;
	assert_int_equal(smime_encrypt(&to, 1, "x\r\n", 3, 0, &enc, &len, &err), 0);
	CMS_ContentInfo *cms = read_cms(enc, len);
	unsigned char *der = NULL;
	int n = i2d_CMS_ContentInfo(cms, &der);
	CMS_ContentInfo_free(cms);
	assert_true(n > 0);
	/* the RSA-3072 encryptedKey: OCTET STRING of 384 bytes */
	unsigned char *ek = memmem(der, (size_t)n, "\x04\x82\x01\x80", 4);
	assert_non_null(ek);
	ek[4 + 100] ^= 0x55;
	int tries = 0, garbage = 0;
	for (; tries < 5000 && !garbage; tries++) {
		char *out = NULL;
		size_t out_len = 0;
		garbage = smime_decrypt(&to, alice.key, (const char *)der, (size_t)n, &out, &out_len,
		                        &err) == 0;
		if (garbage)
			assert_false(out_len == 3 && memcmp(out, "x\r\n", 3) == 0);
		sg_free(&out);
	}
	if (!garbage)
		fail_msg("5000 decryptions with a damaged key block all failed early: padding oracle");
	OPENSSL_free(der);
	sg_free(&enc);
}

static void lf_input_is_encrypted_as_crlf(void **state)
{
	(void)state;
	struct smime_der to = {alice.der, alice.len};
	const char *lf = "Content-Type: text/plain\n\nline one\nline two\n";
	char *enc = NULL;
	size_t len = 0;
	const char *err;
	assert_int_equal(smime_encrypt(&to, 1, lf, strlen(lf), 0, &enc, &len, &err), 0);
	decrypt_ok(&alice, enc, len, "Content-Type: text/plain\r\n\r\nline one\r\nline two\r\n");
	sg_free(&enc);
}

static void gcm_and_ec_round_trips(void **state)
{
	(void)state;
	struct smime_der to[] = {{alice.der, alice.len}, {eve_ec.der, eve_ec.len}};
	char *enc = NULL;
	size_t len = 0;
	const char *err;
	assert_int_equal(smime_encrypt(to, 2, entity, strlen(entity), SMIME_ENCRYPT_GCM, &enc, &len,
	                               &err), 0);
	assert_int_equal(smime_classify(enc, len), SMIME_KIND_AUTH_ENVELOPED);
	decrypt_ok(&alice, enc, len, entity);
	decrypt_ok(&eve_ec, enc, len, entity);
	/* a flipped ciphertext byte fails the GCM tag instead of decrypting to garbage */
	enc[len - 20] = enc[len - 20] == 'A' ? 'B' : 'A';
	struct smime_der a = {alice.der, alice.len};
	char *out = NULL;
	size_t out_len;
	assert_int_equal(smime_decrypt(&a, alice.key, enc, len, &out, &out_len, &err), -1);
	sg_free(&enc);
	assert_int_equal(smime_encrypt(to + 1, 1, entity, strlen(entity), 0, &enc, &len, &err), 0);
	decrypt_ok(&eve_ec, enc, len, entity);
	sg_free(&enc);
}

/* noinline: inlined at -O3, gcc 12 takes the returned buffer for the local `out` itself
 * (a false -Wdangling-pointer in the callers). */
__attribute__((noinline)) static char *sign(const struct user *u, size_t *len_r)
{
	struct smime_der signer = {u->der, u->len};
	size_t ca_len;
	struct smime_der chain = {ca_cert_der(ca, &ca_len), 0};
	chain.len = ca_len;
	char *out = NULL;
	const char *err;
	assert_int_equal(smime_sign(&signer, u->key, &chain, 1, entity, strlen(entity), &out, len_r,
	                            &err), 0);
	return out;
}

static void verify(const char *msg, size_t len, enum smime_verdict want,
                   struct smime_verify_result *r)
{
	const char *err = NULL;
	assert_int_equal(smime_verify(trust, msg, len, r, &err), 0);
	if (r->verdict != want)
		fail_msg("verdict %s (%s), wanted %s", smime_verdict_name(r->verdict), r->reason,
		         smime_verdict_name(want));
}

static void sign_then_verify_valid_with_signer_and_caps(void **state)
{
	(void)state;
	size_t len;
	char *signed_msg = sign(&alice, &len);
	struct smime_verify_result r;
	assert_false(has_bare_lf(signed_msg, len));
	assert_non_null(strstr(signed_msg, "micalg=\"sha-256\""));
	assert_non_null(strstr(signed_msg, entity)); /* the first part is the entity, byte for byte */
	assert_int_equal(smime_classify(signed_msg, len), SMIME_KIND_SIGNED);
	verify(signed_msg, len, SMIME_SIG_VALID, &r);
	assert_string_equal(r.signer, "alice@example.test");
	assert_non_null(r.signer_der);
	assert_memory_equal(r.signer_der, alice.der, alice.len);
	assert_non_null(r.caps);
	assert_true(r.signing_time > time(NULL) - 60);
	assert_int_equal(r.content_len, strlen(entity));
	assert_memory_equal(r.content, entity, r.content_len);
	/* RFC 8550 section 3: valid only for the address the certificate names (any case) */
	smime_verify_require_signer(&r, "Alice@Example.TEST");
	assert_int_equal(r.verdict, SMIME_SIG_VALID);
	smime_verify_require_signer(&r, "dora@example.test");
	assert_int_equal(r.verdict, SMIME_SIG_OTHER_SIGNER);
	assert_string_equal(smime_verdict_name(r.verdict), "valid-other-signer");
	r.verdict = SMIME_SIG_VALID;
	smime_verify_require_signer(&r, NULL); /* no From: nobody it could be valid for */
	assert_int_equal(r.verdict, SMIME_SIG_OTHER_SIGNER);
	smime_verify_result_free(&r);

	/* encrypted after signing: the layers peel back */
	struct smime_der to = {bob.der, bob.len};
	char *enc = NULL, *inner = NULL;
	size_t enc_len, inner_len;
	const char *err;
	assert_int_equal(smime_encrypt(&to, 1, signed_msg, len, 0, &enc, &enc_len, &err), 0);
	struct smime_der b = {bob.der, bob.len};
	assert_int_equal(smime_decrypt(&b, bob.key, enc, enc_len, &inner, &inner_len, &err), 0);
	verify(inner, inner_len, SMIME_SIG_VALID, &r);
	smime_verify_result_free(&r);
	sg_free(&inner);
	sg_free(&enc);
	sg_free(&signed_msg);
}

static void tampered_is_invalid_and_unknown_ca_untrusted(void **state)
{
	(void)state;
	size_t len;
	char *msg = sign(&alice, &len);
	struct smime_verify_result r;
	char *p = strstr(msg, "M\xc3\xbcnchen");
	p[0] = 'N';
	verify(msg, len, SMIME_SIG_INVALID, &r);
	assert_non_null(strstr(r.reason, "altered"));
	assert_non_null(r.content); /* still delivered, with the verdict */
	smime_verify_result_free(&r);
	p[0] = 'M';

	struct smime_trust *empty = smime_trust_new(false);
	const char *err;
	assert_int_equal(smime_verify(empty, msg, len, &r, &err), 0);
	assert_int_equal(r.verdict, SMIME_SIG_UNTRUSTED);
	assert_string_equal(r.signer, "alice@example.test");
	smime_verify_result_free(&r);
	smime_trust_free(&empty);

	/* an expired signer certificate is not trusted */
	smime_trust_set_time(trust, time(NULL) + 90 * 86400);
	verify(msg, len, SMIME_SIG_UNTRUSTED, &r);
	smime_verify_result_free(&r);
	smime_trust_set_time(trust, time(NULL));
	sg_free(&msg);
}

static void signing_time_far_from_date_header_is_invalid(void **state)
{
	(void)state;
	size_t len;
	char *msg = sign(&alice, &len);
	struct smime_verify_result r;
	char date[64], hdr[128];
	for (int skew = 0; skew <= 1; skew++) {
		sg_rfc5322_date(time(NULL) + (skew ? 6 * 3600 : 60), date, sizeof(date));
		int n = snprintf(hdr, sizeof(hdr), "Date: %s\r\nSubject: x\r\n", date);
		char *full = sg_malloc((size_t)n + len + 1);
		memcpy(full, hdr, (size_t)n);
		memcpy(full + n, msg, len + 1);
		verify(full, (size_t)n + len, skew ? SMIME_SIG_INVALID : SMIME_SIG_VALID, &r);
		smime_verify_result_free(&r);
		sg_free(&full);
	}
	sg_free(&msg);
}

static void not_smime_is_refused_cleanly(void **state)
{
	(void)state;
	struct smime_verify_result r;
	struct smime_rid *rids = NULL;
	size_t n;
	const char *err;
	assert_int_equal(smime_classify(entity, strlen(entity)), SMIME_KIND_NONE);
	assert_int_equal(smime_classify("", 0), SMIME_KIND_NONE);
	assert_int_equal(smime_classify("\x30\x03\x02\x01\x01", 5), SMIME_KIND_NONE);
	assert_int_equal(smime_verify(trust, entity, strlen(entity), &r, &err), -1);
	assert_int_equal(smime_recipients(entity, strlen(entity), &rids, &n, &err), -1);
	size_t len;
	char *msg = sign(&alice, &len);
	assert_int_equal(smime_recipients(msg, len, &rids, &n, &err), -1);
	sg_free(&msg);
	assert_string_equal(smime_verdict_name(SMIME_SIG_WEAK), "weak");
	assert_string_equal(smime_kind_name(SMIME_KIND_SIGNED), "signed-data");
}

/* ---- the Thunderbird / NSS corpus ---- */

static const char *corpus(void)
{
	static char *path;
	if (path == NULL) {
		size_t n = strlen(corpus_root()) + sizeof("/thunderbird-smime");
		path = sg_malloc(n);
		snprintf(path, n, "%s/thunderbird-smime", corpus_root());
	}
	return path;
}

static void load_p12(const char *name, struct user *u)
{
	char path[512], *data = NULL;
	size_t len = 0;
	const char *err;
	snprintf(path, sizeof(path), "%s/%s", corpus(), name);
	assert_int_equal(sg_file_read_all(path, 1 << 20, &data, &len, &err), 0);
	assert_int_equal(ca_pkcs12_import((unsigned char *)data, len, "nss", &u->der, &u->len, &u->key,
	                                  &err), 0);
	sg_free(&data);
}

struct peel {
	struct user keys[3]; /* Bob, Fran, Fran-ec */
	struct smime_trust *trust;
};

/* The digests of the signature layers, outer first, from the file-name grammar. */
static size_t digests_outer_first(const char *file, char digests[][8], size_t max)
{
	char inner_first[8][8];
	size_t n = 0;
	const char *p = file;
	while (n < 8 && (p = strstr(p, "sig")) != NULL) {
		p += 3;
		inner_first[n][0] = '\0';
		if (p[0] == '.' && strncmp(p + 1, "SHA", 3) == 0)
			snprintf(inner_first[n], 8, "%.6s", p + 1);
		char *dot = strchr(inner_first[n], '.');
		if (dot != NULL)
			*dot = '\0';
		n++;
	}
	for (size_t i = 0; i < n && i < max; i++)
		memcpy(digests[i], inner_first[n - 1 - i], 8);
	return n < max ? n : max;
}

static const struct user *key_for(struct peel *pl, const char *step)
{
	if (strstr(step, "to=Bob") != NULL)
		return &pl->keys[0];
	return strstr(step, "to=Fran-ec") != NULL ? &pl->keys[2] : &pl->keys[1];
}

/* Checks one verify step against the OpenSSL column, with our stricter policy on top. */
static void check_verdict(const char *file, const char *step, const char *digest,
                          const struct smime_verify_result *r)
{
	enum smime_verdict v = r->verdict;
	bool ok = strstr(step, "-OK(") != NULL;
	if (!ok) {
		if (v != SMIME_SIG_INVALID && v != SMIME_SIG_UNTRUSTED)
			fail_msg("%s: %s but we said %s", file, step, smime_verdict_name(v));
		return;
	}
	enum smime_verdict want = strcmp(digest, "SHA1") == 0 ? SMIME_SIG_WEAK : SMIME_SIG_VALID;
	if (strstr(file, "future") != NULL)
		want = SMIME_SIG_INVALID; /* Date: 6 h after the signing time */
	if (v != want)
		fail_msg("%s: %s; wanted %s, got %s (%s)", file, step, smime_verdict_name(want),
		         smime_verdict_name(v), r->reason);
	const char *by = strstr(step, "by=");
	if (by != NULL && strncasecmp(r->signer, by + 3, strcspn(by + 3, ")")) != 0)
		fail_msg("%s: signer %s, wanted %s", file, r->signer, by + 3);
}

/* The From address of a corpus file ("From: Alice@example.com" on one line), or "". */
static void corpus_from(const char *msg, size_t len, char *dst, size_t dstsize)
{
	const char *f = len > 6 && strncmp(msg, "From: ", 6) == 0 ? msg : strstr(msg, "\nFrom: ");
	dst[0] = '\0';
	if (f != NULL) {
		f += f[0] == '\n' ? 7 : 6;
		snprintf(dst, dstsize, "%.*s", (int)strcspn(f, "\r\n"), f);
	}
}

static char *peel_step(struct peel *pl, const char *file, const char *step, const char *digest,
                       char *msg, size_t *len)
{
	char *out = NULL;
	size_t out_len = 0;
	const char *err = NULL;
	if (strncmp(step, "DECRYPT", 7) == 0) {
		const struct user *u = key_for(pl, step);
		struct smime_der d = {u->der, u->len};
		if (smime_decrypt(&d, u->key, msg, *len, &out, &out_len, &err) < 0)
			fail_msg("%s: %s failed: %s", file, step, err);
	} else {
		struct smime_verify_result r;
		if (smime_verify(pl->trust, msg, *len, &r, &err) < 0)
			fail_msg("%s: %s: %s", file, step, err);
		check_verdict(file, step, digest, &r);
		/* the signer of each file's outer signature is its From address: still valid */
		char from[128];
		corpus_from(msg, *len, from, sizeof(from));
		enum smime_verdict before = r.verdict;
		if (from[0] != '\0')
			smime_verify_require_signer(&r, from);
		if (from[0] != '\0' && r.verdict != before)
			fail_msg("%s: From %s, signer %s: %s", file, from, r.signer,
			         smime_verdict_name(r.verdict));
		if (r.content == NULL)
			fail_msg("%s: %s gave no content", file, step);
		out = r.content;
		out_len = r.content_len;
		r.content = NULL;
		smime_verify_result_free(&r);
	}
	sg_free(&msg);
	*len = out_len;
	return out;
}

static int peel_file(struct peel *pl, const char *file, char *steps)
{
	char path[512], *msg = NULL, digests[8][8];
	size_t len = 0, nd = digests_outer_first(file, digests, 8), di = 0;
	const char *err;
	snprintf(path, sizeof(path), "%s/%s", corpus(), file);
	assert_int_equal(sg_file_read_all(path, 1 << 24, &msg, &len, &err), 0);
	char *save = NULL;
	for (char *step = strtok_r(steps, " ", &save); step != NULL && strcmp(step, "=>") != 0;
	     step = strtok_r(NULL, " ", &save)) {
		bool is_verify = strncmp(step, "VERIFY", 6) == 0;
		msg = peel_step(pl, file, step, is_verify && di < nd ? digests[di] : "", msg, &len);
		di += is_verify;
	}
	const char *text = strstr(file, "fran") != NULL ? "This is a test message to Fran."
	                                                : "This is a test message from Alice to Bob.";
	bool found = memmem(msg, len, text, strlen(text)) != NULL;
	sg_free(&msg);
	return found ? 0 : -1;
}

static void thunderbird_corpus_peels_as_expected(void **state)
{
	(void)state;
	char path[512], *tsv = NULL;
	size_t len = 0;
	const char *err;
	if (!corpus_has("thunderbird-smime/EXPECTED.tsv"))
		skip();
	snprintf(path, sizeof(path), "%s/EXPECTED.tsv", corpus());
	assert_int_equal(sg_file_read_all(path, 1 << 20, &tsv, &len, &err), 0);
	struct peel pl;
	memset(&pl, 0, sizeof(pl));
	load_p12("nss/Bob.p12", &pl.keys[0]);
	load_p12("interop/Fran.p12", &pl.keys[1]);
	load_p12("interop/Fran-ec.p12", &pl.keys[2]);
	pl.trust = smime_trust_new(false);
	snprintf(path, sizeof(path), "%s/nss/TestCA.pem", corpus());
	assert_int_equal(smime_trust_add_pem_file(pl.trust, path, &err), 0);
	smime_trust_set_time(pl.trust, CORPUS_TIME);
	size_t files = 0;
	char *save = NULL;
	for (char *line = strtok_r(tsv, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t'), *tab2 = tab != NULL ? strchr(tab + 1, '\t') : NULL;
		if (line[0] == '#' || tab == NULL || strstr(line, "stale file") != NULL)
			continue;
		*tab = '\0';
		if (tab2 != NULL)
			*tab2 = '\0';
		bool want_text = strstr(tab + 1, "[expected-text-found]") != NULL;
		int rc = peel_file(&pl, line, tab + 1);
		if (want_text && rc != 0)
			fail_msg("%s: the expected text is missing after peeling", line);
		files++;
	}
	assert_true(files >= 70);
	print_message("peeled %zu corpus files\n", files);
	for (int i = 0; i < 3; i++)
		free_user(&pl.keys[i]);
	smime_trust_free(&pl.trust);
	sg_free(&tsv);
}

static char *pem_of(const unsigned char *der, size_t len)
{
	char *pem = NULL;
	size_t pem_len = 0;
	const char *err;
	assert_int_equal(smime_cert_to_pem(der, len, &pem, &pem_len, &err), 0);
	return pem;
}

/* An admin's `ca trust FILE` and a partner's upload read the same way: one DER certificate,
 * PEM ones (a chain in one file), or a .p7b; whether each is a CA is known. */
static void bundle_reads_pem_chains_and_tells_cas(void **state)
{
	(void)state;
	size_t ca_len;
	const unsigned char *ca_der = ca_cert_der(ca, &ca_len);
	char *a = pem_of(alice.der, alice.len), *c = pem_of(ca_der, ca_len);
	char two[16384];
	snprintf(two, sizeof(two), "%s%s", a, c);
	struct smime_bundle b;
	struct smime_certinfo info;
	const char *err;
	assert_int_equal(smime_bundle_read((const unsigned char *)two, strlen(two), &b, &err), 0);
	assert_int_equal(b.n, 2);
	assert_int_equal(smime_cert_parse(b.der[0], b.len[0], &info, &err), 0);
	assert_false(info.is_ca);
	assert_string_equal(info.address, "alice@example.test");
	assert_int_equal(smime_cert_parse(b.der[1], b.len[1], &info, &err), 0);
	assert_true(info.is_ca);
	smime_bundle_free(&b);
	assert_int_equal(smime_bundle_read(alice.der, alice.len, &b, &err), 0);
	assert_int_equal(b.n, 1);
	smime_bundle_free(&b);
	/* seventeen certificates are more than a bundle holds */
	size_t alen = strlen(a);
	char *many = sg_calloc(17, alen + 1);
	for (size_t i = 0; i < 17; i++)
		memcpy(many + i * alen, a, alen);
	assert_int_equal(smime_bundle_read((const unsigned char *)many, strlen(many), &b, &err), -1);
	assert_int_equal(b.n, 0);
	static const char junk[] = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
	assert_int_equal(smime_bundle_read((const unsigned char *)junk, strlen(junk), &b, &err), -1);

	/* the instance's anchors file: none yet, one, or a broken one */
	char path[128];
	struct smime_trust *t = smime_trust_new(false);
	snprintf(path, sizeof(path), "%s/anchors.pem", dir);
	assert_int_equal(smime_trust_add_anchor_file(t, path, &err), 0);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(c, f);
	fclose(f);
	assert_int_equal(smime_trust_add_anchor_file(t, path, &err), 1);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(junk, f);
	fclose(f);
	assert_int_equal(smime_trust_add_anchor_file(t, path, &err), -1);
	unlink(path);
	smime_trust_free(&t);
	sg_free(&many);
	sg_free(&a);
	sg_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encrypt_to_two_each_decrypts_byte_exact),
		cmocka_unit_test(lf_input_is_encrypted_as_crlf),
		cmocka_unit_test(oaep_only_for_partners_who_name_it),
		cmocka_unit_test(damaged_key_block_goes_on_with_a_random_key),
		cmocka_unit_test(gcm_and_ec_round_trips),
		cmocka_unit_test(sign_then_verify_valid_with_signer_and_caps),
		cmocka_unit_test(tampered_is_invalid_and_unknown_ca_untrusted),
		cmocka_unit_test(signing_time_far_from_date_header_is_invalid),
		cmocka_unit_test(not_smime_is_refused_cleanly),
		cmocka_unit_test(thunderbird_corpus_peels_as_expected),
		cmocka_unit_test(bundle_reads_pem_chains_and_tells_cas),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
