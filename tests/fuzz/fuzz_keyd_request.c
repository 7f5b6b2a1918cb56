/* fuzz_keyd_request.c: keyd's request parser and dispatcher on hostile frames, as a client
 * role (qmgr's allow-list) would send them. Whatever the parser accepts re-encodes to the same
 * body (the fields cover the body exactly: no trailing bytes, no overlap); whatever it refuses
 * is answered with a well-formed refusal; nothing crashes or leaks. */
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "crypto/keystore.h"
#include "keyd/keyd_server.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct keystore *ks;
static struct keyd_session *session;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	char dir[] = "/tmp/sg-fuzz-keyd-XXXXXX", path[64];
	const char *err;
	sg_assert(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/master.key", dir);
	sg_assert(keystore_master_create(path, &err) == 0 && keystore_open(path, &ks, &err) == 0);
	unlink(path);
	rmdir(dir);
	session = keyd_session_new(keyd_policy_find("qmgr"), ks);
	return 0;
}

static void check_round_trip(const uint8_t *data, size_t size, const struct keyd_request *req)
{
	struct sg_buf b;
	sg_buf_init(&b, KEYD_BODY_MAX);
	sg_assert(keyd_body_encode(&b, req->fields, req->nfields) == 0);
	sg_assert(b.len == size - KEYD_HEADER_LEN);
	sg_assert(b.len == 0 || memcmp(b.data, data + KEYD_HEADER_LEN, b.len) == 0);
	sg_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keyd_request req;
	if (keyd_request_parse(data, size, &req) == KEYD_OK) {
		check_round_trip(data, size, &req);
		sg_assert(strlen(req.owner) <= KEYD_OWNER_MAX);
	}
	unsigned char *resp = NULL;
	size_t rlen = 0;
	enum keyd_status st = keyd_dispatch(session, data, size, &resp, &rlen);
	struct keyd_header h;
	sg_assert(rlen >= KEYD_HEADER_LEN && keyd_header_decode(resp, &h) == KEYD_OK);
	sg_assert(h.status == st && h.body_len == rlen - KEYD_HEADER_LEN);
	sg_free_secret(&resp, rlen);
	return 0;
}
