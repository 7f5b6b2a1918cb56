/* bench_util.h: what the in-process benchmarks of bench/smime share. */
#ifndef SG_BENCH_UTIL_H
#define SG_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline _Noreturn void bench_die(const char *prog, const char *what, const char *err)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, err);
	exit(1);
}

#endif
