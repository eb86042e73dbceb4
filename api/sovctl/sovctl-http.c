/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "sovd/version.h"
#include "sovctl.h"
#include "sovctl-http.h"

/* Connecting to a local daemon or a host in the same site takes far less. */
#define SOVCTL_CONNECT_TIMEOUT_SEC 5L
/* Header values we keep are shown to users; longer ones are garbage anyway. */
#define SOVCTL_HEADER_VALUE_MAX 256

struct sovctl_http {
        CURL *curl;
        char *base_url; /* "http://localhost" for the socket, else the --url */
        char *target;   /* what error messages name */
        bool is_unix;
        char curl_error[CURL_ERROR_SIZE];
        char error[CURL_ERROR_SIZE + 64];
};

/* State of the request in flight, shared with the libcurl callbacks. */
struct sovctl_transfer {
        struct sovctl_response *resp;
        size_t capacity;
        bool too_large;
        bool oom;
};

void sovctl_response_done(struct sovctl_response *r) {
        if (!r)
                return;
        free(r->reason);
        free(r->content_type);
        free(r->request_id);
        free(r->body);
        memset(r, 0, sizeof(*r));
}

/*
 * Copies a header value, trimmed, capped and with control bytes replaced:
 * it comes from the server and ends up on the user's terminal.
 */
static char *sovctl_http_header_value(const char *p, size_t n) {
        char *s;

        while (n > 0 && (*p == ' ' || *p == '\t')) {
                p++;
                n--;
        }
        while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' ' ||
                         p[n - 1] == '\t'))
                n--;
        if (n > SOVCTL_HEADER_VALUE_MAX)
                n = SOVCTL_HEADER_VALUE_MAX;
        s = strndup(p, n);
        if (!s)
                return NULL;
        for (char *c = s; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        *c = '?';
        return s;
}

/* Matches "Name:" case-insensitively at the start of a header line. */
static bool sovctl_http_header_is(const char *line, size_t n, const char *name) {
        size_t l = strlen(name);

        return n > l && strncasecmp(line, name, l) == 0 && line[l] == ':';
}

static size_t sovctl_http_on_header(char *line, size_t size, size_t nitems, void *userdata) {
        struct sovctl_transfer *t = userdata;
        struct sovctl_response *r = t->resp;
        size_t n = size * nitems;
        char **slot = NULL;
        const char *value = NULL;
        size_t value_len = 0;

        if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
                /* A new status line (after 100 Continue, say): forget the last one. */
                const char *p = line, *end = line + n;

                free(r->reason);
                r->reason = NULL;
                free(r->request_id);
                r->request_id = NULL;
                r->replayed = false;

                /* "HTTP/1.1 409 Conflict": skip version and code. */
                for (int field = 0; field < 2; field++) {
                        while (p < end && *p != ' ')
                                p++;
                        while (p < end && *p == ' ')
                                p++;
                }
                r->reason = sovctl_http_header_value(p, (size_t) (end - p));
                if (!r->reason) {
                        t->oom = true;
                        return 0;
                }
                return n;
        }

        if (sovctl_http_header_is(line, n, "X-Request-Id")) {
                slot = &r->request_id;
                value = line + strlen("X-Request-Id:");
                value_len = n - strlen("X-Request-Id:");
        } else if (sovctl_http_header_is(line, n, "Idempotent-Replayed")) {
                _cleanup_free_ char *v = sovctl_http_header_value(
                        line + strlen("Idempotent-Replayed:"), n - strlen("Idempotent-Replayed:"));
                if (!v) {
                        t->oom = true;
                        return 0;
                }
                r->replayed = strcasecmp(v, "true") == 0;
                return n;
        }

        if (slot) {
                free(*slot);
                *slot = sovctl_http_header_value(value, value_len);
                if (!*slot) {
                        t->oom = true;
                        return 0;
                }
        }
        return n;
}

