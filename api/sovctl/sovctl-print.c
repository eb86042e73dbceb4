/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sovd/strbuf.h"
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

char *sovctl_join_scalars(struct json_object *a) {
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

        /* A policy denial explains itself: which place, which tag, which clause. */
        if (problem) {
                struct json_object *decision = sovctl_json_get(problem, "decision");
                const char *type = sovctl_json_get_string(problem, "type");

                if (json_object_is_type(decision, json_type_object) && type &&
                    streq(type, SOVCTL_PROBLEM_POLICY_DENIED))
                        (void) sovctl_print_decision(stderr, decision, 2, true);
                else if (decision && !json_object_is_type(decision, json_type_null)) {
                        /* Not the shape we know: still shown, whole. */
                        fputs("  decision:\n", stderr);
                        (void) sovctl_print_block(stderr, decision, 4);
                }
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

int sovctl_table_add_built(struct sovctl_table *t, char **cells, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!cells[i]) {
                        for (size_t j = 0; j < n; j++)
                                free(cells[j]);
                        return -ENOMEM;
                }
        return sovctl_table_add_row(t, cells);
}

char *sovctl_short_digest(struct json_object *digest) {
        _cleanup_free_ char *s = NULL;

        if (!json_object_is_type(digest, json_type_string))
                return sovctl_format_value(digest);
        s = strndup(json_object_get_string(digest), 12);
        return s ? sovctl_sanitize(s) : NULL;
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

/* ---- sovereignty: decisions, policies, compliance ------------------------ */

/* Columns a wrapped paragraph (a policy's reasoning) may fill. */
#define SOVCTL_WRAP_COLUMNS 78

/* The rule kinds in the order policy-format.md lists them. */
static const char *const sovctl_rule_kinds[] = { "compute", "storage", "snapshot", "backup", "migration" };

/*
 * Prints "KEY: VALUE" @indent spaces in, with the value in the column after
 * a @width-wide key, so that a block lines up. Key and value are sanitized
 * (tag names come from the server too). A NULL @value prints "KEY:" alone,
 * the head of a nested block or list.
 */
static int sovctl_print_field(FILE *f, unsigned indent, size_t width, const char *key, const char *value) {
        _cleanup_free_ char *k = sovctl_sanitize(key), *v = NULL;
        size_t w;

        if (!k)
                return -ENOMEM;
        if (!value) {
                fprintf(f, "%*s%s:\n", (int) indent, "", k);
                return 0;
        }
        v = sovctl_sanitize(value);
        if (!v)
                return -ENOMEM;
        w = sovctl_display_width(k);
        fprintf(f, "%*s%s:%*s %s\n", (int) indent, "", k, (int) (width > w ? width - w : 0), "", v);
        return 0;
}

/* As sovctl_print_field(), taking ownership of @value; NULL @value means out of memory. */
static int sovctl_print_field_take(FILE *f, unsigned indent, size_t width, const char *key, char *value) {
        _cleanup_free_ char *v = value;

        if (!v)
                return -ENOMEM;
        return sovctl_print_field(f, indent, width, key, v);
}

/*
 * "KEY:" followed by the items of array @a as "- item" lines, or
 * "KEY: (none)" when it is empty; anything else is shown as one value.
 */
static int sovctl_print_list(FILE *f, unsigned indent, size_t width, const char *key, struct json_object *a) {
        int r;

        if (!json_object_is_type(a, json_type_array))
                return sovctl_print_field_take(f, indent, width, key, sovctl_format_value(a));
        if (json_object_array_length(a) == 0)
                return sovctl_print_field(f, indent, width, key, "(none)");
        r = sovctl_print_field(f, indent, width, key, NULL);
        if (r < 0)
                return r;
        return sovctl_print_items(f, a, indent + 2, 1);
}

/* Appends @v as sovctl_format_value() shows it. */
static void sovctl_append_value(struct strbuf *sb, struct json_object *v) {
        _cleanup_free_ char *s = sovctl_format_value(v);

        if (!s)
                sb->oom = true;
        else
                strbuf_append(sb, s);
}

/* Appends the scalars of array @a as "a, b, c" (a non-array as one value). */
static void sovctl_append_joined(struct strbuf *sb, struct json_object *a) {
        size_t n;

        if (!json_object_is_type(a, json_type_array)) {
                sovctl_append_value(sb, a);
                return;
        }
        n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        strbuf_append(sb, ", ");
                sovctl_append_value(sb, json_object_array_get_idx(a, i));
        }
}

/* The string built in @sb, sanitized; NULL when out of memory. */
static char *sovctl_strbuf_finish(struct strbuf *sb) {
        _cleanup_free_ char *raw = strbuf_steal(sb);

        if (!raw)
                return NULL;
        return sovctl_sanitize(raw);
}

/* "secnumcloud:3.2 until 2027-06-30" for an object, the string itself otherwise. */
static void sovctl_append_certification(struct strbuf *sb, struct json_object *c) {
        const char *name, *version, *until;

        if (!json_object_is_type(c, json_type_object)) {
                sovctl_append_value(sb, c);
                return;
        }
        name = sovctl_json_get_string(c, "name");
        version = sovctl_json_get_string(c, "version");
        until = sovctl_json_get_string(c, "valid_until");
        strbuf_append(sb, name ?: "?");
        if (version)
                strbuf_appendf(sb, ":%s", version);
        if (until)
                strbuf_appendf(sb, " until %s", until);
}

static void sovctl_append_certifications(struct strbuf *sb, struct json_object *certs) {
        size_t n;

        if (!json_object_is_type(certs, json_type_array)) {
                sovctl_append_value(sb, certs);
                return;
        }
        n = json_object_array_length(certs);
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        strbuf_append(sb, ", ");
                sovctl_append_certification(sb, json_object_array_get_idx(certs, i));
        }
}

