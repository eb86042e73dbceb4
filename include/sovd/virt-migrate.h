/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Migration of a domain to another libvirtd, peer to peer. */

#include <stdbool.h>

#include "sovd/virt-conn.h"

struct virt_migration {
        const char *dest_uri; /* the destination libvirtd, as it advertises itself (qemu+tcp://HOST/system) */
        const char *data_uri; /* where QEMU's migration stream goes (tcp://HOST); NULL: libvirt's choice */
        bool live;            /* false: offline, the definition only (the domain must be shut off) */
        bool copy_storage;    /* every disk copied to the destination (NBD), which creates the files */
        const char *dest_xml; /* the domain as the destination defines it; NULL: as it is here */
        /*
         * Disks stay where they are on storage the operator declares shared
         * although libvirt cannot tell (VIR_MIGRATE_UNSAFE); without it
         * libvirt refuses disks on a local file system.
         */
        bool unsafe;
};

/*
 * Migrates the domain and waits for the end: peer to peer (this libvirtd
 * talks to the destination's), persistent there, and undefined here only
 * once the destination runs it. On failure or abort the domain stays here,
 * as it was. Runs as long as the migration does; virt_domain_abort_job()
 * from another thread stops it.
 */
int virt_domain_migrate(struct virt_conn *c, const char *uuid, const struct virt_migration *m, struct sovd_err *err);

/* The domain's XML as a migration carries it (VIR_DOMAIN_XML_MIGRATABLE). */
int virt_domain_migratable_xml(struct virt_conn *c, const char *uuid, char **ret, struct sovd_err *err);
