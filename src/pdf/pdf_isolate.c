/* pdf_isolate.c: the renderer runs on attacker-controlled text (pango, HarfBuzz, cairo), so it
 * runs in a forked worker: its own network namespace when the kernel lets us, no descriptors but
 * the result socket and stderr, memory and CPU rlimits, no core dumps. The PDF comes back over a
 * socket; a crash, a limit or a timeout becomes PDF_ERR_DEFER and never reaches the caller. */
#include "pdf/pdf_priv.h"

#include "core/limits.h"
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_metrics.h"
#include "core/sg_time.h"
#include "role/role_seccomp.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define ISOLATE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ISOLATE_ASAN 1
#endif
#endif

#define RESULT_FD 3
#define INPUT_FD 4 /* exec'd worker: the job, in a memfd */
#define INPUT_MAGIC 0x53475044u /* "SGPD" */
#define DEFAULT_MEM ((size_t)2 * 1024 * 1024 * 1024)
#define DEFAULT_CPU 60
#define DEFAULT_WALL 120

/* What the worker sends: this header, then len bytes of PDF (rc 0) or error text. */
struct result_hdr {
	int32_t rc;
	uint32_t pad;
	uint64_t len;
};

static _Thread_local char isolate_error[256];

static const char *say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(isolate_error, sizeof(isolate_error), fmt, ap);
	va_end(ap);
	return isolate_error;
}

/* The exec'd worker: a fresh process image holds no lock another thread of the parent held at
 * fork time (GLib, GMime, malloc arenas), which a forked copy of a threaded qmgr could. */
static char exec_path[4096];

void pdf_isolate_set_exec(const char *path)
{
	snprintf(exec_path, sizeof(exec_path), "%s", path != NULL ? path : "");
}

/* The job for an exec'd worker: this header, the key, the Reply URL, the message. */
struct input_hdr {
	uint32_t magic;
	uint32_t url_len;
	uint32_t seccomp; /* the parent's enum role_seccomp_mode: the worker's filter follows it */
	uint32_t pad;
	uint64_t max_attachments;
	uint64_t max_output;
	uint64_t msg_len;
	struct pdf_key key; /* the same binary reads it: U, and K or the wrapped file key */
};

/* ---- the worker ---- */

static int send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static void limit(int resource, rlim_t soft, rlim_t hard)
{
	struct rlimit rl = {.rlim_cur = soft, .rlim_max = hard};
	if (setrlimit(resource, &rl) < 0)
		_exit(3); /* an unconfined worker must not run */
}

/* The result socket on RESULT_FD and the job on INPUT_FD, whatever numbers they had: each goes
 * through a copy above both targets first, so neither dup2 can overwrite the other, and the
 * final copies are without close-on-exec (a descriptor that already had the target number would
 * keep it and vanish at execv). close_range drops the rest. */
