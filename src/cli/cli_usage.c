/* cli_usage.c: the one table of every command line sealgate takes and every option, with what
 * each does. The usage messages, `sealgate help`, the man page sealgate(8) and the README's
 * command table are all written from it, so none of them can drift from another; a test
 * (tests/integration/test_docs.py) checks that every command of main.c and every option the
 * parsers compare against is in it. */
#include "cli/cli.h"
#include "core/sg_str.h"

#include <stdio.h>
#include <string.h>

struct usage_line {
	const char *command;  /* the group: "cert" */
	const char *synopsis; /* after "sealgate ": "cert issue -c FILE EMAIL" */
	const char *what;     /* one sentence */
};

struct usage_option {
	const char *command;
	const char *option; /* "--pfx FILE" */
	const char *what;
};

/* clang-format off */
static const struct usage_line lines[] = {
	{"init", "init DIR --domain D [--domain D2 ...] [--org NAME] [--hostname H] "
	         "[--ca-key rsa3072|p256|p384] [--user ACCOUNT [--smtp-user A] [--ldap-user A] "
	         "[--one-account]] [--store URL --master-key FILE]",
	 "creates an instance in DIR: sealgate.conf, the store, the spool, the master key, the CA "
	 "and a STARTTLS certificate"},
	{"run", "run -c FILE",
	 "runs the gateway in the foreground, logging to stderr; SIGTERM drains and exits 0, SIGHUP "
	 "re-reads the configuration"},
	{"config", "config get -c FILE [section.key ...]",
	 "prints one setting, or every setting with its value"},
	{"config", "config set -c FILE section.key value",
	 "validates and writes one setting, keeping every other line (like postconf -e)"},
	{"config", "config docs [--man]",
	 "prints the configuration reference (docs/configuration.md, or sealgate.conf(5) with --man)"},
	{"check-config", "check-config -c FILE",
	 "validates a configuration, naming each bad key, value and allowed range, and (with "
	 "gateway.user) each wrong owner, group or mode of the instance's files with the command "
	 "that fixes it"},
	{"queue", "queue list -c FILE", "lists the queued messages and their recipients (like mailq)"},
	{"queue", "queue show -c FILE ID [--body]",
	 "shows a queued message's envelope and per-recipient state, and its text with --body"},
	{"queue", "queue flush -c FILE", "asks the queue manager to retry every deferred recipient now"},
	{"queue", "queue delete -c FILE ID", "deletes a queued message (never under a delivery)"},
	{"cert", "cert issue -c FILE EMAIL",
	 "issues a certificate and key for an internal user from the instance CA"},
	{"cert", "cert proxy -c FILE EMAIL",
	 "issues a proxy certificate for an external partner, its key held here (published in the "
	 "LDAP directory)"},
	{"cert", "cert revoke -c FILE EMAIL|SERIAL",
	 "revokes the certificates of an address, or one by serial, and rewrites the CRL"},
	{"cert", "cert list -c FILE [EMAIL]", "lists the certificates held, or those of one address"},
	{"cert", "cert export -c FILE EMAIL [--pfx FILE [--legacy]]",
	 "prints a certificate (PEM), or writes it with its key as PKCS#12"},
	{"cert", "cert import -c FILE EMAIL FILE [--password-stdin]",
	 "imports a partner's certificate, or a .p12 with key for an internal user"},
	{"cert", "cert tool encrypt|sign|decrypt|verify -c FILE [--gcm] [--anchor PEM] ...",
	 "S/MIME on standard input and output: a test aid, not for production (docs/smime.md)"},
	{"ca", "ca crl -c FILE", "writes the CA's CRL to gateway.ca_dir/crl.pem and stdout"},
	{"ca", "ca trust -c FILE CERT",
	 "trusts the CA certificate(s) in CERT (PEM, DER or .p7b) for verifying signatures "
	 "(ca.trust_anchors)"},
	{"ca", "ca anchors -c FILE", "lists the trust anchors added with ca trust"},
	{"pgp", "pgp import -c FILE KEYFILE [--secret [--passphrase-stdin]]",
	 "imports partners' OpenPGP public keys (each judged before it is stored), or with --secret "
	 "an internal user's secret key (sealed with the master key)"},
	{"pgp", "pgp list -c FILE [EMAIL]", "lists the OpenPGP keys held"},
	{"pgp", "pgp export -c FILE EMAIL", "prints an address's public key (armored)"},
	{"pgp", "pgp delete -c FILE EMAIL|FINGERPRINT", "deletes the keys of an address, or one key"},
	{"pgp", "pgp generate -c FILE EMAIL [--algo ed25519|rsa3072]",
	 "generates a key pair for an internal user"},
	{"pgp", "pgp accept -c FILE EMAIL",
	 "makes the pending (changed Autocrypt) key of a partner its active key"},
	{"domain", "domain import -c FILE DOMAIN CERT|KEY",
	 "imports a partner gateway's domain certificate or OpenPGP key (it must name the domain or "
	 "a role address such as postmaster@DOMAIN): mail to users of DOMAIN without a key of their "
	 "own is encrypted to it, once per message"},
	{"domain", "domain list -c FILE", "lists the domain certificates and keys, partners' and ours"},
	{"domain", "domain delete -c FILE DOMAIN",
	 "revokes a domain's certificates and deletes its OpenPGP keys"},
	{"domain", "domain set-channel -c FILE DOMAIN smime|pgp",
	 "which of a partner domain's certificate and key is used when it has both"},
	{"domain", "domain own -c FILE DOMAIN",
	 "issues our domain certificate (instance CA) and generates our OpenPGP domain key for an "
	 "internal domain: mail encrypted to them is decrypted for any of its users"},
	{"domain", "domain export -c FILE DOMAIN [--pgp]",
	 "prints a domain's certificate (PEM) or, with --pgp, its OpenPGP key, for partners"},
	{"lookup", "lookup -c FILE ADDRESS [--source ldap|vks|hkp|wkd|dns]",
	 "asks each key-discovery source of policy.key_lookup (every source when it is off) for an "
	 "address, checks each answer as the queue manager would, and shows the cached answer; "
	 "stores nothing"},
	{"lookup", "lookup -c FILE --forget ADDRESS|--all",
	 "forgets cached key-discovery answers, so that the next mail asks the sources again"},
	{"dkim", "dkim generate -c FILE DOMAIN [--selector S] [--type rsa2048|ed25519]",
	 "makes a DKIM key for a sending domain (sealed in the store) and prints its DNS record"},
	{"dkim", "dkim rotate -c FILE DOMAIN [--selector S] [--type rsa2048|ed25519]",
	 "adds a second key: both sign until the old one is deleted"},
	{"dkim", "dkim import -c FILE DOMAIN --selector S KEYFILE", "imports an existing DKIM key"},
	{"dkim", "dkim list -c FILE [DOMAIN]", "lists the DKIM keys"},
	{"dkim", "dkim show -c FILE DOMAIN [SELECTOR]", "prints the DNS records to publish"},
	{"dkim", "dkim delete -c FILE DOMAIN SELECTOR", "deletes a DKIM key"},
	{"tls-policy", "tls-policy set -c FILE DOMAIN may|encrypt|dane|mta-sts",
	 "sets the outbound TLS mode of a recipient domain (overrides deliver.tls)"},
	{"tls-policy", "tls-policy delete -c FILE DOMAIN",
	 "removes a domain's own TLS mode: deliver.tls applies again"},
	{"tls-policy", "tls-policy list -c FILE", "lists the domains with a TLS mode of their own"},
	{"tls-policy", "tls-policy check -c FILE DOMAIN",
	 "shows the domain's TLS mode and what DNS says of its MX hosts, addresses and TLSA "
	 "records, each answer secure, insecure or bogus (through dns.resolver)"},
	{"quarantine", "quarantine list -c FILE", "lists the infected mail the virus scan held"},
	{"quarantine", "quarantine show -c FILE ID", "writes a quarantined message to stdout"},
	{"quarantine", "quarantine release -c FILE ID", "delivers a quarantined message to its recipients, not scanned again"},
	{"quarantine", "quarantine delete -c FILE ID", "deletes a quarantined message"},
	{"user", "user add-external -c FILE EMAIL [--channel C] --password-stdin",
	 "creates an external partner's account with a password read from stdin"},
	{"user", "user invite -c FILE EMAIL",
	 "invites a partner to the portal; prints the one-time password once"},
	{"user", "user passwd -c FILE EMAIL --password-stdin",
	 "sets a partner's password from stdin"},
	{"user", "user set-channel -c FILE EMAIL pdf|webmail|smime|pgp",
	 "sets the channel a partner receives secure mail on"},
	{"user", "user list -c FILE", "lists the accounts"},
	{"user", "user show -c FILE EMAIL", "shows one account"},
	{"user", "user enrol -c FILE EMAIL [--lang en|de]",
	 "enrols an employee: a new certificate, the .pfx mailed, the PIN shown after portal login"},
	{"user", "user enrol -c FILE --all-from-directory [--filter PATTERN]",
	 "enrols every employee of the directory who has no certificate yet"},
	{"user", "user add-shared -c FILE EMAIL --manager USER [--manager USER]",
	 "enables a shared mailbox, managed on the portal by the named directory users"},
	{"directory", "directory test -c FILE USER [--password-stdin]",
	 "checks the directory settings: finds USER, and with a password checks the login"},
	{"directory", "directory sync -c FILE [--dry-run]",
	 "follows the directory now: employees who left lose their certificates and sessions, "
	 "a changed address is enrolled"},
	{"webmail", "webmail list -c FILE [ADDRESS]",
	 "the webmail kept per partner, or the messages of one"},
	{"webmail", "webmail purge -c FILE [ADDRESS]",
	 "applies webmail.retention_days now, or deletes every webmail message of ADDRESS"},
	{"audit", "audit -c FILE [--since T] [--until T] [--event NAME] [--json]",
	 "prints the audit log: who (cli:ACCOUNT, portal:ADDRESS or a role) did what and when, "
	 "the newest last (events: docs/admin-guide.md, \"The audit log\")"},
	{"store", "store migrate -c FILE",
	 "brings the store's schema to this version now (each role also does at start, under the "
	 "same lock: nodes starting at once migrate once)"},
	{"store", "store copy -c FILE --to URL",
	 "copies the instance's SQLite store into another store (postgresql://...), keeping rows "
	 "already there, checks each table's row count and checksum on both sides and puts the CA "
	 "there for further nodes (docs/cluster.md)"},
	{"version", "version", "prints the version"},
	{"help", "help [--man|--markdown]",
	 "lists the commands; --man writes this page, --markdown the README's command table"},
};

