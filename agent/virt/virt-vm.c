/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "sovd/virt-vm.h"
#include "virt-private.h"

static const char *const vm_state_table[_VM_STATE_MAX] = {
        [VM_STATE_UNKNOWN] = "unknown",   [VM_STATE_RUNNING] = "running",
        [VM_STATE_BLOCKED] = "blocked",   [VM_STATE_PAUSED] = "paused",
        [VM_STATE_SHUTTING_DOWN] = "shutting-down", [VM_STATE_SHUTOFF] = "shutoff",
        [VM_STATE_CRASHED] = "crashed",   [VM_STATE_PMSUSPENDED] = "pmsuspended",
};

const char *vm_state_to_string(enum vm_state s) {
        return s < _VM_STATE_MAX ? vm_state_table[s] : "unknown";
}

int vm_state_from_string(const char *s) {
        for (int i = 0; i < _VM_STATE_MAX; i++)
                if (streq(vm_state_table[i], s))
                        return i;
        return -EINVAL;
}

static const char *const vm_action_table[_VM_ACTION_MAX] = {
        [VM_ACTION_START] = "start",   [VM_ACTION_SHUTDOWN] = "shutdown", [VM_ACTION_STOP] = "stop",
        [VM_ACTION_REBOOT] = "reboot", [VM_ACTION_SUSPEND] = "suspend",   [VM_ACTION_RESUME] = "resume",
};

const char *vm_action_to_string(enum vm_action a) {
        return a < _VM_ACTION_MAX ? vm_action_table[a] : NULL;
}

int vm_action_from_string(const char *s) {
        for (int i = 0; i < _VM_ACTION_MAX; i++)
                if (streq(vm_action_table[i], s))
                        return i;
        return -EINVAL;
}

static enum vm_state state_from_libvirt(int s) {
        switch (s) {
        case VIR_DOMAIN_RUNNING:
                return VM_STATE_RUNNING;
        case VIR_DOMAIN_BLOCKED:
                return VM_STATE_BLOCKED;
        case VIR_DOMAIN_PAUSED:
                return VM_STATE_PAUSED;
        case VIR_DOMAIN_SHUTDOWN:
                return VM_STATE_SHUTTING_DOWN;
        case VIR_DOMAIN_SHUTOFF:
                return VM_STATE_SHUTOFF;
        case VIR_DOMAIN_CRASHED:
                return VM_STATE_CRASHED;
        case VIR_DOMAIN_PMSUSPENDED:
                return VM_STATE_PMSUSPENDED;
        default:
                return VM_STATE_UNKNOWN;
        }
}

void virt_domain_done(struct virt_domain *d) {
        if (!d)
                return;
        free(d->name);
        free(d->binding_xml);
        for (size_t i = 0; i < d->n_disks; i++) {
                free(d->disks[i].target);
                free(d->disks[i].path);
                free(d->disks[i].format);
        }
        free(d->disks);
        for (size_t i = 0; i < d->n_interfaces; i++) {
                free(d->interfaces[i].network);
                free(d->interfaces[i].mac);
        }
        free(d->interfaces);
        strv_free(d->storage);
        *d = (struct virt_domain){};
}

void virt_domain_array_free(struct virt_domain *a, size_t n) {
        for (size_t i = 0; i < n; i++)
                virt_domain_done(&a[i]);
        free(a);
}

/* Fills identity, state, size and binding. */
static int domain_summary(struct virt_conn *c, virDomainPtr dom, struct virt_domain *d, struct sovd_err *err) {
        virDomainInfo info;
        const char *name;

        if (virDomainGetUUIDString(dom, d->uuid) < 0)
                return virt_error(err, c, "cannot read domain UUID");
        name = virDomainGetName(dom);
        d->name = strdup(name ? name : "");
        if (!d->name)
                return -ENOMEM;
        if (virDomainGetInfo(dom, &info) < 0)
                return virt_error(err, c, "cannot read state of domain '%s'", d->name);
        d->state = state_from_libvirt(info.state);
        d->active = info.state != VIR_DOMAIN_SHUTOFF && info.state != VIR_DOMAIN_NOSTATE;
        d->vcpus = info.nrVirtCpu;
        d->memory_kib = info.maxMem;

        d->binding_xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, SOVD_BINDING_NS, 0);
        if (!d->binding_xml) {
                virErrorPtr e = virGetLastError();
                if (!e || e->code != VIR_ERR_NO_DOMAIN_METADATA)
                        return virt_error(err, c, "cannot read sovd metadata of domain '%s'", d->name);
                virResetLastError();
        }
        return 0;
}

