/* sg_base64.h: base64 (RFC 4648) in the line layout of MIME bodies, for large payloads (an
 * S/MIME message's DER, ~137 KB of text per 100 KB message): two output characters per table
 * lookup instead of one, which halves the encoder's work per byte against EVP_EncodeBlock. */
#ifndef SG_BASE64_H
#define SG_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters sg_base64_lines writes for len bytes: 64 and CRLF per 48 bytes (and per rest). */
size_t sg_base64_lines_size(size_t len);
/* Encodes len bytes of src as lines of 64 base64 characters, each ended by CRLF (the last
 * one shorter, padded with '='). dst holds sg_base64_lines_size(len) characters; no NUL is
 * written. Returns the characters written. */
size_t sg_base64_lines(char *dst, const unsigned char *src, size_t len);
/* Decodes base64 as mail clients write it (the alphabet, CR and LF between characters, '='
 * padding only at the end) from in[0..len) into out (room for len / 4 * 3 + 3): the number of
 * bytes, or -1 for anything else (stray characters, odd padding), which the caller hands to a
 * lenient decoder (GMime's). Four characters per step through tables built once. */
int64_t sg_base64_decode_clean(const unsigned char *in, size_t len, unsigned char *out);

#endif
