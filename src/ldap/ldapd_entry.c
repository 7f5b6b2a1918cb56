/* ldapd_entry.c: the directory's entries as an immutable snapshot: the root DSE, the base
 * entry and one inetOrgPerson per published address ("mail=ADDR,BASE"), with names taken from
 * the certificate subject and userSMIMECertificate built once as PKCS#7 certs-only with the
 * chain (RFC 2798), so that serving a search only copies bytes. */
#include "ldap/ldapd.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <ctype.h>
#include <ldap.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 256

static void add_value(struct ldapd_entry *e, int a, const void *p, size_t len)
{
	e->vals[a] = sg_reallocarray(e->vals[a], e->nvals[a] + 1, sizeof(struct ldapd_value));
	struct ldapd_value *v = &e->vals[a][e->nvals[a]++];
	char *copy = sg_malloc(sg_size_add(len, 1));
	memcpy(copy, p, len);
	copy[len] = '\0';
	v->v = copy;
	v->len = len;
	v->lower = NULL;
	if (ldapd_attr_is_string(a)) {
		char *lower = sg_memdup(copy, len + 1);
		for (size_t i = 0; i < len; i++)
			lower[i] = (char)tolower((unsigned char)lower[i]);
		v->lower = lower;
	}
}

static void add_str(struct ldapd_entry *e, int a, const char *s)
{
	add_value(e, a, s, strlen(s));
}

static void entry_clear(struct ldapd_entry *e)
{
	for (int a = 0; a < LDAPD_A_COUNT; a++) {
		for (size_t i = 0; i < e->nvals[a]; i++) {
			sg_free(&e->vals[a][i].v);
			sg_free(&e->vals[a][i].lower);
		}
		sg_free(&e->vals[a]);
	}
	sg_free(&e->dn);
	sg_free(&e->ndn);
}

static int entry_set_dn(struct ldapd_entry *e, const char *dn)
{
	char ndn[SG_LDAP_DN_MAX * 3];
	if (ldapd_dn_normalize(dn, strlen(dn), ndn, sizeof(ndn)) < 0)
		return -1;
	e->dn = sg_strdup(dn);
	e->ndn = sg_strdup(ndn);
	return 0;
}

static void root_dse_fill(struct ldapd_entry *e, const struct ldapd_snapshot_config *cfg)
{
	e->dn = sg_strdup("");
	e->ndn = sg_strdup("");
	add_str(e, LDAPD_A_OBJECTCLASS, "top");
	add_str(e, LDAPD_A_NAMINGCONTEXTS, cfg->base_dn);
	add_str(e, LDAPD_A_LDAPVERSION, "3");
	if (cfg->starttls)
		add_str(e, LDAPD_A_EXTENSION, LDAP_EXOP_START_TLS);
	add_str(e, LDAPD_A_VENDORNAME, "sealgate");
}

/* The base entry: its RDN attribute and a structural class that fits it. */
static void base_fill(struct ldapd_entry *e, const struct ldapd_snapshot_config *cfg)
{
	static const struct {
		const char *type;
		int attr;
		const char *classes[2];
	} kinds[] = {
		{"dc", LDAPD_A_DC, {"dcObject", "organization"}},
		{"o", LDAPD_A_O, {"organization", NULL}},
		{"ou", LDAPD_A_OU, {"organizationalUnit", NULL}},
	};
	add_str(e, LDAPD_A_OBJECTCLASS, "top");
	const char *eq = strchr(e->ndn, '='), *comma = strchr(e->ndn, ',');
	size_t tlen = eq != NULL ? (size_t)(eq - e->ndn) : 0;
	for (size_t k = 0; eq != NULL && k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		if (strlen(kinds[k].type) != tlen || strncmp(kinds[k].type, e->ndn, tlen) != 0)
			continue;
		for (size_t c = 0; c < 2 && kinds[k].classes[c] != NULL; c++)
			add_str(e, LDAPD_A_OBJECTCLASS, kinds[k].classes[c]);
		size_t vlen = comma != NULL ? (size_t)(comma - eq - 1) : strlen(eq + 1);
		if (memchr(eq + 1, '\\', vlen) == NULL)
			add_value(e, kinds[k].attr, eq + 1, vlen);
	}
	if (e->nvals[LDAPD_A_DC] > 0 || e->nvals[LDAPD_A_O] > 0)
		add_str(e, LDAPD_A_O, cfg->organization);
}

