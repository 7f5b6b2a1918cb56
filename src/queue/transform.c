/* transform.c: the action → transform table and the output helpers. */
#include "queue/transform.h"

#include "core/sg_log.h"
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
	[POLICY_INBOUND] = transform_inbound,
};

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

enum transform_result transform_run(const struct transform_env *te,
                                    const struct transform_input *in,
                                    struct transform_output *out)
{
	size_t a = (size_t)in->plan->action;
	if (a >= sizeof(transforms) / sizeof(transforms[0]) || transforms[a] == NULL)
		return transform_fail(out, TRANSFORM_TEMP, "4.3.0",
		                      "no transform for action %s in this version",
		                      policy_action_name(in->plan->action));
	return transforms[a](te, in, out);
}
