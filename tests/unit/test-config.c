/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ftw.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>

#include "sovd/config.h"
#include "sovd/fileio.h"
#include "test-harness.h"

/* Parses @json, which must be accepted. */
static struct config *parse_ok(const char *json) {
        struct config *c = NULL;
        struct sovd_err err = {};
        int r = config_parse(json, strlen(json), "sovd.conf", &c, &err);

        if (r < 0)
                TEST_FAIL("config_parse(%s): %d %s", json, r, err.msg);
        ASSERT_NOT_NULL(c);
        return c;
}

/* Parses @json, which must be refused with @code; returns the message. */
static const char *parse_fails_with(const char *json, int code) {
        static struct sovd_err err;
        struct config *sentinel = (struct config *) &err, *c = sentinel;
        int r;

        memset(&err, 0, sizeof(err));
        r = config_parse(json, strlen(json), "sovd.conf", &c, &err);
        if (r != code)
                TEST_FAIL("config_parse(%s): expected %d, got %d (%s)", json, code, r, err.msg);
        if (c != sentinel)
                TEST_FAIL("config_parse(%s): *ret changed on failure", json);
        /* Every message says which file. */
        if (strncmp(err.msg, "sovd.conf: ", 11) != 0)
                TEST_FAIL("config_parse(%s): message without origin: \"%s\"", json, err.msg);
        return err.msg + 11;
}
#define parse_fails(json) parse_fails_with((json), -EINVAL)

/* Up to @max existing groups with distinct gids; returns how many were found. */
static size_t some_groups(char names[][64], gid_t *gids, size_t max) {
        struct group *g;
        size_t n = 0;

        setgrent();
        while (n < max && (g = getgrent())) {
                bool dup = strlen(g->gr_name) >= 64 || getgrnam(g->gr_name) == NULL;
                for (size_t i = 0; i < n; i++)
                        dup = dup || gids[i] == g->gr_gid;
                if (dup)
                        continue;
                snprintf(names[n], 64, "%s", g->gr_name);
                gids[n++] = g->gr_gid;
        }
        endgrent();
        return n;
}

static void test_config_defaults(void) {
        struct config *c;

        if (geteuid() != 0) {
                ASSERT_INT_EQ(setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1), 0);
                ASSERT_INT_EQ(setenv("XDG_STATE_HOME", "/home/u/.local/state", 1), 0);
        }
        c = parse_ok("{}");
        ASSERT_INT_EQ(c->n_ref, 1);
        ASSERT_STR_EQ(c->source, "sovd.conf");
        ASSERT_STR_EQ(c->libvirt_uri, "test:///default");
        ASSERT_NOT_NULL(c->listen);
        if (geteuid() == 0) {
                ASSERT_STR_EQ(c->listen[0], "unix:/run/sovd/sovd.sock");
                ASSERT_STR_EQ(c->state_dir, "/var/lib/sovd");
        } else {
                ASSERT_STR_EQ(c->listen[0], "unix:/run/user/4242/sovd/sovd.sock");
                ASSERT_STR_EQ(c->state_dir, "/home/u/.local/state/sovd");
        }
        ASSERT_NULL(c->listen[1]);
        ASSERT_INT_EQ(c->log_level, LOG_INFO);
        ASSERT_INT_EQ(c->max_body_bytes, CONFIG_DEFAULT_MAX_BODY);
        ASSERT_INT_EQ(c->max_connections, 256);
        ASSERT_INT_EQ(c->n_unix_roles, 0);
        /* A real host is untagged until told otherwise. */
        ASSERT_TRUE(tags_empty(&c->host_tags));
        ASSERT_NULL(c->host_tags.json);
        config_unref(c);

        /* No origin: no source, and messages without a prefix. */
        struct sovd_err err = {};
        ASSERT_OK(config_parse("{}", 2, NULL, &c, &err));
        ASSERT_NULL(c->source);
        config_unref(c);
        ASSERT_INT_EQ(config_parse("{\"x\":1}", 7, NULL, &c, &err), -EINVAL);
        ASSERT_STR_EQ(err.msg, "x: unknown member");
}

