/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <stdio.h>

#include "sovd/fileio.h"
#include "sovd/json-util.h"
#include "sovd/policy-store.h"

struct policy_set *policy_set_ref(struct policy_set *s) {
        if (s)
                __atomic_add_fetch(&s->n_ref, 1, __ATOMIC_RELAXED);
        return s;
}

struct policy_set *policy_set_unref(struct policy_set *s) {
        if (!s || __atomic_sub_fetch(&s->n_ref, 1, __ATOMIC_ACQ_REL) > 0)
                return NULL;
        for (size_t i = 0; i < s->n_policies; i++)
                policy_free(s->policies[i]);
        free(s->policies);
        for (size_t i = 0; i < s->n_groups; i++)
                value_group_free(s->groups[i]);
        free(s->groups);
        free(s->dir);
        free(s);
        return NULL;
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* The *.json files of @dir (not *.schema.json), sorted; an absent directory has none. */
static int list_json_files(const char *dir, char ***ret, size_t *ret_n, bool missing_ok) {
        DIR *d = opendir(dir);
        struct dirent *de;
        char **names = NULL;
        size_t n = 0;

        if (!d) {
                if (errno == ENOENT && missing_ok) {
                        *ret = calloc(1, sizeof(char *));
                        *ret_n = 0;
                        return *ret ? 0 : -ENOMEM;
                }
                return -errno;
        }
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name);
                char **p;
                if (de->d_name[0] == '.' || len < 6 || !streq(de->d_name + len - 5, ".json") ||
                    (len > 12 && streq(de->d_name + len - 12, ".schema.json")))
                        continue;
                if (n >= POLICY_SET_MAX) {
                        closedir(d);
                        strv_free(names);
                        return -E2BIG;
                }
                p = realloc(names, (n + 2) * sizeof(char *));
                if (!p) {
                        closedir(d);
                        strv_free(names);
                        return -ENOMEM;
                }
                names = p;
                if (!(names[n] = strdup(de->d_name))) {
                        closedir(d);
                        strv_free(names);
                        return -ENOMEM;
                }
                names[++n] = NULL;
        }
        closedir(d);
        if (!names && !(names = calloc(1, sizeof(char *))))
                return -ENOMEM;
        qsort(names, n, sizeof(char *), cmp_names);
        *ret = names;
        *ret_n = n;
        return 0;
}

/* Reads @dir/@file as JSON; the base name (without .json) goes to @ret_base. */
static int read_json(const char *dir, const char *file, struct json_object **ret, char **ret_path, char **ret_base,
                     struct sovd_err *err) {
        _cleanup_free_ char *buf = NULL, *path = NULL;
        size_t len;
        int r;

        if (asprintf(&path, "%s/%s", dir, file) < 0)
                return -ENOMEM;
        r = file_read_all(path, POLICY_FILE_MAX, &buf, &len);
        if (r < 0)
                return err_set(err, r, "%s: cannot read: %s", path, r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
        r = json_parse_strict(buf, len, ret, err);
        if (r < 0)
                return err_prefix(err, r, "%s", path);
        *ret_base = strndup(file, strlen(file) - 5);
        *ret_path = TAKE_PTR(path);
        if (!*ret_base) {
                json_object_put(*ret);
                free(*ret_path);
                return -ENOMEM;
        }
        return 0;
}

static int cmp_policies(const void *a, const void *b) {
        return strcmp((*(struct policy *const *) a)->name, (*(struct policy *const *) b)->name);
}

static int load(const char *dir, struct policy_set *s, struct sovd_err *err) {
        _cleanup_strv_free_ char **files = NULL, **gfiles = NULL;
        _cleanup_free_ char *gdir = NULL;
        size_t n, gn;
        int r;

        if (asprintf(&gdir, "%s/groups", dir) < 0)
                return -ENOMEM;
        r = list_json_files(gdir, &gfiles, &gn, true);
        if (r < 0)
                return err_set(err, r, "%s: cannot list: %s", gdir, strerror(-r));
        r = list_json_files(dir, &files, &n, false);
        if (r < 0)
                return err_set(err, r, "%s: cannot list policies: %s", dir, strerror(-r));

        s->groups = calloc(gn + 1, sizeof(*s->groups));
        s->policies = calloc(n + 1, sizeof(*s->policies));
        if (!s->groups || !s->policies)
                return -ENOMEM;
        for (size_t i = 0; i < gn; i++) {
                _cleanup_json_ struct json_object *doc = NULL;
                _cleanup_free_ char *path = NULL, *base = NULL;

                if ((r = read_json(gdir, gfiles[i], &doc, &path, &base, err)) < 0)
                        return r;
                r = value_group_parse(doc, base, &s->groups[s->n_groups], err);
                if (r < 0)
                        return err_prefix(err, r, "%s", path);
                s->n_groups++;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_json_ struct json_object *doc = NULL;
                _cleanup_free_ char *path = NULL, *base = NULL;

                if ((r = read_json(dir, files[i], &doc, &path, &base, err)) < 0)
                        return r;
                r = policy_parse(doc, base, s->groups, s->n_groups, &s->policies[s->n_policies], err);
                if (r < 0)
                        return err_prefix(err, r, "%s", path);
                s->n_policies++;
        }
        /* File order is not name order ("eu-gdpr.json" < "eu.json"); lookups bisect by name. */
        qsort(s->policies, s->n_policies, sizeof(*s->policies), cmp_policies);
        return 0;
}

int policy_set_load(const char *dir, struct policy_set **ret, struct sovd_err *err) {
        struct policy_set *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        s->n_ref = 1;
        s->loaded_at = time(NULL);
        s->dir = strdup(dir);
        r = s->dir ? load(dir, s, err) : -ENOMEM;
        if (r < 0) {
                policy_set_unref(s);
                return r;
        }
        *ret = s;
        return 0;
}

const struct policy *policy_set_find(const struct policy_set *s, const char *name) {
        size_t lo = 0, hi = s ? s->n_policies : 0;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(s->policies[mid]->name, name);
                if (c == 0)
                        return s->policies[mid];
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}
