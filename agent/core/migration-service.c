/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <unistd.h>

#include "sovd/domain-xml.h"
#include "sovd/json-util.h"
#include "sovd/log.h"
#include "sovd/migration-service.h"
#include "sovd/names.h"
#include "sovd/peers.h"
#include "sovd/virt-backup.h"
#include "sovd/virt-migrate.h"
#include "sovd/vm-index.h"

#define POLL_USEC 100000

void migrate_request_done(struct migrate_request *r) {
        free(r->peer);
        free(r->destination_pool);
        *r = (struct migrate_request){};
}

int migrate_request_parse(struct json_object *doc, struct migrate_request *ret, struct sovd_err *err) {
        static const char *const members[] = { "peer", "mode", "copy_storage", "destination_pool", NULL };
        const char *peer = NULL, *mode = NULL, *copy = NULL, *pool = NULL;
        int r;

        *ret = (struct migrate_request){ .live = true };
        if (!json_object_is_type(doc, json_type_object))
                return err_set(err, -EINVAL, "the migration request must be a JSON object");
        if ((r = json_check_members(doc, members, "", err)) < 0 ||
            (r = json_get_string(doc, "peer", "", true, &peer, err)) < 0 ||
            (r = json_get_string(doc, "mode", "", false, &mode, err)) < 0 ||
            (r = json_get_string(doc, "copy_storage", "", false, &copy, err)) < 0 ||
            (r = json_get_string(doc, "destination_pool", "", false, &pool, err)) < 0)
                return r;
        if (!name_is_valid(peer))
                return err_set(err, -EINVAL, "peer: not a valid peer name");
        if (mode && !streq(mode, "live") && !streq(mode, "offline"))
                return err_set(err, -EINVAL, "mode: must be live or offline");
        if (copy && !streq(copy, "none") && !streq(copy, "all"))
                return err_set(err, -EINVAL, "copy_storage: must be none or all");
        ret->live = !mode || streq(mode, "live");
        ret->copy_storage = copy && streq(copy, "all");
        if (ret->copy_storage && !pool)
                return err_set(err, -EINVAL, "destination_pool: required with copy_storage all (where the disks go)");
        if (!ret->copy_storage && pool)
                return err_set(err, -EINVAL, "destination_pool: only with copy_storage all; without it the disks stay where they are");
        if (pool && !name_is_valid(pool))
                return err_set(err, -EINVAL, "destination_pool: not a valid pool name");
        /* libvirt cannot copy the disks of a domain that does not run. */
        if (!ret->live && ret->copy_storage)
                return err_set(err, -EINVAL, "copy_storage: an offline migration moves the definition only; use a live one");
        ret->peer = strdup(peer);
        ret->destination_pool = pool ? strdup(pool) : NULL;
        if (!ret->peer || (pool && !ret->destination_pool)) {
                migrate_request_done(ret);
                return -ENOMEM;
        }
        return 0;
}

