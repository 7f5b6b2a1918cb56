/* store_settings.c: the store named by the settings -- store.database, and for PostgreSQL
 * store.password_file and store.pool_size -- opened for a role or the CLI, or only checked
 * (check-config: a malformed URI or an unreachable server is said before anything starts). */
#include "store/store.h"
#include "store/store_db_pgsql.h"
#include "core/settings.h"
#include "core/sg_file.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define PASSWORD_FILE_MAX 4096

static bool is_pgsql(const char *url)
{
	return strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
}

/* store.password_file's first line (caller wipes and frees), NULL when unset; -1 when it is
 * set but cannot be used (why says what to do). */
static int password_load(const struct settings *s, char **password_r, const char **why_r)
{
	*password_r = NULL;
	if (settings_get(s, "store.password_file")[0] == '\0')
		return 0;
	char path[SG_PATH_MAX];
	struct stat sb;
	char *data = NULL;
	size_t len = 0;
	const char *err;
	if (settings_path(s, "store.password_file", path, sizeof(path)) < 0 ||
	    stat(path, &sb) < 0 || sg_file_read_all(path, PASSWORD_FILE_MAX, &data, &len, &err) < 0) {
		*why_r = "store.password_file: cannot read it (it must be readable by gateway.user)";
		return -1;
	}
	data[strcspn(data, "\r\n")] = '\0';
	if ((sb.st_mode & S_IROTH) != 0 || data[0] == '\0') {
		*why_r = (sb.st_mode & S_IROTH) != 0
		                 ? "store.password_file: readable by everyone: chmod 0600 (or 0640)"
		                 : "store.password_file: the first line is empty";
		sg_free_secret(&data, len);
		return -1;
	}
	*password_r = data;
	return 0;
}

static void password_free(char **password)
{
	if (*password != NULL)
		sg_free_secret(password, strlen(*password));
}

struct store *store_open_settings(const struct settings *s, const char **error_r)
{
	return store_open_settings_url(s, settings_get(s, "store.database"), error_r);
}

struct store *store_open_settings_url(const struct settings *s, const char *url,
                                      const char **error_r)
{
	struct store_options opt = {.pool_size = (int)settings_number(s, "store.pool_size")};
	char *password = NULL;
	if (is_pgsql(url) && password_load(s, &password, error_r) < 0)
		return NULL;
	opt.password = password;
	struct store *st = store_open_options(url, settings_dir(s), &opt, error_r);
	password_free(&password);
	return st;
}

int store_check_settings(const struct settings *s, char *why, size_t why_size)
{
	const char *url = settings_get(s, "store.database");
	if (!is_pgsql(url))
		return 0;
	char *password = NULL;
	const char *err = NULL;
	if (password_load(s, &password, &err) < 0) {
		snprintf(why, why_size, "%s", err);
		return -1;
	}
	int rc = sdb_pgsql_probe(url, password, why, why_size);
	password_free(&password);
	return rc;
}
