/*
 * strmap.h - a string -> int64 hash map (open addressing, keys copied).
 * Used for per-import caches of names to ids. Not thread-safe.
 */
#ifndef TT_STRMAP_H
#define TT_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct strmap {
	char **keys;
	int64_t *vals;
	size_t cap;   /* power of two */
	size_t len;
} strmap;

void strmap_init(strmap *m);
void strmap_release(strmap *m);
/* True and *val when key is present. */
bool strmap_get(const strmap *m, const char *key, int64_t *val);
void strmap_put(strmap *m, const char *key, int64_t val);

#endif
