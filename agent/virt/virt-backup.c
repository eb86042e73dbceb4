/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "sovd/strbuf.h"
#include "sovd/virt-backup.h"
#include "virt-private.h"

DEFINE_POINTER_CLEANUP(xmlDoc, xmlFreeDoc)
DEFINE_POINTER_CLEANUP(xmlXPathContext, xmlXPathFreeContext)
DEFINE_POINTER_CLEANUP(xmlXPathObject, xmlXPathFreeObject)

static int request_check(const struct virt_backup_request *req, const char *dname, const struct virt_xml_disk *disks,
                         size_t n_disks, struct sovd_err *err) {
        if (req->checkpoint && !req->checkpoint[0])
                return err_set(err, -EINVAL, "a checkpoint needs a name");
        if (req->incremental && !req->incremental[0])
                return err_set(err, -EINVAL, "an incremental backup needs the name of its checkpoint");
        if (req->n_disks == 0)
                return err_set(err, -EINVAL, "a backup of domain '%s' needs at least one disk", dname);
        for (size_t i = 0; i < req->n_disks; i++) {
                const struct virt_backup_disk *d = &req->disks[i];

                if (!d->target || !d->target[0] || !d->file || !d->file[0])
                        return err_set(err, -EINVAL, "a backup disk needs a target and a file");
                if (!virt_xml_disk_find(disks, n_disks, d->target))
                        return err_set(err, -EINVAL, "domain '%s' has no disk '%s'", dname, d->target);
                for (size_t j = 0; j < i; j++)
                        if (streq(req->disks[j].target, d->target))
                                return err_set(err, -EINVAL, "the backup names disk '%s' twice", d->target);
        }
        return 0;
}

static const struct virt_backup_disk *request_disk(const struct virt_backup_request *req, const char *target) {
        for (size_t i = 0; i < req->n_disks; i++)
                if (streq(req->disks[i].target, target))
                        return &req->disks[i];
        return NULL;
}

/*
 * Both documents name every disk of the domain: libvirt backs up (and
 * tracks in a checkpoint) each writable disk left unnamed, which would
 * write data the caller did not place.
 */
static int backup_xml(const struct virt_backup_request *req, const struct virt_xml_disk *disks, size_t n_disks,
                      char **ret_backup, char **ret_checkpoint) {
        _cleanup_strbuf_ struct strbuf b = {}, cp = {};
        _cleanup_free_ char *backup = NULL;

        strbuf_append(&b, "<domainbackup mode='push'>");
        if (req->incremental) {
                strbuf_append(&b, "<incremental>");
                strbuf_append_xml_escaped(&b, req->incremental);
                strbuf_append(&b, "</incremental>");
        }
        strbuf_append(&b, "<disks>");
        if (req->checkpoint) {
                strbuf_append(&cp, "<domaincheckpoint><name>");
                strbuf_append_xml_escaped(&cp, req->checkpoint);
                strbuf_append(&cp, "</name><disks>");
        }
        for (size_t i = 0; i < n_disks; i++) {
                const struct virt_backup_disk *d;

                if (!disks[i].target)
                        continue;
                d = request_disk(req, disks[i].target);
                strbuf_append(&b, "<disk name='");
                strbuf_append_xml_escaped(&b, disks[i].target);
                if (d) {
                        strbuf_append(&b, "' backup='yes' type='file'><target file='");
                        strbuf_append_xml_escaped(&b, d->file);
                        strbuf_append(&b, "'/><driver type='qcow2'/></disk>");
                } else
                        strbuf_append(&b, "' backup='no'/>");
                if (req->checkpoint) {
                        strbuf_append(&cp, "<disk name='");
                        strbuf_append_xml_escaped(&cp, disks[i].target);
                        strbuf_append(&cp, d ? "' checkpoint='bitmap'/>" : "' checkpoint='no'/>");
                }
        }
        strbuf_append(&b, "</disks></domainbackup>");
        backup = strbuf_steal(&b);
        if (!backup)
                return -ENOMEM;
        if (req->checkpoint) {
                strbuf_append(&cp, "</disks></domaincheckpoint>");
                *ret_checkpoint = strbuf_steal(&cp);
                if (!*ret_checkpoint)
                        return -ENOMEM;
        } else
                *ret_checkpoint = NULL;
        *ret_backup = TAKE_PTR(backup);
        return 0;
}

