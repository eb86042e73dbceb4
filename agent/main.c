/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sovd: wiring only. Threads, each with one job:
 *   main          sd-event loop: signals (TERM/INT stop, HUP reload), watchdog
 *   sovd-libvirt  libvirt's event loop: domain events, reconnection
 *   MHD workers   one small pool per listener: HTTP requests
 */
#include <getopt.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "sovd/admission.h"
#include "sovd/api.h"
#include "sovd/backup-service.h"
#include "sovd/jobs.h"
#include "sovd/migration-service.h"
#include "sovd/snapshot-service.h"
#include "sovd/audit.h"
#include "sovd/drift.h"
#include "sovd/config.h"
#include "sovd/fileio.h"
#include "sovd/log.h"
#include "sovd/peers.h"
#include "sovd/policy-store.h"
#include "sovd/recorder.h"
#include "sovd/time-util.h"
#include "sovd/version.h"
#include "sovd/virt-conn.h"
#include "sovd/vm-index.h"

struct options {
        const char *config_path;
        const char *libvirt_uri;
        const char *state_dir;
        char **listen;
        size_t n_listen;
};

/* Two workers: one long backup does not hold up every other VM's job. */
#define JOB_WORKERS 2
static const struct job_kind *const job_kinds[] = { &snapshot_job_kind, &backup_job_kind, &restore_job_kind,
                                                      &migrate_job_kind, &verify_job_kind, NULL };

static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER; /* guards listen_summary, policy_summary */
static char listen_summary[512];
static char policy_summary[SOVD_ERR_MSG_MAX + 64];
static const char *config_source;
static struct config *active_config; /* main thread only */

static void help(void) {
        printf("Usage: sovd [OPTIONS]\n\n"
               "Sovereign hypervisor management agent: drives libvirt and serves the sovd API.\n\n"
               "  -c --config FILE        JSON configuration (default %s when it exists,\n"
               "                          else the embedded default: test:///default, demo tags)\n"
               "  -u --libvirt-uri URI    libvirt connection URI (overrides the configuration)\n"
               "  -l --listen ADDR        listen on unix:PATH or tcp:HOST:PORT (mutual TLS, needs \"tls\" in the\n"
               "                          configuration); repeatable; overrides the configuration\n"
               "  -s --state-dir DIR      state directory (overrides the configuration)\n"
               "     --check-config       validate the configuration and exit\n"
               "     --dump-routes        print the API routes and exit\n"
               "  -h --help               show this help\n"
               "     --version            show the version\n",
               CONFIG_DEFAULT_PATH);
}

static void update_status(bool connected, const char *reason) {
        struct virt_status st;

        virt_get_status(&st);
        pthread_mutex_lock(&status_lock);
        (void) sd_notifyf(0, "STATUS=Serving on %s; libvirt %s%s; %s", listen_summary,
                          connected ? "connected to " : "disconnected: ", connected ? st.uri : st.error,
                          policy_summary);
        pthread_mutex_unlock(&status_lock);
}

static volatile bool serving; /* set once READY=1 is sent; STATUS before then would say nothing */

/* Both run on the libvirt event thread. */
static void on_libvirt_state(bool connected, const char *reason, void *userdata) {
        if (connected) {
                vm_index_resync();
                drift_scan();
                snapshot_service_scan();
        } else
                vm_index_invalidate();
        if (serving)
                update_status(connected, reason);
}

static void on_domain_event(const char *uuid, const char *name, const char *event, void *userdata) {
        log_emit(LOG_DEBUG, LOG_FIELDS({ "SOVD_VM_UUID", uuid }, { "SOVD_EVENT", event }), "domain '%s' %s", name,
                 event);
        /* Drift first: a client that sees the change in the listing finds it on record too. */
        drift_observe(uuid, name, event);
        vm_index_refresh(uuid);
        snapshot_service_observe(uuid);
}

