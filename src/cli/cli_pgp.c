/* cli_pgp.c: `sealgate pgp import|list|export|delete|generate|accept`: the OpenPGP keys of
 * partners (imported after pgp_key_inspect judged them) and the gateway-held key pairs of
 * internal users (generated here, the secret sealed with the master key before it is stored). */
#include "cli/cli.h"
#include "core/limits.h"
#include "core/settings.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/keystore.h"
#include "crypto/pgp.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int pgp_usage(void)
{
	return cli_usage("pgp");
}

/* A plain addr-spec, lower-cased into dst. */
static int take_address(const char *arg, char *dst, size_t dstsize)
{
	if (strchr(arg, '<') != NULL || pgp_uid_address(arg, dst, dstsize) < 0) {
		cli_errorf("'%.100s' is not a plain e-mail address (local@domain)", arg);
		return -1;
	}
	return 0;
}

static bool is_internal(const struct cli_cert_ctx *ctx, const char *address)
{
	return cli_internal_domain(ctx, strchr(address, '@') + 1);
}

/* ---- import ---- */

static int store_for(struct cli_cert_ctx *ctx, const struct pgp_key_report *r, const char *addr)
{
	const char *err;
	bool internal = is_internal(ctx, addr);
	struct store_pgp_key k = {.source = STORE_PGP_IMPORTED, .status = STORE_PGP_ACTIVE,
	                          .keydata = r->pubkey, .keydata_len = r->pubkey_len,
	                          .expires = r->expires};
	int64_t id;
	sg_strlcpy(k.fingerprint, r->fingerprint, sizeof(k.fingerprint));
	if (store_user_ensure(ctx->store, addr,
	                      internal ? STORE_USER_INTERNAL : STORE_USER_EXTERNAL, &k.user_id,
	                      &err) < 0 ||
	    store_pgp_add(ctx->store, &k, NULL, 0, &id, &err) < 0 ||
	    (!internal && store_pgp_default_channel(ctx->store, k.user_id, "pgp", &err) < 0)) {
		cli_errorf("%s: %s", addr, err);
		return -1;
	}
	return 0;
}

static int import_report(struct cli_cert_ctx *ctx, const struct pgp_key_report *r)
{
	if (!r->accepted) {
		printf("rejected %s %s: %s\n", r->fingerprint, r->uid, r->reason);
		return -1;
	}
	char until[32];
	cli_format_day(r->expires, until, sizeof(until));
	for (size_t i = 0; i < r->naddresses; i++)
		if (store_for(ctx, r, r->addresses[i]) < 0)
			return -1;
	printf("imported %s (%s, expires %s) for", r->fingerprint, r->algo, until);
	for (size_t i = 0; i < r->naddresses; i++) {
		printf(" %s", r->addresses[i]);
		cli_audit(ctx->store, "key-imported", r->addresses[i], "OpenPGP %s (%s)", r->fingerprint,
		          r->algo);
	}
	printf("\n");
	return 0;
}

/* ---- import --secret: the secret keys of internal users, sealed like generated ones ---- */

struct secret_import {
	struct cli_cert_ctx *ctx;
	const unsigned char *data; /* the key file */
	size_t len;
	const char *passphrase;    /* NULL: none given */
};

static int store_secret_for(struct cli_cert_ctx *ctx, const struct pgp_key_report *r,
                            const char *addr, const unsigned char *sealed, size_t sealed_len)
{
	const char *err;
	struct store_pgp_key k = {.source = STORE_PGP_IMPORTED, .status = STORE_PGP_ACTIVE,
	                          .keydata = r->pubkey, .keydata_len = r->pubkey_len,
	                          .expires = r->expires};
	int64_t id;
	sg_strlcpy(k.fingerprint, r->fingerprint, sizeof(k.fingerprint));
	if (store_user_ensure(ctx->store, addr, STORE_USER_INTERNAL, &k.user_id, &err) < 0 ||
	    store_pgp_add(ctx->store, &k, sealed, sealed_len, &id, &err) < 0) {
		cli_errorf("%s: %s", addr, err);
		return -1;
	}
	return 0;
}