int virt_domain_list(struct virt_conn *c, struct virt_domain **ret, size_t *ret_n, struct sovd_err *err) {
        virDomainPtr *doms = NULL;
        struct virt_domain *a = NULL;
        int n, r = 0, i;

        n = virConnectListAllDomains(virt_conn_ptr(c), &doms, 0);
        if (n < 0)
                return virt_error(err, c, "cannot list domains");
        a = calloc((size_t) n + 1, sizeof(*a));
        if (!a)
                r = -ENOMEM;
        for (i = 0; i < n; i++) {
                if (r >= 0) {
                        r = domain_summary(c, doms[i], &a[i], err);
                        /* A domain undefined between listing and reading is simply gone. */
                        if (r == -ENOENT) {
                                virt_domain_done(&a[i]);
                                r = 0;
                        }
                }
                virDomainFree(doms[i]);
        }
        free(doms);
        if (r < 0) {
                virt_domain_array_free(a, (size_t) n);
                return r;
        }
        /* Compact away the entries of vanished domains. */
        size_t k = 0;
        for (i = 0; i < n; i++)
                if (a[i].name)
                        a[k++] = a[i];
        *ret = a;
        *ret_n = k;
        return 0;
}

static char *xml_attr(xmlNodePtr node, const char *xpath, xmlXPathContextPtr ctx) {
        xmlXPathObjectPtr o;
        char *s = NULL;

        ctx->node = node;
        o = xmlXPathEvalExpression((const xmlChar *) xpath, ctx);
        if (o && o->type == XPATH_STRING && o->stringval && o->stringval[0])
                s = strdup((const char *) o->stringval);
        xmlXPathFreeObject(o);
        return s;
}

/* A source element's file, dev or dir; "protocol:name" for network storage; NULL when empty. */
static char *domain_source_path(xmlNodePtr node) {
        static const char *const attrs[] = { "file", "dev", "dir", "volume" };
        xmlChar *v, *proto;
        char *r = NULL;

        for (size_t i = 0; i < ELEMENTSOF(attrs); i++) {
                v = xmlGetProp(node, (const xmlChar *) attrs[i]);
                if (v && v[0]) {
                        r = strdup((const char *) v);
                        xmlFree(v);
                        return r;
                }
                xmlFree(v);
        }
        v = xmlGetProp(node, (const xmlChar *) "name");
        proto = xmlGetProp(node, (const xmlChar *) "protocol");
        if (v && v[0] && asprintf(&r, "%s:%s", proto ? (const char *) proto : "network", (const char *) v) < 0)
                r = NULL;
        xmlFree(v);
        xmlFree(proto);
        return r;
}

