/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>

#include "sovd/drift.h"
#include "sovd/fileio.h"
#include "sovd/json-util.h"
#include "sovd/log.h"
#include "sovd/names.h"
#include "sovd/snapshot-service.h"
#include "sovd/time-util.h"
#include "sovd/virt-backup.h"
#include "sovd/virt-storage.h"
#include "sovd/vm-index.h"

#define REGISTRY_MAX (4 * 1024 * 1024)

static char *registry_dir;
/* One writer of the registries at a time; they are tiny. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

int snapshot_service_init(const char *state_dir, struct sovd_err *err) {
        int r;

        free(registry_dir);
        if (asprintf(&registry_dir, "%s/snapshots", state_dir) < 0) {
                registry_dir = NULL;
                return -ENOMEM;
        }
        r = mkdir_p(registry_dir, 0700);
        if (r < 0)
                return err_set(err, r, "cannot create %s: %s", registry_dir, strerror(-r));
        return 0;
}

/* {"snapshots": {name: {"managed": bool, "decision": id, "recorded_at": time}}}; a fresh one when absent. */
static struct json_object *registry_load(const char *uuid) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        struct json_object *o = NULL, *snaps;
        size_t len;

        if (registry_dir && asprintf(&path, "%s/%s.json", registry_dir, uuid) >= 0 &&
            file_read_all(path, REGISTRY_MAX, &buf, &len) >= 0)
                (void) json_parse_strict(buf, len, &o, NULL);
        if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "snapshots", &snaps) ||
            !json_object_is_type(snaps, json_type_object)) {
                json_object_put(o);
                o = json_object_new_object();
                if (o && json_add(o, "snapshots", json_object_new_object()) < 0) {
                        json_object_put(o);
                        return NULL;
                }
        }
        return o;
}

static int registry_store(const char *uuid, struct json_object *o) {
        _cleanup_free_ char *path = NULL;
        const char *text = json_to_string(o);

        if (!registry_dir)
                return 0;
        if (asprintf(&path, "%s/%s.json", registry_dir, uuid) < 0)
                return -ENOMEM;
        return file_write_atomic(path, text, strlen(text), 0600);
}

static int registry_set(const char *uuid, const char *name, bool managed, const char *decision_id) {
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *snaps, *e = json_object_new_object();
        char now[RFC3339_MAX];
        int r;

        if (!e)
                return -ENOMEM;
        pthread_mutex_lock(&registry_lock);
        o = registry_load(uuid);
        if (!o || !json_object_object_get_ex(o, "snapshots", &snaps) || json_add_bool(e, "managed", managed) < 0 ||
            json_add_string(e, "decision", decision_id) < 0 ||
            json_add_string(e, "recorded_at", rfc3339_format(time(NULL), now)) < 0 || json_add(snaps, name, e) < 0) {
                pthread_mutex_unlock(&registry_lock);
                return -ENOMEM;
        }
        r = registry_store(uuid, o);
        pthread_mutex_unlock(&registry_lock);
        return r;
}

static void registry_forget(const char *uuid, const char *name) {
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *snaps;

        pthread_mutex_lock(&registry_lock);
        o = registry_load(uuid);
        if (o && json_object_object_get_ex(o, "snapshots", &snaps)) {
                json_object_object_del(snaps, name);
                (void) registry_store(uuid, o);
        }
        pthread_mutex_unlock(&registry_lock);
}

void snapshot_request_done(struct snapshot_request *r) {
        free(r->name);
        free(r->pool);
        free(r->description);
        *r = (struct snapshot_request){};
}

int snapshot_request_parse(struct json_object *doc, struct snapshot_request *ret, struct sovd_err *err) {
        static const char *const members[] = { "name", "kind", "pool", "description", NULL };
        const char *name = NULL, *kind = NULL, *pool = NULL, *description = NULL;
        int r;

        *ret = (struct snapshot_request){ .kind = VIRT_SNAPSHOT_DISK_ONLY };
        if (!json_object_is_type(doc, json_type_object))
                return err_set(err, -EINVAL, "the snapshot request must be a JSON object");
        if ((r = json_check_members(doc, members, "", err)) < 0 ||
            (r = json_get_string(doc, "name", "", true, &name, err)) < 0 ||
            (r = json_get_string(doc, "kind", "", false, &kind, err)) < 0 ||
            (r = json_get_string(doc, "pool", "", false, &pool, err)) < 0 ||
            (r = json_get_string(doc, "description", "", false, &description, err)) < 0)
                return r;
        if (!name_is_valid(name))
                return err_set(err, -EINVAL,
                               "name: 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit");
        if (kind) {
                r = virt_snapshot_kind_from_string(kind);
                if (r < 0)
                        return err_set(err, -EINVAL, "kind: must be one of disk-only, full, internal");
                ret->kind = (enum virt_snapshot_kind) r;
        }
        if (pool && !name_is_valid(pool))
                return err_set(err, -EINVAL, "pool: not a valid pool name");
        if (pool && ret->kind == VIRT_SNAPSHOT_INTERNAL)
                return err_set(err, -EINVAL, "pool: an internal snapshot stays inside each disk; it takes no pool");
        if (description && (strlen(description) > SNAPSHOT_DESCRIPTION_MAX ||
                            !utf8_is_printable(description, strlen(description))))
                return err_set(err, -EINVAL, "description: at most %d bytes of printable UTF-8",
                               SNAPSHOT_DESCRIPTION_MAX);
        ret->name = strdup(name);
        ret->pool = pool ? strdup(pool) : NULL;
        ret->description = description ? strdup(description) : NULL;
        if (!ret->name || (pool && !ret->pool) || (description && !ret->description)) {
                snapshot_request_done(ret);
                return -ENOMEM;
        }
        return 0;
}

