/* cli_ca.c: `sealgate ca crl`: the CRL of the instance CA, from the revocations in the store
 * (`cert revoke` rewrites it too, so ca/crl.pem is current after every revocation);
 * `sealgate ca trust FILE`: partners' CAs added to the anchors signatures are verified with. */
#include "cli/cli.h"
#include "core/limits.h"
#include "core/settings.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "core/sg_buf.h"
#include "crypto/ca.h"
#include "crypto/smime.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The anchors file holds partners' CA certificates, a few KB each. */
#define CA_ANCHORS_FILE_MAX (4 * 1024 * 1024)

static int ca_usage(void)
{
	return cli_usage("ca");
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
		revoked[i] = (struct ca_revoked){certs[i].serial, certs[i].revoked_at,
		                                  certs[i].revoke_reason};
	int days = (int)settings_number(ctx->settings, "ca.crl_days");
	if (settings_path(ctx->settings, "gateway.ca_dir", dir, sizeof(dir)) < 0 ||
	    sg_path_join(path, sizeof(path), dir, "crl.pem") < 0)
		cli_errorf("gateway.ca_dir: path too long");
	else if (ca_crl_write(ctx->ca, revoked, n, days, path, &pem, &pem_len, &err) < 0)
		cli_errorf("CRL %s: %s", path, err);
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

/* Appends each certificate of b not yet in anchors (the file's text) to out; every one must
 * be a CA certificate, else nothing is added. Returns how many were added, or -1. */
static int add_anchors(const struct smime_bundle *b, const char *file, const char *anchors,
                       struct sg_buf *out)
{
	struct smime_certinfo info[16];
	for (size_t i = 0; i < b->n; i++) {
		const char *err;
		if (smime_cert_parse(b->der[i], b->len[i], &info[i], &err) < 0) {
			cli_errorf("%s: certificate %zu: %s", file, i + 1, err);
			return -1;
		}
		if (!info[i].is_ca) {
			cli_errorf("%s: %s is not a CA certificate; a partner's own certificate is imported "
			           "with `sealgate cert import EMAIL FILE`", file, info[i].subject);
			return -1;
		}
	}
	int added = 0;
	for (size_t i = 0; i < b->n; i++) {
		char *pem = NULL;
		size_t pem_len = 0;
		const char *err;
		if (smime_cert_to_pem(b->der[i], b->len[i], &pem, &pem_len, &err) < 0) {
			cli_errorf("%s: %s", file, err);
			return -1;
		}
		bool known = strstr(anchors, pem) != NULL || memmem(out->data, out->len, pem, pem_len);
		if (!known && sg_buf_append(out, pem, pem_len) < 0) {
			sg_free(&pem);
			cli_errorf("%s: the anchors file would grow too large", file);
			return -1;
		}
		printf("%s %s (SHA-256 %s)\n", known ? "already trusted:" : "trusted:", info[i].subject,
		       info[i].fingerprint);
		added += known ? 0 : 1;
		sg_free(&pem);
	}
	return added;
}

static int ca_trust_cmd(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	if (argc != 1)
		return ca_usage();
	const char *file = argv[0], *err;
	char path[SG_PATH_MAX], *data = NULL, *anchors = NULL;
	size_t len = 0, anchors_len = 0;
	struct smime_bundle b = {0};
	if (settings_path(ctx->settings, "ca.trust_anchors", path, sizeof(path)) < 0) {
		cli_errorf("ca.trust_anchors: path too long");
		return 1;
	}
	if (sg_file_read_all(file, SG_PKCS12_MAX, &data, &len, &err) < 0 ||
	    smime_bundle_read((const unsigned char *)data, len, &b, &err) < 0) {
		cli_errorf("%s: %s", file, err);
		sg_free(&data);
		return 1;
	}
	sg_free(&data);
	if (sg_file_read_all(path, CA_ANCHORS_FILE_MAX, &anchors, &anchors_len, &err) < 0) {
		if (errno != ENOENT) {
			cli_errorf("%s: %s: %s", path, err, strerror(errno));
			smime_bundle_free(&b);
			return 1;
		}
		anchors = sg_strdup("");
		anchors_len = 0;
	}
	struct sg_buf out;
	sg_buf_init(&out, CA_ANCHORS_FILE_MAX);
	sg_buf_append(&out, anchors, anchors_len);
	int added = add_anchors(&b, file, anchors, &out), rc = added < 0 ? 1 : 0;
	if (added > 0 && sg_file_write_atomic(path, out.data, out.len, 0644, &err) < 0) {
		cli_errorf("%s: %s: %s", path, err, strerror(errno));
		rc = 1;
	} else if (added > 0) {
		printf("wrote %s; running gateways use it after a reload (SIGHUP)\n", path);
		cli_audit(ctx->store, "anchor-added", "", "%d CA certificate(s) from %.150s", added,
		          file);
	}
	sg_buf_free(&out);
	sg_free(&anchors);
	smime_bundle_free(&b);
	return rc;
}

/* `ca anchors`: what ca.trust_anchors holds, one line per certificate. */
static int ca_anchors_cmd(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return ca_usage();
	char path[SG_PATH_MAX], *text = NULL;
	size_t len = 0, n = 0;
	const char *err;
	if (settings_path(ctx->settings, "ca.trust_anchors", path, sizeof(path)) < 0 ||
	    sg_file_read_all(path, CA_ANCHORS_FILE_MAX, &text, &len, &err) < 0) {
		printf("no trust anchors besides the system's and the instance CA (%s: none yet)\n",
		       path);
		return 0;
	}
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	for (char *p = strstr(text, begin); p != NULL; p = strstr(p + 1, begin)) {
		unsigned char *der = NULL;
		size_t der_len = 0;
		struct smime_certinfo info;
		if (smime_cert_to_der((unsigned char *)p, len - (size_t)(p - text), &der, &der_len,
		                      &err) < 0 ||
		    smime_cert_parse(der, der_len, &info, &err) < 0) {
			printf("(a certificate that cannot be read: %s)\n", err);
		} else {
			char until[32];
			struct tm tm;
			strftime(until, sizeof(until), "%Y-%m-%d", gmtime_r(&info.not_after, &tm));
			printf("%s  until %s  SHA-256 %s\n", info.subject, until, info.fingerprint);
			n++;
		}
		sg_free(&der);
	}
	printf("%zu trust anchor(s) in %s\n", n, path);
	sg_free(&text);
	return 0;
}

static int ca_crl_cmd(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return ca_usage();
	return cli_ca_write_crl(ctx, true) < 0 ? 1 : 0;
}

int cli_ca_cmd(int argc, char **argv)
{
	static const struct cli_subcommand table[] = {
		{"crl", ca_crl_cmd, true},
		{"trust", ca_trust_cmd, false},
		{"anchors", ca_anchors_cmd, false},
	};
	return cli_dispatch(table, sizeof(table) / sizeof(table[0]), argc, argv, ca_usage);
}
