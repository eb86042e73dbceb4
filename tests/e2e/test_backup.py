# SPDX-License-Identifier: LGPL-2.1-or-later
"""End to end: backups of running guests through sovd's API, against a
private libvirtd running real QEMU (KVM where /dev/kvm is usable, else TCG).

Known bytes are written into a running guest's disk through QEMU's monitor
(`qemu-io -d` on the disk's virtio device, so no guest OS is needed), then:
  - a full and an incremental backup to a French target; the manifests name
    the host, the target's tags, the domain XML and the policy digest, and
    each file's sha256 is the one on disk;
  - both restored into new VMs, converted to raw and compared byte for byte
    with what was written before each backup;
  - a backup to a US target is refused (403 with the decision), nothing is
    written there; an incremental without a prior full is a 409;
  - sovd SIGKILLed while a backup runs: after the restart the job has ended,
    truthfully (succeeded and verifiable, or failed with no files left), and
    the audit chain still verifies;
  - retention with keep_last: 1 keeps a chain whole, then deletes it once a
    new full exists, with one audit record per deletion;
  - verify catches a single corrupted byte;
  - a cancelled backup ends cancelled (or succeeded, when it won the race),
    and the guest keeps running;
  - an in-place restore holds the VM off: a start through the API (409) and
    a `virsh start` behind sovd's back (refused by the libvirt hook, which
    this host has) both fail while it writes the disk. sovd's qemu-img is a
    wrapper that waits at a gate file, so the restore is caught mid-copy.
Exits 77 (skipped) where e2e cannot run: see libvirt_host.skip_reason().

Run from the source tree:
  SOVD_BIN=build/sovd PYTHONPATH=tests/integration:tests/e2e python3 tests/e2e/test_backup.py
"""
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

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
HOST_ADDRESS = "127.0.0.25"
HOOK_BIN = os.path.abspath(os.environ.get("SOVD_HOOK_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "sovd-hook"))
US_PLACE_TAGS = {"jurisdiction": "US", "region": "US-VA", "site": "iad-1",
                 "operator": "Example Inc", "operator_jurisdiction": "US"}
# Targets: name -> extra settings. fr-* satisfy fr-sovereign's backup rule
# (jurisdiction and operator_jurisdiction in @fr), us-backups does not.
TARGETS = {
    "fr-backups": {"tags": sovdtest.FR_PLACE_TAGS},
    "us-backups": {"tags": US_PLACE_TAGS},
    "fr-retention": {"tags": sovdtest.FR_PLACE_TAGS, "keep_last": 1},
}
ACTIVE = ("queued", "running")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(4 * MIB), b""):
            h.update(block)
    return h.hexdigest()


def tree(path):
    """Every file under @path, relative, sorted."""
    out = []
    for d, _, files in os.walk(path):
        out += [os.path.relpath(os.path.join(d, f), path) for f in files]
    return sorted(out)


class BackupTest(GuestDiskMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sovd-e2e-backup-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.pool_dir = os.path.join(cls.tmp, "fr-pool")
        os.mkdir(cls.pool_dir)
        cls.target_dirs = {}
        targets = {}
        for name, settings in TARGETS.items():
            cls.target_dirs[name] = os.path.join(cls.tmp, name)
            os.mkdir(cls.target_dirs[name])
            targets[name] = dict(settings, path=cls.target_dirs[name], tags=dict(settings["tags"]))

        # The libvirt hook, asking this test's sovd (installed before
        # libvirtd starts, sovd started after it).
        sovd_dir = os.path.join(cls.tmp, "sovd")
        os.mkdir(sovd_dir)
        # sovd's qemu-img (found on PATH): a convert waits while the gate file exists.
        cls.gate = os.path.join(cls.tmp, "qemu-img-gate")
        bindir = os.path.join(cls.tmp, "bin")
        os.mkdir(bindir)
        real = shutil.which("qemu-img")
        with open(os.path.join(bindir, "qemu-img"), "w") as f:
            f.write("#!/bin/sh\n"
                    f"if [ \"$1\" = convert ]; then while [ -e {shlex.quote(cls.gate)} ]; do sleep 0.05; done; fi\n"
                    f"exec {shlex.quote(real)} \"$@\"\n")
        os.chmod(os.path.join(bindir, "qemu-img"), 0o755)

        cls.host = PrivateLibvirtHost("e2e-backup", HOST_ADDRESS)
        cls.host.install_sovd_hook(HOOK_BIN, os.path.join(sovd_dir, "sovd.sock"))
        cls.host.start()
        cls.addClassCleanup(cls.host.stop)
        cls.host.define_dir_pool("fr-pool", cls.pool_dir)

        cls.sovd = sovdtest.Sovd(libvirt_uri=cls.host.uri, workdir=sovd_dir,
                                 config=sovdtest.demo_config(backup_targets=targets),
                                 env={"PATH": bindir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin")})
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
        ctype = resp.headers.get("Content-Type", "")
        self.assertTrue(ctype.startswith("application/problem+json"), f"Content-Type {ctype!r}")
        self.assertEqual(resp.json.get("status"), status, resp)
        if type_suffix:
            self.assertTrue(resp.json.get("type", "").endswith(type_suffix), resp)
        return resp.json

    def create_vm(self, name, size_gib=1, start=True):
        body = {"name": name, "tenant": "acme", "policy": "fr-sovereign", "vcpus": 1, "memory_mib": 64,
                "labels": {"app": "e2e-backup"}, "disks": [{"pool": "fr-pool", "size_gib": size_gib}]}
        vm = self.expect(self.sovd.post("/v1/vms", body), 201)
        self.addCleanup(self.delete_quietly, vm["uuid"])
        if start:
            self.assertEqual(self.expect(self.sovd.post(f"/v1/vms/{vm['uuid']}/start"), 200)["state"], "running")
        return vm

    def delete_quietly(self, uuid):
        """Cleanup for a test's VM whatever state the test left it in."""
        for _ in range(100):  # a job still running keeps the VM busy
            jobs = self.sovd.get(f"/v1/jobs?vm={uuid}").json or {"jobs": []}
            if not [j for j in jobs["jobs"] if j["state"] in ACTIVE]:
                break
            time.sleep(0.1)
        self.sovd.post(f"/v1/vms/{uuid}/stop")
        self.sovd.delete(f"/v1/vms/{uuid}?delete_storage=true")

    def backup(self, uuid, target, mode="full"):
        """POSTs a backup; returns the 202's job."""
        r = self.sovd.post(f"/v1/vms/{uuid}/backups", {"target": target, "mode": mode})
        job = self.expect(r, 202)
        self.assertEqual(r.headers.get("Location"), f"/v1/jobs/{job['id']}")
        self.assertEqual((job["kind"], job["vm"]), ("backup", uuid), job)
        self.assertIn(job["state"], ACTIVE + ("succeeded",), job)
        return job

    def wait_job(self, job_id, timeout=120):
        deadline = time.monotonic() + timeout
        while True:
            job = self.expect(self.sovd.get(f"/v1/jobs/{job_id}"), 200)
            if job["state"] not in ACTIVE:
                return job
            if time.monotonic() > deadline:
                self.fail(f"job {job_id} still {job['state']} after {timeout} s\n" + self.diag())
            time.sleep(0.1)

    def backup_ok(self, uuid, target, mode="full"):
        """A backup that must succeed; returns its manifest."""
        job = self.wait_job(self.backup(uuid, target, mode)["id"])
        self.assertEqual(job["state"], "succeeded", f"{job}\n" + self.diag())
        self.assertIsNone(job["error"], job)
        self.assertEqual(job["result"]["target"], target, job)
        return self.expect(self.sovd.get(f"/v1/backups/{job['result']['backup']}"), 200)

    def backup_dir(self, target, vm_uuid, backup_id):
        return os.path.join(self.target_dirs[target], vm_uuid, backup_id)

    def verify(self, backup_id):
        """Runs a verify job to its end; its result. The job fails exactly when the backup does not check out."""
        job = self.expect(self.sovd.post(f"/v1/backups/{backup_id}/verify"), 202)
        self.assertEqual(job["kind"], "verify", job)
        job = self.wait_job(job["id"], timeout=120)
        result = job["result"]
        self.assertIsNotNone(result, job)
        if result["ok"]:
            self.assertEqual(job["state"], "succeeded", job)
        else:
            self.assertEqual(job["state"], "failed", job)
            self.assertIn(f"backup {backup_id} does not check out", job["error"]["detail"], job)
        return result

    def restore(self, backup_id, name):
        """Restores into a new VM @name; returns (job, restored VM)."""
        r = self.sovd.post(f"/v1/backups/{backup_id}/restore", {"name": name})
        job = self.expect(r, 202)
        self.assertEqual(r.headers.get("Location"), f"/v1/jobs/{job['id']}")
        self.assertEqual(job["kind"], "restore", job)
        self.addCleanup(self.delete_quietly, job["vm"])
        job = self.wait_job(job["id"])
        self.assertEqual(job["state"], "succeeded", f"{job}\n" + self.diag())
        self.assertEqual((job["result"]["vm"], job["result"]["name"]), (job["vm"], name), job)
        return job, self.expect(self.sovd.get(f"/v1/vms/{job['vm']}"), 200)

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
    def test_full_incremental_restore_verify(self):
        t0 = time.monotonic()
        vm = self.create_vm("bk-main")
        uuid, name, disk = vm["uuid"], vm["name"], vm["disks"][0]["path"]
        node = self.node_name(name, disk)
        self.write_pattern(name, node, 0xaa, 0, MIB)

        # Full.
        t_full = time.monotonic()
        full = self.backup_ok(uuid, "fr-backups")
        t_full = time.monotonic() - t_full
        fid = full["id"]
        self.assertEqual(full["format"], "sovd-backup/1")
        self.assertEqual((full["target"], full["mode"], full["parent"], full["chain"]),
                         ("fr-backups", "full", None, fid), full)
        self.assertEqual(full["checkpoint"], f"sovd-{fid}")
        self.assertEqual(full["vm"], {"uuid": uuid, "name": name})
        self.assertEqual((full["binding"]["tenant"], full["binding"]["policy"]), ("acme", "fr-sovereign"))
        self.assertRegex(full["binding"]["policy_digest"] or "", r"^(sha256:)?[0-9a-f]{64}$", full["binding"])
        self.assertEqual(full["policy"]["name"], "fr-sovereign")
        self.assertRegex(full["policy"]["digest"] or "", r"^(sha256:)?[0-9a-f]{64}$", full["policy"])
        self.assertTrue(full["decision"], full)
        self.assertEqual(full["labels"], {"app": "e2e-backup"})
        self.assertTrue(full["host"]["name"], full["host"])
        self.assertEqual(full["host"]["tags"]["jurisdiction"], "FR", full["host"])
        self.assertEqual(full["target_tags"]["jurisdiction"], "FR", full["target_tags"])
        self.assertEqual(full["target_tags"]["operator_jurisdiction"], "FR", full["target_tags"])
        self.assertIn(f"<uuid>{uuid}</uuid>", full["domain_xml"])
        self.assertTrue(full["created_at"] <= full["completed_at"], full)
        self.assertEqual(len(full["disks"]), 1, full)
        d = full["disks"][0]
        self.assertEqual((d["target"], d["file"], d["format"], d["pool"]), ("vda", "vda.qcow2", "qcow2", "fr-pool"))
        fdir = self.backup_dir("fr-backups", uuid, fid)
        self.assertEqual(sorted(os.listdir(fdir)), ["manifest.json", "vda.qcow2"])
        fpath = os.path.join(fdir, "vda.qcow2")
        self.assertEqual(d["sha256"], sha256_file(fpath))
        self.assertEqual(d["size"], os.path.getsize(fpath))
        with open(os.path.join(fdir, "manifest.json")) as f:
            on_disk = json.load(f)
        self.assertEqual(on_disk["id"], fid)
        self.assertEqual(on_disk["disks"], full["disks"])
        # The checkpoint the next incremental starts from exists in libvirt.
        self.assertIn(f"sovd-{fid}", self.host.virsh("checkpoint-list", name, "--name").split())

        # Incremental: only what changed since the full.
        self.write_pattern(name, node, 0xbb, 8 * MIB, MIB)
        t_inc = time.monotonic()
        inc = self.backup_ok(uuid, "fr-backups", "incremental")
        t_inc = time.monotonic() - t_inc
        iid = inc["id"]
        self.assertEqual((inc["mode"], inc["parent"], inc["chain"], inc["checkpoint"]),
                         ("incremental", fid, fid, f"sovd-{iid}"), inc)
        ipath = os.path.join(self.backup_dir("fr-backups", uuid, iid), "vda.qcow2")
        self.assertEqual(inc["disks"][0]["sha256"], sha256_file(ipath))
        info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", ipath], check=True,
                                         capture_output=True, text=True).stdout)
        self.assertEqual(info.get("backing-filename"), f"../{fid}/vda.qcow2", info)

        listing = self.expect(self.sovd.get(f"/v1/vms/{uuid}/backups"), 200)["backups"]
        self.assertEqual([b["id"] for b in listing], [fid, iid])
        self.assertTrue(all("domain_xml" not in b for b in listing), listing)

        v = self.verify(iid)
        self.assertIs(v["ok"], True, v)
        self.assertEqual(v["chain"], [iid, fid])
        self.assertTrue(all(x["ok"] for x in v["disks"]), v)
        self.assertIs(self.verify(fid)["ok"], True)

        # Restores: each backup as it was, into a new VM bound like the source.
        t_restore = time.monotonic()
        restored = {}
        for bid, vname, writes in ((fid, "bk-main-rfull", [(0, MIB, 0xaa)]),
                                   (iid, "bk-main-rinc", [(0, MIB, 0xaa), (8 * MIB, MIB, 0xbb)])):
            with self.subTest(restore=vname):
                job, new = self.restore(bid, vname)
                restored[vname] = new
                self.assertNotEqual(new["uuid"], uuid)
                self.assertEqual((new["name"], new["state"], new["managed"]), (vname, "shutoff", True), new)
                self.assertEqual((new["tenant"], new["policy"]), ("acme", "fr-sovereign"), new)
                self.assertEqual(len(new["disks"]), 1, new)
                path = new["disks"][0]["path"]
                self.assertEqual(path, job["result"]["disks"][0]["path"])
                self.assertEqual(os.path.dirname(path), self.pool_dir)
                self.assertEqual((new["disks"][0]["pool"], new["disks"][0]["volume"]),
                                 ("fr-pool", f"{vname}-vda.qcow2"), new)
                self.assertNotEqual(path, disk)
                raw = self.to_raw(path)
                with open(raw, "rb") as f:
                    f.seek(8 * MIB)
                    at8 = f.read(MIB)
                if bid == fid:
                    self.assertNotEqual(at8, b"\xbb" * MIB, "the full restore holds data written after it")
                self.assert_image(raw, GIB, writes)
        t_restore = time.monotonic() - t_restore
        # The restored VM is a real, startable domain.
        if "bk-main-rinc" in restored:
            self.assertEqual(self.expect(self.sovd.post(f"/v1/vms/{restored['bk-main-rinc']['uuid']}/start"),
                                         200)["state"], "running")

        # One flipped byte in the full: it and the incremental on top fail verification.
        with open(fpath, "r+b") as f:
            f.seek(os.path.getsize(fpath) // 2)
            b = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([b[0] ^ 0xff]))
        v = self.verify(fid)
        self.assertIs(v["ok"], False, v)
        self.assertEqual(v["disks"][0]["expected"], d["sha256"])
        self.assertEqual(v["disks"][0]["actual"], sha256_file(fpath))
        self.assertIs(v["disks"][0]["ok"], False, v)
        v = self.verify(iid)
        self.assertIs(v["ok"], False, v)
        self.assertEqual({x["backup"]: x["ok"] for x in v["disks"]}, {iid: True, fid: False}, v)
        print(f"\n  full {t_full:.2f}s, incremental {t_inc:.2f}s, 2 restores {t_restore:.2f}s, "
              f"test {time.monotonic() - t0:.2f}s", file=sys.stderr)

    def test_refusals(self):
        vm = self.create_vm("bk-refused")
        uuid = vm["uuid"]

        # A target abroad: refused with the decision, nothing written there.
        r = self.sovd.post(f"/v1/vms/{uuid}/backups", {"target": "us-backups", "mode": "full"})
        p = self.assert_problem(r, 403, "policy-denied")
        self.assertIn("decision", p, p)
        self.assertEqual(p["decision"]["outcome"], "deny", p)
        self.assertEqual(p["decision"]["decided_by"], {"kind": "backup", "place": "us-backups"}, p)
        self.assertEqual(tree(self.target_dirs["us-backups"]), [])
        denied = [x for x in self.audit_records(uuid) if x["kind"] == "decision" and x["operation"] == "backup"]
        self.assertEqual([x["decision"]["id"] for x in denied], [p["decision"]["id"]], denied)
        self.assertEqual(denied[0]["decision"]["outcome"], "deny")

        # Incremental with no full on that target.
        self.assert_problem(self.sovd.post(f"/v1/vms/{uuid}/backups",
                                           {"target": "fr-backups", "mode": "incremental"}), 409, "conflict")
        self.assertFalse(os.path.exists(os.path.join(self.target_dirs["fr-backups"], uuid)))
        # Unknown target; bad body.
        self.assert_problem(self.sovd.post(f"/v1/vms/{uuid}/backups", {"target": "nowhere"}), 422)
        self.assert_problem(self.sovd.post(f"/v1/vms/{uuid}/backups", {"target": "fr-backups",
                                                                        "mode": "differential"}), 400)
        # A shut-off VM.
        self.expect(self.sovd.post(f"/v1/vms/{uuid}/stop"), 200)
        self.assert_problem(self.sovd.post(f"/v1/vms/{uuid}/backups", {"target": "fr-backups"}), 409, "conflict")
        self.assertEqual(self.expect(self.sovd.get(f"/v1/jobs?vm={uuid}"), 200)["jobs"], [])

    def test_retention_keeps_chains_whole(self):
        vm = self.create_vm("bk-retention")
        uuid, name = vm["uuid"], vm["name"]
        node = self.node_name(name, vm["disks"][0]["path"])
        vmdir = os.path.join(self.target_dirs["fr-retention"], uuid)

        chain = []
        for i, mode in enumerate(("full", "incremental", "incremental")):
            self.write_pattern(name, node, 0x10 + i, i * MIB, MIB)
            chain.append(self.backup_ok(uuid, "fr-retention", mode)["id"])
            # keep_last 1 keeps the newest and, through it, every ancestor.
            self.assertEqual(sorted(os.listdir(vmdir)), sorted(chain), f"after backup {i}")
        listing = self.expect(self.sovd.get(f"/v1/vms/{uuid}/backups"), 200)["backups"]
        self.assertEqual([b["id"] for b in listing], chain)
        self.assertEqual([x for x in self.audit_records(uuid) if x.get("operation") == "retention"], [])

        new = self.backup_ok(uuid, "fr-retention", "full")["id"]
        self.assertEqual(os.listdir(vmdir), [new])
        for bid in chain:
            self.assert_problem(self.sovd.get(f"/v1/backups/{bid}"), 404)
        self.assertEqual([b["id"] for b in self.expect(self.sovd.get(f"/v1/vms/{uuid}/backups"), 200)["backups"]],
                         [new])
        recs = [x for x in self.audit_records(uuid) if x["kind"] == "operation" and x.get("operation") == "retention"]
        self.assertEqual(sorted(x.get("backup") for x in recs), sorted(chain), recs)
        self.assertTrue(all(x["outcome"] == "deleted" and x.get("target") == "fr-retention" for x in recs), recs)
        # Their checkpoints went with them; the new full's stays.
        checkpoints = self.host.virsh("checkpoint-list", name, "--name").split()
        self.assertEqual(checkpoints, [f"sovd-{new}"])
        # An incremental on top of the new full still works.
        self.assertEqual(self.backup_ok(uuid, "fr-retention", "incremental")["parent"], new)
        self.assertTrue(self.expect(self.sovd.get("/v1/audit/verify"), 200)["valid"])

    def test_restore_in_place(self):
        """Back to the backed-up bytes in the VM's own disk; refused while it runs."""
        vm = self.create_vm("bk-inplace")
        uuid, name, path = vm["uuid"], vm["name"], vm["disks"][0]["path"]
        node = self.node_name(name, path)
        self.write_pattern(name, node, 0x3c, 2 * MIB, MIB)
        bid = self.backup_ok(uuid, "fr-backups")["id"]
        self.write_pattern(name, node, 0xc3, 2 * MIB, MIB)   # overwrite what was saved
        self.write_pattern(name, node, 0xee, 16 * MIB, MIB)  # and add something new

        r = self.sovd.post(f"/v1/backups/{bid}/restore", {"in_place": True})
        self.assert_problem(r, 409)
        self.assertIn("shut it off", r.json["detail"])
        self.expect(self.sovd.post(f"/v1/vms/{uuid}/stop"), 200)

        # Caught mid-copy (the gate holds qemu-img): the VM must stay off.
        open(self.gate, "w").close()
        self.addCleanup(lambda: os.path.exists(self.gate) and os.unlink(self.gate))
        r = self.sovd.post(f"/v1/backups/{bid}/restore", {"in_place": True})
        job = self.expect(r, 202)
        self.assertEqual((job["kind"], job["vm"]), ("restore", uuid), job)
        deadline = time.monotonic() + 30
        while self.expect(self.sovd.get(f"/v1/jobs/{job['id']}"), 200)["state"] != "running":
            self.assertLess(time.monotonic(), deadline, "the restore job never ran")
            time.sleep(0.05)
        r = self.sovd.post(f"/v1/vms/{uuid}/start")
        self.assert_problem(r, 409)
        self.assertIn(job["id"], r.json["detail"])
        started = self.host.virsh_result("start", name)
        self.assertNotEqual(started.returncode, 0, started)
        self.assertIn("writing the disks", started.stderr)
        self.assertEqual(self.host.virsh("domstate", name), "shut off")
        refused = [x for x in self.audit_records(uuid)
                   if x["kind"] == "operation" and x["operation"] == "start" and x["outcome"] == "refused"]
        self.assertEqual(len(refused), 1, refused)
        self.assertIn(job["id"], refused[0]["detail"])
        os.unlink(self.gate)
        job = self.wait_job(job["id"])
        self.assertEqual(job["state"], "succeeded", f"{job}\n" + self.diag())
        self.assertEqual(job["result"]["vm"], uuid)
        self.assertIsNone(job["result"]["name"])
        # Same VM, same disk path, the backed-up contents only.
        after = self.expect(self.sovd.get(f"/v1/vms/{uuid}"), 200)
        self.assertEqual(after["disks"][0]["path"], path)
        self.assert_image(self.to_raw(path), GIB, [(2 * MIB, MIB, 0x3c)])
        self.assertEqual(self.expect(self.sovd.post(f"/v1/vms/{uuid}/start"), 200)["state"], "running")
        # The checkpoint described the overwritten disk: gone, so the next backup must be full.
        self.assertEqual(self.host.virsh("checkpoint-list", name, "--name").split(), [])
        r = self.sovd.post(f"/v1/vms/{uuid}/backups", {"target": "fr-backups", "mode": "incremental"})
        self.assert_problem(r, 409)
        self.assertIn("take a full backup", r.json["detail"])
        self.backup_ok(uuid, "fr-backups")

    def test_sovctl_backup_commands(self):
        """The operator's path: sovctl backup create/list/show/verify/restore, job wait."""
        vm = self.create_vm("bk-cli")
        uuid, name = vm["uuid"], vm["name"]
        self.write_pattern(name, self.node_name(name, vm["disks"][0]["path"]), 0x77, 0, MIB)

        out = self.sovd.sovctl("--json", "backup", "create", name, "--target", "fr-backups", "--wait")
        self.assertEqual(out.returncode, 0, out)
        job = json.loads(out.stdout)
        self.assertEqual(job["state"], "succeeded", job)
        bid = job["result"]["backup"]
        out = self.sovd.sovctl("backup", "list", uuid)
        self.assertEqual(out.returncode, 0, out)
        self.assertIn(bid, out.stdout)
        out = self.sovd.sovctl("backup", "verify", bid)
        self.assertEqual(out.returncode, 0, out)
        # An incremental into the US target is refused before anything is written.
        out = self.sovd.sovctl("backup", "create", name, "--target", "us-backups")
        self.assertNotEqual(out.returncode, 0, out)
        self.assertIn("jurisdiction", out.stderr)

        out = self.sovd.sovctl("--json", "backup", "restore", bid, "--name", "bk-cli-copy", "--wait")
        self.assertEqual(out.returncode, 0, out)
        restored = json.loads(out.stdout)
        self.addCleanup(self.delete_quietly, restored["vm"])
        self.assertEqual(restored["state"], "succeeded", restored)
        copy = self.expect(self.sovd.get(f"/v1/vms/{restored['vm']}"), 200)
        self.assert_image(self.to_raw(copy["disks"][0]["path"]), GIB, [(0, MIB, 0x77)])

        # A flipped byte: verify says so, with exit 1.
        path = os.path.join(self.backup_dir("fr-backups", uuid, bid), "vda.qcow2")
        with open(path, "r+b") as f:
            f.seek(os.path.getsize(path) // 2)
            b = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([b[0] ^ 0xFF]))
        out = self.sovd.sovctl("backup", "verify", bid)
        self.assertEqual(out.returncode, 1, out)

    def big_vm(self, name):
        """A running VM whose disk holds 512 MiB of data: its backup takes a moment."""
        vm = self.create_vm(name)
        node = self.node_name(name, vm["disks"][0]["path"])
        self.write_pattern(name, node, 0xcc, 0, 512 * MIB)
        return vm

    def checkpoints(self, dom):
        return set(self.host.virsh("checkpoint-list", dom, "--name").split())

    def libvirt_job(self, dom):
        """The operation of the domain's current libvirt job, or None.
        libvirt 9.0 answers "internal error: backup job data missing" while
        a backup is being set up or torn down: that is "Backup?"."""
        r = self.host.virsh_result("domjobinfo", dom)
        if r.returncode != 0 and "backup job data missing" in r.stderr:
            return "Backup?"
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        m = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}
        return None if m.get("Job type") == "None" else m.get("Operation", "?")

    def test_sovd_killed_during_backup(self):
        """Twice: SIGKILL right after the 202, then once libvirt's backup job
        is seen running. Either way the job must end, truthfully."""
        vm = self.big_vm("bk-crash")
        uuid, name = vm["uuid"], vm["name"]
        vmdir = os.path.join(self.target_dirs["fr-backups"], uuid)
        for when in ("after-202", "libvirt-running"):
            with self.subTest(kill=when):
                before_backups = {b["id"] for b in self.expect(self.sovd.get(f"/v1/vms/{uuid}/backups"), 200)["backups"]}
                before_checkpoints = self.checkpoints(name)
                job = self.backup(uuid, "fr-backups")
                if when == "libvirt-running":
                    deadline = time.monotonic() + 10
                    while self.libvirt_job(name) != "Backup":
                        self.assertLess(time.monotonic(), deadline, "libvirt's backup job never seen running")
                        time.sleep(0.02)
                seen = self.expect(self.sovd.get(f"/v1/jobs/{job['id']}"), 200)["state"]
                self.sovd.stop(sig=signal.SIGKILL)
                self.sovd.start()

                job = self.wait_job(job["id"], timeout=60)
                print(f"\n  killed {when} ({seen}): {job['state']}"
                      f"{': ' + job['error']['detail'] if job['error'] else ''}", file=sys.stderr)
                self.assertIn(job["state"], ("succeeded", "failed"), job)
                self.assertIsNotNone(job["finished_at"], job)
                self.assertIsNone(self.libvirt_job(name), "libvirt's backup job outlived the recovery")
                after_backups = {b["id"] for b in self.expect(self.sovd.get(f"/v1/vms/{uuid}/backups"), 200)["backups"]}
                if job["state"] == "succeeded":
                    bid = job["result"]["backup"]
                    self.assertEqual(after_backups, before_backups | {bid})
                    v = self.verify(bid)
                    self.assertIs(v["ok"], True, v)
                    m = self.expect(self.sovd.get(f"/v1/backups/{bid}"), 200)
                    self.assertEqual(m["disks"][0]["sha256"], sha256_file(os.path.join(vmdir, bid, "vda.qcow2")))
                    self.assertEqual(self.checkpoints(name), before_checkpoints | {f"sovd-{bid}"})
                else:
                    self.assertEqual(job["error"]["type"], "urn:sovd:problem:job-failed", job)
                    self.assertIn("restart", job["error"]["detail"], job)
                    self.assertIsNone(job["result"], job)
                    # No manifest, no directory, no checkpoint claiming data never saved.
                    self.assertEqual(after_backups, before_backups)
                    self.assertEqual(sorted(os.listdir(vmdir)) if os.path.exists(vmdir) else [],
                                     sorted(before_backups))
                    self.assertEqual(self.checkpoints(name), before_checkpoints)
                # The job's end is on record, once, and the chain survived the kill.
                ends = [x for x in self.audit_records(uuid) if x["kind"] == "operation" and x.get("job") == job["id"]]
                self.assertEqual([x["outcome"] for x in ends], [job["state"]], ends)
                v = self.expect(self.sovd.get("/v1/audit/verify"), 200)
                self.assertTrue(v["valid"], v)
                r = self.sovd.sovctl("audit", "verify")
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                # Nothing is left holding the VM: the next backup runs.
                self.assertEqual(self.expect(self.sovd.get(f"/v1/vms/{uuid}"), 200)["state"], "running")
                again = self.backup_ok(uuid, "fr-backups")
                self.assertIs(self.verify(again["id"])["ok"], True)

    def test_cancel(self):
        vm = self.big_vm("bk-cancel")
        uuid = vm["uuid"]
        job = self.backup(uuid, "fr-backups")
        r = self.sovd.delete(f"/v1/jobs/{job['id']}")
        if r.status == 409:  # it ended before the request arrived
            self.assertNotIn(self.sovd.get(f"/v1/jobs/{job['id']}").json["state"], ACTIVE)
        else:
            self.expect(r, 202)
        job = self.wait_job(job["id"], timeout=60)
        print(f"\n  cancelled backup ended {job['state']}", file=sys.stderr)
        self.assertIn(job["state"], ("cancelled", "succeeded"), job)
        vmdir = os.path.join(self.target_dirs["fr-backups"], uuid)
        listing = self.expect(self.sovd.get(f"/v1/vms/{uuid}/backups"), 200)["backups"]
        if job["state"] == "cancelled":
            self.assertEqual(job["error"]["type"], "urn:sovd:problem:job-cancelled", job)
            self.assertIsNone(job["result"], job)
            self.assertEqual(listing, [])
            self.assertEqual(tree(vmdir) if os.path.exists(vmdir) else [], [])
            self.assertEqual(self.host.virsh("checkpoint-list", vm["name"], "--name"), "")
        else:
            self.assertEqual([b["id"] for b in listing], [job["result"]["backup"]])
            self.assertIs(self.verify(job["result"]["backup"])["ok"], True)
        self.assert_problem(self.sovd.delete(f"/v1/jobs/{job['id']}"), 409)
        self.assertEqual(self.host.virsh("domstate", vm["name"]), "running")
        self.assertEqual(self.expect(self.sovd.get(f"/v1/vms/{uuid}"), 200)["state"], "running")
        # Nothing is left holding the VM: the next backup runs.
        self.backup_ok(uuid, "fr-backups")


if __name__ == "__main__":
    unittest.main()
