/* keyd_keyops_cache.c: the handles this client process was given by keyd, by sealed blob and
 * owner, so that a key asked for again (a decryption key, unsealed by qmgr for every message)
 * costs no KEY_LOAD round trip: one round trip per message. A remembered handle that keyd has
 * forgotten (restart, eviction) answers "no handle"; the proxy then loads again with `again`
 * set, which bypasses and refreshes this memory. Bounded; oldest out first. */
#include "keyd/keyd_keyops.h"
#include "core/sg_mem.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#define CACHE_SLOTS 64

struct slot {
	unsigned char tag[crypto_hash_sha256_BYTES];
	uint32_t handle;
	unsigned char *spki;
	size_t spki_len;
	uint64_t used;
};

static struct slot slots[CACHE_SLOTS];
static uint64_t clock_now;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void keyd_keyops_tag(const unsigned char *blob, size_t len, const char *owner,
                     unsigned char tag[KEYD_KEYOPS_TAG_LEN])
{
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)owner, strlen(owner) + 1);
	crypto_hash_sha256_update(&st, blob, len);
	crypto_hash_sha256_final(&st, tag);
}

int keyd_keyops_cache_get(const unsigned char tag[KEYD_KEYOPS_TAG_LEN], uint32_t *handle_r,
                          unsigned char **spki_r, size_t *spki_len_r)
{
	int found = 0;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < CACHE_SLOTS && !found; i++) {
		struct slot *s = &slots[i];
		if (s->spki == NULL || memcmp(s->tag, tag, sizeof(s->tag)) != 0)
			continue;
		s->used = ++clock_now;
		*handle_r = s->handle;
		*spki_r = sg_memdup(s->spki, s->spki_len);
		*spki_len_r = s->spki_len;
		found = 1;
	}
	pthread_mutex_unlock(&lock);
	return found;
}

/* the slot for tag: its own, an empty one, or the least recently used */
static struct slot *slot_for(const unsigned char *tag)
{
	struct slot *v = &slots[0];
	for (size_t i = 0; i < CACHE_SLOTS; i++) {
		if (slots[i].spki != NULL && memcmp(slots[i].tag, tag, sizeof(slots[i].tag)) == 0)
			return &slots[i];
		if (v->spki != NULL && (slots[i].spki == NULL || slots[i].used < v->used))
			v = &slots[i];
	}
	return v;
}

void keyd_keyops_cache_put(const unsigned char tag[KEYD_KEYOPS_TAG_LEN], uint32_t handle,
                           const unsigned char *spki, size_t spki_len)
{
	pthread_mutex_lock(&lock);
	struct slot *s = slot_for(tag);
	sg_free(&s->spki);
	memcpy(s->tag, tag, sizeof(s->tag));
	s->handle = handle;
	s->spki = sg_memdup(spki, spki_len);
	s->spki_len = spki_len;
	s->used = ++clock_now;
	pthread_mutex_unlock(&lock);
}