static size_t sovctl_http_on_body(char *data, size_t size, size_t nmemb, void *userdata) {
        struct sovctl_transfer *t = userdata;
        struct sovctl_response *r = t->resp;
        size_t n = size * nmemb;

        /* Refuse before growing: the cap bounds memory, not just the result. */
        if (n > SOVCTL_MAX_ANSWER_BYTES - r->size) {
                t->too_large = true;
                return 0;
        }
        if (r->size + n + 1 > t->capacity) {
                size_t cap = t->capacity ? t->capacity : 16384;
                char *p;

                while (cap < r->size + n + 1)
                        cap *= 2;
                if (cap > (size_t) SOVCTL_MAX_ANSWER_BYTES + 1)
                        cap = (size_t) SOVCTL_MAX_ANSWER_BYTES + 1;
                p = realloc(r->body, cap);
                if (!p) {
                        t->oom = true;
                        return 0;
                }
                r->body = p;
                t->capacity = cap;
        }
        memcpy(r->body + r->size, data, n);
        r->size += n;
        r->body[r->size] = '\0';
        return n;
}

static int sovctl_http_setup(struct sovctl_http *h, const struct sovctl_http_config *cfg) {
        CURL *c = h->curl;
        long timeout = cfg->timeout_sec > 0 ? cfg->timeout_sec : 120;
        long connect_timeout = timeout < SOVCTL_CONNECT_TIMEOUT_SEC ? timeout
                                                                     : SOVCTL_CONNECT_TIMEOUT_SEC;
        CURLcode rc = CURLE_OK;

#define SET(opt, val)                                             \
        do {                                                      \
                if (rc == CURLE_OK)                               \
                        rc = curl_easy_setopt(c, opt, val);       \
        } while (0)

        SET(CURLOPT_ERRORBUFFER, h->curl_error);
        /* No signal-based DNS timeouts: sovctl owns its signal handling. */
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_CONNECTTIMEOUT, connect_timeout);
        SET(CURLOPT_TIMEOUT, timeout);
        SET(CURLOPT_USERAGENT, "sovctl/" SOVD_VERSION);
        /* sovd speaks HTTP/1.1 only; no ALPN detour. */
        SET(CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
        /*
         * Never through a proxy named in the environment: the request
         * carries our client certificate's authority and must go to sovd
         * itself, and no redirect is followed for the same reason.
         */
        SET(CURLOPT_PROXY, "");
        SET(CURLOPT_FOLLOWLOCATION, 0L);
        /* Lets libcurl stop early when Content-Length already says too much. */
        SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) SOVCTL_MAX_ANSWER_BYTES);
        SET(CURLOPT_HEADERFUNCTION, sovctl_http_on_header);
        SET(CURLOPT_WRITEFUNCTION, sovctl_http_on_body);

        if (cfg->url) {
                SET(CURLOPT_PROTOCOLS_STR, "https");
                SET(CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
                SET(CURLOPT_SSL_VERIFYPEER, 1L);
                SET(CURLOPT_SSL_VERIFYHOST, 2L);
                if (cfg->cert)
                        SET(CURLOPT_SSLCERT, cfg->cert);
                if (cfg->key)
                        SET(CURLOPT_SSLKEY, cfg->key);
                /*
                 * --cacert is the only trust: the agent's CA, not the system's bundle of
                 * public CAs (which also costs ~40 ms per connection to load).
                 */
                if (cfg->cacert) {
                        SET(CURLOPT_CAINFO, cfg->cacert);
                        SET(CURLOPT_CAPATH, NULL);
                }
        } else {
                SET(CURLOPT_PROTOCOLS_STR, "http");
                SET(CURLOPT_UNIX_SOCKET_PATH, cfg->socket_path);
        }
#undef SET

        if (rc == CURLE_OUT_OF_MEMORY)
                return -ENOMEM;
        if (rc != CURLE_OK) {
                snprintf(h->error, sizeof(h->error), "%s", curl_easy_strerror(rc));
                return -EINVAL;
        }
        return 0;
}

