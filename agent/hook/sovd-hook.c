/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sovd-hook: libvirt's QEMU hook (door 5 of the sovereignty model). libvirt
 * runs /etc/libvirt/hooks/qemu, the wrapper in contrib/, which execs us as
 *
 *   sovd-hook [--socket PATH] [--timeout-ms N] [--fail-open] [--] NAME OP SUBOP EXTRA
 *
 * with the domain XML on stdin. Before libvirt starts a domain, or accepts
 * one migrating in, we ask sovd whether its sovereignty policy allows it
 * here; a non-zero exit makes libvirt refuse, and our stderr is the error
 * the user sees. Domains without sovd's binding are none of our business
 * and pass without sovd being asked, so they start even while sovd is down.
 *
 * Bound domains fail closed: when sovd cannot answer, they are refused
 * (--fail-open allows them, with a warning). The whole run has one time
 * budget, because libvirt waits for the hook with the domain's job held.
 *
 * libvirt's hook contract, which the code below keeps:
 *  - libvirt writes the XML to our stdin and expects it read: exiting first
 *    can fail its write, and then libvirt reports that instead of our reason;
 *  - for "migrate" and "restore" libvirt takes anything on stdout as a
 *    replacement domain XML, so stdout is pointed at /dev/null first thing;
 *  - libvirt calls the hook for every lifecycle event, so everything we do
 *    not check exits at once.
 */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "sovd/errors.h"
#include "sovd/json-util.h"
#include "sovd/strbuf.h"
#include "sovd/time-util.h"
#include "sovd/virt-vm.h"

#define HOOK_DEFAULT_SOCKET "/run/sovd/sovd.sock"
#define HOOK_DEFAULT_TIMEOUT_MS 5000
/* libvirt holds the domain's job while we run: no budget beyond a minute. */
#define HOOK_TIMEOUT_MS_MAX 60000
/* libvirt's own domain XML is a few KiB; this bounds memory, not use. */
#define HOOK_INPUT_MAX (16u * 1024 * 1024)
/* sovd's answer is a decision of a few KiB. */
#define HOOK_ANSWER_MAX (1024u * 1024)
/* One line on the user's terminal, refs included. */
#define HOOK_MESSAGE_MAX 2048

enum hook_exit {
        HOOK_EXIT_ALLOW = 0,
        HOOK_EXIT_REFUSE = 1,
        HOOK_EXIT_USAGE = 2,
};

/* What an invocation asks us to check. */
enum hook_check {
        HOOK_CHECK_NONE,
        HOOK_CHECK_START,
        HOOK_CHECK_MIGRATE_IN,
};

struct hook_args {
        const char *socket_path;
        uint64_t timeout_ms;
        bool fail_open;
        const char *domain; /* NAME, the first of libvirt's four arguments */
};

/* Bytes from outside (stdin, sovd's answer), NULs included, capped at @max. */
struct hook_buf {
        char *data; /* NUL-terminated once anything was appended */
        size_t len;
        size_t cap;
        size_t max;
};

/* The HTTP exchange with sovd, shared with libcurl's write callback. */
struct hook_answer {
        long status;
        struct hook_buf body;
        bool oom; /* the body outgrew memory, not just its cap */
};

/*
 * libvirt 9.0 (seen in a private host) calls, on every start (virsh start,
 * create, restore, snapshot revert): "prepare begin" then "start begin";
 * on the destination of a migration: "migrate begin", then "prepare begin"
 * and "start begin" while the incoming QEMU is launched. "prepare begin"
 * comes first, before libvirt allocates anything, and libvirt never runs
 * "start begin" without it (both are in the same start sequence), so
 * asking at "start begin" too would only double every decision and its
 * audit record. "migrate begin" runs only on the destination, and only
 * there is the incoming domain described: the check is "migrate-in".
 */
