/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "sovd/backup-service.h"
#include "sovd/domain-xml.h"
#include "sovd/drift.h"
#include "sovd/fileio.h"
#include "sovd/json-util.h"
#include "sovd/log.h"
#include "sovd/names.h"
#include "sovd/process.h"
#include "sovd/recorder.h"
#include "sovd/sha256.h"
#include "sovd/strbuf.h"
#include "sovd/time-util.h"
#include "sovd/virt-backup.h"
#include "sovd/virt-storage.h"
#include "sovd/vm-index.h"

#define MANIFEST_MAX (8 * 1024 * 1024)
#define MANIFEST_NAME "manifest.json"
#define POLL_USEC 50000
/* How long a backup keeps waiting for libvirtd to come back before it gives up. */
#define LIBVIRT_DOWN_MAX_SEC 600
#define CHAIN_MAX 1024

/*
 * Where a target keeps backups. A remote target would stage files in a local
 * directory (stage), upload them and the manifest (publish), and fetch them
 * for restores and verification (local_path); the directory target does all
 * of that in place.
 */
struct backup_target_ops {
        const char *type;
        /* Creates the empty place for backup @id of @vm and returns the local directory libvirt writes into. */
        int (*stage)(const struct place_config *t, const char *vm, const char *id, char **ret_dir, struct sovd_err *err);
        /* Makes the backup exist: its manifest is written last, atomically. */
        int (*publish)(const struct place_config *t, const char *vm, const char *id, const char *manifest,
                       struct sovd_err *err);
        /* The VMs with backups on the target, and each VM's backups (ids with a manifest); NULL-terminated. */
        int (*list_vms)(const struct place_config *t, char ***ret);
        int (*list)(const struct place_config *t, const char *vm, char ***ret);
        int (*read_manifest)(const struct place_config *t, const char *vm, const char *id, struct json_object **ret);
        /* Opens @file of a backup for reading: a regular file of the backup's own, never through a symlink. */
        int (*open_file)(const struct place_config *t, const char *vm, const char *id, const char *file);
        /* A local path to read @file of a backup from. */
        int (*local_path)(const struct place_config *t, const char *vm, const char *id, const char *file, char **ret);
        /* Removes a backup, complete or partial. */
        int (*remove)(const struct place_config *t, const char *vm, const char *id, struct sovd_err *err);
};

static char *dir_of(const struct place_config *t, const char *vm, const char *id) {
        char *p = NULL;

        if (asprintf(&p, "%s/%s/%s", t->path, vm, id) < 0)
                return NULL;
        return p;
}

/*
 * Opens backup @id of @vm (with @create, making the two levels) and, with
 * @file, that file in it, following no symlink below the target's path:
 * a target may be shared storage, and what is planted there must not make
 * sovd (root) read, hash, copy, write or delete outside it. A file must be
 * regular; O_NONBLOCK keeps a FIFO from blocking open() before it is refused.
 */
