/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Push-mode backups (virDomainBackupBegin), checkpoints, and the domain
 * job they run as: progress, completion, abort.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sovd/virt-conn.h"

struct virt_backup_disk {
        const char *target; /* a disk of the domain ("vda") */
        const char *file;   /* the qcow2 file libvirt creates and writes the disk's backup into */
};

struct virt_backup_request {
        const char *checkpoint;  /* checkpoint created with the backup (NULL: none) */
        const char *incremental; /* the checkpoint to back up changes since; NULL: a full backup */
        const struct virt_backup_disk *disks; /* disks not listed are left out (backup='no') */
        size_t n_disks;
};

/*
 * Starts the backup; it runs as the domain's job until it completes or is
 * aborted. -SOVD_E_BAD_STATE when the domain is not running or busy,
 * -ENOENT when the incremental checkpoint does not exist.
 */
int virt_backup_begin(struct virt_conn *c, const char *uuid, const struct virt_backup_request *req,
                      struct sovd_err *err);

enum virt_job_operation {
        VIRT_JOB_OP_NONE,
        VIRT_JOB_OP_BACKUP,
        VIRT_JOB_OP_SNAPSHOT,
        VIRT_JOB_OP_MIGRATION,
        VIRT_JOB_OP_OTHER,
};

enum virt_job_outcome {
        VIRT_JOB_NONE,      /* no job (or none completed since libvirtd started) */
        VIRT_JOB_ACTIVE,    /* still running */
        VIRT_JOB_COMPLETED,
        VIRT_JOB_FAILED,
        VIRT_JOB_CANCELLED,
};

struct virt_job_info {
        enum virt_job_outcome outcome;
        enum virt_job_operation operation;
        uint64_t bytes_done, bytes_total; /* data, or memory for snapshots; 0 when not reported */
        char error[256];                  /* why a completed job failed, when libvirt says */
};

/*
 * The domain's current job (outcome VIRT_JOB_ACTIVE or VIRT_JOB_NONE), or with
 * @completed the last completed one as libvirt remembers it (VIRT_JOB_NONE
 * when it remembers none).
 */
int virt_domain_job(struct virt_conn *c, const char *uuid, bool completed, struct virt_job_info *ret,
                    struct sovd_err *err);

/* Aborts the domain's current job (virDomainAbortJob). -SOVD_E_BAD_STATE when there is none. */
int virt_domain_abort_job(struct virt_conn *c, const char *uuid, struct sovd_err *err);

/* 0 when the domain has checkpoint @name, -ENOENT when not. */
int virt_checkpoint_exists(struct virt_conn *c, const char *uuid, const char *name, struct sovd_err *err);

/* Deletes checkpoint @name (its bitmaps are merged by libvirt); -ENOENT when it does not exist. */
int virt_checkpoint_delete(struct virt_conn *c, const char *uuid, const char *name, struct sovd_err *err);

/*
 * Forgets checkpoint @name without touching the disks (metadata only): for a
 * disk whose contents were replaced, where the checkpoint's bitmap is gone.
 */
int virt_checkpoint_forget(struct virt_conn *c, const char *uuid, const char *name, struct sovd_err *err);

/* Domain XML as libvirt has it (persistent definition, inactive form, with secure info removed). */
int virt_domain_xml(struct virt_conn *c, const char *uuid, char **ret, struct sovd_err *err);

/* Directory where pool @pool keeps its volumes (dir-like pools). -SOVD_E_UNRESOLVED when unknown. */
int virt_pool_path(struct virt_conn *c, const char *pool, char **ret, struct sovd_err *err);

/* Makes libvirt rescan pool @pool after files were written into it behind its storage driver. */
int virt_pool_refresh(struct virt_conn *c, const char *pool, struct sovd_err *err);
