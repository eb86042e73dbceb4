/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "api-private.h"
#include "sovd/jobs.h"
#include "sovd/json-util.h"
#include "sovd/names.h"

int check_no_params(struct api_request *req, struct sovd_err *err) {
        _cleanup_json_ struct json_object *doc = NULL;
        static const char *const none[] = { NULL };
        int r;

        if (req->body_len == 0)
                return 0;
        r = json_parse_strict(req->body, req->body_len, &doc, err);
        return r < 0 ? r : json_check_members(doc, none, "", err);
}

int reply_job(struct api_request *req, int status, const char *id, struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = NULL;
        int r;

        r = jobs_get(id, &o, err);
        if (r < 0)
                return r;
        r = reply_json(req, status, o);
        if (r < 0)
                return r;
        if (asprintf(&req->reply.location, "/v1/jobs/%s", id) < 0) {
                req->reply.location = NULL;
                return -ENOMEM;
        }
        return 0;
}

int handle_job_list(struct api_request *req, struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = json_object_new_object(), *list = NULL;
        const char *vm = request_query(req, "vm"), *state = request_query(req, "state");
        int s = -1, r;

        if (vm && !uuid_text_is_valid(vm))
                return err_set(err, -EINVAL, "vm: not a VM UUID (lower-case 8-4-4-4-12 hex digits)");
        if (state) {
                s = job_state_from_string(state);
                if (s < 0)
                        return err_set(err, -EINVAL, "state: must be one of queued, running, succeeded, failed, cancelled");
        }
        r = jobs_list(vm, s, &list);
        if (r < 0)
                return r;
        if (!o || json_add(o, "jobs", TAKE_PTR(list)) < 0)
                return -ENOMEM;
        return reply_json(req, 200, o);
}

int handle_job_get(struct api_request *req, struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = NULL;
        int r = check_uuid(req, err);

        if (r < 0)
                return r;
        r = jobs_get(req->uuid, &o, err);
        if (r < 0)
                return r;
        return reply_json(req, 200, o);
}

int handle_job_cancel(struct api_request *req, struct sovd_err *err) {
        int r = check_uuid(req, err);

        if (r < 0)
                return r;
        r = jobs_cancel(req->uuid, err);
        if (r < 0)
                return r;
        return reply_job(req, 202, req->uuid, err);
}