void snapshot_plan_done(struct snapshot_plan *p) {
        for (size_t i = 0; p->disks && i < p->lv.n_disks; i++)
                free((char *) p->disks[i].file);
        free(p->disks);
        free(p->memory_file);
        for (size_t i = 0; p->places && i < p->n_places; i++)
                free((char *) p->places[i].name);
        free(p->places);
        strv_free(p->pools_written);
        *p = (struct snapshot_plan){};
}

static int add_place(struct snapshot_plan *p, const char *type, const char *name) {
        char *copy = strdup(name);

        if (!copy)
                return -ENOMEM;
        p->places[p->n_places++] = (struct admission_place){ .type = type, .name = copy };
        return 0;
}

static int add_pool_written(struct snapshot_plan *p, const char *pool) {
        size_t n = 0;

        for (; p->pools_written && p->pools_written[n]; n++)
                if (streq(p->pools_written[n], pool))
                        return 0;
        char **a = realloc(p->pools_written, (n + 2) * sizeof(char *));
        if (!a)
                return -ENOMEM;
        p->pools_written = a;
        a[n] = strdup(pool);
        a[n + 1] = NULL;
        return a[n] ? 0 : -ENOMEM;
}

/* The directory a new file goes to: the pool's, or (no pool) the disk's own, judged as a bare path. */
static int place_dir(struct virt_conn *c, const char *pool, const char *disk_path, char **ret, struct sovd_err *err) {
        if (pool)
                return virt_pool_path(c, pool, ret, err);
        const char *slash = disk_path ? strrchr(disk_path, '/') : NULL;
        if (!slash)
                return err_set(err, -EINVAL, "a disk has no file to put a snapshot beside; name a pool");
        *ret = strndup(disk_path, (size_t) (slash - disk_path));
        return *ret ? 0 : -ENOMEM;
}

