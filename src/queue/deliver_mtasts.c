/* deliver_mtasts.c: MTA-STS (RFC 8461) on route mx, for the domains whose TLS mode is mta-sts
 * (deliver_mx.c asks here). The domain's policy (mtasts/mtasts.h: discovery, fetch, cache)
 * decides per MX host: enforce → only hosts the policy names, STARTTLS required, certificate
 * valid for the host (PKIX) or 4.7.5 and nothing sent; testing → as may, every failure
 * enforce would refuse is logged; no policy or mode none → may. */
#include "queue/deliver_priv.h"

#include "core/settings.h"
#include "core/sg_log.h"
#include "core/sg_str.h"

#include <stdio.h>
#include <string.h>

void deliver_mtasts_cfg_load(const struct settings *s, struct deliver_mx_cfg *cfg)
{
	settings_path(s, "deliver.ca_file", cfg->ca_file, sizeof(cfg->ca_file));
	settings_path(s, "fetch.ca_file", cfg->fetch_ca_file, sizeof(cfg->fetch_ca_file));
	if (settings_get(s, "deliver.ca_file")[0] == '\0')
		cfg->ca_file[0] = '\0';
	if (settings_get(s, "fetch.ca_file")[0] == '\0')
		cfg->fetch_ca_file[0] = '\0';
	cfg->sts_timeout_ms = (int)settings_number(s, "mta_sts.fetch_timeout") * 1000;
	cfg->sts_port = (int)settings_number(s, "mta_sts.port");
}

void deliver_mtasts_begin(struct deliver_ctx *dc, const char *domain, const char *queue_id,
                          struct deliver_sts *sts)
{
	memset(sts, 0, sizeof(*sts));
	struct mtasts_ctx c = {.store = dc->mx->store, .dns = dc->resolver,
	                       .ca_file = dc->mx->fetch_ca_file, .timeout_ms = dc->mx->sts_timeout_ms,
	                       .port = dc->mx->sts_port, .cancel = dc->cancel, .log_id = queue_id};
	char why[400];
	sts->active = mtasts_policy_for(&c, domain, &sts->policy, why, sizeof(why)) == 1;
	if (!sts->active)
		sg_info("%s: mta-sts: no policy applies to %s (%s): opportunistic TLS", queue_id, domain,
		        why);
}

int deliver_mtasts_host(const struct deliver_sts *sts, const char *domain, const char *host,
                        const char *queue_id, enum smtpc_tls *tls_r, const char **why_r,
                        struct smtpc_status *last)
{
	*tls_r = SMTPC_TLS_MAY;
	*why_r = "mta-sts: no policy, opportunistic TLS";
	if (!sts->active)
		return 0;
	bool enforce = sts->policy.mode == MTASTS_ENFORCE;
	if (!mtasts_mx_match(&sts->policy, host)) {
		char raw[SG_SPOOL_REPLY_MAX];
		snprintf(raw, sizeof(raw), "MX host %s does not match the MTA-STS policy of %s (%s)",
		         host, domain, mtasts_mode_name(sts->policy.mode));
		sg_warn("%s: mta-sts%s: %s%s", queue_id, enforce ? "" : " (testing)", raw,
		        enforce ? ": not contacted" : "; trying it anyway");
		if (enforce) {
			memset(last, 0, sizeof(*last));
			last->cls = SMTPC_TEMP;
			sg_strlcpy(last->dsn, "4.7.5", sizeof(last->dsn));
			sg_printable(last->reply, sizeof(last->reply), raw, sizeof(last->reply) - 1);
			return -1;
		}
	}
	*tls_r = enforce ? SMTPC_TLS_PKIX : SMTPC_TLS_MAY;
	*why_r = enforce ? "mta-sts enforce: certificate must be valid for the MX host"
	                 : "mta-sts testing: opportunistic TLS, failures logged";
	return 0;
}

void deliver_mtasts_params(const struct deliver_sts *sts, const struct deliver_ctx *dc,
                           struct smtpc_params *p)
{
	if (sts == NULL || !sts->active)
		return;
	p->pkix_ca_file = dc->mx->ca_file;
	p->pkix_report = sts->policy.mode == MTASTS_TESTING;
}

void deliver_mtasts_report(const struct deliver_sts *sts, const struct smtpc_conn *c,
                           const char *host, const char *queue_id)
{
	if (sts == NULL || !sts->active || sts->policy.mode != MTASTS_TESTING)
		return;
	if (smtpc_tls_version(c) == NULL)
		sg_warn("%s: mta-sts (testing): %s: no TLS; delivering anyway", queue_id, host);
	else if (smtpc_tls_problem(c)[0] != '\0')
		sg_warn("%s: mta-sts (testing): %s: %s; delivering anyway", queue_id, host,
		        smtpc_tls_problem(c));
}
