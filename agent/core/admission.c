/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <stdio.h>

#include "sovd/admission.h"
#include "sovd/json-util.h"
#include "sovd/time-util.h"

static pthread_mutex_t context_lock = PTHREAD_MUTEX_INITIALIZER; /* guards the two below */
static struct config *current_config;
static struct policy_set *current_policies;

void admission_set(struct config *config, struct policy_set *policies) {
        struct config *old_c;
        struct policy_set *old_p;

        pthread_mutex_lock(&context_lock);
        old_c = current_config;
        old_p = current_policies;
        current_config = config_ref(config);
        current_policies = policy_set_ref(policies);
        pthread_mutex_unlock(&context_lock);
        config_unref(old_c);
        policy_set_unref(old_p);
}

void admission_clear(void) {
        admission_set(NULL, NULL);
}

static void context_get(struct config **ret_c, struct policy_set **ret_p) {
        pthread_mutex_lock(&context_lock);
        *ret_c = config_ref(current_config);
        *ret_p = policy_set_ref(current_policies);
        pthread_mutex_unlock(&context_lock);
}

struct config *admission_config(void) {
        struct config *c;

        pthread_mutex_lock(&context_lock);
        c = config_ref(current_config);
        pthread_mutex_unlock(&context_lock);
        return c;
}

struct policy_set *admission_policies(void) {
        struct policy_set *p;

        pthread_mutex_lock(&context_lock);
        p = policy_set_ref(current_policies);
        pthread_mutex_unlock(&context_lock);
        return p;
}

struct decision *decision_free(struct decision *d) {
        if (!d)
                return NULL;
        free(d->policy_name);
        free(d->checks);
        free(d->places);
        for (size_t i = 0; d->names && i < d->n_names; i++)
                free(d->names[i]);
        free(d->names);
        if (d->extra_tags) {
                tags_done(d->extra_tags);
                free(d->extra_tags);
        }
        if (d->extra_tags2) {
                tags_done(d->extra_tags2);
                free(d->extra_tags2);
        }
        config_unref(d->config);
        policy_set_unref(d->policies);
        free(d);
        return NULL;
}

static struct decision *decision_new(const char *operation, const char *policy_name, size_t n_places, time_t now) {
        struct decision *d = calloc(1, sizeof(*d));

        if (!d)
                return NULL;
        id_new(d->id);
        d->time = now;
        d->decided_by = -1;
        snprintf(d->operation, sizeof(d->operation), "%s", operation);
        d->policy_name = strdup(policy_name);
        d->checks = calloc(n_places + 1, sizeof(*d->checks));
        d->places = calloc(n_places + 1, sizeof(*d->places));
        d->names = calloc(n_places + 1, sizeof(char *));
        d->n_names = n_places + 1;
        if (!d->policy_name || !d->checks || !d->places || !d->names)
                return decision_free(d);
        context_get(&d->config, &d->policies);
        d->policy = policy_set_find(d->policies, policy_name);
        return d;
}

/* Runs the checks prepared in d->places and sets the outcome. */
static void decide(struct decision *d, const enum policy_kind *kinds, size_t n, const struct place *host) {
        if (!d->policy) {
                d->allowed = false;
                d->would_deny = true;
                snprintf(d->reason, sizeof(d->reason), "policy '%s' is not loaded on this host: denied by default",
                         d->policy_name);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                policy_check(d->policy, kinds[i], &d->places[i], host, d->time, &d->checks[i]);
                d->n_checks++;
                if (!d->checks[i].allowed && d->decided_by < 0)
                        d->decided_by = (int) i;
        }
        d->would_deny = d->decided_by >= 0;
        d->allowed = !d->would_deny || d->policy->mode == POLICY_MODE_AUDIT;
        if (!d->would_deny) {
                snprintf(d->reason, sizeof(d->reason), "policy %s allows %s", d->policy_name, d->operation);
                return;
        }
        const struct check *c = &d->checks[d->decided_by];
        snprintf(d->reason, sizeof(d->reason), "policy %s %s %s: %s '%s': %s%s", d->policy_name,
                 d->allowed ? "would deny (audit mode)" : "denies", d->operation, c->place.type, c->place.name,
                 c->n_violations ? c->violations[0].reason : "not allowed",
                 c->n_violations_total > 1 ? " (and more)" : "");
}

/* The host is named by its hostname in decisions and records, read once. */
static char hostname_buf[256];
static pthread_once_t hostname_once = PTHREAD_ONCE_INIT;

static void read_hostname(void) {
        if (gethostname(hostname_buf, sizeof(hostname_buf) - 1) < 0)
                hostname_buf[0] = '\0';
}

static struct place host_place(const struct config *c) {
        (void) pthread_once(&hostname_once, read_hostname);
        return (struct place){ .type = "host", .name = hostname_buf[0] ? hostname_buf : "this host",
                               .tags = c ? &c->host_tags : NULL };
}