int snapshot_plan_make(const struct vm_view *v, const struct snapshot_request *req, struct snapshot_plan *ret,
                       struct sovd_err *err) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        struct snapshot_plan p = {};
        size_t n = v->domain.n_disks;
        bool running = v->domain.active;
        int r;

        if (!v->binding)
                return err_set(err, -SOVD_E_BAD_STATE,
                               "VM '%s' is not managed by sovd (no binding): there is no policy to place its snapshots by",
                               v->domain.name);
        if (n == 0)
                return err_set(err, -EINVAL, "VM '%s' has no disk to snapshot", v->domain.name);
        if (req->kind == VIRT_SNAPSHOT_FULL && !running)
                return err_set(err, -SOVD_E_BAD_STATE,
                               "a full snapshot saves the memory of a running VM; VM '%s' is %s (use disk-only)",
                               v->domain.name, vm_state_to_string(v->domain.state));
        r = virt_conn_acquire(&c, err);
        if (r < 0)
                return r;
        {
                struct virt_snapshot existing = {};
                struct sovd_err ignored;
                if (virt_snapshot_get(c, v->domain.uuid, req->name, &existing, &ignored) >= 0) {
                        virt_snapshot_done(&existing);
                        return err_set(err, -EEXIST, "VM '%s' already has a snapshot named '%s'", v->domain.name,
                                       req->name);
                }
        }
        if (req->pool) {
                r = virt_pool_check(c, req->pool, err);
                if (r < 0)
                        return r;
        }
        p.disks = calloc(n, sizeof(*p.disks));
        p.places = calloc(n + 1, sizeof(*p.places));
        if (!p.disks || !p.places) {
                snapshot_plan_done(&p);
                return -ENOMEM;
        }
        p.lv = (struct virt_snapshot_request){ .name = req->name, .description = req->description, .kind = req->kind };
        for (size_t i = 0; i < n; i++) {
                const struct virt_disk *d = &v->domain.disks[i];
                const char *own_pool = v->disk_refs ? v->disk_refs[i].pool : NULL;
                const char *pool = req->pool ? req->pool : own_pool;
                _cleanup_free_ char *dir = NULL;
                char *file = NULL;

                if (!d->path || !d->target)
                        continue; /* an empty drive holds no data */
                if (req->kind == VIRT_SNAPSHOT_INTERNAL) {
                        if (!d->format || !streq(d->format, "qcow2")) {
                                snapshot_plan_done(&p);
                                return err_set(err, -EINVAL,
                                               "disk %s is %s: internal snapshots need qcow2 disks (use disk-only)",
                                               d->target, d->format ? d->format : "of an unknown format");
                        }
                        /* The data stays in the disk's own file: its pool is where the snapshot lives. */
                        r = own_pool ? add_place(&p, "storage_pool", own_pool) : add_place(&p, "path", d->path);
                } else {
                        r = place_dir(c, pool, d->path, &dir, err);
                        if (r >= 0 && asprintf(&file, "%s/%s.%s.%s.qcow2", dir, v->domain.name, req->name, d->target) < 0)
                                r = -ENOMEM;
                        if (r >= 0)
                                r = pool ? add_place(&p, "storage_pool", pool) : add_place(&p, "path", dir);
                        if (r >= 0 && pool)
                                r = add_pool_written(&p, pool);
                }
                if (r < 0) {
                        free(file);
                        snapshot_plan_done(&p);
                        return r;
                }
                p.disks[p.lv.n_disks++] = (struct virt_snapshot_overlay){ .target = d->target, .file = file };
        }
        if (p.lv.n_disks == 0) {
                snapshot_plan_done(&p);
                return err_set(err, -EINVAL, "VM '%s' has no disk with data to snapshot", v->domain.name);
        }
        if (req->kind == VIRT_SNAPSHOT_FULL) {
                /* Memory goes with the first disk unless a pool is named. */
                const char *pool = req->pool ? req->pool : v->disk_refs ? v->disk_refs[0].pool : NULL;
                _cleanup_free_ char *dir = NULL;
                r = place_dir(c, pool, v->domain.disks[0].path, &dir, err);
                if (r >= 0 && asprintf(&p.memory_file, "%s/%s.%s.mem", dir, v->domain.name, req->name) < 0) {
                        p.memory_file = NULL;
                        r = -ENOMEM;
                }
                if (r >= 0)
                        r = pool ? add_place(&p, "storage_pool", pool) : add_place(&p, "path", dir);
                if (r >= 0 && pool)
                        r = add_pool_written(&p, pool);
                if (r < 0) {
                        snapshot_plan_done(&p);
                        return r;
                }
                p.lv.memory_file = p.memory_file;
        }
        p.lv.disks = p.disks;
        p.as_job = req->kind == VIRT_SNAPSHOT_FULL || (req->kind == VIRT_SNAPSHOT_INTERNAL && running);
        *ret = p;
        return 0;
}

struct json_object *snapshot_plan_to_params(const struct snapshot_plan *p, struct json_object *context) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *disks = json_object_new_array(), *pools = json_object_new_array();

        if (!o || json_add(o, "disks", disks) < 0 || json_add(o, "pools_written", pools) < 0 || !disks || !pools ||
            json_add_string(o, "name", p->lv.name) < 0 ||
            json_add_string(o, "kind", virt_snapshot_kind_to_string(p->lv.kind)) < 0 ||
            json_add_string(o, "description", p->lv.description) < 0 ||
            json_add_string(o, "memory_file", p->memory_file) < 0 ||
            json_add(o, "context", json_object_get(context)) < 0)
                return NULL;
        for (size_t i = 0; i < p->lv.n_disks; i++) {
                struct json_object *d = json_object_new_object();
                if (!d || json_object_array_add(disks, d) < 0 || json_add_string(d, "target", p->disks[i].target) < 0 ||
                    json_add_string(d, "file", p->disks[i].file) < 0)
                        return NULL;
        }
        for (size_t i = 0; p->pools_written && p->pools_written[i]; i++)
                if (json_object_array_add(pools, json_new_string(p->pools_written[i])) < 0)
                        return NULL;
        return TAKE_PTR(o);
}

/* libvirt learns of the new overlay files, so that later decisions map them to their pool. */
static void refresh_pools(struct virt_conn *c, char *const *pools) {
        for (size_t i = 0; pools && pools[i]; i++) {
                struct sovd_err err;
                if (virt_pool_refresh(c, pools[i], &err) < 0)
                        log_warning("cannot refresh pool '%s' after a snapshot: %s", pools[i], err.msg);
        }
}