static void test_config_every_key(void) {
        char groups[1][64];
        gid_t gids[1];
        char json[1024];
        struct config *c;
        struct json_object *v = NULL;

        ASSERT_INT_EQ(some_groups(groups, gids, 1), 1);
        snprintf(json, sizeof(json),
                 "{\"libvirt_uri\": \"qemu:///system\","
                 " \"listen\": [\"unix:/run/sovd/a.sock\", \"unix:/tmp/b.sock\"],"
                 " \"state_dir\": \"/srv/sovd\", \"log_level\": \"debug\","
                 " \"max_body_bytes\": 2048, \"max_connections\": 10,"
                 " \"unix_roles\": {\"%s\": \"operator\"},"
                 " \"host_tags\": {\"jurisdiction\": \"DE\", \"operator_jurisdiction\": \"FR\","
                 "   \"region\": \"DE-BY\", \"site\": \"m\\u00fcnchen-2\", \"certifications\": [\"c5\", \"iso27001\"]}}",
                 groups[0]);
        c = parse_ok(json);
        ASSERT_STR_EQ(c->libvirt_uri, "qemu:///system");
        ASSERT_STR_EQ(c->listen[0], "unix:/run/sovd/a.sock");
        ASSERT_STR_EQ(c->listen[1], "unix:/tmp/b.sock");
        ASSERT_NULL(c->listen[2]);
        ASSERT_STR_EQ(c->state_dir, "/srv/sovd");
        ASSERT_INT_EQ(c->log_level, LOG_DEBUG);
        ASSERT_INT_EQ(c->max_body_bytes, 2048);
        ASSERT_INT_EQ(c->max_connections, 10);
        ASSERT_INT_EQ(c->n_unix_roles, 1);
        ASSERT_STR_EQ(c->unix_roles[0].group, groups[0]);
        ASSERT_INT_EQ(c->unix_roles[0].gid, gids[0]);
        ASSERT_INT_EQ(c->unix_roles[0].role, ROLE_OPERATOR);
        ASSERT_TRUE(json_object_object_get_ex(c->host_tags.json, "site", &v));
        ASSERT_STR_EQ(json_object_get_string(v), "m\xc3\xbcnchen-2");
        ASSERT_TRUE(json_object_object_get_ex(c->host_tags.json, "certifications", &v));
        ASSERT_INT_EQ(json_object_array_length(v), 2);
        config_unref(c);

        /* Range ends are inclusive; the other log level names. */
        c = parse_ok("{\"max_body_bytes\": 1024, \"max_connections\": 65536, \"log_level\": \"err\"}");
        ASSERT_INT_EQ(c->max_body_bytes, 1024);
        ASSERT_INT_EQ(c->max_connections, 65536);
        ASSERT_INT_EQ(c->log_level, LOG_ERR);
        config_unref(c);
        c = parse_ok("{\"max_body_bytes\": 67108864, \"max_connections\": 1, \"log_level\": \"warning\"}");
        ASSERT_INT_EQ(c->max_body_bytes, 64 * 1024 * 1024);
        ASSERT_INT_EQ(c->max_connections, 1);
        ASSERT_INT_EQ(c->log_level, LOG_WARNING);
        config_unref(c);
}

