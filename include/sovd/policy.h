/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The policy engine: parsing of policy and value-group documents
 * (docs/policy-format.md) and the decision function. Pure: no libvirt, no
 * I/O, no clock (the caller passes the time), so it is unit-testable,
 * fuzzable and fast. Parsed policies are immutable and may be read from
 * any thread.
 */

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <json-c/json.h>

#include "sovd/errors.h"
#include "sovd/tags.h"

enum policy_kind {
        POLICY_KIND_COMPUTE,
        POLICY_KIND_STORAGE,
        POLICY_KIND_SNAPSHOT,
        POLICY_KIND_BACKUP,
        POLICY_KIND_MIGRATION,
        _POLICY_KIND_MAX,
};

const char *policy_kind_to_string(enum policy_kind k);
int policy_kind_from_string(const char *s);

enum policy_mode {
        POLICY_MODE_ENFORCE,
        POLICY_MODE_AUDIT,
};

struct value_group {
        char *name;
        char *version;
        char **members; /* ISO 3166-1 codes */
        size_t n_members;
        struct json_object *doc;
};

/* One tag's list in an allow or deny clause, groups already expanded. */
struct tag_rule {
        char *tag;
        char **values;     /* literal values */
        size_t n_values;
        char **countries;  /* members of the groups named in the list */
        size_t n_countries;
        char **written;    /* the list as written (with @groups), for messages */
        size_t n_written;
};

struct cert_requirement {
        char *name;
        char *min_version; /* NULL: any version */
        char *written;
};

struct policy_rule {
        struct tag_rule *allow;
        size_t n_allow;
        struct tag_rule *deny;
        size_t n_deny;
        struct cert_requirement *certs;
        size_t n_certs;
        bool different_site_from_host;
        char **refs;
        size_t n_refs;
};

struct policy {
        char *name;
        int64_t revision;
        char *description;
        char *reasoning;
        enum policy_mode mode;
        struct policy_rule rules[_POLICY_KIND_MAX];
        char digest[65];
        struct json_object *doc; /* as loaded; never shared between threads: copy it */
};

/*
 * Parses a value group. @expected_name is the file's base name. Errors
 * name the member by JSON pointer ("/members/3").
 */
int value_group_parse(struct json_object *doc, const char *expected_name, struct value_group **ret,
                      struct sovd_err *err);
struct value_group *value_group_free(struct value_group *g);

/*
 * Parses a policy, resolving "@group" references against @groups, and
 * computes its digest (canonical JSON of the document and of the groups it
 * uses). Errors name the member by JSON pointer ("/rules/storage/allow/jurisdiction/2").
 */
int policy_parse(struct json_object *doc, const char *expected_name, struct value_group *const *groups,
                 size_t n_groups, struct policy **ret, struct sovd_err *err);
struct policy *policy_free(struct policy *p);

/* A place data may reach: what the decision is about. */
struct place {
        const char *type; /* "host", "storage_pool", "backup_target", "path" */
        const char *name;
        const struct tags *tags; /* NULL or empty: untagged */
};

enum violation_kind {
        VIOLATION_NOT_ALLOWED, /* value missing or outside the allow list */
        VIOLATION_DENIED,      /* value in the deny list */
        VIOLATION_CERTIFICATION,
        VIOLATION_SAME_SITE,
        VIOLATION_UNTAGGED,
        VIOLATION_NO_RULE,
};

struct violation {
        enum violation_kind kind;
        const char *tag;            /* borrowed from the policy, or a static string */
        const char *found;          /* borrowed from the place's tags; NULL: missing */
        char *const *expected;      /* borrowed list (allowed, denied or required values) */
        size_t n_expected;
        char reason[192];
};

#define CHECK_MAX_VIOLATIONS 16

/* The verdict of one rule on one place. Holds no allocation: borrowed pointers only. */
struct check {
        enum policy_kind kind;
        struct place place;
        bool allowed;
        struct violation violations[CHECK_MAX_VIOLATIONS];
        size_t n_violations;
        size_t n_violations_total; /* may exceed the array; the rest are counted */
        char *const *refs;
        size_t n_refs;
};

/*
 * Checks @place against @policy's rule for @kind at time @now. @host is the
 * host's place, for different_site_from_host (may be NULL). Every unmet
 * constraint is listed, not only the first. Never fails.
 */
void policy_check(const struct policy *policy, enum policy_kind kind, const struct place *place,
                  const struct place *host, time_t now, struct check *ret);

/* The check as JSON, per docs/policy-format.md; NULL on OOM. */
struct json_object *check_to_json(const struct check *c);

/* Canonical JSON (members sorted, compact) of @o: a new string, or NULL on OOM. */
char *json_canonical(struct json_object *o);
