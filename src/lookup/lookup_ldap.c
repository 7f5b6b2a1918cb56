/* lookup_ldap.c: CA directories (D-Trust, DFN, GlobalTrust style): an anonymous LDAPv3 search
 * for (mail=ADDRESS) under each lookup.ldap base, reading userCertificate;binary. Bounded
 * everywhere: the connection and the search share the chain's deadline, at most 10 entries,
 * no referrals chased, and no PDU larger than lookup.max_size is read. */
#include "lookup/lookup_priv.h"

#include "core/sg_str.h"
#include "directory/directory.h"

#include <string.h>
#include <sys/time.h>
#include <ldap.h>

#define LDAP_SIZELIMIT 10

static int set_options(LDAP *ld, const struct lookup *lk, bool tls, int left_ms)
{
	int v3 = LDAP_VERSION3, limit = LDAP_SIZELIMIT;
	struct timeval tv = {.tv_sec = left_ms / 1000, .tv_usec = (left_ms % 1000) * 1000};
	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_SIZELIMIT, &limit) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) != LDAP_OPT_SUCCESS)
		return -1;
	if (!tls)
		return 0;
	int demand = LDAP_OPT_X_TLS_DEMAND, zero = 0;
	if (lk->ca_file[0] != '\0' &&
	    ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, lk->ca_file) != LDAP_OPT_SUCCESS)
		return -1;
	if (ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) != LDAP_OPT_SUCCESS)
		return -1;
	return ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero) == LDAP_OPT_SUCCESS ? 0 : -1;
}

/* Connects, and caps what one PDU from the server may be (libldap reads whole PDUs). */
static int connect_capped(LDAP *ld, size_t max)
{
	Sockbuf *sb = NULL;
	ber_len_t cap = (ber_len_t)max;
	if (ldap_connect(ld) != LDAP_SUCCESS || ldap_get_option(ld, LDAP_OPT_SOCKBUF, &sb) !=
	                                            LDAP_OPT_SUCCESS || sb == NULL)
		return -1;
	return ber_sockbuf_ctrl(sb, LBER_SB_OPT_SET_MAX_INCOMING, &cap) == 1 ? 0 : -1;
}

static void collect_entry(LDAP *ld, LDAPMessage *entry, struct lookup_certs *c)
{
	BerElement *ber = NULL;
	for (char *attr = ldap_first_attribute(ld, entry, &ber); attr != NULL;
	     attr = ldap_next_attribute(ld, entry, ber)) {
		if (sg_has_prefix_nocase(attr, "userCertificate")) {
			struct berval **vals = ldap_get_values_len(ld, entry, attr);
			for (size_t i = 0; vals != NULL && vals[i] != NULL; i++)
				lookup_certs_add(c, vals[i]->bv_val, vals[i]->bv_len);
			ldap_value_free_len(vals);
		}
		ldap_memfree(attr);
	}
	ber_free(ber, 0);
}

/* Searches one directory; 0 answered (certificates in c, maybe none), -1 with a->detail. */
static int search_one(const struct lookup *lk, LDAPURLDesc *lud, const char *filter,
                      int64_t deadline_ms, struct lookup_certs *c, struct lookup_answer *a)
{
	char host[300];
	sg_snprintf(host, sizeof(host), "%s://%s:%d", lud->lud_scheme, lud->lud_host,
	            lud->lud_port);
	LDAP *ld = NULL;
	int left = lookup_left_ms(deadline_ms);
	bool tls = strcmp(lud->lud_scheme, "ldaps") == 0;
	int rc = ldap_initialize(&ld, host);
	if (rc != LDAP_SUCCESS || left == 0 || set_options(ld, lk, tls, left) < 0 ||
	    connect_capped(ld, lk->max_size) < 0) {
		lookup_set(a, LOOKUP_FAILED, "%s: cannot connect (%s)", host,
		           left == 0 ? "lookup.max_wait used up" : "refused, unreachable or TLS");
		if (ld != NULL)
			ldap_unbind_ext_s(ld, NULL, NULL);
		return -1;
	}
	char *attrs[] = {"userCertificate;binary", NULL};
	left = lookup_left_ms(deadline_ms);
	struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
	LDAPMessage *res = NULL;
	rc = ldap_search_ext_s(ld, lud->lud_dn != NULL ? lud->lud_dn : "", LDAP_SCOPE_SUBTREE,
	                       filter, attrs, 0, NULL, NULL, &tv, LDAP_SIZELIMIT, &res);
	if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED || rc == LDAP_NO_SUCH_OBJECT) {
		for (LDAPMessage *e = ldap_first_entry(ld, res); e != NULL; e = ldap_next_entry(ld, e))
			collect_entry(ld, e, c);
		rc = 0;
	} else {
		lookup_set(a, LOOKUP_FAILED, "%s: search failed: %s", host, ldap_err2string(rc));
		rc = -1;
	}
	ldap_msgfree(res);
	ldap_unbind_ext_s(ld, NULL, NULL);
	return rc;
}

void lookup_ldap_ask(const struct lookup *lk, const char *addr, int64_t deadline_ms,
                     struct lookup_answer *a)
{
	char esc[SG_ADDR_MAX * 3], filter[SG_ADDR_MAX * 3 + 16];
	if (dir_filter_escape(addr, esc, sizeof(esc)) < 0 ||
	    sg_snprintf(filter, sizeof(filter), "(mail=%s)", esc) < 0) {
		lookup_set(a, LOOKUP_REFUSED, "address too long for a filter");
		return;
	}
	lookup_set(a, LOOKUP_FAILED, "lookup.ldap is empty");
	for (size_t i = 0; i < lk->ldap.count && a->outcome != LOOKUP_FOUND; i++) {
		LDAPURLDesc *lud = NULL;
		if (ldap_url_parse(lk->ldap.items[i], &lud) != LDAP_URL_SUCCESS) {
			lookup_set(a, LOOKUP_FAILED, "%s: not an LDAP URL", lk->ldap.items[i]);
			continue;
		}
		struct lookup_certs c = {0};
		if (search_one(lk, lud, filter, deadline_ms, &c, a) == 0) {
			if (c.n == 0)
				lookup_set(a, LOOKUP_NOTHING, "%s: no certificate for the address",
				           lk->ldap.items[i]);
			else
				lookup_check_certs(lk, addr, &c, lk->ldap.items[i], a);
		}
		lookup_certs_free(&c);
		ldap_free_urldesc(lud);
	}
}
