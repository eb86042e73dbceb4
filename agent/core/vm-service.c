/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <stdio.h>

#include "sovd/domain-xml.h"
#include "sovd/drift.h"
#include "sovd/jobs.h"
#include "sovd/log.h"
#include "sovd/time-util.h"
#include "sovd/virt-backup.h"
#include "sovd/virt-storage.h"
#include "sovd/vm-index.h"
#include "sovd/admission.h"
#include "sovd/vm-service.h"

#define GIB (1024ull * 1024ull * 1024ull)

/*
 * Serialises creations and deletions: the name check, the volume creation
 * and the definition must not interleave with another create of the same
 * name, and a delete must not race a create reusing its volume names.
 */
static pthread_mutex_t mutation_lock = PTHREAD_MUTEX_INITIALIZER;

void vm_view_done(struct vm_view *v) {
        if (!v)
                return;
        if (v->disk_refs)
                for (size_t i = 0; i < v->domain.n_disks; i++) {
                        free(v->disk_refs[i].pool);
                        free(v->disk_refs[i].volume);
                }
        free(v->disk_refs);
        if (v->storage_pools)
                for (size_t i = 0; i < v->domain.n_storage; i++)
                        free(v->storage_pools[i]);
        free(v->storage_pools);
        virt_domain_done(&v->domain);
        binding_free(v->binding);
        free(v->binding_error);
        *v = (struct vm_view){};
}

void vm_view_array_free(struct vm_view *a, size_t n) {
        for (size_t i = 0; i < n; i++)
                vm_view_done(&a[i]);
        free(a);
}

/* Attaches the parsed binding; an invalid one is reported, not fatal. */
static int view_bind(struct vm_view *v) {
        struct sovd_err perr;
        struct binding *b;
        int r;

        if (!v->domain.binding_xml)
                return 0;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        r = binding_parse(v->domain.binding_xml, b, &perr);
        if (r == -ENOMEM) {
                free(b);
                return r;
        }
        if (r < 0) {
                free(b);
                v->binding_error = strdup(perr.msg);
                log_emit(LOG_WARNING, LOG_FIELDS({ "SOVD_VM_UUID", v->domain.uuid }),
                         "domain '%s' carries an invalid sovd binding: %s", v->domain.name, perr.msg);
                return v->binding_error ? 0 : -ENOMEM;
        }
        v->binding = b;
        return 0;
}

int vm_service_list_live(const struct vm_filter *f, struct vm_view **ret, size_t *ret_n, struct sovd_err *err) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        struct virt_domain *doms = NULL;
        struct vm_view *views;
        size_t n = 0, k = 0;
        int r;

        r = virt_conn_acquire(&c, err);
        if (r < 0)
                return r;
        r = virt_domain_list(c, &doms, &n, err);
        if (r < 0)
                return r;
        views = calloc(n ? n : 1, sizeof(*views));
        if (!views) {
                virt_domain_array_free(doms, n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                struct vm_view v = { .domain = doms[i] };

                doms[i] = (struct virt_domain){};
                if (f && f->state >= 0 && (int) v.domain.state != f->state) {
                        vm_view_done(&v);
                        continue;
                }
                r = view_bind(&v);
                if (r < 0) {
                        vm_view_done(&v);
                        break;
                }
                if (f && f->tenant && (!v.binding || !streq(v.binding->tenant, f->tenant))) {
                        vm_view_done(&v);
                        continue;
                }
                views[k++] = v;
        }
        virt_domain_array_free(doms, n);
        if (r < 0) {
                vm_view_array_free(views, k);
                return r;
        }
        *ret = views;
        *ret_n = k;
        return 0;
}

