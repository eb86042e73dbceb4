/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "sovd/json-util.h"
#include "sovd/names.h"
#include "sovd/policy.h"
#include "sovd/sha256.h"
#include "sovd/time-util.h"

#define REF_MAX_LEN 512
#define LIST_MAX 256

static const char *const kind_table[_POLICY_KIND_MAX] = {
        [POLICY_KIND_COMPUTE] = "compute", [POLICY_KIND_STORAGE] = "storage",
        [POLICY_KIND_SNAPSHOT] = "snapshot", [POLICY_KIND_BACKUP] = "backup",
        [POLICY_KIND_MIGRATION] = "migration",
};

const char *policy_kind_to_string(enum policy_kind k) {
        return k < _POLICY_KIND_MAX ? kind_table[k] : "unknown";
}

int policy_kind_from_string(const char *s) {
        for (int i = 0; i < _POLICY_KIND_MAX; i++)
                if (streq(kind_table[i], s))
                        return i;
        return -EINVAL;
}

/* ---- small helpers ------------------------------------------------------ */

static char **strv_new(size_t n) {
        return calloc(n + 1, sizeof(char *));
}

static bool is_country_tag(const char *tag) {
        return streq(tag, "jurisdiction") || streq(tag, "operator_jurisdiction");
}

static int get_string_list(struct json_object *arr, const char *ptr, size_t max, struct sovd_err *err) {
        if (!json_object_is_type(arr, json_type_array))
                return err_set(err, -EINVAL, "%s: must be an array of strings", ptr);
        size_t n = json_object_array_length(arr);
        if (n > max)
                return err_set(err, -EINVAL, "%s: at most %zu entries", ptr, max);
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(arr, i);
                if (!json_object_is_type(e, json_type_string) || json_object_get_string_len(e) == 0)
                        return err_set(err, -EINVAL, "%s/%zu: must be a non-empty string", ptr, i);
                if (!utf8_is_printable(json_object_get_string(e), (size_t) json_object_get_string_len(e)))
                        return err_set(err, -EINVAL, "%s/%zu: must be printable UTF-8", ptr, i);
        }
        return (int) n;
}

/* Strict object check with messages in JSON pointer form. */
static int check_members(struct json_object *o, const char *const *allowed, const char *ptr, struct sovd_err *err) {
        if (!json_object_is_type(o, json_type_object))
                return err_set(err, -EINVAL, "%s: must be an object", *ptr ? ptr : "/");
        json_object_object_foreach(o, key, val) {
                (void) val;
                bool ok = false;
                for (const char *const *a = allowed; *a; a++)
                        if (streq(*a, key))
                                ok = true;
                if (!ok)
                        return err_set(err, -EINVAL, "%s/%.64s: unknown member", ptr, key);
        }
        return 0;
}

static int get_member_string(struct json_object *o, const char *key, const char *ptr, bool required,
                             const char **ret, struct sovd_err *err) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v)) {
                if (required)
                        return err_set(err, -EINVAL, "%s/%s: required member missing", ptr, key);
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return err_set(err, -EINVAL, "%s/%s: must be a string", ptr, key);
        *ret = json_object_get_string(v);
        return 0;
}

/* ---- value groups -------------------------------------------------------- */

struct value_group *value_group_free(struct value_group *g) {
        if (!g)
                return NULL;
        free(g->name);
        free(g->version);
        strv_free(g->members);
        json_object_put(g->doc);
        free(g);
        return NULL;
}

