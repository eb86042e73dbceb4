/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "sovd/strbuf.h"
#include "sovd/virt-snapshot.h"
#include "virt-private.h"

DEFINE_POINTER_CLEANUP(xmlDoc, xmlFreeDoc)
DEFINE_POINTER_CLEANUP(xmlXPathContext, xmlXPathFreeContext)
DEFINE_POINTER_CLEANUP(xmlXPathObject, xmlXPathFreeObject)

static const char *const kind_table[_VIRT_SNAPSHOT_KIND_MAX] = {
        [VIRT_SNAPSHOT_INTERNAL] = "internal",
        [VIRT_SNAPSHOT_DISK_ONLY] = "disk-only",
        [VIRT_SNAPSHOT_FULL] = "full",
};

const char *virt_snapshot_kind_to_string(enum virt_snapshot_kind k) {
        return k < _VIRT_SNAPSHOT_KIND_MAX ? kind_table[k] : NULL;
}

int virt_snapshot_kind_from_string(const char *s) {
        for (int i = 0; i < _VIRT_SNAPSHOT_KIND_MAX; i++)
                if (streq(kind_table[i], s))
                        return i;
        return -EINVAL;
}

void virt_snapshot_done(struct virt_snapshot *s) {
        if (!s)
                return;
        free(s->name);
        free(s->description);
        free(s->parent);
        free(s->state);
        free(s->memory_mode);
        free(s->memory_file);
        for (size_t i = 0; i < s->n_disks; i++) {
                free(s->disks[i].target);
                free(s->disks[i].mode);
                free(s->disks[i].file);
        }
        free(s->disks);
        *s = (struct virt_snapshot){};
}

void virt_snapshot_array_free(struct virt_snapshot *a, size_t n) {
        for (size_t i = 0; a && i < n; i++)
                virt_snapshot_done(&a[i]);
        free(a);
}

/* The string value of XPath @expr (a string() expression) at @node; *ret NULL when empty. */
static int xpath_string(xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr, char **ret) {
        _cleanup_(xmlXPathFreeObjectp) xmlXPathObjectPtr o = NULL;

        ctx->node = node;
        o = xmlXPathEvalExpression((const xmlChar *) expr, ctx);
        if (!o)
                return -ENOMEM;
        *ret = NULL;
        if (o->type == XPATH_STRING && o->stringval && o->stringval[0]) {
                *ret = strdup((const char *) o->stringval);
                if (!*ret)
                        return -ENOMEM;
        }
        return 0;
}

static int xpath_bool(xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr, bool *ret) {
        _cleanup_(xmlXPathFreeObjectp) xmlXPathObjectPtr o = NULL;

        ctx->node = node;
        o = xmlXPathEvalExpression((const xmlChar *) expr, ctx);
        if (!o)
                return -ENOMEM;
        *ret = o->type == XPATH_BOOLEAN && o->boolval;
        return 0;
}

