/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tags (docs/policy-format.md, "Tags"): the facts about a place, parsed
 * from the configuration. Every message names the member by its path,
 * so an operator finds the typo in sovd.conf.
 */
#include <stdlib.h>

#include "sovd/json-util.h"
#include "sovd/strbuf.h"
#include "sovd/tags.h"
#include "test-harness.h"

#define WHERE "storage_pools.fr-pool.tags"

static struct json_object *json(const char *s) {
        struct json_object *o = NULL;
        struct sovd_err err = {};

        if (json_parse_strict(s, strlen(s), &o, &err) < 0)
                TEST_FAIL("bad JSON in the test: %s: %s", s, err.msg);
        return o;
}

/* Parses @s, which must be accepted, into @t. */
static void parse_ok(const char *s, struct tags *t) {
        _cleanup_json_ struct json_object *o = json(s);
        struct sovd_err err = {};
        int r = tags_parse(o, WHERE, t, &err);

        if (r < 0)
                TEST_FAIL("tags_parse(%s): %d %s", s, r, err.msg);
}

/* Parses @s, which must be refused with -EINVAL and leave *ret alone; returns the message. */
static const char *parse_fails(const char *s) {
        static struct sovd_err err;
        _cleanup_json_ struct json_object *o = json(s);
        struct tags t = { .n_items = 4242 };
        int r;

        memset(&err, 0, sizeof(err));
        r = tags_parse(o, WHERE, &t, &err);
        if (r != -EINVAL)
                TEST_FAIL("tags_parse(%s): expected -EINVAL, got %d (%s)", s, r, err.msg);
        if (t.n_items != 4242 || t.items || t.certs || t.json)
                TEST_FAIL("tags_parse(%s): *ret changed on failure", s);
        return err.msg;
}

#define ASSERT_REFUSED(json_text, message) ASSERT_STR_EQ(parse_fails(json_text), message)

static time_t day(const char *date) {
        struct tm tm = {};

        if (!strptime(date, "%Y-%m-%d", &tm))
                TEST_FAIL("bad date in the test: %s", date);
        return timegm(&tm);
}

static void test_tags_parse_every_kind(void) {
        struct tags t = {};

        parse_ok("{\"jurisdiction\": \"FR\", \"region\": \"FR-IDF\", \"site\": \"par-1\", \"operator\": \"Acme SAS\","
                 " \"operator_jurisdiction\": \"RE\", \"rack.row-2_a\": \"b12\","
                 " \"certifications\": [\"hds\", \"secnumcloud:3.2\","
                 "   {\"name\": \"iso27001\", \"version\": \"2022\", \"valid_until\": \"2027-06-30\"},"
                 "   {\"name\": \"c5\"}, {\"name\": \"acme-cert\", \"valid_until\": \"2024-02-29\"}]}",
                 &t);
        ASSERT_INT_EQ(t.n_items, 6);
        ASSERT_STR_EQ(tags_get(&t, "jurisdiction"), "FR");
        ASSERT_STR_EQ(tags_get(&t, "region"), "FR-IDF");
        ASSERT_STR_EQ(tags_get(&t, "site"), "par-1");
        ASSERT_STR_EQ(tags_get(&t, "operator"), "Acme SAS");
        ASSERT_STR_EQ(tags_get(&t, "operator_jurisdiction"), "RE");
        ASSERT_STR_EQ(tags_get(&t, "rack.row-2_a"), "b12");
        /* Certifications are not a string tag. */
        ASSERT_NULL(tags_get(&t, "certifications"));
        ASSERT_NULL(tags_get(&t, "Site"));
        ASSERT_NULL(tags_get(&t, "missing"));

        ASSERT_INT_EQ(t.n_certs, 5);
        ASSERT_STR_EQ(t.certs[0].name, "hds");
        ASSERT_NULL(t.certs[0].version);
        ASSERT_INT_EQ(t.certs[0].valid_until, 0);
        ASSERT_STR_EQ(t.certs[1].name, "secnumcloud");
        ASSERT_STR_EQ(t.certs[1].version, "3.2");
        ASSERT_INT_EQ(t.certs[1].valid_until, 0);
        ASSERT_STR_EQ(t.certs[2].name, "iso27001");
        ASSERT_STR_EQ(t.certs[2].version, "2022");
        /* valid_until is the last valid day: stored as the start of the next one. */
        ASSERT_INT_EQ(t.certs[2].valid_until, day("2027-07-01"));
        ASSERT_STR_EQ(t.certs[3].name, "c5");
        ASSERT_NULL(t.certs[3].version);
        ASSERT_INT_EQ(t.certs[3].valid_until, 0);
        ASSERT_STR_EQ(t.certs[4].name, "acme-cert");
        ASSERT_INT_EQ(t.certs[4].valid_until, day("2024-03-01"));

        ASSERT_FALSE(tags_empty(&t));
        /* The JSON is kept as configured, for display. */
        _cleanup_json_ struct json_object *copy = tags_to_json(&t);
        ASSERT_NOT_NULL(copy);
        ASSERT_TRUE(copy != t.json);
        ASSERT_TRUE(json_object_equal(copy, t.json));
        tags_done(&t);
        ASSERT_NULL(t.items);
        ASSERT_INT_EQ(t.n_items, 0);
        tags_done(&t); /* safe twice */
        tags_done(NULL);
}

