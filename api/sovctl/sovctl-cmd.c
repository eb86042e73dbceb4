/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sovctl.h"
#include "sovctl-cmd.h"
#include "sovctl-http.h"
#include "sovctl-json.h"
#include "sovctl-print.h"

/* Which subcommand options a command accepts (--json and --help: all). */
enum {
        SOVCTL_OPT_TENANT = 1 << 0,
        SOVCTL_OPT_STATE = 1 << 1,
        SOVCTL_OPT_FILE = 1 << 2,
        SOVCTL_OPT_DELETE_STORAGE = 1 << 3,
        /* Not an option: the command sends POST, so --idempotency-key applies. */
        SOVCTL_OPT_POSTS = 1 << 4,
};

struct sovctl_args {
        const char *tenant;
        const char *state;
        const char *file;
        bool delete_storage;
        char **pos; /* positional arguments, borrowed from argv */
        int n_pos;
};

/*
 * Parses a subcommand's options with getopt_long (GNU permutation, so
 * `vm delete web-1 --delete-storage` works). @what names the command in
 * messages. Returns 0, 1 when --help was printed, or -SOVCTL_E_USAGE.
 */
static int sovctl_parse_args(struct sovctl_ctx *ctx, const char *what, unsigned allowed,
                             int min_pos, int max_pos, int argc, char **argv,
                             struct sovctl_args *ret) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                { "tenant", required_argument, NULL, 't' },
                { "state", required_argument, NULL, 's' },
                { "file", required_argument, NULL, 'f' },
                { "delete-storage", no_argument, NULL, 'D' },
                {}
        };
        struct sovctl_args a = {};
        int c, idx;

        /* optind = 0 makes glibc's getopt start over on this new vector. */
        optind = 0;
        opterr = 0;
        while ((idx = -1, c = getopt_long(argc, argv, ":hf:", options, &idx)) >= 0) {
                unsigned need = 0;

                switch (c) {
                case 'j':
                        ctx->json = true;
                        continue;
                case 'h':
                        sovctl_usage(stdout);
                        return 1;
                case 't':
                        need = SOVCTL_OPT_TENANT;
                        a.tenant = optarg;
                        break;
                case 's':
                        need = SOVCTL_OPT_STATE;
                        a.state = optarg;
                        break;
                case 'f':
                        need = SOVCTL_OPT_FILE;
                        a.file = optarg;
                        break;
                case 'D':
                        need = SOVCTL_OPT_DELETE_STORAGE;
                        a.delete_storage = true;
                        break;
                case ':':
                        return sovctl_usage_error("%s: option '%s' needs a value", what,
                                                  argv[optind - 1]);
                default:
                        if (optopt && optopt != '?')
                                return sovctl_usage_error("%s: unknown option '-%c'", what,
                                                          optopt);
                        return sovctl_usage_error("%s: unknown option '%s'", what,
                                                  argv[optind - 1]);
                }
                if (!(allowed & need)) {
                        /* idx is set for long options only; -f is the one short. */
                        if (idx >= 0)
                                return sovctl_usage_error("%s: option '--%s' does not apply here",
                                                          what, options[idx].name);
                        return sovctl_usage_error("%s: option '-%c' does not apply here", what,
                                                  c);
                }
        }

        if (ctx->idempotency_key && !(allowed & SOVCTL_OPT_POSTS))
                return sovctl_usage_error(
                        "--idempotency-key applies only to vm create and the vm actions");

        a.pos = argv + optind;
        a.n_pos = argc - optind;
        if (a.n_pos < min_pos)
                return sovctl_usage_error("%s: missing argument", what);
        if (a.n_pos > max_pos)
                return sovctl_usage_error("%s: unexpected argument '%s'", what,
                                          a.pos[max_pos]);
        *ret = a;
        return 0;
}

