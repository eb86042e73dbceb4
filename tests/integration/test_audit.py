# SPDX-License-Identifier: LGPL-2.1-or-later
"""The audit log as an auditor uses it: every decision and change recorded,
the chain verified by sovd and offline by sovctl on a copy, and tampering
(a record edited, removed or reordered) caught and located."""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sovdtest  # noqa: E402

NODE_XML = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testnode.xml")
URI = "test://" + NODE_XML


def spec(name, pool="fr-pool"):
    return {"name": name, "tenant": "acme", "policy": "fr-sovereign", "vcpus": 1, "memory_mib": 64,
            "disks": [{"pool": pool, "size_gib": 1}]}


class AuditTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        conf = sovdtest.demo_config(audit_rotate_bytes=8192)  # small files: rotation is exercised
        conf["storage_pools"]["us-pool"] = {"tags": {"jurisdiction": "US", "operator_jurisdiction": "US"}}
        cls.sovd = sovdtest.Sovd(libvirt_uri=URI, config=conf).start()
        s = cls.sovd
        cls.ok = s.post("/v1/vms", spec("audited")).json
        cls.denied = s.post("/v1/vms", spec("refused", pool="us-pool"))
        s.post(f"/v1/vms/{cls.ok['uuid']}/start")
        s.post(f"/v1/vms/{cls.ok['uuid']}/start")  # 409: still a recorded call
        s.post(f"/v1/vms/{cls.ok['uuid']}/stop")
        for i in range(12):
            s.post("/v1/vms", spec(f"filler-{i}"))
        cls.audit_dir = os.path.join(s.state_dir, "audit")

    @classmethod
    def tearDownClass(cls):
        cls.sovd.cleanup()

    def records(self, query=""):
        out, cursor = [], None
        while True:
            q = query + ("&" if query else "") + (f"cursor={cursor}" if cursor else "limit=7")
            page = self.sovd.get("/v1/audit?" + q).json
            out += page["records"]
            cursor = page["next_cursor"]
            if cursor is None:
                return out

    def copy_log(self):
        d = tempfile.mkdtemp(prefix="sovd-audit-copy-")
        self.addCleanup(shutil.rmtree, d, ignore_errors=True)
        for f in glob.glob(os.path.join(self.audit_dir, "audit-*.jsonl")):
            shutil.copy(f, d)
        return d, sorted(glob.glob(os.path.join(d, "audit-*.jsonl")))

    def sovctl_verify(self, *paths):
        return subprocess.run([sovdtest.SOVCTL_BIN, "audit", "verify", *paths], capture_output=True, text=True,
                              timeout=60)

    def test_decisions_and_calls_recorded(self):
        recs = self.records()
        self.assertEqual([r["seq"] for r in recs], list(range(1, len(recs) + 1)))
        decisions = [r for r in recs if r["kind"] == "decision"]
        deny = [r for r in decisions if r["decision"]["outcome"] == "deny"]
        self.assertEqual(len(deny), 1)
        d = deny[0]
        self.assertEqual(d["vm"]["name"], "refused")
        self.assertEqual(d["tenant"], "acme")
        self.assertEqual(d["role"], "admin")
        self.assertRegex(d["caller"], r"^uid=0 pid=\d+$")
        self.assertEqual(d["request_id"], self.denied.headers["X-Request-Id"])
        self.assertEqual(d["decision"]["policy"]["digest"],
                         self.sovd.get("/v1/policies/fr-sovereign").json["digest"])
        check = next(c for c in d["decision"]["checks"] if c["place"]["name"] == "us-pool")
        self.assertEqual(check["place"]["tags"]["jurisdiction"], "US")
        self.assertEqual(check["violations"][0]["found"], "US")
        self.assertTrue(check["refs"])
        self.assertRegex(d["sovd_version"], r"^\d+\.\d+\.\d+$")
        starts = [r for r in decisions if r["operation"] == "start"]
        self.assertEqual(len(starts), 2)
        calls = [(r["method"], r["path"].rsplit("/", 1)[-1], r["status"]) for r in recs if r["kind"] == "api"]
        self.assertIn(("POST", "start", 200), calls)
        self.assertIn(("POST", "start", 409), calls)
        self.assertIn(("POST", "vms", 403), calls)
        create = next(r for r in recs if r["kind"] == "api" and r["status"] == 201)
        self.assertEqual(create["vm"]["uuid"], self.ok["uuid"])
        # GETs are not recorded.
        self.assertFalse([r for r in recs if r.get("method") == "GET"])

    def test_filters(self):
        deny = self.records("decision=deny")
        self.assertEqual([r["vm"]["name"] for r in deny], ["refused"])
        mine = self.records(f"vm={self.ok['uuid']}")
        self.assertTrue(mine)
        self.assertTrue(all(self.ok["uuid"] in json.dumps(r["vm"]) for r in mine))
        self.assertEqual(self.records("since=2099-01-01T00:00:00Z"), [])
        for bad in ("decision=maybe", "vm=nope", "since=yesterday", "limit=0", "limit=1001", "cursor=-1", "x=1"):
            self.assertEqual(self.sovd.get("/v1/audit?" + bad).status, 400, bad)

    def test_chain_verifies_across_rotation(self):
        files = glob.glob(os.path.join(self.audit_dir, "audit-*.jsonl"))
        self.assertGreater(len(files), 1, "rotation should have produced several files")
        v = self.sovd.get("/v1/audit/verify").json
        self.assertTrue(v["valid"], v)
        self.assertEqual(v["files"], len(files))
        self.assertEqual(v["records"], len(self.records()))
        # Offline, on a copy, as an auditor's laptop would.
        d, copies = self.copy_log()
        r = self.sovctl_verify(d)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(f"{v['records']} records", r.stdout)
        self.assertIn(v["head"], r.stdout)

    def tamper(self, how):
        d, files = self.copy_log()
        lines = open(files[0]).read().splitlines(keepends=True)
        self.assertGreater(len(lines), 4)
        if how == "edit":
            rec = json.loads(lines[2])
            rec["caller"] = "uid=4242 pid=1"
            lines[2] = json.dumps(rec, separators=(",", ":")) + "\n"
        elif how == "remove":
            del lines[2]
        elif how == "reorder":
            lines[2], lines[3] = lines[3], lines[2]
        with open(files[0], "w") as f:
            f.writelines(lines)
        return d, files

    def test_tampering_caught_offline(self):
        for how, words in (("edit", "edited"), ("remove", "removed"), ("reorder", "reordered")):
            with self.subTest(how=how):
                d, files = self.tamper(how)
                r = self.sovctl_verify(*files)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                out = r.stdout + r.stderr
                self.assertIn(os.path.basename(files[0]) + ":", out)
                self.assertIn(words, out)

    def test_tampering_caught_by_sovd(self):
        # Edit the live log: the next verification by sovd itself finds it.
        path = sorted(glob.glob(os.path.join(self.audit_dir, "audit-*.jsonl")))[0]
        original = open(path, "rb").read()
        try:
            lines = original.decode().splitlines(keepends=True)
            rec = json.loads(lines[1])
            rec["tenant"] = "someone-else"
            lines[1] = json.dumps(rec, separators=(",", ":")) + "\n"
            with open(path, "w") as f:
                f.writelines(lines)
            v = self.sovd.get("/v1/audit/verify").json
            self.assertFalse(v["valid"])
            self.assertEqual(v["first_bad"]["file"], os.path.basename(path))
            self.assertIn(v["first_bad"]["seq"], (2, 3))
            r = subprocess.run([sovdtest.SOVCTL_BIN, "--socket", self.sovd.socket_path, "audit", "verify"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        finally:
            with open(path, "wb") as f:
                f.write(original)
        self.assertTrue(self.sovd.get("/v1/audit/verify").json["valid"])


class RestartTest(unittest.TestCase):
    def test_chain_continues_after_restart(self):
        s = sovdtest.Sovd(libvirt_uri=URI, config=sovdtest.demo_config()).start()
        try:
            s.post("/v1/vms", spec("before"))
            head = s.get("/v1/audit/verify").json
            s.stop()
            s.start()
            s.post("/v1/vms", spec("after"))
            v = s.get("/v1/audit/verify").json
            self.assertTrue(v["valid"], v)
            self.assertGreater(v["records"], head["records"])
            recs = s.get("/v1/audit?limit=1000").json["records"]
            first_after = next(r for r in recs if r["seq"] == head["last_seq"] + 1)
            self.assertEqual(first_after["prev"], head["head"])
        finally:
            s.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
