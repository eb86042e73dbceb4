/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Policy documents: policy_parse() on any JSON, against the shipped value
 * groups, must fail cleanly with a JSON pointer, or give a policy whose
 * decisions hold what admission and the audit log assume: a check allows
 * exactly when it lists no violation, an untagged place is never allowed,
 * the digest is 64 hex digits and does not depend on the document's layout.
 *
 * The groups come from $SOVD_POLICY_DIR, else the source tree's policies/.
 */
#include <time.h>

#include "fuzz.h"
#include "sovd/json-util.h"
#include "sovd/policy-store.h"
#include "sovd/policy.h"
#include "sovd/time-util.h"

#ifndef SOVD_POLICY_DIR
#error "SOVD_POLICY_DIR must name the shipped policies/ directory"
#endif

static struct policy_set *groups_set;

/* Fixed places, parsed once: tagged in France, tagged in the US, untagged, certifications with expiry. */
static const char *const place_tags[] = {
        "{\"jurisdiction\": \"FR\", \"operator_jurisdiction\": \"FR\", \"region\": \"FR-IDF\", \"site\": \"par-1\","
        " \"operator\": \"Acme SAS\", \"certifications\": [\"secnumcloud:3.2\", \"hds\", \"iso27001:2022\"]}",
        "{\"jurisdiction\": \"RE\", \"operator_jurisdiction\": \"DE\", \"region\": \"RE-974\", \"site\": \"run-1\","
        " \"tier\": \"gold\", \"certifications\": [\"secnumcloud:3.10\"]}",
        "{\"jurisdiction\": \"US\", \"operator_jurisdiction\": \"US\", \"region\": \"US-CA\", \"site\": \"nyc-1\"}",
        "{\"jurisdiction\": \"FR\", \"site\": \"rbx-2\", \"certifications\": ["
        " {\"name\": \"secnumcloud\", \"version\": \"3.3\", \"valid_until\": \"2026-01-31\"},"
        " {\"name\": \"secnumcloud\", \"version\": \"3.1\"}, {\"name\": \"hds\", \"valid_until\": \"2030-12-31\"},"
        " {\"name\": \"hds\", \"valid_until\": \"2020-12-31\"}, \"iso27001\"]}",
        "{\"certifications\": [\"hds\"]}",
        "{}",
};
static struct tags places[sizeof(place_tags) / sizeof(place_tags[0])];
#define N_PLACES (sizeof(places) / sizeof(places[0]))

static void setup(void) {
        const char *dir = getenv("SOVD_POLICY_DIR");
        struct sovd_err err = {};

        if (groups_set)
                return;
        if (!dir || !*dir)
                dir = SOVD_POLICY_DIR;
        if (policy_set_load(dir, &groups_set, &err) < 0) {
                fprintf(stderr, "fuzz-policy: cannot load %s: %s\n", dir, err.msg);
                abort();
        }
        for (size_t i = 0; i < N_PLACES; i++) {
                struct json_object *o = NULL;
                if (json_parse_strict(place_tags[i], strlen(place_tags[i]), &o, &err) < 0 ||
                    tags_parse(o, "fuzz", &places[i], &err) < 0) {
                        fprintf(stderr, "fuzz-policy: place %zu: %s\n", i, err.msg);
                        abort();
                }
                json_object_put(o);
        }
}

