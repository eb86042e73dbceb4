/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "sovd/binding.h"
#include "sovd/names.h"
#include "sovd/time-util.h"
#include "sovd/virt-vm.h"

void binding_done(struct binding *b) {
        if (!b)
                return;
        free(b->tenant);
        free(b->policy);
        free(b->policy_digest);
        free(b->request_id);
        free(b->created_at);
        free(b->migration_id);
        labels_free(b->labels, b->n_labels);
        for (size_t i = 0; i < b->n_volumes; i++) {
                free(b->volumes[i].pool);
                free(b->volumes[i].volume);
        }
        free(b->volumes);
        *b = (struct binding){};
}

struct binding *binding_free(struct binding *b) {
        binding_done(b);
        free(b);
        return NULL;
}

static void element(struct strbuf *sb, const char *name, const char *value) {
        if (!value)
                return;
        strbuf_appendf(sb, "<" SOVD_BINDING_PREFIX ":%s>", name);
        strbuf_append_xml_escaped(sb, value);
        strbuf_appendf(sb, "</" SOVD_BINDING_PREFIX ":%s>", name);
}

void binding_to_xml(const struct binding *b, struct strbuf *sb) {
        strbuf_append(sb, "<" SOVD_BINDING_PREFIX ":binding xmlns:" SOVD_BINDING_PREFIX "=\"" SOVD_BINDING_NS "\">");
        element(sb, "tenant", b->tenant);
        element(sb, "policy", b->policy);
        element(sb, "policy-digest", b->policy_digest);
        element(sb, "request-id", b->request_id);
        element(sb, "created-at", b->created_at);
        element(sb, "migration-id", b->migration_id);
        if (b->n_labels > 0) {
                strbuf_append(sb, "<" SOVD_BINDING_PREFIX ":labels>");
                for (size_t i = 0; i < b->n_labels; i++) {
                        strbuf_append(sb, "<" SOVD_BINDING_PREFIX ":label key=\"");
                        strbuf_append_xml_escaped(sb, b->labels[i].key);
                        strbuf_append(sb, "\">");
                        strbuf_append_xml_escaped(sb, b->labels[i].value);
                        strbuf_append(sb, "</" SOVD_BINDING_PREFIX ":label>");
                }
                strbuf_append(sb, "</" SOVD_BINDING_PREFIX ":labels>");
        }
        if (b->n_volumes > 0) {
                strbuf_append(sb, "<" SOVD_BINDING_PREFIX ":volumes>");
                for (size_t i = 0; i < b->n_volumes; i++) {
                        strbuf_append(sb, "<" SOVD_BINDING_PREFIX ":volume pool=\"");
                        strbuf_append_xml_escaped(sb, b->volumes[i].pool);
                        strbuf_append(sb, "\" name=\"");
                        strbuf_append_xml_escaped(sb, b->volumes[i].volume);
                        strbuf_append(sb, "\"/>");
                }
                strbuf_append(sb, "</" SOVD_BINDING_PREFIX ":volumes>");
        }
        strbuf_append(sb, "</" SOVD_BINDING_PREFIX ":binding>");
}

/*
 * virDomainGetMetadata() finds the element by namespace and hands it back
 * with the namespace stripped, so both forms are sovd's.
 */
static bool is_ours(xmlNodePtr n, const char *name) {
        if (n->type != XML_ELEMENT_NODE || !streq((const char *) n->name, name))
                return false;
        return !n->ns || (n->ns->href && streq((const char *) n->ns->href, SOVD_BINDING_NS));
}

/* Element text, or attribute @attr when not NULL; a copy, or NULL on OOM. */
static char *node_value(xmlNodePtr n, const char *attr) {
        xmlChar *v = attr ? xmlGetProp(n, (const xmlChar *) attr) : xmlNodeGetContent(n);
        char *s;

        if (!v)
                return strdup("");
        s = strdup((const char *) v);
        xmlFree(v);
        return s;
}

static bool is_hex_digest(const char *s) {
        if (strlen(s) != 64)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

static bool is_request_id(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > 64)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      *p == '-' || *p == '_' || *p == '.'))
                        return false;
        return true;
}

