/* ldapd_session.c: one LDAP connection as a machine from request bytes to reply bytes, with
 * no sockets, so that it can be unit-tested and fuzzed. Requests are answered in order, one
 * at a time (so Abandon has nothing to cancel); a PDU that is not an LDAPMessage, or larger
 * than the ceiling, gets a notice of disconnection and the connection ends. */
#include "ldap/ldapd.h"

#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_metrics.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <ldap.h>
#include <openssl/crypto.h>
#include <string.h>

enum auth { AUTH_NONE, AUTH_ANONYMOUS, AUTH_USER };

struct ldapd_session {
	const struct ldapd_config *cfg;
	struct ldapd_dir *dir;
	char peer[64];
	struct sg_buf in, out;
	enum auth auth;
	bool closed, want_tls, tls;
};

struct ldapd_session *ldapd_session_new(const struct ldapd_config *cfg, struct ldapd_dir *dir,
                                        const char *peer)
{
	struct ldapd_session *s = sg_calloc(1, sizeof(*s));
	s->cfg = cfg;
	s->dir = dir;
	sg_printable(s->peer, sizeof(s->peer), peer, 48);
	sg_buf_init(&s->in, SG_LDAP_PDU_MAX);
	sg_buf_init(&s->out, SG_LDAP_OUTPUT_MAX);
	s->auth = cfg->allow_anonymous ? AUTH_ANONYMOUS : AUTH_NONE;
	return s;
}

void ldapd_session_free(struct ldapd_session **s)
{
	if (*s == NULL)
		return;
	sg_buf_free(&(*s)->in);
	sg_buf_free(&(*s)->out);
	sg_free(s);
}

static void notice(struct ldapd_session *s, enum ldapd_rc rc, const char *why)
{
	if (s->closed)
		return;
	ldapd_reply_notice(&s->out, rc, why);
	s->closed = true;
}

static const struct {
	unsigned long req, res;
} response_tags[] = {
	{LDAP_REQ_BIND, LDAP_RES_BIND},       {LDAP_REQ_SEARCH, LDAP_RES_SEARCH_RESULT},
	{LDAP_REQ_MODIFY, LDAP_RES_MODIFY},   {LDAP_REQ_ADD, LDAP_RES_ADD},
	{LDAP_REQ_DELETE, LDAP_RES_DELETE},   {LDAP_REQ_MODDN, LDAP_RES_MODDN},
	{LDAP_REQ_COMPARE, LDAP_RES_COMPARE}, {LDAP_REQ_EXTENDED, LDAP_RES_EXTENDED},
};

/* Answers req with rc; Unbind and Abandon have no response. */
static void answer(struct ldapd_session *s, const struct ldapd_request *req, enum ldapd_rc rc,
                   const char *diag)
{
	for (size_t i = 0; i < sizeof(response_tags) / sizeof(response_tags[0]); i++) {
		if (response_tags[i].req != req->op)
			continue;
		int r = req->op == LDAP_REQ_EXTENDED
		            ? ldapd_reply_extended(&s->out, req->msgid, rc, diag, NULL)
		            : ldapd_reply_result(&s->out, req->msgid, response_tags[i].res, rc, "", diag);
		if (r < 0)
			notice(s, LDAPD_ADMIN_LIMIT, "too many replies waiting");
		return;
	}
}

static bool dn_equal(const struct ldapd_bv *a, const char *b)
{
	char na[SG_LDAP_DN_MAX * 3], nb[SG_LDAP_DN_MAX * 3];
	return a->len <= SG_LDAP_DN_MAX && ldapd_dn_normalize(a->p, a->len, na, sizeof(na)) >= 0 &&
	       ldapd_dn_normalize(b, strlen(b), nb, sizeof(nb)) >= 0 && strcmp(na, nb) == 0;
}

static bool password_ok(const struct ldapd_config *cfg, const struct ldapd_bv *cred)
{
	if (cfg->bind_password == NULL)
		return false;
	size_t n = strlen(cfg->bind_password);
	return n == cred->len && CRYPTO_memcmp(cfg->bind_password, cred->p, n) == 0;
}

