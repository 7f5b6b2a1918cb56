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

int64_t sg_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
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
	static const struct sg_unit units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	return sg_strtonum_unit(s, units, sizeof(units) / sizeof(units[0]), 100LL * 365 * 86400);
}
