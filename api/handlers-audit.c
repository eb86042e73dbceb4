/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>

#include "api-private.h"
#include "sovd/audit.h"
#include "sovd/json-util.h"
#include "sovd/names.h"
#include "sovd/recorder.h"

int handle_audit_list(struct api_request *req, struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *records = NULL;
        struct audit_query q = { .limit = 100 };
        struct audit_log *log = recorder_log();
        const char *since = request_query(req, "since"), *limit = request_query(req, "limit"),
                   *cursor = request_query(req, "cursor");
        uint64_t next = 0;
        char *end;
        int r;

        if (!o)
                return -ENOMEM;
        if (!log)
                return err_set(err, -EIO, "the audit log is not open");
        if (since && rfc3339_parse(since, &q.since) < 0)
                return err_set(err, -EINVAL, "since: must be an RFC 3339 UTC time like 2026-11-23T00:00:00Z");
        q.vm = request_query(req, "vm");
        if (q.vm && !uuid_text_is_valid(q.vm))
                return err_set(err, -EINVAL, "vm: must be a lower-case VM UUID");
        q.outcome = request_query(req, "decision");
        if (q.outcome && !streq(q.outcome, "allow") && !streq(q.outcome, "deny"))
                return err_set(err, -EINVAL, "decision: must be allow or deny");
        if (limit) {
                errno = 0;
                unsigned long v = strtoul(limit, &end, 10);
                if (errno || *end || !*limit || v < 1 || v > AUDIT_QUERY_LIMIT_MAX)
                        return err_set(err, -EINVAL, "limit: must be an integer from 1 to %u", AUDIT_QUERY_LIMIT_MAX);
                q.limit = (unsigned) v;
        }
        if (cursor) {
                errno = 0;
                unsigned long long v = strtoull(cursor, &end, 10);
                if (errno || *end || !*cursor || cursor[0] == '-')
                        return err_set(err, -EINVAL, "cursor: must be the next_cursor of a previous page");
                q.after_seq = v;
        }
        r = audit_query(log, &q, &records, &next, err);
        if (r < 0)
                return r;
        if (json_add(o, "records", records) < 0 ||
            (next ? json_add_int(o, "next_cursor", (int64_t) next) : json_add(o, "next_cursor", NULL)) < 0)
                return -ENOMEM;
        return reply_json(req, 200, o);
}

/*
 * A verification re-reads the whole log (gigabytes after months): one at a
 * time, so that readers cannot occupy every worker thread with them.
 */
static pthread_mutex_t verify_lock = PTHREAD_MUTEX_INITIALIZER;

int handle_audit_verify(struct api_request *req, struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = NULL;
        struct audit_verify_result res = {};
        struct audit_log *log = recorder_log();
        int r;

        if (!log)
                return err_set(err, -EIO, "the audit log is not open");
        if (pthread_mutex_trylock(&verify_lock) != 0)
                return err_set(err, -EBUSY, "a verification of the audit log is already running; retry when it ends");
        r = audit_verify(log, 0, &res, err);
        pthread_mutex_unlock(&verify_lock);
        if (r < 0)
                return r;
        r = audit_verify_result_to_json(&res, &o);
        if (r < 0)
                return r;
        return reply_json(req, 200, o);
}
