/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-api: measures sovd against the performance targets of its issue and
 * prints one markdown table. It is a benchmark, not a test: it asserts
 * nothing and exits 0 whatever it measures (non-zero only when it cannot
 * measure at all, e.g. sovd does not start).
 *
 * What it does, in order:
 *   1. writes a libvirt test-driver node with N domains (sovd bindings in
 *      <metadata>, one disk and one NIC each, half running, half shut off);
 *   2. starts sovd (fork/exec, NOTIFY_SOCKET = our datagram socket) on
 *      test:///default and on the node, times fork -> READY=1, reads RSS
 *      after an idle period;
 *   3. on the N-domain instance: latency of GET /healthz and /v1/host with
 *      one keep-alive libcurl handle; then GET /v1/vms interleaved with the
 *      equivalent direct libvirt calls made in-process on the same node
 *      (what sovd does for GET /v1/vms, minus HTTP and JSON); then
 *      throughput with concurrent clients, each with its own handle; then
 *      RSS again;
 *   4. stops sovd with SIGTERM and removes its temporary directory.
 *
 * With --tls it measures the mutual-TLS listener instead, and prints its own
 * table: it makes a throwaway CA, server and client certificate with
 * certtool (ECDSA P-256) in the temporary directory, starts sovd on the
 * N-domain node with a configuration file that lists the Unix socket and
 * tcp:127.0.0.1:PORT and maps the client certificate's CN to reader, then
 * measures GET /v1/host with one keep-alive handle per transport, TLS and
 * Unix interleaved, and the cost of a fresh connection (new handle, TCP
 * connect + full handshake + one GET) next to a fresh Unix connection.
 * Progress goes to stderr, the table to stdout.
 */
#include <curl/curl.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>

#include "sovd/cleanup.h"

#define BINDING_NS "urn:sovd:binding:1" /* SOVD_BINDING_NS; the bench links no sovd library */
#define READY_TIMEOUT_MS 120000
#define STOP_TIMEOUT_MS 10000
#define MAX_CLIENTS 256
#define MAX_COUNT 10000000u
#define NSEC_PER_USEC 1000ull
#define NSEC_PER_MSEC 1000000ull
#define NSEC_PER_SEC 1000000000ull

/* Targets of the issue; informational: a MISS is reported, not failed. */
#define TARGET_IDLE_RSS_KIB (8u * 1024u)
#define TARGET_HOST_P50_NS (100 * NSEC_PER_USEC)
#define TARGET_VMS_P50_NS (5 * NSEC_PER_MSEC)

struct bench_options {
        const char *sovd;          /* sovd binary */
        unsigned domains;          /* domains in the generated node */
        unsigned host_requests;    /* latency samples, GET /v1/host and /healthz */
        unsigned vms_requests;     /* latency samples, GET /v1/vms; also the direct libvirt iterations */
        unsigned clients;          /* concurrent clients for the throughput runs */
        unsigned tput_host;        /* requests in the GET /v1/host throughput run */
        unsigned tput_vms;         /* requests in the GET /v1/vms throughput run */
        unsigned start_runs;       /* sovd starts per configuration for the time to READY */
        unsigned idle_ms;          /* idle time after READY=1 before RSS is read */
        bool keep;                 /* leave the temporary directory behind */
        bool tls;                  /* measure the mutual-TLS listener instead (its own table) */
        unsigned fresh_requests;   /* --tls: fresh-connection samples per series */
};

struct latency {
        uint64_t p50, p99, max; /* ns */
        unsigned n, errors;
        long connects; /* new connections libcurl opened while measuring: 0 means keep-alive held */
        size_t body_bytes;
};

struct memory {
        unsigned long vm_rss, rss_anon, rss_file, rss_shmem, vm_hwm; /* KiB, from /proc/PID/status */
        unsigned long pss; /* KiB, from /proc/PID/smaps_rollup: shared pages split among their users */
};

struct startup {
        uint64_t min, median, max; /* ns, fork+exec -> READY=1 */
        unsigned runs;
};

struct throughput {
        double per_second;
        unsigned requests, errors, clients;
        uint64_t elapsed; /* ns */
};

/* --tls: GET /v1/host over mutual TLS and over the Unix socket, in the same sovd. */
struct tls_results {
        char session[160];          /* GnuTLS's description of the keep-alive session */
        unsigned port;
        uint64_t pki_time;          /* ns, certtool: 3 keys and 3 certificates */
        struct latency unix_host, tls_host;      /* keep-alive */
        struct latency fresh_unix, fresh_tls, fresh_tls_capath; /* new handle per request */
        struct latency handshake, handshake_capath; /* of the fresh TLS ones: TCP connect + TLS handshake */
        long fresh_connects;        /* connections opened by the fresh series: one per request expected */
        unsigned fresh_total;
};

struct results {
        char cpu_model[128], kernel[128], libvirt_version[32];
        long nproc;
        unsigned long mem_total_kib;
        size_t node_xml_bytes;
        uint64_t direct_open;
        struct latency direct_info, direct_meta;
        struct startup start_default, start_node;
        struct memory idle_default, idle_node, after_load;
        struct latency healthz, host, vms;
        unsigned vms_count;
        struct throughput tput_host, tput_vms;
        struct tls_results tls;
};

struct sovd_proc {
        pid_t pid;
        uint64_t ready_after; /* ns from fork to READY=1 */
};

/* Paths inside the temporary directory, and the notification socket we listen on. */
struct bench_env {
        char dir[PATH_MAX];
        char node_xml[PATH_MAX + 32];
        char node_uri[PATH_MAX + 64];
        char sock[PATH_MAX + 32];
        char listen[PATH_MAX + 40]; /* "unix:" + sock, for --listen */
        char notify[PATH_MAX + 32];
        char notify_env[PATH_MAX + 48]; /* "NOTIFY_SOCKET=" + notify */
        char state[PATH_MAX + 32];
        char log[PATH_MAX + 32];
        char config[PATH_MAX + 32];  /* --tls: sovd's configuration file; empty: none, --listen instead */
        char tcp_listen[32];         /* --tls: "tcp:127.0.0.1:PORT" */
        char https_base[40];         /* --tls: "https://127.0.0.1:PORT" */
        int notify_fd;
};

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * NSEC_PER_SEC + (uint64_t) ts.tv_nsec;
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of @n sorted samples; @per_mille 500 = p50, 990 = p99. */
static uint64_t percentile(const uint64_t *sorted, size_t n, unsigned per_mille) {
        size_t rank;

        if (n == 0)
                return 0;
        rank = (n * per_mille + 999) / 1000;
        if (rank == 0)
                rank = 1;
        return sorted[rank - 1];
}

static void latency_from_samples(uint64_t *samples, unsigned n, struct latency *l) {
        qsort(samples, n, sizeof(*samples), compare_u64);
        l->n = n;
        l->p50 = percentile(samples, n, 500);
        l->p99 = percentile(samples, n, 990);
        l->max = n ? samples[n - 1] : 0;
}

/* "87.3 µs", "4.21 ms", "1.34 s" into @buf. */
static const char *format_duration(uint64_t ns, char *buf, size_t size) {
        if (ns < NSEC_PER_MSEC)
                snprintf(buf, size, "%.1f µs", (double) ns / NSEC_PER_USEC);
        else if (ns < NSEC_PER_SEC)
                snprintf(buf, size, "%.2f ms", (double) ns / NSEC_PER_MSEC);
        else
                snprintf(buf, size, "%.2f s", (double) ns / NSEC_PER_SEC);
        return buf;
}

static const char *format_mib(unsigned long kib, char *buf, size_t size) {
        snprintf(buf, size, "%.1f MiB", (double) kib / 1024.0);
        return buf;
}

/* ---------------------------------------------------------------- machine */

static void read_machine(struct results *res) {
        _cleanup_fclose_ FILE *f = NULL;
        char line[512];
        struct utsname u;
        unsigned long v = 0;

        res->nproc = sysconf(_SC_NPROCESSORS_ONLN);
        snprintf(res->cpu_model, sizeof(res->cpu_model), "unknown");
        f = fopen("/proc/cpuinfo", "re");
        while (f && fgets(line, sizeof(line), f))
                if (strncmp(line, "model name", 10) == 0) {
                        const char *p = strchr(line, ':');
                        if (p) {
                                p += strspn(p + 1, " \t") + 1;
                                snprintf(res->cpu_model, sizeof(res->cpu_model), "%.*s", (int) strcspn(p, "\n"),
                                         p);
                        }
                        break;
                }
        if (f)
                fclose(TAKE_PTR(f));
        f = fopen("/proc/meminfo", "re");
        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "MemTotal: %lu kB", &res->mem_total_kib) == 1)
                        break;
        if (uname(&u) == 0)
                snprintf(res->kernel, sizeof(res->kernel), "%s %s", u.sysname, u.release);
        if (virGetVersion(&v, NULL, NULL) == 0)
                snprintf(res->libvirt_version, sizeof(res->libvirt_version), "%lu.%lu.%lu", v / 1000000,
                         (v / 1000) % 1000, v % 1000);
}

