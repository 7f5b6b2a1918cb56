/* dir_list.c: every employee, for the sync: directory.user_filter with "*" for the name,
 * read in pages (RFC 2696; Active Directory returns at most 1000 entries per search
 * otherwise). A list is complete only when the last page said so: a size or time limit, a
 * lost connection or a referral-only answer is an error, never a shorter list. */
#include "directory/dir_priv.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"

#include <string.h>

#define PAGE_SIZE 500
#define LIST_MAX 500000 /* employees read in one listing */

struct list {
	struct dir_employee *v;
	size_t n, cap;
};

static void take_page(const struct directory *d, LDAP *ld, LDAPMessage *res, struct list *l)
{
	for (LDAPMessage *e = ldap_first_entry(ld, res); e != NULL; e = ldap_next_entry(ld, e)) {
		if (l->n == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 64;
			l->v = sg_reallocarray(l->v, l->cap, sizeof(*l->v));
		}
		dir_entry_read(d, ld, e, &l->v[l->n++]);
	}
}

/* The paged-results cookie of the answer into *cookie (empty: the last page). */
static int next_cookie(LDAP *ld, LDAPMessage *res, struct berval *cookie, int *rc_r)
{
	LDAPControl **ctrls = NULL;
	int perr = ldap_parse_result(ld, res, rc_r, NULL, NULL, NULL, &ctrls, 0);
	int ret = -1;
	ber_memfree(cookie->bv_val);
	*cookie = (struct berval){0, NULL};
	LDAPControl *c = ctrls != NULL ? ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, ctrls, NULL)
	                               : NULL;
	ber_int_t count;
	if (perr == LDAP_SUCCESS && *rc_r == LDAP_SUCCESS &&
	    (c == NULL || ldap_parse_pageresponse_control(ld, c, &count, cookie) == LDAP_SUCCESS))
		ret = 0;
	ldap_controls_free(ctrls);
	return ret;
}

/* One page: 1 more to come, 0 done, -1 failed (*rc_r says how). */
static int one_page(const struct directory *d, LDAP *ld, const char *filter,
                    struct berval *cookie, struct list *l, int *rc_r)
{
	LDAPControl *page = NULL;
	char *attrbuf[16];
	*rc_r = ldap_create_page_control(ld, PAGE_SIZE, cookie, 1, &page);
	if (*rc_r != LDAP_SUCCESS)
		return -1;
	LDAPControl *sctrls[] = {page, NULL};
	struct timeval tv = dir_conn_timeval(d);
	LDAPMessage *res = NULL;
	*rc_r = ldap_search_ext_s(ld, d->base_dn, LDAP_SCOPE_SUBTREE, filter,
	                          dir_conn_attrs(d, attrbuf), 0, sctrls, NULL, &tv, 0, &res);
	ldap_control_free(page);
	int ret = -1;
	if (*rc_r == LDAP_SUCCESS && res != NULL) {
		take_page(d, ld, res, l);
		if (next_cookie(ld, res, cookie, rc_r) == 0)
			ret = cookie->bv_len > 0 ? 1 : 0;
	}
	ldap_msgfree(res);
	return ret;
}

enum dir_status dir_list_employees(struct directory *d, struct dir_employee **list_r,
                                   size_t *n_r, const char **error_r)
{
	char filter[DIR_FILTER_MAX];
	*list_r = NULL;
	*n_r = 0;
	if (dir_filter_build(d->user_filter, "*", true, filter, sizeof(filter)) < 0) {
		*error_r = "directory.user_filter: too long";
		return DIR_ERROR;
	}
	LDAP *ld;
	enum dir_status st = dir_conn_open(d, &ld, error_r);
	if (st != DIR_OK)
		return st;
	struct list l = {0};
	struct berval cookie = {0, NULL};
	int more, rc = LDAP_SUCCESS;
	while ((more = one_page(d, ld, filter, &cookie, &l, &rc)) == 1 && l.n < LIST_MAX)
		;
	ber_memfree(cookie.bv_val);
	dir_conn_close(&ld);
	if (more != 0) {
		sg_warn("directory: listing employees: %s (%d)", ldap_err2string(rc), rc);
		st = dir_conn_status(rc) == DIR_UNREACHABLE ? DIR_UNREACHABLE : DIR_ERROR;
		*error_r = more == 1 ? "the directory holds more employees than sealgate reads at once"
		           : st == DIR_UNREACHABLE ? "the directory cannot be reached (listing)"
		                                   : "the directory refused the listing (see the log)";
		sg_free(&l.v);
		return st;
	}
	*list_r = l.v;
	*n_r = l.n;
	return DIR_OK;
}
