/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A POST /v1/vms/{uuid}/backups body: whatever backup_request_parse()
 * accepts names its target by a valid name (it ends up in paths and audit
 * records); what it refuses says why and keeps nothing.
 */
#include "fuzz.h"
#include "sovd/backup-service.h"
#include "sovd/json-util.h"
#include "sovd/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_json_ struct json_object *doc = NULL;
        struct backup_request br;
        struct sovd_err err = {};

        if (json_parse_strict((const char *) data, size, &doc, &err) < 0)
                return 0;
        if (backup_request_parse(doc, &br, &err) < 0) {
                FUZZ_CHECK(err.msg[0], "refused without a reason");
                FUZZ_CHECK(!br.target, "refused, yet kept the target");
                return 0;
        }
        FUZZ_CHECK(name_is_valid(br.target), "accepted target '%s'", br.target);
        backup_request_done(&br);
        return 0;
}
