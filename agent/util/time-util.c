/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sovd/time-util.h"

char *rfc3339_format(time_t t, char buf[static RFC3339_MAX]) {
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(buf, RFC3339_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                buf[0] = '\0';
        return buf;
}

int rfc3339_parse(const char *s, time_t *ret) {
        struct tm tm = {};
        const char *end;

        end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (!end || *end)
                return -EINVAL;
        *ret = timegm(&tm);
        return 0;
}

uint64_t now_monotonic_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}
