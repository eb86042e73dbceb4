/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-policy: decisions per second of the policy engine on one core, for
 * the shipped secnumcloud policy (loaded from the policies directory):
 *
 *   a. policy_check() of a compliant storage pool (the common case);
 *   b. policy_check() of a denied place with 3 violations (reasons formatted);
 *   c. admission_decide_vm() for a VM with 1 host + 3 disks in 2 pools
 *      (3 checks, the decision's allocations and references included);
 *   d. decision_to_json() of (c), and the same serialised to text.
 *
 * Each case is warmed up, then timed over N iterations with
 * clock_gettime(CLOCK_MONOTONIC); the best of R rounds is reported, as ns
 * per decision and decisions per second, in one markdown table on stdout.
 * The target of (a) is >= 1,000,000 decisions/s (< 1 us). It is a
 * benchmark, not a test: it asserts nothing about speed, and exits non-zero
 * only when it cannot measure (policies missing, a decision not the one
 * expected).
 *
 * Usage: bench-policy [-n ITERATIONS] [-r ROUNDS] [-d POLICY_DIR] [-c CASE]
 *   -c a|b|c|d|e runs one case only (for valgrind --tool=callgrind).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <time.h>

#include "sovd/admission.h"
#include "sovd/config.h"
#include "sovd/json-util.h"
#include "sovd/policy-store.h"
#include "sovd/policy.h"
#include "sovd/time-util.h"

#ifndef BENCH_POLICY_DIR
#define BENCH_POLICY_DIR "policies"
#endif
#ifndef BENCH_BUILD_TYPE
#define BENCH_BUILD_TYPE "unknown"
#endif

#define TARGET_CHECK_NS 1000.0

static const char bench_config[] =
        "{\"host_tags\": {\"jurisdiction\": \"FR\", \"operator_jurisdiction\": \"FR\", \"region\": \"FR-IDF\","
        "   \"site\": \"par-1\", \"operator\": \"Example Cloud SAS\","
        "   \"certifications\": [{\"name\": \"secnumcloud\", \"version\": \"3.2\", \"valid_until\": \"2027-06-30\"},"
        "                        \"hds\", \"iso27001:2022\"]},"
        " \"storage_pools\": {"
        "   \"fr-ssd\": {\"tags\": {\"jurisdiction\": \"FR\", \"operator_jurisdiction\": \"FR\", \"region\": \"FR-IDF\","
        "     \"site\": \"par-1\", \"operator\": \"Example Cloud SAS\","
        "     \"certifications\": [{\"name\": \"secnumcloud\", \"version\": \"3.2\", \"valid_until\": \"2027-06-30\"},"
        "                          \"hds\", \"iso27001:2022\"]}},"
        "   \"fr-hdd\": {\"tags\": {\"jurisdiction\": \"FR\", \"operator_jurisdiction\": \"FR\", \"region\": \"FR-HDF\","
        "     \"site\": \"rbx-2\", \"operator\": \"Example Cloud SAS\","
        "     \"certifications\": [\"secnumcloud:3.2\", \"iso27001:2022\"]}},"
        "   \"us-pool\": {\"tags\": {\"jurisdiction\": \"US\", \"operator_jurisdiction\": \"US\", \"region\": \"US-VA\","
        "     \"site\": \"ash-1\", \"operator\": \"Example Cloud Inc\", \"certifications\": [\"iso27001:2022\"]}}}}";

struct result {
        const char *name;
        const char *what;
        uint64_t iterations;
        double ns; /* per decision, best round */
};

static volatile uintptr_t sink; /* keeps the work observable */

static double now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e9 + (double) ts.tv_nsec;
}

struct bench_ctx {
        const struct policy *policy;
        const struct config *config;
        struct place compliant, denied, host;
        struct admission_disk disks[3];
        struct decision *decision; /* for (d) */
        time_t now;
};

static int case_check_compliant(struct bench_ctx *b) {
        struct check c;

        policy_check(b->policy, POLICY_KIND_STORAGE, &b->compliant, &b->host, b->now, &c);
        sink += c.allowed;
        return 0;
}

static int case_check_denied(struct bench_ctx *b) {
        struct check c;

        policy_check(b->policy, POLICY_KIND_STORAGE, &b->denied, &b->host, b->now, &c);
        sink += c.n_violations_total;
        return 0;
}

