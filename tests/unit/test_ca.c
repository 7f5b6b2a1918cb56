/* test_ca.c: the instance CA: user certificates (extensions, usability), the CRL, .p12
 * export/import in both protections, and the CA key at rest (sealed; a clear one from an
 * earlier version sealed in place). OpenSSL reads back what the CA wrote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_mem.h"
#include "crypto/ca.h"
#include "crypto/keystore.h"
#include "unit_keystore.h"
#include "crypto/smime.h"

#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[64];
static struct ca *ca;
static struct keystore *ks;

static int setup(void **state)
{
	(void)state;
	const char *err;
	snprintf(dir, sizeof(dir), "/tmp/sg-ca-XXXXXX");
	if (mkdtemp(dir) == NULL || unit_keystore_new(dir, &ks) < 0 ||
	    ca_init_create(dir, "Acme", ks, &err) < 0)
		return -1;
	return ca_open(dir, ks, &ca, &err);
}

static int teardown(void **state)
{
	(void)state;
	ca_close(&ca);
	keystore_close(&ks);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The serial sequence a store would hand out (store_ca_serial_next). */
static uint64_t serial_seq;

static void issue(enum keystore_key_type type, const char *addr, struct keystore_key **key_r,
                  unsigned char **der_r, size_t *len_r)
{
	const char *err;
	assert_int_equal(keystore_key_generate(type, key_r, &err), 0);
	assert_int_equal(ca_issue(ca, ++serial_seq, addr, "Acme", *key_r, 365, der_r, len_r, &err), 0);
}

static void rsa_user_certificate_has_the_smime_profile(void **state)
{
	(void)state;
	struct keystore_key *key = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	const char *err, *why;
	struct smime_certinfo info;
	issue(KEYSTORE_KEY_RSA3072, "alice@example.test", &key, &der, &len);
	assert_int_equal(smime_cert_parse(der, len, &info, &err), 0);
	assert_string_equal(info.address, "alice@example.test");
	assert_string_equal(info.issuer, ca_issuer_name(ca));
	assert_true(info.is_rsa);
	assert_int_equal(strlen(info.fingerprint), 64);
	assert_true(info.not_after - info.not_before > 364 * 86400);
	assert_true(smime_cert_has_address(der, len, "ALICE@example.test"));
	assert_false(smime_cert_has_address(der, len, "bob@example.test"));
	assert_true(smime_cert_matches_key(der, len, key));
	time_t now = time(NULL);
	assert_int_equal(smime_cert_usable(der, len, SMIME_USAGE_ENCRYPT, now, 0, &why), 0);
	assert_int_equal(smime_cert_usable(der, len, SMIME_USAGE_SIGN, now, 0, &why), 0);
	assert_int_equal(smime_cert_usable(der, len, SMIME_USAGE_ENCRYPT, now, now - 10, &why), -1);
	assert_non_null(strstr(why, "revoked"));
	assert_int_equal(smime_cert_usable(der, len, SMIME_USAGE_ENCRYPT, now + 400 * 86400, 0, &why), -1);
	assert_non_null(strstr(why, "expired"));
	assert_int_equal(smime_cert_usable(der, len, SMIME_USAGE_ENCRYPT, now - 86400, 0, &why), -1);
	assert_non_null(strstr(why, "not valid yet"));

	X509 *x = d2i_X509(NULL, &(const unsigned char *){der}, (long)len);
	assert_non_null(x);
	assert_true(X509_get_key_usage(x) & KU_KEY_ENCIPHERMENT);
	assert_true(X509_get_extended_key_usage(x) & XKU_SMIME);
	X509_free(x);
	keystore_key_free(&key);
	sg_free(&der);
}

static void san_is_one_name_even_with_a_comma(void **state)
{
	(void)state;
	struct keystore_key *key = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	issue(KEYSTORE_KEY_P256, "a,email:evil@x.test", &key, &der, &len);
	assert_false(smime_cert_has_address(der, len, "evil@x.test"));
	keystore_key_free(&key);
	sg_free(&der);
}

