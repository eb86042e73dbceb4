/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>

#include "sovd/json-util.h"
#include "sovd/names.h"
#include "sovd/vm-spec.h"
#include "test-harness.h"

#define BASE "\"name\":\"web-01\",\"tenant\":\"acme\",\"policy\":\"standard\",\"vcpus\":2,\"memory_mib\":2048"

/* Parses @json (must be valid JSON) into @spec; returns vm_spec_parse()'s result and the message in @err. */
static int parse(const char *json, struct vm_spec *spec, struct sovd_err *err) {
        _cleanup_json_ struct json_object *doc = NULL;
        int r = json_parse_strict(json, strlen(json), &doc, err);

        if (r < 0)
                TEST_FAIL("not JSON: %s: %s", json, err->msg);
        return vm_spec_parse(doc, spec, err);
}

static void parse_ok(const char *json, struct vm_spec *spec) {
        struct sovd_err err = {};
        int r = parse(json, spec, &err);

        if (r < 0)
                TEST_FAIL("vm_spec_parse(%s): %d %s", json, r, err.msg);
}

/* @json must be refused with a message starting with @msg; the spec is left empty. */
static void parse_fails(const char *json, const char *msg) {
        struct vm_spec spec = {};
        struct sovd_err err = {};
        int r = parse(json, &spec, &err);

        if (r != -EINVAL)
                TEST_FAIL("vm_spec_parse(%s): expected -EINVAL, got %d", json, r);
        if (strncmp(err.msg, msg, strlen(msg)) != 0)
                TEST_FAIL("vm_spec_parse(%s): expected message starting \"%s\", got \"%s\"", json, msg, err.msg);
        if (spec.name || spec.tenant || spec.n_disks || spec.n_networks || spec.labels)
                TEST_FAIL("vm_spec_parse(%s): spec not left empty", json);
}

static void test_vm_spec_parse_full(void) {
        struct vm_spec spec = {};

        parse_ok("{" BASE ","
                 "\"disks\":[{\"pool\":\"default\",\"size_gib\":20},"
                 "          {\"pool\":\"images\",\"image\":\"debian-12.qcow2\",\"size_gib\":40},"
                 "          {\"pool\":\"default\",\"image\":\"base_img\"}],"
                 "\"networks\":[{\"network\":\"default\"},{\"network\":\"br-prod.10\"}],"
                 "\"labels\":{\"env\":\"prod\",\"owner\":\"\\u00e9quipe donn\\u00e9es \\ud83d\\ude80\","
                 "            \"app.kubernetes.io/name\":\"web\",\"empty\":\"\"}}",
                 &spec);
        ASSERT_STR_EQ(spec.name, "web-01");
        ASSERT_STR_EQ(spec.tenant, "acme");
        ASSERT_STR_EQ(spec.policy, "standard");
        ASSERT_INT_EQ(spec.vcpus, 2);
        ASSERT_INT_EQ(spec.memory_mib, 2048);
        ASSERT_INT_EQ(spec.n_disks, 3);
        ASSERT_STR_EQ(spec.disks[0].pool, "default");
        ASSERT_INT_EQ(spec.disks[0].size_gib, 20);
        ASSERT_NULL(spec.disks[0].image);
        ASSERT_STR_EQ(spec.disks[1].pool, "images");
        ASSERT_STR_EQ(spec.disks[1].image, "debian-12.qcow2");
        ASSERT_INT_EQ(spec.disks[1].size_gib, 40);
        ASSERT_STR_EQ(spec.disks[2].image, "base_img");
        ASSERT_INT_EQ(spec.disks[2].size_gib, 0); /* the image's size */
        ASSERT_INT_EQ(spec.n_networks, 2);
        ASSERT_STR_EQ(spec.networks[0].network, "default");
        ASSERT_STR_EQ(spec.networks[1].network, "br-prod.10");
        ASSERT_INT_EQ(spec.n_labels, 4);
        ASSERT_STR_EQ(spec.labels[0].key, "env");
        ASSERT_STR_EQ(spec.labels[0].value, "prod");
        ASSERT_STR_EQ(spec.labels[1].key, "owner");
        ASSERT_STR_EQ(spec.labels[1].value, "\xc3\xa9quipe donn\xc3\xa9""es \xf0\x9f\x9a\x80");
        ASSERT_STR_EQ(spec.labels[2].key, "app.kubernetes.io/name");
        ASSERT_STR_EQ(spec.labels[3].value, "");
        vm_spec_done(&spec);
        ASSERT_NULL(spec.name);
        ASSERT_INT_EQ(spec.n_disks, 0);
        ASSERT_NULL(spec.labels);
}

