/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sovd/json-util.h"
#include "sovd/metrics.h"
#include "sovd/recorder.h"

static struct audit_log *audit; /* set once by main before threads use it, cleared after they stop */

void recorder_set(struct audit_log *log) {
        __atomic_store_n(&audit, log, __ATOMIC_RELEASE);
}

struct audit_log *recorder_log(void) {
        return __atomic_load_n(&audit, __ATOMIC_ACQUIRE);
}

/* The members every record starts with. */
static struct json_object *record_new(const char *kind, const struct record_ctx *ctx) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *vm;

        if (!o || json_add_string(o, "kind", kind) < 0 || json_add_string(o, "source", ctx->source) < 0 ||
            json_add_string(o, "request_id", ctx->request_id) < 0 || json_add_string(o, "caller", ctx->caller) < 0 ||
            json_add_string(o, "role", ctx->role) < 0)
                return NULL;
        if (ctx->vm_uuid || ctx->vm_name) {
                vm = json_object_new_object();
                if (!vm || json_add(o, "vm", vm) < 0 || json_add_string(vm, "uuid", ctx->vm_uuid) < 0 ||
                    json_add_string(vm, "name", ctx->vm_name) < 0)
                        return NULL;
        } else if (json_add(o, "vm", NULL) < 0)
                return NULL;
        if (json_add_string(o, "tenant", ctx->tenant) < 0 ||
            (ctx->migration_id && json_add_string(o, "migration_id", ctx->migration_id) < 0))
                return NULL;
        return TAKE_PTR(o);
}

static int append(struct json_object *o, struct sovd_err *err) {
        struct audit_log *log = recorder_log();

        if (!o)
                return -ENOMEM;
        if (!log)
                return 0;
        return audit_append(log, o, NULL, err);
}

int record_decision(const struct record_ctx *ctx, const struct decision *d, struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = record_new("decision", ctx);

        int r;

        if (!o || json_add_string(o, "operation", d->operation) < 0 || json_add(o, "decision", decision_to_json(d)) < 0)
                return -ENOMEM;
        r = append(o, err);
        if (r >= 0)
                metrics_count_decision(d->allowed, d->would_deny);
        return r;
}

int record_call(const struct record_ctx *ctx, const char *method, const char *path, int status, const char *detail,
                struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = record_new("api", ctx);

        if (!o || json_add_string(o, "method", method) < 0 || json_add_string(o, "path", path) < 0 ||
            json_add_int(o, "status", status) < 0 || json_add_string(o, "detail", detail) < 0)
                return -ENOMEM;
        return append(o, err);
}

static int add_members(struct json_object *o, struct json_object *extra) {
        if (extra) {
                json_object_object_foreach(extra, k, v)
                        if (json_add(o, k, json_object_get(v)) < 0)
                                return -ENOMEM;
        }
        return 0;
}

int record_operation(const struct record_ctx *ctx, const char *operation, const char *outcome,
                     const char *decision_id, const char *detail, struct json_object *extra, struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = record_new("operation", ctx);

        if (!o || json_add_string(o, "operation", operation) < 0 || json_add_string(o, "outcome", outcome) < 0 ||
            json_add_string(o, "decision_id", decision_id) < 0 || json_add_string(o, "detail", detail) < 0 ||
            add_members(o, extra) < 0)
                return -ENOMEM;
        return append(o, err);
}

int record_drift(const struct record_ctx *ctx, const char *event, const char *detail, struct json_object *extra,
                 struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = record_new("drift", ctx);

        int r;

        if (!o || json_add_string(o, "event", event) < 0 || json_add_string(o, "detail", detail) < 0 ||
            add_members(o, extra) < 0)
                return -ENOMEM;
        r = append(o, err);
        if (r >= 0)
                metrics_count_drift();
        return r;
}
