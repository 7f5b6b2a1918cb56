/* retry_schedule.c: exponential backoff for deferred recipients. Pure arithmetic on the
 * attempt count, so the schedule survives restarts (the count is in the envelope). */
#include "queue/qmgr.h"

#include "core/settings.h"

void retry_policy_load(const struct settings *s, struct retry_policy *p_r)
{
	p_r->first = settings_number(s, "queue.retry_first");
	p_r->max = settings_number(s, "queue.retry_max");
	p_r->lifetime = settings_number(s, "queue.lifetime");
}

long long retry_delay(const struct retry_policy *p, unsigned int attempts)
{
	long long first = p->first > 0 ? p->first : 1;
	long long max = p->max > first ? p->max : first;
	long long d = first;
	/* Doubling stops at the cap, so the loop is short and never overflows. */
	for (unsigned int i = 1; i < attempts && d < max; i++)
		d *= 2;
	return d < max ? d : max;
}

time_t retry_next(const struct retry_policy *p, unsigned int attempts, time_t now, uint32_t rnd)
{
	long long d = retry_delay(p, attempts);
	long long spread = d / 10;
	if (spread > 0)
		d -= (long long)(rnd % (uint32_t)(spread + 1 > UINT32_MAX ? UINT32_MAX : spread + 1));
	return now + (time_t)d;
}

bool retry_expired(const struct retry_policy *p, time_t arrival, time_t now)
{
	return (long long)(now - arrival) >= p->lifetime;
}
