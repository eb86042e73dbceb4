/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <stdint.h>

#include "sovd/log.h"
#include "sovd/vm-index.h"

struct entry {
        char uuid[ID_TEXT_LEN];
        uint64_t ticket;  /* of the read that produced this entry */
        bool removed;     /* tombstone: keeps the ticket so an older read cannot resurrect it */
        enum vm_state state;
        char *tenant;     /* NULL: unmanaged */
        char *json;       /* serialised summary */
};

static pthread_rwlock_t index_lock = PTHREAD_RWLOCK_INITIALIZER; /* guards everything below */
static struct entry *entries;
static size_t n_entries, cap_entries;
static bool valid;
static uint64_t valid_since_ticket; /* resync ticket that made the index valid */

static uint64_t next_ticket;        /* atomic */
static vm_index_serializer_t serialize;

static uint64_t take_ticket(void) {
        return __atomic_add_fetch(&next_ticket, 1, __ATOMIC_SEQ_CST);
}

static void entry_done(struct entry *e) {
        free(e->tenant);
        free(e->json);
        e->tenant = e->json = NULL;
}

void vm_index_init(vm_index_serializer_t serializer) {
        serialize = serializer;
}

static void clear_locked(void) {
        for (size_t i = 0; i < n_entries; i++)
                entry_done(&entries[i]);
        n_entries = 0;
}

void vm_index_free(void) {
        pthread_rwlock_wrlock(&index_lock);
        clear_locked();
        free(entries);
        entries = NULL;
        cap_entries = 0;
        valid = false;
        pthread_rwlock_unlock(&index_lock);
}

static struct entry *find_locked(const char *uuid) {
        for (size_t i = 0; i < n_entries; i++)
                if (streq(entries[i].uuid, uuid))
                        return &entries[i];
        return NULL;
}

static struct entry *append_locked(void) {
        if (n_entries == cap_entries) {
                size_t cap = cap_entries ? cap_entries * 2 : 64;
                struct entry *p = realloc(entries, cap * sizeof(*p));
                if (!p)
                        return NULL;
                entries = p;
                cap_entries = cap;
        }
        entries[n_entries] = (struct entry){};
        return &entries[n_entries++];
}

/* Fills @e from @v; on failure @e is left empty. */
static int entry_from_view(struct entry *e, const struct vm_view *v, uint64_t ticket) {
        *e = (struct entry){ .ticket = ticket, .state = v->domain.state };
        memcpy(e->uuid, v->domain.uuid, sizeof(e->uuid));
        e->json = serialize(v);
        if (v->binding)
                e->tenant = strdup(v->binding->tenant);
        if (!e->json || (v->binding && !e->tenant)) {
                entry_done(e);
                return -ENOMEM;
        }
        return 0;
}

/* Puts @e (taking its contents) in place of the entry of its uuid, unless that one is newer. */
static void store_locked(struct entry *e) {
        struct entry *cur = find_locked(e->uuid);

        if (cur && cur->ticket > e->ticket) {
                entry_done(e);
                return;
        }
        if (!cur) {
                cur = append_locked();
                if (!cur) {
                        /* Cannot track it: make listings fall back to libvirt rather than lie. */
                        entry_done(e);
                        valid = false;
                        return;
                }
        } else
                entry_done(cur);
        *cur = *e;
}

void vm_index_refresh(const char *uuid) {
        struct vm_view v = {};
        struct sovd_err err;
        struct entry e = {};
        uint64_t t = take_ticket();
        int r;

        r = vm_service_get_summary(uuid, &v, &err);
        if (r == -ENOENT) {
                e = (struct entry){ .ticket = t, .removed = true };
                snprintf(e.uuid, sizeof(e.uuid), "%s", uuid);
        } else if (r < 0) {
                /* Connection trouble: the disconnect path invalidates; anything else, distrust the index. */
                if (r != -SOVD_E_LIBVIRT_DOWN)
                        log_warning("VM index: cannot refresh %s (%s); listings read libvirt directly until the "
                                    "next resync",
                                    uuid, err.msg);
                pthread_rwlock_wrlock(&index_lock);
                valid = false;
                pthread_rwlock_unlock(&index_lock);
                return;
        } else {
                r = entry_from_view(&e, &v, t);
                vm_view_done(&v);
                if (r < 0) {
                        pthread_rwlock_wrlock(&index_lock);
                        valid = false;
                        pthread_rwlock_unlock(&index_lock);
                        return;
                }
        }
        pthread_rwlock_wrlock(&index_lock);
        store_locked(&e);
        pthread_rwlock_unlock(&index_lock);
}

void vm_index_resync(void) {
        struct vm_view *views = NULL;
        struct sovd_err err;
        size_t n = 0;
        uint64_t t = take_ticket();
        int r;

        r = vm_service_list_live(NULL, &views, &n, &err);
        if (r < 0) {
                log_warning("VM index: cannot list domains (%s); listings read libvirt directly", err.msg);
                return;
        }
        pthread_rwlock_wrlock(&index_lock);
        /*
         * Entries written by reads that started after this listing (ticket > t)
         * are newer than what the listing saw and stay; everything else is
         * replaced by the listing, and what the listing did not see is gone.
         */
        size_t k = 0;
        for (size_t i = 0; i < n_entries; i++) {
                if (entries[i].ticket > t)
                        entries[k++] = entries[i];
                else
                        entry_done(&entries[i]);
        }
        n_entries = k;
        bool ok = true;
        for (size_t i = 0; i < n && ok; i++) {
                struct entry e;
                if (entry_from_view(&e, &views[i], t) < 0) {
                        ok = false;
                        break;
                }
                store_locked(&e);
        }
        valid = ok;
        valid_since_ticket = t;
        size_t count = n_entries;
        pthread_rwlock_unlock(&index_lock);
        vm_view_array_free(views, n);
        log_debug("VM index: %zu domains after resync", count);
}

void vm_index_invalidate(void) {
        pthread_rwlock_wrlock(&index_lock);
        valid = false;
        clear_locked();
        pthread_rwlock_unlock(&index_lock);
}

int vm_index_list(const struct vm_filter *f, struct strbuf *out) {
        bool first = true;

        pthread_rwlock_rdlock(&index_lock);
        if (!valid) {
                pthread_rwlock_unlock(&index_lock);
                return -EAGAIN;
        }
        for (size_t i = 0; i < n_entries; i++) {
                const struct entry *e = &entries[i];

                if (e->removed)
                        continue;
                if (f && f->state >= 0 && (int) e->state != f->state)
                        continue;
                if (f && f->tenant && (!e->tenant || !streq(e->tenant, f->tenant)))
                        continue;
                if (!first)
                        strbuf_append(out, ",");
                strbuf_append(out, e->json);
                first = false;
        }
        pthread_rwlock_unlock(&index_lock);
        return out->oom ? -ENOMEM : 0;
}

int vm_index_count(size_t counts[static _VM_STATE_MAX], size_t *ret_managed) {
        size_t managed = 0;

        for (size_t i = 0; i < _VM_STATE_MAX; i++)
                counts[i] = 0;
        pthread_rwlock_rdlock(&index_lock);
        if (!valid) {
                pthread_rwlock_unlock(&index_lock);
                return -EAGAIN;
        }
        for (size_t i = 0; i < n_entries; i++) {
                const struct entry *e = &entries[i];
                if (e->removed)
                        continue;
                if (e->state < _VM_STATE_MAX)
                        counts[e->state]++;
                if (e->tenant)
                        managed++;
        }
        pthread_rwlock_unlock(&index_lock);
        *ret_managed = managed;
        return 0;
}
