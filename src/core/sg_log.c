/* sg_log.c: stderr logging with one write(2) per line, so lines of concurrent threads and
 * children never interleave. */
#include "core/sg_log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char log_ident[64] = "sealgate";
static enum sg_log_level log_level = SG_LOG_INFO;
static int log_fd = STDERR_FILENO;
static bool log_journal; /* log_fd is systemd's journal stream: lines start with "<N>" */

/* Whether fd is the stream systemd connected to the journal: JOURNAL_STREAM ("DEV:INODE",
 * systemd.exec(5)) names it. A child whose stderr is the master's pipe is not: the master adds
 * the priority when it relays the child's line. */
static bool is_journal(int fd)
{
	const char *js = getenv("JOURNAL_STREAM");
	struct stat st;
	if (js == NULL || !isdigit((unsigned char)js[0]) || fstat(fd, &st) < 0)
		return false;
	char *end;
	errno = 0;
	unsigned long long dev = strtoull(js, &end, 10);
	if (*end != ':' || !isdigit((unsigned char)end[1]))
		return false;
	unsigned long long ino = strtoull(end + 1, &end, 10);
	return errno == 0 && *end == '\0' && (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void sg_log_init(const char *role)
{
	log_journal = is_journal(log_fd);
	if (role == NULL)
		snprintf(log_ident, sizeof(log_ident), "sealgate");
	else
		snprintf(log_ident, sizeof(log_ident), "sealgate/%.40s[%ld]", role, (long)getpid());
	const char *lvl = getenv("SEALGATE_LOG_LEVEL");
	if (lvl != NULL && strcmp(lvl, "debug") == 0)
		log_level = SG_LOG_DEBUG;
}

void sg_log_set_level(enum sg_log_level level) { log_level = level; }

void sg_log_set_fd(int fd)
{
	log_fd = fd;
	log_journal = is_journal(fd);
}

bool sg_log_enabled(enum sg_log_level level) { return level >= log_level; }

static const char *level_tag(enum sg_log_level level)
{
	switch (level) {
	case SG_LOG_DEBUG: return "debug: ";
	case SG_LOG_WARN: return "warning: ";
	case SG_LOG_ERROR: return "error: ";
	case SG_LOG_INFO: break;
	}
	return "";
}

/* The syslog priority journald reads from a "<N>" prefix (sd-daemon(3)). */
static int level_priority(enum sg_log_level level)
{
	switch (level) {
	case SG_LOG_DEBUG: return 7;
	case SG_LOG_WARN: return 4;
	case SG_LOG_ERROR: return 3;
	case SG_LOG_INFO: break;
	}
	return 6;
}

/* "<N>" for the journal (else nothing), then "TIME IDENT: TAG" at the start of line; returns
 * its length (0 if it does not fit). */
static size_t line_head(char *line, size_t size, const char *ident, enum sg_log_level level)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char prio[8] = "";
	if (log_journal)
		snprintf(prio, sizeof(prio), "<%d>", level_priority(level));
	int n = snprintf(line, size, "%s%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: %s", prio,
	                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	                 tm.tm_sec, ts.tv_nsec / 1000000, ident, level_tag(level));
	return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

/* The level of a line of ours ("TIME IDENT: TAG..."), from its tag. */
static enum sg_log_level line_level(const char *text, size_t len)
{
	static const enum sg_log_level levels[] = {SG_LOG_DEBUG, SG_LOG_WARN, SG_LOG_ERROR};
	const char *sep = memchr(text, ' ', len); /* after the time */
	const char *colon = sep != NULL ? memchr(sep, ':', len - (size_t)(sep - text)) : NULL;
	if (colon == NULL || (size_t)(colon - text) + 2 > len)
		return SG_LOG_INFO;
	const char *tag = colon + 2;
	size_t left = len - (size_t)(tag - text);
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		const char *t = level_tag(levels[i]);
		if (left >= strlen(t) && memcmp(tag, t, strlen(t)) == 0)
			return levels[i];
	}
	return SG_LOG_INFO;
}

static void line_write(char *line, size_t len, size_t size)
{
	if (len > size - 2)
		len = size - 2;
	line[len++] = '\n';
	ssize_t w = write(log_fd, line, len);
	(void)w;
}

void sg_logv(enum sg_log_level level, const char *fmt, va_list ap)
{
	if (!sg_log_enabled(level))
		return;
	int saved = errno;
	char line[SG_LOG_LINE_MAX];
	size_t n = line_head(line, sizeof(line), log_ident, level);
	errno = saved; /* for %m */
	int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	line_write(line, n + (m < 0 ? 0 : (size_t)m), sizeof(line));
	errno = saved;
}

bool sg_log_is_line(const char *text, size_t len)
{
	static const char shape[] = "0000-00-00T00:00:00.000Z sealgate";
	if (len < sizeof(shape) - 1)
		return false;
	for (size_t i = 0; i < sizeof(shape) - 1; i++)
		if (shape[i] == '0' ? !isdigit((unsigned char)text[i]) : text[i] != shape[i])
			return false;
	return true;
}

void sg_log_relay(const char *role, long pid, bool ours, const char *text, size_t len)
{
	char line[SG_LOG_LINE_MAX];
	size_t n = 0;
	if (ours && sg_log_is_line(text, len)) {
		if (log_journal)
			n = (size_t)snprintf(line, sizeof(line), "<%d>",
			                     level_priority(line_level(text, len)));
	} else {
		char ident[64];
		snprintf(ident, sizeof(ident), "sealgate/%.40s[%ld]", role, pid);
		n = line_head(line, sizeof(line), ident, SG_LOG_INFO);
		n += (size_t)snprintf(line + n, sizeof(line) - n, "stderr: ");
	}
	size_t room = sizeof(line) - n - 2;
	size_t take = len < room ? len : room;
	memcpy(line + n, text, take);
	for (size_t i = n; i < n + take; i++)
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
			line[i] = '?';
	line_write(line, n + take, sizeof(line));
}

void sg_log(enum sg_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sg_logv(level, fmt, ap);
	va_end(ap);
}

void sg_log_lines(enum sg_log_level level, const char *prefix, const char *text)
{
	while (text != NULL && *text != '\0') {
		const char *nl = strchr(text, '\n');
		size_t len = nl != NULL ? (size_t)(nl - text) : strlen(text);
		if (len > 0)
			sg_log(level, "%s%.*s", prefix, len > 1000 ? 1000 : (int)len, text);
		text = nl != NULL ? nl + 1 : NULL;
	}
}

void sg_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sg_logv(SG_LOG_ERROR, fmt, ap);
	va_end(ap);
	exit(EXIT_FAILURE);
}

void sg_assert_failed(const char *expr, const char *file, int line)
{
	sg_log(SG_LOG_ERROR, "assertion failed: %s (%s:%d)", expr, file, line);
	abort();
}
