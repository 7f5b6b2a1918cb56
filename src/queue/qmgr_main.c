/* qmgr_main.c: the queue manager role's entry: settings in; spool, policy, store, keys and
 * trust anchors opened; the scheduler run until SIGTERM. Deliveries in flight when it stops
 * are abandoned: their recipients simply stay pending in the spool. */
#include "queue/qmgr.h"
#include "queue/archive.h"
#include "queue/spool.h"
#include "queue/transform.h"

#include "core/settings.h"
#include "core/sg_file.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "crypto/keystore.h"
#include "crypto/sgdkim.h"
#include "crypto/smime.h"
#include "lookup/lookup.h"
#include "role/role.h"
#include "mime/mime.h"
#include "pdf/pdf.h"
#include "policy/policy.h"
#include "store/store.h"

#include <malloc.h>
#include <string.h>

static void open_dkim(const struct settings *s, struct transform_env *te)
{
	const char *mode = settings_get(s, "dkim.sign"), *err;
	te->dkim_mode = strcmp(mode, "off") == 0   ? TRANSFORM_DKIM_OFF
	                : strcmp(mode, "all") == 0 ? TRANSFORM_DKIM_ALL
	                                           : TRANSFORM_DKIM_TRANSFORMED;
	sg_strlist_split(&te->dkim_domains, settings_get(s, "dkim.domains"));
	te->arc_seal = settings_bool(s, "arc.seal");
	sg_strlist_split(&te->arc_trusted, settings_get(s, "arc.trusted_authserv_ids"));
	char keys[SG_PATH_MAX] = "";
	if (settings_get(s, "dkim.verify_keys_file")[0] != '\0' &&
	    settings_path(s, "dkim.verify_keys_file", keys, sizeof(keys)) < 0)
		sg_error("dkim.verify_keys_file: path too long; DNS is asked instead");
	if ((te->dkim_mode != TRANSFORM_DKIM_OFF || te->arc_seal) &&
	    sgdkim_lib_new(&te->dkim_lib, keys, &err) < 0)
		sg_error("dkim: %s; mail leaves unsigned", err);
}

/* scan.*: an unusable scan.clamd defers every message that would be scanned (with the reason)
 * rather than letting it through unscanned. */
static void open_scan(const struct settings *s, struct transform_env *te)
{
	const char *spec = settings_get(s, "scan.clamd"), *action = settings_get(s, "scan.action");
	te->scan_on = spec[0] != '\0';
	te->scan_outbound = settings_bool(s, "scan.outbound");
	te->scan_timeout_ms = (int)(settings_number(s, "scan.timeout") * 1000);
	te->scan_action = strcmp(action, "tag") == 0      ? TRANSFORM_SCAN_TAG
	                  : strcmp(action, "reject") == 0 ? TRANSFORM_SCAN_REJECT
	                                                  : TRANSFORM_SCAN_HOLD;
	if (te->scan_on && scan_target_parse(spec, &te->scan_target, &te->scan_error) < 0)
		sg_error("scan.clamd %s: %s; mail to be scanned waits in the queue", spec,
		         te->scan_error);
}

/* Opens what the transforms need. The store and the keys are optional only in the sense that
 * plain relaying works without them; any channel that needs them then defers with a reason. */
