/* spool_notice.c: mail that sealgate writes itself enters the queue like any other, with the
 * null sender so that a failure to deliver it never produces a bounce of its own. */
#include "queue/spool.h"

#include "core/sg_mem.h"
#include "mime/mime.h"
#include "core/sg_str.h"

#include <string.h>
#include <time.h>

int spool_notice_send(struct spool *sp, const char *hostname, const char *rcpt, bool smtputf8,
                      const char *data, size_t len, char *id_r, size_t idsize,
                      const char **error_r)
{
	struct spool_envelope env;
	spool_envelope_init(&env);
	env.arrival = time(NULL);
	env.sender = sg_strdup("");
	env.client_addr = sg_strdup("local");
	env.client_helo = sg_strdup(hostname);
	env.internal_client = true;
	env.smtputf8 = smtputf8 || mime_has_8bit(rcpt, strlen(rcpt));
	env.body_8bit = mime_has_8bit(data, len);
	env.flags = SPOOL_F_BOUNCE;
	spool_envelope_add_rcpt(&env, rcpt, NULL);
	int rc = spool_inject(sp, data, len, &env, error_r);
	if (rc == 0 && id_r != NULL)
		sg_strlcpy(id_r, env.id, idsize);
	spool_envelope_free(&env);
	return rc;
}
