/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A POST /v1/vms body all the way to domain XML: whatever vm_spec_parse()
 * accepts must give well-formed XML whose values read back exactly, and a
 * binding that binding_parse() accepts back unchanged.
 */
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "fuzz.h"
#include "sovd/domain-xml.h"
#include "sovd/json-util.h"
#include "sovd/vm-spec.h"

static xmlNodePtr child_element(xmlNodePtr n, const char *name) {
        for (n = n ? n->children : NULL; n; n = n->next)
                if (n->type == XML_ELEMENT_NODE && streq((const char *) n->name, name))
                        return n;
        return NULL;
}

static void check_xml(const struct vm_spec *spec, const struct binding *b, const char *xml) {
        xmlDocPtr doc = xmlReadMemory(xml, (int) strlen(xml), "domain.xml", NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        xmlNodePtr root, name, meta, devices;
        xmlBufferPtr buf;
        struct binding back = {};
        struct sovd_err err = {};
        xmlChar *v;
        size_t n_disks = 0;

        FUZZ_CHECK(doc, "domain XML not well-formed:\n%s", xml);
        root = xmlDocGetRootElement(doc);
        FUZZ_CHECK(root && streq((const char *) root->name, "domain"), "root is not <domain>");
        name = child_element(root, "name");
        FUZZ_CHECK(name, "no <name>");
        v = xmlNodeGetContent(name);
        FUZZ_CHECK(v && streq((const char *) v, spec->name), "name '%s' read back as '%s'", spec->name, (char *) v);
        xmlFree(v);
        devices = child_element(root, "devices");
        FUZZ_CHECK(devices, "no <devices>");
        for (xmlNodePtr d = devices->children; d; d = d->next)
                n_disks += d->type == XML_ELEMENT_NODE && streq((const char *) d->name, "disk");
        FUZZ_CHECK(n_disks == spec->n_disks, "%zu disks in the spec, %zu in the XML", spec->n_disks, n_disks);

        /* The binding, cut out the way libvirt hands it back, must parse to what was written. */
        meta = child_element(root, "metadata");
        FUZZ_CHECK(meta, "no <metadata>");
        meta = child_element(meta, "binding");
        FUZZ_CHECK(meta, "no binding in <metadata>");
        buf = xmlBufferCreate();
        FUZZ_CHECK(buf && xmlNodeDump(buf, doc, meta, 0, 0) > 0, "xmlNodeDump");
        FUZZ_CHECK(binding_parse((const char *) xmlBufferContent(buf), &back, &err) == 0,
                   "binding written for an accepted spec refused: %s\n%s", err.msg, (const char *) xmlBufferContent(buf));
        const char *diff = fuzz_binding_diff(b, &back);
        FUZZ_CHECK(!diff, "binding %s differs after the round trip", diff);
        binding_done(&back);
        xmlBufferFree(buf);
        xmlFreeDoc(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_json_ struct json_object *doc = NULL;
        struct binding_volume volumes[VM_SPEC_MAX_DISKS] = {};
        char *paths[VM_SPEC_MAX_DISKS] = {};
        struct vm_spec spec = {};
        struct sovd_err err = {};
        struct binding b;
        char *xml = NULL;
        int r;

        if (json_parse_strict((const char *) data, size, &doc, &err) < 0)
                return 0;
        if (vm_spec_parse(doc, &spec, &err) < 0)
                return 0;

        b = (struct binding){
                .tenant = spec.tenant,
                .policy = spec.policy,
                .request_id = (char *) "fuzz-request.1",
                .created_at = (char *) "2026-11-23T17:40:02Z",
                .labels = spec.labels,
                .n_labels = spec.n_labels,
                .volumes = volumes,
        };
        for (size_t i = 0; i < spec.n_disks; i++) {
                FUZZ_CHECK(vm_spec_volume_name(&spec, i, &volumes[i].volume) == 0, "vm_spec_volume_name");
                volumes[i].pool = spec.disks[i].pool;
                b.n_volumes++;
                /* Paths come from libvirt; odd characters in them must be escaped too. */
                FUZZ_CHECK(asprintf(&paths[i], "/srv/it's & <%s>/\"%s\"", spec.disks[i].pool, volumes[i].volume) >= 0,
                           "asprintf");
        }
        r = domain_xml_build(&spec, "kvm", (const char *const *) paths, &b, &xml);
        FUZZ_CHECK(r == 0, "domain_xml_build failed for an accepted spec: %d", r);
        check_xml(&spec, &b, xml);

        free(xml);
        for (size_t i = 0; i < spec.n_disks; i++) {
                free(paths[i]);
                free(volumes[i].volume);
        }
        vm_spec_done(&spec);
        return 0;
}