int value_group_parse(struct json_object *doc, const char *expected_name, struct value_group **ret,
                      struct sovd_err *err) {
        static const char *const keys[] = { "$schema", "name", "version", "description", "source", "members", NULL };
        struct value_group *g;
        struct json_object *members;
        const char *name = NULL, *version = NULL, *s = NULL;
        int n, r;

        if ((r = check_members(doc, keys, "", err)) < 0)
                return r;
        if ((r = get_member_string(doc, "name", "", true, &name, err)) < 0 ||
            (r = get_member_string(doc, "version", "", true, &version, err)) < 0 ||
            (r = get_member_string(doc, "description", "", false, &s, err)) < 0 ||
            (r = get_member_string(doc, "source", "", false, &s, err)) < 0)
                return r;
        if (!name_is_valid(name))
                return err_set(err, -EINVAL, "/name: '%.64s' is not a valid group name", name);
        if (expected_name && !streq(name, expected_name))
                return err_set(err, -EINVAL, "/name: '%.64s' does not match the file name '%.64s'", name, expected_name);
        if (!json_object_object_get_ex(doc, "members", &members))
                return err_set(err, -EINVAL, "/members: required member missing");
        n = get_string_list(members, "/members", LIST_MAX, err);
        if (n < 0)
                return n;
        g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        g->name = strdup(name);
        g->version = strdup(version);
        g->members = strv_new((size_t) n);
        g->doc = json_object_get(doc);
        if (!g->name || !g->version || !g->members) {
                value_group_free(g);
                return -ENOMEM;
        }
        for (int i = 0; i < n; i++) {
                const char *m = json_object_get_string(json_object_array_get_idx(members, (size_t) i));
                if (!country_code_is_valid(m)) {
                        value_group_free(g);
                        return err_set(err, -EINVAL, "/members/%d: '%.16s' is not an ISO 3166-1 alpha-2 code", i, m);
                }
                for (size_t k = 0; k < g->n_members; k++)
                        if (streq(g->members[k], m)) {
                                value_group_free(g);
                                return err_set(err, -EINVAL, "/members/%d: '%s' listed twice", i, m);
                        }
                if (!(g->members[g->n_members++] = strdup(m))) {
                        value_group_free(g);
                        return -ENOMEM;
                }
        }
        *ret = g;
        return 0;
}

/* ---- policies ------------------------------------------------------------ */

static void tag_rules_free(struct tag_rule *r, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(r[i].tag);
                strv_free(r[i].values);
                strv_free(r[i].countries);
                strv_free(r[i].written);
        }
        free(r);
}

static void rule_done(struct policy_rule *r) {
        tag_rules_free(r->allow, r->n_allow);
        tag_rules_free(r->deny, r->n_deny);
        for (size_t i = 0; i < r->n_certs; i++) {
                free(r->certs[i].name);
                free(r->certs[i].min_version);
                free(r->certs[i].written);
        }
        free(r->certs);
        strv_free(r->refs);
        *r = (struct policy_rule){};
}

struct policy *policy_free(struct policy *p) {
        if (!p)
                return NULL;
        free(p->name);
        free(p->description);
        free(p->reasoning);
        for (int k = 0; k < _POLICY_KIND_MAX; k++)
                rule_done(&p->rules[k]);
        json_object_put(p->doc);
        free(p);
        return NULL;
}

static int find_group(struct value_group *const *groups, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(groups[i]->name, name))
                        return (int) i;
        return -1;
}

