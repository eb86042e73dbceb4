/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "sovd/domain-xml.h"
#include "sovd/virt-vm.h"

int domain_xml_build(const struct vm_spec *spec, const char *type, const char *const *disk_paths,
                     const struct binding *binding, char **ret) {
        _cleanup_strbuf_ struct strbuf sb = {};
        char *xml;

        if (spec->n_disks > 26)
                return -EINVAL;

        strbuf_append(&sb, "<domain type='");
        strbuf_append_xml_escaped(&sb, type);
        strbuf_append(&sb, "'>\n  <name>");
        strbuf_append_xml_escaped(&sb, spec->name);
        strbuf_append(&sb, "</name>\n");
        strbuf_appendf(&sb, "  <memory unit='MiB'>%" PRIu64 "</memory>\n", spec->memory_mib);
        strbuf_appendf(&sb, "  <vcpu>%u</vcpu>\n", spec->vcpus);
        strbuf_append(&sb, "  <metadata>\n    ");
        binding_to_xml(binding, &sb);
        strbuf_append(&sb, "\n  </metadata>\n");
        strbuf_append(&sb, "  <os>\n    <type>hvm</type>\n    <boot dev='hd'/>\n  </os>\n");
        strbuf_append(&sb, "  <features>\n    <acpi/>\n  </features>\n");
        strbuf_append(&sb, "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n"
                           "  <on_crash>destroy</on_crash>\n");
        strbuf_append(&sb, "  <devices>\n");
        for (size_t i = 0; i < spec->n_disks; i++) {
                strbuf_append(&sb, "    <disk type='file' device='disk'>\n"
                                   "      <driver name='qemu' type='qcow2'/>\n"
                                   "      <source file='");
                strbuf_append_xml_escaped(&sb, disk_paths[i]);
                strbuf_appendf(&sb, "'/>\n      <target dev='vd%c' bus='virtio'/>\n    </disk>\n", (char) ('a' + i));
        }
        for (size_t i = 0; i < spec->n_networks; i++) {
                strbuf_append(&sb, "    <interface type='network'>\n      <source network='");
                strbuf_append_xml_escaped(&sb, spec->networks[i].network);
                strbuf_append(&sb, "'/>\n      <model type='virtio'/>\n    </interface>\n");
        }
        strbuf_append(&sb, "    <serial type='pty'/>\n    <console type='pty'/>\n  </devices>\n</domain>\n");

        xml = strbuf_steal(&sb);
        if (!xml)
                return -ENOMEM;
        *ret = xml;
        return 0;
}

int domain_xml_inspect(const char *xml, size_t len, struct binding **ret_binding, char ***ret_disk_paths,
                       struct sovd_err *err) {
        xmlDocPtr doc = NULL;
        xmlXPathContextPtr ctx = NULL;
        xmlXPathObjectPtr meta = NULL, disks = NULL;
        struct binding *b = NULL;
        char **paths = NULL;
        int r = -ENOMEM;

        if (len > INT32_MAX)
                return err_set(err, -EINVAL, "domain XML too large");
        /* NONET and no NOENT: nothing is fetched, no entity is expanded. */
        doc = xmlReadMemory(xml, (int) len, "domain.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
        if (!doc)
                return err_set(err, -EINVAL, "domain XML is not well-formed");
        if (doc->intSubset || doc->extSubset) {
                r = err_set(err, -EINVAL, "domain XML must not carry a DOCTYPE");
                goto out;
        }
        ctx = xmlXPathNewContext(doc);
        if (!ctx || xmlXPathRegisterNs(ctx, (const xmlChar *) "s", (const xmlChar *) SOVD_BINDING_NS) < 0)
                goto out;
        meta = xmlXPathEvalExpression((const xmlChar *) "/domain/metadata/s:binding", ctx);
        disks = xmlXPathEvalExpression((const xmlChar *) DOMAIN_STORAGE_SOURCES_XPATH, ctx);
        if (!meta || !disks)
                goto out;
        size_t n = disks->nodesetval ? (size_t) disks->nodesetval->nodeNr : 0;
        paths = calloc(n + 1, sizeof(char *));
        if (!paths)
                goto out;
        for (size_t i = 0, k = 0; i < n; i++) {
                xmlNodePtr node = disks->nodesetval->nodeTab[i];
                static const char *const attrs[] = { "file", "dev", "dir", "volume" };
                xmlChar *v = NULL, *proto = NULL;
                for (size_t a = 0; a < ELEMENTSOF(attrs) && !v; a++) {
                        v = xmlGetProp(node, (const xmlChar *) attrs[a]);
                        if (v && !v[0]) {
                                xmlFree(v);
                                v = NULL;
                        }
                }
                if (v) {
                        paths[k] = strdup((const char *) v);
                } else if ((v = xmlGetProp(node, (const xmlChar *) "name")) && v[0]) {
                        /* Network storage cannot be mapped to a pool: judged as an untagged place. */
                        proto = xmlGetProp(node, (const xmlChar *) "protocol");
                        if (asprintf(&paths[k], "%s:%s", proto ? (const char *) proto : "network", (const char *) v) < 0)
                                paths[k] = NULL;
                        xmlFree(proto);
                } else {
                        xmlFree(v);
                        continue; /* an empty drive */
                }
                xmlFree(v);
                if (!paths[k++])
                        goto out;
        }
        if (meta->nodesetval && meta->nodesetval->nodeNr > 1) {
                r = err_set(err, -EBADMSG, "domain carries %d sovd bindings", meta->nodesetval->nodeNr);
                goto out;
        }
        if (meta->nodesetval && meta->nodesetval->nodeNr == 1) {
                xmlBufferPtr buf = xmlBufferCreate();
                if (!buf)
                        goto out;
                if (xmlNodeDump(buf, doc, meta->nodesetval->nodeTab[0], 0, 0) < 0) {
                        xmlBufferFree(buf);
                        goto out;
                }
                b = calloc(1, sizeof(*b));
                if (!b) {
                        xmlBufferFree(buf);
                        goto out;
                }
                r = binding_parse((const char *) xmlBufferContent(buf), b, err);
                xmlBufferFree(buf);
                if (r < 0) {
                        free(b);
                        b = NULL;
                        r = r == -ENOMEM ? r : -EBADMSG;
                        goto out;
                }
        }
        *ret_binding = TAKE_PTR(b);
        *ret_disk_paths = TAKE_PTR(paths);
        r = 0;
out:
        strv_free(paths);
        binding_free(b);
        xmlXPathFreeObject(meta);
        xmlXPathFreeObject(disks);
        xmlXPathFreeContext(ctx);
        xmlFreeDoc(doc);
        return r;
}
