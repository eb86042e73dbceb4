/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "sovd/audit.h"
#include "sovd/fileio.h"
#include "sovd/json-util.h"
#include "sovd/log.h"
#include "test-harness.h"

#define VM_A "6f1c2d9e-0b1a-4c3d-9e8f-0123456789ab"
#define VM_B "0b6f4e2a-7c1d-4e5f-8a9b-fedcba987654"

static char tmpdir[256];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static void make_tmpdir(void) {
        const char *base = getenv("TMPDIR");

        snprintf(tmpdir, sizeof(tmpdir), "%s/sovd-test-audit-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmpdir))
                TEST_FAIL("mkdtemp(%s): %s", tmpdir, strerror(errno));
        /* The journald copy goes to stderr outside journald: keep the test output readable. */
        log_set_max_level(LOG_WARNING);
}

static void remove_tmpdir(void) {
        (void) nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct audit_log *open_log(uint64_t rotate_bytes) {
        struct audit_log *log = NULL;
        struct sovd_err e = {};
        int r;

        r = audit_open(tmpdir, rotate_bytes, &log, &e);
        if (r < 0)
                TEST_FAIL("audit_open: %s (%s)", strerror(-r), e.msg);
        return log;
}

static char *audit_path(uint64_t number) {
        char *p;

        if (asprintf(&p, "%s/audit/audit-%08" PRIu64 ".jsonl", tmpdir, number) < 0)
                TEST_FAIL("asprintf");
        return p;
}

/* A decision-shaped record: kind, operation, vm, and decision.outcome. */
static struct json_object *make_fields(const char *kind, const char *vm, const char *outcome, size_t pad) {
        struct json_object *f = json_object_new_object(), *d = json_object_new_object();
        char *padding = malloc(pad + 1);

        ASSERT_NOT_NULL(f);
        ASSERT_NOT_NULL(d);
        ASSERT_NOT_NULL(padding);
        memset(padding, 'x', pad);
        padding[pad] = '\0';
        ASSERT_OK(json_add_string(f, "kind", kind));
        ASSERT_OK(json_add_string(f, "request_id", "req-1"));
        ASSERT_OK(json_add_string(f, "operation", "vm.start"));
        ASSERT_OK(json_add_string(f, "vm", vm));
        if (outcome) {
                ASSERT_OK(json_add_string(d, "outcome", outcome));
                ASSERT_OK(json_add_string(d, "rule", padding));
                ASSERT_OK(json_add(f, "decision", d));
        } else
                json_object_put(d);
        free(padding);
        return f;
}

static void append_one(struct audit_log *log, const char *vm, const char *outcome, size_t pad,
                       struct audit_receipt *ret) {
        _cleanup_json_ struct json_object *f = make_fields("decision", vm, outcome, pad);
        struct sovd_err e = {};
        int r;

        r = audit_append(log, f, ret, &e);
        if (r < 0)
                TEST_FAIL("audit_append: %s (%s)", strerror(-r), e.msg);
}

/* The lines of a file, as a NULL-terminated array (the file's '\n's become NULs). */
static char **read_lines(const char *path, size_t *ret_n) {
        char *buf = NULL, **lines;
        size_t len = 0, n = 0;

        ASSERT_OK(file_read_all(path, 64u << 20, &buf, &len));
        lines = calloc(len + 2, sizeof(char *));
        ASSERT_NOT_NULL(lines);
        for (char *p = buf, *nl; p < buf + len; p = nl + 1) {
                nl = memchr(p, '\n', (size_t) (buf + len - p));
                if (!nl)
                        TEST_FAIL("%s: last line has no newline", path);
                *nl = '\0';
                lines[n++] = strdup(p);
        }
        free(buf);
        *ret_n = n;
        return lines;
}

static void write_lines(const char *path, char **lines, size_t n) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        ASSERT_NOT_NULL(f);
        for (size_t i = 0; i < n; i++)
                if (lines[i])
                        fprintf(f, "%s\n", lines[i]);
        ASSERT_INT_EQ(fclose(f), 0);
        ASSERT_OK(file_write_atomic(path, buf, len, 0600));
}

static void append_raw(const char *path, const char *bytes) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);

        ASSERT_TRUE(fd >= 0);
        ASSERT_INT_EQ(write(fd, bytes, strlen(bytes)), (intmax_t) strlen(bytes));
}

static off_t file_size(const char *path) {
        struct stat st;

        ASSERT_INT_EQ(stat(path, &st), 0);
        return st.st_size;
}

static void verify_dir(unsigned flags, struct audit_verify_result *res) {
        _cleanup_strv_free_ char **paths = NULL;
        _cleanup_free_ char *dir = NULL;
        struct sovd_err e = {};
        size_t n;

        ASSERT_TRUE(asprintf(&dir, "%s/audit", tmpdir) > 0);
        ASSERT_OK(audit_chain_list_files(dir, &paths, &n, &e));
        if (audit_chain_verify_files(paths, n, flags, res, &e) < 0)
                TEST_FAIL("verify: %s", e.msg);
}