struct ldapd_snapshot *ldapd_snapshot_new(const struct ldapd_snapshot_config *cfg,
                                          const char **error_r)
{
	struct ldapd_snapshot *snap = sg_calloc(1, sizeof(*snap));
	snap->refs = 1;
	if (cfg->base_dn[0] == '\0' || entry_set_dn(&snap->base, cfg->base_dn) < 0) {
		*error_r = "ldap.base_dn is not a valid DN";
		ldapd_snapshot_unref(&snap);
		return NULL;
	}
	snap->nbase = sg_strdup(snap->base.ndn);
	root_dse_fill(&snap->root_dse, cfg);
	base_fill(&snap->base, cfg);
	if (cfg->ca_der != NULL) {
		const unsigned char *p = cfg->ca_der;
		snap->ca = d2i_X509(NULL, &p, (long)cfg->ca_der_len);
		if (snap->ca == NULL)
			sg_warn("ldap: the CA certificate does not parse; chains are left out");
	}
	return snap;
}

/* A subject name component as UTF-8 into dst; false if absent or unusable. */
static bool subject_part(X509_NAME *name, int nid, char *dst, size_t size)
{
	int idx = X509_NAME_get_index_by_NID(name, nid, -1);
	if (idx < 0)
		return false;
	unsigned char *utf8 = NULL;
	int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
	bool ok = n > 0 && (size_t)n < size && memchr(utf8, '\0', (size_t)n) == NULL;
	if (ok) {
		memcpy(dst, utf8, (size_t)n);
		dst[n] = '\0';
	}
	OPENSSL_free(utf8);
	return ok && sg_trim(dst)[0] != '\0';
}

/* cn, sn, givenName and displayName from the subject; the address stands in for a name. */
static void names_fill(struct ldapd_entry *e, X509 *x, const char *address)
{
	char cn[NAME_MAX_LEN], sn[NAME_MAX_LEN], gn[NAME_MAX_LEN];
	X509_NAME *name = X509_get_subject_name(x);
	if (!subject_part(name, NID_commonName, cn, sizeof(cn)))
		sg_strlcpy(cn, address, sizeof(cn));
	bool has_sn = subject_part(name, NID_surname, sn, sizeof(sn));
	bool has_gn = subject_part(name, NID_givenName, gn, sizeof(gn));
	const char *space = strrchr(cn, ' ');
	if (!has_sn)
		sg_strlcpy(sn, space != NULL && strchr(cn, '@') == NULL ? space + 1 : cn, sizeof(sn));
	if (!has_gn && space != NULL && strchr(cn, '@') == NULL) {
		sg_strlcpy(gn, cn, sizeof(gn));
		gn[space - cn] = '\0';
		has_gn = true;
	}
	add_str(e, LDAPD_A_CN, cn);
	add_str(e, LDAPD_A_SN, sn);
	if (has_gn)
		add_str(e, LDAPD_A_GIVENNAME, gn);
	add_str(e, LDAPD_A_DISPLAYNAME, cn);
}

static struct ldapd_entry *person_new(struct ldapd_snapshot *snap, const char *address,
                                      const char **error_r)
{
	char dn[SG_LDAP_DN_MAX] = "mail=";
	if (ldapd_dn_escape(address, dn, sizeof(dn)) < 0 ||
	    sg_strlcpy(dn + strlen(dn), ",", sizeof(dn) - strlen(dn)) >= sizeof(dn) - strlen(dn) ||
	    sg_strlcpy(dn + strlen(dn), snap->base.dn, sizeof(dn) - strlen(dn)) >=
	        sizeof(dn) - strlen(dn)) {
		*error_r = "address too long for a DN";
		return NULL;
	}
	if (snap->npeople == snap->cap) {
		snap->cap = snap->cap == 0 ? 64 : sg_size_mul(snap->cap, 2);
		snap->people = sg_reallocarray(snap->people, snap->cap, sizeof(*snap->people));
	}
	struct ldapd_entry *e = &snap->people[snap->npeople];
	memset(e, 0, sizeof(*e));
	if (entry_set_dn(e, dn) < 0) {
		*error_r = "address does not make a valid DN";
		return NULL;
	}
	snap->npeople++;
	static const char *const classes[] = {"top", "person", "organizationalPerson",
	                                      "inetOrgPerson"};
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		add_str(e, LDAPD_A_OBJECTCLASS, classes[i]);
	add_str(e, LDAPD_A_MAIL, address);
	return e;
}

