/* role_seccomp.c: the allow-lists and their loading. The lists were built from what the roles
 * really call after start-up (the integration suite under strace -f, then the whole suite with
 * gateway.seccomp = on); a role's list is a union of the call families below. Everything else
 * (ptrace, mount, bpf, keyctl, perf_event_open, module loading, namespaces, ...) kills the
 * process. Sanitizer builds add what ASan/LSan/UBSan call (a compile-time list): their runtime
 * makes raw legacy calls (open, stat, readlink), LSan stops the world with clone and ptrace at
 * exit, and a report runs a symboliser (fork, execve, pipe). */
#include "role/role_seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SECCOMP_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SECCOMP_SANITIZED 1
#endif
#endif

/* Memory, time, signals, plain I/O on descriptors already open, exit: every process. */
static const char *const calls_base[] = {
	"read", "readv", "pread64", "write", "writev", "pwrite64", "close", "fstat", "newfstatat",
	"statx", "lseek", "mmap", "munmap", "mprotect", "mremap", "madvise", "brk", "rt_sigaction",
	"rt_sigprocmask", "rt_sigreturn", "futex", "exit", "exit_group", "gettid", "getpid",
	"getppid", "getuid", "geteuid", "getgid", "getegid", "getrandom", "clock_gettime",
	"clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep", "poll", "ppoll",
	"fcntl", "restart_syscall", "rseq", "sched_yield", "sched_getaffinity", "getrusage",
	"prlimit64", "uname", "sysinfo", "getcwd", "fstatfs", "statfs", "readlink", "readlinkat",
	"access", "faccessat", "faccessat2", "getdents64", "ioctl", "dup", "dup2", "dup3", "mlock",
	"munlock", "fadvise64", NULL};

/* Threads (OpenSSL, GLib, libmicrohttpd, the queue's workers) and their wake-ups. */
static const char *const calls_threads[] = {
	"set_robust_list", "get_robust_list", "membarrier", "eventfd2", "pipe2", "epoll_create1",
	"epoll_ctl", "epoll_wait", "epoll_pwait", "select", "pselect6", "sched_setaffinity", NULL};

/* Writing files: the spool, the store (SQLite: locks, journal), exports. */
static const char *const calls_files[] = {
	"openat", "unlink", "unlinkat", "rename", "renameat", "renameat2", "mkdir", "mkdirat",
	"link", "linkat", "fsync", "fdatasync", "ftruncate", "fchmod", "fchown", "fallocate",
	"utimensat", "flock", "fadvise64", "umask", "chmod", "rmdir", "sync_file_range",
	"inotify_init1", "inotify_add_watch", "inotify_rm_watch", NULL};

/* Serving inherited listening sockets. */
static const char *const calls_serve[] = {
	"accept", "accept4", "shutdown", "recvfrom", "sendto", "recvmsg", "sendmsg", "sendmmsg",
	"recvmmsg", "getsockopt", "setsockopt", "getsockname", "getpeername", "sendfile", NULL};

/* keyd: connections arrive as descriptors passed over its inherited sockets; no socket(). */
static const char *const calls_keyd[] = {"recvmsg", "sendmsg", "sendto", "recvfrom", "shutdown",
                                         "getsockopt", NULL};
/* Opening connections: delivery, DNS, the directory (LDAP), clamd, notices, PostgreSQL. */
static const char *const calls_connect[] = {"socket", "connect", "bind", "socketpair", NULL};

/* qmgr's PDF worker: an in-memory job, a fork and an exec of this binary, rlimits, a network
 * namespace of its own, and the reaping. The exec'd image starts (loader) under qmgr's filter
 * and stacks its own (seccomp). */
static const char *const calls_worker_start[] = {
	"memfd_create", "execve", "wait4", "kill", "close_range", "unshare", "setrlimit",
	"arch_prctl", "set_tid_address", "socketpair", "seccomp", NULL};

/* The PDF worker sends its result (send: sendto) on the socket it inherited; it has no other. */
static const char *const calls_result[] = {"sendto", NULL};

#ifdef SECCOMP_SANITIZED
static const char *const calls_sanitizer[] = {
	"open", "stat", "lstat", "readlink", "unlink", "rename", "getdents", "pipe",
	"pipe2", "fork", "vfork", "clone", "clone3", "execve", "wait4", "kill", "sigaltstack",
	"ptrace", "prctl", "mincore", "personality", "process_vm_readv", "getrlimit", "setrlimit",
	"arch_prctl", "set_tid_address", "getpgid", "getsid", "sched_getparam", "getpriority",
	NULL};
#endif

#define SETS_MAX 6

struct role_filter {
	const char *role;
	const char *const *sets[SETS_MAX];
	bool read_only_opens; /* open for reading only; other opens fail with EACCES */
	bool forks;           /* may start processes (clone without CLONE_THREAD) */
};

static const struct role_filter filters[] = {
	/* no network, no new processes, files for reading only (the master key is read before) */
	{"keyd", {calls_keyd}, true, false},
	{"smtpd", {calls_threads, calls_files, calls_serve, calls_connect}, false, false},
	{"qmgr", {calls_threads, calls_files, calls_serve, calls_connect, calls_worker_start}, false,
	 true},
	/* connect: the store's connections to PostgreSQL, opened or reopened while it serves */
	{"ldapd", {calls_threads, calls_files, calls_serve, calls_connect}, false, false},
	{"portal", {calls_threads, calls_files, calls_serve, calls_connect}, false, false},
	{"tick", {calls_threads, calls_files, calls_serve, calls_connect}, false, false},
	{"metrics", {calls_threads, calls_files, calls_serve}, false, false},
	/* Renders hostile text: reads fonts, writes only to its result socket and stderr; GLib starts
	 * a thread (threads only: clone with CLONE_THREAD). */
	{"pdf-worker", {calls_threads, calls_result}, true, false},
};

