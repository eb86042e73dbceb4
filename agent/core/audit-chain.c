/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The audit chain as data: hashing, file naming, bounded line reading
 * (forwards and backwards) and verification. See include/sovd/audit-chain.h
 * for the format. Nothing here keeps state between calls or logs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sovd/audit-chain.h"
#include "sovd/cleanup.h"
#include "sovd/json-util.h"
#include "sovd/sha256.h"

/* First read size; the buffer grows up to one maximal line. */
#define READ_CHUNK (64u * 1024u)

const char *audit_fault_to_string(enum audit_fault f) {
        switch (f) {
        case AUDIT_FAULT_NONE:
                return "none";
        case AUDIT_FAULT_NOT_JSON:
                return "not_json";
        case AUDIT_FAULT_TOO_LONG:
                return "too_long";
        case AUDIT_FAULT_BAD_MEMBER:
                return "bad_member";
        case AUDIT_FAULT_CHAIN_START:
                return "chain_start";
        case AUDIT_FAULT_SEQ_GAP:
                return "seq_gap";
        case AUDIT_FAULT_SEQ_ORDER:
                return "seq_order";
        case AUDIT_FAULT_PREV_MISMATCH:
                return "prev_mismatch";
        case AUDIT_FAULT_TRUNCATED:
                return "truncated";
        case AUDIT_FAULT_HEAD_MISMATCH:
                return "head_mismatch";
        }
        return "unknown";
}

int audit_chain_hash(const char *line, size_t len, char ret[static AUDIT_HASH_LEN]) {
        return sha256_hex(line, len, ret);
}

static const char *base_name(const char *path) {
        const char *s = strrchr(path, '/');

        return s ? s + 1 : path;
}

static bool is_hash(const char *s) {
        size_t n = 0;

        for (; s[n]; n++)
                if (!strchr("0123456789abcdef", s[n]))
                        return false;
        return n == AUDIT_HASH_LEN - 1;
}

int audit_chain_file_number(const char *name, uint64_t *ret) {
        char canonical[64];
        uint64_t n = 0;
        const char *p;

        if (strncmp(name, "audit-", 6) != 0)
                return -EINVAL;
        p = name + 6;
        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (n > (UINT64_MAX - 9) / 10)
                        return -EINVAL;
                n = n * 10 + (uint64_t) (*p - '0');
        }
        if (!streq(p, ".jsonl") || n == 0)
                return -EINVAL;
        /* Only the name sovd writes: "audit-1.jsonl" next to "audit-00000001.jsonl" is not a second file 1. */
        snprintf(canonical, sizeof(canonical), "audit-%08" PRIu64 ".jsonl", n);
        if (!streq(canonical, name))
                return -EINVAL;
        *ret = n;
        return 0;
}

struct numbered {
        uint64_t number;
        char *path;
};

static int numbered_cmp(const void *a, const void *b) {
        const struct numbered *x = a, *y = b;

        return x->number < y->number ? -1 : x->number > y->number;
}

int audit_chain_list_files(const char *dir, char ***ret_paths, size_t *ret_n, struct sovd_err *err) {
        struct numbered *items = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        char **paths;
        DIR *d;
        int r = 0;

        d = opendir(dir);
        if (!d)
                return err_set(err, -errno, "cannot read directory '%s': %s", dir, strerror(errno));
        for (;;) {
                uint64_t number;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno)
                                r = err_set(err, -errno, "cannot read directory '%s': %s", dir,
                                            strerror(errno));
                        break;
                }
                if (de->d_type == DT_DIR || audit_chain_file_number(de->d_name, &number) < 0)
                        continue;
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 16;
                        struct numbered *p = realloc(items, ncap * sizeof(*items));

                        if (!p) {
                                r = -ENOMEM;
                                break;
                        }
                        items = p;
                        cap = ncap;
                }
                if (asprintf(&items[n].path, "%s/%s", dir, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                items[n++].number = number;
        }
        closedir(d);

        paths = r < 0 ? NULL : calloc(n + 1, sizeof(char *));
        if (!paths) {
                for (size_t i = 0; i < n; i++)
                        free(items[i].path);
                free(items);
                return r < 0 ? r : -ENOMEM;
        }
        if (n > 0) /* items is NULL otherwise, which qsort() may not be given */
                qsort(items, n, sizeof(*items), numbered_cmp);
        for (size_t i = 0; i < n; i++)
                paths[i] = items[i].path;
        free(items);
        *ret_paths = paths;
        *ret_n = n;
        return 0;
}

