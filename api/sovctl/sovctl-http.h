/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * sovctl's transport: HTTP/1.1 through libcurl, either over sovd's Unix
 * socket or, with a URL, over TCP with TLS (1.2 at least) and a client
 * certificate. The module never prints; a failed request leaves a
 * sentence in sovctl_http_error() for the caller to report once.
 */

#include <stdbool.h>
#include <stddef.h>

#include "sovd/cleanup.h"

struct sovctl_http_config {
        const char *socket_path; /* used when url is NULL */
        const char *url;         /* "https://host:port", or NULL */
        const char *cert;        /* client certificate (PEM), TLS only */
        const char *key;         /* its private key (PEM), TLS only */
        const char *cacert;      /* CA bundle to verify sovd with, TLS only */
        long timeout_sec;        /* whole request; connecting is capped at 5 s */
};

/* One HTTP answer. All strings are NUL-terminated and owned by the struct. */
struct sovctl_response {
        long status;
        char *reason;       /* reason phrase of the status line, may be "" */
        char *content_type; /* NULL when the server sent none */
        char *request_id;   /* X-Request-Id, NULL when absent */
        bool replayed;      /* Idempotent-Replayed: true */
        char *body;         /* never NULL after a successful request */
        size_t size;        /* bytes in body, without the added NUL */
};

/* Frees the members and zeroes @r; safe on a zeroed or half-filled struct. */
void sovctl_response_done(struct sovctl_response *r);

/*
 * Creates a transport. Returns 0 and sets *ret, -ENOMEM, or -EINVAL when
 * libcurl refuses an option (the reason is then in *ret_error, static).
 */
int sovctl_http_new(const struct sovctl_http_config *cfg, struct sovctl_http **ret,
                    const char **ret_error);

/* NULL-safe; returns NULL. */
struct sovctl_http *sovctl_http_free(struct sovctl_http *h);
DEFINE_POINTER_CLEANUP(struct sovctl_http, sovctl_http_free);

/*
 * Sends one request. @path starts with "/" and must already be escaped.
 * @body (may be NULL) is sent with Content-Type: application/json;
 * @idempotency_key (may be NULL) as Idempotency-Key.
 *
 * Returns 0 whenever an HTTP answer arrived, whatever its status, and
 * fills *ret (to be released with sovctl_response_done). On failure *ret
 * is zeroed and sovctl_http_error() says why:
 *   -ECONNREFUSED  could not connect (socket missing, refused, DNS, ...)
 *   -ETIMEDOUT     no complete answer within the timeout
 *   -EPROTO        TLS handshake or certificate problem
 *   -EFBIG         the answer is larger than SOVCTL_MAX_ANSWER_BYTES
 *   -EBADMSG       the server's bytes are not an HTTP answer, or it hung up
 *   -ENOMEM
 */
int sovctl_http_request(struct sovctl_http *h, const char *method, const char *path,
                        const char *body, size_t body_len, const char *idempotency_key,
                        struct sovctl_response *ret);

/* The last failure, as a sentence; "" when none. Owned by @h. */
const char *sovctl_http_error(const struct sovctl_http *h);

/* What we talk to, for messages: the socket path or the URL. */
const char *sovctl_http_target(const struct sovctl_http *h);

/* True when talking to a Unix socket (so "is sovd running?" is a fair hint). */
bool sovctl_http_is_unix(const struct sovctl_http *h);

/*
 * URL-escapes @s for a query value or path segment. Returns a malloc'd
 * string, or NULL when out of memory.
 */
char *sovctl_http_escape(struct sovctl_http *h, const char *s);
