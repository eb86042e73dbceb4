/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Keyed token buckets: per key, at most @burst events at once, refilled at
 * @per_sec events a second. The table keeps the @slots most recently used
 * keys; a key pushed out starts again with a full bucket, which can only
 * make the limit looser, never refuse what it should let through.
 * Thread-safe.
 */

#include <stdbool.h>
#include <stdint.h>

struct ratelimit;

struct ratelimit *ratelimit_new(unsigned slots, unsigned burst, unsigned per_sec);
void ratelimit_free(struct ratelimit *rl);

/*
 * Takes a token of @key at @now_usec (monotonic). true: within the limit,
 * and *ret_missed (when not NULL) is how many events of @key were over it
 * since its last event within the limit (then counted from 0 again).
 * false: over the limit, *ret_missed the count so far, this one included.
 */
bool ratelimit_take(struct ratelimit *rl, const char *key, uint64_t now_usec, uint64_t *ret_missed);
