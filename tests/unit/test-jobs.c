/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <unistd.h>

#include "sovd/fileio.h"
#include "sovd/jobs.h"
#include "sovd/json-util.h"
#include "test-harness.h"

#define VM1 "11111111-1111-4111-8111-111111111111"
#define VM2 "22222222-2222-4222-8222-222222222222"

/* Test kinds: the runner's contract, exercised without libvirt. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open, block_started;

static int run_ok(struct job *j, struct sovd_err *err) {
        _cleanup_json_ struct json_object *r = json_object_new_object();
        json_add_string(r, "snapshot", "snap-1");
        return job_set_result(j, r);
}

static int run_fail(struct job *j, struct sovd_err *err) {
        return err_set(err, -EIO, "the disk went away");
}

/* Blocks until the gate opens or the job is cancelled. */
static int run_block(struct job *j, struct sovd_err *err) {
        pthread_mutex_lock(&gate_lock);
        block_started = true;
        pthread_cond_broadcast(&gate_cond);
        while (!gate_open && !job_cancel_requested(j)) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 10 * 1000 * 1000;
                if (ts.tv_nsec >= 1000000000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&gate_cond, &gate_lock, &ts);
        }
        pthread_mutex_unlock(&gate_lock);
        return job_cancel_requested(j) ? err_set(err, -ECANCELED, "aborted") : 0;
}

static void open_gate(void) {
        pthread_mutex_lock(&gate_lock);
        gate_open = true;
        pthread_cond_broadcast(&gate_cond);
        pthread_mutex_unlock(&gate_lock);
}

static int cancel_block(struct job *j, struct sovd_err *err) {
        pthread_mutex_lock(&gate_lock);
        pthread_cond_broadcast(&gate_cond);
        pthread_mutex_unlock(&gate_lock);
        return 0;
}

static enum job_state recover_found(struct job *j, char *reason, size_t size) {
        /* "libvirt has the snapshot": the interrupted job did finish. */
        return JOB_SUCCEEDED;
}

static int progress_half(struct job *j, uint64_t *done, uint64_t *total) {
        *done = 512;
        *total = 1024;
        return 0;
}

static const struct job_kind kind_ok = { .name = "ok", .run = run_ok };
static const struct job_kind kind_fail = { .name = "fail", .run = run_fail };
static const struct job_kind kind_block = {
        .name = "block", .run = run_block, .cancel = cancel_block, .progress = progress_half,
};
static const struct job_kind kind_recovering = { .name = "recovering", .run = run_ok, .recover = recover_found };
static const struct job_kind kind_reader = { .name = "reader", .run = run_ok, .reads_only = true };
static const struct job_kind kind_slow_reader = {
        .name = "slow-reader", .run = run_block, .cancel = cancel_block, .reads_only = true,
};
static const struct job_kind kind_writer = {
        .name = "writer", .run = run_block, .cancel = cancel_block, .keeps_vm_off = true,
};
static const struct job_kind *const kinds[] = { &kind_ok, &kind_fail, &kind_block, &kind_recovering, &kind_reader,
                                                &kind_writer, &kind_slow_reader, NULL };

static char state_dir[64];

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f) {
        return remove(p);
}

static void setup(void) {
        struct sovd_err err = {};
        snprintf(state_dir, sizeof(state_dir), "/tmp/sovd-test-jobs-XXXXXX");
        ASSERT_NOT_NULL(mkdtemp(state_dir));
        gate_open = block_started = false;
        ASSERT_OK(jobs_start(state_dir, kinds, 2, &err));
}

