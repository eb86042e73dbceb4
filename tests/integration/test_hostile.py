# SPDX-License-Identifier: LGPL-2.1-or-later
"""Regressions found by hostile use of the API: raw bytes that are not UTF-8
in paths and headers, percent-encoded NULs, request bodies that are not
text, long UTF-8 disk paths, and VMs with more disks than sovd creates."""
import json
import pwd
import subprocess
import os
import shutil
import socket
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sovdtest  # noqa: E402

BINDING = ("<s:binding xmlns:s='urn:sovd:binding:1'><s:tenant>acme</s:tenant>"
           "<s:policy>fr-sovereign</s:policy></s:binding>")
WIDE_UUID = "0d3c1b0e-4a43-4b1b-9d3a-5b6b8f1e2a11"


def target(i):
    """vda, vdb, ..., vdz, vdaa, ...: the names libvirt accepts."""
    s, i = "", i + 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(97 + r) + s
    return "vd" + s


def wide_node_xml(n_good):
    """A test-driver host with one bound VM: @n_good disks in fr-pool, then one on an untagged path."""
    disks = "".join(f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                    f"<source file='/var/lib/sovd-test/fr-pool/w{i}.qcow2'/>"
                    f"<target dev='{target(i)}' bus='virtio'/></disk>" for i in range(n_good))
    disks += (f"<disk type='file' device='disk'><source file='/elsewhere/us/evil.img'/>"
              f"<target dev='{target(n_good)}' bus='virtio'/></disk>")
    vols = "".join(f"<volume type='file'><name>w{i}.qcow2</name><capacity unit='GiB'>1</capacity>"
                   f"<target><format type='qcow2'/></target></volume>" for i in range(n_good))
    return f"""<node>
  <cpu><nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>2</threads>
       <active>8</active><mhz>2400</mhz><model>x86_64</model></cpu>
  <memory>16777216</memory>
  <domain type='test'>
    <name>wide</name><uuid>{WIDE_UUID}</uuid><memory>262144</memory><vcpu>1</vcpu>
    <os><type>hvm</type></os>
    <metadata>{BINDING}</metadata>
    <devices>{disks}</devices>
  </domain>
  <pool type='dir'>
    <name>fr-pool</name><uuid>35bb2ad9-388a-cdfe-461a-b8907f6e53fe</uuid>
    <capacity>1125899906842624</capacity><allocation>0</allocation><available>1125899906842624</available>
    <target><path>/var/lib/sovd-test/fr-pool</path></target>{vols}
  </pool>
</node>
"""


