/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What sovd writes into its audit log, in one place: decisions (every
 * allow and deny, from the API and from the libvirt hook), state-changing
 * API calls and drift observed through libvirt events. Each record is
 * durable before the function returns (audit.h), so a caller that records
 * a decision before acting on it never acts on an unrecorded decision.
 *
 * Dry runs (POST /v1/policies/evaluate) change nothing and are not recorded.
 *
 * Thread-safe; with no log installed (unit tests), records are dropped.
 */

#include <json-c/json.h>

#include "sovd/admission.h"
#include "sovd/audit.h"

/* Who asked, for every record. Strings are borrowed. */
struct record_ctx {
        const char *source;     /* "api", "hook", "libvirt-event" */
        const char *request_id; /* NULL for events */
        const char *caller;     /* "uid=0 pid=42" */
        const char *role;
        const char *vm_uuid;    /* NULL when not known yet (create) */
        const char *vm_name;
        const char *tenant;
        const char *migration_id; /* NULL unless the record is part of a migration */
};

/* Installs the log (main); NULL to stop recording. The log outlives every call. */
void recorder_set(struct audit_log *log);
struct audit_log *recorder_log(void);

int record_decision(const struct record_ctx *ctx, const struct decision *d, struct sovd_err *err);

/* A state-changing call and how it ended (@status the HTTP status, @detail the problem's, or NULL). */
int record_call(const struct record_ctx *ctx, const char *method, const char *path, int status, const char *detail,
                struct sovd_err *err);

/* Something done behind sovd's back; @extra (may be NULL, borrowed) adds members such as compliance. */
int record_drift(const struct record_ctx *ctx, const char *event, const char *detail, struct json_object *extra,
                 struct sovd_err *err);

/*
 * The outcome of an operation on data (snapshot, backup, restore, retention
 * deletion): @operation, @outcome ("succeeded", "failed", "cancelled",
 * "deleted"), the decision it was made under (NULL: none), a detail, and
 * @extra members (borrowed, may be NULL) such as the job, backup or files.
 */
int record_operation(const struct record_ctx *ctx, const char *operation, const char *outcome,
                     const char *decision_id, const char *detail, struct json_object *extra, struct sovd_err *err);
