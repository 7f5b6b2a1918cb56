/* cli_ca.c: `sealgate ca crl`: the CRL of the instance CA, from the revocations in the store.
 * `cert revoke` rewrites it too, so ca/crl.pem is current after every revocation. */
#include "cli/cli.h"
#include "core/limits.h"
#include "core/settings.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "crypto/ca.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int ca_usage(void)
{
	cli_errorf("usage: sealgate ca crl -c FILE      write the CRL to gateway.ca_dir/crl.pem "
	           "and stdout");
	return 2;
}

int cli_ca_write_crl(struct cli_cert_ctx *ctx, bool to_stdout)
{
	struct store_cert *certs = NULL;
	size_t n = 0;
	const char *err;
	char dir[SG_PATH_MAX], path[SG_PATH_MAX], *pem = NULL;
	size_t pem_len = 0;
	int rc = -1;
	if (store_cert_list_revoked(ctx->store, ca_issuer_name(ctx->ca), &certs, &n, &err) < 0) {
		cli_errorf("%s", err);
		return -1;
	}
	struct ca_revoked *revoked = sg_calloc(n + 1, sizeof(*revoked));
	for (size_t i = 0; i < n; i++)
		revoked[i] = (struct ca_revoked){certs[i].serial, certs[i].revoked_at};
	int days = (int)settings_number(ctx->settings, "ca.crl_days");
	if (settings_path(ctx->settings, "gateway.ca_dir", dir, sizeof(dir)) < 0 ||
	    sg_path_join(path, sizeof(path), dir, "crl.pem") < 0)
		cli_errorf("gateway.ca_dir: path too long");
	else if (ca_crl(ctx->ca, revoked, n, days, &pem, &pem_len, &err) < 0)
		cli_errorf("CRL: %s", err);
	else if (sg_file_write_atomic(path, pem, pem_len, 0644, &err) < 0)
		cli_errorf("%s: %s: %s", path, err, strerror(errno));
	else
		rc = 0;
	if (rc == 0 && to_stdout)
		rc = fwrite(pem, 1, pem_len, stdout) == pem_len ? 0 : -1;
	else if (rc == 0)
		printf("wrote the CRL (%zu revoked) to %s\n", n, path);
	sg_free(&pem);
	sg_free(&revoked);
	store_cert_list_free(&certs, n);
	return rc;
}

int cli_ca_cmd(int argc, char **argv)
{
	const char *config = cli_take_config(&argc, argv);
	if (argc != 1 || strcmp(argv[0], "crl") != 0)
		return ca_usage();
	struct cli_cert_ctx ctx;
	if (cli_cert_open(&ctx, config, true) < 0)
		return 1;
	int rc = cli_ca_write_crl(&ctx, true) < 0 ? 1 : 0;
	cli_cert_close(&ctx);
	return rc;
}
