/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The audit log: appends records to the hash chain durably, recovers the
 * chain's head at start, answers queries and verifies the chain. The
 * format and the verifier are audit-chain.c's; the locking is described in
 * include/sovd/audit.h.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sovd/audit.h"
#include "sovd/cleanup.h"
#include "sovd/fileio.h"
#include "sovd/json-util.h"
#include "sovd/log.h"
#include "sovd/version.h"

/* A position in the chain: the last record, and where its file ends after it. */
struct audit_pos {
        uint64_t seq;
        char hash[AUDIT_HASH_LEN];
        uint64_t file_no;
        uint64_t size;
};

struct audit_log {
        /* Set at open, read-only afterwards. */
        char *dir;
        int dir_fd; /* also carries the flock that keeps a second writer out */
        uint64_t rotate_bytes;
        bool locks_ready;

        /*
         * lock guards every member below. synced_cond is broadcast whenever
         * a sync ends (or the log breaks), for appends waiting on a sync
         * that covers their record.
         */
        pthread_mutex_t lock;
        pthread_cond_t synced_cond;
        int fd;               /* the current (newest) file, O_APPEND */
        uint64_t file_no;     /* its number */
        uint64_t size;        /* its size */
        struct audit_pos written; /* the last record written */
        struct audit_pos synced;  /* the last record known durable */
        bool syncing;         /* a thread is in fdatasync(fd) without the lock */
        int broken;           /* 0, or the error after which appends are refused */
};

static const char *const reserved_members[] = { "seq", "id", "time", "sovd_version", "prev" };

struct audit_log *audit_close(struct audit_log *log) {
        if (!log)
                return NULL;
        if (log->fd >= 0)
                close(log->fd);
        if (log->dir_fd >= 0)
                close(log->dir_fd);
        if (log->locks_ready) {
                pthread_cond_destroy(&log->synced_cond);
                pthread_mutex_destroy(&log->lock);
        }
        free(log->dir);
        free(log);
        return NULL;
}

static void file_name(uint64_t number, char buf[static 64]) {
        snprintf(buf, 64, "audit-%08" PRIu64 ".jsonl", number);
}

