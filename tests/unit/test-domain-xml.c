/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "sovd/binding.h"
#include "sovd/domain-xml.h"
#include "sovd/names.h"
#include "sovd/virt-vm.h"
#include "sovd/vm-spec.h"
#include "test-harness.h"

#define HOSTILE_LABEL_1 "\"><script>alert(1)</script>"
#define HOSTILE_LABEL_2 "]]>&amp;'<!-- -->"
#define HOSTILE_PATH "/var/lib/libvirt/images/it's&co \"x\" <y>.qcow2"

static struct label test_labels[] = {
        { (char *) "env", (char *) "prod" },
        { (char *) "xss", (char *) HOSTILE_LABEL_1 },
        { (char *) "cdata", (char *) HOSTILE_LABEL_2 },
        { (char *) "owner", (char *) "\xc3\xa9quipe \xf0\x9f\x9a\x80" },
        { (char *) "empty", (char *) "" },
};

static struct binding_volume test_volumes[] = {
        { (char *) "default", (char *) "web-01-disk0.qcow2" },
        { (char *) "images", (char *) "web-01-disk1.qcow2" },
};

static struct vm_spec make_spec(bool hostile) {
        struct vm_spec s = {
                .name = (char *) "web-01",
                .tenant = (char *) "acme",
                .policy = (char *) "standard",
                .vcpus = 2,
                .memory_mib = 2048,
                .n_disks = 2,
                .n_networks = 2,
                .labels = test_labels,
                .n_labels = ELEMENTSOF(test_labels),
        };
        s.disks[0] = (struct vm_spec_disk){ .pool = (char *) "default", .size_gib = 20 };
        s.disks[1] = (struct vm_spec_disk){ .pool = (char *) "images", .image = (char *) "debian-12" };
        s.networks[0].network = (char *) "default";
        s.networks[1].network = (char *) "br-prod.10";
        if (!hostile) {
                static struct label plain[ELEMENTSOF(test_labels)];
                for (size_t i = 0; i < ELEMENTSOF(plain); i++)
                        plain[i] = (struct label){ test_labels[i].key, (char *) (*test_labels[i].value ? "v" : "") };
                s.labels = plain;
        }
        return s;
}

static struct binding make_binding(const struct vm_spec *s) {
        return (struct binding){
                .tenant = s->tenant,
                .policy = s->policy,
                .policy_digest = (char *) "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                .request_id = (char *) "req-0f8fad5b_d9cb.469f",
                .created_at = (char *) "2026-11-23T17:40:02Z",
                .labels = s->labels,
                .n_labels = s->n_labels,
                .volumes = test_volumes,
                .n_volumes = ELEMENTSOF(test_volumes),
        };
}

