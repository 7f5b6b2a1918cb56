/* ldapd_reply.c: the LDAPMessages we send, BER-encoded with liblber: results, extended
 * responses, the notice of disconnection and search entries with the attribute selection of
 * RFC 4511 §4.5.1.8. Certificates go out as "userCertificate;binary" (RFC 4523) whatever the
 * spelling asked; userSMIMECertificate in the spelling asked, as both are in use. */
#include "ldap/ldapd.h"

#include "core/sg_buf.h"
#include "core/sg_log.h"

#include <lber.h>
#include <ldap.h>
#include <string.h>

static BerElement *ber_new(void)
{
	BerElement *ber = ber_alloc_t(LBER_USE_DER);
	if (ber == NULL)
		sg_fatal("out of memory (ber_alloc_t)");
	return ber;
}

/* Appends the encoded message to out and frees ber. */
static int finish(struct sg_buf *out, BerElement *ber, int printed)
{
	struct berval bv;
	int rc = -1;
	if (printed >= 0 && ber_flatten2(ber, &bv, 0) == 0)
		rc = sg_buf_append(out, bv.bv_val, bv.bv_len);
	else
		sg_error("ldap: cannot encode a reply");
	ber_free(ber, 1);
	return rc;
}

int ldapd_reply_result(struct sg_buf *out, int msgid, unsigned long tag, enum ldapd_rc rc,
                       const char *matched, const char *diag)
{
	BerElement *ber = ber_new();
	int r = ber_printf(ber, "{it{ess}}", (ber_int_t)msgid, (ber_tag_t)tag, (ber_int_t)rc,
	                   matched != NULL ? matched : "", diag != NULL ? diag : "");
	return finish(out, ber, r);
}

int ldapd_reply_extended(struct sg_buf *out, int msgid, enum ldapd_rc rc, const char *diag,
                         const char *oid)
{
	BerElement *ber = ber_new();
	int r = ber_printf(ber, "{it{ess", (ber_int_t)msgid, (ber_tag_t)LDAP_RES_EXTENDED,
	                   (ber_int_t)rc, "", diag != NULL ? diag : "");
	if (r >= 0 && oid != NULL)
		r = ber_printf(ber, "ts", (ber_tag_t)LDAP_TAG_EXOP_RES_OID, oid);
	if (r >= 0)
		r = ber_printf(ber, "}}");
	return finish(out, ber, r);
}

int ldapd_reply_notice(struct sg_buf *out, enum ldapd_rc rc, const char *diag)
{
	return ldapd_reply_extended(out, 0, rc, diag, LDAP_NOTICE_OF_DISCONNECTION);
}

/* Attributes of the root DSE: operational, so "+" selects them too. */
#define DSE_MASK                                                                        \
	((1u << LDAPD_A_NAMINGCONTEXTS) | (1u << LDAPD_A_LDAPVERSION) |                     \
	 (1u << LDAPD_A_EXTENSION) | (1u << LDAPD_A_VENDORNAME))

void ldapd_reply_attrsel(struct ldapd_attrsel *sel, const struct ldapd_bv *attrs, size_t n)
{
	memset(sel, 0, sizeof(*sel));
	bool smime_plain = false, smime_bin = false;
	for (size_t i = 0; i < n; i++) {
		const struct ldapd_bv *a = &attrs[i];
		bool binary;
		if (a->len == 1 && a->p[0] == '*')
			sel->all = true;
		else if (a->len == 1 && a->p[0] == '+')
			sel->mask |= DSE_MASK;
		int id = ldapd_attr_lookup(a->p, a->len, &binary);
		if (id < 0)
			continue;
		sel->mask |= 1u << id;
		if (id == LDAPD_A_USERSMIME)
			*(binary ? &smime_bin : &smime_plain) = true;
	}
	if (n == 0)
		sel->all = true;
	/* "1.1" names no attribute, so alone it leaves the mask empty: entries without values. */
	sel->smime_binary = smime_bin && !smime_plain;
}

static const char *out_name(int a, const struct ldapd_attrsel *sel)
{
	if (a == LDAPD_A_USERCERT)
		return "userCertificate;binary";
	if (a == LDAPD_A_USERSMIME && sel->smime_binary)
		return "userSMIMECertificate;binary";
	return ldapd_attr_name(a);
}

int ldapd_reply_entry(struct sg_buf *out, int msgid, const struct ldapd_entry *e,
                      const struct ldapd_attrsel *sel, bool typesonly)
{
	BerElement *ber = ber_new();
	int r = ber_printf(ber, "{it{s{", (ber_int_t)msgid, (ber_tag_t)LDAP_RES_SEARCH_ENTRY, e->dn);
	for (int a = 0; r >= 0 && a < LDAPD_A_COUNT; a++) {
		if (e->nvals[a] == 0 || !(sel->all || (sel->mask & (1u << a))))
			continue;
		r = ber_printf(ber, "{s[", out_name(a, sel));
		for (size_t i = 0; r >= 0 && !typesonly && i < e->nvals[a]; i++)
			r = ber_printf(ber, "o", e->vals[a][i].v, (ber_len_t)e->vals[a][i].len);
		if (r >= 0)
			r = ber_printf(ber, "]}");
	}
	if (r >= 0)
		r = ber_printf(ber, "}}}");
	return finish(out, ber, r);
}
