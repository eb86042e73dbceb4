/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Snapshots as the API offers them. A snapshot request becomes a plan —
 * every file that will be written and the place (storage pool, or bare
 * path) it lands in — that admission judges under the VM's `snapshot` rule
 * before libvirt is called. Disk-only snapshots and internal snapshots of a
 * shut-off VM are made at once; those that save memory run as jobs.
 *
 * sovd keeps a small registry per VM (<state_dir>/snapshots/<uuid>.json) of
 * the snapshots it made. A snapshot libvirt lists that the registry does
 * not know was made behind sovd's back: it is recorded once as drift, with
 * its compliance, and shown with "managed": false.
 */

#include <stdbool.h>
#include <json-c/json.h>

#include "sovd/admission.h"
#include "sovd/jobs.h"
#include "sovd/recorder.h"
#include "sovd/virt-snapshot.h"
#include "sovd/vm-service.h"

#define SNAPSHOT_DESCRIPTION_MAX 1024

extern const struct job_kind snapshot_job_kind;

/* Where the registry lives; called once by main before the API serves. */
int snapshot_service_init(const char *state_dir, struct sovd_err *err);

struct snapshot_request {
        char *name;
        enum virt_snapshot_kind kind;
        char *pool;        /* NULL: each disk's own pool */
        char *description; /* NULL: none */
};

/* Validates a POST body ({name, kind, pool, description}); errors name the member. */
int snapshot_request_parse(struct json_object *doc, struct snapshot_request *ret, struct sovd_err *err);
void snapshot_request_done(struct snapshot_request *r);

struct snapshot_plan {
        struct virt_snapshot_request lv; /* what libvirt is asked; strings owned below */
        struct virt_snapshot_overlay *disks;
        char *memory_file;
        struct admission_place *places; /* what admission judges */
        size_t n_places;
        char **pools_written; /* NULL-terminated: refreshed afterwards so the new files are known volumes */
        bool as_job;          /* memory is saved: a long operation */
};

/*
 * Plans @req on VM @v (read with devices). -SOVD_E_BAD_STATE when the VM's
 * state does not allow the kind, -EINVAL when a disk cannot take it (an
 * internal snapshot of a raw disk), -SOVD_E_UNRESOLVED for an unknown pool,
 * -EEXIST when the name is taken.
 */
int snapshot_plan_make(const struct vm_view *v, const struct snapshot_request *req, struct snapshot_plan *ret,
                       struct sovd_err *err);
void snapshot_plan_done(struct snapshot_plan *p);

/* The plan as job params (with the record @context the API gives: caller, role, decision...). */
struct json_object *snapshot_plan_to_params(const struct snapshot_plan *p, struct json_object *context);

/* Carries the plan out now and registers the snapshot; ctx/decision_id for its audit record. */
int snapshot_execute(const char *uuid, const struct snapshot_plan *p, const struct record_ctx *ctx,
                     const char *decision_id, struct sovd_err *err);

/* {"snapshots": [...]} of a VM, each with its compliance; unknown ones are recorded as drift first. */
int snapshot_list_json(const char *uuid, struct json_object **ret, struct sovd_err *err);
/* One snapshot as JSON; -ENOENT. */
int snapshot_get_json(const char *uuid, const char *name, struct json_object **ret, struct sovd_err *err);

/*
 * The revert door: a snapshot whose data lies where the VM's policy does not
 * allow it (one made behind sovd's back) is not brought back. *ret is the
 * decision (operation "revert"), NULL for a VM sovd does not manage.
 */
int snapshot_revert_decide(const char *uuid, const char *name, struct decision **ret, struct sovd_err *err);
int snapshot_revert(const char *uuid, const char *name, struct sovd_err *err);
int snapshot_delete(const char *uuid, const char *name, struct sovd_err *err);

/*
 * Looks for snapshots made behind sovd's back on one domain: called for
 * every lifecycle event of the domain (a snapshot saving memory pauses and
 * resumes it) and on every listing. libvirt has no event for snapshot
 * creation, so a disk-only snapshot made with virsh shows up at the next
 * event, listing or (re)connection, not at once.
 */
void snapshot_service_observe(const char *uuid);

/*
 * Both only queue the work for a watcher thread of this module: looking
 * takes libvirt calls, which must not run on libvirt's event thread.
 * snapshot_service_scan() looks at every domain (after each connection).
 */
void snapshot_service_scan(void);

/* Stops the watcher after the domain it is looking at; nothing more is looked at (shutdown). */
void snapshot_service_stop(void);
