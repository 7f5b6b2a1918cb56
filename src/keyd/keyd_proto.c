/* keyd_proto.c: the frame codec and each operation's schema (keyd_proto.h). Decoding never
 * trusts a length before comparing it with what is there and with the schema's ceiling. */
#include "keyd/keyd_proto.h"
#include "core/limits.h"

#include <string.h>

/* What a field holds: bytes up to a ceiling, the owner string, or a 4-byte handle. */
enum field_kind { F_BYTES, F_OWNER, F_HANDLE };

struct field_rule {
	enum field_kind kind;
	size_t max;
};

struct op_schema {
	const char *name;
	size_t nfields;
	struct field_rule f[KEYD_FIELDS_MAX];
};

#define OWNER {F_OWNER, KEYD_OWNER_MAX}
#define HANDLE {F_HANDLE, 4}
#define SMALL {F_BYTES, KEYD_SMALL_MAX}
#define SEALED {F_BYTES, SG_SEALED_KEY_MAX}
#define LARGE {F_BYTES, KEYD_BODY_MAX - KEYD_OWNER_MAX - 16}

static const struct op_schema schemas[KEYD_OP_LIMIT] = {
	[KEYD_OP_PING] = {"ping", 0, {{F_BYTES, 0}}},
	[KEYD_OP_SEAL] = {"seal", 2, {OWNER, LARGE}},
	[KEYD_OP_UNSEAL] = {"unseal", 2, {OWNER, LARGE}},
	[KEYD_OP_KEY_LOAD] = {"key-load", 2, {OWNER, SEALED}},
	[KEYD_OP_KEY_FREE] = {"key-free", 1, {HANDLE}},
	[KEYD_OP_SIGN] = {"sign", 3, {HANDLE, SMALL, SMALL}},
	[KEYD_OP_DECRYPT] = {"decrypt", 3, {HANDLE, SMALL, SMALL}},
	[KEYD_OP_CA_ISSUE] = {"ca-issue", 2, {SMALL, SMALL}},
	[KEYD_OP_PDF_UNWRAP] = {"pdf-unwrap", 3, {OWNER, SEALED, SMALL}},
	[KEYD_OP_PGP_SIGN] = {"pgp-sign", 3, {OWNER, {F_BYTES, SG_PGP_KEY_MAX}, LARGE}},
	[KEYD_OP_PGP_DECRYPT] = {"pgp-decrypt", 3, {OWNER, {F_BYTES, SG_PGP_KEY_MAX}, SMALL}},
	[KEYD_OP_PKCS12] = {"pkcs12", 4, {OWNER, SEALED, SMALL, SMALL}},
};

static const struct op_schema *schema_of(unsigned op)
{
	if (op >= KEYD_OP_LIMIT || schemas[op].name == NULL)
		return NULL;
	return &schemas[op];
}

const char *keyd_op_name(unsigned op)
{
	const struct op_schema *s = schema_of(op);
	return s != NULL ? s->name : "unknown";
}

