/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The policy engine (docs/policy-format.md): value groups and policies as
 * parsed (the shipped ones accepted, every broken shape refused with the
 * JSON pointer of the member), the decision of one rule on one place for
 * every rule kind and every reason, the digest, the policy directory, and
 * admission's decisions for a VM built on top of them.
 */
#include <ftw.h>
#include <json-c/json_pointer.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "sovd/admission.h"
#include "sovd/config.h"
#include "sovd/fileio.h"
#include "sovd/json-util.h"
#include "sovd/policy-store.h"
#include "sovd/policy.h"
#include "sovd/sha256.h"
#include "sovd/strbuf.h"
#include "sovd/time-util.h"
#include "test-harness.h"

#ifndef SOVD_POLICY_DIR
#error "SOVD_POLICY_DIR must name the shipped policies/ directory"
#endif

/* ---- helpers ---------------------------------------------------------------- */

static struct json_object *json(const char *s) {
        struct json_object *o = NULL;
        struct sovd_err err = {};

        if (json_parse_strict(s, strlen(s), &o, &err) < 0)
                TEST_FAIL("bad JSON in the test: %s: %s", s, err.msg);
        return o;
}

static time_t at(const char *rfc3339) {
        time_t t;

        if (rfc3339_parse(rfc3339, &t) < 0)
                TEST_FAIL("bad time in the test: %s", rfc3339);
        return t;
}

#define NOW at("2026-11-23T12:00:00Z")

static struct policy_set *shipped(void) {
        struct policy_set *s = NULL;
        struct sovd_err err = {};
        int r = policy_set_load(SOVD_POLICY_DIR, &s, &err);

        if (r < 0)
                TEST_FAIL("policy_set_load(%s): %d %s", SOVD_POLICY_DIR, r, err.msg);
        return s;
}

/* Parses policy @text (file name @name) against the shipped groups; must be accepted. */
static struct policy *policy_ok_in(const struct policy_set *s, struct json_object *doc, const char *name) {
        struct policy *p = NULL;
        struct sovd_err err = {};
        int r = policy_parse(doc, name, s->groups, s->n_groups, &p, &err);

        if (r < 0)
                TEST_FAIL("policy_parse(%s): %d %s", json_to_string(doc), r, err.msg);
        ASSERT_NOT_NULL(p);
        return p;
}

/* @doc must be refused with -EINVAL, *ret untouched; returns the message. */
static const char *policy_fails(const struct policy_set *s, struct json_object *doc, const char *name) {
        static struct sovd_err err;
        struct policy *sentinel = (struct policy *) &err, *p = sentinel;
        int r;

        memset(&err, 0, sizeof(err));
        r = policy_parse(doc, name, s->groups, s->n_groups, &p, &err);
        if (r != -EINVAL)
                TEST_FAIL("policy_parse(%s): expected -EINVAL, got %d (%s)", json_to_string(doc), r, err.msg);
        if (p != sentinel)
                TEST_FAIL("policy_parse(%s): *ret changed on failure", json_to_string(doc));
        return err.msg;
}

/*
 * A copy of @base with the member at JSON pointer @ptr replaced by @value
 * (JSON text), added, or removed when @value is NULL.
 */
static struct json_object *mutated(const char *base, const char *ptr, const char *value) {
        struct json_object *doc = json(base);

        if (value) {
                /* In an array: json_parse_strict() takes no bare number at the top. */
                char wrapped[4096];
                snprintf(wrapped, sizeof(wrapped), "[%s]", value);
                _cleanup_json_ struct json_object *arr = json(wrapped);
                struct json_object *v = json_object_get(json_object_array_get_idx(arr, 0));
                if (json_pointer_set(&doc, ptr, v) < 0) {
                        json_object_put(v);
                        TEST_FAIL("cannot set %s", ptr);
                }
        } else {
                char parent[256];
                const char *slash = strrchr(ptr, '/');
                struct json_object *o = NULL;
                snprintf(parent, sizeof(parent), "%.*s", (int) (slash - ptr), ptr);
                if (json_pointer_get(doc, parent, &o) < 0 || !json_object_is_type(o, json_type_object))
                        TEST_FAIL("no object at %s", parent);
                json_object_object_del(o, slash + 1);
        }
        return doc;
}

/* A policy with one rule of every shape; the base of the refusal tests. */
static const char base_policy[] =
        "{\"$schema\": \"policy.schema.json\", \"name\": \"neg-test\", \"revision\": 3, \"description\": \"d\","
        " \"reasoning\": \"r\", \"mode\": \"audit\", \"rules\": {"
        "  \"compute\": {\"allow\": {\"jurisdiction\": [\"FR\", \"@eu\"], \"region\": [\"FR-IDF\", \"FR-HDF\"],"
        "                            \"site\": [\"par-1\"], \"rack.row\": [\"a\"]},"
        "               \"deny\": {\"site\": [\"par-9\"], \"operator_jurisdiction\": [\"@eea\"]},"
        "               \"require_certifications\": [\"secnumcloud:3.10\", \"hds\", \"iso27001:2022\"],"
        "               \"refs\": [\"a ref\"]},"
        "  \"storage\": {}, \"snapshot\": {}, \"backup\": {\"different_site_from_host\": true},"
        "  \"migration\": {\"different_site_from_host\": false, \"refs\": []}}}";

/* The refusal of @base with @ptr set to @value (NULL: removed) must be exactly @message. */
static void assert_refused(const struct policy_set *s, const char *ptr, const char *value, const char *message) {
        _cleanup_json_ struct json_object *doc = mutated(base_policy, ptr, value);
        const char *msg = policy_fails(s, doc, "neg-test");

        if (!streq(msg, message))
                TEST_FAIL("%s = %s: expected \"%s\", got \"%s\"", ptr, value ? value : "(removed)", message, msg);
}

/* Tags parsed from @text, on the heap (places borrow them). */
static struct tags *tags_new(const char *text) {
        _cleanup_json_ struct json_object *o = json(text);
        struct tags *t = calloc(1, sizeof(*t));
        struct sovd_err err = {};

        ASSERT_NOT_NULL(t);
        if (tags_parse(o, "test", t, &err) < 0)
                TEST_FAIL("tags_parse(%s): %s", text, err.msg);
        return t;
}

static struct tags *tags_free(struct tags *t) {
        tags_done(t);
        free(t);
        return NULL;
}
DEFINE_POINTER_CLEANUP(struct tags, tags_free)
#define _cleanup_tags_ _cleanup_(tags_freep)

/* Checks @place_tags (NULL: untagged) under @p's rule for @kind. */
static void check(const struct policy *p, enum policy_kind kind, const struct tags *place_tags,
                  const struct tags *host_tags, time_t now, struct check *ret) {
        struct place place = { .type = "storage_pool", .name = "p1", .tags = place_tags };
        struct place host = { .type = "host", .name = "this host", .tags = host_tags };

        memset(ret, 0x5a, sizeof(*ret)); /* every field must be set */
        policy_check(p, kind, &place, host_tags ? &host : NULL, now, ret);
        ASSERT_INT_EQ(ret->kind, kind);
        ASSERT_TRUE(ret->n_violations <= CHECK_MAX_VIOLATIONS);
        ASSERT_TRUE(ret->n_violations <= ret->n_violations_total);
        ASSERT_INT_EQ(ret->allowed, ret->n_violations_total == 0);
        ASSERT_INT_EQ(ret->n_violations, ret->n_violations_total < CHECK_MAX_VIOLATIONS ? ret->n_violations_total
                                                                                       : CHECK_MAX_VIOLATIONS);
}

/* A policy whose rule for @kind is @rule (JSON text), every other rule empty. */
static struct policy *policy_with_rule(const struct policy_set *s, const char *kind, const char *rule) {
        _cleanup_json_ struct json_object *doc = NULL;
        char buf[4096];

        snprintf(buf, sizeof(buf),
                 "{\"name\": \"t\", \"revision\": 1, \"description\": \"d\", \"mode\": \"enforce\", \"rules\": {"
                 "\"compute\": {}, \"storage\": {}, \"snapshot\": {}, \"backup\": {}, \"migration\": {}}}");
        doc = json(buf);
        struct json_object *rules = json_object_object_get(doc, "rules");
        ASSERT_INT_EQ(json_object_object_add(rules, kind, json(rule)), 0);
        return policy_ok_in(s, doc, "t");
}

/* The first violation's reason of @tags_text under @p's storage rule at @now. */
static void assert_check(const struct policy *p, const char *tags_text, time_t now, size_t n_violations,
                         const char *first_reason) {
        _cleanup_tags_ struct tags *t = tags_text ? tags_new(tags_text) : NULL;
        struct check c;

        check(p, POLICY_KIND_STORAGE, t, NULL, now, &c);
        if (c.n_violations_total != n_violations)
                TEST_FAIL("%s: %zu violations, expected %zu (first: %s)", tags_text, c.n_violations_total, n_violations,
                          c.n_violations ? c.violations[0].reason : "-");
        if (first_reason && !streq(c.violations[0].reason, first_reason))
                TEST_FAIL("%s: reason \"%s\", expected \"%s\"", tags_text, c.violations[0].reason, first_reason);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static void rm_rf(char *dir) {
        if (dir)
                nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(dir);
}
static void rm_rfp(char **dir) {
        rm_rf(*dir);
}
#define _cleanup_rm_rf_ _cleanup_(rm_rfp)

static char *tmpdir(void) {
        char *d = strdup("/tmp/test-policy-XXXXXX");

        ASSERT_NOT_NULL(d);
        ASSERT_NOT_NULL(mkdtemp(d));
        return d;
}

static void write_file(const char *dir, const char *name, const char *content) {
        _cleanup_free_ char *path = NULL;
        FILE *f;

        ASSERT_TRUE(asprintf(&path, "%s/%s", dir, name) >= 0);
        f = fopen(path, "we");
        if (!f)
                TEST_FAIL("%s: %s", path, strerror(errno));
        fputs(content, f);
        ASSERT_INT_EQ(fclose(f), 0);
}

/* Copies the shipped groups into @dir/groups. */
static void copy_groups(const char *dir) {
        static const char *const names[] = { "eu.json", "eea.json", "fr.json" };
        _cleanup_free_ char *gdir = NULL;

        ASSERT_TRUE(asprintf(&gdir, "%s/groups", dir) >= 0);
        ASSERT_INT_EQ(mkdir(gdir, 0755), 0);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *src = NULL, *buf = NULL;
                size_t len;
                ASSERT_TRUE(asprintf(&src, "%s/groups/%s", SOVD_POLICY_DIR, names[i]) >= 0);
                ASSERT_OK(file_read_all(src, 1024 * 1024, &buf, &len));
                write_file(gdir, names[i], buf);
        }
}

static const char *loading_fails(const char *dir) {
        static struct sovd_err err;
        struct policy_set *sentinel = (struct policy_set *) &err, *s = sentinel;
        int r;

        memset(&err, 0, sizeof(err));
        r = policy_set_load(dir, &s, &err);
        if (r >= 0)
                TEST_FAIL("policy_set_load(%s) succeeded", dir);
        if (s != sentinel)
                TEST_FAIL("policy_set_load(%s): *ret changed on failure", dir);
        return err.msg;
}

/* ---- value groups ----------------------------------------------------------------- */

static void test_policy_groups_shipped(void) {
        static const struct {
                const char *name;
                size_t n;
        } groups[] = { { "eu", 34 }, { "eea", 37 }, { "fr", 7 } };

        for (size_t i = 0; i < ELEMENTSOF(groups); i++) {
                _cleanup_free_ char *path = NULL, *buf = NULL;
                _cleanup_json_ struct json_object *doc = NULL;
                struct value_group *g = NULL;
                struct sovd_err err = {};
                size_t len;

                ASSERT_TRUE(asprintf(&path, "%s/groups/%s.json", SOVD_POLICY_DIR, groups[i].name) >= 0);
                ASSERT_OK(file_read_all(path, 1024 * 1024, &buf, &len));
                doc = json(buf);
                if (value_group_parse(doc, groups[i].name, &g, &err) < 0)
                        TEST_FAIL("%s: %s", path, err.msg);
                ASSERT_STR_EQ(g->name, groups[i].name);
                ASSERT_STR_EQ(g->version, "2026-11-23");
                ASSERT_INT_EQ(g->n_members, groups[i].n);
                ASSERT_NULL(g->members[g->n_members]);
                ASSERT_TRUE(g->doc == doc);
                value_group_free(g);
        }
        ASSERT_NULL(value_group_free(NULL));
}

static const char *group_fails(const char *text, const char *name) {
        static struct sovd_err err;
        _cleanup_json_ struct json_object *doc = json(text);
        struct value_group *sentinel = (struct value_group *) &err, *g = sentinel;
        int r;

        memset(&err, 0, sizeof(err));
        r = value_group_parse(doc, name, &g, &err);
        if (r != -EINVAL)
                TEST_FAIL("value_group_parse(%s): expected -EINVAL, got %d (%s)", text, r, err.msg);
        if (g != sentinel)
                TEST_FAIL("value_group_parse(%s): *ret changed on failure", text);
        return err.msg;
}

