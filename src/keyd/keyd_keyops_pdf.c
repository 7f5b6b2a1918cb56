/* keyd_keyops_pdf.c: the SecurePDF record used inside keyd (keystore_pdf_wrap): the client
 * sends the record sealed and a fresh 32-byte file key of its own, and gets back U and /UE.
 * K, which would open every PDF of the partner, stays in keyd. */
#include "keyd/keyd_client.h"
#include "keyd/keyd_keyops.h"
#include "keyd/keyd_proxy.h"
#include "crypto/keystore.h"
#include "core/sg_mem.h"

#include <string.h>

enum keyd_status keyd_op_pdf_wrap(struct keyd_session *s, const struct keyd_request *req,
                                  struct sg_buf *out, const char **error_r)
{
	unsigned char u[KEYSTORE_PDF_U_LEN], ue[32];
	if (req->fields[2].len != 32) {
		*error_r = "pdf-wrap: the file key must have 32 bytes";
		return KEYD_E_FAILED;
	}
	if (keystore_pdf_wrap(keyd_session_keystore(s), req->fields[1].data, req->fields[1].len,
	                      req->owner, req->fields[2].data, u, ue, error_r) < 0)
		return KEYD_E_FAILED;
	struct keyd_field f[2] = {{u, sizeof(u)}, {ue, sizeof(ue)}};
	if (keyd_body_encode(out, f, 2) < 0) {
		*error_r = "pdf-wrap: response too large";
		return KEYD_E_FAILED;
	}
	return KEYD_OK;
}

int keyd_proxy_pdf_wrap(const unsigned char *blob, size_t blob_len, const char *owner,
                        const unsigned char fk[32], unsigned char *u_r, unsigned char *ue_r,
                        const char **error_r)
{
	struct keyd_field in[3] = {{(const unsigned char *)owner, strlen(owner)}, {blob, blob_len},
	                           {fk, 32}};
	struct keyd_field out[2];
	unsigned char *resp = NULL;
	size_t resp_len = 0;
	if (keyd_callv(KEYD_OP_PDF_UNWRAP, in, 3, out, 2, &resp, &resp_len, error_r) != KEYD_OK)
		return -1;
	int rc = out[0].len == KEYSTORE_PDF_U_LEN && out[1].len == 32 ? 0 : -1;
	if (rc == 0) {
		memcpy(u_r, out[0].data, KEYSTORE_PDF_U_LEN);
		memcpy(ue_r, out[1].data, 32);
	} else {
		*error_r = "keyd: malformed pdf-wrap response";
	}
	sg_free_secret(&resp, resp_len);
	return rc;
}