static const struct usage_option options[] = {
	{"*", "-c FILE, --config FILE", "the instance's configuration file (every command but init)"},
	{"init", "--domain D", "an internal mail domain (required; repeat for more)"},
	{"init", "--org NAME", "the organisation's name (gateway.organization)"},
	{"init", "--hostname H", "the gateway's host name (gateway.hostname)"},
	{"init", "--ca-key rsa3072|p256|p384", "the key type of the instance CA"},
	{"init", "--user ACCOUNT",
	 "the unprivileged account the gateway runs as when started as root; it gets the files "
	 "(created if missing; as root, smtpd and ldapd get accounts of their own too)"},
	{"init", "--smtp-user ACCOUNT", "with --user: smtpd's own account (default sealgate-smtp)"},
	{"init", "--ldap-user ACCOUNT", "with --user: ldapd's own account (default sealgate-ldap)"},
	{"init", "--one-account", "with --user: smtpd and ldapd run as that account too"},
	{"store", "--to URL", "copy: the store to copy into (postgresql://...; the password from "
	 "store.password_file or ~/.pgpass)"},
	{"init", "--store URL", "a node of the shared store URL (postgresql://...): its CA is fetched "
	 "from the store (made and put there for the first node), store.database is URL"},
	{"init", "--master-key FILE", "the master key file of the shared store's other nodes (the "
	 "sealed keys and the CA key open with it only)"},
	{"config", "--man", "docs writes the man page sealgate.conf(5) instead of Markdown"},
	{"lookup", "--source ldap|vks|hkp|wkd|dns", "asks only that source"},
	{"lookup", "--forget", "forgets the cached answer of ADDRESS (or every one with --all)"},
	{"lookup", "--all", "with --forget: every cached answer"},
	{"queue", "--body", "show also prints the message text (made safe for a terminal)"},
	{"cert", "--pfx FILE", "export writes certificate and key as PKCS#12 to FILE; its PIN is printed once"},
	{"cert", "--legacy", "with --pfx: PBE-SHA1-3DES protection for older Windows and gpgsm"},
	{"cert", "--password-stdin", "import reads the .p12's password from standard input"},
	{"cert", "--gcm", "tool encrypt: AES-256-GCM AuthEnvelopedData instead of AES-256-CBC"},
	{"cert", "--anchor PEM", "tool verify: a further trust anchor"},
	{"pgp", "--algo ed25519|rsa3072", "generate: the key algorithm (default ed25519)"},
	{"domain", "--pgp", "export: the OpenPGP domain key instead of the certificate"},
	{"dkim", "--selector S", "the DNS selector (default sgYYYYMMDD)"},
	{"dkim", "--type rsa2048|ed25519", "the key type (default rsa2048)"},
	{"user", "--channel C", "add-external: pdf, webmail, smime or pgp"},
	{"user", "--password-stdin", "the password is read from standard input (one line)"},
	{"user", "--lang en|de", "enrol: the language of the mail and pages (else the directory's)"},
	{"user", "--all-from-directory", "enrol: every employee the directory lists"},
	{"user", "--filter PATTERN", "enrol --all-from-directory: only addresses matching this shell pattern"},
	{"user", "--manager USER", "add-shared: a directory user who may fetch the mailbox's .pfx and PIN"},
	{"pgp", "--secret", "import: the file holds an internal user's secret key; it is kept"},
	{"pgp", "--passphrase-stdin", "import --secret: the key's passphrase, read from standard input"},
	{"directory", "--password-stdin", "test: the user's password, read from standard input"},
	{"directory", "--dry-run", "sync: says what would change, changes nothing"},
	{"audit", "--since T", "only entries at or after T: a duration ago (30m, 12h, 7d) or a UTC "
	 "date or time (2026-12-07, 2026-12-07T10:00:00Z)"},
	{"audit", "--until T", "only entries before T (the same forms)"},
	{"audit", "--event NAME", "only entries of this event (cert-issued, login-failed, ...)"},
	{"audit", "--json", "one JSON object per line: at, time, event, address, actor, client, detail"},
	{"help", "--man", "writes the man page sealgate(8)"},
	{"help", "--markdown", "writes the command table of the README"},
	{"help", "--help, -h", "the same as help (as the first argument)"},
	{"version", "--version", "the same as version (as the first argument)"},
};
/* clang-format on */

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int cli_usage(const char *command)
{
	const char *lead = "usage: ";
	for (size_t i = 0; i < COUNT(lines); i++) {
		if (strcmp(lines[i].command, command) != 0)
			continue;
		fprintf(stderr, "%ssealgate %s\n", lead, lines[i].synopsis);
		lead = "       ";
	}
	fprintf(stderr, "(man sealgate, or `sealgate help`)\n");
	return 2;
}

