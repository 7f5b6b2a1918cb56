/* spool_envelope.c: the in-memory envelope: sender, recipients and their delivery state. */
#include "queue/spool.h"
#include "core/sg_mem.h"

#include <string.h>

void spool_envelope_init(struct spool_envelope *env)
{
	memset(env, 0, sizeof(*env));
}

static void rcpt_free(struct spool_rcpt *r)
{
	sg_free(&r->addr);
	sg_free(&r->orcpt);
	sg_free(&r->relay);
	sg_free(&r->dsn_status);
	sg_free(&r->last_reply);
}

void spool_envelope_free(struct spool_envelope *env)
{
	for (size_t i = 0; i < env->nrcpt; i++)
		rcpt_free(&env->rcpts[i]);
	sg_free(&env->rcpts);
	sg_free(&env->sender);
	sg_free(&env->client_addr);
	sg_free(&env->client_helo);
	sg_free(&env->message_id);
	spool_envelope_init(env);
}

struct spool_rcpt *spool_envelope_add_rcpt(struct spool_envelope *env, const char *addr,
                                           const char *orcpt)
{
	/* The array's capacity is the smallest power of two >= nrcpt, so it grows exactly
	 * when nrcpt is 0 or a power of two; no separate capacity field is needed. */
	size_t n = env->nrcpt;
	if ((n & (n - 1)) == 0)
		env->rcpts = sg_reallocarray(env->rcpts, n == 0 ? 1 : sg_size_mul(n, 2),
		                             sizeof(*env->rcpts));
	struct spool_rcpt *r = &env->rcpts[n];
	memset(r, 0, sizeof(*r));
	r->addr = sg_strdup(addr);
	r->orcpt = orcpt != NULL ? sg_strdup(orcpt) : NULL;
	r->state = SPOOL_RCPT_PENDING;
	env->nrcpt = n + 1;
	return r;
}

size_t spool_envelope_pending(const struct spool_envelope *env)
{
	size_t n = 0;
	for (size_t i = 0; i < env->nrcpt; i++)
		if (env->rcpts[i].state == SPOOL_RCPT_PENDING)
			n++;
	return n;
}

const char *spool_rcpt_state_name(const struct spool_rcpt *rcpt)
{
	static const char *const names[] = {
		[SPOOL_RCPT_PENDING] = "pending",
		[SPOOL_RCPT_SENT] = "sent",
		[SPOOL_RCPT_BOUNCED] = "bounced",
		[SPOOL_RCPT_HELD] = "held",
	};
	if (rcpt->state == SPOOL_RCPT_PENDING && rcpt->attempts > 0)
		return "deferred";
	if ((size_t)rcpt->state >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[rcpt->state];
}