int sovctl_http_new(const struct sovctl_http_config *cfg, struct sovctl_http **ret,
                    const char **ret_error) {
        _cleanup_(sovctl_http_freep) struct sovctl_http *h = NULL;
        int r;

        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->curl = curl_easy_init();
        if (!h->curl)
                return -ENOMEM;

        if (cfg->url) {
                size_t n;

                h->base_url = strdup(cfg->url);
                h->target = strdup(cfg->url);
                if (!h->base_url || !h->target)
                        return -ENOMEM;
                /* Paths we append start with "/"; avoid "//v1/host". */
                n = strlen(h->base_url);
                while (n > 0 && h->base_url[n - 1] == '/')
                        h->base_url[--n] = '\0';
        } else {
                /* The host part is ignored on a Unix socket, but HTTP/1.1 needs a Host. */
                h->base_url = strdup("http://localhost");
                h->target = strdup(cfg->socket_path);
                h->is_unix = true;
                if (!h->base_url || !h->target)
                        return -ENOMEM;
        }

        r = sovctl_http_setup(h, cfg);
        if (r < 0) {
                /* h->error dies with h: hand out libcurl's static text instead. */
                if (ret_error)
                        *ret_error = "libcurl refused an option; is it 7.88 or newer?";
                return r;
        }

        *ret = TAKE_PTR(h);
        return 0;
}

struct sovctl_http *sovctl_http_free(struct sovctl_http *h) {
        if (!h)
                return NULL;
        if (h->curl)
                curl_easy_cleanup(h->curl);
        free(h->base_url);
        free(h->target);
        free(h);
        return NULL;
}

const char *sovctl_http_error(const struct sovctl_http *h) {
        return h->error;
}

const char *sovctl_http_target(const struct sovctl_http *h) {
        return h->target;
}

bool sovctl_http_is_unix(const struct sovctl_http *h) {
        return h->is_unix;
}

char *sovctl_http_escape(struct sovctl_http *h, const char *s) {
        char *e, *copy;

        e = curl_easy_escape(h->curl, s, 0);
        if (!e)
                return NULL;
        /* Callers free() what we return; libcurl's memory goes back via curl_free. */
        copy = strdup(e);
        curl_free(e);
        return copy;
}

/* Sets h->error from what libcurl knows and maps @rc to our errno. */
static int sovctl_http_fail(struct sovctl_http *h, CURLcode rc, const struct sovctl_transfer *t) {
        const char *detail = h->curl_error[0] ? h->curl_error : curl_easy_strerror(rc);
        long os_errno = 0;

        if (t->oom || rc == CURLE_OUT_OF_MEMORY) {
                snprintf(h->error, sizeof(h->error), "out of memory");
                return -ENOMEM;
        }
        if (t->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
                snprintf(h->error, sizeof(h->error), "answer larger than %u MiB",
                         SOVCTL_MAX_ANSWER_BYTES / (1024u * 1024u));
                return -EFBIG;
        }

        switch (rc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                /* "No such file or directory" says more than "Couldn't connect". */
                (void) curl_easy_getinfo(h->curl, CURLINFO_OS_ERRNO, &os_errno);
                if (os_errno > 0)
                        snprintf(h->error, sizeof(h->error), "%s", strerror((int) os_errno));
                else
                        snprintf(h->error, sizeof(h->error), "%s", detail);
                return -ECONNREFUSED;
        case CURLE_OPERATION_TIMEDOUT:
                snprintf(h->error, sizeof(h->error), "%s", detail);
                return -ETIMEDOUT;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
                snprintf(h->error, sizeof(h->error), "%s", detail);
                return -ECONNRESET;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_CLIENTCERT:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
        case CURLE_SSL_ENGINE_INITFAILED:
        case CURLE_USE_SSL_FAILED:
                snprintf(h->error, sizeof(h->error), "%s", detail);
                return -EPROTO;
        default:
                snprintf(h->error, sizeof(h->error), "%s", detail);
                return -EBADMSG;
        }
}

