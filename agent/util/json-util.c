/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <limits.h>

#include "sovd/json-util.h"
#include "sovd/names.h"

/*
 * json-c decodes "\u0000" into a NUL inside the string, or the key, where
 * every C consumer sees the value cut short: {"name": "a\u0000../x"} would be
 * validated and used as "a". The document is valid JSON here, so every
 * backslash starts an escape and a left-to-right scan finds them exactly.
 */
static ssize_t find_nul_escape(const char *buf, size_t len) {
        for (size_t i = 0; i + 1 < len; i++) {
                if (buf[i] != '\\')
                        continue;
                if (buf[i + 1] == 'u' && len - i >= 6 && memcmp(buf + i + 2, "0000", 4) == 0)
                        return (ssize_t) i;
                i++; /* the escaped character, which may be a backslash */
        }
        return -1;
}

int json_parse_strict(const char *buf, size_t len, struct json_object **ret, struct sovd_err *err) {
        struct json_tokener *tok;
        struct json_object *o;
        enum json_tokener_error jerr;
        size_t consumed;
        ssize_t nul;

        if (len > INT_MAX)
                return err_set(err, -EINVAL, "JSON document too large");
        if (memchr(buf, '\0', len))
                return err_set(err, -EINVAL, "JSON document contains a NUL byte");

        tok = json_tokener_new_ex(JSON_MAX_DEPTH);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, buf, (int) len);
        jerr = json_tokener_get_error(tok);
        consumed = json_tokener_get_parse_end(tok);
        if (!o && jerr == json_tokener_continue) {
                /* Whole document given: "continue" means it ended early. */
                jerr = json_tokener_error_parse_eof;
        }
        json_tokener_free(tok);

        if (jerr != json_tokener_success) {
                json_object_put(o);
                return err_set(err, -EINVAL, "invalid JSON at byte %zu: %s", consumed,
                               json_tokener_error_desc(jerr));
        }
        for (size_t i = consumed; i < len; i++)
                if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r') {
                        json_object_put(o);
                        return err_set(err, -EINVAL, "invalid JSON: trailing data at byte %zu", i);
                }
        nul = find_nul_escape(buf, len);
        if (nul >= 0) {
                json_object_put(o);
                return err_set(err, -EINVAL, "invalid JSON at byte %zd: \\u0000 (NUL) is not allowed in strings",
                               nul);
        }
        *ret = o;
        return 0;
}

static const char *sep(const char *where) {
        return where && *where ? "." : "";
}

int json_check_members(struct json_object *obj, const char *const *allowed, const char *where,
                       struct sovd_err *err) {
        if (!json_object_is_type(obj, json_type_object))
                return err_set(err, -EINVAL, "%s: must be a JSON object", where && *where ? where : "body");
        json_object_object_foreach(obj, key, val) {
                bool found = false;
                (void) val;
                for (const char *const *a = allowed; *a; a++)
                        if (streq(*a, key)) {
                                found = true;
                                break;
                        }
                if (!found)
                        return err_set(err, -EINVAL, "%s%s%s: unknown member", where ? where : "", sep(where),
                                       key);
        }
        return 0;
}

static int get_member(struct json_object *obj, const char *key, const char *where, bool required,
                      struct json_object **ret, struct sovd_err *err) {
        struct json_object *v = NULL;

        if (!json_object_object_get_ex(obj, key, &v)) {
                if (required)
                        return err_set(err, -EINVAL, "%s%s%s: required member missing", where ? where : "",
                                       sep(where), key);
                return 0;
        }
        *ret = v;
        return 1;
}

int json_get_string(struct json_object *obj, const char *key, const char *where, bool required,
                    const char **ret, struct sovd_err *err) {
        struct json_object *v = NULL;
        int r;

        r = get_member(obj, key, where, required, &v, err);
        if (r <= 0)
                return r;
        if (!json_object_is_type(v, json_type_string))
                return err_set(err, -EINVAL, "%s%s%s: must be a string", where ? where : "", sep(where), key);
        *ret = json_object_get_string(v);
        return 0;
}

