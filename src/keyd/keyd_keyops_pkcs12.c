/* keyd_keyops_pkcs12.c: a .pfx of a key that keyd holds (enrolment downloads, `cert export`
 * in a role served by keyd). A .pfx is the private key itself, so it is built in keyd and
 * leaves it only encrypted under the PIN the client chose. A compromised portal can still ask
 * for any "cert:" key it can read sealed from the store, with a PIN of its own: see
 * docs/security.md, "Private-key operations in keyd". */
#include "keyd/keyd_client.h"
#include "keyd/keyd_keyops.h"
#include "crypto/ca.h"
#include "crypto/keystore.h"
#include "core/sg_mem.h"

#include <string.h>

#define PIN_MAX 128
#define NAME_MAX_LEN 320

/* A field as a C string (no NUL inside, at most max bytes). */
static int text_of(const struct keyd_field *f, char *out, size_t max)
{
	if (f->len > max || memchr(f->data, 0, f->len) != NULL)
		return -1;
	memcpy(out, f->data, f->len);
	out[f->len] = '\0';
	return 0;
}

static int export_with(const struct keystore_key *key, const struct keyd_request *req,
                       struct sg_buf *out, const char **error_r)
{
	struct keyd_field o[4];
	char name[NAME_MAX_LEN + 1], pin[PIN_MAX + 1];
	if (keyd_body_decode(req->fields[3].data, req->fields[3].len, o, 4) < 0 ||
	    text_of(&o[1], name, NAME_MAX_LEN) < 0 || text_of(&o[3], pin, PIN_MAX) < 0 ||
	    pin[0] == '\0') {
		*error_r = "pkcs12: malformed options";
		return -1;
	}
	unsigned char *pfx = NULL;
	size_t len = 0;
	int rc = ca_pkcs12_export(req->fields[2].data, req->fields[2].len, key, o[0].data, o[0].len,
	                          name, o[2].len > 0, pin, &pfx, &len, error_r);
	sg_wipe(pin, sizeof(pin));
	struct keyd_field f = {pfx, len};
	if (rc == 0 && keyd_body_encode(out, &f, 1) < 0) {
		*error_r = "pkcs12: the .pfx is too large";
		rc = -1;
	}
	sg_free(&pfx);
	return rc;
}

enum keyd_status keyd_op_pkcs12(struct keyd_session *s, const struct keyd_request *req,
                                struct sg_buf *out, const char **error_r)
{
	struct keystore_key *key = NULL;
	if (keystore_unseal(keyd_session_keystore(s), req->fields[1].data, req->fields[1].len,
	                    req->owner, &key, error_r) < 0)
		return KEYD_E_FAILED;
	int rc = export_with(key, req, out, error_r);
	keystore_key_free(&key);
	return rc == 0 ? KEYD_OK : KEYD_E_FAILED;
}

int keyd_client_pkcs12(const unsigned char *blob, size_t blob_len, const char *owner,
                       const struct keystore_pkcs12_req *req, unsigned char **out_r,
                       size_t *out_len_r, const char **error_r)
{
	const char *name = req->friendly_name != NULL ? req->friendly_name : "";
	struct keyd_field opt[4] = {{req->ca_der, req->ca_der_len},
	                            {(const unsigned char *)name, strlen(name)},
	                            {(const unsigned char *)"legacy", req->legacy ? 6 : 0},
	                            {(const unsigned char *)req->pin, strlen(req->pin)}};
	struct sg_buf options;
	sg_buf_init(&options, KEYD_SMALL_MAX);
	if (keyd_body_encode(&options, opt, 4) < 0) {
		sg_buf_free_secret(&options);
		*error_r = "pkcs12: certificate or name too long";
		return -1;
	}
	struct keyd_field in[4] = {{(const unsigned char *)owner, strlen(owner)}, {blob, blob_len},
	                           {req->der, req->der_len},
	                           {(const unsigned char *)options.data, options.len}};
	struct keyd_field pfx;
	unsigned char *resp = NULL;
	size_t resp_len = 0;
	enum keyd_status st = keyd_callv(KEYD_OP_PKCS12, in, 4, &pfx, 1, &resp, &resp_len, error_r);
	sg_buf_free_secret(&options);
	if (st == KEYD_OK) {
		*out_r = sg_memdup(pfx.data, pfx.len);
		*out_len_r = pfx.len;
	}
	sg_free_secret(&resp, resp_len);
	return st == KEYD_OK ? 0 : -1;
}
