/* test_pgp_secret.c: secret keys from elsewhere (issue 27) on the Thunderbird corpus keys:
 * the verdicts of pgp_secret_inspect, pgp_secret_take (passphrase removed, sealed, opened again;
 * a wrong passphrase yields nothing), the key that signs among several (pgp_pick_signer), and
 * the Date: parser the signing-time check relies on. */
#include "crypto/keystore.h"
#include "crypto/pgp.h"
#include "core/sg_mem.h"
#include "mime/mime.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "corpus.h"
#include "unit_keystore.h"

#define NOW 1795800000 /* 2026-11-27 */
#define TB "thunderbird-openpgp/keys/"
#define ALICE_FPR "EB85BB5FA33A75E15E944E63F231550C4F47E38E"
#define KYLIE_FPR "F490898E979061DB327A71871AABD9FAD1E411DD"
#define EDDIE_FPR "4CC3798FDDF4D0BB147CDC2E15E9357D2C2395C0"
#define ALICE_SEC TB "alice@openpgp.example-0xf231550c4f47e38e-secret.asc"
#define ALICE_SEC_PP TB "alice@openpgp.example-0xf231550c4f47e38e-secret-with-pp.asc"
#define KYLIE_SEC TB "kylie-0x1AABD9FAD1E411DD-secret-subkeys.asc"

static unsigned char *corpus_file(const char *rel, size_t *len_r)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/%s", corpus_root(), rel);
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	unsigned char *buf = sg_malloc(1 << 20);
	*len_r = fread(buf, 1, (1 << 20) - 1, f);
	buf[*len_r] = '\0';
	fclose(f);
	return buf;
}

static bool have_corpus(void)
{
	return corpus_has("thunderbird-openpgp/README.md");
}

static const struct {
	const char *file;
	int rc;                  /* of pgp_secret_inspect */
	bool accepted;
	bool protected_secret;
	const char *reason_part; /* substring of the reason (or of the error when rc < 0) */
} cases[] = {
	{ALICE_SEC, 0, true, false, NULL},
	{ALICE_SEC_PP, 0, true, true, NULL},
	{KYLIE_SEC, 0, true, true, NULL}, /* offline primary: the subkeys are here */
	{TB "ofelia-secret-subkeys.asc", 0, true, false, NULL},
	{TB "bob@openpgp.example-0xfbfcc82a015e7330-pub.asc", 0, false, false, "no secret key"},
	{TB "carol@pgp.icu-0xEF2FD01608AFD744-revoked-secret.asc", 0, false, false, "revoked"},
	{TB "eddie@openpgp.example-0x15e9357d2c2395c0-secret.asc", 0, false, false, "expired"},
	{TB "alice-v5-sec.asc", -1, false, false, "a v5 key"},
	{TB "pgp-v6-sec.asc", -1, false, false, "a v6 key"},
};

static void secret_verdicts(void **state)
{
	(void)state;
	if (!have_corpus())
		skip();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len, n = 0;
		const char *err = NULL;
		struct pgp_key_report *r = NULL;
		unsigned char *data = corpus_file(cases[i].file, &len);
		assert_non_null(data);
		int rc = pgp_secret_inspect(data, len, NOW, &r, &n, &err);
		print_message("%s: rc %d %s\n", cases[i].file, rc,
		              rc < 0 ? err : r[0].reason != NULL ? r[0].reason : "accepted");
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0) {
			assert_int_equal(r[0].accepted, cases[i].accepted);
			assert_int_equal(r[0].secret_protected, cases[i].protected_secret);
			if (cases[i].accepted)
				assert_true(r[0].can_sign && r[0].enc_stubs == 0);
		}
		const char *why = rc < 0 ? err : r[0].reason;
		if (cases[i].reason_part != NULL)
			assert_non_null(strstr(why, cases[i].reason_part));
		pgp_key_reports_free(&r, n);
		sg_free(&data);
	}
}

struct fx {
	char dir[64];
	struct keystore *ks;
};

