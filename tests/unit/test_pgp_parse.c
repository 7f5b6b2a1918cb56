/* test_pgp_parse.c: one parse per message for inbound OpenPGP (issue 19). The queue manager
 * lends one GMime parse of a queued message (mime_memo) to every recipient group; each group
 * decrypts with its own keys. Three groups (key, no key, key) of a PGP/MIME message cost one
 * parse of the message, plus one of what each group that holds the key decrypted; and the lent
 * tree is never changed: an inline block opened at the top (in place) leaves the next group
 * the same armoured message to open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_buf.h"
#include "core/sg_mem.h"
#include "crypto/pgp.h"
#include "mime/mime.h"

#include <string.h>

static const char entity[] = "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
                             "The figures for the third quarter.\r\n";
static const char head[] = "From: bob@partner.test\r\nTo: alice@example.test\r\n"
                           "Subject: figures\r\nMIME-Version: 1.0\r\n";

struct keys {
	struct pgp_ctx *holder; /* the gateway's secret key */
	struct pgp_ctx *none;   /* a group without it */
	char fpr[PGP_FPR_MAX];
};

static void keys_make(struct keys *k)
{
	const char *err = NULL;
	assert_int_equal(pgp_ctx_new(&k->holder, &err), 0);
	assert_int_equal(pgp_ctx_new(&k->none, &err), 0);
	assert_int_equal(pgp_generate(k->holder, "alice@example.test", "Alice", PGP_ALGO_ED25519,
	                              k->fpr, &err), 0);
}

static void keys_free(struct keys *k)
{
	pgp_ctx_free(&k->holder);
	pgp_ctx_free(&k->none);
}

/* A PGP/MIME message to k's key: our own encryption, with message fields above it. */
static char *encrypted_message(struct keys *k, size_t *len_r)
{
	const char *fprs[] = {k->fpr}, *err = NULL;
	char *enc = NULL;
	size_t enc_len = 0;
	assert_int_equal(pgp_encrypt_mime(k->holder, fprs, 1, NULL, entity, sizeof(entity) - 1,
	                                  &enc, &enc_len, &err), 0);
	struct sg_buf b;
	sg_buf_init(&b, 1 << 20);
	assert_int_equal(sg_buf_append_str(&b, head), 0);
	assert_int_equal(sg_buf_append(&b, enc, enc_len), 0);
	sg_free(&enc);
	return sg_buf_steal(&b, len_r);
}

static unsigned long parses_since(unsigned long before)
{
	unsigned long n;
	unsigned long long bytes;
	mime_parse_stats(&n, &bytes);
	return n - before;
}

/* One group: decrypted (with the entity as sent) exactly when its context holds the key. */
static void open_as_group(struct pgp_ctx *ctx, struct mime_memo *memo, bool holds_key)
{
	struct pgp_in_result r;
	const char *err = NULL;
	assert_int_equal(pgp_decrypt_verify_parsed(ctx, memo->data, memo->len,
	                                           mime_memo_entity(memo), &r, &err), 0);
	assert_true(r.encrypted);
	assert_int_equal(r.decrypted, holds_key);
	if (holds_key)
		assert_non_null(strstr(r.content, "The figures for the third quarter."));
	else
		assert_null(r.content);
	pgp_in_result_free(&r);
}

static void groups_share_one_parse(void **state)
{
	(void)state;
	struct keys k = {0};
	keys_make(&k);
	size_t len = 0;
	char *msg = encrypted_message(&k, &len);
	struct mime_memo memo;
	mime_memo_init(&memo, msg, len);
	unsigned long n0;
	unsigned long long b0;
	mime_parse_stats(&n0, &b0);
	open_as_group(k.holder, &memo, true);
	open_as_group(k.none, &memo, false);
	open_as_group(k.holder, &memo, true);
	/* the message once, the decrypted entity once for each of the two groups with the key */
	assert_int_equal(parses_since(n0), 3);
	mime_memo_free(&memo);
	sg_free(&msg);
	keys_free(&k);
}

/* Inline PGP as the whole text/plain body: the lent parse is a single part, which the walk
 * would open in place; every group still finds the armoured block. */
static void inline_top_is_not_changed_for_the_next_group(void **state)
{
	(void)state;
	struct keys k = {0};
	keys_make(&k);
	size_t len = 0;
	char *mime = encrypted_message(&k, &len);
	const char *armor = strstr(mime, "-----BEGIN PGP MESSAGE-----");
	const char *end = armor != NULL ? strstr(armor, "-----END PGP MESSAGE-----") : NULL;
	assert_non_null(end);
	end += strlen("-----END PGP MESSAGE-----");
	struct sg_buf b;
	sg_buf_init(&b, 1 << 20);
	assert_int_equal(sg_buf_append_str(&b, head), 0);
	assert_int_equal(sg_buf_append_str(&b, "Content-Type: text/plain; charset=us-ascii\r\n\r\n"),
	                 0);
	assert_int_equal(sg_buf_append(&b, armor, (size_t)(end - armor)), 0);
	assert_int_equal(sg_buf_append_str(&b, "\r\n"), 0);
	struct mime_memo memo;
	mime_memo_init(&memo, b.data, b.len);
	for (int group = 0; group < 2; group++)
		open_as_group(k.holder, &memo, true);
	mime_memo_free(&memo);
	sg_buf_free(&b);
	sg_free(&mime);
	keys_free(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(groups_share_one_parse),
		cmocka_unit_test(inline_top_is_not_changed_for_the_next_group),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
