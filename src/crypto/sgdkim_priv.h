/* sgdkim_priv.h: private to crypto/sgdkim_*.c. */
#ifndef SG_SGDKIM_PRIV_H
#define SG_SGDKIM_PRIV_H

#include <opendkim/dkim.h>
#include <stddef.h>

struct sgdkim_lib {
	DKIM_LIB *lib;
};

/* The header fields signed (RFC 6376 §5.4.1), lower case, NULL-terminated. */
extern const char *const sgdkim_signed_fields[];

/* Feeds msg's header fields (folds kept, final CRLF not) and its body to d. */
DKIM_STAT sgdkim_feed(DKIM *d, const char *msg, size_t len);
/* "DKIM signing failed: <the library's words>" (one buffer per thread). */
const char *sgdkim_stat_text(DKIM *d, DKIM_STAT st);

#endif
