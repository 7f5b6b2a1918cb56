/* portal_ca.c: the instance CA's public files for whoever checks our certificates: /ca.crt
 * (to trust it) and /ca.crl (the revocation list that ca.crl_url points certificates to),
 * both DER, read from gateway.ca_dir at each request, where `cert revoke`, `ca crl` and the
 * tick role keep them current. */
#include "portal/portal_priv.h"
#include "core/limits.h"
#include "core/settings.h"
#include "core/sg_file.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "crypto/ca.h"
#include "crypto/smime.h"

#include <microhttpd.h>

#define CA_FILE_MAX (1024 * 1024) /* a CRL of some thousand serials */

static char *read_ca_file(struct portal_req *req, const char *name, size_t *len_r)
{
	char dir[SG_PATH_MAX], path[SG_PATH_MAX], *data = NULL;
	const char *err;
	if (settings_path(req->ctx->set, "gateway.ca_dir", dir, sizeof(dir)) < 0 ||
	    sg_path_join(path, sizeof(path), dir, name) < 0 ||
	    sg_file_read_all(path, CA_FILE_MAX, &data, len_r, &err) < 0)
		return NULL;
	return data;
}

typedef int (*to_der_fn)(const char *pem, size_t len, unsigned char **der_r,
                        size_t *der_len_r, const char **error_r);

static int cert_to_der(const char *pem, size_t len, unsigned char **der_r, size_t *der_len_r,
                       const char **error_r)
{
	return smime_cert_to_der((const unsigned char *)pem, len, der_r, der_len_r, error_r);
}

/* gateway.ca_dir/name, PEM, served as DER of type; missing says so in plain text (404). */
static void serve(struct portal_req *req, struct portal_resp *resp, const char *name,
                  to_der_fn to_der, const char *type, const char *missing)
{
	size_t len = 0, der_len = 0;
	unsigned char *der = NULL;
	const char *err;
	char *pem = read_ca_file(req, name, &len);
	if (pem == NULL || to_der(pem, len, &der, &der_len, &err) < 0) {
		sg_warn("portal: /%s: gateway.ca_dir/%s cannot be read", name, name);
		resp->status = MHD_HTTP_NOT_FOUND;
		resp->content_type = "text/plain; charset=utf-8";
		sg_buf_append_str(&resp->body, missing);
	} else {
		resp->content_type = type;
		sg_buf_append(&resp->body, der, der_len);
		sg_free(&der);
	}
	sg_free(&pem);
}

void portal_ca_crl_get(struct portal_req *req, struct portal_resp *resp)
{
	serve(req, resp, "crl.pem", ca_crl_pem_to_der, "application/pkix-crl",
	      "No CRL has been published yet (`sealgate ca crl` writes it).\n");
}

void portal_ca_cert_get(struct portal_req *req, struct portal_resp *resp)
{
	serve(req, resp, "ca.crt", cert_to_der, "application/pkix-cert",
	      "The CA certificate cannot be read.\n");
}
