/* sg_log.h: one line per event on stderr, Postfix-like ("sealgate/smtpd[pid]: ID: ...").
 * Three classes of error: expected failures are returned with error_r; sg_fatal ends the
 * process (the master restarts a child); sg_assert guards invariants and aborts with a core. */
#ifndef SG_LOG_H
#define SG_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum sg_log_level { SG_LOG_DEBUG, SG_LOG_INFO, SG_LOG_WARN, SG_LOG_ERROR };

#define SG_LOG_LINE_MAX 2048 /* longer lines are cut */

/* role is shown as "sealgate/ROLE[pid]"; NULL means the CLI ("sealgate"). */
void sg_log_init(const char *role);
void sg_log_set_level(enum sg_log_level level);
/* Where lines go (stderr by default; a child of the master: its log pipe). */
void sg_log_set_fd(int fd);
bool sg_log_enabled(enum sg_log_level level);

void sg_log(enum sg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sg_logv(enum sg_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Whether text (one line, without its newline) starts like a line of ours. */
bool sg_log_is_line(const char *text, size_t len);
/* Writes one line of a child: one of its log lines (ours) as it is; any other (what it wrote
 * on stdout or stderr: a library that printed by itself, a sanitizer report) in our format
 * for ROLE[pid], marked "stderr:", control characters replaced. */
void sg_log_relay(const char *role, long pid, bool ours, const char *text, size_t len);
/* Logs each line of text (several lines, e.g. the errors of a configuration) as its own
 * line, after prefix: nothing reaches stderr outside the log format. */
void sg_log_lines(enum sg_log_level level, const char *prefix, const char *text);
#define sg_debug(...) sg_log(SG_LOG_DEBUG, __VA_ARGS__)
#define sg_info(...)  sg_log(SG_LOG_INFO, __VA_ARGS__)
#define sg_warn(...)  sg_log(SG_LOG_WARN, __VA_ARGS__)
#define sg_error(...) sg_log(SG_LOG_ERROR, __VA_ARGS__)

_Noreturn void sg_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void sg_assert_failed(const char *expr, const char *file, int line);
#define sg_assert(e) ((e) ? (void)0 : sg_assert_failed(#e, __FILE__, __LINE__))

#endif
