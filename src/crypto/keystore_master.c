/* keystore_master.c: the master key file. Losing it loses every sealed key, so it is never
 * overwritten, and it is written durably before anything is sealed with it. */
#include "crypto/keystore.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
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
