/* cli_domain.c: `sealgate domain import|list|delete|set-channel|own|export`: gateway-to-gateway
 * domain encryption. A partner gateway's domain certificate or OpenPGP key encrypts mail to
 * every recipient of its domain who has no key of their own; our own domain certificate (from
 * the instance CA) and key (generated here, sealed) decrypt mail for any internal recipient of
 * ours. The store keeps both under the domain's pseudo-address "@domain" (policy_domain.c). */
#include "cli/cli.h"
#include "core/limits.h"
#include "core/settings.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/ca.h"
#include "crypto/keystore.h"
#include "crypto/pgp.h"
#include "crypto/smime.h"
#include "enrol/enrol.h"
#include "policy/policy.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The address our own domain certificate and key name: every domain has a postmaster
 * (RFC 5321 §4.5.1), and partners' gateways accept it as a domain name. */
#define OWN_LOCAL "postmaster"

static int domain_usage(void)
{
	return cli_usage("domain");
}

/* The domain argument as the store's pseudo-address "@domain". */
static int take_domain(const char *arg, char *owner, size_t size)
{
	if (strchr(arg, '@') != NULL || policy_domain_owner(arg, owner, size) < 0) {
		cli_errorf("'%.100s' is not a domain name (like partner.example)", arg);
		return -1;
	}
	return 0;
}

static bool names_domain(const char *name, const char *domain)
{
	return policy_domain_names(name, domain);
}

/* ---- import ---- */

static struct enrol_ctx enrol_ctx_of(const struct cli_cert_ctx *ctx)
{
	return (struct enrol_ctx){.settings = ctx->settings, .store = ctx->store,
	                          .keystore = ctx->keystore, .ca = ctx->ca};
}

/* The channel a partner domain gets when it had none: the kind of its first import. */
static int default_channel(struct cli_cert_ctx *ctx, const char *owner, const char *channel)
{
	struct store_user u;
	const char *err;
	if (store_user_find(ctx->store, owner, &u, &err) != 1 ||
	    store_pgp_default_channel(ctx->store, u.id, channel, &err) < 0) {
		cli_errorf("%s: %s", owner + 1, err);
		return -1;
	}
	return 0;
}

static int import_cert(struct cli_cert_ctx *ctx, const char *owner, const unsigned char *der,
                       size_t der_len)
{
	const char *domain = owner + 1, *why, *err;
	if (!smime_cert_any_name(der, der_len, names_domain, domain)) {
		cli_errorf("the certificate does not name %s: a domain certificate must name the domain "
		           "(SAN dNSName or rfc822Name %s) or a role address such as postmaster@%s",
		           domain, domain, domain);
		return -1;
	}
	if (smime_cert_usable(der, der_len, SMIME_USAGE_ENCRYPT, time(NULL), 0, &why) < 0) {
		cli_errorf("the certificate for %s cannot be used to encrypt: %s", domain, why);
		return -1;
	}
	struct enrol_ctx ec = enrol_ctx_of(ctx);
	struct store_cert c;
	if (enrol_store(&ec, owner, STORE_USER_EXTERNAL, STORE_CERT_IMPORTED, der, der_len, NULL, &c,
	                &err) < 0) {
		cli_errorf("%s: %s", domain, err);
		return -1;
	}
	char until[32];
	cli_format_day(c.not_after, until, sizeof(until));
	printf("imported domain certificate for %s: serial %s, issuer %s, valid until %s\n", domain,
	       c.serial, c.issuer, until);
	cli_audit(ctx->store, "cert-imported", owner, "domain certificate serial %s issuer %s",
	          c.serial, c.issuer);
	store_cert_clear(&c);
	return default_channel(ctx, owner, "smime");
}

static int store_domain_key(struct cli_cert_ctx *ctx, const char *owner,
                            const struct pgp_key_report *r)
{
	const char *err;
	struct store_pgp_key k = {.source = STORE_PGP_IMPORTED, .status = STORE_PGP_ACTIVE,
	                          .keydata = r->pubkey, .keydata_len = r->pubkey_len,
	                          .expires = r->expires};
	int64_t id;
	sg_strlcpy(k.fingerprint, r->fingerprint, sizeof(k.fingerprint));
	if (store_user_ensure(ctx->store, owner, STORE_USER_EXTERNAL, &k.user_id, &err) < 0 ||
	    store_pgp_add(ctx->store, &k, NULL, 0, &id, &err) < 0) {
		cli_errorf("%s: %s", owner + 1, err);
		return -1;
	}
	printf("imported domain key %s (%s) for %s\n", r->fingerprint, r->algo, owner + 1);
	cli_audit(ctx->store, "key-imported", owner, "OpenPGP domain key %s (%s)", r->fingerprint,
	          r->algo);
	return default_channel(ctx, owner, "pgp");
}