static int parse_list(xmlNodePtr parent, const char *child, struct binding *b, struct sovd_err *err) {
        size_t n = 0;

        for (xmlNodePtr k = parent->children; k; k = k->next)
                if (is_ours(k, child))
                        n++;
        if (n > 64)
                return err_set(err, -EINVAL, "binding: too many %s elements", child);
        if (streq(child, "label")) {
                b->labels = calloc(n ? n : 1, sizeof(*b->labels));
                if (!b->labels)
                        return -ENOMEM;
        } else {
                b->volumes = calloc(n ? n : 1, sizeof(*b->volumes));
                if (!b->volumes)
                        return -ENOMEM;
        }
        for (xmlNodePtr k = parent->children; k; k = k->next) {
                if (!is_ours(k, child))
                        continue;
                if (streq(child, "label")) {
                        struct label *l = &b->labels[b->n_labels++];
                        l->key = node_value(k, "key");
                        l->value = node_value(k, NULL);
                        if (!l->key || !l->value)
                                return -ENOMEM;
                        if (!label_key_is_valid(l->key) || !label_value_is_valid(l->value))
                                return err_set(err, -EINVAL, "binding: invalid label");
                } else {
                        struct binding_volume *v = &b->volumes[b->n_volumes++];
                        v->pool = node_value(k, "pool");
                        v->volume = node_value(k, "name");
                        if (!v->pool || !v->volume)
                                return -ENOMEM;
                        if (!name_is_valid(v->pool) || !volume_name_is_valid(v->volume))
                                return err_set(err, -EINVAL, "binding: invalid volume reference");
                }
        }
        return 0;
}

static int parse_binding(xmlNodePtr root, struct binding *b, struct sovd_err *err) {
        struct {
                const char *name;
                char **field;
        } fields[] = {
                { "tenant", &b->tenant },         { "policy", &b->policy },
                { "policy-digest", &b->policy_digest }, { "request-id", &b->request_id },
                { "created-at", &b->created_at },       { "migration-id", &b->migration_id },
        };
        int r;

        if (!root || !is_ours(root, "binding"))
                return err_set(err, -EINVAL, "binding: root element is not sovd:binding");
        for (xmlNodePtr n = root->children; n; n = n->next) {
                if (n->type != XML_ELEMENT_NODE)
                        continue;
                bool known = false;
                for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                        if (is_ours(n, fields[i].name)) {
                                if (*fields[i].field)
                                        return err_set(err, -EINVAL, "binding: duplicate %s", fields[i].name);
                                *fields[i].field = node_value(n, NULL);
                                if (!*fields[i].field)
                                        return -ENOMEM;
                                known = true;
                        }
                if (is_ours(n, "labels")) {
                        if (b->labels)
                                return err_set(err, -EINVAL, "binding: duplicate labels");
                        if ((r = parse_list(n, "label", b, err)) < 0)
                                return r;
                        known = true;
                }
                if (is_ours(n, "volumes")) {
                        if (b->volumes)
                                return err_set(err, -EINVAL, "binding: duplicate volumes");
                        if ((r = parse_list(n, "volume", b, err)) < 0)
                                return r;
                        known = true;
                }
                /* Unknown elements are tolerated: a newer sovd may have written them. */
                (void) known;
        }
        if (!b->tenant || !name_is_valid(b->tenant))
                return err_set(err, -EINVAL, "binding: missing or invalid tenant");
        if (!b->policy || !name_is_valid(b->policy))
                return err_set(err, -EINVAL, "binding: missing or invalid policy");
        if (b->policy_digest && !is_hex_digest(b->policy_digest))
                return err_set(err, -EINVAL, "binding: invalid policy-digest");
        if (b->request_id && !is_request_id(b->request_id))
                return err_set(err, -EINVAL, "binding: invalid request-id");
        if (b->migration_id && !uuid_text_is_valid(b->migration_id))
                return err_set(err, -EINVAL, "binding: invalid migration-id");
        time_t t;
        if (b->created_at && rfc3339_parse(b->created_at, &t) < 0)
                return err_set(err, -EINVAL, "binding: invalid created-at");
        return 0;
}

int binding_parse(const char *xml, struct binding *ret, struct sovd_err *err) {
        struct binding b = {};
        xmlDocPtr doc;
        int r;

        /* No network, no entity expansion: the metadata may have been written by anyone with virsh. */
        doc = xmlReadMemory(xml, (int) strlen(xml), "binding.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc)
                return err_set(err, -EINVAL, "binding: not well-formed XML");
        /*
         * libvirt hands back a bare element. A document type can only be a
         * trick: even unsubstituted, its internal entities would expand in
         * xmlNodeGetContent().
         */
        if (doc->intSubset || doc->extSubset) {
                xmlFreeDoc(doc);
                return err_set(err, -EINVAL, "binding: a document type declaration is not allowed");
        }
        r = parse_binding(xmlDocGetRootElement(doc), &b, err);
        xmlFreeDoc(doc);
        if (r < 0) {
                binding_done(&b);
                return r;
        }
        *ret = b;
        return 0;
}
