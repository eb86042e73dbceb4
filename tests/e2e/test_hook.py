# SPDX-License-Identifier: LGPL-2.1-or-later
"""End to end: the libvirt hook (door 5), on paths that bypass sovd's API.

A private libvirtd runs with sovd-hook installed as its QEMU hook (through a
wrapper pointing it at this test's sovd), a French host tag set, and two
directory pools: fr-pool (tagged FR) and us-pool (tagged US). Domains are
defined with virsh, as an operator working behind sovd's back would (sovd's
API would refuse to create the non-compliant one), and started with virsh:
  - bound to fr-sovereign, disk in us-pool: refused, libvirt shows sovd's reason;
  - bound, disk in fr-pool: starts;
  - unbound, disk in us-pool: starts (not sovd's business);
  - sovd stopped: the bound VM is refused (fail closed), the unbound one starts;
  - an incoming migration of a bound VM with its disk in us-pool is refused
    on the destination, and one with its disk in fr-pool is accepted.
Exits 77 (skipped) where e2e cannot run: see libvirt_host.skip_reason().

Run from the source tree:
  SOVD_BIN=build/sovd SOVD_HOOK_BIN=build/sovd-hook \\
  PYTHONPATH=tests/integration:tests/e2e python3 tests/e2e/test_hook.py
"""
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

# Its own loopback addresses, so that other e2e test files can run alongside:
# the hooked host, and the source host of the migration tests.
HOST_ADDRESS = "127.0.0.23"
SOURCE_ADDRESS = "127.0.0.24"

