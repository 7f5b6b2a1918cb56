/* sg_time.h: clocks and the duration syntax of the settings ("30s", "5m", "4h", "5d"). */
#ifndef SG_TIME_H
#define SG_TIME_H

#include <stdint.h>
#include <time.h>

/* Monotonic milliseconds, for timeouts and latencies. */
int64_t sg_mono_ms(void);
/* Monotonic microseconds, for latencies shorter than a millisecond. */
int64_t sg_mono_us(void);
/* Wall-clock seconds since the epoch. */
time_t sg_wall(void);
/* RFC 5322 date ("Sun, 29 Nov 2026 04:57:13 +0000") of t into dst. */
void sg_rfc5322_date(time_t t, char *dst, size_t dstsize);
/* Parses a duration ("90", "90s", "5m", "4h", "5d") into seconds; -1 on error. */
long long sg_duration_parse(const char *s);

#endif
