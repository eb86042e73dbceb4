/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "api-private.h"
#include "sovd/admission.h"
#include "sovd/drift.h"
#include "sovd/json-util.h"
#include "sovd/log.h"
#include "sovd/migration-service.h"
#include "sovd/names.h"
#include "sovd/strbuf.h"
#include "sovd/virt-conn.h"
#include "sovd/vm-index.h"
#include "sovd/vm-service.h"

static struct json_object *labels_to_json(const struct label *labels, size_t n) {
        struct json_object *o = json_object_new_object();

        for (size_t i = 0; o && i < n; i++)
                if (json_add_string(o, labels[i].key, labels[i].value) < 0) {
                        json_object_put(o);
                        return NULL;
                }
        return o;
}

static struct json_object *binding_to_json(const struct binding *b) {
        _cleanup_json_ struct json_object *o = json_object_new_object();

        if (!o || json_add_string(o, "tenant", b->tenant) < 0 || json_add_string(o, "policy", b->policy) < 0 ||
            json_add_string(o, "policy_digest", b->policy_digest) < 0 ||
            json_add_string(o, "request_id", b->request_id) < 0 ||
            json_add_string(o, "created_at", b->created_at) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* The VM object of docs/api.md; @detail adds disks, networks and the binding. */
static struct json_object *vm_to_json(const struct vm_view *v, bool detail) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        const struct binding *b = v->binding;
        struct json_object *labels;

        if (!o)
                return NULL;
        labels = b ? labels_to_json(b->labels, b->n_labels) : json_object_new_object();
        if (json_add_string(o, "uuid", v->domain.uuid) < 0 || json_add_string(o, "name", v->domain.name) < 0 ||
            json_add_string(o, "state", vm_state_to_string(v->domain.state)) < 0 ||
            json_add_bool(o, "managed", b != NULL) < 0 ||
            json_add_string(o, "tenant", b ? b->tenant : NULL) < 0 ||
            json_add_string(o, "policy", b ? b->policy : NULL) < 0 || json_add_int(o, "vcpus", v->domain.vcpus) < 0 ||
            json_add_int(o, "memory_mib", (int64_t) (v->domain.memory_kib / 1024)) < 0 || !labels ||
            json_add(o, "labels", labels) < 0)
                return NULL;
        if (!detail)
                return TAKE_PTR(o);

        struct json_object *disks = json_object_new_array(), *nets = json_object_new_array();
        if (json_add(o, "disks", disks) < 0 || json_add(o, "networks", nets) < 0 || !disks || !nets)
                return NULL;
        for (size_t i = 0; i < v->domain.n_disks; i++) {
                const struct virt_disk *d = &v->domain.disks[i];
                const struct vm_disk_ref *ref = v->disk_refs ? &v->disk_refs[i] : NULL;
                struct json_object *k = json_object_new_object();

                if (!k || json_object_array_add(disks, k) < 0 || json_add_string(k, "target", d->target) < 0 ||
                    json_add_string(k, "pool", ref ? ref->pool : NULL) < 0 ||
                    json_add_string(k, "volume", ref ? ref->volume : NULL) < 0 ||
                    json_add_string(k, "path", d->path) < 0 || json_add_string(k, "format", d->format) < 0 ||
                    json_add_bool(k, "created_by_sovd", ref && ref->created_by_sovd) < 0)
                        return NULL;
        }
        for (size_t i = 0; i < v->domain.n_interfaces; i++) {
                const struct virt_interface *f = &v->domain.interfaces[i];
                struct json_object *k = json_object_new_object();

                if (!k || json_object_array_add(nets, k) < 0 || json_add_string(k, "network", f->network) < 0 ||
                    json_add_string(k, "mac", f->mac) < 0)
                        return NULL;
        }
        if (json_add(o, "binding", b ? binding_to_json(b) : NULL) < 0)
                return NULL;
        if (v->binding_error && json_add_string(o, "binding_error", v->binding_error) < 0)
                return NULL;
        return TAKE_PTR(o);
}

char *vm_summary_serialize(const struct vm_view *v) {
        _cleanup_json_ struct json_object *o = vm_to_json(v, false);

        return o ? strdup(json_to_string(o)) : NULL;
}

/* The listing without the index (not synced yet): every domain read from libvirt now. */
static int list_live(const struct vm_filter *f, struct strbuf *out, struct sovd_err *err) {
        struct vm_view *views = NULL;
        size_t n = 0;
        int r;

        r = vm_service_list_live(f, &views, &n, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *s = vm_summary_serialize(&views[i]);
                if (!s) {
                        r = -ENOMEM;
                        break;
                }
                if (i > 0)
                        strbuf_append(out, ",");
                strbuf_append(out, s);
        }
        vm_view_array_free(views, n);
        return r;
}

int handle_vm_list(struct api_request *req, struct sovd_err *err) {
        _cleanup_strbuf_ struct strbuf sb = {};
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        struct vm_filter f = { .state = -1 };
        const char *state;
        int r;

        f.tenant = request_query(req, "tenant");
        if (f.tenant && !name_is_valid(f.tenant))
                return err_set(err, -EINVAL, "tenant: not a valid tenant name");
        state = request_query(req, "state");
        if (state) {
                f.state = vm_state_from_string(state);
                if (f.state < 0)
                        return err_set(err, -EINVAL,
                                       "state: must be one of running, blocked, paused, shutting-down, shutoff, "
                                       "crashed, pmsuspended, unknown");
        }
        /* The index is only trustworthy while libvirt is connected: it is not a record of its own. */
        r = virt_conn_acquire(&c, err);
        if (r < 0)
                return r;
        strbuf_append(&sb, "{\"vms\":[");
        r = vm_index_list(&f, &sb);
        if (r == -EAGAIN)
                r = list_live(&f, &sb, err);
        if (r < 0)
                return r;
        strbuf_append(&sb, "]}");
        api_reply_done(&req->reply);
        req->reply.body = strbuf_steal(&sb);
        if (!req->reply.body)
                return -ENOMEM;
        req->reply.status = 200;
        req->reply.content_type = "application/json";
        return 0;
}

/* Accepts either case (libvirt does) and continues with the canonical lower-case form. */
int check_uuid(struct api_request *req, struct sovd_err *err) {
        for (char *p = req->uuid; *p; p++)
                if (*p >= 'A' && *p <= 'F')
                        *p = (char) (*p - 'A' + 'a');
        if (!uuid_text_is_valid(req->uuid)) {
                /* The path's id names a VM, a job or a backup: say which was expected. */
                const char *what = strncmp(req->url, "/v1/jobs/", 9) == 0      ? "job id"
                                   : strncmp(req->url, "/v1/backups/", 12) == 0 ? "backup id"
                                                                                : "VM UUID";
                return err_set(err, -EINVAL, "'%s' is not a %s (36 characters: 8-4-4-4-12 hex digits)",
                               req->uuid[0] == '!' ? "(too long)" : req->uuid, what);
        }
        return 0;
}

/*
 * Compliance now: the VM's policy re-evaluated against the current host,
 * pools and policy set, whatever it was admitted under.
 */
static struct json_object *compliance_to_json(const struct vm_view *v) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        _cleanup_decision_ struct decision *d = NULL;
        _cleanup_free_ struct admission_disk *disks = NULL;
        struct json_object *reasons = json_object_new_array();
        size_t n_places = 0;

