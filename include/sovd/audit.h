/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The audit log: sovd's tamper-evident record of every decision and every
 * change, as a hash chain of JSON lines in <state_dir>/audit/ (format in
 * audit-chain.h). A record is durable (write + fdatasync) before
 * audit_append() returns, so the API answers only after its record is on
 * disk.
 *
 * Each record is also sent to journald, as one entry at LOG_NOTICE whose
 * fields carry the same facts:
 *   SOVD_AUDIT_SEQ, SOVD_AUDIT_ID, SOVD_AUDIT_HASH (this record's hash),
 *   SOVD_AUDIT_PREV, SOVD_AUDIT_KIND (the "kind" member, when a string),
 *   SOVD_AUDIT_RECORD (the full line, byte for byte),
 *   and, when the record has them, SOVD_REQUEST_ID ("request_id"),
 *   SOVD_VM_UUID ("vm", or "vm"."uuid") and SOVD_DECISION ("decision"."outcome").
 * journald forwarding (systemd-journal-upload, rsyslog, any shipper) thus
 * carries a verifiable copy of the chain to another machine, as SecNumCloud
 * 3.2 §12.6-12.7 asks: the SOVD_AUDIT_RECORD values of a range of entries,
 * sorted by seq, verify with `sovctl audit verify --partial -`, e.g.
 *   journalctl -o cat --output-fields=SOVD_AUDIT_RECORD SYSLOG_IDENTIFIER=sovd \
 *     | grep '^{"seq":' | sort -t: -k2,2n | sovctl audit verify --partial -
 * and the copy's SOVD_AUDIT_HASH of a given seq must equal the head of the
 * local files: cutting records off the end of the local log is caught
 * that way. The journald entry is sent after the record is durable and
 * outside the lock, so entries of concurrent appends may arrive slightly
 * out of seq order (hence the sort). NOTE: log_emit() drops records above
 * the configured log level, so sovd's log level must be "notice" or more
 * verbose for the copy to be sent.
 *
 * Thread-safety: one struct audit_log is shared by all threads. One mutex
 * (with one condition variable) guards its state: the current file, the
 * head written and the head known durable. Appends serialise their write(2)
 * under it, then share fdatasync() calls (group commit: one thread syncs
 * while the others wait for a sync that covers their record, so concurrent
 * appends do not each pay a full sync). Queries and verification take the
 * mutex only to copy the durable head, then read the files without it,
 * up to that head: they never block appends and never see a record that
 * is not durable yet.
 *
 * A second process appending to the same directory would fork the chain:
 * audit_open() takes an exclusive flock on the directory and refuses with
 * -EBUSY when another holds it. Readers (sovctl audit verify) take no lock.
 */

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <json-c/json.h>

#include "sovd/audit-chain.h"
#include "sovd/errors.h"
#include "sovd/id.h"
#include "sovd/time-util.h"

/* A new file is started once the current one holds this much (rotate_bytes = 0). */
#define AUDIT_ROTATE_BYTES_DEFAULT (64ull * 1024 * 1024)
/* Largest page of audit_query(). */
#define AUDIT_QUERY_LIMIT_MAX 1000u

struct audit_log;

/* What audit_append() wrote. */
struct audit_receipt {
        uint64_t seq;
        char id[ID_TEXT_LEN];
        char time[RFC3339_MAX];
        char hash[AUDIT_HASH_LEN]; /* this record's hash: the next record's prev */
};

/*
 * Opens the log in <@state_dir>/audit (created 0700, with @state_dir, when
 * missing), or starts a new chain there. @rotate_bytes: start a new file
 * once the current one holds at least that many bytes (0: the default,
 * 64 MiB); a file thus exceeds it by at most one record.
 *
 * Recovery reads only the end of the newest file (backwards, bounded), not
 * the whole log: the last complete line gives the head (seq and hash). A
 * last line without its '\n' is a record whose write was interrupted by a
 * crash (it was never acknowledged, since fdatasync() had not returned): it
 * is cut away (ftruncate + fdatasync), audit_open() returns 1 and @err
 * says what was dropped, for main to log as a warning.
 *
 * Returns 0 (or 1 as above) with *ret set, or:
 *   -EBUSY    another process has the log open;
 *   -EBADMSG  the last record cannot be read as a record (not JSON, no seq,
 *             longer than AUDIT_LINE_MAX, or an older file ends mid-line):
 *             sovd refuses to extend a chain whose head it cannot trust;
 *             `sovctl audit verify <dir>` tells more;
 *   -errno    the directory or a file cannot be created, opened or read.
 * @err always says why.
 */
int audit_open(const char *state_dir, uint64_t rotate_bytes, struct audit_log **ret, struct sovd_err *err);

/* Closes the files and frees @log; NULL-safe, returns NULL. No call may be running on @log. */
struct audit_log *audit_close(struct audit_log *log);
DEFINE_POINTER_CLEANUP(struct audit_log, audit_close);

/*
 * Appends one record and returns when it is durable. @fields is a JSON
 * object whose members are copied, in their order, between "time" and
 * "sovd_version" (e.g. kind, request_id, caller, role, operation, vm,
 * tenant, decision); it may not itself use the names seq, id, time,
 * sovd_version or prev. The caller keeps its reference to @fields; the
 * record holds references to its members during the call, so no other
 * thread may use @fields meanwhile (json-c objects are not thread-safe).
 * Records are written in the order appends take the lock.
 *
 * On success *ret (may be NULL) holds the record's seq, id, time and hash,
 * and the journald copy has been sent (see above). Errors:
 *   -EINVAL  @fields is not an object, uses a reserved name, or would not
 *            verify (invalid UTF-8, nested deeper than JSON_MAX_DEPTH);
 *   -EFBIG   the record would be longer than AUDIT_LINE_MAX;
 *   -errno   writing, rotating or syncing failed. A failed write is undone
 *            (ftruncate) and the log stays usable. A failed fdatasync()
 *            (or an undo that failed) leaves the record's durability
 *            unknown: the log then refuses every further append with the
 *            same error until it is reopened (sovd restarted), which is
 *            what a fail-closed caller wants. The record may then be on
 *            disk although the call failed.
 */
int audit_append(struct audit_log *log, struct json_object *fields, struct audit_receipt *ret,
                 struct sovd_err *err);

/* Filters of audit_query(); a zeroed struct (with a limit) matches everything. */
struct audit_query {
        time_t since;        /* records whose "time" is at or after since; 0: no filter */
        const char *vm;      /* a UUID: records whose "vm" is it, or whose "vm"."uuid" is it; NULL: any */
        const char *outcome; /* "allow" or "deny": records whose "decision"."outcome" is it; NULL: any */
        uint64_t after_seq;  /* cursor: records with seq > after_seq; 0: from the start */
        unsigned limit;      /* 1 .. AUDIT_QUERY_LIMIT_MAX */
};

/*
 * Returns in *ret_records_array (a new array) up to q->limit matching
 * records in seq order, parsed as they were written, and in
 * *ret_next_cursor the after_seq of the next page: the seq of the last
 * record returned when more matching records exist, else 0. Only durable
 * records are seen.
 *
 * Files wholly at or before the cursor are skipped by reading their ends
 * only; with @since, files whose last record is older than since are
 * skipped too (a wall clock stepped backwards inside a file can hide
 * records from a since query; the seq cursor is exact). Lines that are not
 * records are skipped: audit_verify() is the place to judge them.
 *
 * -EINVAL with @err naming the filter ("vm", "outcome", "limit") for bad
 * filters, -errno when a file cannot be read, -ENOMEM.
 */
int audit_query(struct audit_log *log, const struct audit_query *q, struct json_object **ret_records_array,
                uint64_t *ret_next_cursor, struct sovd_err *err);

/*
 * Verifies the whole chain on disk (see audit_chain_verify_files(); @flags
 * AUDIT_VERIFY_PARTIAL when older files were archived away) up to the last
 * durable record, and checks that it ends with the record sovd knows it
 * wrote last: a log cut short or whose last record was edited while sovd
 * runs fails with AUDIT_FAULT_HEAD_MISMATCH (bad.line is then 0: the end
 * of bad.file). Appends continue meanwhile (the check reads a snapshot).
 * Returns 0 with *ret filled, or -errno when a file cannot be read (@err).
 * audit_verify_result_to_json() gives the API's answer.
 */
int audit_verify(struct audit_log *log, unsigned flags, struct audit_verify_result *ret, struct sovd_err *err);

/* The durable head: seq (0 for an empty log) and hash (AUDIT_CHAIN_START then). */
void audit_get_head(struct audit_log *log, uint64_t *ret_seq, char ret_hash[static AUDIT_HASH_LEN]);
