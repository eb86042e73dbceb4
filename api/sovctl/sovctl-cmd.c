/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sovd/audit-chain.h"
#include "sovd/strbuf.h"
#include "sovctl.h"
#include "sovctl-cmd.h"
#include "sovctl-http.h"
#include "sovctl-json.h"
#include "sovctl-print.h"

/*
 * The subcommand options past --json and --help: the SOVCTL_OPT_* bit of
 * the commands that take one, and the member of struct sovctl_args it
 * sets, a const char * for an option with a value, a bool for a flag.
 */
struct sovctl_option {
        const char *name;
        unsigned need;
        size_t offset;
        bool flag;
};
#define SOVCTL_OPTION_VALUE(n, bit, member) { n, bit, offsetof(struct sovctl_args, member), false }
#define SOVCTL_OPTION_FLAG(n, bit, member) { n, bit, offsetof(struct sovctl_args, member), true }

static const struct sovctl_option sovctl_options[] = {
        SOVCTL_OPTION_VALUE("file", SOVCTL_OPT_FILE, file), /* first: -f is its short form */
        SOVCTL_OPTION_VALUE("tenant", SOVCTL_OPT_TENANT, tenant),
        SOVCTL_OPTION_VALUE("state", SOVCTL_OPT_STATE, state),
        SOVCTL_OPTION_FLAG("delete-storage", SOVCTL_OPT_DELETE_STORAGE, delete_storage),
        SOVCTL_OPTION_VALUE("since", SOVCTL_OPT_SINCE, since),
        SOVCTL_OPTION_VALUE("vm", SOVCTL_OPT_VM, vm),
        SOVCTL_OPTION_VALUE("decision", SOVCTL_OPT_DECISION, decision),
        SOVCTL_OPTION_VALUE("limit", SOVCTL_OPT_LIMIT, limit),
        SOVCTL_OPTION_VALUE("after", SOVCTL_OPT_AFTER, after),
        SOVCTL_OPTION_FLAG("partial", SOVCTL_OPT_PARTIAL, partial),
        SOVCTL_OPTION_VALUE("policy", SOVCTL_OPT_EVALUATE, policy),
        SOVCTL_OPTION_VALUE("kind", SOVCTL_OPT_KIND, kind),
        SOVCTL_OPTION_FLAG("host", SOVCTL_OPT_EVALUATE, host),
        SOVCTL_OPTION_VALUE("pool", SOVCTL_OPT_POOL, pool),
        SOVCTL_OPTION_VALUE("backup-target", SOVCTL_OPT_EVALUATE, backup_target),
        SOVCTL_OPTION_VALUE("tags", SOVCTL_OPT_EVALUATE, tags),
        SOVCTL_OPTION_VALUE("at", SOVCTL_OPT_EVALUATE, at),
        SOVCTL_OPTION_VALUE("description", SOVCTL_OPT_DESCRIPTION, description),
        SOVCTL_OPTION_FLAG("wait", SOVCTL_OPT_WAIT, wait),
        SOVCTL_OPTION_VALUE("timeout", SOVCTL_OPT_TIMEOUT, timeout),
        SOVCTL_OPTION_VALUE("target", SOVCTL_OPT_TARGET, target),
        SOVCTL_OPTION_VALUE("mode", SOVCTL_OPT_MODE, mode),
        SOVCTL_OPTION_VALUE("name", SOVCTL_OPT_RESTORE, name),
        SOVCTL_OPTION_FLAG("in-place", SOVCTL_OPT_RESTORE, in_place),
        SOVCTL_OPTION_VALUE("peer", SOVCTL_OPT_MIGRATE, peer),
        SOVCTL_OPTION_FLAG("copy-storage", SOVCTL_OPT_MIGRATE, copy_storage),
        SOVCTL_OPTION_VALUE("destination-pool", SOVCTL_OPT_MIGRATE, destination_pool),
};
/* getopt_long's value for sovctl_options[i]: past every character. */
#define SOVCTL_OPTION_BASE 0x100

