/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sovd/json-util.h"
#include "test-harness.h"

/* Parses @s (a C string) and returns the document, failing the test on error. */
static struct json_object *parse_ok(const char *s) {
        struct json_object *o = NULL;
        struct sovd_err err = {};
        int r = json_parse_strict(s, strlen(s), &o, &err);

        if (r < 0)
                TEST_FAIL("json_parse_strict(%s): %d %s", s, r, err.msg);
        return o;
}

/* Parses @len bytes that must be refused, and returns the message. */
static const char *parse_fails(const char *s, size_t len) {
        static struct sovd_err err;
        struct json_object *sentinel = (struct json_object *) &err, *o = sentinel;
        int r;

        memset(&err, 0, sizeof(err));
        r = json_parse_strict(s, len, &o, &err);
        if (r != -EINVAL)
                TEST_FAIL("json_parse_strict(\"%.*s\"): expected -EINVAL, got %d", (int) len, s, r);
        if (o != sentinel)
                TEST_FAIL("json_parse_strict(\"%.*s\"): *ret changed on failure", (int) len, s);
        if (err.msg[0] == '\0')
                TEST_FAIL("json_parse_strict(\"%.*s\"): no message", (int) len, s);
        return err.msg;
}

/* For literals, embedded NULs included. */
#define FAILS(s) parse_fails((s), sizeof(s) - 1)

/* @depth nested arrays; the innermost holds a number when @leaf. */
static char *nested(char *buf, int depth, bool leaf) {
        char *p = buf;

        for (int i = 0; i < depth; i++)
                *p++ = '[';
        if (leaf)
                *p++ = '7';
        for (int i = 0; i < depth; i++)
                *p++ = ']';
        *p = '\0';
        return buf;
}

static void test_json_util_parse_valid(void) {
        _cleanup_json_ struct json_object *o = parse_ok(" {\"a\": [1, \"x\", true, null], \"b\": {\"c\": -2}}\r\n\t ");
        struct json_object *a = NULL, *b = NULL;

        ASSERT_TRUE(json_object_is_type(o, json_type_object));
        ASSERT_TRUE(json_object_object_get_ex(o, "a", &a));
        ASSERT_INT_EQ(json_object_array_length(a), 4);
        ASSERT_STR_EQ(json_object_get_string(json_object_array_get_idx(a, 1)), "x");
        ASSERT_TRUE(json_object_object_get_ex(o, "b", &b));
        ASSERT_STR_EQ(json_to_string(b), "{\"c\":-2}");

        /* Only @len bytes are read: what follows is not the document's. */
        struct json_object *p = NULL;
        ASSERT_OK(json_parse_strict("[1] garbage", 3, &p, NULL));
        ASSERT_STR_EQ(json_to_string(p), "[1]");
        json_object_put(p);
        /* Escaped backslashes followed by "u0000" are text, not a NUL. */
        _cleanup_json_ struct json_object *q = parse_ok("[\"\\\\u0000\"]");
        ASSERT_STR_EQ(json_object_get_string(json_object_array_get_idx(q, 0)), "\\u0000");
}

static void test_json_util_parse_rejects_trailing_data(void) {
        ASSERT_STR_CONTAINS(FAILS("{} x"), "at byte 3");
        ASSERT_STR_CONTAINS(FAILS("{}{}"), "byte 2");
        FAILS("[1] [2]");
        FAILS("1 2");
        FAILS("{}\v");
}

static void test_json_util_parse_rejects_nul(void) {
        ASSERT_STR_CONTAINS(FAILS("{}\0"), "NUL");
        ASSERT_STR_CONTAINS(FAILS("[\"a\0b\"]"), "NUL");
        ASSERT_STR_CONTAINS(FAILS("\0{}"), "NUL");
        /* json-c decodes \u0000 into the string, where C code would see it cut short. */
        ASSERT_STR_CONTAINS(FAILS("{\"name\":\"ok\\u0000../../x\"}"), "u0000");
        ASSERT_STR_CONTAINS(FAILS("{\"a\\u0000b\":1}"), "u0000");
        ASSERT_STR_CONTAINS(FAILS("[\"\\\\\\u0000\"]"), "u0000");
}

