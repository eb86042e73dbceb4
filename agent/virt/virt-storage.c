/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "sovd/strbuf.h"
#include "sovd/virt-storage.h"
#include "virt-private.h"

void virt_volume_done(struct virt_volume *v) {
        if (!v)
                return;
        free(v->path);
        free(v->format);
        *v = (struct virt_volume){};
}

static int pool_lookup(struct virt_conn *c, const char *pool, virStoragePoolPtr *ret, struct sovd_err *err) {
        virStoragePoolPtr p = virStoragePoolLookupByName(virt_conn_ptr(c), pool);

        if (!p)
                return virt_error(err, c, "storage pool '%s'", pool);
        *ret = p;
        return 0;
}

int virt_pool_check(struct virt_conn *c, const char *pool, struct sovd_err *err) {
        _cleanup_pool_ virStoragePoolPtr p = NULL;

        return pool_lookup(c, pool, &p, err);
}

int virt_pool_list(struct virt_conn *c, char ***ret, struct sovd_err *err) {
        virStoragePoolPtr *pools = NULL;
        char **names;
        int n;

        n = virConnectListAllStoragePools(virt_conn_ptr(c), &pools, 0);
        if (n < 0)
                return virt_error(err, c, "cannot list storage pools");
        names = calloc((size_t) n + 1, sizeof(char *));
        for (int i = 0; i < n; i++) {
                if (names && !(names[i] = strdup(virStoragePoolGetName(pools[i])))) {
                        strv_free(names);
                        names = NULL;
                }
                virStoragePoolFree(pools[i]);
        }
        free(pools);
        if (!names)
                return -ENOMEM;
        *ret = names;
        return 0;
}

/* The format lives only in the volume XML: <target><format type='qcow2'/></target>. */
static char *volume_format(virStorageVolPtr vol) {
        _cleanup_free_ char *xml = virStorageVolGetXMLDesc(vol, 0);
        xmlDocPtr doc;
        xmlXPathContextPtr ctx;
        xmlXPathObjectPtr o;
        char *r = NULL;

        if (!xml)
                return NULL;
        doc = xmlReadMemory(xml, (int) strlen(xml), "volume.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc)
                return NULL;
        ctx = xmlXPathNewContext(doc);
        o = ctx ? xmlXPathEvalExpression((const xmlChar *) "string(/volume/target/format/@type)", ctx) : NULL;
        if (o && o->stringval && o->stringval[0])
                r = strdup((const char *) o->stringval);
        xmlXPathFreeObject(o);
        xmlXPathFreeContext(ctx);
        xmlFreeDoc(doc);
        return r;
}

int virt_volume_get(struct virt_conn *c, const char *pool, const char *name, struct virt_volume *ret,
                    struct sovd_err *err) {
        _cleanup_pool_ virStoragePoolPtr p = NULL;
        _cleanup_vol_ virStorageVolPtr v = NULL;
        virStorageVolInfo info;
        struct virt_volume vol = {};
        int r;

        r = pool_lookup(c, pool, &p, err);
        if (r < 0)
                return r;
        v = virStorageVolLookupByName(p, name);
        if (!v)
                return virt_error(err, c, "volume '%s' in storage pool '%s'", name, pool);
        if (virStorageVolGetInfo(v, &info) < 0)
                return virt_error(err, c, "cannot read volume '%s' in storage pool '%s'", name, pool);
        vol.capacity = info.capacity;
        vol.path = virStorageVolGetPath(v);
        if (!vol.path)
                return virt_error(err, c, "cannot read path of volume '%s'", name);
        vol.format = volume_format(v);
        virResetLastError();
        *ret = vol;
        return 0;
}

int virt_volume_create(struct virt_conn *c, const char *pool, const char *name, uint64_t capacity,
                       const struct virt_volume *backing, char **ret_path, struct sovd_err *err) {
        _cleanup_pool_ virStoragePoolPtr p = NULL;
        _cleanup_vol_ virStorageVolPtr v = NULL, existing = NULL;
        _cleanup_strbuf_ struct strbuf sb = {};
        _cleanup_free_ char *xml = NULL;
        char *path;
        int r;

        r = pool_lookup(c, pool, &p, err);
        if (r < 0)
                return r;
        existing = virStorageVolLookupByName(p, name);
        if (existing)
                return err_set(err, -EEXIST, "volume '%s' already exists in storage pool '%s'", name, pool);
        virResetLastError();

        /* Names are validated by the caller; escaping keeps the XML well-formed regardless. */
        strbuf_append(&sb, "<volume><name>");
        strbuf_append_xml_escaped(&sb, name);
        /* Allocation 0: qcow2 grows on demand; without it libvirt reserves the full capacity. */
        strbuf_appendf(&sb, "</name><capacity unit='bytes'>%" PRIu64 "</capacity><allocation>0</allocation>",
                       capacity);
        strbuf_append(&sb, "<target><format type='qcow2'/><compat>1.1</compat><permissions><mode>0600</mode></permissions></target>");
        if (backing) {
                strbuf_append(&sb, "<backingStore><path>");
                strbuf_append_xml_escaped(&sb, backing->path);
                strbuf_append(&sb, "</path><format type='");
                strbuf_append_xml_escaped(&sb, backing->format ? backing->format : "raw");
                strbuf_append(&sb, "'/></backingStore>");
        }
        strbuf_append(&sb, "</volume>");
        xml = strbuf_steal(&sb);
        if (!xml)
                return -ENOMEM;

        v = virStorageVolCreateXML(p, xml, 0);
        if (!v)
                return virt_error(err, c, "cannot create volume '%s' in storage pool '%s'", name, pool);
        path = virStorageVolGetPath(v);
        if (!path) {
                r = virt_error(err, c, "cannot read path of new volume '%s'", name);
                (void) virStorageVolDelete(v, 0);
                return r;
        }
        *ret_path = path;
        return 0;
}

int virt_volume_delete(struct virt_conn *c, const char *pool, const char *name, struct sovd_err *err) {
        _cleanup_pool_ virStoragePoolPtr p = NULL;
        _cleanup_vol_ virStorageVolPtr v = NULL;
        int r;

        r = pool_lookup(c, pool, &p, err);
        if (r < 0)
                return r;
        v = virStorageVolLookupByName(p, name);
        if (!v)
                return virt_error(err, c, "volume '%s' in storage pool '%s'", name, pool);
        if (virStorageVolDelete(v, 0) < 0)
                return virt_error(err, c, "cannot delete volume '%s' from storage pool '%s'", name, pool);
        return 0;
}

int virt_volume_by_path(struct virt_conn *c, const char *path, char **ret_pool, char **ret_volume,
                        struct sovd_err *err) {
        _cleanup_vol_ virStorageVolPtr v = NULL;
        _cleanup_pool_ virStoragePoolPtr p = NULL;
        char *pn, *vn;

        v = virStorageVolLookupByPath(virt_conn_ptr(c), path);
        if (!v)
                return virt_error(err, c, "volume at '%s'", path);
        p = virStoragePoolLookupByVolume(v);
        if (!p)
                return virt_error(err, c, "pool of volume at '%s'", path);
        pn = strdup(virStoragePoolGetName(p));
        vn = strdup(virStorageVolGetName(v));
        if (!pn || !vn) {
                free(pn);
                free(vn);
                return -ENOMEM;
        }
        *ret_pool = pn;
        *ret_volume = vn;
        return 0;
}