static xmlDocPtr build_and_parse(const struct vm_spec *s, const char *type, const char *const *paths) {
        struct binding b = make_binding(s);
        _cleanup_free_ char *xml = NULL;
        xmlDocPtr doc;

        ASSERT_OK(domain_xml_build(s, type, paths, &b, &xml));
        ASSERT_NOT_NULL(xml);
        doc = xmlReadMemory(xml, (int) strlen(xml), "domain.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR);
        if (!doc)
                TEST_FAIL("domain XML is not well-formed:\n%s", xml);
        return doc;
}

/* The string value of XPath @expr (a count() gives its number as text); caller frees. */
static char *xpath(xmlDocPtr doc, const char *expr) {
        xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
        xmlXPathObjectPtr o;
        xmlChar *v;
        char *s;

        ASSERT_NOT_NULL(ctx);
        ASSERT_INT_EQ(xmlXPathRegisterNs(ctx, BAD_CAST "s", BAD_CAST SOVD_BINDING_NS), 0);
        o = xmlXPathEvalExpression(BAD_CAST expr, ctx);
        if (!o)
                TEST_FAIL("bad XPath %s", expr);
        v = xmlXPathCastToString(o);
        s = strdup((const char *) v);
        xmlFree(v);
        xmlXPathFreeObject(o);
        xmlXPathFreeContext(ctx);
        return s;
}

#define ASSERT_XPATH(doc, expr, expected)                        \
        do {                                                     \
                _cleanup_free_ char *v__ = xpath((doc), (expr)); \
                ASSERT_STR_EQ(v__, (expected));                  \
        } while (0)

static void test_domain_xml_build_structure(void) {
        struct vm_spec s = make_spec(true);
        const char *paths[] = { "/var/lib/libvirt/images/web-01-disk0.qcow2", "/srv/images/web-01-disk1.qcow2" };
        xmlDocPtr doc = build_and_parse(&s, "kvm", paths);

        ASSERT_XPATH(doc, "name(/*)", "domain");
        ASSERT_XPATH(doc, "/domain/@type", "kvm");
        ASSERT_XPATH(doc, "/domain/name", "web-01");
        ASSERT_XPATH(doc, "count(/domain/name)", "1");
        ASSERT_XPATH(doc, "/domain/memory", "2048");
        ASSERT_XPATH(doc, "/domain/memory/@unit", "MiB");
        ASSERT_XPATH(doc, "/domain/vcpu", "2");
        ASSERT_XPATH(doc, "/domain/os/type", "hvm");
        ASSERT_XPATH(doc, "count(/domain/devices/disk)", "2");
        ASSERT_XPATH(doc, "/domain/devices/disk[1]/source/@file", paths[0]);
        ASSERT_XPATH(doc, "/domain/devices/disk[1]/target/@dev", "vda");
        ASSERT_XPATH(doc, "/domain/devices/disk[1]/target/@bus", "virtio");
        ASSERT_XPATH(doc, "/domain/devices/disk[1]/driver/@type", "qcow2");
        ASSERT_XPATH(doc, "/domain/devices/disk[2]/source/@file", paths[1]);
        ASSERT_XPATH(doc, "/domain/devices/disk[2]/target/@dev", "vdb");
        ASSERT_XPATH(doc, "count(/domain/devices/interface)", "2");
        ASSERT_XPATH(doc, "/domain/devices/interface[1]/@type", "network");
        ASSERT_XPATH(doc, "/domain/devices/interface[1]/source/@network", "default");
        ASSERT_XPATH(doc, "/domain/devices/interface[2]/source/@network", "br-prod.10");
        ASSERT_XPATH(doc, "/domain/devices/interface[2]/model/@type", "virtio");

        /* The binding, in sovd's namespace. */
        ASSERT_XPATH(doc, "count(/domain/metadata/*)", "1");
        ASSERT_XPATH(doc, "namespace-uri(/domain/metadata/*)", "urn:sovd:binding:1");
        ASSERT_XPATH(doc, "local-name(/domain/metadata/*)", "binding");
        ASSERT_XPATH(doc, "/domain/metadata/s:binding/s:tenant", "acme");
        ASSERT_XPATH(doc, "/domain/metadata/s:binding/s:policy", "standard");
        ASSERT_XPATH(doc, "/domain/metadata/s:binding/s:created-at", "2026-11-23T17:40:02Z");
        ASSERT_XPATH(doc, "count(/domain/metadata/s:binding/s:labels/s:label)", "5");
        ASSERT_XPATH(doc, "/domain/metadata/s:binding/s:labels/s:label[@key='owner']", "\xc3\xa9quipe \xf0\x9f\x9a\x80");
        ASSERT_XPATH(doc, "/domain/metadata/s:binding/s:volumes/s:volume[2]/@name", "web-01-disk1.qcow2");
        ASSERT_XPATH(doc, "/domain/metadata/s:binding/s:volumes/s:volume[2]/@pool", "images");
        xmlFreeDoc(doc);
}

static void test_domain_xml_hostile_values_round_trip(void) {
        struct vm_spec hostile = make_spec(true), plain = make_spec(false);
        const char *hostile_paths[] = { HOSTILE_PATH, "/x/a'b\"c&d<e>f]]>g" };
        const char *plain_paths[] = { "/a", "/b" };
        xmlDocPtr h = build_and_parse(&hostile, "kvm", hostile_paths);
        xmlDocPtr p = build_and_parse(&plain, "kvm", plain_paths);

        /* Every value comes back exactly as given... */
        ASSERT_XPATH(h, "/domain/metadata/s:binding/s:labels/s:label[@key='xss']", HOSTILE_LABEL_1);
        ASSERT_XPATH(h, "/domain/metadata/s:binding/s:labels/s:label[@key='cdata']", HOSTILE_LABEL_2);
        ASSERT_XPATH(h, "/domain/metadata/s:binding/s:labels/s:label[@key='empty']", "");
        ASSERT_XPATH(h, "/domain/devices/disk[1]/source/@file", HOSTILE_PATH);
        ASSERT_XPATH(h, "/domain/devices/disk[2]/source/@file", hostile_paths[1]);
        /* ... and creates nothing: same elements, attributes, comments and text nodes as the plain build. */
        static const char *const counts[] = { "count(//*)", "count(//@*)", "count(//comment())", "count(//processing-instruction())",
                                              "count(//text())", "count(//script)" };
        for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
                _cleanup_free_ char *a = xpath(h, counts[i]), *b = xpath(p, counts[i]);
                if (!streq(a, b))
                        TEST_FAIL("%s: %s with hostile values, %s without", counts[i], a, b);
        }
        ASSERT_XPATH(h, "count(//script)", "0");
        xmlFreeDoc(h);
        xmlFreeDoc(p);

        /* Even the domain type, which comes from libvirt, is escaped. */
        const char *paths[] = { "/a", "/b" };
        xmlDocPtr t = build_and_parse(&plain, "kvm' x='1", paths);
        ASSERT_XPATH(t, "/domain/@type", "kvm' x='1");
        ASSERT_XPATH(t, "count(/domain/@*)", "1");
        xmlFreeDoc(t);
}

