/* archive_copy.c: the archive copy (archive.h). The copy is the message itself with the
 * envelope prepended as X-Sealgate-Envelope-* fields, so an archive stores and indexes it as
 * the mail it is; a field of that name that came from outside is removed first, so it
 * cannot forge an envelope. */
#include "queue/archive.h"
#include "queue/qmgr.h"
#include "queue/spool.h"

#include "core/settings.h"
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "mime/mime.h"
#include "policy/policy.h"

#include <string.h>

#define ARCHIVE_FIELDS_MAX (64 * 1024) /* the envelope fields of up to SG_RCPT_MAX recipients */

int archive_config(const struct settings *s, const struct policy *p, struct archive_cfg *a_r)
{
	memset(a_r, 0, sizeof(*a_r));
	const char *what = settings_get(s, "archive.what");
	if (strcmp(what, "none") == 0)
		return 0;
	a_r->route = settings_get(s, "archive.route");
	const char *addr = settings_get(s, "archive.address");
	struct sg_strlist domains;
	sg_strlist_split(&domains, settings_get(s, "gateway.internal_domains"));
	if (addr[0] != '\0')
		sg_strlcpy(a_r->address, addr, sizeof(a_r->address));
	else if (domains.count > 0)
		sg_snprintf(a_r->address, sizeof(a_r->address), "archive@%s", domains.items[0]);
	sg_strlist_free(&domains);
	a_r->outbound = strcmp(what, "outbound") == 0 || strcmp(what, "all") == 0;
	a_r->inbound = strcmp(what, "inbound") == 0 || strcmp(what, "all") == 0;
	struct deliver_route route;
	const char *why = NULL;
	if (deliver_route_parse(a_r->route, settings_dir(s), &route, &why) < 0)
		why = a_r->route[0] == '\0' ? "archive.route is empty" : "archive.route is not a route";
	else if (!policy_is_internal(p, a_r->address))
		why = "archive.address is not in gateway.internal_domains (an archive copy never goes "
		      "to an external address)";
	if (why == NULL)
		return 0;
	a_r->broken = why;
	sg_error("archive.what = %s, but %s: no archive copy is made, and the mail that needs one "
	         "waits in the queue until the configuration is fixed", what, why);
	return -1;
}

static void envelope_fields(const struct archive_msg *m, struct sg_buf *b)
{
	char text[SG_ADDR_MAX + 4], date[64];
	sg_printable(text, sizeof(text), m->sender, SG_ADDR_MAX - 1);
	sg_buf_printf(b, "X-Sealgate-Envelope-From: <%s>\r\n", text);
	for (size_t i = 0; i < m->nrcpt; i++) {
		sg_printable(text, sizeof(text), m->rcpts[i], SG_ADDR_MAX - 1);
		sg_buf_printf(b, "X-Sealgate-Envelope-To: <%s>\r\n", text);
	}
	sg_rfc5322_date(sg_wall(), date, sizeof(date));
	sg_buf_printf(b, "X-Sealgate-Envelope-Direction: %s\r\nX-Sealgate-Envelope-Queue-Id: %s\r\n"
	                 "X-Sealgate-Envelope-Date: %s\r\n", m->direction, m->queue_id, date);
}

int archive_copy_queue(const struct archive_cfg *a, struct spool *sp, const struct archive_msg *m,
                       char *id_r, const char **error_r)
{
	static const char *const foreign[] = {"X-Sealgate-Envelope-*", "X-Sealgate-*"};
	struct sg_buf fields, out;
	sg_buf_init(&fields, ARCHIVE_FIELDS_MAX);
	sg_buf_init(&out, SG_MESSAGE_SIZE_HARD_MAX);
	envelope_fields(m, &fields);
	struct mime_edit e = {.drop = foreign, .ndrop = m->drop_foreign ? 2 : 1,
	                      .keep = MIME_KEEP_ALL, .with_body = true, .prepend = fields.data};
	int rc = mime_edit_apply(m->data, m->len, &e, &out, error_r);
	struct spool_envelope env;
	spool_envelope_init(&env);
	env.arrival = sg_wall();
	/* The null sender: a DSN about a copy would carry the message's headers, and its
	 * postmaster might be outside. A copy that cannot be delivered is logged (and counted). */
	env.sender = sg_strdup("");
	env.client_addr = sg_strdup("local");
	env.client_helo = sg_strdup("archive");
	env.internal_client = true;
	env.flags = SPOOL_F_ARCHIVE | SPOOL_F_BOUNCE;
	env.smtputf8 = mime_has_8bit(fields.data, fields.len);
	env.body_8bit = rc == 0 && mime_has_8bit(out.data, out.len);
	spool_envelope_add_rcpt(&env, a->address, NULL);
	if (rc == 0 && (rc = spool_inject(sp, out.data, out.len, &env, error_r)) == 0) {
		sg_strlcpy(id_r, env.id, SG_QUEUE_ID_MAX);
		sg_info("%s: archive copy (%s) queued as %s for <%s>", m->queue_id, m->direction,
		        env.id, a->address);
	}
	spool_envelope_free(&env);
	sg_buf_free(&out);
	sg_buf_free(&fields);
	return rc;
}
