/* dkim_sign.c: the in-process DKIM figures of bench/smime (issue 25). A 136 KB message as
 * sealgate sends it S/MIME-encrypted (outer fields, base64 application/pkcs7-mime body) is
 * DKIM-signed (rsa2048, relaxed/relaxed) (1) by sgdkim_sign alone, the key parsed for each
 * call, and (2) by transform_dkim as the queue manager calls it (key row from the store, the
 * key parsed once and cached, the field put on top of the message), in alternating rounds; and gets
 * (3) the first ARC set (what inbound mail sealgate changed gets). Microseconds of CPU per
 * message: the machine is shared, wall time says more about the neighbours.
 * Usage: dkim_sign [ITERATIONS] */
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/keystore.h"
#include "crypto/sgdkim.h"
#include "mime/mime.h"
#include "policy/policy.h"
#include "queue/transform.h"
#include "store/store.h"
#include "store/store_dkim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 6

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "dkim_sign: %s: %s\n", what, err);
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* What an encrypted 100 KB message looks like on the way out: base64 lines of 76. */
static char *smime_message(size_t *len_r)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct sg_buf b;
	sg_buf_init(&b, 1 << 22);
	sg_buf_append_str(&b, "From: bench@example.com\r\nTo: sink@remote.test\r\n"
	                      "Subject: [...]\r\nDate: Mon, 07 Dec 2026 15:00:00 +0000\r\n"
	                      "Message-ID: <bench@example.com>\r\nMIME-Version: 1.0\r\n"
	                      "Content-Type: application/pkcs7-mime; smime-type=enveloped-data; "
	                      "name=\"smime.p7m\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	unsigned x = 12345;
	while (b.len < 140000) {
		char line[78];
		for (int i = 0; i < 76; i++, x = x * 1103515245u + 12345u)
			line[i] = b64[(x >> 16) & 63];
		line[76] = '\r';
		line[77] = '\n';
		sg_buf_append(&b, line, sizeof(line));
	}
	return sg_buf_steal(&b, len_r);
}

static struct store *store_with_key(const char *dir, struct keystore *ks, char **pem_r,
                                    size_t *pem_len_r)
{
	const char *err;
	struct store *st = store_open("sqlite:bench.db", dir, &err);
	struct store_dkim_key k = {.domain = "example.com", .selector = "bench", .alg = "rsa2048",
	                           .dns = "v=DKIM1", .created = time(NULL)};
	if (st == NULL || sgdkim_key_generate(SGDKIM_RSA2048, pem_r, pem_len_r, &err) < 0 ||
	    keystore_seal_bytes(ks, *pem_r, *pem_len_r, "dkim:example.com:bench", &k.sealed,
	                        &k.sealed_len, &err) < 0 ||
	    store_dkim_add(st, &k, &err) < 0)
		die("store", err);
	sg_free(&k.sealed);
	return st;
}

/* One round of iters signatures by sgdkim_sign alone; seconds. */
static double round_lib(struct sgdkim_lib *lib, const struct sgdkim_key *key, const char *msg,
                        size_t len, int iters)
{
	const char *err;
	double t0 = now_s();
	for (int i = 0; i < iters; i++) {
		struct sg_buf sig;
		sg_buf_init(&sig, 4096);
		if (sgdkim_sign(lib, key, msg, len, &sig, &err) < 0)
			die("sgdkim_sign", err);
		sg_buf_free(&sig);
	}
	return now_s() - t0;
}

/* One round of iters ARC sets by sgdkim_arc_seal; seconds. */
static double round_arc(struct sgdkim_lib *lib, const struct sgdkim_key *key, const char *msg,
                        size_t len, int iters)
{
	const char *err;
	double t0 = now_s();
	for (int i = 0; i < iters; i++) {
		struct sg_buf set;
		sg_buf_init(&set, 16384);
		if (sgdkim_arc_seal(lib, key, msg, len, "gw.example.com; dkim=none", SGDKIM_CV_NONE,
		                    &set, &err) < 0)
			die("sgdkim_arc_seal", err);
		sg_buf_free(&set);
	}
	return now_s() - t0;
}