static void test_tags_parse_every_country(void) {
        /* Territories with codes of their own: Réunion, New Caledonia, Åland. */
        static const char *const ok[] = { "RE", "NC", "AX", "GP", "FR", "US", "GB", "CH", "ZW", "AD" };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                char doc[128];
                struct tags t = {};
                snprintf(doc, sizeof(doc), "{\"jurisdiction\": \"%s\", \"operator_jurisdiction\": \"%s\"}", ok[i],
                         ok[i]);
                parse_ok(doc, &t);
                ASSERT_STR_EQ(tags_get(&t, "jurisdiction"), ok[i]);
                tags_done(&t);
        }
}

static void test_tags_parse_bad_country(void) {
        ASSERT_REFUSED("{\"jurisdiction\": \"fr\"}",
                       WHERE ".jurisdiction: 'fr' is not an ISO 3166-1 alpha-2 country code (e.g. FR)");
        ASSERT_REFUSED("{\"jurisdiction\": \"Fr\"}",
                       WHERE ".jurisdiction: 'Fr' is not an ISO 3166-1 alpha-2 country code (e.g. FR)");
        ASSERT_REFUSED("{\"jurisdiction\": \"XX\"}",
                       WHERE ".jurisdiction: 'XX' is not an ISO 3166-1 alpha-2 country code (e.g. FR)");
        /* Codes people write that ISO 3166-1 does not assign (EU, UK) or only reserves (XK). */
        ASSERT_REFUSED("{\"jurisdiction\": \"EU\"}",
                       WHERE ".jurisdiction: 'EU' is not an ISO 3166-1 alpha-2 country code (e.g. FR)");
        ASSERT_REFUSED("{\"operator_jurisdiction\": \"UK\"}",
                       WHERE ".operator_jurisdiction: 'UK' is not an ISO 3166-1 alpha-2 country code (e.g. FR)");
        ASSERT_REFUSED("{\"operator_jurisdiction\": \"XK\"}",
                       WHERE ".operator_jurisdiction: 'XK' is not an ISO 3166-1 alpha-2 country code (e.g. FR)");
        ASSERT_REFUSED("{\"jurisdiction\": \"FRA\"}",
                       WHERE ".jurisdiction: 'FRA' is not an ISO 3166-1 alpha-2 country code (e.g. FR)");
        ASSERT_REFUSED("{\"jurisdiction\": \"F\"}",
                       WHERE ".jurisdiction: 'F' is not an ISO 3166-1 alpha-2 country code (e.g. FR)");
        ASSERT_REFUSED("{\"jurisdiction\": \"\"}",
                       WHERE ".jurisdiction: must be a non-empty string of printable UTF-8 up to 256 bytes");
        ASSERT_REFUSED("{\"jurisdiction\": 33}",
                       WHERE ".jurisdiction: must be a non-empty string of printable UTF-8 up to 256 bytes");
        ASSERT_REFUSED("{\"jurisdiction\": [\"FR\"]}",
                       WHERE ".jurisdiction: must be a non-empty string of printable UTF-8 up to 256 bytes");
        /* The message quotes a bounded part of a long value. */
        ASSERT_REFUSED("{\"jurisdiction\": \"FRANCEFRANCEFRANCEFRANCE\"}",
                       WHERE ".jurisdiction: 'FRANCEFRANCEFRAN' is not an ISO 3166-1 alpha-2 country code (e.g. FR)");
}

