/* transform_scan.c: virus scanning by clamd of what the organisation's own scanner never saw
 * in clear (inbound mail sealgate decrypted) and, with scan.outbound, of outbound mail before
 * it is encrypted. When scanning is on, nothing is delivered unscanned: a scan that fails
 * (clamd down, hanging, answering nonsense) defers the message, which is tried again. */
#include "queue/transform.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "crypto/keystore.h"
#include "mime/mime.h"
#include "policy/policy.h"
#include "store/store.h"
#include "store/store_quarantine.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void scan(const struct transform_env *te, const char *data, size_t len,
                 struct scan_result *r)
{
	if (te->scan_error != NULL) {
		r->verdict = SCAN_FAILED;
		snprintf(r->error, sizeof(r->error), "scan.clamd: %s", te->scan_error);
		return;
	}
	scan_clamd_instream(&te->scan_target, data, len, te->scan_timeout_ms, r);
}

static enum transform_result deferred(const struct transform_input *in,
                                      struct transform_output *out, const struct scan_result *r)
{
	sg_warn("%s: virus scan failed: %s; the message waits in the queue", in->queue_id,
	        r->error);
	return transform_fail(out, TRANSFORM_TEMP, "4.7.0",
	                      "not delivered yet: the virus scanner could not scan it (%s); it "
	                      "will be tried again", r->error);
}

enum transform_result transform_scan_outbound(const struct transform_env *te,
                                              const struct transform_input *in,
                                              struct transform_output *out)
{
	if (te == NULL || !te->scan_on || !te->scan_outbound || in->unscanned ||
	    in->plan->direction != POLICY_DIR_OUTBOUND)
		return TRANSFORM_OK;
	struct scan_result r;
	scan(te, in->data, in->len, &r);
	if (r.verdict == SCAN_FAILED)
		return deferred(in, out, &r);
	if (r.verdict == SCAN_CLEAN)
		return TRANSFORM_OK;
	sg_info("%s: virus scan: infected (%s): refused", in->queue_id, r.signature);
	return transform_fail(out, TRANSFORM_PERM, "5.7.1",
	                      "the virus scanner found %s in this message; it was not sent. Remove "
	                      "the infected attachment and send the message again", r.signature);
}

/* Adds "X-Sealgate-Scan: <verdict> (<what>)" at the top of out. */
static int prepend_field(struct transform_output *out, const char *verdict, const char *what,
                         const char **error_r)
{
	char field[SCAN_SIGNATURE_MAX + 64];
	snprintf(field, sizeof(field), "X-Sealgate-Scan: %s (%s)\r\n", verdict, what);
	struct mime_edit e = {.keep = MIME_KEEP_ALL, .prepend = field, .with_body = true};
	return transform_output_edit(out, &e, error_r);
}

static void join_rcpts(const struct transform_input *in, char *dst, size_t size)
{
	dst[0] = '\0';
	for (size_t i = 0, used = 0; i < in->nrcpt && used + 1 < size; i++) {
		int n = snprintf(dst + used, size - used, "%s%s", i ? "," : "", in->rcpts[i]);
		used = n < 0 ? size : used + (size_t)n;
	}
}

/* Seals out's bytes into the quarantine and writes one audit entry per recipient. */
static int quarantine(const struct transform_env *te, const struct transform_input *in,
                      const struct transform_output *out, const char *signature, int64_t *id_r,
                      const char **error_r)
{
	struct store_quarantine q = {.created = sg_wall()};
	sg_strlcpy(q.queue_id, in->queue_id, sizeof(q.queue_id));
	sg_strlcpy(q.sender, in->sender, sizeof(q.sender));
	sg_strlcpy(q.signature, signature, sizeof(q.signature));
	join_rcpts(in, q.rcpts, sizeof(q.rcpts));
	if (te->store == NULL || te->keystore == NULL) {
		*error_r = "the store or the master key is not open";
		return -1;
	}
	char owner[64 + SG_QUEUE_ID_MAX];
	unsigned char *blob = NULL;
	size_t blob_len = 0;
	int rc = store_quarantine_reserve(te->store, &q, id_r, error_r);
	snprintf(owner, sizeof(owner), "quarantine:%" PRId64 ":%s", *id_r, q.queue_id);
	if (rc == 0)
		rc = keystore_seal_bytes(te->keystore, out->data, out->len, owner, &blob, &blob_len,
		                         error_r);
	if (rc == 0)
		rc = store_quarantine_seal(te->store, *id_r, blob, blob_len, error_r);
	sg_free(&blob);
	char detail[SCAN_SIGNATURE_MAX + 64];
	snprintf(detail, sizeof(detail), "quarantine %" PRId64 ": %s", *id_r, signature);
	for (size_t i = 0; rc == 0 && i < in->nrcpt; i++)
		rc = store_role_audit_add(te->store, q.created, "virus-held", in->rcpts[i], "qmgr",
		                            detail, error_r);
	return rc;
}

static enum transform_result infected(const struct transform_env *te,
                                      const struct transform_input *in,
                                      struct transform_output *out, const char *signature)
{
	const char *err;
	int64_t id = 0;
	sg_info("%s: virus scan: infected (%s)", in->queue_id, signature);
	switch (te->scan_action) {
	case TRANSFORM_SCAN_TAG:
		if (prepend_field(out, "infected", signature, &err) < 0)
			return transform_fail(out, TRANSFORM_TEMP, "4.3.0", "%s", err);
		return TRANSFORM_OK;
	case TRANSFORM_SCAN_REJECT:
		return transform_fail(out, TRANSFORM_PERM, "5.7.1",
		                      "the virus scanner found %s in this message; it was not "
		                      "delivered", signature);
	case TRANSFORM_SCAN_HOLD:
		break;
	}
	if (quarantine(te, in, out, signature, &id, &err) < 0)
		return transform_fail(out, TRANSFORM_TEMP, "4.3.0",
		                      "infected (%s), and it could not be quarantined: %s", signature,
		                      err);
	return transform_fail(out, TRANSFORM_HELD, "2.0.0",
	                      "quarantine %" PRId64 ": the virus scanner found %s", id, signature);
}

enum transform_result transform_scan_inbound(const struct transform_env *te,
                                             const struct transform_input *in,
                                             struct transform_output *out)
{
	if (te == NULL || !te->scan_on || in->plan->direction != POLICY_DIR_INBOUND)
		return TRANSFORM_OK;
	struct scan_result r;
	const char *err;
	if (in->unscanned && prepend_field(out, "released", "held as infected, released "
	                                   "unscanned by an admin", &err) < 0)
		return transform_fail(out, TRANSFORM_TEMP, "4.3.0", "%s", err);
	if (in->unscanned)
		return TRANSFORM_OK;
	scan(te, out->data, out->len, &r);
	if (r.verdict == SCAN_FAILED)
		return deferred(in, out, &r);
	if (r.verdict == SCAN_INFECTED)
		return infected(te, in, out, r.signature);
	if (prepend_field(out, "clean", "clamd", &err) < 0)
		return transform_fail(out, TRANSFORM_TEMP, "4.3.0", "%s", err);
	return TRANSFORM_OK;
}
