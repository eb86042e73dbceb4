/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <grp.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <sys/un.h>

#include "sovd/config.h"
#include "sovd/fileio.h"
#include "sovd/json-util.h"
#include "sovd/log.h"
#include "sovd/names.h"
#include "sovd/version.h"

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

static void wipe_free(char *s) {
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
}

static void tls_config_free(struct tls_config *t) {
        if (!t)
                return;
        free(t->cert_path);
        free(t->key_path);
        free(t->ca_path);
        free(t->client_cert_path);
        free(t->client_key_path);
        free(t->cert_pem);
        wipe_free(t->key_pem);
        free(t->ca_pem);
        for (size_t i = 0; i < t->n_roles; i++)
                free(t->roles[i].subject);
        free(t->roles);
        free(t);
}

static void place_config_done(struct place_config *p) {
        free(p->name);
        free(p->path);
        tags_done(&p->tags);
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
        tags_done(&c->host_tags);
        for (size_t i = 0; i < c->n_storage_pools; i++)
                place_config_done(&c->storage_pools[i]);
        free(c->storage_pools);
        for (size_t i = 0; i < c->n_backup_targets; i++)
                place_config_done(&c->backup_targets[i]);
        free(c->backup_targets);
        free(c->policy_dir);
        free(c->migration_uri);
        free(c->migration_data_uri);
        tls_config_free(c->tls);
        for (size_t i = 0; i < c->n_peers; i++) {
                free(c->peers[i].name);
                free(c->peers[i].url);
                free(c->peers[i].subject);
        }
        free(c->peers);
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
        c->audit_rotate_bytes = 64ull * 1024 * 1024;
        /* Installed policies; a build tree run (the README's demo) falls back to the source tree's. */
        c->policy_dir = strdup(access(SOVD_DEFAULT_POLICY_DIR, F_OK) == 0 ? SOVD_DEFAULT_POLICY_DIR
                                                                         : SOVD_SOURCE_POLICY_DIR);
        if (!c->libvirt_uri || !c->listen || !c->policy_dir)
                return -ENOMEM;
        if (default_paths(&sock, &c->state_dir) < 0)
                return -ENOMEM;
        c->listen[0] = sock;
        *ret = TAKE_PTR(c);
        return 0;
}

int config_new_default(struct config **ret) {
        /*
         * Demo tags, so that a new user sees a tagged host on the test driver
         * and can create VMs in its pool under the shipped policies.
         */
        static const char demo[] =
                "{\"host_tags\": {\"jurisdiction\": \"FR\", \"region\": \"FR-IDF\", \"site\": \"demo-1\","
                "  \"operator\": \"Demo Cloud SAS\", \"operator_jurisdiction\": \"FR\","
                "  \"certifications\": [\"secnumcloud:3.2\", \"hds\", \"iso27001\"]},"
                " \"storage_pools\": {\"default-pool\": {\"tags\": {\"jurisdiction\": \"FR\", \"region\": \"FR-IDF\","
                "  \"site\": \"demo-1\", \"operator\": \"Demo Cloud SAS\", \"operator_jurisdiction\": \"FR\","
                "  \"certifications\": [\"secnumcloud:3.2\", \"hds\", \"iso27001\"]}}}}";
        struct sovd_err err;

        return config_parse(demo, strlen(demo), NULL, ret, &err);
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
        if (strncmp(addr, "tcp:", 4) == 0) {
                const char *colon = strrchr(addr + 4, ':');
                char *end;
                unsigned long port;

                if (!colon || colon == addr + 4)
                        return err_set(err, -EINVAL, "listen address '%s': expected tcp:HOST:PORT", addr);
                errno = 0;
                port = strtoul(colon + 1, &end, 10);
                if (errno || *end || port == 0 || port > 65535)
                        return err_set(err, -EINVAL, "listen address '%s': port must be 1-65535", addr);
                if ((size_t) (colon - (addr + 4)) > 255)
                        return err_set(err, -EINVAL, "listen address '%s': host too long", addr);
                return 0;
        }
        return err_set(err, -EINVAL, "listen address '%s': expected unix:PATH or tcp:HOST:PORT", addr);
}

