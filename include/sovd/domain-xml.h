/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "sovd/binding.h"
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
 * it is invalid: then @err says why and the return is -EBADMSG) and the
 * source paths of its disks (NULL-terminated). No network, no entities.
 */
int domain_xml_inspect(const char *xml, size_t len, struct binding **ret_binding, char ***ret_disk_paths,
                       struct sovd_err *err);
