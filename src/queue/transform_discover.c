/* transform_discover.c: key discovery on the mail path. The planner asks before it falls back
 * to SecurePDF (or a hold) for an external recipient without certificate or key; the S/MIME and
 * PGP transforms then find what was discovered in the lookup cache, ranked below every stored
 * certificate and key. Discovered material only ever encrypts: it is not in the tables that
 * inbound verification reads. */
#include "queue/transform.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "crypto/smime.h"
#include "lookup/lookup.h"
#include "policy/policy.h"
#include "store/store.h"
#include "store/store_lookup.h"

#include <string.h>

/* addr's cached hit of kind: 1 (e_r filled), 0 none, -1 error. */
static int cached_hit(const struct transform_env *te, const char *addr,
                      enum store_lookup_kind kind, struct store_lookup *e_r, const char **why_r)
{
	memset(e_r, 0, sizeof(*e_r));
	if (te->store == NULL || !lookup_enabled(te->lookup) || lookup_is_internal(te->lookup, addr))
		return 0;
	int rc = store_lookup_get(te->store, addr, sg_wall(), e_r, why_r);
	if (rc == 1 && e_r->kind == kind)
		return 1;
	store_lookup_clear(e_r);
	return rc < 0 ? -1 : 0;
}

int transform_discovered_cert(const struct transform_env *te, const char *addr,
                              struct store_cert *cert_r, const char **why_r)
{
	struct store_lookup e;
	int rc = cached_hit(te, addr, STORE_LOOKUP_SMIME, &e, why_r);
	if (rc != 1)
		return rc;
	struct smime_certinfo info;
	const char *err;
	if (smime_cert_parse(e.data, e.data_len, &info, &err) < 0) {
		*why_r = "the discovered certificate cannot be read";
		store_lookup_clear(&e);
		return 0;
	}
	memset(cert_r, 0, sizeof(*cert_r));
	sg_strlcpy(cert_r->address, addr, sizeof(cert_r->address));
	cert_r->der = e.data;
	cert_r->der_len = e.data_len;
	e.data = NULL;
	sg_strlcpy(cert_r->fingerprint, info.fingerprint, sizeof(cert_r->fingerprint));
	sg_strlcpy(cert_r->serial, info.serial, sizeof(cert_r->serial));
	sg_strlcpy(cert_r->issuer, info.issuer, sizeof(cert_r->issuer));
	cert_r->not_before = info.not_before;
	cert_r->not_after = info.not_after;
	cert_r->source = STORE_CERT_DISCOVERED;
	store_lookup_clear(&e);
	return 1;
}

int transform_discovered_pgp(const struct transform_env *te, const char *addr,
                             struct store_pgp_key *key_r, const char **why_r)
{
	struct store_lookup e;
	int rc = cached_hit(te, addr, STORE_LOOKUP_PGP, &e, why_r);
	if (rc != 1)
		return rc;
	memset(key_r, 0, sizeof(*key_r));
	sg_strlcpy(key_r->address, addr, sizeof(key_r->address));
	sg_strlcpy(key_r->fingerprint, e.fingerprint, sizeof(key_r->fingerprint));
	key_r->keydata = e.data;
	key_r->keydata_len = e.data_len;
	e.data = NULL;
	key_r->source = STORE_PGP_DISCOVERED;
	key_r->status = STORE_PGP_ACTIVE;
	key_r->expires = e.not_after;
	key_r->created = e.looked_at;
	store_lookup_clear(&e);
	return 1;
}

int transform_discover(void *ctx, const char *addr, struct policy_rcpt_info *info_r)
{
	const struct transform_env *te = ctx;
	if (te == NULL || te->store == NULL || !lookup_enabled(te->lookup))
		return 0;
	struct store_lookup e;
	const char *err;
	int rc = lookup_discover(te->lookup, te->store, addr, &e, &err);
	store_lookup_clear(&e);
	if (rc < 0) {
		sg_warn("key lookup: %s", err);
		return -1;
	}
	if (rc == 0)
		return 0;
	struct store_cert cert;
	struct store_pgp_key key;
	const char *why;
	if (transform_find_cert(te, addr, SMIME_USAGE_ENCRYPT, false, &cert, &why) == 1) {
		info_r->smime_usable = true;
		store_cert_clear(&cert);
	}
	if (transform_pgp_find(te, addr, &key, &why) == 1) {
		info_r->pgp_usable = key.expires == 0 || key.expires > sg_wall();
		store_pgp_key_clear(&key);
	}
	return 0;
}