static bool is_hex64(const char *s) {
        if (strlen(s) != 64)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

static void check_invariants(const struct policy *p, enum policy_kind k, const struct place *place,
                             const struct place *host, time_t now) {
        struct check c;
        struct json_object *j, *viol = NULL;
        bool untagged = tags_empty(place->tags);

        memset(&c, 0xa5, sizeof(c));
        policy_check(p, k, place, host, now, &c);
        FUZZ_CHECK(c.kind == k, "kind %d, expected %d", (int) c.kind, (int) k);
        FUZZ_CHECK(c.allowed == (c.n_violations_total == 0), "allowed %d with %zu violations", c.allowed,
                   c.n_violations_total);
        FUZZ_CHECK(c.n_violations <= CHECK_MAX_VIOLATIONS, "%zu violations kept", c.n_violations);
        FUZZ_CHECK(c.n_violations == (c.n_violations_total < CHECK_MAX_VIOLATIONS ? c.n_violations_total
                                                                                 : CHECK_MAX_VIOLATIONS),
                   "%zu violations kept of %zu", c.n_violations, c.n_violations_total);
        FUZZ_CHECK(c.refs == p->rules[k].refs && c.n_refs == p->rules[k].n_refs, "refs not the rule's");
        if (untagged)
                FUZZ_CHECK(!c.allowed && c.n_violations_total == 1 && c.violations[0].kind == VIOLATION_UNTAGGED,
                           "untagged place: allowed %d, %zu violations", c.allowed, c.n_violations_total);
        /* An empty rule allows every tagged place. */
        const struct policy_rule *r = &p->rules[k];
        if (!untagged && !r->n_allow && !r->n_deny && !r->n_certs && !r->different_site_from_host)
                FUZZ_CHECK(c.allowed, "empty rule denies a tagged place: %s", c.violations[0].reason);
        for (size_t i = 0; i < c.n_violations; i++) {
                FUZZ_CHECK(c.violations[i].reason[0] != '\0', "violation %zu without a reason", i);
                FUZZ_CHECK(c.violations[i].tag, "violation %zu without a tag", i);
                FUZZ_CHECK(memchr(c.violations[i].reason, '\0', sizeof(c.violations[i].reason)),
                           "reason not terminated");
        }

        j = check_to_json(&c);
        FUZZ_CHECK(j, "check_to_json failed");
        FUZZ_CHECK(json_object_object_get_ex(j, "violations", &viol) && json_object_is_type(viol, json_type_array),
                   "no violations array");
        FUZZ_CHECK(json_object_array_length(viol) == c.n_violations, "%zu violations in JSON, %zu in the check",
                   json_object_array_length(viol), c.n_violations);
        FUZZ_CHECK(json_to_string(j), "cannot serialise the check");
        json_object_put(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct json_object *doc = NULL, *again = NULL;
        struct policy *sentinel = (struct policy *) &size, *p = sentinel, *q = NULL;
        struct sovd_err err = {};
        char *canon;
        int r;

        setup();
        if (size > 256 * 1024)
                return 0;
        if (json_parse_strict((const char *) data, size, &doc, &err) < 0)
                return 0;

        r = policy_parse(doc, NULL, groups_set->groups, groups_set->n_groups, &p, &err);
        if (r < 0) {
                FUZZ_CHECK(p == sentinel, "*ret set on failure");
                FUZZ_CHECK(r == -EINVAL || r == -ENOMEM, "unexpected error %d", r);
                /* Every refusal names the member by JSON pointer. */
                FUZZ_CHECK(r == -ENOMEM || err.msg[0] == '/', "message without a pointer: \"%s\"", err.msg);
                json_object_put(doc);
                return 0;
        }
        FUZZ_CHECK(p && p != sentinel, "no policy");
        FUZZ_CHECK(is_hex64(p->digest), "digest '%s'", p->digest);
        FUZZ_CHECK(p->revision >= 1, "revision %lld", (long long) p->revision);
        FUZZ_CHECK(p->name && p->description, "name or description missing");
        FUZZ_CHECK(p->doc == doc, "document not kept");

        /* The digest does not depend on layout: the canonical text gives the same policy. */
        canon = json_canonical(doc);
        FUZZ_CHECK(canon, "json_canonical failed");
        r = json_parse_strict(canon, strlen(canon), &again, &err);
        FUZZ_CHECK(r >= 0, "canonical JSON does not parse: %s: %s", err.msg, canon);
        r = policy_parse(again, p->name, groups_set->groups, groups_set->n_groups, &q, &err);
        FUZZ_CHECK(r >= 0, "canonical form refused: %s", err.msg);
        FUZZ_CHECK(streq(p->digest, q->digest), "digest changed with the layout");
        policy_free(q);
        json_object_put(again);
        free(canon);

        struct place host = { .type = "host", .name = "fuzz-host", .tags = &places[0] };
        static const char *const types[] = { "host", "storage_pool", "backup_target", "path" };
        time_t times[2];
        (void) rfc3339_parse("2026-01-31T23:59:59Z", &times[0]);
        (void) rfc3339_parse("2026-06-01T00:00:00Z", &times[1]);
        for (int k = 0; k < _POLICY_KIND_MAX; k++)
                for (size_t i = 0; i <= N_PLACES; i++) {
                        /* i == N_PLACES: no tags at all (NULL). */
                        struct place pl = { .type = types[i % 4], .name = "fuzz-place",
                                            .tags = i < N_PLACES ? &places[i] : NULL };
                        for (size_t t = 0; t < 2; t++) {
                                check_invariants(p, (enum policy_kind) k, &pl, &host, times[t]);
                                check_invariants(p, (enum policy_kind) k, &pl, NULL, times[t]);
                        }
                }

        policy_free(p);
        json_object_put(doc);
        return 0;
}