int admission_decide_vm(const char *operation, const char *policy_name, const struct admission_disk *disks,
                        size_t n_disks, time_t now, struct decision **ret) {
        struct decision *d = decision_new(operation, policy_name, n_disks + 1, now);
        enum policy_kind kinds[1 + ADMISSION_MAX_DISKS];
        size_t n = 0;

        if (!d)
                return -ENOMEM;
        struct place host = host_place(d->config);
        if (n_disks > ADMISSION_MAX_DISKS) {
                /* Never judge a subset: an unchecked disk could be anywhere. */
                d->allowed = false;
                d->would_deny = true;
                snprintf(d->reason, sizeof(d->reason), "%zu disks: more than the %d sovd can check; denied",
                         n_disks, ADMISSION_MAX_DISKS);
                *ret = d;
                return 0;
        }
        kinds[n] = POLICY_KIND_COMPUTE;
        d->places[n++] = host;
        for (size_t i = 0; i < n_disks; i++) {
                bool seen = false;
                /* One check per distinct pool: two disks in one pool are one place. */
                for (size_t k = 1; k < n && disks[i].pool; k++)
                        if (d->places[k].type[0] == 's' && streq(d->places[k].name, disks[i].pool))
                                seen = true;
                if (seen)
                        continue;
                kinds[n] = POLICY_KIND_STORAGE;
                d->names[n] = strdup(disks[i].pool ? disks[i].pool : disks[i].path ? disks[i].path : "?");
                if (!d->names[n]) {
                        decision_free(d);
                        return -ENOMEM;
                }
                if (disks[i].pool) {
                        const struct place_config *pc = d->config ? config_storage_pool(d->config, disks[i].pool) : NULL;
                        d->places[n] = (struct place){ .type = "storage_pool", .name = d->names[n],
                                                       .tags = pc ? &pc->tags : NULL };
                } else
                        d->places[n] = (struct place){ .type = "path", .name = d->names[n], .tags = NULL };
                n++;
        }
        decide(d, kinds, n, &host);
        *ret = d;
        return 0;
}

static const struct place_config *configured_place(const struct config *c, const char *type, const char *name) {
        if (!c)
                return NULL;
        if (streq(type, "storage_pool"))
                return config_storage_pool(c, name);
        if (streq(type, "backup_target"))
                return config_backup_target(c, name);
        return NULL;
}

int admission_decide_writes(const char *operation, const char *policy_name, enum policy_kind kind,
                            const struct admission_place *places, size_t n_places, time_t now, struct decision **ret) {
        struct decision *d;
        enum policy_kind *kinds;
        size_t n = 0;

        if (n_places > ADMISSION_MAX_DISKS * 2)
                n_places = ADMISSION_MAX_DISKS * 2 + 1; /* judged below as too many */
        d = decision_new(operation, policy_name, n_places, now);
        kinds = calloc(n_places + 1, sizeof(*kinds));
        if (!d || !kinds) {
                free(kinds);
                decision_free(d);
                return -ENOMEM;
        }
        struct place host = host_place(d->config);
        if (n_places == 0 || n_places > ADMISSION_MAX_DISKS * 2) {
                /* Nothing to judge is as suspicious as too much: never allow unseen writes. */
                d->allowed = false;
                d->would_deny = true;
                snprintf(d->reason, sizeof(d->reason), "%s: %s places to check; denied", operation,
                         n_places ? "more" : "no");
                free(kinds);
                *ret = d;
                return 0;
        }
        for (size_t i = 0; i < n_places; i++) {
                bool seen = false;
                for (size_t k = 0; k < n; k++)
                        if (streq(d->places[k].type, places[i].type) && streq(d->places[k].name, places[i].name))
                                seen = true;
                if (seen)
                        continue;
                d->names[n] = strdup(places[i].name);
                if (!d->names[n]) {
                        free(kinds);
                        decision_free(d);
                        return -ENOMEM;
                }
                const struct place_config *pc = configured_place(d->config, places[i].type, places[i].name);
                d->places[n] = (struct place){ .type = streq(places[i].type, "storage_pool") ? "storage_pool"
                                                      : streq(places[i].type, "backup_target") ? "backup_target"
                                                                                               : "path",
                                               .name = d->names[n], .tags = pc ? &pc->tags : NULL };
                kinds[n++] = kind;
        }
        decide(d, kinds, n, &host);
        free(kinds);
        *ret = d;
        return 0;
}

