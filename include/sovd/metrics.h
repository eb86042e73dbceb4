/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Counters for GET /metrics (Prometheus text exposition format 0.0.4).
 * Counted where things happen (the HTTP layer, the recorder), with relaxed
 * atomic adds: nothing takes a lock to count, and a scrape reads them as
 * they are. They start at 0 with the process, as Prometheus counters do.
 */

#include <stdbool.h>
#include <stdint.h>

#include "sovd/strbuf.h"

/* Called once at start-up: sovd_start_time_seconds. */
void metrics_init(void);

void metrics_count_request(int status);
void metrics_count_decision(bool allowed, bool would_deny);
void metrics_count_drift(void);
void metrics_count_refusals_not_recorded(uint64_t n);

/* Appends the counters (HELP, TYPE, samples), and the start time, to @out. */
void metrics_render_counters(struct strbuf *out);

/* Appends one metric's HELP and TYPE lines. */
void metrics_render_header(struct strbuf *out, const char *name, const char *type, const char *help);
