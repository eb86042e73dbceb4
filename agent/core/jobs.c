/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>

#include "sovd/fileio.h"
#include "sovd/jobs.h"
#include "sovd/json-util.h"
#include "sovd/log.h"
#include "sovd/names.h"
#include "sovd/recorder.h"
#include "sovd/time-util.h"

#define JOB_FILE_MAX (4 * 1024 * 1024)
#define JOBS_MAX_WORKERS 8
#define JOBS_KEEP_DAYS 30

struct job {
        char id[ID_TEXT_LEN];
        char kind_name[32];
        const struct job_kind *kind; /* NULL: a kind this version does not know */
        char vm[ID_TEXT_LEN];
        char *claim; /* what else the job holds while active (jobs_submit_claiming()); not stored */
        enum job_state state;
        bool cancel_requested;
        bool ready;                 /* on disk as queued: workers may take it */
        pthread_mutex_t write_lock; /* one writer of the job's file at a time */
        time_t created, started, finished;
        char *request_id;
        char *error; /* why it failed or was cancelled */
        struct json_object *params;
        struct json_object *result;
        uint64_t progress_done, progress_total; /* job_report_progress(), for kinds sovd itself drives */
        bool progress_reported;
        struct job *next; /* jobs are never freed before jobs_stop(): pointers stay valid */
};

/* A VM held by a synchronous operation (jobs_hold_vm()); not stored: it lasts one request. */
struct vm_hold {
        char vm[ID_TEXT_LEN];
        const char *what;
        bool keeps_off; /* a start behind sovd's back is refused meanwhile (jobs_vm_may_start()) */
        struct vm_hold *next;
};

static const char *const state_table[_JOB_STATE_MAX] = {
        [JOB_QUEUED] = "queued",       [JOB_RUNNING] = "running",     [JOB_SUCCEEDED] = "succeeded",
        [JOB_FAILED] = "failed",       [JOB_CANCELLED] = "cancelled",
};

/* Everything below is guarded by jobs_lock; workers wait on jobs_cond. */
static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jobs_cond = PTHREAD_COND_INITIALIZER;
static struct job *jobs, *jobs_tail;
static struct vm_hold *holds;
static char *jobs_dir;
static const struct job_kind *const *job_kinds;
static pthread_t workers[JOBS_MAX_WORKERS];
static unsigned n_workers;
static bool stopping;

const char *job_state_to_string(enum job_state s) {
        return s < _JOB_STATE_MAX ? state_table[s] : "unknown";
}

int job_state_from_string(const char *s) {
        for (int i = 0; i < _JOB_STATE_MAX; i++)
                if (streq(state_table[i], s))
                        return i;
        return -EINVAL;
}

static bool is_active(enum job_state s) {
        return s == JOB_QUEUED || s == JOB_RUNNING;
}

static bool is_reader(const struct job *j) {
        return j->kind && j->kind->reads_only;
}

static const struct vm_hold *find_hold_locked(const char *vm) {
        for (const struct vm_hold *h = holds; h; h = h->next)
                if (streq(h->vm, vm))
                        return h;
        return NULL;
}

/* -EBUSY naming what is already working on @vm: an active job or a synchronous operation. */
static int vm_busy_locked(const char *vm, struct sovd_err *err) {
        const struct vm_hold *h = find_hold_locked(vm);

        if (h)
                return err_set(err, -EBUSY, "VM %s is busy with a %s; try again when it is done", vm, h->what);
        for (struct job *o = jobs; o; o = o->next)
                if (is_active(o->state) && streq(o->vm, vm) && !is_reader(o))
                        return err_set(err, -EBUSY, "VM %s has a %s job (%s, %s); wait for it or cancel it", vm,
                                       o->kind_name, o->id, job_state_to_string(o->state));
        return 0;
}

static const struct job_kind *find_kind(const char *name) {
        for (const struct job_kind *const *k = job_kinds; k && *k; k++)
                if (streq((*k)->name, name))
                        return *k;
        return NULL;
}

const char *job_id(const struct job *j) {
        return j->id;
}

const char *job_vm(const struct job *j) {
        return j->vm;
}

struct json_object *job_params(const struct job *j) {
        return j->params;
}

bool jobs_stopping(void) {
        bool r;

        pthread_mutex_lock(&jobs_lock);
        r = stopping;
        pthread_mutex_unlock(&jobs_lock);
        return r;
}

