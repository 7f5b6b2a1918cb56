/* settings.c: the declaration of every configuration key (the only place one is
 * declared). Keep each doc to one line: it becomes a row of docs/configuration.md. */
#include "core/settings.h"

#include <string.h>

#define KB 1024LL
#define MB (1024LL * 1024)
#define GB (1024LL * 1024 * 1024)
#define MIN 60LL
#define HOUR 3600LL
#define DAY 86400LL

/* clang-format off */
static const struct setting_def table[] = {
	{"gateway.hostname", SETTING_STRING, "localhost", 0, 0, NULL, true,
	 "Host name used in the SMTP greeting, Received headers, DSNs and the server certificate."},
	{"gateway.internal_domains", SETTING_DOMAINS, "", 0, 0, NULL, true,
	 "The organisation's mail domains; mail to them is inbound or internal."},
	{"gateway.organization", SETTING_STRING, "Secure Mail", 0, 0, NULL, false,
	 "Organisation name shown in mails sealgate writes and on the portal."},
	{"gateway.notify_from", SETTING_STRING, "", 0, 0, NULL, false,
	 "Sender address of the notices sealgate writes (invitations, one-time passwords); empty: postmaster@gateway.hostname."},
	{"gateway.user", SETTING_STRING, "", 0, 0, NULL, false,
	 "Unprivileged account the gateway's processes run as when started as root (the master alone stays root, to bind ports); it must own the instance's files (`sealgate init --user`). Empty: the account that starts sealgate."},
	{"gateway.tick_interval", SETTING_DURATION, "1m", 1, 1 * HOUR, NULL, false,
	 "How often the tick role looks for clock-driven work (expired invitations)."},
	{"gateway.spool_dir", SETTING_PATH, "spool", 0, 0, NULL, false,
	 "Spool directory (incoming, active, data); must be on one file system."},
	{"gateway.master_key", SETTING_PATH, "master.key", 0, 0, NULL, false,
	 "Master key file (0600) that seals private keys and stored messages at rest."},
	{"gateway.ca_dir", SETTING_PATH, "ca", 0, 0, NULL, false,
	 "Directory of the instance CA (certificate and key)."},
	{"ca.user_key_type", SETTING_ENUM, "rsa3072", 0, 0, "rsa3072|p256|p384", false,
	 "Key type of user and proxy certificates the CA issues (EC keys: OpenSSL peers only)."},
	{"ca.user_cert_days", SETTING_INT, "730", 1, 3650, NULL, false,
	 "Lifetime in days of user and proxy certificates the CA issues."},
	{"ca.trust_anchors", SETTING_PATH, "ca/anchors.pem", 0, 0, NULL, false,
	 "PEM file of further trust anchors (partners' CAs) for verifying signatures; `sealgate ca trust FILE` adds to it. No file: the system store and the instance CA only."},
	{"ca.crl_url", SETTING_URL, "", 0, 0, NULL, false,
	 "URL of the CA's CRL (e.g. the portal's https://HOST/ca.crl, or http:// on a web server of yours) written into every certificate issued from now on, so that clients can check revocation. Empty: none (set it only where clients can fetch it)."},
	{"ca.crl_days", SETTING_INT, "30", 1, 365, NULL, false,
	 "Days until the nextUpdate of the CRL written by `sealgate ca crl`."},
	{"log.level", SETTING_ENUM, "info", 0, 0, "info|debug", false,
	 "Log verbosity on stderr."},

	{"smtp.listen", SETTING_ENDPOINTS, "127.0.0.1:10025", 0, 0, NULL, true,
	 "Addresses the SMTP server listens on (HOST:PORT, [V6]:PORT), comma separated."},
	{"smtp.internal_networks", SETTING_NETWORKS, "127.0.0.0/8, ::1/128", 0, 0, NULL, false,
	 "Client networks (CIDR) that may relay to any domain; others may send only to internal domains."},
	{"smtp.max_message_size", SETTING_SIZE, "52428800", 1 * KB, 1 * GB, NULL, false,
	 "Largest message accepted, in bytes (K, M, G suffixes allowed); checked at MAIL SIZE= and during DATA."},
	{"smtp.max_recipients", SETTING_INT, "100", 1, 10000, NULL, false,
	 "Recipients accepted per message; more get 452 4.5.3."},
	{"smtp.max_sessions", SETTING_INT, "100", 1, 10000, NULL, false,
	 "Concurrent SMTP sessions; more get 421 4.3.2 at connect."},
	{"smtp.max_errors", SETTING_INT, "10", 1, 1000, NULL, false,
	 "Protocol errors per session before the server answers 421 and closes."},
	{"smtp.max_sessions_per_client", SETTING_INT, "10", 1, 10000, NULL, false,
	 "Concurrent SMTP sessions from one client address; more get 421 4.7.0 at connect, so one client cannot take every session."},
	{"smtp.command_timeout", SETTING_DURATION, "5m", 1, 1 * HOUR, NULL, false,
	 "Total time a client has for one command line, counted from the previous reply and not restarted by each byte it sends (RFC 5321 section 4.5.3.2: at least 5 minutes)."},
	{"smtp.data_timeout", SETTING_DURATION, "3m", 1, 1 * HOUR, NULL, false,
	 "Total time for the message data after 354, extended by one second per smtp.min_data_rate bytes received; not restarted by each byte."},
	{"smtp.min_data_rate", SETTING_SIZE, "500", 1, 1 * GB, NULL, false,
	 "Bytes per second of message data that earn one more second beyond smtp.data_timeout (a client dribbling slower runs out of time)."},
	{"smtp.verify_recipients", SETTING_ENUM, "auto", 0, 0, "auto|callahead|directory|off", false,
	 "Check recipients of the internal domains at RCPT for clients outside smtp.internal_networks, answering 550 5.1.1 in the session: callahead asks route.internal's SMTP server (RCPT probe, cached), directory the gateway's users (internal and shared users of the store), off accepts any local part. auto: callahead when route.internal is smtp:, off for maildir:."},
	{"smtp.verify_positive_ttl", SETTING_DURATION, "1h", 1, 7 * DAY, NULL, false,
	 "How long a recipient the internal server accepted is remembered by the callahead cache."},
	{"smtp.verify_negative_ttl", SETTING_DURATION, "10m", 1, 7 * DAY, NULL, false,
	 "How long a recipient the internal server refused is remembered by the callahead cache (a new mailbox is refused at most this long)."},
	{"smtp.verify_timeout", SETTING_DURATION, "10s", 1, 10 * MIN, NULL, false,
	 "Time for one callahead probe (connect and each reply); a probe that fails or times out answers the client 450 4.4.3 (try later), never 250."},
	{"smtp.drain_timeout", SETTING_DURATION, "30s", 0, 1 * HOUR, NULL, false,
	 "On SIGTERM, how long sessions in flight may take to finish."},
	{"smtp.tls_cert", SETTING_PATH, "tls/server.crt", 0, 0, NULL, false,
	 "PEM server certificate (with chain) for STARTTLS."},
	{"smtp.tls_key", SETTING_PATH, "tls/server.key", 0, 0, NULL, false,
	 "PEM private key for STARTTLS."},

	{"route.internal", SETTING_ROUTE, "smtp:127.0.0.1:25", 0, 0, NULL, true,
	 "Next hop for internal recipients: smtp:HOST:PORT or maildir:PATH."},
	{"route.external", SETTING_ROUTE, "smtp:127.0.0.1:25", 0, 0, NULL, true,
	 "Next hop for external recipients (a smarthost): smtp:HOST:PORT or maildir:PATH."},

	{"queue.concurrency", SETTING_INT, "10", 1, 200, NULL, false,
	 "Deliveries in parallel."},
	{"queue.retry_first", SETTING_DURATION, "5m", 1, 1 * DAY, NULL, false,
	 "Delay before the first retry of a deferred recipient; it doubles on each retry."},
	{"queue.retry_max", SETTING_DURATION, "4h", 1, 7 * DAY, NULL, false,
	 "Longest delay between two retries."},
	{"queue.lifetime", SETTING_DURATION, "5d", 1, 30 * DAY, NULL, false,
	 "How long a message may stay deferred before it is bounced to its sender."},
	{"queue.connect_timeout", SETTING_DURATION, "30s", 1, 10 * MIN, NULL, false,
	 "Time to wait for a next hop's TCP connection."},
	{"queue.smtp_timeout", SETTING_DURATION, "5m", 1, 1 * HOUR, NULL, false,
	 "Time to wait for each reply of a next hop (RFC 5321 section 4.5.3.2)."},
	{"queue.scan_interval", SETTING_DURATION, "1s", 1, 1 * MIN, NULL, false,
	 "How often the queue manager looks for new mail when not woken."},

	{"policy.encrypt_subject_tag", SETTING_STRING, "[secure]", 0, 0, NULL, false,
	 "Subject tag that asks for encryption; removed on the way out."},
	{"policy.opportunistic_encrypt", SETTING_BOOL, "no", 0, 0, NULL, false,
	 "Encrypt to every recipient with a usable certificate or key, tagged or not."},
	{"policy.sign_outbound", SETTING_BOOL, "yes", 0, 0, NULL, false,
	 "Sign outbound encrypted mail with the sender's gateway-held key."},
	{"policy.reencrypt_inbound", SETTING_BOOL, "no", 0, 0, NULL, false,
	 "Re-encrypt decrypted inbound mail to the internal recipient's certificate."},
	{"policy.max_encrypted_size", SETTING_SIZE, "15728640", 1 * KB, 1 * GB, NULL, false,
	 "Largest encrypted message sealgate will produce; larger ones are refused with a DSN."},
	{"policy.default_external_channel", SETTING_ENUM, "pdf", 0, 0, "pdf|webmail", false,
	 "Channel for partners without certificate or key."},
	{"policy.smime_gcm", SETTING_ENUM, "capable", 0, 0, "capable|never|always", false,
	 "AES-256-GCM (AuthEnvelopedData) for S/MIME: for partners whose signed mail listed it, never, or always."},
	{"policy.hide_subject", SETTING_BOOL, "no", 0, 0, NULL, false,
	 "Replace the subject of encrypted mail with a neutral one."},
	{"policy.min_password_length", SETTING_INT, "12", 8, 127, NULL, false,
	 "Shortest partner password accepted."},
	{"policy.invite_partners", SETTING_BOOL, "yes", 0, 0, NULL, false,
	 "Hold mail that must be encrypted to an unregistered partner and invite the partner to the portal; no: refuse it with a DSN."},
	{"policy.otp_delivery", SETTING_ENUM, "sender", 0, 0, "sender|recipient", false,
	 "Who receives a new partner's one-time password."},
	{"policy.otp_valid_days", SETTING_INT, "30", 1, 365, NULL, false,
	 "Days an invitation's one-time password stays valid."},
	{"policy.max_portal_attachments", SETTING_INT, "9", 0, 28, NULL, false,
	 "Attachments allowed per message written on the portal (at most 28: a form carries 32 fields)."},
	{"policy.autocrypt_outbound", SETTING_BOOL, "no", 0, 0, NULL, false,
	 "Add an Autocrypt header for internal senders with a gateway-held key."},

	{"portal.listen", SETTING_ENDPOINTS, "127.0.0.1:8443", 0, 0, NULL, false,
	 "Addresses the web portal listens on."},
	{"portal.base_url", SETTING_URL, "https://localhost:8443", 0, 0, NULL, true,
	 "Public URL of the portal, used in links in mails and PDFs."},
	{"portal.connections_per_client", SETTING_INT, "32", 0, 256, NULL, false,
	 "Concurrent portal connections from one client address (0: no limit, e.g. behind a reverse proxy, where every connection comes from the proxy)."},
	{"portal.header_timeout", SETTING_DURATION, "20s", 1, 10 * MIN, NULL, false,
	 "Time a client has for a request's line and headers in total, however slowly it sends them (a slow client is cut off then; the idle timeout alone would let one header line every few seconds hold a connection for ever)."},
	{"portal.request_timeout", SETTING_DURATION, "10m", 1, 1 * HOUR, NULL, false,
	 "Time a client has for a whole request, headers and body (a message with attachments) together; then the connection is cut."},
	{"portal.max_upload_memory", SETTING_SIZE, "268435456", 16 * MB, 16 * GB, NULL, false,
	 "Memory the portal may hold for request bodies at once: bodies kept in memory count as they arrive, messages with attachments (received into unlinked temporary files) count six times their size while they are turned into mail (so the default lets two messages of 15 MB, or five of 8 MB, be handled at once). A request that would go over gets a 503 page asking to try again in a few minutes."},
	{"portal.reset_codes_per_day", SETTING_INT, "5", 1, 100, NULL, false,
	 "Password-reset codes mailed to one account in 24 hours; further requests mail nothing (the audit log says reset-code-refused), so nobody can flood a partner with codes."},
	{"portal.max_resets_per_day", SETTING_INT, "3", 1, 100, NULL, false,
	 "Completed password resets of one account in 24 hours; after that no code is mailed and the reset is refused with a page saying so."},
	{"portal.max_messages_per_hour", SETTING_INT, "30", 0, 10000, NULL, false,
	 "Messages one partner may send from the portal in an hour (new ones and replies); more are refused with a message to wait. 0: no limit."},
	{"portal.reply_link_days", SETTING_INT, "90", 1, 3650, NULL, false,
	 "Days a SecurePDF's Reply link works; then the tick role forgets what it pointed to (sender, recipient, Message-ID)."},
	{"portal.threads", SETTING_INT, "4", 1, 64, NULL, false,
	 "Threads serving portal requests at once. A login holds one for its Argon2id hash (64 MiB, tens of milliseconds), so with one thread every login would hold up every other request."},
	{"portal.tls", SETTING_ENUM, "on", 0, 0, "on|off", false,
	 "HTTPS on the portal; off only behind a TLS-terminating reverse proxy."},

	{"ldap.listen", SETTING_ENDPOINTS, "127.0.0.1:3389", 0, 0, NULL, false,
	 "Addresses the certificate directory (LDAP) listens on."},
	{"ldap.base_dn", SETTING_STRING, "dc=example", 0, 0, NULL, false,
	 "Search base of the certificate directory."},
	{"ldap.allow_anonymous", SETTING_BOOL, "yes", 0, 0, NULL, false,
	 "Allow anonymous binds to the certificate directory."},
	{"ldap.anonymous_search", SETTING_ENUM, "lookup", 0, 0, "lookup|full", false,
	 "What anonymous clients may search: lookup answers only equality filters on mail (e.g. (mail=x), (|(mail=x)(proxyAddresses=smtp:x)), as Outlook and Thunderbird send to fetch a certificate), and reads of a named entry; full allows any filter (browsing, substrings, listing every address)."},
	{"ldap.bind_dn", SETTING_STRING, "", 0, 0, NULL, false,
	 "DN for simple binds when anonymous binds are off."},
	{"ldap.bind_password_file", SETTING_PATH, "", 0, 0, NULL, false,
	 "File holding the password for ldap.bind_dn (first line); empty: no simple binds."},
	{"ldap.max_connections", SETTING_INT, "64", 1, 10000, NULL, false,
	 "Concurrent LDAP connections; more are told busy (51) and closed."},
	{"ldap.idle_timeout", SETTING_DURATION, "2m", 1, 1 * HOUR, NULL, false,
	 "An LDAP connection without a complete request for this long is closed."},
	{"ldap.max_results", SETTING_INT, "500", 1, 100000, NULL, false,
	 "Entries one search returns at most (sizeLimitExceeded beyond)."},
	{"ldap.time_limit", SETTING_DURATION, "30s", 1, 1 * HOUR, NULL, false,
	 "Time one search may take at most (timeLimitExceeded beyond)."},

	{"store.database", SETTING_STRING, "sqlite:sealgate.db", 0, 0, NULL, false,
	 "Store: sqlite:PATH (relative to the configuration directory)."},
};
/* clang-format on */

const struct setting_def *settings_table(size_t *count_r)
{
	*count_r = sizeof(table) / sizeof(table[0]);
	return table;
}

const struct setting_def *settings_find(const char *key)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].key, key) == 0)
			return &table[i];
	return NULL;
}