/* Parses { tag: [values] } into @ret; @used collects the groups referenced. */
static int parse_tag_rules(struct json_object *o, const char *ptr, struct value_group *const *groups,
                           size_t n_groups, bool *used, struct tag_rule **ret, size_t *ret_n, struct sovd_err *err) {
        size_t n, k = 0;
        struct tag_rule *rules;

        /* Before json_object_object_length(), which is only defined on objects. */
        if (!json_object_is_type(o, json_type_object))
                return err_set(err, -EINVAL, "%s: must be an object of tag: [values]", ptr);
        n = (size_t) json_object_object_length(o);
        rules = calloc(n ? n : 1, sizeof(*rules));
        if (!rules)
                return -ENOMEM;
        *ret = rules;
        json_object_object_foreach(o, tag, list) {
                char lptr[192];
                struct tag_rule *r = &rules[k];
                int m;

                *ret_n = ++k;
                snprintf(lptr, sizeof(lptr), "%s/%.64s", ptr, tag);
                if (!label_key_is_valid(tag) || strchr(tag, '/'))
                        return err_set(err, -EINVAL, "%s: invalid tag name", lptr);
                if (streq(tag, "certifications"))
                        return err_set(err, -EINVAL, "%s: certifications are checked with require_certifications",
                                       lptr);
                m = get_string_list(list, lptr, LIST_MAX, err);
                if (m < 0)
                        return m;
                /* An empty allow list refuses every place, an empty deny list says nothing: both are slips. */
                if (m == 0)
                        return err_set(err, -EINVAL, "%s: must list at least one value", lptr);
                r->tag = strdup(tag);
                r->values = strv_new((size_t) m);
                r->written = strv_new((size_t) m);
                if (!r->tag || !r->values || !r->written)
                        return -ENOMEM;
                size_t n_countries = 0;
                for (int i = 0; i < m; i++) {
                        const char *v = json_object_get_string(json_object_array_get_idx(list, (size_t) i));
                        if (v[0] == '@') {
                                int gi = find_group(groups, n_groups, v + 1);
                                if (gi < 0)
                                        return err_set(err, -EINVAL, "%s/%d: \"%.64s\" is not a known value group", lptr,
                                                       i, v);
                                /*
                                 * Not on region: ISO 3166-2 files overseas territories under
                                 * their country (FR-NC, NL-AW), so a country prefix would put
                                 * New Caledonia in @eu.
                                 */
                                if (!is_country_tag(tag))
                                        return err_set(err, -EINVAL,
                                                       "%s/%d: value groups hold country codes and apply to "
                                                       "jurisdiction and operator_jurisdiction only",
                                                       lptr, i);
                                used[gi] = true;
                                n_countries += groups[gi]->n_members;
                        } else if (is_country_tag(tag) && !country_code_is_valid(v))
                                return err_set(err, -EINVAL, "%s/%d: '%.16s' is not an ISO 3166-1 alpha-2 code", lptr,
                                               i, v);
                        /* Tags carry valid codes only: a malformed one would never match, and in a deny list
                         * that lets every place through. */
                        else if (streq(tag, "region") && !region_code_is_valid(v))
                                return err_set(err, -EINVAL,
                                               "%s/%d: '%.16s' is not an ISO 3166-2 subdivision code (e.g. FR-IDF)",
                                               lptr, i, v);
                        if (!(r->written[r->n_written++] = strdup(v)))
                                return -ENOMEM;
                }
                r->countries = strv_new(n_countries);
                if (!r->countries)
                        return -ENOMEM;
                for (int i = 0; i < m; i++) {
                        const char *v = r->written[i];
                        if (v[0] == '@') {
                                const struct value_group *g = groups[find_group(groups, n_groups, v + 1)];
                                for (size_t j = 0; j < g->n_members; j++)
                                        if (!(r->countries[r->n_countries++] = strdup(g->members[j])))
                                                return -ENOMEM;
                        } else if (!(r->values[r->n_values++] = strdup(v)))
                                return -ENOMEM;
                }
        }
        return 0;
}

static int parse_rule(struct json_object *o, const char *ptr, struct value_group *const *groups, size_t n_groups,
                      bool *used, struct policy_rule *rule, struct sovd_err *err) {
        static const char *const keys[] = {
                "allow", "deny", "require_certifications", "different_site_from_host", "refs", NULL,
        };
        struct json_object *v;
        char sub[192];
        int r, n;

        if ((r = check_members(o, keys, ptr, err)) < 0)
                return r;
        if (json_object_object_get_ex(o, "allow", &v)) {
                snprintf(sub, sizeof(sub), "%s/allow", ptr);
                if ((r = parse_tag_rules(v, sub, groups, n_groups, used, &rule->allow, &rule->n_allow, err)) < 0)
                        return r;
        }
        if (json_object_object_get_ex(o, "deny", &v)) {
                snprintf(sub, sizeof(sub), "%s/deny", ptr);
                if ((r = parse_tag_rules(v, sub, groups, n_groups, used, &rule->deny, &rule->n_deny, err)) < 0)
                        return r;
        }
        if (json_object_object_get_ex(o, "require_certifications", &v)) {
                snprintf(sub, sizeof(sub), "%s/require_certifications", ptr);
                n = get_string_list(v, sub, 32, err);
                if (n < 0)
                        return n;
                rule->certs = calloc((size_t) n + 1, sizeof(*rule->certs));
                if (!rule->certs)
                        return -ENOMEM;
                for (int i = 0; i < n; i++) {
                        const char *s = json_object_get_string(json_object_array_get_idx(v, (size_t) i));
                        struct cert_requirement *c = &rule->certs[rule->n_certs++];
                        const char *colon = strchr(s, ':');
                        c->written = strdup(s);
                        c->name = colon ? strndup(s, (size_t) (colon - s)) : strdup(s);
                        c->min_version = colon ? strdup(colon + 1) : NULL;
                        if (!c->written || !c->name || (colon && !c->min_version))
                                return -ENOMEM;
                        bool bad = !*c->name || strlen(c->name) > 63;
                        for (const char *p = c->name; *p && !bad; p++)
                                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
                                      *p == '.'))
                                        bad = true;
                        if (c->min_version) {
                                const char *p = c->min_version;
                                bad = bad || !*p || *p == '.';
                                for (; *p && !bad; p++)
                                        if (!((*p >= '0' && *p <= '9') || (*p == '.' && p[1] && p[1] != '.')))
                                                bad = true;
                        }
                        if (bad)
                                return err_set(err, -EINVAL, "%s/%d: '%.64s' must be \"name\" or \"name:version\" (e.g. "
                                                             "secnumcloud:3.2)",
                                               sub, i, s);
                }
        }
        if (json_object_object_get_ex(o, "different_site_from_host", &v)) {
                if (!json_object_is_type(v, json_type_boolean))
                        return err_set(err, -EINVAL, "%s/different_site_from_host: must be true or false", ptr);
                rule->different_site_from_host = json_object_get_boolean(v);
        }
        if (json_object_object_get_ex(o, "refs", &v)) {
                snprintf(sub, sizeof(sub), "%s/refs", ptr);
                n = get_string_list(v, sub, 32, err);
                if (n < 0)
                        return n;
                rule->refs = strv_new((size_t) n);
                if (!rule->refs)
                        return -ENOMEM;
                for (int i = 0; i < n; i++) {
                        struct json_object *e = json_object_array_get_idx(v, (size_t) i);
                        if (json_object_get_string_len(e) > REF_MAX_LEN)
                                return err_set(err, -EINVAL, "%s/%d: longer than %d bytes", sub, i, REF_MAX_LEN);
                        if (!(rule->refs[rule->n_refs++] = strdup(json_object_get_string(e))))
                                return -ENOMEM;
                }
        }
        return 0;
}

