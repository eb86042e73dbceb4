/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * JSON reading for sovctl: one whole document from a byte buffer, with the
 * position of the first error, so both a spec file and a server answer can
 * be judged before anything in them is trusted.
 */

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "sovd/cleanup.h"

static inline void sovctl_json_putp(struct json_object **o) {
        if (*o)
                (void) json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(sovctl_json_putp)

/*
 * Parses exactly @len bytes of @buf as one JSON document, nested at most
 * SOVCTL_JSON_MAX_DEPTH deep; NUL bytes and trailing non-whitespace are
 * refused. On success *ret owns a reference (possibly to NULL for the
 * document "null"). On failure returns -EINVAL and writes a sentence with
 * the line and column into @errbuf ("line 3, column 7: unexpected
 * character"); -ENOMEM when out of memory. *ret is untouched on failure.
 */
int sovctl_json_parse(const char *buf, size_t len, struct json_object **ret, char *errbuf,
                      size_t errlen);

/*
 * Borrowed member lookups that tolerate anything: a missing member or one
 * of the wrong type yields NULL, so a garbage answer prints as "-".
 * sovctl_json_get_string returns the string of a string member only.
 */
struct json_object *sovctl_json_get(struct json_object *obj, const char *key);
const char *sovctl_json_get_string(struct json_object *obj, const char *key);

/*
 * Adds @v, a new object (NULL: its constructor failed), to @o as @key: @o
 * takes the reference, and on failure @v is released. Returns 0 or -ENOMEM.
 */
int sovctl_json_add_new(struct json_object *o, const char *key, struct json_object *v);
