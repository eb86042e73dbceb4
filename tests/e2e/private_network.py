# SPDX-License-Identifier: LGPL-2.1-or-later
"""A private network for end-to-end tests: one network namespace per host.

The recipe in DESIGN.md ("Two libvirt hosts on one machine"): each host gets
a network namespace of its own, so that libvirt sees a real remote address
for migration. Here every namespace is joined by a veth pair to one bridge
in the machine's namespace, which carries an address too: hosts reach each
other and the test (which runs outside) reaches every host.

Addresses come from 198.51.100.0/24 (TEST-NET-2, RFC 5737); 192.0.2.0/24 is
not used, as some machines (this project's CI among them) number their own
interface from it. Interface and namespace names carry a per-network tag so
two networks never collide, and a network left behind by a killed test is
removed by the next one with the same tag.

Nothing here touches the machine's other interfaces, routes or firewall.
Needs root, iproute2 (`ip`) and the veth and bridge drivers.
"""
import atexit
import subprocess

PREFIX = "198.51.100."
BRIDGE_OCTET = 254


def _ip(*args, check=True):
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


class PrivateNetwork:
    """A bridge `sovd<tag>br` at 198.51.100.254/24 and, per host, a network
    namespace `sovd-<tag>-<octet>` whose `eth0` has 198.51.100.<octet>/24."""

    def __init__(self, tag):
        if not tag.isalnum() or len(tag) > 6:
            raise ValueError(f"network tag must be 1-6 letters or digits: {tag}")
        self.tag = tag
        self.bridge = f"sovd{tag}br"
        self.namespaces = []
        self.started = False

    @staticmethod
    def unavailable():
        """Why no private network can be made here (None when it can)."""
        probe = PrivateNetwork("probe")
        try:
            probe.start()
            probe.add_host(1)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            return f"network namespaces with veth and a bridge are not available: {e}"
        finally:
            probe.stop()
        return None

    def address(self, octet):
        return PREFIX + str(octet)

    def netns(self, octet):
        return f"sovd-{self.tag}-{octet}"

    def _remove_leftovers(self):
        for line in _ip("netns", "list", check=False).stdout.splitlines():
            name = line.split()[0] if line.split() else ""
            if name.startswith(f"sovd-{self.tag}-"):
                _ip("netns", "del", name, check=False)
        _ip("link", "del", self.bridge, check=False)

    def start(self):
        self._remove_leftovers()
        atexit.register(self.stop)
        self.started = True
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.address(BRIDGE_OCTET)}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        return self

    def add_host(self, octet):
        """Makes the namespace of the host at 198.51.100.<octet>; returns its name."""
        ns = self.netns(octet)
        outside = f"sovd{self.tag}h{octet}"
        _ip("netns", "add", ns)
        self.namespaces.append(ns)
        _ip("link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _ip("link", "set", outside, "master", self.bridge)
        _ip("link", "set", outside, "up")
        _ip("-n", ns, "addr", "add", f"{self.address(octet)}/24", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        return ns

    def stop(self):
        """Removes the namespaces (their veth pairs go with them) and the bridge. Safe to call twice."""
        if not self.started:
            return
        for ns in self.namespaces:
            _ip("netns", "del", ns, check=False)
        self.namespaces = []
        _ip("link", "del", self.bridge, check=False)
        self.started = False
