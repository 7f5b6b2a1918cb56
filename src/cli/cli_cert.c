/* cli_cert.c: `sealgate cert issue|revoke|list|export|import|proxy`: the S/MIME certificates
 * of users (issued by the instance CA, imported from partners or .p12 files) and the proxy
 * certificates of external addresses. Private keys exist in clear only inside one command,
 * between unsealing and the operation; the store holds them sealed. */
#include "cli/cli.h"
#include "core/limits.h"
#include "core/settings.h"
#include "core/sg_buf.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/ca.h"
#include "crypto/keystore.h"
#include "crypto/smime.h"
#include "enrol/enrol.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int cert_usage(void)
{
	return cli_usage("cert");
}

/* ---- context ---- */

static int open_keys(struct cli_cert_ctx *ctx)
{
	char path[SG_PATH_MAX];
	const char *err;
	if (settings_path(ctx->settings, "gateway.master_key", path, sizeof(path)) < 0 ||
	    keystore_open(path, &ctx->keystore, &err) < 0) {
		cli_errorf("%s: %s", path, err);
		return -1;
	}
	if (settings_path(ctx->settings, "gateway.ca_dir", path, sizeof(path)) < 0 ||
	    ca_open(path, ctx->keystore, &ctx->ca, &err) < 0) {
		cli_errorf("%s: %s", path, err);
		return -1;
	}
	if (ca_set_crl_url(ctx->ca, settings_get(ctx->settings, "ca.crl_url"), &err) < 0) {
		cli_errorf("%s", err);
		return -1;
	}
	return 0;
}

int cli_cert_open(struct cli_cert_ctx *ctx, const char *config_path, bool want_keys)
{
	memset(ctx, 0, sizeof(*ctx));
	if (config_path == NULL) {
		cli_errorf("-c FILE is missing: name the instance's sealgate.conf");
		return -1;
	}
	if ((ctx->settings = cli_load_settings(config_path)) == NULL)
		return -1;
	if (cli_check_account(ctx->settings) < 0) {
		cli_cert_close(ctx);
		return -1;
	}
	const char *err;
	ctx->store = store_open_settings(ctx->settings, &err);
	if (ctx->store == NULL) {
		cli_errorf("%s", err);
		cli_cert_close(ctx);
		return -1;
	}
	if (want_keys && open_keys(ctx) < 0) {
		cli_cert_close(ctx);
		return -1;
	}
	return 0;
}

void cli_cert_close(struct cli_cert_ctx *ctx)
{
	ca_close(&ctx->ca);
	keystore_close(&ctx->keystore);
	store_close(&ctx->store);
	settings_free(&ctx->settings);
}

/* ---- addresses ---- */

static bool addr_char_ok(char c, bool domain)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')
		return true;
	return !domain && c != '\0' && strchr("!#$%&'*+/=?^_`{|}~", c) != NULL;
}

/* A plain ASCII addr-spec, lower-cased into dst. Quoted local parts and anything that could
 * change meaning inside a certificate name are refused. */
int cli_take_address(const char *arg, char *dst, size_t dstsize)
{
	if (sg_strlcpy(dst, arg, dstsize) >= dstsize) {
		cli_errorf("address too long");
		return -1;
	}
	sg_ascii_lower(dst);
	const char *at = strchr(dst, '@');
	bool ok = at != NULL && at != dst && at[1] != '\0' && strchr(at + 1, '@') == NULL &&
	          at[1] != '.' && dst[strlen(dst) - 1] != '.';
	for (const char *p = dst; ok && *p != '\0'; p++)
		ok = p == at || addr_char_ok(*p, p > at);
	if (!ok)
		cli_errorf("'%.100s' is not a plain e-mail address (local@domain, ASCII)", arg);
	return ok ? 0 : -1;
}

static bool is_internal(const struct cli_cert_ctx *ctx, const char *address)
{
	struct sg_strlist domains;
	sg_strlist_split(&domains, settings_get(ctx->settings, "gateway.internal_domains"));
	bool internal = sg_strlist_contains_nocase(&domains, strchr(address, '@') + 1);
	sg_strlist_free(&domains);
	return internal;
}

/* ---- issue / proxy ---- */

