/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "api-private.h"
#include "sovd/json-util.h"
#include "sovd/log.h"
#include "sovd/names.h"
#include "sovd/snapshot-service.h"

/* The {name} of a snapshot route, refused before it reaches libvirt when it is not a name sovd gives. */
static int check_snapshot_name(struct api_request *req, struct sovd_err *err) {
        if (!name_is_valid(req->name))
                return err_set(err, -EINVAL, "'%s' is not a snapshot name", req->name[0] == '!' ? "(too long)" : req->name);
        return 0;
}

static int parse_body(struct api_request *req, struct json_object **ret, struct sovd_err *err) {
        if (req->body_len == 0)
                return err_set(err, -EINVAL, "a JSON object is required");
        return json_parse_strict(req->body, req->body_len, ret, err);
}

int handle_snapshot_list(struct api_request *req, struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = NULL;
        int r = check_uuid(req, err);

        if (r < 0 || (r = snapshot_list_json(req->uuid, &o, err)) < 0)
                return r;
        return reply_json(req, 200, o);
}

int handle_snapshot_get(struct api_request *req, struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = NULL;
        int r = check_uuid(req, err);

        if (r < 0 || (r = check_snapshot_name(req, err)) < 0 || (r = snapshot_get_json(req->uuid, req->name, &o, err)) < 0)
                return r;
        return reply_json(req, 200, o);
}

static int submit_job(struct api_request *req, const struct snapshot_plan *plan, const struct vm_view *v,
                      const struct decision *d, struct sovd_err *err) {
        _cleanup_json_ struct json_object *ctx = request_context_json(req, v->domain.name, v->binding->tenant, d->id);
        _cleanup_json_ struct json_object *params = ctx ? snapshot_plan_to_params(plan, ctx) : NULL;
        char id[ID_TEXT_LEN];
        int r;

        if (!params)
                return -ENOMEM;
        r = jobs_submit("snapshot", v->domain.uuid, params, req->request_id, id, err);
        if (r < 0)
                return r;
        return reply_job(req, 202, id, err);
}

int handle_snapshot_create(struct api_request *req, struct sovd_err *err) {
        _cleanup_json_ struct json_object *doc = NULL, *o = NULL;
        _cleanup_decision_ struct decision *d = NULL;
        struct snapshot_request sr = {};
        struct snapshot_plan plan = {};
        struct vm_view v = {};
        int r;

        if ((r = check_uuid(req, err)) < 0 || (r = parse_body(req, &doc, err)) < 0 ||
            (r = snapshot_request_parse(doc, &sr, err)) < 0)
                return r;
        r = vm_service_get(req->uuid, &v, err);
        if (r >= 0)
                r = snapshot_plan_make(&v, &sr, &plan, err);
        /* The door: every place a file will be written, before libvirt is asked. */
        if (r >= 0)
                r = admission_decide_writes("snapshot", v.binding->policy, POLICY_KIND_SNAPSHOT, plan.places,
                                            plan.n_places, time(NULL), &d);
        if (r >= 0)
                r = note_decision(req, d, v.domain.uuid, v.domain.name, v.binding->tenant, err);
        if (r < 0)
                goto out;
        if (!d->allowed) {
                reply_problem_ext(req, -SOVD_E_POLICY_DENIED, d->reason, "decision", decision_to_json(d));
                goto out;
        }
        if (plan.as_job) {
                r = submit_job(req, &plan, &v, d, err);
                goto out;
        }
        struct record_ctx ctx = request_ctx(req);
        ctx.vm_name = v.domain.name;
        ctx.tenant = v.binding->tenant;
        r = jobs_hold_vm(v.domain.uuid, "snapshot", err);
        if (r >= 0) {
                r = snapshot_execute(v.domain.uuid, &plan, &ctx, d->id, err);
                jobs_release_vm(v.domain.uuid);
        }
        if (r >= 0)
                r = snapshot_get_json(v.domain.uuid, sr.name, &o, err);
        if (r >= 0)
                r = reply_json(req, 201, o);
        if (r >= 0 && asprintf(&req->reply.location, "/v1/vms/%s/snapshots/%s", v.domain.uuid, sr.name) < 0) {
                req->reply.location = NULL;
                r = -ENOMEM;
        }
        if (r >= 0)
                log_emit(LOG_NOTICE, LOG_FIELDS({ "SOVD_REQUEST_ID", req->request_id }, { "SOVD_VM_UUID", v.domain.uuid }),
                         "snapshot '%s' of VM '%s' created", sr.name, v.domain.name);
out:
        snapshot_plan_done(&plan);
        snapshot_request_done(&sr);
        vm_view_done(&v);
        return r;
}

int handle_snapshot_delete(struct api_request *req, struct sovd_err *err) {
        struct record_ctx ctx;
        struct sovd_err rerr;
        int r = check_uuid(req, err);

        if (r < 0 || (r = check_snapshot_name(req, err)) < 0 || (r = snapshot_delete(req->uuid, req->name, err)) < 0)
                return r;
        ctx = request_ctx(req);
        (void) record_operation(&ctx, "snapshot-delete", "succeeded", NULL, req->name, NULL, &rerr);
        return reply_empty(req, 204);
}

int handle_snapshot_revert(struct api_request *req, struct sovd_err *err) {
        _cleanup_decision_ struct decision *d = NULL;
        int r = check_uuid(req, err);

        if (r < 0 || (r = check_snapshot_name(req, err)) < 0 || (r = check_no_params(req, err)) < 0 ||
            (r = snapshot_revert_decide(req->uuid, req->name, &d, err)) < 0)
                return r;
        if (d) {
                r = note_decision(req, d, req->uuid, NULL, NULL, err);
                if (r < 0)
                        return r;
                if (!d->allowed) {
                        reply_problem_ext(req, -SOVD_E_POLICY_DENIED, d->reason, "decision", decision_to_json(d));
                        return 0;
                }
        }
        r = snapshot_revert(req->uuid, req->name, err);
        if (r < 0)
                return r;
        return reply_vm(req, 200, req->uuid, err);
}
