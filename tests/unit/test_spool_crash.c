/* test_spool_crash.c: crash consistency of the spool, at every step of its write path.
 *
 * A child process receives messages (the "250" is a line in a journal once the commit
 * returned), then acts as qmgr: takes them, records a deferral, "delivers" them (a journal
 * line, as the next hop's 250) and removes them. Every write, fsync and rename goes through
 * the sg_fileops test hook, which counts them and kills the child (_exit) before the Nth; the
 * test runs once for every N the path reaches.
 *
 * A killed process keeps the page cache, so that alone would prove little about a power
 * loss. The hook therefore also journals what is durable: an fsync of a file records its
 * size, an fsync of a directory records its listing. After the kill the parent makes the
 * spool look like the disk after a power cut: entries created since their directory's last
 * fsync are removed, files written since their last fsync are cut to the size they had then.
 * (Stricter than ext4: a rename that was not synced loses the file from both directories.)
 * Then it opens the spool (recovery) and checks that every message answered 250 is either
 * delivered or queued with its exact data and a readable envelope: never lost.
 * The recovery cases one by one (lost, older and torn envelopes, torn log tails, live logs)
 * follow at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_buf.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "queue/spool.h"
#include "queue/spool_private.h" /* log_rotate_bytes */

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CRASH_EXIT 77
#define NMSG 3
#define NTHREADS 4
#define BODY_LEN 3000
#define JOURNAL_MAX (4 * 1024 * 1024)
#define MAX_INODES 4096
#define LINE_MAX_LEN 16384

static const char *const subs[] = {"tmp", "data", "incoming", "active", "log"};
#define NSUBS (sizeof(subs) / sizeof(subs[0]))

/* ---- the hook (in the child) ---- */

static int jfd = -1;
static long crash_at;
static long ops;
static pthread_mutex_t hook_mu = PTHREAD_MUTEX_INITIALIZER;

static void journal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void journal(const char *fmt, ...)
{
	char line[LINE_MAX_LEN];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (jfd >= 0 && n > 0 && (size_t)n < sizeof(line) && write(jfd, line, (size_t)n) != n)
		_exit(3);
}

static void step(void)
{
	pthread_mutex_lock(&hook_mu);
	long n = ++ops;
	pthread_mutex_unlock(&hook_mu);
	if (crash_at > 0 && n >= crash_at)
		_exit(CRASH_EXIT);
}

static unsigned long long fd_ino(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (unsigned long long)st.st_ino : 0;
}

/* "D path name name ...": what a directory's fsync made durable. */
static void journal_listing(int fd)
{
	char link[64], path[SG_PATH_MAX], line[LINE_MAX_LEN];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	DIR *d = opendir(n > 0 ? (path[n] = '\0', path) : "");
	if (d == NULL)
		_exit(4);
	size_t len = (size_t)snprintf(line, sizeof(line), "D %s", path);
	struct dirent *de;
	while ((de = readdir(d)) != NULL && len < sizeof(line) - SG_QUEUE_ID_MAX - 16)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			len += (size_t)snprintf(line + len, sizeof(line) - len, " %s", de->d_name);
	closedir(d);
	journal("%s\n", line);
}

static ssize_t crash_write(int fd, const void *buf, size_t len)
{
	step();
	journal("W %llu\n", fd_ino(fd));
	return sg_fileops_default.write(fd, buf, len);
}

/* No real fsync: the journal says what it would have made durable. */
static int crash_fsync(int fd)
{
	step();
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	if (S_ISDIR(st.st_mode))
		journal_listing(fd);
	else
		journal("S %llu %lld\n", (unsigned long long)st.st_ino, (long long)st.st_size);
	return 0;
}

static int crash_rename(const char *from, const char *to)
{
	step();
	return sg_fileops_default.rename(from, to);
}

static const struct sg_fileops crash_ops = {crash_write, crash_fsync, crash_rename};

/* ---- the child: smtpd, then qmgr ---- */

static char *body(int i)
{
	char *m = sg_malloc(BODY_LEN);
	for (size_t k = 0; k < BODY_LEN; k++)
		m[k] = (char)('a' + (k * 3 + (size_t)i * 11) % 26);
	return m;
}