const char *keyd_status_text(enum keyd_status status)
{
	static const char *const text[] = {
		[KEYD_OK] = "ok",
		[KEYD_E_BAD_REQUEST] = "malformed request",
		[KEYD_E_UNKNOWN_OP] = "unknown operation",
		[KEYD_E_NOT_ALLOWED] = "operation not allowed for this client",
		[KEYD_E_OWNER] = "owner not allowed for this client",
		[KEYD_E_FAILED] = "operation failed",
		[KEYD_E_TEMPORARY] = "key process unavailable (temporary)",
		[KEYD_E_NO_HANDLE] = "unknown key handle",
	};
	if ((size_t)status >= sizeof(text) / sizeof(text[0]) || text[status] == NULL)
		return "unknown status";
	return text[status];
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void keyd_header_encode(const struct keyd_header *h, unsigned char out[KEYD_HEADER_LEN])
{
	memcpy(out, KEYD_MAGIC, 4);
	out[4] = h->version;
	out[5] = h->op;
	out[6] = (unsigned char)(h->status >> 8);
	out[7] = (unsigned char)h->status;
	put32(out + 8, h->id);
	put32(out + 12, h->body_len);
}

enum keyd_status keyd_header_decode(const unsigned char in[KEYD_HEADER_LEN],
                                    struct keyd_header *h_r)
{
	if (memcmp(in, KEYD_MAGIC, 4) != 0 || in[4] != KEYD_VERSION)
		return KEYD_E_BAD_REQUEST;
	h_r->version = in[4];
	h_r->op = in[5];
	h_r->status = (uint16_t)(in[6] << 8 | in[7]);
	h_r->id = get32(in + 8);
	h_r->body_len = get32(in + 12);
	return h_r->body_len > KEYD_BODY_MAX ? KEYD_E_BAD_REQUEST : KEYD_OK;
}

int keyd_body_encode(struct sg_buf *out, const struct keyd_field *fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char len[4];
		if (fields[i].len > UINT32_MAX)
			return -1;
		put32(len, (uint32_t)fields[i].len);
		if (sg_buf_append(out, len, 4) < 0 ||
		    (fields[i].len > 0 && sg_buf_append(out, fields[i].data, fields[i].len) < 0))
			return -1;
	}
	return 0;
}

int keyd_body_decode(const unsigned char *body, size_t len, struct keyd_field *fields, size_t n)
{
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		if (len - at < 4)
			return -1;
		size_t flen = get32(body + at);
		at += 4;
		if (flen > len - at)
			return -1;
		fields[i].data = body + at;
		fields[i].len = flen;
		at += flen;
	}
	return at == len ? 0 : -1; /* nothing after the last field */
}

/* 1..KEYD_OWNER_MAX bytes of printable ASCII without spaces: it goes into log lines and
 * associated data, and is compared by prefix. */
static bool owner_valid(const struct keyd_field *f)
{
	if (f->len == 0 || f->len > KEYD_OWNER_MAX)
		return false;
	for (size_t i = 0; i < f->len; i++)
		if (f->data[i] <= 0x20 || f->data[i] >= 0x7f)
			return false;
	return true;
}

static bool field_valid(const struct field_rule *rule, const struct keyd_field *f)
{
	switch (rule->kind) {
	case F_OWNER:
		return owner_valid(f);
	case F_HANDLE:
		return f->len == 4;
	case F_BYTES:
		return f->len <= rule->max;
	}
	return false;
}

static enum keyd_status check_fields(const struct op_schema *s, struct keyd_request *req)
{
	for (size_t i = 0; i < s->nfields; i++) {
		if (!field_valid(&s->f[i], &req->fields[i]))
			return KEYD_E_BAD_REQUEST;
		if (s->f[i].kind == F_OWNER) {
			memcpy(req->owner, req->fields[i].data, req->fields[i].len);
			req->owner[req->fields[i].len] = '\0';
		}
	}
	return KEYD_OK;
}

enum keyd_status keyd_request_parse(const unsigned char *frame, size_t len,
                                    struct keyd_request *req_r)
{
	memset(req_r, 0, sizeof(*req_r));
	if (len < KEYD_HEADER_LEN || keyd_header_decode(frame, &req_r->hdr) != KEYD_OK ||
	    req_r->hdr.body_len != len - KEYD_HEADER_LEN || req_r->hdr.status != 0)
		return KEYD_E_BAD_REQUEST;
	const struct op_schema *s = schema_of(req_r->hdr.op);
	if (s == NULL)
		return KEYD_E_UNKNOWN_OP;
	if (keyd_body_decode(frame + KEYD_HEADER_LEN, len - KEYD_HEADER_LEN, req_r->fields,
	                     s->nfields) < 0)
		return KEYD_E_BAD_REQUEST;
	req_r->nfields = s->nfields;
	return check_fields(s, req_r);
}

void keyd_handle_encode(uint32_t handle, unsigned char out[4])
{
	put32(out, handle);
}

uint32_t keyd_handle_decode(const struct keyd_field *f)
{
	return f->len == 4 ? get32(f->data) : 0;
}
