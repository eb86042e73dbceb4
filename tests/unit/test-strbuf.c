/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>

#include "sovd/strbuf.h"
#include "test-harness.h"

static void test_strbuf_append(void) {
        _cleanup_strbuf_ struct strbuf sb = {};
        _cleanup_free_ char *s = NULL;

        strbuf_append(&sb, "");
        ASSERT_INT_EQ(sb.len, 0);
        strbuf_append(&sb, "abc");
        strbuf_append(&sb, "");
        strbuf_append(&sb, "def");
        ASSERT_INT_EQ(sb.len, 6);
        ASSERT_STR_EQ(sb.buf, "abcdef");
        ASSERT_FALSE(sb.oom);
        s = strbuf_steal(&sb);
        ASSERT_STR_EQ(s, "abcdef");
        /* Stealing resets the buffer for reuse. */
        ASSERT_NULL(sb.buf);
        ASSERT_INT_EQ(sb.len, 0);
        strbuf_append(&sb, "again");
        ASSERT_STR_EQ(sb.buf, "again");
}

static void test_strbuf_steal_empty(void) {
        struct strbuf sb = {};
        _cleanup_free_ char *s = strbuf_steal(&sb);

        ASSERT_STR_EQ(s, "");
}

static void test_strbuf_grows(void) {
        _cleanup_strbuf_ struct strbuf sb = {};
        char chunk[101];

        /* Far past the first allocation, with a check of every byte. */
        for (int i = 0; i < 1000; i++) {
                memset(chunk, 'a' + i % 26, 100);
                chunk[100] = '\0';
                strbuf_append(&sb, chunk);
        }
        ASSERT_INT_EQ(sb.len, 100000);
        ASSERT_INT_EQ(strlen(sb.buf), 100000);
        ASSERT_TRUE(sb.cap > sb.len);
        for (size_t i = 0; i < sb.len; i++)
                if (sb.buf[i] != 'a' + (char) (i / 100 % 26))
                        TEST_FAIL("byte %zu is '%c'", i, sb.buf[i]);
}

static void test_strbuf_appendf(void) {
        _cleanup_strbuf_ struct strbuf sb = {};
        char big[1000];

        strbuf_appendf(&sb, "<vcpu>%u</vcpu>", 4u);
        strbuf_appendf(&sb, "%s", "");
        strbuf_appendf(&sb, "[%5.2f|%-3s|%c]", 1.5, "x", 'y');
        ASSERT_STR_EQ(sb.buf, "<vcpu>4</vcpu>[ 1.50|x  |y]");
        /* A formatted piece larger than the whole initial buffer. */
        memset(big, 'z', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        strbuf_appendf(&sb, "%s!", big);
        ASSERT_INT_EQ(sb.len, 27 + 999 + 1);
        ASSERT_INT_EQ(sb.buf[27], 'z');
        ASSERT_STR_EQ(sb.buf + sb.len - 2, "z!");
}

static void test_strbuf_xml_escaped(void) {
        _cleanup_strbuf_ struct strbuf sb = {};

        strbuf_append(&sb, "<a x='");
        strbuf_append_xml_escaped(&sb, "&<>\"'");
        strbuf_append(&sb, "'>");
        strbuf_append_xml_escaped(&sb, "]]>&amp; caf\xc3\xa9 plain");
        strbuf_append_xml_escaped(&sb, "");
        ASSERT_STR_EQ(sb.buf, "<a x='&amp;&lt;&gt;&quot;&apos;'>]]&gt;&amp;amp; caf\xc3\xa9 plain");
        ASSERT_INT_EQ(sb.len, strlen(sb.buf));
}

static void test_strbuf_oom_is_sticky(void) {
        struct strbuf sb = {};

        strbuf_append(&sb, "abc");
        sb.oom = true;
        strbuf_append(&sb, "def");
        strbuf_appendf(&sb, "%d", 1);
        strbuf_append_xml_escaped(&sb, "<");
        ASSERT_STR_EQ(sb.buf, "abc");
        ASSERT_NULL(strbuf_steal(&sb));
        /* strbuf_steal() freed the buffer and reset it. */
        ASSERT_NULL(sb.buf);
        ASSERT_FALSE(sb.oom);
        strbuf_done(&sb);
}

TEST_MAIN(TEST(test_strbuf_append), TEST(test_strbuf_steal_empty), TEST(test_strbuf_grows), TEST(test_strbuf_appendf),
          TEST(test_strbuf_xml_escaped), TEST(test_strbuf_oom_is_sticky))
