/* metricsd.h: the metrics role: serves the shared counters (core/sg_metrics.h) and the queue's
 * length and oldest age as /metrics in the Prometheus text format on metrics.listen. Off
 * (no socket, the process idles) while metrics.listen is empty. */
#ifndef SG_METRICSD_H
#define SG_METRICSD_H

struct role_ctx;
int metricsd_main(struct role_ctx *ctx);

#endif
