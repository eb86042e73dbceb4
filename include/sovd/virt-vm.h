/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Domains as sovd sees them: identity, state, size, devices, sovd's metadata. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sovd/id.h"
#include "sovd/virt-conn.h"

/* The XML namespace of sovd's binding inside <metadata>. */
#define SOVD_BINDING_NS "urn:sovd:binding:1"
#define SOVD_BINDING_PREFIX "sovd"

enum vm_state {
        VM_STATE_UNKNOWN,
        VM_STATE_RUNNING,
        VM_STATE_BLOCKED,
        VM_STATE_PAUSED,
        VM_STATE_SHUTTING_DOWN,
        VM_STATE_SHUTOFF,
        VM_STATE_CRASHED,
        VM_STATE_PMSUSPENDED,
        _VM_STATE_MAX,
};

const char *vm_state_to_string(enum vm_state s);
/* Returns the state or -EINVAL. */
int vm_state_from_string(const char *s);

enum vm_action {
        VM_ACTION_START,
        VM_ACTION_SHUTDOWN,
        VM_ACTION_STOP,
        VM_ACTION_REBOOT,
        VM_ACTION_SUSPEND,
        VM_ACTION_RESUME,
        _VM_ACTION_MAX,
};

const char *vm_action_to_string(enum vm_action a);
int vm_action_from_string(const char *s);

struct virt_disk {
        char *target; /* "vda" */
        char *path;   /* source file or volume path; NULL for a network or empty disk */
        char *format; /* driver type, "qcow2" */
};

struct virt_interface {
        char *network; /* NULL when not a network interface */
        char *mac;
};

struct virt_domain {
        char uuid[ID_TEXT_LEN];
        char *name;
        enum vm_state state;
        bool active;
        unsigned vcpus;
        uint64_t memory_kib;
        char *binding_xml; /* sovd's <metadata> element, NULL when the domain has none */
        /* Filled only by virt_domain_get(): */
        struct virt_disk *disks;
        size_t n_disks;
        struct virt_interface *interfaces;
        size_t n_interfaces;
        /*
         * Every place the domain's data lives, for policy checks: the sources
         * of all disks (disk, cdrom, floppy, lun), their backing chains and
         * filesystem shares; network sources as "protocol:name".
         */
        char **storage;
        size_t n_storage;
};

/*
 * The XPath of every storage source of a domain XML, shared by the libvirt
 * layer and by admission of XML handed in by the hook, so they never differ.
 */
#define DOMAIN_STORAGE_SOURCES_XPATH \
        "/domain/devices/disk/source | /domain/devices/disk//backingStore/source | /domain/devices/filesystem/source"

void virt_domain_done(struct virt_domain *d);
void virt_domain_array_free(struct virt_domain *a, size_t n);

/* Every domain, active or not, without devices. *ret is an array of *ret_n. */
int virt_domain_list(struct virt_conn *c, struct virt_domain **ret, size_t *ret_n, struct sovd_err *err);

/* One domain by UUID, with devices. -ENOENT when there is none. */
int virt_domain_get(struct virt_conn *c, const char *uuid, struct virt_domain *ret, struct sovd_err *err);

/* One domain by UUID, without devices (what a listing shows). -ENOENT when there is none. */
int virt_domain_get_summary(struct virt_conn *c, const char *uuid, struct virt_domain *ret,
                            struct sovd_err *err);

/* 0 when no domain has @name, -EEXIST when one does. */
int virt_domain_name_free(struct virt_conn *c, const char *name, struct sovd_err *err);

/* Defines a persistent domain from @xml; returns its UUID. -EEXIST when the name is taken. */
int virt_domain_define(struct virt_conn *c, const char *xml, char ret_uuid[static ID_TEXT_LEN],
                       struct sovd_err *err);

/*
 * Removes the definition of an inactive domain, with its snapshot,
 * checkpoint and managed-save metadata and NVRAM. -SOVD_E_BAD_STATE if active.
 */
int virt_domain_undefine(struct virt_conn *c, const char *uuid, struct sovd_err *err);

/* Runs a lifecycle action; -SOVD_E_BAD_STATE when the state does not allow it. */
int virt_domain_action(struct virt_conn *c, const char *uuid, enum vm_action a, struct sovd_err *err);