bool job_cancel_requested(const struct job *j) {
        bool r;

        pthread_mutex_lock(&jobs_lock);
        r = j->cancel_requested;
        pthread_mutex_unlock(&jobs_lock);
        return r;
}

int job_set_result(struct job *j, struct json_object *result) {
        struct json_object *copy = NULL;

        if (json_object_deep_copy(result, &copy, NULL) < 0)
                return -ENOMEM;
        pthread_mutex_lock(&jobs_lock);
        json_object_put(j->result);
        j->result = copy;
        pthread_mutex_unlock(&jobs_lock);
        return 0;
}

static void job_free(struct job *j) {
        pthread_mutex_destroy(&j->write_lock);
        free(j->claim);
        free(j->request_id);
        free(j->error);
        json_object_put(j->params);
        json_object_put(j->result);
        free(j);
}

static int add_time(struct json_object *o, const char *key, time_t t) {
        char buf[RFC3339_MAX];

        return t ? json_add_string(o, key, rfc3339_format(t, buf)) : json_add(o, key, NULL);
}

/* The job as stored and as answered; @with_params adds what recovery needs. Lock held. */
static struct json_object *job_to_json_locked(const struct job *j, bool with_params) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *copy = NULL;

        if (!o || json_add_string(o, "id", j->id) < 0 || json_add_string(o, "kind", j->kind_name) < 0 ||
            json_add_string(o, "vm", j->vm) < 0 || json_add_string(o, "state", job_state_to_string(j->state)) < 0 ||
            json_add_string(o, "request_id", j->request_id) < 0 || add_time(o, "created_at", j->created) < 0 ||
            add_time(o, "started_at", j->started) < 0 || add_time(o, "finished_at", j->finished) < 0)
                return NULL;
        if (j->error) {
                struct json_object *e = json_object_new_object();
                bool cancelled = j->state == JOB_CANCELLED;
                /* Shaped like a problem document (RFC 9457), as the API's own errors are. */
                if (!e || json_add(o, "error", e) < 0 ||
                    json_add_string(e, "type", cancelled ? "urn:sovd:problem:job-cancelled" : "urn:sovd:problem:job-failed") < 0 ||
                    json_add_string(e, "title", cancelled ? "Job cancelled" : "Job failed") < 0 ||
                    json_add_string(e, "detail", j->error) < 0)
                        return NULL;
        } else if (json_add(o, "error", NULL) < 0)
                return NULL;
        if (j->result && json_object_deep_copy(j->result, &copy, NULL) < 0)
                return NULL;
        if (json_add(o, "result", copy) < 0)
                return NULL;
        if (with_params) {
                copy = NULL;
                if (j->params && json_object_deep_copy(j->params, &copy, NULL) < 0)
                        return NULL;
                if (json_add(o, "params", copy) < 0)
                        return NULL;
        }
        return TAKE_PTR(o);
}

/*
 * Writes the job's file without holding jobs_lock (fsync takes milliseconds).
 * Writes of one job are serialised and each takes its snapshot inside, so
 * the last write always carries the latest state.
 */
static int persist(struct job *j) {
        _cleanup_json_ struct json_object *o = NULL;
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        if (asprintf(&path, "%s/%s.json", jobs_dir, j->id) < 0)
                return -ENOMEM;
        pthread_mutex_lock(&j->write_lock);
        pthread_mutex_lock(&jobs_lock);
        o = job_to_json_locked(j, true);
        if (o)
                text = strdup(json_to_string(o));
        pthread_mutex_unlock(&jobs_lock);
        r = text ? file_write_atomic(path, text, strlen(text), 0600) : -ENOMEM;
        pthread_mutex_unlock(&j->write_lock);
        return r;
}

static void set_state(struct job *j, enum job_state s, const char *error) {
        pthread_mutex_lock(&jobs_lock);
        j->state = s;
        if (s == JOB_RUNNING)
                j->started = time(NULL);
        if (!is_active(s))
                j->finished = time(NULL);
        if (error) {
                free(j->error);
                j->error = strdup(error);
        }
        pthread_mutex_unlock(&jobs_lock);
}

/*
 * The audit record of how a job ended, with the context the API stored in
 * its params ("context": caller, role, VM name, tenant, decision), so the
 * outcome is tied to the request and the decision that allowed it.
 * The worker calls it before the end state becomes visible: a client that
 * sees a job ended finds its outcome on record. A crash between the record
 * and the job file means the restart records the end a second time, which
 * is better than an end never recorded.
 */
