/* spool_id.c: queue ids, generated sortable by arrival and checked before they reach a path. */
#include "queue/spool.h"
#include "core/sg_log.h"
#include "core/sg_str.h"

#include <stdint.h>
#include <sys/random.h>
#include <time.h>

bool spool_id_valid(const char *id)
{
	size_t n = 0;
	for (; id[n] != '\0'; n++) {
		char c = id[n];
		bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
		if (!ok || n + 1 >= SG_QUEUE_ID_MAX)
			return false;
	}
	return n > 0;
}

void spool_id_generate(char dst[SG_QUEUE_ID_MAX])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t usec = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	uint16_t rnd = 0;
	/* getrandom of 2 bytes never blocks once the pool is up; if it fails the O_EXCL retry
	 * still guarantees uniqueness, the clock part still guarantees order. */
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
		rnd = (uint16_t)(ts.tv_nsec ^ (long)clock());
	/* 13 hex digits of microseconds last until the year 2112. */
	int n = sg_snprintf(dst, SG_QUEUE_ID_MAX, "%013llX%04X",
	                    (unsigned long long)(usec & 0xFFFFFFFFFFFFFull), (unsigned int)rnd);
	sg_assert(n == 17);
}
