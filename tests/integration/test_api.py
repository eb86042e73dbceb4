# SPDX-License-Identifier: LGPL-2.1-or-later
"""The sovd API against libvirt's test driver: every endpoint and error case of docs/api.md."""
import json
import os
import pwd
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sovdtest  # noqa: E402

NODE_XML = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testnode.xml")
URI = "test://" + NODE_XML
LEGACY_UUID = "0d3c1b0e-4a43-4b1b-9d3a-5b6b8f1e2a10"


def spec(name, **kw):
    s = {"name": name, "tenant": "acme", "policy": "fr-sovereign", "vcpus": 2, "memory_mib": 512,
         "disks": [{"pool": "fr-pool", "size_gib": 1}], "labels": {"env": "test"}}
    s.update(kw)
    return s


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sovd = sovdtest.Sovd(libvirt_uri=URI, config=sovdtest.demo_config()).start()

    @classmethod
    def tearDownClass(cls):
        cls.sovd.cleanup()

    def assertProblem(self, r, status, detail_part=None):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.headers["Content-Type"], "application/problem+json", r)
        self.assertEqual(r.json["status"], status)
        self.assertTrue(r.json["type"].startswith("urn:sovd:problem:"), r.json)
        self.assertTrue(r.json["title"])
        self.assertEqual(r.json["request_id"], r.headers["X-Request-Id"])
        if detail_part:
            self.assertIn(detail_part, r.json["detail"])

    def create(self, name, **kw):
        r = self.sovd.post("/v1/vms", spec(name, **kw))
        self.assertEqual(r.status, 201, r)
        return r.json

    def names(self):
        return {v["name"] for v in self.sovd.get("/v1/vms").json["vms"]}

    # --- host and health -------------------------------------------------
    def test_host(self):
        r = self.sovd.get("/v1/host")
        self.assertEqual(r.status, 200)
        h = r.json
        self.assertEqual(h["tags"]["jurisdiction"], "FR")
        self.assertEqual(h["tags"]["certifications"], ["secnumcloud:3.2", "hds"])
        self.assertTrue(h["libvirt"]["connected"])
        self.assertEqual(h["libvirt"]["uri"], URI)
        self.assertEqual(h["libvirt"]["driver"].lower(), "test")
        self.assertIsNone(h["libvirt"]["error"])
        self.assertEqual(h["capacity"]["cpus"], 8)
        self.assertEqual(h["capacity"]["memory_mib"], 16384)
        self.assertEqual(h["hostname"], socket.gethostname())
        self.assertRegex(h["sovd_version"], r"^\d+\.\d+\.\d+$")

    def test_health(self):
        self.assertEqual(self.sovd.get("/healthz").json, {"status": "ok"})
        self.assertEqual(self.sovd.get("/readyz").json, {"status": "ready"})

    def test_request_id(self):
        r = self.sovd.get("/v1/host", headers={"X-Request-Id": "my-trace.42"})
        self.assertEqual(r.headers["X-Request-Id"], "my-trace.42")
        # An id that could inject into logs is replaced, not echoed.
        r = self.sovd.get("/v1/host", headers={"X-Request-Id": "bad id\tx"})
        self.assertRegex(r.headers["X-Request-Id"], r"^[0-9a-f-]{36}$")

    # --- routing errors ----------------------------------------------------
    def test_unknown_route(self):
        self.assertProblem(self.sovd.get("/v1/nothing"), 404, "/v1/nothing")
        self.assertProblem(self.sovd.get("/v1/vms/"), 404)
        self.assertProblem(self.sovd.get("/v2/vms"), 404)

    def test_method_not_allowed(self):
        r = self.sovd.request("PUT", "/v1/vms")
        self.assertProblem(r, 405)
        self.assertEqual(r.headers["Allow"], "GET, POST")
        r = self.sovd.request("PATCH", "/v1/vms/" + LEGACY_UUID)
        self.assertProblem(r, 405)
        self.assertEqual(r.headers["Allow"], "GET, DELETE")

    def test_unknown_query(self):
        self.assertProblem(self.sovd.get("/v1/vms?color=blue"), 400, "color")
        self.assertProblem(self.sovd.get("/v1/vms?state=flying"), 400, "state")
        self.assertProblem(self.sovd.get("/v1/vms?tenant=a%3Cb"), 400, "tenant")

    def test_bad_uuid(self):
        self.assertProblem(self.sovd.get("/v1/vms/not-a-uuid"), 400, "not-a-uuid")
        self.assertProblem(self.sovd.get("/v1/vms/" + "a" * 300), 400)
        self.assertProblem(self.sovd.post("/v1/vms/../../etc/start"), 404)

    def test_unknown_vm(self):
        u = "11111111-2222-3333-4444-555555555555"
        self.assertProblem(self.sovd.get("/v1/vms/" + u), 404, u)
        self.assertProblem(self.sovd.post(f"/v1/vms/{u}/start"), 404, u)
        self.assertProblem(self.sovd.delete("/v1/vms/" + u), 404, u)

    # --- listing -------------------------------------------------------------
    def test_list_and_filters(self):
        a = self.create("list-a", tenant="t-one")
        self.create("list-b", tenant="t-two")
        vms = self.sovd.get("/v1/vms").json["vms"]
        by_name = {v["name"]: v for v in vms}
        self.assertIn("legacy", by_name)
        self.assertFalse(by_name["legacy"]["managed"])
        self.assertIsNone(by_name["legacy"]["tenant"])
        self.assertEqual(by_name["list-a"]["uuid"], a["uuid"])
        for key in ("uuid", "name", "state", "tenant", "policy", "vcpus", "memory_mib", "labels", "managed"):
            self.assertIn(key, by_name["list-a"])
        self.assertNotIn("disks", by_name["list-a"])
        one = self.sovd.get("/v1/vms?tenant=t-one").json["vms"]
        self.assertEqual([v["name"] for v in one], ["list-a"])
        self.sovd.post(f"/v1/vms/{a['uuid']}/start")
        running = {v["name"] for v in self.sovd.get("/v1/vms?state=running").json["vms"]}
        self.assertIn("list-a", running)
        self.assertNotIn("list-b", running)
        both = self.sovd.get("/v1/vms?tenant=t-one&state=shutoff").json["vms"]
        self.assertEqual(both, [])
        self.sovd.post(f"/v1/vms/{a['uuid']}/stop")

    # --- creation -------------------------------------------------------------
    def test_create(self):
        r = self.sovd.post("/v1/vms", spec("web-1", labels={"env": "prod", "team/owner": "café ünïcode"},
                                           networks=[{"network": "default"}],
                                           disks=[{"pool": "fr-pool", "size_gib": 3},
                                                  {"pool": "fr-pool-2", "size_gib": 1}]))
        self.assertEqual(r.status, 201, r)
        vm = r.json
        self.assertEqual(r.headers["Location"], "/v1/vms/" + vm["uuid"])
        self.assertEqual(vm["name"], "web-1")
        self.assertEqual(vm["state"], "shutoff")
        self.assertTrue(vm["managed"])
        self.assertEqual(vm["tenant"], "acme")
        self.assertEqual(vm["policy"], "fr-sovereign")
        self.assertEqual(vm["vcpus"], 2)
        self.assertEqual(vm["memory_mib"], 512)
        self.assertEqual(vm["labels"], {"env": "prod", "team/owner": "café ünïcode"})
        self.assertEqual([(d["target"], d["pool"], d["volume"], d["format"], d["created_by_sovd"])
                          for d in vm["disks"]],
                         [("vda", "fr-pool", "web-1-disk0.qcow2", "qcow2", True),
                          ("vdb", "fr-pool-2", "web-1-disk1.qcow2", "qcow2", True)])
        self.assertEqual(vm["disks"][0]["path"], "/var/lib/sovd-test/fr-pool/web-1-disk0.qcow2")
        self.assertEqual(vm["networks"][0]["network"], "default")
        self.assertRegex(vm["networks"][0]["mac"], r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
        self.assertEqual(vm["binding"]["tenant"], "acme")
        self.assertEqual(vm["binding"]["request_id"], r.headers["X-Request-Id"])
        self.assertRegex(vm["binding"]["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        # GET returns the same thing.
        self.assertEqual(self.sovd.get("/v1/vms/" + vm["uuid"]).json, vm)

    def test_create_from_image(self):
        vm = self.create("from-image", disks=[{"pool": "fr-pool", "image": "debian-12.qcow2"}])
        self.assertEqual(vm["disks"][0]["volume"], "from-image-disk0.qcow2")

    def test_create_duplicate_name(self):
        self.create("dup")
        r = self.sovd.post("/v1/vms", spec("dup", disks=[]))
        self.assertProblem(r, 409, "dup")
        self.assertProblem(self.sovd.post("/v1/vms", spec("legacy", disks=[])), 409, "legacy")

    def test_create_validation(self):
        cases = [
            ({"tenant": "a", "policy": "p", "vcpus": 1, "memory_mib": 64}, "name"),
            (spec("a</name><devices>"), "name"),
            (spec("../../etc"), "name"),
            (spec("-rf"), "name"),
            (spec("x" * 65), "name"),
            (spec("ok", tenant="bad tenant"), "tenant"),
            (spec("ok", policy=""), "policy"),
            (spec("ok", vcpus=0), "vcpus"),
            (spec("ok", vcpus="2"), "vcpus"),
            (spec("ok", vcpus=1.5), "vcpus"),
            (spec("ok", memory_mib=2 ** 63), "memory_mib"),
            (spec("ok", memory_mib=8), "memory_mib"),
            (spec("ok", disks=[{"pool": "fr-pool"}]), "disks[0]"),
            (spec("ok", disks=[{"pool": "fr-pool", "size_gib": 0}]), "disks[0].size_gib"),
            (spec("ok", disks=[{"pool": "fr'pool", "size_gib": 1}]), "disks[0].pool"),
            (spec("ok", disks=[{"pool": "fr-pool", "size_gib": 1, "bus": "ide"}]), "disks[0].bus"),
            (spec("ok", disks=[{"pool": "fr-pool", "size_gib": 1}] * 17), "disks"),
            (spec("ok", disks={"pool": "fr-pool"}), "disks"),
            (spec("ok", networks=[{"network": "a b"}]), "networks[0].network"),
            (spec("ok", labels={"Bad Key": "v"}), "labels"),
            (spec("ok", labels={"k": "line\nbreak"}), "labels.k"),
            (spec("ok", labels={"k": 3}), "labels.k"),
            (spec("ok", labels={"k": "x" * 257}), "labels.k"),
            (spec("ok", labels={f"k{i}": "v" for i in range(33)}), "labels"),
            (dict(spec("ok"), extra=True), "extra"),
        ]
        for body, field in cases:
            with self.subTest(field=field, body=str(body)[:80]):
                r = self.sovd.post("/v1/vms", body)
                self.assertProblem(r, 400, field)
        self.assertFalse({"ok", "a</name><devices>"} & self.names())

    def test_create_malformed_bodies(self):
        cases = [
            (b"", "required"),
            (b"{", "invalid JSON"),
            (b"[1, 2]", "object"),
            (b'{"name": "x"} trailing', "invalid JSON"),
            (b'{"name": "\xff\xfe"}', "invalid JSON"),
            (b"[" * 100 + b"]" * 100, "invalid JSON"),
            (b'{"name": "a\x00b"}', "NUL"),
        ]
        for raw, part in cases:
            with self.subTest(raw=raw[:20]):
                r = self.sovd.post("/v1/vms", raw=raw, headers={"Content-Type": "application/json"})
                self.assertProblem(r, 400, part)

    def test_media_type(self):
        r = self.sovd.post("/v1/vms", raw=json.dumps(spec("mt")).encode(), headers={"Content-Type": "text/plain"})
        self.assertProblem(r, 415, "application/json")
        r = self.sovd.post("/v1/vms", raw=json.dumps(spec("mt")).encode(),
                           headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(r.status, 201, r)

    def test_body_too_large(self):
        big = b'{"name": "' + b"a" * (2 * 1024 * 1024) + b'"}'
        r = self.sovd.post("/v1/vms", raw=big, headers={"Content-Type": "application/json"})
        self.assertProblem(r, 413, "1048576")
        # The daemon is unharmed.
        self.assertEqual(self.sovd.get("/healthz").status, 200)

    def test_unresolved_references(self):
        # Tagged in the configuration but absent from libvirt: the policy allows it, libvirt has no such pool.
        r = self.sovd.post("/v1/vms", spec("unres", disks=[{"pool": "ghost-pool", "size_gib": 1}]))
        self.assertProblem(r, 422, "disks[0].pool")
        # Neither configured nor known: an untagged place, denied before libvirt is asked.
        r = self.sovd.post("/v1/vms", spec("unres", disks=[{"pool": "us-pool", "size_gib": 1}]))
        self.assertProblem(r, 403, "untagged")
        r = self.sovd.post("/v1/vms", spec("unres", disks=[{"pool": "fr-pool", "image": "nope.qcow2"}]))
        self.assertProblem(r, 422, "disks[0].image")
        r = self.sovd.post("/v1/vms", spec("unres", networks=[{"network": "nonet"}]))
        self.assertProblem(r, 422, "networks[0]")
        # A later disk's bad pool: nothing of the first disk may be left behind.
        r = self.sovd.post("/v1/vms", spec("unres", disks=[{"pool": "fr-pool", "size_gib": 1},
                                                           {"pool": "ghost-pool", "size_gib": 1}]))
        self.assertProblem(r, 422, "disks[1].pool")
        self.assertNotIn("unres", self.names())
        self.create("unres")  # volume name unres-disk0 is free again

    def test_rollback_on_failed_create(self):
        # fr-pool already holds clash-disk1.qcow2: disk 0 is created, disk 1 fails.
        r = self.sovd.post("/v1/vms", spec("clash", disks=[{"pool": "fr-pool", "size_gib": 1},
                                                           {"pool": "fr-pool", "size_gib": 1}]))
        self.assertProblem(r, 409, "clash-disk1.qcow2")
        self.assertNotIn("clash", self.names())
        # clash-disk0.qcow2 was removed again: a one-disk "clash" can be created.
        vm = self.create("clash", disks=[{"pool": "fr-pool", "size_gib": 1}])
        self.assertEqual(vm["disks"][0]["volume"], "clash-disk0.qcow2")

    # --- lifecycle ----------------------------------------------------------
    def test_lifecycle(self):
        u = self.create("life")["uuid"]

        def act(action, status=200):
            r = self.sovd.post(f"/v1/vms/{u}/{action}")
            self.assertEqual(r.status, status, r)
            return r.json

        self.assertEqual(act("start")["state"], "running")
        self.assertProblem(self.sovd.post(f"/v1/vms/{u}/start"), 409, "running")
        self.assertEqual(act("suspend")["state"], "paused")
        self.assertProblem(self.sovd.post(f"/v1/vms/{u}/suspend"), 409, "paused")
        self.assertEqual(act("resume")["state"], "running")
        self.assertProblem(self.sovd.post(f"/v1/vms/{u}/resume"), 409, "running")
        self.assertEqual(act("reboot")["state"], "running")
        self.assertProblem(self.sovd.delete(f"/v1/vms/{u}"), 409, "stop it first")
        act("shutdown", 202)
        self.assertEqual(self.sovd.get(f"/v1/vms/{u}").json["state"], "shutoff")
        self.assertProblem(self.sovd.post(f"/v1/vms/{u}/shutdown"), 409, "shutoff")
        act("start")
        self.assertEqual(act("stop")["state"], "shutoff")
        self.assertProblem(self.sovd.post(f"/v1/vms/{u}/stop"), 409, "shutoff")
        # Actions accept an empty object and nothing else.
        self.assertEqual(self.sovd.post(f"/v1/vms/{u}/start", {}).status, 200)
        self.assertProblem(self.sovd.post(f"/v1/vms/{u}/stop", {"force": True}), 400, "force")
        self.assertEqual(act("stop")["state"], "shutoff")

    def test_delete(self):
        u = self.create("del-keep")["uuid"]
        self.assertProblem(self.sovd.delete(f"/v1/vms/{u}?delete_storage=maybe"), 400, "delete_storage")
        r = self.sovd.delete(f"/v1/vms/{u}")
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.raw, b"")
        self.assertProblem(self.sovd.get(f"/v1/vms/{u}"), 404)
        # The volume was kept, so the same name cannot get a fresh disk.
        self.assertProblem(self.sovd.post("/v1/vms", spec("del-keep")), 409, "del-keep-disk0.qcow2")

        u = self.create("del-all", disks=[{"pool": "fr-pool", "size_gib": 1},
                                          {"pool": "fr-pool-2", "size_gib": 1}])["uuid"]
        self.assertEqual(self.sovd.delete(f"/v1/vms/{u}?delete_storage=true").status, 204)
        # Both volumes are gone: the same spec can be created again.
        self.create("del-all", disks=[{"pool": "fr-pool", "size_gib": 1}, {"pool": "fr-pool-2", "size_gib": 1}])

    def test_delete_storage_of_unmanaged_vm_refused(self):
        r = self.sovd.delete(f"/v1/vms/{LEGACY_UUID}?delete_storage=true")
        self.assertProblem(r, 400, "not managed by sovd")
        self.assertIn("legacy", self.names())

    # --- idempotency -------------------------------------------------------------
    def test_idempotency(self):
        body = spec("idem")
        h = {"Idempotency-Key": "create-idem-1"}
        first = self.sovd.post("/v1/vms", body, headers=h)
        self.assertEqual(first.status, 201, first)
        again = self.sovd.post("/v1/vms", body, headers=h)
        self.assertEqual(again.status, 201, again)
        self.assertEqual(again.json, first.json)
        self.assertEqual(again.headers["Location"], first.headers["Location"])
        self.assertEqual(again.headers.get("Idempotent-Replayed"), "true")
        self.assertIsNone(first.headers.get("Idempotent-Replayed"))
        self.assertEqual([v["name"] for v in self.sovd.get("/v1/vms").json["vms"]].count("idem"), 1)
        # Same key, different request.
        other = self.sovd.post("/v1/vms", spec("idem-other"), headers=h)
        self.assertProblem(other, 422, "Idempotency-Key")
        self.assertNotIn("idem-other", self.names())
        # Errors are answers too: a replayed 409 stays a 409 even after the conflict is gone.
        h2 = {"Idempotency-Key": "start-twice"}
        u = first.json["uuid"]
        self.sovd.post(f"/v1/vms/{u}/start")
        self.assertProblem(self.sovd.post(f"/v1/vms/{u}/start", headers=h2), 409)
        self.sovd.post(f"/v1/vms/{u}/stop")
        r = self.sovd.post(f"/v1/vms/{u}/start", headers=h2)
        self.assertEqual(r.status, 409)
        self.assertEqual(r.headers.get("Idempotent-Replayed"), "true")
        self.assertProblem(self.sovd.post("/v1/vms", body, headers={"Idempotency-Key": "bad key"}), 400,
                           "Idempotency-Key")
        self.assertProblem(self.sovd.post("/v1/vms", body, headers={"Idempotency-Key": "k" * 256}), 400,
                           "Idempotency-Key")


class RestartTest(unittest.TestCase):
    """State that must outlive the agent: bindings in libvirt, idempotency keys on disk."""

    def test_idempotency_survives_restart(self):
        conf = sovdtest.demo_config()
        # A file-backed test driver keeps its state only per process, so use the
        # default one and a fresh name; the idempotency store is on disk.
        s = sovdtest.Sovd(config=conf).start()
        try:
            h = {"Idempotency-Key": "restart-key"}
            first = s.post("/v1/vms", spec("restart-vm", disks=[{"pool": "default-pool", "size_gib": 1}]),
                           headers=h)
            self.assertEqual(first.status, 201, first)
            s.stop()
            s.start()
            again = s.post("/v1/vms", spec("restart-vm", disks=[{"pool": "default-pool", "size_gib": 1}]),
                           headers=h)
            self.assertEqual(again.status, 201, again)
            self.assertEqual(again.json, first.json)
            self.assertEqual(again.headers.get("Idempotent-Replayed"), "true")
        finally:
            s.cleanup()


@unittest.skipUnless(os.geteuid() == 0, "role tests switch to other users and need root")
class RolesTest(unittest.TestCase):
    """Peer credentials decide the role: root is admin, groups map to reader/operator, others 403."""

    @classmethod
    def setUpClass(cls):
        cls.sovd = sovdtest.Sovd(libvirt_uri=URI, config=sovdtest.demo_config(
            unix_roles={"users": "reader", "staff": "operator"}))
        os.chmod(cls.sovd.tmp, 0o755)
        cls.sovd.start()
        cls.nobody = pwd.getpwnam("nobody").pw_uid

    @classmethod
    def tearDownClass(cls):
        cls.sovd.cleanup()

    def as_user(self, groups, method, path, body=None):
        """Runs one request in a child process with another uid and groups."""
        code = ("import json,sys; sys.path.insert(0, %r); import sovdtest; "
                "s = sovdtest.Sovd.__new__(sovdtest.Sovd); s.socket_path = %r; "
                "r = s.request(%r, %r, body=%r); print(json.dumps([r.status, r.json]))"
                % (os.path.dirname(os.path.abspath(__file__)), self.sovd.socket_path, method, path, body))
        gid = groups[0]

        def demote():
            os.setgroups(groups)
            os.setgid(gid)
            os.setuid(self.nobody)

        out = subprocess.run(["/usr/bin/python3", "-c", code], preexec_fn=demote, capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    def gid(self, name):
        import grp
        return grp.getgrnam(name).gr_gid

    def test_unmapped_user_forbidden(self):
        status, body = self.as_user([self.gid("nogroup")], "GET", "/v1/vms")
        self.assertEqual(status, 403)
        self.assertIn("reader", body["detail"])
        # Health endpoints stay open to anyone on the socket.
        status, _ = self.as_user([self.gid("nogroup")], "GET", "/healthz")
        self.assertEqual(status, 200)

    def test_reader(self):
        status, _ = self.as_user([self.gid("users")], "GET", "/v1/vms")
        self.assertEqual(status, 200)
        status, body = self.as_user([self.gid("users")], "POST", "/v1/vms", spec("by-reader"))
        self.assertEqual(status, 403)
        self.assertIn("operator", body["detail"])
        status, _ = self.as_user([self.gid("users")], "POST", f"/v1/vms/{LEGACY_UUID}/stop")
        self.assertEqual(status, 403)

    def test_operator_by_supplementary_group(self):
        status, body = self.as_user([self.gid("nogroup"), self.gid("staff")], "POST", "/v1/vms",
                                    spec("by-operator"))
        self.assertEqual(status, 201, body)
        self.assertEqual(body["binding"]["tenant"], "acme")


if __name__ == "__main__":
    unittest.main(verbosity=2)
