/* cli_dkim.c: `sealgate dkim generate|import|rotate|list|show|delete`: the DKIM keys of the
 * sending domains. The private key is sealed with the master key before it reaches the store;
 * what the admin gets is the DNS record to publish. */
#include "cli/cli.h"
#include "core/limits.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/keystore.h"
#include "crypto/sgdkim.h"
#include "store/store_dkim.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define TXT_CHUNK 250 /* a TXT record's strings hold at most 255 bytes each */

static int dkim_usage(void)
{
	return cli_usage("dkim");
}

struct key_args {
	char domain[SG_DOMAIN_MAX + 1];
	char selector[SG_DKIM_SELECTOR_MAX + 1];
	enum sgdkim_alg alg;
	const char *file; /* import */
};

static int take_option(struct key_args *a, const char *opt, const char *val)
{
	const char *err;
	if (strcmp(opt, "--selector") == 0) {
		if (sgdkim_selector_check(val, &err) < 0) {
			cli_errorf("--selector '%.100s': %s", val, err);
			return -1;
		}
		sg_strlcpy(a->selector, val, sizeof(a->selector));
		return 0;
	}
	if (strcmp(opt, "--type") == 0 && sgdkim_alg_parse(val, &a->alg) == 0)
		return 0;
	if (strcmp(opt, "--type") == 0)
		cli_errorf("--type: rsa2048 or ed25519");
	else
		cli_errorf("unknown option %.100s", opt);
	return -1;
}

/* DOMAIN [--selector S] [--type T] [FILE]; the selector defaults to sgYYYYMMDD. */
static int parse_key_args(int argc, char **argv, struct key_args *a)
{
	const char *err;
	memset(a, 0, sizeof(*a));
	if (argc < 1)
		return dkim_usage();
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) != 0 && a->file == NULL)
			a->file = argv[i];
		else if (i + 1 >= argc || take_option(a, argv[i], argv[i + 1]) < 0)
			return i + 1 >= argc ? dkim_usage() : 1;
		else
			i++;
	}
	if (strlen(argv[0]) > SG_DOMAIN_MAX || sgdkim_domain_check(argv[0], &err) < 0) {
		cli_errorf("'%.100s': %s", argv[0], err);
		return 1;
	}
	sg_strlcpy(a->domain, argv[0], sizeof(a->domain));
	sg_ascii_lower(a->domain);
	if (a->selector[0] == '\0') {
		time_t now = time(NULL);
		struct tm tm;
		strftime(a->selector, sizeof(a->selector), "sg%Y%m%d", gmtime_r(&now, &tm));
	}
	return 0;
}

static void print_record(const char *domain, const char *selector, const char *dns)
{
	printf("%s._domainkey.%s. IN TXT (", selector, domain);
	for (size_t off = 0, n = strlen(dns); off < n; off += TXT_CHUNK)
		printf(" \"%.*s\"", TXT_CHUNK, dns + off);
	printf(" )\n");
}

/* Seals pem for dkim:DOMAIN:SELECTOR and stores it: 0, or 1 with the reason printed. */
static int store_key(struct cli_cert_ctx *ctx, const struct key_args *a, const char *pem,
                     size_t pem_len, const char *dns)
{
	char owner[SG_DOMAIN_MAX + SG_DKIM_SELECTOR_MAX + 8];
	struct store_dkim_key k = {.dns = (char *)dns, .created = time(NULL)};
	const char *err;
	snprintf(owner, sizeof(owner), "dkim:%s:%s", a->domain, a->selector);
	sg_strlcpy(k.domain, a->domain, sizeof(k.domain));
	sg_strlcpy(k.selector, a->selector, sizeof(k.selector));
	sg_strlcpy(k.alg, sgdkim_alg_name(a->alg), sizeof(k.alg));
	if (keystore_seal_bytes(ctx->keystore, pem, pem_len, owner, &k.sealed, &k.sealed_len,
	                        &err) < 0) {
		cli_errorf("%s: %s", owner, err);
		return 1;
	}
	int rc = store_dkim_add(ctx->store, &k, &err);
	sg_free(&k.sealed);
	if (rc < 0)
		cli_errorf("store: %s", err);
	else if (rc == 0)
		cli_errorf("%s already has a key with selector %s: choose another with --selector",
		           a->domain, a->selector);
	return rc == 1 ? 0 : 1;
}

/* Number of keys domain has, or -1 (printed). */
static int count_keys(struct cli_cert_ctx *ctx, const char *domain)
{
	struct store_dkim_key *keys = NULL;
	size_t n = 0;
	const char *err;
	if (store_dkim_list(ctx->store, domain, false, &keys, &n, &err) < 0) {
		cli_errorf("store: %s", err);
		return -1;
	}
	store_dkim_list_free(&keys, n);
	return (int)n;
}

static int add_key(struct cli_cert_ctx *ctx, const struct key_args *a, const char *data,
                   size_t len)
{
	char *pem = NULL, *dns = NULL;
	size_t pem_len = 0;
	enum sgdkim_alg alg;
	const char *err;
	if (sgdkim_key_load(data, len, &pem, &pem_len, &alg, &dns, &err) < 0) {
		cli_errorf("%s: %s", a->file != NULL ? a->file : a->domain, err);
		return 1;
	}
	struct key_args b = *a;
	b.alg = alg;
	int rc = store_key(ctx, &b, pem, pem_len, dns);
	sg_free_secret(&pem, pem_len);
	if (rc == 0) {
		printf("DKIM key %s for %s (%s), private key sealed in the store; publish:\n",
		       b.selector, b.domain, sgdkim_alg_name(alg));
		print_record(b.domain, b.selector, dns);
		cli_audit(ctx->store, "dkim-key-added", "", "%s selector %s (%s)", b.domain, b.selector,
		          sgdkim_alg_name(alg));
	}
	sg_free(&dns);
	return rc;
}

