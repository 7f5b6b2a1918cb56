/* store_db_cache.c: the prepared statements of a connection, kept idle between uses. Every
 * store call used to compile its SQL again (about 6% of qmgr's CPU went to sqlite3_prepare);
 * now each text compiles once per connection. A mutex guards the buckets, since SQLite's one
 * connection serves every thread (libpq's pooled connections take it uncontended). */
#include "store/store_db_cache.h"
#include "core/sg_mem.h"

#include <pthread.h>
#include <string.h>

#define CACHE_BUCKETS 128u

struct sdb_cache {
	pthread_mutex_t lock;
	struct sdb_stmt *buckets[CACHE_BUCKETS];
	size_t count;
	size_t capacity;
	void (*destroy)(struct sdb_stmt *s);
};

struct sdb_cache *sdb_cache_new(size_t capacity, void (*destroy)(struct sdb_stmt *s))
{
	struct sdb_cache *cache = sg_calloc(1, sizeof(*cache));
	pthread_mutex_init(&cache->lock, NULL);
	cache->capacity = capacity;
	cache->destroy = destroy;
	return cache;
}

void sdb_cache_free(struct sdb_cache **cachep)
{
	struct sdb_cache *cache = *cachep;
	if (cache == NULL)
		return;
	for (size_t i = 0; i < CACHE_BUCKETS; i++) {
		while (cache->buckets[i] != NULL) {
			struct sdb_stmt *s = cache->buckets[i];
			cache->buckets[i] = s->next;
			cache->destroy(s);
		}
	}
	pthread_mutex_destroy(&cache->lock);
	sg_free(cachep);
}

/* FNV-1a: the texts are short and few; what matters is that equal texts hash equal. */
uint64_t sdb_cache_hash(const char *sql)
{
	uint64_t h = 14695981039346656037u;
	for (const unsigned char *p = (const unsigned char *)sql; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211u;
	return h;
}

struct sdb_stmt *sdb_cache_take(struct sdb_cache *cache, const char *sql)
{
	uint64_t h = sdb_cache_hash(sql);
	pthread_mutex_lock(&cache->lock);
	struct sdb_stmt **link = &cache->buckets[h % CACHE_BUCKETS];
	while (*link != NULL && ((*link)->hash != h || strcmp((*link)->sql, sql) != 0))
		link = &(*link)->next;
	struct sdb_stmt *s = *link;
	if (s != NULL) {
		*link = s->next;
		s->next = NULL;
		cache->count--;
	}
	pthread_mutex_unlock(&cache->lock);
	return s;
}

void sdb_cache_give(struct sdb_cache *cache, struct sdb_stmt *s)
{
	pthread_mutex_lock(&cache->lock);
	bool keep = cache->count < cache->capacity;
	if (keep) {
		struct sdb_stmt **bucket = &cache->buckets[s->hash % CACHE_BUCKETS];
		s->next = *bucket;
		*bucket = s;
		cache->count++;
	}
	pthread_mutex_unlock(&cache->lock);
	if (!keep)
		cache->destroy(s);
}