static xmlDocPtr xml_parse(const char *xml, const char *what) {
        return xmlReadMemory(xml, (int) strlen(xml), what, NULL,
                             XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

void virt_xml_disks_free(struct virt_xml_disk *d, size_t n) {
        for (size_t i = 0; d && i < n; i++) {
                free(d[i].target);
                free(d[i].device);
        }
        free(d);
}

const struct virt_xml_disk *virt_xml_disk_find(const struct virt_xml_disk *d, size_t n, const char *target) {
        for (size_t i = 0; i < n; i++)
                if (d[i].target && streq(d[i].target, target))
                        return &d[i];
        return NULL;
}

static int xml_disks_parse(const char *xml, struct virt_xml_disk **ret, size_t *ret_n) {
        _cleanup_(xmlFreeDocp) xmlDocPtr doc = NULL;
        _cleanup_(xmlXPathFreeContextp) xmlXPathContextPtr ctx = NULL;
        _cleanup_(xmlXPathFreeObjectp) xmlXPathObjectPtr nodes = NULL;
        struct virt_xml_disk *a;
        size_t n, k = 0;
        int r = 0;

        doc = xml_parse(xml, "domain.xml");
        if (!doc)
                return -EBADMSG;
        ctx = xmlXPathNewContext(doc);
        if (!ctx)
                return -ENOMEM;
        nodes = xmlXPathEvalExpression((const xmlChar *) "/domain/devices/disk", ctx);
        if (!nodes)
                return -ENOMEM;
        n = nodes->nodesetval ? (size_t) nodes->nodesetval->nodeNr : 0;
        a = calloc(n + 1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < n && r >= 0; i++) {
                xmlNodePtr node = nodes->nodesetval->nodeTab[i];
                struct virt_xml_disk *d = &a[k++];

                r = xpath_string(ctx, node, "string(target/@dev)", &d->target);
                if (r >= 0)
                        r = xpath_string(ctx, node, "string(@device)", &d->device);
                /* libvirt's default device; it always writes the attribute out, but be exact. */
                if (r >= 0 && !d->device && !(d->device = strdup("disk")))
                        r = -ENOMEM;
                /* A network disk names its source by protocol and name, a volume disk by pool and volume. */
                if (r >= 0)
                        r = xpath_bool(ctx, node, "boolean(source[@file or @dev or @dir or @volume or @name])",
                                       &d->has_source);
                if (r >= 0)
                        r = xpath_bool(ctx, node, "boolean(readonly)", &d->readonly);
        }
        if (r < 0) {
                virt_xml_disks_free(a, k);
                return r;
        }
        *ret = a;
        *ret_n = k;
        return 0;
}

int virt_xml_disks_read(struct virt_conn *c, virDomainPtr dom, struct virt_xml_disk **ret, size_t *ret_n,
                        struct sovd_err *err) {
        /* Taken first: every libvirt call, virDomainGetName() too, resets the last error. */
        const char *dname = virDomainGetName(dom);
        _cleanup_free_ char *xml = NULL;
        int r;

        xml = virDomainGetXMLDesc(dom, 0);
        if (!xml)
                return virt_error(err, c, "cannot read XML of domain '%s'", dname);
        r = xml_disks_parse(xml, ret, ret_n);
        if (r == -EBADMSG)
                return err_set(err, -SOVD_E_LIBVIRT, "libvirt returned unparsable XML for domain '%s'", dname);
        return r;
}

/* Reads a <domainsnapshot> document into @ret, which is untouched on failure. */
static int snapshot_parse(const char *xml, struct virt_snapshot *ret) {
        _cleanup_(xmlFreeDocp) xmlDocPtr doc = NULL;
        _cleanup_(xmlXPathFreeContextp) xmlXPathContextPtr ctx = NULL;
        _cleanup_(xmlXPathFreeObjectp) xmlXPathObjectPtr disks = NULL;
        _cleanup_free_ char *created = NULL;
        struct virt_snapshot s = {};
        bool any_external = false;
        size_t n;
        int r;

        doc = xml_parse(xml, "snapshot.xml");
        if (!doc)
                return -EBADMSG;
        ctx = xmlXPathNewContext(doc);
        if (!ctx)
                return -ENOMEM;
        /* Anchored paths: the snapshot embeds the whole <domain>, whose <disk>s are not the snapshot's. */
        r = xpath_string(ctx, NULL, "string(/domainsnapshot/name)", &s.name);
        if (r >= 0 && !s.name)
                r = -EBADMSG;
        if (r >= 0)
                r = xpath_string(ctx, NULL, "string(/domainsnapshot/description)", &s.description);
        if (r >= 0)
                r = xpath_string(ctx, NULL, "string(/domainsnapshot/parent/name)", &s.parent);
        if (r >= 0)
                r = xpath_string(ctx, NULL, "string(/domainsnapshot/state)", &s.state);
        if (r >= 0)
                r = xpath_string(ctx, NULL, "string(/domainsnapshot/creationTime)", &created);
        if (r >= 0)
                r = xpath_string(ctx, NULL, "string(/domainsnapshot/memory/@snapshot)", &s.memory_mode);
        if (r >= 0 && !s.memory_mode) {
                /* Snapshots from before libvirt wrote <memory>: memory is in them exactly when the domain ran. */
                bool ran = s.state && !streq(s.state, "shutoff") && !streq(s.state, "disk-snapshot");
                s.memory_mode = strdup(ran ? "internal" : "no");
                if (!s.memory_mode)
                        r = -ENOMEM;
        }
        if (r >= 0 && streq(s.memory_mode, "external"))
                r = xpath_string(ctx, NULL, "string(/domainsnapshot/memory/@file)", &s.memory_file);
        if (r >= 0 && !(disks = xmlXPathEvalExpression((const xmlChar *) "/domainsnapshot/disks/disk", ctx)))
                r = -ENOMEM;
        n = r >= 0 && disks->nodesetval ? (size_t) disks->nodesetval->nodeNr : 0;
        if (n > 0 && !(s.disks = calloc(n, sizeof(*s.disks))))
                r = -ENOMEM;
        for (size_t i = 0; i < n && r >= 0; i++) {
                xmlNodePtr node = disks->nodesetval->nodeTab[i];
                struct virt_snapshot_disk *d = &s.disks[s.n_disks++];

                r = xpath_string(ctx, node, "string(@name)", &d->target);
                if (r >= 0)
                        r = xpath_string(ctx, node, "string(@snapshot)", &d->mode);
                if (r >= 0 && !d->mode && !(d->mode = strdup("no")))
                        r = -ENOMEM;
                if (r >= 0 && streq(d->mode, "external")) {
                        any_external = true;
                        r = xpath_string(ctx, node, "string(source/@file)", &d->file);
                }
        }
        if (r < 0) {
                virt_snapshot_done(&s);
                return r;
        }
        s.created = created ? (time_t) strtoll(created, NULL, 10) : 0;
        if (streq(s.memory_mode, "external"))
                s.kind = VIRT_SNAPSHOT_FULL;
        else if (any_external)
                s.kind = VIRT_SNAPSHOT_DISK_ONLY;
        else
                s.kind = VIRT_SNAPSHOT_INTERNAL;
        *ret = s;
        return 0;
}

static int snapshot_read(struct virt_conn *c, virDomainSnapshotPtr snap, const char *dname,
                         struct virt_snapshot *ret, struct sovd_err *err) {
        _cleanup_free_ char *xml = NULL;
        const char *sname = virDomainSnapshotGetName(snap);
        struct virt_snapshot s = {};
        int r, current;

        xml = virDomainSnapshotGetXMLDesc(snap, 0);
        if (!xml)
                return virt_error(err, c, "cannot read snapshot '%s' of domain '%s'", sname, dname);
        current = virDomainSnapshotIsCurrent(snap, 0);
        if (current < 0)
                return virt_error(err, c, "cannot read snapshot '%s' of domain '%s'", sname, dname);
        r = snapshot_parse(xml, &s);
        if (r == -EBADMSG)
                return err_set(err, -SOVD_E_LIBVIRT, "libvirt returned unparsable XML for snapshot '%s' of domain '%s'",
                               sname, dname);
        if (r < 0)
                return r;
        s.current = current > 0;
        *ret = s;
        return 0;
}

static int snapshot_lookup(struct virt_conn *c, virDomainPtr dom, const char *dname, const char *name,
                           virDomainSnapshotPtr *ret, struct sovd_err *err) {
        virDomainSnapshotPtr s = virDomainSnapshotLookupByName(dom, name, 0);

        if (!s)
                return virt_error(err, c, "snapshot '%s' of domain '%s'", name, dname);
        *ret = s;
        return 0;
}

struct sort_key {
        time_t created;
        size_t depth;
        const char *name;
        size_t index;
};

static int sort_key_compare(const void *a, const void *b) {
        const struct sort_key *x = a, *y = b;

        if (x->created != y->created)
                return x->created < y->created ? -1 : 1;
        if (x->depth != y->depth)
                return x->depth < y->depth ? -1 : 1;
        return strcmp(x->name, y->name);
}

/*
 * Oldest first. creationTime has whole seconds, and snapshots made by a
 * program often share one: among those a parent goes before its children
 * (fewer ancestors), then names decide.
 */
static int snapshot_sort(struct virt_snapshot *a, size_t n) {
        _cleanup_free_ struct sort_key *keys = NULL;
        _cleanup_free_ struct virt_snapshot *sorted = NULL;

        if (n < 2)
                return 0;
        keys = calloc(n, sizeof(*keys));
        sorted = calloc(n, sizeof(*sorted));
        if (!keys || !sorted)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const char *parent = a[i].parent;

                keys[i] = (struct sort_key){ .created = a[i].created, .name = a[i].name, .index = i };
                /* Bounded by n: a parent loop in broken metadata cannot hang the walk. */
                while (parent && keys[i].depth < n) {
                        size_t j = 0;

                        while (j < n && !streq(a[j].name, parent))
                                j++;
                        if (j == n)
                                break;
                        keys[i].depth++;
                        parent = a[j].parent;
                }
        }
        qsort(keys, n, sizeof(*keys), sort_key_compare);
        for (size_t i = 0; i < n; i++)
                sorted[i] = a[keys[i].index];
        memcpy(a, sorted, n * sizeof(*a));
        return 0;
}

int virt_snapshot_list(struct virt_conn *c, const char *uuid, struct virt_snapshot **ret, size_t *ret_n,
                       struct sovd_err *err) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        virDomainSnapshotPtr *snaps = NULL;
        struct virt_snapshot *a;
        const char *dname;
        size_t k = 0;
        int n, r;

        r = virt_domain_lookup(c, uuid, &dom, err);
        if (r < 0)
                return r;
        dname = virDomainGetName(dom);
        n = virDomainListAllSnapshots(dom, &snaps, 0);
        if (n < 0)
                return virt_error(err, c, "cannot list snapshots of domain '%s'", dname);
        a = calloc((size_t) n + 1, sizeof(*a));
        if (!a)
                r = -ENOMEM;
        for (int i = 0; i < n; i++) {
                if (r >= 0) {
                        r = snapshot_read(c, snaps[i], dname, &a[k], err);
                        /* A snapshot deleted between listing and reading is simply gone. */
                        if (r == -ENOENT)
                                r = 0;
                        else if (r >= 0)
                                k++;
                }
                virDomainSnapshotFree(snaps[i]);
        }
        free(snaps);
        if (r >= 0)
                r = snapshot_sort(a, k);
        if (r < 0) {
                virt_snapshot_array_free(a, k);
                return r;
        }
        *ret = a;
        *ret_n = k;
        return 0;
}

