/* dns_resolver.c: the libunbound context (forwarders or resolv.conf, trust anchors) and one
 * query with a deadline. libunbound's own ub_resolve has no deadline, so the query is asked
 * asynchronously (a resolver thread of libunbound's) and waited for with poll() in slices, so
 * that shutdown (cancel) and the deadline are both kept. */
#include "dns/dns.h"

#include "core/settings.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unbound.h>
#include <unistd.h>

#define DNS_POLL_SLICE_MS 200 /* how often a waiting query looks at the cancel flag */

struct dns_resolver {
	struct ub_ctx *ub;
	int timeout_ms;
	const atomic_int *cancel;
};

const char *dns_security_name(enum dns_security sec)
{
	return sec == DNS_SECURE ? "secure" : sec == DNS_BOGUS ? "bogus" : "insecure";
}

/* "IP" or "IP@PORT": digits, hex, dots and colons before an optional @PORT. */
static bool forwarder_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	const char *at = strchr(s, '@');
	for (const char *p = s; *p != '\0' && p != at; p++)
		if (strchr("0123456789abcdefABCDEF.:", *p) == NULL)
			return false;
	if (at == NULL)
		return true;
	const char *err;
	sg_strtonum(at + 1, 1, 65535, &err);
	return err == NULL;
}

static int add_forwarders(struct ub_ctx *ub, const char *list, const char **error_r)
{
	struct sg_strlist l = {0};
	sg_strlist_split(&l, list);
	int rc = l.count > 0 ? 0 : -1;
	*error_r = "dns.resolver: give system or a list of IP[@PORT]";
	for (size_t i = 0; rc == 0 && i < l.count; i++) {
		if (!forwarder_ok(l.items[i]) || ub_ctx_set_fwd(ub, l.items[i]) != 0)
			rc = -1;
	}
	sg_strlist_free(&l);
	return rc;
}

static int configure(struct ub_ctx *ub, const struct dns_config *cfg, const char **error_r)
{
	/* Forwarders and resolv.conf may well name a resolver on this machine. */
	if (ub_ctx_set_option(ub, "do-not-query-localhost:", "no") != 0 ||
	    ub_ctx_async(ub, 1) != 0) {
		*error_r = "libunbound refused its options";
		return -1;
	}
	if (strcmp(cfg->resolver, "system") == 0) {
		if (ub_ctx_resolvconf(ub, NULL) != 0) {
			*error_r = "dns.resolver = system: cannot read /etc/resolv.conf";
			return -1;
		}
	} else if (add_forwarders(ub, cfg->resolver, error_r) < 0) {
		return -1;
	}
	if (cfg->trust_anchor[0] == '\0')
		return 0;
	/* libunbound reads the file only at the first query: check it now, with a clear error. */
	int fd = open(cfg->trust_anchor, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || ub_ctx_add_ta_file(ub, cfg->trust_anchor) != 0) {
		if (fd >= 0)
			close(fd);
		*error_r = "dns.trust_anchor: cannot read the file (install dns-root-data for "
		           "/usr/share/dns/root.key)";
		return -1;
	}
	close(fd);
	return 0;
}

int dns_resolver_new(const struct dns_config *cfg, struct dns_resolver **r_r,
                     const char **error_r)
{
	*r_r = NULL;
	struct ub_ctx *ub = ub_ctx_create();
	if (ub == NULL) {
		*error_r = "libunbound: cannot create a resolver context";
		return -1;
	}
	if (configure(ub, cfg, error_r) < 0) {
		ub_ctx_delete(ub);
		return -1;
	}
	struct dns_resolver *r = sg_calloc(1, sizeof(*r));
	r->ub = ub;
	r->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000;
	r->cancel = cfg->cancel;
	*r_r = r;
	return 0;
}

void dns_resolver_free(struct dns_resolver **rp)
{
	if (*rp == NULL)
		return;
	ub_ctx_delete((*rp)->ub);
	sg_free(rp);
}

