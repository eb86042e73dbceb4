/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* Free-form key/value labels an operator attaches to a VM (validated by names.h rules). */
struct label {
        char *key;
        char *value;
};

#define LABELS_MAX 32

void labels_free(struct label *l, size_t n);
