/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * sovctl's subcommands. Each takes the words after the command name
 * (argv[0] is the subcommand itself, e.g. "list"), parses its own options
 * and returns 0, 1 after printing --help, or a negative errno under the
 * contract of sovctl.h (-SOVCTL_E_DENIED: a dry run's decision denies).
 */

#include <stddef.h>
#include <stdint.h>

#include "sovctl.h"

struct json_object;

/* A command or subcommand: the words from its name on. */
typedef int (*sovctl_command_cb_t)(struct sovctl_ctx *ctx, int argc, char **argv);

struct sovctl_command {
        const char *name;
        sovctl_command_cb_t run;
};

int sovctl_cmd_host(struct sovctl_ctx *ctx, int argc, char **argv);
/* argv[0] is "vm"; argv[1] names the VM subcommand. */
int sovctl_cmd_vm(struct sovctl_ctx *ctx, int argc, char **argv);

/* argv[0] is "policy"; argv[1] is list, show or evaluate. */
int sovctl_cmd_policy(struct sovctl_ctx *ctx, int argc, char **argv);
/* argv[0] is "pool" or "backup-target"; argv[1] is list. */
int sovctl_cmd_pool(struct sovctl_ctx *ctx, int argc, char **argv);
int sovctl_cmd_backup_target(struct sovctl_ctx *ctx, int argc, char **argv);

/*
 * argv[0] is "audit"; argv[1] names the subcommand: list, or verify.
 * `audit verify FILE|DIR...` runs offline and never touches ctx->http,
 * which may then be NULL; sovctl_cmd_audit_is_offline() tells that case
 * apart before a transport is set up.
 */
int sovctl_cmd_audit(struct sovctl_ctx *ctx, int argc, char **argv);
bool sovctl_cmd_audit_is_offline(int argc, char **argv);

/*
 * The long operations (sovctl-jobs.c): argv[0] is "job" (list, show, wait,
 * cancel), "snapshot" (list, show, create, delete, revert) or "backup"
 * (create, list, show, verify, restore). A job waited for that did not
 * succeed gives -SOVCTL_E_API; `job wait --timeout` running out,
 * -SOVCTL_E_TIMEOUT.
 */
int sovctl_cmd_jobs(struct sovctl_ctx *ctx, int argc, char **argv);
/* `vm migrate`, a job too (sovctl-jobs.c): argv[0] is "migrate". */
int sovctl_cmd_vm_migrate(struct sovctl_ctx *ctx, int argc, char **argv);

/* ---- shared by the subcommand files (sovctl-cmd.c, sovctl-jobs.c) ------- */

/* Which subcommand options a command accepts (--json and --help: all). */
enum {
        SOVCTL_OPT_TENANT = 1 << 0,
        SOVCTL_OPT_STATE = 1 << 1,
        SOVCTL_OPT_FILE = 1 << 2,
        SOVCTL_OPT_DELETE_STORAGE = 1 << 3,
        /* Not an option: the command sends POST, so --idempotency-key applies. */
        SOVCTL_OPT_POSTS = 1 << 4,
        SOVCTL_OPT_SINCE = 1 << 5,
        SOVCTL_OPT_VM = 1 << 6,
        SOVCTL_OPT_DECISION = 1 << 7,
        SOVCTL_OPT_LIMIT = 1 << 8,
        SOVCTL_OPT_AFTER = 1 << 9,
        SOVCTL_OPT_PARTIAL = 1 << 10,
        /* --policy, --host, --backup-target, --tags, --at */
        SOVCTL_OPT_EVALUATE = 1 << 11,
        SOVCTL_OPT_KIND = 1 << 12,
        SOVCTL_OPT_POOL = 1 << 13,
        SOVCTL_OPT_DESCRIPTION = 1 << 14,
        SOVCTL_OPT_WAIT = 1 << 15,
        SOVCTL_OPT_TIMEOUT = 1 << 16,
        SOVCTL_OPT_TARGET = 1 << 17,
        SOVCTL_OPT_MODE = 1 << 18,
        /* --name, --in-place */
        SOVCTL_OPT_RESTORE = 1 << 19,
        /* --peer, --copy-storage, --destination-pool */
        SOVCTL_OPT_MIGRATE = 1 << 20,
};

struct sovctl_args {
        const char *tenant;
        const char *state;
        const char *file;
        bool delete_storage;
        const char *since;    /* audit list */
        const char *vm;       /* audit list, job list */
        const char *decision; /* audit list */
        const char *limit;    /* audit list */
        const char *after;    /* audit list */
        bool partial;         /* audit verify */
        const char *policy;   /* policy evaluate, and the place it judges: */
        const char *kind;     /* also snapshot create */
        bool host;
        const char *pool;     /* also snapshot create, backup restore */
        const char *backup_target;
        const char *tags;     /* file of tags, "-" for stdin */
        const char *at;
        const char *description; /* snapshot create */
        bool wait;               /* commands that may start a job */
        const char *timeout;     /* job wait */
        const char *target;      /* backup create */
        const char *mode;        /* backup create, vm migrate */
        const char *name;        /* backup restore */
        bool in_place;           /* backup restore */
        const char *peer;        /* vm migrate */
        bool copy_storage;       /* vm migrate */
        const char *destination_pool; /* vm migrate */
        char **pos; /* positional arguments, borrowed from argv */
        int n_pos;
};

/*
 * Parses a subcommand's options with getopt_long (GNU permutation, so
 * `vm delete web-1 --delete-storage` works). @allowed is a mask of
 * SOVCTL_OPT_*; @what names the command in messages. Returns 0, 1 when
 * --help was printed, or -SOVCTL_E_USAGE.
 */
int sovctl_parse_args(struct sovctl_ctx *ctx, const char *what, unsigned allowed, int min_pos, int max_pos,
                      int argc, char **argv, struct sovctl_args *ret);

/*
 * The common part of "sovctl COMMAND SUB ARGS...": takes SUB off the
 * arguments. Returns 0 with *ret_sub set, or the exit status to return
 * (usage error for a missing SUB, help printed for "help").
 */
int sovctl_subcommand(const char *command, int *argc, char ***argv, const char **ret_sub);

/*
 * Sends one request and judges the answer. On 2xx returns the status and
 * sets *ret_json to the parsed body (NULL for an empty body or JSON null).
 * A 4xx/5xx answer is reported (and with --json its problem document also
 * printed on stdout for scripts) and gives -SOVCTL_E_API; transport
 * failures are reported once and give -SOVCTL_E_UNREACHABLE or
 * -SOVCTL_E_API.
 */
int sovctl_call(struct sovctl_ctx *ctx, const char *method, const char *path, const char *body, size_t body_len,
                struct json_object **ret_json);
/* As sovctl_call(), sending @body (borrowed) as compact JSON. */
int sovctl_call_json(struct sovctl_ctx *ctx, const char *method, const char *path, struct json_object *body,
                     struct json_object **ret_json);

/*
 * Takes SUB off "COMMAND SUB ARGS..." as sovctl_subcommand() does and runs
 * the one of the @n @subs named SUB; an unknown SUB is a usage error.
 */
int sovctl_dispatch(struct sovctl_ctx *ctx, const char *command, const struct sovctl_command *subs, size_t n,
                    int argc, char **argv);

/*
 * With --json: prints @answer (nothing for an empty answer, a 204) and
 * returns true, the command's output being complete. False otherwise.
 */
bool sovctl_json_done(struct sovctl_ctx *ctx, struct json_object *answer);

/* 8-4-4-4-12 hex digits: what sovd accepts as an id in a path. */
bool sovctl_is_uuid(const char *s);

/*
 * Turns UUID|NAME into a UUID; a NAME must match exactly one VM, else the
 * failure is reported (-SOVCTL_E_API). *ret_uuid is malloc'd.
 */
int sovctl_resolve_vm(struct sovctl_ctx *ctx, const char *arg, char **ret_uuid);

/* Appends "?key=value" or "&key=value" to *path with the value escaped; a NULL @value adds nothing. */
int sovctl_query_add(struct sovctl_ctx *ctx, char **path, const char *key, const char *value);

/* The answer's array member @key, or NULL after reporting a malformed answer. */
struct json_object *sovctl_answer_array(struct sovctl_ctx *ctx, struct json_object *answer, const char *key);

/*
 * Sets *ret to the boolean verdict @key of a verification answer ("valid",
 * "ok"); -SOVCTL_E_API after reporting an answer without one.
 */
int sovctl_answer_verdict(struct sovctl_ctx *ctx, struct json_object *answer, const char *key, bool *ret);

/* A number option from @min to @max; a usage error otherwise. */
int sovctl_parse_count(const char *option, const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/*
 * Checks that @value is one of the @n @choices; otherwise reports
 * "OPTION: 'x' is not a, b or c" and returns -SOVCTL_E_USAGE.
 */
int sovctl_check_choice(const char *option, const char *value, const char *const *choices, size_t n);
