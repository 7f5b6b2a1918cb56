/* smime_layers.c: the in-process half of bench/smime (issue 18). (1) Sign+encrypt of a 100 KB
 * message to an RSA-3072 recipient by an RSA-3072 sender, with and without RFC 9788 header
 * protection (the payload built by mime_hp_payload, the outer section by mime_hp_outer), in
 * alternating rounds of the same run; (2) inbound unwrapping of a three-layer message (signed
 * over encrypted over signed, as Thunderbird's manual corpus file) by transform_inbound with
 * the gateway-held key in a store: messages per second. Prints the medians and the ratio.
 * (3) the transform step alone, pass-through against S/MIME encryption, in CPU per message.
 * Usage: smime_layers [ITERATIONS [outbound]] */
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/ca.h"
#include "crypto/sgdkim.h"
#include "crypto/keystore.h"
#include "crypto/smime.h"
#include "mime/mime.h"
#include "policy/policy.h"
#include "queue/transform.h"
#include "scan/scan.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 6

struct party {
	struct keystore_key *key;
	unsigned char *der;
	size_t len;
};

static char dir[64];
static struct keystore *ks;
static struct ca *ca;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "smime_layers: %s: %s\n", what, err);
	exit(1);
}

/* The serial sequence a store would hand out (store_ca_serial_next). */
static uint64_t serial_seq;

static void make_party(struct party *p, const char *addr)
{
	const char *err;
	if (keystore_key_generate(KEYSTORE_KEY_RSA3072, &p->key, &err) < 0 ||
	    ca_issue(ca, ++serial_seq, addr, "Bench", p->key, 30, &p->der, &p->len, &err) < 0)
		die(addr, err);
}

