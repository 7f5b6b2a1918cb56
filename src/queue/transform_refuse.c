/* transform_refuse.c: fail closed. Mail that policy says must be encrypted and that no
 * channel can carry is bounced with a reason the sender can act on; it is never sent in clear. */
#include "queue/transform.h"

#include "core/sg_log.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "policy/policy.h"
#include "store/store.h"

/* One audit row per refused recipient: who sent what to whom, and the rule. */
static void audit_refusal(const struct transform_env *te, const struct transform_input *in)
{
	const struct policy_plan *plan = in->plan;
	const char *err;
	for (size_t i = 0; te->store != NULL && i < in->nrcpt; i++) {
		struct store_audit_entry e = {.at = sg_wall()};
		sg_strlcpy(e.actor, "qmgr", sizeof(e.actor));
		sg_strlcpy(e.event, "policy-refused", sizeof(e.event));
		sg_strlcpy(e.address, in->rcpts[i], sizeof(e.address));
		sg_strlcpy(e.client, "mail", sizeof(e.client));
		sg_snprintf(e.detail, sizeof(e.detail), "%.40s from <%.80s>: %.40s: %.80s", in->queue_id,
		            in->sender, plan->trigger != NULL ? plan->trigger : "policy",
		            plan->reason != NULL ? plan->reason : "no secure channel to the recipient");
		if (store_audit_add(te->store, &e, &err) < 0)
			sg_warn("audit: %s", err);
	}
}

enum transform_result transform_refuse(const struct transform_env *te,
                                       const struct transform_input *in,
                                       struct transform_output *out)
{
	const struct policy_plan *plan = in->plan;
	struct sg_buf buf;
	sg_buf_init(&buf, SG_MESSAGE_SIZE_HARD_MAX);
	const char *plain, *err;
	size_t len;
	int prc = transform_plaintext(te, in, &buf, &plain, &len, &err);
	sg_buf_free_secret(&buf);
	if (prc == 1) /* encrypted by the sender to keys we do not hold: it is already safe */
		return transform_pass(te, in, out);
	audit_refusal(te, in);
	return transform_fail(
		out, TRANSFORM_PERM, "5.7.1",
		"this message had to be encrypted (%s) but was not sent: %s. Ask the recipient for an "
		"S/MIME certificate or OpenPGP key (or have them registered for secure mail), then "
		"send the message again",
		plan->trigger != NULL ? plan->trigger : "policy",
		plan->reason != NULL ? plan->reason : "no secure channel to the recipient");
}
