/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sovd/errors.h"
#include "sovd/names.h"
#include "test-harness.h"

static char *repeat(char *buf, char c, size_t n) {
        memset(buf, c, n);
        buf[n] = '\0';
        return buf;
}

static void test_names_name_is_valid(void) {
        char buf[128];

        ASSERT_TRUE(name_is_valid("a"));
        ASSERT_TRUE(name_is_valid("web-01"));
        ASSERT_TRUE(name_is_valid("Web_01.example"));
        ASSERT_TRUE(name_is_valid("0abc"));
        ASSERT_TRUE(name_is_valid(repeat(buf, 'x', NAME_MAX_LEN)));

        ASSERT_FALSE(name_is_valid(""));
        ASSERT_FALSE(name_is_valid(repeat(buf, 'x', NAME_MAX_LEN + 1)));
        ASSERT_FALSE(name_is_valid("-web"));
        ASSERT_FALSE(name_is_valid(".hidden"));
        ASSERT_FALSE(name_is_valid("_x"));
        ASSERT_FALSE(name_is_valid("../../etc"));
        ASSERT_FALSE(name_is_valid("a/b"));
        ASSERT_FALSE(name_is_valid("a</name><devices>"));
        ASSERT_FALSE(name_is_valid("a b"));
        ASSERT_FALSE(name_is_valid("a'b"));
        ASSERT_FALSE(name_is_valid("a\"b"));
        ASSERT_FALSE(name_is_valid("a&b"));
        ASSERT_FALSE(name_is_valid("a\nb"));
        ASSERT_FALSE(name_is_valid("caf\xc3\xa9"));
        ASSERT_FALSE(name_is_valid("\xc3\xa9t\xc3\xa9"));
}

static void test_names_volume_name_is_valid(void) {
        char buf[128], vm[NAME_MAX_LEN + 1];

        /* Every volume name sovd makes: the longest VM name, the highest disk index. */
        snprintf(buf, sizeof(buf), "%s-disk15.qcow2", repeat(vm, 'n', NAME_MAX_LEN));
        ASSERT_TRUE(volume_name_is_valid(buf));
        ASSERT_FALSE(name_is_valid(buf));
        ASSERT_TRUE(volume_name_is_valid("web-01-disk0.qcow2"));
        ASSERT_TRUE(volume_name_is_valid(repeat(buf, 'v', VOLUME_NAME_MAX_LEN)));

        ASSERT_FALSE(volume_name_is_valid(repeat(buf, 'v', VOLUME_NAME_MAX_LEN + 1)));
        ASSERT_FALSE(volume_name_is_valid(""));
        ASSERT_FALSE(volume_name_is_valid("../disk0.qcow2"));
        ASSERT_FALSE(volume_name_is_valid("-disk0.qcow2"));
        ASSERT_FALSE(volume_name_is_valid("a/disk0.qcow2"));
        ASSERT_FALSE(volume_name_is_valid("a'.qcow2"));
}

static void test_names_label_key_is_valid(void) {
        char buf[128];

        ASSERT_TRUE(label_key_is_valid("env"));
        ASSERT_TRUE(label_key_is_valid("9lives"));
        ASSERT_TRUE(label_key_is_valid("app.kubernetes.io/name"));
        ASSERT_TRUE(label_key_is_valid("a_b-c"));
        ASSERT_TRUE(label_key_is_valid(repeat(buf, 'k', LABEL_KEY_MAX_LEN)));

        ASSERT_FALSE(label_key_is_valid(""));
        ASSERT_FALSE(label_key_is_valid(repeat(buf, 'k', LABEL_KEY_MAX_LEN + 1)));
        ASSERT_FALSE(label_key_is_valid("Env"));
        ASSERT_FALSE(label_key_is_valid("eNv"));
        ASSERT_FALSE(label_key_is_valid("/etc"));
        ASSERT_FALSE(label_key_is_valid("-x"));
        ASSERT_FALSE(label_key_is_valid(".x"));
        ASSERT_FALSE(label_key_is_valid("a b"));
        ASSERT_FALSE(label_key_is_valid("a\"b"));
        ASSERT_FALSE(label_key_is_valid("a=b"));
        ASSERT_FALSE(label_key_is_valid("\xc3\xa9"));
}

