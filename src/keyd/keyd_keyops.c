/* keyd_keyops.c: the private-key operations, both sides. In keyd: the handlers of SIGN and
 * DECRYPT over the session's loaded keys (keystore_keyops.c does the checked work). In a
 * client role: the operations of proxy keys (crypto/keystore_proxy.h) as keyd calls, and
 * keyd_proxy_unseal_key, which keystore_unseal uses when keyd holds the keys.
 * ECDH (CMS decryption for an EC certificate) travels as DECRYPT with the padding name "ecdh"
 * and the peer's point as ciphertext: the same allow-list entry, no operation of its own. */
#include "keyd/keyd_client.h"
#include "keyd/keyd_keyops.h"
#include "keyd/keyd_proxy.h"
#include "core/sg_mem.h"

#include <string.h>

#define PAD_ECDH "ecdh"
#define NAME_MAX_LEN 31

/* A name field (digest, padding) as a C string; -1 if too long or not printable. */
static int name_of(const struct keyd_field *f, char out[NAME_MAX_LEN + 1])
{
	if (f->len == 0 || f->len > NAME_MAX_LEN)
		return -1;
	for (size_t i = 0; i < f->len; i++)
		if (f->data[i] < 0x21 || f->data[i] > 0x7e)
			return -1;
	memcpy(out, f->data, f->len);
	out[f->len] = '\0';
	return 0;
}

static enum keyd_status run_key_op(struct keyd_session *s, const struct keyd_request *req,
                                   bool sign, struct sg_buf *out, const char **error_r)
{
	char name[NAME_MAX_LEN + 1];
	struct keystore_key *key = keyd_session_key(s, keyd_handle_decode(&req->fields[0]));
	if (key == NULL) {
		*error_r = "no such key handle (load the key again)";
		return KEYD_E_NO_HANDLE;
	}
	if (name_of(&req->fields[1], name) < 0) {
		*error_r = "bad algorithm or padding name";
		return KEYD_E_FAILED;
	}
	const struct keyd_field *in = &req->fields[2];
	unsigned char res[KEYSTORE_PROXY_OUT_MAX];
	size_t n = sizeof(res);
	int rc = sign                           ? keystore_key_sign_digest(key, name, in->data, in->len, res, &n, error_r)
	         : strcmp(name, PAD_ECDH) == 0 ? keystore_key_derive(key, in->data, in->len, res, &n, error_r)
	                                        : keystore_key_decrypt(key, name, in->data, in->len, res, &n, error_r);
	struct keyd_field f = {res, n};
	enum keyd_status st = rc == 0 && keyd_body_encode(out, &f, 1) == 0 ? KEYD_OK : KEYD_E_FAILED;
	sg_wipe(res, sizeof(res));
	return st;
}

static enum keyd_status op_sign(struct keyd_session *s, const struct keyd_request *req,
                                struct sg_buf *out, const char **error_r)
{
	return run_key_op(s, req, true, out, error_r);
}

static enum keyd_status op_decrypt(struct keyd_session *s, const struct keyd_request *req,
                                   struct sg_buf *out, const char **error_r)
{
	return run_key_op(s, req, false, out, error_r);
}

const struct keyd_handler keyd_keyops_handlers[] = {
	{KEYD_OP_SIGN, op_sign},
	{KEYD_OP_DECRYPT, op_decrypt},
	{KEYD_OP_PKCS12, keyd_op_pkcs12},
	{KEYD_OP_PDF_UNWRAP, keyd_op_pdf_wrap},
};
const size_t keyd_keyops_count = sizeof(keyd_keyops_handlers) / sizeof(keyd_keyops_handlers[0]);

/* ---- the client side ---- */

static int client_load(const unsigned char *blob, size_t blob_len, const char *owner, bool again,
                       uint32_t *handle_r, unsigned char **spki_r, size_t *spki_len_r,
                       const char **error_r)
{
	unsigned char tag[KEYD_KEYOPS_TAG_LEN];
	keyd_keyops_tag(blob, blob_len, owner, tag);
	if (!again && keyd_keyops_cache_get(tag, handle_r, spki_r, spki_len_r))
		return 0;
	struct keyd_field in[2] = {{(const unsigned char *)owner, strlen(owner)}, {blob, blob_len}};
	struct keyd_field out[2];
	unsigned char *resp = NULL;
	size_t resp_len = 0;
	if (keyd_callv(KEYD_OP_KEY_LOAD, in, 2, out, 2, &resp, &resp_len, error_r) != KEYD_OK)
		return -1;
	int rc = out[0].len == 4 && out[1].len > 0 ? 0 : -1;
	if (rc == 0) {
		*handle_r = keyd_handle_decode(&out[0]);
		*spki_r = sg_memdup(out[1].data, out[1].len);
		*spki_len_r = out[1].len;
		keyd_keyops_cache_put(tag, *handle_r, out[1].data, out[1].len);
	} else {
		*error_r = "keyd: malformed key-load response";
	}
	sg_free_secret(&resp, resp_len);
	return rc;
}

static const char *param_of(enum keystore_proxy_op op, const char *param)
{
	return op == KEYSTORE_PROXY_DERIVE ? PAD_ECDH : param;
}

static int client_call(enum keystore_proxy_op op, uint32_t handle, const char *param,
                       const unsigned char *data, size_t len, unsigned char *res,
                       size_t *res_len, const char **error_r)
{
	unsigned char h[4];
	keyd_handle_encode(handle, h);
	const char *name = param_of(op, param);
	struct keyd_field in[3] = {{h, 4}, {(const unsigned char *)name, strlen(name)}, {data, len}};
	struct keyd_field out;
	unsigned char *resp = NULL;
	size_t resp_len = 0;
	enum keyd_status st = keyd_callv(op == KEYSTORE_PROXY_SIGN ? KEYD_OP_SIGN : KEYD_OP_DECRYPT,
	                                 in, 3, &out, 1, &resp, &resp_len, error_r);
	int rc = st == KEYD_E_NO_HANDLE ? 1 : st != KEYD_OK ? -1 : out.len <= *res_len ? 0 : -1;
	if (rc == 0) {
		memcpy(res, out.data, out.len);
		*res_len = out.len;
	} else if (st == KEYD_OK) {
		*error_r = "keyd: the result is longer than the key allows";
	}
	sg_free_secret(&resp, resp_len);
	return rc;
}

static const struct keystore_proxy_ops keyd_ops = {client_load, client_call, keyd_client_pkcs12};

static int unseal_key(const unsigned char *blob, size_t blob_len, const char *owner,
                      struct keystore_key **key_r, const char **error_r)
{
	return keystore_proxy_unseal(&keyd_ops, blob, blob_len, owner, key_r, error_r);
}

const keyd_unseal_key_fn keyd_proxy_unseal_key = unseal_key;