static int read_memory(pid_t pid, struct memory *ret) {
        struct memory m = {};
        const struct {
                const char *key;
                unsigned long *value;
        } fields[] = {
                { "VmRSS:", &m.vm_rss },         { "RssAnon:", &m.rss_anon }, { "RssFile:", &m.rss_file },
                { "RssShmem:", &m.rss_shmem },   { "VmHWM:", &m.vm_hwm },
        };
        _cleanup_fclose_ FILE *f = NULL;
        char path[64], line[256];

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                        size_t k = strlen(fields[i].key);
                        if (strncmp(line, fields[i].key, k) == 0)
                                *fields[i].value = strtoul(line + k, NULL, 10);
                }
        fclose(TAKE_PTR(f));
        snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int) pid);
        f = fopen(path, "re");
        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "Pss: %lu kB", &m.pss) == 1)
                        break;
        *ret = m;
        return 0;
}

/* ------------------------------------------------------------- node XML */

/*
 * One domain as sovd would have created it: the binding of
 * agent/core/binding.c binding_to_xml() in <metadata>, a qcow2 disk in the
 * bench pool and a NIC on the default network. Odd domains are shut off
 * (test driver: <test:runstate>5</test:runstate>), even ones run.
 */
static void write_domain(FILE *f, unsigned i) {
        static const char *const envs[] = { "prod", "staging", "dev" };
        static const char *const apps[] = { "web", "db", "cache", "batch", "api" };

        fprintf(f,
                "  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
                "    <name>bench-%05u</name>\n"
                "    <uuid>b3c1e000-0000-4000-8000-%012x</uuid>\n"
                "    <memory unit='KiB'>%u</memory>\n"
                "    <vcpu>%u</vcpu>\n"
                "    <os><type>hvm</type></os>\n"
                "    <metadata>\n"
                "      <sovd:binding xmlns:sovd='" BINDING_NS "'>"
                "<sovd:tenant>tenant-%02u</sovd:tenant>"
                "<sovd:policy>fr-sovereign</sovd:policy>"
                "<sovd:request-id>%08x-5eed-4000-8000-%012x</sovd:request-id>"
                "<sovd:created-at>2026-11-%02uT%02u:%02u:%02uZ</sovd:created-at>"
                "<sovd:labels>"
                "<sovd:label key=\"env\">%s</sovd:label>"
                "<sovd:label key=\"app\">%s</sovd:label>"
                "<sovd:label key=\"team\">team-%u</sovd:label>"
                "</sovd:labels>"
                "<sovd:volumes><sovd:volume pool=\"bench-pool\" name=\"bench-%05u-disk0.qcow2\"/></sovd:volumes>"
                "</sovd:binding>\n"
                "    </metadata>\n"
                "    <devices>\n"
                "      <disk type='file' device='disk'>\n"
                "        <driver name='qemu' type='qcow2'/>\n"
                "        <source file='/var/lib/sovd-bench/bench-pool/bench-%05u-disk0.qcow2'/>\n"
                "        <target dev='vda' bus='virtio'/>\n"
                "      </disk>\n"
                "      <interface type='network'>\n"
                "        <mac address='52:54:00:%02x:%02x:%02x'/>\n"
                "        <source network='default'/>\n"
                "        <model type='virtio'/>\n"
                "      </interface>\n"
                "    </devices>\n"
                "%s"
                "  </domain>\n",
                i, i, (1u << (i % 4)) * 512u * 1024u, 1u << (i % 3), i % 20, i, i, 1 + i % 28, i % 24, i % 60,
                (i * 7) % 60, envs[i % ELEMENTSOF(envs)], apps[i % ELEMENTSOF(apps)], i % 10, i, i,
                (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff,
                i % 2 ? "    <test:runstate>5</test:runstate>\n" : "");
}

static int write_node_xml(const char *path, unsigned n_domains, size_t *ret_bytes) {
        _cleanup_fclose_ FILE *f = fopen(path, "we");
        long size;

        if (!f)
                return -errno;
        fputs("<!-- Generated by bench-api: a libvirt test-driver host. -->\n"
              "<node>\n"
              "  <cpu>\n"
              "    <nodes>1</nodes><sockets>1</sockets><cores>16</cores><threads>2</threads>\n"
              "    <active>32</active><mhz>2400</mhz><model>x86_64</model>\n"
              "  </cpu>\n"
              "  <memory>1073741824</memory>\n",
              f);
        for (unsigned i = 0; i < n_domains; i++)
                write_domain(f, i);
        fputs("  <network>\n"
              "    <name>default</name>\n"
              "    <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>\n"
              "    <bridge name='virbr0'/>\n"
              "    <forward/>\n"
              "    <ip address='192.0.2.1' netmask='255.255.255.0'/>\n"
              "  </network>\n"
              "  <pool type='dir'>\n"
              "    <name>bench-pool</name>\n"
              "    <uuid>35bb2ad9-388a-cdfe-461a-b8907f6e53fe</uuid>\n"
              "    <capacity>1125899906842624</capacity>\n"
              "    <allocation>0</allocation>\n"
              "    <available>1125899906842624</available>\n"
              "    <target><path>/var/lib/sovd-bench/bench-pool</path></target>\n",
              f);
        for (unsigned i = 0; i < n_domains; i++)
                fprintf(f,
                        "    <volume type='file'><name>bench-%05u-disk0.qcow2</name>"
                        "<capacity unit='GiB'>%u</capacity><target><format type='qcow2'/></target></volume>\n",
                        i, 10u + i % 4 * 10u);
        fputs("  </pool>\n</node>\n", f);
        if (fflush(f) != 0 || ferror(f))
                return -EIO;
        size = ftell(f);
        *ret_bytes = size > 0 ? (size_t) size : 0;
        return 0;
}

/* -------------------------------------------------------- direct libvirt */

static void silence_libvirt(void *userdata, virErrorPtr error) {
}

/*
 * One pass of the libvirt work behind GET /v1/vms, in-process and without
 * HTTP or JSON: list all domains, virDomainGetInfo() on each, and with
 * @metadata also the UUID, the name and the sovd binding, as
 * agent/virt/virt-vm.c domain_summary() does. Returns the time taken.
 */
static uint64_t direct_listing(virConnectPtr conn, bool metadata, unsigned *errors) {
        virDomainPtr *doms = NULL;
        uint64_t t0 = now_ns();
        int n = virConnectListAllDomains(conn, &doms, 0);

        if (n < 0) {
                (*errors)++;
                return now_ns() - t0;
        }
        for (int i = 0; i < n; i++) {
                virDomainInfo info;
                char uuid[VIR_UUID_STRING_BUFLEN];

                if (virDomainGetInfo(doms[i], &info) < 0)
                        (*errors)++;
                if (metadata) {
                        char *xml;

                        if (virDomainGetUUIDString(doms[i], uuid) < 0 || !virDomainGetName(doms[i]))
                                (*errors)++;
                        xml = virDomainGetMetadata(doms[i], VIR_DOMAIN_METADATA_ELEMENT, BINDING_NS, 0);
                        if (!xml)
                                (*errors)++;
                        free(xml);
                }
                virDomainFree(doms[i]);
        }
        free(doms);
        return now_ns() - t0;
}

/* ------------------------------------------------------------------ sovd */

static int notify_socket_open(struct bench_env *env) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(env->notify) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, env->notify);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        env->notify_fd = fd;
        return 0;
}

static bool has_line(const char *msg, const char *line) {
        size_t n = strlen(line);

        for (const char *p = msg; p; p = strchr(p, '\n')) {
                if (*p == '\n')
                        p++;
                if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
                        return true;
        }
        return false;
}

static int sovd_stop(struct sovd_proc *p) {
        int status = 0;
        uint64_t deadline = now_ns() + STOP_TIMEOUT_MS * NSEC_PER_MSEC;

        if (p->pid <= 0)
                return 0;
        (void) kill(p->pid, SIGTERM);
        for (;;) {
                pid_t w = waitpid(p->pid, &status, WNOHANG);
                if (w == p->pid || (w < 0 && errno != EINTR))
                        break;
                if (now_ns() > deadline) {
                        fprintf(stderr, "bench-api: sovd (pid %d) ignored SIGTERM for %d ms; killing it\n",
                                (int) p->pid, STOP_TIMEOUT_MS);
                        (void) kill(p->pid, SIGKILL);
                        (void) waitpid(p->pid, &status, 0);
                        break;
                }
                sleep_ms(5);
        }
        p->pid = 0;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

/*
 * The child's environment: ours without the service-manager variables that
 * do not apply, plus NOTIFY_SOCKET. Built before fork(): after it, in a
 * process that has run threads, only async-signal-safe calls are allowed.
 */
static char **child_environment(const struct bench_env *env) {
        extern char **environ;
        static const char *const drop[] = { "NOTIFY_SOCKET=", "JOURNAL_STREAM=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
                                            "LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=" };
        size_t n = 0, k = 0;
        char **l;

        while (environ[n])
                n++;
        l = calloc(n + 2, sizeof(char *));
        if (!l)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                bool keep = true;
                for (size_t j = 0; j < ELEMENTSOF(drop); j++)
                        if (strncmp(environ[i], drop[j], strlen(drop[j])) == 0)
                                keep = false;
                if (keep)
                        l[k++] = environ[i];
        }
        l[k++] = (char *) env->notify_env; /* JOURNAL_STREAM is gone: plain log lines into the log file */
        return l;
}

