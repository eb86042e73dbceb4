/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sovctl's long operations: jobs, snapshots, backups and migrations
 * (docs/sovctl.md).
 * sovd answers an operation that takes time with 202 and a job; --wait and
 * `job wait` follow the job with GET /v1/jobs/{id} until it ends, and its
 * outcome becomes the exit status.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sovd/names.h"
#include "sovctl.h"
#include "sovctl-cmd.h"
#include "sovctl-http.h"
#include "sovctl-json.h"
#include "sovctl-print.h"

/* How often a job waited for is asked about: quick for a snapshot, light on sovd. */
#define SOVCTL_JOB_POLL_MSEC 200L
/* Longest `job wait --timeout`, a week; without the option a wait has no limit. */
#define SOVCTL_JOB_WAIT_MAX_SEC (7u * 86400u)
/* A snapshot's description, in characters (api: <= 1024). */
#define SOVCTL_DESCRIPTION_MAX 1024u
/* Widest table of this file. */
#define SOVCTL_COLUMNS_MAX 8

static const char *const sovctl_job_states[] = { "queued", "running", "succeeded", "failed", "cancelled" };
static const char *const sovctl_snapshot_kinds[] = { "disk-only", "full", "internal" };
static const char *const sovctl_backup_modes[] = { "full", "incremental" };
static const char *const sovctl_migration_modes[] = { "live", "offline" };

/* ---- helpers -------------------------------------------------------------- */

/* One column of a listing: a member of each row, or @sub of an object member. */
struct sovctl_column {
        const char *header;
        const char *member;
        const char *sub;
        char *(*format)(struct json_object *v); /* NULL: sovctl_format_value() */
};
#define SOVCTL_COLUMN(h, m) { .header = (h), .member = (m) }

/* Prints the objects of array @rows as a table of @n (<= SOVCTL_COLUMNS_MAX) columns. */
static int sovctl_print_rows(struct json_object *rows, const struct sovctl_column *cols, size_t n) {
        _cleanup_(sovctl_table_freep) struct sovctl_table *table = NULL;
        const char *headers[SOVCTL_COLUMNS_MAX + 1] = {};
        size_t n_rows = json_object_array_length(rows);
        int r;

        for (size_t c = 0; c < n && c < SOVCTL_COLUMNS_MAX; c++)
                headers[c] = cols[c].header;
        table = sovctl_table_new(headers);
        if (!table)
                return -ENOMEM;
        for (size_t i = 0; i < n_rows; i++) {
                struct json_object *row = json_object_array_get_idx(rows, i);
                char *cells[SOVCTL_COLUMNS_MAX] = {};

                for (size_t c = 0; c < n && c < SOVCTL_COLUMNS_MAX; c++) {
                        struct json_object *v = sovctl_json_get(row, cols[c].member);

                        if (cols[c].sub)
                                v = sovctl_json_get(v, cols[c].sub);
                        cells[c] = (cols[c].format ?: sovctl_format_value)(v);
                }
                r = sovctl_table_add_built(table, cells, n);
                if (r < 0)
                        return r;
        }
        sovctl_table_print(table, stdout);
        return 0;
}

/* How a GET answer is shown: its array @key as a table, or (no @key) a block of its members. */
struct sovctl_view {
        const char *key;
        const struct sovctl_column *cols;
        size_t n_cols;
        /* A member holding a whole document (a backup's domain XML): a terminal gets its size only. */
        const char *bulky;
};

/* GET @path: with --json the answer, else as @v says. */
static int sovctl_get(struct sovctl_ctx *ctx, const char *path, const struct sovctl_view *v) {
        _cleanup_json_ struct json_object *answer = NULL;
        struct json_object *rows, *doc;
        char note[64];
        int r;

        r = sovctl_call(ctx, "GET", path, NULL, 0, &answer);
        if (r < 0)
                return r;
        if (sovctl_json_done(ctx, answer))
                return 0;
        if (v->key) {
                rows = sovctl_answer_array(ctx, answer, v->key);
                if (!rows)
                        return -SOVCTL_E_API;
                return sovctl_print_rows(rows, v->cols, v->n_cols);
        }
        doc = v->bulky ? sovctl_json_get(answer, v->bulky) : NULL;
        if (json_object_is_type(doc, json_type_string)) {
                snprintf(note, sizeof(note), "(%d bytes; --json shows it)", json_object_get_string_len(doc));
                r = sovctl_json_add_new(answer, v->bulky, json_object_new_string(note));
                if (r < 0)
                        return r;
        }
        return sovctl_print_block(stdout, answer, 0);
}

/*
 * Parses the words of a command on one job or backup, "ID [OPTIONS]", and
 * builds the path "/v1/COLLECTION/ID SUFFIX"; ID must be a UUID. Returns 0,
 * 1 after --help, or a negative errno (usage errors reported).
 */