static void test_names_label_value_is_valid(void) {
        char buf[LABEL_VALUE_MAX_LEN + 8];

        ASSERT_TRUE(label_value_is_valid(""));
        ASSERT_TRUE(label_value_is_valid("production"));
        ASSERT_TRUE(label_value_is_valid("with spaces, quotes \" ' and <tags> & ]]>"));
        ASSERT_TRUE(label_value_is_valid("\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80"));
        ASSERT_TRUE(label_value_is_valid(repeat(buf, 'v', LABEL_VALUE_MAX_LEN)));
        /* The limit is in bytes, not characters: 128 two-byte characters fit, 129 do not. */
        for (size_t i = 0; i < 128; i++)
                memcpy(buf + 2 * i, "\xc3\xa9", 2);
        buf[256] = '\0';
        ASSERT_TRUE(label_value_is_valid(buf));
        memcpy(buf + 256, "\xc3\xa9", 3);
        ASSERT_FALSE(label_value_is_valid(buf));

        ASSERT_FALSE(label_value_is_valid(repeat(buf, 'v', LABEL_VALUE_MAX_LEN + 1)));
        ASSERT_FALSE(label_value_is_valid("tab\there"));
        ASSERT_FALSE(label_value_is_valid("line\nbreak"));
        ASSERT_FALSE(label_value_is_valid("cr\r"));
        ASSERT_FALSE(label_value_is_valid("esc\x1b[31m"));
        ASSERT_FALSE(label_value_is_valid("del\x7f"));
        ASSERT_FALSE(label_value_is_valid("c1\xc2\x85"));
        ASSERT_FALSE(label_value_is_valid("bad\xff"));
        ASSERT_FALSE(label_value_is_valid("trunc\xc3"));
}

static void test_names_utf8_is_printable(void) {
        static const struct {
                const char *s;
                bool ok;
        } cases[] = {
                { "", true },
                { "plain ASCII ~!", true },
                { "\xc2\xa0", true },             /* U+00A0, first after C1 */
                { "\xdf\xbf", true },             /* U+07FF */
                { "\xe0\xa0\x80", true },         /* U+0800 */
                { "\xed\x9f\xbf", true },         /* U+D7FF, last before surrogates */
                { "\xee\x80\x80", true },         /* U+E000 */
                { "\xef\xbf\xbd", true },         /* U+FFFD */
                { "\xf0\x90\x80\x80", true },     /* U+10000 */
                { "\xf4\x8f\xbf\xbf", true },     /* U+10FFFF, the last code point */
                { "\x01", false },                /* C0 */
                { "\x1f", false },
                { "\x7f", false },                /* DEL */
                { "\xc2\x80", false },            /* U+0080, C1 */
                { "\xc2\x9f", false },            /* U+009F, C1 */
                { "\xc0\xaf", false },            /* overlong '/' */
                { "\xc1\xbf", false },            /* overlong */
                { "\xe0\x80\xaf", false },        /* overlong '/' */
                { "\xe0\x9f\xbf", false },        /* overlong U+07FF */
                { "\xf0\x80\x80\xaf", false },    /* overlong '/' */
                { "\xf0\x8f\xbf\xbf", false },    /* overlong U+FFFF */
                { "\xed\xa0\x80", false },        /* U+D800, surrogate */
                { "\xed\xbf\xbf", false },        /* U+DFFF, surrogate */
                { "\xf4\x90\x80\x80", false },    /* U+110000 */
                { "\xf5\x80\x80\x80", false },
                { "\xf8\x88\x80\x80\x80", false },/* 5-byte form */
                { "\xff", false },
                { "\xfe", false },
                { "\x80", false },                /* lone continuation byte */
                { "a\xbf", false },
                { "\xc3", false },                /* truncated sequences */
                { "\xe2\x82", false },
                { "\xf0\x9f\x9a", false },
                { "\xe2\x28\xa1", false },        /* bad continuation */
                { "\xc3\xc3\xa9", false },
                /* Noncharacters XML 1.0 cannot carry: a label must survive domain XML. */
                { "\xef\xbf\xbe", false },        /* U+FFFE */
                { "\xef\xbf\xbf", false },        /* U+FFFF */
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                bool got = utf8_is_printable(cases[i].s, strlen(cases[i].s));
                if (got != cases[i].ok)
                        TEST_FAIL("case %zu (\"%s\"): expected %s", i, cases[i].s, cases[i].ok ? "valid" : "invalid");
        }
        /* The length is honoured: an embedded NUL is a control character, bytes past @len are not read. */
        ASSERT_FALSE(utf8_is_printable("a\0b", 3));
        ASSERT_TRUE(utf8_is_printable("ab\x01", 2));
        ASSERT_FALSE(utf8_is_printable("\xc3\xa9", 1));
}