int json_get_int(struct json_object *obj, const char *key, const char *where, bool required, int64_t min,
                 int64_t max, int64_t *ret, struct sovd_err *err) {
        struct json_object *v = NULL;
        int64_t i;
        int r;

        r = get_member(obj, key, where, required, &v, err);
        if (r <= 0)
                return r;
        /* json-c clamps out-of-range integers to INT64_MIN/MAX; those are refused by the range. */
        if (!json_object_is_type(v, json_type_int))
                return err_set(err, -EINVAL, "%s%s%s: must be an integer from %" PRId64 " to %" PRId64,
                               where ? where : "", sep(where), key, min, max);
        i = json_object_get_int64(v);
        if (i < min || i > max || i == INT64_MAX || i == INT64_MIN)
                return err_set(err, -EINVAL,
                               "%s%s%s: must be an integer from %" PRId64 " to %" PRId64 ", got %s",
                               where ? where : "", sep(where), key, min, max, json_object_to_json_string(v));
        *ret = i;
        return 0;
}

int json_get_bool(struct json_object *obj, const char *key, const char *where, bool required, bool *ret,
                  struct sovd_err *err) {
        struct json_object *v = NULL;
        int r;

        r = get_member(obj, key, where, required, &v, err);
        if (r <= 0)
                return r;
        if (!json_object_is_type(v, json_type_boolean))
                return err_set(err, -EINVAL, "%s%s%s: must be true or false", where ? where : "", sep(where), key);
        *ret = json_object_get_boolean(v);
        return 0;
}

static int get_typed(struct json_object *obj, const char *key, const char *where, bool required,
                     enum json_type type, const char *what, struct json_object **ret, struct sovd_err *err) {
        struct json_object *v = NULL;
        int r;

        r = get_member(obj, key, where, required, &v, err);
        if (r <= 0)
                return r;
        if (!json_object_is_type(v, type))
                return err_set(err, -EINVAL, "%s%s%s: must be %s", where ? where : "", sep(where), key, what);
        *ret = v;
        return 0;
}

int json_get_object(struct json_object *obj, const char *key, const char *where, bool required,
                    struct json_object **ret, struct sovd_err *err) {
        return get_typed(obj, key, where, required, json_type_object, "an object", ret, err);
}

int json_get_array(struct json_object *obj, const char *key, const char *where, bool required,
                   struct json_object **ret, struct sovd_err *err) {
        return get_typed(obj, key, where, required, json_type_array, "an array", ret, err);
}

int json_add(struct json_object *obj, const char *key, struct json_object *value) {
        if (json_object_object_add(obj, key, value) < 0) {
                json_object_put(value);
                return -ENOMEM;
        }
        return 0;
}

struct json_object *json_new_string(const char *value) {
        _cleanup_free_ char *valid = NULL;

        /* json-c writes the bytes as they are: what is not UTF-8 would make the document invalid JSON. */
        if (utf8_is_valid(value, strlen(value)))
                return json_object_new_string(value);
        valid = utf8_make_valid(value);
        return valid ? json_object_new_string(valid) : NULL;
}

int json_add_string(struct json_object *obj, const char *key, const char *value) {
        struct json_object *v = NULL;

        if (value) {
                v = json_new_string(value);
                if (!v)
                        return -ENOMEM;
        }
        return json_add(obj, key, v);
}

int json_add_int(struct json_object *obj, const char *key, int64_t value) {
        struct json_object *v = json_object_new_int64(value);

        if (!v)
                return -ENOMEM;
        return json_add(obj, key, v);
}

int json_add_bool(struct json_object *obj, const char *key, bool value) {
        struct json_object *v = json_object_new_boolean(value);

        if (!v)
                return -ENOMEM;
        return json_add(obj, key, v);
}

const char *json_to_string(struct json_object *obj) {
        return json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}