static void test_json_util_parse_depth(void) {
        char buf[128];

        /* Depth counts levels of values, the document being level 1: [[7]] is 3 deep. */
        _cleanup_json_ struct json_object *a = parse_ok(nested(buf, JSON_MAX_DEPTH - 1, true));
        _cleanup_json_ struct json_object *b = parse_ok(nested(buf, JSON_MAX_DEPTH, false));
        ASSERT_TRUE(json_object_is_type(a, json_type_array));
        ASSERT_TRUE(json_object_is_type(b, json_type_array));
        ASSERT_STR_CONTAINS(parse_fails(buf, strlen(nested(buf, JSON_MAX_DEPTH, true))), "nesting too deep");
        ASSERT_STR_CONTAINS(parse_fails(buf, strlen(nested(buf, JSON_MAX_DEPTH + 1, false))), "nesting too deep");
        parse_fails(buf, strlen(nested(buf, 40, true)));

        /* Objects count the same way. */
        char obj[256] = "", *p = obj;
        for (int i = 0; i < JSON_MAX_DEPTH - 1; i++)
                p += sprintf(p, "{\"k\":");
        p += sprintf(p, "1");
        for (int i = 0; i < JSON_MAX_DEPTH - 1; i++)
                *p++ = '}';
        *p = '\0';
        _cleanup_json_ struct json_object *c = parse_ok(obj);
        ASSERT_TRUE(json_object_is_type(c, json_type_object));
        char deeper[300];
        snprintf(deeper, sizeof(deeper), "[%s]", obj);
        parse_fails(deeper, strlen(deeper));
}

static void test_json_util_parse_rejects_bad_utf8(void) {
        ASSERT_STR_CONTAINS(FAILS("\"\xc3\x28\""), "utf-8");
        FAILS("[\"\xff\"]");
        FAILS("[\"\xc3\"]");
        FAILS("{\"\xe2\x82\":1}");
}

static void test_json_util_parse_rejects_malformed(void) {
        ASSERT_STR_CONTAINS(FAILS(""), "byte 0");
        FAILS("   ");
        FAILS("{");
        FAILS("{\"a\":1");
        FAILS("[1,]");
        FAILS("{\"a\":'x'}");
        FAILS("[01]");
        FAILS("[0x10]");
        FAILS("[tRue]");
        FAILS("/*c*/[1]");
        FAILS("[1]//");
}

static void test_json_util_check_members(void) {
        static const char *const allowed[] = { "pool", "size_gib", NULL };
        _cleanup_json_ struct json_object *ok = parse_ok("{\"pool\":\"x\",\"size_gib\":1}");
        _cleanup_json_ struct json_object *empty = parse_ok("{}");
        _cleanup_json_ struct json_object *extra = parse_ok("{\"pool\":\"x\",\"sise_gib\":1}");
        _cleanup_json_ struct json_object *arr = parse_ok("[]");
        struct sovd_err err = {};

        ASSERT_INT_EQ(json_check_members(ok, allowed, "disks[0]", &err), 0);
        ASSERT_INT_EQ(json_check_members(empty, allowed, "", &err), 0);
        ASSERT_INT_EQ(json_check_members(extra, allowed, "disks[2]", &err), -EINVAL);
        ASSERT_STR_EQ(err.msg, "disks[2].sise_gib: unknown member");
        ASSERT_INT_EQ(json_check_members(extra, allowed, "", &err), -EINVAL);
        ASSERT_STR_EQ(err.msg, "sise_gib: unknown member");
        ASSERT_INT_EQ(json_check_members(arr, allowed, "", &err), -EINVAL);
        ASSERT_STR_EQ(err.msg, "body: must be a JSON object");
        ASSERT_INT_EQ(json_check_members(arr, allowed, "disks[1]", &err), -EINVAL);
        ASSERT_STR_EQ(err.msg, "disks[1]: must be a JSON object");
        ASSERT_INT_EQ(json_check_members(extra, allowed, "", NULL), -EINVAL);
}

