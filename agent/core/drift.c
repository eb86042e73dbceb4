/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <stdio.h>

#include "sovd/admission.h"
#include "sovd/drift.h"
#include "sovd/jobs.h"
#include "sovd/json-util.h"
#include "sovd/log.h"
#include "sovd/names.h"
#include "sovd/recorder.h"
#include "sovd/time-util.h"
#include "sovd/vm-service.h"

#define EXPECT_MAX 256
#define EXPECT_TTL_SEC 120
#define RECENT_MAX 512
#define RECENT_PER_VM 8

struct expectation {
        char key[NAME_MAX_LEN + 1]; /* a UUID (36) or a domain name (<= 64) */
        char event[16];
        time_t expires;
};

struct observation {
        char uuid[ID_TEXT_LEN];
        time_t time;
        char event[24];
        char detail[256];
};

/* Both tables guarded by one lock; both tiny and bounded. */
static pthread_mutex_t drift_lock = PTHREAD_MUTEX_INITIALIZER;
static struct expectation expected[EXPECT_MAX];
static struct observation recent[RECENT_MAX];
static size_t recent_next; /* ring position */
static char scanned[4096][ID_TEXT_LEN]; /* non-compliant VMs already recorded by a scan this run */
static size_t n_scanned;

void drift_reset(void) {
        pthread_mutex_lock(&drift_lock);
        memset(expected, 0, sizeof(expected));
        memset(recent, 0, sizeof(recent));
        recent_next = n_scanned = 0;
        pthread_mutex_unlock(&drift_lock);
}

void drift_expect(const char *key, const char *event) {
        time_t now = time(NULL);
        size_t slot = 0;

        pthread_mutex_lock(&drift_lock);
        /* Reuse the first free or expired slot; when full, the one expiring first. */
        for (size_t i = 0; i < EXPECT_MAX; i++) {
                if (!expected[i].key[0] || expected[i].expires <= now) {
                        slot = i;
                        break;
                }
                if (expected[i].expires < expected[slot].expires)
                        slot = i;
        }
        snprintf(expected[slot].key, sizeof(expected[slot].key), "%s", key);
        snprintf(expected[slot].event, sizeof(expected[slot].event), "%s", event);
        expected[slot].expires = now + EXPECT_TTL_SEC;
        pthread_mutex_unlock(&drift_lock);
}

/* True when the API announced this event; the announcement is consumed. */
static bool consume_expected(const char *uuid, const char *name, const char *event) {
        time_t now = time(NULL);
        bool found = false;

        pthread_mutex_lock(&drift_lock);
        for (size_t i = 0; i < EXPECT_MAX && !found; i++)
                if (expected[i].key[0] && expected[i].expires > now && streq(expected[i].event, event) &&
                    (streq(expected[i].key, uuid) || (name && streq(expected[i].key, name)))) {
                        expected[i].key[0] = '\0';
                        found = true;
                }
        pthread_mutex_unlock(&drift_lock);
        return found;
}

static void remember(const char *uuid, const char *event, const char *detail) {
        pthread_mutex_lock(&drift_lock);
        struct observation *o = &recent[recent_next];
        recent_next = (recent_next + 1) % RECENT_MAX;
        snprintf(o->uuid, sizeof(o->uuid), "%s", uuid);
        o->time = time(NULL);
        snprintf(o->event, sizeof(o->event), "%s", event);
        snprintf(o->detail, sizeof(o->detail), "%s", detail);
        pthread_mutex_unlock(&drift_lock);
}

struct json_object *drift_recent(const char *uuid) {
        struct json_object *arr = json_object_new_array();
        size_t count = 0;

        if (!arr)
                return NULL;
        pthread_mutex_lock(&drift_lock);
        /* Oldest first: walk the ring from the next write position. */
        for (size_t k = 0; k < RECENT_MAX; k++) {
                const struct observation *o = &recent[(recent_next + k) % RECENT_MAX];
                if (!o->uuid[0] || !streq(o->uuid, uuid))
                        continue;
                count++;
        }
        size_t skip = count > RECENT_PER_VM ? count - RECENT_PER_VM : 0;
        for (size_t k = 0; k < RECENT_MAX; k++) {
                const struct observation *o = &recent[(recent_next + k) % RECENT_MAX];
                struct json_object *e;
                char when[RFC3339_MAX];
                if (!o->uuid[0] || !streq(o->uuid, uuid))
                        continue;
                if (skip) {
                        skip--;
                        continue;
                }
                e = json_object_new_object();
                if (!e || json_object_array_add(arr, e) < 0 ||
                    json_add_string(e, "time", rfc3339_format(o->time, when)) < 0 ||
                    json_add_string(e, "event", o->event) < 0 || json_add_string(e, "detail", o->detail) < 0) {
                        json_object_put(e);
                        break;
                }
        }
        pthread_mutex_unlock(&drift_lock);
        return arr;
}

