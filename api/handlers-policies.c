/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "api-private.h"
#include "sovd/virt-backup.h"
#include "sovd/admission.h"
#include "sovd/json-util.h"
#include "sovd/log.h"
#include "sovd/names.h"
#include "sovd/peers.h"
#include "sovd/policy-store.h"
#include "sovd/time-util.h"
#include "sovd/virt-conn.h"
#include "sovd/virt-storage.h"

static struct json_object *policy_summary(const struct policy *p) {
        _cleanup_json_ struct json_object *o = json_object_new_object();

        if (!o || json_add_string(o, "name", p->name) < 0 || json_add_int(o, "revision", p->revision) < 0 ||
            json_add_string(o, "description", p->description) < 0 ||
            json_add_string(o, "mode", p->mode == POLICY_MODE_AUDIT ? "audit" : "enforce") < 0 ||
            json_add_string(o, "digest", p->digest) < 0)
                return NULL;
        return TAKE_PTR(o);
}

int handle_policy_list(struct api_request *req, struct sovd_err *err) {
        _cleanup_policy_set_ struct policy_set *set = admission_policies();
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *arr = json_object_new_array(), *groups = json_object_new_array();
        char when[RFC3339_MAX];

        if (!o || json_add(o, "policies", arr) < 0 || !arr || json_add(o, "groups", groups) < 0 || !groups)
                return -ENOMEM;
        if (json_add_string(o, "dir", set ? set->dir : NULL) < 0 ||
            json_add_string(o, "loaded_at", set ? rfc3339_format(set->loaded_at, when) : NULL) < 0)
                return -ENOMEM;
        for (size_t i = 0; set && i < set->n_policies; i++) {
                struct json_object *p = policy_summary(set->policies[i]);
                if (!p || json_object_array_add(arr, p) < 0) {
                        json_object_put(p);
                        return -ENOMEM;
                }
        }
        for (size_t i = 0; set && i < set->n_groups; i++) {
                struct json_object *g = json_object_new_object();
                if (!g || json_object_array_add(groups, g) < 0 || json_add_string(g, "name", set->groups[i]->name) < 0 ||
                    json_add_string(g, "version", set->groups[i]->version) < 0 ||
                    json_add_int(g, "members", (int64_t) set->groups[i]->n_members) < 0)
                        return -ENOMEM;
        }
        return reply_json(req, 200, o);
}

int handle_policy_get(struct api_request *req, struct sovd_err *err) {
        _cleanup_policy_set_ struct policy_set *set = admission_policies();
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *doc = NULL;
        const struct policy *p;

        if (!name_is_valid(req->name))
                return err_set(err, -EINVAL, "'%s' is not a valid policy name", req->name[0] == '!' ? "(too long)" : req->name);
        p = policy_set_find(set, req->name);
        if (!p)
                return err_set(err, -ENOENT, "no policy named '%s' is loaded", req->name);
        o = policy_summary(p);
        /* A copy: the loaded document is shared by every thread. */
        if (!o || json_add_string(o, "reasoning", p->reasoning) < 0 || json_object_deep_copy(p->doc, &doc, NULL) < 0 ||
            json_add(o, "document", doc) < 0)
                return -ENOMEM;
        return reply_json(req, 200, o);
}

/*
 * Dry run: {"policy", "kind", "place": {"type": "host"} | {"type": "storage_pool"|"backup_target",
 * "name"} | {"tags": {...}, "name"?}, "at"?}. Nothing changes; the answer is the decision.
 */
