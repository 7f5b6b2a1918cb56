/* ldapd_request.c: LDAPMessage framing and decoding (RFC 4511 §4.1-4.14) with liblber. The
 * frame is checked before anything is decoded (outer SEQUENCE, definite length, at most the
 * PDU ceiling); every constructed element must end exactly where its length says. */
#include "ldap/ldapd.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"

#include <lber.h>
#include <ldap.h>
#include <string.h>

enum ldapd_frame ldapd_request_frame(const unsigned char *buf, size_t len, size_t max,
                                     size_t *pdu_len_r)
{
	if (len < 2)
		return len == 1 && buf[0] != 0x30 ? LDAPD_FRAME_BAD : LDAPD_FRAME_MORE;
	if (buf[0] != 0x30 || buf[1] == 0x80 || buf[1] > 0x84)
		return LDAPD_FRAME_BAD; /* not a SEQUENCE, indefinite, or a length over 4 GB */
	size_t hdr = 2, body = buf[1];
	if (buf[1] & 0x80) {
		size_t n = buf[1] & 0x7fu;
		if (len < 2 + n)
			return LDAPD_FRAME_MORE;
		body = 0;
		for (size_t i = 0; i < n; i++)
			body = (body << 8) | buf[2 + i];
		hdr += n;
	}
	if (body > max || hdr + body > max)
		return LDAPD_FRAME_TOO_BIG;
	if (len < hdr + body)
		return LDAPD_FRAME_MORE;
	*pdu_len_r = hdr + body;
	return LDAPD_FRAME_OK;
}

struct rdec {
	BerElement *ber;
	struct ldapd_request *req;
	enum ldapd_rc rc;
	const char *error;
};

static ber_len_t remaining(BerElement *ber)
{
	ber_len_t n = 0;
	ber_get_option(ber, LBER_OPT_REMAINING_BYTES, &n);
	return n;
}

static int bad(struct rdec *d, enum ldapd_rc rc, const char *why)
{
	d->rc = rc;
	d->error = why;
	return -1;
}

static int enter(struct rdec *d, ber_len_t *end_r)
{
	ber_len_t len;
	if (ber_skip_tag(d->ber, &len) == LBER_ERROR || len > remaining(d->ber))
		return bad(d, LDAPD_PROTOCOL_ERROR, "malformed request");
	*end_r = remaining(d->ber) - len;
	return 0;
}

static int leave(struct rdec *d, ber_len_t end)
{
	return remaining(d->ber) == end ? 0 : bad(d, LDAPD_PROTOCOL_ERROR, "malformed request");
}

static int get_bv(struct rdec *d, struct ldapd_bv *bv)
{
	struct berval b;
	if (ber_get_stringbv(d->ber, &b, LBER_BV_NOTERM) == LBER_ERROR)
		return bad(d, LDAPD_PROTOCOL_ERROR, "malformed request");
	bv->p = b.bv_val;
	bv->len = b.bv_len;
	return 0;
}

static int get_int(struct rdec *d, int *v, int min, int max)
{
	ber_int_t n;
	if (ber_get_int(d->ber, &n) == LBER_ERROR || n < min || n > max)
		return bad(d, LDAPD_PROTOCOL_ERROR, "malformed request: bad integer");
	*v = (int)n;
	return 0;
}

static int get_enum(struct rdec *d, int *v, int max)
{
	ber_int_t n;
	if (ber_get_enum(d->ber, &n) == LBER_ERROR || n < 0 || n > max)
		return bad(d, LDAPD_PROTOCOL_ERROR, "malformed request: bad enumeration");
	*v = (int)n;
	return 0;
}

static int op_bind(struct rdec *d)
{
	struct ldapd_request *r = d->req;
	ber_len_t end, len;
	if (enter(d, &end) < 0 || get_int(d, &r->version, 1, 127) < 0 || get_bv(d, &r->name) < 0)
		return -1;
	r->auth_tag = ber_peek_tag(d->ber, &len);
	if (r->auth_tag == LDAP_AUTH_SIMPLE) {
		if (get_bv(d, &r->cred) < 0)
			return -1;
	} else {
		struct berval raw; /* SASL or unknown: answered authMethodNotSupported */
		if (ber_skip_element(d->ber, &raw) == LBER_ERROR)
			return bad(d, LDAPD_PROTOCOL_ERROR, "malformed bind");
	}
	return leave(d, end);
}

static int search_attrs(struct rdec *d)
{
	struct ldapd_request *r = d->req;
	ber_len_t end;
	if (enter(d, &end) < 0)
		return -1;
	while (remaining(d->ber) > end) {
		if (r->nattrs >= SG_LDAP_ATTRS_MAX)
			return bad(d, LDAPD_ADMIN_LIMIT, "too many attributes requested");
		if (get_bv(d, &r->attrs[r->nattrs++]) < 0)
			return -1;
	}
	return leave(d, end);
}

