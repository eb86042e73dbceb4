/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-audit: how fast the audit log appends durable records.
 *
 * Appends a realistic decision record (~1.5 KB: caller, VM, source and
 * target places with their tags, policy, the decision with its unmet
 * constraints and refs) with audit_append(), which writes and fdatasync()s
 * each record before returning, from 1 and from 4 threads, and prints a
 * markdown table: records/s, p50/p99 append latency, bytes per record. A
 * baseline row does the bare minimum for the same line (write + fdatasync
 * on one fd, no JSON, no hashing, no lock) to show what the log adds.
 *
 * Run it on the filesystem the state directory lives on: it works in a
 * fresh directory it creates (and removes) under --dir, by default
 * /var/tmp (not /tmp, which may be tmpfs, where fdatasync costs nothing).
 * It asserts nothing.
 *
 *   cmake --build build --target bench-audit
 *   build/bench/bench-audit [--dir DIR] [--records N] [--keep]
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "sovd/audit.h"
#include "sovd/json-util.h"
#include "sovd/log.h"
#include "sovd/time-util.h"

struct series {
        const char *name;
        unsigned threads;
        uint64_t records;
        double seconds;
        uint64_t *lat_usec; /* one per record */
        uint64_t bytes;
        int error;
};

struct worker {
        struct audit_log *log;
        struct json_object *fields;
        uint64_t *lat;
        uint64_t n;
        int error;
        char msg[SOVD_ERR_MSG_MAX];
};

static struct json_object *tags(const char *country, const char *region, const char *site, const char *op,
                                const char *op_country) {
        struct json_object *t = json_object_new_object(), *certs = json_object_new_array();

        json_add_string(t, "jurisdiction", country);
        json_add_string(t, "region", region);
        json_add_string(t, "site", site);
        json_add_string(t, "operator", op);
        json_add_string(t, "operator_jurisdiction", op_country);
        json_object_array_add(certs, json_object_new_string("secnumcloud:3.2"));
        json_object_array_add(certs, json_object_new_string("hds"));
        json_object_array_add(certs, json_object_new_string("iso27001"));
        json_add(t, "certifications", certs);
        return t;
}

static struct json_object *place(const char *kind, const char *name, struct json_object *t) {
        struct json_object *p = json_object_new_object();

        json_add_string(p, "kind", kind);
        json_add_string(p, "name", name);
        json_add(p, "tags", t);
        return p;
}

/* The shape of a migration denial as DESIGN.md lists a decision record's contents. */
static struct json_object *decision_fields(void) {
        struct json_object *f = json_object_new_object(), *caller = json_object_new_object(),
                           *vm = json_object_new_object(), *policy = json_object_new_object(),
                           *d = json_object_new_object(), *constraints = json_object_new_array(),
                           *refs = json_object_new_array();
        static const char *const eu[] = { "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR",
                                          "HU", "IE", "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK",
                                          "SI", "ES", "SE" };

        json_add_string(f, "kind", "decision");
        json_add_string(f, "request_id", "9b1f3c2e-5d4a-4e6f-8a7b-1c2d3e4f5a6b");
        json_add_string(caller, "subject", "CN=orchestrator-par1,O=Example Cloud SAS,C=FR");
        json_add_string(caller, "transport", "tls");
        json_add(f, "caller", caller);
        json_add_string(f, "role", "operator");
        json_add_string(f, "operation", "vm.migrate");
        json_add_string(vm, "uuid", "6f1c2d9e-0b1a-4c3d-9e8f-0123456789ab");
        json_add_string(vm, "name", "tenant-a-db-01");
        json_add(f, "vm", vm);
        json_add_string(f, "tenant", "tenant-a");
        json_add(f, "source", place("host", "kvm-par1-07", tags("FR", "FR-IDF", "par-1", "Example Cloud SAS", "FR")));
        json_add(f, "target", place("host", "kvm-ash1-02", tags("US", "US-VA", "ash-1", "Example Cloud Inc", "US")));
        json_add_string(policy, "name", "secnumcloud-eu");
        json_add_int(policy, "revision", 7);
        json_add_string(policy, "digest", "sha256:4e1c0a9b7d2f3e5a6c8b9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c");
        json_add(f, "policy", policy);
        json_add_string(d, "outcome", "deny");
        json_add_string(d, "mode", "enforce");
        json_add_string(d, "rule", "migration-destination-in-eu");
        {
                struct json_object *c = json_object_new_object(), *allowed = json_object_new_array();

                json_add_string(c, "tag", "jurisdiction");
                json_add_string(c, "found", "US");
                for (size_t i = 0; i < ELEMENTSOF(eu); i++)
                        json_object_array_add(allowed, json_object_new_string(eu[i]));
                json_add(c, "allowed", allowed);
                json_object_array_add(constraints, c);
        }
        {
                struct json_object *c = json_object_new_object(), *allowed = json_object_new_array();

                json_add_string(c, "tag", "operator_jurisdiction");
                json_add_string(c, "found", "US");
                json_object_array_add(allowed, json_object_new_string("@eu"));
                json_add(c, "allowed", allowed);
                json_object_array_add(constraints, c);
        }
        json_add(d, "unmet", constraints);
        json_object_array_add(refs, json_object_new_string(
                                            "SecNumCloud 3.2 §19.2.b: customer data stored and processed in the EU"));
        json_object_array_add(refs, json_object_new_string(
                                            "SecNumCloud 3.2 §19.6: provider not subject to non-EU extraterritorial law"));
        json_add(d, "refs", refs);
        json_add(f, "decision", d);
        return f;
}

