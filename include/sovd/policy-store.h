/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Loading the policy directory: value groups from <dir>/groups/NAME.json,
 * then policies from <dir>/NAME.json (files ending in .schema.json are the
 * schemas and are skipped). Loading is all or nothing: one invalid file
 * fails the whole set, with file, JSON pointer and reason, so that a reload
 * keeps the last good set instead of silently dropping a policy.
 *
 * A set is immutable and reference-counted; readers on any thread keep a
 * reference for as long as they use its policies.
 */

#include <time.h>

#include "sovd/errors.h"
#include "sovd/policy.h"

#define POLICY_FILE_MAX (1024 * 1024)
#define POLICY_SET_MAX 256

struct policy_set {
        int n_ref;
        char *dir;
        struct value_group **groups;
        size_t n_groups;
        struct policy **policies; /* sorted by name */
        size_t n_policies;
        time_t loaded_at;
};

int policy_set_load(const char *dir, struct policy_set **ret, struct sovd_err *err);
const struct policy *policy_set_find(const struct policy_set *s, const char *name);

struct policy_set *policy_set_ref(struct policy_set *s);
struct policy_set *policy_set_unref(struct policy_set *s);
DEFINE_POINTER_CLEANUP(struct policy_set, policy_set_unref)
#define _cleanup_policy_set_ _cleanup_(policy_set_unrefp)
