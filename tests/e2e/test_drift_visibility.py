# SPDX-License-Identifier: LGPL-2.1-or-later
"""End to end: what is done to domains behind sovd's back (virsh on the same
libvirtd) shows in sovd's VM listing, which is served from an index kept by
libvirt's events. Exits 77 where e2e cannot run."""
import os
import shutil
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (HERE, os.path.join(HERE, "..", "integration")):
    if _p not in sys.path:
        sys.path.append(_p)

from libvirt_host import PrivateLibvirtHost, skip_reason  # noqa: E402

_reason = skip_reason()
if _reason:
    print(f"SKIP: {_reason}")
    sys.exit(77)

import sovdtest  # noqa: E402

HOST_ADDRESS = "127.0.0.22"
DOMAIN_XML = """<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
  <devices><serial type='pty'/></devices>
</domain>"""


class DriftVisibilityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pool_dir = tempfile.mkdtemp(prefix="sovd-e2e-pool-")
        cls.addClassCleanup(shutil.rmtree, cls.pool_dir, ignore_errors=True)
        cls.host = PrivateLibvirtHost("e2e-drift", HOST_ADDRESS)
        cls.host.start()
        cls.addClassCleanup(cls.host.stop)
        cls.host.define_dir_pool("default", cls.pool_dir)
        cls.sovd = sovdtest.Sovd(libvirt_uri=cls.host.uri, config=sovdtest.demo_config())
        cls.addClassCleanup(cls.sovd.cleanup)
        cls.sovd.start()
        cls.tmp = tempfile.mkdtemp(prefix="sovd-e2e-xml-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)

    def listing(self):
        r = self.sovd.get("/v1/vms")
        self.assertEqual(r.status, 200, r)
        return {v["name"]: v for v in r.json["vms"]}

    def wait_listing(self, pred, what, timeout=10):
        """Polls the listing until @pred holds; 503s (sovd reconnecting) are waited out."""
        deadline = time.monotonic() + timeout
        vms = {}
        while True:
            r = self.sovd.get("/v1/vms")
            if r.status == 200:
                vms = {v["name"]: v for v in r.json["vms"]}
                if pred(vms):
                    return vms
            if time.monotonic() > deadline:
                self.fail(f"listing never showed {what}: {sorted(vms)}\n" + self.sovd.read_log()[-3000:])
            time.sleep(0.1)

    def test_changes_behind_sovds_back_show_in_listing(self):
        path = os.path.join(self.tmp, "outsider.xml")
        with open(path, "w") as f:
            f.write(DOMAIN_XML.format(name="outsider"))
        self.host.virsh("define", path)
        vms = self.wait_listing(lambda v: "outsider" in v, "a domain defined with virsh")
        self.assertFalse(vms["outsider"]["managed"])
        self.assertEqual(vms["outsider"]["state"], "shutoff")

        self.host.virsh("start", "outsider")
        self.wait_listing(lambda v: v.get("outsider", {}).get("state") == "running", "virsh start")
        self.assertEqual(self.listing()["outsider"]["state"], "running")
        self.host.virsh("suspend", "outsider")
        self.wait_listing(lambda v: v["outsider"]["state"] == "paused", "virsh suspend")
        self.host.virsh("destroy", "outsider")
        self.wait_listing(lambda v: v["outsider"]["state"] == "shutoff", "virsh destroy")

        # A binding written by hand (another agent, an operator) makes it managed.
        self.host.virsh("metadata", "outsider", "--uri", "urn:sovd:binding:1", "--key", "sovd", "--config",
                        "--set", "<binding><tenant>hand</tenant><policy>fr-sovereign</policy></binding>")
        vms = self.wait_listing(lambda v: v["outsider"]["managed"], "a binding set with virsh metadata")
        self.assertEqual(vms["outsider"]["tenant"], "hand")
        self.assertEqual([v["name"] for v in self.sovd.get("/v1/vms?tenant=hand").json["vms"]], ["outsider"])

        # Each of those is drift: on the VM's compliance and in the audit log.
        uuid = vms["outsider"]["uuid"]
        drift = self.sovd.get(f"/v1/vms/{uuid}").json["compliance"]["drift"]
        self.assertEqual([d["event"] for d in drift], ["defined", "started", "metadata-changed"], drift)
        self.assertIn("outside the sovd API", drift[0]["detail"])
        records = self.sovd.get(f"/v1/audit?vm={uuid}").json["records"]
        events = [(r["kind"], r.get("event")) for r in records]
        self.assertIn(("drift", "defined"), events)
        self.assertIn(("drift", "started"), events)
        bound = [r for r in records if r["kind"] == "drift" and r.get("policy") == "fr-sovereign"]
        self.assertTrue(bound, "the hand-written binding's drift record names its policy")
        self.assertEqual(bound[-1]["compliance"]["policy"]["name"], "fr-sovereign")

        self.host.virsh("undefine", "outsider")
        self.wait_listing(lambda v: "outsider" not in v, "virsh undefine")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            records = self.sovd.get(f"/v1/audit?vm={uuid}").json["records"]
            if ("drift", "undefined") in [(r["kind"], r.get("event")) for r in records]:
                break
            time.sleep(0.1)
        else:
            self.fail("no drift record for the undefine")
        self.assertTrue(self.sovd.get("/v1/audit/verify").json["valid"])

    def test_api_changes_are_not_drift(self):
        r = self.sovd.post("/v1/vms", {"name": "by-api", "tenant": "acme", "policy": "fr-sovereign", "vcpus": 1,
                                       "memory_mib": 64, "disks": [{"pool": "default", "size_gib": 1}]})
        self.assertEqual(r.status, 201, r)
        uuid = r.json["uuid"]
        self.assertEqual(self.sovd.post(f"/v1/vms/{uuid}/start").status, 200)
        self.assertEqual(self.sovd.post(f"/v1/vms/{uuid}/stop").status, 200)
        time.sleep(1)  # let the events arrive
        self.assertEqual(self.sovd.get(f"/v1/vms/{uuid}").json["compliance"]["drift"], [])
        kinds = [r["kind"] for r in self.sovd.get(f"/v1/audit?vm={uuid}").json["records"]]
        self.assertNotIn("drift", kinds)
        self.assertIn("decision", kinds)
        self.assertEqual(self.sovd.delete(f"/v1/vms/{uuid}?delete_storage=true").status, 204)

    def test_listing_survives_libvirtd_restart(self):
        path = os.path.join(self.tmp, "while-down.xml")
        with open(path, "w") as f:
            f.write(DOMAIN_XML.format(name="while-down"))
        self.host.kill_libvirtd()
        deadline = time.monotonic() + 10
        while self.sovd.get("/v1/vms").status != 503 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.sovd.get("/v1/vms").status, 503)
        self.host.start_libvirtd()
        # Defined while sovd is still reconnecting: no event reaches sovd for it,
        # the resync on reconnection must find it.
        self.host.virsh("define", path)
        vms = self.wait_listing(lambda v: "while-down" in v, "a domain defined during the outage", timeout=30)
        self.assertEqual(vms["while-down"]["state"], "shutoff")
        self.host.virsh("undefine", "while-down")


if __name__ == "__main__":
    unittest.main(verbosity=2)
