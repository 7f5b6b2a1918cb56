/* transform.c: the action → transform table and the output helpers. */
#include "queue/transform.h"

#include "core/sg_log.h"
#include "mime/mime.h"
#include "policy/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef enum transform_result (*transform_fn)(const struct transform_env *,
                                              const struct transform_input *,
                                              struct transform_output *);

static const transform_fn transforms[] = {
	[POLICY_PASS] = transform_pass,
	[POLICY_REFUSE] = transform_refuse,
	[POLICY_SMIME] = transform_smime,
	[POLICY_PGP] = transform_pgp,
	[POLICY_PDF] = transform_pdf,
	[POLICY_INBOUND] = transform_inbound,
	[POLICY_HOLD] = transform_hold,
	[POLICY_PORTAL] = transform_portal,
	[POLICY_WEBMAIL] = transform_webmail,
};

bool transform_exists(int action)
{
	return action >= 0 && (size_t)action < sizeof(transforms) / sizeof(transforms[0]) &&
	       transforms[action] != NULL;
}

/* The action each channel leads to. */
static const int channel_actions[] = {
	[POLICY_CH_NONE] = POLICY_REFUSE, [POLICY_CH_SMIME] = POLICY_SMIME,
	[POLICY_CH_PGP] = POLICY_PGP,     [POLICY_CH_PDF] = POLICY_PDF,
	[POLICY_CH_WEBMAIL] = POLICY_WEBMAIL,
};

bool transform_channel_exists(int channel)
{
	return channel >= 0 && (size_t)channel < sizeof(channel_actions) / sizeof(channel_actions[0]) &&
	       transform_exists(channel_actions[channel]);
}

void transform_output_init(struct transform_output *out)
{
	memset(out, 0, sizeof(*out));
	sg_buf_init(&out->buf, SG_MESSAGE_SIZE_HARD_MAX);
}

void transform_output_free(struct transform_output *out) { sg_buf_free(&out->buf); }

enum transform_result transform_fail(struct transform_output *out, enum transform_result res,
                                     const char *status, const char *fmt, ...)
{
	snprintf(out->status, sizeof(out->status), "%s", status);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
	return res;
}

enum transform_result transform_check_size(const struct transform_env *te,
                                           struct transform_output *out)
{
	long long max = te->max_encrypted_size;
	if (max <= 0 || (long long)out->buf.len <= max)
		return TRANSFORM_OK;
	return transform_fail(out, TRANSFORM_PERM, "5.3.4",
	                      "encrypted, this message would be %.1f MB, over the limit of %.1f MB for "
	                      "encrypted mail; it was not sent. Send large attachments in several "
	                      "messages or share them another way",
	                      (double)out->buf.len / 1048576.0, (double)max / 1048576.0);
}

enum transform_result transform_run(const struct transform_env *te,
                                    const struct transform_input *in,
                                    struct transform_output *out)
{
	if (in->plan->direction == POLICY_DIR_INBOUND)
		transform_autocrypt_learn(te, in);
	size_t a = (size_t)in->plan->action;
	if (!transform_exists((int)a))
		return transform_fail(out, TRANSFORM_TEMP, "4.3.0",
		                      "no transform for action %s in this version",
		                      policy_action_name(in->plan->action));
	enum transform_result tr = transform_scan_outbound(te, in, out);
	if (tr == TRANSFORM_OK)
		tr = transforms[a](te, in, out);
	if (tr == TRANSFORM_OK)
		tr = transform_scan_inbound(te, in, out);
	if (tr == TRANSFORM_OK)
		tr = transform_arc(te, in, out);
	return tr == TRANSFORM_OK ? transform_dkim(te, in, out) : tr;
}

int transform_output_edit(struct transform_output *out, const struct mime_edit *e,
                          const char **error_r)
{
	struct sg_buf res;
	sg_buf_init(&res, SG_MESSAGE_SIZE_HARD_MAX);
	if (mime_edit_apply(out->data, out->len, e, &res, error_r) < 0) {
		sg_buf_free(&res);
		return -1;
	}
	sg_buf_free(&out->buf);
	out->buf = res;
	out->data = out->buf.data;
	out->len = out->buf.len;
	return 0;
}

int transform_mark_via(const struct transform_input *in, const char *channel,
                       struct transform_output *out, const char **error_r)
{
	if (!in->plan->via_domain)
		return 0;
	char field[200];
	snprintf(field, sizeof(field), "X-Sealgate-Security: outbound; encrypted=%s; %s\r\n",
	         channel, policy_via_name(in->plan));
	struct mime_edit e = {.prepend = field, .with_body = true};
	out->data = out->buf.data;
	out->len = out->buf.len;
	return transform_output_edit(out, &e, error_r);
}