static void test_domain_xml_disk_limits(void) {
        struct vm_spec s = make_spec(false);
        struct binding b = make_binding(&s);
        char *xml = (char *) "untouched";
        const char *paths[] = { "/a", "/b" };

        s.n_disks = 27;
        ASSERT_INT_EQ(domain_xml_build(&s, "kvm", paths, &b, &xml), -EINVAL);
        ASSERT_STR_EQ(xml, "untouched");

        /* No disks, no networks, no labels: still a valid domain. */
        s.n_disks = 0;
        s.n_networks = 0;
        s.n_labels = 0;
        xmlDocPtr doc = build_and_parse(&s, "test", NULL);
        ASSERT_XPATH(doc, "count(/domain/devices/disk)", "0");
        ASSERT_XPATH(doc, "count(/domain/devices/interface)", "0");
        ASSERT_XPATH(doc, "count(//s:labels)", "0");
        ASSERT_XPATH(doc, "/domain/@type", "test");
        xmlFreeDoc(doc);
}

/* Serialises the binding element of a domain as virDomainGetMetadata() returns it. */
static char *metadata_of(xmlDocPtr doc) {
        xmlNodePtr n = xmlDocGetRootElement(doc);
        xmlBufferPtr buf = xmlBufferCreate();
        char *s;

        for (n = n->children; n && !(n->type == XML_ELEMENT_NODE && streq((const char *) n->name, "metadata")); n = n->next)
                ;
        ASSERT_NOT_NULL(n);
        for (n = n->children; n && n->type != XML_ELEMENT_NODE; n = n->next)
                ;
        ASSERT_NOT_NULL(n);
        ASSERT_TRUE(xmlNodeDump(buf, doc, n, 0, 0) > 0);
        s = strdup((const char *) xmlBufferContent(buf));
        xmlBufferFree(buf);
        return s;
}

static void assert_binding_eq(const struct binding *a, const struct binding *b) {
        ASSERT_STR_EQ(a->tenant, b->tenant);
        ASSERT_STR_EQ(a->policy, b->policy);
        ASSERT_STR_EQ(a->policy_digest, b->policy_digest);
        ASSERT_STR_EQ(a->request_id, b->request_id);
        ASSERT_STR_EQ(a->created_at, b->created_at);
        ASSERT_INT_EQ(a->n_labels, b->n_labels);
        for (size_t i = 0; i < a->n_labels; i++) {
                ASSERT_STR_EQ(a->labels[i].key, b->labels[i].key);
                ASSERT_STR_EQ(a->labels[i].value, b->labels[i].value);
        }
        ASSERT_INT_EQ(a->n_volumes, b->n_volumes);
        for (size_t i = 0; i < a->n_volumes; i++) {
                ASSERT_STR_EQ(a->volumes[i].pool, b->volumes[i].pool);
                ASSERT_STR_EQ(a->volumes[i].volume, b->volumes[i].volume);
        }
}

