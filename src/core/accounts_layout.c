/* accounts_layout.c: the owners, groups and modes of an instance's files (accounts.h),
 * checked by `check-config` and by the master before any child starts, applied by
 * `init --user`. Every problem found is named with the command that fixes it. */
#include "core/accounts.h"

#include "core/limits.h"
#include "core/settings.h"
#include "core/sg_file.h"
#include "core/sg_str.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LAYOUT_FTW_FDS 32
#define LAYOUT_MSG_MAX (4 * SG_PATH_MAX)

struct layout {
	char data[SG_PATH_MAX]; /* the instance directory: the spool and the store are in it */
	char spool[SG_PATH_MAX], key[SG_PATH_MAX], ca[SG_PATH_MAX], tls[SG_PATH_MAX];
	char db[SG_PATH_MAX], db_dir[SG_PATH_MAX]; /* the store writes beside its file */
	struct sandbox_account gw, smtp;
	bool shared; /* smtpd has its own account: the spool belongs to its group too */
	char group[SANDBOX_NAME_MAX]; /* the spool's group by name, for the commands */
};

static bool inside(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* The configuration's directory holds the instance unless it is kept apart from the data
 * (the Debian package's /etc/sealgate, root's): then the store's directory is the instance. */
static void find_data_dir(const struct settings *s, struct layout *l)
{
	sg_strlcpy(l->db_dir, l->db, sizeof(l->db_dir));
	char *slash = strrchr(l->db_dir, '/');
	if (slash != NULL && slash != l->db_dir)
		*slash = '\0';
	sg_strlcpy(l->data, l->db_dir, sizeof(l->data));
	if (inside(l->spool, settings_dir(s)) || inside(l->data, settings_dir(s)))
		sg_strlcpy(l->data, settings_dir(s), sizeof(l->data));
}

static int resolve_paths(const struct settings *s, struct layout *l, const char **error_r)
{
	const char *url = settings_get(s, "store.database");
	if (settings_path(s, "gateway.spool_dir", l->spool, sizeof(l->spool)) < 0 ||
	    settings_path(s, "gateway.master_key", l->key, sizeof(l->key)) < 0 ||
	    settings_path(s, "gateway.ca_dir", l->ca, sizeof(l->ca)) < 0 ||
	    settings_path(s, "smtp.tls_key", l->tls, sizeof(l->tls)) < 0 ||
	    sg_path_resolve(l->db, sizeof(l->db), settings_dir(s),
	                    strncmp(url, "sqlite:", 7) == 0 ? url + 7 : "") < 0) {
		*error_r = "a path of the instance is too long";
		return -1;
	}
	char *slash = strrchr(l->tls, '/'); /* the TLS key's directory: the certificate is there */
	if (slash != NULL && slash != l->tls)
		*slash = '\0';
	find_data_dir(s, l);
	return 0;
}

static int resolve(const struct settings *s, struct layout *l, const char **error_r)
{
	memset(l, 0, sizeof(*l));
	if (sandbox_account_find(settings_get(s, "gateway.user"), &l->gw, error_r) < 0 ||
	    resolve_paths(s, l, error_r) < 0)
		return -1;
	l->shared = accounts_spool_shared(s);
	if (l->shared &&
	    sandbox_account_find(accounts_name(s, "gateway.smtp_user"), &l->smtp, error_r) < 0)
		return -1;
	l->gw.extra_gid = l->smtp.gid; /* the spool's group, as the roles of gateway.user have */
	l->gw.has_extra_gid = l->shared && l->smtp.gid != l->gw.gid;
	struct group gr, *found = NULL;
	char buf[4096];
	if (l->shared && getgrgid_r(l->smtp.gid, &gr, buf, sizeof(buf), &found) == 0 && found)
		sg_strlcpy(l->group, gr.gr_name, sizeof(l->group));
	else if (l->shared)
		snprintf(l->group, sizeof(l->group), "%u", (unsigned)l->smtp.gid);
	return 0;
}

/* ---- the spool tree: U's or S's, group S's, setgid group-writable directories ---- */

static _Thread_local struct {
	const struct layout *l;
	bool apply;
	size_t bad;
	char first[SG_PATH_MAX];
	int error;
} walk;

static bool spool_entry_ok(const struct stat *st)
{
	const struct layout *l = walk.l;
	bool dir = S_ISDIR(st->st_mode);
	mode_t want = dir ? 02770 : 0660;
	return st->st_gid == l->smtp.gid && (st->st_uid == l->gw.uid || st->st_uid == l->smtp.uid) &&
	       (st->st_mode & want) == want && (st->st_mode & 0007) == 0;
}

static int visit_spool(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_NS || type == FTW_DNR) {
		walk.error = errno != 0 ? errno : EACCES;
		sg_strlcpy(walk.first, path, sizeof(walk.first));
		return FTW_STOP;
	}
	if (type == FTW_SL || spool_entry_ok(st))
		return FTW_CONTINUE;
	if (walk.apply) {
		mode_t mode = S_ISDIR(st->st_mode) ? 02770 : ((st->st_mode & 0770) | 0660);
		if (lchown(path, walk.l->gw.uid, walk.l->smtp.gid) < 0 || chmod(path, mode) < 0) {
			walk.error = errno;
			sg_strlcpy(walk.first, path, sizeof(walk.first));
			return FTW_STOP;
		}
		return FTW_CONTINUE;
	}
	if (walk.bad++ == 0)
		sg_strlcpy(walk.first, path, sizeof(walk.first));
	return FTW_CONTINUE;
}

