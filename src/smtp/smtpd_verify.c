/* smtpd_verify.c: smtp.verify_recipients, the answer to "is this a mailbox of ours?" that lets
 * smtpd refuse an unknown local part with 550 in the session instead of accepting it and
 * bouncing later to a sender who is usually forged (backscatter). Two sources: a callahead
 * (an RCPT probe to route.internal's SMTP server through the SMTP client, answers cached with
 * a positive and a negative lifetime; a failed probe is "try later", never "yes"), or the
 * list of the gateway's users that the tick role exports into the spool (smtpd never opens the
 * store). One instance serves every session thread of the smtpd child. */
#include "smtp/smtp.h"
#include "smtp/smtpc.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CACHE_MAX     4096 /* remembered answers; the oldest-expiring is replaced when full */
#define CONNECT_MAX_MS 5000

struct answer {
	char addr[SG_ADDR_MAX];  /* lower-cased */
	bool known;
	int64_t expires;         /* monotonic ms */
};

struct smtpd_verify {
	struct smtpd_verify_opts o;
	char host[256], port[8], helo[256], map_path[SG_PATH_MAX];
	pthread_mutex_t lock;
	struct answer *cache;
	size_t ncache;
	/* directory: the list file as last read */
	char **addrs;
	size_t naddrs;
	struct stat map_st;
	bool map_loaded;
};

