/* keystore_handles.c: the key holder's open private keys, by handle. A bounded table, least
 * recently used out first; an evicted or forgotten handle is "unknown" and the client loads the
 * key again. Handles are random 64-bit numbers, so one client cannot guess another's. The same
 * sealed blob for the same owner maps to the same slot: loading it again costs a hash, not a
 * PKCS#8 decode. */
#include "crypto/keystore_handles.h"
#include "crypto/keystore_proxy.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#define HANDLE_SLOTS 64

struct slot {
	uint64_t id;
	unsigned char tag[KEYSTORE_TAG_BYTES];
	EVP_PKEY *pkey;
	uint64_t used;
};

static struct slot slots[HANDLE_SLOTS];
static uint64_t use_clock;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* the slot to reuse: an empty one, or the least recently used */
static struct slot *victim(void)
{
	struct slot *v = &slots[0];
	for (size_t i = 0; i < HANDLE_SLOTS && v->pkey != NULL; i++) {
		if (slots[i].pkey == NULL || slots[i].used < v->used)
			v = &slots[i];
	}
	return v;
}

static EVP_PKEY *hold(struct slot *s)
{
	s->used = ++use_clock;
	EVP_PKEY_up_ref(s->pkey);
	return s->pkey;
}

EVP_PKEY *keystore_handles_find_tag(const unsigned char *tag, uint64_t *id_r)
{
	EVP_PKEY *found = NULL;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < HANDLE_SLOTS && found == NULL; i++) {
		if (slots[i].pkey != NULL && sodium_memcmp(slots[i].tag, tag, KEYSTORE_TAG_BYTES) == 0) {
			*id_r = slots[i].id;
			found = hold(&slots[i]);
		}
	}
	pthread_mutex_unlock(&lock);
	return found;
}

uint64_t keystore_handles_add(const unsigned char *tag, EVP_PKEY *pkey)
{
	uint64_t id = 0;
	while (id == 0)
		randombytes_buf(&id, sizeof(id));
	pthread_mutex_lock(&lock);
	struct slot *s = victim();
	EVP_PKEY_free(s->pkey);
	*s = (struct slot){.id = id, .pkey = pkey, .used = ++use_clock};
	memcpy(s->tag, tag, KEYSTORE_TAG_BYTES);
	pthread_mutex_unlock(&lock);
	return id;
}

EVP_PKEY *keystore_handles_get(uint64_t id)
{
	EVP_PKEY *found = NULL;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < HANDLE_SLOTS && found == NULL && id != 0; i++) {
		if (slots[i].pkey != NULL && slots[i].id == id)
			found = hold(&slots[i]);
	}
	pthread_mutex_unlock(&lock);
	return found;
}

void keystore_serve_forget_all(void)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < HANDLE_SLOTS; i++) {
		EVP_PKEY_free(slots[i].pkey);
		slots[i] = (struct slot){0};
	}
	pthread_mutex_unlock(&lock);
}
