/* test_transform_nested.c: the whole Thunderbird/NSS corpus through the inbound transform, the
 * gateway holding Bob's, Fran's and Fran-ec's keys, NSS Test CA trusted. For every row of
 * corpus/thunderbird-smime/EXPECTED.tsv: the message is delivered, every envelope OpenSSL
 * opened is decrypted by us too, the expected text is in what is delivered (remaining signed
 * layers peeled as a mail client would), and the verdict read from X-Sealgate-Security matches
 * Thunderbird's (enc, sig, sig_good, outer signer). test_smime.c peels the same files with the
 * crypto primitives against the OpenSSL column; this one judges the gateway's own unwrapping.
 * Where sealgate decides otherwise on purpose, the row is in `deviations` with the reason; a
 * difference not listed, or a listed one that went away, fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "corpus.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/ca.h"
#include "crypto/keystore.h"
#include "crypto/smime.h"
#include "mime/mime.h"
#include "queue/transform.h"
#include "store/store.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CORPUS_TIME 1795800000 /* 2026-11-27: inside the corpus certificates' validity */
#define ROWS_MAX 100

static char dir[64];
static struct store *st;
static struct keystore *ks;
static struct smime_trust *trust;

enum { F_ENC = 1, F_SIG = 2, F_GOOD = 4, F_DAVE = 8 };

/* Where sealgate answers otherwise than Thunderbird's test, on purpose. */
static const struct deviation {
	const char *pattern; /* fnmatch over the TSV's file column */
	unsigned fields;     /* which of enc, sig, sig_good may differ */
	const char *reason;
} deviations[] = {
	{"nss/alice.env.*.dave.sig.*", F_ENC | F_SIG | F_GOOD,
	 "Thunderbird neither reports the envelope below two signature layers nor sets Dave's "
	 "signature aside (its bug 1806161 exception covers a signature directly over the "
	 "envelope only); sealgate opens the envelope (decrypted=yes) and states both signatures "
	 "as outer-sig: they sign ciphertext, not the text shown"},
	{"nss/alice.plain.dsig.SHA[2-5]*.dave.*", F_GOOD,
	 "Thunderbird calls a signature nested in another bad when either is a multipart/signed; "
	 "both verify (OpenSSL column) and Dave's covers the whole message: sealgate says "
	 "valid, and lists Alice's inner one as valid-other-signer (From is Dave)"},
	{"nss/alice.plain.sig.SHA[2-5]*.opaque.dave.dsig.*", F_GOOD,
	 "as above: Thunderbird calls nested signatures bad when one is a multipart/signed"},
};

struct row {
	char file[160];
	char openssl[600];
	char tb[200];
};

struct tb {
	int enc, sig, good; /* -1: not stated (interop files have no signature) */
	bool dave;
};

static void import_p12(const char *rel)
{
	char path[512], *data = NULL, owner[80];
	size_t len = 0, der_len = 0, sealed_len = 0;
	unsigned char *der = NULL, *sealed = NULL;
	struct keystore_key *key = NULL;
	struct smime_certinfo info;
	const char *err;
	snprintf(path, sizeof(path), "%s/thunderbird-smime/%s", corpus_root(), rel);
	assert_int_equal(sg_file_read_all(path, 1 << 20, &data, &len, &err), 0);
	assert_int_equal(ca_pkcs12_import((unsigned char *)data, len, "nss", &der, &der_len, &key,
	                                  &err), 0);
	assert_int_equal(smime_cert_parse(der, der_len, &info, &err), 0);
	snprintf(owner, sizeof(owner), "cert:%s", info.fingerprint);
	assert_int_equal(keystore_seal(ks, key, owner, &sealed, &sealed_len, &err), 0);
	struct store_cert c = {.der = der, .der_len = der_len, .not_before = info.not_before,
	                       .not_after = info.not_after, .source = STORE_CERT_IMPORTED};
	sg_strlcpy(c.fingerprint, info.fingerprint, sizeof(c.fingerprint));
	sg_strlcpy(c.serial, info.serial, sizeof(c.serial));
	sg_strlcpy(c.issuer, info.issuer, sizeof(c.issuer));
	int64_t id;
	assert_int_equal(store_user_ensure(st, info.address, STORE_USER_INTERNAL, &c.user_id, &err), 0);
	assert_int_equal(store_cert_add(st, &c, sealed, sealed_len, &id, &err), 0);
	sg_free(&sealed);
	sg_free(&der);
	sg_free(&data);
	keystore_key_free(&key);
}

