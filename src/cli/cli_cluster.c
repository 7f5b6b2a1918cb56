/* cli_cluster.c: moving an instance onto a store that several nodes share (docs/cluster.md).
 * `sealgate store copy -c FILE --to URL` copies the SQLite store into the shared one, checks
 * every table on both sides, and puts the CA's certificate and sealed key there; `sealgate
 * init DIR --store URL --master-key FILE` (cli_init.c) fetches them from it, so that every
 * node signs with the one CA. */
#include "cli/cli.h"
#include "core/limits.h"
#include "core/settings.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "crypto/ca.h"
#include "crypto/keystore.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CA_FILE_MAX (64 * 1024)

static const char *const ca_files[] = {"ca.crt", "ca.key"};

/* Puts one file of ca_dir into st; 0 also when st holds the same bytes, -1 when it holds
 * another CA's. */
static int publish_file(struct store *st, const char *ca_dir, const char *name)
{
	char path[SG_PATH_MAX];
	char *data = NULL, *there = NULL;
	size_t len = 0, there_len = 0;
	const char *err = "path too long";
	int rc = -1;
	if (sg_path_join(path, sizeof(path), ca_dir, name) < 0 ||
	    sg_file_read_all(path, CA_FILE_MAX, &data, &len, &err) < 0)
		cli_errorf("%s/%s: %s", ca_dir, name, err);
	else if ((rc = store_ca_file_put(st, name, (const unsigned char *)data, len, sg_wall(),
	                                 &err)) < 0 ||
	         store_ca_file_get(st, name, (unsigned char **)&there, &there_len, &err) < 0)
		cli_errorf("store: %s", err);
	else if (there_len != len || memcmp(there, data, len) != 0) {
		cli_errorf(
		    "the target store holds another CA's %s: a shared store has one CA, that of "
		    "the node copied first (its nodes are made with `sealgate init --store`)",
		    name);
		rc = -1;
	}
	sg_free(&there);
	if (data != NULL)
		sg_free_secret(&data, len);
	return rc < 0 ? -1 : 0;
}

int cli_ca_publish(struct store *st, const char *ca_dir)
{
	for (size_t i = 0; i < sizeof(ca_files) / sizeof(ca_files[0]); i++)
		if (publish_file(st, ca_dir, ca_files[i]) < 0)
			return -1;
	return 0;
}

/* Writes the store's file name into ca_dir: 1 written, 0 the store has none, -1. */
static int fetch_file(struct store *st, const char *ca_dir, const char *name)
{
	char path[SG_PATH_MAX];
	unsigned char *data = NULL;
	size_t len = 0;
	const char *err = "path too long";
	int rc = sg_path_join(path, sizeof(path), ca_dir, name) < 0
	             ? -1
	             : store_ca_file_get(st, name, &data, &len, &err);
	if (rc == 1 && sg_file_write_atomic(path, data, len,
	                                    strcmp(name, "ca.key") == 0 ? 0600 : 0644, &err) < 0)
		rc = -1;
	if (rc < 0)
		cli_errorf("%s/%s: %s", ca_dir, name, err);
	if (data != NULL)
		sg_free_secret(&data, len);
	return rc;
}

static void remove_files(const char *ca_dir)
{
	char path[SG_PATH_MAX];
	for (size_t i = 0; i < sizeof(ca_files) / sizeof(ca_files[0]); i++)
		if (sg_path_join(path, sizeof(path), ca_dir, ca_files[i]) == 0)
			(void)unlink(path);
}

int cli_ca_fetch(struct store *st, const char *ca_dir, const struct keystore *ks)
{
	int found = 0;
	for (size_t i = 0; i < sizeof(ca_files) / sizeof(ca_files[0]); i++) {
		int rc = fetch_file(st, ca_dir, ca_files[i]);
		if (rc < 0)
			return -1;
		found += rc;
	}
	if (found == 0)
		return 0;
	struct ca *ca = NULL;
	const char *err;
	if (found != 2 || ca_open(ca_dir, ks, &ca, &err) < 0) {
		cli_errorf(
		    "the store's CA cannot be used with this master key (%s): give the master "
		    "key file of the other nodes with --master-key",
		    found != 2 ? "incomplete" : err);
		remove_files(ca_dir); /* init may be run again */
		return -1;
	}
	ca_close(&ca);
	return 1;
}

static void print_table(const struct store_copy_table *r)
{
	printf("  %-26s %9lld rows  %016llx%016llx  %s\n", r->name, (long long)r->rows_target,
	       (unsigned long long)r->sum_target[0], (unsigned long long)r->sum_target[1],
	       r->same ? "same" : "DIFFERS");
	if (!r->same)
		printf("  %-26s %9lld rows  %016llx%016llx  (the source)\n", "",
		       (long long)r->rows_source, (unsigned long long)r->sum_source[0],
		       (unsigned long long)r->sum_source[1]);
}

/* The copy, then every table's comparison; how many differ, or -1. */
static int copy_and_report(struct store *src, struct store *dst)
{
	struct store_copy_table *res = NULL;
	size_t n = 0, differ = 0;
	const char *err;
	if (store_copy_to(src, dst, &res, &n, &err) < 0) {
		cli_errorf("%s", err);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		print_table(&res[i]);
		differ += !res[i].same;
	}
	sg_free(&res);
	return (int)differ;
}

int cli_store_copy(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[0], "--to") != 0)
		return cli_usage("store");
	char ca_dir[SG_PATH_MAX];
	const char *err;
	if (settings_path(ctx->settings, "gateway.ca_dir", ca_dir, sizeof(ca_dir)) < 0) {
		cli_errorf("gateway.ca_dir: path too long");
		return 1;
	}
	struct store *dst = store_open_settings_url(ctx->settings, argv[1], &err);
	if (dst == NULL) {
		cli_errorf("%s: %s", argv[1], err);
		return 1;
	}
	printf("copying %s into %s\n", settings_get(ctx->settings, "store.database"), argv[1]);
	int differ = copy_and_report(ctx->store, dst);
	int rc = differ < 0 || cli_ca_publish(dst, ca_dir) < 0 ? 1 : 0;
	store_close(&dst);
	if (rc == 0 && differ > 0) {
		cli_errorf(
		    "%d table(s) differ between the stores: the target has rows the source has "
		    "not (or other values under the same keys); nothing was overwritten",
		    differ);
		return 1;
	}
	if (rc == 0)
		printf("every table copied and checked; the CA is in the target store. Point "
		       "store.database at it (`sealgate config set`), and make further nodes with "
		       "`sealgate init DIR --store URL --master-key FILE`\n");
	return rc;
}
