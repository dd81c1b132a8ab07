/*
 * alloc.h - allocation that cannot fail (tmux's xmalloc family).
 *
 * Out of memory aborts the process with a message, so ordinary code does not
 * check. Sizes that come from input must be capped *before* allocating.
 */
#ifndef TT_ALLOC_H
#define TT_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh allocation. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
