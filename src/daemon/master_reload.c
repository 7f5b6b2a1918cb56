/* master_reload.c: SIGHUP. The master re-reads and re-validates the configuration, binds the
 * listen addresses that changed and replaces every child. A listening role's new child starts
 * beside the old one, which keeps accepting on the same sockets until the new one says it is
 * ready; only then is the old one retired (SIGUSR1: it stops accepting and lets its sessions
 * end), so no connection is refused and no session cut. A role that must not run twice (qmgr,
 * tick) is stopped first. One summary line says when every role serves the new
 * configuration, or which did not and what serves instead. */
#include "daemon/master_priv.h"
#include "core/settings.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_time.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define RELOAD_READY_TIMEOUT_MS 60000
#define SUMMARY_MAX 1536

static struct child *find_live(struct master *m, pid_t pid)
{
	for (size_t i = 0; i < m->nchildren; i++)
		if (pid > 0 && m->children[i].pid == pid)
			return &m->children[i];
	return NULL;
}

static void append(char *buf, size_t size, const char *sep, const char *text)
{
	size_t used = strlen(buf);
	snprintf(buf + used, size - used, "%s%s", used > 0 ? sep : "", text);
}

static void note_change(const struct setting_def *def, const char *was, const char *now,
                        void *arg)
{
	(void)was, (void)now;
	append(arg, SUMMARY_MAX, ", ", def->key);
}

/* A new configuration that cannot be used leaves everything as it runs. */
static struct settings *reload_config(struct master *m, char **text_r)
{
	char *errors = NULL;
	struct settings *s = master_load_config(m->config_path, text_r, &errors);
	if (s == NULL) {
		sg_error("SIGHUP: %s is not valid; keeping the running configuration:", m->config_path);
		sg_log_lines(SG_LOG_ERROR, "SIGHUP: ", errors);
		sg_free(&errors);
		return NULL;
	}
	if (master_check_account(s) < 0 || master_bind_all(m, s, true) < 0) {
		sg_error("SIGHUP: keeping the running configuration");
		settings_free(&s);
		sg_free(text_r);
		return NULL;
	}
	return s;
}

/* A SIGHUP that comes before the previous one has finished: its successors not yet ready
 * are retired, the children they were to replace are replaced again below. */
static void forget_unfinished(struct master *m)
{
	bool unfinished = false;
	for (size_t i = 0; i < m->nchildren; i++) {
		struct child *c = &m->children[i];
		unfinished |= c->reload == RELOAD_WAITING;
		c->reload = RELOAD_NONE;
		if (c->retiring || c->replaces == 0)
			continue;
		c->retiring = true;
		c->replaces = 0;
		if (c->pid > 0)
			kill(c->pid, SIGUSR1);
	}
	if (unfinished)
		sg_warn("SIGHUP: the previous reload had not finished; this one replaces it");
}

static void replace_children(struct master *m)
{
	struct child *olds[MAX_CHILDREN];
	size_t n = 0;
	for (size_t i = 0; i < m->nchildren; i++)
		if (!m->children[i].retiring)
			olds[n++] = &m->children[i];
	for (size_t i = 0; i < n; i++) {
		struct child *old = olds[i];
		const struct role_def *role = old->role;
		pid_t serving = old->pid;
		if (!role->overlap_on_reload || serving == 0) {
			old->retiring = true; /* stopped first: it must not run twice */
			if (serving > 0)
				kill(serving, SIGTERM);
		}
		struct child *c = master_add_child(m, role);
		c->reload = RELOAD_WAITING;
		c->replaces = role->overlap_on_reload ? serving : 0;
	}
}

void master_reload(struct master *m)
{
	char *text = NULL;
	master_notify_reloading();
	struct settings *s = reload_config(m, &text);
	if (s == NULL) {
		master_notify_reloaded("reload refused: the configuration is not valid (see the log)");
		return;
	}
	char changed[SUMMARY_MAX] = "";
	size_t nchanged = daemon_settings_diff(m->settings, s, NULL, note_change, changed);
	settings_free(&m->settings);
	m->settings = s;
	sg_free(&m->previous_text);
	m->previous_text = m->config_text;
	m->config_text = text;
	sg_info("SIGHUP: configuration re-read; %zu setting(s) changed%s%s; replacing children",
	        nchanged, nchanged > 0 ? ": " : "", changed);
	forget_unfinished(m);
	m->reload_deadline_ms = sg_mono_ms() + RELOAD_READY_TIMEOUT_MS;
	replace_children(m);
	master_restart_due(m);
}