/* ---- forward reading ---------------------------------------------------- */

struct audit_chain_reader {
        int fd;
        uint64_t left; /* bytes we may still read from fd */
        char *buf;
        size_t cap, start, end;
        size_t scanned; /* buf[start..scanned) holds no '\n' */
        bool eof;
        uint64_t line;
};

int audit_chain_reader_open(const char *path, uint64_t limit, struct audit_chain_reader **ret) {
        _cleanup_(audit_chain_reader_freep) struct audit_chain_reader *r = NULL;
        struct stat st;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (r->fd < 0)
                return -errno;
        if (fstat(r->fd, &st) < 0)
                return -errno;
        /* A pipe is fine ("-" for a journald export); a directory or device is not. */
        if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
                return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        r->left = limit;
        r->cap = READ_CHUNK;
        r->buf = malloc(r->cap);
        if (!r->buf)
                return -ENOMEM;
        *ret = TAKE_PTR(r);
        return 0;
}

struct audit_chain_reader *audit_chain_reader_free(struct audit_chain_reader *r) {
        if (!r)
                return NULL;
        if (r->fd >= 0)
                close(r->fd);
        free(r->buf);
        free(r);
        return NULL;
}

uint64_t audit_chain_reader_line(const struct audit_chain_reader *r) {
        return r->line;
}

/* Reads more bytes after buf[end]; sets eof at the end of the file or limit. */
static int reader_fill(struct audit_chain_reader *r) {
        size_t want = r->cap - r->end;
        ssize_t n;

        if ((uint64_t) want > r->left)
                want = (size_t) r->left;
        if (want == 0) {
                r->eof = true;
                return 0;
        }
        do
                n = read(r->fd, r->buf + r->end, want);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if (n == 0)
                r->eof = true;
        r->end += (size_t) n;
        r->left -= (uint64_t) n;
        return 0;
}

/* Makes room after buf[end]: moves the pending line to the front, else grows. */
static int reader_make_room(struct audit_chain_reader *r) {
        if (r->start > 0) {
                memmove(r->buf, r->buf + r->start, r->end - r->start);
                r->end -= r->start;
                r->scanned -= r->start;
                r->start = 0;
        }
        if (r->end == r->cap) {
                /* One maximal line plus its '\n' is the most ever held. */
                size_t ncap = r->cap * 2 > AUDIT_LINE_MAX + 1 ? AUDIT_LINE_MAX + 1 : r->cap * 2;
                char *p;

                if (ncap <= r->cap)
                        return -EFBIG;
                p = realloc(r->buf, ncap);
                if (!p)
                        return -ENOMEM;
                r->buf = p;
                r->cap = ncap;
        }
        return 0;
}

/* After an over-long line: drops bytes up to and including the next '\n'. */
static int reader_skip_line(struct audit_chain_reader *r) {
        for (;;) {
                char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
                int k;

                if (nl) {
                        r->start = r->scanned = (size_t) (nl - r->buf) + 1;
                        return 0;
                }
                r->start = r->end = r->scanned = 0;
                if (r->eof)
                        return 0;
                k = reader_fill(r);
                if (k < 0)
                        return k;
        }
}