static int case_decide_vm(struct bench_ctx *b) {
        struct decision *d = NULL;
        int r = admission_decide_vm("create", "secnumcloud", b->disks, 3, b->now, &d);

        if (r < 0)
                return r;
        sink += d->allowed;
        decision_free(d);
        return 0;
}

static int case_to_json(struct bench_ctx *b) {
        struct json_object *j = decision_to_json(b->decision);

        if (!j)
                return -ENOMEM;
        sink += (uintptr_t) j;
        json_object_put(j);
        return 0;
}

static int case_to_text(struct bench_ctx *b) {
        struct json_object *j = decision_to_json(b->decision);

        if (!j)
                return -ENOMEM;
        sink += strlen(json_to_string(j));
        json_object_put(j);
        return 0;
}

static int measure(struct bench_ctx *b, int (*fn)(struct bench_ctx *), uint64_t n, unsigned rounds, double *ret_ns) {
        double best = 0;
        int r;

        /* Warm-up: caches, branch predictors, the allocator's free lists. */
        for (uint64_t i = 0; i < n / 10 + 1; i++)
                if ((r = fn(b)) < 0)
                        return r;
        for (unsigned k = 0; k < rounds; k++) {
                double t0 = now_ns();
                for (uint64_t i = 0; i < n; i++)
                        if ((r = fn(b)) < 0)
                                return r;
                double ns = (now_ns() - t0) / (double) n;
                if (k == 0 || ns < best)
                        best = ns;
        }
        *ret_ns = best;
        return 0;
}

static void print_machine(void) {
        struct utsname u;
        char line[256], model[256] = "unknown";
        FILE *f = fopen("/proc/cpuinfo", "re");

        while (f && fgets(line, sizeof(line), f))
                if (strncmp(line, "model name", 10) == 0) {
                        char *colon = strchr(line, ':');
                        if (colon) {
                                snprintf(model, sizeof(model), "%s", colon + 2);
                                model[strcspn(model, "\n")] = '\0';
                        }
                        break;
                }
        if (f)
                fclose(f);
        if (uname(&u) < 0)
                memset(&u, 0, sizeof(u));
        printf("machine: %s, %ld CPUs online, %s %s %s; build type %s\n\n", model, sysconf(_SC_NPROCESSORS_ONLN),
               u.sysname, u.release, u.machine, BENCH_BUILD_TYPE);
}

