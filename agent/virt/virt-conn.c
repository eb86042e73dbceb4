/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "sovd/log.h"
#include "virt-private.h"

#define RECONNECT_INTERVAL_MS 1000
#define KEEPALIVE_INTERVAL_S 5
#define KEEPALIVE_COUNT 3

/*
 * Connection state, guarded by state_lock. The event thread is the only
 * writer of `conn`; request threads take references under the lock.
 */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static virConnectPtr conn;
static struct virt_status status;
static uint64_t free_memory_kib;
static time_t free_memory_at;

/* Owned by the event thread. */
static pthread_t event_thread;
static volatile bool event_thread_running;
static volatile bool stopping;
static int reconnect_timer = -1;
static int lifecycle_callback = -1;
static int metadata_callback = -1;
static virConnectPtr stale_conn; /* closed connection waiting to be released */
static virt_state_cb_t state_callback;
static virt_domain_event_cb_t event_callback;
static void *callback_userdata;

/* libvirt prints every error to stderr by default; sovd reports errors itself. */
static void silence_errors(void *userdata, virErrorPtr error) {
}

int virt_error(struct sovd_err *err, struct virt_conn *c, const char *fmt, ...) {
        virErrorPtr e = virGetLastError();
        char what[SOVD_ERR_MSG_MAX], message[SOVD_ERR_MSG_MAX];
        int code, lv_code;
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);

        if (!e)
                return err_set(err, -SOVD_E_LIBVIRT, "%s: unknown libvirt error", what);
        /* Copy first: every libvirt call, virConnectIsAlive() below included, resets the error. */
        lv_code = e->code;
        snprintf(message, sizeof(message), "%s", e->message ? e->message : "unknown libvirt error");

        switch (lv_code) {
        case VIR_ERR_NO_DOMAIN:
        case VIR_ERR_NO_DOMAIN_SNAPSHOT:
        case VIR_ERR_NO_DOMAIN_CHECKPOINT:
                code = -ENOENT;
                break;
        case VIR_ERR_NO_STORAGE_POOL:
        case VIR_ERR_NO_STORAGE_VOL:
        case VIR_ERR_NO_NETWORK:
                code = -SOVD_E_UNRESOLVED;
                break;
        case VIR_ERR_OPERATION_INVALID:
                code = -SOVD_E_BAD_STATE;
                break;
        case VIR_ERR_DOM_EXIST:
        case VIR_ERR_STORAGE_VOL_EXIST:
                code = -EEXIST;
                break;
        case VIR_ERR_XML_ERROR:
        case VIR_ERR_XML_DETAIL:
        case VIR_ERR_CONFIG_UNSUPPORTED:
        case VIR_ERR_INVALID_ARG:
                code = -EINVAL;
                break;
        case VIR_ERR_NO_SUPPORT:
        case VIR_ERR_OPERATION_UNSUPPORTED:
                code = -EOPNOTSUPP;
                break;
        case VIR_ERR_OPERATION_TIMEOUT:
        case VIR_ERR_AGENT_UNRESPONSIVE:
                code = -ETIMEDOUT;
                break;
        default:
                code = -SOVD_E_LIBVIRT;
        }
        /* An RPC failure on a dead connection is an outage, not the caller's fault. */
        if (c && virConnectIsAlive(virt_conn_ptr(c)) != 1)
                code = -SOVD_E_LIBVIRT_DOWN;
        return err_set(err, code, "%s: %s", what, message);
}

static void version_string(unsigned long v, char *buf, size_t n) {
        (void) snprintf(buf, n, "%lu.%lu.%lu", v / 1000000, (v / 1000) % 1000, v % 1000);
}

/*
 * Reads the host UUID and the best domain type from the capabilities XML:
 * kvm when the host offers it, else qemu (TCG), test for the test driver.
 */