static enum hook_check hook_check_from_op(const char *op, const char *subop) {
        if (!streq(subop, "begin"))
                return HOOK_CHECK_NONE;
        if (streq(op, "prepare"))
                return HOOK_CHECK_START;
        if (streq(op, "migrate"))
                return HOOK_CHECK_MIGRATE_IN;
        return HOOK_CHECK_NONE;
}

static const char *hook_check_operation(enum hook_check c) {
        switch (c) {
        case HOOK_CHECK_START:
                return "start";
        case HOOK_CHECK_MIGRATE_IN:
                return "migrate-in";
        case HOOK_CHECK_NONE:
                break;
        }
        return NULL;
}

/* How the operation reads in a sentence: "denies incoming migration of web-1". */
static const char *hook_check_words(enum hook_check c) {
        switch (c) {
        case HOOK_CHECK_START:
                return "start";
        case HOOK_CHECK_MIGRATE_IN:
                return "incoming migration";
        case HOOK_CHECK_NONE:
                break;
        }
        return "use";
}

/*
 * libvirt's four arguments are always the last four, so a domain named
 * "--fail-open" is a name, never an option: options are looked for only
 * in front of them, whatever the wrapper does.
 */
static int hook_parse_args(int argc, char **argv, struct hook_args *ret, struct sovd_err *err) {
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "timeout-ms", required_argument, NULL, 't' },
                { "fail-open", no_argument, NULL, 'f' },
                {},
        };
        struct hook_args a = {
                .socket_path = HOOK_DEFAULT_SOCKET,
                .timeout_ms = HOOK_DEFAULT_TIMEOUT_MS,
        };
        int n_opts, c;

        if (argc < 5)
                return err_set(err, -EINVAL, "expected libvirt's arguments NAME OP SUBOP EXTRA, got %d argument(s)",
                               argc - 1);
        n_opts = argc - 4;
        opterr = 0;
        /* "+": stop at the first non-option instead of reordering argv. */
        while ((c = getopt_long(n_opts, argv, "+", options, NULL)) >= 0) {
                switch (c) {
                case 's':
                        if (!*optarg)
                                return err_set(err, -EINVAL, "--socket needs a path");
                        a.socket_path = optarg;
                        break;
                case 't': {
                        char *end;
                        unsigned long long v;

                        errno = 0;
                        v = strtoull(optarg, &end, 10);
                        if (errno || end == optarg || *end || *optarg == '-' || v < 1 ||
                            v > HOOK_TIMEOUT_MS_MAX)
                                return err_set(err, -EINVAL, "--timeout-ms: must be 1 to %d, got '%s'",
                                               HOOK_TIMEOUT_MS_MAX, optarg);
                        a.timeout_ms = v;
                        break;
                }
                case 'f':
                        a.fail_open = true;
                        break;
                default:
                        return err_set(err, -EINVAL, "unknown or incomplete option '%s'", argv[optind - 1]);
                }
        }
        if (optind != n_opts)
                return err_set(err, -EINVAL, "unexpected argument '%s' before libvirt's four", argv[optind]);
        a.domain = argv[argc - 4];
        *ret = a;
        return 0;
}

/* Milliseconds left until @deadline (monotonic µs), 0 once it has passed. */
static long hook_remaining_ms(uint64_t deadline) {
        uint64_t now = now_monotonic_usec();

        return now >= deadline ? 0 : (long) ((deadline - now + 999) / 1000);
}

/* Appends @n bytes; -EFBIG past b->max (nothing appended), -ENOMEM. */
static int hook_buf_append(struct hook_buf *b, const char *p, size_t n) {
        if (n > b->max - b->len)
                return -EFBIG;
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 16384;
                char *d;

                while (cap < b->len + n + 1)
                        cap *= 2;
                d = realloc(b->data, cap);
                if (!d)
                        return -ENOMEM;
                b->data = d;
                b->cap = cap;
        }
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
}

static void hook_buf_donep(struct hook_buf *b) {
        free(b->data);
}

/*
 * Reads @fd to its end. Up to @max bytes are kept in *ret (NUL-terminated,
 * caller frees); anything beyond is read and thrown away, so libvirt's
 * write completes and our refusal is what it reports. -EFBIG beyond @max,
 * -ETIMEDOUT at @deadline, -ENOMEM, or -errno. A closed fd reads as empty.
 */
