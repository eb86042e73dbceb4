# SPDX-License-Identifier: LGPL-2.1-or-later
"""Sovereignty doors through the API on the libvirt test driver: create and
start refused where the policy does not allow the host or a disk's pool,
dry runs, compliance, and policy reloads that keep the last good set."""
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sovdtest  # noqa: E402

NODE_XML = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testnode.xml")
URI = "test://" + NODE_XML
POLICIES = os.path.join(sovdtest.SOURCE_DIR, "policies")

FR = dict(sovdtest.FR_PLACE_TAGS)
FR_RBX_NO_CERT = {"jurisdiction": "FR", "region": "FR-HDF", "site": "rbx-1", "operator": "Demo Cloud SAS",
                  "operator_jurisdiction": "FR"}
US = {"jurisdiction": "US", "region": "US-VA", "site": "iad-1", "operator": "Example Inc",
      "operator_jurisdiction": "US", "certifications": ["iso27001"]}


def config(host=None, **pools):
    """Host FR by default; pools given as name=tags; plain-pool stays untagged."""
    pool_tags = {"fr-pool": FR, "fr-pool-2": FR_RBX_NO_CERT, "us-pool": US, "ghost-pool": FR}
    pool_tags.update(pools)
    return sovdtest.demo_config(host_tags=host or dict(FR),
                                storage_pools={k: {"tags": v} for k, v in pool_tags.items()})


def spec(name, policy="fr-sovereign", pools=("fr-pool",)):
    return {"name": name, "tenant": "acme", "policy": policy, "vcpus": 1, "memory_mib": 128,
            "disks": [{"pool": p, "size_gib": 1} for p in pools]}


