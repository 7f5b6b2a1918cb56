/* test_portal_compose.c: the pieces under "Reply and compose" on the portal: the form parser's
 * file parts (names, types, the larger "text" field), the Reply token lookup, the message
 * routes, and transform_portal (the portal field, foreign fields dropped, S/MIME to a
 * recipient's certificate). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/ca.h"
#include "crypto/keystore.h"
#include "unit_keystore.h"
#include "crypto/smime.h"
#include "policy/policy.h"
#include "portal/portal.h"
#include "portal/portal_priv.h"
#include "queue/transform.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];
static struct store *st;
static struct ca *ca;
static struct keystore *ks;
static struct keystore_key *alice_key;
static unsigned char *alice_der;
static size_t alice_len;

static int setup(void **state)
{
	(void)state;
	const char *err;
	snprintf(dir, sizeof(dir), "/tmp/sg-compose-XXXXXX");
	if (mkdtemp(dir) == NULL || (st = store_open("sqlite:t.db", dir, &err)) == NULL ||
	    unit_keystore_new(dir, &ks) < 0 || ca_init_create(dir, "Acme", ks, &err) < 0 ||
	    ca_open(dir, ks, &ca, &err) < 0 ||
	    keystore_key_generate(KEYSTORE_KEY_P256, &alice_key, &err) < 0 ||
	    ca_issue(ca, 1, "alice@example.com", "Alice", alice_key, 30, &alice_der, &alice_len, &err) < 0)
		return -1;
	struct smime_certinfo info;
	int64_t uid, cid;
	if (smime_cert_parse(alice_der, alice_len, &info, &err) < 0 ||
	    store_user_ensure(st, "alice@example.com", STORE_USER_INTERNAL, &uid, &err) < 0)
		return -1;
	struct store_cert c = {.user_id = uid, .der = alice_der, .der_len = alice_len,
	                       .not_before = info.not_before, .not_after = info.not_after,
	                       .source = STORE_CERT_IMPORTED};
	sg_strlcpy(c.fingerprint, info.fingerprint, sizeof(c.fingerprint));
	sg_strlcpy(c.serial, info.serial, sizeof(c.serial));
	sg_strlcpy(c.issuer, info.issuer, sizeof(c.issuer));
	return store_cert_add(st, &c, NULL, 0, &cid, &err);
}

static int teardown(void **state)
{
	(void)state;
	keystore_key_free(&alice_key);
	sg_free(&alice_der);
	ca_close(&ca);
	keystore_close(&ks);
	store_close(&st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int parse(const char *body, size_t len, struct portal_form *f)
{
	const char *err;
	return portal_form_parse("multipart/form-data; boundary=B", body, len, f, &err);
}

static void file_parts_keep_name_and_type(void **state)
{
	(void)state;
	static const char body[] =
	    "--B\r\nContent-Disposition: form-data; name=\"files\"; filename=\"<a&b>.pdf\"\r\n"
	    "Content-Type: Application/PDF; x=y\r\n\r\n%PDF\r\n"
	    "--B\r\nContent-Disposition: form-data; name=\"files\"; filename=\"\"\r\n"
	    "Content-Type: text/html\"><script>\r\n\r\n\r\n"
	    "--B\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nbob@example.com\r\n--B--\r\n";
	struct portal_form f;
	assert_int_equal(parse(body, sizeof(body) - 1, &f), 0);
	assert_int_equal(f.n, 3);
	assert_true(f.fields[0].is_file);
	assert_string_equal(f.fields[0].filename, "<a&b>.pdf");
	assert_string_equal(f.fields[0].content_type, "application/pdf");
	assert_true(f.fields[1].is_file);
	assert_string_equal(f.fields[1].filename, "");
	assert_null(f.fields[1].content_type); /* not a plain type/subtype: dropped */
	assert_int_equal(f.fields[1].value_len, 0);
	assert_false(f.fields[2].is_file);
	assert_null(f.fields[2].filename);
	portal_form_clear(&f);
	/* A file name with a control character, or too long, spoils the whole form. */
	static const char ctl[] =
	    "--B\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a\tb\"\r\n\r\nx\r\n--B--";
	assert_int_equal(parse(ctl, sizeof(ctl) - 1, &f), -1);
	char longname[600];
	int n = snprintf(longname, sizeof(longname),
	                 "--B\r\nContent-Disposition: form-data; name=\"files\"; filename=\"%0300d\""
	                 "\r\n\r\nx\r\n--B--", 0);
	assert_int_equal(parse(longname, (size_t)n, &f), -1);
}

/* "text" may hold a message (SG_HTTP_TEXT_MAX); every other text field SG_HTTP_FIELD_MAX. */
static void text_field_ceiling(void **state)
{
	(void)state;
	assert_int_equal(portal_form_field_max("text"), SG_HTTP_TEXT_MAX);
	assert_int_equal(portal_form_field_max("subject"), SG_HTTP_FIELD_MAX);
	size_t cap = SG_HTTP_TEXT_MAX + 200;
	char *body = sg_malloc(cap);
	struct portal_form f;
	for (int round = 0; round < 3; round++) {
		const char *name = round == 2 ? "subject" : "text";
		size_t vlen = round == 0 ? SG_HTTP_TEXT_MAX : round == 1 ? SG_HTTP_TEXT_MAX + 1 : 5000;
		int h = snprintf(body, cap, "--B\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n",
		                 name);
		memset(body + h, 'x', vlen);
		memcpy(body + (size_t)h + vlen, "\r\n--B--", 7);
		assert_int_equal(parse(body, (size_t)h + vlen + 7, &f), round == 0 ? 0 : -1);
		if (round == 0) {
			assert_int_equal(strlen(portal_form_get(&f, "text")), SG_HTTP_TEXT_MAX);
			portal_form_clear(&f);
		}
	}
	sg_free(&body);
	const char *err;
	assert_int_equal(portal_form_parse("application/x-www-form-urlencoded", "text=a%0D%0Ab", 13,
	                                   &f, &err), 0);
	assert_string_equal(portal_form_get(&f, "text"), "a\r\nb");
	portal_form_clear(&f);
}

