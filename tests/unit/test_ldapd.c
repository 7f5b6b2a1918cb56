/* test_ldapd.c: the LDAP responder without sockets: requests are encoded as a client would
 * (liblber), fed to the session machine, and the replies decoded again. Covers framing and
 * request decoding, the filter evaluation table (Outlook's and Thunderbird's filters among
 * them), scopes, attribute selection, binds, and every limit with its result code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "ldap/ldapd.h"

#include <lber.h>
#include <ldap.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE "dc=example,dc=com"
#define OUTLOOK(p) "(&(mail=*)(|(mail=" p "*)(|(cn=" p "*)(|(sn=" p "*)(givenName=" p "*)))))"

/* ---- certificates and the snapshot ---- */
static EVP_PKEY *test_key;

static unsigned char *cert_make(const char *cn, const char *address, size_t *len_r)
{
	X509 *x = X509_new();
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "emailAddress", MBSTRING_ASC,
	                           (const unsigned char *)address, -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, test_key);
	assert_true(X509_sign(x, test_key, EVP_sha256()) > 0);
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);
	X509_free(x);
	assert_true(len > 0);
	unsigned char *copy = sg_memdup(der, (size_t)len);
	OPENSSL_free(der);
	*len_r = (size_t)len;
	return copy;
}

static const char *const people[][2] = {
	{"alice@example.com", "Alice Example"},
	{"bob@example.com", "Bob Builder"},
	{"carol@partner.test", "Carol Smith"},
	{"dave+tag@example.com", "Dave Jones"},
};
#define NPEOPLE (sizeof(people) / sizeof(people[0]))

static struct ldapd_snapshot *snapshot_make(void)
{
	const char *err;
	struct ldapd_snapshot_config cfg = {.base_dn = BASE, .organization = "Example",
	                                    .starttls = true};
	struct ldapd_snapshot *snap = ldapd_snapshot_new(&cfg, &err);
	assert_non_null(snap);
	for (size_t i = 0; i < NPEOPLE; i++) {
		size_t len;
		unsigned char *der = cert_make(people[i][1], people[i][0], &len);
		assert_int_equal(ldapd_snapshot_add(snap, people[i][0], der, len, &err), 0);
		sg_free(&der);
	}
	ldapd_snapshot_finish(snap);
	return snap;
}

/* ---- a client side: filters and requests ---- */
static void filter_enc(BerElement *ber, const char **p);

static void filter_set(BerElement *ber, const char **p, ber_tag_t tag)
{
	(*p)++;
	assert_true(ber_printf(ber, "t{", tag) >= 0);
	while (**p == '(')
		filter_enc(ber, p);
	assert_true(ber_printf(ber, "}") >= 0);
}

static void filter_substrings(BerElement *ber, const char *attr, const char *v, size_t n)
{
	assert_true(ber_printf(ber, "t{s{", (ber_tag_t)LDAP_FILTER_SUBSTRINGS, attr) >= 0);
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && v[i] != '*')
			continue;
		ber_tag_t tag = start == 0 ? LDAP_SUBSTRING_INITIAL
		                : i == n   ? LDAP_SUBSTRING_FINAL : LDAP_SUBSTRING_ANY;
		if (i > start)
			assert_true(ber_printf(ber, "to", tag, v + start, (ber_len_t)(i - start)) >= 0);
		start = i + 1;
	}
	assert_true(ber_printf(ber, "}}") >= 0);
}

static void filter_item(BerElement *ber, const char **p)
{
	char attr[128];
	size_t a = strcspn(*p, "=~<>");
	assert_true(a < sizeof(attr));
	memcpy(attr, *p, a);
	attr[a] = '\0';
	*p += a;
	ber_tag_t tag = **p == '~' ? LDAP_FILTER_APPROX : **p == '>' ? LDAP_FILTER_GE
	                : **p == '<' ? LDAP_FILTER_LE : LDAP_FILTER_EQUALITY;
	*p += tag == LDAP_FILTER_EQUALITY ? 1 : 2;
	size_t n = strcspn(*p, ")");
	if (tag == LDAP_FILTER_EQUALITY && n == 1 && **p == '*')
		assert_true(ber_printf(ber, "ts", (ber_tag_t)LDAP_FILTER_PRESENT, attr) >= 0);
	else if (tag == LDAP_FILTER_EQUALITY && memchr(*p, '*', n) != NULL)
		filter_substrings(ber, attr, *p, n);
	else
		assert_true(ber_printf(ber, "t{so}", tag, attr, *p, (ber_len_t)n) >= 0);
	*p += n;
}

static void filter_enc(BerElement *ber, const char **p)
{
	assert_int_equal(**p, '(');
	(*p)++;
	if (**p == '&')
		filter_set(ber, p, LDAP_FILTER_AND);
	else if (**p == '|')
		filter_set(ber, p, LDAP_FILTER_OR);
	else if (**p == '!')
		filter_set(ber, p, LDAP_FILTER_NOT);
	else
		filter_item(ber, p);
	assert_int_equal(**p, ')');
	(*p)++;
}

