/* keyd_ops.c: the private-key half of bench/smime through the key process (issue 16). Sign +
 * encrypt and decrypt of a 100 KB message by RSA-3072 parties, in alternating rounds of the
 * same run: with the key in this process (what qmgr did before keyd), and with a proxy key
 * whose private operations go to a keyd over keyd's own client transport (a rendezvous
 * SOCK_SEQPACKET pair, a stream per connection, keyd_dispatch in a forked child with qmgr's
 * allow-list). As qmgr does: a signing key is loaded once and kept (its signer cache), a
 * decryption key is unsealed per message (keyd: KEY_LOAD + DECRYPT, two round trips).
 * Prints messages per second (medians) and the ratios. Usage: keyd_ops [ITERATIONS] */
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "crypto/ca.h"
#include "crypto/keystore.h"
#include "crypto/smime.h"
#include "keyd/keyd_client.h"
#include "keyd/keyd_proxy.h"
#include "keyd/keyd_server.h"
#include "keyd/keyd_wire.h"
#include "bench_util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUNDS 6

struct party {
	struct keystore_key *key;
	unsigned char *der, *sealed;
	size_t len, sealed_len;
	char owner[80];
};

static char dir[64];
static struct keystore *ks;

#define die(what, err) bench_die("keyd_ops", what, err)

static void make_party(struct ca *ca, struct party *p, const char *addr)
{
	const char *err;
	struct smime_certinfo info;
	if (keystore_key_generate(KEYSTORE_KEY_RSA3072, &p->key, &err) < 0 ||
	    ca_issue(ca, 0, addr, "Bench", p->key, 30, &p->der, &p->len, &err) < 0 ||
	    smime_cert_parse(p->der, p->len, &info, &err) < 0)
		die(addr, err);
	snprintf(p->owner, sizeof(p->owner), "cert:%s", info.fingerprint);
	if (keystore_seal(ks, p->key, p->owner, &p->sealed, &p->sealed_len, &err) < 0)
		die("seal", err);
}

/* keyd in a child: takes each connection passed over rv and serves it until it closes. */
static _Noreturn void serve(int rv)
{
	struct keyd_session *s = keyd_session_new(keyd_policy_find("qmgr"), ks);
	for (;;) {
		char one;
		struct iovec iov = {.iov_base = &one, .iov_len = 1};
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
		                     .msg_controllen = sizeof(cbuf)};
		if (recvmsg(rv, &msg, 0) <= 0)
			_exit(0);
		int fd;
		memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(fd));
		unsigned char *frame, *resp;
		size_t len, rlen;
		while (keyd_wire_read(fd, &frame, &len, 30000) == 0) {
			keyd_dispatch(s, frame, len, &resp, &rlen);
			sg_free_secret(&frame, len);
			if (keyd_wire_write(fd, resp, rlen, 30000) < 0)
				_exit(1);
			sg_free_secret(&resp, rlen);
		}
		close(fd);
	}
}