static int sovctl_parse_id(struct sovctl_ctx *ctx, const char *what, unsigned allowed, const char *collection,
                           const char *suffix, int argc, char **argv, struct sovctl_args *a, char **ret_path) {
        char *p;
        int r;

        r = sovctl_parse_args(ctx, what, allowed, 1, 1, argc, argv, a);
        if (r != 0)
                return r;
        if (!sovctl_is_uuid(a->pos[0]))
                return sovctl_usage_error("%s: '%s' is not an id (a UUID)", what, a->pos[0]);
        if (asprintf(&p, "/v1/%s/%s%s", collection, a->pos[0], suffix) < 0)
                return -ENOMEM;
        *ret_path = p;
        return 0;
}

/*
 * "/v1/vms/UUID/COLLECTION" for @vm, a UUID or a VM name, then "/NAME"
 * (escaped) and @suffix when @name is given. *ret_uuid, when not NULL,
 * gets the VM's UUID.
 */
static int sovctl_vm_path(struct sovctl_ctx *ctx, const char *vm, const char *collection, const char *name,
                          const char *suffix, char **ret, char **ret_uuid) {
        _cleanup_free_ char *uuid = NULL, *escaped = NULL;
        char *p;
        int r;

        /* Not escaped by libcurl and squashed as dot segments: the request would go elsewhere. */
        if (name && (streq(name, ".") || streq(name, "..")))
                return sovctl_usage_error("'%s' cannot be a snapshot name", name);
        r = sovctl_resolve_vm(ctx, vm, &uuid);
        if (r < 0)
                return r;
        if (name && !(escaped = sovctl_http_escape(ctx->http, name)))
                return -ENOMEM;
        if (asprintf(&p, "/v1/vms/%s/%s%s%s%s", uuid, collection, escaped ? "/" : "", escaped ?: "",
                     suffix ?: "") < 0)
                return -ENOMEM;
        *ret = p;
        if (ret_uuid)
                *ret_uuid = TAKE_PTR(uuid);
        return 0;
}

/*
 * Parses the words of a command on a VM's COLLECTION, "VM" or "VM NAME"
 * (@n_pos), and builds its path as sovctl_vm_path() does. Returns 0, 1
 * after --help, or a negative errno (reported when SOVCTL_E_*).
 */
static int sovctl_parse_vm(struct sovctl_ctx *ctx, const char *what, unsigned allowed, int n_pos,
                           const char *collection, const char *suffix, int argc, char **argv, struct sovctl_args *a,
                           char **ret_path, char **ret_uuid) {
        int r;

        r = sovctl_parse_args(ctx, what, allowed, n_pos, n_pos, argc, argv, a);
        if (r != 0)
                return r;
        return sovctl_vm_path(ctx, a->pos[0], collection, n_pos > 1 ? a->pos[1] : NULL, suffix, ret_path, ret_uuid);
}

/*
 * A command that only reads: its words are "ID" (@vm_words 0), "VM" or
 * "VM NAME", naming one thing or a VM's things in @collection.
 */
struct sovctl_read {
        const char *what;
        const char *collection;
        int vm_words;
        struct sovctl_view view;
};

static int sovctl_read(struct sovctl_ctx *ctx, const struct sovctl_read *c, int argc, char **argv) {
        _cleanup_free_ char *path = NULL;
        struct sovctl_args a = {};
        int r;

        if (c->vm_words > 0)
                r = sovctl_parse_vm(ctx, c->what, 0, c->vm_words, c->collection, NULL, argc, argv, &a, &path, NULL);
        else
                r = sovctl_parse_id(ctx, c->what, 0, c->collection, "", argc, argv, &a, &path);
        if (r != 0)
                return r;
        return sovctl_get(ctx, path, &c->view);
}

/* A job's progress: "45%" of bytes_total, else the bytes done, else "-". */
static char *sovctl_format_progress(struct json_object *progress) {
        struct json_object *done = sovctl_json_get(progress, "bytes_done");
        int64_t total = json_object_get_int64(sovctl_json_get(progress, "bytes_total"));
        int64_t d = json_object_get_int64(done);
        char *s;
        int r;

        if (!json_object_is_type(done, json_type_int))
                return strdup("-");
        if (total > 0 && d >= 0 && d <= total)
                /* double: bytes_done * 100 could overflow int64 for a large disk. */
                r = asprintf(&s, "%d%%", (int) ((double) d * 100.0 / (double) total));
        else
                r = asprintf(&s, "%" PRId64 " bytes", d);
        return r < 0 ? NULL : s;
}

/* ---- jobs ------------------------------------------------------------------- */

static bool sovctl_job_state_is_final(const char *state) {
        return streq(state, "succeeded") || streq(state, "failed") || streq(state, "cancelled");
}