struct search_args {
	const char *base;
	int scope, sizelimit, timelimit;
	bool typesonly;
	const char *filter;
	const char *attrs[4];
	bool critical_control;
};

static void append_ber(struct sg_buf *b, BerElement *ber)
{
	struct berval bv;
	assert_int_equal(ber_flatten2(ber, &bv, 0), 0);
	assert_int_equal(sg_buf_append(b, bv.bv_val, bv.bv_len), 0);
	ber_free(ber, 1);
}

static void req_search(struct sg_buf *b, int msgid, const struct search_args *a)
{
	BerElement *ber = ber_alloc_t(LBER_USE_DER);
	assert_true(ber_printf(ber, "{it{seeiib", msgid, (ber_tag_t)LDAP_REQ_SEARCH, a->base,
	                       a->scope, 0, a->sizelimit, a->timelimit, (ber_int_t)a->typesonly) >= 0);
	const char *p = a->filter;
	filter_enc(ber, &p);
	assert_true(ber_printf(ber, "{") >= 0);
	for (size_t i = 0; i < 4 && a->attrs[i] != NULL; i++)
		assert_true(ber_printf(ber, "s", a->attrs[i]) >= 0);
	assert_true(ber_printf(ber, "}}") >= 0);
	if (a->critical_control)
		assert_true(ber_printf(ber, "t{{sb}}", (ber_tag_t)LDAP_TAG_CONTROLS,
		                       "1.2.840.113556.1.4.319", (ber_int_t)1) >= 0);
	assert_true(ber_printf(ber, "}") >= 0);
	append_ber(b, ber);
}

static void req_bind(struct sg_buf *b, int msgid, int version, const char *dn, const char *pw)
{
	BerElement *ber = ber_alloc_t(LBER_USE_DER);
	assert_true(ber_printf(ber, "{it{isto}}", msgid, (ber_tag_t)LDAP_REQ_BIND, version, dn,
	                       (ber_tag_t)LDAP_AUTH_SIMPLE, pw, (ber_len_t)strlen(pw)) >= 0);
	append_ber(b, ber);
}

static void req_simple(struct sg_buf *b, int msgid, const char *fmt, ber_tag_t tag,
                       const char *arg)
{
	BerElement *ber = ber_alloc_t(LBER_USE_DER);
	int r = arg != NULL ? ber_printf(ber, fmt, msgid, tag, arg) : ber_printf(ber, fmt, msgid, tag);
	assert_true(r >= 0);
	append_ber(b, ber);
}

/* ---- replies ---- */
struct reply {
	int msgid;
	unsigned long tag;
	int rc;
	char dn[256];
	char attrs[512]; /* "name=count " per attribute */
	char oid[64];
};

static void entry_parse(BerElement *ber, struct reply *r)
{
	struct berval dn, name;
	assert_true(ber_get_stringbv(ber, &dn, LBER_BV_NOTERM) != LBER_ERROR);
	snprintf(r->dn, sizeof(r->dn), "%.*s", (int)dn.bv_len, dn.bv_val);
	ber_len_t len;
	char *last;
	for (ber_tag_t t = ber_first_element(ber, &len, &last); t != LBER_DEFAULT;
	     t = ber_next_element(ber, &len, last)) {
		struct berval *vals = NULL;
		assert_true(ber_scanf(ber, "{m[W]}", &name, &vals) != LBER_ERROR);
		size_t n = 0;
		while (vals != NULL && vals[n].bv_val != NULL)
			n++;
		size_t o = strlen(r->attrs);
		snprintf(r->attrs + o, sizeof(r->attrs) - o, "%.*s=%zu ", (int)name.bv_len,
		         name.bv_val, n);
		ber_bvarray_free(vals);
	}
}

static size_t replies_parse(struct ldapd_session *s, struct reply *rs, size_t max)
{
	size_t len, n = 0, off = 0, pdu;
	const char *out = ldapd_session_output(s, &len);
	while (off < len && n < max) {
		assert_int_equal(ldapd_request_frame((const unsigned char *)out + off, len - off,
		                                     1 << 30, &pdu), LDAPD_FRAME_OK);
		struct berval bv = {.bv_len = pdu, .bv_val = (char *)out + off};
		BerElement *ber = ber_init(&bv);
		struct reply *r = &rs[n++];
		memset(r, 0, sizeof(*r));
		ber_len_t l;
		ber_int_t msgid, rc;
		assert_true(ber_skip_tag(ber, &l) != LBER_ERROR);
		assert_true(ber_get_int(ber, &msgid) != LBER_ERROR);
		r->msgid = msgid;
		r->tag = ber_skip_tag(ber, &l);
		if (r->tag == LDAP_RES_SEARCH_ENTRY) {
			entry_parse(ber, r);
		} else {
			struct berval m, d, oid;
			assert_true(ber_scanf(ber, "emm", &rc, &m, &d) != LBER_ERROR);
			r->rc = rc;
			if (ber_peek_tag(ber, &l) == LDAP_TAG_EXOP_RES_OID &&
			    ber_get_stringbv(ber, &oid, LBER_BV_NOTERM) != LBER_ERROR)
				snprintf(r->oid, sizeof(r->oid), "%.*s", (int)oid.bv_len, oid.bv_val);
		}
		ber_free(ber, 1);
		off += pdu;
	}
	ldapd_session_output_consume(s, len);
	return n;
}