static void confine(int fd, int input_fd, const struct pdf_limits *lim)
{
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	int result = fcntl(fd, F_DUPFD, 10);
	int input = input_fd >= 0 ? fcntl(input_fd, F_DUPFD, 10) : -1;
	if (result < 0 || (input_fd >= 0 && input < 0) || dup2(result, RESULT_FD) < 0 ||
	    (input >= 0 && dup2(input, INPUT_FD) < 0))
		_exit(3);
	if (close_range(input_fd >= 0 ? INPUT_FD + 1 : RESULT_FD + 1, ~0U, 0) < 0)
		_exit(3);
	/* Root (or a user namespace) gets an empty network namespace; elsewhere the worker still
	 * holds no socket but its result channel. */
	(void)unshare(CLONE_NEWNET);
	(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	limit(RLIMIT_CORE, 0, 0);
	limit(RLIMIT_CPU, lim->cpu_seconds, lim->cpu_seconds + 1);
#ifndef ISOLATE_ASAN /* ASan reserves terabytes of shadow address space */
	limit(RLIMIT_AS, lim->mem_bytes, lim->mem_bytes);
#endif
}

static _Noreturn void build_and_send(const char *msg, size_t len, const struct pdf_key *key,
                                     const struct pdf_options *opts,
                                     enum role_seccomp_mode seccomp)
{
	pdf_nomem_fatal_enable();
	const char *serr;
	if (role_seccomp_apply("pdf-worker", seccomp, &serr) < 0) {
		static const char msg_fail[] = "the PDF worker cannot confine itself (seccomp)";
		struct result_hdr fail = {.rc = PDF_ERR_DEFER, .len = sizeof(msg_fail) - 1};
		(void)(send_all(RESULT_FD, &fail, sizeof(fail)) == 0 &&
		       send_all(RESULT_FD, msg_fail, fail.len) == 0);
		_exit(4);
	}
	unsigned char *pdf = NULL;
	size_t plen = 0;
	const char *error = NULL;
	int rc = pdf_build_message(msg, len, key, opts, &pdf, &plen, &error);
	if (rc != 0) {
		pdf = (unsigned char *)(error != NULL ? error : "unknown error");
		plen = strlen((const char *)pdf);
	}
	struct result_hdr h = {.rc = rc, .len = plen};
	int ok = send_all(RESULT_FD, &h, sizeof(h)) == 0 && send_all(RESULT_FD, pdf, plen) == 0;
	_exit(ok ? 0 : 4);
}

/* Between fork and exec only system calls run: nothing that could wait on a lock. */
static _Noreturn void worker(int fd, int input_fd, const char *msg, size_t len,
                             const struct pdf_key *key, const struct pdf_options *opts,
                             const struct pdf_limits *lim)
{
	confine(fd, input_fd, lim);
	if (input_fd >= 0) {
		char *const argv[] = {"sealgate", "__pdf-worker", NULL};
		execv(exec_path, argv);
		_exit(5);
	}
	build_and_send(msg, len, key, opts, role_seccomp_active());
}

int pdf_isolate_worker_main(void)
{
	pdf_nomem_fatal_enable();
	struct input_hdr h;
	if (read(INPUT_FD, &h, sizeof(h)) != (ssize_t)sizeof(h) || h.magic != INPUT_MAGIC ||
	    h.url_len >= SG_PDF_URL_MAX || h.msg_len > SG_MESSAGE_SIZE_HARD_MAX ||
	    h.seccomp > ROLE_SECCOMP_LOG)
		return 6;
	size_t total = (size_t)h.url_len + 1 + (size_t)h.msg_len;
	char *buf = sg_malloc(total);
	size_t got = 0;
	while (got < total - 1) {
		ssize_t r = read(INPUT_FD, buf + got, total - 1 - got);
		if (r <= 0)
			return 6;
		got += (size_t)r;
	}
	char *url = sg_malloc(h.url_len + 1);
	memcpy(url, buf, h.url_len);
	url[h.url_len] = '\0';
	struct pdf_key *key = sg_memdup(&h.key, sizeof(h.key));
	sg_wipe(&h.key, sizeof(h.key));
	struct pdf_options opts = {.reply_url = url, .max_attachments = h.max_attachments,
	                           .max_output = h.max_output};
	build_and_send(buf + h.url_len, h.msg_len, key, &opts, (enum role_seccomp_mode)h.seccomp);
}

/* The job in an in-memory file the exec'd worker reads; -1 if it cannot be made. */
static int make_input(const char *msg, size_t len, const struct pdf_key *key,
                      const struct pdf_options *opts)
{
	struct input_hdr h = {.magic = INPUT_MAGIC, .url_len = (uint32_t)strlen(opts->reply_url),
	                      .seccomp = (uint32_t)role_seccomp_active(),
	                      .max_attachments = opts->max_attachments,
	                      .max_output = opts->max_output, .msg_len = len};
	h.key = *key;
	int fd = memfd_create("sealgate-pdf-job", MFD_CLOEXEC);
	int ok = fd >= 0 && write_all(fd, &h, sizeof(h)) == 0 &&
	         write_all(fd, opts->reply_url, h.url_len) == 0 && write_all(fd, msg, len) == 0 &&
	         lseek(fd, 0, SEEK_SET) == 0;
	sg_wipe(&h.key, sizeof(h.key));
	if (!ok && fd >= 0)
		close(fd);
	return ok ? fd : -1;
}

/* ---- the parent ---- */

struct collect {
	int fd;
	pid_t pid;
	struct sg_buf in;
	time_t deadline;
};

/* Reads until EOF; -1 on timeout or a result larger than allowed. */
static int collect_all(struct collect *c, const char **error_r)
{
	char buf[64 * 1024];
	for (;;) {
		time_t left = c->deadline - time(NULL);
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int n = left > 0 ? poll(&p, 1, (int)(left * 1000)) : 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = "the PDF worker timed out";
			return -1;
		}
		ssize_t r = read(c->fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		if (sg_buf_append(&c->in, buf, (size_t)r) < 0) {
			*error_r = "the PDF worker sent too much";
			return -1;
		}
	}
}

static const char *exit_reason(int status)
{
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		return say("the PDF worker was killed by signal %d (%s)", sig,
		           sig == SIGXCPU || sig == SIGKILL ? "CPU time or memory limit" : "crash");
	}
	if (WEXITSTATUS(status) == PDF_WORKER_EXIT_NOMEM)
		return "the PDF worker ran out of memory (its memory limit)";
	return say("the PDF worker failed with exit status %d (memory limit or internal error)",
	           WEXITSTATUS(status));
}