static void test_json_util_get_string(void) {
        _cleanup_json_ struct json_object *o = parse_ok("{\"s\":\"v\",\"n\":1,\"z\":null}");
        struct sovd_err err = {};
        const char *s = "untouched";

        ASSERT_INT_EQ(json_get_string(o, "s", "", true, &s, &err), 0);
        ASSERT_STR_EQ(s, "v");
        s = "untouched";
        ASSERT_INT_EQ(json_get_string(o, "missing", "", false, &s, &err), 0);
        ASSERT_STR_EQ(s, "untouched");
        ASSERT_INT_EQ(json_get_string(o, "missing", "", true, &s, &err), -EINVAL);
        ASSERT_STR_EQ(err.msg, "missing: required member missing");
        ASSERT_INT_EQ(json_get_string(o, "missing", "disks[1]", true, &s, &err), -EINVAL);
        ASSERT_STR_EQ(err.msg, "disks[1].missing: required member missing");
        ASSERT_INT_EQ(json_get_string(o, "n", "networks[0]", false, &s, &err), -EINVAL);
        ASSERT_STR_EQ(err.msg, "networks[0].n: must be a string");
        ASSERT_INT_EQ(json_get_string(o, "z", "", false, &s, &err), -EINVAL);
        ASSERT_STR_EQ(err.msg, "z: must be a string");
        ASSERT_STR_EQ(s, "untouched");
}

static void test_json_util_get_int(void) {
        _cleanup_json_ struct json_object *o = parse_ok(
                "{\"one\":1,\"neg\":-5,\"max\":256,\"big\":99999999999999999999,\"u64\":18446744073709551615,"
                "\"i64\":9223372036854775807,\"nbig\":-99999999999999999999,\"exp\":1e30,\"float\":1.0,"
                "\"str\":\"4\",\"bool\":true,\"null\":null,\"arr\":[1]}");
        struct sovd_err err = {};
        int64_t v = 42;

        ASSERT_INT_EQ(json_get_int(o, "one", "", true, 1, 256, &v, &err), 0);
        ASSERT_INT_EQ(v, 1);
        ASSERT_INT_EQ(json_get_int(o, "max", "", true, 1, 256, &v, &err), 0);
        ASSERT_INT_EQ(v, 256);
        ASSERT_INT_EQ(json_get_int(o, "neg", "", true, -5, 0, &v, &err), 0);
        ASSERT_INT_EQ(v, -5);

        v = 42;
        ASSERT_INT_EQ(json_get_int(o, "max", "", true, 1, 255, &v, &err), -EINVAL);
        ASSERT_STR_EQ(err.msg, "max: must be an integer from 1 to 255, got 256");
        ASSERT_INT_EQ(json_get_int(o, "one", "disks[3]", true, 2, 9, &v, &err), -EINVAL);
        ASSERT_STR_EQ(err.msg, "disks[3].one: must be an integer from 2 to 9, got 1");
        ASSERT_INT_EQ(json_get_int(o, "neg", "", true, -4, 0, &v, &err), -EINVAL);

        /* Values beyond int64 are clamped by json-c; the clamp must not pass as a real value. */
        static const char *const bad[] = { "big", "u64", "i64", "nbig", "exp", "float", "str", "bool", "null", "arr" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err.msg[0] = '\0';
                if (json_get_int(o, bad[i], "", true, INT64_MIN, INT64_MAX, &v, &err) != -EINVAL)
                        TEST_FAIL("member \"%s\" accepted as integer %" PRId64, bad[i], v);
                ASSERT_STR_CONTAINS(err.msg, bad[i]);
        }
        ASSERT_INT_EQ(v, 42);

        ASSERT_INT_EQ(json_get_int(o, "missing", "", false, 0, 1, &v, &err), 0);
        ASSERT_INT_EQ(v, 42);
        ASSERT_INT_EQ(json_get_int(o, "missing", "", true, 0, 1, &v, &err), -EINVAL);
        ASSERT_STR_EQ(err.msg, "missing: required member missing");
}

