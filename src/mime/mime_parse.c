/* mime_parse.c: the facts the queue manager needs about a message, from its header block (a
 * GMime parse of the header fields alone: the body is parsed by the transforms that need it),
 * and the byte-level helpers that do not need a parser. GMime is lenient; whatever it cannot
 * make sense of simply leaves a field NULL, so odd MIME is never a reason to stop delivery. */
#include "mime/mime.h"
#include "mime/mime_priv.h"

#include "core/limits.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <gmime/gmime.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

/* Longest header value we copy out: Message-IDs and addresses are far shorter in practice. */
#define MIME_VALUE_MAX 998

static pthread_once_t mime_once = PTHREAD_ONCE_INIT;
static atomic_ulong parses;
static atomic_ullong parsed_bytes;

static void mime_init_once(void)
{
	mime_glib_log_to_ours();
	g_mime_init();
}

void mime_init(void) { pthread_once(&mime_once, mime_init_once); }

/* Header text is attacker-controlled: keep a printable, bounded copy or nothing. */
static char *printable_dup(const char *s, bool allow_utf8)
{
	if (s == NULL || *s == '\0')
		return NULL;
	if (allow_utf8 && g_utf8_validate(s, -1, NULL)) {
		size_t n = strnlen(s, MIME_VALUE_MAX);
		char *d = sg_strndup(s, n);
		for (char *p = d; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		return d;
	}
	char buf[MIME_VALUE_MAX + 4];
	sg_printable(buf, sizeof(buf), s, MIME_VALUE_MAX);
	return sg_strdup(buf);
}

static char *first_mailbox(InternetAddressList *list)
{
	if (list == NULL)
		return NULL;
	int n = internet_address_list_length(list);
	for (int i = 0; i < n; i++) {
		InternetAddress *ia = internet_address_list_get_address(list, i);
		if (INTERNET_ADDRESS_IS_MAILBOX(ia))
			return printable_dup(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)),
			                     true);
	}
	return NULL;
}

#define MIME_VISIBLE_MAX 1000 /* addresses kept from To: and Cc: */

static void add_visible(struct mime_info *info, InternetAddressList *list)
{
	int n = list != NULL ? internet_address_list_length(list) : 0;
	for (int i = 0; i < n && info->nvisible < MIME_VISIBLE_MAX; i++) {
		InternetAddress *ia = internet_address_list_get_address(list, i);
		if (INTERNET_ADDRESS_IS_GROUP(ia)) {
			add_visible(info, internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)));
			continue;
		}
		char *a = printable_dup(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)),
		                        true);
		if (a == NULL)
			continue;
		sg_ascii_lower(a);
		info->visible = sg_reallocarray(info->visible, info->nvisible + 1, sizeof(char *));
		info->visible[info->nvisible++] = a;
	}
}

static char *lower_param(GMimeContentType *ct, const char *name)
{
	char *v = printable_dup(g_mime_content_type_get_parameter(ct, name), false);
	if (v != NULL)
		sg_ascii_lower(v);
	return v;
}

static void fill_content_type(GMimeMessage *msg, struct mime_info *info)
{
	GMimeObject *top = g_mime_message_get_mime_part(msg);
	if (top == NULL)
		return;
	info->is_multipart = GMIME_IS_MULTIPART(top);
	GMimeContentType *ct = g_mime_object_get_content_type(top);
	if (ct == NULL)
		return;
	char *type = g_mime_content_type_get_mime_type(ct);
	if (type != NULL) {
		info->content_type = printable_dup(type, false);
		if (info->content_type != NULL)
			sg_ascii_lower(info->content_type);
	}
	g_free(type);
	info->ct_protocol = lower_param(ct, "protocol");
	info->ct_smime_type = lower_param(ct, "smime-type");
}

/* True if "pkcs7" (any case) occurs in data. Every Content-Type GMime could take for an S/MIME
 * signature (application/pkcs7-signature, application/(x-)pkcs7-mime; a type is one token,
 * never encoded or folded inside) contains it, also in a message/rfc822 part (whose content
 * GMime parses as it stands): where it is absent, nothing below the top can be signed. */