static void test_vm_spec_parse_minimal(void) {
        struct vm_spec spec = {};

        parse_ok("{" BASE "}", &spec);
        ASSERT_STR_EQ(spec.name, "web-01");
        ASSERT_INT_EQ(spec.n_disks, 0);
        ASSERT_INT_EQ(spec.n_networks, 0);
        ASSERT_INT_EQ(spec.n_labels, 0);
        vm_spec_done(&spec);

        parse_ok("{" BASE ",\"disks\":[],\"networks\":[],\"labels\":{}}", &spec);
        ASSERT_INT_EQ(spec.n_disks, 0);
        ASSERT_INT_EQ(spec.n_labels, 0);
        vm_spec_done(&spec);
        vm_spec_done(&spec); /* idempotent */
}

static void test_vm_spec_parse_bounds(void) {
        char json[16384], *p;
        struct vm_spec spec = {};

        parse_ok("{\"name\":\"a\",\"tenant\":\"t\",\"policy\":\"p\",\"vcpus\":1,\"memory_mib\":16,"
                 "\"disks\":[{\"pool\":\"p\",\"size_gib\":1},{\"pool\":\"p\",\"size_gib\":65536}]}",
                 &spec);
        ASSERT_INT_EQ(spec.vcpus, 1);
        ASSERT_INT_EQ(spec.memory_mib, 16);
        ASSERT_INT_EQ(spec.disks[1].size_gib, 65536);
        vm_spec_done(&spec);

        /* 64-character names, 256 vCPUs, 4 TiB, 16 disks, 8 networks, 32 labels of 256 bytes. */
        p = json + sprintf(json, "{\"name\":\"%s\",\"tenant\":\"%s\",\"policy\":\"p\",\"vcpus\":256,\"memory_mib\":4194304,"
                                 "\"disks\":[",
                           "n123456789012345678901234567890123456789012345678901234567890123",
                           "t123456789012345678901234567890123456789012345678901234567890123");
        for (int i = 0; i < VM_SPEC_MAX_DISKS; i++)
                p += sprintf(p, "%s{\"pool\":\"pool%d\",\"size_gib\":%d}", i ? "," : "", i, i + 1);
        p += sprintf(p, "],\"networks\":[");
        for (int i = 0; i < VM_SPEC_MAX_NETWORKS; i++)
                p += sprintf(p, "%s{\"network\":\"net%d\"}", i ? "," : "", i);
        p += sprintf(p, "],\"labels\":{");
        for (int i = 0; i < LABELS_MAX; i++)
                p += sprintf(p, "%s\"k%d\":\"%0256d\"", i ? "," : "", i, i);
        sprintf(p, "}}");
        parse_ok(json, &spec);
        ASSERT_INT_EQ(strlen(spec.name), NAME_MAX_LEN);
        ASSERT_INT_EQ(spec.vcpus, 256);
        ASSERT_INT_EQ(spec.memory_mib, 4194304);
        ASSERT_INT_EQ(spec.n_disks, VM_SPEC_MAX_DISKS);
        ASSERT_STR_EQ(spec.disks[15].pool, "pool15");
        ASSERT_INT_EQ(spec.disks[15].size_gib, 16);
        ASSERT_INT_EQ(spec.n_networks, VM_SPEC_MAX_NETWORKS);
        ASSERT_STR_EQ(spec.networks[7].network, "net7");
        ASSERT_INT_EQ(spec.n_labels, LABELS_MAX);
        ASSERT_STR_EQ(spec.labels[31].key, "k31");
        ASSERT_INT_EQ(strlen(spec.labels[31].value), LABEL_VALUE_MAX_LEN);
        vm_spec_done(&spec);
}

static void test_vm_spec_rejects_document(void) {
        parse_fails("[]", "body: must be a JSON object");
        parse_fails("\"web\"", "body: must be a JSON object");
        parse_fails("{" BASE ",\"cpus\":2}", "cpus: unknown member");
        parse_fails("{" BASE ",\"Name\":\"x\"}", "Name: unknown member");
}

