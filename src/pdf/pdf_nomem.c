/* pdf_nomem.c: a PDF worker that runs out of memory must die at once. Under its RLIMIT_AS a
 * failed malloc inside fontconfig, cairo or FreeType is "handled" by carrying on: pango 1.50 then
 * waits forever for an FcFontSetSort result that came back NULL (the worker hangs until the wall
 * timeout), or cairo drops a font and the PDF is written without its CJK text. So the worker turns
 * every failed allocation, and every thread that cannot get a stack (GLib would g_error), into an
 * immediate exit with PDF_WORKER_EXIT_NOMEM. This replaces the allocator's entry points (glibc
 * allows it) and pthread_create, forwarding to glibc's own; outside a worker, and under
 * sanitizers (which replace both themselves and abort on failed allocations), nothing changes. */
#include "pdf/pdf_priv.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static volatile bool nomem_fatal;

void pdf_nomem_fatal_enable(void)
{
	nomem_fatal = true;
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__) && !defined(SEALGATE_FUZZING)

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t align, size_t size);

/* Only async-signal-safe calls: the allocator may have failed anywhere, in any thread. */
static void die_of_nomem(void)
{
	static const char msg[] = "sealgate: PDF worker: out of memory\n";
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(PDF_WORKER_EXIT_NOMEM);
}

static void *checked(void *p, size_t size)
{
	if (p == NULL && size > 0 && nomem_fatal)
		die_of_nomem();
	return p;
}

void *malloc(size_t size)
{
	return checked(__libc_malloc(size), size);
}

void *calloc(size_t n, size_t size)
{
	return checked(__libc_calloc(n, size), n | size);
}

/* realloc(p, 0) frees and returns NULL: not a failure. */
void *realloc(void *p, size_t size)
{
	return checked(__libc_realloc(p, size), size);
}

/* glibc's own reallocarray would call its realloc directly, past the check. */
void *reallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return checked(NULL, 1);
	}
	return realloc(p, n * size);
}

void *memalign(size_t align, size_t size)
{
	return checked(__libc_memalign(align, size), size);
}

void *aligned_alloc(size_t align, size_t size)
{
	return checked(__libc_memalign(align, size), size);
}

int posix_memalign(void **p, size_t align, size_t size)
{
	if (align < sizeof(void *) || (align & (align - 1)) != 0)
		return EINVAL;
	*p = checked(__libc_memalign(align, size), size);
	return *p != NULL || size == 0 ? 0 : ENOMEM;
}

typedef int create_fn(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

/* EAGAIN: no address space for the thread's stack (or the task limit: a limit all the same). */
int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	static create_fn *_Atomic real;
	create_fn *create = real;
	if (create == NULL) {
		create = (create_fn *)dlsym(RTLD_NEXT, "pthread_create");
		if (create == NULL)
			return EAGAIN;
		real = create;
	}
	int rc = create(t, attr, fn, arg);
	if (rc == EAGAIN && nomem_fatal)
		die_of_nomem();
	return rc;
}

#endif
