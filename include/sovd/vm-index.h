/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * An in-memory index of the host's domains, so that listing VMs costs no
 * libvirt call per domain (N round trips to libvirtd on a real host).
 *
 * It is a cache of libvirt's truth, not a record of its own: rebuilt from
 * libvirt whenever the connection is (re)established, refreshed per domain
 * on every lifecycle and metadata event and after every change the API
 * makes, and dropped when the connection goes. Each entry holds the VM's
 * summary already serialised by the API's serializer.
 *
 * Every refresh takes a ticket before it reads libvirt; an entry is only
 * replaced by a read that started later than the one that wrote it, so a
 * slow, stale read can never overwrite a newer one. Because libvirt emits
 * an event after every state change, the read triggered by the last event
 * always wins.
 *
 * Thread-safe: one rwlock guards the entries (readers: listings).
 */

#include <stdbool.h>

#include "sovd/strbuf.h"
#include "sovd/vm-service.h"

/* Serialises one VM summary; returns a malloc'd string or NULL on OOM. */
typedef char *(*vm_index_serializer_t)(const struct vm_view *v);

void vm_index_init(vm_index_serializer_t serializer);
void vm_index_free(void);

/* Rebuilds the index from libvirt (on connect). Runs on the libvirt event thread. */
void vm_index_resync(void);

/* Forgets everything (on disconnect); listings fall back to libvirt until the next resync. */
void vm_index_invalidate(void);

/* Re-reads one domain from libvirt; removes it when libvirt no longer has it. */
void vm_index_refresh(const char *uuid);

/*
 * Appends the serialised summaries of the VMs matching @f, comma-separated,
 * to @out. Returns -EAGAIN when the index is not valid (not synced yet).
 */
int vm_index_list(const struct vm_filter *f, struct strbuf *out);

/* The listed VMs by state, and how many of them sovd manages; -EAGAIN while the index is not valid. */
int vm_index_count(size_t counts[static _VM_STATE_MAX], size_t *ret_managed);