static void ec_user_certificate_uses_key_agreement(void **state)
{
	(void)state;
	struct keystore_key *key = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	const char *why;
	issue(KEYSTORE_KEY_P384, "ec@example.test", &key, &der, &len);
	X509 *x = d2i_X509(NULL, &(const unsigned char *){der}, (long)len);
	assert_true(X509_get_key_usage(x) & KU_KEY_AGREEMENT);
	assert_false(X509_get_key_usage(x) & KU_KEY_ENCIPHERMENT);
	X509_free(x);
	assert_int_equal(smime_cert_usable(der, len, SMIME_USAGE_ENCRYPT, time(NULL), 0, &why), 0);
	keystore_key_free(&key);
	sg_free(&der);
}

static void crl_lists_revoked_serials_and_verifies(void **state)
{
	(void)state;
	struct ca_revoked rev[] = {{"0A1B2C", 1700000000, 0}, {"7F", 1700000100, 5}};
	char *pem = NULL;
	size_t len = 0;
	const char *err;
	assert_int_equal(ca_crl(ca, rev, 2, 30, &pem, &len, &err), 0);
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509_CRL *crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
	assert_non_null(crl);
	size_t ca_len;
	const unsigned char *ca_der = ca_cert_der(ca, &ca_len);
	X509 *cax = d2i_X509(NULL, &ca_der, (long)ca_len);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(cax)), 1);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 2);
	ASN1_INTEGER *serial = ASN1_INTEGER_new();
	ASN1_INTEGER_set(serial, 0x0A1B2C);
	X509_REVOKED *r = NULL;
	assert_int_equal(X509_CRL_get0_by_serial(crl, &r, serial), 1);
	int crit = 0;
	assert_null(X509_REVOKED_get_ext_d2i(r, NID_crl_reason, &crit, NULL)); /* none given */
	ASN1_INTEGER_set(serial, 0x7F);
	assert_int_equal(X509_CRL_get0_by_serial(crl, &r, serial), 1);
	ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, &crit, NULL);
	assert_non_null(reason);
	assert_int_equal(ASN1_ENUMERATED_get(reason), 5); /* cessationOfOperation */
	ASN1_ENUMERATED_free(reason);
	ASN1_INTEGER_free(serial);
	X509_free(cax);
	X509_CRL_free(crl);
	BIO_free(b);
	sg_free(&pem);

	struct ca_revoked bad = {"not-hex", 1, 0};
	assert_int_equal(ca_crl(ca, &bad, 1, 30, &pem, &len, &err), -1);
	assert_int_equal(ca_crl(ca, NULL, 0, 30, &pem, &len, &err), 0); /* empty CRL is fine */
	unsigned char *der = NULL;
	size_t der_len = 0;
	assert_int_equal(ca_crl_pem_to_der(pem, len, &der, &der_len, &err), 0);
	const unsigned char *p = der;
	X509_CRL *back = d2i_X509_CRL(NULL, &p, (long)der_len);
	assert_non_null(back);
	X509_CRL_free(back);
	sg_free(&der);
	assert_int_equal(ca_crl_pem_to_der("junk", 4, &der, &der_len, &err), -1);
	sg_free(&pem);
}

/* ca.crl_url: one URI in crlDistributionPoints, exactly as set, even with a comma (which in
 * openssl.cnf syntax would start another entry); not an http(s) URL: refused. */
