/* sg_mem.h: allocation that cannot fail (we die on OOM, as the master restarts us),
 * overflow-checked sizes, and destructors that clear the caller's pointer. */
#ifndef SG_MEM_H
#define SG_MEM_H

#include <stddef.h>

void *sg_malloc(size_t n);
void *sg_calloc(size_t count, size_t size);
void *sg_realloc(void *p, size_t n);
void *sg_reallocarray(void *p, size_t count, size_t size);
char *sg_strdup(const char *s);
char *sg_strndup(const char *s, size_t n);
void *sg_memdup(const void *p, size_t n);
/* Frees *pp and sets it to NULL; accepts NULL and *pp == NULL. */
void sg_free_ptr(void **pp);
#define sg_free(pp) sg_free_ptr((void **)(pp))
/* Wipes n bytes at *pp before freeing it: for passwords, keys, PINs. */
void sg_free_secret_ptr(void **pp, size_t n);
#define sg_free_secret(pp, n) sg_free_secret_ptr((void **)(pp), (n))
void sg_wipe(void *p, size_t n);

/* Size arithmetic that aborts instead of wrapping. */
size_t sg_size_add(size_t a, size_t b);
size_t sg_size_mul(size_t a, size_t b);

#endif