static void lower_copy(char *dst, size_t dstsize, const char *src)
{
	size_t i = 0;
	for (; src[i] != '\0' && i + 1 < dstsize; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

struct smtpd_verify *smtpd_verify_new(const struct smtpd_verify_opts *o)
{
	struct smtpd_verify *v = sg_calloc(1, sizeof(*v));
	v->o = *o;
	sg_strlcpy(v->host, o->host != NULL ? o->host : "", sizeof(v->host));
	sg_strlcpy(v->port, o->port != NULL ? o->port : "", sizeof(v->port));
	sg_strlcpy(v->helo, o->helo_name != NULL ? o->helo_name : "localhost", sizeof(v->helo));
	sg_strlcpy(v->map_path, o->map_path != NULL ? o->map_path : "", sizeof(v->map_path));
	v->o.host = v->host;
	v->o.port = v->port;
	v->o.helo_name = v->helo;
	v->o.map_path = v->map_path;
	v->cache = sg_calloc(CACHE_MAX, sizeof(*v->cache));
	pthread_mutex_init(&v->lock, NULL);
	return v;
}

static void map_forget(struct smtpd_verify *v)
{
	for (size_t i = 0; i < v->naddrs; i++)
		sg_free(&v->addrs[i]);
	sg_free(&v->addrs);
	v->naddrs = 0;
}

void smtpd_verify_free(struct smtpd_verify **vp)
{
	struct smtpd_verify *v = *vp;
	if (v == NULL)
		return;
	map_forget(v);
	sg_free(&v->cache);
	pthread_mutex_destroy(&v->lock);
	sg_free(vp);
}

/* ---- the callahead cache (the lock is held) ---- */
static struct answer *cache_find(struct smtpd_verify *v, const char *addr, int64_t now)
{
	for (size_t i = 0; i < v->ncache; i++)
		if (v->cache[i].expires > now && strcmp(v->cache[i].addr, addr) == 0)
			return &v->cache[i];
	return NULL;
}

static void cache_put(struct smtpd_verify *v, const char *addr, bool known, int64_t now)
{
	struct answer *slot = NULL;
	for (size_t i = 0; i < v->ncache && slot == NULL; i++)
		if (v->cache[i].expires <= now || strcmp(v->cache[i].addr, addr) == 0)
			slot = &v->cache[i];
	if (slot == NULL && v->ncache < CACHE_MAX)
		slot = &v->cache[v->ncache++];
	if (slot == NULL) {
		slot = &v->cache[0];
		for (size_t i = 1; i < v->ncache; i++)
			if (v->cache[i].expires < slot->expires)
				slot = &v->cache[i];
	}
	sg_strlcpy(slot->addr, addr, sizeof(slot->addr));
	slot->known = known;
	slot->expires = now + (int64_t)(known ? v->o.positive_ttl_s : v->o.negative_ttl_s) * 1000;
}

/* ---- callahead ---- */
static enum smtpd_rcpt_check probe(struct smtpd_verify *v, const char *addr)
{
	struct smtpc_params p = {.host = v->host, .port = v->port, .helo_name = v->helo,
	                         .connect_timeout_ms = v->o.timeout_ms < CONNECT_MAX_MS
	                                                   ? v->o.timeout_ms : CONNECT_MAX_MS,
	                         .timeout_ms = v->o.timeout_ms, .log_id = "callahead"};
	struct smtpc_status st;
	bool tls_failed;
	struct smtpc_conn *c = smtpc_connect(&p, &st, &tls_failed);
	if (c == NULL && tls_failed) {
		p.no_starttls = true;
		c = smtpc_connect(&p, &st, &tls_failed);
	}
	if (c != NULL) {
		smtpc_probe(c, addr, &st, NULL);
		smtpc_close(&c);
	}
	char to[SG_LOG_PEER_TEXT_MAX + 4];
	sg_printable(to, sizeof(to), addr, SG_LOG_PEER_TEXT_MAX);
	if (st.cls == SMTPC_OK || st.cls == SMTPC_PERM) {
		sg_info("callahead to=<%s>: %s (%s)", to, st.cls == SMTPC_OK ? "known" : "unknown",
		        st.reply);
		return st.cls == SMTPC_OK ? SMTPD_RCPT_OK : SMTPD_RCPT_UNKNOWN;
	}
	sg_warn("callahead to=<%s> failed: %s; answering 450", to, st.reply);
	return SMTPD_RCPT_TEMPFAIL;
}

static enum smtpd_rcpt_check callahead(struct smtpd_verify *v, const char *addr)
{
	pthread_mutex_lock(&v->lock);
	const struct answer *a = cache_find(v, addr, sg_mono_ms());
	int known = a != NULL ? a->known : -1;
	pthread_mutex_unlock(&v->lock);
	if (known >= 0)
		return known ? SMTPD_RCPT_OK : SMTPD_RCPT_UNKNOWN;
	/* Outside the lock: other sessions go on while this one waits for the internal server. */
	enum smtpd_rcpt_check r = probe(v, addr);
	if (r != SMTPD_RCPT_TEMPFAIL) {
		pthread_mutex_lock(&v->lock);
		cache_put(v, addr, r == SMTPD_RCPT_OK, sg_mono_ms());
		pthread_mutex_unlock(&v->lock);
	}
	return r;
}

/* ---- directory: the exported list, read again when the file changes ---- */
static int addr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int map_read(struct smtpd_verify *v)
{
	FILE *f = fopen(v->map_path, "re");
	if (f == NULL)
		return -1;
	map_forget(v);
	char line[SG_ADDR_MAX + 2];
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		v->addrs = sg_reallocarray(v->addrs, v->naddrs + 1, sizeof(*v->addrs));
		char low[SG_ADDR_MAX];
		lower_copy(low, sizeof(low), line);
		v->addrs[v->naddrs++] = sg_strdup(low);
	}
	fclose(f);
	qsort(v->addrs, v->naddrs, sizeof(*v->addrs), addr_cmp);
	return 0;
}

/* The lock is held. -1 when the list was never read and cannot be. */
static int map_refresh(struct smtpd_verify *v)
{
	struct stat st;
	if (stat(v->map_path, &st) < 0)
		return v->map_loaded ? 0 : -1;
	if (v->map_loaded && st.st_ino == v->map_st.st_ino &&
	    st.st_mtim.tv_sec == v->map_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == v->map_st.st_mtim.tv_nsec && st.st_size == v->map_st.st_size)
		return 0;
	if (map_read(v) < 0)
		return v->map_loaded ? 0 : -1;
	v->map_st = st;
	v->map_loaded = true;
	sg_info("recipient list %s: %zu address(es)", v->map_path, v->naddrs);
	return 0;
}

static enum smtpd_rcpt_check directory(struct smtpd_verify *v, const char *addr)
{
	pthread_mutex_lock(&v->lock);
	enum smtpd_rcpt_check r = SMTPD_RCPT_TEMPFAIL;
	if (map_refresh(v) == 0) {
		const char *key = addr;
		r = bsearch(&key, v->addrs, v->naddrs, sizeof(*v->addrs), addr_cmp) != NULL
		        ? SMTPD_RCPT_OK
		        : SMTPD_RCPT_UNKNOWN;
	}
	pthread_mutex_unlock(&v->lock);
	if (r == SMTPD_RCPT_TEMPFAIL)
		sg_warn("recipient list %s not readable (has the tick role written it?); answering 450",
		        v->map_path);
	return r;
}

enum smtpd_rcpt_check smtpd_verify_check(void *ctx, const char *addr)
{
	struct smtpd_verify *v = ctx;
	char low[SG_ADDR_MAX];
	lower_copy(low, sizeof(low), addr);
	if (v->o.mode == SMTPD_VERIFY_CALLAHEAD)
		return callahead(v, low);
	if (v->o.mode == SMTPD_VERIFY_DIRECTORY)
		return directory(v, low);
	return SMTPD_RCPT_OK;
}