int dns_config_from_settings(const struct settings *s, struct dns_config *cfg_r,
                             char *path_buf, size_t path_size, const char **error_r)
{
	memset(cfg_r, 0, sizeof(*cfg_r));
	cfg_r->resolver = settings_get(s, "dns.resolver");
	cfg_r->timeout_ms = (int)(settings_number(s, "dns.timeout") * 1000);
	path_buf[0] = '\0';
	if (settings_get(s, "dns.trust_anchor")[0] != '\0' &&
	    settings_path(s, "dns.trust_anchor", path_buf, path_size) < 0) {
		*error_r = "dns.trust_anchor: path too long";
		return -1;
	}
	cfg_r->trust_anchor = path_buf;
	return 0;
}

/* ---- one query ---- */
struct pending {
	bool done;
	int err;
	struct ub_result *res;
};

static void on_result(void *arg, int err, struct ub_result *res)
{
	struct pending *p = arg;
	p->done = true;
	p->err = err;
	p->res = res;
}

/* Waits for p within the resolver's deadline. 0 done, -1 with *error_r (then cancelled). */
static int wait_result(struct dns_resolver *r, struct pending *p, int id, const char **error_r)
{
	int64_t deadline = sg_mono_ms() + r->timeout_ms;
	while (!p->done) {
		int64_t left = deadline - sg_mono_ms();
		if (left <= 0 || (r->cancel != NULL && *r->cancel)) {
			ub_cancel(r->ub, id);
			*error_r = left <= 0 ? "DNS query timed out" : "DNS query cancelled";
			return -1;
		}
		struct pollfd pfd = {.fd = ub_fd(r->ub), .events = POLLIN};
		int n = poll(&pfd, 1, (int)(left < DNS_POLL_SLICE_MS ? left : DNS_POLL_SLICE_MS));
		if ((n < 0 && errno != EINTR) || (n > 0 && ub_process(r->ub) != 0)) {
			ub_cancel(r->ub, id);
			*error_r = "libunbound failed while waiting for an answer";
			return -1;
		}
	}
	return 0;
}

static int result_to_answer(struct ub_result *res, struct dns_answer *a, const char **error_r)
{
	a->priv = res;
	a->nxdomain = res->nxdomain != 0;
	a->security = res->bogus ? DNS_BOGUS : res->secure ? DNS_SECURE : DNS_INSECURE;
	if (res->bogus) {
		sg_printable(a->why_bogus, sizeof(a->why_bogus),
		             res->why_bogus != NULL ? res->why_bogus : "no reason given",
		             sizeof(a->why_bogus) - 1);
		*error_r = "DNSSEC validation failed (bogus answer)";
		return -1;
	}
	if (res->rcode != 0 && res->rcode != 3) { /* neither NOERROR nor NXDOMAIN */
		*error_r = res->rcode == 2 ? "DNS server failure (SERVFAIL)" : "DNS query refused or failed";
		return -1;
	}
	for (size_t i = 0; res->havedata && res->data[i] != NULL && a->count < DNS_RECORDS_MAX; i++) {
		if (res->len[i] < 0 || res->len[i] > DNS_RDATA_MAX)
			continue;
		a->rr[a->count].data = (const unsigned char *)res->data[i];
		a->rr[a->count].len = (size_t)res->len[i];
		a->count++;
	}
	return 0;
}

int dns_query(struct dns_resolver *r, const char *name, enum dns_type type,
              struct dns_answer *a_r, const char **error_r)
{
	memset(a_r, 0, sizeof(*a_r));
	if (strlen(name) == 0 || strlen(name) > DNS_NAME_MAX) {
		*error_r = "DNS name empty or too long";
		return -1;
	}
	struct pending p = {0};
	int id = 0;
	int err = ub_resolve_async(r->ub, name, (int)type, 1 /* IN */, &p, on_result, &id);
	if (err != 0) {
		*error_r = ub_strerror(err);
		return -1;
	}
	if (wait_result(r, &p, id, error_r) < 0)
		return -1;
	if (p.err != 0 || p.res == NULL) {
		*error_r = p.err != 0 ? ub_strerror(p.err) : "libunbound gave no result";
		return -1;
	}
	return result_to_answer(p.res, a_r, error_r);
}

void dns_answer_free(struct dns_answer *a)
{
	if (a->priv != NULL)
		ub_resolve_free(a->priv);
	a->priv = NULL;
	a->count = 0;
}
