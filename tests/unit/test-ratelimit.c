/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>

#include "sovd/ratelimit.h"
#include "test-harness.h"

#define SEC 1000000u

static void test_ratelimit_burst_then_rate(void) {
        struct ratelimit *rl = ratelimit_new(4, 3, 2);
        uint64_t missed = 99;
        uint64_t t = 10 * SEC;

        ASSERT_NOT_NULL(rl);
        for (int i = 0; i < 3; i++) {
                ASSERT_TRUE(ratelimit_take(rl, "uid:1000", t, &missed));
                ASSERT_INT_EQ(missed, 0);
        }
        ASSERT_FALSE(ratelimit_take(rl, "uid:1000", t, &missed));
        ASSERT_INT_EQ(missed, 1);
        ASSERT_FALSE(ratelimit_take(rl, "uid:1000", t + SEC / 4, &missed));
        ASSERT_INT_EQ(missed, 2);
        /* 2 a second: one token after half a second, and the count of those missed. */
        ASSERT_TRUE(ratelimit_take(rl, "uid:1000", t + SEC / 2, &missed));
        ASSERT_INT_EQ(missed, 2);
        ASSERT_FALSE(ratelimit_take(rl, "uid:1000", t + SEC / 2, &missed));
        ASSERT_INT_EQ(missed, 1);
        /* Never more than the burst, however long the pause. */
        t += 1000 * SEC;
        for (int i = 0; i < 3; i++)
                ASSERT_TRUE(ratelimit_take(rl, "uid:1000", t, NULL));
        ASSERT_FALSE(ratelimit_take(rl, "uid:1000", t, NULL));
        /* Another key has its own bucket. */
        ASSERT_TRUE(ratelimit_take(rl, "uid:1001", t, &missed));
        ASSERT_INT_EQ(missed, 0);
        /* A clock that goes back refills nothing. */
        ASSERT_FALSE(ratelimit_take(rl, "uid:1000", t - SEC, NULL));
        ratelimit_free(rl);
}

static void test_ratelimit_eviction_only_loosens(void) {
        struct ratelimit *rl = ratelimit_new(2, 1, 1);
        uint64_t t = SEC;

        ASSERT_TRUE(ratelimit_take(rl, "a", t, NULL));
        ASSERT_FALSE(ratelimit_take(rl, "a", t, NULL));
        ASSERT_TRUE(ratelimit_take(rl, "b", t + 1, NULL));
        /* A third key pushes out the least recently used one, "a". */
        ASSERT_TRUE(ratelimit_take(rl, "c", t + 2, NULL));
        ASSERT_FALSE(ratelimit_take(rl, "b", t + 3, NULL));
        /* "a" was pushed out: it starts again full. */
        ASSERT_TRUE(ratelimit_take(rl, "a", t + 4, NULL));
        ratelimit_free(rl);
        ASSERT_NULL(ratelimit_new(0, 1, 1));
        ASSERT_NULL(ratelimit_new(1, 0, 1));
}

TEST_MAIN(TEST(test_ratelimit_burst_then_rate), TEST(test_ratelimit_eviction_only_loosens))