static void test_policy_groups_refused(void) {
        struct value_group *g = NULL;
        struct sovd_err err = {};
        _cleanup_json_ struct json_object *ok =
                json("{\"$schema\": \"../group.schema.json\", \"name\": \"g\", \"version\": \"2026-01-31\","
                     " \"description\": \"d\", \"source\": \"s\", \"members\": [\"FR\", \"RE\"]}");

        ASSERT_OK(value_group_parse(ok, "g", &g, &err));
        ASSERT_INT_EQ(g->n_members, 2);
        value_group_free(g);
        /* No expected name: any valid one. */
        ASSERT_OK(value_group_parse(ok, NULL, &g, &err));
        value_group_free(g);

#define G(members) "{\"name\": \"g\", \"version\": \"1\", \"members\": " members "}"
        ASSERT_STR_EQ(group_fails("[]", "g"), "/: must be an object");
        ASSERT_STR_EQ(group_fails("{\"name\": \"g\", \"version\": \"1\", \"members\": [], \"comment\": 1}", "g"),
                      "/comment: unknown member");
        ASSERT_STR_EQ(group_fails(G("[\"FR\"]"), "eu"), "/name: 'g' does not match the file name 'eu'");
        ASSERT_STR_EQ(group_fails("{\"name\": \"@eu\", \"version\": \"1\", \"members\": []}", "@eu"),
                      "/name: '@eu' is not a valid group name");
        ASSERT_STR_EQ(group_fails("{\"version\": \"1\", \"members\": []}", "g"), "/name: required member missing");
        ASSERT_STR_EQ(group_fails("{\"name\": 1, \"version\": \"1\", \"members\": []}", "g"), "/name: must be a string");
        ASSERT_STR_EQ(group_fails("{\"name\": \"g\", \"members\": []}", "g"), "/version: required member missing");
        ASSERT_STR_EQ(group_fails("{\"name\": \"g\", \"version\": \"1\"}", "g"), "/members: required member missing");
        ASSERT_STR_EQ(group_fails(G("\"FR\""), "g"), "/members: must be an array of strings");
        ASSERT_STR_EQ(group_fails(G("[\"FR\", 3]"), "g"), "/members/1: must be a non-empty string");
        ASSERT_STR_EQ(group_fails(G("[\"FR\", \"\"]"), "g"), "/members/1: must be a non-empty string");
        ASSERT_STR_EQ(group_fails(G("[\"FR\", \"fr\"]"), "g"), "/members/1: 'fr' is not an ISO 3166-1 alpha-2 code");
        ASSERT_STR_EQ(group_fails(G("[\"FRA\"]"), "g"), "/members/0: 'FRA' is not an ISO 3166-1 alpha-2 code");
        ASSERT_STR_EQ(group_fails(G("[\"EU\"]"), "g"), "/members/0: 'EU' is not an ISO 3166-1 alpha-2 code");
        ASSERT_STR_EQ(group_fails(G("[\"FR\", \"RE\", \"FR\"]"), "g"), "/members/2: 'FR' listed twice");
#undef G
}

/* ---- policies: parsing -------------------------------------------------------------- */

static void test_policy_parse_shipped(void) {
        _cleanup_policy_set_ struct policy_set *s = shipped();
        static const char *const names[] = { "eu-gdpr", "fr-sovereign", "hds", "secnumcloud", "unrestricted" };

        ASSERT_INT_EQ(s->n_policies, ELEMENTSOF(names));
        ASSERT_INT_EQ(s->n_groups, 3);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                const struct policy *p = policy_set_find(s, names[i]);
                ASSERT_NOT_NULL(p);
                ASSERT_TRUE(p == s->policies[i]); /* sorted by name */
                ASSERT_STR_EQ(p->name, names[i]);
                ASSERT_INT_EQ(p->revision, 1);
                ASSERT_INT_EQ(p->mode, POLICY_MODE_ENFORCE);
                ASSERT_INT_EQ(strlen(p->digest), 64);
                ASSERT_INT_EQ(strspn(p->digest, "0123456789abcdef"), 64);
                ASSERT_NOT_NULL(p->description);
                ASSERT_NOT_NULL(p->reasoning);
        }

        const struct policy *snc = policy_set_find(s, "secnumcloud");
        for (int k = 0; k < _POLICY_KIND_MAX; k++) {
                const struct policy_rule *r = &snc->rules[k];
                ASSERT_INT_EQ(r->n_allow, 2);
                ASSERT_INT_EQ(r->n_deny, 0);
                ASSERT_INT_EQ(r->n_certs, 1);
                ASSERT_STR_EQ(r->certs[0].name, "secnumcloud");
                ASSERT_STR_EQ(r->certs[0].min_version, "3.2");
                ASSERT_STR_EQ(r->certs[0].written, "secnumcloud:3.2");
                ASSERT_INT_EQ(r->different_site_from_host, k == POLICY_KIND_BACKUP);
                ASSERT_TRUE(r->n_refs >= 3);
                for (size_t i = 0; i < r->n_allow; i++) {
                        const struct tag_rule *t = &r->allow[i];
                        bool juris = streq(t->tag, "jurisdiction");
                        ASSERT_TRUE(juris || streq(t->tag, "operator_jurisdiction"));
                        ASSERT_INT_EQ(t->n_values, 0);
                        ASSERT_INT_EQ(t->n_written, 1);
                        ASSERT_STR_EQ(t->written[0], juris ? "@fr" : "@eu");
                        ASSERT_INT_EQ(t->n_countries, juris ? 7 : 34);
                }
        }
        const struct policy *hds = policy_set_find(s, "hds");
        ASSERT_STR_EQ(hds->rules[POLICY_KIND_STORAGE].certs[0].name, "hds");
        ASSERT_NULL(hds->rules[POLICY_KIND_STORAGE].certs[0].min_version);
        const struct policy *unr = policy_set_find(s, "unrestricted");
        for (int k = 0; k < _POLICY_KIND_MAX; k++)
                ASSERT_TRUE(unr->rules[k].n_allow == 0 && unr->rules[k].n_deny == 0 && unr->rules[k].n_certs == 0 &&
                            unr->rules[k].n_refs == 0 && !unr->rules[k].different_site_from_host);
}

static void test_policy_parse_base(void) {
        _cleanup_policy_set_ struct policy_set *s = shipped();
        _cleanup_json_ struct json_object *doc = json(base_policy);
        struct policy *p = policy_ok_in(s, doc, "neg-test");
        const struct policy_rule *r = &p->rules[POLICY_KIND_COMPUTE];

        ASSERT_STR_EQ(p->name, "neg-test");
        ASSERT_INT_EQ(p->revision, 3);
        ASSERT_STR_EQ(p->description, "d");
        ASSERT_STR_EQ(p->reasoning, "r");
        ASSERT_INT_EQ(p->mode, POLICY_MODE_AUDIT);
        ASSERT_TRUE(p->doc == doc);
        ASSERT_INT_EQ(r->n_allow, 4);
        ASSERT_INT_EQ(r->n_deny, 2);
        /* jurisdiction: FR literally, the 34 of @eu as countries; written as given. */
        const struct tag_rule *j = &r->allow[0];
        ASSERT_STR_EQ(j->tag, "jurisdiction");
        ASSERT_INT_EQ(j->n_values, 1);
        ASSERT_STR_EQ(j->values[0], "FR");
        ASSERT_NULL(j->values[1]);
        ASSERT_INT_EQ(j->n_countries, 34);
        ASSERT_INT_EQ(j->n_written, 2);
        ASSERT_STR_EQ(j->written[1], "@eu");
        ASSERT_INT_EQ(r->n_certs, 3);
        ASSERT_STR_EQ(r->certs[0].min_version, "3.10");
        ASSERT_NULL(r->certs[1].min_version);
        ASSERT_STR_EQ(r->certs[2].name, "iso27001");
        ASSERT_INT_EQ(r->n_refs, 1);
        ASSERT_STR_EQ(r->refs[0], "a ref");
        ASSERT_TRUE(p->rules[POLICY_KIND_BACKUP].different_site_from_host);
        ASSERT_FALSE(p->rules[POLICY_KIND_MIGRATION].different_site_from_host);
        ASSERT_INT_EQ(p->rules[POLICY_KIND_MIGRATION].n_refs, 0);
        policy_free(p);
        ASSERT_NULL(policy_free(NULL));

        /* Optional members: no reasoning, no $schema; revision up to INT64_MAX - 1. */
        _cleanup_json_ struct json_object *min = mutated(base_policy, "/reasoning", NULL);
        json_object_object_del(min, "$schema");
        ASSERT_INT_EQ(json_pointer_set(&min, "/revision", json_object_new_int64(INT64_MAX - 1)), 0);
        p = policy_ok_in(s, min, NULL);
        ASSERT_NULL(p->reasoning);
        ASSERT_INT_EQ(p->revision, INT64_MAX - 1);
        policy_free(p);

        /* 256 values in a list, refs of 512 bytes, 32 refs and 32 certifications are the limits. */
        _cleanup_strbuf_ struct strbuf values = {}, refs = {}, certs = {};
        char ref[513];
        memset(ref, 'r', 512);
        ref[512] = '\0';
        strbuf_append(&values, "[");
        for (int i = 0; i < 256; i++)
                strbuf_appendf(&values, "%s\"v%d\"", i ? ", " : "", i);
        strbuf_append(&values, "]");
        strbuf_append(&refs, "[");
        for (int i = 0; i < 32; i++)
                strbuf_appendf(&refs, "%s\"%s\"", i ? ", " : "", ref);
        strbuf_append(&refs, "]");
        strbuf_append(&certs, "[");
        for (int i = 0; i < 32; i++)
                strbuf_appendf(&certs, "%s\"c%d:%d.%d\"", i ? ", " : "", i, i, i);
        strbuf_append(&certs, "]");
        ASSERT_TRUE(values.buf && refs.buf && certs.buf);
        _cleanup_json_ struct json_object *big = mutated(base_policy, "/rules/storage/allow", "{}");
        ASSERT_INT_EQ(json_pointer_set(&big, "/rules/storage/allow/site", json(values.buf)), 0);
        ASSERT_INT_EQ(json_pointer_set(&big, "/rules/storage/refs", json(refs.buf)), 0);
        ASSERT_INT_EQ(json_pointer_set(&big, "/rules/storage/require_certifications", json(certs.buf)), 0);
        p = policy_ok_in(s, big, NULL);
        ASSERT_INT_EQ(p->rules[POLICY_KIND_STORAGE].allow[0].n_values, 256);
        ASSERT_INT_EQ(p->rules[POLICY_KIND_STORAGE].n_refs, 32);
        ASSERT_INT_EQ(strlen(p->rules[POLICY_KIND_STORAGE].refs[31]), 512);
        ASSERT_INT_EQ(p->rules[POLICY_KIND_STORAGE].n_certs, 32);
        policy_free(p);
}

static void test_policy_parse_refused_document(void) {
        _cleanup_policy_set_ struct policy_set *s = shipped();
        _cleanup_json_ struct json_object *arr = json("[]");

        ASSERT_STR_EQ(policy_fails(s, arr, "neg-test"), "/: must be an object");
        assert_refused(s, "/owner", "\"me\"", "/owner: unknown member");
        assert_refused(s, "/Name", "\"neg-test\"", "/Name: unknown member");
        assert_refused(s, "/name", NULL, "/name: required member missing");
        assert_refused(s, "/name", "7", "/name: must be a string");
        assert_refused(s, "/name", "\"other\"", "/name: 'other' does not match the file name 'neg-test'");
        assert_refused(s, "/name", "\"-x\"", "/name: '-x' is not a valid policy name");
        assert_refused(s, "/name", "\"a/b\"", "/name: 'a/b' is not a valid policy name");
        assert_refused(s, "/name", "\"\"", "/name: '' is not a valid policy name");
        assert_refused(s, "/name",
                       "\"a12345678901234567890123456789012345678901234567890123456789012345\"",
                       "/name: 'a123456789012345678901234567890123456789012345678901234567890123' is not a valid "
                       "policy name");
        assert_refused(s, "/description", NULL, "/description: required member missing");
        assert_refused(s, "/description", "[\"d\"]", "/description: must be a string");
        assert_refused(s, "/reasoning", "false", "/reasoning: must be a string");
        assert_refused(s, "/mode", NULL, "/mode: required member missing");
        assert_refused(s, "/mode", "\"warn\"", "/mode: must be \"enforce\" or \"audit\", got 'warn'");
        assert_refused(s, "/mode", "\"Enforce\"", "/mode: must be \"enforce\" or \"audit\", got 'Enforce'");
        assert_refused(s, "/mode", "\"\"", "/mode: must be \"enforce\" or \"audit\", got ''");
        assert_refused(s, "/mode", "1", "/mode: must be a string");
        assert_refused(s, "/revision", NULL, "/revision: required member missing");
        assert_refused(s, "/revision", "0", "/revision: must be an integer >= 1");
        assert_refused(s, "/revision", "-1", "/revision: must be an integer >= 1");
        assert_refused(s, "/revision", "\"1\"", "/revision: must be an integer >= 1");
        assert_refused(s, "/revision", "1.5", "/revision: must be an integer >= 1");
        assert_refused(s, "/revision", "1.0", "/revision: must be an integer >= 1");
        assert_refused(s, "/revision", "null", "/revision: must be an integer >= 1");
        /* Beyond int64: json-c saturates, which must not pass as a huge revision. */
        assert_refused(s, "/revision", "9223372036854775807", "/revision: must be an integer >= 1");
        assert_refused(s, "/revision", "99999999999999999999", "/revision: must be an integer >= 1");
        assert_refused(s, "/rules", NULL, "/rules: required member missing");
        assert_refused(s, "/rules", "[]", "/rules: must be an object");
        assert_refused(s, "/rules/network", "{}", "/rules/network: unknown member");
        assert_refused(s, "/rules/migration", NULL,
                       "/rules/migration: required member missing (every kind of place needs a rule)");
        assert_refused(s, "/rules/compute", NULL,
                       "/rules/compute: required member missing (every kind of place needs a rule)");
        assert_refused(s, "/rules/storage", "[]", "/rules/storage: must be an object");
        assert_refused(s, "/rules/storage", "null", "/rules/storage: must be an object");
}