static void *worker_run(void *p) {
        struct worker *w = p;

        for (uint64_t i = 0; i < w->n; i++) {
                struct sovd_err e = {};
                uint64_t t0 = now_monotonic_usec();
                int r = audit_append(w->log, w->fields, NULL, &e);

                w->lat[i] = now_monotonic_usec() - t0;
                if (r < 0) {
                        w->error = r;
                        snprintf(w->msg, sizeof(w->msg), "%s", e.msg);
                        break;
                }
        }
        return NULL;
}

static uint64_t dir_bytes(const char *dir) {
        _cleanup_strv_free_ char **paths = NULL;
        uint64_t total = 0;
        size_t n = 0;

        if (audit_chain_list_files(dir, &paths, &n, NULL) < 0)
                return 0;
        for (size_t i = 0; i < n; i++) {
                struct stat st;

                if (stat(paths[i], &st) == 0)
                        total += (uint64_t) st.st_size;
        }
        return total;
}

static int run_log(const char *base, unsigned threads, uint64_t records, struct series *s) {
        _cleanup_(audit_closep) struct audit_log *log = NULL;
        _cleanup_free_ char *state = NULL, *audit_dir = NULL;
        struct worker w[64] = {};
        pthread_t t[64];
        struct sovd_err e = {};
        uint64_t start, per = records / threads;
        int r;

        if (asprintf(&state, "%s/log-%ut", base, threads) < 0 || asprintf(&audit_dir, "%s/audit", state) < 0)
                return -ENOMEM;
        r = audit_open(state, 0, &log, &e);
        if (r < 0) {
                fprintf(stderr, "bench-audit: %s\n", e.msg);
                return r;
        }
        s->threads = threads;
        s->records = per * threads;
        s->lat_usec = calloc(s->records, sizeof(uint64_t));
        if (!s->lat_usec)
                return -ENOMEM;
        for (unsigned i = 0; i < threads; i++) {
                w[i] = (struct worker){ .log = log, .fields = decision_fields(), .lat = s->lat_usec + i * per, .n = per };
        }

        start = now_monotonic_usec();
        for (unsigned i = 0; i < threads; i++)
                if (pthread_create(&t[i], NULL, worker_run, &w[i]) != 0)
                        return -errno;
        for (unsigned i = 0; i < threads; i++) {
                pthread_join(t[i], NULL);
                json_object_put(w[i].fields);
                if (w[i].error && !s->error) {
                        s->error = w[i].error;
                        fprintf(stderr, "bench-audit: append failed: %s\n", w[i].msg);
                }
        }
        s->seconds = (double) (now_monotonic_usec() - start) / 1e6;
        s->bytes = dir_bytes(audit_dir);

        if (!s->error) {
                struct audit_verify_result *res = malloc(sizeof(*res));

                if (res && audit_verify(log, 0, res, &e) >= 0 && (!res->valid || res->records != s->records)) {
                        fprintf(stderr, "bench-audit: the chain does not verify: %s\n", res->bad.reason);
                        s->error = -EBADMSG;
                }
                free(res);
        }
        return 0;
}

/* The floor: the same line written and fdatasync'd on one fd, nothing else. */
static int run_baseline(const char *base, uint64_t records, size_t line_len, struct series *s) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_close_ int fd = -1;
        uint64_t start;

        if (asprintf(&path, "%s/baseline.jsonl", base) < 0)
                return -ENOMEM;
        line = malloc(line_len + 1);
        if (!line)
                return -ENOMEM;
        memset(line, 'x', line_len);
        line[line_len] = '\n';
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        s->threads = 1;
        s->records = records;
        s->lat_usec = calloc(records, sizeof(uint64_t));
        if (!s->lat_usec)
                return -ENOMEM;
        start = now_monotonic_usec();
        for (uint64_t i = 0; i < records; i++) {
                uint64_t t0 = now_monotonic_usec();

                if (write(fd, line, line_len + 1) != (ssize_t) (line_len + 1) || fdatasync(fd) < 0)
                        return -errno;
                s->lat_usec[i] = now_monotonic_usec() - t0;
        }
        s->seconds = (double) (now_monotonic_usec() - start) / 1e6;
        s->bytes = records * (line_len + 1);
        return 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

