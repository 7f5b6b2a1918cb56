/* reload_changes.c: what a SIGHUP changed, for the log. The master names every setting that
 * changed; each role, once ready, the settings of its sections and whether each took effect
 * (a listen address the master could not bind keeps the old sockets until a restart). */
#include "core/settings.h"
#include "core/sg_log.h"
#include "daemon/daemon.h"

#include <string.h>

static bool in_sections(const char *key, const char *sections)
{
	if (sections == NULL)
		return true;
	for (const char *p = sections; *p != '\0';) {
		size_t len = strcspn(p, " ");
		if (len > 0 && strncmp(key, p, len) == 0)
			return true;
		p += len + (p[len] == ' ');
	}
	return false;
}

size_t daemon_settings_diff(const struct settings *was, const struct settings *now,
                            const char *sections, daemon_change_fn fn, void *arg)
{
	size_t count, n = 0;
	const struct setting_def *table = settings_table(&count);
	for (size_t i = 0; i < count; i++) {
		const char *a = settings_get(was, table[i].key), *b = settings_get(now, table[i].key);
		if (strcmp(a, b) == 0 || !in_sections(table[i].key, sections))
			continue;
		fn(&table[i], a, b, arg);
		n++;
	}
	return n;
}

struct change_log {
	const struct role_ctx *ctx;
	const struct role_def *role;
};

static void log_change(const struct setting_def *def, const char *was, const char *now,
                       void *arg)
{
	const struct change_log *cl = arg;
	const char *bound = cl->ctx->listen_bound;
	if (cl->role->listen_key != NULL && strcmp(def->key, cl->role->listen_key) == 0 &&
	    bound != NULL && strcmp(bound, now) != 0)
		sg_warn("reload: %s = '%.200s' needs a restart; still listening on '%.200s'", def->key,
		        now, bound);
	else
		sg_info("reload: %s = '%.200s' (was '%.200s'): in effect", def->key, now, was);
}

void daemon_log_changes(const struct role_ctx *ctx, const struct role_def *role)
{
	struct change_log cl = {.ctx = ctx, .role = role};
	if (daemon_settings_diff(ctx->previous, ctx->settings, role->sections, log_change, &cl) == 0)
		sg_info("reload: none of this role's settings changed (%s)", role->sections);
}