char *sovctl_format_certifications(struct json_object *certs) {
        _cleanup_strbuf_ struct strbuf sb = {};

        if (!json_object_is_type(certs, json_type_array))
                return sovctl_format_value(certs);
        if (json_object_array_length(certs) == 0)
                return strdup("-");
        sovctl_append_certifications(&sb, certs);
        return sovctl_strbuf_finish(&sb);
}

char *sovctl_format_tags(struct json_object *tags) {
        _cleanup_strbuf_ struct strbuf sb = {};
        bool first = true;

        if (!json_object_is_type(tags, json_type_object))
                return sovctl_format_value(tags);
        if (json_object_object_length(tags) == 0)
                return strdup("(none: untagged)");
        json_object_object_foreach(tags, key, val) {
                strbuf_appendf(&sb, "%s%s=", first ? "" : ", ", key);
                first = false;
                if (streq(key, "certifications") && json_object_is_type(val, json_type_array)) {
                        strbuf_append(&sb, "[");
                        sovctl_append_certifications(&sb, val);
                        strbuf_append(&sb, "]");
                } else
                        sovctl_append_value(&sb, val);
        }
        return sovctl_strbuf_finish(&sb);
}

/* "storage pool 'us-pool'", "host 'kvm-par1-07'", "the given tags". */
static void sovctl_append_place(struct strbuf *sb, const char *type, const char *name) {
        if (!type) {
                strbuf_appendf(sb, "'%s'", name ?: "?");
                return;
        }
        if (streq(type, "host")) {
                if (name && streq(name, "this host"))
                        strbuf_append(sb, "this host");
                else
                        strbuf_appendf(sb, "host '%s'", name ?: "?");
        } else if (streq(type, "storage_pool"))
                strbuf_appendf(sb, "storage pool '%s'", name ?: "?");
        else if (streq(type, "backup_target"))
                strbuf_appendf(sb, "backup target '%s'", name ?: "?");
        else if (streq(type, "path"))
                strbuf_appendf(sb, "disk path '%s' (in no pool)", name ?: "?");
        else if (streq(type, "place") && (!name || streq(name, "(given tags)")))
                strbuf_append(sb, "the given tags");
        else
                strbuf_appendf(sb, "%s '%s'", type, name ?: "?");
}

