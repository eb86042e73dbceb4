/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "api-private.h"
#include "sovd/api.h"
#include "sovd/fileio.h"
#include "sovd/json-util.h"
#include "sovd/log.h"
#include "sovd/metrics.h"
#include "sovd/names.h"
#include "sovd/ratelimit.h"
#include "sovd/recorder.h"
#include "sovd/sha256.h"
#include "sovd/time-util.h"
#include "sovd/vm-index.h"

#define MAX_LISTENERS 16
#define WORKER_THREADS 4
#define CONNECTION_TIMEOUT_S 60
#define MAX_GROUPS 256
/* Connections one non-root local user may hold on the Unix socket, so one user cannot take them all. */
#define UID_CONNECTION_LIMIT 32
#define UID_TABLE_SIZE 512
#define DISCARD_MAX (64u * 1024 * 1024)

static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER; /* guards current_config */
static struct config *current_config;
static struct idempotency_store *idempotency;
static struct MHD_Daemon *daemons[MAX_LISTENERS];
static size_t n_daemons;

/*
 * Refused calls are audit records too, so any caller could grow the log at
 * will. Per caller (uid or certificate; all unauthenticated TLS clients
 * share one bucket) 30 at once, then 2 a second are recorded one by one;
 * the others are counted, and the count is recorded with the next one.
 */
#define REFUSAL_RECORD_BURST 30
#define REFUSAL_RECORD_PER_SEC 2
#define REFUSAL_RECORD_CALLERS 256
static struct ratelimit *refusal_records;

int api_init(struct config *config, struct idempotency_store *idem) {
        metrics_init();
        refusal_records = ratelimit_new(REFUSAL_RECORD_CALLERS, REFUSAL_RECORD_BURST, REFUSAL_RECORD_PER_SEC);
        if (!refusal_records)
                return -ENOMEM;
        current_config = config_ref(config);
        idempotency = idem;
        vm_index_init(vm_summary_serialize);
        return 0;
}

void api_set_config(struct config *config) {
        struct config *old;

        pthread_mutex_lock(&config_lock);
        old = current_config;
        current_config = config_ref(config);
        pthread_mutex_unlock(&config_lock);
        config_unref(old);
}

static struct config *config_get(void) {
        struct config *c;

        pthread_mutex_lock(&config_lock);
        c = config_ref(current_config);
        pthread_mutex_unlock(&config_lock);
        return c;
}

int api_bind_unix(const char *path, int *ret_fd, struct sovd_err *err) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *dir = strdup(path);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct stat st;
        char *slash;
        int r;

        if (!dir)
                return -ENOMEM;
        if (strlen(path) >= sizeof(sa.sun_path))
                return err_set(err, -ENAMETOOLONG, "socket path '%s' is too long", path);
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                r = mkdir_p(dir, 0755);
                if (r < 0)
                        return err_set(err, r, "cannot create directory '%s': %s", dir, strerror(-r));
        }
        strcpy(sa.sun_path, path);
        /* Replace a stale socket from a previous run, never anything else, nor one a live sovd serves. */
        if (lstat(path, &st) == 0) {
                _cleanup_close_ int probe = -1;

                if (!S_ISSOCK(st.st_mode))
                        return err_set(err, -EEXIST, "'%s' exists and is not a socket", path);
                probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (probe >= 0 && connect(probe, (struct sockaddr *) &sa, sizeof(sa)) == 0)
                        return err_set(err, -EADDRINUSE, "'%s' is already served by a running process (another sovd?)",
                                       path);
                (void) unlink(path);
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return err_set(err, -errno, "cannot create socket: %m");
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return err_set(err, -errno, "cannot bind '%s': %m", path);
        /* Anyone may connect; the peer's uid and groups decide what they may do. */
        if (chmod(path, 0666) < 0)
                return err_set(err, -errno, "cannot chmod '%s': %m", path);
        if (listen(fd, SOMAXCONN) < 0)
                return err_set(err, -errno, "cannot listen on '%s': %m", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int api_bind_tcp(const char *addr, int *ret_fd, struct sovd_err *err) {
        _cleanup_free_ char *host = NULL;
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *res = NULL;
        const char *colon = strrchr(addr + 4, ':');
        int fd = -1, r, one = 1;

        host = strndup(addr + 4, (size_t) (colon - (addr + 4)));
        if (!host)
                return -ENOMEM;
        if (host[0] == '[' && host[strlen(host) - 1] == ']') {
                memmove(host, host + 1, strlen(host));
                host[strlen(host) - 1] = '\0';
        }
        r = getaddrinfo(*host ? host : NULL, colon + 1, &hints, &res);
        if (r != 0)
                return err_set(err, -EADDRNOTAVAIL, "cannot resolve '%s': %s", addr, gai_strerror(r));
        for (struct addrinfo *a = res; a; a = a->ai_next) {
                fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
                if (fd < 0)
                        continue;
                (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0)
                        break;
                r = -errno;
                close(fd);
                fd = -1;
        }
        freeaddrinfo(res);
        if (fd < 0)
                return err_set(err, r ? r : -EADDRNOTAVAIL, "cannot listen on '%s': %s", addr, strerror(r ? -r : EADDRNOTAVAIL));
        *ret_fd = fd;
        return 0;
}

/*
 * The caller of a TLS connection: a client certificate that verifies
 * against the configured CA (signature, validity dates, key usage), its
 * CN and DNS names mapped to a role by tls.roles.
 */
/*
 * What a TLS connection proved about its client, once: verifying the chain
 * costs about 0.4 ms of ECDSA and ASN.1 work, too much to repeat on every
 * keep-alive request. MHD never re-handshakes (no renegotiation), so the
 * certificate cannot change under a connection; its expiry is re-checked
 * per request, and the role is recomputed from the configuration in force.
 */
struct tls_identity {
        bool verified;
        char auth_error[256];
        char caller[192];
        char scope[160];
        char *names[17];
        size_t n_names;
        time_t not_after;
};

static void tls_identity_free(struct tls_identity *t) {
        if (!t)
                return;
        for (size_t i = 0; i < t->n_names; i++)
                free(t->names[i]);
        free(t);
}

/* TLS listeners only: one identity per connection, filled by its first request. */
static void notify_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe) {
        if (toe == MHD_CONNECTION_NOTIFY_STARTED)
                *socket_context = calloc(1, sizeof(struct tls_identity));
        else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
                tls_identity_free(*socket_context);
                *socket_context = NULL;
        }
}

