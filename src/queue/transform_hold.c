/* transform_hold.c: the partner must register before this mail can be encrypted for them.
 * The mail moves from the spool into the store, sealed; the partner is invited. */
#include "queue/transform.h"

#include "core/sg_time.h"
#include "mime/mime.h"
#include "policy/policy.h"
#include "queue/held.h"

enum transform_result transform_hold(const struct transform_env *te,
                                     const struct transform_input *in,
                                     struct transform_output *out)
{
	if (te->store == NULL || te->keystore == NULL || te->spool == NULL || in->nrcpt != 1)
		return transform_fail(out, TRANSFORM_TEMP, "4.3.0",
		                      "holding mail for a registration needs the store and the spool");
	if (in->sender[0] == '\0')
		return transform_fail(out, TRANSFORM_PERM, "5.7.1",
		                      "the recipient must register for secure mail first, and mail from "
		                      "the null sender cannot invite them");
	struct held_ctx hc = {.settings = te->settings, .store = te->store,
	                      .keystore = te->keystore, .spool = te->spool, .actor = "qmgr"};
	const char *subject = in->mime != NULL && in->mime->subject != NULL ? in->mime->subject : "";
	const char *err;
	if (held_mail_hold(&hc, in->sender, in->rcpts[0], subject, in->data, in->len, sg_wall(),
	                   &err) < 0)
		return transform_fail(out, TRANSFORM_TEMP, "4.3.0", "cannot hold the message yet: %s",
		                      err);
	return transform_fail(out, TRANSFORM_HELD, "2.0.0",
	                      "held until the recipient registers on the portal (invited)");
}
