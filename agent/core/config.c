/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <grp.h>
#include <stdio.h>
#include <sys/un.h>

#include "sovd/config.h"
#include "sovd/fileio.h"
#include "sovd/json-util.h"
#include "sovd/log.h"
#include "sovd/names.h"

static const char *const role_table[_ROLE_MAX] = {
        [ROLE_NONE] = "none",
        [ROLE_READER] = "reader",
        [ROLE_OPERATOR] = "operator",
        [ROLE_ADMIN] = "admin",
};

const char *role_to_string(enum role r) {
        return r < _ROLE_MAX ? role_table[r] : "none";
}

int role_from_string(const char *s) {
        for (int i = ROLE_READER; i < _ROLE_MAX; i++)
                if (streq(role_table[i], s))
                        return i;
        return -EINVAL;
}

struct config *config_ref(struct config *c) {
        if (c)
                __atomic_add_fetch(&c->n_ref, 1, __ATOMIC_RELAXED);
        return c;
}

struct config *config_unref(struct config *c) {
        if (!c || __atomic_sub_fetch(&c->n_ref, 1, __ATOMIC_ACQ_REL) > 0)
                return NULL;
        free(c->source);
        free(c->libvirt_uri);
        strv_free(c->listen);
        free(c->state_dir);
        for (size_t i = 0; i < c->n_unix_roles; i++)
                free(c->unix_roles[i].group);
        free(c->unix_roles);
        json_object_put(c->host_tags);
        free(c);
        return NULL;
}

