/* cli.h: the admin commands of `sealgate`, one group per file. Each takes the arguments
 * after its group name and returns the process exit code (0 ok, 1 failure, 2 usage). */
#ifndef SG_CLI_H
#define SG_CLI_H

int cli_init_cmd(int argc, char **argv);
int cli_run_cmd(int argc, char **argv);
int cli_config_cmd(int argc, char **argv);
int cli_check_config_cmd(int argc, char **argv);
int cli_queue_cmd(int argc, char **argv);

/* Finds "-c FILE" (or "--config FILE") in argv, removes it, and returns FILE or NULL. */
const char *cli_take_config(int *argc, char **argv);
/* Loads the configuration at path, printing every problem to stderr; NULL on error. */
struct settings *cli_load_settings(const char *path);
/* Prints "sealgate: ..." to stderr with a newline. */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
