/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the files of api/ only. */

#include <stdbool.h>
#include <sys/types.h>
#include <microhttpd.h>
#include <json-c/json.h>

#include "sovd/config.h"
#include "sovd/errors.h"
#include "sovd/id.h"
#include "sovd/recorder.h"

#define REQUEST_ID_MAX 64
#define NAME_PARAM_MAX 64

struct api_reply {
        int status;
        char *body;               /* owned; NULL: no body */
        const char *content_type; /* static */
        char *location;           /* owned; NULL: no Location header */
        const char *allow;        /* static; for 405 */
        bool replayed;            /* an Idempotency-Key replay */
        char *detail;             /* owned; the problem's detail, for the request log */
};

struct api_request {
        struct MHD_Connection *connection;
        const char *method;
        const char *url;
        char request_id[REQUEST_ID_MAX + 1];
        struct config *config; /* reference, stable for the request */

        /* Caller, from the socket's peer credentials. */
        uid_t uid;
        pid_t pid;
        enum role role;
        char caller[192]; /* "uid=1000 pid=4242" or "cert CN=orchestrator (serial 1a2b)" */
        char auth_error[256]; /* TLS: why no identity was established; "" when fine */
        char scope[160];      /* whose Idempotency-Keys: "uid:1000" or "cert:<issuer hash>:<serial>" */
        bool over_limit;      /* Unix socket: the peer's uid holds too many connections */

        /* Body, bounded by config->max_body_bytes. */
        char *body;
        size_t body_len;
        bool body_too_large;
        size_t discarded; /* bytes of an oversized body read and dropped */

        /* Path parameters, filled by the router. */
        char uuid[ID_TEXT_LEN];
        const char *action;
        char name[NAME_PARAM_MAX + 1]; /* {name} segment, e.g. a policy name */

        /* Set by handlers: the route's error detail, when a handler fails. */
        struct api_reply reply;
};

typedef int (*api_handler_t)(struct api_request *req, struct sovd_err *err);

struct api_route {
        const char *method;
        const char *pattern; /* segments; "{uuid}" matches one path segment */
        api_handler_t handler;
        enum role min_role;
        const char *const *query; /* allowed query parameters, NULL-terminated; NULL: none */
        bool audited;             /* state-changing: every call is an audit record */
};

/* The route table, and the route matching @path (ignoring method); NULL when none. */
extern const struct api_route api_routes[];
extern const size_t api_n_routes;

/*
 * Finds the handler for @method and @path. Returns the route, or NULL with
 * *ret_code -ENOENT (no such path) or -SOVD_E_METHOD (path exists; *ret_allow
 * lists the methods). Fills req->uuid / req->action.
 */
const struct api_route *router_match(struct api_request *req, const char *method, const char *path, int *ret_code,
                                     const char **ret_allow);

/* Reply helpers: they fill req->reply; the server sends it. */
int reply_json(struct api_request *req, int status, struct json_object *body);
int reply_empty(struct api_request *req, int status);
/* Fills req->reply with the problem document for @code, @detail as its detail. */
void reply_problem(struct api_request *req, int code, const char *detail);
void api_reply_done(struct api_reply *r);
/* The same with one extension member @key (RFC 9457 §3.2), e.g. "decision"; takes @value. */
void reply_problem_ext(struct api_request *req, int code, const char *detail, const char *key,
                       struct json_object *value);

/* HTTP status and problem type for an error code (the one table of api/problem.c). */
int problem_status(int code);

/* Query parameter of the request, or NULL. */
const char *request_query(struct api_request *req, const char *key);

/* Canonicalises req->uuid (a VM, job or backup id: either case accepted) or refuses it (400). */
int check_uuid(struct api_request *req, struct sovd_err *err);

/* Answers @status with VM @uuid in detail (as GET /v1/vms/{uuid}). */
int reply_vm(struct api_request *req, int status, const char *uuid, struct sovd_err *err);

/* Routes that take no parameters accept an empty body or {}; anything else is 400. */
int check_no_params(struct api_request *req, struct sovd_err *err);

/* Answers @status with job @id, Location /v1/jobs/{id}. */
int reply_job(struct api_request *req, int status, const char *id, struct sovd_err *err);

/*
 * What a job needs to write its records as the request would have: caller,
 * role, request id, VM name, tenant and the decision. A new object.
 */
/* Who asked, for audit records written on the request's behalf. */
struct record_ctx request_ctx(const struct api_request *req);

struct json_object *request_context_json(const struct api_request *req, const char *vm_name, const char *tenant,
                                         const char *decision_id);

struct vm_view;
/* The VM summary of listings as a JSON string (malloc'd); the VM index caches it. */
char *vm_summary_serialize(const struct vm_view *v);

/* Handlers (handlers-*.c). */
int handle_healthz(struct api_request *req, struct sovd_err *err);
int handle_readyz(struct api_request *req, struct sovd_err *err);
int handle_metrics(struct api_request *req, struct sovd_err *err);
int handle_host(struct api_request *req, struct sovd_err *err);
int handle_vm_list(struct api_request *req, struct sovd_err *err);
int handle_vm_create(struct api_request *req, struct sovd_err *err);
int handle_vm_get(struct api_request *req, struct sovd_err *err);
int handle_vm_delete(struct api_request *req, struct sovd_err *err);
int handle_vm_action(struct api_request *req, struct sovd_err *err);
int handle_vm_migrate(struct api_request *req, struct sovd_err *err);
int handle_policy_list(struct api_request *req, struct sovd_err *err);
int handle_policy_get(struct api_request *req, struct sovd_err *err);
int handle_policy_evaluate(struct api_request *req, struct sovd_err *err);
int handle_admission(struct api_request *req, struct sovd_err *err);
int handle_storage_pools(struct api_request *req, struct sovd_err *err);
int handle_backup_targets(struct api_request *req, struct sovd_err *err);
int handle_peers(struct api_request *req, struct sovd_err *err);
int handle_audit_list(struct api_request *req, struct sovd_err *err);
int handle_audit_verify(struct api_request *req, struct sovd_err *err);
int handle_job_list(struct api_request *req, struct sovd_err *err);
int handle_job_get(struct api_request *req, struct sovd_err *err);
int handle_job_cancel(struct api_request *req, struct sovd_err *err);
int handle_snapshot_list(struct api_request *req, struct sovd_err *err);
int handle_snapshot_create(struct api_request *req, struct sovd_err *err);
int handle_snapshot_get(struct api_request *req, struct sovd_err *err);
int handle_snapshot_delete(struct api_request *req, struct sovd_err *err);
int handle_snapshot_revert(struct api_request *req, struct sovd_err *err);
int handle_backup_create(struct api_request *req, struct sovd_err *err);
int handle_backup_list(struct api_request *req, struct sovd_err *err);
int handle_backup_get(struct api_request *req, struct sovd_err *err);
int handle_backup_verify(struct api_request *req, struct sovd_err *err);
int handle_backup_restore(struct api_request *req, struct sovd_err *err);

struct decision;
/*
 * Logs @d and writes its audit record before anything is done about it.
 * A decision that cannot be recorded must not be acted on: returns < 0
 * (with @err) and the caller gives up.
 */
int note_decision(struct api_request *req, const struct decision *d, const char *vm_uuid, const char *vm_name,
                  const char *tenant, struct sovd_err *err);
/* The same for a decision on a migration, carrying its id (both agents record it). */
int note_decision_migration(struct api_request *req, const struct decision *d, const char *vm_uuid,
                            const char *vm_name, const char *tenant, const char *migration_id, struct sovd_err *err);
