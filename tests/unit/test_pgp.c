/* test_pgp.c: the OpenPGP engine against GnuPG 2.2 as the real peer (a temporary GNUPGHOME
 * per test, loopback pinentry): gpg decrypts and verifies what we send, we decrypt and verify
 * what gpg sends (PGP/MIME and inline), key import verdicts on the Thunderbird and GMime
 * corpus keys, tampered signatures, sealing, Autocrypt. */
#include "crypto/keystore.h"
#include "crypto/pgp.h"
#include "core/sg_mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "corpus.h"

#define NOW 1795800000 /* 2026-11-27 */
#define ALICE_FPR "EB85BB5FA33A75E15E944E63F231550C4F47E38E"
#define BOB_FPR "D1A66E1A23B182C9980F788CFBFCC82A015E7330"

struct fx {
	char dir[64];   /* scratch directory; gpg homes below it */
	char gpg[128];  /* GNUPGHOME of the peer */
};

/* ---- helpers ---- */

static const char *corpus(void)
{
	return corpus_root();
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(cmd));
	return system(cmd) == 0 ? 0 : -1;
}

static unsigned char *slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0, n;
	do {
		cap = cap * 2 + 65536;
		buf = sg_realloc(buf, cap + 1);
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (len == cap);
	fclose(f);
	buf[len] = '\0';
	*len_r = len;
	return buf;
}

static unsigned char *corpus_file(const char *rel, size_t *len_r)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", corpus(), rel);
	return slurp(path, len_r);
}