/* Reports a transport failure once and turns it into our error contract. */
static int sovctl_report_transport(struct sovctl_ctx *ctx, int r) {
        const char *target = sovctl_http_target(ctx->http);
        const char *why = sovctl_http_error(ctx->http);

        switch (r) {
        case -ECONNREFUSED:
                if (sovctl_http_is_unix(ctx->http))
                        sovctl_error("cannot connect to %s: %s; is sovd running?", target, why);
                else
                        sovctl_error("cannot connect to %s: %s", target, why);
                return -SOVCTL_E_UNREACHABLE;
        case -ETIMEDOUT:
                sovctl_error("no answer from %s in time: %s", target, why);
                return -SOVCTL_E_UNREACHABLE;
        case -ECONNRESET:
                sovctl_error("connection to %s lost before an answer: %s", target, why);
                return -SOVCTL_E_UNREACHABLE;
        case -EPROTO:
                sovctl_error("TLS with %s failed: %s", target, why);
                return -SOVCTL_E_UNREACHABLE;
        case -EFBIG:
                sovctl_error("answer from %s refused: %s", target, why);
                return -SOVCTL_E_API;
        case -EBADMSG:
                sovctl_error("unusable answer from %s: %s", target, why);
                return -SOVCTL_E_API;
        default:
                return r;
        }
}

/*
 * Sends one request and judges the answer. On 2xx returns the status and
 * sets *ret_json to the parsed body (NULL for an empty body or JSON null).
 * A 4xx/5xx answer is reported (and with --json its problem document also
 * printed on stdout for scripts) and gives -SOVCTL_E_API; transport
 * failures are reported as by sovctl_report_transport().
 */
static int sovctl_call(struct sovctl_ctx *ctx, const char *method, const char *path,
                       const char *body, size_t body_len, struct json_object **ret_json) {
        struct sovctl_response resp = {};
        struct json_object *obj = NULL;
        char why[256];
        int r;

        r = sovctl_http_request(ctx->http, method, path, body, body_len,
                                streq(method, "POST") ? ctx->idempotency_key : NULL, &resp);
        if (r < 0)
                return sovctl_report_transport(ctx, r);

        if (resp.status < 200 || resp.status > 299) {
                /* Best effort: a problem that is not JSON is still shown, raw. */
                if (sovctl_json_parse(resp.body, resp.size, &obj, why, sizeof(why)) < 0)
                        obj = NULL;
                sovctl_print_problem(&resp, obj);
                if (ctx->json && json_object_is_type(obj, json_type_object))
                        sovctl_print_json(stdout, obj);
                json_object_put(obj);
                sovctl_response_done(&resp);
                return -SOVCTL_E_API;
        }

        if (resp.replayed && !ctx->json)
                sovctl_error("note: replayed answer of an earlier request with this "
                             "Idempotency-Key");

        if (resp.size > 0) {
                r = sovctl_json_parse(resp.body, resp.size, &obj, why, sizeof(why));
                if (r == -ENOMEM) {
                        sovctl_response_done(&resp);
                        return r;
                }
                if (r < 0) {
                        _cleanup_free_ char *reason = sovctl_sanitize(resp.reason);

                        sovctl_error("unusable answer from %s (%ld %s): not JSON: %s",
                                     sovctl_http_target(ctx->http), resp.status, strna(reason),
                                     why);
                        sovctl_response_done(&resp);
                        return -SOVCTL_E_API;
                }
        }

        r = (int) resp.status;
        sovctl_response_done(&resp);
        *ret_json = obj;
        return r;
}