/* How many entries of the spool are wrong (the first in walk.first), or -1. */
static long walk_spool(const struct layout *l, bool apply)
{
	walk.l = l;
	walk.apply = apply;
	walk.bad = 0;
	walk.error = 0;
	walk.first[0] = '\0';
	int rc = nftw(l->spool, visit_spool, LAYOUT_FTW_FDS, FTW_PHYS | FTW_ACTIONRETVAL);
	if (rc < 0 && errno == ENOENT && walk.first[0] == '\0')
		return 0;
	return rc < 0 || walk.error != 0 ? -1 : (long)walk.bad;
}

/* ---- the checks ---- */

struct report {
	accounts_report_fn fn;
	void *arg;
	int count;
};

static void say(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct report *r, const char *fmt, ...)
{
	char msg[LAYOUT_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->fn(r->arg, msg);
	r->count++;
}

/* Everything of the instance belongs to gateway.user (the spool may also hold smtpd's files
 * when it is shared): the check the master made before there were role accounts. The instance
 * directory one level deep (not its Maildirs, which may be large), the store's directory, and
 * the trees the processes read and write. */
static void check_owner(const struct layout *l, struct report *r)
{
	const char *paths[] = {l->data, l->db_dir, NULL};
	const char *trees[] = {l->key, l->ca, l->tls, l->shared ? NULL : l->spool, NULL};
	char bad[SG_PATH_MAX];
	const char *err;
	int rc = sandbox_find_foreign(paths, trees, &l->gw, bad, sizeof(bad), &err);
	if (rc != 0)
		say(r, "gateway.user = %s, but %s %s: run `chown -R %s%s %s`%s%s", l->gw.name, bad,
		    rc < 0 ? "cannot be read" : "belongs to another account", l->gw.name,
		    l->shared ? "" : ":", l->data, /* with a shared spool the groups stay */
		    inside(l->spool, l->data) || l->shared ? "" : " and the same for ",
		    inside(l->spool, l->data) || l->shared ? "" : l->spool);
}

/* A secret (store, master key, CA, TLS key) or any other entry of the instance directory:
 * nothing for "others" (the role accounts are others) and nothing for the spool's group. */
static void check_private(const struct layout *l, const char *path, struct report *r)
{
	struct stat st;
	if (lstat(path, &st) < 0 || S_ISLNK(st.st_mode))
		return;
	if ((st.st_mode & 0007) != 0)
		say(r, "%s is open to every account (mode %04o), smtpd's and ldapd's included: run "
		    "`chmod o-rwx %s`", path, (unsigned)(st.st_mode & 07777), path);
	if (st.st_gid == l->smtp.gid && (st.st_mode & 0070) != 0)
		say(r, "%s belongs to the group %s of smtpd's account: run `chgrp %u %s`", path,
		    l->group, (unsigned)l->gw.gid, path);
}

static void check_data_dir(const struct layout *l, struct report *r)
{
	struct stat st;
	if (stat(l->data, &st) < 0)
		return;
	if (st.st_uid != l->gw.uid || st.st_gid != l->smtp.gid || (st.st_mode & 0777) != 0710)
		say(r, "%s must let smtpd's account through to the spool and no further (owner %s, "
		    "group %s, mode 0710; it is %u:%u %04o): run `chown %s:%s %s && chmod 0710 %s`",
		    l->data, l->gw.name, l->group, (unsigned)st.st_uid, (unsigned)st.st_gid,
		    (unsigned)(st.st_mode & 07777), l->gw.name, l->group, l->data, l->data);
	DIR *d = opendir(l->data);
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL) {
		char p[SG_PATH_MAX];
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    sg_path_join(p, sizeof(p), l->data, e->d_name) < 0 || strcmp(p, l->spool) == 0)
			continue;
		check_private(l, p, r);
	}
	if (d != NULL)
		closedir(d);
}