void cli_usage_summary(const char *command)
{
	for (size_t i = 0; i < COUNT(lines); i++)
		if (strcmp(lines[i].command, command) == 0)
			printf("  sealgate %s\n", lines[i].synopsis);
}

static void man_options(FILE *f, const char *command)
{
	for (size_t i = 0; i < COUNT(options); i++) {
		if (strcmp(options[i].command, command) != 0)
			continue;
		fputs(".TP\n.BR \"    ", f);
		sg_roff_text(f, options[i].option);
		fputs("\"\n", f);
		sg_roff_text(f, options[i].what);
		fputs(".\n", f);
	}
}

static void man_command(FILE *f, const char *command)
{
	for (size_t i = 0; i < COUNT(lines); i++) {
		if (strcmp(lines[i].command, command) != 0)
			continue;
		fputs(".TP\n.B sealgate ", f);
		sg_roff_text(f, lines[i].synopsis);
		fputc('\n', f);
		sg_roff_text(f, lines[i].what);
		fputs(".\n", f);
	}
	man_options(f, command);
}

static const char man_head[] =
	".TH SEALGATE 8 \"\" \"sealgate " SEALGATE_VERSION "\" \"System Administration\"\n"
	".\\\" Generated from src/cli/cli_usage.c by `sealgate help --man`; do not edit.\n"
	".SH NAME\nsealgate \\- secure e\\-mail gateway: S/MIME, OpenPGP, SecurePDF, portal\n"
	".SH SYNOPSIS\n.B sealgate\n.I command\n.RB [ \\-c\n.IR FILE ]\n.RI [ args ...]\n"
	".SH DESCRIPTION\nsealgate sits in the SMTP path between an organisation's mail server and "
	"the internet and encrypts, signs, decrypts and verifies mail by policy, or turns it into a "
	"SecurePDF or a portal message. \\fBsealgate run\\fR starts the gateway (a master and one "
	"child per role); every other command administers an instance and may run beside it.\n"
	"Each command that works on an instance takes its configuration file with \\-c.\n"
	".SH COMMANDS\n";

