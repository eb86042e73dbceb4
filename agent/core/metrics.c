/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <time.h>

#include "sovd/metrics.h"

#define STATUS_MIN 100
#define STATUS_MAX 599

static uint64_t requests[STATUS_MAX - STATUS_MIN + 1];
static uint64_t decisions_allow, decisions_deny, decisions_would_deny;
static uint64_t drift_records;
static uint64_t refusals_not_recorded;
static time_t start_time;

static void add(uint64_t *counter, uint64_t n) {
        __atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *counter) {
        return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

void metrics_init(void) {
        start_time = time(NULL);
}

void metrics_count_request(int status) {
        if (status >= STATUS_MIN && status <= STATUS_MAX)
                add(&requests[status - STATUS_MIN], 1);
}

void metrics_count_decision(bool allowed, bool would_deny) {
        add(allowed ? &decisions_allow : &decisions_deny, 1);
        /* would_deny is also set on an enforced denial: only the audit-mode passes are counted here. */
        if (allowed && would_deny)
                add(&decisions_would_deny, 1);
}

void metrics_count_drift(void) {
        add(&drift_records, 1);
}

void metrics_count_refusals_not_recorded(uint64_t n) {
        add(&refusals_not_recorded, n);
}

void metrics_render_header(struct strbuf *out, const char *name, const char *type, const char *help) {
        strbuf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_render_counters(struct strbuf *out) {
        metrics_render_header(out, "sovd_start_time_seconds", "gauge", "When this sovd process started, in Unix time.");
        strbuf_appendf(out, "sovd_start_time_seconds %lld\n", (long long) start_time);

        metrics_render_header(out, "sovd_http_requests_total", "counter",
                              "API requests answered, by HTTP status code.");
        for (int s = STATUS_MIN; s <= STATUS_MAX; s++) {
                uint64_t n = get(&requests[s - STATUS_MIN]);
                if (n)
                        strbuf_appendf(out, "sovd_http_requests_total{code=\"%d\"} %" PRIu64 "\n", s, n);
        }

        metrics_render_header(out, "sovd_policy_decisions_total", "counter",
                              "Placement decisions recorded (API and libvirt hook), by outcome.");
        strbuf_appendf(out, "sovd_policy_decisions_total{outcome=\"allow\"} %" PRIu64 "\n", get(&decisions_allow));
        strbuf_appendf(out, "sovd_policy_decisions_total{outcome=\"deny\"} %" PRIu64 "\n", get(&decisions_deny));
        metrics_render_header(out, "sovd_policy_would_deny_total", "counter",
                              "Decisions allowed only because their policy is in audit mode.");
        strbuf_appendf(out, "sovd_policy_would_deny_total %" PRIu64 "\n", get(&decisions_would_deny));

        metrics_render_header(out, "sovd_drift_records_total", "counter",
                              "Changes made behind the sovd API (libvirt events), recorded as drift.");
        strbuf_appendf(out, "sovd_drift_records_total %" PRIu64 "\n", get(&drift_records));

        metrics_render_header(out, "sovd_audit_refusals_not_recorded_total", "counter",
                              "Refused calls counted but not recorded one by one (rate limit per caller).");
        strbuf_appendf(out, "sovd_audit_refusals_not_recorded_total %" PRIu64 "\n", get(&refusals_not_recorded));
}