/*
 * QEMU answers a backup of a shut-off domain with OPERATION_UNSUPPORTED,
 * and makes a backup begun during another job wait for that job's end
 * (up to 30 s, then OPERATION_TIMEOUT): both are the domain's state, said
 * up front. The job check is best effort (the test driver has no jobs).
 */
static int backup_state_check(struct virt_conn *c, virDomainPtr dom, const char *dname, struct sovd_err *err) {
        virDomainJobInfo job;
        int r;

        r = virDomainIsActive(dom);
        if (r < 0)
                return virt_error(err, c, "cannot read state of domain '%s'", dname);
        if (r == 0)
                return err_set(err, -SOVD_E_BAD_STATE, "a backup copies a running domain; domain '%s' is not running",
                               dname);
        if (virDomainGetJobInfo(dom, &job) < 0) {
                virResetLastError();
                return 0;
        }
        if (job.type == VIR_DOMAIN_JOB_BOUNDED || job.type == VIR_DOMAIN_JOB_UNBOUNDED)
                return err_set(err, -SOVD_E_BAD_STATE, "domain '%s' is busy with another job", dname);
        return 0;
}

int virt_backup_begin(struct virt_conn *c, const char *uuid, const struct virt_backup_request *req,
                      struct sovd_err *err) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        _cleanup_free_ char *backup = NULL, *checkpoint = NULL;
        struct virt_xml_disk *disks = NULL;
        size_t n_disks = 0;
        const char *dname;
        int r;

        r = virt_domain_lookup(c, uuid, &dom, err);
        if (r < 0)
                return r;
        dname = virDomainGetName(dom);

        /* libvirt's own answer to a taken checkpoint name is a generic "operation failed". */
        if (req->checkpoint && req->checkpoint[0]) {
                r = virt_checkpoint_exists(c, uuid, req->checkpoint, err);
                if (r >= 0)
                        return err_set(err, -EEXIST, "domain '%s' already has a checkpoint named '%s'", dname,
                                       req->checkpoint);
                if (r != -ENOENT)
                        return r;
        }

        r = virt_xml_disks_read(c, dom, &disks, &n_disks, err);
        if (r < 0)
                return r;
        r = request_check(req, dname, disks, n_disks, err);
        if (r >= 0)
                r = backup_xml(req, disks, n_disks, &backup, &checkpoint);
        virt_xml_disks_free(disks, n_disks);
        if (r < 0)
                return r;

        r = backup_state_check(c, dom, dname, err);
        if (r < 0)
                return r;
        /* An unknown incremental checkpoint is NO_DOMAIN_CHECKPOINT: -ENOENT. */
        if (virDomainBackupBegin(dom, backup, checkpoint, 0) < 0) {
                /* The job lock stayed taken for libvirt's whole wait (30 s): another job ran all along. */
                bool busy = virGetLastErrorCode() == VIR_ERR_OPERATION_TIMEOUT;

                r = virt_error(err, c, "cannot start backup of domain '%s'", dname);
                return busy && r != -SOVD_E_LIBVIRT_DOWN ? -SOVD_E_BAD_STATE : r;
        }
        return 0;
}

static enum virt_job_operation operation_from_libvirt(int op) {
        switch (op) {
        case VIR_DOMAIN_JOB_OPERATION_BACKUP:
                return VIRT_JOB_OP_BACKUP;
        case VIR_DOMAIN_JOB_OPERATION_SNAPSHOT:
                return VIRT_JOB_OP_SNAPSHOT;
        case VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN:
        case VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT:
                return VIRT_JOB_OP_MIGRATION;
        default:
                return VIRT_JOB_OP_OTHER;
        }
}

static enum virt_job_outcome outcome_from_libvirt(int type) {
        switch (type) {
        case VIR_DOMAIN_JOB_BOUNDED:
        case VIR_DOMAIN_JOB_UNBOUNDED:
                return VIRT_JOB_ACTIVE;
        case VIR_DOMAIN_JOB_COMPLETED:
                return VIRT_JOB_COMPLETED;
        case VIR_DOMAIN_JOB_FAILED:
                return VIRT_JOB_FAILED;
        case VIR_DOMAIN_JOB_CANCELLED:
                return VIRT_JOB_CANCELLED;
        default:
                return VIRT_JOB_NONE;
        }
}