static void spit(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static bool have_corpus(void)
{
	return corpus_has("thunderbird-openpgp/README.md");
}

/* A fresh GNUPGHOME for the peer, with loopback pinentry. */
static void gpg_home(struct fx *fx, const char *name, char *home, size_t size)
{
	snprintf(home, size, "%s/%s", fx->dir, name);
	assert_int_equal(mkdir(home, 0700), 0);
	char conf[256];
	snprintf(conf, sizeof(conf), "%s/gpg-agent.conf", home);
	spit(conf, "allow-loopback-pinentry\n", 24);
}

#define GPG "gpg --batch --quiet --no-tty --pinentry-mode loopback --passphrase ''"

static void gpg_import(const char *home, const char *path)
{
	assert_int_equal(sh("GNUPGHOME=%s " GPG " --import %s 2>/dev/null", home, path), 0);
}

static void gpg_import_mem(struct fx *fx, const char *home, const void *data, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/import.tmp", fx->dir);
	spit(path, data, len);
	gpg_import(home, path);
}

static int setup(void **state)
{
	struct fx *fx = sg_calloc(1, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sg-pgp-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	gpg_home(fx, "peer", fx->gpg, sizeof(fx->gpg));
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	sh("gpgconf --homedir %s --kill all 2>/dev/null; gpgconf --homedir %s/alice --kill all "
	   "2>/dev/null; gpgconf --homedir %s/bob --kill all 2>/dev/null; rm -rf %s",
	   fx->gpg, fx->dir, fx->dir, fx->dir);
	sg_free(&fx);
	return 0;
}

static struct pgp_ctx *ctx_with(const char *const *pub, const char *const *sec)
{
	struct pgp_ctx *ctx = NULL;
	const char *err = NULL;
	assert_int_equal(pgp_ctx_new(&ctx, &err), 0);
	for (size_t i = 0; pub != NULL && pub[i] != NULL; i++) {
		size_t len;
		unsigned char *k = corpus_file(pub[i], &len);
		assert_non_null(k);
		assert_int_equal(pgp_ctx_load_public(ctx, k, len, &err), 0);
		sg_free(&k);
	}
	for (size_t i = 0; sec != NULL && sec[i] != NULL; i += 2) {
		size_t len;
		unsigned char *k = corpus_file(sec[i], &len);
		assert_non_null(k);
		int rc = pgp_ctx_load_secret(ctx, k, len, sec[i + 1], &err);
		if (rc != 0)
			print_error("%s: %s\n", sec[i], err);
		assert_int_equal(rc, 0);
		sg_free(&k);
	}
	return ctx;
}

#define TB "thunderbird-openpgp/keys/"
#define ALICE_PUB TB "alice@openpgp.example-0xf231550c4f47e38e-pub.asc"
#define ALICE_SEC TB "alice@openpgp.example-0xf231550c4f47e38e-secret.asc"
#define BOB_PUB TB "bob@openpgp.example-0xfbfcc82a015e7330-pub.asc"
#define BOB_SEC TB "bob@openpgp.example-0xfbfcc82a015e7330-secret.asc"
#define CAROL_PUB TB "carol@example.com-0x3099ff1238852b9f-pub.asc"

/* ---- import verdicts ---- */

static const struct {
	const char *file;
	bool accepted;
	const char *reason_part; /* substring of the reason, or the address when accepted */
} import_cases[] = {
	{ALICE_PUB, true, "alice@openpgp.example"},
	{BOB_PUB, true, "bob@openpgp.example"},
	{ALICE_SEC, true, "alice@openpgp.example"}, /* secret files give their public part */
	{TB "carol@pgp.icu-0xEF2FD01608AFD744-revoked-secret.asc", false, "revoked"},
	{TB "eddie@openpgp.example-0x15e9357d2c2395c0-pub.asc", false, "expired"},
	{TB "sign-subkey-only-pub.asc", false, "sign-only"},
	{TB "expired-enc-subkey.pub.asc", false, "encryption subkey"},
	{"gmime-tests/pgp/gmime.gpg.pub", false, "weak"},
	{TB "key-binary.gpg", true, "@"},
};

static void import_verdicts(void **state)
{
	(void)state;
	if (!have_corpus())
		skip();
	for (size_t i = 0; i < sizeof(import_cases) / sizeof(import_cases[0]); i++) {
		size_t len, n = 0;
		const char *err = NULL;
		struct pgp_key_report *r = NULL;
		unsigned char *data = corpus_file(import_cases[i].file, &len);
		assert_non_null(data);
		assert_int_equal(pgp_key_inspect(data, len, NOW, &r, &n, &err), 0);
		print_message("%s: %s %s (%s)\n", import_cases[i].file,
		              r[0].accepted ? "accepted" : "rejected", r[0].fingerprint,
		              r[0].reason != NULL ? r[0].reason : r[0].addresses[0]);
		assert_true(n >= 1);
		assert_int_equal(r[0].accepted, import_cases[i].accepted);
		if (r[0].accepted) {
			assert_non_null(strstr(r[0].addresses[0], import_cases[i].reason_part));
			assert_non_null(r[0].pubkey);
		} else {
			assert_non_null(strstr(r[0].reason, import_cases[i].reason_part));
			assert_null(r[0].pubkey);
		}
		pgp_key_reports_free(&r, n);
		sg_free(&data);
	}
}


/* An accepted key's blob is whole: it is Alice's, and read again it is accepted again. */
static void accepted_blob_is_whole(const struct pgp_key_report *k)
{
	assert_string_equal(k->fingerprint, ALICE_FPR);
	assert_non_null(k->pubkey);
	struct pgp_key_report *again = NULL;
	size_t n = 0;
	const char *err = NULL;
	assert_int_equal(pgp_key_inspect(k->pubkey, k->pubkey_len, NOW, &again, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_true(again[0].accepted);
	assert_string_equal(again[0].fingerprint, ALICE_FPR);
	pgp_key_reports_free(&again, n);
}

static void import_several_and_garbage(void **state)
{
	(void)state;
	if (!have_corpus())
		skip();
	size_t la, lb, n = 0;
	unsigned char *a = corpus_file(ALICE_PUB, &la), *b = corpus_file(BOB_PUB, &lb);
	unsigned char *both = sg_malloc(la + lb);
	memcpy(both, a, la);
	memcpy(both + la, b, lb);
	struct pgp_key_report *r = NULL;
	const char *err = NULL;
	assert_int_equal(pgp_key_inspect(both, la + lb, NOW, &r, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_true(r[0].accepted && r[1].accepted);
	pgp_key_reports_free(&r, n);
	assert_int_equal(pgp_key_inspect((const unsigned char *)"hello", 5, NOW, &r, &n, &err), -1);
	assert_int_equal(pgp_key_inspect(both, 0, NOW, &r, &n, &err), -1);
	size_t lv;
	unsigned char *v5 = corpus_file(TB "alice-v5-pub.asc", &lv);
	assert_int_equal(pgp_key_inspect(v5, lv, NOW, &r, &n, &err), -1);
	print_message("v5: %s\n", err);
	/* truncated keys never crash and never come out accepted with a broken blob */
	for (size_t cut = 1; cut < la; cut += la / 7) {
		if (pgp_key_inspect(a, cut, NOW, &r, &n, &err) < 0)
			continue;
		for (size_t i = 0; i < n; i++)
			if (r[i].accepted)
				accepted_blob_is_whole(&r[i]);
			else
				assert_non_null(r[i].reason);
		pgp_key_reports_free(&r, n);
	}
	sg_free(&v5);
	sg_free(&both);
	sg_free(&a);
	sg_free(&b);
}

/* ---- the inline splitter: only a whole block may be opened (issue 21) ---- */

#define CS_HEAD "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nLunch at noon?\n"
#define CS_SIG "-----BEGIN PGP SIGNATURE-----\n\niQE=\n=abcd\n-----END PGP SIGNATURE-----\n"
#define ENC "-----BEGIN PGP MESSAGE-----\n\nhQE=\n-----END PGP MESSAGE-----\n"

static const struct {
	const char *text;
	int found;
	enum pgp_kind kind;
	bool whole;
} inline_cases[] = {
	{"no armour here\n", 0, PGP_KIND_NONE, false},
	{CS_HEAD CS_SIG, 1, PGP_KIND_INLINE_SIGNED, true},
	{"\r\n  \n" CS_HEAD CS_SIG "\n\t\n", 1, PGP_KIND_INLINE_SIGNED, true},
	{"URGENT: wire EUR 90,000\n" CS_HEAD CS_SIG, 1, PGP_KIND_INLINE_SIGNED, false},
	{CS_HEAD CS_SIG "P.S. new account\n", 1, PGP_KIND_INLINE_SIGNED, false},
	{CS_HEAD CS_SIG CS_HEAD CS_SIG, 1, PGP_KIND_INLINE_SIGNED, false},
	/* an armour header is shown as text but covered by nothing */
	{"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\nNote: pay now\n\nhi\n" CS_SIG, 1,
	 PGP_KIND_INLINE_SIGNED, false},
	{CS_HEAD "-----BEGIN PGP SIGNATURE-----\nComment: pay now\n\niQE=\n"
	 "-----END PGP SIGNATURE-----\n", 1, PGP_KIND_INLINE_SIGNED, false},
	{CS_HEAD "-----END PGP SIGNATURE-----\n", 1, PGP_KIND_INLINE_SIGNED, false},
	{ENC, 1, PGP_KIND_INLINE_ENCRYPTED, true},
	{"Hello\n" ENC "Bye\n", 1, PGP_KIND_INLINE_ENCRYPTED, false},
	{"-----BEGIN PGP MESSAGE-----\nhQE=\n", 0, PGP_KIND_NONE, false}, /* unterminated */
	/* markers count only at a line start: a quoted block is text */
	{"> -----BEGIN PGP MESSAGE-----\n> hQE=\n> -----END PGP MESSAGE-----\n", 0, PGP_KIND_NONE,
	 false},
	{"-----BEGIN PGP MESSAGE----- trailing\nhQE=\n-----END PGP MESSAGE-----\n", 0,
	 PGP_KIND_NONE, false},
};

static void inline_splitter(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(inline_cases) / sizeof(inline_cases[0]); i++) {
		struct pgp_armor_span sp;
		const char *t = inline_cases[i].text;
		print_message("case %zu\n", i);
		assert_int_equal(pgp_inline_find(t, strlen(t), &sp), inline_cases[i].found);
		if (inline_cases[i].found == 0)
			continue;
		assert_int_equal(sp.kind, inline_cases[i].kind);
		assert_int_equal(sp.whole, inline_cases[i].whole);
		assert_true(sp.start < sp.end && sp.end <= strlen(t));
		assert_memory_equal(t + sp.start, "-----BEGIN PGP ", 15);
	}
}

static void uid_addresses(void **state)
{
	(void)state;
	char a[SG_ADDR_MAX];
	assert_int_equal(pgp_uid_address("Alice <Alice@Example.ORG>", a, sizeof(a)), 0);
	assert_string_equal(a, "alice@example.org");
	assert_int_equal(pgp_uid_address("bob@example.org", a, sizeof(a)), 0);
	assert_int_equal(pgp_uid_address("Bob Smith", a, sizeof(a)), -1);
	assert_int_equal(pgp_uid_address("x <a@b@c>", a, sizeof(a)), -1);
	assert_int_equal(pgp_uid_address("x <a b@c>", a, sizeof(a)), -1);
	assert_int_equal(pgp_uid_address("x <@c>", a, sizeof(a)), -1);
	assert_int_equal(pgp_uid_address("x <a@c", a, sizeof(a)), -1);
}

/* ---- outbound: gpg reads what we write ---- */

static const char entity[] =
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	"\r\n"
	"--b1\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: 8bit\r\n"
	"\r\n"
	"Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln \xe2\x82\xac\r\n"
	"--b1\r\n"
	"Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
	"Content-Disposition: attachment; filename=\"a.bin\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"AAECAwQFBgcICQ==\r\n"
	"--b1--\r\n";

/* Writes the armoured block of a PGP/MIME entity to path. */
static void extract_armor(const char *mime, const char *path)
{
	const char *b = strstr(mime, "-----BEGIN PGP MESSAGE-----");
	const char *e = b != NULL ? strstr(b, "-----END PGP MESSAGE-----") : NULL;
	assert_non_null(e);
	e += strlen("-----END PGP MESSAGE-----");
	spit(path, b, (size_t)(e - b));
}

static void make_gateway_key(struct pgp_ctx *ctx, enum pgp_algo algo, char *fpr)
{
	const char *err = NULL;
	int rc = pgp_generate(ctx, "gateway@example.test", "Example Org", algo, fpr, &err);
	if (rc != 0)
		print_error("generate: %s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(strlen(fpr), 40);
	assert_true(pgp_ctx_has_key(ctx, fpr, true));
}

/* gpg in home decrypts in_path; checks plaintext == want, and GOODSIG if signer given. */
static void gpg_decrypts(struct fx *fx, const char *home, const char *in_path, const char *want,
                         size_t want_len, const char *signer_fpr)
{
	char out[256], status[256];
	snprintf(out, sizeof(out), "%s/plain.out", fx->dir);
	snprintf(status, sizeof(status), "%s/status.out", fx->dir);
	unlink(out);
	assert_int_equal(sh("GNUPGHOME=%s " GPG " --status-file %s --output %s --decrypt %s "
	                    "2>/dev/null", home, status, out, in_path), 0);
	size_t len, slen;
	unsigned char *plain = slurp(out, &len);
	char *st = (char *)slurp(status, &slen);
	assert_non_null(plain);
	assert_int_equal(len, want_len);
	assert_memory_equal(plain, want, want_len);
	assert_non_null(strstr(st, "DECRYPTION_OKAY"));
	assert_non_null(strstr(st, "GOODMDC"));
	assert_non_null(strstr(st, "DECRYPTION_INFO 2 9")); /* MDC, AES-256 */
	assert_null(strstr(st, "PLAINTEXT_LENGTH 0"));
	if (signer_fpr != NULL) {
		assert_non_null(strstr(st, "GOODSIG"));
		assert_non_null(strstr(st, signer_fpr));
	}
	sg_free(&plain);
	sg_free(&st);
}

static void gpg_reads_what_we_send(void **state)
{
	struct fx *fx = *state;
	if (!have_corpus())
		skip();
	const char *pub[] = {ALICE_PUB, BOB_PUB, NULL};
	struct pgp_ctx *ctx = ctx_with(pub, NULL);
	char fpr[PGP_FPR_MAX], ahome[128], bhome[128], path[256];
	make_gateway_key(ctx, PGP_ALGO_ED25519, fpr);
	unsigned char *gwpub = NULL;
	size_t gwlen = 0;
	const char *err = NULL;
	assert_int_equal(pgp_export_public(ctx, fpr, true, &gwpub, &gwlen, &err), 0);
	assert_non_null(strstr((char *)gwpub, "BEGIN PGP PUBLIC KEY BLOCK"));

	gpg_home(fx, "alice", ahome, sizeof(ahome));
	gpg_home(fx, "bob", bhome, sizeof(bhome));
	snprintf(path, sizeof(path), "%s/%s", corpus(), ALICE_SEC);
	gpg_import(ahome, path);
	snprintf(path, sizeof(path), "%s/%s", corpus(), BOB_SEC);
	gpg_import(bhome, path);
	gpg_import_mem(fx, ahome, gwpub, gwlen);
	gpg_import_mem(fx, bhome, gwpub, gwlen);

	/* one recipient, signed; the entity given with bare LF comes back CRLF */
	char *out = NULL;
	size_t out_len = 0;
	const char *one[] = {ALICE_FPR};
	assert_int_equal(pgp_encrypt_mime(ctx, one, 1, fpr, entity, sizeof(entity) - 1, &out,
	                                  &out_len, &err), 0);
	assert_true(strncmp(out, "MIME-Version: 1.0\r\nContent-Type: multipart/encrypted", 52) == 0);
	assert_non_null(strstr(out, "protocol=\"application/pgp-encrypted\""));
	assert_null(strstr(out, "(null)"));
	assert_non_null(strstr(out, "\r\nVersion: 1\r\n"));
	snprintf(path, sizeof(path), "%s/one.asc", fx->dir);
	extract_armor(out, path);
	gpg_decrypts(fx, ahome, path, entity, sizeof(entity) - 1, fpr);
	sg_free(&out);

	/* two recipients, unsigned: each decrypts alone */
	const char *two[] = {ALICE_FPR, BOB_FPR};
	assert_int_equal(pgp_encrypt_mime(ctx, two, 2, NULL, entity, sizeof(entity) - 1, &out,
	                                  &out_len, &err), 0);
	snprintf(path, sizeof(path), "%s/two.asc", fx->dir);
	extract_armor(out, path);
	gpg_decrypts(fx, ahome, path, entity, sizeof(entity) - 1, NULL);
	gpg_decrypts(fx, bhome, path, entity, sizeof(entity) - 1, NULL);
	sg_free(&out);

	/* an unknown recipient fails closed */
	const char *nobody[] = {"0000000000000000000000000000000000000000"};
	assert_int_equal(pgp_encrypt_mime(ctx, nobody, 1, NULL, entity, 10, &out, &out_len, &err),
	                 -1);
	sg_free(&gwpub);
	pgp_ctx_free(&ctx);
}

static void rsa_gateway_key_signs_for_gpg(void **state)
{
	struct fx *fx = *state;
	if (!have_corpus())
		skip();
	const char *pub[] = {BOB_PUB, NULL};
	struct pgp_ctx *ctx = ctx_with(pub, NULL);
	char fpr[PGP_FPR_MAX], bhome[128], path[256];
	make_gateway_key(ctx, PGP_ALGO_RSA3072, fpr);
	unsigned char *gwpub = NULL;
	size_t gwlen = 0;
	const char *err = NULL;
	assert_int_equal(pgp_export_public(ctx, fpr, false, &gwpub, &gwlen, &err), 0);
	gpg_home(fx, "bob", bhome, sizeof(bhome));
	snprintf(path, sizeof(path), "%s/%s", corpus(), BOB_SEC);
	gpg_import(bhome, path);
	gpg_import_mem(fx, bhome, gwpub, gwlen);
	char *out = NULL;
	size_t out_len = 0;
	const char *one[] = {BOB_FPR};
	assert_int_equal(pgp_encrypt_mime(ctx, one, 1, fpr, entity, sizeof(entity) - 1, &out,
	                                  &out_len, &err), 0);
	snprintf(path, sizeof(path), "%s/rsa.asc", fx->dir);
	extract_armor(out, path);
	gpg_decrypts(fx, bhome, path, entity, sizeof(entity) - 1, fpr);
	sg_free(&out);
	sg_free(&gwpub);
	pgp_ctx_free(&ctx);
}

/* ---- inbound: we read what gpg writes ---- */

static char *wrap_encrypted(const char *armored, size_t len, size_t *out_len)
{
	static const char head[] =
		"From: bob@openpgp.example\r\nTo: gateway@example.test\r\nSubject: x\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; "
		"boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: application/pgp-encrypted\r\n\r\n"
		"Version: 1\r\n\r\n--XX\r\nContent-Type: application/octet-stream\r\n\r\n";
	static const char tail[] = "\r\n--XX--\r\n";
	char *m = sg_malloc(sizeof(head) + len + sizeof(tail));
	memcpy(m, head, sizeof(head) - 1);
	memcpy(m + sizeof(head) - 1, armored, len);
	memcpy(m + sizeof(head) - 1 + len, tail, sizeof(tail));
	*out_len = sizeof(head) - 1 + len + sizeof(tail) - 1;
	return m;
}

/* Sets up our gateway key in ctx and the peer's keyring: bob signs, we hold the secret. */
static struct pgp_ctx *peer_setup(struct fx *fx, char *fpr)
{
	const char *pub[] = {BOB_PUB, NULL};
	struct pgp_ctx *ctx = ctx_with(pub, NULL);
	make_gateway_key(ctx, PGP_ALGO_ED25519, fpr);
	unsigned char *gwpub = NULL;
	size_t gwlen = 0;
	const char *err = NULL;
	assert_int_equal(pgp_export_public(ctx, fpr, true, &gwpub, &gwlen, &err), 0);
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", corpus(), BOB_SEC);
	gpg_import(fx->gpg, path);
	gpg_import_mem(fx, fx->gpg, gwpub, gwlen);
	sg_free(&gwpub);
	return ctx;
}

static void we_read_what_gpg_sends(void **state)
{
	struct fx *fx = *state;
	if (!have_corpus())
		skip();
	char fpr[PGP_FPR_MAX], in[256], out[256];
	struct pgp_ctx *ctx = peer_setup(fx, fpr);
	snprintf(in, sizeof(in), "%s/entity.txt", fx->dir);
	snprintf(out, sizeof(out), "%s/entity.asc", fx->dir);
	spit(in, entity, sizeof(entity) - 1);
	assert_int_equal(sh("GNUPGHOME=%s " GPG " --trust-model always --armor --sign --local-user "
	                    "%s --encrypt --recipient %s --output %s %s 2>/dev/null",
	                    fx->gpg, BOB_FPR, fpr, out, in), 0);
	size_t alen, mlen;
	char *armored = (char *)slurp(out, &alen);
	char *msg = wrap_encrypted(armored, alen, &mlen);
	struct pgp_in_result r;
	const char *err = NULL;
	assert_int_equal(pgp_decrypt_verify(ctx, msg, mlen, &r, &err), 0);
	assert_int_equal(r.kind, PGP_KIND_MIME_ENCRYPTED);
	assert_true(r.encrypted && r.decrypted && r.integrity_ok);
	assert_string_equal(r.cipher, "AES256");
	assert_int_equal(r.nsigs, 1);
	assert_int_equal(r.sigs[0].status, PGP_SIG_VALID);
	assert_string_equal(r.sigs[0].signer, "bob@openpgp.example");
	assert_string_equal(r.sigs[0].signer_fpr, BOB_FPR);
	assert_int_equal(r.content_len, sizeof(entity) - 1);
	assert_memory_equal(r.content, entity, sizeof(entity) - 1);
	pgp_in_result_free(&r);

	/* the same without Bob's public key: decrypted, signature from an unknown key */
	struct pgp_ctx *bare = ctx_with(NULL, NULL);
	unsigned char *sec = NULL;
	size_t slen = 0;
	struct keystore *ks = NULL;
	char mk[256];
	snprintf(mk, sizeof(mk), "%s/master.key", fx->dir);
	assert_int_equal(keystore_master_create(mk, &err), 0);
	assert_int_equal(keystore_open(mk, &ks, &err), 0);
	assert_int_equal(pgp_secret_seal(ctx, ks, fpr, &sec, &slen, &err), 0);
	assert_int_equal(pgp_secret_unseal(bare, ks, fpr, sec, slen, &err), 0);
	assert_int_equal(pgp_decrypt_verify(bare, msg, mlen, &r, &err), 0);
	assert_true(r.decrypted);
	assert_int_equal(r.nsigs, 1);
	assert_int_equal(r.sigs[0].status, PGP_SIG_UNKNOWN_KEY);
	assert_string_equal(r.sigs[0].signer, "");
	pgp_in_result_free(&r);
	/* a blob bound to another fingerprint does not open */
	struct pgp_ctx *other = ctx_with(NULL, NULL);
	assert_int_equal(pgp_secret_unseal(other, ks, BOB_FPR, sec, slen, &err), -1);
	sec[slen - 1] ^= 1;
	assert_int_equal(pgp_secret_unseal(other, ks, fpr, sec, slen, &err), -1);
	pgp_ctx_free(&other);
	sg_free(&sec);
	keystore_close(&ks);
	pgp_ctx_free(&bare);

	/* inline: armoured text in a text/plain body */
	static const char text[] = "Hallo Gateway, gr\xc3\xbc\xc3\x9f" "e!\n";
	spit(in, text, sizeof(text) - 1);
	assert_int_equal(sh("GNUPGHOME=%s " GPG " --trust-model always --armor --sign --local-user "
	                    "%s --encrypt --recipient %s --output %s --yes %s 2>/dev/null",
	                    fx->gpg, BOB_FPR, fpr, out, in), 0);
	sg_free(&armored);
	armored = (char *)slurp(out, &alen);
	char *inl = sg_malloc(alen + 256);
	/* text around the block: mixed content, left as it came and never decrypted (EFAIL) */
	int n = snprintf(inl, alen + 256, "From: bob@openpgp.example\r\nSubject: inline\r\n"
	                 "Content-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n%s\r\nBye\r\n",
	                 armored);
	assert_int_equal(pgp_decrypt_verify(ctx, inl, (size_t)n, &r, &err), 0);
	assert_int_equal(r.kind, PGP_KIND_INLINE_ENCRYPTED);
	assert_true(r.mixed && r.encrypted);
	assert_false(r.decrypted);
	assert_int_equal(r.nsigs, 0);
	assert_null(r.content);
	pgp_in_result_free(&r);
	/* the block as the whole body (white space aside): opened */
	n = snprintf(inl, alen + 256, "From: bob@openpgp.example\r\nSubject: inline\r\n"
	             "Content-Type: text/plain; charset=utf-8\r\n\r\n\r\n%s\r\n \r\n", armored);
	assert_int_equal(pgp_decrypt_verify(ctx, inl, (size_t)n, &r, &err), 0);
	assert_int_equal(r.kind, PGP_KIND_INLINE_ENCRYPTED);
	assert_true(r.decrypted && !r.mixed);
	assert_int_equal(r.nsigs, 1);
	assert_int_equal(r.sigs[0].status, PGP_SIG_VALID);
	assert_non_null(r.content);
	assert_null(strstr(r.content, "Subject:"));
	assert_non_null(strstr(r.content, "Hallo Gateway, gr=C3=BC=C3=9Fe!"));
	assert_null(strstr(r.content, "BEGIN PGP"));
	pgp_in_result_free(&r);
	sg_free(&inl);
	sg_free(&armored);
	sg_free(&msg);
	pgp_ctx_free(&ctx);
}

static void tampered_signature_is_invalid(void **state)
{
	struct fx *fx = *state;
	if (!have_corpus())
		skip();
	char fpr[PGP_FPR_MAX], in[256], out[256];
	struct pgp_ctx *ctx = peer_setup(fx, fpr);
	static const char part[] = "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
	                           "Pay 100 EUR to account 1234.\r\n";
	snprintf(in, sizeof(in), "%s/part.txt", fx->dir);
	snprintf(out, sizeof(out), "%s/part.sig", fx->dir);
	spit(in, part, sizeof(part) - 1);
	assert_int_equal(sh("GNUPGHOME=%s " GPG " --armor --detach-sign --local-user %s --output %s "
	                    "%s 2>/dev/null", fx->gpg, BOB_FPR, out, in), 0);
	size_t slen;
	char *sig = (char *)slurp(out, &slen);
	char msg[8192];
	const char *err = NULL;
	int n = snprintf(msg, sizeof(msg),
	                 "From: bob@openpgp.example\r\nMIME-Version: 1.0\r\n"
	                 "Content-Type: multipart/signed; micalg=pgp-sha256; "
	                 "protocol=\"application/pgp-signature\"; boundary=\"SS\"\r\n\r\n"
	                 "--SS\r\n%s\r\n--SS\r\nContent-Type: application/pgp-signature\r\n\r\n"
	                 "%s\r\n--SS--\r\n", part, sig);
	assert_true(n > 0 && (size_t)n < sizeof(msg));
	struct pgp_in_result r;
	assert_int_equal(pgp_decrypt_verify(ctx, msg, (size_t)n, &r, &err), 0);
	assert_int_equal(r.kind, PGP_KIND_MIME_SIGNED);
	assert_false(r.encrypted);
	assert_int_equal(r.nsigs, 1);
	assert_int_equal(r.sigs[0].status, PGP_SIG_VALID);
	assert_memory_equal(r.content, part, sizeof(part) - 1);
	pgp_in_result_free(&r);
	char *p = strstr(msg, "100 EUR");
	p[0] = '9';
	assert_int_equal(pgp_decrypt_verify(ctx, msg, (size_t)n, &r, &err), 0);
	assert_int_equal(r.nsigs, 1);
	assert_int_equal(r.sigs[0].status, PGP_SIG_INVALID);
	pgp_in_result_free(&r);
	sg_free(&sig);
	pgp_ctx_free(&ctx);
}

/* ---- the Thunderbird and GMime corpus ---- */

struct corpus_case {
	const char *file;
	enum pgp_kind kind;
	bool decrypted;
	size_t nsigs;
	int sig0;           /* expected status of the first signature, -1: don't care */
	const char *text;   /* must appear in the content, or NULL for no content */
};

static const struct corpus_case tb_cases[] = {
	{"encrypted-and-signed-alice-to-bob-nonascii.eml", PGP_KIND_MIME_ENCRYPTED, true, 1,
	 PGP_SIG_VALID, ""},
	{"signed-by-0xfbfcc82a015e7330-encrypted-to-0xf231550c4f47e38e.eml", PGP_KIND_MIME_ENCRYPTED,
	 true, 1, PGP_SIG_VALID, "Sundays are nothing without callaloo."},
	{"unsigned-encrypted-to-0xf231550c4f47e38e-from-0xfbfcc82a015e7330.eml",
	 PGP_KIND_MIME_ENCRYPTED, true, 0, -1, "Sundays are nothing without callaloo."},
	{"signed-by-0xfbfcc82a015e7330-to-0xf231550c4f47e38e-unencrypted.eml", PGP_KIND_MIME_SIGNED,
	 false, 1, PGP_SIG_VALID, "Sundays are nothing without callaloo."},
	{"signed-by-0x3099ff1238852b9f-to-0xf231550c4f47e38e-unencrypted.eml", PGP_KIND_MIME_SIGNED,
	 false, 1, PGP_SIG_VALID, "Sundays are nothing without callaloo."},
	/* wildcard key id: RNP 0.16 tries no key; pgp_hidden.c tries each held one */
	{"encrypted-to-alice-as-hidden-recipient.eml", PGP_KIND_MIME_ENCRYPTED, true, 0, -1,
	 "hidden recipient encryption"},
	{"bob-to-alice-signed-damaged-signature.eml", PGP_KIND_MIME_SIGNED, false, 1,
	 PGP_SIG_INVALID, ""},
	{"openpgp__stripped_sig.eml", PGP_KIND_MIME_SIGNED, false, 1, PGP_SIG_INVALID, ""},
	/* a list's multipart/mixed wrapper around the signed part is not looked into */
	{"signed-with-mailman-footer.eml", PGP_KIND_NONE, false, 0, -1, NULL},
	{"alice-signed.eml", PGP_KIND_INLINE_SIGNED, false, 1, PGP_SIG_VALID, ""},
	{"alice-utf.eml", PGP_KIND_INLINE_SIGNED, false, 1, PGP_SIG_VALID, ""},
	{"inline-signed-utf8.eml", PGP_KIND_INLINE_SIGNED, false, 1, PGP_SIG_UNKNOWN_KEY, ""},
	{"signed-encrypted-autocrypt-gossip.eml", PGP_KIND_MIME_ENCRYPTED, true, 1, PGP_SIG_VALID,
	 ""},
	{"sigspoof-git-commit.eml", PGP_KIND_MIME_ENCRYPTED, false, 0, -1, NULL},
	/* the outer (bad) signature covers ciphertext: dropped once it opens, as Thunderbird */
	{"outer-pgp-sig-inner-pgp-enc-sig.eml", PGP_KIND_MIME_SIGNED, true, 1, PGP_SIG_VALID,
	 "Sundays are nothing without callaloo."},
	/* ... and when it was the only one, none is left */
	{"outer-pgp-sig-inner-pgp-enc.eml", PGP_KIND_MIME_SIGNED, true, 0, -1,
	 "Sundays are nothing without callaloo."},
	/* an outer S/MIME signature around PGP/MIME is stepped over the same way */
	{"outer-smime-bad-sig-inner-pgp-enc-sig.eml", PGP_KIND_MIME_ENCRYPTED, true, 1,
	 PGP_SIG_VALID, "Sundays are nothing without callaloo."},
	/* with a multipart/mixed between them, neither Thunderbird nor we open it */
	{"outer-smime-bad-sig-inner-pgp-enc-sig-with-mixed.eml", PGP_KIND_MIME_ENCRYPTED, false, 0,
	 -1, NULL},
	{"unsigned-unencrypted-from-bob-to-alice.eml", PGP_KIND_NONE, false, 0, -1, NULL},
};

static void check_corpus_case(struct pgp_ctx *ctx, const struct corpus_case *c)
{
	char rel[512];
	size_t len;
	snprintf(rel, sizeof(rel), "thunderbird-openpgp/eml/%s", c->file);
	char *msg = (char *)corpus_file(rel, &len);
	assert_non_null(msg);
	size_t skip = 0; /* Thunderbird's files keep the mbox "From " line; SMTP has none */
	if (strncmp(msg, "From ", 5) == 0)
		skip = (size_t)(strchr(msg, '\n') + 1 - msg);
	struct pgp_in_result r;
	const char *err = NULL;
	int prc = pgp_decrypt_verify(ctx, msg + skip, len - skip, &r, &err);
	if (prc != 0)
		print_error("%s: %s\n", c->file, err);
	assert_int_equal(prc, 0);
	print_message("%s: %s decrypted=%d sigs=%zu%s%s\n", c->file, pgp_kind_name(r.kind),
	              r.decrypted, r.nsigs, r.nsigs > 0 ? " first=" : "",
	              r.nsigs > 0 ? pgp_sig_status_name(r.sigs[0].status) : "");
	assert_int_equal(r.kind, c->kind);
	assert_int_equal(r.decrypted, c->decrypted);
	assert_int_equal(r.nsigs, c->nsigs);
	if (c->sig0 >= 0)
		assert_int_equal(r.sigs[0].status, c->sig0);
	if (c->text == NULL)
		assert_null(r.content);
	else
		assert_non_null(r.content != NULL ? strstr(r.content, c->text) : NULL);
	pgp_in_result_free(&r);
	sg_free(&msg);
}

static void thunderbird_corpus(void **state)
{
	(void)state;
	if (!have_corpus())
		skip();
	const char *pub[] = {BOB_PUB, CAROL_PUB, NULL};
	const char *sec[] = {ALICE_SEC, NULL, NULL};
	struct pgp_ctx *ctx = ctx_with(pub, sec);
	for (size_t i = 0; i < sizeof(tb_cases) / sizeof(tb_cases[0]); i++)
		check_corpus_case(ctx, &tb_cases[i]);
	pgp_ctx_free(&ctx);
}

static void gmime_inline_with_passphrase(void **state)
{
	(void)state;
	if (!have_corpus())
		skip();
	const char *sec[] = {"gmime-tests/pgp/gmime.gpg.sec", "no.secret", NULL};
	struct pgp_ctx *ctx = ctx_with(NULL, sec);
	size_t len;
	char *msg = (char *)corpus_file("gmime-tests/pgp/encrypted-message.txt", &len);
	struct pgp_in_result r;
	const char *err = NULL;
	/* the file keeps an e-mail signature below the block: mixed, not opened */
	assert_int_equal(pgp_decrypt_verify(ctx, msg, len, &r, &err), 0);
	assert_int_equal(r.kind, PGP_KIND_INLINE_ENCRYPTED);
	assert_true(r.mixed && !r.decrypted && r.content == NULL);
	pgp_in_result_free(&r);
	/* without it the block is the whole body */
	char *sig = strstr(msg, "-----END PGP MESSAGE-----");
	assert_non_null(sig);
	size_t cut = (size_t)(sig - msg) + strlen("-----END PGP MESSAGE-----\n");
	assert_int_equal(pgp_decrypt_verify(ctx, msg, cut, &r, &err), 0);
	assert_true(r.decrypted && r.integrity_ok && !r.mixed);
	assert_non_null(strstr(r.content, "This is the message body."));
	pgp_in_result_free(&r);
	sg_free(&msg);
	/* a wrong passphrase is refused at load */
	struct pgp_ctx *bad = ctx_with(NULL, NULL);
	unsigned char *k = corpus_file("gmime-tests/pgp/gmime.gpg.sec", &len);
	assert_int_equal(pgp_ctx_load_secret(bad, k, len, "WRONG", &err), -1);
	sg_free(&k);
	pgp_ctx_free(&bad);
	pgp_ctx_free(&ctx);
}

/* ---- Autocrypt ---- */

static void autocrypt_roundtrip(void **state)
{
	(void)state;
	struct pgp_ctx *ctx = ctx_with(NULL, NULL);
	char fpr[PGP_FPR_MAX];
	make_gateway_key(ctx, PGP_ALGO_ED25519, fpr);
	char *field = NULL;
	const char *err = NULL;
	assert_int_equal(pgp_autocrypt_format(ctx, fpr, "gateway@example.test", true, &field, &err),
	                 0);
	assert_true(strncmp(field, "Autocrypt: addr=gateway@example.test; prefer-encrypt=mutual; "
	                           "keydata=\r\n ", 70) == 0);
	for (const char *l = field; *l != '\0'; l = strstr(l, "\r\n") + 2)
		assert_true(strstr(l, "\r\n") - l <= 78);
	const char *value = field + strlen("Autocrypt:");
	struct pgp_autocrypt ac;
	assert_int_equal(pgp_autocrypt_parse(value, strlen(value), &ac, &err), 0);
	assert_string_equal(ac.addr, "gateway@example.test");
	assert_true(ac.prefer_mutual);
	struct pgp_key_report *r = NULL;
	size_t n = 0;
	assert_int_equal(pgp_key_inspect(ac.keydata, ac.keydata_len, time(NULL), &r, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_true(r[0].accepted);
	assert_string_equal(r[0].fingerprint, fpr);
	pgp_key_reports_free(&r, n);
	pgp_autocrypt_clear(&ac);
	sg_free(&field);
	pgp_ctx_free(&ctx);
}

static const struct {
	const char *value;
	int rc;
} ac_cases[] = {
	{"addr=a@b.example; keydata=AAEC", 0},
	{"addr=A@B.example; prefer-encrypt=nopreference; _x=1; keydata=AA EC\r\n AwQ=", 0},
	{"keydata=AAEC", -1},
	{"addr=a@b.example", -1},
	{"addr=a@b.example; keydata=AAEC; foo=bar", -1},
	{"addr=a@b.example; addr=c@d.example; keydata=AAEC", -1},
	{"addr=a@b.example; keydata=!!!!", -1},
	{"addr=not-an-address; keydata=AAEC", -1},
	{"addr=<a@b.example>; keydata=AAEC", -1},
	{"addr=a@b.example; novalue; keydata=AAEC", -1},
	{"", -1},
};

static void autocrypt_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ac_cases) / sizeof(ac_cases[0]); i++) {
		struct pgp_autocrypt ac;
		const char *err = NULL;
		int rc = pgp_autocrypt_parse(ac_cases[i].value, strlen(ac_cases[i].value), &ac, &err);
		if (rc != ac_cases[i].rc)
			print_error("case %zu: rc %d (%s)\n", i, rc, err != NULL ? err : "");
		assert_int_equal(rc, ac_cases[i].rc);
		if (rc == 0)
			assert_non_null(strchr(ac.addr, '@'));
		pgp_autocrypt_clear(&ac);
	}
}

/* The draft's own example, and what gpg-wks-client --print-wkd-hash says for alice. */
static void wkd_hash_vectors(void **state)
{
	(void)state;
	char h[PGP_WKD_HASH_MAX];
	assert_int_equal(pgp_wkd_hash("Joe.Doe", h), 0);
	assert_string_equal(h, "iy9q119eutrkn8s1mk4r39qejnbu3n5q");
	assert_int_equal(pgp_wkd_hash("alice", h), 0);
	assert_string_equal(h, "kei1q4tipxxu1yj79k9kfukdhfy631xe");
	assert_int_equal(pgp_wkd_hash("ALICE", h), 0);
	assert_string_equal(h, "kei1q4tipxxu1yj79k9kfukdhfy631xe");
	assert_int_equal(pgp_wkd_hash("", h), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(uid_addresses),
		cmocka_unit_test(inline_splitter),
		cmocka_unit_test(import_verdicts),
		cmocka_unit_test(import_several_and_garbage),
		cmocka_unit_test_setup_teardown(gpg_reads_what_we_send, setup, teardown),
		cmocka_unit_test_setup_teardown(rsa_gateway_key_signs_for_gpg, setup, teardown),
		cmocka_unit_test_setup_teardown(we_read_what_gpg_sends, setup, teardown),
		cmocka_unit_test_setup_teardown(tampered_signature_is_invalid, setup, teardown),
		cmocka_unit_test(thunderbird_corpus),
		cmocka_unit_test(gmime_inline_with_passphrase),
		cmocka_unit_test(autocrypt_roundtrip),
		cmocka_unit_test(autocrypt_parse_table),
		cmocka_unit_test(wkd_hash_vectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