/* Reads disks, network interfaces and every storage source out of the domain XML. */
static int domain_devices(struct virt_conn *c, virDomainPtr dom, struct virt_domain *d, struct sovd_err *err) {
        _cleanup_free_ char *xml = NULL;
        xmlDocPtr doc = NULL;
        xmlXPathContextPtr ctx = NULL;
        xmlXPathObjectPtr disks = NULL, ifaces = NULL, sources = NULL;
        int r = -ENOMEM;

        xml = virDomainGetXMLDesc(dom, 0);
        if (!xml)
                return virt_error(err, c, "cannot read XML of domain '%s'", d->name);
        doc = xmlReadMemory(xml, (int) strlen(xml), "domain.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc)
                return err_set(err, -SOVD_E_LIBVIRT, "libvirt returned unparsable XML for domain '%s'", d->name);
        ctx = xmlXPathNewContext(doc);
        if (!ctx)
                goto out;
        disks = xmlXPathEvalExpression((const xmlChar *) "/domain/devices/disk[@device='disk']", ctx);
        ifaces = xmlXPathEvalExpression((const xmlChar *) "/domain/devices/interface", ctx);
        sources = xmlXPathEvalExpression((const xmlChar *) DOMAIN_STORAGE_SOURCES_XPATH, ctx);
        if (!disks || !ifaces || !sources)
                goto out;
        {
                size_t n = sources->nodesetval ? (size_t) sources->nodesetval->nodeNr : 0;
                d->storage = calloc(n + 1, sizeof(char *));
                if (!d->storage)
                        goto out;
                for (size_t i = 0; i < n; i++) {
                        char *path = domain_source_path(sources->nodesetval->nodeTab[i]);
                        if (path)
                                d->storage[d->n_storage++] = path;
                }
        }
        if (disks->nodesetval && disks->nodesetval->nodeNr > 0) {
                size_t n = (size_t) disks->nodesetval->nodeNr;
                d->disks = calloc(n, sizeof(*d->disks));
                if (!d->disks)
                        goto out;
                for (size_t i = 0; i < n; i++) {
                        xmlNodePtr node = disks->nodesetval->nodeTab[i];
                        struct virt_disk *k = &d->disks[d->n_disks++];
                        k->target = xml_attr(node, "string(target/@dev)", ctx);
                        k->path = xml_attr(node, "string(source/@file)", ctx);
                        if (!k->path)
                                k->path = xml_attr(node, "string(source/@dev)", ctx);
                        k->format = xml_attr(node, "string(driver/@type)", ctx);
                }
        }
        if (ifaces->nodesetval && ifaces->nodesetval->nodeNr > 0) {
                size_t n = (size_t) ifaces->nodesetval->nodeNr;
                d->interfaces = calloc(n, sizeof(*d->interfaces));
                if (!d->interfaces)
                        goto out;
                for (size_t i = 0; i < n; i++) {
                        xmlNodePtr node = ifaces->nodesetval->nodeTab[i];
                        struct virt_interface *f = &d->interfaces[d->n_interfaces++];
                        f->network = xml_attr(node, "string(source/@network)", ctx);
                        f->mac = xml_attr(node, "string(mac/@address)", ctx);
                }
        }
        r = 0;
out:
        xmlXPathFreeObject(disks);
        xmlXPathFreeObject(ifaces);
        xmlXPathFreeObject(sources);
        xmlXPathFreeContext(ctx);
        xmlFreeDoc(doc);
        return r;
}

static int lookup(struct virt_conn *c, const char *uuid, virDomainPtr *ret, struct sovd_err *err) {
        virDomainPtr dom = virDomainLookupByUUIDString(virt_conn_ptr(c), uuid);

        if (!dom)
                return virt_error(err, c, "domain %s", uuid);
        *ret = dom;
        return 0;
}

static int domain_get(struct virt_conn *c, const char *uuid, bool devices, struct virt_domain *ret,
                      struct sovd_err *err) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        struct virt_domain d = {};
        int r;

        r = lookup(c, uuid, &dom, err);
        if (r < 0)
                return r;
        r = domain_summary(c, dom, &d, err);
        if (r >= 0 && devices)
                r = domain_devices(c, dom, &d, err);
        if (r < 0) {
                virt_domain_done(&d);
                return r;
        }
        *ret = d;
        return 0;
}

int virt_domain_get(struct virt_conn *c, const char *uuid, struct virt_domain *ret, struct sovd_err *err) {
        return domain_get(c, uuid, true, ret, err);
}

int virt_domain_get_summary(struct virt_conn *c, const char *uuid, struct virt_domain *ret,
                            struct sovd_err *err) {
        return domain_get(c, uuid, false, ret, err);
}

int virt_domain_name_free(struct virt_conn *c, const char *name, struct sovd_err *err) {
        virDomainPtr dom = virDomainLookupByName(virt_conn_ptr(c), name);
        int r;

        if (dom) {
                virDomainFree(dom);
                return err_set(err, -EEXIST, "a domain named '%s' already exists", name);
        }
        r = virt_error(err, c, "domain '%s'", name);
        if (r == -ENOENT) {
                virResetLastError();
                return 0;
        }
        return r;
}

int virt_domain_define(struct virt_conn *c, const char *xml, char ret_uuid[static ID_TEXT_LEN],
                       struct sovd_err *err) {
        _cleanup_domain_ virDomainPtr dom = NULL;

        /* VALIDATE: libvirt checks the XML against its schema, a second line behind our own checks. */
        dom = virDomainDefineXMLFlags(virt_conn_ptr(c), xml, VIR_DOMAIN_DEFINE_VALIDATE);
        if (!dom)
                return virt_error(err, c, "cannot define domain");
        if (virDomainGetUUIDString(dom, ret_uuid) < 0)
                return virt_error(err, c, "cannot read UUID of the new domain");
        return 0;
}

