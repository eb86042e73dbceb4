/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <time.h>

#define RFC3339_MAX 32

/* Formats @t as "2026-11-23T17:40:02Z" into @buf (RFC3339_MAX bytes). */
char *rfc3339_format(time_t t, char buf[static RFC3339_MAX]);
/* Parses the UTC form above; -EINVAL otherwise. */
int rfc3339_parse(const char *s, time_t *ret);

uint64_t now_monotonic_usec(void);