static struct enrol_ctx enrol_ctx_of(const struct cli_cert_ctx *ctx)
{
	return (struct enrol_ctx){.settings = ctx->settings, .store = ctx->store,
	                          .keystore = ctx->keystore, .ca = ctx->ca};
}

/* Stores cert (and key sealed to its fingerprint) for address; fills info_r. */
static int store_with_key(struct cli_cert_ctx *ctx, const char *address,
                          enum store_user_kind kind, enum store_cert_source source,
                          unsigned char *der, size_t der_len, const struct keystore_key *key,
                          struct smime_certinfo *info_r)
{
	const char *err;
	struct store_cert c;
	struct enrol_ctx ec = enrol_ctx_of(ctx);
	if (smime_cert_parse(der, der_len, info_r, &err) < 0 ||
	    enrol_store(&ec, address, kind, source, der, der_len, key, &c, &err) < 0) {
		cli_errorf("%s: %s", address, err);
		return -1;
	}
	store_cert_clear(&c);
	return 0;
}

static int issue_for(struct cli_cert_ctx *ctx, const char *address, enum store_user_kind kind,
                     enum store_cert_source source)
{
	const char *err;
	struct store_cert c;
	struct enrol_ctx ec = enrol_ctx_of(ctx);
	if (enrol_issue(&ec, address, kind, source, &c, &err) < 0) {
		cli_errorf("%s: %s", address, err);
		return -1;
	}
	char until[32];
	struct tm tm;
	strftime(until, sizeof(until), "%Y-%m-%d", gmtime_r(&c.not_after, &tm));
	printf("%s certificate for %s: serial %s, valid until %s\n", store_cert_source_name(source),
	       address, c.serial, until);
	cli_audit(ctx->store, "cert-issued", address, "%s serial %s until %s",
	          store_cert_source_name(source), c.serial, until);
	store_cert_clear(&c);
	return 0;
}

static int cmd_issue(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	char address[SG_ADDR_MAX];
	if (argc != 1)
		return cert_usage();
	if (cli_take_address(argv[0], address, sizeof(address)) < 0)
		return 1;
	if (!is_internal(ctx, address)) {
		cli_errorf("%s is not in gateway.internal_domains: `cert issue` is for internal users. "
		           "For a partner, import their certificate (`sealgate cert import`) or make a "
		           "proxy certificate (`sealgate cert proxy`).", address);
		return 1;
	}
	return issue_for(ctx, address, STORE_USER_INTERNAL, STORE_CERT_ISSUED) < 0 ? 1 : 0;
}

static int cmd_proxy(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	char address[SG_ADDR_MAX];
	if (argc != 1)
		return cert_usage();
	if (cli_take_address(argv[0], address, sizeof(address)) < 0)
		return 1;
	if (is_internal(ctx, address)) {
		cli_errorf("%s is an internal address: proxy certificates are for external partners; "
		           "use `sealgate cert issue` for internal users.", address);
		return 1;
	}
	return issue_for(ctx, address, STORE_USER_EXTERNAL, STORE_CERT_PROXY) < 0 ? 1 : 0;
}

/* ---- revoke ---- */

static bool is_hex_serial(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strchr("0123456789abcdefABCDEF", s[i]) == NULL)
			return false;
	return true;
}

static int cmd_revoke(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	if (argc != 1)
		return cert_usage();
	char address[SG_ADDR_MAX];
	size_t count = 0;
	const char *err;
	bool by_address = strchr(argv[0], '@') != NULL;
	if (by_address ? cli_take_address(argv[0], address, sizeof(address)) < 0
	               : !is_hex_serial(argv[0])) {
		if (!by_address)
			cli_errorf("'%.80s' is neither an e-mail address nor a hex serial number "
			           "(see `sealgate cert list`)", argv[0]);
		return 1;
	}
	int rc = by_address ? store_cert_revoke_address(ctx->store, address, time(NULL), &count, &err)
	                    : store_cert_revoke_serial(ctx->store, argv[0], time(NULL), &count, &err);
	if (rc < 0) {
		cli_errorf("%s", err);
		return 1;
	}
	if (count == 0) {
		cli_errorf("no unrevoked certificate matches %.100s (see `sealgate cert list`)", argv[0]);
		return 1;
	}
	printf("revoked %zu certificate%s of %s\n", count, count == 1 ? "" : "s", argv[0]);
	cli_audit(ctx->store, "cert-revoked", by_address ? address : "", "%zu certificate(s) of %s",
	          count, argv[0]);
	return cli_ca_write_crl(ctx, false) < 0 ? 1 : 0;
}

