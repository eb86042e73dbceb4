/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The HTTP API (v1) on libmicrohttpd. One MHD daemon per listening socket,
 * each with a small pool of worker threads; handlers run on those threads.
 */

#include <stdio.h>

#include "sovd/config.h"
#include "sovd/errors.h"
#include "sovd/idempotency.h"

/* Takes references to @config and uses @idem (owned by the caller) until api_shutdown(). */
int api_init(struct config *config, struct idempotency_store *idem);

/* Swaps the configuration seen by new requests (SIGHUP reload). */
void api_set_config(struct config *config);

/*
 * Creates, binds and listens on a Unix socket at @path (parent directory
 * created, a stale socket replaced, mode 0666: access is decided per
 * request from peer credentials). Returns the fd.
 */
int api_bind_unix(const char *path, int *ret_fd, struct sovd_err *err);

/* Binds and listens on tcp:HOST:PORT (HOST may be a name, an address or [IPv6]). Returns the fd. */
int api_bind_tcp(const char *addr, int *ret_fd, struct sovd_err *err);

/*
 * Serves HTTP on an already listening socket (ours, or from systemd). Takes
 * the fd. With @tls, the listener speaks TLS 1.2+ only and every request
 * must come with a client certificate that verifies against tls->ca;
 * anything else is answered 401 before any handler runs.
 */
int api_serve(int fd, const char *description, const struct tls_config *tls, struct sovd_err *err);

/* Stops accepting, finishes in-flight requests, frees everything. */
void api_shutdown(void);

/* Prints "METHOD /path/{param}" for every route, for the OpenAPI parity test. */
void api_dump_routes(FILE *f);