static void test_audit_append_and_verify(void) {
        _cleanup_(audit_closep) struct audit_log *log = NULL;
        _cleanup_free_ char *path = NULL;
        struct audit_receipt rc[50];
        struct audit_verify_result res;
        char hash[AUDIT_HASH_LEN];
        char **lines;
        uint64_t seq;
        size_t n;

        make_tmpdir();
        log = open_log(0);
        audit_get_head(log, &seq, hash);
        ASSERT_INT_EQ(seq, 0);
        ASSERT_STR_EQ(hash, AUDIT_CHAIN_START);
        for (size_t i = 0; i < ELEMENTSOF(rc); i++) {
                append_one(log, VM_A, i % 2 ? "allow" : "deny", 20, &rc[i]);
                ASSERT_INT_EQ(rc[i].seq, i + 1);
        }
        audit_get_head(log, &seq, hash);
        ASSERT_INT_EQ(seq, 50);
        ASSERT_STR_EQ(hash, rc[49].hash);

        /* The format: member order fixed, prev chaining the exact line bytes. */
        path = audit_path(1);
        lines = read_lines(path, &n);
        ASSERT_INT_EQ(n, 50);
        ASSERT_TRUE(strncmp(lines[0], "{\"seq\":1,\"id\":\"", 15) == 0);
        ASSERT_STR_CONTAINS(lines[0], rc[0].id);
        ASSERT_STR_CONTAINS(lines[0], "\"time\":\"");
        ASSERT_STR_CONTAINS(lines[0], "\",\"kind\":\"decision\",\"request_id\":\"req-1\",\"operation\"");
        ASSERT_STR_CONTAINS(lines[0], ",\"sovd_version\":\"");
        ASSERT_STR_CONTAINS(lines[0], ",\"prev\":\"" AUDIT_CHAIN_START "\"}");
        for (size_t i = 1; i < n; i++) {
                char h[AUDIT_HASH_LEN], want[128];

                ASSERT_OK(audit_chain_hash(lines[i - 1], strlen(lines[i - 1]), h));
                ASSERT_STR_EQ(h, rc[i - 1].hash);
                snprintf(want, sizeof(want), "\"prev\":\"%s\"}", h);
                ASSERT_STR_CONTAINS(lines[i], want);
        }
        strv_free(lines);

        verify_dir(0, &res);
        ASSERT_TRUE(res.valid);
        ASSERT_INT_EQ(res.records, 50);
        ASSERT_INT_EQ(res.files, 1);
        ASSERT_INT_EQ(res.first_seq, 1);
        ASSERT_INT_EQ(res.last_seq, 50);
        ASSERT_STR_EQ(res.head, rc[49].hash);
        ASSERT_FALSE(res.incomplete_tail);

        ASSERT_OK(audit_verify(log, 0, &res, NULL));
        ASSERT_TRUE(res.valid);
        ASSERT_INT_EQ(res.records, 50);
        remove_tmpdir();
}

static void test_audit_rotation_keeps_chain(void) {
        _cleanup_(audit_closep) struct audit_log *log = NULL;
        _cleanup_free_ char *p1 = NULL, *p2 = NULL;
        struct audit_verify_result res;
        char **l1, **l2, h[AUDIT_HASH_LEN], want[128];
        size_t n1, n2;

        make_tmpdir();
        log = open_log(2000); /* ~5 records of ~400 bytes per file */
        for (int i = 0; i < 40; i++)
                append_one(log, VM_A, "allow", 100, NULL);

        verify_dir(0, &res);
        ASSERT_TRUE(res.valid);
        ASSERT_INT_EQ(res.records, 40);
        ASSERT_TRUE(res.files >= 5);
        ASSERT_OK(audit_verify(log, 0, &res, NULL));
        ASSERT_TRUE(res.valid);
        ASSERT_INT_EQ(res.records, 40);

        /* A file exceeds rotate_bytes by at most its last record. */
        p1 = audit_path(1);
        p2 = audit_path(2);
        ASSERT_TRUE(file_size(p1) >= 2000);
        ASSERT_TRUE(file_size(p1) < 2000 + 600);

        /* The first record of file 2 carries the hash of the last record of file 1. */
        l1 = read_lines(p1, &n1);
        l2 = read_lines(p2, &n2);
        ASSERT_OK(audit_chain_hash(l1[n1 - 1], strlen(l1[n1 - 1]), h));
        snprintf(want, sizeof(want), "\"prev\":\"%s\"}", h);
        ASSERT_STR_CONTAINS(l2[0], want);
        snprintf(want, sizeof(want), "{\"seq\":%zu,", n1 + 1);
        ASSERT_TRUE(strncmp(l2[0], want, strlen(want)) == 0);
        strv_free(l1);
        strv_free(l2);
        remove_tmpdir();
}

