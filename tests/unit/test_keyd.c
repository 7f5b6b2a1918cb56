/* test_keyd.c: keyd's codec, allow-lists and the in-process loopback: the same dispatch code
 * keyd runs, reached through keyd_call without a keyd process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_mem.h"
#include "crypto/keystore.h"
#include "keyd/keyd_client.h"
#include "keyd/keyd_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static struct keystore *ks;

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sg-keyd-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	char path[128];
	const char *err;
	snprintf(path, sizeof(path), "%s/master.key", dir);
	if (keystore_master_create(path, &err) < 0 || keystore_open(path, &ks, &err) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	keystore_close(&ks);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct keyd_field str_field(const char *s)
{
	return (struct keyd_field){(const unsigned char *)s, strlen(s)};
}

static void loopback_seal_then_unseal(void **state)
{
	(void)state;
	struct keyd_field in[2] = {str_field("held:7"), str_field("a secret message")};
	struct keyd_field out;
	unsigned char *resp = NULL, *resp2 = NULL;
	size_t len = 0, len2 = 0;
	const char *err = NULL;
	assert_int_equal(keyd_callv(KEYD_OP_SEAL, in, 2, &out, 1, &resp, &len, &err), KEYD_OK);
	/* what keyd sealed opens with the keystore directly, and back through keyd */
	unsigned char *clear = NULL;
	size_t clen = 0;
	assert_int_equal(keystore_unseal_bytes(ks, out.data, out.len, "held:7", &clear, &clen, &err),
	                 0);
	assert_memory_equal(clear, "a secret message", clen);
	sg_free_secret(&clear, clen);
	struct keyd_field in2[2] = {str_field("held:7"), out};
	assert_int_equal(keyd_callv(KEYD_OP_UNSEAL, in2, 2, &out, 1, &resp2, &len2, &err), KEYD_OK);
	assert_int_equal(out.len, 16);
	/* another owner: the operation fails, the client stays served */
	struct keyd_field in3[2] = {str_field("held:8"), in2[1]};
	unsigned char *resp3 = NULL;
	size_t len3 = 0;
	assert_int_equal(keyd_callv(KEYD_OP_UNSEAL, in3, 2, &out, 1, &resp3, &len3, &err),
	                 KEYD_E_FAILED);
	assert_non_null(strstr(err, "does not open"));
	sg_free(&resp);
	sg_free(&resp2);
}

static void loopback_key_load_gives_handle_and_public_key(void **state)
{
	(void)state;
	struct keystore_key *key = NULL;
	const char *err = NULL;
	unsigned char *blob = NULL;
	size_t blen = 0;
	assert_int_equal(keystore_key_generate(KEYSTORE_KEY_P256, &key, &err), 0);
	assert_int_equal(keystore_seal(ks, key, "cert:ab", &blob, &blen, &err), 0);
	keystore_key_free(&key);
	struct keyd_field in[2] = {str_field("cert:ab"), {blob, blen}}, out[2];
	unsigned char *resp = NULL;
	size_t len = 0;
	assert_int_equal(keyd_callv(KEYD_OP_KEY_LOAD, in, 2, out, 2, &resp, &len, &err), KEYD_OK);
	assert_int_equal(out[0].len, 4);
	assert_true(out[1].len > 60 && out[1].data[0] == 0x30); /* a DER SEQUENCE */
	unsigned char h[4];
	memcpy(h, out[0].data, 4);
	sg_free(&resp);
	struct keyd_field hf = {h, 4};
	assert_int_equal(keyd_callv(KEYD_OP_KEY_FREE, &hf, 1, NULL, 0, &resp, &len, &err), KEYD_OK);
	sg_free(&resp);
	sg_free(&blob);
}

/* A frame with the given op and body, through the dispatcher with policy p. */
static enum keyd_status dispatch_raw(const struct keyd_policy *p, unsigned op,
                                     const unsigned char *body, size_t blen, uint32_t claimed)
{
	unsigned char frame[256];
	struct keyd_header h = {.version = KEYD_VERSION, .op = (uint8_t)op, .id = 9,
	                        .body_len = claimed};
	keyd_header_encode(&h, frame);
	memcpy(frame + KEYD_HEADER_LEN, body, blen);
	struct keyd_session *s = keyd_session_new(p, ks);
	unsigned char *resp = NULL;
	size_t rlen = 0;
	enum keyd_status st = keyd_dispatch(s, frame, KEYD_HEADER_LEN + blen, &resp, &rlen);
	struct keyd_header rh;
	assert_int_equal(keyd_header_decode(resp, &rh), KEYD_OK);
	assert_int_equal(rh.status, st);
	assert_int_equal(rh.id, 9);
	sg_free(&resp);
	keyd_session_free(&s);
	return st;
}