static void record_end(struct job *j, enum job_state state, const char *error) {
        _cleanup_json_ struct json_object *extra = json_object_new_object();
        struct json_object *ctxo = NULL;
        const char *decision = NULL, *outcome;
        _cleanup_free_ char *detail = NULL;
        struct record_ctx ctx = { .source = "job", .vm_uuid = j->vm };
        struct sovd_err err = {};
        int r;

        if (j->params && json_object_object_get_ex(j->params, "context", &ctxo) && ctxo) {
                (void) json_get_string(ctxo, "caller", "", false, &ctx.caller, NULL);
                (void) json_get_string(ctxo, "role", "", false, &ctx.role, NULL);
                (void) json_get_string(ctxo, "vm_name", "", false, &ctx.vm_name, NULL);
                (void) json_get_string(ctxo, "tenant", "", false, &ctx.tenant, NULL);
                (void) json_get_string(ctxo, "decision", "", false, &decision, NULL);
                (void) json_get_string(ctxo, "migration_id", "", false, &ctx.migration_id, NULL);
        }
        ctx.request_id = j->request_id;
        /* Copied under the lock, recorded outside it: the record's fdatasync must not stall the table. */
        pthread_mutex_lock(&jobs_lock);
        detail = error ? strdup(error) : NULL;
        if (extra) {
                struct json_object *res = NULL;
                (void) json_add_string(extra, "job", j->id);
                if (j->result)
                        (void) json_object_deep_copy(j->result, &res, NULL);
                (void) json_add(extra, "result", res);
        }
        pthread_mutex_unlock(&jobs_lock);
        outcome = job_state_to_string(state);
        r = record_operation(&ctx, j->kind_name, outcome, decision, detail, extra, &err);
        log_emit(state == JOB_SUCCEEDED ? LOG_NOTICE : LOG_WARNING,
                 LOG_FIELDS({ "SOVD_JOB_ID", j->id }, { "SOVD_VM_UUID", j->vm }, { "SOVD_REQUEST_ID", j->request_id }),
                 "%s job %s on VM %s %s%s%s", j->kind_name, j->id, j->vm, outcome, detail ? ": " : "",
                 detail ? detail : "");
        if (r < 0)
                log_emit(LOG_ERR, LOG_FIELDS({ "SOVD_JOB_ID", j->id }), "cannot write the audit record of job %s: %s",
                         j->id, err.msg[0] ? err.msg : strerror(-r));
}

/*
 * The oldest queued job a worker may take. Jobs that only read (a
 * verification reads for minutes) run one at a time, so however many an
 * operator queues, the other workers stay free for backups and restores.
 */
static struct job *next_runnable_locked(void) {
        bool reader_running = false;

        for (struct job *o = jobs; o && !reader_running; o = o->next)
                reader_running = o->state == JOB_RUNNING && is_reader(o);
        for (struct job *o = jobs; o; o = o->next)
                if (o->state == JOB_QUEUED && o->ready && !o->cancel_requested && !(reader_running && is_reader(o)))
                        return o;
        return NULL;
}

static void *worker(void *arg) {
        for (;;) {
                struct job *j = NULL;
                struct sovd_err err = {};
                enum job_state end;
                const char *error;
                int r;

                pthread_mutex_lock(&jobs_lock);
                while (!stopping) {
                        j = next_runnable_locked();
                        if (j)
                                break;
                        pthread_cond_wait(&jobs_cond, &jobs_lock);
                }
                if (stopping) {
                        pthread_mutex_unlock(&jobs_lock);
                        return NULL;
                }
                j->state = JOB_RUNNING;
                j->started = time(NULL);
                pthread_mutex_unlock(&jobs_lock);
                (void) persist(j);

                r = j->kind->run(j, &err);
                if (job_cancel_requested(j) && r < 0) {
                        end = JOB_CANCELLED;
                        error = "cancelled on request";
                } else if (r < 0) {
                        end = JOB_FAILED;
                        error = err.msg[0] ? err.msg : strerror(-r);
                } else {
                        end = JOB_SUCCEEDED;
                        error = NULL;
                }
                record_end(j, end, error);
                set_state(j, end, error);
                (void) persist(j);
                if (is_reader(j)) {
                        /* The reader slot is free: a worker waiting with only readers queued may go on. */
                        pthread_mutex_lock(&jobs_lock);
                        pthread_cond_broadcast(&jobs_cond);
                        pthread_mutex_unlock(&jobs_lock);
                }
        }
}

