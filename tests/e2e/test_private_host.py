# SPDX-License-Identifier: LGPL-2.1-or-later
"""Self-test of the e2e harness (libvirt_host.py), without sovd.

Proves what the sovd e2e tests rely on: a private host starts and stops
without leaving a process behind or touching the machine's own libvirt, a
TCG guest runs on it, and a guest survives a libvirtd crash and restart.
Exits 77 (skipped) where e2e cannot run.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.append(HERE)

from libvirt_host import PrivateLibvirtHost, skip_reason  # noqa: E402

_reason = skip_reason()
if _reason:
    print(f"SKIP: {_reason}")
    sys.exit(77)

HOST_ADDRESS = "127.0.0.31"

DOMAIN_XML = """<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='pty'/>
    <memballoon model='none'/>
  </devices>
</domain>
"""


def snapshot(paths):
    """Names, sizes and mtimes under @paths: what 'unchanged' is checked on."""
    out = set()
    for top in paths:
        if not os.path.lexists(top):
            out.add((top, "absent"))
            continue
        for root, dirs, files in os.walk(top):
            for n in [root] + [os.path.join(root, f) for f in files]:
                st = os.lstat(n)
                out.add((n, st.st_size, st.st_mtime_ns, st.st_mode))
    return out


SYSTEM_PATHS = ["/etc/libvirt", "/run/libvirt", "/var/lib/libvirt", "/var/log/libvirt",
                "/var/cache/libvirt", "/run/mount"]


class PrivateHostTest(unittest.TestCase):
    def test_guest_lifecycle_and_libvirtd_restart(self):
        before = snapshot(SYSTEM_PATHS)
        pool = tempfile.mkdtemp(prefix="sovd-e2e-pool-")
        self.addCleanup(shutil.rmtree, pool, ignore_errors=True)
        host = PrivateLibvirtHost("e2e-selftest", HOST_ADDRESS)
        self.addCleanup(host.stop)

        t0 = time.monotonic()
        host.start()
        start_s = time.monotonic() - t0
        self.assertEqual(host.virsh("hostname"), "e2e-selftest")
        self.assertIn(f"<uuid>{host.host_uuid}</uuid>", host.virsh("capabilities"))
        # Its TCP listener is on its own address.
        r = subprocess.run(["virsh", "-c", host.tcp_uri, "hostname"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.stdout.strip(), "e2e-selftest", r.stderr)

        host.define_dir_pool("default", pool)
        host.virsh("vol-create-as", "default", "g1.qcow2", "16M", "--format", "qcow2")
        disk = os.path.join(pool, "g1.qcow2")
        self.assertTrue(os.path.isfile(disk))
        xml_path = os.path.join(pool, "g1.xml")
        with open(xml_path, "w") as f:
            f.write(DOMAIN_XML.format(name="g1", disk=disk))
        host.virsh("define", xml_path)
        t0 = time.monotonic()
        host.virsh("start", "g1")
        guest_s = time.monotonic() - t0
        self.assertEqual(host.virsh("domstate", "g1"), "running")
        with open(os.path.join(host.run_dir, "qemu", "g1.pid")) as f:
            qemu_pid = int(f.read())
        self.assertIn(qemu_pid, host.processes())

        # A libvirtd crash leaves QEMU running; the new libvirtd reattaches.
        old = host.libvirtd_pid
        host.kill_libvirtd()
        self.assertNotEqual(host.virsh_result("list").returncode, 0)
        self.assertIn(qemu_pid, host.processes())
        host.start_libvirtd()
        self.assertNotEqual(host.libvirtd_pid, old)
        self.assertEqual(host.virsh("domstate", "g1"), "running")
        host.virsh("suspend", "g1")
        self.assertEqual(host.virsh("domstate", "g1"), "paused")
        host.virsh("resume", "g1")
        host.virsh("destroy", "g1")
        host.virsh("undefine", "g1")
        self.assertEqual(host.virsh("list", "--all", "--name"), "")

        # stop() leaves nothing: no process of the namespace, no directory.
        procs = host.processes()
        base = host.base
        host.stop()
        for pid in procs:
            self.assertFalse(os.path.exists(f"/proc/{pid}/ns/mnt"), f"pid {pid} survived stop()")
        self.assertFalse(os.path.exists(base))
        self.assertEqual(snapshot(SYSTEM_PATHS), before, "the machine's libvirt files changed")
        print(f"\n  host start {start_s:.2f}s, guest start {guest_s:.2f}s, "
              f"libvirtd restart {host.libvirtd_start_seconds:.2f}s", file=sys.stderr)

    def test_harness_death_leaves_nothing(self):
        """A test process killed outright (SIGKILL: no atexit, no cleanup)
        still leaves no daemon nor directory behind: the holder does it."""
        code = f"""
import os, signal, sys
sys.path.insert(0, {HERE!r})
from libvirt_host import PrivateLibvirtHost
h = PrivateLibvirtHost("e2e-orphan", "127.0.0.32").start()
print(h.base, " ".join(map(str, h.processes())), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, -9, r.stderr)
        base, *pids = r.stdout.split()
        self.assertTrue(pids, r.stdout)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (
                os.path.exists(base) or any(os.path.exists(f"/proc/{p}/ns/mnt") for p in pids)):
            time.sleep(0.1)
        self.assertFalse(os.path.exists(base), f"{base} left behind")
        for p in pids:
            self.assertFalse(os.path.exists(f"/proc/{p}/ns/mnt"), f"pid {p} left running")


if __name__ == "__main__":
    unittest.main()
