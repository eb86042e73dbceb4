/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "api-private.h"
#include "sovd/admission.h"
#include "sovd/jobs.h"
#include "sovd/json-util.h"
#include "sovd/metrics.h"
#include "sovd/policy-store.h"
#include "sovd/recorder.h"
#include "sovd/tags.h"
#include "sovd/time-util.h"
#include "sovd/version.h"
#include "sovd/virt-conn.h"
#include "sovd/vm-index.h"

int handle_healthz(struct api_request *req, struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = json_object_new_object();

        if (!o || json_add_string(o, "status", "ok") < 0)
                return -ENOMEM;
        return reply_json(req, 200, o);
}

int handle_readyz(struct api_request *req, struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct virt_status st;

        virt_get_status(&st);
        if (!st.connected)
                return err_set(err, -SOVD_E_LIBVIRT_DOWN, "not ready: %s", st.error[0] ? st.error : "connecting");
        if (!o || json_add_string(o, "status", "ready") < 0)
                return -ENOMEM;
        return reply_json(req, 200, o);
}

/*
 * Prometheus text format, from what sovd already holds in memory (the VM
 * index, the job table, counters): a scrape every few seconds never reaches
 * libvirt or the disk.
 */
int handle_metrics(struct api_request *req, struct sovd_err *err) {
        _cleanup_strbuf_ struct strbuf out = {};
        size_t vms[_VM_STATE_MAX], managed = 0;
        const char *kinds[16];
        size_t n_kinds = jobs_kind_names(kinds, ELEMENTSOF(kinds));
        struct policy_set *policies = admission_policies();
        struct audit_log *log = recorder_log();
        struct virt_status st;
        bool listed;

        virt_get_status(&st);
        metrics_render_header(&out, "sovd_build_info", "gauge", "The running sovd's version.");
        strbuf_appendf(&out, "sovd_build_info{version=\"%s\"} 1\n", SOVD_VERSION);
        metrics_render_header(&out, "sovd_libvirt_connected", "gauge", "1 while sovd holds a libvirt connection.");
        strbuf_appendf(&out, "sovd_libvirt_connected %d\n", st.connected ? 1 : 0);

        /* No VM figures while the index is not valid (libvirt away): absent, not zero. */
        listed = vm_index_count(vms, &managed) >= 0;
        metrics_render_header(&out, "sovd_vms", "gauge", "Domains on this host, by state.");
        for (int i = 0; listed && i < _VM_STATE_MAX; i++)
                strbuf_appendf(&out, "sovd_vms{state=\"%s\"} %zu\n", vm_state_to_string((enum vm_state) i), vms[i]);
        metrics_render_header(&out, "sovd_vms_managed", "gauge", "Domains bound to a sovd policy.");
        if (listed)
                strbuf_appendf(&out, "sovd_vms_managed %zu\n", managed);

        metrics_render_header(&out, "sovd_jobs", "gauge", "Jobs kept (the last 30 days), by kind and state.");
        for (size_t k = 0; k < n_kinds; k++)
                for (int s = 0; s < _JOB_STATE_MAX; s++)
                        strbuf_appendf(&out, "sovd_jobs{kind=\"%s\",state=\"%s\"} %zu\n", kinds[k],
                                       job_state_to_string((enum job_state) s), jobs_count(kinds[k], (enum job_state) s));

        metrics_render_header(&out, "sovd_policies_loaded", "gauge", "Policies in the set in force.");
        strbuf_appendf(&out, "sovd_policies_loaded %zu\n", policies ? policies->n_policies : 0);
        policy_set_unref(policies);
        if (log) {
                uint64_t seq = 0;
                char hash[AUDIT_HASH_LEN];
                audit_get_head(log, &seq, hash);
                metrics_render_header(&out, "sovd_audit_records", "gauge",
                                      "Sequence number of the last record in the audit log.");
                strbuf_appendf(&out, "sovd_audit_records %" PRIu64 "\n", seq);
        }
        metrics_render_counters(&out);
        if (out.oom)
                return -ENOMEM;
        api_reply_done(&req->reply);
        req->reply.status = 200;
        req->reply.body = strbuf_steal(&out);
        req->reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
        return req->reply.body ? 0 : -ENOMEM;
}

