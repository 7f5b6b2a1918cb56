/* sg_mem.c: allocation wrappers; see sg_mem.h. */
#include "core/sg_mem.h"
#include "core/sg_log.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static void *check(void *p, size_t n)
{
	if (p == NULL && n != 0)
		sg_fatal("out of memory allocating %zu bytes", n);
	return p;
}

void *sg_malloc(size_t n) { return check(malloc(n ? n : 1), n ? n : 1); }

void *sg_calloc(size_t count, size_t size)
{
	return check(calloc(count ? count : 1, size ? size : 1), sg_size_mul(count, size) + 1);
}

void *sg_realloc(void *p, size_t n) { return check(realloc(p, n ? n : 1), n ? n : 1); }

void *sg_reallocarray(void *p, size_t count, size_t size)
{
	return sg_realloc(p, sg_size_mul(count, size));
}

char *sg_strdup(const char *s)
{
	sg_assert(s != NULL);
	return sg_memdup(s, strlen(s) + 1);
}

char *sg_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = sg_malloc(sg_size_add(len, 1));
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

void *sg_memdup(const void *p, size_t n)
{
	void *d = sg_malloc(n);
	if (n > 0)
		memcpy(d, p, n);
	return d;
}

void sg_free_ptr(void **pp)
{
	if (pp == NULL)
		return;
	free(*pp);
	*pp = NULL;
}

void sg_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		sodium_memzero(p, n);
}

void sg_free_secret_ptr(void **pp, size_t n)
{
	if (pp == NULL || *pp == NULL)
		return;
	sg_wipe(*pp, n);
	sg_free_ptr(pp);
}

size_t sg_size_add(size_t a, size_t b)
{
	size_t r;
	if (__builtin_add_overflow(a, b, &r))
		sg_fatal("size overflow: %zu + %zu", a, b);
	return r;
}

size_t sg_size_mul(size_t a, size_t b)
{
	size_t r;
	if (__builtin_mul_overflow(a, b, &r))
		sg_fatal("size overflow: %zu * %zu", a, b);
	return r;
}
