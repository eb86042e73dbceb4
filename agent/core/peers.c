/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <stdio.h>
#include <curl/curl.h>

#include "sovd/json-util.h"
#include "sovd/names.h"
#include "sovd/peers.h"
#include "sovd/time-util.h"

#define ANSWER_MAX (1024 * 1024)

struct last_report {
        char name[NAME_MAX_LEN + 1];
        time_t reported_at;
        char *host_json; /* the last good /v1/host answer, serialised */
};

/* The last good report per peer; guarded by report_lock. */
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static struct last_report reports[64];
static size_t n_reports;

void peers_forget(void) {
        pthread_mutex_lock(&report_lock);
        for (size_t i = 0; i < n_reports; i++)
                free(reports[i].host_json);
        n_reports = 0;
        pthread_mutex_unlock(&report_lock);
}

static void remember(const char *name, const char *host_json) {
        pthread_mutex_lock(&report_lock);
        size_t i;
        for (i = 0; i < n_reports; i++)
                if (streq(reports[i].name, name))
                        break;
        if (i == n_reports && n_reports < ELEMENTSOF(reports))
                snprintf(reports[n_reports++].name, sizeof(reports[0].name), "%s", name);
        if (i < n_reports) {
                char *copy = strdup(host_json);
                if (copy) {
                        free(reports[i].host_json);
                        reports[i].host_json = copy;
                        reports[i].reported_at = time(NULL);
                }
        }
        pthread_mutex_unlock(&report_lock);
}

struct fetch {
        const struct peer_config *peer;
        CURL *curl;
        struct curl_slist *connect_to;
        char *url;
        char *body;
        size_t len;
        bool too_large;
        bool done;
        CURLcode result;
        char curl_error[CURL_ERROR_SIZE];
};

static size_t on_data(char *data, size_t size, size_t n, void *userdata) {
        struct fetch *f = userdata;
        size_t add = size * n;
        char *p;

        if (f->len + add > ANSWER_MAX) {
                f->too_large = true;
                return 0;
        }
        p = realloc(f->body, f->len + add + 1);
        if (!p)
                return 0;
        memcpy(p + f->len, data, add);
        f->body = p;
        f->len += add;
        f->body[f->len] = '\0';
        return add;
}

static void fetch_done(struct fetch *f) {
        if (f->curl)
                curl_easy_cleanup(f->curl);
        curl_slist_free_all(f->connect_to);
        free(f->url);
        free(f->body);
        *f = (struct fetch){};
}

/*
 * With an expected subject, the request names the subject (so TLS checks
 * the certificate against it) and CONNECT_TO sends it to the URL's address.
 */