static int setup(void **state)
{
	(void)state;
	const char *err;
	char path[128];
	if (!corpus_has("thunderbird-smime/EXPECTED.tsv"))
		return 0;
	snprintf(dir, sizeof(dir), "/tmp/sg-tnested-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/master.key", dir);
	assert_int_equal(keystore_master_create(path, &err), 0);
	assert_int_equal(keystore_open(path, &ks, &err), 0);
	st = store_open("sqlite:t.db", dir, &err);
	assert_non_null(st);
	import_p12("nss/Bob.p12");
	import_p12("interop/Fran.p12");
	import_p12("interop/Fran-ec.p12");
	trust = smime_trust_new(false);
	snprintf(path, sizeof(path), "%s/thunderbird-smime/nss/TestCA.pem", corpus_root());
	assert_int_equal(smime_trust_add_pem_file(trust, path, &err), 0);
	smime_trust_set_time(trust, CORPUS_TIME);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	smime_trust_free(&trust);
	if (st != NULL)
		store_close(&st);
	keystore_close(&ks);
	if (dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
	return 0;
}

static size_t read_rows(struct row *rows)
{
	char path[512], *tsv = NULL, *save = NULL;
	size_t len = 0, n = 0;
	const char *err;
	snprintf(path, sizeof(path), "%s/thunderbird-smime/EXPECTED.tsv", corpus_root());
	assert_int_equal(sg_file_read_all(path, 1 << 20, &tsv, &len, &err), 0);
	for (char *line = strtok_r(tsv, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *t1 = strchr(line, '\t'), *t2 = t1 != NULL ? strchr(t1 + 1, '\t') : NULL;
		if (line[0] == '#' || t2 == NULL)
			continue;
		assert_true(n < ROWS_MAX);
		snprintf(rows[n].file, sizeof(rows[n].file), "%.*s", (int)(t1 - line), line);
		snprintf(rows[n].openssl, sizeof(rows[n].openssl), "%.*s", (int)(t2 - t1 - 1), t1 + 1);
		snprintf(rows[n].tb, sizeof(rows[n].tb), "%s", t2 + 1);
		n++;
	}
	sg_free(&tsv);
	return n;
}

static int tb_flag(const char *col, const char *key)
{
	const char *p = strstr(col, key);
	if (p == NULL || p[strlen(key)] == '-')
		return -1;
	return strncmp(p + strlen(key), "true", 4) == 0;
}

/* Thunderbird's verdict for a row; a file its test does not list (alice.html.*) takes the
 * row of its text/plain twin. */
static bool tb_of(const struct row *rows, size_t n, const struct row *r, struct tb *t)
{
	if (strstr(r->tb, "enc=") == NULL) {
		char twin[160];
		const char *h = strstr(r->file, ".html.");
		if (h == NULL)
			return false;
		snprintf(twin, sizeof(twin), "%.*s%s", (int)(h - r->file), r->file, h + 5);
		for (size_t i = 0; i < n; i++)
			if (strcmp(rows[i].file, twin) == 0)
				return tb_of(rows, n, &rows[i], t);
		return false;
	}
	t->enc = tb_flag(r->tb, "enc=");
	t->sig = tb_flag(r->tb, " sig=");
	t->good = tb_flag(r->tb, "sig_good=");
	t->dave = strstr(r->tb, "outer_signer=Dave") != NULL;
	return true;
}

/* The X-Sealgate-Security field, unfolded: first line (the summary) and the layers line. */
static void security_field(const char *msg, char *summary, size_t ssize, char *layers,
                           size_t lsize)
{
	const char *f = strstr(msg, "X-Sealgate-Security: ");
	assert_non_null(f);
	f += strlen("X-Sealgate-Security: ");
	size_t n = strcspn(f, "\r\n");
	snprintf(summary, ssize, "%.*s", (int)n, f);
	layers[0] = '\0';
	const char *next = f + n + 2;
	if (*next == '\t' || *next == ' ')
		snprintf(layers, lsize, "%.*s", (int)strcspn(next + 1, "\r\n"), next + 1);
}

static bool bad_verdict(const char *v)
{
	static const char *const bad[] = {"invalid", "untrusted", "weak", "revoked"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (strncmp(v, bad[i], strlen(bad[i])) == 0)
			return true;
	return false;
}

/* Our verdict in Thunderbird's terms. sig: the content has a signature (outer ones, over
 * ciphertext, are not the content's); sig_good: it is valid and no signature inside the
 * content is bad. dave: the outermost layer's signer is Dave. */
static void ours_of(const char *summary, const char *layers, struct tb *t)
{
	const char *sig = strstr(summary, "signature=");
	t->enc = strstr(summary, "decrypted=yes") != NULL;
	t->sig = sig != NULL && strncmp(sig, "signature=none", 14) != 0 &&
	         strncmp(sig, "signature=partial", 17) != 0;
	t->good = sig != NULL && (strncmp(sig, "signature=valid ", 16) == 0 ||
	                          strncmp(sig, "signature=valid;", 16) == 0);
	for (const char *p = strchr(layers, '('); p != NULL; p = strchr(p + 1, '(')) {
		const char *end = strchr(p, ')');
		bool outer = end != NULL && end - p > 6 && strncmp(end - 6, " outer", 6) == 0;
		if (!outer && bad_verdict(p + 1))
			t->good = false;
	}
	const char *first = layers[0] ? layers : summary;
	size_t first_len = layers[0] ? strcspn(layers, ">") : strlen(summary);
	t->dave = memmem(first, first_len, "dave@example.com", 16) != NULL;
}

/* What a mail client shows: signed layers left in the message peeled off. */
static bool text_shown(const char *msg, size_t len, const char *text)
{
	char *cur = sg_memdup(msg, len + 1);
	size_t cur_len = len;
	for (int depth = 0; depth < 4 && smime_classify(cur, cur_len) == SMIME_KIND_SIGNED; depth++) {
		struct smime_verify_result r;
		const char *err;
		if (smime_verify(trust, cur, cur_len, &r, &err) < 0 || r.content == NULL) {
			smime_verify_result_free(&r);
			break;
		}
		sg_free(&cur);
		cur = r.content;
		cur_len = r.content_len;
		r.content = NULL;
		smime_verify_result_free(&r);
	}
	bool found = memmem(cur, cur_len, text, strlen(text)) != NULL;
	sg_free(&cur);
	return found;
}

static char *read_crlf(const char *rel, size_t *len_r)
{
	char path[512], *raw = NULL;
	size_t len = 0;
	const char *err;
	snprintf(path, sizeof(path), "%s/thunderbird-smime/%s", corpus_root(), rel);
	assert_int_equal(sg_file_read_all(path, 1 << 24, &raw, &len, &err), 0);
	char *out = sg_malloc(2 * len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = raw[i];
	}
	out[o] = '\0';
	*len_r = o;
	sg_free(&raw);
	return out;
}

static const struct deviation *deviation_of(const char *file)
{
	for (size_t i = 0; i < sizeof(deviations) / sizeof(deviations[0]); i++)
		if (fnmatch(deviations[i].pattern, file, 0) == 0)
			return &deviations[i];
	return NULL;
}

static unsigned differences(const struct tb *want, const struct tb *got)
{
	unsigned d = 0;
	d |= want->enc >= 0 && want->enc != got->enc ? F_ENC : 0;
	d |= want->sig >= 0 && want->sig != got->sig ? F_SIG : 0;
	d |= want->good >= 0 && want->good != got->good ? F_GOOD : 0;
	d |= want->dave && !got->dave ? F_DAVE : 0;
	return d;
}

/* One row through transform_inbound: 0 as expected, 1 a listed deviation; fails otherwise. */
static int run_row(const struct row *rows, size_t n, const struct row *r)
{
	size_t len;
	char *msg = read_crlf(r->file, &len);
	struct mime_info info;
	const char *err, *rcpts[] = {"bob@example.com"};
	assert_int_equal(mime_info_parse(msg, len, &info, &err), 0);
	struct transform_env te = {.store = st, .keystore = ks, .trust = trust};
	struct transform_input in = {.queue_id = r->file, .data = msg, .len = len, .mime = &info,
	                             .rcpts = rcpts, .nrcpt = 1};
	struct transform_output out;
	transform_output_init(&out);
	if (transform_inbound(&te, &in, &out) != TRANSFORM_OK)
		fail_msg("%s: not delivered: %s", r->file, out.reason);
	char *got = sg_strndup(out.data, out.len), summary[2048], layers[2048];
	security_field(got, summary, sizeof(summary), layers, sizeof(layers));
	bool stale = strstr(r->openssl, "stale file") != NULL;
	if (strstr(r->openssl, "DECRYPT(") != NULL && strstr(summary, "decrypted=yes") == NULL)
		fail_msg("%s: OpenSSL decrypts it, we did not: %s", r->file, summary);
	if (stale && strstr(summary, "decrypted=yes") != NULL)
		fail_msg("%s: encrypted to a key nobody holds, yet decrypted?", r->file);
	const char *text = strstr(r->file, "fran") != NULL ? "This is a test message to Fran."
	                                                : "This is a test message from Alice to Bob.";
	if (strstr(r->openssl, "[expected-text-found]") != NULL && !text_shown(out.data, out.len, text))
		fail_msg("%s: the text is not in what we deliver (%s)", r->file, summary);
	struct tb want, ours;
	int rc = 0;
	if (!stale) {
		if (!tb_of(rows, n, r, &want))
			fail_msg("%s: no Thunderbird verdict to compare with", r->file);
		ours_of(summary, layers, &ours);
		unsigned d = differences(&want, &ours);
		const struct deviation *dev = deviation_of(r->file);
		if (d != 0 && (dev == NULL || (d & ~dev->fields) != 0))
			fail_msg("%s: Thunderbird says \"%s\", we say \"%s\" / \"%s\" (differs in %s%s%s%s)",
			         r->file, r->tb, summary, layers, d & F_ENC ? "enc " : "",
			         d & F_SIG ? "sig " : "", d & F_GOOD ? "sig_good " : "",
			         d & F_DAVE ? "outer signer" : "");
		if (d == 0 && dev != NULL)
			fail_msg("%s: listed as a deviation, but we now agree with Thunderbird", r->file);
		if (d != 0)
			print_message("deviation %s: %s\n", r->file, dev->reason);
		rc = d != 0;
	}
	sg_free(&got);
	transform_output_free(&out);
	mime_info_free(&info);
	sg_free(&msg);
	return rc;
}

static void corpus_unwrapped_like_thunderbird(void **state)
{
	(void)state;
	if (st == NULL)
		skip();
	static struct row rows[ROWS_MAX];
	size_t n = read_rows(rows), deviating = 0;
	assert_int_equal(n, 78);
	for (size_t i = 0; i < n; i++)
		deviating += (size_t)run_row(rows, n, &rows[i]);
	print_message("%zu corpus rows unwrapped, %zu deviate from Thunderbird as listed\n", n,
	              deviating);
	assert_int_equal(deviating, 17);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(corpus_unwrapped_like_thunderbird),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
