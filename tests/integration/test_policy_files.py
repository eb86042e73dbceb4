# SPDX-License-Identifier: LGPL-2.1-or-later
"""The shipped policies and value groups (policies/) against their schemas and the facts they encode.

No sovd process is needed: this checks data. The schemas are checked against
the JSON Schema 2020-12 metaschema, every policies/*.json and
policies/groups/*.json against its schema, and then what a schema cannot say:
file name == name, every @group exists, the legal perimeters of the groups,
the shape of the shipped policies, and that no ref quotes a clause number
that is not in the design brief's list. Broken documents must be rejected.
"""
import copy
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from jsonschema import Draft202012Validator

SOURCE_DIR = os.environ.get("SOVD_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
POLICY_DIR = os.path.join(SOURCE_DIR, "policies")
GROUP_DIR = os.path.join(POLICY_DIR, "groups")
KINDS = ("compute", "storage", "snapshot", "backup", "migration")

# The only numbered clauses shipped refs may quote: the design brief's list.
ALLOWED_NUMBERED_REFS = {
    "SecNumCloud 3.2 §19.2.b: customer data stored and processed in the EU",
    "SecNumCloud 3.2 §12.5.d: backups under the same location rules",
    "HDS 2024 EXI 28: health data stored in the EEA",
}
# What makes a ref "numbered": a section sign, a requirement id (EXI 28),
# or an article/annex/protocol/recital number.
# ("GDPR Chapter V" is descriptive, as the brief's own example shows.)
NUMBERED = re.compile(r"§|\b[A-Z]{2,5}[ -]?\d{1,3}(?:\.\d+)*\b"
                      r"|(?i:\b(?:art(?:icle)?\.?|annex|protocol|recital|clause|point|paragraph)\s*(?:\d|[ivxl]+\b))")

EU27 = {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
        "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"}
# Separate ISO 3166-1 entries that are legally EU territory: the outermost
# regions with a code of their own (TFEU Art. 349, 355(1)) and Åland (355(4)).
EU_EXTRA = {"GF", "GP", "MQ", "RE", "YT", "MF", "AX"}
# Overseas countries and territories (Annex II TFEU) and other codes that
# must never be in @eu: third countries, the Faroes, Norwegian dependencies,
# the EU's "EL" and the UK's "UK", which are not ISO 3166-1 codes.
NOT_EU = {"NC", "PF", "WF", "PM", "BL", "TF", "GL", "AW", "CW", "SX", "BQ", "FO",
          "GB", "GI", "JE", "GG", "IM", "CH", "IS", "LI", "NO", "SJ", "BV",
          "MC", "SM", "VA", "AD", "EL", "UK"}
SHIPPED = {"fr-sovereign", "secnumcloud", "eu-gdpr", "hds", "unrestricted"}


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def json_files(directory):
    return sorted(os.path.join(directory, f) for f in os.listdir(directory)
                  if f.endswith(".json") and not f.endswith(".schema.json"))


def stem(path):
    return os.path.basename(path)[:-len(".json")]


POLICY_SCHEMA = load(os.path.join(POLICY_DIR, "policy.schema.json"))
GROUP_SCHEMA = load(os.path.join(POLICY_DIR, "group.schema.json"))
POLICY_VALIDATOR = Draft202012Validator(POLICY_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
GROUP_VALIDATOR = Draft202012Validator(GROUP_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
POLICIES = {stem(p): load(p) for p in json_files(POLICY_DIR)}
GROUPS = {stem(p): load(p) for p in json_files(GROUP_DIR)}


def errors(validator, doc):
    return ["/" + "/".join(str(p) for p in e.absolute_path) + ": " + e.message
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))]


def group_refs(policy):
    """(pointer, group name) for every @value in allow and deny lists."""
    for kind, rule in policy["rules"].items():
        for member in ("allow", "deny"):
            for tag, values in rule.get(member, {}).items():
                for i, v in enumerate(values):
                    if v.startswith("@"):
                        yield f"/rules/{kind}/{member}/{tag}/{i}", v[1:]


def members(name):
    return set(GROUPS[name]["members"])


class SchemaTest(unittest.TestCase):
    def test_schemas_against_metaschema(self):
        for name, schema in (("policy.schema.json", POLICY_SCHEMA), ("group.schema.json", GROUP_SCHEMA)):
            with self.subTest(schema=name):
                self.assertEqual(schema.get("$schema"), "https://json-schema.org/draft/2020-12/schema")
                Draft202012Validator.check_schema(schema)

    def test_policy_files_validate(self):
        self.assertTrue(POLICIES, f"no policy in {POLICY_DIR}")
        for name, doc in POLICIES.items():
            with self.subTest(policy=name):
                self.assertEqual(errors(POLICY_VALIDATOR, doc), [])

    def test_group_files_validate(self):
        self.assertTrue(GROUPS, f"no group in {GROUP_DIR}")
        for name, doc in GROUPS.items():
            with self.subTest(group=name):
                self.assertEqual(errors(GROUP_VALIDATOR, doc), [])

    def test_file_name_is_name(self):
        for kind, docs in (("policy", POLICIES), ("group", GROUPS)):
            for name, doc in docs.items():
                with self.subTest(**{kind: name}):
                    self.assertEqual(doc.get("name"), name, f"{name}.json is named {doc.get('name')!r}")

    def test_group_references_exist(self):
        for name, doc in POLICIES.items():
            for pointer, group in group_refs(doc):
                with self.subTest(policy=name, at=pointer):
                    self.assertIn(group, sorted(GROUPS), f"policies/{name}.json: {pointer}: @{group} is not a known value group")

    def test_contract_example_rule(self):
        """The RULE example of docs/policy-format.md is valid under the schema."""
        with open(os.path.join(SOURCE_DIR, "docs", "policy-format.md"), encoding="utf-8") as f:
            blocks = re.findall(r"```json\n(.*?)```", f.read(), re.DOTALL)
        rules = [json.loads(b) for b in blocks if b.lstrip().startswith('{\n  "allow"')]
        self.assertEqual(len(rules), 1, "the contract's RULE example was not found")
        doc = {"name": "example", "revision": 1, "description": "d", "mode": "enforce",
               "rules": {k: rules[0] for k in KINDS}}
        self.assertEqual(errors(POLICY_VALIDATOR, doc), [])


    def test_guide_examples(self):
        """Every policy shown in docs/policies.md is valid and uses known groups."""
        with open(os.path.join(SOURCE_DIR, "docs", "policies.md"), encoding="utf-8") as f:
            blocks = re.findall(r"```json\n(.*?)```", f.read(), re.DOTALL)
        docs = [json.loads(b) for b in blocks]
        policies = [d for d in docs if "rules" in d]
        self.assertGreaterEqual(len(policies), 2)
        for doc in policies:
            with self.subTest(example=doc["name"]):
                self.assertEqual(errors(POLICY_VALIDATOR, doc), [])
                for pointer, group in group_refs(doc):
                    self.assertIn(group, sorted(GROUPS), pointer)


class GroupFactsTest(unittest.TestCase):
    def test_expected_groups(self):
        self.assertTrue({"eu", "eea"} <= set(GROUPS), sorted(GROUPS))

    def test_eu_perimeter(self):
        eu = members("eu")
        self.assertEqual(len(GROUPS["eu"]["members"]), len(eu), "duplicate members")
        self.assertEqual(eu, EU27 | EU_EXTRA,
                         f"missing {sorted((EU27 | EU_EXTRA) - eu)}, unexpected {sorted(eu - EU27 - EU_EXTRA)}")
        self.assertEqual(len(EU27), 27)

    def test_not_in_eu(self):
        for code in sorted(NOT_EU):
            with self.subTest(code=code):
                self.assertNotIn(code, members("eu"))

    def test_eea_is_eu_plus_efta_three(self):
        self.assertEqual(members("eea"), members("eu") | {"IS", "LI", "NO"})
        for code in ("SJ", "BV", "CH", "GB", "NC", "PF", "GL", "FO"):
            with self.subTest(code=code):
                self.assertNotIn(code, members("eea"))

    def test_fr_group(self):
        if "fr" not in GROUPS:
            self.skipTest("no fr group")
        fr = members("fr")
        self.assertEqual(fr, {"FR", "GF", "GP", "MQ", "RE", "YT", "MF"})
        self.assertLessEqual(fr, members("eu"), "France's part of the EU must be in the EU")
        for code in ("NC", "PF", "WF", "PM", "BL", "TF", "MC"):
            with self.subTest(code=code):
                self.assertNotIn(code, fr)

    def test_sources_cite_the_treaties(self):
        self.assertIn("349", GROUPS["eu"]["source"])
        self.assertIn("355", GROUPS["eu"]["source"])
        self.assertIn("Annex II", GROUPS["eu"]["source"])


class ShippedPoliciesTest(unittest.TestCase):
    def test_shipped_set(self):
        self.assertTrue(SHIPPED <= set(POLICIES), f"missing {sorted(SHIPPED - set(POLICIES))}")

    def test_documented_and_enforced(self):
        for name in sorted(SHIPPED):
            doc = POLICIES[name]
            with self.subTest(policy=name):
                self.assertEqual(doc["mode"], "enforce")
                self.assertGreaterEqual(doc["revision"], 1)
                self.assertTrue(doc.get("description", "").strip())
                self.assertGreater(len(doc.get("reasoning", "")), 200, "reasoning should say why")
                if name != "unrestricted":
                    for kind in KINDS:
                        self.assertTrue(doc["rules"][kind].get("refs"), f"{kind} rule has no refs")

    def test_refs_quote_only_known_clauses(self):
        for name, doc in POLICIES.items():
            for kind, rule in doc["rules"].items():
                for ref in rule.get("refs", []):
                    if NUMBERED.search(ref):
                        with self.subTest(policy=name, kind=kind, ref=ref):
                            self.assertIn(ref, ALLOWED_NUMBERED_REFS,
                                          "a numbered clause not in the design brief's list")

    def test_numbered_pattern(self):
        """The detector itself: numbered clauses are caught, versions and years are not."""
        for ref in ("SecNumCloud 3.2 §19.6: x", "HDS 2024 EXI 29: x", "GDPR Art. 44", "GDPR article 9",
                    "Annex II TFEU", "ENV 3: y", "EXI-28", "REQ 4.2.1"):
            with self.subTest(ref=ref):
                self.assertTrue(NUMBERED.search(ref))
        for ref in ("GDPR Chapter V (transfers to third countries)", "SecNumCloud 3.2: qualified service",
                    "HDS 2024: health data hosting", "ISO 27001 certified site",
                    "French health data hosting: hosted by an HDS-certified host"):
            with self.subTest(ref=ref):
                self.assertFalse(NUMBERED.search(ref))

    def test_unrestricted_is_empty(self):
        self.assertEqual(POLICIES["unrestricted"]["rules"], {k: {} for k in KINDS})

    def test_fr_sovereign(self):
        for kind in KINDS:
            with self.subTest(kind=kind):
                allow = POLICIES["fr-sovereign"]["rules"][kind]["allow"]
                self.assertEqual(allow["jurisdiction"], ["@fr"])
                self.assertEqual(allow["operator_jurisdiction"], ["@fr"])

    def test_secnumcloud(self):
        rules = POLICIES["secnumcloud"]["rules"]
        self.assertIs(rules["backup"].get("different_site_from_host"), True)
        self.assertIn("SecNumCloud 3.2 §12.5.d: backups under the same location rules", rules["backup"]["refs"])
        for kind in KINDS:
            with self.subTest(kind=kind):
                self.assertEqual(rules[kind]["require_certifications"], ["secnumcloud:3.2"])
                self.assertEqual(rules[kind]["allow"]["operator_jurisdiction"], ["@eu"])
                self.assertLessEqual(set().union(*(members(v[1:]) if v.startswith("@") else {v}
                                                   for v in rules[kind]["allow"]["jurisdiction"])),
                                     members("eu"), "SecNumCloud data stays in the EU")

    def test_eu_gdpr(self):
        for kind in KINDS:
            with self.subTest(kind=kind):
                self.assertEqual(POLICIES["eu-gdpr"]["rules"][kind]["allow"], {"jurisdiction": ["@eea"]})

    def test_hds(self):
        for kind in KINDS:
            with self.subTest(kind=kind):
                rule = POLICIES["hds"]["rules"][kind]
                self.assertEqual(rule["allow"]["jurisdiction"], ["@eea"])
                self.assertIn("hds", rule["require_certifications"])
                self.assertIn("HDS 2024 EXI 28: health data stored in the EEA", rule["refs"])


class SovdAgreesTest(unittest.TestCase):
    """sovd's own loader (sovd --check-config) accepts what the schemas accept, and names what it refuses."""

    def setUp(self):
        self.sovd = os.environ.get("SOVD_BIN") or shutil.which("sovd")
        if not self.sovd or not os.access(self.sovd, os.X_OK):
            self.skipTest("no sovd binary (SOVD_BIN)")
        self.tmp = tempfile.mkdtemp(prefix="sovd-policy-files-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def check(self, policy_dir):
        conf = os.path.join(self.tmp, "sovd.conf")
        with open(conf, "w", encoding="utf-8") as f:
            json.dump({"libvirt_uri": "test:///default", "listen": [f"unix:{self.tmp}/sovd.sock"],
                       "state_dir": os.path.join(self.tmp, "state"), "policy_dir": policy_dir,
                       "host_tags": {"jurisdiction": "FR", "site": "par-1"}}, f)
        return subprocess.run([self.sovd, "--check-config", "--config", conf],
                              capture_output=True, text=True, timeout=60)

    def copy_policies(self):
        d = os.path.join(self.tmp, "policies")
        shutil.copytree(POLICY_DIR, d)
        return d

    def test_shipped_directory_loads(self):
        r = self.check(POLICY_DIR)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_guide_examples_load(self):
        d = self.copy_policies()
        with open(os.path.join(SOURCE_DIR, "docs", "policies.md"), encoding="utf-8") as f:
            for b in re.findall(r"```json\n(.*?)```", f.read(), re.DOTALL):
                doc = json.loads(b)
                if "rules" in doc and doc["name"] not in POLICIES:
                    with open(os.path.join(d, doc["name"] + ".json"), "w", encoding="utf-8") as out:
                        json.dump(doc, out)
        r = self.check(d)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_unknown_group_refused(self):
        d = self.copy_policies()
        doc = copy.deepcopy(POLICIES["hds"])
        doc["rules"]["storage"]["allow"]["jurisdiction"] = ["@eeaa"]
        with open(os.path.join(d, "hds.json"), "w", encoding="utf-8") as f:
            json.dump(doc, f)
        r = self.check(d)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("hds.json", r.stderr)
        self.assertIn("@eeaa", r.stderr)


def valid_policy():
    return {
        "$schema": "policy.schema.json",
        "name": "neg-test", "revision": 3, "description": "d", "reasoning": "r", "mode": "audit",
        "rules": {
            "compute": {"allow": {"jurisdiction": ["FR", "@eu"], "region": ["FR-IDF", "@fr"],
                                  "site": ["par-1"], "rack.row": ["a"]},
                        "deny": {"site": ["par-9"], "operator_jurisdiction": ["@x_y-1"]},
                        "require_certifications": ["secnumcloud:3.10", "hds", "iso27001:2022"],
                        "refs": ["a ref"]},
            "storage": {}, "snapshot": {},
            "backup": {"different_site_from_host": True},
            "migration": {"different_site_from_host": False, "refs": []},
        },
    }


def set_at(doc, path, value):
    *parents, last = path
    for p in parents:
        doc = doc[p]
    if value is DELETE:
        del doc[last]
    else:
        doc[last] = value


DELETE = object()
C = ("rules", "compute")
BROKEN_POLICIES = {
    "unknown top-level member": (("owner",), "me"),
    "unknown rule member": (C + ("allowed",), {"site": ["x"]}),
    "unknown rule kind": (("rules", "network"), {}),
    "bad mode": (("mode",), "warn"),
    "mode in upper case": (("mode",), "Enforce"),
    "missing rule kind": (("rules", "migration"), DELETE),
    "missing rules": (("rules",), DELETE),
    "missing mode": (("mode",), DELETE),
    "missing revision": (("revision",), DELETE),
    "missing description": (("description",), DELETE),
    "revision 0": (("revision",), 0),
    "revision as a string": (("revision",), "1"),
    "revision not an integer": (("revision",), 1.5),
    "name starting with a dash": (("name",), "-x"),
    "name with a slash": (("name",), "a/b"),
    "name of 65 characters": (("name",), "a" * 65),
    "group ref in upper case": (C + ("allow", "jurisdiction"), ["@EU"]),
    "group ref with a dot": (C + ("allow", "jurisdiction"), ["@e.u"]),
    "bare @": (C + ("allow", "jurisdiction"), ["@"]),
    "group ref with a space": (C + ("deny", "operator_jurisdiction"), ["@e u"]),
    "group on a tag without groups": (C + ("allow", "site"), ["@eu"]),
    "country code in lower case": (C + ("allow", "jurisdiction"), ["fr"]),
    "three-letter country code": (C + ("allow", "jurisdiction"), ["FRA"]),
    "bad region code": (C + ("allow", "region"), ["IDF"]),
    "empty allow list": (C + ("allow", "jurisdiction"), []),
    "duplicate allow values": (C + ("allow", "site"), ["par-1", "par-1"]),
    "value list not a list": (C + ("allow", "site"), "par-1"),
    "empty value": (C + ("allow", "site"), [""]),
    "certifications in allow": (C + ("allow", "certifications"), ["secnumcloud"]),
    "certifications in deny": (C + ("deny", "certifications"), ["hds"]),
    "tag name in upper case": (C + ("allow", "Site"), ["par-1"]),
    "tag name of 64 characters": (C + ("allow", "a" * 64), ["x"]),
    "certification in upper case": (C + ("require_certifications",), ["SecNumCloud:3.2"]),
    "certification with a trailing dot": (C + ("require_certifications",), ["secnumcloud:3."]),
    "certification with a text version": (C + ("require_certifications",), ["secnumcloud:v3"]),
    "certification as an object": (C + ("require_certifications",), [{"name": "hds"}]),
    "different_site_from_host not a boolean": (("rules", "backup", "different_site_from_host"), "yes"),
    "empty ref": (C + ("refs",), [""]),
    "ref not a string": (C + ("refs",), [19]),
    "refs not a list": (C + ("refs",), "a ref"),
    "rule not an object": (("rules", "storage"), []),
    "multi-line description": (("description",), "one\ntwo"),
}


def valid_group():
    return {"$schema": "../group.schema.json", "name": "neg-test", "version": "2026-01-31", "description": "d", "source": "s",
            "members": ["FR", "RE"]}


BROKEN_GROUPS = {
    "unknown member": (("comment",), "x"),
    "missing source": (("source",), DELETE),
    "missing version": (("version",), DELETE),
    "version not a date": (("version",), "v1"),
    "version not a real date": (("version",), "2026-02-30"),
    "name in upper case": (("name",), "EU"),
    "name with @": (("name",), "@eu"),
    "member in lower case": (("members",), ["fr"]),
    "alpha-3 member": (("members",), ["FRA"]),
    "duplicate members": (("members",), ["FR", "FR"]),
    "no member": (("members",), []),
}


class NegativeTest(unittest.TestCase):
    def test_base_documents_are_valid(self):
        self.assertEqual(errors(POLICY_VALIDATOR, valid_policy()), [])
        self.assertEqual(errors(GROUP_VALIDATOR, valid_group()), [])

    def test_broken_policies_rejected(self):
        for what, (path, value) in BROKEN_POLICIES.items():
            doc = valid_policy()
            set_at(doc, path, value)
            with self.subTest(broken=what):
                self.assertNotEqual(errors(POLICY_VALIDATOR, doc), [], f"accepted: {json.dumps(doc)}")

    def test_broken_groups_rejected(self):
        for what, (path, value) in BROKEN_GROUPS.items():
            doc = valid_group()
            set_at(doc, path, value)
            with self.subTest(broken=what):
                self.assertNotEqual(errors(GROUP_VALIDATOR, doc), [], f"accepted: {json.dumps(doc)}")

    def test_broken_shipped_policy_rejected(self):
        """The shipped files stay close to the edge: a typo in one is caught."""
        doc = copy.deepcopy(POLICIES["secnumcloud"])
        doc["rules"]["backup"]["allow"]["jurisdiction"] = ["@fr", "@eeaa!"]
        self.assertNotEqual(errors(POLICY_VALIDATOR, doc), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