/*
 * Starts sovd on @uri and waits for READY=1 on our notification socket.
 * With env->config set, sovd reads that file and takes its listeners from
 * it (no --listen, which would replace the file's whole list).
 */
static int sovd_start(const struct bench_env *env, const char *binary, const char *uri, struct sovd_proc *ret) {
        _cleanup_free_ char **envp = child_environment(env);
        char *argv[10];
        char buf[4096];
        uint64_t t0, deadline;
        size_t k = 0;
        pid_t pid;

        if (!envp)
                return -ENOMEM;
        argv[k++] = (char *) binary;
        argv[k++] = (char *) "--libvirt-uri";
        argv[k++] = (char *) uri;
        if (env->config[0]) {
                argv[k++] = (char *) "--config";
                argv[k++] = (char *) env->config;
        } else {
                argv[k++] = (char *) "--listen";
                argv[k++] = (char *) env->listen;
        }
        argv[k++] = (char *) "--state-dir";
        argv[k++] = (char *) env->state;
        argv[k] = NULL;
        /* Drop what an earlier instance may have left in the socket (STOPPING=1 and the like). */
        while (recv(env->notify_fd, buf, sizeof(buf), 0) >= 0)
                ;
        t0 = now_ns();
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int fd = open(env->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

                /* Never outlive the bench, even when it is killed. */
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (fd >= 0) {
                        (void) dup2(fd, STDOUT_FILENO);
                        (void) dup2(fd, STDERR_FILENO);
                }
                execve(binary, argv, envp);
                _exit(127);
        }

        deadline = t0 + READY_TIMEOUT_MS * NSEC_PER_MSEC;
        for (;;) {
                struct pollfd pfd = { .fd = env->notify_fd, .events = POLLIN };
                int status;
                ssize_t n;

                if (waitpid(pid, &status, WNOHANG) == pid) {
                        fprintf(stderr, "bench-api: sovd exited before READY=1 (see %s)\n", env->log);
                        return -ECHILD;
                }
                if (now_ns() > deadline) {
                        struct sovd_proc p = { .pid = pid };
                        (void) sovd_stop(&p);
                        fprintf(stderr, "bench-api: no READY=1 from sovd within %d ms (see %s)\n",
                                READY_TIMEOUT_MS, env->log);
                        return -ETIMEDOUT;
                }
                if (poll(&pfd, 1, 50) <= 0)
                        continue;
                n = recv(env->notify_fd, buf, sizeof(buf) - 1, 0);
                if (n < 0)
                        continue;
                buf[n] = '\0';
                if (has_line(buf, "READY=1")) {
                        ret->ready_after = now_ns() - t0;
                        ret->pid = pid;
                        return 0;
                }
        }
}

static int measure_startup(const struct bench_env *env, const struct bench_options *o, const char *uri,
                           struct startup *ret_startup, struct sovd_proc *ret_running) {
        _cleanup_free_ uint64_t *t = calloc(o->start_runs, sizeof(*t));
        int r;

        if (!t)
                return -ENOMEM;
        for (unsigned i = 0; i < o->start_runs; i++) {
                struct sovd_proc p = {};

                r = sovd_start(env, o->sovd, uri, &p);
                if (r < 0)
                        return r;
                t[i] = p.ready_after;
                if (i + 1 == o->start_runs) {
                        *ret_running = p; /* the last one stays up for the caller */
                        break;
                }
                (void) sovd_stop(&p);
        }
        qsort(t, o->start_runs, sizeof(*t), compare_u64);
        ret_startup->runs = o->start_runs;
        ret_startup->min = t[0];
        ret_startup->median = t[o->start_runs / 2];
        ret_startup->max = t[o->start_runs - 1];
        return 0;
}

/* ------------------------------------------------------------------ HTTP */

struct http_client {
        CURL *curl;
        const char *base; /* URL prefix; NULL: http://localhost (the Unix socket) */
        char *body; /* last response body, NUL-terminated */
        size_t len, cap;
};

static size_t http_on_data(char *data, size_t size, size_t nmemb, void *userdata) {
        struct http_client *h = userdata;
        size_t n = size * nmemb;

        if (h->len + n + 1 > h->cap) {
                size_t cap = h->cap ? h->cap : 16384;
                char *b;

                while (cap < h->len + n + 1)
                        cap *= 2;
                b = realloc(h->body, cap);
                if (!b)
                        return 0; /* libcurl turns this into CURLE_WRITE_ERROR */
                h->body = b;
                h->cap = cap;
        }
        memcpy(h->body + h->len, data, n);
        h->len += n;
        h->body[h->len] = '\0';
        return n;
}

static void http_client_done(struct http_client *h) {
        if (h->curl)
                curl_easy_cleanup(h->curl);
        free(h->body);
        *h = (struct http_client){};
}

static int http_client_init(struct http_client *h, const char *socket_path) {
        *h = (struct http_client){};
        h->curl = curl_easy_init();
        if (!h->curl)
                return -ENOMEM;
        if (curl_easy_setopt(h->curl, CURLOPT_UNIX_SOCKET_PATH, socket_path) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, http_on_data) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_TIMEOUT, 60L) != CURLE_OK) {
                http_client_done(h);
                return -EINVAL;
        }
        return 0;
}

static int http_set_url(struct http_client *h, const char *path) {
        char url[256];

        snprintf(url, sizeof(url), "%s%s", h->base ? h->base : "http://localhost", path);
        return curl_easy_setopt(h->curl, CURLOPT_URL, url) == CURLE_OK ? 0 : -EINVAL;
}

