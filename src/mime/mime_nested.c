/* mime_nested.c: is there an S/MIME signature below the top of an entity? Such a signature
 * covers only its own part: the parts beside it are whoever's, so the message as a whole is
 * not signed (signature=partial), whatever a mail client shows for the part. */
#include "mime/mime.h"
#include "mime/mime_priv.h"

#define NESTED_DEPTH_MAX 32

static bool is_smime_signature(GMimeObject *o)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	const char *st = ct != NULL ? g_mime_content_type_get_parameter(ct, "smime-type") : NULL;
	if (ct == NULL)
		return false;
	if (g_mime_content_type_is_type(ct, "application", "pkcs7-signature") ||
	    g_mime_content_type_is_type(ct, "application", "x-pkcs7-signature"))
		return true;
	return (g_mime_content_type_is_type(ct, "application", "pkcs7-mime") ||
	        g_mime_content_type_is_type(ct, "application", "x-pkcs7-mime")) &&
	       st != NULL && g_ascii_strcasecmp(st, "signed-data") == 0;
}

static bool find(GMimeObject *o, int depth)
{
	if (o == NULL || depth > NESTED_DEPTH_MAX)
		return depth > NESTED_DEPTH_MAX; /* too deep to tell: say there may be one */
	if (depth > 0 && is_smime_signature(o))
		return true;
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);
		for (int i = 0; i < g_mime_multipart_get_count(mp); i++)
			if (find(g_mime_multipart_get_part(mp, i), depth + 1))
				return true;
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		return m != NULL && find(g_mime_message_get_mime_part(m), depth + 1);
	}
	return false;
}

bool mime_priv_nested_signed(GMimeObject *o) { return find(o, 0); }

bool mime_nested_smime_signed(const char *entity, size_t len)
{
	GMimeObject *o = mime_entity_parse(entity, len);
	bool found = o != NULL && find(o, 0);
	if (o != NULL)
		g_object_unref(o);
	return found;
}
