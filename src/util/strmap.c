/*
 * strmap.c - open-addressing string map with linear probing (see strmap.h).
 */
#include "util/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

void strmap_init(strmap *m)
{
	memset(m, 0, sizeof(*m));
}

void strmap_release(strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

bool strmap_get(const strmap *m, const char *key, int64_t *val)
{
	if (!m->cap)
		return false;
	for (size_t i = hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->keys[i])
			return false;
		if (!strcmp(m->keys[i], key)) {
			*val = m->vals[i];
			return true;
		}
	}
}

static void insert(char **keys, int64_t *vals, size_t cap, char *key, int64_t val)
{
	size_t i = hash(key) & (cap - 1);

	while (keys[i])
		i = (i + 1) & (cap - 1);
	keys[i] = key;
	vals[i] = val;
}

void strmap_put(strmap *m, const char *key, int64_t val)
{
	if (m->cap) {
		for (size_t i = hash(key) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1)) {
			if (!strcmp(m->keys[i], key)) {
				m->vals[i] = val;
				return;
			}
		}
	}
	if ((m->len + 1) * 2 > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		char **nk = xcalloc(ncap, sizeof(*nk));
		int64_t *nv = xcalloc(ncap, sizeof(*nv));

		for (size_t i = 0; i < m->cap; i++)
			if (m->keys[i])
				insert(nk, nv, ncap, m->keys[i], m->vals[i]);
		free(m->keys);
		free(m->vals);
		m->keys = nk;
		m->vals = nv;
		m->cap = ncap;
	}
	insert(m->keys, m->vals, m->cap, xstrdup(key), val);
	m->len++;
}