int virt_snapshot_get(struct virt_conn *c, const char *uuid, const char *name, struct virt_snapshot *ret,
                      struct sovd_err *err) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        _cleanup_snapshot_ virDomainSnapshotPtr snap = NULL;
        const char *dname;
        int r;

        r = virt_domain_lookup(c, uuid, &dom, err);
        if (r < 0)
                return r;
        dname = virDomainGetName(dom);
        r = snapshot_lookup(c, dom, dname, name, &snap, err);
        if (r < 0)
                return r;
        return snapshot_read(c, snap, dname, ret, err);
}

/* The test driver's answer to a flag it does not know (VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY, ATOMIC). */
static bool last_error_is_unsupported_flags(void) {
        virErrorPtr e = virGetLastError();

        return e && e->code == VIR_ERR_INVALID_ARG && e->message && strstr(e->message, "unsupported flags");
}

/*
 * virt_error() for the calls that change snapshots. libvirt says "cannot"
 * in several ways -- NO_SUPPORT, OPERATION_UNSUPPORTED, CONFIG_UNSUPPORTED
 * (9.0: "revert to external snapshot not supported yet") and INVALID_ARG
 * "unsupported flags" (the test driver on DISK_ONLY) -- that all mean
 * -EOPNOTSUPP here, not a bad request. A taken name comes as
 * OPERATION_FAILED "domain moment ... already exists".
 */