static void verify_tls_caller(struct api_request *req, gnutls_session_t session, struct tls_identity *id) {
        const gnutls_datum_t *certs;
        gnutls_x509_crt_t crt = NULL;
        unsigned status = 0, n = 0;
        char *names[17] = {};
        size_t n_names = 0;
        char cn[256] = "", serial_hex[65] = "";
        unsigned char serial[32];
        size_t size;
        int r;

        req->role = ROLE_NONE;
        certs = gnutls_certificate_get_peers(session, &n);
        if (!certs || n == 0) {
                snprintf(req->auth_error, sizeof(req->auth_error),
                         "a client certificate signed by this agent's CA is required");
                return;
        }
        /* The chain, the dates, and the TLS client purpose when the certificate states purposes. */
        gnutls_typed_vdata_st purpose = { .type = GNUTLS_DT_KEY_PURPOSE_OID,
                                          .data = (unsigned char *) GNUTLS_KP_TLS_WWW_CLIENT };
        r = gnutls_certificate_verify_peers(session, &purpose, 1, &status);
        if (r < 0 || status != 0) {
                gnutls_datum_t out = {};
                if (r >= 0 && gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) >= 0) {
                        size_t len = strlen((const char *) out.data);
                        while (len > 0 && (out.data[len - 1] == ' ' || out.data[len - 1] == '.'))
                                len--;
                        snprintf(req->auth_error, sizeof(req->auth_error), "client certificate refused: %.*s",
                                 (int) len, out.data);
                        gnutls_free(out.data);
                } else
                        snprintf(req->auth_error, sizeof(req->auth_error), "client certificate refused: %s",
                                 gnutls_strerror(r));
                return;
        }
        if (gnutls_x509_crt_init(&crt) < 0 || gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) < 0) {
                snprintf(req->auth_error, sizeof(req->auth_error), "client certificate cannot be read");
                gnutls_x509_crt_deinit(crt);
                return;
        }
        size = sizeof(cn);
        if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &size) >= 0 && cn[0])
                names[n_names++] = strdup(cn);
        for (unsigned i = 0; n_names < ELEMENTSOF(names) - 1; i++) {
                char san[256];
                size = sizeof(san) - 1;
                r = gnutls_x509_crt_get_subject_alt_name(crt, i, san, &size, NULL);
                if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
                        break;
                if (r == GNUTLS_SAN_DNSNAME) {
                        san[size] = '\0';
                        names[n_names++] = strdup(san);
                }
        }
        size = sizeof(serial);
        if (gnutls_x509_crt_get_serial(crt, serial, &size) >= 0)
                for (size_t i = 0; i < size && i < 32; i++)
                        snprintf(serial_hex + 2 * i, 3, "%02x", serial[i]);
        /* Idempotency keys are per certificate: issuer and serial name it uniquely under our CA. */
        {
                char issuer[512] = "", issuer_hash[65] = "";
                size_t isize = sizeof(issuer);
                if (gnutls_x509_crt_get_issuer_dn(crt, issuer, &isize) >= 0)
                        (void) sha256_hex(issuer, strlen(issuer), issuer_hash);
                snprintf(req->scope, sizeof(req->scope), "cert:%.16s:%.64s", issuer_hash, serial_hex);
        }
        id->not_after = gnutls_x509_crt_get_expiration_time(crt);
        gnutls_x509_crt_deinit(crt);

        for (size_t i = 0; i < n_names; i++)
                if (!names[i]) {
                        snprintf(req->auth_error, sizeof(req->auth_error), "out of memory");
                        for (size_t k = 0; k < n_names; k++)
                                free(names[k]);
                        return;
                }
        snprintf(req->caller, sizeof(req->caller), "cert CN=%.96s serial=%.40s", cn[0] ? cn : "(none)", serial_hex);
        /* The connection keeps the names; the role is decided per request. */
        memcpy(id->names, names, sizeof(char *) * n_names);
        id->n_names = n_names;
}

