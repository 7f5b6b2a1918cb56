/* lookup_dns.c: DNS-published keys through the validating resolver (dns.*): SMIMEA (RFC 8162)
 * at HASH._smimecert.DOMAIN and OPENPGPKEY (RFC 7929) at HASH._openpgpkey.DOMAIN, HASH being
 * the hex of SHA2-256 of the local part truncated to 28 octets. Only DNSSEC-secure answers
 * count: an insecure one (an unsigned zone, or none of our trust anchors over it) is ignored,
 * a bogus one is a failure. What a secure record holds is still checked like any other answer:
 * a certificate must chain to our trust anchors and name the address (stricter than RFC 8162's
 * DANE-EE usage), a key must have a valid user ID with the address. */
#include "lookup/lookup_priv.h"

#include "core/sg_str.h"

#include <string.h>

int lookup_dns_smimea_cert(const unsigned char *rdata, size_t len, const unsigned char **der_r,
                           size_t *len_r)
{
	if (rdata == NULL || len < 4)
		return -1;
	uint8_t usage = rdata[0], selector = rdata[1], mtype = rdata[2];
	if (usage > 3 || selector > 1 || mtype > 2)
		return 0; /* a use RFC 6698 does not define: not ours to read */
	if (selector != 0 || mtype != 0)
		return 0; /* a public key or a digest: nothing to encrypt to */
	if (len - 3 > SG_CERT_DER_MAX)
		return -1;
	*der_r = rdata + 3;
	*len_r = len - 3;
	return 1;
}

/* name/type through r: 0 with a secure answer in *ans, -1 with a filled. */
static int ask_secure(struct dns_resolver *r, const char *name, enum dns_type type,
                      struct dns_answer *ans, struct lookup_answer *a)
{
	const char *err;
	if (dns_query(r, name, type, ans, &err) < 0) {
		lookup_set(a, LOOKUP_FAILED, "%s: %s%s%s", name, err,
		           ans->security == DNS_BOGUS ? ": " : "", ans->why_bogus);
		return -1;
	}
	if (ans->count > 0 && ans->security != DNS_SECURE) {
		lookup_set(a, LOOKUP_REFUSED, "%s: answer not DNSSEC-secure (%s): ignored", name,
		           dns_security_name(ans->security));
		return -1;
	}
	if (ans->count == 0) {
		lookup_set(a, LOOKUP_NOTHING, "%s: no record", name);
		return -1;
	}
	return 0;
}

static void smimea(const struct lookup *lk, struct dns_resolver *r, const char *addr,
                   const char *name, struct lookup_answer *a)
{
	struct dns_answer ans;
	if (ask_secure(r, name, DNS_TYPE_SMIMEA, &ans, a) == 0) {
		struct lookup_certs c = {0};
		bool malformed = false;
		for (size_t i = 0; i < ans.count; i++) {
			const unsigned char *der;
			size_t len;
			int rc = lookup_dns_smimea_cert(ans.rr[i].data, ans.rr[i].len, &der, &len);
			malformed |= rc < 0;
			if (rc == 1)
				lookup_certs_add(&c, der, len);
		}
		if (c.n > 0)
			lookup_check_certs(lk, addr, &c, name, a);
		else
			lookup_set(a, LOOKUP_REFUSED, "%s: %s", name,
			           malformed ? "malformed SMIMEA record" : "no SMIMEA record with a "
			                                                   "whole certificate");
		lookup_certs_free(&c);
	}
	dns_answer_free(&ans);
}

static void openpgpkey(struct dns_resolver *r, const char *addr, const char *name,
                       struct lookup_answer *a)
{
	struct dns_answer ans;
	if (ask_secure(r, name, DNS_TYPE_OPENPGPKEY, &ans, a) == 0)
		lookup_check_key(addr, ans.rr[0].data, ans.rr[0].len, name, a);
	dns_answer_free(&ans);
}

void lookup_dns_ask(const struct lookup *lk, const char *addr, int64_t deadline_ms,
                    struct lookup_answer *a)
{
	const char *at = strrchr(addr, '@');
	char local[SG_ADDR_MAX], sname[SG_DOMAIN_MAX + 80], pname[SG_DOMAIN_MAX + 80];
	sg_strlcpy(local, addr, (size_t)(at - addr) + 1 < sizeof(local) ? (size_t)(at - addr) + 1
	                                                                 : sizeof(local));
	if (dns_hashed_owner(local, "_smimecert", at + 1, sname, sizeof(sname)) < 0 ||
	    dns_hashed_owner(local, "_openpgpkey", at + 1, pname, sizeof(pname)) < 0) {
		lookup_set(a, LOOKUP_REFUSED, "address too long for a DNS name");
		return;
	}
	struct dns_resolver *r = lookup_resolver(lk, deadline_ms, a);
	if (r == NULL)
		return;
	smimea(lk, r, addr, sname, a);
	if (a->outcome != LOOKUP_FOUND) {
		struct lookup_answer first = *a;
		a->data = NULL;
		openpgpkey(r, addr, pname, a);
		/* say why the S/MIME record was refused (or bogus) when there is no key either */
		if (a->outcome == LOOKUP_NOTHING && first.outcome != LOOKUP_NOTHING)
			*a = first;
		first.data = NULL;
	}
	dns_resolver_free(&r);
}
