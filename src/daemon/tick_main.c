/* tick_main.c: the tick role: the work that is due by the clock rather than by a message.
 * Held mail: deleted when its invitation expired unused (the sender is told), released when a
 * release at registration failed; SecurePDF Reply links: forgotten after
 * portal.reply_link_days; webmail: deleted after webmail.retention_days; the CA's CRL: made
 * again before it runs out; employees' enrolment links expired and their certificates renewed.
 * It runs at start and then every
 * gateway.tick_interval. */
#include "core/limits.h"
#include "core/settings.h"
#include "core/sg_buf.h"
#include "core/sg_file.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_metrics.h"
#include "core/sg_time.h"
#include "crypto/ca.h"
#include "crypto/keystore.h"
#include "crypto/smime.h"
#include "daemon/daemon.h"
#include "enrol/enrol.h"
#include "directory/directory.h"
#include "queue/held.h"
#include "queue/spool.h"
#include "smtp/smtp.h"
#include "store/store.h"
#include "webmail/webmail.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ca/crl.pem, made again once a day (at most half its validity): a CRL past its nextUpdate
 * makes clients that check revocation distrust every certificate of the CA. `cert revoke`
 * rewrites it at once; this keeps it fresh between revocations. */
static void refresh_crl(const struct held_ctx *hc, struct ca *ca, const char *path, bool now)
{
	long long days = settings_number(hc->settings, "ca.crl_days");
	time_t max_age = days * 86400 / 2 < 86400 ? (time_t)(days * 86400 / 2) : 86400;
	struct stat st;
	if (ca == NULL || (!now && stat(path, &st) == 0 && st.st_mtime > sg_wall() - max_age))
		return;
	struct store_cert *certs = NULL;
	size_t n = 0, len = 0;
	char *pem = NULL;
	const char *err;
	if (store_cert_list_revoked(hc->store, ca_issuer_name(ca), &certs, &n, &err) == 0) {
		struct ca_revoked *revoked = sg_calloc(n + 1, sizeof(*revoked));
		for (size_t i = 0; i < n; i++)
			revoked[i] = (struct ca_revoked){certs[i].serial, certs[i].revoked_at,
		                                  certs[i].revoke_reason};
		if (ca_crl_write(ca, revoked, n, (int)days, path, &pem, &len, &err) == 0)
			sg_info("CRL refreshed (%zu revoked): %s", n, path);
		else
			sg_error("refreshing the CRL %s: %s; will try again", path, err);
		sg_free(&revoked);
		store_cert_list_free(&certs, n);
	} else {
		sg_error("refreshing the CRL: %s; will try again", err);
	}
	sg_free(&pem);
}

/* spool/recipients for smtp.verify_recipients = directory: the internal and shared users of
 * the store, one address a line, so that smtpd can refuse unknown local parts without opening
 * the store. Rewritten (atomically) only when it changed. */
static void export_recipients(const struct held_ctx *hc, const char *path)
{
	struct store_user *users = NULL;
	size_t n = 0;
	const char *err;
	if (store_user_list(hc->store, &users, &n, &err) < 0) {
		sg_error("listing users for %s: %s; will try again", path, err);
		return;
	}
	struct sg_buf b;
	sg_buf_init(&b, (size_t)SG_ADDR_MAX * (n + 1));
	for (size_t i = 0; i < n; i++)
		if (users[i].kind != STORE_USER_EXTERNAL && users[i].address[0] != '@') /* a domain's */
			sg_buf_printf(&b, "%s\n", users[i].address);
	char *old = NULL;
	size_t old_len = 0;
	bool same = sg_file_read_all(path, b.max, &old, &old_len, &err) == 0 && old_len == b.len &&
	            (b.len == 0 || memcmp(old, b.data, b.len) == 0);
	if (!same && sg_file_write_atomic(path, b.len ? b.data : "", b.len, 0664, &err) < 0)
		sg_error("writing %s: %s; will try again", path, err);
	else if (!same)
		sg_info("recipient list written: %s", path);
	sg_free(&old);
	sg_buf_free(&b);
	sg_free(&users);
}