int sovctl_parse_args(struct sovctl_ctx *ctx, const char *what, unsigned allowed, int min_pos, int max_pos,
                      int argc, char **argv, struct sovctl_args *ret) {
        struct option options[ELEMENTSOF(sovctl_options) + 3] = {
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
        };
        struct sovctl_args a = {};
        int c, idx;

        for (size_t i = 0; i < ELEMENTSOF(sovctl_options); i++)
                options[i + 2] = (struct option){ sovctl_options[i].name,
                                                  sovctl_options[i].flag ? no_argument : required_argument, NULL,
                                                  SOVCTL_OPTION_BASE + (int) i };

        /* optind = 0 makes glibc's getopt start over on this new vector. */
        optind = 0;
        opterr = 0;
        while ((idx = -1, c = getopt_long(argc, argv, ":hf:", options, &idx)) >= 0) {
                const struct sovctl_option *o;

                if (c == 'j') {
                        ctx->json = true;
                        continue;
                }
                if (c == 'h') {
                        sovctl_usage(stdout);
                        return 1;
                }
                if (c == ':')
                        return sovctl_usage_error("%s: option '%s' needs a value", what, argv[optind - 1]);
                if (c == 'f')
                        c = SOVCTL_OPTION_BASE;
                if (c < SOVCTL_OPTION_BASE || c >= SOVCTL_OPTION_BASE + (int) ELEMENTSOF(sovctl_options)) {
                        /* getopt's "unknown" for "--flag=value": optopt is the flag's value. */
                        if (optopt >= SOVCTL_OPTION_BASE)
                                return sovctl_usage_error("%s: option '--%s' takes no value", what,
                                                          sovctl_options[optopt - SOVCTL_OPTION_BASE].name);
                        if (optopt && optopt != '?')
                                return sovctl_usage_error("%s: unknown option '-%c'", what, optopt);
                        return sovctl_usage_error("%s: unknown option '%s'", what, argv[optind - 1]);
                }

                o = &sovctl_options[c - SOVCTL_OPTION_BASE];
                if (!(allowed & o->need)) {
                        /* idx is set for long options only; -f is the one short. */
                        if (idx >= 0)
                                return sovctl_usage_error("%s: option '--%s' does not apply here", what, o->name);
                        return sovctl_usage_error("%s: option '-f' does not apply here", what);
                }
                if (o->flag)
                        *(bool *) ((char *) &a + o->offset) = true;
                else
                        *(const char **) ((char *) &a + o->offset) = optarg;
        }

        if (ctx->idempotency_key && !(allowed & SOVCTL_OPT_POSTS))
                return sovctl_usage_error("--idempotency-key applies only to commands that send POST "
                                          "(see 'sovctl --help')");

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

int sovctl_call(struct sovctl_ctx *ctx, const char *method, const char *path, const char *body, size_t body_len,
                struct json_object **ret_json) {
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

int sovctl_call_json(struct sovctl_ctx *ctx, const char *method, const char *path, struct json_object *body,
                     struct json_object **ret_json) {
        const char *text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                                        JSON_C_TO_STRING_NOSLASHESCAPE);

        if (!text)
                return -ENOMEM;
        return sovctl_call(ctx, method, path, text, strlen(text), ret_json);
}

bool sovctl_is_uuid(const char *s) {
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
 * A NAME must match exactly one VM of the unfiltered list; sovd keeps names
 * unique, but libvirt domains sovd did not create are listed too, so
 * ambiguity is still checked.
 */
int sovctl_resolve_vm(struct sovctl_ctx *ctx, const char *arg, char **ret_uuid) {
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
        if (sovctl_json_done(ctx, host))
                return 0;
        return sovctl_print_block(stdout, host, 0);
}

int sovctl_query_add(struct sovctl_ctx *ctx, char **path, const char *key, const char *value) {
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
        if (sovctl_json_done(ctx, answer))
                return 0;

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
        if (sovctl_json_done(ctx, vm))
                return 0;
        return sovctl_print_vm(stdout, vm);
}

/*
 * Reads the whole of @fn ("-": stdin) into a NUL-terminated buffer, up to
 * SOVCTL_MAX_SPEC_BYTES. Reports failures as usage errors: the file is the
 * user's input; @what names it in messages ("spec file").
 */
static int sovctl_read_input(const char *what, const char *fn, char **ret, size_t *ret_len) {
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
                        sovctl_error("cannot open %s '%s': %m", what, fn);
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
                                sovctl_error("%s '%s' is larger than %u MiB", what, shown,
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
                                sovctl_error("cannot read %s '%s': %m", what, shown);
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

        r = sovctl_read_input("spec file", a.file, &buf, &len);
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
        if (sovctl_json_done(ctx, vm))
                return 0;
        return sovctl_print_vm(stdout, vm);
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
        _cleanup_free_ char *uuid = NULL, *path = NULL, *what = NULL;
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
        if (sovctl_json_done(ctx, vm))
                return 0;
        return sovctl_print_vm_done(stdout, vm, a.pos[0], uuid, action->done);
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
        /* 204 carries nothing; print only what a server chose to send. */
        if (sovctl_json_done(ctx, answer))
                return 0;

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

int sovctl_subcommand(const char *command, int *argc, char ***argv, const char **ret_sub) {
        const char *sub;

        if (*argc < 2)
                return sovctl_usage_error("%s: missing subcommand", command);
        sub = (*argv)[1];
        (*argc)--;
        (*argv)++;
        if (streq(sub, "help") || streq(sub, "--help") || streq(sub, "-h")) {
                sovctl_usage(stdout);
                return 1;
        }
        *ret_sub = sub;
        return 0;
}

int sovctl_dispatch(struct sovctl_ctx *ctx, const char *command, const struct sovctl_command *subs, size_t n,
                    int argc, char **argv) {
        const char *sub = NULL;
        int r = sovctl_subcommand(command, &argc, &argv, &sub);

        if (r != 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (streq(sub, subs[i].name))
                        return subs[i].run(ctx, argc, argv);
        return sovctl_usage_error("%s: unknown subcommand '%s'", command, sub);
}

bool sovctl_json_done(struct sovctl_ctx *ctx, struct json_object *answer) {
        if (!ctx->json)
                return false;
        if (answer)
                sovctl_print_json(stdout, answer);
        return true;
}

int sovctl_cmd_vm(struct sovctl_ctx *ctx, int argc, char **argv) {
        const char *sub = NULL;
        int r = sovctl_subcommand("vm", &argc, &argv, &sub);

        if (r != 0)
                return r;

        if (streq(sub, "list"))
                return sovctl_vm_list(ctx, argc, argv);
        if (streq(sub, "show"))
                return sovctl_vm_show(ctx, argc, argv);
        if (streq(sub, "create"))
                return sovctl_vm_create(ctx, argc, argv);
        if (streq(sub, "delete"))
                return sovctl_vm_delete(ctx, argc, argv);
        if (streq(sub, "migrate"))
                return sovctl_cmd_vm_migrate(ctx, argc, argv);
        for (size_t i = 0; i < ELEMENTSOF(sovctl_actions); i++)
                if (streq(sub, sovctl_actions[i].name))
                        return sovctl_vm_action(ctx, &sovctl_actions[i], argc, argv);
        return sovctl_usage_error("vm: unknown subcommand '%s'", sub);
}

/*
 * A time option (--since, --at): RFC 3339 UTC ("2026-11-23T17:40:02Z") or a
 * date (midnight UTC), turned into the form the server wants.
 */
static int sovctl_time_param(const char *option, const char *s, char **ret) {
        struct tm tm = {};
        const char *end;
        char buf[32];

        end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (!end || *end) {
                tm = (struct tm){};
                end = strptime(s, "%Y-%m-%d", &tm);
                if (!end || *end)
                        return sovctl_usage_error("%s: '%s' is not a date (2026-11-23) or a UTC time "
                                                  "(2026-11-23T17:40:02Z)",
                                                  option, s);
        }
        if (strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return -EINVAL;
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

int sovctl_check_choice(const char *option, const char *value, const char *const *choices, size_t n) {
        _cleanup_strbuf_ struct strbuf sb = {};

        for (size_t i = 0; i < n; i++)
                if (streq(value, choices[i]))
                        return 0;
        for (size_t i = 0; i < n; i++) {
                strbuf_append(&sb, i == 0 ? "" : i + 1 == n ? " or " : ", ");
                strbuf_append(&sb, choices[i]);
        }
        if (sb.oom)
                return -ENOMEM;
        return sovctl_usage_error("%s: '%s' is not %s", option, value, sb.buf);
}

/* ---- policies, pools, backup targets ------------------------------------ */

/* The rule kinds a dry run may name (docs/policy-format.md). */
static const char *const sovctl_policy_kinds[] = { "compute", "storage", "snapshot", "backup", "migration" };

struct json_object *sovctl_answer_array(struct sovctl_ctx *ctx, struct json_object *answer, const char *key) {
        struct json_object *a = sovctl_json_get(answer, key);

        if (!json_object_is_type(a, json_type_array)) {
                sovctl_error("unusable answer from %s: no \"%s\" array", sovctl_http_target(ctx->http), key);
                return NULL;
        }
        return a;
}

/* `policy list`: GET /v1/policies as a table. */
static int sovctl_policy_list(struct sovctl_ctx *ctx, int argc, char **argv) {
        static const char *const columns[] = { "NAME", "REVISION", "MODE", "DIGEST", "DESCRIPTION", NULL };
        _cleanup_(sovctl_table_freep) struct sovctl_table *table = NULL;
        _cleanup_json_ struct json_object *answer = NULL;
        struct json_object *policies;
        struct sovctl_args a = {};
        size_t n;
        int r;

        r = sovctl_parse_args(ctx, "policy list", 0, 0, 0, argc, argv, &a);
        if (r != 0)
                return r;
        r = sovctl_call(ctx, "GET", "/v1/policies", NULL, 0, &answer);
        if (r < 0)
                return r;
        if (sovctl_json_done(ctx, answer))
                return 0;

        policies = sovctl_answer_array(ctx, answer, "policies");
        if (!policies)
                return -SOVCTL_E_API;
        table = sovctl_table_new(columns);
        if (!table)
                return -ENOMEM;
        n = json_object_array_length(policies);
        for (size_t i = 0; i < n; i++) {
                struct json_object *p = json_object_array_get_idx(policies, i);
                char *cells[] = {
                        sovctl_format_value(sovctl_json_get(p, "name")),
                        sovctl_format_value(sovctl_json_get(p, "revision")),
                        sovctl_format_value(sovctl_json_get(p, "mode")),
                        sovctl_short_digest(sovctl_json_get(p, "digest")),
                        sovctl_format_value(sovctl_json_get(p, "description")),
                };

                r = sovctl_table_add_built(table, cells, ELEMENTSOF(cells));
                if (r < 0)
                        return r;
        }
        sovctl_table_print(table, stdout);
        /* api.md: no set ever loaded; every bound VM is then denied. Worth saying. */
        if (n == 0 && json_object_is_type(sovctl_json_get(answer, "dir"), json_type_null))
                sovctl_error("note: sovd has no policy set loaded; every VM bound to a policy is denied");
        return 0;
}

/* `policy show NAME`: GET /v1/policies/NAME in words. */
static int sovctl_policy_show(struct sovctl_ctx *ctx, int argc, char **argv) {
        _cleanup_json_ struct json_object *answer = NULL;
        _cleanup_free_ char *name = NULL, *path = NULL;
        struct sovctl_args a = {};
        int r;

        r = sovctl_parse_args(ctx, "policy show", 0, 1, 1, argc, argv, &a);
        if (r != 0)
                return r;
        name = sovctl_http_escape(ctx->http, a.pos[0]);
        if (!name)
                return -ENOMEM;
        if (asprintf(&path, "/v1/policies/%s", name) < 0) {
                path = NULL;
                return -ENOMEM;
        }
        r = sovctl_call(ctx, "GET", path, NULL, 0, &answer);
        if (r < 0)
                return r;
        if (sovctl_json_done(ctx, answer))
                return 0;
        return sovctl_print_policy(stdout, answer);
}

/* The "place" member of a dry run from the one place option given. */
static int sovctl_evaluate_place(const struct sovctl_args *a, struct json_object **ret) {
        _cleanup_json_ struct json_object *place = json_object_new_object(), *tags = NULL;
        _cleanup_free_ char *buf = NULL;
        const char *shown;
        char why[256];
        size_t len;
        int r;

        if (!place)
                return -ENOMEM;
        if (a->host) {
                if (json_object_object_add(place, "type", json_object_new_string("host")) < 0)
                        return -ENOMEM;
        } else if (a->pool || a->backup_target) {
                if (json_object_object_add(place, "type",
                                           json_object_new_string(a->pool ? "storage_pool" : "backup_target")) < 0 ||
                    json_object_object_add(place, "name", json_object_new_string(a->pool ?: a->backup_target)) < 0)
                        return -ENOMEM;
        } else {
                /* A place not configured yet: its tags, judged here before sovd sees them. */
                shown = streq(a->tags, "-") ? "<stdin>" : a->tags;
                r = sovctl_read_input("tags file", a->tags, &buf, &len);
                if (r < 0)
                        return r;
                r = sovctl_json_parse(buf, len, &tags, why, sizeof(why));
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        sovctl_error("tags file '%s' is not valid JSON: %s", shown, why);
                        return -SOVCTL_E_USAGE;
                }
                if (!json_object_is_type(tags, json_type_object)) {
                        sovctl_error("tags file '%s' must hold a JSON object of tags, e.g. "
                                     "{\"jurisdiction\": \"FR\", \"site\": \"par-1\"}",
                                     shown);
                        return -SOVCTL_E_USAGE;
                }
                if (json_object_object_add(place, "tags", TAKE_PTR(tags)) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(place);
        return 0;
}

/*
 * `policy evaluate`: POST /v1/policies/evaluate, a dry run of one rule of
 * one policy on one place. Returns 0 when the decision allows and
 * -SOVCTL_E_DENIED when it denies, the decision printed either way.
 */
static int sovctl_policy_evaluate(struct sovctl_ctx *ctx, int argc, char **argv) {
        _cleanup_json_ struct json_object *body = NULL, *place = NULL, *answer = NULL;
        _cleanup_free_ char *at = NULL;
        struct sovctl_args a = {};
        const char *outcome;
        int r;

        r = sovctl_parse_args(ctx, "policy evaluate", SOVCTL_OPT_EVALUATE | SOVCTL_OPT_KIND | SOVCTL_OPT_POOL, 0, 0,
                              argc, argv, &a);
        if (r != 0)
                return r;
        if (!a.policy)
                return sovctl_usage_error("policy evaluate: needs --policy NAME");
        if (!a.kind)
                return sovctl_usage_error("policy evaluate: needs --kind KIND (compute, storage, snapshot, "
                                          "backup or migration)");
        r = sovctl_check_choice("--kind", a.kind, sovctl_policy_kinds, ELEMENTSOF(sovctl_policy_kinds));
        if (r < 0)
                return r;
        if ((int) a.host + !!a.pool + !!a.backup_target + !!a.tags != 1)
                return sovctl_usage_error("policy evaluate: needs exactly one place: --host, --pool NAME, "
                                          "--backup-target NAME or --tags FILE");
        if (a.at && (r = sovctl_time_param("--at", a.at, &at)) < 0)
                return r;
        r = sovctl_evaluate_place(&a, &place);
        if (r < 0)
                return r;

        body = json_object_new_object();
        if (!body || json_object_object_add(body, "policy", json_object_new_string(a.policy)) < 0 ||
            json_object_object_add(body, "kind", json_object_new_string(a.kind)) < 0 ||
            json_object_object_add(body, "place", TAKE_PTR(place)) < 0 ||
            (at && json_object_object_add(body, "at", json_object_new_string(at)) < 0))
                return -ENOMEM;

        r = sovctl_call_json(ctx, "POST", "/v1/policies/evaluate", body, &answer);
        if (r < 0)
                return r;
        if (ctx->json)
                sovctl_print_json(stdout, answer);
        outcome = sovctl_json_get_string(answer, "outcome");
        if (!outcome || (!streq(outcome, "allow") && !streq(outcome, "deny"))) {
                sovctl_error("unusable answer from %s: the decision has no outcome allow or deny",
                             sovctl_http_target(ctx->http));
                return -SOVCTL_E_API;
        }
        if (!ctx->json) {
                r = sovctl_print_decision(stdout, answer, 0, false);
                if (r < 0)
                        return r;
        }
        /* Scripts ask "may this go there?": the exit status answers. */
        return streq(outcome, "allow") ? 0 : -SOVCTL_E_DENIED;
}

int sovctl_cmd_policy(struct sovctl_ctx *ctx, int argc, char **argv) {
        const char *sub = NULL;
        int r = sovctl_subcommand("policy", &argc, &argv, &sub);

        if (r != 0)
                return r;

        if (streq(sub, "list"))
                return sovctl_policy_list(ctx, argc, argv);
        if (streq(sub, "show"))
                return sovctl_policy_show(ctx, argc, argv);
        if (streq(sub, "evaluate"))
                return sovctl_policy_evaluate(ctx, argc, argv);
        return sovctl_usage_error("policy: unknown subcommand '%s'", sub);
}

/* What differs between the pool and the backup target listings. */
struct sovctl_places {
        const char *command; /* "pool", "backup-target" */
        const char *path;    /* the route */
        const char *key;     /* the answer's array */
        const char *column;  /* second column: header, and the member it shows */
        const char *member;
};

static const struct sovctl_places sovctl_pools = {
        "pool", "/v1/storage-pools", "storage_pools", "IN-LIBVIRT", "in_libvirt",
};
static const struct sovctl_places sovctl_backup_targets = {
        "backup-target", "/v1/backup-targets", "backup_targets", "PATH", "path",
};

/* `pool list`, `backup-target list`: configured places and their tags as a table. */
static int sovctl_places_list(struct sovctl_ctx *ctx, const struct sovctl_places *what, int argc, char **argv) {
        const char *columns[] = { "NAME", what->column, "TAGGED", "JURISDICTION", "SITE", "CERTIFICATIONS", NULL };
        _cleanup_(sovctl_table_freep) struct sovctl_table *table = NULL;
        _cleanup_json_ struct json_object *answer = NULL;
        _cleanup_free_ char *label = NULL;
        struct json_object *places;
        struct sovctl_args a = {};
        size_t n;
        int r;

        if (asprintf(&label, "%s list", what->command) < 0) {
                label = NULL;
                return -ENOMEM;
        }
        r = sovctl_parse_args(ctx, label, 0, 0, 0, argc, argv, &a);
        if (r != 0)
                return r;
        r = sovctl_call(ctx, "GET", what->path, NULL, 0, &answer);
        if (r < 0)
                return r;
        if (sovctl_json_done(ctx, answer))
                return 0;

        places = sovctl_answer_array(ctx, answer, what->key);
        if (!places)
                return -SOVCTL_E_API;
        table = sovctl_table_new(columns);
        if (!table)
                return -ENOMEM;
        n = json_object_array_length(places);
        for (size_t i = 0; i < n; i++) {
                struct json_object *p = json_object_array_get_idx(places, i);
                struct json_object *tags = sovctl_json_get(p, "tags");
                char *cells[] = {
                        sovctl_format_value(sovctl_json_get(p, "name")),
                        sovctl_format_value(sovctl_json_get(p, what->member)),
                        sovctl_format_value(sovctl_json_get(p, "tagged")),
                        sovctl_format_value(sovctl_json_get(tags, "jurisdiction")),
                        sovctl_format_value(sovctl_json_get(tags, "site")),
                        sovctl_format_certifications(sovctl_json_get(tags, "certifications")),
                };

                r = sovctl_table_add_built(table, cells, ELEMENTSOF(cells));
                if (r < 0)
                        return r;
        }
        sovctl_table_print(table, stdout);
        return 0;
}

static int sovctl_cmd_places(struct sovctl_ctx *ctx, const struct sovctl_places *what, int argc, char **argv) {
        const char *sub = NULL;
        int r = sovctl_subcommand(what->command, &argc, &argv, &sub);

        if (r != 0)
                return r;
        if (streq(sub, "list"))
                return sovctl_places_list(ctx, what, argc, argv);
        return sovctl_usage_error("%s: unknown subcommand '%s'", what->command, sub);
}

int sovctl_cmd_pool(struct sovctl_ctx *ctx, int argc, char **argv) {
        return sovctl_cmd_places(ctx, &sovctl_pools, argc, argv);
}

int sovctl_cmd_backup_target(struct sovctl_ctx *ctx, int argc, char **argv) {
        return sovctl_cmd_places(ctx, &sovctl_backup_targets, argc, argv);
}

/* ---- audit -------------------------------------------------------------- */

/* Page size asked of the server; its own cap (AUDIT_QUERY_LIMIT_MAX) is 1000. */
#define SOVCTL_AUDIT_PAGE_MAX 1000u
#define SOVCTL_AUDIT_DEFAULT_LIMIT 100u
#define SOVCTL_AUDIT_LIMIT_MAX 1000000u

/* A verification result, from the local verifier or the server's JSON, for one printer. */
struct sovctl_verify_view {
        bool valid;
        uint64_t records, files, first_seq;
        const char *head, *first_prev;
        bool partial;
        bool bad_known; /* when !valid: the fields below were given */
        const char *bad_file, *bad_reason;
        uint64_t bad_line, bad_seq;
        bool tail;
        const char *tail_file;
        uint64_t tail_line, tail_bytes;
};

/*
 * Prints the outcome of a verification: on success one summary line,
 *   120 records in 3 files verified; chain head 3f0c...
 * otherwise the first bad record on stdout, as FILE:LINE (seq S): reason,
 * and returns -SOVCTL_E_API (exit status 1). Everything is sanitized: a
 * server, or a file being verified, may hold anything.
 */
static int sovctl_verify_print(const struct sovctl_verify_view *v) {
        _cleanup_free_ char *head = sovctl_sanitize(v->head), *file = NULL, *reason = NULL;

        if (!head)
                return -ENOMEM;
        if (v->tail) {
                _cleanup_free_ char *tf = sovctl_sanitize(v->tail_file);

                if (!tf)
                        return -ENOMEM;
                sovctl_error("note: %s:%" PRIu64 ": the last line has no line end (%" PRIu64
                             " bytes): a write in progress or cut short by a crash; not counted",
                             tf, v->tail_line, v->tail_bytes);
        }
        if (v->valid) {
                printf("%" PRIu64 " record%s in %" PRIu64 " file%s verified; chain head %s\n", v->records,
                       v->records == 1 ? "" : "s", v->files, v->files == 1 ? "" : "s", head);
                if (v->partial && v->records > 0 && v->first_prev &&
                    (v->first_seq != 1 || !streq(v->first_prev, AUDIT_CHAIN_START))) {
                        _cleanup_free_ char *fp = sovctl_sanitize(v->first_prev);

                        if (!fp)
                                return -ENOMEM;
                        /* What the earlier part of the chain must end with. */
                        printf("chain starts at seq %" PRIu64 " after %s\n", v->first_seq, fp);
                }
                return 0;
        }
        if (!v->bad_known) {
                sovctl_error("the audit chain does not verify (no details given)");
                return -SOVCTL_E_API;
        }
        file = sovctl_sanitize(v->bad_file);
        reason = sovctl_sanitize(v->bad_reason);
        if (!file || !reason)
                return -ENOMEM;
        /* Line 0: the end of the file (a chain cut short). */
        if (v->bad_line > 0)
                printf("%s:%" PRIu64, file, v->bad_line);
        else
                printf("%s", file);
        if (v->bad_seq > 0)
                printf(" (seq %" PRIu64 "): %s\n", v->bad_seq, reason);
        else
                printf(" (seq ?): %s\n", reason);
        sovctl_error("the audit chain does not verify; %" PRIu64 " record%s before this one did", v->records,
                     v->records == 1 ? "" : "s");
        return -SOVCTL_E_API;
}

/* Appends to the NULL-terminated @paths the file @arg, or the audit files of directory @arg. */
static int sovctl_audit_add_paths(const char *arg, char ***paths, size_t *n) {
        _cleanup_strv_free_ char **found = NULL;
        struct sovd_err e = {};
        size_t k = 0;
        struct stat st;
        char **p;
        int r;

        /* "-": a stream, e.g. records extracted from journald. */
        if (streq(arg, "-"))
                arg = "/dev/stdin";
        if (stat(arg, &st) < 0) {
                sovctl_error("cannot read '%s': %m", arg);
                return -SOVCTL_E_USAGE;
        }
        if (S_ISDIR(st.st_mode)) {
                r = audit_chain_list_files(arg, &found, &k, &e);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        sovctl_error("%s", e.msg);
                        return -SOVCTL_E_USAGE;
                }
                if (k == 0) {
                        sovctl_error("no audit files (audit-NNNNNNNN.jsonl) in directory '%s'", arg);
                        return -SOVCTL_E_USAGE;
                }
        } else {
                found = calloc(2, sizeof(char *));
                if (!found || !(found[0] = strdup(arg)))
                        return -ENOMEM;
                k = 1;
        }

        p = realloc(*paths, (*n + k + 1) * sizeof(char *));
        if (!p)
                return -ENOMEM;
        *paths = p;
        for (size_t i = 0; i < k; i++)
                p[(*n)++] = TAKE_PTR(found[i]);
        p[*n] = NULL;
        return 0;
}

/* `audit verify FILE|DIR...`: offline, with the verifier sovd itself uses. */
static int sovctl_audit_verify_files(struct sovctl_ctx *ctx, const struct sovctl_args *a) {
        _cleanup_strv_free_ char **paths = NULL;
        _cleanup_free_ struct audit_verify_result *res = NULL;
        struct sovd_err e = {};
        size_t n = 0;
        int r;

        for (int i = 0; i < a->n_pos; i++) {
                r = sovctl_audit_add_paths(a->pos[i], &paths, &n);
                if (r < 0)
                        return r;
        }
        res = malloc(sizeof(*res));
        if (!res)
                return -ENOMEM;
        r = audit_chain_verify_files(paths, n, a->partial ? AUDIT_VERIFY_PARTIAL : 0, res, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                sovctl_error("%s", e.msg);
                return -SOVCTL_E_USAGE;
        }

        if (ctx->json) {
                struct json_object *o = NULL;

                r = audit_verify_result_to_json(res, &o);
                if (r < 0)
                        return r;
                sovctl_print_json(stdout, o);
                json_object_put(o);
                return res->valid ? 0 : -SOVCTL_E_API;
        }
        return sovctl_verify_print(&(struct sovctl_verify_view){
                .valid = res->valid,
                .records = res->records,
                .files = res->files,
                .first_seq = res->first_seq,
                .head = res->head,
                .first_prev = res->first_prev,
                .partial = a->partial,
                .bad_known = true,
                .bad_file = res->bad.file,
                .bad_reason = res->bad.reason,
                .bad_line = res->bad.line,
                .bad_seq = res->bad.seq,
                .tail = res->incomplete_tail,
                .tail_file = res->tail.file,
                .tail_line = res->tail.line,
                .tail_bytes = res->tail.bytes,
        });
}

/* An unsigned member, 0 when missing or of another type. */
static uint64_t sovctl_json_get_u64(struct json_object *obj, const char *key) {
        struct json_object *v = sovctl_json_get(obj, key);
        int64_t x;

        if (!json_object_is_type(v, json_type_int))
                return 0;
        x = json_object_get_int64(v);
        return x > 0 ? (uint64_t) x : 0;
}

int sovctl_answer_verdict(struct sovctl_ctx *ctx, struct json_object *answer, const char *key, bool *ret) {
        struct json_object *v = sovctl_json_get(answer, key);

        if (!json_object_is_type(v, json_type_boolean)) {
                sovctl_error("unusable answer from %s: no boolean \"%s\" in the verification",
                             sovctl_http_target(ctx->http), key);
                return -SOVCTL_E_API;
        }
        *ret = json_object_get_boolean(v);
        return 0;
}

/* `audit verify` without paths: GET /v1/audit/verify, the server's chain. */
static int sovctl_audit_verify_server(struct sovctl_ctx *ctx) {
        _cleanup_json_ struct json_object *answer = NULL;
        struct json_object *bad, *tail;
        bool valid;
        int r;

        r = sovctl_call(ctx, "GET", "/v1/audit/verify", NULL, 0, &answer);
        if (r < 0)
                return r;
        r = sovctl_answer_verdict(ctx, answer, "valid", &valid);
        if (r < 0)
                return r;
        if (sovctl_json_done(ctx, answer))
                return valid ? 0 : -SOVCTL_E_API;
        bad = sovctl_json_get(answer, "first_bad");
        tail = sovctl_json_get(answer, "incomplete_tail");
        return sovctl_verify_print(&(struct sovctl_verify_view){
                .valid = valid,
                .records = sovctl_json_get_u64(answer, "records"),
                .files = sovctl_json_get_u64(answer, "files"),
                .first_seq = sovctl_json_get_u64(answer, "first_seq"),
                .head = sovctl_json_get_string(answer, "head"),
                .bad_known = json_object_is_type(bad, json_type_object),
                .bad_file = sovctl_json_get_string(bad, "file"),
                .bad_reason = sovctl_json_get_string(bad, "reason"),
                .bad_line = sovctl_json_get_u64(bad, "line"),
                .bad_seq = sovctl_json_get_u64(bad, "seq"),
                .tail = json_object_is_type(tail, json_type_object),
                .tail_file = sovctl_json_get_string(tail, "file"),
                .tail_line = sovctl_json_get_u64(tail, "line"),
                .tail_bytes = sovctl_json_get_u64(tail, "bytes"),
        });
}

static int sovctl_audit_verify(struct sovctl_ctx *ctx, int argc, char **argv) {
        struct sovctl_args a = {};
        int r;

        r = sovctl_parse_args(ctx, "audit verify", SOVCTL_OPT_PARTIAL, 0, INT_MAX, argc, argv, &a);
        if (r != 0)
                return r;
        if (a.n_pos > 0)
                return sovctl_audit_verify_files(ctx, &a);
        if (a.partial)
                return sovctl_usage_error("audit verify: --partial applies to files given on the command line");
        return sovctl_audit_verify_server(ctx);
}

int sovctl_parse_count(const char *option, const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
        unsigned long long v;
        char *end;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
                return sovctl_usage_error("%s: '%s' is not a number from %" PRIu64 " to %" PRIu64, option, s, min,
                                          max);
        *ret = v;
        return 0;
}

/*
 * A table cell for a member that may be a string or an object: the
 * object's first string of @subkeys ("vm": {"uuid", "name"} shows its
 * name), else the value as compact JSON.
 */
static char *sovctl_audit_cell(struct json_object *rec, const char *key, const char *const *subkeys) {
        struct json_object *v = sovctl_json_get(rec, key);

        if (json_object_is_type(v, json_type_object))
                for (const char *const *k = subkeys; k && *k; k++) {
                        const char *s = sovctl_json_get_string(v, *k);

                        if (s)
                                return sovctl_sanitize(s);
                }
        return sovctl_format_value(v);
}

static int sovctl_audit_add_row(struct sovctl_table *table, struct json_object *rec) {
        static const char *const vm_keys[] = { "name", "uuid", NULL };
        static const char *const caller_keys[] = { "name", "subject", "identity", "uid", "id", NULL };
        static const char *const outcome_keys[] = { "outcome", NULL };
        char *cells[7];
        bool oom = false;

        cells[0] = sovctl_format_value(sovctl_json_get(rec, "seq"));
        cells[1] = sovctl_format_value(sovctl_json_get(rec, "time"));
        cells[2] = sovctl_format_value(sovctl_json_get(rec, "kind"));
        cells[3] = sovctl_format_value(sovctl_json_get(rec, "operation"));
        cells[4] = sovctl_audit_cell(rec, "vm", vm_keys);
        cells[5] = sovctl_audit_cell(rec, "decision", outcome_keys);
        cells[6] = sovctl_audit_cell(rec, "caller", caller_keys);
        for (size_t i = 0; i < ELEMENTSOF(cells); i++)
                oom = oom || !cells[i];
        if (oom) {
                for (size_t i = 0; i < ELEMENTSOF(cells); i++)
                        free(cells[i]);
                return -ENOMEM;
        }
        return sovctl_table_add_row(table, cells);
}

/*
 * `audit list`: GET /v1/audit, following next_cursor page by page until
 * --limit records (default 100) have been shown or none remain.
 */
static int sovctl_audit_list(struct sovctl_ctx *ctx, int argc, char **argv) {
        static const char *const columns[] = { "SEQ", "TIME", "KIND", "OPERATION", "VM", "OUTCOME", "CALLER", NULL };
        _cleanup_(sovctl_table_freep) struct sovctl_table *table = NULL;
        _cleanup_json_ struct json_object *all = NULL;
        _cleanup_free_ char *since = NULL, *vm = NULL;
        uint64_t limit = SOVCTL_AUDIT_DEFAULT_LIMIT, cursor = 0, shown = 0;
        bool more = false;
        struct sovctl_args a = {};
        int r;

        r = sovctl_parse_args(ctx, "audit list",
                              SOVCTL_OPT_SINCE | SOVCTL_OPT_VM | SOVCTL_OPT_DECISION | SOVCTL_OPT_LIMIT |
                                      SOVCTL_OPT_AFTER,
                              0, 0, argc, argv, &a);
        if (r != 0)
                return r;
        if (a.since && (r = sovctl_time_param("--since", a.since, &since)) < 0)
                return r;
        if (a.decision && !streq(a.decision, "allow") && !streq(a.decision, "deny"))
                return sovctl_usage_error("--decision: '%s' is not allow or deny", a.decision);
        if (a.limit && (r = sovctl_parse_count("--limit", a.limit, 1, SOVCTL_AUDIT_LIMIT_MAX, &limit)) < 0)
                return r;
        if (a.after && (r = sovctl_parse_count("--after", a.after, 0, INT64_MAX, &cursor)) < 0)
                return r;
        /* A VM's records outlive it: a UUID is never looked up, a name must still exist. */
        if (a.vm && (r = sovctl_resolve_vm(ctx, a.vm, &vm)) < 0)
                return r;

        all = json_object_new_array();
        table = sovctl_table_new(columns);
        if (!all || !table)
                return -ENOMEM;

        for (;;) {
                _cleanup_json_ struct json_object *answer = NULL;
                _cleanup_free_ char *path = NULL;
                struct json_object *records, *next;
                uint64_t page = limit - shown > SOVCTL_AUDIT_PAGE_MAX ? SOVCTL_AUDIT_PAGE_MAX : limit - shown;
                char num[24];
                size_t n;

                if (asprintf(&path, "/v1/audit?limit=%" PRIu64, page) < 0) {
                        path = NULL;
                        return -ENOMEM;
                }
                snprintf(num, sizeof(num), "%" PRIu64, cursor);
                r = sovctl_query_add(ctx, &path, "since", since);
                if (r >= 0)
                        r = sovctl_query_add(ctx, &path, "vm", vm);
                if (r >= 0)
                        r = sovctl_query_add(ctx, &path, "decision", a.decision);
                /* The API's cursor is the seq after which the page starts. */
                if (r >= 0 && cursor > 0)
                        r = sovctl_query_add(ctx, &path, "cursor", num);
                if (r < 0)
                        return r;

                r = sovctl_call(ctx, "GET", path, NULL, 0, &answer);
                if (r < 0)
                        return r;
                records = sovctl_json_get(answer, "records");
                if (!json_object_is_type(records, json_type_array)) {
                        sovctl_error("unusable answer from %s: no \"records\" array in the audit list",
                                     sovctl_http_target(ctx->http));
                        return -SOVCTL_E_API;
                }
                n = json_object_array_length(records);
                /* A server that sends more than asked gets cut at the limit. */
                for (size_t i = 0; i < n && shown < limit; i++, shown++) {
                        struct json_object *rec = json_object_array_get_idx(records, i);

                        if (json_object_array_add(all, json_object_get(rec)) < 0) {
                                json_object_put(rec);
                                return -ENOMEM;
                        }
                        r = sovctl_audit_add_row(table, rec);
                        if (r < 0)
                                return r;
                }

                next = sovctl_json_get(answer, "next_cursor");
                more = json_object_is_type(next, json_type_int) && json_object_get_int64(next) > 0;
                if (!more)
                        break;
                /* The cursor must move forward, or a broken server would loop us forever. */
                if ((uint64_t) json_object_get_int64(next) <= cursor || n == 0) {
                        sovctl_error("unusable answer from %s: next_cursor does not advance",
                                     sovctl_http_target(ctx->http));
                        return -SOVCTL_E_API;
                }
                cursor = (uint64_t) json_object_get_int64(next);
                if (shown >= limit)
                        break;
        }

        if (ctx->json) {
                _cleanup_json_ struct json_object *out = json_object_new_object();
                struct json_object *nc = more ? json_object_new_int64((int64_t) cursor) : NULL;

                if (!out || (more && !nc) || json_object_object_add(out, "records", json_object_get(all)) < 0 ||
                    json_object_object_add(out, "next_cursor", nc) < 0) {
                        json_object_put(nc);
                        return -ENOMEM;
                }
                sovctl_print_json(stdout, out);
                return 0;
        }
        sovctl_table_print(table, stdout);
        if (more)
                sovctl_error("note: more records follow; see them with --after %" PRIu64, cursor);
        return 0;
}

bool sovctl_cmd_audit_is_offline(int argc, char **argv) {
        /* `audit verify` with a path: everything after "verify" that is not an option. */
        if (argc < 2 || !streq(argv[1], "verify"))
                return false;
        for (int i = 2; i < argc; i++) {
                if (streq(argv[i], "--"))
                        return i + 1 < argc;
                if (argv[i][0] != '-' || streq(argv[i], "-"))
                        return true;
        }
        return false;
}

int sovctl_cmd_audit(struct sovctl_ctx *ctx, int argc, char **argv) {
        const char *sub = NULL;
        int r = sovctl_subcommand("audit", &argc, &argv, &sub);

        if (r != 0)
                return r;

        if (streq(sub, "verify"))
                return sovctl_audit_verify(ctx, argc, argv);
        if (streq(sub, "list"))
                return sovctl_audit_list(ctx, argc, argv);
        return sovctl_usage_error("audit: unknown subcommand '%s'", sub);
}