/* Milliseconds since @start on the monotonic clock. */
static uint64_t sovctl_msec_since(const struct timespec *start) {
        struct timespec now;

        (void) clock_gettime(CLOCK_MONOTONIC, &now);
        return (uint64_t) (now.tv_sec - start->tv_sec) * 1000u + (uint64_t) (now.tv_nsec / 1000000L) -
               (uint64_t) (start->tv_nsec / 1000000L);
}

/* "job ID (KIND of VM UUID) WHAT; state: STATE" on stdout. */
static int sovctl_job_print_line(struct json_object *job, const char *what) {
        _cleanup_free_ char *id = sovctl_format_value(sovctl_json_get(job, "id")),
                            *kind = sovctl_format_value(sovctl_json_get(job, "kind")),
                            *vm = sovctl_format_value(sovctl_json_get(job, "vm")),
                            *state = sovctl_format_value(sovctl_json_get(job, "state"));

        if (!id || !kind || !vm || !state)
                return -ENOMEM;
        printf("job %s (%s of VM %s) %s; state: %s\n", id, kind, vm, what, state);
        return 0;
}

/*
 * Follows the job sovd answered (@job, borrowed) with GET /v1/jobs/{id}
 * until it ends or @timeout_sec (0: no limit) passes; *ret_last is the job
 * as it last was (owned). On a terminal, stderr shows the state meanwhile.
 * Returns 0 when it ended, -SOVCTL_E_TIMEOUT when it has not in time, else
 * the (reported) error of a request.
 */
static int sovctl_job_follow(struct sovctl_ctx *ctx, struct json_object *job, uint64_t timeout_sec,
                             struct json_object **ret_last) {
        _cleanup_json_ struct json_object *last = json_object_get(job);
        _cleanup_free_ char *path = NULL;
        const char *state, *raw_id = sovctl_json_get_string(job, "id");
        bool tty = isatty(STDERR_FILENO);
        struct timespec start;
        int r;

        /* It goes into a URL path: only a well-formed UUID may. */
        if (!raw_id || !sovctl_is_uuid(raw_id)) {
                sovctl_error("unusable answer from %s: the job has no valid id", sovctl_http_target(ctx->http));
                return -SOVCTL_E_API;
        }
        if (asprintf(&path, "/v1/jobs/%s", raw_id) < 0) {
                path = NULL;
                return -ENOMEM;
        }
        (void) clock_gettime(CLOCK_MONOTONIC, &start);

        for (;;) {
                struct json_object *next = NULL;
                _cleanup_free_ char *shown = NULL, *progress = NULL;

                state = sovctl_json_get_string(last, "state");
                if (!state) {
                        sovctl_error("unusable answer from %s: the job has no state",
                                     sovctl_http_target(ctx->http));
                        return -SOVCTL_E_API;
                }
                if (sovctl_job_state_is_final(state)) {
                        r = 0;
                        break;
                }
                if (timeout_sec > 0 && sovctl_msec_since(&start) >= timeout_sec * 1000u) {
                        r = -SOVCTL_E_TIMEOUT;
                        break;
                }
                if (tty) {
                        shown = sovctl_sanitize(state);
                        progress = sovctl_format_progress(sovctl_json_get(last, "progress"));
                        if (!shown || !progress)
                                return -ENOMEM;
                        fprintf(stderr, "job %s: %s %s", raw_id, shown, streq(progress, "-") ? "" : progress);
                }
                (void) nanosleep(&(struct timespec){ .tv_nsec = SOVCTL_JOB_POLL_MSEC * 1000000L }, NULL);
                /* Gone before anything else reaches stderr, an error of the request among them. */
                if (tty)
                        fputs("\r\033[K", stderr);
                r = sovctl_call(ctx, "GET", path, NULL, 0, &next);
                if (r < 0)
                        return r;
                json_object_put(last);
                last = next;
        }
        *ret_last = TAKE_PTR(last);
        return r;
}

/* Reports how job @job (final, not succeeded) ended; -SOVCTL_E_API. */
static int sovctl_job_report_end(struct json_object *job) {
        _cleanup_free_ char *id = sovctl_sanitize(sovctl_json_get_string(job, "id") ?: "?"),
                            *state = sovctl_sanitize(sovctl_json_get_string(job, "state") ?: "?"), *title = NULL,
                            *detail = NULL;
        struct json_object *error = sovctl_json_get(job, "error");

        title = sovctl_sanitize(sovctl_json_get_string(error, "title") ?: sovctl_json_get_string(job, "state") ?: "?");
        detail = sovctl_sanitize(sovctl_json_get_string(error, "detail") ?: "no detail given");
        if (!id || !state || !title || !detail)
                return -ENOMEM;
        sovctl_error("job %s %s: %s: %s", id, state, title, detail);
        return -SOVCTL_E_API;
}