static int change_error(struct sovd_err *err, struct virt_conn *c, const char *fmt, ...) _printf_(3, 4);
static int change_error(struct sovd_err *err, struct virt_conn *c, const char *fmt, ...) {
        virErrorPtr e = virGetLastError();
        char what[SOVD_ERR_MSG_MAX];
        bool unsupported = false, exists = false;
        va_list ap;
        int r;

        /* Judged before virt_error(), whose liveness check resets libvirt's error. */
        if (e) {
                unsupported = e->code == VIR_ERR_NO_SUPPORT || e->code == VIR_ERR_OPERATION_UNSUPPORTED ||
                              e->code == VIR_ERR_CONFIG_UNSUPPORTED || last_error_is_unsupported_flags();
                exists = e->code == VIR_ERR_OPERATION_FAILED && e->message && strstr(e->message, "already exists");
        }
        va_start(ap, fmt);
        (void) vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        r = virt_error(err, c, "%s", what);
        if (r == -SOVD_E_LIBVIRT_DOWN)
                return r;
        if (unsupported)
                return -EOPNOTSUPP;
        if (exists)
                return -EEXIST;
        return r;
}

static int request_check(const struct virt_snapshot_request *req, struct sovd_err *err) {
        if (!req->name || !req->name[0])
                return err_set(err, -EINVAL, "a snapshot needs a name");
        if (req->kind >= _VIRT_SNAPSHOT_KIND_MAX)
                return err_set(err, -EINVAL, "unknown snapshot kind %d", (int) req->kind);
        if (req->kind == VIRT_SNAPSHOT_FULL && (!req->memory_file || !req->memory_file[0]))
                return err_set(err, -EINVAL, "full snapshot '%s' needs a memory file", req->name);
        for (size_t i = 0; i < req->n_disks; i++) {
                const struct virt_snapshot_overlay *o = &req->disks[i];

                if (!o->target || !o->target[0])
                        return err_set(err, -EINVAL, "snapshot '%s' names a disk without a target", req->name);
                if (req->kind != VIRT_SNAPSHOT_INTERNAL && (!o->file || !o->file[0]))
                        return err_set(err, -EINVAL, "snapshot '%s' needs an overlay file for disk '%s'",
                                       req->name, o->target);
                for (size_t j = 0; j < i; j++)
                        if (streq(req->disks[j].target, o->target))
                                return err_set(err, -EINVAL, "snapshot '%s' names disk '%s' twice", req->name,
                                               o->target);
        }
        return 0;
}