static void test_policy_parse_refused_rule(void) {
        _cleanup_policy_set_ struct policy_set *s = shipped();

        assert_refused(s, "/rules/compute/allowed", "{\"site\": [\"x\"]}", "/rules/compute/allowed: unknown member");
        assert_refused(s, "/rules/backup/different_site_from_host", "\"yes\"",
                       "/rules/backup/different_site_from_host: must be true or false");
        assert_refused(s, "/rules/backup/different_site_from_host", "1",
                       "/rules/backup/different_site_from_host: must be true or false");

        /* allow / deny */
        assert_refused(s, "/rules/storage/allow", "[]", "/rules/storage/allow: must be an object of tag: [values]");
        assert_refused(s, "/rules/storage/allow", "\"FR\"", "/rules/storage/allow: must be an object of tag: [values]");
        assert_refused(s, "/rules/storage/deny", "7", "/rules/storage/deny: must be an object of tag: [values]");
        assert_refused(s, "/rules/compute/allow/jurisdiction/1", "\"@eeaa\"",
                       "/rules/compute/allow/jurisdiction/1: \"@eeaa\" is not a known value group");
        assert_refused(s, "/rules/compute/allow/jurisdiction/1", "\"@EU\"",
                       "/rules/compute/allow/jurisdiction/1: \"@EU\" is not a known value group");
        assert_refused(s, "/rules/compute/allow/jurisdiction/1", "\"@\"",
                       "/rules/compute/allow/jurisdiction/1: \"@\" is not a known value group");
        assert_refused(s, "/rules/compute/deny/operator_jurisdiction/0", "\"@e u\"",
                       "/rules/compute/deny/operator_jurisdiction/0: \"@e u\" is not a known value group");
        assert_refused(s, "/rules/compute/allow/site/0", "\"@eu\"",
                       "/rules/compute/allow/site/0: value groups hold country codes and apply to jurisdiction and "
                       "operator_jurisdiction only");
        assert_refused(s, "/rules/compute/deny/site/0", "\"@fr\"",
                       "/rules/compute/deny/site/0: value groups hold country codes and apply to jurisdiction and "
                       "operator_jurisdiction only");
        assert_refused(s, "/rules/compute/allow/jurisdiction/0", "\"Fr\"",
                       "/rules/compute/allow/jurisdiction/0: 'Fr' is not an ISO 3166-1 alpha-2 code");
        assert_refused(s, "/rules/compute/allow/jurisdiction/0", "\"fr\"",
                       "/rules/compute/allow/jurisdiction/0: 'fr' is not an ISO 3166-1 alpha-2 code");
        assert_refused(s, "/rules/compute/allow/jurisdiction/0", "\"FRA\"",
                       "/rules/compute/allow/jurisdiction/0: 'FRA' is not an ISO 3166-1 alpha-2 code");
        assert_refused(s, "/rules/compute/allow/jurisdiction/0", "\"UK\"",
                       "/rules/compute/allow/jurisdiction/0: 'UK' is not an ISO 3166-1 alpha-2 code");
        assert_refused(s, "/rules/compute/deny/operator_jurisdiction/0", "\"EU\"",
                       "/rules/compute/deny/operator_jurisdiction/0: 'EU' is not an ISO 3166-1 alpha-2 code");
        /* Groups are not for regions: FR-NC is New Caledonia, outside @eu. */
        assert_refused(s, "/rules/compute/allow/region/1", "\"@fr\"",
                       "/rules/compute/allow/region/1: value groups hold country codes and apply to jurisdiction and "
                       "operator_jurisdiction only");
        /* A region typo would never match: in a deny list, that lets everything through. */
        assert_refused(s, "/rules/compute/allow/region/0", "\"IDF\"",
                       "/rules/compute/allow/region/0: 'IDF' is not an ISO 3166-2 subdivision code (e.g. FR-IDF)");
        assert_refused(s, "/rules/compute/deny/region", "[\"fr-idf\"]",
                       "/rules/compute/deny/region/0: 'fr-idf' is not an ISO 3166-2 subdivision code (e.g. FR-IDF)");
        assert_refused(s, "/rules/compute/allow/certifications", "[\"secnumcloud\"]",
                       "/rules/compute/allow/certifications: certifications are checked with require_certifications");
        assert_refused(s, "/rules/compute/deny/certifications", "[\"hds\"]",
                       "/rules/compute/deny/certifications: certifications are checked with require_certifications");
        assert_refused(s, "/rules/compute/allow/Site", "[\"par-1\"]", "/rules/compute/allow/Site: invalid tag name");
        /* Label keys may hold '/', tag names not (and the pointer would be ambiguous). */
        _cleanup_json_ struct json_object *slash = json(base_policy);
        struct json_object *allow = NULL;
        ASSERT_INT_EQ(json_pointer_get(slash, "/rules/compute/allow", &allow), 0);
        ASSERT_INT_EQ(json_object_object_add(allow, "a/b", json("[\"x\"]")), 0);
        ASSERT_STR_EQ(policy_fails(s, slash, "neg-test"), "/rules/compute/allow/a/b: invalid tag name");
        assert_refused(s, "/rules/compute/allow/a123456789012345678901234567890123456789012345678901234567890123",
                       "[\"x\"]",
                       "/rules/compute/allow/a123456789012345678901234567890123456789012345678901234567890123: "
                       "invalid tag name");
        assert_refused(s, "/rules/compute/allow/site", "\"par-1\"", "/rules/compute/allow/site: must be an array of strings");
        assert_refused(s, "/rules/compute/allow/site", "[\"\"]", "/rules/compute/allow/site/0: must be a non-empty string");
        assert_refused(s, "/rules/compute/allow/site", "[\"a\", 1]",
                       "/rules/compute/allow/site/1: must be a non-empty string");
        assert_refused(s, "/rules/compute/allow/site", "[\"a\\u0007\"]",
                       "/rules/compute/allow/site/0: must be printable UTF-8");
        /* An empty allow list refuses every place: a mistake, as the schema says. */
        assert_refused(s, "/rules/compute/allow/jurisdiction", "[]",
                       "/rules/compute/allow/jurisdiction: must list at least one value");
        assert_refused(s, "/rules/compute/deny/site", "[]", "/rules/compute/deny/site: must list at least one value");

        /* require_certifications */
        assert_refused(s, "/rules/compute/require_certifications", "\"hds\"",
                       "/rules/compute/require_certifications: must be an array of strings");
        assert_refused(s, "/rules/compute/require_certifications/0", "\"x:3.\"",
                       "/rules/compute/require_certifications/0: 'x:3.' must be \"name\" or \"name:version\" (e.g. "
                       "secnumcloud:3.2)");
        static const char *const bad_certs[] = { "\"SecNumCloud:3.2\"", "\"secnumcloud:\"", "\":3.2\"", "\"a:.3\"",
                                                 "\"a:3..2\"", "\"a:v3\"", "\"a:3:2\"", "\"a b\"", "\"a:3.2 \"" };
        for (size_t i = 0; i < ELEMENTSOF(bad_certs); i++) {
                char expected[256];
                char written[64];
                snprintf(written, sizeof(written), "%.*s", (int) strlen(bad_certs[i]) - 2, bad_certs[i] + 1);
                snprintf(expected, sizeof(expected),
                         "/rules/compute/require_certifications/2: '%s' must be \"name\" or \"name:version\" (e.g. "
                         "secnumcloud:3.2)",
                         written);
                assert_refused(s, "/rules/compute/require_certifications/2", bad_certs[i], expected);
        }
        assert_refused(s, "/rules/compute/require_certifications/0", "{\"name\": \"hds\"}",
                       "/rules/compute/require_certifications/0: must be a non-empty string");

        /* refs */
        char ref[600];
        ref[0] = '"';
        memset(ref + 1, 'r', 513);
        ref[514] = '"';
        ref[515] = '\0';
        assert_refused(s, "/rules/compute/refs/0", ref, "/rules/compute/refs/0: longer than 512 bytes");
        assert_refused(s, "/rules/compute/refs", "\"a ref\"", "/rules/compute/refs: must be an array of strings");
        assert_refused(s, "/rules/compute/refs", "[19]", "/rules/compute/refs/0: must be a non-empty string");
        assert_refused(s, "/rules/compute/refs", "[\"\"]", "/rules/compute/refs/0: must be a non-empty string");

        /* Counts. */
        _cleanup_strbuf_ struct strbuf l257 = {}, l33 = {};
        strbuf_append(&l257, "[");
        for (int i = 0; i < 257; i++)
                strbuf_appendf(&l257, "%s\"v%d\"", i ? ", " : "", i);
        strbuf_append(&l257, "]");
        strbuf_append(&l33, "[");
        for (int i = 0; i < 33; i++)
                strbuf_appendf(&l33, "%s\"c%d\"", i ? ", " : "", i);
        strbuf_append(&l33, "]");
        ASSERT_TRUE(l257.buf && l33.buf);
        assert_refused(s, "/rules/compute/allow/site", l257.buf, "/rules/compute/allow/site: at most 256 entries");
        assert_refused(s, "/rules/compute/refs", l33.buf, "/rules/compute/refs: at most 32 entries");
        assert_refused(s, "/rules/compute/require_certifications", l33.buf,
                       "/rules/compute/require_certifications: at most 32 entries");
}

static void test_policy_kind_names(void) {
        for (int k = 0; k < _POLICY_KIND_MAX; k++)
                ASSERT_INT_EQ(policy_kind_from_string(policy_kind_to_string(k)), k);
        ASSERT_STR_EQ(policy_kind_to_string(POLICY_KIND_BACKUP), "backup");
        ASSERT_STR_EQ(policy_kind_to_string(_POLICY_KIND_MAX), "unknown");
        ASSERT_INT_EQ(policy_kind_from_string("Storage"), -EINVAL);
        ASSERT_INT_EQ(policy_kind_from_string("network"), -EINVAL);
        ASSERT_INT_EQ(policy_kind_from_string(""), -EINVAL);
}

/* ---- policies: decisions -------------------------------------------------------------- */