static int receive(struct spool *sp, int i, char id_r[SG_QUEUE_ID_MAX])
{
	const char *err;
	char *m = body(i);
	struct spool_envelope env;
	spool_envelope_init(&env);
	env.sender = sg_strdup("s@example.org");
	spool_envelope_add_rcpt(&env, "r@example.net", NULL);
	int rc = spool_inject(sp, m, BODY_LEN, &env, &err);
	if (rc == 0) {
		journal("A %s %d\n", env.id, i); /* the 250 */
		sg_strlcpy(id_r, env.id, SG_QUEUE_ID_MAX);
	}
	spool_envelope_free(&env);
	sg_free(&m);
	return rc;
}

/* What qmgr does with message i: take it, maybe defer once, deliver and remove it (the last
 * of every three stays deferred). */
static void work(struct spool *sp, const char *id, int i)
{
	const char *err;
	struct spool_envelope env;
	if (spool_load(sp, id, &env, NULL, &err) < 0 || spool_activate(sp, id, &err) < 0)
		_exit(5);
	if (i % 3 != 1) {
		env.rcpts[0].attempts = 1;
		if (spool_update(sp, &env, &err) < 0)
			_exit(6);
	}
	spool_envelope_free(&env);
	if (i % 3 == 2)
		return;
	journal("X %s\n", id); /* the next hop's 250 */
	if (spool_remove_delivered(sp, id, &err) < 0)
		_exit(7);
}

struct worker {
	struct spool *sp;
	int first, n;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	char ids[NMSG][SG_QUEUE_ID_MAX];
	for (int k = 0; k < w->n; k++)
		if (receive(w->sp, w->first + k, ids[k]) < 0)
			_exit(8);
	for (int k = 0; k < w->n; k++)
		work(w->sp, ids[k], w->first + k);
	return NULL;
}

static void child(const char *dir, int threads, long n)
{
	const char *err;
	struct spool *sp = spool_open(dir, &err);
	if (sp == NULL)
		_exit(2);
	crash_at = n;
	sg_fileops = &crash_ops;
	struct worker w[NTHREADS];
	pthread_t t[NTHREADS];
	for (int k = 0; k < threads; k++) {
		w[k] = (struct worker){sp, k * NMSG, NMSG};
		if (pthread_create(&t[k], NULL, worker_run, &w[k]) != 0)
			_exit(9);
	}
	for (int k = 0; k < threads; k++)
		pthread_join(t[k], NULL);
	_exit(0);
}

/* ---- the parent: power cut, recovery, check ---- */

struct disk {
	char *journal;
	size_t len;
	unsigned long long ino[MAX_INODES];
	long long synced[MAX_INODES];   /* -1: written, never synced */
	bool dirty[MAX_INODES];
	size_t ninodes;
};

static size_t inode_slot(struct disk *dk, unsigned long long ino)
{
	for (size_t i = 0; i < dk->ninodes; i++)
		if (dk->ino[i] == ino)
			return i;
	assert_true(dk->ninodes < MAX_INODES);
	dk->ino[dk->ninodes] = ino;
	dk->synced[dk->ninodes] = -1;
	dk->dirty[dk->ninodes] = false;
	return dk->ninodes++;
}

static void read_journal(struct disk *dk, const char *path)
{
	const char *err;
	assert_int_equal(sg_file_read_all(path, JOURNAL_MAX, &dk->journal, &dk->len, &err), 0);
	for (char *line = dk->journal; line < dk->journal + dk->len;) {
		char *nl = strchr(line, '\n'), *end;
		assert_non_null(nl);
		if (line[0] == 'W' || line[0] == 'S') {
			size_t s = inode_slot(dk, strtoull(line + 2, &end, 10));
			dk->dirty[s] = line[0] == 'W';
			if (line[0] == 'S')
				dk->synced[s] = strtoll(end, NULL, 10);
		}
		line = nl + 1;
	}
}