static const char *mstr(struct json_object *o, const char *key) {
        struct json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

/* A peer's answer problem becomes the API's: no such peer is the caller's typo, the rest is the peer's. */
static int peer_error(int r, struct sovd_err *err) {
        if (r == -ENOENT)
                return err_set(err, -SOVD_E_UNRESOLVED, "peer: %s", err->msg);
        if (r == -EBADMSG)
                return err_set(err, -EHOSTUNREACH, "%s", err->msg);
        return r;
}

/* The destination pool as the peer reports it: its tags (parsed as outside input) and directory. */
static int peer_pool(const struct config *c, const char *peer, const char *pool, struct tags **ret_tags,
                     char **ret_path, struct sovd_err *err) {
        _cleanup_json_ struct json_object *doc = NULL;
        struct json_object *pools = NULL;
        int r;

        r = peer_get_json(c, peer, "/v1/storage-pools", &doc, err);
        if (r < 0)
                return peer_error(r, err);
        if (!json_object_object_get_ex(doc, "storage_pools", &pools) || !json_object_is_type(pools, json_type_array))
                return err_set(err, -EHOSTUNREACH, "peer '%s' did not answer a storage pool list", peer);
        for (size_t i = 0; i < json_object_array_length(pools); i++) {
                struct json_object *p = json_object_array_get_idx(pools, i), *tags = NULL;
                const char *name = mstr(p, "name"), *path = mstr(p, "path");
                if (!name || !streq(name, pool))
                        continue;
                if (!path || path[0] != '/' || strstr(path, "/..") || strlen(path) > 1024 ||
                    !utf8_is_printable(path, strlen(path)))
                        return err_set(err, -SOVD_E_UNRESOLVED,
                                       "destination_pool: pool '%s' of peer '%s' has no directory to copy disks into",
                                       pool, peer);
                *ret_tags = calloc(1, sizeof(**ret_tags));
                if (!*ret_tags)
                        return -ENOMEM;
                if (!json_object_object_get_ex(p, "tags", &tags) ||
                    tags_parse(tags, "peer pool tags", *ret_tags, err) < 0) {
                        free(*ret_tags);
                        *ret_tags = NULL;
                        return err_set(err, -EHOSTUNREACH, "peer '%s' reported invalid tags for pool '%s'", peer, pool);
                }
                *ret_path = strdup(path);
                return *ret_path ? 0 : -ENOMEM;
        }
        return err_set(err, -SOVD_E_UNRESOLVED, "destination_pool: peer '%s' has no storage pool '%s'", peer, pool);
}

/* What the destination defines: the same domain, the binding with the migration's id, disks moved when copied. */
static int destination_xml(struct virt_conn *c, const struct vm_view *v, const char *migration_id, const char *pool,
                           const char *pool_path, char **ret, struct sovd_err *err) {
        _cleanup_free_ char *xml = NULL;
        _cleanup_free_ struct restored_disk *moved = calloc(v->domain.n_disks + 1, sizeof(*moved));
        _cleanup_free_ struct binding_volume *vols = calloc(v->binding->n_volumes + 1, sizeof(*vols));
        char **paths = calloc(v->domain.n_disks + 1, sizeof(char *));
        size_t n = 0;
        int r;

        if (!moved || !vols || !paths) {
                free(paths);
                return -ENOMEM;
        }
        r = virt_domain_migratable_xml(c, v->domain.uuid, &xml, err);
        for (size_t i = 0; r >= 0 && pool && i < v->domain.n_disks; i++) {
                const char *p = v->domain.disks[i].path, *base = p ? strrchr(p, '/') : NULL;
                if (!base || !v->domain.disks[i].target)
                        continue;
                if (asprintf(&paths[n], "%s%s", pool_path, base) < 0) {
                        paths[n] = NULL;
                        r = -ENOMEM;
                        break;
                }
                moved[n] = (struct restored_disk){ .target = v->domain.disks[i].target, .path = paths[n] };
                n++;
        }
        if (r >= 0) {
                struct binding b = *v->binding;
                b.migration_id = (char *) migration_id;
                /* The volumes sovd created for the VM move with it. */
                for (size_t i = 0; i < b.n_volumes; i++)
                        vols[i] = (struct binding_volume){ .pool = pool ? (char *) pool : b.volumes[i].pool,
                                                           .volume = b.volumes[i].volume };
                b.volumes = vols;
                r = domain_xml_for_migration(xml, moved, n, &b, ret, err);
        }
        for (size_t i = 0; i < n; i++)
                free(paths[i]);
        free(paths);
        return r;
}

int migrate_prepare(const struct vm_view *v, const struct migrate_request *req, struct decision **ret_decision,
                    struct json_object **ret_params, char ret_migration_id[static ID_TEXT_LEN], struct sovd_err *err) {
        _cleanup_config_ struct config *c = admission_config();
        _cleanup_virt_conn_ struct virt_conn *conn = NULL;
        _cleanup_json_ struct json_object *host = NULL, *p = json_object_new_object();
        _cleanup_free_ char *pool_path = NULL, *dest_xml = NULL;
        struct tags *host_tags = calloc(1, sizeof(*host_tags)), *pool_tags = NULL;
        struct json_object *lv = NULL;
        const char *dest_uri, *data_uri;
        bool running = v->domain.state == VM_STATE_RUNNING || v->domain.state == VM_STATE_PAUSED;
        int r;

        *ret_decision = NULL;
        if (!p || !host_tags) {
                free(host_tags);
                return -ENOMEM;
        }
        if (!v->binding)
                r = err_set(err, -SOVD_E_BAD_STATE,
                            "VM '%s' is not managed by sovd (no binding): there is no policy to judge its destination by",
                            v->domain.name);
        else if (req->live && !running)
                r = err_set(err, -SOVD_E_BAD_STATE, "VM '%s' is %s: a live migration needs it running (or use offline)",
                            v->domain.name, vm_state_to_string(v->domain.state));
        else if (!req->live && v->domain.active)
                r = err_set(err, -SOVD_E_BAD_STATE, "VM '%s' is %s: an offline migration needs it shut off",
                            v->domain.name, vm_state_to_string(v->domain.state));
        else if (!c || !c->tls)
                r = err_set(err, -SOVD_E_UNRESOLVED, "peer: this agent has no TLS configuration, so no peers");
        else
                r = jobs_active_for_vm(v->domain.uuid, err);
        if (r < 0) {
                free(host_tags);
                return r;
        }
        /* The destination says who it is and where it is, over mutual TLS: never the caller. */
        r = peer_fetch_host(c, req->peer, &host, host_tags, err);
        if (r < 0) {
                free(host_tags);
                return peer_error(r, err);
        }
        (void) json_object_object_get_ex(host, "libvirt", &lv);
        dest_uri = mstr(lv, "migration_uri");
        data_uri = mstr(lv, "migration_data_uri");
        if (!dest_uri || strlen(dest_uri) > 512 || !utf8_is_printable(dest_uri, strlen(dest_uri)) ||
            (data_uri && (strlen(data_uri) > 512 || !utf8_is_printable(data_uri, strlen(data_uri))))) {
                tags_done(host_tags);
                free(host_tags);
                return err_set(err, -SOVD_E_BAD_STATE,
                               "peer '%s' does not accept migrations: it reports no migration_uri", req->peer);
        }
        if (req->copy_storage && (r = peer_pool(c, req->peer, req->destination_pool, &pool_tags, &pool_path, err)) < 0) {
                tags_done(host_tags);
                free(host_tags);
                return r;
        }
        r = admission_decide_migration(v->binding->policy, req->peer, host_tags, req->destination_pool, pool_tags,
                                       time(NULL), ret_decision);
        if (r < 0)
                return r;
        /* Denied: nothing more is asked of libvirt; the caller records and answers the decision. */
        if (!(*ret_decision)->allowed) {
                id_new(ret_migration_id);
                return 0;
        }
        id_new(ret_migration_id);
        r = virt_conn_acquire(&conn, err);
        if (r >= 0)
                r = destination_xml(conn, v, ret_migration_id, req->destination_pool, pool_path, &dest_xml, err);
        if (r < 0)
                return r;
        if (json_add_string(p, "peer", req->peer) < 0 || json_add_string(p, "dest_uri", dest_uri) < 0 ||
            json_add_string(p, "data_uri", data_uri) < 0 || json_add_bool(p, "live", req->live) < 0 ||
            json_add_bool(p, "copy_storage", req->copy_storage) < 0 ||
            json_add_string(p, "destination_pool", req->destination_pool) < 0 ||
            json_add_string(p, "dest_xml", dest_xml) < 0 || json_add_string(p, "migration_id", ret_migration_id) < 0 ||
            json_add_bool(p, "unsafe", !req->copy_storage && c->migration_shared_storage) < 0)
                return -ENOMEM;
        *ret_params = TAKE_PTR(p);
        return 0;
}

static int migrate_run(struct job *j, struct sovd_err *err) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        _cleanup_json_ struct json_object *result = json_object_new_object();
        struct json_object *p = job_params(j);
        struct virt_migration m = {
                .dest_uri = mstr(p, "dest_uri"),
                .data_uri = mstr(p, "data_uri"),
                .dest_xml = mstr(p, "dest_xml"),
        };
        int r;

        if (!p || !m.dest_uri || json_get_bool(p, "live", "", true, &m.live, NULL) < 0 ||
            json_get_bool(p, "copy_storage", "", true, &m.copy_storage, NULL) < 0 ||
            json_get_bool(p, "unsafe", "", true, &m.unsafe, NULL) < 0 || !result)
                return err_set(err, -EBADMSG, "the job's parameters are damaged");
        r = virt_conn_acquire(&c, err);
        if (r < 0)
                return r;
        r = virt_domain_migrate(c, job_vm(j), &m, err);
        /* Gone from the listing as soon as the job says so (or still there, after a failure). */
        vm_index_refresh(job_vm(j));
        if (r < 0)
                return r;
        if (json_add_string(result, "peer", mstr(p, "peer")) < 0 ||
            json_add_string(result, "migration_id", mstr(p, "migration_id")) < 0 ||
            json_add_string(result, "destination_uri", m.dest_uri) < 0)
                return -ENOMEM;
        (void) job_set_result(j, result);
        return 0;
}