static int policy_digest(struct json_object *doc, struct value_group *const *groups, size_t n_groups,
                         const bool *used, char digest[static 65]) {
        _cleanup_json_ struct json_object *root = json_object_new_object(), *gs = json_object_new_object();
        _cleanup_free_ char *canon = NULL;

        if (!root || !gs)
                return -ENOMEM;
        for (size_t i = 0; i < n_groups; i++)
                if (used[i] && json_add(gs, groups[i]->name, json_object_get(json_object_object_get(groups[i]->doc,
                                                                                                    "members"))) < 0)
                        return -ENOMEM;
        if (json_add(root, "groups", json_object_get(gs)) < 0 || json_add(root, "policy", json_object_get(doc)) < 0)
                return -ENOMEM;
        canon = json_canonical(root);
        if (!canon)
                return -ENOMEM;
        return sha256_hex(canon, strlen(canon), digest);
}

static int parse_policy(struct json_object *doc, const char *expected_name, struct value_group *const *groups,
                        size_t n_groups, bool *used, struct policy *p, struct sovd_err *err) {
        static const char *const keys[] = {
                "$schema", "name", "revision", "description", "reasoning", "mode", "rules", NULL,
        };
        static const char *const rule_keys[] = { "compute", "storage", "snapshot", "backup", "migration", NULL };
        struct json_object *v, *rules;
        const char *name = NULL, *mode = NULL, *desc = NULL, *why = NULL;
        int r;

        if ((r = check_members(doc, keys, "", err)) < 0)
                return r;
        if ((r = get_member_string(doc, "name", "", true, &name, err)) < 0 ||
            (r = get_member_string(doc, "description", "", true, &desc, err)) < 0 ||
            (r = get_member_string(doc, "reasoning", "", false, &why, err)) < 0 ||
            (r = get_member_string(doc, "mode", "", true, &mode, err)) < 0)
                return r;
        if (!name_is_valid(name))
                return err_set(err, -EINVAL, "/name: '%.64s' is not a valid policy name", name);
        if (expected_name && !streq(name, expected_name))
                return err_set(err, -EINVAL, "/name: '%.64s' does not match the file name '%.64s'", name, expected_name);
        if (streq(mode, "enforce"))
                p->mode = POLICY_MODE_ENFORCE;
        else if (streq(mode, "audit"))
                p->mode = POLICY_MODE_AUDIT;
        else
                return err_set(err, -EINVAL, "/mode: must be \"enforce\" or \"audit\", got '%.32s'", mode);
        if (!json_object_object_get_ex(doc, "revision", &v))
                return err_set(err, -EINVAL, "/revision: required member missing");
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 1 ||
            json_object_get_int64(v) == INT64_MAX)
                return err_set(err, -EINVAL, "/revision: must be an integer >= 1");
        p->revision = json_object_get_int64(v);
        p->name = strdup(name);
        p->description = strdup(desc);
        p->reasoning = why ? strdup(why) : NULL;
        if (!p->name || !p->description || (why && !p->reasoning))
                return -ENOMEM;

        if (!json_object_object_get_ex(doc, "rules", &rules))
                return err_set(err, -EINVAL, "/rules: required member missing");
        if ((r = check_members(rules, rule_keys, "/rules", err)) < 0)
                return r;
        for (int k = 0; k < _POLICY_KIND_MAX; k++) {
                char ptr[64];
                snprintf(ptr, sizeof(ptr), "/rules/%s", kind_table[k]);
                if (!json_object_object_get_ex(rules, kind_table[k], &v))
                        return err_set(err, -EINVAL, "%s: required member missing (every kind of place needs a rule)",
                                       ptr);
                if ((r = parse_rule(v, ptr, groups, n_groups, used, &p->rules[k], err)) < 0)
                        return r;
        }
        return 0;
}

