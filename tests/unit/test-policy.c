/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "test-harness.h"
static void test_policy_placeholder(void) {}
TEST_MAIN(TEST(test_policy_placeholder))