static size_t count_internal(struct cli_cert_ctx *ctx, const struct pgp_key_report *r)
{
	size_t n = 0;
	for (size_t i = 0; i < r->naddresses; i++)
		n += is_internal(ctx, r->addresses[i]);
	return n;
}

static void print_secret_imported(const struct pgp_key_report *r, struct cli_cert_ctx *ctx)
{
	char until[32];
	cli_format_day(r->expires, until, sizeof(until));
	printf("imported %s (%s, expires %s) secret-held for", r->fingerprint, r->algo, until);
	for (size_t i = 0; i < r->naddresses; i++)
		if (is_internal(ctx, r->addresses[i]))
			printf(" %s", r->addresses[i]);
	printf("; sealed with the master key\n");
	for (size_t i = 0; i < r->naddresses; i++)
		if (!is_internal(ctx, r->addresses[i]))
			printf("note: %s is not in gateway.internal_domains: the key is not held for it\n",
			       r->addresses[i]);
	if (r->enc_stubs > 0)
		printf("warning: %zu encryption subkey(s) of %s have no secret part here: mail "
		       "encrypted to them cannot be decrypted\n", r->enc_stubs, r->fingerprint);
	if (!r->can_sign)
		printf("note: %s has no usable signing key with its secret part: it decrypts but never "
		       "signs\n", r->fingerprint);
}

static int import_secret_report(const struct secret_import *si, const struct pgp_key_report *r)
{
	const char *err;
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	if (!r->accepted) {
		printf("rejected %s %s: %s\n", r->fingerprint, r->uid, r->reason);
		return -1;
	}
	if (count_internal(si->ctx, r) == 0) {
		printf("rejected %s %s: %s is not in gateway.internal_domains: partners keep their own "
		       "secret keys (import the public key without --secret)\n", r->fingerprint, r->uid,
		       r->addresses[0]);
		return -1;
	}
	if (pgp_secret_take(si->data, si->len, r->fingerprint, si->passphrase, si->ctx->keystore,
	                    &sealed, &sealed_len, &err) < 0) {
		printf("rejected %s %s: %s\n", r->fingerprint, r->uid, err);
		return -1;
	}
	int rc = 0;
	for (size_t i = 0; i < r->naddresses && rc == 0; i++)
		if (is_internal(si->ctx, r->addresses[i]))
			rc = store_secret_for(si->ctx, r, r->addresses[i], sealed, sealed_len);
	sg_free(&sealed);
	if (rc == 0)
		print_secret_imported(r, si->ctx);
	return rc;
}

static int open_keystore(struct cli_cert_ctx *ctx)
{
	char path[SG_PATH_MAX];
	const char *err = "cannot resolve the path";
	if (settings_path(ctx->settings, "gateway.master_key", path, sizeof(path)) < 0 ||
	    keystore_open(path, &ctx->keystore, &err) < 0) {
		cli_errorf("gateway.master_key: %s", err);
		return -1;
	}
	return 0;
}

/* ---- import: the command ---- */

struct import_args {
	const char *file;
	bool secret, passphrase_stdin;
};

static int parse_import(int argc, char **argv, struct import_args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--secret") == 0)
			a->secret = true;
		else if (strcmp(argv[i], "--passphrase-stdin") == 0)
			a->passphrase_stdin = true;
		else if (a->file == NULL && argv[i][0] != '-')
			a->file = argv[i];
		else
			return -1;
	}
	if (a->passphrase_stdin && !a->secret) {
		cli_errorf("--passphrase-stdin goes with --secret (a public key has no passphrase)");
		return -1;
	}
	return a->file != NULL ? 0 : -1;
}

