# SPDX-License-Identifier: LGPL-2.1-or-later
"""Guest disk contents for end-to-end tests: write known bytes into a
running guest's disk from inside QEMU, and check a disk image byte for byte.

GuestDiskMixin goes before unittest.TestCase in a test class that has
`host` (a PrivateLibvirtHost) and `tmp` (a scratch directory).
"""
import os
import subprocess
import xml.etree.ElementTree as ET

MIB = 1024 ** 2
GIB = 1024 ** 3


class GuestDiskMixin:
    def monitor(self, dom, command):
        return self.host.virsh("qemu-monitor-command", dom, "--hmp", command, timeout=120)

    def node_name(self, dom, path):
        """The qdev path of the virtio-blk device backed by @path, for
        `qemu-io -d`. The format node itself cannot be written to: the
        guest's device holds it without sharing write permission."""
        xml = ET.fromstring(self.host.virsh("dumpxml", dom))
        for disk in xml.findall("devices/disk"):
            source = disk.find("source")
            if source is not None and source.get("file") == path:
                self.assertEqual(disk.find("target").get("bus"), "virtio")
                return f"/machine/peripheral/{disk.find('alias').get('name')}/virtio-backend"
        self.fail(f"domain {dom} has no disk {path}")

    def write_pattern(self, dom, device, byte, offset, length):
        """Writes @length bytes of @byte at @offset of the guest's disk, from
        inside QEMU, under the running guest."""
        out = self.monitor(dom, f'qemu-io -d {device} "write -P {byte:#04x} {offset} {length}"')
        # qemu-io's report goes to QEMU's stdout; errors come back here, with
        # virsh exiting 0. The restores below check the bytes themselves.
        self.assertEqual(out, "", f"qemu-io write on {dom}: {out}")

    def to_raw(self, path):
        raw = os.path.join(self.tmp, os.path.basename(path) + ".raw")
        subprocess.run(["qemu-img", "convert", "-U", "-O", "raw", path, raw], check=True,
                       capture_output=True, timeout=120)
        self.addCleanup(lambda: os.path.exists(raw) and os.unlink(raw))
        return raw

    def assert_image(self, raw, size, writes):
        """The raw image @raw holds exactly @writes ((offset, length, byte)...)
        and zeros everywhere else, checked byte for byte. Each written range is
        read; elsewhere only the data extents (SEEK_DATA) can hold non-zeros."""
        def expected(start, length):
            buf = bytearray(length)
            for off, n, byte in writes:
                lo, hi = max(off, start), min(off + n, start + length)
                if lo < hi:
                    buf[lo - start:hi - start] = bytes([byte]) * (hi - lo)
            return bytes(buf)

        self.assertEqual(os.path.getsize(raw), size)
        with open(raw, "rb") as f:
            for off, n, byte in writes:
                f.seek(off)
                got = f.read(n)
                self.assertTrue(got == bytes([byte]) * n,
                                f"{raw}: bytes {off}..{off + n} are not all {byte:#04x}")
            fd, pos = f.fileno(), 0
            while pos < size:
                try:
                    start = os.lseek(fd, pos, os.SEEK_DATA)
                except OSError:
                    break  # ENXIO: only a hole is left
                end = os.lseek(fd, start, os.SEEK_HOLE)
                for chunk in range(start, end, 4 * MIB):
                    n = min(4 * MIB, end - chunk)
                    f.seek(chunk)
                    got = f.read(n)
                    if got != expected(chunk, n):
                        bad = next(i for i, (a, b) in enumerate(zip(got, expected(chunk, n))) if a != b)
                        self.fail(f"{raw}: byte {chunk + bad} is {got[bad]:#04x}, expected "
                                  f"{expected(chunk + bad, 1)[0]:#04x}")
                pos = end