static void read_capabilities(virConnectPtr c, struct virt_host_info *h) {
        _cleanup_free_ char *caps = virConnectGetCapabilities(c);
        xmlDocPtr doc = NULL;
        xmlXPathContextPtr ctx = NULL;
        xmlXPathObjectPtr o = NULL;

        snprintf(h->domain_type, sizeof(h->domain_type), "%s", strcasecmp(h->driver, "Test") == 0 ? "test" : "qemu");
        if (!caps)
                return;
        doc = xmlReadMemory(caps, (int) strlen(caps), "capabilities.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc)
                return;
        ctx = xmlXPathNewContext(doc);
        if (!ctx)
                goto out;
        o = xmlXPathEvalExpression((const xmlChar *) "string(/capabilities/host/uuid)", ctx);
        if (o && o->stringval && strlen((const char *) o->stringval) == ID_TEXT_LEN - 1)
                snprintf(h->host_uuid, sizeof(h->host_uuid), "%s", (const char *) o->stringval);
        xmlXPathFreeObject(o);
        o = xmlXPathEvalExpression((const xmlChar *) "count(/capabilities/guest/arch/domain[@type='kvm'])", ctx);
        if (o && o->floatval > 0 && !streq(h->domain_type, "test"))
                snprintf(h->domain_type, sizeof(h->domain_type), "kvm");
        xmlXPathFreeObject(o);
out:
        xmlXPathFreeContext(ctx);
        xmlFreeDoc(doc);
}

static void read_host_info(virConnectPtr c, struct virt_host_info *h) {
        unsigned long v = 0;
        virNodeInfo ni;
        const char *type;

        *h = (struct virt_host_info){};
        type = virConnectGetType(c);
        snprintf(h->driver, sizeof(h->driver), "%s", type ? type : "unknown");
        if (virConnectGetLibVersion(c, &v) == 0)
                version_string(v, h->library_version, sizeof(h->library_version));
        v = 0;
        if (virConnectGetVersion(c, &v) == 0)
                version_string(v, h->hypervisor_version, sizeof(h->hypervisor_version));
        if (virNodeGetInfo(c, &ni) == 0) {
                h->cpus = ni.cpus;
                h->memory_kib = ni.memory;
        }
        read_capabilities(c, h);
}

static void lifecycle_event(virConnectPtr c, virDomainPtr dom, int event, int detail, void *opaque) {
        static const char *const names[] = {
                [VIR_DOMAIN_EVENT_DEFINED] = "defined",   [VIR_DOMAIN_EVENT_UNDEFINED] = "undefined",
                [VIR_DOMAIN_EVENT_STARTED] = "started",   [VIR_DOMAIN_EVENT_SUSPENDED] = "suspended",
                [VIR_DOMAIN_EVENT_RESUMED] = "resumed",   [VIR_DOMAIN_EVENT_STOPPED] = "stopped",
                [VIR_DOMAIN_EVENT_SHUTDOWN] = "shutdown", [VIR_DOMAIN_EVENT_PMSUSPENDED] = "pmsuspended",
                [VIR_DOMAIN_EVENT_CRASHED] = "crashed",
        };
        char uuid[VIR_UUID_STRING_BUFLEN];
        const char *ev = event >= 0 && (size_t) event < ELEMENTSOF(names) && names[event] ? names[event]
                                                                                         : "unknown";

        if (virDomainGetUUIDString(dom, uuid) < 0)
                return;
        if (event_callback)
                event_callback(uuid, virDomainGetName(dom), ev, callback_userdata);
}

static void metadata_event(virConnectPtr c, virDomainPtr dom, int type, const char *nsuri, void *opaque) {
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (virDomainGetUUIDString(dom, uuid) < 0)
                return;
        if (event_callback)
                event_callback(uuid, virDomainGetName(dom), "metadata-changed", callback_userdata);
}

static void connection_closed(virConnectPtr c, int reason, void *opaque) {
        static const char *const reasons[] = {
                [VIR_CONNECT_CLOSE_REASON_ERROR] = "misc I/O error",
                [VIR_CONNECT_CLOSE_REASON_EOF] = "libvirtd closed the connection",
                [VIR_CONNECT_CLOSE_REASON_KEEPALIVE] = "keepalive timeout",
                [VIR_CONNECT_CLOSE_REASON_CLIENT] = "closed by client",
        };
        const char *why = reason >= 0 && (size_t) reason < ELEMENTSOF(reasons) ? reasons[reason] : "unknown";

        pthread_mutex_lock(&state_lock);
        if (conn == c) {
                /* Request threads holding a reference keep it alive; they fail with LIBVIRT_DOWN. */
                stale_conn = conn;
                conn = NULL;
                status.connected = false;
                status.since = time(NULL);
                snprintf(status.error, sizeof(status.error), "connection to %s lost: %s", status.uri, why);
        }
        pthread_mutex_unlock(&state_lock);
        log_warning("libvirt connection to %s lost: %s; reconnecting every %d ms", status.uri, why,
                    RECONNECT_INTERVAL_MS);
        if (state_callback)
                state_callback(false, why, callback_userdata);
        /* Releasing the connection from inside its own close callback is not allowed: defer. */
        virEventUpdateTimeout(reconnect_timer, 0);
}

/* Runs on the event thread (or once at start-up before it exists). */
static bool try_connect(void) {
        struct virt_host_info info;
        virConnectPtr c;
        char uri[sizeof(status.uri)];

        pthread_mutex_lock(&state_lock);
        memcpy(uri, status.uri, sizeof(uri));
        pthread_mutex_unlock(&state_lock);

        c = virConnectOpen(uri);
        if (!c) {
                char reason[SOVD_ERR_MSG_MAX];
                bool changed;
                virErrorPtr e = virGetLastError();

                snprintf(reason, sizeof(reason), "cannot connect to %s: %s", uri,
                         e && e->message ? e->message : "unknown error");
                pthread_mutex_lock(&state_lock);
                changed = !streq(status.error, reason);
                memcpy(status.error, reason, sizeof(reason));
                pthread_mutex_unlock(&state_lock);
                if (changed)
                        log_warning("%s; retrying every %d ms", reason, RECONNECT_INTERVAL_MS);
                return false;
        }
        virConnSetErrorFunc(c, NULL, silence_errors);
        /* Remote drivers only: notices a hung libvirtd, not only a dead one. */
        (void) virConnectSetKeepAlive(c, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT);
        if (virConnectRegisterCloseCallback(c, connection_closed, NULL, NULL) < 0)
                virResetLastError(); /* local drivers (test:///) have no close events */
        lifecycle_callback = virConnectDomainEventRegisterAny(
                c, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(lifecycle_event), NULL, NULL);
        if (lifecycle_callback < 0) {
                log_warning("cannot subscribe to domain events on %s: %s", uri,
                            virGetLastErrorMessage());
                virResetLastError();
        }
        /* Metadata edits (virsh metadata, another agent) change what sovd knows of a VM. */
        metadata_callback = virConnectDomainEventRegisterAny(
                c, NULL, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, VIR_DOMAIN_EVENT_CALLBACK(metadata_event), NULL, NULL);
        if (metadata_callback < 0)
                virResetLastError();
        read_host_info(c, &info);

        pthread_mutex_lock(&state_lock);
        conn = c;
        status.connected = true;
        status.error[0] = '\0';
        status.since = time(NULL);
        status.host = info;
        free_memory_at = 0;
        pthread_mutex_unlock(&state_lock);

        log_info("connected to libvirt at %s (driver %s %s, new domains of type %s)", uri, info.driver,
                 info.hypervisor_version, info.domain_type);
        if (state_callback)
                state_callback(true, NULL, callback_userdata);
        return true;
}

static void reconnect_tick(int timer, void *opaque) {
        virConnectPtr old;

        pthread_mutex_lock(&state_lock);
        old = TAKE_PTR(stale_conn);
        pthread_mutex_unlock(&state_lock);
        if (old) {
                (void) virConnectUnregisterCloseCallback(old, connection_closed);
                virResetLastError();
                (void) virConnectClose(old);
        }
        if (stopping)
                return;
        if (try_connect())
                virEventUpdateTimeout(reconnect_timer, -1); /* idle: no polling while connected */
        else
                virEventUpdateTimeout(reconnect_timer, RECONNECT_INTERVAL_MS);
}

static void wake_event_loop(int timer, void *opaque) {
}

static void *event_loop(void *arg) {
        while (!stopping)
                if (virEventRunDefaultImpl() < 0)
                        break;
        return NULL;
}

int virt_start(const char *uri, virt_state_cb_t state_cb, virt_domain_event_cb_t event_cb, void *userdata) {
        int r;

        if (virInitialize() < 0)
                return -EIO;
        virSetErrorFunc(NULL, silence_errors);
        if (virEventRegisterDefaultImpl() < 0)
                return -EIO;

        state_callback = state_cb;
        event_callback = event_cb;
        callback_userdata = userdata;
        snprintf(status.uri, sizeof(status.uri), "%s", uri);
        status.since = time(NULL);

        /* First attempt inline, so that a reachable libvirt is connected before READY=1. */
        bool up = try_connect();
        reconnect_timer = virEventAddTimeout(up ? -1 : RECONNECT_INTERVAL_MS, reconnect_tick, NULL, NULL);
        if (reconnect_timer < 0)
                return -EIO;

        stopping = false;
        r = pthread_create(&event_thread, NULL, event_loop, NULL);
        if (r != 0)
                return -r;
        (void) pthread_setname_np(event_thread, "sovd-libvirt");
        event_thread_running = true;
        return 0;
}

void virt_stop(void) {
        virConnectPtr c;

        if (event_thread_running) {
                stopping = true;
                /* A zero timeout makes virEventRunDefaultImpl() return so the loop sees `stopping`. */
                (void) virEventAddTimeout(0, wake_event_loop, NULL, NULL);
                pthread_join(event_thread, NULL);
                event_thread_running = false;
        }
        pthread_mutex_lock(&state_lock);
        c = TAKE_PTR(conn);
        status.connected = false;
        pthread_mutex_unlock(&state_lock);
        if (c) {
                if (lifecycle_callback >= 0)
                        (void) virConnectDomainEventDeregisterAny(c, lifecycle_callback);
                if (metadata_callback >= 0)
                        (void) virConnectDomainEventDeregisterAny(c, metadata_callback);
                (void) virConnectUnregisterCloseCallback(c, connection_closed);
                (void) virConnectClose(c);
        }
        if (stale_conn)
                (void) virConnectClose(TAKE_PTR(stale_conn));
}

int virt_conn_acquire(struct virt_conn **ret, struct sovd_err *err) {
        virConnectPtr c;

        pthread_mutex_lock(&state_lock);
        c = conn;
        if (c)
                (void) virConnectRef(c);
        else
                (void) err_set(err, 0, "libvirt is not connected: %s",
                               status.error[0] ? status.error : "connecting");
        pthread_mutex_unlock(&state_lock);
        if (!c)
                return -SOVD_E_LIBVIRT_DOWN;
        *ret = (struct virt_conn *) c;
        return 0;
}

void virt_conn_release(struct virt_conn *c) {
        if (c)
                (void) virConnectClose(virt_conn_ptr(c));
}

void virt_get_status(struct virt_status *ret) {
        pthread_mutex_lock(&state_lock);
        *ret = status;
        pthread_mutex_unlock(&state_lock);
}

int virt_host_free_memory(struct virt_conn *c, uint64_t *ret_kib, struct sovd_err *err) {
        time_t now = time(NULL);
        unsigned long long bytes;

        pthread_mutex_lock(&state_lock);
        if (free_memory_at == now) {
                *ret_kib = free_memory_kib;
                pthread_mutex_unlock(&state_lock);
                return 0;
        }
        pthread_mutex_unlock(&state_lock);

        bytes = virNodeGetFreeMemory(virt_conn_ptr(c));
        if (bytes == 0)
                return virt_error(err, c, "cannot read free host memory");
        pthread_mutex_lock(&state_lock);
        free_memory_kib = bytes / 1024;
        free_memory_at = now;
        pthread_mutex_unlock(&state_lock);
        *ret_kib = bytes / 1024;
        return 0;
}

int virt_network_check(struct virt_conn *c, const char *name, struct sovd_err *err) {
        virNetworkPtr n = virNetworkLookupByName(virt_conn_ptr(c), name);

        if (!n)
                return virt_error(err, c, "network '%s'", name);
        virNetworkFree(n);
        return 0;
}

int virt_conn_open_private(struct virt_conn *c, virConnectPtr *ret, struct sovd_err *err) {
        struct virt_status st;

        virt_get_status(&st);
        if (strcasecmp(st.host.driver, "Test") == 0) {
                if (virConnectRef(virt_conn_ptr(c)) < 0)
                        return virt_error(err, c, "cannot reference the libvirt connection");
                *ret = virt_conn_ptr(c);
                return 0;
        }
        *ret = virConnectOpen(st.uri);
        if (!*ret)
                return virt_error(err, c, "cannot open a connection of its own to %s", st.uri);
        return 0;
}
