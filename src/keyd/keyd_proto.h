/* keyd_proto.h: the key process's wire format. A frame is a 16-byte header (magic "SGKD",
 * version, operation, status, request id, body length: all big-endian) and a body of exactly
 * the fields its operation names, each a 4-byte length and its bytes, nothing after the last.
 * Every length is checked against the operation's schema before anything is allocated or
 * used: a frame that does not fit is refused as a whole (keyd then stops serving the client
 * that sent it). The same codec serves requests and responses; the in-process loopback runs
 * the very same bytes through it. */
#ifndef SG_KEYD_PROTO_H
#define SG_KEYD_PROTO_H

#include "core/sg_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYD_MAGIC "SGKD"
#define KEYD_VERSION 1
#define KEYD_HEADER_LEN 16
/* A held or scanned message is sealed whole (keystore_seal_bytes): the largest body is one
 * message at the hard size ceiling plus the sealing overhead and the owner. */
#define KEYD_BODY_MAX (1024u * 1024 * 1024 + 64 * 1024)
#define KEYD_OWNER_MAX 255   /* "cert:<sha256>", "held:<id>", "webmail:<addr>:<id>"... */
#define KEYD_FIELDS_MAX 4
#define KEYD_SMALL_MAX (64 * 1024) /* a digest, an algorithm name, a key or a signature */

/* The operations. The numbers are the wire values: never renumber, only append. */
enum keyd_op {
	KEYD_OP_PING = 1,        /* () → ()                      liveness, tests */
	KEYD_OP_SEAL = 2,        /* (owner, data) → (blob)       keystore_seal_bytes */
	KEYD_OP_UNSEAL = 3,      /* (owner, blob) → (data)       keystore_unseal_bytes */
	KEYD_OP_KEY_LOAD = 4,    /* (owner, blob) → (handle, public key DER (SubjectPublicKeyInfo)) */
	KEYD_OP_KEY_FREE = 5,    /* (handle) → () */
	KEYD_OP_SIGN = 6,        /* (handle, digest name, digest) → (signature) */
	KEYD_OP_DECRYPT = 7,     /* (handle, padding name, ciphertext) → (plaintext) */
	KEYD_OP_CA_ISSUE = 8,    /* (request DER, profile) → (certificate DER)        keydops */
	KEYD_OP_PDF_UNWRAP = 9,  /* (owner, sealed record, file key) → (U, UE)        keydops:
	                          * keystore_pdf_wrap; K stays in keyd */
	KEYD_OP_PGP_SIGN = 10,   /* (owner, blob, data) → (signature)                 keydops */
	KEYD_OP_PGP_DECRYPT = 11,/* (owner, blob, PKESK packets) → (session key)      keydops */
	KEYD_OP_PKCS12 = 12,     /* (owner, blob, cert DER, options) → (.pfx)        keydops;
	                          * options: a body of (CA cert DER, friendly name, "legacy"|"",
	                          * PIN) */
	KEYD_OP_LIMIT            /* first unused value */
};

/* A response's status (a request carries 0). Only KEYD_OK has a body. */
enum keyd_status {
	KEYD_OK = 0,
	KEYD_E_BAD_REQUEST = 1, /* malformed frame: the client is cut off */
	KEYD_E_UNKNOWN_OP = 2,  /* the client is cut off */
	KEYD_E_NOT_ALLOWED = 3, /* not on this client's allow-list: the client is cut off */
	KEYD_E_OWNER = 4,       /* an owner this client may not name: the client is cut off */
	KEYD_E_FAILED = 5,      /* the operation failed (blob does not open, no such handle...) */
	KEYD_E_TEMPORARY = 6,   /* keyd unreachable or restarting: retry later (never on the wire) */
	KEYD_E_NO_HANDLE = 7,   /* handle unknown (keyd restarted, or evicted): load it again */
};

/* The operations a client may ask, one bit per enum keyd_op. */
typedef uint32_t keyd_allow;
#define KEYD_ALLOW(op) ((keyd_allow)1 << (op))

struct keyd_header {
	uint8_t version;
	uint8_t op;
	uint16_t status;
	uint32_t id;
	uint32_t body_len;
};

/* One field of a body: points into the frame (decode) or at the caller's data (encode). */
struct keyd_field {
	const unsigned char *data;
	size_t len;
};

/* A request checked against its operation's schema: fields[i] are in the order above; the
 * owner (if the operation names one) is also given NUL-terminated. */
struct keyd_request {
	struct keyd_header hdr;
	struct keyd_field fields[KEYD_FIELDS_MAX];
	size_t nfields;
	char owner[KEYD_OWNER_MAX + 1]; /* "" when the operation has none */
};

/* "seal", "unseal", ... for log lines; "unknown" otherwise. */
const char *keyd_op_name(unsigned op);
const char *keyd_status_text(enum keyd_status status);

void keyd_header_encode(const struct keyd_header *h, unsigned char out[KEYD_HEADER_LEN]);
/* 0, or the status to refuse it with (bad magic/version/length: KEYD_E_BAD_REQUEST). */
enum keyd_status keyd_header_decode(const unsigned char in[KEYD_HEADER_LEN],
                                    struct keyd_header *h_r);

/* Appends the fields as a body; -1 if out's ceiling is reached. */
int keyd_body_encode(struct sg_buf *out, const struct keyd_field *fields, size_t n);
/* Splits body into exactly n fields (no trailing bytes); -1 if it does not. */
int keyd_body_decode(const unsigned char *body, size_t len, struct keyd_field *fields, size_t n);

/* A whole frame as read from a socket (header then body): checked header, known operation,
 * the schema's field count and lengths, the owner (1..KEYD_OWNER_MAX printable ASCII, no
 * space) and handles (4 bytes). Returns KEYD_OK or the status to refuse it with. */
enum keyd_status keyd_request_parse(const unsigned char *frame, size_t len,
                                    struct keyd_request *req_r);

/* A 4-byte handle field. */
void keyd_handle_encode(uint32_t handle, unsigned char out[4]);
uint32_t keyd_handle_decode(const struct keyd_field *f);

#endif