int config_set_string(char **field, const char *value) {
        char *s = strdup(value);

        if (!s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

int config_set_listen(struct config *c, char **listen) {
        strv_free(c->listen);
        c->listen = listen;
        return 0;
}

/*
 * Root serves the system socket; an unprivileged user (a developer trying
 * sovd on a laptop) gets one in their runtime directory instead of failing
 * on /run.
 */
static int default_paths(char **ret_socket, char **ret_state) {
        const char *rt = getenv("XDG_RUNTIME_DIR"), *st = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

        if (geteuid() == 0) {
                *ret_socket = strdup("unix:/run/sovd/sovd.sock");
                *ret_state = strdup("/var/lib/sovd");
        } else {
                if (rt && rt[0] == '/' ? asprintf(ret_socket, "unix:%s/sovd/sovd.sock", rt) < 0
                                       : asprintf(ret_socket, "unix:/tmp/sovd-%u/sovd.sock", (unsigned) geteuid()) < 0)
                        *ret_socket = NULL;
                if (st && st[0] == '/' ? asprintf(ret_state, "%s/sovd", st) < 0
                                       : asprintf(ret_state, "%s/.local/state/sovd", home ? home : "/tmp") < 0)
                        *ret_state = NULL;
        }
        if (!*ret_socket || !*ret_state) {
                free(*ret_socket);
                free(*ret_state);
                return -ENOMEM;
        }
        return 0;
}

static int config_new_base(struct config **ret) {
        _cleanup_config_ struct config *c = NULL;
        char *sock = NULL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->n_ref = 1;
        c->log_level = LOG_INFO;
        c->max_body_bytes = CONFIG_DEFAULT_MAX_BODY;
        c->max_connections = 256;
        c->libvirt_uri = strdup("test:///default");
        c->listen = calloc(2, sizeof(char *));
        c->host_tags = json_object_new_object();
        if (!c->libvirt_uri || !c->listen || !c->host_tags)
                return -ENOMEM;
        if (default_paths(&sock, &c->state_dir) < 0)
                return -ENOMEM;
        c->listen[0] = sock;
        *ret = TAKE_PTR(c);
        return 0;
}

int config_new_default(struct config **ret) {
        _cleanup_config_ struct config *c = NULL;
        struct sovd_err err;
        int r;

        r = config_new_base(&c);
        if (r < 0)
                return r;
        /* Demo tags, so that a new user sees a tagged host on the test driver. */
        static const char demo[] = "{\"jurisdiction\": \"FR\", \"region\": \"FR-IDF\", \"site\": \"demo-1\","
                                   "\"operator\": \"Demo Cloud SAS\", \"operator_jurisdiction\": \"FR\","
                                   "\"certifications\": [\"secnumcloud:3.2\", \"hds\", \"iso27001\"]}";
        json_object_put(c->host_tags);
        c->host_tags = NULL;
        r = json_parse_strict(demo, strlen(demo), &c->host_tags, &err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

int config_check_listen(const char *addr, struct sovd_err *err) {
        if (strncmp(addr, "unix:", 5) == 0) {
                const char *path = addr + 5;
                if (path[0] != '/')
                        return err_set(err, -EINVAL, "listen address '%s': the socket path must be absolute", addr);
                if (strlen(path) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                        return err_set(err, -EINVAL, "listen address '%s': socket path longer than %zu bytes",
                                       addr, sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1);
                return 0;
        }
        if (strncmp(addr, "tcp:", 4) == 0)
                return err_set(err, -EOPNOTSUPP,
                               "listen address '%s': TCP listeners need mutual TLS, which this version of sovd "
                               "does not implement yet; use a unix: socket",
                               addr);
        return err_set(err, -EINVAL, "listen address '%s': expected unix:PATH", addr);
}

static bool is_country_code(const char *s) {
        return strlen(s) == 2 && isupper((unsigned char) s[0]) && isupper((unsigned char) s[1]);
}

/* ISO 3166-2: country code, hyphen, 1-3 alphanumerics ("FR-IDF", "FR-75C"). */
static bool is_region_code(const char *s) {
        size_t n = strlen(s);

        if (n < 4 || n > 6 || !isupper((unsigned char) s[0]) || !isupper((unsigned char) s[1]) || s[2] != '-')
                return false;
        for (size_t i = 3; i < n; i++)
                if (!isupper((unsigned char) s[i]) && !isdigit((unsigned char) s[i]))
                        return false;
        return true;
}

/*
 * Host tags: string values, or for certifications a list of strings.
 * Free-form keys are allowed; the well-known ones are checked.
 */
static int parse_host_tags(struct json_object *tags, struct sovd_err *err) {
        json_object_object_foreach(tags, key, val) {
                if (!label_key_is_valid(key) || strchr(key, '/'))
                        return err_set(err, -EINVAL,
                                       "host_tags.%s: invalid tag name (1-63 of a-z 0-9 . _ -, starting "
                                       "with a letter or digit)",
                                       key);
                if (streq(key, "certifications")) {
                        if (!json_object_is_type(val, json_type_array))
                                return err_set(err, -EINVAL, "host_tags.certifications: must be a list of strings");
                        for (size_t i = 0; i < json_object_array_length(val); i++) {
                                struct json_object *e = json_object_array_get_idx(val, i);
                                if (!json_object_is_type(e, json_type_string) ||
                                    json_object_get_string_len(e) == 0 ||
                                    !label_value_is_valid(json_object_get_string(e)))
                                        return err_set(err, -EINVAL,
                                                       "host_tags.certifications[%zu]: must be a non-empty string",
                                                       i);
                        }
                        continue;
                }
                if (!json_object_is_type(val, json_type_string) || json_object_get_string_len(val) == 0 ||
                    !label_value_is_valid(json_object_get_string(val)))
                        return err_set(err, -EINVAL,
                                       "host_tags.%s: must be a non-empty string of printable UTF-8 up to 256 bytes",
                                       key);
                const char *v = json_object_get_string(val);
                if ((streq(key, "jurisdiction") || streq(key, "operator_jurisdiction")) && !is_country_code(v))
                        return err_set(err, -EINVAL,
                                       "host_tags.%s: '%s' is not an ISO 3166-1 alpha-2 country code (e.g. FR)",
                                       key, v);
                if (streq(key, "region") && !is_region_code(v))
                        return err_set(err, -EINVAL,
                                       "host_tags.region: '%s' is not an ISO 3166-2 subdivision code (e.g. FR-IDF)",
                                       v);
        }
        return 0;
}

static int parse_unix_roles(struct config *c, struct json_object *roles, struct sovd_err *err) {
        size_t n = (size_t) json_object_object_length(roles);

        c->unix_roles = calloc(n ? n : 1, sizeof(*c->unix_roles));
        if (!c->unix_roles)
                return -ENOMEM;
        json_object_object_foreach(roles, group, val) {
                struct role_mapping *m = &c->unix_roles[c->n_unix_roles];
                struct group grbuf, *gr = NULL;
                _cleanup_free_ char *buf = NULL;
                size_t bufsize = 16384;
                int role, k;

                if (!json_object_is_type(val, json_type_string) ||
                    (role = role_from_string(json_object_get_string(val))) < 0)
                        return err_set(err, -EINVAL, "unix_roles.%s: must be \"reader\", \"operator\" or \"admin\"",
                                       group);
                /* Large groups need a larger buffer: grow on ERANGE, up to 4 MiB. */
                for (;;) {
                        free(buf);
                        buf = malloc(bufsize);
                        if (!buf)
                                return -ENOMEM;
                        k = getgrnam_r(group, &grbuf, buf, bufsize, &gr);
                        if (k != ERANGE || bufsize >= 4 * 1024 * 1024)
                                break;
                        bufsize *= 4;
                }
                if (k != 0)
                        return err_set(err, -k, "unix_roles.%s: cannot look the group up: %s", group, strerror(k));
                if (!gr)
                        return err_set(err, -EINVAL, "unix_roles.%s: no such group on this host", group);
                m->group = strdup(group);
                if (!m->group)
                        return -ENOMEM;
                m->gid = (unsigned) gr->gr_gid;
                m->role = (enum role) role;
                c->n_unix_roles++;
        }
        return 0;
}

int config_parse(const char *json, size_t len, const char *origin, struct config **ret, struct sovd_err *err) {
        static const char *const keys[] = {
                "libvirt_uri", "listen",     "state_dir", "log_level", "max_body_bytes", "max_connections",
                "unix_roles",  "host_tags",  NULL,
        };
        _cleanup_config_ struct config *c = NULL;
        _cleanup_json_ struct json_object *doc = NULL;
        struct json_object *listen = NULL, *roles = NULL, *tags = NULL;
        const char *s;
        int64_t i;
        int r;

        r = config_new_base(&c);
        if (r < 0)
                return r;
        if (origin) {
                c->source = strdup(origin);
                if (!c->source)
                        return -ENOMEM;
        }
        r = json_parse_strict(json, len, &doc, err);
        if (r < 0)
                goto fail;
        r = json_check_members(doc, keys, "", err);
        if (r < 0)
                goto fail;

        s = NULL;
        if ((r = json_get_string(doc, "libvirt_uri", "", false, &s, err)) < 0)
                goto fail;
        if (s) {
                if (!*s || !utf8_is_printable(s, strlen(s))) {
                        r = err_set(err, -EINVAL, "libvirt_uri: must be a non-empty URI");
                        goto fail;
                }
                if ((r = config_set_string(&c->libvirt_uri, s)) < 0)
                        return r;
        }
        s = NULL;
        if ((r = json_get_string(doc, "state_dir", "", false, &s, err)) < 0)
                goto fail;
        if (s) {
                if (s[0] != '/') {
                        r = err_set(err, -EINVAL, "state_dir: must be an absolute path, got '%s'", s);
                        goto fail;
                }
                if ((r = config_set_string(&c->state_dir, s)) < 0)
                        return r;
        }
        s = NULL;
        if ((r = json_get_string(doc, "log_level", "", false, &s, err)) < 0)
                goto fail;
        if (s) {
                r = log_level_from_string(s);
                if (r < 0) {
                        r = err_set(err, -EINVAL, "log_level: must be error, warning, notice, info or debug, got '%s'",
                                    s);
                        goto fail;
                }
                c->log_level = r;
        }
        i = (int64_t) c->max_body_bytes;
        if ((r = json_get_int(doc, "max_body_bytes", "", false, 1024, 64 * 1024 * 1024, &i, err)) < 0)
                goto fail;
        c->max_body_bytes = (size_t) i;
        i = c->max_connections;
        if ((r = json_get_int(doc, "max_connections", "", false, 1, 65536, &i, err)) < 0)
                goto fail;
        c->max_connections = (unsigned) i;

        if ((r = json_get_array(doc, "listen", "", false, &listen, err)) < 0)
                goto fail;
        if (listen) {
                size_t n = json_object_array_length(listen);
                char **l;

                if (n == 0 || n > 16) {
                        r = err_set(err, -EINVAL, "listen: must list 1 to 16 addresses");
                        goto fail;
                }
                l = calloc(n + 1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
                config_set_listen(c, l);
                for (size_t k = 0; k < n; k++) {
                        struct json_object *e = json_object_array_get_idx(listen, k);
                        if (!json_object_is_type(e, json_type_string)) {
                                r = err_set(err, -EINVAL, "listen[%zu]: must be a string", k);
                                goto fail;
                        }
                        r = config_check_listen(json_object_get_string(e), err);
                        if (r < 0) {
                                err_prefix(err, r, "listen[%zu]", k);
                                goto fail;
                        }
                        l[k] = strdup(json_object_get_string(e));
                        if (!l[k])
                                return -ENOMEM;
                }
        }
        if ((r = json_get_object(doc, "unix_roles", "", false, &roles, err)) < 0)
                goto fail;
        if (roles && (r = parse_unix_roles(c, roles, err)) < 0)
                goto fail;
        if ((r = json_get_object(doc, "host_tags", "", false, &tags, err)) < 0)
                goto fail;
        if (tags) {
                if ((r = parse_host_tags(tags, err)) < 0)
                        goto fail;
                json_object_put(c->host_tags);
                c->host_tags = json_object_get(tags);
        }
        *ret = TAKE_PTR(c);
        return 0;
fail:
        if (origin)
                err_prefix(err, r, "%s", origin);
        return r;
}

int config_load(const char *path, struct config **ret, struct sovd_err *err) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        r = file_read_all(path, CONFIG_MAX_SIZE, &buf, &len);
        if (r == -EFBIG)
                return err_set(err, r, "%s: larger than %d bytes", path, CONFIG_MAX_SIZE);
        if (r < 0)
                return err_set(err, r, "%s: cannot read: %s", path, strerror(-r));
        return config_parse(buf, len, path, ret, err);
}

enum role config_role_for_groups(const struct config *c, const unsigned *gids, size_t n_gids) {
        enum role best = ROLE_NONE;

        for (size_t i = 0; i < c->n_unix_roles; i++)
                for (size_t k = 0; k < n_gids; k++)
                        if (c->unix_roles[i].gid == gids[k] && c->unix_roles[i].role > best)
                                best = c->unix_roles[i].role;
        return best;
}