static const struct virt_snapshot_overlay *request_disk(const struct virt_snapshot_request *req,
                                                        const char *target) {
        for (size_t i = 0; i < req->n_disks; i++)
                if (streq(req->disks[i].target, target))
                        return &req->disks[i];
        return NULL;
}

/*
 * The <domainsnapshot> for @req. Every disk of the domain is named: one
 * left unnamed would get libvirt's default mode for the kind, snapshotting
 * disks the caller did not ask for (and did not place).
 */
static int snapshot_xml(const struct virt_snapshot_request *req, const char *dname,
                        const struct virt_xml_disk *disks, size_t n_disks, char **ret, struct sovd_err *err) {
        _cleanup_strbuf_ struct strbuf sb = {};

        for (size_t i = 0; i < req->n_disks; i++) {
                const struct virt_xml_disk *d = virt_xml_disk_find(disks, n_disks, req->disks[i].target);

                if (!d)
                        return err_set(err, -EINVAL, "domain '%s' has no disk '%s'", dname, req->disks[i].target);
                if (!streq(d->device, "disk"))
                        return err_set(err, -EINVAL, "disk '%s' of domain '%s' is a %s; only disks can be snapshotted",
                                       d->target, dname, d->device);
                if (!d->has_source)
                        return err_set(err, -EINVAL, "disk '%s' of domain '%s' is empty; there is nothing to snapshot",
                                       d->target, dname);
                if (d->readonly)
                        return err_set(err, -EINVAL,
                                       "disk '%s' of domain '%s' is read-only; there is nothing to snapshot",
                                       d->target, dname);
        }

        strbuf_append(&sb, "<domainsnapshot><name>");
        strbuf_append_xml_escaped(&sb, req->name);
        strbuf_append(&sb, "</name>");
        if (req->description) {
                strbuf_append(&sb, "<description>");
                strbuf_append_xml_escaped(&sb, req->description);
                strbuf_append(&sb, "</description>");
        }
        if (req->kind == VIRT_SNAPSHOT_FULL) {
                strbuf_append(&sb, "<memory snapshot='external' file='");
                strbuf_append_xml_escaped(&sb, req->memory_file);
                strbuf_append(&sb, "'/>");
        }
        strbuf_append(&sb, "<disks>");
        for (size_t i = 0; i < n_disks; i++) {
                const struct virt_snapshot_overlay *o;

                if (!disks[i].target)
                        continue;
                o = request_disk(req, disks[i].target);
                strbuf_append(&sb, "<disk name='");
                strbuf_append_xml_escaped(&sb, disks[i].target);
                if (!o)
                        strbuf_append(&sb, "' snapshot='no'/>");
                else if (req->kind == VIRT_SNAPSHOT_INTERNAL)
                        strbuf_append(&sb, "' snapshot='internal'/>");
                else {
                        strbuf_append(&sb, "' snapshot='external' type='file'><source file='");
                        strbuf_append_xml_escaped(&sb, o->file);
                        strbuf_append(&sb, "'/><driver type='qcow2'/></disk>");
                }
        }
        strbuf_append(&sb, "</disks></domainsnapshot>");
        *ret = strbuf_steal(&sb);
        return *ret ? 0 : -ENOMEM;
}

static virDomainSnapshotPtr snapshot_create_xml(virDomainPtr dom, const char *xml, unsigned flags) {
        virDomainSnapshotPtr s;

        /*
         * External snapshots of several disks (and memory) should succeed or
         * fail as a whole. Drivers that cannot promise that (the test driver,
         * whose snapshots are metadata only) refuse the flag outright.
         */
        s = virDomainSnapshotCreateXML(dom, xml, flags | VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC);
        if (!s && last_error_is_unsupported_flags())
                s = virDomainSnapshotCreateXML(dom, xml, flags);
        return s;
}