int audit_chain_reader_next(struct audit_chain_reader *r, const char **ret_line, size_t *ret_len) {
        int k;

        if (r->scanned < r->start)
                r->scanned = r->start;
        for (;;) {
                char *nl = memchr(r->buf + r->scanned, '\n', r->end - r->scanned);

                if (nl) {
                        size_t len = (size_t) (nl - (r->buf + r->start));

                        r->line++;
                        *ret_line = r->buf + r->start;
                        *ret_len = len;
                        r->start = r->scanned = (size_t) (nl - r->buf) + 1;
                        return 1;
                }
                r->scanned = r->end;
                if (r->end - r->start > AUDIT_LINE_MAX) {
                        r->line++;
                        k = reader_skip_line(r);
                        return k < 0 ? k : -EFBIG;
                }
                if (r->eof) {
                        size_t len = r->end - r->start;

                        if (len == 0)
                                return 0;
                        r->line++;
                        *ret_line = r->buf + r->start;
                        *ret_len = len;
                        r->start = r->scanned = r->end;
                        return 2;
                }
                k = reader_make_room(r);
                if (k < 0)
                        return k;
                k = reader_fill(r);
                if (k < 0)
                        return k;
        }
}

/* ---- backward reading --------------------------------------------------- */

void audit_chain_tail_done(struct audit_chain_tail *t) {
        free(t->last_line);
        *t = (struct audit_chain_tail){};
}

static int pread_full(int fd, char *buf, size_t len, uint64_t off) {
        while (len > 0) {
                ssize_t n = pread(fd, buf, len, (off_t) off);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EIO; /* the file shrank under us */
                buf += n;
                len -= (size_t) n;
                off += (uint64_t) n;
        }
        return 0;
}

int audit_chain_read_tail(int fd, uint64_t size, struct audit_chain_tail *ret) {
        /* Enough for an incomplete line and a complete one, both maximal, with their '\n'. */
        const uint64_t window_max = 2 * ((uint64_t) AUDIT_LINE_MAX + 1);
        _cleanup_free_ char *buf = NULL;
        uint64_t off = size, block = READ_CHUNK;

        /* buf holds bytes [off, size) of the file. */
        for (;;) {
                uint64_t held = size - off, nl_pos = 0, start = 0;
                bool have_nl = false, have_start = false;
                char *p;
                int k;

                /* The last '\n', then the one before it (or the file's start). */
                for (uint64_t i = held; i > 0; i--)
                        if (buf[i - 1] == '\n') {
                                nl_pos = off + i - 1;
                                have_nl = true;
                                break;
                        }
                if (have_nl) {
                        for (uint64_t i = nl_pos - off; i > 0; i--)
                                if (buf[i - 1] == '\n') {
                                        start = off + i;
                                        have_start = true;
                                        break;
                                }
                        if (!have_start && off == 0)
                                have_start = true; /* start = 0 */
                }
                if (have_start) {
                        size_t len = (size_t) (nl_pos - start);
                        char *line;

                        if (len > AUDIT_LINE_MAX)
                                return -EFBIG;
                        line = malloc(len + 1);
                        if (!line)
                                return -ENOMEM;
                        memcpy(line, buf + (start - off), len);
                        line[len] = '\0';
                        *ret = (struct audit_chain_tail){
                                .complete_size = nl_pos + 1,
                                .last_line = line,
                                .last_len = len,
                        };
                        return 0;
                }
                if (off == 0) {
                        /* No '\n' at all: nothing complete, the whole file is a partial line. */
                        if (size > AUDIT_LINE_MAX)
                                return -EFBIG;
                        *ret = (struct audit_chain_tail){};
                        return 0;
                }
                if (held >= window_max)
                        return -EFBIG;

                /* Prepend the block before off. */
                if (block > off)
                        block = off;
                if (held + block > window_max)
                        block = window_max - held;
                p = malloc((size_t) (held + block));
                if (!p)
                        return -ENOMEM;
                k = pread_full(fd, p, (size_t) block, off - block);
                if (k < 0) {
                        free(p);
                        return k;
                }
                if (held > 0)
                        memcpy(p + block, buf, (size_t) held);
                free(buf);
                buf = p;
                off -= block;
                block *= 2;
        }
}