/* One VM from libvirt now; with @detail, its devices and the pools of its disks and storage too. */
static int view_load(const char *uuid, bool detail, struct vm_view *ret, struct sovd_err *err) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        struct vm_view v = {};
        int r;

        r = virt_conn_acquire(&c, err);
        if (r < 0)
                return r;
        r = detail ? virt_domain_get(c, uuid, &v.domain, err) : virt_domain_get_summary(c, uuid, &v.domain, err);
        if (r == -ENOENT)
                return err_set(err, r, "no VM with UUID %s on this host", uuid);
        if (r < 0)
                return r;
        r = view_bind(&v);
        if (r >= 0 && !detail) {
                *ret = v;
                return 0;
        }
        if (r >= 0 && v.domain.n_disks > 0) {
                v.disk_refs = calloc(v.domain.n_disks, sizeof(*v.disk_refs));
                if (!v.disk_refs)
                        r = -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && i < v.domain.n_disks; i++) {
                struct vm_disk_ref *ref = &v.disk_refs[i];
                struct sovd_err ignored;

                if (!v.domain.disks[i].path)
                        continue;
                /* A disk outside any pool is still shown, with pool and volume null. */
                if (virt_volume_by_path(c, v.domain.disks[i].path, &ref->pool, &ref->volume, &ignored) < 0)
                        continue;
                for (size_t k = 0; v.binding && k < v.binding->n_volumes; k++)
                        if (streq(v.binding->volumes[k].pool, ref->pool) &&
                            streq(v.binding->volumes[k].volume, ref->volume))
                                ref->created_by_sovd = true;
        }
        if (r >= 0) {
                v.storage_pools = calloc(v.domain.n_storage + 1, sizeof(char *));
                if (!v.storage_pools)
                        r = -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && i < v.domain.n_storage; i++) {
                _cleanup_free_ char *volume = NULL;
                struct sovd_err ignored;
                /* Not a volume of any pool: judged as an untagged place. */
                if (virt_volume_by_path(c, v.domain.storage[i], &v.storage_pools[i], &volume, &ignored) < 0)
                        v.storage_pools[i] = NULL;
        }
        if (r < 0) {
                vm_view_done(&v);
                return r;
        }
        *ret = v;
        return 0;
}

int vm_service_get(const char *uuid, struct vm_view *ret, struct sovd_err *err) {
        return view_load(uuid, true, ret, err);
}

int vm_service_get_summary(const char *uuid, struct vm_view *ret, struct sovd_err *err) {
        return view_load(uuid, false, ret, err);
}

struct admission_disk *vm_view_storage_places(const struct vm_view *v, size_t *ret_n) {
        struct admission_disk *d = calloc(v->domain.n_storage + 1, sizeof(*d));

        if (!d)
                return NULL;
        for (size_t i = 0; i < v->domain.n_storage; i++)
                d[i] = (struct admission_disk){
                        .pool = v->storage_pools ? v->storage_pools[i] : NULL,
                        .path = v->domain.storage[i],
                };
        *ret_n = v->domain.n_storage;
        return d;
}

/* Removes what a failed create made; says in @err what could not be removed. */
static void rollback_volumes(struct virt_conn *c, const struct binding *b, struct sovd_err *err) {
        for (size_t i = 0; i < b->n_volumes; i++) {
                struct sovd_err derr;
                int r = virt_volume_delete(c, b->volumes[i].pool, b->volumes[i].volume, &derr);
                if (r < 0) {
                        log_error("rollback: cannot delete volume '%s' from pool '%s': %s", b->volumes[i].volume,
                                  b->volumes[i].pool, derr.msg);
                        err_prefix(err, 0, "rollback left volume '%s' in pool '%s' behind (%s)",
                                   b->volumes[i].volume, b->volumes[i].pool, derr.msg);
                }
        }
}

