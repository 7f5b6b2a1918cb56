/* accounts.h: which account each process of an instance runs as, and the ownership model of
 * the instance's files that goes with it (docs/architecture.md, "Accounts").
 *
 * gateway.user (U) owns the instance. smtpd may run as gateway.smtp_user (S) and ldapd as
 * gateway.ldap_user (L). The spool is the one thing S shares: it belongs to U with S's primary
 * group (directories setgid, group-writable), and the roles running as U get that group as
 * their one supplementary group. The instance directory lets S's group through (0710) to the
 * spool; every other entry gives nothing to "others", which S and L are. The master key, the
 * store and the CA stay U's alone (the key process, when it lands, takes the master key and
 * the CA key to an account of its own: a row of the same table). */
#ifndef SG_ACCOUNTS_H
#define SG_ACCOUNTS_H

#include "core/sandbox.h"

#include <stdbool.h>

struct settings;

/* The account named by account_key (gateway.smtp_user, gateway.ldap_user; NULL or an empty
 * value: gateway.user); "" when that too is empty (the account that starts sealgate). */
const char *accounts_name(const struct settings *s, const char *account_key);

/* True when smtpd runs as an account other than gateway.user: the spool is then shared
 * through the smtp account's group. */
bool accounts_spool_shared(const struct settings *s);

/* The account a role with account_key becomes (*found_r false: none is set, it stays who it
 * is). A role of gateway.user gets the spool group as its supplementary group when the
 * spool is shared. 0, or -1 with *error_r naming the setting. */
int accounts_for_role(const struct settings *s, const char *account_key,
                      struct sandbox_account *a_r, bool *found_r, const char **error_r);

/* Checks the instance's files against the ownership model; calls report(arg, message) for
 * each wrong owner, group or mode, with the command that fixes it. Returns how many were
 * reported, or -1 (*error_r) when the accounts or paths cannot be resolved. */
typedef void (*accounts_report_fn)(void *arg, const char *message);
int accounts_check_layout(const struct settings *s, accounts_report_fn report, void *arg,
                          const char **error_r);

/* Gives the instance's files the owners, groups and modes of the model (init --user). */
int accounts_apply_layout(const struct settings *s, const char **error_r);

#endif
