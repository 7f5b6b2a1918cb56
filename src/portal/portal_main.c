/* portal_main.c: the portal role. Opens the store and the master key (registration derives
 * the SecurePDF record), loads the instance certificate for HTTPS unless portal.tls = off,
 * then serves until told to stop. */
#include "core/settings.h"
#include "core/sg_file.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_net.h"
#include "core/sg_str.h"
#include "crypto/ca.h"
#include "crypto/keystore.h"
#include "role/role.h"
#include "directory/directory.h"
#include "portal/portal.h"
#include "portal/portal_priv.h"
#include "queue/spool.h"
#include "store/store.h"

#include <malloc.h>
#include <sodium.h>
#include <string.h>

#define PEM_FILE_MAX (64 * 1024)
#define SESSION_IDLE_S (30 * 60)
#define SESSION_MAX_S (12 * 60 * 60)
#define THROTTLE_FORGET_S (24L * 60 * 60)

/* Whether browsers reach the portal by HTTPS (portal.public_https; auto: portal.tls, or an
 * https:// portal.base_url, which is what a TLS-terminating proxy serves). */
static bool public_https(const struct settings *set, bool tls)
{
	const char *v = settings_get(set, "portal.public_https");
	if (strcmp(v, "auto") != 0)
		return strcmp(v, "yes") == 0;
	return tls || strncmp(settings_get(set, "portal.base_url"), "https://", 8) == 0;
}

/* The throttle and the client address (portal_throttle.c, portal_client.c). */
static void throttle_open(struct portal_ctx *ctx, const struct settings *set)
{
	const char *err;
	ctx->throttle = (struct store_throttle_policy){
		.free_attempts = settings_number(set, "portal.throttle_free_attempts"),
		.delay_s = settings_number(set, "portal.throttle_delay"),
		.max_delay_s = settings_number(set, "portal.throttle_max_delay"),
		.forget_s = THROTTLE_FORGET_S};
	ctx->proxies = sg_cidr_list_parse(settings_get(set, "portal.trusted_proxies"),
	                                  &ctx->nproxies, &err);
	if (ctx->proxies == NULL)
		sg_fatal("portal.trusted_proxies: %s", err);
}

static char *pem_load(const struct settings *set, const char *key)
{
	char path[SG_PATH_MAX];
	char *data = NULL;
	size_t len;
	const char *err;
	if (settings_path(set, key, path, sizeof(path)) < 0 ||
	    sg_file_read_all(path, PEM_FILE_MAX, &data, &len, &err) < 0)
		sg_fatal("%s: cannot read it (HTTPS needs it; portal.tls = off only behind a proxy)",
		         key);
	return data;
}

/* The CA issues employees' certificates on the enrolment pages; without it those pages say
 * the service is unavailable and everything else works. */
static void ctx_open_ca(struct portal_ctx *ctx, const struct settings *set)
{
	char path[SG_PATH_MAX];
	const char *err = "path too long";
	if (settings_path(set, "gateway.ca_dir", path, sizeof(path)) < 0 ||
	    ca_open(path, ctx->ks, &ctx->ca, &err) < 0 ||
	    ca_set_crl_url(ctx->ca, settings_get(set, "ca.crl_url"), &err) < 0) {
		sg_error("gateway.ca_dir: %s; employees cannot enrol on the portal", err);
		ca_close(&ctx->ca);
	}
}

/* Employee logins: a directory whose settings are broken leaves the portal serving partners;
 * employees then see "the directory cannot be reached" and the log says why. */
static void directory_open(struct portal_ctx *ctx, const struct settings *set)
{
	const char *err;
	ctx->dir_enabled = dir_conf_enabled(set);
	if (ctx->dir_enabled && (ctx->dir = dir_conf_open(set, &err)) == NULL)
		sg_error("directory: %s; employees cannot log in", err);
}