static void identify_tls_caller(struct api_request *req, gnutls_session_t session) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(req->connection,
                                                                     MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        struct tls_identity *id = ci ? ci->socket_context : NULL, once = {};

        /* A connection is served by one thread at a time: its identity needs no lock. */
        if (!id)
                id = &once; /* no context (out of memory at accept): verify for this request only */
        if (!id->verified) {
                verify_tls_caller(req, session, id);
                snprintf(id->auth_error, sizeof(id->auth_error), "%s", req->auth_error);
                snprintf(id->caller, sizeof(id->caller), "%s", req->caller);
                snprintf(id->scope, sizeof(id->scope), "%s", req->scope);
                id->verified = true;
        } else {
                snprintf(req->auth_error, sizeof(req->auth_error), "%s", id->auth_error);
                snprintf(req->caller, sizeof(req->caller), "%s", id->caller);
                snprintf(req->scope, sizeof(req->scope), "%s", id->scope);
        }
        if (!req->auth_error[0] && id->not_after > 0 && time(NULL) >= id->not_after)
                snprintf(req->auth_error, sizeof(req->auth_error),
                         "client certificate refused: it expired during this connection");
        req->role = req->auth_error[0] ? ROLE_NONE : config_role_for_subjects(req->config, id->names, id->n_names);
        if (id == &once)
                for (size_t i = 0; i < once.n_names; i++)
                        free(once.names[i]);
}

/* Connections per local uid, guarded by uid_lock; an uid not in the table when full is not limited. */
static pthread_mutex_t uid_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
        uid_t uid;
        unsigned count;
} uid_table[UID_TABLE_SIZE];

struct unix_peer {
        uid_t uid;
        bool counted;
        bool over_limit;
};

static void notify_unix_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                                   enum MHD_ConnectionNotificationCode toe) {
        struct unix_peer *peer = *socket_context;

        if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
                const union MHD_ConnectionInfo *ci = MHD_get_connection_info(connection,
                                                                             MHD_CONNECTION_INFO_CONNECTION_FD);
                struct ucred cred;
                socklen_t len = sizeof(cred);

                if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid == 0)
                        return;
                peer = calloc(1, sizeof(*peer));
                if (!peer)
                        return;
                peer->uid = cred.uid;
                pthread_mutex_lock(&uid_lock);
                for (size_t i = 0; i < UID_TABLE_SIZE; i++)
                        if (uid_table[i].count == 0 || uid_table[i].uid == cred.uid) {
                                uid_table[i].uid = cred.uid;
                                peer->counted = true;
                                peer->over_limit = ++uid_table[i].count > UID_CONNECTION_LIMIT;
                                break;
                        }
                pthread_mutex_unlock(&uid_lock);
                *socket_context = peer;
        } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && peer) {
                pthread_mutex_lock(&uid_lock);
                for (size_t i = 0; peer->counted && i < UID_TABLE_SIZE; i++)
                        if (uid_table[i].uid == peer->uid && uid_table[i].count > 0) {
                                uid_table[i].count--;
                                break;
                        }
                pthread_mutex_unlock(&uid_lock);
                free(peer);
                *socket_context = NULL;
        }
}

/*
 * The caller's role from SO_PEERCRED/SO_PEERGROUPS: the kernel vouches for
 * them, so no password or token is needed on the local socket.
 */