/*
 * Served from what the libvirt layer read when it connected, plus free
 * memory refreshed at most once a second: this endpoint is polled by
 * orchestrators and must stay cheap.
 */
int handle_host(struct api_request *req, struct sovd_err *err) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *lv, *cap;
        struct virt_status st;
        char hostname[256] = "", since[RFC3339_MAX];
        int r;

        if (!o)
                return -ENOMEM;
        virt_get_status(&st);
        (void) gethostname(hostname, sizeof(hostname) - 1);
        if ((r = json_add_string(o, "hostname", hostname)) < 0 ||
            (r = json_add_string(o, "host_uuid", st.connected && st.host.host_uuid[0] ? st.host.host_uuid : NULL)) < 0 ||
            (r = json_add_string(o, "sovd_version", SOVD_VERSION)) < 0)
                return r;

        lv = json_object_new_object();
        if (!lv || (r = json_add(o, "libvirt", lv)) < 0)
                return -ENOMEM;
        if ((r = json_add_string(lv, "uri", st.uri)) < 0 || (r = json_add_bool(lv, "connected", st.connected)) < 0 ||
            (r = json_add_string(lv, "driver", st.connected ? st.host.driver : NULL)) < 0 ||
            (r = json_add_string(lv, "library_version", st.connected ? st.host.library_version : NULL)) < 0 ||
            (r = json_add_string(lv, "hypervisor_version", st.connected ? st.host.hypervisor_version : NULL)) < 0 ||
            (r = json_add_string(lv, "since", rfc3339_format(st.since, since))) < 0 ||
            (r = json_add_string(lv, "error", st.connected ? NULL : st.error)) < 0 ||
            (r = json_add_string(lv, "migration_uri", req->config->migration_uri)) < 0 ||
            (r = json_add_string(lv, "migration_data_uri", req->config->migration_data_uri)) < 0)
                return r;

        /* A copy: json-c objects must never be shared between request threads. */
        if ((r = json_add(o, "tags", tags_to_json(&req->config->host_tags))) < 0)
                return r;
        /* Unknown certification schemes are accepted but shown, so a typo does not go unnoticed. */
        const char *unknown[32];
        size_t n_unknown = tags_unknown_certifications(&req->config->host_tags, unknown, ELEMENTSOF(unknown));
        struct json_object *uc = json_object_new_array();
        if (!uc || (r = json_add(o, "unknown_certifications", uc)) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < n_unknown; i++)
                if (json_object_array_add(uc, json_new_string(unknown[i])) < 0)
                        return -ENOMEM;

        if (st.connected) {
                _cleanup_virt_conn_ struct virt_conn *c = NULL;
                uint64_t free_kib = 0;
                bool have_free = false;

                if (virt_conn_acquire(&c, err) >= 0 && virt_host_free_memory(c, &free_kib, err) >= 0)
                        have_free = true;
                cap = json_object_new_object();
                if (!cap || (r = json_add(o, "capacity", cap)) < 0)
                        return -ENOMEM;
                if ((r = json_add_int(cap, "cpus", st.host.cpus)) < 0 ||
                    (r = json_add_int(cap, "memory_mib", (int64_t) (st.host.memory_kib / 1024))) < 0 ||
                    (r = have_free ? json_add_int(cap, "free_memory_mib", (int64_t) (free_kib / 1024))
                                   : json_add(cap, "free_memory_mib", NULL)) < 0)
                        return r;
        } else if ((r = json_add(o, "capacity", NULL)) < 0)
                return r;
        return reply_json(req, 200, o);
}