        if (!o || json_add(o, "reasons", reasons) < 0 || !reasons || json_add(o, "drift", drift_recent(v->domain.uuid)) < 0)
                return NULL;
        if (!v->binding) {
                if (json_add_string(o, "status", v->binding_error ? "invalid-binding" : "unbound") < 0 ||
                    (v->binding_error && json_object_array_add(reasons, json_new_string(v->binding_error)) < 0))
                        return NULL;
                return TAKE_PTR(o);
        }
        disks = vm_view_storage_places(v, &n_places);
        if (!disks || admission_decide_vm("compliance", v->binding->policy, disks, n_places, time(NULL), &d) < 0)
                return NULL;
        if (json_add_string(o, "status", d->would_deny ? "non-compliant" : "compliant") < 0 ||
            json_add_string(o, "admitted_digest", v->binding->policy_digest) < 0 ||
            json_add_string(o, "current_digest", d->policy ? d->policy->digest : NULL) < 0 ||
            json_add_bool(o, "policy_changed", !d->policy || !v->binding->policy_digest ||
                                                       !streq(d->policy->digest, v->binding->policy_digest)) < 0)
                return NULL;
        if (!d->policy && json_object_array_add(reasons, json_new_string(d->reason)) < 0)
                return NULL;
        for (size_t i = 0; i < d->n_checks; i++)
                for (size_t k = 0; k < d->checks[i].n_violations; k++) {
                        char line[512];
                        snprintf(line, sizeof(line), "%s '%s' (%s rule): %s", d->checks[i].place.type,
                                 d->checks[i].place.name, policy_kind_to_string(d->checks[i].kind),
                                 d->checks[i].violations[k].reason);
                        if (json_object_array_add(reasons, json_new_string(line)) < 0)
                                return NULL;
                }
        return TAKE_PTR(o);
}

