/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Storage pools and volumes: the disks sovd creates for its VMs. */

#include <stdint.h>

#include "sovd/virt-conn.h"

struct virt_volume {
        char *path;
        char *format;      /* "qcow2", "raw"; NULL when libvirt does not say */
        uint64_t capacity; /* bytes */
};

void virt_volume_done(struct virt_volume *v);

/*
 * Looks up volume @name in pool @pool. -SOVD_E_UNRESOLVED (with a message
 * naming which) when the pool or the volume does not exist.
 */
int virt_volume_get(struct virt_conn *c, const char *pool, const char *name, struct virt_volume *ret,
                    struct sovd_err *err);

/*
 * Creates a qcow2 volume of @capacity bytes in @pool, optionally on top of
 * @backing (a read-only backing file, given by path and format). Returns
 * the new volume's path. -EEXIST when a volume of that name exists: sovd
 * never takes over a volume it did not create.
 */
int virt_volume_create(struct virt_conn *c, const char *pool, const char *name, uint64_t capacity,
                       const struct virt_volume *backing, char **ret_path, struct sovd_err *err);

/* 0 when pool @pool exists, -SOVD_E_UNRESOLVED when not. */
int virt_pool_check(struct virt_conn *c, const char *pool, struct sovd_err *err);

/* Names of every storage pool libvirt knows (NULL-terminated, caller frees with strv_free). */
int virt_pool_list(struct virt_conn *c, char ***ret, struct sovd_err *err);

/* Deletes volume @name from @pool; -SOVD_E_UNRESOLVED when it is already gone. */
int virt_volume_delete(struct virt_conn *c, const char *pool, const char *name, struct sovd_err *err);

/* Names of the pool and volume a path belongs to; -SOVD_E_UNRESOLVED when none. */
int virt_volume_by_path(struct virt_conn *c, const char *path, char **ret_pool, char **ret_volume,
                        struct sovd_err *err);
