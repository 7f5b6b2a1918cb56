/* sandbox.h: the one recipe by which sealgate gives up root. The master stays root only to
 * bind ports and start children; every child becomes gateway.user before it reads mail, keys
 * or the network, and the files of the instance belong to that account. */
#ifndef SG_SANDBOX_H
#define SG_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SANDBOX_NAME_MAX 64

struct sandbox_account {
	uid_t uid;
	gid_t gid;
	char name[SANDBOX_NAME_MAX];
	/* One supplementary group beside gid (the spool's, accounts.h), if has_extra_gid. */
	gid_t extra_gid;
	bool has_extra_gid;
};

/* The account called name (gateway.user): 0, or -1 with *error_r (unknown, or root itself). */
int sandbox_account_find(const char *name, struct sandbox_account *a_r, const char **error_r);
/* Becomes a: from root, its primary group (and extra_gid, if set) alone, its uid, and no way back (checked); not as
 * root, succeeds only if this process already is a. Either way no new privileges by exec. */
int sandbox_become(const struct sandbox_account *a, const char **error_r);
/* Root only (else a no-op): acts with a's file permissions (effective ids; a's groups) until
 * sandbox_unborrow, so that a file made meanwhile is a's. For what a role of its own account
 * opens of gateway.user's before it drops root (ldapd's store). */
int sandbox_borrow(const struct sandbox_account *a, const char **error_r);
int sandbox_unborrow(const char **error_r);
/* No core file, no ptrace by the account's other processes, /proc/<pid> readable by root
 * only: for every sealgate process (the master, each child after sandbox_become) and every
 * command that opens the key store. Kept by exec of a non-setuid file, so each child sets it
 * itself; a uid change resets it, so it is set again after one. */
int sandbox_no_dump(const char **error_r);
/* Looks for an entry a does not own: each of paths with its direct entries, each of trees with
 * everything below (NULL-terminated lists; missing ones are skipped). 1 with its path in bad,
 * 0 none, -1 with *error_r. */
int sandbox_find_foreign(const char *const *paths, const char *const *trees,
                         const struct sandbox_account *a, char *bad, size_t badsize,
                         const char **error_r);
/* chown -R dir to a, without following symbolic links. */
int sandbox_chown_tree(const char *dir, const struct sandbox_account *a, const char **error_r);

#endif