static void test_tags_parse_region(void) {
        struct tags t = {};

        parse_ok("{\"region\": \"FR-IDF\"}", &t);
        tags_done(&t);
        parse_ok("{\"region\": \"FR-75\"}", &t);
        tags_done(&t);
        parse_ok("{\"region\": \"DE-B\"}", &t);
        tags_done(&t);
        parse_ok("{\"region\": \"RE-974\"}", &t);
        tags_done(&t);

#define BAD_REGION(v) WHERE ".region: '" v "' is not an ISO 3166-2 subdivision code (e.g. FR-IDF)"
        ASSERT_REFUSED("{\"region\": \"FR\"}", BAD_REGION("FR"));
        ASSERT_REFUSED("{\"region\": \"FR-\"}", BAD_REGION("FR-"));
        ASSERT_REFUSED("{\"region\": \"IDF\"}", BAD_REGION("IDF"));
        ASSERT_REFUSED("{\"region\": \"FR_IDF\"}", BAD_REGION("FR_IDF"));
        ASSERT_REFUSED("{\"region\": \"FR-idf\"}", BAD_REGION("FR-idf"));
        ASSERT_REFUSED("{\"region\": \"fr-IDF\"}", BAD_REGION("fr-IDF"));
        ASSERT_REFUSED("{\"region\": \"FR-IDFX\"}", BAD_REGION("FR-IDFX"));
        ASSERT_REFUSED("{\"region\": \"FR-I F\"}", BAD_REGION("FR-I F"));
        /* The country part must be an assigned code. */
        ASSERT_REFUSED("{\"region\": \"XX-IDF\"}", BAD_REGION("XX-IDF"));
        ASSERT_REFUSED("{\"region\": \"UK-ENG\"}", BAD_REGION("UK-ENG"));
        ASSERT_REFUSED("{\"region\": \"EU-FR\"}", BAD_REGION("EU-FR"));
#undef BAD_REGION
}

