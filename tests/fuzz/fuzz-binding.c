/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sovd binding read back from domain metadata, which anyone with
 * `virsh edit` can write: binding_parse() must fail cleanly, and whatever it
 * accepts must survive binding_to_xml() and binding_parse() unchanged.
 */
#include "fuzz.h"
#include "sovd/binding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *xml = NULL, *again = NULL;
        _cleanup_strbuf_ struct strbuf sb = {};
        struct binding b = {}, back = {};
        struct sovd_err err = {};
        const char *diff;

        /* binding_parse() takes a C string, as virDomainGetMetadata() returns. */
        xml = malloc(size + 1);
        if (!xml)
                return 0;
        memcpy(xml, data, size);
        xml[size] = '\0';
        if (binding_parse(xml, &b, &err) < 0) {
                FUZZ_CHECK(!b.tenant && !b.labels && !b.volumes, "binding filled on failure");
                return 0;
        }
        FUZZ_CHECK(b.tenant && b.policy, "accepted without tenant or policy");
        binding_to_xml(&b, &sb);
        again = strbuf_steal(&sb);
        FUZZ_CHECK(again, "binding_to_xml");
        FUZZ_CHECK(binding_parse(again, &back, &err) == 0, "own output refused: %s\n%s", err.msg, again);
        diff = fuzz_binding_diff(&b, &back);
        FUZZ_CHECK(!diff, "%s differs after the round trip:\n%s", diff, again);
        binding_done(&back);
        binding_done(&b);
        return 0;
}
