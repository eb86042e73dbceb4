# SPDX-License-Identifier: LGPL-2.1-or-later
"""A backup target is storage sovd does not own alone (an NFS share, a disk
others can write): what is planted there by hand must get clear answers or
safe results, never a crash, a hang, a read or a write outside the target.
The test driver cannot take backups, so manifests and files are planted:
they exercise list, get, verify and restore up to the copy, and the copy
itself with qemu-img when it is installed (a restore then defines its VM on
the test driver)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sovdtest  # noqa: E402

BINDING = ("<s:binding xmlns:s='urn:sovd:binding:1'><s:tenant>acme</s:tenant>"
           "<s:policy>fr-sovereign</s:policy></s:binding>")
BOUND_UUID = "0d3c1b0e-4a43-4b1b-9d3a-5b6b8f1e2a12"
HAVE_QEMU_IMG = shutil.which("qemu-img") is not None
# Answers must come at once: a hang is a failure, not a slow test.
QUICK = 10


def node_xml(pool_dir, outside_dir):
    """A test-driver host: fr-pool in a real directory (restores write there) and
    one bound VM whose disk is in no pool."""
    return f"""<node>
  <cpu><nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>2</threads>
       <active>8</active><mhz>2400</mhz><model>x86_64</model></cpu>
  <memory>16777216</memory>
  <domain type='test'>
    <name>bound</name><uuid>{BOUND_UUID}</uuid><memory>262144</memory><vcpu>1</vcpu>
    <os><type>hvm</type></os>
    <metadata>{BINDING}</metadata>
    <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
      <source file='{outside_dir}/bound.qcow2'/><target dev='vda' bus='virtio'/></disk></devices>
  </domain>
  <pool type='dir'>
    <name>fr-pool</name><uuid>35bb2ad9-388a-cdfe-461a-b8907f6e53fe</uuid>
    <capacity>1125899906842624</capacity><allocation>0</allocation><available>1125899906842624</available>
    <target><path>{pool_dir}</path></target>
  </pool>