static int create_locked(struct virt_conn *c, const struct vm_spec *spec, const char *request_id,
                         const char *policy_digest, char ret_uuid[static ID_TEXT_LEN], struct sovd_err *err) {
        struct virt_volume images[VM_SPEC_MAX_DISKS] = {};
        char *paths[VM_SPEC_MAX_DISKS] = {};
        struct binding b = {};
        struct virt_status st;
        char created_at[RFC3339_MAX];
        _cleanup_free_ char *xml = NULL;
        int r;

        virt_get_status(&st);
        r = virt_domain_name_free(c, spec->name, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < spec->n_networks; i++) {
                r = virt_network_check(c, spec->networks[i].network, err);
                if (r < 0)
                        return err_prefix(err, r, "networks[%zu]", i);
        }
        /* Resolve every reference before creating anything. */
        for (size_t i = 0; i < spec->n_disks; i++) {
                if (spec->disks[i].image) {
                        r = virt_volume_get(c, spec->disks[i].pool, spec->disks[i].image, &images[i], err);
                        if (r < 0) {
                                err_prefix(err, r, "disks[%zu].image", i);
                                goto out;
                        }
                } else {
                        r = virt_pool_check(c, spec->disks[i].pool, err);
                        if (r < 0) {
                                err_prefix(err, r, "disks[%zu].pool", i);
                                goto out;
                        }
                }
        }

        b.tenant = spec->tenant;
        b.policy = spec->policy;
        b.policy_digest = (char *) policy_digest;
        b.request_id = (char *) request_id;
        b.created_at = rfc3339_format(time(NULL), created_at);
        b.labels = spec->labels;
        b.n_labels = spec->n_labels;
        b.volumes = calloc(spec->n_disks ? spec->n_disks : 1, sizeof(*b.volumes));
        if (!b.volumes) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < spec->n_disks; i++) {
                _cleanup_free_ char *vol = NULL;
                uint64_t capacity = spec->disks[i].size_gib * GIB;

                if (spec->disks[i].image && images[i].capacity > capacity)
                        capacity = images[i].capacity;
                r = vm_spec_volume_name(spec, i, &vol);
                if (r < 0)
                        goto rollback;
                r = virt_volume_create(c, spec->disks[i].pool, vol, capacity,
                                       spec->disks[i].image ? &images[i] : NULL, &paths[i], err);
                if (r < 0) {
                        err_prefix(err, r, "disks[%zu]", i);
                        goto rollback;
                }
                b.volumes[b.n_volumes].pool = spec->disks[i].pool;
                b.volumes[b.n_volumes].volume = TAKE_PTR(vol);
                b.n_volumes++;
        }
        r = domain_xml_build(spec, st.host.domain_type, (const char *const *) paths, &b, &xml);
        if (r < 0)
                goto rollback;
        drift_expect(spec->name, "defined");
        r = virt_domain_define(c, xml, ret_uuid, err);
        if (r < 0)
                goto rollback;
        goto done;

rollback:
        rollback_volumes(c, &b, err);
done:
        for (size_t i = 0; i < b.n_volumes; i++)
                free(b.volumes[i].volume);
        free(b.volumes);
out:
        for (size_t i = 0; i < VM_SPEC_MAX_DISKS; i++) {
                virt_volume_done(&images[i]);
                free(paths[i]);
        }
        return r;
}

int vm_service_create(const struct vm_spec *spec, const char *request_id, const char *policy_digest,
                      char ret_uuid[static ID_TEXT_LEN], struct sovd_err *err) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        int r;

        r = virt_conn_acquire(&c, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&mutation_lock);
        r = create_locked(c, spec, request_id, policy_digest, ret_uuid, err);
        pthread_mutex_unlock(&mutation_lock);
        /* Read-your-writes for listings: do not wait for the DEFINED event. */
        if (r >= 0)
                vm_index_refresh(ret_uuid);
        return r;
}

int vm_service_delete(const char *uuid, bool delete_storage, struct sovd_err *err) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        struct vm_view v = {};
        int r;

        r = virt_conn_acquire(&c, err);
        if (r < 0)
                return r;
        /* A job on the VM (a backup writing from its disks, a restore writing to them) must end first. */
        r = jobs_hold_vm_off(uuid, "deletion", err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&mutation_lock);
        r = virt_domain_get(c, uuid, &v.domain, err);
        if (r == -ENOENT)
                err_set(err, r, "no VM with UUID %s on this host", uuid);
        if (r < 0)
                goto out;
        r = view_bind(&v);
        if (r < 0)
                goto out;
        if (delete_storage && !v.binding) {
                r = err_set(err, -EINVAL,
                            "domain '%s' is not managed by sovd: delete_storage only removes volumes sovd "
                            "created",
                            v.domain.name);
                goto out;
        }
        drift_expect(uuid, "undefined");
        r = virt_domain_undefine(c, uuid, err);
        if (r < 0)
                goto out;
        /* The definition is gone; a volume that cannot be removed now is reported, not rolled back. */
        for (size_t i = 0; delete_storage && i < v.binding->n_volumes; i++) {
                struct sovd_err derr;
                int k = virt_volume_delete(c, v.binding->volumes[i].pool, v.binding->volumes[i].volume, &derr);
                if (k < 0 && k != -SOVD_E_UNRESOLVED) {
                        log_emit(LOG_ERR, LOG_FIELDS({ "SOVD_VM_UUID", uuid }),
                                 "VM '%s' undefined but its volume '%s' in pool '%s' could not be deleted: %s",
                                 v.domain.name, v.binding->volumes[i].volume, v.binding->volumes[i].pool,
                                 derr.msg);
                        r = err_set(err, k,
                                    "VM '%s' was undefined but volume '%s' in pool '%s' could not be deleted: %s",
                                    v.domain.name, v.binding->volumes[i].volume, v.binding->volumes[i].pool,
                                    derr.msg);
                }
        }
