# SPDX-License-Identifier: LGPL-2.1-or-later
"""End to end: the real sovd against a private libvirtd running real QEMU
(KVM where /dev/kvm is usable, else TCG).

Covers the VM lifecycle through the HTTP API (create with a qcow2 disk, start,
suspend, resume, shutdown, stop, delete with storage) checked against what
libvirt and the disk show, and sovd's recovery when libvirtd dies and comes
back. Exits 77 (skipped) where e2e cannot run: see libvirt_host.skip_reason().

Run from tests/e2e:
  SOVD_BIN=.../sovd PYTHONPATH=../integration:. python3 -m unittest -v test_vm_lifecycle
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
# ctest puts tests/integration on PYTHONPATH; this is for running by hand.
for _p in (HERE, os.path.join(HERE, "..", "integration")):
    if _p not in sys.path:
        sys.path.append(_p)

from libvirt_host import PrivateLibvirtHost, skip_reason  # noqa: E402

_reason = skip_reason()
if _reason:
    print(f"SKIP: {_reason}")
    sys.exit(77)

import sovdtest  # noqa: E402

BINDING_NS = "urn:sovd:binding:1"
# Its own loopback address, so that other e2e test files can run alongside.
HOST_ADDRESS = "127.0.0.21"
GIB = 1024 ** 3


def poll_status(sovd, path, status, timeout, interval=0.2):
    """GETs @path until it answers @status; returns that response, or None
    after @timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        r = sovd.get(path)
        if r.status == status:
            return r
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


class VmLifecycleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pool_dir = tempfile.mkdtemp(prefix="sovd-e2e-pool-")
        cls.addClassCleanup(shutil.rmtree, cls.pool_dir, ignore_errors=True)

        cls.host = PrivateLibvirtHost("e2e-lifecycle", HOST_ADDRESS)
        t0 = time.monotonic()
        cls.host.start()
        cls.addClassCleanup(cls.host.stop)
        cls.host.define_dir_pool("default", cls.pool_dir)
        cls.host_start_seconds = time.monotonic() - t0

        cls.sovd = sovdtest.Sovd(libvirt_uri=cls.host.uri, config=sovdtest.demo_config())
        cls.addClassCleanup(cls.sovd.cleanup)
        cls.sovd.start()

    # -- helpers -----------------------------------------------------------
    def diag(self, resp=None):
        """Context for a failure message: the response and the daemons' logs."""
        parts = [] if resp is None else [repr(resp)]
        parts.append("--- sovd log:\n" + self.sovd.read_log()[-4000:])
        parts.append(self.host.logs())
        return "\n".join(parts)

    def expect(self, resp, status):
        self.assertEqual(resp.status, status, self.diag(resp))
        return resp.json

    def create_vm(self, name, disks):
        body = {"name": name, "tenant": "acme", "policy": "fr-sovereign",
                "vcpus": 1, "memory_mib": 64, "disks": disks}
        r = self.sovd.post("/v1/vms", body)
        vm = self.expect(r, 201)
        self.assertEqual(r.headers.get("Location"), f"/v1/vms/{vm['uuid']}")
        return vm

    def action(self, vm, verb, status=200):
        return self.expect(self.sovd.post(f"/v1/vms/{vm['uuid']}/{verb}"), status)

    def domstate(self, name):
        return self.host.virsh("domstate", name)

    def assert_problem(self, resp, status, type_suffix):
        self.assertEqual(resp.status, status, self.diag(resp))
        ctype = resp.headers.get("Content-Type", "")
        self.assertTrue(ctype.startswith("application/problem+json"), f"Content-Type {ctype!r}")
        self.assertIsNotNone(resp.json, resp)
        self.assertEqual(resp.json.get("status"), status, resp)
        self.assertTrue(resp.json.get("type", "").endswith(type_suffix), resp)

    def delete_quietly(self, vm):
        """Cleanup for a test's VM whatever state the test left it in."""
        self.sovd.post(f"/v1/vms/{vm['uuid']}/stop")
        self.sovd.delete(f"/v1/vms/{vm['uuid']}?delete_storage=true")

    # -- tests -------------------------------------------------------------
    def test_lifecycle(self):
        name = "e2e-vm1"
        vm = self.create_vm(name, [{"pool": "default", "size_gib": 1}])
        self.addCleanup(self.delete_quietly, vm)
        self.assertEqual(vm["state"], "shutoff")
        self.assertTrue(vm["managed"])
        self.assertEqual((vm["tenant"], vm["policy"]), ("acme", "fr-sovereign"))

        # The volume: a qcow2 file of 1 GiB virtual size in the pool's directory.
        self.assertEqual(len(vm["disks"]), 1, vm)
        disk = vm["disks"][0]
        self.assertEqual(disk["volume"], f"{name}-disk0.qcow2")
        path = disk["path"]
        self.assertEqual(os.path.dirname(path), self.pool_dir)
        self.assertTrue(os.path.isfile(path), path)
        info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", path],
                                         check=True, capture_output=True, text=True).stdout)
        self.assertEqual(info["format"], "qcow2")
        self.assertEqual(info["virtual-size"], 1 * GIB)

        # The binding, as libvirt stores it in the domain's <metadata>.
        dom = ET.fromstring(self.host.virsh("dumpxml", name))
        binding = dom.find(f"metadata/{{{BINDING_NS}}}binding")
        self.assertIsNotNone(binding, "no sovd binding in <metadata>")
        self.assertEqual(binding.findtext(f"{{{BINDING_NS}}}tenant"), "acme")
        self.assertEqual(binding.findtext(f"{{{BINDING_NS}}}policy"), "fr-sovereign")
        # KVM where the host offers it (some of these machines have a usable
        # /dev/kvm, some not), else TCG: sovd asks the capabilities.
        kvm = "<domain type='kvm'" in self.host.virsh("capabilities")
        self.assertEqual(dom.get("type"), "kvm" if kvm else "qemu")
        self.assertEqual(dom.findtext("uuid"), vm["uuid"])

        t0 = time.monotonic()
        self.assertEqual(self.action(vm, "start")["state"], "running")
        self.guest_start_seconds = time.monotonic() - t0
        self.assertEqual(self.domstate(name), "running")
        self.assert_problem(self.sovd.post(f"/v1/vms/{vm['uuid']}/start"), 409, "conflict")
        self.assert_problem(self.sovd.delete(f"/v1/vms/{vm['uuid']}"), 409, "conflict")

        self.assertEqual(self.action(vm, "suspend")["state"], "paused")
        self.assertEqual(self.domstate(name), "paused")
        self.assertEqual(self.action(vm, "resume")["state"], "running")
        self.assertEqual(self.domstate(name), "running")

        # A guest without an OS never acts on the ACPI request: only the
        # answer is checked, then the VM is stopped hard.
        self.action(vm, "shutdown", 202)
        self.assertEqual(self.action(vm, "stop")["state"], "shutoff")
        self.assertEqual(self.domstate(name), "shut off")
        got = self.expect(self.sovd.get(f"/v1/vms/{vm['uuid']}"), 200)
        self.assertEqual(got["state"], "shutoff")

        r = self.sovd.delete(f"/v1/vms/{vm['uuid']}?delete_storage=true")
        self.assertEqual(r.status, 204, self.diag(r))
        self.assertFalse(os.path.exists(path), f"{path} still exists")
        self.assertNotIn(name, self.host.virsh("list", "--all", "--name").split())
        self.assertNotIn(disk["volume"], self.host.virsh("vol-list", "default"))
        self.assert_problem(self.sovd.get(f"/v1/vms/{vm['uuid']}"), 404, "not-found")
        print(f"\n  host start {self.host_start_seconds:.2f}s, "
              f"guest start {self.guest_start_seconds:.2f}s", file=sys.stderr)

    def test_libvirtd_recovery(self):
        name = "e2e-recover"
        vm = self.create_vm(name, [])
        self.addCleanup(self.delete_quietly, vm)
        self.assertEqual(self.action(vm, "start")["state"], "running")
        sovd_pid = self.sovd.proc.pid
        # libvirtd must be back for the other tests and the cleanups, whatever happens here.
        self.addCleanup(lambda: self.host.libvirtd_pid or self.host.start_libvirtd())

        self.host.kill_libvirtd()
        # sovd sees the socket close; give it a few seconds to notice.
        r = poll_status(self.sovd, "/v1/vms", 503, 10)
        self.assertIsNotNone(r, "GET /v1/vms never answered 503 with libvirtd dead\n" + self.diag())
        self.assert_problem(r, 503, "libvirt-unavailable")
        self.assert_problem(self.sovd.get("/readyz"), 503, "libvirt-unavailable")
        host = self.expect(self.sovd.get("/v1/host"), 200)
        self.assertIs(host["libvirt"]["connected"], False, host)
        self.assertTrue(host["libvirt"]["error"], host)
        self.assertIsNone(host["host_uuid"], host)

        t0 = time.monotonic()
        self.host.start_libvirtd()
        r = poll_status(self.sovd, "/v1/vms", 200, 30)
        self.assertIsNotNone(r, "sovd did not reconnect within 30 s\n" + self.diag())
        reconnect_seconds = time.monotonic() - t0
        vms = {v["uuid"]: v for v in r.json["vms"]}
        self.assertIn(vm["uuid"], vms, r)
        # libvirtd reattached to the QEMU that kept running without it.
        self.assertEqual(vms[vm["uuid"]]["state"], "running", r)
        self.assertEqual(self.sovd.proc.pid, sovd_pid)
        self.assertIsNone(self.sovd.proc.poll(), "sovd exited")
        self.assertEqual(self.expect(self.sovd.get("/readyz"), 200), {"status": "ready"})
        host = self.expect(self.sovd.get("/v1/host"), 200)
        self.assertIs(host["libvirt"]["connected"], True, host)
        self.assertEqual(host["host_uuid"], self.host.host_uuid)
        print(f"\n  sovd back {reconnect_seconds:.2f}s after libvirtd restart", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
