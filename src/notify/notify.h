/* notify.h: the mails sealgate writes to people, not to machines: invitations to the portal,
 * one-time passwords, notices about held mail and password resets. The texts are compiled in
 * (the partner's mails about their portal password also in German, for a portal used in German);
 * the organisation's name, the sender address and the portal URL come from the settings. */
#ifndef SG_NOTIFY_H
#define SG_NOTIFY_H

#include <stddef.h>
#include <time.h>

struct settings;
struct sg_buf;

enum notify_kind {
	NOTIFY_INVITATION,     /* to the partner: register on the portal to read a held message */
	NOTIFY_OTP_PARTNER,    /* to the partner: the one-time password, in a mail of its own */
	NOTIFY_OTP_SENDER,     /* to the internal sender: held; pass this OTP on by phone */
	NOTIFY_HELD,           /* to the internal sender: held until the partner registers */
	NOTIFY_HELD_EXPIRED,   /* to the internal sender: the partner never registered; deleted */
	NOTIFY_PASSWORD_RESET, /* to the partner: the portal password was reset */
	NOTIFY_PASSWORD_CHANGED, /* to the partner: the password was changed on the account page */
	NOTIFY_RESET_CODE,     /* to the partner: the one-time code a password reset needs */
	NOTIFY_WEBMAIL,        /* to the partner: a message waits on the portal (no content) */
	NOTIFY_WEBMAIL_QUOTA,  /* to the partner: older read messages were deleted for room */
	NOTIFY_WEBMAIL_FULL,   /* to the partner: a message could not be kept (storage full) */
	NOTIFY_KIND_COUNT
};

struct notify_vars {
	const char *partner; /* the external address */
	const char *sender;  /* the internal sender's address */
	const char *otp;     /* the one-time password, or NULL */
	const char *subject; /* the held message's subject (UTF-8), or NULL */
	const char *client;  /* the client address of a portal action, or NULL */
	time_t until;        /* when the invitation expires */
	time_t when;         /* when it happened (resets, holds) */
	const char *lang;    /* "de": the German text where the kind has one; else English */
	const char *link;    /* a path below portal.base_url ("/webmail/<uid>"), or NULL */
	size_t count;        /* how many (messages deleted for room) */
};

/* Builds the mail of kind into out (a complete message, CRLF, 7-bit) and says to whom it goes
 * (*rcpt_r points into v). -1 with *error_r when v lacks what the kind needs. */
int notify_build(const struct settings *s, enum notify_kind kind, const struct notify_vars *v,
                 struct sg_buf *out, const char **rcpt_r, const char **error_r);
/* The address notices come from: gateway.notify_from, or postmaster@gateway.hostname. */
void notify_from(const struct settings *s, char *dst, size_t size);

#endif
