/* enrol_issue.c: a new key and certificate for an address, stored with the key sealed; and
 * finding a stored certificate again by its row. The key exists in clear only inside
 * enrol_issue, between generation and sealing. */
#include "enrol/enrol.h"

#include "core/settings.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/ca.h"
#include "crypto/keystore.h"
#include "crypto/smime.h"

#include <stdio.h>
#include <string.h>

int enrol_store(const struct enrol_ctx *ec, const char *address, enum store_user_kind kind,
                enum store_cert_source source, const unsigned char *der, size_t der_len,
                const struct keystore_key *key, struct store_cert *c, const char **error_r)
{
	struct smime_certinfo info;
	char owner[80];
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	memset(c, 0, sizeof(*c));
	if (smime_cert_parse(der, der_len, &info, error_r) < 0 ||
	    store_user_ensure(ec->store, address, kind, &c->user_id, error_r) < 0)
		return -1;
	snprintf(owner, sizeof(owner), "cert:%s", info.fingerprint);
	if (key != NULL && keystore_seal(ec->keystore, key, owner, &sealed, &sealed_len, error_r) < 0)
		return -1;
	c->der = sg_memdup(der, der_len);
	c->der_len = der_len;
	sg_strlcpy(c->address, address, sizeof(c->address));
	sg_strlcpy(c->fingerprint, info.fingerprint, sizeof(c->fingerprint));
	sg_strlcpy(c->serial, info.serial, sizeof(c->serial));
	sg_strlcpy(c->issuer, info.issuer, sizeof(c->issuer));
	c->not_before = info.not_before;
	c->not_after = info.not_after;
	c->source = source;
	c->has_key = key != NULL;
	int rc = store_cert_add(ec->store, c, sealed, sealed_len, &c->id, error_r);
	sg_free(&sealed);
	return rc;
}

int enrol_ca_issue(const struct enrol_ctx *ec, const char *address, const struct keystore_key *key,
                   int days, unsigned char **der_r, size_t *der_len_r, const char **error_r)
{
	uint64_t seq = 0;
	return store_ca_serial_next(ec->store, &seq, error_r) < 0
	           ? -1
	           : ca_issue(ec->ca, seq, address,
	                      settings_get(ec->settings, "gateway.organization"), key, days, der_r,
	                      der_len_r, error_r);
}

int enrol_issue(const struct enrol_ctx *ec, const char *address, enum store_user_kind kind,
                enum store_cert_source source, struct store_cert *cert_r, const char **error_r)
{
	enum keystore_key_type type = KEYSTORE_KEY_RSA3072;
	(void)keystore_key_type_parse(settings_get(ec->settings, "ca.user_key_type"), &type);
	int days = (int)settings_number(ec->settings, "ca.user_cert_days");
	struct keystore_key *key = NULL;
	unsigned char *der = NULL;
	size_t der_len = 0;
	memset(cert_r, 0, sizeof(*cert_r));
	int rc = -1;
	if (keystore_key_generate(type, &key, error_r) == 0 &&
	    enrol_ca_issue(ec, address, key, days, &der, &der_len, error_r) == 0)
		rc = enrol_store(ec, address, kind, source, der, der_len, key, cert_r, error_r);
	if (rc < 0)
		store_cert_clear(cert_r);
	sg_free(&der);
	keystore_key_free(&key);
	return rc;
}

int enrol_cert_get(const struct enrol_ctx *ec, const char *address, int64_t cert_id,
                   struct store_cert *cert_r, const char **error_r)
{
	struct store_cert *certs = NULL;
	size_t n = 0;
	if (store_cert_list(ec->store, address, &certs, &n, error_r) < 0)
		return -1;
	int found = 0;
	for (size_t i = 0; i < n && !found; i++) {
		if (certs[i].id != cert_id)
			continue;
		*cert_r = certs[i];
		memset(&certs[i], 0, sizeof(certs[i]));
		found = 1;
	}
	store_cert_list_free(&certs, n);
	return found;
}