static void test_domain_xml_binding_round_trip(void) {
        struct vm_spec s = make_spec(true);
        struct binding b = make_binding(&s), got = {};
        _cleanup_strbuf_ struct strbuf sb = {};
        struct sovd_err err = {};
        const char *paths[] = { "/a", "/b" };

        binding_to_xml(&b, &sb);
        ASSERT_NOT_NULL(sb.buf);
        ASSERT_OK(binding_parse(sb.buf, &got, &err));
        assert_binding_eq(&b, &got);
        binding_done(&got);
        ASSERT_NULL(got.tenant);

        /* Through a whole domain document and back out, the way libvirt hands it over. */
        xmlDocPtr doc = build_and_parse(&s, "kvm", paths);
        _cleanup_free_ char *meta = metadata_of(doc);
        xmlFreeDoc(doc);
        ASSERT_OK(binding_parse(meta, &got, &err));
        assert_binding_eq(&b, &got);
        binding_done(&got);

        /* Optional members absent. */
        struct binding min = { .tenant = (char *) "t", .policy = (char *) "p" };
        strbuf_done(&sb);
        binding_to_xml(&min, &sb);
        ASSERT_OK(binding_parse(sb.buf, &got, &err));
        assert_binding_eq(&min, &got);
        ASSERT_NULL(got.policy_digest);
        ASSERT_NULL(got.request_id);
        ASSERT_NULL(got.created_at);
        binding_done(&got);
}

static void test_domain_xml_binding_long_vm_name(void) {
        /* The volumes of a VM with the longest name, and the most disks, must not make its binding invalid. */
        char name[NAME_MAX_LEN + 1];
        struct vm_spec s = make_spec(false);
        struct binding_volume vols[VM_SPEC_MAX_DISKS];
        struct binding b, got = {};
        _cleanup_strbuf_ struct strbuf sb = {};
        struct sovd_err err = {};

        memset(name, 'n', NAME_MAX_LEN);
        name[NAME_MAX_LEN] = '\0';
        ASSERT_TRUE(name_is_valid(name));
        s.name = name;
        b = make_binding(&s);
        for (size_t i = 0; i < VM_SPEC_MAX_DISKS; i++) {
                vols[i].pool = (char *) "default";
                ASSERT_OK(vm_spec_volume_name(&s, i, &vols[i].volume));
        }
        b.volumes = vols;
        b.n_volumes = VM_SPEC_MAX_DISKS;
        binding_to_xml(&b, &sb);
        int r = binding_parse(sb.buf, &got, &err);
        if (r < 0)
                TEST_FAIL("binding of a VM named %s refused: %s", name, err.msg);
        assert_binding_eq(&b, &got);
        binding_done(&got);
        for (size_t i = 0; i < VM_SPEC_MAX_DISKS; i++)
                free(vols[i].volume);
}

static void test_domain_xml_binding_forms(void) {
        struct binding got = {};
        struct sovd_err err = {};

        /* Namespace stripped, as virDomainGetMetadata() may return it. */
        ASSERT_OK(binding_parse("<binding><tenant>t1</tenant><policy>p1</policy>"
                                "<labels><label key=\"a\">x</label></labels></binding>",
                                &got, &err));
        ASSERT_STR_EQ(got.tenant, "t1");
        ASSERT_STR_EQ(got.labels[0].value, "x");
        binding_done(&got);

        /* Any prefix for sovd's namespace; unknown elements of a newer sovd tolerated; foreign ones ignored. */
        ASSERT_OK(binding_parse("<b:binding xmlns:b=\"urn:sovd:binding:1\" xmlns:o=\"urn:other\">"
                                "<o:tenant>evil</o:tenant><b:tenant>t2</b:tenant><b:policy>p</b:policy>"
                                "<b:future-field>x</b:future-field><o:policy>evil</o:policy></b:binding>",
                                &got, &err));
        ASSERT_STR_EQ(got.tenant, "t2");
        ASSERT_STR_EQ(got.policy, "p");
        binding_done(&got);
}

static void binding_fails(const char *xml, const char *msg) {
        struct binding got = { .tenant = (char *) "untouched" };
        struct sovd_err err = {};
        int r = binding_parse(xml, &got, &err);

        if (r != -EINVAL)
                TEST_FAIL("binding_parse(%s): expected -EINVAL, got %d (tenant %s)", xml, r, strna(got.tenant));
        if (!strstr(err.msg, msg))
                TEST_FAIL("binding_parse(%s): expected \"%s\" in \"%s\"", xml, msg, err.msg);
        ASSERT_STR_EQ(got.tenant, "untouched");
}

#define NS "xmlns:sovd=\"urn:sovd:binding:1\""
#define TP "<sovd:tenant>t</sovd:tenant><sovd:policy>p</sovd:policy>"

