/* cli_run.c: `sealgate run -c FILE`: the master in the foreground, logging to stderr. */
#include "cli/cli.h"
#include "daemon/daemon.h"

int cli_run_cmd(int argc, char **argv)
{
	const char *path = cli_take_config(&argc, argv);
	if (path == NULL || argc != 0)
		return cli_usage("run");
	return master_run(path);
}