static void teardown(void) {
        jobs_stop();
        nftw(state_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Polls until job @id is in a final state; returns its JSON (owned). */
static struct json_object *wait_final(const char *id) {
        struct sovd_err err;
        for (int i = 0; i < 500; i++) {
                struct json_object *o = NULL;
                const char *state = NULL;
                ASSERT_OK(jobs_get(id, &o, &err));
                json_get_string(o, "state", "", true, &state, NULL);
                if (!streq(state, "queued") && !streq(state, "running"))
                        return o;
                json_object_put(o);
                usleep(10000);
        }
        TEST_FAIL("job %s never finished", id);
        return NULL;
}

static const char *str(struct json_object *o, const char *k) {
        const char *s = NULL;
        json_get_string(o, k, "", false, &s, NULL);
        return s;
}

static void test_jobs_success_and_failure(void) {
        char id[ID_TEXT_LEN];
        struct sovd_err err = {};
        struct json_object *o, *r;

        setup();
        ASSERT_OK(jobs_submit("ok", VM1, NULL, "req-1", id, &err));
        o = wait_final(id);
        ASSERT_STR_EQ(str(o, "state"), "succeeded");
        ASSERT_STR_EQ(str(o, "kind"), "ok");
        ASSERT_STR_EQ(str(o, "vm"), VM1);
        ASSERT_STR_EQ(str(o, "request_id"), "req-1");
        ASSERT_TRUE(json_object_object_get_ex(o, "result", &r));
        ASSERT_STR_EQ(str(r, "snapshot"), "snap-1");
        ASSERT_NOT_NULL(str(o, "finished_at"));
        json_object_put(o);

        ASSERT_OK(jobs_submit("fail", VM1, NULL, NULL, id, &err));
        o = wait_final(id);
        ASSERT_STR_EQ(str(o, "state"), "failed");
        ASSERT_TRUE(json_object_object_get_ex(o, "error", &r));
        ASSERT_STR_CONTAINS(str(r, "detail"), "the disk went away");
        json_object_put(o);

        ASSERT_INT_EQ(jobs_submit("nope", VM1, NULL, NULL, id, &err), -EINVAL);
        ASSERT_INT_EQ(jobs_submit("ok", "not-a-uuid", NULL, NULL, id, &err), -EINVAL);
        teardown();
}

static void test_jobs_one_active_job_per_vm(void) {
        char a[ID_TEXT_LEN], b[ID_TEXT_LEN], c[ID_TEXT_LEN];
        struct sovd_err err = {};
        struct json_object *o;

        setup();
        ASSERT_OK(jobs_submit("block", VM1, NULL, NULL, a, &err));
        ASSERT_INT_EQ(jobs_submit("ok", VM1, NULL, NULL, b, &err), -EBUSY);
        ASSERT_STR_CONTAINS(err.msg, a);
        /* Another VM is not blocked. */
        ASSERT_OK(jobs_submit("ok", VM2, NULL, NULL, c, &err));
        json_object_put(wait_final(c));
        /* Progress is asked of the kind while running. */
        pthread_mutex_lock(&gate_lock);
        while (!block_started)
                pthread_cond_wait(&gate_cond, &gate_lock);
        pthread_mutex_unlock(&gate_lock);
        ASSERT_OK(jobs_get(a, &o, &err));
        ASSERT_STR_EQ(str(o, "state"), "running");
        struct json_object *p;
        ASSERT_TRUE(json_object_object_get_ex(o, "progress", &p) && p);
        ASSERT_INT_EQ(json_object_get_int64(json_object_object_get(p, "bytes_done")), 512);
        json_object_put(o);
        open_gate();
        o = wait_final(a);
        ASSERT_STR_EQ(str(o, "state"), "succeeded");
        json_object_put(o);
        ASSERT_OK(jobs_submit("ok", VM1, NULL, NULL, b, &err));
        json_object_put(wait_final(b));
        teardown();
}

/* A claim (a restore's new VM name) is held like a VM while the job is active, whatever its VM. */
static void test_jobs_claims(void) {
        char a[ID_TEXT_LEN], b[ID_TEXT_LEN];
        struct sovd_err err = {};
        struct json_object *o;

        setup();
        ASSERT_OK(jobs_submit_claiming("block", VM1, "the name 'x'", NULL, NULL, a, &err));
        ASSERT_INT_EQ(jobs_submit_claiming("ok", VM2, "the name 'x'", NULL, NULL, b, &err), -EBUSY);
        ASSERT_STR_CONTAINS(err.msg, a);
        ASSERT_STR_CONTAINS(err.msg, "the name 'x'");
        /* Another claim, or none, on another VM is not blocked. */
        ASSERT_OK(jobs_submit_claiming("ok", VM2, "the name 'y'", NULL, NULL, b, &err));
        json_object_put(wait_final(b));
        ASSERT_OK(jobs_submit("ok", VM2, NULL, NULL, b, &err));
        json_object_put(wait_final(b));
        open_gate();
        o = wait_final(a);
        ASSERT_STR_EQ(str(o, "state"), "succeeded");
        json_object_put(o);
        /* Released once the job has ended. */
        ASSERT_OK(jobs_submit_claiming("ok", VM2, "the name 'x'", NULL, NULL, b, &err));
        json_object_put(wait_final(b));
        teardown();
}

/* A synchronous operation holding a VM and a job on it exclude each other, both ways. */
static void test_jobs_holds(void) {
        char a[ID_TEXT_LEN], b[ID_TEXT_LEN];
        struct sovd_err err = {};
        struct json_object *o;

        setup();
        ASSERT_OK(jobs_hold_vm(VM1, "snapshot revert", &err));
        ASSERT_INT_EQ(jobs_submit("ok", VM1, NULL, NULL, a, &err), -EBUSY);
        ASSERT_STR_CONTAINS(err.msg, "snapshot revert");
        ASSERT_INT_EQ(jobs_hold_vm(VM1, "deletion", &err), -EBUSY);
        ASSERT_INT_EQ(jobs_active_for_vm(VM1, &err), -EBUSY);
        /* Another VM is not held. */
        ASSERT_OK(jobs_hold_vm(VM2, "stop", &err));
        jobs_release_vm(VM2);
        jobs_release_vm(VM1);
        ASSERT_OK(jobs_active_for_vm(VM1, &err));

        /* A job that only reads neither waits for the VM nor makes it busy. */
        ASSERT_OK(jobs_hold_vm(VM1, "snapshot revert", &err));
        ASSERT_OK(jobs_submit("reader", VM1, NULL, NULL, b, &err));
        jobs_release_vm(VM1);
        json_object_put(wait_final(b));

        ASSERT_OK(jobs_submit("block", VM1, NULL, NULL, a, &err));
        ASSERT_INT_EQ(jobs_hold_vm(VM1, "stop", &err), -EBUSY);
        ASSERT_STR_CONTAINS(err.msg, a);
        ASSERT_OK(jobs_submit("reader", VM1, NULL, NULL, b, &err));
        o = wait_final(b);
        ASSERT_STR_EQ(str(o, "state"), "succeeded");
        json_object_put(o);
        open_gate();
        o = wait_final(a);
        json_object_put(o);
        ASSERT_OK(jobs_hold_vm(VM1, "stop", &err));
        jobs_release_vm(VM1);
        ASSERT_OK(jobs_submit("ok", VM1, NULL, NULL, b, &err));
        json_object_put(wait_final(b));
        teardown();
}

/* Readers run one at a time: however many are queued, another worker stays free. */
static void test_jobs_readers_leave_a_worker_free(void) {
        char r1[ID_TEXT_LEN], r2[ID_TEXT_LEN], ok[ID_TEXT_LEN];
        struct sovd_err err = {};
        struct json_object *o;

        setup();
        ASSERT_OK(jobs_submit("slow-reader", VM1, NULL, NULL, r1, &err));
        ASSERT_OK(jobs_submit("slow-reader", VM2, NULL, NULL, r2, &err));
        ASSERT_OK(jobs_submit("ok", VM1, NULL, NULL, ok, &err));
        o = wait_final(ok);
        ASSERT_STR_EQ(str(o, "state"), "succeeded");
        json_object_put(o);
        ASSERT_OK(jobs_get(r1, &o, &err));
        ASSERT_STR_EQ(str(o, "state"), "running");
        json_object_put(o);
        ASSERT_OK(jobs_get(r2, &o, &err));
        ASSERT_STR_EQ(str(o, "state"), "queued");
        json_object_put(o);
        open_gate();
        o = wait_final(r2);
        ASSERT_STR_EQ(str(o, "state"), "succeeded");
        json_object_put(o);
        json_object_put(wait_final(r1));
        teardown();
}

/* What the libvirt hook asks before a start: only restores and deletions keep the VM off. */
static void test_jobs_vm_may_start(void) {
        char a[ID_TEXT_LEN];
        struct sovd_err err = {};

        setup();
        ASSERT_OK(jobs_vm_may_start(VM1, &err));
        /* A revert may start the VM itself: its hold does not keep it off. */
        ASSERT_OK(jobs_hold_vm(VM1, "snapshot revert", &err));
        ASSERT_OK(jobs_vm_may_start(VM1, &err));
        jobs_release_vm(VM1);
        ASSERT_OK(jobs_hold_vm_off(VM1, "deletion", &err));
        ASSERT_INT_EQ(jobs_vm_may_start(VM1, &err), -EBUSY);
        ASSERT_STR_CONTAINS(err.msg, "deletion");
        ASSERT_OK(jobs_vm_may_start(VM2, &err));
        jobs_release_vm(VM1);
        ASSERT_OK(jobs_vm_may_start(VM1, &err));

        ASSERT_OK(jobs_submit("block", VM1, NULL, NULL, a, &err));
        ASSERT_OK(jobs_vm_may_start(VM1, &err));
        open_gate();
        json_object_put(wait_final(a));
        gate_open = false;
        ASSERT_OK(jobs_submit("writer", VM1, NULL, NULL, a, &err));
        ASSERT_INT_EQ(jobs_vm_may_start(VM1, &err), -EBUSY);
        ASSERT_STR_CONTAINS(err.msg, a);
        open_gate();
        json_object_put(wait_final(a));
        ASSERT_OK(jobs_vm_may_start(VM1, &err));
        teardown();
}

static void test_jobs_cancel(void) {
        char a[ID_TEXT_LEN];
        struct sovd_err err = {};
        struct json_object *o;

        setup();
        ASSERT_OK(jobs_submit("block", VM1, NULL, NULL, a, &err));
        pthread_mutex_lock(&gate_lock);
        while (!block_started)
                pthread_cond_wait(&gate_cond, &gate_lock);
        pthread_mutex_unlock(&gate_lock);
        ASSERT_OK(jobs_cancel(a, &err));
        o = wait_final(a);
        ASSERT_STR_EQ(str(o, "state"), "cancelled");
        json_object_put(o);
        ASSERT_INT_EQ(jobs_cancel(a, &err), -EBUSY);
        ASSERT_INT_EQ(jobs_cancel("33333333-3333-4333-8333-333333333333", &err), -ENOENT);
        teardown();
}

/* A job file left "running" by a crash: the next start ends it truthfully. */
static void test_jobs_restart_recovery(void) {
        char path[256], dir[128];
        struct sovd_err err = {};
        struct json_object *list, *o;
        static const char running[] =
                "{\"id\":\"44444444-4444-4444-8444-444444444444\",\"kind\":\"%s\",\"vm\":\"" VM1 "\","
                "\"state\":\"running\",\"request_id\":null,\"created_at\":\"2026-11-23T10:00:00Z\","
                "\"started_at\":\"2026-11-23T10:00:01Z\",\"finished_at\":null,\"error\":null,\"result\":null,"
                "\"params\":{}}";
        char doc[1024];

        snprintf(state_dir, sizeof(state_dir), "/tmp/sovd-test-jobs-XXXXXX");
        ASSERT_NOT_NULL(mkdtemp(state_dir));
        snprintf(dir, sizeof(dir), "%s/jobs", state_dir);
        ASSERT_OK(mkdir_p(dir, 0700));
        snprintf(doc, sizeof(doc), running, "recovering");
        snprintf(path, sizeof(path), "%s/44444444-4444-4444-8444-444444444444.json", dir);
        ASSERT_OK(file_write_atomic(path, doc, strlen(doc), 0600));
        snprintf(doc, sizeof(doc), running, "ok");
        doc[8] = '5'; /* another id */
        memcpy(doc + 7, "55555555", 8);
        snprintf(path, sizeof(path), "%s/55555555-4444-4444-8444-444444444444.json", dir);
        ASSERT_OK(file_write_atomic(path, doc, strlen(doc), 0600));
        snprintf(path, sizeof(path), "%s/66666666-4444-4444-8444-444444444444.json", dir);
        ASSERT_OK(file_write_atomic(path, "garbage", 7, 0600));

        ASSERT_OK(jobs_start(state_dir, kinds, 1, &err));
        ASSERT_OK(jobs_get("44444444-4444-4444-8444-444444444444", &o, &err));
        ASSERT_STR_EQ(str(o, "state"), "succeeded"); /* its kind found the result in libvirt */
        json_object_put(o);
        ASSERT_OK(jobs_get("55555555-4444-4444-8444-444444444444", &o, &err));
        ASSERT_STR_EQ(str(o, "state"), "failed"); /* no recover(): interrupted */
        ASSERT_STR_CONTAINS(str(json_object_object_get(o, "error"), "detail"), "restart");
        json_object_put(o);
        ASSERT_OK(jobs_list(VM1, -1, &list));
        ASSERT_INT_EQ(json_object_array_length(list), 2);
        json_object_put(list);
        /* The verdicts are on disk too. */
        jobs_stop();
        ASSERT_OK(jobs_start(state_dir, kinds, 1, &err));
        ASSERT_OK(jobs_list(NULL, JOB_FAILED, &list));
        ASSERT_INT_EQ(json_object_array_length(list), 1);
        json_object_put(list);
        teardown();
}

TEST_MAIN(TEST(test_jobs_success_and_failure), TEST(test_jobs_one_active_job_per_vm), TEST(test_jobs_claims), TEST(test_jobs_holds), TEST(test_jobs_vm_may_start), TEST(test_jobs_readers_leave_a_worker_free),
          TEST(test_jobs_cancel), TEST(test_jobs_restart_recovery))