/* ---- list ---- */

static const char *status_of(struct cli_cert_ctx *ctx, const struct store_cert *c, time_t now)
{
	time_t replaced = 0;
	const char *err;
	if (c->revoked_at != 0)
		return "revoked";
	if (c->not_after <= now)
		return "expired";
	if (store_enrol_replaced_at(ctx->store, c->id, &replaced, &err) == 0 && replaced != 0)
		return "replaced"; /* by a later enrolment: decrypts, no longer published */
	return c->not_before > now ? "not-yet-valid" : "valid";
}

static int cmd_list(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	char address[SG_ADDR_MAX];
	if (argc > 1 || (argc == 1 && cli_take_address(argv[0], address, sizeof(address)) < 0))
		return argc > 1 ? cert_usage() : 1;
	struct store_cert *certs = NULL;
	size_t n = 0;
	const char *err;
	if (store_cert_list(ctx->store, argc == 1 ? address : NULL, &certs, &n, &err) < 0) {
		cli_errorf("%s", err);
		return 1;
	}
	time_t now = time(NULL);
	printf("%-40s %-9s %-13s %-10s %-3s %s\n", "ADDRESS", "SOURCE", "STATUS", "EXPIRES", "KEY",
	       "SERIAL");
	for (size_t i = 0; i < n; i++) {
		char until[16], addr[SG_ADDR_MAX];
		struct tm tm;
		strftime(until, sizeof(until), "%Y-%m-%d", gmtime_r(&certs[i].not_after, &tm));
		sg_printable(addr, sizeof(addr), certs[i].address, SG_ADDR_MAX);
		printf("%-40s %-9s %-13s %-10s %-3s %s\n", addr, store_cert_source_name(certs[i].source),
		       status_of(ctx, &certs[i], now), until, certs[i].has_key ? "yes" : "no",
		       certs[i].serial);
	}
	store_cert_list_free(&certs, n);
	return 0;
}

/* ---- export ---- */

/* The newest unrevoked certificate of address (with a key if need_key); 1 found, 0 not. */
static int pick_cert(struct cli_cert_ctx *ctx, const char *address, bool need_key,
                     struct store_cert *cert_r)
{
	struct store_cert *certs = NULL;
	size_t n = 0;
	const char *err;
	if (store_cert_list(ctx->store, address, &certs, &n, &err) < 0) {
		cli_errorf("%s", err);
		return -1;
	}
	int found = 0;
	for (size_t i = 0; i < n && !found; i++) {
		if (certs[i].revoked_at == 0 && (!need_key || certs[i].has_key)) {
			*cert_r = certs[i];
			memset(&certs[i], 0, sizeof(certs[i]));
			found = 1;
		}
	}
	store_cert_list_free(&certs, n);
	if (!found)
		cli_errorf("%s has no unrevoked certificate%s; `sealgate cert list %s` shows what "
		           "there is, `sealgate cert issue` makes one", address,
		           need_key ? " with a gateway-held key" : "", address);
	return found;
}

static int cert_unseal(struct cli_cert_ctx *ctx, const struct store_cert *cert,
                    struct keystore_key **key_r)
{
	unsigned char *sealed = NULL;
	size_t len = 0;
	const char *err = "no private key is stored with this certificate";
	char owner[80];
	snprintf(owner, sizeof(owner), "cert:%s", cert->fingerprint);
	int rc = store_key_get(ctx->store, cert->id, &sealed, &len, &err);
	if (rc == 1)
		rc = keystore_unseal(ctx->keystore, sealed, len, owner, key_r, &err) == 0 ? 1 : -1;
	sg_free(&sealed);
	if (rc != 1)
		cli_errorf("%s: %s", cert->address, err);
	return rc == 1 ? 0 : -1;
}