static void test_audit_reopen_continues_chain(void) {
        struct audit_log *log;
        struct audit_receipt rc, first;
        struct audit_verify_result res;
        char hash[AUDIT_HASH_LEN];
        uint64_t seq;

        make_tmpdir();
        log = open_log(1500);
        for (int i = 0; i < 12; i++)
                append_one(log, VM_A, "deny", 50, &rc);
        audit_close(log);

        log = open_log(1500);
        audit_get_head(log, &seq, hash);
        ASSERT_INT_EQ(seq, 12);
        ASSERT_STR_EQ(hash, rc.hash);
        append_one(log, VM_B, "allow", 50, &first);
        ASSERT_INT_EQ(first.seq, 13);
        for (int i = 0; i < 5; i++)
                append_one(log, VM_B, "allow", 50, &rc);
        audit_close(log);

        verify_dir(0, &res);
        ASSERT_TRUE(res.valid);
        ASSERT_INT_EQ(res.records, 18);
        ASSERT_STR_EQ(res.head, rc.hash);

        /* A rotation just before a stop leaves an empty newest file: the head is in the one before. */
        {
                _cleanup_strv_free_ char **paths = NULL;
                _cleanup_free_ char *dir = NULL, *next = NULL;
                size_t n;

                ASSERT_TRUE(asprintf(&dir, "%s/audit", tmpdir) > 0);
                ASSERT_OK(audit_chain_list_files(dir, &paths, &n, NULL));
                ASSERT_TRUE(n >= 2);
                next = audit_path(n + 1);
                ASSERT_OK(file_write_atomic(next, "", 0, 0600));
        }
        log = open_log(1500);
        audit_get_head(log, &seq, hash);
        ASSERT_INT_EQ(seq, 18);
        ASSERT_STR_EQ(hash, rc.hash);
        append_one(log, VM_B, "allow", 50, &rc);
        ASSERT_INT_EQ(rc.seq, 19);
        ASSERT_OK(audit_verify(log, 0, &res, NULL));
        ASSERT_TRUE(res.valid);
        ASSERT_INT_EQ(res.records, 19);
        audit_close(log);
        remove_tmpdir();
}

static void test_audit_partial_last_line_cut_on_open(void) {
        _cleanup_free_ char *path = NULL;
        struct audit_log *log;
        struct audit_receipt rc;
        struct audit_verify_result res;
        struct sovd_err e = {};
        off_t before;
        int r;

        make_tmpdir();
        log = open_log(0);
        for (int i = 0; i < 3; i++)
                append_one(log, VM_A, "allow", 10, &rc);
        audit_close(log);

        /* A crash in the middle of write(2). */
        path = audit_path(1);
        before = file_size(path);
        append_raw(path, "{\"seq\":4,\"id\":\"0b6f4e2a-7c1d");

        /* Offline, it is reported apart from tampering, and does not invalidate the chain. */
        verify_dir(0, &res);
        ASSERT_TRUE(res.valid);
        ASSERT_INT_EQ(res.records, 3);
        ASSERT_TRUE(res.incomplete_tail);
        ASSERT_INT_EQ(res.tail.line, 4);
        ASSERT_INT_EQ(res.tail.bytes, 28);

        r = audit_open(tmpdir, 0, &log, &e);
        ASSERT_INT_EQ(r, 1);
        ASSERT_STR_CONTAINS(e.msg, "cut an incomplete last record (28 bytes");
        ASSERT_INT_EQ(file_size(path), before);
        append_one(log, VM_A, "allow", 10, &rc);
        ASSERT_INT_EQ(rc.seq, 4);
        ASSERT_OK(audit_verify(log, 0, &res, NULL));
        ASSERT_TRUE(res.valid);
        ASSERT_FALSE(res.incomplete_tail);
        ASSERT_INT_EQ(res.records, 4);
        audit_close(log);

        /* A line end removed in the middle glues two records into one line that is not JSON. */
        {
                size_t n;
                char **lines = read_lines(path, &n);
                _cleanup_free_ char *buf = NULL;

                ASSERT_TRUE(asprintf(&buf, "%s\n%s%s\n", lines[0], lines[1], lines[2]) > 0);
                ASSERT_OK(file_write_atomic(path, buf, strlen(buf), 0600));
                strv_free(lines);
        }
        verify_dir(0, &res);
        ASSERT_FALSE(res.valid);
        ASSERT_INT_EQ(res.bad.fault, AUDIT_FAULT_NOT_JSON); /* two records glued into one line */
        ASSERT_INT_EQ(res.bad.line, 2);
        remove_tmpdir();
}

static void test_audit_partial_line_in_older_file(void) {
        _cleanup_free_ char *p1 = NULL;
        struct audit_log *log;
        struct audit_verify_result res;
        char **lines;
        size_t n;

        make_tmpdir();
        log = open_log(1000);
        for (int i = 0; i < 10; i++)
                append_one(log, VM_A, "allow", 50, NULL);
        audit_close(log);

        /* Cut the end of file 1's last line: more files follow, so it is a fault. */
        p1 = audit_path(1);
        lines = read_lines(p1, &n);
        lines[n - 1][10] = '\0';
        {
                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&buf, &len);

                for (size_t i = 0; i + 1 < n; i++)
                        fprintf(f, "%s\n", lines[i]);
                fputs(lines[n - 1], f);
                fclose(f);
                ASSERT_OK(file_write_atomic(p1, buf, len, 0600));
        }
        strv_free(lines);
        verify_dir(0, &res);
        ASSERT_FALSE(res.valid);
        ASSERT_INT_EQ(res.bad.fault, AUDIT_FAULT_TRUNCATED);
        ASSERT_INT_EQ(res.bad.line, n);
        ASSERT_STR_CONTAINS(res.bad.file, "audit-00000001.jsonl");
        ASSERT_STR_CONTAINS(res.bad.reason, "more records follow");
        remove_tmpdir();
}