int virt_domain_undefine(struct virt_conn *c, const char *uuid, struct sovd_err *err) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        _cleanup_free_ char *name = NULL;
        unsigned flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                         VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA | VIR_DOMAIN_UNDEFINE_NVRAM;
        int r;

        r = lookup(c, uuid, &dom, err);
        if (r < 0)
                return r;
        name = strdup(virDomainGetName(dom));
        if (!name)
                return -ENOMEM;
        r = virDomainIsActive(dom);
        if (r < 0)
                return virt_error(err, c, "domain %s", uuid);
        if (r > 0)
                return err_set(err, -SOVD_E_BAD_STATE, "domain '%s' is active; stop it first", name);
        if (virDomainUndefineFlags(dom, flags) == 0)
                return 0;
        /* Drivers without checkpoints or NVRAM (the test driver) refuse those flags. */
        if (virGetLastErrorCode() == VIR_ERR_INVALID_ARG || virGetLastErrorCode() == VIR_ERR_NO_SUPPORT) {
                virResetLastError();
                if (virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                                        VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA) == 0)
                        return 0;
        }
        return virt_error(err, c, "cannot undefine domain '%s'", name);
}

/* Whether @a makes sense in state @s; checked before libvirt, whose drivers disagree on the error. */
static bool action_allowed(enum vm_action a, enum vm_state s) {
        switch (a) {
        case VM_ACTION_START:
                return s == VM_STATE_SHUTOFF || s == VM_STATE_CRASHED;
        case VM_ACTION_SHUTDOWN:
        case VM_ACTION_REBOOT:
                return s == VM_STATE_RUNNING || s == VM_STATE_BLOCKED;
        case VM_ACTION_STOP:
                return s != VM_STATE_SHUTOFF;
        case VM_ACTION_SUSPEND:
                return s == VM_STATE_RUNNING || s == VM_STATE_BLOCKED;
        case VM_ACTION_RESUME:
                return s == VM_STATE_PAUSED;
        case _VM_ACTION_MAX:
                break;
        }
        return false;
}

int virt_domain_action(struct virt_conn *c, const char *uuid, enum vm_action a, struct sovd_err *err) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        _cleanup_free_ char *name = NULL;
        int r, state, reason;

        r = lookup(c, uuid, &dom, err);
        if (r < 0)
                return r;
        name = strdup(virDomainGetName(dom));
        if (!name)
                return -ENOMEM;
        if (virDomainGetState(dom, &state, &reason, 0) < 0)
                return virt_error(err, c, "cannot read state of domain '%s'", name);
        if (!action_allowed(a, state_from_libvirt(state)))
                return err_set(err, -SOVD_E_BAD_STATE, "cannot %s domain '%s' while it is %s", vm_action_to_string(a),
                               name, vm_state_to_string(state_from_libvirt(state)));
        switch (a) {
        case VM_ACTION_START: {
                /* A start waits for the libvirt hook, which asks sovd: not on the shared connection. */
                virConnectPtr own = NULL;
                virDomainPtr mine;
                r = virt_conn_open_private(c, &own, err);
                if (r < 0)
                        return r;
                mine = virDomainLookupByUUIDString(own, uuid);
                r = mine ? virDomainCreate(mine) : -1;
                if (r < 0)
                        r = virt_error(err, c, "cannot start domain '%s'", name);
                if (mine)
                        virDomainFree(mine);
                virConnectClose(own);
                return r < 0 ? r : 0;
        }
        case VM_ACTION_SHUTDOWN:
                r = virDomainShutdown(dom);
                break;
        case VM_ACTION_STOP:
                r = virDomainDestroy(dom);
                break;
        case VM_ACTION_REBOOT:
                r = virDomainReboot(dom, 0);
                break;
        case VM_ACTION_SUSPEND:
                r = virDomainSuspend(dom);
                break;
        case VM_ACTION_RESUME:
                r = virDomainResume(dom);
                break;
        case _VM_ACTION_MAX:
                return -EINVAL;
        }
        if (r < 0)
                return virt_error(err, c, "cannot %s domain '%s'", vm_action_to_string(a), name);
        return 0;
}
