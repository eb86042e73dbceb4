/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sovd/errors.h"

int err_set(struct sovd_err *err, int code, const char *fmt, ...) {
        char msg[sizeof(err->msg)];
        va_list ap;

        if (!err)
                return code;
        /* Formatted aside first: an argument may be err->msg itself (wrapping the previous message). */
        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        memcpy(err->msg, msg, sizeof(msg));
        return code;
}

int err_prefix(struct sovd_err *err, int code, const char *fmt, ...) {
        char prefix[SOVD_ERR_MSG_MAX], joined[2 * SOVD_ERR_MSG_MAX + 2];
        va_list ap;

        if (!err)
                return code;
        va_start(ap, fmt);
        (void) vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        /* Joined in a buffer large enough for both, then cut to the message size. */
        (void) snprintf(joined, sizeof(joined), "%s: %s", prefix, err->msg);
        (void) snprintf(err->msg, sizeof(err->msg), "%.*s", (int) sizeof(err->msg) - 1, joined);
        return code;
}

const char *err_name(int code) {
        switch (-code) {
        case SOVD_E_LIBVIRT_DOWN:
                return "LIBVIRT_DOWN";
        case SOVD_E_BAD_STATE:
                return "BAD_STATE";
        case SOVD_E_UNRESOLVED:
                return "UNRESOLVED";
        case SOVD_E_IDEMPOTENCY_MISMATCH:
                return "IDEMPOTENCY_MISMATCH";
        case SOVD_E_LIBVIRT:
                return "LIBVIRT";
        case SOVD_E_MEDIA_TYPE:
                return "MEDIA_TYPE";
        case SOVD_E_METHOD:
                return "METHOD";
        case SOVD_E_POLICY_DENIED:
                return "POLICY_DENIED";
        case SOVD_E_UNAUTHENTICATED:
                return "UNAUTHENTICATED";
        case SOVD_E_TOO_MANY_CONNECTIONS:
                return "TOO_MANY_CONNECTIONS";
        default:
                break;
        }
        const char *n = strerrorname_np(-code);
        return n ? n : "UNKNOWN";
}