/* One round of iters messages through transform_dkim; seconds. */
static double round_transform(const struct transform_env *te, const struct transform_input *in,
                              int iters)
{
	double t0 = now_s();
	for (int i = 0; i < iters; i++) {
		struct transform_output out;
		transform_output_init(&out);
		out.data = in->data;
		out.len = in->len;
		if (transform_dkim(te, in, &out) != TRANSFORM_OK ||
		    strncmp(out.data, "DKIM-Signature:", 15) != 0)
			die("transform_dkim", out.reason);
		transform_output_free(&out);
	}
	return now_s() - t0;
}

static void bench(struct transform_env *te, const struct sgdkim_key *key, int iters)
{
	size_t len;
	char *msg = smime_message(&len);
	const char *err;
	struct mime_info info;
	if (mime_info_parse(msg, len, &info, &err) < 0)
		die("parse", err);
	struct policy_plan plan = {.direction = POLICY_DIR_OUTBOUND, .action = POLICY_SMIME};
	const char *rcpts[] = {"sink@remote.test"};
	struct transform_input in = {.queue_id = "bench", .data = msg, .len = len, .mime = &info,
	                             .plan = &plan, .rcpts = rcpts, .nrcpt = 1};
	double lib[ROUNDS], full[ROUNDS], arc[ROUNDS];
	for (int r = 0; r < ROUNDS; r++) {
		arc[r] = round_arc(te->dkim_lib, key, msg, len, iters);
		if (r % 2 == 0) {
			lib[r] = round_lib(te->dkim_lib, key, msg, len, iters);
			full[r] = round_transform(te, &in, iters);
		} else {
			full[r] = round_transform(te, &in, iters);
			lib[r] = round_lib(te->dkim_lib, key, msg, len, iters);
		}
	}
	double l = median(lib, ROUNDS) / iters * 1e6, f = median(full, ROUNDS) / iters * 1e6;
	double a = median(arc, ROUNDS) / iters * 1e6;
	printf("DKIM signing of a %zu KB S/MIME message (rsa2048, relaxed/relaxed):\n", len / 1024);
	printf("  %-42s %8.0f us CPU/msg\n", "sgdkim_sign, key parsed per call", l);
	printf("  %-42s %8.0f us CPU/msg  (%.2fx sgdkim_sign)\n",
	       "transform_dkim, as the qmgr (cached key)", f, f / l);
	printf("  %-42s %8.0f us CPU/msg\n", "sgdkim_arc_seal (ARC set i=1, inbound)", a);
	mime_info_free(&info);
	sg_free(&msg);
}

int main(int argc, char **argv)
{
	long iters_arg = argc > 1 ? strtol(argv[1], NULL, 10) : 100;
	int iters = iters_arg > 0 && iters_arg < 100000 ? (int)iters_arg : 100;
	const char *err;
	char dir[64], path[128];
	snprintf(dir, sizeof(dir), "/tmp/sg-bench-dkim-XXXXXX");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp", "failed");
	snprintf(path, sizeof(path), "%s/master.key", dir);
	struct keystore *ks = NULL;
	if (keystore_master_create(path, &err) < 0 || keystore_open(path, &ks, &err) < 0)
		die("setup", err);
	char *pem;
	size_t pem_len;
	struct transform_env te = {.keystore = ks, .dkim_mode = TRANSFORM_DKIM_TRANSFORMED};
	te.store = store_with_key(dir, ks, &pem, &pem_len);
	if (sgdkim_lib_new(&te.dkim_lib, NULL, &err) < 0)
		die("libopendkim", err);
	struct sgdkim_key key = {.domain = "example.com", .selector = "bench",
	                         .alg = SGDKIM_RSA2048, .pem = pem, .pem_len = pem_len};
	sg_log_set_level(SG_LOG_WARN);
	bench(&te, &key, iters);
	sg_free_secret(&pem, pem_len);
	sgdkim_lib_free(&te.dkim_lib);
	store_close(&te.store);
	keystore_close(&ks);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	return system(path) == 0 ? 0 : 1;
}
