/* sgdkim_pubkey.c: the public keys of the ARC sets sealgate checks itself (libopendkim looks
 * up the keys of DKIM signatures, but has no ARC). The record of selector._domainkey.domain
 * comes from dkim.verify_keys_file when set (libopendkim's file format: "NAME RECORD" per
 * line; tests and closed networks), else from DNS (TXT, the system resolver). */
#include "crypto/sgdkim.h"
#include "crypto/sgdkim_priv.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"

#include <arpa/nameser.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <resolv.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define KEY_RECORD_MAX 4096
#define KEYS_FILE_MAX  (4 * 1024 * 1024)

/* The record of name in the keys file: 0, or -1. */
static int from_file(const char *path, const char *name, char *rec, size_t size)
{
	char *data = NULL;
	size_t len = 0, nl = strlen(name);
	const char *err;
	if (sg_file_read_all(path, KEYS_FILE_MAX, &data, &len, &err) < 0)
		return -1;
	int rc = -1;
	for (char *line = data, *next; line != NULL && rc < 0; line = next) {
		next = memchr(line, '\n', len - (size_t)(line - data));
		size_t ll = next != NULL ? (size_t)(next++ - line) : len - (size_t)(line - data);
		if (ll > nl && strncasecmp(line, name, nl) == 0 && (line[nl] == ' ' || line[nl] == '\t') &&
		    ll - nl - 1 < size) {
			memcpy(rec, line + nl + 1, ll - nl - 1);
			rec[ll - nl - 1] = '\0';
			rc = 0;
		}
	}
	sg_free(&data);
	return rc;
}

/* The first TXT record of name (its strings joined): 0, or -1. */
static int from_dns(const char *name, char *rec, size_t size)
{
	struct __res_state st;
	unsigned char ans[8192];
	memset(&st, 0, sizeof(st));
	if (res_ninit(&st) != 0)
		return -1;
	int n = res_nquery(&st, name, ns_c_in, ns_t_txt, ans, sizeof(ans));
	res_nclose(&st);
	ns_msg msg;
	if (n <= 0 || ns_initparse(ans, n, &msg) < 0)
		return -1;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		ns_rr rr;
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 || ns_rr_type(rr) != ns_t_txt)
			continue;
		const unsigned char *p = ns_rr_rdata(rr), *end = p + ns_rr_rdlen(rr);
		size_t used = 0;
		while (p < end && p + 1 + *p <= end && used + *p < size) {
			memcpy(rec + used, p + 1, *p);
			used += *p;
			p += 1 + *p;
		}
		rec[used] = '\0';
		if (p == end)
			return 0;
	}
	return -1;
}

static EVP_PKEY *key_of_record(const char *rec)
{
	char k[16] = "rsa", p[KEY_RECORD_MAX];
	unsigned char der[KEY_RECORD_MAX];
	size_t n = strlen(rec);
	if (!sgdkim_tag(rec, n, "p", p, sizeof(p)))
		return NULL;
	(void)sgdkim_tag(rec, n, "k", k, sizeof(k));
	int len = sgdkim_unbase64(p, der, sizeof(der)); /* p= empty: a revoked key */
	const unsigned char *d = der;
	EVP_PKEY *pk = NULL;
	if (len > 0 && strcmp(k, "rsa") == 0)
		pk = d2i_PUBKEY(NULL, &d, len);
	else if (len == 32 && strcmp(k, "ed25519") == 0)
		pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, 32);
	ERR_clear_error();
	return pk;
}

int sgdkim_pubkey_fetch(const struct sgdkim_lib *lib, const char *selector, const char *domain,
                        EVP_PKEY **pk_r, const char **error_r)
{
	char name[SG_DOMAIN_MAX + SG_DKIM_SELECTOR_MAX + 16], rec[KEY_RECORD_MAX];
	if (snprintf(name, sizeof(name), "%s._domainkey.%s", selector, domain) >= (int)sizeof(name)) {
		*error_r = "key name too long";
		return -1;
	}
	int rc = lib->keys_file[0] != '\0' ? from_file(lib->keys_file, name, rec, sizeof(rec))
	                                   : from_dns(name, rec, sizeof(rec));
	if (rc < 0) {
		*error_r = "key not retrieved";
		return -1;
	}
	*pk_r = key_of_record(rec);
	if (*pk_r == NULL) {
		*error_r = "key record unusable (revoked or not a key)";
		return -1;
	}
	return 0;
}

bool sgdkim_sig_check(EVP_PKEY *pk, const char *alg, const unsigned char *sig, size_t siglen,
                      const unsigned char *data, size_t len)
{
	unsigned char hash[32];
	unsigned int hl = sizeof(hash);
	bool ok = EVP_Digest(data, len, hash, &hl, EVP_sha256(), NULL) == 1;
	if (ok && strcmp(alg, "ed25519-sha256") == 0 && EVP_PKEY_is_a(pk, "ED25519")) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		ok = md != NULL && EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk) == 1 &&
		     EVP_DigestVerify(md, sig, siglen, hash, sizeof(hash)) == 1;
		EVP_MD_CTX_free(md);
	} else if (ok && strcmp(alg, "rsa-sha256") == 0 && EVP_PKEY_is_a(pk, "RSA")) {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
		ok = c != NULL && EVP_PKEY_verify_init(c) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1 &&
		     EVP_PKEY_verify(c, sig, siglen, hash, sizeof(hash)) == 1;
		EVP_PKEY_CTX_free(c);
	} else {
		ok = false;
	}
	ERR_clear_error();
	return ok;
}