int virt_snapshot_create(struct virt_conn *c, const char *uuid, const struct virt_snapshot_request *req,
                         struct sovd_err *err) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        _cleanup_snapshot_ virDomainSnapshotPtr existing = NULL, snap = NULL;
        _cleanup_free_ char *xml = NULL;
        struct virt_xml_disk *disks = NULL;
        size_t n_disks = 0;
        const char *dname;
        int r;

        r = request_check(req, err);
        if (r < 0)
                return r;
        r = virt_domain_lookup(c, uuid, &dom, err);
        if (r < 0)
                return r;
        dname = virDomainGetName(dom);

        /* libvirt's own answer to a taken name is a generic "operation failed". */
        r = snapshot_lookup(c, dom, dname, req->name, &existing, err);
        if (r >= 0)
                return err_set(err, -EEXIST, "domain '%s' already has a snapshot named '%s'", dname, req->name);
        if (r != -ENOENT)
                return r;

        /* libvirt says "XML error" for memory of a shut-off domain; it is the state that is wrong. */
        if (req->kind == VIRT_SNAPSHOT_FULL) {
                r = virDomainIsActive(dom);
                if (r < 0)
                        return virt_error(err, c, "cannot read state of domain '%s'", dname);
                if (r == 0)
                        return err_set(err, -SOVD_E_BAD_STATE,
                                       "a full snapshot saves the memory of a running domain; "
                                       "domain '%s' is not running",
                                       dname);
        }

        r = virt_xml_disks_read(c, dom, &disks, &n_disks, err);
        if (r < 0)
                return r;
        r = snapshot_xml(req, dname, disks, n_disks, &xml, err);
        virt_xml_disks_free(disks, n_disks);
        if (r < 0)
                return r;

        switch (req->kind) {
        case VIRT_SNAPSHOT_INTERNAL:
                /* No flags: libvirt includes memory when the domain runs. */
                snap = virDomainSnapshotCreateXML(dom, xml, 0);
                break;
        case VIRT_SNAPSHOT_DISK_ONLY:
                snap = snapshot_create_xml(dom, xml, VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY);
                break;
        case VIRT_SNAPSHOT_FULL:
                snap = snapshot_create_xml(dom, xml, 0);
                break;
        case _VIRT_SNAPSHOT_KIND_MAX:
                return -EINVAL;
        }
        if (!snap)
                return change_error(err, c, "cannot create %s snapshot '%s' of domain '%s'",
                                    virt_snapshot_kind_to_string(req->kind), req->name, dname);
        return 0;
}

int virt_snapshot_revert(struct virt_conn *c, const char *uuid, const char *name, struct sovd_err *err) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        _cleanup_snapshot_ virDomainSnapshotPtr snap = NULL;
        virConnectPtr own = NULL;
        const char *dname = NULL;
        int r;

        /* A revert may start the domain, and so wait for the hook, which asks sovd: a connection of its own. */
        r = virt_conn_open_private(c, &own, err);
        if (r < 0)
                return r;
        r = virt_domain_lookup((struct virt_conn *) own, uuid, &dom, err);
        if (r >= 0) {
                dname = virDomainGetName(dom);
                r = snapshot_lookup(c, dom, dname, name, &snap, err);
        }
        if (r >= 0 && virDomainRevertToSnapshot(snap, 0) < 0)
                r = change_error(err, c, "cannot revert domain '%s' to snapshot '%s'", dname, name);
        virConnectClose(own);
        return r < 0 ? r : 0;
}

int virt_snapshot_delete(struct virt_conn *c, const char *uuid, const char *name, struct sovd_err *err) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        _cleanup_snapshot_ virDomainSnapshotPtr snap = NULL;
        const char *dname;
        bool cannot;
        int r;

        r = virt_domain_lookup(c, uuid, &dom, err);
        if (r < 0)
                return r;
        dname = virDomainGetName(dom);
        r = snapshot_lookup(c, dom, dname, name, &snap, err);
        if (r < 0)
                return r;
        if (virDomainSnapshotDelete(snap, 0) == 0)
                return 0;
        /*
         * With no flags and a snapshot libvirt just found, no argument of ours
         * can be invalid: libvirt 9.0 says INVALID_ARG ("could not find base
         * disk source in disk source chain") when it cannot merge an external
         * snapshot whose overlays the domain no longer runs on.
         */
        cannot = virGetLastErrorCode() == VIR_ERR_INVALID_ARG;
        r = change_error(err, c, "cannot delete snapshot '%s' of domain '%s'", name, dname);
        return cannot && r != -SOVD_E_LIBVIRT_DOWN ? -EOPNOTSUPP : r;
}
