/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The domain XML the libvirt hook hands to POST /v1/admission: written by
 * whoever defined the domain (virsh define, another tool), so anything.
 * domain_xml_inspect() must fail cleanly or give a binding with tenant and
 * policy, a NULL-terminated list of paths, and a UUID that is empty or a
 * valid lower-case one (it keys the VM's jobs).
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "sovd/domain-xml.h"
#include "sovd/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct binding *b = NULL;
        char **paths = NULL, uuid[ID_TEXT_LEN];
        struct sovd_err err = {};
        int r;

        memset(uuid, 'x', sizeof(uuid));
        r = domain_xml_inspect((const char *) data, size, &b, &paths, uuid, &err);
        if (r < 0) {
                FUZZ_CHECK(r == -EINVAL || r == -EBADMSG || r == -ENOMEM, "unexpected error %d", r);
                FUZZ_CHECK(err.msg[0], "error %d without a message", r);
                return 0;
        }
        FUZZ_CHECK(paths, "no path list");
        for (size_t i = 0; paths[i]; i++)
                FUZZ_CHECK(paths[i][0], "empty path %zu", i);
        FUZZ_CHECK(!uuid[0] || uuid_text_is_valid(uuid), "uuid '%.37s' neither empty nor valid", uuid);
        FUZZ_CHECK(!b || (b->tenant && b->policy), "binding without tenant or policy");
        strv_free(paths);
        binding_free(b);
        return 0;
}
