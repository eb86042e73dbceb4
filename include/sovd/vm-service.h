/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * VM operations as the API offers them, composed from the libvirt layer and
 * the binding. Each call takes the shared connection itself and fails with
 * -SOVD_E_LIBVIRT_DOWN while libvirt is away. Thread-safe.
 */

#include <stdbool.h>

#include "sovd/binding.h"
#include "sovd/virt-vm.h"
#include "sovd/vm-spec.h"

struct vm_disk_ref {
        char *pool;   /* NULL when the disk is not a volume of a known pool */
        char *volume;
        bool created_by_sovd;
};

struct vm_view {
        struct virt_domain domain;
        struct binding *binding;  /* NULL: a domain sovd does not manage */
        char *binding_error;      /* the metadata exists but is not a valid binding */
        struct vm_disk_ref *disk_refs; /* parallel to domain.disks; NULL in lists */
        char **storage_pools;          /* parallel to domain.storage: the pool of each, or NULL */
};

struct admission_disk;
/*
 * Every storage place of @v (disks of any kind, backing chains, shares) as
 * admission takes them, however many; *ret_n their number. Caller frees.
 */
struct admission_disk *vm_view_storage_places(const struct vm_view *v, size_t *ret_n);

void vm_view_done(struct vm_view *v);
void vm_view_array_free(struct vm_view *a, size_t n);

struct vm_filter {
        const char *tenant; /* NULL: any */
        int state;          /* enum vm_state, or -1: any */
};

/* Reads every domain from libvirt now (vm-index.h serves listings from its cache). */
int vm_service_list_live(const struct vm_filter *f, struct vm_view **ret, size_t *ret_n, struct sovd_err *err);
/* One VM with devices and disk references, read from libvirt now. */
int vm_service_get(const char *uuid, struct vm_view *ret, struct sovd_err *err);
/* One VM as listings show it (no devices), read from libvirt now. */
int vm_service_get_summary(const char *uuid, struct vm_view *ret, struct sovd_err *err);

/*
 * Creates volumes, writes the binding and defines the domain. On any
 * failure everything created so far is removed again and @err says what
 * failed (and, should the clean-up itself fail, what was left behind).
 */
int vm_service_create(const struct vm_spec *spec, const char *request_id, const char *policy_digest,
                      char ret_uuid[static ID_TEXT_LEN], struct sovd_err *err);

/* Undefines an inactive VM; with @delete_storage also the volumes sovd created for it. */
int vm_service_delete(const char *uuid, bool delete_storage, struct sovd_err *err);

int vm_service_action(const char *uuid, enum vm_action a, struct sovd_err *err);

/*
 * Progress of a job on a VM as libvirt's job stats give it (bytes done and
 * total): the progress callback of every job kind that runs a libvirt job.
 * -ENODATA when libvirt runs no job for the VM now.
 */
struct job;
int vm_service_job_progress(struct job *j, uint64_t *ret_done, uint64_t *ret_total);

/*
 * The storage pool holding each path (NULL where a path is in no pool),
 * as libvirt's storage driver sees it; *ret is an array of @n owned
 * strings or NULLs, freed with vm_service_pools_free().
 */
int vm_service_pools_of_paths(char *const *paths, size_t n, char ***ret, struct sovd_err *err);
void vm_service_pools_free(char **pools, size_t n);
