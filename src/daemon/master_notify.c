/* master_notify.c: the master's side of systemd's Type=notify (sd_notify(3)): READY=1 once
 * every child serves, RELOADING=1 when a SIGHUP starts and READY=1 again when its children
 * serve (or the reload failed), STOPPING=1 when the drain begins. Outside systemd
 * (NOTIFY_SOCKET unset) each call does nothing. */
#include "daemon/master_priv.h"
#include "core/sg_log.h"
#include "core/sg_time.h"

#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

static void notify(const char *state)
{
	int rc = sd_notify(0, state);
	if (rc < 0)
		sg_warn("systemd notification failed: %s", state);
}

void master_notify_started(struct master *m)
{
	if (m->notified_ready)
		return;
	size_t serving = 0;
	for (size_t i = 0; i < m->nchildren; i++) {
		const struct child *c = &m->children[i];
		if (c->pid > 0 && !c->retiring && !c->ready)
			return;
		serving += c->pid > 0 && !c->retiring;
	}
	m->notified_ready = true;
	char state[128];
	snprintf(state, sizeof(state), "READY=1\nSTATUS=%zu processes serve", serving);
	notify(state);
}

void master_notify_reloading(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	char state[128];
	snprintf(state, sizeof(state), "RELOADING=1\nSTATUS=reloading the configuration\n"
	                               "MONOTONIC_USEC=%llu",
	         (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	notify(state);
}

void master_notify_reloaded(const char *status)
{
	char state[300];
	snprintf(state, sizeof(state), "READY=1\nSTATUS=%.250s", status);
	notify(state);
}

void master_notify_stopping(void)
{
	notify("STOPPING=1\nSTATUS=draining");
}