static void test_config_errors_name_the_key(void) {
        static const struct {
                const char *json, *msg;
        } cases[] = {
                { "[]", "body: must be a JSON object" },
                { "{\"listne\": []}", "listne: unknown member" },
                { "{\"libvirt_uri\": 1}", "libvirt_uri: must be a string" },
                { "{\"libvirt_uri\": \"\"}", "libvirt_uri: must be a non-empty URI" },
                { "{\"libvirt_uri\": \"qemu:///system\\n\"}", "libvirt_uri: must be a non-empty URI" },
                { "{\"state_dir\": true}", "state_dir: must be a string" },
                { "{\"migration_uri\": \"http://x\"}", "migration_uri: expected a qemu+tcp://, qemu+tls:// or qemu+ssh:// URI, got 'http://x'" },
                { "{\"migration_uri\": \"qemu+tcp://\"}", "migration_uri: expected a qemu+tcp://" },
                { "{\"migration_uri\": \"qemu+tcp://h/system\\n\"}", "migration_uri: expected a qemu+tcp://" },
                { "{\"migration_uri\": \"qemu+tcp://h/system x\"}", "migration_uri: expected a qemu+tcp://" },
                { "{\"migration_data_uri\": \"qemu+tcp://h/system\"}", "migration_data_uri: expected a tcp://HOST[:PORT] URI" },
                { "{\"backup_targets\": {\"b\": {\"path\": \"/b\", \"tags\": {}, \"keep_last\": 0}}}", "backup_targets.b.keep_last: must be an integer from 1 to 100000, got 0" },
                { "{\"state_dir\": \"var/lib/sovd\"}", "state_dir: must be an absolute path, got 'var/lib/sovd'" },
                { "{\"log_level\": 7}", "log_level: must be a string" },
                { "{\"log_level\": \"verbose\"}", "log_level: must be error, warning, notice, info or debug, got 'verbose'" },
                { "{\"max_body_bytes\": \"1M\"}", "max_body_bytes: must be an integer from 1024 to 67108864" },
                { "{\"max_body_bytes\": 1023}", "max_body_bytes: must be an integer from 1024 to 67108864, got 1023" },
                { "{\"max_body_bytes\": 67108865}", "max_body_bytes: must be an integer from 1024 to 67108864, got 67108865" },
                { "{\"max_body_bytes\": 1e6}", "max_body_bytes: must be an integer" },
                { "{\"max_connections\": 0}", "max_connections: must be an integer from 1 to 65536, got 0" },
                { "{\"max_connections\": 65537}", "max_connections: must be an integer from 1 to 65536, got 65537" },
                { "{\"max_connections\": -1}", "max_connections: must be an integer from 1 to 65536, got -1" },
                { "{\"listen\": \"unix:/run/s.sock\"}", "listen: must be an array" },
                { "{\"listen\": []}", "listen: must list 1 to 16 addresses" },
                { "{\"listen\": [1]}", "listen[0]: must be a string" },
                { "{\"listen\": [\"http://0.0.0.0:80\"]}", "listen[0]: listen address 'http://0.0.0.0:80': expected unix:PATH" },
                { "{\"listen\": [\"/run/s.sock\"]}", "listen[0]: listen address '/run/s.sock': expected unix:PATH" },
                { "{\"listen\": [\"unix:/ok.sock\", \"unix:run/s.sock\"]}",
                  "listen[1]: listen address 'unix:run/s.sock': the socket path must be absolute" },
                { "{\"listen\": [\"unix:\"]}", "listen[0]: listen address 'unix:': the socket path must be absolute" },
                { "{\"unix_roles\": []}", "unix_roles: must be an object" },
                { "{\"unix_roles\": {\"root\": \"superuser\"}}", "unix_roles.root: must be \"reader\", \"operator\" or \"admin\"" },
                { "{\"unix_roles\": {\"root\": \"none\"}}", "unix_roles.root: must be \"reader\", \"operator\" or \"admin\"" },
                { "{\"unix_roles\": {\"root\": 3}}", "unix_roles.root: must be \"reader\", \"operator\" or \"admin\"" },
                { "{\"unix_roles\": {\"sovd-no-such-group\": \"reader\"}}", "unix_roles.sovd-no-such-group: no such group on this host" },
                { "{\"host_tags\": \"eu\"}", "host_tags: must be an object" },
                { "{\"host_tags\": {\"jurisdiction\": \"fra\"}}",
                  "host_tags.jurisdiction: 'fra' is not an ISO 3166-1 alpha-2 country code (e.g. FR)" },
                { "{\"host_tags\": {\"jurisdiction\": \"fr\"}}",
                  "host_tags.jurisdiction: 'fr' is not an ISO 3166-1 alpha-2 country code (e.g. FR)" },
                { "{\"host_tags\": {\"jurisdiction\": \"FRA\"}}", "host_tags.jurisdiction: 'FRA' is not" },
                { "{\"host_tags\": {\"operator_jurisdiction\": \"F\"}}", "host_tags.operator_jurisdiction: 'F' is not" },
                { "{\"host_tags\": {\"region\": \"FR\"}}", "host_tags.region: 'FR' is not an ISO 3166-2 subdivision code" },
                { "{\"host_tags\": {\"region\": \"fr-idf\"}}", "host_tags.region: 'fr-idf' is not" },
                { "{\"host_tags\": {\"region\": \"FR_IDF\"}}", "host_tags.region: 'FR_IDF' is not" },
                { "{\"host_tags\": {\"region\": \"FR-IDFX\"}}", "host_tags.region: 'FR-IDFX' is not" },
                { "{\"host_tags\": {\"region\": \"FR-\"}}", "host_tags.region: 'FR-' is not" },
                { "{\"host_tags\": {\"site\": 1}}", "host_tags.site: must be a non-empty string" },
                { "{\"host_tags\": {\"site\": \"\"}}", "host_tags.site: must be a non-empty string" },
                { "{\"host_tags\": {\"site\": null}}", "host_tags.site: must be a non-empty string" },
                { "{\"host_tags\": {\"site\": [\"a\"]}}", "host_tags.site: must be a non-empty string" },
                { "{\"host_tags\": {\"site\": \"a\\tb\"}}", "host_tags.site: must be a non-empty string" },
                { "{\"host_tags\": {\"jurisdiction\": {\"code\": \"FR\"}}}", "host_tags.jurisdiction: must be a non-empty string" },
                { "{\"host_tags\": {\"certifications\": \"hds\"}}", "host_tags.certifications: must be a list of strings" },
                { "{\"host_tags\": {\"certifications\": {}}}", "host_tags.certifications: must be a list of strings" },
                { "{\"host_tags\": {\"certifications\": [\"hds\", 1]}}", "host_tags.certifications[1]: must be a string" },
                { "{\"host_tags\": {\"certifications\": [\"\"]}}", "host_tags.certifications[0]: '' is not a certification name" },
                { "{\"host_tags\": {\"Site\": \"x\"}}", "host_tags.Site: invalid tag name" },
                { "{\"host_tags\": {\"a/b\": \"x\"}}", "host_tags.a/b: invalid tag name" },
                { "{\"host_tags\": {\"\": \"x\"}}", "host_tags.: invalid tag name" },
                { "{\"log_level\": \"debug\"", "invalid JSON" },
                { "{\"log_level\": \"debug\"} {}", "invalid JSON" },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const char *msg = parse_fails(cases[i].json);
                if (strncmp(msg, cases[i].msg, strlen(cases[i].msg)) != 0)
                        TEST_FAIL("config %s: expected message starting \"%s\", got \"%s\"", cases[i].json,
                                   cases[i].msg, msg);
        }
}

