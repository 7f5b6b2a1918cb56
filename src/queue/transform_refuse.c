/* transform_refuse.c: fail closed. Mail that policy says must be encrypted and that no
 * channel can carry is bounced with a reason the sender can act on; it is never sent in clear. */
#include "queue/transform.h"

#include "policy/policy.h"

enum transform_result transform_refuse(const struct transform_env *te,
                                       const struct transform_input *in,
                                       struct transform_output *out)
{
	(void)te;
	const struct policy_plan *plan = in->plan;
	return transform_fail(
		out, TRANSFORM_PERM, "5.7.1",
		"this message had to be encrypted (%s) but was not sent: %s. Ask the recipient for an "
		"S/MIME certificate or OpenPGP key (or have them registered for secure mail), then "
		"send the message again",
		plan->trigger != NULL ? plan->trigger : "policy",
		plan->reason != NULL ? plan->reason : "no secure channel to the recipient");
}
