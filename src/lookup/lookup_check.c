/* lookup_check.c: nothing a directory, keyserver or DNS answer says is taken on its word. A
 * certificate is used only if it chains to one of our trust anchors (the system store, the
 * instance CA, ca.trust_anchors), names the address, and may encrypt now; a key only if one of
 * its valid user IDs is the address and it is unexpired, unrevoked and able to encrypt
 * (pgp_key_inspect's judgement, as for an admin's import). */
#include "lookup/lookup_priv.h"

#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "crypto/pgp.h"
#include "crypto/smime.h"

#include <string.h>

/* Why certificate i of c cannot be used for addr, or NULL if it can. */
static const char *cert_refusal(const struct lookup *lk, const char *addr,
                                const struct lookup_certs *c, size_t i,
                                struct smime_certinfo *info, char *why, size_t whysize)
{
	const char *err;
	if (smime_cert_parse(c->der[i], c->len[i], info, &err) < 0)
		return err;
	if (!smime_cert_has_address(c->der[i], c->len[i], addr)) {
		char other[100];
		sg_printable(other, sizeof(other), info->address[0] != '\0' ? info->address : "none", 80);
		snprintf(why, whysize, "the certificate names another address (%s)", other);
		return why;
	}
	if (smime_cert_usable(c->der[i], c->len[i], SMIME_USAGE_ENCRYPT, sg_wall(), 0, &err) < 0)
		return err;
	if (lk->trust == NULL)
		return "no trust anchors are loaded";
	struct smime_der extra[LOOKUP_MAX_CERTS];
	size_t n = 0;
	for (size_t k = 0; k < c->n; k++)
		if (k != i)
			extra[n++] = (struct smime_der){c->der[k], c->len[k]};
	if (smime_trust_check_chain(lk->trust, c->der[i], c->len[i], extra, n, &err) < 0) {
		snprintf(why, whysize, "untrusted chain: %s", err);
		return why;
	}
	return NULL;
}

void lookup_check_certs(const struct lookup *lk, const char *addr, const struct lookup_certs *c,
                        const char *where, struct lookup_answer *a)
{
	const char *first_why = NULL;
	char why[160], keep[160] = "";
	size_t best = c->n;
	time_t best_after = 0;
	for (size_t i = 0; i < c->n; i++) {
		struct smime_certinfo info;
		const char *w = cert_refusal(lk, addr, c, i, &info, why, sizeof(why));
		if (w == NULL && info.not_after > best_after) {
			best = i;
			best_after = info.not_after;
			sg_strlcpy(a->fingerprint, info.fingerprint, sizeof(a->fingerprint));
		} else if (w != NULL && first_why == NULL) {
			sg_strlcpy(keep, w, sizeof(keep));
			first_why = keep;
		}
	}
	if (best == c->n) {
		lookup_set(a, LOOKUP_REFUSED, "%s: %s", where,
		           first_why != NULL ? first_why : "no certificate in the answer");
		return;
	}
	a->kind = STORE_LOOKUP_SMIME;
	a->data = sg_memdup(c->der[best], c->len[best]);
	a->len = c->len[best];
	a->not_after = best_after;
	lookup_set(a, LOOKUP_FOUND, "certificate from %s", where);
}

static bool report_names(const struct pgp_key_report *r, const char *addr)
{
	for (size_t i = 0; i < r->naddresses; i++)
		if (sg_streq_nocase(r->addresses[i], addr))
			return true;
	return false;
}

void lookup_check_key(const char *addr, const unsigned char *data, size_t len, const char *where,
                      struct lookup_answer *a)
{
	struct pgp_key_report *r = NULL;
	size_t n = 0;
	const char *err;
	if (pgp_key_inspect(data, len, sg_wall(), &r, &n, &err) < 0) {
		lookup_set(a, LOOKUP_REFUSED, "%s: not an OpenPGP key (%s)", where, err);
		return;
	}
	size_t best = n;
	char why[200] = "no key in the answer";
	bool said = false; /* why holds the first refusal */
	for (size_t i = 0; i < n; i++) {
		if (r[i].accepted && report_names(&r[i], addr)) {
			if (best == n || r[i].created > r[best].created)
				best = i;
		} else if (!said) {
			const char *reason = r[i].reason != NULL ? r[i].reason : "not usable";
			snprintf(why, sizeof(why), "key %.40s: %s", r[i].fingerprint,
			         !r[i].accepted ? reason : "no valid user ID with the address");
			said = true;
		}
	}
	if (best == n) {
		lookup_set(a, LOOKUP_REFUSED, "%s: %s", where, why);
	} else {
		a->kind = STORE_LOOKUP_PGP;
		a->data = sg_memdup(r[best].pubkey, r[best].pubkey_len);
		a->len = r[best].pubkey_len;
		a->not_after = r[best].expires;
		sg_strlcpy(a->fingerprint, r[best].fingerprint, sizeof(a->fingerprint));
		lookup_set(a, LOOKUP_FOUND, "key %s from %s", r[best].fingerprint, where);
	}
	pgp_key_reports_free(&r, n);
}
