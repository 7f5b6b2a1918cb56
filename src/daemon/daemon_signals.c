/* daemon_signals.c: the flags every process of the daemon polls; handlers only set them. */
#include "daemon/daemon.h"

#include <string.h>

atomic_int daemon_stop_requested;
atomic_int daemon_reload_requested;
atomic_int daemon_retire_requested;

static void on_stop(int sig)
{
	(void)sig;
	daemon_stop_requested = 1;
}

static void on_reload(int sig)
{
	(void)sig;
	daemon_reload_requested = 1;
}

static void on_retire(int sig)
{
	(void)sig;
	daemon_retire_requested = 1;
}

static void install(int sig, void (*fn)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: blocking calls return EINTR so loops see the flag */
	sigaction(sig, &sa, NULL);
}

void daemon_signals_init(void)
{
	install(SIGTERM, on_stop);
	install(SIGINT, on_stop);
	install(SIGHUP, on_reload);
	install(SIGUSR1, on_retire);
	install(SIGPIPE, SIG_IGN);
}

bool daemon_leaving(void)
{
	return daemon_stop_requested || daemon_retire_requested;
}