/* Turns the worker's bytes and exit status into the caller's result. */
static int finish(struct collect *c, int status, unsigned char **pdf_r, size_t *len_r,
                  const char **error_r)
{
	/* A complete result counts even if the worker failed after sending it (valgrind, for
	 * one, makes a forked child exit 99 over the caches pango keeps). */
	struct result_hdr h;
	if (c->in.len < sizeof(h)) {
		*error_r = exit_reason(status);
		return PDF_ERR_DEFER;
	}
	memcpy(&h, c->in.data, sizeof(h));
	if (h.len != c->in.len - sizeof(h) || (h.rc != 0 && h.rc != PDF_ERR_REJECT &&
	                                       h.rc != PDF_ERR_DEFER)) {
		*error_r = WIFEXITED(status) && WEXITSTATUS(status) == 0 ?
		               "the PDF worker sent a malformed result" : exit_reason(status);
		return PDF_ERR_DEFER;
	}
	const char *data = c->in.data + sizeof(h);
	if (h.rc != 0) {
		*error_r = say("%.*s", (int)(h.len < 200 ? h.len : 200), data);
		return h.rc;
	}
	*pdf_r = sg_memdup(data, h.len);
	*len_r = h.len;
	return 0;
}

/* Waits for the worker; logs and observes its cost. Returns its wait status. */
static int reap(pid_t pid, int64_t started_us)
{
	int status = 0;
	struct rusage ru = {0};
	while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
		;
	int64_t wall_us = sg_mono_us() - started_us;
	/* The worker's peak RSS is what sizes a host for SecurePDF (bench/pdf reads this line). */
	long cpu_ms = (long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	              (long)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
	sg_info("pdf: worker %ld ended, peak RSS %ld KB, CPU %ld.%03ld s", (long)pid, ru.ru_maxrss,
	        cpu_ms / 1000, cpu_ms % 1000);
	sg_metrics_observe(SG_HIST_PDF_WALL, (double)wall_us / 1e6);
	sg_metrics_observe(SG_HIST_PDF_CPU,
	                   (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	                       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	return status;
}

int pdf_isolate_build(const char *msg, size_t len, const struct pdf_key *key,
                      const struct pdf_options *opts, const struct pdf_limits *limits,
                      unsigned char **pdf_r, size_t *pdf_len_r, const char **error_r)
{
	*pdf_r = NULL;
	*pdf_len_r = 0;
	struct pdf_limits lim = limits != NULL ? *limits : (struct pdf_limits){0};
	lim.mem_bytes = lim.mem_bytes > 0 ? lim.mem_bytes : DEFAULT_MEM;
	lim.cpu_seconds = lim.cpu_seconds > 0 ? lim.cpu_seconds : DEFAULT_CPU;
	lim.wall_seconds = lim.wall_seconds > 0 ? lim.wall_seconds : DEFAULT_WALL;
	size_t max_out = opts->max_output > 0 && opts->max_output < (size_t)SG_PDF_OUTPUT_MAX ?
	                     opts->max_output : (size_t)SG_PDF_OUTPUT_MAX;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		*error_r = say("cannot start the PDF worker: %s", strerror(errno));
		return PDF_ERR_DEFER;
	}
	int input_fd = -1;
	if (exec_path[0] != '\0' && (input_fd = make_input(msg, len, key, opts)) < 0) {
		close(sv[0]);
		close(sv[1]);
		*error_r = say("cannot hand the message to the PDF worker: %s", strerror(errno));
		return PDF_ERR_DEFER;
	}
	int64_t started_us = sg_mono_us();
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		worker(sv[1], input_fd, msg, len, key, opts, &lim);
	}
	close(sv[1]);
	if (input_fd >= 0)
		close(input_fd);
	if (pid < 0) {
		close(sv[0]);
		*error_r = say("cannot start the PDF worker: %s", strerror(errno));
		return PDF_ERR_DEFER;
	}
	struct collect c = {.fd = sv[0], .pid = pid, .deadline = time(NULL) + lim.wall_seconds};
	sg_buf_init(&c.in, max_out + sizeof(struct result_hdr));
	int rc = collect_all(&c, error_r);
	close(sv[0]);
	if (rc < 0)
		(void)kill(pid, SIGKILL);
	int status = reap(pid, started_us);
	if (rc == 0)
		rc = finish(&c, status, pdf_r, pdf_len_r, error_r);
	else
		rc = PDF_ERR_DEFER;
	sg_buf_free(&c.in);
	if (rc == PDF_ERR_DEFER)
		sg_warn("pdf: %s", *error_r);
	return rc;
}
