/* transform.h: the step between plan and delivery. Each policy action has one transform that
 * turns the queued message into what its recipients receive (unchanged, S/MIME, PGP/MIME,
 * SecurePDF, ...). A transform either yields the bytes, or says why it cannot: for a while
 * (defer) or for good (bounce, e.g. a message that must be encrypted and cannot be). */
#ifndef SG_TRANSFORM_H
#define SG_TRANSFORM_H

#include "core/limits.h"
#include "core/sg_buf.h"

#include <stdbool.h>
#include <stddef.h>

struct settings;
struct mime_info;
struct policy_plan;

/* What transforms share for the life of the queue manager (keys, store, settings). */
struct transform_env {
	const struct settings *settings;
	const char *hostname;
};

struct transform_input {
	const char *queue_id;
	const char *sender;
	const char *data; /* the message as queued (CRLF) */
	size_t len;
	const struct mime_info *mime;
	const struct policy_plan *plan;
	const char *const *rcpts;
	size_t nrcpt;
};

enum transform_result {
	TRANSFORM_OK,
	TRANSFORM_TEMP, /* try again later (e.g. the store is busy) */
	TRANSFORM_PERM, /* bounce these recipients with status and reason */
};

struct transform_output {
	const char *data; /* the bytes to deliver: in->data itself, or buf.data */
	size_t len;
	struct sg_buf buf;
	char status[16];                  /* enhanced status on failure ("5.7.1") */
	char reason[SG_SPOOL_REPLY_MAX];  /* for the sender, on failure */
};

void transform_output_init(struct transform_output *out);
void transform_output_free(struct transform_output *out);
/* Runs the transform of in->plan->action. */
enum transform_result transform_run(const struct transform_env *te,
                                    const struct transform_input *in,
                                    struct transform_output *out);

/* Sets out's failure fields; returns res. */
enum transform_result transform_fail(struct transform_output *out, enum transform_result res,
                                     const char *status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* transform_pass.c: deliver unchanged, except that X-Sealgate-* fields that arrived from
 * outside are removed (only sealgate may state what it did to a message). */
enum transform_result transform_pass(const struct transform_env *te,
                                     const struct transform_input *in,
                                     struct transform_output *out);

/* transform_refuse.c: a permanent failure that explains why the message was not sent. */
enum transform_result transform_refuse(const struct transform_env *te,
                                       const struct transform_input *in,
                                       struct transform_output *out);

#endif
