/* keyd_remote.c: keystore.h's operations in a role served by keyd (keystore_remote.h), and
 * the role's start: picking up the socket the master passed. */
#include "keyd/keyd_client.h"
#include "keyd/keyd_proxy.h"
#include "crypto/keystore_remote.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* One owner and one payload in, one payload out (copied, NUL after it). */
static int owner_call(enum keyd_op op, const char *owner, const void *data, size_t len,
                      unsigned char **out_r, size_t *out_len_r, const char **error_r)
{
	struct keyd_field in[2] = {{(const unsigned char *)owner, strlen(owner)}, {data, len}};
	struct keyd_field out;
	unsigned char *resp = NULL;
	size_t resp_len = 0;
	if (keyd_callv(op, in, 2, &out, 1, &resp, &resp_len, error_r) != KEYD_OK)
		return -1;
	*out_r = sg_malloc(out.len + 1);
	memcpy(*out_r, out.data, out.len);
	(*out_r)[out.len] = '\0';
	*out_len_r = out.len;
	sg_free_secret(&resp, resp_len);
	return 0;
}

static int remote_seal_bytes(const void *data, size_t len, const char *owner,
                             unsigned char **blob_r, size_t *blob_len_r, const char **error_r)
{
	return owner_call(KEYD_OP_SEAL, owner, data, len, blob_r, blob_len_r, error_r);
}

static int remote_unseal_bytes(const unsigned char *blob, size_t blob_len, const char *owner,
                               unsigned char **data_r, size_t *len_r, const char **error_r)
{
	return owner_call(KEYD_OP_UNSEAL, owner, blob, blob_len, data_r, len_r, error_r);
}

static struct keystore_remote_ops remote_ops = {
	.seal_bytes = remote_seal_bytes,
	.unseal_bytes = remote_unseal_bytes,
};

int keyd_client_attach(const char *role)
{
	const char *s = getenv("SEALGATE_KEYD_FD");
	if (s == NULL)
		return 0;
	const char *err = NULL;
	long long fd = sg_strtonum(s, 3, 1024, &err);
	unsetenv("SEALGATE_KEYD_FD");
	int type = 0;
	socklen_t len = sizeof(type);
	if (err != NULL || getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_SEQPACKET) {
		sg_error("%s: the keyd socket (SEALGATE_KEYD_FD) was not handed over", role);
		return -1;
	}
	fcntl((int)fd, F_SETFD, FD_CLOEXEC); /* the PDF worker and other helpers never get it */
	keyd_client_set_socket((int)fd);
	keyd_testhook_install((int)fd);
	remote_ops.unseal_key = keyd_proxy_unseal_key;
	remote_ops.pdf_wrap = keyd_proxy_pdf_wrap;
	keystore_set_remote(&remote_ops);
	return 1;
}