static void identify_caller(struct api_request *req) {
        const union MHD_ConnectionInfo *tls = MHD_get_connection_info(req->connection,
                                                                      MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (tls && tls->tls_session) {
                snprintf(req->caller, sizeof(req->caller), "cert (unverified)");
                identify_tls_caller(req, (gnutls_session_t) tls->tls_session);
                return;
        }
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(req->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct ucred cred;
        socklen_t len = sizeof(cred);
        gid_t groups[MAX_GROUPS];
        unsigned gids[MAX_GROUPS + 1];
        size_t n = 0;

        req->role = ROLE_NONE;
        req->uid = (uid_t) -1;
        snprintf(req->caller, sizeof(req->caller), "unknown");
        if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return;
        req->uid = cred.uid;
        req->pid = cred.pid;
        {
                const union MHD_ConnectionInfo *sc = MHD_get_connection_info(req->connection,
                                                                             MHD_CONNECTION_INFO_SOCKET_CONTEXT);
                const struct unix_peer *peer = sc ? sc->socket_context : NULL;
                req->over_limit = peer && peer->over_limit;
        }
        snprintf(req->scope, sizeof(req->scope), "uid:%u", (unsigned) cred.uid);
        snprintf(req->caller, sizeof(req->caller), "uid=%u pid=%d", (unsigned) cred.uid, (int) cred.pid);
        if (cred.uid == 0) {
                req->role = ROLE_ADMIN;
                return;
        }
        gids[n++] = (unsigned) cred.gid;
        len = sizeof(groups);
        if (getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
                for (size_t i = 0; i < len / sizeof(gid_t) && n < ELEMENTSOF(gids); i++)
                        gids[n++] = (unsigned) groups[i];
        req->role = config_role_for_groups(req->config, gids, n);
}

static bool request_id_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > REQUEST_ID_MAX)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      *p == '-' || *p == '_' || *p == '.'))
                        return false;
        return true;
}

const char *request_query(struct api_request *req, const char *key) {
        return MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, key);
}

struct query_check {
        const char *const *allowed;
        const char *unknown;
        const char *repeated;
        unsigned long seen; /* bit i: allowed[i] was given */
};

static enum MHD_Result check_query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        struct query_check *q = cls;

        for (size_t i = 0; q->allowed && q->allowed[i]; i++)
                if (streq(q->allowed[i], key)) {
                        /* request_query() answers the first only: "?state=queued&state=failed" is ambiguous. */
                        if (i < 8 * sizeof(q->seen) && (q->seen & 1ul << i)) {
                                q->repeated = key;
                                return MHD_NO;
                        }
                        if (i < 8 * sizeof(q->seen))
                                q->seen |= 1ul << i;
                        return MHD_YES;
                }
        q->unknown = key;
        return MHD_NO;
}

static bool is_json_media_type(const char *ct) {
        size_t n = strcspn(ct, "; \t");
        return n == strlen("application/json") && strncasecmp(ct, "application/json", n) == 0;
}

/*
 * What an Idempotency-Key is bound to: method, path and the body's every
 * byte, hashed. The body is outside input (NUL bytes, invalid UTF-8): it is
 * never stored as text, so the stored entry always reads back.
 */