static int fetch_setup(const struct config *c, const struct peer_config *p, const char *path, struct fetch *f) {
        const char *hostport = p->url + strlen("https://");
        const char *colon = strrchr(hostport, ':');

        f->peer = p;
        f->curl = curl_easy_init();
        if (!f->curl)
                return -ENOMEM;
        if (p->subject) {
                _cleanup_free_ char *rule = NULL;
                if (asprintf(&f->url, "https://%s:%s%s", p->subject, colon + 1, path) < 0 ||
                    asprintf(&rule, "%s:%s:%.*s:%s", p->subject, colon + 1, (int) (colon - hostport), hostport,
                             colon + 1) < 0)
                        return -ENOMEM;
                f->connect_to = curl_slist_append(NULL, rule);
                if (!f->connect_to)
                        return -ENOMEM;
                (void) curl_easy_setopt(f->curl, CURLOPT_CONNECT_TO, f->connect_to);
        } else if (asprintf(&f->url, "%s%s", p->url, path) < 0)
                return -ENOMEM;
        (void) curl_easy_setopt(f->curl, CURLOPT_URL, f->url);
        (void) curl_easy_setopt(f->curl, CURLOPT_PROTOCOLS_STR, "https");
        (void) curl_easy_setopt(f->curl, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
        (void) curl_easy_setopt(f->curl, CURLOPT_CAINFO, c->tls->ca_path);
        (void) curl_easy_setopt(f->curl, CURLOPT_CAPATH, NULL);
        (void) curl_easy_setopt(f->curl, CURLOPT_SSLCERT, c->tls->client_cert_path);
        (void) curl_easy_setopt(f->curl, CURLOPT_SSLKEY, c->tls->client_key_path);
        (void) curl_easy_setopt(f->curl, CURLOPT_SSL_VERIFYPEER, 1L);
        (void) curl_easy_setopt(f->curl, CURLOPT_SSL_VERIFYHOST, 2L);
        (void) curl_easy_setopt(f->curl, CURLOPT_TIMEOUT_MS, (long) PEER_TIMEOUT_MS);
        (void) curl_easy_setopt(f->curl, CURLOPT_CONNECTTIMEOUT_MS, (long) PEER_TIMEOUT_MS);
        (void) curl_easy_setopt(f->curl, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(f->curl, CURLOPT_NOPROXY, "*");
        (void) curl_easy_setopt(f->curl, CURLOPT_FOLLOWLOCATION, 0L);
        (void) curl_easy_setopt(f->curl, CURLOPT_WRITEFUNCTION, on_data);
        (void) curl_easy_setopt(f->curl, CURLOPT_WRITEDATA, f);
        (void) curl_easy_setopt(f->curl, CURLOPT_ERRORBUFFER, f->curl_error);
        return 0;
}

/* Judges a finished transfer: trusted, answered 200 with a JSON document (*ret). */
static int fetch_check(struct fetch *f, CURLcode code, const char *path, struct json_object **ret,
                       struct sovd_err *err) {
        long status = 0;

        if (code != CURLE_OK) {
                const char *why = f->curl_error[0] ? f->curl_error : curl_easy_strerror(code);
                bool trust = code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE ||
                             code == CURLE_SSL_ISSUER_ERROR;
                return err_set(err, trust ? -EKEYREJECTED : -EHOSTUNREACH, "peer '%s' (%s): %s", f->peer->name,
                               f->peer->url, why);
        }
        (void) curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200)
                return err_set(err, status == 401 || status == 403 ? -EKEYREJECTED : -EHOSTUNREACH,
                               "peer '%s' answered HTTP %ld to GET %s%s", f->peer->name, status, path,
                               status == 403 ? " (is this agent's certificate mapped in its tls.roles?)" : "");
        if (!f->body || json_parse_strict(f->body, f->len, ret, err) < 0 ||
            !json_object_is_type(*ret, json_type_object)) {
                json_object_put(*ret);
                *ret = NULL;
                return err_set(err, -EBADMSG, "peer '%s' did not answer JSON to GET %s", f->peer->name, path);
        }
        return 0;
}

/* Judges a finished transfer; on success the host document and its tags. */
static int fetch_result(struct fetch *f, CURLcode code, struct json_object **ret_host, struct tags *ret_tags,
                        struct sovd_err *err) {
        _cleanup_json_ struct json_object *doc = NULL;
        struct json_object *tags_obj = NULL;
        int r;

        r = fetch_check(f, code, "/v1/host", &doc, err);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(doc, "tags", &tags_obj))
                return err_set(err, -EBADMSG, "peer '%s' did not answer a host document", f->peer->name);
        /* The peer's tags are outside input like any other. */
        r = tags_parse(tags_obj, "peer tags", ret_tags, err);
        if (r < 0)
                return err_prefix(err, -EBADMSG, "peer '%s' reported invalid tags", f->peer->name);
        remember(f->peer->name, f->body);
        *ret_host = TAKE_PTR(doc);
        return 0;
}

int peer_fetch_host(const struct config *c, const char *name, struct json_object **ret_host, struct tags *ret_tags,
                    struct sovd_err *err) {
        const struct peer_config *p = config_peer(c, name);
        struct fetch f = {};
        CURLcode code;
        int r;

        if (!p)
                return err_set(err, -ENOENT, "no peer named '%s' is configured", name);
        r = fetch_setup(c, p, "/v1/host", &f);
        if (r < 0) {
                fetch_done(&f);
                return r;
        }
        code = curl_easy_perform(f.curl);
        r = fetch_result(&f, code, ret_host, ret_tags, err);
        fetch_done(&f);
        return r;
}

int peer_get_json(const struct config *c, const char *name, const char *path, struct json_object **ret,
                  struct sovd_err *err) {
        const struct peer_config *p = config_peer(c, name);
        struct fetch f = {};
        int r;

        if (!p)
                return err_set(err, -ENOENT, "no peer named '%s' is configured", name);
        r = fetch_setup(c, p, path, &f);
        if (r >= 0)
                r = fetch_check(&f, curl_easy_perform(f.curl), path, ret, err);
        fetch_done(&f);
        return r;
}