/*
 * One violation on one line:
 *   jurisdiction: found US, allowed {@fr}
 *   certifications: found 3.2, required {secnumcloud:3.2}; certification secnumcloud:3.2 expired on 2027-06-30
 *   untagged: storage_pool 'x' has no tags: an untagged place is never compliant
 * The server's reason is added when the lists alone do not say it all.
 */
static char *sovctl_format_violation(struct json_object *v) {
        static const char *const wants[] = { "allowed", "denied", "required" };
        _cleanup_strbuf_ struct strbuf sb = {};
        const char *tag, *reason;
        struct json_object *found;
        const char *want = NULL;

        if (!json_object_is_type(v, json_type_object))
                return sovctl_format_value(v);
        tag = sovctl_json_get_string(v, "tag");
        reason = sovctl_json_get_string(v, "reason");
        found = sovctl_json_get(v, "found");

        if (tag && streq(tag, "*")) {
                strbuf_appendf(&sb, "untagged: %s", reason ?: "the place has no tags");
                return sovctl_strbuf_finish(&sb);
        }
        strbuf_appendf(&sb, "%s: found ", tag ?: "?");
        if (!found || json_object_is_type(found, json_type_null))
                strbuf_append(&sb, "nothing");
        else
                sovctl_append_value(&sb, found);
        for (size_t i = 0; i < ELEMENTSOF(wants); i++) {
                struct json_object *l = sovctl_json_get(v, wants[i]);

                if (!l)
                        continue;
                want = wants[i];
                strbuf_appendf(&sb, ", %s {", want);
                sovctl_append_joined(&sb, l);
                strbuf_append(&sb, "}");
                break;
        }
        /* "found 3.2, required {secnumcloud:3.2}" needs the why (expired? too old?). */
        if (reason && (!want || streq(want, "required")))
                strbuf_appendf(&sb, "; %s", reason);
        return sovctl_strbuf_finish(&sb);
}

static int sovctl_print_check(FILE *f, struct json_object *c, unsigned indent, bool brief) {
        _cleanup_strbuf_ struct strbuf sb = {};
        struct json_object *place = sovctl_json_get(c, "place"), *violations = sovctl_json_get(c, "violations"),
                           *hidden = sovctl_json_get(c, "violations_not_shown");
        const char *outcome = sovctl_json_get_string(c, "outcome");
        _cleanup_free_ char *head = NULL;
        int r;

        strbuf_appendf(&sb, "%s on ", sovctl_json_get_string(c, "kind") ?: "?");
        sovctl_append_place(&sb, sovctl_json_get_string(place, "type"), sovctl_json_get_string(place, "name"));
        strbuf_appendf(&sb, ": %s", outcome ?: "?");
        head = sovctl_strbuf_finish(&sb);
        if (!head)
                return -ENOMEM;
        fprintf(f, "%*s%s\n", (int) indent, "", head);
        /* In a refusal, the places that passed need no more than their line. */
        if (brief && outcome && streq(outcome, "allow"))
                return 0;

        r = sovctl_print_field_take(f, indent + 2, 10, "tags", sovctl_format_tags(sovctl_json_get(place, "tags")));
        if (r < 0)
                return r;
        if (json_object_is_type(violations, json_type_array) && json_object_array_length(violations) > 0) {
                size_t n = json_object_array_length(violations);

                fprintf(f, "%*sviolations:\n", (int) indent + 2, "");
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *v = sovctl_format_violation(json_object_array_get_idx(violations, i));

                        if (!v)
                                return -ENOMEM;
                        fprintf(f, "%*s- %s\n", (int) indent + 4, "", v);
                }
                if (json_object_is_type(hidden, json_type_int) && json_object_get_int64(hidden) > 0)
                        fprintf(f, "%*s- ... and %" PRId64 " more not shown\n", (int) indent + 4, "",
                                json_object_get_int64(hidden));
        }
        return sovctl_print_list(f, indent + 2, 10, "refs", sovctl_json_get(c, "refs"));
}