</node>
"""


def new_id():
    return str(uuid.uuid4())


class PlantedTargetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sovd-targets-")
        cls.target = os.path.join(cls.tmp, "target")
        cls.pool = os.path.join(cls.tmp, "pool")
        cls.outside = os.path.join(cls.tmp, "outside")
        for d in (cls.target, cls.pool, cls.outside):
            os.mkdir(d)
        node = os.path.join(cls.tmp, "node.xml")
        with open(node, "w") as f:
            f.write(node_xml(cls.pool, cls.outside))
        conf = sovdtest.demo_config(backup_targets={
            "fr-nfs": {"path": cls.target, "tags": dict(sovdtest.FR_PLACE_TAGS), "keep_last": 2}})
        cls.sovd = sovdtest.Sovd(libvirt_uri="test://" + node, config=conf).start()

    @classmethod
    def tearDownClass(cls):
        cls.sovd.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def tearDown(self):
        # Whatever was planted, the daemon still answers.
        self.assertEqual(self.sovd.get("/healthz", timeout=QUICK).status, 200, self.sovd.read_log()[-3000:])

    # -- helpers -----------------------------------------------------------
    def manifest(self, vm, bid, **kw):
        m = {"format": "sovd-backup/1", "id": bid, "mode": "full", "vm": {"uuid": vm, "name": "bound"},
             "parent": None, "chain": bid, "checkpoint": None, "created_at": "2026-01-01T00:00:00Z",
             "binding": {"tenant": "acme", "policy": "fr-sovereign"}, "labels": {"env": "prod"},
             "domain_xml": ("<domain type='test'><name>bound</name><memory>262144</memory><vcpu>1</vcpu>"
                            "<os><type>hvm</type></os><devices><disk type='file' device='disk'>"
                            "<source file='/nowhere/bound.qcow2'/><target dev='vda' bus='virtio'/></disk>"
                            "</devices></domain>"),
             "disks": [{"target": "vda", "file": "vda.qcow2", "sha256": "0" * 64, "pool": "fr-pool"}]}
        m.update(kw)
        return m

    def plant(self, vm, bid, manifest=None, raw=None, disk=b"not a disk"):
        """Writes <target>/<vm>/<bid>/manifest.json (@raw bytes as they are) and a vda.qcow2."""
        d = os.path.join(self.target, vm, bid)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "manifest.json"), "wb") as f:
            f.write(raw if raw is not None else json.dumps(manifest or self.manifest(vm, bid)).encode())
        if disk is not None:
            with open(os.path.join(d, "vda.qcow2"), "wb") as f:
                f.write(disk)
        return d

    def qcow2(self, path, *opts):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", *opts, path, "1M"], check=True,
                       capture_output=True)

    def problem(self, r, status):
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("application/problem+json"), r)
        return r.json["detail"]

    def call_all(self, vm, bid, restore=None):
        s = self.sovd
        return (s.get(f"/v1/vms/{vm}/backups", timeout=QUICK), s.get(f"/v1/backups/{bid}", timeout=QUICK),
                s.post(f"/v1/backups/{bid}/verify", timeout=QUICK),
                s.post(f"/v1/backups/{bid}/restore", restore or {"name": "never-" + bid[:8]}, timeout=QUICK))

    def verification(self, r):
        """The verify job @r started, once ended: a backup that does not check out fails it."""
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json["kind"], "verify", r.json)
        self.assertEqual(r.headers["Location"], f"/v1/jobs/{r.json['id']}")
        job = self.wait_job(r.json["id"])
        self.assertEqual(job["state"], "failed", job)
        self.assertIn("does not check out", job["error"]["detail"], job)
        self.assertFalse(job["result"]["ok"], job)
        return job

    def wait_job(self, job_id, timeout=60):
        return self.sovd.wait_job(job_id, timeout)

    def vm_names(self):
        return {v["name"] for v in self.sovd.get("/v1/vms").json["vms"]}

    # -- manifests ---------------------------------------------------------
    def test_manifests_that_are_not_backups(self):
        vm = new_id()
        good = new_id()
        self.plant(vm, good)
        cases = {
            "not JSON": b"{not json",
            "an array": b"[1, 2]",
            "invalid UTF-8": b'{"format": "\xff"}',
            "disks an object": None,
            "id of another directory": None,
            "vm of another directory": None,
            "parent not a string": None,
            "larger than 8 MiB": None,
        }
        planted = {}
        for what in cases:
            bid = new_id()
            m = self.manifest(vm, bid)
            if what == "disks an object":
                m["disks"] = {"vda": "vda.qcow2"}
            elif what == "id of another directory":
                m["id"] = new_id()
            elif what == "vm of another directory":
                m["vm"]["uuid"] = new_id()
            elif what == "parent not a string":
                # Taken as no parent, it made an incremental pass for a full backup.
                m["parent"] = 12
            elif what == "larger than 8 MiB":
                m["padding"] = "x" * (9 * 1024 * 1024)
            self.plant(vm, bid, m, raw=cases[what])
            planted[what] = bid
        listed = self.sovd.get(f"/v1/vms/{vm}/backups", timeout=QUICK)
        self.assertEqual(listed.status, 200, listed)
        self.assertEqual([b["id"] for b in listed.json["backups"]], [good])
        for what, bid in planted.items():
            with self.subTest(what=what):
                _, got, verify, restore = self.call_all(vm, bid)
                for r in (got, verify, restore):
                    self.problem(r, 404)

    def test_disk_files_that_lead_outside_the_backup(self):
        vm = new_id()
        before = sorted(os.listdir(self.pool))
        cases = {}
        for what in ("../../etc/passwd", "/etc/shadow", "symlink", "fifo", "directory"):
            bid = new_id()
            disks = [{"target": "vda", "file": what, "sha256": "0" * 64, "pool": "fr-pool"}]
            if what in ("symlink", "fifo", "directory"):
                disks[0]["file"] = "vda.qcow2"
            d = self.plant(vm, bid, self.manifest(vm, bid, disks=disks), disk=None)
            disk = os.path.join(d, "vda.qcow2")
            if what == "symlink":
                os.symlink("/etc/passwd", disk)
            elif what == "fifo":
                # Opened for reading, a FIFO blocked the request thread for ever.
                os.mkfifo(disk)
            elif what == "directory":
                os.mkdir(disk)
            cases[what] = bid
        for what, bid in cases.items():
            with self.subTest(what=what):
                _, got, verify, restore = self.call_all(vm, bid)
                self.assertEqual(got.status, 200, got)
                job = self.verification(verify)
                self.assertEqual([(d["actual"], d["ok"]) for d in job["result"]["disks"]], [(None, False)])
                self.assertIn("is missing or unreadable", job["error"]["detail"])
                self.problem(restore, 409)
        self.assertEqual(sorted(os.listdir(self.pool)), before)

    def test_manifest_that_is_a_fifo_or_a_symlink(self):
        vm = new_id()
        fifo, link, linked_dir = new_id(), new_id(), new_id()
        os.makedirs(os.path.join(self.target, vm, fifo))
        # Every call that read it blocked in open(), and four of them took every HTTP worker.
        os.mkfifo(os.path.join(self.target, vm, fifo, "manifest.json"))
        elsewhere = os.path.join(self.outside, link)
        os.makedirs(elsewhere)
        with open(os.path.join(elsewhere, "m.json"), "w") as f:
            json.dump(self.manifest(vm, link), f)
        os.makedirs(os.path.join(self.target, vm, link))
        os.symlink(os.path.join(elsewhere, "m.json"), os.path.join(self.target, vm, link, "manifest.json"))
        # A whole backup directory that is a symlink to one outside the target.
        outside_backup = os.path.join(self.outside, "backup-" + linked_dir)
        os.makedirs(outside_backup)
        with open(os.path.join(outside_backup, "manifest.json"), "w") as f:
            json.dump(self.manifest(vm, linked_dir), f)
        os.symlink(outside_backup, os.path.join(self.target, vm, linked_dir))
        for bid in (fifo, fifo, fifo, fifo, fifo, link, linked_dir):
            listed, got, verify, restore = self.call_all(vm, bid)
            self.assertEqual(listed.status, 200, listed)
            self.assertEqual(listed.json["backups"], [])
            for r in (got, verify, restore):
                self.problem(r, 404)
        # A VM directory that is a symlink is not read either.
        other_vm = new_id()
        self.plant("not-a-vm-directory", linked_dir, self.manifest(other_vm, linked_dir))
        os.symlink(os.path.join(self.target, "not-a-vm-directory"), os.path.join(self.target, other_vm))
        self.assertEqual(self.sovd.get(f"/v1/vms/{other_vm}/backups").json["backups"], [])

    def test_parent_chains_that_loop(self):
        vm = new_id()
        a, b, selfish = new_id(), new_id(), new_id()
        self.plant(vm, a, self.manifest(vm, a, mode="incremental", parent=b))
        self.plant(vm, b, self.manifest(vm, b, mode="incremental", parent=a))
        self.plant(vm, selfish, self.manifest(vm, selfish, mode="incremental", parent=selfish))
        for bid in (a, selfish):
            with self.subTest(bid=bid):
                _, got, verify, restore = self.call_all(vm, bid)
                self.assertEqual(got.status, 200, got)
                job = self.verification(verify)
                self.assertIn("loops", job["result"]["error"])
                self.assertIn("loops", job["error"]["detail"])
                self.assertIn("loops", self.problem(restore, 409))

    def test_verify_is_a_job_with_progress_that_can_be_cancelled(self):
        vm, bid = new_id(), new_id()
        disks = [{"target": "vda", "file": "vda.qcow2", "sha256": "0" * 64, "pool": "fr-pool", "size": 8 << 30}]
        d = self.plant(vm, bid, self.manifest(vm, bid, disks=disks), disk=None)
        # 8 GiB of holes: seconds of hashing, no disk space.
        with open(os.path.join(d, "vda.qcow2"), "wb") as f:
            f.truncate(8 << 30)
        first = self.sovd.post(f"/v1/backups/{bid}/verify")
        self.assertEqual(first.status, 202, first)
        job_id = first.json["id"]
        self.assertEqual((first.json["kind"], first.json["vm"]), ("verify", vm))
        # One verification of a backup at a time; the API answers meanwhile.
        again = self.sovd.post(f"/v1/backups/{bid}/verify", timeout=QUICK)
        self.assertIn(job_id, self.problem(again, 409))
        progress = None
        for _ in range(200):
            j = self.sovd.get(f"/v1/jobs/{job_id}", timeout=QUICK).json
            progress = j["progress"]
            if j["state"] != "queued" and progress and progress["bytes_done"] > 0:
                break
            time.sleep(0.01)
        self.assertEqual(j["state"], "running", j)
        self.assertEqual(progress["bytes_total"], 8 << 30, j)
        self.assertGreater(progress["bytes_done"], 0, j)
        r = self.sovd.delete(f"/v1/jobs/{job_id}")
        self.assertEqual(r.status, 202, r)
        job = self.wait_job(job_id)
        self.assertEqual(job["state"], "cancelled", job)
        self.assertIsNone(job["result"], job)
        # Ended: the backup can be verified again (a smaller file this time).
        os.truncate(os.path.join(d, "vda.qcow2"), 1 << 20)
        job = self.verification(self.sovd.post(f"/v1/backups/{bid}/verify"))
        self.assertIn("has another checksum", job["error"]["detail"], job)

    def test_verify_and_restore_of_a_backup_nowhere(self):
        bid = new_id()
        self.problem(self.sovd.post(f"/v1/backups/{bid}/verify"), 404)
        # A malformed id is named for what it should be.
        self.assertIn("'zz' is not a backup id", self.problem(self.sovd.post("/v1/backups/zz/verify"), 400))
        self.assertIn("'zz' is not a job id", self.problem(self.sovd.get("/v1/jobs/zz"), 400))
        self.problem(self.sovd.post(f"/v1/backups/{bid}/restore", {"name": "nowhere"}), 404)
        self.problem(self.sovd.post(f"/v1/backups/{bid}/restore", {"in_place": True}), 404)

    def test_restore_of_a_manifest_with_a_bad_binding_labels_or_disks(self):
        vm = new_id()
        before = sorted(os.listdir(self.pool))
        m = self.manifest
        cases = {
            "labels not an object": lambda b: m(vm, b, labels="env=prod"),
            "label not a string": lambda b: m(vm, b, labels={"env": ["prod"]}),
            "label null": lambda b: m(vm, b, labels={"env": None}),
            "tenant not a name": lambda b: m(vm, b, binding={"tenant": "acme</s:tenant>", "policy": "fr-sovereign"}),
            "policy a path": lambda b: m(vm, b, binding={"tenant": "acme", "policy": "../../etc/passwd"}),
            "no disks": lambda b: m(vm, b, disks=[]),
            "one disk twice": lambda b: m(vm, b, disks=[
                {"target": "vda", "file": "vda.qcow2", "pool": "fr-pool"},
                {"target": "vda", "file": "vda.qcow2", "pool": "fr-pool"}]),
            "65 disks": lambda b: m(vm, b, disks=[
                {"target": f"vd{i}", "file": "vda.qcow2", "pool": "fr-pool"} for i in range(65)]),
        }
        for what, make in cases.items():
            with self.subTest(what=what):
                bid = new_id()
                self.plant(vm, bid, make(bid))
                self.problem(self.sovd.post(f"/v1/backups/{bid}/restore", {"name": "bad-" + bid[:8]}), 409)
        self.assertEqual(sorted(os.listdir(self.pool)), before)

    @unittest.skipUnless(HAVE_QEMU_IMG, "qemu-img not installed")
    def test_restore_follows_no_backing_file_but_its_parent(self):
        # qemu-img convert reads through whatever backing file or external data
        # file the qcow2 header names: a planted disk naming /etc/passwd had it
        # copied into the restored VM's disk.
        vm = new_id()
        before = sorted(os.listdir(self.pool))
        full = new_id()
        d = self.plant(vm, full, disk=None)
        self.qcow2(os.path.join(d, "vda.qcow2"))
        cases = {
            "a host file": ("-b", "/etc/passwd", "-F", "raw"),
            "its parent by absolute path": ("-b", os.path.join(d, "vda.qcow2"), "-F", "qcow2"),
            "another backup": ("-u", "-b", f"../{new_id()}/vda.qcow2", "-F", "qcow2"),
            "an external data file": ("-o", f"data_file={self.outside}/data.raw"),
        }
        for what, opts in cases.items():
            with self.subTest(what=what):
                bid = new_id()
                parent = None if what == "an external data file" else full
                dd = self.plant(vm, bid, self.manifest(vm, bid, mode="incremental" if parent else "full",
                                                        parent=parent, chain=full), disk=None)
                self.qcow2(os.path.join(dd, "vda.qcow2"), *opts)
                detail = self.problem(self.sovd.post(f"/v1/backups/{bid}/restore", {"name": "leak-" + bid[:8]}), 409)
                self.assertIn("vda.qcow2", detail)
        self.assertEqual(sorted(os.listdir(self.pool)), before)
        # The chain as sovd writes it is restored.
        inc = new_id()
        dd = self.plant(vm, inc, self.manifest(vm, inc, mode="incremental", parent=full, chain=full), disk=None)
        self.qcow2(os.path.join(dd, "vda.qcow2"), "-b", f"../{full}/vda.qcow2", "-F", "qcow2")
        r = self.sovd.post(f"/v1/backups/{inc}/restore", {"name": "chain-ok"})
        self.assertEqual(r.status, 202, r)
        job = self.wait_job(r.json["id"])
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(sorted(os.listdir(self.pool)), sorted(before + ["chain-ok-vda.qcow2"]))
        self.assertIn("chain-ok", self.vm_names())
        # The name is now taken; so is that of the VM the target claims to hold.
        self.assertIn("already exists", self.problem(self.sovd.post(f"/v1/backups/{inc}/restore",
                                                                    {"name": "chain-ok"}), 409))
        self.problem(self.sovd.post(f"/v1/backups/{inc}/restore", {"name": "bound"}), 409)

    @unittest.skipUnless(HAVE_QEMU_IMG, "qemu-img not installed")
    def test_concurrent_restores_into_one_name(self):
        # A new VM's job is on a new UUID: all six were accepted, one won, and
        # the losers' cleanup deleted the winner's disk under its defined VM.
        vm = new_id()
        bid = new_id()
        d = self.plant(vm, bid, disk=None)
        self.qcow2(os.path.join(d, "vda.qcow2"))
        answers = []

        def restore():
            answers.append(self.sovd.post(f"/v1/backups/{bid}/restore", {"name": "race"}))

        threads = [threading.Thread(target=restore) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(r.status for r in answers), [202, 409, 409, 409, 409, 409], answers)
        won = [r for r in answers if r.status == 202][0]
        self.assertEqual(self.wait_job(won.json["id"])["state"], "succeeded")
        self.assertIn("race-vda.qcow2", os.listdir(self.pool))
        self.assertIn("race", self.vm_names())

    @unittest.skipUnless(HAVE_QEMU_IMG, "qemu-img not installed")
    def test_restore_that_fails_leaves_nothing(self):
        vm = new_id()
        bid = new_id()
        d = self.plant(vm, bid, self.manifest(vm, bid, domain_xml="<notadomain/>"), disk=None)
        self.qcow2(os.path.join(d, "vda.qcow2"))
        before = sorted(os.listdir(self.pool))
        r = self.sovd.post(f"/v1/backups/{bid}/restore", {"name": "fails"})
        self.assertEqual(r.status, 202, r)
        job = self.wait_job(r.json["id"])
        self.assertEqual(job["state"], "failed", job)
        self.assertEqual(sorted(os.listdir(self.pool)), before)
        self.assertNotIn("fails", self.vm_names())

    @unittest.skipUnless(HAVE_QEMU_IMG, "qemu-img not installed")
    def test_in_place_restore_of_a_disk_in_no_pool(self):
        # The destination path of a disk in no pool was judged after it was
        # freed: ASan stopped sovd (heap-use-after-free in restore_prepare).
        bid = new_id()
        d = self.plant(BOUND_UUID, bid, self.manifest(BOUND_UUID, bid), disk=None)
        self.qcow2(os.path.join(d, "vda.qcow2"))
        self.assertIn("shut it off", self.problem(self.sovd.post(f"/v1/backups/{bid}/restore", {"in_place": True}), 409))
        self.assertEqual(self.sovd.post(f"/v1/vms/{BOUND_UUID}/stop").status, 200)
        r = self.sovd.post(f"/v1/backups/{bid}/restore", {"in_place": True})
        # Refused: the disk's path is no tagged place. What matters is the answer.
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json["decision"]["operation"], "restore")
        self.assertTrue(any(self.outside in c["place"]["name"] for c in r.json["decision"]["checks"]), r.json)

    def test_backup_into_a_vm_directory_that_is_a_symlink(self):
        r = self.sovd.post("/v1/vms", {"name": "linked-dir", "tenant": "acme", "policy": "fr-sovereign", "vcpus": 1,
                                       "memory_mib": 256, "disks": [{"pool": "fr-pool", "size_gib": 1}]})
        self.assertEqual(r.status, 201, r)
        vm = r.json["uuid"]
        self.assertEqual(self.sovd.post(f"/v1/vms/{vm}/start").status, 200)
        elsewhere = os.path.join(self.outside, "not-the-target")
        os.mkdir(elsewhere)
        os.symlink(elsewhere, os.path.join(self.target, vm))
        r = self.sovd.post(f"/v1/vms/{vm}/backups", {"target": "fr-nfs"})
        self.assertEqual(r.status, 202, r)
        job = self.wait_job(r.json["id"])
        self.assertEqual(job["state"], "failed", job)
        # The backup directory was made through the symlink, outside the target.
        self.assertIn("a symlink or a file is in the way", job["error"]["detail"])
        self.assertEqual(os.listdir(elsewhere), [])


if __name__ == "__main__":
    unittest.main()