static void test_policy_check_allow(void) {
        _cleanup_policy_set_ struct policy_set *s = shipped();
        struct policy *p = policy_with_rule(s, "storage", "{\"allow\": {\"jurisdiction\": [\"FR\", \"DE\"]}, \"refs\": [\"r1\", \"r2\"]}");
        _cleanup_tags_ struct tags *fr = tags_new("{\"jurisdiction\": \"FR\"}"), *us = tags_new("{\"jurisdiction\": \"US\"}"),
                                   *none = tags_new("{\"site\": \"par-1\"}");
        struct check c;

        check(p, POLICY_KIND_STORAGE, fr, NULL, NOW, &c);
        ASSERT_TRUE(c.allowed);
        ASSERT_INT_EQ(c.n_violations, 0);
        ASSERT_STR_EQ(c.place.name, "p1");
        ASSERT_TRUE(c.place.tags == fr);
        /* refs carried, borrowed from the rule. */
        ASSERT_INT_EQ(c.n_refs, 2);
        ASSERT_TRUE(c.refs == p->rules[POLICY_KIND_STORAGE].refs);
        ASSERT_STR_EQ(c.refs[1], "r2");

        check(p, POLICY_KIND_STORAGE, us, NULL, NOW, &c);
        ASSERT_FALSE(c.allowed);
        ASSERT_INT_EQ(c.n_violations, 1);
        ASSERT_INT_EQ(c.violations[0].kind, VIOLATION_NOT_ALLOWED);
        ASSERT_STR_EQ(c.violations[0].tag, "jurisdiction");
        ASSERT_STR_EQ(c.violations[0].found, "US");
        ASSERT_INT_EQ(c.violations[0].n_expected, 2);
        ASSERT_STR_EQ(c.violations[0].expected[1], "DE");
        ASSERT_STR_EQ(c.violations[0].reason, "jurisdiction US is not in {FR, DE}");
        ASSERT_INT_EQ(c.n_refs, 2); /* refs in a denial too */

        check(p, POLICY_KIND_STORAGE, none, NULL, NOW, &c);
        ASSERT_FALSE(c.allowed);
        ASSERT_INT_EQ(c.violations[0].kind, VIOLATION_NOT_ALLOWED);
        ASSERT_NULL(c.violations[0].found);
        ASSERT_STR_EQ(c.violations[0].reason, "tag jurisdiction is missing; allowed {FR, DE}");

        /* The other kinds have empty rules: any tagged place. */
        check(p, POLICY_KIND_COMPUTE, us, NULL, NOW, &c);
        ASSERT_TRUE(c.allowed);
        ASSERT_INT_EQ(c.n_refs, 0);
        policy_free(p);

        /* Free-form tags match literally, case included. */
        p = policy_with_rule(s, "storage", "{\"allow\": {\"site\": [\"par-1\", \"par-2\"], \"tier\": [\"gold\"]}}");
        assert_check(p, "{\"site\": \"par-2\", \"tier\": \"gold\"}", NOW, 0, NULL);
        assert_check(p, "{\"site\": \"Par-2\", \"tier\": \"gold\"}", NOW, 1, "site Par-2 is not in {par-1, par-2}");
        assert_check(p, "{\"site\": \"par-1\", \"tier\": \"silver\"}", NOW, 1, "tier silver is not in {gold}");
        policy_free(p);
}

/* Each kind of place is judged by its own rule. */
static void test_policy_check_each_kind(void) {
        _cleanup_policy_set_ struct policy_set *s = shipped();
        static const char *const country[_POLICY_KIND_MAX] = {
                [POLICY_KIND_COMPUTE] = "FR", [POLICY_KIND_STORAGE] = "DE", [POLICY_KIND_SNAPSHOT] = "IT",
                [POLICY_KIND_BACKUP] = "ES", [POLICY_KIND_MIGRATION] = "PT",
        };
        _cleanup_json_ struct json_object *doc =
                json("{\"name\": \"kinds\", \"revision\": 1, \"description\": \"d\", \"mode\": \"enforce\", \"rules\": {"
                     "\"compute\": {\"allow\": {\"jurisdiction\": [\"FR\"]}, \"refs\": [\"c\"]},"
                     "\"storage\": {\"allow\": {\"jurisdiction\": [\"DE\"]}, \"refs\": [\"s\"]},"
                     "\"snapshot\": {\"allow\": {\"jurisdiction\": [\"IT\"]}, \"refs\": [\"n\"]},"
                     "\"backup\": {\"allow\": {\"jurisdiction\": [\"ES\"]}, \"refs\": [\"b\"]},"
                     "\"migration\": {\"allow\": {\"jurisdiction\": [\"PT\"]}, \"refs\": [\"m\"]}}}");
        struct policy *p = policy_ok_in(s, doc, "kinds");
        static const char refs[_POLICY_KIND_MAX] = { 'c', 's', 'n', 'b', 'm' };

        for (int place = 0; place < _POLICY_KIND_MAX; place++) {
                char text[64];
                snprintf(text, sizeof(text), "{\"jurisdiction\": \"%s\"}", country[place]);
                _cleanup_tags_ struct tags *t = tags_new(text);
                for (int k = 0; k < _POLICY_KIND_MAX; k++) {
                        struct check c;
                        check(p, k, t, NULL, NOW, &c);
                        if (c.allowed != (k == place))
                                TEST_FAIL("%s place under the %s rule: allowed %d", country[place],
                                          policy_kind_to_string(k), c.allowed);
                        ASSERT_INT_EQ(c.n_refs, 1);
                        ASSERT_INT_EQ(c.refs[0][0], refs[k]);
                }
        }
        policy_free(p);
}

static void test_policy_check_deny(void) {
        _cleanup_policy_set_ struct policy_set *s = shipped();
        struct policy *p = policy_with_rule(s, "storage", "{\"deny\": {\"site\": [\"par-9\", \"par-8\"], \"jurisdiction\": [\"@fr\"]}}");
        _cleanup_tags_ struct tags *hit = tags_new("{\"site\": \"par-8\", \"jurisdiction\": \"DE\"}");
        struct check c;

        check(p, POLICY_KIND_STORAGE, hit, NULL, NOW, &c);
        ASSERT_FALSE(c.allowed);
        ASSERT_INT_EQ(c.n_violations, 1);
        ASSERT_INT_EQ(c.violations[0].kind, VIOLATION_DENIED);
        ASSERT_STR_EQ(c.violations[0].tag, "site");
        ASSERT_STR_EQ(c.violations[0].found, "par-8");
        ASSERT_INT_EQ(c.violations[0].n_expected, 2);
        ASSERT_STR_EQ(c.violations[0].reason, "site par-8 is denied {par-9, par-8}");

        assert_check(p, "{\"site\": \"par-1\", \"jurisdiction\": \"DE\"}", NOW, 0, NULL);
        /* deny does not need the tag: a place without it is not denied by it. */
        assert_check(p, "{\"operator\": \"x\"}", NOW, 0, NULL);
        /* Groups in deny lists: RE is in @fr. */
        assert_check(p, "{\"jurisdiction\": \"RE\"}", NOW, 1, "jurisdiction RE is denied {@fr}");
        assert_check(p, "{\"jurisdiction\": \"NC\"}", NOW, 0, NULL);
        assert_check(p, "{\"jurisdiction\": \"FR\", \"site\": \"par-9\"}", NOW, 2, NULL);
        policy_free(p);
}

static void test_policy_check_groups(void) {
        _cleanup_policy_set_ struct policy_set *s = shipped();
        struct policy *p = policy_with_rule(s, "storage", "{\"allow\": {\"jurisdiction\": [\"@eu\"]}}");

        /* Member states and the outermost regions are in; overseas countries and third countries are not. */
        static const char *const in[] = { "FR", "DE", "GR", "RE", "GP", "YT", "MF", "AX" };
        static const char *const out[] = { "NC", "PF", "BL", "GB", "CH", "NO", "US", "GL", "FO" };
        for (size_t i = 0; i < ELEMENTSOF(in); i++) {
                char t[64];
                snprintf(t, sizeof(t), "{\"jurisdiction\": \"%s\"}", in[i]);
                assert_check(p, t, NOW, 0, NULL);
        }
        for (size_t i = 0; i < ELEMENTSOF(out); i++) {
                char t[64], reason[64];
                snprintf(t, sizeof(t), "{\"jurisdiction\": \"%s\"}", out[i]);
                snprintf(reason, sizeof(reason), "jurisdiction %s is not in {@eu}", out[i]);
                assert_check(p, t, NOW, 1, reason);
        }
        policy_free(p);

        /* operator_jurisdiction, with a literal next to the group. */
        p = policy_with_rule(s, "storage", "{\"allow\": {\"operator_jurisdiction\": [\"CH\", \"@eu\"]}}");
        assert_check(p, "{\"operator_jurisdiction\": \"DE\"}", NOW, 0, NULL);
        assert_check(p, "{\"operator_jurisdiction\": \"CH\"}", NOW, 0, NULL);
        assert_check(p, "{\"operator_jurisdiction\": \"US\"}", NOW, 1, "operator_jurisdiction US is not in {CH, @eu}");
        /* The place's jurisdiction does not stand in for the operator's. */
        assert_check(p, "{\"jurisdiction\": \"FR\"}", NOW, 1, "tag operator_jurisdiction is missing; allowed {CH, @eu}");
        policy_free(p);

        /* region: whole codes only (groups are refused there, see the parsing tests). */
        p = policy_with_rule(s, "storage", "{\"allow\": {\"region\": [\"FR-IDF\", \"DE-BY\"]}}");
        assert_check(p, "{\"region\": \"FR-IDF\"}", NOW, 0, NULL);
        assert_check(p, "{\"region\": \"DE-BY\"}", NOW, 0, NULL);
        assert_check(p, "{\"region\": \"FR-HDF\"}", NOW, 1, "region FR-HDF is not in {FR-IDF, DE-BY}");
        /* New Caledonia is FR-NC in ISO 3166-2: no prefix match. */
        assert_check(p, "{\"region\": \"FR-NC\"}", NOW, 1, "region FR-NC is not in {FR-IDF, DE-BY}");
        /* A jurisdiction tag does not satisfy a region rule. */
        assert_check(p, "{\"jurisdiction\": \"FR\"}", NOW, 1, "tag region is missing; allowed {FR-IDF, DE-BY}");
        policy_free(p);

        /* @eea = @eu + IS, LI, NO. */
        p = policy_with_rule(s, "storage", "{\"allow\": {\"jurisdiction\": [\"@eea\"]}}");
        assert_check(p, "{\"jurisdiction\": \"NO\"}", NOW, 0, NULL);
        assert_check(p, "{\"jurisdiction\": \"RE\"}", NOW, 0, NULL);
        assert_check(p, "{\"jurisdiction\": \"SJ\"}", NOW, 1, NULL);
        assert_check(p, "{\"jurisdiction\": \"CH\"}", NOW, 1, NULL);
        policy_free(p);
}

static void test_policy_check_certifications(void) {
        _cleanup_policy_set_ struct policy_set *s = shipped();
        struct policy *p = policy_with_rule(s, "storage", "{\"require_certifications\": [\"secnumcloud:3.2\"]}");
        time_t last_day = at("2026-01-31T23:59:59Z"), next_day = at("2026-02-01T00:00:00Z");
        _cleanup_tags_ struct tags *low = tags_new("{\"certifications\": [\"secnumcloud:3.1\"]}");
        struct check c;

        assert_check(p, "{\"certifications\": [\"secnumcloud:3.2\"]}", NOW, 0, NULL);
        assert_check(p, "{\"certifications\": [\"secnumcloud:3.10\"]}", NOW, 0, NULL);
        assert_check(p, "{\"certifications\": [\"secnumcloud:4\"]}", NOW, 0, NULL);
        assert_check(p, "{\"certifications\": [\"secnumcloud:3.2.0\"]}", NOW, 0, NULL);
        assert_check(p, "{\"certifications\": [\"hds\", {\"name\": \"secnumcloud\", \"version\": \"3.2\"}]}", NOW, 0,
                     NULL);

        /* Not held. */
        assert_check(p, "{\"site\": \"par-1\"}", NOW, 1, "certification secnumcloud:3.2 is required and not held");
        assert_check(p, "{\"certifications\": [\"hds\", \"secnumcloud-lite:4\"]}", NOW, 1,
                     "certification secnumcloud:3.2 is required and not held");
        /* Version too low, and no version at all when one is required. */
        check(p, POLICY_KIND_STORAGE, low, NULL, NOW, &c);
        ASSERT_INT_EQ(c.n_violations, 1);
        ASSERT_INT_EQ(c.violations[0].kind, VIOLATION_CERTIFICATION);
        ASSERT_STR_EQ(c.violations[0].tag, "certifications");
        ASSERT_STR_EQ(c.violations[0].found, "3.1");
        ASSERT_INT_EQ(c.violations[0].n_expected, 1);
        ASSERT_STR_EQ(c.violations[0].expected[0], "secnumcloud:3.2");
        ASSERT_STR_EQ(c.violations[0].reason, "certification secnumcloud:3.2 is required; held: secnumcloud 3.1");
        assert_check(p, "{\"certifications\": [\"secnumcloud:3\"]}", NOW, 1,
                     "certification secnumcloud:3.2 is required; held: secnumcloud 3");
        assert_check(p, "{\"certifications\": [\"secnumcloud\"]}", NOW, 1,
                     "certification secnumcloud:3.2 is required; held: secnumcloud (no version)");

        /* valid_until is the last valid day, whole. */
        static const char expiring[] =
                "{\"certifications\": [{\"name\": \"secnumcloud\", \"version\": \"3.2\", \"valid_until\": \"2026-01-31\"}]}";
        assert_check(p, expiring, at("2026-01-31T00:00:00Z"), 0, NULL);
        assert_check(p, expiring, last_day, 0, NULL);
        assert_check(p, expiring, next_day, 1, "certification secnumcloud:3.2 expired on 2026-01-31");
        assert_check(p, expiring, NOW, 1, "certification secnumcloud:3.2 expired on 2026-01-31");
        policy_free(p);

        /* Unversioned requirement: any version, the unversioned entry included. */
        p = policy_with_rule(s, "storage", "{\"require_certifications\": [\"hds\", \"iso27001\"]}");
        assert_check(p, "{\"certifications\": [\"hds\", \"iso27001:2013\"]}", NOW, 0, NULL);
        assert_check(p, "{\"certifications\": [\"hds:2024\", \"iso27001\"]}", NOW, 0, NULL);
        assert_check(p, "{\"certifications\": [\"hds\"]}", NOW, 1, "certification iso27001 is required and not held");
        /* Both missing: both listed. */
        assert_check(p, "{\"site\": \"x\"}", NOW, 2, "certification hds is required and not held");
        assert_check(p,
                     "{\"certifications\": [\"iso27001\", {\"name\": \"hds\", \"valid_until\": \"2025-12-31\"}]}",
                     NOW, 1, "certification hds expired on 2025-12-31");
        /* A renewal listed next to the expired certificate: the current one counts. */
        assert_check(p,
                     "{\"certifications\": [\"iso27001\", {\"name\": \"hds\", \"valid_until\": \"2025-12-31\"},"
                     " {\"name\": \"hds\", \"valid_until\": \"2028-12-31\"}]}",
                     NOW, 0, NULL);
        policy_free(p);

        /* Several entries of one scheme: any that meets version and date satisfies. */
        p = policy_with_rule(s, "storage", "{\"require_certifications\": [\"secnumcloud:3.2\"]}");
        assert_check(p, "{\"certifications\": [\"secnumcloud:3.1\", \"secnumcloud:3.2\"]}", NOW, 0, NULL);
        assert_check(p, "{\"certifications\": [\"secnumcloud:3.2\", \"secnumcloud:3.1\"]}", NOW, 0, NULL);
        assert_check(p, "{\"certifications\": [\"secnumcloud\", \"secnumcloud:3.3\"]}", NOW, 0, NULL);
        assert_check(p,
                     "{\"certifications\": [{\"name\": \"secnumcloud\", \"version\": \"3.3\", \"valid_until\": "
                     "\"2025-06-30\"}, \"secnumcloud:3.2\"]}",
                     NOW, 0, NULL);
        /* None does: the refusal explains the closest (the one of a high enough version: expired). */
        assert_check(p,
                     "{\"certifications\": [\"secnumcloud:3.1\", {\"name\": \"secnumcloud\", \"version\": \"3.3\", "
                     "\"valid_until\": \"2025-06-30\"}]}",
                     NOW, 1, "certification secnumcloud:3.2 expired on 2025-06-30");
        assert_check(p, "{\"certifications\": [\"secnumcloud:2\", \"secnumcloud:3.1\", \"secnumcloud\"]}", NOW, 1,
                     "certification secnumcloud:3.2 is required; held: secnumcloud 3.1");
        policy_free(p);
}