static bool direct_entry(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return inside(path, dir) && path[n] == '/' && strchr(path + n + 1, '/') == NULL;
}

static void check_spool(const struct layout *l, struct report *r)
{
	long bad = walk_spool(l, false);
	if (bad < 0)
		say(r, "%s cannot be read: run `chown -R %s:%s %s`", walk.first, l->gw.name, l->group,
		    l->spool);
	else if (bad > 0)
		say(r, "%s%s: the spool is shared with smtpd's account %s, so each entry must belong "
		    "to %s or %s, group %s, group-writable (directories setgid), nothing for others: "
		    "run `chown -R %s:%s %s && chmod -R g+rwX,o-rwx %s && find %s -type d -exec "
		    "chmod g+s {} +`", walk.first, bad > 1 ? " (and more)" : "", l->smtp.name,
		    l->gw.name, l->smtp.name, l->group, l->gw.name, l->group, l->spool, l->spool,
		    l->spool);
}

int accounts_check_layout(const struct settings *s, accounts_report_fn fn, void *arg,
                          const char **error_r)
{
	struct layout l;
	if (settings_get(s, "gateway.user")[0] == '\0')
		return 0; /* the account that starts sealgate owns what it makes */
	if (resolve(s, &l, error_r) < 0)
		return -1;
	struct report r = {.fn = fn, .arg = arg};
	/* Looked at as gateway.user sees them: root may lack the right to read others' files
	 * (the Debian unit's capability bounding set has no CAP_DAC_OVERRIDE). */
	if (sandbox_borrow(&l.gw, error_r) < 0)
		return -1;
	check_owner(&l, &r);
	if (l.shared) {
		check_data_dir(&l, &r);
		const char *secrets[] = {l.key, l.ca, l.tls, l.db};
		for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
			if (!direct_entry(secrets[i], l.data)) /* checked with the directory */
				check_private(&l, secrets[i], &r);
		check_spool(&l, &r);
	}
	return sandbox_unborrow(error_r) < 0 ? -1 : r.count;
}

/* ---- init --user ---- */

static int make_private(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0 || S_ISLNK(st.st_mode))
		return 0;
	return chmod(path, st.st_mode & 07770);
}

static int apply_shared(const struct layout *l, const char **error_r)
{
	DIR *d = opendir(l->data);
	struct dirent *e;
	int rc = d == NULL ? -1 : 0;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		char p[SG_PATH_MAX];
		if (e->d_name[0] != '.' && sg_path_join(p, sizeof(p), l->data, e->d_name) == 0 &&
		    strcmp(p, l->spool) != 0)
			rc = make_private(p);
	}
	if (d != NULL)
		closedir(d);
	if (rc < 0 || make_private(l->key) < 0 || make_private(l->db) < 0) {
		*error_r = "cannot take the other accounts' access to the instance's files";
		return -1;
	}
	if (walk_spool(l, true) < 0 || chown(l->data, l->gw.uid, l->smtp.gid) < 0 ||
	    chmod(l->data, 0710) < 0) {
		*error_r = "cannot give the spool to smtpd's group";
		return -1;
	}
	return 0;
}

int accounts_apply_layout(const struct settings *s, const char **error_r)
{
	struct layout l;
	if (resolve(s, &l, error_r) < 0)
		return -1;
	if (sandbox_chown_tree(l.data, &l.gw, error_r) < 0)
		return -1;
	return l.shared ? apply_shared(&l, error_r) : 0;
}