static int request_fingerprint(const struct api_request *req, char **ret) {
        size_t mlen = strlen(req->method), ulen = strlen(req->url), n = mlen + 1 + ulen + 1 + req->body_len;
        _cleanup_free_ char *buf = malloc(n);
        char hex[SHA256_HEX_LEN];
        int r;

        if (!buf)
                return -ENOMEM;
        memcpy(buf, req->method, mlen);
        buf[mlen] = ' ';
        memcpy(buf + mlen + 1, req->url, ulen);
        buf[mlen + 1 + ulen] = '\n';
        if (req->body_len > 0)
                memcpy(buf + mlen + 1 + ulen + 1, req->body, req->body_len);
        r = sha256_hex(buf, n, hex);
        if (r < 0)
                return r;
        if (asprintf(ret, "sha256:%s", hex) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* Runs the route with role, query, media type and idempotency checks around it. */
static void dispatch_route(struct api_request *req, const struct api_route **ret_route) {
        const struct api_route *route;
        struct query_check q = {};
        struct sovd_err err = {};
        const char *allow = NULL, *key, *ct;
        _cleanup_free_ char *fingerprint = NULL;
        struct idempotency_answer replay = {};
        int r, code = 0;

        if (req->over_limit) {
                char detail[128];
                snprintf(detail, sizeof(detail), "uid %u holds more than %d connections to sovd; close some",
                         (unsigned) req->uid, UID_CONNECTION_LIMIT);
                reply_problem(req, -SOVD_E_TOO_MANY_CONNECTIONS, detail);
                return;
        }
        /* TLS without a verified client certificate: refused before routing, so before any handler. */
        if (req->auth_error[0]) {
                reply_problem(req, -SOVD_E_UNAUTHENTICATED, req->auth_error);
                return;
        }
        route = router_match(req, req->method, req->url, &code, &allow);
        *ret_route = route;
        if (!route) {
                if (code == -SOVD_E_METHOD) {
                        snprintf(err.msg, sizeof(err.msg), "%s is not allowed on %s; allowed: %s", req->method,
                                 req->url, allow);
                        reply_problem(req, code, err.msg);
                        req->reply.allow = allow;
                } else {
                        snprintf(err.msg, sizeof(err.msg), "no such resource: %s", req->url);
                        reply_problem(req, code, err.msg);
                }
                return;
        }
        if (req->role < route->min_role) {
                snprintf(err.msg, sizeof(err.msg), "%s (role %s) may not %s %s; this needs the %s role",
                         req->caller, role_to_string(req->role), req->method, route->pattern,
                         role_to_string(route->min_role));
                reply_problem(req, -EACCES, err.msg);
                return;
        }
        q.allowed = route->query;
        (void) MHD_get_connection_values(req->connection, MHD_GET_ARGUMENT_KIND, check_query_arg, &q);
        if (q.unknown || q.repeated) {
                snprintf(err.msg, sizeof(err.msg), q.unknown ? "unknown query parameter '%.64s'"
                                                             : "query parameter '%.64s' given more than once",
                         q.unknown ? q.unknown : q.repeated);
                reply_problem(req, -EINVAL, err.msg);
                return;
        }
        if (req->body_too_large) {
                snprintf(err.msg, sizeof(err.msg), "request body larger than %zu bytes",
                         req->config->max_body_bytes);
                reply_problem(req, -EFBIG, err.msg);
                return;
        }
        if (req->body_len > 0) {
                ct = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
                if (!ct || !is_json_media_type(ct)) {
                        snprintf(err.msg, sizeof(err.msg), "request body must be application/json, got '%.64s'",
                                 ct ? ct : "(none)");
                        reply_problem(req, -SOVD_E_MEDIA_TYPE, err.msg);
                        return;
                }
        }

        key = streq(req->method, "POST")
                      ? MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, "Idempotency-Key")
                      : NULL;
        if (key) {
                const char *scope = req->scope;

                if (!req->scope[0]) {
                        reply_problem(req, -EACCES, "the caller cannot be identified: Idempotency-Key refused");
                        return;
                }
                if (!idempotency_key_is_valid(key)) {
                        reply_problem(req, -EINVAL, "Idempotency-Key must be 1-255 printable ASCII characters");
                        return;
                }
                r = request_fingerprint(req, &fingerprint);
                if (r < 0) {
                        reply_problem(req, r, NULL);
                        return;
                }
                r = idempotency_begin(idempotency, scope, key, fingerprint, &replay, &err);
                if (r < 0) {
                        reply_problem(req, r, err.msg);
                        return;
                }
                if (r == 1) {
                        api_reply_done(&req->reply);
                        req->reply.status = replay.status;
                        req->reply.body = TAKE_PTR(replay.body);
                        req->reply.location = TAKE_PTR(replay.location);
                        req->reply.content_type = replay.status >= 400 ? "application/problem+json"
                                                                       : "application/json";
                        req->reply.replayed = true;
                        return;
                }
                r = route->handler(req, &err);
                if (r < 0)
                        reply_problem(req, r, err.msg);
                if (req->reply.status >= 500) {
                        idempotency_abort(idempotency, scope, key);
                        return;
                }
                struct idempotency_answer a = {
                        .status = req->reply.status,
                        .body = req->reply.body,
                        .location = req->reply.location,
                };
                r = idempotency_finish(idempotency, scope, key, fingerprint, &a);
                if (r < 0)
                        log_error("cannot store answer for Idempotency-Key: %s", strerror(-r));
                return;
        }

        r = route->handler(req, &err);
        if (r < 0)
                reply_problem(req, r, err.msg);
}

struct record_ctx request_ctx(const struct api_request *req) {
        return (struct record_ctx){
                /* The hook's questions come through the API, but they are the hook's. */
                .source = streq(req->url, "/v1/admission") ? "hook" : "api",
                .request_id = req->request_id,
                .caller = req->caller,
                .role = role_to_string(req->role),
                /* {uuid} of /v1/vms/... only: elsewhere the id is a job's or a backup's. */
                .vm_uuid = req->uuid[0] && req->uuid[0] != '!' && strncmp(req->url, "/v1/vms/", 8) == 0 ? req->uuid
                                                                                                       : NULL,
        };
}

struct json_object *request_context_json(const struct api_request *req, const char *vm_name, const char *tenant,
                                         const char *decision_id) {
        _cleanup_json_ struct json_object *o = json_object_new_object();

        if (!o || json_add_string(o, "caller", req->caller) < 0 ||
            json_add_string(o, "role", role_to_string(req->role)) < 0 ||
            json_add_string(o, "request_id", req->request_id) < 0 || json_add_string(o, "vm_name", vm_name) < 0 ||
            json_add_string(o, "tenant", tenant) < 0 || json_add_string(o, "decision", decision_id) < 0)
                return NULL;
        return TAKE_PTR(o);
}

int note_decision(struct api_request *req, const struct decision *d, const char *vm_uuid, const char *vm_name,
                  const char *tenant, struct sovd_err *err) {
        return note_decision_migration(req, d, vm_uuid, vm_name, tenant, NULL, err);
}

int note_decision_migration(struct api_request *req, const struct decision *d, const char *vm_uuid,
                            const char *vm_name, const char *tenant, const char *migration_id, struct sovd_err *err) {
        struct record_ctx ctx = request_ctx(req);
        int r;

        ctx.migration_id = migration_id;
        ctx.vm_uuid = vm_uuid;
        ctx.vm_name = vm_name;
        ctx.tenant = tenant;
        log_emit(d->allowed ? LOG_INFO : LOG_WARNING,
                 LOG_FIELDS({ "SOVD_REQUEST_ID", req->request_id }, { "SOVD_DECISION", d->allowed ? "allow" : "deny" },
                            { "SOVD_DECISION_ID", d->id }, { "SOVD_POLICY", d->policy_name },
                            { "SOVD_POLICY_DIGEST", d->policy ? d->policy->digest : NULL }, { "SOVD_VM_UUID", vm_uuid },
                            { "SOVD_TENANT", tenant }, { "SOVD_OPERATION", d->operation }),
                 "%s", d->reason);
        r = record_decision(&ctx, d, err);
        if (r < 0) {
                log_error("cannot write the audit record of decision %s: %s; refusing to act on it", d->id, err->msg);
                return err_set(err, -EIO, "the decision could not be written to the audit log (%s); nothing was done",
                               err->msg);
        }
        return 0;
}

/* The gap the rate limit left, on record: how many refusals of @who were only counted. */
static void record_refusals_missed(struct api_request *req, const char *who, uint64_t missed) {
        _cleanup_json_ struct json_object *extra = json_object_new_object();
        _cleanup_free_ char *detail = NULL;
        struct record_ctx ctx = request_ctx(req);
        struct sovd_err err = {};

        ctx.vm_uuid = NULL;
        if (asprintf(&detail, "%" PRIu64 " refused calls of %s were counted, not recorded one by one (more than %d "
                              "at once, then %d a second)",
                     missed, who, REFUSAL_RECORD_BURST, REFUSAL_RECORD_PER_SEC) < 0) {
                detail = NULL;
                return;
        }
        if (!extra || json_add_int(extra, "count", (int64_t) missed) < 0 ||
            record_operation(&ctx, "refusal-records", "rate-limited", NULL, detail, extra, &err) < 0)
                log_emit(LOG_ERR, LOG_FIELDS({ "SOVD_REQUEST_ID", req->request_id }), "cannot record that %s",
                         detail);
}

/*
 * Every call of a state-changing route becomes a record, refusals included,
 * those of one caller rate limited (refusal_records).
 */
static void record_request(struct api_request *req, const struct api_route *route) {
        struct record_ctx ctx = request_ctx(req);
        struct sovd_err err = {};
        int r;

        if (!route || !route->audited || req->reply.replayed)
                return;
        if (req->reply.status >= 400 && req->reply.status < 500 && refusal_records) {
                const char *who = req->scope[0] ? req->scope : "unauthenticated";
                uint64_t missed = 0;

                if (!ratelimit_take(refusal_records, who, now_monotonic_usec(), &missed)) {
                        metrics_count_refusals_not_recorded(1);
                        if (missed == 1)
                                log_emit(LOG_WARNING, LOG_FIELDS({ "SOVD_REQUEST_ID", req->request_id }),
                                         "refused calls of %s come faster than %d a second: counted, not recorded "
                                         "one by one, until they slow down",
                                         who, REFUSAL_RECORD_PER_SEC);
                        return;
                }
                if (missed > 0)
                        record_refusals_missed(req, who, missed);
        }
        /* A creation names its VM only in the answer's Location. */
        if (!ctx.vm_uuid && req->reply.location && strncmp(req->reply.location, "/v1/vms/", 8) == 0)
                ctx.vm_uuid = req->reply.location + 8;
        r = record_call(&ctx, req->method, req->url, req->reply.status, req->reply.detail, &err);
        if (r < 0)
                log_emit(LOG_ERR, LOG_FIELDS({ "SOVD_REQUEST_ID", req->request_id }),
                         "cannot write the audit record of %s %s: %s", req->method, req->url,
                         err.msg[0] ? err.msg : strerror(-r));
}

static void dispatch(struct api_request *req) {
        const struct api_route *route = NULL;

        dispatch_route(req, &route);
        record_request(req, route);
}

static enum MHD_Result send_reply(struct api_request *req) {
        struct MHD_Response *resp;
        enum MHD_Result ret;
        if (req->reply.status == 0)
                reply_problem(req, -EIO, "handler produced no answer");
        metrics_count_request(req->reply.status);
        if (req->reply.body) {
                /* Handed over, not copied: a VM listing can be hundreds of KiB. */
                char *body = req->reply.body;
                resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
                if (resp)
                        req->reply.body = NULL;
        } else
                resp = MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT);
        if (!resp)
                return MHD_NO;
        if (req->reply.content_type)
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, req->reply.content_type);
        (void) MHD_add_response_header(resp, "X-Request-Id", req->request_id);
        if (req->reply.location)
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, req->reply.location);
        if (req->reply.allow)
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, req->reply.allow);
        if (req->reply.replayed)
                (void) MHD_add_response_header(resp, "Idempotent-Replayed", "true");
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        if (req->over_limit)
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
        ret = MHD_queue_response(req->connection, (unsigned) req->reply.status, resp);
        MHD_destroy_response(resp);
        return ret;
}

