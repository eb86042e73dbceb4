/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A POST /v1/backups/{id}/restore body: whatever restore_request_parse()
 * accepts is exactly one of a new VM (a valid name, an optional valid
 * pool: both end up in file names and domain XML) or in place (no pool);
 * what it refuses says why and keeps nothing.
 */
#include "fuzz.h"
#include "sovd/backup-service.h"
#include "sovd/json-util.h"
#include "sovd/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_json_ struct json_object *doc = NULL;
        struct restore_request rr;
        struct sovd_err err = {};

        if (json_parse_strict((const char *) data, size, &doc, &err) < 0)
                return 0;
        if (restore_request_parse(doc, &rr, &err) < 0) {
                FUZZ_CHECK(err.msg[0], "refused without a reason");
                FUZZ_CHECK(!rr.name && !rr.pool, "refused, yet kept a member");
                return 0;
        }
        FUZZ_CHECK(!rr.name != !rr.in_place, "name '%s' with in_place %d", rr.name, rr.in_place);
        FUZZ_CHECK(!rr.name || name_is_valid(rr.name), "accepted name '%s'", rr.name);
        FUZZ_CHECK(!rr.pool || (name_is_valid(rr.pool) && !rr.in_place), "accepted pool '%s'", rr.pool);
        restore_request_done(&rr);
        return 0;
}
