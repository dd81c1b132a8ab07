/*
 * input.h - declared validation of JSON bodies and query parameters.
 *
 * Handlers describe what they accept and get either typed values or a
 * tt_error naming the field, so every bad input answers 400 with the field
 * and nothing half-done. Strings are checked for UTF-8 by jansson already.
 */
#ifndef TT_API_INPUT_H
#define TT_API_INPUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

/* 400 unknown_field when obj has a key not in allowed (NULL-terminated). */
int in_only_keys(json_t *obj, const char *const *allowed, tt_error *err);

/*
 * Optional string: *out NULL when absent or null. Non-strings and strings
 * longer than max bytes are errors. required: absent/null is missing_field.
 */
int in_string(json_t *obj, const char *key, bool required, size_t max, const char **out,
	      tt_error *err);
/* A JSON boolean (strings like "false" are refused). *present tells if given. */
int in_bool(json_t *obj, const char *key, bool *out, bool *present, tt_error *err);
/* A JSON integer in [min, max]. *present tells if given (null counts as absent). */
int in_int(json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out, bool *present,
	   tt_error *err);
/* An array of at most max_items strings, each 1..max_len bytes. *out NULL when absent. */
int in_string_array(json_t *obj, const char *key, size_t max_items, size_t max_len,
		    json_t **out, tt_error *err);

/* Query parameters (strings): integers, booleans, id lists "1,2,3". */
int q_int(const char *name, const char *v, int64_t min, int64_t max, int64_t *out, tt_error *err);
int q_bool(const char *name, const char *v, bool *out, tt_error *err);
/* Parses "1,2,3" into a malloc'ed array (at most 1000 ids). */
int q_ids(const char *name, const char *v, int64_t **ids, size_t *n, tt_error *err);

#endif