/* Simple bind (RFC 4513 §5.1): anonymous, or ldap.bind_dn with its password. */
static enum ldapd_rc bind_check(struct ldapd_session *s, const struct ldapd_request *req,
                                const char **diag_r)
{
	const struct ldapd_config *cfg = s->cfg;
	*diag_r = "";
	if (req->version != 3)
		return *diag_r = "only LDAPv3 is supported", LDAPD_PROTOCOL_ERROR;
	if (req->auth_tag != LDAP_AUTH_SIMPLE)
		return *diag_r = "only simple binds are supported", LDAPD_AUTH_METHOD_NOT_SUPPORTED;
	if (req->name.len == 0 && req->cred.len == 0) {
		if (!cfg->allow_anonymous)
			return *diag_r = "anonymous binds are disabled", LDAPD_INAPPROPRIATE_AUTH;
		s->auth = AUTH_ANONYMOUS;
		return LDAPD_SUCCESS;
	}
	if (req->cred.len == 0)
		return *diag_r = "unauthenticated bind (DN with no password) disallowed",
		       LDAPD_UNWILLING;
	if (cfg->bind_dn[0] == '\0' || !dn_equal(&req->name, cfg->bind_dn) ||
	    !password_ok(cfg, &req->cred))
		return LDAPD_INVALID_CREDENTIALS;
	s->auth = AUTH_USER;
	return LDAPD_SUCCESS;
}

static void op_bind(struct ldapd_session *s, const struct ldapd_request *req)
{
	const char *diag;
	s->auth = AUTH_NONE; /* a bind, even a failed one, starts over (RFC 4513 §4) */
	enum ldapd_rc rc = bind_check(s, req, &diag);
	char raw[65] = "", who[80];
	if (req->name.len > 0)
		memcpy(raw, req->name.p, req->name.len < 64 ? req->name.len : 64);
	sg_printable(who, sizeof(who), raw, 64);
	sg_info("bind from [%s] as \"%s\": %s", s->peer, who,
	        rc == LDAPD_SUCCESS ? "ok" : diag[0] != '\0' ? diag : "invalid credentials");
	answer(s, req, rc, diag);
}

static void op_search(struct ldapd_session *s, const struct ldapd_request *req)
{
	bool root_dse = req->base.len == 0 && req->scope == LDAP_SCOPE_BASE;
	if (s->auth == AUTH_NONE && !root_dse) {
		answer(s, req, LDAPD_INSUFFICIENT_ACCESS, "bind first: anonymous access is disabled");
		return;
	}
	if (s->auth == AUTH_ANONYMOUS && !s->cfg->anonymous_full && req->scope != LDAP_SCOPE_BASE &&
	    !ldapd_filter_pinned(req->filter)) {
		sg_info("anonymous search from [%s] refused: not an equality lookup on mail", s->peer);
		answer(s, req, LDAPD_INSUFFICIENT_ACCESS,
		       "anonymous clients may only look up an address, as in (mail=name@domain); "
		       "bind to search more widely");
		return;
	}
	struct ldapd_snapshot *snap = ldapd_dir_acquire(s->dir);
	ldapd_search_run(snap, req, &s->cfg->limits, &s->out);
	sg_metrics_inc1(SG_MET_LDAP_SEARCH, NULL);
	ldapd_snapshot_unref(&snap);
}

static void op_extended(struct ldapd_session *s, const struct ldapd_request *req)
{
	size_t n = strlen(LDAP_EXOP_START_TLS);
	if (req->oid.len != n || memcmp(req->oid.p, LDAP_EXOP_START_TLS, n) != 0) {
		answer(s, req, LDAPD_UNWILLING, "unsupported extended operation");
	} else if (s->tls) {
		answer(s, req, LDAPD_OPERATIONS_ERROR, "TLS is already in place");
	} else if (!s->cfg->tls_available) {
		answer(s, req, LDAPD_PROTOCOL_ERROR, "StartTLS is not available");
	} else {
		ldapd_reply_extended(&s->out, req->msgid, LDAPD_SUCCESS, "", LDAP_EXOP_START_TLS);
		s->want_tls = true;
	}
}

static void op_unbind(struct ldapd_session *s, const struct ldapd_request *req)
{
	(void)req;
	s->closed = true;
}

static void op_abandon(struct ldapd_session *s, const struct ldapd_request *req)
{
	(void)s, (void)req; /* requests are answered before the next is read: nothing to stop */
}

static void op_refuse(struct ldapd_session *s, const struct ldapd_request *req)
{
	answer(s, req, LDAPD_UNWILLING, "this directory is read-only");
}

static const struct {
	unsigned long op;
	void (*fn)(struct ldapd_session *s, const struct ldapd_request *req);
} handlers[] = {
	{LDAP_REQ_BIND, op_bind},         {LDAP_REQ_UNBIND, op_unbind},
	{LDAP_REQ_SEARCH, op_search},     {LDAP_REQ_ABANDON, op_abandon},
	{LDAP_REQ_EXTENDED, op_extended}, {LDAP_REQ_MODIFY, op_refuse},
	{LDAP_REQ_ADD, op_refuse},        {LDAP_REQ_DELETE, op_refuse},
	{LDAP_REQ_MODDN, op_refuse},      {LDAP_REQ_COMPARE, op_refuse},
};