static int add_last_report(struct json_object *o, const char *name) {
        _cleanup_json_ struct json_object *host = NULL;
        char when[RFC3339_MAX] = "";
        bool have = false;

        pthread_mutex_lock(&report_lock);
        for (size_t i = 0; i < n_reports; i++)
                if (streq(reports[i].name, name) && reports[i].host_json) {
                        host = json_tokener_parse(reports[i].host_json);
                        rfc3339_format(reports[i].reported_at, when);
                        have = host != NULL;
                }
        pthread_mutex_unlock(&report_lock);
        if (!have)
                return json_add(o, "reported_at", NULL) < 0 || json_add(o, "host", NULL) < 0 ? -ENOMEM : 0;
        struct json_object *summary = json_object_new_object(), *v;
        if (!summary || json_add_string(o, "reported_at", when) < 0 || json_add(o, "host", summary) < 0)
                return -ENOMEM;
        static const char *const keep[] = { "hostname", "host_uuid", "sovd_version", "tags", "libvirt", NULL };
        for (const char *const *k = keep; *k; k++)
                if (json_object_object_get_ex(host, *k, &v) && json_add(summary, *k, json_object_get(v)) < 0)
                        return -ENOMEM;
        return 0;
}

int peers_report(const struct config *c, struct json_object **ret, struct sovd_err *err) {
        _cleanup_json_ struct json_object *arr = json_object_new_array();
        struct fetch *f = NULL;
        CURLM *multi = NULL;
        int r = 0, running = 0;
        char now[RFC3339_MAX];

        if (!arr)
                return -ENOMEM;
        if (c->n_peers == 0) {
                *ret = TAKE_PTR(arr);
                return 0;
        }
        f = calloc(c->n_peers, sizeof(*f));
        multi = curl_multi_init();
        if (!f || !multi) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < c->n_peers; i++) {
                if ((r = fetch_setup(c, &c->peers[i], "/v1/host", &f[i])) < 0)
                        goto out;
                curl_multi_add_handle(multi, f[i].curl);
        }
        /* Bounded: every transfer has its own timeout. */
        do {
                CURLMcode mc = curl_multi_perform(multi, &running);
                if (mc != CURLM_OK)
                        break;
                if (running)
                        (void) curl_multi_poll(multi, NULL, 0, 200, NULL);
        } while (running);

        rfc3339_format(time(NULL), now);
        for (;;) {
                int left;
                CURLMsg *m = curl_multi_info_read(multi, &left);
                if (!m)
                        break;
                if (m->msg != CURLMSG_DONE)
                        continue;
                for (size_t i = 0; i < c->n_peers; i++)
                        if (f[i].curl == m->easy_handle) {
                                f[i].done = true;
                                f[i].result = m->data.result;
                        }
        }
        for (size_t i = 0; i < c->n_peers; i++) {
                _cleanup_json_ struct json_object *host = NULL;
                struct json_object *o = json_object_new_object();
                struct sovd_err ferr = {};
                struct tags tags = {};
                CURLcode code = f[i].done ? f[i].result : CURLE_OPERATION_TIMEDOUT;

                int k = fetch_result(&f[i], code, &host, &tags, &ferr);
                tags_done(&tags);
                if (!o || json_object_array_add(arr, o) < 0 || json_add_string(o, "name", c->peers[i].name) < 0 ||
                    json_add_string(o, "url", c->peers[i].url) < 0 || json_add_string(o, "subject", c->peers[i].subject) < 0 ||
                    json_add_bool(o, "reachable", k >= 0) < 0 || json_add_string(o, "error", k < 0 ? ferr.msg : NULL) < 0 ||
                    json_add_string(o, "checked_at", now) < 0 || add_last_report(o, c->peers[i].name) < 0) {
                        r = -ENOMEM;
                        goto out;
                }
        }
        *ret = TAKE_PTR(arr);
out:
        for (size_t i = 0; f && i < c->n_peers; i++) {
                if (f[i].curl && multi)
                        curl_multi_remove_handle(multi, f[i].curl);
                fetch_done(&f[i]);
        }
        free(f);
        if (multi)
                curl_multi_cleanup(multi);
        if (r < 0)
                return err_set(err, r, "cannot ask the peers");
        return 0;
}
