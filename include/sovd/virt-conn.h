/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The one shared libvirt connection. agent/virt is the only code that sees
 * libvirt; everything above works with the opaque struct virt_conn.
 *
 * A dedicated thread runs libvirt's event loop: it receives domain events,
 * notices when libvirtd goes away (close callback, keepalive) and
 * reconnects by itself once a second until libvirtd is back. While the
 * connection is down, virt_conn_acquire() fails with -SOVD_E_LIBVIRT_DOWN
 * and the API answers 503.
 */

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "sovd/errors.h"
#include "sovd/id.h"

struct virt_conn;

/* Facts about the hypervisor host, read once per connection. */
struct virt_host_info {
        char driver[32];          /* "QEMU", "Test" */
        char domain_type[16];     /* what new domains are defined as: "kvm", "qemu", "test" */
        char host_uuid[ID_TEXT_LEN];
        char library_version[32]; /* "9.0.0" */
        char hypervisor_version[32];
        unsigned cpus;
        uint64_t memory_kib;
};

struct virt_status {
        bool connected;
        char uri[512];
        char error[SOVD_ERR_MSG_MAX]; /* why the connection is down; "" when up */
        time_t since;                 /* when the connection last changed state */
        struct virt_host_info host;   /* valid when connected */
};

typedef void (*virt_state_cb_t)(bool connected, const char *reason, void *userdata);

/*
 * Event kinds forwarded to the upper layers, in the terms of DESIGN.md.
 * The uuid is the domain's; @detail is libvirt's event name ("started").
 */
typedef void (*virt_domain_event_cb_t)(const char *uuid, const char *name, const char *event,
                                       void *userdata);

/*
 * Opens @uri (a failure is not fatal: the reconnect timer keeps trying) and
 * starts the event thread. @state_cb is called from the event thread on every
 * connect and disconnect; @event_cb for every domain lifecycle event.
 */
int virt_start(const char *uri, virt_state_cb_t state_cb, virt_domain_event_cb_t event_cb, void *userdata);

/* Stops the event thread and closes the connection. */
void virt_stop(void);

/*
 * Returns a reference to the live connection, or -SOVD_E_LIBVIRT_DOWN with
 * the reason in @err. Release with virt_conn_release(). Thread-safe.
 */
int virt_conn_acquire(struct virt_conn **ret, struct sovd_err *err);
void virt_conn_release(struct virt_conn *c);
static inline void virt_conn_releasep(struct virt_conn **c) {
        if (*c)
                virt_conn_release(*c);
}
#define _cleanup_virt_conn_ _cleanup_(virt_conn_releasep)

/* A copy of the current state; thread-safe and cheap (no libvirt call). */
void virt_get_status(struct virt_status *ret);

/* Free host memory in KiB, refreshed from libvirt at most once a second. */
int virt_host_free_memory(struct virt_conn *c, uint64_t *ret_kib, struct sovd_err *err);

/* Network lookup: 0 when @name exists, -SOVD_E_UNRESOLVED when not. */
int virt_network_check(struct virt_conn *c, const char *name, struct sovd_err *err);