out:
        pthread_mutex_unlock(&mutation_lock);
        jobs_release_vm(uuid);
        vm_view_done(&v);
        vm_index_refresh(uuid);
        return r;
}

int vm_service_action(const char *uuid, enum vm_action a, struct sovd_err *err) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        int r;

        r = virt_conn_acquire(&c, err);
        if (r < 0)
                return r;
        /*
         * A start or stop in the middle of a job would pull the ground from
         * under it (a backup reading the disks, an in-place restore writing
         * them, a migration): refused until the job ends or is cancelled.
         */
        r = jobs_hold_vm(uuid, vm_action_to_string(a), err);
        if (r < 0)
                return r;
        /*
         * A start must not interleave with a delete of the same VM: the delete
         * checks the domain is inactive, then undefines and removes volumes.
         */
        if (a == VM_ACTION_START) {
                drift_expect(uuid, "started");
                pthread_mutex_lock(&mutation_lock);
        }
        r = virt_domain_action(c, uuid, a, err);
        if (a == VM_ACTION_START)
                pthread_mutex_unlock(&mutation_lock);
        jobs_release_vm(uuid);
        if (r == -ENOENT)
                return err_set(err, r, "no VM with UUID %s on this host", uuid);
        vm_index_refresh(uuid);
        return r;
}

int vm_service_job_progress(struct job *j, uint64_t *ret_done, uint64_t *ret_total) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        struct virt_job_info info = {};
        int r = virt_conn_acquire(&c, NULL);

        if (r < 0 || (r = virt_domain_job(c, job_vm(j), false, &info, NULL)) < 0)
                return r;
        if (info.outcome != VIRT_JOB_ACTIVE)
                return -ENODATA;
        *ret_done = info.bytes_done;
        *ret_total = info.bytes_total;
        return 0;
}

int vm_service_pools_of_paths(char *const *paths, size_t n, char ***ret, struct sovd_err *err) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        char **pools;
        int r;

        r = virt_conn_acquire(&c, err);
        if (r < 0)
                return r;
        pools = calloc(n + 1, sizeof(char *));
        if (!pools)
                return -ENOMEM;
        char **names = NULL, **dirs = NULL;
        size_t n_names = 0;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *volume = NULL;
                struct sovd_err ignored;
                r = virt_volume_by_path(c, paths[i], &pools[i], &volume, &ignored);
                if (r == -SOVD_E_LIBVIRT_DOWN) {
                        vm_service_pools_free(pools, n);
                        strv_free(names);
                        vm_service_pools_free(dirs, n_names);
                        return err_set(err, r, "%s", ignored.msg);
                }
                if (r >= 0)
                        continue;
                pools[i] = NULL;
                /*
                 * A file libvirt has not scanned yet (a snapshot overlay just
                 * written, a memory file) still lies in its pool's directory.
                 */
                if (!names && virt_pool_list(c, &names, &ignored) >= 0) {
                        for (n_names = 0; names[n_names]; n_names++)
                                ;
                        dirs = calloc(n_names + 1, sizeof(char *));
                        for (size_t k = 0; dirs && k < n_names; k++)
                                (void) virt_pool_path(c, names[k], &dirs[k], &ignored);
                }
                const char *slash = strrchr(paths[i], '/');
                for (size_t k = 0; slash && dirs && k < n_names; k++)
                        if (dirs[k] && strlen(dirs[k]) == (size_t) (slash - paths[i]) &&
                            strncmp(dirs[k], paths[i], (size_t) (slash - paths[i])) == 0) {
                                pools[i] = strdup(names[k]);
                                break;
                        }
                /* Otherwise the path is judged as an untagged place. */
        }
        strv_free(names);
        vm_service_pools_free(dirs, n_names);
        *ret = pools;
        return 0;
}

void vm_service_pools_free(char **pools, size_t n) {
        for (size_t i = 0; pools && i < n; i++)
                free(pools[i]);
        free(pools);
}
