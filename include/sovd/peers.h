/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Other sovd agents. A peer's word about itself — its host tags — is only
 * taken from its own GET /v1/host over mutual TLS: its certificate must
 * verify against this agent's CA and name the configured subject (or the
 * URL's host), and this agent presents its own client certificate. Never
 * from a caller's say-so.
 *
 * The last good report of each peer is kept in memory (when, what);
 * nothing polls: peers are asked when someone needs to know.
 */

#include <stdbool.h>
#include <time.h>
#include <json-c/json.h>

#include "sovd/config.h"
#include "sovd/tags.h"

#define PEER_TIMEOUT_MS 5000

/*
 * Asks every configured peer for its host facts, in parallel, and returns
 * the array of GET /v1/peers: name, url, subject, reachable, error, checked_at,
 * reported_at, and the last good report (hostname, host_uuid, libvirt uri, tags).
 */
int peers_report(const struct config *c, struct json_object **ret, struct sovd_err *err);

/*
 * Asks one peer now. On success *ret_host is its /v1/host answer and
 * *ret_tags its tags, validated as tags; -EHOSTUNREACH (peer unreachable),
 * -EKEYREJECTED (its certificate is not trusted or not its subject's),
 * -EBADMSG (its answer is not a host document), -ENOENT (no such peer).
 */
int peer_fetch_host(const struct config *c, const char *name, struct json_object **ret_host, struct tags *ret_tags,
                    struct sovd_err *err);

/*
 * GET @path (e.g. "/v1/storage-pools") of peer @name over the same mutual
 * TLS: the JSON object it answered. Errors as peer_fetch_host().
 */
int peer_get_json(const struct config *c, const char *name, const char *path, struct json_object **ret,
                  struct sovd_err *err);

void peers_forget(void);