static void test_tags_parse_free_form_keys(void) {
        struct tags t = {};
        char doc[512];

        /* 63 characters is the longest key. */
        snprintf(doc, sizeof(doc), "{\"%s\": \"v\", \"0rack\": \"x\", \"a.b_c-d\": \"y\"}",
                 "k23456789012345678901234567890123456789012345678901234567890123");
        parse_ok(doc, &t);
        ASSERT_INT_EQ(t.n_items, 3);
        ASSERT_STR_EQ(tags_get(&t, "0rack"), "x");
        tags_done(&t);

#define BAD_KEY(k) WHERE "." k ": invalid tag name (1-63 of a-z 0-9 . _ -, starting with a letter or digit)"
        snprintf(doc, sizeof(doc), "{\"%s\": \"v\"}", "k234567890123456789012345678901234567890123456789012345678901234");
        ASSERT_REFUSED(doc, BAD_KEY("k234567890123456789012345678901234567890123456789012345678901234"));
        ASSERT_REFUSED("{\"Site\": \"par-1\"}", BAD_KEY("Site"));
        ASSERT_REFUSED("{\"-site\": \"par-1\"}", BAD_KEY("-site"));
        ASSERT_REFUSED("{\".site\": \"par-1\"}", BAD_KEY(".site"));
        /* Label keys may hold '/', tag keys may not. */
        ASSERT_REFUSED("{\"a/b\": \"par-1\"}", BAD_KEY("a/b"));
        ASSERT_REFUSED("{\"a b\": \"par-1\"}", BAD_KEY("a b"));
        ASSERT_REFUSED("{\"\": \"par-1\"}", BAD_KEY(""));
#undef BAD_KEY

        /* Values: printable UTF-8 up to 256 bytes. */
        char value[300];
        memset(value, 'v', 256);
        value[256] = '\0';
        snprintf(doc, sizeof(doc), "{\"note\": \"%s\"}", value);
        parse_ok(doc, &t);
        tags_done(&t);
        parse_ok("{\"operator\": \"Société Générale\"}", &t);
        ASSERT_STR_EQ(tags_get(&t, "operator"), "Société Générale");
        tags_done(&t);
        snprintf(doc, sizeof(doc), "{\"note\": \"%sv\"}", value);
        ASSERT_REFUSED(doc, WHERE ".note: must be a non-empty string of printable UTF-8 up to 256 bytes");
        ASSERT_REFUSED("{\"note\": \"a\\u0001b\"}",
                       WHERE ".note: must be a non-empty string of printable UTF-8 up to 256 bytes");
        ASSERT_REFUSED("{\"site\": \"\"}", WHERE ".site: must be a non-empty string of printable UTF-8 up to 256 bytes");
        ASSERT_REFUSED("{\"site\": null}", WHERE ".site: must be a non-empty string of printable UTF-8 up to 256 bytes");
        ASSERT_REFUSED("{\"site\": true}", WHERE ".site: must be a non-empty string of printable UTF-8 up to 256 bytes");
        ASSERT_REFUSED("{\"site\": {}}", WHERE ".site: must be a non-empty string of printable UTF-8 up to 256 bytes");

        /* Not an object at all. */
        ASSERT_REFUSED("[]", WHERE ": must be an object of tags");
        ASSERT_REFUSED("\"FR\"", WHERE ": must be an object of tags");
}

/* {"t0": "v", ..., "t<n-1>": "v"} plus @extra members. */
static char *many_tags(size_t n, const char *extra) {
        _cleanup_strbuf_ struct strbuf b = {};

        strbuf_append(&b, "{");
        for (size_t i = 0; i < n; i++)
                strbuf_appendf(&b, "%s\"t%zu\": \"v\"", i ? ", " : "", i);
        if (extra)
                strbuf_appendf(&b, "%s%s", n ? ", " : "", extra);
        strbuf_append(&b, "}");
        ASSERT_NOT_NULL(b.buf);
        return strbuf_steal(&b);
}