/* Appends a copy of @line; on failure the list is left as it was. */
static int sovctl_http_add_header(struct curl_slist **list, const char *line) {
        struct curl_slist *l = curl_slist_append(*list, line);

        if (!l)
                return -ENOMEM;
        *list = l;
        return 0;
}

int sovctl_http_request(struct sovctl_http *h, const char *method, const char *path,
                        const char *body, size_t body_len, const char *idempotency_key,
                        struct sovctl_response *ret) {
        struct sovctl_response resp = {};
        struct sovctl_transfer t = { .resp = &resp };
        struct curl_slist *headers = NULL;
        _cleanup_free_ char *url = NULL, *key_header = NULL;
        CURLcode rc = CURLE_OK;
        char *ct = NULL;
        int r;

        memset(ret, 0, sizeof(*ret));
        h->error[0] = '\0';
        h->curl_error[0] = '\0';

        if (asprintf(&url, "%s%s", h->base_url, path) < 0) {
                url = NULL;
                return -ENOMEM;
        }

        /*
         * "Expect:" turns off 100-continue: bodies are small and the wait
         * would only add latency.
         */
        r = sovctl_http_add_header(&headers, "Accept: application/json, application/problem+json");
        if (r >= 0)
                r = sovctl_http_add_header(&headers, "Expect:");
        if (r >= 0 && body)
                r = sovctl_http_add_header(&headers, "Content-Type: application/json");
        if (r >= 0 && idempotency_key) {
                if (asprintf(&key_header, "Idempotency-Key: %s", idempotency_key) < 0) {
                        key_header = NULL;
                        r = -ENOMEM;
                } else
                        r = sovctl_http_add_header(&headers, key_header);
        }
        if (r < 0) {
                curl_slist_free_all(headers);
                return r;
        }

#define SET(opt, val)                                                   \
        do {                                                            \
                if (rc == CURLE_OK)                                     \
                        rc = curl_easy_setopt(h->curl, opt, val);       \
        } while (0)

        SET(CURLOPT_URL, url);
        SET(CURLOPT_HTTPHEADER, headers);
        SET(CURLOPT_HEADERDATA, &t);
        SET(CURLOPT_WRITEDATA, &t);
        /* The handle is reused (name lookup, then the action): reset the method. */
        SET(CURLOPT_CUSTOMREQUEST, (char *) NULL);
        if (streq(method, "POST")) {
                SET(CURLOPT_POST, 1L);
                SET(CURLOPT_POSTFIELDS, body ? body : "");
                SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) (body ? body_len : 0));
        } else {
                SET(CURLOPT_HTTPGET, 1L);
                if (!streq(method, "GET"))
                        SET(CURLOPT_CUSTOMREQUEST, method);
        }
#undef SET

        if (rc == CURLE_OK)
                rc = curl_easy_perform(h->curl);

        /* The list must outlive the transfer only, not the handle. */
        (void) curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, (struct curl_slist *) NULL);
        curl_slist_free_all(headers);

        if (rc != CURLE_OK) {
                r = sovctl_http_fail(h, rc, &t);
                sovctl_response_done(&resp);
                return r;
        }

        (void) curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp.status);
        if (curl_easy_getinfo(h->curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct) {
                resp.content_type = sovctl_http_header_value(ct, strlen(ct));
                if (!resp.content_type) {
                        sovctl_response_done(&resp);
                        return -ENOMEM;
                }
        }
        if (!resp.body) {
                resp.body = strdup("");
                if (!resp.body) {
                        sovctl_response_done(&resp);
                        return -ENOMEM;
                }
        }
        if (!resp.reason) {
                resp.reason = strdup("");
                if (!resp.reason) {
                        sovctl_response_done(&resp);
                        return -ENOMEM;
                }
        }

        *ret = resp;
        return 0;
}
