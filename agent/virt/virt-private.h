/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the files of agent/virt only: the libvirt types behind struct virt_conn. */

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "sovd/errors.h"
#include "sovd/virt-conn.h"

/* struct virt_conn is libvirt's connection itself, reference-counted by libvirt. */
static inline virConnectPtr virt_conn_ptr(struct virt_conn *c) {
        return (virConnectPtr) c;
}

/*
 * Converts libvirt's last error on this thread into a sovd error code and a
 * message "<what>: <libvirt's message>". A failure on a connection that is
 * no longer alive becomes -SOVD_E_LIBVIRT_DOWN.
 */
int virt_error(struct sovd_err *err, struct virt_conn *c, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static inline void virDomainFreep(virDomainPtr *d) {
        if (*d)
                virDomainFree(*d);
}
#define _cleanup_domain_ __attribute__((cleanup(virDomainFreep)))

static inline void virStoragePoolFreep(virStoragePoolPtr *p) {
        if (*p)
                virStoragePoolFree(*p);
}
#define _cleanup_pool_ __attribute__((cleanup(virStoragePoolFreep)))

static inline void virStorageVolFreep(virStorageVolPtr *v) {
        if (*v)
                virStorageVolFree(*v);
}
#define _cleanup_vol_ __attribute__((cleanup(virStorageVolFreep)))