static const char man_tail[] =
	".SH SIGNALS\n.TP\n.B SIGTERM\nDrains: stops accepting, lets sessions and deliveries in "
	"flight end, exits 0.\n.TP\n.B SIGHUP\nRe\\-reads and validates the configuration; an "
	"invalid file is logged and the running configuration kept.\n"
	".SH EXIT STATUS\n0 on success, 1 on failure (the reason on stderr), 2 on a usage error.\n"
	".SH FILES\n.TP\n.I /etc/sealgate/sealgate.conf\nThe configuration (sealgate.conf(5)).\n"
	".TP\n.I /var/lib/sealgate\nThe instance of the Debian package: spool, store, keys.\n"
	".SH SEE ALSO\n.BR sealgate.conf (5),\n/usr/share/doc/sealgate/\n";

int cli_usage_write_man(FILE *f)
{
	fputs(man_head, f);
	const char *prev = "";
	for (size_t i = 0; i < COUNT(lines); i++) {
		if (strcmp(lines[i].command, prev) == 0)
			continue;
		prev = lines[i].command;
		fputs(".SS ", f);
		sg_roff_text(f, prev);
		fputc('\n', f);
		man_command(f, prev);
	}
	fputs(".SH OPTIONS\n", f);
	man_options(f, "*");
	fputs(man_tail, f);
	return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}

/* A Markdown table cell: '|' escaped. */
static void md_cell(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '|')
			fputc('\\', f);
		fputc(*s, f);
	}
}

int cli_usage_write_markdown(FILE *f)
{
	fputs("| command | what it does |\n| --- | --- |\n", f);
	for (size_t i = 0; i < COUNT(lines); i++) {
		fputs("| `", f);
		md_cell(f, lines[i].synopsis);
		fputs("` | ", f);
		md_cell(f, lines[i].what);
		fputs(" |\n", f);
	}
	return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}
