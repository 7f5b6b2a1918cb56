/* keyd_dispatch.c: one request in, one response out, for keyd's sockets and the in-process
 * loopback alike. Order of the checks: frame and schema, allow-list, owner; only then does
 * a handler run. The master-key operations are here; the private-key ones in keyd_keyops.c. */
#include "keyd/keyd_server.h"
#include "crypto/keystore.h"
#include "core/sg_mem.h"

#include <string.h>

static enum keyd_status put_fields(struct sg_buf *out, const struct keyd_field *f, size_t n,
                                   const char **error_r)
{
	if (keyd_body_encode(out, f, n) < 0) {
		*error_r = "response too large";
		return KEYD_E_FAILED;
	}
	return KEYD_OK;
}

static enum keyd_status op_ping(struct keyd_session *s, const struct keyd_request *req,
                                struct sg_buf *out, const char **error_r)
{
	(void)s, (void)req, (void)out, (void)error_r;
	return KEYD_OK;
}

static enum keyd_status op_seal(struct keyd_session *s, const struct keyd_request *req,
                                struct sg_buf *out, const char **error_r)
{
	unsigned char *blob = NULL;
	size_t blen = 0;
	if (keystore_seal_bytes(keyd_session_keystore(s), req->fields[1].data, req->fields[1].len,
	                        req->owner, &blob, &blen, error_r) < 0)
		return KEYD_E_FAILED;
	struct keyd_field f = {blob, blen};
	enum keyd_status st = put_fields(out, &f, 1, error_r);
	sg_free(&blob);
	return st;
}

/* Secrets used inside keyd and never handed out (keydops): private keys (key-load, pkcs12),
 * the CA key, the SecurePDF record's K (pdf-unwrap). */
static bool used_inside(const char *owner)
{
	return strncmp(owner, "cert:", 5) == 0 || strcmp(owner, "ca-key") == 0 ||
	       strncmp(owner, "pdf:", 4) == 0;
}

static enum keyd_status op_unseal(struct keyd_session *s, const struct keyd_request *req,
                                  struct sg_buf *out, const char **error_r)
{
	unsigned char *data = NULL;
	size_t len = 0;
	if (used_inside(req->owner)) {
		*error_r = "unseal: this secret is used inside keyd and never handed out";
		return KEYD_E_OWNER;
	}
	if (keystore_unseal_bytes(keyd_session_keystore(s), req->fields[1].data,
	                          req->fields[1].len, req->owner, &data, &len, error_r) < 0)
		return KEYD_E_FAILED;
	struct keyd_field f = {data, len};
	enum keyd_status st = put_fields(out, &f, 1, error_r);
	sg_free_secret(&data, len);
	return st;
}

static enum keyd_status op_key_load(struct keyd_session *s, const struct keyd_request *req,
                                    struct sg_buf *out, const char **error_r)
{
	struct keystore_key *key = NULL;
	if (keystore_unseal(keyd_session_keystore(s), req->fields[1].data, req->fields[1].len,
	                    req->owner, &key, error_r) < 0)
		return KEYD_E_FAILED;
	unsigned char *pub = NULL;
	size_t pub_len = 0;
	if (keystore_key_public_der(key, &pub, &pub_len) < 0) {
		keystore_key_free(&key);
		*error_r = "the key's public half cannot be encoded";
		return KEYD_E_FAILED;
	}
	unsigned char handle[4];
	keyd_handle_encode(keyd_session_key_add(s, key), handle);
	struct keyd_field f[2] = {{handle, 4}, {pub, pub_len}};
	enum keyd_status st = put_fields(out, f, 2, error_r);
	sg_free(&pub);
	return st;
}

static enum keyd_status op_key_free(struct keyd_session *s, const struct keyd_request *req,
                                    struct sg_buf *out, const char **error_r)
{
	(void)out, (void)error_r;
	keyd_session_key_free(s, keyd_handle_decode(&req->fields[0]));
	return KEYD_OK;
}

static const struct keyd_handler handlers[] = {
	{KEYD_OP_PING, op_ping},         {KEYD_OP_SEAL, op_seal},
	{KEYD_OP_UNSEAL, op_unseal},     {KEYD_OP_KEY_LOAD, op_key_load},
	{KEYD_OP_KEY_FREE, op_key_free},
};

static keyd_handler_fn handler_of(unsigned op)
{
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if ((unsigned)handlers[i].op == op)
			return handlers[i].fn;
	for (size_t i = 0; i < keyd_keyops_count; i++)
		if ((unsigned)keyd_keyops_handlers[i].op == op)
			return keyd_keyops_handlers[i].fn;
	return NULL;
}

/* The checks before any handler runs; KEYD_OK if it may run. */
static enum keyd_status admit(const struct keyd_session *s, const unsigned char *frame,
                              size_t len, struct keyd_request *req)
{
	enum keyd_status st = keyd_request_parse(frame, len, req);
	if (st != KEYD_OK)
		return st;
	const struct keyd_policy *p = keyd_session_policy(s);
	if ((p->ops & KEYD_ALLOW(req->hdr.op)) == 0)
		return KEYD_E_NOT_ALLOWED;
	if (req->owner[0] != '\0' && !keyd_policy_owner_ok(p, req->owner))
		return KEYD_E_OWNER;
	return KEYD_OK;
}

/* Header and body: the response body if st is KEYD_OK, else the error text as one field. */
static void respond(const struct keyd_request *req, enum keyd_status st, struct sg_buf *body,
                    const char *error, unsigned char **resp_r, size_t *resp_len_r)
{
	if (st != KEYD_OK) {
		sg_buf_reset(body);
		struct keyd_field f = {(const unsigned char *)error, strlen(error)};
		(void)keyd_body_encode(body, &f, 1);
	}
	struct keyd_header h = {.version = KEYD_VERSION, .op = req->hdr.op,
	                        .status = (uint16_t)st, .id = req->hdr.id,
	                        .body_len = (uint32_t)body->len};
	unsigned char *r = sg_malloc(KEYD_HEADER_LEN + body->len);
	keyd_header_encode(&h, r);
	if (body->len > 0)
		memcpy(r + KEYD_HEADER_LEN, body->data, body->len);
	*resp_r = r;
	*resp_len_r = KEYD_HEADER_LEN + body->len;
}

enum keyd_status keyd_dispatch(struct keyd_session *s, const unsigned char *frame, size_t len,
                               unsigned char **resp_r, size_t *resp_len_r)
{
	struct keyd_request req;
	struct sg_buf body;
	sg_buf_init(&body, KEYD_BODY_MAX);
	const char *error = NULL;
	enum keyd_status st = admit(s, frame, len, &req);
	keyd_handler_fn fn = st == KEYD_OK ? handler_of(req.hdr.op) : NULL;
	if (st == KEYD_OK && fn == NULL) {
		st = KEYD_E_FAILED;
		error = "operation not implemented by this keyd";
	} else if (fn != NULL) {
		st = fn(s, &req, &body, &error);
	}
	if (error == NULL)
		error = keyd_status_text(st);
	respond(&req, st, &body, error, resp_r, resp_len_r);
	sg_buf_free_secret(&body);
	return st;
}