static void refusals_bad_length_unknown_op_not_allowed_owner(void **state)
{
	(void)state;
	/* owner "held:1", data "x" */
	static const unsigned char body[] = {0, 0, 0, 6, 'h', 'e', 'l', 'd', ':', '1', 0, 0, 0, 1, 'x'};
	const struct keyd_policy *qmgr = keyd_policy_find("qmgr");
	const struct keyd_policy *portal = keyd_policy_find("portal");
	assert_non_null(qmgr);
	assert_null(keyd_policy_find("smtpd"));
	assert_null(keyd_policy_find("ldapd"));
	assert_int_equal(dispatch_raw(qmgr, KEYD_OP_SEAL, body, sizeof(body), sizeof(body)), KEYD_OK);
	assert_int_equal(dispatch_raw(qmgr, KEYD_OP_SEAL, body, sizeof(body), sizeof(body) + 1),
	                 KEYD_E_BAD_REQUEST);
	assert_int_equal(dispatch_raw(qmgr, KEYD_OP_SEAL, body, sizeof(body) - 1, sizeof(body) - 1),
	                 KEYD_E_BAD_REQUEST);
	assert_int_equal(dispatch_raw(qmgr, 77, body, sizeof(body), sizeof(body)), KEYD_E_UNKNOWN_OP);
	assert_int_equal(dispatch_raw(qmgr, KEYD_OP_CA_ISSUE, body, sizeof(body), sizeof(body)),
	                 KEYD_E_NOT_ALLOWED);
	static const unsigned char ca[] = {0, 0, 0, 6, 'c', 'a', '-', 'k', 'e', 'y', 0, 0, 0, 1, 'x'};
	static const unsigned char dkim[] = {0, 0, 0, 6, 'd', 'k', 'i', 'm', ':', 'a', 0, 0, 0, 1, 'x'};
	assert_int_equal(dispatch_raw(portal, KEYD_OP_UNSEAL, dkim, sizeof(dkim), sizeof(dkim)),
	                 KEYD_E_OWNER);
	static const unsigned char held[] = {0, 0, 0, 6, 'h', 'e', 'l', 'd', ':', '1', 0, 0, 0, 1, 'x'};
	assert_int_equal(dispatch_raw(portal, KEYD_OP_UNSEAL, held, sizeof(held), sizeof(held)),
	                 KEYD_E_FAILED); /* allowed owner; "x" is no blob */
	/* keydops: the CA key is used inside keyd (key-load), never unsealed out */
	assert_int_equal(dispatch_raw(portal, KEYD_OP_UNSEAL, ca, sizeof(ca), sizeof(ca)),
	                 KEYD_E_OWNER);
}

static void owner_strings_are_bounded_and_printable(void **state)
{
	(void)state;
	struct keyd_request req;
	unsigned char frame[KEYD_HEADER_LEN + 4 + 300 + 4];
	struct keyd_header h = {.version = KEYD_VERSION, .op = KEYD_OP_UNSEAL, .id = 1};
	for (size_t olen = 0; olen <= 300; olen += 50) {
		h.body_len = (uint32_t)(8 + olen);
		keyd_header_encode(&h, frame);
		unsigned char *b = frame + KEYD_HEADER_LEN;
		b[0] = b[1] = 0, b[2] = (unsigned char)(olen >> 8), b[3] = (unsigned char)olen;
		memset(b + 4, olen == 100 ? ' ' : 'a', olen);
		memset(b + 4 + olen, 0, 4);
		enum keyd_status want = olen == 0 || olen > KEYD_OWNER_MAX || olen == 100
		                            ? KEYD_E_BAD_REQUEST : KEYD_OK;
		assert_int_equal(keyd_request_parse(frame, KEYD_HEADER_LEN + 8 + olen, &req), want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(loopback_seal_then_unseal),
		cmocka_unit_test(loopback_key_load_gives_handle_and_public_key),
		cmocka_unit_test(refusals_bad_length_unknown_op_not_allowed_owner),
		cmocka_unit_test(owner_strings_are_bounded_and_printable),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