static bool mentions_pkcs7(const char *data, size_t len)
{
	for (const char *p = data; len >= 5 && (p = memchr(p, '7', len - (size_t)(p - data))) != NULL;
	     p++) {
		if (p - data >= 4 && g_ascii_strncasecmp(p - 4, "pkcs", 4) == 0)
			return true;
	}
	return false;
}

/* An S/MIME signature below a top that is not S/MIME itself: the one question about the
 * structure below the header, answered with a parse of the whole message only where a byte
 * scan cannot rule it out. */
static bool nested_signed(const char *data, size_t len, const struct mime_info *info)
{
	if (mime_info_is_smime(info) || !mentions_pkcs7(data, len))
		return false;
	GMimeMessage *msg = mime_message_parse(data, len);
	bool found = msg != NULL && mime_priv_nested_signed(g_mime_message_get_mime_part(msg));
	if (msg != NULL)
		g_object_unref(msg);
	return found;
}

/* True if some line of data begins with marker. */
static bool has_line(const char *data, size_t len, const char *marker)
{
	size_t ml = strlen(marker);
	for (const char *p = data; p != NULL && (size_t)(p - data) + ml <= len;) {
		p = memmem(p, len - (size_t)(p - data), marker, ml);
		if (p == NULL)
			return false;
		if (p == data || p[-1] == '\n')
			return true;
		p++;
	}
	return false;
}

void mime_parse_stats(unsigned long *parses_r, unsigned long long *bytes_r)
{
	*parses_r = atomic_load(&parses);
	*bytes_r = atomic_load(&parsed_bytes);
}

static void count_parse(size_t len)
{
	atomic_fetch_add(&parses, 1);
	atomic_fetch_add(&parsed_bytes, len);
}

GMimeMessage *mime_message_parse(const char *data, size_t len)
{
	mime_init();
	count_parse(len);
	GMimeStream *stream = g_mime_stream_mem_new_with_buffer(data, len);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(stream);
	return msg;
}

GMimeObject *mime_entity_parse(const char *data, size_t len)
{
	mime_init();
	count_parse(len);
	GMimeStream *stream = g_mime_stream_mem_new_with_buffer(data, len);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	GMimeObject *o = g_mime_parser_construct_part(parser, NULL);
	g_object_unref(parser);
	g_object_unref(stream);
	return o;
}

void mime_memo_init(struct mime_memo *m, const char *data, size_t len)
{
	*m = (struct mime_memo){.data = data, .len = len};
}

GMimeObject *mime_memo_entity(struct mime_memo *m)
{
	if (!m->tried && m->data != NULL)
		m->entity = mime_entity_parse(m->data, m->len);
	m->tried = true;
	return m->entity;
}

void mime_memo_free(struct mime_memo *m)
{
	if (m->entity != NULL)
		g_object_unref(m->entity);
	*m = (struct mime_memo){0};
}

int mime_info_parse(const char *data, size_t len, struct mime_info *info_r,
                    const char **error_r)
{
	memset(info_r, 0, sizeof(*info_r));
	/* The header block and its empty line: GMime reads the fields exactly as in the whole
	 * message, and the top entity (multipart or not) without its parts. */
	size_t hlen = mime_header_block_len(data, len, SG_HEADER_BLOCK_MAX);
	GMimeMessage *msg = mime_message_parse(data, hlen < SG_HEADER_BLOCK_MAX ? hlen : len);
	if (msg == NULL) {
		*error_r = "not a parsable message";
		return -1;
	}
	info_r->parsed = true;
	info_r->message_id = printable_dup(g_mime_message_get_message_id(msg), false);
	info_r->from = first_mailbox(g_mime_message_get_from(msg));
	info_r->subject = printable_dup(g_mime_message_get_subject(msg), true);
	fill_content_type(msg, info_r);
	info_r->sensitivity = printable_dup(
		g_mime_object_get_header(GMIME_OBJECT(msg), "Sensitivity"), false);
	if (info_r->sensitivity != NULL)
		g_strstrip(info_r->sensitivity);
	info_r->inline_pgp = has_line(data, len, "-----BEGIN PGP MESSAGE-----") ||
	                     has_line(data, len, "-----BEGIN PGP SIGNED MESSAGE-----");
	add_visible(info_r, g_mime_message_get_to(msg));
	add_visible(info_r, g_mime_message_get_cc(msg));
	g_object_unref(msg);
	info_r->nested_smime_signed = nested_signed(data, len, info_r);
	return 0;
}