static char *message(size_t *len_r)
{
	size_t size = 102400;
	char *m = sg_malloc(size + 1);
	int n = snprintf(m, size, "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
	for (size_t i = (size_t)n; i < size; i++)
		m[i] = (i % 72 == 71) ? '\n' : (char)('a' + i % 26);
	m[size] = '\0';
	*len_r = size;
	return m;
}

struct job {
	const struct party *from, *to;
	struct keystore_key *signer; /* the sender's key, kept (real or proxy) */
	const char *msg, *enc;
	size_t len, enc_len;
	bool keyd;
};

static void sign_encrypt(const struct job *j)
{
	struct smime_der signer = {j->from->der, j->from->len}, cert = {j->to->der, j->to->len};
	char *sig = NULL, *enc = NULL;
	size_t sl, el;
	const char *err;
	if (smime_sign(&signer, j->signer, NULL, 0, j->msg, j->len, &sig, &sl, &err) < 0 ||
	    smime_encrypt(&cert, 1, sig, sl, 0, &enc, &el, &err) < 0)
		die("sign+encrypt", err);
	sg_free(&sig);
	sg_free(&enc);
}

static void decrypt(const struct job *j)
{
	struct smime_der cert = {j->to->der, j->to->len};
	struct keystore_key *key = NULL;
	char *out = NULL;
	size_t ol;
	const char *err;
	int rc = j->keyd ? keyd_proxy_unseal_key(j->to->sealed, j->to->sealed_len, j->to->owner,
	                                         &key, &err)
	                 : keystore_unseal(ks, j->to->sealed, j->to->sealed_len, j->to->owner, &key,
	                                   &err);
	if (rc < 0 || smime_decrypt(&cert, key, j->enc, j->enc_len, &out, &ol, &err) < 0)
		die("decrypt", err);
	keystore_key_free(&key);
	sg_free(&out);
}

static double round_of(void (*op)(const struct job *), const struct job *j, int iters)
{
	double t0 = bench_now();
	for (int i = 0; i < iters; i++)
		op(j);
	return iters / (bench_now() - t0);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* in-process and keyd rounds alternated; prints the medians and their ratio */
static void compare(const char *name, void (*op)(const struct job *), struct job *local,
                    struct job *remote, int iters)
{
	double a[ROUNDS], b[ROUNDS];
	for (int r = 0; r < ROUNDS; r++) {
		a[r] = round_of(op, local, iters);
		b[r] = round_of(op, remote, iters);
	}
	qsort(a, ROUNDS, sizeof(double), cmp);
	qsort(b, ROUNDS, sizeof(double), cmp);
	double ma = (a[ROUNDS / 2 - 1] + a[ROUNDS / 2]) / 2, mb = (b[ROUNDS / 2 - 1] + b[ROUNDS / 2]) / 2;
	printf("%-32s %10.1f %10.1f %8.2fx\n", name, ma, mb, mb / ma);
}

static _Noreturn void run(struct party *from, struct party *to, int iters)
{
	size_t len, enc_len;
	char *msg = message(&len), *enc = NULL;
	struct smime_der cert = {to->der, to->len};
	const char *err;
	if (smime_encrypt(&cert, 1, msg, len, 0, &enc, &enc_len, &err) < 0)
		die("encrypt", err);
	struct keystore_key *proxy = NULL;
	if (keyd_proxy_unseal_key(from->sealed, from->sealed_len, from->owner, &proxy, &err) < 0)
		die("keyd key-load", err);
	struct job local = {from, to, from->key, msg, enc, len, enc_len, false};
	struct job remote = {from, to, proxy, msg, enc, len, enc_len, true};
	double load[3];
	getloadavg(load, 3);
	printf("bench/smime keyd: %ld cores, load %.2f %.2f %.2f; %d x 100 KB per round, %d rounds, "
	       "RSA-3072\n", sysconf(_SC_NPROCESSORS_ONLN), load[0], load[1], load[2], iters, ROUNDS);
	printf("%-32s %10s %10s %9s\n", "", "in-process", "keyd", "ratio");
	compare("sign+encrypt (msg/s)", sign_encrypt, &local, &remote, iters);
	compare("key load + decrypt (msg/s)", decrypt, &local, &remote, iters);
	printf("(goal, issue 16: keyd >= 0.9x in-process, same run)\n");
	keystore_key_free(&proxy);
	sg_free(&msg);
	sg_free(&enc);
	exit(0);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 40;
	int iters = n > 0 && n < 100000 ? (int)n : 40;
	char path[128];
	struct ca *ca = NULL;
	snprintf(dir, sizeof(dir), "/tmp/sg-bench-keyd-XXXXXX");
	bench_ca_setup("keyd_ops", dir, &ks, &ca);
	struct party from = {0}, to = {0};
	make_party(ca, &from, "bench@example.com");
	make_party(ca, &to, "rcpt@example.com");
	sg_log_set_level(SG_LOG_WARN);
	int rv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rv) < 0)
		die("socketpair", "failed");
	pid_t pid = fork();
	if (pid == 0) {
		close(rv[0]);
		serve(rv[1]);
	}
	close(rv[1]);
	keyd_client_set_socket(rv[0]);
	pid_t bench = fork();
	if (bench == 0)
		run(&from, &to, iters);
	int status = 1;
	waitpid(bench, &status, 0);
	close(rv[0]);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	return system(path) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