static void crl_url_goes_into_issued_certificates(void **state)
{
	(void)state;
	const char *err;
	const char *url = "https://mail.example.test/ca.crl?a=1,URI:http://evil.test/";
	assert_int_equal(ca_set_crl_url(ca, "ftp://a.test/x.crl", &err), -1);
	assert_int_equal(ca_set_crl_url(ca, url, &err), 0);
	struct keystore_key *key = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	issue(KEYSTORE_KEY_P256, "dp@example.test", &key, &der, &len);
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	assert_non_null(x);
	CRL_DIST_POINTS *dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
	assert_non_null(dps);
	assert_int_equal(sk_DIST_POINT_num(dps), 1);
	GENERAL_NAMES *names = sk_DIST_POINT_value(dps, 0)->distpoint->name.fullname;
	assert_int_equal(sk_GENERAL_NAME_num(names), 1);
	int type;
	ASN1_IA5STRING *uri = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(names, 0), &type);
	assert_int_equal(type, GEN_URI);
	assert_memory_equal(ASN1_STRING_get0_data(uri), url, strlen(url));
	CRL_DIST_POINTS_free(dps);
	X509_free(x);
	sg_free(&der);
	keystore_key_free(&key);
	assert_int_equal(ca_set_crl_url(ca, "", &err), 0); /* and none again */
	issue(KEYSTORE_KEY_P256, "nodp@example.test", &key, &der, &len);
	p = der;
	x = d2i_X509(NULL, &p, (long)len);
	assert_null(X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL));
	X509_free(x);
	sg_free(&der);
	keystore_key_free(&key);
}

static void pkcs12_round_trip(bool legacy)
{
	struct keystore_key *key = NULL, *back = NULL;
	unsigned char *der = NULL, *p12 = NULL, *der2 = NULL;
	size_t len = 0, p12_len = 0, len2 = 0, ca_len = 0;
	char pin[32];
	const char *err;
	issue(KEYSTORE_KEY_RSA3072, "pfx@example.test", &key, &der, &len);
	ca_pkcs12_pin(pin, sizeof(pin));
	assert_int_equal(strlen(pin), 20);
	const unsigned char *ca_der = ca_cert_der(ca, &ca_len);
	assert_int_equal(ca_pkcs12_export(der, len, key, ca_der, ca_len, "pfx", legacy, pin, &p12,
	                                  &p12_len, &err), 0);
	/* the protection is what was asked for */
	PKCS12 *p = d2i_PKCS12(NULL, &(const unsigned char *){p12}, (long)p12_len);
	const X509_ALGOR *macalg = NULL;
	PKCS12_get0_mac(NULL, &macalg, NULL, NULL, p);
	int mac_nid = OBJ_obj2nid(macalg->algorithm);
	assert_int_equal(mac_nid, legacy ? NID_sha1 : NID_sha256);
	PKCS12_free(p);

	assert_int_equal(ca_pkcs12_import(p12, p12_len, pin, &der2, &len2, &back, &err), 0);
	assert_memory_equal(der, der2, len);
	assert_true(smime_cert_matches_key(der, len, back));
	keystore_key_free(&back);
	sg_free(&der2);
	assert_int_equal(ca_pkcs12_import(p12, p12_len, "wrong", &der2, &len2, &back, &err), -1);
	assert_non_null(strstr(err, "wrong password"));
	p12[p12_len / 2] ^= 0xff;
	assert_int_equal(ca_pkcs12_import(p12, p12_len, pin, &der2, &len2, &back, &err), -1);
	assert_int_equal(ca_pkcs12_import(der, len, pin, &der2, &len2, &back, &err), -1);
	keystore_key_free(&key);
	sg_free(&der);
	sg_free(&p12);
}

static void pkcs12_modern(void **state)
{
	(void)state;
	pkcs12_round_trip(false);
}

static void pkcs12_legacy(void **state)
{
	(void)state;
	pkcs12_round_trip(true);
}

static void ca_open_reports_missing_or_mismatched_files(void **state)
{
	(void)state;
	struct ca *other = NULL;
	const char *err;
	char d2[128], cmd[300];
	assert_int_equal(ca_open("/nonexistent", ks, &other, &err), -1);
	snprintf(d2, sizeof(d2), "%s/second", dir);
	assert_int_equal(ca_init_create(d2, "Other", ks, &err), 0);
	snprintf(cmd, sizeof(cmd), "cp %s/ca.key %s/ca.key", dir, d2);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(ca_open(d2, ks, &other, &err), -1);
	assert_non_null(strstr(err, "does not belong"));
}

