/* portal_upload.c: request bodies and the memory they take. Without a bound, 32 connections
 * per address each holding a 15 MB message (and a parsed copy) pin gigabytes. So:
 * - small bodies (forms, an uploaded key: at most SG_HTTP_BODY_MAX) stay in memory and count
 *   against portal.max_upload_memory as they arrive;
 * - a logged-in partner's message (up to policy.max_encrypted_size and a little) goes, as it
 *   arrives, to an unlinked 0600 temporary file in the spool's tmp/ and costs no memory while it
 *   comes in; it counts six times its size (the file mapped, the parsed form, the message
 *   built from it) only while its handler runs;
 * - a body that would take the portal over the budget is dropped (its file closed) and the
 *   request answered 503 with a page asking to try again in a few minutes. */
#include "portal/portal_priv.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Bytes of memory a message's handler needs per body byte, measured (test_portal_abuse.py):
 * the file mapped, the parsed form, GMime's copy of each file, the message built in base64 in
 * GMime's growing buffer and copied out. */
#define HANDLER_FACTOR 6

static bool budget_take(struct portal_body *b, size_t n)
{
	size_t *used = &b->ctx->upload_used;
	if (__atomic_add_fetch(used, n, __ATOMIC_RELAXED) > b->ctx->upload_budget) {
		__atomic_sub_fetch(used, n, __ATOMIC_RELAXED);
		return false;
	}
	b->counted += n;
	return true;
}

static void budget_give_back(struct portal_body *b)
{
	__atomic_sub_fetch(&b->ctx->upload_used, b->counted, __ATOMIC_RELAXED);
	b->counted = 0;
}

/* An unlinked temporary file that only this process can reach; -1 with a log line. */
static int temp_file(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR)) {
		if (fd < 0)
			sg_error("portal: a temporary file in %s: %s", dir, strerror(errno));
		return fd;
	}
	/* A file system without O_TMPFILE: a random name, unlinked at once. */
	char path[SG_PATH_MAX];
	if (sg_snprintf(path, sizeof(path), "%s/portal-XXXXXX", dir) < 0)
		return -1;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0 || unlink(path) < 0) {
		sg_error("portal: a temporary file in %s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Drops what was received: the request is answered from the flags alone. */
static void drop(struct portal_body *b)
{
	sg_buf_free_secret(&b->mem); /* passwords travel in bodies */
	if (b->map != NULL)
		munmap(b->map, b->len);
	b->map = NULL;
	if (b->fd >= 0)
		close(b->fd); /* unlinked: the data goes with the last descriptor */
	b->fd = -1;
	budget_give_back(b);
}

void portal_upload_start(struct portal_ctx *ctx, struct portal_body *b, size_t max, bool to_file)
{
	*b = (struct portal_body){.ctx = ctx, .fd = -1, .max = max};
	sg_buf_init(&b->mem, max);
	if (to_file && (b->fd = temp_file(ctx->upload_dir)) < 0)
		b->busy = true;
}

static bool write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			sg_error("portal: writing an upload to its temporary file: %s", strerror(errno));
			return false;
		}
		data += n;
		len -= (size_t)n;
	}
	return true;
}

void portal_upload_add(struct portal_body *b, const char *data, size_t len)
{
	if (b->too_big || b->busy)
		return; /* keep reading, so the answer reaches the client */
	if (len > b->max - b->len) {
		b->too_big = true;
	} else if (b->fd >= 0) {
		b->busy = !write_all(b->fd, data, len);
	} else if (!budget_take(b, len)) {
		b->busy = true;
		sg_warn("portal: a request body: over portal.max_upload_memory, answered 503");
	} else {
		b->too_big = sg_buf_append(&b->mem, data, len) < 0;
	}
	if (!b->too_big && !b->busy) {
		b->len += len;
		return;
	}
	drop(b);
}

/* The file mapped for the handler, counted against the budget while it runs. */
static void map_file(struct portal_body *b)
{
	if (b->len == 0)
		return;
	if (!budget_take(b, b->len * HANDLER_FACTOR)) {
		b->busy = true;
		sg_warn("portal: a message of %zu bytes: over portal.max_upload_memory, answered 503",
		        b->len);
	} else if ((b->map = mmap(NULL, b->len, PROT_READ, MAP_PRIVATE, b->fd, 0)) == MAP_FAILED) {
		sg_error("portal: mapping an upload: %s", strerror(errno));
		b->map = NULL;
		b->busy = true;
	}
	if (b->busy)
		drop(b);
}

const char *portal_upload_body(struct portal_body *b, size_t *len_r)
{
	if (b->fd >= 0 && !b->too_big && !b->busy)
		map_file(b);
	*len_r = b->too_big || b->busy ? 0 : b->len;
	if (*len_r == 0)
		return "";
	return b->map != NULL ? b->map : b->mem.data;
}

void portal_upload_free(struct portal_body *b)
{
	if (b->ctx != NULL)
		drop(b);
}