/* ---- records ------------------------------------------------------------ */

/* Which check a line failed, so the verifier can tell bad JSON from a bad member. */
enum parse_stage {
        PARSE_JSON,
        PARSE_SEQ,
};

static int parse_record(const char *line, size_t len, struct json_object **ret_obj, uint64_t *ret_seq,
                        enum parse_stage *ret_stage, struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *v;
        int64_t seq;
        int r;

        *ret_stage = PARSE_JSON;
        if (len == 0)
                return err_set(err, -EINVAL, "empty line");
        r = json_parse_strict(line, len, &o, err);
        if (r < 0)
                return r;
        if (!json_object_is_type(o, json_type_object))
                return err_set(err, -EINVAL, "not a JSON object");
        *ret_stage = PARSE_SEQ;
        if (!json_object_object_get_ex(o, "seq", &v) || !json_object_is_type(v, json_type_int))
                return err_set(err, -EINVAL, "no integer \"seq\" member");
        seq = json_object_get_int64(v);
        /* json-c clamps larger numbers to INT64_MAX: refuse rather than guess. */
        if (seq < 1 || seq == INT64_MAX)
                return err_set(err, -EINVAL, "\"seq\" %" PRId64 " is out of range", seq);
        if (ret_seq)
                *ret_seq = (uint64_t) seq;
        if (ret_obj)
                *ret_obj = TAKE_PTR(o);
        return 0;
}

int audit_chain_parse_record(const char *line, size_t len, struct json_object **ret_obj, uint64_t *ret_seq,
                             struct sovd_err *err) {
        enum parse_stage stage;

        return parse_record(line, len, ret_obj, ret_seq, &stage, err);
}

/* ---- verification ------------------------------------------------------- */

struct verifier {
        unsigned flags;
        struct audit_verify_result *res;
        bool done;

        /* The last record that verified. */
        bool have_prev;
        uint64_t prev_seq;
        char prev_hash[AUDIT_HASH_LEN];
        const char *prev_file; /* borrowed from the caller's paths */
        uint64_t prev_line;

        /*
         * A forward jump of seq was reported in res->bad; the next line
         * decides between "removed" and "reordered": if it carries the
         * missing seq, the records were moved, not removed.
         */
        bool gap_pending;
        uint64_t gap_expected;
};

static void cut_copy(char *dst, size_t size, const char *src) {
        snprintf(dst, size, "%s", src);
}

_printf_(6, 7) static void verifier_fail(struct verifier *v, enum audit_fault fault, const char *file,
                                          uint64_t line, uint64_t seq, const char *fmt, ...) {
        struct audit_verify_result *res = v->res;
        va_list ap;

        res->valid = false;
        res->bad.fault = fault;
        cut_copy(res->bad.file, sizeof(res->bad.file), file);
        res->bad.line = line;
        res->bad.seq = seq;
        va_start(ap, fmt);
        (void) vsnprintf(res->bad.reason, sizeof(res->bad.reason), fmt, ap);
        va_end(ap);
        v->done = true;
}

/* The line after a seq jump: reordering when it carries the missing seq. */
static void verifier_settle_gap(struct verifier *v, const char *line, size_t len) {
        uint64_t seq;

        v->gap_pending = false;
        if (line && audit_chain_parse_record(line, len, NULL, &seq, NULL) >= 0 && seq == v->gap_expected) {
                v->res->bad.fault = AUDIT_FAULT_SEQ_ORDER;
                snprintf(v->res->bad.reason, sizeof(v->res->bad.reason),
                         "seq %" PRIu64 " follows %" PRIu64 " and seq %" PRIu64
                         " comes after it (records reordered?)",
                         v->res->bad.seq, v->prev_seq, seq);
        }
        v->done = true;
}

