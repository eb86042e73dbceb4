/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "api-private.h"
#include "sovd/backup-service.h"
#include "sovd/json-util.h"
#include "sovd/log.h"

static int parse_body(struct api_request *req, struct json_object **ret, struct sovd_err *err) {
        if (req->body_len == 0)
                return err_set(err, -EINVAL, "a JSON object is required");
        return json_parse_strict(req->body, req->body_len, ret, err);
}

/* Records the decision, answers a denial, or submits the job and answers 202. */
static int decide_and_submit(struct api_request *req, const char *kind, const char *vm, const char *vm_name,
                             const char *tenant, const char *claim, const struct decision *d,
                             struct json_object *params, struct sovd_err *err) {
        char id[ID_TEXT_LEN];
        int r;

        r = note_decision(req, d, vm, vm_name, tenant, err);
        if (r < 0)
                return r;
        if (!d->allowed) {
                reply_problem_ext(req, -SOVD_E_POLICY_DENIED, d->reason, "decision", decision_to_json(d));
                return 0;
        }
        if (json_add(params, "context", request_context_json(req, vm_name, tenant, d->id)) < 0)
                return -ENOMEM;
        r = jobs_submit_claiming(kind, vm, claim, params, req->request_id, id, err);
        if (r < 0)
                return r;
        return reply_job(req, 202, id, err);
}

int handle_backup_create(struct api_request *req, struct sovd_err *err) {
        _cleanup_json_ struct json_object *doc = NULL, *params = NULL;
        _cleanup_decision_ struct decision *d = NULL;
        struct backup_request br = {};
        struct vm_view v = {};
        int r;

        if ((r = check_uuid(req, err)) < 0 || (r = parse_body(req, &doc, err)) < 0 ||
            (r = backup_request_parse(doc, &br, err)) < 0)
                return r;
        r = vm_service_get(req->uuid, &v, err);
        if (r >= 0)
                r = backup_prepare(&v, &br, &d, &params, err);
        if (r >= 0)
                r = decide_and_submit(req, "backup", v.domain.uuid, v.domain.name, v.binding->tenant, NULL, d, params,
                                      err);
        backup_request_done(&br);
        vm_view_done(&v);
        return r;
}

int handle_backup_list(struct api_request *req, struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = NULL;
        int r = check_uuid(req, err);

        /* Backups outlive their VM: a deleted VM's backups are still listed. */
        if (r < 0 || (r = backup_list_json(req->uuid, &o, err)) < 0)
                return r;
        return reply_json(req, 200, o);
}

int handle_backup_get(struct api_request *req, struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = NULL;
        int r = check_uuid(req, err);

        if (r < 0 || (r = backup_get_json(req->uuid, &o, err)) < 0)
                return r;
        return reply_json(req, 200, o);
}

int handle_backup_verify(struct api_request *req, struct sovd_err *err) {
        _cleanup_json_ struct json_object *params = json_object_new_object();
        _cleanup_free_ char *vm_name = NULL, *tenant = NULL, *claim = NULL;
        char vm[ID_TEXT_LEN], id[ID_TEXT_LEN];
        int r = check_uuid(req, err);

        if (r < 0 || (r = check_no_params(req, err)) < 0 ||
            (r = backup_verify_prepare(req->uuid, vm, &vm_name, &tenant, err)) < 0)
                return r;
        /* Hashing a chain of disk images takes minutes: a job, never a request thread held that long. */
        if (!params || json_add_string(params, "backup", req->uuid) < 0 ||
            json_add(params, "context", request_context_json(req, vm_name, tenant, NULL)) < 0 ||
            asprintf(&claim, "the verification of backup %s", req->uuid) < 0) {
                claim = NULL;
                return -ENOMEM;
        }
        r = jobs_submit_claiming("verify", vm, claim, params, req->request_id, id, err);
        if (r < 0)
                return r;
        return reply_job(req, 202, id, err);
}

int handle_backup_restore(struct api_request *req, struct sovd_err *err) {
        _cleanup_json_ struct json_object *doc = NULL, *params = NULL;
        _cleanup_decision_ struct decision *d = NULL;
        _cleanup_free_ char *tenant = NULL, *claim = NULL;
        struct restore_request rr = {};
        char vm[ID_TEXT_LEN];
        int r;

        if ((r = check_uuid(req, err)) < 0 || (r = parse_body(req, &doc, err)) < 0 ||
            (r = restore_request_parse(doc, &rr, err)) < 0)
                return r;
        r = restore_prepare(req->uuid, &rr, &d, &params, vm, &tenant, err);
        /*
         * A new VM's job is on a new UUID: without the claim, two restores
         * into one name would both be accepted and write the same files.
         */
        if (r >= 0 && rr.name && asprintf(&claim, "the name '%s'", rr.name) < 0) {
                claim = NULL;
                r = -ENOMEM;
        }
        if (r >= 0)
                r = decide_and_submit(req, "restore", vm, rr.name, tenant, claim, d, params, err);
        restore_request_done(&rr);
        return r;
}