static void test_vm_spec_rejects_names(void) {
        static const char *const bad[] = {
                "\"a</name><devices>\"", "\"../../etc\"", "\"-web\"", "\".web\"", "\"\"", "\"web 01\"",
                "\"web/01\"", "\"w\\u00e9b\"", "\"web\\n\"", "\"a'b\"",
                "\"x1234567890123456789012345678901234567890123456789012345678901234\"", /* 65 */
        };
        char json[512];

        parse_fails("{\"tenant\":\"a\",\"policy\":\"p\",\"vcpus\":1,\"memory_mib\":64}", "name: required member missing");
        parse_fails("{\"name\":7,\"tenant\":\"a\",\"policy\":\"p\",\"vcpus\":1,\"memory_mib\":64}", "name: must be a string");
        parse_fails("{\"name\":null,\"tenant\":\"a\",\"policy\":\"p\",\"vcpus\":1,\"memory_mib\":64}", "name: must be a string");
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                snprintf(json, sizeof(json), "{\"name\":%s,\"tenant\":\"a\",\"policy\":\"p\",\"vcpus\":1,\"memory_mib\":64}",
                         bad[i]);
                parse_fails(json, "name: must be 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit");
                snprintf(json, sizeof(json), "{\"name\":\"n\",\"tenant\":%s,\"policy\":\"p\",\"vcpus\":1,\"memory_mib\":64}",
                         bad[i]);
                parse_fails(json, "tenant: must be 1-64 characters");
                snprintf(json, sizeof(json), "{\"name\":\"n\",\"tenant\":\"t\",\"policy\":%s,\"vcpus\":1,\"memory_mib\":64}",
                         bad[i]);
                parse_fails(json, "policy: must be 1-64 characters");
        }
        parse_fails("{\"name\":\"n\",\"policy\":\"p\",\"vcpus\":1,\"memory_mib\":64}", "tenant: required member missing");
        parse_fails("{\"name\":\"n\",\"tenant\":[],\"policy\":\"p\",\"vcpus\":1,\"memory_mib\":64}", "tenant: must be a string");
        parse_fails("{\"name\":\"n\",\"tenant\":\"t\",\"vcpus\":1,\"memory_mib\":64}", "policy: required member missing");
        parse_fails("{\"name\":\"n\",\"tenant\":\"t\",\"policy\":{},\"vcpus\":1,\"memory_mib\":64}", "policy: must be a string");
}

static void test_vm_spec_rejects_vcpus_and_memory(void) {
        static const struct {
                const char *member, *msg;
        } cases[] = {
                { "\"vcpus\":0,\"memory_mib\":64", "vcpus: must be an integer from 1 to 256, got 0" },
                { "\"vcpus\":257,\"memory_mib\":64", "vcpus: must be an integer from 1 to 256, got 257" },
                { "\"vcpus\":-1,\"memory_mib\":64", "vcpus: must be an integer from 1 to 256, got -1" },
                { "\"vcpus\":\"2\",\"memory_mib\":64", "vcpus: must be an integer from 1 to 256" },
                { "\"vcpus\":2.0,\"memory_mib\":64", "vcpus: must be an integer from 1 to 256" },
                { "\"vcpus\":1.5,\"memory_mib\":64", "vcpus: must be an integer from 1 to 256" },
                { "\"vcpus\":true,\"memory_mib\":64", "vcpus: must be an integer" },
                { "\"vcpus\":4294967297,\"memory_mib\":64", "vcpus: must be an integer from 1 to 256, got 4294967297" },
                { "\"vcpus\":99999999999999999999,\"memory_mib\":64", "vcpus: must be an integer from 1 to 256" },
                { "\"memory_mib\":64", "vcpus: required member missing" },
                { "\"vcpus\":1,\"memory_mib\":15", "memory_mib: must be an integer from 16 to 4194304, got 15" },
                { "\"vcpus\":1,\"memory_mib\":4194305", "memory_mib: must be an integer from 16 to 4194304, got 4194305" },
                { "\"vcpus\":1,\"memory_mib\":\"2G\"", "memory_mib: must be an integer from 16 to 4194304" },
                { "\"vcpus\":1,\"memory_mib\":1e3", "memory_mib: must be an integer" },
                { "\"vcpus\":1,\"memory_mib\":18446744073709551615", "memory_mib: must be an integer" },
                { "\"vcpus\":1", "memory_mib: required member missing" },
        };
        char json[256];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                snprintf(json, sizeof(json), "{\"name\":\"n\",\"tenant\":\"t\",\"policy\":\"p\",%s}", cases[i].member);
                parse_fails(json, cases[i].msg);
        }
}

