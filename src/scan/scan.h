/* scan.h: virus scanning by clamd over its INSTREAM protocol (our own small client: libclamav
 * in-process is not wanted in the queue manager). clamd's replies are hostile input: bounded,
 * parsed strictly, and every wait has a deadline. */
#ifndef SG_SCAN_H
#define SG_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#define SCAN_SIGNATURE_MAX 128 /* a signature name as we keep it */
#define SCAN_REPLY_MAX     1024 /* clamd's reply to one scan */
#define SCAN_CHUNK         (64 * 1024)

/* Where clamd listens: "unix:/run/clamav/clamd.ctl" or "tcp:HOST:PORT". */
struct scan_target {
	bool tcp;
	char path[108]; /* sun_path */
	char host[256];
	char port[8];
};
int scan_target_parse(const char *spec, struct scan_target *t, const char **error_r);

enum scan_verdict {
	SCAN_CLEAN,
	SCAN_INFECTED,
	SCAN_FAILED, /* clamd unreachable, too slow, or answered something else: try again later */
};

struct scan_result {
	enum scan_verdict verdict;
	char signature[SCAN_SIGNATURE_MAX]; /* INFECTED: the name clamd gave, printable ASCII */
	char error[256];                    /* FAILED: what went wrong, for logs and the queue */
};

/* scan_reply.c: parses one reply to zINSTREAM ("stream: OK", "stream: NAME FOUND",
 * "... ERROR"), len bytes without the terminating NUL. Anything else is FAILED. */
void scan_reply_parse(const char *reply, size_t len, struct scan_result *r);

/* scan_clamd.c: streams data to clamd and reads its verdict; the whole exchange (connect,
 * send, reply) must finish within timeout_ms. Always fills *r. */
void scan_clamd_instream(const struct scan_target *t, const char *data, size_t len,
                         int timeout_ms, struct scan_result *r);

#endif