/* Creates file @number (which must not exist) and makes its name durable. */
static int create_file(struct audit_log *log, uint64_t number, int *ret_fd, struct sovd_err *err) {
        _cleanup_close_ int fd = -1;
        char name[64];

        file_name(number, name);
        fd = openat(log->dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return err_set(err, -errno, "cannot create '%s/%s': %m", log->dir, name);
        /* The record's fdatasync() covers its data, not the new directory entry. */
        if (fsync(log->dir_fd) < 0)
                return err_set(err, -errno, "cannot sync directory '%s': %m", log->dir);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/*
 * Finds the head in files[0..newest) when the newest file holds no
 * complete record (a rotation just before a stop): the last complete line
 * of the newest non-empty older file.
 */
static int recover_head_from(struct audit_log *log, char **paths, size_t n, struct audit_chain_tail *ret,
                             const char **ret_path, struct sovd_err *err) {
        for (size_t i = n; i > 0; i--) {
                _cleanup_close_ int fd = -1;
                struct audit_chain_tail t = {};
                struct stat st;
                int r;

                fd = open(paths[i - 1], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0 || fstat(fd, &st) < 0)
                        return err_set(err, -errno, "cannot open '%s': %m", paths[i - 1]);
                r = audit_chain_read_tail(fd, (uint64_t) st.st_size, &t);
                if (r == -EFBIG)
                        return err_set(err, -EBADMSG, "the end of '%s' is not a record of at most %u bytes",
                                       paths[i - 1], AUDIT_LINE_MAX);
                if (r < 0)
                        return err_set(err, r, "cannot read '%s': %s", paths[i - 1], strerror(-r));
                if (t.complete_size != (uint64_t) st.st_size) {
                        audit_chain_tail_done(&t);
                        return err_set(err, -EBADMSG,
                                       "'%s' ends in the middle of a line although newer files follow it",
                                       paths[i - 1]);
                }
                if (t.last_line) {
                        *ret = t;
                        *ret_path = paths[i - 1];
                        return 1;
                }
        }
        return 0;
}

static int open_existing(struct audit_log *log, char **paths, size_t n, struct sovd_err *err) {
        _cleanup_(audit_chain_tail_done) struct audit_chain_tail tail = {};
        const char *newest = paths[n - 1], *head_path = newest;
        const char *base = strrchr(newest, '/') + 1;
        uint64_t seq = 0, size;
        struct stat st;
        int r, note = 0;

        r = audit_chain_file_number(base, &log->file_no);
        if (r < 0)
                return err_set(err, r, "unexpected audit file name '%s'", newest);
        log->fd = openat(log->dir_fd, base, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
        if (log->fd < 0 || fstat(log->fd, &st) < 0)
                return err_set(err, -errno, "cannot open '%s': %m", newest);
        if (!S_ISREG(st.st_mode))
                return err_set(err, -EBADMSG, "'%s' is not a regular file", newest);
        size = (uint64_t) st.st_size;

        r = audit_chain_read_tail(log->fd, size, &tail);
        if (r == -EFBIG)
                return err_set(err, -EBADMSG, "the end of '%s' is not a record of at most %u bytes", newest,
                               AUDIT_LINE_MAX);
        if (r < 0)
                return err_set(err, r, "cannot read '%s': %s", newest, strerror(-r));

        if (tail.complete_size < size) {
                /* A write cut short by a crash: never acknowledged, so not part of the chain. */
                if (ftruncate(log->fd, (off_t) tail.complete_size) < 0 || fdatasync(log->fd) < 0)
                        return err_set(err, -errno, "cannot cut the incomplete last record of '%s': %m", newest);
                note = 1;
                err_set(err, 0,
                        "cut an incomplete last record (%" PRIu64 " bytes without a line end) from '%s': "
                        "sovd stopped while writing it, before acknowledging it",
                        size - tail.complete_size, newest);
                size = tail.complete_size;
        }
        log->size = size;

        if (!tail.last_line) {
                audit_chain_tail_done(&tail);
                r = recover_head_from(log, paths, n - 1, &tail, &head_path, err);
                if (r < 0)
                        return r;
        }
        if (tail.last_line) {
                struct sovd_err e = {};

                r = audit_chain_parse_record(tail.last_line, tail.last_len, NULL, &seq, &e);
                if (r < 0)
                        return err_set(err, -EBADMSG,
                                       "the last record of '%s' cannot be read (%s); refusing to extend a chain "
                                       "whose head is unknown",
                                       head_path, e.msg);
                r = audit_chain_hash(tail.last_line, tail.last_len, log->written.hash);
                if (r < 0)
                        return err_set(err, r, "cannot hash the last record of '%s'", head_path);
        }
        log->written.seq = seq;
        log->written.file_no = log->file_no;
        log->written.size = log->size;
        return note;
}

int audit_open(const char *state_dir, uint64_t rotate_bytes, struct audit_log **ret, struct sovd_err *err) {
        _cleanup_(audit_closep) struct audit_log *log = NULL;
        _cleanup_strv_free_ char **paths = NULL;
        size_t n = 0;
        int r;

        log = calloc(1, sizeof(*log));
        if (!log)
                return -ENOMEM;
        log->fd = log->dir_fd = -1;
        if (pthread_mutex_init(&log->lock, NULL) != 0)
                return -ENOMEM;
        if (pthread_cond_init(&log->synced_cond, NULL) != 0) {
                pthread_mutex_destroy(&log->lock);
                return -ENOMEM;
        }
        log->locks_ready = true;
        log->rotate_bytes = rotate_bytes ? rotate_bytes : AUDIT_ROTATE_BYTES_DEFAULT;
        strcpy(log->written.hash, AUDIT_CHAIN_START);

        if (asprintf(&log->dir, "%s/audit", state_dir) < 0) {
                log->dir = NULL;
                return -ENOMEM;
        }
        r = mkdir_p(log->dir, 0700);
        if (r < 0)
                return err_set(err, r, "cannot create the audit directory '%s': %s", log->dir, strerror(-r));
        log->dir_fd = open(log->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (log->dir_fd < 0)
                return err_set(err, -errno, "cannot open the audit directory '%s': %m", log->dir);
        if (flock(log->dir_fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno == EWOULDBLOCK)
                        return err_set(err, -EBUSY, "another process is writing the audit log in '%s'",
                                       log->dir);
                return err_set(err, -errno, "cannot lock the audit directory '%s': %m", log->dir);
        }

        r = audit_chain_list_files(log->dir, &paths, &n, err);
        if (r < 0)
                return r;
        if (n == 0) {
                _cleanup_close_ int parent = -1;

                log->file_no = 1;
                r = create_file(log, 1, &log->fd, err);
                if (r < 0)
                        return r;
                log->written.file_no = 1;
                /* A new chain: make the audit directory's own entry durable too. */
                parent = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (parent < 0 || fsync(parent) < 0)
                        return err_set(err, -errno, "cannot sync directory '%s': %m", state_dir);
        } else {
                r = open_existing(log, paths, n, err);
                if (r < 0)
                        return r;
        }
        log->synced = log->written;
        *ret = TAKE_PTR(log);
        return r;
}

void audit_get_head(struct audit_log *log, uint64_t *ret_seq, char ret_hash[static AUDIT_HASH_LEN]) {
        pthread_mutex_lock(&log->lock);
        *ret_seq = log->synced.seq;
        memcpy(ret_hash, log->synced.hash, AUDIT_HASH_LEN);
        pthread_mutex_unlock(&log->lock);
}

static struct audit_pos snapshot(struct audit_log *log) {
        struct audit_pos p;

        pthread_mutex_lock(&log->lock);
        p = log->synced;
        pthread_mutex_unlock(&log->lock);
        return p;
}

/*
 * Starts the next file. Called with the lock held and no sync running:
 * every record of the old file is made durable first, since the appends
 * waiting for them will only see syncs of the new file from now on.
 */
static int rotate_locked(struct audit_log *log, struct sovd_err *err) {
        int fd, r;

        if (fdatasync(log->fd) < 0) {
                log->broken = -errno;
                return err_set(err, log->broken, "cannot sync the audit log: %m");
        }
        log->synced = log->written;
        pthread_cond_broadcast(&log->synced_cond);

        r = create_file(log, log->file_no + 1, &fd, err);
        if (r < 0)
                return r;
        close(log->fd);
        log->fd = fd;
        log->file_no++;
        log->size = 0;
        return 0;
}

static int write_record_locked(struct audit_log *log, const char *line, size_t len, struct sovd_err *err) {
        struct iovec iov[2] = {
                { (void *) line, len },
                { (void *) "\n", 1 },
        };
        size_t total = len + 1, done = 0;

        while (done < total) {
                ssize_t k;

                /* One writev normally; the loop only resumes a short write. */
                k = writev(log->fd, iov, 2);
                if (k < 0) {
                        int r = -errno;

                        if (r == -EINTR)
                                continue;
                        /* Take the partial line back, or no record could follow it. */
                        if (done > 0 && ftruncate(log->fd, (off_t) log->size) < 0)
                                log->broken = r;
                        errno = -r;
                        return err_set(err, r, "cannot write to the audit log in '%s': %m", log->dir);
                }
                done += (size_t) k;
                for (size_t i = 0; i < 2; i++) {
                        size_t used = (size_t) k < iov[i].iov_len ? (size_t) k : iov[i].iov_len;

                        iov[i].iov_base = (char *) iov[i].iov_base + used;
                        iov[i].iov_len -= used;
                        k -= (ssize_t) used;
                }
        }
        log->size += total;
        return 0;
}

/* Waits until a sync covers record @seq, syncing itself when nobody is. Lock held. */
static int sync_to_locked(struct audit_log *log, uint64_t seq, struct sovd_err *err) {
        while (log->synced.seq < seq) {
                struct audit_pos target;
                int fd, r;

                if (log->broken)
                        return err_set(err, log->broken, "cannot sync the audit log: %s", strerror(-log->broken));
                if (log->syncing) {
                        pthread_cond_wait(&log->synced_cond, &log->lock);
                        continue;
                }
                /* Everything written so far goes with this sync. */
                target = log->written;
                fd = log->fd;
                log->syncing = true;
                pthread_mutex_unlock(&log->lock);
                r = fdatasync(fd) < 0 ? -errno : 0;
                pthread_mutex_lock(&log->lock);
                log->syncing = false;
                if (r < 0)
                        log->broken = r;
                else if (target.seq > log->synced.seq)
                        log->synced = target;
                pthread_cond_broadcast(&log->synced_cond);
        }
        return 0;
}

/* Builds the record's object, members in the documented order. Lock held (seq and prev). */
static int build_record_locked(struct audit_log *log, struct json_object *fields, uint64_t seq,
                               struct audit_receipt *rc, struct json_object **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        int r = 0;

        if (!o)
                return -ENOMEM;
        id_new(rc->id);
        rfc3339_format(time(NULL), rc->time);
        r |= json_add_int(o, "seq", (int64_t) seq);
        r |= json_add_string(o, "id", rc->id);
        r |= json_add_string(o, "time", rc->time);
        json_object_object_foreach(fields, key, val) {
                r |= json_add(o, key, json_object_get(val));
        }
        r |= json_add_string(o, "sovd_version", SOVD_VERSION);
        r |= json_add_string(o, "prev", log->written.hash);
        if (r < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

/* A string member, or the "uuid" string of an object member. */
static const char *member_or_uuid(struct json_object *o, const char *key) {
        struct json_object *v, *u;

        if (!json_object_object_get_ex(o, key, &v))
                return NULL;
        if (json_object_is_type(v, json_type_string))
                return json_object_get_string(v);
        if (json_object_is_type(v, json_type_object) && json_object_object_get_ex(v, "uuid", &u) &&
            json_object_is_type(u, json_type_string))
                return json_object_get_string(u);
        return NULL;
}

static const char *string_member(struct json_object *o, const char *key) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static const char *decision_outcome(struct json_object *o) {
        struct json_object *d;

        if (!json_object_object_get_ex(o, "decision", &d) || !json_object_is_type(d, json_type_object))
                return NULL;
        return string_member(d, "outcome");
}

/* The journald copy (see audit.h): after the record is durable, outside the lock. */
static void send_copy(const struct audit_receipt *rc, const char *prev, struct json_object *record,
                      const char *line) {
        const char *kind = string_member(record, "kind");
        const char *operation = string_member(record, "operation");
        const char *outcome = decision_outcome(record);
        char seq[24];

        snprintf(seq, sizeof(seq), "%" PRIu64, rc->seq);
        log_emit_always(LOG_NOTICE,
                 LOG_FIELDS({ "SOVD_AUDIT_SEQ", seq }, { "SOVD_AUDIT_ID", rc->id }, { "SOVD_AUDIT_HASH", rc->hash },
                            { "SOVD_AUDIT_PREV", prev }, { "SOVD_AUDIT_KIND", kind },
                            { "SOVD_AUDIT_RECORD", line }, { "SOVD_REQUEST_ID", string_member(record, "request_id") },
                            { "SOVD_VM_UUID", member_or_uuid(record, "vm") }, { "SOVD_DECISION", outcome }),
                 "audit record %s: %s%s%s%s%s", seq, kind ?: "record", operation ? " " : "", operation ?: "",
                 outcome ? ": " : "", outcome ?: "");
}

int audit_append(struct audit_log *log, struct json_object *fields, struct audit_receipt *ret,
                 struct sovd_err *err) {
        _cleanup_json_ struct json_object *record = NULL;
        struct audit_receipt rc = {};
        char prev[AUDIT_HASH_LEN];
        const char *line = NULL;
        size_t len;
        int r;

        if (!json_object_is_type(fields, json_type_object))
                return err_set(err, -EINVAL, "audit fields must be a JSON object");
        for (size_t i = 0; i < ELEMENTSOF(reserved_members); i++)
                if (json_object_object_get_ex(fields, reserved_members[i], NULL))
                        return err_set(err, -EINVAL, "audit fields may not set \"%s\": the log writes it",
                                       reserved_members[i]);

        pthread_mutex_lock(&log->lock);
        if (log->broken) {
                r = err_set(err, log->broken,
                            "the audit log refuses records since an earlier failure (%s); sovd must be restarted",
                            strerror(-log->broken));
                goto out;
        }
        while (log->size > 0 && log->size >= log->rotate_bytes) {
                if (log->syncing) {
                        pthread_cond_wait(&log->synced_cond, &log->lock);
                        continue;
                }
                if (log->broken) {
                        r = err_set(err, log->broken, "cannot sync the audit log: %s", strerror(-log->broken));
                        goto out;
                }
                r = rotate_locked(log, err);
                if (r < 0)
                        goto out;
        }

        rc.seq = log->written.seq + 1;
        r = build_record_locked(log, fields, rc.seq, &rc, &record);
        if (r < 0)
                goto out;
        line = json_to_string(record);
        len = strlen(line);
        if (len > AUDIT_LINE_MAX) {
                r = err_set(err, -EFBIG, "the audit record would be %zu bytes, more than %u", len, AUDIT_LINE_MAX);
                goto out;
        }
        /* What is written must verify: the same strict parser as the verifier's (UTF-8, depth). */
        {
                struct sovd_err e = {};

                r = audit_chain_parse_record(line, len, NULL, NULL, &e);
                if (r < 0) {
                        r = err_set(err, -EINVAL, "the audit record would not verify: %s", e.msg);
                        goto out;
                }
        }
        r = audit_chain_hash(line, len, rc.hash);
        if (r < 0) {
                r = err_set(err, r, "cannot hash the audit record");
                goto out;
        }
        memcpy(prev, log->written.hash, sizeof(prev));

        r = write_record_locked(log, line, len, err);
        if (r < 0)
                goto out;
        log->written = (struct audit_pos){ .seq = rc.seq, .file_no = log->file_no, .size = log->size };
        memcpy(log->written.hash, rc.hash, sizeof(rc.hash));

        r = sync_to_locked(log, rc.seq, err);
out:
        pthread_mutex_unlock(&log->lock);
        if (r < 0)
                return r;

        send_copy(&rc, prev, record, line);
        if (ret)
                *ret = rc;
        return 0;
}

/* ---- reading ------------------------------------------------------------ */

/* The files of the snapshot @at: numbers up to at->file_no. */
static int snapshot_files(struct audit_log *log, const struct audit_pos *at, char ***ret, size_t *ret_n,
                          struct sovd_err *err) {
        char **paths = NULL;
        size_t n = 0, k = 0;
        int r;

        r = audit_chain_list_files(log->dir, &paths, &n, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                uint64_t number = 0;

                (void) audit_chain_file_number(strrchr(paths[i], '/') + 1, &number);
                if (number > at->file_no) {
                        free(paths[i]);
                        paths[i] = NULL;
                } else
                        paths[k++] = paths[i];
        }
        paths[k] = NULL;
        *ret = paths;
        *ret_n = k;
        return 0;
}

int audit_verify(struct audit_log *log, unsigned flags, struct audit_verify_result *ret, struct sovd_err *err) {
        _cleanup_strv_free_ char **paths = NULL;
        struct audit_pos at = snapshot(log);
        size_t n = 0;
        int r;

        r = snapshot_files(log, &at, &paths, &n, err);
        if (r < 0)
                return r;
        r = audit_chain_verify_files_upto(paths, n, flags, at.size, ret, err);
        if (r < 0)
                return r;
        if (ret->valid && (ret->last_seq != at.seq || !streq(ret->head, at.hash))) {
                ret->valid = false;
                ret->bad.fault = AUDIT_FAULT_HEAD_MISMATCH;
                snprintf(ret->bad.file, sizeof(ret->bad.file), "%s", n > 0 ? paths[n - 1] : log->dir);
                ret->bad.line = 0;
                ret->bad.seq = ret->last_seq;
                snprintf(ret->bad.reason, sizeof(ret->bad.reason),
                         "the chain on disk ends at seq %" PRIu64 ", but the last record sovd wrote is seq %" PRIu64
                         " with hash %.16s...: records cut off the end, or the last one edited?",
                         ret->last_seq, at.seq, at.hash);
        }
        return 0;
}

static bool is_uuid(const char *s) {
        static const char layout[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

        if (strlen(s) != sizeof(layout) - 1)
                return false;
        for (size_t i = 0; layout[i]; i++)
                if (layout[i] == '-' ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
                        return false;
        return true;
}

static bool record_matches(struct json_object *rec, const struct audit_query *q) {
        if (q->since > 0) {
                const char *t = string_member(rec, "time");
                time_t when;

                if (!t || rfc3339_parse(t, &when) < 0 || when < q->since)
                        return false;
        }
        if (q->vm) {
                const char *vm = member_or_uuid(rec, "vm");

                if (!vm || strcasecmp(vm, q->vm) != 0)
                        return false;
        }
        if (q->outcome && !streq_ptr(decision_outcome(rec), q->outcome))
                return false;
        return true;
}

/*
 * Whether file @path (its first @limit bytes) holds nothing the query
 * wants, judged from its last record alone. Unreadable ends are not
 * skipped: the forward read will cope.
 */
static bool file_skippable(const char *path, uint64_t limit, const struct audit_query *q) {
        _cleanup_(audit_chain_tail_done) struct audit_chain_tail t = {};
        _cleanup_json_ struct json_object *rec = NULL;
        _cleanup_close_ int fd = -1;
        struct stat st;
        uint64_t seq, size;
        const char *time_s;
        time_t last;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || fstat(fd, &st) < 0)
                return false;
        size = (uint64_t) st.st_size < limit ? (uint64_t) st.st_size : limit;
        if (audit_chain_read_tail(fd, size, &t) < 0 || !t.last_line)
                return false;
        if (audit_chain_parse_record(t.last_line, t.last_len, &rec, &seq, NULL) < 0)
                return false;
        if (seq <= q->after_seq)
                return true;
        if (q->since > 0 && (time_s = string_member(rec, "time")) && rfc3339_parse(time_s, &last) >= 0 &&
            last < q->since)
                return true;
        return false;
}

int audit_query(struct audit_log *log, const struct audit_query *q, struct json_object **ret_records_array,
                uint64_t *ret_next_cursor, struct sovd_err *err) {
        _cleanup_json_ struct json_object *records = NULL;
        _cleanup_strv_free_ char **paths = NULL;
        struct audit_pos at;
        uint64_t next = 0, last_returned = 0;
        size_t n = 0, start = 0, count = 0;
        bool done = false;
        int r;

        if (q->limit < 1 || q->limit > AUDIT_QUERY_LIMIT_MAX)
                return err_set(err, -EINVAL, "limit: %u is not from 1 to %u", q->limit, AUDIT_QUERY_LIMIT_MAX);
        if (q->vm && !is_uuid(q->vm))
                return err_set(err, -EINVAL, "vm: '%s' is not a UUID", q->vm);
        if (q->outcome && !streq(q->outcome, "allow") && !streq(q->outcome, "deny"))
                return err_set(err, -EINVAL, "outcome: '%s' is not \"allow\" or \"deny\"", q->outcome);
        if (q->since < 0)
                return err_set(err, -EINVAL, "since: a time before 1970");

        records = json_object_new_array();
        if (!records)
                return -ENOMEM;
        at = snapshot(log);
        if (q->after_seq >= at.seq)
                goto finish;

        r = snapshot_files(log, &at, &paths, &n, err);
        if (r < 0)
                return r;
        /* From the newest file back to the first one the query needs. */
        for (size_t i = n; i > 0; i--) {
                if (file_skippable(paths[i - 1], i == n ? at.size : UINT64_MAX, q)) {
                        start = i;
                        break;
                }
        }

        for (size_t i = start; i < n && !done; i++) {
                _cleanup_(audit_chain_reader_freep) struct audit_chain_reader *rd = NULL;

                r = audit_chain_reader_open(paths[i], i + 1 == n ? at.size : UINT64_MAX, &rd);
                if (r == -ENOENT)
                        continue; /* archived away meanwhile */
                if (r < 0)
                        return err_set(err, r, "cannot open '%s': %s", paths[i], strerror(-r));
                for (;;) {
                        _cleanup_json_ struct json_object *rec = NULL;
                        const char *line;
                        uint64_t seq;
                        size_t len;

                        r = audit_chain_reader_next(rd, &line, &len);
                        if (r == 0 || r == 2)
                                break;
                        if (r == -EFBIG)
                                continue;
                        if (r < 0)
                                return err_set(err, r, "cannot read '%s': %s", paths[i], strerror(-r));
                        if (audit_chain_parse_record(line, len, &rec, &seq, NULL) < 0)
                                continue;
                        if (seq <= q->after_seq)
                                continue;
                        if (seq > at.seq) {
                                done = true;
                                break;
                        }
                        if (!record_matches(rec, q))
                                continue;
                        if (count == q->limit) {
                                /* One more exists: the page ends at the last record returned. */
                                next = last_returned;
                                done = true;
                                break;
                        }
                        if (json_object_array_add(records, rec) < 0)
                                return -ENOMEM;
                        rec = NULL; /* the array's now */
                        count++;
                        last_returned = seq;
                }
        }

finish:
        *ret_records_array = TAKE_PTR(records);
        *ret_next_cursor = next;
        return 0;
}