static int hook_read_input(int fd, uint64_t deadline, size_t max, char **ret, size_t *ret_len,
                           struct sovd_err *err) {
        _cleanup_(hook_buf_donep) struct hook_buf in = { .max = max };
        char chunk[65536];
        bool too_large = false;

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                long ms = hook_remaining_ms(deadline);
                ssize_t n;
                int r;

                if (ms == 0)
                        return err_set(err, -ETIMEDOUT, "stdin not closed within the time budget");
                r = poll(&p, 1, (int) ms);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return err_set(err, -errno, "cannot poll stdin: %m");
                if (r == 0)
                        continue; /* the deadline check above ends the loop */
                if (p.revents & POLLNVAL)
                        break;
                n = read(fd, chunk, sizeof(chunk));
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < 0 && errno == EBADF)
                        break;
                if (n < 0)
                        return err_set(err, -errno, "cannot read stdin: %m");
                if (n == 0)
                        break;
                if (too_large)
                        continue;
                r = hook_buf_append(&in, chunk, (size_t) n);
                if (r == -EFBIG)
                        too_large = true;
                else if (r < 0)
                        return r;
        }
        if (too_large)
                return err_set(err, -EFBIG, "the domain XML is larger than %zu MiB", max >> 20);
        if (!in.data && hook_buf_append(&in, "", 0) < 0)
                return -ENOMEM;
        *ret_len = in.len;
        *ret = TAKE_PTR(in.data);
        return 0;
}

/* libxml2 calls this at "<!DOCTYPE", before any declaration in it is read. */
static void hook_xml_on_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id,
                                const xmlChar *system_id) {
        xmlParserCtxtPtr ctxt = ctx;

        *(bool *) ctxt->_private = true;
        xmlStopParser(ctxt);
}

static void xmlFreeDocp(xmlDocPtr *d) {
        if (*d)
                xmlFreeDoc(*d);
}

static void xmlFreeParserCtxtp(xmlParserCtxtPtr *c) {
        if (*c)
                xmlFreeParserCtxt(*c);
}

/* True for an element of the default namespace named @name, as libvirt writes them. */
static bool hook_xml_is_libvirt(xmlNodePtr n, const char *name) {
        return n->type == XML_ELEMENT_NODE && !n->ns && streq((const char *) n->name, name);
}

/*
 * Looks for sovd's binding: an element in sovd's namespace directly under
 * /domain/metadata. Any local name counts, not only <binding>: the binding
 * can be edited by hand (virsh metadata), and renaming it must not be a way
 * around the check; sovd judges whether it is valid.
 *
 * The XML is outside input even from libvirt (a user could run the hook):
 * no network, no entity substitution, no DOCTYPE at all (so no entity
 * declarations to expand), libxml2's default depth and size limits, and
 * read as UTF-8 whatever it declares, since sovd gets the same bytes as
 * JSON, which must be UTF-8. Returns 1 when bound, 0 when not, -EINVAL
 * (with @err) when the input is not a domain XML, -ENOMEM.
 */