/* The check @by ({"kind", "place": NAME}) names, for its place's type; NULL when none matches. */
static struct json_object *sovctl_decided_check(struct json_object *checks, struct json_object *by) {
        const char *kind = sovctl_json_get_string(by, "kind"), *name = sovctl_json_get_string(by, "place");
        size_t n;

        if (!kind || !name || !json_object_is_type(checks, json_type_array))
                return NULL;
        n = json_object_array_length(checks);
        for (size_t i = 0; i < n; i++) {
                struct json_object *c = json_object_array_get_idx(checks, i);
                const char *k = sovctl_json_get_string(c, "kind");
                const char *p = sovctl_json_get_string(sovctl_json_get(c, "place"), "name");

                if (k && p && streq(k, kind) && streq(p, name))
                        return c;
        }
        return NULL;
}

int sovctl_print_decision(FILE *f, struct json_object *d, unsigned indent, bool brief) {
        static const size_t width = sizeof("decided by") - 1;
        struct json_object *policy = sovctl_json_get(d, "policy"), *checks = sovctl_json_get(d, "checks"),
                           *by = sovctl_json_get(d, "decided_by"), *revision = NULL;
        const char *outcome = sovctl_json_get_string(d, "outcome"), *mode = sovctl_json_get_string(d, "mode");
        _cleanup_strbuf_ struct strbuf sb = {};
        int r;

        if (!json_object_is_type(d, json_type_object))
                return sovctl_print_block(f, d, indent);

        /* The id finds the decision in the audit log (and in the journal). */
        r = sovctl_print_field_take(f, indent, width, "decision", sovctl_format_value(sovctl_json_get(d, "id")));
        if (r >= 0 && !brief)
                r = sovctl_print_field_take(f, indent, width, "time", sovctl_format_value(sovctl_json_get(d, "time")));
        if (r < 0)
                return r;

        strbuf_append(&sb, sovctl_json_get_string(policy, "name") ?: "?");
        if (json_object_object_get_ex(policy, "revision", &revision) && !revision)
                /* api.md: revision and digest are null for a policy that is not loaded. */
                strbuf_append(&sb, " (not loaded on this host: denied by default)");
        else if (json_object_is_type(revision, json_type_int))
                strbuf_appendf(&sb, ", revision %" PRId64, json_object_get_int64(revision));
        r = sovctl_print_field_take(f, indent, width, "policy", sovctl_strbuf_finish(&sb));
        if (r >= 0 && sovctl_json_get_string(policy, "digest"))
                r = sovctl_print_field(f, indent, width, "digest", sovctl_json_get_string(policy, "digest"));
        if (r >= 0)
                r = sovctl_print_field_take(f, indent, width, "operation",
                                            sovctl_format_value(sovctl_json_get(d, "operation")));
        if (r < 0)
                return r;

        strbuf_append(&sb, outcome ?: "?");
        if (mode && streq(mode, "audit"))
                strbuf_append(&sb, json_object_get_boolean(sovctl_json_get(d, "would_deny"))
                                           ? " (audit mode: enforce would deny)"
                                           : " (audit mode)");
        else if (mode)
                strbuf_appendf(&sb, " (%s mode)", mode);
        r = sovctl_print_field_take(f, indent, width, "outcome", sovctl_strbuf_finish(&sb));
        if (r < 0)
                return r;

        if (json_object_is_type(by, json_type_object)) {
                struct json_object *c = sovctl_decided_check(checks, by);

                strbuf_appendf(&sb, "%s rule on ", sovctl_json_get_string(by, "kind") ?: "?");
                sovctl_append_place(&sb, sovctl_json_get_string(sovctl_json_get(c, "place"), "type"),
                                    sovctl_json_get_string(by, "place"));
                r = sovctl_print_field_take(f, indent, width, "decided by", sovctl_strbuf_finish(&sb));
                if (r < 0)
                        return r;
        }
        /* A refusal already has the reason on its first line, as the problem's detail. */
        if (!brief) {
                r = sovctl_print_field_take(f, indent, width, "reason",
                                            sovctl_format_value(sovctl_json_get(d, "reason")));
                if (r < 0)
                        return r;
        }

        if (!json_object_is_type(checks, json_type_array) || json_object_array_length(checks) == 0)
                return sovctl_print_list(f, indent, width, "checks", checks);
        fprintf(f, "%*schecks:\n", (int) indent, "");
        for (size_t i = 0; i < json_object_array_length(checks); i++) {
                r = sovctl_print_check(f, json_object_array_get_idx(checks, i), indent + 2, brief);
                if (r < 0)
                        return r;
        }
        return 0;
}