int ldapd_snapshot_add(struct ldapd_snapshot *snap, const char *address,
                       const unsigned char *der, size_t len, const char **error_r)
{
	const unsigned char *p = der;
	X509 *x = len <= SG_CERT_DER_MAX ? d2i_X509(NULL, &p, (long)len) : NULL;
	if (x == NULL || p != der + len) {
		X509_free(x);
		*error_r = "certificate does not parse";
		return -1;
	}
	struct ldapd_entry *last = snap->npeople > 0 ? &snap->people[snap->npeople - 1] : NULL;
	struct ldapd_entry *e = last;
	if (last == NULL || !sg_streq_nocase(last->vals[LDAPD_A_MAIL][0].v, address)) {
		e = person_new(snap, address, error_r);
		if (e != NULL)
			names_fill(e, x, address);
	}
	X509_free(x);
	if (e == NULL)
		return -1;
	add_value(e, LDAPD_A_USERCERT, der, len);
	return 0;
}

/* PKCS#7 SignedData, certs only (as `openssl crl2pkcs7 -nocrl` makes): the entry's
 * certificates and, for those our CA issued, the CA. */
static void smime_value(struct ldapd_entry *e, X509 *ca)
{
	PKCS7 *p7 = PKCS7_new();
	PKCS7_SIGNED *s = PKCS7_SIGNED_new();
	sg_assert(p7 != NULL && s != NULL);
	p7->type = OBJ_nid2obj(NID_pkcs7_signed);
	p7->d.sign = s;
	s->contents->type = OBJ_nid2obj(NID_pkcs7_data);
	bool chain = false;
	int ok = ASN1_INTEGER_set(s->version, 1);
	for (size_t i = 0; ok && i < e->nvals[LDAPD_A_USERCERT]; i++) {
		const unsigned char *p = (const unsigned char *)e->vals[LDAPD_A_USERCERT][i].v;
		X509 *x = d2i_X509(NULL, &p, (long)e->vals[LDAPD_A_USERCERT][i].len);
		ok = x != NULL && PKCS7_add_certificate(p7, x);
		chain |= ok && ca != NULL && X509_check_issued(ca, x) == X509_V_OK;
		X509_free(x);
	}
	if (ok && chain)
		ok = PKCS7_add_certificate(p7, ca);
	unsigned char *der = NULL;
	int n = ok ? i2d_PKCS7(p7, &der) : -1;
	if (n > 0)
		add_value(e, LDAPD_A_USERSMIME, der, (size_t)n);
	else
		sg_warn("ldap: cannot build userSMIMECertificate for %s", e->dn);
	OPENSSL_free(der);
	PKCS7_free(p7);
}

static int ikey_cmp(const void *a, const void *b)
{
	const struct ldapd_ikey *x = a, *y = b;
	int c = memcmp(x->lower, y->lower, x->len < y->len ? x->len : y->len);
	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len ? 1 : x->entry < y->entry ? -1 : 1;
}

/* Sorted values of the attributes Outlook's and Thunderbird's filters name. */
static void index_build(struct ldapd_snapshot *snap)
{
	static const int indexed[] = {LDAPD_A_MAIL, LDAPD_A_CN, LDAPD_A_SN, LDAPD_A_GIVENNAME,
	                              LDAPD_A_DISPLAYNAME};
	for (size_t k = 0; k < sizeof(indexed) / sizeof(indexed[0]); k++) {
		int a = indexed[k];
		struct ldapd_index *ix = &snap->index[a];
		for (size_t i = 0; i < snap->npeople; i++) {
			const struct ldapd_entry *e = &snap->people[i];
			for (size_t v = 0; v < e->nvals[a]; v++) {
				ix->keys = sg_reallocarray(ix->keys, ix->n + 1, sizeof(*ix->keys));
				ix->keys[ix->n++] = (struct ldapd_ikey){e->vals[a][v].lower, e->vals[a][v].len,
				                                        (uint32_t)i};
			}
		}
		if (ix->n > 1)
			qsort(ix->keys, ix->n, sizeof(*ix->keys), ikey_cmp);
	}
}

void ldapd_snapshot_finish(struct ldapd_snapshot *snap)
{
	for (size_t i = 0; i < snap->npeople; i++)
		smime_value(&snap->people[i], snap->ca);
	index_build(snap);
	X509_free(snap->ca);
	snap->ca = NULL;
}

struct ldapd_snapshot *ldapd_snapshot_ref(struct ldapd_snapshot *snap)
{
	snap->refs++;
	return snap;
}

void ldapd_snapshot_unref(struct ldapd_snapshot **snap)
{
	struct ldapd_snapshot *s = *snap;
	*snap = NULL;
	if (s == NULL || --s->refs > 0)
		return;
	for (size_t i = 0; i < s->npeople; i++)
		entry_clear(&s->people[i]);
	sg_free(&s->people);
	for (int a = 0; a < LDAPD_A_COUNT; a++)
		sg_free(&s->index[a].keys);
	entry_clear(&s->root_dse);
	entry_clear(&s->base);
	X509_free(s->ca);
	sg_free(&s->nbase);
	sg_free(&s);
}