static void test_names_utf8_make_valid(void) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "", "" },
                { "plain", "plain" },
                { "ctl\x01" "ok", "ctl\x01" "ok" },                     /* controls are valid UTF-8; JSON escapes them */
                { "caf\xc3\xa9", "caf\xc3\xa9" },
                { "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },
                { "\xff\xfe", "\xef\xbf\xbd\xef\xbf\xbd" },
                { "cut\xc3", "cut\xef\xbf\xbd" },                  /* a message cut mid-character */
                { "cut\xe2\x82", "cut\xef\xbf\xbd\xef\xbf\xbd" },
                { "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },     /* overlong */
                { "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* surrogate */
                { "a\x80" "b", "a\xef\xbf\xbd" "b" },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                _cleanup_free_ char *got = utf8_make_valid(cases[i].in);
                ASSERT_NOT_NULL(got);
                if (!streq(got, cases[i].out))
                        TEST_FAIL("case %zu: got \"%s\", expected \"%s\"", i, got, cases[i].out);
                ASSERT_TRUE(utf8_is_valid(got, strlen(got)));
                ASSERT_TRUE(utf8_is_valid(cases[i].in, strlen(cases[i].in)) == streq(cases[i].in, cases[i].out));
        }
}

static void test_names_err_set_wraps_itself(void) {
        struct sovd_err err = {};

        /* Wrapping the previous message in a new one: the argument is the destination. */
        err_set(&err, -EIO, "inner %s", "cause");
        ASSERT_INT_EQ(err_set(&err, -EIO, "outer (%s); done", err.msg), -EIO);
        if (!streq(err.msg, "outer (inner cause); done"))
                TEST_FAIL("got \"%s\"", err.msg);
}

static void test_names_uuid_text_is_valid(void) {
        ASSERT_TRUE(uuid_text_is_valid("123e4567-e89b-42d3-a456-426614174000"));
        ASSERT_TRUE(uuid_text_is_valid("00000000-0000-0000-0000-000000000000"));
        ASSERT_FALSE(uuid_text_is_valid("123E4567-E89B-42D3-A456-426614174000"));
        ASSERT_FALSE(uuid_text_is_valid("123e4567e89b42d3a456426614174000"));
        ASSERT_FALSE(uuid_text_is_valid("123e4567-e89b-42d3-a456-42661417400"));
        ASSERT_FALSE(uuid_text_is_valid("123e4567-e89b-42d3-a456-4266141740000"));
        ASSERT_FALSE(uuid_text_is_valid("123e4567-e89b-42d3-a456_426614174000"));
        ASSERT_FALSE(uuid_text_is_valid("123e4567-e89b-42d3-a456-42661417400g"));
        ASSERT_FALSE(uuid_text_is_valid("{23e4567-e89b-42d3-a456-426614174000"));
        ASSERT_FALSE(uuid_text_is_valid("123e4567-e89b-42d3-a4560426614174000"));
        ASSERT_FALSE(uuid_text_is_valid("../../../../../../../../etc/passwd00"));
        ASSERT_FALSE(uuid_text_is_valid(""));
}

TEST_MAIN(TEST(test_names_name_is_valid), TEST(test_names_volume_name_is_valid), TEST(test_names_label_key_is_valid), TEST(test_names_label_value_is_valid),
          TEST(test_names_utf8_is_printable), TEST(test_names_utf8_make_valid), TEST(test_names_err_set_wraps_itself),
          TEST(test_names_uuid_text_is_valid))