static enum role_seccomp_mode active_mode = ROLE_SECCOMP_OFF;

int role_seccomp_mode_parse(const char *value, enum role_seccomp_mode *mode_r)
{
	static const char *const names[] = {"off", "on", "log"};
	for (int i = 0; i < 3; i++)
		if (strcmp(value, names[i]) == 0) {
			*mode_r = (enum role_seccomp_mode)i;
			return 0;
		}
	return -1;
}

enum role_seccomp_mode role_seccomp_active(void)
{
	return active_mode;
}

static const struct role_filter *find_filter(const char *role)
{
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
		if (strcmp(filters[i].role, role) == 0)
			return &filters[i];
	return NULL;
}

/* Names this kernel's architecture lacks (an old or a new call) are skipped. */
static int allow_list(scmp_filter_ctx f, const char *const *names)
{
	for (; *names != NULL; names++) {
		int nr = seccomp_syscall_resolve_name(*names);
		if (nr != __NR_SCMP_ERROR && seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0) < 0)
			return -1;
	}
	return 0;
}

/* A comparison of argument arg, every field set (libseccomp's SCMP_A* macros leave datum_b
 * out, which clang's -Wmissing-field-initializers refuses). */
static struct scmp_arg_cmp arg_cmp(unsigned int arg, enum scmp_compare op, scmp_datum_t a,
                                   scmp_datum_t b)
{
	return (struct scmp_arg_cmp){.arg = arg, .op = op, .datum_a = a, .datum_b = b};
}

/* Opens for reading pass; an open for writing fails with EACCES, which the font code takes as
 * "no cache" rather than a reason to die. */
static int allow_read_only_opens(scmp_filter_ctx f)
{
	const scmp_datum_t writing = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;
	int nr = SCMP_SYS(openat);
	if (seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 1, arg_cmp(2, SCMP_CMP_MASKED_EQ, writing, 0)) < 0)
		return -1;
	for (scmp_datum_t bit = 1; bit <= O_APPEND; bit <<= 1)
		if ((bit & writing) != 0 &&
		    seccomp_rule_add(f, SCMP_ACT_ERRNO(EACCES), nr, 1,
		                     arg_cmp(2, SCMP_CMP_MASKED_EQ, bit, bit)) < 0)
			return -1;
	return seccomp_rule_add(f, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(mkdir), 0) < 0 ? -1 : 0;
}

/* abort() and raise() signal this process only: tgkill of another process stays closed. */
static int allow_self_signals(scmp_filter_ctx f)
{
	scmp_datum_t self = (scmp_datum_t)getpid();
	if (seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, arg_cmp(0, SCMP_CMP_EQ, self, 0)) < 0)
		return -1;
	return seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(tkill), 0);
}

#ifndef SECCOMP_SANITIZED
/* Threads but no new processes (unless the role forks): clone3 hides its flags in memory the
 * filter cannot read, so it answers ENOSYS and glibc falls back to clone, whose flags it sees.
 * prctl only for naming threads, the PDF worker's own confinement and libcap's probe of the
 * bounding set (its constructor runs when qmgr execs the worker). */
static int allow_threads(scmp_filter_ctx f, bool forks)
{
	static const scmp_datum_t prctl_ok[] = {PR_SET_NAME, PR_GET_NAME, PR_SET_PDEATHSIG,
	                                        PR_SET_NO_NEW_PRIVS, PR_GET_DUMPABLE,
	                                        PR_CAPBSET_READ, PR_GET_SECCOMP};
	for (size_t i = 0; i < sizeof(prctl_ok) / sizeof(prctl_ok[0]); i++)
		if (seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
		                     arg_cmp(0, SCMP_CMP_EQ, prctl_ok[i], 0)) < 0)
			return -1;
	if (seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) < 0)
		return -1;
	if (forks)
		return seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(clone), 0);
	return seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	                        arg_cmp(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
}
#endif

static int build(scmp_filter_ctx f, const struct role_filter *rf)
{
	if (allow_list(f, calls_base) < 0 || allow_self_signals(f) < 0)
		return -1;
	for (int i = 0; i < SETS_MAX && rf->sets[i] != NULL; i++)
		if (allow_list(f, rf->sets[i]) < 0)
			return -1;
#ifdef SECCOMP_SANITIZED
	if (allow_list(f, calls_sanitizer) < 0)
		return -1;
#else
	if (rf->sets[0] != NULL && allow_threads(f, rf->forks) < 0)
		return -1;
#endif
	if (rf->read_only_opens && allow_read_only_opens(f) < 0)
		return -1;
	/* every thread, also those libraries started before the filter */
	return seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1);
}

int role_seccomp_apply(const char *role, enum role_seccomp_mode mode, const char **error_r)
{
	if (mode == ROLE_SECCOMP_OFF)
		return 0;
	const struct role_filter *rf = find_filter(role);
	if (rf == NULL) {
		*error_r = "seccomp: no filter for this role";
		return -1;
	}
	scmp_filter_ctx f = seccomp_init(mode == ROLE_SECCOMP_LOG ? SCMP_ACT_LOG
	                                                          : SCMP_ACT_KILL_PROCESS);
	if (f == NULL) {
		*error_r = "seccomp: cannot make a filter (out of memory)";
		return -1;
	}
	int rc = build(f, rf);
	if (rc < 0)
		*error_r = "seccomp: the filter cannot be built";
	else if ((rc = seccomp_load(f)) < 0)
		*error_r = "seccomp: the kernel refused the filter (no seccomp support?)";
	seccomp_release(f);
	if (rc < 0)
		return -1;
	active_mode = mode;
	return 0;
}