static int write_new_file(const char *path, const unsigned char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		cli_errorf("%s: %s%s", path, strerror(errno),
		           errno == EEXIST ? " (refusing to overwrite; choose another name)" : "");
		return -1;
	}
	int rc = sg_write_all(fd, data, len) == 0 && sg_fsync(fd) == 0 ? 0 : -1;
	if (close(fd) < 0 || rc < 0) {
		cli_errorf("%s: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

static int export_pfx(struct cli_cert_ctx *ctx, const struct store_cert *cert, const char *path,
                      bool legacy)
{
	struct keystore_key *key = NULL;
	unsigned char *p12 = NULL;
	size_t p12_len = 0, ca_len = 0;
	char pin[32];
	const char *err;
	int rc = -1;
	if (cert_unseal(ctx, cert, &key) < 0)
		return -1;
	ca_pkcs12_pin(pin, sizeof(pin));
	const unsigned char *ca_der = ca_cert_der(ctx->ca, &ca_len);
	if (ca_pkcs12_export(cert->der, cert->der_len, key, ca_der, ca_len, cert->address, legacy,
	                     pin, &p12, &p12_len, &err) < 0)
		cli_errorf("%s: %s", cert->address, err);
	else if (write_new_file(path, p12, p12_len) == 0)
		rc = 0;
	if (rc == 0)
		printf("wrote %s (%s protection) for %s\nPIN: %s\n(the PIN is shown only this once; "
		       "give it to the user by another channel than the file)\n", path,
		       legacy ? "legacy PBE-SHA1-3DES/SHA-1" : "PBES2 AES-256/HMAC-SHA256",
		       cert->address, pin);
	if (rc == 0)
		cli_audit(ctx->store, "cert-exported", cert->address, "with key (.pfx%s) to %.150s",
		          legacy ? ", legacy" : "", path);
	sg_wipe(pin, sizeof(pin));
	sg_free(&p12);
	keystore_key_free(&key);
	return rc;
}

static int cmd_export(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	const char *pfx = NULL, *arg = NULL;
	bool legacy = false;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--pfx") == 0 && i + 1 < argc)
			pfx = argv[++i];
		else if (strcmp(argv[i], "--legacy") == 0)
			legacy = true;
		else if (arg == NULL && argv[i][0] != '-')
			arg = argv[i];
		else
			return cert_usage();
	}
	char address[SG_ADDR_MAX];
	if (arg == NULL || (legacy && pfx == NULL))
		return cert_usage();
	if (cli_take_address(arg, address, sizeof(address)) < 0)
		return 1;
	if (pfx != NULL && open_keys(ctx) < 0)
		return 1;
	struct store_cert cert;
	if (pick_cert(ctx, address, pfx != NULL, &cert) != 1)
		return 1;
	int rc = 0;
	if (pfx != NULL) {
		rc = export_pfx(ctx, &cert, pfx, legacy) < 0 ? 1 : 0;
	} else {
		char *pem = NULL;
		size_t len = 0;
		const char *err;
		if (smime_cert_to_pem(cert.der, cert.der_len, &pem, &len, &err) < 0) {
			cli_errorf("%s: %s", address, err);
			rc = 1;
		} else if (fwrite(pem, 1, len, stdout) != len) {
			rc = 1;
		}
		sg_free(&pem);
	}
	store_cert_clear(&cert);
	return rc;
}

/* ---- import ---- */

static int import_p12(struct cli_cert_ctx *ctx, const char *address, const unsigned char *data,
                      size_t len)
{
	char password[1024];
	unsigned char *der = NULL;
	size_t der_len = 0;
	struct keystore_key *key = NULL;
	struct smime_certinfo info;
	const char *err;
	int rc = -1;
	if (!is_internal(ctx, address)) {
		cli_errorf("%s is not internal: a .p12 (with its key) is imported only for internal "
		           "users; import a partner's certificate without --password-stdin", address);
		return -1;
	}
	if (cli_read_secret_line(password, sizeof(password), "--password-stdin") < 0)
		return -1;
	if (ca_pkcs12_import(data, len, password, &der, &der_len, &key, &err) < 0)
		cli_errorf("%s: %s", address, err);
	else if (!smime_cert_has_address(der, der_len, address))
		cli_errorf("the certificate in the .p12 is not for %s; import it for the address it "
		           "names", address);
	else if (store_with_key(ctx, address, STORE_USER_INTERNAL, STORE_CERT_IMPORTED, der, der_len,
	                        key, &info) == 0)
		rc = 0;
	if (rc == 0) {
		printf("imported certificate and key for %s: serial %s, issuer %s\n", address,
		       info.serial, info.issuer);
		cli_audit(ctx->store, "cert-imported", address, "with key, serial %s issuer %s",
		          info.serial, info.issuer);
	}
	sg_wipe(password, sizeof(password));
	keystore_key_free(&key);
	sg_free(&der);
	return rc;
}

static int import_cert(struct cli_cert_ctx *ctx, const char *address, const unsigned char *data,
                       size_t len)
{
	unsigned char *der = NULL;
	size_t der_len = 0;
	struct smime_certinfo info;
	const char *err, *why;
	int rc = -1;
	if (smime_cert_to_der(data, len, &der, &der_len, &err) < 0)
		cli_errorf("%s (a .p12 needs --password-stdin)", err);
	else if (!smime_cert_has_address(der, der_len, address))
		cli_errorf("the certificate is not for %s (it names no such e-mail address)", address);
	else if (store_with_key(ctx, address, is_internal(ctx, address) ? STORE_USER_INTERNAL
	                                                                : STORE_USER_EXTERNAL,
	                        STORE_CERT_IMPORTED, der, der_len, NULL, &info) == 0)
		rc = 0;
	if (rc == 0) {
		printf("imported certificate for %s: serial %s, issuer %s\n", address, info.serial,
		       info.issuer);
		cli_audit(ctx->store, "cert-imported", address, "serial %s issuer %s", info.serial,
		          info.issuer);
		if (smime_cert_usable(der, der_len, SMIME_USAGE_ENCRYPT, time(NULL), 0, &why) < 0)
			printf("warning: it cannot be used to encrypt: %s\n", why);
	}
	sg_free(&der);
	return rc;
}

static int cmd_import(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	bool pw_stdin = false;
	const char *args[2] = {NULL, NULL};
	int nargs = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--password-stdin") == 0)
			pw_stdin = true;
		else if (nargs < 2 && argv[i][0] != '-')
			args[nargs++] = argv[i];
		else
			return cert_usage();
	}
	char address[SG_ADDR_MAX];
	if (nargs != 2)
		return cert_usage();
	if (cli_take_address(args[0], address, sizeof(address)) < 0 || (pw_stdin && open_keys(ctx) < 0))
		return 1;
	char *data = NULL;
	size_t len = 0;
	const char *err;
	if (sg_file_read_all(args[1], SG_PKCS12_MAX, &data, &len, &err) < 0) {
		cli_errorf("%s: %s: %s", args[1], err, strerror(errno));
		return 1;
	}
	int rc = pw_stdin ? import_p12(ctx, address, (unsigned char *)data, len)
	                  : import_cert(ctx, address, (unsigned char *)data, len);
	sg_free(&data);
	return rc < 0 ? 1 : 0;
}