/* Reads one job file; NULL when it is not a job (a damaged file is reported, not fatal). */
static struct job *load_job(const char *path, struct sovd_err *err) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        const char *id = NULL, *kind = NULL, *vm = NULL, *state = NULL, *rid = NULL, *t = NULL;
        struct json_object *params = NULL, *result = NULL, *e = NULL;
        struct job *j;
        size_t len;
        int s;

        if (file_read_all(path, JOB_FILE_MAX, &buf, &len) < 0 || json_parse_strict(buf, len, &o, err) < 0 ||
            json_get_string(o, "id", "", true, &id, err) < 0 || json_get_string(o, "kind", "", true, &kind, err) < 0 ||
            json_get_string(o, "vm", "", true, &vm, err) < 0 || json_get_string(o, "state", "", true, &state, err) < 0 ||
            !uuid_text_is_valid(id) ||
            !uuid_text_is_valid(vm) || strlen(kind) >= sizeof(j->kind_name) || (s = job_state_from_string(state)) < 0) {
                (void) err_set(err, -EBADMSG, "%s: not a job file", path);
                return NULL;
        }
        j = calloc(1, sizeof(*j));
        if (!j)
                return NULL;
        pthread_mutex_init(&j->write_lock, NULL);
        snprintf(j->id, sizeof(j->id), "%s", id);
        snprintf(j->kind_name, sizeof(j->kind_name), "%s", kind);
        snprintf(j->vm, sizeof(j->vm), "%s", vm);
        j->kind = find_kind(kind);
        j->state = (enum job_state) s;
        /* Written as null when the job had none. */
        if (json_get_string(o, "request_id", "", false, &rid, NULL) >= 0 && rid)
                j->request_id = strdup(rid);
        if (json_object_object_get_ex(o, "params", &params) && params)
                (void) json_object_deep_copy(params, &j->params, NULL);
        if (json_object_object_get_ex(o, "result", &result) && result)
                (void) json_object_deep_copy(result, &j->result, NULL);
        if (json_object_object_get_ex(o, "error", &e) && e &&
            json_get_string(e, "detail", "error", false, &t, NULL) >= 0 && t)
                j->error = strdup(t);
        static const char *const times[] = { "created_at", "started_at", "finished_at" };
        time_t *fields[] = { &j->created, &j->started, &j->finished };
        for (size_t i = 0; i < ELEMENTSOF(times); i++)
                if (json_get_string(o, times[i], "", false, &t, NULL) >= 0 && t)
                        (void) rfc3339_parse(t, fields[i]);
        return j;
}

static int cmp_created(const void *a, const void *b) {
        const struct job *x = *(struct job *const *) a, *y = *(struct job *const *) b;
        return x->created < y->created ? -1 : x->created > y->created;
}

/* Loads every job; interrupted ones end here, truthfully, through their kind. */
static int load_all(struct sovd_err *err) {
        DIR *d = opendir(jobs_dir);
        struct dirent *de;
        struct job **all = NULL;
        size_t n = 0;
        time_t now = time(NULL);

        if (!d)
                return err_set(err, -errno, "cannot open %s: %m", jobs_dir);
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                struct sovd_err lerr = {};
                size_t len = strlen(de->d_name);
                struct job *j, **p;

                if (len != ID_TEXT_LEN - 1 + 5 || !streq(de->d_name + ID_TEXT_LEN - 1, ".json"))
                        continue;
                if (asprintf(&path, "%s/%s", jobs_dir, de->d_name) < 0)
                        break;
                j = load_job(path, &lerr);
                if (!j)
                        continue;
                /* Old finished jobs go; their outcome is in the audit log. */
                if (!is_active(j->state) && j->finished && now - j->finished > JOBS_KEEP_DAYS * 24 * 3600) {
                        (void) unlink(path);
                        job_free(j);
                        continue;
                }
                p = realloc(all, (n + 1) * sizeof(*all));
                if (!p) {
                        job_free(j);
                        break;
                }
                all = p;
                all[n++] = j;
        }
        closedir(d);
        if (n > 0)
                qsort(all, n, sizeof(*all), cmp_created);
        for (size_t i = 0; i < n; i++) {
                struct job *j = all[i];

                if (is_active(j->state)) {
                        char reason[SOVD_ERR_MSG_MAX] = "interrupted by an agent restart";
                        enum job_state s = JOB_FAILED;

                        if (j->kind && j->kind->recover)
                                s = j->kind->recover(j, reason, sizeof(reason));
                        if (s != JOB_SUCCEEDED)
                                s = JOB_FAILED;
                        j->state = s;
                        j->finished = time(NULL);
                        free(j->error);
                        j->error = s == JOB_FAILED ? strdup(reason) : NULL;
                        (void) persist(j);
                        record_end(j, j->state, j->error);
                }
                if (jobs_tail)
                        jobs_tail->next = j;
                else
                        jobs = j;
                jobs_tail = j;
        }
        free(all);
        return 0;
}