static void test_tags_parse_limits(void) {
        struct tags t = {};
        _cleanup_free_ char *doc64 = many_tags(64, NULL), *doc65 = many_tags(65, NULL),
                            *doc63c = many_tags(63, "\"certifications\": [\"hds\"]"),
                            *doc64c = many_tags(64, "\"certifications\": [\"hds\"]");

        parse_ok(doc64, &t);
        ASSERT_INT_EQ(t.n_items, 64);
        tags_done(&t);
        ASSERT_REFUSED(doc65, WHERE ": at most 64 tags");
        /* certifications is one of the 64. */
        parse_ok(doc63c, &t);
        ASSERT_INT_EQ(t.n_items, 63);
        ASSERT_INT_EQ(t.n_certs, 1);
        tags_done(&t);
        ASSERT_REFUSED(doc64c, WHERE ": at most 64 tags");

        _cleanup_strbuf_ struct strbuf c32 = {}, c33 = {};
        strbuf_append(&c32, "{\"certifications\": [");
        for (int i = 0; i < 32; i++)
                strbuf_appendf(&c32, "%s\"c%d:%d\"", i ? ", " : "", i, i);
        strbuf_append(&c33, c32.buf);
        strbuf_append(&c32, "]}");
        strbuf_append(&c33, ", \"hds\"]}");
        ASSERT_NOT_NULL(c32.buf);
        ASSERT_NOT_NULL(c33.buf);
        parse_ok(c32.buf, &t);
        ASSERT_INT_EQ(t.n_certs, 32);
        ASSERT_STR_EQ(t.certs[31].name, "c31");
        ASSERT_STR_EQ(t.certs[31].version, "31");
        tags_done(&t);
        ASSERT_REFUSED(c33.buf, WHERE ".certifications: at most 32 entries");

        parse_ok("{}", &t);
        ASSERT_TRUE(tags_empty(&t));
        tags_done(&t);
}

static void test_tags_parse_bad_certifications(void) {
#define CERT(i) WHERE ".certifications[" #i "]"
        ASSERT_REFUSED("{\"certifications\": \"hds\"}", WHERE ".certifications: must be a list of strings or objects");
        ASSERT_REFUSED("{\"certifications\": {\"name\": \"hds\"}}",
                       WHERE ".certifications: must be a list of strings or objects");
        ASSERT_REFUSED("{\"certifications\": [\"hds\", 3]}",
                       CERT(1) ": must be a string (\"name\" or \"name:version\") or an object");
        ASSERT_REFUSED("{\"certifications\": [null]}",
                       CERT(0) ": must be a string (\"name\" or \"name:version\") or an object");
        ASSERT_REFUSED("{\"certifications\": [\"secnumcloud:3.\"]}",
                       CERT(0) ": version '3.' must be dotted numbers (3.2)");
        ASSERT_REFUSED("{\"certifications\": [\"hds\", \"secnumcloud:\"]}",
                       CERT(1) ": version '' must be dotted numbers (3.2)");
        ASSERT_REFUSED("{\"certifications\": [\"secnumcloud:.3\"]}",
                       CERT(0) ": version '.3' must be dotted numbers (3.2)");
        ASSERT_REFUSED("{\"certifications\": [\"secnumcloud:3..2\"]}",
                       CERT(0) ": version '3..2' must be dotted numbers (3.2)");
        ASSERT_REFUSED("{\"certifications\": [\"secnumcloud:v3\"]}",
                       CERT(0) ": version 'v3' must be dotted numbers (3.2)");
        ASSERT_REFUSED("{\"certifications\": [\"secnumcloud:3:2\"]}",
                       CERT(0) ": version '3:2' must be dotted numbers (3.2)");
        ASSERT_REFUSED("{\"certifications\": [\"secnumcloud:-3\"]}",
                       CERT(0) ": version '-3' must be dotted numbers (3.2)");
        ASSERT_REFUSED("{\"certifications\": [{\"name\": \"hds\", \"version\": \"3.\"}]}",
                       CERT(0) ": version '3.' must be dotted numbers (3.2)");
        ASSERT_REFUSED("{\"certifications\": [\"SecNumCloud\"]}",
                       CERT(0) ": 'SecNumCloud' is not a certification name (a-z 0-9 - _ .)");
        ASSERT_REFUSED("{\"certifications\": [\":3.2\"]}", CERT(0) ": '' is not a certification name (a-z 0-9 - _ .)");
        ASSERT_REFUSED("{\"certifications\": [\"\"]}", CERT(0) ": '' is not a certification name (a-z 0-9 - _ .)");
        ASSERT_REFUSED("{\"certifications\": [\"-hds\"]}", CERT(0) ": '-hds' is not a certification name (a-z 0-9 - _ .)");
        ASSERT_REFUSED("{\"certifications\": [\"iso 27001\"]}",
                       CERT(0) ": 'iso 27001' is not a certification name (a-z 0-9 - _ .)");
        ASSERT_REFUSED("{\"certifications\": [{\"version\": \"3.2\"}]}", CERT(0) ".name: required member missing");
        ASSERT_REFUSED("{\"certifications\": [{\"name\": 7}]}", CERT(0) ".name: must be a string");
        ASSERT_REFUSED("{\"certifications\": [{\"name\": \"hds\", \"version\": 3.2}]}",
                       CERT(0) ".version: must be a string");
        ASSERT_REFUSED("{\"certifications\": [{\"name\": \"hds\", \"expires\": \"2027-01-01\"}]}",
                       CERT(0) ".expires: unknown member");
#undef CERT
}