static int create_and_register(const char *uuid, const struct virt_snapshot_request *lv, char *const *pools,
                               const char *decision_id, struct sovd_err *err) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        int r;

        r = virt_conn_acquire(&c, err);
        if (r < 0)
                return r;
        /* Registered first: the snapshot must never be seen, even for an instant, as made behind sovd's back. */
        r = registry_set(uuid, lv->name, true, decision_id);
        if (r < 0)
                return err_set(err, r, "cannot record the snapshot in the state directory: %s", strerror(-r));
        r = virt_snapshot_create(c, uuid, lv, err);
        if (r < 0) {
                registry_forget(uuid, lv->name);
                return r;
        }
        refresh_pools(c, pools);
        return 0;
}

int snapshot_execute(const char *uuid, const struct snapshot_plan *p, const struct record_ctx *ctx,
                     const char *decision_id, struct sovd_err *err) {
        _cleanup_json_ struct json_object *extra = json_object_new_object();
        struct sovd_err rerr = {};
        int r;

        r = create_and_register(uuid, &p->lv, p->pools_written, decision_id, err);
        if (extra)
                (void) json_add_string(extra, "snapshot", p->lv.name);
        (void) record_operation(ctx, "snapshot", r < 0 ? "failed" : "succeeded", decision_id, r < 0 ? err->msg : NULL,
                                extra, &rerr);
        return r;
}

/* Params of a snapshot job back into a libvirt request; the strings stay owned by @params. */
static int params_to_request(struct json_object *params, struct virt_snapshot_request *lv,
                             struct virt_snapshot_overlay **ret_disks, char ***ret_pools, struct sovd_err *err) {
        struct json_object *disks = NULL, *pools = NULL;
        const char *kind = NULL;
        size_t n, np;
        int k;

        *lv = (struct virt_snapshot_request){};
        if (!params || json_get_string(params, "name", "params", true, &lv->name, err) < 0 ||
            json_get_string(params, "kind", "params", true, &kind, err) < 0 ||
            json_get_array(params, "disks", "params", true, &disks, err) < 0 ||
            json_get_array(params, "pools_written", "params", true, &pools, err) < 0 ||
            (k = virt_snapshot_kind_from_string(kind)) < 0)
                return err_set(err, -EBADMSG, "the job's parameters are damaged");
        lv->kind = (enum virt_snapshot_kind) k;
        /* Optional members are stored as null. */
        lv->description = json_object_get_string(json_object_object_get(params, "description"));
        lv->memory_file = json_object_get_string(json_object_object_get(params, "memory_file"));
        n = json_object_array_length(disks);
        np = json_object_array_length(pools);
        *ret_disks = calloc(n + 1, sizeof(**ret_disks));
        *ret_pools = calloc(np + 1, sizeof(char *));
        if (!*ret_disks || !*ret_pools)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *d = json_object_array_get_idx(disks, i);
                if (json_get_string(d, "target", "disk", true, &(*ret_disks)[i].target, err) < 0)
                        return err_set(err, -EBADMSG, "the job's parameters are damaged");
                (*ret_disks)[i].file = json_object_get_string(json_object_object_get(d, "file"));
        }
        for (size_t i = 0; i < np; i++) {
                const char *s = json_object_get_string(json_object_array_get_idx(pools, i));
                if (!s || !((*ret_pools)[i] = strdup(s)))
                        return -ENOMEM;
        }
        lv->disks = *ret_disks;
        lv->n_disks = n;
        return 0;
}

static const char *params_decision(struct json_object *params) {
        struct json_object *ctx;
        const char *d = NULL;

        if (params && json_object_object_get_ex(params, "context", &ctx))
                (void) json_get_string(ctx, "decision", "", false, &d, NULL);
        return d;
}

static int job_run(struct job *j, struct sovd_err *err) {
        _cleanup_free_ struct virt_snapshot_overlay *disks = NULL;
        _cleanup_json_ struct json_object *result = NULL;
        struct virt_snapshot_request lv;
        char **pools = NULL;
        int r;

        r = params_to_request(job_params(j), &lv, &disks, &pools, err);
        if (r >= 0)
                r = create_and_register(job_vm(j), &lv, pools, params_decision(job_params(j)), err);
        strv_free(pools);
        if (r < 0)
                return r;
        if (snapshot_get_json(job_vm(j), lv.name, &result, NULL) >= 0)
                (void) job_set_result(j, result);
        return 0;
}

static int job_cancel(struct job *j, struct sovd_err *err) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        int r = virt_conn_acquire(&c, err);

        if (r >= 0)
                r = virt_domain_abort_job(c, job_vm(j), err);
        /* No abortable libvirt job: an internal snapshot (savevm) runs to its end once started. */
        if (r == -SOVD_E_BAD_STATE || r == -EOPNOTSUPP)
                return err_set(err, -EOPNOTSUPP, "this snapshot is being written and cannot be stopped part-way");
        return r;
}

