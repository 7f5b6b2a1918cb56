/* pgp_hidden.c: messages encrypted to a hidden recipient. A sender may write the key id of a
 * public-key encrypted session key packet as zero (RFC 4880 5.1, "speculative" key id: gpg's
 * --hidden-recipient / --throw-keyids) so that the message does not say whom it is for. RNP
 * 0.16 then tries no key at all; Thunderbird (a newer RNP) tries each secret key. Here the
 * wildcard is replaced by the key id of each held secret encryption subkey of the same
 * algorithm in turn, and RNP runs again: the key id only says which key to try (the ECDH KDF
 * binds the recipient's fingerprint, RSA checks the session key's checksum), so a wrong guess
 * fails closed. */
#include "crypto/pgp.h"
#include "crypto/pgp_priv.h"
#include "core/sg_mem.h"

#include <string.h>

#define WILDCARDS_MAX 8 /* wildcard packets patched in one message */

int pgp_priv_packet_at(const uint8_t *bin, size_t n, size_t off, struct pgp_packet *p)
{
	if (off + 2 > n || (bin[off] & 0x80) == 0)
		return -1;
	const uint8_t *h = bin + off;
	size_t hdr = 0, len = 0;
	if (h[0] & 0x40) {
		p->tag = h[0] & 0x3fu;
		if (h[1] < 192)
			hdr = 2, len = h[1];
		else if (h[1] < 224 && off + 3 <= n)
			hdr = 3, len = ((size_t)(h[1] - 192) << 8) + h[2] + 192;
		else if (h[1] == 255 && off + 6 <= n)
			hdr = 6, len = ((size_t)h[2] << 24) | ((size_t)h[3] << 16) | ((size_t)h[4] << 8) | h[5];
	} else {
		p->tag = (h[0] >> 2) & 0x0fu;
		unsigned lt = h[0] & 3u;
		if (lt == 0)
			hdr = 2, len = h[1];
		else if (lt == 1 && off + 3 <= n)
			hdr = 3, len = ((size_t)h[1] << 8) | h[2];
		else if (lt == 2 && off + 5 <= n)
			hdr = 5, len = ((size_t)h[1] << 24) | ((size_t)h[2] << 16) | ((size_t)h[3] << 8) | h[4];
	}
	if (hdr == 0 || len > n - off - hdr)
		return -1;
	p->body = off + hdr;
	p->len = len;
	return 0;
}

/* Offsets of the wildcard key ids in the leading session key packets, and their algorithm
 * (all must agree, else 0). Returns how many. */
static size_t find_wildcards(const uint8_t *bin, size_t n, size_t *at, unsigned *algo_r)
{
	static const uint8_t zero[8];
	struct pgp_packet p;
	size_t count = 0;
	*algo_r = 0;
	for (size_t off = 0; count < WILDCARDS_MAX && pgp_priv_packet_at(bin, n, off, &p) == 0 &&
	                     (p.tag == 1 || p.tag == 3);
	     off = p.body + p.len) {
		/* v3 PKESK: version, 8-octet key id, algorithm, ... */
		if (p.tag != 1 || p.len < 10 || bin[p.body] != 3 ||
		    memcmp(bin + p.body + 1, zero, 8) != 0)
			continue;
		if (*algo_r != 0 && *algo_r != bin[p.body + 9])
			return 0;
		*algo_r = bin[p.body + 9];
		at[count++] = p.body + 1;
	}
	return count;
}

uint8_t *pgp_priv_binary(const char *data, size_t len, size_t *n_r)
{
	rnp_input_t in = NULL;
	rnp_output_t out = NULL;
	unsigned char *bin = NULL;
	*n_r = 0;
	if (len < 10 || memcmp(data, "-----BEGIN", 10) != 0) {
		*n_r = len;
		return sg_memdup(data, len);
	}
	if (rnp_input_from_memory(&in, (const uint8_t *)data, len, false) == RNP_SUCCESS &&
	    rnp_output_to_memory(&out, 0) == RNP_SUCCESS && rnp_dearmor(in, out) == RNP_SUCCESS &&
	    pgp_priv_output_take(out, (size_t)SG_MESSAGE_SIZE_HARD_MAX, &bin, n_r) < 0)
		bin = NULL;
	rnp_output_destroy(out);
	rnp_input_destroy(in);
	return bin;
}

static unsigned algo_id(rnp_key_handle_t key)
{
	char *alg = NULL;
	unsigned id = 0;
	if (rnp_key_get_alg(key, &alg) == RNP_SUCCESS && alg != NULL)
		id = strcmp(alg, "RSA") == 0 ? 1 : strcmp(alg, "ELGAMAL") == 0 ? 16
		     : strcmp(alg, "ECDH") == 0 ? 18 : 0;
	rnp_buffer_destroy(alg);
	return id;
}

static int nibble(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 16 hex digits into 8 octets. */
static int hex_id(const char *hex, uint8_t *id)
{
	for (size_t i = 0; i < 8; i++) {
		int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		id[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* The key id (8 octets) of the idx-th held secret encryption (sub)key with algorithm algo. */
static int nth_key_id(rnp_ffi_t ffi, unsigned algo, size_t idx, uint8_t *id)
{
	rnp_identifier_iterator_t it = NULL;
	const char *keyid = NULL;
	size_t seen = 0;
	int rc = -1;
	if (rnp_identifier_iterator_create(ffi, &it, "keyid") != RNP_SUCCESS)
		return -1;
	while (rc < 0 && rnp_identifier_iterator_next(it, &keyid) == RNP_SUCCESS && keyid != NULL) {
		rnp_key_handle_t key = NULL;
		bool enc = false;
		if (rnp_locate_key(ffi, "keyid", keyid, &key) == RNP_SUCCESS && key != NULL &&
		    pgp_priv_secret_present(key) && algo_id(key) == algo &&
		    rnp_key_allows_usage(key, "encrypt", &enc) == RNP_SUCCESS && enc && seen++ == idx &&
		    strlen(keyid) == 16) {
			rc = hex_id(keyid, id);
		}
		rnp_key_handle_destroy(key);
	}
	rnp_identifier_iterator_destroy(it);
	return rc;
}

int pgp_hidden_candidate(struct pgp_ctx *ctx, const char *data, size_t len, size_t idx,
                         unsigned char **bin_r, size_t *bin_len_r)
{
	size_t n = 0, at[WILDCARDS_MAX];
	unsigned algo = 0;
	uint8_t id[8];
	*bin_r = NULL;
	uint8_t *bin = pgp_priv_binary(data, len, &n);
	size_t count = bin != NULL ? find_wildcards(bin, n, at, &algo) : 0;
	if (count == 0 || nth_key_id(ctx->ffi, algo, idx, id) < 0) {
		sg_free(&bin);
		return 0;
	}
	for (size_t i = 0; i < count; i++)
		memcpy(bin + at[i], id, sizeof(id));
	*bin_r = bin;
	*bin_len_r = n;
	return 1;
}
