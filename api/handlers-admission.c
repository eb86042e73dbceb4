/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * POST /v1/admission: the libvirt hook asks before libvirt starts a domain
 * or accepts an incoming migration, for domains started or migrated
 * without going through sovd's API (virsh, another tool). The domain XML
 * comes from libvirt via the hook and is judged as outside input.
 */
#include "api-private.h"
#include "sovd/admission.h"
#include "sovd/domain-xml.h"
#include "sovd/drift.h"
#include "sovd/jobs.h"
#include "sovd/json-util.h"
#include "sovd/log.h"
#include "sovd/names.h"
#include "sovd/recorder.h"
#include "sovd/vm-service.h"

/* A refusal that is not a policy decision: on record as a refused start, and the hook's answer says why. */
static int refuse_busy(struct api_request *req, struct json_object *out, const char *domain, const char *uuid,
                       const char *reason, struct sovd_err *err) {
        struct record_ctx ctx = request_ctx(req);
        int r;

        ctx.vm_uuid = uuid;
        ctx.vm_name = domain;
        /* Written before libvirt hears the answer, as decisions are. */
        r = record_operation(&ctx, "start", "refused", NULL, reason, NULL, err);
        if (r < 0)
                return r;
        log_emit(LOG_WARNING, LOG_FIELDS({ "SOVD_REQUEST_ID", req->request_id }, { "SOVD_VM_UUID", uuid }),
                 "start of domain '%s' refused: %s", domain, reason);
        if (json_add_bool(out, "allowed", false) < 0 || json_add(out, "decision", NULL) < 0 ||
            json_add_string(out, "reason", reason) < 0)
                return -ENOMEM;
        return reply_json(req, 200, out);
}

int handle_admission(struct api_request *req, struct sovd_err *err) {
        static const char *const keys[] = { "operation", "domain", "domain_xml", NULL };
        _cleanup_json_ struct json_object *doc = NULL, *out = json_object_new_object();
        _cleanup_decision_ struct decision *d = NULL;
        _cleanup_strv_free_ char **paths = NULL;
        struct binding *b = NULL;
        const char *operation = NULL, *domain = NULL, *xml = NULL;
        char uuid[ID_TEXT_LEN], **pools = NULL;
        size_t n;
        int r;

        if (!out)
                return -ENOMEM;
        if (req->body_len == 0)
                return err_set(err, -EINVAL, "a JSON object with operation, domain and domain_xml is required");
        if ((r = json_parse_strict(req->body, req->body_len, &doc, err)) < 0 ||
            (r = json_check_members(doc, keys, "", err)) < 0 ||
            (r = json_get_string(doc, "operation", "", true, &operation, err)) < 0 ||
            (r = json_get_string(doc, "domain", "", true, &domain, err)) < 0 ||
            (r = json_get_string(doc, "domain_xml", "", true, &xml, err)) < 0)
                return r;
        if (!streq(operation, "start") && !streq(operation, "migrate-in"))
                return err_set(err, -EINVAL, "operation: must be \"start\" or \"migrate-in\"");
        if (!utf8_is_printable(domain, strlen(domain)) || strlen(domain) > 256)
                return err_set(err, -EINVAL, "domain: must be a printable name");

        r = domain_xml_inspect(xml, strlen(xml), &b, &paths, uuid, err);
        if (r == -EBADMSG) {
                /* sovd metadata that is not a valid binding: someone edited it; never let that through. */
                if (json_add_bool(out, "allowed", false) < 0 || json_add(out, "decision", NULL) < 0 ||
                    json_add_string(out, "reason", err->msg) < 0)
                        return -ENOMEM;
                log_emit(LOG_WARNING, LOG_FIELDS({ "SOVD_REQUEST_ID", req->request_id }, { "SOVD_OPERATION", operation }),
                         "admission of domain '%s' refused: %s", domain, err->msg);
                return reply_json(req, 200, out);
        }
        if (r < 0)
                return err_prefix(err, r, "domain_xml");
        /*
         * Whatever its policy says: a VM whose disks sovd is restoring or
         * deleting must not start behind its back (virsh start) on them.
         */
        if (streq(operation, "start") && uuid[0]) {
                struct sovd_err busy = {};
                if (jobs_vm_may_start(uuid, &busy) < 0) {
                        binding_free(b);
                        return refuse_busy(req, out, domain, uuid, busy.msg, err);
                }
        }
        if (!b) {
                if (json_add_bool(out, "allowed", true) < 0 || json_add(out, "decision", NULL) < 0 ||
                    json_add_string(out, "reason", "domain carries no sovd binding") < 0)
                        return -ENOMEM;
                return reply_json(req, 200, out);
        }

        n = strv_length(paths);
        r = vm_service_pools_of_paths(paths, n, &pools, err);
        if (r < 0) {
                binding_free(b);
                return r;
        }
        _cleanup_free_ struct admission_disk *disks = calloc(n + 1, sizeof(*disks));
        if (!disks) {
                vm_service_pools_free(pools, n);
                binding_free(b);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                disks[i] = (struct admission_disk){ .pool = pools[i], .path = paths[i] };
        /* The decision keeps copies of the names: the pools can be freed right after. */
        r = admission_decide_vm(operation, b->policy, disks, n, time(NULL), &d);
        vm_service_pools_free(pools, n);
        if (r < 0) {
                binding_free(b);
                return r;
        }
        /* Written before libvirt hears the answer: an unrecorded admission is a refusal. */
        /* The id names one trip: a later start of the VM there is not part of it. */
        _cleanup_free_ char *migration_id =
                streq(operation, "migrate-in") && b->migration_id ? strdup(b->migration_id) : NULL;
        r = note_decision_migration(req, d, NULL, domain, b->tenant, migration_id, err);
        binding_free(b);
        if (r < 0)
                return r;
        /*
         * An arrival of a migration sovd runs (its id in the binding) is
         * sovd's doing: its define and start here are not drift. A raw
         * virsh migration still is.
         */
        if (d->allowed && streq(operation, "migrate-in") && migration_id) {
                drift_expect(domain, "defined");
                drift_expect(domain, "started");
        }
        if (json_add_bool(out, "allowed", d->allowed) < 0 || json_add(out, "decision", decision_to_json(d)) < 0 ||
            json_add_string(out, "reason", d->reason) < 0)
                return -ENOMEM;
        return reply_json(req, 200, out);
}
