/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "sovd/domain-xml.h"
#include "sovd/names.h"
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
                       char ret_uuid[static ID_TEXT_LEN], struct sovd_err *err) {
        xmlDocPtr doc = NULL;
        xmlXPathContextPtr ctx = NULL;
        xmlXPathObjectPtr meta = NULL, disks = NULL, uuid = NULL;
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
        uuid = xmlXPathEvalExpression((const xmlChar *) "normalize-space(/domain/uuid)", ctx);
        if (!meta || !disks || !uuid)
                goto out;
        ret_uuid[0] = '\0';
        if (uuid->stringval && strlen((const char *) uuid->stringval) == ID_TEXT_LEN - 1) {
                for (size_t i = 0; i < ID_TEXT_LEN; i++)
                        ret_uuid[i] = (char) tolower((unsigned char) uuid->stringval[i]);
                if (!uuid_text_is_valid(ret_uuid))
                        ret_uuid[0] = '\0';
        }
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
        xmlXPathFreeObject(uuid);
        xmlXPathFreeContext(ctx);
        xmlFreeDoc(doc);
        return r;
}

static void remove_nodes(xmlXPathContextPtr ctx, const char *xpath) {
        xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *) xpath, ctx);

        for (int i = 0; o && o->nodesetval && i < o->nodesetval->nodeNr; i++) {
                xmlNodePtr n = o->nodesetval->nodeTab[i];
                o->nodesetval->nodeTab[i] = NULL;
                xmlUnlinkNode(n);
                xmlFreeNode(n);
        }
        xmlXPathFreeObject(o);
}

/* Replaces the text of the first element at @xpath, creating it under the root when absent. */
static int set_child_text(xmlDocPtr doc, xmlXPathContextPtr ctx, const char *xpath, const char *tag, const char *text) {
        xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *) xpath, ctx);
        xmlNodePtr n = o && o->nodesetval && o->nodesetval->nodeNr > 0 ? o->nodesetval->nodeTab[0] : NULL;

        xmlXPathFreeObject(o);
        if (!n)
                n = xmlNewChild(xmlDocGetRootElement(doc), NULL, (const xmlChar *) tag, NULL);
        if (!n)
                return -ENOMEM;
        /* xmlNodeSetContent escapes: the text cannot become markup. */
        xmlNodeSetContent(n, NULL);
        xmlNodeAddContent(n, (const xmlChar *) text);
        return 0;
}

/* Points each listed disk at its new file (backing chains dropped); with @drop_others, removes the rest. */
static int move_disks(xmlXPathContextPtr ctx, const struct restored_disk *disks, size_t n_disks, bool drop_others,
                      struct sovd_err *err) {
        /* Every disk, CD-ROMs included: one not restored would give the copy a host file. */
        xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *) "/domain/devices/disk", ctx);
        int r = 0;

        for (int i = 0; o && o->nodesetval && i < o->nodesetval->nodeNr; i++) {
                xmlNodePtr disk = o->nodesetval->nodeTab[i], target = NULL, driver = NULL;
                const struct restored_disk *match = NULL;

                for (xmlNodePtr c = disk->children; c; c = c->next)
                        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, (const xmlChar *) "target"))
                                target = c;
                        else if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, (const xmlChar *) "driver"))
                                driver = c;
                xmlChar *dev = target ? xmlGetProp(target, (const xmlChar *) "dev") : NULL;
                for (size_t k = 0; dev && k < n_disks; k++)
                        if (xmlStrEqual(dev, (const xmlChar *) disks[k].target))
                                match = &disks[k];
                xmlFree(dev);
                if (!match && !drop_others)
                        continue;
                if (!match) {
                        /* Not restored: keeping it would attach the original VM's disk to the copy. */
                        o->nodesetval->nodeTab[i] = NULL;
                        xmlUnlinkNode(disk);
                        xmlFreeNode(disk);
                        continue;
                }
                for (xmlNodePtr c = disk->children, next; c; c = next) {
                        next = c->next;
                        if (c->type == XML_ELEMENT_NODE && (xmlStrEqual(c->name, (const xmlChar *) "source") ||
                                                            xmlStrEqual(c->name, (const xmlChar *) "backingStore"))) {
                                xmlUnlinkNode(c);
                                xmlFreeNode(c);
                        }
                }
                xmlSetProp(disk, (const xmlChar *) "type", (const xmlChar *) "file");
                xmlNodePtr src = xmlNewNode(NULL, (const xmlChar *) "source");
                if (!src || !xmlSetProp(src, (const xmlChar *) "file", (const xmlChar *) match->path) ||
                    !xmlAddPrevSibling(target, src)) {
                        xmlFreeNode(src);
                        r = -ENOMEM;
                        break;
                }
                if (!driver) {
                        driver = xmlNewNode(NULL, (const xmlChar *) "driver");
                        if (!driver || !xmlAddPrevSibling(src, driver)) {
                                xmlFreeNode(driver);
                                r = -ENOMEM;
                                break;
                        }
                        xmlSetProp(driver, (const xmlChar *) "name", (const xmlChar *) "qemu");
                }
                xmlSetProp(driver, (const xmlChar *) "type", (const xmlChar *) "qcow2");
        }
        xmlXPathFreeObject(o);
        if (r == 0 && !o)
                r = err_set(err, -ENOMEM, "cannot read the disks of the backed-up domain");
        return r;
}