static int dir_open(const struct place_config *t, const char *vm, const char *id, const char *file, bool create) {
        _cleanup_close_ int root = -1, vfd = -1, ifd = -1;
        struct stat st;
        int fd;

        if (strchr(vm, '/') || strchr(id, '/') || (file && strchr(file, '/')))
                return -EINVAL;
        root = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return -errno;
        if (create && mkdirat(root, vm, 0700) < 0 && errno != EEXIST)
                return -errno;
        vfd = openat(root, vm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (vfd < 0)
                return -errno;
        if (create && mkdirat(vfd, id, 0700) < 0 && errno != EEXIST)
                return -errno;
        ifd = openat(vfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (ifd < 0)
                return -errno;
        if (!file)
                return TAKE_FD(ifd);
        fd = openat(ifd, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return -EINVAL;
        }
        return fd;
}

static int dir_stage(const struct place_config *t, const char *vm, const char *id, char **ret_dir,
                     struct sovd_err *err) {
        _cleanup_free_ char *dir = dir_of(t, vm, id);
        int fd;

        if (!dir)
                return -ENOMEM;
        fd = mkdir_p(t->path, 0700);
        if (fd >= 0)
                fd = dir_open(t, vm, id, NULL, true);
        if (fd < 0)
                return err_set(err, fd, "backup target '%s': cannot create %s: %s", t->name, dir,
                               fd == -ELOOP || fd == -ENOTDIR ? "a symlink or a file is in the way" : strerror(-fd));
        close(fd);
        *ret_dir = TAKE_PTR(dir);
        return 0;
}

static int dir_publish(const struct place_config *t, const char *vm, const char *id, const char *manifest,
                       struct sovd_err *err) {
        _cleanup_free_ char *dir = dir_of(t, vm, id), *path = NULL;
        int r;

        if (!dir || asprintf(&path, "%s/" MANIFEST_NAME, dir) < 0)
                return -ENOMEM;
        r = file_write_atomic(path, manifest, strlen(manifest), 0600);
        if (r < 0)
                return err_set(err, r, "backup target '%s': cannot write %s: %s", t->name, path, strerror(-r));
        return 0;
}

/* Sub-directories of @dir whose names are UUIDs and, with @need, that hold file @need. */
static int list_uuid_dirs(const char *dir, const char *need, char ***ret) {
        DIR *d = opendir(dir);
        char **list = calloc(1, sizeof(char *));
        size_t n = 0;
        struct dirent *de;

        if (!list) {
                if (d)
                        closedir(d);
                return -ENOMEM;
        }
        *ret = list;
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                char **a;
                struct stat st;
                if (!uuid_text_is_valid(de->d_name))
                        continue;
                /* Real directories and files only: a symlink planted in a target leads out of it. */
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                if (need) {
                        _cleanup_free_ char *p = NULL;
                        if (asprintf(&p, "%s/%s", de->d_name, need) < 0 ||
                            fstatat(dirfd(d), p, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                                continue;
                }
                a = realloc(list, (n + 2) * sizeof(char *));
                if (!a)
                        break;
                list = a;
                list[n] = strdup(de->d_name);
                if (!list[n])
                        break;
                list[++n] = NULL;
        }
        *ret = list;
        closedir(d);
        return 0;
}

static int dir_list_vms(const struct place_config *t, char ***ret) {
        return list_uuid_dirs(t->path, NULL, ret);
}

static int dir_list(const struct place_config *t, const char *vm, char ***ret) {
        _cleanup_free_ char *dir = NULL;

        if (asprintf(&dir, "%s/%s", t->path, vm) < 0)
                return -ENOMEM;
        return list_uuid_dirs(dir, MANIFEST_NAME, ret);
}

static int dir_read_manifest(const struct place_config *t, const char *vm, const char *id, struct json_object **ret) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = dir_open(t, vm, id, MANIFEST_NAME, false);
        size_t len;
        int r;

        if (fd < 0)
                return fd;
        r = file_read_fd(fd, MANIFEST_MAX, &buf, &len);
        if (r < 0)
                return r;
        r = json_parse_strict(buf, len, ret, NULL);
        if (r < 0)
                return -EBADMSG;
        if (!json_object_is_type(*ret, json_type_object)) {
                json_object_put(*ret);
                *ret = NULL;
                return -EBADMSG;
        }
        return 0;
}

static int dir_open_file(const struct place_config *t, const char *vm, const char *id, const char *file) {
        return dir_open(t, vm, id, file, false);
}

static int dir_local_path(const struct place_config *t, const char *vm, const char *id, const char *file, char **ret) {
        return asprintf(ret, "%s/%s/%s/%s", t->path, vm, id, file) < 0 ? -ENOMEM : 0;
}

static int dir_remove(const struct place_config *t, const char *vm, const char *id, struct sovd_err *err) {
        _cleanup_free_ char *dir = dir_of(t, vm, id);
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (!dir)
                return -ENOMEM;
        /* Never through a symlink: its files are not the backup's to delete. */
        int fd = dir_open(t, vm, id, NULL, false);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return err_set(err, fd, "cannot open %s: %s", dir, strerror(-fd));
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return err_set(err, r, "cannot open %s: %s", dir, strerror(-r));
        }
        /* Flat by construction: the manifest and one file per disk. The manifest goes first. */
        (void) unlinkat(dirfd(d), MANIFEST_NAME, 0);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
                        r = err_set(err, -errno, "cannot remove %s/%s: %m", dir, de->d_name);
        closedir(d);
        if (r == 0 && rmdir(dir) < 0 && errno != ENOENT)
                r = err_set(err, -errno, "cannot remove %s: %m", dir);
        return r;
}

static const struct backup_target_ops directory_target = {
        .type = "directory",
        .stage = dir_stage,
        .publish = dir_publish,
        .list_vms = dir_list_vms,
        .list = dir_list,
        .read_manifest = dir_read_manifest,
        .open_file = dir_open_file,
        .local_path = dir_local_path,
        .remove = dir_remove,
};

static const struct backup_target_ops *target_ops(const struct place_config *t) {
        (void) t; /* every configured target is a directory so far */
        return &directory_target;
}

static uint64_t realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* ---- requests ---- */

void backup_request_done(struct backup_request *r) {
        free(r->target);
        *r = (struct backup_request){};
}

int backup_request_parse(struct json_object *doc, struct backup_request *ret, struct sovd_err *err) {
        static const char *const members[] = { "target", "mode", NULL };
        const char *target = NULL, *mode = NULL;
        int r;

        *ret = (struct backup_request){};
        if (!json_object_is_type(doc, json_type_object))
                return err_set(err, -EINVAL, "the backup request must be a JSON object");
        if ((r = json_check_members(doc, members, "", err)) < 0 ||
            (r = json_get_string(doc, "target", "", true, &target, err)) < 0 ||
            (r = json_get_string(doc, "mode", "", false, &mode, err)) < 0)
                return r;
        if (!name_is_valid(target))
                return err_set(err, -EINVAL, "target: not a valid backup target name");
        if (mode && !streq(mode, "full") && !streq(mode, "incremental"))
                return err_set(err, -EINVAL, "mode: must be full or incremental");
        ret->incremental = mode && streq(mode, "incremental");
        ret->target = strdup(target);
        return ret->target ? 0 : -ENOMEM;
}

void restore_request_done(struct restore_request *r) {
        free(r->name);
        free(r->pool);
        *r = (struct restore_request){};
}

int restore_request_parse(struct json_object *doc, struct restore_request *ret, struct sovd_err *err) {
        static const char *const members[] = { "name", "in_place", "pool", NULL };
        const char *name = NULL, *pool = NULL;
        int r;

        *ret = (struct restore_request){};
        if (!json_object_is_type(doc, json_type_object))
                return err_set(err, -EINVAL, "the restore request must be a JSON object");
        if ((r = json_check_members(doc, members, "", err)) < 0 ||
            (r = json_get_string(doc, "name", "", false, &name, err)) < 0 ||
            (r = json_get_bool(doc, "in_place", "", false, &ret->in_place, err)) < 0 ||
            (r = json_get_string(doc, "pool", "", false, &pool, err)) < 0)
                return r;
        if (!name == !ret->in_place)
                return err_set(err, -EINVAL, "give either name (restore into a new VM) or in_place: true");
        if (name && !name_is_valid(name))
                return err_set(err, -EINVAL,
                               "name: 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit");
        if (pool && !name_is_valid(pool))
                return err_set(err, -EINVAL, "pool: not a valid pool name");
        if (pool && ret->in_place)
                return err_set(err, -EINVAL, "pool: an in-place restore writes back into the VM's own disks");
        ret->name = name ? strdup(name) : NULL;
        ret->pool = pool ? strdup(pool) : NULL;
        if ((name && !ret->name) || (pool && !ret->pool)) {
                restore_request_done(ret);
                return -ENOMEM;
        }
        return 0;
}

/* ---- manifests ---- */

static const char *mstr(struct json_object *o, const char *key) {
        struct json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static struct json_object *mget(struct json_object *o, const char *key) {
        struct json_object *v = NULL;

        if (o)
                (void) json_object_object_get_ex(o, key, &v);
        return v;
}

struct found_backup {
        struct config *config;        /* reference: keeps @target alive */
        const struct place_config *target;
        char vm[ID_TEXT_LEN];
        struct json_object *manifest;
};

static void found_backup_done(struct found_backup *f) {
        json_object_put(f->manifest);
        config_unref(f->config);
        *f = (struct found_backup){};
}

/* A manifest is believed only as far as its identity matches where it was found. */
static bool manifest_is_sane(struct json_object *m, const char *vm, const char *id) {
        const char *format = mstr(m, "format"), *mid = mstr(m, "id");
        struct json_object *disks = mget(m, "disks"), *mvm = mget(m, "vm");

        return format && streq(format, BACKUP_MANIFEST_FORMAT) && mid && streq(mid, id) && mvm &&
               mstr(mvm, "uuid") && streq(mstr(mvm, "uuid"), vm) && disks &&
               json_object_is_type(disks, json_type_array) &&
               /* A parent that is not a string would make an incremental pass for a full backup. */
               (!mget(m, "parent") || mstr(m, "parent"));
}

static int find_backup(const char *id, struct found_backup *ret, struct sovd_err *err) {
        struct config *c = admission_config();

        if (!uuid_text_is_valid(id)) {
                config_unref(c);
                return err_set(err, -EINVAL, "'%s' is not a backup id (a UUID)", id[0] == '!' ? "(too long)" : id);
        }
        for (size_t i = 0; c && i < c->n_backup_targets; i++) {
                const struct place_config *t = &c->backup_targets[i];
                const struct backup_target_ops *ops = target_ops(t);
                char **vms = NULL;

                if (ops->list_vms(t, &vms) < 0)
                        continue;
                for (size_t k = 0; vms && vms[k]; k++) {
                        struct json_object *m = NULL;
                        if (ops->read_manifest(t, vms[k], id, &m) < 0)
                                continue;
                        if (!manifest_is_sane(m, vms[k], id)) {
                                json_object_put(m);
                                continue;
                        }
                        *ret = (struct found_backup){ .config = c, .target = t, .manifest = m };
                        snprintf(ret->vm, sizeof(ret->vm), "%s", vms[k]);
                        strv_free(vms);
                        return 0;
                }
                strv_free(vms);
        }
        config_unref(c);
        return err_set(err, -ENOENT, "no backup %s on any configured backup target", id);
}

static int64_t taken_usec(struct json_object *m) {
        struct json_object *v = mget(m, "taken_at_usec");
        return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
}

/* Oldest first: by the microsecond a backup was taken (RFC 3339 seconds cannot order two in one second). */
static int cmp_created(const void *a, const void *b) {
        struct json_object *x = *(struct json_object *const *) a, *y = *(struct json_object *const *) b;
        const char *cx = mstr(x, "created_at"), *cy = mstr(y, "created_at");
        int64_t tx = taken_usec(x), ty = taken_usec(y);
        if (tx && ty && tx != ty)
                return tx < ty ? -1 : 1;
        int r = strcmp(cx ? cx : "", cy ? cy : "");

        return r ? r : strcmp(mstr(x, "id") ? mstr(x, "id") : "", mstr(y, "id") ? mstr(y, "id") : "");
}

/* Every sane manifest of @vm on @t, oldest first; *ret is an array of *ret_n references. */
static int target_manifests(const struct place_config *t, const char *vm, struct json_object ***ret, size_t *ret_n) {
        const struct backup_target_ops *ops = target_ops(t);
        struct json_object **a = NULL;
        char **ids = NULL;
        size_t n = 0;
        int r;

        r = ops->list(t, vm, &ids);
        if (r < 0)
                return r;
        for (size_t i = 0; ids && ids[i]; i++) {
                struct json_object *m = NULL, **p;
                if (ops->read_manifest(t, vm, ids[i], &m) < 0 || !manifest_is_sane(m, vm, ids[i])) {
                        json_object_put(m);
                        continue;
                }
                p = realloc(a, (n + 1) * sizeof(*a));
                if (!p) {
                        json_object_put(m);
                        break;
                }
                a = p;
                a[n++] = m;
        }
        strv_free(ids);
        if (n > 1)
                qsort(a, n, sizeof(*a), cmp_created);
        *ret = a;
        *ret_n = n;
        return 0;
}

static void manifests_free(struct json_object **a, size_t n) {
        for (size_t i = 0; i < n; i++)
                json_object_put(a[i]);
        free(a);
}

static struct json_object *manifest_summary(struct json_object *m, const char *target) {
        struct json_object *copy = NULL;

        if (json_object_deep_copy(m, &copy, NULL) < 0)
                return NULL;
        json_object_object_del(copy, "domain_xml");
        if (json_add_string(copy, "target", target) < 0) {
                json_object_put(copy);
                return NULL;
        }
        return copy;
}

int backup_list_json(const char *vm_uuid, struct json_object **ret, struct sovd_err *err) {
        _cleanup_config_ struct config *c = admission_config();
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *arr = json_object_new_array();

        if (!o || !arr || json_add(o, "backups", arr) < 0)
                return -ENOMEM;
        for (size_t i = 0; c && i < c->n_backup_targets; i++) {
                struct json_object **ms = NULL;
                size_t n = 0;
                if (target_manifests(&c->backup_targets[i], vm_uuid, &ms, &n) < 0)
                        continue; /* an unreadable target is not a reason to hide the others */
                for (size_t k = 0; k < n; k++) {
                        struct json_object *s = manifest_summary(ms[k], c->backup_targets[i].name);
                        if (!s || json_object_array_add(arr, s) < 0) {
                                json_object_put(s);
                                manifests_free(ms, n);
                                return -ENOMEM;
                        }
                }
                manifests_free(ms, n);
        }
        json_object_array_sort(arr, cmp_created);
        (void) err;
        *ret = TAKE_PTR(o);
        return 0;
}

int backup_get_json(const char *id, struct json_object **ret, struct sovd_err *err) {
        struct found_backup f = {};
        struct json_object *copy = NULL;
        int r;

        r = find_backup(id, &f, err);
        if (r < 0)
                return r;
        if (json_object_deep_copy(f.manifest, &copy, NULL) < 0 || json_add_string(copy, "target", f.target->name) < 0) {
                json_object_put(copy);
                found_backup_done(&f);
                return -ENOMEM;
        }
        found_backup_done(&f);
        *ret = copy;
        return 0;
}

/* The backup and its ancestors, newest first (ret[0] is @m itself); -ENOENT naming a missing parent. */
static int load_chain(const struct place_config *t, const char *vm, struct json_object *m, struct json_object ***ret,
                      size_t *ret_n, struct sovd_err *err) {
        struct json_object **a = calloc(CHAIN_MAX, sizeof(*a));
        size_t n = 0;

        if (!a)
                return -ENOMEM;
        a[n++] = json_object_get(m);
        for (;;) {
                const char *parent = mstr(a[n - 1], "parent");
                struct json_object *pm = NULL;
                if (!parent)
                        break;
                /* A planted manifest can name a descendant as parent: without this, CHAIN_MAX reads of it. */
                for (size_t k = 0; k < n; k++)
                        if (streq(mstr(a[k], "id"), parent)) {
                                int r = err_set(err, -ENOENT,
                                                "backup %s names %.40s as its parent, which is already in its chain: "
                                                "the chain loops",
                                                mstr(a[n - 1], "id"), parent);
                                manifests_free(a, n);
                                return r;
                        }
                if (n == CHAIN_MAX || !uuid_text_is_valid(parent) ||
                    target_ops(t)->read_manifest(t, vm, parent, &pm) < 0 || !manifest_is_sane(pm, vm, parent)) {
                        /* The message first: @parent belongs to a manifest freed below. */
                        int r = err_set(err, -ENOENT,
                                        "backup %s needs its parent %.40s, which is missing from target '%s': the chain "
                                        "is broken",
                                        mstr(a[n - 1], "id"), parent, t->name);
                        json_object_put(pm);
                        manifests_free(a, n);
                        return r;
                }
                a[n++] = pm;
        }
        *ret = a;
        *ret_n = n;
        return 0;
}

/* Verification: hashing a chain of large files, on a worker, reporting progress and stoppable. */
struct verify_progress {
        struct job *job;
        uint64_t done, total;
};

static bool verify_step(uint64_t bytes, void *userdata) {
        struct verify_progress *p = userdata;

        p->done += bytes;
        job_report_progress(p->job, p->done, p->done > p->total ? p->done : p->total);
        return !job_cancel_requested(p->job) && !jobs_stopping();
}

static uint64_t chain_size(struct json_object **ms, size_t n) {
        uint64_t total = 0;

        for (size_t i = 0; i < n; i++) {
                struct json_object *md = mget(ms[i], "disks");
                for (size_t k = 0; k < json_object_array_length(md); k++) {
                        /* Only a hint for progress: a manifest's size is not trusted for anything else. */
                        int64_t size = json_object_get_int64(mget(json_object_array_get_idx(md, k), "size"));
                        if (size > 0 && (uint64_t) size < UINT64_MAX - total)
                                total += (uint64_t) size;
                }
        }
        return total;
}

/*
 * Recomputes every checksum of the backup and of its parents:
 * {"backup", "ok", "disks", "chain"}, and in @problems one line per file
 * that does not check out. -ECANCELED when the job was stopped.
 */
static int verify_chain(const char *id, struct job *j, struct json_object **ret, struct strbuf *problems,
                        struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *disks = json_object_new_array(), *chain = json_object_new_array();
        struct verify_progress progress = { .job = j };
        struct json_object **ms = NULL;
        struct found_backup f = {};
        size_t n = 0;
        bool ok = true;
        int r;

        if (!o || !disks || !chain) {
                json_object_put(disks);
                json_object_put(chain);
                return -ENOMEM;
        }
        /* json_add() owns what it is given, added or not. */
        if (json_add(o, "disks", disks) < 0) {
                json_object_put(chain);
                return -ENOMEM;
        }
        if (json_add(o, "chain", chain) < 0 || json_add_string(o, "backup", id) < 0)
                return -ENOMEM;
        r = find_backup(id, &f, err);
        if (r < 0)
                return r;
        r = load_chain(f.target, f.vm, f.manifest, &ms, &n, err);
        if (r == -ENOENT) {
                /* A broken chain is a verification result, not an error of the request. */
                ok = false;
                (void) json_add_string(o, "error", err->msg);
                strbuf_appendf(problems, "%s", err->msg);
                r = 0;
        }
        progress.total = chain_size(ms, n);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                struct json_object *md = mget(ms[i], "disks");
                const char *bid = mstr(ms[i], "id");
                (void) json_object_array_add(chain, bid ? json_new_string(bid) : NULL);
                for (size_t k = 0; r >= 0 && k < json_object_array_length(md); k++) {
                        struct json_object *d = json_object_array_get_idx(md, k), *e = json_object_new_object();
                        const char *file = mstr(d, "file"), *expected = mstr(d, "sha256");
                        _cleanup_close_ int fd = -1;
                        char actual[SHA256_HEX_LEN] = "";
                        bool match = false;

                        /* Opened, not followed: a symlink or a FIFO planted in the target is an unreadable file. */
                        if (file && !strchr(file, '/') && file[0] != '.' &&
                            (fd = target_ops(f.target)->open_file(f.target, f.vm, bid, file)) >= 0) {
                                int k2 = sha256_fd_step(fd, actual, NULL, verify_step, &progress);
                                if (k2 == -ECANCELED)
                                        r = err_set(err, k2, "the verification was stopped before it ended");
                                else if (k2 < 0)
                                        actual[0] = '\0';
                        }
                        match = actual[0] && expected && streq(actual, expected);
                        if (r >= 0 && !match)
                                strbuf_appendf(problems, "%s%s of backup %s %s", problems->len ? "; " : "",
                                               file && utf8_is_printable(file, strlen(file)) ? file : "a file",
                                               bid ? bid : "?",
                                               actual[0] ? "has another checksum" : "is missing or unreadable");
                        ok = ok && match;
                        if (!e || json_object_array_add(disks, e) < 0 || json_add_string(e, "backup", bid) < 0 ||
                            json_add_string(e, "target", mstr(d, "target")) < 0 || json_add_string(e, "file", file) < 0 ||
                            json_add_string(e, "expected", expected) < 0 ||
                            json_add_string(e, "actual", actual[0] ? actual : NULL) < 0 || json_add_bool(e, "ok", match) < 0)
                                r = r < 0 ? r : -ENOMEM;
                }
        }
        manifests_free(ms, n);
        found_backup_done(&f);
        if (r < 0)
                return r;
        if (json_add_bool(o, "ok", ok) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

int backup_verify_prepare(const char *id, char ret_vm[static ID_TEXT_LEN], char **ret_vm_name, char **ret_tenant,
                          struct sovd_err *err) {
        struct found_backup f = {};
        const char *name, *tenant;
        int r;

        r = find_backup(id, &f, err);
        if (r < 0)
                return r;
        memcpy(ret_vm, f.vm, ID_TEXT_LEN);
        /* From the target, so outside input: only well-formed names reach the audit record. */
        name = mstr(mget(f.manifest, "vm"), "name");
        tenant = mstr(mget(f.manifest, "binding"), "tenant");
        *ret_vm_name = name && name_is_valid(name) ? strdup(name) : NULL;
        *ret_tenant = tenant && name_is_valid(tenant) ? strdup(tenant) : NULL;
        found_backup_done(&f);
        return 0;
}

static int verify_run(struct job *j, struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = NULL;
        _cleanup_strbuf_ struct strbuf problems = {};
        const char *id = mstr(job_params(j), "backup");
        int r;

        if (!id)
                return err_set(err, -EBADMSG, "the job's parameters are damaged");
        r = verify_chain(id, j, &o, &problems, err);
        if (r < 0)
                return r;
        (void) job_set_result(j, o);
        if (!json_object_get_boolean(mget(o, "ok")))
                /* The job fails: a backup that does not check out must not read as a success anywhere. */
                return err_set(err, -SOVD_E_BAD_STATE, "backup %s does not check out: %s", id,
                               problems.buf ? problems.buf : "see the result");
        return 0;
}

static int verify_cancel(struct job *j, struct sovd_err *err) {
        (void) j;
        (void) err;
        return 0; /* the hashing loop watches the request and stops */
}

const struct job_kind verify_job_kind = {
        .name = "verify",
        .run = verify_run,
        .cancel = verify_cancel,
        .reads_only = true,
};

/* ---- backup ---- */

static int add_object(struct json_object *o, const char *key, struct json_object *v) {
        return v && json_add(o, key, v) >= 0 ? 0 : -ENOMEM;
}

static struct json_object *labels_json(const struct binding *b) {
        struct json_object *o = json_object_new_object();

        for (size_t i = 0; o && i < b->n_labels; i++)
                if (json_add_string(o, b->labels[i].key, b->labels[i].value) < 0) {
                        json_object_put(o);
                        return NULL;
                }
        return o;
}

int backup_prepare(const struct vm_view *v, const struct backup_request *req, struct decision **ret_decision,
                   struct json_object **ret_params, struct sovd_err *err) {
        _cleanup_config_ struct config *c = admission_config();
        _cleanup_virt_conn_ struct virt_conn *conn = NULL;
        _cleanup_json_ struct json_object *p = json_object_new_object(), *base = json_object_new_object();
        struct json_object *disks = json_object_new_array(), *vmo = json_object_new_object(),
                           *bo = json_object_new_object(), *po = json_object_new_object();
        _cleanup_free_ char *xml = NULL;
        const struct place_config *t;
        char id[ID_TEXT_LEN], checkpoint[64];
        const char *parent = NULL, *chain = NULL, *parent_checkpoint = NULL;
        struct json_object **ms = NULL;
        size_t n_ms = 0;
        bool checkpointable = true;
        int r;

        *ret_decision = NULL;
        if (!p || !base || add_object(p, "manifest", json_object_get(base)) < 0 || add_object(p, "disks", disks) < 0 ||
            add_object(base, "vm", vmo) < 0 || add_object(base, "binding", bo) < 0 || add_object(base, "policy", po) < 0)
                return -ENOMEM;
        if (!v->binding)
                return err_set(err, -SOVD_E_BAD_STATE,
                               "VM '%s' is not managed by sovd (no binding): there is no policy to place its backups by",
                               v->domain.name);
        t = c ? config_backup_target(c, req->target) : NULL;
        if (!t)
                return err_set(err, -SOVD_E_UNRESOLVED, "target: no backup target named '%s' is configured on this host",
                               req->target);
        if (v->domain.state != VM_STATE_RUNNING && v->domain.state != VM_STATE_PAUSED)
                return err_set(err, -SOVD_E_BAD_STATE,
                               "VM '%s' is %s: backups are taken from a running VM (libvirt's backup runs in QEMU)",
                               v->domain.name, vm_state_to_string(v->domain.state));
        r = jobs_active_for_vm(v->domain.uuid, err);
        if (r < 0)
                return r;
        r = virt_conn_acquire(&conn, err);
        if (r < 0)
                return r;

        for (size_t i = 0; i < v->domain.n_disks; i++) {
                const struct virt_disk *d = &v->domain.disks[i];
                struct json_object *k = json_object_new_object();
                if (!d->path || !d->target) {
                        json_object_put(k);
                        continue;
                }
                /* Checkpoints are bitmaps inside qcow2: another format rules out incremental backups. */
                if (!d->format || !streq(d->format, "qcow2"))
                        checkpointable = false;
                if (!k || json_object_array_add(disks, k) < 0 || json_add_string(k, "target", d->target) < 0 ||
                    json_add_string(k, "path", d->path) < 0 || json_add_string(k, "format", d->format) < 0 ||
                    json_add_string(k, "pool", v->disk_refs ? v->disk_refs[i].pool : NULL) < 0 ||
                    json_add_string(k, "volume", v->disk_refs ? v->disk_refs[i].volume : NULL) < 0)
                        return -ENOMEM;
        }
        if (json_object_array_length(disks) == 0)
                return err_set(err, -EINVAL, "VM '%s' has no disk with data to back up", v->domain.name);

        if (req->incremental) {
                r = target_manifests(t, v->domain.uuid, &ms, &n_ms);
                if (r < 0)
                        return err_set(err, r, "cannot read the backups on target '%s': %s", t->name, strerror(-r));
                struct json_object *last = n_ms ? ms[n_ms - 1] : NULL;
                if (!last)
                        r = err_set(err, -SOVD_E_BAD_STATE,
                                    "an incremental backup needs a prior full backup of VM '%s' on target '%s'; there is none",
                                    v->domain.name, t->name);
                else if (!mstr(last, "checkpoint"))
                        r = err_set(err, -SOVD_E_BAD_STATE,
                                    "the last backup %s of VM '%s' on target '%s' has no checkpoint (a disk is not qcow2): "
                                    "take a full backup",
                                    mstr(last, "id"), v->domain.name, t->name);
                else if (!checkpointable)
                        r = err_set(err, -SOVD_E_BAD_STATE,
                                    "VM '%s' has a disk that is not qcow2: incremental backups need qcow2 disks",
                                    v->domain.name);
                else if (virt_checkpoint_exists(conn, v->domain.uuid, mstr(last, "checkpoint"), NULL) < 0)
                        r = err_set(err, -SOVD_E_BAD_STATE,
                                    "the last backup %s of VM '%s' on target '%s' has lost its checkpoint %s in libvirt "
                                    "(deleted, or the VM was redefined): take a full backup",
                                    mstr(last, "id"), v->domain.name, t->name, mstr(last, "checkpoint"));
                if (r >= 0) {
                        parent = mstr(last, "id");
                        chain = mstr(last, "chain");
                        parent_checkpoint = mstr(last, "checkpoint");
                }
                if (r < 0) {
                        manifests_free(ms, n_ms);
                        return r;
                }
        }

        id_new(id);
        snprintf(checkpoint, sizeof(checkpoint), "sovd-%s", id);
        r = virt_domain_xml(conn, v->domain.uuid, &xml, err);
        if (r >= 0 && (json_add_string(p, "id", id) < 0 || json_add_string(p, "target", t->name) < 0 ||
                       json_add_string(p, "mode", req->incremental ? "incremental" : "full") < 0 ||
                       json_add_string(p, "parent", parent) < 0 || json_add_string(p, "chain", chain ? chain : id) < 0 ||
                       json_add_string(p, "checkpoint", checkpointable ? checkpoint : NULL) < 0 ||
                       json_add_string(p, "parent_checkpoint", parent_checkpoint) < 0 ||
                       json_add_string(vmo, "uuid", v->domain.uuid) < 0 || json_add_string(vmo, "name", v->domain.name) < 0 ||
                       json_add_string(bo, "tenant", v->binding->tenant) < 0 ||
                       json_add_string(bo, "policy", v->binding->policy) < 0 ||
                       json_add_string(bo, "policy_digest", v->binding->policy_digest) < 0 ||
                       add_object(base, "labels", labels_json(v->binding)) < 0 ||
                       add_object(base, "host", admission_host_to_json()) < 0 ||
                       add_object(base, "target_tags", admission_place_tags_to_json("backup_target", t->name)) < 0 ||
                       json_add_string(base, "domain_xml", xml) < 0))
                r = -ENOMEM;
        manifests_free(ms, n_ms);
        if (r < 0)
                return r;

        struct admission_place place = { "backup_target", t->name };
        r = admission_decide_writes("backup", v->binding->policy, POLICY_KIND_BACKUP, &place, 1, time(NULL),
                                    ret_decision);
        if (r < 0)
                return r;
        const struct decision *d = *ret_decision;
        if (json_add_string(po, "name", d->policy_name) < 0 ||
            json_add_string(po, "digest", d->policy ? d->policy->digest : NULL) < 0 ||
            json_add_string(base, "decision", d->id) < 0)
                return -ENOMEM;
        *ret_params = TAKE_PTR(p);
        return 0;
}

struct backup_params {
        const char *id, *target, *mode, *parent, *chain, *checkpoint, *parent_checkpoint;
        struct json_object *disks, *manifest;
};

static int backup_params_get(struct json_object *p, struct backup_params *ret, struct sovd_err *err) {
        /* Optional members are stored as null. */
        *ret = (struct backup_params){ .parent = mstr(p, "parent"), .checkpoint = mstr(p, "checkpoint"),
                                       .parent_checkpoint = mstr(p, "parent_checkpoint") };
        if (!p || json_get_string(p, "id", "", true, &ret->id, err) < 0 ||
            json_get_string(p, "target", "", true, &ret->target, err) < 0 ||
            json_get_string(p, "mode", "", true, &ret->mode, err) < 0 ||
            json_get_string(p, "chain", "", true, &ret->chain, err) < 0 ||
            json_get_array(p, "disks", "", true, &ret->disks, err) < 0 ||
            json_get_object(p, "manifest", "", true, &ret->manifest, err) < 0 || !uuid_text_is_valid(ret->id) ||
            (ret->parent && !uuid_text_is_valid(ret->parent)))
                return err_set(err, -EBADMSG, "the job's parameters are damaged");
        return 0;
}

/* The target as configured now; a reload may have removed it. */
static int current_target(const char *name, struct config **ret_config, const struct place_config **ret,
                          struct sovd_err *err) {
        struct config *c = admission_config();
        const struct place_config *t = c ? config_backup_target(c, name) : NULL;

        if (!t) {
                config_unref(c);
                return err_set(err, -SOVD_E_UNRESOLVED, "backup target '%s' is no longer configured", name);
        }
        *ret_config = c;
        *ret = t;
        return 0;
}

static bool cancel_requested(void *userdata) {
        return job_cancel_requested(userdata) || jobs_stopping();
}

/* Disk file name inside a backup: the device target, already validated by libvirt ("vda"). */
static int disk_file_name(const char *target, char *buf, size_t size) {
        if (!target || !name_is_valid(target))
                return -EBADMSG;
        snprintf(buf, size, "%s.qcow2", target);
        return 0;
}

/*
 * Turns the files libvirt wrote into a published backup: the incremental's
 * qcow2 files get their parent's as backing file (relative, so the chain
 * survives moving the VM's directory), then checksums, then the manifest.
 */
static int backup_finish(const struct place_config *t, const char *vm, const struct backup_params *bp,
                         time_t started, uint64_t started_usec, struct sovd_err *err) {
        const struct backup_target_ops *ops = target_ops(t);
        _cleanup_json_ struct json_object *m = NULL;
        struct json_object *disks = json_object_new_array();
        char created[RFC3339_MAX], completed[RFC3339_MAX];
        int r;

        if (!disks || json_object_deep_copy(bp->manifest, &m, NULL) < 0 || json_add(m, "disks", disks) < 0)
                return -ENOMEM;
        if (json_add_string(m, "format", BACKUP_MANIFEST_FORMAT) < 0 || json_add_string(m, "id", bp->id) < 0 ||
            json_add_string(m, "mode", bp->mode) < 0 || json_add_string(m, "parent", bp->parent) < 0 ||
            json_add_string(m, "chain", bp->chain) < 0 || json_add_string(m, "checkpoint", bp->checkpoint) < 0 ||
            json_add_string(m, "created_at", rfc3339_format(started, created)) < 0 ||
            json_add_int(m, "taken_at_usec", (int64_t) started_usec) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < json_object_array_length(bp->disks); i++) {
                struct json_object *d = json_object_array_get_idx(bp->disks, i), *e = json_object_new_object();
                _cleanup_free_ char *path = NULL;
                char file[80], hex[SHA256_HEX_LEN];
                uint64_t size = 0;

                if (!e || json_object_array_add(disks, e) < 0)
                        return -ENOMEM;
                if (disk_file_name(mstr(d, "target"), file, sizeof(file)) < 0)
                        return err_set(err, -EBADMSG, "the job's parameters are damaged");
                r = ops->local_path(t, vm, bp->id, file, &path);
                if (r < 0)
                        return r;
                if (bp->parent) {
                        _cleanup_free_ char *backing = NULL;
                        if (asprintf(&backing, "../%s/%s", bp->parent, file) < 0)
                                return -ENOMEM;
                        char *argv[] = { "qemu-img", "rebase", "-u", "-f", "qcow2", "-F", "qcow2", "-b", backing, path, NULL };
                        r = process_run(argv, NULL, NULL, err);
                        if (r < 0)
                                return err_prefix(err, r, "cannot link %s to its parent backup", file);
                }
                r = sha256_file(path, hex, &size);
                if (r < 0)
                        return err_set(err, r, "cannot read back %s: %s", path, strerror(-r));
                if (json_add_string(e, "target", mstr(d, "target")) < 0 || json_add_string(e, "file", file) < 0 ||
                    json_add_string(e, "format", "qcow2") < 0 || json_add_int(e, "size", (int64_t) size) < 0 ||
                    json_add_string(e, "sha256", hex) < 0 || json_add_string(e, "pool", mstr(d, "pool")) < 0 ||
                    json_add_string(e, "volume", mstr(d, "volume")) < 0)
                        return -ENOMEM;
        }
        if (json_add_string(m, "completed_at", rfc3339_format(time(NULL), completed)) < 0)
                return -ENOMEM;
        return ops->publish(t, vm, bp->id, json_to_string(m), err);
}

/* Undoes a backup that did not complete: its files and its checkpoint (which would claim data never saved). */
static void backup_discard(struct virt_conn *c, const struct place_config *t, const char *vm,
                           const struct backup_params *bp) {
        struct sovd_err err = {};

        if (t && target_ops(t)->remove(t, vm, bp->id, &err) < 0)
                log_warning("cannot remove the partial backup %s: %s", bp->id, err.msg);
        if (c && bp->checkpoint && virt_checkpoint_delete(c, vm, bp->checkpoint, &err) < 0 &&
            virt_checkpoint_exists(c, vm, bp->checkpoint, NULL) >= 0)
                log_warning("cannot delete checkpoint %s of the failed backup %s: %s", bp->checkpoint, bp->id, err.msg);
}

static void record_retention(const char *vm, const char *vm_name, const char *tenant, struct json_object *m,
                             const struct place_config *t, const char *why) {
        _cleanup_json_ struct json_object *extra = json_object_new_object();
        struct record_ctx ctx = { .source = "retention", .vm_uuid = vm, .vm_name = vm_name, .tenant = tenant };
        struct sovd_err err = {};
        char detail[320];

        snprintf(detail, sizeof(detail), "%s backup %s of %s deleted from target '%s': %s", mstr(m, "mode"),
                 mstr(m, "id"), mstr(m, "created_at"), t->name, why);
        if (extra) {
                (void) json_add_string(extra, "backup", mstr(m, "id"));
                (void) json_add_string(extra, "target", t->name);
        }
        if (record_operation(&ctx, "retention", "deleted", mstr(m, "decision"), detail, extra, &err) < 0)
                log_error("cannot write the audit record of a retention deletion: %s", err.msg);
        log_emit(LOG_NOTICE, LOG_FIELDS({ "SOVD_VM_UUID", vm }), "%s", detail);
}

/*
 * Retention on one VM's backups on @t: keep the keep_last newest and those
 * younger than keep_days, and every ancestor of a kept backup so that no
 * kept incremental loses its chain; delete the rest, newest first, each
 * deletion recorded before it is made.
 */
static void apply_retention(struct virt_conn *c, const struct place_config *t, const char *vm, const char *vm_name,
                            const char *tenant, const char *just_taken) {
        struct json_object **ms = NULL;
        size_t n = 0;
        time_t now = time(NULL);
        char why[96];

        if ((t->keep_last == 0 && t->keep_days == 0) || target_manifests(t, vm, &ms, &n) < 0)
                return;
        /*
         * The backup just taken is the newest (a VM has one job at a time),
         * whatever the clock or older manifests without taken_at_usec say:
         * it goes last, and is never the one deleted.
         */
        for (size_t i = 0; i + 1 < n; i++)
                if (streq(mstr(ms[i], "id") ? mstr(ms[i], "id") : "", just_taken)) {
                        struct json_object *m = ms[i];
                        memmove(ms + i, ms + i + 1, (n - i - 1) * sizeof(*ms));
                        ms[n - 1] = m;
                        break;
                }
        bool *keep = calloc(n + 1, sizeof(bool));
        if (!keep) {
                manifests_free(ms, n);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                time_t created = 0;
                (void) rfc3339_parse(mstr(ms[i], "created_at") ? mstr(ms[i], "created_at") : "", &created);
                if (t->keep_last && i + t->keep_last >= n)
                        keep[i] = true;
                if (t->keep_days && created > now - (time_t) t->keep_days * 86400)
                        keep[i] = true;
        }
        /*
         * Ancestors of kept backups are kept. They are not assumed to sort
         * before their children (a clock stepped back, manifests without
         * taken_at_usec): repeated until nothing changes.
         */
        for (bool changed = true; changed;) {
                changed = false;
                for (size_t i = 0; i < n; i++) {
                        const char *parent = keep[i] ? mstr(ms[i], "parent") : NULL;
                        for (size_t k = 0; parent && k < n; k++)
                                if (!keep[k] && streq(mstr(ms[k], "id"), parent)) {
                                        keep[k] = true;
                                        changed = true;
                                }
                }
        }
        snprintf(why, sizeof(why), "retention keep_last=%u keep_days=%u", t->keep_last, t->keep_days);
        for (size_t i = n; i-- > 0;) {
                struct sovd_err err = {};
                const char *cp = mstr(ms[i], "checkpoint");
                if (keep[i])
                        continue;
                record_retention(vm, vm_name, tenant, ms[i], t, why);
                if (target_ops(t)->remove(t, vm, mstr(ms[i], "id"), &err) < 0)
                        log_warning("retention: cannot remove backup %s: %s", mstr(ms[i], "id"), err.msg);
                if (cp && virt_checkpoint_exists(c, vm, cp, NULL) >= 0 && virt_checkpoint_delete(c, vm, cp, &err) < 0)
                        log_warning("retention: cannot delete checkpoint %s: %s", cp, err.msg);
        }
        free(keep);
        manifests_free(ms, n);
}

static const char *context_string(struct json_object *params, const char *key) {
        return mstr(mget(params, "context"), key);
}

/* Waits for the domain's job to end; aborts it when the job is cancelled. */
static int wait_backup(struct job *j, struct virt_conn **c, struct sovd_err *err) {
        struct virt_job_info info = {};
        bool aborted = false, stopping = false;
        uint64_t down_since = 0;
        int r;

        for (;;) {
                if (!aborted && (job_cancel_requested(j) || jobs_stopping())) {
                        aborted = true;
                        stopping = jobs_stopping();
                        (void) virt_domain_abort_job(*c, job_vm(j), NULL);
                }
                r = virt_domain_job(*c, job_vm(j), false, &info, err);
                if (r == -SOVD_E_LIBVIRT_DOWN) {
                        /* libvirtd restarting: QEMU keeps copying; ask again on the new connection. */
                        if (!down_since)
                                down_since = now_monotonic_usec();
                        virt_conn_release(*c);
                        *c = NULL;
                        while (virt_conn_acquire(c, NULL) < 0) {
                                *c = NULL;
                                if (now_monotonic_usec() - down_since > LIBVIRT_DOWN_MAX_SEC * 1000000ull)
                                        return err_set(err, -SOVD_E_LIBVIRT_DOWN, "lost libvirt for %d s during the backup",
                                                       LIBVIRT_DOWN_MAX_SEC);
                                usleep(500000);
                        }
                        continue;
                }
                if (r < 0)
                        return r;
                down_since = 0;
                if (info.outcome != VIRT_JOB_ACTIVE)
                        break;
                usleep(POLL_USEC);
        }
        r = virt_domain_job(*c, job_vm(j), true, &info, err);
        if (r < 0)
                return r;
        switch (info.outcome) {
        case VIRT_JOB_COMPLETED:
                return 0;
        case VIRT_JOB_CANCELLED:
                return err_set(err, -ECANCELED, "the backup was aborted%s",
                               stopping ? " because the agent was stopped" : aborted ? " on request" : " in libvirt");
        case VIRT_JOB_FAILED:
                return err_set(err, -EIO, "libvirt reports the backup failed: %s",
                               info.error[0] ? info.error : "no reason given");
        default:
                return err_set(err, -EIO, "libvirt does not know how the backup ended");
        }
}

static int backup_run(struct job *j, struct sovd_err *err) {
        _cleanup_config_ struct config *config = NULL;
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        _cleanup_free_ char *dir = NULL;
        _cleanup_json_ struct json_object *result = json_object_new_object();
        const struct place_config *t = NULL;
        struct backup_params bp;
        struct virt_backup_disk *disks = NULL;
        char (*files)[PATH_MAX] = NULL;
        time_t started = time(NULL);
        uint64_t started_usec = realtime_usec();
        size_t n;
        int r;

        r = backup_params_get(job_params(j), &bp, err);
        if (r < 0)
                return r;
        r = current_target(bp.target, &config, &t, err);
        if (r >= 0)
                r = virt_conn_acquire(&c, err);
        if (r >= 0)
                r = target_ops(t)->stage(t, job_vm(j), bp.id, &dir, err);
        if (r < 0)
                return r;
        n = json_object_array_length(bp.disks);
        disks = calloc(n + 1, sizeof(*disks));
        files = calloc(n + 1, sizeof(*files));
        if (!disks || !files) {
                r = -ENOMEM;
                goto fail;
        }
        for (size_t i = 0; i < n; i++) {
                struct json_object *d = json_object_array_get_idx(bp.disks, i);
                char name[80];
                if (disk_file_name(mstr(d, "target"), name, sizeof(name)) < 0) {
                        r = err_set(err, -EBADMSG, "the job's parameters are damaged");
                        goto fail;
                }
                snprintf(files[i], sizeof(files[i]), "%s/%s", dir, name);
                disks[i] = (struct virt_backup_disk){ .target = mstr(d, "target"), .file = files[i] };
        }
        struct virt_backup_request req = { .checkpoint = bp.checkpoint, .incremental = bp.parent_checkpoint,
                                           .disks = disks, .n_disks = n };
        r = virt_backup_begin(c, job_vm(j), &req, err);
        if (r < 0)
                goto fail;
        r = wait_backup(j, &c, err);
        if (r < 0)
                goto fail;
        r = backup_finish(t, job_vm(j), &bp, started, started_usec, err);
        if (r < 0)
                goto fail;
        free(disks);
        free(files);
        apply_retention(c, t, job_vm(j), context_string(job_params(j), "vm_name"),
                        context_string(job_params(j), "tenant"), bp.id);
        /* Shown once the job has ended: retention is part of it. */
        if (result && json_add_string(result, "backup", bp.id) >= 0 && json_add_string(result, "target", t->name) >= 0)
                (void) job_set_result(j, result);
        return 0;
fail:
        free(disks);
        free(files);
        backup_discard(c, t, job_vm(j), &bp);
        return r;
}

static int backup_cancel(struct job *j, struct sovd_err *err) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        int r = virt_conn_acquire(&c, err);

        /* The worker sees the request too and records the outcome; this only makes it quick. */
        if (r >= 0)
                r = virt_domain_abort_job(c, job_vm(j), err);
        return r == -SOVD_E_BAD_STATE ? 0 : r;
}

/*
 * After a restart: a backup libvirt still runs is aborted (nobody would
 * finish it); one libvirt completed is finished now (checksums, manifest);
 * anything else failed, and its partial files and checkpoint go.
 */
static enum job_state backup_recover(struct job *j, char *reason, size_t size) {
        _cleanup_config_ struct config *config = NULL;
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        const struct place_config *t = NULL;
        struct virt_job_info info = {};
        struct backup_params bp;
        struct sovd_err err = {};
        struct json_object *existing = NULL;
        time_t started = time(NULL);
        uint64_t started_usec = realtime_usec();

        if (backup_params_get(job_params(j), &bp, &err) < 0) {
                snprintf(reason, size, "interrupted by an agent restart; its parameters are damaged");
                return JOB_FAILED;
        }
        if (current_target(bp.target, &config, &t, &err) < 0) {
                snprintf(reason, size, "interrupted by an agent restart; %s", err.msg);
                return JOB_FAILED;
        }
        if (target_ops(t)->read_manifest(t, job_vm(j), bp.id, &existing) >= 0) {
                json_object_put(existing);
                return JOB_SUCCEEDED; /* published just before the agent stopped */
        }
        if (virt_conn_acquire(&c, &err) < 0) {
                backup_discard(NULL, t, job_vm(j), &bp);
                snprintf(reason, size,
                         "interrupted by an agent restart while libvirt was unreachable (%s): its outcome cannot be "
                         "confirmed, so its files were removed",
                         err.msg);
                return JOB_FAILED;
        }
        /*
         * A backup libvirt is still setting up answers "backup job data
         * missing" for a moment: ask again rather than take it for "none".
         */
        int r;
        for (int tries = 0; (r = virt_domain_job(c, job_vm(j), false, &info, &err)) < 0 && tries < 25; tries++)
                usleep(200000);
        if (r >= 0 && info.outcome == VIRT_JOB_ACTIVE && info.operation == VIRT_JOB_OP_BACKUP) {
                (void) virt_domain_abort_job(c, job_vm(j), NULL);
                for (int i = 0; i < 200; i++) {
                        if (virt_domain_job(c, job_vm(j), false, &info, NULL) < 0 || info.outcome != VIRT_JOB_ACTIVE)
                                break;
                        usleep(POLL_USEC);
                }
                backup_discard(c, t, job_vm(j), &bp);
                snprintf(reason, size,
                         "interrupted by an agent restart: the backup still running in libvirt was aborted and its "
                         "partial files removed");
                return JOB_FAILED;
        }
        if (virt_domain_job(c, job_vm(j), true, &info, &err) >= 0 && info.outcome == VIRT_JOB_COMPLETED &&
            info.operation == VIRT_JOB_OP_BACKUP) {
                if (backup_finish(t, job_vm(j), &bp, started, started_usec, &err) >= 0) {
                        _cleanup_json_ struct json_object *result = json_object_new_object();
                        if (result && json_add_string(result, "backup", bp.id) >= 0 &&
                            json_add_string(result, "target", t->name) >= 0)
                                (void) job_set_result(j, result);
                        return JOB_SUCCEEDED;
                }
                backup_discard(c, t, job_vm(j), &bp);
                snprintf(reason, size, "libvirt completed the backup during an agent restart, but finishing it failed: %s",
                         err.msg);
                return JOB_FAILED;
        }
        backup_discard(c, t, job_vm(j), &bp);
        snprintf(reason, size,
                 "interrupted by an agent restart; libvirt reports no completed backup of this VM, so its partial "
                 "files were removed%s%s",
                 info.error[0] ? ": " : "", info.error);
        return JOB_FAILED;
}

const struct job_kind backup_job_kind = {
        .name = "backup",
        .run = backup_run,
        .cancel = backup_cancel,
        .recover = backup_recover,
        .progress = vm_service_job_progress,
};

/* ---- restore ---- */

#define QCOW2_MAGIC 0x514649fbu
#define QCOW2_INCOMPAT_DATA_FILE (UINT64_C(1) << 2)

static uint64_t be_get(const unsigned char *p, size_t n) {
        uint64_t v = 0;

        for (size_t i = 0; i < n; i++)
                v = v << 8 | p[i];
        return v;
}

/*
 * qemu-img follows what a qcow2 header names: a file planted in a target
 * naming a host file (another VM's disk) as its backing file or external
 * data file would have that file copied into the restored disk. Each file
 * of @file's chain must be a qcow2 of the backup's own (open_file()), with
 * no external data file, and a backing file exactly its parent's
 * ("../<parent>/<file>", as backup_finish() links them), none at the root.
 */
static int check_restore_chain(const struct place_config *t, const char *vm, struct json_object **chain, size_t n,
                               const char *file, struct sovd_err *err) {
        for (size_t i = 0; i < n; i++) {
                const char *id = mstr(chain[i], "id"), *parent = i + 1 < n ? mstr(chain[i + 1], "id") : NULL;
                _cleanup_close_ int fd = target_ops(t)->open_file(t, vm, id, file);
                _cleanup_free_ char *want = NULL;
                unsigned char h[104];
                char backing[1024];
                ssize_t k = fd < 0 ? -1 : pread(fd, h, sizeof(h), 0);
                uint64_t version = k >= 8 ? be_get(h + 4, 4) : 0, off, len;

                if (k < 72 || be_get(h, 4) != QCOW2_MAGIC || (version != 2 && version != 3))
                        return err_set(err, -SOVD_E_BAD_STATE,
                                       "backup %s: %.80s is missing, not a regular file of the backup or not qcow2", id,
                                       file);
                if (version == 3 && (k < 104 || (be_get(h + 72, 8) & QCOW2_INCOMPAT_DATA_FILE)))
                        return err_set(err, -SOVD_E_BAD_STATE, "backup %s: %.80s has an external data file", id, file);
                off = be_get(h + 8, 8);
                len = be_get(h + 16, 4);
                if (parent && asprintf(&want, "../%s/%s", parent, file) < 0)
                        return -ENOMEM;
                if (!parent ? off != 0
                            : len != strlen(want) || len >= sizeof(backing) ||
                                      pread(fd, backing, len, (off_t) off) != (ssize_t) len ||
                                      memcmp(backing, want, len) != 0)
                        return err_set(err, -SOVD_E_BAD_STATE,
                                       "backup %s: %.80s has a backing file other than its parent backup's", id, file);
        }
        return 0;
}

/* The files of @disks (manifest entries, "file") of backup @id as check_restore_chain() wants them. */
static int check_restore_sources(const char *id, struct json_object *disks, struct sovd_err *err) {
        struct found_backup f = {};
        struct json_object **chain = NULL;
        size_t n = 0;
        int r;

        r = find_backup(id, &f, err);
        if (r < 0)
                return r;
        r = load_chain(f.target, f.vm, f.manifest, &chain, &n, err);
        if (r == -ENOENT)
                r = err_set(err, -SOVD_E_BAD_STATE, "%s", err->msg);
        for (size_t i = 0; r >= 0 && i < json_object_array_length(disks); i++) {
                const char *file = mstr(json_object_array_get_idx(disks, i), "file");
                r = file ? check_restore_chain(f.target, f.vm, chain, n, file, err)
                         : err_set(err, -EBADMSG, "the job's parameters are damaged");
        }
        manifests_free(chain, n);
        found_backup_done(&f);
        return r;
}

/* Labels come from the target too: held to the rules of a VM spec's before they reach domain XML. */
static bool restore_labels_are_valid(struct json_object *labels) {
        if (!labels)
                return true;
        if (!json_object_is_type(labels, json_type_object) || json_object_object_length(labels) > LABELS_MAX)
                return false;
        json_object_object_foreach(labels, key, val) {
                if (!label_key_is_valid(key) || !json_object_is_type(val, json_type_string) ||
                    !label_value_is_valid(json_object_get_string(val)))
                        return false;
        }
        return true;
}

int restore_prepare(const char *id, const struct restore_request *req, struct decision **ret_decision,
                    struct json_object **ret_params, char ret_vm[static ID_TEXT_LEN], char **ret_tenant,
                    struct sovd_err *err) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        _cleanup_json_ struct json_object *p = json_object_new_object();
        struct json_object *disks = json_object_new_array();
        struct json_object **chain = NULL, *mdisks, *binding;
        struct admission_disk places[ADMISSION_MAX_DISKS];
        struct found_backup f = {};
        struct vm_view v = {};
        size_t n_chain = 0, n_places = 0;
        const char *policy;
        int r;

        *ret_decision = NULL;
        if (!p || !disks || json_add(p, "disks", disks) < 0)
                return -ENOMEM;
        r = find_backup(id, &f, err);
        if (r < 0)
                return r;
        r = load_chain(f.target, f.vm, f.manifest, &chain, &n_chain, err);
        if (r < 0) {
                found_backup_done(&f);
                return r == -ENOENT ? err_set(err, -SOVD_E_BAD_STATE, "%s", err->msg) : r;
        }
        manifests_free(chain, n_chain);
        binding = mget(f.manifest, "binding");
        policy = mstr(binding, "policy");
        mdisks = mget(f.manifest, "disks");
        if (!policy || !mstr(binding, "tenant") || !mstr(f.manifest, "domain_xml")) {
                found_backup_done(&f);
                return err_set(err, -SOVD_E_BAD_STATE, "backup %s: its manifest lacks the binding or domain XML", id);
        }
        /* What becomes the restored VM's binding must be what a VM spec could give it. */
        if (!name_is_valid(policy) || !name_is_valid(mstr(binding, "tenant")) ||
            !restore_labels_are_valid(mget(f.manifest, "labels"))) {
                found_backup_done(&f);
                return err_set(err, -SOVD_E_BAD_STATE, "backup %s: its manifest has a malformed binding or labels", id);
        }
        /*
         * Restoring only the first disks would silently drop the others from
         * the restored VM; none at all is no backup sovd takes (a VM without
         * a disk is refused).
         */
        if (json_object_array_length(mdisks) == 0 || json_object_array_length(mdisks) > ADMISSION_MAX_DISKS) {
                /* The message first: @mdisks belongs to the manifest freed below. */
                r = err_set(err, -SOVD_E_BAD_STATE, "backup %s has %zu disks: sovd restores 1 to %d", id,
                            json_object_array_length(mdisks), ADMISSION_MAX_DISKS);
                found_backup_done(&f);
                return r;
        }
        r = virt_conn_acquire(&c, err);
        if (r < 0)
                goto out;
        if (req->in_place) {
                r = vm_service_get(f.vm, &v, err);
                if (r == -ENOENT)
                        r = err_set(err, -SOVD_E_BAD_STATE,
                                    "VM %s of backup %s no longer exists: restore it into a new VM (name)", f.vm, id);
                if (r < 0)
                        goto out;
                if (v.domain.active) {
                        r = err_set(err, -SOVD_E_BAD_STATE, "VM '%s' is %s: shut it off before an in-place restore",
                                    v.domain.name, vm_state_to_string(v.domain.state));
                        goto out;
                }
                r = jobs_active_for_vm(f.vm, err);
                if (r < 0)
                        goto out;
                memcpy(ret_vm, f.vm, ID_TEXT_LEN);
        } else {
                r = virt_domain_name_free(c, req->name, err);
                if (r < 0)
                        goto out;
                id_new(ret_vm);
        }
        for (size_t i = 0; i < json_object_array_length(mdisks); i++) {
                struct json_object *d = json_object_array_get_idx(mdisks, i), *e = json_object_new_object();
                const char *target = mstr(d, "target"), *file = mstr(d, "file");
                _cleanup_free_ char *source = NULL, *dest = NULL, *dir = NULL, *volume = NULL;
                const char *pool = NULL;

                if (!e || json_object_array_add(disks, e) < 0) {
                        r = -ENOMEM;
                        goto out;
                }
                if (!target || !name_is_valid(target) || !file || strchr(file, '/') || file[0] == '.') {
                        r = err_set(err, -SOVD_E_BAD_STATE, "backup %s: its manifest names a disk badly", id);
                        goto out;
                }
                /* Two disks with one target would be restored into one file. */
                for (size_t k = 0; k < i; k++)
                        if (streq_ptr(mstr(json_object_array_get_idx(mdisks, k), "target"), target)) {
                                r = err_set(err, -SOVD_E_BAD_STATE, "backup %s: its manifest names disk %s twice", id,
                                            target);
                                goto out;
                        }
                r = target_ops(f.target)->local_path(f.target, f.vm, id, file, &source);
                if (r < 0)
                        goto out;
                if (req->in_place) {
                        for (size_t k = 0; k < v.domain.n_disks; k++)
                                if (v.domain.disks[k].target && streq(v.domain.disks[k].target, target) &&
                                    v.domain.disks[k].path) {
                                        dest = strdup(v.domain.disks[k].path);
                                        pool = v.disk_refs ? v.disk_refs[k].pool : NULL;
                                }
                        if (!dest) {
                                r = err_set(err, -SOVD_E_BAD_STATE,
                                            "VM '%s' has no disk %s with a file any more: restore into a new VM",
                                            v.domain.name, target);
                                goto out;
                        }
                } else {
                        struct stat st;
                        pool = req->pool ? req->pool : mstr(d, "pool");
                        if (!pool) {
                                r = err_set(err, -EINVAL,
                                            "disk %s was in no storage pool when it was backed up: name a pool", target);
                                goto out;
                        }
                        r = virt_pool_path(c, pool, &dir, err);
                        if (r < 0)
                                goto out;
                        if (asprintf(&volume, "%s-%s.qcow2", req->name, target) < 0 ||
                            asprintf(&dest, "%s/%s", dir, volume) < 0) {
                                r = -ENOMEM;
                                goto out;
                        }
                        if (lstat(dest, &st) == 0) {
                                r = err_set(err, -EEXIST, "%s already exists in pool '%s': sovd never overwrites it",
                                            volume, pool);
                                goto out;
                        }
                }
                if (json_add_string(e, "target", target) < 0 || json_add_string(e, "file", file) < 0 ||
                    json_add_string(e, "source", source) < 0 || json_add_string(e, "dest", dest) < 0 ||
                    json_add_string(e, "pool", pool) < 0 || json_add_string(e, "volume", volume) < 0) {
                        r = -ENOMEM;
                        goto out;
                }
                /* The copies in @e, not @dest: that is freed at the end of this iteration, before the decision. */
                places[n_places++] = (struct admission_disk){ .pool = mstr(e, "pool"), .path = mstr(e, "dest") };
        }
        r = check_restore_sources(id, mdisks, err);
        if (r < 0)
                goto out;
        /* The restored VM runs here, on these pools: judged under the policy the backup was taken under. */
        r = admission_decide_vm("restore", policy, places, n_places, time(NULL), ret_decision);
        if (r < 0)
                goto out;
        struct json_object *labels = NULL, *bcopy = NULL;
        if (json_object_deep_copy(binding, &bcopy, NULL) < 0 ||
            (mget(f.manifest, "labels") && json_object_deep_copy(mget(f.manifest, "labels"), &labels, NULL) < 0) ||
            json_add(p, "binding", bcopy) < 0 || json_add(p, "labels", labels) < 0 || json_add_string(p, "backup", id) < 0 ||
            json_add_bool(p, "in_place", req->in_place) < 0 || json_add_string(p, "name", req->name) < 0 ||
            json_add_string(p, "uuid", ret_vm) < 0 || json_add_string(p, "domain_xml", mstr(f.manifest, "domain_xml")) < 0 ||
            json_add_string(p, "policy_digest", (*ret_decision)->policy ? (*ret_decision)->policy->digest : NULL) < 0 ||
            !(*ret_tenant = strdup(mstr(binding, "tenant")))) {
                r = -ENOMEM;
                goto out;
        }
        *ret_params = TAKE_PTR(p);
        r = 0;
out:
        vm_view_done(&v);
        found_backup_done(&f);
        return r;
}

static void remove_quietly(const char *path) {
        if (path && unlink(path) < 0 && errno != ENOENT)
                log_warning("cannot remove %s: %m", path);
}

static void restore_cleanup(struct json_object *disks, bool in_place) {
        for (size_t i = 0; i < json_object_array_length(disks); i++) {
                struct json_object *d = json_object_array_get_idx(disks, i);
                _cleanup_free_ char *part = NULL;
                if (asprintf(&part, "%s.part", mstr(d, "dest")) >= 0)
                        remove_quietly(part);
                /* A new VM's files were created by this job alone; an in-place VM's are its own. */
                if (!in_place)
                        remove_quietly(mstr(d, "dest"));
        }
}

static int restore_define(struct virt_conn *c, struct job *j, struct json_object *p, struct sovd_err *err) {
        struct json_object *disks = mget(p, "disks"), *bj = mget(p, "binding"), *labels = mget(p, "labels");
        size_t n = json_object_array_length(disks), n_labels = labels ? (size_t) json_object_object_length(labels) : 0;
        _cleanup_free_ struct restored_disk *rd = calloc(n + 1, sizeof(*rd));
        _cleanup_free_ struct binding_volume *vols = calloc(n + 1, sizeof(*vols));
        _cleanup_free_ struct label *lab = calloc(n_labels + 1, sizeof(*lab));
        _cleanup_free_ char *xml = NULL;
        char created[RFC3339_MAX], uuid[ID_TEXT_LEN];
        size_t k = 0;
        int r;

        if (!rd || !vols || !lab)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *d = json_object_array_get_idx(disks, i);
                rd[i] = (struct restored_disk){ .target = mstr(d, "target"), .path = mstr(d, "dest") };
                vols[i] = (struct binding_volume){ .pool = (char *) mstr(d, "pool"), .volume = (char *) mstr(d, "volume") };
        }
        if (labels) {
                json_object_object_foreach(labels, key, val) {
                        lab[k++] = (struct label){ .key = key, .value = (char *) json_object_get_string(val) };
                }
        }
        struct binding b = {
                .tenant = (char *) mstr(bj, "tenant"),
                .policy = (char *) mstr(bj, "policy"),
                .policy_digest = (char *) mstr(p, "policy_digest"),
                .request_id = (char *) mstr(mget(p, "context"), "request_id"),
                .created_at = rfc3339_format(time(NULL), created),
                .labels = lab,
                .n_labels = k,
                .volumes = vols,
                .n_volumes = n,
        };
        r = domain_xml_for_restore(mstr(p, "domain_xml"), mstr(p, "name"), job_vm(j), rd, n, &b, &xml, err);
        if (r < 0)
                return r;
        drift_expect(mstr(p, "name"), "defined");
        r = virt_domain_define(c, xml, uuid, err);
        /* Listed as soon as the job says it succeeded, not when the event comes. */
        if (r >= 0)
                vm_index_refresh(uuid);
        return r;
}

