/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The sovd binding: what sovd knows about a VM it manages, kept in the
 * domain's own <metadata> (namespace SOVD_BINDING_NS) so that it travels
 * with the VM, survives agent restarts and shows in `virsh dumpxml`.
 * sovd keeps no other record of its VMs.
 *
 * The metadata can be edited behind sovd's back (virsh edit), so parsing
 * re-validates every field as outside input.
 */

#include <stddef.h>

#include "sovd/errors.h"
#include "sovd/labels.h"
#include "sovd/strbuf.h"

struct binding_volume {
        char *pool;
        char *volume;
};

struct binding {
        char *tenant;
        char *policy;
        char *policy_digest; /* hex SHA-256 of the policy admitted under; NULL until policies exist */
        char *request_id;
        char *created_at; /* RFC 3339 */
        char *migration_id; /* set for the trip of a migration through sovd: both agents record it */
        struct label *labels;
        size_t n_labels;
        struct binding_volume *volumes; /* volumes sovd created for the VM, deleted with it on request */
        size_t n_volumes;
};

void binding_done(struct binding *b);
struct binding *binding_free(struct binding *b);

/* Appends the <sovd:binding> element, every value escaped. */
void binding_to_xml(const struct binding *b, struct strbuf *sb);

/* Parses the element returned by virDomainGetMetadata(); -EINVAL with @err on anything unexpected. */
int binding_parse(const char *xml, struct binding *ret, struct sovd_err *err);