static void test_policy_check_different_site(void) {
        _cleanup_policy_set_ struct policy_set *s = shipped();
        struct policy *p = policy_with_rule(s, "backup", "{\"different_site_from_host\": true}");
        _cleanup_tags_ struct tags *host = tags_new("{\"site\": \"par-1\", \"jurisdiction\": \"FR\"}"),
                                   *host_no_site = tags_new("{\"jurisdiction\": \"FR\"}"),
                                   *other = tags_new("{\"site\": \"rbx-2\"}"), *same = tags_new("{\"site\": \"par-1\"}"),
                                   *no_site = tags_new("{\"jurisdiction\": \"FR\"}");
        struct check c;

        check(p, POLICY_KIND_BACKUP, other, host, NOW, &c);
        ASSERT_TRUE(c.allowed);

        check(p, POLICY_KIND_BACKUP, same, host, NOW, &c);
        ASSERT_FALSE(c.allowed);
        ASSERT_INT_EQ(c.n_violations, 1);
        ASSERT_INT_EQ(c.violations[0].kind, VIOLATION_SAME_SITE);
        ASSERT_STR_EQ(c.violations[0].tag, "site");
        ASSERT_STR_EQ(c.violations[0].found, "par-1");
        ASSERT_STR_EQ(c.violations[0].reason, "site par-1 is the host's own site; a different site is required");

        check(p, POLICY_KIND_BACKUP, no_site, host, NOW, &c);
        ASSERT_FALSE(c.allowed);
        ASSERT_NULL(c.violations[0].found);
        ASSERT_STR_EQ(c.violations[0].reason, "tag site is missing: cannot show it differs from the host's site");

        check(p, POLICY_KIND_BACKUP, other, host_no_site, NOW, &c);
        ASSERT_FALSE(c.allowed);
        ASSERT_STR_EQ(c.violations[0].reason, "the host has no site tag: cannot show rbx-2 is another site");
        check(p, POLICY_KIND_BACKUP, other, NULL, NOW, &c);
        ASSERT_FALSE(c.allowed);
        ASSERT_STR_EQ(c.violations[0].reason, "the host has no site tag: cannot show rbx-2 is another site");

        /* Only where the rule asks for it. */
        check(p, POLICY_KIND_STORAGE, same, host, NOW, &c);
        ASSERT_TRUE(c.allowed);
        policy_free(p);
}

static void test_policy_check_untagged(void) {
        _cleanup_policy_set_ struct policy_set *s = shipped();
        const struct policy *unr = policy_set_find(s, "unrestricted");
        _cleanup_tags_ struct tags *empty = tags_new("{}"), *no_certs = tags_new("{\"certifications\": []}"),
                                   *tagged = tags_new("{\"site\": \"x\"}");
        const struct tags *untagged[] = { NULL, empty, no_certs };
        struct check c;

        for (int k = 0; k < _POLICY_KIND_MAX; k++) {
                /* An empty rule allows any tagged place... */
                check(unr, k, tagged, NULL, NOW, &c);
                ASSERT_TRUE(c.allowed);
                /* ...and never an untagged one. */
                for (size_t i = 0; i < ELEMENTSOF(untagged); i++) {
                        check(unr, k, untagged[i], NULL, NOW, &c);
                        ASSERT_FALSE(c.allowed);
                        ASSERT_INT_EQ(c.n_violations, 1);
                        ASSERT_INT_EQ(c.violations[0].kind, VIOLATION_UNTAGGED);
                        ASSERT_NULL(c.violations[0].found);
                        ASSERT_STR_EQ(c.violations[0].reason,
                                      "storage_pool 'p1' has no tags: an untagged place is never compliant");
                }
        }
        /* Untagged is the one reason given, whatever else the rule asks. */
        const struct policy *snc = policy_set_find(s, "secnumcloud");
        check(snc, POLICY_KIND_BACKUP, NULL, tagged, NOW, &c);
        ASSERT_INT_EQ(c.n_violations_total, 1);
        ASSERT_INT_EQ(c.violations[0].kind, VIOLATION_UNTAGGED);
        ASSERT_INT_EQ(c.n_refs, snc->rules[POLICY_KIND_BACKUP].n_refs);
}

static void test_policy_check_every_violation(void) {
        _cleanup_policy_set_ struct policy_set *s = shipped();
        const struct policy *snc = policy_set_find(s, "secnumcloud");
        _cleanup_tags_ struct tags *host = tags_new("{\"site\": \"par-1\"}"),
                                   *bad = tags_new("{\"jurisdiction\": \"US\", \"site\": \"nyc-1\", \"certifications\": [\"hds\"]}"),
                                   *worse = tags_new("{\"jurisdiction\": \"US\", \"operator_jurisdiction\": \"US\", \"site\": "
                                                     "\"par-1\", \"certifications\": [\"secnumcloud:3.1\"]}");
        struct check c;

        /* Jurisdiction outside, operator missing, certification missing: three violations, in rule order. */
        check(snc, POLICY_KIND_STORAGE, bad, host, NOW, &c);
        ASSERT_INT_EQ(c.n_violations, 3);
        ASSERT_INT_EQ(c.n_violations_total, 3);
        ASSERT_STR_EQ(c.violations[0].reason, "jurisdiction US is not in {@fr}");
        ASSERT_STR_EQ(c.violations[1].reason, "tag operator_jurisdiction is missing; allowed {@eu}");
        ASSERT_STR_EQ(c.violations[2].reason, "certification secnumcloud:3.2 is required and not held");

        /* Backup: the same plus the site. */
        check(snc, POLICY_KIND_BACKUP, worse, host, NOW, &c);
        ASSERT_INT_EQ(c.n_violations, 4);
        ASSERT_INT_EQ(c.violations[0].kind, VIOLATION_NOT_ALLOWED);
        ASSERT_INT_EQ(c.violations[1].kind, VIOLATION_NOT_ALLOWED);
        ASSERT_INT_EQ(c.violations[2].kind, VIOLATION_CERTIFICATION);
        ASSERT_INT_EQ(c.violations[3].kind, VIOLATION_SAME_SITE);

        /* More than CHECK_MAX_VIOLATIONS: the rest are counted. */
        _cleanup_strbuf_ struct strbuf rule = {};
        strbuf_append(&rule, "{\"allow\": {");
        for (int i = 0; i < 20; i++)
                strbuf_appendf(&rule, "%s\"t%d\": [\"x\"]", i ? ", " : "", i);
        strbuf_append(&rule, "}, \"deny\": {\"site\": [\"nyc-1\"]}, \"require_certifications\": [\"a\", \"b\"]}");
        ASSERT_NOT_NULL(rule.buf);
        struct policy *p = policy_with_rule(s, "storage", rule.buf);
        check(p, POLICY_KIND_STORAGE, bad, host, NOW, &c);
        ASSERT_FALSE(c.allowed);
        ASSERT_INT_EQ(c.n_violations, CHECK_MAX_VIOLATIONS);
        ASSERT_INT_EQ(c.n_violations_total, 23);
        ASSERT_STR_EQ(c.violations[15].reason, "tag t15 is missing; allowed {x}");

        _cleanup_json_ struct json_object *j = check_to_json(&c);
        struct json_object *v = NULL, *more = NULL;
        ASSERT_NOT_NULL(j);
        ASSERT_TRUE(json_object_object_get_ex(j, "violations", &v));
        ASSERT_INT_EQ(json_object_array_length(v), CHECK_MAX_VIOLATIONS);
        ASSERT_TRUE(json_object_object_get_ex(j, "violations_not_shown", &more));
        ASSERT_INT_EQ(json_object_get_int(more), 7);
        policy_free(p);
}

static const char *member_string(struct json_object *o, const char *ptr) {
        struct json_object *v = NULL;

        if (json_pointer_get(o, ptr, &v) < 0)
                TEST_FAIL("no %s in %s", ptr, json_to_string(o));
        return json_object_is_type(v, json_type_null) ? NULL : json_object_get_string(v);
}

