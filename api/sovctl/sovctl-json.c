/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sovctl.h"
#include "sovctl-json.h"

/* Turns a byte offset into "line L, column C" so users can find a spec error. */
static void sovctl_json_position(const char *buf, size_t len, size_t offset, char *out,
                                 size_t outlen) {
        size_t line = 1, col = 1;

        if (offset > len)
                offset = len;
        for (size_t i = 0; i < offset; i++) {
                if (buf[i] == '\n') {
                        line++;
                        col = 1;
                } else
                        col++;
        }
        snprintf(out, outlen, "line %zu, column %zu", line, col);
}

int sovctl_json_parse(const char *buf, size_t len, struct json_object **ret, char *errbuf,
                      size_t errlen) {
        struct json_tokener *tok = NULL;
        struct json_object *obj = NULL;
        enum json_tokener_error jerr;
        const char *nul;
        char pos[64];
        size_t end;

        /* json-c takes an int length; our inputs are capped far below that. */
        if (len > SOVCTL_MAX_ANSWER_BYTES) {
                snprintf(errbuf, errlen, "document larger than %u bytes", SOVCTL_MAX_ANSWER_BYTES);
                return -EINVAL;
        }
        /* json-c would stop at a NUL and report success on a prefix. */
        nul = memchr(buf, '\0', len);
        if (nul) {
                sovctl_json_position(buf, len, (size_t) (nul - buf), pos, sizeof(pos));
                snprintf(errbuf, errlen, "%s: NUL byte in document", pos);
                return -EINVAL;
        }
        if (len == 0) {
                snprintf(errbuf, errlen, "empty document");
                return -EINVAL;
        }

        tok = json_tokener_new_ex(SOVCTL_JSON_MAX_DEPTH);
        if (!tok)
                return -ENOMEM;

        obj = json_tokener_parse_ex(tok, buf, (int) len);
        jerr = json_tokener_get_error(tok);
        if (jerr == json_tokener_continue) {
                /* A bare top-level number ends only at the end of input: say so. */
                obj = json_tokener_parse_ex(tok, "", 1);
                jerr = json_tokener_get_error(tok);
                if (jerr == json_tokener_continue || jerr == json_tokener_success)
                        end = len;
                else
                        end = json_tokener_get_parse_end(tok);
        } else
                end = json_tokener_get_parse_end(tok);

        if (jerr != json_tokener_success) {
                sovctl_json_position(buf, len, end, pos, sizeof(pos));
                if (jerr == json_tokener_continue)
                        snprintf(errbuf, errlen, "%s: unexpected end of document", pos);
                else
                        snprintf(errbuf, errlen, "%s: %s", pos, json_tokener_error_desc(jerr));
                json_object_put(obj);
                json_tokener_free(tok);
                return -EINVAL;
        }

        for (size_t i = end; i < len; i++) {
                if (!strchr(" \t\r\n", buf[i])) {
                        sovctl_json_position(buf, len, i, pos, sizeof(pos));
                        snprintf(errbuf, errlen, "%s: trailing data after the JSON document", pos);
                        json_object_put(obj);
                        json_tokener_free(tok);
                        return -EINVAL;
                }
        }

        json_tokener_free(tok);
        *ret = obj;
        return 0;
}

struct json_object *sovctl_json_get(struct json_object *obj, const char *key) {
        struct json_object *v = NULL;

        if (!json_object_is_type(obj, json_type_object))
                return NULL;
        if (!json_object_object_get_ex(obj, key, &v))
                return NULL;
        return v;
}

int sovctl_json_add_new(struct json_object *o, const char *key, struct json_object *v) {
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

const char *sovctl_json_get_string(struct json_object *obj, const char *key) {
        struct json_object *v = sovctl_json_get(obj, key);

        if (!json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}