static void test_config_listen_limits(void) {
        char json[2048], *p = json;
        char longpath[200];

        /* 17 addresses: one too many. */
        p += sprintf(p, "{\"listen\": [");
        for (int i = 0; i < 17; i++)
                p += sprintf(p, "%s\"unix:/run/s%d.sock\"", i ? "," : "", i);
        sprintf(p, "]}");
        ASSERT_STR_EQ(parse_fails(json), "listen: must list 1 to 16 addresses");
        /* 16 are fine. */
        p = strstr(json, ",\"unix:/run/s16.sock\"");
        ASSERT_NOT_NULL(p);
        strcpy(p, "]}");
        struct config *c = parse_ok(json);
        ASSERT_STR_EQ(c->listen[15], "unix:/run/s15.sock");
        ASSERT_NULL(c->listen[16]);
        config_unref(c);

        /* sun_path holds 107 bytes and the NUL. */
        memset(longpath, 'x', sizeof(longpath));
        snprintf(json, sizeof(json), "{\"listen\": [\"unix:/%.106s\"]}", longpath);
        c = parse_ok(json);
        config_unref(c);
        snprintf(json, sizeof(json), "{\"listen\": [\"unix:/%.107s\"]}", longpath);
        ASSERT_STR_CONTAINS(parse_fails(json), "socket path longer than 107 bytes");
}

/* TCP only with mutual TLS: a tcp: listener without a tls section is refused. */
static void test_config_tcp_refused(void) {
        struct sovd_err err = {};
        const char *msg = parse_fails_with("{\"listen\": [\"tcp:0.0.0.0:8443\"]}", -EINVAL);

        ASSERT_STR_CONTAINS(msg, "listen: 'tcp:0.0.0.0:8443' needs a \"tls\" section");
        ASSERT_STR_CONTAINS(msg, "mutual TLS");
        ASSERT_INT_EQ(config_check_listen("tcp:[::]:1", &err), 0);
        ASSERT_INT_EQ(config_check_listen("tcp:host", &err), -EINVAL);
        ASSERT_INT_EQ(config_check_listen("tcp:host:0", &err), -EINVAL);
        ASSERT_INT_EQ(config_check_listen("tcp:host:65536", &err), -EINVAL);
        ASSERT_INT_EQ(config_check_listen("tcp::8443", &err), -EINVAL);
        ASSERT_INT_EQ(config_check_listen("unix:/run/sovd/sovd.sock", &err), 0);
        ASSERT_INT_EQ(config_check_listen("unix:sovd.sock", &err), -EINVAL);
        ASSERT_INT_EQ(config_check_listen("UNIX:/x", &err), -EINVAL);
}

