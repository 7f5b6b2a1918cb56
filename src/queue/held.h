/* held.h: mail that must be encrypted to a partner who has not registered yet. It waits sealed
 * in the store while the partner is invited with a one-time password; the registration
 * releases it into the queue, where it takes the partner's new channel; an invitation that
 * expires unused deletes it and tells the sender. Nothing here keeps mail in clear. */
#ifndef SG_HELD_H
#define SG_HELD_H

#include "notify/notify.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct settings;
struct store;
struct keystore;
struct spool;

#define HELD_OTP_LEN 20   /* characters of a one-time password (base32, ~100 bits) */
#define HELD_OTP_SIZE 32  /* a buffer for one, with its dashes and NUL */
#define HELD_HASH_HEX 65  /* a hex SHA-256-sized digest with its NUL */

/* ---- held_invite.c: invitations and their one-time passwords ---- */
/* A fresh random OTP (HELD_OTP_LEN characters in groups of 4 joined by '-'). */
void held_invite_otp_new(char *otp, size_t size);
/* A keyless hash (hex) of an OTP after removing '-' and spaces and upper-casing: what the
 * store keeps. */
void held_invite_otp_hash(const char *otp, char out[HELD_HASH_HEX]);
/* Creates or refreshes the pending account of address with a new OTP (otp_r, HELD_OTP_SIZE)
 * valid valid_days from now; inviter ("" for the CLI) is remembered. */
int held_invite_create(struct store *st, const char *address, const char *inviter,
                       int valid_days, time_t now, char *otp_r, int64_t *user_id_r,
                       time_t *until_r, const char **error_r);

/* ---- held_mail.c: holding, releasing and expiring ---- */
struct held_ctx {
	const struct settings *settings;
	struct store *store;
	struct keystore *keystore;
	struct spool *spool;
	const char *actor; /* who acts, for the audit log: "qmgr", "tick", "cli:ACCOUNT", ... */
};
/* Builds the notice of kind (notify.h) and queues it (durable when this returns 0). */
int held_notice(const struct held_ctx *hc, enum notify_kind kind, const struct notify_vars *v,
                const char **error_r);
/* Holds data (a queued message from sender to the unregistered partner rcpt): invites the
 * partner if no invitation is pending, seals and stores the message, and queues the notices
 * (invitation, OTP to the sender or the partner by policy.otp_delivery, or "held" to the
 * sender). All or nothing: on -1 nothing is kept and the caller retries later. */
int held_mail_hold(const struct held_ctx *hc, const char *sender, const char *rcpt,
                   const char *subject, const char *data, size_t len, time_t now,
                   const char **error_r);
/* Puts every message held for address back into the queue (it must now be encrypted by the
 * partner's channel) and forgets it; *count_r says how many. */
int held_mail_release(const struct held_ctx *hc, const char *address, size_t *count_r,
                      const char **error_r);
/* The same for every partner who has registered (a release that failed at registration). */
int held_mail_release_registered(const struct held_ctx *hc, size_t *count_r,
                                 const char **error_r);
/* Deletes mail whose invitation expired unused, tells each sender, drops those invitations. */
int held_mail_expire(const struct held_ctx *hc, time_t now, size_t *count_r,
                     const char **error_r);

#endif
