/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>

#include "sovd/domain-xml.h"

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