static void test_vm_spec_rejects_disks(void) {
        static const struct {
                const char *disks, *msg;
        } cases[] = {
                { "{\"pool\":\"default\",\"size_gib\":1}", "disks: must be an array" },
                { "\"default\"", "disks: must be an array" },
                { "[\"default\"]", "disks[0]: must be a JSON object" },
                { "[{\"pool\":\"p\",\"size_gib\":1},{\"pool\":\"p\",\"size_gib\":1,\"format\":\"raw\"}]",
                  "disks[1].format: unknown member" },
                { "[{\"pool\":\"p\",\"size_gib\":1},{\"size_gib\":1}]", "disks[1].pool: required member missing" },
                { "[{\"pool\":\"../p\",\"size_gib\":1}]", "disks[0].pool: must be 1-64 characters" },
                { "[{\"pool\":1,\"size_gib\":1}]", "disks[0].pool: must be a string" },
                { "[{\"pool\":\"p\",\"size_gib\":1},{\"pool\":\"p\",\"size_gib\":0}]",
                  "disks[1].size_gib: must be an integer from 1 to 65536, got 0" },
                { "[{\"pool\":\"p\",\"size_gib\":65537}]", "disks[0].size_gib: must be an integer from 1 to 65536, got 65537" },
                { "[{\"pool\":\"p\",\"size_gib\":-20}]", "disks[0].size_gib: must be an integer from 1 to 65536, got -20" },
                { "[{\"pool\":\"p\",\"size_gib\":\"20\"}]", "disks[0].size_gib: must be an integer" },
                { "[{\"pool\":\"p\",\"size_gib\":2.5}]", "disks[0].size_gib: must be an integer" },
                { "[{\"pool\":\"p\"}]", "disks[0]: needs size_gib, image or both" },
                { "[{\"pool\":\"p\",\"size_gib\":1},{\"pool\":\"p\",\"image\":null}]", "disks[1].image: must be a string" },
                { "[{\"pool\":\"p\",\"image\":\"../../etc/shadow\"}]", "disks[0].image: must be 1-64 characters" },
                { "[{\"pool\":\"p\",\"image\":\"/var/lib/img\"}]", "disks[0].image: must be 1-64 characters" },
        };
        char json[4096], *p;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                snprintf(json, sizeof(json), "{" BASE ",\"disks\":%s}", cases[i].disks);
                parse_fails(json, cases[i].msg);
        }
        p = json + sprintf(json, "{" BASE ",\"disks\":[");
        for (int i = 0; i <= VM_SPEC_MAX_DISKS; i++)
                p += sprintf(p, "%s{\"pool\":\"p\",\"size_gib\":1}", i ? "," : "");
        sprintf(p, "]}");
        parse_fails(json, "disks: at most 16 disks, got 17");
}

static void test_vm_spec_rejects_networks(void) {
        static const struct {
                const char *networks, *msg;
        } cases[] = {
                { "{\"network\":\"default\"}", "networks: must be an array" },
                { "[\"default\"]", "networks[0]: must be a JSON object" },
                { "[{\"network\":\"default\"},{\"network\":\"default\",\"mac\":\"52:54:00:00:00:01\"}]",
                  "networks[1].mac: unknown member" },
                { "[{}]", "networks[0].network: required member missing" },
                { "[{\"network\":\"default\"},{\"network\":\"br0'/><disk\"}]", "networks[1].network: must be 1-64 characters" },
                { "[{\"network\":false}]", "networks[0].network: must be a string" },
        };
        char json[4096], *p;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                snprintf(json, sizeof(json), "{" BASE ",\"networks\":%s}", cases[i].networks);
                parse_fails(json, cases[i].msg);
        }
        p = json + sprintf(json, "{" BASE ",\"networks\":[");
        for (int i = 0; i <= VM_SPEC_MAX_NETWORKS; i++)
                p += sprintf(p, "%s{\"network\":\"n%d\"}", i ? "," : "", i);
        sprintf(p, "]}");
        parse_fails(json, "networks: at most 8 networks, got 9");
}