/*
 * Follows @job (borrowed) as sovctl_job_follow() does, and then prints it:
 * with --json as sovd sent it, else as `job show` does when it succeeded.
 * Returns 0 when the job succeeded; -SOVCTL_E_API, its error reported, when
 * it failed or was cancelled; -SOVCTL_E_TIMEOUT (reported) when it has not
 * ended in time.
 */
static int sovctl_job_wait_for(struct sovctl_ctx *ctx, struct json_object *job, uint64_t timeout_sec) {
        _cleanup_json_ struct json_object *last = NULL;
        _cleanup_free_ char *state_shown = NULL, *id = NULL;
        const char *state;
        int r;

        r = sovctl_job_follow(ctx, job, timeout_sec, &last);
        if (r < 0 && r != -SOVCTL_E_TIMEOUT)
                return r;

        /* Ended or not, scripts get the job as it last was. */
        if (ctx->json)
                sovctl_print_json(stdout, last);
        state = sovctl_json_get_string(last, "state");
        if (r == -SOVCTL_E_TIMEOUT) {
                state_shown = sovctl_sanitize(state);
                id = sovctl_sanitize(sovctl_json_get_string(last, "id"));
                if (!state_shown || !id)
                        return -ENOMEM;
                sovctl_error("job %s has not ended after %" PRIu64 " s; state: %s", id, timeout_sec, state_shown);
                return r;
        }
        if (streq(state, "succeeded"))
                return ctx->json ? 0 : sovctl_print_block(stdout, last, 0);
        return sovctl_job_report_end(last);
}

/*
 * The 2xx answer of a command that may start a job: a 202 carries the job,
 * which --wait follows to its end (its outcome is then the exit status),
 * else it is shown in one line; any other answer is the result itself.
 */
static int sovctl_job_answer(struct sovctl_ctx *ctx, int status, struct json_object *answer, bool wait) {
        if (status == 202 && wait)
                return sovctl_job_wait_for(ctx, answer, 0);
        if (sovctl_json_done(ctx, answer))
                return 0;
        if (status == 202)
                return sovctl_job_print_line(answer, "started");
        return sovctl_print_block(stdout, answer, 0);
}

/* POSTs @body (borrowed) to @path and handles the answer as sovctl_job_answer() does. */
static int sovctl_post_job(struct sovctl_ctx *ctx, const char *path, struct json_object *body, bool wait) {
        _cleanup_json_ struct json_object *answer = NULL;
        int r;

        r = sovctl_call_json(ctx, "POST", path, body, &answer);
        if (r < 0)
                return r;
        return sovctl_job_answer(ctx, r, answer, wait);
}

/* A new object of the string members keys[i]: values[i] whose value is not NULL; NULL when out of memory. */
static struct json_object *sovctl_json_strings(const char *const *keys, const char *const *values, size_t n) {
        _cleanup_json_ struct json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (values[i] && sovctl_json_add_new(o, keys[i], json_object_new_string(values[i])) < 0)
                        return NULL;
        return TAKE_PTR(o);
}

/* `job list [--vm UUID|NAME] [--state STATE]`: GET /v1/jobs, oldest first. */
static int sovctl_job_list(struct sovctl_ctx *ctx, int argc, char **argv) {
        static const struct sovctl_column cols[] = {
                SOVCTL_COLUMN("ID", "id"),
                SOVCTL_COLUMN("KIND", "kind"),
                SOVCTL_COLUMN("VM", "vm"),
                SOVCTL_COLUMN("STATE", "state"),
                { .header = "PROGRESS", .member = "progress", .format = sovctl_format_progress },
                SOVCTL_COLUMN("CREATED", "created_at"),
                SOVCTL_COLUMN("FINISHED", "finished_at"),
        };
        _cleanup_free_ char *path = NULL, *vm = NULL;
        struct sovctl_args a = {};
        int r;

        r = sovctl_parse_args(ctx, "job list", SOVCTL_OPT_VM | SOVCTL_OPT_STATE, 0, 0, argc, argv, &a);
        if (r != 0)
                return r;
        if (a.state &&
            (r = sovctl_check_choice("--state", a.state, sovctl_job_states, ELEMENTSOF(sovctl_job_states))) < 0)
                return r;
        if (a.vm && (r = sovctl_resolve_vm(ctx, a.vm, &vm)) < 0)
                return r;
        path = strdup("/v1/jobs");
        if (!path)
                return -ENOMEM;
        r = sovctl_query_add(ctx, &path, "vm", vm);
        if (r >= 0)
                r = sovctl_query_add(ctx, &path, "state", a.state);
        if (r < 0)
                return r;
        return sovctl_get(ctx, path,
                          &(const struct sovctl_view){ .key = "jobs", .cols = cols, .n_cols = ELEMENTSOF(cols) });
}

