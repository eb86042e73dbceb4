/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Idempotency-Key support for POST: the first complete answer to a key is
 * stored durably (one file per key in <state_dir>/idempotency, written
 * atomically) and replayed for 24 hours. Keys are scoped by caller, so two
 * clients cannot read each other's answers, and bound to a fingerprint of
 * the request so a reused key for a different request is refused.
 *
 * Thread-safe: the in-flight set is guarded by one mutex.
 */

#include <stdbool.h>

#include "sovd/errors.h"

#define IDEMPOTENCY_TTL_SEC (24 * 3600)
#define IDEMPOTENCY_KEY_MAX 255

struct idempotency_store;

struct idempotency_answer {
        int status;
        char *location; /* NULL when the answer had none */
        char *body;
};

void idempotency_answer_done(struct idempotency_answer *a);

/* Opens (creating) the store under @state_dir and drops expired entries. */
int idempotency_store_open(const char *state_dir, struct idempotency_store **ret);
struct idempotency_store *idempotency_store_free(struct idempotency_store *s);

/* 1-255 printable ASCII characters. */
bool idempotency_key_is_valid(const char *key);

/*
 * Claims @key for a request with @fingerprint (any string identifying the
 * request: method, path, body). Returns 0 when the caller must process the
 * request and then call idempotency_finish() or idempotency_abort(); 1 with
 * *ret filled when a stored answer must be replayed; -EBUSY when the same
 * key is being processed now; -SOVD_E_IDEMPOTENCY_MISMATCH for a different
 * request under the same key.
 */
int idempotency_begin(struct idempotency_store *s, const char *scope, const char *key, const char *fingerprint,
                      struct idempotency_answer *ret, struct sovd_err *err);

/* Stores the answer (fsync'd) and releases the claim. */
int idempotency_finish(struct idempotency_store *s, const char *scope, const char *key, const char *fingerprint,
                       const struct idempotency_answer *answer);

/* Releases the claim without storing: the request may be retried (a 5xx). */
void idempotency_abort(struct idempotency_store *s, const char *scope, const char *key);