/* After a restart: the snapshot exists in libvirt, or it was not made. */
static enum job_state job_recover(struct job *j, char *reason, size_t size) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        struct virt_snapshot s = {};
        struct sovd_err err = {};
        const char *name = NULL;
        int r;

        if (!job_params(j) || json_get_string(job_params(j), "name", "", true, &name, NULL) < 0) {
                snprintf(reason, size, "interrupted by an agent restart; its parameters are damaged");
                return JOB_FAILED;
        }
        r = virt_conn_acquire(&c, &err);
        if (r < 0) {
                snprintf(reason, size, "interrupted by an agent restart while libvirt was unreachable (%s)", err.msg);
                return JOB_FAILED;
        }
        r = virt_snapshot_get(c, job_vm(j), name, &s, &err);
        virt_snapshot_done(&s);
        if (r >= 0) {
                (void) registry_set(job_vm(j), name, true, params_decision(job_params(j)));
                return JOB_SUCCEEDED;
        }
        registry_forget(job_vm(j), name);
        snprintf(reason, size, "interrupted by an agent restart; libvirt has no snapshot '%s': it was not made", name);
        return JOB_FAILED;
}

const struct job_kind snapshot_job_kind = {
        .name = "snapshot",
        .run = job_run,
        .cancel = job_cancel,
        .recover = job_recover,
        .progress = vm_service_job_progress,
};

/*
 * Where a snapshot's data lies: external files by the pool holding them (or
 * the bare path), internal data by the pool of the disk it is inside.
 */
static int snapshot_places(const struct vm_view *v, const struct virt_snapshot *s, struct admission_place **ret,
                           size_t *ret_n, char ***ret_owned, size_t *ret_n_owned, char **disk_pools,
                           struct sovd_err *err) {
        size_t cap = s->n_disks + 1, n = 0, n_paths = 0;
        struct admission_place *places = calloc(cap, sizeof(*places));
        char **paths = calloc(cap, sizeof(char *));
        char **pools = NULL;
        int r;

        if (!places || !paths) {
                free(places);
                free(paths);
                return -ENOMEM;
        }
        if (s->memory_file)
                paths[n_paths++] = s->memory_file;
        for (size_t i = 0; i < s->n_disks; i++)
                if (s->disks[i].file && streq(s->disks[i].mode, "external"))
                        paths[n_paths++] = s->disks[i].file;
        r = vm_service_pools_of_paths(paths, n_paths, &pools, err);
        if (r < 0) {
                free(places);
                free(paths);
                return r;
        }
        for (size_t i = 0; i < n_paths; i++)
                places[n++] = pools[i] ? (struct admission_place){ "storage_pool", pools[i] }
                                       : (struct admission_place){ "path", paths[i] };
        /* The same order as above: the memory file first, then each external disk. */
        for (size_t i = 0, k = s->memory_file ? 1 : 0; disk_pools && i < s->n_disks; i++)
                if (s->disks[i].file && streq(s->disks[i].mode, "external"))
                        disk_pools[i] = pools[k++];
        for (size_t i = 0; i < s->n_disks; i++) {
                if (!streq(s->disks[i].mode, "internal"))
                        continue;
                for (size_t k = 0; k < v->domain.n_disks; k++)
                        if (v->domain.disks[k].target && streq(v->domain.disks[k].target, s->disks[i].target)) {
                                const char *pool = v->disk_refs ? v->disk_refs[k].pool : NULL;
                                places[n++] = pool ? (struct admission_place){ "storage_pool", pool }
                                                   : (struct admission_place){ "path", v->domain.disks[k].path
                                                                                               ? v->domain.disks[k].path
                                                                                               : s->disks[i].target };
                        }
                if (n == cap)
                        break;
        }
        free(paths);
        *ret = places;
        *ret_n = n;
        *ret_owned = pools;
        *ret_n_owned = n_paths;
        return 0;
}

/* The snapshot's compliance under the VM's policy, as a decision; NULL for an unbound VM. */
static int snapshot_decide(const struct vm_view *v, const struct virt_snapshot *s, const char *operation,
                           struct decision **ret, char ***ret_disk_pools, struct sovd_err *err) {
        _cleanup_free_ struct admission_place *places = NULL;
        char **owned = NULL, **disk_pools = calloc(s->n_disks + 1, sizeof(char *));
        size_t n = 0, n_owned = 0;
        int r;

        *ret = NULL;
        if (!disk_pools)
                return -ENOMEM;
        r = snapshot_places(v, s, &places, &n, &owned, &n_owned, disk_pools, err);
        if (r < 0) {
                free(disk_pools);
                return r;
        }
        for (size_t i = 0; i < s->n_disks; i++)
                if (disk_pools[i] && !(disk_pools[i] = strdup(disk_pools[i])))
                        r = -ENOMEM;
        /* A snapshot holding no data (every disk left out, no memory) is nowhere: nothing to judge. */
        if (r >= 0 && v->binding && n > 0)
                r = admission_decide_writes(operation, v->binding->policy, POLICY_KIND_SNAPSHOT, places, n, time(NULL),
                                            ret);
        vm_service_pools_free(owned, n_owned);
        if (ret_disk_pools && r >= 0)
                *ret_disk_pools = disk_pools;
        else
                vm_service_pools_free(disk_pools, s->n_disks);
        return r;
}

