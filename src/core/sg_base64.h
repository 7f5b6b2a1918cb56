/* sg_base64.h: base64 (RFC 4648) in the line layout of MIME bodies, for large payloads (an
 * S/MIME message's DER, ~137 KB of text per 100 KB message): two output characters per table
 * lookup instead of one, which halves the encoder's work per byte against EVP_EncodeBlock. */
#ifndef SG_BASE64_H
#define SG_BASE64_H

#include <stddef.h>

/* Characters sg_base64_lines writes for len bytes: 64 and CRLF per 48 bytes (and per rest). */
size_t sg_base64_lines_size(size_t len);
/* Encodes len bytes of src as lines of 64 base64 characters, each ended by CRLF (the last
 * one shorter, padded with '='). dst holds sg_base64_lines_size(len) characters; no NUL is
 * written. Returns the characters written. */
size_t sg_base64_lines(char *dst, const unsigned char *src, size_t len);

#endif
