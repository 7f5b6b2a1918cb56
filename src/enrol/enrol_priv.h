/* enrol_priv.h: private to enrol/: what its files share. */
#ifndef SG_ENROL_PRIV_H
#define SG_ENROL_PRIV_H

#include "enrol/enrol.h"

/* enrol_link.c: a renewal link for successor (its predecessor prev_cert_id) with a fresh PIN,
 * and the notice that says it can be downloaded. */
int enrol_link_renewal(const struct enrol_ctx *ec, const struct store_cert *successor,
                       int64_t prev_cert_id, const char *lang, time_t now,
                       struct enrol_started *r, const char **error_r);

#endif
