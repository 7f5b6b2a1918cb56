/* qmgr_main.c: the queue manager role's entry: settings in, spool and policy opened, the
 * scheduler run until SIGTERM. Deliveries in flight when it stops are abandoned: their
 * recipients simply stay pending in the spool. */
#include "queue/qmgr.h"
#include "queue/spool.h"
#include "queue/transform.h"

#include "core/settings.h"
#include "core/sg_log.h"
#include "daemon/daemon.h"
#include "mime/mime.h"
#include "policy/policy.h"

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
	mime_init();
	struct transform_env te = {.settings = s, .hostname = settings_get(s, "gateway.hostname")};
	struct qmgr_env qe = {
		.te = &te,
		.spool = sp,
		.policy = policy_new(s),
		.hostname = settings_get(s, "gateway.hostname"),
		.config_dir = settings_dir(s),
		.connect_timeout_ms = (int)settings_number(s, "queue.connect_timeout") * 1000,
		.smtp_timeout_ms = (int)settings_number(s, "queue.smtp_timeout") * 1000,
		.cancel = &daemon_stop_requested,
	};
	retry_policy_load(s, &qe.retry);
	unsigned int workers = (unsigned int)settings_number(s, "queue.concurrency");
	sg_info("queue manager started: spool %s, %u workers", spool_path, workers);
	int rc = qmgr_loop_run(&qe, workers, (int)settings_number(s, "queue.scan_interval") * 1000);
	policy_free(&qe.policy);
	spool_close(&sp);
	sg_info("queue manager stopped");
	return rc;
}