/* One GET on the URL set before; returns the HTTP status, or a negative errno. */
static int http_get(struct http_client *h) {
        long status = 0;

        h->len = 0;
        if (curl_easy_perform(h->curl) != CURLE_OK)
                return -EIO;
        if (curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
                return -EIO;
        return (int) status;
}

#define LATENCY_PATHS_MAX 4
#define LATENCY_BLOCK 100

/*
 * Latency of GET on each of the @k handles @h (URL set), in
 * alternating blocks of LATENCY_BLOCK so that background load on the
 * machine hits every handle alike. Each handle is reused: keep-alive.
 */
static int measure_latency_handles(struct http_client *h, size_t k, unsigned warmup, unsigned n,
                                   struct latency *ret) {
        uint64_t *samples[LATENCY_PATHS_MAX] = {};
        struct latency l[LATENCY_PATHS_MAX] = {};
        int r = 0;

        if (k > LATENCY_PATHS_MAX)
                return -EINVAL;
        for (size_t p = 0; p < k && r >= 0; p++) {
                samples[p] = calloc(n, sizeof(uint64_t));
                if (!samples[p])
                        r = -ENOMEM;
                /* Warm-up: connection, sovd's libvirt and allocator caches, our buffer. */
                for (unsigned i = 0; r >= 0 && i < warmup; i++)
                        if (http_get(&h[p]) != 200)
                                l[p].errors++;
        }
        for (unsigned start = 0; r >= 0 && start < n; start += LATENCY_BLOCK) {
                unsigned end = start + LATENCY_BLOCK < n ? start + LATENCY_BLOCK : n;

                for (size_t p = 0; p < k; p++)
                        for (unsigned i = start; i < end; i++) {
                                uint64_t t0 = now_ns();
                                long connects = 0;

                                if (http_get(&h[p]) != 200)
                                        l[p].errors++;
                                samples[p][i] = now_ns() - t0;
                                if (curl_easy_getinfo(h[p].curl, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK)
                                        l[p].connects += connects;
                        }
        }
        for (size_t p = 0; p < k; p++) {
                if (r >= 0) {
                        l[p].body_bytes = h[p].len;
                        latency_from_samples(samples[p], n, &l[p]);
                        ret[p] = l[p];
                }
                free(samples[p]);
        }
        return r;
}

/* The same over the Unix socket, one handle for each of @paths (NULL-terminated). */
static int measure_latency(const struct bench_env *env, const char *const *paths, unsigned warmup, unsigned n,
                           struct latency *ret) {
        struct http_client h[LATENCY_PATHS_MAX] = {};
        size_t k = 0;
        int r = 0;

        while (k < LATENCY_PATHS_MAX && paths[k])
                k++;
        for (size_t p = 0; p < k && r >= 0; p++) {
                r = http_client_init(&h[p], env->sock);
                if (r >= 0)
                        r = http_set_url(&h[p], paths[p]);
        }
        if (r >= 0)
                r = measure_latency_handles(h, k, warmup, n, ret);
        for (size_t p = 0; p < k; p++)
                http_client_done(&h[p]);
        return r;
}

/*
 * One throughput run. The clients connect first and then wait for `go`, so
 * that the clock measures requests, not connection set-up.
 */
struct tput_run {
        const struct bench_env *env;
        const char *path;
        unsigned total;
        pthread_mutex_t lock; /* guards ready and go */
        pthread_cond_t cond;
        unsigned ready;
        bool go;
        atomic_uint next;     /* requests handed out so far */
        atomic_uint errors;
        atomic_int setup_error;
};

static void *tput_client(void *arg) {
        struct tput_run *t = arg;
        struct http_client h = {};
        bool ok;

        ok = http_client_init(&h, t->env->sock) >= 0 && http_set_url(&h, "/healthz") >= 0 && http_get(&h) == 200 &&
             http_set_url(&h, t->path) >= 0;
        if (!ok)
                atomic_store(&t->setup_error, -EIO);
        pthread_mutex_lock(&t->lock);
        t->ready++;
        pthread_cond_broadcast(&t->cond);
        while (!t->go)
                pthread_cond_wait(&t->cond, &t->lock);
        pthread_mutex_unlock(&t->lock);
        /* Bounded: each iteration takes one of the @total requests. */
        while (ok && atomic_fetch_add(&t->next, 1) < t->total)
                if (http_get(&h) != 200)
                        atomic_fetch_add(&t->errors, 1);
        http_client_done(&h);
        return NULL;
}

static int measure_throughput(const struct bench_env *env, const char *path, unsigned clients, unsigned total,
                              struct throughput *ret) {
        pthread_t threads[MAX_CLIENTS];
        struct tput_run t = { .env = env, .path = path, .total = total };
        unsigned started = 0;
        uint64_t t0;
        int r = 0;

        if (clients == 0 || clients > MAX_CLIENTS)
                return -EINVAL;
        pthread_mutex_init(&t.lock, NULL);
        pthread_cond_init(&t.cond, NULL);
        atomic_init(&t.next, 0);
        atomic_init(&t.errors, 0);
        atomic_init(&t.setup_error, 0);
        for (; started < clients; started++) {
                r = -pthread_create(&threads[started], NULL, tput_client, &t);
                if (r < 0)
                        break;
        }
        pthread_mutex_lock(&t.lock);
        while (t.ready < started)
                pthread_cond_wait(&t.cond, &t.lock);
        if (r < 0)
                atomic_store(&t.next, total); /* a client is missing: let the others do nothing */
        t.go = true;
        pthread_cond_broadcast(&t.cond);
        pthread_mutex_unlock(&t.lock);
        t0 = now_ns();
        for (unsigned i = 0; i < started; i++)
                pthread_join(threads[i], NULL);
        ret->elapsed = now_ns() - t0;
        pthread_cond_destroy(&t.cond);
        pthread_mutex_destroy(&t.lock);
        if (r < 0)
                return r;
        if (atomic_load(&t.setup_error) < 0)
                return atomic_load(&t.setup_error);
        ret->clients = clients;
        ret->requests = total;
        ret->errors = atomic_load(&t.errors);
        ret->per_second = (double) total / ((double) ret->elapsed / NSEC_PER_SEC);
        return 0;
}

/* Counts the items of {"vms": [...]} and checks that they carry their bindings. */
static int check_vm_list(const char *body, unsigned *ret_count) {
        struct json_object *o = json_tokener_parse(body), *vms = NULL;
        size_t n;
        int r = 0;

        if (!o || !json_object_object_get_ex(o, "vms", &vms) || !json_object_is_type(vms, json_type_array)) {
                json_object_put(o);
                return -EBADMSG;
        }
        n = json_object_array_length(vms);
        for (size_t i = 0; i < n; i++) {
                struct json_object *managed;
                if (!json_object_object_get_ex(json_object_array_get_idx(vms, i), "managed", &managed) ||
                    !json_object_get_boolean(managed))
                        r = -EBADMSG;
        }
        json_object_put(o);
        *ret_count = (unsigned) n;
        return r;
}

#define SIDE_BY_SIDE_BLOCK 10

/*
 * GET /v1/vms and the two direct libvirt variants, interleaved in blocks of
 * SIDE_BY_SIDE_BLOCK so that background load on the machine hits all three
 * alike. One warm-up block first, not recorded.
 */
static int measure_vms_side_by_side(const struct bench_env *env, virConnectPtr conn, unsigned n,
                                    struct results *res) {
        _cleanup_free_ uint64_t *http = calloc(n, sizeof(uint64_t));
        _cleanup_free_ uint64_t *info = calloc(n, sizeof(uint64_t));
        _cleanup_free_ uint64_t *meta = calloc(n, sizeof(uint64_t));
        struct latency lh = {}, li = {}, lm = {};
        struct http_client h;
        int r;

        if (!http || !info || !meta)
                return -ENOMEM;
        r = http_client_init(&h, env->sock);
        if (r < 0)
                return r;
        r = http_set_url(&h, "/v1/vms");
        if (r < 0)
                goto out;
        for (unsigned i = 0; i < SIDE_BY_SIDE_BLOCK; i++) {
                unsigned ignored = 0;
                if (http_get(&h) != 200)
                        lh.errors++;
                (void) direct_listing(conn, false, &ignored);
                (void) direct_listing(conn, true, &ignored);
        }
        for (unsigned start = 0; start < n; start += SIDE_BY_SIDE_BLOCK) {
                unsigned end = start + SIDE_BY_SIDE_BLOCK < n ? start + SIDE_BY_SIDE_BLOCK : n;

                for (unsigned i = start; i < end; i++) {
                        uint64_t t0 = now_ns();
                        long connects = 0;

                        if (http_get(&h) != 200)
                                lh.errors++;
                        http[i] = now_ns() - t0;
                        if (curl_easy_getinfo(h.curl, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK)
                                lh.connects += connects;
                }
                for (unsigned i = start; i < end; i++)
                        info[i] = direct_listing(conn, false, &li.errors);
                for (unsigned i = start; i < end; i++)
                        meta[i] = direct_listing(conn, true, &lm.errors);
        }
        lh.body_bytes = h.len;
        if (!h.body || check_vm_list(h.body, &res->vms_count) < 0)
                fprintf(stderr, "bench-api: GET /v1/vms returned an unexpected list\n");
        latency_from_samples(http, n, &lh);
        latency_from_samples(info, n, &li);
        latency_from_samples(meta, n, &lm);
        res->vms = lh;
        res->direct_info = li;
        res->direct_meta = lm;
out:
        http_client_done(&h);
        return r;
}

/* ------------------------------------------------------------------- TLS */

#define TLS_CLIENT_CN "bench-reader" /* mapped to reader in tls.roles */
#define FRESH_WARMUP 10
#define FRESH_BLOCK 10

/*
 * The embedded default configuration's demo host_tags: the --tls run has a
 * configuration file, and with these GET /v1/host answers the same body as
 * in the main table (which runs sovd without a file).
 */
static const char demo_host_tags[] =
        "{\"jurisdiction\": \"FR\", \"region\": \"FR-IDF\", \"site\": \"demo-1\","
        " \"operator\": \"Demo Cloud SAS\", \"operator_jurisdiction\": \"FR\","
        " \"certifications\": [\"secnumcloud:3.2\", \"hds\", \"iso27001\"]}";

/* "<dir>/<name>.<ext>": the PKI's files (ca, server, client; key, pem, tmpl). */
static void pki_path(const struct bench_env *env, const char *name, const char *ext, char *buf, size_t size) {
        snprintf(buf, size, "%s/%s.%s", env->dir, name, ext);
}

static int write_text(const char *path, const char *text) {
        _cleanup_fclose_ FILE *f = fopen(path, "we");

        if (!f)
                return -errno;
        fputs(text, f);
        return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

/* Runs certtool with @args (NULL-terminated), output appended to <dir>/certtool.log. */
static int run_certtool(const struct bench_env *env, const char *const *args) {
        extern char **environ;
        posix_spawn_file_actions_t fa;
        char log[PATH_MAX + 32];
        const char *argv[16];
        size_t k = 0;
        int r, status;
        pid_t pid;

        argv[k++] = "certtool";
        for (size_t i = 0; args[i] && k < ELEMENTSOF(argv) - 1; i++)
                argv[k++] = args[i];
        argv[k] = NULL;
        snprintf(log, sizeof(log), "%s/certtool.log", env->dir);
        r = posix_spawn_file_actions_init(&fa);
        if (r != 0)
                return -r;
        r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (r == 0)
                r = posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
        if (r == 0)
                r = posix_spawnp(&pid, "certtool", &fa, NULL, (char *const *) argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0) {
                fprintf(stderr, "bench-api: cannot run certtool (GnuTLS's, package gnutls-bin): %s\n", strerror(r));
                return -r;
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "bench-api: certtool %s failed (see %s)\n", args[0], log);
                return -EIO;
        }
        return 0;
}

/*
 * A throwaway PKI, as tests/integration/pki.py makes it: a CA, a server
 * certificate for localhost and 127.0.0.1, and a client certificate whose CN
 * the configuration maps to reader. ECDSA P-256 keys, valid for two days.
 */
static int make_pki(const struct bench_env *env) {
        static const struct {
                const char *name, *issuer, *tmpl;
        } certs[] = {
                { "ca", NULL, "cn = \"sovd bench CA\"\nca\ncert_signing_key\nexpiration_days = 2\n" },
                { "server", "ca",
                  "cn = \"localhost\"\ndns_name = \"localhost\"\nip_address = \"127.0.0.1\"\n"
                  "tls_www_server\nsigning_key\nexpiration_days = 2\n" },
                { "client", "ca", "cn = \"" TLS_CLIENT_CN "\"\ntls_www_client\nsigning_key\nexpiration_days = 2\n" },
        };
        char ca_pem[PATH_MAX + 32], ca_key[PATH_MAX + 32];
        int r;

        pki_path(env, "ca", "pem", ca_pem, sizeof(ca_pem));
        pki_path(env, "ca", "key", ca_key, sizeof(ca_key));
        for (size_t i = 0; i < ELEMENTSOF(certs); i++) {
                char key[PATH_MAX + 32], pem[PATH_MAX + 32], tmpl[PATH_MAX + 32];

                pki_path(env, certs[i].name, "key", key, sizeof(key));
                pki_path(env, certs[i].name, "pem", pem, sizeof(pem));
                pki_path(env, certs[i].name, "tmpl", tmpl, sizeof(tmpl));
                r = write_text(tmpl, certs[i].tmpl);
                if (r < 0)
                        return r;
                r = run_certtool(env, (const char *const[]){ "--generate-privkey", "--key-type", "ecdsa", "--curve",
                                                              "secp256r1", "--outfile", key, NULL });
                if (r < 0)
                        return r;
                if (chmod(key, 0600) < 0)
                        return -errno;
                if (!certs[i].issuer)
                        r = run_certtool(env, (const char *const[]){ "--generate-self-signed", "--load-privkey", key,
                                                                      "--template", tmpl, "--outfile", pem, NULL });
                else
                        r = run_certtool(env, (const char *const[]){ "--generate-certificate", "--load-privkey", key,
                                                                      "--load-ca-certificate", ca_pem,
                                                                      "--load-ca-privkey", ca_key, "--template", tmpl,
                                                                      "--outfile", pem, NULL });
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A port of 127.0.0.1 that was free a moment ago (sovd may still lose it to someone else: retried). */
static int free_port(unsigned *ret) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                return -errno;
        *ret = ntohs(sa.sin_port);
        return 0;
}

/*
 * sovd's configuration for the TLS run: both listeners (the Unix socket and
 * tcp:127.0.0.1:@port), the tls section, the demo host_tags. sovd_start()
 * passes no --listen with a configuration file, so this list is the one.
 */
static int write_tls_config(struct bench_env *env, const char *uri, unsigned port) {
        struct json_object *conf = json_object_new_object(), *listen = json_object_new_array(),
                           *tls = json_object_new_object(), *roles = json_object_new_object(),
                           *tags = json_tokener_parse(demo_host_tags);
        char path[PATH_MAX + 32];
        int r = 0;

        if (!conf || !listen || !tls || !roles || !tags) {
                json_object_put(conf);
                json_object_put(listen);
                json_object_put(tls);
                json_object_put(roles);
                json_object_put(tags);
                return -ENOMEM;
        }
        snprintf(env->tcp_listen, sizeof(env->tcp_listen), "tcp:127.0.0.1:%u", port);
        snprintf(env->https_base, sizeof(env->https_base), "https://127.0.0.1:%u", port);
        json_object_array_add(listen, json_object_new_string(env->listen));
        json_object_array_add(listen, json_object_new_string(env->tcp_listen));
        pki_path(env, "server", "pem", path, sizeof(path));
        json_object_object_add(tls, "cert", json_object_new_string(path));
        pki_path(env, "server", "key", path, sizeof(path));
        json_object_object_add(tls, "key", json_object_new_string(path));
        pki_path(env, "ca", "pem", path, sizeof(path));
        json_object_object_add(tls, "ca", json_object_new_string(path));
        json_object_object_add(roles, TLS_CLIENT_CN, json_object_new_string("reader"));
        json_object_object_add(tls, "roles", roles);
        json_object_object_add(conf, "libvirt_uri", json_object_new_string(uri));
        json_object_object_add(conf, "state_dir", json_object_new_string(env->state));
        json_object_object_add(conf, "listen", listen);
        json_object_object_add(conf, "host_tags", tags);
        json_object_object_add(conf, "tls", tls);
        if (json_object_to_file_ext(env->config, conf, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) < 0)
                r = -EIO;
        json_object_put(conf);
        return r;
}

/*
 * A handle for https://127.0.0.1:PORT with the client certificate, verifying
 * the server against the bench CA, as sovctl --cert --key --cacert does.
 * @ca_file_only: clear libcurl's built-in CA path as well, so that a new
 * connection loads only the bench CA (sovctl does not clear it).
 */
static int http_client_init_tls(struct http_client *h, const struct bench_env *env, bool ca_file_only) {
        char cert[PATH_MAX + 32], key[PATH_MAX + 32], ca[PATH_MAX + 32];

        *h = (struct http_client){ .base = env->https_base };
        h->curl = curl_easy_init();
        if (!h->curl)
                return -ENOMEM;
        pki_path(env, "client", "pem", cert, sizeof(cert));
        pki_path(env, "client", "key", key, sizeof(key));
        pki_path(env, "ca", "pem", ca, sizeof(ca));
        if (curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, http_on_data) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_TIMEOUT, 60L) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_SSLCERT, cert) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_SSLKEY, key) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_CAINFO, ca) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
            (ca_file_only && curl_easy_setopt(h->curl, CURLOPT_CAPATH, NULL) != CURLE_OK)) {
                http_client_done(h);
                return -EINVAL;
        }
        return 0;
}

