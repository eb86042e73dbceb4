/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "api-private.h"
#include "sovd/api.h"

static const char *const vm_list_query[] = { "tenant", "state", NULL };
static const char *const vm_delete_query[] = { "delete_storage", NULL };
static const char *const job_list_query[] = { "vm", "state", NULL };
static const char *const audit_list_query[] = { "since", "vm", "decision", "limit", "cursor", NULL };

/*
 * Every route sovd serves. api/openapi.yaml describes exactly these; the
 * parity test compares this table (sovd --dump-routes) with it.
 */
const struct api_route api_routes[] = {
        { "GET", "/healthz", handle_healthz, ROLE_NONE, NULL, false },
        { "GET", "/readyz", handle_readyz, ROLE_NONE, NULL, false },
        { "GET", "/metrics", handle_metrics, ROLE_READER, NULL, false },
        { "GET", "/v1/host", handle_host, ROLE_READER, NULL, false },
        { "GET", "/v1/vms", handle_vm_list, ROLE_READER, vm_list_query, false },
        { "POST", "/v1/vms", handle_vm_create, ROLE_OPERATOR, NULL, true },
        { "GET", "/v1/vms/{uuid}", handle_vm_get, ROLE_READER, NULL, false },
        { "DELETE", "/v1/vms/{uuid}", handle_vm_delete, ROLE_OPERATOR, vm_delete_query, true },
        { "POST", "/v1/vms/{uuid}/start", handle_vm_action, ROLE_OPERATOR, NULL, true },
        { "POST", "/v1/vms/{uuid}/shutdown", handle_vm_action, ROLE_OPERATOR, NULL, true },
        { "POST", "/v1/vms/{uuid}/stop", handle_vm_action, ROLE_OPERATOR, NULL, true },
        { "POST", "/v1/vms/{uuid}/reboot", handle_vm_action, ROLE_OPERATOR, NULL, true },
        { "POST", "/v1/vms/{uuid}/suspend", handle_vm_action, ROLE_OPERATOR, NULL, true },
        { "POST", "/v1/vms/{uuid}/resume", handle_vm_action, ROLE_OPERATOR, NULL, true },
        { "POST", "/v1/vms/{uuid}/migrate", handle_vm_migrate, ROLE_OPERATOR, NULL, true },
        { "GET", "/v1/vms/{uuid}/snapshots", handle_snapshot_list, ROLE_READER, NULL, false },
        { "POST", "/v1/vms/{uuid}/snapshots", handle_snapshot_create, ROLE_OPERATOR, NULL, true },
        { "GET", "/v1/vms/{uuid}/snapshots/{name}", handle_snapshot_get, ROLE_READER, NULL, false },
        { "DELETE", "/v1/vms/{uuid}/snapshots/{name}", handle_snapshot_delete, ROLE_OPERATOR, NULL, true },
        { "POST", "/v1/vms/{uuid}/snapshots/{name}/revert", handle_snapshot_revert, ROLE_OPERATOR, NULL, true },
        { "GET", "/v1/vms/{uuid}/backups", handle_backup_list, ROLE_READER, NULL, false },
        { "POST", "/v1/vms/{uuid}/backups", handle_backup_create, ROLE_OPERATOR, NULL, true },
        { "GET", "/v1/backups/{id}", handle_backup_get, ROLE_READER, NULL, false },
        /* Reads every byte of the backup and its parents: operators only, and on record. */
        { "POST", "/v1/backups/{id}/verify", handle_backup_verify, ROLE_OPERATOR, NULL, true },
        { "POST", "/v1/backups/{id}/restore", handle_backup_restore, ROLE_OPERATOR, NULL, true },
        { "GET", "/v1/jobs", handle_job_list, ROLE_READER, job_list_query, false },
        { "GET", "/v1/jobs/{id}", handle_job_get, ROLE_READER, NULL, false },
        { "DELETE", "/v1/jobs/{id}", handle_job_cancel, ROLE_OPERATOR, NULL, true },
        { "GET", "/v1/policies", handle_policy_list, ROLE_READER, NULL, false },
        { "GET", "/v1/policies/{name}", handle_policy_get, ROLE_READER, NULL, false },
        { "POST", "/v1/policies/evaluate", handle_policy_evaluate, ROLE_READER, NULL, false },
        { "GET", "/v1/storage-pools", handle_storage_pools, ROLE_READER, NULL, false },
        { "GET", "/v1/backup-targets", handle_backup_targets, ROLE_READER, NULL, false },
        { "GET", "/v1/peers", handle_peers, ROLE_READER, NULL, false },
        { "GET", "/v1/audit", handle_audit_list, ROLE_READER, audit_list_query, false },
        { "GET", "/v1/audit/verify", handle_audit_verify, ROLE_READER, NULL, false },
        /* The libvirt hook runs as root: admission answers admins only. */
        { "POST", "/v1/admission", handle_admission, ROLE_ADMIN, NULL, true },
};
const size_t api_n_routes = ELEMENTSOF(api_routes);

