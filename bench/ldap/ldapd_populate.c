/* ldapd_populate.c: puts certificates into an instance's store through store.h, for the LDAP
 * integration tests and the benchmark (thousands of certificates in seconds, which `sealgate
 * cert issue` one process at a time cannot do). One key is shared by all certificates made
 * in a run; each certificate is signed by the instance CA (--ca) or a throwaway EC issuer.
 *
 *   ldapd_populate -c CONF [--count N] [--prefix P] [--domain D] [--start K]
 *                  [--kind internal|external] [--cn NAME] [--ca] [--rsa]
 *                  [--from DAYS] [--to DAYS] [--revoked]
 * Addresses are P@D for one certificate, else P%05d@D from K. Prints the addresses made. */
#include "core/settings.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/ca.h"
#include "crypto/ca_priv.h"
#include "crypto/keystore.h"
#include "crypto/keystore_priv.h"
#include "crypto/smime.h"
#include "store/store.h"

#include <getopt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct opts {
	const char *conf, *prefix, *domain, *cn;
	long count, start, from_days, to_days;
	bool external, use_ca, rsa, revoked;
};

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "ldapd_populate: %s\n", what);
	exit(1);
}

static long num(const char *s)
{
	const char *err = NULL;
	long long v = sg_strtonum(s, -100000, 10000000, &err);
	if (err != NULL)
		die("bad number");
	return (long)v;
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"count", 1, 0, 'n'}, {"prefix", 1, 0, 'p'}, {"domain", 1, 0, 'd'},
		{"start", 1, 0, 's'}, {"kind", 1, 0, 'k'},   {"cn", 1, 0, 'N'},
		{"ca", 0, 0, 'C'},    {"rsa", 0, 0, 'R'},    {"from", 1, 0, 'f'},
		{"to", 1, 0, 't'},    {"revoked", 0, 0, 'r'}, {0, 0, 0, 0}};
	*o = (struct opts){.prefix = "user", .domain = "example.com", .count = 1,
	                   .from_days = -1, .to_days = 365};
	int c;
	while ((c = getopt_long(argc, argv, "c:", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o->conf = optarg; break;
		case 'n': o->count = num(optarg); break;
		case 'p': o->prefix = optarg; break;
		case 'd': o->domain = optarg; break;
		case 's': o->start = num(optarg); break;
		case 'k': o->external = strcmp(optarg, "external") == 0; break;
		case 'N': o->cn = optarg; break;
		case 'C': o->use_ca = true; break;
		case 'R': o->rsa = true; break;
		case 'f': o->from_days = num(optarg); break;
		case 't': o->to_days = num(optarg); break;
		case 'r': o->revoked = true; break;
		default: die("usage: see the comment at the top of bench/ldap/ldapd_populate.c");
		}
	}
	if (o->conf == NULL || o->count < 1)
		die("-c CONF is required and --count must be positive");
}

struct issuer {
	X509 *cert;
	EVP_PKEY *key;
};

static void issuer_load(const struct settings *set, bool use_ca, struct issuer *is)
{
	if (!use_ca) {
		is->key = EVP_EC_gen("P-256");
		is->cert = X509_new();
		X509_NAME *n = X509_get_subject_name(is->cert);
		X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
		                           (const unsigned char *)"ldapd bench CA", -1, -1, 0);
		X509_set_issuer_name(is->cert, n);
		X509_set_pubkey(is->cert, is->key);
		return;
	}
	/* The instance CA as ca_open() reads it (its key is sealed with the master key); the
	 * bench signs its own certificate layouts, so it takes the OpenSSL objects inside. */
	char dir[SG_PATH_MAX];
	const char *err = "path too long";
	struct keystore *ks = NULL;
	struct ca *ca = NULL;
	if (settings_path(set, "gateway.master_key", dir, sizeof(dir)) < 0 ||
	    keystore_open(dir, &ks, &err) < 0 ||
	    settings_path(set, "gateway.ca_dir", dir, sizeof(dir)) < 0 ||
	    ca_open(dir, ks, &ca, &err) < 0) {
		fprintf(stderr, "ldapd_populate: %s\n", err);
		die("cannot read the instance CA (ca.crt, ca.key)");
	}
	is->cert = X509_dup(ca->cert);
	is->key = keystore_key_pkey(ca->key);
	EVP_PKEY_up_ref(is->key);
	ca_close(&ca);
	keystore_close(&ks);
}

