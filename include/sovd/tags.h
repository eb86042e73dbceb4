/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Tags: key/value facts about a place (host, storage pool, backup target)
 * in the vocabulary of docs/policy-format.md. Parsed once from the
 * configuration and validated there: country codes against ISO 3166-1,
 * regions against the ISO 3166-2 shape, certifications with optional
 * version and expiry date.
 */

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <json-c/json.h>

#include "sovd/errors.h"

struct tag {
        char *key;
        char *value;
};

struct certification {
        char *name;        /* "secnumcloud" */
        char *version;     /* "3.2", NULL when unversioned */
        time_t valid_until; /* start of the first day it is no longer valid (UTC); 0: no expiry */
};

struct tags {
        struct tag *items; /* every string-valued tag */
        size_t n_items;
        struct certification *certs;
        size_t n_certs;
        struct json_object *json; /* the tags as configured, for display; never shared between threads */
};

/* Parses a tags object; @where names it in messages ("storage_pools.fr-pool.tags"). */
int tags_parse(struct json_object *obj, const char *where, struct tags *ret, struct sovd_err *err);
void tags_done(struct tags *t);

/* The value of tag @key, or NULL. */
const char *tags_get(const struct tags *t, const char *key);
/* A place with no tag at all: no policy allows it. */
bool tags_empty(const struct tags *t);

/* A fresh copy of the tags as JSON (for a response or a record). */
struct json_object *tags_to_json(const struct tags *t);

/* Certifications named in @t that sovd does not know (reported, not refused); NULL-terminated, borrowed. */
size_t tags_unknown_certifications(const struct tags *t, const char **ret, size_t max);

bool country_code_is_valid(const char *s);
bool region_code_is_valid(const char *s);
bool certification_name_is_known(const char *name);

/* Compares dotted numeric versions: <0, 0, >0 like strcmp ("3.10" > "3.2"). */
int version_compare(const char *a, const char *b);