static void test_tags_parse_bad_date(void) {
#define BAD_DATE(d) WHERE ".certifications[0]: valid_until must be a date YYYY-MM-DD, got '" d "'"
#define DOC(d) "{\"certifications\": [{\"name\": \"hds\", \"valid_until\": \"" d "\"}]}"
        ASSERT_REFUSED(DOC("2027-13-01"), BAD_DATE("2027-13-01"));
        ASSERT_REFUSED(DOC("2027-00-10"), BAD_DATE("2027-00-10"));
        ASSERT_REFUSED(DOC("2027-06-00"), BAD_DATE("2027-06-00"));
        ASSERT_REFUSED(DOC("2027-06-32"), BAD_DATE("2027-06-32"));
        /* Days the month does not have: not silently moved to the next month. */
        ASSERT_REFUSED(DOC("2027-06-31"), BAD_DATE("2027-06-31"));
        ASSERT_REFUSED(DOC("2027-02-29"), BAD_DATE("2027-02-29"));
        ASSERT_REFUSED(DOC("2027-02-30"), BAD_DATE("2027-02-30"));
        ASSERT_REFUSED(DOC("2027-6-30"), BAD_DATE("2027-6-30"));
        ASSERT_REFUSED(DOC("2027-06- 3"), BAD_DATE("2027-06- 3"));
        ASSERT_REFUSED(DOC("27-06-30"), BAD_DATE("27-06-30"));
        ASSERT_REFUSED(DOC("2027/06/30"), BAD_DATE("2027/06/30"));
        ASSERT_REFUSED(DOC("30-06-2027"), BAD_DATE("30-06-2027"));
        ASSERT_REFUSED(DOC("2027-06-30T00:00:00Z"), BAD_DATE("2027-06-30T00:00:00Z"));
        ASSERT_REFUSED(DOC("tomorrow"), BAD_DATE("tomorrow"));
        ASSERT_REFUSED(DOC(""), BAD_DATE(""));
        ASSERT_REFUSED("{\"certifications\": [{\"name\": \"hds\", \"valid_until\": 20270630}]}",
                       WHERE ".certifications[0].valid_until: must be a string");
        /* valid_until 0 means no expiry: a date before 1970 must not turn into that. */
        ASSERT_REFUSED(DOC("1969-12-31"), WHERE ".certifications[0]: valid_until must be 1970-01-01 or later, got '1969-12-31'");
        ASSERT_REFUSED(DOC("1900-01-01"), WHERE ".certifications[0]: valid_until must be 1970-01-01 or later, got '1900-01-01'");
#undef DOC
#undef BAD_DATE

        /* A leap day that exists; the first day there is. */
        struct tags t = {};
        parse_ok("{\"certifications\": [{\"name\": \"hds\", \"valid_until\": \"1970-01-01\"}]}", &t);
        ASSERT_INT_EQ(t.certs[0].valid_until, 24 * 3600);
        tags_done(&t);
        parse_ok("{\"certifications\": [{\"name\": \"hds\", \"valid_until\": \"2028-02-29\"}]}", &t);
        ASSERT_INT_EQ(t.certs[0].valid_until, day("2028-03-01"));
        tags_done(&t);
}