static double percentile_ms(uint64_t *v, uint64_t n, double p) {
        uint64_t i = (uint64_t) (p * (double) (n - 1) + 0.5);

        return (double) v[i] / 1000.0;
}

static const char *fs_name(const char *path) {
        struct statfs sf;

        if (statfs(path, &sf) < 0)
                return "unknown";
        switch ((unsigned long) sf.f_type) {
        case 0xEF53:
                return "ext4";
        case 0x58465342:
                return "xfs";
        case 0x9123683E:
                return "btrfs";
        case 0x01021994:
                return "tmpfs (fdatasync is free here: not representative)";
        case 0x794c7630:
                return "overlayfs";
        default:
                return "other";
        }
}

static void machine(FILE *f, const char *dir) {
        _cleanup_fclose_ FILE *ci = fopen("/proc/cpuinfo", "re");
        char line[256], model[256] = "unknown";
        struct utsname u;

        while (ci && fgets(line, sizeof(line), ci))
                if (strncmp(line, "model name", 10) == 0) {
                        const char *c = strchr(line, ':');

                        snprintf(model, sizeof(model), "%s", c ? c + 2 : line);
                        model[strcspn(model, "\n")] = '\0';
                        break;
                }
        uname(&u);
        fprintf(f, "Machine: %s, %ld CPUs, Linux %s; directory %s on %s\n\n", model, sysconf(_SC_NPROCESSORS_ONLN),
                u.release, dir, fs_name(dir));
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "dir", required_argument, NULL, 'd' },
                { "records", required_argument, NULL, 'n' },
                { "keep", no_argument, NULL, 'k' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_free_ char *tmpl = NULL;
        const char *base = "/var/tmp", *dir;
        uint64_t records = 5000;
        bool keep = false;
        struct series s[3] = {
                { .name = "write + fdatasync only (floor)" },
                { .name = "audit_append, 1 thread" },
                { .name = "audit_append, 4 threads" },
        };
        size_t line_len;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'd':
                        base = optarg;
                        break;
                case 'n':
                        records = strtoull(optarg, NULL, 10);
                        if (records < 4) {
                                fprintf(stderr, "bench-audit: --records must be at least 4\n");
                                return 2;
                        }
                        break;
                case 'k':
                        keep = true;
                        break;
                case 'h':
                        printf("Usage: bench-audit [--dir DIR (/var/tmp)] [--records N (5000)] [--keep]\n");
                        return 0;
                default:
                        return 2;
                }
        }
        /* Always a directory of our own: it is removed afterwards. */
        if (asprintf(&tmpl, "%s/sovd-bench-audit-XXXXXX", base) < 0)
                return 1;
        dir = mkdtemp(tmpl);
        if (!dir) {
                fprintf(stderr, "bench-audit: mkdtemp(%s): %m\n", tmpl);
                return 1;
        }
        /* The journald copy would be a line on stderr per record here: leave it out. */
        log_set_max_level(LOG_WARNING);

        {
                struct json_object *f = decision_fields();

                /* seq, id, time, sovd_version and prev add about 200 bytes to the caller's members. */
                line_len = strlen(json_to_string(f)) + 200;
                json_object_put(f);
        }

        fprintf(stderr, "bench-audit: %" PRIu64 " records per series in %s\n", records, dir);
        r = run_baseline(dir, records, line_len, &s[0]);
        if (r >= 0)
                r = run_log(dir, 1, records, &s[1]);
        if (r >= 0)
                r = run_log(dir, 4, records, &s[2]);
        if (r < 0) {
                fprintf(stderr, "bench-audit: %s\n", strerror(-r));
                return 1;
        }

        printf("## Audit log appends (durable: write + fdatasync per record)\n\n");
        machine(stdout, dir);
        printf("| series | threads | records | records/s | p50 ms | p99 ms | bytes/record |\n");
        printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (size_t i = 0; i < ELEMENTSOF(s); i++) {
                qsort(s[i].lat_usec, s[i].records, sizeof(uint64_t), cmp_u64);
                printf("| %s%s | %u | %" PRIu64 " | %.0f | %.3f | %.3f | %.0f |\n", s[i].name,
                       s[i].error ? " (ERRORS)" : "", s[i].threads, s[i].records,
                       (double) s[i].records / s[i].seconds, percentile_ms(s[i].lat_usec, s[i].records, 0.50),
                       percentile_ms(s[i].lat_usec, s[i].records, 0.99), (double) s[i].bytes / (double) s[i].records);
                free(s[i].lat_usec);
        }
        printf("\njournald copy not measured (log level warning: no journald here); the 4-thread series shares\n"
               "fdatasync calls (group commit), so its records/s is not bounded by one sync per record.\n");

        if (!keep)
                (void) nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
        else
                fprintf(stderr, "bench-audit: kept %s\n", dir);
        return 0;
}