static int sovctl_job_show(struct sovctl_ctx *ctx, int argc, char **argv) {
        static const struct sovctl_read c = { .what = "job show", .collection = "jobs" };

        return sovctl_read(ctx, &c, argc, argv);
}

/* `job wait ID [--timeout SECONDS]`: exit 0 succeeded, 1 failed or cancelled, 2 timeout. */
static int sovctl_job_wait(struct sovctl_ctx *ctx, int argc, char **argv) {
        _cleanup_json_ struct json_object *job = NULL;
        _cleanup_free_ char *path = NULL;
        struct sovctl_args a = {};
        uint64_t timeout = 0;
        int r;

        r = sovctl_parse_id(ctx, "job wait", SOVCTL_OPT_TIMEOUT, "jobs", "", argc, argv, &a, &path);
        if (r != 0)
                return r;
        if (a.timeout && (r = sovctl_parse_count("--timeout", a.timeout, 1, SOVCTL_JOB_WAIT_MAX_SEC, &timeout)) < 0)
                return r;
        r = sovctl_call(ctx, "GET", path, NULL, 0, &job);
        if (r < 0)
                return r;
        return sovctl_job_wait_for(ctx, job, timeout);
}

/* `job cancel ID`: DELETE /v1/jobs/{id}, which answers 202 with the job. */
static int sovctl_job_cancel(struct sovctl_ctx *ctx, int argc, char **argv) {
        _cleanup_json_ struct json_object *job = NULL;
        _cleanup_free_ char *path = NULL;
        struct sovctl_args a = {};
        int r;

        r = sovctl_parse_id(ctx, "job cancel", 0, "jobs", "", argc, argv, &a, &path);
        if (r != 0)
                return r;
        r = sovctl_call(ctx, "DELETE", path, NULL, 0, &job);
        if (r < 0)
                return r;
        if (sovctl_json_done(ctx, job))
                return 0;
        return sovctl_job_print_line(job, "cancel requested");
}

/* ---- snapshots -------------------------------------------------------------- */