static struct enrol_ctx enrol_ctx_of(const struct held_ctx *hc, const struct ca *ca)
{
	return (struct enrol_ctx){.settings = hc->settings, .store = hc->store,
	                          .keystore = hc->keystore, .ca = ca, .spool = hc->spool};
}

/* Employees' certificates: links past their expiry lose their PIN, certificates near their
 * end get a successor and a renewal notice (enrol.h). */
static void tick_enrol(const struct held_ctx *hc, const struct ca *ca)
{
	if (ca == NULL)
		return;
	struct enrol_ctx ec = enrol_ctx_of(hc, ca);
	size_t n = 0;
	const char *err;
	if (enrol_tick_expire(&ec, sg_wall(), &n, &err) < 0)
		sg_error("expiring enrolment links: %s; will try again", err);
	else if (n > 0)
		sg_info("%zu enrolment link(s) expired: their PINs were wiped", n);
	if (enrol_tick_renew(&ec, sg_wall(), &n, &err) < 0)
		sg_error("renewing certificates: %s; will try again", err);
	else if (n > 0)
		sg_info("%zu certificate(s) renewed: the employees were told", n);
}

/* The certificate expiry horizon for the metrics: the earliest notAfter of the CA and of the
 * unrevoked certificates whose keys the gateway holds (users and proxies). */
static void export_cert_horizon(const struct held_ctx *hc, const struct ca *ca)
{
	size_t len = 0, n = 0;
	const unsigned char *der = ca != NULL ? ca_cert_der(ca, &len) : NULL;
	struct smime_certinfo info;
	const char *err;
	const char *ca_label[1] = {"ca"}, *user_label[1] = {"user"};
	if (der != NULL && smime_cert_parse(der, len, &info, &err) == 0)
		sg_metrics_set(SG_MET_CERT_EXPIRY, ca_label, (int64_t)info.not_after);
	struct store_cert *certs = NULL;
	if (store_cert_list(hc->store, NULL, &certs, &n, &err) < 0) {
		sg_warn("certificate expiry for the metrics: %s", err);
		return;
	}
	time_t earliest = 0;
	for (size_t i = 0; i < n; i++)
		if (certs[i].has_key && certs[i].revoked_at == 0 &&
		    (earliest == 0 || certs[i].not_after < earliest))
			earliest = certs[i].not_after;
	sg_metrics_set(SG_MET_CERT_EXPIRY, user_label, (int64_t)earliest);
	store_cert_list_free(&certs, n);
}

static void tick_once(const struct held_ctx *hc)
{
	size_t n = 0;
	const char *err;
	if (held_mail_expire(hc, sg_wall(), &n, &err) < 0)
		sg_error("expiring held mail: %s; will try again", err);
	else if (n > 0)
		sg_info("%zu held message(s) deleted: their invitations expired", n);
	if (held_mail_release_registered(hc, &n, &err) < 0)
		sg_error("releasing held mail of registered partners: %s; will try again", err);
	else if (n > 0)
		sg_info("%zu held message(s) of registered partners released", n);
	long long days = settings_number(hc->settings, "portal.reply_link_days");
	if (store_reply_token_expire(hc->store, sg_wall() - (time_t)(days * 86400), &n, &err) < 0)
		sg_error("forgetting expired Reply links: %s; will try again", err);
	else if (n > 0)
		sg_info("%zu SecurePDF Reply link(s) expired and forgotten", n);
	int keep = (int)settings_number(hc->settings, "webmail.retention_days");
	if (webmail_retention_run(hc->store, keep, sg_wall(), &n, &err) < 0)
		sg_error("webmail retention: %s; will try again", err);
	else if (n > 0)
		sg_info("%zu webmail message(s) older than %d days deleted", n, keep);
	static time_t last_sweep; /* the tick is one thread */
	if (sg_wall() - last_sweep >= 3600) {
		last_sweep = sg_wall();
		if (webmail_sweep(hc->store, last_sweep, &n, &err) < 0)
			sg_error("webmail: sweeping files of sealed parts: %s; will try again", err);
	}
}