static void test_tags_get_and_empty(void) {
        struct tags t = {};

        ASSERT_NULL(tags_get(NULL, "site"));
        ASSERT_TRUE(tags_empty(NULL));
        ASSERT_TRUE(tags_empty(&t));
        ASSERT_NULL(tags_get(&t, "site"));
        /* The JSON of no tags is an empty object, not NULL. */
        _cleanup_json_ struct json_object *none = tags_to_json(NULL);
        ASSERT_NOT_NULL(none);
        ASSERT_INT_EQ(json_object_object_length(none), 0);

        /* An empty certification list is no tag at all. */
        parse_ok("{\"certifications\": []}", &t);
        ASSERT_TRUE(tags_empty(&t));
        tags_done(&t);
        /* Certifications alone make a place tagged. */
        parse_ok("{\"certifications\": [\"hds\"]}", &t);
        ASSERT_FALSE(tags_empty(&t));
        ASSERT_INT_EQ(t.n_items, 0);
        tags_done(&t);
        parse_ok("{\"site\": \"par-1\"}", &t);
        ASSERT_FALSE(tags_empty(&t));
        ASSERT_STR_EQ(tags_get(&t, "site"), "par-1");
        ASSERT_NULL(tags_get(&t, "sit"));
        ASSERT_NULL(tags_get(&t, "site2"));
        tags_done(&t);
}

static void test_tags_unknown_certifications(void) {
        struct tags t = {};
        const char *unknown[4] = {};

        ASSERT_INT_EQ(tags_unknown_certifications(NULL, unknown, ELEMENTSOF(unknown)), 0);
        parse_ok("{\"certifications\": [\"secnumcloud:3.2\", \"acme-gold\", \"hds\", {\"name\": \"iso27001\"},"
                 " {\"name\": \"local.scheme\", \"version\": \"1\"}, \"c5\", \"bsi-c5\"]}",
                 &t);
        ASSERT_INT_EQ(tags_unknown_certifications(&t, unknown, ELEMENTSOF(unknown)), 2);
        ASSERT_STR_EQ(unknown[0], "acme-gold");
        ASSERT_STR_EQ(unknown[1], "local.scheme");
        /* Bounded by @max. */
        ASSERT_INT_EQ(tags_unknown_certifications(&t, unknown, 1), 1);
        ASSERT_STR_EQ(unknown[0], "acme-gold");
        ASSERT_INT_EQ(tags_unknown_certifications(&t, unknown, 0), 0);
        tags_done(&t);

        ASSERT_TRUE(certification_name_is_known("secnumcloud"));
        ASSERT_TRUE(certification_name_is_known("hds"));
        ASSERT_TRUE(certification_name_is_known("iso27001"));
        ASSERT_FALSE(certification_name_is_known("SecNumCloud"));
        ASSERT_FALSE(certification_name_is_known("secnumcloud:3.2"));
        ASSERT_FALSE(certification_name_is_known(""));
}

static void test_tags_country_code_is_valid(void) {
        size_t n = 0;
        char cc[3] = {};

        /* Exactly the 249 officially assigned ISO 3166-1 alpha-2 codes. */
        for (char a = 'A'; a <= 'Z'; a++)
                for (char b = 'A'; b <= 'Z'; b++) {
                        cc[0] = a;
                        cc[1] = b;
                        if (country_code_is_valid(cc))
                                n++;
                }
        ASSERT_INT_EQ(n, 249);

        static const char *const valid[] = { "AX", "RE", "NC", "FR", "DE", "US", "GB", "GR", "BL", "MF", "SX",
                                             "SS", "BQ", "CW", "PS", "TW", "AQ", "UM", "AD", "ZW", "YT", "GF" };
        for (size_t i = 0; i < ELEMENTSOF(valid); i++)
                if (!country_code_is_valid(valid[i]))
                        TEST_FAIL("%s refused", valid[i]);
        /* Not assigned: UK (GB is), EU and EL (exceptionally reserved), XK (user-assigned), AN (withdrawn). */
        static const char *const invalid[] = { "UK", "EU", "EL", "XK", "XX", "AN", "ZZ", "AA", "QO", "fr", "Fr", "fR",
                                               "F",  "FRA", "",  "F1", "1F", "F-", " F", "FR " };
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++)
                if (country_code_is_valid(invalid[i]))
                        TEST_FAIL("'%s' accepted", invalid[i]);
}

