/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sovctl: the command-line client of sovd. It parses the command line,
 * builds one libcurl transport (Unix socket, or TLS with a client
 * certificate) and hands over to a subcommand in sovctl-cmd.c; nothing
 * here talks HTTP itself.
 *
 *   sovctl.c         options, defaults, dispatch, exit codes
 *   sovctl-cmd.c     host, vm, policy, pool, backup-target and audit
 *                    subcommands, name lookup, error reports
 *   sovctl-jobs.c    job, snapshot and backup subcommands, vm migrate,
 *                    waiting for jobs
 *   sovctl-http.c    libcurl transport with size and time limits
 *   sovctl-json.c    whole-document JSON parsing with error positions
 *   sovctl-print.c   tables, key: value blocks, decisions, policies and
 *                    compliance in words, sanitized for terminals
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>
#include <curl/curl.h>

#include "sovd/version.h"
#include "sovctl.h"
#include "sovctl-cmd.h"
#include "sovctl-http.h"

#define SOVCTL_DEFAULT_TIMEOUT_SEC 120L
#define SOVCTL_MAX_TIMEOUT_SEC 86400L
#define SOVCTL_IDEMPOTENCY_KEY_MAX 255

void sovctl_error(const char *fmt, ...) {
        va_list ap;
        int saved = errno;

        fputs("sovctl: ", stderr);
        va_start(ap, fmt);
        errno = saved; /* for %m */
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

int sovctl_usage_error(const char *fmt, ...) {
        va_list ap;

        fputs("sovctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\nTry 'sovctl --help'.\n", stderr);
        return -SOVCTL_E_USAGE;
}

void sovctl_usage(FILE *f) {
        fputs("Usage: sovctl [GLOBAL OPTIONS] COMMAND [ARGS]\n"
              "\n"
              "Control sovd, the per-host KVM agent, through its HTTP API.\n"
              "\n"
              "Commands:\n"
              "  host                          Show the host: identity, libvirt, tags, capacity\n"
              "  vm list [--tenant T] [--state S]\n"
              "                                List VMs, optionally filtered\n"
              "  vm show UUID|NAME             Show a VM with its disks, networks, binding and\n"
              "                                compliance\n"
              "  vm create -f SPEC.json        Create a VM from a spec file (-f - reads stdin)\n"
              "  vm start UUID|NAME            Start a VM\n"
              "  vm shutdown UUID|NAME         Ask the guest to shut down (it decides when)\n"
              "  vm stop UUID|NAME             Stop a VM now (power off)\n"
              "  vm reboot UUID|NAME           Reboot a VM\n"
              "  vm suspend UUID|NAME          Pause a VM's vCPUs\n"
              "  vm resume UUID|NAME           Resume a suspended VM\n"
              "  vm delete UUID|NAME [--delete-storage]\n"
              "                                Delete a stopped VM; with --delete-storage also\n"
              "                                the volumes sovd created for it\n"
              "  vm migrate UUID|NAME --peer PEER [--mode live|offline]\n"
              "             [--copy-storage --destination-pool POOL] [--wait]\n"
              "                                Migrate a VM to a peer agent's host, once its\n"
              "                                policy allows the peer's tags (and the pool's,\n"
              "                                when --copy-storage copies the disks there)\n"
              "  policy list                   List the sovereignty policies in force\n"
              "  policy show NAME              Show a policy: reasoning and rules in words\n"
              "  policy evaluate --policy NAME --kind KIND\n"
              "                  (--host | --pool NAME | --backup-target NAME | --tags FILE)\n"
              "                  [--at TIME]\n"
              "                                Dry run of one rule of a policy on one place;\n"
              "                                KIND: compute, storage, snapshot, backup,\n"
              "                                migration; --tags: a JSON object of tags (- is\n"
              "                                stdin); exit 4 when the decision denies\n"
              "  pool list                     List storage pools with their tags\n"
              "  backup-target list            List backup targets with their tags\n"
              "  job list [--vm UUID|NAME] [--state STATE]\n"
              "                                List jobs (snapshots, backups, restores,\n"
              "                                migrations), oldest first\n"
              "  job show ID                   Show a job: state, progress, error, result\n"
              "  job wait ID [--timeout SECONDS]\n"
              "                                Wait until a job ends; exit 0 when it succeeded,\n"
              "                                1 when it failed or was cancelled, 2 on timeout\n"
              "  job cancel ID                 Ask sovd to cancel a job\n"
              "  snapshot list VM              List a VM's snapshots\n"
              "  snapshot show VM NAME         Show a snapshot: disks, memory, compliance\n"
              "  snapshot create VM NAME [--kind disk-only|full|internal] [--pool POOL]\n"
              "                  [--description TEXT] [--wait]\n"
              "                                Take a snapshot (default kind: disk-only)\n"
              "  snapshot delete VM NAME       Delete a snapshot\n"
              "  snapshot revert VM NAME       Revert a VM to a snapshot\n"
              "  backup create VM --target TARGET [--mode full|incremental] [--wait]\n"
              "                                Back a running VM up to a backup target\n"
              "  backup list VM                List a VM's backups, newest last\n"
              "  backup show ID                Show a backup's manifest\n"
              "  backup verify ID              Check a backup's files against their checksums\n"
              "                                (a job, waited for); exit 1 when one differs\n"
              "  backup restore ID (--name NEW | --in-place) [--pool POOL] [--wait]\n"
              "                                Restore a backup as a new VM or over its VM\n"
              "                                (shut off)\n"
              "  audit list [--since TIME] [--vm UUID|NAME] [--decision allow|deny]\n"
              "             [--limit N] [--after SEQ]\n"
              "                                List audit records, oldest first (default 100)\n"
              "  audit verify                  Ask sovd to verify its audit chain\n"
              "  audit verify [--partial] FILE|DIR|-...\n"
              "                                Verify audit files offline, without sovd: the\n"
              "                                files in order, or every audit-*.jsonl of DIR;\n"
              "                                --partial: the first record may continue an\n"
              "                                earlier part of the chain\n"
              "  help                          Show this help\n"
              "\n"
              "--wait: a command sovd answers with a job (202) waits for the job to end and\n"
              "exits 0 when it succeeded, 1 otherwise.\n"
              "\n"
              "Global options (before COMMAND; --json and --help are also accepted after it):\n"
              "  --socket PATH                 sovd's Unix socket (default: $SOVD_SOCKET, else\n"
              "                                /run/sovd/sovd.sock as root, else\n"
              "                                $XDG_RUNTIME_DIR/sovd/sovd.sock)\n"
              "  --url https://HOST:PORT       Use sovd's TLS listener instead of the socket\n"
              "  --cert FILE                   Client certificate (PEM) for --url\n"
              "  --key FILE                    Private key (PEM) of --cert\n"
              "  --cacert FILE                 CA certificates to verify sovd with (--url)\n"
              "  --timeout SECONDS             Give up after SECONDS (default 120; connecting: 5)\n"
              "  --idempotency-key KEY         Send Idempotency-Key: KEY (commands that POST)\n"
              "  --json                        Print sovd's JSON answer, pretty-printed\n"
              "  -h, --help                    Show this help\n"
              "  -V, --version                 Show the version\n"
              "\n"
              "A NAME, or a VM given by name, is looked up in the VM list and must match\n"
              "exactly one VM's name. A job or backup ID is a UUID.\n"
              "\n"
              "Exit status: 0 success; 1 sovd answered an error (or an unusable answer), the\n"
              "audit chain or a backup does not verify, or a job waited for did not succeed;\n"
              "2 usage error, bad spec, tags or audit file, or job wait --timeout passed;\n"
              "3 sovd could not be reached; 4 policy evaluate: the decision denies.\n",
              f);
}

/* $SOVD_SOCKET, else the path sovd itself defaults to for this user. */
static int sovctl_default_socket(char **ret) {
        const char *env = getenv("SOVD_SOCKET");
        const char *runtime;
        char *p;

        if (env && *env)
                p = strdup(env);
        else if (geteuid() == 0)
                p = strdup("/run/sovd/sovd.sock");
        else {
                runtime = getenv("XDG_RUNTIME_DIR");
                if (runtime && *runtime) {
                        if (asprintf(&p, "%s/sovd/sovd.sock", runtime) < 0)
                                p = NULL;
                } else if (asprintf(&p, "/run/user/%u/sovd/sovd.sock", (unsigned) geteuid()) < 0)
                        /* pam_systemd's location, when the session did not export it. */
                        p = NULL;
        }
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

/* A TLS file named on the command line must be readable: say so before connecting. */
static int sovctl_check_readable(const char *option, const char *path) {
        if (access(path, R_OK) < 0)
                return sovctl_usage_error("%s '%s': %s", option, path, strerror(errno));
        return 0;
}

/* Idempotency-Key as sovd accepts it: 1-255 printable ASCII characters. */
static bool sovctl_idempotency_key_ok(const char *k) {
        size_t n = strlen(k);

        if (n == 0 || n > SOVCTL_IDEMPOTENCY_KEY_MAX)
                return false;
        /* Edge blanks would be trimmed by HTTP and change the key. */
        if (k[0] == ' ' || k[n - 1] == ' ')
                return false;
        for (size_t i = 0; i < n; i++)
                if (k[i] < 0x20 || k[i] > 0x7e)
                        return false;
        return true;
}

static const struct sovctl_command sovctl_commands[] = {
        { "host", sovctl_cmd_host },
        { "vm", sovctl_cmd_vm },
        { "policy", sovctl_cmd_policy },
        { "pool", sovctl_cmd_pool },
        { "backup-target", sovctl_cmd_backup_target },
        { "job", sovctl_cmd_jobs },
        { "snapshot", sovctl_cmd_jobs },
        { "backup", sovctl_cmd_jobs },
        { "audit", sovctl_cmd_audit },
};

/* What an error return becomes; anything else is reported here and exits 1. */
static const struct {
        int error;
        int status;
} sovctl_exit_statuses[] = {
        { -SOVCTL_E_USAGE, SOVCTL_EXIT_USAGE },
        { -SOVCTL_E_UNREACHABLE, SOVCTL_EXIT_UNREACHABLE },
        { -SOVCTL_E_API, SOVCTL_EXIT_API },
        { -SOVCTL_E_DENIED, SOVCTL_EXIT_DENIED },
        { -SOVCTL_E_TIMEOUT, SOVCTL_EXIT_TIMEOUT },
};

static int sovctl_run(int argc, char **argv) {
        enum {
                ARG_SOCKET = 0x100,
                ARG_URL,
                ARG_CERT,
                ARG_KEY,
                ARG_CACERT,
                ARG_TIMEOUT,
                ARG_IDEMPOTENCY_KEY,
                ARG_JSON,
        };
        static const struct option options[] = {
                { "socket", required_argument, NULL, ARG_SOCKET },
                { "url", required_argument, NULL, ARG_URL },
                { "cert", required_argument, NULL, ARG_CERT },
                { "key", required_argument, NULL, ARG_KEY },
                { "cacert", required_argument, NULL, ARG_CACERT },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "idempotency-key", required_argument, NULL, ARG_IDEMPOTENCY_KEY },
                { "json", no_argument, NULL, ARG_JSON },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        _cleanup_(sovctl_http_freep) struct sovctl_http *http = NULL;
        _cleanup_free_ char *default_socket = NULL;
        struct sovctl_http_config cfg = { .timeout_sec = SOVCTL_DEFAULT_TIMEOUT_SEC };
        struct sovctl_ctx ctx = {};
        const char *command, *curl_why = NULL;
        sovctl_command_cb_t run = NULL;
        int c, r;

        opterr = 0;
        /* "+": stop at the command; what follows belongs to it. */
        while ((c = getopt_long(argc, argv, "+:hV", options, NULL)) >= 0) {
                switch (c) {
                case ARG_SOCKET:
                        cfg.socket_path = optarg;
                        break;
                case ARG_URL:
                        cfg.url = optarg;
                        break;
                case ARG_CERT:
                        cfg.cert = optarg;
                        break;
                case ARG_KEY:
                        cfg.key = optarg;
                        break;
                case ARG_CACERT:
                        cfg.cacert = optarg;
                        break;
                case ARG_TIMEOUT: {
                        char *end;
                        long t;

                        errno = 0;
                        t = strtol(optarg, &end, 10);
                        if (errno || end == optarg || *end || t < 1 || t > SOVCTL_MAX_TIMEOUT_SEC)
                                return sovctl_usage_error(
                                        "--timeout: '%s' is not a number of seconds from 1 to %ld",
                                        optarg, SOVCTL_MAX_TIMEOUT_SEC);
                        cfg.timeout_sec = t;
                        break;
                }
                case ARG_IDEMPOTENCY_KEY:
                        if (!sovctl_idempotency_key_ok(optarg))
                                return sovctl_usage_error(
                                        "--idempotency-key: must be 1-%d printable ASCII characters",
                                        SOVCTL_IDEMPOTENCY_KEY_MAX);
                        ctx.idempotency_key = optarg;
                        break;
                case ARG_JSON:
                        ctx.json = true;
                        break;
                case 'h':
                        sovctl_usage(stdout);
                        return 0;
                case 'V':
                        printf("sovctl %s\n", SOVD_VERSION);
                        return 0;
                case ':':
                        return sovctl_usage_error("option '%s' needs a value", argv[optind - 1]);
                default:
                        if (optopt && optopt != '?')
                                return sovctl_usage_error("unknown option '-%c'", optopt);
                        return sovctl_usage_error("unknown option '%s'", argv[optind - 1]);
                }
        }

        if (optind >= argc) {
                sovctl_usage(stderr);
                return -SOVCTL_E_USAGE;
        }
        command = argv[optind];
        if (streq(command, "help")) {
                sovctl_usage(stdout);
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(sovctl_commands) && !run; i++)
                if (streq(command, sovctl_commands[i].name))
                        run = sovctl_commands[i].run;
        if (!run)
                return sovctl_usage_error("unknown command '%s'", command);
        /* Verifying files needs no sovd: no transport, and no transport options are checked. */
        if (streq(command, "audit") && sovctl_cmd_audit_is_offline(argc - optind, argv + optind))
                return sovctl_cmd_audit(&ctx, argc - optind, argv + optind);

        if (cfg.url) {
                if (cfg.socket_path)
                        return sovctl_usage_error("--socket and --url exclude each other");
                /* The client certificate is the credential: never send it in clear. */
                if (strncasecmp(cfg.url, "https://", 8) != 0 || !cfg.url[8])
                        return sovctl_usage_error("--url: '%s' must start with https://",
                                                  cfg.url);
                if (cfg.key && !cfg.cert)
                        return sovctl_usage_error("--key needs --cert");
                if (cfg.cert && (r = sovctl_check_readable("--cert", cfg.cert)) < 0)
                        return r;
                if (cfg.key && (r = sovctl_check_readable("--key", cfg.key)) < 0)
                        return r;
                if (cfg.cacert && (r = sovctl_check_readable("--cacert", cfg.cacert)) < 0)
                        return r;
        } else {
                if (cfg.cert || cfg.key || cfg.cacert)
                        return sovctl_usage_error("--cert, --key and --cacert need --url");
                if (!cfg.socket_path) {
                        r = sovctl_default_socket(&default_socket);
                        if (r < 0)
                                return r;
                        cfg.socket_path = default_socket;
                }
                if (!*cfg.socket_path ||
                    strlen(cfg.socket_path) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                        return sovctl_usage_error("--socket: '%s' is not a usable socket path",
                                                  cfg.socket_path);
        }

        r = sovctl_http_new(&cfg, &http, &curl_why);
        if (r == -EINVAL) {
                sovctl_error("cannot set up libcurl: %s", strna(curl_why));
                return -SOVCTL_E_USAGE;
        }
        if (r < 0)
                return r;
        ctx.http = http;

        return run(&ctx, argc - optind, argv + optind);
}

int main(int argc, char **argv) {
        int r, status = -1;

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                sovctl_error("cannot initialise libcurl");
                return SOVCTL_EXIT_API;
        }

        r = sovctl_run(argc, argv);
        curl_global_cleanup();

        if (r >= 0)
                status = SOVCTL_EXIT_OK;
        for (size_t i = 0; i < ELEMENTSOF(sovctl_exit_statuses) && status < 0; i++)
                if (r == sovctl_exit_statuses[i].error)
                        status = sovctl_exit_statuses[i].status;
        if (status < 0) {
                /* Not reported yet: by contract only SOVCTL_E_* are. */
                sovctl_error("%s", strerror(-r));
                status = SOVCTL_EXIT_API;
        }

        /* A full disk or closed pipe must not pass for success in scripts. */
        if (fflush(stdout) != 0 || ferror(stdout)) {
                if (status == SOVCTL_EXIT_OK)
                        sovctl_error("cannot write output: %m");
                if (status == SOVCTL_EXIT_OK)
                        status = SOVCTL_EXIT_API;
        }
        return status;
}
