/* sg_metrics.c: the counters of sg_metrics.h in one array of 64-bit atomics. Each metric is
 * a family with up to three labels, each with a fixed list of values, so that every series has
 * a fixed slot: offset + the mixed-radix number of its label values. */
#include "core/sg_metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define LABELS_MAX 3
#define SLOTS 1024
#define METRICS_MAGIC 0x53474d32u /* "SGM2" */

static const char *const v_client[] = {"internal", "external"};
static const char *const v_status[] = {"delivered", "deferred", "bounced", "held"};
static const char *const v_direction[] = {"outbound", "inbound", "internal", "unknown"};
/* The policy actions (policy_action_name), then "none" for a recipient not planned. */
static const char *const v_channel[] = {"pass", "smime", "pgp", "pdf", "webmail", "inbound",
                                        "refuse", "hold", "portal", "none"};
static const char *const v_kind[] = {"temporary", "permanent"};
static const char *const v_login[] = {"ok", "failed", "locked"};
static const char *const v_tls[] = {"in", "out"};
static const char *const v_cert[] = {"ca", "user"};

#define VALUES(a) {a, sizeof(a) / sizeof((a)[0])}

struct label {
	const char *name;
	struct {
		const char *const *v;
		size_t n;
	} values;
};

struct family {
	const char *name;
	const char *type; /* counter | gauge */
	const char *help;
	size_t nlabels;
	struct label labels[LABELS_MAX];
};

/* clang-format off */
static const struct family families[SG_MET__COUNT] = {
	[SG_MET_RECEIVED] = {"sealgate_messages_received_total", "counter",
		"Messages accepted by smtpd (250 after DATA), by client network.",
		1, {{"client", VALUES(v_client)}}},
	[SG_MET_MESSAGES] = {"sealgate_messages_total", "counter",
		"Delivery outcomes, one per recipient: delivered, deferred, bounced or held, by "
		"direction and channel (the policy action).",
		3, {{"status", VALUES(v_status)}, {"direction", VALUES(v_direction)},
		    {"channel", VALUES(v_channel)}}},
	[SG_MET_TRANSFORM_ERROR] = {"sealgate_transform_errors_total", "counter",
		"Transforms (encrypt, decrypt, SecurePDF, hold, refuse) that failed, by channel and kind.",
		2, {{"channel", VALUES(v_channel)}, {"kind", VALUES(v_kind)}}},
	[SG_MET_PORTAL_LOGIN] = {"sealgate_portal_logins_total", "counter",
		"Portal logins: ok, failed (wrong password) or locked (refused while throttled).",
		1, {{"result", VALUES(v_login)}}},
	[SG_MET_LDAP_SEARCH] = {"sealgate_ldap_searches_total", "counter",
		"LDAP search requests answered by ldapd.", 0, {{0}}},
	[SG_MET_TLS] = {"sealgate_tls_sessions_total", "counter",
		"SMTP sessions with TLS: in (STARTTLS offered by smtpd) and out (to next hops).",
		1, {{"direction", VALUES(v_tls)}}},
	[SG_MET_CERT_EXPIRY] = {"sealgate_certificate_expiry_timestamp_seconds", "gauge",
		"Earliest notAfter (Unix time) of the instance CA and of the unrevoked user and proxy "
		"certificates the gateway holds keys for.",
		1, {{"kind", VALUES(v_cert)}}},
};
/* clang-format on */

/* Delivery latency reaches days (retries); store transactions take microseconds to the
 * busy timeout; a SecurePDF worker takes tens of milliseconds to its wall limit. */
static const double b_delivery[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800,
                                    3600, 86400};