/* ---- fixture ---- */
static int64_t fake_ms;
static int64_t fake_clock(void) { return fake_ms += 1000; }
static int64_t real_clock(void) { return 0; }

struct fx {
	struct ldapd_config cfg;
	struct ldapd_dir *dir;
	struct ldapd_session *s;
	struct sg_buf in;
	struct reply r[64];
	size_t n;
};

static int fx_setup(void **state)
{
	struct fx *f = sg_calloc(1, sizeof(*f));
	f->cfg = (struct ldapd_config){.bind_dn = "cn=reader," BASE, .bind_password = "s3cret",
	                               .allow_anonymous = true, .anonymous_full = true,
	                               .tls_available = false,
	                               .limits = {.max_results = 100, .time_limit_s = 30,
	                                          .now_ms = real_clock}};
	f->dir = ldapd_dir_new_fixed(snapshot_make());
	f->s = ldapd_session_new(&f->cfg, f->dir, "127.0.0.1");
	sg_buf_init(&f->in, 1 << 24);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	ldapd_session_free(&f->s);
	ldapd_dir_free(&f->dir);
	sg_buf_free(&f->in);
	sg_free(&f);
	return 0;
}

/* Sends what was queued in f->in and parses the replies. */
static size_t run(struct fx *f)
{
	ldapd_session_input(f->s, f->in.data, f->in.len);
	sg_buf_reset(&f->in);
	f->n = replies_parse(f->s, f->r, 64);
	return f->n;
}

static const struct reply *last(struct fx *f)
{
	assert_true(f->n > 0);
	return &f->r[f->n - 1];
}

static void search(struct fx *f, const char *filter, int scope)
{
	struct search_args a = {.base = BASE, .scope = scope, .filter = filter, .attrs = {"mail"}};
	req_search(&f->in, 2, &a);
	run(f);
}

/* The addresses an entry list names, from the DNs, comma-joined. */
static void matched(struct fx *f, char *dst, size_t size)
{
	dst[0] = '\0';
	for (size_t i = 0; i < f->n; i++) {
		if (f->r[i].tag != LDAP_RES_SEARCH_ENTRY)
			continue;
		const char *at = strchr(f->r[i].dn, '@');
		size_t o = strlen(dst);
		snprintf(dst + o, size - o, "%s%.*s", o ? "," : "", at ? (int)(at - f->r[i].dn - 5) : 4,
		         f->r[i].dn + 5);
	}
}