static int hook_domain_is_bound(const char *xml, size_t len, struct sovd_err *err) {
        _cleanup_(xmlFreeParserCtxtp) xmlParserCtxtPtr ctxt = NULL;
        _cleanup_(xmlFreeDocp) xmlDocPtr doc = NULL;
        bool saw_doctype = false;
        xmlNodePtr root;

        if (len > INT32_MAX)
                return err_set(err, -EINVAL, "the domain XML is too large");
        ctxt = xmlNewParserCtxt();
        if (!ctxt || !ctxt->sax)
                return -ENOMEM;
        ctxt->_private = &saw_doctype;
        ctxt->sax->internalSubset = hook_xml_on_doctype;
        doc = xmlCtxtReadMemory(ctxt, xml, (int) len, "domain.xml", "UTF-8",
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                        XML_PARSE_IGNORE_ENC);
        if (saw_doctype)
                return err_set(err, -EINVAL, "the domain XML has a DOCTYPE, which libvirt never writes");
        if (!doc) {
                const xmlError *e = xmlCtxtGetLastError(ctxt);
                int line = e ? e->line : 0;
                const char *m = e && e->message ? e->message : "unknown error";

                /* libxml2's messages end in a newline. */
                return err_set(err, -EINVAL, "invalid XML at line %d: %.*s", line, (int) strcspn(m, "\n"), m);
        }
        root = xmlDocGetRootElement(doc);
        if (!root || !hook_xml_is_libvirt(root, "domain"))
                return err_set(err, -EINVAL, "the root element is not <domain>");
        for (xmlNodePtr m = root->children; m; m = m->next) {
                if (!hook_xml_is_libvirt(m, "metadata"))
                        continue;
                for (xmlNodePtr b = m->children; b; b = b->next)
                        if (b->type == XML_ELEMENT_NODE && b->ns && b->ns->href &&
                            streq((const char *) b->ns->href, SOVD_BINDING_NS))
                                return 1;
        }
        return 0;
}

static size_t hook_on_body(char *data, size_t size, size_t nmemb, void *userdata) {
        struct hook_answer *a = userdata;
        size_t n = size * nmemb;
        int r = hook_buf_append(&a->body, data, n);

        /* Returning less than @n makes libcurl stop with CURLE_WRITE_ERROR. */
        if (r == -ENOMEM)
                a->oom = true;
        return r < 0 ? 0 : n;
}

static void hook_answer_donep(struct hook_answer *a) {
        free(a->body.data);
}

static void curl_easy_cleanupp(CURL **c) {
        if (*c)
                curl_easy_cleanup(*c);
}

static void curl_slist_free_allp(struct curl_slist **l) {
        if (*l)
                curl_slist_free_all(*l);
}

/* Why libcurl failed, in words that name the socket rather than "localhost port 80". */
static int hook_curl_error(CURL *curl, CURLcode rc, const struct hook_args *args, const char *detail,
                           struct sovd_err *err) {
        long os_errno = 0;

        switch (rc) {
        case CURLE_OPERATION_TIMEDOUT:
                return err_set(err, -ETIMEDOUT, "no answer from %s within the %" PRIu64 " ms budget",
                               args->socket_path, args->timeout_ms);
        case CURLE_COULDNT_CONNECT:
                (void) curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
                return err_set(err, -ECONNREFUSED, "cannot connect to %s: %s", args->socket_path,
                               os_errno ? strerror((int) os_errno) : detail);
        case CURLE_WRITE_ERROR:
                return err_set(err, -EFBIG, "sovd's answer is larger than %u KiB", HOOK_ANSWER_MAX >> 10);
        default:
                return err_set(err, -EIO, "talking to %s: %s", args->socket_path,
                               *detail ? detail : curl_easy_strerror(rc));
        }
}

/*
 * POSTs the admission request to sovd over its Unix socket. On success
 * *ret holds the HTTP status and body. Everything is bounded by @deadline.
 */
