# SPDX-License-Identifier: LGPL-2.1-or-later
"""Snapshots and jobs against libvirt's test driver: create, list, revert,
delete; placement denied before anything is written; conflicting jobs
refused; jobs listed, waited for and cancelled; every step on record."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sovdtest  # noqa: E402

NODE_XML = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testnode.xml")
URI = "test://" + NODE_XML


def spec(name, **kw):
    s = {"name": name, "tenant": "acme", "policy": "fr-sovereign", "vcpus": 1, "memory_mib": 256,
         "disks": [{"pool": "fr-pool", "size_gib": 1}]}
    s.update(kw)
    return s


class SnapshotTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        conf = sovdtest.demo_config()
        # A pool abroad: known to sovd, tagged, and refused by fr-sovereign.
        conf["storage_pools"]["us-pool"] = {"tags": {"jurisdiction": "US", "region": "US-VA", "site": "iad-1",
                                                    "operator": "Example Inc", "operator_jurisdiction": "US"}}
        cls.sovd = sovdtest.Sovd(libvirt_uri=URI, config=conf).start()

    @classmethod
    def tearDownClass(cls):
        cls.sovd.cleanup()

    def make_vm(self, name, start=True):
        r = self.sovd.post("/v1/vms", spec(name))
        self.assertEqual(r.status, 201, r)
        uuid = r.json["uuid"]
        if start:
            self.assertEqual(self.sovd.post(f"/v1/vms/{uuid}/start").status, 200)
        return uuid

    def wait_job(self, job_id, timeout=30):
        return self.sovd.wait_job(job_id, timeout)

    def snapshots(self, uuid):
        r = self.sovd.get(f"/v1/vms/{uuid}/snapshots")
        self.assertEqual(r.status, 200, r)
        return {s["name"]: s for s in r.json["snapshots"]}

    def audit(self, **query):
        q = "&".join(f"{k}={v}" for k, v in query.items())
        return self.sovd.get("/v1/audit" + ("?" + q if q else "")).json["records"]

    def test_full_snapshot_is_a_job_then_revert_and_delete(self):
        uuid = self.make_vm("snap-full")
        r = self.sovd.post(f"/v1/vms/{uuid}/snapshots", {"name": "before-upgrade", "kind": "full",
                                                          "description": "état avant mise à jour"})
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.headers["Location"], f"/v1/jobs/{r.json['id']}")
        self.assertEqual(r.json["kind"], "snapshot")
        self.assertEqual(r.json["vm"], uuid)
        job = self.wait_job(r.json["id"])
        self.assertEqual(job["state"], "succeeded", job)
        self.assertIsNone(job["error"])
        self.assertEqual(job["result"]["name"], "before-upgrade")

        snaps = self.snapshots(uuid)
        s = snaps["before-upgrade"]
        self.assertEqual(s["kind"], "full")
        self.assertTrue(s["managed"])
        self.assertEqual(s["description"], "état avant mise à jour")
        self.assertEqual(s["memory"]["mode"], "external")
        # The memory file and overlay land in the disk's own pool by default.
        self.assertTrue(s["memory"]["file"].startswith("/var/lib/sovd-test/fr-pool/"), s)
        self.assertEqual(s["compliance"]["status"], "compliant", s)
        self.assertEqual(self.sovd.get(f"/v1/vms/{uuid}/snapshots/before-upgrade").json["name"], "before-upgrade")

        # Revert answers the VM; delete removes it.
        r = self.sovd.post(f"/v1/vms/{uuid}/snapshots/before-upgrade/revert")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["uuid"], uuid)
        self.assertEqual(self.sovd.delete(f"/v1/vms/{uuid}/snapshots/before-upgrade").status, 204)
        self.assertNotIn("before-upgrade", self.snapshots(uuid))
        self.assertEqual(self.sovd.get(f"/v1/vms/{uuid}/snapshots/before-upgrade").status, 404)

        # On record: the allow decision, the job's outcome tied to it, the revert and the delete.
        recs = self.audit(vm=uuid)
        decisions = [x for x in recs if x["kind"] == "decision" and x["operation"] == "snapshot"]
        self.assertEqual(decisions[-1]["decision"]["outcome"], "allow")
        ops = [x for x in recs if x["kind"] == "operation" and x["operation"] == "snapshot"]
        self.assertEqual(ops[-1]["outcome"], "succeeded")
        self.assertEqual(ops[-1]["decision_id"], decisions[-1]["decision"]["id"])
        self.assertEqual(ops[-1]["job"], job["id"])
        paths = [x.get("path") for x in recs if x["kind"] == "api"]
        self.assertIn(f"/v1/vms/{uuid}/snapshots/before-upgrade/revert", paths)

    def test_snapshot_to_a_foreign_pool_is_denied_and_nothing_is_made(self):
        uuid = self.make_vm("snap-us")
        r = self.sovd.post(f"/v1/vms/{uuid}/snapshots", {"name": "abroad", "kind": "full", "pool": "us-pool"})
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json["type"], "urn:sovd:problem:policy-denied")
        d = r.json["decision"]
        self.assertEqual(d["outcome"], "deny")
        self.assertEqual(d["decided_by"], {"kind": "snapshot", "place": "us-pool"})
        self.assertIn("US", r.json["detail"])
        self.assertEqual(self.snapshots(uuid), {})
        self.assertEqual(self.sovd.get(f"/v1/jobs?vm={uuid}").json["jobs"], [])
        denied = [x for x in self.audit(vm=uuid, decision="deny") if x["kind"] == "decision"]
        self.assertEqual(denied[-1]["decision"]["id"], d["id"])

    def test_internal_snapshot_of_a_shut_off_vm_is_immediate(self):
        uuid = self.make_vm("snap-internal", start=False)
        r = self.sovd.post(f"/v1/vms/{uuid}/snapshots", {"name": "base", "kind": "internal"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.headers["Location"], f"/v1/vms/{uuid}/snapshots/base")
        self.assertEqual(r.json["kind"], "internal")
        self.assertEqual(r.json["disks"][0]["pool"], "fr-pool")
        self.assertEqual(r.json["compliance"]["status"], "compliant")
        # The name is taken now.
        r = self.sovd.post(f"/v1/vms/{uuid}/snapshots", {"name": "base", "kind": "internal"})
        self.assertEqual(r.status, 409, r)

    def test_disk_only_on_the_test_driver_is_not_implemented(self):
        uuid = self.make_vm("snap-diskonly", start=False)
        r = self.sovd.post(f"/v1/vms/{uuid}/snapshots", {"name": "d1"})
        # The test driver cannot make disk-only snapshots: libvirt says so, sovd passes it on.
        self.assertEqual(r.status, 501, r)
        self.assertEqual(self.snapshots(uuid), {})

    def test_bad_requests(self):
        uuid = self.make_vm("snap-bad", start=False)
        for body, part in [({}, "name"), ({"name": "../x"}, "name"), ({"name": "a", "kind": "weird"}, "kind"),
                           ({"name": "a", "colour": 1}, "colour"), ({"name": "a", "kind": "internal", "pool": "fr-pool"}, "pool"),
                           ({"name": "a", "description": "x" * 2000}, "description")]:
            r = self.sovd.post(f"/v1/vms/{uuid}/snapshots", body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertIn(part, r.json["detail"])
        r = self.sovd.post(f"/v1/vms/{uuid}/snapshots", {"name": "a", "kind": "full"})
        self.assertEqual(r.status, 409, r)  # a full snapshot needs a running VM
        r = self.sovd.post(f"/v1/vms/{uuid}/snapshots", {"name": "a", "kind": "full", "pool": "no-such-pool"})
        self.assertIn(r.status, (409, 422), r)
        self.assertEqual(self.sovd.get(f"/v1/vms/{uuid}/snapshots/-bad").status, 400)
        self.assertEqual(self.sovd.get("/v1/vms/00000000-0000-4000-8000-000000000000/snapshots").status, 404)
        self.assertEqual(self.sovd.get("/v1/jobs/not-a-uuid").status, 400)
        self.assertEqual(self.sovd.get("/v1/jobs/00000000-0000-4000-8000-000000000000").status, 404)
        self.assertEqual(self.sovd.get("/v1/jobs?state=done").status, 400)

    def test_conflicting_jobs_are_refused_and_jobs_are_listed(self):
        uuid = self.make_vm("snap-conflict")
        first = self.sovd.post(f"/v1/vms/{uuid}/snapshots", {"name": "one", "kind": "full"})
        self.assertEqual(first.status, 202, first)
        # Until it ends, a second long operation on the VM is refused with the job named.
        second = self.sovd.post(f"/v1/vms/{uuid}/snapshots", {"name": "two", "kind": "full"})
        if second.status == 409:
            self.assertIn(first.json["id"], second.json["detail"])
        else:  # the first finished in between: the test driver is fast
            self.assertEqual(second.status, 202, second)
            self.wait_job(second.json["id"])
        self.wait_job(first.json["id"])
        jobs = self.sovd.get(f"/v1/jobs?vm={uuid}").json["jobs"]
        self.assertIn(first.json["id"], [j["id"] for j in jobs])
        self.assertTrue(all(j["vm"] == uuid for j in jobs))
        done = self.sovd.get(f"/v1/jobs?vm={uuid}&state=succeeded").json["jobs"]
        self.assertTrue(all(j["state"] == "succeeded" for j in done))
        # A finished job cannot be cancelled.
        r = self.sovd.delete(f"/v1/jobs/{first.json['id']}")
        self.assertEqual(r.status, 409, r)

    def test_sovctl_snapshot_and_job_commands(self):
        uuid = self.make_vm("snap-cli")
        out = self.sovd.sovctl("snapshot", "create", uuid, "cli-1", "--kind", "full", "--wait", check=True)
        self.assertIn("succeeded", out.stdout + out.stderr)
        out = self.sovd.sovctl("snapshot", "list", uuid, check=True)
        self.assertIn("cli-1", out.stdout)
        out = self.sovd.sovctl("job", "list", "--vm", uuid, check=True)
        self.assertIn("snapshot", out.stdout)
        out = self.sovd.sovctl("snapshot", "create", uuid, "cli-us", "--kind", "full", "--pool", "us-pool")
        self.assertEqual(out.returncode, 1, out)  # as vm create/start denials
        self.assertIn("jurisdiction: found US", out.stderr)
        out = self.sovd.sovctl("snapshot", "delete", uuid, "cli-1", check=True)
        self.assertNotIn("cli-1", self.snapshots(uuid))

    def test_jobs_survive_a_restart(self):
        uuid = self.make_vm("snap-restart")
        r = self.sovd.post(f"/v1/vms/{uuid}/snapshots", {"name": "kept", "kind": "full"})
        job = self.wait_job(r.json["id"])
        self.assertEqual(job["state"], "succeeded")
        # A finished job is still known after a restart (the test driver forgets its domains,
        # sovd's job files do not).
        self.sovd.stop()
        self.sovd.start()
        again = self.sovd.get(f"/v1/jobs/{job['id']}")
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.json["state"], "succeeded")


if __name__ == "__main__":
    unittest.main()
