/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The audit log's hash chain, as data: how a record's hash is computed, how
 * the files of a log are named and ordered, and how a sequence of files is
 * verified. Pure in the sense of DESIGN.md: no globals, no locks, no
 * logging; it reads only the files it is handed. Linked by sovd (through
 * audit.c) and by sovctl, so an auditor verifies a copy of the log offline
 * with the very code that wrote it.
 *
 * File format (one chain, spread over files):
 *   <dir>/audit-00000001.jsonl, audit-00000002.jsonl, ... (the number is
 *   the file's position, zero-padded to at least 8 digits). Each line is
 *   one JSON object written compactly by json-c and ended by '\n', with
 *   members in this order:
 *     "seq"           1, 2, 3 ... contiguous across files
 *     "id"            a random (v4) UUID
 *     "time"          RFC 3339 UTC, seconds ("2026-11-23T17:40:02Z")
 *     ...             the caller's members (kind, request_id, decision, ...)
 *     "sovd_version"  the writer's version
 *     "prev"          lower-case hex SHA-256 of the previous record's line
 *                     bytes (without its '\n'); 64 zeros for seq 1
 *   A record's hash is the SHA-256 of its line bytes exactly as stored
 *   (no re-serialisation, so verification does not depend on json-c's
 *   formatting). The chain continues across files: the first record of a
 *   file carries the hash of the last record of the file before it.
 *
 * What the chain proves, and what it does not: editing, removing,
 * inserting or reordering any record but the last breaks a link that the
 * verifier reports. Cutting records off the end leaves a shorter valid
 * chain; that is caught by comparing the head (the last record's hash)
 * with a copy kept elsewhere: sovd's own memory (audit_verify()), or the
 * journald copy of every record (see audit.h) shipped to another machine.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "sovd/errors.h"

/* Hex SHA-256 plus NUL. */
#define AUDIT_HASH_LEN 65
/* "prev" of the first record of a chain. */
#define AUDIT_CHAIN_START "0000000000000000000000000000000000000000000000000000000000000000"
/* Longest record line accepted (without its '\n'), written or read. */
#define AUDIT_LINE_MAX (1024u * 1024u)
/* Longest file path kept in a result; longer ones are cut. */
#define AUDIT_PATH_MAX 4096

/* Why a record failed verification. Stable names: audit_fault_to_string(). */
enum audit_fault {
        AUDIT_FAULT_NONE,
        /* The line is not one JSON object (or holds a NUL byte, bad UTF-8, ...). */
        AUDIT_FAULT_NOT_JSON,
        /* The line is longer than AUDIT_LINE_MAX. */
        AUDIT_FAULT_TOO_LONG,
        /* "seq" or "prev" is missing or malformed. */
        AUDIT_FAULT_BAD_MEMBER,
        /* The first record is not seq 1 with a prev of 64 zeros (older files missing?). */
        AUDIT_FAULT_CHAIN_START,
        /* seq jumps forward: records were removed. */
        AUDIT_FAULT_SEQ_GAP,
        /* seq goes backwards, repeats, or a jump is filled by the next line: records reordered. */
        AUDIT_FAULT_SEQ_ORDER,
        /* prev is not the hash of the record before: that record (or this one) was edited. */
        AUDIT_FAULT_PREV_MISMATCH,
        /* A line without its '\n' is followed by more records (the file was cut or spliced). */
        AUDIT_FAULT_TRUNCATED,
        /* audit_verify() only: the chain on disk ends elsewhere than the record sovd wrote last. */
        AUDIT_FAULT_HEAD_MISMATCH,
};

/* "not_json", "too_long", ... for JSON and scripts; "none" for AUDIT_FAULT_NONE. */
const char *audit_fault_to_string(enum audit_fault f);

struct audit_verify_result {
        /* True when every record verified (an incomplete last line does not count, see below). */
        bool valid;
        /* Records that verified, and files read. */
        uint64_t records;
        size_t files;
        /* seq of the first and last verified records; 0 when none. */
        uint64_t first_seq;
        uint64_t last_seq;
        /* prev of the first record: AUDIT_CHAIN_START for a whole chain. */
        char first_prev[AUDIT_HASH_LEN];
        /* Hash of the last verified record (the chain's head); AUDIT_CHAIN_START when none. */
        char head[AUDIT_HASH_LEN];

        /* When !valid: the first record that failed, and why. */
        struct {
                enum audit_fault fault;
                char file[AUDIT_PATH_MAX]; /* the path as given */
                uint64_t line;             /* 1-based line in that file */
                uint64_t seq;              /* the record's seq; 0 when it has none */
                char reason[256];          /* one sentence, e.g. "seq 7 follows 5 (record removed?)" */
        } bad;

        /*
         * The last file ended with a line without its '\n': a writer that
         * crashed (or a copy taken) in the middle of a write. It is not
         * counted, not judged and does not make the result invalid: no
         * record was acknowledged before its '\n' and fdatasync() (sovd's
         * audit_open() cuts it away). Only set when nothing follows it.
         */
        bool incomplete_tail;
        struct {
                char file[AUDIT_PATH_MAX];
                uint64_t line;
                uint64_t bytes;
        } tail;
};

/* Flags of audit_chain_verify_files(). */
enum {
        /*
         * The files may begin mid-chain (older files archived, or records
         * extracted from journald): the first record's seq and prev are
         * taken as given and reported in first_seq/first_prev, to be matched
         * against the head of the earlier part. Without it, the first record
         * must be seq 1 with a prev of AUDIT_CHAIN_START.
         */
        AUDIT_VERIFY_PARTIAL = 1 << 0,
};

/* Hex SHA-256 of a record's line bytes (without '\n') into @ret. -EIO when GnuTLS fails. */
int audit_chain_hash(const char *line, size_t len, char ret[static AUDIT_HASH_LEN]);

/*
 * Parses a file name "audit-<digits>.jsonl" (a base name, no directory)
 * into its number. Returns 0, or -EINVAL for any other name.
 */
int audit_chain_file_number(const char *name, uint64_t *ret);

/*
 * Lists the audit files of directory @dir, ordered by number, as a
 * NULL-terminated array of malloc'd paths "<dir>/audit-N.jsonl" (free with
 * strv_free()). Other names are ignored; an empty directory gives an empty
 * list. -ENOENT/-ENOTDIR/-EACCES... when @dir cannot be read, with @err
 * naming it.
 */
int audit_chain_list_files(const char *dir, char ***ret_paths, size_t *ret_n, struct sovd_err *err);

/*
 * Verifies @n files, in the given order, as one chain: every line must be a
 * JSON object of at most AUDIT_LINE_MAX bytes with an integer "seq" and a
 * hex "prev"; seq must go up by one from record to record and prev must be
 * the hash of the previous line, across file boundaries. Memory use is
 * bounded by the longest line, whatever the files' sizes.
 *
 * Returns 0 when the files could be read to the end or to the first bad
 * record, with *ret filled (ret->valid says whether the chain holds; when
 * not, ret->bad names the first failing record). Returns a negative errno
 * when a file cannot be opened or read (@err names it and *ret is
 * undefined), -ENOMEM.
 *
 * The record reported for an edit is the one after the edited record: its
 * prev no longer matches, and the reason names the record before it.
 */
int audit_chain_verify_files(char *const *paths, size_t n, unsigned flags, struct audit_verify_result *ret,
                             struct sovd_err *err);

/*
 * The same, reading only the first @last_file_bytes bytes of the last
 * file (UINT64_MAX: all of it): how audit_verify() checks a consistent
 * snapshot of a log that is being appended to.
 */
int audit_chain_verify_files_upto(char *const *paths, size_t n, unsigned flags, uint64_t last_file_bytes,
                                  struct audit_verify_result *ret, struct sovd_err *err);

/*
 * The answer of GET /v1/audit/verify, built from @res:
 *   {"valid": bool, "records": n, "files": m, "first_seq": n, "last_seq": n,
 *    "head": "<hash>",
 *    "first_bad": {"file", "line", "seq", "fault", "reason"} | null,
 *    "incomplete_tail": {"file", "line", "bytes"} | null}
 * Files are given by base name only (the server's paths are not the
 * client's business); "seq" is null when the bad line had none. Returns 0
 * and a new object in *ret, or -ENOMEM.
 */
int audit_verify_result_to_json(const struct audit_verify_result *res, struct json_object **ret);

/*
 * Forward reading of one audit file, line by line, with memory bounded by
 * AUDIT_LINE_MAX (also used by audit.c for queries).
 */
struct audit_chain_reader;

/*
 * Opens @path for reading at most @limit bytes (UINT64_MAX: all). -errno
 * when it cannot be opened, -ENOMEM.
 */
int audit_chain_reader_open(const char *path, uint64_t limit, struct audit_chain_reader **ret);
struct audit_chain_reader *audit_chain_reader_free(struct audit_chain_reader *r);
DEFINE_POINTER_CLEANUP(struct audit_chain_reader, audit_chain_reader_free);

/*
 * Reads the next line. Returns:
 *   1  a complete line: *ret_line (borrowed, valid until the next call, not
 *      NUL-terminated) and *ret_len, without the '\n';
 *   2  the file (or @limit) ends with a line that has no '\n': same outputs;
 *   0  end of file;
 *   -EFBIG  the line is longer than AUDIT_LINE_MAX; the reader skips to the
 *      next '\n', so the caller may carry on;
 *   -errno  read error.
 * audit_chain_reader_line() is the 1-based number of the line last
 * returned (or skipped).
 */
int audit_chain_reader_next(struct audit_chain_reader *r, const char **ret_line, size_t *ret_len);
uint64_t audit_chain_reader_line(const struct audit_chain_reader *r);

/*
 * The end of an audit file, read backwards in blocks (bounded by
 * AUDIT_LINE_MAX, whatever the file's size): used to recover a log's head
 * without reading it whole, and to skip files in queries.
 */
struct audit_chain_tail {
        /* Bytes up to and including the last '\n' (0: no complete line). */
        uint64_t complete_size;
        /* The last complete line (malloc'd, NUL-terminated, without '\n'); NULL when none. */
        char *last_line;
        size_t last_len;
};

void audit_chain_tail_done(struct audit_chain_tail *t);

/*
 * Reads the tail of the first @size bytes of open file @fd (which is not
 * moved: pread). -EFBIG when the last complete line is longer than
 * AUDIT_LINE_MAX or the incomplete tail after it is, -errno on read errors,
 * -ENOMEM. *ret is filled only on success.
 */
int audit_chain_read_tail(int fd, uint64_t size, struct audit_chain_tail *ret);

/*
 * Parses one record line strictly (as the verifier does) and returns its
 * object in *ret_obj (a new reference; may be NULL when not wanted) and
 * its seq in *ret_seq (may be NULL). -EINVAL with @err when the line is not
 * a JSON object with an integer "seq" >= 1.
 */
int audit_chain_parse_record(const char *line, size_t len, struct json_object **ret_obj, uint64_t *ret_seq,
                             struct sovd_err *err);