int jobs_start(const char *state_dir, const struct job_kind *const *kinds, unsigned n, struct sovd_err *err) {
        int r;

        if (asprintf(&jobs_dir, "%s/jobs", state_dir) < 0) {
                jobs_dir = NULL;
                return -ENOMEM;
        }
        r = mkdir_p(jobs_dir, 0700);
        if (r < 0)
                return err_set(err, r, "cannot create %s: %s", jobs_dir, strerror(-r));
        job_kinds = kinds;
        stopping = false;
        r = load_all(err);
        if (r < 0)
                return r;
        if (n > JOBS_MAX_WORKERS)
                n = JOBS_MAX_WORKERS;
        for (n_workers = 0; n_workers < n; n_workers++) {
                r = pthread_create(&workers[n_workers], NULL, worker, NULL);
                if (r != 0) {
                        jobs_stop();
                        return err_set(err, -r, "cannot start job workers: %s", strerror(r));
                }
                (void) pthread_setname_np(workers[n_workers], "sovd-job");
        }
        return 0;
}

void jobs_stop(void) {
        pthread_mutex_lock(&jobs_lock);
        stopping = true;
        pthread_cond_broadcast(&jobs_cond);
        pthread_mutex_unlock(&jobs_lock);
        for (unsigned i = 0; i < n_workers; i++)
                pthread_join(workers[i], NULL);
        n_workers = 0;
        while (jobs) {
                struct job *j = jobs;
                jobs = j->next;
                job_free(j);
        }
        jobs_tail = NULL;
        free(jobs_dir);
        jobs_dir = NULL;
}

int jobs_submit(const char *kind, const char *vm, struct json_object *params, const char *request_id,
                char ret_id[static ID_TEXT_LEN], struct sovd_err *err) {
        return jobs_submit_claiming(kind, vm, NULL, params, request_id, ret_id, err);
}

int jobs_submit_claiming(const char *kind, const char *vm, const char *claim, struct json_object *params,
                         const char *request_id, char ret_id[static ID_TEXT_LEN], struct sovd_err *err) {
        const struct job_kind *k = find_kind(kind);
        struct job *j;
        int r;

        if (!k)
                return err_set(err, -EINVAL, "unknown job kind '%s'", kind);
        if (!uuid_text_is_valid(vm))
                return err_set(err, -EINVAL, "job on '%s': not a VM UUID", vm);
        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        pthread_mutex_init(&j->write_lock, NULL);
        id_new(j->id);
        snprintf(j->kind_name, sizeof(j->kind_name), "%s", kind);
        snprintf(j->vm, sizeof(j->vm), "%s", vm);
        j->kind = k;
        j->state = JOB_QUEUED;
        j->created = time(NULL);
        j->request_id = request_id ? strdup(request_id) : NULL;
        j->claim = claim ? strdup(claim) : NULL;
        if ((params && json_object_deep_copy(params, &j->params, NULL) < 0) || (request_id && !j->request_id) ||
            (claim && !j->claim)) {
                job_free(j);
                return -ENOMEM;
        }

        pthread_mutex_lock(&jobs_lock);
        r = k->reads_only ? 0 : vm_busy_locked(vm, err);
        if (r < 0) {
                pthread_mutex_unlock(&jobs_lock);
                job_free(j);
                return r;
        }
        for (struct job *o = jobs; o; o = o->next)
                if (claim && is_active(o->state) && o->claim && streq(o->claim, claim)) {
                        pthread_mutex_unlock(&jobs_lock);
                        r = err_set(err, -EBUSY, "%s job %s (%s) already claims %s; wait for it or cancel it",
                                    o->kind_name, o->id, job_state_to_string(o->state), claim);
                        job_free(j);
                        return r;
                }
        /* Listed at once (so a second submit for the VM is refused) but taken only once on disk. */
        if (jobs_tail)
                jobs_tail->next = j;
        else
                jobs = j;
        jobs_tail = j;
        pthread_mutex_unlock(&jobs_lock);
        r = persist(j);
        if (r < 0) {
                /* Not durable: the job must not run. */
                set_state(j, JOB_FAILED, "the job could not be written to the state directory");
                return err_set(err, r, "cannot record the job: %s", strerror(-r));
        }
        pthread_mutex_lock(&jobs_lock);
        j->ready = true;
        pthread_cond_signal(&jobs_cond);
        pthread_mutex_unlock(&jobs_lock);
        memcpy(ret_id, j->id, ID_TEXT_LEN);
        return 0;
}