static void open_transform_env(const struct settings *s, struct transform_env *te)
{
	const char *err = "path too long";
	char path[SG_PATH_MAX], dir[SG_PATH_MAX];
	te->settings = s;
	te->hostname = settings_get(s, "gateway.hostname");
	te->subject_tag = settings_get(s, "policy.encrypt_subject_tag");
	te->max_encrypted_size = settings_number(s, "policy.max_encrypted_size");
	te->reencrypt_inbound = settings_bool(s, "policy.reencrypt_inbound");
	te->smime_gcm = settings_get(s, "policy.smime_gcm");
	te->autocrypt_outbound = settings_bool(s, "policy.autocrypt_outbound");
	te->autocrypt_encrypt = settings_bool(s, "pgp.autocrypt_encrypt");
	te->cbc_keep_encrypted = strcmp(settings_get(s, "policy.cbc_unsigned"), "keep-encrypted") == 0;
	te->header_protection = settings_bool(s, "policy.header_protection");
	te->hide_subject = settings_bool(s, "policy.hide_subject");
	enum smime_rev_mode rev = SMIME_REV_SOFT;
	(void)smime_rev_mode_parse(settings_get(s, "smime.revocation_check"), &rev);
	te->revocation_check = (int)rev;
	open_dkim(s, te);
	open_scan(s, te);
	te->store = store_open_settings(s, &err);
	if (te->store == NULL)
		sg_error("store: %s; secure channels will defer until it opens", err);
	if (settings_path(s, "gateway.master_key", path, sizeof(path)) < 0 ||
	    keystore_open(path, &te->keystore, &err) < 0)
		sg_error("master key %s: %s; gateway-held keys cannot be used", path, err);
	te->trust = smime_trust_new(true);
	char *pem = NULL;
	size_t len = 0;
	unsigned char *der = NULL;
	if (settings_path(s, "gateway.ca_dir", dir, sizeof(dir)) == 0 &&
	    sg_path_join(path, sizeof(path), dir, "ca.crt") == 0 &&
	    sg_file_read_all(path, SG_CERT_DER_MAX * 2, &pem, &len, &err) == 0 &&
	    smime_cert_to_der((unsigned char *)pem, len, &der, &te->ca_der_len, &err) == 0 &&
	    smime_trust_add_der(te->trust, der, te->ca_der_len, &err) == 0)
		te->ca_der = der;
	else
		sg_warn("instance CA %s: %s; signatures will carry no chain", path, err);
	sg_free(&pem);
	err = "path too long";
	if (te->ca_der != NULL && (sg_path_join(path, sizeof(path), dir, "crl.pem") < 0 ||
	                           smime_trust_set_own_ca(te->trust, te->ca_der, te->ca_der_len,
	                                                  path, &err) < 0))
		sg_error("instance CA's CRL %s: %s; revoked certificates of ours would verify as valid",
		         path, err);
	err = "path too long";
	if (settings_path(s, "ca.trust_anchors", path, sizeof(path)) < 0 ||
	    smime_trust_add_anchor_file(te->trust, path, &err) < 0)
		sg_error("ca.trust_anchors %s: %s; mail signed under those CAs is reported untrusted",
		         path, err);
}

static void close_transform_env(struct transform_env *te)
{
	lookup_free(&te->lookup);
	store_close(&te->store);
	keystore_close(&te->keystore);
	sgdkim_lib_free(&te->dkim_lib);
	sg_strlist_free(&te->dkim_domains);
	sg_strlist_free(&te->arc_trusted);
	smime_trust_free(&te->trust);
	unsigned char *der = (unsigned char *)te->ca_der;
	sg_free(&der);
}

int qmgr_main(struct role_ctx *ctx)
{
	struct settings *s = ctx->settings;
	char spool_path[SG_PATH_MAX];
	const char *err;
	if (settings_path(s, "gateway.spool_dir", spool_path, sizeof(spool_path)) < 0) {
		sg_error("gateway.spool_dir: path too long");
		return 1;
	}
	struct spool *sp = spool_open(spool_path, &err);
	if (sp == NULL) {
		sg_error("cannot open spool %s: %s", spool_path, err);
		return 1;
	}
	/* The transforms allocate and free buffers of 100 KB and more per message; glibc's
	 * defaults would mmap and unmap each one (a page fault per 4 KB touched). */
	mallopt(M_MMAP_THRESHOLD, 8 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mime_init();
	pdf_isolate_set_exec("/proc/self/exe"); /* before the worker threads start */
	struct transform_env te = {0};
	open_transform_env(s, &te);
	te.spool = sp;
	te.lookup = lookup_new(s, te.trust, &err);
	if (te.lookup == NULL)
		sg_error("key discovery: %s; it is off", err);
	struct qmgr_env qe = {
		.te = &te,
		.lookup = transform_lookup,
		.lookup_ctx = &te,
		.discover = transform_discover,
		.spool = sp,
		.policy = policy_new(s),
		.hostname = settings_get(s, "gateway.hostname"),
		.config_dir = settings_dir(s),
		.connect_timeout_ms = (int)settings_number(s, "queue.connect_timeout") * 1000,
		.smtp_timeout_ms = (int)settings_number(s, "queue.smtp_timeout") * 1000,
		.cancel = &daemon_stop_requested,
	};
	retry_policy_load(s, &qe.retry);
	struct archive_cfg archive;
	(void)archive_config(s, qe.policy, &archive); /* refused settings: logged, mail waits */
	qe.archive = &archive;
	struct deliver_mx_cfg mx;
	if (deliver_mx_cfg_load(s, te.store, &mx, &err) < 0)
		sg_error("route mx: %s; mail to MX hosts waits in the queue", err);
	else
		qe.mx = &mx;
	mx.dns.cancel = &daemon_stop_requested;
	unsigned int workers = (unsigned int)settings_number(s, "queue.concurrency");
	daemon_ready(ctx, "queue manager: spool %s, %u workers", spool_path, workers);
	int rc = qmgr_loop_run(&qe, workers, (int)settings_number(s, "queue.scan_interval") * 1000);
	policy_free(&qe.policy);
	close_transform_env(&te);
	spool_close(&sp);
	sg_info("queue manager stopped");
	return rc;
}