static void handle_pdu(struct ldapd_session *s, const void *pdu, size_t len)
{
	struct ldapd_request req;
	enum ldapd_rc rc = LDAPD_PROTOCOL_ERROR;
	const char *err = "";
	enum ldapd_decode st = ldapd_request_decode(pdu, len, &req, &rc, &err);
	if (st == LDAPD_DECODE_BROKEN) {
		sg_info("protocol error from [%s]: %s", s->peer, err);
		notice(s, LDAPD_PROTOCOL_ERROR, err);
	} else if (st == LDAPD_DECODE_FAIL) {
		sg_info("bad request from [%s]: %s", s->peer, err);
		if (req.op == LDAP_REQ_UNBIND)
			s->closed = true;
		answer(s, &req, rc, err);
	} else if (req.unknown_critical && req.op != LDAP_REQ_UNBIND &&
	           req.op != LDAP_REQ_ABANDON) {
		answer(s, &req, LDAPD_UNAVAILABLE_CRITICAL_EXTENSION, "unsupported critical control");
	} else {
		for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
			if (handlers[i].op == req.op)
				handlers[i].fn(s, &req);
	}
	ldapd_request_free(&req);
}

/* Answers every complete request in the input buffer. */
static void process(struct ldapd_session *s)
{
	size_t used = 0;
	/* used < len also keeps an empty buffer's NULL data from being offset (UB, even by 0) */
	while (!s->closed && !s->want_tls && s->out.len < SG_LDAP_OUTPUT_SOFT && used < s->in.len) {
		size_t n;
		enum ldapd_frame f = ldapd_request_frame((const unsigned char *)s->in.data + used,
		                                         s->in.len - used, SG_LDAP_PDU_MAX, &n);
		if (f == LDAPD_FRAME_MORE)
			break;
		if (f == LDAPD_FRAME_BAD) {
			sg_info("protocol error from [%s]: not an LDAP message", s->peer);
			notice(s, LDAPD_PROTOCOL_ERROR, "not an LDAP message");
		} else if (f == LDAPD_FRAME_TOO_BIG) {
			sg_info("request from [%s] larger than %d bytes", s->peer, SG_LDAP_PDU_MAX);
			notice(s, LDAPD_ADMIN_LIMIT, "request too large");
		} else {
			handle_pdu(s, s->in.data + used, n);
			used += n;
		}
	}
	sg_buf_consume(&s->in, used);
	/* Bytes behind StartTLS came in the clear and must not be read as if protected. */
	if (s->want_tls || s->closed)
		sg_buf_reset(&s->in);
}

size_t ldapd_session_input(struct ldapd_session *s, const void *data, size_t len)
{
	const char *p = data;
	size_t used = 0;
	process(s); /* requests held back by a full output */
	/* After StartTLS or the end, plain bytes that follow are dropped, never answered. */
	while (used < len && !s->closed && !s->want_tls && s->out.len < SG_LDAP_OUTPUT_SOFT) {
		size_t room = s->in.max - s->in.len;
		size_t take = len - used < room ? len - used : room;
		sg_assert(take > 0); /* a full buffer holds a whole PDU, which process() consumed */
		sg_buf_append(&s->in, p + used, take);
		used += take;
		process(s);
	}
	return s->closed || s->want_tls ? len : used;
}

bool ldapd_session_pending(const struct ldapd_session *s)
{
	size_t n;
	return !s->closed && !s->want_tls &&
	       ldapd_request_frame((const unsigned char *)s->in.data, s->in.len, SG_LDAP_PDU_MAX,
	                           &n) != LDAPD_FRAME_MORE;
}

const char *ldapd_session_output(const struct ldapd_session *s, size_t *len_r)
{
	*len_r = s->out.len;
	return s->out.data;
}

void ldapd_session_output_consume(struct ldapd_session *s, size_t n)
{
	sg_buf_consume(&s->out, n);
}

bool ldapd_session_closed(const struct ldapd_session *s)
{
	return s->closed;
}

bool ldapd_session_want_tls(const struct ldapd_session *s)
{
	return s->want_tls;
}

void ldapd_session_tls_started(struct ldapd_session *s)
{
	s->want_tls = false;
	s->tls = true;
}

void ldapd_session_timeout(struct ldapd_session *s)
{
	sg_info("idle timeout for [%s]", s->peer);
	notice(s, LDAPD_ADMIN_LIMIT, "idle timeout");
}

void ldapd_session_shutdown(struct ldapd_session *s)
{
	notice(s, LDAPD_UNAVAILABLE, "server is stopping");
}
