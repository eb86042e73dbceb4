/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The configuration file: config_parse() on any bytes must fail cleanly or
 * give a configuration that holds what the rest of sovd assumes.
 */
#include "fuzz.h"
#include "sovd/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct config *c = NULL;
        struct sovd_err err = {};
        int r;

        r = config_parse((const char *) data, size, "fuzz.conf", &c, &err);
        if (r < 0) {
                FUZZ_CHECK(!c, "config set on failure");
                FUZZ_CHECK(err.msg[0] != '\0', "failure %d without a message", r);
                return 0;
        }
        FUZZ_CHECK(c && c->n_ref == 1, "bad reference count");
        FUZZ_CHECK(c->listen && c->listen[0], "no listen address");
        for (char **l = c->listen; *l; l++)
                FUZZ_CHECK(config_check_listen(*l, NULL) == 0, "accepted listen address '%s' fails its own check", *l);
        FUZZ_CHECK(c->libvirt_uri && *c->libvirt_uri, "empty libvirt_uri");
        FUZZ_CHECK(c->state_dir && c->state_dir[0] == '/', "relative state_dir");
        FUZZ_CHECK(c->max_body_bytes >= 1024 && c->max_body_bytes <= 64 * 1024 * 1024, "max_body_bytes out of range");
        FUZZ_CHECK(c->max_connections >= 1 && c->max_connections <= 65536, "max_connections out of range");
        FUZZ_CHECK(!c->host_tags.json || json_object_is_type(c->host_tags.json, json_type_object), "host_tags not an object");
        for (size_t i = 0; i < c->host_tags.n_items; i++)
                FUZZ_CHECK(c->host_tags.items[i].key && c->host_tags.items[i].value, "tag without key or value");
        for (size_t i = 0; i < c->n_unix_roles; i++)
                FUZZ_CHECK(c->unix_roles[i].role > ROLE_NONE && c->unix_roles[i].role < _ROLE_MAX, "bad role");
        config_unref(c);
        return 0;
}