static char *message(size_t *len_r)
{
	struct sg_buf b;
	sg_buf_init(&b, 1 << 22);
	sg_buf_append_str(&b, "From: bench@example.com\r\nTo: sink@remote.test\r\n"
	                      "Subject: [secure] figures\r\nDate: Mon, 07 Dec 2026 15:00:00 +0000\r\n"
	                      "Message-ID: <bench@example.com>\r\nMIME-Version: 1.0\r\n"
	                      "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
	for (int i = 0; b.len < 102400; i++)
		sg_buf_printf(&b, "line %06d of the quarterly figures, nothing but ASCII text here.\r\n", i);
	return sg_buf_steal(&b, len_r);
}

/* One outbound message: entity (protected or not), signed, encrypted, outer fields on top. */
static void sign_encrypt(const char *msg, size_t len, bool hp, const struct party *from,
                         const struct party *to)
{
	struct sg_buf entity, out;
	const char *err;
	char *sig = NULL, *enc = NULL;
	size_t sig_len, enc_len;
	struct mime_hp_out o = {.encrypted = true, .hide_subject = true, .subject_tag = "[secure]"};
	struct mime_edit plain = {.keep = MIME_KEEP_CONTENT, .with_body = true};
	struct mime_edit outer = {.keep = MIME_KEEP_OUTER, .subject_tag = "[secure]"};
	sg_buf_init(&entity, 1 << 22);
	sg_buf_init(&out, 1 << 23);
	if ((hp ? mime_hp_payload(msg, len, &o, &entity, &err)
	        : mime_edit_apply(msg, len, &plain, &entity, &err)) < 0)
		die("entity", err);
	struct smime_der signer = {from->der, from->len}, cert = {to->der, to->len};
	if (smime_sign(&signer, from->key, NULL, 0, entity.data, entity.len, &sig, &sig_len, &err) < 0 ||
	    smime_encrypt(&cert, 1, sig, sig_len, 0, &enc, &enc_len, &err) < 0)
		die("sign+encrypt", err);
	if ((hp ? mime_hp_outer(msg, len, &o, &out, &err) : mime_edit_apply(msg, len, &outer, &out,
	                                                                    &err)) < 0 ||
	    sg_buf_append(&out, enc, enc_len) < 0)
		die("outer", "too large");
	sg_free(&sig);
	sg_free(&enc);
	sg_buf_free(&entity);
	sg_buf_free(&out);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void bench_hp(int iters, const struct party *from, const struct party *to)
{
	size_t len;
	char *msg = message(&len);
	double rate[2][ROUNDS];
	for (int r = 0; r < ROUNDS; r++)
		for (int hp = 0; hp < 2; hp++) {
			int which = (r % 2) ? 1 - hp : hp; /* alternate who goes first */
			double t0 = now_s();
			for (int i = 0; i < iters; i++)
				sign_encrypt(msg, len, which, from, to);
			rate[which][r] = iters / (now_s() - t0);
		}
	double plain = median(rate[0], ROUNDS), prot = median(rate[1], ROUNDS);
	printf("%-44s %10.1f msg/s\n", "sign+encrypt, 100 KB, RSA-3072", plain);
	printf("%-44s %10.1f msg/s  (%.3fx; goal >= 0.95x)\n", "sign+encrypt with header protection",
	       prot, prot / plain);
	sg_free(&msg);
}

/* The recipient's key held by the gateway: certificate and sealed key in a store. */
static struct store *store_with(const struct party *p)
{
	const char *err;
	struct smime_certinfo info;
	char owner[80];
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	struct store *st = store_open("sqlite:bench.db", dir, &err);
	if (st == NULL || smime_cert_parse(p->der, p->len, &info, &err) < 0)
		die("store", err);
	snprintf(owner, sizeof(owner), "cert:%s", info.fingerprint);
	struct store_cert c = {.der = p->der, .der_len = p->len, .not_before = info.not_before,
	                       .not_after = info.not_after, .source = STORE_CERT_ISSUED};
	sg_strlcpy(c.fingerprint, info.fingerprint, sizeof(c.fingerprint));
	sg_strlcpy(c.serial, info.serial, sizeof(c.serial));
	sg_strlcpy(c.issuer, info.issuer, sizeof(c.issuer));
	int64_t id;
	if (keystore_seal(ks, p->key, owner, &sealed, &sealed_len, &err) < 0 ||
	    store_user_ensure(st, info.address, STORE_USER_INTERNAL, &c.user_id, &err) < 0 ||
	    store_cert_add(st, &c, sealed, sealed_len, &id, &err) < 0)
		die("store", err);
	sg_free(&sealed);
	return st;
}

/* signed(encrypted(signed(text))): the sender signs, encrypts to the gateway's user, signs
 * again over the ciphertext (an MTA's transport signature). */
static char *three_layers(const struct party *from, const struct party *to, size_t *len_r)
{
	static const char text[] = "Content-Type: text/plain\r\n\r\nthree layers of figures\r\n";
	struct smime_der signer = {from->der, from->len}, cert = {to->der, to->len};
	char *a, *b, *c;
	size_t al, bl, cl;
	const char *err;
	if (smime_sign(&signer, from->key, NULL, 0, text, strlen(text), &a, &al, &err) < 0 ||
	    smime_encrypt(&cert, 1, a, al, 0, &b, &bl, &err) < 0 ||
	    smime_sign(&signer, from->key, NULL, 0, b, bl, &c, &cl, &err) < 0)
		die("three layers", err);
	char *msg = sg_malloc(cl + 200);
	int n = snprintf(msg, 200, "From: bench@example.com\r\nTo: rcpt@example.com\r\n"
	                           "Subject: nested\r\n");
	memcpy(msg + n, c, cl + 1);
	*len_r = (size_t)n + cl;
	sg_free(&a);
	sg_free(&b);
	sg_free(&c);
	return msg;
}

/* One round of iters nested messages unwrapped by transform_inbound, then (scan) streamed to
 * clamd as the queue manager does after decryption; messages per second. */
static double round_inbound(const struct transform_env *te, const struct transform_input *in,
                            int iters, bool scan)
{
	double t0 = now_s();
	for (int i = 0; i < iters; i++) {
		struct transform_output out;
		transform_output_init(&out);
		if (transform_inbound(te, in, &out) != TRANSFORM_OK ||
		    (scan && transform_scan_inbound(te, in, &out) != TRANSFORM_OK) ||
		    memmem(out.data, out.len, "three layers of figures", 23) == NULL)
			die("nested", out.reason[0] != '\0' ? out.reason : "not unwrapped");
		if (scan && memmem(out.data, out.len, "X-Sealgate-Scan: clean", 22) == NULL)
			die("scan", "no clean verdict");
		transform_output_free(&out);
	}
	return iters / (now_s() - t0);
}

/* BENCH_CLAMD=unix:PATH|tcp:HOST:PORT (bench/smime/run.sh starts one): decrypt+scan rounds
 * alternate with decrypt-only rounds. */
static bool scan_setup(struct transform_env *te)
{
	const char *spec = getenv("BENCH_CLAMD"), *err;
	if (spec == NULL || spec[0] == '\0')
		return false;
	if (scan_target_parse(spec, &te->scan_target, &err) < 0)
		die("BENCH_CLAMD", err);
	te->scan_on = true;
	te->scan_action = TRANSFORM_SCAN_TAG;
	te->scan_timeout_ms = 60000;
	return true;
}

static void bench_nested(int iters, const struct party *from, const struct party *to)
{
	size_t len;
	char *msg = three_layers(from, to, &len);
	struct smime_trust *trust = smime_trust_new(false);
	size_t ca_len;
	const unsigned char *ca_der = ca_cert_der(ca, &ca_len);
	const char *err;
	if (smime_trust_add_der(trust, ca_der, ca_len, &err) < 0)
		die("trust", err);
	struct transform_env te = {.store = store_with(to), .keystore = ks, .trust = trust};
	bool scan = scan_setup(&te);
	struct mime_info info;
	if (mime_info_parse(msg, len, &info, &err) < 0)
		die("parse", err);
	const char *rcpts[] = {"rcpt@example.com"};
	struct policy_plan plan = {.direction = POLICY_DIR_INBOUND};
	struct transform_input in = {.queue_id = "bench", .data = msg, .len = len, .mime = &info,
	                             .plan = &plan, .rcpts = rcpts, .nrcpt = 1};
	double rate[ROUNDS], scanned[ROUNDS];
	for (int r = 0; r < ROUNDS; r++) {
		bool scan_first = scan && r % 2 == 1; /* alternate who goes first */
		if (scan_first)
			scanned[r] = round_inbound(&te, &in, iters, true);
		rate[r] = round_inbound(&te, &in, iters, false);
		if (scan && !scan_first)
			scanned[r] = round_inbound(&te, &in, iters, true);
	}
	double plain = median(rate, ROUNDS);
	printf("%-44s %10.1f msg/s  (signed > enveloped > signed, RSA-3072)\n",
	       "inbound nested decrypt+verify", plain);
	if (scan) {
		double sc = median(scanned, ROUNDS);
		printf("%-44s %10.1f msg/s  (%.3fx decrypt alone; local clamd, INSTREAM)\n",
		       "inbound nested decrypt+verify+scan", sc, sc / plain);
	}
	mime_info_free(&info);
	store_close(&te.store);
	smime_trust_free(&trust);
	sg_free(&msg);
}

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds per message of the queue manager's transform step (transform_run) for plan. */
static double round_outbound(const struct transform_env *te, const struct transform_input *in,
                             int iters)
{
	double t0 = cpu_s();
	for (int i = 0; i < iters; i++) {
		struct transform_output out;
		transform_output_init(&out);
		if (transform_run(te, in, &out) != TRANSFORM_OK)
			die("outbound", out.reason);
		transform_output_free(&out);
	}
	return (cpu_s() - t0) / iters;
}

/* (3) issue 19: what encryption adds to a message's transform step, in CPU per message (the
 * whole path's ratio is bench/smime's encrypt vs pass; this is the part the transform owns). */
static void bench_outbound(int iters, const struct party *to)
{
	size_t len;
	char *msg = message(&len);
	const char *err;
	/* as the queue manager runs by default: dkim.sign = transformed (no key: unsigned) */
	struct transform_env te = {.store = store_with(to), .keystore = ks,
	                           .dkim_mode = TRANSFORM_DKIM_TRANSFORMED};
	struct mime_info info;
	if (sgdkim_lib_new(&te.dkim_lib, NULL, &err) < 0 || mime_info_parse(msg, len, &info, &err) < 0)
		die("setup", err);
	const char *rcpts[] = {"rcpt@example.com"};
	struct policy_plan pass = {.direction = POLICY_DIR_OUTBOUND, .action = POLICY_PASS};
	struct policy_plan smime = {.direction = POLICY_DIR_OUTBOUND, .action = POLICY_SMIME};
	struct transform_input in = {.queue_id = "bench", .sender = "bench@example.com",
	                             .data = msg, .len = len, .mime = &info, .rcpts = rcpts,
	                             .nrcpt = 1};
	double cpu[2][ROUNDS];
	for (int r = 0; r < ROUNDS; r++)
		for (int k = 0; k < 2; k++) {
			int which = (r % 2) ? 1 - k : k;
			in.plan = which ? &smime : &pass;
			cpu[which][r] = round_outbound(&te, &in, iters);
		}
	printf("%-44s %10.1f us CPU/msg\n", "transform step, pass-through, 100 KB",
	       median(cpu[0], ROUNDS) * 1e6);
	printf("%-44s %10.0f us CPU/msg\n", "transform step, S/MIME encrypt (RSA-3072)",
	       median(cpu[1], ROUNDS) * 1e6);
	mime_info_free(&info);
	sgdkim_lib_free(&te.dkim_lib);
	store_close(&te.store);
	sg_free(&msg);
}

int main(int argc, char **argv)
{
	long iters_arg = argc > 1 ? strtol(argv[1], NULL, 10) : 40;
	int iters = iters_arg > 0 && iters_arg < 100000 ? (int)iters_arg : 40;
	const char *err;
	char path[128];
	snprintf(dir, sizeof(dir), "/tmp/sg-bench-layers-XXXXXX");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp", "failed");
	snprintf(path, sizeof(path), "%s/master.key", dir);
	if (keystore_master_create(path, &err) < 0 || keystore_open(path, &ks, &err) < 0 ||
	    ca_init_create(dir, "Bench", ks, &err) < 0 || ca_open(dir, ks, &ca, &err) < 0)
		die("setup", err);
	struct party from = {0}, to = {0};
	make_party(&from, "bench@example.com");
	make_party(&to, "rcpt@example.com");
	sg_log_set_level(SG_LOG_WARN); /* the per-message info lines are not what is measured */
	const char *only = argc > 2 ? argv[2] : ""; /* "outbound": that part alone (callgrind) */
	if (strcmp(only, "outbound") != 0) {
		bench_hp(iters, &from, &to);
		bench_nested(iters, &from, &to);
	}
	bench_outbound(iters, &to);
	keystore_key_free(&from.key);
	keystore_key_free(&to.key);
	sg_free(&from.der);
	sg_free(&to.der);
	ca_close(&ca);
	keystore_close(&ks);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	return system(path) == 0 ? 0 : 1;
}
