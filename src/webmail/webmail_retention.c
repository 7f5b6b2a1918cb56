/* webmail_retention.c: what ends a webmail message other than its partner: the retention
 * period (the tick), an admin's purge, and the room a new message needs under the quota.
 * Each deletion is in the audit log; unread mail is never dropped for room. */
#include "webmail/webmail.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <stdio.h>
#include <string.h>

/* One audit entry per partner and run: "N message(s) <why>". */
static void audit(struct store *st, time_t now, const char *event, const char *address,
                  const char *actor, size_t n, const char *why)
{
	char detail[200];
	const char *err;
	snprintf(detail, sizeof(detail), "%zu message(s) %s", n, why);
	if (store_role_audit_add(st, now, event, address, actor, detail, &err) < 0)
		sg_error("webmail: audit entry for <%s>: %s", address, err);
}

/* Deletes list[0..n) and audits each run of one partner's messages. */
static int delete_audited(struct store *st, const struct store_webmail_msg *list, size_t n,
                          time_t now, const char *event, const char *actor, const char *why,
                          const char **error_r)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		if (store_webmail_delete_id(st, list[i].id, error_r) < 0)
			return -1;
		run++;
		if (i + 1 == n || strcmp(list[i + 1].address, list[i].address) != 0) {
			audit(st, now, event, list[i].address, actor, run, why);
			sg_info("webmail: %zu message(s) of <%s> deleted: %s", run, list[i].address, why);
			run = 0;
		}
	}
	return 0;
}

/* A part file no message names is removed once it is this old: a put writes its file, then
 * commits the rows within seconds (the store's busy timeout), never an hour later. */
#define SWEEP_GRACE_SECS 3600

int webmail_sweep(struct store *st, time_t now, size_t *count_r, const char **error_r)
{
	if (store_webmail_sweep(st, now - SWEEP_GRACE_SECS, count_r, error_r) < 0)
		return -1;
	if (*count_r > 0)
		sg_info("webmail: %zu file(s) of sealed parts that no message names removed", *count_r);
	return 0;
}

int webmail_retention_run(struct store *st, int days, time_t now, size_t *count_r,
                          const char **error_r)
{
	*count_r = 0;
	if (days <= 0)
		return 0;
	time_t before = now - (time_t)days * 86400;
	for (;;) {
		struct store_webmail_msg *list = NULL;
		size_t n = 0;
		if (store_webmail_older(st, before, &list, &n, error_r) < 0)
			return -1;
		char why[64];
		snprintf(why, sizeof(why), "older than %d days (webmail.retention_days)", days);
		int rc = delete_audited(st, list, n, now, "webmail-expired", "tick", why, error_r);
		store_webmail_list_free(&list, n);
		if (rc < 0)
			return -1;
		*count_r += n;
		if (n < STORE_WEBMAIL_PAGE_MAX)
			return 0;
	}
}

int webmail_purge_address(struct store *st, const char *address, const char *actor,
                          time_t now, size_t *count_r, const char **error_r)
{
	*count_r = 0;
	for (;;) {
		struct store_webmail_msg *list = NULL;
		size_t n = 0;
		/* newest first is as good as any order: everything goes */
		int rc = store_webmail_list(st, address, STORE_WEBMAIL_INBOX, 0, STORE_WEBMAIL_PAGE_MAX,
		                            &list, &n, error_r);
		if (rc == 0 && n == 0) {
			store_webmail_list_free(&list, n);
			rc = store_webmail_list(st, address, STORE_WEBMAIL_SENT, 0, STORE_WEBMAIL_PAGE_MAX,
			                        &list, &n, error_r);
		}
		if (rc == 0)
			rc = delete_audited(st, list, n, now, "webmail-purged", actor, "purged by an admin",
			                    error_r);
		store_webmail_list_free(&list, n);
		if (rc < 0)
			return -1;
		*count_r += n;
		if (n == 0)
			return 0;
	}
}

int webmail_quota_make_room(struct store *st, const char *address, int64_t quota_bytes,
                            int64_t need, time_t now, size_t *dropped_r, const char **error_r)
{
	*dropped_r = 0;
	int64_t used = 0;
	size_t count = 0;
	if (quota_bytes <= 0)
		return 0;
	if (store_webmail_usage(st, address, &used, &count, error_r) < 0)
		return -1;
	if (used + need <= quota_bytes)
		return 0;
	struct store_webmail_msg *list = NULL;
	size_t n = 0;
	if (store_webmail_oldest_read(st, address, STORE_WEBMAIL_PAGE_MAX, &list, &n, error_r) < 0)
		return -1;
	/* How many of the oldest read messages make room; none is dropped if all would not. */
	size_t k = 0;
	int64_t freed = 0;
	while (k < n && used - freed + need > quota_bytes)
		freed += list[k++].stored;
	int rc = used - freed + need > quota_bytes ? 1 : 0;
	if (rc == 0)
		rc = delete_audited(st, list, k, now, "webmail-quota", "mail",
		                    "read, dropped for room under webmail.quota_mb", error_r);
	if (rc == 0)
		*dropped_r = k;
	store_webmail_list_free(&list, n);
	return rc;
}
