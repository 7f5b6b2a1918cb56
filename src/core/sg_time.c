/* sg_time.c: clocks and durations; see sg_time.h. */
#include "core/sg_time.h"
#include "core/sg_str.h"

#include <string.h>

int64_t sg_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

time_t sg_wall(void) { return time(NULL); }

void sg_rfc5322_date(time_t t, char *dst, size_t dstsize)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	if (strftime(dst, dstsize, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0 && dstsize > 0)
		dst[0] = '\0';
}

long long sg_duration_parse(const char *s)
{
	char num[32];
	size_t len = strlen(s);
	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, s, len + 1);
	long long mult = 1;
	switch (num[len - 1]) {
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default:
		if (num[len - 1] < '0' || num[len - 1] > '9')
			return -1;
		len++;
		break;
	}
	num[len - 1] = '\0';
	const char *err;
	long long v = sg_strtonum(num, 0, 100LL * 365 * 86400, &err);
	if (err != NULL)
		return -1;
	return v * mult;
}