static void ext_add(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL || !X509_add_ext(x, ext, -1))
		die("cannot add an extension");
	X509_EXTENSION_free(ext);
}

static void names_add(X509 *x, const char *address, const char *cn, long i, bool one)
{
	char given[64], full[160];
	if (cn != NULL) {
		sg_strlcpy(full, cn, sizeof(full));
	} else {
		snprintf(given, sizeof(given), "Given%05ld", i);
		snprintf(full, sizeof(full), one ? "%s" : "%s Tester", one ? address : given);
	}
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)full, -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "emailAddress", MBSTRING_ASC,
	                           (const unsigned char *)address, -1, -1, 0);
}

static unsigned char *cert_make(const struct opts *o, const struct issuer *is, EVP_PKEY *key,
                                const char *address, long i, size_t *len_r)
{
	X509 *x = X509_new();
	unsigned char serial[16];
	RAND_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	X509_set_version(x, 2);
	time_t now = time(NULL);
	X509_time_adj(X509_getm_notBefore(x), o->from_days * 86400L, &now);
	X509_time_adj(X509_getm_notAfter(x), o->to_days * 86400L, &now);
	names_add(x, address, o->count == 1 ? o->cn : NULL, i, o->count == 1 && o->cn == NULL);
	X509_set_issuer_name(x, X509_get_subject_name(is->cert));
	X509_set_pubkey(x, key);
	char san[SG_ADDR_MAX + 8];
	snprintf(san, sizeof(san), "email:%s", address);
	ext_add(x, is->cert, NID_subject_alt_name, san);
	ext_add(x, is->cert, NID_ext_key_usage, "emailProtection");
	ext_add(x, is->cert, NID_key_usage, o->rsa ? "critical,digitalSignature,keyEncipherment"
	                                           : "critical,digitalSignature,keyAgreement");
	if (X509_sign(x, is->key, EVP_sha256()) <= 0)
		die("cannot sign");
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	X509_free(x);
	if (n <= 0)
		die("cannot encode");
	unsigned char *copy = sg_memdup(der, (size_t)n);
	OPENSSL_free(der);
	*len_r = (size_t)n;
	return copy;
}

static void store_one(struct store *st, const struct opts *o, const char *address,
                      unsigned char *der, size_t len)
{
	const char *err;
	struct smime_certinfo info;
	int64_t uid, id;
	if (smime_cert_parse(der, len, &info, &err) < 0)
		die(err);
	if (store_user_ensure(st, address, o->external ? STORE_USER_EXTERNAL : STORE_USER_INTERNAL,
	                      &uid, &err) < 0)
		die(err);
	struct store_cert c = {.user_id = uid, .der = der, .der_len = len,
	                       .not_before = info.not_before, .not_after = info.not_after,
	                       .source = o->external ? STORE_CERT_PROXY : STORE_CERT_ISSUED,
	                       .revoked_at = o->revoked ? time(NULL) : 0};
	sg_strlcpy(c.fingerprint, info.fingerprint, sizeof(c.fingerprint));
	sg_strlcpy(c.serial, info.serial, sizeof(c.serial));
	sg_strlcpy(c.issuer, info.issuer, sizeof(c.issuer));
	if (store_cert_add(st, &c, NULL, 0, &id, &err) < 0)
		die(err);
}

int main(int argc, char **argv)
{
	struct opts o;
	parse(argc, argv, &o);
	char *errors = NULL;
	struct settings *set = settings_load(o.conf, &errors);
	if (set == NULL)
		die(errors != NULL ? errors : "cannot load the configuration");
	const char *err;
	struct store *st = store_open_settings(set, &err);
	if (st == NULL)
		die(err);
	struct issuer is;
	issuer_load(set, o.use_ca, &is);
	EVP_PKEY *key = o.rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
	for (long i = o.start; i < o.start + o.count; i++) {
		char address[SG_ADDR_MAX];
		if (o.count == 1)
			snprintf(address, sizeof(address), "%s@%s", o.prefix, o.domain);
		else
			snprintf(address, sizeof(address), "%s%05ld@%s", o.prefix, i, o.domain);
		size_t len;
		unsigned char *der = cert_make(&o, &is, key, address, i, &len);
		store_one(st, &o, address, der, len);
		sg_free(&der);
		if (o.count <= 20)
			printf("%s\n", address);
	}
	EVP_PKEY_free(key);
	EVP_PKEY_free(is.key);
	X509_free(is.cert);
	store_close(&st);
	settings_free(&set);
	return 0;
}
