/* store_webmail_blob.h: private to store/: the files that hold webmail messages' sealed parts
 * (store_webmail_blob.c). store_webmail.c decides when; this file knows where and how. */
#ifndef SG_STORE_WEBMAIL_BLOB_H
#define SG_STORE_WEBMAIL_BLOB_H

#include "store/store_webmail.h"

/* Writes parts[0..n) into uid's new file, durably (file and directory fsynced), with each
 * part's offset in offsets[i]: 0, or -1 with *error_r (no file left behind). */
int store_webmail_blob_write(struct store *st, const char *uid,
                             const struct store_webmail_part *parts, size_t n, int64_t *offsets,
                             const char **error_r);
/* len bytes at offset of uid's file (*data_r: caller frees; one spare byte after them). */
int store_webmail_blob_read(struct store *st, const char *uid, int64_t offset, int64_t len,
                            unsigned char **data_r, size_t *len_r, const char **error_r);
/* Removes uid's file (after its rows are gone); a failure is logged, the sweep retries. */
void store_webmail_blob_remove(struct store *st, const char *uid);

#endif