static void test_json_util_get_bool_object_array(void) {
        _cleanup_json_ struct json_object *o = parse_ok("{\"t\":true,\"f\":false,\"one\":1,\"s\":\"true\",\"o\":{},\"a\":[]}");
        struct sovd_err err = {};
        struct json_object *x = NULL;
        bool b = false;

        ASSERT_INT_EQ(json_get_bool(o, "t", "", true, &b, &err), 0);
        ASSERT_TRUE(b);
        ASSERT_INT_EQ(json_get_bool(o, "f", "", true, &b, &err), 0);
        ASSERT_FALSE(b);
        b = true;
        ASSERT_INT_EQ(json_get_bool(o, "one", "", true, &b, &err), -EINVAL);
        ASSERT_STR_EQ(err.msg, "one: must be true or false");
        ASSERT_INT_EQ(json_get_bool(o, "s", "", true, &b, &err), -EINVAL);
        ASSERT_INT_EQ(json_get_bool(o, "missing", "", false, &b, &err), 0);
        ASSERT_TRUE(b);

        ASSERT_INT_EQ(json_get_object(o, "o", "", true, &x, &err), 0);
        ASSERT_TRUE(json_object_is_type(x, json_type_object));
        ASSERT_INT_EQ(json_get_object(o, "a", "", true, &x, &err), -EINVAL);
        ASSERT_STR_EQ(err.msg, "a: must be an object");
        ASSERT_INT_EQ(json_get_array(o, "a", "", true, &x, &err), 0);
        ASSERT_TRUE(json_object_is_type(x, json_type_array));
        ASSERT_INT_EQ(json_get_array(o, "o", "host", true, &x, &err), -EINVAL);
        ASSERT_STR_EQ(err.msg, "host.o: must be an array");
        x = NULL;
        ASSERT_INT_EQ(json_get_array(o, "missing", "", false, &x, &err), 0);
        ASSERT_NULL(x);
        ASSERT_INT_EQ(json_get_object(o, "missing", "", true, &x, &err), -EINVAL);
}

static void test_json_util_add_and_serialise(void) {
        _cleanup_json_ struct json_object *o = json_object_new_object();

        ASSERT_NOT_NULL(o);
        ASSERT_OK(json_add_string(o, "path", "/v1/vms"));
        ASSERT_OK(json_add_string(o, "none", NULL));
        ASSERT_OK(json_add_int(o, "n", INT64_MAX));
        ASSERT_OK(json_add_bool(o, "b", false));
        ASSERT_OK(json_add(o, "a", json_object_new_array()));
        ASSERT_OK(json_add_string(o, "q", "\"<\n>\""));
        ASSERT_STR_EQ(json_to_string(o),
                      "{\"path\":\"/v1/vms\",\"none\":null,\"n\":9223372036854775807,\"b\":false,\"a\":[],"
                      "\"q\":\"\\\"<\\n>\\\"\"}");
}

static void test_json_util_add_string_makes_utf8(void) {
        _cleanup_json_ struct json_object *o = json_object_new_object(), *back = NULL;
        const char *text;

        /* A percent-decoded path or a message cut mid-character: what is written must parse back. */
        ASSERT_NOT_NULL(o);
        ASSERT_OK(json_add_string(o, "path", "/v1/vms/\xff\xfe/start"));
        ASSERT_OK(json_add_string(o, "cut", "caf\xc3"));
        ASSERT_OK(json_add_string(o, "ok", "caf\xc3\xa9"));
        text = json_to_string(o);
        ASSERT_STR_EQ(text, "{\"path\":\"/v1/vms/\xef\xbf\xbd\xef\xbf\xbd/start\",\"cut\":\"caf\xef\xbf\xbd\","
                            "\"ok\":\"caf\xc3\xa9\"}");
        ASSERT_OK(json_parse_strict(text, strlen(text), &back, NULL));
}

TEST_MAIN(TEST(test_json_util_parse_valid), TEST(test_json_util_parse_rejects_trailing_data),
          TEST(test_json_util_parse_rejects_nul), TEST(test_json_util_parse_depth),
          TEST(test_json_util_parse_rejects_bad_utf8), TEST(test_json_util_parse_rejects_malformed),
          TEST(test_json_util_check_members), TEST(test_json_util_get_string), TEST(test_json_util_get_int),
          TEST(test_json_util_get_bool_object_array), TEST(test_json_util_add_and_serialise),
          TEST(test_json_util_add_string_makes_utf8))