bool jobs_vm_has_active(const char *vm, const char *kind) {
        bool found = false;

        pthread_mutex_lock(&jobs_lock);
        for (struct job *o = jobs; o && !found; o = o->next)
                found = is_active(o->state) && streq(o->vm, vm) && streq(o->kind_name, kind);
        pthread_mutex_unlock(&jobs_lock);
        return found;
}

int jobs_active_for_vm(const char *vm, struct sovd_err *err) {
        int r;

        pthread_mutex_lock(&jobs_lock);
        r = vm_busy_locked(vm, err);
        pthread_mutex_unlock(&jobs_lock);
        return r;
}

void job_report_progress(struct job *j, uint64_t done, uint64_t total) {
        pthread_mutex_lock(&jobs_lock);
        j->progress_done = done;
        j->progress_total = total;
        j->progress_reported = true;
        pthread_mutex_unlock(&jobs_lock);
}

static int hold_vm(const char *vm, const char *what, bool keeps_off, struct sovd_err *err) {
        struct vm_hold *h = calloc(1, sizeof(*h));
        int r;

        if (!h)
                return -ENOMEM;
        snprintf(h->vm, sizeof(h->vm), "%s", vm);
        h->what = what;
        h->keeps_off = keeps_off;
        pthread_mutex_lock(&jobs_lock);
        r = vm_busy_locked(vm, err);
        if (r >= 0) {
                h->next = holds;
                holds = h;
        }
        pthread_mutex_unlock(&jobs_lock);
        if (r < 0)
                free(h);
        return r;
}

int jobs_hold_vm(const char *vm, const char *what, struct sovd_err *err) {
        return hold_vm(vm, what, false, err);
}

int jobs_hold_vm_off(const char *vm, const char *what, struct sovd_err *err) {
        return hold_vm(vm, what, true, err);
}

int jobs_vm_may_start(const char *vm, struct sovd_err *err) {
        int r = 0;

        pthread_mutex_lock(&jobs_lock);
        for (const struct vm_hold *h = holds; h && r == 0; h = h->next)
                if (h->keeps_off && streq(h->vm, vm))
                        r = err_set(err, -EBUSY, "VM %s is in the middle of its %s through sovd", vm, h->what);
        for (struct job *o = jobs; o && r == 0; o = o->next)
                if (is_active(o->state) && streq(o->vm, vm) && o->kind && o->kind->keeps_vm_off)
                        r = err_set(err, -EBUSY, "a %s job (%s, %s) is writing the disks of VM %s; start it once "
                                    "the job has ended", o->kind_name, o->id, job_state_to_string(o->state), vm);
        pthread_mutex_unlock(&jobs_lock);
        return r;
}

void jobs_release_vm(const char *vm) {
        pthread_mutex_lock(&jobs_lock);
        for (struct vm_hold **p = &holds; *p; p = &(*p)->next)
                if (streq((*p)->vm, vm)) {
                        struct vm_hold *h = *p;
                        *p = h->next;
                        free(h);
                        break;
                }
        pthread_mutex_unlock(&jobs_lock);
}

static struct job *find_locked(const char *id) {
        for (struct job *j = jobs; j; j = j->next)
                if (streq(j->id, id))
                        return j;
        return NULL;
}

