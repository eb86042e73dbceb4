/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sovd/ratelimit.h"

#define RATELIMIT_KEY_MAX 160

struct bucket {
        char key[RATELIMIT_KEY_MAX];
        uint64_t tokens_milli; /* thousandths of a token: refills need no floating point */
        uint64_t updated_usec;
        uint64_t last_used_usec;
        uint64_t missed;
        bool used;
};

struct ratelimit {
        pthread_mutex_t lock;
        unsigned n_slots;
        uint64_t burst_milli;
        unsigned per_sec;
        struct bucket slots[];
};

struct ratelimit *ratelimit_new(unsigned slots, unsigned burst, unsigned per_sec) {
        struct ratelimit *rl;

        if (slots == 0 || burst == 0)
                return NULL;
        rl = calloc(1, sizeof(*rl) + (size_t) slots * sizeof(struct bucket));
        if (!rl)
                return NULL;
        pthread_mutex_init(&rl->lock, NULL);
        rl->n_slots = slots;
        rl->burst_milli = (uint64_t) burst * 1000u;
        rl->per_sec = per_sec;
        return rl;
}

void ratelimit_free(struct ratelimit *rl) {
        if (!rl)
                return;
        pthread_mutex_destroy(&rl->lock);
        free(rl);
}

/* The key's bucket, else a free slot, else the least recently used one, reset for @key. Lock held. */
static struct bucket *find_locked(struct ratelimit *rl, const char *key, uint64_t now_usec) {
        struct bucket *victim = &rl->slots[0];

        for (unsigned i = 0; i < rl->n_slots; i++) {
                struct bucket *b = &rl->slots[i];
                if (b->used && strcmp(b->key, key) == 0)
                        return b;
                if (!b->used)
                        victim = b;
                else if (victim->used && b->last_used_usec < victim->last_used_usec)
                        victim = b;
        }
        *victim = (struct bucket){ .tokens_milli = rl->burst_milli, .updated_usec = now_usec, .used = true };
        /* Keys longer than a slot share its prefix: still one bucket per caller in practice. */
        strncpy(victim->key, key, sizeof(victim->key) - 1);
        return victim;
}

bool ratelimit_take(struct ratelimit *rl, const char *key, uint64_t now_usec, uint64_t *ret_missed) {
        struct bucket *b;
        bool ok;

        pthread_mutex_lock(&rl->lock);
        b = find_locked(rl, key, now_usec);
        if (now_usec > b->updated_usec) {
                /* µs × tokens/s / 1000 = thousandths of a token. */
                uint64_t refill = (now_usec - b->updated_usec) * rl->per_sec / 1000u;
                b->tokens_milli = refill >= rl->burst_milli - b->tokens_milli ? rl->burst_milli
                                                                                : b->tokens_milli + refill;
                b->updated_usec = now_usec;
        }
        b->last_used_usec = now_usec;
        ok = b->tokens_milli >= 1000u;
        if (ok) {
                b->tokens_milli -= 1000u;
                if (ret_missed)
                        *ret_missed = b->missed;
                b->missed = 0;
        } else {
                b->missed++;
                if (ret_missed)
                        *ret_missed = b->missed;
        }
        pthread_mutex_unlock(&rl->lock);
        return ok;
}