/* The listing of dir at its last fsync (or at the start): the last "D dir ..." line. */
static bool durable_name(const struct disk *dk, const char *dir, const char *name)
{
	char head[SG_PATH_MAX + 4];
	const char *last = NULL;
	snprintf(head, sizeof(head), "D %s ", dir);
	size_t hl = strlen(head);
	for (const char *p = dk->journal; p < dk->journal + dk->len; p = strchr(p, '\n') + 1) {
		if (strncmp(p, head, hl) == 0 || (strncmp(p, head, hl - 1) == 0 && p[hl - 1] == '\n'))
			last = p + hl - 1;
	}
	assert_non_null(last);
	size_t nlen = strlen(name);
	for (const char *p = last; *p == ' ';) {
		p++;
		size_t l = strcspn(p, " \n");
		if (l == nlen && memcmp(p, name, l) == 0)
			return true;
		p += l;
	}
	return false;
}

/* Makes the spool what a disk would hold after a power cut at this moment. */
static void power_cut(struct disk *dk, const char *spooldir)
{
	for (size_t i = 0; i < NSUBS; i++) {
		char dir[SG_PATH_MAX], path[SG_PATH_MAX * 2];
		snprintf(dir, sizeof(dir), "%s/%s", spooldir, subs[i]);
		DIR *d = opendir(dir);
		assert_non_null(d);
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			struct stat st;
			assert_int_equal(lstat(path, &st), 0);
			if (!durable_name(dk, dir, de->d_name)) {
				assert_int_equal(unlink(path), 0);
				continue;
			}
			size_t s = inode_slot(dk, (unsigned long long)st.st_ino);
			long long keep = dk->synced[s] < 0 ? 0 : dk->synced[s];
			if (dk->dirty[s] && keep < (long long)st.st_size)
				assert_int_equal(truncate(path, keep), 0);
		}
		closedir(d);
	}
}

struct acked {
	char id[SG_QUEUE_ID_MAX];
	int i;
	bool delivered;
};

static size_t read_acks(const struct disk *dk, struct acked *a, size_t max)
{
	size_t n = 0;
	for (const char *p = dk->journal; p < dk->journal + dk->len; p = strchr(p, '\n') + 1) {
		size_t l = strcspn(p + 2, " \n");
		if ((p[0] != 'A' && p[0] != 'X') || p[1] != ' ' || l >= SG_QUEUE_ID_MAX)
			continue;
		char id[SG_QUEUE_ID_MAX];
		memcpy(id, p + 2, l);
		id[l] = '\0';
		if (p[0] == 'A') {
			assert_true(n < max);
			sg_strlcpy(a[n].id, id, sizeof(a[n].id));
			a[n].i = (int)strtol(p + 2 + l, NULL, 10);
			a[n++].delivered = false;
		}
		for (size_t k = 0; k < n && p[0] == 'X'; k++)
			if (strcmp(a[k].id, id) == 0)
				a[k].delivered = true;
	}
	return n;
}