static void ctx_open(struct portal_ctx *ctx, const struct settings *set)
{
	char path[SG_PATH_MAX];
	const char *err;
	ctx->set = set;
	ctx->tls = strcmp(settings_get(set, "portal.tls"), "on") == 0;
	ctx->https = public_https(set, ctx->tls);
	throttle_open(ctx, set);
	ctx->org = settings_get(set, "gateway.organization");
	ctx->min_password = (size_t)settings_number(set, "policy.min_password_length");
	ctx->idle_s = SESSION_IDLE_S;
	ctx->max_s = SESSION_MAX_S;
	ctx->per_client = (unsigned int)settings_number(set, "portal.connections_per_client");
	ctx->threads = (unsigned int)settings_number(set, "portal.threads");
	ctx->conns = portal_conns_new(settings_number(set, "portal.header_timeout") * 1000,
	                              settings_number(set, "portal.request_timeout") * 1000);
	ctx->st = store_open_settings(set, &err);
	if (ctx->st == NULL)
		sg_fatal("store: %s", err);
	if (settings_path(set, "gateway.master_key", path, sizeof(path)) < 0 ||
	    keystore_open(path, &ctx->ks, &err) < 0)
		sg_fatal("gateway.master_key: %s", err);
	if (settings_path(set, "gateway.spool_dir", path, sizeof(path)) < 0 ||
	    (ctx->spool = spool_open_existing(path, &err)) == NULL)
		sg_fatal("gateway.spool_dir: %s", err);
	ctx_open_ca(ctx, set);
	if (sg_snprintf(ctx->upload_dir, sizeof(ctx->upload_dir), "%s/tmp", path) < 0)
		sg_fatal("gateway.spool_dir: the path is too long");
	ctx->upload_budget = (size_t)settings_number(set, "portal.max_upload_memory");
	sg_strlist_split(&ctx->internal_domains, settings_get(set, "gateway.internal_domains"));
	directory_open(ctx, set);
	if (portal_auth_stored_key(ctx->st, "portal_anon_csrf_key", ctx->anon_key, &err) < 0 ||
	    portal_auth_stored_key(ctx->st, "portal_cookie_key", ctx->cookie_key, &err) < 0)
		sg_fatal("portal key: %s", err);
}

int portal_main(struct role_ctx *ctx)
{
	if (ctx->n_listen_fds == 0) {
		sg_error("no listening sockets for portal.listen");
		return 1;
	}
	if (sodium_init() < 0)
		sg_fatal("libsodium cannot be initialised");
	/* Message bodies are large and short-lived: allocate them with mmap, so that freeing them
	 * gives the memory back (glibc would otherwise raise the threshold after the first one and
	 * keep each thread's peak in its arena), and portal.max_upload_memory bounds the RSS. */
	if (mallopt(M_MMAP_THRESHOLD, 1024 * 1024) != 1)
		sg_warn("mallopt: the mmap threshold could not be set");
	struct portal_ctx pc = {0};
	ctx_open(&pc, ctx->settings);
	char *cert = pc.tls ? pem_load(ctx->settings, "smtp.tls_cert") : NULL;
	char *key = pc.tls ? pem_load(ctx->settings, "smtp.tls_key") : NULL;
	const char *err;
	sg_info("browsers come by %s; %zu trusted proxy network(s)", pc.https ? "HTTPS" : "HTTP",
	        pc.nproxies);
	struct MHD_Daemon *d = portal_server_start(&pc, ctx->listen_fds, ctx->n_listen_fds, cert, key,
	                                           &err);
	int rc = d != NULL ? 0 : -1;
	if (d == NULL)
		sg_error("%s", err);
	else {
		daemon_ready(ctx, "%zu listener(s), HTTPS %s, %u thread(s)", ctx->n_listen_fds,
		             pc.tls ? "on" : "off", pc.threads);
		portal_server_serve(&pc, d);
	}
	if (key != NULL)
		sg_free_secret(&key, strlen(key));
	sg_free(&cert);
	sodium_memzero(pc.anon_key, sizeof(pc.anon_key));
	sodium_memzero(pc.cookie_key, sizeof(pc.cookie_key));
	sg_free(&pc.proxies);
	dir_conf_close(&pc.dir);
	sg_strlist_free(&pc.internal_domains);
	spool_close(&pc.spool);
	ca_close(&pc.ca);
	keystore_close(&pc.ks);
	store_close(&pc.st);
	portal_conns_free(&pc.conns);
	sg_info("stopped");
	return rc < 0 ? 1 : 0;
}