/* Ten records in one file; returns their lines for the tamper tests to edit. */
static char **ten_records(char **ret_path, size_t *ret_n) {
        _cleanup_(audit_closep) struct audit_log *log = NULL;

        make_tmpdir();
        log = open_log(0);
        for (int i = 0; i < 10; i++)
                append_one(log, i % 2 ? VM_B : VM_A, "deny", 10, NULL);
        *ret_path = audit_path(1);
        return read_lines(*ret_path, ret_n);
}

static void test_audit_tamper_edit_detected(void) {
        _cleanup_(audit_closep) struct audit_log *log = NULL;
        _cleanup_free_ char *path = NULL;
        struct audit_verify_result res;
        char **lines, *p, *edited;
        size_t n;

        lines = ten_records(&path, &n);
        /* Turn record 5's denial into an allow: valid JSON, seq and prev untouched. */
        p = strstr(lines[4], "\"outcome\":\"deny\"");
        ASSERT_NOT_NULL(p);
        ASSERT_TRUE(asprintf(&edited, "%.*s\"outcome\":\"allow\"%s", (int) (p - lines[4]), lines[4],
                             p + strlen("\"outcome\":\"deny\"")) > 0);
        free(lines[4]);
        lines[4] = edited;
        write_lines(path, lines, n);
        strv_free(lines);

        verify_dir(0, &res);
        ASSERT_FALSE(res.valid);
        ASSERT_INT_EQ(res.bad.fault, AUDIT_FAULT_PREV_MISMATCH);
        ASSERT_INT_EQ(res.bad.line, 6);
        ASSERT_INT_EQ(res.bad.seq, 6);
        ASSERT_STR_CONTAINS(res.bad.reason, "(seq 5 at audit-00000001.jsonl:5)");
        ASSERT_STR_CONTAINS(res.bad.reason, "edited");
        ASSERT_INT_EQ(res.records, 5);
        ASSERT_INT_EQ(res.last_seq, 5);

        /* The running log sees it too. */
        log = open_log(0);
        ASSERT_OK(audit_verify(log, 0, &res, NULL));
        ASSERT_FALSE(res.valid);
        ASSERT_INT_EQ(res.bad.fault, AUDIT_FAULT_PREV_MISMATCH);
        ASSERT_INT_EQ(res.bad.line, 6);
        remove_tmpdir();
}

static void test_audit_tamper_remove_detected(void) {
        _cleanup_free_ char *path = NULL;
        struct audit_verify_result res;
        char **lines;
        size_t n;

        lines = ten_records(&path, &n);
        free(lines[4]);
        lines[4] = NULL; /* write_lines skips it */
        write_lines(path, lines, n);
        for (size_t i = 0; i < n; i++)
                free(lines[i]);
        free(lines);

        verify_dir(0, &res);
        ASSERT_FALSE(res.valid);
        ASSERT_INT_EQ(res.bad.fault, AUDIT_FAULT_SEQ_GAP);
        ASSERT_INT_EQ(res.bad.line, 5);
        ASSERT_INT_EQ(res.bad.seq, 6);
        ASSERT_STR_EQ(res.bad.reason, "seq 6 follows 4 (record removed?)");
        remove_tmpdir();
}

static void test_audit_tamper_swap_detected(void) {
        _cleanup_free_ char *path = NULL;
        struct audit_verify_result res;
        char **lines, *t;
        size_t n;

        lines = ten_records(&path, &n);
        t = lines[4];
        lines[4] = lines[5];
        lines[5] = t;
        write_lines(path, lines, n);
        strv_free(lines);

        verify_dir(0, &res);
        ASSERT_FALSE(res.valid);
        ASSERT_INT_EQ(res.bad.fault, AUDIT_FAULT_SEQ_ORDER);
        ASSERT_INT_EQ(res.bad.line, 5);
        ASSERT_INT_EQ(res.bad.seq, 6);
        ASSERT_STR_CONTAINS(res.bad.reason, "reordered");
        remove_tmpdir();
}

static void test_audit_tamper_renumbered_removal_detected(void) {
        _cleanup_free_ char *path = NULL;
        struct audit_verify_result res;
        char **lines;
        size_t n;

        /* Remove record 5 and renumber 6..10 so seq stays contiguous: the link breaks instead. */
        lines = ten_records(&path, &n);
        for (size_t i = 5; i < n; i++) {
                char *nl;

                ASSERT_TRUE(asprintf(&nl, "{\"seq\":%zu,%s", i, strchr(lines[i], ',') + 1) > 0);
                free(lines[i]);
                lines[i] = nl;
        }
        free(lines[4]);
        lines[4] = NULL;
        write_lines(path, lines, n);
        for (size_t i = 0; i < n; i++)
                free(lines[i]);
        free(lines);

        verify_dir(0, &res);
        ASSERT_FALSE(res.valid);
        ASSERT_INT_EQ(res.bad.fault, AUDIT_FAULT_PREV_MISMATCH);
        ASSERT_INT_EQ(res.bad.line, 5);
        remove_tmpdir();
}

