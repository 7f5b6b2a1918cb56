/* ldapd_filter.c: search filters (RFC 4511 §4.5.1.7) decoded once into a flat node array and
 * evaluated with the three-valued logic of the RFC: an assertion on an attribute we do not
 * hold is Undefined, which and/or/not carry along, so "(proxyAddresses=x)" in an or does no
 * harm. Matching is ASCII case-insensitive; approxMatch is equality. */
#include "ldap/ldapd.h"

#include "core/sg_mem.h"

#include <ctype.h>
#include <lber.h>
#include <ldap.h>
#include <stdlib.h>
#include <string.h>

enum ftype { F_AND, F_OR, F_NOT, F_EQ, F_SUB, F_PRESENT, F_FALSE, F_UNDEF, F_PART };
enum fpart { P_INITIAL, P_ANY, P_FINAL };

#define NONE UINT16_MAX

struct fnode {
	unsigned char type;   /* enum ftype */
	unsigned char part;   /* enum fpart, for F_PART */
	signed char attr;     /* enum ldapd_attr */
	uint16_t child, next; /* first child / next sibling, NONE at the end */
	uint32_t off, len;    /* value in strings */
};

struct ldapd_filter {
	struct fnode nodes[SG_LDAP_FILTER_NODES_MAX];
	size_t n;
	char *strings;
	size_t slen, scap;
};

struct dec {
	BerElement *ber;
	struct ldapd_filter *f;
	enum ldapd_rc rc;
	const char *error;
};

static ber_len_t remaining(BerElement *ber)
{
	ber_len_t n = 0;
	ber_get_option(ber, LBER_OPT_REMAINING_BYTES, &n);
	return n;
}

static int fail(struct dec *d, enum ldapd_rc rc, const char *why)
{
	d->rc = rc;
	d->error = why;
	return -1;
}

static int node_new(struct dec *d, enum ftype type)
{
	if (d->f->n >= SG_LDAP_FILTER_NODES_MAX)
		return fail(d, LDAPD_ADMIN_LIMIT, "filter has too many items");
	struct fnode *n = &d->f->nodes[d->f->n];
	*n = (struct fnode){.type = (unsigned char)type, .attr = -1, .child = NONE, .next = NONE};
	return (int)d->f->n++;
}

/* Keeps a lower-cased copy of a value; offsets, because the buffer may move. */
static void value_keep(struct ldapd_filter *f, struct fnode *n, const struct berval *bv)
{
	if (f->slen + bv->bv_len + 1 > f->scap) {
		f->scap = sg_size_add(sg_size_mul(f->scap, 2), bv->bv_len + 64);
		f->strings = sg_realloc(f->strings, f->scap);
	}
	n->off = (uint32_t)f->slen;
	n->len = (uint32_t)bv->bv_len;
	for (size_t i = 0; i < bv->bv_len; i++)
		f->strings[f->slen++] = (char)tolower((unsigned char)bv->bv_val[i]);
	f->strings[f->slen++] = '\0';
}

/* Enters a constructed element; *end_r is the remaining count where it ends. */
static int enter(struct dec *d, ber_len_t *end_r)
{
	ber_len_t len;
	if (ber_skip_tag(d->ber, &len) == LBER_ERROR || len > remaining(d->ber))
		return fail(d, LDAPD_PROTOCOL_ERROR, "malformed filter");
	*end_r = remaining(d->ber) - len;
	return 0;
}

static int leave(struct dec *d, ber_len_t end)
{
	return remaining(d->ber) == end ? 0 : fail(d, LDAPD_PROTOCOL_ERROR, "malformed filter");
}

static int get_string(struct dec *d, struct berval *bv)
{
	if (ber_get_stringbv(d->ber, bv, LBER_BV_NOTERM) == LBER_ERROR)
		return fail(d, LDAPD_PROTOCOL_ERROR, "malformed filter");
	return 0;
}

/* The node type an assertion on attribute description desc becomes. */
static int attr_node(struct dec *d, const struct berval *desc, enum ftype type)
{
	bool binary;
	int a = ldapd_attr_lookup(desc->bv_val, desc->bv_len, &binary);
	if (a < 0)
		type = type == F_PRESENT ? F_FALSE : F_UNDEF;
	else if (type != F_PRESENT && !ldapd_attr_is_string(a))
		type = F_UNDEF; /* no matching rule on certificates here */
	int i = node_new(d, type);
	if (i >= 0)
		d->f->nodes[i].attr = (signed char)a;
	return i;
}

static int decode(struct dec *d, int depth);

