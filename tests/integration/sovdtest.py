# SPDX-License-Identifier: LGPL-2.1-or-later
"""Test harness: runs the real sovd binary and talks HTTP to it over its Unix socket.

Used by the integration tests (libvirt test driver) and the e2e tests
(private libvirtd). Readiness is learnt the way systemd learns it: sovd
gets a NOTIFY_SOCKET and the harness waits for READY=1.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

SOVD_BIN = os.environ.get("SOVD_BIN", "sovd")
SOVCTL_BIN = os.environ.get("SOVCTL_BIN", "sovctl")
SOURCE_DIR = os.environ.get("SOVD_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.raw = body
        self.json = None
        ctype = headers.get("Content-Type", "")
        if body and "json" in ctype:
            self.json = json.loads(body)

    def __repr__(self):
        return f"<Response {self.status} {self.raw[:300]!r}>"


class Sovd:
    """One sovd process with a private socket, state directory and config."""

    def __init__(self, libvirt_uri="test:///default", config=None, extra_args=None,
                 workdir=None, env=None, netns=None):
        self.tmp = workdir or tempfile.mkdtemp(prefix="sovd-test-")
        self.socket_path = os.path.join(self.tmp, "sovd.sock")
        self.state_dir = os.path.join(self.tmp, "state")
        self.config_path = None
        self.libvirt_uri = libvirt_uri
        self.extra_args = list(extra_args or [])
        self.env = dict(env or {})
        self.netns = netns  # a network namespace (`ip netns`) to run in, for e2e hosts of their own
        self.proc = None
        self.notify_messages = []
        self.log_path = os.path.join(self.tmp, "sovd.log")
        if config is not None:
            self.write_config(config)

    def write_config(self, config):
        self.config_path = os.path.join(self.tmp, "sovd.conf")
        with open(self.config_path, "w") as f:
            if isinstance(config, str):
                f.write(config)
            else:
                json.dump(config, f)

    def argv(self):
        # `ip netns exec` execs sovd: the pid stays sovd's, for signals.
        argv = (["ip", "netns", "exec", self.netns] if self.netns else []) + [SOVD_BIN]
        if self.config_path:
            argv += ["--config", self.config_path]
        argv += ["--libvirt-uri", self.libvirt_uri,
                 "--listen", "unix:" + self.socket_path,
                 "--state-dir", self.state_dir]
        return argv + self.extra_args

    def start(self, timeout=20, expect_ready=True):
        self.notify_messages = []
        notify_path = os.path.join(self.tmp, "notify.sock")
        if os.path.exists(notify_path):
            os.unlink(notify_path)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(notify_path)
        self.notify.settimeout(0.2)
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        env["NOTIFY_SOCKET"] = notify_path
        env.update(self.env)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv(), env=env, stdout=self.log, stderr=self.log)
        if not expect_ready:
            return self
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sovd exited with {self.proc.returncode}: {self.read_log()}")
            if self.wait_notify("READY=1", 0.2):
                return self
        raise RuntimeError("sovd did not send READY=1: " + self.read_log())

    def wait_notify(self, needle, timeout):
        """Waits for a notify datagram containing @needle; returns it or None."""
        for m in self.notify_messages:
            if needle in m:
                return m
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.notify.recv(4096).decode()
            except socket.timeout:
                continue
            self.notify_messages.append(data)
            if needle in data:
                return data
        return None

    def drain_notify(self):
        """Forgets every notification received so far, including datagrams still queued."""
        self.notify.settimeout(0)
        try:
            while True:
                self.notify.recv(4096)
        except (BlockingIOError, socket.timeout):
            pass
        finally:
            self.notify.settimeout(0.2)
        self.notify_messages = []

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        if getattr(self, "notify", None):
            self.notify.close()
            self.notify = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None
        return rc

    def cleanup(self):
        """Stops sovd and checks it exited cleanly: under ASan a leak or error makes it exit non-zero."""
        running = self.proc is not None and self.proc.poll() is None
        rc = self.stop()
        log = self.read_log()
        shutil.rmtree(self.tmp, ignore_errors=True)
        if running and rc != 0:
            raise RuntimeError(f"sovd exited with {rc} on SIGTERM:\n{log[-8000:]}")

    def request(self, method, path, body=None, headers=None, raw=None, timeout=60):
        conn = UnixHTTPConnection(self.socket_path, timeout=timeout)
        hdrs = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        resp = Response(r.status, r.headers, r.read())
        conn.close()
        return resp

    def wait_job(self, job_id, timeout=60):
        """The job once it has ended (GET /v1/jobs/{id} every 50 ms); AssertionError after @timeout s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            j = self.get(f"/v1/jobs/{job_id}").json
            if j["state"] not in ("queued", "running"):
                return j
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not end in {timeout} s")

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def sovctl(self, *args, check=False, input=None):
        argv = [SOVCTL_BIN, "--socket", self.socket_path] + list(args)
        return subprocess.run(argv, capture_output=True, text=True, check=check, input=input,
                              timeout=60)


FR_PLACE_TAGS = {
    "jurisdiction": "FR", "region": "FR-IDF", "site": "par-1",
    "operator": "Demo Cloud SAS", "operator_jurisdiction": "FR",
    "certifications": ["secnumcloud:3.2", "hds"],
}


def demo_config(**overrides):
    """A config with a French host, French pools (those of testnode.xml, the
    default test driver and the e2e hosts) and the shipped policies;
    overrides replace top-level keys."""
    conf = {
        "host_tags": dict(FR_PLACE_TAGS),
        "storage_pools": {name: {"tags": dict(FR_PLACE_TAGS)}
                          for name in ("fr-pool", "fr-pool-2", "default-pool", "default", "ghost-pool")},
        "policy_dir": os.path.join(SOURCE_DIR, "policies"),
    }
    conf.update(overrides)
    return conf