static void test_audit_tail_cut_caught_live(void) {
        _cleanup_(audit_closep) struct audit_log *log = NULL;
        _cleanup_free_ char *path = NULL;
        struct audit_verify_result res;
        char **lines;
        size_t n;

        make_tmpdir();
        log = open_log(0);
        for (int i = 0; i < 5; i++)
                append_one(log, VM_A, "allow", 10, NULL);
        path = audit_path(1);
        lines = read_lines(path, &n);
        /* Cutting the last record: the chain itself still holds... */
        write_lines(path, lines, n - 1);
        strv_free(lines);
        verify_dir(0, &res);
        ASSERT_TRUE(res.valid);
        ASSERT_INT_EQ(res.records, 4);
        /* ...but not against the head sovd remembers. */
        ASSERT_OK(audit_verify(log, 0, &res, NULL));
        ASSERT_FALSE(res.valid);
        ASSERT_INT_EQ(res.bad.fault, AUDIT_FAULT_HEAD_MISMATCH);
        ASSERT_STR_CONTAINS(res.bad.reason, "ends at seq 4, but the last record sovd wrote is seq 5");
        remove_tmpdir();
}

static void test_audit_bad_lines_and_chain_start(void) {
        _cleanup_free_ char *p1 = NULL, *p2 = NULL, *big = NULL;
        struct audit_verify_result res;
        struct audit_log *log;
        char **lines;
        size_t n;

        make_tmpdir();
        log = open_log(1000);
        for (int i = 0; i < 8; i++)
                append_one(log, VM_A, "allow", 50, NULL);
        audit_close(log);
        p1 = audit_path(1);
        p2 = audit_path(2);

        /* Without its first file the chain does not start at seq 1... */
        lines = read_lines(p1, &n);
        ASSERT_INT_EQ(unlink(p1), 0);
        verify_dir(0, &res);
        ASSERT_FALSE(res.valid);
        ASSERT_INT_EQ(res.bad.fault, AUDIT_FAULT_CHAIN_START);
        ASSERT_INT_EQ(res.bad.seq, n + 1);
        /* ...which --partial accepts, reporting where it starts. */
        verify_dir(AUDIT_VERIFY_PARTIAL, &res);
        ASSERT_TRUE(res.valid);
        ASSERT_INT_EQ(res.first_seq, n + 1);
        ASSERT_INT_EQ(res.last_seq, 8);
        {
                char h[AUDIT_HASH_LEN];

                ASSERT_OK(audit_chain_hash(lines[n - 1], strlen(lines[n - 1]), h));
                ASSERT_STR_EQ(res.first_prev, h);
        }
        write_lines(p1, lines, n);
        strv_free(lines);

        /* Garbage in the middle. */
        lines = read_lines(p2, &n);
        free(lines[1]);
        lines[1] = strdup("this is not json");
        write_lines(p2, lines, n);
        verify_dir(0, &res);
        ASSERT_FALSE(res.valid);
        ASSERT_INT_EQ(res.bad.fault, AUDIT_FAULT_NOT_JSON);
        ASSERT_INT_EQ(res.bad.line, 2);
        ASSERT_INT_EQ(res.bad.seq, 0);
        ASSERT_STR_CONTAINS(res.bad.file, "audit-00000002.jsonl");

        /* An object without seq. */
        free(lines[1]);
        lines[1] = strdup("{\"prev\":\"" AUDIT_CHAIN_START "\"}");
        write_lines(p2, lines, n);
        verify_dir(0, &res);
        ASSERT_INT_EQ(res.bad.fault, AUDIT_FAULT_BAD_MEMBER);

        /* A line over the limit is an error, not a crash, and is skipped whole. */
        big = malloc(AUDIT_LINE_MAX + 100);
        memset(big, 'a', AUDIT_LINE_MAX + 99);
        big[AUDIT_LINE_MAX + 99] = '\0';
        free(lines[1]);
        lines[1] = TAKE_PTR(big);
        write_lines(p2, lines, n);
        verify_dir(0, &res);
        ASSERT_FALSE(res.valid);
        ASSERT_INT_EQ(res.bad.fault, AUDIT_FAULT_TOO_LONG);
        ASSERT_INT_EQ(res.bad.line, 2);
        strv_free(lines);

        /* And the writer refuses to extend such a log only if its head is unreadable: here it is fine. */
        log = open_log(1000);
        audit_close(log);
        remove_tmpdir();
}

static void test_audit_large_record_recovered(void) {
        _cleanup_json_ struct json_object *f = NULL;
        struct audit_log *log;
        struct audit_receipt rc, big;
        struct audit_verify_result res;
        char hash[AUDIT_HASH_LEN];
        struct sovd_err e = {};
        uint64_t seq;

        make_tmpdir();
        log = open_log(0);
        append_one(log, VM_A, "allow", 10, &rc);
        /* Larger than the tail reader's first block: recovery must read further back. */
        append_one(log, VM_A, "allow", 300000, &big);
        audit_close(log);
        log = open_log(0);
        audit_get_head(log, &seq, hash);
        ASSERT_INT_EQ(seq, 2);
        ASSERT_STR_EQ(hash, big.hash);

        /* Beyond AUDIT_LINE_MAX the append is refused and nothing is written. */
        f = make_fields("decision", VM_A, "allow", AUDIT_LINE_MAX);
        ASSERT_INT_EQ(audit_append(log, f, NULL, &e), -EFBIG);
        ASSERT_STR_CONTAINS(e.msg, "more than 1048576");
        append_one(log, VM_A, "allow", 10, &rc);
        ASSERT_INT_EQ(rc.seq, 3);
        ASSERT_OK(audit_verify(log, 0, &res, NULL));
        ASSERT_TRUE(res.valid);
        ASSERT_INT_EQ(res.records, 3);
        audit_close(log);
        remove_tmpdir();
}