/* ---- tool: the S/MIME primitives on stdin/stdout, a test aid (docs/smime.md) ---- */

static int read_stdin(const struct cli_cert_ctx *ctx, char **data_r, size_t *len_r)
{
	size_t max = (size_t)settings_number(ctx->settings, "smtp.max_message_size");
	struct sg_buf b;
	char chunk[65536];
	size_t n;
	sg_buf_init(&b, max);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
		if (sg_buf_append(&b, chunk, n) < 0) {
			cli_errorf("input larger than smtp.max_message_size");
			sg_buf_free(&b);
			return -1;
		}
	}
	if (b.data == NULL)
		sg_buf_append(&b, "", 0);
	*data_r = sg_buf_steal(&b, len_r);
	return 0;
}

static int put_out(char *out, size_t len)
{
	int rc = fwrite(out, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 1;
	sg_free(&out);
	return rc;
}

/* The newest certificate of address usable for usage (with a key if need_key). */
static int usable_cert(struct cli_cert_ctx *ctx, const char *arg, enum smime_usage usage,
                       bool need_key, struct store_cert *cert_r)
{
	char address[SG_ADDR_MAX];
	struct store_cert *certs = NULL;
	size_t n = 0;
	const char *err, *why = "no certificate";
	if (cli_take_address(arg, address, sizeof(address)) < 0)
		return -1;
	if (store_cert_list(ctx->store, address, &certs, &n, &err) < 0) {
		cli_errorf("%s", err);
		return -1;
	}
	int found = 0;
	for (size_t i = 0; i < n && !found; i++) {
		if ((!need_key || certs[i].has_key) &&
		    smime_cert_usable(certs[i].der, certs[i].der_len, usage, time(NULL),
		                      certs[i].revoked_at, &why) == 0) {
			*cert_r = certs[i];
			memset(&certs[i], 0, sizeof(certs[i]));
			found = 1;
		}
	}
	store_cert_list_free(&certs, n);
	if (!found)
		cli_errorf("%s: no usable certificate (%s)", address, why);
	return found ? 0 : -1;
}

static int tool_encrypt(struct cli_cert_ctx *ctx, int argc, char **argv, const char *in, size_t len)
{
	unsigned flags = argc > 0 && strcmp(argv[0], "--gcm") == 0 ? SMIME_ENCRYPT_GCM : 0;
	int first = flags != 0 ? 1 : 0;
	if (argc - first < 1 || argc - first > 100)
		return cert_usage();
	struct store_cert certs[100];
	struct smime_recipient rcpts[100];
	size_t n = 0;
	int rc = 1;
	for (int i = first; i < argc; i++, n++) {
		if (usable_cert(ctx, argv[i], SMIME_USAGE_ENCRYPT, false, &certs[n]) < 0)
			goto out;
		rcpts[n] = (struct smime_recipient){{certs[n].der, certs[n].der_len},
		                                    {certs[n].caps, certs[n].caps_len}};
	}
	char *out = NULL;
	size_t out_len = 0;
	const char *err;
	if (smime_encrypt_to(rcpts, n, in, len, flags, &out, &out_len, &err) < 0)
		cli_errorf("encrypt: %s", err);
	else
		rc = put_out(out, out_len);
out:
	for (size_t i = 0; i < n; i++)
		store_cert_clear(&certs[i]);
	return rc;
}

static int tool_sign(struct cli_cert_ctx *ctx, int argc, char **argv, const char *in, size_t len)
{
	struct store_cert cert;
	struct keystore_key *key = NULL;
	if (argc != 1)
		return cert_usage();
	if (usable_cert(ctx, argv[0], SMIME_USAGE_SIGN, true, &cert) < 0)
		return 1;
	int rc = 1;
	size_t ca_len = 0;
	struct smime_der signer = {cert.der, cert.der_len};
	struct smime_der chain = {ca_cert_der(ctx->ca, &ca_len), 0};
	chain.len = ca_len;
	char *out = NULL;
	size_t out_len = 0;
	const char *err;
	if (cert_unseal(ctx, &cert, &key) == 0) {
		if (smime_sign(&signer, key, &chain, 1, in, len, &out, &out_len, &err) < 0)
			cli_errorf("sign: %s", err);
		else
			rc = put_out(out, out_len);
	}
	keystore_key_free(&key);
	store_cert_clear(&cert);
	return rc;
}

/* Finds the gateway-held certificate the message was encrypted to, by issuer and serial. */
static int find_recipient(struct cli_cert_ctx *ctx, const char *in, size_t len,
                          struct store_cert *cert_r)
{
	struct smime_rid *rids = NULL;
	size_t n = 0;
	const char *err;
	if (smime_recipients(in, len, &rids, &n, &err) < 0) {
		cli_errorf("decrypt: %s", err);
		return -1;
	}
	int found = 0;
	for (size_t i = 0; i < n && found == 0; i++) {
		found = store_cert_find_rid(ctx->store, rids[i].issuer, rids[i].serial, cert_r, &err);
		if (found == 1 && !cert_r->has_key) {
			store_cert_clear(cert_r);
			found = 0;
		}
	}
	sg_free(&rids);
	if (found != 1)
		cli_errorf("decrypt: the message is not encrypted to any gateway-held key");
	return found == 1 ? 0 : -1;
}

static int tool_decrypt(struct cli_cert_ctx *ctx, int argc, char **argv, const char *in,
                        size_t len)
{
	(void)argv;
	struct store_cert cert;
	struct keystore_key *key = NULL;
	if (argc != 0)
		return cert_usage();
	if (find_recipient(ctx, in, len, &cert) < 0)
		return 1;
	int rc = 1;
	char *out = NULL;
	size_t out_len = 0;
	const char *err;
	struct smime_der der = {cert.der, cert.der_len};
	if (cert_unseal(ctx, &cert, &key) == 0) {
		if (smime_decrypt(&der, key, in, len, &out, &out_len, &err) < 0)
			cli_errorf("decrypt: %s", err);
		else
			rc = put_out(out, out_len);
	}
	keystore_key_free(&key);
	store_cert_clear(&cert);
	return rc;
}

static int tool_verify(struct cli_cert_ctx *ctx, int argc, char **argv, const char *in,
                       size_t len)
{
	size_t ca_len = 0;
	const char *err = NULL;
	struct smime_trust *t = smime_trust_new(true);
	const unsigned char *ca = ca_cert_der(ctx->ca, &ca_len);
	char anchors[SG_PATH_MAX];
	int rc = argc % 2 == 0 ? smime_trust_add_der(t, ca, ca_len, &err) : (err = "usage", -1);
	if (rc == 0 && settings_path(ctx->settings, "ca.trust_anchors", anchors, sizeof(anchors)) < 0)
		rc = -1, err = "ca.trust_anchors: path too long";
	if (rc == 0 && smime_trust_add_anchor_file(t, anchors, &err) < 0)
		rc = -1;
	for (int i = 0; rc == 0 && i + 1 < argc; i += 2)
		rc = strcmp(argv[i], "--anchor") == 0 ? smime_trust_add_pem_file(t, argv[i + 1], &err)
		                                      : (err = "unknown option", -1);
	struct smime_verify_result r;
	if (rc == 0 && smime_verify(t, in, len, &r, &err) == 0) {
		char signer[SG_ADDR_MAX];
		sg_printable(signer, sizeof(signer), r.signer, SG_ADDR_MAX);
		printf("verdict=%s signer=%s reason=%s\n", smime_verdict_name(r.verdict), signer,
		       r.reason);
		smime_verify_result_free(&r);
	} else {
		cli_errorf("verify: %s", err);
		rc = -1;
	}
	smime_trust_free(&t);
	return rc < 0 ? 1 : 0;
}

static const struct {
	const char *name;
	int (*run)(struct cli_cert_ctx *ctx, int argc, char **argv, const char *in, size_t len);
} tools[] = {
	{"encrypt", tool_encrypt}, {"sign", tool_sign},
	{"decrypt", tool_decrypt}, {"verify", tool_verify},
};

static int cert_tool(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	for (size_t i = 0; argc > 0 && i < sizeof(tools) / sizeof(tools[0]); i++) {
		if (strcmp(argv[0], tools[i].name) != 0)
			continue;
		char *in = NULL;
		size_t len = 0;
		if (read_stdin(ctx, &in, &len) < 0)
			return 1;
		int rc = tools[i].run(ctx, argc - 1, argv + 1, in, len);
		sg_free(&in);
		return rc;
	}
	cli_errorf("usage: sealgate cert tool encrypt|sign|decrypt|verify -c FILE ... < in > out "
	           "(a test aid, see docs/smime.md)");
	return 2;
}

/* ---- dispatch ---- */

static const struct cli_subcommand subcommands[] = {
	{"issue", cmd_issue, true},   {"proxy", cmd_proxy, true},
	{"revoke", cmd_revoke, true}, {"list", cmd_list, false},
	{"export", cmd_export, false}, {"import", cmd_import, false},
	{"tool", cert_tool, true}, /* hidden test aid: docs/smime.md */
};

int cli_cert_cmd(int argc, char **argv)
{
	return cli_dispatch(subcommands, sizeof(subcommands) / sizeof(subcommands[0]), argc,
	                    argv, cert_usage);
}
