/* bench_util.h: what the in-process benchmarks of bench/smime share. */
#ifndef SG_BENCH_UTIL_H
#define SG_BENCH_UTIL_H

#include "crypto/ca.h"
#include "crypto/keystore.h"

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

/* A scratch directory (template, e.g. "/tmp/sg-bench-XXXXXX", overwritten with its name), a
 * master key and an instance CA in it. */
static inline void bench_ca_setup(const char *prog, char *dir, struct keystore **ks_r,
                                  struct ca **ca_r)
{
	const char *err = "mkdtemp failed";
	char path[128];
	if (mkdtemp(dir) == NULL)
		bench_die(prog, "setup", err);
	snprintf(path, sizeof(path), "%s/master.key", dir);
	if (keystore_master_create(path, &err) < 0 || keystore_open(path, ks_r, &err) < 0 ||
	    ca_init_create(dir, "Bench", *ks_r, &err) < 0 || ca_open(dir, *ks_r, ca_r, &err) < 0)
		bench_die(prog, "setup", err);
}

#endif