static bool report_names_domain(const struct pgp_key_report *r, const char *domain)
{
	for (size_t i = 0; i < r->naddresses; i++)
		if (policy_domain_names(r->addresses[i], domain))
			return true;
	return false;
}

static int import_key(struct cli_cert_ctx *ctx, const char *owner, const unsigned char *data,
                      size_t len)
{
	struct pgp_key_report *reports = NULL;
	size_t n = 0, stored = 0;
	const char *err;
	if (pgp_key_inspect(data, len, time(NULL), &reports, &n, &err) < 0) {
		cli_errorf("neither a certificate nor an OpenPGP key: %s", err);
		return -1;
	}
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (!reports[i].accepted)
			printf("rejected %s %s: %s\n", reports[i].fingerprint, reports[i].uid,
			       reports[i].reason);
		else if (!report_names_domain(&reports[i], owner + 1))
			printf("rejected %s %s: no user ID names %s or a role address such as "
			       "postmaster@%s\n", reports[i].fingerprint, reports[i].uid, owner + 1, owner + 1);
		else if ((rc = store_domain_key(ctx, owner, &reports[i])) == 0)
			stored++;
	}
	pgp_key_reports_free(&reports, n);
	if (rc == 0 && stored == 0)
		cli_errorf("no usable OpenPGP domain key for %s in the file", owner + 1);
	return rc == 0 && stored > 0 ? 0 : -1;
}

static int cmd_import(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	char owner[POLICY_DOMAIN_OWNER_MAX];
	if (argc != 2)
		return domain_usage();
	if (take_domain(argv[0], owner, sizeof(owner)) < 0)
		return 1;
	if (cli_internal_domain(ctx, owner + 1)) {
		cli_errorf("%s is an internal domain: use `sealgate domain own` for our own domain "
		           "certificate and key", owner + 1);
		return 1;
	}
	char *data = NULL;
	size_t len = 0;
	unsigned char *der = NULL;
	size_t der_len = 0;
	const char *err;
	if (sg_file_read_all(argv[1], SG_PGP_KEYFILE_MAX, &data, &len, &err) < 0) {
		cli_errorf("%s: %s: %s", argv[1], err, strerror(errno));
		return 1;
	}
	int rc = smime_cert_to_der((unsigned char *)data, len, &der, &der_len, &err) == 0
	             ? import_cert(ctx, owner, der, der_len)
	             : import_key(ctx, owner, (unsigned char *)data, len);
	sg_free(&der);
	sg_free(&data);
	return rc < 0 ? 1 : 0;
}

/* ---- list, set-channel, delete ---- */

static void list_one(struct cli_cert_ctx *ctx, const struct store_user *u)
{
	struct store_cert *certs = NULL;
	struct store_pgp_key *keys = NULL;
	size_t nc = 0, nk = 0;
	const char *err;
	printf("%s %s channel=%s\n", u->address + 1,
	       u->kind == STORE_USER_EXTERNAL ? "partner" : "own", u->channel[0] ? u->channel : "-");
	if (store_cert_list(ctx->store, u->address, &certs, &nc, &err) == 0)
		for (size_t i = 0; i < nc; i++) {
			char until[32];
			cli_format_day(certs[i].not_after, until, sizeof(until));
			printf("  certificate %s until %s%s%s\n", certs[i].serial, until,
			       certs[i].has_key ? " key-held" : "", certs[i].revoked_at ? " revoked" : "");
		}
	if (store_pgp_list(ctx->store, u->address, &keys, &nk, &err) == 0)
		for (size_t i = 0; i < nk; i++) {
			char until[32];
			cli_format_day(keys[i].expires, until, sizeof(until));
			printf("  openpgp %s expires %s%s\n", keys[i].fingerprint, until,
			       keys[i].has_secret ? " secret-held" : "");
		}
	store_cert_list_free(&certs, nc);
	store_pgp_list_free(&keys, nk);
}