static void test_domain_xml_binding_rejections(void) {
        char xml[16384], *p;

        binding_fails("", "not well-formed");
        binding_fails("<sovd:binding " NS ">" TP, "not well-formed");
        binding_fails("<sovd:binding " NS ">" TP "</sovd:bindin>", "not well-formed");
        binding_fails("tenant", "not well-formed");
        binding_fails("<sovd:binding " NS ">" TP "</sovd:binding><x/>", "not well-formed");
        binding_fails("<sovd:binding " NS "><sovd:tenant>&#1;</sovd:tenant></sovd:binding>", "not well-formed");
        binding_fails("<sovd:binding " NS "><sovd:tenant>&bogus;</sovd:tenant></sovd:binding>", "not well-formed");

        binding_fails("<domain><name>x</name></domain>", "root element is not sovd:binding");
        binding_fails("<sovd:binding xmlns:sovd=\"urn:sovd:binding:2\">" TP "</sovd:binding>", "root element is not");
        binding_fails("<sovd:tenant " NS ">t</sovd:tenant>", "root element is not");

        binding_fails("<sovd:binding " NS "><sovd:policy>p</sovd:policy></sovd:binding>", "missing or invalid tenant");
        binding_fails("<sovd:binding " NS "><sovd:tenant/><sovd:policy>p</sovd:policy></sovd:binding>", "invalid tenant");
        binding_fails("<sovd:binding " NS "><sovd:tenant>../x</sovd:tenant><sovd:policy>p</sovd:policy></sovd:binding>",
                      "invalid tenant");
        binding_fails("<sovd:binding " NS "><sovd:tenant>a b</sovd:tenant><sovd:policy>p</sovd:policy></sovd:binding>",
                      "invalid tenant");
        binding_fails("<sovd:binding " NS "><sovd:tenant>t</sovd:tenant></sovd:binding>", "missing or invalid policy");
        binding_fails("<sovd:binding " NS "><sovd:tenant>t</sovd:tenant><sovd:policy>-p</sovd:policy></sovd:binding>",
                      "invalid policy");

        binding_fails("<sovd:binding " NS ">" TP "<sovd:policy-digest>abc</sovd:policy-digest></sovd:binding>",
                      "invalid policy-digest");
        binding_fails("<sovd:binding " NS ">" TP "<sovd:policy-digest>9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
                      "</sovd:policy-digest></sovd:binding>",
                      "invalid policy-digest");
        binding_fails("<sovd:binding " NS ">" TP "<sovd:policy-digest>9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0g"
                      "</sovd:policy-digest></sovd:binding>",
                      "invalid policy-digest");
        binding_fails("<sovd:binding " NS ">" TP "<sovd:request-id>a b</sovd:request-id></sovd:binding>", "invalid request-id");
        binding_fails("<sovd:binding " NS ">" TP "<sovd:request-id></sovd:request-id></sovd:binding>", "invalid request-id");
        binding_fails("<sovd:binding " NS ">" TP "<sovd:created-at>yesterday</sovd:created-at></sovd:binding>",
                      "invalid created-at");
        binding_fails("<sovd:binding " NS ">" TP "<sovd:created-at>2026-11-23T17:40:02+01:00</sovd:created-at></sovd:binding>",
                      "invalid created-at");

        binding_fails("<sovd:binding " NS ">" TP "<sovd:tenant>t2</sovd:tenant></sovd:binding>", "duplicate tenant");
        binding_fails("<sovd:binding " NS ">" TP "<sovd:policy>p</sovd:policy></sovd:binding>", "duplicate policy");
        binding_fails("<sovd:binding " NS ">" TP "<sovd:created-at>2026-11-23T17:40:02Z</sovd:created-at>"
                      "<sovd:created-at>2026-11-23T17:40:02Z</sovd:created-at></sovd:binding>",
                      "duplicate created-at");
        binding_fails("<sovd:binding " NS ">" TP "<sovd:labels/><sovd:labels/></sovd:binding>", "duplicate labels");
        binding_fails("<sovd:binding " NS ">" TP "<sovd:volumes/><sovd:volumes/></sovd:binding>", "duplicate volumes");

        binding_fails("<sovd:binding " NS ">" TP "<sovd:labels><sovd:label key=\"Bad\">v</sovd:label></sovd:labels></sovd:binding>",
                      "invalid label");
        binding_fails("<sovd:binding " NS ">" TP "<sovd:labels><sovd:label>v</sovd:label></sovd:labels></sovd:binding>",
                      "invalid label");
        binding_fails("<sovd:binding " NS ">" TP "<sovd:labels><sovd:label key=\"k\">a&#10;b</sovd:label></sovd:labels></sovd:binding>",
                      "invalid label");
        binding_fails("<sovd:binding " NS ">" TP "<sovd:labels><sovd:label key=\"k\">&#x85;</sovd:label></sovd:labels></sovd:binding>",
                      "invalid label");
        binding_fails("<sovd:binding " NS ">" TP "<sovd:volumes><sovd:volume pool=\"../p\" name=\"v\"/></sovd:volumes></sovd:binding>",
                      "invalid volume reference");
        binding_fails("<sovd:binding " NS ">" TP "<sovd:volumes><sovd:volume pool=\"p\"/></sovd:volumes></sovd:binding>",
                      "invalid volume reference");

        p = xml + sprintf(xml, "<sovd:binding " NS ">" TP "<sovd:labels>");
        for (int i = 0; i < 65; i++)
                p += sprintf(p, "<sovd:label key=\"k%d\">v</sovd:label>", i);
        sprintf(p, "</sovd:labels></sovd:binding>");
        binding_fails(xml, "too many label elements");
        p = xml + sprintf(xml, "<sovd:binding " NS ">" TP "<sovd:volumes>");
        for (int i = 0; i < 65; i++)
                p += sprintf(p, "<sovd:volume pool=\"p\" name=\"v%d\"/>", i);
        sprintf(p, "</sovd:volumes></sovd:binding>");
        binding_fails(xml, "too many volume elements");
}