static void verifier_line(struct verifier *v, const char *file, uint64_t lineno, const char *line, size_t len) {
        struct audit_verify_result *res = v->res;
        _cleanup_json_ struct json_object *o = NULL;
        char hash[AUDIT_HASH_LEN];
        enum parse_stage stage;
        struct sovd_err e = {};
        struct json_object *pv;
        const char *prev;
        uint64_t seq;

        if (v->gap_pending)
                return verifier_settle_gap(v, line, len);
        if (res->incomplete_tail) {
                /* A line cut short is only a crash's mark when nothing follows it. */
                res->incomplete_tail = false;
                return verifier_fail(v, AUDIT_FAULT_TRUNCATED, res->tail.file, res->tail.line, 0,
                                     "line has no end ('\\n') but more records follow (file cut or spliced?)");
        }

        if (parse_record(line, len, &o, &seq, &stage, &e) < 0) {
                if (stage == PARSE_SEQ)
                        return verifier_fail(v, AUDIT_FAULT_BAD_MEMBER, file, lineno, 0, "%s", e.msg);
                return verifier_fail(v, AUDIT_FAULT_NOT_JSON, file, lineno, 0, "not JSON: %s", e.msg);
        }
        if (!json_object_object_get_ex(o, "prev", &pv) || !json_object_is_type(pv, json_type_string) ||
            !is_hash(prev = json_object_get_string(pv)))
                return verifier_fail(v, AUDIT_FAULT_BAD_MEMBER, file, lineno, seq,
                                     "no \"prev\" member of 64 lower-case hex digits");
        if (audit_chain_hash(line, len, hash) < 0)
                return verifier_fail(v, AUDIT_FAULT_NOT_JSON, file, lineno, seq, "cannot hash the record");

        if (!v->have_prev) {
                if (!(v->flags & AUDIT_VERIFY_PARTIAL)) {
                        if (seq != 1)
                                return verifier_fail(v, AUDIT_FAULT_CHAIN_START, file, lineno, seq,
                                                     "the first record has seq %" PRIu64
                                                     ", not 1 (older files missing?)",
                                                     seq);
                        if (!streq(prev, AUDIT_CHAIN_START))
                                return verifier_fail(v, AUDIT_FAULT_CHAIN_START, file, lineno, seq,
                                                     "the first record's prev is not 64 zeros "
                                                     "(record edited, or not the start of the chain?)");
                }
                res->first_seq = seq;
                cut_copy(res->first_prev, sizeof(res->first_prev), prev);
        } else if (seq == v->prev_seq + 1) {
                if (!streq(prev, v->prev_hash))
                        return verifier_fail(v, AUDIT_FAULT_PREV_MISMATCH, file, lineno, seq,
                                             "prev does not match the hash of the previous record "
                                             "(seq %" PRIu64 " at %s:%" PRIu64
                                             "): record edited, removed or reordered?",
                                             v->prev_seq, base_name(v->prev_file), v->prev_line);
        } else if (seq > v->prev_seq + 1) {
                verifier_fail(v, AUDIT_FAULT_SEQ_GAP, file, lineno, seq,
                              "seq %" PRIu64 " follows %" PRIu64 " (record removed?)", seq, v->prev_seq);
                v->done = false;
                v->gap_pending = true;
                v->gap_expected = v->prev_seq + 1;
                return;
        } else
                return verifier_fail(v, AUDIT_FAULT_SEQ_ORDER, file, lineno, seq,
                                     "seq %" PRIu64 " follows %" PRIu64 " (records reordered or duplicated?)",
                                     seq, v->prev_seq);

        v->have_prev = true;
        v->prev_seq = seq;
        v->prev_file = file;
        v->prev_line = lineno;
        memcpy(v->prev_hash, hash, sizeof(hash));
        res->records++;
        res->last_seq = seq;
        memcpy(res->head, hash, sizeof(hash));
}