static int hook_ask_sovd(const struct hook_args *args, enum hook_check check, const char *xml, size_t len,
                         uint64_t deadline, struct hook_answer *ret, struct sovd_err *err) {
        _cleanup_(curl_easy_cleanupp) CURL *curl = NULL;
        _cleanup_(curl_slist_free_allp) struct curl_slist *headers = NULL;
        _cleanup_json_ struct json_object *req = NULL;
        char curl_error[CURL_ERROR_SIZE] = "";
        const char *body;
        long ms;
        CURLcode rc;

        req = json_object_new_object();
        if (!req || json_add_string(req, "operation", hook_check_operation(check)) < 0 ||
            json_add_string(req, "domain", args->domain) < 0 ||
            json_add(req, "domain_xml", json_object_new_string_len(xml, (int) len)) < 0)
                return -ENOMEM;
        body = json_to_string(req);
        if (!body)
                return -ENOMEM;

        ms = hook_remaining_ms(deadline);
        if (ms == 0)
                return err_set(err, -ETIMEDOUT, "time budget of %" PRIu64 " ms spent before asking sovd",
                               args->timeout_ms);
        curl = curl_easy_init();
        if (!curl)
                return -ENOMEM;
        headers = curl_slist_append(headers, "Content-Type: application/json");
        if (headers)
                headers = curl_slist_append(headers, "Accept: application/json");
        /* A body over 1 MiB would make libcurl wait a second for "100 Continue". */
        if (headers)
                headers = curl_slist_append(headers, "Expect:");
        if (!headers)
                return -ENOMEM;

        /*
         * Plain HTTP to a local socket: no proxy from the environment, no
         * redirects, no other protocol, and no signals (the timeout must
         * hold without SIGALRM).
         */
        if (curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, args->socket_path) != CURLE_OK ||
            curl_easy_setopt(curl, CURLOPT_URL, "http://localhost/v1/admission") != CURLE_OK ||
            curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http") != CURLE_OK ||
            curl_easy_setopt(curl, CURLOPT_PROXY, "") != CURLE_OK ||
            curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
            curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, ms) != CURLE_OK ||
            curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, ms) != CURLE_OK ||
            curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(body)) != CURLE_OK ||
            curl_easy_setopt(curl, CURLOPT_USERAGENT, "sovd-hook") != CURLE_OK ||
            curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error) != CURLE_OK ||
            curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, hook_on_body) != CURLE_OK ||
            curl_easy_setopt(curl, CURLOPT_WRITEDATA, ret) != CURLE_OK)
                return err_set(err, -EIO, "cannot set up libcurl");

        rc = curl_easy_perform(curl);
        if (rc == CURLE_WRITE_ERROR && ret->oom)
                return -ENOMEM;
        if (rc != CURLE_OK)
                return hook_curl_error(curl, rc, args, curl_error, err);
        (void) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &ret->status);
        return 0;
}

/*
 * Appends @s for the user's terminal: one line, so control characters
 * (newlines in a reason) become spaces.
 */
static void hook_put(struct strbuf *sb, const char *s) {
        size_t start = sb->len;

        strbuf_append(sb, s ? s : "");
        if (sb->oom)
                return;
        for (size_t i = start; i < sb->len; i++)
                if ((unsigned char) sb->buf[i] < 0x20 || sb->buf[i] == 0x7f)
                        sb->buf[i] = ' ';
}