void master_child_ready(struct master *m, struct child *c)
{
	c->ready = true;
	if (c->reload == RELOAD_WAITING)
		c->reload = RELOAD_READY;
	struct child *old = find_live(m, c->replaces);
	c->replaces = 0;
	if (old == NULL || old->retiring)
		return;
	old->retiring = true;
	kill(old->pid, SIGUSR1);
	sg_info("%s: pid %ld serves; pid %ld stops accepting and finishes its sessions",
	        c->role->name, (long)c->pid, (long)old->pid);
}

bool master_has_successor(const struct master *m, pid_t pid)
{
	for (size_t i = 0; i < m->nchildren; i++)
		if (pid > 0 && m->children[i].replaces == pid && m->children[i].pid > 0)
			return true;
	return false;
}

bool master_child_failed(struct master *m, struct child *c, pid_t pid, const char *why)
{
	if (c->reload != RELOAD_WAITING)
		return false;
	c->reload = RELOAD_FAILED;
	struct child *old = find_live(m, c->replaces);
	c->replaces = 0;
	if (old == NULL || old->retiring) {
		snprintf(c->reload_note, sizeof(c->reload_note), "%s (pid %ld) %s before it was ready",
		         c->role->name, (long)pid, why);
		sg_error("SIGHUP: %s", c->reload_note);
		return false; /* nothing else serves: restarted like any child */
	}
	snprintf(c->reload_note, sizeof(c->reload_note),
	         "%s (pid %ld) %s before it was ready; pid %ld keeps serving the previous "
	         "configuration", c->role->name, (long)pid, why, (long)old->pid);
	sg_error("SIGHUP: %s", c->reload_note);
	c->retiring = true;
	return true;
}

/* Still waiting for a child of the last SIGHUP? Past the deadline it counts as failed. */
static bool still_waiting(struct master *m)
{
	bool late = sg_mono_ms() > m->reload_deadline_ms;
	for (size_t i = 0; i < m->nchildren; i++) {
		struct child *c = &m->children[i];
		if (c->reload != RELOAD_WAITING)
			continue;
		if (!late)
			return true;
		c->reload = RELOAD_FAILED;
		snprintf(c->reload_note, sizeof(c->reload_note), "%s (pid %ld) not ready after %d s",
		         c->role->name, (long)c->pid, RELOAD_READY_TIMEOUT_MS / 1000);
	}
	return false;
}

void master_reload_progress(struct master *m)
{
	if (still_waiting(m))
		return;
	char ready[SUMMARY_MAX] = "", failed[SUMMARY_MAX] = "";
	for (size_t i = 0; i < m->nchildren; i++) {
		struct child *c = &m->children[i];
		if (c->reload == RELOAD_READY)
			append(ready, sizeof(ready), ", ", c->role->name);
		else if (c->reload == RELOAD_FAILED)
			append(failed, sizeof(failed), "; ", c->reload_note);
		c->reload = RELOAD_NONE;
	}
	if (ready[0] == '\0' && failed[0] == '\0')
		return;
	char restart[sizeof(m->restart_needed) + 64] = "";
	if (m->restart_needed[0] != '\0')
		snprintf(restart, sizeof(restart), "; needs a restart: %s", m->restart_needed);
	if (failed[0] == '\0')
		sg_info("SIGHUP: reload done: %s serve the new configuration%s", ready, restart);
	else
		sg_error("SIGHUP: reload incomplete: %s; %s serve the new configuration%s", failed,
		         ready[0] != '\0' ? ready : "no role", restart);
	master_notify_reloaded(failed[0] == '\0' ? "reload done" : "reload incomplete (see the log)");
}