static void test_policy_check_to_json(void) {
        _cleanup_policy_set_ struct policy_set *s = shipped();
        const struct policy *snc = policy_set_find(s, "secnumcloud");
        _cleanup_tags_ struct tags *host = tags_new("{\"site\": \"par-1\"}"),
                                   *t = tags_new("{\"jurisdiction\": \"US\", \"site\": \"par-1\", \"certifications\": "
                                                 "[\"secnumcloud:3.1\"]}"),
                                   *ok = tags_new("{\"jurisdiction\": \"RE\", \"operator_jurisdiction\": \"DE\", \"site\": "
                                                  "\"run-1\", \"certifications\": [\"secnumcloud:3.2\"]}");
        struct check c;
        struct place place = { .type = "backup_target", .name = "offsite", .tags = t };
        struct place hostp = { .type = "host", .name = "this host", .tags = host };
        struct json_object *v = NULL;

        policy_check(snc, POLICY_KIND_BACKUP, &place, &hostp, NOW, &c);
        _cleanup_json_ struct json_object *j = check_to_json(&c);
        ASSERT_NOT_NULL(j);
        ASSERT_STR_EQ(member_string(j, "/kind"), "backup");
        ASSERT_STR_EQ(member_string(j, "/outcome"), "deny");
        ASSERT_STR_EQ(member_string(j, "/place/type"), "backup_target");
        ASSERT_STR_EQ(member_string(j, "/place/name"), "offsite");
        ASSERT_STR_EQ(member_string(j, "/place/tags/jurisdiction"), "US");
        ASSERT_STR_EQ(member_string(j, "/place/tags/certifications/0"), "secnumcloud:3.1");
        ASSERT_TRUE(json_object_object_get_ex(j, "violations", &v));
        ASSERT_INT_EQ(json_object_array_length(v), 4);
        ASSERT_STR_EQ(member_string(j, "/violations/0/tag"), "jurisdiction");
        ASSERT_STR_EQ(member_string(j, "/violations/0/found"), "US");
        ASSERT_STR_EQ(member_string(j, "/violations/0/allowed/0"), "@fr");
        ASSERT_STR_EQ(member_string(j, "/violations/0/reason"), "jurisdiction US is not in {@fr}");
        /* A missing tag is found: null. */
        ASSERT_STR_EQ(member_string(j, "/violations/1/tag"), "operator_jurisdiction");
        ASSERT_NULL(member_string(j, "/violations/1/found"));
        ASSERT_STR_EQ(member_string(j, "/violations/2/tag"), "certifications");
        ASSERT_STR_EQ(member_string(j, "/violations/2/found"), "3.1");
        ASSERT_STR_EQ(member_string(j, "/violations/2/required/0"), "secnumcloud:3.2");
        ASSERT_STR_EQ(member_string(j, "/violations/3/tag"), "site");
        ASSERT_NOT_NULL(member_string(j, "/violations/3/reason"));
        ASSERT_STR_EQ(member_string(j, "/refs/0"), "SecNumCloud 3.2 §12.5.d: backups under the same location rules");
        ASSERT_FALSE(json_object_object_get_ex(j, "violations_not_shown", NULL));

        place.tags = ok;
        policy_check(snc, POLICY_KIND_BACKUP, &place, &hostp, NOW, &c);
        ASSERT_TRUE(c.allowed);
        _cleanup_json_ struct json_object *j2 = check_to_json(&c);
        ASSERT_STR_EQ(member_string(j2, "/outcome"), "allow");
        ASSERT_TRUE(json_object_object_get_ex(j2, "violations", &v));
        ASSERT_INT_EQ(json_object_array_length(v), 0);
        ASSERT_TRUE(json_object_object_get_ex(j2, "refs", &v));
        ASSERT_INT_EQ(json_object_array_length(v), 4);

        /* A denied value says "denied"; an untagged place's tags are {}. */
        struct policy *p = policy_with_rule(s, "storage", "{\"deny\": {\"jurisdiction\": [\"US\"]}}");
        place.tags = t;
        policy_check(p, POLICY_KIND_STORAGE, &place, NULL, NOW, &c);
        _cleanup_json_ struct json_object *j3 = check_to_json(&c);
        ASSERT_STR_EQ(member_string(j3, "/violations/0/denied/0"), "US");
        ASSERT_TRUE(json_pointer_get(j3, "/violations/0/allowed", &v) < 0);
        place.tags = NULL;
        policy_check(p, POLICY_KIND_STORAGE, &place, NULL, NOW, &c);
        _cleanup_json_ struct json_object *j4 = check_to_json(&c);
        ASSERT_TRUE(json_pointer_get(j4, "/place/tags", &v) == 0);
        ASSERT_TRUE(json_object_is_type(v, json_type_object));
        ASSERT_INT_EQ(json_object_object_length(v), 0);
        ASSERT_STR_EQ(member_string(j4, "/violations/0/tag"), "*");
        policy_free(p);
}

/* ---- digest and canonical JSON ------------------------------------------------------------ */

static void test_policy_json_canonical(void) {
        _cleanup_json_ struct json_object *o =
                json("{\"b\": {\"z\": 1, \"a\": [{\"y\": 2, \"x\": [true, null, {\"d\": 1, \"c\": 2}]}, \"s\"]},"
                     " \"a\": \"s/t \\u00e9\", \"A\": -1.5, \"\": {}}");
        _cleanup_free_ char *c = json_canonical(o);

        ASSERT_STR_EQ(c, "{\"\":{},\"A\":-1.5,\"a\":\"s/t é\",\"b\":{\"a\":[{\"x\":[true,null,{\"c\":2,\"d\":1}],\"y\":2},"
                         "\"s\"],\"z\":1}}");
        /* Arrays keep their order; the input is untouched. */
        _cleanup_json_ struct json_object *arr = json("[3, 1, 2]");
        _cleanup_free_ char *ca = json_canonical(arr);
        ASSERT_STR_EQ(ca, "[3,1,2]");
        ASSERT_STR_EQ(json_to_string(json_object_object_get(o, "b")), "{\"z\":1,\"a\":[{\"y\":2,\"x\":[true,null,{\"d\":1,\"c\":2}]},\"s\"]}");
        _cleanup_json_ struct json_object *str = json("\"x\"");
        _cleanup_free_ char *cs = json_canonical(str);
        ASSERT_STR_EQ(cs, "\"x\"");
}

static struct policy *parse_text(const struct policy_set *s, struct value_group *const *groups, size_t n_groups,
                                 const char *text) {
        _cleanup_json_ struct json_object *doc = json(text);
        struct policy *p = NULL;
        struct sovd_err err = {};

        if (policy_parse(doc, NULL, groups ? groups : s->groups, groups ? n_groups : s->n_groups, &p, &err) < 0)
                TEST_FAIL("policy_parse: %s", err.msg);
        return p;
}

static void test_policy_digest(void) {
        _cleanup_policy_set_ struct policy_set *s = shipped();
        static const char a[] =
                "{\"name\": \"d\", \"revision\": 1, \"description\": \"x\", \"mode\": \"enforce\", \"rules\": {"
                "\"compute\": {\"allow\": {\"jurisdiction\": [\"@eu\"]}}, \"storage\": {\"deny\": {\"site\": [\"par-9\"]}},"
                "\"snapshot\": {}, \"backup\": {}, \"migration\": {}}}";
        /* The same document, members in another order, other white space. */
        static const char b[] =
                "{\n  \"rules\": {\"migration\":{},\"backup\":{},\"snapshot\":{},\n"
                "    \"storage\":{\"deny\":{\"site\":[\"par-9\"]}},\"compute\":{\"allow\":{\"jurisdiction\":[\"@eu\"]}}},\n"
                "  \"mode\":\"enforce\", \"description\":\"x\",\t\"revision\":1, \"name\":\"d\"\n}\n";
        static const char value_changed[] =
                "{\"name\": \"d\", \"revision\": 1, \"description\": \"x\", \"mode\": \"enforce\", \"rules\": {"
                "\"compute\": {\"allow\": {\"jurisdiction\": [\"@eu\"]}}, \"storage\": {\"deny\": {\"site\": [\"par-8\"]}},"
                "\"snapshot\": {}, \"backup\": {}, \"migration\": {}}}";
        static const char revision_changed[] =
                "{\"name\": \"d\", \"revision\": 2, \"description\": \"x\", \"mode\": \"enforce\", \"rules\": {"
                "\"compute\": {\"allow\": {\"jurisdiction\": [\"@eu\"]}}, \"storage\": {\"deny\": {\"site\": [\"par-9\"]}},"
                "\"snapshot\": {}, \"backup\": {}, \"migration\": {}}}";
        struct policy *pa = parse_text(s, NULL, 0, a), *pb = parse_text(s, NULL, 0, b),
                      *pv = parse_text(s, NULL, 0, value_changed), *pr = parse_text(s, NULL, 0, revision_changed);

        ASSERT_INT_EQ(strlen(pa->digest), 64);
        ASSERT_STR_EQ(pa->digest, pb->digest);
        ASSERT_FALSE(streq(pa->digest, pv->digest));
        ASSERT_FALSE(streq(pa->digest, pr->digest));

        /* What the contract says it is: SHA-256 of {"groups": {used: members}, "policy": doc}, canonical. */
        _cleanup_json_ struct json_object *root = json_object_new_object(), *gs = json_object_new_object();
        _cleanup_json_ struct json_object *doc = json(a);
        const struct value_group *eu = NULL;
        for (size_t i = 0; i < s->n_groups; i++)
                if (streq(s->groups[i]->name, "eu"))
                        eu = s->groups[i];
        ASSERT_NOT_NULL(eu);
        ASSERT_OK(json_add(gs, "eu", json_object_get(json_object_object_get(eu->doc, "members"))));
        ASSERT_OK(json_add(root, "groups", json_object_get(gs)));
        ASSERT_OK(json_add(root, "policy", json_object_get(doc)));
        _cleanup_free_ char *canon = json_canonical(root);
        char hex[SHA256_HEX_LEN];
        ASSERT_NOT_NULL(canon);
        ASSERT_OK(sha256_hex(canon, strlen(canon), hex));
        ASSERT_STR_EQ(pa->digest, hex);

        /* Groups: a change to a used group changes the digest, a change to an unused one does not. */
        _cleanup_json_ struct json_object *eu_changed =
                json("{\"name\": \"eu\", \"version\": \"2027-01-01\", \"members\": [\"FR\", \"DE\"]}");
        struct value_group *g_eu = NULL, *groups[8];
        struct sovd_err err = {};
        size_t n = 0;
        ASSERT_OK(value_group_parse(eu_changed, "eu", &g_eu, &err));
        for (size_t i = 0; i < s->n_groups; i++)
                groups[n++] = streq(s->groups[i]->name, "eu") ? g_eu : s->groups[i];
        struct policy *pg = parse_text(s, groups, n, a);
        ASSERT_FALSE(streq(pa->digest, pg->digest));

        static const char fr_only[] =
                "{\"name\": \"d\", \"revision\": 1, \"description\": \"x\", \"mode\": \"enforce\", \"rules\": {"
                "\"compute\": {\"allow\": {\"jurisdiction\": [\"@fr\"]}}, \"storage\": {}, \"snapshot\": {}, \"backup\": {},"
                " \"migration\": {}}}";
        struct policy *pf1 = parse_text(s, NULL, 0, fr_only), *pf2 = parse_text(s, groups, n, fr_only);
        ASSERT_STR_EQ(pf1->digest, pf2->digest);
        /* Fewer groups loaded, the used one still there: same digest too. */
        struct value_group *fr_group[1] = { NULL };
        for (size_t i = 0; i < s->n_groups; i++)
                if (streq(s->groups[i]->name, "fr"))
                        fr_group[0] = s->groups[i];
        struct policy *pf3 = parse_text(s, fr_group, 1, fr_only);
        ASSERT_STR_EQ(pf1->digest, pf3->digest);

        /* The shipped policies all differ. */
        for (size_t i = 0; i < s->n_policies; i++)
                for (size_t k = i + 1; k < s->n_policies; k++)
                        ASSERT_FALSE(streq(s->policies[i]->digest, s->policies[k]->digest));

        policy_free(pa);
        policy_free(pb);
        policy_free(pv);
        policy_free(pr);
        policy_free(pg);
        policy_free(pf1);
        policy_free(pf2);
        policy_free(pf3);
        value_group_free(g_eu);
}

/* ---- the policy directory ----------------------------------------------------------------- */

static const char minimal_policy_fmt[] =
        "{\"name\": \"%s\", \"revision\": 1, \"description\": \"d\", \"mode\": \"%s\", \"rules\": {"
        "\"compute\": %s, \"storage\": %s, \"snapshot\": {}, \"backup\": {}, \"migration\": {}}}";

static void write_policy(const char *dir, const char *name, const char *mode, const char *rule) {
        char file[128], text[2048];

        snprintf(file, sizeof(file), "%s.json", name);
        snprintf(text, sizeof(text), minimal_policy_fmt, name, mode, rule, rule);
        write_file(dir, file, text);
}

static void test_policy_set_load_shipped(void) {
        _cleanup_policy_set_ struct policy_set *s = shipped();

        ASSERT_INT_EQ(s->n_ref, 1);
        ASSERT_STR_EQ(s->dir, SOVD_POLICY_DIR);
        ASSERT_TRUE(s->loaded_at > 0);
        /* The schemas are not policies. */
        ASSERT_NULL(policy_set_find(s, "policy.schema"));
        ASSERT_NULL(policy_set_find(s, "policy"));
        ASSERT_NULL(policy_set_find(s, "eu")); /* a group, not a policy */
        ASSERT_NULL(policy_set_find(s, ""));
        ASSERT_NULL(policy_set_find(s, "HDS"));
        ASSERT_NULL(policy_set_find(NULL, "hds"));

        ASSERT_TRUE(policy_set_ref(s) == s);
        ASSERT_INT_EQ(s->n_ref, 2);
        ASSERT_NULL(policy_set_unref(s));
        ASSERT_INT_EQ(s->n_ref, 1);
        ASSERT_NULL(policy_set_ref(NULL));
        ASSERT_NULL(policy_set_unref(NULL));
}