static void log_request(struct api_request *req) {
        char status[8];
        bool mutation = !streq(req->method, "GET");
        int prio = req->reply.status >= 500 ? LOG_ERR : mutation || req->reply.status >= 400 ? LOG_INFO : LOG_DEBUG;

        snprintf(status, sizeof(status), "%d", req->reply.status);
        log_emit(prio,
                 LOG_FIELDS({ "SOVD_REQUEST_ID", req->request_id }, { "SOVD_METHOD", req->method },
                            { "SOVD_PATH", req->url }, { "SOVD_STATUS", status }, { "SOVD_CALLER", req->caller },
                            { "SOVD_ROLE", role_to_string(req->role) },
                            { "SOVD_VM_UUID", req->uuid[0] ? req->uuid : NULL }),
                 "%s %s -> %d (%s, %s)%s%s", req->method, req->url, req->reply.status, req->caller,
                 role_to_string(req->role), req->reply.detail ? ": " : "", req->reply.detail ? req->reply.detail : "");
}

static struct api_request *request_new(struct MHD_Connection *connection, const char *url, const char *method) {
        struct api_request *req = calloc(1, sizeof(*req));
        const char *rid;

        if (!req)
                return NULL;
        req->connection = connection;
        req->url = url;
        req->method = method;
        req->config = config_get();
        rid = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "X-Request-Id");
        if (rid && request_id_is_valid(rid))
                snprintf(req->request_id, sizeof(req->request_id), "%s", rid);
        else
                id_new(req->request_id);
        identify_caller(req);
        return req;
}