/* Compliance of a bound VM now; NULL decision for an unbound or vanished one. */
static int evaluate(const char *uuid, struct vm_view *ret_view, struct decision **ret) {
        _cleanup_free_ struct admission_disk *disks = NULL;
        struct sovd_err err;
        size_t n = 0;
        int r;

        r = vm_service_get(uuid, ret_view, &err);
        if (r < 0)
                return r;
        *ret = NULL;
        if (!ret_view->binding)
                return 0;
        /* Every storage place: admission refuses to judge a subset. */
        disks = vm_view_storage_places(ret_view, &n);
        if (!disks)
                return -ENOMEM;
        return admission_decide_vm("compliance", ret_view->binding->policy, disks, n, time(NULL), ret);
}

static void record(const char *uuid, const char *name, const struct vm_view *v, const char *event,
                   const char *detail, const struct decision *d) {
        _cleanup_json_ struct json_object *extra = json_object_new_object();
        struct record_ctx ctx = {
                .source = "libvirt-event",
                .vm_uuid = uuid,
                .vm_name = name,
                .tenant = v && v->binding ? v->binding->tenant : NULL,
        };
        struct sovd_err err = {};
        int r;

        if (extra && d)
                (void) json_add(extra, "compliance", decision_to_json(d));
        if (extra && v && v->binding)
                (void) json_add_string(extra, "policy", v->binding->policy);
        r = record_drift(&ctx, event, detail, extra, &err);
        if (r < 0)
                log_emit(LOG_ERR, LOG_FIELDS({ "SOVD_VM_UUID", uuid }),
                         "cannot write the audit record of drift on '%s' (%s): %s", name, detail,
                         err.msg[0] ? err.msg : strerror(-r));
        log_emit(d && d->would_deny ? LOG_WARNING : LOG_NOTICE,
                 LOG_FIELDS({ "SOVD_VM_UUID", uuid }, { "SOVD_EVENT", event }, { "SOVD_DRIFT", "1" }),
                 "drift: domain '%s': %s", name, detail);
        remember(uuid, event, detail);
}

void drift_observe(const char *uuid, const char *name, const char *event) {
        _cleanup_decision_ struct decision *d = NULL;
        struct vm_view v = {};
        char detail[256];
        bool ours;

        /* Sovereignty is about where a domain is defined and runs; pauses and guest shutdowns are not drift. */
        if (!streq(event, "defined") && !streq(event, "started") && !streq(event, "undefined") &&
            !streq(event, "metadata-changed"))
                return;
        ours = consume_expected(uuid, name, event);
        if (streq(event, "undefined")) {
                /* A migration sovd runs ends with the source's definition removed: that is its doing. */
                if (!ours && jobs_vm_has_active(uuid, "migrate"))
                        ours = true;
                if (!ours)
                        record(uuid, name, NULL, event, "domain undefined outside the sovd API", NULL);
                return;
        }
        if (evaluate(uuid, &v, &d) < 0) {
                vm_view_done(&v);
                return; /* gone again, or libvirt away: the next event or resync will tell */
        }
        if (ours && (!d || !d->would_deny)) {
                vm_view_done(&v);
                return;
        }
        if (!v.binding)
                snprintf(detail, sizeof(detail), "domain %s outside the sovd API%s", event,
                         v.binding_error ? " (its sovd metadata is not a valid binding)" : " (not managed by sovd)");
        else if (d->would_deny)
                snprintf(detail, sizeof(detail), "bound VM %s%s on a place its policy does not allow: %s", event,
                         ours ? "" : " outside the sovd API", d->reason);
        else
                snprintf(detail, sizeof(detail), "bound VM %s outside the sovd API; placement compliant", event);
        record(uuid, name, &v, event, detail, d);
        vm_view_done(&v);
}

void drift_scan(void) {
        struct vm_view *views = NULL;
        struct sovd_err err;
        size_t n = 0;

        if (vm_service_list_live(NULL, &views, &n, &err) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                _cleanup_decision_ struct decision *d = NULL;
                struct vm_view v = {};
                bool seen = false;

                if (!views[i].binding)
                        continue;
                pthread_mutex_lock(&drift_lock);
                for (size_t k = 0; k < n_scanned; k++)
                        if (streq(scanned[k], views[i].domain.uuid))
                                seen = true;
                pthread_mutex_unlock(&drift_lock);
                if (seen || evaluate(views[i].domain.uuid, &v, &d) < 0 || !d || !d->would_deny) {
                        vm_view_done(&v);
                        continue;
                }
                char detail[256];
                snprintf(detail, sizeof(detail), "bound VM found on a place its policy does not allow: %s", d->reason);
                record(v.domain.uuid, v.domain.name, &v, "found", detail, d);
                pthread_mutex_lock(&drift_lock);
                if (n_scanned < ELEMENTSOF(scanned))
                        snprintf(scanned[n_scanned++], ID_TEXT_LEN, "%s", v.domain.uuid);
                pthread_mutex_unlock(&drift_lock);
                vm_view_done(&v);
        }
        vm_view_array_free(views, n);
}