/* 8-4-4-4-12 hex digits: what sovd accepts in /v1/vms/{uuid}. */
static bool sovctl_is_uuid(const char *s) {
        static const char layout[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

        if (strlen(s) != sizeof(layout) - 1)
                return false;
        for (size_t i = 0; layout[i]; i++) {
                if (layout[i] == '-' ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
                        return false;
        }
        return true;
}

/* The answer's "vms" array, or NULL after reporting a malformed answer. */
static struct json_object *sovctl_vms_array(struct sovctl_ctx *ctx, struct json_object *answer) {
        struct json_object *vms = sovctl_json_get(answer, "vms");

        if (!json_object_is_type(vms, json_type_array)) {
                sovctl_error("unusable answer from %s: no \"vms\" array in the VM list",
                             sovctl_http_target(ctx->http));
                return NULL;
        }
        return vms;
}

/*
 * Turns UUID|NAME into a UUID. A NAME must match exactly one VM of the
 * unfiltered list; sovd keeps names unique, but libvirt domains sovd did
 * not create are listed too, so ambiguity is still checked. *ret_uuid is
 * malloc'd.
 */
static int sovctl_resolve_vm(struct sovctl_ctx *ctx, const char *arg, char **ret_uuid) {
        _cleanup_json_ struct json_object *answer = NULL;
        _cleanup_free_ char *found = NULL;
        struct json_object *vms;
        size_t n, matches = 0;
        int r;

        if (sovctl_is_uuid(arg)) {
                found = strdup(arg);
                if (!found)
                        return -ENOMEM;
                *ret_uuid = TAKE_PTR(found);
                return 0;
        }

        r = sovctl_call(ctx, "GET", "/v1/vms", NULL, 0, &answer);
        if (r < 0)
                return r;
        vms = sovctl_vms_array(ctx, answer);
        if (!vms)
                return -SOVCTL_E_API;

        n = json_object_array_length(vms);
        for (size_t i = 0; i < n; i++) {
                struct json_object *vm = json_object_array_get_idx(vms, i);
                const char *name = sovctl_json_get_string(vm, "name");
                const char *uuid = sovctl_json_get_string(vm, "uuid");

                if (!name || !streq(name, arg))
                        continue;
                matches++;
                /* It goes into a URL path: only a well-formed UUID may. */
                if (!uuid || !sovctl_is_uuid(uuid)) {
                        sovctl_error("unusable answer from %s: VM '%s' has no valid uuid",
                                     sovctl_http_target(ctx->http), arg);
                        return -SOVCTL_E_API;
                }
                if (!found) {
                        found = strdup(uuid);
                        if (!found)
                                return -ENOMEM;
                }
        }

        if (matches == 0) {
                sovctl_error("no VM named '%s'", arg);
                return -SOVCTL_E_API;
        }
        if (matches > 1) {
                sovctl_error("%zu VMs are named '%s'; give the UUID instead", matches, arg);
                return -SOVCTL_E_API;
        }
        *ret_uuid = TAKE_PTR(found);
        return 0;
}

int sovctl_cmd_host(struct sovctl_ctx *ctx, int argc, char **argv) {
        _cleanup_json_ struct json_object *host = NULL;
        struct sovctl_args a = {};
        int r;

        r = sovctl_parse_args(ctx, "host", 0, 0, 0, argc, argv, &a);
        if (r != 0)
                return r;

        r = sovctl_call(ctx, "GET", "/v1/host", NULL, 0, &host);
        if (r < 0)
                return r;
        if (ctx->json) {
                sovctl_print_json(stdout, host);
                return 0;
        }
        return sovctl_print_block(stdout, host, 0);
}

/* Appends "?key=value" or "&key=value" with the value escaped. */
static int sovctl_query_add(struct sovctl_ctx *ctx, char **path, const char *key,
                            const char *value) {
        _cleanup_free_ char *escaped = NULL;
        char *p;

        if (!value)
                return 0;
        escaped = sovctl_http_escape(ctx->http, value);
        if (!escaped)
                return -ENOMEM;
        if (asprintf(&p, "%s%c%s=%s", *path, strchr(*path, '?') ? '&' : '?', key, escaped) < 0)
                return -ENOMEM;
        free(*path);
        *path = p;
        return 0;
}

static int sovctl_vm_list(struct sovctl_ctx *ctx, int argc, char **argv) {
        static const char *const columns[] = { "UUID",   "NAME",  "STATE", "TENANT",
                                               "POLICY", "VCPUS", "MEMORY", NULL };
        _cleanup_(sovctl_table_freep) struct sovctl_table *table = NULL;
        _cleanup_json_ struct json_object *answer = NULL;
        _cleanup_free_ char *path = NULL;
        struct json_object *vms;
        struct sovctl_args a = {};
        size_t n;
        int r;

        r = sovctl_parse_args(ctx, "vm list", SOVCTL_OPT_TENANT | SOVCTL_OPT_STATE, 0, 0, argc,
                              argv, &a);
        if (r != 0)
                return r;

        path = strdup("/v1/vms");
        if (!path)
                return -ENOMEM;
        r = sovctl_query_add(ctx, &path, "tenant", a.tenant);
        if (r >= 0)
                r = sovctl_query_add(ctx, &path, "state", a.state);
        if (r < 0)
                return r;

        r = sovctl_call(ctx, "GET", path, NULL, 0, &answer);
        if (r < 0)
                return r;
        if (ctx->json) {
                sovctl_print_json(stdout, answer);
                return 0;
        }

        vms = sovctl_vms_array(ctx, answer);
        if (!vms)
                return -SOVCTL_E_API;
        table = sovctl_table_new(columns);
        if (!table)
                return -ENOMEM;

        n = json_object_array_length(vms);
        for (size_t i = 0; i < n; i++) {
                struct json_object *vm = json_object_array_get_idx(vms, i);
                static const char *const keys[] = { "uuid",   "name",  "state", "tenant",
                                                    "policy", "vcpus", "memory_mib" };
                struct json_object *mem = sovctl_json_get(vm, "memory_mib");
                char *cells[ELEMENTSOF(keys)] = {};
                bool oom = false;

                for (size_t k = 0; k + 1 < ELEMENTSOF(keys); k++) {
                        cells[k] = sovctl_format_value(sovctl_json_get(vm, keys[k]));
                        oom = oom || !cells[k];
                }
                if (json_object_is_type(mem, json_type_int)) {
                        if (asprintf(&cells[ELEMENTSOF(keys) - 1], "%" PRId64 "MiB",
                                     json_object_get_int64(mem)) < 0) {
                                cells[ELEMENTSOF(keys) - 1] = NULL;
                                oom = true;
                        }
                } else {
                        cells[ELEMENTSOF(keys) - 1] = sovctl_format_value(mem);
                        oom = oom || !cells[ELEMENTSOF(keys) - 1];
                }
                if (oom) {
                        for (size_t k = 0; k < ELEMENTSOF(keys); k++)
                                free(cells[k]);
                        return -ENOMEM;
                }
                r = sovctl_table_add_row(table, cells);
                if (r < 0)
                        return r;
        }

        sovctl_table_print(table, stdout);
        return 0;
}

static int sovctl_vm_show(struct sovctl_ctx *ctx, int argc, char **argv) {
        _cleanup_json_ struct json_object *vm = NULL;
        _cleanup_free_ char *uuid = NULL, *path = NULL;
        struct sovctl_args a = {};
        int r;

        r = sovctl_parse_args(ctx, "vm show", 0, 1, 1, argc, argv, &a);
        if (r != 0)
                return r;

        r = sovctl_resolve_vm(ctx, a.pos[0], &uuid);
        if (r < 0)
                return r;
        if (asprintf(&path, "/v1/vms/%s", uuid) < 0) {
                path = NULL;
                return -ENOMEM;
        }
        r = sovctl_call(ctx, "GET", path, NULL, 0, &vm);
        if (r < 0)
                return r;
        if (ctx->json) {
                sovctl_print_json(stdout, vm);
                return 0;
        }
        return sovctl_print_block(stdout, vm, 0);
}

/*
 * Reads the whole of @fn ("-": stdin) into a NUL-terminated buffer, up to
 * SOVCTL_MAX_SPEC_BYTES. Reports failures as usage errors: the file is the
 * user's input.
 */
static int sovctl_read_spec(const char *fn, char **ret, size_t *ret_len) {
        _cleanup_fclose_ FILE *owned = NULL;
        _cleanup_free_ char *buf = NULL;
        const char *shown = streq(fn, "-") ? "<stdin>" : fn;
        size_t len = 0, cap = 0;
        FILE *f;

        if (streq(fn, "-"))
                f = stdin;
        else {
                f = owned = fopen(fn, "re");
                if (!f) {
                        sovctl_error("cannot open spec file '%s': %m", fn);
                        return -SOVCTL_E_USAGE;
                }
        }

        for (;;) {
                size_t got;

                if (cap - len < 4096) {
                        size_t ncap = cap ? cap * 2 : 65536;
                        char *p;

                        if (ncap > (size_t) SOVCTL_MAX_SPEC_BYTES + 1)
                                ncap = (size_t) SOVCTL_MAX_SPEC_BYTES + 1;
                        if (ncap <= len + 1) {
                                sovctl_error("spec file '%s' is larger than %u MiB", shown,
                                             SOVCTL_MAX_SPEC_BYTES / (1024u * 1024u));
                                return -SOVCTL_E_USAGE;
                        }
                        p = realloc(buf, ncap);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        cap = ncap;
                }
                got = fread(buf + len, 1, cap - len - 1, f);
                len += got;
                if (got == 0) {
                        if (ferror(f)) {
                                sovctl_error("cannot read spec file '%s': %m", shown);
                                return -SOVCTL_E_USAGE;
                        }
                        break;
                }
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

static int sovctl_vm_create(struct sovctl_ctx *ctx, int argc, char **argv) {
        _cleanup_json_ struct json_object *spec = NULL, *vm = NULL;
        _cleanup_free_ char *buf = NULL;
        struct sovctl_args a = {};
        const char *shown;
        char why[256];
        size_t len;
        int r;

        r = sovctl_parse_args(ctx, "vm create", SOVCTL_OPT_FILE | SOVCTL_OPT_POSTS, 0, 0, argc,
                              argv, &a);
        if (r != 0)
                return r;
        if (!a.file)
                return sovctl_usage_error("vm create: needs -f SPEC.json (or -f - for stdin)");
        shown = streq(a.file, "-") ? "<stdin>" : a.file;

        r = sovctl_read_spec(a.file, &buf, &len);
        if (r < 0)
                return r;
        /* Judge it here: a typo is the user's to fix, not a round trip to sovd. */
        r = sovctl_json_parse(buf, len, &spec, why, sizeof(why));
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                sovctl_error("spec file '%s' is not valid JSON: %s", shown, why);
                return -SOVCTL_E_USAGE;
        }
        if (!json_object_is_type(spec, json_type_object)) {
                sovctl_error("spec file '%s' must hold a JSON object", shown);
                return -SOVCTL_E_USAGE;
        }

        /* The bytes as written: sovd judges the spec, and re-encoding could alter numbers. */
        r = sovctl_call(ctx, "POST", "/v1/vms", buf, len, &vm);
        if (r < 0)
                return r;
        if (ctx->json) {
                sovctl_print_json(stdout, vm);
                return 0;
        }
        return sovctl_print_block(stdout, vm, 0);
}

struct sovctl_action {
        const char *name;
        const char *done; /* for the one-line summary */
};

static const struct sovctl_action sovctl_actions[] = {
        { "start", "started" },     { "shutdown", "asked to shut down" },
        { "stop", "stopped" },      { "reboot", "rebooted" },
        { "suspend", "suspended" }, { "resume", "resumed" },
};

static int sovctl_vm_action(struct sovctl_ctx *ctx, const struct sovctl_action *action,
                            int argc, char **argv) {
        _cleanup_json_ struct json_object *vm = NULL;
        _cleanup_free_ char *uuid = NULL, *path = NULL, *what = NULL, *name = NULL,
                            *state = NULL;
        struct sovctl_args a = {};
        int r;

        if (asprintf(&what, "vm %s", action->name) < 0) {
                what = NULL;
                return -ENOMEM;
        }
        r = sovctl_parse_args(ctx, what, SOVCTL_OPT_POSTS, 1, 1, argc, argv, &a);
        if (r != 0)
                return r;

        r = sovctl_resolve_vm(ctx, a.pos[0], &uuid);
        if (r < 0)
                return r;
        if (asprintf(&path, "/v1/vms/%s/%s", uuid, action->name) < 0) {
                path = NULL;
                return -ENOMEM;
        }
        /* The API accepts no body or "{}"; "{}" keeps Content-Type honest. */
        r = sovctl_call(ctx, "POST", path, "{}", 2, &vm);
        if (r < 0)
                return r;
        if (ctx->json) {
                sovctl_print_json(stdout, vm);
                return 0;
        }

        name = sovctl_sanitize(sovctl_json_get_string(vm, "name") ?: a.pos[0]);
        state = sovctl_format_value(sovctl_json_get(vm, "state"));
        if (!name || !state)
                return -ENOMEM;
        printf("%s (%s) %s; state: %s\n", name, uuid, action->done, state);
        return 0;
}

static int sovctl_vm_delete(struct sovctl_ctx *ctx, int argc, char **argv) {
        _cleanup_json_ struct json_object *answer = NULL;
        _cleanup_free_ char *uuid = NULL, *path = NULL, *name = NULL;
        struct sovctl_args a = {};
        int r;

        r = sovctl_parse_args(ctx, "vm delete", SOVCTL_OPT_DELETE_STORAGE, 1, 1, argc, argv, &a);
        if (r != 0)
                return r;

        r = sovctl_resolve_vm(ctx, a.pos[0], &uuid);
        if (r < 0)
                return r;
        if (asprintf(&path, "/v1/vms/%s%s", uuid,
                     a.delete_storage ? "?delete_storage=true" : "") < 0) {
                path = NULL;
                return -ENOMEM;
        }
        r = sovctl_call(ctx, "DELETE", path, NULL, 0, &answer);
        if (r < 0)
                return r;
        if (ctx->json) {
                /* 204 carries nothing; print only what a server chose to send. */
                if (answer)
                        sovctl_print_json(stdout, answer);
                return 0;
        }

        name = sovctl_sanitize(a.pos[0]);
        if (!name)
                return -ENOMEM;
        if (streq(name, uuid))
                printf("%s deleted%s\n", uuid, a.delete_storage ? " with its storage" : "");
        else
                printf("%s (%s) deleted%s\n", name, uuid,
                       a.delete_storage ? " with its storage" : "");
        return 0;
}

int sovctl_cmd_vm(struct sovctl_ctx *ctx, int argc, char **argv) {
        const char *sub;

        if (argc < 2)
                return sovctl_usage_error("vm: missing subcommand");
        sub = argv[1];
        argc--;
        argv++;

        if (streq(sub, "list"))
                return sovctl_vm_list(ctx, argc, argv);
        if (streq(sub, "show"))
                return sovctl_vm_show(ctx, argc, argv);
        if (streq(sub, "create"))
                return sovctl_vm_create(ctx, argc, argv);
        if (streq(sub, "delete"))
                return sovctl_vm_delete(ctx, argc, argv);
        for (size_t i = 0; i < ELEMENTSOF(sovctl_actions); i++)
                if (streq(sub, sovctl_actions[i].name))
                        return sovctl_vm_action(ctx, &sovctl_actions[i], argc, argv);
        if (streq(sub, "help") || streq(sub, "--help") || streq(sub, "-h")) {
                sovctl_usage(stdout);
                return 1;
        }
        return sovctl_usage_error("vm: unknown subcommand '%s'", sub);
}