/* An employee's address changed in the directory: the new one is enrolled (needs the CA). */
static int enrol_moved_employee(void *cls, const char *old_address, const char *new_address,
                                const char *lang, bool dry_run, const char **error_r)
{
	const struct enrol_ctx *ec = cls;
	struct enrol_started r;
	(void)dry_run; /* the tick never runs dry */
	if (ec->ca == NULL) {
		*error_r = "the CA is not open (gateway.ca_dir)";
		return -1;
	}
	return enrol_moved(ec, old_address, new_address, lang, "tick", sg_wall(), &r, error_r);
}

/* Employees who left the directory (or were disabled) lose their certificates, and those
 * whose address changed are enrolled for the new one, every directory.sync_interval; true
 * when certificates were revoked (the CRL is due at once). A directory that cannot be reached
 * changes nothing: the next tick tries again. */
static bool sync_directory(const struct held_ctx *hc, const struct ca *ca, time_t *next_r)
{
	long long every = settings_number(hc->settings, "directory.sync_interval");
	time_t now = sg_wall();
	if (!dir_conf_enabled(hc->settings) || every == 0 || now < *next_r)
		return false;
	const char *err;
	struct dir_sync_result r = {0};
	struct enrol_ctx ec = enrol_ctx_of(hc, ca);
	struct dir_sync_hooks hooks = {.moved = enrol_moved_employee, .cls = &ec};
	struct directory *d = dir_conf_open(hc->settings, &err);
	enum dir_status st = d != NULL ? dir_sync_run(d, hc->store, now, false, &hooks, &r, &err)
	                               : DIR_ERROR;
	dir_conf_close(&d);
	if (st != DIR_OK) {
		sg_error("directory sync not done (%s): %s; nothing revoked, will try again",
		         dir_status_name(st), err);
		*next_r = now + (every < 300 ? (time_t)every : 300);
		return false;
	}
	sg_info("directory sync: %zu employee(s), %zu disabled; %zu user(s) left, %zu "
	        "certificate(s) revoked; %zu enrolled for a new address", r.employees, r.disabled,
	        r.revoked_users, r.revoked_certs, r.enrolled);
	*next_r = now + (time_t)every;
	return r.revoked_certs > 0;
}

/* The jobs on the shared store (held mail, Reply links, webmail, enrolments, the directory
 * sync) run on one node at a time: the one holding the store's "tick" lease, renewed every
 * round and given up at a clean stop; a node that died leaves it to lapse after ttl. Each
 * node still keeps its own files (CRL, recipient list) and metrics. */
#define TICK_LEASE "tick"

struct tick_lead {
	char holder[160]; /* host:pid:random, unique per process */
	bool known, leading;
};

static void tick_lead_init(struct tick_lead *tl)
{
	char host[64] = "node";
	unsigned char rnd[6];
	char hex[sizeof(rnd) * 2 + 1];
	(void)gethostname(host, sizeof(host) - 1);
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(tl->holder, sizeof(tl->holder), "%.63s:%ld:%s", host, (long)getpid(), hex);
}

static bool tick_lead(const struct held_ctx *hc, struct tick_lead *tl, long interval)
{
	bool leading = false;
	char other[160] = "";
	const char *err;
	time_t ttl = (time_t)interval * 2 + 60;
	if (store_leader_try(hc->store, TICK_LEASE, tl->holder, sg_wall(), ttl, &leading, &err) < 0)
		sg_error("the tick lease: %s; the shared jobs wait for the next round", err);
	if (tl->known && leading == tl->leading)
		return leading;
	if (leading)
		sg_info("this node (%s) runs the shared jobs of the store", tl->holder);
	else if (store_leader_holder(hc->store, TICK_LEASE, sg_wall(), other, sizeof(other),
	                             &err) >= 0)
		sg_info(
		    "another node (%s) runs the shared jobs of the store; this one keeps its own "
		    "files",
		    other[0] != '\0' ? other : "unknown");
	tl->known = true;
	tl->leading = leading;
	return leading;
}

