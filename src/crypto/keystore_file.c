/* keystore_file.c: a private key kept in a file of its own (the CA key, ca/ca.key) rather than
 * in the store, sealed like every key in the store: the blob of keystore_seal() in a PEM
 * armour of its own name, so that `openssl pkey` and friends see no key in it. The file is
 * read with read(2) into a buffer wiped before it is freed (no stdio buffers), and created with
 * O_EXCL|O_NOFOLLOW, 0600: nothing is written through a link or over an existing key. */
#include "crypto/keystore.h"
#include "crypto/keystore_priv.h"
#include "core/limits.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEALED_PEM_NAME "SEALGATE SEALED PRIVATE KEY"
/* the armour of the largest sealed key, or a clear PEM key of an earlier version */
#define KEY_FILE_MAX (SG_SEALED_KEY_MAX * 2)

/* The file's bytes in a buffer the caller wipes and frees (sg_free_secret). */
static int read_key_file(const char *path, char **data_r, size_t *len_r, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
	    sb.st_size > KEY_FILE_MAX) {
		*error_r = fd < 0 ? "cannot open the key file (missing, unreadable, or a link)"
		                  : "the key file is not a regular file of a key's size";
		if (fd >= 0)
			close(fd);
		return -1;
	}
	size_t len = (size_t)sb.st_size;
	char *data = sg_malloc(len + 1);
	ssize_t n = read(fd, data, len + 1); /* one more: a file that grew is refused */
	close(fd);
	if (n != (ssize_t)len) {
		sg_free_secret(&data, len + 1);
		*error_r = "cannot read the key file";
		return -1;
	}
	data[len] = '\0';
	*data_r = data;
	*len_r = len;
	return 0;
}

static int unseal_pem(const struct keystore *ks, const char *owner, BIO *b,
                      struct keystore_key **key_r, const char **error_r)
{
	char *name = NULL, *header = NULL;
	unsigned char *blob = NULL;
	long blen = 0;
	int rc = -1;
	if (PEM_read_bio(b, &name, &header, &blob, &blen) != 1 ||
	    strcmp(name, SEALED_PEM_NAME) != 0 || blen <= 0)
		*error_r = "the key file is not a sealed key";
	else
		rc = keystore_unseal(ks, blob, (size_t)blen, owner, key_r, error_r);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(blob);
	return rc;
}

int keystore_key_read_file(const struct keystore *ks, const char *owner, const char *path,
                           struct keystore_key **key_r, bool *clear_r, const char **error_r)
{
	char *data = NULL;
	size_t len = 0;
	if (read_key_file(path, &data, &len, error_r) < 0)
		return -1;
	BIO *b = BIO_new_mem_buf(data, (int)len);
	int rc = -1;
	*clear_r = strstr(data, "-----BEGIN " SEALED_PEM_NAME "-----") == NULL;
	if (b == NULL) {
		*error_r = "out of memory (BIO)";
	} else if (!*clear_r) {
		rc = unseal_pem(ks, owner, b, key_r, error_r);
	} else {
		/* what earlier versions wrote: a clear PEM key, for the caller to seal */
		EVP_PKEY *pkey = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		*key_r = pkey != NULL ? keystore_key_wrap(pkey) : NULL;
		rc = pkey != NULL ? 0 : -1;
		*error_r = "the key file holds neither a sealed nor a PEM private key";
	}
	ERR_clear_error();
	BIO_free(b);
	sg_free_secret(&data, len + 1);
	return rc;
}

/* The sealed armour of key (not secret: the blob is sealed), caller frees. */
static int sealed_pem(const struct keystore *ks, const struct keystore_key *key,
                      const char *owner, char **pem_r, size_t *pem_len_r, const char **error_r)
{
	unsigned char *blob = NULL;
	size_t blen = 0;
	if (keystore_seal(ks, key, owner, &blob, &blen, error_r) < 0)
		return -1;
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n = 0;
	int ok = b != NULL && PEM_write_bio(b, SEALED_PEM_NAME, "", blob, (long)blen) > 0 &&
	         (n = BIO_get_mem_data(b, &p)) > 0;
	if (ok) {
		*pem_r = sg_memdup(p, (size_t)n);
		*pem_len_r = (size_t)n;
	} else {
		*error_r = "cannot armour the sealed key";
	}
	BIO_free(b);
	sg_free(&blob);
	return ok ? 0 : -1;
}

/* Creates path (never through a link, never over a file) with data, durably. */
static int create_excl(const char *path, const char *data, size_t len, const char **error_r)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = errno == EEXIST ? "the key file exists already; refusing to replace it"
		                           : "cannot create the key file";
		return -1;
	}
	int rc = sg_write_all(fd, data, len) == 0 && sg_fsync(fd) == 0 ? 0 : -1;
	if (close(fd) < 0 || rc < 0) {
		unlink(path);
		*error_r = "cannot write the key file";
		return -1;
	}
	return 0;
}

int keystore_key_write_sealed(const struct keystore *ks, const struct keystore_key *key,
                              const char *owner, const char *path, const char **error_r)
{
	char *pem = NULL;
	size_t len = 0;
	if (sealed_pem(ks, key, owner, &pem, &len, error_r) < 0)
		return -1;
	int rc = create_excl(path, pem, len, error_r);
	if (rc == 0 && sg_fsync_dir(path, false) < 0) {
		*error_r = "cannot fsync the key file's directory";
		rc = -1;
	}
	sg_free(&pem);
	return rc;
}

int keystore_key_reseal_file(const struct keystore *ks, const struct keystore_key *key,
                             const char *owner, const char *path, const char **error_r)
{
	char tmp[SG_PATH_MAX], *pem = NULL;
	size_t len = 0;
	if (sg_snprintf(tmp, sizeof(tmp), "%s.sealing", path) < 0) {
		*error_r = "key file path too long";
		return -1;
	}
	if (sealed_pem(ks, key, owner, &pem, &len, error_r) < 0)
		return -1;
	(void)unlink(tmp); /* left by a crash in between: ours, and never the key itself */
	int rc = create_excl(tmp, pem, len, error_r);
	if (rc == 0 && rename(tmp, path) < 0) {
		unlink(tmp);
		*error_r = "cannot put the sealed key file in place";
		rc = -1;
	}
	if (rc == 0 && sg_fsync_dir(path, false) < 0) {
		*error_r = "cannot fsync the key file's directory";
		rc = -1;
	}
	sg_free(&pem);
	return rc;
}
