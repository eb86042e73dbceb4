/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Jobs: long operations (snapshot with memory, backup, restore, migration)
 * run by a small pool of worker threads. Each job is one JSON file in
 * <state_dir>/jobs, rewritten atomically (write, fsync, rename) at every
 * state change, so a restart finds every job: those that were queued or
 * running are handed to their kind's recover() to learn from libvirt what
 * actually happened, and end succeeded or failed with a reason — never
 * forgotten, never left "running".
 *
 * At most one active (queued or running) job per VM: a second is refused
 * with -EBUSY, which the API answers 409. Synchronous operations that
 * change a VM (start, stop, delete, snapshot revert...) hold it for their
 * duration through the same table, so they never overlap a job either.
 *
 * How each job ends is an audit record (recorder.h, "operation"), tied to
 * the request and decision the API stored under "context" in its params.
 *
 * Thread-safe: one mutex guards the table and a condition variable wakes
 * the workers; kinds' callbacks run without the lock.
 */

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <json-c/json.h>

#include "sovd/errors.h"
#include "sovd/id.h"

enum job_state {
        JOB_QUEUED,
        JOB_RUNNING,
        JOB_SUCCEEDED,
        JOB_FAILED,
        JOB_CANCELLED,
        _JOB_STATE_MAX,
};

const char *job_state_to_string(enum job_state s);
int job_state_from_string(const char *s);

struct job;

struct job_kind {
        const char *name; /* "snapshot", "backup", ... */
        /*
         * Runs the operation on a worker thread. Returns 0, or a negative
         * errno with @err saying why (the job then fails with that reason).
         * Long operations check job_cancel_requested() where they can.
         */
        int (*run)(struct job *j, struct sovd_err *err);
        /* Asks a running operation to stop (e.g. virDomainAbortJob); NULL: not cancellable once running. */
        int (*cancel)(struct job *j, struct sovd_err *err);
        /*
         * After a restart, for a job found queued or running: looks at what
         * libvirt has and returns JOB_SUCCEEDED or JOB_FAILED with @reason.
         * NULL: such jobs fail with "interrupted by an agent restart".
         */
        enum job_state (*recover)(struct job *j, char *reason, size_t size);
        /*
         * Progress now (bytes done and total, from libvirt's job stats);
         * NULL: what run() reported through job_report_progress(), if anything.
         */
        int (*progress)(struct job *j, uint64_t *ret_done, uint64_t *ret_total);
        /*
         * The job only reads (a backup's verification): it runs beside other
         * jobs on its VM and does not make the VM busy. Claims still apply.
         * Such jobs run one at a time, so they never take every worker.
         */
        bool reads_only;
        /*
         * The job writes the VM's disks while it is off (an in-place
         * restore): starts are refused meanwhile, also those libvirt's hook
         * asks about (jobs_vm_may_start()).
         */
        bool keeps_vm_off;
};

/*
 * Opens <@state_dir>/jobs (created 0700), loads every job, recovers the
 * interrupted ones through their kinds, and starts @workers threads.
 */
int jobs_start(const char *state_dir, const struct job_kind *const *kinds, unsigned workers, struct sovd_err *err);

/* Stops the workers after their current job, which sees jobs_stopping() and ends early where it can. */
void jobs_stop(void);

/*
 * Queues a job of @kind on @vm with @params (copied). Returns the job's id.
 * -EBUSY when @vm already has an active job (with @err naming it), -EINVAL
 * for an unknown kind.
 */
int jobs_submit(const char *kind, const char *vm, struct json_object *params, const char *request_id,
                char ret_id[static ID_TEXT_LEN], struct sovd_err *err);
/*
 * The same, with @claim (NULL: none) held by the job while it is active: a
 * second job claiming the same text is refused with -EBUSY, as a second job
 * on one VM is. For what two jobs on different VMs could both take, e.g. the
 * name of the VM a restore creates.
 */
int jobs_submit_claiming(const char *kind, const char *vm, const char *claim, struct json_object *params,
                         const char *request_id, char ret_id[static ID_TEXT_LEN], struct sovd_err *err);

/* -EBUSY (with @err naming the job or operation) when @vm has a queued or running job or is held; 0 otherwise. */
int jobs_active_for_vm(const char *vm, struct sovd_err *err);

/*
 * Holds @vm for a synchronous operation (@what, a static string such as
 * "snapshot revert") that must not overlap a job or another such operation
 * on it: -EBUSY when @vm has an active job or is already held. While held,
 * jobs_submit() on @vm is refused the same way. Release with
 * jobs_release_vm() on every path.
 */
int jobs_hold_vm(const char *vm, const char *what, struct sovd_err *err);
void jobs_release_vm(const char *vm);
/* The same, for an operation during which the VM must not start (a deletion). */
int jobs_hold_vm_off(const char *vm, const char *what, struct sovd_err *err);

/*
 * -EBUSY, with @err saying why, while @vm must stay off: a job of a
 * keeps_vm_off kind is active on it or it is held by jobs_hold_vm_off().
 * For the libvirt hook, so that a start behind sovd's back (virsh) never
 * runs a VM on disks being restored or deleted.
 */
int jobs_vm_may_start(const char *vm, struct sovd_err *err);

/* True while @vm has a queued or running job of @kind ("migrate"). */
bool jobs_vm_has_active(const char *vm, const char *kind);

/* One job as JSON: id, kind, vm, state, progress, error, result, request_id, timestamps. -ENOENT. */
int jobs_get(const char *id, struct json_object **ret, struct sovd_err *err);

/* The names of the registered kinds (at most @max); how many. */
size_t jobs_kind_names(const char **names, size_t max);
/* How many jobs of @kind (NULL: any) are in @state (kept jobs: the last 30 days). */
size_t jobs_count(const char *kind, enum job_state state);

/* Jobs matching @vm (NULL: any) and @state (-1: any), oldest first. */
int jobs_list(const char *vm, int state, struct json_object **ret);

/*
 * Cancels: a queued job ends cancelled at once; a running one is asked to
 * stop through its kind (-EOPNOTSUPP when it cannot be); a finished one is
 * -EBUSY (nothing to cancel). -ENOENT when unknown.
 */
int jobs_cancel(const char *id, struct sovd_err *err);

/* For kinds' callbacks. */
const char *job_id(const struct job *j);
const char *job_vm(const struct job *j);
struct json_object *job_params(const struct job *j); /* borrowed, read-only */
bool job_cancel_requested(const struct job *j);
/*
 * True once jobs_stop() was called: a long operation stops (aborting what
 * it runs in libvirt) and fails with a reason rather than hold the agent's
 * shutdown for the length of a backup.
 */
bool jobs_stopping(void);
/* For kinds without a progress callback: bytes done of @total so far, shown while running. */
void job_report_progress(struct job *j, uint64_t done, uint64_t total);
/* Stores the job's result (copied), shown once it succeeded. */
int job_set_result(struct job *j, struct json_object *result);
