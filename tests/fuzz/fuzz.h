/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Shared by the fuzz targets: libFuzzer's entry points, and a check that
 * turns a broken invariant into a crash the fuzzer records (it only sees
 * crashes, leaks and sanitizer reports).
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sovd/binding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                          \
        do {                                                                           \
                if (!(cond)) {                                                         \
                        fprintf(stderr, "%s:%d: invariant broken: %s: ", __FILE__, __LINE__, #cond); \
                        fprintf(stderr, __VA_ARGS__);                                  \
                        fputc('\n', stderr);                                           \
                        abort();                                                       \
                }                                                                      \
        } while (0)

/* NULL when @a and @b hold the same values, else the name of the first field that differs. */
static inline const char *fuzz_binding_diff(const struct binding *a, const struct binding *b) {
        if (!streq_ptr(a->tenant, b->tenant))
                return "tenant";
        if (!streq_ptr(a->policy, b->policy))
                return "policy";
        if (!streq_ptr(a->policy_digest, b->policy_digest))
                return "policy-digest";
        if (!streq_ptr(a->request_id, b->request_id))
                return "request-id";
        if (!streq_ptr(a->created_at, b->created_at))
                return "created-at";
        if (a->n_labels != b->n_labels)
                return "number of labels";
        for (size_t i = 0; i < a->n_labels; i++)
                if (!streq(a->labels[i].key, b->labels[i].key) || !streq(a->labels[i].value, b->labels[i].value))
                        return "label";
        if (a->n_volumes != b->n_volumes)
                return "number of volumes";
        for (size_t i = 0; i < a->n_volumes; i++)
                if (!streq(a->volumes[i].pool, b->volumes[i].pool) || !streq(a->volumes[i].volume, b->volumes[i].volume))
                        return "volume";
        return NULL;
}
