/* webmail_seal.c: storing and opening webmail messages (webmail.h). The message key is
 * wrapped for "webmail:<partner>:<uid>"; the metadata and each part are sealed with it for
 * that name plus ":meta" or ":part:<i>", so no blob opens as another message's, another
 * partner's, or another part of the same message. */
#include "webmail/webmail_priv.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/keystore.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define NAME_MAX_LEN (SG_ADDR_MAX + STORE_WEBMAIL_UID_MAX + 32)

/* "webmail:<address, lower case>:<uid>[:what]" */
static int name_of(const char *address, const char *uid, const char *what, char *dst,
                   size_t size)
{
	if (sg_snprintf(dst, size, "webmail:%s:%s%s%s", address, uid, what != NULL ? ":" : "",
	                what != NULL ? what : "") < 0)
		return -1;
	sg_ascii_lower(dst);
	return 0;
}

static void new_uid(char uid[STORE_WEBMAIL_UID_MAX])
{
	unsigned char raw[16];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(uid, STORE_WEBMAIL_UID_MAX, raw, sizeof(raw));
}

/* Seals one part: a decoded attachment in its frame, where it is (a megabyte is not copied
 * again), a body into a blob of its own. */
static int seal_part(const struct keystore_msgkey *key, const char *ad,
                     struct webmail_parsed_part *pp, struct store_webmail_part *part,
                     const char **error_r)
{
	if (pp->decoded == NULL) {
		unsigned char *blob = NULL;
		int rc = keystore_msgkey_seal(key, ad, pp->data, pp->len, &blob, &part->sealed_len,
		                              error_r);
		part->sealed = blob;
		return rc;
	}
	unsigned char *frame = pp->data - KEYSTORE_MSGKEY_HEAD;
	part->sealed = frame;
	return keystore_msgkey_seal_in_place(key, ad, frame, pp->len, &part->sealed_len, error_r);
}

/* Seals the metadata and every part of parsed with key into m and parts. */
static int seal_all(const struct keystore_msgkey *key, const struct webmail_parsed *parsed,
                    const char *address, struct store_webmail_msg *m,
                    struct store_webmail_part *parts, const char **error_r)
{
	char ad[NAME_MAX_LEN];
	struct sg_buf meta;
	sg_buf_init(&meta, (size_t)4 * 1024 * 1024);
	int rc = webmail_meta_encode(&parsed->head, parsed->parts, parsed->nparts, &meta);
	if (rc < 0)
		*error_r = "the message's metadata is too large";
	if (rc == 0 && name_of(address, m->uid, "meta", ad, sizeof(ad)) == 0)
		rc = keystore_msgkey_seal(key, ad, meta.data, meta.len, &m->meta, &m->meta_len, error_r);
	sg_buf_free_secret(&meta);
	for (size_t i = 0; rc == 0 && i < parsed->nparts; i++) {
		char what[32];
		snprintf(what, sizeof(what), "part:%zu", i);
		rc = name_of(address, m->uid, what, ad, sizeof(ad)) < 0
		         ? -1
		         : seal_part(key, ad, &parsed->parts[i], &parts[i], error_r);
		parts[i].size = parsed->parts[i].info.size;
	}
	return rc;
}

/* Frees the blobs sealed into a buffer of their own (not those sealed in place). */
static void free_sealed(struct store_webmail_part *parts, const struct webmail_parsed *parsed)
{
	for (size_t i = 0; i < parsed->nparts; i++)
		if (parsed->parts[i].decoded == NULL)
			sg_free(&parts[i].sealed);
	sg_free(&parts);
}

/* The row just stored, without its blobs. */
static void row_copy(const struct store_webmail_msg *m, int64_t id, const char *address,
                     struct store_webmail_msg *dst)
{
	*dst = *m;
	dst->id = id;
	sg_strlcpy(dst->address, address, sizeof(dst->address));
	dst->wrapped_key = dst->meta = NULL;
	dst->wrapped_key_len = dst->meta_len = 0;
}

int webmail_put(struct store *st, const struct keystore *ks, const struct webmail_put *p,
                int64_t *id_r, bool *existed_r, bool *perm_r, const char **error_r)
{
	struct webmail_parsed parsed;
	if (webmail_parse(p->data, p->len, &parsed, perm_r, error_r) < 0)
		return -1;
	struct store_webmail_msg m = {.user_id = p->user_id, .folder = p->folder,
	                              .created = p->now, .size = (int64_t)p->len,
	                              .attachments = parsed.attachments};
	new_uid(m.uid);
	sg_strlcpy(m.sender, p->sender, sizeof(m.sender));
	int rc = sg_strlcpy(m.dedup, p->dedup, sizeof(m.dedup)) < sizeof(m.dedup) ? 0 : -1;
	if (rc < 0)
		*error_r = "webmail: message key too long";
	char owner[NAME_MAX_LEN];
	struct keystore_msgkey *key = NULL;
	if (rc == 0 && (name_of(p->address, m.uid, NULL, owner, sizeof(owner)) < 0 ||
	                keystore_msgkey_new(ks, owner, &key, &m.wrapped_key, &m.wrapped_key_len,
	                                    error_r) < 0))
		rc = -1;
	struct store_webmail_part *parts = sg_calloc(parsed.nparts + 1, sizeof(*parts));
	if (rc == 0)
		rc = seal_all(key, &parsed, p->address, &m, parts, error_r);
	if (rc == 0)
		rc = store_webmail_put(st, &m, parts, parsed.nparts, id_r, existed_r, error_r);
	if (rc == 0 && !*existed_r && p->stored_r != NULL)
		row_copy(&m, *id_r, p->address, p->stored_r);
	free_sealed(parts, &parsed);
	keystore_msgkey_free(&key);
	store_webmail_msg_clear(&m);
	webmail_parsed_free(&parsed);
	return rc;
}