/* Judges every key in data and imports those that pass: 0 if at least one did. */
static int import_keys(struct cli_cert_ctx *ctx, const struct import_args *a,
                       const unsigned char *data, size_t len, const char *passphrase)
{
	struct pgp_key_report *reports = NULL;
	size_t n = 0, ok = 0;
	const char *err;
	struct secret_import si = {.ctx = ctx, .data = data, .len = len, .passphrase = passphrase};
	int rc = a->secret ? pgp_secret_inspect(data, len, time(NULL), &reports, &n, &err)
	                   : pgp_key_inspect(data, len, time(NULL), &reports, &n, &err);
	if (rc < 0) {
		cli_errorf("%s: %s", a->file, err);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		ok += (a->secret ? import_secret_report(&si, &reports[i])
		                 : import_report(ctx, &reports[i])) == 0;
	if (ok < n)
		cli_errorf("%zu of %zu keys in %s were not imported (reasons above)", n - ok, n, a->file);
	pgp_key_reports_free(&reports, n);
	return ok > 0 ? 0 : -1;
}

static int cmd_import(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	struct import_args a;
	char passphrase[SG_PGP_PASSPHRASE_MAX];
	char *data = NULL;
	size_t len = 0;
	const char *err;
	if (parse_import(argc, argv, &a) < 0)
		return pgp_usage();
	if (a.secret && open_keystore(ctx) < 0)
		return 1;
	if (a.passphrase_stdin &&
	    cli_read_secret_line(passphrase, sizeof(passphrase), "--passphrase-stdin") < 0)
		return 1;
	int rc = -1;
	if (sg_file_read_all(a.file, SG_PGP_KEYFILE_MAX, &data, &len, &err) < 0)
		cli_errorf("%s: %s", a.file, err);
	else
		rc = import_keys(ctx, &a, (unsigned char *)data, len,
		                 a.passphrase_stdin ? passphrase : NULL);
	if (a.passphrase_stdin)
		sg_wipe(passphrase, sizeof(passphrase));
	sg_free_secret(&data, len);
	return rc == 0 ? 0 : 1;
}

/* ---- list / export / delete / accept ---- */

/* The keys of one address that may sign, [start, *end_r): loaded into pc, fprs and idx. */
static size_t address_candidates(struct pgp_ctx *pc, const struct store_pgp_key *keys, size_t n,
                                 size_t start, size_t *end_r, const char **fprs, size_t *idx)
{
	size_t m = 0, end = start;
	const char *err;
	for (; end < n && strcmp(keys[end].address, keys[start].address) == 0; end++)
		if (m < SG_PGP_HELD_MAX && store_pgp_key_held(&keys[end], time(NULL)) &&
		    pgp_ctx_load_public(pc, keys[end].keydata, keys[end].keydata_len, &err) == 0) {
			fprs[m] = keys[end].fingerprint;
			idx[m++] = end;
		}
	*end_r = end;
	return m;
}

/* signs[i]: keys[i] is the one that signs for its address (the mail path's choice,
 * pgp_pick_signer, made here from the public keys). keys come sorted by address. */
static void mark_signers(const struct store_pgp_key *keys, size_t n, bool *signs)
{
	struct pgp_ctx *pc = NULL;
	const char *err;
	const char *fprs[SG_PGP_HELD_MAX];
	size_t idx[SG_PGP_HELD_MAX];
	if (pgp_ctx_new(&pc, &err) < 0)
		return;
	for (size_t start = 0, end = 0; start < n; start = end) {
		size_t m = address_candidates(pc, keys, n, start, &end, fprs, idx);
		int best = pgp_pick_signer(pc, fprs, m, time(NULL), false);
		if (best >= 0)
			signs[idx[best]] = true;
	}
	pgp_ctx_free(&pc);
}

static int cmd_list(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	char address[SG_ADDR_MAX];
	struct store_pgp_key *keys = NULL;
	size_t n = 0;
	const char *err;
	if (argc > 1)
		return pgp_usage();
	if (argc == 1 && take_address(argv[0], address, sizeof(address)) < 0)
		return 1;
	if (store_pgp_list(ctx->store, argc == 1 ? address : NULL, &keys, &n, &err) < 0) {
		cli_errorf("%s", err);
		return 1;
	}
	bool *signs = sg_calloc(n + 1, sizeof(bool));
	mark_signers(keys, n, signs);
	for (size_t i = 0; i < n; i++) {
		char until[32];
		cli_format_day(keys[i].expires, until, sizeof(until));
		printf("%-32s %s %-9s %-7s expires %s%s%s%s\n", keys[i].address, keys[i].fingerprint,
		       store_pgp_source_name(keys[i].source), store_pgp_status_name(keys[i].status),
		       until, keys[i].has_secret ? " secret-held" : "", signs[i] ? " signs" : "",
		       store_pgp_key_trusted(&keys[i]) ? "" : " unverified");
	}
	sg_free(&signs);
	if (n == 0 && argc == 1)
		cli_errorf("no OpenPGP key for %s", address);
	store_pgp_list_free(&keys, n);
	return n == 0 && argc == 1 ? 1 : 0;
}

static int cmd_export(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	char address[SG_ADDR_MAX];
	if (argc != 1)
		return pgp_usage();
	if (take_address(argv[0], address, sizeof(address)) < 0)
		return 1;
	return cli_pgp_export_active(ctx, address);
}

int cli_pgp_export_active(struct cli_cert_ctx *ctx, const char *address)
{
	const char *err = NULL;
	struct store_pgp_key k;
	struct pgp_ctx *pc = NULL;
	unsigned char *armored = NULL;
	size_t len = 0;
	int rc = 1;
	int found = store_pgp_find_active(ctx->store, address, &k, &err);
	if (found <= 0) {
		cli_errorf("%s", found == 0 ? "no active OpenPGP key for this address" : err);
		return 1;
	}
	if (pgp_ctx_new(&pc, &err) == 0 && pgp_ctx_load_public(pc, k.keydata, k.keydata_len, &err) == 0 &&
	    pgp_export_public(pc, k.fingerprint, true, &armored, &len, &err) == 0 &&
	    fwrite(armored, 1, len, stdout) == len)
		rc = 0;
	else
		cli_errorf("%s: %s", address, err != NULL ? err : "cannot write the key");
	sg_free(&armored);
	pgp_ctx_free(&pc);
	store_pgp_key_clear(&k);
	return rc;
}

static int cmd_delete(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	char address[SG_ADDR_MAX];
	size_t count = 0;
	const char *err;
	if (argc != 1)
		return pgp_usage();
	bool is_addr = strchr(argv[0], '@') != NULL;
	if (is_addr && take_address(argv[0], address, sizeof(address)) < 0)
		return 1;
	size_t flen = strlen(argv[0]);
	if (!is_addr && (flen != 40 || strspn(argv[0], "0123456789abcdefABCDEF") != flen)) {
		cli_errorf("'%.100s' is neither an e-mail address nor a 40-digit fingerprint", argv[0]);
		return 1;
	}
	int rc = is_addr ? store_pgp_delete_address(ctx->store, address, &count, &err)
	                 : store_pgp_delete_fpr(ctx->store, argv[0], &count, &err);
	if (rc < 0) {
		cli_errorf("%s", err);
		return 1;
	}
	if (count == 0) {
		cli_errorf("no OpenPGP key matches %.100s", argv[0]);
		return 1;
	}
	printf("deleted %zu key record%s\n", count, count == 1 ? "" : "s");
	cli_audit(ctx->store, "key-deleted", strchr(argv[0], '@') != NULL ? argv[0] : "",
	          "%zu OpenPGP key record(s) of %.100s", count, argv[0]);
	return 0;
}

static int cmd_accept(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	char address[SG_ADDR_MAX];
	size_t count = 0;
	const char *err = NULL;
	if (argc != 1)
		return pgp_usage();
	if (take_address(argv[0], address, sizeof(address)) < 0)
		return 1;
	if (store_pgp_accept(ctx->store, address, &count, &err) < 0) {
		cli_errorf("%s", err);
		return 1;
	}
	if (count == 0) {
		cli_errorf("%s has no pending OpenPGP key to accept", address);
		return 1;
	}
	printf("accepted the pending key of %s; it is now the active key\n", address);
	cli_audit(ctx->store, "key-accepted", address, "the pending OpenPGP key is now active");
	return 0;
}

/* ---- generate ---- */

int cli_pgp_store_generated(struct cli_cert_ctx *ctx, struct pgp_ctx *pc, const char *address,
                            const char *fpr)
{
	const char *err;
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	struct store_pgp_key k = {.source = STORE_PGP_GENERATED, .status = STORE_PGP_ACTIVE};
	int64_t id;
	int rc = -1;
	sg_strlcpy(k.fingerprint, fpr, sizeof(k.fingerprint));
	if (pgp_export_public(pc, fpr, false, &k.keydata, &k.keydata_len, &err) == 0 &&
	    pgp_secret_seal(pc, ctx->keystore, fpr, &sealed, &sealed_len, &err) == 0 &&
	    store_user_ensure(ctx->store, address, STORE_USER_INTERNAL, &k.user_id, &err) == 0 &&
	    store_pgp_add(ctx->store, &k, sealed, sealed_len, &id, &err) == 0)
		rc = 0;
	else
		cli_errorf("%s: %s", address, err);
	sg_free(&sealed);
	sg_free(&k.keydata);
	return rc;
}

static int cmd_generate(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	char address[SG_ADDR_MAX], fpr[PGP_FPR_MAX];
	enum pgp_algo algo = PGP_ALGO_ED25519;
	const char *err;
	if (argc == 3 && strcmp(argv[1], "--algo") == 0) {
		if (pgp_algo_parse(argv[2], &algo) < 0) {
			cli_errorf("--algo: ed25519 or rsa3072");
			return 2;
		}
	} else if (argc != 1) {
		return pgp_usage();
	}
	if (take_address(argv[0], address, sizeof(address)) < 0)
		return 1;
	if (!is_internal(ctx, address)) {
		cli_errorf("%s is not in gateway.internal_domains: the gateway holds keys only for "
		           "internal users and the organisation; import a partner's key instead",
		           address);
		return 1;
	}
	struct pgp_ctx *pc = NULL;
	if (pgp_ctx_new(&pc, &err) < 0 ||
	    pgp_generate(pc, address, settings_get(ctx->settings, "gateway.organization"), algo, fpr,
	                 &err) < 0) {
		cli_errorf("%s: %s", address, err);
		pgp_ctx_free(&pc);
		return 1;
	}
	int rc = cli_pgp_store_generated(ctx, pc, address, fpr);
	pgp_ctx_free(&pc);
	if (rc == 0) {
		printf("generated %s for %s (%s); secret key sealed in the store\n", fpr, address,
		       algo == PGP_ALGO_RSA3072 ? "rsa3072" : "ed25519/cv25519");
		cli_audit(ctx->store, "key-generated", address, "OpenPGP %s", fpr);
	}
	return rc == 0 ? 0 : 1;
}

static const struct cli_subcommand subcommands[] = {
	{"import", cmd_import, false}, {"list", cmd_list, false},
	{"export", cmd_export, false}, {"delete", cmd_delete, false},
	{"generate", cmd_generate, true}, {"accept", cmd_accept, false},
};

int cli_pgp_cmd(int argc, char **argv)
{
	return cli_dispatch(subcommands, sizeof(subcommands) / sizeof(subcommands[0]), argc,
	                    argv, pgp_usage);
}
