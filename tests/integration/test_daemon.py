# SPDX-License-Identifier: LGPL-2.1-or-later
"""The sovd process as systemd and an operator see it: flags, config errors,
sd_notify, reload, socket activation, libvirt outages, clean shutdown."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sovdtest  # noqa: E402

SOVD = sovdtest.SOVD_BIN


def run(*args, **kw):
    return subprocess.run([SOVD, *args], capture_output=True, text=True, timeout=30, **kw)


class CommandLineTest(unittest.TestCase):
    def test_version_and_help(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^sovd \d+\.\d+\.\d+\n$")
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        for flag in ("--config", "--libvirt-uri", "--listen", "--state-dir"):
            self.assertIn(flag, r.stdout)

    def test_bad_flags(self):
        self.assertEqual(run("--frobnicate").returncode, 2)
        r = run("--listen", "tcp:0.0.0.0:8443", "--check-config")
        self.assertEqual(r.returncode, 1)
        self.assertIn("mutual TLS", r.stderr)
        self.assertEqual(run("--listen", "tcp:nohost").returncode, 2)
        r = run("--listen", "unix:relative.sock")
        self.assertEqual(r.returncode, 2)
        self.assertIn("absolute", r.stderr)
        self.assertEqual(run("--state-dir", "relative").returncode, 2)
        self.assertEqual(run("stray-argument").returncode, 2)

    def test_dump_routes(self):
        r = run("--dump-routes")
        self.assertEqual(r.returncode, 0)
        self.assertIn("GET /v1/host\n", r.stdout)
        self.assertIn("POST /v1/vms/{uuid}/start\n", r.stdout)


class ConfigErrorTest(unittest.TestCase):
    def check(self, content, *parts):
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write(content if isinstance(content, str) else json.dumps(content))
        try:
            r = run("--config", f.name, "--check-config")
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn(f.name, r.stderr)
            for p in parts:
                self.assertIn(p, r.stderr)
        finally:
            os.unlink(f.name)

    def test_errors_name_file_and_key(self):
        self.check("{", "invalid JSON")
        self.check("[]", "object")
        self.check({"libvirt_url": "qemu:///system"}, "libvirt_url", "unknown")
        self.check({"listen": "unix:/run/x.sock"}, "listen", "array")
        self.check({"listen": []}, "listen")
        self.check({"listen": ["tcp:[::]:8443"]}, "listen", "tls", "mutual TLS")
        self.check({"listen": ["unix:/run/x.sock"], "tls": {"cert": "/nonexistent.crt", "key": "/k", "ca": "/c"}},
                   "tls.cert", "/nonexistent.crt")
        self.check({"state_dir": "var/lib"}, "state_dir", "absolute")
        self.check({"log_level": "chatty"}, "log_level")
        self.check({"max_body_bytes": 10}, "max_body_bytes")
        self.check({"unix_roles": {"users": "root"}}, "unix_roles.users")
        self.check({"unix_roles": {"no-such-group-xyz": "reader"}}, "no-such-group-xyz", "no such group")
        self.check({"host_tags": {"jurisdiction": "fra"}}, "host_tags.jurisdiction", "ISO 3166-1")
        self.check({"host_tags": {"region": "Paris"}}, "host_tags.region", "ISO 3166-2")
        self.check({"host_tags": {"certifications": "hds"}}, "certifications", "list")
        self.check({"host_tags": {"site": 7}}, "host_tags.site")
        self.check({"host_tags": {"Bad Key": "x"}}, "host_tags.Bad Key")

    def test_missing_file(self):
        r = run("--config", "/nonexistent/sovd.conf")
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/sovd.conf", r.stderr)

    def test_valid(self):
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            src = os.path.join(sovdtest.SOURCE_DIR, "contrib", "sovd.conf.example")
            with open(src) as example:
                conf = json.load(example)
            conf.pop("unix_roles")  # those groups do not exist on a test machine
            json.dump(conf, f)
        try:
            r = run("--config", f.name, "--check-config")
            self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            os.unlink(f.name)


class NotifyTest(unittest.TestCase):
    def test_ready_status_reload_stop(self):
        s = sovdtest.Sovd(config=sovdtest.demo_config()).start()
        try:
            status = s.wait_notify("STATUS=", 5)
            self.assertIn("libvirt connected to test:///default", status)
            self.assertIn(s.socket_path, status)

            # Reload with new tags: RELOADING=1, then READY=1, and the API shows them.
            s.write_config(sovdtest.demo_config(host_tags={"jurisdiction": "DE", "site": "fra-1"}))
            s.drain_notify()
            s.proc.send_signal(signal.SIGHUP)
            self.assertIsNotNone(s.wait_notify("RELOADING=1", 5))
            self.assertIsNotNone(s.wait_notify("READY=1", 5))
            self.assertEqual(s.get("/v1/host").json["tags"], {"jurisdiction": "DE", "site": "fra-1"})

            # A broken file is refused whole; the previous configuration stays.
            s.write_config('{"host_tags": {"jurisdiction": "XYZ"}}')
            s.drain_notify()
            s.proc.send_signal(signal.SIGHUP)
            msg = s.wait_notify("previous configuration kept", 5)
            self.assertIsNotNone(msg, s.notify_messages)
            self.assertIn("host_tags.jurisdiction", msg)
            self.assertEqual(s.get("/v1/host").json["tags"]["jurisdiction"], "DE")
            self.assertEqual(s.proc.poll(), None)

            s.drain_notify()
            s.proc.send_signal(signal.SIGTERM)
            self.assertEqual(s.proc.wait(15), 0)
            self.assertIsNotNone(s.wait_notify("STOPPING=1", 2))
        finally:
            s.cleanup()

    def test_watchdog(self):
        # What systemd sets for WatchdogSec=0.4s: sovd must ping at least every 0.2 s.
        s = sovdtest.Sovd(config=sovdtest.demo_config(), env={"WATCHDOG_USEC": "400000"}).start()
        try:
            s.drain_notify()
            time.sleep(1.0)
            s.wait_notify("never-sent", 0.3)
            pings = [m for m in s.notify_messages if "WATCHDOG=1" in m]
            self.assertGreaterEqual(len(pings), 3, s.notify_messages)
        finally:
            s.cleanup()

    def test_no_watchdog_by_default(self):
        s = sovdtest.Sovd(config=sovdtest.demo_config()).start()
        try:
            s.wait_notify("WATCHDOG=1", 1.0)
            self.assertFalse([m for m in s.notify_messages if "WATCHDOG=1" in m])
        finally:
            s.cleanup()

    def test_default_has_demo_tags(self):
        s = sovdtest.Sovd().start()
        try:
            tags = s.get("/v1/host").json["tags"]
            self.assertEqual(tags["jurisdiction"], "FR")
            self.assertIn("secnumcloud:3.2", tags["certifications"])
        finally:
            s.cleanup()


class SocketTakenTest(unittest.TestCase):
    """A second sovd on a socket a running one serves is refused; a stale socket is replaced."""

    def test_second_sovd_on_a_served_socket(self):
        first = sovdtest.Sovd(config=sovdtest.demo_config()).start()
        try:
            state = tempfile.mkdtemp(prefix="sovd-second-")
            self.addCleanup(shutil.rmtree, state, ignore_errors=True)
            out = subprocess.run([sovdtest.SOVD_BIN, "--libvirt-uri", "test:///default",
                                  "--listen", "unix:" + first.socket_path, "--state-dir", state],
                                 capture_output=True, text=True, timeout=30)
            self.assertNotEqual(out.returncode, 0, out)
            self.assertIn("already served by a running process", out.stderr)
            # The first one keeps its socket and answers.
            self.assertEqual(first.get("/healthz").status, 200)
            # Killed without cleaning up, it leaves a stale socket: the next start replaces it.
            first.proc.kill()
            first.proc.wait(10)
            self.assertTrue(os.path.exists(first.socket_path))
            first.start()
            self.assertEqual(first.get("/healthz").status, 200)
        finally:
            first.cleanup()


class LibvirtDownTest(unittest.TestCase):
    """libvirt unreachable from the start: sovd still serves, answers 503 where libvirt is needed."""

    def test_unreachable_libvirt(self):
        s = sovdtest.Sovd(libvirt_uri="qemu+unix:///system?socket=/nonexistent/libvirt-sock",
                          config=sovdtest.demo_config()).start()
        try:
            status = s.wait_notify("STATUS=", 5)
            self.assertIn("libvirt disconnected", status)
            for path in ("/v1/vms", "/readyz", "/v1/vms/0d3c1b0e-4a43-4b1b-9d3a-5b6b8f1e2a10"):
                r = s.get(path)
                self.assertEqual(r.status, 503, path)
                self.assertEqual(r.headers["Content-Type"], "application/problem+json")
                self.assertEqual(r.json["type"], "urn:sovd:problem:libvirt-unavailable")
                self.assertIn("/nonexistent/libvirt-sock", r.json["detail"])
            r = s.post("/v1/vms", {"name": "x", "tenant": "t", "policy": "fr-sovereign", "vcpus": 1,
                                   "memory_mib": 64})
            self.assertEqual(r.status, 503)
            h = s.get("/v1/host")
            self.assertEqual(h.status, 200)
            self.assertFalse(h.json["libvirt"]["connected"])
            self.assertIn("/nonexistent/libvirt-sock", h.json["libvirt"]["error"])
            self.assertIsNone(h.json["capacity"])
            self.assertEqual(s.get("/healthz").status, 200)
        finally:
            s.cleanup()


@unittest.skipUnless(shutil.which("systemd-socket-activate"), "systemd-socket-activate not installed")
class SocketActivationTest(unittest.TestCase):
    def test_socket_activation(self):
        tmp = tempfile.mkdtemp(prefix="sovd-sa-")
        sock = os.path.join(tmp, "activated.sock")
        proc = subprocess.Popen(["systemd-socket-activate", "-l", sock, SOVD, "--state-dir",
                                 os.path.join(tmp, "state")], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(sock) and time.monotonic() < deadline:
                time.sleep(0.05)
            s = sovdtest.Sovd.__new__(sovdtest.Sovd)
            s.socket_path = sock
            # The first connection starts sovd, which serves on the inherited socket.
            r = s.get("/v1/host")
            self.assertEqual(r.status, 200)
            self.assertTrue(r.json["libvirt"]["connected"])
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