static int entity_loads;

static xmlParserInputPtr counting_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt) {
        entity_loads++;
        return NULL;
}

static void test_domain_xml_binding_no_entities(void) {
        static const char *const docs[] = {
                /* An internal entity must not expand into a value. */
                "<!DOCTYPE binding [<!ENTITY e \"evil\">]><binding><tenant>&e;</tenant><policy>p</policy></binding>",
                "<!DOCTYPE binding [<!ENTITY e \"evil\">]><binding><tenant>t</tenant><policy>p</policy>"
                "<labels><label key=\"k\">&e;</label></labels></binding>",
                /* External entities and DTDs must not be fetched. */
                "<!DOCTYPE binding [<!ENTITY e SYSTEM \"file:///etc/hostname\">]><binding><tenant>t</tenant><policy>p</policy>"
                "<labels><label key=\"k\">x&e;</label></labels></binding>",
                "<!DOCTYPE binding [<!ENTITY e SYSTEM \"http://127.0.0.1:9/x\">]><binding><tenant>&e;t</tenant><policy>p</policy></binding>",
                "<!DOCTYPE binding SYSTEM \"file:///etc/hostname\"><binding><tenant>t</tenant><policy>p</policy></binding>",
                "<!DOCTYPE binding [<!ENTITY % pe SYSTEM \"file:///etc/hostname\"> %pe;]><binding><tenant>t</tenant><policy>p</policy></binding>",
                /* Billion laughs. */
                "<!DOCTYPE b [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
                "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">"
                "<!ENTITY f \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\"><!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">"
                "<!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">]>"
                "<binding><tenant>t</tenant><policy>p</policy><labels><label key=\"k\">&h;</label></labels></binding>",
        };
        xmlExternalEntityLoader saved = xmlGetExternalEntityLoader();

        xmlSetExternalEntityLoader(counting_loader);
        for (size_t i = 0; i < ELEMENTSOF(docs); i++) {
                struct binding got = {};
                struct sovd_err err = {};
                int r = binding_parse(docs[i], &got, &err);

                /* A binding is a bare element: a document type can only be a trick. */
                if (r >= 0) {
                        char what[128];
                        snprintf(what, sizeof(what), "tenant '%s', label '%.40s'", got.tenant,
                                 got.n_labels ? got.labels[0].value : "");
                        binding_done(&got);
                        xmlSetExternalEntityLoader(saved);
                        TEST_FAIL("document %zu with a DOCTYPE accepted: %s", i, what);
                }
                ASSERT_NULL(got.tenant);
        }
        xmlSetExternalEntityLoader(saved);
        ASSERT_INT_EQ(entity_loads, 0);
}