/* The first of the (processed, total) pairs that libvirt reports. */
static void job_bytes(virTypedParameterPtr params, int n, struct virt_job_info *info) {
        static const char *const pairs[][2] = {
                { VIR_DOMAIN_JOB_DATA_PROCESSED, VIR_DOMAIN_JOB_DATA_TOTAL },
                /* QEMU reports a push backup's progress only as disk_*. */
                { VIR_DOMAIN_JOB_DISK_PROCESSED, VIR_DOMAIN_JOB_DISK_TOTAL },
                { VIR_DOMAIN_JOB_MEMORY_PROCESSED, VIR_DOMAIN_JOB_MEMORY_TOTAL },
        };
        unsigned long long done, total;

        for (size_t i = 0; i < ELEMENTSOF(pairs); i++) {
                if (virTypedParamsGetULLong(params, n, pairs[i][0], &done) != 1)
                        continue;
                if (virTypedParamsGetULLong(params, n, pairs[i][1], &total) != 1)
                        total = 0;
                info->bytes_done = done;
                info->bytes_total = total;
                return;
        }
}

int virt_domain_job(struct virt_conn *c, const char *uuid, bool completed, struct virt_job_info *ret,
                    struct sovd_err *err) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        virTypedParameterPtr params = NULL;
        struct virt_job_info info = {};
        const char *dname, *msg = NULL;
        /* KEEP_COMPLETED: reading the completed job must not erase it for the next reader. */
        unsigned flags = completed ? VIR_DOMAIN_JOB_STATS_COMPLETED | VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED : 0;
        int r, type, n = 0, op;

        r = virt_domain_lookup(c, uuid, &dom, err);
        if (r < 0)
                return r;
        dname = virDomainGetName(dom);
        /* A shut-off domain has no current job; QEMU would call asking an invalid operation. */
        if (!completed) {
                r = virDomainIsActive(dom);
                if (r < 0)
                        return virt_error(err, c, "cannot read state of domain '%s'", dname);
                if (r == 0) {
                        *ret = info;
                        return 0;
                }
        }
        if (virDomainGetJobStats(dom, &type, &params, &n, flags) < 0)
                return virt_error(err, c, "cannot read the job of domain '%s'", dname);

        info.outcome = outcome_from_libvirt(type);
        if (info.outcome != VIRT_JOB_NONE) {
                info.operation = virTypedParamsGetInt(params, n, VIR_DOMAIN_JOB_OPERATION, &op) == 1
                                         ? operation_from_libvirt(op)
                                         : VIRT_JOB_OP_OTHER;
                job_bytes(params, n, &info);
                if (virTypedParamsGetString(params, n, VIR_DOMAIN_JOB_ERRMSG, &msg) == 1 && msg)
                        snprintf(info.error, sizeof(info.error), "%s", msg);
        }
        virTypedParamsFree(params, n);
        *ret = info;
        return 0;
}

int virt_domain_abort_job(struct virt_conn *c, const char *uuid, struct sovd_err *err) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        const char *dname;
        int r;

        r = virt_domain_lookup(c, uuid, &dom, err);
        if (r < 0)
                return r;
        dname = virDomainGetName(dom);
        /* No job: OPERATION_INVALID, -SOVD_E_BAD_STATE. */
        if (virDomainAbortJob(dom) < 0)
                return virt_error(err, c, "cannot abort the job of domain '%s'", dname);
        return 0;
}

static int checkpoint_lookup(struct virt_conn *c, const char *uuid, const char *name, virDomainPtr *ret_dom,
                             virDomainCheckpointPtr *ret, struct sovd_err *err) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        virDomainCheckpointPtr cp;
        const char *dname;
        int r;

        r = virt_domain_lookup(c, uuid, &dom, err);
        if (r < 0)
                return r;
        dname = virDomainGetName(dom);
        cp = virDomainCheckpointLookupByName(dom, name, 0);
        if (!cp)
                return virt_error(err, c, "checkpoint '%s' of domain '%s'", name, dname);
        *ret_dom = TAKE_PTR(dom);
        *ret = cp;
        return 0;
}