/* Adds @binding to the domain's <metadata> (created when absent); any sovd binding there must be gone already. */
static int put_binding(xmlDocPtr doc, xmlNodePtr root, const struct binding *binding) {
        _cleanup_strbuf_ struct strbuf sb = {};
        xmlNodePtr metadata = NULL, copy;
        xmlDocPtr bdoc;

        binding_to_xml(binding, &sb);
        if (!sb.buf || sb.oom)
                return -ENOMEM;
        bdoc = xmlReadMemory(sb.buf, (int) sb.len, "binding.xml", NULL,
                             XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!bdoc)
                return -ENOMEM;
        for (xmlNodePtr c = root->children; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, (const xmlChar *) "metadata"))
                        metadata = c;
        if (!metadata)
                metadata = xmlNewChild(root, NULL, (const xmlChar *) "metadata", NULL);
        copy = metadata ? xmlDocCopyNode(xmlDocGetRootElement(bdoc), doc, 1) : NULL;
        xmlFreeDoc(bdoc);
        if (!copy || !xmlAddChild(metadata, copy)) {
                xmlFreeNode(copy);
                return -ENOMEM;
        }
        return 0;
}

/* Reads a domain XML from outside (no network, no entities) and opens an XPath context on it. */
static int parse_domain(const char *xml, const char *what, xmlDocPtr *ret_doc, xmlXPathContextPtr *ret_ctx,
                        struct sovd_err *err) {
        xmlDocPtr doc = xmlReadMemory(xml, (int) strlen(xml), "domain.xml", NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;

        if (!root || !xmlStrEqual(root->name, (const xmlChar *) "domain")) {
                xmlFreeDoc(doc);
                return err_set(err, -EBADMSG, "%s is not a libvirt domain", what);
        }
        *ret_ctx = xmlXPathNewContext(doc);
        if (!*ret_ctx) {
                xmlFreeDoc(doc);
                return -ENOMEM;
        }
        *ret_doc = doc;
        return 0;
}

/* The document as a string (malloc'd), then frees it and its context. */
static int dump_domain(xmlDocPtr doc, xmlXPathContextPtr ctx, int r, char **ret) {
        xmlChar *out = NULL;
        int size = 0;

        if (r >= 0) {
                xmlDocDumpMemory(doc, &out, &size);
                *ret = out ? strndup((const char *) out, (size_t) size) : NULL;
                r = *ret ? 0 : -ENOMEM;
        }
        xmlFree(out);
        xmlXPathFreeContext(ctx);
        xmlFreeDoc(doc);
        return r;
}

int domain_xml_for_restore(const char *source_xml, const char *name, const char *uuid,
                           const struct restored_disk *disks, size_t n_disks, const struct binding *binding,
                           char **ret, struct sovd_err *err) {
        xmlDocPtr doc = NULL;
        xmlXPathContextPtr ctx = NULL;
        int r;

        r = parse_domain(source_xml, "the backup's domain XML", &doc, &ctx, err);
        if (r < 0)
                return r;
        r = -ENOMEM;
        if (set_child_text(doc, ctx, "/domain/name", "name", name) < 0 ||
            set_child_text(doc, ctx, "/domain/uuid", "uuid", uuid) < 0)
                goto out;
        remove_nodes(ctx, "/domain/devices/interface/mac | /domain/os/nvram | /domain/devices/disk//backingStore");
        /*
         * The XML comes from a backup target, which may be shared: it is
         * outside input. Whatever would let it reach the host — QEMU
         * pass-through, host devices and directories, kernels and files
         * given by host path, character devices on host files or sockets,
         * shared memory — is dropped; the restored VM gets its disks and
         * ordinary devices only.
         */
        remove_nodes(ctx, "/domain/*[namespace-uri()='http://libvirt.org/schemas/domain/qemu/1.0']"
                          " | /domain/devices/emulator | /domain/devices/hostdev | /domain/devices/filesystem"
                          " | /domain/devices/redirdev | /domain/devices/smartcard | /domain/devices/shmem"
                          " | /domain/os/kernel | /domain/os/initrd | /domain/os/dtb | /domain/os/cmdline"
                          " | /domain/devices/*[self::serial or self::parallel or self::console or self::channel]"
                          "[@type and @type!='pty' and @type!='spicevmc' and @type!='qemu-vdagent']");
        remove_nodes(ctx, "/domain/metadata/*[namespace-uri()='" SOVD_BINDING_NS "']");
        r = move_disks(ctx, disks, n_disks, true, err);
        if (r < 0)
                goto out;
        r = put_binding(doc, xmlDocGetRootElement(doc), binding);
out:
        return dump_domain(doc, ctx, r, ret);
}

int domain_xml_for_migration(const char *source_xml, const struct restored_disk *disks, size_t n_disks,
                             const struct binding *binding, char **ret, struct sovd_err *err) {
        xmlDocPtr doc = NULL;
        xmlXPathContextPtr ctx = NULL;
        int r;

        r = parse_domain(source_xml, "libvirt's domain XML", &doc, &ctx, err);
        if (r < 0)
                return r;
        remove_nodes(ctx, "/domain/metadata/*[namespace-uri()='" SOVD_BINDING_NS "']");
        r = n_disks > 0 ? move_disks(ctx, disks, n_disks, false, err) : 0;
        if (r >= 0)
                r = put_binding(doc, xmlDocGetRootElement(doc), binding);
        return dump_domain(doc, ctx, r, ret);
}