static const double b_pdf[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
static const double b_store[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05, 0.1, 0.25, 0.5, 1, 5};
#define HBUCKETS_MAX 16
_Static_assert(sizeof(b_delivery) / sizeof(double) <= HBUCKETS_MAX &&
                   sizeof(b_pdf) / sizeof(double) <= HBUCKETS_MAX &&
                   sizeof(b_store) / sizeof(double) <= HBUCKETS_MAX,
               "a histogram has more buckets than the block holds");

struct histogram {
	const char *name;
	const char *help;
	const double *b;
	size_t n;
};

#define BUCKETS(a) a, sizeof(a) / sizeof((a)[0])

static const struct histogram histograms[SG_HIST__COUNT] = {
	[SG_HIST_DELIVERY] = {"sealgate_delivery_duration_seconds",
	                      "Time from arrival to delivery, per delivered recipient.",
	                      BUCKETS(b_delivery)},
	[SG_HIST_PDF_WALL] = {"sealgate_pdf_worker_duration_seconds",
	                      "Wall time of each SecurePDF worker, from its start to its exit.",
	                      BUCKETS(b_pdf)},
	[SG_HIST_PDF_CPU] = {"sealgate_pdf_worker_cpu_seconds",
	                     "User and system CPU time of each SecurePDF worker.", BUCKETS(b_pdf)},
	[SG_HIST_STORE] = {"sealgate_store_transaction_duration_seconds",
	                   "Time of each store transaction, from BEGIN (waiting for the database "
	                   "lock included) to COMMIT or ROLLBACK.",
	                   BUCKETS(b_store)},
};

struct block {
	uint32_t magic;
	uint32_t slots;
	/* per histogram: per bucket (not cumulative), then count, then sum in µs */
	_Atomic uint64_t hist[SG_HIST__COUNT][HBUCKETS_MAX + 2];
	_Atomic uint64_t v[SLOTS];
};

static struct block local = {.magic = METRICS_MAGIC, .slots = SLOTS};
static struct block *blk = &local;

static size_t series_count(const struct family *f)
{
	size_t n = 1;
	for (size_t i = 0; i < f->nlabels; i++)
		n *= f->labels[i].values.n;
	return n;
}

static size_t offset_of(enum sg_metric metric)
{
	size_t off = 0;
	for (int i = 0; i < (int)metric; i++)
		off += series_count(&families[i]);
	return off;
}

/* The slot of one series; a value the label does not know is its last value. */
static size_t slot_of(enum sg_metric metric, const char *const *labels)
{
	const struct family *f = &families[metric];
	size_t idx = 0;
	for (size_t i = 0; i < f->nlabels; i++) {
		size_t n = f->labels[i].values.n, k = n - 1;
		for (size_t j = 0; labels != NULL && labels[i] != NULL && j < n; j++)
			if (strcmp(labels[i], f->labels[i].values.v[j]) == 0)
				k = j;
		idx = idx * n + k;
	}
	return offset_of(metric) + idx;
}

int sg_metrics_create(void)
{
	int fd = memfd_create("sealgate-metrics", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	struct block init = {.magic = METRICS_MAGIC, .slots = SLOTS};
	/* Sealed at its size: no child can shrink it under the others (SIGBUS). */
	if (write(fd, &init, sizeof(init)) != (ssize_t)sizeof(init) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int sg_metrics_attach(int fd)
{
	if (fd < 0)
		return -1;
	void *p = mmap(NULL, sizeof(struct block), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	struct block *b = p;
	if (b->magic != METRICS_MAGIC || b->slots != SLOTS) {
		munmap(p, sizeof(struct block));
		return -1;
	}
	blk = b;
	return 0;
}

void sg_metrics_add(enum sg_metric metric, const char *const *labels, uint64_t n)
{
	size_t s = slot_of(metric, labels);
	if (s < SLOTS)
		atomic_fetch_add_explicit(&blk->v[s], n, memory_order_relaxed);
}

void sg_metrics_inc1(enum sg_metric metric, const char *label)
{
	const char *labels[1] = {label};
	sg_metrics_add(metric, labels, 1);
}

void sg_metrics_set(enum sg_metric metric, const char *const *labels, int64_t value)
{
	size_t s = slot_of(metric, labels);
	if (s < SLOTS)
		atomic_store_explicit(&blk->v[s], (uint64_t)value, memory_order_relaxed);
}

void sg_metrics_observe(enum sg_histogram h, double seconds)
{
	if ((unsigned)h >= SG_HIST__COUNT)
		return;
	const struct histogram *hg = &histograms[h];
	_Atomic uint64_t *v = blk->hist[h];
	size_t b = 0;
	while (b < hg->n && seconds > hg->b[b])
		b++;
	if (b < hg->n)
		atomic_fetch_add_explicit(&v[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&v[HBUCKETS_MAX], 1, memory_order_relaxed);
	uint64_t us = seconds > 0 ? (uint64_t)(seconds * 1e6) : 0;
	atomic_fetch_add_explicit(&v[HBUCKETS_MAX + 1], us, memory_order_relaxed);
}

/* The label set of series idx of f, as {a="x",b="y"} ("" without labels). */
static void write_labels(struct sg_buf *out, const struct family *f, size_t idx)
{
	size_t k[LABELS_MAX];
	for (size_t i = f->nlabels; i-- > 0;) {
		k[i] = idx % f->labels[i].values.n;
		idx /= f->labels[i].values.n;
	}
	for (size_t i = 0; i < f->nlabels; i++)
		sg_buf_printf(out, "%s%s=\"%s\"", i == 0 ? "{" : ",", f->labels[i].name,
		              f->labels[i].values.v[k[i]]);
	if (f->nlabels > 0)
		sg_buf_append_str(out, "}");
}

/* A counter family with one label or none is written whole (zeros included), so that rate()
 * sees it from the start; a larger one only with the series that have happened. */
static void write_family(struct sg_buf *out, enum sg_metric metric)
{
	const struct family *f = &families[metric];
	size_t off = offset_of(metric), n = series_count(f);
	sg_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
	bool gauge = strcmp(f->type, "gauge") == 0;
	for (size_t i = 0; i < n && off + i < SLOTS; i++) {
		uint64_t v = atomic_load_explicit(&blk->v[off + i], memory_order_relaxed);
		if (v == 0 && (gauge || f->nlabels > 1))
			continue;
		sg_buf_append_str(out, f->name);
		write_labels(out, f, i);
		if (gauge)
			sg_buf_printf(out, " %lld\n", (long long)v);
		else
			sg_buf_printf(out, " %llu\n", (unsigned long long)v);
	}
}

static void write_histogram(struct sg_buf *out, enum sg_histogram h)
{
	const struct histogram *hg = &histograms[h];
	_Atomic uint64_t *v = blk->hist[h];
	sg_buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", hg->name, hg->help, hg->name);
	uint64_t cum = 0;
	for (size_t b = 0; b < hg->n; b++) {
		cum += atomic_load_explicit(&v[b], memory_order_relaxed);
		sg_buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", hg->name, hg->b[b],
		              (unsigned long long)cum);
	}
	/* count is read after the buckets: an observation in between must not make +Inf < le */
	uint64_t count = atomic_load_explicit(&v[HBUCKETS_MAX], memory_order_relaxed);
	uint64_t us = atomic_load_explicit(&v[HBUCKETS_MAX + 1], memory_order_relaxed);
	if (count < cum)
		count = cum;
	sg_buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", hg->name,
	              (unsigned long long)count, hg->name, (double)us / 1e6, hg->name,
	              (unsigned long long)count);
}

void sg_metrics_write(struct sg_buf *out)
{
	for (int m = 0; m < (int)SG_MET__COUNT; m++)
		write_family(out, (enum sg_metric)m);
	for (int h = 0; h < (int)SG_HIST__COUNT; h++)
		write_histogram(out, (enum sg_histogram)h);
}