static int dec_set(struct dec *d, enum ftype type, int depth)
{
	ber_len_t end;
	if (depth >= SG_LDAP_FILTER_DEPTH_MAX)
		return fail(d, LDAPD_ADMIN_LIMIT, "filter nested too deeply");
	int i = node_new(d, type);
	if (i < 0 || enter(d, &end) < 0)
		return -1;
	uint16_t *link = &d->f->nodes[i].child;
	size_t count = 0;
	while (remaining(d->ber) > end) {
		int c = decode(d, depth + 1);
		if (c < 0)
			return -1;
		*link = (uint16_t)c;
		link = &d->f->nodes[c].next;
		count++;
	}
	if (type == F_NOT && count != 1)
		return fail(d, LDAPD_PROTOCOL_ERROR, "malformed filter: not needs one item");
	return leave(d, end) < 0 ? -1 : i;
}

static int dec_and(struct dec *d, int depth) { return dec_set(d, F_AND, depth); }
static int dec_or(struct dec *d, int depth) { return dec_set(d, F_OR, depth); }
static int dec_not(struct dec *d, int depth) { return dec_set(d, F_NOT, depth); }

/* equalityMatch, approxMatch (as equality), greaterOrEqual and lessOrEqual (no ordering
 * rules here: Undefined). */
static int dec_ava(struct dec *d, enum ftype type)
{
	ber_len_t end;
	struct berval desc, val;
	if (enter(d, &end) < 0 || get_string(d, &desc) < 0 || get_string(d, &val) < 0 ||
	    leave(d, end) < 0)
		return -1;
	int i = attr_node(d, &desc, type);
	if (i >= 0 && d->f->nodes[i].type == F_EQ)
		value_keep(d->f, &d->f->nodes[i], &val);
	return i;
}

static int dec_eq(struct dec *d, int depth) { (void)depth; return dec_ava(d, F_EQ); }
static int dec_undef_ava(struct dec *d, int depth) { (void)depth; return dec_ava(d, F_UNDEF); }

static int dec_present(struct dec *d, int depth)
{
	(void)depth;
	struct berval desc;
	return get_string(d, &desc) < 0 ? -1 : attr_node(d, &desc, F_PRESENT);
}

static int dec_extensible(struct dec *d, int depth)
{
	(void)depth;
	struct berval raw;
	if (ber_skip_element(d->ber, &raw) == LBER_ERROR)
		return fail(d, LDAPD_PROTOCOL_ERROR, "malformed filter");
	return node_new(d, F_UNDEF);
}

/* One initial, any number of any, one final, in that order, at least one in all. */
static int dec_parts(struct dec *d, int owner, ber_len_t end)
{
	uint16_t *link = &d->f->nodes[owner].child;
	int last = -1;
	while (remaining(d->ber) > end) {
		ber_len_t len;
		ber_tag_t tag = ber_peek_tag(d->ber, &len);
		int part = tag == LDAP_SUBSTRING_INITIAL ? P_INITIAL
		           : tag == LDAP_SUBSTRING_ANY   ? P_ANY
		           : tag == LDAP_SUBSTRING_FINAL ? P_FINAL : -1;
		struct berval val;
		if (part < 0 || part < last || (part == last && part != P_ANY) || last == P_FINAL ||
		    (part == P_INITIAL && last >= 0) || get_string(d, &val) < 0 || val.bv_len == 0)
			return fail(d, LDAPD_PROTOCOL_ERROR, "malformed substring filter");
		int i = node_new(d, F_PART);
		if (i < 0)
			return -1;
		d->f->nodes[i].part = (unsigned char)part;
		value_keep(d->f, &d->f->nodes[i], &val);
		*link = (uint16_t)i;
		link = &d->f->nodes[i].next;
		last = part;
	}
	return last < 0 ? fail(d, LDAPD_PROTOCOL_ERROR, "empty substring filter") : 0;
}

static int dec_sub(struct dec *d, int depth)
{
	(void)depth;
	ber_len_t end, pend;
	struct berval desc;
	if (enter(d, &end) < 0 || get_string(d, &desc) < 0)
		return -1;
	int i = attr_node(d, &desc, F_SUB);
	if (i < 0 || enter(d, &pend) < 0 || dec_parts(d, i, pend) < 0 || leave(d, pend) < 0 ||
	    leave(d, end) < 0)
		return -1;
	if (d->f->nodes[i].type != F_SUB)
		d->f->nodes[i].child = NONE; /* Undefined: the parts do not matter */
	return i;
}

static const struct {
	ber_tag_t tag;
	int (*fn)(struct dec *d, int depth);
} decoders[] = {
	{LDAP_FILTER_AND, dec_and},          {LDAP_FILTER_OR, dec_or},
	{LDAP_FILTER_NOT, dec_not},          {LDAP_FILTER_EQUALITY, dec_eq},
	{LDAP_FILTER_SUBSTRINGS, dec_sub},   {LDAP_FILTER_GE, dec_undef_ava},
	{LDAP_FILTER_LE, dec_undef_ava},     {LDAP_FILTER_PRESENT, dec_present},
	{LDAP_FILTER_APPROX, dec_eq},        {LDAP_FILTER_EXT, dec_extensible},
};