static int setup(void **state)
{
	struct fx *fx = sg_calloc(1, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sg-pgpsec-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	assert_int_equal(unit_keystore_new(fx->dir, &fx->ks), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];
	keystore_close(&fx->ks);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	assert_int_equal(system(cmd), 0);
	sg_free(&fx);
	return 0;
}

/* Takes fpr out of the corpus file with passphrase: the blob, or NULL with *err. */
static unsigned char *take(struct fx *fx, const char *file, const char *fpr, const char *pass,
                           size_t *blob_len, const char **err)
{
	size_t len;
	unsigned char *data = corpus_file(file, &len), *blob = (unsigned char *)"x";
	assert_non_null(data);
	if (pgp_secret_take(data, len, fpr, pass, fx->ks, &blob, blob_len, err) < 0)
		assert_null(blob);
	sg_free(&data);
	return blob;
}

static void take_with_and_without_passphrase(void **state)
{
	struct fx *fx = *state;
	if (!have_corpus())
		skip();
	size_t n = 0;
	const char *err = NULL;
	assert_null(take(fx, ALICE_SEC_PP, ALICE_FPR, "WRONG", &n, &err));
	assert_non_null(strstr(err, "wrong passphrase"));
	assert_null(take(fx, ALICE_SEC_PP, ALICE_FPR, NULL, &n, &err));
	assert_non_null(strstr(err, "--passphrase-stdin"));
	unsigned char *blob = take(fx, ALICE_SEC_PP, ALICE_FPR, "alice-passphrase", &n, &err);
	assert_non_null(blob);
	/* opened without any passphrase: the protection is gone, the master key seals it */
	struct pgp_ctx *ctx = NULL;
	assert_int_equal(pgp_ctx_new(&ctx, &err), 0);
	assert_int_equal(pgp_secret_unseal(ctx, fx->ks, ALICE_FPR, blob, n, &err), 0);
	assert_true(pgp_ctx_has_key(ctx, ALICE_FPR, true));
	/* ... and sealed for this key only */
	struct pgp_ctx *other = NULL;
	assert_int_equal(pgp_ctx_new(&other, &err), 0);
	assert_int_equal(pgp_secret_unseal(other, fx->ks, KYLIE_FPR, blob, n, &err), -1);
	pgp_ctx_free(&other);
	pgp_ctx_free(&ctx);
	sg_free(&blob);
}

static void offline_primary_signs_with_its_subkey(void **state)
{
	struct fx *fx = *state;
	if (!have_corpus())
		skip();
	size_t n = 0;
	const char *err = NULL;
	assert_null(take(fx, KYLIE_SEC, KYLIE_FPR, "WRONG", &n, &err));
	unsigned char *blob = take(fx, KYLIE_SEC, KYLIE_FPR, "kylie-passphrase", &n, &err);
	assert_non_null(blob);
	struct pgp_ctx *ctx = NULL;
	assert_int_equal(pgp_ctx_new(&ctx, &err), 0);
	assert_int_equal(pgp_secret_unseal(ctx, fx->ks, KYLIE_FPR, blob, n, &err), 0);
	const char *fprs[] = {KYLIE_FPR};
	assert_int_equal(pgp_pick_signer(ctx, fprs, 1, NOW, true), 0);
	/* it signs what gpg-readable PGP/MIME carries */
	const char entity[] = "Content-Type: text/plain\r\n\r\nfrom kylie\r\n";
	char *out = NULL;
	size_t out_len = 0;
	assert_int_equal(pgp_encrypt_mime(ctx, fprs, 1, KYLIE_FPR, entity, sizeof(entity) - 1, &out,
	                                  &out_len, &err), 0);
	struct pgp_in_result r;
	assert_int_equal(pgp_decrypt_verify(ctx, out, out_len, &r, &err), 0);
	assert_true(r.decrypted && r.nsigs == 1 && r.sigs[0].status == PGP_SIG_VALID);
	pgp_in_result_free(&r);
	sg_free(&out);
	pgp_ctx_free(&ctx);
	sg_free(&blob);
}

static void newest_valid_key_signs(void **state)
{
	(void)state;
	if (!have_corpus())
		skip();
	struct pgp_ctx *ctx = NULL;
	const char *err = NULL;
	const char *files[] = {TB "alice@openpgp.example-0xf231550c4f47e38e-pub.asc",
	                       TB "eddie@openpgp.example-0x15e9357d2c2395c0-pub.asc", KYLIE_SEC};
	assert_int_equal(pgp_ctx_new(&ctx, &err), 0);
	for (size_t i = 0; i < 3; i++) {
		size_t len;
		unsigned char *k = corpus_file(files[i], &len);
		assert_int_equal(pgp_ctx_load_public(ctx, k, len, &err), 0);
		sg_free(&k);
	}
	/* Alice 2019, Kylie 2023, Eddie 2015 and expired */
	const char *all[] = {ALICE_FPR, KYLIE_FPR, EDDIE_FPR};
	assert_int_equal(pgp_pick_signer(ctx, all, 3, NOW, false), 1);
	const char *old[] = {EDDIE_FPR, ALICE_FPR};
	assert_int_equal(pgp_pick_signer(ctx, old, 2, NOW, false), 1);
	assert_int_equal(pgp_pick_signer(ctx, all + 2, 1, NOW, false), -1);
	/* public keys only: nothing can sign once the secret part is asked for */
	assert_int_equal(pgp_pick_signer(ctx, all, 3, NOW, true), -1);
	assert_int_equal(pgp_pick_signer(ctx, all, 0, NOW, false), -1);
	pgp_ctx_free(&ctx);
}

static void date_header_with_offset(void **state)
{
	(void)state;
	const char *m = "From: x\r\nDate: Wed, 14 Oct 2020 14:21:06 -0400\r\n\r\nDate: no\r\n";
	assert_int_equal(mime_header_date(m, strlen(m)), 1602699666);
	const char *n = "From: x\r\n\r\nDate: Wed, 14 Oct 2020 14:21:06 -0400\r\n";
	assert_int_equal(mime_header_date(n, strlen(n)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(secret_verdicts),
		cmocka_unit_test_setup_teardown(take_with_and_without_passphrase, setup, teardown),
		cmocka_unit_test_setup_teardown(offline_primary_signs_with_its_subkey, setup, teardown),
		cmocka_unit_test(newest_valid_key_signs),
		cmocka_unit_test(date_header_with_offset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