int handle_policy_evaluate(struct api_request *req, struct sovd_err *err) {
        static const char *const keys[] = { "policy", "kind", "place", "at", NULL };
        static const char *const place_keys[] = { "type", "name", "tags", NULL };
        _cleanup_json_ struct json_object *doc = NULL, *out = NULL;
        _cleanup_decision_ struct decision *d = NULL;
        struct json_object *place = NULL, *tags_obj = NULL;
        const char *policy = NULL, *kind_s = NULL, *type = NULL, *name = NULL, *at = NULL;
        struct tags *tags = NULL;
        time_t now = time(NULL);
        int kind, r;

        if (req->body_len == 0)
                return err_set(err, -EINVAL, "a JSON object with policy, kind and place is required");
        if ((r = json_parse_strict(req->body, req->body_len, &doc, err)) < 0 ||
            (r = json_check_members(doc, keys, "", err)) < 0 ||
            (r = json_get_string(doc, "policy", "", true, &policy, err)) < 0 ||
            (r = json_get_string(doc, "kind", "", true, &kind_s, err)) < 0 ||
            (r = json_get_object(doc, "place", "", true, &place, err)) < 0 ||
            (r = json_get_string(doc, "at", "", false, &at, err)) < 0 ||
            (r = json_check_members(place, place_keys, "place", err)) < 0 ||
            (r = json_get_string(place, "type", "place", false, &type, err)) < 0 ||
            (r = json_get_string(place, "name", "place", false, &name, err)) < 0 ||
            (r = json_get_object(place, "tags", "place", false, &tags_obj, err)) < 0)
                return r;
        if (!name_is_valid(policy))
                return err_set(err, -EINVAL, "policy: not a valid policy name");
        kind = policy_kind_from_string(kind_s);
        if (kind < 0)
                return err_set(err, -EINVAL, "kind: must be compute, storage, snapshot, backup or migration");
        if (at && rfc3339_parse(at, &now) < 0)
                return err_set(err, -EINVAL, "at: must be an RFC 3339 UTC time like 2027-01-31T00:00:00Z");
        if (name && !name_is_valid(name))
                return err_set(err, -EINVAL, "place.name: not a valid name");
        if (tags_obj) {
                tags = calloc(1, sizeof(*tags));
                if (!tags)
                        return -ENOMEM;
                r = tags_parse(tags_obj, "place.tags", tags, err);
                if (r < 0) {
                        free(tags);
                        return r;
                }
                if (!type)
                        type = "place";
                else if (!streq(type, "host") && !streq(type, "storage_pool") && !streq(type, "backup_target")) {
                        tags_done(tags);
                        free(tags);
                        return err_set(err, -EINVAL, "place.type: must be host, storage_pool or backup_target");
                }
        } else {
                if (!type)
                        return err_set(err, -EINVAL, "place: needs a type (host, storage_pool, backup_target) or tags");
                if (!streq(type, "host") && !streq(type, "storage_pool") && !streq(type, "backup_target"))
                        return err_set(err, -EINVAL, "place.type: must be host, storage_pool or backup_target");
                if (!streq(type, "host") && !name)
                        return err_set(err, -EINVAL, "place.name: required for a %s", type);
        }
        /* @tags is owned by the decision from here on, whatever happens. */
        r = admission_decide_place(policy, (enum policy_kind) kind, type, name, tags, now, &d, err);
        if (r < 0) {
                if (tags && !d) {
                        tags_done(tags);
                        free(tags);
                }
                return r;
        }
        out = decision_to_json(d);
        if (!out)
                return -ENOMEM;
        return reply_json(req, 200, out);
}

int handle_storage_pools(struct api_request *req, struct sovd_err *err) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *arr = json_object_new_array();
        const struct config *cfg = req->config;
        int r;

        if (!o || json_add(o, "storage_pools", arr) < 0 || !arr)
                return -ENOMEM;
        r = virt_conn_acquire(&c, err);
        if (r < 0)
                return r;
        r = virt_pool_list(c, &names, err);
        if (r < 0)
                return r;
        /* libvirt's pools, then configured ones libvirt does not have (a typo or a pool not created yet). */
        for (int pass = 0; pass < 2; pass++) {
                size_t n = pass == 0 ? strv_length(names) : cfg->n_storage_pools;
                for (size_t i = 0; i < n; i++) {
                        const char *name = pass == 0 ? names[i] : cfg->storage_pools[i].name;
                        const struct place_config *pc = config_storage_pool(cfg, name);
                        bool in_libvirt = pass == 0 || strv_contains(names, name);
                        struct json_object *p;

                        _cleanup_free_ char *path = NULL;
                        struct sovd_err ignored;

                        if (pass == 1 && in_libvirt)
                                continue;
                        if (in_libvirt)
                                (void) virt_pool_path(c, name, &path, &ignored);
                        p = json_object_new_object();
                        if (!p || json_object_array_add(arr, p) < 0 || json_add_string(p, "name", name) < 0 ||
                            json_add_bool(p, "in_libvirt", in_libvirt) < 0 || json_add_string(p, "path", path) < 0 ||
                            json_add_bool(p, "tagged", pc && !tags_empty(&pc->tags)) < 0 ||
                            json_add(p, "tags", pc ? tags_to_json(&pc->tags) : json_object_new_object()) < 0)
                                return -ENOMEM;
                }
        }
        return reply_json(req, 200, o);
}

int handle_backup_targets(struct api_request *req, struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *arr = json_object_new_array();
        const struct config *cfg = req->config;

        if (!o || json_add(o, "backup_targets", arr) < 0 || !arr)
                return -ENOMEM;
        for (size_t i = 0; i < cfg->n_backup_targets; i++) {
                const struct place_config *t = &cfg->backup_targets[i];
                struct json_object *p = json_object_new_object();
                if (!p || json_object_array_add(arr, p) < 0 || json_add_string(p, "name", t->name) < 0 ||
                    json_add_string(p, "path", t->path) < 0 || json_add_bool(p, "tagged", !tags_empty(&t->tags)) < 0 ||
                    json_add(p, "tags", tags_to_json(&t->tags)) < 0)
                        return -ENOMEM;
        }
        return reply_json(req, 200, o);
}

/* Every peer asked now, in parallel: reachable or not, and what it last said about itself. */
int handle_peers(struct api_request *req, struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *arr = NULL;
        int r;

        if (!o)
                return -ENOMEM;
        r = peers_report(req->config, &arr, err);
        if (r < 0)
                return r;
        if (json_add(o, "peers", arr) < 0)
                return -ENOMEM;
        return reply_json(req, 200, o);
}
