/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sovctl.h"
#include "sovctl-json.h"
#include "sovctl-print.h"

/* Deeper than any sovd document; past it we print compact JSON, not recurse. */
#define SOVCTL_PRINT_MAX_DEPTH 12
/* How much of a non-JSON error body is worth showing. */
#define SOVCTL_RAW_EXCERPT_MAX 200

char *sovctl_sanitize(const char *s) {
        const unsigned char *p;
        char *out, *o;

        if (!s)
                return strdup("-");
        out = malloc(strlen(s) + 1);
        if (!out)
                return NULL;
        for (p = (const unsigned char *) s, o = out; *p; p++) {
                if (*p < 0x20 || *p == 0x7f)
                        *o++ = '?';
                else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
                        /* U+0080..U+009F: C1 controls, CSI among them. */
                        *o++ = '?';
                        p++;
                } else
                        *o++ = (char) *p;
        }
        *o = '\0';
        return out;
}

size_t sovctl_display_width(const char *s) {
        size_t w = 0;

        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if ((*p & 0xc0) != 0x80)
                        w++;
        return w;
}

char *sovctl_format_value(struct json_object *v) {
        char *s = NULL;

        switch (json_object_get_type(v)) {
        case json_type_null:
                return strdup("-");
        case json_type_boolean:
                return strdup(json_object_get_boolean(v) ? "yes" : "no");
        case json_type_string:
                return sovctl_sanitize(json_object_get_string(v));
        case json_type_int:
                if (asprintf(&s, "%" PRId64, json_object_get_int64(v)) < 0)
                        return NULL;
                return s;
        case json_type_double:
        case json_type_object:
        case json_type_array:
                /* As the server wrote it; json-c escapes what JSON requires. */
                return sovctl_sanitize(json_object_to_json_string_ext(
                        v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        }
        return strdup("?");
}

static bool sovctl_is_container(struct json_object *v) {
        return json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array);
}

static bool sovctl_is_empty(struct json_object *v) {
        if (json_object_is_type(v, json_type_object))
                return json_object_object_length(v) == 0;
        if (json_object_is_type(v, json_type_array))
                return json_object_array_length(v) == 0;
        return false;
}

/* True when an array has an object or array in it and so needs "- " items. */
static bool sovctl_array_is_nested(struct json_object *a) {
        size_t n = json_object_array_length(a);

        for (size_t i = 0; i < n; i++)
                if (sovctl_is_container(json_object_array_get_idx(a, i)))
                        return true;
        return false;
}

/* "a, b, c" for an array of scalars. */
static char *sovctl_join_scalars(struct json_object *a) {
        size_t n = json_object_array_length(a);
        char *out = strdup("");

        for (size_t i = 0; out && i < n; i++) {
                _cleanup_free_ char *v = sovctl_format_value(json_object_array_get_idx(a, i));
                char *joined;

                if (!v || asprintf(&joined, "%s%s%s", out, i ? ", " : "", v) < 0) {
                        free(out);
                        return NULL;
                }
                free(out);
                out = joined;
        }
        return out;
}

static int sovctl_print_members(FILE *f, struct json_object *obj, unsigned indent, bool dash,
                                unsigned depth);

static int sovctl_print_items(FILE *f, struct json_object *a, unsigned indent, unsigned depth) {
        size_t n = json_object_array_length(a);

        for (size_t i = 0; i < n; i++) {
                struct json_object *el = json_object_array_get_idx(a, i);
                _cleanup_free_ char *v = NULL;

                if (json_object_is_type(el, json_type_object) && !sovctl_is_empty(el) &&
                    depth < SOVCTL_PRINT_MAX_DEPTH) {
                        int r = sovctl_print_members(f, el, indent + 2, true, depth + 1);
                        if (r < 0)
                                return r;
                        continue;
                }
                v = sovctl_format_value(el);
                if (!v)
                        return -ENOMEM;
                fprintf(f, "%*s- %s\n", (int) indent, "", v);
        }
        return 0;
}

/*
 * @dash: the first member is the start of an array item and gets "- " in
 * the two columns before @indent.
 */
static int sovctl_print_members(FILE *f, struct json_object *obj, unsigned indent, bool dash,
                                unsigned depth) {
        size_t width = 0;
        bool first = true;

        json_object_object_foreach(obj, k0, v0) {
                _cleanup_free_ char *k = sovctl_sanitize(k0);
                size_t w;

                (void) v0;
                if (!k)
                        return -ENOMEM;
                w = sovctl_display_width(k);
                if (w > width)
                        width = w;
        }

        json_object_object_foreach(obj, key, val) {
                _cleanup_free_ char *k = sovctl_sanitize(key), *v = NULL;
                const char *lead = dash && first ? "- " : "";
                unsigned lead_indent = dash && first ? indent - 2 : indent;
                bool nested_ok = depth < SOVCTL_PRINT_MAX_DEPTH;
                int r = 0;

                first = false;
                if (!k)
                        return -ENOMEM;

                if (json_object_is_type(val, json_type_object) && !sovctl_is_empty(val) &&
                    nested_ok) {
                        fprintf(f, "%*s%s%s:\n", (int) lead_indent, "", lead, k);
                        r = sovctl_print_members(f, val, indent + 2, false, depth + 1);
                } else if (json_object_is_type(val, json_type_array) &&
                           sovctl_array_is_nested(val) && nested_ok) {
                        fprintf(f, "%*s%s%s:\n", (int) lead_indent, "", lead, k);
                        r = sovctl_print_items(f, val, indent + 2, depth + 1);
                } else {
                        if (sovctl_is_empty(val))
                                v = strdup("(none)");
                        else if (json_object_is_type(val, json_type_array))
                                v = sovctl_join_scalars(val);
                        else
                                v = sovctl_format_value(val);
                        if (!v)
                                return -ENOMEM;
                        fprintf(f, "%*s%s%s:%*s %s\n", (int) lead_indent, "", lead, k,
                                (int) (width - sovctl_display_width(k)), "", v);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

int sovctl_print_block(FILE *f, struct json_object *obj, unsigned indent) {
        _cleanup_free_ char *v = NULL;

        if (json_object_is_type(obj, json_type_object))
                return sovctl_print_members(f, obj, indent, false, 0);
        if (json_object_is_type(obj, json_type_array) && sovctl_array_is_nested(obj))
                return sovctl_print_items(f, obj, indent, 0);

        v = sovctl_format_value(obj);
        if (!v)
                return -ENOMEM;
        fprintf(f, "%*s%s\n", (int) indent, "", v);
        return 0;
}

void sovctl_print_json(FILE *f, struct json_object *obj) {
        fprintf(f, "%s\n",
                json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* The first line of a non-JSON body, sanitized and cut, for error messages. */
static char *sovctl_raw_excerpt(const struct sovctl_response *resp) {
        _cleanup_free_ char *line = NULL;
        size_t n = 0;

        if (!resp->body)
                return NULL;
        while (n < resp->size && n < SOVCTL_RAW_EXCERPT_MAX && resp->body[n] != '\n' &&
               resp->body[n] != '\r' && resp->body[n] != '\0')
                n++;
        if (n == 0)
                return NULL;
        line = strndup(resp->body, n);
        if (!line)
                return NULL;
        if (n < resp->size) {
                char *more;
                if (asprintf(&more, "%s...", line) < 0)
                        return NULL;
                free(line);
                line = more;
        }
        return sovctl_sanitize(line);
}

void sovctl_print_problem(const struct sovctl_response *resp, struct json_object *problem) {
        _cleanup_free_ char *title = NULL, *detail = NULL, *request = NULL;
        const char *t, *d, *rid;

        if (!json_object_is_type(problem, json_type_object))
                problem = NULL;

        t = sovctl_json_get_string(problem, "title");
        if (!t || !*t)
                t = resp->reason && *resp->reason ? resp->reason : "HTTP error";
        title = sovctl_sanitize(t);

        d = sovctl_json_get_string(problem, "detail");
        if (d && *d)
                detail = sovctl_sanitize(d);
        else if (!problem)
                detail = sovctl_raw_excerpt(resp);

        rid = sovctl_json_get_string(problem, "request_id");
        if (!rid || !*rid)
                rid = resp->request_id;
        if (rid && *rid)
                request = sovctl_sanitize(rid);

        fprintf(stderr, "sovctl: %ld %s%s%s%s%s%s\n", resp->status, strna(title),
                detail ? ": " : "", detail ?: "", request ? " (request " : "",
                request ?: "", request ? ")" : "");

        /* A policy denial explains itself in these members: show them whole. */
        if (problem) {
                static const char *const extra[] = { "decision", "constraints" };
                _cleanup_json_ struct json_object *ext = json_object_new_object();

                if (!ext)
                        return;
                for (size_t i = 0; i < ELEMENTSOF(extra); i++) {
                        struct json_object *v = NULL;

                        if (json_object_object_get_ex(problem, extra[i], &v))
                                json_object_object_add(ext, extra[i], json_object_get(v));
                }
                if (json_object_object_length(ext) > 0)
                        (void) sovctl_print_block(stderr, ext, 2);
        }
}

struct sovctl_table {
        size_t n_columns;
        size_t n_rows; /* including the header */
        size_t allocated;
        char **cells;  /* n_rows * n_columns */
};

struct sovctl_table *sovctl_table_new(const char *const *columns) {
        _cleanup_(sovctl_table_freep) struct sovctl_table *t = NULL;
        _cleanup_free_ char **header = NULL;
        size_t n = 0;

        while (columns[n])
                n++;
        t = calloc(1, sizeof(*t));
        header = calloc(n ? n : 1, sizeof(char *));
        if (!t || !header)
                return NULL;
        t->n_columns = n;
        for (size_t i = 0; i < n; i++)
                header[i] = strdup(columns[i]); /* a NULL left here fails below */
        for (size_t i = 0; i < n; i++)
                if (!header[i]) {
                        for (size_t j = 0; j < n; j++)
                                free(header[j]);
                        return NULL;
                }
        if (sovctl_table_add_row(t, header) < 0)
                return NULL;
        return TAKE_PTR(t);
}

struct sovctl_table *sovctl_table_free(struct sovctl_table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_rows * t->n_columns; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
        return NULL;
}

int sovctl_table_add_row(struct sovctl_table *t, char **cells) {
        if (t->n_rows == t->allocated) {
                size_t a = t->allocated ? t->allocated * 2 : 16;
                char **p = NULL;

                if (a < SIZE_MAX / sizeof(char *) / (t->n_columns ? t->n_columns : 1))
                        p = realloc(t->cells, a * t->n_columns * sizeof(char *));
                if (!p) {
                        for (size_t i = 0; i < t->n_columns; i++)
                                free(cells[i]);
                        return -ENOMEM;
                }
                t->cells = p;
                t->allocated = a;
        }
        memcpy(t->cells + t->n_rows * t->n_columns, cells, t->n_columns * sizeof(char *));
        t->n_rows++;
        return 0;
}

void sovctl_table_print(const struct sovctl_table *t, FILE *f) {
        _cleanup_free_ size_t *width = calloc(t->n_columns ? t->n_columns : 1, sizeof(size_t));

        if (!width)
                return;
        for (size_t r = 0; r < t->n_rows; r++)
                for (size_t c = 0; c < t->n_columns; c++) {
                        const char *s = t->cells[r * t->n_columns + c] ?: "-";
                        size_t w = sovctl_display_width(s);
                        if (w > width[c])
                                width[c] = w;
                }

        for (size_t r = 0; r < t->n_rows; r++) {
                for (size_t c = 0; c < t->n_columns; c++) {
                        const char *s = t->cells[r * t->n_columns + c] ?: "-";
                        bool last = c + 1 == t->n_columns;

                        fputs(s, f);
                        /* No trailing blanks: they only get in the way of `cut` and diffs. */
                        if (!last)
                                fprintf(f, "%*s", (int) (width[c] - sovctl_display_width(s) + 2),
                                        "");
                }
                fputc('\n', f);
        }
}