static void tick_lead_release(const struct held_ctx *hc, const struct tick_lead *tl)
{
	const char *err;
	if (tl->leading && store_leader_release(hc->store, TICK_LEASE, tl->holder, &err) < 0)
		sg_warn("giving up the tick lease: %s; another node takes over when it lapses",
		        err);
}

/* True when a revocation was committed since the last call, here or on another node: every
 * node's CRL file follows at its next round. */
static bool revocations_changed(const struct held_ctx *hc, int64_t *seen)
{
	int64_t now = 0;
	const char *err;
	if (store_counter_get(hc->store, STORE_COUNTER_REVOCATIONS, &now, &err) < 0) {
		sg_warn("revocations counter: %s", err);
		return false;
	}
	bool changed = now != *seen;
	*seen = now;
	return changed;
}

/* Sleeps up to secs, waking early when told to stop. */
static void nap(long secs)
{
	for (long i = 0; i < secs * 10 && !daemon_stop_requested; i++) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int tick_main(struct role_ctx *ctx)
{
	const struct settings *set = ctx->settings;
	char path[SG_PATH_MAX];
	const char *err;
	if (sodium_init() < 0)
		sg_fatal("libsodium cannot be initialised");
	struct held_ctx hc = {.settings = set, .actor = "tick"};
	hc.store = store_open_settings(set, &err);
	if (hc.store == NULL)
		sg_fatal("store: %s", err);
	if (settings_path(set, "gateway.master_key", path, sizeof(path)) < 0 ||
	    keystore_open(path, &hc.keystore, &err) < 0)
		sg_fatal("gateway.master_key: %s", err);
	if (settings_path(set, "gateway.spool_dir", path, sizeof(path)) < 0 ||
	    (hc.spool = spool_open_existing(path, &err)) == NULL)
		sg_fatal("gateway.spool_dir: %s", err);
	struct ca *ca = NULL;
	char crl[SG_PATH_MAX];
	err = "path too long";
	if (settings_path(set, "gateway.ca_dir", path, sizeof(path)) < 0 ||
	    sg_path_join(crl, sizeof(crl), path, "crl.pem") < 0 || ca_open(path, hc.keystore, &ca, &err) < 0)
		sg_error("gateway.ca_dir: %s; the CRL is not kept fresh, certificates are not renewed",
		         err);
	else if (ca_set_crl_url(ca, settings_get(set, "ca.crl_url"), &err) < 0)
		sg_error("ca.crl_url: %s; renewed certificates name no CRL", err);
	char rcptmap[SG_PATH_MAX];
	if (settings_path(set, "gateway.spool_dir", path, sizeof(path)) < 0 ||
	    sg_path_join(rcptmap, sizeof(rcptmap), path, SMTPD_VERIFY_MAP_NAME) < 0)
		sg_fatal("gateway.spool_dir: path too long");
	long interval = settings_number(set, "gateway.tick_interval");
	time_t next_sync = 0;
	struct tick_lead tl = {0};
	int64_t revocations = 0;
	tick_lead_init(&tl);
	(void)revocations_changed(&hc, &revocations);
	daemon_ready(ctx, "every %ld s", interval);
	while (!daemon_stop_requested) {
		bool lead = tick_lead(&hc, &tl, interval);
		if (lead) {
			tick_once(&hc);
			tick_enrol(&hc, ca);
		}
		bool revoked = lead && sync_directory(&hc, ca, &next_sync);
		refresh_crl(&hc, ca, crl, revocations_changed(&hc, &revocations) || revoked);
		export_cert_horizon(&hc, ca);
		export_recipients(&hc, rcptmap);
		nap(interval);
	}
	tick_lead_release(&hc, &tl);
	ca_close(&ca);
	spool_close(&hc.spool);
	keystore_close(&hc.keystore);
	store_close(&hc.store);
	sg_info("stopped");
	return 0;
}