def raw_request(sovd, data, timeout=10):
    """Sends @data as is and returns (status, headers text, body bytes)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sovd.socket_path)
    s.sendall(data)
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head.decode("latin-1"), body


class HostileBytesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sovd = sovdtest.Sovd(config=sovdtest.demo_config()).start()

    @classmethod
    def tearDownClass(cls):
        cls.sovd.cleanup()

    def audit_records(self):
        out, cursor = [], None
        while True:
            page = self.sovd.get("/v1/audit?limit=1000" + (f"&cursor={cursor}" if cursor else "")).json
            out += page["records"]
            cursor = page["next_cursor"]
            if cursor is None:
                return out

    def test_path_that_is_not_utf8(self):
        # %ff%fe decodes to bytes that are not UTF-8: the problem document must still be
        # UTF-8 JSON, and the refused call must still be audited (it was silently dropped).
        rid = "hostile-path-bytes"
        status, _, body = raw_request(self.sovd, (
            "POST /v1/vms/%ff%fe/start HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
            f"X-Request-Id: {rid}\r\nConnection: close\r\n\r\n").encode())
        self.assertEqual(status, 400)
        problem = json.loads(body.decode("utf-8"))
        self.assertEqual(problem["instance"], "/v1/vms/\ufffd\ufffd/start")
        mine = [r for r in self.audit_records() if r["request_id"] == rid]
        self.assertEqual(len(mine), 1, "the refused call was not audited")
        self.assertEqual(mine[0]["path"], "/v1/vms/\ufffd\ufffd/start")
        self.assertEqual(mine[0]["status"], 400)
        self.assertTrue(self.sovd.get("/v1/audit/verify").json["valid"])

    def test_percent_encoded_nul(self):
        # %00 decoded to a NUL that ended the C string: "snapshots/a%00b" named (and
        # would delete) snapshot "a", "state=queued%00" was "queued", "{id}%00" the id.
        vm = "0d3c1b0e-4a43-4b1b-9d3a-5b6b8f1e2a10"
        for method, path, needle in (("DELETE", f"/v1/vms/{vm}/snapshots/a%00b", "a%00b"),
                                     ("GET", f"/v1/vms/{vm}/snapshots/a%00b", "a%00b"),
                                     ("GET", "/v1/jobs?state=queued%00", "state"),
                                     ("GET", f"/v1/jobs?vm={vm}%00", "vm"),
                                     ("GET", f"/v1/backups/{vm}%00", "not a backup id"),
                                     ("DELETE", f"/v1/jobs/{vm}%00", "not a job id")):
            with self.subTest(path=path):
                status, _, body = raw_request(self.sovd, (
                    f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                    "Connection: close\r\n\r\n").encode())
                self.assertEqual(status, 400, body)
                self.assertIn(needle, json.loads(body.decode("utf-8"))["detail"])

    def test_repeated_query_parameter(self):
        # Only the first was read: "?state=queued&state=failed" listed queued jobs.
        vm = "0d3c1b0e-4a43-4b1b-9d3a-5b6b8f1e2a10"
        for query in ("state=queued&state=failed", f"vm={vm}&vm={vm}", f"vm={vm}&state=queued&vm={vm}"):
            with self.subTest(query=query):
                r = self.sovd.get("/v1/jobs?" + query)
                self.assertEqual(r.status, 400, r)
                self.assertIn("more than once", r.json["detail"])
        self.assertEqual(self.sovd.get(f"/v1/jobs?vm={vm}&state=queued").status, 200)

    def test_content_type_that_is_not_utf8(self):
        rid = "hostile-ctype-bytes"
        status, _, body = raw_request(self.sovd, (
            b"POST /v1/vms HTTP/1.1\r\nHost: x\r\nContent-Type: \xff\xfe\r\nContent-Length: 2\r\n"
            b"X-Request-Id: " + rid.encode() + b"\r\nConnection: close\r\n\r\n{}"))
        self.assertEqual(status, 415)
        self.assertIn("\ufffd", json.loads(body.decode("utf-8"))["detail"])
        self.assertEqual(len([r for r in self.audit_records() if r["request_id"] == rid]), 1)

    def test_idempotency_key_with_a_body_that_is_not_text(self):
        # Bodies with invalid UTF-8 or a NUL byte: their stored answer could not be read
        # back, so the key was neither replayed nor protected against reuse.
        for n, body in enumerate([b'{"name": "\xff"}', b'{}\x00trailer']):
            key = f"hostile-body-{n}"
            hdrs = {"Idempotency-Key": key, "Content-Type": "application/json"}
            first = self.sovd.post("/v1/vms", raw=body, headers=hdrs)
            self.assertEqual(first.status, 400)
            again = self.sovd.post("/v1/vms", raw=body, headers=hdrs)
            self.assertEqual(again.status, 400)
            self.assertEqual(again.headers.get("Idempotent-Replayed"), "true")
            self.assertEqual(again.raw, first.raw)
            other = self.sovd.post("/v1/vms", raw=body[:-1] + b"!", headers=hdrs)
            self.assertEqual(other.status, 422, other.raw)

    def test_admission_of_a_long_utf8_disk_path(self):
        # The decision's reason is cut to a fixed buffer, once in the middle of a
        # character: the record would not verify, and admission answered 500 with
        # a garbled detail (err_set() formatting err->msg into itself).
        for n in (150, 151, 152, 200, 300):
            path = "/a" + "\u00e9" * n
            xml = (f"<domain type='kvm'><name>d1</name><metadata>{BINDING}</metadata><devices>"
                   f"<disk type='file' device='disk'><source file='{path}'/></disk></devices></domain>")
            r = self.sovd.post("/v1/admission", {"operation": "start", "domain": "d1", "domain_xml": xml})
            self.assertEqual(r.status, 200, r.raw[:400])
            self.assertFalse(r.json["allowed"])
            json.loads(r.raw.decode("utf-8"))
        self.assertTrue(self.sovd.get("/v1/audit/verify").json["valid"])


class HiddenStorageTest(unittest.TestCase):
    """Data can live elsewhere than in device='disk' sources: every such place is judged."""

    @classmethod
    def setUpClass(cls):
        cls.sovd = sovdtest.Sovd(config=sovdtest.demo_config()).start()

    @classmethod
    def tearDownClass(cls):
        cls.sovd.cleanup()

    def admit(self, devices):
        xml = (f"<domain type='kvm'><name>d2</name><metadata>{BINDING}</metadata><devices>"
               f"<disk type='volume' device='disk'><source pool='default-pool' volume='v'/></disk>"
               f"{devices}</devices></domain>")
        r = self.sovd.post("/v1/admission", {"operation": "start", "domain": "d2", "domain_xml": xml})
        self.assertEqual(r.status, 200, r.raw[:400])
        return r.json

    def test_every_kind_of_storage_is_judged(self):
        cases = {
            "cdrom image": "<disk type='file' device='cdrom'><source file='/srv/us/tools.iso'/></disk>",
            "lun": "<disk type='block' device='lun'><source dev='/dev/sdz'/></disk>",
            "backing chain": ("<disk type='file' device='disk'><source file='/srv/fr/top.qcow2'/>"
                              "<backingStore type='file'><source file='/srv/us/base.qcow2'/></backingStore></disk>"),
            "filesystem share": "<filesystem type='mount'><source dir='/srv/us/share'/><target dir='s'/></filesystem>",
            "network disk": ("<disk type='network' device='disk'><source protocol='rbd' name='pool/img'/>"
                             "</disk>"),
        }
        for what, devices in cases.items():
            with self.subTest(what=what):
                a = self.admit(devices)
                self.assertFalse(a["allowed"], a)
                places = [c["place"]["name"] for c in a["decision"]["checks"]]
                self.assertTrue(any(p.startswith(("/srv/us", "/dev/sdz", "rbd:")) for p in places), places)
        # An empty CD-ROM drive holds no data: it does not block a start.
        a = self.admit("<disk type='file' device='cdrom'><target dev='sda'/></disk>")
        paths = [c["place"]["name"] for c in a["decision"]["checks"]]
        self.assertFalse([p for p in paths if p.startswith("/")], paths)


NOBODY = pwd.getpwnam("nobody")


def run_as_nobody(code, socket_path, timeout):
    """Runs Python @code (argv[1] = @socket_path) as the unprivileged, unmapped user nobody."""
    def demote():
        os.setgroups([])
        os.setgid(NOBODY.pw_gid)
        os.setuid(NOBODY.pw_uid)

    return subprocess.run(["/usr/bin/python3", "-c", code, socket_path], preexec_fn=demote,
                          capture_output=True, text=True, timeout=timeout)


@unittest.skipUnless(os.geteuid() == 0, "switching to another uid needs root")
class ConnectionLimitTest(unittest.TestCase):
    """One local user cannot hold every connection: past 32, its requests get 429."""

    def test_per_uid_limit(self):
        s = sovdtest.Sovd(config=sovdtest.demo_config())
        os.chmod(s.tmp, 0o755)
        s.start()
        try:
            code = (
                "import socket, sys\n"
                "def conn():\n"
                "    c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1]); return c\n"
                "def get(c):\n"
                "    c.sendall(b'GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')\n"
                "    return int(c.recv(4096).split(b' ')[1])\n"
                "held = [conn() for _ in range(32)]\n"
                # A request on each: all 32 accepted (not waiting in the backlog) before the 33rd comes.
                "first = max(get(c) for c in held)\n"
                "extra = conn(); over = get(extra); extra.close()\n"
                "held.pop().close(); import time; time.sleep(0.3)\n"
                "again = conn(); after = get(again)\n"
                "print(first, over, after)\n")
            out = run_as_nobody(code, s.socket_path, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stdout.split(), ["200", "429", "200"], out.stdout)
            # root is not limited, and the daemon serves others meanwhile.
            self.assertEqual(s.get("/healthz").status, 200)
        finally:
            s.cleanup()


@unittest.skipUnless(os.geteuid() == 0, "switching to another uid needs root")
class RefusalFloodTest(unittest.TestCase):
    """A caller's refused calls cannot grow the audit log without bound: past
    a burst they are counted, and the count is on record."""

    def test_refusals_of_one_caller_are_rate_limited_and_counted(self):
        s = sovdtest.Sovd(config=sovdtest.demo_config())
        os.chmod(s.tmp, 0o755)
        s.start()
        try:
            code = (
                "import http.client, socket, sys, time\n"
                "class C(http.client.HTTPConnection):\n"
                "    def connect(self):\n"
                "        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sys.argv[1])\n"
                "c = C('localhost')\n"
                "def post():\n"
                "    c.request('POST', '/v1/vms/00000000-0000-4000-8000-000000000000/stop', b'{}',\n"
                "              {'Content-Type': 'application/json'})\n"
                "    r = c.getresponse(); r.read(); return r.status\n"
                "t0 = time.monotonic(); flood = [post() for _ in range(200)]; took = time.monotonic() - t0\n"
                "time.sleep(1.2)\n"
                "last = post()\n"
                "import json; print(json.dumps({'flood': sorted(set(flood)), 'last': last, 'took': took}))\n")
            out = run_as_nobody(code, s.socket_path, timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
            got = json.loads(out.stdout)
            took = got["took"]
            self.assertEqual((got["flood"], got["last"]), ([403], 403), got)
            recs = s.get("/v1/audit?limit=1000").json["records"]
            mine = [r for r in recs if r.get("caller", "").startswith(f"uid={NOBODY.pw_uid} ")]
            calls = [r for r in mine if r["kind"] == "api"]
            gaps = [r for r in mine if r["kind"] == "operation" and r["operation"] == "refusal-records"]
            # The burst, what refilled while the flood lasted (2 a second), and the last call.
            self.assertGreaterEqual(len(calls), 30 + 1, len(calls))
            self.assertLessEqual(len(calls), 30 + 2 * took + 1 + 1, (len(calls), took))
            self.assertTrue(all(r["status"] == 403 for r in calls), calls)
            # Nothing unaccounted for: every refusal is a record or in a recorded count.
            self.assertTrue(gaps, mine[-3:])
            self.assertEqual(len(calls) + sum(g["count"] for g in gaps), 201, (len(calls), gaps))
            self.assertIn("counted, not recorded one by one", gaps[-1]["detail"])
            # Other callers are not limited by it: root's refusals are recorded.
            before = len(s.get("/v1/audit?limit=1000").json["records"])
            self.assertEqual(s.post("/v1/vms/00000000-0000-4000-8000-000000000000/stop").status, 404)
            self.assertEqual(len(s.get("/v1/audit?limit=1000").json["records"]), before + 1)
            v = s.get("/v1/audit/verify").json
            self.assertTrue(v["valid"], v)
        finally:
            s.cleanup()


class ManyDisksTest(unittest.TestCase):
    """A bound VM with more disks than the API creates: every disk is judged."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sovd-hostile-node-")
        cls.node = os.path.join(cls.tmp, "node.xml")
        with open(cls.node, "w") as f:
            f.write(wide_node_xml(32))  # the 33rd disk is on an untagged path
        cls.sovd = sovdtest.Sovd(libvirt_uri="test://" + cls.node, config=sovdtest.demo_config()).start()

    @classmethod
    def tearDownClass(cls):
        cls.sovd.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_compliance_and_start_door_see_the_33rd_disk(self):
        s = self.sovd
        vm = s.get(f"/v1/vms/{WIDE_UUID}").json
        self.assertEqual(len(vm["disks"]), 33)
        self.assertEqual(vm["compliance"]["status"], "non-compliant", vm["compliance"])
        self.assertTrue(any("/elsewhere/us/evil.img" in x for x in vm["compliance"]["reasons"]))
        self.assertEqual(s.post(f"/v1/vms/{WIDE_UUID}/stop").status, 200)
        r = s.post(f"/v1/vms/{WIDE_UUID}/start")
        self.assertEqual(r.status, 403, r.raw[:300])
        self.assertEqual(r.json["type"], "urn:sovd:problem:policy-denied")
        self.assertEqual(s.get(f"/v1/vms/{WIDE_UUID}").json["state"], "shutoff")


if __name__ == "__main__":
    unittest.main()
