/* mime_sanitize_priv.h: private to the HTML sanitiser (mime_sanitize.c walks the tree that
 * gumbo parsed, mime_sanitize_rules.c holds the allow-list it walks by). */
#ifndef SG_MIME_SANITIZE_PRIV_H
#define SG_MIME_SANITIZE_PRIV_H

#include <gumbo.h>
#include <stdbool.h>

enum mime_sanitize_kind {
	MIME_SANITIZE_UNWRAP = 0, /* the tag goes, its content stays (unknown elements too) */
	MIME_SANITIZE_KEEP,       /* kept, with its allowed attributes */
	MIME_SANITIZE_VOID,       /* kept, an element without content (br, img) */
	MIME_SANITIZE_DROP,       /* gone with everything inside it */
};
/* What happens to element n. */
enum mime_sanitize_kind mime_sanitize_rules_element(const GumboNode *n);
/* True when element el may keep attribute a with its value. href and src pass here when the
 * element may have them: their URLs are the walker's to check. */
bool mime_sanitize_rules_attr(const GumboNode *el, const GumboAttribute *a);

#endif
