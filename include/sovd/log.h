/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Logging for handlers and main only: library code returns errors, its
 * callers log them once. Under journald (JOURNAL_STREAM names our stderr)
 * records go through sd_journal_send with structured SOVD_* fields, so an
 * operator can `journalctl SOVD_VM_UUID=...`; elsewhere one line on stderr.
 *
 * Thread-safe: every call emits one record atomically.
 */

#include <syslog.h>

#include "sovd/cleanup.h"

struct log_field {
        const char *key;   /* journald field name, e.g. "SOVD_VM_UUID" */
        const char *value; /* NULL: field omitted */
};

/* A NULL-terminated compound literal of fields: LOG_FIELDS({"SOVD_VM_UUID", u}). */
#define LOG_FIELDS(...) ((const struct log_field[]){ __VA_ARGS__, { NULL, NULL } })

/* Picks journald or stderr once, from the environment; call before threads start. */
void log_setup(void);

/* Records above @level (LOG_ERR .. LOG_DEBUG) are dropped. */
void log_set_max_level(int level);
int log_get_max_level(void);

/* Parses "err", "warning", "notice", "info", "debug"; returns -EINVAL otherwise. */
int log_level_from_string(const char *s);

/* Emits one record; @fields may be NULL. Preserves errno. */
void log_emit(int priority, const struct log_field *fields, const char *fmt, ...) _printf_(3, 4);

/*
 * The same, whatever the configured level: for records that are not
 * chatter but data, such as the journald copy of the audit chain, which a
 * log shipper must always receive.
 */
void log_emit_always(int priority, const struct log_field *fields, const char *fmt, ...) _printf_(3, 4);

#define log_debug(...) log_emit(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...) log_emit(LOG_INFO, NULL, __VA_ARGS__)
#define log_notice(...) log_emit(LOG_NOTICE, NULL, __VA_ARGS__)
#define log_warning(...) log_emit(LOG_WARNING, NULL, __VA_ARGS__)
#define log_error(...) log_emit(LOG_ERR, NULL, __VA_ARGS__)