static void test_tags_region_code_is_valid(void) {
        ASSERT_TRUE(region_code_is_valid("FR-IDF"));
        ASSERT_TRUE(region_code_is_valid("FR-HDF"));
        ASSERT_TRUE(region_code_is_valid("FR-75"));
        ASSERT_TRUE(region_code_is_valid("ES-M"));
        ASSERT_TRUE(region_code_is_valid("GB-ENG"));
        ASSERT_FALSE(region_code_is_valid("UK-ENG"));
        ASSERT_FALSE(region_code_is_valid("FR-"));
        ASSERT_FALSE(region_code_is_valid("FR"));
        ASSERT_FALSE(region_code_is_valid(""));
        ASSERT_FALSE(region_code_is_valid("FR-IDFF"));
        ASSERT_FALSE(region_code_is_valid("FRIDF"));
        ASSERT_FALSE(region_code_is_valid("FR-Idf"));
        ASSERT_FALSE(region_code_is_valid("FR-I-F"));
}

static int sign(int x) {
        return (x > 0) - (x < 0);
}

static void test_tags_version_compare(void) {
        static const struct {
                const char *a, *b;
                int expected;
        } cases[] = {
                { "3.2", "3.2", 0 },
                /* Numeric per component, not text: 3.10 is after 3.2. */
                { "3.10", "3.2", 1 },
                { "3.2", "3.10", -1 },
                { "10", "9", 1 },
                { "1", "1.1", -1 },
                { "1.1", "1", 1 },
                { "2", "1.9", 1 },
                { "3.2.1", "3.2", 1 },
                /* Missing components count as 0: 3.2 and 3.2.0 are the same version. */
                { "3.2", "3.2.0", 0 },
                { "3.2.0.0", "3.2", 0 },
                { "0", "0.0", 0 },
                /* Leading zeros are numbers too. */
                { "3.02", "3.2", 0 },
                { "2022", "2013", 1 },
                { "4294967296", "4294967295", 1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r = sign(version_compare(cases[i].a, cases[i].b));
                if (r != cases[i].expected)
                        TEST_FAIL("version_compare(%s, %s) = %d, expected %d", cases[i].a, cases[i].b, r,
                                  cases[i].expected);
                /* Antisymmetric. */
                if (sign(version_compare(cases[i].b, cases[i].a)) != -cases[i].expected)
                        TEST_FAIL("version_compare(%s, %s) not antisymmetric", cases[i].b, cases[i].a);
        }
        /* Not versions: terminates instead of looping (callers validate first). */
        ASSERT_TRUE(version_compare("x", "") != 0);
        ASSERT_TRUE(version_compare("3.x", "3.x") == 0);
        ASSERT_TRUE(version_compare("3.a", "3.b") < 0);
}

TEST_MAIN(TEST(test_tags_parse_every_kind), TEST(test_tags_parse_every_country), TEST(test_tags_parse_bad_country),
          TEST(test_tags_parse_region), TEST(test_tags_parse_free_form_keys), TEST(test_tags_parse_limits),
          TEST(test_tags_parse_bad_certifications), TEST(test_tags_parse_bad_date), TEST(test_tags_get_and_empty),
          TEST(test_tags_unknown_certifications), TEST(test_tags_country_code_is_valid),
          TEST(test_tags_region_code_is_valid), TEST(test_tags_version_compare))