int virt_checkpoint_exists(struct virt_conn *c, const char *uuid, const char *name, struct sovd_err *err) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        _cleanup_checkpoint_ virDomainCheckpointPtr cp = NULL;

        return checkpoint_lookup(c, uuid, name, &dom, &cp, err);
}

static int checkpoint_delete(struct virt_conn *c, const char *uuid, const char *name, unsigned flags,
                             struct sovd_err *err) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        _cleanup_checkpoint_ virDomainCheckpointPtr cp = NULL;
        const char *dname;
        int r;

        r = checkpoint_lookup(c, uuid, name, &dom, &cp, err);
        if (r < 0)
                return r;
        dname = virDomainGetName(dom);
        if (virDomainCheckpointDelete(cp, flags) < 0)
                return virt_error(err, c, "cannot delete checkpoint '%s' of domain '%s'", name, dname);
        return 0;
}

int virt_checkpoint_delete(struct virt_conn *c, const char *uuid, const char *name, struct sovd_err *err) {
        return checkpoint_delete(c, uuid, name, 0, err);
}

int virt_checkpoint_forget(struct virt_conn *c, const char *uuid, const char *name, struct sovd_err *err) {
        return checkpoint_delete(c, uuid, name, VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY, err);
}

int virt_domain_xml(struct virt_conn *c, const char *uuid, char **ret, struct sovd_err *err) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        const char *dname;
        char *xml;
        int r;

        r = virt_domain_lookup(c, uuid, &dom, err);
        if (r < 0)
                return r;
        dname = virDomainGetName(dom);
        xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
        if (!xml)
                return virt_error(err, c, "cannot read XML of domain '%s'", dname);
        *ret = xml;
        return 0;
}

static int pool_lookup(struct virt_conn *c, const char *pool, virStoragePoolPtr *ret, struct sovd_err *err) {
        virStoragePoolPtr p = virStoragePoolLookupByName(virt_conn_ptr(c), pool);

        if (!p)
                return virt_error(err, c, "storage pool '%s'", pool);
        *ret = p;
        return 0;
}

int virt_pool_path(struct virt_conn *c, const char *pool, char **ret, struct sovd_err *err) {
        _cleanup_pool_ virStoragePoolPtr p = NULL;
        _cleanup_free_ char *xml = NULL;
        _cleanup_(xmlFreeDocp) xmlDocPtr doc = NULL;
        _cleanup_(xmlXPathFreeContextp) xmlXPathContextPtr ctx = NULL;
        _cleanup_(xmlXPathFreeObjectp) xmlXPathObjectPtr o = NULL;
        char *path;
        int r;

        r = pool_lookup(c, pool, &p, err);
        if (r < 0)
                return r;
        xml = virStoragePoolGetXMLDesc(p, 0);
        if (!xml)
                return virt_error(err, c, "cannot read XML of storage pool '%s'", pool);
        doc = xmlReadMemory(xml, (int) strlen(xml), "pool.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc)
                return err_set(err, -SOVD_E_LIBVIRT, "libvirt returned unparsable XML for storage pool '%s'", pool);
        ctx = xmlXPathNewContext(doc);
        if (!ctx)
                return -ENOMEM;
        o = xmlXPathEvalExpression((const xmlChar *) "string(/pool/target/path)", ctx);
        if (!o)
                return -ENOMEM;
        /* Pools of whole devices or network storage (iscsi, rbd) have no directory of files. */
        if (o->type != XPATH_STRING || !o->stringval || o->stringval[0] != '/')
                return err_set(err, -SOVD_E_UNRESOLVED, "storage pool '%s' keeps its volumes in no directory", pool);
        path = strdup((const char *) o->stringval);
        if (!path)
                return -ENOMEM;
        *ret = path;
        return 0;
}

int virt_pool_refresh(struct virt_conn *c, const char *pool, struct sovd_err *err) {
        _cleanup_pool_ virStoragePoolPtr p = NULL;
        int r;

        r = pool_lookup(c, pool, &p, err);
        if (r < 0)
                return r;
        if (virStoragePoolRefresh(p, 0) < 0)
                return virt_error(err, c, "cannot refresh storage pool '%s'", pool);
        return 0;
}