static void test_audit_fields_checked(void) {
        _cleanup_(audit_closep) struct audit_log *log = NULL;
        _cleanup_json_ struct json_object *f = NULL, *arr = NULL, *bad = NULL;
        struct audit_receipt rc;
        struct sovd_err e = {};

        make_tmpdir();
        log = open_log(0);
        f = json_object_new_object();
        ASSERT_OK(json_add_int(f, "seq", 7));
        ASSERT_INT_EQ(audit_append(log, f, NULL, &e), -EINVAL);
        ASSERT_STR_CONTAINS(e.msg, "\"seq\"");
        arr = json_object_new_array();
        ASSERT_INT_EQ(audit_append(log, arr, NULL, &e), -EINVAL);
        /*
         * Invalid UTF-8 would be written as is by json-c, and then not verify. json_add_string()
         * repairs it; a string made by json-c directly does not, and the log still refuses it.
         */
        bad = json_object_new_object();
        ASSERT_OK(json_add(bad, "kind", json_object_new_string("caf\xe9")));
        ASSERT_INT_EQ(audit_append(log, bad, NULL, &e), -EINVAL);
        ASSERT_STR_CONTAINS(e.msg, "would not verify");
        /* None of these took a seq. */
        append_one(log, VM_A, "allow", 10, &rc);
        ASSERT_INT_EQ(rc.seq, 1);
        remove_tmpdir();
}

static void test_audit_second_writer_refused(void) {
        _cleanup_(audit_closep) struct audit_log *log = NULL;
        struct audit_log *other = NULL;
        struct sovd_err e = {};

        make_tmpdir();
        log = open_log(0);
        ASSERT_INT_EQ(audit_open(tmpdir, 0, &other, &e), -EBUSY);
        ASSERT_NULL(other);
        ASSERT_STR_CONTAINS(e.msg, "another process");
        remove_tmpdir();
}

static void test_audit_list_files_order(void) {
        _cleanup_strv_free_ char **paths = NULL;
        _cleanup_free_ char *dir = NULL;
        static const char *const names[] = { "audit-00000010.jsonl", "audit-00000002.jsonl", "audit-1.jsonl",
                                             "audit-00000002.jsonl.gz", "notes.txt", "audit-00000000.jsonl",
                                             "audit-123456789.jsonl" };
        uint64_t number;
        size_t n;

        make_tmpdir();
        ASSERT_TRUE(asprintf(&dir, "%s/audit", tmpdir) > 0);
        ASSERT_OK(mkdir_p(dir, 0700));
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *p = NULL;

                ASSERT_TRUE(asprintf(&p, "%s/%s", dir, names[i]) > 0);
                ASSERT_OK(file_write_atomic(p, "", 0, 0600));
        }
        ASSERT_OK(audit_chain_list_files(dir, &paths, &n, NULL));
        ASSERT_INT_EQ(n, 3);
        ASSERT_STR_CONTAINS(paths[0], "/audit-00000002.jsonl");
        ASSERT_STR_CONTAINS(paths[1], "/audit-00000010.jsonl");
        ASSERT_STR_CONTAINS(paths[2], "/audit-123456789.jsonl");
        ASSERT_NULL(paths[3]);
        ASSERT_OK(audit_chain_file_number("audit-123456789.jsonl", &number));
        ASSERT_INT_EQ(number, 123456789);
        ASSERT_INT_EQ(audit_chain_file_number("audit-0000001.jsonl", &number), -EINVAL);
        ASSERT_INT_EQ(audit_chain_file_number("audit-00000001.json", &number), -EINVAL);
        remove_tmpdir();
}