/*
 * After an in-place restore the disks hold other data than any checkpoint
 * describes: every checkpoint sovd made for the VM is forgotten, so the next
 * backup must be a full one (an incremental is refused, not silently wrong).
 */
static void forget_checkpoints(struct virt_conn *c, const char *vm) {
        _cleanup_config_ struct config *cfg = admission_config();

        for (size_t i = 0; cfg && i < cfg->n_backup_targets; i++) {
                struct json_object **ms = NULL;
                size_t n = 0;
                if (target_manifests(&cfg->backup_targets[i], vm, &ms, &n) < 0)
                        continue;
                for (size_t k = 0; k < n; k++) {
                        const char *cp = mstr(ms[k], "checkpoint");
                        struct sovd_err err;
                        if (cp && virt_checkpoint_exists(c, vm, cp, NULL) >= 0 &&
                            virt_checkpoint_forget(c, vm, cp, &err) < 0)
                                log_warning("cannot forget checkpoint %s after an in-place restore: %s", cp, err.msg);
                }
                manifests_free(ms, n);
        }
}

static int restore_run(struct job *j, struct sovd_err *err) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        _cleanup_json_ struct json_object *result = json_object_new_object();
        struct json_object *p = job_params(j), *disks = mget(p, "disks"), *rdisks = json_object_new_array();
        bool in_place = false;
        int r;

        if (!p || !disks || json_get_bool(p, "in_place", "", true, &in_place, err) < 0 || !result || !rdisks ||
            json_add(result, "disks", rdisks) < 0)
                return err_set(err, -EBADMSG, "the job's parameters are damaged");
        r = virt_conn_acquire(&c, err);
        if (r < 0)
                return r;
        if (in_place) {
                struct virt_domain d = {};
                r = virt_domain_get_summary(c, job_vm(j), &d, err);
                bool active = d.active;
                virt_domain_done(&d);
                if (r < 0)
                        return r;
                if (active)
                        return err_set(err, -SOVD_E_BAD_STATE, "the VM was started before its restore began: nothing was changed");
        }
        /* Again just before qemu-img reads them: the target may have changed since the request. */
        r = check_restore_sources(mstr(p, "backup") ? mstr(p, "backup") : "", disks, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < json_object_array_length(disks); i++) {
                struct json_object *d = json_object_array_get_idx(disks, i), *e = json_object_new_object();
                _cleanup_free_ char *part = NULL;
                const char *dest = mstr(d, "dest"), *source = mstr(d, "source");

                if (!dest || !source || !e || json_object_array_add(rdisks, e) < 0 ||
                    asprintf(&part, "%s.part", dest) < 0) {
                        r = -ENOMEM;
                        break;
                }
                remove_quietly(part);
                /* qemu-img reads through the backing chain: an incremental comes out whole. */
                char *argv[] = { "qemu-img", "convert", "-q", "-f", "qcow2", "-O", "qcow2", (char *) source, part, NULL };
                r = process_run(argv, cancel_requested, j, err);
                if (r < 0)
                        break;
                if (in_place)
                        r = rename(part, dest) < 0 ? -errno : 0;
                else if (link(part, dest) < 0) /* never replaces a file that appeared meanwhile */
                        r = -errno;
                else
                        r = unlink(part) < 0 ? -errno : 0;
                if (r < 0) {
                        err_set(err, r, "cannot put the restored disk in place at %s: %s", dest, strerror(-r));
                        break;
                }
                if (json_add_string(e, "target", mstr(d, "target")) < 0 || json_add_string(e, "path", dest) < 0 ||
                    json_add_string(e, "pool", mstr(d, "pool")) < 0) {
                        r = -ENOMEM;
                        break;
                }
        }
        if (r >= 0) {
                for (size_t i = 0; i < json_object_array_length(disks); i++) {
                        const char *pool = mstr(json_object_array_get_idx(disks, i), "pool");
                        if (pool)
                                (void) virt_pool_refresh(c, pool, NULL);
                }
                if (!in_place)
                        r = restore_define(c, j, p, err);
                else
                        forget_checkpoints(c, job_vm(j));
        }
        if (r < 0) {
                restore_cleanup(disks, in_place);
                if (jobs_stopping())
                        err_prefix(err, r, "interrupted because the agent was stopped");
                if (in_place)
                        err_prefix(err, r, "the in-place restore stopped part-way: the VM's disks may be a mix of "
                                           "restored and earlier contents; run the restore again");
                return r;
        }
        if (json_add_string(result, "vm", job_vm(j)) < 0 ||
            json_add_string(result, "name", in_place ? NULL : mstr(p, "name")) < 0 ||
            json_add_string(result, "backup", mstr(p, "backup")) < 0)
                return -ENOMEM;
        (void) job_set_result(j, result);
        return 0;
}

