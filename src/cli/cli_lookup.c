/* cli_lookup.c: `sealgate lookup -c FILE ADDRESS [--source S]`: what each key-discovery source
 * answers for an address, checked as the queue manager checks it (nothing is stored), beside
 * what the cache holds; `lookup -c FILE --forget ADDRESS|--all` empties the cache. */
#include "cli/cli.h"
#include "core/limits.h"
#include "core/settings.h"
#include "core/sg_str.h"
#include "crypto/ca.h"
#include "crypto/smime.h"
#include "lookup/lookup.h"
#include "store/store_lookup.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int lookup_usage(void) { return cli_usage("lookup"); }

static struct smime_trust *open_trust(struct cli_cert_ctx *ctx)
{
	struct smime_trust *t = smime_trust_new(true);
	size_t ca_len = 0;
	const unsigned char *ca = ca_cert_der(ctx->ca, &ca_len);
	char anchors[SG_PATH_MAX];
	const char *err = "ca.trust_anchors: path too long";
	if (t == NULL || smime_trust_add_der(t, ca, ca_len, &err) < 0 ||
	    settings_path(ctx->settings, "ca.trust_anchors", anchors, sizeof(anchors)) < 0 ||
	    smime_trust_add_anchor_file(t, anchors, &err) < 0) {
		cli_errorf("trust anchors: %s", err);
		smime_trust_free(&t);
	}
	return t;
}

static void print_answer(const struct lookup_answer *a)
{
	char detail[sizeof(a->detail)];
	sg_printable(detail, sizeof(detail), a->detail, sizeof(detail) - 4);
	printf("%-5s %-8s %s", lookup_source_name(a->source), lookup_outcome_name(a->outcome),
	       detail);
	if (a->outcome == LOOKUP_FOUND)
		printf(" [%s %s]", store_lookup_kind_name(a->kind), a->fingerprint);
	printf("\n");
}

static void print_cache(struct cli_cert_ctx *ctx, const char *addr)
{
	struct store_lookup e;
	const char *err;
	int rc = store_lookup_get(ctx->store, addr, time(NULL), &e, &err);
	if (rc < 0)
		cli_errorf("store: %s", err);
	else if (rc == 0)
		printf("cache: nothing cached\n");
	else
		printf("cache: %s from %s (%s), until %lld\n", store_lookup_kind_name(e.kind), e.source,
		       e.detail, (long long)e.expires);
	store_lookup_clear(&e);
}

/* Each source of the chain (or only src, or every source when the chain is off). */
static int ask_sources(struct cli_cert_ctx *ctx, const char *addr, const char *only)
{
	const char *err = "";
	struct smime_trust *t = open_trust(ctx);
	struct lookup *lk = t != NULL ? lookup_new(ctx->settings, t, &err) : NULL;
	if (lk == NULL) {
		if (t != NULL)
			cli_errorf("%s", err);
		smime_trust_free(&t);
		return 1;
	}
	enum lookup_source srcs[LOOKUP_NSOURCES];
	size_t n = lookup_chain(lk, srcs);
	if (only != NULL) {
		n = lookup_source_parse(only, &srcs[0]) == 0 ? 1 : 0;
		if (n == 0)
			cli_errorf("--source: one of ldap, vks, hkp, wkd, dns");
	} else if (n == 0) {
		printf("policy.key_lookup = off: asking every source anyway\n");
		for (n = 0; n < LOOKUP_NSOURCES; n++)
			srcs[n] = (enum lookup_source)n;
	}
	int budget = (int)settings_number(ctx->settings, "lookup.max_wait") * 1000;
	for (size_t i = 0; i < n; i++) {
		struct lookup_answer a;
		lookup_ask(lk, srcs[i], addr, budget, &a);
		print_answer(&a);
		lookup_answer_clear(&a);
	}
	print_cache(ctx, addr);
	lookup_free(&lk);
	smime_trust_free(&t);
	return only != NULL && n == 0 ? 2 : 0;
}

static int forget(struct cli_cert_ctx *ctx, const char *arg)
{
	char addr[SG_ADDR_MAX];
	const char *err;
	size_t count = 0;
	bool all = strcmp(arg, "--all") == 0;
	if (!all && cli_take_address(arg, addr, sizeof(addr)) < 0)
		return 2;
	if (store_lookup_forget(ctx->store, all ? NULL : addr, &count, &err) < 0) {
		cli_errorf("store: %s", err);
		return 1;
	}
	printf("%zu cached answer(s) forgotten\n", count);
	return 0;
}

int cli_lookup_cmd(int argc, char **argv)
{
	const char *config = cli_take_config(&argc, argv);
	const char *only = NULL, *target = NULL;
	bool forgetting = false;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--source") == 0 && i + 1 < argc)
			only = argv[++i];
		else if (strcmp(argv[i], "--forget") == 0)
			forgetting = true;
		else if (target == NULL && (argv[i][0] != '-' || strcmp(argv[i], "--all") == 0))
			target = argv[i];
		else
			return lookup_usage();
	}
	char addr[SG_ADDR_MAX];
	if (target == NULL || (!forgetting && cli_take_address(target, addr, sizeof(addr)) < 0))
		return target == NULL ? lookup_usage() : 2;
	struct cli_cert_ctx ctx;
	if (cli_cert_open(&ctx, config, !forgetting) < 0)
		return 1;
	int rc = forgetting ? forget(&ctx, target) : ask_sources(&ctx, addr, only);
	cli_cert_close(&ctx);
	return rc;
}
