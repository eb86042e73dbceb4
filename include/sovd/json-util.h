/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Strict reading of outside JSON on top of json-c: whole-document parsing
 * with a depth limit, rejection of unknown members, typed getters that say
 * which member was wrong and why. Every function here fills @err with a
 * sentence naming the member by its JSON path ("disks[1].pool").
 */

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#include "sovd/errors.h"

static inline void json_object_putp(struct json_object **o) {
        if (*o)
                (void) json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_object_putp)

/* Deepest nesting accepted from outside; sovd's own documents need 6. */
#define JSON_MAX_DEPTH 16

/*
 * Parses exactly @len bytes as one JSON document (NUL bytes, \u0000
 * escapes and trailing data refused). On success *ret owns a reference.
 * -EINVAL on bad JSON.
 */
int json_parse_strict(const char *buf, size_t len, struct json_object **ret, struct sovd_err *err);

/*
 * Checks that @obj is an object whose members are all in the NULL-terminated
 * list @allowed. @where names the object in messages ("" for the document).
 */
int json_check_members(struct json_object *obj, const char *const *allowed, const char *where,
                       struct sovd_err *err);

/*
 * Typed member getters. A missing member returns 0 and leaves *ret alone
 * when !required, -EINVAL when required; a member of the wrong type or out
 * of range returns -EINVAL. Returned strings are borrowed from @obj.
 */
int json_get_string(struct json_object *obj, const char *key, const char *where, bool required,
                    const char **ret, struct sovd_err *err);
int json_get_int(struct json_object *obj, const char *key, const char *where, bool required,
                 int64_t min, int64_t max, int64_t *ret, struct sovd_err *err);
int json_get_bool(struct json_object *obj, const char *key, const char *where, bool required,
                  bool *ret, struct sovd_err *err);
/* Gets a member that must be an object (type json_type_object) or array. */
int json_get_object(struct json_object *obj, const char *key, const char *where, bool required,
                    struct json_object **ret, struct sovd_err *err);
int json_get_array(struct json_object *obj, const char *key, const char *where, bool required,
                   struct json_object **ret, struct sovd_err *err);

/*
 * A JSON string of @value; bytes that are not well-formed UTF-8 become
 * U+FFFD (see utf8_make_valid()), so every document sovd writes is UTF-8.
 * NULL on ENOMEM.
 */
struct json_object *json_new_string(const char *value);
/* Adds a string member (made valid UTF-8 as above), or JSON null when @value is NULL. Returns -ENOMEM. */
int json_add_string(struct json_object *obj, const char *key, const char *value);
int json_add_int(struct json_object *obj, const char *key, int64_t value);
int json_add_bool(struct json_object *obj, const char *key, bool value);
/* Takes ownership of @value in all cases. */
int json_add(struct json_object *obj, const char *key, struct json_object *value);

/* Serialises compactly; the string is owned by @obj. */
const char *json_to_string(struct json_object *obj);
