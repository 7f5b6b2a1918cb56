/* ldapd_main.c: the ldapd role. Reads its settings, opens the store, loads the instance CA
 * (for the chain in userSMIMECertificate) and the TLS context (StartTLS with the certificate
 * smtpd uses), then runs the server until it is told to stop. */
#include "core/settings.h"
#include "core/sg_file.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "role/role.h"
#include "ldap/ldapd.h"
#include "smtp/smtp.h"
#include "store/store.h"

#include <lber.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>

#define PASSWORD_FILE_MAX 4096

static SSL_CTX *tls_load(const struct settings *set)
{
	char cert[SG_PATH_MAX], key[SG_PATH_MAX];
	const char *err;
	if (settings_path(set, "smtp.tls_cert", cert, sizeof(cert)) < 0 ||
	    settings_path(set, "smtp.tls_key", key, sizeof(key)) < 0) {
		sg_warn("TLS certificate or key path too long: StartTLS not offered");
		return NULL;
	}
	SSL_CTX *ctx = smtp_tls_server_ctx(cert, key, &err);
	if (ctx == NULL)
		sg_warn("%s (%s, %s): StartTLS not offered", err, cert, key);
	return ctx;
}

/* The instance CA as DER, or NULL (then userSMIMECertificate carries no chain). */
static unsigned char *ca_load(const struct settings *set, size_t *len_r)
{
	char dir[SG_PATH_MAX], path[SG_PATH_MAX];
	*len_r = 0;
	if (settings_path(set, "gateway.ca_dir", dir, sizeof(dir)) < 0 ||
	    sg_path_join(path, sizeof(path), dir, "ca.crt") < 0)
		return NULL;
	FILE *f = fopen(path, "r");
	X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f != NULL)
		fclose(f);
	unsigned char *der = NULL;
	int n = x != NULL ? i2d_X509(x, &der) : -1;
	X509_free(x);
	if (n <= 0) {
		sg_warn("cannot read the CA certificate %s: chains are left out", path);
		return NULL;
	}
	unsigned char *copy = sg_memdup(der, (size_t)n);
	OPENSSL_free(der);
	*len_r = (size_t)n;
	return copy;
}

/* ldap.bind_password_file: its first line; NULL when unset (simple binds then fail). */
static char *password_load(const struct settings *set)
{
	if (settings_get(set, "ldap.bind_password_file")[0] == '\0')
		return NULL;
	char path[SG_PATH_MAX];
	char *data = NULL;
	size_t len;
	const char *err;
	if (settings_path(set, "ldap.bind_password_file", path, sizeof(path)) < 0 ||
	    sg_file_read_all(path, PASSWORD_FILE_MAX, &data, &len, &err) < 0)
		sg_fatal("ldap.bind_password_file: cannot read it");
	data[strcspn(data, "\r\n")] = '\0';
	if (data[0] == '\0')
		sg_fatal("ldap.bind_password_file: the first line is empty");
	return data;
}

static void config_fill(struct ldapd_config *cfg, const struct settings *set)
{
	cfg->bind_dn = settings_get(set, "ldap.bind_dn");
	cfg->allow_anonymous = settings_bool(set, "ldap.allow_anonymous");
	cfg->anonymous_full = strcmp(settings_get(set, "ldap.anonymous_search"), "full") == 0;
	cfg->limits.max_results = (size_t)settings_number(set, "ldap.max_results");
	cfg->limits.time_limit_s = (int)settings_number(set, "ldap.time_limit");
	cfg->limits.now_ms = sg_mono_ms;
}

static struct store *store_load(const struct settings *set)
{
	const char *err;
	struct store *st = store_open_settings(set, &err);
	if (st == NULL)
		sg_fatal("store: %s", err);
	return st;
}

/* liblber prints its BER dumps only when its debug level is raised: into our log then. */
static void lber_print(const char *text)
{
	sg_debug("liblber: %.*s", (int)strcspn(text, "\r\n"), text);
}

int ldapd_main(struct role_ctx *ctx)
{
	const struct settings *set = ctx->settings;
	if (ctx->n_listen_fds == 0) {
		sg_error("no listening sockets for ldap.listen");
		return 1;
	}
	ber_set_option(NULL, LBER_OPT_LOG_PRINT_FN, (const void *)lber_print);
	struct ldapd_config cfg = {0};
	config_fill(&cfg, set);
	/* What ldapd's own account may not read (the bind password, the TLS key, the store) is
	 * opened as gateway.user, before the drop (docs/architecture.md, "Accounts"). */
	if (daemon_borrow_gateway_account(ctx, true) < 0)
		return 1;
	char *password = password_load(set);
	cfg.bind_password = password;
	SSL_CTX *tls = tls_load(set);
	cfg.tls_available = tls != NULL;
	size_t ca_len;
	unsigned char *ca = ca_load(set, &ca_len);
	struct ldapd_snapshot_config scfg = {
	    .base_dn = settings_get(set, "ldap.base_dn"),
	    .organization = settings_get(set, "gateway.organization"),
	    .ca_der = ca,
	    .ca_der_len = ca_len,
	    .starttls = tls != NULL,
	    .refresh_s = (int)settings_number(set, "ldap.refresh")};
	const char *err;
	struct ldapd_snapshot *probe = ldapd_snapshot_new(&scfg, &err);
	if (probe == NULL)
		sg_fatal("%s", err);
	ldapd_snapshot_unref(&probe);
	struct store *st = store_load(set);
	if (daemon_borrow_gateway_account(ctx, false) < 0 || daemon_drop_privileges(ctx) < 0)
		return 1;
	struct ldapd_dir *dir = ldapd_dir_new(st, &scfg);
	struct ldapd_snapshot *first = ldapd_dir_acquire(dir); /* read the store once now */
	ldapd_snapshot_unref(&first);
	struct ldapd_server_opts o = {
		.cfg = &cfg, .dir = dir, .tls = tls,
		.max_connections = (unsigned int)settings_number(set, "ldap.max_connections"),
		.idle_timeout_ms = (int)settings_number(set, "ldap.idle_timeout") * 1000,
		.stop = &daemon_stop_requested, .retire = &daemon_retire_requested};
	daemon_ready(ctx, "%zu listener(s), base %s, StartTLS %s, anonymous %s", ctx->n_listen_fds,
	        scfg.base_dn, tls != NULL ? "on" : "off", cfg.allow_anonymous ? "yes" : "no");
	if (ldapd_server_run(ctx->listen_fds, ctx->n_listen_fds, &o, &err) < 0) {
		sg_warn("%s", err); /* threads may still use what we would free: just exit */
		return 0;
	}
	ldapd_dir_free(&dir);
	store_close(&st);
	SSL_CTX_free(tls);
	sg_free(&ca);
	if (password != NULL)
		sg_free_secret(&password, strlen(password));
	sg_info("stopped");
	return 0;
}
