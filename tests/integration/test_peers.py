# SPDX-License-Identifier: LGPL-2.1-or-later
"""Peers: an agent learns another agent's tags from that agent itself, over
mutual TLS, and only when the peer's certificate is trusted and names the
expected subject."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pki  # noqa: E402
import sovdtest  # noqa: E402

if not pki.available():
    print("SKIP: certtool (gnutls-bin) is not installed")
    sys.exit(77)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PeersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sovd-peers-")
        ca = pki.Pki(os.path.join(cls.tmp, "pki"))
        other = pki.Pki(os.path.join(cls.tmp, "other"), name="Other CA")
        a_cert, a_key = ca.issue("agent-a", "agent-a", dns=["agent-a.example", "localhost"], ips=["127.0.0.1"],
                                 server=True)
        b_cert, b_key = ca.issue("agent-b", "agent-b", dns=["agent-b.example", "localhost"], ips=["127.0.0.1"],
                                 server=True)
        m_cert, m_key = other.issue("mallory", "agent-b", dns=["agent-b.example", "localhost"], ips=["127.0.0.1"],
                                    server=True)
        cls.port_b, cls.port_m = free_port(), free_port()
        b_tags = {"jurisdiction": "FR", "region": "FR-HDF", "site": "rbx-1", "operator": "Demo Cloud SAS",
                  "operator_jurisdiction": "FR"}
        cls.b = sovdtest.Sovd(config=sovdtest.demo_config(
            host_tags=b_tags, tls={"cert": b_cert, "key": b_key, "ca": ca.ca, "roles": {"agent-a": "reader"}}),
            extra_args=["--listen", f"tcp:127.0.0.1:{cls.port_b}"]).start()
        # An impostor with the right name but a certificate from another CA.
        cls.m = sovdtest.Sovd(config=sovdtest.demo_config(
            host_tags={"jurisdiction": "US"}, tls={"cert": m_cert, "key": m_key, "ca": other.ca,
                                                   "roles": {"agent-a": "reader"}}),
            extra_args=["--listen", f"tcp:127.0.0.1:{cls.port_m}"]).start()
        peers = {
            "rbx": {"url": f"https://127.0.0.1:{cls.port_b}", "subject": "agent-b.example"},
            "by-address": {"url": f"https://127.0.0.1:{cls.port_b}"},
            "wrong-name": {"url": f"https://127.0.0.1:{cls.port_b}", "subject": "agent-c.example"},
            "impostor": {"url": f"https://127.0.0.1:{cls.port_m}", "subject": "agent-b.example"},
            "down": {"url": f"https://127.0.0.1:{free_port()}"},
        }
        cls.a = sovdtest.Sovd(config=sovdtest.demo_config(
            tls={"cert": a_cert, "key": a_key, "ca": ca.ca}, peers=peers)).start()

    @classmethod
    def tearDownClass(cls):
        for s in (cls.a, cls.b, cls.m):
            s.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_peers_report(self):
        r = self.a.get("/v1/peers")
        self.assertEqual(r.status, 200, r)
        peers = {p["name"]: p for p in r.json["peers"]}
        rbx = peers["rbx"]
        self.assertTrue(rbx["reachable"], rbx)
        self.assertIsNone(rbx["error"])
        self.assertEqual(rbx["host"]["tags"]["site"], "rbx-1")
        self.assertRegex(rbx["reported_at"], r"^\d{4}-\d\d-\d\dT")
        self.assertTrue(peers["by-address"]["reachable"], peers["by-address"])
        wrong = peers["wrong-name"]
        self.assertFalse(wrong["reachable"])
        self.assertIn("agent-c.example", wrong["error"])
        self.assertIsNone(wrong["host"])
        imp = peers["impostor"]
        self.assertFalse(imp["reachable"])
        self.assertIsNone(imp["host"], "an untrusted peer's claims are never shown")
        down = peers["down"]
        self.assertFalse(down["reachable"])
        self.assertTrue(down["error"])

    def test_last_good_report_kept(self):
        self.a.get("/v1/peers")
        self.b.stop()
        try:
            rbx = next(p for p in self.a.get("/v1/peers").json["peers"] if p["name"] == "rbx")
            self.assertFalse(rbx["reachable"])
            self.assertEqual(rbx["host"]["tags"]["jurisdiction"], "FR", "the last report stays, with its time")
        finally:
            self.b.start()

    def test_config_errors(self):
        for conf, part in [({"peers": {"x": {"url": "https://h:1"}}}, "tls"),
                           ({"peers": {"x": {"url": "http://h:1"}}}, "https://HOST:PORT"),
                           ({"peers": {"x": {"url": "https://h:1/path"}}}, "https://HOST:PORT"),
                           ({"peers": {"x": {"url": "https://user@h:1"}}}, "https://HOST:PORT")]:
            s = sovdtest.Sovd(config=conf)
            try:
                out = subprocess.run([sovdtest.SOVD_BIN, "--config", s.config_path, "--check-config"],
                                     capture_output=True, text=True, timeout=30)
                self.assertEqual(out.returncode, 1, (conf, out.stderr))
                self.assertIn(part, out.stderr)
            finally:
                s.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