int sovctl_print_compliance(FILE *f, struct json_object *c, unsigned indent) {
        static const size_t width = sizeof("admitted digest") - 1;
        static const struct {
                const char *key, *label;
        } scalars[] = {
                { "admitted_digest", "admitted digest" },
                { "current_digest", "current digest" },
                { "policy_changed", "policy changed" },
        };
        struct json_object *drift = sovctl_json_get(c, "drift");
        int r;

        if (!json_object_is_type(c, json_type_object))
                return sovctl_print_block(f, c, indent);

        r = sovctl_print_field_take(f, indent, width, "status", sovctl_format_value(sovctl_json_get(c, "status")));
        if (r >= 0)
                r = sovctl_print_list(f, indent, width, "reasons", sovctl_json_get(c, "reasons"));
        if (r < 0)
                return r;
        /* An unbound VM's compliance has only status and reasons: show no more than was said. */
        for (size_t i = 0; i < ELEMENTSOF(scalars); i++) {
                struct json_object *v = NULL;

                if (!json_object_object_get_ex(c, scalars[i].key, &v))
                        continue;
                r = sovctl_print_field_take(f, indent, width, scalars[i].label, sovctl_format_value(v));
                if (r < 0)
                        return r;
        }
        if (!drift)
                return 0;
        if (!json_object_is_type(drift, json_type_array) || json_object_array_length(drift) == 0)
                return sovctl_print_list(f, indent, width, "drift", drift);

        fprintf(f, "%*sdrift:\n", (int) indent, "");
        for (size_t i = 0; i < json_object_array_length(drift); i++) {
                struct json_object *e = json_object_array_get_idx(drift, i);
                _cleanup_strbuf_ struct strbuf sb = {};
                _cleanup_free_ char *line = NULL;

                if (json_object_is_type(e, json_type_object)) {
                        /* "2026-11-23T18:20:01Z started: bound VM started outside the sovd API" */
                        strbuf_appendf(&sb, "%s %s", sovctl_json_get_string(e, "time") ?: "-",
                                       sovctl_json_get_string(e, "event") ?: "?");
                        if (sovctl_json_get_string(e, "detail"))
                                strbuf_appendf(&sb, ": %s", sovctl_json_get_string(e, "detail"));
                } else
                        sovctl_append_value(&sb, e);
                line = sovctl_strbuf_finish(&sb);
                if (!line)
                        return -ENOMEM;
                fprintf(f, "%*s- %s\n", (int) indent + 2, "", line);
        }
        return 0;
}