static void test_policy_set_find_order(void) {
        _cleanup_rm_rf_ char *dir = tmpdir();
        _cleanup_policy_set_ struct policy_set *s = NULL;
        struct sovd_err err = {};
        /* File order ("eu-gdpr.json" < "eu.json" as '-' < '.') differs from name order ("eu" < "eu-gdpr"). */
        static const char *const names[] = { "eu", "eu-gdpr", "eu.x", "eu_2", "EU", "a", "z", "eu-", "0" };

        copy_groups(dir);
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                write_policy(dir, names[i], "enforce", "{}");
        write_file(dir, "policy.schema.json", "not JSON, and skipped");
        write_file(dir, ".hidden.json", "skipped too");
        write_file(dir, "notes.txt", "not a policy");
        ASSERT_OK(policy_set_load(dir, &s, &err));
        ASSERT_INT_EQ(s->n_policies, ELEMENTSOF(names));
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                const struct policy *p = policy_set_find(s, names[i]);
                if (!p)
                        TEST_FAIL("policy_set_find(%s) found nothing", names[i]);
                ASSERT_STR_EQ(p->name, names[i]);
        }
        for (size_t i = 1; i < s->n_policies; i++)
                ASSERT_TRUE(strcmp(s->policies[i - 1]->name, s->policies[i]->name) < 0);
        ASSERT_NULL(policy_set_find(s, "eu-gdp"));
        ASSERT_NULL(policy_set_find(s, "e"));
        ASSERT_NULL(policy_set_find(s, "zz"));
        ASSERT_INT_EQ(s->n_groups, 3);

        /* A directory without groups/ is fine when no policy uses a group. */
        _cleanup_rm_rf_ char *bare = tmpdir();
        _cleanup_policy_set_ struct policy_set *b = NULL;
        write_policy(bare, "solo", "enforce", "{\"allow\": {\"jurisdiction\": [\"FR\"]}}");
        ASSERT_OK(policy_set_load(bare, &b, &err));
        ASSERT_INT_EQ(b->n_groups, 0);
        ASSERT_NOT_NULL(policy_set_find(b, "solo"));

        /* An empty directory is an empty set. */
        _cleanup_rm_rf_ char *empty = tmpdir();
        _cleanup_policy_set_ struct policy_set *e = NULL;
        ASSERT_OK(policy_set_load(empty, &e, &err));
        ASSERT_INT_EQ(e->n_policies, 0);
        ASSERT_NULL(policy_set_find(e, "eu"));
}

static void test_policy_set_load_all_or_nothing(void) {
        _cleanup_rm_rf_ char *dir = tmpdir();
        _cleanup_free_ char *expected = NULL, *gpath = NULL;
        const char *msg;

        copy_groups(dir);
        write_policy(dir, "aaa", "enforce", "{}");
        write_policy(dir, "zzz", "enforce", "{}");

        /* One broken policy, last in order: the whole set fails, naming the file and the member. */
        write_file(dir, "zzz.json", "{\"name\": \"zzz\", \"owner\": 1}");
        msg = loading_fails(dir);
        ASSERT_TRUE(asprintf(&expected, "%s/zzz.json: /owner: unknown member", dir) >= 0);
        ASSERT_STR_EQ(msg, expected);
        free(expected);

        /* A name that does not match its file. */
        write_policy(dir, "zzz", "enforce", "{}");
        write_file(dir, "mmm.json", "{\"name\": \"aaa\", \"revision\": 1, \"description\": \"d\", \"mode\": \"enforce\", \"rules\": {}}");
        msg = loading_fails(dir);
        ASSERT_TRUE(asprintf(&expected, "%s/mmm.json: /name: 'aaa' does not match the file name 'mmm'", dir) >= 0);
        ASSERT_STR_EQ(msg, expected);
        free(expected);

        /* Not JSON. */
        write_file(dir, "mmm.json", "{\"name\": ");
        msg = loading_fails(dir);
        ASSERT_TRUE(asprintf(&expected, "%s/mmm.json: invalid JSON", dir) >= 0);
        ASSERT_TRUE(strncmp(msg, expected, strlen(expected)) == 0);
        free(expected);

        /* An unknown group, in the contract's own example. */
        write_policy(dir, "mmm", "enforce", "{\"allow\": {\"jurisdiction\": [\"FR\", \"RE\", \"GP\", \"@eeaa\"]}}");
        msg = loading_fails(dir);
        ASSERT_TRUE(asprintf(&expected, "%s/mmm.json: /rules/compute/allow/jurisdiction/3: \"@eeaa\" is not a known value group", dir) >= 0);
        ASSERT_STR_EQ(msg, expected);
        free(expected);
        ASSERT_TRUE(asprintf(&expected, "%s/mmm.json", dir) >= 0);
        ASSERT_TRUE(remove(expected) == 0);
        free(expected);

        /* A broken group fails the set too, before any policy. */
        ASSERT_TRUE(asprintf(&gpath, "%s/groups", dir) >= 0);
        write_file(gpath, "eea.json", "{\"name\": \"eea\", \"version\": \"1\", \"members\": [\"FR\", \"XX\"]}");
        msg = loading_fails(dir);
        ASSERT_TRUE(asprintf(&expected, "%s/groups/eea.json: /members/1: 'XX' is not an ISO 3166-1 alpha-2 code", dir) >= 0);
        ASSERT_STR_EQ(msg, expected);
        free(expected);
        write_file(gpath, "eea.json", "{\"name\": \"eu\", \"version\": \"1\", \"members\": [\"FR\"]}");
        msg = loading_fails(dir);
        ASSERT_TRUE(asprintf(&expected, "%s/groups/eea.json: /name: 'eu' does not match the file name 'eea'", dir) >= 0);
        ASSERT_STR_EQ(msg, expected);
        free(expected);
        expected = NULL;

        /* Fixed: loads again. */
        write_file(gpath, "eea.json", "{\"name\": \"eea\", \"version\": \"1\", \"members\": [\"FR\"]}");
        _cleanup_policy_set_ struct policy_set *s = NULL;
        struct sovd_err err = {};
        ASSERT_OK(policy_set_load(dir, &s, &err));
        ASSERT_INT_EQ(s->n_policies, 2);

        /* No such directory. */
        _cleanup_free_ char *missing = NULL;
        ASSERT_TRUE(asprintf(&missing, "%s/nope", dir) >= 0);
        msg = loading_fails(missing);
        ASSERT_STR_CONTAINS(msg, missing);
}

/* ---- admission ---------------------------------------------------------------------------------- */

static const char test_config[] =
        "{\"host_tags\": {\"jurisdiction\": \"FR\", \"operator_jurisdiction\": \"FR\", \"site\": \"par-1\","
        "                 \"certifications\": [\"secnumcloud:3.2\"]},"
        " \"storage_pools\": {"
        "   \"fr-pool\": {\"tags\": {\"jurisdiction\": \"FR\", \"operator_jurisdiction\": \"FR\", \"site\": \"par-1\","
        "                            \"certifications\": [\"secnumcloud:3.2\"]}},"
        "   \"re-pool\": {\"tags\": {\"jurisdiction\": \"RE\", \"operator_jurisdiction\": \"FR\", \"site\": \"run-1\","
        "                            \"certifications\": [\"secnumcloud:3.3\"]}},"
        "   \"us-pool\": {\"tags\": {\"jurisdiction\": \"US\", \"operator_jurisdiction\": \"US\", \"site\": \"nyc-1\"}},"
        "   \"bare-pool\": {\"tags\": {}}},"
        " \"backup_targets\": {"
        "   \"rbx\": {\"path\": \"/srv/backup\", \"tags\": {\"jurisdiction\": \"FR\", \"operator_jurisdiction\": \"FR\","
        "             \"site\": \"rbx-2\", \"certifications\": [\"secnumcloud:3.2\"]}},"
        "   \"local\": {\"path\": \"/srv/local\", \"tags\": {\"jurisdiction\": \"FR\", \"operator_jurisdiction\": \"FR\","
        "             \"site\": \"par-1\", \"certifications\": [\"secnumcloud:3.2\"]}}}}";

/* Installs test_config and the policies of @dir (the shipped ones when NULL). */
static void admission_setup(const char *dir, const char *config_text) {
        _cleanup_config_ struct config *c = NULL;
        _cleanup_policy_set_ struct policy_set *s = NULL;
        struct sovd_err err = {};

        if (config_parse(config_text, strlen(config_text), "test.conf", &c, &err) < 0)
                TEST_FAIL("config_parse: %s", err.msg);
        if (policy_set_load(dir ? dir : SOVD_POLICY_DIR, &s, &err) < 0)
                TEST_FAIL("policy_set_load: %s", err.msg);
        admission_set(c, s);
}

/* The host place is named by the hostname. */
static const char *host_name(void) {
        static char name[256];

        if (gethostname(name, sizeof(name) - 1) < 0 || !name[0])
                snprintf(name, sizeof(name), "this host");
        return name;
}

static struct decision *decide_vm(const char *policy, const struct admission_disk *disks, size_t n) {
        struct decision *d = NULL;

        ASSERT_OK(admission_decide_vm("create", policy, disks, n, NOW, &d));
        ASSERT_NOT_NULL(d);
        return d;
}

static void test_policy_admission_vm(void) {
        admission_setup(NULL, test_config);
        struct admission_disk fr2[] = { { .pool = "fr-pool", .path = "/a" }, { .pool = "fr-pool", .path = "/b" },
                                        { .pool = "re-pool", .path = "/c" } };
        _cleanup_decision_ struct decision *d = decide_vm("fr-sovereign", fr2, ELEMENTSOF(fr2));

        /* compute on the host, storage once per distinct pool: two disks in one pool are one check. */
        ASSERT_TRUE(d->allowed);
        ASSERT_FALSE(d->would_deny);
        ASSERT_INT_EQ(d->decided_by, -1);
        ASSERT_INT_EQ(d->n_checks, 3);
        ASSERT_INT_EQ(d->checks[0].kind, POLICY_KIND_COMPUTE);
        ASSERT_STR_EQ(d->checks[0].place.type, "host");
        ASSERT_INT_EQ(d->checks[1].kind, POLICY_KIND_STORAGE);
        ASSERT_STR_EQ(d->checks[1].place.type, "storage_pool");
        ASSERT_STR_EQ(d->checks[1].place.name, "fr-pool");
        ASSERT_STR_EQ(d->checks[2].place.name, "re-pool");
        ASSERT_STR_EQ(d->operation, "create");
        ASSERT_STR_EQ(d->policy_name, "fr-sovereign");
        ASSERT_NOT_NULL(d->policy);
        ASSERT_INT_EQ(d->time, NOW);
        ASSERT_INT_EQ(strlen(d->id), 36);
        ASSERT_STR_EQ(d->reason, "policy fr-sovereign allows create");

        /* No disk: the host alone. */
        _cleanup_decision_ struct decision *d0 = decide_vm("fr-sovereign", NULL, 0);
        ASSERT_TRUE(d0->allowed);
        ASSERT_INT_EQ(d0->n_checks, 1);

        /* decided_by: the first denying check. */
        struct admission_disk mixed[] = { { .pool = "fr-pool" }, { .pool = "us-pool" }, { .pool = "bare-pool" } };
        _cleanup_decision_ struct decision *dm = decide_vm("fr-sovereign", mixed, ELEMENTSOF(mixed));
        ASSERT_FALSE(dm->allowed);
        ASSERT_TRUE(dm->would_deny);
        ASSERT_INT_EQ(dm->n_checks, 4);
        ASSERT_INT_EQ(dm->decided_by, 2);
        ASSERT_TRUE(dm->checks[1].allowed);
        ASSERT_FALSE(dm->checks[2].allowed);
        ASSERT_FALSE(dm->checks[3].allowed);
        ASSERT_INT_EQ(dm->checks[3].violations[0].kind, VIOLATION_UNTAGGED);
        ASSERT_STR_EQ(dm->reason, "policy fr-sovereign denies create: storage_pool 'us-pool': jurisdiction US is not in "
                                  "{@fr} (and more)");

        /* A disk outside any pool is an untagged "path"; a pool not in the configuration is untagged. */
        struct admission_disk loose[] = { { .pool = NULL, .path = "/var/tmp/x.qcow2" }, { .pool = "ghost-pool" },
                                          { .pool = NULL, .path = NULL } };
        _cleanup_decision_ struct decision *dl = decide_vm("unrestricted", loose, ELEMENTSOF(loose));
        ASSERT_FALSE(dl->allowed);
        ASSERT_INT_EQ(dl->n_checks, 4);
        ASSERT_INT_EQ(dl->decided_by, 1);
        ASSERT_STR_EQ(dl->checks[1].place.type, "path");
        ASSERT_STR_EQ(dl->checks[1].place.name, "/var/tmp/x.qcow2");
        ASSERT_NULL(dl->checks[1].place.tags);
        ASSERT_INT_EQ(dl->checks[1].violations[0].kind, VIOLATION_UNTAGGED);
        ASSERT_STR_EQ(dl->checks[2].place.type, "storage_pool");
        ASSERT_STR_EQ(dl->checks[2].place.name, "ghost-pool");
        ASSERT_INT_EQ(dl->checks[2].violations[0].kind, VIOLATION_UNTAGGED);
        ASSERT_STR_EQ(dl->checks[3].place.type, "path");
        ASSERT_STR_EQ(dl->reason, "policy unrestricted denies create: path '/var/tmp/x.qcow2': path '/var/tmp/x.qcow2' "
                                  "has no tags: an untagged place is never compliant");

        /* The host first: a host that fails decides. */
        _cleanup_decision_ struct decision *dh = decide_vm("hds", fr2, ELEMENTSOF(fr2));
        ASSERT_FALSE(dh->allowed);
        ASSERT_INT_EQ(dh->decided_by, 0);
        char expected[512];
        snprintf(expected, sizeof(expected),
                 "policy hds denies create: host '%s': certification hds is required and not held", host_name());
        ASSERT_STR_EQ(dh->reason, expected);
        ASSERT_STR_EQ(dh->checks[0].place.name, host_name());

        /* More disks than admission checks: denied, not judged on a subset. */
        struct admission_disk many[ADMISSION_MAX_DISKS + 1];
        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                many[i] = (struct admission_disk){ .pool = "fr-pool" };
        _cleanup_decision_ struct decision *d64 = decide_vm("fr-sovereign", many, ADMISSION_MAX_DISKS);
        ASSERT_TRUE(d64->allowed);
        ASSERT_INT_EQ(d64->n_checks, 2);
        _cleanup_decision_ struct decision *d65 = decide_vm("fr-sovereign", many, ELEMENTSOF(many));
        ASSERT_FALSE(d65->allowed);
        ASSERT_TRUE(d65->would_deny);
        ASSERT_STR_EQ(d65->reason, "65 disks: more than the 64 sovd can check; denied");
        _cleanup_json_ struct json_object *j65 = decision_to_json(d65);
        ASSERT_STR_EQ(member_string(j65, "/outcome"), "deny");

        /* An unknown policy denies by default, with no check made. */
        _cleanup_decision_ struct decision *du = decide_vm("no-such-policy", fr2, ELEMENTSOF(fr2));
        ASSERT_FALSE(du->allowed);
        ASSERT_TRUE(du->would_deny);
        ASSERT_NULL(du->policy);
        ASSERT_INT_EQ(du->n_checks, 0);
        ASSERT_INT_EQ(du->decided_by, -1);
        ASSERT_STR_EQ(du->reason, "policy 'no-such-policy' is not loaded on this host: denied by default");
        _cleanup_json_ struct json_object *ju = decision_to_json(du);
        ASSERT_NOT_NULL(ju);
        ASSERT_STR_EQ(member_string(ju, "/outcome"), "deny");
        ASSERT_STR_EQ(member_string(ju, "/policy/name"), "no-such-policy");
        ASSERT_NULL(member_string(ju, "/policy/revision"));
        ASSERT_NULL(member_string(ju, "/policy/digest"));
        ASSERT_NULL(member_string(ju, "/decided_by"));

        /* The decision keeps its context alive after a new one is installed. */
        admission_clear();
        ASSERT_STR_EQ(d->checks[1].place.name, "fr-pool");
        ASSERT_STR_EQ(tags_get(d->checks[1].place.tags, "jurisdiction"), "FR");
        ASSERT_STR_EQ(d->policy->name, "fr-sovereign");
        /* No context at all: everything denies. */
        _cleanup_decision_ struct decision *dn = decide_vm("fr-sovereign", fr2, 1);
        ASSERT_FALSE(dn->allowed);
        ASSERT_NULL(dn->policy);
}