static int parse_args(int argc, char **argv, struct options *o) {
        enum { ARG_VERSION = 0x100, ARG_DUMP_ROUTES, ARG_CHECK_CONFIG };
        static const struct option longopts[] = {
                { "config", required_argument, NULL, 'c' },
                { "libvirt-uri", required_argument, NULL, 'u' },
                { "listen", required_argument, NULL, 'l' },
                { "state-dir", required_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "dump-routes", no_argument, NULL, ARG_DUMP_ROUTES },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                {},
        };
        int c, check_only = 0;

        while ((c = getopt_long(argc, argv, "c:u:l:s:h", longopts, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        o->config_path = optarg;
                        break;
                case 'u':
                        if (!*optarg) {
                                fprintf(stderr, "sovd: --libvirt-uri needs a URI\n");
                                return -EINVAL;
                        }
                        o->libvirt_uri = optarg;
                        break;
                case 'l': {
                        struct sovd_err err;
                        char **l;
                        if (config_check_listen(optarg, &err) < 0) {
                                fprintf(stderr, "sovd: --listen: %s\n", err.msg);
                                return -EINVAL;
                        }
                        l = realloc(o->listen, (o->n_listen + 2) * sizeof(char *));
                        if (!l)
                                return -ENOMEM;
                        o->listen = l;
                        o->listen[o->n_listen] = strdup(optarg);
                        if (!o->listen[o->n_listen])
                                return -ENOMEM;
                        o->listen[++o->n_listen] = NULL;
                        break;
                }
                case 's':
                        if (optarg[0] != '/') {
                                fprintf(stderr, "sovd: --state-dir must be an absolute path\n");
                                return -EINVAL;
                        }
                        o->state_dir = optarg;
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("sovd %s\n", SOVD_VERSION);
                        return 0;
                case ARG_DUMP_ROUTES:
                        api_dump_routes(stdout);
                        return 0;
                case ARG_CHECK_CONFIG:
                        check_only = 1;
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "sovd: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        return check_only ? 2 : 1;
}

/* The file to read: --config, else the default path when present, else none (embedded default). */
static const char *config_file(const struct options *o) {
        if (o->config_path)
                return o->config_path;
        if (access(CONFIG_DEFAULT_PATH, F_OK) == 0)
                return CONFIG_DEFAULT_PATH;
        return NULL;
}

static int load_config(const struct options *o, struct config **ret, struct sovd_err *err) {
        _cleanup_config_ struct config *c = NULL;
        const char *path = config_file(o);
        int r;

        r = path ? config_load(path, &c, err) : config_new_default(&c);
        if (r < 0)
                return r;
        if (o->libvirt_uri && (r = config_set_string(&c->libvirt_uri, o->libvirt_uri)) < 0)
                return r;
        if (o->state_dir && (r = config_set_string(&c->state_dir, o->state_dir)) < 0)
                return r;
        if (o->n_listen > 0) {
                char **l = calloc(o->n_listen + 1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
                for (size_t i = 0; i < o->n_listen; i++)
                        if (!(l[i] = strdup(o->listen[i]))) {
                                strv_free(l);
                                return -ENOMEM;
                        }
                config_set_listen(c, l);
        }
        for (char **l = c->listen; l && *l; l++)
                if (strncmp(*l, "tcp:", 4) == 0 && !c->tls)
                        return err_set(err, -EINVAL,
                                       "listen '%s': TCP is served with mutual TLS only; configure \"tls\" (cert, key, "
                                       "ca) in the configuration file",
                                       *l);
        *ret = TAKE_PTR(c);
        return 0;
}

/*
 * Loads the policy directory of @c. On failure the previous set stays in
 * force (at start-up: none, so every bound VM is denied by default), and
 * the log and STATUS say why.
 */
static void load_policies(const struct config *c, struct policy_set *previous) {
        _cleanup_policy_set_ struct policy_set *set = NULL;
        struct sovd_err err = {};
        int r;

        r = policy_set_load(c->policy_dir, &set, &err);
        pthread_mutex_lock(&status_lock);
        if (r < 0) {
                snprintf(policy_summary, sizeof(policy_summary), "policies: load failed (%s); %s", err.msg,
                         previous ? "previous set kept" : "none loaded, bound VMs are denied");
                pthread_mutex_unlock(&status_lock);
                log_error("cannot load policies: %s; %s", err.msg[0] ? err.msg : strerror(-r),
                          previous ? "keeping the previous set" : "no policy is loaded: every bound VM is denied");
                admission_set(active_config, previous);
                return;
        }
        snprintf(policy_summary, sizeof(policy_summary), "%zu policies from %s", set->n_policies, set->dir);
        pthread_mutex_unlock(&status_lock);
        log_info("loaded %zu policies and %zu value groups from %s", set->n_policies, set->n_groups, set->dir);
        admission_set(active_config, set);
}

static int on_terminate(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        log_info("received %s, stopping", strsignal((int) si->ssi_signo));
        (void) sd_notify(0, "STOPPING=1\nSTATUS=Stopping");
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        const struct options *o = userdata;
        _cleanup_config_ struct config *c = NULL;
        struct sovd_err err = {};
        int r;

        (void) sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=Reloading configuration",
                          (unsigned long long) now_monotonic_usec());
        r = load_config(o, &c, &err);
        if (r < 0) {
                log_error("reload failed, keeping the previous configuration: %s",
                          err.msg[0] ? err.msg : strerror(-r));
                (void) sd_notifyf(0, "READY=1\nSTATUS=Reload failed (%s); previous configuration kept", err.msg);
                return 0;
        }
        /* Sockets, libvirt connection and state directory are set up once; say so rather than ignore it. */
        if (!streq(c->libvirt_uri, active_config->libvirt_uri))
                log_warning("reload: libvirt_uri changed; it takes effect at the next restart");
        if (!streq(c->state_dir, active_config->state_dir))
                log_warning("reload: state_dir changed; it takes effect at the next restart");
        if (strv_length(c->listen) != strv_length(active_config->listen) ||
            !streq_ptr(c->listen[0], active_config->listen[0]))
                log_warning("reload: listen changed; it takes effect at the next restart");
        if (c->tls && active_config->tls &&
            (!streq(c->tls->cert_pem, active_config->tls->cert_pem) || !streq(c->tls->ca_pem, active_config->tls->ca_pem)))
                log_warning("reload: the TLS certificate or CA changed; tcp: listeners keep the old ones until the "
                            "next restart (tls.roles apply now)");
        log_set_max_level(c->log_level);
        api_set_config(c);
        config_unref(active_config);
        active_config = TAKE_PTR(c);
        {
                _cleanup_policy_set_ struct policy_set *previous = admission_policies();
                load_policies(active_config, previous);
        }
        log_info("configuration reloaded from %s", config_source ? config_source : "the embedded default");
        (void) sd_notify(0, "READY=1");
        struct virt_status st;
        virt_get_status(&st);
        update_status(st.connected, NULL);
        return 0;
}

static int start_listeners(const struct config *c) {
        struct sovd_err err = {};
        int n, r;
        size_t off = 0;

        n = sd_listen_fds(1);
        if (n < 0) {
                log_error("socket activation failed: %s", strerror(-n));
                return n;
        }
        if (n > 0) {
                for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
                        if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
                                log_error("socket-activated fd %d is not a listening stream socket", fd);
                                return -EINVAL;
                        }
                        /* Activated sockets are local (sovd.socket); TCP is opened below, with TLS. */
                        r = api_serve(fd, "a socket-activated listener", NULL, &err);
                        if (r < 0) {
                                log_error("%s", err.msg);
                                return r;
                        }
                }
                off = (size_t) snprintf(listen_summary, sizeof(listen_summary), "%d socket-activated listener%s", n,
                                        n > 1 ? "s" : "");
                log_info("serving on %s", listen_summary);
        }
        for (char **l = c->listen; l && *l; l++) {
                int fd;

                bool tcp = strncmp(*l, "tcp:", 4) == 0;

                /* Under socket activation the unix socket comes from systemd; the tcp: ones are ours. */
                if (n > 0 && !tcp)
                        continue;

                if (tcp && !c->tls) {
                        log_error("cannot listen on %s: TCP is served with mutual TLS only; configure \"tls\"", *l);
                        return -EINVAL;
                }
                r = tcp ? api_bind_tcp(*l, &fd, &err) : api_bind_unix(*l + strlen("unix:"), &fd, &err);
                if (r >= 0)
                        r = api_serve(fd, *l, tcp ? c->tls : NULL, &err);
                if (r < 0) {
                        log_error("cannot listen on %s: %s", *l, err.msg);
                        return r;
                }
                log_info("serving the sovd API on %s", *l);
                off += (size_t) snprintf(listen_summary + off, off < sizeof(listen_summary) ? sizeof(listen_summary) - off : 0,
                                         "%s%s", off ? ", " : "", *l);
                if (off >= sizeof(listen_summary))
                        off = sizeof(listen_summary) - 1;
        }
        return 0;
}

int main(int argc, char **argv) {
        struct options opts = {};
        struct idempotency_store *idem = NULL;
        struct audit_log *audit = NULL;
        sd_event *event = NULL;
        struct sovd_err err = {};
        sigset_t mask;
        int r, mode;

        log_setup();
        mode = parse_args(argc, argv, &opts);
        if (mode <= 0) {
                strv_free(opts.listen);
                return mode == 0 ? EXIT_SUCCESS : 2;
        }
        config_source = config_file(&opts);
        r = load_config(&opts, &active_config, &err);
        if (r < 0) {
                log_error("invalid configuration: %s", err.msg[0] ? err.msg : strerror(-r));
                strv_free(opts.listen);
                return EXIT_FAILURE;
        }
        if (mode == 2) {
                struct policy_set *set = NULL;
                r = policy_set_load(active_config->policy_dir, &set, &err);
                policy_set_unref(set);
                if (r < 0) {
                        log_error("invalid policies: %s", err.msg);
                        config_unref(active_config);
                        strv_free(opts.listen);
                        return EXIT_FAILURE;
                }
                printf("%s: configuration is valid; policies in %s are valid\n",
                       config_source ? config_source : "embedded default", active_config->policy_dir);
                config_unref(active_config);
                strv_free(opts.listen);
                return EXIT_SUCCESS;
        }
        log_set_max_level(active_config->log_level);

        /* libcurl's global state (peers) must be set up before any thread uses it. */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
                log_error("cannot initialise libcurl");
                config_unref(active_config);
                strv_free(opts.listen);
                return EXIT_FAILURE;
        }
        /* Block before any thread exists, so that only sd-event's signalfd sees them. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &mask, NULL);
        /* A client that disconnects mid-answer must not kill the daemon. */
        signal(SIGPIPE, SIG_IGN);

        r = mkdir_p(active_config->state_dir, 0700);
        if (r < 0) {
                log_error("cannot create state directory %s: %s", active_config->state_dir, strerror(-r));
                goto out;
        }
        /* No audit log, no service: a decision that cannot be recorded must not be acted on. */
        r = audit_open(active_config->state_dir, active_config->audit_rotate_bytes, &audit, &err);
        if (r < 0) {
                log_error("cannot open the audit log: %s", err.msg);
                goto out;
        }
        if (r > 0)
                log_warning("audit log recovered after a crash: %s", err.msg);
        recorder_set(audit);
        r = idempotency_store_open(active_config->state_dir, &idem);
        if (r < 0) {
                log_error("cannot open the idempotency store in %s: %s", active_config->state_dir, strerror(-r));
                goto out;
        }
        load_policies(active_config, NULL);
        api_init(active_config, idem);
        r = virt_start(active_config->libvirt_uri, on_libvirt_state, on_domain_event, NULL);
        if (r < 0) {
                log_error("cannot initialise libvirt: %s", strerror(-r));
                goto out;
        }
        /* After libvirt: interrupted jobs are settled by asking it what happened. */
        r = snapshot_service_init(active_config->state_dir, &err);
        if (r >= 0)
                r = jobs_start(active_config->state_dir, job_kinds, JOB_WORKERS, &err);
        if (r < 0) {
                log_error("cannot start the job runner: %s", err.msg);
                goto out;
        }
        r = start_listeners(active_config);
        if (r < 0)
                goto out;

        r = sd_event_default(&event);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGTERM, on_terminate, NULL);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGINT, on_terminate, NULL);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGHUP, on_reload, &opts);
        /* Sends WATCHDOG=1 at half of WatchdogSec when the service manager asks for it. */
        if (r >= 0)
                r = sd_event_set_watchdog(event, true);
        if (r < 0) {
                log_error("cannot set up the event loop: %s", strerror(-r));
                goto out;
        }

        struct virt_status st;
        virt_get_status(&st);
        (void) sd_notify(0, "READY=1");
        serving = true;
        update_status(st.connected, NULL);
        log_info("sovd %s ready (configuration: %s)", SOVD_VERSION,
                 config_source ? config_source : "embedded default");

        r = sd_event_loop(event);
        if (r < 0)
                log_error("event loop failed: %s", strerror(-r));
out:
        (void) sd_notify(0, "STOPPING=1");
        api_shutdown();
        snapshot_service_stop();
        jobs_stop();
        virt_stop();
        recorder_set(NULL);
        audit_close(audit);
        admission_clear();
        vm_index_free();
        idempotency_store_free(idem);
        sd_event_unref(event);
        peers_forget();
        curl_global_cleanup();
        config_unref(active_config);
        strv_free(opts.listen);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
