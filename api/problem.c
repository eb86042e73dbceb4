/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "api-private.h"
#include "sovd/json-util.h"

/* The one place where error codes become HTTP statuses; handlers never pick a status for an error. */
static const struct {
        int code;
        int status;
        const char *type;
        const char *title;
} problem_table[] = {
        { -EINVAL, 400, "invalid-request", "Invalid request" },
        { -SOVD_E_UNAUTHENTICATED, 401, "unauthenticated", "No valid client certificate" },
        { -EACCES, 403, "forbidden", "Forbidden" },
        { -EPERM, 403, "forbidden", "Forbidden" },
        { -SOVD_E_POLICY_DENIED, 403, "policy-denied", "Denied by sovereignty policy" },
        { -ENOENT, 404, "not-found", "Not found" },
        { -SOVD_E_METHOD, 405, "method-not-allowed", "Method not allowed" },
        { -EEXIST, 409, "conflict", "Conflict" },
        { -EBUSY, 409, "conflict", "Conflict" },
        { -SOVD_E_BAD_STATE, 409, "conflict", "Conflict" },
        { -EFBIG, 413, "body-too-large", "Request body too large" },
        { -SOVD_E_MEDIA_TYPE, 415, "unsupported-media-type", "Unsupported media type" },
        { -SOVD_E_TOO_MANY_CONNECTIONS, 429, "too-many-connections", "Too many connections" },
        { -SOVD_E_UNRESOLVED, 422, "unresolved-reference", "Unresolved reference" },
        { -SOVD_E_IDEMPOTENCY_MISMATCH, 422, "idempotency-key-reused", "Idempotency-Key reused" },
        { -EOPNOTSUPP, 501, "not-implemented", "Not implemented by this hypervisor driver" },
        { -EHOSTUNREACH, 502, "peer-unreachable", "Peer agent unreachable" },
        { -EKEYREJECTED, 502, "peer-untrusted", "Peer agent not trusted" },
        { -SOVD_E_LIBVIRT_DOWN, 503, "libvirt-unavailable", "libvirt unavailable" },
        { -ETIMEDOUT, 504, "timeout", "Hypervisor timeout" },
};

static int problem_index(int code) {
        for (size_t i = 0; i < ELEMENTSOF(problem_table); i++)
                if (problem_table[i].code == code)
                        return (int) i;
        return -1;
}

int problem_status(int code) {
        int i = problem_index(code);
        return i >= 0 ? problem_table[i].status : 500;
}

void reply_problem_ext(struct api_request *req, int code, const char *detail, const char *key,
                       struct json_object *value) {
        _cleanup_json_ struct json_object *o = NULL, *v = value;

        reply_problem(req, code, detail);
        if (!req->reply.body || !v)
                return;
        /* Re-parse our own document to add the extension member: simple and rare (denials only). */
        o = json_tokener_parse(req->reply.body);
        if (!o || json_add(o, key, TAKE_PTR(v)) < 0)
                return;
        free(req->reply.body);
        req->reply.body = strdup(json_to_string(o));
}

void reply_problem(struct api_request *req, int code, const char *detail) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        int i = problem_index(code);
        char type[64];
        const char *title = i >= 0 ? problem_table[i].title : "Internal error";
        int status = i >= 0 ? problem_table[i].status : 500;

        snprintf(type, sizeof(type), "urn:sovd:problem:%s", i >= 0 ? problem_table[i].type : "internal");
        api_reply_done(&req->reply);
        req->reply.status = status;
        req->reply.content_type = "application/problem+json";
        req->reply.detail = strdup(detail && *detail ? detail : title);
        if (!o || json_add_string(o, "type", type) < 0 || json_add_string(o, "title", title) < 0 ||
            json_add_int(o, "status", status) < 0 ||
            json_add_string(o, "detail", detail && *detail ? detail : title) < 0 ||
            json_add_string(o, "instance", req->url) < 0 || json_add_string(o, "request_id", req->request_id) < 0) {
                req->reply.status = 500;
                req->reply.body = NULL;
                return;
        }
        req->reply.body = strdup(json_to_string(o));
}

int reply_json(struct api_request *req, int status, struct json_object *body) {
        char *s = strdup(json_to_string(body));

        if (!s)
                return -ENOMEM;
        api_reply_done(&req->reply);
        req->reply.status = status;
        req->reply.body = s;
        req->reply.content_type = "application/json";
        return 0;
}

int reply_empty(struct api_request *req, int status) {
        api_reply_done(&req->reply);
        req->reply.status = status;
        return 0;
}

void api_reply_done(struct api_reply *r) {
        free(r->body);
        free(r->location);
        free(r->detail);
        *r = (struct api_reply){};
}
