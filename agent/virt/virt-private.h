/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the files of agent/virt only: the libvirt types behind struct virt_conn. */

#include <stdbool.h>
#include <stddef.h>
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

/*
 * A connection of its own for one long call (a start waiting on the hook,
 * a migration): on the shared connection such a call holds up every other
 * caller, the hook's admission request included. For the test driver the
 * shared connection itself (another would be another, empty, host).
 * Release with virConnectClose().
 */
int virt_conn_open_private(struct virt_conn *c, virConnectPtr *ret, struct sovd_err *err);

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

static inline void virDomainSnapshotFreep(virDomainSnapshotPtr *s) {
        if (*s)
                virDomainSnapshotFree(*s);
}
#define _cleanup_snapshot_ __attribute__((cleanup(virDomainSnapshotFreep)))

static inline void virDomainCheckpointFreep(virDomainCheckpointPtr *cp) {
        if (*cp)
                virDomainCheckpointFree(*cp);
}
#define _cleanup_checkpoint_ __attribute__((cleanup(virDomainCheckpointFreep)))

/* The domain with UUID @uuid (a string); -ENOENT when there is none. Free with virDomainFree(). */
static inline int virt_domain_lookup(struct virt_conn *c, const char *uuid, virDomainPtr *ret, struct sovd_err *err) {
        virDomainPtr dom = virDomainLookupByUUIDString(virt_conn_ptr(c), uuid);

        if (!dom)
                return virt_error(err, c, "domain %s", uuid);
        *ret = dom;
        return 0;
}

/* A disk of a domain as its XML describes it, for building snapshot and backup XML. */
struct virt_xml_disk {
        char *target;    /* "vda" */
        char *device;    /* "disk", "cdrom", "floppy", "lun" */
        bool has_source; /* false for an empty drive */
        bool readonly;
};

/*
 * Every <disk> of the domain's current XML (the live one while it runs),
 * in document order. *ret is an array of *ret_n; free with
 * virt_xml_disks_free(). Lives in virt-snapshot.c.
 */
int virt_xml_disks_read(struct virt_conn *c, virDomainPtr dom, struct virt_xml_disk **ret, size_t *ret_n,
                        struct sovd_err *err);
void virt_xml_disks_free(struct virt_xml_disk *d, size_t n);

/* The disk of @d with target @target, or NULL. */
const struct virt_xml_disk *virt_xml_disk_find(const struct virt_xml_disk *d, size_t n, const char *target);