static void reply_tokens(void **state)
{
	(void)state;
	const char *err;
	char hash[65];
	memset(hash, 'a', 64);
	hash[64] = '\0';
	struct store_reply_token t;
	assert_int_equal(store_reply_token_get(st, hash, &t, &err), 0);
	assert_int_equal(store_reply_token_add(st, hash, "m1@example.com", "alice@example.com",
	                                       "partner@outside.test", &err), 0);
	assert_int_equal(store_reply_token_get(st, hash, &t, &err), 1);
	assert_string_equal(t.message_id, "m1@example.com");
	assert_string_equal(t.sender, "alice@example.com");
	assert_string_equal(t.recipient, "partner@outside.test");
	assert_true(t.created > 0);
	/* A Message-ID too long to keep costs only the In-Reply-To. */
	char *mid = sg_malloc(STORE_MSGID_MAX + 10);
	memset(mid, 'm', STORE_MSGID_MAX + 9);
	mid[STORE_MSGID_MAX + 9] = '\0';
	hash[0] = 'b';
	assert_int_equal(store_reply_token_add(st, hash, mid, "alice@example.com", "p@o.test", &err),
	                 0);
	assert_int_equal(store_reply_token_get(st, hash, &t, &err), 1);
	assert_string_equal(t.message_id, "");
	sg_free(&mid);
}

static void message_routes(void **state)
{
	(void)state;
	assert_true(portal_compose_route("/compose"));
	assert_true(portal_compose_route("/reply/abc"));
	assert_false(portal_compose_route("/compose/x"));
	assert_false(portal_compose_route("/account"));
	assert_false(portal_compose_route("/replyx"));
}

static const char portal_msg[] =
    "From: partner@outside.test\r\nTo: %s\r\nSubject: hi\r\n"
    "X-Sealgate-Security: forged; authenticated=<boss@example.com>\r\n"
    "x-sealgate-other: also forged\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\nthe body\r\n";

static enum transform_result run(const char *rcpt, struct transform_output *out, char *msg,
                                 size_t size)
{
	snprintf(msg, size, portal_msg, rcpt);
	struct policy_plan plan = {.direction = POLICY_DIR_INBOUND, .action = POLICY_PORTAL};
	const char *rcpts[] = {rcpt};
	struct transform_env te = {.store = st};
	struct transform_input in = {.queue_id = "Q1", .sender = "partner@outside.test",
	                             .data = msg, .len = strlen(msg), .plan = &plan,
	                             .rcpts = rcpts, .nrcpt = 1};
	transform_output_init(out);
	return transform_run(&te, &in, out);
}

static void transform_states_the_portal(void **state)
{
	(void)state;
	char msg[1024];
	struct transform_output out;
	assert_int_equal(run("bob@example.com", &out, msg, sizeof(msg)), TRANSFORM_OK);
	char *got = sg_strndup(out.data, out.len);
	assert_non_null(strstr(got, "X-Sealgate-Security: portal; authenticated=<partner@outside.test>"
	                            "\r\n"));
	assert_null(strstr(got, "forged"));
	assert_non_null(strstr(got, "\r\n\r\nthe body\r\n"));
	sg_free(&got);
	transform_output_free(&out);
}

static void transform_encrypts_to_the_certificate(void **state)
{
	(void)state;
	char msg[1024];
	struct transform_output out;
	assert_int_equal(run("alice@example.com", &out, msg, sizeof(msg)), TRANSFORM_OK);
	char *got = sg_strndup(out.data, out.len);
	assert_non_null(strstr(got, "X-Sealgate-Security: portal; authenticated=<partner@outside.test>;"
	                            " encrypted=smime\r\n"));
	assert_null(strstr(got, "forged"));
	assert_null(strstr(got, "the body"));
	assert_non_null(strstr(got, "Subject: hi\r\n"));
	struct smime_der d = {alice_der, alice_len};
	char *plain = NULL;
	size_t plen = 0;
	const char *err;
	assert_int_equal(smime_decrypt(&d, alice_key, out.data, out.len, &plain, &plen, &err), 0);
	assert_non_null(memmem(plain, plen, "the body", 8));
	assert_non_null(memmem(plain, plen, "Content-Type: text/plain", 24));
	sg_free(&plain);
	sg_free(&got);
	transform_output_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(file_parts_keep_name_and_type),
		cmocka_unit_test(text_field_ceiling),
		cmocka_unit_test(reply_tokens),
		cmocka_unit_test(message_routes),
		cmocka_unit_test(transform_states_the_portal),
		cmocka_unit_test(transform_encrypts_to_the_certificate),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