static int migrate_cancel(struct job *j, struct sovd_err *err) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        int r = virt_conn_acquire(&c, err);

        /* Aborted, the migration leaves the VM running here, defined here only. */
        if (r >= 0)
                r = virt_domain_abort_job(c, job_vm(j), err);
        if (r == -SOVD_E_BAD_STATE)
                return err_set(err, -EOPNOTSUPP, "the migration is not at a stage libvirt can abort");
        /* Gone from here already: the migration has just completed. */
        if (r == -ENOENT)
                return err_set(err, -EBUSY, "the migration has completed: the VM is at the destination");
        return r;
}

/*
 * After a restart: a VM no longer defined here has left (the source's
 * definition goes only after the destination runs it); one still here
 * stays, any migration libvirt still runs for it aborted.
 */
static enum job_state migrate_recover(struct job *j, char *reason, size_t size) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        struct virt_domain d = {};
        struct virt_job_info info = {};
        struct sovd_err err = {};
        int r;

        if (virt_conn_acquire(&c, &err) < 0) {
                snprintf(reason, size, "interrupted by an agent restart while libvirt was unreachable (%s): check "
                         "where the VM is", err.msg);
                return JOB_FAILED;
        }
        r = virt_domain_get_summary(c, job_vm(j), &d, &err);
        virt_domain_done(&d);
        if (r == -ENOENT)
                return JOB_SUCCEEDED;
        if (virt_domain_job(c, job_vm(j), false, &info, NULL) >= 0 && info.outcome == VIRT_JOB_ACTIVE &&
            info.operation == VIRT_JOB_OP_MIGRATION) {
                (void) virt_domain_abort_job(c, job_vm(j), NULL);
                for (int i = 0; i < 100; i++) {
                        if (virt_domain_job(c, job_vm(j), false, &info, NULL) < 0 || info.outcome != VIRT_JOB_ACTIVE)
                                break;
                        usleep(POLL_USEC);
                }
                /* The abort may have come too late: the VM left after all. */
                if (virt_domain_get_summary(c, job_vm(j), &d, NULL) == -ENOENT)
                        return JOB_SUCCEEDED;
                virt_domain_done(&d);
                snprintf(reason, size, "interrupted by an agent restart: the migration still running in libvirt was "
                         "aborted; the VM stays on this host");
                return JOB_FAILED;
        }
        snprintf(reason, size, "interrupted by an agent restart; the VM is still on this host");
        return JOB_FAILED;
}

const struct job_kind migrate_job_kind = {
        .name = "migrate",
        .run = migrate_run,
        .cancel = migrate_cancel,
        .recover = migrate_recover,
        .progress = vm_service_job_progress,
};
