/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A POST /v1/vms/{uuid}/snapshots body: whatever snapshot_request_parse()
 * accepts must hold only what may reach libvirt and file names (a valid
 * name and pool, a known kind, a printable description within its bound,
 * no pool for an internal snapshot); what it refuses says why and keeps
 * nothing (LeakSanitizer sees a leak).
 */
#include "fuzz.h"
#include "sovd/json-util.h"
#include "sovd/names.h"
#include "sovd/snapshot-service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_json_ struct json_object *doc = NULL;
        struct snapshot_request sr;
        struct sovd_err err = {};

        if (json_parse_strict((const char *) data, size, &doc, &err) < 0)
                return 0;
        if (snapshot_request_parse(doc, &sr, &err) < 0) {
                FUZZ_CHECK(err.msg[0], "refused without a reason");
                FUZZ_CHECK(!sr.name && !sr.pool && !sr.description, "refused, yet kept a member");
                return 0;
        }
        FUZZ_CHECK(name_is_valid(sr.name), "accepted name '%s'", sr.name);
        FUZZ_CHECK(sr.kind < _VIRT_SNAPSHOT_KIND_MAX, "kind %d", (int) sr.kind);
        FUZZ_CHECK(!sr.pool || name_is_valid(sr.pool), "accepted pool '%s'", sr.pool);
        FUZZ_CHECK(!sr.pool || sr.kind != VIRT_SNAPSHOT_INTERNAL, "a pool for an internal snapshot");
        FUZZ_CHECK(!sr.description || (strlen(sr.description) <= SNAPSHOT_DESCRIPTION_MAX &&
                                       utf8_is_printable(sr.description, strlen(sr.description))),
                   "accepted description of %zu bytes", strlen(sr.description));
        snapshot_request_done(&sr);
        return 0;
}