/* storage_pools / backup_targets: {name: {"tags": {...}} (+ "path" for targets)}. */
static int parse_places(struct json_object *obj, const char *key, bool with_path, struct place_config **ret,
                        size_t *ret_n, struct sovd_err *err) {
        size_t n = (size_t) json_object_object_length(obj);
        struct place_config *a;
        int r;

        if (n > 256)
                return err_set(err, -EINVAL, "%s: at most 256 entries", key);
        a = calloc(n ? n : 1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        *ret = a;
        json_object_object_foreach(obj, name, val) {
                static const char *const pool_keys[] = { "tags", NULL };
                static const char *const target_keys[] = { "path", "tags", "keep_last", "keep_days", NULL };
                struct place_config *p = &a[(*ret_n)++];
                struct json_object *tags = NULL;
                const char *path = NULL;
                char where[128];

                snprintf(where, sizeof(where), "%s.%.64s", key, name);
                if (!name_is_valid(name))
                        return err_set(err, -EINVAL, "%s: invalid name", where);
                if ((r = json_check_members(val, with_path ? target_keys : pool_keys, where, err)) < 0 ||
                    (r = json_get_object(val, "tags", where, true, &tags, err)) < 0)
                        return r;
                if (with_path) {
                        if ((r = json_get_string(val, "path", where, true, &path, err)) < 0)
                                return r;
                        if (path[0] != '/' || strstr(path, "/../") || !utf8_is_printable(path, strlen(path)))
                                return err_set(err, -EINVAL, "%s.path: must be an absolute path", where);
                        if (!(p->path = strdup(path)))
                                return -ENOMEM;
                        int64_t keep = 0;
                        if ((r = json_get_int(val, "keep_last", where, false, 1, 100000, &keep, err)) < 0)
                                return r;
                        p->keep_last = (unsigned) keep;
                        keep = 0;
                        if ((r = json_get_int(val, "keep_days", where, false, 1, 36500, &keep, err)) < 0)
                                return r;
                        p->keep_days = (unsigned) keep;
                }
                if (!(p->name = strdup(name)))
                        return -ENOMEM;
                snprintf(where, sizeof(where), "%s.%.64s.tags", key, name);
                if ((r = tags_parse(tags, where, &p->tags, err)) < 0)
                        return r;
        }
        return 0;
}

static int read_pem(const char *where, const char *path, char **ret, struct sovd_err *err) {
        size_t len;
        int r;

        if (path[0] != '/')
                return err_set(err, -EINVAL, "%s: must be an absolute path, got '%.128s'", where, path);
        r = file_read_all(path, 1024 * 1024, ret, &len);
        if (r < 0)
                return err_set(err, r, "%s: cannot read '%.128s': %s", where, path, strerror(-r));
        if (!strstr(*ret, "-----BEGIN ")) {
                wipe_free(*ret);
                *ret = NULL;
                return err_set(err, -EINVAL, "%s: '%.128s' is not a PEM file", where, path);
        }
        return 0;
}

/* tls: {"cert", "key", "ca", "roles": {subject: role}} */
static int parse_tls(struct json_object *o, struct tls_config **ret, struct sovd_err *err) {
        static const char *const keys[] = { "cert", "key", "ca", "roles", "client_cert", "client_key", NULL };
        struct tls_config *t = calloc(1, sizeof(*t));
        struct json_object *roles = NULL;
        const char *cert = NULL, *key = NULL, *ca = NULL, *ccert = NULL, *ckey = NULL;
        int r;

        if (!t)
                return -ENOMEM;
        *ret = t;
        if ((r = json_check_members(o, keys, "tls", err)) < 0 ||
            (r = json_get_string(o, "cert", "tls", true, &cert, err)) < 0 ||
            (r = json_get_string(o, "key", "tls", true, &key, err)) < 0 ||
            (r = json_get_string(o, "ca", "tls", true, &ca, err)) < 0 ||
            (r = json_get_object(o, "roles", "tls", false, &roles, err)) < 0 ||
            (r = json_get_string(o, "client_cert", "tls", false, &ccert, err)) < 0 ||
            (r = json_get_string(o, "client_key", "tls", false, &ckey, err)) < 0)
                return r;
        if (!ccert != !ckey)
                return err_set(err, -EINVAL, "tls: client_cert and client_key go together");
        if ((ccert && (ccert[0] != '/' || access(ccert, R_OK) < 0)) || (ckey && (ckey[0] != '/' || access(ckey, R_OK) < 0)))
                return err_set(err, -EINVAL, "tls: client_cert and client_key must be readable absolute paths");
        if (!(t->cert_path = strdup(cert)) || !(t->key_path = strdup(key)) || !(t->ca_path = strdup(ca)) ||
            !(t->client_cert_path = strdup(ccert ? ccert : cert)) || !(t->client_key_path = strdup(ckey ? ckey : key)))
                return -ENOMEM;
        if ((r = read_pem("tls.cert", cert, &t->cert_pem, err)) < 0 || (r = read_pem("tls.key", key, &t->key_pem, err)) < 0 ||
            (r = read_pem("tls.ca", ca, &t->ca_pem, err)) < 0)
                return r;
        /* Catch a key that does not match the certificate, or is encrypted, now and not at listen time. */
        {
                gnutls_certificate_credentials_t cred;
                gnutls_datum_t c_pem = { (unsigned char *) t->cert_pem, (unsigned) strlen(t->cert_pem) };
                gnutls_datum_t k_pem = { (unsigned char *) t->key_pem, (unsigned) strlen(t->key_pem) };
                gnutls_datum_t ca_pem = { (unsigned char *) t->ca_pem, (unsigned) strlen(t->ca_pem) };
                if (gnutls_certificate_allocate_credentials(&cred) < 0)
                        return -ENOMEM;
                r = gnutls_certificate_set_x509_key_mem(cred, &c_pem, &k_pem, GNUTLS_X509_FMT_PEM);
                int k = r < 0 ? 0 : gnutls_certificate_set_x509_trust_mem(cred, &ca_pem, GNUTLS_X509_FMT_PEM);
                gnutls_certificate_free_credentials(cred);
                if (r < 0)
                        return err_set(err, -EINVAL, "tls: the key '%.128s' cannot be used with the certificate '%.128s': %s",
                                       key, cert, gnutls_strerror(r));
                if (k <= 0)
                        return err_set(err, -EINVAL, "tls.ca: '%.128s' holds no usable CA certificate", ca);
        }
        if (!roles)
                return 0;
        t->roles = calloc((size_t) json_object_object_length(roles) + 1, sizeof(*t->roles));
        if (!t->roles)
                return -ENOMEM;
        json_object_object_foreach(roles, subject, val) {
                int role;
                if (!*subject || strlen(subject) > 255 || !utf8_is_printable(subject, strlen(subject)))
                        return err_set(err, -EINVAL, "tls.roles: '%.64s' is not a certificate name", subject);
                if (!json_object_is_type(val, json_type_string) || (role = role_from_string(json_object_get_string(val))) < 0)
                        return err_set(err, -EINVAL, "tls.roles.%.64s: must be \"reader\", \"operator\" or \"admin\"",
                                       subject);
                t->roles[t->n_roles].subject = strdup(subject);
                t->roles[t->n_roles].role = (enum role) role;
                if (!t->roles[t->n_roles++].subject)
                        return -ENOMEM;
        }
        return 0;
}

/* peers: {name: {"url": "https://host:port", "subject"?: "name on its certificate"}} */
static int parse_peers(struct json_object *o, struct config *c, struct sovd_err *err) {
        size_t n = (size_t) json_object_object_length(o);
        int r;

        if (n > 64)
                return err_set(err, -EINVAL, "peers: at most 64 peers");
        c->peers = calloc(n + 1, sizeof(*c->peers));
        if (!c->peers)
                return -ENOMEM;
        json_object_object_foreach(o, name, val) {
                static const char *const keys[] = { "url", "subject", NULL };
                struct peer_config *p = &c->peers[c->n_peers++];
                const char *url = NULL, *subject = NULL;
                char where[96];

                snprintf(where, sizeof(where), "peers.%.64s", name);
                if (!name_is_valid(name))
                        return err_set(err, -EINVAL, "%s: invalid peer name", where);
                if ((r = json_check_members(val, keys, where, err)) < 0 ||
                    (r = json_get_string(val, "url", where, true, &url, err)) < 0 ||
                    (r = json_get_string(val, "subject", where, false, &subject, err)) < 0)
                        return r;
                /* https only: a peer's identity is its certificate. No path, query or credentials. */
                if (strncmp(url, "https://", 8) != 0 || strlen(url) > 300 || strpbrk(url + 8, "/?#@ \t\r\n\\") ||
                    !strchr(url + 8, ':') || !utf8_is_printable(url, strlen(url)))
                        return err_set(err, -EINVAL, "%s.url: must be https://HOST:PORT, got '%.128s'", where, url);
                if (subject && (!*subject || strlen(subject) > 255 || strpbrk(subject, ":/ \t\r\n") ||
                                !utf8_is_printable(subject, strlen(subject))))
                        return err_set(err, -EINVAL, "%s.subject: must be a host name", where);
                p->name = strdup(name);
                p->url = strdup(url);
                p->subject = subject ? strdup(subject) : NULL;
                if (!p->name || !p->url || (subject && !p->subject))
                        return -ENOMEM;
        }
        if (n > 0 && !c->tls)
                return err_set(err, -EINVAL, "peers: talking to peers needs the \"tls\" section (client certificate and CA)");
        return 0;
}

const struct peer_config *config_peer(const struct config *c, const char *name) {
        for (size_t i = 0; i < c->n_peers; i++)
                if (streq(c->peers[i].name, name))
                        return &c->peers[i];
        return NULL;
}

enum role config_role_for_subjects(const struct config *c, char *const *names, size_t n) {
        enum role best = ROLE_NONE;

        for (size_t i = 0; c->tls && i < c->tls->n_roles; i++)
                for (size_t k = 0; k < n; k++)
                        if (streq(c->tls->roles[i].subject, names[k]) && c->tls->roles[i].role > best)
                                best = c->tls->roles[i].role;
        return best;
}

const struct place_config *config_storage_pool(const struct config *c, const char *name) {
        for (size_t i = 0; i < c->n_storage_pools; i++)
                if (streq(c->storage_pools[i].name, name))
                        return &c->storage_pools[i];
        return NULL;
}

const struct place_config *config_backup_target(const struct config *c, const char *name) {
        for (size_t i = 0; i < c->n_backup_targets; i++)
                if (streq(c->backup_targets[i].name, name))
                        return &c->backup_targets[i];
        return NULL;
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
                "libvirt_uri",   "listen",         "state_dir",  "log_level",          "max_body_bytes",
                "max_connections", "unix_roles", "host_tags", "storage_pools", "backup_targets",
                "policy_dir",    "audit_rotate_bytes", "tls", "peers", "migration_uri", "migration_data_uri", "migration_shared_storage", NULL,
        };
        _cleanup_config_ struct config *c = NULL;
        _cleanup_json_ struct json_object *doc = NULL;
        struct json_object *listen = NULL, *roles = NULL, *tags = NULL, *pools = NULL, *targets = NULL;
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
        if (tags && (r = tags_parse(tags, "host_tags", &c->host_tags, err)) < 0)
                goto fail;
        if ((r = json_get_object(doc, "storage_pools", "", false, &pools, err)) < 0)
                goto fail;
        if (pools && (r = parse_places(pools, "storage_pools", false, &c->storage_pools, &c->n_storage_pools, err)) < 0)
                goto fail;
        if ((r = json_get_object(doc, "backup_targets", "", false, &targets, err)) < 0)
                goto fail;
        if (targets &&
            (r = parse_places(targets, "backup_targets", true, &c->backup_targets, &c->n_backup_targets, err)) < 0)
                goto fail;
        s = NULL;
        if ((r = json_get_string(doc, "policy_dir", "", false, &s, err)) < 0)
                goto fail;
        if (s) {
                if (s[0] != '/') {
                        r = err_set(err, -EINVAL, "policy_dir: must be an absolute path, got '%.128s'", s);
                        goto fail;
                }
                if ((r = config_set_string(&c->policy_dir, s)) < 0)
                        return r;
        }
        static const char *const libvirt_schemes[] = { "qemu+tcp://", "qemu+tls://", "qemu+ssh://", NULL };
        static const char *const data_schemes[] = { "tcp://", NULL };
        static const struct {
                const char *key;
                const char *const *schemes;
        } uris[] = {
                { "migration_uri", libvirt_schemes },
                { "migration_data_uri", data_schemes },
        };
        for (size_t u = 0; u < ELEMENTSOF(uris); u++) {
                bool scheme_ok = false;
                s = NULL;
                if ((r = json_get_string(doc, uris[u].key, "", false, &s, err)) < 0)
                        goto fail;
                if (!s)
                        continue;
                for (const char *const *p = uris[u].schemes; *p; p++)
                        if (strncmp(s, *p, strlen(*p)) == 0 && s[strlen(*p)])
                                scheme_ok = true;
                /* libvirt parses it; sovd only makes sure it is one line of a URI of the right kind. */
                if (!scheme_ok || strlen(s) > 512 || strpbrk(s, " \t\r\n\"'<>") ||
                    !utf8_is_printable(s, strlen(s))) {
                        r = err_set(err, -EINVAL, "%s: expected a %s URI, got '%.128s'", uris[u].key,
                                    u == 0 ? "qemu+tcp://, qemu+tls:// or qemu+ssh://" : "tcp://HOST[:PORT]", s);
                        goto fail;
                }
                if ((r = config_set_string(u == 0 ? &c->migration_uri : &c->migration_data_uri, s)) < 0)
                        goto fail;
        }
        if ((r = json_get_bool(doc, "migration_shared_storage", "", false, &c->migration_shared_storage, err)) < 0)
                goto fail;
        struct json_object *tls = NULL;
        if ((r = json_get_object(doc, "tls", "", false, &tls, err)) < 0)
                goto fail;
        if (tls && (r = parse_tls(tls, &c->tls, err)) < 0)
                goto fail;
        struct json_object *peers = NULL;
        if ((r = json_get_object(doc, "peers", "", false, &peers, err)) < 0)
                goto fail;
        if (peers && (r = parse_peers(peers, c, err)) < 0)
                goto fail;
        for (char **l = c->listen; l && *l; l++)
                if (strncmp(*l, "tcp:", 4) == 0 && !c->tls) {
                        r = err_set(err, -EINVAL, "listen: '%s' needs a \"tls\" section (cert, key, ca): TCP is "
                                                  "served with mutual TLS only",
                                    *l);
                        goto fail;
                }
        i = (int64_t) c->audit_rotate_bytes;
        if ((r = json_get_int(doc, "audit_rotate_bytes", "", false, 4096, INT64_C(1) << 40, &i, err)) < 0)
                goto fail;
        c->audit_rotate_bytes = (uint64_t) i;
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
