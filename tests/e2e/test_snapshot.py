# SPDX-License-Identifier: LGPL-2.1-or-later
"""End to end: snapshots of running guests through sovd's API, against a
private libvirtd running real QEMU (KVM where /dev/kvm is usable, else TCG).

Three directory pools: fr-pool (the VMs' disks), fr-snap (another French
pool) and us-pool (tagged US, refused by fr-sovereign's snapshot rule):
  - a disk-only snapshot into fr-snap puts the overlay there, and the guest
    writes into it from then on;
  - a snapshot into us-pool is refused (403 with the decision) and writes
    nothing, neither a file nor a libvirt snapshot;
  - a full snapshot (memory) is a job that succeeds, the guest still running;
  - an internal snapshot (a job: the memory too), reverted: the disk holds
    what it held then; deleted: gone from libvirt and from the image;
  - a snapshot made with virsh behind sovd's back is listed as unmanaged,
    judged against the policy, and recorded as drift.
Exits 77 (skipped) where e2e cannot run: see libvirt_host.skip_reason().

Run from the source tree:
  SOVD_BIN=build/sovd PYTHONPATH=tests/integration:tests/e2e python3 tests/e2e/test_snapshot.py
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (HERE, os.path.join(HERE, "..", "integration")):
    if _p not in sys.path:
        sys.path.append(_p)

from guest_disk import GIB, MIB, GuestDiskMixin  # noqa: E402
from libvirt_host import PrivateLibvirtHost, skip_reason  # noqa: E402

_reason = skip_reason()
if _reason:
    print(f"SKIP: {_reason}")
    sys.exit(77)

import sovdtest  # noqa: E402

# Its own loopback address, so that other e2e test files can run alongside.
HOST_ADDRESS = "127.0.0.26"
MIB = 1024 ** 2
US_PLACE_TAGS = {"jurisdiction": "US", "region": "US-VA", "site": "iad-1",
                 "operator": "Example Inc", "operator_jurisdiction": "US"}
POOL_TAGS = {"fr-pool": sovdtest.FR_PLACE_TAGS, "fr-snap": sovdtest.FR_PLACE_TAGS, "us-pool": US_PLACE_TAGS}
ACTIVE = ("queued", "running")


class SnapshotTest(GuestDiskMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sovd-e2e-snapshot-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.host = PrivateLibvirtHost("e2e-snapshot", HOST_ADDRESS)
        cls.host.start()
        cls.addClassCleanup(cls.host.stop)
        cls.pool_dirs = {}
        for pool in POOL_TAGS:
            cls.pool_dirs[pool] = os.path.join(cls.tmp, pool)
            os.mkdir(cls.pool_dirs[pool])
            cls.host.define_dir_pool(pool, cls.pool_dirs[pool])
        config = sovdtest.demo_config(storage_pools={p: {"tags": dict(t)} for p, t in POOL_TAGS.items()})
        cls.sovd = sovdtest.Sovd(libvirt_uri=cls.host.uri, config=config)
        cls.addClassCleanup(cls.sovd.cleanup)
        cls.sovd.start()

    # -- helpers -----------------------------------------------------------
    def diag(self, resp=None):
        parts = [] if resp is None else [repr(resp)]
        parts.append("--- sovd log:\n" + self.sovd.read_log()[-6000:])
        parts.append(self.host.logs())
        return "\n".join(parts)

    def expect(self, resp, status):
        self.assertEqual(resp.status, status, self.diag(resp))
        return resp.json

    def assert_problem(self, resp, status, type_suffix=None):
        self.assertEqual(resp.status, status, self.diag(resp))
        self.assertTrue(resp.headers.get("Content-Type", "").startswith("application/problem+json"), resp)
        self.assertEqual(resp.json.get("status"), status, resp)
        if type_suffix:
            self.assertTrue(resp.json.get("type", "").endswith(type_suffix), resp)
        return resp.json

    def create_vm(self, name):
        body = {"name": name, "tenant": "acme", "policy": "fr-sovereign", "vcpus": 1, "memory_mib": 64,
                "disks": [{"pool": "fr-pool", "size_gib": 1}]}
        vm = self.expect(self.sovd.post("/v1/vms", body), 201)
        self.addCleanup(self.delete_vm, vm)
        self.assertEqual(self.expect(self.sovd.post(f"/v1/vms/{vm['uuid']}/start"), 200)["state"], "running")
        return vm

    def delete_vm(self, vm):
        """Cleanup whatever the test left: snapshots' metadata first (libvirt
        refuses to undefine a domain that has some), then the domain and
        every file the test made in the pools."""
        for _ in range(100):
            jobs = self.sovd.get(f"/v1/jobs?vm={vm['uuid']}").json or {"jobs": []}
            if not [j for j in jobs["jobs"] if j["state"] in ACTIVE]:
                break
            time.sleep(0.1)
        self.host.virsh_result("destroy", vm["name"])
        for snap in self.host.virsh_result("snapshot-list", vm["name"], "--name").stdout.split():
            self.host.virsh_result("snapshot-delete", vm["name"], snap, "--metadata")
        self.sovd.delete(f"/v1/vms/{vm['uuid']}?delete_storage=true")
        self.host.virsh_result("undefine", vm["name"], "--snapshots-metadata", "--checkpoints-metadata")
        for d in self.pool_dirs.values():
            for f in os.listdir(d):
                if f.startswith(vm["name"] + "."):
                    os.unlink(os.path.join(d, f))
        for pool in self.pool_dirs:
            self.host.virsh_result("pool-refresh", pool)

    def wait_job(self, job_id, timeout=120):
        deadline = time.monotonic() + timeout
        while True:
            job = self.expect(self.sovd.get(f"/v1/jobs/{job_id}"), 200)
            if job["state"] not in ACTIVE:
                return job
            if time.monotonic() > deadline:
                self.fail(f"job {job_id} still {job['state']} after {timeout} s\n" + self.diag())
            time.sleep(0.1)

    def active_disk_file(self, dom):
        xml = ET.fromstring(self.host.virsh("dumpxml", dom))
        return xml.find("devices/disk/source").get("file")

    def snapshots(self, uuid):
        return {s["name"]: s for s in self.expect(self.sovd.get(f"/v1/vms/{uuid}/snapshots"), 200)["snapshots"]}

    def audit_records(self, vm_uuid):
        records, cursor = [], None
        while True:
            q = f"/v1/audit?vm={vm_uuid}&limit=1000" + (f"&cursor={cursor}" if cursor else "")
            page = self.expect(self.sovd.get(q), 200)
            records += page["records"]
            cursor = page.get("next_cursor")
            if not cursor:
                return records

    # -- tests -------------------------------------------------------------
    def test_disk_only_into_another_french_pool(self):
        vm = self.create_vm("snap-disk")
        uuid, name, base = vm["uuid"], vm["name"], vm["disks"][0]["path"]
        r = self.sovd.post(f"/v1/vms/{uuid}/snapshots", {"name": "s1", "kind": "disk-only", "pool": "fr-snap",
                                                         "description": "before the upgrade"})
        s = self.expect(r, 201)
        self.assertEqual(r.headers.get("Location"), f"/v1/vms/{uuid}/snapshots/s1")
        self.assertEqual((s["name"], s["vm"], s["kind"], s["managed"], s["current"]),
                         ("s1", uuid, "disk-only", True, True), s)
        self.assertEqual(s["description"], "before the upgrade")
        self.assertEqual(s["memory"], {"mode": "no", "file": None})
        self.assertEqual(s["compliance"]["status"], "compliant", s)
        self.assertEqual(len(s["disks"]), 1, s)
        d = s["disks"][0]
        self.assertEqual((d["target"], d["mode"], d["pool"]), ("vda", "external", "fr-snap"), s)
        self.assertEqual(os.path.dirname(d["file"]), self.pool_dirs["fr-snap"])
        self.assertTrue(os.path.isfile(d["file"]), d["file"])
        # The guest now writes into the overlay, whose backing file is the old disk.
        self.assertEqual(self.active_disk_file(name), d["file"])
        info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", d["file"]], check=True,
                                         capture_output=True, text=True).stdout)
        self.assertEqual((info["format"], info.get("backing-filename")), ("qcow2", base), info)
        self.assertEqual(os.listdir(self.pool_dirs["us-pool"]), [])
        self.assertEqual(self.snapshots(uuid)["s1"]["disks"][0]["file"], d["file"])
        self.assertEqual(self.expect(self.sovd.get(f"/v1/vms/{uuid}/snapshots/s1"), 200)["name"], "s1")
        self.assertEqual(self.host.virsh("snapshot-list", name, "--name").split(), ["s1"])
        # Made through the API: a decision and an audit trail, no drift.
        recs = self.audit_records(uuid)
        self.assertTrue([x for x in recs if x["kind"] == "decision" and x["operation"] == "snapshot"
                         and x["decision"]["outcome"] == "allow"], recs)
        self.assertFalse([x for x in recs if x["kind"] == "drift" and x.get("event") == "snapshot-created"], recs)
        # A second snapshot under the same name.
        self.assert_problem(self.sovd.post(f"/v1/vms/{uuid}/snapshots", {"name": "s1", "pool": "fr-snap"}), 409)
        # libvirt reverts to external snapshots from 9.7 on only.
        m = re.search(r"Running against daemon: (\d+)\.(\d+)", self.host.virsh("version", "--daemon"))
        if m and (int(m.group(1)), int(m.group(2))) < (9, 7):
            self.assert_problem(self.sovd.post(f"/v1/vms/{uuid}/snapshots/s1/revert"), 501)
            self.assertEqual(self.active_disk_file(name), d["file"])
        # Deleting merges the overlay back (libvirt >= 9.0) and removes it.
        r = self.sovd.delete(f"/v1/vms/{uuid}/snapshots/s1")
        self.assertEqual(r.status, 204, self.diag(r))
        self.assertEqual(self.snapshots(uuid), {})
        self.assertEqual(self.host.virsh("snapshot-list", name, "--name"), "")
        self.assertEqual(self.active_disk_file(name), base)
        self.assertFalse(os.path.exists(d["file"]), d["file"])
        self.assertEqual(self.host.virsh("domstate", name), "running")

    def test_snapshot_into_us_pool_is_denied(self):
        vm = self.create_vm("snap-us")
        uuid, name = vm["uuid"], vm["name"]
        for kind in ("disk-only", "full"):
            with self.subTest(kind=kind):
                r = self.sovd.post(f"/v1/vms/{uuid}/snapshots", {"name": f"abroad-{kind}", "kind": kind,
                                                                 "pool": "us-pool"})
                p = self.assert_problem(r, 403, "policy-denied")
                self.assertEqual(p["decision"]["outcome"], "deny", p)
                self.assertEqual(p["decision"]["decided_by"], {"kind": "snapshot", "place": "us-pool"}, p)
                self.assertEqual(os.listdir(self.pool_dirs["us-pool"]), [])
                self.assertEqual(self.host.virsh("snapshot-list", name, "--name"), "")
                self.assertEqual(self.active_disk_file(name), vm["disks"][0]["path"])
        self.assertEqual(self.snapshots(uuid), {})
        self.assertEqual(self.expect(self.sovd.get(f"/v1/jobs?vm={uuid}"), 200)["jobs"], [])
        # Internal snapshots take no pool; an unknown pool is a 422.
        self.assert_problem(self.sovd.post(f"/v1/vms/{uuid}/snapshots", {"name": "x", "kind": "internal",
                                                                         "pool": "fr-snap"}), 400)
        self.assert_problem(self.sovd.post(f"/v1/vms/{uuid}/snapshots", {"name": "x", "pool": "nowhere"}), 422)

    def test_full_snapshot_is_a_job(self):
        vm = self.create_vm("snap-full")
        uuid, name = vm["uuid"], vm["name"]
        t0 = time.monotonic()
        r = self.sovd.post(f"/v1/vms/{uuid}/snapshots", {"name": "mem1", "kind": "full"})
        job = self.expect(r, 202)
        self.assertEqual(r.headers.get("Location"), f"/v1/jobs/{job['id']}")
        self.assertEqual((job["kind"], job["vm"]), ("snapshot", uuid), job)
        job = self.wait_job(job["id"])
        self.assertEqual(job["state"], "succeeded", f"{job}\n" + self.diag())
        print(f"\n  full snapshot {time.monotonic() - t0:.2f}s", file=sys.stderr)
        self.assertEqual(job["result"]["name"], "mem1", job)
        s = self.snapshots(uuid)["mem1"]
        self.assertEqual((s["kind"], s["managed"]), ("full", True), s)
        self.assertEqual(s["memory"]["mode"], "external", s)
        mem = s["memory"]["file"]
        # Memory goes with the first disk: its own pool.
        self.assertEqual(os.path.dirname(mem), self.pool_dirs["fr-pool"])
        self.assertTrue(os.path.isfile(mem) and os.path.getsize(mem) > 0, mem)
        self.assertEqual(s["disks"][0]["mode"], "external", s)
        self.assertEqual(os.path.dirname(s["disks"][0]["file"]), self.pool_dirs["fr-pool"])
        self.assertEqual(s["compliance"]["status"], "compliant", s)
        self.assertEqual(self.host.virsh("domstate", name), "running")
        self.assertEqual(self.expect(self.sovd.get(f"/v1/vms/{uuid}"), 200)["state"], "running")
        ends = [x for x in self.audit_records(uuid) if x["kind"] == "operation" and x.get("job") == job["id"]]
        self.assertEqual([x["outcome"] for x in ends], ["succeeded"], ends)

    def test_internal_snapshot_revert_and_delete(self):
        """Internal snapshots keep disk and memory inside the qcow2: a revert
        brings the disk back to what it held, a delete removes the snapshot
        from libvirt and from the image."""
        vm = self.create_vm("snap-int")
        uuid, name, path = vm["uuid"], vm["name"], vm["disks"][0]["path"]
        node = self.node_name(name, path)
        self.write_pattern(name, node, 0x3c, 2 * MIB, MIB)
        # A running VM's internal snapshot saves its memory too: a job.
        job = self.expect(self.sovd.post(f"/v1/vms/{uuid}/snapshots", {"name": "i1", "kind": "internal"}), 202)
        job = self.wait_job(job["id"])
        self.assertEqual(job["state"], "succeeded", f"{job}\n" + self.diag())
        s = self.snapshots(uuid)["i1"]
        self.assertEqual((s["kind"], s["managed"]), ("internal", True), s)
        self.assertEqual(s["compliance"]["status"], "compliant", s)
        # Overwrite what was saved, and write something new.
        self.write_pattern(name, node, 0xc3, 2 * MIB, MIB)
        self.write_pattern(name, node, 0xee, 16 * MIB, MIB)

        after = self.expect(self.sovd.post(f"/v1/vms/{uuid}/snapshots/i1/revert"), 200)
        self.assertEqual(after["state"], "running", after)
        self.assertEqual(self.host.virsh("domstate", name), "running")
        decisions = [x for x in self.audit_records(uuid) if x["kind"] == "decision" and x["operation"] == "revert"]
        self.assertEqual([d["decision"]["outcome"] for d in decisions], ["allow"], decisions)
        # The disk holds what it held at the snapshot, nothing written since.
        self.expect(self.sovd.post(f"/v1/vms/{uuid}/stop"), 200)
        self.assert_image(self.to_raw(path), GIB, [(2 * MIB, MIB, 0x3c)])

        r = self.sovd.delete(f"/v1/vms/{uuid}/snapshots/i1")
        self.assertEqual(r.status, 204, self.diag(r))
        self.assertEqual(self.snapshots(uuid), {})
        self.assertEqual(self.host.virsh("snapshot-list", name, "--name"), "")
        info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", path], check=True,
                                         capture_output=True, text=True, timeout=60).stdout)
        self.assertEqual(info.get("snapshots", []), [], info)
        self.assert_problem(self.sovd.delete(f"/v1/vms/{uuid}/snapshots/i1"), 404)

    def test_virsh_snapshot_is_drift(self):
        vm = self.create_vm("snap-drift")
        uuid, name = vm["uuid"], vm["name"]
        # An operator, behind sovd's back, puts an overlay in the US pool.
        overlay = os.path.join(self.pool_dirs["us-pool"], f"{name}.by-hand.qcow2")
        self.host.virsh("snapshot-create-as", name, "by-hand", "--disk-only", "--atomic",
                        "--diskspec", f"vda,snapshot=external,file={overlay}")
        self.host.virsh("pool-refresh", "us-pool")
        self.assertTrue(os.path.isfile(overlay))

        deadline = time.monotonic() + 10
        while True:
            snaps = self.snapshots(uuid)
            drift = [x for x in self.audit_records(uuid)
                     if x["kind"] == "drift" and x.get("event") == "snapshot-created"]
            if "by-hand" in snaps and drift:
                break
            if time.monotonic() > deadline:
                self.fail(f"snapshots {sorted(snaps)}, drift records {drift}\n" + self.diag())
            time.sleep(0.1)
        s = snaps["by-hand"]
        self.assertIs(s["managed"], False, s)
        self.assertEqual((s["kind"], s["disks"][0]["file"], s["disks"][0]["pool"]),
                         ("disk-only", overlay, "us-pool"), s)
        self.assertEqual(s["compliance"]["status"], "non-compliant", s)
        self.assertTrue(s["compliance"]["reasons"], s)
        self.assertEqual(len(drift), 1, drift)
        self.assertEqual(drift[0]["snapshot"], "by-hand", drift)
        self.assertIn("outside the sovd API", drift[0]["detail"])
        self.assertEqual(drift[0]["compliance"]["would_deny"], True, drift)
        # Listing again records nothing new.
        self.snapshots(uuid)
        again = [x for x in self.audit_records(uuid) if x["kind"] == "drift" and x.get("event") == "snapshot-created"]
        self.assertEqual(len(again), 1, again)
        self.assertTrue(self.expect(self.sovd.get("/v1/audit/verify"), 200)["valid"])


if __name__ == "__main__":
    unittest.main()
