/* cli_audit.c: the audit log from the CLI's side: cli_audit() records what an admin command
 * changed and who ran it; `sealgate audit` prints the log, filtered by time and event, as text
 * or as JSON lines. */
#include "cli/cli.h"
#include "core/settings.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "store/store.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* "cli:ACCOUNT", and under sudo the account that called it: root alone says nothing. */
void cli_audit_actor(char *dst, size_t size)
{
	struct passwd *pw = getpwuid(getuid());
	const char *sudo = getuid() == 0 ? getenv("SUDO_USER") : NULL;
	char name[64];
	if (pw != NULL)
		sg_printable(name, sizeof(name), pw->pw_name, sizeof(name) - 1);
	else
		snprintf(name, sizeof(name), "uid %u", (unsigned)getuid());
	if (sudo != NULL && sudo[0] != '\0') {
		char by[64];
		sg_printable(by, sizeof(by), sudo, sizeof(by) - 1);
		snprintf(dst, size, "cli:%s (sudo by %s)", name, by);
	} else {
		snprintf(dst, size, "cli:%s", name);
	}
}

static void audit_v(struct store *st, const char *event, const char *address, const char *fmt,
                    va_list ap) __attribute__((format(printf, 4, 0)));

static void audit_v(struct store *st, const char *event, const char *address, const char *fmt,
                    va_list ap)
{
	struct store_audit_entry e = {.at = sg_wall()};
	cli_audit_actor(e.actor, sizeof(e.actor));
	sg_strlcpy(e.event, event, sizeof(e.event));
	sg_strlcpy(e.address, address, sizeof(e.address));
	sg_strlcpy(e.client, "cli", sizeof(e.client));
	vsnprintf(e.detail, sizeof(e.detail), fmt, ap);
	const char *err;
	if (store_audit_add(st, &e, &err) < 0)
		cli_errorf("warning: the audit log did not take this %s: %s", event, err);
}

void cli_audit(struct store *st, const char *event, const char *address, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	audit_v(st, event, address, fmt, ap);
	va_end(ap);
}

/* Root editing an instance that runs as gateway.user (the Debian package's /etc/sealgate):
 * the store is written as that account, so that no file of it becomes root's. 1: switched,
 * 0: nothing to do, -1: the account cannot be taken. */
static int become_instance_user(const struct settings *s)
{
	const char *name = settings_get(s, "gateway.user");
	if (geteuid() != 0 || name[0] == '\0')
		return 0;
	struct passwd *pw = getpwnam(name);
	if (pw == NULL || setegid(pw->pw_gid) != 0)
		return -1;
	if (seteuid(pw->pw_uid) != 0) {
		if (setegid(0) != 0)
			cli_errorf("cannot take group root back");
		return -1;
	}
	return 1;
}

static void become_root_again(void)
{
	if (seteuid(0) != 0 || setegid(0) != 0)
		cli_errorf("cannot take root back after writing the audit log");
}

void cli_audit_config(const char *config, const char *event, const char *address,
                      const char *fmt, ...)
{
	char *errors = NULL;
	struct settings *s = settings_load(config, &errors);
	sg_free(&errors);
	int as_user = s != NULL ? become_instance_user(s) : -1;
	const char *err = "the configuration cannot be read";
	struct store *st = as_user < 0 ? NULL
	                 : store_open_settings(s, &err);
	if (st != NULL) {
		va_list ap;
		va_start(ap, fmt);
		audit_v(st, event, address, fmt, ap);
		va_end(ap);
		store_close(&st);
	} else {
		cli_errorf("warning: the audit log did not take this %s: %s", event,
		           as_user < 0 && s != NULL ? "gateway.user cannot be taken" : err);
	}
	if (as_user == 1)
		become_root_again();
	settings_free(&s);
}

/* A point in time: a duration ago ("7d", "12h") or a UTC date or time ("2026-12-07",
 * "2026-12-07T10:00:00Z", "2026-12-07 10:00"). -1 if it is none of these. */
static time_t parse_when(const char *s)
{
	long long d = sg_duration_parse(s);
	if (d >= 0)
		return sg_wall() - (time_t)d;
	static const char *const formats[] = {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S",
	                                      "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M",
	                                      "%Y-%m-%d %H:%M", "%Y-%m-%d"};
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		struct tm tm = {0};
		const char *end = strptime(s, formats[i], &tm);
		if (end != NULL && *end == '\0')
			return timegm(&tm);
	}
	return -1;
}

/* s as a JSON string (quotes included); control bytes escaped. */
static void json_string(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void print_entry(const struct store_audit_entry *e, bool json)
{
	struct tm tm;
	char when[32];
	gmtime_r(&e->at, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!json) {
		printf("%s %-14s %s by=%s client=%s%s%s\n", when, e->event,
		       e->address[0] ? e->address : "-", e->actor[0] ? e->actor : "-", e->client,
		       e->detail[0] ? " " : "", e->detail);
		return;
	}
	const char *keys[] = {"event", "address", "actor", "client", "detail"};
	const char *values[] = {e->event, e->address, e->actor, e->client, e->detail};
	printf("{\"at\":\"%s\",\"time\":%lld", when, (long long)e->at);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		printf(",\"%s\":", keys[i]);
		json_string(values[i]);
	}
	printf("}\n");
}

struct audit_args {
	struct store_audit_query q;
	bool json;
};

/* --since T --until T --event NAME --json, in any order; -1 on a usage error (said). */
static int parse_args(int argc, char **argv, struct audit_args *a)
{
	for (int i = 0; i < argc; i++) {
		bool has_value = i + 1 < argc;
		if (strcmp(argv[i], "--json") == 0) {
			a->json = true;
		} else if (strcmp(argv[i], "--event") == 0 && has_value) {
			a->q.event = argv[++i];
		} else if ((strcmp(argv[i], "--since") == 0 || strcmp(argv[i], "--until") == 0) &&
		           has_value) {
			time_t t = parse_when(argv[i + 1]);
			if (t < 0) {
				cli_errorf("%s %s: give a duration ago (30m, 12h, 7d) or a UTC date or time "
				           "(2026-12-07, 2026-12-07T10:00:00Z)", argv[i], argv[i + 1]);
				return -1;
			}
			*(argv[i][2] == 's' ? &a->q.since : &a->q.until) = t;
			i++;
		} else {
			cli_usage("audit");
			return -1;
		}
	}
	return 0;
}

int cli_audit_cmd(int argc, char **argv)
{
	const char *path = cli_take_config(&argc, argv);
	struct audit_args a = {0};
	if (path == NULL)
		return cli_usage("audit");
	if (parse_args(argc, argv, &a) < 0)
		return 2;
	struct cli_cert_ctx ctx;
	if (cli_cert_open(&ctx, path, false) < 0)
		return 1;
	struct store_audit_entry *e = NULL;
	size_t n = 0;
	const char *err;
	int rc = 0;
	if (store_audit_list(ctx.store, &a.q, &e, &n, &err) < 0) {
		cli_errorf("%s", err);
		rc = 1;
	}
	for (size_t i = 0; i < n; i++)
		print_entry(&e[i], a.json);
	sg_free(&e);
	cli_cert_close(&ctx);
	if (fflush(stdout) != 0 || ferror(stdout))
		rc = 1;
	return rc;
}