static void test_policy_admission_audit_mode(void) {
        _cleanup_rm_rf_ char *dir = tmpdir();

        copy_groups(dir);
        write_policy(dir, "watch", "audit", "{\"allow\": {\"jurisdiction\": [\"@eu\"], \"site\": [\"fra-1\"]}}");
        admission_setup(dir, test_config);

        struct admission_disk disks[] = { { .pool = "fr-pool" }, { .pool = "us-pool" } };
        _cleanup_decision_ struct decision *d = decide_vm("watch", disks, ELEMENTSOF(disks));
        /* Allowed, but enforce would have denied, and the first check to deny is named. */
        ASSERT_TRUE(d->allowed);
        ASSERT_TRUE(d->would_deny);
        ASSERT_INT_EQ(d->decided_by, 0);
        char expected[512];
        snprintf(expected, sizeof(expected),
                 "policy watch would deny (audit mode) create: host '%s': site par-1 is not in {fra-1}", host_name());
        ASSERT_STR_EQ(d->reason, expected);
        _cleanup_json_ struct json_object *j = decision_to_json(d);
        ASSERT_STR_EQ(member_string(j, "/outcome"), "allow");
        ASSERT_STR_EQ(member_string(j, "/mode"), "audit");
        ASSERT_TRUE(json_object_get_boolean(json_object_object_get(j, "would_deny")));
        ASSERT_STR_EQ(member_string(j, "/decided_by/kind"), "compute");
        ASSERT_STR_EQ(member_string(j, "/decided_by/place"), host_name());
        ASSERT_STR_EQ(member_string(j, "/checks/2/violations/0/reason"), "jurisdiction US is not in {@eu}");
        admission_clear();
}

static void test_policy_admission_to_json(void) {
        admission_setup(NULL, test_config);
        struct admission_disk disks[] = { { .pool = "fr-pool" }, { .pool = "us-pool" }, { .pool = "fr-pool" } };
        _cleanup_decision_ struct decision *d = decide_vm("secnumcloud", disks, ELEMENTSOF(disks));
        _cleanup_json_ struct json_object *j = decision_to_json(d);
        struct json_object *checks = NULL, *v = NULL;
        char when[RFC3339_MAX];

        ASSERT_NOT_NULL(j);
        /* Exactly the documented members (plus id, time and reason). */
        static const char *const members[] = { "id", "time", "outcome", "mode", "would_deny", "policy", "operation",
                                               "reason", "decided_by", "checks" };
        ASSERT_INT_EQ(json_object_object_length(j), ELEMENTSOF(members));
        for (size_t i = 0; i < ELEMENTSOF(members); i++)
                if (!json_object_object_get_ex(j, members[i], NULL))
                        TEST_FAIL("decision JSON lacks %s: %s", members[i], json_to_string(j));
        ASSERT_STR_EQ(member_string(j, "/id"), d->id);
        ASSERT_STR_EQ(member_string(j, "/time"), rfc3339_format(NOW, when));
        ASSERT_STR_EQ(member_string(j, "/outcome"), "deny");
        ASSERT_STR_EQ(member_string(j, "/mode"), "enforce");
        ASSERT_TRUE(json_object_get_boolean(json_object_object_get(j, "would_deny")));
        ASSERT_STR_EQ(member_string(j, "/policy/name"), "secnumcloud");
        ASSERT_TRUE(json_pointer_get(j, "/policy/revision", &v) == 0);
        ASSERT_INT_EQ(json_object_get_int(v), 1);
        ASSERT_STR_EQ(member_string(j, "/policy/digest"), d->policy->digest);
        ASSERT_STR_EQ(member_string(j, "/operation"), "create");
        ASSERT_STR_EQ(member_string(j, "/decided_by/kind"), "storage");
        ASSERT_STR_EQ(member_string(j, "/decided_by/place"), "us-pool");
        ASSERT_TRUE(json_object_object_get_ex(j, "checks", &checks));
        ASSERT_INT_EQ(json_object_array_length(checks), 3);
        ASSERT_STR_EQ(member_string(j, "/checks/0/kind"), "compute");
        ASSERT_STR_EQ(member_string(j, "/checks/0/place/type"), "host");
        ASSERT_STR_EQ(member_string(j, "/checks/0/place/tags/site"), "par-1");
        ASSERT_STR_EQ(member_string(j, "/checks/0/outcome"), "allow");
        ASSERT_STR_EQ(member_string(j, "/checks/2/outcome"), "deny");
        ASSERT_STR_EQ(member_string(j, "/checks/2/violations/2/required/0"), "secnumcloud:3.2");
        ASSERT_NOT_NULL(member_string(j, "/checks/2/refs/0"));
        admission_clear();
}

static void test_policy_admission_place(void) {
        _cleanup_decision_ struct decision *d = NULL;
        struct sovd_err err = {};

        admission_setup(NULL, test_config);
        /* Backups at another site under the same rules. */
        ASSERT_OK(admission_decide_place("secnumcloud", POLICY_KIND_BACKUP, "backup_target", "rbx", NULL, NOW, &d, &err));
        ASSERT_TRUE(d->allowed);
        ASSERT_INT_EQ(d->n_checks, 1);
        ASSERT_STR_EQ(d->operation, "evaluate");
        ASSERT_STR_EQ(d->checks[0].place.name, "rbx");
        d = decision_free(d);
        ASSERT_OK(admission_decide_place("secnumcloud", POLICY_KIND_BACKUP, "backup_target", "local", NULL, NOW, &d, &err));
        ASSERT_FALSE(d->allowed);
        ASSERT_INT_EQ(d->decided_by, 0);
        ASSERT_INT_EQ(d->checks[0].violations[0].kind, VIOLATION_SAME_SITE);
        d = decision_free(d);

        ASSERT_OK(admission_decide_place("fr-sovereign", POLICY_KIND_COMPUTE, "host", NULL, NULL, NOW, &d, &err));
        ASSERT_TRUE(d->allowed);
        ASSERT_STR_EQ(d->checks[0].place.type, "host");
        d = decision_free(d);
        ASSERT_OK(admission_decide_place("fr-sovereign", POLICY_KIND_SNAPSHOT, "storage_pool", "us-pool", NULL, NOW, &d,
                                         &err));
        ASSERT_FALSE(d->allowed);
        ASSERT_INT_EQ(d->checks[0].kind, POLICY_KIND_SNAPSHOT);
        d = decision_free(d);
        ASSERT_OK(admission_decide_place("fr-sovereign", POLICY_KIND_STORAGE, "storage_pool", "bare-pool", NULL, NOW, &d,
                                         &err));
        ASSERT_FALSE(d->allowed);
        ASSERT_INT_EQ(d->checks[0].violations[0].kind, VIOLATION_UNTAGGED);
        d = decision_free(d);

        /* An unknown name is an error, not an untagged place. */
        ASSERT_INT_EQ(admission_decide_place("fr-sovereign", POLICY_KIND_STORAGE, "storage_pool", "nope", NULL, NOW, &d,
                                             &err),
                      -ENOENT);
        ASSERT_NULL(d);
        ASSERT_STR_EQ(err.msg, "no storage_pool named 'nope' is configured on this host");
        ASSERT_INT_EQ(admission_decide_place("fr-sovereign", POLICY_KIND_BACKUP, "backup_target", "fr-pool", NULL, NOW,
                                             &d, &err),
                      -ENOENT);

        /* Caller-given tags: the decision owns them. */
        struct tags *t = tags_new("{\"jurisdiction\": \"RE\", \"operator_jurisdiction\": \"GP\"}");
        ASSERT_OK(admission_decide_place("fr-sovereign", POLICY_KIND_STORAGE, "storage_pool", "candidate", t, NOW, &d,
                                         &err));
        ASSERT_TRUE(d->allowed);
        ASSERT_STR_EQ(d->checks[0].place.name, "candidate");
        ASSERT_TRUE(d->extra_tags == t);
        d = decision_free(d);

        /* Unknown policy. */
        ASSERT_OK(admission_decide_place("nope", POLICY_KIND_STORAGE, "host", NULL, NULL, NOW, &d, &err));
        ASSERT_FALSE(d->allowed);
        ASSERT_STR_EQ(d->reason, "policy 'nope' is not loaded on this host: denied by default");
        d = decision_free(d);

        /* admission_policies() hands out a reference to the installed set. */
        struct policy_set *s = admission_policies();
        ASSERT_NOT_NULL(s);
        ASSERT_NOT_NULL(policy_set_find(s, "hds"));
        policy_set_unref(s);
        admission_clear();
        ASSERT_NULL(admission_policies());
}

static void test_policy_admission_untagged_host(void) {
        /* A host without tags: every VM is refused at the host, whatever its pools. */
        admission_setup(NULL, "{\"storage_pools\": {\"p\": {\"tags\": {\"jurisdiction\": \"FR\"}}}}");
        struct admission_disk disks[] = { { .pool = "p" } };
        _cleanup_decision_ struct decision *d = decide_vm("unrestricted", disks, 1);
        ASSERT_FALSE(d->allowed);
        ASSERT_INT_EQ(d->decided_by, 0);
        ASSERT_INT_EQ(d->checks[0].violations[0].kind, VIOLATION_UNTAGGED);
        ASSERT_TRUE(d->checks[1].allowed);
        admission_clear();
}

TEST_MAIN(TEST(test_policy_groups_shipped), TEST(test_policy_groups_refused), TEST(test_policy_parse_shipped),
          TEST(test_policy_parse_base), TEST(test_policy_parse_refused_document), TEST(test_policy_parse_refused_rule),
          TEST(test_policy_kind_names), TEST(test_policy_check_allow), TEST(test_policy_check_each_kind), TEST(test_policy_check_deny),
          TEST(test_policy_check_groups), TEST(test_policy_check_certifications),
          TEST(test_policy_check_different_site), TEST(test_policy_check_untagged),
          TEST(test_policy_check_every_violation), TEST(test_policy_check_to_json), TEST(test_policy_json_canonical),
          TEST(test_policy_digest), TEST(test_policy_set_load_shipped), TEST(test_policy_set_find_order),
          TEST(test_policy_set_load_all_or_nothing), TEST(test_policy_admission_vm),
          TEST(test_policy_admission_audit_mode), TEST(test_policy_admission_to_json),
          TEST(test_policy_admission_place), TEST(test_policy_admission_untagged_host))
