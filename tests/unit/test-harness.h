/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The unit tests' harness. A failed assertion prints file:line, the test and
 * both values, then longjmp()s back to the runner, so assertions work in
 * helpers too (a failing test may leak; a passing one must not). TEST_FAIL()
 * fails with a message of one's own; test_skip() skips the current test, and
 * a run where every test skipped exits 77, which ctest reports as skipped.
 */

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include "sovd/cleanup.h"

static jmp_buf test_jmp_;
static const char *test_name_;

#define TEST_FAIL(...)                                                           \
        do {                                                                     \
                fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, test_name_);  \
                fprintf(stderr, __VA_ARGS__);                                    \
                fputc('\n', stderr);                                             \
                longjmp(test_jmp_, 1);                                           \
        } while (0)
#define test_skip(why) do { fprintf(stderr, "SKIP %s: %s\n", test_name_, (why)); longjmp(test_jmp_, 2); } while (0)

#define ASSERT_TRUE(e) do { if (!(e)) TEST_FAIL("expected true: %s", #e); } while (0)
#define ASSERT_FALSE(e) do { if (e) TEST_FAIL("expected false: %s", #e); } while (0)
#define ASSERT_NULL(p) do { const void *p_ = (p); if (p_) TEST_FAIL("expected NULL: %s = %p", #p, p_); } while (0)
#define ASSERT_NOT_NULL(p) do { if (!(p)) TEST_FAIL("expected non-NULL: %s", #p); } while (0)
#define ASSERT_INT_EQ(a, b)                                                                              \
        do { intmax_t a_ = (a), b_ = (b);                                                                \
             if (a_ != b_) TEST_FAIL("%s == %s: %" PRIdMAX " != %" PRIdMAX, #a, #b, a_, b_); } while (0)
#define ASSERT_OK(e)                                                                                     \
        do { intmax_t r_ = (e);                                                                          \
             if (r_ < 0) TEST_FAIL("%s: %" PRIdMAX " (%s)", #e, r_, strerror((int) -r_)); } while (0)
#define ASSERT_STR_EQ(a, b)                                                                              \
        do { const char *a_ = (a), *b_ = (b);                                                            \
             if (!a_ || !b_ ? a_ != b_ : strcmp(a_, b_) != 0)                                            \
                     TEST_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, strna(a_), strna(b_)); } while (0)
#define ASSERT_STR_CONTAINS(s, sub)                                                                      \
        do { const char *s_ = (s), *sub_ = (sub);                                                        \
             if (!s_ || !strstr(s_, sub_)) TEST_FAIL("%s lacks \"%s\": \"%s\"", #s, sub_, strna(s_)); } while (0)

struct test_case { const char *name; void (*fn)(void); };
#define TEST(f) { #f, f }

static int test_run_(const struct test_case *t, size_t n) {
        static size_t i, failed, skipped; /* static: they live across longjmp() */
        for (i = 0; i < n; i++) {
                test_name_ = t[i].name;
                switch (setjmp(test_jmp_)) {
                case 0: t[i].fn(); fprintf(stderr, "ok   %s\n", t[i].name); break;
                case 1: failed++; fprintf(stderr, "FAIL %s\n", t[i].name); break;
                default: skipped++; break;
                }
        }
        fprintf(stderr, "%zu tests: %zu passed, %zu failed, %zu skipped\n", n, n - failed - skipped, failed, skipped);
        return failed ? 1 : skipped == n ? 77 : 0;
}
#define TEST_MAIN(...)                                                            \
        int main(void) {                                                          \
                static const struct test_case tests_[] = { __VA_ARGS__ };         \
                return test_run_(tests_, sizeof(tests_) / sizeof(tests_[0]));     \
        }
