/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "sovd/log.h"

#define LOG_MAX_FIELDS 16

static bool log_to_journal;
static int log_max_level = LOG_INFO;

/*
 * systemd sets JOURNAL_STREAM=dev:ino for a service whose stderr is
 * connected to journald; only then are structured records worth sending,
 * otherwise (a terminal, a test harness) plain lines are more useful.
 */
void log_setup(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        log_to_journal = false;
        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return;
        if (fstat(STDERR_FILENO, &st) < 0)
                return;
        log_to_journal = (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

int log_level_from_string(const char *s) {
        static const struct {
                const char *name;
                int level;
        } table[] = {
                { "err", LOG_ERR },       { "error", LOG_ERR }, { "warning", LOG_WARNING },
                { "notice", LOG_NOTICE }, { "info", LOG_INFO }, { "debug", LOG_DEBUG },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(s, table[i].name))
                        return table[i].level;
        return -EINVAL;
}

static const char *level_name(int priority) {
        switch (priority) {
        case LOG_EMERG:
        case LOG_ALERT:
        case LOG_CRIT:
        case LOG_ERR:
                return "error";
        case LOG_WARNING:
                return "warning";
        case LOG_NOTICE:
                return "notice";
        case LOG_INFO:
                return "info";
        default:
                return "debug";
        }
}

static void emit(int priority, const struct log_field *fields, const char *message);

void log_emit(int priority, const struct log_field *fields, const char *fmt, ...) {
        int saved_errno = errno;
        char message[2048];
        va_list ap;

        if (priority > log_max_level) {
                errno = saved_errno;
                return;
        }
        va_start(ap, fmt);
        (void) vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        emit(priority, fields, message);
        errno = saved_errno;
}

void log_emit_always(int priority, const struct log_field *fields, const char *fmt, ...) {
        int saved_errno = errno;
        char message[2048];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        emit(priority, fields, message);
        errno = saved_errno;
}

static void emit(int priority, const struct log_field *fields, const char *message) {
        int saved_errno = errno;

        if (log_to_journal) {
                _cleanup_free_ char *m = NULL, *p = NULL;
                char *owned[LOG_MAX_FIELDS] = {};
                struct iovec iov[LOG_MAX_FIELDS + 3];
                size_t n = 0, n_owned = 0;

                if (asprintf(&m, "MESSAGE=%s", message) < 0 || asprintf(&p, "PRIORITY=%d", priority) < 0)
                        goto fallback;
                iov[n++] = (struct iovec){ m, strlen(m) };
                iov[n++] = (struct iovec){ p, strlen(p) };
                iov[n++] = (struct iovec){ (char *) "SYSLOG_IDENTIFIER=sovd", strlen("SYSLOG_IDENTIFIER=sovd") };
                for (const struct log_field *f = fields; f && f->key && n_owned < LOG_MAX_FIELDS; f++) {
                        char *s;
                        if (!f->value)
                                continue;
                        if (asprintf(&s, "%s=%s", f->key, f->value) < 0)
                                break;
                        owned[n_owned++] = s;
                        iov[n++] = (struct iovec){ s, strlen(s) };
                }
                (void) sd_journal_sendv(iov, (int) n);
                for (size_t i = 0; i < n_owned; i++)
                        free(owned[i]);
                errno = saved_errno;
                return;
        }

fallback:;
        /* One fprintf per record so that lines from threads do not interleave. */
        char extra[1024] = "";
        size_t off = 0;
        for (const struct log_field *f = fields; f && f->key; f++) {
                if (!f->value || off >= sizeof(extra))
                        continue;
                int k = snprintf(extra + off, sizeof(extra) - off, " %s=%s", f->key, f->value);
                if (k > 0)
                        off += (size_t) k;
        }
        fprintf(stderr, "sovd: %s: %s%s%s%s\n", level_name(priority), message, off ? " [" : "",
                off ? extra + 1 : "", off ? "]" : "");
        errno = saved_errno;
}
