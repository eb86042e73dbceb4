/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One error contract for all of sovd: a function that can fail returns an
 * int, >= 0 on success and a negative errno on failure. Codes that errno
 * does not name live in enum sovd_errno, above errno's range.
 *
 * Functions that judge outside input also fill a struct sovd_err with one
 * sentence saying what was wrong, written whole with the offending value
 * quoted, so the API can hand it to the client as the problem's detail.
 */

#include <stddef.h>

#include "sovd/cleanup.h"

enum sovd_errno {
        SOVD_ERRNO_BASE = 4096,
        /* libvirt is not connected, or lost the connection during the call. */
        SOVD_E_LIBVIRT_DOWN,
        /* libvirt refused the operation in the domain's current state. */
        SOVD_E_BAD_STATE,
        /* The request names something (pool, image, network) that does not exist. */
        SOVD_E_UNRESOLVED,
        /* An Idempotency-Key was reused for a different request. */
        SOVD_E_IDEMPOTENCY_MISMATCH,
        /* libvirt failed in a way the caller cannot fix. */
        SOVD_E_LIBVIRT,
        /* A request body in a media type other than JSON. */
        SOVD_E_MEDIA_TYPE,
        /* The route exists, the method does not. */
        SOVD_E_METHOD,
        /* A sovereignty policy denies the operation. */
        SOVD_E_POLICY_DENIED,
        /* No trusted, valid client certificate on a TLS listener. */
        SOVD_E_UNAUTHENTICATED,
        /* A local user holds more connections than one user may. */
        SOVD_E_TOO_MANY_CONNECTIONS,
        SOVD_ERRNO_MAX,
};

#define SOVD_ERR_MSG_MAX 512

struct sovd_err {
        char msg[SOVD_ERR_MSG_MAX];
};

/*
 * Formats the message into @err (when not NULL) and returns @code, so that
 * a failure path reads: return err_set(err, -EINVAL, "...", ...);
 */
int err_set(struct sovd_err *err, int code, const char *fmt, ...) _printf_(3, 4);

/* Prepends "prefix: " to the message already in @err; returns @code. */
int err_prefix(struct sovd_err *err, int code, const char *fmt, ...) _printf_(3, 4);

/* A short, stable name for @code (negative), for logs: "EINVAL", "LIBVIRT_DOWN". */
const char *err_name(int code);