__attribute__((format(printf, 1, 2))) static int run_quiet(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void ca_key_is_sealed_and_never_overwritten(void **state)
{
	(void)state;
	char key[128], d3[96], mk2[128];
	const char *err;
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	struct stat sb;
	assert_int_equal(stat(key, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* openssl sees no key in it; a clear PEM key would open */
	assert_int_not_equal(run_quiet("openssl pkey -in %s -noout 2>/dev/null", key), 0);
	assert_int_equal(run_quiet("grep -q 'BEGIN SEALGATE SEALED PRIVATE KEY' %s", key), 0);
	/* another master key does not open it */
	struct keystore *ks2 = NULL;
	struct ca *other = NULL;
	snprintf(mk2, sizeof(mk2), "%s/other-master.key", dir);
	assert_int_equal(keystore_master_create(mk2, &err), 0);
	assert_int_equal(keystore_open(mk2, &ks2, &err), 0);
	assert_int_equal(ca_open(dir, ks2, &other, &err), -1);
	assert_non_null(strstr(err, "master key"));
	/* creation never replaces a key, nor writes through a link */
	assert_int_equal(ca_init_create(dir, "Acme", ks, &err), -1);
	snprintf(d3, sizeof(d3), "%s/linked", dir);
	assert_int_equal(mkdir(d3, 0700), 0);
	snprintf(mk2, sizeof(mk2), "%s/ca.key", d3);
	assert_int_equal(symlink("/tmp/sg-ca-key-link-target", mk2), 0);
	assert_int_equal(ca_init_create(d3, "Acme", ks, &err), -1);
	assert_int_not_equal(access("/tmp/sg-ca-key-link-target", F_OK), 0);
	keystore_close(&ks2);
}

static void clear_ca_key_is_sealed_in_place(void **state)
{
	(void)state;
	char d4[96], key[128];
	const char *err;
	snprintf(d4, sizeof(d4), "%s/before", dir);
	snprintf(key, sizeof(key), "%s/ca.key", d4);
	assert_int_equal(mkdir(d4, 0700), 0);
	/* an instance CA as earlier versions wrote it: a clear PEM key beside the certificate */
	assert_int_equal(run_quiet("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key "
	                           "-out ca.crt -days 30 -subj /CN=Old -addext "
	                           "basicConstraints=critical,CA:TRUE 2>/dev/null && chmod 600 ca.key",
	                           d4), 0);
	assert_int_equal(run_quiet("openssl pkey -in %s -noout", key), 0);
	struct ca *old = NULL;
	assert_int_equal(ca_open(d4, ks, &old, &err), 0);
	assert_int_not_equal(run_quiet("openssl pkey -in %s -noout 2>/dev/null", key), 0);
	struct stat sb;
	assert_int_equal(stat(key, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	ca_close(&old);
	/* it opens sealed, and still signs */
	assert_int_equal(ca_open(d4, ks, &old, &err), 0);
	char *pem = NULL;
	size_t len = 0;
	assert_int_equal(ca_crl(old, NULL, 0, 30, &pem, &len, &err), 0);
	sg_free(&pem);
	ca_close(&old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rsa_user_certificate_has_the_smime_profile),
		cmocka_unit_test(san_is_one_name_even_with_a_comma),
		cmocka_unit_test(ec_user_certificate_uses_key_agreement),
		cmocka_unit_test(crl_lists_revoked_serials_and_verifies),
		cmocka_unit_test(crl_url_goes_into_issued_certificates),
		cmocka_unit_test(pkcs12_modern),
		cmocka_unit_test(pkcs12_legacy),
		cmocka_unit_test(ca_open_reports_missing_or_mismatched_files),
		cmocka_unit_test(ca_key_is_sealed_and_never_overwritten),
		cmocka_unit_test(clear_ca_key_is_sealed_in_place),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