static int decode(struct dec *d, int depth)
{
	ber_len_t len;
	ber_tag_t tag = ber_peek_tag(d->ber, &len);
	for (size_t i = 0; i < sizeof(decoders) / sizeof(decoders[0]); i++)
		if (decoders[i].tag == tag)
			return decoders[i].fn(d, depth);
	return fail(d, LDAPD_PROTOCOL_ERROR, "unknown filter type");
}

struct ldapd_filter *ldapd_filter_decode(struct berelement *ber, enum ldapd_rc *rc_r,
                                         const char **error_r)
{
	struct dec d = {.ber = ber, .f = sg_calloc(1, sizeof(struct ldapd_filter))};
	if (decode(&d, 0) < 0) {
		*rc_r = d.rc;
		*error_r = d.error;
		ldapd_filter_free(&d.f);
		return NULL;
	}
	return d.f;
}

void ldapd_filter_free(struct ldapd_filter **f)
{
	if (*f == NULL)
		return;
	sg_free(&(*f)->strings);
	sg_free(f);
}

/* ---- evaluation ---- */

static bool substr_match(const struct ldapd_filter *f, uint16_t part, const char *v, size_t len)
{
	size_t pos = 0;
	for (; part != NONE; part = f->nodes[part].next) {
		const struct fnode *p = &f->nodes[part];
		const char *s = f->strings + p->off;
		if (p->len > len - pos)
			return false;
		if (p->part == P_INITIAL) {
			if (memcmp(v, s, p->len) != 0)
				return false;
			pos = p->len;
		} else if (p->part == P_FINAL) {
			return memcmp(v + len - p->len, s, p->len) == 0;
		} else {
			const char *hit = memmem(v + pos, len - pos, s, p->len);
			if (hit == NULL)
				return false;
			pos = (size_t)(hit - v) + p->len;
		}
	}
	return true;
}

static enum ldapd_tri eval_values(const struct ldapd_filter *f, const struct fnode *n,
                                  const struct ldapd_entry *e)
{
	const struct ldapd_value *vals = e->vals[n->attr];
	for (size_t i = 0; i < e->nvals[n->attr]; i++) {
		const char *lv = vals[i].lower;
		if (lv == NULL)
			continue;
		if (n->type == F_EQ ? vals[i].len == n->len &&
		                          memcmp(lv, f->strings + n->off, n->len) == 0
		                    : substr_match(f, n->child, lv, vals[i].len))
			return LDAPD_TRUE;
	}
	return LDAPD_FALSE;
}

static enum ldapd_tri eval(const struct ldapd_filter *f, uint16_t i, const struct ldapd_entry *e)
{
	const struct fnode *n = &f->nodes[i];
	switch ((enum ftype)n->type) {
	case F_AND:
	case F_OR: {
		/* and: any FALSE wins; or: any TRUE wins; otherwise an Undefined sticks. */
		enum ldapd_tri stop = n->type == F_AND ? LDAPD_FALSE : LDAPD_TRUE;
		enum ldapd_tri r = n->type == F_AND ? LDAPD_TRUE : LDAPD_FALSE;
		for (uint16_t c = n->child; c != NONE; c = f->nodes[c].next) {
			enum ldapd_tri v = eval(f, c, e);
			if (v == stop)
				return stop;
			if (v == LDAPD_UNDEFINED)
				r = LDAPD_UNDEFINED;
		}
		return r;
	}
	case F_NOT: {
		enum ldapd_tri v = eval(f, n->child, e);
		return v == LDAPD_UNDEFINED ? v : v == LDAPD_TRUE ? LDAPD_FALSE : LDAPD_TRUE;
	}
	case F_EQ:
	case F_SUB:
		return eval_values(f, n, e);
	case F_PRESENT:
		return e->nvals[n->attr] > 0 ? LDAPD_TRUE : LDAPD_FALSE;
	case F_FALSE:
		return LDAPD_FALSE;
	case F_UNDEF:
	case F_PART:
		break;
	}
	return LDAPD_UNDEFINED;
}

enum ldapd_tri ldapd_filter_eval(const struct ldapd_filter *f, const struct ldapd_entry *e)
{
	return f->n == 0 ? LDAPD_UNDEFINED : eval(f, 0, e);
}

