/* smtpd_private.h: the session state shared by the session machine's files (framing and
 * replies in smtpd_session.c, commands in smtpd_cmds.c, message data in smtpd_msg.c).
 * Private to src/smtp: other modules use smtp.h. */
#ifndef SG_SMTPD_PRIVATE_H
#define SG_SMTPD_PRIVATE_H

#include "core/sg_buf.h"
#include "smtp/smtp.h"

#define SMTPD_PEER_BUF   (SG_LOG_PEER_TEXT_MAX + 4) /* sg_printable output for logs */
#define SMTPD_ADDR_TEXT  64                         /* text form of an IP address */

enum smtpd_phase { SMTPD_PHASE_CMD, SMTPD_PHASE_DATA, SMTPD_PHASE_CLOSED };

struct smtpd_session {
	const struct smtpd_config *cfg;
	struct smtpd_hooks hooks;
	char client_addr[SMTPD_ADDR_TEXT];
	bool internal_client;
	enum smtpd_phase phase;
	bool want_tls;
	bool tls;
	char tls_version[32];

	/* command framing */
	char line[SG_SMTP_CMD_LINE_MAX + 1];
	size_t line_len;
	bool skipping;             /* in an over-long command line */

	/* after HELO/EHLO */
	bool helo_done;
	bool esmtp;
	char helo[SG_SMTP_HELO_MAX + 1];

	/* the mail transaction */
	bool mail_given;
	char *sender;
	bool smtputf8;
	bool body_8bit;
	struct smtpd_rcpt *rcpts;
	size_t nrcpt;
	size_t rcpt_cap;

	/* the message being received */
	bool msg_open;
	char queue_id[SG_QUEUE_ID_MAX];
	struct smtpd_data data;
	struct sg_buf batch;       /* data collected for the next hooks.write */
	const char *sink_error;
	size_t written;

	unsigned long progress;    /* see smtpd_session_progress */
	size_t data_bytes;         /* bytes taken in the current DATA */

	struct sg_buf out;
	unsigned int errors;
	unsigned int counts[SMTPD_V_COUNT];
	enum smtpd_verb last_verb;
};

/* Appends one reply line (CRLF added); 4xx and 5xx count as errors. */
void smtpd_session_reply(struct smtpd_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Forgets the sender and the recipients (RSET, HELO, end of a message). */
void smtpd_session_reset_transaction(struct smtpd_session *s);
/* "SMTP", "ESMTP", "ESMTPS", "UTF8SMTP", "UTF8SMTPS" (RFC 3848, RFC 6531). */
const char *smtpd_session_proto(const struct smtpd_session *s);

/* Runs one command line (CRLF removed, NUL-terminated). */
void smtpd_cmds_dispatch(struct smtpd_session *s, char *line);

/* DATA was accepted in sequence: open the sink, answer 354 (or 451). */
void smtpd_msg_begin(struct smtpd_session *s);
/* Message bytes; returns how many were used; ends the message at CRLF.CRLF. */
size_t smtpd_msg_input(struct smtpd_session *s, const char *p, size_t len);
/* Drops a message in progress (timeout, shutdown, disconnect). */
void smtpd_msg_abort(struct smtpd_session *s);

#endif