int admission_decide_migration(const char *policy_name, const char *peer, struct tags *host_tags, const char *pool,
                               struct tags *pool_tags, time_t now, struct decision **ret) {
        struct decision *d = decision_new("migrate", policy_name, 2, now);
        enum policy_kind kinds[2] = { POLICY_KIND_MIGRATION, POLICY_KIND_STORAGE };

        if (!d) {
                tags_done(host_tags);
                free(host_tags);
                if (pool_tags) {
                        tags_done(pool_tags);
                        free(pool_tags);
                }
                return -ENOMEM;
        }
        d->extra_tags = host_tags;
        d->extra_tags2 = pool_tags;
        struct place here = host_place(d->config);
        d->names[0] = strdup(peer);
        if (pool && asprintf(&d->names[1], "%s:%s", peer, pool) < 0)
                d->names[1] = NULL;
        if (!d->names[0] || (pool && !d->names[1])) {
                decision_free(d);
                return -ENOMEM;
        }
        /* The destination is a host of its own: its tags, never this host's, are judged. */
        d->places[0] = (struct place){ .type = "host", .name = d->names[0], .tags = host_tags };
        if (pool)
                d->places[1] = (struct place){ .type = "storage_pool", .name = d->names[1], .tags = pool_tags };
        decide(d, kinds, pool ? 2 : 1, &here);
        *ret = d;
        return 0;
}

int admission_decide_place(const char *policy_name, enum policy_kind kind, const char *place_type,
                           const char *place_name, struct tags *tags, time_t now, struct decision **ret,
                           struct sovd_err *err) {
        _cleanup_decision_ struct decision *d = decision_new("evaluate", policy_name, 1, now);

        if (!d)
                return -ENOMEM;
        struct place host = host_place(d->config);
        d->names[0] = strdup(place_name ? place_name : "(given tags)");
        if (!d->names[0])
                return -ENOMEM;
        if (tags) {
                d->extra_tags = tags;
                d->places[0] = (struct place){ .type = place_type, .name = d->names[0], .tags = tags };
        } else if (streq(place_type, "host")) {
                d->places[0] = host;
        } else {
                const struct place_config *pc = NULL;
                if (d->config)
                        pc = streq(place_type, "storage_pool") ? config_storage_pool(d->config, place_name)
                                                               : config_backup_target(d->config, place_name);
                /* An unknown name is a typo to report, not an untagged place to judge. */
                if (!pc)
                        return err_set(err, -ENOENT, "no %s named '%s' is configured on this host", place_type,
                                       place_name);
                d->places[0] = (struct place){ .type = place_type, .name = pc->name, .tags = &pc->tags };
        }
        decide(d, &kind, 1, &host);
        *ret = TAKE_PTR(d);
        return 0;
}

struct json_object *admission_host_to_json(void) {
        _cleanup_config_ struct config *c = NULL;
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct policy_set *p = NULL;

        context_get(&c, &p);
        policy_set_unref(p);
        struct place host = host_place(c);
        if (!o || json_add_string(o, "name", host.name) < 0 ||
            json_add(o, "tags", c ? tags_to_json(&c->host_tags) : json_object_new_object()) < 0)
                return NULL;
        return TAKE_PTR(o);
}

struct json_object *admission_place_tags_to_json(const char *type, const char *name) {
        _cleanup_config_ struct config *c = NULL;
        struct policy_set *p = NULL;
        const struct place_config *pc;

        context_get(&c, &p);
        policy_set_unref(p);
        pc = configured_place(c, type, name);
        return pc ? tags_to_json(&pc->tags) : json_object_new_object();
}

struct json_object *decision_to_json(const struct decision *d) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *pol = json_object_new_object(), *checks = json_object_new_array();
        char time_text[RFC3339_MAX];

        if (!o || json_add_string(o, "id", d->id) < 0 || json_add_string(o, "time", rfc3339_format(d->time, time_text)) < 0 ||
            json_add_string(o, "outcome", d->allowed ? "allow" : "deny") < 0 ||
            json_add_string(o, "mode", d->policy && d->policy->mode == POLICY_MODE_AUDIT ? "audit" : "enforce") < 0 ||
            json_add_bool(o, "would_deny", d->would_deny) < 0 || json_add(o, "policy", pol) < 0 || !pol ||
            json_add_string(pol, "name", d->policy_name) < 0 ||
            (d->policy ? json_add_int(pol, "revision", d->policy->revision) : json_add(pol, "revision", NULL)) < 0 ||
            json_add_string(pol, "digest", d->policy ? d->policy->digest : NULL) < 0 ||
            json_add_string(o, "operation", d->operation) < 0 || json_add_string(o, "reason", d->reason) < 0)
                return NULL;
        if (d->decided_by >= 0) {
                const struct check *c = &d->checks[d->decided_by];
                struct json_object *by = json_object_new_object();
                if (!by || json_add(o, "decided_by", by) < 0 ||
                    json_add_string(by, "kind", policy_kind_to_string(c->kind)) < 0 ||
                    json_add_string(by, "place", c->place.name) < 0)
                        return NULL;
        } else if (json_add(o, "decided_by", NULL) < 0)
                return NULL;
        if (json_add(o, "checks", checks) < 0 || !checks)
                return NULL;
        for (size_t i = 0; i < d->n_checks; i++) {
                struct json_object *c = check_to_json(&d->checks[i]);
                if (!c || json_object_array_add(checks, c) < 0) {
                        json_object_put(c);
                        return NULL;
                }
        }
        return TAKE_PTR(o);
}