/* The names sovd gives snapshots: 1-64 of [A-Za-z0-9._-], not starting with '.' or '-'. */
static bool sovctl_snapshot_name_ok(const char *s) {
        size_t n = strlen(s);

        return n >= 1 && n <= NAME_MAX_LEN && s[0] != '.' && s[0] != '-' &&
               strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static int sovctl_snapshot_list(struct sovctl_ctx *ctx, int argc, char **argv) {
        static const struct sovctl_column cols[] = {
                SOVCTL_COLUMN("NAME", "name"),
                SOVCTL_COLUMN("KIND", "kind"),
                SOVCTL_COLUMN("STATE", "state"),
                SOVCTL_COLUMN("CREATED", "created_at"),
                SOVCTL_COLUMN("PARENT", "parent"),
                SOVCTL_COLUMN("CURRENT", "current"),
                SOVCTL_COLUMN("MANAGED", "managed"),
                { .header = "COMPLIANCE", .member = "compliance", .sub = "status" },
        };
        static const struct sovctl_read c = {
                .what = "snapshot list",
                .collection = "snapshots",
                .vm_words = 1,
                .view = { .key = "snapshots", .cols = cols, .n_cols = ELEMENTSOF(cols) },
        };

        return sovctl_read(ctx, &c, argc, argv);
}

static int sovctl_snapshot_show(struct sovctl_ctx *ctx, int argc, char **argv) {
        static const struct sovctl_read c = { .what = "snapshot show", .collection = "snapshots", .vm_words = 2 };

        return sovctl_read(ctx, &c, argc, argv);
}

/*
 * `snapshot create VM NAME [--kind K] [--pool P] [--description TEXT] [--wait]`:
 * 201 with the snapshot, or 202 with a job (memory being saved).
 */
static int sovctl_snapshot_create(struct sovctl_ctx *ctx, int argc, char **argv) {
        static const char *const keys[] = { "name", "kind", "pool", "description" };
        _cleanup_json_ struct json_object *body = NULL;
        _cleanup_free_ char *path = NULL;
        struct sovctl_args a = {};
        int r;

        r = sovctl_parse_args(ctx, "snapshot create",
                              SOVCTL_OPT_KIND | SOVCTL_OPT_POOL | SOVCTL_OPT_DESCRIPTION | SOVCTL_OPT_WAIT |
                                      SOVCTL_OPT_POSTS,
                              2, 2, argc, argv, &a);
        if (r != 0)
                return r;
        if (!sovctl_snapshot_name_ok(a.pos[1]))
                return sovctl_usage_error("snapshot create: '%s' is not a snapshot name: 1-%d of A-Z a-z 0-9 . _ -, "
                                          "not starting with . or -",
                                          a.pos[1], NAME_MAX_LEN);
        if (a.kind &&
            (r = sovctl_check_choice("--kind", a.kind, sovctl_snapshot_kinds, ELEMENTSOF(sovctl_snapshot_kinds))) < 0)
                return r;
        if (a.pool && a.kind && streq(a.kind, "internal"))
                return sovctl_usage_error("snapshot create: --pool does not apply to --kind internal (it stays "
                                          "in the disks' own images)");
        if (a.description && (!utf8_is_valid(a.description, strlen(a.description)) ||
                              sovctl_display_width(a.description) > SOVCTL_DESCRIPTION_MAX))
                return sovctl_usage_error("--description: must be UTF-8 text of at most %u characters",
                                          SOVCTL_DESCRIPTION_MAX);

        body = sovctl_json_strings(keys, (const char *[]){ a.pos[1], a.kind, a.pool, a.description },
                                   ELEMENTSOF(keys));
        if (!body)
                return -ENOMEM;
        r = sovctl_vm_path(ctx, a.pos[0], "snapshots", NULL, NULL, &path, NULL);
        if (r < 0)
                return r;
        return sovctl_post_job(ctx, path, body, a.wait);
}

static int sovctl_snapshot_delete(struct sovctl_ctx *ctx, int argc, char **argv) {
        _cleanup_json_ struct json_object *answer = NULL;
        _cleanup_free_ char *path = NULL, *uuid = NULL, *name = NULL;
        struct sovctl_args a = {};
        int r;

        r = sovctl_parse_vm(ctx, "snapshot delete", 0, 2, "snapshots", NULL, argc, argv, &a, &path, &uuid);
        if (r != 0)
                return r;
        r = sovctl_call(ctx, "DELETE", path, NULL, 0, &answer);
        if (r < 0)
                return r;
        /* 204 carries nothing; print only what a server chose to send. */
        if (sovctl_json_done(ctx, answer))
                return 0;
        name = sovctl_sanitize(a.pos[1]);
        if (!name)
                return -ENOMEM;
        printf("snapshot %s of VM %s deleted\n", name, uuid);
        return 0;
}

/* `snapshot revert VM NAME`: answers the VM as it is afterwards. */
static int sovctl_snapshot_revert(struct sovctl_ctx *ctx, int argc, char **argv) {
        _cleanup_json_ struct json_object *vm = NULL;
        _cleanup_free_ char *path = NULL, *uuid = NULL, *name = NULL, *done = NULL;
        struct sovctl_args a = {};
        int r;

        r = sovctl_parse_vm(ctx, "snapshot revert", SOVCTL_OPT_POSTS, 2, "snapshots", "/revert", argc, argv, &a, &path,
                            &uuid);
        if (r != 0)
                return r;
        r = sovctl_call(ctx, "POST", path, "{}", 2, &vm);
        if (r < 0)
                return r;
        if (sovctl_json_done(ctx, vm))
                return 0;
        name = sovctl_sanitize(a.pos[1]);
        if (!name || asprintf(&done, "reverted to snapshot %s", name) < 0)
                return -ENOMEM;
        return sovctl_print_vm_done(stdout, vm, a.pos[0], uuid, done);
}

/* ---- backups ---------------------------------------------------------------- */

/* `backup create VM --target T [--mode full|incremental] [--wait]`: 202 with a job. */
static int sovctl_backup_create(struct sovctl_ctx *ctx, int argc, char **argv) {
        static const char *const keys[] = { "target", "mode" };
        _cleanup_json_ struct json_object *body = NULL;
        _cleanup_free_ char *path = NULL;
        struct sovctl_args a = {};
        int r;

        r = sovctl_parse_args(ctx, "backup create", SOVCTL_OPT_TARGET | SOVCTL_OPT_MODE | SOVCTL_OPT_WAIT |
                                                            SOVCTL_OPT_POSTS,
                              1, 1, argc, argv, &a);
        if (r != 0)
                return r;
        if (!a.target)
                return sovctl_usage_error("backup create: needs --target TARGET (see 'sovctl backup-target list')");
        if (a.mode &&
            (r = sovctl_check_choice("--mode", a.mode, sovctl_backup_modes, ELEMENTSOF(sovctl_backup_modes))) < 0)
                return r;

        body = sovctl_json_strings(keys, (const char *[]){ a.target, a.mode }, ELEMENTSOF(keys));
        if (!body)
                return -ENOMEM;
        r = sovctl_vm_path(ctx, a.pos[0], "backups", NULL, NULL, &path, NULL);
        if (r < 0)
                return r;
        return sovctl_post_job(ctx, path, body, a.wait);
}

/* `backup list VM`: the VM's backups in every target, newest last. */
static int sovctl_backup_list(struct sovctl_ctx *ctx, int argc, char **argv) {
        static const struct sovctl_column cols[] = {
                SOVCTL_COLUMN("ID", "id"),
                SOVCTL_COLUMN("TARGET", "target"),
                SOVCTL_COLUMN("MODE", "mode"),
                SOVCTL_COLUMN("PARENT", "parent"),
                SOVCTL_COLUMN("CREATED", "created_at"),
                SOVCTL_COLUMN("COMPLETED", "completed_at"),
        };
        static const struct sovctl_read c = {
                .what = "backup list",
                .collection = "backups",
                .vm_words = 1,
                .view = { .key = "backups", .cols = cols, .n_cols = ELEMENTSOF(cols) },
        };

        return sovctl_read(ctx, &c, argc, argv);
}

/* `backup show ID`: the manifest, its domain XML by size only. */
static int sovctl_backup_show(struct sovctl_ctx *ctx, int argc, char **argv) {
        static const struct sovctl_read c = {
                .what = "backup show",
                .collection = "backups",
                .view = { .bulky = "domain_xml" },
        };

        return sovctl_read(ctx, &c, argc, argv);
}

/*
 * `backup verify ID`: sovd runs the verification as a job, which this
 * follows to its end. Exit 0 only when every checksum of the backup and of
 * its parents matches.
 */
static int sovctl_backup_verify(struct sovctl_ctx *ctx, int argc, char **argv) {
        /* The chain's files come too: BACKUP tells whose, when sovd says. */
        static const struct sovctl_column cols[] = {
                SOVCTL_COLUMN("BACKUP", "backup"),
                SOVCTL_COLUMN("TARGET", "target"),
                SOVCTL_COLUMN("FILE", "file"),
                SOVCTL_COLUMN("OK", "ok"),
                { .header = "EXPECTED", .member = "expected", .format = sovctl_short_digest },
                { .header = "ACTUAL", .member = "actual", .format = sovctl_short_digest },
        };
        _cleanup_json_ struct json_object *answer = NULL, *job = NULL;
        _cleanup_free_ char *path = NULL, *chain = NULL;
        struct json_object *disks, *result;
        struct sovctl_args a = {};
        const char *state;
        bool ok;
        int r;

        r = sovctl_parse_id(ctx, "backup verify", SOVCTL_OPT_POSTS, "backups", "/verify", argc, argv, &a, &path);
        if (r != 0)
                return r;
        r = sovctl_call(ctx, "POST", path, "{}", 2, &answer);
        if (r < 0)
                return r;
        r = sovctl_job_follow(ctx, answer, 0, &job);
        if (r < 0)
                return r;
        if (ctx->json)
                sovctl_print_json(stdout, job);
        state = sovctl_json_get_string(job, "state");
        result = sovctl_json_get(job, "result");
        /* Failed or cancelled before it had a verdict: the job's own words. */
        if (!json_object_is_type(result, json_type_object)) {
                if (!streq(state, "succeeded"))
                        return sovctl_job_report_end(job);
                sovctl_error("unusable answer from %s: the verification has no result", sovctl_http_target(ctx->http));
                return -SOVCTL_E_API;
        }
        r = sovctl_answer_verdict(ctx, result, "ok", &ok);
        if (r < 0)
                return r;
        if (ctx->json)
                return ok ? 0 : -SOVCTL_E_API;

        disks = sovctl_answer_array(ctx, result, "disks");
        if (!disks)
                return -SOVCTL_E_API;
        r = sovctl_print_rows(disks, cols, ELEMENTSOF(cols));
        if (r < 0)
                return r;
        if (json_object_is_type(sovctl_json_get(result, "chain"), json_type_array)) {
                chain = sovctl_join_scalars(sovctl_json_get(result, "chain"));
                if (!chain)
                        return -ENOMEM;
                printf("chain: %s\n", chain);
        }
        if (!ok) {
                sovctl_error("backup %s does not verify: a file is missing or its checksum differs", a.pos[0]);
                return -SOVCTL_E_API;
        }
        printf("backup %s verified: every checksum matches\n", a.pos[0]);
        return 0;
}

/* `backup restore ID (--name NEW | --in-place) [--pool POOL] [--wait]`: 202 with a job. */
static int sovctl_backup_restore(struct sovctl_ctx *ctx, int argc, char **argv) {
        static const char *const keys[] = { "name", "pool" };
        _cleanup_json_ struct json_object *body = NULL;
        _cleanup_free_ char *path = NULL;
        struct sovctl_args a = {};
        int r;

        r = sovctl_parse_id(ctx, "backup restore",
                            SOVCTL_OPT_RESTORE | SOVCTL_OPT_POOL | SOVCTL_OPT_WAIT | SOVCTL_OPT_POSTS, "backups",
                            "/restore", argc, argv, &a, &path);
        if (r != 0)
                return r;
        if (!!a.name == a.in_place)
                return sovctl_usage_error("backup restore: needs either --name NEW (a new VM) or --in-place");
        if (a.name && !name_is_valid(a.name))
                return sovctl_usage_error("--name: '%s' is not a VM name: 1-%d of A-Z a-z 0-9 . _ -, starting "
                                          "with a letter or digit",
                                          a.name, NAME_MAX_LEN);

        body = sovctl_json_strings(keys, (const char *[]){ a.name, a.pool }, ELEMENTSOF(keys));
        if (!body || (a.in_place && sovctl_json_add_new(body, "in_place", json_object_new_boolean(true)) < 0))
                return -ENOMEM;
        return sovctl_post_job(ctx, path, body, a.wait);
}

/* ---- migrations ------------------------------------------------------------- */

/*
 * `vm migrate VM --peer PEER [--mode live|offline] [--copy-storage
 * --destination-pool POOL] [--wait]`: 202 with a job. sovd asks the peer
 * for its tags (and the pool's) and judges them before libvirt is called.
 */
int sovctl_cmd_vm_migrate(struct sovctl_ctx *ctx, int argc, char **argv) {
        static const char *const keys[] = { "peer", "mode", "copy_storage", "destination_pool" };
        _cleanup_json_ struct json_object *body = NULL;
        _cleanup_free_ char *path = NULL;
        struct sovctl_args a = {};
        int r;

        r = sovctl_parse_args(ctx, "vm migrate", SOVCTL_OPT_MIGRATE | SOVCTL_OPT_MODE | SOVCTL_OPT_WAIT |
                                                         SOVCTL_OPT_POSTS,
                              1, 1, argc, argv, &a);
        if (r != 0)
                return r;
        if (!a.peer)
                return sovctl_usage_error("vm migrate: needs --peer PEER (a peer agent of sovd's configuration)");
        if (!name_is_valid(a.peer))
                return sovctl_usage_error("--peer: '%s' is not a peer name: 1-%d of A-Z a-z 0-9 . _ -, starting "
                                          "with a letter or digit",
                                          a.peer, NAME_MAX_LEN);
        if (a.mode && (r = sovctl_check_choice("--mode", a.mode, sovctl_migration_modes,
                                               ELEMENTSOF(sovctl_migration_modes))) < 0)
                return r;
        if (a.copy_storage && !a.destination_pool)
                return sovctl_usage_error("vm migrate: --copy-storage needs --destination-pool POOL (the peer's "
                                          "pool the disks are copied into)");
        if (a.destination_pool && !a.copy_storage)
                return sovctl_usage_error("vm migrate: --destination-pool applies only with --copy-storage; "
                                          "without it the disks stay where they are");
        if (a.destination_pool && !name_is_valid(a.destination_pool))
                return sovctl_usage_error("--destination-pool: '%s' is not a pool name: 1-%d of A-Z a-z 0-9 . _ -, "
                                          "starting with a letter or digit",
                                          a.destination_pool, NAME_MAX_LEN);
        if (a.copy_storage && a.mode && streq(a.mode, "offline"))
                return sovctl_usage_error("vm migrate: --copy-storage needs a live migration (an offline one "
                                          "moves the definition only)");

        body = sovctl_json_strings(keys,
                                   (const char *[]){ a.peer, a.mode, a.copy_storage ? "all" : NULL,
                                                     a.destination_pool },
                                   ELEMENTSOF(keys));
        if (!body)
                return -ENOMEM;
        r = sovctl_vm_path(ctx, a.pos[0], "migrate", NULL, NULL, &path, NULL);
        if (r < 0)
                return r;
        return sovctl_post_job(ctx, path, body, a.wait);
}

/* ---- dispatch --------------------------------------------------------------- */

int sovctl_cmd_jobs(struct sovctl_ctx *ctx, int argc, char **argv) {
        static const struct sovctl_command job[] = {
                { "list", sovctl_job_list },
                { "show", sovctl_job_show },
                { "wait", sovctl_job_wait },
                { "cancel", sovctl_job_cancel },
        };
        static const struct sovctl_command snapshot[] = {
                { "list", sovctl_snapshot_list },     { "show", sovctl_snapshot_show },
                { "create", sovctl_snapshot_create }, { "delete", sovctl_snapshot_delete },
                { "revert", sovctl_snapshot_revert },
        };
        static const struct sovctl_command backup[] = {
                { "create", sovctl_backup_create }, { "list", sovctl_backup_list },
                { "show", sovctl_backup_show },     { "verify", sovctl_backup_verify },
                { "restore", sovctl_backup_restore },
        };

        if (streq(argv[0], "job"))
                return sovctl_dispatch(ctx, "job", job, ELEMENTSOF(job), argc, argv);
        if (streq(argv[0], "snapshot"))
                return sovctl_dispatch(ctx, "snapshot", snapshot, ELEMENTSOF(snapshot), argc, argv);
        return sovctl_dispatch(ctx, "backup", backup, ELEMENTSOF(backup), argc, argv);
}