static void test_config_new_default_has_demo_tags(void) {
        struct config *c = NULL;
        struct json_object *v = NULL;

        ASSERT_OK(config_new_default(&c));
        ASSERT_NULL(c->source);
        ASSERT_STR_EQ(c->libvirt_uri, "test:///default");
        ASSERT_TRUE(strncmp(c->listen[0], "unix:/", 6) == 0);
        ASSERT_TRUE(c->state_dir[0] == '/');
        ASSERT_TRUE(json_object_object_get_ex(c->host_tags.json, "jurisdiction", &v));
        ASSERT_STR_EQ(json_object_get_string(v), "FR");
        ASSERT_TRUE(json_object_object_get_ex(c->host_tags.json, "region", &v));
        ASSERT_STR_EQ(json_object_get_string(v), "FR-IDF");
        ASSERT_TRUE(json_object_object_get_ex(c->host_tags.json, "operator_jurisdiction", &v));
        ASSERT_STR_EQ(json_object_get_string(v), "FR");
        ASSERT_TRUE(json_object_object_get_ex(c->host_tags.json, "certifications", &v));
        ASSERT_INT_EQ(json_object_array_length(v), 3);
        ASSERT_STR_EQ(json_object_get_string(json_object_array_get_idx(v, 0)), "secnumcloud:3.2");
        config_unref(c);
}

static void test_config_role_for_groups(void) {
        char groups[4][64], json[512];
        gid_t gids[4];
        unsigned q[4];
        struct config *c;

        if (some_groups(groups, gids, 4) < 4)
                test_skip("fewer than 4 groups on this host");
        /* groups[3] stays unmapped. */
        snprintf(json, sizeof(json), "{\"unix_roles\": {\"%s\": \"admin\", \"%s\": \"reader\", \"%s\": \"operator\"}}",
                 groups[0], groups[1], groups[2]);
        c = parse_ok(json);
        ASSERT_INT_EQ(c->n_unix_roles, 3);
        for (int i = 0; i < 4; i++)
                q[i] = (unsigned) gids[i];

        ASSERT_INT_EQ(config_role_for_groups(c, q, 0), ROLE_NONE);
        ASSERT_INT_EQ(config_role_for_groups(c, &q[3], 1), ROLE_NONE);
        ASSERT_INT_EQ(config_role_for_groups(c, &q[1], 1), ROLE_READER);
        ASSERT_INT_EQ(config_role_for_groups(c, &q[2], 1), ROLE_OPERATOR);
        ASSERT_INT_EQ(config_role_for_groups(c, &q[0], 1), ROLE_ADMIN);
        /* The highest role wins, whatever the order of groups or mappings. */
        ASSERT_INT_EQ(config_role_for_groups(c, &q[1], 2), ROLE_OPERATOR);
        ASSERT_INT_EQ(config_role_for_groups(c, &q[1], 3), ROLE_OPERATOR);
        ASSERT_INT_EQ(config_role_for_groups(c, q, 4), ROLE_ADMIN);
        unsigned rev[4] = { q[3], q[2], q[1], q[0] };
        ASSERT_INT_EQ(config_role_for_groups(c, rev, 4), ROLE_ADMIN);
        ASSERT_INT_EQ(config_role_for_groups(c, rev, 3), ROLE_OPERATOR);
        config_unref(c);
}

