/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * sovctl, the command-line client of sovd: shared definitions.
 *
 * Error contract inside sovctl: functions return >= 0 on success and a
 * negative errno on failure, as in the rest of sovd. The SOVCTL_E_* codes
 * below additionally mean "the failure has already been reported on
 * stderr"; main() turns them into the documented exit codes and reports
 * any other (plain errno) failure itself, so every failure is printed once.
 */

#include <stdbool.h>
#include <stdio.h>

#include "sovd/cleanup.h"

/* Exit codes, part of the command-line contract (docs/sovctl.md). */
enum sovctl_exit {
        SOVCTL_EXIT_OK = 0,
        SOVCTL_EXIT_API = 1,         /* sovd answered an error, or an answer we cannot use */
        SOVCTL_EXIT_USAGE = 2,       /* bad options, unreadable or invalid input file */
        SOVCTL_EXIT_TIMEOUT = 2,     /* job wait --timeout: the job has not ended in time */
        SOVCTL_EXIT_UNREACHABLE = 3, /* sovd could not be reached at all */
        SOVCTL_EXIT_DENIED = 4,      /* policy evaluate: the decision denies */
};

enum sovctl_errno {
        SOVCTL_ERRNO_BASE = 8192,
        /* sovd answered 4xx/5xx, or 2xx with a body we cannot use; reported. */
        SOVCTL_E_API,
        /* The command line or an input file is wrong; reported. */
        SOVCTL_E_USAGE,
        /* Connecting, TLS or waiting for the answer failed; reported. */
        SOVCTL_E_UNREACHABLE,
        /* A dry run's decision denies; the decision has been printed. */
        SOVCTL_E_DENIED,
        /* A job waited for with a time limit has not ended by then; reported. */
        SOVCTL_E_TIMEOUT,
};

/* Largest answer body sovctl accepts; a hostile server cannot exhaust memory. */
#define SOVCTL_MAX_ANSWER_BYTES (64u * 1024u * 1024u)
/* Largest spec or tags file read (vm create, policy evaluate --tags): same bound, sovd refuses far less. */
#define SOVCTL_MAX_SPEC_BYTES (64u * 1024u * 1024u)
/* Nesting accepted in JSON we parse; deeper documents are refused, not recursed into. */
#define SOVCTL_JSON_MAX_DEPTH 32

struct sovctl_http;

/* What every subcommand needs: the transport and the global options. */
struct sovctl_ctx {
        struct sovctl_http *http;
        bool json;                   /* --json: print the server's JSON, pretty */
        const char *idempotency_key; /* --idempotency-key, sent on POST only */
};

/* Prints the full usage text to @f (sovctl.c). */
void sovctl_usage(FILE *f);

/* Prints "sovctl: <message>" on stderr. */
void sovctl_error(const char *fmt, ...) _printf_(1, 2);
/* Reports a usage error with a hint to --help; returns -SOVCTL_E_USAGE. */
int sovctl_usage_error(const char *fmt, ...) _printf_(1, 2);
