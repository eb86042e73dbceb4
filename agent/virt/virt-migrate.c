/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sovd/virt-migrate.h"
#include "virt-private.h"

int virt_domain_migrate(struct virt_conn *c, const char *uuid, const struct virt_migration *m, struct sovd_err *err) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        virTypedParameterPtr params = NULL;
        virConnectPtr own;
        int n = 0, max = 0, r;
        unsigned long flags = VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;
        const char *dname;

        /* The call lasts as long as the migration: on the shared connection it stalled every other request. */
        r = virt_conn_open_private(c, &own, err);
        if (r < 0)
                return r;
        dom = virDomainLookupByUUIDString(own, uuid);
        if (!dom) {
                r = virt_error(err, c, "domain %s", uuid);
                virConnectClose(own);
                return r;
        }
        /* Read before the call: any libvirt call resets the error virt_error() reports. */
        dname = virDomainGetName(dom);
        flags |= m->live ? VIR_MIGRATE_LIVE : VIR_MIGRATE_OFFLINE;
        if (m->copy_storage)
                flags |= VIR_MIGRATE_NON_SHARED_DISK;
        else if (m->unsafe)
                flags |= VIR_MIGRATE_UNSAFE;
        if ((m->data_uri && virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_URI, m->data_uri) < 0) ||
            (m->dest_xml && (virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_DEST_XML, m->dest_xml) < 0 ||
                             virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_PERSIST_XML, m->dest_xml) < 0))) {
                virTypedParamsFree(params, n);
                virDomainFree(TAKE_PTR(dom));
                virConnectClose(own);
                return -ENOMEM;
        }
        r = virDomainMigrateToURI3(dom, m->dest_uri, params, (unsigned) n, (unsigned) flags);
        if (r < 0)
                r = virt_error(err, c, "migration of domain '%s' to %s", dname, m->dest_uri);
        virTypedParamsFree(params, n);
        virDomainFree(TAKE_PTR(dom));
        virConnectClose(own);
        return r < 0 ? r : 0;
}

int virt_domain_migratable_xml(struct virt_conn *c, const char *uuid, char **ret, struct sovd_err *err) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        int r;

        const char *dname;

        r = virt_domain_lookup(c, uuid, &dom, err);
        if (r < 0)
                return r;
        dname = virDomainGetName(dom);
        *ret = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_MIGRATABLE);
        if (!*ret)
                return virt_error(err, c, "cannot read the migratable XML of domain '%s'", dname);
        return 0;
}
