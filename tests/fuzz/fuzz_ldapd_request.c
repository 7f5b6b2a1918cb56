/* fuzz_ldapd_request.c: hostile bytes into the LDAP session machine: framing, the request
 * decoder, the filter decoder and evaluator, search and reply encoding over a small
 * directory. Whatever arrives, every reply must be a well-framed LDAPMessage and nothing may
 * crash, leak or read out of bounds. */
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "ldap/ldapd.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t fuzz_clock(void) { return 0; }

static void add_person(struct ldapd_snapshot *snap, EVP_PKEY *key, const char *cn,
                       const char *address)
{
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, key);
	X509_sign(x, key, EVP_sha256());
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);
	const char *err;
	sg_assert(len > 0 && ldapd_snapshot_add(snap, address, der, (size_t)len, &err) == 0);
	OPENSSL_free(der);
	X509_free(x);
}

static struct ldapd_dir *directory(void)
{
	static struct ldapd_dir *dir;
	if (dir != NULL)
		return dir;
	sg_log_init("fuzz");
	sg_log_set_level(SG_LOG_ERROR);
	struct ldapd_snapshot_config cfg = {.base_dn = "dc=example,dc=com", .organization = "Ex",
	                                    .starttls = true};
	const char *err;
	struct ldapd_snapshot *snap = ldapd_snapshot_new(&cfg, &err);
	EVP_PKEY *key = EVP_EC_gen("P-256");
	add_person(snap, key, "Alice Example", "alice@example.com");
	add_person(snap, key, "Bob Builder", "bob@example.com");
	EVP_PKEY_free(key);
	ldapd_snapshot_finish(snap);
	dir = ldapd_dir_new_fixed(snap);
	return dir;
}

/* Every reply is a whole LDAPMessage. */
static void check_output(struct ldapd_session *s)
{
	size_t len, off = 0, n;
	const char *out = ldapd_session_output(s, &len);
	while (off < len) {
		sg_assert(ldapd_request_frame((const unsigned char *)out + off, len - off,
		                              SG_LDAP_OUTPUT_MAX, &n) == LDAPD_FRAME_OK);
		off += n;
	}
	ldapd_session_output_consume(s, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ldapd_config cfg = {
		.bind_dn = "cn=reader,dc=example,dc=com", .bind_password = "secret",
		.allow_anonymous = true, .tls_available = true,
		.limits = {.max_results = 10, .time_limit_s = 5, .now_ms = fuzz_clock}};
	struct ldapd_session *s = ldapd_session_new(&cfg, directory(), "fuzz");
	/* The first byte splits the input in two reads, to exercise reassembly. */
	size_t cut = size > 0 ? data[0] % (size + 1) : 0;
	ldapd_session_input(s, data, cut);
	check_output(s);
	if (ldapd_session_want_tls(s))
		ldapd_session_tls_started(s);
	ldapd_session_input(s, data + cut, size - cut);
	check_output(s);
	ldapd_session_free(&s);
	return 0;
}