static void test_vm_spec_rejects_labels(void) {
        static const struct {
                const char *labels, *msg;
        } cases[] = {
                { "[]", "labels: must be an object" },
                { "\"env=prod\"", "labels: must be an object" },
                { "{\"Env\":\"prod\"}", "labels: key 'Env' must be 1-63 characters of a-z 0-9 . _ / - starting with a letter or digit" },
                { "{\"\":\"prod\"}", "labels: key '' must be" },
                { "{\"-env\":\"prod\"}", "labels: key '-env' must be" },
                { "{\"a b\":\"prod\"}", "labels: key 'a b' must be" },
                { "{\"k123456789012345678901234567890123456789012345678901234567890123\":\"v\"}", "labels: key 'k1234" },
                { "{\"env\":\"a\\nb\"}", "labels.env: must be a string of at most 256 bytes of printable UTF-8" },
                { "{\"env\":\"a\\tb\"}", "labels.env: must be a string" },
                { "{\"env\":\"\\u001b[31m\"}", "labels.env: must be a string" },
                { "{\"env\":\"\\u007f\"}", "labels.env: must be a string" },
                { "{\"env\":\"\\u0085\"}", "labels.env: must be a string" },
                { "{\"env\":\"\\uffff\"}", "labels.env: must be a string" },
                { "{\"env\":\"\\ufffe\"}", "labels.env: must be a string" },
                { "{\"env\":\"\xc0\xaf\"}", "labels.env: must be a string" },     /* overlong, json-c lets it through */
                { "{\"env\":\"\xed\xa0\x80\"}", "labels.env: must be a string" }, /* encoded surrogate, idem */
                { "{\"env\":1}", "labels.env: must be a string" },
                { "{\"env\":null}", "labels.env: must be a string" },
                { "{\"env\":[\"prod\"]}", "labels.env: must be a string" },
                { "{\"ok\":\"v\",\"env\":true}", "labels.env: must be a string" },
        };
        char json[16384], *p;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                snprintf(json, sizeof(json), "{" BASE ",\"labels\":%s}", cases[i].labels);
                parse_fails(json, cases[i].msg);
        }
        snprintf(json, sizeof(json), "{" BASE ",\"labels\":{\"big\":\"%0257d\"}}", 0);
        parse_fails(json, "labels.big: must be a string of at most 256 bytes");
        p = json + sprintf(json, "{" BASE ",\"labels\":{");
        for (int i = 0; i <= LABELS_MAX; i++)
                p += sprintf(p, "%s\"k%d\":\"v\"", i ? "," : "", i);
        sprintf(p, "}}");
        parse_fails(json, "labels: at most 32 labels, got 33");
}

static void test_vm_spec_nul_escape_cannot_truncate(void) {
        static const char *const docs[] = {
                "{\"name\":\"web\\u0000/../x\",\"tenant\":\"t\",\"policy\":\"p\",\"vcpus\":1,\"memory_mib\":64}",
                "{" BASE ",\"labels\":{\"env\\u0000\\n\":\"x\"}}",
                "{" BASE ",\"labels\":{\"env\":\"ok\\u0000\\n<bad>\"}}",
        };

        for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
                _cleanup_json_ struct json_object *doc = NULL;
                struct vm_spec spec = {};
                struct sovd_err err = {};
                int r = json_parse_strict(docs[i], strlen(docs[i]), &doc, &err);

                /* Refused by the parser, or else by the spec, never accepted cut short. */
                if (r >= 0 && vm_spec_parse(doc, &spec, &err) >= 0) {
                        vm_spec_done(&spec);
                        TEST_FAIL("accepted: %s", docs[i]);
                }
        }
}

static void test_vm_spec_volume_name(void) {
        struct vm_spec spec = {};
        _cleanup_free_ char *v0 = NULL, *v15 = NULL;

        parse_ok("{" BASE ",\"disks\":[{\"pool\":\"p\",\"size_gib\":1}]}", &spec);
        ASSERT_OK(vm_spec_volume_name(&spec, 0, &v0));
        ASSERT_STR_EQ(v0, "web-01-disk0.qcow2");
        ASSERT_OK(vm_spec_volume_name(&spec, 15, &v15));
        ASSERT_STR_EQ(v15, "web-01-disk15.qcow2");
        vm_spec_done(&spec);
}

TEST_MAIN(TEST(test_vm_spec_parse_full), TEST(test_vm_spec_parse_minimal), TEST(test_vm_spec_parse_bounds),
          TEST(test_vm_spec_rejects_document), TEST(test_vm_spec_rejects_names), TEST(test_vm_spec_rejects_vcpus_and_memory),
          TEST(test_vm_spec_rejects_disks), TEST(test_vm_spec_rejects_networks), TEST(test_vm_spec_rejects_labels),
          TEST(test_vm_spec_nul_escape_cannot_truncate), TEST(test_vm_spec_volume_name))