static int restore_cancel(struct job *j, struct sovd_err *err) {
        (void) j;
        (void) err;
        return 0; /* the worker's qemu-img watches the request and stops */
}

static enum job_state restore_recover(struct job *j, char *reason, size_t size) {
        _cleanup_virt_conn_ struct virt_conn *c = NULL;
        struct json_object *p = job_params(j), *disks = mget(p, "disks");
        struct virt_domain d = {};
        struct sovd_err err = {};
        bool in_place = false;

        if (!p || !disks || json_get_bool(p, "in_place", "", true, &in_place, NULL) < 0) {
                snprintf(reason, size, "interrupted by an agent restart; its parameters are damaged");
                return JOB_FAILED;
        }
        if (!in_place && virt_conn_acquire(&c, &err) < 0) {
                /* Cannot tell whether the VM was defined: its files stay, only unfinished copies go. */
                restore_cleanup(disks, true);
                snprintf(reason, size, "interrupted by an agent restart while libvirt was unreachable (%s): check "
                         "whether VM '%s' exists", err.msg, mstr(p, "name") ? mstr(p, "name") : "?");
                return JOB_FAILED;
        }
        if (!in_place && virt_domain_get_summary(c, job_vm(j), &d, &err) >= 0) {
                virt_domain_done(&d);
                return JOB_SUCCEEDED; /* the domain is defined last: it exists, so every disk was in place */
        }
        restore_cleanup(disks, in_place);
        snprintf(reason, size, "%s",
                 in_place ? "interrupted by an agent restart: the VM's disks may be a mix of restored and earlier "
                            "contents; run the restore again"
                          : "interrupted by an agent restart before the VM was defined; its partial files were removed");
        return JOB_FAILED;
}

const struct job_kind restore_job_kind = {
        .name = "restore",
        .run = restore_run,
        .cancel = restore_cancel,
        .recover = restore_recover,
        .progress = NULL,
        .keeps_vm_off = true,
};