int sovctl_print_vm(FILE *f, struct json_object *vm) {
        _cleanup_json_ struct json_object *rest = NULL;
        struct json_object *compliance = NULL;
        int r;

        if (!json_object_is_type(vm, json_type_object) ||
            !json_object_object_get_ex(vm, "compliance", &compliance))
                return sovctl_print_block(f, vm, 0);

        /* Everything else as a generic block; compliance in words after it. */
        rest = json_object_new_object();
        if (!rest)
                return -ENOMEM;
        json_object_object_foreach(vm, key, val) {
                if (streq(key, "compliance"))
                        continue;
                if (json_object_object_add(rest, key, json_object_get(val)) < 0) {
                        json_object_put(val);
                        return -ENOMEM;
                }
        }
        r = sovctl_print_block(f, rest, 0);
        if (r < 0)
                return r;
        if (!json_object_is_type(compliance, json_type_object))
                return sovctl_print_field_take(f, 0, 0, "compliance", sovctl_format_value(compliance));
        fputs("compliance:\n", f);
        return sovctl_print_compliance(f, compliance, 2);
}

int sovctl_print_vm_done(FILE *f, struct json_object *vm, const char *arg, const char *uuid, const char *done) {
        _cleanup_free_ char *name = sovctl_sanitize(sovctl_json_get_string(vm, "name") ?: arg),
                            *state = sovctl_format_value(sovctl_json_get(vm, "state"));

        if (!name || !state)
                return -ENOMEM;
        fprintf(f, "%s (%s) %s; state: %s\n", name, uuid, done, state);
        return 0;
}