static void test_audit_query_filters_and_pages(void) {
        _cleanup_(audit_closep) struct audit_log *log = NULL;
        struct audit_query q = { .limit = 10 };
        struct sovd_err e = {};
        uint64_t next = 99, after = 0, total = 0;
        struct json_object *recs;

        make_tmpdir();
        log = open_log(1500); /* several files, so the cursor skips some */
        for (int i = 0; i < 30; i++)
                append_one(log, i % 3 ? VM_A : VM_B, i % 2 ? "allow" : "deny", 30, NULL);

        /* Pages of 10 in seq order, and a last page that says there is no more. */
        for (int page = 0; page < 3; page++) {
                q.after_seq = after;
                ASSERT_OK(audit_query(log, &q, &recs, &next, &e));
                ASSERT_INT_EQ(json_object_array_length(recs), 10);
                for (size_t i = 0; i < 10; i++) {
                        struct json_object *s;

                        ASSERT_TRUE(json_object_object_get_ex(json_object_array_get_idx(recs, i), "seq", &s));
                        ASSERT_INT_EQ(json_object_get_int64(s), (int64_t) (after + i + 1));
                }
                total += 10;
                ASSERT_INT_EQ(next, page < 2 ? after + 10 : 0);
                after += 10;
                json_object_put(recs);
        }
        ASSERT_INT_EQ(total, 30);

        /* From a cursor in a later file. */
        q.after_seq = 25;
        ASSERT_OK(audit_query(log, &q, &recs, &next, &e));
        ASSERT_INT_EQ(json_object_array_length(recs), 5);
        ASSERT_INT_EQ(next, 0);
        json_object_put(recs);
        q.after_seq = 30;
        ASSERT_OK(audit_query(log, &q, &recs, &next, &e));
        ASSERT_INT_EQ(json_object_array_length(recs), 0);
        ASSERT_INT_EQ(next, 0);
        json_object_put(recs);

        /* vm: records 0, 3, ..., 27 are VM_B (10 of them), also matched in upper case. */
        q = (struct audit_query){ .limit = 1000, .vm = VM_B };
        ASSERT_OK(audit_query(log, &q, &recs, &next, &e));
        ASSERT_INT_EQ(json_object_array_length(recs), 10);
        json_object_put(recs);
        q.vm = "0B6F4E2A-7C1D-4E5F-8A9B-FEDCBA987654";
        ASSERT_OK(audit_query(log, &q, &recs, &next, &e));
        ASSERT_INT_EQ(json_object_array_length(recs), 10);
        json_object_put(recs);

        /* Outcome, combined with vm and paged: VM_B and deny are records 0, 6, 12, 18, 24. */
        q = (struct audit_query){ .limit = 2, .vm = VM_B, .outcome = "deny" };
        ASSERT_OK(audit_query(log, &q, &recs, &next, &e));
        ASSERT_INT_EQ(json_object_array_length(recs), 2);
        ASSERT_INT_EQ(next, 7);
        json_object_put(recs);
        q.after_seq = 19;
        ASSERT_OK(audit_query(log, &q, &recs, &next, &e));
        ASSERT_INT_EQ(json_object_array_length(recs), 1);
        ASSERT_INT_EQ(next, 0);
        json_object_put(recs);
        q = (struct audit_query){ .limit = 1000, .outcome = "allow" };
        ASSERT_OK(audit_query(log, &q, &recs, &next, &e));
        ASSERT_INT_EQ(json_object_array_length(recs), 15);
        json_object_put(recs);

        /* since: everything was written just now. */
        q = (struct audit_query){ .limit = 1000, .since = time(NULL) - 3600 };
        ASSERT_OK(audit_query(log, &q, &recs, &next, &e));
        ASSERT_INT_EQ(json_object_array_length(recs), 30);
        json_object_put(recs);
        q.since = time(NULL) + 3600;
        ASSERT_OK(audit_query(log, &q, &recs, &next, &e));
        ASSERT_INT_EQ(json_object_array_length(recs), 0);
        json_object_put(recs);

        /* Bad filters name themselves. */
        q = (struct audit_query){ .limit = 0 };
        ASSERT_INT_EQ(audit_query(log, &q, &recs, &next, &e), -EINVAL);
        ASSERT_STR_CONTAINS(e.msg, "limit");
        q = (struct audit_query){ .limit = 1001 };
        ASSERT_INT_EQ(audit_query(log, &q, &recs, &next, &e), -EINVAL);
        q = (struct audit_query){ .limit = 1, .vm = "../etc" };
        ASSERT_INT_EQ(audit_query(log, &q, &recs, &next, &e), -EINVAL);
        ASSERT_STR_CONTAINS(e.msg, "vm");
        q = (struct audit_query){ .limit = 1, .outcome = "maybe" };
        ASSERT_INT_EQ(audit_query(log, &q, &recs, &next, &e), -EINVAL);
        ASSERT_STR_CONTAINS(e.msg, "outcome");
        remove_tmpdir();
}

static void test_audit_query_since_skips_old_files(void) {
        _cleanup_(audit_closep) struct audit_log *log = NULL;
        _cleanup_free_ char *p1 = NULL;
        struct audit_query q = { .limit = 1000 };
        struct json_object *recs;
        uint64_t next;
        char **lines, *t;
        size_t n;

        /*
         * The last record of file 1 dated 2020 (rewritten: the chain does
         * not matter to queries): a since query then skips the whole file,
         * which the other, recent records of file 1 missing from the
         * answer show.
         */
        make_tmpdir();
        log = open_log(800);
        for (int i = 0; i < 8; i++)
                append_one(log, VM_A, "allow", 10, NULL);
        p1 = audit_path(1);
        lines = read_lines(p1, &n);
        ASSERT_TRUE(n >= 2);
        t = strstr(lines[n - 1], "\"time\":\"");
        ASSERT_NOT_NULL(t);
        memcpy(t + 8, "2020", 4);
        write_lines(p1, lines, n);
        strv_free(lines);

        q.since = time(NULL) - 3600;
        ASSERT_OK(audit_query(log, &q, &recs, &next, NULL));
        ASSERT_INT_EQ(json_object_array_length(recs), 8 - n);
        json_object_put(recs);
        ASSERT_OK(rfc3339_parse("2020-01-01T00:00:00Z", &q.since));
        ASSERT_OK(audit_query(log, &q, &recs, &next, NULL));
        ASSERT_INT_EQ(json_object_array_length(recs), 8);
        json_object_put(recs);
        remove_tmpdir();
}

#define THREADS 4
#define PER_THREAD 150

struct worker {
        struct audit_log *log;
        uint64_t seqs[PER_THREAD];
        int error;
};

