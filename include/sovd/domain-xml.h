/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "sovd/binding.h"
#include "sovd/id.h"
#include "sovd/vm-spec.h"

/*
 * Writes the domain XML for @spec: domain @type ("kvm", "qemu", "test"),
 * one virtio qcow2 disk per entry of @disk_paths (in spec order), one
 * virtio NIC per network, and the sovd binding in <metadata>. Every
 * outside value is escaped; the spec must have passed vm_spec_parse().
 */
int domain_xml_build(const struct vm_spec *spec, const char *type, const char *const *disk_paths,
                     const struct binding *binding, char **ret);

/*
 * Reads a domain XML received from outside (the libvirt hook's stdin):
 * the sovd binding when there is one (*ret_binding NULL otherwise, or when
 * it is invalid: then @err says why and the return is -EBADMSG), the
 * source paths of its disks (NULL-terminated) and its UUID in lower case
 * (empty when it has none that is valid). No network, no entities.
 */
int domain_xml_inspect(const char *xml, size_t len, struct binding **ret_binding, char ***ret_disk_paths,
                       char ret_uuid[static ID_TEXT_LEN], struct sovd_err *err);

/* A disk of a restored VM: the device target and the file now holding its data. */
struct restored_disk {
        const char *target;
        const char *path;
};

/*
 * The domain XML of a VM restored from a backup: @source_xml (the domain as
 * it was backed up) with @name and @uuid, every listed disk pointing at its
 * restored qcow2 file (backing chains dropped), no MAC addresses (libvirt
 * assigns new ones, so the copy can run beside the original), no NVRAM
 * path, and @binding instead of any sovd metadata it carried. Disks not
 * listed are removed: their data was not restored. -EBADMSG (with @err)
 * for XML that is not a domain.
 */
int domain_xml_for_restore(const char *source_xml, const char *name, const char *uuid,
                           const struct restored_disk *disks, size_t n_disks, const struct binding *binding,
                           char **ret, struct sovd_err *err);

/*
 * The domain XML a migration hands the destination: @source_xml (libvirt's
 * migratable XML) with @binding instead of the sovd binding it carried (the
 * same one plus the migration's id), and, when storage is copied, the
 * listed disks pointing at their files in the destination pool.
 */
int domain_xml_for_migration(const char *source_xml, const struct restored_disk *disks, size_t n_disks,
                             const struct binding *binding, char **ret, struct sovd_err *err);