static void request_free(struct api_request *req) {
        if (!req)
                return;
        api_reply_done(&req->reply);
        free(req->body);
        config_unref(req->config);
        free(req);
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *connection, const char *url,
                                      const char *method, const char *version, const char *upload_data,
                                      size_t *upload_data_size, void **con_cls) {
        struct api_request *req = *con_cls;
        enum MHD_Result ret;

        if (!req) {
                const char *cl;

                req = request_new(connection, url, method);
                if (!req)
                        return MHD_NO;
                *con_cls = req;
                /*
                 * An announced oversized body: read and drop it, then answer 413, so that a
                 * client that writes its whole body before reading still gets the answer.
                 * Beyond DISCARD_MAX, answer at once and let the connection close.
                 */
                cl = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
                if (cl && strtoull(cl, NULL, 10) > req->config->max_body_bytes) {
                        req->body_too_large = true;
                        if (strtoull(cl, NULL, 10) > DISCARD_MAX) {
                                char detail[128];
                                snprintf(detail, sizeof(detail), "request body larger than %zu bytes",
                                         req->config->max_body_bytes);
                                reply_problem(req, -EFBIG, detail);
                                log_request(req);
                                return send_reply(req);
                        }
                }
                return MHD_YES;
        }

        if (*upload_data_size > 0) {
                size_t n = *upload_data_size;

                *upload_data_size = 0;
                if (req->body_too_large) {
                        req->discarded += n;
                        return req->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
                }
                if (req->body_len + n > req->config->max_body_bytes) {
                        /*
                         * A chunked upload over the limit. libmicrohttpd cannot answer in the
                         * middle of an upload, so the rest is read and dropped and the 413 goes
                         * out at the end; past DISCARD_MAX the connection is simply closed.
                         */
                        req->body_too_large = true;
                        req->discarded = req->body_len + n;
                        free(req->body);
                        req->body = NULL;
                        req->body_len = 0;
                        return MHD_YES;
                }
                char *p = realloc(req->body, req->body_len + n + 1);
                if (!p)
                        return MHD_NO;
                memcpy(p + req->body_len, upload_data, n);
                req->body = p;
                req->body_len += n;
                req->body[req->body_len] = '\0';
                return MHD_YES;
        }

        if (req->reply.status != 0)
                return MHD_YES; /* already answered (early 413) */
        dispatch(req);
        log_request(req);
        ret = send_reply(req);
        return ret;
}