class PolicyDoorsTest(unittest.TestCase):
    def start(self, conf, policy_dir=None):
        if policy_dir:
            conf["policy_dir"] = policy_dir
        s = sovdtest.Sovd(libvirt_uri=URI, config=conf).start()
        self.addCleanup(s.cleanup)
        return s

    def denied(self, r, kind, place, tag=None, part=None):
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json["type"], "urn:sovd:problem:policy-denied")
        d = r.json["decision"]
        self.assertEqual(d["outcome"], "deny")
        self.assertEqual(d["decided_by"], {"kind": kind, "place": place})
        check = next(c for c in d["checks"] if c["place"]["name"] == place and c["kind"] == kind)
        self.assertEqual(check["outcome"], "deny")
        self.assertTrue(check["violations"])
        if tag:
            self.assertIn(tag, [v["tag"] for v in check["violations"]])
        if part:
            self.assertIn(part, r.json["detail"] + json.dumps(check["violations"]))
        self.assertRegex(d["policy"]["digest"] or "", r"^[0-9a-f]{64}$")
        return d, check

    def names(self, s):
        return {v["name"] for v in s.get("/v1/vms").json["vms"]}

    def test_compliant_create(self):
        s = self.start(config())
        r = s.post("/v1/vms", spec("ok-fr", pools=("fr-pool", "fr-pool")))
        self.assertEqual(r.status, 201, r)
        digest = s.get("/v1/policies/fr-sovereign").json["digest"]
        self.assertEqual(r.json["binding"]["policy_digest"], digest)
        self.assertEqual(r.json["compliance"]["status"], "compliant")
        self.assertEqual(r.json["compliance"]["reasons"], [])
        self.assertFalse(r.json["compliance"]["policy_changed"])

    def test_create_denied_for_host_jurisdiction(self):
        s = self.start(config(host=dict(US)))
        d, check = self.denied(s.post("/v1/vms", spec("host-us")), "compute", socket.gethostname(), "jurisdiction")
        v = next(v for v in check["violations"] if v["tag"] == "jurisdiction")
        self.assertEqual(v["found"], "US")
        self.assertTrue(v["allowed"])
        self.assertTrue(check["refs"], "a denial quotes the rule's refs")
        self.assertNotIn("host-us", self.names(s))

    def test_create_denied_for_one_disks_pool(self):
        s = self.start(config())
        r = s.post("/v1/vms", spec("mixed", pools=("fr-pool", "us-pool")))
        d, check = self.denied(r, "storage", "us-pool", "jurisdiction", "US")
        kinds = [(c["kind"], c["place"]["name"], c["outcome"]) for c in d["checks"]]
        self.assertIn(("storage", "fr-pool", "allow"), kinds)
        self.assertNotIn("mixed", self.names(s))
        # Nothing was created before the decision: the fr-pool volume name is still free.
        self.assertEqual(s.post("/v1/vms", spec("mixed", pools=("fr-pool",))).status, 201)

    def test_create_denied_for_missing_certification(self):
        s = self.start(config())
        r = s.post("/v1/vms", spec("no-cert", policy="secnumcloud", pools=("fr-pool-2",)))
        d, check = self.denied(r, "storage", "fr-pool-2", "certifications", "secnumcloud")
        self.assertEqual(s.post("/v1/vms", spec("with-cert", policy="secnumcloud")).status, 201)

    def test_create_denied_for_expired_certification(self):
        expired = dict(FR, certifications=[{"name": "secnumcloud", "version": "3.2", "valid_until": "2020-12-31"}])
        s = self.start(config(**{"fr-pool": expired}))
        self.denied(s.post("/v1/vms", spec("expired", policy="secnumcloud")), "storage", "fr-pool", "certifications",
                    "expired")

    def test_create_denied_for_untagged_pool(self):
        s = self.start(config())
        d, check = self.denied(s.post("/v1/vms", spec("untagged", pools=("plain-pool",))), "storage", "plain-pool",
                               None, "untagged")
        self.assertEqual(check["violations"][0]["tag"], "*")

    def test_unknown_policy_denied(self):
        s = self.start(config())
        r = s.post("/v1/vms", spec("nopol", policy="no-such-policy"))
        self.assertEqual(r.status, 403, r)
        self.assertIn("not loaded", r.json["detail"])
        self.assertEqual(r.json["decision"]["checks"], [])

    def test_dry_runs_change_nothing(self):
        s = self.start(config())
        before = s.get("/v1/vms").json
        cases = [
            ({"policy": "fr-sovereign", "kind": "compute", "place": {"type": "host"}}, "allow"),
            ({"policy": "fr-sovereign", "kind": "storage", "place": {"type": "storage_pool", "name": "us-pool"}},
             "deny"),
            ({"policy": "eu-gdpr", "kind": "backup", "place": {"tags": {"jurisdiction": "NO"}}}, "allow"),
            ({"policy": "eu-gdpr", "kind": "backup", "place": {"tags": {"jurisdiction": "CH"}}}, "deny"),
            ({"policy": "hds", "kind": "storage", "place": {"tags": {"jurisdiction": "FR"}}}, "deny"),
            ({"policy": "unrestricted", "kind": "storage", "place": {"type": "storage_pool", "name": "us-pool"}},
             "allow"),
            ({"policy": "unrestricted", "kind": "storage", "place": {"tags": {}}}, "deny"),
        ]
        for body, outcome in cases:
            with self.subTest(body=body):
                r = s.post("/v1/policies/evaluate", body)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json["outcome"], outcome, r.json)
        # A certification valid today but not at a later date.
        soon = {"jurisdiction": "FR", "operator_jurisdiction": "FR", "site": "par-2",
                "certifications": [{"name": "secnumcloud", "version": "3.2", "valid_until": "2099-01-31"}]}
        body = {"policy": "secnumcloud", "kind": "storage", "place": {"tags": soon}}
        self.assertEqual(s.post("/v1/policies/evaluate", body).json["outcome"], "allow")
        body["at"] = "2099-02-01T00:00:00Z"
        late = s.post("/v1/policies/evaluate", body).json
        self.assertEqual(late["outcome"], "deny")
        self.assertIn("expired", json.dumps(late))
        for bad, status in [({"policy": "fr-sovereign", "kind": "cpu", "place": {"type": "host"}}, 400),
                            ({"policy": "fr-sovereign", "kind": "storage", "place": {"type": "storage_pool",
                                                                                     "name": "nope"}}, 404),
                            ({"policy": "fr-sovereign", "kind": "storage", "place": {"tags": {"jurisdiction": "fr"}}},
                             400),
                            ({"policy": "fr-sovereign", "kind": "storage", "place": {"type": "host"}, "x": 1}, 400)]:
            self.assertEqual(s.post("/v1/policies/evaluate", bad).status, status, bad)
        self.assertEqual(s.get("/v1/vms").json, before)

    def test_policies_and_places_listed(self):
        s = self.start(config())
        pols = s.get("/v1/policies").json
        self.assertEqual({p["name"] for p in pols["policies"]},
                         {"fr-sovereign", "secnumcloud", "eu-gdpr", "hds", "unrestricted"})
        self.assertTrue({"eu", "eea"} <= {g["name"] for g in pols["groups"]})
        one = s.get("/v1/policies/secnumcloud").json
        self.assertEqual(one["document"]["name"], "secnumcloud")
        self.assertEqual(s.get("/v1/policies/nope").status, 404)
        pools = {p["name"]: p for p in s.get("/v1/storage-pools").json["storage_pools"]}
        self.assertTrue(pools["fr-pool"]["tagged"])
        self.assertEqual(pools["us-pool"]["tags"]["jurisdiction"], "US")
        self.assertFalse(pools["plain-pool"]["tagged"], "an untagged pool is listed as untagged")
        self.assertEqual(pools["plain-pool"]["tags"], {})
        self.assertFalse(pools["ghost-pool"]["in_libvirt"])
        self.assertEqual(s.get("/v1/backup-targets").json, {"backup_targets": []})


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sovd-policies-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        shutil.copytree(POLICIES, self.dir, dirs_exist_ok=True)

    def reload(self, s, conf=None):
        if conf:
            s.write_config(conf)
        s.drain_notify()
        s.proc.send_signal(signal.SIGHUP)
        self.assertIsNotNone(s.wait_notify("READY=1", 5))
        return s.wait_notify("STATUS=Serving", 5)

    def test_broken_policy_keeps_last_good_set(self):
        conf = config()
        conf["policy_dir"] = self.dir
        s = sovdtest.Sovd(libvirt_uri=URI, config=conf).start()
        self.addCleanup(s.cleanup)
        good = s.get("/v1/policies/fr-sovereign").json["digest"]
        path = os.path.join(self.dir, "fr-sovereign.json")
        doc = json.load(open(path))
        doc["rules"]["storage"]["allow"]["jurisdiction"].append("@nowhere")
        with open(path, "w") as f:
            json.dump(doc, f)
        self.reload(s)
        status = s.wait_notify("previous set kept", 5)
        self.assertIsNotNone(status, s.notify_messages)
        self.assertIn("fr-sovereign.json", status)
        self.assertIn("/rules/storage/allow/jurisdiction", status)
        self.assertEqual(s.get("/v1/policies/fr-sovereign").json["digest"], good)
        self.assertIn("fr-sovereign.json", s.read_log())

        # A valid change is taken, with a new digest.
        doc["rules"]["storage"]["allow"]["jurisdiction"].pop()
        doc["revision"] = 2
        with open(path, "w") as f:
            json.dump(doc, f)
        self.reload(s)
        new = s.get("/v1/policies/fr-sovereign").json
        self.assertEqual(new["revision"], 2)
        self.assertNotEqual(new["digest"], good)

    def test_policy_removed_after_reload_denies(self):
        conf = config()
        conf["policy_dir"] = self.dir
        s = sovdtest.Sovd(libvirt_uri=URI, config=conf).start()
        self.addCleanup(s.cleanup)
        vm = s.post("/v1/vms", spec("orphan")).json
        os.unlink(os.path.join(self.dir, "fr-sovereign.json"))
        self.reload(s)
        c = s.get(f"/v1/vms/{vm['uuid']}").json["compliance"]
        self.assertEqual(c["status"], "non-compliant")
        self.assertIn("not loaded", " ".join(c["reasons"]))
        r = s.post(f"/v1/vms/{vm['uuid']}/start")
        self.assertEqual(r.status, 403, r)
        self.assertEqual(s.get(f"/v1/vms/{vm['uuid']}").json["state"], "shutoff")

    def test_retagged_pool_blocks_start(self):
        s = sovdtest.Sovd(libvirt_uri=URI, config=config()).start()
        self.addCleanup(s.cleanup)
        vm = s.post("/v1/vms", spec("moved")).json
        self.assertEqual(vm["compliance"]["status"], "compliant")
        # The operator learns fr-pool is in fact replicated to the US.
        self.reload(s, config(**{"fr-pool": US}))
        c = s.get(f"/v1/vms/{vm['uuid']}").json["compliance"]
        self.assertEqual(c["status"], "non-compliant")
        self.assertTrue(any("fr-pool" in r and "US" in r for r in c["reasons"]), c)
        r = s.post(f"/v1/vms/{vm['uuid']}/start")
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json["decision"]["operation"], "start")
        self.assertEqual(s.get(f"/v1/vms/{vm['uuid']}").json["state"], "shutoff")
        self.reload(s, config())
        self.assertEqual(s.post(f"/v1/vms/{vm['uuid']}/start").status, 200)

    def test_audit_mode_allows_and_says_so(self):
        path = os.path.join(self.dir, "fr-sovereign.json")
        doc = json.load(open(path))
        doc["mode"] = "audit"
        with open(path, "w") as f:
            json.dump(doc, f)
        conf = config()
        conf["policy_dir"] = self.dir
        s = sovdtest.Sovd(libvirt_uri=URI, config=conf).start()
        self.addCleanup(s.cleanup)
        r = s.post("/v1/vms", spec("rollout", pools=("us-pool",)))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["compliance"]["status"], "non-compliant")
        d = s.post("/v1/policies/evaluate", {"policy": "fr-sovereign", "kind": "storage",
                                             "place": {"type": "storage_pool", "name": "us-pool"}}).json
        self.assertEqual((d["outcome"], d["mode"], d["would_deny"]), ("allow", "audit", True))


if __name__ == "__main__":
    unittest.main(verbosity=2)
