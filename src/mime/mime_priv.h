/* mime_priv.h: private to mime/: what the GMime-walking files share. */
#ifndef SG_MIME_PRIV_H
#define SG_MIME_PRIV_H

#include <gmime/gmime.h>

/* mime_nested.c: an S/MIME signature below the top of o. */
bool mime_priv_nested_signed(GMimeObject *o);

#endif