int audit_chain_verify_files_upto(char *const *paths, size_t n, unsigned flags, uint64_t last_file_bytes,
                                  struct audit_verify_result *ret, struct sovd_err *err) {
        struct verifier v = { .flags = flags, .res = ret };

        *ret = (struct audit_verify_result){ .valid = true };
        cut_copy(ret->first_prev, sizeof(ret->first_prev), AUDIT_CHAIN_START);
        cut_copy(ret->head, sizeof(ret->head), AUDIT_CHAIN_START);

        for (size_t i = 0; i < n && !v.done; i++) {
                _cleanup_(audit_chain_reader_freep) struct audit_chain_reader *rd = NULL;
                int r;

                r = audit_chain_reader_open(paths[i], i + 1 == n ? last_file_bytes : UINT64_MAX, &rd);
                if (r < 0)
                        return err_set(err, r, "cannot open '%s': %s", paths[i], strerror(-r));
                ret->files++;

                while (!v.done) {
                        const char *line = NULL;
                        size_t len = 0;

                        r = audit_chain_reader_next(rd, &line, &len);
                        if (r == 0)
                                break;
                        if (r == -EFBIG) {
                                if (v.gap_pending)
                                        verifier_settle_gap(&v, NULL, 0);
                                else
                                        verifier_fail(&v, AUDIT_FAULT_TOO_LONG, paths[i],
                                                      audit_chain_reader_line(rd), 0,
                                                      "line longer than %u bytes", AUDIT_LINE_MAX);
                                break;
                        }
                        if (r < 0)
                                return err_set(err, r, "cannot read '%s': %s", paths[i], strerror(-r));
                        if (r == 2 && !v.gap_pending && !ret->incomplete_tail) {
                                /* Judged by what follows it, if anything does. */
                                ret->incomplete_tail = true;
                                cut_copy(ret->tail.file, sizeof(ret->tail.file), paths[i]);
                                ret->tail.line = audit_chain_reader_line(rd);
                                ret->tail.bytes = len;
                                continue;
                        }
                        verifier_line(&v, paths[i], audit_chain_reader_line(rd), line, len);
                }
        }
        if (v.gap_pending)
                verifier_settle_gap(&v, NULL, 0);
        return 0;
}

int audit_chain_verify_files(char *const *paths, size_t n, unsigned flags, struct audit_verify_result *ret,
                             struct sovd_err *err) {
        return audit_chain_verify_files_upto(paths, n, flags, UINT64_MAX, ret, err);
}

int audit_verify_result_to_json(const struct audit_verify_result *res, struct json_object **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object(), *bad = NULL, *tail = NULL;
        int r = 0;

        if (!o)
                return -ENOMEM;
        r |= json_add_bool(o, "valid", res->valid);
        r |= json_add_int(o, "records", (int64_t) res->records);
        r |= json_add_int(o, "files", (int64_t) res->files);
        r |= json_add_int(o, "first_seq", (int64_t) res->first_seq);
        r |= json_add_int(o, "last_seq", (int64_t) res->last_seq);
        r |= json_add_string(o, "head", res->head);
        if (!res->valid) {
                bad = json_object_new_object();
                if (!bad)
                        return -ENOMEM;
                r |= json_add_string(bad, "file", base_name(res->bad.file));
                r |= json_add_int(bad, "line", (int64_t) res->bad.line);
                if (res->bad.seq > 0)
                        r |= json_add_int(bad, "seq", (int64_t) res->bad.seq);
                else
                        r |= json_add(bad, "seq", NULL);
                r |= json_add_string(bad, "fault", audit_fault_to_string(res->bad.fault));
                r |= json_add_string(bad, "reason", res->bad.reason);
        }
        r |= json_add(o, "first_bad", TAKE_PTR(bad));
        if (res->incomplete_tail) {
                tail = json_object_new_object();
                if (!tail)
                        return -ENOMEM;
                r |= json_add_string(tail, "file", base_name(res->tail.file));
                r |= json_add_int(tail, "line", (int64_t) res->tail.line);
                r |= json_add_int(tail, "bytes", (int64_t) res->tail.bytes);
        }
        r |= json_add(o, "incomplete_tail", TAKE_PTR(tail));
        if (r < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}