/* Matches @path against @pattern segment by segment; captures {uuid} and the last literal. */
static bool pattern_match(const char *pattern, const char *path, struct api_request *req) {
        const char *p = pattern, *s = path;
        const char *last_literal = NULL;

        while (*p && *s) {
                if (*p != '/' || *s != '/')
                        return false;
                p++;
                s++;
                size_t plen = strcspn(p, "/"), slen = strcspn(s, "/");
                if (slen == 0)
                        return false;
                if (plen == 6 && strncmp(p, "{name}", 6) == 0) {
                        if (req) {
                                size_t n = slen < NAME_PARAM_MAX ? slen : NAME_PARAM_MAX;
                                memcpy(req->name, s, n);
                                req->name[n] = '\0';
                                if (slen > NAME_PARAM_MAX)
                                        req->name[0] = '!';
                        }
                } else if ((plen == 6 && strncmp(p, "{uuid}", 6) == 0) || (plen == 4 && strncmp(p, "{id}", 4) == 0)) {
                        if (req) {
                                /* Too long to be a UUID: keep a marker the handler will refuse. */
                                size_t n = slen < ID_TEXT_LEN - 1 ? slen : ID_TEXT_LEN - 1;
                                memcpy(req->uuid, s, n);
                                req->uuid[n] = '\0';
                                if (slen >= ID_TEXT_LEN)
                                        req->uuid[0] = '!';
                        }
                } else {
                        if (plen != slen || strncmp(p, s, plen) != 0)
                                return false;
                        last_literal = p;
                }
                p += plen;
                s += slen;
        }
        if (*p || *s)
                return false;
        if (req && last_literal)
                req->action = last_literal;
        return true;
}

static bool is_literal(const char *pattern) {
        return !strchr(pattern, '{');
}

/*
 * As in OpenAPI, a literal path wins over a templated one: "/v1/policies/evaluate"
 * is that route, never the policy named "evaluate", for dispatch and for Allow.
 */
const struct api_route *router_match(struct api_request *req, const char *method, const char *path, int *ret_code,
                                     const char **ret_allow) {
        static const char *const allow_table[] = { "GET", "POST", "DELETE" };
        static __thread char allow[64];
        bool path_found = false, literal = false;

        for (size_t i = 0; i < api_n_routes; i++)
                if (is_literal(api_routes[i].pattern) && pattern_match(api_routes[i].pattern, path, NULL))
                        literal = true;
        for (size_t i = 0; i < api_n_routes; i++) {
                if (literal != is_literal(api_routes[i].pattern) || !pattern_match(api_routes[i].pattern, path, NULL))
                        continue;
                path_found = true;
                if (streq(api_routes[i].method, method)) {
                        (void) pattern_match(api_routes[i].pattern, path, req);
                        return &api_routes[i];
                }
        }
        if (!path_found) {
                *ret_code = -ENOENT;
                return NULL;
        }
        allow[0] = '\0';
        for (size_t m = 0; m < ELEMENTSOF(allow_table); m++)
                for (size_t i = 0; i < api_n_routes; i++)
                        if (streq(api_routes[i].method, allow_table[m]) &&
                            literal == is_literal(api_routes[i].pattern) &&
                            pattern_match(api_routes[i].pattern, path, NULL)) {
                                if (allow[0])
                                        strcat(allow, ", ");
                                strcat(allow, allow_table[m]);
                                break;
                        }
        *ret_code = -SOVD_E_METHOD;
        *ret_allow = allow;
        return NULL;
}

void api_dump_routes(FILE *f) {
        for (size_t i = 0; i < api_n_routes; i++)
                fprintf(f, "%s %s\n", api_routes[i].method, api_routes[i].pattern);
}