static struct json_object *compliance_json(const struct decision *d, const struct vm_view *v) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *reasons = json_object_new_array();

        if (!o || json_add(o, "reasons", reasons) < 0 || !reasons)
                return NULL;
        if (!d && v->binding) {
                if (json_add_string(o, "status", "compliant") < 0 ||
                    json_object_array_add(reasons, json_new_string("the snapshot holds no data")) < 0)
                        return NULL;
                return TAKE_PTR(o);
        }
        if (!d) {
                if (json_add_string(o, "status", "unknown") < 0 ||
                    json_object_array_add(reasons, json_new_string(v->binding_error ? v->binding_error
                                                                                    : "VM not managed by sovd")) < 0)
                        return NULL;
                return TAKE_PTR(o);
        }
        if (json_add_string(o, "status", d->would_deny ? "non-compliant" : "compliant") < 0)
                return NULL;
        if (d->would_deny && json_object_array_add(reasons, json_new_string(d->reason)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static struct json_object *snapshot_to_json(const struct vm_view *v, const struct virt_snapshot *s, bool managed,
                                            const struct decision *d, char *const *disk_pools) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *mem = json_object_new_object(), *disks = json_object_new_array();
        char created[RFC3339_MAX];

        if (!o || json_add(o, "memory", mem) < 0 || json_add(o, "disks", disks) < 0 || !mem || !disks ||
            json_add_string(o, "name", s->name) < 0 || json_add_string(o, "vm", v->domain.uuid) < 0 ||
            json_add_string(o, "kind", virt_snapshot_kind_to_string(s->kind)) < 0 ||
            json_add_string(o, "state", s->state) < 0 ||
            json_add_string(o, "created_at", rfc3339_format(s->created, created)) < 0 ||
            json_add_string(o, "description", s->description) < 0 || json_add_string(o, "parent", s->parent) < 0 ||
            json_add_bool(o, "current", s->current) < 0 || json_add_bool(o, "managed", managed) < 0 ||
            json_add_string(mem, "mode", s->memory_mode ? s->memory_mode : "no") < 0 ||
            json_add_string(mem, "file", s->memory_file) < 0 ||
            json_add(o, "compliance", compliance_json(d, v)) < 0)
                return NULL;
        for (size_t i = 0; i < s->n_disks; i++) {
                struct json_object *k = json_object_new_object();
                const char *pool = NULL;
                /* Internal data is in the disk's own file, hence its pool. */
                for (size_t m = 0; streq(s->disks[i].mode, "internal") && m < v->domain.n_disks; m++)
                        if (v->domain.disks[m].target && streq(v->domain.disks[m].target, s->disks[i].target))
                                pool = v->disk_refs ? v->disk_refs[m].pool : NULL;
                if (disk_pools && disk_pools[i])
                        pool = disk_pools[i];
                if (!k || json_object_array_add(disks, k) < 0 || json_add_string(k, "target", s->disks[i].target) < 0 ||
                    json_add_string(k, "mode", s->disks[i].mode) < 0 || json_add_string(k, "file", s->disks[i].file) < 0 ||
                    json_add_string(k, "pool", pool) < 0)
                        return NULL;
        }
        return TAKE_PTR(o);
}

static bool registry_managed(struct json_object *reg, const char *name, bool *ret_known) {
        struct json_object *snaps, *e, *m;

        *ret_known = false;
        if (!reg || !json_object_object_get_ex(reg, "snapshots", &snaps) || !json_object_object_get_ex(snaps, name, &e))
                return false;
        *ret_known = true;
        return json_object_object_get_ex(e, "managed", &m) && json_object_get_boolean(m);
}

/* A snapshot sovd did not make: recorded once as drift, with its compliance. */
static void record_unknown(const struct vm_view *v, const struct virt_snapshot *s, const struct decision *d) {
        _cleanup_json_ struct json_object *extra = json_object_new_object();
        struct record_ctx ctx = { .source = "libvirt", .vm_uuid = v->domain.uuid, .vm_name = v->domain.name,
                                  .tenant = v->binding ? v->binding->tenant : NULL };
        struct sovd_err err = {};
        char detail[320];

        snprintf(detail, sizeof(detail), "snapshot '%s' of '%s' was made outside the sovd API%s%s", s->name,
                 v->domain.name, d && d->would_deny ? ": " : "", d && d->would_deny ? d->reason : "");
        if (extra) {
                (void) json_add_string(extra, "snapshot", s->name);
                if (d)
                        (void) json_add(extra, "compliance", decision_to_json(d));
        }
        if (record_drift(&ctx, "snapshot-created", detail, extra, &err) < 0) {
                log_error("cannot write the audit record of snapshot drift on '%s': %s", v->domain.name, err.msg);
                return; /* not registered: tried again next time */
        }
        log_emit(d && d->would_deny ? LOG_WARNING : LOG_NOTICE,
                 LOG_FIELDS({ "SOVD_VM_UUID", v->domain.uuid }, { "SOVD_DRIFT", "1" }), "drift: %s", detail);
        (void) registry_set(v->domain.uuid, s->name, false, d ? d->id : NULL);
}

/* Every snapshot of the VM as JSON; unknown ones are recorded first. @only: one name, or NULL for all. */
static int snapshots_collect(const char *uuid, const char *only, struct json_object **ret, struct sovd_err *err) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        _cleanup_json_ struct json_object *arr = json_object_new_array(), *reg = NULL;
        struct virt_snapshot *snaps = NULL;
        struct vm_view v = {};
        size_t n = 0;
        int r;

        if (!arr)
                return -ENOMEM;
        r = vm_service_get(uuid, &v, err);
        if (r < 0)
                return r;
        r = virt_conn_acquire(&c, err);
        if (r >= 0)
                r = virt_snapshot_list(c, uuid, &snaps, &n, err);
        if (r < 0) {
                vm_view_done(&v);
                return r;
        }
        pthread_mutex_lock(&registry_lock);
        reg = registry_load(uuid);
        pthread_mutex_unlock(&registry_lock);
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_decision_ struct decision *d = NULL;
                struct json_object *o;
                bool known, managed;

                if (only && !streq(snaps[i].name, only))
                        continue;
                char **disk_pools = NULL;

                managed = registry_managed(reg, snaps[i].name, &known);
                r = snapshot_decide(&v, &snaps[i], "snapshot", &d, &disk_pools, err);
                if (r < 0)
                        break;
                if (!known)
                        record_unknown(&v, &snaps[i], d);
                o = snapshot_to_json(&v, &snaps[i], managed, d, disk_pools);
                vm_service_pools_free(disk_pools, snaps[i].n_disks);
                if (!o || json_object_array_add(arr, o) < 0) {
                        json_object_put(o);
                        r = -ENOMEM;
                }
        }
        virt_snapshot_array_free(snaps, n);
        vm_view_done(&v);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(arr);
        return 0;
}

