/* ldapload.c: LDAP search load with Outlook's name-resolution filter. CLIENTS threads, one
 * connection each, anonymous bind, then searches for SECONDS with prefixes "user0DDD" (each
 * matches 10 of the 10,000 benchmark entries). Prints one RESULT line:
 *   RESULT searches=N rate=SEARCHES_PER_S entries=AVG_PER_SEARCH errors=E p50_us=.. p99_us=..
 * usage: ldapload NAME PORT BASE CLIENTS SECONDS */
#include <sys/time.h>
#include <ldap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAMPLES 200000

struct worker {
	pthread_t tid;
	const char *url, *base;
	double seconds;
	unsigned seed;
	long searches, entries, errors;
	long *lat_us;
	long nlat;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	LDAP *ld = NULL;
	int version = LDAP_VERSION3;
	struct berval cred = {0, NULL};
	if (ldap_initialize(&ld, w->url) != LDAP_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_SUCCESS ||
	    ldap_sasl_bind_s(ld, "", LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL) != LDAP_SUCCESS) {
		w->errors++;
		return NULL;
	}
	char *attrs[] = {"cn", "mail", "sn", "givenName", "displayName", NULL};
	double end = now() + w->seconds;
	while (now() < end) {
		char p[16], filter[256];
		snprintf(p, sizeof(p), "user0%03u", rand_r(&w->seed) % 1000);
		snprintf(filter, sizeof(filter),
		         "(&(mail=*)(|(mail=%s*)(|(cn=%s*)(|(sn=%s*)(givenName=%s*)))))", p, p, p, p);
		LDAPMessage *res = NULL;
		double t0 = now();
		int rc = ldap_search_ext_s(ld, w->base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL, NULL,
		                           NULL, 100, &res);
		double t1 = now();
		if (rc == LDAP_SUCCESS) {
			w->searches++;
			w->entries += ldap_count_entries(ld, res);
			if (w->nlat < SAMPLES)
				w->lat_us[w->nlat++] = (long)((t1 - t0) * 1e6);
		} else {
			w->errors++;
		}
		ldap_msgfree(res);
	}
	ldap_unbind_ext_s(ld, NULL, NULL);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: ldapload NAME PORT BASE CLIENTS SECONDS\n");
		return 2;
	}
	char url[64];
	snprintf(url, sizeof(url), "ldap://127.0.0.1:%s", argv[2]);
	int n = (int)strtol(argv[4], NULL, 10);
	double seconds = atof(argv[5]);
	struct worker *w = calloc((size_t)n, sizeof(*w));
	double t0 = now();
	for (int i = 0; i < n; i++) {
		w[i] = (struct worker){.url = url, .base = argv[3], .seconds = seconds,
		                       .seed = (unsigned)(i * 7919 + 1), .lat_us = calloc(SAMPLES, sizeof(long))};
		pthread_create(&w[i].tid, NULL, run, &w[i]);
	}
	long searches = 0, entries = 0, errors = 0, nlat = 0;
	long *all = calloc((size_t)n * SAMPLES, sizeof(long));
	for (int i = 0; i < n; i++) {
		pthread_join(w[i].tid, NULL);
		searches += w[i].searches;
		entries += w[i].entries;
		errors += w[i].errors;
		memcpy(all + nlat, w[i].lat_us, (size_t)w[i].nlat * sizeof(long));
		nlat += w[i].nlat;
		free(w[i].lat_us);
	}
	double elapsed = now() - t0;
	qsort(all, (size_t)nlat, sizeof(long), cmp);
	printf("RESULT name=%s searches=%ld rate=%.0f entries=%.1f errors=%ld p50_us=%ld p99_us=%ld\n",
	       argv[1], searches, searches / elapsed, searches ? (double)entries / searches : 0.0,
	       errors, nlat ? all[nlat / 2] : 0, nlat ? all[nlat * 99 / 100] : 0);
	free(all);
	free(w);
	return errors > 0 && searches == 0;
}
