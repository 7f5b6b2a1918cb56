/* dir_conf.c: the directory.* settings, read once per user of the directory, and the
 * service account's password from its file (kept in memory wiped on close). */
#include "directory/dir_priv.h"
#include "core/settings.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

bool dir_conf_enabled(const struct settings *set)
{
	return settings_get(set, "directory.url")[0] != '\0';
}

const char *dir_status_name(enum dir_status st)
{
	static const char *const names[] = {"ok", "denied", "disabled", "unreachable", "error"};
	return (size_t)st < sizeof(names) / sizeof(names[0]) ? names[st] : "error";
}

/* The first line of the password file, without its line end. */
static int read_password(const struct settings *set, char **pw_r, const char **error_r)
{
	char path[SG_PATH_MAX];
	char *data = NULL;
	size_t len = 0;
	if (settings_path(set, "directory.bind_password_file", path, sizeof(path)) < 0 ||
	    sg_file_read_all(path, DIR_PASSWORD_MAX, &data, &len, error_r) < 0) {
		*error_r = "directory.bind_password_file: cannot read it (it must hold the password "
		           "of directory.bind_dn)";
		return -1;
	}
	data[strcspn(data, "\r\n")] = '\0';
	*pw_r = data;
	return 0;
}

static bool copy(char *dst, size_t size, const struct settings *set, const char *key)
{
	return sg_strlcpy(dst, settings_get(set, key), size) < size;
}

static bool filter_ok(const char *f)
{
	return f[0] == '(' && strstr(f, "%s") != NULL;
}

struct directory *dir_conf_open(const struct settings *set, const char **error_r)
{
	struct directory *d = sg_calloc(1, sizeof(*d));
	bool ok = copy(d->url, sizeof(d->url), set, "directory.url") &&
	          copy(d->base_dn, sizeof(d->base_dn), set, "directory.base_dn") &&
	          copy(d->bind_dn, sizeof(d->bind_dn), set, "directory.bind_dn") &&
	          copy(d->user_filter, sizeof(d->user_filter), set, "directory.user_filter") &&
	          copy(d->mail_attr, sizeof(d->mail_attr), set, "directory.mail_attribute");
	*error_r = "a directory.* setting is too long";
	if (ok && strncmp(d->url, "ldap://", 7) != 0 && strncmp(d->url, "ldaps://", 8) != 0) {
		*error_r = "directory.url: must be ldap://HOST[:PORT] or ldaps://HOST[:PORT]";
		ok = false;
	} else if (ok && d->base_dn[0] == '\0') {
		*error_r = "directory.base_dn: must be set (where employees are searched)";
		ok = false;
	} else if (ok && !filter_ok(d->user_filter)) {
		*error_r = "directory.user_filter: must be an LDAP filter in parentheses with %s";
		ok = false;
	}
	d->starttls = settings_bool(set, "directory.starttls");
	d->timeout_s = (int)settings_number(set, "directory.timeout");
	if (ok && settings_get(set, "directory.tls_ca")[0] != '\0' &&
	    settings_path(set, "directory.tls_ca", d->tls_ca, sizeof(d->tls_ca)) < 0) {
		*error_r = "directory.tls_ca: path too long";
		ok = false;
	}
	if (ok && d->bind_dn[0] != '\0' && read_password(set, &d->bind_pw, error_r) < 0)
		ok = false;
	if (!ok)
		dir_conf_close(&d);
	return d;
}

void dir_conf_close(struct directory **dp)
{
	struct directory *d = *dp;
	if (d == NULL)
		return;
	if (d->bind_pw != NULL)
		sg_free_secret(&d->bind_pw, strlen(d->bind_pw));
	sg_free(dp);
}