int snapshot_list_json(const char *uuid, struct json_object **ret, struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *arr = NULL;
        int r;

        if (!o)
                return -ENOMEM;
        r = snapshots_collect(uuid, NULL, &arr, err);
        if (r < 0)
                return r;
        if (json_add(o, "snapshots", arr) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

int snapshot_get_json(const char *uuid, const char *name, struct json_object **ret, struct sovd_err *err) {
        _cleanup_json_ struct json_object *arr = NULL;
        int r;

        r = snapshots_collect(uuid, name, &arr, err);
        if (r < 0)
                return r;
        if (json_object_array_length(arr) == 0)
                return err_set(err, -ENOENT, "VM %s has no snapshot named '%s'", uuid, name);
        *ret = json_object_get(json_object_array_get_idx(arr, 0));
        return 0;
}

int snapshot_revert_decide(const char *uuid, const char *name, struct decision **ret, struct sovd_err *err) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        struct virt_snapshot s = {};
        struct vm_view v = {};
        int r;

        *ret = NULL;
        r = vm_service_get(uuid, &v, err);
        if (r >= 0)
                r = virt_conn_acquire(&c, err);
        if (r >= 0)
                r = virt_snapshot_get(c, uuid, name, &s, err);
        if (r >= 0)
                r = snapshot_decide(&v, &s, "revert", ret, NULL, err);
        virt_snapshot_done(&s);
        vm_view_done(&v);
        return r;
}

int snapshot_revert(const char *uuid, const char *name, struct sovd_err *err) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        int r;

        r = virt_conn_acquire(&c, err);
        if (r < 0)
                return r;
        r = jobs_hold_vm(uuid, "snapshot revert", err);
        if (r < 0)
                return r;
        /* A revert may start or stop the domain: sovd's own doing, not drift. */
        drift_expect(uuid, "started");
        drift_expect(uuid, "defined");
        r = virt_snapshot_revert(c, uuid, name, err);
        jobs_release_vm(uuid);
        vm_index_refresh(uuid); /* its state changed: listed so at once */
        return r;
}