void mime_info_free(struct mime_info *info)
{
	sg_free(&info->message_id);
	sg_free(&info->from);
	sg_free(&info->subject);
	sg_free(&info->content_type);
	sg_free(&info->ct_protocol);
	sg_free(&info->ct_smime_type);
	sg_free(&info->sensitivity);
	for (size_t i = 0; i < info->nvisible; i++)
		sg_free(&info->visible[i]);
	sg_free(&info->visible);
	info->nvisible = 0;
	info->parsed = false;
	info->is_multipart = false;
}

bool mime_info_is_visible(const struct mime_info *info, const char *addr)
{
	for (size_t i = 0; i < info->nvisible; i++)
		if (sg_streq_nocase(info->visible[i], addr))
			return true;
	return false;
}

static bool is(const char *a, const char *b) { return a != NULL && strcmp(a, b) == 0; }

bool mime_info_is_smime(const struct mime_info *info)
{
	const char *ct = info->content_type, *proto = info->ct_protocol;
	return is(ct, "application/pkcs7-mime") || is(ct, "application/x-pkcs7-mime") ||
	       (is(ct, "multipart/signed") &&
	        (is(proto, "application/pkcs7-signature") || is(proto, "application/x-pkcs7-signature")));
}

bool mime_info_is_smime_encrypted(const struct mime_info *info)
{
	const char *ct = info->content_type, *st = info->ct_smime_type;
	return (is(ct, "application/pkcs7-mime") || is(ct, "application/x-pkcs7-mime")) &&
	       !is(st, "signed-data") && !is(st, "certs-only");
}

bool mime_info_is_pgp_mime(const struct mime_info *info)
{
	const char *ct = info->content_type, *proto = info->ct_protocol;
	return (is(ct, "multipart/encrypted") && is(proto, "application/pgp-encrypted")) ||
	       (is(ct, "multipart/signed") && is(proto, "application/pgp-signature"));
}

size_t mime_header_block_len(const char *data, size_t len, size_t max)
{
	size_t lim = len < max ? len : max;
	if (len > 0 && data[0] == '\n')
		return lim < 1 ? lim : 1; /* no headers at all */
	if (len > 1 && data[0] == '\r' && data[1] == '\n')
		return lim < 2 ? lim : 2;
	/* The block ends at the first empty line, LF or CRLF terminated. */
	for (size_t i = 0; i < lim; i++) {
		if (data[i] != '\n')
			continue;
		size_t end = 0;
		if (i + 1 < len && data[i + 1] == '\n')
			end = i + 2;
		else if (i + 2 < len && data[i + 1] == '\r' && data[i + 2] == '\n')
			end = i + 3;
		if (end != 0)
			return end <= lim ? end : lim;
	}
	return lim;
}

/* Eight bytes at a time: it runs over every message the queue manager sends, and a byte loop
 * with an early exit is not vectorised. */
bool mime_has_8bit(const char *data, size_t len)
{
	const uint64_t high = 0x8080808080808080ULL;
	size_t i = 0;
	for (; i + 32 <= len; i += 32) {
		uint64_t w[4];
		memcpy(w, data + i, sizeof(w));
		if (((w[0] | w[1] | w[2] | w[3]) & high) != 0)
			return true;
	}
	for (; i < len; i++)
		if ((unsigned char)data[i] >= 0x80)
			return true;
	return false;
}

bool mime_str_has_8bit(const char *s) { return mime_has_8bit(s, strlen(s)); }
