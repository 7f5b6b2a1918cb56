/* pdf_r6.c: the only cryptography of our own in SecurePDF. Algorithm 2.B (the R6 password
 * hash) and the per-document /Encrypt dictionary built from the stored {U, K}: a fresh file key
 * wrapped by K, owner entries for a random owner password that is then forgotten, and /Perms.
 * qpdf re-checks O, OE and Perms when it opens the template, so a mistake here fails loudly. */
#include "pdf/pdf_priv.h"

#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <string.h>

#define R6_ROUNDS_MIN 64
/* Largest K1 block: 127 password bytes, a 64-byte SHA-512 K and the 48-byte /U, 64 times. */
#define R6_K1_MAX (64 * (PDF_PASSWORD_MAX + 64 + PDF_KEY_U_LEN))
#define R6_PERMS -4

void pdf_r6_random(void *p, size_t n)
{
	if (n > 0 && RAND_bytes(p, (int)n) != 1)
		sg_fatal("pdf: no random bytes from OpenSSL");
}

static unsigned digest(const EVP_MD *md, const unsigned char *in, size_t n, unsigned char *out)
{
	unsigned outlen = 0;
	if (EVP_Digest(in, n, out, &outlen, md, NULL) != 1)
		sg_fatal("pdf: digest failed");
	return outlen;
}

/* AES without padding over whole blocks: CBC for 2.B and the key wraps, ECB for /Perms. */
static void aes_nopad(const EVP_CIPHER *cipher, const unsigned char *key, const unsigned char *iv,
                      const unsigned char *in, size_t n, unsigned char *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int l1 = 0, l2 = 0;
	if (ctx == NULL || n > (size_t)INT32_MAX ||
	    EVP_EncryptInit_ex(ctx, cipher, NULL, key, iv) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
	    EVP_EncryptUpdate(ctx, out, &l1, in, (int)n) != 1 ||
	    EVP_EncryptFinal_ex(ctx, out + l1, &l2) != 1 || (size_t)(l1 + l2) != n)
		sg_fatal("pdf: AES failed");
	EVP_CIPHER_CTX_free(ctx);
}

static const EVP_MD *next_md(const unsigned char *e)
{
	unsigned sum = 0;
	for (int i = 0; i < 16; i++) /* the 128-bit number mod 3 equals its byte sum mod 3 */
		sum += e[i];
	switch (sum % 3) {
	case 0: return EVP_sha256();
	case 1: return EVP_sha384();
	default: return EVP_sha512();
	}
}

void pdf_r6_hash(const unsigned char *pw, size_t pwlen, const unsigned char salt[8],
                 const unsigned char *udata, size_t udlen, unsigned char out[PDF_R6_HASH_LEN])
{
	sg_assert(pwlen <= PDF_PASSWORD_MAX && udlen <= PDF_KEY_U_LEN);
	unsigned char k[64], first[PDF_PASSWORD_MAX + 8 + PDF_KEY_U_LEN];
	unsigned char *k1 = sg_malloc(R6_K1_MAX), *e = sg_malloc(R6_K1_MAX);
	memcpy(first, pw, pwlen);
	memcpy(first + pwlen, salt, 8);
	if (udlen > 0)
		memcpy(first + pwlen + 8, udata, udlen);
	size_t klen = digest(EVP_sha256(), first, pwlen + 8 + udlen, k);
	for (unsigned round = 1;; round++) {
		size_t one = pwlen + klen + udlen;
		for (size_t i = 0; i < 64; i++) {
			memcpy(k1 + i * one, pw, pwlen);
			memcpy(k1 + i * one + pwlen, k, klen);
			if (udlen > 0)
				memcpy(k1 + i * one + pwlen + klen, udata, udlen);
		}
		aes_nopad(EVP_aes_128_cbc(), k, k + 16, k1, 64 * one, e);
		klen = digest(next_md(e), e, 64 * one, k);
		/* qpdf counts the first SHA-256 as round 0; Acrobat agrees with that reading. */
		if (round >= R6_ROUNDS_MIN && e[64 * one - 1] <= round - 32)
			break;
	}
	memcpy(out, k, PDF_R6_HASH_LEN);
	sg_wipe(first, sizeof(first));
	sg_wipe(k, sizeof(k));
	sg_free_secret(&k1, R6_K1_MAX);
	sg_free_secret(&e, R6_K1_MAX);
}

struct r6_dict {
	unsigned char o[48], oe[32], ue[32], perms[16];
};