/* The hook's domain XML: its disks' paths and its UUID (the key of the VM's jobs), normalised or dropped. */
static void test_domain_xml_inspect_uuid(void) {
        static const struct {
                const char *uuid_element, *expected;
        } cases[] = {
                { "<uuid>0e5b9a2c-1f3d-4c6e-8a7b-9d0c1e2f3a4b</uuid>", "0e5b9a2c-1f3d-4c6e-8a7b-9d0c1e2f3a4b" },
                { "<uuid> 0E5B9A2C-1F3D-4C6E-8A7B-9D0C1E2F3A4B\n</uuid>", "0e5b9a2c-1f3d-4c6e-8a7b-9d0c1e2f3a4b" },
                { "<uuid>0e5b9a2c1f3d4c6e8a7b9d0c1e2f3a4b</uuid>", "" },
                { "<uuid>0e5b9a2c-1f3d-4c6e-8a7b-9d0c1e2f3a4b-0000</uuid>", "" },
                { "<uuid>../../etc/passwd</uuid>", "" },
                { "", "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *xml = NULL;
                struct binding *b = NULL;
                char **paths = NULL, uuid[ID_TEXT_LEN] = "unset";
                struct sovd_err err = {};

                ASSERT_TRUE(asprintf(&xml,
                                     "<domain type='kvm'><name>d</name>%s<devices><disk type='file' device='disk'>"
                                     "<source file='/var/lib/sovd/d.qcow2'/><target dev='vda'/></disk></devices></domain>",
                                     cases[i].uuid_element) > 0);
                ASSERT_OK(domain_xml_inspect(xml, strlen(xml), &b, &paths, uuid, &err));
                ASSERT_NULL(b);
                ASSERT_STR_EQ(paths[0], "/var/lib/sovd/d.qcow2");
                ASSERT_NULL(paths[1]);
                ASSERT_STR_EQ(uuid, cases[i].expected);
                strv_free(paths);
        }
}

/* A backed-up domain (as libvirt wrote it) becomes a new VM with the restored disks and a fresh binding. */
static void test_domain_xml_for_restore(void) {
        static const char source[] =
                "<domain type='kvm'><name>web-01</name><uuid>11111111-2222-4333-8444-555555555555</uuid>"
                "<metadata><sovd:binding xmlns:sovd='urn:sovd:binding:1'><sovd:tenant>old</sovd:tenant>"
                "<sovd:policy>old</sovd:policy></sovd:binding><other xmlns='urn:x'>kept</other></metadata>"
                "<os><type>hvm</type><kernel>/boot/vmlinuz</kernel><nvram>/var/lib/libvirt/qemu/nvram/web-01_VARS.fd</nvram></os><devices>"
                "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/old/vda.qcow2'/>"
                "<backingStore type='file'><format type='qcow2'/><source file='/img/base.qcow2'/></backingStore>"
                "<target dev='vda' bus='virtio'/></disk>"
                "<disk type='file' device='disk'><source file='/old/vdb.raw'/><target dev='vdb' bus='virtio'/></disk>"
                "<disk type='file' device='cdrom'><source file='/iso/x.iso'/><target dev='sda' bus='sata'/></disk>"
                "<interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='default'/></interface>"
                "<emulator>/tmp/evil-qemu</emulator>"
                "<hostdev mode='subsystem' type='pci'><source><address bus='0x01' slot='0x00'/></source></hostdev>"
                "<serial type='pty'><target port='0'/></serial>"
                "<channel type='file'><source path='/etc/cron.d/x'/><target type='virtio'/></channel>"
                "</devices><qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
                "<qemu:arg value='-x'/></qemu:commandline></domain>";
        struct restored_disk disks[] = { { "vda", HOSTILE_PATH } };
        struct binding b = { .tenant = (char *) "acme", .policy = (char *) "fr-sovereign", .labels = test_labels,
                             .n_labels = ELEMENTSOF(test_labels), .volumes = test_volumes, .n_volumes = 1 };
        struct binding got = {};
        _cleanup_free_ char *xml = NULL;
        struct sovd_err err = {};

        ASSERT_OK(domain_xml_for_restore(source, "web-01-restored", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", disks, 1, &b,
                                         &xml, &err));
        xmlDocPtr doc = xmlReadMemory(xml, (int) strlen(xml), "x.xml", NULL, XML_PARSE_NONET);
        ASSERT_NOT_NULL(doc);
        xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
        xmlXPathRegisterNs(ctx, (const xmlChar *) "sovd", (const xmlChar *) SOVD_BINDING_NS);
        static const struct {
                const char *xpath;
                const char *expected;
        } checks[] = {
                { "string(/domain/name)", "web-01-restored" },
                { "string(/domain/uuid)", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee" },
                { "string(/domain/devices/disk[target/@dev='vda']/source/@file)", HOSTILE_PATH },
                { "string(/domain/devices/disk[target/@dev='vda']/driver/@type)", "qcow2" },
                { "string(count(/domain/devices/disk[target/@dev='vda']/backingStore))", "0" },
                /* Not restored: the original's disk must not be attached to the copy. */
                { "string(count(/domain/devices/disk[target/@dev='vdb']))", "0" },
                { "string(count(/domain/devices/disk[@device='cdrom']))", "0" },
                { "string(count(/domain/devices/hostdev))", "0" },
                { "string(count(/domain/devices/serial))", "1" },
                { "string(/domain/devices/serial/@type)", "pty" },
                { "string(count(/domain/devices/channel))", "0" },
                { "string(count(/domain/os/kernel))", "0" },
                { "string(count(/domain/devices/emulator))", "0" },
                { "string(count(/domain/*[local-name()='commandline']))", "0" },
                { "string(count(/domain/devices/interface/mac))", "0" },
                { "string(count(/domain/os/nvram))", "0" },
                { "string(count(/domain/metadata/sovd:binding))", "1" },
                { "string(/domain/metadata/sovd:binding/sovd:tenant)", "acme" },
                { "string(/domain/metadata/*[local-name()='other'])", "kept" },
        };
        for (size_t i = 0; i < ELEMENTSOF(checks); i++) {
                xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *) checks[i].xpath, ctx);
                ASSERT_NOT_NULL(o);
                ASSERT_STR_EQ((const char *) o->stringval, checks[i].expected);
                xmlXPathFreeObject(o);
        }
        /* The binding inside is the one given, hostile labels intact. */
        xmlXPathObjectPtr bo = xmlXPathEvalExpression((const xmlChar *) "/domain/metadata/sovd:binding", ctx);
        ASSERT_TRUE(bo && bo->nodesetval && bo->nodesetval->nodeNr == 1);
        xmlBufferPtr buf = xmlBufferCreate();
        xmlNodeDump(buf, doc, bo->nodesetval->nodeTab[0], 0, 0);
        ASSERT_OK(binding_parse((const char *) xmlBufferContent(buf), &got, &err));
        ASSERT_INT_EQ(got.n_labels, ELEMENTSOF(test_labels));
        ASSERT_STR_EQ(got.labels[1].value, HOSTILE_LABEL_1);
        binding_done(&got);
        xmlBufferFree(buf);
        xmlXPathFreeObject(bo);
        xmlXPathFreeContext(ctx);
        xmlFreeDoc(doc);

        /* Not a domain: refused, nothing made. */
        char *none = NULL;
        ASSERT_INT_EQ(domain_xml_for_restore("<network/>", "x", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", disks, 1, &b,
                                             &none, &err),
                      -EBADMSG);
        ASSERT_NULL(none);
        ASSERT_INT_EQ(domain_xml_for_restore("<domain><name>&xxe;</name></domain>", "x",
                                             "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", disks, 1, &b, &none, &err),
                      -EBADMSG);
}

