/* cli_tls_policy.c: `sealgate tls-policy set|delete|list|check`: the outbound TLS mode per
 * recipient domain (the tls_policy table, like Postfix's smtp_tls_policy_maps), and what DNS
 * says about a domain's MX hosts and their TLSA records, as the queue manager will see it. */
#include "cli/cli.h"
#include "core/limits.h"
#include "core/settings.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/sgdkim.h"
#include "dns/dns.h"
#include "store/store_tls_policy.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int policy_usage(void)
{
	return cli_usage("tls-policy");
}

/* A domain name from argv, lower-cased into dst: 0, or 1 with the reason printed. */
static int take_domain(const char *arg, char *dst, size_t dstsize)
{
	const char *err;
	if (strlen(arg) >= dstsize || sgdkim_domain_check(arg, &err) < 0) {
		cli_errorf("'%.100s': not a domain name", arg);
		return 1;
	}
	sg_strlcpy(dst, arg, dstsize);
	sg_ascii_lower(dst);
	return 0;
}

static int cmd_set(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	char domain[SG_DOMAIN_MAX + 1];
	enum tls_policy_mode mode;
	const char *err;
	if (argc != 2)
		return policy_usage();
	if (take_domain(argv[0], domain, sizeof(domain)) != 0)
		return 1;
	if (tls_policy_mode_parse(argv[1], &mode) < 0) {
		cli_errorf("mode '%.50s': one of %s", argv[1], tls_policy_mode_choices());
		return 1;
	}
	if (store_tls_policy_set(ctx->store, domain, mode, &err) < 0) {
		cli_errorf("store: %s", err);
		return 1;
	}
	cli_audit(ctx->store, "tls-policy-set", "", "%s %s", domain, argv[1]);
	printf("%s: %s\n", domain, argv[1]);
	return 0;
}

static int cmd_delete(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	char domain[SG_DOMAIN_MAX + 1];
	const char *err;
	if (argc != 1)
		return policy_usage();
	if (take_domain(argv[0], domain, sizeof(domain)) != 0)
		return 1;
	int rc = store_tls_policy_delete(ctx->store, domain, &err);
	if (rc < 0) {
		cli_errorf("store: %s", err);
		return 1;
	}
	if (rc == 0) {
		cli_errorf("%s has no TLS policy of its own (deliver.tls applies)", domain);
		return 1;
	}
	cli_audit(ctx->store, "tls-policy-deleted", "", "%s", domain);
	return 0;
}

static int cmd_list(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	(void)argv;
	struct store_tls_policy *rows = NULL;
	size_t n = 0;
	const char *err;
	if (argc != 0)
		return policy_usage();
	if (store_tls_policy_list(ctx->store, &rows, &n, &err) < 0) {
		cli_errorf("store: %s", err);
		return 1;
	}
	printf("default (deliver.tls): %s\n", settings_get(ctx->settings, "deliver.tls"));
	for (size_t i = 0; i < n; i++)
		printf("%-40s %s\n", rows[i].domain, tls_policy_mode_name(rows[i].mode));
	sg_free(&rows);
	return 0;
}

/* ---- check: the DNS facts of a domain ---- */
static void check_host(struct dns_resolver *r, const char *host, unsigned int port)
{
	struct dns_addr_list addrs;
	struct dns_tlsa_list tlsa;
	const char *err;
	if (dns_lookup_addrs(r, host, &addrs, &err) < 0)
		printf("  %s: addresses: %s\n", host, err);
	else
		printf("  %s: %zu address(es), %s\n", host, addrs.count,
		       dns_security_name(addrs.security));
	for (size_t i = 0; i < addrs.count; i++)
		printf("    %s\n", addrs.addr[i]);
	if (dns_lookup_tlsa(r, host, port, &tlsa, &err) < 0) {
		printf("  _%u._tcp.%s TLSA: %s\n", port, host, err);
		return;
	}
	printf("  _%u._tcp.%s TLSA: %zu record(s), %s\n", port, host, tlsa.count,
	       dns_security_name(tlsa.security));
	for (size_t i = 0; i < tlsa.count; i++) {
		printf("    %u %u %u ", tlsa.rr[i].usage, tlsa.rr[i].selector, tlsa.rr[i].mtype);
		for (size_t k = 0; k < tlsa.rr[i].len && k < 32; k++)
			printf("%02x", tlsa.rr[i].data[k]);
		printf("%s\n", tlsa.rr[i].len > 32 ? "..." : "");
	}
}

static int check_domain(struct dns_resolver *r, const char *domain, unsigned int port)
{
	struct dns_mx_list mx;
	const char *err;
	if (dns_lookup_mx(r, domain, &mx, &err) < 0) {
		cli_errorf("%s MX: %s (%s)", domain, err, dns_security_name(mx.security));
		return 1;
	}
	printf("%s MX: %zu record(s), %s%s%s\n", domain, mx.count, dns_security_name(mx.security),
	       mx.nxdomain ? ", no such domain" : "", mx.null_mx ? ", null MX: accepts no mail" : "");
	if (mx.count == 0 && !mx.nxdomain)
		check_host(r, domain, port); /* RFC 5321 5.1: the domain itself is the host */
	for (size_t i = 0; i < mx.count && !mx.null_mx; i++) {
		printf("MX %u %s\n", mx.mx[i].pref, mx.mx[i].host);
		check_host(r, mx.mx[i].host, port);
	}
	return 0;
}

static int cmd_check(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	char domain[SG_DOMAIN_MAX + 1], ta[SG_PATH_MAX];
	struct dns_config cfg;
	struct dns_resolver *r;
	const char *err;
	enum tls_policy_mode mode;
	if (argc != 1)
		return policy_usage();
	if (take_domain(argv[0], domain, sizeof(domain)) != 0)
		return 1;
	if (dns_config_from_settings(ctx->settings, &cfg, ta, sizeof(ta), &err) < 0 ||
	    dns_resolver_new(&cfg, &r, &err) < 0) {
		cli_errorf("DNS resolver: %s", err);
		return 1;
	}
	int rc = store_tls_policy_get(ctx->store, domain, &mode, &err);
	printf("%s: TLS policy %s%s\n", domain,
	       rc == 1 ? tls_policy_mode_name(mode) : settings_get(ctx->settings, "deliver.tls"),
	       rc == 1 ? "" : " (deliver.tls)");
	rc = check_domain(r, domain, (unsigned int)settings_number(ctx->settings, "deliver.mx_port"));
	dns_resolver_free(&r);
	return rc;
}

static const struct cli_subcommand subcommands[] = {
	{"set", cmd_set, false},
	{"delete", cmd_delete, false},
	{"list", cmd_list, false},
	{"check", cmd_check, false},
};

int cli_tls_policy_cmd(int argc, char **argv)
{
	return cli_dispatch(subcommands, sizeof(subcommands) / sizeof(subcommands[0]), argc,
	                    argv, policy_usage);
}