int reply_vm(struct api_request *req, int status, const char *uuid, struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = NULL;
        struct vm_view v = {};
        int r;

        r = vm_service_get(uuid, &v, err);
        if (r < 0)
                return r;
        o = vm_to_json(&v, true);
        if (o) {
                struct json_object *c = compliance_to_json(&v);
                if (!c || json_add(o, "compliance", c) < 0) {
                        json_object_put(o);
                        o = NULL;
                }
        }
        vm_view_done(&v);
        if (!o)
                return -ENOMEM;
        return reply_json(req, status, o);
}

int handle_vm_get(struct api_request *req, struct sovd_err *err) {
        int r = check_uuid(req, err);

        if (r < 0)
                return r;
        return reply_vm(req, 200, req->uuid, err);
}

int handle_vm_create(struct api_request *req, struct sovd_err *err) {
        _cleanup_json_ struct json_object *doc = NULL;
        struct vm_spec spec = {};
        char uuid[ID_TEXT_LEN];
        int r;

        if (req->body_len == 0)
                return err_set(err, -EINVAL, "a VM spec (JSON object) is required");
        r = json_parse_strict(req->body, req->body_len, &doc, err);
        if (r < 0)
                return r;
        r = vm_spec_parse(doc, &spec, err);
        if (r < 0)
                return r;

        /* The door: host and every disk's pool, before anything is created. */
        _cleanup_decision_ struct decision *d = NULL;
        struct admission_disk disks[VM_SPEC_MAX_DISKS];
        for (size_t i = 0; i < spec.n_disks; i++)
                disks[i] = (struct admission_disk){ .pool = spec.disks[i].pool };
        r = admission_decide_vm("create", spec.policy, disks, spec.n_disks, time(NULL), &d);
        if (r < 0) {
                vm_spec_done(&spec);
                return r;
        }
        r = note_decision(req, d, NULL, spec.name, spec.tenant, err);
        if (r < 0) {
                vm_spec_done(&spec);
                return r;
        }
        if (!d->allowed) {
                vm_spec_done(&spec);
                reply_problem_ext(req, -SOVD_E_POLICY_DENIED, d->reason, "decision", decision_to_json(d));
                return 0;
        }
        r = vm_service_create(&spec, req->request_id, d->policy ? d->policy->digest : NULL, uuid, err);
        if (r < 0) {
                log_emit(LOG_WARNING,
                         LOG_FIELDS({ "SOVD_REQUEST_ID", req->request_id }, { "SOVD_VM_NAME", spec.name },
                                    { "SOVD_TENANT", spec.tenant }),
                         "creating VM '%s' failed: %s", spec.name, err->msg);
                vm_spec_done(&spec);
                return r;
        }
        log_emit(LOG_NOTICE,
                 LOG_FIELDS({ "SOVD_REQUEST_ID", req->request_id }, { "SOVD_VM_UUID", uuid },
                            { "SOVD_VM_NAME", spec.name }, { "SOVD_TENANT", spec.tenant },
                            { "SOVD_POLICY", spec.policy }),
                 "VM '%s' (%s) created for tenant '%s'", spec.name, uuid, spec.tenant);
        vm_spec_done(&spec);
        r = reply_vm(req, 201, uuid, err);
        if (r < 0)
                return r;
        if (asprintf(&req->reply.location, "/v1/vms/%s", uuid) < 0) {
                req->reply.location = NULL;
                return -ENOMEM;
        }
        return 0;
}

int handle_vm_delete(struct api_request *req, struct sovd_err *err) {
        const char *ds = request_query(req, "delete_storage");
        bool delete_storage = false;
        int r;

        r = check_uuid(req, err);
        if (r < 0)
                return r;
        if (ds) {
                if (streq(ds, "true"))
                        delete_storage = true;
                else if (!streq(ds, "false"))
                        return err_set(err, -EINVAL, "delete_storage: must be true or false");
        }
        r = vm_service_delete(req->uuid, delete_storage, err);
        if (r < 0)
                return r;
        log_emit(LOG_NOTICE, LOG_FIELDS({ "SOVD_REQUEST_ID", req->request_id }, { "SOVD_VM_UUID", req->uuid }),
                 "VM %s deleted%s", req->uuid, delete_storage ? " with its storage" : "");
        return reply_empty(req, 204);
}

/*
 * The start door: a bound VM starts only where its policy allows its host
 * and every disk's pool now. Returns 1 when the answer (a denial) is set.
 */
