/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Domain snapshots through libvirt: listing, creation from a request that
 * the libvirt layer turns into escaped XML, revert and delete. Placement
 * decisions are not made here (see snapshot-service.h).
 */

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "sovd/virt-conn.h"

enum virt_snapshot_kind {
        VIRT_SNAPSHOT_INTERNAL,  /* data (and memory, when running) inside each qcow2 disk */
        VIRT_SNAPSHOT_DISK_ONLY, /* external overlays, no memory */
        VIRT_SNAPSHOT_FULL,      /* external overlays and an external memory file; running VMs only */
        _VIRT_SNAPSHOT_KIND_MAX,
};

const char *virt_snapshot_kind_to_string(enum virt_snapshot_kind k);
int virt_snapshot_kind_from_string(const char *s);

struct virt_snapshot_disk {
        char *target; /* "vda" */
        char *mode;   /* "internal", "external", "no" */
        char *file;   /* the external overlay; NULL otherwise */
};

struct virt_snapshot {
        char *name;
        char *description; /* NULL: none */
        char *parent;      /* NULL: a root snapshot */
        char *state;       /* the domain's state it recorded: "running", "shutoff", "disk-snapshot", ... */
        time_t created;
        bool current;
        enum virt_snapshot_kind kind; /* derived from the memory and disk modes */
        char *memory_mode; /* "no", "internal", "external" */
        char *memory_file; /* NULL unless external */
        struct virt_snapshot_disk *disks;
        size_t n_disks;
};

void virt_snapshot_done(struct virt_snapshot *s);
void virt_snapshot_array_free(struct virt_snapshot *a, size_t n);

/* Every snapshot of the domain, oldest first. -ENOENT when there is no such domain. */
int virt_snapshot_list(struct virt_conn *c, const char *uuid, struct virt_snapshot **ret, size_t *ret_n,
                       struct sovd_err *err);

/* One snapshot; -ENOENT (with @err naming which) when the domain or the snapshot does not exist. */
int virt_snapshot_get(struct virt_conn *c, const char *uuid, const char *name, struct virt_snapshot *ret,
                      struct sovd_err *err);

struct virt_snapshot_overlay {
        const char *target; /* a disk of the domain ("vda") */
        const char *file;   /* where its external overlay is written */
};

struct virt_snapshot_request {
        const char *name;
        const char *description; /* NULL: none */
        enum virt_snapshot_kind kind;
        const char *memory_file; /* FULL only */
        /*
         * DISK_ONLY and FULL: the disks to snapshot and their overlays; every
         * other disk of the domain is left out (snapshot='no').
         * INTERNAL: the disks to snapshot (file NULL); others left out.
         */
        const struct virt_snapshot_overlay *disks;
        size_t n_disks;
};

/*
 * Creates the snapshot. Every string is escaped into the XML. -EEXIST when
 * the name is taken, -EOPNOTSUPP when the driver cannot make this kind
 * (message from libvirt), -SOVD_E_BAD_STATE when the domain's state does
 * not allow it.
 */
int virt_snapshot_create(struct virt_conn *c, const char *uuid, const struct virt_snapshot_request *req,
                         struct sovd_err *err);

/* Reverts to the snapshot. -EOPNOTSUPP when libvirt cannot (external snapshots before libvirt 9.7). */
int virt_snapshot_revert(struct virt_conn *c, const char *uuid, const char *name, struct sovd_err *err);

/* Deletes the snapshot and its data. -EOPNOTSUPP when libvirt cannot (external snapshots before 9.7). */
int virt_snapshot_delete(struct virt_conn *c, const char *uuid, const char *name, struct sovd_err *err);