int jobs_get(const char *id, struct json_object **ret, struct sovd_err *err) {
        struct json_object *o;
        struct job *j;
        bool running;

        pthread_mutex_lock(&jobs_lock);
        j = find_locked(id);
        if (!j) {
                pthread_mutex_unlock(&jobs_lock);
                return err_set(err, -ENOENT, "no job %s", id);
        }
        o = job_to_json_locked(j, false);
        running = j->state == JOB_RUNNING;
        pthread_mutex_unlock(&jobs_lock);
        if (!o)
                return -ENOMEM;
        /* Progress is asked of libvirt when someone wants it: nothing polls. */
        uint64_t done = 0, total = 0;
        bool reported = false;
        if (running && j->kind && !j->kind->progress) {
                pthread_mutex_lock(&jobs_lock);
                reported = j->progress_reported;
                done = j->progress_done;
                total = j->progress_total;
                pthread_mutex_unlock(&jobs_lock);
        }
        if (reported || (running && j->kind && j->kind->progress && j->kind->progress(j, &done, &total) >= 0)) {
                struct json_object *p = json_object_new_object();
                if (!p || json_add(o, "progress", p) < 0 || json_add_int(p, "bytes_done", (int64_t) done) < 0 ||
                    json_add_int(p, "bytes_total", (int64_t) total) < 0) {
                        json_object_put(o);
                        return -ENOMEM;
                }
        } else if (json_add(o, "progress", NULL) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        *ret = o;
        return 0;
}

int jobs_list(const char *vm, int state, struct json_object **ret) {
        _cleanup_json_ struct json_object *arr = json_object_new_array();
        int r = 0;

        if (!arr)
                return -ENOMEM;
        pthread_mutex_lock(&jobs_lock);
        for (struct job *j = jobs; j && r >= 0; j = j->next) {
                struct json_object *o;
                if ((vm && !streq(j->vm, vm)) || (state >= 0 && (int) j->state != state))
                        continue;
                o = job_to_json_locked(j, false);
                if (!o || json_object_array_add(arr, o) < 0) {
                        json_object_put(o);
                        r = -ENOMEM;
                }
        }
        pthread_mutex_unlock(&jobs_lock);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(arr);
        return 0;
}

int jobs_cancel(const char *id, struct sovd_err *err) {
        struct job *j;
        enum job_state s;
        bool already;
        int r;

        pthread_mutex_lock(&jobs_lock);
        j = find_locked(id);
        if (!j) {
                pthread_mutex_unlock(&jobs_lock);
                return err_set(err, -ENOENT, "no job %s", id);
        }
        s = j->state;
        /* A queued job is skipped by the workers from here on; another DELETE of it meanwhile has nothing to do. */
        already = s == JOB_QUEUED && j->cancel_requested;
        if (s == JOB_QUEUED || s == JOB_RUNNING)
                j->cancel_requested = true;
        pthread_mutex_unlock(&jobs_lock);

        switch (s) {
        case JOB_QUEUED:
                if (already)
                        return 0;
                /* On record before anyone can see it cancelled, as the worker does for the jobs it ran. */
                record_end(j, JOB_CANCELLED, "cancelled before it started");
                set_state(j, JOB_CANCELLED, "cancelled before it started");
                return persist(j);
        case JOB_RUNNING:
                r = !j->kind || !j->kind->cancel
                            ? err_set(err, -EOPNOTSUPP, "a running %s job cannot be cancelled", j->kind_name)
                            : j->kind->cancel(j, err);
                if (r < 0) {
                        /* Refused: the job goes on, and must not later be reported as cancelled. */
                        pthread_mutex_lock(&jobs_lock);
                        j->cancel_requested = false;
                        pthread_mutex_unlock(&jobs_lock);
                }
                return r;
        case JOB_SUCCEEDED:
        case JOB_FAILED:
        case JOB_CANCELLED:
                return err_set(err, -EBUSY, "job %s has already %s", id, job_state_to_string(s));
        case _JOB_STATE_MAX:
                break;
        }
        return -EINVAL;
}

size_t jobs_kind_names(const char **names, size_t max) {
        size_t n = 0;

        for (const struct job_kind *const *k = job_kinds; k && *k && n < max; k++)
                names[n++] = (*k)->name;
        return n;
}

size_t jobs_count(const char *kind, enum job_state state) {
        size_t n = 0;

        pthread_mutex_lock(&jobs_lock);
        for (const struct job *j = jobs; j; j = j->next)
                if (j->state == state && (!kind || streq(j->kind_name, kind)))
                        n++;
        pthread_mutex_unlock(&jobs_lock);
        return n;
}