/* ---- pinned filters: what an anonymous lookup may be ---- */
static bool pinned(const struct ldapd_filter *f, uint16_t i)
{
	const struct fnode *n = &f->nodes[i];
	switch ((enum ftype)n->type) {
	case F_EQ:
		return n->attr == LDAPD_A_MAIL;
	case F_FALSE:
	case F_UNDEF:
		return true; /* never TRUE: matches nothing */
	case F_AND:
		for (uint16_t c = n->child; c != NONE; c = f->nodes[c].next)
			if (pinned(f, c))
				return true;
		return false;
	case F_OR:
		for (uint16_t c = n->child; c != NONE; c = f->nodes[c].next)
			if (!pinned(f, c))
				return false;
		return n->child != NONE;
	case F_NOT:
	case F_SUB:
	case F_PRESENT:
	case F_PART:
		break;
	}
	return false;
}

bool ldapd_filter_pinned(const struct ldapd_filter *f)
{
	return f != NULL && f->n > 0 && pinned(f, 0);
}

/* ---- candidates from the indexes ---- */

struct idlist {
	uint32_t *ids;
	size_t n, cap;
};

static void ids_add(struct idlist *l, uint32_t id)
{
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 32 : sg_size_mul(l->cap, 2);
		l->ids = sg_reallocarray(l->ids, l->cap, sizeof(*l->ids));
	}
	l->ids[l->n++] = id;
}

/* First key >= (p, len) in the sorted index. */
static size_t lower_bound(const struct ldapd_index *ix, const char *p, size_t len)
{
	size_t lo = 0, hi = ix->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ldapd_ikey *k = &ix->keys[mid];
		int c = memcmp(k->lower, p, k->len < len ? k->len : len);
		if (c < 0 || (c == 0 && k->len < len))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Entries with a value equal to (exact) or starting with p. */
static void index_range(const struct ldapd_index *ix, const char *p, size_t len, bool exact,
                        struct idlist *out)
{
	for (size_t i = lower_bound(ix, p, len); i < ix->n; i++) {
		const struct ldapd_ikey *k = &ix->keys[i];
		if (k->len < len || memcmp(k->lower, p, len) != 0 || (exact && k->len != len))
			break;
		ids_add(out, k->entry);
	}
}

/* Adds to out the entries for which node i can be TRUE; false if it cannot tell. */
static bool cand(const struct ldapd_filter *f, uint16_t i, const struct ldapd_snapshot *snap,
                 struct idlist *out)
{
	const struct fnode *n = &f->nodes[i];
	const struct ldapd_index *ix = n->attr >= 0 ? &snap->index[n->attr] : NULL;
	switch ((enum ftype)n->type) {
	case F_FALSE:
	case F_UNDEF:
		return true; /* never TRUE: no candidates */
	case F_EQ:
		if (ix == NULL || ix->keys == NULL)
			return false;
		index_range(ix, f->strings + n->off, n->len, true, out);
		return true;
	case F_SUB: {
		const struct fnode *first = &f->nodes[n->child];
		if (ix == NULL || ix->keys == NULL || first->part != P_INITIAL)
			return false;
		index_range(ix, f->strings + first->off, first->len, false, out);
		return true;
	}
	case F_OR: {
		size_t mark = out->n;
		for (uint16_t c = n->child; c != NONE; c = f->nodes[c].next)
			if (!cand(f, c, snap, out)) {
				out->n = mark;
				return false;
			}
		return true;
	}
	case F_AND: {
		/* Any one child bounds the set; take the smallest. */
		struct idlist best = {0}, tmp = {0};
		bool have = false;
		for (uint16_t c = n->child; c != NONE; c = f->nodes[c].next) {
			tmp.n = 0;
			if (cand(f, c, snap, &tmp) && (!have || tmp.n < best.n)) {
				struct idlist t = best;
				best = tmp;
				tmp = t;
				have = true;
			}
		}
		for (size_t k = 0; have && k < best.n; k++)
			ids_add(out, best.ids[k]);
		sg_free(&best.ids);
		sg_free(&tmp.ids);
		return have;
	}
	case F_NOT:
	case F_PRESENT:
	case F_PART:
		break;
	}
	return false;
}

static int id_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

bool ldapd_filter_candidates(const struct ldapd_filter *f, const struct ldapd_snapshot *snap,
                             uint32_t **ids_r, size_t *n_r)
{
	struct idlist l = {0};
	if (f->n == 0 || !cand(f, 0, snap, &l)) {
		sg_free(&l.ids);
		return false;
	}
	/* Directory order, each entry once. */
	if (l.n > 1)
		qsort(l.ids, l.n, sizeof(*l.ids), id_cmp);
	size_t u = 0;
	for (size_t i = 0; i < l.n; i++)
		if (u == 0 || l.ids[u - 1] != l.ids[i])
			l.ids[u++] = l.ids[i];
	*ids_r = l.ids;
	*n_r = u;
	return true;
}