static int open_key(const struct keystore *ks, const struct store_webmail_msg *row,
                    struct keystore_msgkey **key_r, const char **error_r)
{
	char owner[NAME_MAX_LEN];
	if (name_of(row->address, row->uid, NULL, owner, sizeof(owner)) < 0) {
		*error_r = "webmail: address too long";
		return -1;
	}
	if (keystore_msgkey_open(ks, row->wrapped_key, row->wrapped_key_len, owner, key_r,
	                         error_r) < 0) {
		sg_error("webmail: the key of message %s of <%s> does not open: %s", row->uid,
		         row->address, *error_r);
		return -1;
	}
	return 0;
}

/* Opens row's metadata into m (m->row takes row's fields; the blobs stay with row). */
static int open_meta(const struct keystore *ks, const struct store_webmail_msg *row,
                     bool with_parts, struct webmail_message *m, const char **error_r)
{
	memset(m, 0, sizeof(*m));
	m->row = *row;
	m->row.wrapped_key = m->row.meta = NULL;
	struct keystore_msgkey *key = NULL;
	if (open_key(ks, row, &key, error_r) < 0)
		return -1;
	char ad[NAME_MAX_LEN];
	unsigned char *meta = NULL;
	size_t len = 0;
	int rc = name_of(row->address, row->uid, "meta", ad, sizeof(ad)) < 0
	             ? -1
	             : keystore_msgkey_unseal(key, ad, row->meta, row->meta_len, &meta, &len, error_r);
	keystore_msgkey_free(&key);
	if (rc == 0 && webmail_meta_decode(meta, len, with_parts, m) < 0) {
		*error_r = "webmail: malformed metadata";
		rc = -1;
	}
	sg_free_secret(&meta, len);
	if (rc < 0)
		sg_error("webmail: message %s of <%s>: %s", row->uid, row->address, *error_r);
	return rc;
}

void webmail_message_free(struct webmail_message *m)
{
	store_webmail_msg_clear(&m->row);
	sg_free(&m->parts);
	m->nparts = 0;
}

void webmail_list_free(struct webmail_message **list, size_t n)
{
	for (size_t i = 0; *list != NULL && i < n; i++)
		webmail_message_free(&(*list)[i]);
	sg_free(list);
}

int webmail_list(struct store *st, const struct keystore *ks, const char *address,
                 enum store_webmail_folder folder, size_t offset, size_t limit,
                 struct webmail_message **list_r, size_t *n_r, const char **error_r)
{
	struct store_webmail_msg *rows = NULL;
	size_t n = 0;
	*list_r = NULL;
	*n_r = 0;
	if (store_webmail_list(st, address, folder, offset, limit, &rows, &n, error_r) < 0)
		return -1;
	struct webmail_message *list = sg_calloc(n + 1, sizeof(*list));
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = open_meta(ks, &rows[i], false, &list[i], error_r);
	store_webmail_list_free(&rows, n);
	if (rc < 0) {
		sg_free(&list);
		return -1;
	}
	*list_r = list;
	*n_r = n;
	return 0;
}

int webmail_open(struct store *st, const struct keystore *ks, const char *address,
                 const char *uid, struct webmail_message *m_r, const char **error_r)
{
	struct store_webmail_msg row;
	int found = store_webmail_get(st, address, uid, &row, error_r);
	if (found <= 0)
		return found;
	int rc = open_meta(ks, &row, true, m_r, error_r);
	store_webmail_msg_clear(&row);
	if (rc < 0)
		webmail_message_free(m_r);
	return rc < 0 ? -1 : 1;
}

int webmail_part(struct store *st, const struct keystore *ks, const char *address,
                 const char *uid, int idx, unsigned char **data_r, size_t *len_r,
                 const char **error_r)
{
	struct store_webmail_msg row;
	int found = store_webmail_get(st, address, uid, &row, error_r);
	if (found <= 0)
		return found;
	unsigned char *blob = NULL;
	size_t blen = 0;
	struct keystore_msgkey *key = NULL;
	found = store_webmail_part_get(st, address, uid, idx, &blob, &blen, error_r);
	if (found == 1 && open_key(ks, &row, &key, error_r) < 0)
		found = -1;
	char ad[NAME_MAX_LEN], what[32];
	snprintf(what, sizeof(what), "part:%d", idx);
	if (found == 1 && (name_of(row.address, uid, what, ad, sizeof(ad)) < 0 ||
	                   keystore_msgkey_unseal(key, ad, blob, blen, data_r, len_r, error_r) < 0)) {
		sg_error("webmail: part %d of message %s of <%s>: %s", idx, uid, row.address, *error_r);
		found = -1;
	}
	if (found == 1)
		(*data_r)[*len_r] = '\0'; /* unseal leaves one byte spare */
	keystore_msgkey_free(&key);
	sg_free(&blob);
	store_webmail_msg_clear(&row);
	return found;
}
