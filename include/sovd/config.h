/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * sovd's configuration: a JSON file (default /etc/sovd/sovd.conf), command
 * line overrides on top, the embedded default (test driver, demo tags)
 * when there is neither. Unknown keys are errors: a typo must not silently
 * leave a security setting at its default.
 *
 * A struct config is immutable once loaded and reference-counted, so a
 * SIGHUP reload can swap it while requests still use the old one.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "sovd/errors.h"
#include "sovd/tags.h"

#define CONFIG_DEFAULT_PATH "/etc/sovd/sovd.conf"
#define CONFIG_MAX_SIZE (1024 * 1024)
#define CONFIG_DEFAULT_MAX_BODY (1024 * 1024)

enum role {
        ROLE_NONE,
        ROLE_READER,
        ROLE_OPERATOR,
        ROLE_ADMIN,
        _ROLE_MAX,
};

const char *role_to_string(enum role r);
int role_from_string(const char *s);

struct role_mapping {
        char *group;
        unsigned gid; /* resolved when the configuration is loaded */
        enum role role;
};

/* A storage pool or backup target and the tags the operator gave it. */
struct place_config {
        char *name;
        char *path; /* backup targets: the directory backups are written to */
        struct tags tags;
        /* Backup targets' retention, per VM; 0: no such limit (keep everything when both are 0). */
        unsigned keep_last;
        unsigned keep_days;
};

/* Mutual TLS for tcp: listeners. Key material is wiped before it is freed. */
struct tls_role {
        char *subject; /* a certificate's CN or one of its DNS subject alternative names */
        enum role role;
};

struct tls_config {
        char *cert_path, *key_path, *ca_path;
        char *client_cert_path, *client_key_path; /* for talking to peers; default cert/key */
        char *cert_pem, *key_pem, *ca_pem; /* read when the configuration is loaded */
        struct tls_role *roles;
        size_t n_roles;
};

/* Another sovd agent, reached over mutual TLS. */
struct peer_config {
        char *name;
        char *url;     /* https://host:port */
        char *subject; /* the name its certificate must carry; NULL: the URL's host */
};

struct config {
        int n_ref;
        char *source; /* file it came from, NULL for the embedded default */
        char *libvirt_uri;
        char **listen; /* NULL-terminated: "unix:/run/sovd/sovd.sock" */
        char *state_dir;
        int log_level;
        size_t max_body_bytes;
        unsigned max_connections;
        struct role_mapping *unix_roles;
        size_t n_unix_roles;
        struct tags host_tags;
        struct place_config *storage_pools;
        size_t n_storage_pools;
        struct place_config *backup_targets;
        size_t n_backup_targets;
        char *policy_dir;
        uint64_t audit_rotate_bytes;
        struct tls_config *tls; /* NULL: no TLS configured, tcp: listeners refused */
        struct peer_config *peers;
        size_t n_peers;
        /* What other hosts' libvirtd use to migrate into this one; NULL: not a migration destination. */
        char *migration_uri;      /* qemu+tcp://HOST/system */
        char *migration_data_uri; /* tcp://HOST: where QEMU's migration stream goes; NULL: libvirt's choice */
        /*
         * The operator's word that VM disks are on storage every migration
         * destination shares, where libvirt cannot tell (a cluster volume it
         * takes for local): live migrations without storage copy then pass
         * libvirt's safety check. Default false: libvirt decides.
         */
        bool migration_shared_storage;
};

const struct peer_config *config_peer(const struct config *c, const char *name);

/* The role of a client certificate's names (CN and DNS SANs); ROLE_NONE when unmapped. */
enum role config_role_for_subjects(const struct config *c, char *const *names, size_t n);

/* The configured storage pool or backup target named @name, or NULL (untagged). */
const struct place_config *config_storage_pool(const struct config *c, const char *name);
const struct place_config *config_backup_target(const struct config *c, const char *name);

/* The embedded default: test:///default, a socket in the runtime directory, demo tags. */
int config_new_default(struct config **ret);

/*
 * Parses a configuration document. @origin names it in messages (a file
 * name). Keys absent from the document take the defaults, except
 * host_tags, which are empty: a real host is untagged until told otherwise.
 */
int config_parse(const char *json, size_t len, const char *origin, struct config **ret, struct sovd_err *err);

/* Reads and parses @path. */
int config_load(const char *path, struct config **ret, struct sovd_err *err);

/* Validates a listen address ("unix:/abs/path"); fills @err. */
int config_check_listen(const char *addr, struct sovd_err *err);

/* Replaces the listen list (command line --listen), the URI or the state dir. */
int config_set_listen(struct config *c, char **listen);
int config_set_string(char **field, const char *value);

/* The role of a caller in groups @gids, highest mapping wins; ROLE_NONE when unmapped. */
enum role config_role_for_groups(const struct config *c, const unsigned *gids, size_t n_gids);

struct config *config_ref(struct config *c);
struct config *config_unref(struct config *c);
DEFINE_POINTER_CLEANUP(struct config, config_unref)
#define _cleanup_config_ _cleanup_(config_unrefp)
