/* tick_main.c: the tick role: the work that is due by the clock rather than by a message.
 * Held mail: deleted when its invitation expired unused (the sender is told), released when a
 * release at registration failed; SecurePDF Reply links: forgotten after
 * portal.reply_link_days. It runs at start and then every
 * gateway.tick_interval. */
#include "core/settings.h"
#include "core/sg_log.h"
#include "core/sg_time.h"
#include "crypto/keystore.h"
#include "daemon/daemon.h"
#include "queue/held.h"
#include "queue/spool.h"
#include "store/store.h"

#include <sodium.h>
#include <time.h>

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
	struct held_ctx hc = {.settings = set};
	hc.store = store_open(settings_get(set, "store.database"), settings_dir(set), &err);
	if (hc.store == NULL)
		sg_fatal("store: %s", err);
	if (settings_path(set, "gateway.master_key", path, sizeof(path)) < 0 ||
	    keystore_open(path, &hc.keystore, &err) < 0)
		sg_fatal("gateway.master_key: %s", err);
	if (settings_path(set, "gateway.spool_dir", path, sizeof(path)) < 0 ||
	    (hc.spool = spool_open_existing(path, &err)) == NULL)
		sg_fatal("gateway.spool_dir: %s", err);
	long interval = settings_number(set, "gateway.tick_interval");
	sg_info("ready: every %ld s", interval);
	while (!daemon_stop_requested) {
		tick_once(&hc);
		nap(interval);
	}
	spool_close(&hc.spool);
	keystore_close(&hc.keystore);
	store_close(&hc.store);
	sg_info("stopped");
	return 0;
}
