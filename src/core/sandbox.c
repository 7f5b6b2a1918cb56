/* sandbox.c: privilege drop for the daemon's children and the ownership checks around it.
 * The roles that share the store share gateway.user; the network roles that need neither the
 * store's files nor the keys may have accounts of their own (accounts.h). */
#include "core/sandbox.h"

#include "core/sg_str.h"

#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define SANDBOX_PWBUF 16384
#define SANDBOX_FTW_FDS 32

int sandbox_account_find(const char *name, struct sandbox_account *a_r, const char **error_r)
{
	memset(a_r, 0, sizeof(*a_r));
	if (name == NULL || name[0] == '\0' || strlen(name) >= sizeof(a_r->name)) {
		*error_r = "no account name";
		return -1;
	}
	struct passwd pw, *found = NULL;
	static _Thread_local char buf[SANDBOX_PWBUF];
	int rc = getpwnam_r(name, &pw, buf, sizeof(buf), &found);
	if (rc != 0 || found == NULL) {
		*error_r = "no such account on this system (create it, e.g. "
		           "`useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin NAME`)";
		return -1;
	}
	if (pw.pw_uid == 0) {
		*error_r = "the account is root: name an unprivileged one";
		return -1;
	}
	a_r->uid = pw.pw_uid;
	a_r->gid = pw.pw_gid;
	sg_strlcpy(a_r->name, name, sizeof(a_r->name));
	return 0;
}

/* No core file with keys in it. Sanitizer builds too: LeakSanitizer makes the process
 * dumpable for its exit check by itself (checked as nobody, with gcc 12's libasan). */
int sandbox_no_dump(const char **error_r)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		*error_r = "cannot set the process non-dumpable";
		return -1;
	}
	return 0;
}

int sandbox_become(const struct sandbox_account *a, const char **error_r)
{
	if (geteuid() == 0) {
		gid_t groups[2] = {a->gid, a->extra_gid};
		if (setgroups(a->has_extra_gid ? 2 : 1, groups) < 0 || setgid(a->gid) < 0 ||
		    setuid(a->uid) < 0) {
			*error_r = "cannot change to the account (setgroups/setgid/setuid failed)";
			return -1;
		}
		/* Must fail now: a process that could become root again gave up nothing. */
		if (setuid(0) == 0 || geteuid() == 0 || getegid() != a->gid) {
			*error_r = "root privileges could be regained after the change";
			return -1;
		}
		if (sandbox_no_dump(error_r) < 0)
			return -1;
	} else if (getuid() != a->uid || geteuid() != a->uid) {
		*error_r = "sealgate runs as another account and cannot change to this one: start it "
		           "as root (it changes to the account) or as the account itself";
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		*error_r = "cannot set no-new-privileges";
		return -1;
	}
	return 0;
}

int sandbox_borrow(const struct sandbox_account *a, const char **error_r)
{
	if (getuid() != 0)
		return 0;
	gid_t groups[2] = {a->gid, a->extra_gid};
	if (setgroups(a->has_extra_gid ? 2 : 1, groups) < 0 || setegid(a->gid) < 0 ||
	    seteuid(a->uid) < 0) {
		*error_r = "cannot act as the account (seteuid failed)";
		return -1;
	}
	return 0;
}

int sandbox_unborrow(const char **error_r)
{
	gid_t root = 0;
	if (getuid() != 0)
		return 0;
	if (seteuid(0) < 0 || setegid(0) < 0 || setgroups(1, &root) < 0) {
		*error_r = "cannot return to root after acting as the account";
		return -1;
	}
	return 0;
}

/* nftw has no context pointer: the walk's state, one walk at a time per thread. */
static _Thread_local struct {
	uid_t uid;
	gid_t gid;
	char *bad;
	size_t badsize;
	bool chown;
	bool shallow; /* the directory and its entries, not what is below them */
	int error;
} walk;

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type == FTW_NS || type == FTW_DNR) {
		walk.error = errno != 0 ? errno : EACCES;
		sg_strlcpy(walk.bad, path, walk.badsize);
		return FTW_STOP;
	}
	if (walk.chown) {
		if (lchown(path, walk.uid, walk.gid) < 0) {
			walk.error = errno;
			sg_strlcpy(walk.bad, path, walk.badsize);
			return FTW_STOP;
		}
		return FTW_CONTINUE;
	}
	if (st->st_uid != walk.uid) {
		sg_strlcpy(walk.bad, path, walk.badsize);
		return FTW_STOP;
	}
	return walk.shallow && type == FTW_D && ftw->level > 0 ? FTW_SKIP_SUBTREE : FTW_CONTINUE;
}

static int run_walk(const char *path, const struct sandbox_account *a, bool do_chown,
                    bool shallow, char *bad, size_t badsize)
{
	walk.shallow = shallow;
	walk.uid = a->uid;
	walk.gid = a->gid;
	walk.bad = bad;
	walk.badsize = badsize;
	walk.chown = do_chown;
	walk.error = 0;
	bad[0] = '\0';
	int rc = nftw(path, visit, SANDBOX_FTW_FDS, FTW_PHYS | FTW_ACTIONRETVAL);
	if (rc < 0 && errno == ENOENT && bad[0] == '\0')
		return 0; /* nothing there yet: nothing foreign */
	if (rc < 0 || walk.error != 0)
		return -1;
	return bad[0] != '\0' ? 1 : 0;
}

int sandbox_find_foreign(const char *const *paths, const char *const *trees,
                         const struct sandbox_account *a, char *bad, size_t badsize,
                         const char **error_r)
{
	for (int pass = 0; pass < 2; pass++) {
		const char *const *list = pass == 0 ? paths : trees;
		for (size_t i = 0; list[i] != NULL; i++) {
			int rc = run_walk(list[i], a, false, pass == 0, bad, badsize);
			if (rc != 0) {
				if (rc < 0)
					*error_r = "cannot read it";
				return rc;
			}
		}
	}
	return 0;
}

int sandbox_chown_tree(const char *dir, const struct sandbox_account *a, const char **error_r)
{
	char bad[512];
	if (run_walk(dir, a, true, false, bad, sizeof(bad)) != 0) {
		*error_r = "cannot change the owner of a file in it";
		return -1;
	}
	return 0;
}
