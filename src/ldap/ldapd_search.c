/* ldapd_search.c: a search over a snapshot: where the base DN sits in our small tree (root
 * DSE, base entry, people under it), the scope, the filter, and the size and time limits,
 * where the client's limits count only when stricter than the server's. */
#include "ldap/ldapd.h"

#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"

#include <ldap.h>
#include <string.h>

#define OUTPUT_RESERVE (64 * 1024) /* kept free for the SearchResultDone */
#define CLOCK_EVERY 64             /* entries between two looks at the clock */

struct search {
	const struct ldapd_request *req;
	const struct ldapd_search_limits *lim;
	struct ldapd_attrsel sel;
	struct sg_buf *out;
	size_t count, limit, seen;
	int64_t deadline;
	enum ldapd_rc rc;
	const char *diag;
};

static bool over_time(struct search *s)
{
	if (s->seen++ % CLOCK_EVERY != 0 || s->lim->now_ms() < s->deadline)
		return false;
	s->rc = LDAPD_TIME_LIMIT;
	s->diag = "time limit exceeded";
	return true;
}

/* Returns false when the search must stop. */
static bool emit(struct search *s, const struct ldapd_entry *e)
{
	if (over_time(s))
		return false;
	if (ldapd_filter_eval(s->req->filter, e) != LDAPD_TRUE)
		return true;
	if (s->count >= s->limit) {
		s->rc = LDAPD_SIZE_LIMIT;
		s->diag = "size limit exceeded";
		return false;
	}
	if (s->out->len + OUTPUT_RESERVE > s->out->max ||
	    ldapd_reply_entry(s->out, s->req->msgid, e, &s->sel, s->req->typesonly) < 0) {
		s->rc = LDAPD_ADMIN_LIMIT;
		s->diag = "result too large";
		return false;
	}
	s->count++;
	return true;
}

static void emit_people(struct search *s, const struct ldapd_snapshot *snap)
{
	uint32_t *ids = NULL;
	size_t n = 0;
	if (ldapd_filter_candidates(s->req->filter, snap, &ids, &n)) {
		for (size_t i = 0; i < n && emit(s, &snap->people[ids[i]]); i++)
			;
		sg_free(&ids);
		return;
	}
	for (size_t i = 0; i < snap->npeople; i++)
		if (!emit(s, &snap->people[i]))
			return;
}

static void emit_subtree(struct search *s, const struct ldapd_snapshot *snap)
{
	if (emit(s, &snap->base))
		emit_people(s, snap);
}

/* nb names a descendant of the base: one of the people, or nothing. */
static void search_person(struct search *s, const struct ldapd_snapshot *snap, const char *nb)
{
	for (size_t i = 0; i < snap->npeople; i++) {
		if (strcmp(snap->people[i].ndn, nb) != 0)
			continue;
		if (s->req->scope != LDAP_SCOPE_ONELEVEL)
			emit(s, &snap->people[i]);
		return;
	}
	s->rc = LDAPD_NO_SUCH_OBJECT;
	s->diag = "no such entry";
}

/* Does dn end with ",suffix" (suffix a whole number of RDNs)? */
static bool is_under(const char *dn, const char *suffix)
{
	size_t n = strlen(dn), m = strlen(suffix);
	return m > 0 && n > m + 1 && dn[n - m - 1] == ',' && dn[n - m - 2] != '\\' &&
	       strcmp(dn + n - m, suffix) == 0;
}

static void dispatch(struct search *s, const struct ldapd_snapshot *snap, const char *nb)
{
	int scope = s->req->scope;
	if (nb[0] == '\0') {
		/* The root DSE, or a subtree search with no base: the whole directory. */
		if (scope == LDAP_SCOPE_BASE)
			emit(s, &snap->root_dse);
		else if (scope == LDAP_SCOPE_SUBTREE)
			emit_subtree(s, snap);
	} else if (strcmp(nb, snap->nbase) == 0) {
		if (scope == LDAP_SCOPE_BASE)
			emit(s, &snap->base);
		else if (scope == LDAP_SCOPE_ONELEVEL)
			emit_people(s, snap);
		else
			emit_subtree(s, snap);
	} else if (is_under(nb, snap->nbase)) {
		search_person(s, snap, nb);
	} else if (is_under(snap->nbase, nb) && scope == LDAP_SCOPE_SUBTREE) {
		emit_subtree(s, snap); /* a base above ours, e.g. the domain's DN */
	} else {
		s->rc = LDAPD_NO_SUCH_OBJECT;
		s->diag = "outside this directory";
	}
}

static size_t effective(size_t server, int client)
{
	return client > 0 && (size_t)client < server ? (size_t)client : server;
}

void ldapd_search_run(const struct ldapd_snapshot *snap, const struct ldapd_request *req,
                      const struct ldapd_search_limits *lim, struct sg_buf *out)
{
	struct search s = {.req = req, .lim = lim, .out = out, .rc = LDAPD_SUCCESS, .diag = ""};
	char nb[SG_LDAP_DN_MAX * 3];
	const char *matched = "";
	if (snap == NULL) {
		s.rc = LDAPD_UNAVAILABLE;
		s.diag = "directory not available";
	} else if (req->base.len > SG_LDAP_DN_MAX ||
	           ldapd_dn_normalize(req->base.p, req->base.len, nb, sizeof(nb)) < 0) {
		s.rc = LDAPD_INVALID_DN_SYNTAX;
		s.diag = "invalid base DN";
	} else {
		s.limit = effective(lim->max_results, req->sizelimit);
		s.deadline = lim->now_ms() +
		             (int64_t)effective((size_t)lim->time_limit_s, req->timelimit) * 1000;
		ldapd_reply_attrsel(&s.sel, req->attrs, req->nattrs);
		dispatch(&s, snap, nb);
		if (s.rc == LDAPD_NO_SUCH_OBJECT && is_under(nb, snap->nbase))
			matched = snap->base.dn;
	}
	if (ldapd_reply_result(out, req->msgid, LDAP_RES_SEARCH_RESULT, s.rc, matched, s.diag) < 0)
		sg_error("ldap: no room for a search result"); /* the reserve makes this unreachable */
}
