/* roles.c: the process graph of sealgate as a table: every child the master starts, what it
 * runs, what it may touch, which settings it logs after a SIGHUP. docs/architecture.md draws
 * the same table; a new role is a row here and nowhere else. */
#include "daemon/daemon.h"
#include "keyd/keyd.h"
#include "ldap/ldapd.h"
#include "metrics/metricsd.h"
#include "portal/portal.h"
#include "queue/qmgr.h"
#include "smtp/smtp.h"

#include <string.h>

static const struct role_def roles[] = {
	{.name = "keyd",
	 .entry = keyd_main,
	 .listen_key = NULL,
	 .opens_store = false,
	 .spool_dirs = "",
	 .overlap_on_reload = true, /* clients' connections wait for whichever keyd takes them */
	 .sections = "gateway.master_key log.",
	 .doc = "the key process: the only one that reads the master key and holds private keys; "
	        "answers seal, unseal, sign and decrypt requests of qmgr, the portal and tick over "
	        "socket pairs set up by the master; no network, no store"},
	{.name = "smtpd",
	 .entry = smtpd_main,
	 .listen_key = "smtp.listen",
	 .opens_store = false,
	 .spool_dirs = "tmp data incoming",
	 .overlap_on_reload = true,
	 .sections = "smtp. gateway.hostname gateway.internal_domains gateway.spool_dir log.",
	 .account_key = "gateway.smtp_user",
	 .doc = "receives mail over SMTP and writes it durably to the spool"},
	{.name = "qmgr",
	 .entry = qmgr_main,
	 .listen_key = NULL,
	 .opens_store = true,
	 .spool_dirs = "incoming active data tmp trigger",
	 .overlap_on_reload = false, /* two queue managers would deliver the same message twice */
	 .sections = "queue. route. deliver. dns. policy. pgp. ca. gateway. store. lookup. log.",
	 .doc = "plans, transforms and delivers queued mail; retries and bounces"},
	{.name = "ldapd",
	 .entry = ldapd_main,
	 .listen_key = "ldap.listen",
	 .opens_store = true,
	 .spool_dirs = "",
	 .overlap_on_reload = true, /* read only: two for a moment do no harm */
	 .sections = "ldap. gateway.organization gateway.ca_dir smtp.tls_cert smtp.tls_key store. log.",
	 .account_key = "gateway.ldap_user",
	 .doc = "serves the certificate directory (LDAP) to Outlook and Thunderbird"},
	{.name = "portal",
	 .entry = portal_main,
	 .listen_key = "portal.listen",
	 .opens_store = true,
	 .spool_dirs = "tmp data incoming",
	 .overlap_on_reload = true, /* sessions live in the store: a new child takes over */
	 .sections = "portal. policy. gateway. directory. enrol. ca. smtp.tls_cert smtp.tls_key "
	             "store. log.",
	 .doc = "the web portal: partners register, log in and choose their secure channel; "
	        "employees log in with their directory password and fetch their certificates"},
	{.name = "tick",
	 .entry = tick_main,
	 .listen_key = NULL,
	 .opens_store = true,
	 .spool_dirs = "tmp data incoming",
	 .overlap_on_reload = false, /* one clock: two would send the same notice twice */
	 .sections = "gateway. ca. enrol. portal.reply_link_days portal.base_url directory. store. "
	             "log.",
	 .doc = "clock-driven work: expires and releases held mail, purges expired Reply links, "
	        "refreshes the CRL, writes the recipient list, follows the directory (employees who "
	        "left lose their certificates), expires enrolment links and renews employees' "
	        "certificates"},
	{.name = "metrics",
	 .entry = metricsd_main,
	 .listen_key = "metrics.listen",
	 .opens_store = false,
	 .spool_dirs = "incoming active",
	 .overlap_on_reload = true, /* read only: two for a moment do no harm */
	 .sections = "metrics. gateway.spool_dir log.",
	 .doc = "serves the counters and the queue's length and age to Prometheus (/metrics); idle "
	        "while metrics.listen is empty"},
};

const struct role_def *roles_table(size_t *count_r)
{
	*count_r = sizeof(roles) / sizeof(roles[0]);
	return roles;
}

const struct role_def *roles_find(const char *name)
{
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcmp(roles[i].name, name) == 0)
			return &roles[i];
	return NULL;
}
