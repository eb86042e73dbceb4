/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The VM spec of POST /v1/vms, parsed from JSON and validated completely:
 * every string that will reach domain XML, a volume name or a log is
 * checked here, before anything is created.
 */

#include <stdint.h>
#include <json-c/json.h>

#include "sovd/errors.h"
#include "sovd/labels.h"

#define VM_SPEC_MAX_DISKS 16
#define VM_SPEC_MAX_NETWORKS 8
#define VM_SPEC_MAX_VCPUS 256
#define VM_SPEC_MIN_MEMORY_MIB 16
#define VM_SPEC_MAX_MEMORY_MIB (4 * 1024 * 1024)
#define VM_SPEC_MAX_DISK_GIB 65536

struct vm_spec_disk {
        char *pool;
        uint64_t size_gib; /* 0: take the image's size */
        char *image;       /* volume in the same pool used as backing file, or NULL */
};

struct vm_spec_network {
        char *network;
};

struct vm_spec {
        char *name;
        char *tenant;
        char *policy;
        unsigned vcpus;
        uint64_t memory_mib;
        struct vm_spec_disk disks[VM_SPEC_MAX_DISKS];
        size_t n_disks;
        struct vm_spec_network networks[VM_SPEC_MAX_NETWORKS];
        size_t n_networks;
        struct label *labels;
        size_t n_labels;
};

/* Fills @ret from @doc; on failure @ret is left empty and @err says which member is wrong. */
int vm_spec_parse(struct json_object *doc, struct vm_spec *ret, struct sovd_err *err);

void vm_spec_done(struct vm_spec *spec);

/* The name of the volume sovd creates for disk @index: "<vm>-disk<index>.qcow2". */
int vm_spec_volume_name(const struct vm_spec *spec, size_t index, char **ret);