/*
 * What was negotiated on @curl's connection, as GnuTLS describes it:
 * "(TLS1.3)-(ECDHE-SECP256R1)-(ECDSA-SECP256R1-SHA256)-(AES-256-GCM)". The
 * bench does not link GnuTLS: libcurl's GnuTLS backend has loaded it, so the
 * function is looked up at run time. Leaves @buf alone when that fails
 * (another TLS backend): libcurl's own line stays.
 */
static void tls_session_desc(CURL *curl, char *buf, size_t size) {
        struct curl_tlssessioninfo *info = NULL;
        char *(*get_desc)(void *session);
        char *desc;

        if (curl_easy_getinfo(curl, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || !info ||
            info->backend != CURLSSLBACKEND_GNUTLS || !info->internals)
                return;
        get_desc = (char *(*)(void *)) dlsym(RTLD_DEFAULT, "gnutls_session_get_desc");
        if (!get_desc)
                return;
        desc = get_desc(info->internals);
        if (desc)
                snprintf(buf, size, "%s", desc);
        free(desc); /* gnutls_free, which is free() unless an application changed GnuTLS's allocator */
}

/*
 * libcurl's verbose text, during the TLS handle's first transfer: at the
 * line where its GnuTLS backend names the session ("TLS1.3 / ECDHE_RSA_...",
 * a TLS 1.2-style suite name even for TLS 1.3), asks GnuTLS itself for the
 * exact description while the connection is attached to the handle
 * (CURLINFO_TLS_SSL_PTR answers nothing once the transfer is over).
 */
static int on_curl_debug(CURL *curl, curl_infotype type, char *data, size_t size, void *userdata) {
        static const char prefix[] = "SSL connection using ";
        char *out = userdata;
        size_t n;

        if (type != CURLINFO_TEXT || size <= strlen(prefix) || strncmp(data, prefix, strlen(prefix)) != 0)
                return 0;
        data += strlen(prefix);
        size -= strlen(prefix);
        n = strcspn(data, "\r\n");
        if (n > size)
                n = size;
        snprintf(out, sizeof(((struct tls_results *) NULL)->session), "%.*s", (int) n, data);
        tls_session_desc(curl, out, sizeof(((struct tls_results *) NULL)->session));
        return 0;
}

/*
 * GET /v1/host with one keep-alive handle over the Unix socket and one over
 * TLS, interleaved. The TLS handle's first request (the handshake) is made
 * verbose, to read which protocol and cipher were negotiated.
 */
static int measure_tls_keepalive(const struct bench_env *env, unsigned n, struct tls_results *t) {
        struct http_client h[2] = {};
        struct latency l[2] = {};
        long connects = 0;
        int r;

        r = http_client_init(&h[0], env->sock);
        if (r >= 0)
                r = http_set_url(&h[0], "/v1/host");
        if (r >= 0)
                r = http_client_init_tls(&h[1], env, true);
        if (r >= 0)
                r = http_set_url(&h[1], "/v1/host");
        if (r < 0)
                goto out;
        snprintf(t->session, sizeof(t->session), "unknown");
        (void) curl_easy_setopt(h[1].curl, CURLOPT_DEBUGFUNCTION, on_curl_debug);
        (void) curl_easy_setopt(h[1].curl, CURLOPT_DEBUGDATA, (void *) t->session);
        (void) curl_easy_setopt(h[1].curl, CURLOPT_VERBOSE, 1L);
        r = http_get(&h[1]);
        (void) curl_easy_setopt(h[1].curl, CURLOPT_VERBOSE, 0L);
        if (r != 200) {
                if (r < 0)
                        fprintf(stderr, "bench-api: GET %s/v1/host with the client certificate failed\n",
                                env->https_base);
                else
                        fprintf(stderr, "bench-api: GET %s/v1/host with the client certificate: HTTP %d %s\n",
                                env->https_base, r, h[1].body ? h[1].body : "");
                r = -EIO;
                goto out;
        }
        if (curl_easy_getinfo(h[1].curl, CURLINFO_NUM_CONNECTS, &connects) != CURLE_OK || connects != 1)
                fprintf(stderr, "bench-api: the first TLS request opened %ld connections\n", connects);
        r = measure_latency_handles(h, 2, n / 10 + 10, n, l);
        if (r >= 0) {
                t->unix_host = l[0];
                t->tls_host = l[1];
        }
out:
        http_client_done(&h[0]);
        http_client_done(&h[1]);
        return r;
}

enum fresh_kind { FRESH_UNIX, FRESH_TLS, FRESH_TLS_CAPATH, FRESH_KINDS };

/*
 * One GET /v1/host on a new handle, timed from the handle's creation to the
 * end of the answer: connect (and, over TCP, client credentials and the full
 * TLS handshake: a new handle has no session to resume) plus one request.
 * The handle is freed (connection closed) after the clock stops.
 */
static int fresh_get(const struct bench_env *env, enum fresh_kind kind, uint64_t *ret_total,
                     uint64_t *ret_handshake, long *ret_connects) {
        struct http_client h = {};
        curl_off_t app = 0;
        long connects = 0;
        uint64_t t0 = now_ns();
        int r;

        r = kind == FRESH_UNIX ? http_client_init(&h, env->sock)
                               : http_client_init_tls(&h, env, kind == FRESH_TLS);
        if (r >= 0)
                r = http_set_url(&h, "/v1/host");
        if (r >= 0 && http_get(&h) != 200)
                r = -EIO;
        *ret_total = now_ns() - t0;
        if (h.curl && curl_easy_getinfo(h.curl, CURLINFO_APPCONNECT_TIME_T, &app) == CURLE_OK && app > 0)
                *ret_handshake = (uint64_t) app * NSEC_PER_USEC;
        else
                *ret_handshake = 0;
        if (h.curl && curl_easy_getinfo(h.curl, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK)
                *ret_connects += connects;
        http_client_done(&h);
        return r;
}

/* @n fresh connections of each kind, interleaved in blocks of FRESH_BLOCK, after FRESH_WARMUP of each. */
static int measure_fresh(const struct bench_env *env, unsigned n, struct tls_results *t) {
        uint64_t *total[FRESH_KINDS] = {}, *hs[FRESH_KINDS] = {};
        struct latency l[FRESH_KINDS] = {}, lh[FRESH_KINDS] = {};
        long ignored = 0;
        int r = 0;

        for (unsigned k = 0; k < FRESH_KINDS && r >= 0; k++) {
                uint64_t a, b;

                total[k] = calloc(n, sizeof(uint64_t));
                hs[k] = calloc(n, sizeof(uint64_t));
                if (!total[k] || !hs[k])
                        r = -ENOMEM;
                for (unsigned i = 0; r >= 0 && i < FRESH_WARMUP; i++)
                        if (fresh_get(env, (enum fresh_kind) k, &a, &b, &ignored) < 0)
                                l[k].errors++;
        }
        for (unsigned start = 0; r >= 0 && start < n; start += FRESH_BLOCK) {
                unsigned end = start + FRESH_BLOCK < n ? start + FRESH_BLOCK : n;

                for (unsigned k = 0; k < FRESH_KINDS; k++)
                        for (unsigned i = start; i < end; i++) {
                                if (fresh_get(env, (enum fresh_kind) k, &total[k][i], &hs[k][i], &l[k].connects) < 0)
                                        l[k].errors++;
                                t->fresh_total++;
                        }
        }
        for (unsigned k = 0; k < FRESH_KINDS; k++) {
                if (r >= 0) {
                        latency_from_samples(total[k], n, &l[k]);
                        latency_from_samples(hs[k], n, &lh[k]);
                        t->fresh_connects += l[k].connects;
                }
                free(total[k]);
                free(hs[k]);
        }
        if (r >= 0) {
                t->fresh_unix = l[FRESH_UNIX];
                t->fresh_tls = l[FRESH_TLS];
                t->fresh_tls_capath = l[FRESH_TLS_CAPATH];
                t->handshake = lh[FRESH_TLS];
                t->handshake_capath = lh[FRESH_TLS_CAPATH];
        }
        return r;
}

/* --------------------------------------------------------------- report */

static const char *verdict(bool pass) {
        return pass ? "PASS" : "MISS";
}

static void print_latency_row(const char *what, const struct latency *l, const char *target, const char *v) {
        char a[32], b[32], c[32];

        printf("| %s | p50 %s, p99 %s, max %s (n=%u%s) | %s | %s |\n", what, format_duration(l->p50, a, sizeof(a)),
               format_duration(l->p99, b, sizeof(b)), format_duration(l->max, c, sizeof(c)), l->n,
               l->errors ? ", ERRORS" : "", target, v);
}

static void print_memory_row(const char *what, const struct memory *m, bool judged) {
        char a[32], b[32], c[32], d[32], e[32];

        printf("| %s | VmRSS %s (RssAnon %s, RssFile %s, RssShmem %s; Pss %s) | %s | %s |\n", what,
               format_mib(m->vm_rss, a, sizeof(a)), format_mib(m->rss_anon, b, sizeof(b)),
               format_mib(m->rss_file, c, sizeof(c)), format_mib(m->rss_shmem, d, sizeof(d)),
               format_mib(m->pss, e, sizeof(e)),
               judged ? "VmRSS < 8 MiB" : "—",
               judged ? (m->vm_rss < TARGET_IDLE_RSS_KIB ? "PASS"
                         : m->rss_anon < TARGET_IDLE_RSS_KIB ? "MISS (RssAnon alone would pass)"
                                                            : "MISS")
                      : "—");
}

static void print_report(const struct bench_options *o, const struct results *r) {
        char a[32], b[32], c[32], target[96];
        double ratio_meta = r->direct_meta.p50 ? (double) r->vms.p50 / (double) r->direct_meta.p50 : 0;
        double ratio_info = r->direct_info.p50 ? (double) r->vms.p50 / (double) r->direct_info.p50 : 0;

        printf("\n## sovd API benchmark\n\n");
        printf("| Measurement | Result | Target | Verdict |\n");
        printf("| --- | --- | --- | --- |\n");
        printf("| Machine | %ld CPUs, %s, %.1f GiB RAM, %s | — | — |\n", r->nproc, r->cpu_model,
               (double) r->mem_total_kib / (1024.0 * 1024.0), r->kernel);
        printf("| Software | sovd build %s, libvirt %s, libcurl %s | — | — |\n",
               BENCH_BUILD_TYPE[0] ? BENCH_BUILD_TYPE : "(default)", r->libvirt_version,
               curl_version_info(CURLVERSION_NOW)->version);
        printf("| Data | N = %u test-driver domains (%u running, %u shut off), node XML %.1f KiB | — | — |\n",
               o->domains, (o->domains + 1) / 2, o->domains / 2, (double) r->node_xml_bytes / 1024.0);
        printf("| Time to READY=1, test:///default | median %s (min %s, max %s; %u starts) | — | — |\n",
               format_duration(r->start_default.median, a, sizeof(a)),
               format_duration(r->start_default.min, b, sizeof(b)),
               format_duration(r->start_default.max, c, sizeof(c)), r->start_default.runs);
        printf("| Time to READY=1, N domains | median %s (min %s, max %s; %u starts) | — | — |\n",
               format_duration(r->start_node.median, a, sizeof(a)), format_duration(r->start_node.min, b, sizeof(b)),
               format_duration(r->start_node.max, c, sizeof(c)), r->start_node.runs);
        printf("| For comparison: virConnectOpen on the node, in-process | %s | — | — |\n",
               format_duration(r->direct_open, a, sizeof(a)));
        print_memory_row("Idle RSS, test:///default", &r->idle_default, true);
        print_memory_row("Idle RSS, N domains (test driver state is in sovd's process)", &r->idle_node, true);
        print_memory_row("RSS after the workload below, N domains", &r->after_load, false);
        printf("| Peak RSS (VmHWM) after the workload | %s | — | — |\n",
               format_mib(r->after_load.vm_hwm, a, sizeof(a)));
        print_latency_row("GET /healthz (HTTP floor, for reference)", &r->healthz, "—", "—");
        print_latency_row("GET /v1/host", &r->host, "p50 < 100 µs",
                          verdict(r->host.p50 < TARGET_HOST_P50_NS && !r->host.errors));
        snprintf(target, sizeof(target), "p50 < 5 ms%s", o->domains == 1000 ? "" : " (target is for 1000 VMs)");
        print_latency_row("GET /v1/vms, N VMs", &r->vms, target,
                          verdict(r->vms.p50 < TARGET_VMS_P50_NS && !r->vms.errors));
        printf("| GET /v1/vms response | %u VMs, %zu bytes | — | %s |\n", r->vms_count, r->vms.body_bytes,
               r->vms_count == o->domains ? "complete" : "WRONG COUNT");
        print_latency_row("Direct libvirt: list + virDomainGetInfo", &r->direct_info, "—", "—");
        print_latency_row("Direct libvirt: list + GetInfo + UUID + name + GetMetadata (what sovd must do)",
                          &r->direct_meta, "—", "—");
        printf("| GET /v1/vms vs direct libvirt (p50) | %.2f× list+info+metadata, %.2f× list+info | no slower than "
               "direct listing | %s |\n",
               ratio_meta, ratio_info, verdict(r->vms.p50 <= r->direct_meta.p50));
        printf("| Throughput GET /v1/host, %u clients | %.0f req/s (%u requests in %s%s) | — | — |\n",
               r->tput_host.clients, r->tput_host.per_second, r->tput_host.requests,
               format_duration(r->tput_host.elapsed, a, sizeof(a)), r->tput_host.errors ? ", ERRORS" : "");
        printf("| Throughput GET /v1/vms, %u clients | %.1f req/s (%u requests in %s%s) | — | — |\n",
               r->tput_vms.clients, r->tput_vms.per_second, r->tput_vms.requests,
               format_duration(r->tput_vms.elapsed, a, sizeof(a)), r->tput_vms.errors ? ", ERRORS" : "");
        printf("| Keep-alive check | %ld new connections during %u latency requests | — | — |\n",
               r->healthz.connects + r->host.connects + r->vms.connects, r->healthz.n + r->host.n + r->vms.n);
        printf("\nTargets are informational; a MISS does not fail this program.\n");
}

/* "+12.3 µs" or "-4.0 µs". */
static const char *format_delta(uint64_t a, uint64_t b, char *buf, size_t size) {
        char d[32];

        snprintf(buf, size, "%s%s", a >= b ? "+" : "-", format_duration(a >= b ? a - b : b - a, d, sizeof(d)));
        return buf;
}

#define HANDSHAKE_ROW "of which until the handshake completed: connect, client credentials, handshake " \
                      "(CURLINFO_APPCONNECT_TIME)"

static void print_tls_report(const struct bench_options *o, const struct results *r) {
        const struct tls_results *t = &r->tls;
        const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
        bool reuse = t->unix_host.connects == 0 && t->tls_host.connects == 0 && t->fresh_connects == t->fresh_total;
        char a[32], b[32], what[256];

        printf("\n## sovd API over mutual TLS\n\n");
        printf("| Measurement | Result | Target | Verdict |\n");
        printf("| --- | --- | --- | --- |\n");
        printf("| Machine | %ld CPUs, %s, %.1f GiB RAM, %s | — | — |\n", r->nproc, r->cpu_model,
               (double) r->mem_total_kib / (1024.0 * 1024.0), r->kernel);
        printf("| Software | sovd build %s, libvirt %s, libcurl %s (%s); client and sovd on the same machine "
               "| — | — |\n",
               BENCH_BUILD_TYPE[0] ? BENCH_BUILD_TYPE : "(default)", r->libvirt_version, cv->version,
               cv->ssl_version ? cv->ssl_version : "no TLS backend");
        printf("| Data | N = %u test-driver domains, node XML %.1f KiB | — | — |\n", o->domains,
               (double) r->node_xml_bytes / 1024.0);
        printf("| Certificates (certtool, %s) | ECDSA P-256: CA, server CN localhost (IP SAN 127.0.0.1), client CN "
               TLS_CLIENT_CN " mapped to reader | — | — |\n",
               format_duration(t->pki_time, a, sizeof(a)));
        printf("| Listeners (configuration file) | unix:…/sovd.sock and tcp:127.0.0.1:%u | — | — |\n", t->port);
        printf("| TLS session (keep-alive handle) | %s | — | — |\n", t->session);
        printf("| GET /v1/host response | %zu bytes over TLS, %zu over the Unix socket | — | — |\n",
               t->tls_host.body_bytes, t->unix_host.body_bytes);
        print_latency_row("GET /v1/host, Unix socket, keep-alive", &t->unix_host, "—", "—");
        print_latency_row("GET /v1/host, mutual TLS, keep-alive", &t->tls_host, "none: report p50/p99", "—");
        printf("| TLS keep-alive minus Unix socket | p50 %s (%.2f×), p99 %s | — | — |\n",
               format_delta(t->tls_host.p50, t->unix_host.p50, a, sizeof(a)),
               t->unix_host.p50 ? (double) t->tls_host.p50 / (double) t->unix_host.p50 : 0,
               format_delta(t->tls_host.p99, t->unix_host.p99, b, sizeof(b)));
        print_latency_row("Fresh Unix socket connection: new handle + GET /v1/host", &t->fresh_unix, "—", "—");
        print_latency_row("Fresh TLS connection: new handle, TCP connect + full handshake + GET /v1/host (bench CA "
                          "only: CURLOPT_CAPATH cleared)",
                          &t->fresh_tls, "—", "—");
        print_latency_row(HANDSHAKE_ROW, &t->handshake, "—", "—");
        printf("| Fresh TLS connection minus keep-alive TLS request | p50 %s | — | — |\n",
               format_delta(t->fresh_tls.p50, t->tls_host.p50, a, sizeof(a)));
        snprintf(what, sizeof(what),
                 "Fresh TLS connection as sovctl --cacert makes it (libcurl also loads its CA path %s)",
                 cv->capath ? cv->capath : "(none built in)");
        print_latency_row(what, &t->fresh_tls_capath, "—", "—");
        print_latency_row(HANDSHAKE_ROW, &t->handshake_capath, "—", "—");
        printf("| Keep-alive check | %ld new connections during %u keep-alive requests (%u TLS, %u Unix); "
               "fresh series: %ld connections for %u requests | — | %s |\n",
               t->tls_host.connects + t->unix_host.connects, t->tls_host.n + t->unix_host.n, t->tls_host.n,
               t->unix_host.n, t->fresh_connects, t->fresh_total, reuse ? "as expected" : "UNEXPECTED");
        printf("\nThere is no TLS latency target; these figures are reported, not judged.\n");
}

/* ----------------------------------------------------------------- main */

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        (void) (type == FTW_DP ? rmdir(path) : unlink(path));
        return 0;
}

static void help(void) {
        printf("Usage: bench-api [OPTIONS]\n\n"
               "Benchmarks sovd's API over its Unix socket against direct libvirt calls; prints a markdown table.\n\n"
               "  --sovd PATH               sovd binary (default %s)\n"
               "  --domains N               test-driver domains (default 1000)\n"
               "  --host-requests N         latency samples for GET /healthz and /v1/host (default 2000)\n"
               "  --vms-requests N          samples for GET /v1/vms and each direct libvirt variant (default 200)\n"
               "  --clients N               concurrent clients for throughput (default 16)\n"
               "  --throughput-host N       requests in the GET /v1/host throughput run (default 20000)\n"
               "  --throughput-vms N        requests in the GET /v1/vms throughput run (default 320)\n"
               "  --start-runs N            sovd starts per configuration (default 5)\n"
               "  --idle-ms MS              idle time after READY=1 before reading RSS (default 2000)\n"
               "  --keep                    keep the temporary directory\n"
               "  --tls                     measure GET /v1/host over the mutual-TLS listener next to the Unix\n"
               "                            socket, and fresh TLS connections, instead (needs certtool)\n"
               "  --fresh-requests N        --tls: fresh-connection samples per series (default 200)\n"
               "  -h --help                 show this help\n",
               BENCH_SOVD_BINARY);
}

static int parse_unsigned(const char *s, unsigned min, unsigned *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || end == s || *end || v < min || v > MAX_COUNT)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

static int parse_args(int argc, char **argv, struct bench_options *o) {
        enum { ARG_SOVD = 0x100, ARG_DOMAINS, ARG_HOST, ARG_VMS, ARG_CLIENTS, ARG_TPUT_HOST, ARG_TPUT_VMS,
               ARG_STARTS, ARG_IDLE, ARG_KEEP, ARG_TLS, ARG_FRESH };
        static const struct option longopts[] = {
                { "sovd", required_argument, NULL, ARG_SOVD },
                { "domains", required_argument, NULL, ARG_DOMAINS },
                { "host-requests", required_argument, NULL, ARG_HOST },
                { "vms-requests", required_argument, NULL, ARG_VMS },
                { "clients", required_argument, NULL, ARG_CLIENTS },
                { "throughput-host", required_argument, NULL, ARG_TPUT_HOST },
                { "throughput-vms", required_argument, NULL, ARG_TPUT_VMS },
                { "start-runs", required_argument, NULL, ARG_STARTS },
                { "idle-ms", required_argument, NULL, ARG_IDLE },
                { "keep", no_argument, NULL, ARG_KEEP },
                { "tls", no_argument, NULL, ARG_TLS },
                { "fresh-requests", required_argument, NULL, ARG_FRESH },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c, r = 0;

        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
                switch (c) {
                case ARG_SOVD:
                        o->sovd = optarg;
                        break;
                case ARG_DOMAINS:
                        r = parse_unsigned(optarg, 0, &o->domains);
                        break;
                case ARG_HOST:
                        r = parse_unsigned(optarg, 1, &o->host_requests);
                        break;
                case ARG_VMS:
                        r = parse_unsigned(optarg, 1, &o->vms_requests);
                        break;
                case ARG_CLIENTS:
                        r = parse_unsigned(optarg, 1, &o->clients);
                        if (r >= 0 && o->clients > MAX_CLIENTS)
                                r = -EINVAL;
                        break;
                case ARG_TPUT_HOST:
                        r = parse_unsigned(optarg, 1, &o->tput_host);
                        break;
                case ARG_TPUT_VMS:
                        r = parse_unsigned(optarg, 1, &o->tput_vms);
                        break;
                case ARG_STARTS:
                        r = parse_unsigned(optarg, 1, &o->start_runs);
                        break;
                case ARG_IDLE:
                        r = parse_unsigned(optarg, 0, &o->idle_ms);
                        break;
                case ARG_KEEP:
                        o->keep = true;
                        break;
                case ARG_TLS:
                        o->tls = true;
                        break;
                case ARG_FRESH:
                        r = parse_unsigned(optarg, 1, &o->fresh_requests);
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
                if (r < 0) {
                        fprintf(stderr, "bench-api: invalid value '%s' for --%s\n", optarg,
                                longopts[c - ARG_SOVD].name);
                        return r;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "bench-api: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

static int env_setup(struct bench_env *env) {
        const char *tmp = getenv("TMPDIR");
        int r;

        *env = (struct bench_env){ .notify_fd = -1 };
        snprintf(env->dir, sizeof(env->dir), "%s/sovd-bench-XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp");
        if (!mkdtemp(env->dir))
                return -errno;
        snprintf(env->node_xml, sizeof(env->node_xml), "%s/node.xml", env->dir);
        snprintf(env->node_uri, sizeof(env->node_uri), "test://%s", env->node_xml);
        snprintf(env->sock, sizeof(env->sock), "%s/sovd.sock", env->dir);
        snprintf(env->listen, sizeof(env->listen), "unix:%s", env->sock);
        snprintf(env->notify, sizeof(env->notify), "%s/notify.sock", env->dir);
        snprintf(env->notify_env, sizeof(env->notify_env), "NOTIFY_SOCKET=%s", env->notify);
        snprintf(env->state, sizeof(env->state), "%s/state", env->dir);
        snprintf(env->log, sizeof(env->log), "%s/sovd.log", env->dir);
        r = notify_socket_open(env);
        if (r < 0)
                return r;
        return 0;
}

static void env_cleanup(struct bench_env *env, bool keep) {
        if (env->notify_fd >= 0)
                close(env->notify_fd);
        env->notify_fd = -1;
        if (keep) {
                fprintf(stderr, "bench-api: kept %s\n", env->dir);
                return;
        }
        (void) nftw(env->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The measurements, in the order of the header comment; sovd is stopped on every path. */
static int run_benchmarks(struct bench_env *env, const struct bench_options *o, struct results *res) {
        struct sovd_proc p = {};
        virConnectPtr conn = NULL;
        uint64_t t0;
        int r;

        fprintf(stderr, "bench-api: %u starts of sovd on test:///default\n", o->start_runs);
        r = measure_startup(env, o, "test:///default", &res->start_default, &p);
        if (r < 0)
                return r;
        sleep_ms(o->idle_ms);
        r = read_memory(p.pid, &res->idle_default);
        (void) sovd_stop(&p);
        if (r < 0)
                return r;

        fprintf(stderr, "bench-api: %u starts of sovd on %u domains\n", o->start_runs, o->domains);
        r = measure_startup(env, o, env->node_uri, &res->start_node, &p);
        if (r < 0)
                return r;
        sleep_ms(o->idle_ms);
        r = read_memory(p.pid, &res->idle_node);
        if (r < 0)
                goto out;

        fprintf(stderr, "bench-api: latency, %u x GET /healthz and /v1/host, interleaved\n", o->host_requests);
        {
                static const char *const paths[] = { "/healthz", "/v1/host", NULL };
                struct latency l[2] = {};

                r = measure_latency(env, paths, o->host_requests / 10 + 10, o->host_requests, l);
                if (r < 0)
                        goto out;
                res->healthz = l[0];
                res->host = l[1];
        }

        /* The bench's own in-process test driver on the same node; sovd idles meanwhile except when asked. */
        t0 = now_ns();
        conn = virConnectOpen(env->node_uri);
        res->direct_open = now_ns() - t0;
        if (!conn) {
                fprintf(stderr, "bench-api: cannot open %s: %s\n", env->node_uri, virGetLastErrorMessage());
                r = -EIO;
                goto out;
        }
        fprintf(stderr, "bench-api: %u x GET /v1/vms, interleaved with as many direct libvirt listings\n",
                o->vms_requests);
        r = measure_vms_side_by_side(env, conn, o->vms_requests, res);
        virConnectClose(conn);
        if (r < 0)
                goto out;

        fprintf(stderr, "bench-api: throughput, %u clients, %u x GET /v1/host, %u x GET /v1/vms\n", o->clients,
                o->tput_host, o->tput_vms);
        r = measure_throughput(env, "/v1/host", o->clients, o->tput_host, &res->tput_host);
        if (r >= 0)
                r = measure_throughput(env, "/v1/vms", o->clients, o->tput_vms, &res->tput_vms);
        if (r < 0)
                goto out;
        r = read_memory(p.pid, &res->after_load);
out:
        if (sovd_stop(&p) < 0)
                fprintf(stderr, "bench-api: sovd did not exit cleanly (see %s)\n", env->log);
        return r;
}

/* --tls: the TLS listener next to the Unix socket, in one sovd on the node; sovd is stopped on every path. */
static int run_tls_benchmarks(struct bench_env *env, const struct bench_options *o, struct results *res) {
        struct sovd_proc p = {};
        uint64_t t0;
        int r;

        fprintf(stderr, "bench-api: a CA, a server and a client certificate with certtool\n");
        t0 = now_ns();
        r = make_pki(env);
        if (r < 0)
                return r;
        res->tls.pki_time = now_ns() - t0;
        snprintf(env->config, sizeof(env->config), "%s/sovd.conf", env->dir);
        for (unsigned attempt = 1;; attempt++) {
                r = free_port(&res->tls.port);
                if (r >= 0)
                        r = write_tls_config(env, env->node_uri, res->tls.port);
                if (r < 0)
                        return r;
                fprintf(stderr, "bench-api: sovd on %u domains, listening on %s and %s\n", o->domains, env->listen,
                        env->tcp_listen);
                r = sovd_start(env, o->sovd, env->node_uri, &p);
                /* The port may have been taken between free_port() and sovd's bind(): another one. */
                if (r != -ECHILD || attempt == 3)
                        break;
                fprintf(stderr, "bench-api: trying another port\n");
        }
        if (r < 0)
                return r;
        sleep_ms(o->idle_ms);

        fprintf(stderr, "bench-api: latency, %u x GET /v1/host over TLS and over the Unix socket, interleaved\n",
                o->host_requests);
        r = measure_tls_keepalive(env, o->host_requests, &res->tls);
        if (r < 0)
                goto out;
        fprintf(stderr, "bench-api: %u fresh connections each: Unix, TLS (bench CA only), TLS (with libcurl's CA "
                "path)\n",
                o->fresh_requests);
        r = measure_fresh(env, o->fresh_requests, &res->tls);
out:
        if (sovd_stop(&p) < 0)
                fprintf(stderr, "bench-api: sovd did not exit cleanly (see %s)\n", env->log);
        return r;
}

int main(int argc, char **argv) {
        struct bench_options o = {
                .sovd = BENCH_SOVD_BINARY,
                .domains = 1000,
                .host_requests = 2000,
                .vms_requests = 200,
                .clients = 16,
                .tput_host = 20000,
                .tput_vms = 320,
                .start_runs = 5,
                .idle_ms = 2000,
                .fresh_requests = 200,
        };
        struct results res = {};
        struct bench_env env;
        int r;

        r = parse_args(argc, argv, &o);
        if (r <= 0)
                return r == 0 ? EXIT_SUCCESS : 2;
        if (access(o.sovd, X_OK) < 0) {
                fprintf(stderr, "bench-api: cannot execute %s: %m\n", o.sovd);
                return EXIT_FAILURE;
        }
        if (virInitialize() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                fprintf(stderr, "bench-api: cannot initialise libvirt or libcurl\n");
                return EXIT_FAILURE;
        }
        virSetErrorFunc(NULL, silence_libvirt);
        /* A client that dies mid-answer is sovd's problem, never ours. */
        signal(SIGPIPE, SIG_IGN);
        read_machine(&res);

        r = env_setup(&env);
        if (r < 0) {
                fprintf(stderr, "bench-api: cannot set up a temporary directory: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        fprintf(stderr, "bench-api: writing %u domains to %s\n", o.domains, env.node_xml);
        r = write_node_xml(env.node_xml, o.domains, &res.node_xml_bytes);
        if (r < 0)
                fprintf(stderr, "bench-api: cannot write %s: %s\n", env.node_xml, strerror(-r));
        else if (o.tls)
                r = run_tls_benchmarks(&env, &o, &res);
        else
                r = run_benchmarks(&env, &o, &res);
        if (r < 0) {
                fprintf(stderr, "bench-api: benchmark aborted: %s\n", strerror(-r));
                env_cleanup(&env, true);
                curl_global_cleanup();
                return EXIT_FAILURE;
        }
        if (o.tls)
                print_tls_report(&o, &res);
        else
                print_report(&o, &res);
        env_cleanup(&env, o.keep);
        curl_global_cleanup();
        return EXIT_SUCCESS;
}