/* A migration's id rides in the binding; anything but a UUID there is refused. */
static void test_binding_migration_id(void) {
        struct binding b = { .tenant = (char *) "acme", .policy = (char *) "fr-sovereign",
                             .migration_id = (char *) "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee" }, got = {};
        _cleanup_strbuf_ struct strbuf sb = {};
        struct sovd_err err = {};

        binding_to_xml(&b, &sb);
        ASSERT_OK(binding_parse(sb.buf, &got, &err));
        ASSERT_STR_EQ(got.migration_id, b.migration_id);
        binding_done(&got);
        ASSERT_INT_EQ(binding_parse("<binding xmlns='urn:sovd:binding:1'><tenant>a</tenant><policy>p</policy>"
                                    "<migration-id>../x</migration-id></binding>",
                                    &got, &err),
                      -EINVAL);
        ASSERT_STR_CONTAINS(err.msg, "migration-id");
}

TEST_MAIN(TEST(test_domain_xml_build_structure), TEST(test_binding_migration_id), TEST(test_domain_xml_for_restore), TEST(test_domain_xml_hostile_values_round_trip),
          TEST(test_domain_xml_disk_limits), TEST(test_domain_xml_binding_round_trip),
          TEST(test_domain_xml_binding_long_vm_name), TEST(test_domain_xml_binding_forms),
          TEST(test_domain_xml_binding_rejections), TEST(test_domain_xml_binding_no_entities),
          TEST(test_domain_xml_inspect_uuid))