/* Every acknowledged message is delivered or queued whole; every queued one is readable. */
static void check(struct spool *sp, const struct disk *dk, long n, size_t *dups)
{
	struct acked a[NTHREADS * NMSG];
	size_t na = read_acks(dk, a, NTHREADS * NMSG);
	const char *err;
	for (size_t k = 0; k < na; k++) {
		struct spool_envelope env;
		if (spool_load(sp, a[k].id, &env, NULL, &err) < 0) {
			if (!a[k].delivered)
				fail_msg("crash before op %ld: message %s answered 250 is lost: %s", n,
				         a[k].id, err);
			continue;
		}
		*dups += a[k].delivered;
		assert_int_equal(env.size, BODY_LEN);
		spool_envelope_free(&env);
		char path[SG_PATH_MAX], *data = NULL, *want = body(a[k].i);
		size_t len = 0;
		assert_int_equal(spool_data_path(sp, a[k].id, path, sizeof(path)), 0);
		if (sg_file_read_all(path, 1 << 20, &data, &len, &err) < 0 || len != BODY_LEN ||
		    memcmp(data, want, BODY_LEN) != 0)
			fail_msg("crash before op %ld: data of %s lost or damaged", n, a[k].id);
		sg_free(&data);
		sg_free(&want);
	}
	for (int q = SPOOL_INCOMING; q <= SPOOL_ACTIVE; q++) {
		char **ids;
		size_t nids;
		assert_int_equal(spool_list(sp, (enum spool_queue)q, &ids, &nids, &err), 0);
		for (size_t i = 0; i < nids; i++) {
			struct spool_envelope env;
			if (spool_load(sp, ids[i], &env, NULL, &err) < 0)
				fail_msg("crash before op %ld: queued envelope unreadable: %s", n, err);
			spool_envelope_free(&env);
		}
		spool_ids_free(&ids, nids);
	}
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* One run: crash before op n (0: never). Returns true if the child was killed. */
static bool run_once(int threads, long n, size_t *dups)
{
	char dir[64] = "/tmp/test_spool_crash.XXXXXX", spooldir[128], jpath[128];
	assert_non_null(mkdtemp(dir));
	snprintf(spooldir, sizeof(spooldir), "%s/spool", dir);
	snprintf(jpath, sizeof(jpath), "%s/journal", dir);
	const char *err;
	struct spool *sp = spool_open(spooldir, &err);
	assert_non_null(sp);
	spool_close(&sp);
	jfd = open(jpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	assert_true(jfd >= 0);
	for (size_t i = 0; i < NSUBS; i++) { /* the start is durable */
		char sub[SG_PATH_MAX];
		snprintf(sub, sizeof(sub), "%s/%s", spooldir, subs[i]);
		int fd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(fd >= 0);
		journal_listing(fd);
		close(fd);
	}
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child(spooldir, threads, n);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(jfd);
	jfd = -1;
	assert_true(WIFEXITED(status));
	bool crashed = WEXITSTATUS(status) == CRASH_EXIT;
	if (!crashed)
		assert_int_equal(WEXITSTATUS(status), 0);
	struct disk *dk = sg_calloc(1, sizeof(*dk));
	read_journal(dk, jpath);
	power_cut(dk, spooldir);
	sp = spool_open(spooldir, &err); /* recovery */
	if (sp == NULL)
		fail_msg("crash before op %ld: the spool does not open: %s", n, err);
	check(sp, dk, n, dups);
	spool_close(&sp);
	sg_free(&dk->journal);
	sg_free(&dk);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return crashed;
}

/* Kills the child before every op in turn until a run completes without reaching it. */
static void sweep(int threads)
{
	size_t dups = 0;
	long n = 1;
	while (run_once(threads, n, &dups))
		n++;
	print_message("%d thread(s): %ld crash points, %zu messages delivered twice\n", threads,
	              n - 1, dups);
	assert_true(n > 20); /* the path was really walked */
}

static void crash_single_session(void **state)
{
	(void)state;
	sweep(1);
}

/* Sessions in parallel: batches hold several messages (group commit). */
static void crash_concurrent_sessions(void **state)
{
	(void)state;
	sweep(NTHREADS);
}

/* ---- recovery, case by case ---- */

static void path_of(char *dst, size_t size, struct spool *sp, const char *sub, const char *id)
{
	assert_true(sg_snprintf(dst, size, "%s/%s/%s", spool_dir(sp), sub, id) > 0);
}

static size_t logs_in(const char *spooldir)
{
	char dir[SG_PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/log", spooldir);
	DIR *d = opendir(dir);
	assert_non_null(d);
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		n += strstr(de->d_name, ".log") != NULL;
	closedir(d);
	return n;
}

static struct spool *reopen(struct spool **sp, const char *dir)
{
	const char *err;
	spool_close(sp);
	*sp = spool_open(dir, &err);
	assert_non_null(*sp);
	return *sp;
}

static void write_file(const char *path, const char *s)
{
	const char *err;
	assert_int_equal(sg_file_write_atomic(path, s, strlen(s), 0600, &err), 0);
}

static void recovery_cases(void **state)
{
	(void)state;
	char dir[64] = "/tmp/test_spool_recover.XXXXXX", path[SG_PATH_MAX], lost[SG_QUEUE_ID_MAX],
	     older[SG_QUEUE_ID_MAX], gone[SG_QUEUE_ID_MAX];
	assert_non_null(mkdtemp(dir));
	const char *err;
	struct spool *sp = spool_open(dir, &err), *other;
	assert_non_null(sp);
	assert_int_equal(receive(sp, 0, lost), 0);
	assert_int_equal(receive(sp, 1, older), 0);
	assert_int_equal(receive(sp, 2, gone), 0);
	/* Another handle's recovery leaves a log that is still open alone. */
	other = spool_open(dir, &err);
	assert_non_null(other);
	assert_int_equal(logs_in(dir), 1);
	spool_close(&other);
	/* lost: its envelope file vanished; older: the file is behind the log; gone: no data. */
	path_of(path, sizeof(path), sp, "incoming", lost);
	assert_int_equal(unlink(path), 0);
	struct spool_envelope env, v1;
	assert_int_equal(spool_load(sp, older, &env, NULL, &err), 0);
	assert_int_equal(spool_load(sp, older, &v1, NULL, &err), 0);
	assert_int_equal(spool_activate(sp, older, &err), 0);
	env.rcpts[0].attempts = 4;
	assert_int_equal(spool_update(sp, &env, &err), 0);
	assert_int_equal(env.seq, 2);
	struct sg_buf rec;
	sg_buf_init(&rec, SG_SPOOL_RECORD_MAX);
	assert_int_equal(spool_record_format(&v1, &rec), 0); /* seq 1 over seq 2 */
	path_of(path, sizeof(path), sp, "active", older);
	write_file(path, rec.data);
	sg_buf_free(&rec);
	path_of(path, sizeof(path), sp, "data", gone);
	assert_int_equal(unlink(path), 0);
	reopen(&sp, dir);
	assert_int_equal(logs_in(dir), 0); /* replayed and retired */
	struct spool_envelope back;
	assert_int_equal(spool_load(sp, lost, &back, NULL, &err), 0);
	spool_envelope_free(&back);
	assert_int_equal(spool_load(sp, older, &back, NULL, &err), 0);
	assert_int_equal(back.rcpts[0].attempts, 4);
	spool_envelope_free(&back);
	assert_int_equal(spool_load(sp, gone, &back, NULL, &err), -1);
	/* A torn envelope without a record and a torn log tail: both cleaned up. */
	path_of(path, sizeof(path), sp, "data", "AAATORN");
	write_file(path, "x");
	path_of(path, sizeof(path), sp, "incoming", "AAATORN");
	write_file(path, "SGQ 1\nid=AAATORN\n");
	path_of(path, sizeof(path), sp, "log", "AAATAIL.log");
	write_file(path, "SGL 1\nR 99 i 0000000000000000\nSGQ 1\n");
	reopen(&sp, dir);
	assert_int_equal(spool_load(sp, "AAATORN", &back, NULL, &err), -1);
	path_of(path, sizeof(path), sp, "data", "AAATORN");
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(logs_in(dir), 0);
	spool_envelope_free(&env);
	spool_envelope_free(&v1);
	spool_close(&sp);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A log that reaches its size is closed and retired by the process that wrote it. */
static void rotation_retires_logs(void **state)
{
	(void)state;
	char dir[64] = "/tmp/test_spool_rotate.XXXXXX", ids[20][SG_QUEUE_ID_MAX];
	assert_non_null(mkdtemp(dir));
	const char *err;
	struct spool *sp = spool_open(dir, &err);
	assert_non_null(sp);
	sp->log_rotate_bytes = 1000; /* about four records */
	for (int i = 0; i < 20; i++)
		assert_int_equal(receive(sp, i, ids[i]), 0);
	assert_true(logs_in(dir) <= 1);
	reopen(&sp, dir);
	assert_int_equal(logs_in(dir), 0);
	for (int i = 0; i < 20; i++) {
		struct spool_envelope env;
		assert_int_equal(spool_load(sp, ids[i], &env, NULL, &err), 0);
		spool_envelope_free(&env);
	}
	spool_close(&sp);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- group commit ---- */

static atomic_long fsyncs;
static pthread_barrier_t start_line;

static int counting_fsync(int fd)
{
	atomic_fetch_add(&fsyncs, 1);
	return sg_fileops_default.fsync(fd);
}

static ssize_t plain_write(int fd, const void *buf, size_t len)
{
	return sg_fileops_default.write(fd, buf, len);
}

static int plain_rename(const char *from, const char *to)
{
	return sg_fileops_default.rename(from, to);
}

static const struct sg_fileops counting_ops = {plain_write, counting_fsync, plain_rename};

struct sender {
	struct spool *sp;
	int first;
};

static void *send_ten(void *arg)
{
	struct sender *s = arg;
	char id[SG_QUEUE_ID_MAX];
	pthread_barrier_wait(&start_line);
	for (int i = 0; i < 10; i++)
		assert_int_equal(receive(s->sp, s->first + i, id), 0);
	return NULL;
}

/* n sessions send ten messages each from a barrier; the fsyncs they made and the times a
 * thread of this process gave up the CPU (voluntary context switches: waiting). */
static void run_sessions(int n, long *fsyncs_r, long *switches_r, long *waits_r)
{
	char dir[64] = "/tmp/test_spool_group.XXXXXX";
	assert_non_null(mkdtemp(dir));
	const char *err;
	struct spool *sp = spool_open(dir, &err);
	assert_non_null(sp);
	struct sender *s = calloc((size_t)n, sizeof(*s));
	pthread_t *t = calloc((size_t)n, sizeof(*t));
	assert_true(s != NULL && t != NULL);
	assert_int_equal(pthread_barrier_init(&start_line, NULL, (unsigned)n), 0);
	struct rusage before, after;
	getrusage(RUSAGE_SELF, &before);
	atomic_store(&fsyncs, 0);
	sg_fileops = &counting_ops;
	for (int k = 0; k < n; k++) {
		s[k] = (struct sender){sp, k * 10};
		assert_int_equal(pthread_create(&t[k], NULL, send_ten, &s[k]), 0);
	}
	for (int k = 0; k < n; k++)
		pthread_join(t[k], NULL);
	sg_fileops = &sg_fileops_default;
	getrusage(RUSAGE_SELF, &after);
	pthread_barrier_destroy(&start_line);
	*fsyncs_r = atomic_load(&fsyncs);
	*switches_r = after.ru_nvcsw - before.ru_nvcsw;
	*waits_r = (long)spool_log_waits(sp);
	free(s);
	free(t);
	spool_close(&sp);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Sessions committing together share the batch's fsyncs: without that a message costs 3
 * (its data, data/, the log); with it the log and data/ are paid once per batch. */
static void group_commit_shares_fsyncs(void **state)
{
	(void)state;
	long n, switches, waits;
	run_sessions(8, &n, &switches, &waits);
	print_message("80 messages from 8 sessions: %ld fsyncs (%.2f per message)\n", n, (double)n / 80.0);
	assert_true(n < 80 * 2); /* at least half the batch fsyncs shared */
}

/* With 50 sessions the end of a batch wakes the sessions it held and the next leader, not
 * all 50 (issue 19: woken on every record, smtpd spent more CPU per message at 50 clients
 * than at 10). A message's session waits a few times (its data fsync, its batch); woken by
 * every other session's record it would wait and wake dozens of times. */
static void batch_wakes_only_its_sessions(void **state)
{
	(void)state;
	long n, switches, waits;
	run_sessions(50, &n, &switches, &waits);
	print_message("500 messages from 50 sessions: %ld fsyncs, %ld wake-ups of waiting sessions "
	              "(%.1f per message), %ld voluntary context switches\n", n, waits,
	              (double)waits / 500.0, switches);
	/* Counted by the spool, not by the scheduler: the context switches, printed above, also
	 * count the fsyncs and move with the machine (valgrind serialises threads: 12.9 per
	 * message once, against 6 natively). A session woken only when its batch ends, or to lead
	 * the next, wakes at most about twice per message; woken by every record, dozens. */
	assert_true(waits < 500 * 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crash_single_session),
		cmocka_unit_test(crash_concurrent_sessions),
		cmocka_unit_test(recovery_cases),
		cmocka_unit_test(rotation_retires_logs),
		cmocka_unit_test(group_commit_shares_fsyncs),
		cmocka_unit_test(batch_wakes_only_its_sessions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