/* ---- tests ---- */
static void test_frame(void **state)
{
	(void)state;
	size_t n = 0;
	const unsigned char ok[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	assert_int_equal(ldapd_request_frame(ok, 5, 100, &n), LDAPD_FRAME_OK);
	assert_int_equal(n, 5);
	assert_int_equal(ldapd_request_frame(ok, 4, 100, &n), LDAPD_FRAME_MORE);
	assert_int_equal(ldapd_request_frame(ok, 1, 100, &n), LDAPD_FRAME_MORE);
	const unsigned char notseq[] = {0x31, 0x00};
	assert_int_equal(ldapd_request_frame(notseq, 2, 100, &n), LDAPD_FRAME_BAD);
	const unsigned char indef[] = {0x30, 0x80, 0, 0};
	assert_int_equal(ldapd_request_frame(indef, 4, 100, &n), LDAPD_FRAME_BAD);
	const unsigned char huge[] = {0x30, 0x84, 0x7f, 0xff, 0xff, 0xff};
	assert_int_equal(ldapd_request_frame(huge, 6, 100, &n), LDAPD_FRAME_TOO_BIG);
	const unsigned char five[] = {0x30, 0x85, 1, 0, 0, 0, 0};
	assert_int_equal(ldapd_request_frame(five, 7, 100, &n), LDAPD_FRAME_BAD);
	const unsigned char long_ok[] = {0x30, 0x81, 0x03, 0x02, 0x01, 0x01};
	assert_int_equal(ldapd_request_frame(long_ok, 6, 100, &n), LDAPD_FRAME_OK);
	assert_int_equal(n, 6);
}

static void test_decode_search(void **state)
{
	(void)state;
	struct sg_buf b;
	sg_buf_init(&b, 1 << 20);
	struct search_args a = {.base = BASE, .scope = 2, .sizelimit = 100, .timelimit = 60,
	                        .filter = OUTLOOK("al"), .attrs = {"cn", "userCertificate;binary"}};
	req_search(&b, 7, &a);
	struct ldapd_request req;
	enum ldapd_rc rc;
	const char *err;
	assert_int_equal(ldapd_request_decode(b.data, b.len, &req, &rc, &err), LDAPD_DECODE_OK);
	assert_int_equal(req.msgid, 7);
	assert_int_equal(req.op, LDAP_REQ_SEARCH);
	assert_int_equal(req.scope, 2);
	assert_int_equal(req.sizelimit, 100);
	assert_int_equal(req.nattrs, 2);
	assert_int_equal(req.base.len, strlen(BASE));
	assert_non_null(req.filter);
	ldapd_request_free(&req);
	/* Every truncation is refused, never read past. */
	for (size_t cut = 1; cut < b.len; cut++) {
		enum ldapd_decode d = ldapd_request_decode(b.data, b.len - cut, &req, &rc, &err);
		assert_int_not_equal(d, LDAPD_DECODE_OK);
		ldapd_request_free(&req);
	}
	/* A byte after the message is not silently ignored. */
	sg_buf_append(&b, "", 1);
	assert_int_not_equal(ldapd_request_decode(b.data, b.len, &req, &rc, &err), LDAPD_DECODE_OK);
	ldapd_request_free(&req);
	sg_buf_free(&b);
}

static void test_decode_broken(void **state)
{
	(void)state;
	struct ldapd_request req;
	enum ldapd_rc rc;
	const char *err;
	const unsigned char msgid0[] = {0x30, 0x05, 0x02, 0x01, 0x00, 0x42, 0x00};
	assert_int_equal(ldapd_request_decode(msgid0, sizeof(msgid0), &req, &rc, &err),
	                 LDAPD_DECODE_BROKEN);
	ldapd_request_free(&req);
	const unsigned char unknown_op[] = {0x30, 0x05, 0x02, 0x01, 0x01, 0x5f, 0x00};
	assert_int_equal(ldapd_request_decode(unknown_op, sizeof(unknown_op), &req, &rc, &err),
	                 LDAPD_DECODE_BROKEN);
	ldapd_request_free(&req);
	/* Search with scope 7: the operation fails with protocolError, the connection lives. */
	struct sg_buf b;
	sg_buf_init(&b, 4096);
	struct search_args a = {.base = BASE, .scope = 7, .filter = "(mail=*)"};
	req_search(&b, 3, &a);
	assert_int_equal(ldapd_request_decode(b.data, b.len, &req, &rc, &err), LDAPD_DECODE_FAIL);
	assert_int_equal(req.msgid, 3);
	assert_int_equal(rc, LDAPD_PROTOCOL_ERROR);
	ldapd_request_free(&req);
	sg_buf_free(&b);
}

static const struct {
	const char *filter;
	const char *expect; /* local parts of the matches, in directory order */
} filter_table[] = {
	{OUTLOOK("al"), "alice"},
	{OUTLOOK("B"), "bob"},
	{OUTLOOK("smi"), "carol"},
	{OUTLOOK("Jon"), "dave\\+tag"},
	{OUTLOOK("zz"), ""},
	{"(mail=ALICE@example.COM)", "alice"},
	{"(mail~=bob@example.com)", "bob"},
	{"(mail=bob)", ""},
	{"(!(mail=alice@example.com))", "bob,carol,dave\\+tag"},
	{"(|(proxyAddresses=smtp:x)(mail=bob@example.com))", "bob"},
	{"(!(proxyAddresses=x))", ""},
	{"(&(proxyAddresses=x)(mail=*))", ""},
	{"(cn=*smith)", "carol"},
	{"(cn=b*l*r)", "bob"},
	{"(cn=b*l*x)", ""},
	{"(cn=*e*e*e*)", "alice"},
	{"(sn=ex*)", "alice"},
	{"(givenName=DAVE)", "dave\\+tag"},
	{"(displayName=carol smith)", "carol"},
	{"(objectClass=inetOrgPerson)", "alice,bob,carol,dave\\+tag"},
	{"(objectclass=PERSON)", "alice,bob,carol,dave\\+tag"},
	{"(userCertificate;binary=*)", "alice,bob,carol,dave\\+tag"},
	{"(userSMIMECertificate=*)", "alice,bob,carol,dave\\+tag"},
	{"(userCertificate=xyz)", ""},
	{"(mail>=a)", ""},
	{"(|(mail<=z)(cn=alice*))", "alice"},
	{"(&)", "alice,bob,carol,dave\\+tag"},
	{"(|)", ""},
	{"(cn;lang-de=*)", ""},
	{"(commonName=bob builder)", "bob"},
};

static void test_filter_table(void **state)
{
	struct fx *f = *state;
	for (size_t i = 0; i < sizeof(filter_table) / sizeof(filter_table[0]); i++) {
		search(f, filter_table[i].filter, LDAP_SCOPE_ONELEVEL);
		char got[512];
		matched(f, got, sizeof(got));
		if (strcmp(got, filter_table[i].expect) != 0)
			fail_msg("%s: got '%s', expected '%s'", filter_table[i].filter, got,
			         filter_table[i].expect);
		assert_int_equal(last(f)->tag, LDAP_RES_SEARCH_RESULT);
		assert_int_equal(last(f)->rc, LDAPD_SUCCESS);
	}
}

static void test_thunderbird(void **state)
{
	struct fx *f = *state;
	struct search_args a = {.base = BASE, .scope = 2, .filter = "(mail=carol@partner.test)",
	                        .attrs = {"usercertificate;binary"}};
	req_search(&f->in, 5, &a);
	assert_int_equal(run(f), 2);
	assert_string_equal(f->r[0].dn, "mail=carol@partner.test," BASE);
	assert_string_equal(f->r[0].attrs, "userCertificate;binary=1 ");
	/* Both spellings of userSMIMECertificate are answered, in the spelling asked. */
	struct search_args b = {.base = BASE, .scope = 2, .filter = "(mail=carol@partner.test)",
	                        .attrs = {"userSMIMECertificate;binary"}};
	req_search(&f->in, 6, &b);
	assert_int_equal(run(f), 2);
	assert_string_equal(f->r[0].attrs, "userSMIMECertificate;binary=1 ");
	struct search_args c = {.base = BASE, .scope = 2, .filter = "(mail=carol@partner.test)",
	                        .attrs = {"userSMIMECertificate", "userCertificate"}};
	req_search(&f->in, 7, &c);
	assert_int_equal(run(f), 2);
	assert_string_equal(f->r[0].attrs, "userCertificate;binary=1 userSMIMECertificate=1 ");
}

static void test_attrs_and_scopes(void **state)
{
	struct fx *f = *state;
	struct search_args a = {.base = "mail=dave\\+tag@example.com, DC=Example,dc=com",
	                        .scope = 0, .filter = "(objectClass=*)", .attrs = {"1.1"}};
	req_search(&f->in, 2, &a);
	assert_int_equal(run(f), 2);
	assert_string_equal(f->r[0].dn, "mail=dave\\+tag@example.com," BASE);
	assert_string_equal(f->r[0].attrs, "");
	a = (struct search_args){.base = BASE, .scope = 0, .filter = "(objectClass=*)"};
	req_search(&f->in, 3, &a);
	assert_int_equal(run(f), 2);
	assert_string_equal(f->r[0].dn, BASE);
	a = (struct search_args){.base = BASE, .scope = 2, .filter = "(objectClass=*)",
	                         .typesonly = true, .attrs = {"*"}};
	req_search(&f->in, 4, &a);
	assert_int_equal(run(f), NPEOPLE + 2);
	assert_non_null(strstr(f->r[1].attrs, "mail=0 "));
	a = (struct search_args){.base = "", .scope = 0, .filter = "(objectClass=*)",
	                         .attrs = {"namingContexts", "supportedLDAPVersion"}};
	req_search(&f->in, 5, &a);
	assert_int_equal(run(f), 2);
	assert_string_equal(f->r[0].attrs, "namingContexts=1 supportedLDAPVersion=1 ");
	a = (struct search_args){.base = "mail=nobody@example.com," BASE, .scope = 0,
	                         .filter = "(objectClass=*)"};
	req_search(&f->in, 6, &a);
	assert_int_equal(run(f), 1);
	assert_int_equal(f->r[0].rc, LDAPD_NO_SUCH_OBJECT);
	a = (struct search_args){.base = "dc=other", .scope = 2, .filter = "(objectClass=*)"};
	req_search(&f->in, 7, &a);
	assert_int_equal(run(f), 1);
	assert_int_equal(f->r[0].rc, LDAPD_NO_SUCH_OBJECT);
	a = (struct search_args){.base = "not a dn", .scope = 2, .filter = "(objectClass=*)"};
	req_search(&f->in, 8, &a);
	assert_int_equal(run(f), 1);
	assert_int_equal(f->r[0].rc, LDAPD_INVALID_DN_SYNTAX);
	a = (struct search_args){.base = "dc=com", .scope = 2, .filter = "(mail=bob*)"};
	req_search(&f->in, 9, &a);
	assert_int_equal(run(f), 2); /* a base above ours finds our entries */
}

static void test_binds(void **state)
{
	struct fx *f = *state;
	req_bind(&f->in, 1, 3, "", "");
	req_bind(&f->in, 2, 3, "cn=reader," BASE, "wrong");
	req_bind(&f->in, 3, 3, "CN=Reader, dc=example,dc=com", "s3cret");
	req_bind(&f->in, 4, 3, "cn=reader," BASE, "");
	req_bind(&f->in, 5, 2, "", "");
	assert_int_equal(run(f), 5);
	assert_int_equal(f->r[0].rc, LDAPD_SUCCESS);
	assert_int_equal(f->r[1].rc, LDAPD_INVALID_CREDENTIALS);
	assert_int_equal(f->r[2].rc, LDAPD_SUCCESS);
	assert_int_equal(f->r[3].rc, LDAPD_UNWILLING);
	assert_int_equal(f->r[4].rc, LDAPD_PROTOCOL_ERROR);
	/* Without anonymous access: bind first, except for the root DSE. */
	f->cfg.allow_anonymous = false;
	ldapd_session_free(&f->s);
	f->s = ldapd_session_new(&f->cfg, f->dir, "127.0.0.1");
	search(f, "(mail=*)", LDAP_SCOPE_SUBTREE);
	assert_int_equal(last(f)->rc, LDAPD_INSUFFICIENT_ACCESS);
	struct search_args a = {.base = "", .scope = 0, .filter = "(objectClass=*)"};
	req_search(&f->in, 3, &a);
	assert_int_equal(run(f), 2);
	req_bind(&f->in, 4, 3, "", "");
	assert_int_equal(run(f), 1);
	assert_int_equal(f->r[0].rc, LDAPD_INAPPROPRIATE_AUTH);
	req_bind(&f->in, 5, 3, "cn=reader," BASE, "s3cret");
	run(f);
	search(f, "(mail=*)", LDAP_SCOPE_ONELEVEL);
	assert_int_equal(f->n, NPEOPLE + 1);
}

static void test_limits(void **state)
{
	struct fx *f = *state;
	struct search_args a = {.base = BASE, .scope = 1, .sizelimit = 2, .filter = "(mail=*)"};
	req_search(&f->in, 2, &a);
	assert_int_equal(run(f), 3);
	assert_int_equal(last(f)->rc, LDAPD_SIZE_LIMIT);
	f->cfg.limits.max_results = 1;
	a.sizelimit = 0;
	req_search(&f->in, 3, &a);
	assert_int_equal(run(f), 2);
	assert_int_equal(last(f)->rc, LDAPD_SIZE_LIMIT);
	/* A clock that jumps a second per look runs out of a one-second limit. */
	f->cfg.limits.max_results = 100;
	f->cfg.limits.now_ms = fake_clock;
	a = (struct search_args){.base = BASE, .scope = 1, .timelimit = 1, .filter = "(mail=*)"};
	req_search(&f->in, 4, &a);
	run(f);
	f->cfg.limits.now_ms = real_clock;
	assert_int_equal(last(f)->rc, LDAPD_TIME_LIMIT);
}

static void test_filter_limits(void **state)
{
	struct fx *f = *state;
	struct sg_buf deep;
	sg_buf_init(&deep, 4096);
	for (int i = 0; i < SG_LDAP_FILTER_DEPTH_MAX + 1; i++)
		sg_buf_append_str(&deep, "(!");
	sg_buf_append_str(&deep, "(mail=x)");
	for (int i = 0; i < SG_LDAP_FILTER_DEPTH_MAX + 1; i++)
		sg_buf_append_str(&deep, ")");
	search(f, deep.data, LDAP_SCOPE_SUBTREE);
	sg_buf_free(&deep);
	assert_int_equal(f->n, 1);
	assert_int_equal(last(f)->rc, LDAPD_ADMIN_LIMIT);
	struct sg_buf wide;
	sg_buf_init(&wide, 1 << 20);
	sg_buf_append_str(&wide, "(|");
	for (int i = 0; i < SG_LDAP_FILTER_NODES_MAX + 1; i++)
		sg_buf_append_str(&wide, "(cn=x)");
	sg_buf_append_str(&wide, ")");
	search(f, wide.data, LDAP_SCOPE_SUBTREE);
	assert_int_equal(last(f)->rc, LDAPD_ADMIN_LIMIT);
	sg_buf_free(&wide);
	/* The connection still answers. */
	search(f, "(mail=alice@example.com)", LDAP_SCOPE_SUBTREE);
	assert_int_equal(f->n, 2);
	assert_false(ldapd_session_closed(f->s));
}

static void test_other_operations(void **state)
{
	struct fx *f = *state;
	req_simple(&f->in, 2, "{it{s{}}}", LDAP_REQ_MODIFY, "cn=x," BASE);
	req_simple(&f->in, 3, "{its}", LDAP_REQ_DELETE, "cn=x," BASE);
	assert_int_equal(run(f), 2);
	assert_int_equal(f->r[0].tag, LDAP_RES_MODIFY);
	assert_int_equal(f->r[0].rc, LDAPD_UNWILLING);
	assert_int_equal(f->r[1].tag, LDAP_RES_DELETE);
	assert_int_equal(f->r[1].rc, LDAPD_UNWILLING);
	BerElement *ber = ber_alloc_t(LBER_USE_DER);
	ber_printf(ber, "{it{ts}}", 5, (ber_tag_t)LDAP_REQ_EXTENDED,
	           (ber_tag_t)LDAP_TAG_EXOP_REQ_OID, LDAP_EXOP_START_TLS);
	append_ber(&f->in, ber);
	ber = ber_alloc_t(LBER_USE_DER);
	ber_printf(ber, "{it{ts}}", 6, (ber_tag_t)LDAP_REQ_EXTENDED,
	           (ber_tag_t)LDAP_TAG_EXOP_REQ_OID, "1.3.6.1.4.1.4203.1.11.3");
	append_ber(&f->in, ber);
	struct search_args a = {.base = BASE, .scope = 2, .filter = "(mail=*)",
	                        .critical_control = true};
	req_search(&f->in, 7, &a);
	req_simple(&f->in, 8, "{iti}", LDAP_REQ_ABANDON, NULL);
	assert_int_equal(run(f), 3);
	assert_int_equal(f->r[0].rc, LDAPD_PROTOCOL_ERROR); /* StartTLS: no TLS configured */
	assert_int_equal(f->r[1].rc, LDAPD_UNWILLING);
	assert_int_equal(f->r[2].rc, LDAPD_UNAVAILABLE_CRITICAL_EXTENSION);
	req_simple(&f->in, 9, "{itn}", LDAP_REQ_UNBIND, NULL);
	assert_int_equal(run(f), 0);
	assert_true(ldapd_session_closed(f->s));
}

static void test_starttls(void **state)
{
	struct fx *f = *state;
	f->cfg.tls_available = true;
	BerElement *ber = ber_alloc_t(LBER_USE_DER);
	ber_printf(ber, "{it{ts}}", 1, (ber_tag_t)LDAP_REQ_EXTENDED,
	           (ber_tag_t)LDAP_TAG_EXOP_REQ_OID, LDAP_EXOP_START_TLS);
	append_ber(&f->in, ber);
	search(f, "(mail=*)", LDAP_SCOPE_SUBTREE); /* sent in the clear after it: dropped */
	assert_int_equal(f->n, 1);
	assert_int_equal(f->r[0].rc, LDAPD_SUCCESS);
	assert_string_equal(f->r[0].oid, LDAP_EXOP_START_TLS);
	assert_true(ldapd_session_want_tls(f->s));
	ldapd_session_tls_started(f->s);
	search(f, "(mail=alice@example.com)", LDAP_SCOPE_SUBTREE);
	assert_int_equal(f->n, 2);
}

static void test_broken_input(void **state)
{
	struct fx *f = *state;
	ldapd_session_input(f->s, "GET / HTTP/1.0\r\n\r\n", 18);
	assert_int_equal(replies_parse(f->s, f->r, 4), 1);
	assert_int_equal(f->r[0].msgid, 0);
	assert_int_equal(f->r[0].rc, LDAPD_PROTOCOL_ERROR);
	assert_string_equal(f->r[0].oid, LDAP_NOTICE_OF_DISCONNECTION);
	assert_true(ldapd_session_closed(f->s));
	ldapd_session_free(&f->s);
	/* A request announcing more than the ceiling: told, and closed at once. */
	f->s = ldapd_session_new(&f->cfg, f->dir, "127.0.0.1");
	const unsigned char big[] = {0x30, 0x83, 0x10, 0x00, 0x00, 0x02, 0x01, 0x01};
	ldapd_session_input(f->s, big, sizeof(big));
	assert_int_equal(replies_parse(f->s, f->r, 4), 1);
	assert_int_equal(f->r[0].rc, LDAPD_ADMIN_LIMIT);
	assert_true(ldapd_session_closed(f->s));
	ldapd_session_free(&f->s);
	/* Byte by byte is the same as all at once; a half request waits. */
	f->s = ldapd_session_new(&f->cfg, f->dir, "127.0.0.1");
	struct search_args a = {.base = BASE, .scope = 2, .filter = "(mail=bob@example.com)"};
	req_search(&f->in, 2, &a);
	for (size_t i = 0; i + 1 < f->in.len; i++)
		ldapd_session_input(f->s, f->in.data + i, 1);
	size_t len;
	ldapd_session_output(f->s, &len);
	assert_int_equal(len, 0);
	ldapd_session_input(f->s, f->in.data + f->in.len - 1, 1);
	sg_buf_reset(&f->in);
	assert_int_equal(replies_parse(f->s, f->r, 4), 2);
	ldapd_session_timeout(f->s);
	assert_int_equal(replies_parse(f->s, f->r, 4), 1);
	assert_int_equal(f->r[0].rc, LDAPD_ADMIN_LIMIT);
	assert_true(ldapd_session_closed(f->s));
}

/* ldap.anonymous_search = lookup: what Outlook and Thunderbird send to fetch a certificate
 * works; anything that could list entries is refused; a bound client may do anything. */
static const struct {
	const char *filter;
	int scope;
	bool allowed;
	const char *expect;
} anon_cases[] = {
	{"(mail=alice@example.com)", 2, true, "alice"},
	{"(mail=ALICE@example.com)", 2, true, "alice"},
	{"(|(mail=bob@example.com)(proxyAddresses=smtp:bob@example.com))", 2, true, "bob"},
	{"(&(objectClass=*)(mail=carol@partner.test))", 2, true, "carol"},
	{"(|(mail=alice@example.com)(mail=nobody@example.com))", 1, true, "alice"},
	{"(mail=nobody@example.com)", 2, true, ""},
	{"(objectClass=*)", 2, false, NULL},
	{"(mail=*)", 2, false, NULL},
	{"(mail=a*)", 2, false, NULL},
	{"(|(mail=alice@example.com)(cn=*))", 2, false, NULL},
	{"(!(mail=alice@example.com))", 2, false, NULL},
	{"(cn=Alice Example)", 2, false, NULL},
	{"(&(mail=*)(|(mail=al*)(cn=al*)))", 2, false, NULL},
};

static void test_anonymous_lookup_only(void **state)
{
	struct fx *f = *state;
	f->cfg.anonymous_full = false;
	for (size_t i = 0; i < sizeof(anon_cases) / sizeof(anon_cases[0]); i++) {
		search(f, anon_cases[i].filter, anon_cases[i].scope);
		if (!anon_cases[i].allowed) {
			assert_int_equal(f->n, 1);
			if (last(f)->rc != LDAPD_INSUFFICIENT_ACCESS)
				fail_msg("%s: rc %d", anon_cases[i].filter, last(f)->rc);
			continue;
		}
		char got[256];
		matched(f, got, sizeof(got));
		assert_int_equal(last(f)->rc, LDAPD_SUCCESS);
		if (strcmp(got, anon_cases[i].expect) != 0)
			fail_msg("%s: got \"%s\"", anon_cases[i].filter, got);
	}
	/* The root DSE and a named entry (base scope) stay readable. */
	struct search_args a = {.base = "", .scope = 0, .filter = "(objectClass=*)"};
	req_search(&f->in, 3, &a);
	assert_int_equal(run(f), 2);
	a = (struct search_args){.base = "mail=bob@example.com," BASE, .scope = 0,
	                         .filter = "(objectClass=*)"};
	req_search(&f->in, 4, &a);
	assert_int_equal(run(f), 2);
	/* Bound: the whole directory. */
	req_bind(&f->in, 5, 3, "cn=reader," BASE, "s3cret");
	run(f);
	search(f, "(objectClass=*)", LDAP_SCOPE_ONELEVEL);
	assert_int_equal(f->n, NPEOPLE + 1);
	assert_int_equal(last(f)->rc, LDAPD_SUCCESS);
}

/* PDUs in the output (entries and results). */
static size_t output_pdus(struct ldapd_session *s)
{
	size_t len, off = 0, pdu, n = 0;
	const char *out = ldapd_session_output(s, &len);
	while (off < len) {
		assert_int_equal(ldapd_request_frame((const unsigned char *)out + off, len - off,
		                                     1 << 30, &pdu), LDAPD_FRAME_OK);
		off += pdu;
		n++;
	}
	ldapd_session_output_consume(s, len);
	return n;
}

/* Many searches sent without reading the replies: the session stops taking requests while
 * more than SG_LDAP_OUTPUT_SOFT waits, and answers every one once the output is sent. */
static void test_output_backpressure(void **state)
{
	struct fx *f = *state;
	const size_t nreq = 6000;
	for (size_t i = 0; i < nreq; i++) {
		struct search_args a = {.base = BASE, .scope = 2, .filter = "(objectClass=*)",
		                        .attrs = {"*"}};
		req_search(&f->in, (int)i + 1, &a);
	}
	size_t used = ldapd_session_input(f->s, f->in.data, f->in.len);
	size_t len;
	ldapd_session_output(f->s, &len);
	assert_true(used < f->in.len);
	assert_true(len >= SG_LDAP_OUTPUT_SOFT && len < SG_LDAP_OUTPUT_SOFT + 256 * 1024);
	size_t pdus = output_pdus(f->s);
	while (used < f->in.len || ldapd_session_pending(f->s)) {
		used += ldapd_session_input(f->s, f->in.data + used, f->in.len - used);
		ldapd_session_output(f->s, &len);
		assert_true(len < SG_LDAP_OUTPUT_SOFT + 256 * 1024);
		pdus += output_pdus(f->s);
	}
	sg_buf_reset(&f->in);
	assert_int_equal(pdus, nreq * (NPEOPLE + 2)); /* base, people, done */
}

static void test_dn(void **state)
{
	(void)state;
	char out[256];
	assert_true(ldapd_dn_normalize(" CN = A\\2cb , dc=X ", 19, out, sizeof(out)) > 0);
	assert_string_equal(out, "cn=a\\,b,dc=x");
	assert_int_equal(ldapd_dn_normalize("", 0, out, sizeof(out)), 0);
	assert_int_equal(ldapd_dn_normalize("nodn", 4, out, sizeof(out)), -1);
	assert_int_equal(ldapd_dn_normalize("cn=a\\", 5, out, sizeof(out)), -1);
	assert_int_equal(ldapd_dn_normalize("cn=<", 4, out, sizeof(out)), -1);
	char esc[64] = "";
	assert_int_equal(ldapd_dn_escape(" a+b,c ", esc, sizeof(esc)), 0);
	assert_string_equal(esc, "\\ a\\+b\\,c\\ ");
	bool bin;
	assert_int_equal(ldapd_attr_lookup("USERCERTIFICATE;BINARY", 22, &bin), LDAPD_A_USERCERT);
	assert_true(bin);
	assert_int_equal(ldapd_attr_lookup("cn;lang-de", 10, &bin), -1);
	assert_int_equal(ldapd_attr_lookup("surname", 7, &bin), LDAPD_A_SN);
}

int main(void)
{
	sg_log_init("test");
	sg_log_set_level(SG_LOG_WARN);
	test_key = EVP_EC_gen("P-256");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame),
		cmocka_unit_test(test_decode_search),
		cmocka_unit_test(test_decode_broken),
		cmocka_unit_test(test_dn),
		cmocka_unit_test_setup_teardown(test_filter_table, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_thunderbird, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_attrs_and_scopes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_binds, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_limits, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_filter_limits, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_other_operations, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_starttls, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_broken_input, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_anonymous_lookup_only, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_output_backpressure, fx_setup, fx_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	EVP_PKEY_free(test_key);
	return rc;
}