static void test_config_roles_strings(void) {
        ASSERT_INT_EQ(role_from_string("reader"), ROLE_READER);
        ASSERT_INT_EQ(role_from_string("operator"), ROLE_OPERATOR);
        ASSERT_INT_EQ(role_from_string("admin"), ROLE_ADMIN);
        ASSERT_INT_EQ(role_from_string("none"), -EINVAL);
        ASSERT_INT_EQ(role_from_string("Admin"), -EINVAL);
        ASSERT_INT_EQ(role_from_string(""), -EINVAL);
        ASSERT_STR_EQ(role_to_string(ROLE_NONE), "none");
        ASSERT_STR_EQ(role_to_string(ROLE_ADMIN), "admin");
        ASSERT_STR_EQ(role_to_string(_ROLE_MAX), "none");
}

static void test_config_ref_unref(void) {
        struct config *c = parse_ok("{\"libvirt_uri\": \"test:///x\"}");

        ASSERT_TRUE(config_ref(c) == c);
        ASSERT_INT_EQ(c->n_ref, 2);
        ASSERT_NULL(config_unref(c));
        /* Still alive with one reference (ASan would catch a use after free). */
        ASSERT_INT_EQ(c->n_ref, 1);
        ASSERT_STR_EQ(c->libvirt_uri, "test:///x");
        ASSERT_NULL(config_unref(c));
        ASSERT_NULL(config_ref(NULL));
        ASSERT_NULL(config_unref(NULL));
        {
                _cleanup_config_ struct config *scoped = parse_ok("{}");
                ASSERT_NOT_NULL(scoped);
        }
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static void test_config_load(void) {
        char dir[] = "/tmp/sovd-test-config-XXXXXX", path[64], missing[64];
        struct sovd_err err = {};
        struct config *c = NULL;
        _cleanup_free_ char *big = NULL;

        ASSERT_NOT_NULL(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/sovd.conf", dir);
        snprintf(missing, sizeof(missing), "%s/missing.conf", dir);
        static const char conf[] = "{\"log_level\": \"notice\"}\n";
        ASSERT_OK(file_write_atomic(path, conf, strlen(conf), 0600));
        ASSERT_OK(config_load(path, &c, &err));
        ASSERT_STR_EQ(c->source, path);
        ASSERT_INT_EQ(c->log_level, LOG_NOTICE);
        config_unref(c);

        ASSERT_INT_EQ(config_load(missing, &c, &err), -ENOENT);
        ASSERT_STR_CONTAINS(err.msg, "missing.conf: cannot read");

        big = malloc(CONFIG_MAX_SIZE + 1);
        ASSERT_NOT_NULL(big);
        memset(big, ' ', CONFIG_MAX_SIZE + 1);
        big[0] = '{';
        big[CONFIG_MAX_SIZE] = '}';
        ASSERT_OK(file_write_atomic(path, big, CONFIG_MAX_SIZE + 1, 0600));
        ASSERT_INT_EQ(config_load(path, &c, &err), -EFBIG);
        ASSERT_STR_CONTAINS(err.msg, "larger than 1048576 bytes");

        ASSERT_OK(file_write_atomic(path, "{\"bogus\": 1}", strlen("{\"bogus\": 1}"), 0600));
        ASSERT_INT_EQ(config_load(path, &c, &err), -EINVAL);
        ASSERT_STR_CONTAINS(err.msg, "sovd.conf: bogus: unknown member");
        (void) nftw(dir, remove_one, 4, FTW_DEPTH | FTW_PHYS);
}

static void test_config_set_helpers(void) {
        struct config *c = parse_ok("{}");
        char **l = calloc(2, sizeof(char *));

        ASSERT_OK(config_set_string(&c->libvirt_uri, "qemu:///session"));
        ASSERT_STR_EQ(c->libvirt_uri, "qemu:///session");
        ASSERT_NOT_NULL(l);
        l[0] = strdup("unix:/tmp/x.sock");
        ASSERT_OK(config_set_listen(c, l));
        ASSERT_STR_EQ(c->listen[0], "unix:/tmp/x.sock");
        config_unref(c);
}

TEST_MAIN(TEST(test_config_defaults), TEST(test_config_every_key), TEST(test_config_errors_name_the_key),
          TEST(test_config_listen_limits), TEST(test_config_tcp_refused), TEST(test_config_new_default_has_demo_tags),
          TEST(test_config_role_for_groups), TEST(test_config_roles_strings), TEST(test_config_ref_unref),
          TEST(test_config_load), TEST(test_config_set_helpers))