static int op_search(struct rdec *d)
{
	struct ldapd_request *r = d->req;
	ber_len_t end;
	int deref;
	ber_int_t typesonly;
	if (enter(d, &end) < 0 || get_bv(d, &r->base) < 0 || get_enum(d, &r->scope, 2) < 0 ||
	    get_enum(d, &deref, 3) < 0 || get_int(d, &r->sizelimit, 0, INT32_MAX) < 0 ||
	    get_int(d, &r->timelimit, 0, INT32_MAX) < 0)
		return -1;
	if (ber_get_boolean(d->ber, &typesonly) == LBER_ERROR)
		return bad(d, LDAPD_PROTOCOL_ERROR, "malformed search");
	r->typesonly = typesonly != 0;
	r->filter = ldapd_filter_decode(d->ber, &d->rc, &d->error);
	if (r->filter == NULL || search_attrs(d) < 0)
		return -1;
	return leave(d, end);
}

static int op_extended(struct rdec *d)
{
	ber_len_t end, len;
	if (enter(d, &end) < 0)
		return -1;
	if (ber_peek_tag(d->ber, &len) != LDAP_TAG_EXOP_REQ_OID || get_bv(d, &d->req->oid) < 0)
		return bad(d, LDAPD_PROTOCOL_ERROR, "malformed extended request");
	if (remaining(d->ber) > end && ber_peek_tag(d->ber, &len) == LDAP_TAG_EXOP_REQ_VALUE) {
		struct ldapd_bv value;
		if (get_bv(d, &value) < 0)
			return -1;
	}
	return leave(d, end);
}

static int op_abandon(struct rdec *d)
{
	int id;
	return get_int(d, &id, 0, INT32_MAX);
}

/* Unbind, and the update operations we refuse: only their end matters. */
static int op_skip(struct rdec *d)
{
	struct berval raw;
	if (ber_skip_element(d->ber, &raw) == LBER_ERROR)
		return bad(d, LDAPD_PROTOCOL_ERROR, "malformed request");
	return 0;
}

static const struct {
	ber_tag_t tag;
	int (*fn)(struct rdec *d);
} ops[] = {
	{LDAP_REQ_BIND, op_bind},       {LDAP_REQ_UNBIND, op_skip},   {LDAP_REQ_SEARCH, op_search},
	{LDAP_REQ_MODIFY, op_skip},     {LDAP_REQ_ADD, op_skip},      {LDAP_REQ_DELETE, op_skip},
	{LDAP_REQ_MODDN, op_skip},      {LDAP_REQ_COMPARE, op_skip},  {LDAP_REQ_ABANDON, op_abandon},
	{LDAP_REQ_EXTENDED, op_extended},
};

/* Controls: we implement none, so a critical one makes the operation fail (RFC 4511 §4.1.11). */
static int controls(struct rdec *d, ber_len_t msg_end)
{
	ber_len_t len, end;
	if (remaining(d->ber) == msg_end)
		return 0;
	if (ber_peek_tag(d->ber, &len) != LDAP_TAG_CONTROLS || enter(d, &end) < 0)
		return bad(d, LDAPD_PROTOCOL_ERROR, "malformed controls");
	while (remaining(d->ber) > end) {
		ber_len_t cend;
		struct ldapd_bv type;
		ber_int_t critical = 0;
		if (enter(d, &cend) < 0 || get_bv(d, &type) < 0)
			return -1;
		if (remaining(d->ber) > cend && ber_peek_tag(d->ber, &len) == LBER_BOOLEAN &&
		    ber_get_boolean(d->ber, &critical) == LBER_ERROR)
			return bad(d, LDAPD_PROTOCOL_ERROR, "malformed control");
		struct ldapd_bv value;
		if (remaining(d->ber) > cend && get_bv(d, &value) < 0)
			return -1;
		if (leave(d, cend) < 0)
			return -1;
		d->req->unknown_critical |= critical != 0;
	}
	return leave(d, end);
}

static int (*op_decoder(ber_tag_t tag))(struct rdec *)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i].tag == tag)
			return ops[i].fn;
	return NULL;
}

enum ldapd_decode ldapd_request_decode(const void *pdu, size_t len, struct ldapd_request *req_r,
                                       enum ldapd_rc *rc_r, const char **error_r)
{
	memset(req_r, 0, sizeof(*req_r));
	struct berval bv = {.bv_len = len, .bv_val = (char *)pdu};
	struct rdec d = {.ber = ber_init(&bv), .req = req_r};
	if (d.ber == NULL)
		sg_fatal("out of memory (ber_init)");
	req_r->ber = (struct berelement *)d.ber;
	ber_len_t end, tlen;
	ber_int_t msgid;
	if (enter(&d, &end) < 0 || end != 0 || ber_get_int(d.ber, &msgid) == LBER_ERROR ||
	    msgid <= 0) {
		*error_r = "not an LDAP message";
		return LDAPD_DECODE_BROKEN;
	}
	req_r->msgid = (int)msgid;
	req_r->op = ber_peek_tag(d.ber, &tlen);
	int (*fn)(struct rdec *) = op_decoder(req_r->op);
	if (fn == NULL) {
		*error_r = "unknown operation";
		return LDAPD_DECODE_BROKEN;
	}
	if (fn(&d) < 0 || controls(&d, end) < 0 || leave(&d, end) < 0) {
		*rc_r = d.rc;
		*error_r = d.error;
		return LDAPD_DECODE_FAIL;
	}
	return LDAPD_DECODE_OK;
}

void ldapd_request_free(struct ldapd_request *req)
{
	ldapd_filter_free(&req->filter);
	if (req->ber != NULL)
		ber_free((BerElement *)req->ber, 1);
	req->ber = NULL;
}