static int generate(struct cli_cert_ctx *ctx, const struct key_args *a)
{
	const char *err;
	int n = count_keys(ctx, a->domain);
	if (n < 0)
		return 1;
	if (n >= SG_DKIM_KEYS_PER_DOMAIN) {
		cli_errorf("%s has %d keys already, all of which sign: delete the old one first "
		           "(sealgate dkim list, then dkim delete %s SELECTOR)", a->domain, n, a->domain);
		return 1;
	}
	char *pem = NULL;
	size_t pem_len = 0;
	if (sgdkim_key_generate(a->alg, &pem, &pem_len, &err) < 0) {
		cli_errorf("%s", err);
		return 1;
	}
	int rc = add_key(ctx, a, pem, pem_len);
	sg_free_secret(&pem, pem_len);
	return rc;
}

static int cmd_generate(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	struct key_args a;
	int rc = parse_key_args(argc, argv, &a);
	if (rc != 0)
		return rc;
	return a.file != NULL ? dkim_usage() : generate(ctx, &a);
}

static int cmd_rotate(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	struct key_args a;
	int rc = parse_key_args(argc, argv, &a);
	if (rc != 0)
		return rc;
	if (a.file != NULL)
		return dkim_usage();
	int n = count_keys(ctx, a.domain);
	if (n == 0)
		cli_errorf("%s has no key to rotate: use dkim generate", a.domain);
	if (n <= 0 || generate(ctx, &a) != 0)
		return 1;
	printf("Both keys sign now. Once the new record is in DNS (and the old one's TTL has "
	       "passed), remove the old key: sealgate dkim delete %s OLD-SELECTOR\n", a.domain);
	return 0;
}

static int cmd_import(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	struct key_args a;
	int rc = parse_key_args(argc, argv, &a);
	if (rc != 0)
		return rc;
	if (a.file == NULL)
		return dkim_usage();
	char *data = NULL;
	size_t len = 0;
	const char *err;
	if (sg_file_read_all(a.file, SG_DKIM_KEYFILE_MAX, &data, &len, &err) < 0) {
		cli_errorf("%s: %s", a.file, err);
		return 1;
	}
	rc = count_keys(ctx, a.domain) >= SG_DKIM_KEYS_PER_DOMAIN ? 1 : 0;
	if (rc != 0)
		cli_errorf("%s has two keys already: delete one first", a.domain);
	else
		rc = add_key(ctx, &a, data, len);
	sg_free_secret(&data, len);
	return rc;
}

/* list [DOMAIN] and show DOMAIN [SELECTOR]: one line per key, or its DNS record. */
static int list_keys(struct cli_cert_ctx *ctx, const char *domain, const char *selector,
                     bool records)
{
	struct store_dkim_key *keys = NULL;
	size_t n = 0, shown = 0;
	const char *err;
	if (store_dkim_list(ctx->store, domain, false, &keys, &n, &err) < 0) {
		cli_errorf("store: %s", err);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (selector != NULL && strcmp(keys[i].selector, selector) != 0)
			continue;
		char day[16];
		struct tm tm;
		strftime(day, sizeof(day), "%Y-%m-%d", gmtime_r(&keys[i].created, &tm));
		if (records)
			print_record(keys[i].domain, keys[i].selector, keys[i].dns);
		else
			printf("%s\t%s\t%s\t%s\n", keys[i].domain, keys[i].selector, keys[i].alg, day);
		shown++;
	}
	store_dkim_list_free(&keys, n);
	if (shown == 0 && domain != NULL)
		cli_errorf("no DKIM key for %.100s%s%.64s", domain, selector ? " with selector " : "",
		           selector ? selector : "");
	return shown == 0 && domain != NULL ? 1 : 0;
}

static int cmd_list(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	return argc > 1 ? dkim_usage() : list_keys(ctx, argc == 1 ? argv[0] : NULL, NULL, false);
}

static int cmd_show(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	if (argc < 1 || argc > 2)
		return dkim_usage();
	return list_keys(ctx, argv[0], argc == 2 ? argv[1] : NULL, true);
}

static int cmd_delete(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	const char *err;
	if (argc != 2)
		return dkim_usage();
	int rc = store_dkim_delete(ctx->store, argv[0], argv[1], &err);
	if (rc < 0)
		cli_errorf("store: %s", err);
	else if (rc == 0)
		cli_errorf("no DKIM key %.64s for %.100s", argv[1], argv[0]);
	else {
		printf("deleted DKIM key %s of %s: remove %s._domainkey.%s from DNS later, once "
		       "mail signed with it has been delivered\n", argv[1], argv[0], argv[1], argv[0]);
		cli_audit(ctx->store, "dkim-key-deleted", "", "%.100s selector %.64s", argv[0], argv[1]);
	}
	return rc == 1 ? 0 : 1;
}

static const struct cli_subcommand subcommands[] = {
	{"generate", cmd_generate, true}, {"rotate", cmd_rotate, true},
	{"import", cmd_import, true},     {"list", cmd_list, false},
	{"show", cmd_show, false},        {"delete", cmd_delete, false},
};

int cli_dkim_cmd(int argc, char **argv)
{
	return cli_dispatch(subcommands, sizeof(subcommands) / sizeof(subcommands[0]), argc,
	                    argv, dkim_usage);
}
