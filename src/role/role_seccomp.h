/* role_seccomp.h: a system-call filter per role (seccomp, through libseccomp). A role applies
 * its filter once its start-up is over (daemon_ready: sockets, files, store and libraries are
 * open); from then on every system call outside the role's allow-list kills the whole process
 * (SIGSYS), which the master logs and answers with a restart. The PDF worker gets the tightest
 * filter: no socket, no connect, no exec, no open for writing. */
#ifndef SG_ROLE_SECCOMP_H
#define SG_ROLE_SECCOMP_H

enum role_seccomp_mode {
	ROLE_SECCOMP_OFF, /* no filter: for debugging only */
	ROLE_SECCOMP_ON,  /* a call outside the list kills the process */
	ROLE_SECCOMP_LOG, /* a call outside the list is allowed and logged by the kernel (audit) */
};

/* gateway.seccomp's value ("on", "off", "log") as a mode; -1 for anything else. */
int role_seccomp_mode_parse(const char *value, enum role_seccomp_mode *mode_r);
/* Confines every thread of this process to the calls of role ("smtpd", "qmgr", "ldapd",
 * "portal", "tick", "metrics", "pdf-worker"); filters stack, so a process can only narrow its
 * set. OFF does nothing. 0, or -1 with *error_r (unknown role, no seccomp in the kernel). */
int role_seccomp_apply(const char *role, enum role_seccomp_mode mode, const char **error_r);
/* The mode of the last filter this process applied (OFF if none): the PDF worker that qmgr
 * starts takes it over. */
enum role_seccomp_mode role_seccomp_active(void);

#endif
