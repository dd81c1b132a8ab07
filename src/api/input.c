/*
 * input.c - validators for JSON bodies and query parameters (see input.h).
 */
#include "api/input.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

int in_only_keys(json_t *obj, const char *const *allowed, tt_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		bool ok = false;

		(void)v;
		for (const char *const *a = allowed; *a; a++)
			if (!strcmp(*a, key))
				ok = true;
		if (!ok)
			return tt_error_set(err, TT_EINVAL, "unknown_field", key,
					    "unknown field \"%.60s\"", key);
	}
	return 0;
}

int in_string(json_t *obj, const char *key, bool required, size_t max, const char **out,
	      tt_error *err)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return tt_error_set(err, TT_EINVAL, "missing_field", key, "%s is required", key);
		return 0;
	}
	if (!json_is_string(v))
		return tt_error_set(err, TT_EINVAL, "invalid_field", key, "%s must be a string", key);
	if (json_string_length(v) > max)
		return tt_error_set(err, TT_EINVAL, "invalid_field", key,
				    "%s is too long (at most %zu bytes)", key, max);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return tt_error_set(err, TT_EINVAL, "invalid_field", key,
				    "%s must not contain NUL characters", key);
	if (required && json_string_length(v) == 0)
		return tt_error_set(err, TT_EINVAL, "missing_field", key, "%s must not be empty", key);
	*out = json_string_value(v);
	return 0;
}

int in_bool(json_t *obj, const char *key, bool *out, bool *present, tt_error *err)
{
	json_t *v = json_object_get(obj, key);

	*present = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return tt_error_set(err, TT_EINVAL, "invalid_field", key,
				    "%s must be true or false (a JSON boolean, not a string)", key);
	*out = json_is_true(v);
	*present = true;
	return 0;
}

int in_int(json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out, bool *present,
	   tt_error *err)
{
	json_t *v = json_object_get(obj, key);

	*present = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return tt_error_set(err, TT_EINVAL, "invalid_field", key,
				    "%s must be a whole number from %lld to %lld", key,
				    (long long)min, (long long)max);
	*out = json_integer_value(v);
	*present = true;
	return 0;
}

int in_string_array(json_t *obj, const char *key, size_t max_items, size_t max_len,
		    json_t **out, tt_error *err)
{
	json_t *v = json_object_get(obj, key);
	size_t i;
	json_t *it;

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return tt_error_set(err, TT_EINVAL, "invalid_field", key,
				    "%s must be an array of strings", key);
	if (json_array_size(v) > max_items)
		return tt_error_set(err, TT_EINVAL, "invalid_field", key,
				    "%s has too many items (at most %zu)", key, max_items);
	json_array_foreach(v, i, it) {
		if (!json_is_string(it))
			return tt_error_set(err, TT_EINVAL, "invalid_field", key,
					    "%s must be an array of strings (item %zu is not)", key,
					    i + 1);
		if (json_string_length(it) > max_len ||
		    strlen(json_string_value(it)) != json_string_length(it))
			return tt_error_set(err, TT_EINVAL, "invalid_field", key,
					    "%s: item %zu is too long (at most %zu bytes)", key, i + 1,
					    max_len);
	}
	*out = v;
	return 0;
}

int q_int(const char *name, const char *v, int64_t min, int64_t max, int64_t *out, tt_error *err)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || *end || n < min || n > max)
		return tt_error_set(err, TT_EINVAL, "invalid_field", name,
				    "%s must be a whole number from %lld to %lld", name,
				    (long long)min, (long long)max);
	*out = n;
	return 0;
}

int q_bool(const char *name, const char *v, bool *out, tt_error *err)
{
	if (!strcmp(v, "true") || !strcmp(v, "1")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "false") || !strcmp(v, "0")) {
		*out = false;
		return 0;
	}
	return tt_error_set(err, TT_EINVAL, "invalid_field", name, "%s must be true or false", name);
}

int q_ids(const char *name, const char *v, int64_t **ids, size_t *n, tt_error *err)
{
	size_t cap = 8;
	const char *p = v;

	*n = 0;
	*ids = xmalloc(cap * sizeof(**ids));
	while (*p) {
		char *end;
		long long x;

		errno = 0;
		x = strtoll(p, &end, 10);
		if (errno || end == p || x <= 0 || (*end && *end != ',') || *n >= 1000) {
			free(*ids);
			*ids = NULL;
			*n = 0;
			return tt_error_set(err, TT_EINVAL, "invalid_field", name,
					    "%s must be a comma-separated list of ids", name);
		}
		if (*n == cap) {
			cap *= 2;
			*ids = xrealloc(*ids, cap * sizeof(**ids));
		}
		(*ids)[(*n)++] = x;
		p = *end ? end + 1 : end;
	}
	if (*n == 0) {
		free(*ids);
		*ids = NULL;
		return tt_error_set(err, TT_EINVAL, "invalid_field", name,
				    "%s must be a comma-separated list of ids", name);
	}
	return 0;
}
