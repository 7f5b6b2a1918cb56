/* keystore_master.c: the master key file. Losing it loses every sealed key, so it is never
 * overwritten, and it is written durably before anything is sealed with it. */
#include "crypto/keystore.h"
#include "crypto/keystore_priv.h"
#include "crypto/keystore_remote.h"
#include "core/sandbox.h"
#include "core/sg_log.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

int keystore_master_create(const char *path, const char **error_r)
{
	if (sodium_init() < 0) {
		*error_r = "libsodium failed to initialise";
		return -1;
	}
	unsigned char key[KEYSTORE_MASTER_KEY_BYTES];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = errno == EEXIST ? "master key file exists already; refusing to replace it"
		                           : "cannot create the master key file";
		return -1;
	}
	randombytes_buf(key, sizeof(key));
	int rc = sg_write_all(fd, key, sizeof(key)) == 0 && sg_fsync(fd) == 0 ? 0 : -1;
	sg_wipe(key, sizeof(key));
	if (close(fd) < 0 || rc < 0 || sg_fsync_dir(path, false) < 0) {
		*error_r = "cannot write the master key file";
		unlink(path);
		return -1;
	}
	return 0;
}

struct keystore {
	unsigned char key[KEYSTORE_MASTER_KEY_BYTES];
	bool remote; /* the key is in keyd: the operations go there (keystore_remote.h) */
};

static const struct keystore_remote_ops *remote_ops;
static const struct keystore *local_ks;

void keystore_set_remote(const struct keystore_remote_ops *ops)
{
	remote_ops = ops;
}

const struct keystore_remote_ops *keystore_remote(void)
{
	return remote_ops;
}

const struct keystore *keystore_local(void)
{
	return local_ks;
}

bool keystore_is_remote(const struct keystore *ks)
{
	return ks->remote;
}

/* A handle without a key: every operation goes to the key process. */
static struct keystore *remote_handle(void)
{
	struct keystore *ks = sodium_malloc(sizeof(*ks));
	if (ks == NULL)
		sg_fatal("out of memory (sodium_malloc)");
	sodium_memzero(ks, sizeof(*ks));
	ks->remote = true;
	sodium_mprotect_readonly(ks);
	return ks;
}

static int check_mode(int fd, const char **error_r)
{
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		*error_r = "master key: not a regular file";
		return -1;
	}
	if ((sb.st_mode & 077) != 0) {
		*error_r = "master key file is readable by others; chmod 600 it (and consider the "
		           "sealed keys exposed)";
		return -1;
	}
	if (sb.st_size != KEYSTORE_MASTER_KEY_BYTES) {
		*error_r = "master key file has the wrong size; restore it from your backup";
		return -1;
	}
	return 0;
}

int keystore_open(const char *master_key_path, struct keystore **ks_r, const char **error_r)
{
	if (sodium_init() < 0) {
		*error_r = "libsodium failed to initialise";
		return -1;
	}
	if (remote_ops != NULL) {
		*ks_r = remote_handle();
		return 0;
	}
	/* Whoever holds the master key, a daemon's child or a CLI command, leaves no core file
	 * and cannot be traced by the account's other processes. */
	if (sandbox_no_dump(error_r) < 0)
		return -1;
	int fd = open(master_key_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		*error_r = "cannot open the master key file (gateway.master_key); it is created by "
		           "`sealgate init`";
		return -1;
	}
	if (check_mode(fd, error_r) < 0) {
		close(fd);
		return -1;
	}
	struct keystore *ks = sodium_malloc(sizeof(*ks));
	if (ks == NULL)
		sg_fatal("out of memory (sodium_malloc)");
	ssize_t n = read(fd, ks->key, sizeof(ks->key));
	close(fd);
	if (n != (ssize_t)sizeof(ks->key)) {
		sodium_free(ks);
		*error_r = "cannot read the master key file";
		return -1;
	}
	ks->remote = false;
	sodium_mprotect_readonly(ks);
	*ks_r = ks;
	local_ks = ks;
	return 0;
}

void keystore_close(struct keystore **ksp)
{
	if (*ksp == NULL)
		return;
	if (local_ks == *ksp)
		local_ks = NULL;
	sodium_free(*ksp); /* sodium_free wipes before unmapping */
	*ksp = NULL;
}

const unsigned char *keystore_master_bytes(const struct keystore *ks)
{
	return ks->key;
}
