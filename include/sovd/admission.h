/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Admission: the policy decisions that guard every door. It holds the
 * current sovereignty context — the configuration (host, pool and backup
 * target tags) and the loaded policy set, swapped together on reload — and
 * turns an operation on a VM into places and checks through the pure
 * engine of policy.h. A decision keeps references to the context it was
 * made in, so its borrowed strings stay valid however long it lives.
 *
 * Deny by default: an unknown policy, a policy missing after a reload, an
 * untagged place, a disk outside any pool all deny.
 *
 * Thread-safe: the context is swapped under a mutex; decisions are private.
 */

#include <stdbool.h>
#include <time.h>
#include <json-c/json.h>

#include "sovd/config.h"
#include "sovd/id.h"
#include "sovd/policy-store.h"

/* Installs a new context (main, at start and on reload). Takes references. */
void admission_set(struct config *config, struct policy_set *policies);
void admission_clear(void);

/* The current configuration (a reference), or NULL before the first install. */
struct config *admission_config(void);

/* The current policy set (a reference), or NULL before the first load. */
struct policy_set *admission_policies(void);

/* A VM with more disks is denied rather than judged in part. */
#define ADMISSION_MAX_DISKS 64

/* A disk of a VM as admission sees it: the pool holding it, or only its path. */
struct admission_disk {
        const char *pool; /* NULL: not a volume of any pool */
        const char *path;
};

struct decision {
        char id[ID_TEXT_LEN];
        time_t time;
        char operation[32];
        char *policy_name;
        const struct policy *policy; /* NULL when the policy is not loaded */
        struct check *checks;
        size_t n_checks;
        bool allowed;     /* the outcome */
        bool would_deny;  /* a violation was found (true also in audit mode) */
        int decided_by;   /* index of the first denying check, or -1 */
        char reason[256]; /* one line for logs, hook messages and problem details */
        /* Keep the strings the checks borrow alive. */
        struct config *config;
        struct policy_set *policies;
        struct tags *extra_tags; /* tags given by the caller (dry run) or a peer, owned */
        struct tags *extra_tags2; /* a second such set (a migration's destination pool), owned */
        struct place *places;
        char **names; /* copies of the caller's place names: the decision may outlive them; may hold NULLs */
        size_t n_names;
};

struct decision *decision_free(struct decision *d);
DEFINE_POINTER_CLEANUP(struct decision, decision_free)
#define _cleanup_decision_ _cleanup_(decision_freep)

/*
 * Decides @operation ("create", "start", "migrate-in") for a VM bound to
 * @policy_name whose disks are @disks: compute on this host, storage for
 * each distinct pool. Returns -ENOMEM only; a denial is a decision.
 */
int admission_decide_vm(const char *operation, const char *policy_name, const struct admission_disk *disks,
                        size_t n_disks, time_t now, struct decision **ret);

/* A place data is written to: a configured storage pool or backup target, or a bare path. */
struct admission_place {
        const char *type; /* "storage_pool", "backup_target", "path" */
        const char *name;
};

/*
 * Decides @operation ("snapshot", "backup") for a VM bound to @policy_name
 * that writes its data to @places: one check of rule @kind per distinct
 * place, with the host given for rules that compare against it (a backup
 * at a different site). Returns -ENOMEM only; a denial is a decision.
 */
int admission_decide_writes(const char *operation, const char *policy_name, enum policy_kind kind,
                            const struct admission_place *places, size_t n_places, time_t now, struct decision **ret);

/*
 * Decides a migration of a VM bound to @policy_name to peer @peer, whose
 * host tags are @host_tags (as the peer reported them over mutual TLS):
 * the `migration` rule on that host, and with @pool (the destination pool
 * when storage is copied, @pool_tags its tags) the `storage` rule on it.
 * Takes both tag sets (freed with the decision, also on failure).
 */
int admission_decide_migration(const char *policy_name, const char *peer, struct tags *host_tags, const char *pool,
                               struct tags *pool_tags, time_t now, struct decision **ret);

/*
 * A dry run of one rule on one place: the host ("host"), a configured storage
 * pool or backup target by name, or caller-given @tags (then @name is a label).
 * -ENOENT (with @err) for an unknown place name.
 */
int admission_decide_place(const char *policy_name, enum policy_kind kind, const char *place_type,
                           const char *place_name, struct tags *tags, time_t now, struct decision **ret,
                           struct sovd_err *err);

/* This host as decisions see it, {"name", "tags"}; a new object, NULL on OOM. */
struct json_object *admission_host_to_json(void);

/* The configured tags of a "storage_pool" or "backup_target" (a new object; {} when untagged), NULL on OOM. */
struct json_object *admission_place_tags_to_json(const char *type, const char *name);

/* The decision as JSON (docs/policy-format.md); NULL on OOM. */
struct json_object *decision_to_json(const struct decision *d);
