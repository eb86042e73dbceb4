/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "sovd/json-util.h"
#include "sovd/names.h"
#include "sovd/vm-spec.h"

void labels_free(struct label *l, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(l[i].key);
                free(l[i].value);
        }
        free(l);
}

void vm_spec_done(struct vm_spec *spec) {
        free(spec->name);
        free(spec->tenant);
        free(spec->policy);
        for (size_t i = 0; i < spec->n_disks; i++) {
                free(spec->disks[i].pool);
                free(spec->disks[i].image);
        }
        for (size_t i = 0; i < spec->n_networks; i++)
                free(spec->networks[i].network);
        labels_free(spec->labels, spec->n_labels);
        *spec = (struct vm_spec){};
}

/* Gets a required or optional name-like member and copies it. */
static int get_name(struct json_object *obj, const char *key, const char *where, bool required, char **ret,
                    struct sovd_err *err) {
        const char *s = NULL;
        int r;

        r = json_get_string(obj, key, where, required, &s, err);
        if (r < 0 || !s)
                return r;
        if (!name_is_valid(s))
                return err_set(err, -EINVAL,
                               "%s%s%s: must be 1-%d characters of A-Z a-z 0-9 . _ - starting with a letter or "
                               "digit",
                               where, *where ? "." : "", key, NAME_MAX_LEN);
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int parse_disk(struct json_object *o, size_t index, struct vm_spec_disk *d, struct sovd_err *err) {
        static const char *const keys[] = { "pool", "size_gib", "image", NULL };
        char where[32];
        int64_t size = 0;
        int r;

        snprintf(where, sizeof(where), "disks[%zu]", index);
        if ((r = json_check_members(o, keys, where, err)) < 0)
                return r;
        if ((r = get_name(o, "pool", where, true, &d->pool, err)) < 0)
                return r;
        if ((r = get_name(o, "image", where, false, &d->image, err)) < 0)
                return r;
        if ((r = json_get_int(o, "size_gib", where, false, 1, VM_SPEC_MAX_DISK_GIB, &size, err)) < 0)
                return r;
        d->size_gib = (uint64_t) size;
        if (!d->image && d->size_gib == 0)
                return err_set(err, -EINVAL, "%s: needs size_gib, image or both", where);
        return 0;
}

static int parse_labels(struct json_object *labels, struct vm_spec *spec, struct sovd_err *err) {
        size_t n = (size_t) json_object_object_length(labels);

        if (n > LABELS_MAX)
                return err_set(err, -EINVAL, "labels: at most %d labels, got %zu", LABELS_MAX, n);
        spec->labels = calloc(n ? n : 1, sizeof(*spec->labels));
        if (!spec->labels)
                return -ENOMEM;
        json_object_object_foreach(labels, key, val) {
                struct label *l = &spec->labels[spec->n_labels];

                if (!label_key_is_valid(key))
                        return err_set(err, -EINVAL,
                                       "labels: key '%.64s' must be 1-%d characters of a-z 0-9 . _ / - starting "
                                       "with a letter or digit",
                                       key, LABEL_KEY_MAX_LEN);
                if (!json_object_is_type(val, json_type_string) ||
                    !label_value_is_valid(json_object_get_string(val)))
                        return err_set(err, -EINVAL,
                                       "labels.%s: must be a string of at most %d bytes of printable UTF-8", key,
                                       LABEL_VALUE_MAX_LEN);
                l->key = strdup(key);
                l->value = strdup(json_object_get_string(val));
                spec->n_labels++;
                if (!l->key || !l->value)
                        return -ENOMEM;
        }
        return 0;
}

static int parse(struct json_object *doc, struct vm_spec *spec, struct sovd_err *err) {
        static const char *const keys[] = {
                "name", "tenant", "policy", "vcpus", "memory_mib", "disks", "networks", "labels", NULL,
        };
        static const char *const net_keys[] = { "network", NULL };
        struct json_object *disks = NULL, *networks = NULL, *labels = NULL;
        int64_t v;
        int r;

        if ((r = json_check_members(doc, keys, "", err)) < 0)
                return r;
        if ((r = get_name(doc, "name", "", true, &spec->name, err)) < 0 ||
            (r = get_name(doc, "tenant", "", true, &spec->tenant, err)) < 0 ||
            (r = get_name(doc, "policy", "", true, &spec->policy, err)) < 0)
                return r;
        if ((r = json_get_int(doc, "vcpus", "", true, 1, VM_SPEC_MAX_VCPUS, &v, err)) < 0)
                return r;
        spec->vcpus = (unsigned) v;
        if ((r = json_get_int(doc, "memory_mib", "", true, VM_SPEC_MIN_MEMORY_MIB, VM_SPEC_MAX_MEMORY_MIB, &v,
                              err)) < 0)
                return r;
        spec->memory_mib = (uint64_t) v;

        if ((r = json_get_array(doc, "disks", "", false, &disks, err)) < 0)
                return r;
        if (disks) {
                size_t n = json_object_array_length(disks);
                if (n > VM_SPEC_MAX_DISKS)
                        return err_set(err, -EINVAL, "disks: at most %d disks, got %zu", VM_SPEC_MAX_DISKS, n);
                for (size_t i = 0; i < n; i++) {
                        spec->n_disks++;
                        if ((r = parse_disk(json_object_array_get_idx(disks, i), i, &spec->disks[i], err)) < 0)
                                return r;
                }
        }
        if ((r = json_get_array(doc, "networks", "", false, &networks, err)) < 0)
                return r;
        if (networks) {
                size_t n = json_object_array_length(networks);
                if (n > VM_SPEC_MAX_NETWORKS)
                        return err_set(err, -EINVAL, "networks: at most %d networks, got %zu", VM_SPEC_MAX_NETWORKS,
                                       n);
                for (size_t i = 0; i < n; i++) {
                        struct json_object *o = json_object_array_get_idx(networks, i);
                        char where[32];

                        snprintf(where, sizeof(where), "networks[%zu]", i);
                        spec->n_networks++;
                        if ((r = json_check_members(o, net_keys, where, err)) < 0 ||
                            (r = get_name(o, "network", where, true, &spec->networks[i].network, err)) < 0)
                                return r;
                }
        }
        if ((r = json_get_object(doc, "labels", "", false, &labels, err)) < 0)
                return r;
        if (labels && (r = parse_labels(labels, spec, err)) < 0)
                return r;
        return 0;
}

int vm_spec_parse(struct json_object *doc, struct vm_spec *ret, struct sovd_err *err) {
        struct vm_spec spec = {};
        int r;

        r = parse(doc, &spec, err);
        if (r < 0) {
                vm_spec_done(&spec);
                return r;
        }
        *ret = spec;
        return 0;
}

int vm_spec_volume_name(const struct vm_spec *spec, size_t index, char **ret) {
        return asprintf(ret, "%s-disk%zu.qcow2", spec->name, index) < 0 ? -ENOMEM : 0;
}
