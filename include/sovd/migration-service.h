/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Migration of a VM to a peer agent's host. The destination's tags come
 * from the destination agent itself (GET /v1/host over mutual TLS, never
 * from the caller), and so does its libvirt migration URI; the VM's
 * `migration` rule is judged on them (and its `storage` rule on the
 * destination pool when disks are copied) before libvirt is called. The
 * migration runs as a job; its id travels in the binding, so the
 * destination agent's hook records the arrival under the same id.
 */

#include <stdbool.h>
#include <json-c/json.h>

#include "sovd/admission.h"
#include "sovd/jobs.h"
#include "sovd/vm-service.h"

extern const struct job_kind migrate_job_kind;

struct migrate_request {
        char *peer;
        bool live;
        bool copy_storage;
        char *destination_pool; /* with copy_storage only */
};

int migrate_request_parse(struct json_object *doc, struct migrate_request *ret, struct sovd_err *err);
void migrate_request_done(struct migrate_request *r);

/*
 * Asks the peer, decides, and prepares the job's params (with the
 * migration's id in *ret_migration_id). Errors: -SOVD_E_UNRESOLVED (no
 * such peer or destination pool), -EHOSTUNREACH (peer unreachable or
 * answering nonsense), -EKEYREJECTED (its certificate not trusted),
 * -SOVD_E_BAD_STATE (VM state, active job, peer not a destination).
 */
int migrate_prepare(const struct vm_view *v, const struct migrate_request *req, struct decision **ret_decision,
                    struct json_object **ret_params, char ret_migration_id[static ID_TEXT_LEN], struct sovd_err *err);
