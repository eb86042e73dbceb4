/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Backups and restores. A backup is a push-mode libvirt backup of a running
 * VM into a backup target, with a checkpoint so the next one can be
 * incremental; beside its data it gets a manifest (JSON) naming the VM, its
 * domain XML, binding, policy digest, host and target tags, parent backup,
 * and each disk's file, size and SHA-256. The manifest is written last: a
 * backup without one does not exist.
 *
 * On a target of type "directory" (the only one so far) a backup is
 * <path>/<vm uuid>/<backup id>/{manifest.json,<disk>.qcow2}. Targets are
 * reached through struct backup_target_ops, so a remote target (object
 * storage) can stage its files locally and upload them when it is added.
 *
 * Both run as jobs (jobs.h); the target's tags are judged under the VM's
 * `backup` rule, and a restore's host and destination pools under the
 * `compute` and `storage` rules of the policy the manifest records, before
 * anything is written.
 */

#include <stdbool.h>
#include <json-c/json.h>

#include "sovd/admission.h"
#include "sovd/jobs.h"
#include "sovd/vm-service.h"

#define BACKUP_MANIFEST_FORMAT "sovd-backup/1"

extern const struct job_kind backup_job_kind;
extern const struct job_kind restore_job_kind;
extern const struct job_kind verify_job_kind;

struct backup_request {
        char *target;
        bool incremental;
};

int backup_request_parse(struct json_object *doc, struct backup_request *ret, struct sovd_err *err);
void backup_request_done(struct backup_request *r);

/*
 * Checks @req on VM @v (read with devices) and prepares the job's params;
 * *ret_decision is the `backup` decision on the target (NULL when the
 * request failed before a decision could be made). -SOVD_E_UNRESOLVED
 * for an unknown target, -SOVD_E_BAD_STATE for a VM that is not running or
 * not managed, or an incremental without a usable parent.
 */
int backup_prepare(const struct vm_view *v, const struct backup_request *req, struct decision **ret_decision,
                   struct json_object **ret_params, struct sovd_err *err);

/* {"backups": [...]} of a VM on every target, oldest first, without their domain XML. */
int backup_list_json(const char *vm_uuid, struct json_object **ret, struct sovd_err *err);

/* A backup's manifest (with "target"); -ENOENT. */
int backup_get_json(const char *id, struct json_object **ret, struct sovd_err *err);

/*
 * For a verify job of backup @id: -EINVAL when @id is not a backup id,
 * -ENOENT when no target holds it; else its VM's UUID and, from its
 * manifest, the VM's name and tenant (NULL when absent or not names).
 * The job recomputes every checksum of the backup and of its parents; its
 * result is {"backup", "ok", "disks", "chain"}, and it fails when the
 * backup does not check out. It only reads: it runs beside the VM's jobs.
 */
int backup_verify_prepare(const char *id, char ret_vm[static ID_TEXT_LEN], char **ret_vm_name, char **ret_tenant,
                          struct sovd_err *err);

struct restore_request {
        char *name; /* a new VM; NULL with in_place */
        bool in_place;
        char *pool; /* NULL: each disk's pool at backup time */
};

int restore_request_parse(struct json_object *doc, struct restore_request *ret, struct sovd_err *err);
void restore_request_done(struct restore_request *r);

/*
 * Checks a restore of backup @id and prepares its job: *ret_vm is the VM the
 * job is on (the backed-up VM in place, the new VM's UUID otherwise);
 * *ret_decision the restore decision (host and destination pools).
 */
int restore_prepare(const char *id, const struct restore_request *req, struct decision **ret_decision,
                    struct json_object **ret_params, char ret_vm[static ID_TEXT_LEN], char **ret_tenant,
                    struct sovd_err *err);