HOOK_BIN = os.environ.get("SOVD_HOOK_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(sovdtest.SOVD_BIN)), "sovd-hook")
BINDING = ("<sovd:binding xmlns:sovd='urn:sovd:binding:1'>"
           "<sovd:tenant>acme</sovd:tenant><sovd:policy>fr-sovereign</sovd:policy>"
           "</sovd:binding>")
DOMAIN_XML = """<domain type='{type}'>
  <name>{name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  {metadata}
  <os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{path}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='pty'/>
  </devices>
</domain>
"""
POOL_TAGS = {
    "fr-pool": {"jurisdiction": "FR", "operator_jurisdiction": "FR", "site": "par-1",
                "operator": "Demo Cloud SAS"},
    "us-pool": {"jurisdiction": "US", "operator_jurisdiction": "US", "site": "iad-1",
                "operator": "Example Inc"},
}


class HookTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(HOOK_BIN, os.X_OK):
            raise RuntimeError(f"sovd-hook not found at {HOOK_BIN} (set SOVD_HOOK_BIN)")
        cls.tmp = tempfile.mkdtemp(prefix="sovd-e2e-hook-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.pool_dirs = {}
        for pool in POOL_TAGS:
            cls.pool_dirs[pool] = os.path.join(cls.tmp, pool)
            os.mkdir(cls.pool_dirs[pool])

        # The wrapper libvirt runs, as contrib/libvirt-hook-qemu does, with
        # this test's sovd socket. sovd's directory is made first: the hook
        # must be installed before libvirtd starts, and sovd after it.
        sovd_dir = tempfile.mkdtemp(prefix="sovd-e2e-hook-sovd-")
        cls.host = PrivateLibvirtHost("e2e-hook", HOST_ADDRESS)
        cls.host.install_sovd_hook(os.path.abspath(HOOK_BIN), os.path.join(sovd_dir, "sovd.sock"))
        cls.host.start()
        cls.addClassCleanup(cls.host.stop)
        for pool, path in cls.pool_dirs.items():
            cls.host.define_dir_pool(pool, path)
        # KVM where the host offers it, else TCG.
        cls.domain_type = "kvm" if "<domain type='kvm'" in cls.host.virsh("capabilities") else "qemu"

        config = sovdtest.demo_config(
            storage_pools={p: {"tags": t} for p, t in POOL_TAGS.items()},
            policy_dir=os.path.join(sovdtest.SOURCE_DIR, "policies"))
        cls.sovd = sovdtest.Sovd(libvirt_uri=cls.host.uri, config=config, workdir=sovd_dir)
        cls.addClassCleanup(cls.sovd.cleanup)
        cls.sovd.start()

    # -- helpers -----------------------------------------------------------
    def diag(self, result=None):
        parts = [] if result is None else [f"rc={result.returncode} stderr={result.stderr!r}"]
        parts.append("--- sovd log:\n" + self.sovd.read_log()[-4000:])
        parts.append(self.host.logs())
        return "\n".join(parts)

    def define_vm(self, name, pool, bound, host=None):
        """Defines @name with a fresh 64 MiB qcow2 disk in @pool, with or
        without sovd's binding, through virsh only."""
        host = host or self.host
        vol = f"{name}.qcow2"
        host.virsh("vol-create-as", pool, vol, "64M", "--format", "qcow2")
        path = host.virsh("vol-path", "--pool", pool, vol)
        xml_path = os.path.join(self.tmp, name + ".xml")
        with open(xml_path, "w") as f:
            f.write(DOMAIN_XML.format(type=self.domain_type, name=name, path=path,
                                      metadata=f"<metadata>{BINDING}</metadata>" if bound else ""))
        host.virsh("define", xml_path)
        self.addCleanup(self.remove_vm, host, name, pool, vol)
        return name

    @staticmethod
    def remove_vm(host, name, pool, vol):
        host.virsh_result("destroy", name)
        host.virsh_result("undefine", name)
        host.virsh_result("vol-delete", "--pool", pool, vol)

    def assert_starts(self, name):
        r = self.host.virsh_result("start", name)
        self.assertEqual(r.returncode, 0, self.diag(r))
        self.assertEqual(self.host.virsh("domstate", name), "running")
        self.host.virsh("destroy", name)

    def assert_refused(self, name, *needles):
        """virsh start fails, the domain stays off, and libvirt's error
        carries every one of @needles (the hook's stderr)."""
        r = self.host.virsh_result("start", name)
        self.assertNotEqual(r.returncode, 0, f"{name} started\n" + self.diag(r))
        self.assertIn("Hook script execution failed", r.stderr, self.diag(r))
        for n in needles:
            self.assertIn(n, r.stderr, self.diag(r))
        self.assertEqual(self.host.virsh("domstate", name), "shut off")
        return r.stderr

    # -- tests -------------------------------------------------------------
    def test_bound_vm_with_disk_in_us_pool_is_refused(self):
        name = self.define_vm("hook-bound-us", "us-pool", bound=True)
        err = self.assert_refused(name, "sovd: policy fr-sovereign denies start of hook-bound-us",
                                  "us-pool", "jurisdiction", "US")
        # The rule's refs are quoted, so the operator sees why it exists.
        self.assertIn("Customer requirement: data stored in France", err)
        print(f"\n  libvirt says: {err.strip().splitlines()[-1][-300:]}", file=sys.stderr)

    def test_bound_vm_with_disk_in_fr_pool_starts(self):
        t0 = time.monotonic()
        self.assert_starts(self.define_vm("hook-bound-fr", "fr-pool", bound=True))
        print(f"\n  define + start + destroy {time.monotonic() - t0:.2f}s", file=sys.stderr)

    def test_unbound_vm_with_disk_in_us_pool_starts(self):
        self.assert_starts(self.define_vm("hook-unbound-us", "us-pool", bound=False))

    def test_sovd_down_fails_closed_for_bound_vms_only(self):
        bound = self.define_vm("hook-down-bound", "fr-pool", bound=True)
        unbound = self.define_vm("hook-down-unbound", "us-pool", bound=False)
        self.sovd.stop()
        # The other tests need sovd back, whatever happens here.
        self.addCleanup(lambda: self.sovd.proc.poll() is None or self.sovd.start())
        self.assert_refused(bound, "sovd: cannot check policy for bound VM hook-down-bound",
                            "refusing (fail closed)")
        self.assert_starts(unbound)

    def test_incoming_migration(self):
        """The destination's hook judges a bound VM migrating in; refused,
        the VM keeps running on the source."""
        source = PrivateLibvirtHost("e2e-hook-src", SOURCE_ADDRESS)
        source.start()
        self.addCleanup(source.stop)
        for pool, path in self.pool_dirs.items():
            source.define_dir_pool(pool, path)

        def migrate(name):
            return source.virsh_result("migrate", "--live", "--p2p", "--persistent", "--undefinesource",
                                       "--unsafe", name, self.host.tcp_uri, f"tcp://{HOST_ADDRESS}",
                                       timeout=120)

        us = self.define_vm("hook-mig-us", "us-pool", bound=True, host=source)
        fr = self.define_vm("hook-mig-fr", "fr-pool", bound=True, host=source)
        self.addCleanup(self.remove_vm, self.host, fr, "fr-pool", "-")
        # The disks were created through the source; the destination's pools
        # (same directories) learn of them only when refreshed, and sovd
        # judges a disk outside any known volume as an untagged place.
        for pool in self.pool_dirs:
            self.host.virsh("pool-refresh", pool)
        source.virsh("start", us)
        r = migrate(us)
        self.assertNotEqual(r.returncode, 0, "migration into a non-compliant place succeeded\n" + self.diag(r))
        self.assertIn("sovd: policy fr-sovereign denies incoming migration of hook-mig-us", r.stderr,
                      self.diag(r))
        self.assertIn("us-pool", r.stderr, self.diag(r))
        self.assertEqual(source.virsh("domstate", us), "running")
        self.assertNotIn(us, self.host.virsh("list", "--all", "--name").split())

        source.virsh("start", fr)
        r = migrate(fr)
        self.assertEqual(r.returncode, 0, self.diag(r))
        self.assertEqual(self.host.virsh("domstate", fr), "running")


if __name__ == "__main__":
    unittest.main()