static void *worker_run(void *p) {
        struct worker *w = p;

        for (int i = 0; i < PER_THREAD; i++) {
                struct json_object *f = make_fields("decision", VM_A, "allow", 200);
                struct audit_receipt rc;
                int r = audit_append(w->log, f, &rc, NULL);

                json_object_put(f);
                if (r < 0) {
                        w->error = r;
                        break;
                }
                w->seqs[i] = rc.seq;
        }
        return NULL;
}

static void test_audit_concurrent_appends(void) {
        _cleanup_(audit_closep) struct audit_log *log = NULL;
        struct worker w[THREADS] = {};
        pthread_t t[THREADS];
        struct audit_verify_result res;
        bool *seen;
        uint64_t seq;
        char hash[AUDIT_HASH_LEN];

        make_tmpdir();
        log = open_log(20000); /* rotations race the appends too */
        for (int i = 0; i < THREADS; i++) {
                w[i].log = log;
                ASSERT_INT_EQ(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
        }
        /* Verification and queries run alongside. */
        for (int k = 0; k < 5; k++) {
                struct audit_query q = { .limit = 1000 };
                struct json_object *recs;
                uint64_t next;

                ASSERT_OK(audit_verify(log, 0, &res, NULL));
                ASSERT_TRUE(res.valid);
                ASSERT_OK(audit_query(log, &q, &recs, &next, NULL));
                json_object_put(recs);
        }
        for (int i = 0; i < THREADS; i++) {
                ASSERT_INT_EQ(pthread_join(t[i], NULL), 0);
                ASSERT_INT_EQ(w[i].error, 0);
        }

        seen = calloc(THREADS * PER_THREAD + 1, sizeof(bool));
        for (int i = 0; i < THREADS; i++)
                for (int j = 0; j < PER_THREAD; j++) {
                        uint64_t s = w[i].seqs[j];

                        ASSERT_TRUE(s >= 1 && s <= THREADS * PER_THREAD);
                        ASSERT_FALSE(seen[s]);
                        seen[s] = true;
                        /* Each thread's own records come in increasing order. */
                        if (j > 0)
                                ASSERT_TRUE(s > w[i].seqs[j - 1]);
                }
        free(seen);
        audit_get_head(log, &seq, hash);
        ASSERT_INT_EQ(seq, THREADS * PER_THREAD);

        ASSERT_OK(audit_verify(log, 0, &res, NULL));
        ASSERT_TRUE(res.valid);
        ASSERT_INT_EQ(res.records, THREADS * PER_THREAD);
        ASSERT_TRUE(res.files > 1);
        ASSERT_STR_EQ(res.head, hash);
        remove_tmpdir();
}

static void test_audit_verify_result_json(void) {
        _cleanup_json_ struct json_object *o = NULL;
        struct audit_verify_result res = { .valid = false, .records = 4, .files = 1, .first_seq = 1, .last_seq = 4 };
        struct json_object *bad, *v;

        strcpy(res.head, AUDIT_CHAIN_START);
        res.bad.fault = AUDIT_FAULT_SEQ_GAP;
        strcpy(res.bad.file, "/var/lib/sovd/audit/audit-00000001.jsonl");
        res.bad.line = 5;
        res.bad.seq = 6;
        strcpy(res.bad.reason, "seq 6 follows 4 (record removed?)");
        ASSERT_OK(audit_verify_result_to_json(&res, &o));
        ASSERT_STR_EQ(json_to_string(o),
                      "{\"valid\":false,\"records\":4,\"files\":1,\"first_seq\":1,\"last_seq\":4,\"head\":\"" AUDIT_CHAIN_START
                      "\",\"first_bad\":{\"file\":\"audit-00000001.jsonl\",\"line\":5,\"seq\":6,\"fault\":\"seq_gap\","
                      "\"reason\":\"seq 6 follows 4 (record removed?)\"},\"incomplete_tail\":null}");
        json_object_put(TAKE_PTR(o));

        res.valid = true;
        ASSERT_OK(audit_verify_result_to_json(&res, &o));
        ASSERT_TRUE(json_object_object_get_ex(o, "first_bad", &bad));
        ASSERT_NULL(bad);
        ASSERT_TRUE(json_object_object_get_ex(o, "valid", &v));
        ASSERT_TRUE(json_object_get_boolean(v));
}

TEST_MAIN(TEST(test_audit_append_and_verify),
          TEST(test_audit_rotation_keeps_chain),
          TEST(test_audit_reopen_continues_chain),
          TEST(test_audit_partial_last_line_cut_on_open),
          TEST(test_audit_partial_line_in_older_file),
          TEST(test_audit_tamper_edit_detected),
          TEST(test_audit_tamper_remove_detected),
          TEST(test_audit_tamper_swap_detected),
          TEST(test_audit_tamper_renumbered_removal_detected),
          TEST(test_audit_tail_cut_caught_live),
          TEST(test_audit_bad_lines_and_chain_start),
          TEST(test_audit_large_record_recovered),
          TEST(test_audit_fields_checked),
          TEST(test_audit_second_writer_refused),
          TEST(test_audit_list_files_order),
          TEST(test_audit_query_filters_and_pages),
          TEST(test_audit_query_since_skips_old_files),
          TEST(test_audit_concurrent_appends),
          TEST(test_audit_verify_result_json))