/* A JSON value as text: strings bare, null as "none", the rest as JSON. */
static const char *hook_json_text(struct json_object *v) {
        if (!v)
                return "none";
        if (json_object_is_type(v, json_type_string))
                return json_object_get_string(v);
        return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static const char *hook_member_string(struct json_object *o, const char *key) {
        struct json_object *v;

        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
            !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static struct json_object *hook_member_array(struct json_object *o, const char *key) {
        struct json_object *v;

        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
            !json_object_is_type(v, json_type_array))
                return NULL;
        return v;
}

/* "{FR, BE}" from a JSON array of values. */
static void hook_put_set(struct strbuf *sb, struct json_object *values) {
        strbuf_append(sb, "{");
        for (size_t i = 0; i < json_object_array_length(values); i++) {
                if (i > 0)
                        strbuf_append(sb, ", ");
                hook_put(sb, hook_json_text(json_object_array_get_idx(values, i)));
        }
        strbuf_append(sb, "}");
}

/*
 * One violation, "jurisdiction US not in {FR}", built from the decision's
 * facts; shapes this code does not know fall back to sovd's own reason.
 */
static void hook_put_violation(struct strbuf *sb, struct json_object *v) {
        const char *tag = hook_member_string(v, "tag"), *reason = hook_member_string(v, "reason");
        struct json_object *allowed = hook_member_array(v, "allowed"), *denied = hook_member_array(v, "denied");
        struct json_object *found = NULL;

        if (json_object_is_type(v, json_type_object))
                (void) json_object_object_get_ex(v, "found", &found);
        if (tag && allowed) {
                hook_put(sb, tag);
                if (found) {
                        strbuf_append(sb, " ");
                        hook_put(sb, hook_json_text(found));
                        strbuf_append(sb, " not in ");
                        hook_put_set(sb, allowed);
                } else {
                        strbuf_append(sb, " missing (allowed ");
                        hook_put_set(sb, allowed);
                        strbuf_append(sb, ")");
                }
        } else if (tag && denied && found) {
                hook_put(sb, tag);
                strbuf_append(sb, " ");
                hook_put(sb, hook_json_text(found));
                strbuf_append(sb, " in denied ");
                hook_put_set(sb, denied);
        } else if (reason)
                hook_put(sb, reason);
        else
                hook_put(sb, tag ? tag : "unmet constraint");
}

/* "storage pool 'us-pool'", from a check's place (or its kind when it has none). */
static void hook_put_place(struct strbuf *sb, struct json_object *check) {
        struct json_object *place = NULL;
        const char *type, *name;

        if (json_object_is_type(check, json_type_object))
                (void) json_object_object_get_ex(check, "place", &place);
        type = hook_member_string(place, "type");
        name = hook_member_string(place, "name");
        if (!type)
                type = hook_member_string(check, "kind");
        if (type) {
                size_t start = sb->len;

                hook_put(sb, type);
                /* "storage_pool" reads "storage pool". */
                for (size_t i = start; !sb->oom && i < sb->len; i++)
                        if (sb->buf[i] == '_')
                                sb->buf[i] = ' ';
        }
        if (name) {
                strbuf_append(sb, type ? " '" : "'");
                hook_put(sb, name);
                strbuf_append(sb, "'");
        }
        if (!type && !name)
                strbuf_append(sb, "a place");
}

/*
 * The refusal line, e.g.
 *   sovd: policy fr-sovereign denies start of web-1: storage pool 'us-pool':
 *   jurisdiction US not in {FR} (SecNumCloud 3.2 §19.2.b: ...)
 * from every denying check of the decision, with its refs; sovd's one-line
 * reason when the decision has no denying check this code can read.
 */
static void hook_format_denial(struct strbuf *sb, struct json_object *answer, const struct hook_args *args,
                               enum hook_check check) {
        struct json_object *decision = NULL, *policy = NULL, *checks;
        const char *policy_name;
        size_t n_denied = 0;

        (void) json_object_object_get_ex(answer, "decision", &decision);
        if (json_object_is_type(decision, json_type_object))
                (void) json_object_object_get_ex(decision, "policy", &policy);
        policy_name = hook_member_string(policy, "name");

        /* No policy named: sovd refused before any policy ran (an invalid binding). */
        if (policy_name) {
                strbuf_append(sb, "sovd: policy ");
                hook_put(sb, policy_name);
                strbuf_append(sb, " denies ");
        } else
                strbuf_append(sb, "sovd: refusing ");
        strbuf_appendf(sb, "%s of ", hook_check_words(check));
        hook_put(sb, args->domain);

        checks = hook_member_array(decision, "checks");
        for (size_t i = 0; checks && i < json_object_array_length(checks); i++) {
                struct json_object *c = json_object_array_get_idx(checks, i);
                struct json_object *violations = hook_member_array(c, "violations");
                struct json_object *refs = hook_member_array(c, "refs");

                if (!streq_ptr(hook_member_string(c, "outcome"), "deny"))
                        continue;
                strbuf_append(sb, n_denied++ ? "; " : ": ");
                hook_put_place(sb, c);
                strbuf_append(sb, ": ");
                if (!violations || json_object_array_length(violations) == 0)
                        strbuf_append(sb, "denied");
                for (size_t j = 0; violations && j < json_object_array_length(violations); j++) {
                        if (j > 0)
                                strbuf_append(sb, ", ");
                        hook_put_violation(sb, json_object_array_get_idx(violations, j));
                }
                for (size_t j = 0; refs && j < json_object_array_length(refs); j++) {
                        strbuf_append(sb, j ? "; " : " (");
                        hook_put(sb, hook_json_text(json_object_array_get_idx(refs, j)));
                        if (j + 1 == json_object_array_length(refs))
                                strbuf_append(sb, ")");
                }
        }
        if (n_denied == 0) {
                const char *reason = hook_member_string(answer, "reason");

                strbuf_append(sb, ": ");
                hook_put(sb, reason ? reason : "no reason given");
        }
}

/*
 * Reads sovd's answer: 0 and *ret_allowed for a 200 with a boolean
 * "allowed" (*ret owns the document, for the denial's details); -EPROTO
 * with @err saying why for anything else, problem documents included.
 */
static int hook_read_answer(const struct hook_answer *a, bool *ret_allowed, struct json_object **ret,
                            struct sovd_err *err) {
        _cleanup_json_ struct json_object *doc = NULL;
        struct sovd_err jerr = {};
        bool allowed;

        if (json_parse_strict(a->body.data ? a->body.data : "", a->body.len, &doc, &jerr) < 0 ||
            !json_object_is_type(doc, json_type_object)) {
                if (a->status != 200)
                        return err_set(err, -EPROTO, "sovd answered HTTP %ld", a->status);
                return err_set(err, -EPROTO, "sovd's answer is not a JSON object: %s",
                               *jerr.msg ? jerr.msg : "wrong type");
        }
        if (a->status != 200) {
                /* RFC 9457: "detail" is this occurrence, "title" the kind. */
                const char *why = hook_member_string(doc, "detail");

                if (!why)
                        why = hook_member_string(doc, "title");
                return err_set(err, -EPROTO, "sovd answered HTTP %ld: %.200s", a->status, why ? why : "no detail");
        }
        if (json_get_bool(doc, "allowed", "", true, &allowed, &jerr) < 0)
                return err_set(err, -EPROTO, "sovd's answer has no boolean \"allowed\"");
        *ret_allowed = allowed;
        *ret = TAKE_PTR(doc);
        return 0;
}

/* Prints @line, cut to HOOK_MESSAGE_MAX at a character boundary. */
static void hook_print_line(const char *line) {
        size_t n = strlen(line);

        if (n > HOOK_MESSAGE_MAX) {
                n = HOOK_MESSAGE_MAX;
                while (n > 0 && ((unsigned char) line[n] & 0xc0) == 0x80)
                        n--;
                fprintf(stderr, "%.*s...\n", (int) n, line);
        } else
                fprintf(stderr, "%s\n", line);
}

static int hook_cannot_check(const struct hook_args *args, const char *why) {
        _cleanup_strbuf_ struct strbuf sb = {};

        strbuf_append(&sb, "sovd: cannot check policy for bound VM ");
        hook_put(&sb, args->domain);
        strbuf_append(&sb, ": ");
        hook_put(&sb, why);
        strbuf_append(&sb, args->fail_open ? "; allowing (fail open)" : "; refusing (fail closed)");
        hook_print_line(sb.oom ? "sovd: cannot check policy for bound VM; out of memory" : sb.buf);
        return args->fail_open ? HOOK_EXIT_ALLOW : HOOK_EXIT_REFUSE;
}

/* The domain XML is unusable: refused whatever --fail-open says, since sovd was never asked. */
static int hook_refuse_input(const struct hook_args *args, const char *why) {
        _cleanup_strbuf_ struct strbuf sb = {};

        strbuf_append(&sb, "sovd: cannot read the domain XML of ");
        hook_put(&sb, args->domain);
        strbuf_append(&sb, ": ");
        hook_put(&sb, why);
        strbuf_append(&sb, "; refusing");
        hook_print_line(sb.oom ? "sovd: cannot read the domain XML; refusing" : sb.buf);
        return HOOK_EXIT_REFUSE;
}

/*
 * libvirt treats anything we print on stdout as a replacement domain XML
 * for "migrate" and "restore": point it at /dev/null, so no library (or
 * mistake) can ever write there. Returns false when that fails.
 */
static bool hook_silence_stdout(void) {
        int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        bool ok;

        if (fd < 0)
                return false;
        ok = fd == STDOUT_FILENO || dup2(fd, STDOUT_FILENO) == STDOUT_FILENO;
        if (fd != STDOUT_FILENO)
                (void) close(fd);
        return ok;
}

int main(int argc, char **argv) {
        struct hook_args args = { .timeout_ms = HOOK_DEFAULT_TIMEOUT_MS };
        _cleanup_(hook_answer_donep) struct hook_answer answer = { .body.max = HOOK_ANSWER_MAX };
        _cleanup_free_ char *xml = NULL;
        _cleanup_json_ struct json_object *doc = NULL;
        _cleanup_strbuf_ struct strbuf line = {};
        struct sovd_err err = {};
        enum hook_check check;
        uint64_t deadline;
        size_t len = 0;
        bool allowed = false;
        int r;

        /*
         * libvirt's OP and SUBOP are known even when the options around them
         * are wrong: a broken wrapper must refuse what we check, and only
         * that, since libvirt kills a running domain when the hook fails
         * on "reconnect" (its own restart).
         */
        check = argc >= 5 ? hook_check_from_op(argv[argc - 3], argv[argc - 2])
                          : HOOK_CHECK_START; /* not libvirt calling: refuse */

        /* A peer closing its end must be an error we report, not a silent death. */
        (void) signal(SIGPIPE, SIG_IGN);
        if (!hook_silence_stdout() && check != HOOK_CHECK_NONE) {
                fprintf(stderr, "sovd: cannot point stdout at /dev/null: %m; refusing\n");
                return HOOK_EXIT_REFUSE;
        }
        r = hook_parse_args(argc, argv, &args, &err);
        deadline = now_monotonic_usec() + args.timeout_ms * 1000;
        if (r < 0) {
                (void) hook_read_input(STDIN_FILENO, deadline, 0, &xml, &len, NULL);
                fprintf(stderr, "sovd: %s%s\nusage: sovd-hook [--socket PATH] [--timeout-ms N] [--fail-open] [--] "
                                "NAME OP SUBOP EXTRA\n", err.msg, check == HOOK_CHECK_NONE ? "" : "; refusing");
                return check == HOOK_CHECK_NONE ? HOOK_EXIT_ALLOW : HOOK_EXIT_USAGE;
        }

        r = hook_read_input(STDIN_FILENO, deadline, check == HOOK_CHECK_NONE ? 0 : HOOK_INPUT_MAX, &xml, &len,
                            &err);
        if (check == HOOK_CHECK_NONE)
                return HOOK_EXIT_ALLOW;
        if (r < 0)
                return hook_refuse_input(&args, r == -ENOMEM ? "out of memory" : err.msg);

        xmlInitParser();
        r = hook_domain_is_bound(xml, len, &err);
        if (r < 0)
                return hook_refuse_input(&args, r == -ENOMEM ? "out of memory" : err.msg);
        if (r == 0)
                return HOOK_EXIT_ALLOW;

        /* Plain HTTP over a Unix socket: there is no TLS library to set up. */
        if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK)
                return hook_cannot_check(&args, "cannot initialise libcurl");
        r = hook_ask_sovd(&args, check, xml, len, deadline, &answer, &err);
        if (r >= 0)
                r = hook_read_answer(&answer, &allowed, &doc, &err);
        if (r == -ENOMEM)
                return hook_cannot_check(&args, "out of memory");
        if (r < 0)
                return hook_cannot_check(&args, err.msg);
        if (allowed)
                return HOOK_EXIT_ALLOW;

        hook_format_denial(&line, doc, &args, check);
        hook_print_line(line.oom ? "sovd: policy denies; out of memory while formatting the reason" : line.buf);
        return HOOK_EXIT_REFUSE;
}