static int cmd_list(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	(void)argv;
	struct store_user *users = NULL;
	size_t n = 0, shown = 0;
	const char *err;
	if (argc != 0)
		return domain_usage();
	if (store_user_list(ctx->store, &users, &n, &err) < 0) {
		cli_errorf("%s", err);
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		if (policy_domain_is_owner(users[i].address)) {
			list_one(ctx, &users[i]);
			shown++;
		}
	if (shown == 0)
		printf("no domain certificates or keys\n");
	sg_free(&users);
	return 0;
}

static int cmd_set_channel(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	char owner[POLICY_DOMAIN_OWNER_MAX];
	const char *err;
	if (argc != 2)
		return domain_usage();
	if (take_domain(argv[0], owner, sizeof(owner)) < 0)
		return 1;
	if (strcmp(argv[1], "smime") != 0 && strcmp(argv[1], "pgp") != 0) {
		cli_errorf("the channel of a domain is smime or pgp, not '%.40s'", argv[1]);
		return 2;
	}
	int rc = store_user_set_channel(ctx->store, owner, argv[1], &err);
	if (rc <= 0) {
		cli_errorf("%s", rc == 0 ? "no domain certificate or key for this domain: import one "
		                           "first" : err);
		return 1;
	}
	printf("%s: domain channel %s\n", owner + 1, argv[1]);
	cli_audit(ctx->store, "channel-set", owner, "domain channel %s", argv[1]);
	return 0;
}

static int cmd_delete(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	char owner[POLICY_DOMAIN_OWNER_MAX];
	size_t certs = 0, keys = 0;
	const char *err;
	if (argc != 1)
		return domain_usage();
	if (take_domain(argv[0], owner, sizeof(owner)) < 0)
		return 1;
	/* Certificates are revoked, not removed: ours go into the CRL, and mail already
	 * encrypted to them can still be read. */
	if (store_cert_revoke_address_reason(ctx->store, owner, time(NULL), STORE_REVOKE_CESSATION,
	                                     &certs, &err) < 0 ||
	    store_pgp_delete_address(ctx->store, owner, &keys, &err) < 0) {
		cli_errorf("%s", err);
		return 1;
	}
	if (certs + keys == 0) {
		cli_errorf("no domain certificate or key for %s", owner + 1);
		return 1;
	}
	printf("%s: %zu certificate(s) revoked, %zu OpenPGP key record(s) deleted\n", owner + 1,
	       certs, keys);
	cli_audit(ctx->store, "key-deleted", owner, "domain: %zu certificate(s) revoked, %zu key(s)",
	          certs, keys);
	return 0;
}

/* ---- own: our domain certificate and key ---- */

static int own_cert(struct cli_cert_ctx *ctx, const char *owner, const char *address)
{
	struct enrol_ctx ec = enrol_ctx_of(ctx);
	struct keystore_key *key = NULL;
	unsigned char *der = NULL;
	size_t der_len = 0;
	const char *err;
	struct store_cert c = {0};
	int days = (int)settings_number(ctx->settings, "ca.user_cert_days");
	int rc = keystore_key_generate(KEYSTORE_KEY_RSA3072, &key, &err) == 0 &&
	                 enrol_ca_issue(&ec, address, key, days, &der, &der_len, &err) == 0 &&
	                 enrol_store(&ec, owner, STORE_USER_INTERNAL, STORE_CERT_ISSUED, der,
	                             der_len, key, &c, &err) == 0
	             ? 0
	             : -1;
	if (rc == 0) {
		char until[32];
		cli_format_day(c.not_after, until, sizeof(until));
		printf("domain certificate for %s (%s): serial %s, valid until %s\n", owner + 1, address,
		       c.serial, until);
		cli_audit(ctx->store, "cert-issued", owner, "domain certificate serial %s", c.serial);
	} else {
		cli_errorf("%s: %s", owner + 1, err);
	}
	store_cert_clear(&c);
	sg_free(&der);
	keystore_key_free(&key);
	return rc;
}

static int own_key(struct cli_cert_ctx *ctx, const char *owner, const char *address)
{
	char fpr[PGP_FPR_MAX], name[400];
	struct pgp_ctx *pc = NULL;
	const char *err;
	snprintf(name, sizeof(name), "%.120s domain key (%s)",
	         settings_get(ctx->settings, "gateway.organization"), owner + 1);
	int rc = -1;
	if (pgp_ctx_new(&pc, &err) < 0 ||
	    pgp_generate(pc, address, name, PGP_ALGO_ED25519, fpr, &err) < 0)
		cli_errorf("%s: %s", owner + 1, err);
	else
		rc = cli_pgp_store_generated(ctx, pc, owner, fpr);
	pgp_ctx_free(&pc);
	if (rc == 0) {
		printf("domain key %s for %s (%s); secret key sealed in the store\n", fpr, owner + 1,
		       address);
		cli_audit(ctx->store, "key-generated", owner, "OpenPGP domain key %s", fpr);
	}
	return rc;
}

/* True when the domain holds an unrevoked certificate or an active key (after `domain delete`
 * it holds neither, and `domain own` makes new ones). */
static bool owns_something(struct cli_cert_ctx *ctx, const char *owner)
{
	struct store_cert *certs = NULL;
	struct store_pgp_key key;
	size_t n = 0;
	const char *err;
	bool found = store_pgp_find_active(ctx->store, owner, &key, &err) == 1;
	if (found)
		store_pgp_key_clear(&key);
	if (store_cert_list(ctx->store, owner, &certs, &n, &err) == 0)
		for (size_t i = 0; i < n; i++)
			found |= certs[i].revoked_at == 0;
	store_cert_list_free(&certs, n);
	return found;
}

static int cmd_own(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	char owner[POLICY_DOMAIN_OWNER_MAX], address[SG_ADDR_MAX];
	if (argc != 1)
		return domain_usage();
	if (take_domain(argv[0], owner, sizeof(owner)) < 0)
		return 1;
	if (!cli_internal_domain(ctx, owner + 1)) {
		cli_errorf("%s is not in gateway.internal_domains: the gateway holds domain keys only "
		           "for its own domains; import a partner's with `sealgate domain import`",
		           owner + 1);
		return 1;
	}
	if (owns_something(ctx, owner)) {
		cli_errorf("%s already has a domain certificate or key (`sealgate domain list`); "
		           "`sealgate domain delete %s` first to replace them", owner + 1, owner + 1);
		return 1;
	}
	snprintf(address, sizeof(address), OWN_LOCAL "%s", owner);
	return own_cert(ctx, owner, address) == 0 && own_key(ctx, owner, address) == 0 ? 0 : 1;
}

/* ---- export ---- */

static int export_cert(struct cli_cert_ctx *ctx, const char *owner)
{
	struct store_cert *certs = NULL;
	size_t n = 0;
	const char *err = "no usable domain certificate";
	char *pem = NULL;
	size_t pem_len = 0;
	int rc = 1;
	if (store_cert_list(ctx->store, owner, &certs, &n, &err) == 0) {
		for (size_t i = 0; i < n && rc != 0; i++) { /* newest first */
			const char *why;
			if (smime_cert_usable(certs[i].der, certs[i].der_len, SMIME_USAGE_ENCRYPT, time(NULL),
			                      certs[i].revoked_at, &why) < 0)
				continue;
			if (smime_cert_to_pem(certs[i].der, certs[i].der_len, &pem, &pem_len, &err) == 0 &&
			    fwrite(pem, 1, pem_len, stdout) == pem_len)
				rc = 0;
			sg_free(&pem);
		}
	}
	if (rc != 0)
		cli_errorf("%s: %s", owner + 1, n == 0 ? "no domain certificate" : err);
	store_cert_list_free(&certs, n);
	return rc;
}

static int cmd_export(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	char owner[POLICY_DOMAIN_OWNER_MAX];
	bool pgp = argc == 2 && strcmp(argv[1], "--pgp") == 0;
	if (argc != 1 && !pgp)
		return domain_usage();
	if (take_domain(argv[0], owner, sizeof(owner)) < 0)
		return 1;
	return pgp ? cli_pgp_export_active(ctx, owner) : export_cert(ctx, owner);
}

static const struct cli_subcommand subcommands[] = {
	{"import", cmd_import, false}, {"list", cmd_list, false},
	{"delete", cmd_delete, false}, {"set-channel", cmd_set_channel, false},
	{"own", cmd_own, true},        {"export", cmd_export, false},
};

int cli_domain_cmd(int argc, char **argv)
{
	return cli_dispatch(subcommands, sizeof(subcommands) / sizeof(subcommands[0]), argc, argv,
	                    domain_usage);
}
