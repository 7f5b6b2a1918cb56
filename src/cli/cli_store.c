/* cli_store.c: `sealgate store migrate`: the store's schema brought to this sealgate's version
 * now, rather than by the first role that opens it (both take the same lock: on PostgreSQL,
 * two nodes starting at once migrate once). A table of subcommands: `store copy` (a SQLite
 * store into PostgreSQL) joins it. */
#include "cli/cli.h"
#include "store/store.h"

#include <stdio.h>

static int store_usage(void)
{
	return cli_usage("store");
}

/* Opening the store migrated it (cli_dispatch opened it): what remains is to say where it is. */
static int store_migrate(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return store_usage();
	int v = store_schema_version(ctx->store);
	if (v < 0) {
		cli_errorf("store: cannot read the schema version");
		return 1;
	}
	printf("store: schema at version %d (the latest this sealgate knows)\n", v);
	return 0;
}

static const struct cli_subcommand subcommands[] = {
	{"migrate", store_migrate, false},
	{"copy", cli_store_copy, false},
};

int cli_store_cmd(int argc, char **argv)
{
	return cli_dispatch(subcommands, sizeof(subcommands) / sizeof(subcommands[0]), argc, argv,
	                    store_usage);
}