int snapshot_delete(const char *uuid, const char *name, struct sovd_err *err) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        int r;

        r = virt_conn_acquire(&c, err);
        if (r < 0)
                return r;
        struct virt_snapshot s = {};
        bool known, managed;
        _cleanup_json_ struct json_object *reg = NULL;

        r = jobs_hold_vm(uuid, "snapshot deletion", err);
        if (r < 0)
                return r;
        r = virt_snapshot_get(c, uuid, name, &s, err);
        if (r < 0) {
                jobs_release_vm(uuid);
                return r;
        }
        r = virt_snapshot_delete(c, uuid, name, err);
        jobs_release_vm(uuid);
        if (r >= 0) {
                pthread_mutex_lock(&registry_lock);
                reg = registry_load(uuid);
                pthread_mutex_unlock(&registry_lock);
                managed = registry_managed(reg, name, &known);
                /*
                 * libvirt merges external overlays back but leaves the memory
                 * file. sovd removes it only for snapshots it made itself: it
                 * chose that path, inside a pool.
                 */
                if (managed && s.memory_file && unlink(s.memory_file) < 0 && errno != ENOENT)
                        log_warning("snapshot '%s' deleted, but its memory file %s could not be: %m", name,
                                    s.memory_file);
                registry_forget(uuid, name);
        }
        virt_snapshot_done(&s);
        return r;
}

/*
 * Looking costs several libvirt calls per domain, so it never runs on
 * libvirt's event thread (calls made there stall every other caller of the
 * shared connection): events and reconnections queue the domain, and one
 * watcher thread looks. The queue is a small set; a burst larger than it
 * becomes one full scan.
 */
#define WATCH_QUEUE_MAX 256
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cond = PTHREAD_COND_INITIALIZER;
static char watch_queue[WATCH_QUEUE_MAX][ID_TEXT_LEN];
static size_t watch_n;
static bool watch_all, watch_stopping, watch_started;
static pthread_t watch_tid;

static void look(const char *uuid) {
        _cleanup_json_ struct json_object *arr = NULL;
        struct sovd_err err;

        /* Listing records what is new; a VM that vanished or an unreachable libvirt is no news. */
        (void) snapshots_collect(uuid, NULL, &arr, &err);
}

static void look_at_all(void) {
        struct vm_view *views = NULL;
        struct sovd_err err;
        size_t n = 0;

        if (vm_service_list_live(NULL, &views, &n, &err) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                pthread_mutex_lock(&watch_lock);
                bool stop = watch_stopping;
                pthread_mutex_unlock(&watch_lock);
                if (stop)
                        break;
                look(views[i].domain.uuid);
        }
        vm_view_array_free(views, n);
}

static void *watch_thread(void *arg) {
        (void) arg;
        pthread_mutex_lock(&watch_lock);
        for (;;) {
                while (!watch_stopping && !watch_all && watch_n == 0)
                        pthread_cond_wait(&watch_cond, &watch_lock);
                if (watch_stopping)
                        break;
                if (watch_all) {
                        watch_all = false;
                        watch_n = 0; /* covered by the full scan */
                        pthread_mutex_unlock(&watch_lock);
                        look_at_all();
                } else {
                        char uuid[ID_TEXT_LEN];
                        memcpy(uuid, watch_queue[--watch_n], ID_TEXT_LEN);
                        pthread_mutex_unlock(&watch_lock);
                        look(uuid);
                }
                pthread_mutex_lock(&watch_lock);
        }
        pthread_mutex_unlock(&watch_lock);
        return NULL;
}

static void watch_start_locked(void) {
        if (watch_started || watch_stopping)
                return;
        watch_started = pthread_create(&watch_tid, NULL, watch_thread, NULL) == 0;
        if (watch_started)
                (void) pthread_setname_np(watch_tid, "sovd-snapwatch");
}

void snapshot_service_observe(const char *uuid) {
        bool queued = false;

        pthread_mutex_lock(&watch_lock);
        watch_start_locked();
        for (size_t i = 0; i < watch_n; i++)
                if (streq(watch_queue[i], uuid))
                        queued = true;
        if (!queued) {
                if (watch_n < WATCH_QUEUE_MAX)
                        snprintf(watch_queue[watch_n++], ID_TEXT_LEN, "%s", uuid);
                else
                        watch_all = true;
        }
        pthread_cond_signal(&watch_cond);
        pthread_mutex_unlock(&watch_lock);
}

void snapshot_service_scan(void) {
        pthread_mutex_lock(&watch_lock);
        watch_start_locked();
        watch_all = true;
        pthread_cond_signal(&watch_cond);
        pthread_mutex_unlock(&watch_lock);
}

void snapshot_service_stop(void) {
        bool join;

        pthread_mutex_lock(&watch_lock);
        watch_stopping = true;
        join = watch_started;
        watch_started = false;
        pthread_cond_signal(&watch_cond);
        pthread_mutex_unlock(&watch_lock);
        if (join)
                pthread_join(watch_tid, NULL);
}