static void request_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
        request_free(*con_cls);
        *con_cls = NULL;
}

static int hex_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/*
 * MHD's percent-decoding of paths and query arguments, except that %00 is
 * left as it is: decoded, the NUL would end the C string early, and
 * "/snapshots/a%00b" would name, and delete, snapshot "a" ("?state=queued%00"
 * would be "queued"). Left encoded it is refused like any other bad name.
 */
static size_t unescape_keeping_nul(void *cls, struct MHD_Connection *connection, char *s) {
        char *w = s;

        for (const char *r = s; *r;) {
                int hi = r[0] == '%' ? hex_value(r[1]) : -1, lo = hi >= 0 ? hex_value(r[2]) : -1;
                if (lo >= 0 && (hi | lo) != 0) {
                        *w++ = (char) (hi << 4 | lo);
                        r += 3;
                } else
                        *w++ = *r++;
        }
        *w = '\0';
        return (size_t) (w - s);
}

_printf_(2, 0) static void mhd_log(void *cls, const char *fmt, va_list ap) {
        char buf[512];

        (void) vsnprintf(buf, sizeof(buf), fmt, ap);
        buf[strcspn(buf, "\n")] = '\0';
        log_debug("libmicrohttpd: %s", buf);
}

/* TLS 1.2 and 1.3 only, GnuTLS's secure defaults otherwise. */
#define TLS_PRIORITIES "SECURE256:SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE"

int api_serve(int fd, const char *description, const struct tls_config *tls, struct sovd_err *err) {
        struct MHD_Daemon *d;
        _cleanup_config_ struct config *c = config_get();
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

        if (n_daemons >= MAX_LISTENERS) {
                close(fd);
                return err_set(err, -E2BIG, "at most %d listeners", MAX_LISTENERS);
        }
        if (tls)
                d = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, access_handler, NULL,
                                     /* First, so that MHD's own start-up messages reach our log too. */
                                     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET,
                                     fd, MHD_OPTION_THREAD_POOL_SIZE, (unsigned) WORKER_THREADS,
                                     MHD_OPTION_CONNECTION_LIMIT, c->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
                                     (unsigned) CONNECTION_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, request_completed,
                                     NULL, MHD_OPTION_HTTPS_MEM_CERT,
                                     tls->cert_pem, MHD_OPTION_HTTPS_MEM_KEY, tls->key_pem,
                                     /* A trust list makes MHD ask every client for its certificate. */
                                     MHD_OPTION_HTTPS_MEM_TRUST, tls->ca_pem, MHD_OPTION_HTTPS_PRIORITIES,
                                     TLS_PRIORITIES, MHD_OPTION_NOTIFY_CONNECTION, notify_connection, NULL,
                                     MHD_OPTION_UNESCAPE_CALLBACK, unescape_keeping_nul, NULL, MHD_OPTION_END);
        else
                d = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, NULL,
                                     /* First, so that MHD's own start-up messages reach our log too. */
                                     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
                                     MHD_OPTION_THREAD_POOL_SIZE, (unsigned) WORKER_THREADS,
                                     MHD_OPTION_CONNECTION_LIMIT, c->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
                                     (unsigned) CONNECTION_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, request_completed,
                                     NULL, MHD_OPTION_NOTIFY_CONNECTION, notify_unix_connection, NULL,
                                     MHD_OPTION_UNESCAPE_CALLBACK, unescape_keeping_nul, NULL, MHD_OPTION_END);
        if (!d) {
                close(fd);
                return err_set(err, -EIO, "cannot start the HTTP server on %s", description);
        }
        daemons[n_daemons++] = d;
        return 0;
}

void api_shutdown(void) {
        /* MHD closes the listening socket it was given. */
        for (size_t i = 0; i < n_daemons; i++)
                MHD_stop_daemon(daemons[i]);
        n_daemons = 0;
        config_unref(TAKE_PTR(current_config));
        ratelimit_free(TAKE_PTR(refusal_records));
}