/* Prints @text word-wrapped, @indent spaces in; its own line breaks are kept. */
static int sovctl_print_wrapped(FILE *f, const char *text, unsigned indent) {
        _cleanup_free_ char *copy = strdup(text);
        char *line = copy;

        if (!copy)
                return -ENOMEM;
        for (;;) {
                char *nl = strchr(line, '\n'), *save = NULL;
                _cleanup_free_ char *clean = NULL;
                size_t col = 0;

                if (nl)
                        *nl = '\0';
                clean = sovctl_sanitize(line);
                if (!clean)
                        return -ENOMEM;
                for (char *w = strtok_r(clean, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                        size_t ww = sovctl_display_width(w);

                        if (col > 0 && indent + col + 1 + ww > SOVCTL_WRAP_COLUMNS) {
                                fputc('\n', f);
                                col = 0;
                        }
                        if (col == 0)
                                fprintf(f, "%*s", (int) indent, "");
                        else {
                                fputc(' ', f);
                                col++;
                        }
                        fputs(w, f);
                        col += ww;
                }
                fputc('\n', f);
                if (!nl)
                        return 0;
                line = nl + 1;
        }
}

/* Adds a reference to the borrowed @v (JSON null is NULL) to @o; -ENOMEM on failure. */
static int sovctl_json_add_ref(struct json_object *o, const char *key, struct json_object *v) {
        if (json_object_object_add(o, key, json_object_get(v)) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

/* One rule of a policy document, in words, @indent spaces in. */
static int sovctl_print_rule(FILE *f, struct json_object *rule, unsigned indent) {
        static const char *const lists[] = { "allow", "deny" };
        _cleanup_json_ struct json_object *fields = NULL;
        size_t width = 0;
        int r;

        if (!json_object_is_type(rule, json_type_object))
                return sovctl_print_block(f, rule, indent);
        if (json_object_object_length(rule) == 0) {
                fprintf(f, "%*sany tagged place\n", (int) indent, "");
                return 0;
        }

        /* label -> value, in the order shown; refs are a list and come last. */
        fields = json_object_new_object();
        if (!fields)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
                struct json_object *m = sovctl_json_get(rule, lists[i]);

                if (!m)
                        continue;
                if (!json_object_is_type(m, json_type_object)) {
                        if (sovctl_json_add_ref(fields, lists[i], m) < 0)
                                return -ENOMEM;
                        continue;
                }
                json_object_object_foreach(m, tag, values) {
                        _cleanup_strbuf_ struct strbuf sb = {};
                        _cleanup_free_ char *label = NULL, *v = NULL;

                        if (asprintf(&label, "%s %s", lists[i], tag) < 0) {
                                label = NULL;
                                return -ENOMEM;
                        }
                        sovctl_append_joined(&sb, values);
                        v = strbuf_steal(&sb);
                        if (!v || sovctl_json_add_new(fields, label, json_object_new_string(v)) < 0)
                                return -ENOMEM;
                }
        }
        json_object_object_foreach(rule, key, val) {
                _cleanup_strbuf_ struct strbuf sb = {};
                _cleanup_free_ char *v = NULL;

                if (streq(key, "allow") || streq(key, "deny") || streq(key, "refs"))
                        continue;
                if (streq(key, "require_certifications")) {
                        sovctl_append_joined(&sb, val);
                        strbuf_append(&sb, json_object_is_type(val, json_type_array)
                                                   ? " (that version or later, not expired)"
                                                   : "");
                        v = strbuf_steal(&sb);
                        if (!v || sovctl_json_add_new(fields, "require certifications", json_object_new_string(v)) < 0)
                                return -ENOMEM;
                } else if (streq(key, "different_site_from_host")) {
                        if (sovctl_json_add_ref(fields, "different site from host", val) < 0)
                                return -ENOMEM;
                } else if (sovctl_json_add_ref(fields, key, val) < 0)
                        return -ENOMEM;
        }

        json_object_object_foreach(fields, k1, v1) {
                (void) v1;
                if (sovctl_display_width(k1) > width)
                        width = sovctl_display_width(k1);
        }
        json_object_object_foreach(fields, k2, v2) {
                r = sovctl_print_field_take(f, indent, width, k2, sovctl_format_value(v2));
                if (r < 0)
                        return r;
        }
        if (!json_object_object_get_ex(rule, "refs", NULL))
                return 0;
        return sovctl_print_list(f, indent, width, "refs", sovctl_json_get(rule, "refs"));
}

int sovctl_print_policy(FILE *f, struct json_object *p) {
        static const char *const fields[] = { "name", "revision", "mode", "digest", "description" };
        static const size_t width = sizeof("description") - 1;
        struct json_object *rules = sovctl_json_get(sovctl_json_get(p, "document"), "rules");
        const char *reasoning = sovctl_json_get_string(p, "reasoning");
        int r;

        if (!json_object_is_type(p, json_type_object))
                return sovctl_print_block(f, p, 0);
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                r = sovctl_print_field_take(f, 0, width, fields[i], sovctl_format_value(sovctl_json_get(p, fields[i])));
                if (r < 0)
                        return r;
        }
        if (reasoning && *reasoning) {
                fputs("reasoning:\n", f);
                r = sovctl_print_wrapped(f, reasoning, 2);
        } else
                r = sovctl_print_field(f, 0, width, "reasoning", "(none)");
        if (r < 0)
                return r;

        if (!json_object_is_type(rules, json_type_object))
                return sovctl_print_field_take(f, 0, width, "rules", sovctl_format_value(rules));
        fputs("rules:\n", f);
        /* The five kinds in their usual order, then anything a newer sovd adds. */
        for (size_t i = 0; i < ELEMENTSOF(sovctl_rule_kinds); i++) {
                struct json_object *rule = NULL;

                if (!json_object_object_get_ex(rules, sovctl_rule_kinds[i], &rule))
                        continue;
                fprintf(f, "  %s:\n", sovctl_rule_kinds[i]);
                r = sovctl_print_rule(f, rule, 4);
                if (r < 0)
                        return r;
        }
        json_object_object_foreach(rules, kind, rule) {
                bool known = false;

                for (size_t i = 0; i < ELEMENTSOF(sovctl_rule_kinds); i++)
                        known = known || streq(kind, sovctl_rule_kinds[i]);
                if (known)
                        continue;
                r = sovctl_print_field(f, 2, 0, kind, NULL);
                if (r >= 0)
                        r = sovctl_print_rule(f, rule, 4);
                if (r < 0)
                        return r;
        }
        return 0;
}