int policy_parse(struct json_object *doc, const char *expected_name, struct value_group *const *groups,
                 size_t n_groups, struct policy **ret, struct sovd_err *err) {
        _cleanup_free_ bool *used = calloc(n_groups + 1, sizeof(bool));
        struct policy *p;
        int r;

        p = calloc(1, sizeof(*p));
        if (!p || !used) {
                free(p);
                return -ENOMEM;
        }
        r = parse_policy(doc, expected_name, groups, n_groups, used, p, err);
        if (r >= 0)
                r = policy_digest(doc, groups, n_groups, used, p->digest);
        if (r < 0) {
                policy_free(p);
                return r;
        }
        p->doc = json_object_get(doc);
        *ret = p;
        return 0;
}

/* ---- canonical JSON -------------------------------------------------------- */

static int cmp_keys(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* A deep copy whose objects have their members inserted in sorted order. */
static struct json_object *sorted_copy(struct json_object *o, int depth) {
        if (depth > JSON_MAX_DEPTH + 4)
                return NULL;
        switch (json_object_get_type(o)) {
        case json_type_object: {
                size_t n = (size_t) json_object_object_length(o), i = 0;
                _cleanup_free_ const char **keys = calloc(n + 1, sizeof(char *));
                struct json_object *c = json_object_new_object();
                if (!keys || !c) {
                        json_object_put(c);
                        return NULL;
                }
                json_object_object_foreach(o, k, v) {
                        (void) v;
                        keys[i++] = k;
                }
                qsort(keys, n, sizeof(char *), cmp_keys);
                for (i = 0; i < n; i++) {
                        struct json_object *m = json_object_object_get(o, keys[i]), *cv = NULL;
                        if (m && !(cv = sorted_copy(m, depth + 1))) {
                                json_object_put(c);
                                return NULL;
                        }
                        if (json_object_object_add(c, keys[i], cv) < 0) {
                                json_object_put(cv);
                                json_object_put(c);
                                return NULL;
                        }
                }
                return c;
        }
        case json_type_array: {
                size_t n = json_object_array_length(o);
                struct json_object *c = json_object_new_array_ext((int) n);
                for (size_t i = 0; c && i < n; i++) {
                        struct json_object *v = json_object_array_get_idx(o, i), *cv = NULL;
                        if (v && !(cv = sorted_copy(v, depth + 1))) {
                                json_object_put(c);
                                return NULL;
                        }
                        if (json_object_array_add(c, cv) < 0) {
                                json_object_put(cv);
                                json_object_put(c);
                                return NULL;
                        }
                }
                return c;
        }
        default: {
                struct json_object *c = NULL;
                if (json_object_deep_copy(o, &c, NULL) < 0)
                        return NULL;
                return c;
        }
        }
}

char *json_canonical(struct json_object *o) {
        _cleanup_json_ struct json_object *c = sorted_copy(o, 0);

        if (!c)
                return NULL;
        return strdup(json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* ---- evaluation -------------------------------------------------------------- */

static bool rule_matches(const struct tag_rule *r, const char *value) {
        for (size_t i = 0; i < r->n_values; i++)
                if (streq(r->values[i], value))
                        return true;
        for (size_t i = 0; i < r->n_countries; i++)
                if (streq(r->countries[i], value))
                        return true;
        return false;
}

static void list_text(char *const *list, size_t n, char *buf, size_t size) {
        size_t off = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < n && off < size; i++) {
                int k = snprintf(buf + off, size - off, "%s%s", i ? ", " : "", list[i]);
                if (k < 0)
                        break;
                off += (size_t) k;
        }
}

static struct violation *add_violation(struct check *c, enum violation_kind kind, const char *tag, const char *found,
                                       char *const *expected, size_t n_expected) {
        struct violation *v;

        c->allowed = false;
        c->n_violations_total++;
        if (c->n_violations >= CHECK_MAX_VIOLATIONS)
                return NULL;
        v = &c->violations[c->n_violations++];
        *v = (struct violation){ .kind = kind, .tag = tag, .found = found, .expected = expected, .n_expected = n_expected };
        return v;
}

static bool cert_version_ok(const struct certification *c, const struct cert_requirement *req) {
        return !req->min_version || (c->version && version_compare(c->version, req->min_version) >= 0);
}

/*
 * The entry of @req's scheme that meets it at @now (*ret_ok true), else the
 * one that explains the refusal best: one of a high enough version (so it
 * expired), else the highest version. NULL: no entry of that scheme. Every
 * entry counts, so an expired certificate listed next to its renewal does
 * not hide the renewal.
 */
static const struct certification *find_cert(const struct tags *t, const struct cert_requirement *req, time_t now,
                                             bool *ret_ok) {
        const struct certification *best = NULL;

        *ret_ok = false;
        for (size_t i = 0; i < t->n_certs; i++) {
                const struct certification *c = &t->certs[i];
                bool version_ok;

                if (!streq(c->name, req->name))
                        continue;
                version_ok = cert_version_ok(c, req);
                if (version_ok && (!c->valid_until || now < c->valid_until)) {
                        *ret_ok = true;
                        return c;
                }
                if (!best || (version_ok && !cert_version_ok(best, req)) ||
                    (version_ok == cert_version_ok(best, req) && c->version &&
                     (!best->version || version_compare(c->version, best->version) > 0)))
                        best = c;
        }
        return best;
}

void policy_check(const struct policy *policy, enum policy_kind kind, const struct place *place,
                  const struct place *host, time_t now, struct check *ret) {
        const struct policy_rule *rule = &policy->rules[kind];
        struct violation *v;
        char list[160];

        ret->kind = kind;
        ret->place = *place;
        ret->allowed = true;
        ret->n_violations = ret->n_violations_total = 0;
        ret->refs = rule->refs;
        ret->n_refs = rule->n_refs;

        if (tags_empty(place->tags)) {
                v = add_violation(ret, VIOLATION_UNTAGGED, "*", NULL, NULL, 0);
                if (v)
                        snprintf(v->reason, sizeof(v->reason),
                                 "%s '%s' has no tags: an untagged place is never compliant", place->type, place->name);
                return;
        }
        for (size_t i = 0; i < rule->n_allow; i++) {
                const struct tag_rule *r = &rule->allow[i];
                const char *found = tags_get(place->tags, r->tag);
                if (found && rule_matches(r, found))
                        continue;
                v = add_violation(ret, VIOLATION_NOT_ALLOWED, r->tag, found, r->written, r->n_written);
                if (!v)
                        continue;
                list_text(r->written, r->n_written, list, sizeof(list));
                if (found)
                        snprintf(v->reason, sizeof(v->reason), "%s %s is not in {%s}", r->tag, found, list);
                else
                        snprintf(v->reason, sizeof(v->reason), "tag %s is missing; allowed {%s}", r->tag, list);
        }
        for (size_t i = 0; i < rule->n_deny; i++) {
                const struct tag_rule *r = &rule->deny[i];
                const char *found = tags_get(place->tags, r->tag);
                if (!found || !rule_matches(r, found))
                        continue;
                v = add_violation(ret, VIOLATION_DENIED, r->tag, found, r->written, r->n_written);
                if (v) {
                        list_text(r->written, r->n_written, list, sizeof(list));
                        snprintf(v->reason, sizeof(v->reason), "%s %s is denied {%s}", r->tag, found, list);
                }
        }
        for (size_t i = 0; i < rule->n_certs; i++) {
                const struct cert_requirement *req = &rule->certs[i];
                bool ok;
                const struct certification *c = find_cert(place->tags, req, now, &ok);
                char *const *expected = (char *const *) &rule->certs[i].written;

                if (ok)
                        continue;
                if (!c) {
                        v = add_violation(ret, VIOLATION_CERTIFICATION, "certifications", NULL, expected, 1);
                        if (v)
                                snprintf(v->reason, sizeof(v->reason), "certification %s is required and not held",
                                         req->written);
                        continue;
                }
                if (!cert_version_ok(c, req)) {
                        v = add_violation(ret, VIOLATION_CERTIFICATION, "certifications", c->version, expected, 1);
                        if (v)
                                snprintf(v->reason, sizeof(v->reason), "certification %s is required; held: %s %s",
                                         req->written, c->name, c->version ? c->version : "(no version)");
                        continue;
                }
                if (c->valid_until && now >= c->valid_until) {
                        char until[RFC3339_MAX];
                        v = add_violation(ret, VIOLATION_CERTIFICATION, "certifications", c->version, expected, 1);
                        if (v)
                                snprintf(v->reason, sizeof(v->reason), "certification %s expired on %.10s", req->written,
                                         rfc3339_format(c->valid_until - 24 * 3600, until));
                }
        }
        if (rule->different_site_from_host) {
                static char *const site_tag[] = { (char *) "site" };
                const char *site = tags_get(place->tags, "site");
                const char *host_site = host ? tags_get(host->tags, "site") : NULL;

                if (!site || !host_site || streq(site, host_site)) {
                        v = add_violation(ret, VIOLATION_SAME_SITE, "site", site, site_tag, 0);
                        if (v) {
                                if (!site)
                                        snprintf(v->reason, sizeof(v->reason),
                                                 "tag site is missing: cannot show it differs from the host's site");
                                else if (!host_site)
                                        snprintf(v->reason, sizeof(v->reason),
                                                 "the host has no site tag: cannot show %s is another site", site);
                                else
                                        snprintf(v->reason, sizeof(v->reason),
                                                 "site %s is the host's own site; a different site is required", site);
                        }
                }
        }
}

static struct json_object *strv_to_json(char *const *l, size_t n) {
        struct json_object *a = json_object_new_array_ext((int) n);

        for (size_t i = 0; a && i < n; i++)
                if (json_object_array_add(a, json_new_string(l[i])) < 0) {
                        json_object_put(a);
                        return NULL;
                }
        return a;
}

struct json_object *check_to_json(const struct check *c) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *place = json_object_new_object(), *viol = json_object_new_array();

        if (!o || json_add(o, "kind", json_object_new_string(policy_kind_to_string(c->kind))) < 0 ||
            json_add(o, "place", place) < 0 || !place || json_add_string(place, "type", c->place.type) < 0 ||
            json_add_string(place, "name", c->place.name) < 0 || json_add(place, "tags", tags_to_json(c->place.tags)) < 0 ||
            json_add_string(o, "outcome", c->allowed ? "allow" : "deny") < 0 || json_add(o, "violations", viol) < 0 ||
            !viol || json_add(o, "refs", strv_to_json(c->refs, c->n_refs)) < 0)
                return NULL;
        for (size_t i = 0; i < c->n_violations; i++) {
                const struct violation *v = &c->violations[i];
                struct json_object *j = json_object_new_object();
                const char *what = v->kind == VIOLATION_DENIED ? "denied"
                                   : v->kind == VIOLATION_NOT_ALLOWED ? "allowed"
                                                                      : "required";
                if (!j || json_object_array_add(viol, j) < 0 || json_add_string(j, "tag", v->tag) < 0 ||
                    json_add_string(j, "found", v->found) < 0 ||
                    (v->n_expected && json_add(j, what, strv_to_json(v->expected, v->n_expected)) < 0) ||
                    json_add_string(j, "reason", v->reason) < 0)
                        return NULL;
        }
        if (c->n_violations_total > c->n_violations &&
            json_add_int(o, "violations_not_shown", (int64_t) (c->n_violations_total - c->n_violations)) < 0)
                return NULL;
        return TAKE_PTR(o);
}
