/* sg_metrics.h: the gateway's counters for Prometheus. The master makes one small block of
 * shared memory (a sealed memfd) before its first child and hands it to every child it
 * starts, so counters outlive a child's restart (not the master's: Prometheus takes counter
 * resets in its stride). Roles only add to counters and set gauges; the metrics role writes
 * them out in the text exposition format. Nothing is read back by the mail path: a child that
 * scribbles on the block falsifies numbers, never mail. Without a block (the CLI, unit tests)
 * the counters live in the process. */
#ifndef SG_METRICS_H
#define SG_METRICS_H

#include "core/sg_buf.h"

#include <stdint.h>

enum sg_metric {
	SG_MET_RECEIVED,        /* client: internal|external */
	SG_MET_MESSAGES,        /* status, direction, channel (per recipient) */
	SG_MET_TRANSFORM_ERROR, /* channel, kind: temporary|permanent */
	SG_MET_PORTAL_LOGIN,    /* result: ok|failed|locked */
	SG_MET_LDAP_SEARCH,     /* (none) */
	SG_MET_TLS,             /* direction: in|out */
	SG_MET_CERT_EXPIRY,     /* gauge, kind: ca|user */
	SG_MET__COUNT
};

/* Histograms of durations in seconds (each with its own buckets, no labels). */
enum sg_histogram {
	SG_HIST_DELIVERY, /* arrival to delivery, per delivered recipient */
	SG_HIST_PDF_WALL, /* SecurePDF worker: start to exit */
	SG_HIST_PDF_CPU,  /* SecurePDF worker: user + system CPU */
	SG_HIST_STORE,    /* store transaction: BEGIN (waiting for the lock included) to its end */
	SG_HIST__COUNT
};

/* Master: the block (a memfd), or -1 with errno. */
int sg_metrics_create(void);
/* Child: maps the block at fd (closed here); -1 if it cannot (counters stay in-process). */
int sg_metrics_attach(int fd);
/* Adds n to the series of metric with these label values (one per label of the metric, in
 * its order; a value the metric does not know counts as its last value). */
void sg_metrics_add(enum sg_metric metric, const char *const *labels, uint64_t n);
/* The same for a metric with one label or none. */
void sg_metrics_inc1(enum sg_metric metric, const char *label);
/* Sets a gauge series (0: no value: the series is not written). */
void sg_metrics_set(enum sg_metric metric, const char *const *labels, int64_t value);
/* One observation of seconds in histogram h. */
void sg_metrics_observe(enum sg_histogram h, double seconds);
/* Appends every metric in the Prometheus text exposition format (0.0.4). */
void sg_metrics_write(struct sg_buf *out);

#endif
