/* sgdkim_cache.c: DKIM private keys parsed once per domain and selector (sgdkim.h says how
 * long they live and when they are dropped). Callers get a reference of their own
 * (EVP_PKEY_up_ref): a key dropped while a worker thread signs with it is freed after that
 * signature. OpenSSL clears the private key's numbers when the last reference goes. */
#include "crypto/sgdkim.h"
#include "crypto/sgdkim_priv.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <string.h>

EVP_PKEY *sgdkim_pkey_parse(const struct sgdkim_key *key)
{
	BIO *bio = key->pem_len <= SG_DKIM_KEYFILE_MAX
	               ? BIO_new_mem_buf(key->pem, (int)key->pem_len)
	               : NULL;
	EVP_PKEY *pk = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	ERR_clear_error();
	if (pk != NULL && !EVP_PKEY_is_a(pk, key->alg == SGDKIM_ED25519 ? "ED25519" : "RSA")) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	return pk;
}

static void row_id(const void *row, size_t row_len, unsigned char id[32])
{
	unsigned int n = 32;
	if (EVP_Digest(row, row_len, id, &n, EVP_sha256(), NULL) != 1)
		memset(id, 0, 32); /* never matches a real row's digest by chance */
}

static void drop_at(struct sgdkim_lib *lib, size_t i)
{
	EVP_PKEY_free(lib->cache[i]->pk);
	sg_free(&lib->cache[i]);
	memmove(&lib->cache[i], &lib->cache[i + 1], (lib->ncache - i - 1) * sizeof(lib->cache[0]));
	lib->ncache--;
}

static void fill(struct sgdkim_signer *s, const struct sgdkim_cached *c)
{
	sg_strlcpy(s->domain, c->domain, sizeof(s->domain));
	sg_strlcpy(s->selector, c->selector, sizeof(s->selector));
	s->alg = c->alg;
	EVP_PKEY_up_ref(c->pk);
	s->pkey = c->pk;
}

/* The entry of domain/selector: its index, or ncache. Locked. */
static size_t find_at(struct sgdkim_lib *lib, const char *domain, const char *selector)
{
	size_t i = 0;
	while (i < lib->ncache && (strcmp(lib->cache[i]->domain, domain) != 0 ||
	                           strcmp(lib->cache[i]->selector, selector) != 0))
		i++;
	return i;
}

int sgdkim_cache_find(struct sgdkim_lib *lib, const char *domain, const char *selector,
                      const void *row, size_t row_len, struct sgdkim_signer *s_r)
{
	unsigned char id[32];
	row_id(row, row_len, id);
	pthread_mutex_lock(&lib->lock);
	size_t i = find_at(lib, domain, selector);
	int found = i < lib->ncache && memcmp(lib->cache[i]->row, id, sizeof(id)) == 0;
	if (found)
		fill(s_r, lib->cache[i]);
	else if (i < lib->ncache)
		drop_at(lib, i); /* the row changed: that key is not the store's any more */
	pthread_mutex_unlock(&lib->lock);
	return found;
}

int sgdkim_cache_add(struct sgdkim_lib *lib, const struct sgdkim_key *key, const void *row,
                     size_t row_len, struct sgdkim_signer *s_r, const char **error_r)
{
	EVP_PKEY *pk = sgdkim_pkey_parse(key);
	if (pk == NULL || strlen(key->domain) > SG_DOMAIN_MAX ||
	    strlen(key->selector) > SG_DKIM_SELECTOR_MAX) {
		EVP_PKEY_free(pk);
		*error_r = "the stored DKIM key is not a private key of its type";
		return -1;
	}
	struct sgdkim_cached *c = sg_calloc(1, sizeof(*c));
	sg_strlcpy(c->domain, key->domain, sizeof(c->domain));
	sg_strlcpy(c->selector, key->selector, sizeof(c->selector));
	c->alg = key->alg;
	c->pk = pk;
	row_id(row, row_len, c->row);
	pthread_mutex_lock(&lib->lock);
	size_t i = find_at(lib, key->domain, key->selector);
	if (i < lib->ncache) /* another worker was quicker, or an older row */
		drop_at(lib, i);
	if (lib->ncache == SGDKIM_CACHE_MAX)
		drop_at(lib, 0); /* the oldest */
	lib->cache[lib->ncache++] = c;
	fill(s_r, c);
	pthread_mutex_unlock(&lib->lock);
	return 0;
}

void sgdkim_cache_prune(struct sgdkim_lib *lib, const char *domain,
                        const char *const *selectors, size_t n)
{
	pthread_mutex_lock(&lib->lock);
	for (size_t i = lib->ncache; i-- > 0;) {
		bool keep = strcmp(lib->cache[i]->domain, domain) != 0;
		for (size_t k = 0; k < n && !keep; k++)
			keep = strcmp(lib->cache[i]->selector, selectors[k]) == 0;
		if (!keep)
			drop_at(lib, i);
	}
	pthread_mutex_unlock(&lib->lock);
}

size_t sgdkim_cache_size(struct sgdkim_lib *lib)
{
	pthread_mutex_lock(&lib->lock);
	size_t n = lib->ncache;
	pthread_mutex_unlock(&lib->lock);
	return n;
}

void sgdkim_cache_clear(struct sgdkim_lib *lib)
{
	pthread_mutex_lock(&lib->lock);
	while (lib->ncache > 0)
		drop_at(lib, lib->ncache - 1);
	pthread_mutex_unlock(&lib->lock);
}

void sgdkim_signer_release(struct sgdkim_signer *s)
{
	EVP_PKEY_free(s->pkey);
	s->pkey = NULL;
}