int main(int argc, char **argv) {
        const char *dir = getenv("SOVD_POLICY_DIR") ? getenv("SOVD_POLICY_DIR") : BENCH_POLICY_DIR;
        uint64_t n = 1000000;
        unsigned rounds = 5;
        char only = 0;
        struct sovd_err err = {};
        struct policy_set *set = NULL;
        struct config *config = NULL;
        int c, r;

        while ((c = getopt(argc, argv, "n:r:d:c:h")) != -1)
                switch (c) {
                case 'n':
                        n = strtoull(optarg, NULL, 10);
                        break;
                case 'r':
                        rounds = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'd':
                        dir = optarg;
                        break;
                case 'c':
                        only = optarg[0];
                        break;
                default:
                        fprintf(stderr, "usage: %s [-n ITERATIONS] [-r ROUNDS] [-d POLICY_DIR] [-c a|b|c|d|e]\n", argv[0]);
                        return c == 'h' ? 0 : 2;
                }
        if (n == 0 || rounds == 0) {
                fprintf(stderr, "bench-policy: -n and -r must be >= 1\n");
                return 2;
        }
        if ((r = policy_set_load(dir, &set, &err)) < 0) {
                fprintf(stderr, "bench-policy: %s\n", err.msg);
                return 1;
        }
        if ((r = config_parse(bench_config, strlen(bench_config), "bench", &config, &err)) < 0) {
                fprintf(stderr, "bench-policy: %s\n", err.msg);
                return 1;
        }
        admission_set(config, set);

        struct bench_ctx b = {
                .policy = policy_set_find(set, "secnumcloud"),
                .config = config,
                .disks = { { .pool = "fr-ssd", .path = "/var/lib/libvirt/images/vm-disk0.qcow2" },
                           { .pool = "fr-ssd", .path = "/var/lib/libvirt/images/vm-disk1.qcow2" },
                           { .pool = "fr-hdd", .path = "/srv/hdd/vm-disk2.qcow2" } },
        };
        (void) rfc3339_parse("2026-11-23T12:00:00Z", &b.now);
        if (!b.policy) {
                fprintf(stderr, "bench-policy: no secnumcloud policy in %s\n", dir);
                return 1;
        }
        b.host = (struct place){ .type = "host", .name = "kvm-par1-07", .tags = &config->host_tags };
        b.compliant = (struct place){ .type = "storage_pool", .name = "fr-ssd",
                                      .tags = &config_storage_pool(config, "fr-ssd")->tags };
        b.denied = (struct place){ .type = "storage_pool", .name = "us-pool",
                                   .tags = &config_storage_pool(config, "us-pool")->tags };

        /* The cases decide what they claim to. */
        struct check chk;
        policy_check(b.policy, POLICY_KIND_STORAGE, &b.compliant, &b.host, b.now, &chk);
        if (!chk.allowed) {
                fprintf(stderr, "bench-policy: the compliant pool is denied: %s\n", chk.violations[0].reason);
                return 1;
        }
        policy_check(b.policy, POLICY_KIND_STORAGE, &b.denied, &b.host, b.now, &chk);
        if (chk.n_violations_total != 3) {
                fprintf(stderr, "bench-policy: the denied pool has %zu violations, not 3\n", chk.n_violations_total);
                return 1;
        }
        if ((r = admission_decide_vm("create", "secnumcloud", b.disks, 3, b.now, &b.decision)) < 0 ||
            !b.decision->allowed || b.decision->n_checks != 3) {
                fprintf(stderr, "bench-policy: the VM decision is not 3 allowed checks: %s\n",
                        b.decision ? b.decision->reason : strerror(-r));
                return 1;
        }

        static const struct {
                char id;
                const char *name, *what;
                int (*fn)(struct bench_ctx *);
                unsigned scale; /* fewer iterations for the slower cases */
        } cases[] = {
                { 'a', "(a) policy_check, compliant pool", "1 rule: 2 allow lists (@fr, @eu), 1 certification", case_check_compliant, 1 },
                { 'b', "(b) policy_check, denied place", "3 violations, reasons formatted", case_check_denied, 1 },
                { 'c', "(c) admission_decide_vm", "host + 3 disks in 2 pools = 3 checks, allocation included", case_decide_vm, 4 },
                { 'd', "(d) decision_to_json of (c)", "JSON tree built and freed", case_to_json, 20 },
                { 'e', "(d') decision_to_json of (c), as text", "built, serialised, freed", case_to_text, 20 },
        };
        struct result res[sizeof(cases) / sizeof(cases[0])];
        size_t nres = 0;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                uint64_t iters = n / cases[i].scale ? n / cases[i].scale : 1;
                if (only && only != cases[i].id)
                        continue;
                fprintf(stderr, "bench-policy: %s, %" PRIu64 " iterations x %u rounds\n", cases[i].name, iters, rounds);
                if ((r = measure(&b, cases[i].fn, iters, rounds, &res[nres].ns)) < 0) {
                        fprintf(stderr, "bench-policy: %s failed: %s\n", cases[i].name, strerror(-r));
                        return 1;
                }
                res[nres].name = cases[i].name;
                res[nres].what = cases[i].what;
                res[nres].iterations = iters;
                nres++;
        }

        print_machine();
        printf("| case | what | iterations | ns/decision | decisions/s |\n");
        printf("| --- | --- | ---: | ---: | ---: |\n");
        for (size_t i = 0; i < nres; i++)
                printf("| %s | %s | %" PRIu64 " | %.0f | %.0f |\n", res[i].name, res[i].what, res[i].iterations,
                       res[i].ns, 1e9 / res[i].ns);
        for (size_t i = 0; i < nres; i++)
                if (res[i].name[1] == 'a')
                        printf("\ntarget (a): >= 1,000,000 decisions/s (< %.0f ns): %s (%.0f ns)\n", TARGET_CHECK_NS,
                               res[i].ns < TARGET_CHECK_NS ? "MET" : "MISSED", res[i].ns);

        decision_free(b.decision);
        admission_clear();
        config_unref(config);
        policy_set_unref(set);
        return 0;
}
