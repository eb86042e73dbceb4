/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Human output for sovctl: aligned tables, indented "key: value" blocks and
 * problem documents. Everything printed here may come from the server, so
 * every string is passed through sovctl_sanitize() first: a hostile answer
 * must not be able to drive the user's terminal with escape sequences, and
 * a member of an unexpected type is shown as best we can, never trusted.
 */

#include <stdbool.h>
#include <stdio.h>
#include <json-c/json.h>

#include "sovd/cleanup.h"
#include "sovctl-http.h"

/*
 * Returns a malloc'd copy of @s with C0/C1 control characters and DEL
 * replaced by '?' (NULL @s gives "-"). NULL only when out of memory.
 */
char *sovctl_sanitize(const char *s);

/* Columns @s takes on a UTF-8 terminal (one per code point; wide glyphs ignored). */
size_t sovctl_display_width(const char *s);

/*
 * Formats a scalar for humans: null/missing "-", booleans "yes"/"no",
 * strings sanitized, numbers as written; containers as compact JSON.
 * Returns a malloc'd string, or NULL when out of memory.
 */
char *sovctl_format_value(struct json_object *v);

/* "a, b, c" for an array of scalars, each as sovctl_format_value() shows it; malloc'd, NULL when out of memory. */
char *sovctl_join_scalars(struct json_object *a);

/*
 * Prints the members of object @obj as an aligned "key: value" block, @indent
 * spaces in: nested objects become indented blocks, arrays of scalars a
 * comma-separated list, arrays of objects "- " items. A non-object @obj is
 * printed as one value. Returns 0 or -ENOMEM.
 */
int sovctl_print_block(FILE *f, struct json_object *obj, unsigned indent);

/* Pretty-prints @obj as JSON followed by a newline (for --json). */
void sovctl_print_json(FILE *f, struct json_object *obj);

/* The problem type of a refusal by a sovereignty policy (docs/api.md). */
#define SOVCTL_PROBLEM_POLICY_DENIED "urn:sovd:problem:policy-denied"

/*
 * Reports a 4xx/5xx answer on stderr in one line,
 *   sovctl: 409 Conflict: domain 'web-1' is running; stop it first (request 3f0c...)
 * For a policy-denied problem carrying a "decision", the decision follows
 * as sovctl_print_decision() shows it in brief; a "decision" of another
 * shape is shown as a generic block. @problem is the parsed body or NULL
 * when it was not JSON; then the start of the raw body is shown.
 */
void sovctl_print_problem(const struct sovctl_response *resp, struct json_object *problem);

/*
 * A place's tags on one line: "jurisdiction=FR, site=par-1,
 * certifications=[secnumcloud:3.2 until 2027-06-30, hds]"; an empty object
 * is "(none: untagged)". Sanitized; malloc'd; NULL when out of memory.
 */
char *sovctl_format_tags(struct json_object *tags);

/*
 * A certifications tag as "secnumcloud:3.2 until 2027-06-30, hds" (objects
 * as name:version and their last valid day); "-" when none. Sanitized;
 * malloc'd; NULL when out of memory.
 */
char *sovctl_format_certifications(struct json_object *certs);

/*
 * Prints a decision (docs/api.md, "Decision object") in words, @indent
 * spaces in: policy, digest, operation, outcome with its mode, the check
 * that decided, then every check as "KIND on PLACE: OUTCOME" with the
 * place's tags, each violation ("jurisdiction: found US, allowed {@fr}")
 * and the rule's refs. @brief, for a refusal whose reason was already
 * printed: no time or reason, and allowed checks get their line only.
 * Members missing or of the wrong type print as "-" or "?".
 * Returns 0 or -ENOMEM.
 */
int sovctl_print_decision(FILE *f, struct json_object *decision, unsigned indent, bool brief);

/*
 * Prints a VM's compliance object: status, reasons as a list, the
 * admitted and current digests, whether the policy changed, and drift
 * events as "TIME EVENT: DETAIL". Returns 0 or -ENOMEM.
 */
int sovctl_print_compliance(FILE *f, struct json_object *compliance, unsigned indent);

/*
 * Prints a VM object as `vm show` does: a generic block of its members,
 * then its compliance with sovctl_print_compliance(). Returns 0 or -ENOMEM.
 */
int sovctl_print_vm(FILE *f, struct json_object *vm);

/*
 * Prints the one-line summary of an action on a VM, "web-1 (UUID) DONE;
 * state: running", from the VM object sovd answered (@arg names it when the
 * object has no name). Returns 0 or -ENOMEM.
 */
int sovctl_print_vm_done(FILE *f, struct json_object *vm, const char *arg, const char *uuid, const char *done);

/*
 * Prints a policy answer (GET /v1/policies/NAME): name, revision, mode,
 * full digest, description, the reasoning word-wrapped, and each rule of
 * the document in words (allow/deny lists per tag, required
 * certifications, different site from host, refs). Returns 0 or -ENOMEM.
 */
int sovctl_print_policy(FILE *f, struct json_object *policy);

/* A table of strings printed with aligned columns. */
struct sovctl_table;

/* @columns: NULL-terminated header names. NULL when out of memory. */
struct sovctl_table *sovctl_table_new(const char *const *columns);
struct sovctl_table *sovctl_table_free(struct sovctl_table *t);
DEFINE_POINTER_CLEANUP(struct sovctl_table, sovctl_table_free);

/*
 * Appends a row: @cells holds as many malloc'd strings as there are
 * columns (NULL prints as "-"). The table takes ownership of the strings,
 * also on failure, but not of the array itself. Returns 0 or -ENOMEM.
 */
int sovctl_table_add_row(struct sovctl_table *t, char **cells);

/*
 * Adds a row of @n cells built by the caller, any of which may be NULL
 * because building it ran out of memory: then all are freed and -ENOMEM
 * returned. The table takes the cells otherwise.
 */
int sovctl_table_add_built(struct sovctl_table *t, char **cells, size_t n);

/* The first 12 hex digits of a digest, enough to tell documents apart in a listing; malloc'd. */
char *sovctl_short_digest(struct json_object *digest);

/* Prints the header and rows, columns separated by two spaces. */
void sovctl_table_print(const struct sovctl_table *t, FILE *f);