static int admit_start(struct api_request *req, struct sovd_err *err) {
        size_t n_places = 0;
        _cleanup_decision_ struct decision *d = NULL;
        _cleanup_free_ struct admission_disk *disks = NULL;
        struct vm_view v = {};
        int r;

        r = vm_service_get(req->uuid, &v, err);
        if (r < 0)
                return r;
        if (!v.binding) {
                if (v.binding_error) {
                        r = err_set(err, -SOVD_E_POLICY_DENIED,
                                    "VM '%s' carries sovd metadata that is not a valid binding (%s): refusing to start it",
                                    v.domain.name, v.binding_error);
                        vm_view_done(&v);
                        return r;
                }
                vm_view_done(&v);
                return 0; /* not sovd's: no policy to apply */
        }
        disks = vm_view_storage_places(&v, &n_places);
        r = disks ? admission_decide_vm("start", v.binding->policy, disks, n_places, time(NULL), &d) : -ENOMEM;
        if (r >= 0)
                r = note_decision(req, d, req->uuid, v.domain.name, v.binding->tenant, err);
        vm_view_done(&v);
        if (r < 0)
                return r;
        if (d->allowed)
                return 0;
        reply_problem_ext(req, -SOVD_E_POLICY_DENIED, d->reason, "decision", decision_to_json(d));
        return 1;
}

int handle_vm_action(struct api_request *req, struct sovd_err *err) {
        int action, r;

        r = check_uuid(req, err);
        if (r < 0)
                return r;
        action = vm_action_from_string(req->action);
        if (action < 0)
                return err_set(err, -EINVAL, "unknown action");
        /* Actions take no parameters; an empty object is tolerated for clients that always send one. */
        r = check_no_params(req, err);
        if (r < 0)
                return r;
        if (action == VM_ACTION_START) {
                r = admit_start(req, err);
                if (r != 0)
                        return r < 0 ? r : 0;
        }
        r = vm_service_action(req->uuid, (enum vm_action) action, err);
        if (r < 0)
                return r;
        log_emit(LOG_NOTICE,
                 LOG_FIELDS({ "SOVD_REQUEST_ID", req->request_id }, { "SOVD_VM_UUID", req->uuid },
                            { "SOVD_ACTION", req->action }),
                 "VM %s: %s", req->uuid, req->action);
        return reply_vm(req, action == VM_ACTION_SHUTDOWN ? 202 : 200, req->uuid, err);
}

int handle_vm_migrate(struct api_request *req, struct sovd_err *err) {
        _cleanup_json_ struct json_object *doc = NULL, *params = NULL;
        _cleanup_decision_ struct decision *d = NULL;
        struct migrate_request mr = {};
        struct vm_view v = {};
        char migration_id[ID_TEXT_LEN], job[ID_TEXT_LEN];
        int r;

        if ((r = check_uuid(req, err)) < 0)
                return r;
        if (req->body_len == 0)
                return err_set(err, -EINVAL, "a JSON object naming the peer is required");
        if ((r = json_parse_strict(req->body, req->body_len, &doc, err)) < 0 ||
            (r = migrate_request_parse(doc, &mr, err)) < 0)
                return r;
        r = vm_service_get(req->uuid, &v, err);
        /* The door: the destination's own account of itself, judged before libvirt is called. */
        if (r >= 0)
                r = migrate_prepare(&v, &mr, &d, &params, migration_id, err);
        if (r >= 0)
                r = note_decision_migration(req, d, v.domain.uuid, v.domain.name, v.binding->tenant, migration_id, err);
        if (r >= 0 && !d->allowed) {
                reply_problem_ext(req, -SOVD_E_POLICY_DENIED, d->reason, "decision", decision_to_json(d));
                goto out;
        }
        if (r >= 0) {
                struct json_object *ctx = request_context_json(req, v.domain.name, v.binding->tenant, d->id);
                if (!ctx || json_add_string(ctx, "migration_id", migration_id) < 0 || json_add(params, "context", ctx) < 0)
                        r = -ENOMEM;
        }
        if (r >= 0)
                r = jobs_submit("migrate", v.domain.uuid, params, req->request_id, job, err);
        if (r >= 0) {
                log_emit(LOG_NOTICE,
                         LOG_FIELDS({ "SOVD_REQUEST_ID", req->request_id }, { "SOVD_VM_UUID", v.domain.uuid },
                                    { "SOVD_MIGRATION_ID", migration_id }),
                         "VM '%s' migrating to peer '%s' (%s)", v.domain.name, mr.peer, mr.live ? "live" : "offline");
                r = reply_job(req, 202, job, err);
        }
out:
        migrate_request_done(&mr);
        vm_view_done(&v);
        return r;
}