/* Algorithms 8 (UE only: U is stored), 9 and 10 for one file key. */
static void r6_entries(const struct pdf_key *key, const unsigned char fk[32], const char *owner,
                       struct r6_dict *d)
{
	static const unsigned char zero_iv[16];
	unsigned char salts[16], ik[32], blk[16];
	if (key->wrapped)
		memcpy(d->ue, key->ue, sizeof(d->ue));
	else
		aes_nopad(EVP_aes_256_cbc(), key->k, zero_iv, fk, 32, d->ue);
	pdf_r6_random(salts, sizeof(salts));
	size_t olen = strlen(owner);
	pdf_r6_hash((const unsigned char *)owner, olen, salts, key->u, PDF_KEY_U_LEN, d->o);
	memcpy(d->o + 32, salts, 16);
	pdf_r6_hash((const unsigned char *)owner, olen, salts + 8, key->u, PDF_KEY_U_LEN, ik);
	aes_nopad(EVP_aes_256_cbc(), ik, zero_iv, fk, 32, d->oe);
	uint32_t p = (uint32_t)R6_PERMS;
	for (int i = 0; i < 4; i++)
		blk[i] = (unsigned char)(p >> (8 * i));
	memset(blk + 4, 0xff, 4);
	memcpy(blk + 8, "Tadb", 4); /* T: metadata is encrypted too */
	pdf_r6_random(blk + 12, 4);
	aes_nopad(EVP_aes_256_ecb(), fk, NULL, blk, 16, d->perms);
	sg_wipe(ik, sizeof(ik));
	sg_wipe(blk, sizeof(blk));
}

static void put_hexstr(struct sg_buf *out, const unsigned char *b, size_t n)
{
	sg_assert(sg_buf_append_str(out, "<") == 0);
	for (size_t i = 0; i < n; i++)
		sg_assert(sg_buf_printf(out, "%02x", b[i]) == 0);
	sg_assert(sg_buf_append_str(out, ">") == 0);
}

static void put_hex(struct sg_buf *out, const char *name, const unsigned char *b, size_t n)
{
	sg_assert(sg_buf_printf(out, "/%s ", name) == 0);
	put_hexstr(out, b, n);
	sg_assert(sg_buf_append_str(out, "\n") == 0);
}

static void put_object(struct sg_buf *out, size_t *offs, int num, const char *body)
{
	offs[num] = out->len;
	sg_assert(sg_buf_printf(out, "%d 0 obj\n%s\nendobj\n", num, body) == 0);
}

void pdf_r6_template(const struct pdf_key *key, struct sg_buf *out, char owner_r[65])
{
	unsigned char fk[32], opw[32], id[16];
	struct r6_dict d;
	size_t offs[4] = {0};
	if (key->wrapped)
		memcpy(fk, key->fk, sizeof(fk));
	else
		pdf_r6_random(fk, sizeof(fk));
	pdf_r6_random(opw, sizeof(opw));
	pdf_r6_random(id, sizeof(id));
	for (size_t i = 0; i < sizeof(opw); i++) /* hex keeps it SASLprep-stable and printable */
		(void)snprintf(owner_r + 2 * i, 3, "%02x", opw[i]);
	r6_entries(key, fk, owner_r, &d);
	sg_assert(sg_buf_append_str(out, "%PDF-2.0\n%\xe2\xe3\xcf\xd3\n") == 0);
	put_object(out, offs, 1, "<< /Type /Catalog /Pages 2 0 R >>");
	put_object(out, offs, 2, "<< /Type /Pages /Kids [] /Count 0 >>");
	offs[3] = out->len;
	sg_assert(sg_buf_append_str(out, "3 0 obj\n<< /Filter /Standard /V 5 /R 6 /Length 256\n"
	                            "/CF << /StdCF << /AuthEvent /DocOpen /CFM /AESV3 /Length 32 >> >>\n"
	                            "/StmF /StdCF /StrF /StdCF /EncryptMetadata true\n") == 0);
	sg_assert(sg_buf_printf(out, "/P %d\n", R6_PERMS) == 0);
	put_hex(out, "O", d.o, sizeof(d.o));
	put_hex(out, "U", key->u, PDF_KEY_U_LEN);
	put_hex(out, "OE", d.oe, sizeof(d.oe));
	put_hex(out, "UE", d.ue, sizeof(d.ue));
	put_hex(out, "Perms", d.perms, sizeof(d.perms));
	sg_assert(sg_buf_append_str(out, ">>\nendobj\n") == 0);
	size_t xref = out->len;
	sg_assert(sg_buf_append_str(out, "xref\n0 4\n0000000000 65535 f \n") == 0);
	for (int i = 1; i < 4; i++)
		sg_assert(sg_buf_printf(out, "%010zu 00000 n \n", offs[i]) == 0);
	sg_assert(sg_buf_append_str(out, "trailer\n<< /Size 4 /Root 1 0 R /Encrypt 3 0 R /ID [") == 0);
	put_hexstr(out, id, sizeof(id));
	put_hexstr(out, id, sizeof(id));
	sg_assert(sg_buf_printf(out, "] >>\nstartxref\n%zu\n%%%%EOF\n", xref) == 0);
	sg_wipe(fk, sizeof(fk));
	sg_wipe(opw, sizeof(opw));
	sg_wipe(&d, sizeof(d));
}
